//! Statistics, on request only (`RTAIO_STATS`, rtaio(7) STATISTICS): per executor, requests by
//! operation, bytes, errors by errno, latency percentiles; fallbacks and their cause; peak
//! requests in flight; threads started; notifications by kind; signals retried.
//!
//! # Cost
//! Off (the default), every hook is one relaxed load of [`ON`] and a not-taken branch. On,
//! counters are relaxed atomics in per-thread shards (a thread keeps the shard it first used),
//! plus one `clock_gettime` (vDSO) at submission and one at completion: no lock anywhere.
//!
//! # Reports
//! Written at exit (an `atexit` hook; only by a process that submitted requests), on
//! `RTAIO_STATS_SIGNAL`, and every
//! `RTAIO_STATS_INTERVAL` ms from a thread started only then. Every report is formatted into a
//! small stack buffer with `core::fmt` (no allocation, no lock) and written with raw `write`
//! calls, so it is async-signal-safe, and safe at exit while other threads still run (it only
//! reads atomics: a report taken while requests complete may be off by those in passing).
//!
//! Fork: the child starts with zero counters ([`after_fork`]); the parent's interval thread
//! does not exist there; the signal handler and the exit hook are inherited (the child reports
//! its own requests; `%p` in the file name tells the reports apart).

use std::cell::Cell;
use std::ffi::CStr;
use std::fmt::{self, Write};
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::OnceLock;
use std::time::Duration;

use crate::config::{self, StatsDest, StatsSettings};
use crate::sys;

/// Statistics are being kept.
static ON: AtomicBool = AtomicBool::new(false);
static SETTINGS: OnceLock<StatsSettings> = OnceLock::new();
/// When counting started (ns, monotonic): the report's time base.
static SINCE: AtomicU64 = AtomicU64::new(0);

/// Are statistics kept? (One relaxed load: the whole cost when they are off.)
#[inline(always)]
pub fn on() -> bool {
    ON.load(Relaxed)
}

/// Who ran a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exec {
    /// In the submitting thread: page-cache hits, and requests failed at submission.
    Inline = 0,
    Uring = 1,
    Kaio = 2,
    Pool = 3,
    /// Queued, then run by the thread waiting for it in `aio_suspend` (`core/help.rs`).
    Waiter = 4,
}
const EXECS: usize = 5;
const EXEC_NAMES: [&str; EXECS] = ["inline", "io_uring", "kaio", "pool", "waiter"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Read = 0,
    Write = 1,
    Fsync = 2,
    Fdatasync = 3,
}
const OP_NAMES: [&str; 4] = ["read", "write", "fsync", "fdatasync"];

/// Errnos counted one by one (index = errno); a larger one is counted at index 0.
const ERRNOS: usize = 134;
/// Latency buckets, log-linear over nanoseconds: four per power of two (at most 25% wide).
const BUCKETS: usize = 252;
const SHARDS: usize = 8;

struct ExecCounters {
    ops: [AtomicU64; 4],
    bytes: AtomicU64,
    errors: [AtomicU64; ERRNOS],
    latency: [AtomicU64; BUCKETS],
    max_ns: AtomicU64,
}

impl ExecCounters {
    const fn new() -> Self {
        ExecCounters {
            ops: [const { AtomicU64::new(0) }; 4],
            bytes: AtomicU64::new(0),
            errors: [const { AtomicU64::new(0) }; ERRNOS],
            latency: [const { AtomicU64::new(0) }; BUCKETS],
            max_ns: AtomicU64::new(0),
        }
    }

    fn all(&self) -> impl Iterator<Item = &AtomicU64> {
        self.ops.iter().chain([&self.bytes, &self.max_ns]).chain(&self.errors).chain(&self.latency)
    }
}

/// One shard: its own cache lines, so threads on different shards never share one.
#[repr(align(128))]
struct Shard([ExecCounters; EXECS]);

static SHARD: [Shard; SHARDS] = [const { Shard([const { ExecCounters::new() }; EXECS]) }; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard (SHARDS: not chosen yet). Const-initialised, no destructor: usable
    /// in a signal handler.
    static MY_SHARD: Cell<usize> = const { Cell::new(SHARDS) };
}

