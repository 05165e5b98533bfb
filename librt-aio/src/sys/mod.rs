//! System calls: one of rtaio's few `unsafe` modules (with `sys/elf.rs`, `sys/cancel.c`, the
//! aiocb view and the exports). Every function wraps one call, says what the kernel requires
//! of its arguments, and returns `Result<_, Errno>`; the rest of the library is safe Rust.
//!
//! Calls that can run on an application's thread (submission, completion, cancel) are raw
//! system calls, never libc's wrappers where those are cancellation points (`preadv2`,
//! `close`, `write`, `getrandom`): a pending `pthread_cancel` is acted on only where glibc's
//! AIO acts on it, in `aio_suspend` (the `*_cancellable` waits, `cancel.c`). Blocking I/O calls
//! retry on EINTR. Kernel requirements are noted per function ("Available since Linux X").

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::time::Duration;

use kernel_aio::IoBuf;
use libc::{c_int, c_long, c_void, off_t, pid_t, timespec};

/// Every signal blocked on this thread while it lives (async-signal-safe).
pub use kernel_aio::uring::NoHandlers;

pub mod arcs;
pub mod elf;
pub mod global;

pub type Errno = i32;

/// The calling thread's errno (async-signal-safe: no allocation).
pub fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn check(r: c_long) -> Result<usize, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// Sets the calling thread's errno (the exports' -1/errno convention).
pub fn set_errno(e: Errno) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

// ---------------------------------------------------------------------------------------------
// process facts

pub fn random_u64() -> u64 {
    let mut v = 0u64;
    // SAFETY: writes at most 8 bytes into `v`.
    let n =
        unsafe { libc::syscall(libc::SYS_getrandom, &mut v as *mut u64 as *mut c_void, 8usize, libc::GRND_NONBLOCK) };
    if n != 8 {
        // No entropy yet (very early boot) or seccomp: mix what differs between processes.
        let t = monotonic_now();
        v = (t.tv_nsec as u64) ^ ((t.tv_sec as u64) << 32) ^ ((getpid() as u64) << 17) ^ (&v as *const u64 as u64);
    }
    v
}

/// Gives the CPU to another runnable thread, if any. Async-signal-safe.
pub fn yield_now() {
    // SAFETY: sched_yield takes no arguments.
    unsafe { libc::sched_yield() };
}

pub fn getpid() -> pid_t {
    // SAFETY: cannot fail.
    unsafe { libc::getpid() }
}

pub fn getuid() -> libc::uid_t {
    // SAFETY: cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
pub fn gettid() -> pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as pid_t }
}

/// True in a setuid/setgid/capability-raised process: environment tuning is then ignored.
pub fn secure_execution() -> bool {
    // Miri cannot call getauxval (the core's tests under Miri reach the statistics switch).
    if cfg!(miri) {
        return false;
    }
    // SAFETY: getauxval only reads the auxiliary vector.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Registers `child` to run in the child after every fork().
pub fn at_fork_child(child: extern "C" fn()) {
    // SAFETY: registering a handler that lives as long as the library (the shared library is
    // linked with -z nodelete, so it is never unloaded).
    unsafe { libc::pthread_atfork(None, None, Some(child)) };
}

/// Registers `f` to run at exit() (`atexit`: also at the return from main).
pub fn at_exit(f: extern "C" fn()) {
    // SAFETY: registering a handler that lives as long as the library (the shared library is
    // linked with -z nodelete, so it is never unloaded).
    unsafe { libc::atexit(f) };
}

/// Installs `handler` for `signo` (SA_RESTART, no other signal blocked while it runs).
pub fn set_signal_handler(signo: c_int, handler: extern "C" fn(c_int)) -> Result<(), Errno> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler is a plain
    // `extern "C" fn(int)` that lives as long as the library (linked -z nodelete).
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(signo, &sa, std::ptr::null_mut())
    };
    check(r as c_long).map(|_| ())
}

/// Nanoseconds on the monotonic clock (vDSO; async-signal-safe).
pub fn monotonic_ns() -> u64 {
    let t = monotonic_now();
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Writes all of `bytes` to `fd` (raw system calls, EINTR retried; async-signal-safe). Stops
/// at the first error.
pub fn write_all(fd: c_int, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: writes from a live slice of the given length.
        let n = retry(|| unsafe { libc::syscall(libc::SYS_write, fd, bytes.as_ptr() as *const c_void, bytes.len()) })?;
        if n == 0 {
            return Err(libc::EIO);
        }
        bytes = &bytes[n.min(bytes.len())..];
    }
    Ok(())
}

/// Opens (creating, mode 0644 before the umask) a file to append to, close-on-exec (a raw
/// `openat`: async-signal-safe).
pub fn open_append(path: &std::ffi::CStr) -> Result<c_int, Errno> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated and outlives the call.
    retry(|| unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags, 0o644 as c_int) })
        .map(|fd| fd as c_int)
}

/// The soft limit on open descriptors (1024 when it cannot be read).
pub fn nofile_limit() -> u64 {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `rl` is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        rl.rlim_cur
    } else {
        1024
    }
}

