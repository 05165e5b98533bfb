//! Executors: the ways a request can run, one file each, behind one interface.
//!
//! - `inline.rs`: a page-cache hit read in the submitting thread, before the request is
//!   registered anywhere (one `preadv2(RWF_NOWAIT)`);
//! - `uring.rs`: io_uring, for every kind of request, where the kernel allows it;
//! - `kaio.rs`: Linux native AIO, for O_DIRECT files and block devices, without io_uring;
//! - `pool.rs`: the blocking system call on a worker thread: everything else, and whatever
//!   another executor gives back.
//!
//! Every executor implements [`Executor`] (`executor.rs`). The core sees one: [`Executors`],
//! which routes each request among them. An executor reports a finished request through
//! [`Finish`], the core's completion sequence, and never reaches into the core otherwise.
//! Adding an executor means adding a file here and a line to the route in [`Executors`]; the
//! core does not change.

mod executor;
mod inline;
mod kaio;
mod pool;
mod uring;

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

pub use executor::{given_back, Done, Executor, Finish, Now, Publish, Work};

use crate::aiocb::KernelQueue;
use crate::config::{Backend, Settings};
use crate::fdhint;
use crate::notify::Notify;
use crate::request::{Data, Op, Request, Route, Spec};
use crate::stats::{self, Fallback};
use crate::sys::{self, Errno, FileKind};

/// Of a deep queue, the share of page-cache reads handed to the ring (SHARE_NUM/SHARE_DEN).
const SHARE_NUM: usize = 1;
const SHARE_DEN: usize = 2;
/// Shorter page-cache reads are not shared: handing one over costs more than its copy.
const SHARE_MIN_BYTES: usize = 16 << 10;

/// Page-cache reads not to try inline after recent misses, and the misses in a row (the
/// back-off's exponent, at most MAX_BACKOFF).
static INLINE_SKIP: AtomicU32 = AtomicU32::new(0);
static INLINE_MISSES: AtomicU32 = AtomicU32::new(0);
const MAX_BACKOFF: u32 = 6;

/// The process's executors, and the route a request takes among them.
pub struct Executors {
    backend: Backend,
    inline: bool,
    uring: uring::Uring,
    kaio: kaio::Kaio,
    pool: Arc<pool::PoolExec>,
}

impl Executors {
    pub fn new(s: &Settings, finish: Finish, publish: Publish) -> Executors {
        let pool = Arc::new(pool::PoolExec::new(s, finish));
        let uring_wanted = matches!(s.backend, Backend::Auto | Backend::Uring);
        Executors {
            backend: s.backend,
            inline: s.inline,
            uring: uring::Uring::new(s, uring_wanted, finish, publish.clone(), pool.clone()),
            kaio: kaio::Kaio::new(s, finish, publish, pool.clone()),
            pool,
        }
    }
}

