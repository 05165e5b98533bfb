//! Per-descriptor bookkeeping: which requests are live on a descriptor (for `aio_cancel`), and
//! the two orderings POSIX demands on one descriptor. Everything else runs in parallel.
//!
//! - Chains: requests of one chain run one at a time in submission order: one is *active*, later
//!   ones wait in its queue and are released one by one as the active one completes. A
//!   descriptor has two: writes (all writes of a descriptor incapable of seeking — pipe,
//!   socket, terminal — and O_APPEND writes of any) and reads (all reads of a descriptor
//!   incapable of seeking). So a stream's writes land in the order they were submitted and its
//!   reads take its bytes in that order, while a read and a write on one socket run at once;
//!   and a request waiting in a chain is queued, so `aio_cancel` can cancel it. Waiting requests
//!   are released by priority (lower `aio_reqprio` first), FIFO among equals, as glibc does.
//! - `aio_fsync` is a barrier: it runs only after every read and write submitted earlier on the
//!   descriptor completed. Data requests are counted in *epochs*; an fsync closes the current
//!   epoch (it waits in that epoch's `barriers`) and opens a new one. When the oldest epochs have
//!   drained, their barriers are released. Later requests are not held back by an fsync.
//!
//! The table is sharded by descriptor number; a shard's mutex protects all of its descriptors'
//! state and is held only for these few list operations, never across I/O or notification.
//! There is no process-wide lock: two descriptors in different shards never contend.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, MutexGuard};

use crate::fileref::FileRef;
use crate::idmap::IdMap;
use crate::request::{self, Chain, Request};

const SHARDS: usize = 64;

fn shard_of(fd: i32) -> usize {
    (fd as u32 as usize) % SHARDS
}

fn key(req: &Request) -> usize {
    req as *const Request as usize
}

#[repr(align(128))]
struct Shard(Mutex<ShardState>);

#[derive(Default)]
struct ShardState {
    fds: IdMap<i32, FdState>,
    /// The state of the last descriptor whose requests all finished, emptied, for the next
    /// one to start with: a queue that drains and refills (one CPU: the worker runs all that
    /// is queued) made a new state each time and regrew its maps.
    spare: Option<FdState>,
}

/// A spare state whose map of live requests has grown beyond this is freed, not kept.
const SPARE_MAX_LIVE: usize = 1024;

pub struct FdTable {
    shards: Box<[Shard]>,
}

#[derive(Default)]
struct FdState {
    /// Requests registered and not yet retired, by request identity (`Arc::as_ptr`): not by
    /// aiocb address, because once a request's status is published the application may
    /// resubmit the same aiocb before the old request has left this table.
    live: IdMap<usize, Live>,
    /// The submission-order chains, by `Chain` (reads, writes).
    chains: [ChainState; 2],
    epochs: VecDeque<Epoch>,
    /// Sum of `pending` over `epochs`.
    pending_total: usize,
    /// Registrations so far (each request's `seq`).
    registered: u64,
    next_epoch: u64,
    /// The status flags of the regular file the latest registration found on this number
    /// (None: it found something else). Requests on a regular file run on the number itself,
    /// so while they are live the number is taken to name that file: a new request with the
    /// same flags needs no `fstat` to know what it names (see [`FdTable::live_file`]).
    file_flags: Option<i32>,
    /// The latest registration (request identity): `live_file` looks at it first.
    latest: usize,
    /// rtaio's own reference to the file (`fileref.rs`), shared by the live requests that run
    /// after their submitting call. Weak: the requests own it, so it is closed as the last of
    /// them completes, before its status is published (not later, when it leaves this table).
    file: Weak<FileRef>,
}

impl FdState {
    /// The same as a new state, its allocations kept.
    fn emptied(self) -> FdState {
        let FdState { mut live, chains, mut epochs, .. } = self;
        live.clear();
        epochs.clear();
        let chains = chains.map(|mut c| {
            c.queue.clear();
            ChainState { active: None, queue: c.queue }
        });
        FdState { live, chains, epochs, ..FdState::default() }
    }

