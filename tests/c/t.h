/* t.h — tiny helpers shared by the rtaio C tests.
 *
 * Every test program exits 0 (pass), 1 (fail) or 77 (skip). A failed CHECK prints
 * file:line and the failing expression (plus errno / values where useful) and exits 1.
 * Only the system <aio.h> is used: the tests see exactly what an application sees. */
#ifndef RTAIO_T_H
#define RTAIO_T_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

static const char *t_name = "?";

#define FAILF(...)                                                                    \
    do {                                                                              \
        fprintf(stderr, "%s: FAIL %s:%d: ", t_name, __FILE__, __LINE__);              \
        fprintf(stderr, __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                          \
        fflush(stderr);                                                               \
        _exit(T_FAIL);                                                                \
    } while (0)

/* CHECK(expr): expr must be true. errno at the time of the failure is printed. */
#define CHECK(expr)                                                                   \
    do {                                                                              \
        if (!(expr)) {                                                                \
            int e_ = errno;                                                           \
            FAILF("CHECK(%s) failed (errno %d %s)", #expr, e_, strerror(e_));         \
        }                                                                             \
    } while (0)

/* CHECK_EQ(a, b): integers, both values printed on failure. */
#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        long long a_ = (long long)(a), b_ = (long long)(b);                           \
        if (a_ != b_) {                                                               \
            int e_ = errno;                                                           \
            FAILF("CHECK_EQ(%s, %s) failed: %lld != %lld (errno %d %s)", #a, #b, a_,  \
                  b_, e_, strerror(e_));                                              \
        }                                                                             \
    } while (0)

/* CHECK_ERR(call, E): call must return -1 with errno == E. */
#define CHECK_ERR(call, E)                                                            \
    do {                                                                              \
        errno = 0;                                                                    \
        long long r_ = (long long)(call);                                             \
        int e_ = errno;                                                               \
        if (r_ != -1 || e_ != (E)) {                                                  \
            FAILF("CHECK_ERR(%s, %s) failed: returned %lld, errno %d (%s), expected " \
                  "-1/%d (%s)",                                                       \
                  #call, #E, r_, e_, strerror(e_), (E), strerror(E));                 \
        }                                                                             \
    } while (0)

/* CHECK_OK(call): call must return 0. */
#define CHECK_OK(call)                                                                \
    do {                                                                              \
        errno = 0;                                                                    \
        long long r_ = (long long)(call);                                             \
        if (r_ != 0) {                                                                \
            int e_ = errno;                                                           \
            FAILF("CHECK_OK(%s) failed: returned %lld, errno %d (%s)", #call, r_, e_, \
                  strerror(e_));                                                      \
        }                                                                             \
    } while (0)

#define SKIP(...)                                                                     \
    do {                                                                              \
        fprintf(stderr, "%s: SKIP: ", t_name);                                        \
        fprintf(stderr, __VA_ARGS__);                                                 \
        fputc('\n', stderr);                                                          \
        exit(T_SKIP);                                                                 \
    } while (0)

static inline void t_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", t_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- time ---- */
static inline double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void t_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Generous deadline for anything that "must happen eventually" (no speed is asserted). */
#define T_DEADLINE_S 30.0

/* ---- randomness (deterministic per seed; the seed is printed) ---- */
static uint64_t t_rng_state = 0x9e3779b97f4a7c15ULL;
static inline void t_seed(uint64_t s)
{
    t_rng_state = s ? s : 0x9e3779b97f4a7c15ULL;
}
static inline uint64_t t_rand(void)
{
    uint64_t x = t_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return t_rng_state = x;
}
static inline uint64_t t_rand_below(uint64_t n)
{
    return n ? t_rand() % n : 0;
}
static inline void t_fill_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(t_rand() >> 24);
}

/* ---- threads / misc ---- */
static inline pid_t t_gettid(void)
{
    return (pid_t)syscall(SYS_gettid);
}

static inline int t_count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The process's threads: up to `max` tids into `out`; returns how many (-1 without /proc). */
static inline int t_threads(pid_t *out, int max)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max)
        if (e->d_name[0] != '.')
            out[n++] = (pid_t)atoi(e->d_name);
    closedir(d);
    return n;
}