pub fn monotonic_now() -> timespec {
    let mut ts = timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts
}

/// A table of `chunks` chunks of `len` atomics holding 0, each allocated when first asked for
/// (`ensure`) and kept until the table is dropped: a table sized for billions costs only the
/// chunks used and one pointer per chunk. An allocation that fails is EAGAIN, never an abort.
pub struct ZeroedChunks {
    ptrs: Box<[AtomicPtr<AtomicU64>]>,
    len: usize,
}

impl ZeroedChunks {
    pub fn new(chunks: usize, len: usize) -> Result<ZeroedChunks, Errno> {
        let layout = Layout::array::<AtomicPtr<AtomicU64>>(chunks.max(1)).map_err(|_| libc::EAGAIN)?;
        Layout::array::<AtomicU64>(len.max(1)).map_err(|_| libc::EAGAIN)?;
        // SAFETY: `layout` has a non-zero size.
        let p = unsafe { alloc_zeroed(layout) }.cast::<AtomicPtr<AtomicU64>>();
        if p.is_null() {
            return Err(libc::EAGAIN);
        }
        // SAFETY: `p` holds `chunks.max(1)` zeroed AtomicPtrs (null: a valid value), allocated by
        // the global allocator with the layout of that array, as Box expects.
        let ptrs = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, chunks.max(1))) };
        Ok(ZeroedChunks { ptrs, len: len.max(1) })
    }

    fn layout(&self) -> Layout {
        Layout::array::<AtomicU64>(self.len).expect("checked in new")
    }

    /// Chunk `c`, if it was allocated.
    pub fn get(&self, c: usize) -> Option<&[AtomicU64]> {
        let p = self.ptrs.get(c)?.load(Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer was published by `ensure` for `len` zeroed atomics, freed
        // only by Drop (which has `&mut self`).
        Some(unsafe { std::slice::from_raw_parts(p, self.len) })
    }

    /// Chunk `c`, allocated now if it was not; EAGAIN if memory is short.
    pub fn ensure(&self, c: usize) -> Result<&[AtomicU64], Errno> {
        if let Some(s) = self.get(c) {
            return Ok(s);
        }
        let slot = self.ptrs.get(c).ok_or(libc::EINVAL)?;
        // SAFETY: the layout has a non-zero size; zeroed memory is valid for AtomicU64.
        let p = unsafe { alloc_zeroed(self.layout()) }.cast::<AtomicU64>();
        if p.is_null() {
            return Err(libc::EAGAIN);
        }
        if slot.compare_exchange(std::ptr::null_mut(), p, AcqRel, Acquire).is_err() {
            // Another thread published the chunk first: ours was never shared.
            // SAFETY: `p` was allocated just above with this layout.
            unsafe { dealloc(p.cast(), self.layout()) };
        }
        self.get(c).ok_or(libc::EAGAIN)
    }
}

impl Drop for ZeroedChunks {
    fn drop(&mut self) {
        let layout = self.layout();
        for p in self.ptrs.iter() {
            let p = p.load(Relaxed);
            if !p.is_null() {
                // SAFETY: allocated by `ensure` with this layout; nothing borrows it (`&mut self`).
                unsafe { dealloc(p.cast(), layout) };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// descriptors

/// `fcntl(fd, F_GETFL)`: EBADF for a descriptor that is not open.
pub fn fd_flags(fd: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_GETFL takes no pointer argument.
    check(unsafe { libc::fcntl(fd, libc::F_GETFL) } as c_long).map(|f| f as c_int)
}

pub fn fd_is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no pointer argument.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// A new descriptor for `fd`'s open file, close-on-exec, numbered at least `min`.
pub fn dup_at_least(fd: c_int, min: c_int) -> Result<c_int, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and creates a new descriptor.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) } as c_long).map(|d| d as c_int)
}

/// Closes a descriptor rtaio owns (not a cancellation point, unlike libc's `close`).
pub fn close(fd: c_int) {
    // SAFETY: the caller owns `fd`; close takes no pointer.
    unsafe { libc::syscall(libc::SYS_close, fd) };
}

fn fstat(fd: c_int) -> Option<libc::stat> {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer for fstat.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st)
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
    /// A character device that is not incapable of seeking (its lseek does not answer ESPIPE:
    /// /dev/zero, /dev/mem, a framebuffer, /dev/kmsg...): requests go at their offset with
    /// pread/pwrite (read/write if those answer ESPIPE), as glibc's, where the offset may mean
    /// something (a CPUID leaf, a screen position); in submission order per direction, as a
    /// stream's; it cannot be synced. Made by the pool only: a driver's poll need not say
    /// ready ever (io_uring would wait on /dev/kmsg).
    Device,
}

