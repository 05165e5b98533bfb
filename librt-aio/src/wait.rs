//! Waiting: `aio_suspend` and the LIO_WAIT wait of `lio_listio`.
//!
//! Each aiocb's status word is a futex. A waiter sets the word's WAITERS flag and sleeps on all
//! its entries at once with `futex_waitv` (up to 128 entries, Linux 5.16+); a completion wakes
//! that word only if the flag is set. So a completion wakes only the threads waiting for that
//! request, and waiting costs O(entries), whatever else the process has in flight.
//! For longer lists (or kernels without futex_waitv) the waiter sleeps on one process-wide
//! completion counter instead, which completions bump only while such a waiter exists.
//! Everything here is async-signal-safe: atomics and system calls, no locks, no allocation.
//! `aio_suspend` is a cancellation point (POSIX), as in glibc: its waits go through
//! `sys::*_cancellable`, and while it sleeps it owns nothing that would need dropping.
//! LIO_WAIT is not one, as in glibc (which disables cancellation around it).

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::*};
use std::time::Duration;

use libc::timespec;
use thread_pool::SpinBudget;

use crate::aiocb::{AiocbRef, KernelQueue};
use crate::sys::{self, deadline_after, passed, Errno, FutexWaitv, FUTEX_WAITV_MAX};

static LONG_WAITERS: AtomicUsize = AtomicUsize::new(0);
static COMPLETIONS: AtomicU32 = AtomicU32::new(0);
/// Threads asleep in `aio_suspend` on their entries' words (the long-list ones are counted in
/// LONG_WAITERS).
static SLEEPERS: AtomicUsize = AtomicUsize::new(0);

/// Threads asleep in `aio_suspend` now: completions must be collected without them.
pub fn sleeping() -> usize {
    SLEEPERS.load(SeqCst) + LONG_WAITERS.load(SeqCst)
}

/// Wakes the sleepers of a status just published (`AiocbRef::publish` said some flagged it),
/// and long-list waiters: called by every path that publishes a status. On a thread that
/// holds its wake-ups ([`hold_wakes`]) they are given later, by [`give_held_wakes`].
pub fn wake_after_publish(flagged: Option<usize>) {
    // (Only a pool worker ever holds: on any other thread, a signal handler's included, this
    // is one thread-local load.)
    if HOLDING.with(Cell::get) && hold(flagged) {
        return;
    }
    wake_now(flagged);
}

fn wake_now(flagged: Option<usize>) {
    if let Some(word) = flagged {
        sys::futex_wake_addr(word, i32::MAX);
    }
    wake_long_waiters();
}

/// A completion for the long-list waiters, if any wait.
fn wake_long_waiters() {
    if LONG_WAITERS.load(SeqCst) > 0 {
        COMPLETIONS.fetch_add(1, SeqCst);
        sys::futex_wake(&COMPLETIONS, i32::MAX);
    }
}

/// Wake-ups a thread holds at most; more are given at once.
const HELD_MAX: usize = 64;
const NO_WORD: usize = usize::MAX;

