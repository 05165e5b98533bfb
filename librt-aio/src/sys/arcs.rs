//! Reference-counted objects shared with signal handlers (one of the `unsafe` files): what
//! `aio_error` and `aio_suspend` need to reap completions without locks or allocation.
//!
//! - [`SharedArc`]: one `Arc` that any context may borrow (a reader count pins it), and that
//!   its owner takes back once no reader holds it.
//! - [`ArcStack`]: an intrusive stack of `Arc`s, through a link inside each object: pushing is
//!   one compare-and-swap (async-signal-safe, allocation-free); taking is all at once, so no
//!   node is ever popped while another thread reads it (no ABA).
//! - [`ThreadArc`]: a thread's own slot for one `Arc` (in a `thread_local!`), that the same
//!   thread may borrow from a signal handler.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*};
use std::sync::Arc;

/// One `Arc<T>` readable from any context.
pub struct SharedArc<T> {
    p: AtomicPtr<T>,
    readers: AtomicUsize,
}

impl<T> Default for SharedArc<T> {
    fn default() -> Self {
        SharedArc { p: AtomicPtr::new(std::ptr::null_mut()), readers: AtomicUsize::new(0) }
    }
}

impl<T> SharedArc<T> {
    /// Publishes `v` (replacing nothing: the previous value must have been taken).
    pub fn set(&self, v: Arc<T>) {
        let old = self.p.swap(Arc::into_raw(v) as *mut T, SeqCst);
        debug_assert!(old.is_null(), "SharedArc::set over a value");
    }

    /// Runs `f` on the value, if there is one. Async-signal-safe (atomics only).
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.readers.fetch_add(1, SeqCst);
        let p = self.p.load(SeqCst);
        // SAFETY: a non-null pointer is the reference `set` leaked; `take` gives it back only
        // after it swapped the pointer out and saw no reader, and we counted ourselves before
        // loading it.
        let r = (!p.is_null()).then(|| f(unsafe { &*p }));
        self.readers.fetch_sub(1, SeqCst);
        r
    }

    /// Takes the value back, waiting for readers that may hold it (they hold it for a few
    /// instructions). Not in a signal handler.
    pub fn take(&self) -> Option<Arc<T>> {
        let p = self.p.swap(std::ptr::null_mut(), SeqCst);
        while self.readers.load(SeqCst) != 0 {
            std::thread::yield_now();
        }
        // SAFETY: `p` is the reference `set` leaked, swapped out above: nobody else takes it,
        // and no reader holds it any more.
        (!p.is_null()).then(|| unsafe { Arc::from_raw(p) })
    }
}

/// An object that can be on one [`ArcStack`] at a time, through its own link.
pub trait Linked: Sized {
    fn link(&self) -> &AtomicPtr<Self>;
}

/// An intrusive stack of `Arc<T>`.
pub struct ArcStack<T: Linked> {
    head: AtomicPtr<T>,
}

impl<T: Linked> Default for ArcStack<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Linked> ArcStack<T> {
    pub const fn new() -> Self {
        ArcStack { head: AtomicPtr::new(std::ptr::null_mut()) }
    }

    /// Pushes one reference. Async-signal-safe, lock-free, no allocation.
    pub fn push(&self, v: Arc<T>) {
        let node = Arc::into_raw(v) as *mut T;
        let mut head = self.head.load(Acquire);
        loop {
            // SAFETY: `node` is the reference just leaked, not on any stack yet: only this
            // thread reaches it until the CAS below publishes it.
            unsafe { (*node).link().store(head, Relaxed) };
            match self.head.compare_exchange_weak(head, node, AcqRel, Acquire) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.head.load(SeqCst).is_null()
    }

    /// Takes every reference on the stack, oldest first.
    pub fn take_all(&self) -> Vec<Arc<T>> {
        let mut p = self.head.swap(std::ptr::null_mut(), AcqRel);
        let mut v = Vec::new();
        while !p.is_null() {
            // SAFETY: every node on the stack is a reference `push` leaked; the swap above made
            // this thread the only one that reaches them, each exactly once.
            let node = unsafe { Arc::from_raw(p) };
            p = node.link().load(Relaxed);
            v.push(node);
        }
        v.reverse();
        v
    }
}

/// One thread's slot for an `Arc<T>`, meant for a `const`-initialised `thread_local!`: it has
/// no destructor (so borrowing it never registers one: no allocation), and whoever fills it
/// empties it before the thread ends ([`ThreadArc::replace`] with `None`).
pub struct ThreadArc<T> {
    p: Cell<*const T>,
    /// A borrow is in progress on this thread ([`ThreadArc::with`]; a signal handler may have
    /// interrupted it).
    borrowed: Cell<bool>,
}

impl<T> ThreadArc<T> {
    pub const fn new() -> Self {
        ThreadArc { p: Cell::new(std::ptr::null()), borrowed: Cell::new(false) }
    }