/// The kind of file `fd` names (one `fstat`; an `lseek` more for a character device). A
/// descriptor fstat cannot look at is taken for a file: the request's own system call then
/// reports the error.
pub fn file_kind(fd: c_int) -> FileKind {
    match fstat(fd).map(|st| st.st_mode & libc::S_IFMT) {
        Some(libc::S_IFDIR) => FileKind::Dir,
        Some(libc::S_IFREG | libc::S_IFBLK) | None => FileKind::File,
        Some(libc::S_IFCHR) if !cannot_seek(fd) => FileKind::Device,
        Some(_) => FileKind::Stream,
    }
}

/// Does `fd` answer ESPIPE to a seek (a terminal, and every pipe and socket)?
fn cannot_seek(fd: c_int) -> bool {
    // SAFETY: no pointers; SEEK_CUR by 0 moves nothing.
    let pos = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    pos < 0 && errno() == libc::ESPIPE
}

/// (st_dev, st_ino, st_rdev, status flags): what tells two open files apart without kcmp.
pub fn identity(fd: c_int) -> Option<(u64, u64, u64, c_int)> {
    let st = fstat(fd)?;
    Some((st.st_dev, st.st_ino, st.st_rdev, fd_flags(fd).ok()?))
}

/// Is `fd` an anonymous-inode file (no file type bits: eventfd, epoll, timerfd, signalfd...)?
pub fn is_anon_inode(fd: c_int) -> bool {
    fstat(fd).is_some_and(|st| st.st_mode & libc::S_IFMT == 0)
}

/// Where `/proc/self/fd/N` points (`anon_inode:[eventfd]` for an eventfd), at most 64 bytes.
pub fn fd_link(fd: c_int) -> Option<Vec<u8>> {
    let path = format!("/proc/self/fd/{fd}\0");
    let mut buf = [0u8; 64];
    // SAFETY: `path` is NUL-terminated; `buf` is a valid buffer of the given length.
    let n = unsafe { libc::readlink(path.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()) };
    (n > 0).then(|| buf[..n as usize].to_vec())
}

/// Do two of this process's descriptors refer to the same open file description?
/// `kcmp(KCMP_FILE)`: ENOSYS without CONFIG_KCMP, EPERM under some seccomp or Yama policies.
/// Available since Linux 3.5.
pub fn kcmp_same_file(fd1: c_int, fd2: c_int) -> Result<bool, Errno> {
    const KCMP_FILE: c_int = 0;
    let pid = getpid();
    // SAFETY: kcmp with KCMP_FILE takes only integers.
    check(unsafe { libc::syscall(libc::SYS_kcmp, pid, pid, KCMP_FILE, fd1 as libc::c_ulong, fd2 as libc::c_ulong) })
        .map(|r| r == 0)
}

// ---------------------------------------------------------------------------------------------
// I/O. The buffers are IoBufs: memory the application lent to the request until it completes.

fn retry(mut f: impl FnMut() -> c_long) -> Result<usize, Errno> {
    loop {
        match check(f()) {
            Err(libc::EINTR) => continue,
            r => return r,
        }
    }
}

/// Reads into `buf` at `offset`, or at the file position (`None`: descriptors that cannot seek).
pub fn read_at(fd: c_int, buf: IoBuf, offset: Option<i64>) -> Result<usize, Errno> {
    retry(|| match offset {
        // SAFETY: `buf` is valid for the kernel to write (IoBuf's contract; EFAULT otherwise).
        Some(off) => unsafe { libc::pread(fd, buf.addr() as *mut c_void, buf.len(), off as off_t) as c_long },
        // SAFETY: as above.
        None => unsafe { libc::read(fd, buf.addr() as *mut c_void, buf.len()) as c_long },
    })
}

/// Writes `buf` at `offset`, or at the file position / end of file (`None`).
pub fn write_at(fd: c_int, buf: IoBuf, offset: Option<i64>) -> Result<usize, Errno> {
    retry(|| match offset {
        // SAFETY: `buf` is valid for the kernel to read (IoBuf's contract).
        Some(off) => unsafe { libc::pwrite(fd, buf.addr() as *const c_void, buf.len(), off as off_t) as c_long },
        // SAFETY: as above.
        None => unsafe { libc::write(fd, buf.addr() as *const c_void, buf.len()) as c_long },
    })
}

/// Vectored read (`preadv`, or `readv` at the file position).
pub fn readv_at(fd: c_int, bufs: &[IoBuf], offset: Option<i64>) -> Result<usize, Errno> {
    let (p, n) = (bufs.as_ptr() as *const libc::iovec, bufs.len() as c_int);
    retry(|| match offset {
        // SAFETY: IoBuf has the layout of struct iovec, and each segment is valid (IoBuf).
        Some(off) => unsafe { libc::preadv(fd, p, n, off as off_t) as c_long },
        // SAFETY: as above.
        None => unsafe { libc::readv(fd, p, n) as c_long },
    })
}

/// Vectored write (`pwritev`, or `writev` at the file position).
pub fn writev_at(fd: c_int, bufs: &[IoBuf], offset: Option<i64>) -> Result<usize, Errno> {
    let (p, n) = (bufs.as_ptr() as *const libc::iovec, bufs.len() as c_int);
    retry(|| match offset {
        // SAFETY: IoBuf has the layout of struct iovec, and each segment is valid (IoBuf).
        Some(off) => unsafe { libc::pwritev(fd, p, n, off as off_t) as c_long },
        // SAFETY: as above.
        None => unsafe { libc::writev(fd, p, n) as c_long },
    })
}

