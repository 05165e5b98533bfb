//! Memory lent to the kernel (one of this crate's two `unsafe` files).

/// A memory range lent for an I/O transfer: valid for the kernel to read (writes) or write
/// (reads) from creation until the transfer using it has completed. It has the layout of
/// `struct iovec`, so a slice of them is an iovec array.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoBuf {
    base: usize,
    len: usize,
}

const _: () = {
    assert!(std::mem::size_of::<IoBuf>() == std::mem::size_of::<libc::iovec>());
    assert!(std::mem::offset_of!(IoBuf, base) == std::mem::offset_of!(libc::iovec, iov_base));
    assert!(std::mem::offset_of!(IoBuf, len) == std::mem::offset_of!(libc::iovec, iov_len));
};

impl IoBuf {
    /// # Safety
    /// `base..base + len` must stay valid, and be left alone by everyone else, until every
    /// transfer this `IoBuf` (or a copy) is given to has completed. A range the process cannot
    /// access is allowed: the kernel then fails the transfer with EFAULT.
    pub const unsafe fn new(base: usize, len: usize) -> IoBuf {
        IoBuf { base, len }
    }

    pub const fn empty() -> IoBuf {
        IoBuf { base: 0, len: 0 }
    }

    pub fn addr(&self) -> usize {
        self.base
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part of this buffer after its first `n` bytes (a stream's write that the kernel
    /// took only in part continues with the rest).
    pub fn advance(&self, n: usize) -> IoBuf {
        let n = n.min(self.len);
        IoBuf { base: self.base + n, len: self.len - n }
    }

    /// Total length of an iovec array, if it fits in `ssize_t`.
    pub fn total(bufs: &[IoBuf]) -> Option<usize> {
        bufs.iter().try_fold(0usize, |acc, b| acc.checked_add(b.len)).filter(|&t| t <= isize::MAX as usize)
    }
}

// SAFETY: an IoBuf is an address and a length; the promise it carries (see `new`) is about the
// memory, whichever thread hands it to the kernel.
unsafe impl Send for IoBuf {}
// SAFETY: as above; nothing is reached through a shared reference.
unsafe impl Sync for IoBuf {}
