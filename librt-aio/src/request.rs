//! A request: what to do, whom to notify, and the phase that decides who finishes it.
//!
//! Phase protocol (the cancel protocol): a request is created QUEUED. Exactly one party moves
//! it out of QUEUED with a compare-and-swap, and that party owns its completion:
//! - an executor: QUEUED → RUNNING ([`Request::claim`]), then performs the I/O and reports the
//!   result (a pool worker; the thread calling `io_submit`, whose completion the reaper then
//!   reports);
//! - `aio_cancel`: QUEUED → CANCELED, then finishes it with ECANCELED;
//! - a submission that could not get any executor to take it: QUEUED → CANCELED, then finishes
//!   it with EAGAIN.
//!
//! Whoever finishes a request sets FINISHING, publishes its status, sets DONE, and only then
//! releases it from the descriptor table. `aio_cancel` waits out FINISHING (microseconds), so
//! every answer it gives is about a status that is final or will not change on its own.
//!
//! A RUNNING request is not cancelled (AIO_NOTCANCELED), except where its executor can stop it
//! (native AIO's `io_cancel`): its completion then reports ECANCELED. An executor that pops a
//! CANCELED request drops it. One more transition: an executor that claimed a request and then
//! does not take it gives it back (RUNNING → QUEUED, [`Request::unclaim`]) before another
//! executor sees it.
//!
//! A thread waiting for a request in `aio_suspend` may run it itself while it is still queued
//! (`Core::help`): QUEUED → HELPING ([`Request::claim_for_help`]), the I/O, the status
//! published, then HELPED ([`Request::mark_helped`]). The rest of its completion is still the
//! queue's: the executor that pops it waits out HELPING ([`Request::wait_helped`]) and finishes
//! it. A HELPING request is running (AIO_NOTCANCELED); a HELPED one is done.

use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::*,
};
use std::sync::Arc;

use kernel_aio::aio::{Iocb, Owner};
use kernel_aio::IoBuf;
use parking_lot::Mutex;

use crate::aiocb::{AiocbRef, KernelQueue};
use crate::fileref::FileRef;
use crate::list::ListCtl;
use crate::notify::Notify;
use crate::sys;
use crate::sys::arcs::Linked;
use crate::track::SlotRef;

/// The operation, for every submission function (`aio_read`, `aio_readv`, `lio_listio`'s
/// LIO_READ... all read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Op {
    #[default]
    Read,
    Write,
    Sync {
        data_only: bool,
    },
}

/// The memory a request transfers.
#[derive(Debug, Default)]
pub enum Data {
    /// None (fsync, or a request failed before it ran).
    #[default]
    None,
    /// `aio_buf`, `aio_nbytes`.
    Buf(IoBuf),
    /// The segments of `aio_readv`/`aio_writev`, copied at submission.
    Vec(Box<[IoBuf]>),
}

/// A submission-order chain of one descriptor (see `core/fdtable.rs`): the requests in it run
/// one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Reads of a descriptor incapable of seeking.
    Reads = 0,
    /// Writes of a descriptor incapable of seeking, and O_APPEND writes of any descriptor.
    Writes = 1,
}

/// Which executor a request goes to (decided by the executor layer at submission, see
/// `exec/mod.rs`; an executor that gives a request back sends it to the pool).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Route {
    /// The thread pool: the blocking system call on a worker.
    #[default]
    Pool = 0,
    /// Linux native AIO.
    Kaio = 1,
    /// io_uring.
    Uring = 2,
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELED: u8 = 2;
/// The owner is publishing the status now (set just before publishing).
const FINISHING: u8 = 3;
/// Final: the status is published (set by the owner right after publishing it).
const DONE: u8 = 4;
/// A waiting application thread runs it (claimed out of QUEUED in the executor's queue).
const HELPING: u8 = 5;
/// That thread published its status; the executor that pops it finishes it.
const HELPED: u8 = 6;

