//! Raw Linux interfaces rtaio builds on, as small typed wrappers returning `io::Result`.
//!
//! Everything that issues a system call lives in [`syscalls`]; the rest of rtaio calls these
//! wrappers and never `libc::syscall` directly. Kernel requirements are noted per function
//! ("Available since Linux X"); callers handle `ENOSYS` where a fallback exists.
//!
//! Native AIO (`io_setup`, `io_submit`, `io_getevents`, `io_cancel`, `io_destroy`) is here for the
//! kernel backend: it is truly asynchronous only for `O_DIRECT` files and block devices.

pub mod syscalls;

pub use syscalls::*;
