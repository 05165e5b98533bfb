//! The io_uring executor: every kind of request (buffered and O_DIRECT reads and writes,
//! vectored requests, fsync, pipes and sockets) through one ring (`kernel_aio::uring`).
//!
//! # Who does what
//!
//! - **Submitting threads** (the application's, in `aio_read`...) only queue entries in the
//!   shared ring. They never enter it: the kernel cancels the requests of a thread that exits,
//!   and an application thread may exit right after `aio_write` (POSIX says the write still
//!   happens).
//! - **The submitter** (one thread, "rtaio-uring", all signals blocked) enters the ring: the
//!   kernel starts each request there — a page-cache hit is copied during that call, on the
//!   submitter's core, beside the application's; uncached buffered I/O goes on in the kernel's
//!   workers, sockets and pipes wait by polling, O_DIRECT goes to the device. After work it
//!   spins briefly for more; then it sleeps, woken by a queueing thread (a futex, or the
//!   ring's doorbell when it sleeps in the ring). With nothing in flight for the idle time it
//!   drops the ring and exits: an idle process keeps nothing.
//! - **Reaping** is done by whoever is there: the submitter; a submitting thread; a caller of
//!   `aio_error` or `aio_suspend`, which publishes the status itself (no hop through another
//!   thread; async-signal-safe: a try-lock, held with signals blocked, and atomics). A thread
//!   in `aio_suspend` whose entries are all in the ring (`ST_IN_RING`) sleeps on the ring's
//!   completion eventfd, which the kernel bumps with every completion it posts
//!   (`kernel_wait`): the kernel wakes it, not the submitter. A request whose completion needs
//!   more than its status (a notification, a list, an order others wait on) is finished by a
//!   non-signal context; if a signal-safe reaper took its completion, it leaves it on the
//!   deferred list and wakes the submitter.
//! - The submitter sleeps in the ring (woken by each completion) only while someone needs
//!   completions finished without asking: requests with notifications or lists in flight,
//!   threads asleep on status words in `aio_suspend`, requests held back behind others.
//!   Otherwise it sleeps on a futex, and callers reap their own completions.
//!
//! Cancel in flight: the kernel's synchronous cancel (a request waiting for data is cancelled;
//! one being performed is not). Refusals: a ring that cannot be made turns io_uring off for
//! the process (`usable()` false: requests go where they would go without it); a full ring
//! gives requests back to the router, which sends them to the pool.
//!
//! The ring's descriptor and the doorbell are close-on-exec, and a child after fork() closes
//! them (`fileref.rs`) and never uses the parent's ring (its memory is not inherited).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kernel_aio::uring::{Canceled, Doorbell, Ring};
use kernel_aio::{Cmd, IoBuf, Op as KOp};
use parking_lot::Mutex;
use thread_pool::SpinBudget;

use crate::aiocb::KernelQueue;
use crate::config::Settings;
use crate::exec::executor::{redo_on, Done, Executor, Finish, Publish};
use crate::fileref;
use crate::request::{self, Data, Op, Request};
use crate::stats;
use crate::sys::{
    self,
    arcs::{ArcStack, SharedArc},
};
use crate::wait;

const ENTRIES: u32 = 1024;
/// After work, the submitter looks for more this many times (some microseconds) before
/// sleeping: a queue the application keeps full never waits for a wake-up. Counted, not
/// timed: reading the clock in the loop cost more than the looking.
const SPIN_ROUNDS: u32 = 256;
/// The submitter's look-before-sleep ([`SpinBudget`], see `Shared::submitter`) pays off this
/// much at most; it looks after one piece of work in SPIN_PROBE when it has not been paying.
const SPIN_SCORE_MAX: u32 = 8;
const SPIN_PROBE: u32 = 16;
/// How long the kernel's synchronous cancel may wait for a running request before rtaio looks
/// for its completion itself (and asks again).
const CANCEL_WAIT: Duration = Duration::from_millis(20);
/// While requests are in flight and nobody needs the submitter, it still looks every so often
/// (requests whose status a signal-safe reaper published are released then).
const LAZY_TICK: Duration = Duration::from_millis(10);

const UNTRIED: u8 = 0;
const READY: u8 = 1;
const OFF: u8 = 2;

/// The submitter's state, for the threads that may have to wake it.
const AWAKE: u32 = 0;
const ASLEEP_FUTEX: u32 = 1;
const ASLEEP_RING: u32 = 2;

