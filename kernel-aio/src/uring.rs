//! io_uring: one of this crate's `unsafe` files (through the `io-uring` crate, which keeps the
//! rings' memory and its own `unsafe`).
//!
//! Every kind of request is asynchronous here: buffered reads and writes run in the kernel's
//! own workers (io-wq) or complete from the page cache's wake-ups when they would block,
//! sockets and pipes are driven by polling (IORING_FEAT_FAST_POLL: no thread waits for data),
//! O_DIRECT goes straight to the device.
//!
//! Who enters the ring matters: the kernel cancels the requests a thread submitted when that
//! thread exits (its io-wq workers and its pending task work go with it: a read on a pipe and
//! a write punted to io-wq both complete with ECANCELED). So the caller's threads only *queue*
//! entries ([`Ring::push`]); one long-lived thread of the caller submits them and waits
//! ([`Ring::enter`]). Anyone may reap ([`Ring::try_reap`]: a look at the queue's tail, then
//! a try-lock held with every signal blocked, no allocation: usable in a signal handler, which
//! never finds the queue taken by the frame it interrupted). A [`Doorbell`] lets a queueing
//! thread wake the submitter sleeping in the ring.
//!
//! Each request's `user_data` is one strong reference to its owner (`Arc::into_raw`), taken
//! back when its completion is reaped or when the kernel never saw it: nothing the kernel may
//! still use is freed, and every reference comes back exactly once. `user_data` 0 is the
//! doorbell's.
//! Available since Linux 5.6 (READ, WRITE and IORING_FEAT_RW_CUR_POS); the kernel's probe
//! says which opcodes it has.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};

use crate::{Cmd, Op, Refused};

/// The doorbell's `user_data`.
const DOORBELL: u64 = 0;

/// The completion queue's "anything posted?" snapshot, shared by the threads that reap.
struct CqStatus(io_uring::cqueue::CompletionStatus);

// SAFETY: CompletionStatus holds two pointers into the ring's mapping, which lives as long as
// the `Ring` that holds both; it only loads through them (the kernel's tail with Acquire, the
// head that reapers store under `cq_busy`: a stale head only makes the queue look fuller, and
// a full look then takes the queue and reads it properly).
unsafe impl Send for CqStatus {}
// SAFETY: as for Send: loads only, from any thread.
unsafe impl Sync for CqStatus {}

thread_local! {
    /// This thread blocks every signal for its whole life ([`signals_blocked_for_good`]).
    static MASKED: Cell<bool> = const { Cell::new(false) };
}

/// Says that the calling thread keeps every signal blocked until it ends (the submitter):
/// its reaping then skips [`NoHandlers`]' two system calls.
pub fn signals_blocked_for_good() {
    MASKED.with(|m| m.set(true));
}

/// Every signal blocked on this thread while it lives, so that no handler runs while the
/// completion queue is this thread's: a handler that reaps (aio_error, aio_suspend) would find
/// it taken by the very frame it interrupted, and nobody could reap the completion it waits
/// for until it returned — it would wait for ever. Raw `rt_sigprocmask`: async-signal-safe,
/// and glibc's own signals are held back too (for these few microseconds). Public for the same
/// guard elsewhere (a thread running a request someone may wait for in a handler).
pub struct NoHandlers(Option<libc::sigset_t>);

/// The kernel's signal set: 64 bits on Linux, whatever libc's `sigset_t` reserves.
const KERNEL_SIGSET: usize = 8;

impl NoHandlers {
    pub fn hold() -> NoHandlers {
        if MASKED.with(|m| m.get()) {
            return NoHandlers(None);
        }
        // SAFETY: sigset_t is plain data (all zeroes is an empty set); sigfillset writes the
        // local `all`; rt_sigprocmask reads KERNEL_SIGSET bytes of `all` and writes as many of
        // `old`, both live locals at least that large.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            let r = libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, &all, &mut old, KERNEL_SIGSET);
            NoHandlers((r == 0).then_some(old))
        }
    }
}