const HELP_WAITING: u32 = 1;
const HELP_OVER: u32 = 2;
/// How long an executor waiting for a helped request sleeps before it looks again.
const HELP_RECHECK: std::time::Duration = std::time::Duration::from_millis(1);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Canceled,
    Running,
    /// Another party cancelled it and is finishing it now.
    AlreadyCanceled,
    /// Its status is final.
    Done,
    /// Its owner is finishing it (its status is final, or about to be).
    Finishing,
}

/// What a new request is: filled in by the submission, then fixed.
#[derive(Default)]
pub struct Spec {
    /// The application's aiocb: valid until the request's status is published (POSIX), after
    /// which nothing touches it.
    pub aiocb: Option<AiocbRef<'static>>,
    /// The application's descriptor number (the key of the descriptor table).
    pub fd: i32,
    pub op: Op,
    pub data: Data,
    pub offset: i64,
    /// The descriptor had O_APPEND: written at end of file, offset ignored.
    pub append: bool,
    /// Executor lane: `aio_reqprio` (0 = most urgent).
    pub lane: usize,
    pub notify: Notify,
    pub list: Option<Arc<ListCtl>>,
    /// Its `aio_waitcomplete` slot, if tracked.
    pub track: Option<SlotRef>,
    /// The submission-order chain it waits in on its descriptor, if any.
    pub chain: Option<Chain>,
    /// Where it runs (decided at submission by the executor layer).
    pub route: Route,
    /// Likely done without waiting for a device or for another request (a buffered write to
    /// a regular file): the pool runs it on one of a few workers in turn, not on a thread of
    /// its own.
    pub quick: bool,
    /// A read whose data the device was asked for at submission (a page-cache miss of the
    /// inline attempt): the pool waits for it on one of a few workers in turn, not on a thread
    /// of its own.
    pub started: bool,
    /// Its descriptor's flags were taken from the live requests on its number, not asked
    /// (`fcntl`) in the submitting call (`core/submit.rs`): native AIO takes it only with
    /// RWF_NOWAIT, which cannot wait inside `io_submit` whatever file the number names now, and
    /// has the pool do again what such a read did not do whole (`kaio.rs`, `would_block`).
    pub flags_assumed: bool,
    /// While it is queued, a thread waiting for it may run it itself (`Core::help`): one
    /// system call on a regular file at its offset, whose completion needs nothing but its
    /// status (decided by the executor layer at submission).
    pub helpable: bool,
    /// At `offset` (an O_APPEND write at `offset` goes to the end of the file all the same);
    /// false for a descriptor that cannot seek.
    pub positional: bool,
    /// The application's queue depth when it was submitted: its requests not yet retrieved
    /// with `aio_return`, this one included (a hint for where a page-cache hit runs).
    pub depth: usize,
    /// Submission time for the statistics (`stats::stamp`: 0 when they are off).
    pub stamp: u64,
}

pub struct Request {
    pub spec: Spec,
    /// rtaio's own reference to the file (see `fileref.rs`), shared by the live requests of a
    /// descriptor that is not a regular file; taken away at completion.
    file: Mutex<Option<Arc<FileRef>>>,
    /// Its route (a `Route`), set back to the pool if its executor gives it back.
    route: AtomicU8,
    phase: AtomicU8,
    /// Registration order on its descriptor (set by the descriptor table): tells a resubmitted
    /// aiocb's new request from the old one that is still leaving the table.
    pub seq: AtomicU64,
    /// The executor accepted to stop it while running: its completion reports ECANCELED.
    cancel_requested: AtomicBool,
    /// Bytes already transferred by earlier rounds (a write to a stream that the kernel took
    /// in part is continued until it is whole, as one blocking write() would be).
    pub progress: AtomicUsize,
    /// Its native AIO control block (`kernel_aio::aio`).
    iocb: Iocb,
    /// It holds rtaio's own reference to its file (readable without the lock).
    has_file: AtomicBool,
    /// Its status was published by a signal-safe reaper (`Core::publish_early`): the rest of
    /// the completion sequence is still to run.
    published_early: AtomicBool,
    /// The errno of its final status (0: success), once published.
    final_errno: AtomicI32,
    /// A futex word for an executor waiting out HELPING (HELP_WAITING), changed by the helper
    /// once it is HELPED (HELP_OVER).
    help_word: AtomicU32,
    /// A reaped completion waiting to be finished: its result, and the deferred list's link.
    pub deferred_result: AtomicI64,
    deferred_next: AtomicPtr<Request>,
}

