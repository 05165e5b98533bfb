//! Helper threads that do not preempt the thread that wakes them.
//!
//! A helper woken for work (a pool worker for a queued request, the io_uring submitter for a
//! queued entry) is, as an ordinary thread, usually run at once on the waker's CPU, ahead of
//! the waker. With one CPU to run on, a program that queues 32 writes then has the worker take
//! them one at a time, two context switches and a wake-up for each. As a SCHED_BATCH thread
//! ([`spawn_yielding`]) the helper is not woken into the CPU ahead of the running thread: it
//! runs on an idle CPU at once, else when that thread sleeps (in `aio_suspend`, say) or its
//! time slice ends. Its weight (nice value) and its share of the CPU stay as they were. A
//! thread the application made real-time, or SCHED_BATCH or SCHED_IDLE itself, passes its
//! policy on to the helpers it starts unchanged.
//!
//! A thread inherits its creator's policy: a thread a helper creates for the application (a
//! notification thread, a SIGEV_THREAD callback's own thread) or for rtaio, and an application
//! callback a helper runs itself, get the policy the helper had before ([`as_before`]).

use std::cell::Cell;

use crate::sys;

thread_local! {
    /// This thread was started SCHED_BATCH by [`spawn_yielding`] (not by the application's
    /// own choice of policy).
    static YIELDED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `spawn`, which creates a helper thread, so that the thread starts SCHED_BATCH if the
/// calling thread runs SCHED_OTHER or is such a helper itself: the calling thread takes that
/// policy for the moment of the spawn (as it blocks every signal around it), so the new thread
/// never runs otherwise. `spawn` is told whether it does; the new thread passes that on to
/// [`started_yielding`] first.
pub fn spawn_yielding<R>(spawn: impl FnOnce(bool) -> R) -> R {
    if YIELDED.try_with(Cell::get).unwrap_or(false) {
        return spawn(true);
    }
    if sys::sched_policy() != libc::SCHED_OTHER || !sys::set_sched_policy(libc::SCHED_BATCH) {
        return spawn(false);
    }
    let r = spawn(true);
    sys::set_sched_policy(libc::SCHED_OTHER);
    r
}

/// A helper thread's first step: whether [`spawn_yielding`] started it SCHED_BATCH.
pub fn started_yielding(yielded: bool) {
    YIELDED.with(|y| y.set(yielded));
}

/// Runs `f` (which creates a thread that is not a helper, or runs the application's code) with
/// the policy the calling thread would have had without [`spawn_yielding`]: two system calls
/// around `f` on such a helper, none on any other thread.
pub fn as_before<R>(f: impl FnOnce() -> R) -> R {
    if !YIELDED.try_with(Cell::get).unwrap_or(false) {
        return f();
    }
    let back = sys::set_sched_policy(libc::SCHED_OTHER);
    let r = f();
    if back {
        sys::set_sched_policy(libc::SCHED_BATCH);
    }
    r
}
