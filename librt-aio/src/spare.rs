//! Finished requests' allocations, reused by later submissions.
//!
//! A request is allocated by the thread that submits it and dropped by the one that finishes
//! it: the io_uring submitter or a pool worker, on the other core. With glibc's malloc every
//! such free goes back to the submitting thread's arena under the arena's lock, which that
//! thread's next allocation takes too: cached reads QD32 made ~85k futex calls per second on
//! that lock, and ran 1.2x faster under jemalloc. So the finishing thread, when it holds the
//! last reference, hands the allocation back here (one compare-and-swap, `ArcStack`), and a
//! submitting thread takes all that wait at once into a list of its own, and reuses them one
//! by one: no lock, no allocation, one shared cache line touched per batch.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::request::{Request, Spec};
use crate::sys::arcs::ArcStack;

/// At most this many wait to be taken (beyond, a finished request is freed as before): more
/// than a queue kept deep needs, little memory.
const MAX_WAITING: usize = 128;

static WAITING: ArcStack<Request> = ArcStack::new();
static WAITING_LEN: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// What this thread took from WAITING and has not reused yet (freed when it ends).
    static OWN: RefCell<Vec<Arc<Request>>> = const { RefCell::new(Vec::new()) };
}

/// A request for `spec`, in a finished one's allocation if one is at hand.
pub fn request(spec: Spec) -> Arc<Request> {
    // (Not inside another use of this thread's list: a signal handler that interrupted one
    // allocates anew.)
    let reused = OWN.try_with(|own| own.try_borrow_mut().ok().and_then(|mut own| take(&mut own))).ok().flatten();
    match reused {
        Some(mut req) => match Arc::get_mut(&mut req) {
            Some(r) => {
                *r = Request::new(spec);
                req
            }
            None => Arc::new(Request::new(spec)), // (every one waiting is unshared)
        },
        None => Arc::new(Request::new(spec)),
    }
}

fn take(own: &mut Vec<Arc<Request>>) -> Option<Arc<Request>> {
    if own.is_empty() && !WAITING.is_empty() {
        let got = WAITING.take_all();
        WAITING_LEN.fetch_sub(got.len(), Relaxed);
        own.extend(got);
    }
    own.pop()
}

/// A finished request's last user lets go of it: its allocation waits for a submission if
/// nobody else holds a reference (else the last holder frees it, as any `Arc`).
pub fn give(mut req: Arc<Request>) {
    let Some(r) = Arc::get_mut(&mut req) else { return };
    if WAITING_LEN.load(Relaxed) >= MAX_WAITING {
        return;
    }
    // What it still holds (its list, its notification's resources) goes now, as it would
    // have without reuse.
    *r = Request::new(Spec::default());
    WAITING_LEN.fetch_add(1, Relaxed);
    WAITING.push(req);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_request_is_reused_only_when_nobody_else_holds_it() {
        // (Tests on other threads may submit meanwhile and take what waits: the reuse is
        // looked for in a few rounds, each of which checks everything else.)
        let mut reused = false;
        for _ in 0..100 {
            let a = request(Spec { fd: 7, ..Spec::default() });
            let addr = Arc::as_ptr(&a);
            let other = a.clone();
            give(a); // shared: not kept
            assert_eq!(Arc::strong_count(&other), 1);
            let b = request(Spec { fd: 8, ..Spec::default() });
            assert_ne!(Arc::as_ptr(&b), addr, "a request someone still holds is never reused");
            assert_eq!(other.fd, 7, "and is left as it was");
            give(other); // the last reference: kept for reuse
                         // Had it been freed, malloc would hand its block to the next allocation of its
                         // size: this one, not the request below.
            let decoy = Arc::new(Request::new(Spec::default()));
            let c = request(Spec { fd: 9, ..Spec::default() });
            assert_eq!(c.fd, 9, "a reused allocation is a new request");
            assert_eq!(Arc::strong_count(&c), 1);
            reused |= Arc::as_ptr(&c) == addr && Arc::as_ptr(&decoy) != addr;
            drop((b, c, decoy));
            if reused {
                break;
            }
        }
        assert!(reused, "the allocation of a finished request is reused");
    }
}
