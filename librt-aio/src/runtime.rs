//! The request core: submission, dispatch, execution, completion, cancellation.
//!
//! Life of a request:
//! 1. `submit` validates (errno on failure, nothing queued), marks the aiocb in progress, and
//!    registers the request in the descriptor table, which holds it back if an ordering rule
//!    says so (O_APPEND chain, fsync barrier).
//! 2. A request that may start is *launched* on one executor, whoever claims it first
//!    (QUEUED → RUNNING, see `request.rs`) performing it:
//!    - inline: a page-cache-hit read completes in the submitting thread (`try_inline`);
//!    - kernel: O_DIRECT requests go to native AIO (`kaio.rs`), a whole lio list in one
//!      `io_submit`; what the kernel refuses or would block on comes back to the pool;
//!    - pool: everything else; a worker performs the blocking system call.
//! 3. `finish` (by the executor, or by the canceller with ECANCELED): publishes the result in
//!    the aiocb and wakes its sleepers; marks the request DONE; sends the notification; counts
//!    it done in its lio_listio list; removes it from the table and dispatches what that
//!    released. So the status is final before any notification, nothing touches the aiocb
//!    after it is published, and a request held back by this one (the next O_APPEND write, an
//!    fsync barrier) starts only after this one's status is final.
//!
//! The runtime is created on first use and leaked. In a child after fork() it is forgotten
//! (its threads do not exist there, its locks may be held) and a fresh one is made on demand.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use thread_pool::{Config, Pool, SubmitError};

use crate::abi::{AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, AIO_PRIO_DELTA_MAX};
use crate::aiocb::{self, AiocbRef, Status};
use crate::config::{self, Backend};
use crate::evq::EvQueues;
use crate::fdtable::FdTable;
use crate::kaio::{Faults, Kaio};
use crate::lio::ListCtl;
use crate::notify::{self, Notify, NotifyJob};
use crate::request::{CancelOutcome, Chain, Op, Request};
use crate::sys::{self, Errno, FileKind};
use crate::track::{self, Tracker};

pub struct Runtime {
    io: Pool<Arc<Request>>,
    notifier: Pool<NotifyJob>,
    fds: FdTable,
    /// SIGEV_EVENTFD completion queues.
    evq: EvQueues,
    /// `aio_waitcomplete` tracking, made when tracking is first needed.
    tracker: OnceLock<Tracker>,
    outstanding: AtomicUsize,
    max_requests: usize,
    pid: libc::pid_t,
    /// Complete page-cache hits in the submitting thread (RTAIO_INLINE=0 turns it off).
    inline: bool,
    backend: Backend,
    faults: Faults,
    /// The kernel backend, made on first use; `kaio_state` says whether making it failed.
    kaio: AtomicPtr<Kaio>,
    kaio_state: AtomicU8,
    idle_ms: AtomicUsize,
}

const KAIO_UNTRIED: u8 = 0;
const KAIO_READY: u8 = 1;
const KAIO_OFF: u8 = 2;

/// Largest transfer attempted inline: beyond it the copy itself is long enough to be worth
/// overlapping with the caller.
const INLINE_MAX: usize = 128 << 10;

static RUNTIME: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
/// Set once the fork handler is registered (a plain flag: a `Once` interrupted by fork() would
/// leave the child blocked forever).
static ATFORK: AtomicBool = AtomicBool::new(false);

extern "C" fn after_fork_child() {
    // Only atomics here: the child may be a single thread forked from a busy process.
    RUNTIME.store(std::ptr::null_mut(), SeqCst);
    aiocb::bump_fork_gen();
    crate::fileref::close_all_after_fork();
}

/// The runtime, created on first use.
pub fn get() -> &'static Runtime {
    let p = RUNTIME.load(Acquire);
    if !p.is_null() {
        // SAFETY: runtimes are leaked, never freed: any pointer once published stays valid.
        return unsafe { &*p };
    }
    init()
}

/// The runtime if one exists (calls that have nothing to do without requests use this).
pub fn existing() -> Option<&'static Runtime> {
    let p = RUNTIME.load(Acquire);
    // SAFETY: as in `get`.
    (!p.is_null()).then(|| unsafe { &*p })
}