pub struct Uring {
    shared: Arc<Shared>,
}

/// One ring and its submitter (made on demand, dropped when idle).
struct Live {
    ring: Ring<Request>,
    bell: Doorbell,
    /// The doorbell's poll is in the ring.
    bell_armed: AtomicBool,
    /// AWAKE, ASLEEP_FUTEX, ASLEEP_RING; also the futex the submitter sleeps on.
    state: AtomicU32,
    /// Entries queued since the submitter last entered.
    queued: AtomicUsize,
    /// An eventfd the kernel adds to with every completion (-1: none could be made): a thread
    /// in `aio_suspend` whose entries are all in the ring waits on it (`kernel_wait`).
    cq_fd: i32,
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.cq_fd >= 0 {
            sys::close(self.cq_fd);
        }
    }
}

struct Shared {
    /// The ring while requests flow: submitting threads take it here (and count their
    /// requests in `inflight` under the lock, so the submitter never drops a ring in use).
    live: Mutex<Option<Arc<Live>>>,
    /// The same ring for signal-safe reapers, which cannot lock.
    current: SharedArc<Live>,
    /// UNTRIED, READY (a ring could be made) or OFF (io_uring refused in this process).
    state: AtomicU8,
    /// Requests in the ring (queued or submitted) and not yet reaped.
    inflight: AtomicUsize,
    /// Of those, the ones that need finishing beyond their status (see the module comment).
    needy: AtomicUsize,
    /// Submitting threads between claiming requests and queueing them in the ring: a cancel
    /// that finds a claimed request in neither the kernel nor the queue waits for them.
    pushing: AtomicUsize,
    /// Completions reaped by a signal-safe reaper, waiting to be finished (their results in
    /// `Request::deferred_result`).
    deferred: ArcStack<Request>,
    idle_ms: AtomicU64,
    /// Held (1) by the one thread that waits on the completion eventfd (a read consumes its
    /// count), or by the submitter while it drops the ring (so that the eventfd is never
    /// closed under a waiter).
    kernel_waiter: AtomicUsize,
    cancel_lock: Mutex<()>,
    /// Test-only: io_uring_setup fails with this errno (`RTAIO_FAULTS=io_uring_setup=EPERM`).
    setup_fault: Option<i32>,
    finish: Finish,
    publish: Publish,
    /// Where a request the ring would not wait for goes (see `redo_elsewhere`).
    fallback: Arc<dyn Executor>,
}

impl Uring {
    pub fn new(s: &Settings, enabled: bool, finish: Finish, publish: Publish, fallback: Arc<dyn Executor>) -> Uring {
        Uring {
            shared: Arc::new(Shared {
                live: Mutex::new(None),
                current: SharedArc::default(),
                state: AtomicU8::new(if enabled { UNTRIED } else { OFF }),
                inflight: AtomicUsize::new(0),
                needy: AtomicUsize::new(0),
                pushing: AtomicUsize::new(0),
                deferred: ArcStack::default(),
                idle_ms: AtomicU64::new(s.idle.as_millis().max(1) as u64),
                kernel_waiter: AtomicUsize::new(0),
                cancel_lock: Mutex::new(()),
                setup_fault: s.faults.io_uring_setup,
                finish,
                publish,
                fallback,
            }),
        }
    }

    /// May requests be routed here? Tries to make the ring the first time.
    pub fn usable(&self) -> bool {
        match self.shared.state.load(Acquire) {
            READY => true,
            OFF => false,
            _ => self.shared.live().is_some(),
        }
    }

    /// Requests in the ring now (the depth the application keeps).
    pub fn inflight(&self) -> usize {
        self.shared.inflight.load(Relaxed)
    }
}

/// Does finishing this request take more than publishing its status?
fn needs_finishing(r: &Request) -> bool {
    !r.may_publish_early()
}

/// Marks whether the request's completion is still to come from the ring (`ST_IN_RING`).
fn mark_in_ring(r: &Request, on: bool) {
    r.set_in_kernel(KernelQueue::Uring, on);
}

impl Shared {
    /// The ring, made (with its submitter) if there is none; None if io_uring is refused (or
    /// no thread can be started now).
    fn live(self: &Arc<Self>) -> Option<Arc<Live>> {
        let mut g = self.live.lock();
        self.live_locked(&mut g)
    }

