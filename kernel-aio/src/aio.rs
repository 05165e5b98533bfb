//! Linux native AIO (fs/aio.c): one of this crate's two `unsafe` files.
//!
//! Truly asynchronous for O_DIRECT reads and writes on files and block devices; fsync runs on
//! a kernel workqueue (IOCB_CMD_FSYNC/FDSYNC, Available since Linux 4.18). Elsewhere the kernel
//! works synchronously inside `io_submit`. A context is not a file descriptor.
//!
//! The control block of a request lives inside the caller's own request object (an [`Iocb`]
//! field, reached through [`Owner::iocb`]). While the kernel has a block, the context holds one
//! strong reference to its owner (in `aio_data`) and gives it back when the event is reaped
//! ([`Context::getevents`]) or the kernel refuses the block ([`Context::submit`]): nothing the
//! kernel may still touch can be freed, and every reference comes back exactly once.

use std::cell::UnsafeCell;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use libc::{c_long, c_ulong, timespec};

use crate::{Cmd, Event, Op, Refused};

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
/// `aio_flags`: the completion also adds 1 to the eventfd in `aio_resfd`.
const IOCB_FLAG_RESFD: u32 = 1;
const AIO_RING_MAGIC: u32 = 0xa10a10a1;
/// Events a non-blocking reap takes per system call (on the stack: no allocation).
const REAP_BATCH: usize = 32;

/// The header of the completion ring the kernel maps at the context's address (`struct
/// aio_ring` of fs/aio.c, a stable ABI that libaio's user-space reaping relies on too).
#[repr(C)]
struct RingHeader {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

/// `struct iocb` of `<linux/aio_abi.h>` (little-endian layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawIocb {
    aio_data: u64,
    aio_key: u32,
    aio_rw_flags: i32,
    aio_lio_opcode: u16,
    aio_reqprio: i16,
    aio_fildes: u32,
    aio_buf: u64,
    aio_nbytes: u64,
    aio_offset: i64,
    aio_reserved2: u64,
    aio_flags: u32,
    aio_resfd: u32,
}
const _: () = assert!(std::mem::size_of::<RawIocb>() == 64);

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct RawEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}
const _: () = assert!(std::mem::size_of::<RawEvent>() == 32);

/// A control block, kept inside the object it belongs to.
pub struct Iocb {
    raw: UnsafeCell<RawIocb>,
    /// The kernel has it (between a successful `io_submit` and the reaping of its event).
    in_kernel: AtomicBool,
}

impl Default for Iocb {
    fn default() -> Self {
        Iocb { raw: UnsafeCell::new(RawIocb::default()), in_kernel: AtomicBool::new(false) }
    }
}

// SAFETY: the block is written only by `Context::submit`, for an owner the caller hands over
// whole (an `Arc` moved in), while `in_kernel` is false; afterwards only the kernel reads it,
// and `Context::cancel` passes its address as a key.
unsafe impl Sync for Iocb {}

/// An object that carries its own control block.
pub trait Owner: Send + Sync + 'static {
    fn iocb(&self) -> &Iocb;
}

/// A native AIO context. Not inherited by a child after fork (the kernel does not copy it).
pub struct Context<T: Owner> {
    ctx: c_ulong,
    _owners: PhantomData<fn(Arc<T>) -> Arc<T>>,
}

