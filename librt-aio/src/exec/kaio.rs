//! The native AIO executor: O_DIRECT reads and writes on files and block devices, and their
//! fsyncs, through Linux native AIO (`kernel_aio::aio`), a whole batch (a `lio_listio` list) in
//! one `io_submit`.
//!
//! One context per process, made on first use (256 events: enough for deep queues, small
//! against the system-wide `fs.aio-max-nr` that databases and other programs share; not a
//! descriptor). While requests flow there is also an eventfd that every completion bumps; it
//! belongs to the reaper thread's run, which closes it when it exits (an idle process keeps no
//! descriptor).
//!
//! # Who reaps
//!
//! Completions go to whoever is there, as on io_uring (`uring.rs`), but here the kernel itself
//! can wake the waiting application thread: native AIO completes O_DIRECT requests from the
//! device's interrupt, straight into the context's ring, with no thread of rtaio in between.
//! - A thread in `aio_suspend` (no timeout) whose entries all wait for this ring
//!   ([`crate::aiocb::ST_IN_KERNEL`]) waits in the kernel itself ([`Executor::kernel_wait`]):
//!   it reads the eventfd (a cancellation point that consumes no event), then reaps without
//!   blocking and publishes statuses (async-signal-safe: what needs more is deferred). One
//!   thread at a time (the kernel-wait token); the others sleep on their status words.
//! - `aio_error` and `aio_suspend` reap what the ring holds (a look at its header first: no
//!   system call when it is empty); a submitting thread finishes what they deferred.
//! - The reaper thread (all signals blocked) waits in `io_getevents` only while someone needs
//!   completions finished without asking: requests with notifications or lists in flight,
//!   threads asleep on status words, requests held back behind others, deferred completions.
//!   Otherwise it sleeps on a futex, looking every LAZY_TICK; it exits after the idle time
//!   with nothing in flight.
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kernel_aio::aio::Context;
use kernel_aio::{Cmd, Event, Op as KOp, Refused};
use parking_lot::Mutex;

use crate::aiocb::KernelQueue;
use crate::config::{Backend, Faults, Settings};
use crate::exec::executor::{redo_on, Done, Executor, Finish, Publish};
use crate::fileref;
use crate::request::{self, Data, Op, Request};
use crate::stats;
use crate::sys::{self, arcs::ArcStack, Errno, FileKind};
use crate::wait;

const NR_EVENTS: u32 = 256;

const REAPER_NONE: u8 = 0;
const REAPER_STARTING: u8 = 1;
const REAPER_RUNNING: u8 = 2;

/// The reaper thread's state, for the threads that may have to wake it; also its futex.
const AWAKE: u32 = 0;
const ASLEEP: u32 = 1;

/// While requests are in flight and nobody needs the reaper, it still looks every so often.
const LAZY_TICK: Duration = Duration::from_millis(10);

pub struct Kaio {
    shared: Arc<Shared>,
}

struct Shared {
    /// The context, made on first use; None if it cannot be had in this process.
    ctx: OnceLock<Option<Context<Request>>>,
    /// The eventfd every completion bumps (-1: none; then nobody waits in the kernel but the
    /// reaper thread). Made by whoever starts a reaper; closed by the reaper as it exits, with
    /// nothing in flight and holding `kernel_waiter` (so nobody is blocked reading it).
    efd: AtomicI32,
    /// Requests submitted and not yet reaped.
    inflight: AtomicUsize,
    /// Of those, the ones that need finishing beyond their status (`uring.rs` has the same).
    needy: AtomicUsize,
    /// 1 while a thread waits for completions in the kernel (the reaper in `io_getevents`, or
    /// an application thread on the eventfd): one at a time, so one completion wakes one
    /// thread. A usize: a cancelled waiter's cleanup gives it back by decrementing it.
    kernel_waiter: AtomicUsize,
    /// AWAKE or ASLEEP (on this futex).
    reaper_state: AtomicU32,
    /// Completions reaped by a signal-safe reaper, waiting to be finished (their results in
    /// `Request::deferred_result`).
    deferred: ArcStack<Request>,
    /// REAPER_NONE, REAPER_STARTING or REAPER_RUNNING: no request enters the kernel unless a
    /// reaper is known to be running.
    reaper: AtomicU8,
    /// RWF_NOWAIT is accepted for reads and writes (cleared if the kernel rejects the flag).
    nowait: AtomicBool,
    /// The kernel said it will never do this (ENOSYS, EPERM).
    broken: AtomicBool,
    /// Descriptors whose file system refused async I/O, while requests are in flight.
    refused_fds: Mutex<Vec<i32>>,
    /// `refused_fds` is not empty: only then do submissions take its lock (none on the way in
    /// otherwise). A stale false lets a request through that the kernel refuses again.
    any_refused: AtomicBool,
    faults: Faults,
    idle_ms: AtomicU64,
    finish: Finish,
    publish: Publish,
    /// Where requests the kernel gives back go.
    fallback: Arc<dyn Executor>,
}

