//! A process-wide value that a child after fork() can forget (one of the `unsafe` files).
//!
//! `std::sync::OnceLock` cannot be reset, and the fork child must drop the parent's state (its
//! threads do not exist there, its locks may be held) without touching it: so the value is
//! leaked and published through an atomic pointer, and forgetting is one atomic store,
//! async-signal-safe. A forgotten value is never freed: references to it stay valid.

use std::sync::atomic::{AtomicPtr, Ordering::*};

pub struct Global<T> {
    p: AtomicPtr<T>,
}

impl<T> Global<T> {
    pub const fn new() -> Self {
        Global { p: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// The value, if one is published.
    pub fn get(&self) -> Option<&'static T> {
        let p = self.p.load(Acquire);
        // SAFETY: values are leaked, never freed: a pointer once published stays valid.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// The value, made by `make` if none is published (a racing maker's value is leaked unused).
    pub fn get_or_init(&self, make: impl FnOnce() -> T) -> &'static T {
        if let Some(v) = self.get() {
            return v;
        }
        let new: &'static mut T = Box::leak(Box::new(make()));
        match self.p.compare_exchange(std::ptr::null_mut(), new, AcqRel, Acquire) {
            Ok(_) => new,
            // SAFETY: `winner` was published by the winning maker and is never freed.
            Err(winner) => unsafe { &*winner },
        }
    }

    /// Forgets the value (in a child after fork). Async-signal-safe.
    pub fn forget(&self) {
        self.p.store(std::ptr::null_mut(), SeqCst);
    }
}
