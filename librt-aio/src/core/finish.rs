//! The completion sequence (step 2 of the request's life, `core/mod.rs`), and the two ways a
//! submission ends without running: refused (EAGAIN) and failed before it was queued.

use std::sync::atomic::Ordering::Release;
use std::sync::Arc;

use crate::aiocb::AiocbRef;
use crate::core::runtime::Core;
use crate::exec::{given_back, Done};
use crate::notify::Notify;
use crate::request::{Op, Request, Route, Spec};
use crate::stats;
use crate::sys::Errno;
use crate::wait;

impl Core {
    /// Finishes a request its caller owns (see the phase protocol in `request.rs`) with its
    /// result, then starts what that released.
    pub fn finish(&self, req: &Arc<Request>, result: Result<usize, Errno>) {
        let mut ready = Vec::new();
        self.finish_into(req, result, &mut ready);
        self.start_ready(ready);
    }

    /// Finishes requests reaped together, in order, as `finish` does one by one, except that
    /// they leave the descriptor table together: an io_uring reap of a deep queue's page-cache
    /// reads took the descriptor's shard lock once per request against the thread submitting
    /// the next ones.
    pub fn finish_all(&self, done: &[Done]) {
        for (req, result) in done {
            self.complete(req, *result);
        }
        let mut ready = Vec::new();
        self.fds.release_all(done.iter().map(|(r, _)| &**r), &mut ready);
        self.start_ready(ready);
    }

    /// Starts requests an order released. One that cannot get a thread fails with EAGAIN,
    /// which may release more: a work list, not recursion, however long the chain.
    pub(crate) fn start_ready(&self, mut ready: Vec<Arc<Request>>) {
        while !ready.is_empty() {
            for r in self.exec.start(std::mem::take(&mut ready)) {
                if let Some(result) = given_back(&r) {
                    self.finish_into(&r, result, &mut ready);
                }
            }
        }
    }

    /// Steps 1 and 2 of the completion sequence alone, for a request whose completion needs
    /// nothing else before it is released (`Request::may_publish_early`): a signal-safe reaper
    /// (`aio_error`, `aio_suspend`) publishes the status it found, and the request is finished
    /// later, from step 3 on. False (nothing done) for any other request. Async-signal-safe.
    pub fn publish_early(&self, req: &Request, result: Result<usize, Errno>) -> bool {
        if !req.may_publish_early() {
            return false;
        }
        req.mark_finishing();
        self.publish_status(req, result);
        true
    }

    /// Publishes the status of a request [`Request::may_publish_early`] allows, leaving its
    /// phase to the caller (`publish_early`, `help.rs`). Async-signal-safe.
    pub(crate) fn publish_status(&self, req: &Request, result: Result<usize, Errno>) {
        self.outstanding.fetch_sub(1, Release);
        req.mark_published_early();
        count(req, || exec_of(req), result);
        let (value, error) = split(result);
        req.set_final_errno(error);
        if let Some(cb) = req.aiocb {
            wait::wake_after_publish(cb.publish(value, error));
        }
    }

    /// Finishes a request that completed (or failed) in the submitting call: never registered
    /// anywhere, so nothing can follow it, and nobody but this thread ever saw it: its status
    /// and notification are all there is, and no `Request` is built for it.
    pub(crate) fn finish_inline(&self, spec: Spec, track_word: u64, result: Result<usize, Errno>) {
        count(&spec, || stats::Exec::Inline, result);
        if let Some(cb) = spec.aiocb {
            let (value, error) = split(result);
            cb.begin_done(track_word, value, error);
        }
        self.notify_done(&spec, result.is_err(), true);
    }

    fn finish_into(&self, req: &Arc<Request>, result: Result<usize, Errno>, ready: &mut Vec<Arc<Request>>) {
        self.complete(req, result);
        // Last, leave the table: until now aio_cancel finds the request (and sees it DONE).
        self.fds.release(req, ready);
    }

    /// The completion sequence up to leaving the descriptor table.
    fn complete(&self, req: &Request, result: Result<usize, Errno>) {
        if !req.was_published_early() {
            // No longer outstanding before the caller can see it complete and resubmit.
            self.outstanding.fetch_sub(1, Release);
            req.mark_finishing();
            // rtaio's reference to the file goes before the status is final.
            drop(req.take_file());
            count(req, || exec_of(req), result);
            let (value, error) = split(result);
            req.set_final_errno(error);
            if let Some(cb) = req.aiocb {
                wait::wake_after_publish(cb.publish(value, error));
            }
        }
        req.mark_done();
        self.notify_done(req, result.is_err(), false);
    }

    /// What follows a final status: tracking, notification, the list's count. `inline`: the
    /// request completed in its submitting call.
    fn notify_done(&self, spec: &Spec, failed: bool, inline: bool) {
        if let (Some(slot), Some(t)) = (spec.track, self.tracker_if_any()) {
            t.completed(slot);
        }
        if let (Notify::Eventfd(t), Some(cb)) = (&spec.notify, spec.aiocb) {
            t.enqueue(cb.addr());
        }
        self.notifier.deliver(&spec.notify);
        if let Some(l) = &spec.list {
            if inline {
                // Never pending: the submitting call holds the list's own count meanwhile.
                l.note_failed(failed);
            } else {
                l.count_done(failed, &self.notifier);
            }
        }
    }

    /// Undoes a submission whose request no executor could take, claimed back before any
    /// thread saw it: its status becomes EAGAIN, nobody is notified (the call fails with
    /// EAGAIN), and what it held back is released.
    pub(crate) fn refuse(&self, req: &Arc<Request>) {
        self.outstanding.fetch_sub(1, Release);
        self.note_returned(); // nothing for the application to retrieve
        req.mark_finishing();
        drop(req.take_file());
        if let Some(cb) = req.aiocb {
            wait::wake_after_publish(cb.publish(-1, libc::EAGAIN));
        }
        req.mark_done();
        if let (Some(slot), Some(t)) = (req.track, self.tracker_if_any()) {
            t.discard(slot); // the submission failed: nobody retrieves it
        }
        if let Some(l) = &req.list {
            l.refuse();
        }
        let mut ready = Vec::new();
        self.fds.release(req, &mut ready);
        self.start_ready(ready);
    }
}

/// Which executor ran a request that did not complete in its submitting call, for the
/// statistics.
fn exec_of(req: &Request) -> stats::Exec {
    match req.route() {
        _ if req.is_helping() => stats::Exec::Waiter,
        Route::Uring => stats::Exec::Uring,
        Route::Kaio => stats::Exec::Kaio,
        Route::Pool => stats::Exec::Pool,
    }
}

/// The statistics' record of a status being published (nothing when they are off: not even
/// which executor ran it).
fn count(spec: &Spec, exec: impl FnOnce() -> stats::Exec, result: Result<usize, Errno>) {
    if !stats::on() {
        return;
    }
    let op = match spec.op {
        Op::Read => stats::OpKind::Read,
        Op::Write => stats::OpKind::Write,
        Op::Sync { data_only: false } => stats::OpKind::Fsync,
        Op::Sync { data_only: true } => stats::OpKind::Fdatasync,
    };
    stats::completed(exec(), op, result, spec.stamp);
}

fn split(result: Result<usize, Errno>) -> (isize, i32) {
    match result {
        Ok(n) => (n as isize, 0),
        Err(e) => (-1, e),
    }
}

/// A `lio_listio` entry that failed submission: the aiocb becomes a completed request with
/// that error (no notification).
pub fn fail_unqueued(cb: AiocbRef<'_>, error: Errno) {
    cb.begin(0);
    wait::wake_after_publish(cb.publish(-1, error));
}
