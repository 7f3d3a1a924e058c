//! Bindings for `trailmatch_core::cloudtrail`: the `Replay` class and
//! `cloudtrail_to_eventbridge`.
//!
//! `Replay.process` / `Replay.process_file` release the GIL for the whole input (reading,
//! decompressing, splitting, matching); Python objects are made only for matches and errors.

use std::cell::RefCell;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use trailmatch_core::cloudtrail::envelope::{EnvelopeOptions, IdPolicy, ReadOnlyPolicy};
use trailmatch_core::cloudtrail::replay::{to_eventbridge, Item, LogHit, Replay, ReplayScratch, RuleState, Stats};
use trailmatch_core::{Limits, Validation};

use crate::filter::filter_error;
use crate::{
    event_bytes, event_error, from_event_error, guarded, parse_validation, pattern_bytes, pattern_error, GcPause,
};

thread_local! {
    static REPLAY_SCRATCH: RefCell<ReplayScratch> = RefCell::new(ReplayScratch::default());
}

fn envelope_options(
    read_only: &str,
    ids: &str,
    source_overrides: Option<Vec<(String, String)>>,
    vpce_detail_type: Option<String>,
    default_account: String,
) -> PyResult<EnvelopeOptions> {
    let read_only = match read_only {
        "flag" => ReadOnlyPolicy::Flag,
        "name-prefix" => ReadOnlyPolicy::NamePrefix,
        other => {
            return Err(PyValueError::new_err(format!("read_only must be \"flag\" or \"name-prefix\", not {other:?}")))
        }
    };
    let ids = match ids {
        "deterministic" => IdPolicy::Deterministic,
        "random" => IdPolicy::Random,
        other => {
            return Err(PyValueError::new_err(format!("ids must be \"deterministic\" or \"random\", not {other:?}")))
        }
    };
    Ok(EnvelopeOptions {
        read_only,
        ids,
        source_overrides: source_overrides.unwrap_or_default(),
        vpce_detail_type,
        default_account,
        ..EnvelopeOptions::default()
    })
}

/// A match or an error of one input, owned (collected without the GIL).
enum Owned {
    Match { index: usize, offset: usize, keys: Vec<u32>, event: String, event_id: String, region: String, time: String },
    Logged { index: usize, offset: usize, time: Result<i64, String>, hits: Vec<LogHit> },
    Error { index: Option<usize>, offset: usize, message: String },
}

fn stats_dict<'py>(py: Python<'py>, stats: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes", stats.bytes)?;
    d.set_item("gzip", stats.gzip)?;
    d.set_item("records", stats.records)?;
    d.set_item("events", stats.events)?;
    d.set_item("read_only", stats.read_only)?;
    d.set_item("matched_events", stats.matched_events)?;
    d.set_item("matches", stats.matches)?;
    d.set_item("errors", stats.errors)?;
    let skipped = PyDict::new(py);
    for (reason, n) in &stats.skipped {
        skipped.set_item(reason.label(), n)?;
    }
    d.set_item("skipped", skipped)?;
    d.set_item("log_seconds", stats.log_seconds.clone())?;
    d.set_item("filter_matches", stats.filter_matches)?;
    d.set_item("untimed", stats.untimed)?;
    Ok(d)
}

/// Rules deployed on buses in regions, replaying CloudTrail data (see the stub for docs).
#[pyclass(module = "trailmatch._core", name = "Replay")]
pub struct PyReplay {
    inner: Replay,
}

impl PyReplay {
    fn run(&self, data: &[u8]) -> (Vec<Owned>, Stats) {
        let mut items = Vec::new();
        let stats = REPLAY_SCRATCH.with(|s| {
            self.inner.process(data, &mut s.borrow_mut(), &mut |item| {
                items.push(match item {
                    Item::Match { index, offset, keys, event, event_id, region, time } => Owned::Match {
                        index,
                        offset,
                        keys: keys.to_vec(),
                        event: event.to_owned(),
                        event_id: event_id.to_owned(),
                        region: region.to_owned(),
                        time: time.to_owned(),
                    },
                    Item::Logged { index, offset, time, hits } => {
                        Owned::Logged { index, offset, time, hits: hits.to_vec() }
                    }
                    Item::Error { index, offset, message } => Owned::Error { index, offset, message },
                });
            })
        });
        (items, stats)
    }

    fn to_python<'py>(py: Python<'py>, items: Vec<Owned>, stats: &Stats) -> PyResult<Bound<'py, PyDict>> {
        let _pause = GcPause::new(py)?;
        let matches = PyList::empty(py);
        let errors = PyList::empty(py);
        let logged = PyList::empty(py);
        let untimed = PyList::empty(py);
        for item in items {
            match item {
                Owned::Match { index, offset, keys, event, event_id, region, time } => {
                    matches.append((index, offset, keys, event, event_id, region, time))?;
                }
                Owned::Logged { index, offset, time, hits } => {
                    let hits: Vec<(u32, Vec<Option<String>>)> = hits.into_iter().map(|h| (h.key, h.values)).collect();
                    match time {
                        Ok(seconds) => logged.append((index, seconds, hits))?,
                        Err(why) => untimed.append((index, offset, why, hits))?,
                    }
                }
                Owned::Error { index, offset, message } => errors.append((index, offset, message))?,
            }
        }
        let d = PyDict::new(py);
        d.set_item("matches", matches)?;
        d.set_item("errors", errors)?;
        d.set_item("logged", logged)?;
        d.set_item("untimed", untimed)?;
        d.set_item("stats", stats_dict(py, stats)?)?;
        Ok(d)
    }
}