impl Linked for Request {
    fn link(&self) -> &AtomicPtr<Request> {
        &self.deferred_next
    }
}

/// Requests held back on their descriptor (a chain, an fsync barrier): while any is, the
/// completions they wait for must be finished promptly, not whenever someone next looks.
static HELD_BACK: AtomicUsize = AtomicUsize::new(0);

pub fn held_back() -> usize {
    HELD_BACK.load(SeqCst)
}

/// In a child after fork(): none of the parent's requests is the child's.
pub fn after_fork() {
    HELD_BACK.store(0, SeqCst);
}

/// The descriptor table holds a request back (`true`) or lets it go (`false`).
pub fn count_held_back(held: bool) {
    if held {
        HELD_BACK.fetch_add(1, SeqCst);
    } else {
        HELD_BACK.fetch_sub(1, SeqCst);
    }
}

impl Owner for Request {
    fn iocb(&self) -> &Iocb {
        &self.iocb
    }
}

impl std::ops::Deref for Request {
    type Target = Spec;
    fn deref(&self) -> &Spec {
        &self.spec
    }
}

impl Request {
    /// The aiocb's address (the request's identity for `aio_cancel`; 0 for a test request).
    pub fn aiocb_addr(&self) -> usize {
        self.aiocb.map_or(0, |a| a.addr())
    }

