//! The Linux kernel's asynchronous I/O interfaces, for rtaio's executors.
//!
//! - [`IoBuf`]: memory lent to the kernel for a transfer that outlives the call starting it;
//!   the one promise every asynchronous path rests on, made once where the buffer is known.
//! - [`aio`]: native AIO (`io_setup`, `io_submit`, `io_getevents`, `io_cancel`), truly
//!   asynchronous for O_DIRECT files and block devices. Its control blocks live inside the
//!   caller's request objects; this crate keeps them alive while the kernel has them.
//!
//! All `unsafe` of this crate is in `aio.rs` and `buf.rs`. Kernel requirements are written
//! per function ("Available since Linux X"); callers handle the refusals.

pub mod aio;
mod buf;

pub use buf::IoBuf;
