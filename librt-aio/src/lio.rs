//! Per-list control for `lio_listio`: counts the list's outstanding requests and fires the list
//! notification (or wakes the LIO_WAIT caller) exactly once, when the last one completes.
//! The submitting call holds one count itself while it queues entries, so the list cannot
//! complete before every entry has been queued.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};

use crate::notify::{self, Notify};

pub struct ListCtl {
    pending: AtomicUsize,
    failed: AtomicBool,
    /// 0 until the list completes; futex for the LIO_WAIT caller.
    pub done: AtomicU32,
    notify: Notify,
}

impl ListCtl {
    pub fn new(notify: Notify) -> Self {
        ListCtl { pending: AtomicUsize::new(1), failed: AtomicBool::new(false), done: AtomicU32::new(0), notify }
    }

    /// One more request of this list was queued.
    pub fn add(&self) {
        self.pending.fetch_add(1, Relaxed);
    }

    /// A request counted by `add` was withdrawn before it could run.
    pub fn withdraw(&self) {
        self.failed.store(true, Relaxed);
        self.pending.fetch_sub(1, AcqRel);
    }

    pub fn any_failed(&self) -> bool {
        self.failed.load(Acquire)
    }

    /// A request of the list completed (or the submitter dropped its own count).
    pub fn one_done(&self, failed: bool) {
        if failed {
            self.failed.store(true, Release);
        }
        if self.pending.fetch_sub(1, AcqRel) == 1 {
            self.done.store(1, Release);
            kernel_aio::futex_wake(&self.done, i32::MAX);
            notify::deliver(&self.notify);
        }
    }
}

use std::sync::Arc;

use crate::abi::{AIO_LISTIO_MAX, LIO_NOP, LIO_NOWAIT, LIO_READ, LIO_READV, LIO_WAIT, LIO_WRITE, LIO_WRITEV};
use crate::aiocb::AiocbRef;
use crate::runtime::{self, Kind};
use crate::sys::Errno;

/// `lio_listio`. `list` entries: `None` for NULL. `sig`: the list sigevent (LIO_NOWAIT only).
pub fn listio(mode: i32, list: &[Option<AiocbRef<'_>>], sig: Option<&crate::abi::Sigevent>) -> Result<(), Errno> {
    if mode != LIO_WAIT && mode != LIO_NOWAIT {
        return Err(libc::EINVAL);
    }
    if list.len() > AIO_LISTIO_MAX as usize {
        return Err(libc::EINVAL);
    }
    let notify = match (mode, sig) {
        (LIO_NOWAIT, Some(ev)) => runtime::list_notify(ev)?,
        _ => Notify::None,
    };
    let wanted = list.iter().flatten().filter(|cb| cb.lio_opcode() != LIO_NOP).count();
    if runtime::would_exceed(wanted) {
        return Err(libc::EAGAIN);
    }
    let ctl = Arc::new(ListCtl::new(notify));
    let mut submit_failed = false;
    // Kernel-eligible entries, sent together in one io_submit after the loop.
    let mut batch = Vec::new();
    for cb in list.iter().flatten() {
        let kind = match cb.lio_opcode() {
            LIO_NOP => continue,
            LIO_READ => Kind::Read,
            LIO_WRITE => Kind::Write,
            LIO_READV => Kind::ReadV,
            LIO_WRITEV => Kind::WriteV,
            _ => Kind::Unknown,
        };
        let r = runtime::submit(*cb, kind, Some(&ctl), Some(&mut batch));
        if let Err(e) = r {
            submit_failed = true;
            // Give the entry its own status, unless it belongs to a request still in flight
            // (an aiocb listed while in progress): that one keeps its own.
            if cb.status() != crate::aiocb::Status::InProgress {
                runtime::retire_previous_slot(*cb);
                cb.fail_immediately(e);
            }
        }
    }
    runtime::launch_batch(batch);
    ctl.one_done(false);
    if mode == LIO_WAIT {
        crate::wait::wait_flag(&ctl.done)?;
        if submit_failed || ctl.any_failed() {
            return Err(libc::EIO);
        }
    } else if submit_failed {
        return Err(libc::EIO);
    }
    Ok(())
}
