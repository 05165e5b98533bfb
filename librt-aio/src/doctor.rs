//! `rtaio --doctor [PATH]`: what rtaio will do on this machine, in this process context, and
//! why. The launcher runs the `rtaio-doctor` program (`src/bin/rtaio-doctor.rs`), which calls
//! [`main`]: the checks are the library's own calls (io_uring_setup, io_setup, futex_waitv, an
//! O_DIRECT open), made in a process that inherited the caller's seccomp filter, limits and
//! environment, so their answers are the ones the library would get.
//!
//! Output: one `name: value` line per finding (stable names, for tools), then `verdict:`.
//! Exit status: 0 if the settings in effect use io_uring and the kernel grants it; 1 if rtaio
//! will fall back (the verdict says to what, and why); 2 for a usage error.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use kernel_aio::aio::Context;
use kernel_aio::uring::Ring;

use crate::config::{self, Backend, StatsDest};
use crate::request::Request;
use crate::sys;

/// Entries of the ring the library makes (`exec/uring.rs`): the same request to the kernel.
const RING_ENTRIES: u32 = 1024;
/// Events of the native AIO context the library makes (`exec/kaio.rs`).
const AIO_EVENTS: u32 = 256;

/// Every setting read from the environment (rtaio(7) ENVIRONMENT).
const VARIABLES: &[&str] = &[
    "RTAIO_BACKEND",
    "RTAIO_INLINE",
    "RTAIO_THREADS",
    "RTAIO_IDLE_MS",
    "RTAIO_MAX_REQUESTS",
    "RTAIO_FAULTS",
    "RTAIO_STATS",
    "RTAIO_STATS_SIGNAL",
    "RTAIO_STATS_INTERVAL",
    "RTAIO_STATS_FORMAT",
];

