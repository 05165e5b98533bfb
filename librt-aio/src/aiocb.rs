//! The aiocb view: rtaio's only access to the caller's `struct aiocb` (one of the few `unsafe`
//! modules; it imports nothing of the library but the ABI).
//!
//! An [`AiocbRef`] is made from a caller's pointer once, in the FFI shell; everything else is
//! safe methods. The caller's side of the contract (POSIX's): the aiocb is valid memory for
//! the duration of the call, and stays valid from submission until the request completes; so
//! does the buffer it names, which the view hands out as an [`IoBuf`] — the promise every
//! executor's I/O rests on is made here, once.
//!
//! Private state, kept only in fields glibc reserves for the implementation:
//!
//! | field                      | meaning                                                    |
//! |----------------------------|------------------------------------------------------------|
//! | `__glibc_reserved[0]`      | tag = process secret XOR the aiocb's address: "rtaio accepted this aiocb" |
//! | `__glibc_reserved[1]` lo32 | status word, also the futex `aio_suspend` sleeps on         |
//! | `__glibc_reserved[1]` hi32 | fork generation of the process that submitted it            |
//! | `__glibc_reserved[2]`      | its `aio_waitcomplete` slot, if tracked (`track.rs`)         |
//! | `__glibc_reserved[3]`      | seal of the final result: the secret mixed with error and value |
//! | `__error_code`             | final errno, valid once the status word says DONE           |
//! | `__return_value`           | final return value, valid once the status word says DONE    |
//!
//! Publication order: result fields, then the status word (release); the publisher then wakes
//! the word's sleepers if the WAITERS flag was set. After the status word says DONE the
//! completing thread never touches the aiocb again: the caller may free it at once.
//! `aio_error`/`aio_return` read only these fields of the aiocb itself, never a pointer stored
//! in it, so they are lock-free, allocation-free and async-signal-safe, and garbage in a
//! never-submitted aiocb cannot make them dereference anything.

use std::marker::PhantomData;
use std::ptr::{addr_of, NonNull};
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering::*};

use kernel_aio::IoBuf;

use crate::abi::{Aiocb, Sigevent, IOV_MAX};

/// Status word values (low bits) and the "someone sleeps on this word" flag.
pub const ST_IN_PROGRESS: u32 = 1;
pub const ST_DONE: u32 = 2;
pub const ST_RETURNED: u32 = 3;
pub const ST_MASK: u32 = 0xf;
pub const ST_WAITERS: u32 = 0x10;
/// The request's completion will arrive in native AIO's ring (not reaped yet): a thread may
/// wait for it in the kernel (`Executor::kernel_wait`) instead of on the status word.
pub const ST_IN_KERNEL: u32 = 0x20;
/// The same for io_uring's completion queue.
pub const ST_IN_RING: u32 = 0x40;

/// The kernel queue a request's completion is to come from, where a thread may wait for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelQueue {
    /// Native AIO's ring ([`ST_IN_KERNEL`]).
    Aio,
    /// io_uring's completion queue ([`ST_IN_RING`]).
    Uring,
}

impl KernelQueue {
    const fn bit(self) -> u32 {
        match self {
            KernelQueue::Aio => ST_IN_KERNEL,
            KernelQueue::Uring => ST_IN_RING,
        }
    }
}

static SECRET: AtomicU64 = AtomicU64::new(0);
static FORK_GEN: AtomicU32 = AtomicU32::new(0);

/// The seal of a final result: the secret mixed with the error and the value (splitmix64's
/// finaliser: garbage in a never-submitted aiocb matches it about once in 2^64).
fn seal(error: i32, value: i64) -> u64 {
    let mut x = secret() ^ (value as u64).rotate_left(29) ^ ((error as u32 as u64) << 7) ^ 0x5ea1_u64;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The per-process secret; 0 until the first submission creates it.
fn secret() -> u64 {
    SECRET.load(Relaxed)
}

/// Sets the secret from `random` on first use (idempotent, race-free).
pub fn init_secret(random: u64) {
    let v = if random == 0 { 0x9e37_79b9_7f4a_7c15 } else { random };
    let _ = SECRET.compare_exchange(0, v, Relaxed, Relaxed);
}

pub fn fork_gen() -> u32 {
    FORK_GEN.load(Relaxed)
}

/// Called in the child after fork(): requests in flight belong to the parent.
pub fn bump_fork_gen() {
    FORK_GEN.fetch_add(1, Relaxed);
}

/// What `aio_error` would say of an aiocb.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not an aiocb rtaio accepted in this process (never submitted, overwritten, returned,
    /// or in flight in the parent of a fork).
    Unknown,
    InProgress,
    Done {
        error: i32,
        value: isize,
    },
    /// Its value was taken by `aio_return`; `aio_error` still answers the final error until
    /// the aiocb is submitted again (as glibc does: programs read the value, then the error).
    Returned {
        error: i32,
    },
}