/* Thread `tid`'s name (/proc/self/task/TID/comm, without the newline); "" if it is gone. */
static inline void t_thread_name(pid_t tid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(out, (int)n, f))
        out[0] = 0;
    fclose(f);
    out[strcspn(out, "\n")] = 0;
}

/* Temporary file, already unlinked. */
static inline int t_tmpfile(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rtaio-test-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_OK(unlink(path));
    return fd;
}

static inline void t_write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

static inline void t_read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

static inline void t_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
    CHECK_EQ(pwrite(fd, buf, n, off), (ssize_t)n);
}

static inline void t_pread_all(int fd, void *buf, size_t n, off_t off)
{
    CHECK_EQ(pread(fd, buf, n, off), (ssize_t)n);
}

/* Wait (aio_suspend with a short timeout in a loop) until the request is no longer in
 * progress; fails the test after T_DEADLINE_S. Returns aio_error(). */
static inline int t_wait(const struct aiocb *cb)
{
    double end = t_now() + T_DEADLINE_S;
    for (;;) {
        int e = aio_error(cb);
        if (e != EINPROGRESS)
            return e;
        if (t_now() > end)
            FAILF("request %p still in progress after %.0f s", (void *)cb, T_DEADLINE_S);
        const struct aiocb *l[1] = { cb };
        struct timespec ts = { 0, 100 * 1000000L };
        int r = aio_suspend(l, 1, &ts);
        if (r != 0 && errno != EAGAIN && errno != EINTR)
            FAILF("aio_suspend: unexpected errno %d (%s)", errno, strerror(errno));
    }
}

/* Wait for a request, then aio_return it; checks that aio_error == want_err and returns
 * the aio_return value. */
static inline ssize_t t_wait_return(struct aiocb *cb, int want_err, const char *what)
{
    int e = t_wait(cb);
    if (e != want_err)
        FAILF("%s: aio_error = %d (%s), expected %d (%s)", what, e, strerror(e), want_err,
              strerror(want_err));
    errno = 0;
    ssize_t r = aio_return(cb);
    if (want_err == 0 && r < 0)
        FAILF("%s: aio_return = %zd after success (errno %d)", what, r, errno);
    if (want_err != 0 && r != -1)
        FAILF("%s: aio_return = %zd after error %d, expected -1", what, r, want_err);
    return r;
}

/* The process's descriptor table as text ("N->target" lines), to compare before/after. */
static inline void t_fd_table(char *out, size_t n)
{
    out[0] = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        char p[300], tgt[512];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, tgt, sizeof tgt - 1);
        tgt[k > 0 ? k : 0] = 0;
        int w = snprintf(out + used, n - used, "%s->%s\n", e->d_name, tgt);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

/* Wait for child `pid` at most `secs` seconds (a deadlocked child must not hang the test):
 * 0 when it ended, -1 when it had to be killed (SIGKILL). Its wait status goes to *status. */
static inline int t_wait_child(pid_t pid, double secs, int *status)
{
    double end = t_now() + secs;
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        CHECK(w >= 0);
        if (w == pid)
            return 0;
        if (t_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -1;
        }
        t_sleep_ms(2);
    }
}

/* Wait for child `pid` (T_DEADLINE_S at most) and fail the test, naming it `what`, unless it
 * exited with status 0. */
