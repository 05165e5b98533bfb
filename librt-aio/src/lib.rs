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
//! - `sys`: the system calls (unsafe), alongside the `kernel-aio` crate's raw wrappers.
//!
//! Locks: the only lock on the submit/complete path is the mutex of one descriptor-table shard
//! (64 shards by descriptor number), held for a few list operations. Lock order: none needed,
//! no code path holds two locks. Who wakes whom: a completion wakes the futex in the aiocb's
//! status word (aio_suspend sleepers), the list's futex (LIO_WAIT caller), and the pool's
//! futex when it dispatches work an ordering rule released.
//!
//! Behaviour, errno by errno: `docs/BEHAVIOUR.md`.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod abi;
mod aiocb;
mod config;
mod fdtable;
pub mod ffi;
mod kaio;
mod lio;
mod notify;
mod request;
mod runtime;
mod sys;
mod wait;
