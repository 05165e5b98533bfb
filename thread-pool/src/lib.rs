//! A work-stealing thread pool for a library that lives inside someone else's process.
//!
//! Design:
//! - Tasks submitted from outside the pool go to one of `lanes` FIFO [`Injector`]s; lane 0 is
//!   the most urgent. A worker takes the most urgent task available.
//! - Tasks submitted from inside a worker (follow-up work a task releases) go to that worker's
//!   own deque, which idle workers steal from.
//! - Threads start lazily (no thread exists before the first task), are created with every
//!   signal blocked (the creating thread blocks all signals around `spawn`, so there is no
//!   window in which the new thread could take a signal), are bounded by `max_threads`, and exit
//!   after `idle_timeout` without work.
//! - Parking uses one futex word (`wake_seq`) and a count of parked workers; a wake-up goes to
//!   the worker that parked last, if it still sleeps (a bit of its own in the futex's wait
//!   bitset). A submitter wakes (or starts) a worker only when the queued tasks outnumber the
//!   workers already searching for work (a woken worker counts from its wake-up on); a
//!   searcher that takes a task while more remain passes the word on. So a burst of blocking
//!   tasks fans out to as many threads as it needs, and a task never waits behind a blocking one
//!   while the pool may still grow.
//! - Short tasks ([`Pool::submit_short`]: work that does not wait for a device, such as a
//!   buffered write) do not fan out: while only short tasks wait, a submitter wakes a worker
//!   only if none is searching and fewer than `short_workers` run short tasks (more runnable
//!   threads than cores only take turns, and wake-ups cost more than the work). Those workers
//!   take the queued ones in turn.
//! - Started tasks ([`Pool::submit_started`]: waiting for work already under way elsewhere, such
//!   as a device read begun at submission) do not fan out either: up to `started_workers` wait
//!   for them in turn, in submission order. If none of those has taken a started task for
//!   `started_stall` ([`STARTED_STALL`]) while some wait (a device that stopped answering, a read that was not
//!   started after all), the bound lifts for one more worker at a time, so one stuck task
//!   never holds up the others for good.
//! - A worker that finds no work after a short task spins briefly before it parks (one at a
//!   time): a submitter that sees it searching wakes nobody, so a steady stream of short tasks
//!   costs no futex calls. With one CPU it yields that CPU once instead (the submitter it
//!   would wait for needs it), still searching for short tasks; for other tasks a yielding
//!   worker does not count, since it runs again only when the submitter sleeps or its time
//!   slice ends.
//!
//! Who wakes whom: `submit` pushes, then (SeqCst) reads the parked count; a parking worker
//! increments it, then (SeqCst) re-checks the queues before sleeping on `wake_seq`. Either the
//! submitter sees the sleeper and bumps `wake_seq`, or the worker sees the task. A submitter
//! that wakes a worker claims it (`Parked`): from then on the worker counts as searching, though
//! it has not run yet, so the next submitters do not wake another one for the same work (with
//! one CPU, the woken worker may not run before the submitter blocks: without the claim every
//! submission woke one more). An idle worker leaving the pool decrements `threads` and then
//! re-checks the queues, and a submitter re-checks `threads` after its push, so a task is never
//! left with no thread to run it.
//!
//! A pool does not survive `fork()` in the child (its threads do not exist there): the owner
//! must forget it in the child, build a new one, and call [`after_fork_child`].
//!
//! A task may end its thread (`pthread_exit`, cancellation: an application's callback may): the
//! thread's exit tells the pool, which uncounts the worker and passes its queued tasks on.
//!
//! Its system calls (thread creation, futex, signal mask, sched_yield) are in `sys.rs`.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use parking_lot::RwLock;

mod spin;
mod sys;

pub use spin::{cpus, SpinBudget};

/// Pool settings. `max_threads` and `idle_timeout` can be changed later.
#[derive(Clone, Debug)]
pub struct Config {
    pub name: &'static str,
    pub max_threads: usize,
    /// Workers that may run short tasks at once (0: the CPUs available, less one for the
    /// submitter, at least one).
    pub short_workers: usize,
    /// Workers that may wait for started tasks at once (0: the CPUs available, from 2 to 4).
    pub started_workers: usize,
    /// How long those may go without taking a started task, while others wait, before one
    /// more worker may take one ([`STARTED_STALL`] by default).
    pub started_stall: Duration,
    pub idle_timeout: Duration,
    pub stack_size: usize,
    pub lanes: usize,
    /// Called on a worker each time it runs out of tasks, before it yields, spins or parks.
    pub before_idle: Option<fn()>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: "pool",
            max_threads: 16,
            short_workers: 0,
            started_workers: 0,
            started_stall: STARTED_STALL,
            idle_timeout: Duration::from_secs(1),
            stack_size: 256 << 10,
            lanes: 1,
            before_idle: None,
        }
    }
}

