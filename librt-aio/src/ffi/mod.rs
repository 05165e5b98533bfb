//! The exported C ABI: the only place with `#[no_mangle]`. Each export validates its pointers,
//! converts them into safe views, calls the core, and maps `Result` to the C convention through
//! [`ret`]. `*64` twins are the same functions (`struct aiocb64` is `struct aiocb` on LP64).
//! The shipped library is built with `panic = "abort"`: no unwinding can cross this boundary.
//!
//! # Safety
//! Every export is `unsafe`: its pointer arguments must be what POSIX says (NULL where the
//! function allows it, else a valid `struct aiocb`, list of `nent` pointers, `timespec` or
//! `sigevent`), and an aiocb must stay valid from submission until its request completes.
//! The extensions of `rtaio.h` follow its contracts (aiocb pointers and, for vectored requests,
//! the iovec array, valid as stated there; `out` room for `max` pointers).
//! (Stated once here for all twenty-one exports.)
#![allow(clippy::missing_safety_doc)]

use libc::{c_int, ssize_t, timespec};
use std::time::Duration;

use crate::abi::{Aiocb, Aioinit, Sigevent, AIO_LISTIO_MAX, LIO_NOWAIT, LIO_WAIT};
use crate::aiocb::AiocbRef;
use crate::api;
use crate::request::Op;
use crate::sys::{set_errno, Errno};