#[derive(Clone, Copy)]
pub struct AiocbRef<'a> {
    p: NonNull<Aiocb>,
    _life: PhantomData<&'a Aiocb>,
}

// SAFETY: an AiocbRef is an address plus the caller's validity promise; the fields it touches
// concurrently are accessed through atomics.
unsafe impl Send for AiocbRef<'_> {}
unsafe impl Sync for AiocbRef<'_> {}

impl<'a> AiocbRef<'a> {
    /// # Safety
    /// `p` is NULL or points to a `struct aiocb` valid for reads and writes for `'a`.
    pub unsafe fn from_ptr(p: *const Aiocb) -> Option<Self> {
        NonNull::new(p as *mut Aiocb).map(|p| AiocbRef { p, _life: PhantomData })
    }

    /// Rebuilds the view of an in-flight request's aiocb from its address.
    ///
    /// # Safety
    /// `addr` came from [`AiocbRef::addr`] of a request that has not been published DONE yet.
    pub unsafe fn from_addr(addr: usize) -> AiocbRef<'static> {
        // SAFETY: a request's aiocb address is never 0 (it came from a non-NULL pointer).
        AiocbRef { p: unsafe { NonNull::new_unchecked(addr as *mut Aiocb) }, _life: PhantomData }
    }

    /// A zeroed aiocb that lives as long as the process, for unit tests of the layers above
    /// (kept in a static, so that Miri's leak check sees it reachable).
    #[cfg(test)]
    pub fn leaked_for_test() -> AiocbRef<'static> {
        // Only held, never read: the pointer in the static is what keeps the aiocb reachable.
        struct Kept(#[allow(dead_code)] *mut Aiocb);
        // SAFETY: only the address is shared; the tests reach the aiocb through views.
        unsafe impl Send for Kept {}
        static KEPT: std::sync::Mutex<Vec<Kept>> = std::sync::Mutex::new(Vec::new());
        // SAFETY: Aiocb is plain data, all-zero is a valid value.
        let p = Box::into_raw(Box::new(unsafe { std::mem::zeroed::<Aiocb>() }));
        KEPT.lock().unwrap().push(Kept(p));
        // SAFETY: never freed (the static keeps the pointer, with its provenance, so Miri sees
        // it reachable): the view is valid for 'static.
        unsafe { AiocbRef::from_ptr(p) }.expect("non-NULL")
    }

    /// Sets the caller-owned fields a submission reads (unit tests of the layers above).
    #[cfg(test)]
    pub fn fill_for_test(&self, fd: i32, ev: Sigevent) {
        // SAFETY: valid aiocb per the constructor's contract; tests own it.
        unsafe {
            (*self.raw()).aio_fildes = fd;
            (*self.raw()).aio_sigevent = ev;
        }
    }

    pub fn addr(&self) -> usize {
        self.p.as_ptr() as usize
    }

    fn raw(&self) -> *mut Aiocb {
        self.p.as_ptr()
    }

    // --- caller-owned fields (read at submission) --------------------------------------------

    pub fn fildes(&self) -> i32 {
        // SAFETY: valid aiocb per the constructor's contract.
        unsafe { addr_of!((*self.raw()).aio_fildes).read_volatile() }
    }
    pub fn lio_opcode(&self) -> i32 {
        // SAFETY: as above.
        unsafe { addr_of!((*self.raw()).aio_lio_opcode).read_volatile() }
    }
    pub fn reqprio(&self) -> i32 {
        // SAFETY: as above.
        unsafe { addr_of!((*self.raw()).aio_reqprio).read_volatile() }
    }
    pub fn buf(&self) -> usize {
        // SAFETY: as above.
        unsafe { addr_of!((*self.raw()).aio_buf).read_volatile() as usize }
    }
    pub fn nbytes(&self) -> usize {
        // SAFETY: as above.
        unsafe { addr_of!((*self.raw()).aio_nbytes).read_volatile() }
    }
    pub fn offset(&self) -> i64 {
        // SAFETY: as above.
        unsafe { addr_of!((*self.raw()).aio_offset).read_volatile() }
    }
    pub fn sigevent(&self) -> Sigevent {
        // SAFETY: as above; Sigevent is plain data.
        unsafe { addr_of!((*self.raw()).aio_sigevent).read_volatile() }
    }

    /// The request's buffer (`aio_buf`, `aio_nbytes`).
    pub fn buffer(&self) -> IoBuf {
        // SAFETY: POSIX reserves the aiocb's buffer for the request from submission until it
        // completes; a range the process cannot access makes the transfer fail with EFAULT.
        unsafe { IoBuf::new(self.buf(), self.nbytes()) }
    }

    /// A vectored request's segments (`aio_iov`/`aio_iovcnt`, rtaio.h), copied. EINVAL for more
    /// than IOV_MAX, a NULL array with a nonzero count, or a total above SSIZE_MAX.
    pub fn iovecs(&self) -> Result<Box<[IoBuf]>, i32> {
        let (ptr, n) = (self.buf(), self.nbytes());
        if n > IOV_MAX || (ptr == 0 && n > 0) {
            return Err(libc::EINVAL);
        }
        // SAFETY: for a vectored request aio_buf points to aio_nbytes iovecs (rtaio.h's
        // contract, as for any buffer pointer), and each segment is reserved for the request
        // until it completes, like aio_buf; IoBuf has the layout of struct iovec.
        let v: Box<[IoBuf]> = (0..n).map(|i| unsafe { (ptr as *const IoBuf).add(i).read_unaligned() }).collect();
        match IoBuf::total(&v) {
            Some(_) => Ok(v),
            None => Err(libc::EINVAL),
        }
    }

    // --- private fields -------------------------------------------------------------------------

    fn tag(&self) -> &AtomicU64 {
        // SAFETY: `__glibc_reserved` is 8-aligned (offset 136, asserted in abi.rs) and belongs to
        // the implementation; AtomicU64 has the layout of u64.
        unsafe { &*(addr_of!((*self.raw()).__glibc_reserved[0]) as *const AtomicU64) }
    }
    /// The status word; also a futex.
    pub fn state(&self) -> &AtomicU32 {
        // SAFETY: low half of reserved[1] (offset 144, 4-aligned), implementation-owned.
        unsafe { &*(addr_of!((*self.raw()).__glibc_reserved[1]) as *const AtomicU32) }
    }
    fn owner_gen(&self) -> &AtomicU32 {
        // SAFETY: high half of reserved[1] (offset 148, 4-aligned), implementation-owned.
        unsafe { &*((addr_of!((*self.raw()).__glibc_reserved[1]) as *const AtomicU32).add(1)) }
    }
    /// The tracking slot word (`track::encode`), 0 if untracked.
    fn track_word(&self) -> &AtomicU64 {
        // SAFETY: reserved[2] (offset 152, 8-aligned), implementation-owned.
        unsafe { &*(addr_of!((*self.raw()).__glibc_reserved[2]) as *const AtomicU64) }
    }
    /// The seal of the final result ([`seal`]).
    fn seal_word(&self) -> &AtomicU64 {
        // SAFETY: reserved[3] (offset 160, 8-aligned), implementation-owned.
        unsafe { &*(addr_of!((*self.raw()).__glibc_reserved[3]) as *const AtomicU64) }
    }
    fn error_code(&self) -> &AtomicI32 {
        // SAFETY: `__error_code` is an implementation-owned, 4-aligned int (offset 112).
        unsafe { &*(addr_of!((*self.raw()).__error_code) as *const AtomicI32) }
    }
    fn return_value(&self) -> &AtomicI64 {
        // SAFETY: `__return_value` is an implementation-owned, 8-aligned ssize_t (offset 120).
        unsafe { &*(addr_of!((*self.raw()).__return_value) as *const AtomicI64) }
    }

    fn expected_tag(&self) -> u64 {
        secret() ^ self.addr() as u64
    }

    fn is_tagged(&self) -> bool {
        let s = secret();
        s != 0 && self.tag().load(Relaxed) == self.expected_tag()
    }

    /// A copy, made after its request completed, of an aiocb rtaio completed (an array the
    /// application moved, freeing the old one): its tag names the old address, but its final
    /// result is whole and sealed, and glibc, which reads the result fields, would report it.
    /// Its status word (exactly DONE or RETURNED), if so. Not a tracked request's
    /// (`aio_waitcomplete` knows it by its address).
    fn sealed_copy(&self) -> Option<u32> {
        let st = self.state().load(Acquire);
        let sealed = secret() != 0
            && (st == ST_DONE || st == ST_RETURNED)
            && self.track_word().load(Relaxed) == 0
            && self.seal_word().load(Relaxed)
                == seal(self.error_code().load(Relaxed), self.return_value().load(Relaxed));
        sealed.then_some(st)
    }

    /// Does this aiocb (not a copy) hold a completed request's status that was not retrieved?
    pub fn holds_unreturned(&self) -> bool {
        self.is_tagged() && matches!(self.status(), Status::Done { .. })
    }

    /// The status as `aio_error` sees it. Lock-free and async-signal-safe.
    pub fn status(&self) -> Status {
        if !self.is_tagged() {
            return match self.sealed_copy() {
                Some(ST_DONE) => Status::Done {
                    error: self.error_code().load(Relaxed),
                    value: self.return_value().load(Relaxed) as isize,
                },
                Some(_) => Status::Returned { error: self.error_code().load(Relaxed) },
                None => Status::Unknown,
            };
        }
        let st = self.state().load(Acquire);
        match st & ST_MASK {
            ST_IN_PROGRESS if self.owner_gen().load(Relaxed) == fork_gen() => Status::InProgress,
            ST_DONE => Status::Done {
                error: self.error_code().load(Relaxed),
                value: self.return_value().load(Relaxed) as isize,
            },
            ST_RETURNED => Status::Returned { error: self.error_code().load(Relaxed) },
            _ => Status::Unknown,
        }
    }

    /// `aio_return`: takes the result of a completed request, once. `retrieve` is given the
    /// request's tracking word (`track.rs`; 0 if untracked) first and may refuse: a status
    /// `aio_waitcomplete` has claimed. Async-signal-safe.
    pub fn take_return(&self, retrieve: impl FnOnce(u64) -> Result<(), i32>) -> Result<isize, i32> {
        if !self.is_tagged() {
            return match self.sealed_copy() {
                Some(ST_DONE) => self.take_done(ST_DONE).map(|(v, _)| v),
                _ => Err(libc::EINVAL),
            };
        }
        let st = self.state().load(Acquire);
        match st & ST_MASK {
            ST_DONE => {
                retrieve(self.track_word().load(Relaxed))?;
                self.take_done(st).map(|(v, _)| v)
            }
            ST_IN_PROGRESS if self.owner_gen().load(Relaxed) == fork_gen() => Err(libc::EINPROGRESS),
            _ => Err(libc::EINVAL),
        }
    }

    /// `aio_waitcomplete` after it claimed this tracked request's status: takes it as
    /// `aio_return` would, with its error: (value, error).
    pub fn take_claimed(&self) -> Result<(isize, i32), i32> {
        let st = self.state().load(Acquire);
        if !self.is_tagged() || st & ST_MASK != ST_DONE {
            return Err(libc::EINVAL);
        }
        self.take_done(st)
    }

    fn take_done(&self, st: u32) -> Result<(isize, i32), i32> {
        let v = self.return_value().load(Relaxed) as isize;
        let e = self.error_code().load(Relaxed);
        match self.state().compare_exchange(st, ST_RETURNED, AcqRel, Acquire) {
            Ok(_) => Ok((v, e)),
            Err(_) => Err(libc::EINVAL),
        }
    }

    /// The tracking slot word of the previous request on this aiocb, if rtaio accepted one.
    pub fn previous_track_word(&self) -> u64 {
        if self.is_tagged() {
            self.track_word().load(Relaxed)
        } else {
            0
        }
    }

    /// Marks the aiocb as an in-progress request of this process. Called once a submission has
    /// been accepted and before the request can possibly complete.
    pub fn begin(&self, track_word: u64) {
        self.track_word().store(track_word, Relaxed);
        self.error_code().store(libc::EINPROGRESS, Relaxed);
        self.return_value().store(0, Relaxed);
        self.owner_gen().store(fork_gen(), Relaxed);
        self.tag().store(self.expected_tag(), Relaxed);
        self.state().store(ST_IN_PROGRESS, Release);
    }

    /// Marks the aiocb as a request of this process that completed in its submitting call:
    /// `begin` and `publish` at once. It is never seen in progress, so no `aio_suspend` can have
    /// flagged itself on it (the status word's previous state cannot be in progress: `submit`
    /// refuses such an aiocb), and one release store makes it final, not a swap.
    pub fn begin_done(&self, track_word: u64, value: isize, error: i32) {
        self.track_word().store(track_word, Relaxed);
        self.error_code().store(error, Relaxed);
        self.return_value().store(value as i64, Relaxed);
        self.seal_word().store(seal(error, value as i64), Relaxed);
        self.owner_gen().store(fork_gen(), Relaxed);
        self.tag().store(self.expected_tag(), Relaxed);
        self.state().store(ST_DONE, Release);
    }

    /// Publishes the final result: the one way every path makes a status final. Returns the
    /// address of the status word if `aio_suspend` sleepers flagged it: the caller wakes them
    /// (the address is only a futex key by then). After this the aiocb must not be touched:
    /// the application may already reuse or free it.
    #[must_use = "sleepers flagged on the status word must be woken"]
    pub fn publish(&self, value: isize, error: i32) -> Option<usize> {
        let word = self.state().as_ptr() as usize;
        self.error_code().store(error, Relaxed);
        self.return_value().store(value as i64, Relaxed);
        self.seal_word().store(seal(error, value as i64), Relaxed);
        let old = self.state().swap(ST_DONE, SeqCst);
        (old & ST_WAITERS != 0).then_some(word)
    }

    /// Still in progress (as `aio_error` would say EINPROGRESS)?
    pub fn in_progress(&self) -> bool {
        self.status() == Status::InProgress
    }

    /// Marks (or unmarks) an in-progress request as one whose completion arrives in kernel
    /// queue `q`. Only its executor calls this, while it owns the request.
    pub fn set_in_kernel(&self, q: KernelQueue, on: bool) {
        if on {
            self.state().fetch_or(q.bit(), SeqCst);
        } else {
            self.state().fetch_and(!q.bit(), SeqCst);
        }
    }

    /// In progress, with its completion still to come from a kernel queue: which one.
    /// Async-signal-safe.
    pub fn awaits_kernel(&self) -> Option<KernelQueue> {
        if self.status() != Status::InProgress {
            return None; // (also an aiocb of the parent's, in a child after fork)
        }
        let s = self.state().load(SeqCst);
        [KernelQueue::Aio, KernelQueue::Uring].into_iter().find(|q| s & q.bit() != 0)
    }

    /// For `aio_suspend`: if the request is still in progress, sets the waiters flag and returns
    /// the status word value to sleep on; `None` when it is not (or no longer) in progress.
    pub fn arm_waiter(&self) -> Option<u32> {
        if self.status() != Status::InProgress {
            return None;
        }
        let w = self.state();
        let mut cur = w.load(SeqCst);
        loop {
            if cur & ST_MASK != ST_IN_PROGRESS {
                return None;
            }
            if cur & ST_WAITERS != 0 {
                return Some(cur);
            }
            match w.compare_exchange_weak(cur, cur | ST_WAITERS, SeqCst, SeqCst) {
                Ok(_) => return Some(cur | ST_WAITERS),
                Err(now) => cur = now,
            }
        }
    }
}