impl Drop for NoHandlers {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            // SAFETY: restores the mask `new` saved; reads KERNEL_SIGSET bytes of a live local.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigprocmask,
                    libc::SIG_SETMASK,
                    old,
                    std::ptr::null_mut::<libc::sigset_t>(),
                    KERNEL_SIGSET,
                )
            };
        }
    }
}

/// An io_uring instance shared by every thread of the process (not by a child after fork:
/// its memory is not inherited, and the caller closes its descriptor there).
pub struct Ring<T> {
    ring: IoUring,
    /// Guards the submission queue (queueing threads and the submitter), and says where each
    /// queued batch ends.
    sq: Mutex<Batches>,
    /// Guards the completion queue: taken with a try-lock only, so reaping never waits; held
    /// with every signal blocked ([`NoHandlers`]), so a handler never interrupts its holder.
    cq_busy: AtomicBool,
    cq_entries: usize,
    /// Whether the completion queue looks empty, without taking it: most reaps find nothing,
    /// and those cost no system call ([`NoHandlers`]).
    cq_status: CqStatus,
    /// Entries per submitting call (`submit_queued`): ONE_CALL while the last calls' entries
    /// completed within them.
    per_call: AtomicU32,
    _owners: PhantomData<fn(Arc<T>) -> Arc<T>>,
}

/// Where the batches queued and not yet handed to the kernel end (a batch: one `push`, such as
/// a `lio_listio` list), as counts of entries queued since the ring was made (wrapping).
struct Batches {
    queued_total: u32,
    ends: VecDeque<u32>,
}

impl Batches {
    /// Queued entries the kernel has not taken (`left`, from the queue itself): the size of the
    /// oldest batch not wholly handed over, or 0. Forgets the batches handed over.
    fn oldest_left(&mut self, left: u32) -> u32 {
        let taken = self.queued_total.wrapping_sub(left);
        while self.ends.front().is_some_and(|&e| e.wrapping_sub(taken) as i32 <= 0) {
            self.ends.pop_front();
        }
        self.ends.front().map_or(0, |&e| e.wrapping_sub(taken))
    }

    /// A batch of `n` entries queued behind `left` the kernel has not taken yet (the batches
    /// it took are forgotten first: the record never outgrows the queue).
    fn queued(&mut self, left: u32, n: u32) {
        self.oldest_left(left);
        if n > 0 {
            self.queued_total = self.queued_total.wrapping_add(n);
            self.ends.push_back(self.queued_total);
        }
    }
}

/// `submit_queued`'s calls: a few entries each, or everything queued in one.
const FEW_PER_CALL: u32 = 2;
const ONE_CALL: u32 = u32::MAX;

/// What a cancel found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canceled {
    /// It has ended: cancelled (its completion reports -ECANCELED) or, if a worker was
    /// performing it, complete.
    Ended,
    /// Being cancelled: its completion will say how it ended.
    Attempted,
    /// Complete before, not in the ring (still queued for the submitter), or no sync cancel.
    NotFound,
}

/// What a wait in the ring ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waited {
    /// Completions arrived, or the timeout passed.
    Ready,
    /// A signal handler ran (EINTR).
    Interrupted,
}

