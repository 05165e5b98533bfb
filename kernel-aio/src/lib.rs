//! The Linux kernel's asynchronous I/O interfaces, for rtaio's executors.
//!
//! - [`IoBuf`]: memory lent to the kernel for a transfer that outlives the call starting it;
//!   the one promise every asynchronous path rests on, made once where the buffer is known.
//! - [`aio`]: native AIO (`io_setup`, `io_submit`, `io_getevents`, `io_cancel`), truly
//!   asynchronous for O_DIRECT files and block devices. Its control blocks live inside the
//!   caller's request objects; this crate keeps them alive while the kernel has them.
//! - [`uring`]: io_uring, asynchronous for every kind of file (buffered I/O in the kernel's
//!   own workers, sockets and pipes by polling), through the `io-uring` crate.
//!
//! Both take one [`Op`] per request, hold one strong reference to each request object while
//! the kernel has it, and give it back exactly once ([`Event`], [`Refused`]). All `unsafe` of
//! this crate is in `aio.rs`, `uring.rs` and `buf.rs`. Kernel requirements are written per
//! function ("Available since Linux X"); callers handle the refusals.

pub mod aio;
mod buf;
pub mod uring;

use std::sync::Arc;

pub use buf::IoBuf;

/// What the kernel is asked to do.
#[derive(Clone, Copy, Debug)]
pub enum Cmd<'a> {
    Read(IoBuf),
    Write(IoBuf),
    /// Vectored: the array stays in the request object until it completes.
    ReadV(&'a [IoBuf]),
    WriteV(&'a [IoBuf]),
    Fsync,
    Fdsync,
}

/// One request.
#[derive(Clone, Copy, Debug)]
pub struct Op<'a> {
    pub fd: i32,
    /// The file offset; -1: at the file position (streams, O_APPEND writes; io_uring only).
    pub offset: i64,
    pub cmd: Cmd<'a>,
    /// Native AIO: RWF_NOWAIT on reads and writes — where the kernel would block inside
    /// `io_submit` it completes the block with EAGAIN instead (Available since Linux 4.14).
    /// io_uring never blocks its submitter: ignored there.
    pub nowait: bool,
    /// io_uring: start it in the kernel's workers (IOSQE_ASYNC), not in the submitter's call:
    /// for a request whose buffer may not be resident (a fault on it — swap-in, userfaultfd —
    /// would stall the submitter, and every request behind it). Ignored by native AIO.
    pub punt: bool,
}

/// A completed request.
pub struct Event<T> {
    pub owner: Arc<T>,
    /// The result: bytes transferred, or -errno.
    pub res: i64,
    /// It was submitted with RWF_NOWAIT (an EAGAIN means "would block").
    pub nowait: bool,
}

/// A request the kernel did not take, with its error; its owner is the caller's again.
pub struct Refused<T> {
    pub owner: Arc<T>,
    pub errno: i32,
}
