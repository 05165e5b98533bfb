//! System call wrappers. This is one of rtaio's few `unsafe` modules: every function here
//! wraps exactly one system call, documents what the kernel requires of its arguments, and
//! converts the raw `-1/errno` convention into `io::Result`.

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use libc::{c_int, c_long, pid_t, timespec};

fn check(ret: c_long) -> io::Result<c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn to_timespec(d: Duration) -> timespec {
    timespec { tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t, tv_nsec: d.subsec_nanos() as c_long }
}

// ---------------------------------------------------------------------------------------------
// futex

const FUTEX_WAIT_PRIVATE: c_int = libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG;
const FUTEX_WAKE_PRIVATE: c_int = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;

/// Sleeps while `*word == expected`, for at most `timeout` (relative, CLOCK_MONOTONIC).
/// `Ok(())` on a wake-up (possibly spurious); `Err` with EAGAIN (value changed), ETIMEDOUT or EINTR.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) -> io::Result<()> {
    let ts = timeout.map(to_timespec);
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; `tsp` is NULL or points
    // to a timespec that outlives the call. FUTEX_WAIT only reads the word.
    let r = unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), FUTEX_WAIT_PRIVATE, expected, tsp, 0usize, 0u32) };
    check(r).map(|_| ())
}

/// Sleeps while `*word == expected`, until the absolute CLOCK_MONOTONIC `deadline` (None: no
/// limit). Without a deadline the kernel restarts it after an SA_RESTART handler; with one, any
/// handler makes it fail with EINTR (use [`futex_waitv`], which restarts, where that matters).
pub fn futex_wait_until(word: &AtomicU32, expected: u32, deadline: Option<timespec>) -> io::Result<()> {
    const FUTEX_WAIT_BITSET_PRIVATE: c_int = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
    let tsp = deadline.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `word` is a valid aligned u32 for the call; `tsp` is NULL or a valid timespec.
    let r = unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), FUTEX_WAIT_BITSET_PRIVATE, expected, tsp, 0usize, u32::MAX)
    };
    check(r).map(|_| ())
}

/// Wakes up to `n` waiters on `addr`. The address is only used as a key: the memory it names may
/// already be freed or reused (a spurious wake-up is harmless to any futex user).
pub fn futex_wake_addr(addr: usize, n: i32) -> usize {
    // SAFETY: FUTEX_WAKE on a private futex never dereferences the address; it is a hash key.
    let r = unsafe { libc::syscall(libc::SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, 0usize, 0usize, 0u32) };
    r.max(0) as usize
}

/// Wakes up to `n` waiters on `word`.
pub fn futex_wake(word: &AtomicU32, n: i32) -> usize {
    futex_wake_addr(word.as_ptr() as usize, n)
}

/// One entry of `futex_waitv` (`struct futex_waitv` of `<linux/futex.h>`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct FutexWaitv {
    pub val: u64,
    pub uaddr: u64,
    pub flags: u32,
    pub reserved: u32,
}
const _: () = assert!(std::mem::size_of::<FutexWaitv>() == 24);

/// `FUTEX2_SIZE_U32 | FUTEX2_PRIVATE`.
pub const FUTEX2_U32_PRIVATE: u32 = 0x02 | 0x80;
/// The kernel's limit on entries per `futex_waitv` call.
pub const FUTEX_WAITV_MAX: usize = 128;

impl FutexWaitv {
    pub fn new(word: &AtomicU32, expected: u32) -> Self {
        FutexWaitv { val: expected as u64, uaddr: word.as_ptr() as u64, flags: FUTEX2_U32_PRIVATE, reserved: 0 }
    }
}