impl<T: Send + Sync + 'static> Ring<T> {
    /// A ring with `entries` submission entries (the completion queue gets twice as many).
    /// Errors as io_uring_setup's: ENOSYS (no io_uring), EPERM (`kernel.io_uring_disabled`, a
    /// seccomp policy), ENOMEM (RLIMIT_MEMLOCK on kernels before 5.12)...; EOPNOTSUPP when the
    /// kernel lacks an opcode or feature rtaio needs.
    pub fn new(entries: u32) -> io::Result<Ring<T>> {
        let ring = IoUring::builder().dontfork().setup_cqsize(entries * 2).setup_clamp().build(entries)?;
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        let needed = [
            opcode::Read::CODE,
            opcode::Write::CODE,
            opcode::Readv::CODE,
            opcode::Writev::CODE,
            opcode::Fsync::CODE,
            opcode::PollAdd::CODE,
        ];
        let p = ring.params();
        if !needed.iter().all(|&op| probe.is_supported(op))
            || !p.is_feature_rw_cur_pos()
            || !p.is_feature_nodrop()
            || !p.is_feature_ext_arg()
        {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        // SAFETY: no other thread has the ring yet; the view reads the size and the queue's
        // head and tail pointers (valid as long as `ring`, which `Ring` keeps beside them).
        let (cq_entries, cq_status) = {
            let cq = unsafe { ring.completion_shared() };
            (cq.capacity(), CqStatus(unsafe { cq.status() }))
        };
        // No batch is smaller than one entry: never more batches than the queue holds (the
        // record is made once, never grown under the lock).
        let ends = VecDeque::with_capacity(p.sq_entries() as usize + 1);
        Ok(Ring {
            ring,
            sq: Mutex::new(Batches { queued_total: 0, ends }),
            cq_busy: AtomicBool::new(false),
            cq_entries,
            cq_status,
            per_call: AtomicU32::new(FEW_PER_CALL),
            _owners: PhantomData,
        })
    }

    /// The ring's descriptor (close-on-exec; a child after fork closes it).
    pub fn fd(&self) -> i32 {
        self.ring.as_raw_fd()
    }

    /// Has the kernel add 1 to the eventfd `efd` for every completion it posts from now on
    /// (IORING_REGISTER_EVENTFD): a thread may then wait for completions by reading it, with a
    /// read's handling of signals, instead of in the ring. The kernel keeps its own reference.
    pub fn notify_completions(&self, efd: i32) -> io::Result<()> {
        self.ring.submitter().register_eventfd(efd)
    }

    /// Completion queue entries: more requests than this in flight at once would overflow it.
    pub fn capacity(&self) -> usize {
        self.cq_entries
    }

    /// Queues `batch` for the submitter's next [`enter`](Self::enter) (each entry takes a
    /// reference to its owner). Returns the requests that found the submission queue full
    /// (EAGAIN).
    pub fn push<'a>(&self, batch: impl IntoIterator<Item = (&'a Arc<T>, Op<'a>)>) -> Vec<Refused<T>>
    where
        T: 'a,
    {
        let mut refused = Vec::new();
        let mut g = self.sq.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the submission queue is used only under `self.sq`.
        let mut sq = unsafe { self.ring.submission_shared() };
        let before = sq.len();
        for (owner, op) in batch {
            let data = Arc::into_raw(owner.clone()) as u64;
            let mut entry = entry(&op).user_data(data);
            if op.punt {
                entry = entry.flags(squeue::Flags::ASYNC);
            }
            // SAFETY: the entry's buffers are IoBufs (valid until the transfer completes) or
            // iovec arrays inside the owner, which the reference in user_data keeps alive until
            // the completion is reaped.
            if unsafe { sq.push(&entry) }.is_err() {
                // SAFETY: the kernel never saw this entry: the reference is still ours.
                let owner = unsafe { Arc::from_raw(data as *const T) };
                refused.push(Refused { owner, errno: libc::EAGAIN });
            }
        }
        g.queued(before as u32, (sq.len() - before) as u32);
        sq.sync();
        refused
    }

    /// Entries queued and not yet handed to the kernel.
    pub fn queued(&self) -> usize {
        self.batches().0 as usize
    }

    /// The submitter's call: hands the kernel everything queued, then, with `wait`, sleeps
    /// until `wait.0` completions more were posted or `wait.1` passed. The kernel starts each
    /// request during this call (a page-cache hit is complete when it returns).
    pub fn enter(&self, wait: Option<(u32, Duration)>) -> io::Result<Waited> {
        // No lock: the kernel takes the entries published so far (the tail moves only after
        // an entry is complete), and queueing threads must not wait for a sleeping submitter.
        let sub = self.ring.submitter();
        let r = match wait {
            None => sub.submit(),
            Some((want, timeout)) => {
                let ts = types::Timespec::new().sec(timeout.as_secs()).nsec(timeout.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                sub.submit_with_args(want.max(1) as usize, &args)
            }
        };
        match r {
            Ok(_) => Ok(Waited::Ready),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EBUSY | libc::EAGAIN)) => Ok(Waited::Ready),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(Waited::Interrupted),
            Err(e) => Err(e),
        }
    }

    /// The submitter's call without waiting: hands the kernel everything queued, oldest first.
    /// Returns how many it took.
    ///
    /// How many per system call: io_uring plugs the block layer for a call that carries more
    /// than two entries, so that the device sees none of them until the call has started them
    /// all, and starting a buffered read that misses the page cache takes microseconds. 32
    /// uncached reads queued one by one and handed over in one call kept the first from the
    /// device for ~120 us, and the device's queue ran in waves (4 KiB reads QD32 through
    /// rtaio: 54-58k/s in one call, 69-72k/s two at a time; fio's io_uring engine, which enters
    /// once per request: 73-75k/s). Entries the kernel completes within the call (page-cache
    /// hits) lose nothing to the plug, and one call is cheaper for many (a list of 256 cached
    /// reads: 12 % less CPU per read than two at a time). So: two entries per call, at least
    /// one whole batch (a list is one submission, waited for as a whole), and everything in
    /// one call while the last call's entries all completed within it.
    pub fn submit_queued(&self) -> usize {
        let mut total = 0;
        loop {
            let (left, oldest) = self.batches();
            if left == 0 {
                return total;
            }
            let per_call = match self.per_call.load(Relaxed) {
                ONE_CALL => ONE_CALL,
                few => few.max(oldest),
            };
            let before = self.posted();
            // No lock, as in `enter`.
            // SAFETY: no argument pointer is passed, so the kernel reads no memory of ours
            // beyond the ring itself.
            let n = unsafe { self.ring.submitter().enter::<libc::sigset_t>(per_call, 0, 0, None) }.unwrap_or(0);
            if n == 0 {
                // The kernel takes nothing now (EBUSY, EAGAIN: as for `enter`, what stays
                // queued goes with the next call).
                return total;
            }
            // (A reaper between the two looks makes it look as if some did not complete: the
            // cautious answer.)
            let inline = matches!((before, self.posted()), (Some(b), Some(a)) if a.saturating_sub(b) >= n);
            self.per_call.store(if inline { ONE_CALL } else { FEW_PER_CALL }, Relaxed);
            // (A call may also stop early, after an entry the kernel fails at once.)
            total += n;
        }
    }

    /// Entries queued and not yet handed to the kernel, and how many of them belong to the
    /// oldest batch.
    fn batches(&self) -> (u32, u32) {
        let mut g = self.sq.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the submission queue is used only under `self.sq`.
        let sq = unsafe { self.ring.submission_shared() };
        let left = sq.len() as u32;
        // Dropping the view stores the tail it read: it must happen under the lock. (After the
        // guard's drop, a tail stored there could hide an entry another thread had queued
        // meanwhile: a request lost.)
        drop(sq);
        (left, g.oldest_left(left))
    }

    /// Completions posted and not yet reaped, unless someone is reaping now.
    fn posted(&self) -> Option<usize> {
        if self.cq_status.0.is_empty() {
            return Some(0);
        }
        let _quiet = NoHandlers::hold();
        if self.cq_busy.swap(true, Acquire) {
            return None;
        }
        // SAFETY: the completion queue is used only while `cq_busy` is ours (the view stores
        // back the head it read, unchanged).
        let n = unsafe { self.ring.completion_shared() }.len();
        self.cq_busy.store(false, Release);
        Some(n)
    }

    /// Reaps up to `max` completions without a system call, handing each owner and result
    /// (bytes, or -errno) to `f`; `doorbell` is called for the doorbell's. None if another
    /// thread is reaping now (it reports what is there). No allocation, no lock: safe in a
    /// signal handler, if `f` is.
    pub fn try_reap(&self, max: usize, mut f: impl FnMut(Arc<T>, i64), mut doorbell: impl FnMut()) -> Option<usize> {
        // (A completion posted just after this look is found by the next one, as one posted
        // just after a reap: waiters sleep on the ring's eventfd, which the post signals.)
        if self.cq_status.0.is_empty() {
            return Some(0);
        }
        let _quiet = NoHandlers::hold();
        if self.cq_busy.swap(true, Acquire) {
            return None;
        }
        let mut n = 0;
        {
            // SAFETY: the completion queue is used only while `cq_busy` is ours.
            let cq = unsafe { self.ring.completion_shared() };
            for cqe in cq.take(max) {
                if cqe.user_data() == DOORBELL {
                    doorbell();
                    continue;
                }
                // SAFETY: user_data is the reference `push` made for this entry, and the
                // kernel posts one completion per entry: taken back exactly once.
                let owner = unsafe { Arc::from_raw(cqe.user_data() as usize as *const T) };
                f(owner, cqe.result() as i64);
                n += 1;
            }
        } // the queue's head moves here
        self.cq_busy.store(false, Release);
        Some(n)
    }

    /// Are completions waiting to be reaped? (A snapshot, for deciding whether to reap.)
    pub fn has_completions(&self) -> bool {
        // (Someone reaping now: ask again later.)
        self.posted().is_none_or(|n| n > 0)
    }

    /// Asks the kernel to cancel `owner`'s request. The kernel waits for a request a worker is
    /// performing to end (interrupted, or complete), and then answers as for one it
    /// cancelled: either way its completion says how it ended. Available since Linux 6.0
    /// (NotFound before).
    /// The kernel's wait is bounded by `wait` (ETIME then: Attempted), so that the caller
    /// can look for the completion itself and ask again: a wait that missed its wake-up, or a
    /// request continued after the cancel, never holds it for good.
    pub fn cancel(&self, owner: &T, wait: Duration) -> Canceled {
        let key = owner as *const T as u64;
        let ts = types::Timespec::new().sec(wait.as_secs()).nsec(wait.subsec_nanos());
        match self.ring.submitter().register_sync_cancel(Some(ts), types::CancelBuilder::user_data(key)) {
            Ok(()) => Canceled::Ended,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Canceled::NotFound,
            // EALREADY, the wait for it over (ETIME) or cut short (EINTR: a signal for this
            // thread): the cancel is under way.
            Err(_) => Canceled::Attempted,
        }
    }
}

