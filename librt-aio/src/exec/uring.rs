//! The io_uring executor: every kind of request (buffered and O_DIRECT reads and writes,
//! vectored requests, fsync, pipes and sockets) through one ring (`kernel_aio::uring`).
//!
//! - Submission never blocks and, while the ring's kernel thread (SQPOLL) is awake, makes no
//!   system call: the submitter writes the entry into the shared ring. Uncached buffered I/O
//!   runs in the kernel's own workers, sockets and pipes wait by polling: no rtaio thread is
//!   parked on a request.
//! - One reaper thread (all signals blocked) waits in `io_uring_enter` and reports batches of
//!   completions; it exits after the idle time with nothing in flight, and the ring goes with
//!   it (its descriptor closed, its kernel thread ended): an idle process keeps nothing.
//! - Cancel in flight: the kernel's synchronous cancel (a request waiting for data is
//!   cancelled; one being performed is not).
//! - Refusals: a ring that cannot be made (no io_uring, `kernel.io_uring_disabled`, a seccomp
//!   policy, RLIMIT_MEMLOCK on older kernels, a missing opcode) turns io_uring off for the
//!   process and requests go where they would go without it; a full submission queue gives
//!   that request back to the router, which sends it to the pool.
//!
//! The ring's descriptor is close-on-exec, and a child after fork() closes it (`fileref.rs`)
//! and never uses the parent's ring (its memory is not inherited).

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use kernel_aio::uring::{Options, Ring};
use kernel_aio::{Cmd, IoBuf, Op as KOp};
use parking_lot::Mutex;

use crate::config::Settings;
use crate::exec::executor::{Executor, Finish};
use crate::fileref;
use crate::request::{Data, Op, Request};
use crate::sys;

const ENTRIES: u32 = 1024;
/// The ring's kernel thread sleeps after this long without work.
const SQPOLL_IDLE_MS: u32 = 2;

const UNTRIED: u8 = 0;
const READY: u8 = 1;
const OFF: u8 = 2;

const REAPER_NONE: u8 = 0;
const REAPER_STARTING: u8 = 1;
const REAPER_RUNNING: u8 = 2;

pub struct Uring {
    shared: Arc<Shared>,
}

struct Shared {
    /// The ring while requests flow (made on first use, dropped when idle).
    ring: Mutex<Option<Arc<Ring<Request>>>>,
    /// UNTRIED, READY (a ring could be made) or OFF (io_uring refused in this process).
    state: AtomicU8,
    /// Requests submitted and not yet reaped (counted under `ring`'s lock when added).
    inflight: AtomicUsize,
    reaper: AtomicU8,
    idle_ms: AtomicU64,
    /// Test-only: io_uring_setup fails with this errno (`RTAIO_FAULTS=io_uring_setup=EPERM`).
    setup_fault: Option<i32>,
    finish: Finish,
}

impl Uring {
    pub fn new(s: &Settings, enabled: bool, finish: Finish) -> Uring {
        Uring {
            shared: Arc::new(Shared {
                ring: Mutex::new(None),
                state: AtomicU8::new(if enabled { UNTRIED } else { OFF }),
                inflight: AtomicUsize::new(0),
                reaper: AtomicU8::new(REAPER_NONE),
                idle_ms: AtomicU64::new(s.idle.as_millis().max(1) as u64),
                setup_fault: s.faults.io_uring_setup,
                finish,
            }),
        }
    }

    /// May requests be routed here? Tries to make the ring the first time.
    pub fn usable(&self) -> bool {
        match self.shared.state.load(Acquire) {
            READY => true,
            OFF => false,
            _ => self.shared.ring().is_some(),
        }
    }

    /// Requests in the ring now (the depth the application keeps).
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Relaxed)
    }
}

impl Shared {
    /// The ring, made if there is none; None if io_uring is refused.
    fn ring(&self) -> Option<Arc<Ring<Request>>> {
        let mut g = self.ring.lock();
        self.ring_locked(&mut g)
    }

    fn ring_locked(&self, g: &mut Option<Arc<Ring<Request>>>) -> Option<Arc<Ring<Request>>> {
        if let Some(r) = g.as_ref() {
            return Some(r.clone());
        }
        if self.state.load(Acquire) == OFF {
            return None;
        }
        let made = match self.setup_fault {
            Some(e) => Err(std::io::Error::from_raw_os_error(e)),
            None => Ring::new(Options { entries: ENTRIES, sqpoll_idle_ms: Some(SQPOLL_IDLE_MS) }),
        };
        match made {
            Ok(r) => {
                fileref::track_owned(r.fd(), true);
                let r = Arc::new(r);
                *g = Some(r.clone());
                self.state.store(READY, Release);
                Some(r)
            }
            Err(_) => {
                self.state.store(OFF, Release);
                None
            }
        }
    }
}

/// The kernel's operation for a request (for a write continued after a partial one, the rest).
fn kernel_op(r: &Request, fd: i32) -> KOp<'_> {
    let done = r.progress.load(Relaxed);
    let cmd = match (r.op, &r.data) {
        (Op::Read, Data::Vec(v)) => Cmd::ReadV(v),
        (Op::Write, Data::Vec(v)) => Cmd::WriteV(v),
        (Op::Read, Data::Buf(b)) => Cmd::Read(*b),
        (Op::Write, Data::Buf(b)) => Cmd::Write(b.advance(done)),
        (Op::Read | Op::Write, Data::None) => Cmd::Read(IoBuf::empty()),
        (Op::Sync { data_only: false }, _) => Cmd::Fsync,
        (Op::Sync { data_only: true }, _) => Cmd::Fdsync,
    };
    // -1: at the file position (streams, O_APPEND writes).
    KOp { fd, offset: if r.positional { r.offset } else { -1 }, cmd, nowait: false }
}