/// Sleeps until one of `waiters` is woken or no longer holds its expected value, or until the
/// absolute CLOCK_MONOTONIC `deadline`. Returns the index of the woken entry.
/// Errors: EAGAIN (a value already differed), ETIMEDOUT, EINTR, ENOSYS (before Linux 5.16).
/// Available since Linux 5.16.
pub fn futex_waitv(waiters: &[FutexWaitv], deadline: Option<timespec>) -> io::Result<usize> {
    debug_assert!(waiters.len() <= FUTEX_WAITV_MAX);
    let tsp = deadline.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `waiters` is a valid array of `len` entries whose uaddr fields name live, aligned
    // u32 words (the caller built them from references); `tsp` is NULL or a valid timespec.
    let r = unsafe {
        libc::syscall(libc::SYS_futex_waitv, waiters.as_ptr(), waiters.len() as u32, 0u32, tsp, libc::CLOCK_MONOTONIC)
    };
    check(r).map(|i| i as usize)
}

// ---------------------------------------------------------------------------------------------
// time

pub fn monotonic_now() -> timespec {
    let mut ts = timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

// ---------------------------------------------------------------------------------------------
// signals

/// Queues `signo` with a `SI_ASYNCIO` siginfo carrying `value` to process `pid` (the caller's own
/// process: the kernel only accepts a negative si_code for the sender itself).
pub fn queue_asyncio_signal(
    pid: pid_t,
    uid: libc::uid_t,
    signo: c_int,
    value: usize,
    tid: Option<pid_t>,
) -> io::Result<()> {
    let info = asyncio_siginfo(pid, uid, signo, value);
    // SAFETY: `info` is a fully initialised siginfo_t that lives across the call.
    let r = unsafe {
        match tid {
            None => libc::syscall(libc::SYS_rt_sigqueueinfo, pid, signo, &info as *const SigInfo),
            Some(t) => libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, t, signo, &info as *const SigInfo),
        }
    };
    check(r).map(|_| ())
}

/// The kernel's `siginfo_t` layout for the `_rt` member (si_pid, si_uid, si_value).
#[repr(C)]
struct SigInfo {
    si_signo: c_int,
    si_errno: c_int,
    si_code: c_int,
    _pad0: c_int,
    si_pid: pid_t,
    si_uid: libc::uid_t,
    si_value: usize,
    _rest: [u8; 128 - 32],
}
const _: () = assert!(std::mem::size_of::<SigInfo>() == 128);

fn asyncio_siginfo(pid: pid_t, uid: libc::uid_t, signo: c_int, value: usize) -> SigInfo {
    SigInfo {
        si_signo: signo,
        si_errno: 0,
        si_code: libc::SI_ASYNCIO,
        _pad0: 0,
        si_pid: pid,
        si_uid: uid,
        si_value: value,
        _rest: [0; 96],
    }
}

/// Does thread `tid` exist in process `pid`? (`tgkill` with signal 0.)
pub fn thread_exists(pid: pid_t, tid: pid_t) -> bool {
    if tid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Do two of this process's descriptors refer to the same open file description?
/// `kcmp(KCMP_FILE)`: Ok(true)/Ok(false); ENOSYS without CONFIG_KCMP, EPERM under some seccomp
/// or Yama policies (callers then fall back to comparing `fstat` identities). Since Linux 3.5.
pub fn kcmp_same_file(fd1: i32, fd2: i32) -> io::Result<bool> {
    const KCMP_FILE: libc::c_int = 0;
    // SAFETY: getpid has no arguments and cannot fail.
    let pid = unsafe { libc::getpid() };
    // SAFETY: kcmp with KCMP_FILE takes only integers.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, fd1 as libc::c_ulong, fd2 as libc::c_ulong) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r == 0)
    }
}

pub fn gettid() -> pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as pid_t }
}

// ---------------------------------------------------------------------------------------------
// signal masks

/// Sets the calling thread's signal mask for a scope, restoring the previous one on drop.
pub struct SignalMask {
    old: libc::sigset_t,
}

impl SignalMask {
    /// Under Miri (which cannot call sigfillset) masks are not modelled: a no-op.
    #[cfg(miri)]
    fn set(_fill: bool) -> Self {
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        SignalMask { old: unsafe { std::mem::zeroed() } }
    }

