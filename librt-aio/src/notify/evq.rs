//! SIGEV_EVENTFD: completions delivered to an eventfd, for epoll-driven programs.
//!
//! Each eventfd (by descriptor number) has an [`EvQueue`]: the aiocbs of completed requests not
//! yet taken by `aio_reap`. A completion appends its aiocb *after* publishing its status and
//! adds 1 to the eventfd after that, so every aiocb a reaper takes has its final status, and a
//! reaper woken by the counter always finds it. Reapers and completers meet only on that
//! queue's lock: there is no process-wide lock, and each queued aiocb is popped by exactly one
//! reaper.
//!
//! The counter is written through rtaio's own duplicate of the eventfd ([`FileRef`]), held while
//! any request that posts to it is in flight, so a completion never writes into a file that
//! later got the eventfd's number. Holding it no longer than that keeps `close()` meaningful to
//! the application's epoll set (an epoll registration lives as long as the file does).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::fileref::{self, FileRef};
use crate::idmap::IdMap;
use crate::sys::{self, Errno};

const SHARDS: usize = 16;

/// Queues by eventfd number.
type Shard = Mutex<IdMap<i32, Arc<EvQueue>>>;

pub struct EvQueues {
    shards: Box<[Shard]>,
}

pub struct EvQueue {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Our duplicate of the eventfd, while requests that post to it are in flight or queued
    /// unreaped: it proves (kcmp) that the number still names that eventfd, so a later eventfd
    /// with the same number never receives the old one's completions.
    file: Option<FileRef>,
    /// Retired (its number names another file now): completions still arriving are dropped.
    retired: bool,
    /// Tickets not yet posted (requests and lists in flight that notify this eventfd).
    inflight: usize,
    /// Completed requests' aiocb addresses, oldest first.
    done: VecDeque<usize>,
}

/// A request's (or a list's) right to post to an eventfd queue: taken at submission, given back
/// exactly once — by posting, or on drop if the request never completes (a refused submission).
pub struct EvTicket {
    q: Arc<EvQueue>,
    posted: AtomicBool,
}

enum Acquire {
    Ok,
    /// The number now refers to another file than the one this queue posts to.
    Stale,
    Err(Errno),
}

impl EvQueue {
    fn new() -> EvQueue {
        EvQueue { inner: Mutex::new(Inner { file: None, retired: false, inflight: 0, done: VecDeque::new() }) }
    }

    /// Takes a ticket for the eventfd the application calls `efd`.
    fn acquire(&self, efd: i32) -> Acquire {
        let mut g = self.inner.lock();
        // Retired (its number named another file once), it queues nothing more: a ticket on
        // it would count completions on the eventfd that aio_reap never hands out. (Left in
        // the table when no queue could replace it: `ticket` replaces it now.)
        if g.retired {
            return Acquire::Stale;
        }
        match &g.file {
            Some(f) if !f.same_file(efd) => return Acquire::Stale,
            Some(_) => {}
            None => {
                let f = match FileRef::dup_of(efd) {
                    Ok(f) => f,
                    // No descriptor left for rtaio's reference: a resource, not the caller's
                    // error (POSIX's EAGAIN for aio_read, not EMFILE).
                    Err(libc::EMFILE | libc::ENFILE) => return Acquire::Err(libc::EAGAIN),
                    Err(e) => return Acquire::Err(e),
                };
                // Checked on our duplicate: the file we will write to is the one checked.
                if !fileref::is_eventfd(f.raw()) {
                    return Acquire::Err(libc::EINVAL);
                }
                g.file = Some(f);
            }
        }
        g.inflight += 1;
        Acquire::Ok
    }

    fn push(&self, aiocb: usize) {
        let mut g = self.inner.lock();
        if !g.retired {
            g.done.push_back(aiocb);
        }
    }

    /// Adds 1 to the eventfd (`count`) and gives the ticket back.
    fn post(&self, count: bool) {
        let closing = {
            let mut g = self.inner.lock();
            if count {
                if let Some(f) = &g.file {
                    sys::eventfd_add(f.raw(), 1);
                }
            }
            g.inflight -= 1;
            g.idle_file()
        };
        drop(closing); // close() outside the lock
    }

    /// Moves up to `max` completed requests' aiocbs out of the queue.
    fn pop(&self, max: usize) -> Vec<usize> {
        let (reqs, closing) = {
            let mut g = self.inner.lock();
            let n = max.min(g.done.len());
            let reqs: Vec<_> = g.done.drain(..n).collect();
            (reqs, g.idle_file())
        };
        drop(closing);
        reqs
    }

