//! Tuning: defaults, then `RTAIO_*` environment variables (ignored in secure-execution mode),
//! then `aio_init()` — the program's explicit request wins.

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::Duration;

pub const DEFAULT_MAX_THREADS: usize = 64;
pub const DEFAULT_IDLE_MS: usize = 1000;
pub const DEFAULT_MAX_REQUESTS: usize = 1 << 20;
/// The largest `RTAIO_MAX_REQUESTS` (larger values are taken as this one): `aio_waitcomplete`
/// numbers its slots in 32 bits.
pub const MAX_MAX_REQUESTS: usize = u32::MAX as usize;

/// Values set by `aio_init` (0 = not set).
static INIT_THREADS: AtomicUsize = AtomicUsize::new(0);
static INIT_IDLE_MS: AtomicUsize = AtomicUsize::new(0);
static INIT_NUM: AtomicUsize = AtomicUsize::new(0);

/// Which executors take requests (`RTAIO_BACKEND`). Whatever is chosen, a kernel interface
/// the kernel refuses falls back to the next, so the application sees no difference but speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// io_uring where the kernel allows it; else what `Kaio` does (the default).
    Auto,
    /// io_uring for every request it takes (the inline path, then the pool, if refused).
    Uring,
    /// Native AIO where it is truly asynchronous (O_DIRECT reads/writes, their fsyncs), the
    /// inline path and the pool for the rest: rtaio without io_uring.
    Kaio,
    /// The inline path and the thread pool only.
    Threads,
    /// Native AIO for every read, write and fsync on files and block devices (for comparison:
    /// without O_DIRECT the kernel performs them synchronously inside io_submit).
    Kernel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub max_threads: usize,
    pub idle: Duration,
    pub max_requests: usize,
    pub capacity_hint: usize,
    pub inline: bool,
    pub backend: Backend,
    pub faults: Faults,
}

/// Test-only fault injection for the kernel executors
/// (`RTAIO_FAULTS=io_submit=EAGAIN,io_setup=ENOSYS,io_uring_setup=EPERM`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub io_setup: Option<i32>,
    pub io_submit: Option<i32>,
    pub io_uring_setup: Option<i32>,
}

impl Faults {
    /// The faults of `spec`; items not understood are skipped.
    pub fn parse(spec: &str) -> Faults {
        Faults::parse_checked(spec).0
    }

    /// The faults of `spec`, and whether every (non-empty) item was understood.
    pub fn parse_checked(spec: &str) -> (Faults, bool) {
        let mut f = Faults::default();
        let mut all = true;
        for item in spec.split(',').filter(|i| !i.trim().is_empty()) {
            let e = match item.split_once('=').map(|(_, e)| e.trim()) {
                Some("EAGAIN") => libc::EAGAIN,
                Some("EINVAL") => libc::EINVAL,
                Some("ENOSYS") => libc::ENOSYS,
                Some("EPERM") => libc::EPERM,
                Some("EBADF") => libc::EBADF,
                Some("ENOMEM") => libc::ENOMEM,
                _ => {
                    all = false;
                    continue;
                }
            };
            match item.split_once('=').map(|(c, _)| c.trim()) {
                Some("io_setup") => f.io_setup = Some(e),
                Some("io_submit") => f.io_submit = Some(e),
                Some("io_uring_setup") => f.io_uring_setup = Some(e),
                _ => all = false,
            }
        }
        (f, all)
    }
}

// How each variable's value is read: the library and `rtaio --doctor` (which says when a value
// is not understood) both use these. None: not understood (the default applies).

/// A count or a duration (`RTAIO_THREADS`, `RTAIO_IDLE_MS`, `RTAIO_MAX_REQUESTS`,
/// `RTAIO_STATS_INTERVAL`): a positive integer.
pub fn parse_count(raw: &str) -> Option<usize> {
    raw.trim().parse::<usize>().ok().filter(|&v| v > 0)
}