    fn live_locked(self: &Arc<Self>, g: &mut Option<Arc<Live>>) -> Option<Arc<Live>> {
        if let Some(l) = g.as_ref() {
            return Some(l.clone());
        }
        if self.state.load(Acquire) == OFF {
            return None;
        }
        let made = match self.setup_fault {
            Some(e) => Err(std::io::Error::from_raw_os_error(e)),
            None => Ring::new(ENTRIES).and_then(|ring| Ok((ring, Doorbell::new()?))),
        };
        if let Err(e) = &made {
            stats::fallback(stats::Fallback::UringSetup, e.raw_os_error().unwrap_or(0), 1);
        }
        let Ok((ring, bell)) = made else {
            self.state.store(OFF, Release);
            return None;
        };
        self.state.store(READY, Release);
        // Without a completion eventfd, threads in aio_suspend sleep on their status words and
        // the submitter wakes them.
        let cq_fd = match sys::eventfd_new() {
            Ok(efd) if ring.notify_completions(efd).is_ok() => efd,
            Ok(efd) => {
                sys::close(efd);
                -1
            }
            Err(_) => -1,
        };
        let live = Arc::new(Live {
            ring,
            bell,
            bell_armed: AtomicBool::new(false),
            state: AtomicU32::new(AWAKE),
            queued: AtomicUsize::new(0),
            cq_fd,
        });
        if !self.spawn_submitter(&live) {
            stats::fallback(stats::Fallback::UringThread, libc::EAGAIN, 1);
            return None; // the ring goes; the next request tries again
        }
        stats::thread_started(stats::Thread::UringSubmitter);
        fileref::track_owned(live.ring.fd(), true);
        fileref::track_owned(live.bell.fd(), true);
        fileref::track_owned(live.cq_fd, true);
        self.current.set(live.clone());
        *g = Some(live.clone());
        Some(live)
    }

    /// Wakes the submitter if it sleeps (async-signal-safe).
    fn wake(live: &Live) {
        loop {
            match live.state.load(SeqCst) {
                AWAKE => return,
                s => {
                    if live.state.compare_exchange(s, AWAKE, SeqCst, SeqCst).is_ok() {
                        if s == ASLEEP_FUTEX {
                            sys::futex_wake(&live.state, 1);
                        } else {
                            live.bell.ring();
                        }
                        return;
                    }
                }
            }
        }
    }

    /// Queues requests (already claimed and counted in `inflight`) and makes sure the
    /// submitter will enter them. Returns the ones the ring could not take.
    fn push(&self, live: &Live, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let n = reqs.len();
        // Marked before the kernel may complete them; unmarked by whoever reaps them. The
        // operations are made before the ring's queue is locked: `kernel_op` may ask `mincore`.
        let batch: Vec<_> = reqs
            .iter()
            .map(|r| {
                mark_in_ring(r, true);
                (r, kernel_op(r))
            })
            .collect();
        let refused = live.ring.push(batch);
        let mut back = Vec::with_capacity(refused.len());
        for r in refused {
            mark_in_ring(&r.owner, false);
            self.uncount(&r.owner);
            back.push(r.owner);
        }
        if back.len() < n {
            live.queued.fetch_add(n - back.len(), SeqCst);
            Self::wake(live);
        }
        back
    }

    fn uncount(&self, r: &Request) {
        self.inflight.fetch_sub(1, SeqCst);
        if needs_finishing(r) {
            self.needy.fetch_sub(1, SeqCst);
        }
    }

    /// Reaps what the ring holds. `signal_safe`: only publish statuses (what needs more is
    /// deferred, and the submitter woken for it); else finish each completion fully.
    fn reap(&self, live: &Live, signal_safe: bool) -> usize {
        let mut n = 0;
        let mut wake = false;
        let mut done = Vec::new();
        loop {
            let got = live.ring.try_reap(
                64,
                |req, res| {
                    mark_in_ring(&req, false);
                    if signal_safe {
                        if redo_elsewhere(&req, res)
                            || !(self.publish)(&req, result_of(&req, res))
                            || request::held_back() > 0
                        {
                            wake = true; // someone must finish it, or release what waits on it
                        }
                        req.deferred_result.store(res, Relaxed);
                        self.deferred.push(req);
                    } else {
                        self.completed(live, req, res, &mut done);
                    }
                },
                || live.bell_armed.store(false, SeqCst),
            );
            self.finish.all(&mut done);
            match got {
                Some(0) | None => break,
                Some(k) => n += k,
            }
        }
        if wake {
            Self::wake(live);
        }
        n
    }

