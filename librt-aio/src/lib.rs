//! rtaio: POSIX asynchronous I/O for Linux, a drop-in replacement for glibc's `aio_*`.
//!
//! The module graph has no cycle (`tests/structure.rs` checks it). From the top:
//! - `ffi`: the exported C functions; validate pointers, make views, call `api`, map errors to
//!   errno. (`unsafe`.)
//! - `api`: what each export does, in safe Rust; `lio`: `lio_listio`.
//! - `core`: a request's life — submission, the completion sequence, cancel, per-descriptor
//!   order (`core/fdtable.rs`), the process's state across fork and `aio_init`. Its design
//!   comment (`core/mod.rs`) says who publishes what, in which order, and who wakes whom.
//! - `exec`: the executors, one file each behind one interface: inline page-cache reads,
//!   io_uring (the default where the kernel allows it), native AIO, the thread pool.
//! - `request`, `list`: a request and a `lio_listio` list; `notify`: sigevents, delivery and
//!   SIGEV_EVENTFD queues; `track`: `aio_waitcomplete`; `wait`: `aio_suspend` and LIO_WAIT;
//!   `fileref`: rtaio's own references to files; `fdhint`: what is remembered per descriptor
//!   number between requests (flags, page-cache hits); `config`: tuning; `idmap`: small-key maps;
//!   `stats`: statistics on request (`RTAIO_STATS`); `doctor`: `rtaio --doctor`.
//! - The leaves: `aiocb` (the view of the caller's `struct aiocb` and the status protocol in
//!   glibc's reserved fields; `unsafe`), `abi` (`#[repr(C)]` mirrors), `sys` (the system
//!   calls; `unsafe`).
//!
//! `unsafe` lives in `ffi/`, `aiocb.rs` and `sys/` only (`tests/structure.rs` checks it); the
//! `kernel-aio` crate holds the kernel's asynchronous interfaces (native AIO and io_uring),
//! `thread-pool` the pool. Behaviour, errno by errno: `docs/BEHAVIOUR.md`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
mod aiocb;
mod api;
mod config;
mod core;
/// `rtaio --doctor` (the `rtaio-doctor` program); not part of the C interface.
#[doc(hidden)]
pub mod doctor;
mod exec;
mod fdhint;
pub mod ffi;
mod fileref;
mod idmap;
mod lio;
mod list;
mod notify;
mod request;
mod spare;
mod stats;
mod sys;
mod track;
mod wait;