    /// Puts `v` in the slot and gives back what was there. Not async-signal-safe (the caller
    /// drops what it gets); called from a signal handler that interrupted a borrow, it leaks
    /// the borrowed value rather than free it under the borrower.
    pub fn replace(&self, v: Option<Arc<T>>) -> Option<Arc<T>> {
        let old = self.p.replace(v.map_or(std::ptr::null(), Arc::into_raw));
        if old.is_null() || self.borrowed.get() {
            return None;
        }
        // SAFETY: a non-null pointer in the slot is the reference an earlier `replace` leaked
        // into it; it is out of the slot now, and no borrow of it is in progress.
        Some(unsafe { Arc::from_raw(old) })
    }

    /// Runs `f` on the value, if there is one. Async-signal-safe (no allocation, no lock): the
    /// slot is this thread's, so only this thread's `replace` could free the value meanwhile,
    /// and it does not while the borrow lasts.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let p = self.p.get();
        if p.is_null() || self.borrowed.get() {
            return None;
        }
        self.borrowed.set(true);
        // SAFETY: a non-null pointer in the slot is a reference the slot holds; see above for
        // why it outlives the borrow.
        let r = f(unsafe { &*p });
        self.borrowed.set(false);
        Some(r)
    }
}

impl<T> Default for ThreadArc<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node that counts its live copies through the `Arc<()>` it holds.
    struct N(#[allow(dead_code)] Arc<()>, AtomicPtr<N>);
    impl Linked for N {
        fn link(&self) -> &AtomicPtr<N> {
            &self.1
        }
    }

    #[test]
    fn stack_keeps_every_reference_once() {
        let s = ArcStack::default();
        let alive = Arc::new(());
        std::thread::scope(|sc| {
            for _ in 0..4 {
                let (s, alive) = (&s, alive.clone());
                sc.spawn(move || {
                    for _ in 0..100 {
                        s.push(Arc::new(N(alive.clone(), AtomicPtr::default())));
                    }
                });
            }
        });
        let all = s.take_all();
        assert_eq!(all.len(), 400);
        assert!(s.is_empty());
        assert!(all.iter().all(|n| Arc::strong_count(n) == 1), "one reference per node");
        drop(all);
        assert_eq!(Arc::strong_count(&alive), 1, "every pushed node was freed once");
    }

    #[test]
    fn thread_arc_holds_one_reference() {
        let (a, b) = (Arc::new(1u32), Arc::new(2u32));
        let s = ThreadArc::new();
        assert_eq!(s.with(|x| *x), None);
        assert!(s.replace(Some(a.clone())).is_none());
        assert_eq!(s.with(|x| *x), Some(1));
        assert_eq!(Arc::strong_count(&a), 2);
        let old = s.replace(Some(b.clone())).unwrap();
        assert!(Arc::ptr_eq(&old, &a));
        drop(old);
        assert_eq!(Arc::strong_count(&a), 1, "the slot let go of the old value");
        // A replace inside a borrow (a handler interrupting it) does not free the borrowed value.
        s.with(|x| {
            assert_eq!(*x, 2);
            assert!(s.replace(None).is_none());
            assert_eq!(*x, 2);
        });
        assert_eq!(Arc::strong_count(&b), 2, "leaked rather than freed under the borrow");
        assert_eq!(s.with(|x| *x), None);
    }

    #[test]
    fn shared_arc_gives_back_its_reference() {
        let v = Arc::new(5u32);
        let s = SharedArc::default();
        s.set(v.clone());
        assert_eq!(s.with(|x| *x), Some(5));
        let back = s.take().unwrap();
        assert!(Arc::ptr_eq(&back, &v));
        assert_eq!(s.with(|x| *x), None);
        drop(back);
        assert_eq!(Arc::strong_count(&v), 1);
    }
}
