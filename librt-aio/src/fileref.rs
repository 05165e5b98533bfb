//! rtaio's own references to the application's open files (safe code over `sys`).
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

use crate::sys::{self, Errno};

/// Descriptors below this are tracked for the fork child; a duplicate that would land above
/// it is not made (the request then uses the application's number, as before).
const TRACKED_FDS: usize = 1 << 20;
static OWNED: [AtomicU64; TRACKED_FDS / 64] = [const { AtomicU64::new(0) }; TRACKED_FDS / 64];
/// The lowest number duplicates are made at (0 until first computed).
static BASE: AtomicI32 = AtomicI32::new(0);

fn base() -> i32 {
    let b = BASE.load(Relaxed);
    if b > 0 {
        return b;
    }
    let soft = sys::nofile_limit();
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
            match sys::dup_at_least(fd, b) {
                Ok(d) if d as usize >= TRACKED_FDS => {
                    sys::close(d); // just created by us, known to nobody else
                    return Err(libc::EMFILE);
                }
                Ok(d) => {
                    mark(d, true);
                    return Ok(FileRef { fd: d });
                }
                // No free number at or above the base (or the limit shrank): take any above
                // the standard streams, this time.
                Err(libc::EINVAL | libc::EMFILE) if b > 3 => b = 3,
                Err(e) => return Err(e),
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
        match sys::kcmp_same_file(fd, self.fd) {
            Ok(same) => same,
            Err(_) => sys::identity(fd).is_some_and(|id| Some(id) == sys::identity(self.fd)),
        }
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        mark(self.fd, false);
        sys::close(self.fd); // our own duplicate; nobody else closes it
    }
}

/// Records a descriptor rtaio made by other means (an io_uring instance), so that a child after
/// fork() closes it; `false` when it is closed.
pub fn track_owned(fd: i32, owned: bool) {
    if fd >= 0 && (fd as usize) < TRACKED_FDS {
        mark(fd, owned);
    }
}

/// Is `fd` an eventfd? (`/proc/self/fd/N` names it `anon_inode:[eventfd]`; most wrong
/// descriptors — files, pipes, sockets — are told apart by the one fstat first.)
pub fn is_eventfd(fd: i32) -> bool {
    sys::is_anon_inode(fd) && sys::fd_link(fd).is_some_and(|l| l == b"anon_inode:[eventfd]")
}

/// In the child after fork(): close the duplicates inherited from the parent (their requests
/// are the parent's). Async-signal-safe: atomics and close() only.
pub fn close_all_after_fork() {
    for (w, word) in OWNED.iter().enumerate() {
        let mut bits = word.swap(0, Relaxed);
        while bits != 0 {
            let b = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            sys::close((w * 64 + b) as i32); // rtaio's; the child has no request on it
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dup_identity_and_close() {
        let (r, w) = sys::testing::pipe();
        let d = FileRef::dup_of(r).unwrap();
        assert!(d.raw() >= 3 && d.raw() != r);
        assert!(d.same_file(r));
        assert!(!d.same_file(w));
        let fd = d.raw();
        drop(d);
        assert!(!sys::fd_is_open(fd), "closed on drop");
        sys::close(r);
        sys::close(w);
        assert_eq!(FileRef::dup_of(-1).unwrap_err(), libc::EBADF);
    }

    #[test]
    fn eventfd_detection() {
        let e = sys::testing::eventfd();
        assert!(is_eventfd(e));
        assert!(!is_eventfd(-1));
        let (r, w) = sys::testing::pipe();
        assert!(!is_eventfd(r));
        for fd in [e, r, w] {
            sys::close(fd);
        }
    }
}
