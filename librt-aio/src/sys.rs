//! System calls used by the request core. One of rtaio's few `unsafe` modules; every function
//! wraps one call and returns `Result<_, errno>`. Blocking I/O calls retry on EINTR.
//!
//! Calls that can run on an application's thread (submission, completion, cancel) are made
//! as raw system calls, never through libc's wrappers where those are cancellation points
//! (`preadv2`, `close`, `write`, `getrandom`): a pending `pthread_cancel` must be acted on only
//! where glibc's AIO acts on it, in `aio_suspend` (the `*_cancellable` waits below).

use libc::{c_int, c_void, off_t, pid_t};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};

pub type Errno = i32;

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Sets the calling thread's errno (for the FFI shell's -1/errno convention).
pub fn set_errno(e: Errno) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

pub fn random_u64() -> u64 {
    let mut v = 0u64;
    // SAFETY: writes at most 8 bytes into `v`.
    let n =
        unsafe { libc::syscall(libc::SYS_getrandom, &mut v as *mut u64 as *mut c_void, 8usize, libc::GRND_NONBLOCK) };
    if n != 8 {
        // No entropy yet (very early boot) or seccomp: mix what differs between processes.
        let t = kernel_aio::monotonic_now();
        v = (t.tv_nsec as u64) ^ ((t.tv_sec as u64) << 32) ^ ((getpid() as u64) << 17) ^ (&v as *const u64 as u64);
    }
    v
}

/// `fcntl(fd, F_GETFL)`: EBADF for a descriptor that is not open.
pub fn fd_flags(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL takes no pointer argument.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// What a descriptor names, as far as ordering and executors care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file or block device: seekable, can carry POSIX record locks, can be synced,
    /// and native AIO can take its O_DIRECT requests.
    File,
    /// A directory: seekable and syncable, but every read and write fails.
    Dir,
    /// Incapable of seeking (POSIX's words): pipes, FIFOs, sockets, character devices such as
    /// terminals, and anonymous-inode files. Requests on it run in submission order per
    /// direction; it cannot be synced.
    Stream,
}

/// The kind of file `fd` names (one `fstat`). A descriptor fstat cannot look at is taken for a
/// file: the request's own system call then reports the error.
pub fn file_kind(fd: c_int) -> FileKind {
    // SAFETY: `st` is a valid out-pointer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return FileKind::File;
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFBLK => FileKind::File,
        libc::S_IFDIR => FileKind::Dir,
        _ => FileKind::Stream,
    }
}