impl Executor for Executors {
    fn plan(&self, spec: &mut Spec, flags: i32, kind: FileKind) {
        // (A read or write at a negative offset never gets here: it fails at submission with
        // pread's EINVAL, `submit.rs`. An fsync ignores its offset.)
        // A vectored write to a stream could be taken in part, and is continued only for a
        // plain buffer: the pool writes it whole.
        let vectored_stream_write = !spec.positional && spec.op == Op::Write && matches!(spec.data, Data::Vec(_));
        // io_uring's length is 32 bits: a longer transfer goes where the system call reports
        // what it does with it (EFAULT, EINVAL, a short count), as in glibc.
        let too_long = matches!(spec.data, Data::Buf(b) if b.len() > u32::MAX as usize);
        // A transfer of no bytes: the kernel's vectored and ring paths answer 0 before the file
        // is asked, where pread/pwrite ask it (a directory: EISDIR, an eventfd: EINVAL,
        // /dev/full: ENOSPC), as glibc's: the pool makes those calls (C zero_length).
        let empty = matches!(spec.data, Data::Buf(b) if b.is_empty());
        // O_NONBLOCK: io_uring may honour it on a regular file (EAGAIN rather than wait for
        // the disk), where read() and write() do not, nor glibc's AIO; and it waits, by
        // polling, on a pipe, FIFO or socket, where read() and write() answer EAGAIN at once,
        // and so does glibc's AIO (C rel_nonblock_stream). The pool makes those calls.
        let nonblocking = flags & libc::O_NONBLOCK != 0;
        // A character device that seeks: its driver's poll need not ever say ready, where
        // io_uring would wait (a write to /dev/kmsg never completed: C char_devices).
        let device = kind == FileKind::Device;
        let uring = !vectored_stream_write && !too_long && !empty && !nonblocking && !device;
        // A buffered write to a regular file copies into the page cache: the pool need not
        // give it a thread of its own (O_SYNC and O_DSYNC ones wait for the device). Nor does
        // a page-cache read `try_now` shared (already quick).
        spec.quick = kind == FileKind::File
            && (spec.quick || spec.op == Op::Write && flags & (libc::O_DIRECT | libc::O_SYNC | libc::O_DSYNC) == 0);
        // io_uring sends every buffered write to a kernel worker (ext4 cannot take one without
        // blocking: RWF_NOWAIT is refused), a wake-up per write; the pool's short-task lane
        // copies them in turn on a running worker: 2.6x the throughput measured (make bench,
        // cached writes QD32), and with one CPU, where its worker yields to the caller and
        // wakes the waiters once per run (thread-pool, wait.rs), 390k/s against 230k/s on the
        // ring (glibc 223k/s). RTAIO_BACKEND=uring keeps them on the ring.
        let uring = uring && !(spec.quick && self.backend == Backend::Auto);
        // An fsync of a regular file waits for the device on a kernel worker either way; on
        // the ring its completion then passes through the submitter thread before it reaches
        // the waiter, on the pool the worker publishes it: make bench, write+fdatasync x4,
        // 0.93x glibc on the ring vs 1.21x on the pool (and 3 of 3 alternated runs after).
        // RTAIO_BACKEND=uring keeps them on the ring.
        let file_sync = matches!(spec.op, Op::Sync { .. }) && kind == FileKind::File;
        let uring = uring && !(file_sync && self.backend == Backend::Auto);
        // One read or write of a regular file at its offset, whose completion needs nothing
        // but its status: a thread waiting for it may run it while the pool has it queued
        // (core/help.rs).
        let helpable = kind == FileKind::File
            && spec.positional
            && matches!(spec.data, Data::Buf(_))
            && matches!(spec.notify, Notify::None)
            && spec.list.is_none()
            && spec.track.is_none()
            && spec.chain.is_none();
        // A lone request (nothing else of the application's in flight) goes to the pool, where
        // the caller waiting for it runs it itself: on the ring its completion would come back
        // through the submitter thread and a wake-up (make bench, uncached read QD1: ~0.9x
        // glibc on the ring). RTAIO_BACKEND=uring keeps it on the ring.
        let uring = uring && !(helpable && spec.depth == 1 && self.backend == Backend::Auto);
        let kaio = self.kaio.usable()
            && !empty
            && kind == FileKind::File
            && !(spec.op == Op::Write && spec.append)
            && match self.backend {
                // Native AIO only where it is truly asynchronous: O_DIRECT files and block
                // devices (an O_DIRECT pipe would block inside io_submit), and their fsyncs.
                // Other fsyncs stay on the pool, which does the same work without holding a
                // share of the system-wide fs.aio-max-nr. O_APPEND writes need an order the
                // kernel does not keep. RTAIO_BACKEND=kernel: every file request, to compare.
                Backend::Auto | Backend::Uring | Backend::Kaio => flags & libc::O_DIRECT != 0,
                Backend::Kernel => true,
                Backend::Threads => false,
            }
            // io_submit runs in the submitting thread: a write there that raises SIGXFSZ (at or
            // past RLIMIT_FSIZE) would end the process, where a worker blocks the signal, as
            // glibc's (C rel_fsize_signal).
            && (spec.op != Op::Write || sys::write_cannot_raise_sigxfsz(spec.offset));
        // O_DIRECT goes to native AIO even where io_uring is allowed: its completions come
        // from the device's interrupt straight to a thread waiting in aio_suspend, where
        // io_uring's go through the submitter thread first (a second wake-up per completion:
        // O_DIRECT QD32, 3 alternated rounds: 74k/s on the ring against 83k/s on native AIO).
        // RTAIO_BACKEND=uring keeps them on the ring.
        // A read whose inline attempt already sent it to the device (`Now::Started`) waits on
        // the pool's few workers for started reads: make bench's uncached read QD32, 6
        // alternated rounds: 85k-109k/s against 52k-87k/s on the ring (fio's io_uring engine
        // 85k-97k/s), at the same CPU per read (~11 us).
        // Only a regular file's or block device's read waits there: its wait is bounded by the
        // device, where a character device's (which may answer EAGAIN too) could wait for the
        // application itself and hold up every started read behind it.
        // (Nor one whose flags changed since its attempt to O_DIRECT: native AIO takes it.)
        spec.started &= kind == FileKind::File && flags & libc::O_DIRECT == 0;
        let uring = uring && !(spec.started && self.backend == Backend::Auto);
        spec.route = if kaio && self.backend == Backend::Auto {
            Route::Kaio
        } else if uring && self.uring.usable() {
            Route::Uring
        } else if kaio {
            Route::Kaio
        } else {
            Route::Pool
        };
        spec.helpable = helpable && spec.route == Route::Pool;
    }