    /// Finishes what signal-safe reapers left (oldest first). Not in a signal handler.
    fn drain_deferred(&self, live: &Live) -> usize {
        let list = self.deferred.take_all();
        let n = list.len();
        let mut done = Vec::new();
        for req in list {
            let res = req.deferred_result.load(Relaxed);
            self.completed(live, req, res, &mut done);
        }
        self.finish.all(&mut done);
        n
    }

    /// One completion: added to `done` (for `Finish::all`), or finished or redone here. A
    /// write to a stream (pipe, socket) that the kernel took only in part continues with the
    /// rest, so that the request writes everything, as one blocking write() does; the result
    /// is the sum.
    fn completed(&self, live: &Live, req: Arc<Request>, res: i64, done: &mut Vec<Done>) {
        if redo_elsewhere(&req, res) {
            self.uncount(&req);
            stats::fallback(stats::Fallback::UringToPool, libc::EAGAIN, 1);
            redo_on(&*self.fallback, req, &self.finish);
            return;
        }
        if res > 0 && req.op == Op::Write && !req.positional {
            if let Data::Buf(b) = req.data {
                let sum = req.progress.fetch_add(res as usize, Relaxed) + res as usize;
                // A write cancelled after a part reports the part (not continued).
                if sum < b.len() && !req.cancel_requested() {
                    mark_in_ring(&req, true);
                    let n = live.ring.push([(&req, kernel_op(&req))]).len();
                    if n == 0 {
                        live.queued.fetch_add(1, SeqCst);
                        Self::wake(live);
                        return; // still in flight
                    }
                    // The submission queue is full: the pool writes the rest (`progress`
                    // says where it starts), never a short count for a write that could go on.
                    mark_in_ring(&req, false);
                    self.uncount(&req);
                    stats::fallback(stats::Fallback::UringToPool, libc::EAGAIN, 1);
                    redo_on(&*self.fallback, req, &self.finish);
                    return;
                }
                self.uncount(&req);
                self.finish.one(&req, Ok(sum));
                return;
            }
        }
        self.uncount(&req);
        let result = result_of(&req, res);
        done.push((req, result));
    }

    /// The submitter thread.
    fn submitter(self: Arc<Self>, live: Arc<Live>) {
        // Started with every signal blocked, and never unblocks one.
        kernel_aio::uring::signals_blocked_for_good();
        let mut spins = 0;
        // Whether looking has been paying off lately: requests that wait for the device
        // (uncached reads one at a time) do not cost the submitter a core of spinning.
        let budget = SpinBudget::new(SPIN_SCORE_MAX, SPIN_SCORE_MAX, SPIN_PROBE, 2);
        let mut spinning = false;
        let mut worked_since_sleep = true;
        let mut quiet_since = Instant::now();
        loop {
            let mut worked = false;
            if live.queued.load(SeqCst) > 0 {
                live.queued.store(0, SeqCst);
                // A few entries per call unless they are page-cache hits, so that the device
                // starts on the first ones while the kernel starts the rest
                // (`Ring::submit_queued`).
                live.ring.submit_queued();
                worked = true;
            }
            worked |= self.reap(&live, false) > 0;
            worked |= self.drain_deferred(&live) > 0;
            if worked {
                if spinning {
                    budget.found();
                }
                spinning = budget.worth_it();
                spins = if spinning { SPIN_ROUNDS } else { 0 };
                worked_since_sleep = true;
                continue;
            }
            if spins > 0 {
                spins -= 1;
                std::hint::spin_loop();
                continue;
            }
            if spinning {
                spinning = false;
                budget.missed();
            }
            let now = Instant::now();
            if worked_since_sleep {
                quiet_since = now;
                worked_since_sleep = false;
            }
            let idle = Duration::from_millis(self.idle_ms.load(Relaxed));
            let inflight = self.inflight.load(SeqCst);
            if inflight == 0 && now.duration_since(quiet_since) >= idle && self.retire(&live) {
                return;
            }
            // Sleep: in the ring if someone needs completions finished promptly, else on the
            // futex (callers reap their own).
            let needed = self.needy.load(SeqCst) > 0 || wait::sleeping() > 0 || request::held_back() > 0;
            let mode = if needed { ASLEEP_RING } else { ASLEEP_FUTEX };
            if mode == ASLEEP_RING && !live.bell_armed.load(SeqCst) {
                live.bell_armed.store(live.bell.arm(&live.ring), SeqCst);
                let _ = live.ring.enter(None);
            }
            live.state.store(mode, SeqCst);
            // Re-check after announcing the sleep (a queueing thread checks `state` after
            // counting its entries): nothing may arrive unseen.
            let ready = live.queued.load(SeqCst) > 0
                || !self.deferred.is_empty()
                || live.ring.has_completions()
                || (mode == ASLEEP_FUTEX
                    && (self.needy.load(SeqCst) > 0 || wait::sleeping() > 0 || request::held_back() > 0));
            if !ready {
                let tick = if inflight > 0 { LAZY_TICK } else { idle };
                if mode == ASLEEP_RING {
                    let _ = live.ring.enter(Some((1, tick)));
                } else {
                    let deadline = sys::deadline_after(tick);
                    let _ = sys::futex_wait_until(&live.state, ASLEEP_FUTEX, Some(&deadline));
                }
            }
            live.state.store(AWAKE, SeqCst);
        }
    }