/// `RTAIO_INLINE`: 0 turns the inline path off, 1 leaves it on.
pub fn parse_inline(raw: &str) -> Option<bool> {
    match raw.trim() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

/// `RTAIO_BACKEND`.
pub fn parse_backend(raw: &str) -> Option<Backend> {
    match raw.trim() {
        "auto" => Some(Backend::Auto),
        "uring" => Some(Backend::Uring),
        "kaio" => Some(Backend::Kaio),
        "threads" => Some(Backend::Threads),
        "kernel" => Some(Backend::Kernel),
        _ => None,
    }
}

/// `RTAIO_STATS_FORMAT`: JSON (true) or the table (`text`, false).
pub fn parse_stats_format(raw: &str) -> Option<bool> {
    match raw.trim() {
        f if f.eq_ignore_ascii_case("json") => Some(true),
        f if f.eq_ignore_ascii_case("text") => Some(false),
        _ => None,
    }
}

fn env_usize(name: &str) -> Option<usize> {
    parse_count(std::env::var_os(name)?.to_str()?)
}

fn env_str(env_ok: bool, name: &str) -> Option<String> {
    if !env_ok {
        return None;
    }
    std::env::var_os(name)?.into_string().ok()
}

/// The settings in force now.
pub fn current() -> Settings {
    let env_ok = !crate::sys::secure_execution();
    let env = |name| if env_ok { env_usize(name) } else { None };
    let pick = |init: &AtomicUsize, name, default| match init.load(Relaxed) {
        0 => env(name).unwrap_or(default),
        v => v,
    };
    Settings {
        max_threads: pick(&INIT_THREADS, "RTAIO_THREADS", DEFAULT_MAX_THREADS),
        idle: Duration::from_millis(pick(&INIT_IDLE_MS, "RTAIO_IDLE_MS", DEFAULT_IDLE_MS) as u64),
        max_requests: env("RTAIO_MAX_REQUESTS").map_or(DEFAULT_MAX_REQUESTS, |v| v.min(MAX_MAX_REQUESTS)),
        capacity_hint: INIT_NUM.load(Relaxed),
        inline: env_str(env_ok, "RTAIO_INLINE").and_then(|v| parse_inline(&v)).unwrap_or(true),
        backend: env_str(env_ok, "RTAIO_BACKEND").and_then(|v| parse_backend(&v)).unwrap_or(Backend::Auto),
        faults: env_str(env_ok, "RTAIO_FAULTS").map(|s| Faults::parse(&s)).unwrap_or_default(),
    }
}

/// Where statistics reports go (`RTAIO_STATS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsDest {
    Stderr,
    /// A file, appended to; `%p` is replaced by the pid when the report is written.
    File(String),
}

/// Statistics on request (`RTAIO_STATS`, `RTAIO_STATS_SIGNAL`, `RTAIO_STATS_INTERVAL`,
/// `RTAIO_STATS_FORMAT`); off (`dest` None) unless one of them asks, and always off in
/// secure-execution mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSettings {
    pub dest: Option<StatsDest>,
    /// Report when this signal arrives.
    pub signal: Option<i32>,
    /// Report every so many milliseconds (from a thread of its own).
    pub interval_ms: Option<u64>,
    /// One JSON object per report instead of the table.
    pub json: bool,
}

/// The statistics settings, from the environment (read once, at load).
pub fn stats_settings() -> StatsSettings {
    let env_ok = !crate::sys::secure_execution();
    let get = |name| env_str(env_ok, name).filter(|v| !v.trim().is_empty());
    stats_from(get("RTAIO_STATS"), get("RTAIO_STATS_SIGNAL"), get("RTAIO_STATS_INTERVAL"), get("RTAIO_STATS_FORMAT"))
}