/// Why a task could not be accepted.
#[derive(Debug)]
pub enum SubmitError<T> {
    /// No worker thread exists and none could be started; the task was not queued. Tasks that
    /// other submitters queued meanwhile, counting on the thread this one failed to start, may
    /// be stranded too: if `threads()` is 0 the caller should also take or run the queue.
    NoThread(T, io::Error),
    /// The task was queued, but the only worker thread that could run it has just exited and a
    /// new one could not be started. The caller should withdraw it (it may still run if a thread
    /// appears later).
    Stranded(io::Error),
}

/// A pool running `handler(task)` for every submitted task.
pub struct Pool<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

/// A queued task, and its class.
struct Job<T> {
    task: T,
    class: Class,
    /// Its lane (priority), kept for a follow-up queued in a worker's own deque.
    lane: usize,
}

/// How a task uses the thread that runs it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// May block for long ([`Pool::submit`]): a thread of its own if the pool can grow.
    Long = 0,
    /// Does not block ([`Pool::submit_short`]): a few workers run them in turn.
    Short = 1,
    /// Waits for work already under way elsewhere ([`Pool::submit_started`]): a few workers
    /// wait for them in turn.
    Started = 2,
}

/// Shared lanes per priority lane: one per class.
const CLASSES: usize = 3;

struct Inner<T> {
    /// Three per lane: index `CLASSES * lane + class` (a worker takes short and started ones
    /// only within the `short_workers` and `started_workers` bounds).
    lanes: Box<[Injector<Job<T>>]>,
    stealers: RwLock<Vec<(u64, Stealer<Job<T>>)>>,
    handler: Box<dyn Fn(T) + Send + Sync>,
    name: &'static str,
    stack_size: usize,
    max_threads: AtomicUsize,
    idle_ms: AtomicU64,
    threads: AtomicUsize,
    /// Workers running a task.
    active: AtomicUsize,
    /// Workers running a short task.
    active_short: AtomicUsize,
    /// Workers waiting for a started task.
    active_started: AtomicUsize,
    /// When a worker last took a started task (microseconds since `epoch`).
    started_taken: AtomicU64,
    started_stall: Duration,
    epoch: Instant,
    /// Long tasks queued and not yet taken.
    queued_long: AtomicUsize,
    /// Started tasks queued and not yet taken.
    queued_started: AtomicUsize,
    /// Workers spinning before they park (at most one).
    spinning: AtomicUsize,
    /// Workers that gave the CPU up once before parking (one CPU only): searching for short
    /// tasks, not for the others.
    yielding: AtomicUsize,
    /// Parked workers whose sleep is bounded by `started_stall` (they watch over started tasks).
    watching: AtomicUsize,
    /// Follow-ups waiting in the workers' own deques (pushed by a task, not yet taken).
    in_deques: AtomicUsize,
    /// Short tasks taken in a row while a task that may block waited in the same lane (it
    /// goes first once SHORT_AHEAD_MAX did).
    short_ahead: AtomicUsize,
    before_idle: Option<fn()>,
    short_workers: usize,
    started_workers: usize,
    parked: Parked,
    wake_seq: AtomicU32,
    /// The worker that parked last (its id), whom `wake_one` wakes first.
    last_parked: AtomicU64,
    next_worker_id: AtomicU64,
}

/// The worker running on this thread: its pool (`Arc::as_ptr` of the pool's `Inner`, as an
/// identity; and the pool itself, type-erased), its id and its own deque (a `Worker<T>`,
/// type-erased: a thread-local cannot be generic).
struct Local {
    pool: usize,
    owner: Arc<dyn Owner>,
    id: u64,
    deque: Box<dyn Any>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
    /// The class of the task this worker runs now, if any: set around the handler's call.
    static IN_TASK: Cell<Option<Class>> = const { Cell::new(None) };
}

/// A worker's `Local` is dropped when it leaves its loop, or by the thread's exit if its
/// thread ended inside a task (`pthread_exit` or cancellation in an application's callback):
/// then nothing after the task ran, and the pool is told.
impl Drop for Local {
    fn drop(&mut self) {
        if let Some(class) = IN_TASK.with(|c| c.take()) {
            self.owner.clone().lost(self.id, class, &*self.deque);
        }
    }
}

/// To be called in the child after fork(), in its one thread. If that thread was running a
/// task of a pool (the task forked), the pool is the parent's, copied and dead here: the
/// thread's exit in the child (a callback's child calling exit) must not report to it (its
/// locks may be held by parent threads that do not exist here). Async-signal-safe.
pub fn after_fork_child() {
    IN_TASK.with(|c| c.set(None));
    FORK_GEN.fetch_add(1, SeqCst);
}

/// Forks that made this process (a child's count is its parent's plus one): a worker whose
/// task returns in a child of the fork it was made before leaves at once.
static FORK_GEN: AtomicU64 = AtomicU64::new(0);

/// A pool, type-erased, for a worker's thread-exit path.
trait Owner: Send + Sync {
    /// The worker `id` ended with its thread inside a task of `class`: undo what the worker
    /// would have undone after the task and on leaving, move the tasks queued on its deque
    /// to the shared lanes, and start a worker for them if needed.
    fn lost(self: Arc<Self>, id: u64, class: Class, deque: &dyn Any);
}