fn shard() -> &'static Shard {
    let i = MY_SHARD.with(|c| {
        let mut i = c.get();
        if i >= SHARDS {
            i = NEXT_SHARD.fetch_add(1, Relaxed) % SHARDS;
            c.set(i);
        }
        i
    });
    &SHARD[i]
}

/// Why requests did not go where they were routed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `io_uring_setup` failed: io_uring is off for the process.
    UringSetup = 0,
    /// No thread for the io_uring submitter.
    UringThread = 1,
    /// `io_setup` failed: native AIO is off for the process.
    KaioSetup = 2,
    /// `io_submit` refused a request (it goes to the pool).
    KaioSubmit = 3,
    /// Native AIO would have blocked (RWF_NOWAIT: EAGAIN, EOPNOTSUPP): the pool ran it.
    KaioWouldBlock = 4,
    /// io_uring gave requests back to the pool (a full ring, no ring now).
    UringToPool = 5,
    /// Native AIO gave requests back to the pool (refused, no reaper thread).
    KaioToPool = 6,
}
const FALLBACKS: usize = 7;
const FALLBACK_NAMES: [&str; FALLBACKS] = [
    "io_uring refused (io_uring_setup)",
    "io_uring refused (no submitter thread)",
    "kaio refused (io_setup)",
    "kaio refused (io_submit)",
    "kaio would block",
    "io_uring gave back to pool",
    "kaio gave back to pool",
];
static FALLBACK: [[AtomicU64; ERRNOS]; FALLBACKS] = [const { [const { AtomicU64::new(0) }; ERRNOS] }; FALLBACKS];

/// Threads rtaio started, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thread {
    /// I/O workers (`rtaio-io`).
    Pool = 0,
    /// Notification threads (`rtaio-notify`, and dedicated SIGEV_THREAD threads).
    Notify = 1,
    /// The io_uring submitter (`rtaio-uring`).
    UringSubmitter = 2,
    /// The native AIO reaper (`rtaio-kaio`).
    KaioReaper = 3,
}
const THREAD_NAMES: [&str; 4] = ["pool", "notify", "uring_submitter", "kaio_reaper"];
static THREADS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Notifications delivered, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    None = 0,
    Signal = 1,
    Thread = 2,
    ThreadId = 3,
    Eventfd = 4,
}
const NOTE_NAMES: [&str; 5] = ["none", "signal", "thread", "thread_id", "eventfd"];
static NOTES: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static SIGNAL_RETRIES: AtomicU64 = AtomicU64::new(0);
static PEAK_IN_FLIGHT: AtomicU64 = AtomicU64::new(0);

// ---- hooks -------------------------------------------------------------------------------

/// At submission: the time stamp a completion measures its latency from (0 when off).
#[inline]
pub fn stamp() -> u64 {
    if on() {
        sys::monotonic_ns()
    } else {
        0
    }
}

/// At submission: `n` requests are outstanding in the process now.
#[inline]
pub fn in_flight(n: usize) {
    if on() && n as u64 > PEAK_IN_FLIGHT.load(Relaxed) {
        PEAK_IN_FLIGHT.fetch_max(n as u64, Relaxed);
    }
}

/// A request's status was published: by `exec`, its result, `stamp` from [`stamp`].
/// Async-signal-safe.
#[inline]
pub fn completed(exec: Exec, op: OpKind, result: Result<usize, i32>, stamp: u64) {
    if on() {
        record(exec, op, result, stamp);
    }
}

#[inline(never)]
fn record(exec: Exec, op: OpKind, result: Result<usize, i32>, stamp: u64) {
    let c = &shard().0[exec as usize];
    c.ops[op as usize].fetch_add(1, Relaxed);
    match result {
        Ok(n) => {
            c.bytes.fetch_add(n as u64, Relaxed);
        }
        Err(e) => {
            c.errors[errno_index(e)].fetch_add(1, Relaxed);
        }
    }
    if stamp != 0 {
        let ns = sys::monotonic_ns().saturating_sub(stamp);
        c.latency[bucket(ns)].fetch_add(1, Relaxed);
        if ns > c.max_ns.load(Relaxed) {
            c.max_ns.fetch_max(ns, Relaxed);
        }
    }
}