fn check(ret: c_long) -> io::Result<c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl<T: Owner> Context<T> {
    /// A context for up to `nr_events` requests in flight. EAGAIN when the system-wide
    /// `fs.aio-max-nr` is exhausted; ENOSYS or EPERM where the kernel or a seccomp policy
    /// refuses native AIO.
    pub fn new(nr_events: u32) -> io::Result<Self> {
        let mut ctx: c_ulong = 0;
        // SAFETY: `ctx` is a valid out-pointer initialised to 0, as the kernel requires.
        check(unsafe { libc::syscall(libc::SYS_io_setup, nr_events, &mut ctx as *mut c_ulong) })?;
        Ok(Context { ctx, _owners: PhantomData })
    }

    /// Is the ring's header the one this crate knows (so [`Context::maybe_pending`] can say
    /// "empty")? Async-signal-safe.
    pub fn ring_readable(&self) -> bool {
        let h = self.ctx as usize as *const RingHeader;
        // SAFETY: as in `maybe_pending`.
        unsafe { std::ptr::addr_of!((*h).magic).read_volatile() == AIO_RING_MAGIC }
    }

    /// May completions wait in the ring? False only when the ring's header, which the kernel
    /// maps at the context's address, says it holds none (no system call). Async-signal-safe.
    pub fn maybe_pending(&self) -> bool {
        let h = self.ctx as usize as *const RingHeader;
        // SAFETY: a context's id is the address of its ring, mapped readable by io_setup until
        // io_destroy (in Drop); the kernel moves `tail`, reapers move `head`: both are read as
        // atomics. A header without the magic is not trusted.
        unsafe {
            let magic = std::ptr::addr_of!((*h).magic).read_volatile();
            if magic != AIO_RING_MAGIC {
                return true;
            }
            let head = &*(std::ptr::addr_of!((*h).head) as *const AtomicU32);
            let tail = &*(std::ptr::addr_of!((*h).tail) as *const AtomicU32);
            head.load(Acquire) != tail.load(Acquire)
        }
    }

    /// Takes the completions waiting now, without blocking or allocating, and hands each to
    /// `f`. Several threads may reap at once: the kernel gives each event to one. Async-signal-
    /// safe as long as `f` is. Returns how many it took.
    pub fn try_reap(&self, mut f: impl FnMut(Event<T>)) -> io::Result<usize> {
        let mut raw = [RawEvent::default(); REAP_BATCH];
        let zero = timespec { tv_sec: 0, tv_nsec: 0 };
        let mut total = 0;
        loop {
            // SAFETY: `raw` is a writable array of REAP_BATCH events; a zero timeout never waits.
            let n = check(unsafe {
                libc::syscall(
                    libc::SYS_io_getevents,
                    self.ctx,
                    0 as c_long,
                    REAP_BATCH as c_long,
                    raw.as_mut_ptr(),
                    &zero as *const timespec,
                )
            })? as usize;
            for ev in &raw[..n] {
                f(event_of(ev));
            }
            total += n;
            if n < REAP_BATCH {
                return Ok(total);
            }
        }
    }

    /// Hands `batch` to the kernel, in order, with as few `io_submit` calls as it takes. Returns
    /// the requests the kernel did not take: after a refusal that concerns one block (EINVAL:
    /// no async I/O for that file; EBADF; EFAULT; EOPNOTSUPP) the rest are still tried; after
    /// one that concerns the context (EAGAIN: full; ENOSYS, EPERM: no native AIO) none is.
    /// `resfd` (-1: none): an eventfd each of these requests adds 1 to when it completes (the
    /// caller keeps it open until then): a thread can wait for completions by reading it,
    /// without consuming any event (Available since Linux 2.6.22).
    pub fn submit<'a, I>(&self, batch: I, resfd: i32) -> Vec<Refused<T>>
    where
        I: IntoIterator<Item = (&'a Arc<T>, Op<'a>)>,
        I::IntoIter: ExactSizeIterator,
        T: 'a,
    {
        let batch = batch.into_iter();
        // (A lone request's pointer on the stack: no allocation for it.)
        let mut one = [std::ptr::null_mut(); 1];
        let mut many = Vec::new();
        let ptrs: &mut [*mut RawIocb] = if batch.len() == 1 {
            &mut one
        } else {
            many.resize(batch.len(), std::ptr::null_mut());
            &mut many
        };
        // (The length is only a hint to safe code: only the pointers filled in are submitted,
        // and blocks beyond it come back refused, as from a full context.)
        let mut refused = Vec::new();
        let mut filled = 0;
        for (i, (owner, op)) in batch.enumerate() {
            if i >= ptrs.len() {
                refused.push(Refused { owner: owner.clone(), errno: libc::EAGAIN });
                continue;
            }
            let cb = owner.iocb();
            debug_assert!(!cb.in_kernel.load(Relaxed), "a block submitted twice");
            let raw = Arc::into_raw(owner.clone());
            // SAFETY: the block is not in the kernel (the caller owns the request and hands it
            // over now), so nobody reads it while it is written.
            unsafe { *cb.raw.get() = raw_iocb(&op, raw as u64, resfd) };
            cb.in_kernel.store(true, Release);
            ptrs[i] = cb.raw.get();
            filled = i + 1;
        }
        let ptrs = &ptrs[..filled];
        let mut done = 0;
        while done < ptrs.len() {
            // SAFETY: every block lives inside its owner, which the reference stored in its
            // aio_data keeps alive until its event is reaped or the kernel refuses it; its
            // buffers are IoBufs, valid until the transfer completes (IoBuf's contract).
            let r = check(unsafe {
                libc::syscall(libc::SYS_io_submit, self.ctx, (ptrs.len() - done) as c_long, ptrs[done..].as_ptr())
            });
            match r {
                Ok(n) if n > 0 => done += n as usize,
                r => {
                    let e = r.err().map_or(libc::EAGAIN, |e| errno_of(&e));
                    let whole_context = matches!(e, libc::EAGAIN | libc::ENOSYS | libc::EPERM);
                    let upto = if whole_context { ptrs.len() } else { done + 1 };
                    for &p in &ptrs[done..upto] {
                        refused.push(Refused { owner: take_back::<T>(p), errno: e });
                    }
                    done = upto;
                }
            }
        }
        refused
    }

    /// Waits up to `timeout` (None: without limit) for at least `min` completions; returns up
    /// to `max` of them. EINTR when a signal handler ran.
    pub fn getevents(&self, min: usize, max: usize, timeout: Option<Duration>) -> io::Result<Vec<Event<T>>> {
        let mut raw = vec![RawEvent::default(); max.max(1)];
        let ts = timeout.map(|d| timespec {
            tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as c_long,
        });
        let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
        // SAFETY: `raw` is a writable array of `max` events; `tsp` is NULL or a valid timespec.
        let n = check(unsafe {
            libc::syscall(libc::SYS_io_getevents, self.ctx, min as c_long, raw.len() as c_long, raw.as_mut_ptr(), tsp)
        })? as usize;
        Ok(raw[..n].iter().map(event_of).collect())
    }

    /// Asks the kernel to cancel `owner`'s request. Most file systems refuse: then it completes
    /// normally. True if the kernel accepted; its event still arrives (reporting the outcome).
    pub fn cancel(&self, owner: &T) -> bool {
        let cb = owner.iocb();
        if !cb.in_kernel.load(Acquire) {
            return false;
        }
        let mut ev = RawEvent::default();
        // SAFETY: the block's address is only a key: the kernel looks it up among this
        // context's requests in flight (EINVAL if it is not there any more).
        let r = check(unsafe { libc::syscall(libc::SYS_io_cancel, self.ctx, cb.raw.get(), &mut ev as *mut RawEvent) });
        match r {
            Ok(_) => true,
            Err(e) => errno_of(&e) == libc::EINPROGRESS,
        }
    }
}