#[cold]
fn init() -> &'static Runtime {
    if !ATFORK.swap(true, AcqRel) {
        sys::at_fork_child(after_fork_child);
    }
    aiocb::init_secret();
    // A program that links aio_waitcomplete is tracked from its first request on.
    if !track::enabled() && crate::elf::imported_anywhere(c"aio_waitcomplete") {
        track::enable();
    }
    let s = config::current();
    let rt = Box::new(Runtime {
        io: Pool::new(
            Config {
                name: "rtaio-io",
                max_threads: s.max_threads,
                idle_timeout: s.idle,
                stack_size: 128 << 10,
                lanes: AIO_PRIO_DELTA_MAX as usize + 1,
            },
            run_request,
        ),
        notifier: Pool::new(
            Config { name: "rtaio-notify", max_threads: 1024, idle_timeout: s.idle, stack_size: 512 << 10, lanes: 1 },
            notify::run_job,
        ),
        fds: FdTable::new(s.capacity_hint),
        evq: EvQueues::new(),
        tracker: OnceLock::new(),
        outstanding: AtomicUsize::new(0),
        max_requests: s.max_requests,
        pid: sys::getpid(),
        inline: s.inline,
        backend: s.backend,
        faults: s.faults,
        kaio: AtomicPtr::new(std::ptr::null_mut()),
        kaio_state: AtomicU8::new(if s.backend == Backend::Threads { KAIO_OFF } else { KAIO_UNTRIED }),
        idle_ms: AtomicUsize::new(s.idle.as_millis() as usize),
    });
    let new = Box::into_raw(rt);
    match RUNTIME.compare_exchange(std::ptr::null_mut(), new, AcqRel, Acquire) {
        // SAFETY: `new` was just leaked and is now published; never freed.
        Ok(_) => unsafe { &*new },
        Err(winner) => {
            // SAFETY: `new` was never published; `winner` is a leaked, published runtime.
            unsafe {
                drop(Box::from_raw(new));
                &*winner
            }
        }
    }
}

/// `aio_init`: record the settings and apply them to a running pool.
pub fn apply_aio_init(threads: i32, num: i32, idle_secs: i32) {
    config::record_aio_init(threads, num, idle_secs);
    if let Some(rt) = existing() {
        let s = config::current();
        rt.io.set_max_threads(s.max_threads);
        rt.io.set_idle_timeout(s.idle);
        rt.notifier.set_idle_timeout(s.idle);
        rt.idle_ms.store(s.idle.as_millis() as usize, Relaxed);
    }
}

pub fn queue_notification(job: NotifyJob) {
    let rt = get();
    match rt.notifier.submit(job, 0) {
        Ok(()) => {}
        // Not even one notification thread can be created: run it here rather than lose it.
        // Others may have queued behind the thread this submitter failed to start (they saw
        // its reserved slot): run theirs too if no thread is left to.
        Err(SubmitError::NoThread(job, _)) => {
            notify::run_job(job);
            if rt.notifier.threads() == 0 {
                rt.notifier.run_queued_here();
            }
        }
        Err(SubmitError::Stranded(_)) => rt.notifier.run_queued_here(),
    }
}

/// What to submit: read, write or sync, from `aio_read`/`aio_write`/`aio_fsync`/`lio_listio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Write,
    Sync {
        data_only: bool,
    },
    /// `aio_readv`/`aio_writev` (rtaio.h).
    ReadV,
    WriteV,
    /// A `lio_listio` entry whose `aio_lio_opcode` names no operation: accepted, and it fails
    /// with EINVAL through aio_error (as in glibc, whose worker finds no operation to run).
    Unknown,
}

