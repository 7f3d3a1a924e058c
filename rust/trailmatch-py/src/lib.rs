//! `trailmatch._core`: thin Python bindings for `trailmatch-core`.
//!
//! This crate converts Python values to bytes and core results to Python values, releases the
//! GIL around matching, and maps core errors to the Python exception classes defined in
//! `trailmatch.errors`. It knows nothing about rules files, CloudTrail or delivery.
//!
//! No panic crosses into Python: every entry point runs the core inside `catch_unwind` and
//! turns a panic into `RuntimeError` (a bug report, not a crash).

use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyKeyError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};
use trailmatch_core::{EventError, Limits, PatternError, RuleId, Scratch, Validation};

mod filter;
mod pipeline;
mod replay;
mod replay_files;

thread_local! {
    /// One matching scratch per thread (the Python thread, or a rayon worker).
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS.get_or_try_init(py, || py.import("trailmatch.errors").map(Bound::unbind)).map(|m| m.bind(py))
}

fn pattern_error(py: Python<'_>, e: &PatternError) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = errors_module(py)?.getattr("PatternError")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("path", e.path())?;
        kwargs.set_item("offset", e.offset())?;
        kwargs.set_item("hint", e.hint())?;
        let value = cls.call((e.reason(),), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

fn event_error(py: Python<'_>, message: &str, offset: Option<usize>, index: Option<usize>) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = errors_module(py)?.getattr("EventError")?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("offset", offset)?;
        kwargs.set_item("index", index)?;
        let value = cls.call((message,), Some(&kwargs))?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|err| err)
}

fn from_event_error(py: Python<'_>, e: &EventError, index: Option<usize>) -> PyErr {
    event_error(py, &e.to_string(), Some(e.offset()), index)
}

/// Runs `f`, turning a Rust panic into `RuntimeError` instead of aborting the interpreter.
fn guarded<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => Err(internal_error(panic.as_ref())),
    }
}

/// The `RuntimeError` a caught Rust panic becomes.
fn internal_error(panic: &(dyn std::any::Any + Send)) -> PyErr {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    PyRuntimeError::new_err(format!("internal error in trailmatch (please report it): {what}"))
}

/// Pauses Python's cyclic garbage collector while batch results are built, and restores it
/// when dropped (also on an error or a panic).
///
/// Building one list, tuple or dict per event or match counts towards the collector's
/// thresholds; every few hundred of them a collection starts, and older generations walk the
/// caller's whole heap — with the parsed records of a benchmark or a pipeline alive, that was
/// three quarters of `FilterSet.match_many` (35 CIS patterns, 20,000 records: 248 MB/s with
/// the collector running, 1,050 MB/s paused). The objects built are all reachable from the
/// result, so nothing is left for the collector to find in the meantime; it runs as usual
/// afterwards.
pub(crate) struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    pub(crate) fn new(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import("gc")?;
        if gc.call_method0("isenabled")?.extract::<bool>()? {
            gc.call_method0("disable")?;
            Ok(GcPause { gc: Some(gc) })
        } else {
            Ok(GcPause { gc: None })
        }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            // Re-enabling cannot fail short of interpreter shutdown; nothing to report then.
            let _ = gc.call_method0("enable");
        }
    }
}

/// JSON text of a `dict` (or other JSON-serialisable value) via the standard `json` module.
fn dumps(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str, index: Option<usize>) -> PyResult<Vec<u8>> {
    let f = JSON_DUMPS
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(py.import("json")?.getattr("dumps")?.unbind()) })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("ensure_ascii", false)?;
    kwargs.set_item("allow_nan", false)?;
    kwargs.set_item("separators", (",", ":"))?;
    match f.bind(py).call((obj,), Some(&kwargs)) {
        Ok(text) => Ok(text.cast::<PyString>()?.to_str()?.as_bytes().to_vec()),
        Err(err) => {
            let reason = err.value(py).to_string();
            let message = format!("{what} cannot be serialised as JSON: {reason}");
            if what == "event" {
                Err(event_error(py, &message, None, index))
            } else {
                Err(PyTypeError::new_err(message))
            }
        }
    }
}