thread_local! {
    static HOLDING: Cell<bool> = const { Cell::new(false) };
    /// The status words whose sleepers are owed a wake-up (NO_WORD: a status nobody flagged;
    /// the long-list waiters are owed one either way).
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a wake-up for later; false if there is no room (then it is given now).
fn hold(flagged: Option<usize>) -> bool {
    HELD.with(|h| {
        let mut h = h.borrow_mut();
        if h.len() >= HELD_MAX {
            return false;
        }
        h.push(flagged.unwrap_or(NO_WORD));
        true
    })
}

/// From now on, the calling thread (a pool worker) holds the wake-ups of the statuses it
/// publishes (`hold`) or gives every one it holds and wakes at once again (`!hold`).
pub fn hold_wakes(hold: bool) {
    if hold {
        HOLDING.with(|h| h.set(true));
    } else {
        give_held_wakes();
    }
}

/// Gives every wake-up the calling thread holds, and holds no more: before a pool worker
/// waits for anything (the pool's idle hook, a task that is not a buffered write).
pub fn give_held_wakes() {
    // Only a holding thread holds anything: every other one (every pool worker on more than
    // one CPU, after each task) stops at this one thread-local access.
    if !HOLDING.with(|h| h.replace(false)) {
        return;
    }
    HELD.with(|h| {
        let mut held = h.borrow_mut();
        for &w in held.iter().filter(|&&w| w != NO_WORD) {
            sys::futex_wake_addr(w, i32::MAX);
        }
        if !held.is_empty() {
            wake_long_waiters();
        }
        held.clear();
    });
}

/// How long `aio_suspend` looks before it sleeps, when looking has been paying off.
const SPIN: Duration = Duration::from_micros(20);
/// How often looking found a completion lately, for every waiting thread: waits for the
/// device do not pay for it.
static SPIN_BUDGET: SpinBudget = SpinBudget::new(4, 16, 32, 4);

/// Before `aio_suspend` sleeps: looks for a completed entry for a few microseconds (calling
/// `poll` between looks), so that a completion due shortly (a queue the pool works through on
/// the other core) costs neither this thread nor the completing one a futex call. True if an
/// entry is complete. Async-signal-safe (atomics and the monotonic clock).
pub fn spin<'a>(
    n: usize,
    entry: impl Fn(usize) -> Option<AiocbRef<'a>>,
    timeout: Option<Duration>,
    poll: &dyn Fn(),
) -> bool {
    let limit = timeout.map_or(SPIN, |t| t.min(SPIN));
    if limit.is_zero() || (0..n).all(|i| entry(i).is_none()) {
        return false;
    }
    if !SPIN_BUDGET.worth_it() {
        return false;
    }
    let done = || (0..n).filter_map(&entry).any(|cb| !cb.in_progress());
    if done() {
        return true; // (completed by the poll or the help before: no clock read)
    }
    let deadline = deadline_after(limit);
    let mut rounds = 0u32;
    loop {
        if done() {
            SPIN_BUDGET.found();
            return true;
        }
        rounds += 1;
        if rounds & 7 == 0 {
            if passed(&deadline) {
                break;
            }
            poll();
        }
        std::hint::spin_loop();
    }
    SPIN_BUDGET.missed();
    false
}

/// A wait in the kernel for completions of requests still in the kernel (`Executor::
/// kernel_wait`): given a re-check, it waits or declines (None).
pub type KernelWait<'k> = &'k dyn Fn(KernelQueue, &dyn Fn() -> bool) -> Option<Result<(), Errno>>;

/// `aio_suspend` over `n` entries; `entry(i)` views entry i (`None` = NULL entry). `timeout`:
/// `None` waits forever. `before_sleep` runs each time the thread, counted in [`sleeping`], is
/// about to sleep (it must be async-signal-safe). Without a timeout, a wait whose entries all
/// complete through a kernel ring is done by `kernel_wait` where it accepts (the kernel wakes
/// this thread itself; that wait has no timeout). No allocation, whatever `n` is.
pub fn suspend<'a>(
    n: usize,
    entry: impl Fn(usize) -> Option<AiocbRef<'a>>,
    timeout: Option<Duration>,
    before_sleep: &dyn Fn(),
    kernel_wait: KernelWait<'_>,
) -> Result<(), Errno> {
    let deadline = timeout.map(deadline_after);
    let live = (0..n).filter(|&i| entry(i).is_some()).count();
    if live == 0 {
        return Ok(()); // nothing to wait for (glibc returns at once too)
    }
    if live <= FUTEX_WAITV_MAX {
        match suspend_waitv(n, &entry, deadline, before_sleep, kernel_wait) {
            Err(libc::ENOSYS) => {}
            r => return r,
        }
    }
    suspend_long(n, &entry, deadline, before_sleep)
}

/// The kernel queue all entries' completions are still to come from, if there is one.
fn all_in_kernel<'a>(n: usize, entry: &impl Fn(usize) -> Option<AiocbRef<'a>>) -> Option<KernelQueue> {
    let mut cbs = (0..n).filter_map(entry);
    let q = cbs.next()?.awaits_kernel()?;
    cbs.all(|cb| cb.awaits_kernel() == Some(q)).then_some(q)
}

