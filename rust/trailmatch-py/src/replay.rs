//! Bindings for `trailmatch_core::cloudtrail`: the `Replay` class and
//! `cloudtrail_to_eventbridge`.
//!
//! `Replay.process` / `Replay.process_file` release the GIL for the whole input (reading,
//! decompressing, splitting, matching); Python objects are made only for matches and errors.

use std::cell::RefCell;
use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
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
    /// The file being read and what it produced, reused from one input to the next on a
    /// thread (their memory is not allocated, faulted in and returned per file).
    static BUFFERS: RefCell<(Vec<u8>, Collected)> = RefCell::new((Vec::new(), Collected::default()));
}

/// Buffers larger than this are not kept for the next input.
pub(crate) const KEEP_BUFFER: usize = 64 << 20;

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

/// A logged record or an error of one input, owned (collected without the GIL).
pub(crate) enum Owned {
    Logged { index: usize, offset: usize, time: Result<i64, String>, hits: Vec<LogHit> },
    Error { index: Option<usize>, offset: usize, message: String },
}

/// One match, its strings and keys as ranges of [`Collected`]'s buffers.
struct MatchAt {
    index: usize,
    offset: usize,
    keys: std::ops::Range<usize>,
    /// Ends of the event JSON, event id, region and time in `text` (each starts where the
    /// previous one ends).
    ends: [usize; 4],
}

/// What one input produced, collected without the GIL: the matches' strings back to back in
/// one buffer (one allocation per input, not four per match, and nothing to free one by one
/// while the GIL is held), the number of matches per rule key, the other items.
#[derive(Default)]
pub(crate) struct Collected {
    text: String,
    keys: Vec<u32>,
    matches: Vec<MatchAt>,
    /// `(key, matches)`, in order of the key's first match.
    counts: Vec<(u32, u64)>,
    others: Vec<Owned>,
}

impl Collected {
    fn clear(&mut self) {
        self.text.clear();
        self.keys.clear();
        self.matches.clear();
        self.counts.clear();
        self.others.clear();
    }

    /// Drops buffers that grew beyond [`KEEP_BUFFER`] (one huge input does not pin its memory).
    fn trim(&mut self) {
        if self.text.capacity() > KEEP_BUFFER {
            *self = Collected::default();
        }
    }

    fn push_match(&mut self, index: usize, offset: usize, keys: &[u32], strings: [&str; 4], slots: &mut Slots) {
        let start = self.keys.len();
        self.keys.extend_from_slice(keys);
        for &key in keys {
            let slot = *slots.entry(key).or_insert_with(|| {
                self.counts.push((key, 0));
                self.counts.len() - 1
            });
            self.counts[slot].1 += 1;
        }
        let mut ends = [0; 4];
        for (end, s) in ends.iter_mut().zip(strings) {
            self.text.push_str(s);
            *end = self.text.len();
        }
        self.matches.push(MatchAt { index, offset, keys: start..self.keys.len(), ends });
    }
}

/// Slot in [`Collected::counts`] per rule key.
type Slots = std::collections::HashMap<u32, usize>;

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
    pub(crate) inner: Arc<Replay>,
}

/// `OSError(errno, strerror, filename)` for a file that could not be read: Python picks the
/// subclass (`FileNotFoundError`, `PermissionError`, ...) from the errno.
pub(crate) fn os_error(e: &std::io::Error, path: &std::path::Path) -> PyErr {
    let text = e.to_string();
    let strerror = text.split(" (os error").next().unwrap_or(&text).to_owned();
    let errno = e.raw_os_error().unwrap_or(0);
    pyo3::exceptions::PyOSError::new_err((errno, strerror, path.to_path_buf()))
}

/// Reads the file at `path` into `buf` (cleared first).
pub(crate) fn read_file(path: &std::path::Path, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_to_end(&mut f, buf)).map(|_| ())
}

/// Drops a file buffer that grew beyond [`KEEP_BUFFER`] (one huge input does not pin its memory).
pub(crate) fn release_if_large(buf: &mut Vec<u8>) {
    if buf.capacity() > KEEP_BUFFER {
        *buf = Vec::new();
    }
}