/// A fallback happened (`n` requests, or one event), with the errno that caused it (0: none).
#[inline]
pub fn fallback(what: Fallback, errno: i32, n: usize) {
    if on() {
        FALLBACK[what as usize][errno_index(errno)].fetch_add(n as u64, Relaxed);
    }
}

#[inline]
pub fn thread_started(t: Thread) {
    if on() {
        THREADS[t as usize].fetch_add(1, Relaxed);
    }
}

#[inline]
pub fn notified(n: Note) {
    if on() {
        NOTES[n as usize].fetch_add(1, Relaxed);
    }
}

/// A SIGEV_SIGNAL refused for a full signal queue (EAGAIN), to be retried.
#[inline]
pub fn signal_retried() {
    if on() {
        SIGNAL_RETRIES.fetch_add(1, Relaxed);
    }
}

fn errno_index(e: i32) -> usize {
    if e > 0 && (e as usize) < ERRNOS {
        e as usize
    } else {
        0
    }
}

/// The latency bucket of `ns`: 0..3 exact, then four per power of two.
fn bucket(ns: u64) -> usize {
    if ns < 4 {
        return ns as usize;
    }
    let e = 63 - ns.leading_zeros() as usize; // >= 2
    4 * (e - 1) + ((ns >> (e - 2)) & 3) as usize
}

/// The largest value in bucket `b`.
fn bucket_top(b: usize) -> u64 {
    if b < 4 {
        return b as u64;
    }
    let (e, sub) = (b / 4 + 1, (b % 4) as u64);
    let width = 1u64 << (e - 2);
    ((4 + sub) << (e - 2)).saturating_add(width - 1)
}

// ---- setup -------------------------------------------------------------------------------

/// At load (the library's constructor): reads the settings; if statistics are asked for,
/// turns them on and installs what reports them. Does nothing otherwise.
pub fn init() {
    let s = config::stats_settings();
    if s.dest.is_none() {
        return;
    }
    let (signal, interval) = (s.signal, s.interval_ms);
    if SETTINGS.set(s).is_err() {
        return; // already done
    }
    SINCE.store(sys::monotonic_ns(), Relaxed);
    thread_pool::on_thread_start(|name| thread_started(if name == "rtaio-io" { Thread::Pool } else { Thread::Notify }));
    ON.store(true, Relaxed);
    sys::at_exit(at_exit);
    if let Some(sig) = signal {
        let _ = sys::set_signal_handler(sig, on_signal);
    }
    if let Some(ms) = interval {
        let _mask = sys::SignalMask::full();
        let _ = std::thread::Builder::new().name("rtaio-stats".into()).stack_size(64 << 10).spawn(move || loop {
            std::thread::sleep(Duration::from_millis(ms));
            if EXITING.load(SeqCst) {
                return;
            }
            report("interval");
        });
    }
}

/// In a child after fork(): its counters start from zero (atomics only).
pub fn after_fork() {
    if !on() {
        return;
    }
    for s in &SHARD {
        for c in &s.0 {
            c.all().for_each(|a| a.store(0, Relaxed));
        }
    }
    FALLBACK.iter().flatten().chain(&THREADS).chain(&NOTES).for_each(|a| a.store(0, Relaxed));
    for a in [&SIGNAL_RETRIES, &PEAK_IN_FLIGHT] {
        a.store(0, Relaxed);
    }
    SINCE.store(sys::monotonic_ns(), Relaxed);
}

/// The exit report is being written or was: the interval thread writes no more (the exit
/// report is the last).
static EXITING: AtomicBool = AtomicBool::new(false);

