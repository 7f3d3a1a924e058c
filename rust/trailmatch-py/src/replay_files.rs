//! `Replay.process_files`: files replayed by Rust threads that never take the GIL, handed to
//! Python in input order.
//!
//! With Python threads each calling `process_file`, a reader had to take the GIL back to turn
//! its results into Python objects, while the thread dispatching matches held it: with most
//! records matching, a core sat idle for a quarter of a scan. Here the workers read,
//! decompress, split and match without ever touching the interpreter; the consuming thread
//! builds each file's Python objects when it takes the file, so the GIL's only holder is the
//! thread that needs the objects anyway.
//!
//! Workers claim files in order and stay at most `window` files ahead of the consumer, which
//! bounds memory whatever the speed of delivery. A file's buffers go back to a pool when the
//! consumer has built its objects. A file that cannot be read yields its `OSError`; a panic
//! while processing one yields a `RuntimeError` for that file, and the other files are read.
//!
//! No wait here ignores signals: the consumer's wait for a file and `close()`'s wait for the
//! workers let Python run its handlers every 50 ms, and dropping the object (or
//! `close(wait=False)`, after an error) does not wait at all — a worker stuck on a stalled
//! file (a hung network mount, a pipe) stops after it, owning everything it uses. The last
//! file is handed over only after the workers are joined, so rules can be added at once.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use trailmatch_core::cloudtrail::replay::{Replay, ReplayScratch, Stats};

use crate::internal_error;
use crate::replay::{os_error, read_file, release_if_large, run, Collected, PyReplay};

/// What processing one file gave.
enum Outcome {
    Done(Box<(Collected, Stats)>),
    Unreadable(std::io::Error),
    Panicked(Box<dyn std::any::Any + Send>),
}

#[derive(Default)]
struct State {
    /// The next file a worker claims.
    next: usize,
    /// Files handed to Python so far (the next one to hand over is this index).
    consumed: usize,
    /// Finished files not yet handed over.
    done: HashMap<usize, Outcome>,
    /// Buffers of handed-over files, for the workers to reuse.
    spare: Vec<Collected>,
    /// Set when the consumer is gone: workers stop after their current file.
    stop: bool,
    /// Workers that have not returned yet.
    alive: usize,
}

struct Shared {
    paths: Vec<PathBuf>,
    window: usize,
    state: Mutex<State>,
    /// Signalled when a file is done, or a worker returns.
    ready: Condvar,
    /// Signalled when a file is handed over, or on stop.
    room: Condvar,
}

impl Shared {
    /// The state; a worker that panicked holding the lock left it consistent (every update
    /// is a single assignment), so a poisoned lock is used as it is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A worker thread: [`work`](Self::work), then it counts itself out (also if it unwound).
    fn worker(&self, replay: &Replay) {
        struct Exit<'a>(&'a Shared);
        impl Drop for Exit<'_> {
            fn drop(&mut self) {
                self.0.lock().alive -= 1;
                self.0.ready.notify_all();
            }
        }
        let _exit = Exit(self);
        self.work(replay);
    }

    /// A worker's loop. Each worker holds its own reference to the replay, released when it
    /// ends: once the run is over (or stopped), rules can be added again.
    fn work(&self, replay: &Replay) {
        let mut scratch = ReplayScratch::default();
        let mut file = Vec::new();
        loop {
            let (i, mut out) = {
                let mut st = self.lock();
                loop {
                    if st.stop || st.next >= self.paths.len() {
                        return;
                    }
                    if st.next < st.consumed.saturating_add(self.window) {
                        break;
                    }
                    st = self.room.wait(st).unwrap_or_else(PoisonError::into_inner);
                }
                st.next += 1;
                (st.next - 1, st.spare.pop().unwrap_or_default())
            };
            let result = catch_unwind(AssertUnwindSafe(|| {
                read_file(&self.paths[i], &mut file).map(|()| run(replay, &file, &mut scratch, &mut out))
            }));
            release_if_large(&mut file);
            let outcome = match result {
                Ok(Ok(stats)) => Outcome::Done(Box::new((out, stats))),
                Ok(Err(e)) => Outcome::Unreadable(e),
                Err(panic) => {
                    // Whatever the scratch held is suspect after a panic: start afresh.
                    scratch = ReplayScratch::default();
                    Outcome::Panicked(panic)
                }
            };
            self.lock().done.insert(i, outcome);
            self.ready.notify_all();
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.room.notify_all();
        self.ready.notify_all();
    }
}

/// How long the consumer waits for a file before letting Python run its signal handlers.
const SIGNAL_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// What a wait for the next file gave.
enum Wait {
    Ready(usize, Outcome),
    Pending,
    Finished,
}