impl Kaio {
    pub fn new(s: &Settings, finish: Finish, publish: Publish, fallback: Arc<dyn Executor>) -> Kaio {
        Kaio {
            shared: Arc::new(Shared {
                ctx: OnceLock::new(),
                efd: AtomicI32::new(-1),
                inflight: AtomicUsize::new(0),
                needy: AtomicUsize::new(0),
                kernel_waiter: AtomicUsize::new(0),
                reaper_state: AtomicU32::new(AWAKE),
                deferred: ArcStack::default(),
                reaper: AtomicU8::new(REAPER_NONE),
                // The forced kernel backend shows the kernel's own behaviour, blocking inside
                // io_submit where it does.
                nowait: AtomicBool::new(s.backend != Backend::Kernel),
                broken: AtomicBool::new(s.backend == Backend::Threads),
                refused_fds: Mutex::new(Vec::new()),
                any_refused: AtomicBool::new(false),
                faults: s.faults,
                idle_ms: AtomicU64::new(s.idle.as_millis().max(1) as u64),
                finish,
                publish,
                fallback,
            }),
        }
    }

    /// Are reads and writes submitted with RWF_NOWAIT (never waiting inside `io_submit`)?
    pub fn submits_nowait(&self) -> bool {
        self.shared.nowait.load(Relaxed)
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

/// Does the kernel refuse this request for its own range, whatever the file (`rw_verify_area`:
/// a length above SSIZE_MAX, or an end past the largest offset; a vector too long or too big)?
fn range_refused(r: &Request) -> bool {
    let len = match &r.data {
        Data::Buf(b) => Some(b.len()).filter(|&n| n <= isize::MAX as usize),
        Data::Vec(v) if v.len() > libc::UIO_MAXIOV as usize => None,
        Data::Vec(v) => kernel_aio::IoBuf::total(v),
        Data::None => Some(0),
    };
    len.is_none_or(|n| r.offset.checked_add(n as i64).is_none())
}

/// Does finishing this request take more than publishing its status?
fn needs_finishing(r: &Request) -> bool {
    !r.may_publish_early()
}

/// Marks whether the request's completion is still to come from the ring (`ST_IN_KERNEL`).
fn mark_in_kernel(r: &Request, on: bool) {
    r.set_in_kernel(KernelQueue::Aio, on);
}

/// `deferred_result` of a completion the kernel refused to do without blocking: the fallback
/// runs it.
const REDO: i64 = i64::MIN;

/// Is the completion to be done again by the fallback, with the ordinary blocking call?
/// Async-signal-safe (at most one `fstat` and one `lseek`).
fn would_block(req: &Request, ev_nowait: bool, res: i64) -> bool {
    if req.cancel_requested() {
        return false;
    }
    // EAGAIN: the kernel would have blocked (RWF_NOWAIT); EOPNOTSUPP: it cannot do this
    // without blocking at all (e.g. buffered writes on ext4).
    if ev_nowait && (res == -(libc::EAGAIN as i64) || res == -(libc::EOPNOTSUPP as i64)) {
        return true;
    }
    // A read on assumed flags (`Spec::flags_assumed`) whose number names another file by now
    // reports what RWF_NOWAIT found there, not what `pread` would: a short count from a
    // buffered file partly in the page cache, ESPIPE from a socket (which the pool reads at
    // its position, as glibc does). Whatever is not the whole length is done again (on a
    // regular file the same read: the same bytes), except data anything else gave (a stream, a
    // character device): it may be consumed, and is what a read returns.
    let whole = matches!(req.data, Data::Buf(b) if res == b.len() as i64);
    req.flags_assumed && !whole && !(res > 0 && sys::file_kind(req.fd) != FileKind::File)
}

fn result_of(req: &Request, res: i64) -> Result<usize, Errno> {
    if res < 0 {
        Err(if req.cancel_requested() { libc::ECANCELED } else { (-res) as i32 })
    } else {
        Ok(res as usize) // a transfer that happened is reported, cancel or not
    }
}

impl Executor for Kaio {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let sh = &self.shared;
        let Some(ctx) = sh.context() else { return reqs };
        // Finish what signal-safe reapers left, here where that is allowed.
        sh.drain_deferred();
        let mut refused = Vec::new();
        let mut mine = reqs;
        // Read once: the requests on assumed flags are let in on this value and submitted with it.
        let mut nowait = sh.nowait.load(Relaxed);
        {
            let refused_fds = sh.any_refused.load(Acquire).then(|| sh.refused_fds.lock());
            let refused_fd = |fd: i32| refused_fds.as_ref().is_some_and(|f| f.contains(&fd));
            mine.retain(|r| {
                // Claimed before the kernel sees the buffer: from here on only io_cancel can stop it.
                if !r.claim() {
                    return false; // cancelled since it was registered: the canceller finished it
                }
                // Flags assumed, not asked (`Spec::flags_assumed`): only with RWF_NOWAIT, which
                // the kernel may have refused since the request was routed here.
                if refused_fd(r.fd) || r.flags_assumed && !nowait {
                    r.unclaim();
                    refused.push(r.clone());
                    return false;
                }
                true
            });
        }
        if mine.is_empty() {
            return refused;
        }
        let needy = mine.iter().filter(|r| needs_finishing(r)).count();
        sh.inflight.fetch_add(mine.len(), SeqCst);
        sh.needy.fetch_add(needy, SeqCst);
        if !self.ensure_reaper() {
            for r in &mine {
                sh.uncount(r);
                r.unclaim();
            }
            refused.extend(mine);
            return refused;
        }
        // Completions bump the reaper's eventfd, if it has one (it stays while these are in
        // flight): only then may a thread wait for them in the kernel.
        let efd = sh.efd.load(SeqCst);
        for r in &mine {
            mark_in_kernel(r, efd >= 0);
        }
        loop {
            let back = match sh.faults.io_submit {
                Some(e) => mine.iter().map(|r| Refused { owner: r.clone(), errno: e }).collect(),
                // On rtaio's own reference to the file when the request has one (fileref.rs).
                None => ctx.submit(mine.iter().map(|r| (r, kernel_op(r, r.exec_fd(), nowait))), efd),
            };
            let mut retry = Vec::new();
            for b in back {
                // A kernel (or a file system's O_DIRECT files) without RWF_NOWAIT for AIO:
                // resubmit without it, from now on. Not for a request on assumed flags: its
                // number may name another file by now (a terminal, a FUSE file), which says
                // nothing about the O_DIRECT files; the pool runs that one.
                if b.errno == libc::EOPNOTSUPP && nowait && !b.owner.flags_assumed {
                    sh.nowait.store(false, Relaxed);
                    retry.push(b.owner);
                    continue;
                }
                sh.uncount(&b.owner);
                mark_in_kernel(&b.owner, false);
                stats::fallback(stats::Fallback::KaioSubmit, b.errno, 1);
                match b.errno {
                    libc::ENOSYS | libc::EPERM => sh.broken.store(true, Relaxed),
                    // No async I/O on this file system: remember it for the descriptor. (Not
                    // when the request's own range is what the kernel refused: the pool's call
                    // reports that EINVAL, and the descriptor's other requests stay here.)
                    libc::EINVAL => {
                        b.owner.to_pool();
                        if !range_refused(&b.owner) {
                            let mut f = sh.refused_fds.lock();
                            if !f.contains(&b.owner.fd) {
                                f.push(b.owner.fd);
                            }
                            sh.any_refused.store(true, Release);
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
        // A request with a notification needs the reaper in the kernel.
        if needy > 0 {
            sh.wake_reaper();
        }
        refused
    }

    fn cancel(&self, req: &Request) -> bool {
        let Some(Some(ctx)) = self.shared.ctx.get() else { return false };
        // The flag goes up only once the kernel stopped it: a completion reaped meanwhile by
        // another thread is the request's own result (ECANCELED for it, or no redo of an
        // RWF_NOWAIT EAGAIN, would lose a write that aio_cancel said it did not cancel).
        let stopped = ctx.cancel(req);
        if stopped {
            req.request_cancel(true);
        }
        stopped
    }

    fn set_limits(&self, _max_threads: usize, idle: Duration) {
        self.shared.idle_ms.store(idle.as_millis().max(1) as u64, Relaxed);
    }

    fn poll(&self, signal_safe: bool) {
        let sh = &self.shared;
        if sh.inflight.load(Relaxed) == 0 {
            return;
        }
        let Some(Some(ctx)) = sh.ctx.get() else { return };
        if signal_safe {
            sh.reap_signal_safe(ctx, false);
        } else {
            sh.reap_now(ctx);
            sh.drain_deferred();
        }
    }

    fn before_sleep(&self) {
        // A thread about to sleep on its status words needs the reaper in the kernel, where
        // each completion wakes it (async-signal-safe).
        if self.shared.inflight.load(SeqCst) > 0 {
            self.shared.wake_reaper();
        }
    }

    fn kernel_wait(&self, _queue: KernelQueue, still: &dyn Fn() -> bool) -> Option<Result<(), Errno>> {
        let sh = &self.shared;
        let Some(Some(ctx)) = sh.ctx.get() else { return None };
        // (A ring whose header cannot be read could not tell "nothing to reap": no waiting here.)
        if !ctx.ring_readable() || sh.kernel_waiter.compare_exchange(0, 1, SeqCst, SeqCst).is_err() {
            return None; // another thread waits in the kernel: sleep on the status words
        }
        // Holding `kernel_waiter`: the eventfd cannot be closed under us.
        let efd = sh.efd.load(SeqCst);
        if efd < 0 {
            sh.kernel_waiter.store(0, SeqCst);
            return None;
        }
        // Every completion after this check bumps the eventfd, which only the holder of
        // `kernel_waiter` reads: none is missed. One before it is in the ring (not blocked
        // on), or was reaped by someone who unmarked it (`still` says so) or unmarks it now
        // and then bumps the eventfd (`kick_kernel_waiter`).
        let r = if !still() || ctx.maybe_pending() {
            Ok(())
        } else {
            // A cancel here ends the thread: the cleanup gives `kernel_waiter` back.
            sys::eventfd_wait_cancellable(efd, Some(&sh.kernel_waiter))
        };
        sh.reap_signal_safe(ctx, true);
        sh.kernel_waiter.store(0, SeqCst);
        // Threads asleep on status words (or notifications) count on the reaper now.
        if sh.needed() {
            sh.wake_reaper();
        }
        Some(r)
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
                    // The run's eventfd (without one, only the reaper waits in the kernel). The
                    // previous run closed its own before it let go of the reaper state.
                    if sh.efd.load(SeqCst) < 0 {
                        if let Ok(efd) = sys::eventfd_new() {
                            fileref::track_owned(efd, true); // a child after fork() closes it
                            sh.efd.store(efd, SeqCst);
                        }
                    }
                    let me = sh.clone();
                    let _mask = sys::SignalMask::full();
                    let spawned = std::thread::Builder::new()
                        .name("rtaio-kaio".into())
                        .stack_size(128 << 10)
                        .spawn(move || me.reaper())
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
    fn uncount(&self, r: &Request) {
        self.inflight.fetch_sub(1, SeqCst);
        if needs_finishing(r) {
            self.needy.fetch_sub(1, SeqCst);
        }
    }

    /// Does someone need completions finished without asking for them?
    fn needed(&self) -> bool {
        self.needy.load(SeqCst) > 0 || wait::sleeping() > 0 || request::held_back() > 0
    }

    /// Wakes the reaper thread if it sleeps on its futex (async-signal-safe).
    fn wake_reaper(&self) {
        if self.reaper_state.compare_exchange(ASLEEP, AWAKE, SeqCst, SeqCst).is_ok() {
            sys::futex_wake(&self.reaper_state, 1);
        }
    }

    /// After reaping without the kernel-wait token: a thread waiting in the kernel may have
    /// checked its requests before this reaper unmarked them, and sleep on although one of
    /// them is no longer to come from the ring: wake it, to look again (async-signal-safe).
    /// (A waiter that takes the token after this looks sees the unmarking.)
    fn kick_kernel_waiter(&self) {
        if self.kernel_waiter.load(SeqCst) != 0 {
            let efd = self.efd.load(Acquire);
            if efd >= 0 {
                sys::eventfd_add(efd, 1);
            }
        }
    }

    /// Reaps what the ring holds and finishes each completion. Not in a signal handler.
    fn reap_now(&self, ctx: &Context<Request>) -> usize {
        if !ctx.maybe_pending() {
            return 0;
        }
        // Counted in flight until the kick: the eventfd stays open meanwhile.
        self.inflight.fetch_add(1, SeqCst);
        let mut done = Vec::new();
        let n = ctx
            .try_reap(|ev| {
                mark_in_kernel(&ev.owner, false);
                self.completed_event(ev, &mut done);
            })
            .unwrap_or(0);
        self.finish.all(&mut done);
        if n > 0 {
            self.kick_kernel_waiter();
        }
        self.inflight.fetch_sub(1, SeqCst);
        n
    }

    /// Reaps what the ring holds, publishing statuses only; the completions go on the deferred
    /// list, to be finished where that is allowed (the reaper is woken for what needs more).
    /// `waiter`: the caller holds the kernel-wait token. Async-signal-safe.
    fn reap_signal_safe(&self, ctx: &Context<Request>, waiter: bool) -> usize {
        if !ctx.maybe_pending() {
            return 0;
        }
        let mut wake = false;
        let n = ctx
            .try_reap(|ev| {
                let req = ev.owner;
                mark_in_kernel(&req, false);
                let res = if would_block(&req, ev.nowait, ev.res) {
                    wake = true;
                    REDO
                } else {
                    if !(self.publish)(&req, result_of(&req, ev.res)) || request::held_back() > 0 {
                        wake = true; // someone must finish it, or release what waits on it
                    }
                    ev.res
                };
                req.deferred_result.store(res, Relaxed);
                self.deferred.push(req);
            })
            .unwrap_or(0);
        if wake {
            self.wake_reaper();
        }
        if n > 0 && !waiter {
            self.kick_kernel_waiter();
        }
        n
    }

    /// Finishes what signal-safe reapers left (oldest first). Not in a signal handler.
    fn drain_deferred(&self) -> usize {
        if self.deferred.is_empty() {
            return 0;
        }
        let list = self.deferred.take_all();
        let n = list.len();
        let mut done = Vec::new();
        for req in list {
            let res = req.deferred_result.load(Relaxed);
            self.completed(req, res, &mut done);
        }
        self.finish.all(&mut done);
        n
    }

    /// A reaped event (already unmarked), as `completed`.
    fn completed_event(&self, ev: Event<Request>, done: &mut Vec<Done>) {
        let redo = would_block(&ev.owner, ev.nowait, ev.res);
        self.completed(ev.owner, if redo { REDO } else { ev.res }, done);
    }

    /// One completion: added to `done` (for `Finish::all`), or, `res` REDO, handed to the
    /// fallback.
    fn completed(&self, req: Arc<Request>, res: i64, done: &mut Vec<Done>) {
        self.uncount(&req);
        if res == REDO {
            stats::fallback(stats::Fallback::KaioWouldBlock, libc::EAGAIN, 1);
            redo_on(&*self.fallback, req, &self.finish);
            return;
        }
        let result = result_of(&req, res);
        done.push((req, result));
    }

    /// The reaper thread: finishes completions while someone needs that, reaps lazily
    /// otherwise, and exits when idle with nothing in flight.
    fn reaper(self: Arc<Self>) {
        let Some(Some(ctx)) = self.ctx.get() else { return };
        let mut quiet_since = Instant::now();
        loop {
            let mut worked = self.drain_deferred() > 0;
            if self.needed() && self.kernel_waiter.compare_exchange(0, 1, SeqCst, SeqCst).is_ok() {
                let got = ctx.getevents(1, 64, Some(LAZY_TICK));
                // Unmarked before the token goes: the next thread to wait in the kernel must
                // not count on the eventfd for completions already taken here.
                if let Ok(events) = &got {
                    for ev in events {
                        mark_in_kernel(&ev.owner, false);
                    }
                }
                self.kernel_waiter.store(0, SeqCst);
                match got {
                    Ok(events) => {
                        worked |= !events.is_empty();
                        let mut done = Vec::with_capacity(events.len());
                        events.into_iter().for_each(|ev| self.completed_event(ev, &mut done));
                        self.finish.all(&mut done);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                    Err(_) => std::thread::sleep(LAZY_TICK),
                }
            } else {
                worked |= self.reap_now(ctx) > 0;
            }
            let now = Instant::now();
            if worked {
                quiet_since = now;
                continue;
            }
            let idle = Duration::from_millis(self.idle_ms.load(Relaxed));
            // Idle: leave if nothing is in flight (and close the run's eventfd).
            if self.inflight.load(SeqCst) == 0
                && now.duration_since(quiet_since) >= idle
                && self.kernel_waiter.compare_exchange(0, 1, SeqCst, SeqCst).is_ok()
            {
                // Holding `kernel_waiter`, nobody reads the eventfd. A submitter counts its
                // requests before it looks at `reaper`, and reads the eventfd after: if it saw
                // RUNNING before we left, we see its count below and stay (it may have found
                // no eventfd: its requests are then waited for on their status words), unless
                // it already started another reaper, with an eventfd of its own.
                {
                    let mut f = self.refused_fds.lock();
                    f.clear();
                    self.any_refused.store(false, Release);
                }
                let efd = self.efd.swap(-1, SeqCst);
                let gone = self.reaper.compare_exchange(REAPER_RUNNING, REAPER_NONE, SeqCst, SeqCst).is_ok()
                    && (self.inflight.load(SeqCst) == 0
                        || self.reaper.compare_exchange(REAPER_NONE, REAPER_RUNNING, SeqCst, SeqCst).is_err());
                if gone {
                    if efd >= 0 {
                        fileref::track_owned(efd, false);
                        sys::close(efd);
                    }
                    self.kernel_waiter.store(0, SeqCst);
                    return;
                }
                self.efd.store(efd, SeqCst);
                self.kernel_waiter.store(0, SeqCst);
            }
            // Sleep until woken (a thread about to sleep on its status words, a notification
            // submitted, a deferred completion that needs more, a kernel waiter leaving while
            // someone needs completions), or the tick.
            self.reaper_state.store(ASLEEP, SeqCst);
            let ready = !self.deferred.is_empty()
                || ctx.maybe_pending()
                || (self.needed() && self.kernel_waiter.load(SeqCst) == 0);
            if !ready {
                let tick = if self.inflight.load(SeqCst) > 0 { LAZY_TICK } else { idle };
                let deadline = sys::deadline_after(tick);
                let _ = sys::futex_wait_until(&self.reaper_state, ASLEEP, Some(&deadline));
            }
            self.reaper_state.store(AWAKE, SeqCst);
        }
    }
}
