//! What rtaio remembers about a descriptor number between requests, to spare a system call
//! per request: the flags the last `fcntl(F_GETFL)` gave, trusted for a few reads, and whether
//! the last read tried inline on it was a page-cache hit. One word per number (one cache line
//! touched per request for both).
//!
//! **Flags.** A read that may complete inline (a page-cache hit) needs one fact about its
//! descriptor before it is tried: that it is not O_DIRECT (a direct read would wait for the
//! device in the caller's thread). Asking the kernel every time costs a system call as long as
//! a cached 4 KiB read itself, so the flags of the last `fcntl` on a number are trusted for a
//! thread's next [`TRUST`] inline attempts, then asked again. Everything else the flags decide
//! is the kernel's answer to the attempt itself: a descriptor not open or not open for reading
//! fails it (EBADF), a stream says ESPIPE, a directory EISDIR; then the submission asks `fcntl`
//! as it always did and follows its answer, so errors and routes stay exactly as without the
//! hint.
//!
//! What the hint can get wrong: a number closed and reopened on an O_DIRECT file (or switched
//! with `F_SETFL`) within those few reads. Such a read is still exactly one `pread` of the
//! file (the same bytes, the same errors): it only runs in the caller's thread.
//!
//! Uses are counted per thread, so that threads reading one descriptor at once (two cores
//! sharing a list) write nothing shared: after [`TRUST`] uses, a thread trusts no hint learned
//! before then, and asks again for each descriptor it reads next. Every hint carries the
//! sequence number of the `fcntl` that learned it, for that comparison.
//!
//! **Hit.** The last read tried inline on the number was a page-cache hit at an offset (a
//! regular file or a block device): the executors share a deep queue's reads with another
//! core only on such descriptors (`exec/mod.rs`). It is written only when it changes.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Inline attempts of a thread on hints before it asks `fcntl` again.
const TRUST: u32 = 64;
/// Descriptor numbers remembered (higher ones always ask, and are never shared).
const SLOTS: usize = 4096;
/// A slot: VALID (flags known), HIT, the learning sequence number (30 bits, wrapping), the
/// flags (32 bits).
const VALID: u64 = 1 << 63;
const HIT: u64 = 1 << 62;
const SEQ_MASK: u32 = (1 << 30) - 1;

static SLOT: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
/// The last sequence number given to a hint.
static LEARNED: AtomicU32 = AtomicU32::new(0);

thread_local! {
    /// Hints this thread used since it last stopped trusting older ones.
    static USES: Cell<u32> = const { Cell::new(0) };
    /// The oldest sequence number this thread trusts.
    static SINCE: Cell<u32> = const { Cell::new(0) };
}

fn slot(fd: i32) -> Option<&'static AtomicU64> {
    SLOT.get(usize::try_from(fd).ok()?)
}

/// The descriptor's flags as last seen, if this thread still trusts them (counts one use).
pub fn get(fd: i32) -> Option<i32> {
    let v = slot(fd)?.load(Relaxed);
    let seq = (v >> 32) as u32 & SEQ_MASK;
    // (Older than SINCE: a wrapped difference in the upper half.)
    if v & VALID == 0 || seq.wrapping_sub(SINCE.get()) & SEQ_MASK > SEQ_MASK / 2 {
        return None;
    }
    let used = USES.get();
    if used >= TRUST {
        USES.set(0);
        SINCE.set(LEARNED.load(Relaxed).wrapping_add(1) & SEQ_MASK);
        return None;
    }
    USES.set(used + 1);
    Some(v as u32 as i32)
}

/// `fcntl(F_GETFL)` answered `flags` for `fd` (None: not open). The hit bit stays.
pub fn learn(fd: i32, flags: Option<i32>) {
    if let Some(s) = slot(fd) {
        let seq = LEARNED.fetch_add(1, Relaxed).wrapping_add(1) & SEQ_MASK;
        let v = flags.map_or(0, |f| VALID | u64::from(seq) << 32 | u64::from(f as u32));
        let _ = s.fetch_update(Relaxed, Relaxed, |old| Some(old & HIT | v));
    }
}

/// Was the last read tried inline on `fd` a page-cache hit?
pub fn was_hit(fd: i32) -> bool {
    slot(fd).is_some_and(|s| s.load(Relaxed) & HIT != 0)
}

/// The read just tried inline on `fd` was a hit, or not.
pub fn note_hit(fd: i32, hit: bool) {
    if let Some(s) = slot(fd) {
        let old = s.load(Relaxed);
        if (old & HIT != 0) != hit {
            if hit {
                s.fetch_or(HIT, Relaxed);
            } else {
                s.fetch_and(!HIT, Relaxed);
            }
        }
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
        // Asked again: trusted again.
        learn(fd, Some(libc::O_RDONLY | libc::O_DIRECT));
        assert_eq!(get(fd), Some(libc::O_RDONLY | libc::O_DIRECT));
        learn(fd, None);
        assert_eq!(get(fd), None);
        assert_eq!(get(-1), None);
        assert_eq!(get(SLOTS as i32), None);
    }

    #[test]
    fn a_thread_that_stops_trusting_asks_again_for_every_descriptor() {
        let (a, b) = (4001, 4002);
        learn(a, Some(libc::O_RDONLY));
        learn(b, Some(libc::O_RDONLY));
        // Alternating reads: whichever descriptor comes after the limit, both are asked again.
        let mut asked = [false; 2];
        for i in 0..=2 * TRUST as usize {
            let fd = [a, b][i % 2];
            if get(fd).is_none() {
                asked[i % 2] = true;
                learn(fd, Some(libc::O_RDONLY));
            }
        }
        assert_eq!(asked, [true, true]);
    }

    #[test]
    fn the_hit_bit_and_the_flags_do_not_disturb_each_other() {
        let fd = 4003;
        assert!(!was_hit(fd));
        note_hit(fd, true);
        assert!(was_hit(fd));
        assert_eq!(get(fd), None); // (no flags learned yet)
        learn(fd, Some(libc::O_RDWR | libc::O_APPEND));
        assert!(was_hit(fd));
        assert_eq!(get(fd), Some(libc::O_RDWR | libc::O_APPEND));
        note_hit(fd, false);
        assert!(!was_hit(fd));
        assert_eq!(get(fd), Some(libc::O_RDWR | libc::O_APPEND));
        assert!(!was_hit(-1));
        note_hit(SLOTS as i32, true);
        assert!(!was_hit(SLOTS as i32));
    }
}