    /// Drops the ring if it is still idle (nothing counted in flight under the lock that
    /// submitting threads count under). True if the submitter may exit.
    fn retire(&self, live: &Arc<Live>) -> bool {
        let mut g = self.live.lock();
        if self.inflight.load(SeqCst) != 0 || live.queued.load(SeqCst) != 0 {
            return false;
        }
        // A thread still reading the completion eventfd (its requests completed just now) is
        // about to leave: the ring goes on the next look.
        if self.kernel_waiter.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
            return false;
        }
        *g = None;
        drop(self.current.take()); // after signal-safe reapers that hold it let go
        drop(g);
        fileref::track_owned(live.ring.fd(), false);
        fileref::track_owned(live.bell.fd(), false);
        fileref::track_owned(live.cq_fd, false);
        // A later waiter finds the next ring (or none): never this one's eventfd.
        self.kernel_waiter.store(0, SeqCst);
        true
    }

    /// Starts the submitter for a new ring. False if no thread can be started.
    fn spawn_submitter(self: &Arc<Self>, live: &Arc<Live>) -> bool {
        let (me, l) = (self.clone(), live.clone());
        let _mask = sys::SignalMask::full();
        std::thread::Builder::new()
            .name("rtaio-uring".into())
            .stack_size(128 << 10)
            .spawn(move || me.submitter(l))
            .is_ok()
    }
}

/// io_uring may honour O_NONBLOCK on a regular file (EAGAIN rather than wait for the disk:
/// older kernels, file systems that cannot read without blocking); read() and write() do not,
/// and neither does glibc's AIO. `plan` keeps such descriptors off the ring, but on flags learnt
/// earlier (`submit`: a read on a number with live requests asks no `fcntl`), so one set since
/// may reach it: the pool does the request again, waiting as read() would. (A device that
/// honours O_NONBLOCK answers EAGAIN there too.)
fn redo_elsewhere(req: &Request, res: i64) -> bool {
    res == -(libc::EAGAIN as i64) && req.positional && !matches!(req.op, Op::Sync { .. }) && !req.cancel_requested()
}

/// The result of a completion (for a write continued after a partial one, the sum).
fn result_of(req: &Request, res: i64) -> Result<usize, sys::Errno> {
    let done = req.transferred();
    // ECANCELED nobody asked for: the kernel could not start a worker for it (io-wq under
    // RLIMIT_NPROC or a thread limit): the resource error glibc reports when it cannot start
    // a thread.
    // A kernel worker interrupted by a cancel reports EINTR: the request was cancelled.
    let res = match (res, req.cancel_requested()) {
        (r, false) if r == -(libc::ECANCELED as i64) => -(libc::EAGAIN as i64),
        (r, true) if r == -(libc::EINTR as i64) => -(libc::ECANCELED as i64),
        (r, _) => r,
    };
    match res {
        // an error after a part was written: the part is the result, as for write()
        r if r < 0 && done > 0 => Ok(done),
        r if r < 0 => Err((-r) as i32),
        r => Ok(r as usize),
    }
}