/// Validates and queues one request. On error nothing is queued and the aiocb is untouched,
/// except for EAGAIN after it was marked in progress (then its status is EAGAIN).
///
/// With `batch`, a kernel-eligible request that may start now is appended to it instead of
/// being started: lio_listio sends a whole list to the kernel in one `io_submit` (`launch_batch`).
pub fn submit(
    cb: AiocbRef<'_>,
    kind: Kind,
    list: Option<&Arc<ListCtl>>,
    batch: Option<&mut Vec<Arc<Request>>>,
) -> Result<(), Errno> {
    if cb.status() == Status::InProgress {
        return Err(libc::EINVAL);
    }
    // aio_fsync ignores every member but aio_fildes and aio_sigevent (POSIX); it runs in the
    // most urgent lane.
    let is_sync = matches!(kind, Kind::Sync { .. });
    let reqprio = if is_sync { 0 } else { cb.reqprio() };
    if !(0..=AIO_PRIO_DELTA_MAX).contains(&reqprio) {
        return Err(libc::EINVAL);
    }
    let iov = match kind {
        Kind::ReadV | Kind::WriteV => Some(cb.iovecs()?),
        _ => None,
    };
    // A negative aio_offset or an aio_nbytes above SSIZE_MAX is not refused here: the system
    // call reports it through aio_error (EINVAL, EFAULT), as in glibc. Offsets are ignored
    // where the file has none (O_APPEND writes, pipes).
    let (offset, nbytes) = (cb.offset(), cb.nbytes());
    let rt = get();
    let notify = Notify::from_sigevent(&cb.sigevent(), rt.pid, &rt.evq)?;
    let fd = cb.fildes();
    // A descriptor that is not open, or not open for this direction, fails the request with
    // EBADF through aio_error, with its notification, as glibc does (the read or write itself
    // reports it); aio_fsync alone checks at the call that the descriptor is open, as glibc's
    // does (not that it is open for writing: fsync works on any descriptor, and a directory,
    // whose entries it makes durable, cannot be opened for writing).
    let flags = match (sys::fd_flags(fd), kind) {
        (Ok(f), _) => Some(f),
        (Err(e), Kind::Sync { .. }) => return Err(e),
        (Err(_), _) => None,
    };
    let mut fail = if flags.is_none() { Some(libc::EBADF) } else { None };
    let op = match kind {
        Kind::Read | Kind::ReadV => Op::Read,
        Kind::Write | Kind::WriteV => Op::Write { append: flags.is_some_and(|f| f & libc::O_APPEND != 0) },
        Kind::Sync { data_only } => Op::Sync { data_only },
        Kind::Unknown => {
            fail = Some(libc::EINVAL);
            Op::Read
        }
    };
    // POSIX: aio_fsync shall fail with EINVAL for a file without synchronized I/O (pipes,
    // sockets, terminals...): detect it now rather than through aio_error.
    let mut file_kind = None;
    if is_sync {
        let k = sys::file_kind(fd);
        if k == FileKind::Stream {
            return Err(libc::EINVAL);
        }
        file_kind = Some(k);
    }
    if rt.outstanding.fetch_add(1, Relaxed) >= rt.max_requests {
        rt.outstanding.fetch_sub(1, Relaxed);
        return Err(libc::EAGAIN);
    }
    // aio_waitcomplete tracking: the aiocb's previous request (its status not retrieved, since
    // it is being reused) leaves consideration, whatever the new one is; the new one gets a
    // slot unless an eventfd queue owns it.
    retire_previous_slot(cb);
    let mut slot = None;
    if track::enabled() && !matches!(notify, Notify::Eventfd(_)) {
        let t = rt.tracker();
        match t.alloc(cb.addr()) {
            Ok(s) => slot = Some(s),
            Err(e) => {
                rt.outstanding.fetch_sub(1, Relaxed);
                return Err(e);
            }
        }
    }
    let mut req = Request::new(cb.addr(), fd, op, cb.buf(), nbytes, offset, reqprio as usize, notify, list.cloned())
        .with_track(slot);
    if let Some(iov) = iov {
        req = req.with_iov(iov);
    }
    if let Some(l) = list {
        l.add();
    }
    let track_word = slot.map_or(0, |s| track::encode(s, aiocb::fork_gen()));
    // Accepted, and failed at once (status, then notification), as if performed.
    if let Some(e) = fail {
        cb.begin(track_word);
        rt.finish(&Arc::new(req), -1, e);
        return Ok(());
    }
    let flags = flags.unwrap_or(0);
    // A page-cache hit completes in this call, before the request is registered anywhere: the
    // aiocb is marked in progress only once the data is in place, so nobody can observe (or
    // cancel) a request that is already complete.
    if rt.inline && rt.backend != Backend::Kernel && inline_candidate(&req, flags) {
        match rt.try_inline(&req) {
            Inline::Done(n) => {
                cb.begin(track_word);
                rt.finish(&Arc::new(req), n as isize, 0);
                return Ok(());
            }
            Inline::Stream => file_kind = Some(FileKind::Stream),
            Inline::No => {}
        }
    }
    // Everything else runs after this call returns.
    let kind = file_kind.unwrap_or_else(|| sys::file_kind(fd));
    let chain = match (kind, op) {
        (FileKind::Stream, Op::Read) => Some(Chain::Reads),
        (FileKind::Stream, Op::Write { .. }) | (_, Op::Write { append: true }) => Some(Chain::Writes),
        _ => None,
    };
    let req = Arc::new(req.with_chain(chain).with_kernel(rt.kernel_eligible(op, flags, kind)));
    cb.begin(track_word);
    // Not regular files: the request runs on rtaio's own reference to the file (fileref.rs).
    if rt.fds.register(&req, kind == FileKind::Stream) {
        if let (true, Some(batch)) = (req.wants_kernel(), batch) {
            batch.push(req);
            return Ok(());
        }
        let mut refused = false;
        for stuck in rt.launch(vec![req.clone()]) {
            if stuck.try_cancel() == CancelOutcome::Canceled {
                if Arc::ptr_eq(&stuck, &req) {
                    rt.withdraw(&stuck);
                    refused = true;
                } else {
                    rt.finish(&stuck, -1, libc::EAGAIN);
                }
            }
        }
        if refused {
            return Err(libc::EAGAIN);
        }
    }
    Ok(())
}

