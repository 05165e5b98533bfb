//! The pool's system calls: the signal mask around thread creation, the futex its idle
//! workers sleep on, and the yield of a worker on one CPU. The crate's one `unsafe` module.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, at most `timeout`, as a waiter with the wake-up bits
/// `bits` (see [`futex_wake`]). True if it timed out (false: woken, possibly spuriously, or the
/// value had changed). Every other error counts as a wake-up.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration, bits: u32) -> bool {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into a valid local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let mut nsec = now.tv_nsec + timeout.subsec_nanos() as i64;
    let mut sec = now.tv_sec.saturating_add(timeout.as_secs().min(i64::MAX as u64 / 2) as i64);
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    let ts = libc::timespec { tv_sec: sec as libc::time_t, tv_nsec: nsec as libc::c_long };
    // SAFETY: `word` is a valid, aligned u32 for the call and `ts` a valid timespec; a private
    // FUTEX_WAIT_BITSET only reads the word.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            0usize,
            bits.max(1),
        )
    };
    r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
}

/// Wakes up to `n` threads sleeping on `word` whose wake-up bits meet `bits` (u32::MAX: any);
/// returns how many it woke.
pub fn futex_wake(word: &AtomicU32, n: i32, bits: u32) -> usize {
    // SAFETY: FUTEX_WAKE_BITSET on a private futex only uses the address as a key.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE_BITSET | libc::FUTEX_PRIVATE_FLAG,
            n,
            0usize,
            0usize,
            bits.max(1),
        )
    };
    r.max(0) as usize
}

/// Blocks every signal in the calling thread until dropped (then the previous mask is back):
/// a thread created meanwhile inherits the full mask from its first instruction, so it never
/// runs a signal handler meant for the application.
pub struct BlockAll {
    old: libc::sigset_t,
}

impl BlockAll {
    /// Under Miri (which cannot call sigfillset) masks are not modelled.
    #[cfg(miri)]
    pub fn new() -> Self {
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        BlockAll { old: unsafe { std::mem::zeroed() } }
    }

    #[cfg(not(miri))]
    pub fn new() -> Self {
        // SAFETY: sigset_t manipulation of local values; pthread_sigmask reads `all` and writes
        // `old`, both valid.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockAll { old }
        }
    }
}

impl Drop for BlockAll {
    fn drop(&mut self) {
        #[cfg(not(miri))]
        // SAFETY: restores the mask saved by `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut())
        };
    }
}

/// Gives the CPU to another runnable thread, if any.
pub fn yield_now() {
    // SAFETY: sched_yield takes no arguments.
    unsafe { libc::sched_yield() };
}
