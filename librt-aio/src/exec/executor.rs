//! The interface every executor implements, and how it reports back.

use std::sync::Arc;
use std::time::Duration;

use crate::aiocb::KernelQueue;
use crate::request::{CancelOutcome, Request, Spec};
use crate::spare;
use crate::sys::{Errno, FileKind};

/// A request and its result (bytes, or the errno).
pub type Done = (Arc<Request>, Result<usize, Errno>);

/// Where an executor reports the requests it ran: the process's core.
#[derive(Clone, Copy)]
pub struct Finish {
    one: fn(&Arc<Request>, Result<usize, Errno>),
    all: fn(&[Done]),
}

impl Finish {
    pub fn new(one: fn(&Arc<Request>, Result<usize, Errno>), all: fn(&[Done])) -> Finish {
        Finish { one, all }
    }

    /// One request, with its result.
    pub fn one(&self, req: &Arc<Request>, result: Result<usize, Errno>) {
        (self.one)(req, result)
    }

    /// Requests reaped together, in order: the same as one by one, except that they leave
    /// the descriptor table together (a lock per descriptor, not per request). Empties
    /// `done`, reusing the requests' allocations (`spare.rs`).
    pub fn all(&self, done: &mut Vec<Done>) {
        if done.is_empty() {
            return;
        }
        (self.all)(done);
        for (req, _) in done.drain(..) {
            spare::give(req);
        }
    }
}

/// Where a signal-safe reaper publishes a request's status ahead of finishing it: false if the
/// request needs more than that first (then only [`Finish`] may complete it). Async-signal-
/// safe. A request published here is finished later through [`Finish`] all the same.
pub type Publish = Arc<dyn Fn(&Request, Result<usize, Errno>) -> bool + Send + Sync>;

/// Work for another thread ([`Executor::beside`]).
pub type Work = Box<dyn FnOnce() + Send>;

/// What running a request in the submitting thread found.
#[derive(Debug, PartialEq, Eq)]
pub enum Now {
    /// Complete: this many bytes.
    Done(usize),
    /// The descriptor cannot seek (ESPIPE): it is a stream.
    Stream,
    /// Not now: the request runs later, elsewhere.
    Later,
    /// Not here: a page-cache read of a deep queue, for a worker already running to copy
    /// beside the caller (it runs later, as a short task: `Spec::quick`).
    Share,
    /// Not cached: the attempt asked the device for the data (the kernel's readahead), and
    /// the request only waits for it (`Spec::started`).
    Started,
}

/// A way to run requests.
pub trait Executor: Send + Sync {
    /// Fills in the routing hints of a new request (descriptor flags, file kind).
    fn plan(&self, _spec: &mut Spec, _flags: i32, _kind: FileKind) {}

    /// Runs the request in the submitting thread, before it is registered anywhere, if that
    /// cannot block.
    fn try_now(&self, _req: &Spec, _flags: i32) -> Now {
        Now::Later
    }

    /// May a read that did not complete inside the submitting call run on `flags` taken from
    /// the live requests on its number (the same file still, flags unchanged as far as a read
    /// cares), without asking `fcntl` again? Not where a wrong assumption (a number that names
    /// another file by now) could make the submitting thread wait: native AIO without
    /// RWF_NOWAIT.
    fn may_assume_flags(&self, flags: i32) -> bool {
        flags & libc::O_DIRECT == 0
    }

    /// Runs a read of a descriptor that cannot seek in the submitting thread, if data is there
    /// now. The caller guarantees no other read of that descriptor is in flight.
    fn try_now_stream(&self, _req: &Spec) -> Now {
        Now::Later
    }

    /// Starts requests (each claimed by the executor first; one cancelled meanwhile is dropped).
    /// Returns the ones it does not take, unclaimed, for someone else.
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>>;

    /// Runs a request this executor has queued and not started, in the calling thread: a
    /// thread waiting for it in `aio_suspend` (`core/help.rs`). Claims it for the caller
    /// (`Request::claim_for_help`) and returns its result, or None (not claimed). One system
    /// call at most, not a cancellation point; async-signal-safe.
    fn help(&self, _req: &Request) -> Option<Result<usize, Errno>> {
        None
    }

    /// Runs `work` on a thread of this executor's that is free now, beside the caller (work that
    /// neither blocks nor waits for anything), or drops it. It may also run later, or never:
    /// the caller must not count on it.
    fn beside(&self, _work: Work) {}

    /// Asks to stop a running request: true if it will finish with ECANCELED.
    fn cancel(&self, _req: &Request) -> bool {
        false
    }

    /// `aio_init` (or the environment) changed the thread limit or the idle time.
    fn set_limits(&self, _max_threads: usize, _idle: Duration) {}

    /// Collects completions that are ready without waiting (an executor whose completions
    /// queue up until someone looks). `signal_safe`: called from `aio_error` or
    /// `aio_suspend`, maybe in a signal handler: publish statuses only (see [`Publish`]).
    fn poll(&self, _signal_safe: bool) {}

    /// A thread is about to sleep until a request completes: completions must now be
    /// collected without it (async-signal-safe).
    fn before_sleep(&self) {}

    /// A thread of this executor gave up the CPU that a caller polling for a completion holds,
    /// and waits for it (one CPU only): the caller should give it back (async-signal-safe).
    fn worker_yielding(&self) -> bool {
        false
    }

    /// Waits in the kernel for completions of this executor's requests, the kernel waking this
    /// thread itself (no hop through another thread), then reaps them as [`Executor::poll`]
    /// with `signal_safe` does. For a thread whose awaited requests are all this executor's
    /// and still in the kernel; `still` re-checks that once the wait is this thread's. `None`:
    /// not possible now (sleep on the status words instead). Returns after a completion, a
    /// signal handler (EINTR if the kernel did not restart the wait) or a spurious wake-up.
    /// A POSIX cancellation point. Async-signal-safe.
    fn kernel_wait(&self, _queue: KernelQueue, _still: &dyn Fn() -> bool) -> Option<Result<(), Errno>> {
        None
    }
}

/// Starts `reqs` on `exec`; the ones it cannot take fail with EAGAIN (the only request that
/// reaches here unowned is one no thread can run).
fn start_or_fail(exec: &dyn Executor, reqs: Vec<Arc<Request>>, finish: &Finish) {
    for r in exec.start(reqs) {
        if let Some(result) = given_back(&r) {
            finish.one(&r, result);
        }
    }
}

/// A request an executor claimed and cannot complete after all (its kernel interface would not
/// wait for the file): given back and run again by `fallback`, the pool.
pub fn redo_on(fallback: &dyn Executor, req: Arc<Request>, finish: &Finish) {
    req.to_pool();
    req.unclaim();
    start_or_fail(fallback, vec![req], finish);
}

/// A request an executor gave back unrun (no thread can run it): the result to finish it with
/// if the caller owns it now. Taken while queued: EAGAIN. Run meanwhile by a thread waiting
/// for it (`core/help.rs`): its status is published, and the rest is the caller's to finish.
/// None: someone else owns it.
pub fn given_back(r: &Request) -> Option<Result<usize, Errno>> {
    match r.try_cancel() {
        // (A stream write io_uring took in part before giving back the rest: the part, as a
        // write() that stopped there reports it.)
        CancelOutcome::Canceled => Some(match r.transferred() {
            0 => Err(libc::EAGAIN),
            part => Ok(part),
        }),
        _ if r.wait_helped() => Some(r.helped_result()),
        _ => None,
    }
}