/// Before an aiocb's tracking word is overwritten (a new submission, or a list entry failed at
/// submission): its previous, unretrieved request leaves `aio_waitcomplete`'s consideration.
pub fn retire_previous_slot(cb: AiocbRef<'_>) {
    let word = cb.previous_track_word();
    if word == 0 {
        return;
    }
    if let Some(t) = existing().and_then(|rt| rt.tracker_if_any()) {
        if let Some(prev) = track::decode(word, aiocb::fork_gen(), t) {
            let _ = t.retrieve(prev, cb.addr());
        }
    }
}

/// Starts the kernel-eligible requests lio_listio collected (one `io_submit`). Any that nothing
/// can run fail with EAGAIN as their status, like a refused list entry.
pub fn launch_batch(batch: Vec<Arc<Request>>) {
    if batch.is_empty() {
        return;
    }
    let rt = get();
    for stuck in rt.launch(batch) {
        if stuck.try_cancel() == CancelOutcome::Canceled {
            rt.finish(&stuck, -1, libc::EAGAIN);
        }
    }
}

impl Runtime {
    pub fn fds(&self) -> &FdTable {
        &self.fds
    }

    /// The `aio_waitcomplete` tracker, made on first use.
    pub fn tracker(&self) -> &Tracker {
        self.tracker.get_or_init(|| Tracker::new(self.max_requests))
    }

    /// The tracker if it exists (for `aio_return`: async-signal-safe).
    pub fn tracker_if_any(&self) -> Option<&Tracker> {
        self.tracker.get()
    }

    pub fn idle_time(&self) -> Duration {
        Duration::from_millis(self.idle_ms.load(Relaxed).max(1) as u64)
    }

    /// May this request run on the kernel backend? (See `config::Backend`.)
    fn kernel_eligible(&self, op: Op, flags: i32, kind: FileKind) -> bool {
        if self.kaio_state.load(Relaxed) == KAIO_OFF {
            return false;
        }
        // Auto: only O_DIRECT files and block devices, where the kernel's path is truly
        // asynchronous (an O_DIRECT pipe would block inside io_submit). Their fsyncs follow,
        // so the context exists anyway; other fsyncs stay on the pool, which does the same work
        // without holding a share of the system-wide fs.aio-max-nr.
        match (self.backend, op) {
            (Backend::Threads, _) | (_, Op::Write { append: true }) => false,
            (Backend::Auto, _) => flags & libc::O_DIRECT != 0 && kind == FileKind::File,
            (Backend::Kernel, _) => kind == FileKind::File,
        }
    }