/// The kernel's operation for a request (for a write continued after a partial one, the rest).
fn kernel_op(r: &Request) -> KOp<'_> {
    let done = r.transferred();
    let cmd = match (r.op, &r.data) {
        (Op::Read, Data::Vec(v)) => Cmd::ReadV(v),
        (Op::Write, Data::Vec(v)) => Cmd::WriteV(v),
        (Op::Read, Data::Buf(b)) => Cmd::Read(*b),
        (Op::Write, Data::Buf(b)) => Cmd::Write(b.advance(done)),
        (Op::Read | Op::Write, Data::None) => Cmd::Read(IoBuf::empty()),
        (Op::Sync { data_only: false }, _) => Cmd::Fsync,
        (Op::Sync { data_only: true }, _) => Cmd::Fdsync,
    };
    // rtaio's own reference to the file when the request has one (fileref.rs); -1: at the
    // file position (streams; an O_APPEND write goes at its offset, which the kernel's append
    // then ignores, leaving the file position alone, as pwrite).
    KOp { fd: r.exec_fd(), offset: if r.positional { r.offset } else { -1 }, cmd, nowait: false, punt: !resident(r) }
}

/// Are the request's buffers resident? The submitter copies in its own call; a fault there
/// (a page swapped out, a userfaultfd page another thread of the application fills) would
/// stall every request behind it, so such a request goes to the kernel's workers instead.
fn resident(r: &Request) -> bool {
    match &r.data {
        Data::Buf(b) => sys::buffer_resident_cached(*b),
        Data::Vec(v) => v.iter().all(|&b| sys::buffer_resident_cached(b)),
        Data::None => true,
    }
}