#[pymethods]
impl PyReplay {
    #[new]
    #[pyo3(signature = (*, read_only = "flag", ids = "deterministic", source_overrides = None, vpce_detail_type = None,
                        default_account = "123456789012".to_owned(), validation = "full", max_pattern_length = 2048))]
    fn new(
        read_only: &str,
        ids: &str,
        source_overrides: Option<Vec<(String, String)>>,
        vpce_detail_type: Option<String>,
        default_account: String,
        validation: &str,
        max_pattern_length: usize,
    ) -> PyResult<Self> {
        let options = envelope_options(read_only, ids, source_overrides, vpce_detail_type, default_account)?;
        let validation: Validation = parse_validation(validation)?;
        let limits = Limits { max_pattern_chars: max_pattern_length, ..Limits::default() };
        Ok(PyReplay { inner: Replay::new(options, validation, limits) })
    }

    /// Adds a rule (`state`: `ENABLED`, `DISABLED`, `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`).
    fn add_rule(
        &mut self,
        py: Python<'_>,
        key: u32,
        region: &str,
        bus: &str,
        state: &str,
        event_pattern: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let state = RuleState::parse(state).ok_or_else(|| {
            PyValueError::new_err(format!(
                "rule state must be ENABLED, DISABLED or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, not {state:?}"
            ))
        })?;
        let text = pattern_bytes(py, event_pattern)?;
        guarded(|| self.inner.add_rule(key, region, bus, state, &text).map_err(|e| pattern_error(py, &e)))
    }

    /// Adds a metric filter evaluated on every record (see the stub).
    #[pyo3(signature = (key, pattern, values = Vec::new()))]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts the sequence into an owned Vec
    fn add_filter(&mut self, py: Python<'_>, key: u32, pattern: &str, values: Vec<String>) -> PyResult<()> {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        guarded(|| self.inner.add_filter(key, pattern, &values).map_err(|e| filter_error(py, &e)))
    }

    /// Number of metric filters.
    #[getter]
    fn filter_count(&self) -> usize {
        self.inner.filter_count()
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Replays one input (bytes: gzip or not, any layout); returns matches, errors and stats.
    fn process<'py>(&self, py: Python<'py>, data: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyDict>> {
        let bytes = data.as_bytes();
        let (items, stats) = py.detach(|| guarded(|| Ok(self.run(bytes))))?;
        Self::to_python(py, items, &stats)
    }

    /// `process` for a file read by Rust (the GIL is released while reading too).
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts `os.PathLike` into an owned PathBuf
    fn process_file<'py>(&self, py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let result = py.detach(|| {
            guarded(|| match std::fs::read(&path) {
                Ok(data) => Ok(Ok(self.run(&data))),
                Err(e) => Ok(Err(e)),
            })
        })?;
        match result {
            Ok((items, stats)) => Self::to_python(py, items, &stats),
            Err(e) => {
                // OSError(errno, strerror, filename): Python picks the subclass
                // (FileNotFoundError, PermissionError, ...) from the errno.
                let text = e.to_string();
                let strerror = text.split(" (os error").next().unwrap_or(&text).to_owned();
                let errno = e.raw_os_error().unwrap_or(0);
                Err(pyo3::exceptions::PyOSError::new_err((errno, strerror, path)))
            }
        }
    }

    /// Keys of the rules on `bus` in `region` matching an EventBridge event forwarded there.
    fn match_forwarded(&self, py: Python<'_>, region: &str, bus: &str, event: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
        let bytes = event_bytes(py, event, None)?;
        let result = guarded(|| {
            Ok(REPLAY_SCRATCH.with(|s| self.inner.match_forwarded(region, bus, &bytes, &mut s.borrow_mut())))
        })?;
        result.map_err(|e| from_event_error(py, &e, None))
    }

    fn __repr__(&self) -> String {
        format!("<trailmatch.Replay with {} rules>", self.inner.len())
    }
}

/// The EventBridge event CloudTrail delivers for `record`, as JSON text.
#[pyfunction]
#[pyo3(signature = (record, *, read_only = "flag", ids = "deterministic", source_overrides = None,
                    vpce_detail_type = None, default_account = "123456789012".to_owned()))]
pub fn cloudtrail_to_eventbridge<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    read_only: &str,
    ids: &str,
    source_overrides: Option<Vec<(String, String)>>,
    vpce_detail_type: Option<String>,
    default_account: String,
) -> PyResult<Bound<'py, PyString>> {
    let options = envelope_options(read_only, ids, source_overrides, vpce_detail_type, default_account)?;
    let bytes = event_bytes(py, record, None)?;
    let result = guarded(|| Ok(to_eventbridge(&bytes, &options)))?;
    match result {
        Ok(Ok(json)) => Ok(PyString::new(py, &json)),
        Ok(Err(skip)) => Err(event_error(
            py,
            &format!("CloudTrail does not deliver this record to EventBridge: {}", skip.label()),
            None,
            None,
        )),
        Err(e) => Err(from_event_error(py, &e, None)),
    }
}
