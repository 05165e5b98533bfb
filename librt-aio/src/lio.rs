//! `lio_listio`: a list of requests, submitted in order, completed together.

use std::sync::Arc;

use crate::abi::{Sigevent, AIO_LISTIO_MAX, LIO_NOP, LIO_NOWAIT, LIO_READ, LIO_READV, LIO_WAIT, LIO_WRITE, LIO_WRITEV};
use crate::aiocb::{AiocbRef, Status};
use crate::core::{self, Submission};
use crate::list::ListCtl;
use crate::notify::Notify;
use crate::request::Op;
use crate::sys::Errno;

/// `lio_listio`. `list` entries: `None` for NULL. `sig`: the list sigevent (LIO_NOWAIT only).
pub fn listio(mode: i32, list: &[Option<AiocbRef<'static>>], sig: Option<&Sigevent>) -> Result<(), Errno> {
    if mode != LIO_WAIT && mode != LIO_NOWAIT {
        return Err(libc::EINVAL);
    }
    if list.len() > AIO_LISTIO_MAX as usize {
        return Err(libc::EINVAL);
    }
    let core = core::get();
    let notify = match (mode, sig) {
        (LIO_NOWAIT, Some(ev)) => core.notifier.validate(ev)?,
        _ => Notify::None,
    };
    let wanted = list.iter().flatten().filter(|cb| cb.lio_opcode() != LIO_NOP).count();
    if core.would_exceed(wanted) {
        return Err(libc::EAGAIN);
    }
    let ctl = Arc::new(ListCtl::new(notify));
    let mut submit_failed = false;
    // Native AIO entries, handed to the kernel together after the loop.
    let mut batch = Vec::new();
    for cb in list.iter().flatten() {
        let what = match cb.lio_opcode() {
            LIO_NOP => continue,
            LIO_READ => Submission { op: Some(Op::Read), vectored: false },
            LIO_WRITE => Submission { op: Some(Op::Write), vectored: false },
            LIO_READV => Submission { op: Some(Op::Read), vectored: true },
            LIO_WRITEV => Submission { op: Some(Op::Write), vectored: true },
            _ => Submission { op: None, vectored: false },
        };
        if let Err(e) = core.submit(*cb, what, Some(&ctl), Some(&mut batch)) {
            submit_failed = true;
            // Give the entry its own status, unless it belongs to a request still in flight
            // (an aiocb listed while in progress): that one keeps its own.
            if cb.status() != Status::InProgress {
                core.retire_previous_slot(*cb);
                core::fail_unqueued(*cb, e);
            }
        }
    }
    core.start_batch(batch);
    ctl.count_done(false, &core.notifier);
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
