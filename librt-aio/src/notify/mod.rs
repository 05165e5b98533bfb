//! Completion notification: validating a `struct sigevent` at submission into a [`Notify`] (a
//! copy: the application may reuse its aiocb as soon as the status is final), and delivering
//! it after the status is final ([`Notifier`], which owns the notification threads).
//!
//! Never lost: a SIGEV_SIGNAL the kernel refuses for a full real-time signal queue (EAGAIN) is
//! retried with back-off, in order, by one notification thread (however many wait: the others
//! stay free for callbacks); a SIGEV_THREAD callback that cannot get a thread runs on the
//! thread that delivers it.
//!
//! A signal sent from an application thread (a request that completed in its submitting call)
//! runs the application's handler as the send returns, inside that call. A handler that
//! submits again (the classic read chain) would nest one level deeper per request, without
//! bound under SA_NODEFER: a signal this thread sends while a handler runs inside its own send
//! goes through a notification thread instead.

pub mod evq;

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use thread_pool::{Config, Pool, SubmitError};

use crate::abi::{Sigevent, SIGEV_EVENTFD, SIGEV_NONE, SIGEV_SIGNAL, SIGEV_THREAD, SIGEV_THREAD_ID};
use crate::stats::{self, Note};
use crate::sys::{self, Errno};
use evq::{EvQueues, EvTicket};

#[derive(Default)]
pub enum Notify {
    #[default]
    None,
    Signal {
        signo: i32,
        value: usize,
        tid: Option<libc::pid_t>,
    },
    /// SIGEV_THREAD: rtaio's notification threads run it, or a thread of its own when the
    /// application gave attributes.
    Thread(sys::Callback),
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
                if sys::thread_exists(pid, tid) {
                    Ok(Notify::Signal { signo: ev.sigev_signo, value: ev.sigev_value, tid: Some(tid) })
                } else {
                    Err(libc::EINVAL)
                }
            }
            SIGEV_THREAD => ev.callback().map(Notify::Thread).ok_or(libc::EINVAL),
            _ => Err(libc::EINVAL),
        }
    }
}

/// Work for the notification threads.
pub enum Job {
    /// A SIGEV_THREAD callback.
    Call(sys::Callback),
    /// A SIGEV_SIGNAL to send from a notification thread (see the module comment).
    Send(Signal),
    /// Sends the signals the kernel refused for lack of queue space (EAGAIN), in order, until
    /// none is left.
    Retry(Arc<Retry>),
}

/// A signal to send.
#[derive(Clone, Copy)]
pub struct Signal {
    sender: Sender,
    signo: i32,
    value: usize,
    tid: Option<libc::pid_t>,
}

impl Signal {
    fn send(&self) -> Result<(), Errno> {
        self.sender.send(self.signo, self.value, self.tid)
    }
}

/// Signals waiting for room in the signal queue, and whether a thread is retrying them.
#[derive(Default)]
pub struct Retry {
    waiting: Mutex<(VecDeque<Signal>, bool)>,
    /// Signals waiting (read without the lock: a later signal waits behind them).
    len: AtomicUsize,
}

/// Who signals: this process (si_pid), as the user it runs as when it sends (si_uid, read then,
/// as glibc does: a process may change its uid between two requests).
#[derive(Clone, Copy)]
pub struct Sender {
    pub pid: libc::pid_t,
}

impl Sender {
    fn send(&self, signo: i32, value: usize, tid: Option<libc::pid_t>) -> Result<(), Errno> {
        sys::queue_asyncio_signal(self.pid, sys::getuid(), signo, value, tid)
    }
}

/// Delivers notifications; owns the notification threads (reused; a dedicated thread for a
/// SIGEV_THREAD with attributes, as glibc).
pub struct Notifier {
    pool: Pool<Job>,
    sender: Sender,
    retry: Arc<Retry>,
    /// SIGEV_EVENTFD completion queues.
    pub evq: EvQueues,
}