extern "C" fn at_exit() {
    EXITING.store(true, SeqCst);
    // A process that submitted no request stays silent at exit (a shell, `timeout`, `env`
    // between the launcher and the program inherit the variables too).
    if PEAK_IN_FLIGHT.load(Relaxed) > 0 {
        report("exit");
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    let saved = sys::errno();
    report("signal");
    sys::set_errno(saved);
}

// ---- reports -----------------------------------------------------------------------------

/// Writes one report to the destination (async-signal-safe).
pub fn report(when: &str) {
    let Some(s) = SETTINGS.get() else { return };
    let Some(dest) = &s.dest else { return };
    let pid = sys::getpid();
    let (fd, close) = match dest {
        StatsDest::Stderr => (2, false),
        StatsDest::File(template) => {
            let mut path = [0u8; 4096];
            let Some(p) = expand_path(template, pid, &mut path) else { return };
            match sys::open_append(p) {
                Ok(fd) => (fd, true),
                Err(_) => return,
            }
        }
    };
    let mut out = Out { fd, buf: [0; 4096], len: 0 };
    let elapsed = sys::monotonic_ns().saturating_sub(SINCE.load(Relaxed));
    let head = Header { pid, when, elapsed_ms: elapsed / 1_000_000 };
    let _ = if s.json {
        write_json(&mut out, &head, &Counts::live())
    } else {
        write_text(&mut out, &head, &Counts::live())
    };
    out.flush();
    if close {
        sys::close(fd);
    }
}

/// `template` with every `%p` replaced by `pid` (and `%%` by `%`), NUL-terminated in `buf`.
fn expand_path<'a>(template: &str, pid: i32, buf: &'a mut [u8]) -> Option<&'a CStr> {
    let mut w = Fixed { buf, len: 0 };
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        let r = match (c, chars.clone().next()) {
            ('%', Some('p')) => {
                chars.next();
                write!(w, "{pid}")
            }
            ('%', Some('%')) => {
                chars.next();
                w.write_char('%')
            }
            (c, _) => w.write_char(c),
        };
        r.ok()?;
    }
    w.write_char('\0').ok()?;
    let len = w.len;
    CStr::from_bytes_with_nul(&w.buf[..len]).ok()
}

/// A fixed buffer (fails when full).
struct Fixed<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Fixed<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A stack buffer flushed to a descriptor when full.
/// A report's output, written in pieces of at most its buffer's size: a text report fits in
/// one, so it is one write(2), whole in a file that other reports append to at the same time
/// (the interval thread's).
struct Out {
    fd: i32,
    buf: [u8; 4096],
    len: usize,
}

