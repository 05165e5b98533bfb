//! The kernel backend: Linux native AIO, where it is truly asynchronous (O_DIRECT reads and
//! writes on files and block devices; fsync, which the kernel runs on a workqueue).
//!
//! One context per process, created on first use (1024 events). The iocb lives inside the
//! request; `aio_data` carries a strong `Arc` reference that the reaper takes back when the event
//! arrives, so a request cannot be freed while the kernel may still touch its iocb.
//! One reaper thread (all signals blocked) waits in `io_getevents` and completes requests through
//! the same `finish` as the pool; it exits after the idle time with nothing in flight. No file
//! descriptor is created (an aio context is not one).
//!
//! Refusals: `io_submit` failing with EINVAL (file system without async I/O), EAGAIN (context
//! full), EBADF or anything else sends that request to the pool instead; ENOSYS or EPERM
//! (kernel without AIO, seccomp) turns the backend off for the process, as does a failed
//! `io_setup` (EAGAIN: `fs.aio-max-nr` exhausted). The caller never sees the difference.
//! Available since Linux 2.6 (IOCB_CMD_FSYNC: 4.18).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use kernel_aio::{AioContext, IoEvent, Iocb};

use crate::request::{Op, Request};
use crate::runtime::Runtime;
use crate::sys::Errno;

/// Events per context: enough for deep queues, small against the system-wide `fs.aio-max-nr`
/// (65536 by default) that databases and other programs share. A full context makes further
/// requests fall back to the pool (EAGAIN), never fail.
const NR_EVENTS: u32 = 256;

/// Test-only fault injection (`RTAIO_FAULTS=io_submit=EAGAIN,io_setup=ENOSYS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub io_setup: Option<Errno>,
    pub io_submit: Option<Errno>,
}

impl Faults {
    pub fn parse(spec: &str) -> Faults {
        let mut f = Faults::default();
        for item in spec.split(',') {
            let Some((call, err)) = item.split_once('=') else { continue };
            let e = match err.trim() {
                "EAGAIN" => libc::EAGAIN,
                "EINVAL" => libc::EINVAL,
                "ENOSYS" => libc::ENOSYS,
                "EPERM" => libc::EPERM,
                "EBADF" => libc::EBADF,
                _ => continue,
            };
            match call.trim() {
                "io_setup" => f.io_setup = Some(e),
                "io_submit" => f.io_submit = Some(e),
                _ => {}
            }
        }
        f
    }
}

const REAPER_NONE: u8 = 0;
const REAPER_STARTING: u8 = 1;
const REAPER_RUNNING: u8 = 2;

pub struct Kaio {
    ctx: AioContext,
    /// Requests submitted and not yet reaped.
    inflight: AtomicUsize,
    /// REAPER_NONE, REAPER_STARTING or REAPER_RUNNING: no request enters the kernel unless a
    /// reaper is known to be running.
    reaper: AtomicU8,
    /// RWF_NOWAIT is accepted for reads and writes (cleared if the kernel rejects the flag).
    nowait: AtomicBool,
    /// Set when the kernel said it will never do this (ENOSYS, EPERM).
    broken: AtomicBool,
    faults: Faults,
}

impl Kaio {
    /// `nowait`: submit reads and writes with RWF_NOWAIT (the auto backend; the forced kernel
    /// backend shows the kernel's own behaviour, blocking inside io_submit where it does).
    pub fn new(faults: Faults, nowait: bool) -> Result<Kaio, Errno> {
        if let Some(e) = faults.io_setup {
            return Err(e);
        }
        let ctx = kernel_aio::io_setup(NR_EVENTS).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        Ok(Kaio {
            ctx,
            inflight: AtomicUsize::new(0),
            reaper: AtomicU8::new(REAPER_NONE),
            nowait: AtomicBool::new(nowait),
            broken: AtomicBool::new(false),
            faults,
        })
    }

    pub fn ctx(&self) -> AioContext {
        self.ctx
    }

    pub fn usable(&self) -> bool {
        !self.broken.load(Relaxed)
    }

