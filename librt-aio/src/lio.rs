//! `lio_listio`: a list of requests, submitted in order, completed together.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::*};
use std::sync::Arc;

use crate::abi::{Sigevent, AIO_LISTIO_MAX, LIO_NOP, LIO_NOWAIT, LIO_READ, LIO_READV, LIO_WAIT, LIO_WRITE, LIO_WRITEV};
use crate::aiocb::{AiocbRef, Status};
use crate::core::{self, Core, Submission};
use crate::list::ListCtl;
use crate::notify::Notify;
use crate::request::{Op, Request};
use crate::sys::{self, Errno, FileKind};

/// `lio_listio`. `list` entries: `None` for NULL. `sig`: the list sigevent (LIO_NOWAIT only).
pub fn listio(mode: i32, list: &[Option<AiocbRef<'static>>], sig: Option<&Sigevent>) -> Result<(), Errno> {
    if mode != LIO_WAIT && mode != LIO_NOWAIT {
        return Err(libc::EINVAL);
    }
    if list.len() > AIO_LISTIO_MAX as usize {
        return Err(libc::EINVAL);
    }
    let core = core::get();
    let notify = match (mode, sig) {
        (LIO_NOWAIT, Some(ev)) => core.notifier.validate(ev)?,
        _ => Notify::None,
    };
    let wanted = list.iter().flatten().filter(|cb| cb.lio_opcode() != LIO_NOP).count();
    if core.would_exceed(wanted) {
        // Nothing is queued. POSIX: each entry's status then says why (EAGAIN), as for an
        // entry refused alone; one listed while in flight keeps its own.
        for cb in list.iter().flatten().filter(|cb| cb.lio_opcode() != LIO_NOP) {
            if cb.status() != Status::InProgress {
                core.retire_previous_slot(*cb);
                core::fail_unqueued(*cb, libc::EAGAIN);
            }
        }
        return Err(libc::EAGAIN);
    }
    let ctl = Arc::new(ListCtl::new(notify));
    let mut submit_failed = false;
    let entries = list.iter().flatten();
    if mode == LIO_WAIT && wanted >= BESIDE_MIN && beside_eligible(list) {
        let share = Arc::new(Beside::new(entries.copied().collect(), ctl.clone()));
        let other = share.clone();
        core.exec.beside(Box::new(move || other.join(core)));
        submit_failed = share.run(core);
        share.close();
        submit_failed |= share.failed.load(Acquire);
    } else {
        // Native AIO entries, handed to the kernel together after the loop.
        let mut batch = Vec::new();
        for cb in entries {
            submit_failed |= !submit_entry(core, *cb, &ctl, &mut batch);
        }
        core.start_batch(batch);
    }
    ctl.count_done(false, &core.notifier);
    if mode == LIO_WAIT {
        crate::wait::wait_flag(&ctl.done)?;
        if submit_failed || ctl.any_failed() {
            return Err(libc::EIO);
        }
    } else if submit_failed {
        return Err(libc::EIO);
    }
    Ok(())
}

/// Submits one entry; false if its submission failed.
fn submit_entry(core: &Core, cb: AiocbRef<'static>, ctl: &Arc<ListCtl>, batch: &mut Vec<Arc<Request>>) -> bool {
    let what = match cb.lio_opcode() {
        LIO_NOP => return true,
        LIO_READ => Submission { op: Some(Op::Read), vectored: false },
        LIO_WRITE => Submission { op: Some(Op::Write), vectored: false },
        LIO_READV => Submission { op: Some(Op::Read), vectored: true },
        LIO_WRITEV => Submission { op: Some(Op::Write), vectored: true },
        _ => Submission { op: None, vectored: false },
    };
    let Err(e) = core.submit(cb, what, Some(ctl), Some(batch)) else { return true };
    // Give the entry its own status, unless it belongs to a request still in flight (an aiocb
    // listed while in progress): that one keeps its own.
    if cb.status() != Status::InProgress {
        core.retire_previous_slot(cb);
        core::fail_unqueued(cb, e);
    }
    false
}

/// The shortest LIO_WAIT list whose submission another core shares (a wake-up of a worker
/// costs about as much as a few page-cache reads).
const BESIDE_MIN: usize = 32;

/// May the entries be submitted in any order, by two threads at once? Reads of regular files
/// (a stream's reads take its data in submission order; nothing orders reads of a file), each
/// aiocb once (listed in address order, so no aiocb twice: two threads must not submit one
/// aiocb at once).
fn beside_eligible(list: &[Option<AiocbRef<'static>>]) -> bool {
    let mut files = [-1; 2];
    let mut last = 0;
    for cb in list.iter().flatten() {
        if cb.lio_opcode() == LIO_NOP {
            continue;
        }
        if cb.lio_opcode() != LIO_READ || cb.addr() <= last {
            return false;
        }
        last = cb.addr();
        let fd = cb.fildes();
        if !files.contains(&fd) {
            let Some(free) = files.iter_mut().find(|f| **f == -1) else { return false };
            if fd < 0 || sys::file_kind(fd) != FileKind::File {
                return false;
            }
            *free = fd;
        }
    }
    true
}

/// A LIO_WAIT list's entries, submitted by the caller and by a worker on another core at
/// once, each entry by whichever thread claims it first (make bench, lio 256 cached: the
/// page-cache copies of one list on both cores). The caller returns only once the worker is
/// done with the entries ([`Beside::close`]): no entry is touched after `lio_listio` returns.
struct Beside {
    entries: Vec<AiocbRef<'static>>,
    next: AtomicUsize,
    /// OPEN, then JOINED (a worker submits entries) and FINISHED, or CLOSED (the caller was
    /// done first; the worker, if it ever runs, does nothing). A futex for the caller.
    state: AtomicU32,
    failed: AtomicBool,
    ctl: Arc<ListCtl>,
}

/// Entries a thread claims at a time (fewer trips of the cursor's line between the cores).
const CHUNK: usize = 8;

const OPEN: u32 = 0;
const JOINED: u32 = 1;
const CLOSED: u32 = 2;
const FINISHED: u32 = 3;

impl Beside {
    fn new(entries: Vec<AiocbRef<'static>>, ctl: Arc<ListCtl>) -> Beside {
        Beside { entries, next: AtomicUsize::new(0), state: AtomicU32::new(OPEN), failed: AtomicBool::new(false), ctl }
    }

    /// Submits entries until none is left unclaimed; true if a submission failed.
    fn run(&self, core: &Core) -> bool {
        let mut batch = Vec::new();
        let mut failed = false;
        loop {
            let first = self.next.fetch_add(CHUNK, Relaxed);
            let Some(chunk) = self.entries.get(first..) else { break };
            for cb in chunk.iter().take(CHUNK) {
                failed |= !submit_entry(core, *cb, &self.ctl, &mut batch);
            }
        }
        core.start_batch(batch);
        failed
    }

    /// The worker's part.
    fn join(&self, core: &Core) {
        if self.state.compare_exchange(OPEN, JOINED, Acquire, Relaxed).is_err() {
            return;
        }
        if self.run(core) {
            self.failed.store(true, Relaxed);
        }
        self.state.store(FINISHED, Release);
        sys::futex_wake(&self.state, 1);
    }

    /// The caller, its own part done: returns once the worker is not submitting.
    fn close(&self) {
        if self.state.compare_exchange(OPEN, CLOSED, Acquire, Relaxed).is_ok() {
            return;
        }
        // The worker submits its last claimed entry (a few microseconds).
        let mut spins = 0;
        while self.state.load(Acquire) != FINISHED {
            if spins < 100 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                let _ = sys::futex_wait_until(&self.state, JOINED, None);
            }
        }
    }
}
