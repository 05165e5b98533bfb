//! io_uring: one of this crate's `unsafe` files (through the `io-uring` crate, which keeps the
//! rings' memory and its own `unsafe`).
//!
//! Every kind of request is asynchronous here: buffered reads and writes run in the kernel's
//! own workers (io-wq) when they would block, sockets and pipes are driven by polling
//! (IORING_FEAT_FAST_POLL: no thread waits for data), O_DIRECT goes straight to the device.
//! With SQPOLL a kernel thread takes submissions from the shared ring, so a submitter makes no
//! system call while that thread is awake; it sleeps after `sqpoll_idle` ms without work.
//!
//! Each request's `user_data` is one strong reference to its owner (`Arc::into_raw`), taken
//! back when its completion is reaped or when the kernel never saw it: nothing the kernel may
//! still use is freed, and every reference comes back exactly once. The submission queue and
//! the completion queue each have a lock: any thread may submit, any thread may reap.
//! Available since Linux 5.1; rtaio asks for 5.6 opcodes (READ, WRITE) and uses what the
//! kernel's probe says it has.

use std::io;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use io_uring::{opcode, squeue, types, IoUring};

use crate::{Cmd, Event, Op, Refused};

/// How to make a ring.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Submission queue entries (the completion queue gets twice as many).
    pub entries: u32,
    /// A kernel submission thread that sleeps after this many ms without work (None: the
    /// submitter enters the kernel itself).
    pub sqpoll_idle_ms: Option<u32>,
}

/// An io_uring instance shared by every thread of the process (not by a child after fork:
/// its memory is not inherited, and the caller closes its descriptor there).
pub struct Ring<T> {
    ring: IoUring,
    sq: Mutex<()>,
    cq: Mutex<()>,
    sqpoll: bool,
    _owners: PhantomData<fn(Arc<T>) -> Arc<T>>,
}

fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