    /// Submits ready requests in one `io_submit` (more only if the kernel takes a prefix).
    /// Returns the requests the kernel refused, unclaimed again, for the pool.
    pub fn submit(&'static self, rt: &'static Runtime, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let mut refused = Vec::new();
        let mut mine: Vec<Arc<Request>> = Vec::with_capacity(reqs.len());
        for r in reqs {
            // Claimed before the kernel sees the buffer: from here on only io_cancel can stop it.
            if !r.claim() {
                continue; // cancelled since it was registered: the canceller completed it
            }
            match iocb_for(&r, self.nowait.load(Relaxed)) {
                Some(cb) => {
                    r.set_iocb(cb);
                    mine.push(r);
                }
                None => {
                    r.unclaim();
                    refused.push(r);
                }
            }
        }
        if mine.is_empty() {
            return refused;
        }
        self.inflight.fetch_add(mine.len(), SeqCst);
        if !self.ensure_reaper(rt) {
            self.inflight.fetch_sub(mine.len(), SeqCst);
            for r in &mine {
                r.unclaim();
            }
            refused.extend(mine);
            return refused;
        }
        // Each iocb carries one strong reference, taken back by the reaper (or below on refusal).
        let ptrs: Vec<*mut Iocb> = mine
            .iter()
            .map(|r| {
                let raw = Arc::into_raw(r.clone());
                r.set_iocb_data(raw as u64);
                r.iocb_ptr()
            })
            .collect();
        let mut done = 0;
        while done < mine.len() {
            let r = match self.faults.io_submit {
                Some(e) => Err(e),
                // SAFETY: every iocb lives inside its request, which the reference in aio_data
                // keeps alive until the event is reaped; its buffer is the application's aio
                // buffer, reserved for this request until completion (POSIX).
                None => unsafe { kernel_aio::io_submit(self.ctx, &ptrs[done..]) }
                    .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)),
            };
            match r {
                Ok(n) if n > 0 => done += n,
                Err(libc::EOPNOTSUPP) if self.nowait.swap(false, Relaxed) => {
                    // A kernel without RWF_NOWAIT for AIO: resubmit the rest without it.
                    for r in &mine[done..] {
                        r.clear_iocb_rw_flags();
                    }
                }
                // Ok(0) cannot happen for a non-empty batch; treat it as a refusal of the rest.
                r => {
                    let e = r.err().unwrap_or(libc::EAGAIN);
                    // The first remaining iocb was refused; the kernel took none of the rest.
                    let give_up = matches!(e, libc::ENOSYS | libc::EPERM | libc::EAGAIN | libc::EOPNOTSUPP);
                    if matches!(e, libc::ENOSYS | libc::EPERM) {
                        self.broken.store(true, Relaxed);
                    }
                    let upto = if give_up { mine.len() } else { done + 1 };
                    for r in &mine[done..upto] {
                        self.take_back(r);
                        if e == libc::EINVAL {
                            // No async I/O on this file system: remember it for the descriptor.
                            r.avoid_kernel();
                            rt.fds().mark_kernel_refused(r.fd);
                        }
                        refused.push(r.clone());
                    }
                    done = upto;
                }
            }
        }
        refused
    }

    fn take_back(&self, r: &Request) {
        // SAFETY: the kernel refused this iocb, so the reference stored in aio_data (made by
        // Arc::into_raw above) is still ours to release, exactly once.
        drop(unsafe { Arc::from_raw(r.iocb_data() as *const Request) });
        self.inflight.fetch_sub(1, SeqCst);
        r.unclaim();
    }

    /// Asks the kernel to cancel an in-flight request. File systems refuse (EINVAL): then the
    /// request completes normally. True if the kernel accepted.
    pub fn cancel(&self, r: &Request) -> bool {
        // SAFETY: the iocb lives inside `r`, which the caller holds; io_cancel only looks it up
        // among this context's in-flight requests (EINVAL if it is no longer there).
        match unsafe { kernel_aio::io_cancel(self.ctx, r.iocb_ptr()) } {
            Ok(_) => true,
            Err(e) => e.raw_os_error() == Some(libc::EINPROGRESS),
        }
    }

    /// Makes sure a reaper is running before anything enters the kernel. Called after the
    /// caller counted its requests in `inflight`. False if no reaper thread can be started.
    fn ensure_reaper(&'static self, rt: &'static Runtime) -> bool {
        loop {
            match self.reaper.load(SeqCst) {
                REAPER_RUNNING => return true,
                REAPER_STARTING => std::thread::yield_now(), // its starter will say how it went
                _ => {
                    if self.reaper.compare_exchange(REAPER_NONE, REAPER_STARTING, SeqCst, SeqCst).is_err() {
                        continue;
                    }
                    let _mask = kernel_aio::SignalMask::full();
                    let spawned = std::thread::Builder::new()
                        .name("rtaio-kaio".into())
                        .stack_size(128 << 10)
                        .spawn(move || self.reap(rt))
                        .is_ok();
                    self.reaper.store(if spawned { REAPER_RUNNING } else { REAPER_NONE }, SeqCst);
                    return spawned;
                }
            }
        }
    }

    fn reap(&'static self, rt: &'static Runtime) {
        let mut events = [IoEvent::default(); 64];
        loop {
            match kernel_aio::io_getevents(self.ctx, 1, &mut events, Some(rt.idle_time())) {
                Ok(n) if n > 0 => {
                    for ev in &events[..n] {
                        self.complete(rt, ev);
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
            // Idle: leave if nothing is in flight. A submitter counts its requests before it
            // looks at `reaper`: if it saw RUNNING just before we left, we see its count here
            // and come back (unless it already started another reaper).
            if self.inflight.load(SeqCst) == 0
                && self.reaper.compare_exchange(REAPER_RUNNING, REAPER_NONE, SeqCst, SeqCst).is_ok()
                && (self.inflight.load(SeqCst) == 0
                    || self.reaper.compare_exchange(REAPER_NONE, REAPER_RUNNING, SeqCst, SeqCst).is_err())
            {
                return;
            }
        }
    }

    fn complete(&self, rt: &'static Runtime, ev: &IoEvent) {
        // SAFETY: aio_data is the strong reference made by Arc::into_raw in `submit`, and the
        // kernel delivers each event exactly once.
        let req = unsafe { Arc::from_raw(ev.data as *const Request) };
        self.inflight.fetch_sub(1, SeqCst);
        let refused_nowait = ev.res == -(libc::EAGAIN as i64) || ev.res == -(libc::EOPNOTSUPP as i64);
        if refused_nowait && req.iocb_rw_flags() & libc::RWF_NOWAIT != 0 && !req.cancel_requested() {
            // The kernel would have blocked (EAGAIN), or cannot do this without blocking at all
            // (EOPNOTSUPP: e.g. buffered writes on ext4): the pool does it with the ordinary
            // blocking call.
            req.avoid_kernel();
            req.unclaim();
            rt.run_elsewhere(req);
            return;
        }
        let (value, error) = if ev.res < 0 {
            (-1, if req.cancel_requested() { libc::ECANCELED } else { (-ev.res) as Errno })
        } else {
            (ev.res as isize, 0) // a transfer that happened is reported, cancel or not
        };
        rt.finish(&req, value, error);
    }
}

/// The kernel command for a request, or None if the kernel backend does not take it. Reads and
/// writes carry RWF_NOWAIT: where the kernel would block inside `io_submit` (an O_DIRECT write
/// that extends the file, a lock, metadata I/O) it completes the iocb with EAGAIN instead, and
/// the request goes to the pool — so `io_submit` never makes the caller wait.
fn iocb_for(r: &Request, nowait: bool) -> Option<Iocb> {
    let rw_flags = if nowait { libc::RWF_NOWAIT } else { 0 };
    // Vectored: the kernel copies the segment array at io_submit.
    let (data, len) = match &r.iov {
        Some(v) => (v.as_ptr() as usize, v.len()),
        None => (r.buf, r.nbytes),
    };
    let vectored = r.iov.is_some();
    let (opcode, buf, nbytes, offset, rw_flags) = match r.op {
        Op::Read if vectored => (kernel_aio::IOCB_CMD_PREADV, data, len, r.offset, rw_flags),
        Op::Read => (kernel_aio::IOCB_CMD_PREAD, data, len, r.offset, rw_flags),
        Op::Write { append: false } if vectored => (kernel_aio::IOCB_CMD_PWRITEV, data, len, r.offset, rw_flags),
        Op::Write { append: false } => (kernel_aio::IOCB_CMD_PWRITE, data, len, r.offset, rw_flags),
        Op::Sync { data_only: false } => (kernel_aio::IOCB_CMD_FSYNC, 0, 0, 0, 0),
        Op::Sync { data_only: true } => (kernel_aio::IOCB_CMD_FDSYNC, 0, 0, 0, 0),
        Op::Write { append: true } => return None,
    };
    Some(Iocb {
        aio_lio_opcode: opcode,
        aio_rw_flags: rw_flags,
        // rtaio's own reference to the file when the request has one (fileref.rs).
        aio_fildes: r.exec_fd() as u32,
        aio_buf: buf as u64,
        aio_nbytes: nbytes as u64,
        aio_offset: offset,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_spec() {
        assert_eq!(Faults::parse(""), Faults::default());
        assert_eq!(Faults::parse("io_submit=EAGAIN"), Faults { io_setup: None, io_submit: Some(libc::EAGAIN) });
        assert_eq!(
            Faults::parse("io_setup=ENOSYS, io_submit=EINVAL"),
            Faults { io_setup: Some(libc::ENOSYS), io_submit: Some(libc::EINVAL) }
        );
        assert_eq!(Faults::parse("bogus=EAGAIN,io_submit=WHAT"), Faults::default());
    }
}
