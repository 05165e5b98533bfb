//! Tuning: defaults, then `RTAIO_*` environment variables (ignored in secure-execution mode),
//! then `aio_init()` — the program's explicit request wins.

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::Duration;

pub const DEFAULT_MAX_THREADS: usize = 64;
pub const DEFAULT_IDLE_MS: usize = 1000;
pub const DEFAULT_MAX_REQUESTS: usize = 1 << 20;

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
    pub fn parse(spec: &str) -> Faults {
        let mut f = Faults::default();
        for item in spec.split(',') {
            let Some((call, err)) = item.split_once('=') else { continue };
            let e = match err.trim() {
                "EAGAIN" => libc::EAGAIN,
                "EINVAL" => libc::EINVAL,
                "ENOSYS" => libc::ENOSYS,
                "EPERM" => libc::EPERM,
                "EBADF" => libc::EBADF,
                "ENOMEM" => libc::ENOMEM,
                _ => continue,
            };
            match call.trim() {
                "io_setup" => f.io_setup = Some(e),
                "io_submit" => f.io_submit = Some(e),
                "io_uring_setup" => f.io_uring_setup = Some(e),
                _ => {}
            }
        }
        f
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var_os(name)?.to_str()?.trim().parse::<usize>().ok().filter(|&v| v > 0)
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
        max_requests: env("RTAIO_MAX_REQUESTS").unwrap_or(DEFAULT_MAX_REQUESTS),
        capacity_hint: INIT_NUM.load(Relaxed),
        inline: !(env_ok && std::env::var_os("RTAIO_INLINE").is_some_and(|v| v == "0")),
        backend: match env_str(env_ok, "RTAIO_BACKEND").as_deref() {
            Some("uring") => Backend::Uring,
            Some("kaio") => Backend::Kaio,
            Some("threads") => Backend::Threads,
            Some("kernel") => Backend::Kernel,
            _ => Backend::Auto,
        },
        faults: env_str(env_ok, "RTAIO_FAULTS").map(|s| Faults::parse(&s)).unwrap_or_default(),
    }
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
    }
}