    /// The shared reference to the file `fd` names now: the existing one if it is still the
    /// same open file, else a new duplicate (the number was closed and reused, or dup2'd over,
    /// while earlier requests were live: they keep theirs). None if no duplicate can be made
    /// (out of descriptors): the request then uses the number.
    fn file_for(&mut self, fd: i32) -> Option<Arc<FileRef>> {
        if let Some(f) = self.file.upgrade() {
            if f.same_file(fd) {
                return Some(f);
            }
        }
        let f = Arc::new(FileRef::dup_of(fd).ok()?);
        self.file = Arc::downgrade(&f);
        Some(f)
    }
}

/// How many live requests `live_file` looks at besides the latest one: a deep queue whose
/// statuses were published but that have not left the table yet costs a new request an
/// `fstat`, not a scan of the whole queue.
const UNPUBLISHED_LOOK: usize = 8;

impl FdState {
    /// The latest registration, or one of a few others, is unpublished.
    fn has_unpublished(&self) -> bool {
        self.live.get(&self.latest).is_some_and(|l| l.req.unpublished())
            || self.live.values().take(UNPUBLISHED_LOOK).any(|l| l.req.unpublished())
    }
}

#[derive(Default)]
struct ChainState {
    /// The request of the chain running now (request identity).
    active: Option<usize>,
    /// Waiting behind it, oldest first.
    queue: VecDeque<Arc<Request>>,
}

struct Live {
    req: Arc<Request>,
    epoch: Option<u64>,
}

struct Epoch {
    id: u64,
    pending: usize,
    barriers: Vec<Arc<Request>>,
}

impl FdTable {
    pub fn new(capacity_hint: usize) -> Self {
        let per = capacity_hint / SHARDS;
        FdTable {
            shards: (0..SHARDS)
                .map(|_| {
                    let fds = IdMap::with_capacity_and_hasher(per.min(1024), Default::default());
                    Shard(Mutex::new(ShardState { fds, spare: None }))
                })
                .collect(),
        }
    }

    fn shard(&self, fd: i32) -> &Mutex<ShardState> {
        &self.shards[shard_of(fd)].0
    }

    /// Registers a new request. Returns true if it may start now, false if it waits in its
    /// chain or behind an fsync barrier (a later `release` makes it ready).
    /// `with_file`: the request will run after its submitting call returns, so it gets rtaio's
    /// own reference to the file. `file_flags`: the descriptor names a regular file (or block
    /// device) with these status flags. `begin` (marking the aiocb in progress) runs under the
    /// descriptor's lock, before the request can be found: whoever sees the aiocb in progress
    /// finds the request here (aio_cancel must never answer AIO_ALLDONE for it).
    pub fn register(&self, req: &Arc<Request>, with_file: bool, file_flags: Option<i32>, begin: impl FnOnce()) -> bool {
        let mut shard = self.shard(req.fd).lock();
        begin();
        let ShardState { fds, spare } = &mut *shard;
        let st = fds.entry(req.fd).or_insert_with(|| spare.take().unwrap_or_default());
        st.file_flags = file_flags;
        if with_file {
            if let Some(f) = st.file_for(req.fd) {
                req.set_file(f);
            }
        }
        st.registered += 1;
        req.seq.store(st.registered, Relaxed);
        st.latest = key(req);
        let mut ready = true;
        let mut epoch = None;
        if req.is_data_op() {
            if st.epochs.is_empty() {
                st.epochs.push_back(Epoch { id: st.next_epoch, pending: 0, barriers: Vec::new() });
                st.next_epoch += 1;
            }
            let back = st.epochs.back_mut().expect("an epoch exists");
            back.pending += 1;
            st.pending_total += 1;
            epoch = Some(back.id);
            if let Some(c) = req.chain {
                let chain = &mut st.chains[c as usize];
                if chain.active.is_some() {
                    // By priority (lower aio_reqprio first), FIFO among equals, as glibc's per-
                    // descriptor queue; the active request keeps the descriptor.
                    let at = chain.queue.partition_point(|q| q.lane <= req.lane);
                    chain.queue.insert(at, req.clone());
                    ready = false;
                } else {
                    chain.active = Some(key(req));
                }
            }
        } else if st.pending_total > 0 {
            let back = st.epochs.back_mut().expect("pending requests live in an epoch");
            back.barriers.push(req.clone());
            st.epochs.push_back(Epoch { id: st.next_epoch, pending: 0, barriers: Vec::new() });
            st.next_epoch += 1;
            ready = false;
        }
        st.live.insert(key(req), Live { req: req.clone(), epoch });
        if !ready {
            request::count_held_back(true);
        }
        ready
    }

