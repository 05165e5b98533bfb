//! The native AIO executor: O_DIRECT reads and writes on files and block devices, and their
//! fsyncs, through Linux native AIO (`kernel_aio::aio`), a whole batch (a `lio_listio` list) in
//! one `io_submit`.
//!
//! One context per process, made on first use (256 events: enough for deep queues, small
//! against the system-wide `fs.aio-max-nr` that databases and other programs share). One
//! reaper thread (all signals blocked) waits in `io_getevents` and reports completions; it
//! exits after the idle time with nothing in flight.
//!
//! Reads and writes carry RWF_NOWAIT: where the kernel would block inside `io_submit` (an
//! O_DIRECT write that extends the file, a lock, metadata I/O) it completes the block with
//! EAGAIN instead, and the request goes to the fallback executor (the pool) — so `io_submit`
//! never makes the caller wait. Refusals: a descriptor whose file system has no async I/O
//! (EINVAL) is remembered while requests are in flight and its requests go to the fallback;
//! a full context (EAGAIN), EBADF or anything else sends that request there too; ENOSYS or
//! EPERM (kernel without AIO, seccomp) and a failed `io_setup` turn native AIO off for the
//! process. The application sees no difference but speed. Available since Linux 2.6 (the
//! fsync commands: 4.18; older kernels refuse them with EINVAL and the pool takes them).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kernel_aio::aio::Context;
use kernel_aio::{Cmd, Event, Op as KOp, Refused};
use parking_lot::Mutex;

use crate::config::{Backend, Faults, Settings};
use crate::exec::executor::{start_or_fail, Executor, Finish};
use crate::request::{Data, Op, Request};
use crate::stats;
use crate::sys;

const NR_EVENTS: u32 = 256;

const REAPER_NONE: u8 = 0;
const REAPER_STARTING: u8 = 1;
const REAPER_RUNNING: u8 = 2;

pub struct Kaio {
    shared: Arc<Shared>,
}

struct Shared {
    /// The context, made on first use; None if it cannot be had in this process.
    ctx: OnceLock<Option<Context<Request>>>,
    /// Requests submitted and not yet reaped.
    inflight: AtomicUsize,
    /// REAPER_NONE, REAPER_STARTING or REAPER_RUNNING: no request enters the kernel unless a
    /// reaper is known to be running.
    reaper: AtomicU8,
    /// RWF_NOWAIT is accepted for reads and writes (cleared if the kernel rejects the flag).
    nowait: AtomicBool,
    /// The kernel said it will never do this (ENOSYS, EPERM).
    broken: AtomicBool,
    /// Descriptors whose file system refused async I/O, while requests are in flight.
    refused_fds: Mutex<Vec<i32>>,
    faults: Faults,
    idle_ms: AtomicU64,
    finish: Finish,
    /// Where requests the kernel gives back go.
    fallback: Arc<dyn Executor>,
}

impl Kaio {
    pub fn new(s: &Settings, finish: Finish, fallback: Arc<dyn Executor>) -> Kaio {
        Kaio {
            shared: Arc::new(Shared {
                ctx: OnceLock::new(),
                inflight: AtomicUsize::new(0),
                reaper: AtomicU8::new(REAPER_NONE),
                // The forced kernel backend shows the kernel's own behaviour, blocking inside
                // io_submit where it does.
                nowait: AtomicBool::new(s.backend != Backend::Kernel),
                broken: AtomicBool::new(s.backend == Backend::Threads),
                refused_fds: Mutex::new(Vec::new()),
                faults: s.faults,
                idle_ms: AtomicU64::new(s.idle.as_millis().max(1) as u64),
                finish,
                fallback,
            }),
        }
    }

    /// May requests be routed here? (False once the kernel refused native AIO for good.)
    pub fn usable(&self) -> bool {
        !self.shared.broken.load(Relaxed) && !matches!(self.shared.ctx.get(), Some(None))
    }
}

