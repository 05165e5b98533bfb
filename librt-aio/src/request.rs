//! A request: what to do, whom to notify, and the phase that decides who completes it.
//!
//! Phase protocol (the cancel protocol): a request is created QUEUED. Exactly one party moves
//! it out of QUEUED with a compare-and-swap, and that party owns its completion:
//! - an executor: QUEUED → RUNNING, then performs the I/O and completes it with the result
//!   (a pool worker; the submitting thread for an inline read; the thread calling `io_submit`,
//!   whose completion the kernel reaper then delivers);
//! - `aio_cancel`: QUEUED → CANCELED, then completes it with ECANCELED;
//!
//! Whoever completes a request sets FINISHING, publishes its status, sets DONE, and only then
//! retires it from the descriptor table. `aio_cancel` waits out FINISHING (microseconds), so
//! every answer it gives is about a status that is final or will not change on its own: a
//! request it cannot find, or finds DONE, has a final status.
//! - a submission that could not get any thread to run it: QUEUED → CANCELED, completes it with
//!   EAGAIN and reports EAGAIN.
//!
//! A RUNNING request is not cancelled (AIO_NOTCANCELED), except in the kernel when `io_cancel`
//! succeeds: its completion then reports ECANCELED instead of a failure. A worker that pops a
//! CANCELED request drops it. One more transition: an inline attempt or `io_submit` that does
//! not take a claimed request gives it back (RUNNING → QUEUED, [`Request::unclaim`]) before it
//! goes to the pool; it is not yet visible to any worker then.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::*};
use std::sync::Arc;

use parking_lot::Mutex;

use kernel_aio::Iocb;

use crate::fileref::FileRef;
use crate::lio::ListCtl;
use crate::notify::Notify;
use crate::track::SlotRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    /// `append`: the descriptor had O_APPEND at submission; written at end of file, in order.
    Write {
        append: bool,
    },
    Sync {
        data_only: bool,
    },
}

/// A submission-order chain of one descriptor (see `fdtable.rs`): the requests in it run one
/// at a time, in the order they were submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    /// Reads of a descriptor incapable of seeking.
    Reads = 0,
    /// Writes of a descriptor incapable of seeking, and O_APPEND writes of any descriptor.
    Writes = 1,
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELED: u8 = 2;
/// The owner is publishing the status now (set just before publishing).
const FINISHING: u8 = 3;
/// Final: the status is published (set by the owner right after publishing it).
const DONE: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Canceled,
    Running,
    /// Another party cancelled it and is completing it now.
    AlreadyCanceled,
    /// Its status is final.
    Done,
}

/// One segment of a vectored request (the layout of `struct iovec`, as plain integers).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoVec {
    pub base: usize,
    pub len: usize,
}

const _: () = assert!(std::mem::size_of::<IoVec>() == std::mem::size_of::<libc::iovec>());

pub struct Request {
    /// Address of the application's aiocb (valid until this request is published DONE).
    pub aiocb: usize,
    /// The application's descriptor number (the key of the descriptor table).
    pub fd: i32,
    pub op: Op,
    pub buf: usize,
    /// Bytes to transfer; for a vectored request, the sum of `iov`.
    pub nbytes: usize,
    /// A vectored request's segments, copied at submission (`aio_readv`/`aio_writev`).
    pub iov: Option<Box<[IoVec]>>,
    /// rtaio's own reference to the file, for execution after the submitting call returned
    /// (see `fileref.rs`); set before the request can run elsewhere, dropped at completion.
    file: Mutex<Option<Arc<FileRef>>>,
    /// Its `aio_waitcomplete` slot, if tracked.
    pub track: Option<SlotRef>,
    pub offset: i64,
    /// Pool lane: `aio_reqprio` (0 = most urgent).
    pub lane: usize,
    pub notify: Notify,
    pub list: Option<Arc<ListCtl>>,
    /// The submission-order chain it waits in on its descriptor, if any.
    pub chain: Option<Chain>,
    /// May run on the kernel backend (decided at submission from the descriptor's flags; cleared
    /// if the kernel refused this descriptor).
    kernel: AtomicBool,
    phase: AtomicU8,
    /// Set while the request is in the kernel: `aio_cancel` then tries `io_cancel`.
    in_kernel: AtomicBool,
    /// Registration order on its descriptor (set by the descriptor table): tells a resubmitted
    /// aiocb's new request from the old one that is still leaving the table.
    pub seq: AtomicU64,
    /// `io_cancel` accepted: the completion reports ECANCELED.
    cancel_requested: AtomicBool,
    /// The kernel's view of the request: written only by the thread that claimed the request,
    /// before `io_submit`; afterwards read only by the kernel (and `io_cancel` as a key).
    iocb: UnsafeCell<Iocb>,
}

// SAFETY: every field but `iocb` is immutable or atomic; `iocb` is written only by the single
// thread that owns the request (phase RUNNING) before io_submit, and never read by Rust code
// afterwards (see the field's comment).
unsafe impl Sync for Request {}

