//! Completion tracking for `aio_waitcomplete` (FreeBSD): "the next completed request whose
//! status nobody has retrieved yet".
//!
//! Knowing that needs every completed, unretrieved request, and `aio_return` (async-signal-safe:
//! no lock, no allocation) must be able to take one out of consideration, after which the
//! application may free its aiocb. So tracking is opt-in, on from the first submission in a
//! program that links `aio_waitcomplete` (`elf.rs` looks at startup) and otherwise from its
//! first call; other programs pay nothing.
//!
//! A tracked request owns a *slot* in a table as large as the request limit, from submission
//! until its status is retrieved. The table is made of chunks allocated as slots are first
//! used (and kept): a limit of billions costs only the chunk directory. The slot's state word (generation << 8 | state)
//! decides, by compare-and-swap, who retrieves the status: `aio_waitcomplete` (COMPLETED →
//! CLAIMED) or `aio_return` (COMPLETED → free; PENDING → RETURNED_EARLY when it wins the race
//! with the completer's own mark). Only the winner may touch the aiocb afterwards. The aiocb's
//! `__glibc_reserved[2]` records its slot (index, generation, fork generation) for `aio_return`.
//! Completed slots are queued FIFO for `aio_waitcomplete`; queue entries carry the generation,
//! so entries of slots retrieved by `aio_return` are recognised and skipped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::time::Duration;

use parking_lot::Mutex;

use crate::sys::{self, Errno};

const FREE: u64 = 0;
const PENDING: u64 = 1;
const COMPLETED: u64 = 2;
const RETURNED_EARLY: u64 = 3;
const CLAIMED: u64 = 4;

/// Tracking is on (for submissions from now on).
static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn enable() {
    ENABLED.store(true, Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// One slot, viewed across its chunk's three fields.
struct Slot<'a> {
    /// generation << 8 | state
    state: &'a AtomicU64,
    /// The aiocb's address.
    aiocb: &'a AtomicU64,
    /// Next free slot + 1 (free list link).
    next: &'a AtomicU64,
}

/// A request's slot: index and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotRef {
    index: u32,
    gen: u64,
}

/// Slots per chunk (96 KiB: three words a slot; a few under Miri, whose interpretation of a
/// whole chunk's slots takes minutes).
const CHUNK: usize = if cfg!(miri) { 64 } else { 4096 };

pub struct Tracker {
    /// Slots, at most u32::MAX (a slot's index + 1 is stored in 32 bits).
    slots: usize,
    /// Chunk `i` holds slots `i * CHUNK..`, by field: states, then aiocbs, then nexts (CHUNK
    /// words each). Made when a slot in it is first handed out, kept while the tracker lives
    /// (`aio_return` reads it without a lock).
    chunks: sys::ZeroedChunks,
    /// Slots never used yet start here.
    fresh: AtomicU32,
    /// Free list head: ABA tag << 32 | (index + 1).
    free: AtomicU64,
    in_use: AtomicUsize,
    /// Completed slots, (index, generation), oldest first.
    done: Mutex<VecDeque<(u32, u64)>>,
    /// Bumped by every completion while `waiters > 0`; the futex waiters sleep on.
    seq: AtomicU32,
    waiters: AtomicUsize,
}

impl Tracker {
    fn slots(&self) -> usize {
        self.slots
    }

    /// Slot `i`, if its chunk exists (it does for every slot ever handed out).
    fn try_slot(&self, i: usize) -> Option<Slot<'_>> {
        let c = self.chunks.get(i / CHUNK)?;
        let j = i % CHUNK;
        Some(Slot { state: &c[j], aiocb: &c[CHUNK + j], next: &c[2 * CHUNK + j] })
    }

    /// Slot `i`, handed out before (so its chunk exists).
    fn slot(&self, i: usize) -> Slot<'_> {
        self.try_slot(i).expect("a slot handed out has its chunk")
    }
}

fn word(gen: u64, st: u64) -> u64 {
    gen << 8 | st
}

impl Tracker {
    /// A tracker of `capacity` slots (at most u32::MAX); EAGAIN if even the chunk directory
    /// cannot be allocated.
    pub fn new(capacity: usize) -> Result<Tracker, Errno> {
        let slots = capacity.clamp(1, u32::MAX as usize);
        Ok(Tracker {
            slots,
            chunks: sys::ZeroedChunks::new(slots.div_ceil(CHUNK), 3 * CHUNK)?,
            fresh: AtomicU32::new(0),
            free: AtomicU64::new(0),
            in_use: AtomicUsize::new(0),
            done: Mutex::new(VecDeque::new()),
            seq: AtomicU32::new(0),
            waiters: AtomicUsize::new(0),
        })
    }