impl Notifier {
    pub fn new(idle: Duration) -> Notifier {
        Notifier {
            pool: Pool::new(
                Config {
                    name: "rtaio-notify",
                    // As glibc, which starts a thread per notification: callbacks that wait for
                    // each other (a barrier of many) must all get one; reused, they exit after
                    // the idle time.
                    max_threads: MAX_NOTIFY_THREADS,
                    short_workers: 0,
                    started_workers: 0,
                    started_stall: thread_pool::STARTED_STALL,
                    idle_timeout: idle,
                    // Application callbacks run here: the stack glibc gives its notification
                    // threads (a thread without attributes), not a small one of rtaio's own
                    // (C notify_thread_stack).
                    stack_size: sys::default_thread_stack(),
                    lanes: 1,
                    before_idle: None,
                },
                pool_job,
            ),
            sender: Sender { pid: sys::getpid() },
            retry: Arc::default(),
            evq: EvQueues::new(),
        }
    }

    pub fn set_idle_timeout(&self, d: Duration) {
        self.pool.set_idle_timeout(d);
    }

    /// Validates a sigevent for this process.
    pub fn validate(&self, ev: &Sigevent) -> Result<Notify, Errno> {
        Notify::from_sigevent(ev, self.sender.pid, &self.evq)
    }

    /// Delivers `n` (after the status it reports is final).
    pub fn deliver(&self, n: &Notify) {
        if stats::on() {
            stats::notified(match n {
                Notify::None => Note::None,
                Notify::Signal { tid: None, .. } => Note::Signal,
                Notify::Signal { tid: Some(_), .. } => Note::ThreadId,
                Notify::Thread(_) => Note::Thread,
                Notify::Eventfd(_) => Note::Eventfd,
            });
        }
        match *n {
            Notify::None => {}
            Notify::Eventfd(ref t) => t.post(),
            Notify::Signal { signo, value, tid } => {
                let sig = Signal { sender: self.sender, signo, value, tid };
                if SENDING.with(|s| s.get()) {
                    self.queue(Job::Send(sig)); // in a handler our own send ran: not deeper
                } else {
                    SENDING.with(|s| s.set(true));
                    self.send_or_retry(sig);
                    SENDING.with(|s| s.set(false));
                }
            }
            Notify::Thread(cb) if cb.has_attributes() => {
                if cb.spawn().is_err() {
                    self.queue(Job::Call(cb));
                } else {
                    stats::thread_started(stats::Thread::Notify);
                }
            }
            Notify::Thread(cb) => self.queue(Job::Call(cb)),
        }
    }

    /// Sends `sig`, or leaves it to the retrying thread if the signal queue is full (or others
    /// already wait: signals go in the order of their completions).
    fn send_or_retry(&self, sig: Signal) {
        if self.retry.len.load(Acquire) == 0 && sig.send() != Err(libc::EAGAIN) {
            return;
        }
        stats::signal_retried();
        let mut w = self.retry.waiting.lock();
        w.0.push_back(sig);
        self.retry.len.store(w.0.len(), Release);
        if !w.1 {
            w.1 = true;
            drop(w);
            self.queue(Job::Retry(self.retry.clone()));
        }
    }

    fn queue(&self, job: Job) {
        match self.pool.submit(job, 0) {
            Ok(()) => {}
            // Not even one notification thread can be created: run it here rather than lose it.
            // Others may have queued behind the thread this submitter failed to start (they saw
            // its reserved slot): run theirs too if no thread is left to.
            Err(SubmitError::NoThread(job, _)) => on_this_thread(|| {
                run_job(job);
                if self.pool.threads() == 0 {
                    self.pool.run_queued_here();
                }
            }),
            Err(SubmitError::Stranded(_)) => on_this_thread(|| self.pool.run_queued_here()),
        }
    }
}