    /// The kernel backend, made on first use; None if it cannot be had in this process.
    fn kernel(&self) -> Option<&'static Kaio> {
        match self.kaio_state.load(Acquire) {
            KAIO_READY => {
                // SAFETY: published with Release before KAIO_READY; leaked, never freed.
                let k = unsafe { &*self.kaio.load(Acquire) };
                return k.usable().then_some(k);
            }
            KAIO_OFF => return None,
            _ => {}
        }
        match Kaio::new(self.faults, self.backend == Backend::Auto) {
            Ok(k) => {
                let k = Box::into_raw(Box::new(k));
                match self.kaio.compare_exchange(std::ptr::null_mut(), k, AcqRel, Acquire) {
                    Ok(_) => {
                        self.kaio_state.store(KAIO_READY, Release);
                        // SAFETY: `k` is now published and leaked.
                        Some(unsafe { &*k })
                    }
                    Err(winner) => {
                        // Another thread's context won; ours was never shared.
                        // SAFETY: `k` came from Box::into_raw above; `winner` is published.
                        let mine = unsafe { Box::from_raw(k) };
                        let _ = kernel_aio::io_destroy(mine.ctx());
                        // SAFETY: `winner` was published by the CAS winner and is never freed.
                        let w = unsafe { &*winner };
                        w.usable().then_some(w)
                    }
                }
            }
            Err(_) => {
                let _ = self.kaio_state.compare_exchange(KAIO_UNTRIED, KAIO_OFF, AcqRel, Acquire);
                None
            }
        }
    }

    /// Hands a request the kernel gave back (it would have blocked) to the pool.
    pub(crate) fn run_elsewhere(&'static self, req: Arc<Request>) {
        self.dispatch_released(vec![req]);
    }

    /// Starts ready requests: the kernel-eligible ones through one `io_submit`, the rest (and
    /// any the kernel refuses) on the pool. Returns those nothing could run (no thread at all),
    /// still QUEUED, for the caller to fail.
    fn launch(&'static self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let (kernel, mut pool): (Vec<_>, Vec<_>) = reqs.into_iter().partition(|r| r.wants_kernel());
        if !kernel.is_empty() {
            match self.kernel() {
                Some(k) => pool.extend(k.submit(self, kernel)),
                None => pool.extend(kernel),
            }
        }
        let mut stuck: Vec<_> = pool.into_iter().filter_map(|r| self.dispatch(r).err()).collect();
        if !stuck.is_empty() && self.io.threads() == 0 {
            // No thread, and none can be started: whatever others queued meanwhile (counting on
            // a thread that then failed to start) would wait forever. Fail it too.
            stuck.extend(self.io.take_queued());
        }
        stuck
    }

    /// Hands a ready request to the pool. Err if no thread can run it.
    fn dispatch(&self, req: Arc<Request>) -> Result<(), Arc<Request>> {
        let lane = req.lane;
        match self.io.submit(req.clone(), lane) {
            Ok(()) => Ok(()),
            Err(SubmitError::NoThread(..)) | Err(SubmitError::Stranded(_)) => Err(req),
        }
    }

    /// A page-cache hit, read in the submitting thread: one `RWF_NOWAIT` read, no hand-off to
    /// another thread. A short result (part of the range not cached) is discarded and the
    /// request runs elsewhere, so the result is exactly what one pread gives.
    fn try_inline(&self, req: &Request) -> Inline {
        // RWF_NOWAIT covers the file's side only: a fault on the destination buffer would still
        // block this thread (a userfaultfd page may even be waiting for this very thread).
        if !sys::buffer_resident(req.buf, req.nbytes) {
            return Inline::No;
        }
        // SAFETY: the aiocb's buffer is reserved for this request until it completes (POSIX),
        // and nobody else knows the request yet.
        match unsafe { sys::nowait_read(req.fd, req.buf, req.nbytes, req.offset) } {
            Ok(n) if n == req.nbytes || n == 0 => {
                let claimed = req.claim();
                debug_assert!(claimed, "an unregistered request has no other owner");
                Inline::Done(n)
            }
            // Pipes, sockets, terminals: not positional, so not seekable.
            Err(libc::ESPIPE) => Inline::Stream,
            // EAGAIN (not cached), EOPNOTSUPP, a short count, or a genuine error: the ordinary
            // blocking call repeats it and reports genuine errors itself.
            _ => Inline::No,
        }
    }

    /// Undoes a submission whose request was claimed back before any thread saw it.
    fn withdraw(&'static self, req: &Arc<Request>) {
        self.outstanding.fetch_sub(1, Release);
        req.mark_finishing();
        drop(req.take_file());
        // SAFETY: the request was never published; the aiocb is the submitter's, valid.
        unsafe { AiocbRef::from_addr(req.aiocb) }.complete(-1, libc::EAGAIN);
        req.mark_done();
        if let Some(slot) = req.track {
            self.tracker().discard(slot); // the submission failed: nobody retrieves it
        }
        if let Some(l) = &req.list {
            l.withdraw();
        }
        let mut released = Vec::new();
        self.fds.complete(req, &mut released);
        self.dispatch_released(released);
    }

    /// Completes a request owned by the caller (see the phase protocol in `request.rs`).
    pub(crate) fn finish(&'static self, req: &Arc<Request>, value: isize, error: Errno) {
        let mut released = Vec::new();
        self.finish_one(req, value, error, &mut released);
        self.dispatch_released(released);
    }

    /// Dispatches requests an ordering rule released. One that cannot get a thread fails with
    /// EAGAIN, which may release more: a work list, not recursion, however long the chain.
    fn dispatch_released(&'static self, mut released: Vec<Arc<Request>>) {
        while !released.is_empty() {
            let stuck = self.launch(std::mem::take(&mut released));
            for r in stuck {
                if r.try_cancel() == CancelOutcome::Canceled {
                    self.finish_one(&r, -1, libc::EAGAIN, &mut released);
                }
            }
        }
    }

    /// The completion sequence: table, then status (and its sleepers), then notification, then
    /// the list. Requests this releases are appended to `released` for the caller to dispatch.
    fn finish_one(&'static self, req: &Arc<Request>, value: isize, error: Errno, released: &mut Vec<Arc<Request>>) {
        // No longer outstanding before the caller can see it complete and resubmit.
        self.outstanding.fetch_sub(1, Release);
        req.mark_finishing();
        // SIGEV_EVENTFD: queued before its status is final, so that a reaper woken by the
        // counter finds it (the reaper waits out FINISHING).
        if let Notify::Eventfd(t) = &req.notify {
            t.enqueue(req);
        }
        // rtaio's reference to the file goes before the status is final: an application that
        // sees the request done and closes its descriptor closes the file (a pipe's reader
        // then sees EOF at once).
        drop(req.take_file());
        // SAFETY: the request is still unpublished, so its aiocb is valid (POSIX); `complete`
        // touches it no more once the status is published.
        unsafe { AiocbRef::from_addr(req.aiocb) }.complete(value, error);
        req.mark_done();
        if let Some(slot) = req.track {
            self.tracker().completed(slot);
        }
        notify::deliver(&req.notify);
        if let Some(l) = &req.list {
            l.one_done(error != 0);
        }
        // Last, leave the table: until now aio_cancel finds the request (and sees it DONE).
        self.fds.complete(req, released);
    }

    /// Cancels `aiocb` (or, with `None`, everything) on `fd`: AIO_CANCELED, AIO_NOTCANCELED or
    /// AIO_ALLDONE.
    fn cancel(&'static self, fd: i32, aiocb: Option<usize>) -> i32 {
        let reqs = match aiocb {
            Some(a) => self.fds.find(fd, a).into_iter().collect(),
            None => self.fds.all_on(fd),
        };
        let (mut canceled, mut running) = (0, 0);
        for r in reqs {
            match r.try_cancel() {
                CancelOutcome::Canceled => {
                    self.finish(&r, -1, libc::ECANCELED);
                    canceled += 1;
                }
                CancelOutcome::Running => {
                    // In the kernel: ask it (file systems refuse; then it completes normally).
                    // The flag goes up first, so a completion racing with io_cancel sees it.
                    let k = if r.in_kernel() { self.kernel() } else { None };
                    r.request_cancel(true);
                    if k.is_some_and(|k| k.cancel(&r)) {
                        canceled += 1;
                    } else {
                        r.request_cancel(false);
                        running += 1;
                    }
                }
                CancelOutcome::AlreadyCanceled => {
                    // Another aio_cancel is completing it: it is cancelled, and its status is
                    // final within moments. Answer only once it is, like for our own.
                    r.wait_done();
                    canceled += 1;
                }
                CancelOutcome::Done => {}
            }
        }
        if running > 0 {
            AIO_NOTCANCELED
        } else if canceled > 0 {
            AIO_CANCELED
        } else {
            AIO_ALLDONE
        }
    }
}