    /// A slot for a new request on `aiocb`; EAGAIN when every slot holds an unretrieved request.
    pub fn alloc(&self, aiocb: usize) -> Result<SlotRef, Errno> {
        let index = match self.pop_free() {
            Some(i) => i,
            None => self.take_fresh()?,
        };
        let s = self.slot(index as usize);
        let gen = s.state.load(Acquire) >> 8;
        s.aiocb.store(aiocb as u64, Relaxed);
        s.state.store(word(gen, PENDING), Release);
        self.in_use.fetch_add(1, Relaxed);
        Ok(SlotRef { index, gen })
    }

    /// A slot never used before; its chunk is made before the slot is taken, so every slot
    /// handed out has one. EAGAIN when all are used, or memory is short.
    fn take_fresh(&self) -> Result<u32, Errno> {
        let mut i = self.fresh.load(Relaxed);
        loop {
            if i as usize >= self.slots() {
                return Err(libc::EAGAIN);
            }
            self.chunks.ensure(i as usize / CHUNK)?;
            match self.fresh.compare_exchange_weak(i, i + 1, Relaxed, Relaxed) {
                Ok(_) => return Ok(i),
                Err(cur) => i = cur,
            }
        }
    }

    fn pop_free(&self) -> Option<u32> {
        let mut h = self.free.load(Acquire);
        loop {
            let idx = (h & 0xffff_ffff) as u32;
            if idx == 0 {
                return None;
            }
            let next = self.slot(idx as usize - 1).next.load(Relaxed);
            let new = ((h >> 32).wrapping_add(1) << 32) | next;
            match self.free.compare_exchange_weak(h, new, AcqRel, Acquire) {
                Ok(_) => return Some(idx - 1),
                Err(cur) => h = cur,
            }
        }
    }

    /// Frees a slot in generation `gen` (its state must be ours to end). Async-signal-safe.
    fn release(&self, index: u32, gen: u64) {
        let s = self.slot(index as usize);
        s.aiocb.store(0, Relaxed);
        s.state.store(word(gen.wrapping_add(1) & ((1 << 56) - 1), FREE), Release);
        if self.in_use.fetch_sub(1, SeqCst) == 1 && self.waiters.load(SeqCst) > 0 {
            // The last tracked request is gone: sleepers must now answer EAGAIN.
            self.seq.fetch_add(1, SeqCst);
            sys::futex_wake(&self.seq, i32::MAX);
        }
        let mut h = self.free.load(Acquire);
        loop {
            s.next.store(h & 0xffff_ffff, Relaxed);
            let new = ((h >> 32).wrapping_add(1) << 32) | (index as u64 + 1);
            match self.free.compare_exchange_weak(h, new, AcqRel, Acquire) {
                Ok(_) => return,
                Err(cur) => h = cur,
            }
        }
    }

    /// The request's status is published: make it available to `aio_waitcomplete`.
    pub fn completed(&self, r: SlotRef) {
        let s = self.slot(r.index as usize);
        match s.state.compare_exchange(word(r.gen, PENDING), word(r.gen, COMPLETED), AcqRel, Acquire) {
            Ok(_) => {
                {
                    let mut q = self.done.lock();
                    q.push_back((r.index, r.gen));
                    // Entries of slots aio_return retrieved are skipped when popped; in a program
                    // that mostly uses aio_return they would pile up: prune them now and then.
                    if q.len() > 2 * self.in_use.load(Relaxed) + 64 {
                        q.retain(|&(i, g)| self.slot(i as usize).state.load(Acquire) == word(g, COMPLETED));
                    }
                }
                if self.waiters.load(SeqCst) > 0 {
                    self.seq.fetch_add(1, SeqCst);
                    sys::futex_wake(&self.seq, i32::MAX);
                }
            }
            // aio_return took the status before we got here.
            Err(w) if w == word(r.gen, RETURNED_EARLY) => self.release(r.index, r.gen),
            Err(_) => {}
        }
    }

    /// The request was withdrawn (its submission failed): nobody will retrieve it.
    pub fn discard(&self, r: SlotRef) {
        let s = self.slot(r.index as usize);
        let w = s.state.load(Acquire);
        if w == word(r.gen, PENDING) || w == word(r.gen, RETURNED_EARLY) {
            self.release(r.index, r.gen);
        }
    }

