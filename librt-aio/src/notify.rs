//! Completion notification: validating a `struct sigevent` at submission into a [`Notify`]
//! (a copy: the application may reuse its aiocb as soon as the status is final), and delivering
//! it after the status is final.

use crate::abi::{Sigevent, SIGEV_EVENTFD, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID};
use crate::evq::{EvQueues, EvTicket};
use crate::sys::{self, Errno};

pub enum Notify {
    None,
    Signal {
        signo: i32,
        value: usize,
        tid: Option<libc::pid_t>,
    },
    /// `attr` is the application's `pthread_attr_t *` (0 = use rtaio's notification threads).
    Thread {
        func: usize,
        value: usize,
        attr: usize,
    },
    /// SIGEV_EVENTFD (rtaio.h): queue the aiocb for `aio_reap` and count it on the eventfd.
    Eventfd(EvTicket),
}

fn valid_signal(signo: i32) -> bool {
    // glibc keeps 32 and 33 (SIGCANCEL, SIGSETXID) for itself; SIGRTMIN() starts above them.
    (1..32).contains(&signo) || (sys::sigrtmin()..=sys::sigrtmax()).contains(&signo)
}

impl Notify {
    /// Validates a sigevent (EINVAL for anything POSIX or Linux would not accept; for
    /// SIGEV_EVENTFD, EBADF or EINVAL for a descriptor that is not an open eventfd).
    pub fn from_sigevent(ev: &Sigevent, pid: libc::pid_t, evq: &EvQueues) -> Result<Notify, Errno> {
        match ev.sigev_notify {
            SIGEV_EVENTFD => evq.ticket(ev.sigev_signo).map(Notify::Eventfd),
            SIGEV_NONE => Ok(Notify::None),
            // Signal 0 is the null signal: nothing is sent. A zero-filled aiocb says exactly
            // this (SIGEV_SIGNAL is 0), and glibc accepts it, so countless programs rely on it.
            SIGEV_SIGNAL | SIGEV_THREAD_ID if ev.sigev_signo == 0 => Ok(Notify::None),
            SIGEV_SIGNAL if valid_signal(ev.sigev_signo) => {
                Ok(Notify::Signal { signo: ev.sigev_signo, value: ev.sigev_value, tid: None })
            }
            SIGEV_THREAD_ID if valid_signal(ev.sigev_signo) => {
                let tid = ev.sigev_un0 as u32 as i32;
                if kernel_aio::thread_exists(pid, tid) {
                    Ok(Notify::Signal { signo: ev.sigev_signo, value: ev.sigev_value, tid: Some(tid) })
                } else {
                    Err(libc::EINVAL)
                }
            }
            SIGEV_THREAD if ev.sigev_un0 != 0 => {
                Ok(Notify::Thread { func: ev.sigev_un0, value: ev.sigev_value, attr: ev.sigev_un1 })
            }
            _ => Err(libc::EINVAL),
        }
    }
}

/// Work for the notification pool.
pub enum NotifyJob {
    Call {
        func: usize,
        value: usize,
    },
    /// A SIGEV_SIGNAL that the kernel refused for lack of queue space (EAGAIN): retried.
    RetrySignal {
        signo: i32,
        value: usize,
        tid: Option<libc::pid_t>,
        attempt: u32,
    },
}

/// Delivers `n`. Never loses a notification: a full signal queue or a failed thread creation is
/// handed to the notification pool, which retries.
pub fn deliver(n: &Notify) {
    match *n {
        Notify::None => {}
        Notify::Eventfd(ref t) => t.post(),
        Notify::Signal { signo, value, tid } => {
            if send_signal(signo, value, tid) == Err(libc::EAGAIN) {
                crate::runtime::queue_notification(NotifyJob::RetrySignal { signo, value, tid, attempt: 0 });
            }
        }
        Notify::Thread { func, value, attr: 0 } => crate::runtime::queue_notification(NotifyJob::Call { func, value }),
        Notify::Thread { func, value, attr } => {
            // SAFETY: func was validated non-NULL; attr is the application's attribute object.
            if unsafe { sys::spawn_notify_thread(attr, func, value) }.is_err() {
                crate::runtime::queue_notification(NotifyJob::Call { func, value });
            }
        }
    }
}