/// The doctor; `args` without the program name. Returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    let path = match args.as_slice() {
        [] => PathBuf::from("."),
        [p] if p.to_str().is_some_and(|s| s == "-h" || s == "--help") => {
            println!("usage: rtaio --doctor [PATH]");
            return 0;
        }
        [p] if !p.to_string_lossy().starts_with('-') => PathBuf::from(p),
        _ => {
            eprintln!("usage: rtaio --doctor [PATH]   (PATH: a directory whose file system to check; default .)");
            return 2;
        }
    };
    if !path.is_dir() {
        eprintln!("rtaio --doctor: {}: not a directory", path.display());
        return 2;
    }
    let s = config::current();
    let secure = sys::secure_execution();

    let release = read_trim("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into());
    println!("kernel: Linux {release} {}", std::env::consts::ARCH);
    if secure {
        println!("secure-execution: yes (AT_SECURE: every RTAIO_* variable is ignored)");
    }

    // io_uring, as the library makes its ring (and its test fault, when it would apply it).
    let uring = match s.faults.io_uring_setup {
        Some(e) => Err((e, "RTAIO_FAULTS (test fault injection)".to_string())),
        None => Ring::<()>::new(RING_ENTRIES).map(drop).map_err(|e| {
            let e = e.raw_os_error().unwrap_or(libc::EIO);
            (e, uring_cause(e))
        }),
    };
    match &uring {
        Ok(()) => println!("io_uring: available"),
        Err((e, why)) => println!("io_uring: refused: {} by {why}", name(*e)),
    }

    // Native AIO: the system-wide limit, and a context as the library makes one.
    let max_nr = read_trim("/proc/sys/fs/aio-max-nr").unwrap_or_else(|| "?".into());
    let nr = read_trim("/proc/sys/fs/aio-nr").unwrap_or_else(|| "?".into());
    let kaio = match s.faults.io_setup {
        Some(e) => Err((e, "RTAIO_FAULTS (test fault injection)".to_string())),
        None => Context::<Request>::new(AIO_EVENTS).map(drop).map_err(|e| {
            let e = e.raw_os_error().unwrap_or(libc::EIO);
            (e, kaio_cause(e))
        }),
    };
    match &kaio {
        Ok(()) => println!("native-aio: available (fs.aio-nr {nr} of fs.aio-max-nr {max_nr} in use)"),
        Err((e, why)) => {
            println!("native-aio: refused: {} by {why} (fs.aio-nr {nr} of fs.aio-max-nr {max_nr} in use)", name(*e))
        }
    }

    match sys::futex_waitv_exists() {
        Ok(()) => println!("futex_waitv: available"),
        Err(e) => println!(
            "futex_waitv: missing: {} (Linux < 5.16, or seccomp): aio_suspend waits on one process-wide counter",
            name(e)
        ),
    }

    let fs_type = fs_type(&path).unwrap_or_else(|| "unknown file system".into());
    match o_direct(&path) {
        Ok(()) => println!("o_direct: supported on {} ({fs_type})", path.display()),
        Err(Probe::Refused(e)) => println!(
            "o_direct: unsupported on {} ({fs_type}): open(O_DIRECT) fails with {}: O_DIRECT requests there fail as they would without rtaio",
            path.display(),
            name(e)
        ),
        Err(Probe::Untested(e)) => println!(
            "o_direct: untested on {} ({fs_type}): no file can be created there ({}) and no regular file there opens for reading: give a directory you can write to",
            path.display(),
            name(e)
        ),
    }

    // The settings in effect, and where each came from.
    let st = config::stats_settings();
    for var in VARIABLES {
        let set = std::env::var_os(var);
        let source = match (&set, secure) {
            (None, _) => "default",
            (Some(_), true) => "ignored: AT_SECURE",
            (Some(_), false) => "environment",
        };
        let value = match *var {
            "RTAIO_BACKEND" => backend_name(s.backend).to_string(),
            "RTAIO_INLINE" => (if s.inline { "1" } else { "0" }).to_string(),
            "RTAIO_THREADS" => s.max_threads.to_string(),
            "RTAIO_IDLE_MS" => s.idle.as_millis().to_string(),
            "RTAIO_MAX_REQUESTS" => s.max_requests.to_string(),
            "RTAIO_FAULTS" => {
                let f = s.faults;
                if f == config::Faults::default() {
                    "none".to_string()
                } else {
                    format!("{f:?}")
                }
            }
            "RTAIO_STATS" => match &st.dest {
                None => "off".to_string(),
                Some(StatsDest::Stderr) => "stderr".to_string(),
                Some(StatsDest::File(f)) => f.clone(),
            },
            "RTAIO_STATS_SIGNAL" => st.signal.map_or("none".to_string(), |n| n.to_string()),
            "RTAIO_STATS_INTERVAL" => st.interval_ms.map_or("none".to_string(), |n| n.to_string()),
            _ => (if st.json { "json" } else { "text" }).to_string(),
        };
        // A variable set but not taken (an unknown value) says so.
        let shown = match (&set, source) {
            (Some(raw), "environment") if !accepted(var, &raw.to_string_lossy()) => {
                format!("{value} (environment: {:?} not understood, ignored)", raw.to_string_lossy())
            }
            _ => format!("{value} ({source})"),
        };
        println!("setting: {var}={shown}");
    }

    // What requests will do.
    let uring_ok = uring.is_ok();
    let kaio_ok = kaio.is_ok() && s.backend != Backend::Threads;
    let rest = if s.inline { "the inline path (page-cache hits) and the thread pool" } else { "the thread pool" };
    let kaio_part = if kaio_ok {
        format!("native AIO for O_DIRECT files, {rest} for the rest")
    } else {
        format!("{rest} for everything")
    };
    let (backend, fast) = match s.backend {
        Backend::Auto if uring_ok && kaio_ok => {
            ("native AIO for O_DIRECT files, io_uring for the rest".to_string(), true)
        }
        Backend::Auto | Backend::Uring if uring_ok => ("io_uring for every request".to_string(), true),
        Backend::Auto | Backend::Uring => (kaio_part, false),
        Backend::Kaio => (kaio_part, false),
        Backend::Threads => (format!("{rest} for everything (RTAIO_BACKEND=threads)"), false),
        Backend::Kernel if kaio_ok => ("native AIO for every file request (RTAIO_BACKEND=kernel)".into(), false),
        Backend::Kernel => ("the thread pool for everything (native AIO refused)".into(), false),
    };
    println!("backend: {} -> {backend}", backend_name(s.backend));
    if fast {
        println!("verdict: ok: io_uring is available: rtaio takes the fast path");
        0
    } else {
        // The cause in short: "seccomp", "the kernel", "RLIMIT_MEMLOCK (...)"...
        let short = |by: &str| by.split(':').next().unwrap_or(by).to_string();
        let why = match (&uring, s.backend) {
            (Err((e, by)), Backend::Auto | Backend::Uring) => {
                format!("io_uring refused ({} by {})", name(*e), short(by))
            }
            (Err((e, by)), _) => format!(
                "RTAIO_BACKEND={}; io_uring is refused anyway ({} by {})",
                backend_name(s.backend),
                name(*e),
                short(by)
            ),
            (Ok(()), _) => format!("RTAIO_BACKEND={} (io_uring is available)", backend_name(s.backend)),
        };
        println!("verdict: fallback: {why}: {backend}");
        1
    }
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Auto => "auto",
        Backend::Uring => "uring",
        Backend::Kaio => "kaio",
        Backend::Threads => "threads",
        Backend::Kernel => "kernel",
    }
}