impl<T: Owner> Drop for Context<T> {
    fn drop(&mut self) {
        // SAFETY: destroying a context only cancels and waits for its requests; references
        // still held for them are leaked, never freed twice.
        unsafe { libc::syscall(libc::SYS_io_destroy, self.ctx) };
    }
}

/// The event of a reaped completion, its owner reference taken back.
fn event_of<T: Owner>(ev: &RawEvent) -> Event<T> {
    // `obj` is the block's address (`data` is its aio_data: the owner reference).
    let p = ev.obj as usize as *mut RawIocb;
    // SAFETY: the kernel returns each submitted block's aio_data once; the block is no longer
    // the kernel's, so its flags may be read.
    let nowait = unsafe { (*p).aio_rw_flags } & libc::RWF_NOWAIT != 0;
    Event { owner: take_back::<T>(p), res: ev.res, nowait }
}

/// Takes back the strong reference stored in a block's aio_data and marks the block free.
fn take_back<T: Owner>(p: *mut RawIocb) -> Arc<T> {
    // SAFETY: `p` is a block that `submit` filled, which the kernel has refused or completed:
    // its aio_data is the reference made by `Arc::into_raw` there, taken back exactly once.
    let owner = unsafe { Arc::from_raw((*p).aio_data as usize as *const T) };
    owner.iocb().in_kernel.store(false, Release);
    owner
}