/// One positional read or write as a raw system call: not a cancellation point (unlike
/// glibc's `pread`), for an application's thread that must publish what it did whatever
/// happens (`aio_suspend` running a request itself). EINTR is retried, as in the workers,
/// whose signals are blocked. Async-signal-safe.
pub fn transfer_at_raw(fd: c_int, buf: IoBuf, offset: i64, write: bool) -> Result<usize, Errno> {
    let nr = if write { libc::SYS_pwrite64 } else { libc::SYS_pread64 };
    // SAFETY: `buf` is valid for the kernel to read or write (IoBuf's contract; EFAULT
    // otherwise); the offset is one register on LP64.
    retry(|| unsafe { libc::syscall(nr, fd, buf.addr() as *mut c_void, buf.len(), offset as off_t) })
}

/// Is `fd` on a file system whose reads and writes wait for a local device or for memory (ext4,
/// xfs, btrfs, tmpfs...), not for a server (NFS, SMB, 9p, Ceph, FUSE), whose waits a signal
/// can cut short and whose answer may never come? Unknown file systems count as servers.
/// Async-signal-safe (one system call).
pub fn waits_for_local_device(fd: c_int) -> bool {
    // SAFETY: statfs is plain data (all zeroes valid); fstatfs writes one into the local.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid statfs for the kernel to write.
    if unsafe { libc::fstatfs(fd, &mut st) } != 0 {
        return false;
    }
    const LOCAL: [u32; 14] = [
        0xEF53,      // ext2, ext3, ext4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x0102_1994, // tmpfs
        0x8584_58F6, // ramfs
        0xF2F5_2010, // f2fs
        0x2FC1_2FC1, // zfs
        0xCA45_1A4E, // bcachefs
        0x2011_BAB0, // exfat
        0x4D44,      // msdos, vfat
        0x7366_746E, // ntfs3
        0x3153_464A, // jfs
        0x5265_4973, // reiserfs
        0x794C_7630, // overlayfs (containers' root, over one of the above)
    ];
    LOCAL.contains(&(st.f_type as u32))
}