    /// `aio_return` (or a resubmission) of the aiocb at `aiocb`, whose reserved word names slot
    /// `r`. Err(EINVAL) if `aio_waitcomplete` has claimed its status. Async-signal-safe.
    pub fn retrieve(&self, r: SlotRef, aiocb: usize) -> Result<(), Errno> {
        let Some(s) = self.try_slot(r.index as usize) else { return Ok(()) };
        if s.aiocb.load(Acquire) != aiocb as u64 {
            return Ok(()); // not (any longer) this aiocb's slot
        }
        let mut w = s.state.load(Acquire);
        loop {
            if w >> 8 != r.gen {
                return Ok(());
            }
            let (new, free) = match w & 0xff {
                PENDING => (word(r.gen, RETURNED_EARLY), false),
                COMPLETED => (word(r.gen, CLAIMED), true),
                CLAIMED => return Err(libc::EINVAL),
                _ => return Ok(()),
            };
            match s.state.compare_exchange(w, new, AcqRel, Acquire) {
                Ok(_) => {
                    if free {
                        self.release(r.index, r.gen);
                    }
                    return Ok(());
                }
                Err(cur) => w = cur,
            }
        }
    }

    /// Takes the oldest completed, unretrieved request: its aiocb address. The caller has
    /// claimed its status and must retrieve it and then call `finish_claim`.
    fn take(&self) -> Option<(SlotRef, usize)> {
        loop {
            let (index, gen) = self.done.lock().pop_front()?;
            let s = self.slot(index as usize);
            if s.state.compare_exchange(word(gen, COMPLETED), word(gen, CLAIMED), AcqRel, Acquire).is_ok() {
                return Some((SlotRef { index, gen }, s.aiocb.load(Acquire) as usize));
            }
        }
    }

    pub fn finish_claim(&self, r: SlotRef) {
        self.release(r.index, r.gen);
    }

    /// Waits for a completed tracked request (see `aio_waitcomplete`): its slot and aiocb.
    /// EAGAIN at the deadline or when nothing is tracked; EINTR when a signal handler ran.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<(SlotRef, usize), Errno> {
        // No timeout: a deadline centuries away rather than none, so that a signal handler ends
        // the wait with EINTR even under SA_RESTART (FreeBSD's behaviour; an untimed futex
        // wait would be restarted by the kernel).
        let deadline = Some(sys::deadline_after(timeout.unwrap_or(Duration::from_secs(1 << 40))));
        loop {
            let seen = self.seq.load(SeqCst);
            self.waiters.fetch_add(1, SeqCst);
            let got = self.take();
            if got.is_some() || self.in_use.load(SeqCst) == 0 {
                self.waiters.fetch_sub(1, SeqCst);
                return got.ok_or(libc::EAGAIN);
            }
            if deadline.as_ref().is_some_and(sys::passed) {
                self.waiters.fetch_sub(1, SeqCst);
                return Err(libc::EAGAIN);
            }
            // A cancellation point, like aio_suspend: a cancelled waiter leaves `waiters`
            // through the cleanup handler.
            let r = sys::futex_wait_until_cancellable(&self.seq, seen, deadline.as_ref(), Some(&self.waiters));
            self.waiters.fetch_sub(1, SeqCst);
            if r == Err(libc::EINTR) {
                // A handler ran. If a request completed meanwhile (the signal may be its own
                // notification), that is the answer: EINTR means none did.
                return self.take().ok_or(libc::EINTR);
            }
        }
    }
}

impl Tracker {
    /// `aio_return` (or a resubmission) of the aiocb at `aiocb` whose reserved word is `word`:
    /// takes its slot out of consideration, or Err(EINVAL) if `aio_waitcomplete` claimed it.
    /// Async-signal-safe.
    pub fn on_return(&self, aiocb: usize, word: u64, fork_gen: u32) -> Result<(), Errno> {
        match decode(word, fork_gen, self) {
            Some(r) => self.retrieve(r, aiocb),
            None => Ok(()),
        }
    }
}

/// The aiocb reserved word for a slot: index + 1 (0 = no slot), 24 bits of generation, 8 bits
/// of fork generation (a slot of the parent means nothing in a child).
pub fn encode(r: SlotRef, fork_gen: u32) -> u64 {
    (r.index as u64 + 1) | (r.gen & 0xff_ffff) << 32 | ((fork_gen as u64 & 0xff) << 56)
}