/// The results of `Replay.process_files`, file by file in input order (see the stub).
#[pyclass(module = "trailmatch._core", name = "ReplayFiles")]
pub struct PyReplayFiles {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl PyReplayFiles {
    /// Starts `threads` workers replaying `paths` through `replay`.
    pub(crate) fn start(
        replay: &Arc<Replay>,
        paths: Vec<PathBuf>,
        threads: usize,
        window: Option<usize>,
    ) -> PyResult<Self> {
        let threads = threads.clamp(1, paths.len().max(1));
        // More than the files is no bound at all (and must not overflow).
        let window = window.unwrap_or(2 * threads).min(paths.len()).max(threads);
        let state = Mutex::new(State { alive: threads, ..State::default() });
        let shared = Arc::new(Shared { paths, window, state, ready: Condvar::new(), room: Condvar::new() });
        let mut files = PyReplayFiles { shared, workers: Vec::with_capacity(threads) };
        for n in 0..threads {
            let (shared, replay) = (Arc::clone(&files.shared), Arc::clone(replay));
            let spawned = std::thread::Builder::new()
                .name(format!("trailmatch-replay-{n}"))
                .spawn(move || shared.worker(&replay));
            match spawned {
                Ok(handle) => files.workers.push(handle),
                Err(e) => {
                    // The workers not started do not count; dropping `files` stops the others.
                    files.shared.lock().alive -= threads - n;
                    return Err(PyRuntimeError::new_err(format!("cannot start a replay thread: {e}")));
                }
            }
        }
        Ok(files)
    }

    /// Waits for workers that are done or about to be (after the last file was handed over).
    fn join(&mut self) {
        for worker in self.workers.drain(..) {
            // A worker's panics are caught per file; a join error cannot carry anything new.
            let _ = worker.join();
        }
    }

    /// Stops the workers after their current file and, with `wait`, waits for them while
    /// letting Python handle signals (a worker stuck reading a stalled file must not make
    /// Ctrl-C wait); without, leaves them to finish in the background (they own what they use).
    fn stop(&mut self, py: Python<'_>, wait: bool) -> PyResult<()> {
        self.shared.stop();
        if !wait {
            self.workers.clear();
            return Ok(());
        }
        loop {
            let shared = &self.shared;
            let done = py.detach(|| {
                let st = shared.lock();
                let (st, _) = shared
                    .ready
                    .wait_timeout_while(st, SIGNAL_CHECK, |st| st.alive > 0)
                    .unwrap_or_else(PoisonError::into_inner);
                st.alive == 0
            });
            if done {
                py.detach(|| self.join());
                return Ok(());
            }
            py.check_signals()?;
        }
    }
}

#[pymethods]
impl PyReplayFiles {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// The next file's result (a dict as `Replay.process` returns), or the exception that
    /// kept it from being read; `None` (StopIteration) after the last file.
    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let shared = Arc::clone(&self.shared);
        let (i, outcome) = loop {
            let taken = py.detach(|| {
                let mut st = shared.lock();
                let i = st.consumed;
                if st.stop || i >= shared.paths.len() {
                    return Wait::Finished;
                }
                loop {
                    if let Some(outcome) = st.done.remove(&i) {
                        st.consumed += 1;
                        shared.room.notify_all();
                        return Wait::Ready(i, outcome);
                    }
                    let (guard, waited) =
                        shared.ready.wait_timeout(st, SIGNAL_CHECK).unwrap_or_else(PoisonError::into_inner);
                    st = guard;
                    if waited.timed_out() && !st.done.contains_key(&i) {
                        return Wait::Pending;
                    }
                }
            });
            match taken {
                Wait::Ready(i, outcome) => {
                    if i + 1 == shared.paths.len() {
                        // Every file is claimed, so the workers are returning: once joined,
                        // they hold no reference to the replay and rules can be added again.
                        py.detach(|| self.join());
                    }
                    break (i, outcome);
                }
                // A slow file (a huge one, a stalled network mount) must not keep Ctrl-C from
                // the interpreter: signal handlers run here, and KeyboardInterrupt propagates.
                Wait::Pending => py.check_signals()?,
                Wait::Finished => {
                    py.detach(|| self.join());
                    return Ok(None);
                }
            }
        };
        match outcome {
            Outcome::Done(done) => {
                let (mut out, stats) = *done;
                let result = PyReplay::to_python(py, &mut out, &stats);
                shared.lock().spare.push(out);
                Ok(Some(result?.into_any()))
            }
            Outcome::Unreadable(e) => Ok(Some(os_error(&e, &shared.paths[i]).into_value(py).into_bound(py).into_any())),
            Outcome::Panicked(panic) => {
                Ok(Some(internal_error(panic.as_ref()).into_value(py).into_bound(py).into_any()))
            }
        }
    }

    /// Number of files.
    fn __len__(&self) -> usize {
        self.shared.paths.len()
    }

    /// Stops reading: files not yet handed over are dropped. With `wait` (the default), returns
    /// once the workers have finished their current file (rules can then be added again);
    /// the wait can be interrupted.
    #[pyo3(signature = (wait = true))]
    fn close(&mut self, py: Python<'_>, wait: bool) -> PyResult<()> {
        self.stop(py, wait)
    }
}

impl Drop for PyReplayFiles {
    fn drop(&mut self) {
        // Without waiting: a worker stuck on a stalled file must not hold up the thread that
        // drops this object (with the GIL). The workers own all they use and stop after their
        // current file.
        self.shared.stop();
        self.workers.clear();
    }
}