static inline void t_child_ok(pid_t pid, const char *what)
{
    int status = 0;
    if (t_wait_child(pid, T_DEADLINE_S, &status) != 0)
        FAILF("%s did not finish within %.0f s (deadlock after fork?)", what, T_DEADLINE_S);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAILF("%s: status 0x%x (exit %d, signal %d)", what, status, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* aio_init with `threads` I/O threads and `num` simultaneous requests expected (other fields 0). */
static inline void t_aio_init(int threads, int num)
{
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = threads;
    init.aio_num = num;
    aio_init(&init);
}

/* Wait until *counter >= want (polls); fails after T_DEADLINE_S. */
static inline void t_wait_counter(volatile int *counter, int want, const char *what)
{
    double end = t_now() + T_DEADLINE_S;
    while (__atomic_load_n(counter, __ATOMIC_SEQ_CST) < want) {
        if (t_now() > end)
            FAILF("%s: counter %d, expected %d after %.0f s", what,
                  __atomic_load_n(counter, __ATOMIC_SEQ_CST), want, T_DEADLINE_S);
        t_sleep_ms(2);
    }
}

/* The same for an _Atomic int (the rel_* tests declare their cross-thread flags _Atomic, so
 * every plain access is an atomic one). */
static inline void t_wait_atomic(_Atomic int *counter, int want, const char *what)
{
    double end = t_now() + T_DEADLINE_S;
    while (*counter < want) {
        if (t_now() > end)
            FAILF("%s: counter %d, expected %d after %.0f s", what, (int)*counter, want,
                  T_DEADLINE_S);
        t_sleep_ms(2);
    }
}

/* Is some thread of this process blocked in a read-like (rd=1) or write-like (rd=0)
 * system call on fd? Uses /proc/self/task/TID/syscall. Returns 1 yes, 0 no, -1 when the
 * kernel does not provide the file. */
/* Do descriptors a and b refer to the same open file? rtaio runs requests on its own
 * duplicate of the application's descriptor (so that close/dup2 cannot redirect them). */
static inline int t_same_open_file(int a, long b)
{
    if (b == a)
        return 1;
    if (b < 0 || b > INT_MAX)
        return 0;
    long r = syscall(SYS_kcmp, (long)getpid(), (long)getpid(), 0 /* KCMP_FILE */, (long)a, b);
    if (r >= 0)
        return r == 0;
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat((int)b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static inline int t_thread_in_syscall_on_fd(int fd, int rd, pid_t *who)
{
    static const long rd_nrs[] = { SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_recvfrom,
                                   SYS_recvmsg, SYS_preadv2 };
    static const long wr_nrs[] = { SYS_write, SYS_pwrite64, SYS_writev, SYS_pwritev, SYS_sendto,
                                   SYS_sendmsg, SYS_pwritev2 };
    const long *nrs = rd ? rd_nrs : wr_nrs;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int found = 0, any = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        any = 1;
        if (fgets(line, sizeof line, f)) {
            long nr;
            unsigned long a0;
            if (sscanf(line, "%ld 0x%lx", &nr, &a0) == 2 && t_same_open_file(fd, (long)a0)) {
                for (int i = 0; i < 7; i++)
                    if (nr == nrs[i]) {
                        found = 1;
                        if (who)
                            *who = (pid_t)atoi(e->d_name);
                    }
            }
        }
        fclose(f);
        if (found)
            break;
    }
    closedir(d);
    return any ? found : -1;
}

/* The io_uring instances of this process (rtaio's executor), from /proc/self/fdinfo: how many
 * exist, and whether one has taken every entry queued in it (SqHead == SqTail) and has a
 * request waiting by polling (a read of an empty pipe or socket). */
static inline int t_uring_rings(int *settled_with_poll)
{
    int rings = 0;
    if (settled_with_poll)
        *settled_with_poll = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[300], tgt[128];
        snprintf(p, sizeof p, "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(p, tgt, sizeof tgt - 1);
        if (k <= 0)
            continue;
        tgt[k] = 0;
        if (strcmp(tgt, "anon_inode:[io_uring]") != 0)
            continue;
        rings++;
        snprintf(p, sizeof p, "/proc/self/fdinfo/%s", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        char line[256];
        long head = -1, tail = -2;
        int in_poll = 0, polls = 0;
        while (fgets(line, sizeof line, f)) {
            if (sscanf(line, "SqHead: %ld", &head) == 1 || sscanf(line, "SqTail: %ld", &tail) == 1)
                continue;
            if (strncmp(line, "PollList:", 9) == 0)
                in_poll = 1;
            else if (in_poll && strstr(line, "op="))
                polls++;
            else if (in_poll)
                in_poll = 0;
        }
        fclose(f);
        if (settled_with_poll && head == tail && polls > 0)
            *settled_with_poll = 1;
    }
    closedir(d);
    return rings;
}

/* Does this process run its requests on io_uring now (rtaio's default where the kernel allows
 * it)? Then a read of an empty pipe waits by polling, no thread blocks in read(), and the
 * kernel can cancel it in flight. */
static inline int t_uring(void)
{
    return t_uring_rings(NULL) > 0;
}

/* This test is about the thread pool: requests queued behind blocked workers, aio_init's
 * thread limit. Those hold on rtaio's thread-pool backend (and in glibc); on io_uring every
 * request starts at once. Call first, before any AIO call (the backend is chosen then). */
static inline void t_backend_threads(void)
{
    setenv("RTAIO_BACKEND", "threads", 1);
}

/* Wait until a request reading fd is running, not queued: a thread is blocked in a read on fd
 * (a thread pool, glibc), or an io_uring of this process took every queued entry and has a
 * request waiting by polling (rtaio on io_uring: the first request of a descriptor's chain is
 * in the ring when its aio_read returns; this waits until the kernel has it). Fails after
 * T_DEADLINE_S. Without /proc support, sleeps 500 ms (best effort). */
static inline void t_wait_blocked_read(int fd)
{
    double end = t_now() + T_DEADLINE_S;
    for (;;) {
        int r = t_thread_in_syscall_on_fd(fd, 1, NULL);
        if (r == 1)
            return;
        int polled;
        if (t_uring_rings(&polled) > 0 && polled)
            return;
        if (r < 0) {
            t_sleep_ms(500);
            return;
        }
        if (t_now() > end)
            FAILF("no thread blocked in read on fd %d after %.0f s", fd, T_DEADLINE_S);
        t_sleep_ms(2);
    }
}

/* Wait until thread `tid` of this process sleeps where aio_suspend, lio_listio and
 * aio_waitcomplete block: a futex wait (futex or futex_waitv), in glibc and in rtaio, or for
 * rtaio's aio_suspend on requests all in one kernel queue, a read() of that queue's eventfd.
 * Fails the test after T_DEADLINE_S; without /proc it waits 500 ms instead. */
static inline void t_wait_thread_asleep(pid_t tid)
{
    double end = t_now() + T_DEADLINE_S;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    for (;;) {
        FILE *f = fopen(path, "r");
        if (!f) {
            t_sleep_ms(500);
            return;
        }
        long nr = -1;
        int ok = fscanf(f, "%ld", &nr) == 1;
        fclose(f);
        if (ok && (nr == SYS_futex || nr == 449 /* futex_waitv */ || nr == SYS_read))
            return;
        if (t_now() > end)
            FAILF("thread %d not asleep in a wait after %.0f s (syscall %ld)", (int)tid,
                  T_DEADLINE_S, nr);
        t_sleep_ms(2);
    }
}

/* ---- a read on a REGULAR file that blocks, deterministically ----
 * The buffer is a page registered with userfaultfd (missing-page mode): the pread() of the
 * worker faults in copy_to_user and sleeps in the kernel until t_uffd_release(). Needs
 * userfaultfd for kernel faults (root / CAP_SYS_PTRACE, or vm.unprivileged_userfaultfd=1).
 * Returns 0 and fills *u, or -1 when unavailable (the caller skips that part). */
struct t_uffd {
    int fd;
    void *page;
    size_t size;
};

static inline int t_uffd_open(struct t_uffd *u)
{
    u->size = (size_t)sysconf(_SC_PAGESIZE);
    u->fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (u->fd < 0)
        return -1;
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    api.features = UFFD_FEATURE_THREAD_ID;
    if (ioctl(u->fd, UFFDIO_API, &api) != 0) {
        close(u->fd);
        return -1;
    }
    u->page = mmap(NULL, u->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(u->page != MAP_FAILED);
    struct uffdio_register reg;
    memset(&reg, 0, sizeof reg);
    reg.range.start = (unsigned long)u->page;
    reg.range.len = u->size;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (ioctl(u->fd, UFFDIO_REGISTER, &reg) != 0) {
        munmap(u->page, u->size);
        close(u->fd);
        return -1;
    }
    return 0;
}

/* Wait until some thread faults on the page (it is then blocked in the kernel). Returns the
 * faulting thread's tid. */
static inline pid_t t_uffd_wait_fault(struct t_uffd *u)
{
    struct pollfd pf = { u->fd, POLLIN, 0 };
    int r;
    do
        r = poll(&pf, 1, (int)(T_DEADLINE_S * 1000));
    while (r < 0 && errno == EINTR);
    if (r != 1)
        FAILF("no fault on the userfaultfd page within %.0f s", T_DEADLINE_S);
    struct uffd_msg msg;
    CHECK_EQ(read(u->fd, &msg, sizeof msg), (ssize_t)sizeof msg);
    CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT);
    return (pid_t)msg.arg.pagefault.feat.ptid;
}

/* Map the page (zero-filled): the blocked read continues. */
static inline void t_uffd_release(struct t_uffd *u)
{
    static char zero[65536];
    struct uffdio_copy c;
    memset(&c, 0, sizeof c);
    c.dst = (unsigned long)u->page;
    c.src = (unsigned long)zero;
    c.len = u->size;
    if (ioctl(u->fd, UFFDIO_COPY, &c) != 0 && errno != EEXIST)
        FAILF("UFFDIO_COPY: %s", strerror(errno));
}

/* ---- watchdog: a test that stops making progress fails, saying where ----
 * t_watchdog_start() starts a thread that looks at the progress count every .poll_ms ms and
 * fails the test (FAILF) when the count has not moved for .polls looks in a row AND for more
 * than .secs seconds (set one of the two; a watchdog starved of CPU waits longer by looks than
 * by the clock). t_phase(name) and t_progress() move the count; t_phase also names the phase
 * the failure message gives. Before failing, .on_stall runs (when set: e.g. a trace of the
 * last calls); the message is .stall_msg, or "stuck for S s in phase: NAME".
 * .block_signals: the thread starts with every signal blocked, so that no signal the test
 * sends to the process is delivered to it.
 * t_watchdog_stop() stops and joins the thread: nothing fails after it returns. A test that
 * never calls it keeps its watchdog until exit. */
struct t_watchdog {
    double secs;
    int polls;
    long poll_ms;
    int block_signals;
    void (*on_stall)(void);
    const char *stall_msg;
};
static struct t_watchdog t_wd;
static pthread_t t_wd_thread;
static _Atomic int t_wd_stop;
static const char *volatile t_wd_phase = "start";
static volatile long t_wd_count;

static inline void t_progress(void)
{
    __atomic_add_fetch(&t_wd_count, 1, __ATOMIC_SEQ_CST);
}

static inline void t_phase(const char *name)
{
    t_wd_phase = name;
    t_progress();
}

static inline void *t_watchdog_main(void *arg)
{
    (void)arg;
    long seen = -1;
    int still = 0;
    double since = t_now();
    while (!t_wd_stop) {
        t_sleep_ms(t_wd.poll_ms);
        long c = __atomic_load_n(&t_wd_count, __ATOMIC_SEQ_CST);
        if (c != seen) {
            seen = c;
            still = 0;
            since = t_now();
        } else if (++still >= t_wd.polls && t_now() - since > t_wd.secs) {
            if (t_wd.on_stall)
                t_wd.on_stall();
            if (t_wd.stall_msg)
                FAILF("%s", t_wd.stall_msg);
            FAILF("stuck for %.0f s in phase: %s", t_wd.secs, t_wd_phase);
        }
    }
    return NULL;
}

static inline void t_watchdog_start(const struct t_watchdog *w)
{
    sigset_t all, old;
    t_wd = *w;
    sigfillset(&all);
    /* a new thread inherits its creator's signal mask */
    pthread_sigmask(SIG_SETMASK, t_wd.block_signals ? &all : NULL, &old);
    CHECK_OK(pthread_create(&t_wd_thread, NULL, t_watchdog_main, NULL));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static inline void t_watchdog_stop(void)
{
    t_wd_stop = 1;
    pthread_join(t_wd_thread, NULL);
}

static inline void t_init(const char *name)
{
    t_name = name;
    setvbuf(stdout, NULL, _IONBF, 0);
    uint64_t seed;
    const char *s = getenv("RTAIO_TEST_SEED");
    if (s && *s)
        seed = strtoull(s, NULL, 0);
    else
        seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    t_seed(seed);
    t_note("seed %llu (set RTAIO_TEST_SEED to repeat)", (unsigned long long)seed);
}

/* RTAIO_TEST_GLIBC is set by `run-c-tests.sh --glibc` (comparison run against plain glibc):
 * calls that would crash glibc (NULL pointers) are skipped then, so that the rest of the
 * program still runs. */
static inline int t_glibc(void)
{
    return getenv("RTAIO_TEST_GLIBC") != NULL;
}
#define NOT_GLIBC(stmt)                                                                   \
    do {                                                                                  \
        if (!t_glibc()) {                                                                 \
            stmt;                                                                         \
        }                                                                                 \
    } while (0)

/* A NULL the compiler cannot see (the <aio.h> prototypes are __nonnull). */
static inline void *t_null(void)
{
    void *volatile p = NULL;
    return p;
}

static inline void t_cb(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

#endif