    fn try_now(&self, req: &Spec, flags: i32) -> Now {
        // The kernel and uring backends show the kernel interface's own behaviour: no inline
        // reads there. With io_uring, a queue the application keeps deep goes to the ring,
        // whose kernel thread works beside the caller: both cores, not one.
        if !self.inline || matches!(self.backend, Backend::Kernel | Backend::Uring) {
            return Now::Later;
        }
        let candidate = req.op == Op::Read && matches!(req.data, Data::Buf(_)) && flags & libc::O_DIRECT == 0;
        if !candidate {
            return Now::Later; // only such reads can complete inline (inline.rs)
        }
        // A queue the application keeps deep shares the copying of long reads with another
        // core: about half of them go to the ring, whose submitter copies on the other core, or
        // without io_uring to the pool's short-task lane, whose running worker does (while the
        // last read tried here hit the page cache: a short task must not wait for the device);
        // the rest complete here. Handing a read over costs the caller about as much as a 4 KiB
        // copy (queueing, reaping, publishing; the other core's cache lines), so only a longer
        // copy is worth handing over: fio posixaio, cached, QD32, 2 alternated rounds, shared
        // against all here: 4 KiB 414k-524k/s against 512k-554k/s (3.9-5.0 against 2.0-2.1 us
        // of CPU per read), 8 KiB 437k-455k/s against 391k-413k/s at 1.8x the CPU per read,
        // 16 KiB 385k-393k/s against 268k-289k/s, 64 KiB 143k-154k/s against 79k-96k/s
        // (without io_uring, 16 KiB: 322k-333k/s against 230k-232k/s); make bench, cached read
        // QD32 (4 KiB): 981k/s at 1.0 us per read all here against 841k/s at 2.4 us shared. Not a
        // lio_listio list's entries, nor requests with a notification: their completions cost
        // more than the copy taken over (make bench: lio 256 cached 0.87x glibc shared vs 1.26x
        // inline; the mixed SIGEV_SIGNAL program 0.90x vs 1.25x).
        // (With one CPU to run on, the other thread would only take turns with the caller.)
        let shareable = req.list.is_none()
            && matches!(req.notify, Notify::None)
            && matches!(req.data, Data::Buf(b) if b.len() >= SHARE_MIN_BYTES)
            && self.pool.spare_core();
        if shareable && req.depth > 1 {
            if self.uring.usable() {
                // (Not after a miss: the attempt starts the read, see below.)
                if INLINE_MISSES.load(Relaxed) == 0 && self.uring.inflight() * SHARE_DEN < req.depth * SHARE_NUM {
                    return Now::Later;
                }
            } else if INLINE_MISSES.load(Relaxed) == 0
                && fdhint::was_hit(req.fd)
                && self.pool.short_backlog().is_some_and(|n| n * SHARE_DEN < req.depth * SHARE_NUM)
            {
                return Now::Share;
            }
        }
        // In a queue, a miss (not cached) is worth the attempt's cost: it starts the device
        // read, so the read only waits, and the pool needs no thread per read to have them all
        // at the device (`Now::Started`): make bench, uncached read QD32 without io_uring, ~13
        // us of CPU per read against ~26 with a thread per read. A lone read gains nothing (its
        // waiter runs it: core/help.rs; 5 alternated rounds, uncached QD1: 14.6k/s at 66 us of
        // CPU per read with the attempt, 15.9k at 56 without), nor does one on a kernel before
        // 5.9, whose attempt starts nothing: there, after a miss the next reads do not try: a
        // file that is not in the page cache costs one failed attempt per 2^k reads, not one
        // per read; a hit tries again.
        let start_misses = req.depth > 1 && crate::sys::nowait_read_starts_io();
        if !start_misses && INLINE_SKIP.fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1)).is_ok() {
            return Now::Later;
        }
        let now = match inline::try_now(req, flags) {
            Now::Started if !start_misses => Now::Later,
            now => now,
        };
        // A deep queue's reads are shared only on a descriptor whose last inline read hit at
        // an offset (a stream's read must keep its inline attempt, and never wait in the
        // short-task lane); a stale bit (the number reused) costs a stream its attempt, no
        // more: `plan` makes only regular files' requests short tasks.
        fdhint::note_hit(req.fd, matches!(now, Now::Done(_)));
        // (The miss count is written only when it changes: threads reading at once share it.)
        match now {
            Now::Done(_) if INLINE_MISSES.load(Relaxed) != 0 => INLINE_MISSES.store(0, Relaxed),
            Now::Done(_) => {}
            Now::Later | Now::Started => {
                let m = (INLINE_MISSES.load(Relaxed) + 1).min(MAX_BACKOFF);
                INLINE_MISSES.store(m, Relaxed);
                INLINE_SKIP.store((1 << m) - 1, Relaxed);
            }
            Now::Stream | Now::Share => {}
        }
        now
    }

    fn may_assume_flags(&self, flags: i32) -> bool {
        // O_DIRECT reads go to native AIO, which submits them with RWF_NOWAIT: on a number that
        // no longer names an O_DIRECT regular file the kernel answers EAGAIN (or refuses the
        // flag) rather than wait in io_submit, and the pool does the read (`kaio.rs`, which
        // also redoes what such a read did not do whole). io_uring and the pool never wait in
        // the submitting thread. Without RWF_NOWAIT (a kernel that refused it, and the kernel
        // backend, which sends every read to io_submit) `fcntl` is asked. One system call
        // less per read: make bench, O_DIRECT read QD32, 5 alternated rounds, 145.6k/s at
        // 4.56 us of CPU per read against 139.4k/s at 4.94 us (fio libaio 146.2k/s, 4.59 us).
        self.backend != Backend::Kernel && (flags & libc::O_DIRECT == 0 || self.kaio.submits_nowait())
    }

    fn try_now_stream(&self, req: &Spec) -> Now {
        // As for try_now.
        if !self.inline || matches!(self.backend, Backend::Kernel | Backend::Uring) || self.uring.inflight() > 0 {
            return Now::Later;
        }
        inline::try_stream(req)
    }

    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let mut pool = Vec::new();
        let (mut uring, mut kaio) = (Vec::new(), Vec::new());
        // Requests of one route (a single submission always) go on in their own vector: no
        // sorting into new ones, no allocation per request.
        let one_route = reqs.first().map(|r| r.route()).filter(|&first| reqs.iter().all(|r| r.route() == first));
        match one_route {
            Some(Route::Uring) => uring = reqs,
            Some(Route::Kaio) => kaio = reqs,
            Some(Route::Pool) => pool = reqs,
            None => {
                for r in reqs {
                    match r.route() {
                        Route::Uring => uring.push(r),
                        Route::Kaio => kaio.push(r),
                        Route::Pool => pool.push(r),
                    }
                }
            }
        }
        for (v, exec) in [(uring, &self.uring as &dyn Executor), (kaio, &self.kaio as &dyn Executor)] {
            if !v.is_empty() {
                for r in exec.start(v) {
                    let back = if r.route() == Route::Uring { Fallback::UringToPool } else { Fallback::KaioToPool };
                    stats::fallback(back, 0, 1);
                    r.to_pool();
                    pool.push(r);
                }
            }
        }
        if pool.is_empty() {
            return pool;
        }
        self.pool.start(pool)
    }

    fn help(&self, req: &Request) -> Option<Result<usize, Errno>> {
        match req.route() {
            Route::Pool => self.pool.help(req),
            _ => None,
        }
    }

    fn beside(&self, work: Work) {
        self.pool.beside(work);
    }

    fn cancel(&self, req: &Request) -> bool {
        match req.route() {
            Route::Uring => self.uring.cancel(req),
            Route::Kaio => self.kaio.cancel(req),
            Route::Pool => false,
        }
    }

    fn poll(&self, signal_safe: bool) {
        self.uring.poll(signal_safe);
        self.kaio.poll(signal_safe);
    }

    fn before_sleep(&self) {
        self.uring.before_sleep();
        self.kaio.before_sleep();
    }

    fn worker_yielding(&self) -> bool {
        self.pool.worker_yielding()
    }

    fn kernel_wait(&self, queue: KernelQueue, still: &dyn Fn() -> bool) -> Option<Result<(), Errno>> {
        match queue {
            KernelQueue::Aio => self.kaio.kernel_wait(queue, still),
            KernelQueue::Uring => self.uring.kernel_wait(queue, still),
        }
    }

    fn set_limits(&self, max_threads: usize, idle: Duration) {
        self.pool.set_limits(max_threads, idle);
        self.kaio.set_limits(max_threads, idle);
        self.uring.set_limits(max_threads, idle);
    }
}