/// Can a write at `offset` not raise SIGXFSZ (RLIMIT_FSIZE unlimited, or the offset below it:
/// the kernel signals only a write that starts at or past the limit, and shortens one that
/// crosses it)? For an application's thread, which may not block the signal: its default
/// action ends the process. Async-signal-safe (one system call).
pub fn write_cannot_raise_sigxfsz(offset: i64) -> bool {
    let mut rl = libc::rlimit64 { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: prlimit64 of this process (pid 0), no new limit, writes one rlimit64 into the
    // local (every architecture has this call; not all have getrlimit's).
    let new: *const libc::rlimit64 = std::ptr::null();
    if unsafe { libc::syscall(libc::SYS_prlimit64, 0, libc::RLIMIT_FSIZE, new, &mut rl as *mut libc::rlimit64) } != 0 {
        return false;
    }
    rl.rlim_cur == libc::RLIM64_INFINITY || (offset >= 0 && (offset as u64) < rl.rlim_cur)
}

pub fn sync(fd: c_int, data_only: bool) -> Result<usize, Errno> {
    // SAFETY: no pointers involved.
    retry(|| unsafe { (if data_only { libc::fdatasync(fd) } else { libc::fsync(fd) }) as c_long })
}

/// One non-blocking (`RWF_NOWAIT`) positional read, as a raw system call (it may run on an
/// application's thread): succeeds only when no device I/O is needed (a page-cache hit), else
/// EAGAIN (or ESPIPE, EOPNOTSUPP... for files that do not support it). A negative offset means
/// "at the file position" to preadv2: callers pass only offsets >= 0.
/// Available since Linux 4.14.
pub fn nowait_read(fd: c_int, buf: IoBuf, offset: i64) -> Result<usize, Errno> {
    debug_assert!(offset >= 0);
    let iov = [buf];
    // SAFETY: `iov` is one iovec (IoBuf's layout) describing memory valid for the kernel to
    // write; preadv2's offset is passed as two halves (low, high), the high one unused on LP64.
    check(unsafe { libc::syscall(libc::SYS_preadv2, fd, iov.as_ptr(), 1, offset as off_t, 0, libc::RWF_NOWAIT) })
}

/// Does a `nowait_read` that misses the page cache start the device read before it answers
/// EAGAIN? The page cache's own readahead runs for RWF_NOWAIT reads since Linux 5.9 (before,
/// the read gave up first). Asked once.
pub fn nowait_read_starts_io() -> bool {
    static ANSWER: AtomicU32 = AtomicU32::new(0); // 0 not asked, 1 no, 2 yes
    match ANSWER.load(Relaxed) {
        0 => {
            let yes = kernel_release().is_some_and(|v| v >= (5, 9));
            ANSWER.store(1 + yes as u32, Relaxed);
            yes
        }
        a => a == 2,
    }
}

/// The running kernel's (major, minor) release, from `uname`.
fn kernel_release() -> Option<(u32, u32)> {
    // SAFETY: utsname is plain bytes, all-zero valid; uname fills it (NUL-terminated fields).
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid utsname for the kernel to write.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let release: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    parse_release(&release)
}

/// "6.1.0-18-amd64" -> (6, 1).
fn parse_release(s: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(s).ok()?;
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// One non-blocking (`RWF_NOWAIT`) read at the file position, as a raw system call: for a
/// descriptor that cannot seek (pipe, socket), whose blocking `read` would return whatever is
/// there; EAGAIN if nothing is, EOPNOTSUPP where the file (or the kernel) has no non-blocking
/// read (terminals, pipes before Linux 5.x). Available since Linux 4.14.
pub fn nowait_read_stream(fd: c_int, buf: IoBuf) -> Result<usize, Errno> {
    let iov = [buf];
    // SAFETY: as in `nowait_read`; offset -1 reads at the file position.
    check(unsafe { libc::syscall(libc::SYS_preadv2, fd, iov.as_ptr(), 1, -1 as off_t, 0, libc::RWF_NOWAIT) })
}

/// Are all pages of `buf` resident in memory? `mincore` on the caller's buffer: a page that is
/// not (never touched, swapped out, file-backed and uncached, or a userfaultfd page nobody has
/// filled yet) would make a copy into it wait — possibly for the very thread that is copying.
/// `buf` is at most a few dozen pages here.
pub fn buffer_resident(buf: IoBuf) -> bool {
    const MAX_PAGES: usize = 64;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let start = buf.addr() & !(page - 1);
    let Some(end) = buf.addr().checked_add(buf.len().max(1)) else { return false };
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

/// Pages recently found resident (direct-mapped by page number), shared by every caller of
/// [`buffer_resident_cached`]: a buffer the application reuses is checked once, not per request.
static RESIDENT: [AtomicUsize; 512] = [const { AtomicUsize::new(0) }; 512];
const PAGE: usize = 4096;

/// [`buffer_resident`], remembering the pages it found resident: a page once found resident is
/// trusted afterwards (it would have to be paged out, or zapped and registered with
/// userfaultfd, to fault again).
pub fn buffer_resident_cached(b: IoBuf) -> bool {
    if b.is_empty() {
        return true;
    }
    let first = b.addr() / PAGE;
    let Some(end) = b.addr().checked_add(b.len() - 1) else { return false };
    let last = end / PAGE;
    let known = |p: usize| RESIDENT[p % RESIDENT.len()].load(Relaxed) == p;
    if (first..=last).all(known) {
        return true;
    }
    if !buffer_resident(b) {
        return false;
    }
    for p in first..=last.min(first + RESIDENT.len()) {
        RESIDENT[p % RESIDENT.len()].store(p, Relaxed);
    }
    true
}

/// Adds `n` to an eventfd's counter. Errors (a counter at its maximum) are ignored: the
/// reader is behind by 2^64 - 2 events and will find the queue non-empty anyway.
pub fn eventfd_add(fd: c_int, n: u64) {
    // SAFETY: writes 8 bytes from a local value (a raw write: not a cancellation point).
    let _ = retry(|| unsafe { libc::syscall(libc::SYS_write, fd, &n as *const u64 as *const c_void, 8usize) });
}

/// A new eventfd (counter 0, blocking reads, close-on-exec).
pub fn eventfd_new() -> Result<c_int, Errno> {
    // SAFETY: plain descriptor creation.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        Err(errno())
    } else {
        Ok(fd)
    }
}

/// Blocks until the eventfd's counter is non-zero and resets it, as a POSIX cancellation
/// point (`registered` as for [`futex_waitv_cancellable`]). The kernel restarts the read after
/// an SA_RESTART handler (EINTR after another one). Consumes nothing but the counter, so a
/// cancel that strikes as it returns loses nothing.
#[cfg(not(miri))]
pub fn eventfd_wait_cancellable(fd: c_int, registered: Option<&AtomicUsize>) -> Result<(), Errno> {
    let mut v = 0u64;
    let args = [fd as c_long, &mut v as *mut u64 as c_long, 8, 0, 0, 0];
    cancellable(registered, libc::SYS_read, args).map(|_| ())
}

#[cfg(miri)]
pub fn eventfd_wait_cancellable(_fd: c_int, _registered: Option<&AtomicUsize>) -> Result<(), Errno> {
    Err(libc::ENOSYS)
}

// ---------------------------------------------------------------------------------------------
// futex

const FUTEX_WAIT_BITSET_PRIVATE: c_int = libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG;
const FUTEX_WAKE_PRIVATE: c_int = libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG;

/// Sleeps while `*word == expected`, until the absolute CLOCK_MONOTONIC `deadline` (None: no
/// limit). Without a deadline the kernel restarts it after an SA_RESTART handler; with one, any
/// handler makes it fail with EINTR (use [`futex_waitv`], which restarts, where that matters).
/// Ok on a wake-up (possibly spurious); EAGAIN (value changed), ETIMEDOUT, EINTR.
pub fn futex_wait_until(word: &AtomicU32, expected: u32, deadline: Option<&timespec>) -> Result<(), Errno> {
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `word` is a valid aligned u32 for the call; `tsp` is NULL or a valid timespec.
    check(unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), FUTEX_WAIT_BITSET_PRIVATE, expected, tsp, 0usize, u32::MAX)
    })
    .map(|_| ())
}