impl Executor for Uring {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let sh = &self.shared;
        let live = {
            let mut g = sh.live.lock();
            let Some(live) = sh.live_locked(&mut g) else { return reqs };
            // A full completion queue would overflow: the pool takes the excess (a few entries
            // kept for the doorbell's).
            if sh.inflight.load(SeqCst) + reqs.len() + 8 > live.ring.capacity() {
                return reqs;
            }
            sh.inflight.fetch_add(reqs.len(), SeqCst);
            live
        };
        let mut mine = reqs;
        // (Before any claim: a canceller that sees one claimed sees this count.)
        sh.pushing.fetch_add(1, SeqCst);
        mine.retain(|r| {
            if needs_finishing(r) {
                sh.needy.fetch_add(1, SeqCst);
            }
            // Claimed before the kernel sees the buffer: from here on only a cancel stops it.
            let claimed = r.claim();
            if !claimed {
                sh.uncount(r); // cancelled since: the canceller finished it
            }
            claimed
        });
        let mut back = Vec::new();
        if !mine.is_empty() {
            back = sh.push(&live, mine);
            for r in &back {
                r.unclaim();
            }
        }
        sh.pushing.fetch_sub(1, SeqCst);
        // Finish what signal-safe reapers left, here where that is allowed.
        sh.drain_deferred(&live);
        back
    }

    fn cancel(&self, req: &Request) -> bool {
        // Only a request that waits for its descriptor to become ready (a pipe, a socket: it
        // may wait forever) is cancelled in the kernel. One on a regular file is being
        // performed (from the page cache, by a kernel worker, by the device) and ends by
        // itself within moments; POSIX lets it complete (AIO_NOTCANCELED), as glibc's running
        // requests do. (The kernel's cancel only sees the submitter's own workers, and
        // answering for a request between the queue and the kernel cost more than it gave.)
        if req.positional {
            return false; // regular files and devices: not cancelled in flight
        }
        let Some(live) = self.shared.live.lock().clone() else { return false };
        // One cancel at a time, so that two aio_cancel calls racing for one request give the
        // same answer (the second finds it complete, and reads how it ended).
        let _one = self.shared.cancel_lock.lock();
        // Kept once set: an ECANCELED (or EINTR) completion is the cancel's doing from now on.
        req.request_cancel(true);
        let mut answer = live.ring.cancel(req, CANCEL_WAIT);
        if answer == Canceled::NotFound {
            // Not in the kernel yet (being queued, or queued for the submitter), or complete.
            // Once the submitting threads have queued what they claimed and the submitter has
            // handed the queue over, ask again: a request is never "not cancelled" now and
            // cancelled by the next aio_cancel.
            while self.shared.pushing.load(SeqCst) > 0 || live.ring.queued() > 0 {
                Shared::wake(&live);
                std::thread::yield_now();
            }
            answer = live.ring.cancel(req, CANCEL_WAIT);
        }
        if answer == Canceled::NotFound {
            // Complete (perhaps by a cancel that came first): its completion may still wait
            // in the ring.
            self.shared.reap(&live, false);
            self.shared.drain_deferred(&live);
            let canceled = req.is_done() && req.final_errno() == libc::ECANCELED;
            if !canceled {
                // The kernel did not stop it: an ECANCELED it may still report (io-wq could not
                // start a worker) is not this cancel's doing.
                req.request_cancel(false);
            }
            return canceled;
        }
        // Its completion is in the ring: reap it here, so the caller's wait for a final status
        // does not depend on another thread. It was cancelled only if that status says so (a
        // request the kernel was completing reports its result instead, and a stream write
        // cancelled after a part reports the part).
        let mut asked = Instant::now();
        while !req.is_done() {
            self.shared.reap(&live, false);
            self.shared.drain_deferred(&live);
            if asked.elapsed() >= CANCEL_WAIT && !req.is_done() {
                // Still running (a worker's write the interruption missed): ask again.
                let _ = live.ring.cancel(req, CANCEL_WAIT);
                asked = Instant::now();
            }
            std::thread::yield_now();
        }
        req.final_errno() == libc::ECANCELED
    }

    fn kernel_wait(&self, _queue: KernelQueue, still: &dyn Fn() -> bool) -> Option<Result<(), sys::Errno>> {
        let sh = &self.shared;
        if sh.kernel_waiter.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
            return None; // another thread waits on the eventfd: sleep on the status words
        }
        // Holding `kernel_waiter`: the ring (and its eventfd) is not dropped under us.
        // Every completion posted after the check below adds to the eventfd, which only the
        // holder of `kernel_waiter` reads: none is missed. One posted before it is still in
        // the queue (or being reaped: the check says so too), or its reaper has finished, so
        // that its request is unmarked (`still` says so).
        let Some((fd, ready)) =
            sh.current.with(|live| (live.cq_fd, live.ring.has_completions())).filter(|&(fd, _)| fd >= 0)
        else {
            sh.kernel_waiter.store(0, SeqCst);
            return None;
        };
        let r = if ready || !still() {
            Ok(())
        } else {
            // A cancel here ends the thread: the cleanup gives `kernel_waiter` back.
            sys::eventfd_wait_cancellable(fd, Some(&sh.kernel_waiter))
        };
        sh.current.with(|live| sh.reap(live, true));
        sh.kernel_waiter.store(0, SeqCst);
        Some(r)
    }

    fn poll(&self, signal_safe: bool) {
        let sh = &self.shared;
        if sh.inflight.load(Relaxed) == 0 && sh.deferred.is_empty() {
            return;
        }
        sh.current.with(|live| {
            sh.reap(live, signal_safe);
            if !signal_safe {
                sh.drain_deferred(live);
            }
        });
    }

    fn before_sleep(&self) {
        // A thread about to sleep in aio_suspend needs the submitter in the ring, where each
        // completion wakes it (async-signal-safe).
        self.shared.current.with(|live| {
            if live.state.load(SeqCst) == ASLEEP_FUTEX {
                Shared::wake(live);
            }
        });
    }

    fn set_limits(&self, _max_threads: usize, idle: Duration) {
        self.shared.idle_ms.store(idle.as_millis().max(1) as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Spec;

    #[test]
    fn only_an_eagain_of_a_positional_transfer_is_redone_on_the_pool() {
        let eagain = -(libc::EAGAIN as i64);
        let req = |op, positional| Request::new(Spec { op, positional, ..Spec::default() });
        assert!(redo_elsewhere(&req(Op::Read, true), eagain));
        assert!(redo_elsewhere(&req(Op::Write, true), eagain));
        assert!(!redo_elsewhere(&req(Op::Read, true), 4096), "a transfer that happened stands");
        assert!(!redo_elsewhere(&req(Op::Read, true), -(libc::EIO as i64)), "a genuine error stands");
        assert!(!redo_elsewhere(&req(Op::Read, false), eagain), "a stream's EAGAIN is its own answer");
        assert!(!redo_elsewhere(&req(Op::Sync { data_only: true }, true), eagain));
        let cancelled = req(Op::Read, true);
        cancelled.request_cancel(true);
        assert!(!redo_elsewhere(&cancelled, eagain), "a cancelled request is not started again");
    }
}