/// A way for any thread to wake the submitter sleeping in [`Ring::enter`]: an eventfd whose
/// readiness the ring polls (one-shot, re-armed by the submitter after each ring).
pub struct Doorbell {
    efd: i32,
}

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        // SAFETY: plain system call.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Doorbell { efd })
    }

    pub fn fd(&self) -> i32 {
        self.efd
    }

    /// Rings (async-signal-safe: one write, a raw system call: never a cancellation point).
    pub fn ring(&self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a local.
        let _ = unsafe { libc::syscall(libc::SYS_write, self.efd, &one as *const u64, 8usize) };
    }

    /// Queues the poll that makes a ring complete in `ring` (after draining earlier rings).
    pub fn arm<T: Send + Sync + 'static>(&self, ring: &Ring<T>) -> bool {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a local; the descriptor is non-blocking.
        let _ = unsafe { libc::syscall(libc::SYS_read, self.efd, &mut v as *mut u64, 8usize) };
        let entry = opcode::PollAdd::new(types::Fd(self.efd), libc::POLLIN as u32).build().user_data(DOORBELL);
        let mut g = ring.sq.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the submission queue is used only under `ring.sq`; the entry names no memory.
        let mut sq = unsafe { ring.ring.submission_shared() };
        let before = sq.len() as u32;
        // SAFETY: as above.
        let ok = unsafe { sq.push(&entry) }.is_ok();
        g.queued(before, ok as u32);
        sq.sync();
        ok
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours (a raw close: not a cancellation point).
        unsafe { libc::syscall(libc::SYS_close, self.efd) };
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // The io-uring crate closes the descriptor and unmaps the rings; requests still in
        // flight keep their references (leaked, never freed twice).
    }
}