impl Request {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        aiocb: usize,
        fd: i32,
        op: Op,
        buf: usize,
        nbytes: usize,
        offset: i64,
        lane: usize,
        notify: Notify,
        list: Option<Arc<ListCtl>>,
    ) -> Self {
        Request {
            aiocb,
            fd,
            op,
            buf,
            nbytes,
            offset,
            lane,
            notify,
            list,
            chain: None,
            iov: None,
            file: Mutex::new(None),
            track: None,
            kernel: AtomicBool::new(false),
            phase: AtomicU8::new(QUEUED),
            in_kernel: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            cancel_requested: AtomicBool::new(false),
            iocb: UnsafeCell::new(Iocb::default()),
        }
    }

    /// Makes this a vectored request over `iov` (`nbytes` becomes their total).
    pub fn with_iov(mut self, iov: Box<[IoVec]>) -> Self {
        self.nbytes = iov.iter().map(|v| v.len).sum();
        self.iov = Some(iov);
        self
    }

    pub fn with_chain(mut self, chain: Option<Chain>) -> Self {
        self.chain = chain;
        self
    }

    pub fn with_track(mut self, slot: Option<SlotRef>) -> Self {
        self.track = slot;
        self
    }

    /// Gives the request rtaio's own reference to its file (the first one given is kept).
    pub fn set_file(&self, f: Arc<FileRef>) {
        let mut g = self.file.lock();
        if g.is_none() {
            *g = Some(f);
        }
    }

    /// The descriptor to perform the I/O on: rtaio's own reference when it has one.
    pub fn exec_fd(&self) -> i32 {
        self.file.lock().as_ref().map_or(self.fd, |f| f.raw())
    }

    /// At completion: nothing performs I/O for this request any more (the kernel holds its own
    /// reference), so the file is released now, not when the last holder of the request (an
    /// unreaped eventfd queue, say) lets go.
    pub fn take_file(&self) -> Option<Arc<FileRef>> {
        self.file.lock().take()
    }

    pub fn with_kernel(self, kernel: bool) -> Self {
        self.kernel.store(kernel, Relaxed);
        self
    }

    pub fn wants_kernel(&self) -> bool {
        self.kernel.load(Relaxed)
    }

    /// The kernel refused this request's descriptor: use the pool from now on.
    pub fn avoid_kernel(&self) {
        self.kernel.store(false, Relaxed);
    }

    /// Fills in the iocb; only by the thread that claimed the request, before `io_submit`.
    pub fn set_iocb(&self, cb: Iocb) {
        // SAFETY: the caller owns the claimed request and the kernel has not seen it yet.
        unsafe { *self.iocb.get() = cb };
        self.in_kernel.store(true, Release);
    }

    pub fn set_iocb_data(&self, data: u64) {
        // SAFETY: as for `set_iocb`: before io_submit, by the owning thread.
        unsafe { (*self.iocb.get()).aio_data = data };
    }

    pub fn iocb_data(&self) -> u64 {
        // SAFETY: read back by the owning thread after the kernel refused the iocb.
        unsafe { (*self.iocb.get()).aio_data }
    }

    /// The RWF_* flags the iocb was submitted with; read by the reaper after the kernel is done.
    pub fn iocb_rw_flags(&self) -> i32 {
        // SAFETY: the kernel no longer uses the iocb once its event was delivered.
        unsafe { (*self.iocb.get()).aio_rw_flags }
    }

    /// Before a resubmission, by the owning thread.
    pub fn clear_iocb_rw_flags(&self) {
        // SAFETY: the kernel refused the iocb, so it does not use it; the caller owns it.
        unsafe { (*self.iocb.get()).aio_rw_flags = 0 };
    }

    pub fn iocb_ptr(&self) -> *mut Iocb {
        self.iocb.get()
    }

    pub fn in_kernel(&self) -> bool {
        self.in_kernel.load(Acquire)
    }

    pub fn request_cancel(&self, on: bool) {
        self.cancel_requested.store(on, Release);
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested.load(Acquire)
    }

    /// A worker takes the request; false if it was cancelled first.
    pub fn claim(&self) -> bool {
        self.phase.compare_exchange(QUEUED, RUNNING, AcqRel, Acquire).is_ok()
    }

    /// Gives back a request claimed for an inline or kernel attempt that did not take it.
    pub fn unclaim(&self) {
        self.in_kernel.store(false, Release);
        self.phase.store(QUEUED, Release);
    }

    pub fn try_cancel(&self) -> CancelOutcome {
        match self.phase.compare_exchange(QUEUED, CANCELED, AcqRel, Acquire) {
            Ok(_) => CancelOutcome::Canceled,
            Err(RUNNING) => CancelOutcome::Running,
            Err(CANCELED) => CancelOutcome::AlreadyCanceled,
            Err(_) => {
                // FINISHING: its status is final within moments; answer once it is.
                self.wait_done();
                CancelOutcome::Done
            }
        }
    }

    /// The owner is about to publish the status (before `AiocbRef::complete`).
    pub fn mark_finishing(&self) {
        self.phase.store(FINISHING, Release);
    }

    /// Waits for the owner to finish publishing (a few instructions away, unless preempted).
    pub fn wait_done(&self) {
        while !self.is_done() {
            std::thread::yield_now();
        }
    }

    /// Marks the status published; by the owner, after `AiocbRef::complete`.
    pub fn mark_done(&self) {
        self.phase.store(DONE, Release);
    }

    pub fn is_done(&self) -> bool {
        self.phase.load(Acquire) == DONE
    }

    pub fn is_queued(&self) -> bool {
        self.phase.load(Acquire) == QUEUED
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
        Request::new(0x1000, 3, Op::Read, 0, 0, 0, 0, Notify::None, None)
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
}