/// Borrows or serialises an event given as `bytes`, `bytearray`, `str` or `dict`.
fn event_bytes<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>, index: Option<usize>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_str() {
            Ok(text) => Ok(Cow::Borrowed(text.as_bytes())),
            Err(_) => {
                Err(event_error(py, "event is not valid UTF-8 text (the str contains lone surrogates)", None, index))
            }
        };
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if obj.is_instance_of::<PyDict>() {
        return dumps(py, obj, "event", index).map(Cow::Owned);
    }
    Err(PyTypeError::new_err(format!("event must be bytes, str or dict, not {}", obj.get_type().name()?)))
}

/// Pattern text from `str`, `bytes` or `dict`.
fn pattern_bytes<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Cow::Borrowed(s.to_str()?.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if obj.is_instance_of::<PyDict>() {
        return dumps(py, obj, "event pattern", None).map(Cow::Owned);
    }
    Err(PyTypeError::new_err(format!("event pattern must be str, bytes or dict, not {}", obj.get_type().name()?)))
}

/// `"full"` or `"lazy"`.
fn parse_validation(text: &str) -> PyResult<Validation> {
    match text {
        "full" => Ok(Validation::Full),
        "lazy" => Ok(Validation::Lazy),
        other => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "validation must be \"full\" or \"lazy\", not {other:?}"
        ))),
    }
}

/// A set of named EventBridge event patterns compiled into one automaton.
#[pyclass(module = "trailmatch._core", name = "Ruleset")]
struct PyRuleset {
    inner: trailmatch_core::Ruleset,
    /// Interned Python name of each rule id, so matching allocates no strings.
    names: Vec<Option<Py<PyString>>>,
}

impl PyRuleset {
    fn names_of(&self, py: Python<'_>, ids: &[RuleId]) -> Vec<Py<PyString>> {
        ids.iter().map(|&id| self.names[id as usize].as_ref().expect("live rule").clone_ref(py)).collect()
    }
}

#[pymethods]
impl PyRuleset {
    #[new]
    #[pyo3(signature = (*, max_pattern_length = 2048, max_wildcard_complexity = 10, max_alternatives = 1024, validation = "full"))]
    fn new(
        max_pattern_length: usize,
        max_wildcard_complexity: usize,
        max_alternatives: usize,
        validation: &str,
    ) -> PyResult<Self> {
        let validation = parse_validation(validation)?;
        let limits = Limits {
            max_pattern_chars: max_pattern_length,
            max_wildcard_complexity,
            max_branches: max_alternatives,
            ..Limits::default()
        };
        let mut inner = trailmatch_core::Ruleset::with_limits(limits);
        inner.set_validation(validation);
        Ok(PyRuleset { inner, names: Vec::new() })
    }

    /// Compiles `event_pattern` and adds it as `name`, replacing a rule of that name.
    fn add(&mut self, py: Python<'_>, name: &Bound<'_, PyString>, event_pattern: &Bound<'_, PyAny>) -> PyResult<()> {
        let text = pattern_bytes(py, event_pattern)?;
        let name_str = name.to_str()?;
        let id = guarded(|| self.inner.add_bytes(name_str, &text).map_err(|e| pattern_error(py, &e)))?;
        if self.names.len() <= id as usize {
            self.names.resize_with(id as usize + 1, || None);
        }
        self.names[id as usize] = Some(PyString::intern(py, name_str).unbind());
        Ok(())
    }

    /// Removes the rule called `name`; `KeyError` if there is none.
    fn remove(&mut self, name: &str) -> PyResult<()> {
        let id = self.inner.id(name).ok_or_else(|| PyKeyError::new_err(name.to_owned()))?;
        guarded(|| {
            self.inner.remove(name);
            Ok(())
        })?;
        self.names[id as usize] = None;
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.inner.contains(name)
    }

    /// Names of all rules in the order they were added.
    fn names(&self) -> Vec<String> {
        self.inner.names().into_iter().map(str::to_owned).collect()
    }

    /// The warnings recorded when the rule called `name` was compiled.
    fn warnings(&self, name: &str) -> PyResult<Vec<String>> {
        self.inner.pattern(name).map(|p| p.warnings.clone()).ok_or_else(|| PyKeyError::new_err(name.to_owned()))
    }

    /// Names of the rules matching `event`, in the order the rules were added.
    #[pyo3(name = "match")]
    fn match_one(&self, py: Python<'_>, event: &Bound<'_, PyAny>) -> PyResult<Vec<Py<PyString>>> {
        let bytes = event_bytes(py, event, None)?;
        let mut out = Vec::new();
        let inner = &self.inner;
        let result = guarded(|| SCRATCH.with(|s| Ok(inner.matches_with(&bytes, &mut s.borrow_mut(), &mut out))))?;
        result.map_err(|e| from_event_error(py, &e, None))?;
        Ok(self.names_of(py, &out))
    }