/// The submission entry for an operation.
fn entry(op: &Op<'_>) -> squeue::Entry {
    let fd = types::Fd(op.fd);
    // -1: at the file position (IORING_FEAT_RW_CUR_POS).
    let off = op.offset as u64;
    let len = |n: usize| n.min(u32::MAX as usize) as u32;
    match op.cmd {
        Cmd::Read(b) => opcode::Read::new(fd, b.addr() as *mut u8, len(b.len())).offset(off).build(),
        Cmd::Write(b) => opcode::Write::new(fd, b.addr() as *const u8, len(b.len())).offset(off).build(),
        Cmd::ReadV(v) => opcode::Readv::new(fd, v.as_ptr() as *const libc::iovec, v.len() as u32).offset(off).build(),
        Cmd::WriteV(v) => opcode::Writev::new(fd, v.as_ptr() as *const libc::iovec, v.len() as u32).offset(off).build(),
        Cmd::Fsync => opcode::Fsync::new(fd).build(),
        Cmd::Fdsync => opcode::Fsync::new(fd).flags(types::FsyncFlags::DATASYNC).build(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IoBuf;

    struct Req {
        buf: Box<[u8; 16]>,
    }

    /// A ring, or None where the kernel refuses io_uring (the test then has nothing to check).
    fn ring_or_skip(entries: u32) -> Option<Ring<Req>> {
        match Ring::<Req>::new(entries) {
            Ok(r) => Some(r),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::EOPNOTSUPP)) => None,
            Err(e) => panic!("{e}"),
        }
    }

    fn pipe() -> [i32; 2] {
        let mut p = [0; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        p
    }

    fn close_pipe(p: [i32; 2]) {
        // SAFETY: closing the test's own pipe.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }

    fn reap_one(ring: &Ring<Req>) -> (Arc<Req>, i64) {
        loop {
            let mut got = None;
            ring.try_reap(1, |o, r| got = Some((o, r)), || {});
            if let Some(g) = got {
                return g;
            }
            ring.enter(Some((1, Duration::from_secs(5)))).unwrap();
        }
    }

    #[test]
    fn round_trip_cancel_and_doorbell() {
        let Some(ring) = ring_or_skip(8) else { return };
        let path = std::env::temp_dir().join(format!("kernel-aio-uring-{}", std::process::id()));
        std::fs::write(&path, b"hello, io_uring!").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let req = Arc::new(Req { buf: Box::new([0; 16]) });
        // SAFETY: the buffer lives in `req`, which the ring keeps alive until reaped.
        let buf = unsafe { IoBuf::new(req.buf.as_ptr() as usize, 16) };
        let op = Op { fd: f.as_raw_fd(), offset: 0, cmd: Cmd::Read(buf), nowait: false, punt: false };
        assert!(ring.push([(&req, op)]).is_empty());
        assert_eq!(ring.queued(), 1);
        assert_eq!(ring.try_reap(8, |_, _| panic!("not submitted yet"), || {}), Some(0));
        ring.enter(None).unwrap();
        let (owner, res) = reap_one(&ring);
        assert!(Arc::ptr_eq(&owner, &req));
        assert_eq!(res, 16);
        assert_eq!(&req.buf[..], b"hello, io_uring!");
        drop(owner);
        assert_eq!(Arc::strong_count(&req), 1, "the ring's reference came back");

        // the doorbell wakes a submitter sleeping in the ring
        let bell = Doorbell::new().unwrap();
        assert!(bell.arm(&ring));
        ring.enter(None).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                bell.ring();
            });
            let mut rang = false;
            while !rang {
                ring.enter(Some((1, Duration::from_secs(5)))).unwrap();
                ring.try_reap(8, |_, _| {}, || rang = true);
            }
        });

        // a read on an empty pipe waits by polling; cancel ends it with ECANCELED
        let p = pipe();
        let pr = Arc::new(Req { buf: Box::new([0; 16]) });
        // SAFETY: as above.
        let pbuf = unsafe { IoBuf::new(pr.buf.as_ptr() as usize, 1) };
        let op = Op { fd: p[0], offset: -1, cmd: Cmd::Read(pbuf), nowait: false, punt: false };
        assert!(ring.push([(&pr, op)]).is_empty());
        ring.enter(None).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(ring.try_reap(8, |_, _| panic!("nothing to read yet"), || {}), Some(0));
        if ring.cancel(&*pr, Duration::from_secs(5)) == Canceled::Ended {
            let (_, res) = reap_one(&ring);
            assert_eq!(res, -(libc::ECANCELED as i64));
        }
        close_pipe(p);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn batches_say_how_much_of_the_oldest_is_left() {
        // Near the counter's wrap: the arithmetic is modular.
        let mut b = Batches { queued_total: u32::MAX - 3, ends: VecDeque::new() };
        assert_eq!(b.oldest_left(0), 0, "nothing queued");
        b.queued(0, 3);
        b.queued(3, 0); // (an empty push is no batch)
        b.queued(3, 1);
        b.queued(4, 4);
        assert_eq!(b.oldest_left(8), 3);
        assert_eq!(b.oldest_left(6), 1, "the kernel took two of the first batch");
        assert_eq!(b.oldest_left(5), 1, "the first is handed over: the second, of one");
        assert_eq!(b.oldest_left(4), 4);
        assert_eq!(b.ends.len(), 1, "handed-over batches are forgotten");
        assert_eq!(b.oldest_left(0), 0);
        assert!(b.ends.is_empty());
    }

    #[test]
    fn submit_queued_hands_over_everything_few_per_call_unless_they_complete_within_it() {
        let Some(ring) = ring_or_skip(16) else { return };
        let path = std::env::temp_dir().join(format!("kernel-aio-uring-batch-{}", std::process::id()));
        let data: Vec<u8> = (0..7 * 16).map(|i| i as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let f = std::fs::File::open(&path).unwrap();
        // Seven: more than one call's worth, and not a multiple of it.
        let reqs: Vec<Arc<Req>> = (0..7).map(|_| Arc::new(Req { buf: Box::new([0; 16]) })).collect();
        let batch = reqs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                // SAFETY: the buffer lives in `r`, which the ring keeps alive until reaped.
                let buf = unsafe { IoBuf::new(r.buf.as_ptr() as usize, 16) };
                (r, Op { fd: f.as_raw_fd(), offset: 16 * i as i64, cmd: Cmd::Read(buf), nowait: false, punt: false })
            })
            .collect::<Vec<_>>();
        // A read of an empty pipe does not complete within the call (it waits by polling):
        // from then on, a few entries per call.
        let p = pipe();
        let pr = Arc::new(Req { buf: Box::new([0; 16]) });
        // SAFETY: as above.
        let pbuf = unsafe { IoBuf::new(pr.buf.as_ptr() as usize, 1) };
        let op = Op { fd: p[0], offset: -1, cmd: Cmd::Read(pbuf), nowait: false, punt: false };
        assert!(ring.push([(&pr, op)]).is_empty());
        assert_eq!(ring.submit_queued(), 1);
        assert_eq!(ring.per_call.load(Relaxed), FEW_PER_CALL);

        assert!(ring.push(batch).is_empty());
        assert_eq!(ring.queued(), 7);
        assert_eq!(ring.submit_queued(), 7);
        assert_eq!(ring.queued(), 0);
        assert_eq!(ring.submit_queued(), 0, "nothing left to hand over");
        // Page-cache hits, complete within the call: the next call takes everything.
        assert_eq!(ring.per_call.load(Relaxed), ONE_CALL);
        for _ in 0..7 {
            let (owner, res) = reap_one(&ring);
            assert_eq!(res, 16);
            let i = reqs.iter().position(|r| Arc::ptr_eq(r, &owner)).unwrap();
            assert_eq!(&owner.buf[..], &data[16 * i..16 * i + 16]);
        }
        // The pipe's read completes once there is something to read.
        // SAFETY: writing one byte from a valid buffer to the test's own pipe.
        assert_eq!(unsafe { libc::write(p[1], b"x".as_ptr().cast(), 1) }, 1);
        let (owner, res) = reap_one(&ring);
        assert!(Arc::ptr_eq(&owner, &pr));
        assert_eq!(res, 1);
        close_pipe(p);
        std::fs::remove_file(path).unwrap();
    }
}