impl Shared {
    fn context(&self) -> Option<&Context<Request>> {
        self.ctx
            .get_or_init(|| {
                let made = match self.faults.io_setup {
                    Some(e) => Err(std::io::Error::from_raw_os_error(e)),
                    None => Context::new(NR_EVENTS),
                };
                if let Err(e) = &made {
                    stats::fallback(stats::Fallback::KaioSetup, e.raw_os_error().unwrap_or(0), 1);
                }
                made.ok()
            })
            .as_ref()
            .filter(|_| !self.broken.load(Relaxed))
    }
}

/// The kernel's command for a request.
fn kernel_op<'a>(r: &'a Request, fd: i32, nowait: bool) -> KOp<'a> {
    let cmd = match (r.op, &r.data) {
        (Op::Read, Data::Vec(v)) => Cmd::ReadV(v),
        (Op::Write, Data::Vec(v)) => Cmd::WriteV(v),
        (Op::Read, Data::Buf(b)) => Cmd::Read(*b),
        (Op::Write, Data::Buf(b)) => Cmd::Write(*b),
        (Op::Read | Op::Write, Data::None) => Cmd::Read(kernel_aio::IoBuf::empty()),
        (Op::Sync { data_only: false }, _) => Cmd::Fsync,
        (Op::Sync { data_only: true }, _) => Cmd::Fdsync,
    };
    KOp { fd, offset: r.offset, cmd, nowait, punt: false }
}

impl Executor for Kaio {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let sh = &self.shared;
        let Some(ctx) = sh.context() else { return reqs };
        let mut refused = Vec::new();
        let mut mine = Vec::with_capacity(reqs.len());
        {
            let refused_fds = sh.refused_fds.lock();
            for r in reqs {
                // Claimed before the kernel sees the buffer: from here on only io_cancel can stop it.
                if !r.claim() {
                    continue; // cancelled since it was registered: the canceller finished it
                }
                if refused_fds.contains(&r.fd) {
                    r.unclaim();
                    refused.push(r);
                } else {
                    mine.push(r);
                }
            }
        }
        if mine.is_empty() {
            return refused;
        }
        sh.inflight.fetch_add(mine.len(), SeqCst);
        if !self.ensure_reaper() {
            sh.inflight.fetch_sub(mine.len(), SeqCst);
            for r in &mine {
                r.unclaim();
            }
            refused.extend(mine);
            return refused;
        }
        let mut nowait = sh.nowait.load(Relaxed);
        loop {
            // rtaio's own reference to the file when the request has one (fileref.rs).
            let fds: Vec<i32> = mine.iter().map(|r| r.exec_fd()).collect();
            let ops: Vec<KOp<'_>> = mine.iter().zip(&fds).map(|(r, &fd)| kernel_op(r, fd, nowait)).collect();
            let back = match sh.faults.io_submit {
                Some(e) => mine.iter().map(|r| Refused { owner: r.clone(), errno: e }).collect(),
                None => ctx.submit(mine.iter().cloned().zip(ops).collect()),
            };
            let mut retry = Vec::new();
            for b in back {
                if b.errno == libc::EOPNOTSUPP && nowait {
                    // A kernel without RWF_NOWAIT for AIO: resubmit without it, from now on.
                    sh.nowait.store(false, Relaxed);
                    retry.push(b.owner);
                    continue;
                }
                sh.inflight.fetch_sub(1, SeqCst);
                stats::fallback(stats::Fallback::KaioSubmit, b.errno, 1);
                match b.errno {
                    libc::ENOSYS | libc::EPERM => sh.broken.store(true, Relaxed),
                    // No async I/O on this file system: remember it for the descriptor.
                    libc::EINVAL => {
                        b.owner.to_pool();
                        let mut f = sh.refused_fds.lock();
                        if !f.contains(&b.owner.fd) {
                            f.push(b.owner.fd);
                        }
                    }
                    _ => {}
                }
                b.owner.unclaim();
                refused.push(b.owner);
            }
            if retry.is_empty() {
                break;
            }
            mine = retry;
            nowait = false;
        }
        refused
    }

    fn cancel(&self, req: &Request) -> bool {
        let Some(Some(ctx)) = self.shared.ctx.get() else { return false };
        // The flag goes up first, so a completion racing with io_cancel reports ECANCELED.
        req.request_cancel(true);
        if ctx.cancel(req) {
            true
        } else {
            req.request_cancel(false);
            false
        }
    }

    fn set_limits(&self, _max_threads: usize, idle: Duration) {
        self.shared.idle_ms.store(idle.as_millis().max(1) as u64, Relaxed);
    }
}