fn ret(r: Result<c_int, Errno>) -> c_int {
    match r {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// # Safety
/// `p` is NULL or a valid aiocb for the duration of the call (POSIX); for a submission, until
/// its request's status is published (POSIX too): so the view's lifetime is the caller's
/// promise, and submissions take it as `'static`.
unsafe fn view<'a>(p: *const Aiocb) -> Option<AiocbRef<'a>> {
    // SAFETY: forwarded contract.
    unsafe { AiocbRef::from_ptr(p) }
}

/// # Safety
/// `list` is NULL or points to `nent` readable pointers, each NULL or a valid aiocb.
unsafe fn view_list<'a>(list: *const *const Aiocb, nent: c_int) -> Result<Vec<Option<AiocbRef<'a>>>, Errno> {
    if nent < 0 || (list.is_null() && nent > 0) {
        return Err(libc::EINVAL);
    }
    // SAFETY: forwarded contract; nent >= 0 checked above.
    Ok((0..nent as usize).map(|i| unsafe { view(*list.add(i)) }).collect())
}

fn submit(p: *const Aiocb, op: Op, vectored: bool) -> c_int {
    // SAFETY: the caller passes a valid aiocb or NULL (POSIX), valid until the request's status
    // is published; NULL is rejected below.
    ret(match unsafe { view(p) } {
        None => Err(libc::EINVAL),
        Some(cb) => api::submit(cb, op, vectored).map(|_| 0),
    })
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_read.html>.
#[no_mangle]
pub unsafe extern "C" fn aio_read(aiocbp: *mut Aiocb) -> c_int {
    submit(aiocbp, Op::Read, false)
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_write.html>.
#[no_mangle]
pub unsafe extern "C" fn aio_write(aiocbp: *mut Aiocb) -> c_int {
    submit(aiocbp, Op::Write, false)
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_fsync.html>.
#[no_mangle]
pub unsafe extern "C" fn aio_fsync(op: c_int, aiocbp: *mut Aiocb) -> c_int {
    let op = match op {
        libc::O_SYNC => Op::Sync { data_only: false },
        libc::O_DSYNC => Op::Sync { data_only: true },
        _ => {
            set_errno(libc::EINVAL);
            return -1;
        }
    };
    submit(aiocbp, op, false)
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_error.html>.
/// Async-signal-safe.
#[no_mangle]
pub unsafe extern "C" fn aio_error(aiocbp: *const Aiocb) -> c_int {
    // SAFETY: valid aiocb or NULL (POSIX).
    ret(unsafe { view(aiocbp) }.ok_or(libc::EINVAL).and_then(api::error))
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_return.html>.
/// Async-signal-safe.
#[no_mangle]
pub unsafe extern "C" fn aio_return(aiocbp: *mut Aiocb) -> ssize_t {
    // SAFETY: valid aiocb or NULL (POSIX).
    match unsafe { view(aiocbp) }.ok_or(libc::EINVAL).and_then(api::take_return) {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// aio_suspend's timeout, as glibc reads it: the interval `tv_sec + tv_nsec / 10^9`, whatever
/// the fields' ranges (POSIX lists no EINVAL for it); zero or negative means "poll".
fn relative_timeout(ts: timespec) -> Duration {
    let ns = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
    Duration::from_nanos(ns.clamp(0, u64::MAX as i128) as u64)
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_suspend.html>.
/// Async-signal-safe: no lock, no allocation, for lists of any length. A cancellation point:
/// a cancel unwinds through this frame, which owns nothing to drop then.
#[no_mangle]
pub unsafe extern "C" fn aio_suspend(list: *const *const Aiocb, nent: c_int, timeout: *const timespec) -> c_int {
    // SAFETY: a non-NULL timeout points to a timespec (POSIX).
    let timeout = (!timeout.is_null()).then(|| relative_timeout(unsafe { timeout.read() }));
    if nent < 0 || (list.is_null() && nent > 0) {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: `list` has `nent` entries, each NULL or a valid aiocb (POSIX); entries are read
    // one at a time, so no list of any length needs memory.
    let entry = |i: usize| unsafe { view(*list.add(i)) };
    ret(api::suspend(nent as usize, entry, timeout).map(|_| 0))
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/aio_cancel.html>.
#[no_mangle]
pub unsafe extern "C" fn aio_cancel(fildes: c_int, aiocbp: *mut Aiocb) -> c_int {
    // SAFETY: valid aiocb or NULL (POSIX).
    ret(api::cancel(fildes, unsafe { view(aiocbp) }))
}

/// See <https://pubs.opengroup.org/onlinepubs/9699919799/functions/lio_listio.html>.
#[no_mangle]
pub unsafe extern "C" fn lio_listio(mode: c_int, list: *const *const Aiocb, nent: c_int, sig: *mut Sigevent) -> c_int {
    // Everything that bounds the list is checked before the list is read.
    if (mode != LIO_WAIT && mode != LIO_NOWAIT) || !(0..=AIO_LISTIO_MAX).contains(&nent) {
        return ret(Err(libc::EINVAL));
    }
    // SAFETY: `list` has `nent` entries, each NULL or a valid aiocb; `sig` NULL or valid (POSIX).
    let entries = match unsafe { view_list(list, nent) } {
        Ok(v) => v,
        Err(e) => return ret(Err(e)),
    };
    // SAFETY: as above.
    let sig = unsafe { sig.as_ref() };
    ret(api::listio(mode, &entries, sig).map(|_| 0))
}

/// GNU extension: tune the thread pool. See `docs/BEHAVIOUR.md`.
#[no_mangle]
pub unsafe extern "C" fn aio_init(init: *const Aioinit) {
    // SAFETY: NULL or a valid struct aioinit (glibc's contract; NULL is tolerated here).
    if let Some(i) = unsafe { init.as_ref() } {
        api::init(i.aio_threads, i.aio_num, i.aio_idle_time);
    }
}

// rtaio.h extensions.

/// Vectored read (rtaio.h, FreeBSD): `aio_iov`/`aio_iovcnt` describe the buffers.
#[no_mangle]
pub unsafe extern "C" fn aio_readv(aiocbp: *mut Aiocb) -> c_int {
    submit(aiocbp, Op::Read, true)
}

/// Vectored write (rtaio.h, FreeBSD).
#[no_mangle]
pub unsafe extern "C" fn aio_writev(aiocbp: *mut Aiocb) -> c_int {
    submit(aiocbp, Op::Write, true)
}

/// Takes up to `max` completed SIGEV_EVENTFD aiocbs of `efd` (rtaio.h). Never blocks.
#[no_mangle]
pub unsafe extern "C" fn aio_reap(efd: c_int, out: *mut *mut Aiocb, max: c_int) -> c_int {
    if max < 0 || (out.is_null() && max > 0) {
        return ret(Err(libc::EINVAL));
    }
    ret(api::reap(efd, max as usize).map(|cbs| {
        for (i, cb) in cbs.iter().enumerate() {
            // SAFETY: `out` has room for `max` pointers and cbs.len() <= max.
            unsafe { out.add(i).write(*cb as *mut Aiocb) };
        }
        cbs.len() as c_int
    }))
}

/// Waits for the next completed tracked request (rtaio.h, FreeBSD's aio_waitcomplete). A
/// cancellation point, like aio_suspend.
#[no_mangle]
pub unsafe extern "C" fn aio_waitcomplete(iocbp: *mut *mut Aiocb, timeout: *mut timespec) -> ssize_t {
    if iocbp.is_null() {
        set_errno(libc::EINVAL);
        return -1;
    }
    // SAFETY: iocbp is non-NULL and points to room for one pointer (contract).
    unsafe { iocbp.write(std::ptr::null_mut()) };
    let timeout = if timeout.is_null() {
        None
    } else {
        // SAFETY: a non-NULL timeout points to a timespec (contract).
        let ts = unsafe { timeout.read() };
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            set_errno(libc::EINVAL);
            return -1;
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    };
    // SAFETY: the tracker hands out only aiocbs whose status it claimed and nobody retrieved:
    // rtaio.h's contract keeps such an aiocb valid until then.
    match api::waitcomplete(timeout, |addr| unsafe { AiocbRef::from_addr(addr) }) {
        Ok((cb, value, error)) => {
            // SAFETY: as above.
            unsafe { iocbp.write(cb as *mut Aiocb) };
            if error != 0 {
                set_errno(error);
            }
            value
        }
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

// The *64 twins: the same functions under glibc's LFS names.

#[no_mangle]
pub unsafe extern "C" fn aio_read64(aiocbp: *mut Aiocb) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_read(aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_write64(aiocbp: *mut Aiocb) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_write(aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_fsync64(op: c_int, aiocbp: *mut Aiocb) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_fsync(op, aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_error64(aiocbp: *const Aiocb) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_error(aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_return64(aiocbp: *mut Aiocb) -> ssize_t {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_return(aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_suspend64(list: *const *const Aiocb, nent: c_int, timeout: *const timespec) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_suspend(list, nent, timeout) }
}
#[no_mangle]
pub unsafe extern "C" fn aio_cancel64(fildes: c_int, aiocbp: *mut Aiocb) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { aio_cancel(fildes, aiocbp) }
}
#[no_mangle]
pub unsafe extern "C" fn lio_listio64(
    mode: c_int,
    list: *const *const Aiocb,
    nent: c_int,
    sig: *mut Sigevent,
) -> c_int {
    // SAFETY: the same function under its LFS name; the caller's contract is the same.
    unsafe { lio_listio(mode, list, nent, sig) }
}

/// The library's constructor (an `.init_array` entry: run when the library is loaded, before
/// `main`): statistics, if the environment asks for them (`RTAIO_STATS`, rtaio(7)); otherwise
/// nothing at all.
#[used]
#[link_section = ".init_array"]
static AT_LOAD: extern "C" fn() = at_load;

extern "C" fn at_load() {
    crate::stats::init();
}