    /// Releases a request whose status is final from its descriptor, and appends to `ready`
    /// the requests that may now start.
    pub fn release(&self, req: &Request, ready: &mut Vec<Arc<Request>>) {
        release_in(&mut self.shard(req.fd).lock(), req, ready);
    }

    /// `release` for each of `reqs` in turn, locking a shard once for a run of requests in it.
    pub fn release_all<'a>(&self, reqs: impl Iterator<Item = &'a Request>, ready: &mut Vec<Arc<Request>>) {
        let mut held: Option<(usize, MutexGuard<'_, ShardState>)> = None;
        for req in reqs {
            let i = shard_of(req.fd);
            if held.as_ref().is_none_or(|(h, _)| *h != i) {
                // One shard lock at a time: never two, in whatever order, with another thread.
                drop(held.take());
                held = Some((i, self.shards[i].0.lock()));
            }
            let (_, shard) = held.as_mut().expect("locked above");
            release_in(shard, req, ready);
        }
    }

    /// Requests on `fd` are live, the latest found a regular file there, and it had these same
    /// status flags: the number still names that file (the live requests run on the number).
    /// Only while one of them is unpublished: once the application has seen them all
    /// complete, it may close the number and open something else there (a FIFO opened with
    /// the same access mode has the same flags) before the last one leaves this table.
    pub fn live_file(&self, fd: i32, flags: i32) -> bool {
        let shard = self.shard(fd).lock();
        shard.fds.get(&fd).is_some_and(|st| st.file_flags == Some(flags) && st.has_unpublished())
    }

    /// No read of the stream `fd` is in flight or waiting (its reads' chain is idle): a read
    /// submitted now would start at once.
    pub fn stream_reads_idle(&self, fd: i32) -> bool {
        let shard = self.shard(fd).lock();
        shard.fds.get(&fd).is_none_or(|st| st.chains[Chain::Reads as usize].active.is_none())
    }

    /// The request on `fd` whose aiocb is `aiocb` and whose status is not final yet, if any.
    /// A scan: `aio_cancel` of one aiocb is rare, and this keeps the hot path to one map.
    pub fn find(&self, fd: i32, aiocb: usize) -> Option<Arc<Request>> {
        let shard = self.shard(fd).lock();
        let st = shard.fds.get(&fd)?;
        // Between publishing a status and marking the request DONE, the application may
        // already have resubmitted the aiocb: the latest registration is the current request.
        st.live
            .values()
            .filter(|l| l.req.aiocb_addr() == aiocb && !l.req.is_done())
            .max_by_key(|l| l.req.seq.load(Relaxed))
            .map(|l| l.req.clone())
    }

    /// Every live request on `fd`, in no particular order.
    pub fn all_on(&self, fd: i32) -> Vec<Arc<Request>> {
        let shard = self.shard(fd).lock();
        shard.fds.get(&fd).map(|st| st.live.values().map(|l| l.req.clone()).collect()).unwrap_or_default()
    }

    #[cfg(test)]
    fn register_t(&self, req: &Arc<Request>) -> bool {
        self.register(req, false, None, || {})
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.0.lock().fds.is_empty())
    }
}