/// Was a variable's raw value understood? Decided by the library's own parsers (`config.rs`).
fn accepted(var: &str, raw: &str) -> bool {
    match var {
        "RTAIO_BACKEND" => config::parse_backend(raw).is_some(),
        "RTAIO_INLINE" => config::parse_inline(raw).is_some(),
        "RTAIO_FAULTS" => config::Faults::parse_checked(raw).1,
        // 0, 1, stderr, empty, or a file name: every value means something.
        "RTAIO_STATS" => true,
        "RTAIO_STATS_FORMAT" => config::parse_stats_format(raw).is_some(),
        "RTAIO_STATS_SIGNAL" => config::parse_signal(raw.trim()).is_some(),
        _ => config::parse_count(raw).is_some(),
    }
}

/// Why io_uring_setup failed with `e`, from what the system says.
fn uring_cause(e: i32) -> String {
    let seccomp = seccomp_mode();
    match e {
        libc::EPERM => match read_trim("/proc/sys/kernel/io_uring_disabled").as_deref() {
            Some("2") => "the kernel: kernel.io_uring_disabled=2 (io_uring off for everyone)".into(),
            Some("1") => {
                "the kernel: kernel.io_uring_disabled=1 (only members of kernel.io_uring_group may use it)".into()
            }
            _ if seccomp == Some(2) => {
                "seccomp: a filter refuses io_uring_setup (Seccomp: 2 in /proc/self/status; a container runtime or sandbox)"
                    .into()
            }
            _ => "the kernel (EPERM without io_uring_disabled or seccomp: a security module?)".into(),
        },
        libc::ENOSYS if seccomp == Some(2) => {
            "seccomp, or a kernel without io_uring (Seccomp: 2 in /proc/self/status; CONFIG_IO_URING)".into()
        }
        libc::ENOSYS => "the kernel: no io_uring support (CONFIG_IO_URING off, or Linux < 5.1)".into(),
        libc::ENOMEM => format!(
            "RLIMIT_MEMLOCK ({} locked memory allowed; kernels before 5.12 charge the ring to it)",
            memlock().unwrap_or_else(|| "?".into())
        ),
        libc::EOPNOTSUPP | libc::EINVAL => {
            "the kernel: its io_uring lacks an operation or feature rtaio needs (Linux >= 5.11)".into()
        }
        libc::EMFILE | libc::ENFILE => "the descriptor limit (RLIMIT_NOFILE)".into(),
        _ => "the kernel".into(),
    }
}

fn kaio_cause(e: i32) -> String {
    match e {
        libc::EAGAIN => "the system-wide limit fs.aio-max-nr (contexts of other programs hold it)".into(),
        libc::ENOSYS if seccomp_mode() == Some(2) => "seccomp, or a kernel without CONFIG_AIO".into(),
        libc::ENOSYS => "the kernel: no native AIO (CONFIG_AIO off)".into(),
        libc::EPERM if seccomp_mode() == Some(2) => "seccomp (Seccomp: 2 in /proc/self/status)".into(),
        _ => "the kernel".into(),
    }
}

/// `Seccomp:` of /proc/self/status: 0 none, 1 strict, 2 filter.
fn seccomp_mode() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| l.strip_prefix("Seccomp:")).and_then(|v| v.trim().parse().ok())
}

