//! A request: what to do, whom to notify, and the phase that decides who completes it.
//!
//! Phase protocol (the cancel protocol): a request is created QUEUED. Exactly one party moves it
//! out of QUEUED with a compare-and-swap, and that party owns its completion:
//! - a worker: QUEUED → RUNNING, then performs the I/O and completes it with the result;
//! - `aio_cancel`: QUEUED → CANCELED, then completes it with ECANCELED;
//! - a submission that could not get a thread to run it: QUEUED → CANCELED, completes it with
//!   EAGAIN and reports EAGAIN.
//! A RUNNING request cannot be cancelled (AIO_NOTCANCELED). A worker that pops a CANCELED request
//! drops it. There is no other transition.

use std::sync::atomic::{AtomicU8, Ordering::*};
use std::sync::Arc;

use crate::lio::ListCtl;
use crate::notify::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Read,
    /// `append`: the descriptor had O_APPEND at submission; written at end of file, in order.
    Write { append: bool },
    Sync { data_only: bool },
}

const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const CANCELED: u8 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelOutcome {
    Canceled,
    Running,
    AlreadyCanceled,
}

pub struct Request {
    /// Address of the application's aiocb (valid until this request is published DONE).
    pub aiocb: usize,
    pub fd: i32,
    pub op: Op,
    pub buf: usize,
    pub nbytes: usize,
    pub offset: i64,
    /// Pool lane: `aio_reqprio` (0 = most urgent).
    pub lane: usize,
    pub notify: Notify,
    pub list: Option<Arc<ListCtl>>,
    phase: AtomicU8,
}

impl Request {
    #[allow(clippy::too_many_arguments)]
    pub fn new(aiocb: usize, fd: i32, op: Op, buf: usize, nbytes: usize, offset: i64, lane: usize, notify: Notify, list: Option<Arc<ListCtl>>) -> Self {
        Request { aiocb, fd, op, buf, nbytes, offset, lane, notify, list, phase: AtomicU8::new(QUEUED) }
    }

    /// A worker takes the request; false if it was cancelled first.
    pub fn claim(&self) -> bool {
        self.phase.compare_exchange(QUEUED, RUNNING, AcqRel, Acquire).is_ok()
    }

    /// Gives back a request claimed for an inline attempt that did not complete it.
    pub fn unclaim(&self) {
        self.phase.store(QUEUED, Release);
    }

    pub fn try_cancel(&self) -> CancelOutcome {
        match self.phase.compare_exchange(QUEUED, CANCELED, AcqRel, Acquire) {
            Ok(_) => CancelOutcome::Canceled,
            Err(RUNNING) => CancelOutcome::Running,
            Err(_) => CancelOutcome::AlreadyCanceled,
        }
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