/// `aio_cancel`.
pub fn cancel(fd: i32, cb: Option<AiocbRef<'_>>) -> Result<i32, Errno> {
    if !sys::fd_is_open(fd) {
        return Err(libc::EBADF);
    }
    if let Some(cb) = cb {
        if cb.fildes() != fd {
            return Err(libc::EINVAL);
        }
        if cb.status() != Status::InProgress {
            return Ok(AIO_ALLDONE);
        }
    }
    Ok(match existing() {
        Some(rt) => rt.cancel(fd, cb.map(|c| c.addr())),
        None => AIO_ALLDONE,
    })
}

/// The pool's task handler: run one request.
fn run_request(req: Arc<Request>) {
    if !req.claim() {
        return; // cancelled or withdrawn while queued
    }
    let (value, error) = match execute(&req) {
        Ok(n) => (n as isize, 0),
        Err(e) => (-1, e),
    };
    // The request belongs to the runtime that queued it; in this (parent) process that is the
    // current one, since only a child's runtime is ever replaced.
    get().finish(&req, value, error);
}

fn execute(req: &Request) -> Result<usize, Errno> {
    let fd = req.exec_fd();
    let (write, positional) = match req.op {
        Op::Read => (false, true),
        Op::Write { append } => (true, !append), // O_APPEND: at end of file, offset ignored
        Op::Sync { data_only } => return sys::sync(fd, data_only).map(|_| 0),
    };
    let transfer = |offset: Option<i64>| {
        // SAFETY: buf/nbytes (or the segments) come from the application's aiocb, which POSIX
        // keeps valid and reserved for this request until it completes; the kernel checks the
        // ranges (EFAULT).
        unsafe {
            match (&req.iov, write) {
                (Some(iov), false) => sys::readv_at(fd, iov, offset),
                (Some(iov), true) => sys::writev_at(fd, iov, offset),
                (None, false) => sys::read_at(fd, req.buf, req.nbytes, offset),
                (None, true) => sys::write_at(fd, req.buf, req.nbytes, offset),
            }
        }
    };
    match transfer(positional.then_some(req.offset)) {
        // Pipes, sockets, FIFOs and terminals cannot seek: for them the offset is ignored.
        Err(libc::ESPIPE) if positional => transfer(None),
        r => r,
    }
}

