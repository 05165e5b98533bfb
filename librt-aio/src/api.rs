//! The operations behind the exports, in safe Rust: what each exported function does once its
//! pointers are views. See `docs/BEHAVIOUR.md` for each one's contract.

use std::sync::Arc;
use std::time::Duration;

use crate::aiocb::{self, AiocbRef, Status};
use crate::core::{self, Submission};
use crate::list::ListCtl;
use crate::notify::evq;
use crate::request::Op;
use crate::sys::{self, Errno};
use crate::track;

pub use crate::core::cancel;
pub use crate::lio::listio;

/// `aio_read`, `aio_write`, `aio_fsync`, `aio_readv`, `aio_writev`.
pub fn submit(cb: AiocbRef<'static>, op: Op, vectored: bool) -> Result<(), Errno> {
    core::get().submit(cb, Submission { op: Some(op), vectored }, None::<&Arc<ListCtl>>, None)
}

/// `aio_error`. Async-signal-safe. A request still in progress may be complete in a ring that
/// nobody reaped yet: look there first (no hop through another thread).
pub fn error(cb: AiocbRef<'_>) -> Result<i32, Errno> {
    let mut yielding = false;
    if cb.status() == Status::InProgress {
        if let Some(c) = core::existing() {
            c.exec.poll(true);
            yielding = c.exec.worker_yielding();
        }
    }
    match cb.status() {
        Status::Unknown => Err(libc::EINVAL),
        Status::InProgress => {
            // With one CPU, a pool worker that gave it up runs again only when this thread
            // sleeps or its time slice ends: a caller that polls gives it back.
            if yielding {
                sys::yield_now();
            }
            Ok(libc::EINPROGRESS)
        }
        Status::Done { error, .. } | Status::Returned { error } => Ok(error),
    }
}

/// `aio_return`: the value, once. A tracked request's status may have been claimed by
/// `aio_waitcomplete` (then EINVAL). Async-signal-safe.
pub fn take_return(cb: AiocbRef<'_>) -> Result<isize, Errno> {
    let r = cb.take_return(|word| match core::existing().and_then(|c| c.tracker_if_any()) {
        Some(t) if word != 0 => t.on_return(cb.addr(), word, aiocb::fork_gen()),
        _ => Ok(()),
    });
    if r.is_ok() {
        if let Some(c) = core::existing() {
            c.note_returned();
        }
    }
    r
}

/// `aio_suspend` over `n` entries (`entry(i)`: entry i, `None` for NULL). Async-signal-safe.
pub fn suspend<'a>(
    n: usize,
    entry: impl Fn(usize) -> Option<AiocbRef<'a>>,
    timeout: Option<Duration>,
) -> Result<(), Errno> {
    let Some(c) = core::existing() else { return crate::wait::suspend(n, entry, timeout, &|| {}, &|_, _| None) };
    // An entry already complete (a page-cache hit finished in aio_read): nothing to collect
    // first, no executor asked.
    if (0..n).filter_map(&entry).any(|cb| !cb.in_progress()) {
        return Ok(());
    }
    c.exec.poll(true);
    // Without a timeout, the request this thread queued last may still be queued: run it.
    if timeout.is_none() && c.help(n, &entry) {
        return Ok(());
    }
    if crate::wait::spin(n, &entry, timeout, &|| c.exec.poll(true)) {
        return Ok(());
    }
    crate::wait::suspend(n, entry, timeout, &|| c.exec.before_sleep(), &|q, still| c.exec.kernel_wait(q, still))
}

/// `aio_init`.
pub fn init(threads: i32, num: i32, idle_secs: i32) {
    core::apply_aio_init(threads, num, idle_secs);
}

/// `aio_reap`: up to `max` completed SIGEV_EVENTFD requests of `efd`: their aiocb addresses.
pub fn reap(efd: i32, max: usize) -> Result<Vec<usize>, Errno> {
    match core::existing() {
        Some(c) => c.notifier.evq.reap(efd, max),
        None => evq::reap_without_runtime(efd),
    }
}

/// `aio_waitcomplete`: the next completed tracked request, retrieved: (aiocb, value, error).
/// `view` turns the address of an aiocb whose status the tracker claimed into a view (the
/// application keeps such an aiocb valid until its status is retrieved: rtaio.h's contract).
pub fn waitcomplete(
    timeout: Option<Duration>,
    view: impl Fn(usize) -> AiocbRef<'static>,
) -> Result<(usize, isize, Errno), Errno> {
    track::enable();
    // No tracker (memory short): nothing is tracked.
    let t = core::get().tracker()?;
    loop {
        let (slot, addr) = t.wait(timeout)?;
        let r = view(addr).take_claimed();
        t.finish_claim(slot);
        match r {
            Ok((value, error)) => {
                core::get().note_returned();
                return Ok((addr, value, error));
            }
            Err(_) => continue, // resubmitted meanwhile (an application race): not a completion
        }
    }
}