impl Out {
    fn flush(&mut self) {
        let _ = sys::write_all(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

struct Header<'a> {
    pid: i32,
    when: &'a str,
    elapsed_ms: u64,
}

/// Where a report reads its numbers: the live counters (summed over the shards), or fixed
/// ones in the unit tests.
trait Source {
    fn ops(&self, e: usize, op: usize) -> u64;
    fn bytes(&self, e: usize) -> u64;
    fn errors(&self, e: usize, errno: usize) -> u64;
    fn latency(&self, e: usize, b: usize) -> u64;
    fn max_ns(&self, e: usize) -> u64;
    fn fallback(&self, f: usize, errno: usize) -> u64;
    fn threads(&self, t: usize) -> u64;
    fn notes(&self, n: usize) -> u64;
    fn signal_retries(&self) -> u64;
    fn peak(&self) -> u64;
}

struct Counts;

impl Counts {
    fn live() -> Counts {
        Counts
    }
}

fn sum(f: impl Fn(&ExecCounters) -> &AtomicU64, e: usize) -> u64 {
    SHARD.iter().map(|s| f(&s.0[e]).load(Relaxed)).fold(0, u64::wrapping_add)
}

impl Source for Counts {
    fn ops(&self, e: usize, op: usize) -> u64 {
        sum(|c| &c.ops[op], e)
    }
    fn bytes(&self, e: usize) -> u64 {
        sum(|c| &c.bytes, e)
    }
    fn errors(&self, e: usize, errno: usize) -> u64 {
        sum(|c| &c.errors[errno], e)
    }
    fn latency(&self, e: usize, b: usize) -> u64 {
        sum(|c| &c.latency[b], e)
    }
    fn max_ns(&self, e: usize) -> u64 {
        SHARD.iter().map(|s| s.0[e].max_ns.load(Relaxed)).max().unwrap_or(0)
    }
    fn fallback(&self, f: usize, errno: usize) -> u64 {
        FALLBACK[f][errno].load(Relaxed)
    }
    fn threads(&self, t: usize) -> u64 {
        THREADS[t].load(Relaxed)
    }
    fn notes(&self, n: usize) -> u64 {
        NOTES[n].load(Relaxed)
    }
    fn signal_retries(&self) -> u64 {
        SIGNAL_RETRIES.load(Relaxed)
    }
    fn peak(&self) -> u64 {
        PEAK_IN_FLIGHT.load(Relaxed)
    }
}

/// Latency percentiles of executor `e`: (samples, p50, p99, p99.9, max), in ns; a percentile is
/// its bucket's upper bound (at most 25% above the true value), never above the maximum.
fn percentiles(src: &dyn Source, e: usize) -> (u64, [u64; 3], u64) {
    let total: u64 = (0..BUCKETS).map(|b| src.latency(e, b)).sum();
    let max = src.max_ns(e);
    let mut out = [0u64; 3];
    if total == 0 {
        return (0, out, max);
    }
    // rank = ceil(total * q), q in thousandths
    for (slot, q) in out.iter_mut().zip([500u64, 990, 999]) {
        let rank = (total * q).div_ceil(1000).max(1);
        let mut seen = 0;
        for b in 0..BUCKETS {
            seen += src.latency(e, b);
            if seen >= rank {
                *slot = bucket_top(b).min(max);
                break;
            }
        }
    }
    (total, out, max)
}

fn errno_name(e: usize) -> Option<&'static str> {
    Some(match e as i32 {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EPIPE => "EPIPE",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ECONNRESET => "ECONNRESET",
        libc::ENOTCONN => "ENOTCONN",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EDQUOT => "EDQUOT",
        libc::ECANCELED => "ECANCELED",
        _ => return None,
    })
}

/// An errno's name, or its number (0: "other", beyond the table; for a fallback: no errno).
struct ErrnoName(usize);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, errno_name(self.0)) {
            (_, Some(n)) => f.write_str(n),
            (0, None) => f.write_str("other"),
            (e, None) => write!(f, "E{e}"),
        }
    }
}

/// Nanoseconds for people: 850ns, 12.3us, 4.56ms, 1.20s.
struct Dur(u64);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let (whole, frac, digits, unit) = match n {
            0..=999 => return write!(f, "{n}ns"),
            1_000..=999_999 => (n / 1_000, n % 1_000 / 100, 1, "us"),
            1_000_000..=999_999_999 => (n / 1_000_000, n % 1_000_000 / 10_000, 2, "ms"),
            _ => (n / 1_000_000_000, n % 1_000_000_000 / 10_000_000, 2, "s"),
        };
        write!(f, "{whole}.{frac:0digits$}{unit}")
    }
}

/// Pads a Display to a width (core::fmt pads strings, not arbitrary Display values).
struct Pad<T>(T, usize);

impl<T: fmt::Display> fmt::Display for Pad<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = [0u8; 32];
        let mut w = Fixed { buf: &mut b, len: 0 };
        write!(w, "{}", self.0)?;
        let len = w.len;
        let s = std::str::from_utf8(&b[..len]).map_err(|_| fmt::Error)?;
        write!(f, "{s:>width$}", width = self.1)
    }
}

