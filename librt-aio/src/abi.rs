//! `#[repr(C)]` mirrors of glibc's `<aio.h>` types and constants (LP64 Linux: x86_64, aarch64).
//! The layout asserts below fail the build if a field drifts from glibc's, as declared by the
//! `libc` crate (size and every public field) and by glibc's header (the private fields).

use libc::{c_int, c_void, size_t, ssize_t};
use std::mem::{offset_of, size_of};

/// glibc's `struct sigevent` (64 bytes); the union after `sigev_notify` holds either the
/// SIGEV_THREAD function and attributes or the SIGEV_THREAD_ID thread id.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Sigevent {
    pub sigev_value: usize,
    pub sigev_signo: c_int,
    pub sigev_notify: c_int,
    /// `sigev_notify_function`, or (first 4 bytes) `sigev_notify_thread_id`.
    pub sigev_un0: usize,
    /// `sigev_notify_attributes` (`pthread_attr_t *`).
    pub sigev_un1: usize,
    pub _pad: [c_int; 8],
}

/// glibc's `struct aiocb` (== `struct aiocb64` on LP64). The fields after `aio_sigevent` named
/// with two underscores are glibc's implementation-private fields; rtaio's private state lives
/// in `__error_code`, `__return_value` and `__glibc_reserved` (see `aiocb.rs`).
#[repr(C)]
pub struct Aiocb {
    pub aio_fildes: c_int,
    pub aio_lio_opcode: c_int,
    pub aio_reqprio: c_int,
    pub aio_buf: *mut c_void,
    pub aio_nbytes: size_t,
    pub aio_sigevent: Sigevent,
    pub __next_prio: *mut Aiocb,
    pub __abs_prio: c_int,
    pub __policy: c_int,
    pub __error_code: c_int,
    pub __return_value: ssize_t,
    pub aio_offset: i64,
    pub __glibc_reserved: [u64; 4],
}

/// glibc's `struct aioinit` (GNU extension, for `aio_init`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Aioinit {
    pub aio_threads: c_int,
    pub aio_num: c_int,
    pub aio_locks: c_int,
    pub aio_usedba: c_int,
    pub aio_debug: c_int,
    pub aio_numusers: c_int,
    pub aio_idle_time: c_int,
    pub aio_reserved: c_int,
}

// Checked against the libc crate's own declarations of the same types.
const _: () = {
    assert!(size_of::<Aiocb>() == size_of::<libc::aiocb>());
    assert!(std::mem::align_of::<Aiocb>() == std::mem::align_of::<libc::aiocb>());
    assert!(offset_of!(Aiocb, aio_fildes) == offset_of!(libc::aiocb, aio_fildes));
    assert!(offset_of!(Aiocb, aio_lio_opcode) == offset_of!(libc::aiocb, aio_lio_opcode));
    assert!(offset_of!(Aiocb, aio_reqprio) == offset_of!(libc::aiocb, aio_reqprio));
    assert!(offset_of!(Aiocb, aio_buf) == offset_of!(libc::aiocb, aio_buf));
    assert!(offset_of!(Aiocb, aio_nbytes) == offset_of!(libc::aiocb, aio_nbytes));
    assert!(offset_of!(Aiocb, aio_sigevent) == offset_of!(libc::aiocb, aio_sigevent));
    assert!(offset_of!(Aiocb, aio_offset) == offset_of!(libc::aiocb, aio_offset));
    assert!(size_of::<Sigevent>() == size_of::<libc::sigevent>());
    assert!(offset_of!(Sigevent, sigev_value) == offset_of!(libc::sigevent, sigev_value));
    assert!(offset_of!(Sigevent, sigev_signo) == offset_of!(libc::sigevent, sigev_signo));
    assert!(offset_of!(Sigevent, sigev_notify) == offset_of!(libc::sigevent, sigev_notify));
    assert!(offset_of!(Sigevent, sigev_un0) == offset_of!(libc::sigevent, sigev_notify_thread_id));
    assert!(size_of::<Aioinit>() == 32);
};