/// Decodes a reserved word; None if it names no slot of this process (fork generation).
/// The generation is completed from the slot's current one (24 bits are compared).
pub fn decode(w: u64, fork_gen: u32, t: &Tracker) -> Option<SlotRef> {
    let index = (w & 0xffff_ffff) as u32;
    if index == 0 || (w >> 56) != fork_gen as u64 & 0xff {
        return None;
    }
    let index = index - 1;
    let cur = t.try_slot(index as usize)?.state.load(Acquire) >> 8;
    let low = (w >> 32) & 0xff_ffff;
    (cur & 0xff_ffff == low).then_some(SlotRef { index, gen: cur })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waitcomplete_and_return_race_for_one_status() {
        let t = Tracker::new(4).unwrap();
        let a = t.alloc(0x1000).unwrap();
        let b = t.alloc(0x2000).unwrap();
        t.completed(a);
        // aio_return before the completer marked b: the completer frees it.
        t.retrieve(b, 0x2000).unwrap();
        t.completed(b);
        assert_eq!(t.in_use.load(Relaxed), 1);
        let (s, addr) = t.wait(Some(Duration::ZERO)).unwrap();
        assert_eq!((s, addr), (a, 0x1000));
        assert_eq!(t.retrieve(a, 0x1000), Err(libc::EINVAL), "claimed by aio_waitcomplete");
        t.finish_claim(s);
        assert_eq!(t.wait(Some(Duration::ZERO)), Err(libc::EAGAIN), "nothing tracked");
        // After release the old generation names nothing.
        assert_eq!(t.retrieve(a, 0x1000), Ok(()));
    }

    #[test]
    fn returned_entries_are_skipped_and_slots_reused() {
        let t = Tracker::new(2).unwrap();
        let a = t.alloc(1).unwrap();
        let b = t.alloc(2).unwrap();
        assert_eq!(t.alloc(3), Err(libc::EAGAIN), "full");
        t.completed(a);
        t.completed(b);
        t.retrieve(a, 1).unwrap(); // aio_return frees a at once
        let c = t.alloc(3).unwrap();
        assert_eq!(c.index, a.index);
        assert_ne!(c.gen, a.gen);
        assert_eq!(decode(encode(a, 0), 0, &t), None, "stale generation");
        assert_eq!(decode(encode(c, 0), 0, &t), Some(c));
        assert_eq!(decode(encode(c, 0), 1, &t), None, "other fork generation");
        let (s, addr) = t.wait(Some(Duration::ZERO)).unwrap();
        assert_eq!((s, addr), (b, 2), "a's queue entry was skipped");
        t.finish_claim(s);
        assert_eq!(t.wait(Some(Duration::from_millis(20))), Err(libc::EAGAIN), "c pending: times out");
    }

    #[test]
    // (Under Miri, dropping the million-entry chunk directory alone takes minutes.)
    #[cfg_attr(miri, ignore)]
    fn a_limit_of_billions_costs_only_what_is_used() {
        // RTAIO_MAX_REQUESTS=4294967295 made three 32 GiB arrays: an abort at the first request.
        for cap in [u32::MAX as usize, usize::MAX] {
            let t = Tracker::new(cap).unwrap();
            assert_eq!(t.slots(), u32::MAX as usize);
            let a = t.alloc(0x1000).unwrap();
            t.completed(a);
            assert_eq!(t.wait(Some(Duration::ZERO)).map(|(_, p)| p), Ok(0x1000));
            assert_eq!(decode(encode(a, 0), 0, &t).map(|r| r.index), Some(a.index));
            // A word naming a slot whose chunk was never made names nothing.
            assert_eq!(decode(u32::MAX as u64, 0, &t), None);
        }
    }

    #[test]
    fn slots_across_chunks() {
        let t = Tracker::new(CHUNK + 2).unwrap();
        let all: Vec<SlotRef> = (0..CHUNK + 2).map(|i| t.alloc(i + 1).unwrap()).collect();
        assert_eq!(t.alloc(0), Err(libc::EAGAIN), "full");
        let last = all[CHUNK + 1];
        assert_eq!(last.index as usize, CHUNK + 1);
        t.completed(last);
        t.retrieve(last, CHUNK + 2).unwrap();
        assert_eq!(t.alloc(7).unwrap().index, last.index, "freed in the second chunk, reused");
    }
}