/// The table (jemalloc's stats_print in spirit): one line per executor, then the rest.
fn write_text(w: &mut dyn Write, h: &Header<'_>, src: &dyn Source) -> fmt::Result {
    writeln!(w, "___ rtaio statistics (pid {}, {}, after {} ms) ___", h.pid, h.when, h.elapsed_ms)?;
    writeln!(
        w,
        "{:<9}{:>9}{:>9}{:>9}{:>10}{:>13}{:>8}{:>9}{:>9}{:>9}{:>9}",
        "executor", "read", "write", "fsync", "fdatasync", "bytes", "errors", "p50", "p99", "p99.9", "max"
    )?;
    for (e, name) in EXEC_NAMES.iter().enumerate() {
        let errors: u64 = (0..ERRNOS).map(|i| src.errors(e, i)).sum();
        write!(w, "{name:<9}")?;
        for op in 0..4 {
            write!(w, "{:>width$}", src.ops(e, op), width = if op == 3 { 10 } else { 9 })?;
        }
        write!(w, "{:>13}{:>8}", src.bytes(e), errors)?;
        let (n, p, max) = percentiles(src, e);
        if n == 0 {
            writeln!(w, "{:>9}{:>9}{:>9}{:>9}", "-", "-", "-", "-")?;
        } else {
            writeln!(w, "{}{}{}{}", Pad(Dur(p[0]), 9), Pad(Dur(p[1]), 9), Pad(Dur(p[2]), 9), Pad(Dur(max), 9))?;
        }
    }
    for (e, name) in EXEC_NAMES.iter().enumerate() {
        for i in 0..ERRNOS {
            let n = src.errors(e, i);
            if n > 0 {
                writeln!(w, "error     {name} {} {n}", ErrnoName(i))?;
            }
        }
    }
    for (f, what) in FALLBACK_NAMES.iter().enumerate() {
        for i in 0..ERRNOS {
            let n = src.fallback(f, i);
            match (n, i) {
                (0, _) => {}
                (n, 0) => writeln!(w, "fallback  {what}: {n}")?,
                (n, i) => writeln!(w, "fallback  {what}: {} {n}", ErrnoName(i))?,
            }
        }
    }
    writeln!(w, "in flight peak {}", src.peak())?;
    write!(w, "threads  ")?;
    for (t, name) in THREAD_NAMES.iter().enumerate() {
        write!(w, " {name} {}", src.threads(t))?;
    }
    write!(w, "\nnotify   ")?;
    for (n, name) in NOTE_NAMES.iter().enumerate() {
        write!(w, " {name} {}", src.notes(n))?;
    }
    writeln!(w, "\nsignals retried {}", src.signal_retries())?;
    writeln!(w, "___ end of rtaio statistics ___")
}

