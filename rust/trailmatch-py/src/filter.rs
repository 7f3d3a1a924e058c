//! `trailmatch._core.FilterSet` and `test_metric_filter`: CloudWatch Logs filter patterns.
//!
//! Like the rest of this crate: bytes in, Python values out, the GIL released around batch
//! matching, every call into the core inside `guarded` (a panic becomes `RuntimeError`), and
//! `FilterError` mapped to `trailmatch.errors.FilterPatternError`.

use std::borrow::Cow;
use std::cell::RefCell;

use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};
use trailmatch_core::filter::{FilterError, FilterId, FilterScratch, FilterSet};

use super::{errors_module, guarded, GcPause};

thread_local! {
    /// One filter-matching scratch per thread (the Python thread, or a rayon worker).
    static SCRATCH: RefCell<FilterScratch> = RefCell::new(FilterScratch::default());
}

type NameMap = std::collections::HashMap<String, FilterId>;

/// `FilterPatternError(message, position=..., hint=...)`.
pub(crate) fn filter_error(py: Python<'_>, e: &FilterError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = errors_module(py)?.getattr("FilterPatternError")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("position", e.position())?;
        kwargs.set_item("hint", e.hint())?;
        let value = cls.call((e.message(),), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

/// Borrows or encodes a log message given as `str`, `bytes` or `bytearray`.
fn message_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(match s.to_str() {
            Ok(text) => Cow::Borrowed(text.as_bytes()),
            // Lone surrogates: replaced, as any UTF-8 log pipeline would.
            Err(_) => Cow::Owned(s.to_string_lossy().into_owned().into_bytes()),
        });
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    Err(PyTypeError::new_err(format!("a log message must be str or bytes, not {}", obj.get_type().name()?)))
}

/// One match, owned (to cross the GIL boundary in batches).
type Owned = (FilterId, Vec<(String, String)>, Vec<Option<String>>);

fn run(set: &FilterSet, message: &[u8]) -> Vec<Owned> {
    SCRATCH.with(|cell| {
        let scratch = &mut *cell.borrow_mut();
        let mut out = Vec::new();
        set.matches(message, scratch, &mut out);
        out.iter()
            .map(|m| {
                let extracted = m.extracted(scratch).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
                let values = m.values(scratch).map(|v| v.map(str::to_owned)).collect();
                (m.id, extracted, values)
            })
            .collect()
    })
}

/// A set of named CloudWatch Logs filter patterns, matched together.
#[pyclass(module = "trailmatch._core", name = "FilterSet")]
pub(crate) struct PyFilterSet {
    inner: FilterSet,
    /// Interned Python name of each filter id.
    names: Vec<Option<Py<PyString>>>,
    ids: NameMap,
}

impl PyFilterSet {
    fn id(&self, name: &str) -> PyResult<FilterId> {
        self.ids.get(name).copied().ok_or_else(|| PyKeyError::new_err(name.to_owned()))
    }

    fn to_python<'py>(&self, py: Python<'py>, matches: Vec<Owned>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (id, extracted, values) in matches {
            let Some(Some(name)) = self.names.get(id as usize) else { continue };
            let dict = PyDict::new(py);
            for (k, v) in extracted {
                dict.set_item(k, v)?;
            }
            let tuple = (name.bind(py), dict, PyList::new(py, values)?);
            out.append(tuple)?;
        }
        Ok(out)
    }
}

#[pymethods]
impl PyFilterSet {
    #[new]
    #[pyo3(signature = (*, strict = false))]
    fn new(strict: bool) -> Self {
        let inner = if strict { FilterSet::strict() } else { FilterSet::new() };
        PyFilterSet { inner, names: Vec::new(), ids: NameMap::new() }
    }