    /// The application's number names another file now: this queue's completions can never be
    /// reaped. Drop them and the duplicate (requests still in flight post to nothing).
    fn retire(&self) {
        let (done, file) = {
            let mut g = self.inner.lock();
            g.retired = true;
            (std::mem::take(&mut g.done), g.file.take())
        };
        drop((done, file));
    }

    fn holds_same(&self, efd: i32) -> Option<bool> {
        self.inner.lock().file.as_ref().map(|f| f.same_file(efd))
    }
}

impl Inner {
    /// The duplicate, to close, once nothing is in flight or queued.
    fn idle_file(&mut self) -> Option<FileRef> {
        if self.inflight == 0 && self.done.is_empty() {
            self.file.take()
        } else {
            None
        }
    }
}

impl EvTicket {
    /// Appends a completed request's aiocb to the queue (after its status is published).
    pub fn enqueue(&self, aiocb: usize) {
        self.q.push(aiocb);
    }

    /// Counts the completion on the eventfd (after the status is published) and gives the
    /// ticket back.
    pub fn post(&self) {
        if !self.posted.swap(true, AcqRel) {
            self.q.post(true);
        }
    }
}

impl Drop for EvTicket {
    fn drop(&mut self) {
        if !self.posted.swap(true, AcqRel) {
            self.q.post(false);
        }
    }
}

impl EvQueues {
    pub fn new() -> Self {
        EvQueues { shards: (0..SHARDS).map(|_| Mutex::new(IdMap::default())).collect() }
    }

    fn shard(&self, efd: i32) -> &Shard {
        &self.shards[efd as u32 as usize % SHARDS]
    }

    /// A ticket to post completions to the eventfd `efd`: EBADF if it is not open, EINVAL if it
    /// is not an eventfd.
    pub fn ticket(&self, efd: i32) -> Result<EvTicket, Errno> {
        if efd < 0 || !sys::fd_is_open(efd) {
            return Err(libc::EBADF);
        }
        let mut shard = self.shard(efd).lock();
        if let Some(q) = shard.get(&efd) {
            match q.acquire(efd) {
                Acquire::Ok => return Ok(EvTicket { q: q.clone(), posted: AtomicBool::new(false) }),
                Acquire::Err(e) => return Err(e),
                // Another eventfd (or another file) has the number now: a new queue for it.
                Acquire::Stale => q.retire(),
            }
        }
        let q = Arc::new(EvQueue::new());
        match q.acquire(efd) {
            Acquire::Ok => {}
            Acquire::Err(e) => return Err(e),
            Acquire::Stale => return Err(libc::EINVAL),
        }
        shard.insert(efd, q.clone());
        Ok(EvTicket { q, posted: AtomicBool::new(false) })
    }

    /// `aio_reap`: up to `max` completed requests of `efd` (their aiocbs), statuses final.
    pub fn reap(&self, efd: i32, max: usize) -> Result<Vec<usize>, Errno> {
        if efd < 0 || !sys::fd_is_open(efd) {
            return Err(libc::EBADF);
        }
        let q = self.shard(efd).lock().get(&efd).cloned();
        let Some(q) = q else {
            return if fileref::is_eventfd(efd) { Ok(Vec::new()) } else { Err(libc::EINVAL) };
        };
        match q.holds_same(efd) {
            Some(true) => {}
            // The number was reused for another file while requests were in flight or queued:
            // the queue belongs to the old eventfd, and nobody can reap it any more.
            Some(false) => {
                let mut shard = self.shard(efd).lock();
                if shard.get(&efd).is_some_and(|cur| Arc::ptr_eq(cur, &q)) {
                    shard.remove(&efd);
                }
                drop(shard);
                q.retire();
                return if fileref::is_eventfd(efd) { Ok(Vec::new()) } else { Err(libc::EINVAL) };
            }
            None if !fileref::is_eventfd(efd) => return Err(libc::EINVAL),
            None => {}
        }
        Ok(q.pop(max))
    }
}

/// `aio_reap` before any request exists: validation only.
pub fn reap_without_runtime(efd: i32) -> Result<Vec<usize>, Errno> {
    if efd < 0 || !sys::fd_is_open(efd) {
        Err(libc::EBADF)
    } else if fileref::is_eventfd(efd) {
        Ok(Vec::new())
    } else {
        Err(libc::EINVAL)
    }
}