impl<T: Send + 'static> Owner for Inner<T> {
    fn lost(self: Arc<Self>, id: u64, class: Class, deque: &dyn Any) {
        self.task_done(class);
        if let Some(local) = deque.downcast_ref::<Worker<Job<T>>>() {
            while let Some(job) = local.pop() {
                self.in_deques.fetch_sub(1, SeqCst);
                self.lanes[CLASSES * job.lane + job.class as usize].push(job);
            }
        }
        self.forget_stealer(id);
        self.threads.fetch_sub(1, SeqCst);
        fence(SeqCst);
        if self.has_work() {
            let _ = Pool { inner: self }.notify();
        }
    }
}

/// Runs `f` on this thread's deque if this thread is a worker of the pool `pool`.
fn with_local<T: 'static, R>(pool: usize, f: impl FnOnce(&Worker<T>) -> R) -> Option<R> {
    LOCAL.with(|l| {
        let l = l.borrow();
        let local = l.as_ref().filter(|l| l.pool == pool)?;
        local.deque.downcast_ref::<Worker<T>>().map(f)
    })
}

/// Called, in the creating thread, each time a worker thread starts (its pool's name).
static ON_THREAD_START: OnceLock<fn(&'static str)> = OnceLock::new();

/// Registers `f` to be called each time any pool starts a worker thread, with the pool's
/// name (statistics). The first registration is kept.
pub fn on_thread_start(f: fn(&'static str)) {
    let _ = ON_THREAD_START.set(f);
}

impl<T: Send + 'static> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool { inner: self.inner.clone() }
    }
}

