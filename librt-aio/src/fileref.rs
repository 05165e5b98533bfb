//! rtaio's own references to the application's open files (one of the few `unsafe` modules).
//!
//! A request names its file by descriptor number, and the application may `close()`, `dup2()`
//! or `dup3()` that number while the request waits for a thread: acting on whatever file holds
//! the number by then writes into the wrong file (glibc bug 14942). Every request that does not
//! complete inside the submitting call therefore executes on a [`FileRef`]: a duplicate of the
//! descriptor made at submission (`F_DUPFD_CLOEXEC`), shared by the requests of one descriptor
//! while any is live, and released by each at its completion. An eventfd that completions post
//! to is held the same way (`evq.rs`).
//!
//! Not for regular files and block devices: closing any descriptor of a file drops the
//! process's POSIX (fcntl) record locks on it, so closing rtaio's duplicate would silently
//! release the application's locks. Requests on those run on the application's number, as in
//! glibc (documented limit; a reference without a descriptor, e.g. an io_uring registered file,
//! is the way to close it).
//!
//! Duplicates are made at a high number (three quarters of the soft descriptor limit, at most
//! 1024) so they
//! do not take the low numbers the application's `open()` calls would get, and are recorded in
//! a bitmap so that a child after `fork()` closes them (it inherits them, but not the requests).
//! Known limit: an application that `dup2()`s onto a number it did not open (one of these)
//! replaces rtaio's reference; that is outside what any library can defend against.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering::*};

use crate::sys::Errno;

/// Descriptors below this are tracked for the fork child; a duplicate that would land above
/// it is not made (the request then uses the application's number, as before).
const TRACKED_FDS: usize = 1 << 20;
static OWNED: [AtomicU64; TRACKED_FDS / 64] = [const { AtomicU64::new(0) }; TRACKED_FDS / 64];
/// The lowest number duplicates are made at (0 until first computed).
static BASE: AtomicI32 = AtomicI32::new(0);

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn base() -> i32 {
    let b = BASE.load(Relaxed);
    if b > 0 {
        return b;
    }
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `rl` is a valid out-pointer.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 { rl.rlim_cur } else { 1024 };
    // High enough to stay clear of the numbers open() hands the application, low enough that
    // the kernel's descriptor table does not grow (and fork copy) a huge array for it.
    let b = (soft.min(TRACKED_FDS as u64) * 3 / 4).clamp(3, 1024) as i32;
    BASE.store(b, Relaxed);
    b
}

fn mark(fd: i32, owned: bool) {
    let (w, bit) = (fd as usize / 64, 1u64 << (fd as usize % 64));
    if owned {
        OWNED[w].fetch_or(bit, Release);
    } else {
        OWNED[w].fetch_and(!bit, Release);
    }
}

/// A duplicate descriptor owned by rtaio; closed on drop.
#[derive(Debug)]
pub struct FileRef {
    fd: i32,
}

impl FileRef {
    /// Duplicates `fd`. EBADF if it is not open; EMFILE if no descriptor is left.
    pub fn dup_of(fd: i32) -> Result<FileRef, Errno> {
        let mut b = base();
        loop {
            // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and creates a new descriptor.
            let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, b) };
            if d >= 0 {
                if d as usize >= TRACKED_FDS {
                    crate::sys::close(d); // just created by us, known to nobody else
                    return Err(libc::EMFILE);
                }
                mark(d, true);
                return Ok(FileRef { fd: d });
            }
            match errno() {
                // No free number at or above the base (or the limit shrank): take any above
                // the standard streams, this time.
                libc::EINVAL | libc::EMFILE if b > 3 => b = 3,
                e => return Err(e),
            }
        }
    }

    pub fn raw(&self) -> i32 {
        self.fd
    }

    /// Does the application's `fd` still refer to the open file this is a duplicate of?
    /// `kcmp` answers exactly; where it is unavailable, the `fstat` identity and the status
    /// flags are compared (which cannot tell two anonymous-inode files such as eventfds apart).
    pub fn same_file(&self, fd: i32) -> bool {
        match kernel_aio::kcmp_same_file(fd, self.fd) {
            Ok(same) => same,
            Err(_) => identity(fd).is_some_and(|id| Some(id) == identity(self.fd)),
        }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        mark(self.fd, false);
        crate::sys::close(self.fd); // our own duplicate; nobody else closes it
    }
}

fn identity(fd: i32) -> Option<(u64, u64, u64, i32)> {
    // SAFETY: `st` is a valid out-pointer for fstat; F_GETFL takes no pointer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return None;
        }
        let fl = libc::fcntl(fd, libc::F_GETFL);
        Some((st.st_dev, st.st_ino, st.st_rdev, fl))
    }
}

/// (st_dev, st_ino) of an anonymous-inode file (no file type bits: eventfd, epoll, timerfd,
/// signalfd...); None for anything else (regular files, pipes, sockets, devices).
pub fn anon_inode_id(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: `st` is a valid out-pointer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

/// Is `fd` an eventfd? (`/proc/self/fd/N` names it `anon_inode:[eventfd]`.)
pub fn is_eventfd(fd: i32) -> bool {
    // Most wrong descriptors (files, pipes, sockets) are told apart by one fstat.
    if anon_inode_id(fd).is_none() {
        return false;
    }
    let path = format!("/proc/self/fd/{fd}\0");
    let mut buf = [0u8; 64];
    // SAFETY: `path` is NUL-terminated; `buf` is a valid buffer of the given length.
    let n = unsafe { libc::readlink(path.as_ptr().cast(), buf.as_mut_ptr().cast(), buf.len()) };
    n > 0 && &buf[..n as usize] == b"anon_inode:[eventfd]"
}

/// In the child after fork(): close the duplicates inherited from the parent (their requests
/// are the parent's). Async-signal-safe: atomics and close() only.
pub fn close_all_after_fork() {
    for (w, word) in OWNED.iter().enumerate() {
        let mut bits = word.swap(0, Relaxed);
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            crate::sys::close((w * 64 + b) as i32); // rtaio's; the child has no request on it
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup_identity_and_close() {
        let mut p = [0; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        let r = FileRef::dup_of(p[0]).unwrap();
        assert!(r.raw() >= 3 && r.raw() != p[0]);
        assert!(r.same_file(p[0]));
        assert!(!r.same_file(p[1]));
        let fd = r.raw();
        drop(r);
        // SAFETY: F_GETFD takes no pointer argument.
        assert_eq!(unsafe { libc::fcntl(fd, libc::F_GETFD) }, -1, "closed on drop");
        // SAFETY: closing the test's own pipe.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
        assert_eq!(FileRef::dup_of(-1).unwrap_err(), libc::EBADF);
    }

    #[test]
    fn eventfd_detection() {
        // SAFETY: plain descriptor creation.
        let e = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(is_eventfd(e));
        assert!(anon_inode_id(e).is_some());
        assert_eq!(anon_inode_id(0).filter(|_| !is_eventfd(0)), None);
        assert!(!is_eventfd(0) || !is_eventfd(-1));
        assert!(!is_eventfd(-1));
        // SAFETY: closing our own eventfd.
        unsafe { libc::close(e) };
    }
}
