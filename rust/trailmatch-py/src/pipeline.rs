//! Batches matched in chunks by rayon's pool while the calling thread turns the finished
//! chunks into Python objects, in input order.
//!
//! `match_many` used to match the whole batch on every core and only then build the result
//! lists, holding the GIL, on one thread: on two cores the building (a sixth of the work with
//! 1,000 mixed rules) left a core idle, and two cores gave 1.46–1.63× one. Here the pool's
//! workers claim chunks in order; the calling thread builds each chunk's objects as soon as it
//! is done, and when the next chunk is not done yet, matches an unclaimed chunk itself (with
//! the GIL released) or waits for it (likewise). Every core has work until the end.
//!
//! A panic while matching a chunk is caught where it happens and becomes a `RuntimeError`
//! for the call; the workers stop claiming chunks once the caller has stopped (an error in
//! the batch), and the caller returns only after every worker has returned.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;

use crate::internal_error;

/// Events per chunk: large enough that claiming and handing over cost nothing next to the
/// matching (32 CloudTrail events are 60–100 µs of work), small enough that the last chunks
/// finish together.
const CHUNK: usize = 32;

type Slot<T> = Option<std::thread::Result<Vec<T>>>;

struct Shared<'a, I, T, W> {
    items: &'a [I],
    work: W,
    /// The next chunk to claim (at or past the number of chunks when none is left).
    next: AtomicUsize,
    /// Finished chunks not yet taken, and the number of workers still running.
    state: Mutex<(Vec<Slot<T>>, usize)>,
    /// Signalled when a chunk is finished or a worker returns.
    ready: Condvar,
}

impl<I: Sync, T: Send, W: Fn(&I) -> T + Sync> Shared<'_, I, T, W> {
    fn lock(&self) -> MutexGuard<'_, (Vec<Slot<T>>, usize)> {
        // Nothing panics while holding the lock; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn chunks(&self) -> usize {
        self.items.len().div_ceil(CHUNK)
    }

    /// Claims and matches one chunk; false when none is left.
    fn run_one(&self) -> bool {
        let c = self.next.fetch_add(1, Ordering::Relaxed);
        if c >= self.chunks() {
            return false;
        }
        let items = &self.items[c * CHUNK..((c + 1) * CHUNK).min(self.items.len())];
        let out = catch_unwind(AssertUnwindSafe(|| items.iter().map(&self.work).collect::<Vec<T>>()));
        self.lock().0[c] = Some(out);
        self.ready.notify_all();
        true
    }

    /// A pool worker: chunks until none is left, then it counts itself out.
    fn worker(&self) {
        while self.run_one() {}
        self.lock().1 -= 1;
        self.ready.notify_all();
    }

    /// Stops the claiming of further chunks.
    fn stop(&self) {
        self.next.store(usize::MAX / 2, Ordering::Relaxed);
    }
}

/// Applies `work` to every item, on the pool's threads and this one, and hands the results to
/// `consume` in input order while later chunks are still being matched. `work` runs without
/// the GIL; `consume` runs on this thread with it.
pub(crate) fn map_in_order<I: Sync, T: Send>(
    py: Python<'_>,
    items: &[I],
    work: impl Fn(&I) -> T + Sync,
    mut consume: impl FnMut(T) -> PyResult<()>,
) -> PyResult<()> {
    let chunks = items.len().div_ceil(CHUNK);
    // This thread matches too: the pool lends the other cores.
    let workers = rayon::current_num_threads().saturating_sub(1).min(chunks.saturating_sub(1));
    let shared = Shared {
        items,
        work,
        next: AtomicUsize::new(0),
        state: Mutex::new(((0..chunks).map(|_| None).collect(), workers)),
        ready: Condvar::new(),
    };
    rayon::in_place_scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| shared.worker());
        }
        let result = (|| {
            for c in 0..chunks {
                let chunk = loop {
                    if let Some(done) = shared.lock().0[c].take() {
                        break done;
                    }
                    // Not done: match an unclaimed chunk, or wait for this one.
                    py.detach(|| {
                        if !shared.run_one() {
                            let mut state = shared.lock();
                            while state.0[c].is_none() {
                                state = shared.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                            }
                        }
                    });
                };
                for t in chunk.map_err(|panic| internal_error(panic.as_ref()))? {
                    consume(t)?;
                }
            }
            Ok(())
        })();
        // Return only after the workers have: the scope would otherwise wait for them with
        // the GIL held.
        shared.stop();
        py.detach(|| {
            let mut state = shared.lock();
            while state.1 > 0 {
                state = shared.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
        });
        result
    })
}