impl Executor for Uring {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let sh = &self.shared;
        let ring = {
            let mut g = sh.ring.lock();
            match sh.ring_locked(&mut g) {
                Some(r) => {
                    sh.inflight.fetch_add(reqs.len(), SeqCst);
                    r
                }
                None => return reqs,
            }
        };
        let mut mine = Vec::with_capacity(reqs.len());
        for r in reqs {
            // Claimed before the kernel sees the buffer: from here on only a cancel can stop it.
            if r.claim() {
                mine.push(r);
            } else {
                sh.inflight.fetch_sub(1, SeqCst); // cancelled since: the canceller finished it
            }
        }
        if mine.is_empty() {
            return mine;
        }
        if !self.ensure_reaper() {
            sh.inflight.fetch_sub(mine.len(), SeqCst);
            for r in &mine {
                r.unclaim();
            }
            return mine;
        }
        // rtaio's own reference to the file when the request has one (fileref.rs).
        let fds: Vec<i32> = mine.iter().map(|r| r.exec_fd()).collect();
        let batch = mine.iter().zip(&fds).map(|(r, &fd)| (r.clone(), kernel_op(r, fd))).collect();
        let mut back = Vec::new();
        for refused in ring.submit(batch) {
            sh.inflight.fetch_sub(1, SeqCst);
            refused.owner.unclaim();
            back.push(refused.owner);
        }
        back
    }

    fn cancel(&self, req: &Request) -> bool {
        match self.shared.ring.lock().clone() {
            Some(ring) => ring.cancel(req),
            None => false,
        }
    }

    fn set_limits(&self, _max_threads: usize, idle: Duration) {
        self.shared.idle_ms.store(idle.as_millis().max(1) as u64, Relaxed);
    }
}

impl Uring {
    /// Makes sure a reaper is running before anything enters the ring (called after the
    /// caller counted its requests in `inflight`). False if no thread can be started.
    fn ensure_reaper(&self) -> bool {
        let sh = &self.shared;
        loop {
            match sh.reaper.load(SeqCst) {
                REAPER_RUNNING => return true,
                REAPER_STARTING => std::thread::yield_now(),
                _ => {
                    if sh.reaper.compare_exchange(REAPER_NONE, REAPER_STARTING, SeqCst, SeqCst).is_err() {
                        continue;
                    }
                    let me = sh.clone();
                    let _mask = sys::SignalMask::full();
                    let spawned = std::thread::Builder::new()
                        .name("rtaio-uring".into())
                        .stack_size(128 << 10)
                        .spawn(move || me.reap())
                        .is_ok();
                    sh.reaper.store(if spawned { REAPER_RUNNING } else { REAPER_NONE }, SeqCst);
                    return spawned;
                }
            }
        }
    }
}

impl Shared {
    /// One completion. A write to a stream (pipe, socket) that the kernel took only in part
    /// continues with the rest, so that the request writes everything, as one blocking
    /// write() does; the result is the sum.
    fn reaped(&self, ring: &Ring<Request>, req: Arc<Request>, res: i64) {
        if res > 0 && req.op == Op::Write && !req.positional {
            if let Data::Buf(b) = req.data {
                let done = req.progress.fetch_add(res as usize, Relaxed) + res as usize;
                if done < b.len() {
                    let op = kernel_op(&req, req.exec_fd());
                    if ring.submit(vec![(req.clone(), op)]).is_empty() {
                        return; // still in flight
                    }
                }
                self.inflight.fetch_sub(1, SeqCst);
                (self.finish)(&req, Ok(done));
                return;
            }
        }
        self.inflight.fetch_sub(1, SeqCst);
        let done = req.progress.load(Relaxed);
        let result = match res {
            // an error after a part was written: the part is the result, as for write()
            r if r < 0 && done > 0 => Ok(done),
            r if r < 0 => Err((-r) as i32),
            r => Ok(r as usize),
        };
        (self.finish)(&req, result);
    }

    /// The reaper thread: reports completions; when idle with nothing in flight, drops the
    /// ring and leaves.
    fn reap(self: Arc<Self>) {
        loop {
            let Some(ring) = self.ring.lock().clone() else { break };
            let idle = Duration::from_millis(self.idle_ms.load(Relaxed));
            let mut events = ring.reap(256);
            if events.is_empty() {
                match ring.wait(idle) {
                    Ok(()) => events = ring.reap(256),
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            if !events.is_empty() {
                for ev in events {
                    self.reaped(&ring, ev.owner, ev.res);
                }
                continue;
            }
            drop(ring);
            // Idle: with nothing in flight, drop the ring and leave. Submitters count their
            // requests under the ring's lock, so none is in it after this check.
            let mut g = self.ring.lock();
            if self.inflight.load(SeqCst) == 0 {
                if let Some(r) = g.take() {
                    fileref::track_owned(r.fd(), false);
                }
                self.reaper.store(REAPER_NONE, SeqCst);
                return;
            }
        }
        self.reaper.store(REAPER_NONE, SeqCst);
    }
}