/// Wakes up to `n` waiters on the futex at `addr`. The address is only used as a key: the
/// memory it names may already be freed or reused (a spurious wake-up is harmless).
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
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}
const _: () = assert!(std::mem::size_of::<FutexWaitv>() == 24);

/// `FUTEX2_SIZE_U32 | FUTEX2_PRIVATE`.
const FUTEX2_U32_PRIVATE: u32 = 0x02 | 0x80;
/// The kernel's limit on entries per `futex_waitv` call.
pub const FUTEX_WAITV_MAX: usize = 128;

impl FutexWaitv {
    pub fn new(word: &AtomicU32, expected: u32) -> Self {
        FutexWaitv { val: expected as u64, uaddr: word.as_ptr() as u64, flags: FUTEX2_U32_PRIVATE, reserved: 0 }
    }
}

/// Sleeps until one of `waiters` is woken or no longer holds its expected value, or until the
/// absolute CLOCK_MONOTONIC `deadline`; returns the index of the woken entry. Errors: EAGAIN (a
/// value already differed), ETIMEDOUT, EINTR, ENOSYS (before Linux 5.16).
/// Available since Linux 5.16. (The library waits through [`futex_waitv_cancellable`].)
#[cfg(any(test, miri))]
pub fn futex_waitv(waiters: &[FutexWaitv], deadline: Option<&timespec>) -> Result<usize, Errno> {
    debug_assert!(waiters.len() <= FUTEX_WAITV_MAX);
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const timespec);
    // SAFETY: `waiters` is a valid array whose uaddr fields name live, aligned u32 words (built
    // from references); `tsp` is NULL or a valid timespec.
    check(unsafe {
        libc::syscall(libc::SYS_futex_waitv, waiters.as_ptr(), waiters.len() as u32, 0u32, tsp, libc::CLOCK_MONOTONIC)
    })
}

/// Does the kernel have `futex_waitv`? (An empty call: EINVAL where it exists, ENOSYS before
/// Linux 5.16 or under a seccomp filter that refuses it.)
pub fn futex_waitv_exists() -> Result<(), Errno> {
    // SAFETY: no entries: the kernel reads nothing.
    match check(unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            std::ptr::null::<FutexWaitv>(),
            0u32,
            0u32,
            std::ptr::null::<timespec>(),
            0,
        )
    }) {
        Err(libc::EINVAL) | Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
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
        nr: c_long,
        args: *const [c_long; 6],
    ) -> c_long;
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
fn cancellable(registered: Option<&AtomicUsize>, nr: c_long, args: [c_long; 6]) -> Result<usize, Errno> {
    let arg = registered.map_or(std::ptr::null_mut(), |c| c as *const AtomicUsize as *mut c_void);
    // SAFETY: `args` are those of a futex wait or an eventfd read that the callers below build
    // from live references; the cleanup touches only `registered`.
    let r = unsafe { rtaio_cancellable_syscall(release_waiter, arg, nr, &args) };
    if r < 0 {
        Err(-r as Errno)
    } else {
        Ok(r as usize)
    }
}

/// [`futex_waitv`] as a cancellation point.
#[cfg(not(miri))]
pub fn futex_waitv_cancellable(
    waiters: &[FutexWaitv],
    deadline: Option<&timespec>,
    registered: Option<&AtomicUsize>,
) -> Result<usize, Errno> {
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const timespec);
    let args =
        [waiters.as_ptr() as c_long, waiters.len() as c_long, 0, tsp as c_long, libc::CLOCK_MONOTONIC as c_long, 0];
    cancellable(registered, libc::SYS_futex_waitv, args)
}

/// [`futex_wait_until`] as a cancellation point.
#[cfg(not(miri))]
pub fn futex_wait_until_cancellable(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&timespec>,
    registered: Option<&AtomicUsize>,
) -> Result<(), Errno> {
    let tsp = deadline.map_or(std::ptr::null(), |t| t as *const timespec);
    let args = [word.as_ptr() as c_long, FUTEX_WAIT_BITSET_PRIVATE as c_long, expected as c_long, tsp as c_long, 0, -1];
    cancellable(registered, libc::SYS_futex, args).map(|_| ())
}

// Miri runs no C: there the same waits, without cancellation.
#[cfg(miri)]
pub fn futex_waitv_cancellable(
    waiters: &[FutexWaitv],
    deadline: Option<&timespec>,
    _registered: Option<&AtomicUsize>,
) -> Result<usize, Errno> {
    futex_waitv(waiters, deadline)
}

