//! A `lio_listio` list's completion count: fires the list notification (or wakes the LIO_WAIT
//! caller) exactly once, when the last of its requests completes. The submitting call holds
//! one count itself while it queues entries, so the list cannot complete before every entry
//! has been queued.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};

use crate::notify::{Notifier, Notify};
use crate::sys;

pub struct ListCtl {
    pending: AtomicUsize,
    failed: AtomicBool,
    /// 0 until the list completes; the futex the LIO_WAIT caller sleeps on.
    pub done: AtomicU32,
    notify: Notify,
}

impl ListCtl {
    pub fn new(notify: Notify) -> Self {
        ListCtl { pending: AtomicUsize::new(1), failed: AtomicBool::new(false), done: AtomicU32::new(0), notify }
    }

    /// One more request of this list was queued (one that completes in the submitting call is
    /// not counted).
    pub fn add(&self) {
        self.pending.fetch_add(1, Relaxed);
    }

    /// A request counted by `add` was refused before it could run (its submission failed).
    pub fn refuse(&self) {
        self.failed.store(true, Relaxed);
        self.pending.fetch_sub(1, AcqRel);
    }

    pub fn any_failed(&self) -> bool {
        self.failed.load(Acquire)
    }

    /// A request of the list that was never counted by `add` completed (in the submitting
    /// call, which holds a count of its own).
    pub fn note_failed(&self, failed: bool) {
        if failed {
            self.failed.store(true, Release);
        }
    }

    /// A request of the list completed (or the submitter dropped its own count): the last one
    /// wakes the LIO_WAIT caller and delivers the list notification.
    pub fn count_done(&self, failed: bool, notifier: &Notifier) {
        if failed {
            self.failed.store(true, Release);
        }
        if self.pending.fetch_sub(1, AcqRel) == 1 {
            self.done.store(1, Release);
            sys::futex_wake(&self.done, i32::MAX);
            notifier.deliver(&self.notify);
        }
    }
}
