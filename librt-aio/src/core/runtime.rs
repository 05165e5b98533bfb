//! The process's [`Core`]: made on first use and leaked; forgotten in a child after fork(),
//! where a new one is made on demand; `aio_init`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};

use crate::aiocb;
use crate::config::{self, Settings};
use crate::core::fdtable::FdTable;
use crate::exec::{Executor, Executors, Finish, Publish};
use crate::fileref;
use crate::notify::Notifier;
use crate::request;
use crate::stats;
use crate::sys::{self, global::Global};
use crate::track::{self, Tracker};

pub struct Core {
    pub(crate) exec: Box<dyn Executor>,
    pub(crate) fds: FdTable,
    pub(crate) notifier: Notifier,
    /// `aio_waitcomplete` tracking, made when tracking is first needed.
    tracker: OnceLock<Tracker>,
    /// Requests submitted and not yet finished (for RTAIO_MAX_REQUESTS).
    pub(crate) outstanding: AtomicUsize,
    /// Requests accepted and not yet retrieved (by `aio_return` or `aio_waitcomplete`, or left
    /// behind when their aiocb is taken for another request): the depth the application keeps
    /// (`Spec::depth`). Approximate: a program that drops aiocbs unretrieved only looks deep.
    pub(crate) unreturned: AtomicUsize,
    pub(crate) max_requests: usize,
}

impl Core {
    /// A core running its requests on `exec`.
    pub fn new(s: &Settings, exec: Box<dyn Executor>) -> Core {
        Core {
            exec,
            fds: FdTable::new(s.capacity_hint),
            notifier: Notifier::new(s.idle),
            tracker: OnceLock::new(),
            outstanding: AtomicUsize::new(0),
            unreturned: AtomicUsize::new(0),
            max_requests: s.max_requests,
        }
    }

    /// `aio_return` retrieved a request's status (async-signal-safe).
    pub fn note_returned(&self) {
        let _ = self.unreturned.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
    }

    /// The `aio_waitcomplete` tracker, made on first use; EAGAIN (and another try next time)
    /// if memory is short.
    pub fn tracker(&self) -> Result<&Tracker, sys::Errno> {
        if let Some(t) = self.tracker.get() {
            return Ok(t);
        }
        // A tracker made by a racing thread wins; ours is dropped.
        let t = Tracker::new(self.max_requests)?;
        Ok(self.tracker.get_or_init(|| t))
    }

    /// The tracker if it exists (for `aio_return`: async-signal-safe; and for a request that
    /// holds a slot, which came from it).
    pub fn tracker_if_any(&self) -> Option<&Tracker> {
        self.tracker.get()
    }

    /// Would `n` more requests exceed the outstanding-request limit? (lio_listio's
    /// all-or-nothing EAGAIN)
    pub fn would_exceed(&self, n: usize) -> bool {
        self.outstanding.load(Relaxed).saturating_add(n) > self.max_requests
    }
}

static CORE: Global<Core> = Global::new();
/// Set once the fork handler is registered (a plain flag: a `Once` interrupted by fork() would
/// leave the child blocked forever).
static ATFORK: AtomicBool = AtomicBool::new(false);

extern "C" fn after_fork_child() {
    // Only atomics and close(): the child may be a single thread forked from a busy process.
    CORE.forget();
    aiocb::bump_fork_gen();
    // The parent's held-back requests are not the child's (nor is the forking thread's last
    // helpable request: `help.rs` leaves it behind).
    request::after_fork();
    fileref::close_all_after_fork();
    stats::after_fork();
    thread_pool::after_fork_child();
}

/// The process's core, made on first use.
pub fn get() -> &'static Core {
    CORE.get_or_init(make)
}

/// The core if one exists (calls that have nothing to do without requests use this).
pub fn existing() -> Option<&'static Core> {
    CORE.get()
}

#[cold]
fn make() -> Core {
    if !ATFORK.swap(true, AcqRel) {
        sys::at_fork_child(after_fork_child);
    }
    aiocb::init_secret(sys::random_u64());
    // A program that links aio_waitcomplete is tracked from its first request on.
    if !track::enabled() && sys::elf::imported_anywhere(c"aio_waitcomplete") {
        track::enable();
    }
    let s = config::current();
    // Executors report to the core of this process: in a parent it is this one (only a
    // child's core is ever replaced, and the parent's threads do not exist there). A core that
    // loses the race to be published has made no thread yet (threads start lazily).
    let finish = Finish::new(|req, result| get().finish(req, result), |done| get().finish_all(done));
    let publish: Publish = Arc::new(|req, result| get().publish_early(req, result));
    Core::new(&s, Box::new(Executors::new(&s, finish, publish)))
}

/// `aio_init`: record the settings and apply them to running executors.
pub fn apply_aio_init(threads: i32, num: i32, idle_secs: i32) {
    config::record_aio_init(threads, num, idle_secs);
    if let Some(core) = existing() {
        let s = config::current();
        core.exec.set_limits(s.max_threads, s.idle);
        core.notifier.set_idle_timeout(s.idle);
    }
}