#[cfg(miri)]
pub fn futex_wait_until_cancellable(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&timespec>,
    _registered: Option<&AtomicUsize>,
) -> Result<(), Errno> {
    futex_wait_until(word, expected, deadline)
}

// ---------------------------------------------------------------------------------------------
// signals and threads

/// Queues `signo` with a `SI_ASYNCIO` siginfo carrying `value` to process `pid`, or to its
/// thread `tid` (the caller's own process: the kernel accepts a negative si_code only from it).
pub fn queue_asyncio_signal(
    pid: pid_t,
    uid: libc::uid_t,
    signo: c_int,
    value: usize,
    tid: Option<pid_t>,
) -> Result<(), Errno> {
    let info = SigInfo {
        si_signo: signo,
        si_errno: 0,
        si_code: libc::SI_ASYNCIO,
        _pad0: 0,
        si_pid: pid,
        si_uid: uid,
        si_value: value,
        _rest: [0; 96],
    };
    // SAFETY: `info` is a fully initialised siginfo_t that lives across the call.
    check(unsafe {
        match tid {
            None => libc::syscall(libc::SYS_rt_sigqueueinfo, pid, signo, &info as *const SigInfo),
            Some(t) => libc::syscall(libc::SYS_rt_tgsigqueueinfo, pid, t, signo, &info as *const SigInfo),
        }
    })
    .map(|_| ())
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

/// Does thread `tid` exist in process `pid`? (`tgkill` with signal 0.)
pub fn thread_exists(pid: pid_t, tid: pid_t) -> bool {
    if tid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) };
    r == 0 || errno() == libc::EPERM
}

/// Signal number limits of this libc (glibc reserves 32 and 33 for itself).
pub fn sigrtmin() -> c_int {
    libc::SIGRTMIN()
}
pub fn sigrtmax() -> c_int {
    libc::SIGRTMAX()
}

/// Sets the calling thread's signal mask for a scope, restoring the previous one on drop.
pub struct SignalMask {
    old: libc::sigset_t,
}

impl SignalMask {
    #[cfg(miri)]
    fn set(_fill: bool) -> Self {
        // SAFETY: an all-zero sigset_t is a valid (empty) set; Miri does not model masks.
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
    fn drop(&mut self) {
        #[cfg(not(miri))]
        // SAFETY: restores the mask saved at construction.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut())
        };
    }
}

/// An application's SIGEV_THREAD notification, as read from its sigevent: the function, its
/// argument (`union sigval`), and the thread attributes (0: none given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callback {
    func: usize,
    value: usize,
    attr: usize,
}

impl Callback {
    /// # Safety
    /// `func` is a non-NULL `void (*)(union sigval)`, and `attr` is 0 or a `pthread_attr_t *`
    /// the application keeps valid (POSIX's requirements on a SIGEV_THREAD sigevent).
    pub unsafe fn new(func: usize, value: usize, attr: usize) -> Callback {
        Callback { func, value, attr }
    }

    /// The application gave thread attributes: the call gets a thread of its own.
    pub fn has_attributes(&self) -> bool {
        self.attr != 0
    }

    /// Calls the function on this thread.
    pub fn call(&self) {
        // SAFETY: `new`'s contract; union sigval is passed like a pointer-sized integer.
        let f: extern "C" fn(usize) = unsafe { std::mem::transmute(self.func) };
        f(self.value);
    }

    /// Runs the call on a new thread made with the application's attributes. The thread runs
    /// the call with an empty signal mask, like glibc's notification threads, and is detached
    /// if the attributes ask for a joinable thread.
    pub fn spawn(&self) -> Result<(), Errno> {
        let arg = Box::into_raw(Box::new(*self)) as *mut c_void;
        let mut tid: libc::pthread_t = 0;
        // Made with every signal blocked; it empties its own mask (`callback_thread`). Not
        // emptied here: this may be an application thread that completed the request, whose
        // blocked signals would then be delivered to it (glibc empties it in the new thread).
        let _mask = SignalMask::full();
        // SAFETY: `attr` is valid (`new`'s contract); `arg` is a leaked box the start routine
        // reclaims.
        let r =
            unsafe { libc::pthread_create(&mut tid, self.attr as *const libc::pthread_attr_t, callback_thread, arg) };
        if r != 0 {
            // SAFETY: the thread was not created; reclaim the box.
            drop(unsafe { Box::from_raw(arg as *mut Callback) });
            return Err(r);
        }
        let mut state: c_int = libc::PTHREAD_CREATE_DETACHED;
        // SAFETY: reading a field of the application's attributes.
        unsafe { pthread_attr_getdetachstate(self.attr as *const libc::pthread_attr_t, &mut state) };
        if state == libc::PTHREAD_CREATE_JOINABLE {
            // SAFETY: `tid` is a thread we just created and nobody else joins.
            unsafe { libc::pthread_detach(tid) };
        }
        Ok(())
    }
}