    /// Compiles `pattern` and adds it as `name` (replacing a filter of that name); `values`
    /// are selectors whose values each match reports.
    #[pyo3(signature = (name, pattern, values = Vec::new()))]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts a sequence of str into an owned Vec
    fn add(&mut self, py: Python<'_>, name: &Bound<'_, PyString>, pattern: &str, values: Vec<String>) -> PyResult<()> {
        let name_str = name.to_str()?;
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let inner = &mut self.inner;
        let id = guarded(|| inner.add_with_values(pattern, &refs).map_err(|e| filter_error(py, &e)))?;
        if let Some(old) = self.ids.insert(name_str.to_owned(), id) {
            guarded(|| Ok(self.inner.remove(old)))?;
            if let Some(slot) = self.names.get_mut(old as usize) {
                *slot = None;
            }
        }
        if self.names.len() <= id as usize {
            self.names.resize_with(id as usize + 1, || None);
        }
        self.names[id as usize] = Some(PyString::intern(py, name_str).unbind());
        Ok(())
    }

    /// Removes the filter called `name`; `KeyError` if there is none.
    fn remove(&mut self, name: &str) -> PyResult<()> {
        let id = self.id(name)?;
        guarded(|| Ok(self.inner.remove(id)))?;
        self.ids.remove(name);
        self.names[id as usize] = None;
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.ids.contains_key(name)
    }

    /// Names of all filters in the order they were added.
    fn names(&self) -> Vec<String> {
        self.names.iter().flatten().map(ToString::to_string).collect()
    }

    /// `"empty"`, `"terms"`, `"json"` or `"delimited"`.
    fn kind(&self, name: &str) -> PyResult<&'static str> {
        let id = self.id(name)?;
        Ok(self.inner.kind(id).map_or("empty", |k| k.name()))
    }

    /// Number of `%...%` regular expressions in the filter called `name`.
    fn regex_count(&self, name: &str) -> PyResult<usize> {
        let id = self.id(name)?;
        Ok(self.inner.regex_count(id).unwrap_or(0))
    }

    /// `(name, extracted, values)` for each filter matching `message`, in the order added.
    #[pyo3(name = "match")]
    fn match_one<'py>(&self, py: Python<'py>, message: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let bytes = message_bytes(message)?;
        let inner = &self.inner;
        let matches = guarded(|| Ok(run(inner, &bytes)))?;
        self.to_python(py, matches)
    }

    /// `match` for a batch of messages; releases the GIL and uses every core.
    fn match_many<'py>(&self, py: Python<'py>, messages: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyAny>> = messages.try_iter()?.collect::<PyResult<_>>()?;
        let mut buffers: Vec<Cow<'_, [u8]>> = Vec::with_capacity(items.len());
        for item in &items {
            buffers.push(message_bytes(item)?);
        }
        let inner = &self.inner;
        let slices: Vec<&[u8]> = buffers.iter().map(AsRef::as_ref).collect();
        let _pause = GcPause::new(py)?;
        let out = PyList::empty(py);
        guarded(|| {
            crate::pipeline::map_in_order(
                py,
                &slices,
                |m: &&[u8]| run(inner, m),
                |matches| out.append(self.to_python(py, matches)?),
            )
        })?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("<trailmatch.FilterSet with {} filters>", self.inner.len())
    }
}

/// `[(event_number, message, extracted_values)]` for the messages `filter_pattern` matches
/// (event numbers are 1-based), like CloudWatch Logs `TestMetricFilter`.
#[pyfunction]
#[allow(clippy::needless_pass_by_value)] // pyo3 extracts a sequence of str into an owned Vec
pub(crate) fn test_metric_filter<'py>(
    py: Python<'py>,
    filter_pattern: &str,
    log_event_messages: Vec<String>,
) -> PyResult<Bound<'py, PyList>> {
    let refs: Vec<&str> = log_event_messages.iter().map(String::as_str).collect();
    let matches = guarded(|| {
        trailmatch_core::filter::test_metric_filter(filter_pattern, &refs).map_err(|e| filter_error(py, &e))
    })?;
    let out = PyList::empty(py);
    for m in matches {
        let dict = PyDict::new(py);
        for (k, v) in &m.extracted_values {
            dict.set_item(k, v)?;
        }
        out.append((m.event_number, m.event_message, dict))?;
    }
    Ok(out)
}
