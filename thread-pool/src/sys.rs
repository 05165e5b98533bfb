//! The pool's system calls: thread creation and the signal mask around it, the futex its idle
//! workers sleep on, and the yield of a worker on one CPU. The crate's one `unsafe` module.

#[cfg(not(miri))]
use std::ffi::{c_void, CString};
use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Starts a detached thread named `name` (its first 15 bytes) that runs `main`, with a stack of
/// `stack_size` bytes (at least glibc's minimum for this process's thread-local storage, as
/// std makes it).
///
/// Made with `pthread_create`, not `std::thread`: every frame between glibc's thread start and
/// a task is then this library's own (built to abort on panic: no landing pads), so a task that
/// ends its thread with `pthread_exit` or by cancellation (an application's SIGEV_THREAD
/// callback may) unwinds to glibc's thread start and the thread ends, as in glibc. Under
/// std's thread start that unwind reached a Rust `catch_unwind` and aborted the process.
#[cfg(not(miri))]
pub fn spawn_detached<F: FnOnce() + Send + 'static>(name: &str, stack_size: usize, main: F) -> io::Result<()> {
    let name = CString::new(name.bytes().filter(|&b| b != 0).take(15).collect::<Vec<u8>>()).ok();
    let arg = Box::into_raw(Box::new(Start { name, main })) as *mut c_void;
    // SAFETY: `attr` is initialised before use and destroyed once; `arg` is a leaked box that
    // `thread_start` reclaims, or this function if no thread was made.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let r = libc::pthread_attr_init(&mut attr);
        if r != 0 {
            drop(Box::from_raw(arg as *mut Start<F>));
            return Err(io::Error::from_raw_os_error(r));
        }
        let stack = stack_size.max(min_stack(&attr));
        if libc::pthread_attr_setstacksize(&mut attr, stack) != 0 {
            // Not a multiple of the page size on some systems: round up.
            let page = (libc::sysconf(libc::_SC_PAGESIZE).max(4096)) as usize;
            libc::pthread_attr_setstacksize(&mut attr, stack.div_ceil(page) * page);
        }
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        let mut tid: libc::pthread_t = 0;
        let r = libc::pthread_create(&mut tid, &attr, thread_start::<F>, arg);
        libc::pthread_attr_destroy(&mut attr);
        if r != 0 {
            drop(Box::from_raw(arg as *mut Start<F>));
            return Err(io::Error::from_raw_os_error(r));
        }
    }
    Ok(())
}

/// What a thread made by `spawn_detached` starts with. (It names itself: a detached thread's
/// handle may be gone by the time its creator could use it.)
#[cfg(not(miri))]
struct Start<F> {
    name: Option<CString>,
    main: F,
}

/// Under Miri (no pthread attributes or dlsym): std's threads.
#[cfg(miri)]
pub fn spawn_detached<F: FnOnce() + Send + 'static>(name: &str, stack_size: usize, main: F) -> io::Result<()> {
    std::thread::Builder::new().name(name.into()).stack_size(stack_size).spawn(main).map(drop)
}

#[cfg(not(miri))]
extern "C" fn thread_start<F: FnOnce()>(arg: *mut c_void) -> *mut c_void {
    // Out of its box (freed here) onto this frame: if `main` ends the thread without
    // returning, nothing of the start is left allocated.
    // SAFETY: `arg` is the box leaked by `spawn_detached` for this thread alone.
    let Start { name, main } = *unsafe { Box::from_raw(arg as *mut Start<F>) };
    if let Some(name) = name {
        // Names are for people reading ps and debuggers: a failure changes nothing.
        // SAFETY: a NUL-terminated name of at most 15 bytes, for this thread.
        unsafe { libc::pthread_setname_np(libc::pthread_self(), name.as_ptr()) };
    }
    main();
    std::ptr::null_mut()
}

/// glibc's smallest stack for a thread with `attr` (PTHREAD_STACK_MIN plus the static TLS of
/// every loaded module: a program with large `__thread` arrays needs more), as std asks it.
///
/// # Safety
/// `attr` is an initialised attribute object.
#[cfg(not(miri))]
unsafe fn min_stack(attr: &libc::pthread_attr_t) -> usize {
    type GetMinstack = unsafe extern "C" fn(*const libc::pthread_attr_t) -> usize;
    static FN: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let f = *FN.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name; NULL if glibc has no such symbol.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__pthread_get_minstack".as_ptr()) as usize }
    });
    if f == 0 {
        return libc::PTHREAD_STACK_MIN;
    }
    // SAFETY: glibc's __pthread_get_minstack has this signature (a GLIBC_PRIVATE symbol that
    // std calls the same way).
    let f: GetMinstack = unsafe { std::mem::transmute(f) };
    // SAFETY: `attr` is initialised (the caller's contract).
    unsafe { f(attr) }
}

/// Sleeps while `*word == expected`, at most `timeout`, as a waiter with the wake-up bits
/// `bits` (see [`futex_wake`]). True if it timed out (false: woken, possibly spuriously, or the
/// value had changed). Every other error counts as a wake-up.
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration, bits: u32) -> bool {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into a valid local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let mut nsec = now.tv_nsec + timeout.subsec_nanos() as i64;
    let mut sec = now.tv_sec.saturating_add(timeout.as_secs().min(i64::MAX as u64 / 2) as i64);
    if nsec >= 1_000_000_000 {
        nsec -= 1_000_000_000;
        sec = sec.saturating_add(1);
    }
    let ts = libc::timespec { tv_sec: sec as libc::time_t, tv_nsec: nsec as libc::c_long };
    // SAFETY: `word` is a valid, aligned u32 for the call and `ts` a valid timespec; a private
    // FUTEX_WAIT_BITSET only reads the word.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
            0usize,
            bits.max(1),
        )
    };
    r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ETIMEDOUT)
}

/// Wakes up to `n` threads sleeping on `word` whose wake-up bits meet `bits` (u32::MAX: any);
/// returns how many it woke.
pub fn futex_wake(word: &AtomicU32, n: i32, bits: u32) -> usize {
    // SAFETY: FUTEX_WAKE_BITSET on a private futex only uses the address as a key.
    let r = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE_BITSET | libc::FUTEX_PRIVATE_FLAG,
            n,
            0usize,
            0usize,
            bits.max(1),
        )
    };
    r.max(0) as usize
}

/// Blocks every signal in the calling thread until dropped (then the previous mask is back):
/// a thread created meanwhile inherits the full mask from its first instruction, so it never
/// runs a signal handler meant for the application.
pub struct BlockAll {
    old: libc::sigset_t,
}

impl BlockAll {
    /// Under Miri (which cannot call sigfillset) masks are not modelled.
    #[cfg(miri)]
    pub fn new() -> Self {
        // SAFETY: an all-zero sigset_t is a valid (empty) set.
        BlockAll { old: unsafe { std::mem::zeroed() } }
    }

    #[cfg(not(miri))]
    pub fn new() -> Self {
        // SAFETY: sigset_t manipulation of local values; pthread_sigmask reads `all` and writes
        // `old`, both valid.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockAll { old }
        }
    }
}

impl Drop for BlockAll {
    fn drop(&mut self) {
        #[cfg(not(miri))]
        // SAFETY: restores the mask saved by `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut())
        };
    }
}

/// Gives the CPU to another runnable thread, if any.
pub fn yield_now() {
    // SAFETY: sched_yield takes no arguments.
    unsafe { libc::sched_yield() };
}
