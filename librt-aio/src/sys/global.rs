//! A process-wide value that a child after fork() can forget (one of the `unsafe` files).
//!
//! `std::sync::OnceLock` cannot be reset, and the fork child must drop the parent's state (its
//! threads do not exist there, its locks may be held) without touching it: so the value is
//! leaked and published through an atomic pointer, and forgetting is one atomic store,
//! async-signal-safe. A forgotten value is never freed: references to it stay valid. It stays
//! reachable too, in a few slots kept for the purpose, so that a leak checker (LeakSanitizer in
//! a fork child) does not report it.

use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};

/// Forgotten values kept reachable (a fork chain deeper than this reuses the oldest slot).
const KEPT: usize = 8;

pub struct Global<T> {
    p: AtomicPtr<T>,
    kept: [AtomicPtr<T>; KEPT],
    next_kept: AtomicUsize,
}

impl<T> Global<T> {
    #[allow(clippy::declare_interior_mutable_const)]
    const NONE: AtomicPtr<T> = AtomicPtr::new(std::ptr::null_mut());

    pub const fn new() -> Self {
        Global { p: AtomicPtr::new(std::ptr::null_mut()), kept: [Self::NONE; KEPT], next_kept: AtomicUsize::new(0) }
    }

    fn keep(&self, p: *mut T) {
        if !p.is_null() {
            self.kept[self.next_kept.fetch_add(1, Relaxed) % KEPT].store(p, Relaxed);
        }
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
            Err(winner) => {
                self.keep(new);
                // SAFETY: `winner` was published by the winning maker and is never freed.
                unsafe { &*winner }
            }
        }
    }

    /// Forgets the value (in a child after fork). Async-signal-safe.
    pub fn forget(&self) {
        self.keep(self.p.swap(std::ptr::null_mut(), SeqCst));
    }
}