impl<T: Send + Sync + 'static> Ring<T> {
    /// A ring with SQPOLL if asked and allowed (else without it). Errors as io_uring_setup's:
    /// ENOSYS (no io_uring), EPERM (`kernel.io_uring_disabled`, a seccomp policy), ENOMEM
    /// (RLIMIT_MEMLOCK on kernels before 5.12)...; EOPNOTSUPP when the kernel lacks an opcode
    /// rtaio needs.
    pub fn new(opts: Options) -> io::Result<Ring<T>> {
        let build = |sqpoll: Option<u32>| {
            let mut b = IoUring::builder();
            b.dontfork().setup_cqsize(opts.entries * 2).setup_clamp();
            if let Some(idle) = sqpoll {
                b.setup_sqpoll(idle);
            }
            b.build(opts.entries)
        };
        let (ring, sqpoll) = match opts.sqpoll_idle_ms.map(|idle| build(Some(idle))) {
            Some(Ok(r)) => (r, true),
            // SQPOLL needed privileges before Linux 5.11: without it, then.
            Some(Err(_)) | None => (build(None)?, false),
        };
        let mut probe = io_uring::Probe::new();
        ring.submitter().register_probe(&mut probe)?;
        let needed = [
            opcode::Read::CODE,
            opcode::Write::CODE,
            opcode::Readv::CODE,
            opcode::Writev::CODE,
            opcode::Fsync::CODE,
        ];
        if !needed.iter().all(|&op| probe.is_supported(op)) || !ring.params().is_feature_rw_cur_pos() {
            return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
        }
        Ok(Ring { ring, sq: Mutex::new(()), cq: Mutex::new(()), sqpoll, _owners: PhantomData })
    }

    /// The ring's descriptor (close-on-exec; a child after fork closes it).
    pub fn fd(&self) -> i32 {
        self.ring.as_raw_fd()
    }

    pub fn sqpoll(&self) -> bool {
        self.sqpoll
    }

    /// Hands `batch` to the kernel. Returns the requests it did not take (the submission queue
    /// full: EAGAIN; `io_uring_enter` refused: its errno).
    pub fn submit(&self, batch: Vec<(Arc<T>, Op<'_>)>) -> Vec<Refused<T>> {
        let mut refused = Vec::new();
        let _g = self.sq.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the submission queue is used only under `self.sq`.
        let mut sq = unsafe { self.ring.submission_shared() };
        let mut pushed = 0;
        for (owner, op) in batch {
            let data = Arc::into_raw(owner.clone()) as u64;
            let entry = entry(&op).user_data(data);
            // SAFETY: the entry's buffers are IoBufs (valid until the transfer completes) or
            // iovec arrays inside the owner, which the reference in user_data keeps alive until
            // the completion is reaped.
            match unsafe { sq.push(&entry) } {
                Ok(()) => pushed += 1,
                Err(_) => {
                    // SAFETY: the kernel never saw this entry: the reference is still ours.
                    drop(unsafe { Arc::from_raw(data as *const T) });
                    refused.push(Refused { owner, errno: libc::EAGAIN });
                }
            }
        }
        sq.sync();
        drop(sq);
        if pushed > 0 {
            // With SQPOLL this enters the kernel only to wake its thread.
            if let Err(e) = self.ring.submitter().submit() {
                // The entries stay queued in the ring (EAGAIN/EBUSY: the kernel takes them at
                // the next enter); anything else is a broken ring, which the next enter reports.
                let _ = errno_of(&e);
            }
        }
        refused
    }

    /// Up to `max` completions, without a system call.
    pub fn reap(&self, max: usize) -> Vec<Event<T>> {
        let _g = self.cq.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the completion queue is used only under `self.cq`.
        let cq = unsafe { self.ring.completion_shared() };
        cq.take(max)
            .map(|cqe| {
                // SAFETY: user_data is the reference `submit` made for this entry, and the
                // kernel posts one completion per entry: taken back exactly once.
                let owner = unsafe { Arc::from_raw(cqe.user_data() as usize as *const T) };
                Event { owner, res: cqe.result() as i64, nowait: false }
            })
            .collect()
    }

    /// Waits up to `timeout` for a completion (EINTR when a signal handler ran; ETIME at the
    /// timeout). Also hands the kernel whatever is still queued.
    pub fn wait(&self, timeout: Duration) -> io::Result<()> {
        let ts = types::Timespec::new().sec(timeout.as_secs()).nsec(timeout.subsec_nanos());
        let args = types::SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks the kernel to cancel `owner`'s request, and waits for the answer. True if it was
    /// cancelled (its completion reports -ECANCELED); false if it is running beyond cancel,
    /// already complete, or not in the ring. Available since Linux 6.0 (false before).
    pub fn cancel(&self, owner: &T) -> bool {
        let key = owner as *const T as u64;
        self.ring.submitter().register_sync_cancel(None, types::CancelBuilder::user_data(key)).is_ok()
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
    match op.cmd {
        Cmd::Read(b) => opcode::Read::new(fd, b.addr() as *mut u8, b.len().min(u32::MAX as usize) as u32).offset(off).build(),
        Cmd::Write(b) => {
            opcode::Write::new(fd, b.addr() as *const u8, b.len().min(u32::MAX as usize) as u32).offset(off).build()
        }
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

    #[test]
    fn round_trip_cancel_and_refusal() {
        let ring = match Ring::<Req>::new(Options { entries: 8, sqpoll_idle_ms: Some(10) }) {
            Ok(r) => r,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM | libc::EOPNOTSUPP)) => return,
            Err(e) => panic!("{e}"),
        };
        let path = std::env::temp_dir().join(format!("kernel-aio-uring-{}", std::process::id()));
        std::fs::write(&path, b"hello, io_uring!").unwrap();
        let f = std::fs::File::open(&path).unwrap();
        let req = Arc::new(Req { buf: Box::new([0; 16]) });
        // SAFETY: the buffer lives in `req`, which the ring keeps alive until reaped.
        let buf = unsafe { IoBuf::new(req.buf.as_ptr() as usize, 16) };
        let op = Op { fd: f.as_raw_fd(), offset: 0, cmd: Cmd::Read(buf), nowait: false };
        assert!(ring.submit(vec![(req.clone(), op)]).is_empty());
        let mut got = Vec::new();
        while got.is_empty() {
            ring.wait(Duration::from_secs(5)).unwrap();
            got = ring.reap(8);
        }
        assert!(Arc::ptr_eq(&got[0].owner, &req));
        assert_eq!(got[0].res, 16);
        assert_eq!(&req.buf[..], b"hello, io_uring!");
        drop(got);
        assert_eq!(Arc::strong_count(&req), 1, "the ring's reference came back");
        // a read on an empty pipe waits by polling; cancel ends it with ECANCELED
        let mut p = [0; 2];
        // SAFETY: `p` has room for two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        let pr = Arc::new(Req { buf: Box::new([0; 16]) });
        // SAFETY: as above.
        let pbuf = unsafe { IoBuf::new(pr.buf.as_ptr() as usize, 1) };
        assert!(ring.submit(vec![(pr.clone(), Op { fd: p[0], offset: -1, cmd: Cmd::Read(pbuf), nowait: false })]).is_empty());
        std::thread::sleep(Duration::from_millis(20));
        assert!(ring.reap(8).is_empty(), "nothing to read yet");
        if ring.cancel(&*pr) {
            let mut got = Vec::new();
            while got.is_empty() {
                ring.wait(Duration::from_secs(5)).unwrap();
                got = ring.reap(8);
            }
            assert_eq!(got[0].res, -(libc::ECANCELED as i64));
        }
        // SAFETY: closing the test's own pipe.
        unsafe {
            libc::close(p[0]);
            libc::close(p[1]);
        }
        std::fs::remove_file(path).unwrap();
    }
}