impl Kaio {
    /// Makes sure a reaper is running before anything enters the kernel. Called after the
    /// caller counted its requests in `inflight`. False if no reaper thread can be started.
    fn ensure_reaper(&self) -> bool {
        let sh = &self.shared;
        loop {
            match sh.reaper.load(SeqCst) {
                REAPER_RUNNING => return true,
                REAPER_STARTING => std::thread::yield_now(), // its starter will say how it went
                _ => {
                    if sh.reaper.compare_exchange(REAPER_NONE, REAPER_STARTING, SeqCst, SeqCst).is_err() {
                        continue;
                    }
                    let me = sh.clone();
                    let _mask = sys::SignalMask::full();
                    let spawned = std::thread::Builder::new()
                        .name("rtaio-kaio".into())
                        .stack_size(128 << 10)
                        .spawn(move || me.reap())
                        .is_ok();
                    sh.reaper.store(if spawned { REAPER_RUNNING } else { REAPER_NONE }, SeqCst);
                    if spawned {
                        stats::thread_started(stats::Thread::KaioReaper);
                    }
                    return spawned;
                }
            }
        }
    }
}

impl Shared {
    /// The reaper thread: reports completions until idle with nothing in flight.
    fn reap(self: Arc<Self>) {
        let Some(Some(ctx)) = self.ctx.get() else { return };
        loop {
            let idle = Duration::from_millis(self.idle_ms.load(Relaxed));
            match ctx.getevents(1, 64, Some(idle)) {
                Ok(events) if !events.is_empty() => {
                    for ev in events {
                        self.inflight.fetch_sub(1, SeqCst);
                        self.reaped(ev);
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
            if self.inflight.load(SeqCst) == 0 {
                self.refused_fds.lock().clear();
                if self.reaper.compare_exchange(REAPER_RUNNING, REAPER_NONE, SeqCst, SeqCst).is_ok()
                    && (self.inflight.load(SeqCst) == 0
                        || self.reaper.compare_exchange(REAPER_NONE, REAPER_RUNNING, SeqCst, SeqCst).is_err())
                {
                    return;
                }
            }
        }
    }

    fn reaped(&self, ev: Event<Request>) {
        let req = ev.owner;
        let would_block = ev.res == -(libc::EAGAIN as i64) || ev.res == -(libc::EOPNOTSUPP as i64);
        if ev.nowait && would_block && !req.cancel_requested() {
            // The kernel would have blocked (EAGAIN), or cannot do this without blocking at all
            // (EOPNOTSUPP: e.g. buffered writes on ext4): the fallback does it with the
            // ordinary blocking call.
            stats::fallback(stats::Fallback::KaioWouldBlock, (-ev.res) as i32, 1);
            req.to_pool();
            req.unclaim();
            start_or_fail(&*self.fallback, vec![req], &self.finish);
            return;
        }
        let result = if ev.res < 0 {
            Err(if req.cancel_requested() { libc::ECANCELED } else { (-ev.res) as i32 })
        } else {
            Ok(ev.res as usize) // a transfer that happened is reported, cancel or not
        };
        (self.finish)(&req, result);
    }
}