    pub fn new(spec: Spec) -> Request {
        Request {
            route: AtomicU8::new(spec.route as u8),
            spec,
            file: Mutex::new(None),
            phase: AtomicU8::new(QUEUED),
            seq: AtomicU64::new(0),
            cancel_requested: AtomicBool::new(false),
            progress: AtomicUsize::new(0),
            iocb: Iocb::default(),
            has_file: AtomicBool::new(false),
            published_early: AtomicBool::new(false),
            final_errno: AtomicI32::new(0),
            help_word: AtomicU32::new(0),
            deferred_result: AtomicI64::new(0),
            deferred_next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Gives the request rtaio's own reference to its file (the first one given is kept).
    pub fn set_file(&self, f: Arc<FileRef>) {
        self.file.lock().get_or_insert(f);
        self.has_file.store(true, Release);
    }

    /// Marks whether the request's completion is still to come from kernel queue `q`: set
    /// before the kernel can complete it, cleared by whoever reaps it, before its status is
    /// published (after that the aiocb is the application's). A thread in `aio_suspend` waits
    /// in that queue only while all its entries are so marked (`Executor::kernel_wait`).
    pub fn set_in_kernel(&self, q: KernelQueue, on: bool) {
        if let Some(cb) = self.aiocb {
            cb.set_in_kernel(q, on);
        }
    }

    /// Is publishing its status all its completion needs until the request is released? (No
    /// notification, list, tracking slot, chain or file reference: nothing a signal handler
    /// could not do, and nothing anyone waits for but the status.)
    pub fn may_publish_early(&self) -> bool {
        matches!(self.notify, Notify::None)
            && self.list.is_none()
            && self.track.is_none()
            && self.chain.is_none()
            && !self.has_file.load(Acquire)
    }

    pub fn mark_published_early(&self) {
        self.published_early.store(true, Release);
    }

    pub fn was_published_early(&self) -> bool {
        self.published_early.load(Acquire)
    }

    /// The descriptor to perform the I/O on: rtaio's own reference when it has one.
    pub fn exec_fd(&self) -> i32 {
        self.file.lock().as_ref().map_or(self.fd, |f| f.raw())
    }

    /// At completion: nothing performs I/O for this request any more (the kernel holds its own
    /// reference), so the file is released now, not when the last holder of the request lets go.
    pub fn take_file(&self) -> Option<Arc<FileRef>> {
        // Set only at registration, before any executor sees the request: without it there is
        // nothing to take, and no lock to pay for (every page-cache hit completes here).
        if !self.has_file.load(Acquire) {
            return None;
        }
        self.file.lock().take()
    }

    pub fn route(&self) -> Route {
        match self.route.load(Relaxed) {
            1 => Route::Kaio,
            2 => Route::Uring,
            _ => Route::Pool,
        }
    }

    /// Its executor gave it back for good: the pool runs it.
    pub fn to_pool(&self) {
        self.route.store(Route::Pool as u8, Relaxed);
    }

    pub fn request_cancel(&self, on: bool) {
        self.cancel_requested.store(on, Release);
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Acquire)
    }

    /// An executor takes the request; false if it was cancelled first.
    pub fn claim(&self) -> bool {
        self.phase.compare_exchange(QUEUED, RUNNING, AcqRel, Acquire).is_ok()
    }

    /// A thread waiting for the request takes it to run it itself; false if anyone else moved
    /// it out of QUEUED first. Async-signal-safe.
    pub fn claim_for_help(&self) -> bool {
        self.phase.compare_exchange(QUEUED, HELPING, AcqRel, Acquire).is_ok()
    }

    /// The helper published its status (async-signal-safe). `wake`: wake an executor waiting
    /// for it now; else [`Request::wake_helped_waiter`] does later (see `wait_helped`).
    pub fn mark_helped(&self, wake: bool) {
        self.phase.store(HELPED, SeqCst);
        if wake {
            self.wake_helped_waiter();
        }
    }

    /// Wakes an executor waiting for this request's helper, if it is HELPED. Async-signal-safe.
    pub fn wake_helped_waiter(&self) {
        if self.phase.load(SeqCst) == HELPED && self.help_word.swap(HELP_OVER, SeqCst) == HELP_WAITING {
            sys::futex_wake(&self.help_word, i32::MAX);
        }
    }

    /// For an executor that popped a request it could not claim: true if a helper took it
    /// (then this waits until the helper has published its status, and the caller finishes
    /// it); false if it was cancelled or refused.
    ///
    /// The helper does not wake this waiter when it is done, unless something is held back
    /// behind a request; the helping thread's next submission does, or it looks again after
    /// HELP_RECHECK. So a woken worker does not race that next submission's caller for it,
    /// and what is left of this request's completion (leaving the descriptor table) waits
    /// at most HELP_RECHECK when nothing waits for it.
    pub fn wait_helped(&self) -> bool {
        loop {
            match self.phase.load(SeqCst) {
                HELPED => return true,
                HELPING => {}
                _ => return false,
            }
            // The helper is in one system call on a regular file: sleep until it is over.
            self.help_word.store(HELP_WAITING, SeqCst);
            if self.phase.load(SeqCst) == HELPING {
                let d = sys::deadline_after(HELP_RECHECK);
                let _ = sys::futex_wait_until(&self.help_word, HELP_WAITING, Some(&d));
            }
        }
    }

    /// What finishing a helped request (published already) is given as its result: only its
    /// errno matters any more.
    pub fn helped_result(&self) -> Result<usize, i32> {
        match self.final_errno() {
            0 => Ok(0),
            e => Err(e),
        }
    }

    /// Gives back a request claimed by an executor that does not take it after all.
    pub fn unclaim(&self) {
        self.phase.store(QUEUED, Release);
    }

    /// Bytes earlier rounds transferred (`progress`): non-zero only for a stream write io_uring
    /// took in part, whose rest is still to come.
    pub fn transferred(&self) -> usize {
        self.progress.load(Acquire)
    }

    pub fn try_cancel(&self) -> CancelOutcome {
        match self.phase.compare_exchange(QUEUED, CANCELED, AcqRel, Acquire) {
            Ok(_) => CancelOutcome::Canceled,
            Err(RUNNING | HELPING) => CancelOutcome::Running,
            Err(CANCELED) => CancelOutcome::AlreadyCanceled,
            // A helped request's status is final; the executor that pops it finishes it.
            Err(DONE | HELPED) => CancelOutcome::Done,
            Err(_) => CancelOutcome::Finishing,
        }
    }

    /// The owner is about to publish the status.
    pub fn mark_finishing(&self) {
        self.phase.store(FINISHING, Release);
    }

    /// Waits for the owner to finish publishing (a few instructions away, unless preempted).
    pub fn wait_done(&self) {
        while !self.is_done() {
            std::thread::yield_now();
        }
    }

    /// Records the errno of the status being published (before it is).
    pub fn set_final_errno(&self, e: i32) {
        self.final_errno.store(e, Release);
    }

    /// The errno of its final status, once [`is_done`](Self::is_done) (0: success).
    pub fn final_errno(&self) -> i32 {
        self.final_errno.load(Acquire)
    }

    /// Marks the status published; by the owner, right after publishing it.
    pub fn mark_done(&self) {
        self.phase.store(DONE, Release);
    }

    pub fn is_done(&self) -> bool {
        self.phase.load(Acquire) == DONE
    }

    /// Being run by a thread waiting for it (`Core::help`).
    pub fn is_helping(&self) -> bool {
        self.phase.load(Acquire) == HELPING
    }

    pub fn is_queued(&self) -> bool {
        self.phase.load(Acquire) == QUEUED
    }

    /// Its status is not published yet, nor being published: the application cannot have seen
    /// it complete. (Each way of publishing marks the request first: `mark_finishing`, or
    /// `mark_published_early` for a status a reaper or the helping thread publishes.)
    pub fn unpublished(&self) -> bool {
        matches!(self.phase.load(Acquire), QUEUED | RUNNING | HELPING) && !self.was_published_early()
    }

    /// Counts toward the `aio_fsync` barrier of its descriptor.
    pub fn is_data_op(&self) -> bool {
        !matches!(self.op, Op::Sync { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> Request {
        Request::new(Spec { fd: 3, ..Spec::default() })
    }

    #[test]
    fn one_owner() {
        let r = req();
        assert!(r.claim());
        assert!(!r.claim());
        assert_eq!(r.try_cancel(), CancelOutcome::Running);
        let r = req();
        assert_eq!(r.try_cancel(), CancelOutcome::Canceled);
        assert!(!r.claim(), "a cancelled request is never run");
        assert_eq!(r.try_cancel(), CancelOutcome::AlreadyCanceled);
    }

    #[test]
    fn a_helper_runs_it_and_the_executor_finishes_it() {
        let r = Arc::new(req());
        assert!(r.claim_for_help());
        assert!(!r.claim(), "the executor that pops it does not run it again");
        assert!(!r.claim_for_help());
        assert_eq!(r.try_cancel(), CancelOutcome::Running, "being run: AIO_NOTCANCELED");
        let r2 = r.clone();
        let waiter = std::thread::spawn(move || r2.wait_helped());
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waiter.is_finished(), "the executor waits for the helper");
        r.mark_helped(false);
        assert!(waiter.join().unwrap(), "it looks again by itself");
        assert_eq!(r.try_cancel(), CancelOutcome::Done, "its status is final");
        // Not helped: cancelled while queued, then popped.
        let r = req();
        assert_eq!(r.try_cancel(), CancelOutcome::Canceled);
        assert!(!r.claim_for_help());
        assert!(!r.wait_helped());
    }
}
