//! The inline executor: a page-cache hit read in the submitting thread, no hand-off to another
//! thread, before the request is registered anywhere (so nobody can observe or cancel a
//! request that is already complete).
//!
//! Only reads, of at most 128 KiB, at a non-negative offset (preadv2 reads at the file position
//! for -1), never O_DIRECT (which would wait for the device), never vectored. Writes never go
//! inline: a short NOWAIT write would already have changed the file. A short result (part of
//! the range not cached) is discarded and the request runs elsewhere, so the result is always
//! exactly what one `pread` gives.
//!
//! A stream's read (pipe, socket) whose descriptor has no read of its own in flight may also
//! complete here ([`try_stream`]): one non-blocking `read` that finds data returns exactly what
//! the blocking `read` would (whatever is there, up to the length); finding none, it runs
//! elsewhere.
//!
//! The buffer must be resident (a fault in the copy could wait for swap-in, or for a
//! userfaultfd handler that may be this very thread): a small direct-mapped cache of pages
//! found resident by `mincore` spares the check for buffers the application reuses.

use crate::exec::executor::Now;
use crate::request::{Data, Op, Spec};
use crate::sys;

/// Largest transfer attempted inline: beyond it the copy itself is long enough to be worth
/// overlapping with the caller.
const INLINE_MAX: usize = 128 << 10;

pub fn try_now(req: &Spec, flags: i32) -> Now {
    let Data::Buf(buf) = req.data else { return Now::Later };
    // (Not a read of no bytes: preadv2 answers 0 before the file is asked, pread asks it.)
    if req.op != Op::Read || flags & libc::O_DIRECT != 0 || buf.is_empty() || buf.len() > INLINE_MAX || req.offset < 0 {
        return Now::Later;
    }
    // RWF_NOWAIT covers the file's side only: a fault on the destination buffer would still
    // block this thread (a userfaultfd page may even be waiting for this very thread).
    if !sys::buffer_resident_cached(buf) {
        return Now::Later;
    }
    match sys::nowait_read(req.fd, buf, req.offset) {
        Ok(n) if n == buf.len() || n == 0 => Now::Done(n),
        // Pipes, sockets, terminals: not positional, so not seekable.
        Err(libc::ESPIPE) => Now::Stream,
        // Not cached: the kernel has started reading it (its readahead, before it answers
        // EAGAIN; a page someone else is reading is on its way too).
        Err(libc::EAGAIN) => Now::Started,
        // EOPNOTSUPP, a short count, or a genuine error: the blocking call repeats it and
        // reports genuine errors itself.
        _ => Now::Later,
    }
}

/// A read of a descriptor that cannot seek, with no other read of it in flight (the caller
/// checked): done if data (or end of file) is there now.
pub fn try_stream(req: &Spec) -> Now {
    let Data::Buf(buf) = req.data else { return Now::Later };
    if req.op != Op::Read || buf.is_empty() || buf.len() > INLINE_MAX || !sys::buffer_resident_cached(buf) {
        return Now::Later;
    }
    match sys::nowait_read_stream(req.fd, buf) {
        // Whatever is there (at least a byte, or 0 at end of file): what read() returns.
        Ok(n) => Now::Done(n),
        // EAGAIN (nothing yet), EOPNOTSUPP, or an error the blocking read reports itself.
        Err(_) => Now::Later,
    }
}
