//! The pool's only unsafe code: the signal mask around thread creation, and the futex.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Blocks every signal in the calling thread until dropped, then restores the previous mask.
/// Threads created meanwhile inherit the full mask from their first instruction.
pub struct BlockAllSignals {
    old: libc::sigset_t,
}

impl BlockAllSignals {
    pub fn new() -> Self {
        // SAFETY: sigset_t is plain data; sigfillset/pthread_sigmask only write the given sets.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockAllSignals { old }
        }
    }
}

impl Drop for BlockAllSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<()> {
    let ts = timeout
        .map(|d| libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long });
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a live aligned u32; `tsp` is NULL or a timespec outliving the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            tsp,
            0usize,
            0u32,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
            0usize,
            0usize,
            0u32,
        )
    };
}
