//! The request core: submission, completion, cancel, and the process's state.
//!
//! # The life of a request, and who wakes whom
//!
//! 1. **Submit** (`submit.rs`, in the caller's thread). Validate: on an error nothing is queued,
//!    the aiocb is untouched (but for a bad `aio_reqprio`: status EINVAL, as glibc's), the call
//!    returns -1. Build the [`Request`]. Then, in order:
//!    - the executor layer may run it *now* (`Executor::try_now`: a page-cache hit): the aiocb
//!      is marked in progress only once the data is in place, and the request is finished at
//!      once (step 2) without ever being registered: nobody can observe it in flight;
//!    - otherwise mark the aiocb in progress (`AiocbRef::begin`) and **register** it in the
//!      descriptor table (`fdtable.rs`), which holds it back if an order demands (a stream's
//!      reads or writes, O_APPEND writes, the fsync barrier);
//!    - a request that may start is **started** on the executor layer, which claims it
//!      (QUEUED → RUNNING, `request.rs`) and runs it; one no executor can take (no thread at
//!      all) is refused: it finishes with EAGAIN and the call fails with EAGAIN.
//! 2. **Finish** (`finish.rs`, by the executor that ran it, by `aio_cancel` with ECANCELED, or
//!    by the submitter with EAGAIN). In this order:
//!    1. FINISHING; rtaio's own reference to the file is dropped (a pipe's reader that sees the
//!       request done and closes its end gets EOF at once);
//!    2. **publish** the status in the aiocb (result fields, then the status word: the
//!       linearization point), then wake the `aio_suspend` sleepers flagged on that word, and
//!       long-list waiters; DONE. Nothing touches the aiocb after this. (Just before, the
//!       statistics count it, when `RTAIO_STATS` asks: `stats.rs`, atomics only);
//!    3. `aio_waitcomplete` tracking: the slot becomes retrievable (its sleepers woken);
//!    4. SIGEV_EVENTFD: the aiocb joins its eventfd's queue;
//!    5. the **notification** (signal, thread, eventfd count), so the status is final in it;
//!    6. the `lio_listio` list counts it; the last one wakes the LIO_WAIT caller and sends the
//!       list notification;
//!    7. **release** from the descriptor table — until now `aio_cancel` could find it (and wait
//!       out FINISHING) — and start the requests that released: the next of a chain, an fsync
//!       whose barrier fell. A request held back by this one starts only after this one's
//!       status is final. Completions reaped together (io_uring, native AIO: `Finish::all`)
//!       go through steps 1-6 one by one, in order, and then leave the table together, one
//!       shard lock for a run of them on one shard.
//! 3. **Cancel** (`cancel.rs`): a QUEUED request is taken (QUEUED → CANCELED) and finished with
//!    ECANCELED; a RUNNING one is asked of its executor (native AIO's `io_cancel`).
//!
//! A thread waiting in `aio_suspend` for the request it queued last may run it itself while it
//! is still queued (`help.rs`): it publishes the status (step 2.2), and the executor that pops
//! the request finishes it from step 2.3 on.
//!
//! Locks: a descriptor-table shard (by descriptor number) for a few list operations; an
//! eventfd queue's lock; the tracker's queue lock. None is held across I/O, publishing or
//! notification, and no path holds two (an eventfd registry shard, then its queue, excepted).
//!
//! Fork: the child forgets the process's [`Core`] (its threads do not exist there) and makes a
//! new one on first use; requests in flight at the fork stay the parent's (`runtime.rs`).

mod cancel;
mod fdtable;
mod finish;
mod help;
mod runtime;
mod submit;

pub use cancel::cancel;
pub use finish::fail_unqueued;
pub use runtime::{apply_aio_init, existing, get, Core};
pub use submit::Submission;

#[cfg(test)]
mod tests;