/// One JSON object, on one line.
fn write_json(w: &mut dyn Write, h: &Header<'_>, src: &dyn Source) -> fmt::Result {
    write!(
        w,
        "{{\"rtaio_stats\":1,\"pid\":{},\"when\":\"{}\",\"elapsed_ms\":{},\"executors\":{{",
        h.pid, h.when, h.elapsed_ms
    )?;
    for (e, name) in EXEC_NAMES.iter().enumerate() {
        write!(w, "{}\"{name}\":{{", if e > 0 { "," } else { "" })?;
        for (op, opname) in OP_NAMES.iter().enumerate() {
            write!(w, "\"{opname}\":{},", src.ops(e, op))?;
        }
        write!(w, "\"bytes\":{},\"errors\":{{", src.bytes(e))?;
        let mut first = true;
        for i in 0..ERRNOS {
            let n = src.errors(e, i);
            if n > 0 {
                write!(w, "{}\"{}\":{n}", if first { "" } else { "," }, ErrnoName(i))?;
                first = false;
            }
        }
        let (n, p, max) = percentiles(src, e);
        write!(
            w,
            "}},\"latency_ns\":{{\"count\":{n},\"p50\":{},\"p99\":{},\"p99.9\":{},\"max\":{max},\"histogram\":[",
            p[0], p[1], p[2]
        )?;
        // The log-scale histogram itself: [largest value of the bucket in ns, count], non-empty
        // buckets only (bench/stats-chart.sh draws it).
        let mut first = true;
        for b in 0..BUCKETS {
            let c = src.latency(e, b);
            if c > 0 {
                write!(w, "{}[{},{c}]", if first { "" } else { "," }, bucket_top(b))?;
                first = false;
            }
        }
        write!(w, "]}}}}")?;
    }
    write!(w, "}},\"fallbacks\":[")?;
    let mut first = true;
    for (f, what) in FALLBACK_NAMES.iter().enumerate() {
        for i in 0..ERRNOS {
            let n = src.fallback(f, i);
            if n > 0 {
                let sep = if first { "" } else { "," };
                first = false;
                write!(w, "{sep}{{\"what\":\"{what}\",")?;
                if i == 0 {
                    write!(w, "\"errno\":null,\"count\":{n}}}")?;
                } else {
                    write!(w, "\"errno\":\"{}\",\"count\":{n}}}", ErrnoName(i))?;
                }
            }
        }
    }
    write!(w, "],\"peak_in_flight\":{},\"threads_started\":{{", src.peak())?;
    for (t, name) in THREAD_NAMES.iter().enumerate() {
        write!(w, "{}\"{name}\":{}", if t > 0 { "," } else { "" }, src.threads(t))?;
    }
    write!(w, "}},\"notifications\":{{")?;
    for (n, name) in NOTE_NAMES.iter().enumerate() {
        write!(w, "{}\"{name}\":{}", if n > 0 { "," } else { "" }, src.notes(n))?;
    }
    writeln!(w, "}},\"signals_retried\":{}}}", src.signal_retries())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in (0..4096u64).chain((12..63).map(|s| (1u64 << s) + 12345)).chain([u64::MAX]) {
            let b = bucket(ns);
            assert!(b < BUCKETS, "{ns}");
            assert!(b >= last, "{ns}");
            last = b;
            let top = bucket_top(b);
            assert!(top >= ns, "{ns}: top {top}");
            assert!(top - ns <= ns / 4 + 1, "{ns}: top {top} too wide");
            if b > 0 {
                assert!(bucket_top(b - 1) < ns, "{ns}");
            }
        }
    }

    /// Fixed numbers for the formatters.
    #[derive(Default)]
    struct Fake {
        ops: [[u64; 4]; EXECS],
        bytes: [u64; EXECS],
        errors: Vec<(usize, usize, u64)>,
        latency: Vec<(usize, u64, u64)>,
        fallbacks: Vec<(usize, usize, u64)>,
    }

    impl Source for Fake {
        fn ops(&self, e: usize, op: usize) -> u64 {
            self.ops[e][op]
        }
        fn bytes(&self, e: usize) -> u64 {
            self.bytes[e]
        }
        fn errors(&self, e: usize, errno: usize) -> u64 {
            self.errors.iter().filter(|x| x.0 == e && x.1 == errno).map(|x| x.2).sum()
        }
        fn latency(&self, e: usize, b: usize) -> u64 {
            self.latency.iter().filter(|x| x.0 == e && bucket(x.1) == b).map(|x| x.2).sum()
        }
        fn max_ns(&self, e: usize) -> u64 {
            self.latency.iter().filter(|x| x.0 == e).map(|x| x.1).max().unwrap_or(0)
        }
        fn fallback(&self, f: usize, errno: usize) -> u64 {
            self.fallbacks.iter().filter(|x| x.0 == f && x.1 == errno).map(|x| x.2).sum()
        }
        fn threads(&self, t: usize) -> u64 {
            t as u64
        }
        fn notes(&self, n: usize) -> u64 {
            10 * n as u64
        }
        fn signal_retries(&self) -> u64 {
            3
        }
        fn peak(&self) -> u64 {
            8
        }
    }

    fn fake() -> Fake {
        let mut f = Fake::default();
        f.ops[Exec::Uring as usize] = [8, 2, 1, 0];
        f.bytes[Exec::Uring as usize] = 8 * 4096;
        f.errors.push((Exec::Inline as usize, libc::EBADF as usize, 1));
        // 990 at ~1us, 9 at ~1ms, one at 2 s
        f.latency.extend([(1, 1000, 990), (1, 1_000_000, 9), (1, 2_000_000_000, 1)]);
        f.fallbacks.push((Fallback::UringSetup as usize, libc::EPERM as usize, 1));
        f
    }

    fn render(json: bool) -> String {
        let mut buf = vec![0u8; 16384];
        let mut w = Fixed { buf: &mut buf, len: 0 };
        let h = Header { pid: 42, when: "exit", elapsed_ms: 7 };
        if json {
            write_json(&mut w, &h, &fake()).unwrap();
        } else {
            write_text(&mut w, &h, &fake()).unwrap();
        }
        let n = w.len;
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn percentiles_from_buckets() {
        let (n, p, max) = percentiles(&fake(), 1);
        assert_eq!(n, 1000);
        assert!((1000..=1250).contains(&p[0]), "{p:?}");
        assert!((1000..=1250).contains(&p[1]), "{p:?}: the 990th of 1000 is still ~1us");
        assert!((1_000_000..=1_250_000).contains(&p[2]), "{p:?}");
        assert_eq!(max, 2_000_000_000);
        assert_eq!(percentiles(&fake(), 0).0, 0);
    }

    #[test]
    fn text_report() {
        let t = render(false);
        assert!(t.starts_with("___ rtaio statistics (pid 42, exit, after 7 ms) ___\n"), "{t}");
        let row = t.lines().find(|l| l.starts_with("io_uring ")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cols[..7], ["io_uring", "8", "2", "1", "0", "32768", "0"], "{row}");
        assert_eq!(cols[10], "2.00s", "{row}");
        assert!(t.lines().any(|l| l == "error     inline EBADF 1"), "{t}");
        assert!(t.lines().any(|l| l == "fallback  io_uring refused (io_uring_setup): EPERM 1"), "{t}");
        assert!(t.contains("in flight peak 8\n"), "{t}");
        assert!(t.contains("threads   pool 0 notify 1 uring_submitter 2 kaio_reaper 3\n"), "{t}");
        assert!(t.contains("notify    none 0 signal 10 thread 20 thread_id 30 eventfd 40\n"), "{t}");
        assert!(t.ends_with("signals retried 3\n___ end of rtaio statistics ___\n"), "{t}");
    }

    #[test]
    fn json_report() {
        let j = render(true);
        assert_eq!(j.lines().count(), 1);
        for want in [
            r#"{"rtaio_stats":1,"pid":42,"when":"exit","elapsed_ms":7,"executors":{"inline":{"read":0,"#,
            r#""errors":{"EBADF":1}"#,
            r#""waiter":{"read":0,"write":0,"#,
            r#""io_uring":{"read":8,"write":2,"fsync":1,"fdatasync":0,"bytes":32768,"errors":{},"latency_ns":{"count":1000,"#,
            r#""fallbacks":[{"what":"io_uring refused (io_uring_setup)","errno":"EPERM","count":1}]"#,
            r#""peak_in_flight":8,"threads_started":{"pool":0,"notify":1,"uring_submitter":2,"kaio_reaper":3}"#,
            r#""notifications":{"none":0,"signal":10,"thread":20,"thread_id":30,"eventfd":40},"signals_retried":3}"#,
        ] {
            assert!(j.contains(want), "{want}\n in {j}");
        }
        // balanced braces
        assert_eq!(j.matches('{').count(), j.matches('}').count());
    }

    #[test]
    fn path_expansion() {
        let mut b = [0u8; 64];
        assert_eq!(expand_path("/tmp/s.%p.%%p", 123, &mut b).unwrap().to_bytes(), b"/tmp/s.123.%p");
        assert_eq!(expand_path("/x%", 1, &mut b).unwrap().to_bytes(), b"/x%");
        assert!(expand_path(&"a".repeat(100), 1, &mut b).is_none(), "too long");
    }

    #[test]
    fn durations() {
        let s = |n| {
            let mut b = [0u8; 32];
            let mut w = Fixed { buf: &mut b, len: 0 };
            write!(w, "{}", Dur(n)).unwrap();
            let l = w.len;
            String::from_utf8(b[..l].to_vec()).unwrap()
        };
        assert_eq!(s(850), "850ns");
        assert_eq!(s(12_345), "12.3us");
        assert_eq!(s(4_560_000), "4.56ms");
        assert_eq!(s(1_200_000_000), "1.20s");
    }
}