    #[cfg(not(miri))]
    fn set(fill: bool) -> Self {
        // SAFETY: plain sigset_t manipulation of local values.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            if fill {
                libc::sigfillset(&mut set);
            } else {
                libc::sigemptyset(&mut set);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, &mut old);
            SignalMask { old }
        }
    }
    /// Unblocks every signal (around application callbacks).
    pub fn empty() -> Self {
        Self::set(false)
    }
    /// Blocks every signal (around creating a library thread, which inherits the mask).
    pub fn full() -> Self {
        Self::set(true)
    }
}

impl Drop for SignalMask {
    #[cfg(miri)]
    fn drop(&mut self) {}

    #[cfg(not(miri))]
    fn drop(&mut self) {
        // SAFETY: restores the mask saved at construction.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

// ---------------------------------------------------------------------------------------------
// native AIO (fs/aio.c). Truly asynchronous only for O_DIRECT files and block devices.

pub type AioContext = libc::c_ulong;

pub const IOCB_CMD_PREAD: u16 = 0;
pub const IOCB_CMD_PWRITE: u16 = 1;
pub const IOCB_CMD_FSYNC: u16 = 2;
pub const IOCB_CMD_FDSYNC: u16 = 3;
pub const IOCB_CMD_PREADV: u16 = 7;
pub const IOCB_CMD_PWRITEV: u16 = 8;
/// `aio_resfd` is valid: the kernel adds 1 to that eventfd on completion.
pub const IOCB_FLAG_RESFD: u32 = 1;

/// `struct iocb` of `<linux/aio_abi.h>` (little-endian layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Iocb {
    pub aio_data: u64,
    pub aio_key: u32,
    pub aio_rw_flags: i32,
    pub aio_lio_opcode: u16,
    pub aio_reqprio: i16,
    pub aio_fildes: u32,
    pub aio_buf: u64,
    pub aio_nbytes: u64,
    pub aio_offset: i64,
    pub aio_reserved2: u64,
    pub aio_flags: u32,
    pub aio_resfd: u32,
}
const _: () = assert!(std::mem::size_of::<Iocb>() == 64);

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}
const _: () = assert!(std::mem::size_of::<IoEvent>() == 32);

/// Creates a context for up to `nr_events` requests. EAGAIN when `fs.aio-max-nr` is exhausted.
pub fn io_setup(nr_events: u32) -> io::Result<AioContext> {
    let mut ctx: AioContext = 0;
    // SAFETY: `ctx` is a valid out-pointer initialised to 0 as the kernel requires.
    check(unsafe { libc::syscall(libc::SYS_io_setup, nr_events, &mut ctx as *mut AioContext) })?;
    Ok(ctx)
}

pub fn io_destroy(ctx: AioContext) -> io::Result<()> {
    // SAFETY: destroying an invalid context only returns EINVAL.
    check(unsafe { libc::syscall(libc::SYS_io_destroy, ctx) }).map(|_| ())
}

/// Submits `iocbs`; returns how many the kernel accepted (may be fewer than given).
///
/// # Safety
/// Every iocb's buffer must stay valid, and not be otherwise accessed, until its completion is
/// reaped with [`io_getevents`].
pub unsafe fn io_submit(ctx: AioContext, iocbs: &[*mut Iocb]) -> io::Result<usize> {
    // SAFETY: the caller guarantees the iocbs and their buffers; the pointer array is valid.
    check(unsafe { libc::syscall(libc::SYS_io_submit, ctx, iocbs.len() as c_long, iocbs.as_ptr()) }).map(|n| n as usize)
}

/// Reaps between `min_nr` and `events.len()` completions, waiting at most `timeout`.
pub fn io_getevents(
    ctx: AioContext,
    min_nr: usize,
    events: &mut [IoEvent],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let ts = timeout.map(to_timespec);
    let tsp = ts.as_ref().map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `events` is a valid writable array of the given length; `tsp` is NULL or valid.
    check(unsafe {
        libc::syscall(libc::SYS_io_getevents, ctx, min_nr as c_long, events.len() as c_long, events.as_mut_ptr(), tsp)
    })
    .map(|n| n as usize)
}