fn stats_from(
    dest: Option<String>,
    signal: Option<String>,
    interval: Option<String>,
    format: Option<String>,
) -> StatsSettings {
    let signal = signal.and_then(|s| parse_signal(s.trim()));
    let interval_ms = interval.and_then(|s| parse_count(&s)).map(|v| v as u64);
    let dest = match dest.as_deref().map(str::trim) {
        Some("0") => None,
        Some("1") | Some("stderr") => Some(StatsDest::Stderr),
        Some(path) => Some(StatsDest::File(path.to_string())),
        // Asking for reports by signal or interval alone: to stderr.
        None if signal.is_some() || interval_ms.is_some() => Some(StatsDest::Stderr),
        None => None,
    };
    let on = dest.is_some();
    StatsSettings {
        json: on && format.and_then(|f| parse_stats_format(&f)).unwrap_or(false),
        signal: signal.filter(|_| on),
        interval_ms: interval_ms.filter(|_| on),
        dest,
    }
}

/// A signal by number or name (`10`, `USR1`, `SIGUSR2`); None for one a handler cannot be
/// installed for, or one glibc keeps (32, 33).
pub fn parse_signal(s: &str) -> Option<i32> {
    let name = s.strip_prefix("SIG").unwrap_or(s);
    let n = match name {
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "HUP" => libc::SIGHUP,
        "WINCH" => libc::SIGWINCH,
        "PWR" => libc::SIGPWR,
        n => n.parse().ok()?,
    };
    let valid = (1..32).contains(&n) || (crate::sys::sigrtmin()..=crate::sys::sigrtmax()).contains(&n);
    (valid && n != libc::SIGKILL && n != libc::SIGSTOP).then_some(n)
}

/// Records `aio_init` values (non-positive fields are left as they were, like glibc).
pub fn record_aio_init(threads: i32, num: i32, idle_secs: i32) {
    if threads > 0 {
        INIT_THREADS.store(threads as usize, Relaxed);
    }
    if num > 0 {
        INIT_NUM.store(num as usize, Relaxed);
    }
    if idle_secs > 0 {
        INIT_IDLE_MS.store((idle_secs as usize).saturating_mul(1000), Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_spec() {
        assert_eq!(Faults::parse(""), Faults::default());
        assert_eq!(Faults::parse("io_submit=EAGAIN"), Faults { io_submit: Some(libc::EAGAIN), ..Faults::default() });
        assert_eq!(
            Faults::parse("io_setup=ENOSYS, io_submit=EINVAL,io_uring_setup=EPERM"),
            Faults { io_setup: Some(libc::ENOSYS), io_submit: Some(libc::EINVAL), io_uring_setup: Some(libc::EPERM) }
        );
        assert_eq!(Faults::parse("bogus=EAGAIN,io_submit=WHAT"), Faults::default());
        assert!(Faults::parse_checked("io_submit=EAGAIN, ,").1);
        for bad in ["bogus", "io_submit=WHAT", "bogus=EAGAIN", "io_submit=EAGAIN,x"] {
            assert!(!Faults::parse_checked(bad).1, "{bad}");
        }
    }

    #[test]
    fn stats_spec() {
        let s = |d: Option<&str>, sig: Option<&str>, iv: Option<&str>, f: Option<&str>| {
            stats_from(d.map(Into::into), sig.map(Into::into), iv.map(Into::into), f.map(Into::into))
        };
        assert_eq!(s(None, None, None, Some("json")), StatsSettings::default(), "off unless asked");
        assert_eq!(s(Some("0"), Some("USR1"), None, None), StatsSettings::default());
        assert_eq!(s(Some("1"), None, None, None).dest, Some(StatsDest::Stderr));
        let f = s(Some("/tmp/st.%p"), Some("SIGUSR2"), Some("250"), Some("JSON"));
        assert_eq!(f.dest, Some(StatsDest::File("/tmp/st.%p".into())));
        assert_eq!((f.signal, f.interval_ms, f.json), (Some(libc::SIGUSR2), Some(250), true));
        let g = s(None, Some("10"), None, Some("text"));
        assert_eq!((g.dest, g.signal, g.json), (Some(StatsDest::Stderr), Some(10), false));
        for bad in ["0", "9", "19", "32", "33", "65", "KILL", "x"] {
            assert_eq!(parse_signal(bad), None, "{bad}");
        }
        assert_eq!(s(None, None, Some("0"), None), StatsSettings::default());
    }
}