    /// `match` for a batch of events; releases the GIL and uses every core.
    fn match_many<'py>(&self, py: Python<'py>, events: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let items: Vec<Bound<'py, PyAny>> = events.try_iter()?.collect::<PyResult<_>>()?;
        let mut buffers: Vec<Cow<'_, [u8]>> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            buffers.push(event_bytes(py, item, Some(i))?);
        }
        let inner = &self.inner;
        let slices: Vec<&[u8]> = buffers.iter().map(AsRef::as_ref).collect();
        let run = |event: &&[u8]| {
            SCRATCH.with(|s| {
                let mut out = Vec::new();
                inner.matches_with(event, &mut s.borrow_mut(), &mut out).map(|()| out)
            })
        };
        let _pause = GcPause::new(py)?;
        let out = PyList::empty(py);
        let mut i = 0;
        guarded(|| {
            pipeline::map_in_order(py, &slices, run, |r: Result<Vec<RuleId>, EventError>| {
                let ids = r.map_err(|e| from_event_error(py, &e, Some(i)))?;
                out.append(self.names_of(py, &ids))?;
                i += 1;
                Ok(())
            })
        })?;
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("<trailmatch.Ruleset with {} rules>", self.inner.len())
    }
}

/// Whether `event_pattern` matches `event` (both JSON text as str/bytes/dict).
#[pyfunction]
fn test_event_pattern(py: Python<'_>, event_pattern: &Bound<'_, PyAny>, event: &Bound<'_, PyAny>) -> PyResult<bool> {
    let pattern = pattern_bytes(py, event_pattern)?;
    let event = event_bytes(py, event, None)?;
    let mut rules = trailmatch_core::Ruleset::new();
    guarded(|| rules.add_bytes("pattern", &pattern).map(|_| ()).map_err(|e| pattern_error(py, &e)))?;
    let mut out = Vec::new();
    let result = guarded(|| SCRATCH.with(|s| Ok(rules.matches_with(&event, &mut s.borrow_mut(), &mut out))))?;
    result.map_err(|e| from_event_error(py, &e, None))?;
    Ok(!out.is_empty())
}

/// Why `event_pattern` matched `event` or not: `(matched, text, branches)`.
#[pyfunction]
fn explain<'py>(
    py: Python<'py>,
    event_pattern: &Bound<'py, PyAny>,
    event: &Bound<'py, PyAny>,
) -> PyResult<(bool, String, Bound<'py, PyList>)> {
    let pattern = pattern_bytes(py, event_pattern)?;
    let event = event_bytes(py, event, None)?;
    let explanation = guarded(|| {
        trailmatch_core::explain::explain(&pattern, &event).map_err(|e| match e {
            trailmatch_core::explain::ExplainError::Pattern(p) => pattern_error(py, &p),
            trailmatch_core::explain::ExplainError::Event(ev) => from_event_error(py, &ev, None),
        })
    })?;
    let branches = PyList::empty(py);
    for b in &explanation.branches {
        let fields = PyList::empty(py);
        for f in &b.fields {
            let d = PyDict::new(py);
            d.set_item("path", &f.path)?;
            d.set_item("condition", &f.condition)?;
            d.set_item("values", &f.values)?;
            d.set_item("satisfied", f.satisfied)?;
            d.set_item("matched_by", f.matched_by.clone())?;
            fields.append(d)?;
        }
        let d = PyDict::new(py);
        d.set_item("matched", b.matched)?;
        d.set_item("array_conflict", b.array_conflict)?;
        d.set_item("fields", fields)?;
        branches.append(d)?;
    }
    Ok((explanation.matched, explanation.to_string(), branches))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRuleset>()?;
    m.add_class::<replay::PyReplay>()?;
    m.add_class::<replay_files::PyReplayFiles>()?;
    m.add_class::<filter::PyFilterSet>()?;
    m.add_function(wrap_pyfunction!(filter::test_metric_filter, m)?)?;
    m.add_function(wrap_pyfunction!(replay::cloudtrail_to_eventbridge, m)?)?;
    m.add_function(wrap_pyfunction!(test_event_pattern, m)?)?;
    m.add_function(wrap_pyfunction!(explain, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
