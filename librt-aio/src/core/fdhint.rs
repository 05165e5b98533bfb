//! What the last `fcntl(F_GETFL)` said about a descriptor number, trusted for a few reads.
//!
//! A read that may complete inline (a page-cache hit) needs one fact about its descriptor
//! before it is tried: that it is not O_DIRECT (a direct read would wait for the device in the
//! caller's thread). Asking the kernel every time costs a system call as long as a cached 4 KiB
//! read itself, so the flags of the last `fcntl` on a number are trusted for the next
//! [`TRUST`] inline attempts, then asked again. Everything else the flags decide is the
//! kernel's answer to the attempt itself: a descriptor not open or not open for reading fails it
//! (EBADF), a stream says ESPIPE, a directory EISDIR; then the submission asks `fcntl` as it
//! always did and follows its answer, so errors and routes stay exactly as without the hint.
//!
//! What the hint can get wrong: a number closed and reopened on an O_DIRECT file (or switched
//! with `F_SETFL`) within those few reads. Such a read is still exactly one `pread` of the
//! file (the same bytes, the same errors): it only runs in the caller's thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Inline attempts on one hint before `fcntl` is asked again.
const TRUST: u64 = 64;
/// Descriptor numbers with a hint (higher ones always ask).
const SLOTS: usize = 4096;
const VALID: u64 = 1 << 63;
const USE: u64 = 1 << 32;

static HINTS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

fn slot(fd: i32) -> Option<&'static AtomicU64> {
    HINTS.get(usize::try_from(fd).ok()?)
}

/// The descriptor's flags as last seen, if still trusted (counts one use).
pub fn get(fd: i32) -> Option<i32> {
    let s = slot(fd)?;
    let v = s.load(Relaxed);
    if v & VALID == 0 || (v & !VALID) >> 32 >= TRUST {
        return None;
    }
    s.fetch_add(USE, Relaxed);
    Some(v as u32 as i32)
}

/// `fcntl(F_GETFL)` answered `flags` for `fd` (None: not open).
pub fn learn(fd: i32, flags: Option<i32>) {
    if let Some(s) = slot(fd) {
        s.store(flags.map_or(0, |f| VALID | f as u32 as u64), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_for_a_few_uses_then_asked_again() {
        let fd = 4000;
        assert_eq!(get(fd), None);
        learn(fd, Some(libc::O_RDWR));
        for _ in 0..TRUST {
            assert_eq!(get(fd), Some(libc::O_RDWR));
        }
        assert_eq!(get(fd), None);
        learn(fd, Some(libc::O_RDONLY | libc::O_DIRECT));
        assert_eq!(get(fd), Some(libc::O_RDONLY | libc::O_DIRECT));
        learn(fd, None);
        assert_eq!(get(fd), None);
        assert_eq!(get(-1), None);
        assert_eq!(get(SLOTS as i32), None);
    }
}