/// The application's sigevents (in an aiocb, or lio_listio's list sigevent) are views too.
impl Sigevent {
    /// Its SIGEV_THREAD fields as a callback; None for a NULL function.
    pub fn callback(&self) -> Option<crate::sys::Callback> {
        // SAFETY: a sigevent comes from the application (an aiocb, or lio_listio's list
        // sigevent); for SIGEV_THREAD, POSIX requires sigev_notify_function to be a function
        // taking a union sigval and sigev_notify_attributes to be NULL or valid attributes.
        (self.sigev_un0 != 0)
            .then(|| unsafe { crate::sys::Callback::new(self.sigev_un0, self.sigev_value, self.sigev_un1) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zeroed aiocb the test owns, as the raw pointer a C caller would pass (mutable
    /// provenance: rtaio writes its private fields through it). Freed on drop.
    struct Cb(*mut Aiocb);

    impl Drop for Cb {
        fn drop(&mut self) {
            // SAFETY: made by Box::into_raw in `zeroed`, freed once.
            drop(unsafe { Box::from_raw(self.0) });
        }
    }

    fn zeroed() -> Cb {
        // SAFETY: Aiocb is plain data; all-zero is a valid value.
        Cb(Box::into_raw(Box::new(unsafe { std::mem::zeroed() })))
    }

    #[test]
    fn lifecycle() {
        init_secret(0x1234_5678_9abc_def1);
        let cb = zeroed();
        // SAFETY: `cb` lives for the whole test.
        let r = unsafe { AiocbRef::from_ptr(cb.0) }.unwrap();
        assert_eq!(r.status(), Status::Unknown, "never submitted");
        let any = |_| Ok(());
        assert_eq!(r.take_return(any), Err(libc::EINVAL));
        r.begin(0);
        assert_eq!(r.status(), Status::InProgress);
        assert_eq!(r.take_return(any), Err(libc::EINPROGRESS));
        assert_eq!(r.arm_waiter(), Some(ST_IN_PROGRESS | ST_WAITERS));
        assert_eq!(r.publish(4096, 0), Some(r.state().as_ptr() as usize), "sleepers to wake");
        assert_eq!(r.status(), Status::Done { error: 0, value: 4096 });
        assert_eq!(r.arm_waiter(), None);
        assert_eq!(r.take_return(|_| Err(libc::EINVAL)), Err(libc::EINVAL), "retrieval refused");
        assert_eq!(r.take_return(any), Ok(4096));
        assert_eq!(r.status(), Status::Returned { error: 0 });
        assert_eq!(r.take_return(any), Err(libc::EINVAL), "second aio_return");
    }

    #[test]
    fn garbage_is_unknown_and_copies_only_once_complete() {
        init_secret(0x1234_5678_9abc_def1);
        let cb = zeroed();
        // SAFETY: filling a plain-data struct with bytes.
        unsafe { std::ptr::write_bytes(cb.0 as *mut u8, 0xa5, std::mem::size_of::<Aiocb>()) };
        // SAFETY: `cb` lives for the whole test.
        let r = unsafe { AiocbRef::from_ptr(cb.0) }.unwrap();
        assert_eq!(r.status(), Status::Unknown);
        let any = |_| Ok(());
        assert_eq!(r.take_return(any), Err(libc::EINVAL));
        r.begin(0);
        // A bytewise copy at another address: not a request while in progress...
        let copy = zeroed();
        let copy_now = |from: &Cb| {
            // SAFETY: both are valid, distinct Aiocb allocations.
            unsafe { std::ptr::copy_nonoverlapping(from.0, copy.0, 1) };
            // SAFETY: `copy` lives for the whole test.
            unsafe { AiocbRef::from_ptr(copy.0) }.unwrap()
        };
        assert_eq!(copy_now(&cb).status(), Status::Unknown);
        assert_eq!(r.publish(1, 0), None, "nobody slept on it");
        assert_eq!(r.status(), Status::Done { error: 0, value: 1 });
        // ...its final result once complete (an array the application moved), taken once.
        let c = copy_now(&cb);
        assert_eq!(c.status(), Status::Done { error: 0, value: 1 });
        assert_eq!(c.take_return(any), Ok(1));
        assert_eq!(c.status(), Status::Returned { error: 0 });
        assert_eq!(c.take_return(any), Err(libc::EINVAL));
        // A result changed since it was sealed is not one.
        let c = copy_now(&cb);
        c.return_value().store(2, Relaxed);
        assert_eq!(c.status(), Status::Unknown);
        assert_eq!(c.take_return(any), Err(libc::EINVAL));
        // Nor a tracked request's copy (aio_waitcomplete knows it by its address).
        let c = copy_now(&cb);
        c.track_word().store(7, Relaxed);
        assert_eq!(c.status(), Status::Unknown);
    }

    #[test]
    fn in_flight_at_fork_is_not_the_childs() {
        init_secret(0x1234_5678_9abc_def1);
        let cb = zeroed();
        // SAFETY: `cb` lives for the whole test.
        let r = unsafe { AiocbRef::from_ptr(cb.0) }.unwrap();
        r.begin(0);
        assert_eq!(r.status(), Status::InProgress);
        // Simulate being the child: the generation moves on.
        r.owner_gen().store(fork_gen().wrapping_sub(1), Relaxed);
        assert_eq!(r.status(), Status::Unknown);
        assert_eq!(r.arm_waiter(), None);
    }
}
