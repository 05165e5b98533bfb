//! The pool executor: each request's blocking system call on a worker of a work-stealing
//! thread pool (`thread-pool`), lanes by `aio_reqprio`. Pipes, sockets, buffered files, and
//! whatever another executor gives back.

use std::sync::Arc;
use std::time::Duration;

use thread_pool::{Config, Pool, SubmitError};

use crate::abi::AIO_PRIO_DELTA_MAX;
use crate::config::Settings;
use crate::exec::executor::{Executor, Finish, Work};
use crate::request::{Data, Op, Request};
use crate::spare;
use crate::sys::{self, Errno};
use crate::wait;

pub struct PoolExec {
    pool: Pool<Task>,
}

/// What a worker runs: a request, or work handed to it beside the caller.
enum Task {
    Request(Arc<Request>),
    Work(Work),
}

impl PoolExec {
    pub fn new(s: &Settings, finish: Finish) -> PoolExec {
        let cfg = Config {
            name: "rtaio-io",
            max_threads: s.max_threads,
            short_workers: 0,
            started_workers: 0,
            started_stall: thread_pool::STARTED_STALL,
            idle_timeout: s.idle,
            stack_size: 128 << 10,
            lanes: AIO_PRIO_DELTA_MAX as usize + 1,
            before_idle: Some(wait::give_held_wakes),
        };
        // With one CPU, the waiters of a run of buffered writes are woken once the run is
        // over, not after each write: a woken waiter would take the CPU from the worker, reap
        // one completion and sleep again, two context switches per write (wait.rs).
        let one_cpu = thread_pool::cpus() == 1;
        let handler = move |task: Task| match task {
            Task::Request(req) => {
                wait::hold_wakes(one_cpu && req.quick);
                run(&req, &finish);
                spare::give(req);
            }
            Task::Work(work) => {
                wait::hold_wakes(false);
                work()
            }
        };
        PoolExec { pool: Pool::new(cfg, handler) }
    }
}

impl PoolExec {
    /// More than one CPU to run on: work handed to a worker can run beside the caller.
    pub fn spare_core(&self) -> bool {
        thread_pool::cpus() > 1
    }

    /// A worker waits for the CPU the caller holds (one CPU: thread-pool's yield).
    pub fn worker_yielding(&self) -> bool {
        self.pool.worker_yielding()
    }

    /// Short tasks queued or running; None if no thread would be there for another one.
    pub fn short_backlog(&self) -> Option<usize> {
        self.pool.short_backlog()
    }
}

impl Executor for PoolExec {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let mut stuck = Vec::new();
        for req in reqs {
            let lane = req.lane;
            let task = Task::Request(req.clone());
            let r = if req.quick {
                self.pool.submit_short(task, lane)
            } else if req.started {
                self.pool.submit_started(task, lane)
            } else {
                self.pool.submit(task, lane)
            };
            match r {
                Ok(()) => {}
                Err(SubmitError::NoThread(..)) | Err(SubmitError::Stranded(_)) => stuck.push(req),
            }
        }
        if !stuck.is_empty() && self.pool.threads() == 0 {
            // No thread, and none can be started: whatever others queued meanwhile (counting on
            // a thread that then failed to start) would wait forever. Give it back too.
            stuck.extend(self.pool.take_queued().into_iter().filter_map(|t| match t {
                Task::Request(r) => Some(r),
                Task::Work(_) => None, // (dropped: nobody counts on it)
            }));
        }
        stuck
    }

    fn beside(&self, work: Work) {
        // Only where a thread would be free for it: not behind tasks that may never end.
        if self.spare_core() && self.pool.short_backlog().is_some() {
            let _ = self.pool.submit_short(Task::Work(work), 0);
        }
    }

    fn set_limits(&self, max_threads: usize, idle: Duration) {
        self.pool.set_max_threads(max_threads);
        self.pool.set_idle_timeout(idle);
    }

    fn help(&self, req: &Request) -> Option<Result<usize, Errno>> {
        // What `plan` allowed: a plain buffer, a regular file, at the offset, no file
        // reference of rtaio's (so no lock to take for the descriptor).
        let Data::Buf(buf) = req.data else { return None };
        if !req.helpable || !req.may_publish_early() {
            return None;
        }
        // The copy must not fault on a page that waits for this very thread (userfaultfd), as
        // for the inline path. A write that would raise SIGXFSZ is left to a worker, whose
        // signals are blocked, as glibc's (C rel_fsize_signal).
        // The helping thread holds every signal during the call (`core/help.rs`): only where
        // the call's wait is a local device's, never a server's, which a fatal signal would
        // otherwise cut short (a helped read of a hung NFS or FUSE file kept SIGTERM pending).
        let write = req.op == Op::Write;
        if !sys::buffer_resident_cached(buf)
            || write && !sys::write_cannot_raise_sigxfsz(req.offset)
            || !sys::waits_for_local_device(req.fd)
            || !req.claim_for_help()
        {
            return None;
        }
        Some(sys::transfer_at_raw(req.fd, buf, req.offset, write))
    }
}

/// A worker's task: run one request.
fn run(req: &Arc<Request>, finish: &Finish) {
    if req.claim() {
        finish.one(req, execute(req));
    } else {
        // (It may wait for the thread running it: nobody else waits for this one.)
        wait::give_held_wakes();
        if req.wait_helped() {
            // A thread waiting for it ran it and published its status (`core/help.rs`).
            finish.one(req, req.helped_result());
        }
    }
    // (else cancelled or refused while queued)
}

/// The blocking system call for a request.
fn execute(req: &Request) -> Result<usize, Errno> {
    let fd = req.exec_fd();
    let write = match req.op {
        Op::Read => false,
        Op::Write => true,
        Op::Sync { data_only } => return sys::sync(fd, data_only).map(|_| 0),
    };
    // Streams go at the file position; a descriptor found unseekable only now (ESPIPE) too, as
    // glibc's pread/pwrite fall back to read/write.
    let positional = req.positional;
    // A stream write io_uring took in part before its queue was full (`uring.rs`): the rest.
    let done = if write && !positional { req.transferred() } else { 0 };
    let transfer = |offset: Option<i64>| match (&req.data, write) {
        (Data::Vec(v), false) => sys::readv_at(fd, v, offset),
        (Data::Vec(v), true) => sys::writev_at(fd, v, offset),
        (Data::Buf(b), false) => sys::read_at(fd, *b, offset),
        (Data::Buf(b), true) => sys::write_at(fd, b.advance(done), offset),
        (Data::None, _) => Ok(0),
    };
    match transfer(positional.then_some(req.offset)) {
        // Pipes, sockets, FIFOs and terminals cannot seek: for them the offset is ignored.
        Err(libc::ESPIPE) if positional => transfer(None),
        // (An error after a part: the part, as write() reports it.)
        r if done > 0 => Ok(done + r.unwrap_or(0)),
        r => r,
    }
}
