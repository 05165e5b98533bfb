//! `aio_cancel` (step 3 of the request's life, `core/mod.rs`).

use crate::abi::{AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED};
use crate::aiocb::{AiocbRef, Status};
use crate::core::runtime::{existing, Core};
use crate::request::{CancelOutcome, Route};
use crate::sys::{self, Errno};

/// `aio_cancel`: AIO_CANCELED, AIO_NOTCANCELED or AIO_ALLDONE for `cb` (or, with `None`,
/// everything) on `fd`.
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
        Some(core) => core.cancel(fd, cb.map(|c| c.addr())),
        None => AIO_ALLDONE,
    })
}

impl Core {
    /// Cancels the request of the aiocb at `aiocb` (or, with `None`, every request) on `fd`.
    pub fn cancel(&self, fd: i32, aiocb: Option<usize>) -> i32 {
        let reqs = match aiocb {
            Some(a) => self.fds.find(fd, a).into_iter().collect(),
            None => self.fds.all_on(fd),
        };
        let (mut canceled, mut running) = (0, 0);
        for r in reqs {
            // A stream write io_uring took in part, its rest queued on the pool (`uring.rs`):
            // in progress, part of it in the stream already, as a running write.
            if r.route() == Route::Pool && r.transferred() > 0 {
                running += 1;
                continue;
            }
            match r.try_cancel() {
                CancelOutcome::Canceled => {
                    self.finish(&r, Err(libc::ECANCELED));
                    canceled += 1;
                }
                // Ask its executor (file systems refuse io_cancel; then it completes normally). A
                // request its executor stopped reports ECANCELED when reaped, moments later:
                // answer once its status is final, as POSIX wants AIO_CANCELED to mean.
                CancelOutcome::Running if self.exec.cancel(&r) => {
                    r.wait_done();
                    canceled += 1;
                }
                // Not stopped: still running, or complete by now (it completed meanwhile, its
                // completion was waiting to be reaped, or the kernel's cancel cut a stream write
                // short): it was in progress when this call came, and was not cancelled, as glibc
                // answers for a running request (C cancel_running_stream).
                CancelOutcome::Running => running += 1,
                CancelOutcome::AlreadyCanceled => {
                    // Another aio_cancel is finishing it: it is cancelled, and its status is
                    // final within moments. Answer only once it is, like for our own.
                    r.wait_done();
                    canceled += 1;
                }
                CancelOutcome::Finishing => {
                    // Its status is final, or about to be: answer once it is. Its owner may be
                    // a completion a signal-safe reaper published and left for later: finish
                    // those here rather than wait for another thread.
                    while !r.is_done() {
                        self.exec.poll(false);
                        std::thread::yield_now();
                    }
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
