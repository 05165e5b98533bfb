//! rtaio: POSIX asynchronous I/O for Linux, a drop-in replacement for glibc's `aio_*`.
//!
//! Layers (each in its own module):
//! - `ffi`: the exported C functions; validate, convert, call the core, map errors to errno.
//! - `aiocb`: the view of the caller's `struct aiocb` and the status protocol kept in glibc's
//!   reserved fields (async-signal-safe `aio_error`/`aio_return`).
//! - `runtime`: submission, dispatch to an executor, completion, cancellation.
//! - `kaio`: the kernel backend (native AIO for O_DIRECT and fsync); the thread pool
//!   (`thread-pool` crate) runs everything else.
//! - `fdtable`: per-descriptor ordering (O_APPEND chains, fsync barriers) and live requests.
//! - `wait`: `aio_suspend` and LIO_WAIT on per-aiocb futexes.
//! - `notify`: sigevent validation and delivery; `lio`: lists.
//! - `evq`: SIGEV_EVENTFD completion queues and `aio_reap`; `track`: `aio_waitcomplete`.
//! - `fileref`: rtaio's own references to files and eventfds, so a request never acts on a
//!   file that later got its descriptor number.
//! - `sys`: the system calls (unsafe), alongside the `kernel-aio` crate's raw wrappers.
//!
//! Locks: the only lock on the submit/complete path is the mutex of one descriptor-table shard
//! (64 shards by descriptor number), held for a few list operations; SIGEV_EVENTFD requests
//! also take their eventfd queue's lock, and `aio_waitcomplete` tracking (opt-in) its queue's.
//! Lock order: an eventfd registry shard, then that queue's lock; no other path holds two. Who wakes whom: a completion wakes the futex in the aiocb's
//! status word (aio_suspend sleepers), the list's futex (LIO_WAIT caller), and the pool's
//! futex when it dispatches work an ordering rule released.
//!
//! Behaviour, errno by errno: `docs/BEHAVIOUR.md`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
mod aiocb;
mod config;
mod elf;
mod evq;
mod fdtable;
pub mod ffi;
mod fileref;
mod idmap;
mod kaio;
mod lio;
mod notify;
mod request;
mod runtime;
mod sys;
mod track;
mod wait;