fn suspend_waitv<'a>(
    n: usize,
    entry: &impl Fn(usize) -> Option<AiocbRef<'a>>,
    deadline: Option<timespec>,
    before_sleep: &dyn Fn(),
    kernel_wait: KernelWait<'_>,
) -> Result<(), Errno> {
    let mut v = [FutexWaitv::default(); FUTEX_WAITV_MAX];
    loop {
        if let (None, Some(q)) = (deadline, all_in_kernel(n, entry)) {
            match kernel_wait(q, &|| all_in_kernel(n, entry) == Some(q)) {
                None => {}
                Some(Ok(()) | Err(libc::EAGAIN)) => continue,
                Some(Err(e)) => return Err(e), // EINTR
            }
        }
        let mut k = 0;
        let mut done = false;
        for cb in (0..n).filter_map(entry) {
            match cb.arm_waiter() {
                None => {
                    done = true;
                    break;
                }
                Some(expected) => {
                    v[k] = FutexWaitv::new(cb.state(), expected);
                    k += 1;
                }
            }
        }
        if done {
            return Ok(());
        }
        if deadline.as_ref().is_some_and(passed) {
            return Err(libc::EAGAIN);
        }
        // Counted as asleep while it sleeps; a cancelled waiter is uncounted by the cleanup.
        SLEEPERS.fetch_add(1, SeqCst);
        before_sleep();
        // An absolute deadline: the kernel restarts the wait after an SA_RESTART handler.
        let r = sys::futex_waitv_cancellable(&v[..k], deadline.as_ref(), Some(&SLEEPERS));
        SLEEPERS.fetch_sub(1, SeqCst);
        match r {
            Ok(_) | Err(libc::EAGAIN) => {}
            Err(libc::ETIMEDOUT) => return Err(libc::EAGAIN),
            Err(e) => return Err(e), // EINTR, ENOSYS (fallback), EFAULT...
        }
    }
}

fn suspend_long<'a>(
    n: usize,
    entry: &impl Fn(usize) -> Option<AiocbRef<'a>>,
    deadline: Option<timespec>,
    before_sleep: &dyn Fn(),
) -> Result<(), Errno> {
    LONG_WAITERS.fetch_add(1, SeqCst);
    let r = loop {
        let seen = COMPLETIONS.load(SeqCst);
        if (0..n).filter_map(entry).any(|cb| !cb.in_progress()) {
            break Ok(());
        }
        if deadline.as_ref().is_some_and(passed) {
            break Err(libc::EAGAIN);
        }
        // futex_waitv even for one word: with a deadline it is the only futex wait the kernel
        // restarts after an SA_RESTART handler (a timed FUTEX_WAIT fails with EINTR instead).
        // A cancelled waiter leaves LONG_WAITERS through the cleanup handler.
        before_sleep();
        let one = [FutexWaitv::new(&COMPLETIONS, seen)];
        let r = match sys::futex_waitv_cancellable(&one, deadline.as_ref(), Some(&LONG_WAITERS)) {
            Err(libc::ENOSYS) => {
                sys::futex_wait_until_cancellable(&COMPLETIONS, seen, deadline.as_ref(), Some(&LONG_WAITERS))
            }
            r => r.map(|_| ()),
        };
        match r {
            Ok(()) | Err(libc::EAGAIN | libc::ETIMEDOUT) => {}
            Err(e) => break Err(e),
        }
    };
    LONG_WAITERS.fetch_sub(1, SeqCst);
    r
}