fn send_signal(signo: i32, value: usize, tid: Option<libc::pid_t>) -> Result<(), Errno> {
    kernel_aio::queue_asyncio_signal(crate::runtime::pid(), sys::getuid(), signo, value, tid)
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

/// The notification pool's task handler.
pub fn run_job(job: NotifyJob) {
    match job {
        NotifyJob::Call { func, value } => {
            // Application callbacks run with an empty signal mask, as glibc's do; the pool
            // thread blocks everything again afterwards.
            let _mask = kernel_aio::SignalMask::empty();
            // SAFETY: func was validated non-NULL at submission.
            unsafe { sys::call_notify_function(func, value) };
        }
        NotifyJob::RetrySignal { signo, value, tid, attempt } => {
            // The signal queue is full (RLIMIT_SIGPENDING): keep trying, backing off up to 256 ms,
            // on this notification thread, until it is accepted or its target is gone (ESRCH).
            let mut attempt = attempt;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(1u64 << attempt.min(8)));
                if send_signal(signo, value, tid) != Err(libc::EAGAIN) {
                    break;
                }
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(notify: i32, signo: i32, un0: usize) -> Sigevent {
        Sigevent {
            sigev_value: 7,
            sigev_signo: signo,
            sigev_notify: notify,
            sigev_un0: un0,
            sigev_un1: 0,
            _pad: [0; 8],
        }
    }

    #[test]
    fn validation() {
        let pid = sys::getpid();
        let q = EvQueues::new();
        let v = |e: Sigevent| Notify::from_sigevent(&e, pid, &q);
        let err = |e: Sigevent| v(e).err();
        assert!(matches!(v(ev(SIGEV_NONE, 0, 0)), Ok(Notify::None)));
        assert!(matches!(
            v(ev(SIGEV_SIGNAL, libc::SIGUSR1, 0)),
            Ok(Notify::Signal { signo: libc::SIGUSR1, value: 7, tid: None })
        ));
        assert!(matches!(v(ev(SIGEV_SIGNAL, 0, 0)), Ok(Notify::None)), "zero-filled sigevent");
        for bad in [-1, 32, 33, 65, 1000] {
            assert_eq!(err(ev(SIGEV_SIGNAL, bad, 0)), Some(libc::EINVAL), "signal {bad}");
        }
        assert!(v(ev(SIGEV_SIGNAL, libc::SIGRTMAX(), 0)).is_ok());
        assert_eq!(err(ev(SIGEV_THREAD, 0, 0)), Some(libc::EINVAL), "NULL function");
        assert_eq!(err(ev(99, 0, 0)), Some(libc::EINVAL));
        assert_eq!(err(ev(SIGEV_THREAD_ID, libc::SIGUSR1, 0x7fff_fff0)), Some(libc::EINVAL));
        let me = kernel_aio::gettid() as usize;
        assert!(v(ev(SIGEV_THREAD_ID, libc::SIGUSR1, me)).is_ok());
        // SIGEV_EVENTFD: an eventfd, not any other descriptor.
        assert_eq!(err(ev(SIGEV_EVENTFD, -1, 0)), Some(libc::EBADF));
        assert_eq!(err(ev(SIGEV_EVENTFD, 0x7fff, 0)), Some(libc::EBADF));
        let mut p = [0; 2];
        // SAFETY: plain descriptor creation.
        let efd = unsafe {
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            libc::eventfd(0, libc::EFD_CLOEXEC)
        };
        assert_eq!(err(ev(SIGEV_EVENTFD, p[0], 0)), Some(libc::EINVAL));
        let n = v(ev(SIGEV_EVENTFD, efd, 0)).unwrap();
        assert!(matches!(n, Notify::Eventfd(_)));
        deliver(&n);
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a local.
        assert_eq!(unsafe { libc::read(efd, &mut count as *mut u64 as *mut libc::c_void, 8) }, 8);
        assert_eq!(count, 1);
        drop(n);
        // SAFETY: closing the test's own descriptors.
        unsafe {
            libc::close(efd);
            libc::close(p[0]);
            libc::close(p[1]);
        }
    }
}