impl<T: Send + 'static> Pool<T> {
    pub fn new(cfg: Config, handler: impl Fn(T) + Send + Sync + 'static) -> Self {
        let lanes = (0..CLASSES * cfg.lanes.max(1)).map(|_| Injector::new()).collect();
        Pool {
            inner: Arc::new(Inner {
                lanes,
                stealers: RwLock::new(Vec::new()),
                handler: Box::new(handler),
                name: cfg.name,
                stack_size: cfg.stack_size,
                max_threads: AtomicUsize::new(cfg.max_threads.max(1)),
                idle_ms: AtomicU64::new(cfg.idle_timeout.as_millis().max(1) as u64),
                threads: AtomicUsize::new(0),
                active: AtomicUsize::new(0),
                active_short: AtomicUsize::new(0),
                active_started: AtomicUsize::new(0),
                started_taken: AtomicU64::new(0),
                started_stall: cfg.started_stall,
                epoch: Instant::now(),
                queued_long: AtomicUsize::new(0),
                queued_started: AtomicUsize::new(0),
                spinning: AtomicUsize::new(0),
                yielding: AtomicUsize::new(0),
                watching: AtomicUsize::new(0),
                in_deques: AtomicUsize::new(0),
                short_ahead: AtomicUsize::new(0),
                before_idle: cfg.before_idle,
                short_workers: if cfg.short_workers > 0 {
                    cfg.short_workers
                } else {
                    spin::cpus().saturating_sub(1).max(1)
                },
                started_workers: if cfg.started_workers > 0 { cfg.started_workers } else { spin::cpus().clamp(2, 4) },
                parked: Parked(AtomicU64::new(0)),
                wake_seq: AtomicU32::new(0),
                last_parked: AtomicU64::new(0),
                next_worker_id: AtomicU64::new(0),
            }),
        }
    }

    pub fn lanes(&self) -> usize {
        self.inner.lanes.len() / CLASSES
    }

    pub fn set_max_threads(&self, n: usize) {
        self.inner.max_threads.store(n.max(1), SeqCst);
        // Let sleepers notice a lower bound.
        self.inner.wake_all();
    }

    pub fn max_threads(&self) -> usize {
        self.inner.max_threads.load(Relaxed)
    }

    pub fn set_idle_timeout(&self, d: Duration) {
        self.inner.idle_ms.store(d.as_millis().max(1) as u64, Relaxed);
    }

    /// Worker threads alive now.
    pub fn threads(&self) -> usize {
        self.inner.threads.load(SeqCst)
    }

    /// Worker threads parked waiting for work now, less those a submitter has woken.
    pub fn sleepers(&self) -> usize {
        self.inner.parked.unclaimed()
    }

    /// Queues `task` in `lane` (clamped to the last lane) and makes sure a worker will run it.
    /// From a worker of this pool the task goes to that worker's own deque instead.
    pub fn submit(&self, task: T, lane: usize) -> Result<(), SubmitError<T>> {
        self.submit_job(Job { task, class: Class::Long, lane }, lane)
    }

    /// [`Pool::submit`] for a task that does not wait for a device or for another task (a
    /// buffered write, a page-cache read): it does not get a worker of its own, only one of
    /// the few that run short tasks in turn.
    pub fn submit_short(&self, task: T, lane: usize) -> Result<(), SubmitError<T>> {
        self.submit_job(Job { task, class: Class::Short, lane }, lane)
    }

    /// [`Pool::submit`] for a task that waits for work already under way elsewhere (a read
    /// the device was asked for at submission): a thread waiting for it does not make it
    /// finish sooner, so such tasks do not fan out either; up to `started_workers` workers
    /// wait for them in turn, in submission order, while the device works on all of them.
    pub fn submit_started(&self, task: T, lane: usize) -> Result<(), SubmitError<T>> {
        self.submit_job(Job { task, class: Class::Started, lane }, lane)
    }

    fn submit_job(&self, mut job: Job<T>, lane: usize) -> Result<(), SubmitError<T>> {
        let inner = &self.inner;
        let class = job.class;
        let lane = lane.min(inner.lanes.len() / CLASSES - 1);
        job.lane = lane;
        inner.queued(class).map(|q| q.fetch_add(1, SeqCst));
        let mut task = Some(job);
        let local = with_local::<Job<T>, _>(inner.id(), |w| {
            inner.in_deques.fetch_add(1, SeqCst);
            w.push(task.take().expect("pushed once"))
        });
        if local.is_some() {
            fence(SeqCst);
            // This worker is busy running the task that submitted it (which may block, or
            // wait for this very task): make sure another worker can steal it.
            let _ = self.notify();
            return Ok(());
        }
        let task = task.expect("not pushed locally");
        if inner.threads.load(SeqCst) == 0 {
            // Start the first thread before queueing, so that failure leaves nothing queued.
            if let Err(e) = self.spawn_worker() {
                if inner.threads.load(SeqCst) == 0 {
                    inner.queued(class).map(|q| q.fetch_sub(1, SeqCst));
                    return Err(SubmitError::NoThread(task.task, e));
                }
            }
        }
        inner.lanes[CLASSES * lane + class as usize].push(task);
        fence(SeqCst);
        match self.notify() {
            Err(e) if inner.threads.load(SeqCst) == 0 => Err(SubmitError::Stranded(e)),
            _ => Ok(()),
        }
    }

    /// Makes sure enough workers will look at the queues: nothing if the workers already
    /// searching outnumber the queued tasks (they will take them, and pass the word on if more
    /// remain), else wake a sleeper, else start a thread if below the limit.
    fn notify(&self) -> io::Result<()> {
        let inner = &self.inner;
        let threads = inner.threads.load(SeqCst);
        let active = inner.active.load(SeqCst);
        // (A claimed worker is about to search: it is no longer counted as parked.)
        let searching = threads.saturating_sub(active + inner.parked.unclaimed());
        if inner.queued_long.load(SeqCst) == 0 {
            // Only short and started tasks wait: a searching worker takes them, and the
            // workers running tasks of their class take the rest in turn.
            let covered = |active: &AtomicUsize, bound: usize| searching > 0 || active.load(SeqCst) >= bound;
            if inner.queued_started.load(SeqCst) > 0 {
                if !covered(&inner.active_started, inner.started_workers) || searching == 0 && inner.started_stalled() {
                    // (A woken worker takes a short task first if it finds one: either way
                    // the started ones waiting have a worker more.)
                } else if (!inner.short_queued() || covered(&inner.active_short, inner.short_workers))
                    && (searching > 0 || inner.watching.load(SeqCst) > 0)
                {
                    // (With nobody searching or watching, a worker is woken or started to watch
                    // over those waiting for started tasks: see the wait in `worker_main`.)
                    return Ok(());
                }
            } else if covered(&inner.active_short, inner.short_workers) {
                return Ok(());
            }
        } else {
            // A worker that yielded its CPU runs again only when the caller sleeps or its time
            // slice ends: not soon enough for a task that may wait for the device.
            let searching = searching.saturating_sub(inner.yielding.load(SeqCst));
            // Started tasks beyond their workers' bound are not a searcher's to take: of those
            // queued, only as many count as the bound leaves room for. (Counting them all, a
            // burst of started tasks on a busy machine, whose new threads had not run yet to
            // take any, started a thread per task: 13 within a millisecond in make test's
            // fio readback under two busy loops, 5-33 pool threads in all for 64 reads in
            // flight; now 4.)
            let queued_started = inner.queued_started.load(SeqCst);
            let room = inner.started_workers.saturating_sub(inner.active_started.load(SeqCst));
            let takeable = inner.queued_all().saturating_sub(queued_started) + queued_started.min(room);
            if searching > 0 && searching >= takeable {
                return Ok(());
            }
        }
        if inner.parked.claim() {
            inner.wake_one();
            return Ok(());
        }
        if threads < inner.max_threads.load(Relaxed) {
            return self.spawn_worker();
        }
        Ok(())
    }

    /// A worker gave its CPU up and waits for it (one CPU only): a thread that polls for a task's
    /// completion should give the CPU up too. Async-signal-safe (one atomic load).
    pub fn worker_yielding(&self) -> bool {
        self.inner.yielding.load(SeqCst) > 0
    }

    /// Short tasks queued in the shared lanes or running now, if a short task submitted now
    /// would find a thread (a snapshot); None when every thread the pool may have is busy with
    /// a task that is not short (which may never end: a read of an empty pipe).
    pub fn short_backlog(&self) -> Option<usize> {
        let inner = &self.inner;
        let short = inner.active_short.load(SeqCst);
        let long = inner.active.load(SeqCst).saturating_sub(short);
        if long >= inner.max_threads.load(Relaxed) {
            return None;
        }
        Some(short + inner.lanes.iter().skip(Class::Short as usize).step_by(CLASSES).map(|l| l.len()).sum::<usize>())
    }

    /// Removes and returns every task waiting in the shared lanes: for an owner that found the
    /// pool without a thread and unable to start one, so it can fail those tasks rather than
    /// leave them queued with nothing to run them.
    pub fn take_queued(&self) -> Vec<T> {
        let mut out = Vec::new();
        for l in self.inner.lanes.iter() {
            loop {
                match l.steal() {
                    Steal::Success(t) => out.push(self.inner.taken(t)),
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
        out
    }

    /// Runs queued tasks on the calling thread until the shared lanes are empty. The last resort
    /// for work that must not be lost when no thread can be created at all.
    pub fn run_queued_here(&self) {
        while let Some(t) = self.inner.lanes.iter().find_map(|l| loop {
            match l.steal() {
                Steal::Success(t) => break Some(t),
                Steal::Empty => break None,
                Steal::Retry => continue,
            }
        }) {
            (self.inner.handler)(self.inner.taken(t));
        }
    }

    fn spawn_worker(&self) -> io::Result<()> {
        let inner = &self.inner;
        // Reserve the slot first so concurrent submitters do not overshoot max_threads.
        let mut n = inner.threads.load(SeqCst);
        loop {
            if n >= inner.max_threads.load(Relaxed) {
                return Ok(());
            }
            match inner.threads.compare_exchange_weak(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(cur) => n = cur,
            }
        }
        let id = inner.next_worker_id.fetch_add(1, Relaxed);
        let local = Worker::<Job<T>>::new_fifo();
        inner.stealers.write().push((id, local.stealer()));
        let me = self.inner.clone();
        // Every signal blocked while the thread is made: it inherits that mask from its first instruction.
        let guard = sys::BlockAll::new();
        let r = sys::spawn_detached(&format!("{}-{}", inner.name, id), inner.stack_size, move || {
            worker_main(me, id, local)
        });
        drop(guard);
        match r {
            Ok(_) => {
                if let Some(f) = ON_THREAD_START.get() {
                    f(inner.name);
                }
                Ok(())
            }
            Err(e) => {
                inner.forget_stealer(id);
                inner.threads.fetch_sub(1, SeqCst);
                Err(e)
            }
        }
    }
}

/// Workers between parking and leaving their wait: those not yet claimed (low 32 bits), and
/// claims not yet taken up (high 32 bits). A submitter that wakes a worker claims one
/// unclaimed unit; the next worker to leave its wait takes the claim up instead of uncounting
/// itself. Each unit belongs to a worker that will leave its wait (woken, `wake_seq` moved
/// before it slept, or timed out), so no claim outlives the wake-up it stands for.
struct Parked(AtomicU64);

const CLAIM: u64 = 1 << 32;
const UNCLAIMED: u64 = CLAIM - 1;

impl Parked {
    fn unclaimed(&self) -> usize {
        (self.0.load(SeqCst) & UNCLAIMED) as usize
    }

    #[cfg(test)]
    fn claims(&self) -> u64 {
        self.0.load(SeqCst) >> 32
    }

    /// A worker is about to wait.
    fn enter(&self) {
        self.0.fetch_add(1, SeqCst);
    }

    /// A worker stops waiting (or decides not to): true if it took up a claim, i.e. a
    /// submitter woke it for work and counts it as searching.
    fn leave(&self) -> bool {
        let mut v = self.0.load(SeqCst);
        loop {
            let claimed = v >= CLAIM;
            let next = if claimed { v - CLAIM } else { v - 1 };
            match self.0.compare_exchange_weak(v, next, SeqCst, SeqCst) {
                Ok(_) => return claimed,
                Err(cur) => v = cur,
            }
        }
    }

    /// Claims an unclaimed parked worker, for a wake-up: false if there is none.
    fn claim(&self) -> bool {
        let mut v = self.0.load(SeqCst);
        loop {
            if v & UNCLAIMED == 0 {
                return false;
            }
            match self.0.compare_exchange_weak(v, v - 1 + CLAIM, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => v = cur,
            }
        }
    }
}

impl<T> Inner<T> {
    fn id(&self) -> usize {
        self as *const Self as usize
    }

    /// The count of queued tasks of `class`, if it keeps one.
    fn queued(&self, class: Class) -> Option<&AtomicUsize> {
        match class {
            Class::Long => Some(&self.queued_long),
            Class::Short => None,
            Class::Started => Some(&self.queued_started),
        }
    }

    /// A job leaves the queues: its task.
    fn taken(&self, job: Job<T>) -> T {
        self.queued(job.class).map(|q| q.fetch_sub(1, SeqCst));
        job.task
    }

    /// Wakes one sleeping worker: the one that parked last if it still sleeps (its cache and
    /// its core are the warmest; the futex's own order would take the one asleep longest, so
    /// that a trickle of blocking tasks rotates through every worker), else any.
    fn wake_one(&self) {
        self.wake_seq.fetch_add(1, SeqCst);
        let bit = wake_bit(self.last_parked.load(SeqCst));
        if sys::futex_wake(&self.wake_seq, 1, bit) == 0 {
            sys::futex_wake(&self.wake_seq, 1, u32::MAX);
        }
    }

    fn wake_all(&self) {
        self.wake_seq.fetch_add(1, SeqCst);
        sys::futex_wake(&self.wake_seq, i32::MAX, u32::MAX);
    }

    /// Tasks waiting in the shared lanes (a snapshot).
    fn queued_all(&self) -> usize {
        self.lanes.iter().map(|l| l.len()).sum()
    }

    /// Short tasks waiting in the shared lanes (a snapshot).
    fn short_queued(&self) -> bool {
        self.lanes.iter().skip(Class::Short as usize).step_by(CLASSES).any(|l| !l.is_empty())
    }

    fn lanes_nonempty(&self) -> bool {
        self.lanes.iter().any(|l| !l.is_empty())
    }

    /// No worker took a started task for `started_stall`: those running them may be stuck.
    fn started_stalled(&self) -> bool {
        self.micros().saturating_sub(self.started_taken.load(SeqCst)) >= self.started_stall.as_micros() as u64
    }

    fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// Work this worker may take: a task that is not short, a short one while fewer than
    /// `short_workers` run short tasks, a started one while fewer than `started_workers` wait
    /// for started tasks (or those stalled), or a task in a worker's deque.
    fn has_work(&self) -> bool {
        let short_ok = self.active_short.load(SeqCst) < self.short_workers;
        let started_ok = self.active_started.load(SeqCst) < self.started_workers || self.started_stalled();
        let may = |i: usize| match i % CLASSES {
            0 => true,
            1 => short_ok,
            _ => started_ok,
        };
        self.lanes.iter().enumerate().any(|(i, l)| may(i) && !l.is_empty())
            || self.stealers.read().iter().any(|(_, s)| !s.is_empty())
    }

    /// The count of workers running tasks of `class`, and its bound, if it has one.
    fn bounded(&self, class: Class) -> Option<(&AtomicUsize, usize)> {
        match class {
            Class::Long => None,
            Class::Short => Some((&self.active_short, self.short_workers)),
            Class::Started => Some((&self.active_started, self.started_workers)),
        }
    }

    /// Counts this worker among those running tasks of `class`, if the bound allows.
    fn reserve(&self, class: Class) -> bool {
        let Some((active, bound)) = self.bounded(class) else { return true };
        let mut n = active.load(SeqCst);
        loop {
            if n >= bound {
                return false;
            }
            match active.compare_exchange_weak(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => n = cur,
            }
        }
    }

    /// Uncounts this worker from those running tasks of `class`.
    fn unreserve(&self, class: Class) {
        if let Some((active, _)) = self.bounded(class) {
            active.fetch_sub(1, SeqCst);
        }
    }

    /// A worker is done with a task of `class` (it returned, or ended its thread).
    fn task_done(&self, class: Class) {
        self.unreserve(class);
        self.active.fetch_sub(1, SeqCst);
    }

    /// The worker `id` is gone (or was never started): nobody steals from its deque any more.
    fn forget_stealer(&self, id: u64) {
        self.stealers.write().retain(|(i, _)| *i != id);
    }

    /// Counts a worker in (`joining`: while below the limit) or out (while above it), as one
    /// step against concurrent changes. True if it was counted.
    fn count_thread(&self, joining: bool) -> bool {
        let mut n = self.threads.load(SeqCst);
        loop {
            let max = self.max_threads.load(Relaxed);
            let (allowed, next) = if joining { (n < max, n + 1) } else { (n > max, n.wrapping_sub(1)) };
            if !allowed {
                return false;
            }
            match self.threads.compare_exchange_weak(n, next, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => n = cur,
            }
        }
    }

    /// The most urgent task this worker may take; a short or started one is counted among
    /// the workers running its class (the worker uncounts it once it ran).
    fn find_task(&self, local: &Worker<Job<T>>, my_id: u64) -> Option<Job<T>> {
        // `reserved_short`: this worker counted itself among the short ones before it looked.
        let counted = |t: Job<T>, reserved_short: bool| {
            if reserved_short && t.class != Class::Short {
                self.unreserve(Class::Short);
            }
            if t.class != Class::Short || !reserved_short {
                if let Some((active, _)) = self.bounded(t.class) {
                    active.fetch_add(1, SeqCst);
                }
            }
            Some(t)
        };
        // Its own follow-ups first (it is the one that runs them in turn), unless tasks as
        // urgent wait in the shared lanes, queued before: then the follow-up joins its lane
        // behind them (lower lane first, FIFO within one, as the pool promises; with one
        // thread, a released read that blocks kept more urgent ones waiting for ever).
        if let Some(t) = local.pop() {
            self.in_deques.fetch_sub(1, SeqCst);
            if !self.lanes[..CLASSES * (t.lane + 1)].iter().any(|l| !l.is_empty()) {
                return counted(t, false);
            }
            self.lanes[CLASSES * t.lane + t.class as usize].push(t);
            // (In the deque, another worker could have stolen it: one asleep may take it now.)
            if self.parked.unclaimed() > 0 {
                self.wake_one();
            }
        }
        let reserved = self.reserve(Class::Short);
        // Lane by lane; within one, short tasks first: they never block, so a task that
        // blocks never holds them back (with one thread, a pipe read released after a
        // page-cache write was queued ran first and blocked: the write waited as long as the
        // pipe stayed empty); but a task that may block waits behind SHORT_AHEAD_MAX of them
        // at most, however many keep coming (an fsync behind a stream of buffered writes).
        let long_first = self.short_ahead.load(Relaxed) >= SHORT_AHEAD_MAX;
        let classes = if long_first {
            [Class::Long, Class::Short, Class::Started]
        } else {
            [Class::Short, Class::Long, Class::Started]
        };
        let order = (0..self.lanes.len() / CLASSES).flat_map(|l| classes.map(|c| CLASSES * l + c as usize));
        for i in order {
            let lane = &self.lanes[i];
            let started = i % CLASSES == Class::Started as usize;
            let short = i % CLASSES == Class::Short as usize;
            if i % CLASSES == Class::Short as usize && !reserved || started && lane.is_empty() {
                continue;
            }
            // A started task is counted before it is taken, so that the bound holds, unless
            // those counted are stalled: then one more takes one (and the clock restarts).
            if started && !self.reserve(Class::Started) {
                if !self.started_stalled() {
                    continue;
                }
                self.active_started.fetch_add(1, SeqCst);
            }
            loop {
                match lane.steal() {
                    Steal::Success(t) if started => {
                        self.started_taken.store(self.micros(), SeqCst);
                        if reserved {
                            self.unreserve(Class::Short);
                        }
                        return Some(t);
                    }
                    Steal::Success(t) => {
                        // (Counted only while one that may block waits in this lane.)
                        let long_waits = !self.lanes[i - i % CLASSES + Class::Long as usize].is_empty();
                        if short && long_waits {
                            self.short_ahead.fetch_add(1, Relaxed);
                        } else if !short {
                            self.short_ahead.store(0, Relaxed);
                        }
                        return counted(t, reserved);
                    }
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
            if started {
                self.unreserve(Class::Started);
            }
        }
        let stealers = self.stealers.read();
        for (id, s) in stealers.iter() {
            if *id == my_id {
                continue;
            }
            loop {
                match s.steal() {
                    Steal::Success(t) => {
                        self.in_deques.fetch_sub(1, SeqCst);
                        return counted(t, reserved);
                    }
                    Steal::Empty => break,
                    Steal::Retry => continue,
                }
            }
        }
        if reserved {
            self.unreserve(Class::Short);
        }
        None
    }
}

/// Clears this thread's `LOCAL` when the worker leaves.
struct LocalGuard;
impl Drop for LocalGuard {
    fn drop(&mut self) {
        LOCAL.with(|l| l.borrow_mut().take());
    }
}

/// A worker's futex wake-up bit (workers 32 apart share one: then either may be woken).
fn wake_bit(id: u64) -> u32 {
    1 << (id % 32)
}

/// The look-before-parking's [`SpinBudget`]: it pays off this much at most; without pay it
/// happens once in SPIN_PROBE times.
const SPIN_SCORE_MAX: u32 = 8;
const SPIN_PROBE: u32 = 16;

/// How long the workers waiting for started tasks may go without taking one, while others wait,
/// before one more worker may take one: far beyond a device's answer to a read (a fraction of a
/// millisecond for an SSD, ~10 ms for a disk's seek), short enough that a stuck device holds up
/// the reads of the others for no longer.
pub const STARTED_STALL: Duration = Duration::from_millis(50);

/// How long a worker that found no work keeps looking before it parks: about what parking and
/// being woken would cost (a futex wait, the submitter's wake, two context switches), so a spin
/// never costs more than twice the sleep it saves. Longer spins kept finding work in a loop
/// that submits one write per signal it handles (bench `mixed`), each after ~20-50 us of
/// spinning: a third of the other core for nothing (measured: 2.7 us of user CPU per request).
const SPIN: Duration = Duration::from_micros(10);

/// Short tasks that may go ahead of a waiting task of their lane that may block (`find_task`):
/// a few copies' time (~32 page-cache writes: 100-200 us).
const SHORT_AHEAD_MAX: usize = 32;

fn worker_main<T: Send + 'static>(inner: Arc<Inner<T>>, id: u64, local: Worker<Job<T>>) {
    let fork_gen = FORK_GEN.load(SeqCst);
    let owner: Arc<dyn Owner> = inner.clone();
    LOCAL.with(|l| *l.borrow_mut() = Some(Local { pool: inner.id(), owner, id, deque: Box::new(local) }));
    let _guard = LocalGuard;
    let pool = Pool { inner: inner.clone() };
    let find = || with_local::<Job<T>, _>(inner.id(), |local| inner.find_task(local, id)).flatten();
    let local_nonempty = || with_local::<Job<T>, _>(inner.id(), |local| !local.is_empty()).unwrap_or(false);
    // The last task it ran was short: short tasks come in quick succession (a queue of buffered
    // writes), so looking a little longer pays; after a task that may have waited for the
    // device, the next one is as far off, and spinning only takes a core from others.
    let mut last_short = false;
    // Whether looking longer has been finding work lately: short tasks that come one at a
    // time between device waits (a write, then its fdatasync) do not cost a core of spinning.
    let budget = SpinBudget::new(SPIN_SCORE_MAX, SPIN_SCORE_MAX, SPIN_PROBE, 2);
    loop {
        if let Some(job) = find() {
            let class = job.class; // counted among its class's workers by find_task
            let short = class == Class::Short;
            last_short = short;
            inner.active.fetch_add(1, SeqCst);
            let task = inner.taken(job);
            // We stop searching: if work remains, make sure someone else picks it up, so a
            // task never waits behind a long (blocking) one while the pool may grow. (Work left
            // in any worker's deque too: a task stolen from one that queued several.)
            if inner.lanes_nonempty() || inner.in_deques.load(SeqCst) > 0 {
                let _ = pool.notify();
            }
            IN_TASK.with(|c| c.set(Some(class)));
            (inner.handler)(task);
            IN_TASK.with(|c| c.set(None));
            if FORK_GEN.load(Relaxed) != fork_gen {
                // The task forked and returned in the child: this thread, the child's only
                // one, belongs to the parent's pool. It ends (and the child with it, as
                // glibc's notification thread ends when its callback returns) without
                // touching that pool, whose locks parent threads may hold.
                return;
            }
            inner.task_done(class);
            // Over a lowered limit (aio_init): leave after this task rather than take another,
            // once its own follow-ups are done (one fewer, unless others left meanwhile).
            if !local_nonempty() && inner.count_thread(false) {
                break;
            }
            continue;
        }
        if let Some(f) = inner.before_idle {
            f();
        }
        // With one CPU: after a short task, give the CPU back to the caller once before
        // parking, still counted as searching for short tasks: the caller's next buffered
        // writes then wake nobody, and this worker takes them when the caller sleeps.
        if last_short && spin::cpus() == 1 {
            last_short = false;
            inner.yielding.fetch_add(1, SeqCst);
            sys::yield_now();
            inner.yielding.fetch_sub(1, SeqCst);
            continue;
        }
        // Look a little longer before parking (one worker at a time), still counted as
        // searching: a submitter meanwhile needs no wake-up.
        if last_short && budget.worth_it() && inner.spinning.compare_exchange(0, 1, SeqCst, SeqCst).is_ok() {
            last_short = false;
            let start = std::time::Instant::now();
            let mut found = false;
            while start.elapsed() < SPIN {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if inner.has_work() {
                    found = true;
                    break;
                }
            }
            inner.spinning.store(0, SeqCst);
            if found {
                budget.found();
                continue;
            }
            budget.missed();
        }
        // Over the (possibly lowered) limit: leave now rather than after the idle time.
        let over = inner.threads.load(SeqCst) > inner.max_threads.load(Relaxed);
        let timed_out = if over {
            true
        } else {
            let seq = inner.wake_seq.load(SeqCst);
            inner.parked.enter();
            if inner.has_work() {
                inner.parked.leave();
                continue;
            }
            let idle = Duration::from_millis(inner.idle_ms.load(Relaxed));
            // While started tasks wait, a parked worker is the one to notice that those
            // waiting for them stalled: it looks again after `started_stall`, and does not leave.
            let watch = inner.queued_started.load(SeqCst) > 0;
            inner.last_parked.store(id, SeqCst);
            let wait = if watch { idle.min(inner.started_stall) } else { idle };
            // Counted so that a submitter of started tasks counts on it to notice a stall (a
            // worker that parked before any was queued sleeps for the idle time: it does not).
            if watch {
                inner.watching.fetch_add(1, SeqCst);
            }
            let timed_out = sys::futex_wait(&inner.wake_seq, seq, wait, wake_bit(id));
            if watch {
                inner.watching.fetch_sub(1, SeqCst);
            }
            // A claim taken up: a submitter counts on this worker to search, whether its wait
            // timed out or not.
            let claimed = inner.parked.leave();
            if timed_out && watch {
                continue;
            }
            timed_out && !claimed
        };
        if timed_out {
            inner.threads.fetch_sub(1, SeqCst);
            // A submitter that saw us counted may have queued a task after our last look: stay
            // for it, unless a replacement was started meanwhile (then the pool is full again
            // and that thread takes it).
            if inner.has_work() {
                if inner.count_thread(true) {
                    continue;
                }
                let _ = pool.notify();
            }
            break;
        }
    }
    debug_assert!(!local_nonempty());
    inner.forget_stealer(id);
}

#[cfg(test)]
mod tests;