/// Waits until `done` becomes non-zero (lio_listio LIO_WAIT). EINTR if a handler without
/// SA_RESTART ran.
pub fn wait_flag(done: &AtomicU32) -> Result<(), Errno> {
    while done.load(Acquire) == 0 {
        match sys::futex_wait_until(done, 0, None) {
            Ok(()) | Err(libc::EAGAIN) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_in_the_kernel_only_for_entries_all_in_one_queue() {
        crate::aiocb::init_secret(1); // (as the first submission does)
        let [a, b, c] = [(); 3].map(|_| AiocbRef::leaked_for_test());
        for cb in [a, b, c] {
            cb.begin(0);
        }
        a.set_in_kernel(KernelQueue::Uring, true);
        b.set_in_kernel(KernelQueue::Uring, true);
        let list = [Some(a), None, Some(b)];
        assert_eq!(all_in_kernel(3, &|i| list[i]), Some(KernelQueue::Uring));
        // One entry in each queue: neither wait would see both completions.
        c.set_in_kernel(KernelQueue::Aio, true);
        let mixed = [Some(a), Some(c)];
        assert_eq!(all_in_kernel(2, &|i| mixed[i]), None);
        assert_eq!(all_in_kernel(1, &|i| [Some(c)][i]), Some(KernelQueue::Aio));
        // Reaped (unmarked), or complete: not waited for in the kernel.
        b.set_in_kernel(KernelQueue::Uring, false);
        assert_eq!(all_in_kernel(3, &|i| list[i]), None);
        b.set_in_kernel(KernelQueue::Uring, true);
        let _ = b.publish(4096, 0);
        assert_eq!(all_in_kernel(3, &|i| list[i]), None);
        assert_eq!(all_in_kernel(1, &|_| None), None);
        // Garbage in an aiocb this process never submitted (no tag) is no request.
        let d = AiocbRef::leaked_for_test();
        d.state().store(crate::aiocb::ST_IN_PROGRESS | crate::aiocb::ST_IN_RING, SeqCst);
        assert_eq!(all_in_kernel(1, &|i| [Some(d)][i]), None);
    }
}

#[cfg(test)]
mod held_wakes {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A thread asleep on `word` until it changes from 0; true once it has returned.
    fn sleeper(word: &'static AtomicU32) -> Arc<AtomicBool> {
        let back = Arc::new(AtomicBool::new(false));
        let b = back.clone();
        std::thread::spawn(move || {
            while word.load(SeqCst) == 0 {
                let _ = sys::futex_wait_until(word, 0, None);
            }
            b.store(true, SeqCst);
        });
        back
    }

    /// Waits until `f`, at most `secs` seconds.
    fn within(secs: u64, f: impl Fn() -> bool) -> bool {
        let end = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        f()
    }

    #[test]
    #[cfg_attr(miri, ignore)] // (futex)
    fn a_holding_thread_wakes_nobody_until_it_gives_its_wakes() {
        static W1: AtomicU32 = AtomicU32::new(0);
        static W2: AtomicU32 = AtomicU32::new(0);
        let (s1, s2) = (sleeper(&W1), sleeper(&W2));
        std::thread::sleep(Duration::from_millis(50)); // (both asleep, most likely)
        hold_wakes(true);
        W1.store(1, SeqCst);
        wake_after_publish(Some(W1.as_ptr() as usize));
        std::thread::sleep(Duration::from_millis(50));
        // (A sleeper may wake spuriously and see the word: only "woken at the end" is asserted.)
        assert_eq!(HELD.with(|h| h.borrow().clone()), vec![W1.as_ptr() as usize], "held, not given");
        // Another task that is not a buffered write: everything held is given first.
        hold_wakes(false);
        assert!(within(30, || s1.load(SeqCst)), "the held wake-up was given");
        assert!(HELD.with(|h| h.borrow().is_empty()));
        // Not holding: given at once.
        W2.store(1, SeqCst);
        wake_after_publish(Some(W2.as_ptr() as usize));
        assert!(within(30, || s2.load(SeqCst)));
        // Full: the next one is given at once.
        hold_wakes(true);
        for _ in 0..HELD_MAX {
            wake_after_publish(None);
        }
        assert_eq!(HELD.with(|h| h.borrow().len()), HELD_MAX);
        assert!(!hold(Some(1)), "no room: given now");
        give_held_wakes();
        assert!(HELD.with(|h| h.borrow().is_empty()));
        assert!(!HOLDING.with(Cell::get), "the pool's idle hook ends the holding");
    }
}