extern "C" {
    // Not declared by the libc crate; part of POSIX threads in glibc's libc.so.6.
    fn pthread_attr_getdetachstate(attr: *const libc::pthread_attr_t, state: *mut c_int) -> c_int;
    // glibc >= 2.18: the attributes pthread_create uses without any (GNU extension).
    fn pthread_getattr_default_np(attr: *mut libc::pthread_attr_t) -> c_int;
    fn pthread_testcancel();
}

/// The stack size of a thread made without attributes (glibc: the stack rlimit at start-up,
/// 8 MiB on most systems; 2 MiB if it is unlimited): what code written for glibc's
/// notification threads may count on. 8 MiB if glibc cannot say.
pub fn default_thread_stack() -> usize {
    // SAFETY: an all-zero pthread_attr_t is a valid out-buffer for pthread_getattr_default_np,
    // which initialises it; it is destroyed once read.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if pthread_getattr_default_np(&mut attr) != 0 {
            return 8 << 20;
        }
        let mut size = 0usize;
        let r = libc::pthread_attr_getstacksize(&attr, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        if r == 0 && size >= libc::PTHREAD_STACK_MIN {
            size
        } else {
            8 << 20
        }
    }
}

/// Acts on a cancellation request pending for this thread (deferred type: the thread ends
/// here, unwinding as `pthread_exit`).
pub fn test_cancel() {
    // SAFETY: no arguments; may end the calling thread, which callers expect.
    unsafe { pthread_testcancel() }
}

extern "C" fn callback_thread(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the Box<Callback> leaked by `Callback::spawn`, used only here.
    let call = unsafe { Box::from_raw(arg as *mut Callback) };
    // The thread's mask from now to its end: nothing to restore (and no guard for a callback
    // that ends the thread with pthread_exit to skip).
    std::mem::forget(SignalMask::empty());
    call.call();
    std::ptr::null_mut()
}

/// `d` from now on CLOCK_MONOTONIC, as an absolute deadline.
pub fn deadline_after(d: Duration) -> timespec {
    let now = monotonic_now();
    let mut sec = now.tv_sec.saturating_add(d.as_secs().min(i64::MAX as u64 / 2) as i64);
    let mut nsec = now.tv_nsec + d.subsec_nanos() as i64;
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    timespec { tv_sec: sec, tv_nsec: nsec }
}

/// Has the absolute CLOCK_MONOTONIC `deadline` passed?
pub fn passed(deadline: &timespec) -> bool {
    let now = monotonic_now();
    (now.tv_sec, now.tv_nsec) >= (deadline.tv_sec, deadline.tv_nsec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn kernel_releases_parse_to_major_and_minor() {
        assert_eq!(parse_release(b"6.18.44-fc-v1272"), Some((6, 18)));
        assert_eq!(parse_release(b"5.9.0"), Some((5, 9)));
        assert_eq!(parse_release(b"4.19-rc1"), Some((4, 19)));
        assert_eq!(parse_release(b"garbage"), None);
        assert!(kernel_release().is_some());
    }

    #[test]
    fn futex_wait_until_past_deadline_times_out() {
        let w = AtomicU32::new(0);
        let d = deadline_after(Duration::from_millis(5));
        assert_eq!(futex_wait_until(&w, 0, Some(&d)), Err(libc::ETIMEDOUT));
        assert_eq!(futex_wait_until(&w, 1, None), Err(libc::EAGAIN), "the value differs");
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
                Err(libc::EAGAIN) => {} // woken before we slept
                Err(libc::ENOSYS) => return,
                Err(e) => panic!("errno {e}"),
            }
            assert_eq!(words[2].load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn signal_to_nonexistent_thread_is_detected() {
        let pid = getpid();
        assert!(thread_exists(pid, gettid()));
        assert!(!thread_exists(pid, 0));
        assert!(!thread_exists(pid, i32::MAX));
    }

    #[test]
    fn kinds() {
        let mut p = [0; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        assert_eq!(file_kind(p[0]), FileKind::Stream);
        assert!(!is_anon_inode(p[0]));
        close(p[0]);
        close(p[1]);
        assert_eq!(file_kind(-1), FileKind::File, "unknown: the system call reports it");
        // SAFETY: a NUL-terminated path.
        let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        assert!(null >= 0);
        assert_eq!(file_kind(null), FileKind::Device, "a character device that seeks");
        close(null);
    }
}

/// Descriptors for the unit tests.
#[cfg(test)]
pub mod testing {
    /// A pipe: (read end, write end).
    pub fn pipe() -> (i32, i32) {
        let mut p = [0; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        (p[0], p[1])
    }

    pub fn eventfd() -> i32 {
        // SAFETY: plain descriptor creation.
        let e = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(e >= 0);
        e
    }

    /// Reads 8 bytes (an eventfd's counter).
    pub fn read_u64(fd: i32) -> Option<u64> {
        let mut v = 0u64;
        // SAFETY: reads 8 bytes into a local.
        (unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) } == 8).then_some(v)
    }
}