// The private fields (not visible through the libc crate), as glibc's <aio.h> lays them out.
const _: () = {
    assert!(size_of::<Sigevent>() == 64);
    assert!(size_of::<Aiocb>() == 168);
    assert!(offset_of!(Aiocb, aio_fildes) == 0);
    assert!(offset_of!(Aiocb, aio_lio_opcode) == 4);
    assert!(offset_of!(Aiocb, aio_reqprio) == 8);
    assert!(offset_of!(Aiocb, aio_buf) == 16);
    assert!(offset_of!(Aiocb, aio_nbytes) == 24);
    assert!(offset_of!(Aiocb, aio_sigevent) == 32);
    assert!(offset_of!(Aiocb, __next_prio) == 96);
    assert!(offset_of!(Aiocb, __abs_prio) == 104);
    assert!(offset_of!(Aiocb, __policy) == 108);
    assert!(offset_of!(Aiocb, __error_code) == 112);
    assert!(offset_of!(Aiocb, __return_value) == 120);
    assert!(offset_of!(Aiocb, aio_offset) == 128);
    assert!(offset_of!(Aiocb, __glibc_reserved) == 136);
    assert!(size_of::<Aioinit>() == 32);
    assert!(offset_of!(Sigevent, sigev_signo) == 8);
    assert!(offset_of!(Sigevent, sigev_notify) == 12);
    assert!(offset_of!(Sigevent, sigev_un0) == 16);
    assert!(offset_of!(Sigevent, sigev_un1) == 24);
};

// <aio.h>
pub const AIO_CANCELED: c_int = 0;
pub const AIO_NOTCANCELED: c_int = 1;
pub const AIO_ALLDONE: c_int = 2;
pub const LIO_READ: c_int = 0;
pub const LIO_WRITE: c_int = 1;
pub const LIO_NOP: c_int = 2;
pub const LIO_WAIT: c_int = 0;
pub const LIO_NOWAIT: c_int = 1;

// <signal.h>
pub const SIGEV_SIGNAL: c_int = 0;
pub const SIGEV_NONE: c_int = 1;
pub const SIGEV_THREAD: c_int = 2;
pub const SIGEV_THREAD_ID: c_int = 4;

// rtaio.h extensions (kept equal to the header by tests/check-abi.sh).
pub const SIGEV_EVENTFD: c_int = 0x4000;
pub const LIO_READV: c_int = 4;
pub const LIO_WRITEV: c_int = 5;
/// Most segments a vectored request may have (`IOV_MAX`).
pub const IOV_MAX: usize = 1024;

/// `AIO_PRIO_DELTA_MAX` of glibc's `<bits/local_lim.h>`.
pub const AIO_PRIO_DELTA_MAX: c_int = 20;
/// rtaio's `AIO_LISTIO_MAX` (glibc sets none).
pub const AIO_LISTIO_MAX: c_int = 65536;

// Checked against the libc crate where it declares the same constants.
const _: () = {
    assert!(SIGEV_SIGNAL == libc::SIGEV_SIGNAL);
    assert!(SIGEV_NONE == libc::SIGEV_NONE);
    assert!(SIGEV_THREAD == libc::SIGEV_THREAD);
    assert!(SIGEV_THREAD_ID == libc::SIGEV_THREAD_ID);
    assert!(LIO_READ == libc::LIO_READ);
    assert!(LIO_WRITE == libc::LIO_WRITE);
    assert!(LIO_NOP == libc::LIO_NOP);
    assert!(LIO_WAIT == libc::LIO_WAIT);
    assert!(LIO_NOWAIT == libc::LIO_NOWAIT);
    assert!(AIO_CANCELED == libc::AIO_CANCELED);
    assert!(AIO_NOTCANCELED == libc::AIO_NOTCANCELED);
    assert!(AIO_ALLDONE == libc::AIO_ALLDONE);
};
