//! Executors: the ways a request can run, one file each, behind one interface.
//!
//! - `inline.rs`: a page-cache hit read in the submitting thread, before the request is
//!   registered anywhere (one `preadv2(RWF_NOWAIT)`);
//! - `kaio.rs`: Linux native AIO, for O_DIRECT files and block devices;
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

use std::sync::Arc;
use std::time::Duration;

pub use executor::{Executor, Finish, Now};

use crate::config::{Backend, Settings};
use crate::request::{Op, Request, Spec};
use crate::sys::FileKind;

/// The process's executors, and the route a request takes among them.
pub struct Executors {
    backend: Backend,
    inline: bool,
    kaio: kaio::Kaio,
    pool: Arc<pool::PoolExec>,
}

impl Executors {
    pub fn new(s: &Settings, finish: Finish) -> Executors {
        let pool = Arc::new(pool::PoolExec::new(s, finish.clone()));
        Executors { backend: s.backend, inline: s.inline, kaio: kaio::Kaio::new(s, finish, pool.clone()), pool }
    }
}

impl Executor for Executors {
    fn plan(&self, spec: &mut Spec, flags: i32, kind: FileKind) {
        // Native AIO only where it is truly asynchronous: O_DIRECT files and block devices
        // (an O_DIRECT pipe would block inside io_submit), and their fsyncs, so the context
        // exists anyway; other fsyncs stay on the pool, which does the same work without
        // holding a share of the system-wide fs.aio-max-nr. O_APPEND writes need an order
        // the kernel does not keep. RTAIO_BACKEND=kernel: every file request, for comparison.
        spec.kernel = self.kaio.usable()
            && kind == FileKind::File
            && !(spec.op == Op::Write && spec.append)
            && match self.backend {
                Backend::Threads => false,
                Backend::Auto => flags & libc::O_DIRECT != 0,
                Backend::Kernel => true,
            };
    }

    fn try_now(&self, req: &Spec, flags: i32) -> Now {
        // The kernel backend shows native AIO's own behaviour: no inline reads there.
        if !self.inline || self.backend == Backend::Kernel {
            return Now::Later;
        }
        inline::try_now(req, flags)
    }

    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        let (kernel, mut rest): (Vec<_>, Vec<_>) = reqs.into_iter().partition(|r| r.wants_kernel());
        if !kernel.is_empty() {
            rest.extend(self.kaio.start(kernel));
        }
        if rest.is_empty() {
            return rest;
        }
        self.pool.start(rest)
    }

    fn cancel(&self, req: &Request) -> bool {
        self.kaio.cancel(req)
    }

    fn set_limits(&self, max_threads: usize, idle: Duration) {
        self.pool.set_limits(max_threads, idle);
        self.kaio.set_limits(max_threads, idle);
    }
}
