//! The core against a fake executor: the completion sequence, the orders, refusal and cancel,
//! with real descriptors and aiocbs but no I/O (the test plays the executor).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::abi::{Sigevent, AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, SIGEV_NONE, SIGEV_THREAD};
use crate::aiocb::{AiocbRef, Status};
use crate::config;
use crate::core::runtime::Core;
use crate::core::Submission;
use crate::exec::Executor;
use crate::request::{Op, Request};
use crate::sys;

/// Records what it is asked to start; can refuse everything (no thread), or accept cancels.
#[derive(Default)]
struct Fake {
    started: Mutex<Vec<Arc<Request>>>,
    refuse: AtomicBool,
    cancel_ok: AtomicBool,
}

struct Shared(Arc<Fake>);

impl Executor for Shared {
    fn start(&self, reqs: Vec<Arc<Request>>) -> Vec<Arc<Request>> {
        if self.0.refuse.load(SeqCst) {
            return reqs;
        }
        for r in reqs {
            if r.claim() {
                self.0.started.lock().unwrap().push(r);
            }
        }
        Vec::new()
    }

    fn cancel(&self, _req: &Request) -> bool {
        self.0.cancel_ok.load(SeqCst)
    }
}

impl Fake {
    /// The started request whose aiocb is `cb`, taken out of the list.
    fn take(&self, cb: AiocbRef<'static>) -> Option<Arc<Request>> {
        let mut v = self.started.lock().unwrap();
        let i = v.iter().position(|r| r.aiocb_addr() == cb.addr())?;
        Some(v.remove(i))
    }

    fn is_started(&self, cb: AiocbRef<'static>) -> bool {
        self.started.lock().unwrap().iter().any(|r| r.aiocb_addr() == cb.addr())
    }
}

fn core() -> (Core, Arc<Fake>) {
    // (What the library's start does: aiocbs are told apart by their tag. Idempotent.)
    crate::aiocb::init_secret(0);
    let fake = Arc::new(Fake::default());
    (Core::new(&config::current(), Box::new(Shared(fake.clone()))), fake)
}

fn sigevent(notify: i32, func: usize, value: usize) -> Sigevent {
    Sigevent { sigev_value: value, sigev_signo: 0, sigev_notify: notify, sigev_un0: func, sigev_un1: 0, _pad: [0; 8] }
}

/// A request on `fd`: an aiocb that lives forever, filled in as a caller would.
fn cb_on(fd: i32, ev: Sigevent) -> AiocbRef<'static> {
    let cb = AiocbRef::leaked_for_test();
    cb.fill_for_test(fd, ev);
    cb
}

const READ: Submission = Submission { op: Some(Op::Read), vectored: false };
const WRITE: Submission = Submission { op: Some(Op::Write), vectored: false };
const FSYNC: Submission = Submission { op: Some(Op::Sync { data_only: false }), vectored: false };