/// What an inline attempt found.
enum Inline {
    /// Complete: this many bytes.
    Done(usize),
    /// The descriptor cannot seek (ESPIPE).
    Stream,
    /// Not now: the request runs elsewhere.
    No,
}

/// Only reads the descriptor's flags allow, never O_DIRECT (which would wait for the device),
/// and never writes (a short NOWAIT write would already have changed the file).
/// (A negative offset is left to the blocking call: preadv2 reads at the file position for -1.)
fn inline_candidate(req: &Request, flags: i32) -> bool {
    req.op == Op::Read
        && req.iov.is_none()
        && flags & libc::O_DIRECT == 0
        && req.nbytes <= INLINE_MAX
        && req.offset >= 0
}

/// Process-wide count of outstanding requests (for lio_listio's all-or-nothing EAGAIN).
pub fn would_exceed(n: usize) -> bool {
    let rt = get();
    rt.outstanding.load(Relaxed).saturating_add(n) > rt.max_requests
}

/// A `lio_listio` list sigevent, validated.
pub fn list_notify(ev: &crate::abi::Sigevent) -> Result<Notify, Errno> {
    let rt = get();
    Notify::from_sigevent(ev, rt.pid, &rt.evq)
}

/// `aio_reap`: up to `max` completed SIGEV_EVENTFD requests of `efd`: their aiocb addresses.
pub fn reap(efd: i32, max: usize) -> Result<Vec<usize>, Errno> {
    let reqs = match existing() {
        Some(rt) => rt.evq.reap(efd, max)?,
        None => crate::evq::reap_without_runtime(efd)?,
    };
    Ok(reqs.iter().map(|r| r.aiocb).collect())
}

/// `aio_waitcomplete`: the next completed tracked request, retrieved: (aiocb, value, error).
pub fn waitcomplete(timeout: Option<Duration>) -> Result<(usize, isize, Errno), Errno> {
    track::enable();
    let t = get().tracker();
    loop {
        let (slot, addr) = t.wait(timeout)?;
        // SAFETY: the slot was claimed, so nobody has retrieved this aiocb's status: the
        // application keeps it valid until then (rtaio.h's contract for tracked requests).
        let r = unsafe { AiocbRef::from_addr(addr) }.take_claimed();
        t.finish_claim(slot);
        match r {
            Ok((value, error)) => return Ok((addr, value, error)),
            Err(_) => continue, // resubmitted meanwhile (an application race): not a completion
        }
    }
}

pub fn pid() -> libc::pid_t {
    get().pid
}
