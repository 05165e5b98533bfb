//! Submission: validate, build the request, and run it now, or register and start it (step 1
//! of the request's life, `core/mod.rs`).

use std::sync::Arc;

use crate::abi::AIO_PRIO_DELTA_MAX;
use crate::aiocb::{self, AiocbRef, Status};
use crate::core::finish::fail_unqueued;
use crate::core::help;
use crate::core::runtime::Core;
use crate::exec::{given_back, Now};
use crate::fdhint;
use crate::list::ListCtl;
use crate::notify::Notify;
use crate::request::{CancelOutcome, Chain, Data, Op, Request, Route, Spec};
use crate::spare;
use crate::stats;
use crate::sys::{self, Errno, FileKind};
use crate::track;

/// What the exports and `lio_listio` ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submission {
    /// None: a `lio_listio` entry whose opcode names no operation (accepted, and it fails with
    /// EINVAL through aio_error, as in glibc).
    pub op: Option<Op>,
    /// `aio_readv`/`aio_writev` (rtaio.h): `aio_buf` is an iovec array.
    pub vectored: bool,
}

impl Core {
    /// Validates and queues one request. On error nothing is queued and the aiocb is untouched,
    /// except for a bad `aio_reqprio` (its status: EINVAL, as glibc's) and EAGAIN after it was
    /// marked in progress (then its status is EAGAIN).
    ///
    /// With `batch`, a request for a kernel executor that may start now is appended to it
    /// instead of being started: lio_listio hands a whole list to the kernel at once
    /// (`start_batch`).
    pub fn submit(
        &self,
        cb: AiocbRef<'static>,
        what: Submission,
        list: Option<&Arc<ListCtl>>,
        batch: Option<&mut Vec<Arc<Request>>>,
    ) -> Result<(), Errno> {
        if cb.status() == Status::InProgress {
            return Err(libc::EINVAL);
        }
        // A completed request whose status the application never retrieved leaves the
        // application's queue (`unreturned`) when this one overwrites its status: not before,
        // since this call may still fail and leave it there.
        let overwrites_unreturned = cb.holds_unreturned();
        let overwrite = || {
            if overwrites_unreturned {
                self.note_returned();
            }
        };
        // aio_fsync ignores every member but aio_fildes and aio_sigevent (POSIX); it runs in
        // the most urgent lane.
        let sync = matches!(what.op, Some(Op::Sync { .. }));
        let reqprio = if sync { 0 } else { cb.reqprio() };
        if !(0..=AIO_PRIO_DELTA_MAX).contains(&reqprio) {
            // As glibc's: the aiocb's status says why (EINVAL, aio_return -1), not what its
            // previous request returned; no notification.
            self.retire_previous_slot(cb);
            fail_unqueued(cb, libc::EINVAL);
            return Err(libc::EINVAL);
        }
        // A negative aio_offset or an aio_nbytes above SSIZE_MAX is not refused here: the
        // system call reports it through aio_error (EINVAL, EFAULT), as in glibc, whose
        // pread/pwrite answer EINVAL for a negative offset before they look at the descriptor
        // (even one that cannot seek, which would then be read at its position: `fails`).
        let data = match what.op {
            None | Some(Op::Sync { .. }) => Data::None,
            Some(_) if what.vectored => Data::Vec(cb.iovecs()?),
            Some(_) => Data::Buf(cb.buffer()),
        };
        let notify = self.notifier.validate(&cb.sigevent())?;
        let fd = cb.fildes();
        // A descriptor that is not open, or not open for this direction, fails the request
        // with EBADF through aio_error, with its notification, as glibc does (the read or write
        // itself reports it); aio_fsync alone checks at the call that the descriptor is open,
        // as glibc's does (not that it is open for writing: fsync works on any descriptor, and
        // a directory, whose entries it makes durable, cannot be opened for writing).
        //
        // A plain read that may complete inline is tried on the flags `fcntl` gave last time
        // (`fdhint.rs`): if it does not complete, `fcntl` is asked before anything else is
        // decided, so the outcome is the same as asking first.
        let hinted = match what.op {
            Some(Op::Read) if !what.vectored => fdhint::get(fd),
            _ => None,
        };
        let mut flags = match hinted {
            Some(f) => Some(f),
            None => match ask_flags(fd) {
                Ok(f) => Some(f),
                Err(e) if sync => return Err(e),
                Err(_) => None,
            },
        };
        let negative = !sync && cb.offset() < 0;
        let fails = |flags: Option<i32>| match (what.op, flags) {
            (None, _) => Some(libc::EINVAL),
            _ if negative => Some(libc::EINVAL),
            (_, None) => Some(libc::EBADF),
            _ => None,
        };
        let mut fail = fails(flags);
        // POSIX: aio_fsync shall fail with EINVAL for a file without synchronized I/O (pipes,
        // sockets, terminals...): detect it now rather than through aio_error.
        let mut kind = None;
        if sync {
            let k = sys::file_kind(fd);
            if matches!(k, FileKind::Stream | FileKind::Device) {
                return Err(libc::EINVAL);
            }
            kind = Some(k);
        }
        // (Counted as outstanding below, once it does not complete in this call; in flight in
        // the statistics either way.)
        let before = self.outstanding.load(Relaxed);
        if before >= self.max_requests {
            return Err(libc::EAGAIN);
        }
        stats::in_flight(before + 1);
        // aio_waitcomplete tracking: the aiocb's previous request (its status not retrieved,
        // since it is being reused) leaves consideration, whatever the new one is; the new one
        // gets a slot unless an eventfd queue owns it.
        self.retire_previous_slot(cb);
        let mut slot = None;
        if track::enabled() && !matches!(notify, Notify::Eventfd(_)) {
            match self.tracker().and_then(|t| t.alloc(cb.addr())) {
                Ok(s) => slot = Some(s),
                Err(e) => return Err(e),
            }
        }
        let op = what.op.unwrap_or_default();
        let mut spec = Spec {
            aiocb: Some(cb),
            fd,
            op,
            data,
            offset: cb.offset(),
            append: op == Op::Write && flags.unwrap_or(0) & libc::O_APPEND != 0,
            lane: reqprio as usize,
            notify,
            list: list.cloned(),
            track: slot,
            chain: None,
            route: Route::Pool,
            quick: false,
            started: false,
            flags_assumed: false,
            helpable: false,
            positional: true,
            depth: self.unreturned.fetch_add(1, Relaxed) + 1,
            stamp: stats::stamp(),
        };
        let track_word = slot.map_or(0, |s| track::encode(s, aiocb::fork_gen()));
        // A stream's read with no other read of the descriptor in flight completes now if data
        // is there (what the blocking read would return).
        let attempt = |flags: i32| match self.exec.try_now(&spec, flags) {
            Now::Stream if op == Op::Read && self.fds.stream_reads_idle(fd) => match self.exec.try_now_stream(&spec) {
                Now::Later => Now::Stream,
                done => done,
            },
            now => now,
        };
        let mut tried = None;
        // `fds.live_file(fd, flags)` for the flags decided on, once asked; Some(true) only where
        // the hinted flags are taken without asking (`Spec::flags_assumed`).
        let mut live = None;
        if let Some(f) = hinted {
            let now = attempt(f);
            if let Now::Done(n) = now {
                overwrite();
                self.finish_inline(spec, track_word, Ok(n));
                return Ok(());
            }
            let undone = matches!(now, Now::Later | Now::Share | Now::Started);
            tried = Some(now);
            // Not done now (not cached, or shared by a deep queue), on a number with live
            // requests on a regular file that had these same flags: that file still (as for
            // `kind` below), and no change of its flags since can matter to this read: O_APPEND
            // and O_ASYNC do nothing to a read, O_DIRECT set or cleared since only changes who
            // waits, and O_NONBLOCK set since, which io_uring may honour, is redone on the pool
            // there (`uring.rs`). No `fcntl` then: one per read of a deep queue otherwise.
            // Unless the executors say a wrong assumption could make the caller wait (O_DIRECT
            // on native AIO without RWF_NOWAIT: `may_assume_flags`).
            if undone && self.exec.may_assume_flags(f) {
                live = Some(self.fds.live_file(fd, f));
            }
            if live != Some(true) {
                flags = ask_flags(fd).ok();
                fail = fails(flags);
                if flags != Some(f) {
                    live = None;
                }
            }
        }
        let flags = flags.unwrap_or(0);
        // Accepted, and failed at once (status, then notification), as if performed.
        if let Some(e) = fail {
            overwrite();
            self.finish_inline(spec, track_word, Err(e));
            return Ok(());
        }
        // A page-cache hit completes in this call, before the request is registered anywhere:
        // the aiocb is marked in progress only once the data is in place.
        let now = match tried {
            Some(now) => now,
            None => attempt(flags),
        };
        match now {
            Now::Done(n) => {
                overwrite();
                self.finish_inline(spec, track_word, Ok(n));
                return Ok(());
            }
            Now::Stream => kind = Some(FileKind::Stream),
            Now::Share => spec.quick = true,
            Now::Started => spec.started = true,
            Now::Later => {}
        }
        // Everything else runs after this call returns: outstanding, and pending in its list,
        // until it finishes. (A request that completed in this call was never either: no
        // shared counter is written for it.)
        let before = self.outstanding.fetch_add(1, Relaxed);
        if before >= self.max_requests {
            self.outstanding.fetch_sub(1, Relaxed);
            if let (Some(s), Some(t)) = (slot, self.tracker_if_any()) {
                t.discard(s);
            }
            self.note_returned();
            return Err(libc::EAGAIN);
        }
        if let Some(l) = list {
            l.add();
        }
        // A number with live requests on a regular file, unchanged flags: that file still
        // (those requests run on the number too), without an fstat.
        let kind = kind.unwrap_or_else(|| {
            if live.unwrap_or_else(|| self.fds.live_file(fd, flags)) {
                FileKind::File
            } else {
                sys::file_kind(fd)
            }
        });
        spec.chain = match (kind, op) {
            (FileKind::Stream | FileKind::Device, Op::Read) => Some(Chain::Reads),
            (FileKind::Stream | FileKind::Device, Op::Write) => Some(Chain::Writes),
            (_, Op::Write) if spec.append => Some(Chain::Writes),
            _ => None,
        };
        // O_APPEND writes too: pwrite at aio_offset appends all the same, and leaves the file
        // position alone, as glibc's (C append_position).
        spec.positional = kind != FileKind::Stream;
        spec.flags_assumed = live == Some(true);
        self.exec.plan(&mut spec, flags, kind);
        let req = spare::request(spec);
        // Not regular files: the request runs on rtaio's own reference to the file (fileref.rs).
        let own_reference = matches!(kind, FileKind::Stream | FileKind::Device);
        let file_flags = (kind == FileKind::File).then_some(flags);
        let begin = || {
            cb.begin(track_word);
            overwrite();
        };
        if !self.fds.register(&req, own_reference, file_flags, begin) {
            return Ok(()); // held back: a release starts it
        }
        if let (true, Some(batch)) = (req.route() != Route::Pool, batch) {
            batch.push(req);
            return Ok(());
        }
        let mut refused = false;
        for stuck in self.exec.start(vec![req.clone()]) {
            if Arc::ptr_eq(&stuck, &req) {
                // (not helped: only this thread could have, after this call)
                if stuck.try_cancel() == CancelOutcome::Canceled {
                    self.refuse(&stuck);
                    refused = true;
                }
            } else if let Some(result) = given_back(&stuck) {
                self.finish(&stuck, result);
            }
        }
        if refused {
            return Err(libc::EAGAIN);
        }
        if req.helpable {
            help::remember(&req);
        }
        Ok(())
    }

    /// Starts the native AIO requests lio_listio collected (one `io_submit`). Any that nothing
    /// can run fail with EAGAIN as their status, like a refused list entry.
    pub fn start_batch(&self, batch: Vec<Arc<Request>>) {
        if !batch.is_empty() {
            self.start_ready(batch);
        }
    }

    /// Before an aiocb's tracking word is overwritten (a new submission, or a list entry failed
    /// at submission): its previous, unretrieved request leaves `aio_waitcomplete`'s
    /// consideration.
    pub fn retire_previous_slot(&self, cb: AiocbRef<'_>) {
        let word = cb.previous_track_word();
        if word == 0 {
            return;
        }
        if let Some(t) = self.tracker_if_any() {
            if let Some(prev) = track::decode(word, aiocb::fork_gen(), t) {
                let _ = t.retrieve(prev, cb.addr());
            }
        }
    }
}

/// `fcntl(F_GETFL)`, remembered for the next reads (`fdhint.rs`).
fn ask_flags(fd: i32) -> Result<i32, Errno> {
    let f = sys::fd_flags(fd);
    fdhint::learn(fd, f.ok());
    f
}

use std::sync::atomic::Ordering::Relaxed;