fn tmpfile(append: bool) -> i32 {
    let path = std::env::temp_dir().join(format!("rtaio-core-{}-{}", std::process::id(), COUNTER.fetch_add(1, SeqCst)));
    let f = std::fs::OpenOptions::new().read(true).write(true).append(append).create(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::fd::IntoRawFd::into_raw_fd(f)
}
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn none() -> Sigevent {
    sigevent(SIGEV_NONE, 0, 0)
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// --- the status is final before the notification ---------------------------------------------

static SEEN: Mutex<Option<Status>> = Mutex::new(None);
static WATCHED: Mutex<Option<AiocbRef<'static>>> = Mutex::new(None);

extern "C" fn record_status(_value: usize) {
    let cb = WATCHED.lock().unwrap().expect("watched aiocb");
    *SEEN.lock().unwrap() = Some(cb.status());
}

#[test]
fn status_is_published_before_the_notification() {
    let (core, fake) = core();
    let fd = tmpfile(false);
    let cb = cb_on(fd, sigevent(SIGEV_THREAD, record_status as *const () as usize, 0));
    *WATCHED.lock().unwrap() = Some(cb);
    core.submit(cb, READ, None, None).unwrap();
    assert_eq!(cb.status(), Status::InProgress);
    let r = fake.take(cb).expect("started");
    core.finish(&r, Ok(5));
    wait_for("the SIGEV_THREAD callback", || SEEN.lock().unwrap().is_some());
    assert_eq!(*SEEN.lock().unwrap(), Some(Status::Done { error: 0, value: 5 }), "final inside the callback");
    assert_eq!(core.outstanding.load(SeqCst), 0);
    assert!(core.fds.all_on(fd).is_empty(), "released from the descriptor table");
    sys::close(fd);
}

// --- the fsync barrier -------------------------------------------------------------------------

#[test]
fn fsync_starts_when_the_earlier_writes_are_final() {
    let (core, fake) = core();
    let fd = tmpfile(false);
    let (w1, w2, f, w3) = (cb_on(fd, none()), cb_on(fd, none()), cb_on(fd, none()), cb_on(fd, none()));
    core.submit(w1, WRITE, None, None).unwrap();
    core.submit(w2, WRITE, None, None).unwrap();
    core.submit(f, FSYNC, None, None).unwrap();
    core.submit(w3, WRITE, None, None).unwrap();
    assert!(fake.is_started(w1) && fake.is_started(w2) && fake.is_started(w3), "writes run in parallel");
    assert!(!fake.is_started(f), "the fsync waits");
    core.finish(&fake.take(w3).unwrap(), Ok(1));
    core.finish(&fake.take(w1).unwrap(), Ok(1));
    assert!(!fake.is_started(f), "a later write does not release it; w2 still runs");
    let r2 = fake.take(w2).unwrap();
    core.finish(&r2, Ok(1));
    assert!(fake.is_started(f), "released once both earlier writes are final");
    assert!(matches!(w2.status(), Status::Done { .. }), "and after their status was published");
    core.finish(&fake.take(f).unwrap(), Ok(0));
    assert_eq!(f.status(), Status::Done { error: 0, value: 0 });
    sys::close(fd);
}

// --- refused: no executor can take the request -------------------------------------------------

static NOTES: AtomicUsize = AtomicUsize::new(0);
extern "C" fn count_note(_value: usize) {
    NOTES.fetch_add(1, SeqCst);
}

#[test]
fn a_request_nothing_can_run_is_refused_with_eagain() {
    let (core, fake) = core();
    fake.refuse.store(true, SeqCst);
    let fd = tmpfile(false);
    let cb = cb_on(fd, sigevent(SIGEV_THREAD, count_note as *const () as usize, 0));
    let before = NOTES.load(SeqCst);
    assert_eq!(core.submit(cb, WRITE, None, None), Err(libc::EAGAIN));
    assert_eq!(cb.status(), Status::Done { error: libc::EAGAIN, value: -1 });
    assert_eq!(core.outstanding.load(SeqCst), 0);
    assert!(core.fds.all_on(fd).is_empty());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(NOTES.load(SeqCst), before, "a refused submission notifies nobody");
    // and resubmission works once an executor takes it
    fake.refuse.store(false, SeqCst);
    core.submit(cb, WRITE, None, None).unwrap();
    core.finish(&fake.take(cb).unwrap(), Ok(3));
    wait_for("the notification", || NOTES.load(SeqCst) == before + 1);
    sys::close(fd);
}

// --- orders ------------------------------------------------------------------------------------

#[test]
fn append_writes_run_one_at_a_time_in_order() {
    let (core, fake) = core();
    let fd = tmpfile(true);
    let cbs: Vec<_> = (0..4).map(|_| cb_on(fd, none())).collect();
    for cb in &cbs {
        core.submit(*cb, WRITE, None, None).unwrap();
    }
    for (i, cb) in cbs.iter().enumerate() {
        assert!(fake.is_started(*cb), "append {i} runs");
        for later in &cbs[i + 1..] {
            assert!(!fake.is_started(*later), "a later append waits");
        }
        core.finish(&fake.take(*cb).unwrap(), Ok(1));
    }
    sys::close(fd);
}

#[test]
fn a_stream_orders_each_direction_and_queued_requests_cancel() {
    let (core, fake) = core();
    let (r, w) = sys::testing::pipe();
    let (r1, r2, r3) = (cb_on(r, none()), cb_on(r, none()), cb_on(r, none()));
    core.submit(r1, READ, None, None).unwrap();
    core.submit(r2, READ, None, None).unwrap();
    core.submit(r3, READ, None, None).unwrap();
    let (w1, w2) = (cb_on(w, none()), cb_on(w, none()));
    core.submit(w1, WRITE, None, None).unwrap();
    core.submit(w2, WRITE, None, None).unwrap();
    assert!(fake.is_started(r1) && fake.is_started(w1), "one of each direction runs");
    assert!(!fake.is_started(r2) && !fake.is_started(r3) && !fake.is_started(w2));
    // queued behind the running read: cancellable; the running one is not
    assert_eq!(core.cancel(r, Some(r3.addr())), AIO_CANCELED);
    assert_eq!(r3.status(), Status::Done { error: libc::ECANCELED, value: -1 });
    assert_eq!(core.cancel(r, Some(r1.addr())), AIO_NOTCANCELED);
    core.finish(&fake.take(r1).unwrap(), Ok(1));
    assert!(fake.is_started(r2), "the next read starts when the first is final");
    core.finish(&fake.take(w1).unwrap(), Ok(1));
    assert!(fake.is_started(w2));
    core.finish(&fake.take(r2).unwrap(), Ok(1));
    core.finish(&fake.take(w2).unwrap(), Ok(1));
    assert_eq!(core.cancel(r, None), AIO_ALLDONE);
    assert_eq!(core.outstanding.load(SeqCst), 0);
    sys::close(r);
    sys::close(w);
}

// --- cancel racing completion ------------------------------------------------------------------

#[test]
fn cancel_racing_completion_answers_consistently() {
    let (core, fake) = core();
    let core: &'static Core = Box::leak(Box::new(core));
    let fd = tmpfile(true);
    for round in 0..200 {
        // a running append and one queued behind it; the test finishes the first while
        // another thread cancels everything on the descriptor
        let (a, b) = (cb_on(fd, none()), cb_on(fd, none()));
        core.submit(a, WRITE, None, None).unwrap();
        core.submit(b, WRITE, None, None).unwrap();
        let ra = fake.take(a).unwrap();
        let canceller = std::thread::spawn(move || core.cancel(fd, None));
        core.finish(&ra, Ok(1));
        let answer = canceller.join().unwrap();
        // b either got cancelled, or started when a's release came first
        if let Some(rb) = fake.take(b) {
            core.finish(&rb, Ok(1));
        }
        let (sa, sb) = (a.status(), b.status());
        assert_eq!(sa, Status::Done { error: 0, value: 1 }, "round {round}");
        match answer {
            AIO_CANCELED => assert_eq!(sb, Status::Done { error: libc::ECANCELED, value: -1 }, "round {round}"),
            AIO_NOTCANCELED | AIO_ALLDONE => {
                assert_ne!(sb, Status::InProgress, "round {round}: every request is final by now")
            }
            x => panic!("round {round}: aio_cancel answered {x}"),
        }
        if answer == AIO_ALLDONE {
            assert_ne!(sb, Status::Done { error: libc::ECANCELED, value: -1 }, "ALLDONE but cancelled");
        }
    }
    sys::close(fd);
}

// --- the depth the application keeps -----------------------------------------------------------

#[test]
fn a_reused_aiocb_leaves_the_depth_its_unretrieved_status_held() {
    let (core, fake) = core();
    let fd = tmpfile(false);
    let cb = cb_on(fd, none());
    let depth = || core.unreturned.load(SeqCst);
    for round in 0..3 {
        core.submit(cb, WRITE, None, None).unwrap();
        assert_eq!(depth(), 1, "round {round}: one request of the application's");
        core.finish(&fake.take(cb).unwrap(), Ok(1));
        assert_eq!(cb.status(), Status::Done { error: 0, value: 1 });
        // not retrieved: the next submission takes the aiocb over
    }
    assert_eq!(cb.take_return(|_| Ok(())), Ok(1));
    core.note_returned();
    assert_eq!(depth(), 0);
    sys::close(fd);
}

#[test]
fn a_refused_resubmission_leaves_the_depth_alone() {
    let (core, fake) = core();
    let fd = tmpfile(false);
    let cb = cb_on(fd, none());
    let depth = || core.unreturned.load(SeqCst);
    core.submit(cb, WRITE, None, None).unwrap();
    core.finish(&fake.take(cb).unwrap(), Ok(1));
    assert_eq!(depth(), 1, "done, not retrieved");
    // The same aiocb with a sigevent nobody accepts: refused twice, its status still there.
    cb.fill_for_test(fd, sigevent(99, 0, 0));
    for _ in 0..2 {
        assert_eq!(core.submit(cb, WRITE, None, None), Err(libc::EINVAL));
    }
    assert_eq!(depth(), 1, "the unretrieved status is still the application's");
    cb.fill_for_test(fd, none());
    core.submit(cb, WRITE, None, None).unwrap();
    assert_eq!(depth(), 1, "its successor replaces it");
    core.finish(&fake.take(cb).unwrap(), Ok(1));
    sys::close(fd);
}

#[test]
fn a_stream_write_partly_done_is_not_cancelled_while_its_rest_is_queued() {
    // io_uring wrote a part, the pool has the rest queued (`uring.rs`): aio_cancel finds it in
    // progress, a part already in the stream, and leaves it to complete.
    let (core, fake) = core();
    let fd = tmpfile(false);
    let cb = cb_on(fd, none());
    core.submit(cb, WRITE, None, None).unwrap();
    let r = fake.take(cb).unwrap();
    r.progress.store(3, SeqCst);
    r.to_pool();
    r.unclaim(); // queued again, as `redo_on` leaves it
    assert_eq!(core.cancel(fd, Some(cb.addr())), AIO_NOTCANCELED);
    assert_eq!(cb.status(), Status::InProgress);
    assert!(r.claim(), "still the pool's to run");
    core.finish(&r, Ok(8));
    assert_eq!(cb.status(), Status::Done { error: 0, value: 8 });
    // Given back with no thread to run the rest: the part, not EAGAIN.
    let cb2 = cb_on(fd, none());
    core.submit(cb2, WRITE, None, None).unwrap();
    let r2 = fake.take(cb2).unwrap();
    r2.progress.store(5, SeqCst);
    r2.unclaim();
    assert_eq!(crate::exec::given_back(&r2), Some(Ok(5)));
    core.finish(&r2, Ok(5));
    sys::close(fd);
}