/// Closes a descriptor rtaio owns (not a cancellation point, unlike libc's `close`).
pub fn close(fd: c_int) {
    // SAFETY: the caller owns `fd`; close takes no pointer.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

pub fn fd_is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no pointer argument.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

fn retry(mut f: impl FnMut() -> isize) -> Result<usize, Errno> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Reads into the caller's buffer. `offset == None` reads at the file position (unseekable files).
///
/// # Safety
/// `buf..buf+len` is the caller's aio buffer, which POSIX keeps valid and untouched by the
/// application until the request completes.
pub unsafe fn read_at(fd: c_int, buf: usize, len: usize, offset: Option<i64>) -> Result<usize, Errno> {
    retry(|| match offset {
        // SAFETY: per the function contract; the kernel validates the range (EFAULT).
        Some(off) => unsafe { libc::pread(fd, buf as *mut c_void, len, off as off_t) },
        // SAFETY: as above.
        None => unsafe { libc::read(fd, buf as *mut c_void, len) },
    })
}

/// Writes from the caller's buffer; `offset == None` writes at the file position (or appends).
///
/// # Safety
/// As for [`read_at`].
pub unsafe fn write_at(fd: c_int, buf: usize, len: usize, offset: Option<i64>) -> Result<usize, Errno> {
    retry(|| match offset {
        // SAFETY: per the function contract.
        Some(off) => unsafe { libc::pwrite(fd, buf as *const c_void, len, off as off_t) },
        // SAFETY: as above.
        None => unsafe { libc::write(fd, buf as *const c_void, len) },
    })
}

/// Vectored read into the caller's segments (`preadv`, or `readv` at the file position).
///
/// # Safety
/// Every segment is a buffer of the caller's request, valid until it completes.
pub unsafe fn readv_at(fd: c_int, iov: &[crate::request::IoVec], offset: Option<i64>) -> Result<usize, Errno> {
    let (p, n) = (iov.as_ptr() as *const libc::iovec, iov.len() as c_int);
    retry(|| match offset {
        // SAFETY: IoVec has the layout of struct iovec; per the function contract.
        Some(off) => unsafe { libc::preadv(fd, p, n, off as off_t) },
        // SAFETY: as above.
        None => unsafe { libc::readv(fd, p, n) },
    })
}

/// Vectored write from the caller's segments (`pwritev`, or `writev` at the file position).
///
/// # Safety
/// As for [`readv_at`].
pub unsafe fn writev_at(fd: c_int, iov: &[crate::request::IoVec], offset: Option<i64>) -> Result<usize, Errno> {
    let (p, n) = (iov.as_ptr() as *const libc::iovec, iov.len() as c_int);
    retry(|| match offset {
        // SAFETY: IoVec has the layout of struct iovec; per the function contract.
        Some(off) => unsafe { libc::pwritev(fd, p, n, off as off_t) },
        // SAFETY: as above.
        None => unsafe { libc::writev(fd, p, n) },
    })
}

/// One non-blocking (`RWF_NOWAIT`) positional read: succeeds only when it needs no device I/O
/// (page-cache hit), else EAGAIN (or ESPIPE, EOPNOTSUPP... for files that do not support it).
/// Available since Linux 4.14.
///
/// # Safety
/// As for [`read_at`].
pub unsafe fn nowait_read(fd: c_int, buf: usize, len: usize, offset: i64) -> Result<usize, Errno> {
    let iov = libc::iovec { iov_base: buf as *mut c_void, iov_len: len };
    // preadv2's offset is passed as two halves (low, high); on LP64 the high half is ignored.
    // SAFETY: per the function contract; `iov` describes the caller's buffer.
    let r = unsafe {
        libc::syscall(libc::SYS_preadv2, fd, &iov as *const libc::iovec, 1, offset as off_t, 0, libc::RWF_NOWAIT)
    };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// Are all pages of `buf..buf+len` resident in memory? `mincore` on the caller's buffer: a
/// page that is not (never touched, swapped out, file-backed and uncached, or a userfaultfd
/// page nobody has filled yet) would make a copy into it wait — possibly for the very thread
/// that is copying. `len` is at most a few dozen pages here.
pub fn buffer_resident(buf: usize, len: usize) -> bool {
    const MAX_PAGES: usize = 64;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let start = buf & !(page - 1);
    let Some(end) = buf.checked_add(len.max(1)) else { return false };
    let pages = (end - start).div_ceil(page);
    if pages > MAX_PAGES {
        return false;
    }
    let mut vec = [0u8; MAX_PAGES];
    // SAFETY: `vec` has room for `pages` entries; mincore only reads the page tables of the
    // range (ENOMEM for an unmapped range, reported as "not resident").
    let r = unsafe { libc::mincore(start as *mut c_void, end - start, vec.as_mut_ptr()) };
    r == 0 && vec[..pages].iter().all(|v| v & 1 == 1)
}

/// Adds `n` to an eventfd's counter. Errors (a counter at its maximum) are ignored: the
/// reader is behind by 2^64 - 2 events and will find the queue non-empty anyway.
pub fn eventfd_add(fd: c_int, n: u64) {
    loop {
        // SAFETY: writes 8 bytes from a local value.
        let r = unsafe { libc::syscall(libc::SYS_write, fd, &n as *const u64 as *const c_void, 8usize) };
        if r >= 0 || errno() != libc::EINTR {
            return;
        }
    }
}

pub fn sync(fd: c_int, data_only: bool) -> Result<usize, Errno> {
    // SAFETY: no pointers involved.
    retry(|| unsafe {
        if data_only {
            libc::fdatasync(fd) as isize
        } else {
            libc::fsync(fd) as isize
        }
    })
}

pub fn getpid() -> pid_t {
    // SAFETY: cannot fail.
    unsafe { libc::getpid() }
}

pub fn getuid() -> libc::uid_t {
    // SAFETY: cannot fail.
    unsafe { libc::getuid() }
}

/// True in a setuid/setgid/capability-raised process: environment tuning is then ignored.
pub fn secure_execution() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Calls a SIGEV_THREAD function with the given value.
///
/// # Safety
/// `func` is the application's `void (*)(union sigval)` from a validated sigevent.
pub unsafe fn call_notify_function(func: usize, value: usize) {
    // SAFETY: per the contract; union sigval is passed like a pointer-sized integer.
    let f: extern "C" fn(usize) = unsafe { std::mem::transmute(func) };
    f(value);
}

extern "C" {
    // Not declared by the libc crate; part of POSIX threads in glibc's libc.so.6.
    fn pthread_attr_getdetachstate(attr: *const libc::pthread_attr_t, state: *mut c_int) -> c_int;
}

struct ThreadCall {
    func: usize,
    value: usize,
}

extern "C" fn notify_thread_start(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box<ThreadCall> leaked by `spawn_notify_thread`, used only here.
    let call = unsafe { Box::from_raw(arg as *mut ThreadCall) };
    // SAFETY: func was validated non-NULL when the request was submitted.
    unsafe { call_notify_function(call.func, call.value) };
    std::ptr::null_mut()
}

/// Runs `func(value)` on a new thread made with the application's attributes (SIGEV_THREAD with
/// `sigev_notify_attributes`). The thread starts with an empty signal mask, like glibc's
/// notification threads, and is detached if the attributes ask for a joinable thread.
///
/// # Safety
/// `attr` points to an initialised `pthread_attr_t` the application keeps valid (POSIX);
/// `func` is a valid notification function.
pub unsafe fn spawn_notify_thread(attr: usize, func: usize, value: usize) -> Result<(), Errno> {
    let arg = Box::into_raw(Box::new(ThreadCall { func, value })) as *mut c_void;
    let mut tid: libc::pthread_t = 0;
    let _mask = kernel_aio::SignalMask::empty();
    // SAFETY: per the contract; `arg` is a leaked box the start routine reclaims.
    let r = unsafe { libc::pthread_create(&mut tid, attr as *const libc::pthread_attr_t, notify_thread_start, arg) };
    if r != 0 {
        // SAFETY: the thread was not created; reclaim the box.
        drop(unsafe { Box::from_raw(arg as *mut ThreadCall) });
        return Err(r);
    }
    let mut state: c_int = libc::PTHREAD_CREATE_DETACHED;
    // SAFETY: reading a field of the application's attributes.
    unsafe { pthread_attr_getdetachstate(attr as *const libc::pthread_attr_t, &mut state) };
    if state == libc::PTHREAD_CREATE_JOINABLE {
        // SAFETY: `tid` is a thread we just created and nobody else joins.
        unsafe { libc::pthread_detach(tid) };
    }
    Ok(())
}

/// Registers `child` to run in the child after every fork().
pub fn at_fork_child(child: extern "C" fn()) {
    // SAFETY: registering a handler function that lives as long as the library (the shared
    // library is linked with -z nodelete, so it is never unloaded).
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
}

/// Signal number limits of this libc (glibc reserves 32 and 33 for itself).
pub fn sigrtmin() -> c_int {
    libc::SIGRTMIN()
}
pub fn sigrtmax() -> c_int {
    libc::SIGRTMAX()
}

// ---------------------------------------------------------------------------------------------
// cancellation points (cancel.c)

#[cfg(not(miri))]
// Declared "C", not "C-unwind": a cancel is a *forced* unwind, which passes through frames
// without landing pads (with panic = "abort" rustc emits none for "C" calls); a "C-unwind"
// declaration would give the caller an abort-on-unwind landing pad that stops it.
extern "C" {
    /// See `cancel.c`: system call `nr` with asynchronous cancellation on and `cleanup(arg)`
    /// pushed; its result, or -errno.
    fn rtaio_cancellable_syscall(
        cleanup: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
        nr: libc::c_long,
        args: *const [libc::c_long; 6],
    ) -> libc::c_long;
}

/// The cleanup of a cancelled wait: gives back the waiter count it registered in.
#[cfg(not(miri))]
unsafe extern "C" fn release_waiter(arg: *mut c_void) {
    if !arg.is_null() {
        // SAFETY: `arg` is the counter passed to `cancellable` by a waiter that incremented it;
        // such counters live in statics or in the leaked runtime.
        unsafe { (*(arg as *const AtomicUsize)).fetch_sub(1, SeqCst) };
    }
}

/// Runs a futex wait as a POSIX cancellation point (`aio_suspend`, `aio_waitcomplete`): a
/// cancel pending at the call, or arriving during the wait, ends the thread there, after
/// `registered` (a waiter count the caller incremented) is decremented. The calling frames
/// must own nothing that needs dropping while they wait here: they are unwound ("plain old
/// frames" of the C-unwind RFC), not returned through.
#[cfg(not(miri))]
fn cancellable(registered: Option<&AtomicUsize>, nr: libc::c_long, args: [libc::c_long; 6]) -> Result<usize, Errno> {
    let arg = registered.map_or(std::ptr::null_mut(), |c| c as *const AtomicUsize as *mut c_void);
    // SAFETY: `args` are those of a futex system call that the two callers below build from
    // live references; the cleanup touches only `registered`.
    let r = unsafe { rtaio_cancellable_syscall(release_waiter, arg, nr, &args) };
    if r < 0 {
        Err(-r as Errno)
    } else {
        Ok(r as usize)
    }
}

/// [`kernel_aio::futex_waitv`] as a cancellation point.
#[cfg(not(miri))]
pub fn futex_waitv_cancellable(
    waiters: &[kernel_aio::FutexWaitv],
    deadline: Option<&libc::timespec>,
    registered: Option<&AtomicUsize>,
) -> Result<usize, Errno> {
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let args = [
        waiters.as_ptr() as libc::c_long,
        waiters.len() as libc::c_long,
        0,
        tsp as libc::c_long,
        libc::CLOCK_MONOTONIC as libc::c_long,
        0,
    ];
    cancellable(registered, libc::SYS_futex_waitv, args)
}

/// [`kernel_aio::futex_wait_until`] (an absolute CLOCK_MONOTONIC deadline) as a cancellation
/// point.
#[cfg(not(miri))]
pub fn futex_wait_until_cancellable(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&libc::timespec>,
    registered: Option<&AtomicUsize>,
) -> Result<(), Errno> {
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    let op = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
    let args =
        [word.as_ptr() as libc::c_long, op as libc::c_long, expected as libc::c_long, tsp as libc::c_long, 0, -1];
    cancellable(registered, libc::SYS_futex, args).map(|_| ())
}

// Miri runs no C: there the same waits, without cancellation.
#[cfg(miri)]
pub fn futex_waitv_cancellable(
    waiters: &[kernel_aio::FutexWaitv],
    deadline: Option<&libc::timespec>,
    _registered: Option<&AtomicUsize>,
) -> Result<usize, Errno> {
    kernel_aio::futex_waitv(waiters, deadline.copied()).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

#[cfg(miri)]
pub fn futex_wait_until_cancellable(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&libc::timespec>,
    _registered: Option<&AtomicUsize>,
) -> Result<(), Errno> {
    kernel_aio::futex_wait_until(word, expected, deadline.copied()).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}