/// The notification threads' task handler. A callback may end its thread (`pthread_exit`, or
/// cancelled: the pool starts another), as it may end glibc's notification thread; one that
/// asked for its own cancellation and returned ends it now, as glibc's thread ends on return,
/// not in the next callback this thread runs.
fn pool_job(job: Job) {
    let call = matches!(job, Job::Call(_));
    run_job(job);
    if call {
        sys::test_cancel();
    }
}

/// Notification threads at most (glibc has no limit but the system's).
const MAX_NOTIFY_THREADS: usize = 1 << 16;

thread_local! {
    /// This thread runs notification jobs that no notification thread could take.
    static BORROWED: Cell<bool> = const { Cell::new(false) };
    /// This thread is sending a signal (a handler running now runs inside that send).
    static SENDING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, whose notification jobs run on this thread, which may be the application's: its
/// signal mask is kept (emptied, it would take the signals it blocks).
fn on_this_thread(f: impl FnOnce()) {
    let was = BORROWED.with(|b| b.replace(true));
    f();
    BORROWED.with(|b| b.set(was));
}

/// Runs a notification job on this thread.
fn run_job(job: Job) {
    match job {
        Job::Call(cb) => {
            // Application callbacks run with an empty signal mask, as glibc's do; the thread
            // blocks everything again afterwards. (Not on a borrowed thread: above.)
            let _mask = (!BORROWED.with(|b| b.get())).then(sys::SignalMask::empty);
            cb.call();
        }
        Job::Send(sig) => {
            // (A full queue: retried here, this one signal, as by the retrying thread.)
            let mut attempt = 0u32;
            while sig.send() == Err(libc::EAGAIN) {
                stats::signal_retried();
                back_off(&mut attempt);
            }
        }
        Job::Retry(r) => {
            // The signal queue is full (RLIMIT_SIGPENDING): keep trying, in order, backing off
            // up to 256 ms while nothing goes, until each is accepted or its target is gone
            // (ESRCH).
            // Sent without the lock: on a thread no notification thread could replace (the
            // application's), a handler may run inside the send and queue a signal here.
            // Only this job takes signals out, so the first one stays first meanwhile.
            let mut attempt = 0u32;
            loop {
                back_off(&mut attempt);
                loop {
                    let Some(sig) = r.waiting.lock().0.front().copied() else { break };
                    if sig.send() == Err(libc::EAGAIN) {
                        stats::signal_retried();
                        break;
                    }
                    let mut w = r.waiting.lock();
                    w.0.pop_front();
                    r.len.store(w.0.len(), Release);
                    attempt = 0;
                }
                let mut w = r.waiting.lock();
                if w.0.is_empty() {
                    w.1 = false;
                    return;
                }
            }
        }
    }
}

/// Sleeps 1 ms, then twice as long each time, up to 256 ms.
fn back_off(attempt: &mut u32) {
    std::thread::sleep(Duration::from_millis(1u64 << (*attempt).min(8)));
    *attempt += 1;
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
        let n = Notifier::new(Duration::from_millis(50));
        let v = |e: Sigevent| n.validate(&e);
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
        assert!(v(ev(SIGEV_THREAD_ID, libc::SIGUSR1, sys::gettid() as usize)).is_ok());
        // SIGEV_EVENTFD: an eventfd, not any other descriptor.
        assert_eq!(err(ev(SIGEV_EVENTFD, -1, 0)), Some(libc::EBADF));
        assert_eq!(err(ev(SIGEV_EVENTFD, 0x7fff, 0)), Some(libc::EBADF));
        let (r, w) = sys::testing::pipe();
        let efd = sys::testing::eventfd();
        assert_eq!(err(ev(SIGEV_EVENTFD, r, 0)), Some(libc::EINVAL));
        let t = v(ev(SIGEV_EVENTFD, efd, 0)).unwrap();
        assert!(matches!(t, Notify::Eventfd(_)));
        n.deliver(&t);
        assert_eq!(sys::testing::read_u64(efd), Some(1));
        drop(t);
        for fd in [efd, r, w] {
            sys::close(fd);
        }
    }
}