/// `FdTable::release` within the locked shard.
fn release_in(shard: &mut ShardState, req: &Request, ready: &mut Vec<Arc<Request>>) {
    let Some(st) = shard.fds.get_mut(&req.fd) else { return };
    let Some(live) = st.live.remove(&key(req)) else { return };
    if let Some(id) = live.epoch {
        if let Some(e) = st.epochs.iter_mut().find(|e| e.id == id) {
            e.pending -= 1;
            st.pending_total -= 1;
        }
        while st.epochs.len() > 1 && st.epochs.front().is_some_and(|e| e.pending == 0) {
            let e = st.epochs.pop_front().expect("checked non-empty");
            for b in e.barriers {
                request::count_held_back(false);
                if b.is_queued() {
                    ready.push(b);
                }
            }
        }
    }
    if let Some(c) = req.chain {
        let chain = &mut st.chains[c as usize];
        if chain.active == Some(key(req)) {
            chain.active = None;
            // Skip the ones cancelled while they waited.
            while let Some(next) = chain.queue.pop_front() {
                request::count_held_back(false);
                if next.is_queued() {
                    chain.active = Some(key(&next));
                    ready.push(next);
                    break;
                }
            }
        }
    }
    if st.live.is_empty() {
        // Requests cancelled while held back may still be queued here: they are let go.
        let left = st.chains.iter().map(|c| c.queue.len()).sum::<usize>()
            + st.epochs.iter().map(|e| e.barriers.len()).sum::<usize>();
        for _ in 0..left {
            request::count_held_back(false);
        }
        if let Some(st) = shard.fds.remove(&req.fd) {
            if st.live.capacity() <= SPARE_MAX_LIVE {
                shard.spare = Some(st.emptied());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aiocb::AiocbRef;
    use crate::request::{Op, Spec};

    /// Test requests on descriptor 5 are told apart by `offset` (their id here).
    fn req(id: i64, op: Op) -> Arc<Request> {
        Arc::new(Request::new(Spec { fd: 5, op, offset: id, ..Spec::default() }))
    }

    fn append(id: i64) -> Arc<Request> {
        let spec =
            Spec { fd: 5, op: Op::Write, append: true, chain: Some(Chain::Writes), offset: id, ..Spec::default() };
        Arc::new(Request::new(spec))
    }

    fn stream(id: i64, op: Op) -> Arc<Request> {
        let chain = if op == Op::Read { Chain::Reads } else { Chain::Writes };
        Arc::new(Request::new(Spec { fd: 5, op, chain: Some(chain), offset: id, ..Spec::default() }))
    }

    fn ids(v: &[Arc<Request>]) -> Vec<i64> {
        v.iter().map(|r| r.offset).collect()
    }

    #[test]
    fn reads_and_writes_run_in_parallel() {
        let t = FdTable::new(0);
        let rs: Vec<_> = (1..=8).map(|i| req(i, if i % 2 == 0 { Op::Read } else { Op::Write })).collect();
        assert!(rs.iter().all(|r| t.register_t(r)));
        let mut ready = Vec::new();
        for r in &rs {
            t.release(r, &mut ready);
        }
        assert!(ready.is_empty());
        assert!(t.is_empty(), "state is dropped when the descriptor has no live request");
    }

    #[test]
    fn append_writes_are_serialised_in_order() {
        let t = FdTable::new(0);
        let a = append(1);
        let b = append(2);
        let c = append(3);
        let r = req(4, Op::Read);
        assert!(t.register_t(&a));
        assert!(!t.register_t(&b));
        assert!(!t.register_t(&c));
        assert!(t.register_t(&r), "reads are not held back by appends");
        let mut ready = Vec::new();
        t.release(&a, &mut ready);
        assert_eq!(ids(&ready), vec![2]);
        ready.clear();
        t.release(&b, &mut ready);
        assert_eq!(ids(&ready), vec![3]);
        ready.clear();
        t.release(&c, &mut ready);
        t.release(&r, &mut ready);
        assert!(ready.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn stream_requests_run_in_order_per_direction() {
        let t = FdTable::new(0);
        let r1 = stream(1, Op::Read);
        let r2 = stream(2, Op::Read);
        let w1 = stream(3, Op::Write);
        let w2 = stream(4, Op::Write);
        assert!(t.register_t(&r1));
        assert!(!t.register_t(&r2), "the second read waits for the first");
        assert!(t.register_t(&w1), "a write does not wait for a read");
        assert!(!t.register_t(&w2), "the second write waits for the first");
        let mut ready = Vec::new();
        t.release(&w1, &mut ready);
        assert_eq!(ids(&ready), vec![4]);
        ready.clear();
        t.release(&r1, &mut ready);
        assert_eq!(ids(&ready), vec![2]);
        ready.clear();
        t.release(&w2, &mut ready);
        t.release(&r2, &mut ready);
        assert!(ready.is_empty());
        assert!(t.is_empty());
    }

    #[test]
    fn chain_queue_is_by_priority_then_fifo() {
        let t = FdTable::new(0);
        let w = |id, lane| {
            Arc::new(Request::new(Spec {
                fd: 5,
                op: Op::Write,
                chain: Some(Chain::Writes),
                offset: id,
                lane,
                ..Spec::default()
            }))
        };
        let reqs = [w(1, 3), w(2, 1), w(3, 2), w(4, 1), w(5, 0)];
        for r in &reqs {
            t.register_t(r);
        }
        let mut order = vec![1];
        let mut cur = reqs[0].clone();
        for _ in 1..reqs.len() {
            let mut ready = Vec::new();
            t.release(&cur, &mut ready);
            assert_eq!(ready.len(), 1);
            cur = ready.pop().unwrap();
            order.push(cur.offset);
        }
        assert_eq!(order, vec![1, 5, 2, 4, 3], "the first keeps the descriptor; then by priority, FIFO among equals");
    }

    #[test]
    fn cancelled_parked_append_is_skipped() {
        let t = FdTable::new(0);
        let a = append(1);
        let b = append(2);
        let c = append(3);
        t.register_t(&a);
        t.register_t(&b);
        t.register_t(&c);
        assert_eq!(b.try_cancel(), crate::request::CancelOutcome::Canceled);
        let mut ready = Vec::new();
        t.release(&b, &mut ready);
        assert!(ready.is_empty());
        t.release(&a, &mut ready);
        assert_eq!(ids(&ready), vec![3], "the cancelled one is skipped, the next one released");
    }

    #[test]
    fn fsync_waits_for_earlier_requests_only() {
        let t = FdTable::new(0);
        let w1 = req(1, Op::Write);
        let w2 = req(2, Op::Write);
        let f = req(3, Op::Sync { data_only: false });
        let w3 = req(4, Op::Write);
        assert!(t.register_t(&w1));
        assert!(t.register_t(&w2));
        assert!(!t.register_t(&f), "barrier waits");
        assert!(t.register_t(&w3), "later writes are not held back");
        let mut ready = Vec::new();
        t.release(&w3, &mut ready);
        assert!(ready.is_empty(), "a later write does not release the barrier");
        t.release(&w1, &mut ready);
        assert!(ready.is_empty());
        t.release(&w2, &mut ready);
        assert_eq!(ids(&ready), vec![3]);
        ready.clear();
        t.release(&f, &mut ready);
        assert!(t.is_empty());
    }

    #[test]
    fn fsync_on_idle_descriptor_runs_at_once_and_chained_barriers_release_in_order() {
        let t = FdTable::new(0);
        let f0 = req(1, Op::Sync { data_only: true });
        assert!(t.register_t(&f0));
        let w1 = req(2, Op::Write);
        let f1 = req(3, Op::Sync { data_only: false });
        let w2 = req(4, Op::Write);
        let f2 = req(5, Op::Sync { data_only: false });
        assert!(t.register_t(&w1));
        assert!(!t.register_t(&f1));
        assert!(t.register_t(&w2));
        assert!(!t.register_t(&f2));
        let mut ready = Vec::new();
        t.release(&w2, &mut ready);
        assert!(ready.is_empty(), "f2 also covers w1, still running");
        t.release(&w1, &mut ready);
        assert_eq!(ids(&ready), vec![3, 5]);
    }

    #[test]
    fn find_prefers_the_latest_submission_of_an_aiocb() {
        let t = FdTable::new(0);
        let cb = AiocbRef::leaked_for_test();
        let on = |cb| Arc::new(Request::new(Spec { fd: 5, aiocb: Some(cb), ..Spec::default() }));
        let old = on(cb);
        t.register_t(&old);
        assert!(old.claim()); // running; its status is published but it is not yet DONE
        let new = on(cb); // the same aiocb, resubmitted
        t.register_t(&new);
        assert!(Arc::ptr_eq(&t.find(5, cb.addr()).unwrap(), &new));
        new.mark_done();
        assert!(Arc::ptr_eq(&t.find(5, cb.addr()).unwrap(), &old));
    }

    #[test]
    fn whoever_sees_the_aiocb_in_progress_finds_the_request() {
        // aio_cancel looks at the aiocb, then for the request: from the moment `begin` marks
        // the aiocb, a search must wait for the registration and find it.
        let t = Arc::new(FdTable::new(0));
        let cb = AiocbRef::leaked_for_test();
        let r = Arc::new(Request::new(Spec { fd: 5, aiocb: Some(cb), ..Spec::default() }));
        let mut seeker = None;
        t.register(&r, false, None, || {
            let t = t.clone();
            seeker = Some(std::thread::spawn(move || t.find(5, cb.addr()).is_some()));
            // (The seeker's search starts while the registration is not done.)
            std::thread::sleep(std::time::Duration::from_millis(20));
        });
        assert!(seeker.unwrap().join().unwrap(), "the request was not found");
    }

    #[test]
    fn live_file_only_while_requests_on_that_file_are_live() {
        let t = FdTable::new(0);
        assert!(!t.live_file(5, libc::O_RDWR));
        let a = req(1, Op::Write);
        assert!(t.register(&a, false, Some(libc::O_RDWR), || {}));
        assert!(t.live_file(5, libc::O_RDWR));
        assert!(!t.live_file(5, libc::O_RDWR | libc::O_APPEND), "other flags: ask again");
        let s = stream(2, Op::Write);
        assert!(t.register(&s, false, None, || {}));
        assert!(!t.live_file(5, libc::O_RDWR), "the latest registration found no regular file");
        let mut ready = Vec::new();
        t.release(&a, &mut ready);
        t.release(&s, &mut ready);
        assert!(!t.live_file(5, libc::O_RDWR), "nothing live: ask again");
    }

    #[test]
    fn live_file_not_once_every_live_request_is_published() {
        // The application may see them complete, close the number and open a FIFO there
        // before they leave the table.
        let t = FdTable::new(0);
        let (a, b) = (req(1, Op::Write), req(2, Op::Write));
        assert!(t.register(&a, false, Some(libc::O_RDWR), || {}));
        assert!(t.register(&b, false, Some(libc::O_RDWR), || {}));
        a.mark_finishing();
        assert!(t.live_file(5, libc::O_RDWR), "one still unpublished");
        b.mark_published_early();
        assert!(!t.live_file(5, libc::O_RDWR), "all published (one early, by a reaper)");
        let c = req(3, Op::Read);
        assert!(t.register(&c, false, Some(libc::O_RDWR), || {}));
        assert!(c.claim_for_help());
        assert!(t.live_file(5, libc::O_RDWR), "run by a waiting thread, not published");
        c.mark_published_early(); // (as the helping thread publishes, then marks it helped)
        c.mark_helped(false);
        assert!(!t.live_file(5, libc::O_RDWR), "helped: published");
    }

    #[test]
    fn release_all_is_release_one_by_one_across_shards() {
        let t = FdTable::new(0);
        let on = |fd: i32, id: i64, op: Op, chain: Option<Chain>| {
            Arc::new(Request::new(Spec { fd, op, chain, offset: id, append: chain.is_some(), ..Spec::default() }))
        };
        let same_shard = 5 + SHARDS as i32;
        // fd 5: two writes, then an fsync waiting for both; fd 5+SHARDS (5's shard): a read;
        // fd 6: two O_APPEND writes, the second waiting for the first.
        let w1 = on(5, 1, Op::Write, None);
        let w2 = on(5, 2, Op::Write, None);
        let f = on(5, 3, Op::Sync { data_only: false }, None);
        let r = on(same_shard, 4, Op::Read, None);
        let a1 = on(6, 5, Op::Write, Some(Chain::Writes));
        let a2 = on(6, 6, Op::Write, Some(Chain::Writes));
        for (q, starts) in [(&w1, true), (&w2, true), (&f, false), (&r, true), (&a1, true), (&a2, false)] {
            assert_eq!(t.register_t(q), starts);
        }
        let mut ready = Vec::new();
        t.release_all([&*w1, &*a1, &*r, &*w2].into_iter(), &mut ready);
        assert_eq!(ids(&ready), vec![6, 3], "each released what it held back, in order");
        ready.clear();
        t.release_all([&*f, &*a2].into_iter(), &mut ready);
        assert!(ready.is_empty());
        assert!(t.is_empty(), "every request left the table");
    }

    #[test]
    fn a_drained_descriptor_starts_afresh_in_a_kept_state() {
        let t = FdTable::new(0);
        // Leave state behind: an active chain with a cancelled request queued, a barrier.
        let a1 = append(1);
        let a2 = append(2);
        let w = req(3, Op::Write);
        let f = req(4, Op::Sync { data_only: false });
        assert!(t.register(&a1, false, Some(libc::O_WRONLY | libc::O_APPEND), || {}));
        assert!(!t.register_t(&a2));
        assert!(t.register_t(&w));
        assert!(!t.register_t(&f));
        assert_eq!(a2.try_cancel(), crate::request::CancelOutcome::Canceled);
        let mut ready = Vec::new();
        t.release_all([&*a2, &*a1, &*w].into_iter(), &mut ready);
        assert_eq!(ids(&ready), vec![4], "the barrier; not the cancelled append");
        t.release(&f, &mut ready);
        assert!(t.is_empty());
        assert!(t.shards[5].0.lock().spare.is_some(), "the emptied state is kept");
        assert!(!t.live_file(5, libc::O_WRONLY | libc::O_APPEND), "nothing live: ask again");
        // As a new descriptor: nothing held back by the old chain or epochs.
        let a3 = append(5);
        let f2 = req(6, Op::Sync { data_only: true });
        assert!(t.register_t(&a3), "the chain is idle");
        assert!(t.shards[5].0.lock().spare.is_none(), "taken by the new state");
        assert!(!t.register_t(&f2), "the barrier waits for the new write only");
        ready.clear();
        t.release(&a3, &mut ready);
        assert_eq!(ids(&ready), vec![6]);
        t.release(&f2, &mut ready);
        assert!(t.is_empty());
    }

    #[test]
    fn find_and_all_on() {
        let t = FdTable::new(0);
        let (c1, c2) = (AiocbRef::leaked_for_test(), AiocbRef::leaked_for_test());
        let a = Arc::new(Request::new(Spec { fd: 5, aiocb: Some(c1), ..Spec::default() }));
        let b = Arc::new(Request::new(Spec { fd: 5, aiocb: Some(c2), ..Spec::default() }));
        t.register_t(&a);
        t.register_t(&b);
        assert!(t.find(5, c1.addr()).is_some());
        assert!(t.find(5, c1.addr() + 8).is_none());
        assert!(t.find(6, c1.addr()).is_none());
        assert_eq!(t.all_on(5).len(), 2);
    }
}
