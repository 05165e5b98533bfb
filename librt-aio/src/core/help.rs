//! A thread that waits for its own request runs it, if it is still queued.
//!
//! A program that submits one request and then calls `aio_suspend` for it leaves that thread
//! idle while a worker wakes up (a futex wake-up on a shared 2-core machine: tens of µs), runs
//! the request, and wakes the caller again. If the caller finds the request still in the
//! pool's queue, it runs it itself: one system call, no wake-up on the way back (glibc has the
//! two). The worker that pops it later finishes it (`Request::wait_helped`).
//!
//! Only where this changes nothing but who makes the call (`Spec::helpable`, decided by the
//! executor layer): one read or write of a regular file at its offset, whose completion needs
//! nothing but its status (no notification, list, tracking or chain), in `aio_suspend` without
//! a timeout (the call cannot be interrupted: it waits for the device, which a timeout could
//! not cut short). A request that waits for the device is run only when it is the one entry in
//! progress (the others' completions would wait for it); a page-cache write at any depth.
//!
//! Which request: the last one this thread queued (a thread-local slot), so finding it costs
//! no lock and no lookup, and everything here stays async-signal-safe, as `aio_suspend` is.

use std::cell::Cell;
use std::sync::Arc;

use crate::aiocb::{self, AiocbRef};
use crate::core::runtime::Core;
use crate::request::{self, Request};
use crate::sys::{self, arcs::ThreadArc};

thread_local! {
    /// The last helpable request this thread queued (kept until the next one, or thread exit).
    static LAST: ThreadArc<Request> = const { ThreadArc::new() };
    /// The fork generation (`aiocb::fork_gen`) LAST was queued in: in a child after fork() it
    /// is the parent's request, which nothing in the child runs or finishes. It is never run
    /// there (its status would land in an aiocb the child reuses for a request of its own),
    /// nor freed (it is part of the parent's state, copied): it is left behind.
    static LAST_GEN: Cell<u32> = const { Cell::new(0) };
    /// Empties LAST when the thread ends (touched only by `remember`, so that `aio_suspend`
    /// never registers a destructor).
    static CLEANUP: Cleanup = const { Cleanup };
}

struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = LAST.try_with(|s| forget(s.replace(None)));
    }
}

/// The calling thread queued `req` (helpable) on an executor.
pub fn remember(req: &Arc<Request>) {
    // Without the cleanup (a thread in its destructors), nothing is remembered.
    if CLEANUP.try_with(|_| ()).is_ok() {
        let _ = LAST.try_with(|s| forget(s.replace(Some(req.clone()))));
        let _ = LAST_GEN.try_with(|g| g.set(aiocb::fork_gen()));
    }
}

/// The slot's request is this process's (not a parent's, before fork()).
fn ours() -> bool {
    LAST_GEN.try_with(|g| g.get() == aiocb::fork_gen()).unwrap_or(false)
}

/// Lets go of the previous request of the slot: if this thread ran it, the worker waiting to
/// finish it may now (`Request::wait_helped`: not woken earlier, so that it does not race this
/// thread for the request it is queueing now).
fn forget(prev: Option<Arc<Request>>) {
    if !ours() {
        std::mem::forget(prev); // a parent's: left behind
    } else if let Some(p) = prev {
        p.wake_helped_waiter();
    }
}

impl Core {
    /// `aio_suspend` without a timeout, before it sleeps: runs this thread's last queued
    /// request if it is among the `n` entries and still queued. True if it ran it (its status
    /// is published: an entry is complete). Async-signal-safe.
    pub fn help<'a>(&self, n: usize, entry: &impl Fn(usize) -> Option<AiocbRef<'a>>) -> bool {
        if !ours() {
            return false;
        }
        LAST.try_with(|s| s.with(|req| self.help_with(req, n, entry)).unwrap_or(false)).unwrap_or(false)
    }

    fn help_with<'a>(&self, req: &Request, n: usize, entry: &impl Fn(usize) -> Option<AiocbRef<'a>>) -> bool {
        let Some(cb) = req.aiocb else { return false };
        if !req.is_queued() || !cb.in_progress() {
            return false;
        }
        let (mut listed, mut live) = (false, 0);
        for e in (0..n).filter_map(entry) {
            listed |= e.addr() == cb.addr();
            live += e.in_progress() as usize;
        }
        // A request that may wait for the device is not run while others are awaited too.
        if !listed || (!req.quick && live > 1) {
            return false;
        }
        // No signal handler runs from the claim until the request is HELPED: one that waited for
        // this request (aio_suspend, aio_error in a loop) would wait for the frame it
        // interrupted, and so would the worker (`wait_helped`): for ever (C rel_handler_help).
        // The executor helps only on file systems whose waits are a local device's (a fatal
        // signal then waits for the device at most; a handled one would arrive as the call
        // returns anyway).
        let _held = sys::NoHandlers::hold();
        let Some(result) = self.exec.help(req) else { return false };
        self.publish_status(req, result);
        // Wake the worker waiting to finish it now only if a request is held back behind
        // one (an fsync barrier); else this thread's next submission does (`forget`), or the
        // worker looks again by itself within a millisecond.
        req.mark_helped(request::held_back() > 0);
        true
    }
}