/// The soft RLIMIT_MEMLOCK, as /proc/self/limits shows it.
fn memlock() -> Option<String> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max locked memory"))?;
    let soft = line["Max locked memory".len()..].split_whitespace().next()?;
    Some(match soft.parse::<u64>() {
        Ok(b) => format!("{} KiB", b / 1024),
        Err(_) => soft.to_string(),
    })
}

/// Why the O_DIRECT probe did not succeed.
enum Probe {
    /// open(O_DIRECT) failed with this errno (EINVAL: the file system has no O_DIRECT).
    Refused(i32),
    /// Nothing could be opened to find out: the errno of creating a file.
    Untested(i32),
}

/// Opens a new file O_DIRECT in `dir` (removed at once); where none can be made (a directory
/// not writable, a read-only file system), an existing regular file there, read-only: a file
/// that cannot be created says nothing about O_DIRECT.
fn o_direct(dir: &Path) -> Result<(), Probe> {
    let errno = |e: &std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    // What open() answers on a file system without O_DIRECT.
    let refused = |e: i32| e == libc::EINVAL || e == libc::EOPNOTSUPP;
    let p = dir.join(format!(".rtaio-doctor.{}", sys::getpid()));
    let r = fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_DIRECT).open(&p);
    let _ = fs::remove_file(&p);
    let created = match r {
        Ok(_) => return Ok(()),
        Err(e) if refused(errno(&e)) => return Err(Probe::Refused(errno(&e))),
        Err(e) => errno(&e),
    };
    let entries = fs::read_dir(dir).map_err(|_| Probe::Untested(created))?;
    // A few entries at most: a huge directory must not make the doctor slow.
    for entry in entries.flatten().take(256) {
        // Regular files only (no symlink followed, no FIFO to block on).
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let flags = libc::O_DIRECT | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        match fs::OpenOptions::new().read(true).custom_flags(flags).open(entry.path()) {
            Ok(_) => return Ok(()),
            Err(e) if refused(errno(&e)) => return Err(Probe::Refused(errno(&e))),
            Err(_) => continue, // not readable by us: another one
        }
    }
    Err(Probe::Untested(created))
}

/// The type of the file system `path` is on (the longest mount point above it).
fn fs_type(path: &Path) -> Option<String> {
    let path = fs::canonicalize(path).ok()?;
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        // id parent major:minor root mountpoint options... - fstype source superoptions
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|&x| x == "-") else { continue };
        let (Some(mp), Some(ty)) = (f.get(4), f.get(dash + 1)) else { continue };
        let mp = mp.replace("\\040", " ");
        if path.starts_with(&mp) && best.as_ref().is_none_or(|(n, _)| mp.len() >= *n) {
            best = Some((mp.len(), ty.to_string()));
        }
    }
    best.map(|(_, t)| t)
}

fn read_trim(p: &str) -> Option<String> {
    fs::read_to_string(p).ok().map(|s| s.trim().to_string())
}

fn name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOSYS => "ENOSYS",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        libc::EAGAIN => "EAGAIN",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EACCES => "EACCES",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EROFS => "EROFS",
        libc::EBADF => "EBADF",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_and_causes() {
        assert_eq!(main(vec!["-x".into()]), 2);
        assert_eq!(main(vec!["a".into(), "b".into()]), 2);
        assert_eq!(main(vec!["/nonexistent/rtaio-doctor".into()]), 2);
        assert!(uring_cause(libc::ENOMEM).starts_with("RLIMIT_MEMLOCK"));
        assert!(fs_type(Path::new("/")).is_some());
        assert!(accepted("RTAIO_THREADS", "8"));
        assert!(!accepted("RTAIO_THREADS", "lots"));
        assert!(!accepted("RTAIO_BACKEND", "fast"));
        for (var, good, bad) in [
            ("RTAIO_INLINE", "0", "no"),
            ("RTAIO_STATS_FORMAT", "json", "xml"),
            ("RTAIO_FAULTS", "io_submit=EAGAIN", "bogus"),
            ("RTAIO_MAX_REQUESTS", "4294967295", "-1"),
        ] {
            assert!(accepted(var, good) && !accepted(var, bad), "{var}");
        }
        assert_eq!(name(libc::EPERM), "EPERM");
    }
}