/// Asks the kernel to cancel `iocb`. Most file systems refuse (EINVAL/EAGAIN): the request then
/// completes normally.
///
/// # Safety
/// `iocb` must be a request submitted on `ctx` and not yet reaped.
pub unsafe fn io_cancel(ctx: AioContext, iocb: *mut Iocb) -> io::Result<IoEvent> {
    let mut ev = IoEvent::default();
    // SAFETY: per the caller's contract; `ev` is a valid out-pointer.
    check(unsafe { libc::syscall(libc::SYS_io_cancel, ctx, iocb, &mut ev as *mut IoEvent) })?;
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn futex_wait_returns_eagain_when_value_differs() {
        let w = AtomicU32::new(5);
        let e = futex_wait(&w, 4, None).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN));
    }

    #[test]
    fn futex_wait_until_past_deadline_times_out() {
        let w = AtomicU32::new(0);
        let mut d = monotonic_now();
        d.tv_nsec = (d.tv_nsec + 5_000_000) % 1_000_000_000;
        if d.tv_nsec < 5_000_000 {
            d.tv_sec += 1;
        }
        let e = futex_wait_until(&w, 0, Some(d)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT));
    }

    #[test]
    fn futex_wait_times_out() {
        let w = AtomicU32::new(0);
        let e = futex_wait(&w, 0, Some(Duration::from_millis(5))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ETIMEDOUT));
    }

    #[test]
    fn futex_waitv_wakes_the_right_entry() {
        let words: Vec<AtomicU32> = (0..3).map(|_| AtomicU32::new(0)).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                words[2].store(1, Ordering::SeqCst);
                futex_wake(&words[2], 1);
            });
            let v: Vec<FutexWaitv> = words.iter().map(|w| FutexWaitv::new(w, 0)).collect();
            match futex_waitv(&v, None) {
                Ok(i) => assert_eq!(i, 2),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {} // woken before we slept
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => return,
                Err(e) => panic!("{e}"),
            }
            assert_eq!(words[2].load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn native_aio_context_round_trip() {
        let ctx = match io_setup(8) {
            Ok(c) => c,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EAGAIN) | Some(libc::EPERM)) => return,
            Err(e) => panic!("{e}"),
        };
        // A buffered pread through kernel AIO completes (synchronously inside io_submit).
        let path = std::env::temp_dir().join(format!("kaio-test-{}", std::process::id()));
        std::fs::write(&path, b"hello kernel aio").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 16];
        let mut cb = Iocb {
            aio_data: 42,
            aio_lio_opcode: IOCB_CMD_PREAD,
            aio_fildes: std::os::fd::AsRawFd::as_raw_fd(&f) as u32,
            aio_buf: buf.as_mut_ptr() as u64,
            aio_nbytes: 16,
            ..Default::default()
        };
        let list = [&mut cb as *mut Iocb];
        // SAFETY: `buf` and `cb` outlive the reaping below.
        assert_eq!(unsafe { io_submit(ctx, &list) }.unwrap(), 1);
        let mut ev = [IoEvent::default(); 1];
        assert_eq!(io_getevents(ctx, 1, &mut ev, Some(Duration::from_secs(5))).unwrap(), 1);
        assert_eq!(ev[0].data, 42);
        assert_eq!(ev[0].res, 16);
        assert_eq!(&buf, b"hello kernel aio");
        io_destroy(ctx).unwrap();
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn signal_to_nonexistent_thread_is_detected() {
        let pid = std::process::id() as pid_t;
        assert!(thread_exists(pid, gettid()));
        assert!(!thread_exists(pid, 0));
        assert!(!thread_exists(pid, i32::MAX));
    }
}