/// Replays `data`, collecting into `out` (cleared first).
pub(crate) fn run(replay: &Replay, data: &[u8], scratch: &mut ReplayScratch, out: &mut Collected) -> Stats {
    out.clear();
    let mut slots = Slots::new();
    replay.process(data, scratch, &mut |item| match item {
        Item::Match { index, offset, keys, event, event_id, region, time } => {
            out.push_match(index, offset, keys, [event, event_id, region, time], &mut slots);
        }
        Item::Logged { index, offset, time, hits } => {
            out.others.push(Owned::Logged { index, offset, time, hits: hits.to_vec() });
        }
        Item::Error { index, offset, message } => out.others.push(Owned::Error { index, offset, message }),
    })
}

impl PyReplay {
    fn run(&self, data: &[u8], out: &mut Collected) -> Stats {
        REPLAY_SCRATCH.with(|s| run(&self.inner, data, &mut s.borrow_mut(), out))
    }

    /// The replay, for changes: refused while files are being replayed in the background.
    fn inner_mut(&mut self) -> PyResult<&mut Replay> {
        Arc::get_mut(&mut self.inner).ok_or_else(|| {
            PyRuntimeError::new_err("rules and metric filters cannot be added while a process_files() run is under way")
        })
    }

    /// The Python result of one input; `out`'s buffers are then kept for the next input (or
    /// dropped if they grew beyond [`KEEP_BUFFER`]).
    pub(crate) fn to_python<'py>(py: Python<'py>, out: &mut Collected, stats: &Stats) -> PyResult<Bound<'py, PyDict>> {
        let _pause = GcPause::new(py)?;
        let errors = PyList::empty(py);
        let logged = PyList::empty(py);
        let untimed = PyList::empty(py);
        let Collected { text, keys, matches, counts, others } = out;
        let mut start = 0;
        let matches = PyList::new(
            py,
            matches.iter().map(|m| {
                let [event, event_id, region, time] = m.ends.map(|end| {
                    let piece = PyString::new(py, &text[start..end]);
                    start = end;
                    piece
                });
                (m.index, m.offset, &keys[m.keys.clone()], event, event_id, region, time)
            }),
        )?;
        for item in others.drain(..) {
            match item {
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
        d.set_item("match_counts", &*counts)?;
        d.set_item("errors", errors)?;
        d.set_item("logged", logged)?;
        d.set_item("untimed", untimed)?;
        d.set_item("stats", stats_dict(py, stats)?)?;
        out.trim();
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
        Ok(PyReplay { inner: Arc::new(Replay::new(options, validation, limits)) })
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
        let inner = self.inner_mut()?;
        guarded(|| inner.add_rule(key, region, bus, state, &text).map_err(|e| pattern_error(py, &e)))
    }

    /// Adds a metric filter evaluated on every record (see the stub).
    #[pyo3(signature = (key, pattern, values = Vec::new()))]
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts the sequence into an owned Vec
    fn add_filter(&mut self, py: Python<'_>, key: u32, pattern: &str, values: Vec<String>) -> PyResult<()> {
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        let inner = self.inner_mut()?;
        guarded(|| inner.add_filter(key, pattern, &values).map_err(|e| filter_error(py, &e)))
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
        BUFFERS.with(|b| {
            let (_, out) = &mut *b.borrow_mut();
            let stats = py.detach(|| guarded(|| Ok(self.run(bytes, out))))?;
            Self::to_python(py, out, &stats)
        })
    }

    /// `process` for a file read by Rust (the GIL is released while reading too).
    #[allow(clippy::needless_pass_by_value)] // pyo3 extracts `os.PathLike` into an owned PathBuf
    fn process_file<'py>(&self, py: Python<'py>, path: std::path::PathBuf) -> PyResult<Bound<'py, PyDict>> {
        BUFFERS.with(|b| {
            let (file, out) = &mut *b.borrow_mut();
            let result = py.detach(|| {
                guarded(|| match read_file(&path, file) {
                    Ok(()) => Ok(Ok(self.run(file, out))),
                    Err(e) => Ok(Err(e)),
                })
            })?;
            release_if_large(file);
            match result {
                Ok(stats) => Self::to_python(py, out, &stats),
                Err(e) => Err(os_error(&e, &path)),
            }
        })
    }

    /// Replays files on `threads` Rust threads that never take the GIL (see `replay_files`);
    /// returns an iterator of per-file results in the order of `paths`.
    #[pyo3(signature = (paths, *, threads = 1, window = None))]
    fn process_files(
        &self,
        paths: Vec<std::path::PathBuf>,
        threads: usize,
        window: Option<usize>,
    ) -> PyResult<crate::replay_files::PyReplayFiles> {
        crate::replay_files::PyReplayFiles::start(&self.inner, paths, threads, window)
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