fn raw_iocb(op: &Op<'_>, data: u64, resfd: i32) -> RawIocb {
    let rw_flags = if op.nowait { libc::RWF_NOWAIT } else { 0 };
    let (opcode, buf, nbytes, rw_flags) = match op.cmd {
        Cmd::Read(b) => (IOCB_CMD_PREAD, b.addr(), b.len(), rw_flags),
        Cmd::Write(b) => (IOCB_CMD_PWRITE, b.addr(), b.len(), rw_flags),
        Cmd::ReadV(v) => (IOCB_CMD_PREADV, v.as_ptr() as usize, v.len(), rw_flags),
        Cmd::WriteV(v) => (IOCB_CMD_PWRITEV, v.as_ptr() as usize, v.len(), rw_flags),
        Cmd::Fsync => (IOCB_CMD_FSYNC, 0, 0, 0),
        Cmd::Fdsync => (IOCB_CMD_FDSYNC, 0, 0, 0),
    };
    RawIocb {
        aio_data: data,
        aio_rw_flags: rw_flags,
        aio_lio_opcode: opcode,
        aio_fildes: op.fd as u32,
        aio_buf: buf as u64,
        aio_nbytes: nbytes as u64,
        aio_offset: if matches!(op.cmd, Cmd::Fsync | Cmd::Fdsync) { 0 } else { op.offset },
        aio_flags: if resfd >= 0 { IOCB_FLAG_RESFD } else { 0 },
        aio_resfd: resfd.max(0) as u32,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IoBuf;

    struct Req {
        cb: Iocb,
        buf: Box<[u8; 16]>,
    }
    impl Owner for Req {
        fn iocb(&self) -> &Iocb {
            &self.cb
        }
    }
    impl Req {
        fn new() -> Arc<Req> {
            Arc::new(Req { cb: Iocb::default(), buf: Box::new([0; 16]) })
        }
        /// A read of 16 bytes at offset 0 of `fd` into this request's buffer.
        fn read_op(&self, fd: i32) -> Op<'_> {
            // SAFETY: the buffer lives in the request, which the context keeps alive until the
            // block is reaped or refused.
            let buf = unsafe { IoBuf::new(self.buf.as_ptr() as usize, 16) };
            Op { fd, offset: 0, cmd: Cmd::Read(buf), nowait: false, punt: false }
        }
    }

    /// A context of 8 blocks; None where native AIO is missing or refused.
    fn context() -> Option<Context<Req>> {
        match Context::<Req>::new(8) {
            Ok(c) => Some(c),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EAGAIN | libc::EPERM)) => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// A temporary file holding `data`, open for reading, and its path (removed by the test).
    fn test_file(tag: &str, data: &[u8]) -> (std::fs::File, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("kernel-aio-{tag}-{}", std::process::id()));
        std::fs::write(&path, data).unwrap();
        (std::fs::File::open(&path).unwrap(), path)
    }

    /// An iterator that says it holds one item less than it yields.
    struct Understated<I>(I, usize);
    impl<I: Iterator> Iterator for Understated<I> {
        type Item = I::Item;
        fn next(&mut self) -> Option<I::Item> {
            self.0.next()
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.1, Some(self.1))
        }
    }
    impl<I: Iterator> ExactSizeIterator for Understated<I> {}

    #[test]
    fn blocks_beyond_the_stated_length_come_back_refused() {
        let Some(ctx) = context() else { return };
        let (f, path) = test_file("len", b"0123456789abcdef");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        let reqs: Vec<Arc<Req>> = (0..2).map(|_| Req::new()).collect();
        let ops = reqs.iter().map(|r| (r, r.read_op(fd)));
        let refused = ctx.submit(Understated(ops, 1), -1);
        assert_eq!(refused.len(), 1, "the second block is not submitted");
        assert!(Arc::ptr_eq(&refused[0].owner, &reqs[1]));
        assert_eq!(refused[0].errno, libc::EAGAIN);
        drop(refused);
        assert_eq!(Arc::strong_count(&reqs[1]), 1, "its reference came back");
        let evs = ctx.getevents(1, 4, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(evs.len(), 1);
        assert!(Arc::ptr_eq(&evs[0].owner, &reqs[0]));
        assert_eq!(evs[0].res, 16);
        drop(evs);
        assert_eq!(Arc::strong_count(&reqs[0]), 1);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn buffered_read_round_trip_and_refusal() {
        let Some(ctx) = context() else { return };
        let (f, path) = test_file("test", b"hello kernel aio");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        let req = Req::new();
        let refused = ctx.submit(vec![(&req, req.read_op(fd))], -1);
        assert!(refused.is_empty());
        let evs = ctx.getevents(1, 4, Some(Duration::from_secs(5))).unwrap();
        assert_eq!(evs.len(), 1);
        assert!(Arc::ptr_eq(&evs[0].owner, &req));
        assert_eq!(evs[0].res, 16);
        assert_eq!(&req.buf[..], b"hello kernel aio");
        drop(evs);
        assert_eq!(Arc::strong_count(&req), 1, "the context's reference came back");
        // A bad descriptor is refused for that block only, and its reference comes back.
        let bad = Req::new();
        let refused = ctx.submit(vec![(&bad, bad.read_op(-1))], -1);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].errno, libc::EBADF);
        drop(refused);
        assert_eq!(Arc::strong_count(&bad), 1);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn eventfd_counts_and_reaping_does_not_block() {
        // SAFETY: plain descriptor creation.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        assert!(efd >= 0);
        let Some(ctx) = context() else { return };
        assert!(ctx.ring_readable(), "the ring header at the context's address");
        assert!(!ctx.maybe_pending(), "a new ring is empty");
        assert_eq!(ctx.try_reap(|_| panic!("no event yet")).unwrap(), 0);
        let (f, path) = test_file("efd", b"0123456789abcdef");
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        let reqs: Vec<Arc<Req>> = (0..3).map(|_| Req::new()).collect();
        assert!(ctx.submit(reqs.iter().map(|r| (r, r.read_op(fd))), efd).is_empty());
        // Each completion adds 1 to the eventfd (buffered reads complete inside io_submit).
        let mut total = 0u64;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while total < 3 && std::time::Instant::now() < deadline {
            let mut v = 0u64;
            // SAFETY: reads 8 bytes into a local.
            if unsafe { libc::read(efd, &mut v as *mut u64 as *mut libc::c_void, 8) } == 8 {
                total += v;
            }
        }
        assert_eq!(total, 3, "one eventfd count per completion");
        assert!(ctx.maybe_pending(), "the events wait in the ring");
        let mut got = Vec::new();
        assert_eq!(ctx.try_reap(|ev| got.push((ev.owner, ev.res))).unwrap(), 3);
        assert!(!ctx.maybe_pending(), "reaped: the ring is empty again");
        for (owner, res) in &got {
            assert_eq!(*res, 16);
            assert_eq!(&owner.buf[..], b"0123456789abcdef");
        }
        drop(got);
        assert!(reqs.iter().all(|r| Arc::strong_count(r) == 1), "every reference came back once");
        drop(ctx);
        // SAFETY: closing our own descriptor.
        unsafe { libc::close(efd) };
        std::fs::remove_file(path).unwrap();
    }
}
