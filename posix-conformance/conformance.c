/*
 * POSIX.1-2017 asynchronous I/O conformance suite.
 *
 * Written from the wording of aio_read, aio_write, aio_error, aio_return, aio_suspend,
 * aio_cancel, aio_fsync, lio_listio and <aio.h>. Uses only <aio.h> and other POSIX headers,
 * so the same source measures any implementation (glibc's librt, rtaio linked, rtaio
 * preloaded, ...).
 *
 *   conformance --list        one line per assertion: id, MANDATORY|OPTIONAL, POSIX wording
 *   conformance ID            run one assertion in this process; prints one line (the
 *                             reason) and exits 0 pass, 1 fail, 77 not implemented
 *                             (OPTIONAL assertions only)
 *
 * MANDATORY assertions come from "shall" text in DESCRIPTION, RETURN VALUE and "shall fail"
 * ERRORS. "may fail" errors are OPTIONAL. GLIBC assertions record what glibc does where
 * POSIX leaves a choice, which a drop-in replacement must do too: they must pass with glibc
 * (the oracle) and with the implementation measured. Where POSIX allows more than one outcome (an error
 * detected at submission or reported through aio_error(); a request that may or may not be
 * cancelable) every permitted outcome is accepted and the consistency POSIX requires for
 * that outcome is checked.
 *
 * The runner (run.sh) wraps every run in timeout(1): a hang is a failure.
 */
#define _POSIX_C_SOURCE 200809L
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PASS 0
#define FAIL 1
#define UNSUP 77

/* ------------------------------------------------------------------------------------------ */
/* harness                                                                                     */

static char g_reason[512] = "ok";
static char g_dir[PATH_MAX];
static char g_files[32][PATH_MAX + 64];
static int g_nfiles;

static void why(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_reason, sizeof g_reason, fmt, ap);
    va_end(ap);
}

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            why(__VA_ARGS__);                                                                 \
            return FAIL;                                                                      \
        }                                                                                     \
    } while (0)

static void cleanup(void)
{
    for (int i = 0; i < g_nfiles; i++) unlink(g_files[i]);
    if (g_dir[0]) rmdir(g_dir);
}

static const char *mkpath(const char *name)
{
    if (!g_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/aioconf.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(g_dir)) {
            perror("mkdtemp");
            exit(FAIL);
        }
        atexit(cleanup);
    }
    snprintf(g_files[g_nfiles], sizeof g_files[0], "%s/%s", g_dir, name);
    return g_files[g_nfiles++];
}

/* A new file under the private temp dir, opened with the given flags, holding len bytes of
 * `content` (may be NULL for an empty file). */
static int mkfile(const char *name, int flags, const void *content, size_t len)
{
    const char *p = mkpath(name);
    int fd = open(p, O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0 || (len && write(fd, content, len) != (ssize_t)len)) {
        perror(p);
        exit(FAIL);
    }
    close(fd);
    fd = open(p, flags);
    if (fd < 0) {
        perror(p);
        exit(FAIL);
    }
    return fd;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Polls aio_error() (not aio_suspend(), which has its own assertions) until the request is
 * no longer in progress. Returns its final error status, or EINPROGRESS after `secs`. */
static int wait_done(const struct aiocb *cb, double secs)
{
    double end = now() + secs;
    int e;
    while ((e = aio_error(cb)) == EINPROGRESS && now() < end) msleep(1);
    return e;
}

static void init_cb(struct aiocb *cb, int fd, void *buf, size_t n, off_t off)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = n;
    cb->aio_offset = off;
    cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

static void fill(char *buf, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) buf[i] = (char)('A' + (i * 7 + seed) % 26);
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

static void set_handler(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* A helper thread that must not take process-directed signals meant for the main thread. */
static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

/* Submits `cb` with `submit` and expects error `want`, which POSIX lets the implementation
 * detect either at submission (-1 with errno) or asynchronously (error status `want`,
 * return status -1). `*sync` tells which one happened. */
static int expect_error(int (*submit)(struct aiocb *), struct aiocb *cb, int want, const char *name,
                        int *sync)
{
    errno = 0;
    int r = submit(cb);
    if (r == -1) {
        *sync = 1;
        CHECK(errno == want, "%s returned -1 with errno %d (%s), want %s", name, errno,
              strerror(errno), strerror(want));
        why("%s detected at submission: -1/%s", name, strerror(want));
        return PASS;
    }
    *sync = 0;
    CHECK(r == 0, "%s returned %d (neither 0 nor -1)", name, r);
    int e = wait_done(cb, 5);
    CHECK(e != EINPROGRESS, "%s: request still in progress after 5 s", name);
    CHECK(e == want, "%s: accepted, then error status %d (%s), want %s", name, e, strerror(e),
          strerror(want));
    ssize_t rv = aio_return(cb);
    CHECK(rv == -1, "%s: error status %s but return status %zd, want -1", name, strerror(want), rv);
    why("%s detected asynchronously: aio_error %s, aio_return -1", name, strerror(want));
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* notification recorders                                                                      */

#define MAXREC 64
static struct aiocb *volatile g_watch[MAXREC]; /* aiocbs whose status handlers inspect */
static volatile sig_atomic_t g_nsig;           /* signals caught */
static volatile sig_atomic_t g_code;           /* si_code of the last one */
static volatile sig_atomic_t g_signo;
static void *volatile g_value;                 /* si_value.sival_ptr of the last one */
static volatile sig_atomic_t g_inprog;         /* handlers that saw EINPROGRESS */
static volatile sig_atomic_t g_hits[MAXREC];   /* per-value counts (value = index + 1) */

static void on_sig(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    (void)uc;
    g_signo = sig;
    g_code = si->si_code;
    g_value = si->si_value.sival_ptr;
    intptr_t v = (intptr_t)si->si_value.sival_ptr;
    if (v >= 1 && v <= MAXREC) {
        g_hits[v - 1]++;
        if (g_watch[v - 1] && aio_error(g_watch[v - 1]) == EINPROGRESS) g_inprog++;
    }
    for (int i = 0; i < MAXREC; i++) /* list notifications: every watched entry must be final */
        if (v == 1000 && g_watch[i] && aio_error(g_watch[i]) == EINPROGRESS) g_inprog++;
    g_nsig++;
    errno = saved;
}

static volatile sig_atomic_t g_plain;
static void on_plain(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    g_plain++;
}

/* SIGEV_THREAD recorder */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_tcalls, g_tinprog, g_tsame_thread, g_thits[MAXREC];
static void *g_tvalue;
static pthread_t g_main;

static void on_thread(union sigval sv)
{
    intptr_t v = (intptr_t)sv.sival_ptr;
    pthread_mutex_lock(&g_mu);
    g_tvalue = sv.sival_ptr;
    if (pthread_equal(pthread_self(), g_main)) g_tsame_thread++;
    if (v >= 1 && v <= MAXREC) {
        g_thits[v - 1]++;
        if (g_watch[v - 1] && aio_error(g_watch[v - 1]) == EINPROGRESS) g_tinprog++;
    }
    if (v == 1000)
        for (int i = 0; i < MAXREC; i++)
            if (g_watch[i] && aio_error(g_watch[i]) == EINPROGRESS) g_tinprog++;
    g_tcalls++;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

static int wait_tcalls(int n, double secs)
{
    double end = now() + secs;
    pthread_mutex_lock(&g_mu);
    while (g_tcalls < n && now() < end) {
        pthread_mutex_unlock(&g_mu);
        msleep(1);
        pthread_mutex_lock(&g_mu);
    }
    int c = g_tcalls;
    pthread_mutex_unlock(&g_mu);
    return c;
}

static int wait_nsig(int n, double secs)
{
    double end = now() + secs;
    while (g_nsig < n && now() < end) msleep(1);
    return g_nsig;
}

static void sev_signal(struct sigevent *sev, int sig, intptr_t value)
{
    memset(sev, 0, sizeof *sev);
    sev->sigev_notify = SIGEV_SIGNAL;
    sev->sigev_signo = sig;
    sev->sigev_value.sival_ptr = (void *)value;
}

static void sev_thread(struct sigevent *sev, intptr_t value)
{
    memset(sev, 0, sizeof *sev);
    sev->sigev_notify = SIGEV_THREAD;
    sev->sigev_notify_function = on_thread;
    sev->sigev_value.sival_ptr = (void *)value;
}

#define SIG_NOTE (SIGRTMIN + 3)

/* ------------------------------------------------------------------------------------------ */
/* a pipe whose write end has O_APPEND and is full: requests on it block, and POSIX requires  */
/* O_APPEND writes to be performed in submission order, so a second write is queued behind    */
/* the first in every implementation that honours that order (one that does not would run it */
/* at once; the cancellation tests accept that outcome too).                                 */

struct fullpipe {
    int rfd, wfd;
    size_t filled;
};

static void make_full_pipe(struct fullpipe *fp)
{
    int p[2];
    char chunk[4096];
    if (pipe(p) != 0) exit(FAIL);
    fp->rfd = p[0];
    fp->wfd = p[1];
    fp->filled = 0;
    memset(chunk, '.', sizeof chunk);
    fcntl(fp->wfd, F_SETFL, O_NONBLOCK | O_APPEND);
    for (;;) {
        ssize_t r = write(fp->wfd, chunk, sizeof chunk);
        if (r <= 0) break;
        fp->filled += r;
    }
    for (;;) { /* fill the last partial space too */
        ssize_t r = write(fp->wfd, chunk, 1);
        if (r <= 0) break;
        fp->filled += r;
    }
    fcntl(fp->wfd, F_SETFL, O_APPEND);
}

/* ------------------------------------------------------------------------------------------ */
/* <aio.h>                                                                                     */

unsigned aioh_members(void);
unsigned aioh_types(void);
unsigned aioh_constants(void);
unsigned aioh_prototypes(void);

static int t_aioh_members(void)
{
    unsigned b = aioh_members();
    CHECK(!b, "struct aiocb member type mismatch, mask 0x%x (bits: fildes offset buf nbytes "
              "reqprio sigevent lio_opcode)", b);
    why("aiocb has aio_fildes, aio_offset, aio_buf, aio_nbytes, aio_reqprio, aio_sigevent, "
        "aio_lio_opcode with the specified types");
    return PASS;
}

static int t_aioh_types(void)
{
    unsigned b = aioh_types();
    CHECK(!b, "type check failed, mask 0x%x", b);
    why("<aio.h> alone defines off_t, pthread_attr_t, size_t, ssize_t, struct timespec, "
        "struct sigevent, union sigval");
    return PASS;
}

static int t_aioh_constants(void)
{
    unsigned b = aioh_constants();
    CHECK(!b, "constants not distinct, mask 0x%x", b);
    why("AIO_ALLDONE/AIO_CANCELED/AIO_NOTCANCELED, LIO_NOP/LIO_READ/LIO_WRITE, LIO_WAIT/"
        "LIO_NOWAIT defined and distinct");
    return PASS;
}

static int t_aioh_prototypes(void)
{
    unsigned b = aioh_prototypes();
    CHECK(!b, "prototype mismatch, mask 0x%x (bits: cancel error fsync read return suspend write "
              "lio_listio)", b);
    why("all eight functions declared with the POSIX prototypes");
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* aio_read                                                                                    */

static int t_read_basic(void)
{
    char data[256], buf[64];
    fill(data, sizeof data, 1);
    int fd = mkfile("f", O_RDONLY, data, sizeof data);
    lseek(fd, 200, SEEK_SET); /* the file offset must not matter */
    struct aiocb cb;
    init_cb(&cb, fd, buf, 40, 17);
    CHECK(aio_read(&cb) == 0, "aio_read returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %d (%s), want 0", e, strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 40, "return status %zd, want 40", r);
    CHECK(memcmp(buf, data + 17, 40) == 0, "data read is not the file's bytes at aio_offset 17");
    why("read 40 bytes at absolute aio_offset 17 (file offset was 200); aio_error 0, aio_return 40");
    return PASS;
}

static int t_read_short(void)
{
    char data[100], buf[64];
    fill(data, sizeof data, 2);
    int fd = mkfile("f", O_RDONLY, data, sizeof data);
    struct aiocb cb, cb2;
    init_cb(&cb, fd, buf, 64, 90);
    CHECK(aio_read(&cb) == 0, "aio_read returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s, want 0", strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 10, "return status %zd at 10 bytes before EOF, want 10 (as read() returns)", r);
    CHECK(memcmp(buf, data + 90, 10) == 0, "wrong data");
    init_cb(&cb2, fd, buf, 64, 500);
    CHECK(aio_read(&cb2) == 0, "aio_read past EOF returned -1: %s", strerror(errno));
    e = wait_done(&cb2, 5);
    CHECK(e == 0, "error status past EOF %s, want 0", strerror(e));
    r = aio_return(&cb2);
    CHECK(r == 0, "return status past EOF %zd, want 0", r);
    why("return status is what read() returns: 10 for a short read at EOF, 0 past EOF");
    return PASS;
}

static int t_read_opcode_ignored(void)
{
    char data[64], buf[32];
    fill(data, sizeof data, 3);
    int fd = mkfile("f", O_RDONLY, data, sizeof data);
    int codes[3] = {LIO_WRITE, LIO_NOP, 0x5a5a};
    for (int i = 0; i < 3; i++) {
        struct aiocb cb;
        memset(buf, 0, sizeof buf);
        init_cb(&cb, fd, buf, 16, 8);
        cb.aio_lio_opcode = codes[i];
        CHECK(aio_read(&cb) == 0, "aio_read with aio_lio_opcode %d returned -1: %s", codes[i],
              strerror(errno));
        int e = wait_done(&cb, 5);
        CHECK(e == 0, "aio_lio_opcode %d: error status %s", codes[i], strerror(e));
        CHECK(aio_return(&cb) == 16 && memcmp(buf, data + 8, 16) == 0,
              "aio_lio_opcode %d: not a normal read", codes[i]);
    }
    why("aio_read with aio_lio_opcode LIO_WRITE, LIO_NOP and 0x5a5a reads normally");
    return PASS;
}

static int t_read_pipe(void)
{
    int p[2];
    char buf[64];
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    double t0 = now();
    CHECK(aio_read(&cb) == 0, "aio_read on an empty pipe returned -1: %s", strerror(errno));
    CHECK(now() - t0 < 1.0, "aio_read did not return while no data could be delivered");
    msleep(50);
    int e = aio_error(&cb);
    CHECK(e == EINPROGRESS, "read on an empty pipe: aio_error %d (%s), want EINPROGRESS", e,
          strerror(e));
    CHECK(write(p[1], "hello", 5) == 5, "write");
    e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s after data arrived", strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 5 && memcmp(buf, "hello", 5) == 0, "return status %zd, want 5 bytes 'hello'", r);
    why("aio_read on an empty pipe returns at once, stays EINPROGRESS, completes with 5 bytes");
    return PASS;
}

static int t_read_socket(void)
{
    int sv[2];
    char buf[64];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, sv[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read on a socket returned -1: %s", strerror(errno));
    msleep(50);
    CHECK(aio_error(&cb) == EINPROGRESS, "socket read completed before data was sent");
    CHECK(write(sv[1], "sock!", 5) == 5, "write");
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s", strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 5 && memcmp(buf, "sock!", 5) == 0, "return status %zd, want 5", r);
    why("aio_read on a stream socket completes with the 5 bytes sent later");
    return PASS;
}

static int t_read_ebadf(void)
{
    char buf[16];
    int fd = mkfile("f", O_RDONLY, "x", 1);
    close(fd); /* now certainly not an open descriptor */
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, 0);
    return expect_error(aio_read, &cb, EBADF, "aio_read(closed fd)", &sync);
}

static int t_read_ebadf_wronly(void)
{
    char buf[16];
    int fd = mkfile("f", O_WRONLY, "xxxxxxxx", 8);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, 0);
    return expect_error(aio_read, &cb, EBADF, "aio_read(O_WRONLY fd)", &sync);
}

static int t_read_einval_offset(void)
{
    char buf[16];
    int fd = mkfile("f", O_RDONLY, "xxxxxxxx", 8);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, -1);
    return expect_error(aio_read, &cb, EINVAL, "aio_read(aio_offset -1)", &sync);
}

static int t_read_einval_reqprio(void)
{
    char buf[16];
    long max = sysconf(_SC_AIO_PRIO_DELTA_MAX);
    if (max < 0) {
        why("AIO_PRIO_DELTA_MAX indeterminate: no invalid aio_reqprio to test");
        return PASS;
    }
    int fd = mkfile("f", O_RDONLY, "xxxxxxxx", 8);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, 0);
    cb.aio_reqprio = (int)max + 1;
    int r = expect_error(aio_read, &cb, EINVAL, "aio_read(aio_reqprio AIO_PRIO_DELTA_MAX+1)", &sync);
    return r;
}

static int t_reqprio_valid(void)
{
    char data[32], buf[32];
    long max = sysconf(_SC_AIO_PRIO_DELTA_MAX);
    fill(data, sizeof data, 4);
    int fd = mkfile("f", O_RDWR, data, sizeof data);
    int prios[2] = {0, max > 0 ? (int)max : 0};
    for (int i = 0; i < 2; i++) {
        struct aiocb cb;
        init_cb(&cb, fd, buf, 8, 4);
        cb.aio_reqprio = prios[i];
        CHECK(aio_read(&cb) == 0, "aio_read with aio_reqprio %d returned -1: %s", prios[i],
              strerror(errno));
        int e = wait_done(&cb, 5);
        CHECK(e == 0 && aio_return(&cb) == 8, "aio_read with aio_reqprio %d failed: %s", prios[i],
              strerror(e));
        init_cb(&cb, fd, data, 8, 20);
        cb.aio_reqprio = prios[i];
        CHECK(aio_write(&cb) == 0, "aio_write with aio_reqprio %d returned -1: %s", prios[i],
              strerror(errno));
        e = wait_done(&cb, 5);
        CHECK(e == 0 && aio_return(&cb) == 8, "aio_write with aio_reqprio %d failed: %s", prios[i],
              strerror(e));
    }
    why("aio_reqprio 0 and AIO_PRIO_DELTA_MAX (%ld) are accepted by aio_read and aio_write", max);
    return PASS;
}

static int t_reqprio_negative(void)
{
    char buf[16];
    int fd = mkfile("f", O_RDONLY, "xxxxxxxx", 8);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, 0);
    cb.aio_reqprio = -1;
    int r = expect_error(aio_read, &cb, EINVAL, "aio_read(aio_reqprio -1)", &sync);
    if (r != PASS) {
        wait_done(&cb, 5);
        aio_return(&cb);
        why("aio_reqprio -1 (would raise the priority above the process's) is not rejected");
        return UNSUP;
    }
    return PASS;
}

static int t_read_einval_nbytes(void)
{
    char buf[16];
    int fd = mkfile("f", O_RDONLY, "xxxxxxxx", 8);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, (size_t)SSIZE_MAX + 1, 0);
    int r = expect_error(aio_read, &cb, EINVAL, "aio_read(aio_nbytes SSIZE_MAX+1)", &sync);
    if (r != PASS) {
        char saved[512];
        snprintf(saved, sizeof saved, "%s", g_reason);
        why("aio_nbytes > SSIZE_MAX not reported as EINVAL: %s", saved);
        return UNSUP;
    }
    return PASS;
}

static int t_read_eisdir(void)
{
    char buf[16];
    const char *d = mkpath("dir");
    if (mkdir(d, 0700)) return FAIL;
    int fd = open(d, O_RDONLY);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, buf, sizeof buf, 0);
    int r = expect_error(aio_read, &cb, EISDIR, "aio_read(directory)", &sync);
    rmdir(d);
    return r;
}

static int t_read_eoverflow(void)
{
    if (sizeof(off_t) >= 8) {
        why("cannot be provoked: off_t is %zu bytes, so no regular file extends past the offset "
            "maximum of its open file description", sizeof(off_t));
        return UNSUP;
    }
    why("not tested on this data model");
    return UNSUP;
}

static int t_read_eagain(void)
{
    long max = sysconf(_SC_AIO_MAX);
    why("cannot be provoked portably: {AIO_MAX} is %s (sysconf %ld); no resource limit an "
        "application can reach on purpose", max < 0 ? "indeterminate" : "large", max);
    return UNSUP;
}

/* ------------------------------------------------------------------------------------------ */
/* aio_write                                                                                   */

static int t_write_basic(void)
{
    char data[64], got[64];
    memset(data, 'x', sizeof data);
    int fd = mkfile("f", O_RDWR, data, sizeof data);
    lseek(fd, 50, SEEK_SET);
    struct aiocb cb;
    init_cb(&cb, fd, "HELLO", 5, 20);
    CHECK(aio_write(&cb) == 0, "aio_write returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s", strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 5, "return status %zd, want 5", r);
    CHECK(pread(fd, got, 64, 0) == 64, "pread");
    memcpy(data + 20, "HELLO", 5);
    CHECK(memcmp(got, data, 64) == 0, "file content wrong: write not at absolute aio_offset 20");
    why("5 bytes written at absolute aio_offset 20 (file offset was 50); aio_return 5");
    return PASS;
}

static int t_write_opcode_ignored(void)
{
    char got[8];
    int fd = mkfile("f", O_RDWR, "........", 8);
    int codes[3] = {LIO_READ, LIO_NOP, 0x5a5a};
    for (int i = 0; i < 3; i++) {
        struct aiocb cb;
        char c = (char)('1' + i);
        init_cb(&cb, fd, &c, 1, i);
        cb.aio_lio_opcode = codes[i];
        CHECK(aio_write(&cb) == 0, "aio_write with aio_lio_opcode %d returned -1: %s", codes[i],
              strerror(errno));
        int e = wait_done(&cb, 5);
        CHECK(e == 0 && aio_return(&cb) == 1, "aio_lio_opcode %d: error status %s", codes[i],
              strerror(e));
    }
    CHECK(pread(fd, got, 8, 0) == 8 && memcmp(got, "123.....", 8) == 0, "file content wrong");
    why("aio_write with aio_lio_opcode LIO_READ, LIO_NOP and 0x5a5a writes normally");
    return PASS;
}

#define NAPP 200
static int t_write_append_order(void)
{
    static struct aiocb cbs[NAPP];
    static char bufs[NAPP][4200];
    size_t lens[NAPP], total = 5;
    int fd = mkfile("f", O_WRONLY | O_APPEND, "HEAD\n", 5);
    for (int i = 0; i < NAPP; i++) {
        lens[i] = 64 + (size_t)(i * 997) % 4096; /* mixed sizes: big and small interleaved */
        snprintf(bufs[i], 16, "<%05d:", i);
        memset(bufs[i] + 7, 'a' + i % 26, lens[i] - 8);
        bufs[i][lens[i] - 1] = '>';
        init_cb(&cbs[i], fd, bufs[i], lens[i], 0); /* aio_offset 0 must not matter */
        total += lens[i];
    }
    for (int i = 0; i < NAPP; i++)
        CHECK(aio_write(&cbs[i]) == 0, "aio_write #%d returned -1: %s", i, strerror(errno));
    for (int i = 0; i < NAPP; i++) {
        int e = wait_done(&cbs[i], 10);
        CHECK(e == 0, "write #%d: error status %s", i, strerror(e));
        ssize_t r = aio_return(&cbs[i]);
        CHECK(r == (ssize_t)lens[i], "write #%d: return %zd, want %zu", i, r, lens[i]);
    }
    char *all = malloc(total + 1);
    int rfd = open(g_files[0], O_RDONLY);
    CHECK(read_full(rfd, all, total) == 0, "file shorter than the %zu bytes written", total);
    CHECK(memcmp(all, "HEAD\n", 5) == 0, "existing content overwritten: O_APPEND not honoured");
    size_t off = 5;
    for (int i = 0; i < NAPP; i++) {
        if (memcmp(all + off, bufs[i], lens[i]) != 0) {
            int seen = -1;
            sscanf(all + off, "<%05d:", &seen);
            why("record at file position %zu is #%d, want #%d: appends not in submission order",
                off, seen, i);
            return FAIL;
        }
        off += lens[i];
    }
    free(all);
    why("%d aio_writes of mixed sizes to an O_APPEND file landed after the existing data in "
        "submission order", NAPP);
    return PASS;
}

static int t_write_pipe(void)
{
    int p[2];
    char data[3000], got[3000];
    if (pipe(p)) return FAIL;
    fill(data, sizeof data, 5);
    struct aiocb cb;
    init_cb(&cb, p[1], data, sizeof data, 0);
    CHECK(aio_write(&cb) == 0, "aio_write on a pipe returned -1: %s", strerror(errno));
    CHECK(read_full(p[0], got, sizeof got) == 0, "pipe read");
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s", strerror(e));
    CHECK(aio_return(&cb) == (ssize_t)sizeof data, "return status not %zu", sizeof data);
    CHECK(memcmp(got, data, sizeof data) == 0, "pipe data differs");
    why("aio_write of 3000 bytes on a pipe delivered them; aio_return 3000");
    return PASS;
}

static int t_write_socket(void)
{
    int sv[2];
    char data[1000], got[1000];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return FAIL;
    fill(data, sizeof data, 6);
    struct aiocb cb;
    init_cb(&cb, sv[0], data, sizeof data, 0);
    CHECK(aio_write(&cb) == 0, "aio_write on a socket returned -1: %s", strerror(errno));
    CHECK(read_full(sv[1], got, sizeof got) == 0, "socket read");
    int e = wait_done(&cb, 5);
    CHECK(e == 0 && aio_return(&cb) == (ssize_t)sizeof data, "error status %s", strerror(e));
    CHECK(memcmp(got, data, sizeof data) == 0, "socket data differs");
    why("aio_write of 1000 bytes on a stream socket delivered them; aio_return 1000");
    return PASS;
}

static int t_write_ebadf(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    close(fd);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, "abc", 3, 0);
    return expect_error(aio_write, &cb, EBADF, "aio_write(closed fd)", &sync);
}

static int t_write_ebadf_rdonly(void)
{
    int fd = mkfile("f", O_RDONLY, NULL, 0);
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, "abc", 3, 0);
    int r = expect_error(aio_write, &cb, EBADF, "aio_write(O_RDONLY fd)", &sync);
    struct stat st;
    fstat(fd, &st);
    CHECK(r != PASS || st.st_size == 0, "file was written through a read-only descriptor");
    return r;
}

/* Submission-time errors: nothing queued, nothing written, no notification. */
static int write_einval_common(struct aiocb *cb, int fd, const char *name)
{
    int sync;
    g_nsig = 0;
    set_handler(SIG_NOTE, on_sig, 0);
    sev_signal(&cb->aio_sigevent, SIG_NOTE, 1);
    int r = expect_error(aio_write, cb, EINVAL, name, &sync);
    if (r != PASS) return r;
    char saved[512];
    snprintf(saved, sizeof saved, "%s", g_reason);
    if (sync) {
        msleep(100);
        struct stat st;
        fstat(fd, &st);
        CHECK(st.st_size == 0, "%s failed at submission but the data was written anyway", name);
        CHECK(g_nsig == 0, "%s failed at submission but a completion notification was sent", name);
        why("%s; nothing written, no notification", saved);
    }
    return PASS;
}

static int t_write_einval_offset(void)
{
    int fd = mkfile("f", O_WRONLY, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, -1);
    return write_einval_common(&cb, fd, "aio_write(aio_offset -1)");
}

static int t_write_einval_reqprio(void)
{
    long max = sysconf(_SC_AIO_PRIO_DELTA_MAX);
    if (max < 0) {
        why("AIO_PRIO_DELTA_MAX indeterminate: no invalid aio_reqprio to test");
        return PASS;
    }
    int fd = mkfile("f", O_WRONLY, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, 0);
    cb.aio_reqprio = (int)max + 1;
    return write_einval_common(&cb, fd, "aio_write(aio_reqprio AIO_PRIO_DELTA_MAX+1)");
}

static int t_write_efbig(void)
{
    struct rlimit rl = {4096, 4096};
    getrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = 4096;
    signal(SIGXFSZ, SIG_IGN);
    int fd = mkfile("f", O_WRONLY, NULL, 0);
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) {
        why("setrlimit(RLIMIT_FSIZE) failed: %s", strerror(errno));
        return FAIL;
    }
    struct aiocb cb;
    int sync;
    init_cb(&cb, fd, "0123456789", 10, 8192);
    return expect_error(aio_write, &cb, EFBIG,
                        "aio_write beyond RLIMIT_FSIZE (write() fails with EFBIG)", &sync);
}

/* ------------------------------------------------------------------------------------------ */
/* aio_error / aio_return                                                                      */

static int t_error_einprogress(void)
{
    int p[2];
    char buf[8];
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    for (int i = 0; i < 20; i++) {
        int e = aio_error(&cb);
        CHECK(e == EINPROGRESS, "aio_error on a pending request returned %d (%s) at poll %d", e,
              strerror(e), i);
        msleep(5);
    }
    CHECK(write(p[1], "z", 1) == 1, "write");
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "after completion aio_error %d, want 0", e);
    CHECK(aio_return(&cb) == 1, "aio_return not 1");
    why("aio_error returns EINPROGRESS while pending, 0 after successful completion");
    return PASS;
}

static int t_return_reuse(void)
{
    char buf[8];
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0, "write failed");
    CHECK(aio_return(&cb) == 3, "first aio_return not 3");
    /* the same aiocb, reused for a different operation */
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    CHECK(aio_read(&cb) == 0, "aio_read on the reused aiocb returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "reused aiocb: error status %d (%s), want 0", e, strerror(e));
    ssize_t r = aio_return(&cb);
    CHECK(r == 3 && memcmp(buf, "abc", 3) == 0, "reused aiocb: aio_return %zd, want 3", r);
    CHECK(aio_fsync(O_SYNC, &cb) == 0, "aio_fsync on the reused aiocb returned -1: %s",
          strerror(errno));
    e = wait_done(&cb, 5);
    CHECK(e == 0, "reused aiocb (fsync): error status %s", strerror(e));
    r = aio_return(&cb);
    CHECK(r == 0, "reused aiocb (fsync): aio_return %zd, want 0", r);
    why("after aio_return the aiocb was reused for aio_read then aio_fsync; each status correct");
    return PASS;
}

static int einval_probe(int use_return, const struct aiocb *cb, const char *what)
{
    errno = 0;
    long r = use_return ? (long)aio_return((struct aiocb *)cb) : aio_error(cb);
    if (r == -1 && errno == EINVAL) return PASS;
    why("%s on %s returned %ld (errno %d), not -1/EINVAL", use_return ? "aio_return" : "aio_error",
        what, r, errno);
    return UNSUP;
}

static int unsubmitted(int use_return)
{
    int fd = mkfile("f", O_RDWR, "abc", 3);
    struct aiocb z, g;
    init_cb(&z, fd, NULL, 0, 0);
    if (einval_probe(use_return, &z, "a zeroed, never submitted aiocb") != PASS) return UNSUP;
    memset(&g, 0x5a, sizeof g);
    g.aio_fildes = fd;
    if (einval_probe(use_return, &g, "a never submitted aiocb filled with 0x5a") != PASS)
        return UNSUP;
    why("%s on never-submitted aiocbs (zeroed, 0x5a-filled): -1/EINVAL",
        use_return ? "aio_return" : "aio_error");
    return PASS;
}

static int t_error_einval_unsubmitted(void) { return unsubmitted(0); }
static int t_return_einval_unsubmitted(void) { return unsubmitted(1); }

static int after_return(int use_return)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0, "write failed");
    CHECK(aio_return(&cb) == 3, "aio_return not 3");
    if (einval_probe(use_return, &cb, "an aiocb whose status was already retrieved") != PASS)
        return UNSUP;
    why("%s after aio_return: -1/EINVAL", use_return ? "second aio_return" : "aio_error");
    return PASS;
}

static int t_error_einval_after_return(void) { return after_return(0); }
static int t_return_einval_twice(void) { return after_return(1); }

/* ------------------------------------------------------------------------------------------ */
/* notification                                                                                */

static int t_notify_signal(void)
{
    int p[2];
    char buf[16];
    if (pipe(p)) return FAIL;
    static struct aiocb cb;
    set_handler(SIG_NOTE, on_sig, 0);
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    sev_signal(&cb.aio_sigevent, SIG_NOTE, 7);
    g_watch[6] = &cb;
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    msleep(50);
    CHECK(g_nsig == 0, "signal delivered before the request completed");
    CHECK(write(p[1], "sig", 3) == 3, "write");
    CHECK(wait_nsig(1, 5) == 1, "no SIGEV_SIGNAL notification within 5 s");
    CHECK(g_signo == SIG_NOTE, "signal %d, want %d", (int)g_signo, SIG_NOTE);
    CHECK(g_code == SI_ASYNCIO, "si_code %d, want SI_ASYNCIO (%d)", (int)g_code, SI_ASYNCIO);
    CHECK(g_value == (void *)7, "si_value %p, want sigev_value 0x7", g_value);
    CHECK(g_inprog == 0, "aio_error was EINPROGRESS inside the handler: notified before the "
                         "status was final");
    CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 3, "status after notification wrong");
    msleep(50);
    CHECK(g_nsig == 1, "%d signals for one request", (int)g_nsig);
    why("SIGEV_SIGNAL: one signal, si_code SI_ASYNCIO, si_value = sigev_value, status final in "
        "the handler");
    return PASS;
}

static int t_notify_thread(void)
{
    int p[2];
    char buf[16];
    if (pipe(p)) return FAIL;
    static struct aiocb cb;
    g_main = pthread_self();
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    sev_thread(&cb.aio_sigevent, 9);
    g_watch[8] = &cb;
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    msleep(50);
    CHECK(wait_tcalls(0, 0) == 0, "callback ran before the request completed");
    CHECK(write(p[1], "thr", 3) == 3, "write");
    CHECK(wait_tcalls(1, 5) == 1, "no SIGEV_THREAD callback within 5 s");
    pthread_mutex_lock(&g_mu);
    void *v = g_tvalue;
    int inprog = g_tinprog, same = g_tsame_thread;
    pthread_mutex_unlock(&g_mu);
    CHECK(v == (void *)9, "callback argument %p, want sigev_value 0x9", v);
    CHECK(inprog == 0, "aio_error was EINPROGRESS inside the callback: notified before the status "
                       "was final");
    CHECK(same == 0, "callback ran on the calling thread, not as a new thread");
    CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 3, "status after notification wrong");
    msleep(50);
    CHECK(wait_tcalls(0, 0) == 1, "callback called %d times", wait_tcalls(0, 0));
    why("SIGEV_THREAD: callback called once with sigev_value, on its own thread, status final");
    return PASS;
}

static int t_notify_thread_attr(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    static struct aiocb cb;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    g_main = pthread_self();
    init_cb(&cb, fd, "abc", 3, 0);
    sev_thread(&cb.aio_sigevent, 10);
    cb.aio_sigevent.sigev_notify_attributes = &attr;
    g_watch[9] = &cb;
    CHECK(aio_write(&cb) == 0, "aio_write with sigev_notify_attributes: %s", strerror(errno));
    CHECK(wait_tcalls(1, 5) == 1, "no SIGEV_THREAD callback within 5 s");
    CHECK(g_tvalue == (void *)10 && g_tinprog == 0, "callback value or status wrong");
    CHECK(aio_return(&cb) == 3, "aio_return not 3");
    why("SIGEV_THREAD with sigev_notify_attributes (detached, 256 KiB stack): callback ran");
    return PASS;
}

static int t_notify_none(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    set_handler(SIG_NOTE, on_plain, 0);
    init_cb(&cb, fd, "abc", 3, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    cb.aio_sigevent.sigev_signo = SIG_NOTE; /* must not be used */
    cb.aio_sigevent.sigev_value.sival_int = 1;
    CHECK(aio_write(&cb) == 0, "aio_write: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0, "write failed");
    msleep(100);
    CHECK(g_plain == 0, "SIGEV_NONE request sent signal %d", SIG_NOTE);
    CHECK(aio_return(&cb) == 3, "aio_return not 3");
    why("SIGEV_NONE (with sigev_signo set): no signal delivered");
    return PASS;
}

#define NONCE 32
static int t_notify_once(void)
{
    static struct aiocb cbs[NONCE];
    static char bufs[NONCE][512];
    int fd = mkfile("f", O_RDWR, NULL, 0);
    sigset_t blk;
    set_handler(SIG_NOTE, on_sig, 0);
    sigemptyset(&blk);
    sigaddset(&blk, SIG_NOTE);
    for (int i = 0; i < NONCE; i++) {
        fill(bufs[i], 512, i);
        init_cb(&cbs[i], fd, bufs[i], 512, i * 512);
        sev_signal(&cbs[i].aio_sigevent, SIG_NOTE, i + 1);
        g_watch[i] = &cbs[i];
    }
    for (int i = 0; i < NONCE; i++)
        CHECK(aio_write(&cbs[i]) == 0, "aio_write #%d: %s", i, strerror(errno));
    CHECK(wait_nsig(NONCE, 5) >= NONCE, "only %d of %d notifications within 5 s", (int)g_nsig,
          NONCE);
    msleep(100);
    for (int i = 0; i < NONCE; i++)
        CHECK(g_hits[i] == 1, "request #%d notified %d times", i, (int)g_hits[i]);
    CHECK(g_inprog == 0, "%d handlers saw EINPROGRESS for their own request", (int)g_inprog);
    for (int i = 0; i < NONCE; i++) {
        CHECK(aio_error(&cbs[i]) == 0, "request #%d failed", i);
        CHECK(aio_return(&cbs[i]) == 512, "request #%d: aio_return not 512", i);
    }
    why("%d concurrent writes: each notified exactly once with its own sigev_value, after its "
        "status was final", NONCE);
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* aio_suspend                                                                                 */

static int t_suspend_completed(void)
{
    int p[2];
    char buf[8];
    int fd = mkfile("f", O_RDWR, "abcdef", 6);
    if (pipe(p)) return FAIL;
    struct aiocb done, pending;
    init_cb(&done, fd, buf, 4, 0);
    init_cb(&pending, p[0], buf + 4, 4, 0);
    CHECK(aio_read(&done) == 0 && aio_read(&pending) == 0, "submit: %s", strerror(errno));
    CHECK(wait_done(&done, 5) == 0, "file read failed");
    const struct aiocb *list[2] = {&pending, &done};
    struct timespec ts = {5, 0};
    double t0 = now();
    int r = aio_suspend(list, 2, &ts);
    double dt = now() - t0;
    CHECK(r == 0, "aio_suspend with a completed entry returned %d errno %s", r, strerror(errno));
    CHECK(dt < 1.0, "aio_suspend with a completed entry took %.3f s", dt);
    t0 = now();
    r = aio_suspend(list, 2, NULL);
    CHECK(r == 0 && now() - t0 < 1.0, "aio_suspend(NULL timeout) with a completed entry did not "
                                      "return 0 at once");
    CHECK(write(p[1], "q", 1) == 1, "write");
    wait_done(&pending, 5);
    aio_return(&pending);
    aio_return(&done);
    why("list holding a completed request: returns 0 at once (timeout 5 s and NULL)");
    return PASS;
}

static void *writer_after(void *arg)
{
    int fd = *(int *)arg;
    msleep(150);
    if (write(fd, "w", 1) != 1) perror("write");
    return NULL;
}

static int t_suspend_wakes(void)
{
    int p[2];
    char buf[8];
    pthread_t t;
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    const struct aiocb *list[1] = {&cb};
    spawn(&t, writer_after, &p[1]);
    double t0 = now();
    int r = aio_suspend(list, 1, NULL);
    double dt = now() - t0;
    pthread_join(t, NULL);
    CHECK(r == 0, "aio_suspend returned %d (%s)", r, strerror(errno));
    CHECK(aio_error(&cb) != EINPROGRESS, "aio_suspend returned 0 but the request is in progress");
    CHECK(dt >= 0.1, "returned after %.3f s, before the request could complete", dt);
    CHECK(aio_return(&cb) == 1, "aio_return not 1");
    why("aio_suspend(NULL timeout) slept until the pipe read completed (%.3f s), returned 0", dt);
    return PASS;
}

static int t_suspend_eagain(void)
{
    int p[2];
    char buf[8];
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    const struct aiocb *list[1] = {&cb};
    struct timespec ts = {0, 200000000};
    double t0 = now();
    errno = 0;
    int r = aio_suspend(list, 1, &ts);
    double dt = now() - t0;
    CHECK(r == -1 && errno == EAGAIN, "timed out wait returned %d errno %d (%s), want -1/EAGAIN", r,
          errno, strerror(errno));
    CHECK(dt >= 0.195, "returned EAGAIN after %.3f s, before the 0.2 s timeout passed", dt);
    CHECK(dt < 3.0, "returned after %.3f s for a 0.2 s timeout", dt);
    CHECK(write(p[1], "x", 1) == 1, "write");
    wait_done(&cb, 5);
    aio_return(&cb);
    why("0.2 s timeout with nothing complete: -1/EAGAIN after %.3f s", dt);
    return PASS;
}

static int t_suspend_poll(void)
{
    int p[2];
    char buf[8];
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    const struct aiocb *list[1] = {&cb};
    struct timespec zero = {0, 0};
    double t0 = now();
    errno = 0;
    int r = aio_suspend(list, 1, &zero);
    double dt = now() - t0;
    CHECK(r == -1 && errno == EAGAIN, "zero timeout returned %d errno %s, want -1/EAGAIN", r,
          strerror(errno));
    CHECK(dt < 0.5, "zero timeout took %.3f s", dt);
    CHECK(write(p[1], "x", 1) == 1, "write");
    wait_done(&cb, 5);
    aio_return(&cb);
    why("zero timeout with nothing complete: -1/EAGAIN at once (%.4f s)", dt);
    return PASS;
}

static int t_suspend_null_entries(void)
{
    int p[2];
    char buf[8];
    int fd = mkfile("f", O_RDWR, "abcdef", 6);
    if (pipe(p)) return FAIL;
    struct aiocb done, pending;
    init_cb(&done, fd, buf, 4, 0);
    init_cb(&pending, p[0], buf + 4, 4, 0);
    CHECK(aio_read(&done) == 0 && aio_read(&pending) == 0, "submit: %s", strerror(errno));
    CHECK(wait_done(&done, 5) == 0, "file read failed");
    const struct aiocb *l1[3] = {NULL, &pending, NULL};
    struct timespec ts = {0, 100000000};
    errno = 0;
    int r = aio_suspend(l1, 3, &ts);
    CHECK(r == -1 && errno == EAGAIN, "{NULL, pending, NULL}: returned %d errno %s, want "
                                      "-1/EAGAIN (NULL entries must be ignored)", r,
          strerror(errno));
    const struct aiocb *l2[4] = {NULL, &pending, NULL, &done};
    ts.tv_sec = 5;
    ts.tv_nsec = 0;
    r = aio_suspend(l2, 4, &ts);
    CHECK(r == 0, "{NULL, pending, NULL, done}: returned %d errno %s, want 0", r, strerror(errno));
    CHECK(write(p[1], "x", 1) == 1, "write");
    wait_done(&pending, 5);
    aio_return(&pending);
    aio_return(&done);
    why("NULL entries ignored: {NULL,pending,NULL} times out with EAGAIN, {..,done} returns 0");
    return PASS;
}

struct kicker {
    pthread_t target;
    int sig;
    volatile int stop;
    int max;
    int wfd;      /* if >= 0: write one byte here after `write_ms` */
    long write_ms;
};

static void *kick(void *arg)
{
    struct kicker *k = arg;
    double t0 = now();
    int sent = 0, wrote = 0;
    while (!k->stop) {
        msleep(50);
        if (sent < k->max) {
            pthread_kill(k->target, k->sig);
            sent++;
        }
        if (k->wfd >= 0 && !wrote && (now() - t0) * 1000 >= k->write_ms) {
            if (write(k->wfd, "k", 1) != 1) perror("write");
            wrote = 1;
        }
        if (now() - t0 > 8) break;
    }
    return NULL;
}

static int t_suspend_eintr(void)
{
    int p[2];
    char buf[8];
    pthread_t t;
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    set_handler(SIGUSR1, on_plain, 0); /* no SA_RESTART */
    struct kicker k = {pthread_self(), SIGUSR1, 0, 1000, -1, 0};
    spawn(&t, kick, &k);
    const struct aiocb *list[1] = {&cb};
    struct timespec ts = {5, 0};
    errno = 0;
    int r = aio_suspend(list, 1, &ts);
    int err = errno;
    k.stop = 1;
    pthread_join(t, NULL);
    CHECK(r == -1 && err == EINTR, "interrupted aio_suspend returned %d errno %d (%s), want "
                                   "-1/EINTR", r, err, strerror(err));
    CHECK(g_plain >= 1, "handler did not run");
    CHECK(aio_error(&cb) == EINPROGRESS, "the request was disturbed by the interruption");
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(wait_done(&cb, 5) == 0 && aio_return(&cb) == 1, "request did not complete afterwards");
    why("signal handler (no SA_RESTART) interrupted aio_suspend: -1/EINTR; request unaffected");
    return PASS;
}

static int t_suspend_sa_restart(void)
{
    int p[2];
    char buf[8];
    pthread_t t;
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    set_handler(SIGUSR1, on_plain, SA_RESTART);
    struct kicker k = {pthread_self(), SIGUSR1, 0, 4, p[1], 400};
    spawn(&t, kick, &k);
    const struct aiocb *list[1] = {&cb};
    errno = 0;
    int r = aio_suspend(list, 1, NULL);
    int err = errno;
    k.stop = 1;
    pthread_join(t, NULL);
    CHECK(r == 0, "aio_suspend with an SA_RESTART handler returned %d errno %d (%s), want 0 after "
                  "completion", r, err, strerror(err));
    CHECK(g_plain >= 1, "handler never ran");
    CHECK(wait_done(&cb, 5) == 0 && aio_return(&cb) == 1, "request did not complete");
    why("SA_RESTART handler ran %d times during aio_suspend(NULL): not EINTR, returned 0 on "
        "completion", (int)g_plain);
    return PASS;
}

static int t_suspend_sa_restart_timeout(void)
{
    int p[2];
    char buf[8];
    pthread_t t;
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    set_handler(SIGUSR1, on_plain, SA_RESTART);
    struct kicker k = {pthread_self(), SIGUSR1, 0, 4, p[1], 400};
    spawn(&t, kick, &k);
    const struct aiocb *list[1] = {&cb};
    struct timespec ts = {5, 0};
    errno = 0;
    int r = aio_suspend(list, 1, &ts);
    int err = errno;
    k.stop = 1;
    pthread_join(t, NULL);
    CHECK(!(r == -1 && err == EINTR), "aio_suspend(5 s timeout) failed with EINTR although the "
                                      "handler has SA_RESTART");
    CHECK(r == 0, "aio_suspend(5 s timeout) returned %d errno %d (%s), want 0", r, err,
          strerror(err));
    CHECK(wait_done(&cb, 5) == 0 && aio_return(&cb) == 1, "request did not complete");
    why("SA_RESTART handler ran %d times during aio_suspend(5 s): restarted, returned 0",
        (int)g_plain);
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* aio_cancel                                                                                  */

static int t_cancel_ebadf(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    close(fd);
    errno = 0;
    int r = aio_cancel(fd, NULL);
    CHECK(r == -1 && errno == EBADF, "aio_cancel(closed fd, NULL) returned %d errno %s", r,
          strerror(errno));
    errno = 0;
    r = aio_cancel(-1, NULL);
    CHECK(r == -1 && errno == EBADF, "aio_cancel(-1, NULL) returned %d errno %s", r,
          strerror(errno));
    why("aio_cancel on a closed descriptor and on -1: -1/EBADF");
    return PASS;
}

static int t_cancel_alldone(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0, "write failed");
    int r = aio_cancel(fd, &cb);
    CHECK(r == AIO_ALLDONE, "aio_cancel of a completed request returned %d, want AIO_ALLDONE", r);
    CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 3, "completed request's status changed by "
                                                       "aio_cancel");
    why("aio_cancel(fd, completed aiocb) returned AIO_ALLDONE; status untouched");
    return PASS;
}

static int t_cancel_alldone_null(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, "abc", 3, 0);
    CHECK(aio_write(&cb) == 0, "aio_write: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0, "write failed");
    int r = aio_cancel(fd, NULL);
    CHECK(r == AIO_ALLDONE, "aio_cancel(fd, NULL) with every request complete returned %d, want "
                            "AIO_ALLDONE", r);
    CHECK(aio_return(&cb) == 3, "status changed");
    why("aio_cancel(fd, NULL) when every request on fd has completed: AIO_ALLDONE");
    return PASS;
}

static int same_public(const struct aiocb *a, const struct aiocb *b)
{
    return a->aio_fildes == b->aio_fildes && a->aio_offset == b->aio_offset &&
           a->aio_buf == b->aio_buf && a->aio_nbytes == b->aio_nbytes &&
           a->aio_reqprio == b->aio_reqprio && a->aio_lio_opcode == b->aio_lio_opcode &&
           a->aio_sigevent.sigev_notify == b->aio_sigevent.sigev_notify &&
           a->aio_sigevent.sigev_signo == b->aio_sigevent.sigev_signo &&
           a->aio_sigevent.sigev_value.sival_ptr == b->aio_sigevent.sigev_value.sival_ptr;
}

static int t_cancel_running(void)
{
    int p[2];
    char buf[16], got[8];
    if (pipe(p)) return FAIL;
    static struct aiocb cb;
    struct aiocb copy;
    set_handler(SIG_NOTE, on_sig, 0);
    init_cb(&cb, p[0], buf, sizeof buf, 0);
    sev_signal(&cb.aio_sigevent, SIG_NOTE, 3);
    g_watch[2] = &cb;
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    msleep(100); /* let it start: it then blocks in read() on the empty pipe */
    copy = cb;
    int r = aio_cancel(p[0], &cb);
    if (r == AIO_NOTCANCELED) {
        CHECK(aio_error(&cb) == EINPROGRESS, "AIO_NOTCANCELED but aio_error is %d, not "
                                             "EINPROGRESS", aio_error(&cb));
        CHECK(same_public(&copy, &cb), "aio_cancel modified the aiocb of a request it did not "
                                       "cancel");
        CHECK(g_nsig == 0, "notification for a request that is still in progress");
        CHECK(write(p[1], "later", 5) == 5, "write");
        int e = wait_done(&cb, 5);
        CHECK(e == 0, "not-cancelled read then finished with %s, want normal completion",
              strerror(e));
        CHECK(aio_return(&cb) == 5 && memcmp(buf, "later", 5) == 0, "read result wrong");
        CHECK(wait_nsig(1, 5) == 1 && g_hits[2] == 1, "normal completion not notified once");
        CHECK(g_inprog == 0, "notified before the status was final");
        why("blocked pipe read: AIO_NOTCANCELED, aiocb untouched, then completed normally and "
            "was notified");
        return PASS;
    }
    if (r == AIO_CANCELED) {
        int e = aio_error(&cb);
        CHECK(e == ECANCELED, "AIO_CANCELED but aio_error is %d (%s)", e, strerror(e));
        CHECK(aio_return(&cb) == -1, "cancelled request: aio_return not -1");
        CHECK(wait_nsig(1, 5) == 1 && g_hits[2] == 1, "cancelled request not notified once");
        CHECK(g_inprog == 0, "notified before the status was final");
        CHECK(write(p[1], "later", 5) == 5, "write");
        CHECK(read_full(p[0], got, 5) == 0 && memcmp(got, "later", 5) == 0,
              "the cancelled read consumed pipe data");
        why("blocked pipe read: AIO_CANCELED, ECANCELED/-1, notified (implementation cancels "
            "blocked reads)");
        return PASS;
    }
    why("aio_cancel of a pending pipe read returned %d (want AIO_NOTCANCELED or AIO_CANCELED; "
        "AIO_ALLDONE is wrong: it has not completed)", r);
    return FAIL;
}

/* A queued write behind a blocked one, with notification `kind` (0 signal, 1 thread). */
static int cancel_queued(int kind)
{
    static struct aiocb w[3];
    static char data[3][4096];
    struct fullpipe fp;
    char *drain;
    make_full_pipe(&fp);
    set_handler(SIG_NOTE, on_sig, 0);
    g_main = pthread_self();
    for (int i = 0; i < 3; i++) {
        memset(data[i], '1' + i, sizeof data[i]);
        init_cb(&w[i], fp.wfd, data[i], sizeof data[i], 0);
        if (kind == 0)
            sev_signal(&w[i].aio_sigevent, SIG_NOTE, i + 1);
        else
            sev_thread(&w[i].aio_sigevent, i + 1);
        g_watch[i] = &w[i];
    }
    for (int i = 0; i < 3; i++)
        CHECK(aio_write(&w[i]) == 0, "aio_write #%d: %s", i, strerror(errno));
    msleep(100);
    for (int i = 0; i < 3; i++)
        CHECK(aio_error(&w[i]) == EINPROGRESS, "write #%d finished on a full pipe", i);
    int r = aio_cancel(fp.wfd, &w[1]);
    int e1 = aio_error(&w[1]);
    const char *outcome;
    if (r == AIO_CANCELED) {
        CHECK(e1 == ECANCELED, "AIO_CANCELED but aio_error %d (%s), want ECANCELED", e1,
              strerror(e1));
        outcome = "AIO_CANCELED";
    } else if (r == AIO_NOTCANCELED) {
        CHECK(e1 == EINPROGRESS, "AIO_NOTCANCELED but aio_error %d (%s)", e1, strerror(e1));
        outcome = "AIO_NOTCANCELED";
    } else {
        why("aio_cancel of a queued write returned %d (AIO_ALLDONE or error: it cannot have "
            "completed, the pipe is full)", r);
        return FAIL;
    }
    CHECK(aio_error(&w[0]) == EINPROGRESS && aio_error(&w[2]) == EINPROGRESS,
          "aio_cancel(fd, &w1) changed the status of another request");
    size_t expect = fp.filled + 4096 * (r == AIO_CANCELED ? 2 : 3);
    drain = malloc(expect);
    CHECK(read_full(fp.rfd, drain, expect) == 0, "pipe read");
    for (int i = 0; i < 3; i++) {
        int e = wait_done(&w[i], 5);
        if (i == 1 && r == AIO_CANCELED) {
            CHECK(e == ECANCELED && aio_return(&w[i]) == -1, "cancelled write: status %s",
                  strerror(e));
        } else {
            CHECK(e == 0, "write #%d: status %s", i, strerror(e));
            CHECK(aio_return(&w[i]) == 4096, "write #%d: aio_return not 4096", i);
        }
    }
    /* stream after the filler: w0, [w1], w2 in order (O_APPEND), the cancelled one absent */
    size_t off = fp.filled;
    for (int i = 0; i < 3; i++) {
        if (i == 1 && r == AIO_CANCELED) continue;
        CHECK(memcmp(drain + off, data[i], 4096) == 0, "pipe data at %zu is not write #%d%s", off,
              i, r == AIO_CANCELED ? " (was the cancelled write performed?)" : "");
        off += 4096;
    }
    msleep(50);
    int extra = 0;
    char c;
    fcntl(fp.rfd, F_SETFL, O_NONBLOCK);
    if (read(fp.rfd, &c, 1) == 1) extra = 1;
    CHECK(!extra, "more data in the pipe than expected: a cancelled write was performed");
    /* every request notified exactly once, after its status was final */
    if (kind == 0) {
        CHECK(wait_nsig(3, 5) >= 3, "only %d notifications for 3 requests", (int)g_nsig);
        msleep(50);
        for (int i = 0; i < 3; i++)
            CHECK(g_hits[i] == 1, "request #%d notified %d times", i, (int)g_hits[i]);
        CHECK(g_inprog == 0, "a notification came before its request's status was final");
    } else {
        CHECK(wait_tcalls(3, 5) >= 3, "only %d callbacks for 3 requests", wait_tcalls(0, 0));
        msleep(50);
        pthread_mutex_lock(&g_mu);
        int ok = g_thits[0] == 1 && g_thits[1] == 1 && g_thits[2] == 1, inprog = g_tinprog;
        pthread_mutex_unlock(&g_mu);
        CHECK(ok, "callbacks per request: %d %d %d, want 1 1 1", g_thits[0], g_thits[1],
              g_thits[2]);
        CHECK(inprog == 0, "a callback ran before its request's status was final");
    }
    why("queued O_APPEND write behind a blocked one: %s; %s; each request notified once (%s) "
        "after its status was final", outcome,
        r == AIO_CANCELED ? "ECANCELED/-1, data not written, others intact"
                          : "it then completed normally in order",
        kind == 0 ? "SIGEV_SIGNAL" : "SIGEV_THREAD");
    free(drain);
    return PASS;
}

static int t_cancel_queued_signal(void) { return cancel_queued(0); }
static int t_cancel_queued_thread(void) { return cancel_queued(1); }

static int t_cancel_null_fd(void)
{
    static struct aiocb w[4];
    static char data[4][4096];
    struct fullpipe fp;
    int other[2];
    char ob[8];
    make_full_pipe(&fp);
    if (pipe(other)) return FAIL;
    set_handler(SIG_NOTE, on_sig, 0);
    for (int i = 0; i < 4; i++) {
        memset(data[i], 'a' + i, 4096);
        init_cb(&w[i], fp.wfd, data[i], 4096, 0);
        sev_signal(&w[i].aio_sigevent, SIG_NOTE, i + 1);
        g_watch[i] = &w[i];
    }
    /* a request on another descriptor must not be touched */
    static struct aiocb o;
    init_cb(&o, other[0], ob, sizeof ob, 0);
    CHECK(aio_read(&o) == 0, "aio_read: %s", strerror(errno));
    for (int i = 0; i < 4; i++)
        CHECK(aio_write(&w[i]) == 0, "aio_write #%d: %s", i, strerror(errno));
    msleep(100);
    int r = aio_cancel(fp.wfd, NULL);
    int st[4], ncancel = 0, ninprog = 0;
    for (int i = 0; i < 4; i++) {
        st[i] = aio_error(&w[i]);
        if (st[i] == ECANCELED) ncancel++;
        else if (st[i] == EINPROGRESS) ninprog++;
        else {
            why("after aio_cancel(fd, NULL) write #%d has status %d (%s): it cannot have "
                "completed", i, st[i], strerror(st[i]));
            return FAIL;
        }
    }
    CHECK(aio_error(&o) == EINPROGRESS, "aio_cancel(fd, NULL) affected a request on another fd");
    if (r == AIO_CANCELED)
        CHECK(ncancel == 4, "AIO_CANCELED but only %d of 4 requests have ECANCELED", ncancel);
    else if (r == AIO_NOTCANCELED)
        CHECK(ninprog >= 1, "AIO_NOTCANCELED but no request is still in progress");
    else {
        why("aio_cancel(fd, NULL) with 4 pending writes returned %d", r);
        return FAIL;
    }
    size_t expect = fp.filled + 4096 * (size_t)ninprog;
    char *drain = malloc(expect + 1);
    CHECK(read_full(fp.rfd, drain, expect) == 0, "pipe read");
    size_t off = fp.filled;
    for (int i = 0; i < 4; i++) {
        int e = wait_done(&w[i], 5);
        if (st[i] == ECANCELED) {
            CHECK(e == ECANCELED && aio_return(&w[i]) == -1, "cancelled #%d changed to %s", i,
                  strerror(e));
        } else {
            CHECK(e == 0 && aio_return(&w[i]) == 4096, "not-cancelled #%d ended with %s", i,
                  strerror(e));
            CHECK(memcmp(drain + off, data[i], 4096) == 0, "pipe data out of order at #%d", i);
            off += 4096;
        }
    }
    CHECK(wait_nsig(4, 5) >= 4, "only %d notifications for 4 requests", (int)g_nsig);
    msleep(50);
    for (int i = 0; i < 4; i++)
        CHECK(g_hits[i] == 1, "request #%d notified %d times", i, (int)g_hits[i]);
    CHECK(g_inprog == 0, "a notification came before its request's status was final");
    CHECK(write(other[1], "o", 1) == 1, "write");
    CHECK(wait_done(&o, 5) == 0 && aio_return(&o) == 1, "request on the other fd failed");
    why("aio_cancel(fd, NULL), 1 blocked + 3 queued writes: %s, %d cancelled (ECANCELED/-1, not "
        "written), %d completed in order; each notified once; other fd untouched",
        r == AIO_CANCELED ? "AIO_CANCELED" : "AIO_NOTCANCELED", ncancel, ninprog);
    free(drain);
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* aio_fsync                                                                                   */

static int t_fsync_basic(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &cb) == 0, "aio_fsync(O_SYNC) returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0, "error status %s", strerror(e));
    CHECK(aio_return(&cb) == 0, "aio_return not 0 (fsync() returns 0)");
    why("aio_fsync(O_SYNC): queued, aio_error 0, aio_return 0");
    return PASS;
}

static int t_fsync_dsync(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, NULL, 0, 0);
    errno = 0;
    int r = aio_fsync(O_DSYNC, &cb);
    if (sysconf(_SC_SYNCHRONIZED_IO) <= 0) {
        CHECK(r == 0 || errno == EINVAL, "no _POSIX_SYNCHRONIZED_IO: want 0 or -1/EINVAL");
        why("_POSIX_SYNCHRONIZED_IO not supported; O_DSYNC %s", r == 0 ? "accepted" : "EINVAL");
        return PASS;
    }
    CHECK(r == 0, "aio_fsync(O_DSYNC) returned -1: %s (synchronized I/O is supported)",
          strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0 && aio_return(&cb) == 0, "error status %s", strerror(e));
    why("aio_fsync(O_DSYNC): queued, aio_error 0, aio_return 0");
    return PASS;
}

static int t_fsync_einval_op(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    int ops[3] = {0, O_RDWR | 0x4000000, 12345};
    for (int i = 0; i < 3; i++) {
        if (ops[i] == O_SYNC || ops[i] == O_DSYNC) continue;
        struct aiocb cb;
        init_cb(&cb, fd, NULL, 0, 0);
        errno = 0;
        int r = aio_fsync(ops[i], &cb);
        CHECK(r == -1 && errno == EINVAL, "aio_fsync(op 0x%x) returned %d errno %s, want -1/EINVAL",
              ops[i], r, strerror(errno));
    }
    why("aio_fsync with op not O_SYNC/O_DSYNC (0, 0x4000002, 12345): -1/EINVAL");
    return PASS;
}

static int t_fsync_ebadf(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    close(fd);
    struct aiocb cb;
    init_cb(&cb, fd, NULL, 0, 0);
    errno = 0;
    int r = aio_fsync(O_SYNC, &cb);
    if (r == 0) {
        int e = wait_done(&cb, 5);
        aio_return(&cb);
        why("aio_fsync on a closed descriptor returned 0 (then error status %s); want -1/EBADF",
            strerror(e));
        return FAIL;
    }
    CHECK(errno == EBADF, "aio_fsync(closed fd) errno %s, want EBADF", strerror(errno));
    why("aio_fsync on a closed descriptor: -1/EBADF");
    return PASS;
}

static int t_fsync_einval_pipe(void)
{
    int p[2];
    if (pipe(p)) return FAIL;
    struct aiocb cb;
    init_cb(&cb, p[1], NULL, 0, 0);
    errno = 0;
    int r = aio_fsync(O_SYNC, &cb);
    if (r == -1) {
        CHECK(errno == EINVAL, "aio_fsync on a pipe: -1 errno %s, want EINVAL", strerror(errno));
        why("aio_fsync on a pipe (no synchronized I/O for it): -1/EINVAL");
        return PASS;
    }
    int e = wait_done(&cb, 5);
    aio_return(&cb);
    why("aio_fsync on a pipe returned 0 and reported %s only through aio_error; the 'shall fail' "
        "EINVAL is a failure of the call", strerror(e));
    return FAIL;
}

#define NFW 32
#define FWSZ (256 * 1024)
static int t_fsync_covers_writes(void)
{
    static struct aiocb w[NFW];
    char *bufs = malloc((size_t)NFW * FWSZ), *got = malloc(FWSZ);
    int fd = mkfile("f", O_RDWR, NULL, 0);
    for (int i = 0; i < NFW; i++) {
        fill(bufs + (size_t)i * FWSZ, FWSZ, i);
        init_cb(&w[i], fd, bufs + (size_t)i * FWSZ, FWSZ, (off_t)i * FWSZ);
    }
    for (int i = 0; i < NFW; i++)
        CHECK(aio_write(&w[i]) == 0, "aio_write #%d: %s", i, strerror(errno));
    struct aiocb s;
    init_cb(&s, fd, NULL, 0, 0);
    CHECK(aio_fsync(O_SYNC, &s) == 0, "aio_fsync: %s", strerror(errno));
    int e;
    while ((e = aio_error(&s)) == EINPROGRESS) {
    } /* busy-poll: look at the writes the moment the sync completes */
    int pending = 0;
    for (int i = 0; i < NFW; i++)
        if (aio_error(&w[i]) == EINPROGRESS) pending++;
    CHECK(e == 0, "aio_fsync failed: %s", strerror(e));
    CHECK(pending == 0, "aio_fsync completed while %d of the %d writes queued before it were still "
                        "in progress", pending, NFW);
    CHECK(aio_return(&s) == 0, "aio_fsync: aio_return not 0");
    for (int i = 0; i < NFW; i++) {
        CHECK(aio_error(&w[i]) == 0 && aio_return(&w[i]) == FWSZ, "write #%d failed", i);
        CHECK(pread(fd, got, FWSZ, (off_t)i * FWSZ) == FWSZ &&
                  memcmp(got, bufs + (size_t)i * FWSZ, FWSZ) == 0,
              "write #%d data missing", i);
    }
    why("aio_fsync after %d x 256 KiB writes completed only after all of them", NFW);
    free(bufs);
    free(got);
    return PASS;
}

static int t_fsync_notify(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    static struct aiocb cb;
    set_handler(SIG_NOTE, on_sig, 0);
    init_cb(&cb, fd, NULL, 0, 0);
    sev_signal(&cb.aio_sigevent, SIG_NOTE, 5);
    g_watch[4] = &cb;
    CHECK(aio_fsync(O_SYNC, &cb) == 0, "aio_fsync: %s", strerror(errno));
    CHECK(wait_nsig(1, 5) == 1, "no notification within 5 s");
    CHECK(g_code == SI_ASYNCIO && g_value == (void *)5, "si_code %d si_value %p", (int)g_code,
          g_value);
    CHECK(g_inprog == 0, "notified before the status was final");
    CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 0, "status wrong");
    why("aio_fsync with SIGEV_SIGNAL: notified once (SI_ASYNCIO, sigev_value), status final");
    return PASS;
}

static int t_fsync_ignores_fields(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, NULL, 0, 0);
    cb.aio_offset = -1;
    cb.aio_nbytes = (size_t)-1;
    cb.aio_buf = (void *)16; /* not a valid address */
    cb.aio_lio_opcode = 0x5a5a;
    errno = 0;
    CHECK(aio_fsync(O_SYNC, &cb) == 0, "aio_fsync with junk aio_offset/aio_nbytes/aio_buf/"
                                       "aio_lio_opcode returned -1: %s", strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK(e == 0 && aio_return(&cb) == 0, "error status %s", strerror(e));
    why("aio_fsync ignores aio_offset -1, aio_nbytes SIZE_MAX, aio_buf 0x10, aio_lio_opcode");
    return PASS;
}

static int t_fsync_ignores_reqprio(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, fd, NULL, 0, 0);
    cb.aio_reqprio = 10000;
    errno = 0;
    int r = aio_fsync(O_SYNC, &cb);
    if (r != 0) {
        why("aio_fsync with aio_reqprio 10000 returned -1/%s: POSIX says every member but "
            "aio_fildes and aio_sigevent is ignored", strerror(errno));
        return FAIL;
    }
    int e = wait_done(&cb, 5);
    if (e != 0) {
        aio_return(&cb);
        why("aio_fsync with aio_reqprio 10000 completed with %s; the member must be ignored",
            strerror(e));
        return FAIL;
    }
    CHECK(aio_return(&cb) == 0, "aio_return not 0");
    why("aio_fsync ignores aio_reqprio (10000)");
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* lio_listio                                                                                  */

static int t_lio_wait(void)
{
    char data[64], r1[16], r2[16], got[64];
    fill(data, 64, 8);
    int fd = mkfile("f", O_RDWR, data, 64);
    struct aiocb a, b, c;
    init_cb(&a, fd, r1, 16, 0);
    a.aio_lio_opcode = LIO_READ;
    init_cb(&b, fd, r2, 16, 32);
    b.aio_lio_opcode = LIO_READ;
    init_cb(&c, fd, "WRITTEN!", 8, 64);
    c.aio_lio_opcode = LIO_WRITE;
    struct aiocb *list[3] = {&a, &b, &c};
    int r = lio_listio(LIO_WAIT, list, 3, NULL);
    CHECK(r == 0, "lio_listio(LIO_WAIT) returned %d: %s", r, strerror(errno));
    for (int i = 0; i < 3; i++)
        CHECK(aio_error(list[i]) == 0, "entry %d not complete/successful on return (%d)", i,
              aio_error(list[i]));
    CHECK(aio_return(&a) == 16 && aio_return(&b) == 16 && aio_return(&c) == 8, "return statuses");
    CHECK(memcmp(r1, data, 16) == 0 && memcmp(r2, data + 32, 16) == 0, "read data wrong");
    CHECK(pread(fd, got, 8, 64) == 8 && memcmp(got, "WRITTEN!", 8) == 0, "write data missing");
    why("LIO_WAIT with 2 reads + 1 write: returned 0 with all three complete and correct");
    return PASS;
}

static int t_lio_wait_ignores_sig(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb a;
    struct sigevent sig;
    set_handler(SIG_NOTE, on_plain, 0);
    init_cb(&a, fd, "x", 1, 0);
    a.aio_lio_opcode = LIO_WRITE;
    struct aiocb *list[1] = {&a};
    sev_signal(&sig, SIG_NOTE, 1);
    CHECK(lio_listio(LIO_WAIT, list, 1, &sig) == 0, "lio_listio(LIO_WAIT, valid sig): %s",
          strerror(errno));
    aio_return(&a);
    msleep(100);
    CHECK(g_plain == 0, "LIO_WAIT delivered the sig argument's signal");
    memset(&sig, 0x5a, sizeof sig);
    sig.sigev_notify = 0x5a5a; /* not a valid notification type: must be ignored */
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 1, &sig);
    CHECK(r == 0, "lio_listio(LIO_WAIT) with a junk sig returned %d: %s", r, strerror(errno));
    CHECK(aio_error(&a) == 0 && aio_return(&a) == 1, "entry failed");
    why("LIO_WAIT ignores sig: no list signal sent; a junk sigevent is not rejected");
    return PASS;
}

static int t_lio_nowait_signal(void)
{
    int p[2];
    char buf[8];
    int fd = mkfile("f", O_RDWR, NULL, 0);
    if (pipe(p)) return FAIL;
    static struct aiocb a, b;
    struct sigevent sig;
    set_handler(SIG_NOTE, on_sig, 0);
    init_cb(&a, fd, "abcd", 4, 0);
    a.aio_lio_opcode = LIO_WRITE;
    init_cb(&b, p[0], buf, sizeof buf, 0);
    b.aio_lio_opcode = LIO_READ;
    g_watch[0] = &a;
    g_watch[1] = &b;
    struct aiocb *list[2] = {&a, &b};
    sev_signal(&sig, SIG_NOTE, 1000);
    double t0 = now();
    int r = lio_listio(LIO_NOWAIT, list, 2, &sig);
    CHECK(r == 0, "lio_listio(LIO_NOWAIT) returned %d: %s", r, strerror(errno));
    CHECK(now() - t0 < 1.0, "LIO_NOWAIT did not return at once");
    CHECK(wait_done(&a, 5) == 0, "write entry failed");
    msleep(100);
    CHECK(g_nsig == 0, "list notification sent while an entry was still in progress");
    CHECK(write(p[1], "go", 2) == 2, "write");
    CHECK(wait_nsig(1, 5) == 1, "no list notification within 5 s of the last completion");
    CHECK(g_code == SI_ASYNCIO, "si_code %d, want SI_ASYNCIO", (int)g_code);
    CHECK(g_value == (void *)1000, "si_value %p, want sigev_value", g_value);
    CHECK(g_inprog == 0, "an entry was EINPROGRESS inside the list notification handler");
    CHECK(aio_return(&a) == 4 && aio_error(&b) == 0 && aio_return(&b) == 2, "entry statuses");
    msleep(50);
    CHECK(g_nsig == 1, "%d list notifications", (int)g_nsig);
    why("LIO_NOWAIT: returned at once; one SIGEV_SIGNAL (SI_ASYNCIO, sigev_value) only after "
        "every entry completed");
    return PASS;
}

static int t_lio_nowait_thread(void)
{
    int p[2];
    char buf[8];
    int fd = mkfile("f", O_RDWR, NULL, 0);
    if (pipe(p)) return FAIL;
    static struct aiocb a, b;
    struct sigevent sig;
    g_main = pthread_self();
    init_cb(&a, fd, "abcd", 4, 0);
    a.aio_lio_opcode = LIO_WRITE;
    init_cb(&b, p[0], buf, sizeof buf, 0);
    b.aio_lio_opcode = LIO_READ;
    g_watch[0] = &a;
    g_watch[1] = &b;
    struct aiocb *list[2] = {&a, &b};
    sev_thread(&sig, 1000);
    CHECK(lio_listio(LIO_NOWAIT, list, 2, &sig) == 0, "lio_listio: %s", strerror(errno));
    CHECK(wait_done(&a, 5) == 0, "write entry failed");
    msleep(100);
    CHECK(wait_tcalls(0, 0) == 0, "list callback ran while an entry was in progress");
    CHECK(write(p[1], "go", 2) == 2, "write");
    CHECK(wait_tcalls(1, 5) == 1, "no list callback within 5 s");
    CHECK(g_tvalue == (void *)1000, "callback argument %p", g_tvalue);
    CHECK(g_tinprog == 0, "an entry was EINPROGRESS inside the list callback");
    CHECK(aio_return(&a) == 4 && aio_return(&b) == 2, "entry statuses");
    why("LIO_NOWAIT with SIGEV_THREAD: one callback with sigev_value after every entry completed");
    return PASS;
}

static int t_lio_entry_sigevent(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    static struct aiocb a, b;
    set_handler(SIG_NOTE, on_sig, 0);
    init_cb(&a, fd, "aa", 2, 0);
    a.aio_lio_opcode = LIO_WRITE;
    sev_signal(&a.aio_sigevent, SIG_NOTE, 1);
    init_cb(&b, fd, "bb", 2, 2);
    b.aio_lio_opcode = LIO_WRITE;
    sev_signal(&b.aio_sigevent, SIG_NOTE, 2);
    g_watch[0] = &a;
    g_watch[1] = &b;
    struct aiocb *list[2] = {&a, &b};
    /* LIO_NOWAIT: with LIO_WAIT the entries' own signals may legitimately interrupt the wait */
    CHECK(lio_listio(LIO_NOWAIT, list, 2, NULL) == 0, "lio_listio: %s", strerror(errno));
    CHECK(wait_done(&a, 5) == 0 && wait_done(&b, 5) == 0, "entries failed");
    CHECK(wait_nsig(2, 5) >= 2, "%d of 2 per-entry notifications", (int)g_nsig);
    msleep(50);
    CHECK(g_hits[0] == 1 && g_hits[1] == 1, "per-entry notifications %d %d, want 1 1",
          (int)g_hits[0], (int)g_hits[1]);
    CHECK(g_inprog == 0, "entry notified before its status was final");
    aio_return(&a);
    aio_return(&b);
    why("entries are submitted as if by aio_write: each entry's own SIGEV_SIGNAL was delivered "
        "once");
    return PASS;
}

static int t_lio_nop_null(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb w, nop;
    init_cb(&w, fd, "ok", 2, 0);
    w.aio_lio_opcode = LIO_WRITE;
    init_cb(&nop, -1, NULL, 0, -1); /* would fail if it were submitted */
    nop.aio_lio_opcode = LIO_NOP;
    struct aiocb *list[4] = {NULL, &nop, &w, NULL};
    int r = lio_listio(LIO_WAIT, list, 4, NULL);
    CHECK(r == 0, "lio_listio with NULL and LIO_NOP entries returned %d: %s", r, strerror(errno));
    CHECK(aio_error(&w) == 0 && aio_return(&w) == 2, "the real entry failed");
    why("NULL entries and an LIO_NOP entry (fd -1, offset -1) are ignored; LIO_WAIT returns 0");
    return PASS;
}

static int t_lio_wait_eio(void)
{
    char data[32], r1[16], r2[16];
    fill(data, 32, 9);
    int fd = mkfile("f", O_RDWR, data, 32);
    const char *d = mkpath("dir");
    mkdir(d, 0700);
    int dfd = open(d, O_RDONLY);
    struct aiocb good, bad;
    init_cb(&good, fd, r1, 16, 0);
    good.aio_lio_opcode = LIO_READ;
    init_cb(&bad, dfd, r2, 16, 0); /* read() of a directory fails with EISDIR */
    bad.aio_lio_opcode = LIO_READ;
    struct aiocb *list[2] = {&bad, &good};
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 2, NULL);
    int err = errno;
    int eg = aio_error(&good), eb = aio_error(&bad);
    rmdir(d);
    CHECK(eg == 0 && aio_return(&good) == 16 && memcmp(r1, data, 16) == 0,
          "the good entry did not complete successfully (%s)", strerror(eg));
    CHECK(eb == EISDIR, "failing entry's error status %d (%s), want EISDIR", eb, strerror(eb));
    CHECK(aio_return(&bad) == -1, "failing entry's return status not -1");
    CHECK(r == -1 && err == EIO, "LIO_WAIT with a failed entry returned %d errno %d (%s), want "
                                 "-1/EIO", r, err, strerror(err));
    why("LIO_WAIT with one failing entry (EISDIR): -1/EIO, other entry completed normally");
    return PASS;
}

static int t_lio_nowait_bad_entry(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    int closed = mkfile("g", O_RDWR, NULL, 0);
    close(closed);
    struct aiocb good, bad;
    init_cb(&good, fd, "gg", 2, 0);
    good.aio_lio_opcode = LIO_WRITE;
    init_cb(&bad, closed, "bb", 2, 0);
    bad.aio_lio_opcode = LIO_WRITE;
    struct aiocb *list[2] = {&bad, &good};
    errno = 0;
    int r = lio_listio(LIO_NOWAIT, list, 2, NULL);
    int err = errno;
    CHECK(r == 0 || (r == -1 && err == EIO), "LIO_NOWAIT with an EBADF entry returned %d errno %s, "
                                             "want 0 or -1/EIO", r, strerror(err));
    int eg = wait_done(&good, 5), eb = wait_done(&bad, 5);
    CHECK(eg == 0 && aio_return(&good) == 2, "good entry: %s", strerror(eg));
    CHECK(eb == EBADF && aio_return(&bad) == -1, "bad entry: status %d (%s), want EBADF/-1", eb,
          strerror(eb));
    why("LIO_NOWAIT with an entry on a closed fd: %s; that entry EBADF/-1, the other completed",
        r == 0 ? "0 (error reported through aio_error)" : "-1/EIO");
    return PASS;
}

static int t_lio_einval_mode(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb w;
    init_cb(&w, fd, "nope", 4, 0);
    w.aio_lio_opcode = LIO_WRITE;
    struct aiocb *list[1] = {&w};
    errno = 0;
    int r = lio_listio(0x5a5a, list, 1, NULL);
    CHECK(r == -1 && errno == EINVAL, "lio_listio(mode 0x5a5a) returned %d errno %s, want -1/EINVAL",
          r, strerror(errno));
    msleep(100);
    struct stat st;
    fstat(fd, &st);
    CHECK(st.st_size == 0, "lio_listio failed with EINVAL but the write entry was performed");
    why("invalid mode: -1/EINVAL and no entry initiated (file still empty)");
    return PASS;
}

static int t_lio_einval_nent(void)
{
    long max = sysconf(_SC_AIO_LISTIO_MAX);
#ifdef AIO_LISTIO_MAX
    if (max < 0) max = AIO_LISTIO_MAX;
#endif
    if (max < 0) {
        why("{AIO_LISTIO_MAX} is indeterminate (sysconf -1, no <limits.h> value): no nent is "
            "greater than it");
        return PASS;
    }
    if (max > 1000000) {
        why("{AIO_LISTIO_MAX} is %ld: too large to build a list past it", max);
        return PASS;
    }
    int fd = mkfile("f", O_RDWR, NULL, 0);
    size_t n = (size_t)max + 1;
    struct aiocb **list = calloc(n, sizeof *list);
    struct aiocb w;
    init_cb(&w, fd, "x", 1, 0);
    w.aio_lio_opcode = LIO_WRITE;
    list[0] = &w;
    errno = 0;
    int r = lio_listio(LIO_NOWAIT, list, (int)n, NULL);
    CHECK(r == -1 && errno == EINVAL, "nent = AIO_LISTIO_MAX+1 (%zu): returned %d errno %s", n, r,
          strerror(errno));
    why("nent = {AIO_LISTIO_MAX}+1 = %zu: -1/EINVAL", n);
    return PASS;
}

static int t_lio_eintr(void)
{
    int p[2];
    char buf[8];
    pthread_t t;
    if (pipe(p)) return FAIL;
    struct aiocb b;
    init_cb(&b, p[0], buf, sizeof buf, 0);
    b.aio_lio_opcode = LIO_READ;
    struct aiocb *list[1] = {&b};
    set_handler(SIGUSR1, on_plain, 0);
    struct kicker k = {pthread_self(), SIGUSR1, 0, 1000, -1, 0};
    spawn(&t, kick, &k);
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 1, NULL);
    int err = errno;
    k.stop = 1;
    pthread_join(t, NULL);
    if (r == 0) { /* cannot happen: the read cannot complete before the write below */
        why("LIO_WAIT returned 0 while its read was blocked on an empty pipe");
        return FAIL;
    }
    CHECK(r == -1 && err == EINTR, "interrupted LIO_WAIT returned %d errno %d (%s), want -1/EINTR",
          r, err, strerror(err));
    CHECK(aio_error(&b) == EINPROGRESS, "the outstanding request was cancelled or disturbed (%d)",
          aio_error(&b));
    CHECK(write(p[1], "x", 1) == 1, "write");
    CHECK(wait_done(&b, 5) == 0 && aio_return(&b) == 1, "request did not complete afterwards");
    why("signal handler interrupted LIO_WAIT: -1/EINTR; the request was not cancelled and "
        "completed later");
    return PASS;
}

static int t_lio_bad_opcode(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb good, bad;
    init_cb(&good, fd, "gg", 2, 0);
    good.aio_lio_opcode = LIO_WRITE;
    init_cb(&bad, fd, "bb", 2, 2);
    bad.aio_lio_opcode = 0x5a5a;
    struct aiocb *list[2] = {&bad, &good};
    errno = 0;
    int r = lio_listio(LIO_WAIT, list, 2, NULL);
    int err = errno;
    int eb = aio_error(&bad);
    ssize_t rb = aio_return(&bad);
    CHECK(aio_error(&good) == 0 && aio_return(&good) == 2, "good entry failed");
    if (r == -1 && err == EIO && eb == EINVAL && rb == -1) {
        why("entry with aio_lio_opcode 0x5a5a: error status EINVAL, LIO_WAIT -1/EIO");
        return PASS;
    }
    why("entry with aio_lio_opcode 0x5a5a: lio_listio %d/%s, entry status %d/%zd (want -1/EIO and "
        "EINVAL/-1)", r, r ? strerror(err) : "-", eb, rb);
    return UNSUP;
}

static int t_lio_eagain(void)
{
    long max = sysconf(_SC_AIO_MAX);
    why("cannot be provoked portably: {AIO_MAX} is %s (sysconf %ld)",
        max < 0 ? "indeterminate" : "large", max);
    return UNSUP;
}

/* ------------------------------------------------------------------------------------------ */
/* cancellation (XSH 2.9.5.2: aio_suspend() is a cancellation point)                           */

static volatile sig_atomic_t g_cleaned, g_phase;
static void on_cleanup(void *a)
{
    (void)a;
    g_cleaned = 1;
}

struct cjob {
    int mode; /* 0 aio_suspend; 1 lio_listio(LIO_WAIT); 2 pending cancel, then aio_suspend */
    struct aiocb *cb;
    int ret;
};

static void *cancel_body(void *arg)
{
    struct cjob *j = arg;
    int old;
    pthread_cleanup_push(on_cleanup, NULL);
    if (j->mode == 2) {
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
        g_phase = 1;
        while (g_phase != 2) sched_yield(); /* cancelled meanwhile */
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    }
    const struct aiocb *l[1] = {j->cb};
    if (j->mode == 1) {
        j->ret = lio_listio(LIO_WAIT, &j->cb, 1, NULL);
        g_phase = 5; /* returned from lio_listio */
        pthread_testcancel();
    } else {
        j->ret = aio_suspend(l, 1, NULL);
        g_phase = 5; /* returned: wrong when a cancel was pending or arrived */
    }
    pthread_cleanup_pop(0);
    return NULL;
}

/* A read on an empty pipe, which blocks until `wfd` is written. */
static void pipe_read_cb(struct aiocb *cb, int p[2], char *byte)
{
    if (pipe(p) != 0) exit(FAIL);
    init_cb(cb, p[0], byte, 1, 0);
    cb->aio_lio_opcode = LIO_READ;
}

static int t_suspend_cancellation_point(void)
{
    int p[2];
    char b;
    struct aiocb cb;
    pipe_read_cb(&cb, p, &b);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    struct cjob j = {0, &cb, 0};
    pthread_t t;
    CHECK(spawn(&t, cancel_body, &j) == 0, "pthread_create");
    msleep(200); /* asleep in aio_suspend by now, or about to be: either way it must end */
    pthread_cancel(t);
    void *r = NULL;
    pthread_join(t, &r); /* a hang is a failure (the runner's timeout) */
    CHECK(r == PTHREAD_CANCELED && g_phase != 5, "aio_suspend returned %d instead of acting on the cancel", j.ret);
    CHECK(g_cleaned, "the cancelled thread's cleanup handler did not run");
    CHECK(aio_error(&cb) == EINPROGRESS, "the request did not go on after the waiter was cancelled");
    if (write(p[1], "x", 1) != 1) return FAIL;
    CHECK(wait_done(&cb, 5) == 0 && aio_return(&cb) == 1, "the request did not complete after the cancel");
    why("a thread asleep in aio_suspend was cancelled (cleanup handler ran); its request completed later");
    return PASS;
}

static int t_suspend_cancel_pending(void)
{
    int p[2];
    char b;
    struct aiocb cb;
    pipe_read_cb(&cb, p, &b);
    CHECK(aio_read(&cb) == 0, "aio_read: %s", strerror(errno));
    struct cjob j = {2, &cb, 0};
    pthread_t t;
    CHECK(spawn(&t, cancel_body, &j) == 0, "pthread_create");
    while (g_phase != 1) sched_yield();
    pthread_cancel(t);
    g_phase = 2;
    void *r = NULL;
    pthread_join(t, &r);
    CHECK(r == PTHREAD_CANCELED && g_phase != 5, "aio_suspend returned %d with a cancel pending", j.ret);
    CHECK(g_cleaned, "cleanup handler did not run");
    if (write(p[1], "x", 1) != 1) return FAIL;
    CHECK(wait_done(&cb, 5) == 0, "the request did not complete");
    why("a cancel pending when aio_suspend would block is acted on");
    return PASS;
}

static int t_g_lio_wait_not_cancellation_point(void)
{
    int p[2];
    char b;
    struct aiocb cb;
    pipe_read_cb(&cb, p, &b);
    struct cjob j = {1, &cb, -7};
    pthread_t t;
    CHECK(spawn(&t, cancel_body, &j) == 0, "pthread_create");
    msleep(200);
    pthread_cancel(t);
    msleep(200);
    CHECK(g_phase != 5 && !g_cleaned, "lio_listio(LIO_WAIT) returned before its entry completed");
    if (write(p[1], "x", 1) != 1) return FAIL;
    void *r = NULL;
    pthread_join(t, &r);
    CHECK(r == PTHREAD_CANCELED, "the pending cancel was never acted on");
    CHECK(g_phase == 5 && j.ret == 0, "lio_listio(LIO_WAIT) acted on the cancel (returned %d, phase %d) "
                                      "instead of waiting for its list", j.ret, (int)g_phase);
    CHECK(aio_error(&cb) == 0 && aio_return(&cb) == 1, "the entry did not complete");
    why("glibc: lio_listio(LIO_WAIT) is not a cancellation point; it returned 0, the cancel acted after");
    return PASS;
}

static int t_g_suspend_complete_cancel_pending(void)
{
    int fd = mkfile("f", O_RDWR, "abcd", 4);
    char buf[4];
    struct aiocb cb;
    init_cb(&cb, fd, buf, 4, 0);
    CHECK(aio_read(&cb) == 0, "aio_read");
    CHECK(wait_done(&cb, 5) == 0, "read did not complete");
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_cancel(pthread_self());
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    const struct aiocb *l[1] = {&cb};
    /* the cancel is pending and enabled: aio_suspend must not block; glibc returns 0 */
    int r = aio_suspend(l, 1, NULL);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    CHECK(r == 0, "aio_suspend on a complete request returned %d", r);
    why("glibc: aio_suspend with a complete request returns 0 at once; a pending cancel stays pending");
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* stream order (aio_write: "if aio_fildes is associated with a device that is incapable of   */
/* seeking, write operations append in the same order as the calls were made")                */

#define BIGW (1 << 20)
static int t_write_pipe_order(void)
{
    int p[2];
    if (pipe(p) != 0) return FAIL;
    static char a[BIGW], b[BIGW], got[2 * BIGW];
    memset(a, 'A', sizeof a);
    memset(b, 'B', sizeof b);
    struct aiocb wa, wb;
    init_cb(&wa, p[1], a, BIGW, 0);
    init_cb(&wb, p[1], b, BIGW, 0);
    CHECK(aio_write(&wa) == 0 && aio_write(&wb) == 0, "aio_write: %s", strerror(errno));
    CHECK(read_full(p[0], got, sizeof got) == 0, "reading the pipe");
    CHECK(wait_done(&wa, 10) == 0 && wait_done(&wb, 10) == 0, "writes did not complete");
    CHECK(aio_return(&wa) == BIGW && aio_return(&wb) == BIGW, "short writes");
    int switches = 0;
    for (size_t i = 1; i < sizeof got; i++) switches += got[i] != got[i - 1];
    CHECK(got[0] == 'A' && switches == 1, "the two writes arrived mixed (%d switches between them, first byte %c)",
          switches, got[0]);
    why("two 1 MiB writes to one pipe arrived whole, in the order of the calls");
    return PASS;
}

/* After aio_cancel answered `c` for the read r1 blocked on pipe p: AIO_NOTCANCELED: it is still
 * in progress and completes with the byte written next; AIO_CANCELED: its status is ECANCELED at
 * once and the byte written next stays in the pipe. 0 if so. */
static int check_blocked_read(int c, struct aiocb *r1, char *b1, int p[2])
{
    if (c == AIO_NOTCANCELED) {
        CHECK(aio_error(r1) == EINPROGRESS, "AIO_NOTCANCELED, yet the running read did not go on (%d)",
              aio_error(r1));
        if (write(p[1], "z", 1) != 1) return FAIL;
        CHECK(wait_done(r1, 5) == 0 && aio_return(r1) == 1 && *b1 == 'z', "the running read did not complete");
        return 0;
    }
    CHECK(aio_error(r1) == ECANCELED && aio_return(r1) == -1, "AIO_CANCELED, yet the read's status is %d",
          aio_error(r1));
    char z = 0;
    if (write(p[1], "z", 1) != 1) return FAIL;
    CHECK(read(p[0], &z, 1) == 1 && z == 'z', "the cancelled read consumed the byte written after it");
    return 0;
}

static int t_g_stream_cancel_queued(void)
{
    int p[2];
    char b1, b2;
    struct aiocb r1, r2;
    pipe_read_cb(&r1, p, &b1);
    init_cb(&r2, p[0], &b2, 1, 0);
    sev_thread(&r2.aio_sigevent, 2);
    g_watch[1] = &r2;
    CHECK(aio_read(&r1) == 0 && aio_read(&r2) == 0, "aio_read: %s", strerror(errno));
    msleep(100);
    int c = aio_cancel(p[0], NULL);
    CHECK(c == AIO_NOTCANCELED || c == AIO_CANCELED,
          "aio_cancel(pipe, NULL) with one read running and one queued = %d, want AIO_NOTCANCELED "
          "(or AIO_CANCELED where the running read is stopped too)", c);
    CHECK(aio_error(&r2) == ECANCELED && aio_return(&r2) == -1, "the queued read is not ECANCELED/-1 (%d)",
          aio_error(&r2));
    CHECK(wait_tcalls(1, 5) == 1, "the cancelled read was not notified");
    if (check_blocked_read(c, &r1, &b1, p)) return FAIL;
    why("shared with glibc: on a pipe the read behind a blocked read is queued: aio_cancel cancels it "
        "(ECANCELED, notified). The blocked one: glibc AIO_NOTCANCELED (it goes on); rtaio on io_uring "
        "stops it in the kernel (AIO_CANCELED, ECANCELED, the pipe's bytes untouched)");
    return PASS;
}

static int t_g_stream_cancel_one_queued(void)
{
    int p[2];
    char b1, b2;
    struct aiocb r1, r2;
    pipe_read_cb(&r1, p, &b1);
    init_cb(&r2, p[0], &b2, 1, 0);
    CHECK(aio_read(&r1) == 0 && aio_read(&r2) == 0, "aio_read: %s", strerror(errno));
    msleep(100);
    int c = aio_cancel(p[0], &r2);
    CHECK(c == AIO_CANCELED, "aio_cancel of the read queued behind a blocked one = %d, want AIO_CANCELED", c);
    CHECK(aio_error(&r2) == ECANCELED, "its status is %d, want ECANCELED", aio_error(&r2));
    c = aio_cancel(p[0], &r1);
    CHECK(c == AIO_NOTCANCELED || c == AIO_CANCELED, "aio_cancel of the blocked read = %d, want "
          "AIO_NOTCANCELED (or AIO_CANCELED where it is stopped)", c);
    if (check_blocked_read(c, &r1, &b1, p)) return FAIL;
    why("shared with glibc: the queued read is AIO_CANCELED. The blocked one: glibc AIO_NOTCANCELED (it "
        "completes when data comes); rtaio on io_uring AIO_CANCELED (ECANCELED, no byte consumed)");
    return PASS;
}

static int t_g_error_after_return(void)
{
    int fd = mkfile("f", O_RDWR, "abcd", 4);
    char buf[4];
    struct aiocb cb;
    init_cb(&cb, fd, buf, 4, 0);
    CHECK(aio_read(&cb) == 0, "aio_read");
    CHECK(wait_done(&cb, 5) == 0, "read");
    CHECK(aio_return(&cb) == 4, "aio_return");
    CHECK(aio_error(&cb) == 0, "aio_error after aio_return = %d, want 0 (the final status)", aio_error(&cb));
    int p[2];
    char b;
    struct aiocb r;
    pipe_read_cb(&r, p, &b);
    CHECK(aio_read(&r) == 0, "aio_read");
    msleep(50);
    aio_cancel(p[0], &r); /* the only read on the pipe: running; glibc and rtaio cannot cancel it */
    if (write(p[1], "q", 1) != 1) return FAIL;
    int e = wait_done(&r, 5);
    ssize_t v = aio_return(&r);
    CHECK(aio_error(&r) == e, "aio_error after aio_return = %d, want its status %d", aio_error(&r), e);
    (void)v;
    int ro = mkfile("g", O_RDONLY, NULL, 0);
    init_cb(&cb, ro, buf, 4, 0);
    CHECK(aio_write(&cb) == 0, "aio_write on an O_RDONLY fd was refused at the call (%s)", strerror(errno));
    CHECK(wait_done(&cb, 5) == EBADF && aio_return(&cb) == -1, "EBADF request");
    CHECK(aio_error(&cb) == EBADF, "aio_error after aio_return of a failed request = %d, want EBADF",
          aio_error(&cb));
    why("glibc: aio_error still gives the final status (0, EBADF) after aio_return");
    return PASS;
}

static int t_g_read_ebadf_async(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    close(fd);
    char buf[4];
    struct aiocb cb;
    init_cb(&cb, fd, buf, 4, 0);
    sev_signal(&cb.aio_sigevent, SIG_NOTE, 1);
    set_handler(SIG_NOTE, on_sig, SA_RESTART);
    g_watch[0] = &cb;
    errno = 0;
    int r = aio_read(&cb);
    CHECK(r == 0, "aio_read on a closed fd returned %d errno %s at the call; glibc accepts it", r,
          strerror(errno));
    CHECK(wait_done(&cb, 5) == EBADF && aio_return(&cb) == -1, "status: want EBADF, return -1");
    CHECK(wait_nsig(1, 5) == 1 && g_hits[0] == 1 && g_code == SI_ASYNCIO && g_inprog == 0,
          "its SIGEV_SIGNAL notification: %d signals, code %d", (int)g_nsig, (int)g_code);
    int wo = mkfile("g", O_WRONLY, NULL, 0);
    init_cb(&cb, wo, buf, 4, 0);
    CHECK(aio_read(&cb) == 0, "aio_read on an O_WRONLY fd refused at the call (%s)", strerror(errno));
    CHECK(wait_done(&cb, 5) == EBADF && aio_return(&cb) == -1, "O_WRONLY: want EBADF, -1");
    why("glibc: aio_read on a closed or write-only fd is accepted; EBADF through aio_error, notification sent");
    return PASS;
}

static int t_g_lio_nowait_ebadf(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    int closed = mkfile("g", O_RDWR, NULL, 0);
    close(closed);
    struct aiocb good, bad;
    init_cb(&good, fd, "gg", 2, 0);
    good.aio_lio_opcode = LIO_WRITE;
    init_cb(&bad, closed, "bb", 2, 0);
    bad.aio_lio_opcode = LIO_WRITE;
    g_watch[0] = &good;
    g_watch[1] = &bad;
    struct aiocb *list[2] = {&bad, &good};
    struct sigevent sev;
    sev_thread(&sev, 1000);
    errno = 0;
    int r = lio_listio(LIO_NOWAIT, list, 2, &sev);
    CHECK(r == 0, "LIO_NOWAIT with an entry on a closed fd returned %d errno %s; glibc returns 0", r,
          strerror(errno));
    CHECK(wait_tcalls(1, 5) == 1 && g_tinprog == 0, "the list notification (once, all entries final)");
    CHECK(aio_error(&good) == 0 && aio_return(&good) == 2, "good entry");
    CHECK(aio_error(&bad) == EBADF && aio_return(&bad) == -1, "bad entry: %d", aio_error(&bad));
    why("glibc: lio_listio(LIO_NOWAIT) with an EBADF entry returns 0; the entry fails with EBADF, the list notification comes");
    return PASS;
}

static int t_g_fsync_rdonly(void)
{
    int ro = mkfile("f", O_RDONLY, NULL, 0);
    struct aiocb cb;
    init_cb(&cb, ro, NULL, 0, 0);
    errno = 0;
    int r = aio_fsync(O_SYNC, &cb);
    CHECK(r == 0, "aio_fsync on an O_RDONLY fd returned %d errno %s; glibc accepts it", r, strerror(errno));
    CHECK(wait_done(&cb, 10) == 0 && aio_return(&cb) == 0, "its status: want 0");
    int dir = open(g_dir, O_RDONLY);
    CHECK(dir >= 0, "open the directory");
    init_cb(&cb, dir, NULL, 0, 0);
    CHECK(aio_fsync(O_DSYNC, &cb) == 0, "aio_fsync on a directory: %s", strerror(errno));
    CHECK(wait_done(&cb, 10) == 0 && aio_return(&cb) == 0, "directory sync: want 0");
    close(dir);
    why("glibc: aio_fsync on a descriptor open only for reading (a file, a directory) is accepted and syncs");
    return PASS;
}

static int t_g_offset_async(void)
{
    int fd = mkfile("f", O_RDWR, "abcd", 4);
    char buf[4];
    struct aiocb cb;
    init_cb(&cb, fd, buf, 4, -1);
    errno = 0;
    int r = aio_read(&cb);
    CHECK(r == 0, "aio_read with aio_offset -1 returned %d errno %s; glibc accepts it", r, strerror(errno));
    CHECK(wait_done(&cb, 5) == EINVAL && aio_return(&cb) == -1, "status: want EINVAL, -1");
    why("glibc: a negative aio_offset is reported through aio_error (EINVAL), not at the call");
    return PASS;
}

static int t_g_lio_nowait_bad_opcode(void)
{
    int fd = mkfile("f", O_RDWR, NULL, 0);
    struct aiocb good, bad;
    init_cb(&good, fd, "gg", 2, 0);
    good.aio_lio_opcode = LIO_WRITE;
    init_cb(&bad, fd, "bb", 2, 2);
    bad.aio_lio_opcode = 7;
    sev_thread(&bad.aio_sigevent, 1);
    struct aiocb *list[2] = {&bad, &good};
    errno = 0;
    int r = lio_listio(LIO_NOWAIT, list, 2, NULL);
    CHECK(r == 0, "LIO_NOWAIT with an entry of opcode 7 returned %d errno %s; glibc returns 0", r, strerror(errno));
    CHECK(wait_done(&bad, 5) == EINVAL && aio_return(&bad) == -1, "bad entry: want EINVAL/-1");
    CHECK(wait_tcalls(1, 5) == 1, "the bad entry's notification");
    CHECK(wait_done(&good, 5) == 0 && aio_return(&good) == 2, "good entry");
    why("glibc: an entry whose aio_lio_opcode names no operation is accepted and fails with EINVAL, notified");
    return PASS;
}

static int t_g_suspend_timeout_fields(void)
{
    int p[2];
    char byte;
    struct aiocb cb;
    pipe_read_cb(&cb, p, &byte);
    CHECK(aio_read(&cb) == 0, "aio_read");
    const struct aiocb *l[1] = {&cb};
    struct timespec neg = {-1, 0}, big = {0, 1000000000L};
    double t0 = now();
    errno = 0;
    int r = aio_suspend(l, 1, &neg);
    CHECK(r == -1 && errno == EAGAIN && now() - t0 < 0.5, "timeout {-1, 0}: %d errno %s after %.2f s, want "
          "-1/EAGAIN at once", r, strerror(errno), now() - t0);
    t0 = now();
    errno = 0;
    r = aio_suspend(l, 1, &big);
    CHECK(r == -1 && errno == EAGAIN && now() - t0 >= 0.9, "timeout {0, 1e9}: %d errno %s after %.2f s, want "
          "-1/EAGAIN after 1 s", r, strerror(errno), now() - t0);
    if (write(p[1], "x", 1) != 1) return FAIL;
    wait_done(&cb, 5);
    why("glibc: a negative timeout polls (EAGAIN at once); tv_nsec = 1e9 is one second");
    return PASS;
}

static int t_g_nbytes_async(void)
{
    int fd = mkfile("f", O_RDWR, "abcd", 4);
    char buf[4];
    struct aiocb cb;
    init_cb(&cb, fd, buf, (size_t)SSIZE_MAX + 1, 0);
    errno = 0;
    int r = aio_read(&cb);
    CHECK(r == 0, "aio_read with aio_nbytes SSIZE_MAX+1 returned %d errno %s; glibc accepts it", r, strerror(errno));
    int e = wait_done(&cb, 5);
    CHECK((e == EFAULT || e == EINVAL) && aio_return(&cb) == -1, "status %d (%s): want EFAULT or EINVAL, -1", e,
          strerror(e));
    why("glibc: aio_nbytes above SSIZE_MAX is accepted; the read itself fails (%s)", strerror(e));
    return PASS;
}

static int t_g_stream_priority_order(void)
{
    struct fullpipe fp;
    make_full_pipe(&fp); /* the first write blocks and keeps the pipe; the others wait */
    static char bytes[] = "abcde";
    static const int prio[] = {3, 1, 2, 0, 1};
    struct aiocb w[5];
    for (int i = 0; i < 5; i++) {
        init_cb(&w[i], fp.wfd, &bytes[i], 1, 0);
        w[i].aio_reqprio = prio[i];
        CHECK(aio_write(&w[i]) == 0, "aio_write %d: %s", i, strerror(errno));
        if (i == 0) msleep(100); /* the first one is running */
    }
    static char sink[1 << 20];
    CHECK(read_full(fp.rfd, sink, fp.filled) == 0, "draining the pipe");
    char got[6] = {0};
    CHECK(read_full(fp.rfd, got, 5) == 0, "reading the five bytes");
    for (int i = 0; i < 5; i++) CHECK(wait_done(&w[i], 5) == 0 && aio_return(&w[i]) == 1, "write %d", i);
    CHECK(strcmp(got, "adbec") == 0, "order \"%s\", want \"adbec\" (the first keeps the pipe; then lower "
          "aio_reqprio first, FIFO among equals)", got);
    why("glibc: writes queued on a pipe go by priority (lower aio_reqprio first), FIFO among equals");
    return PASS;
}

static int t_g_suspend_unknown_entry(void)
{
    struct aiocb never;
    memset(&never, 0, sizeof never);
    const struct aiocb *l[1] = {&never};
    struct timespec ts = {2, 0};
    double t0 = now();
    int r = aio_suspend(l, 1, &ts);
    CHECK(r == 0 && now() - t0 < 1.5, "aio_suspend on a zeroed, never-submitted aiocb returned %d after %.1f s", r,
          now() - t0);
    why("glibc: a never-submitted (zeroed) aiocb counts as complete: aio_suspend returns 0 at once");
    return PASS;
}

static int t_g_zero_sigevent(void)
{
    int fd = mkfile("f", O_RDWR, "abcd", 4);
    char buf[4];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb); /* sigev_notify == SIGEV_SIGNAL (0), sigev_signo 0 */
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 4;
    CHECK(aio_read(&cb) == 0, "a zero-filled aiocb was refused: %s", strerror(errno));
    CHECK(wait_done(&cb, 5) == 0 && aio_return(&cb) == 4, "read");
    why("glibc: a zero-filled sigevent (SIGEV_SIGNAL with signal 0) is accepted and sends nothing");
    return PASS;
}

/* ------------------------------------------------------------------------------------------ */
/* table                                                                                       */

struct test {
    const char *id;
    int mandatory;
    int (*fn)(void);
    const char *posix;
};

#define M 1
#define O 0
#define G 2 /* glibc's choice where POSIX leaves one: passes with glibc, rtaio follows it */
static const struct test tests[] = {
    {"aioh.members", M, t_aioh_members, "<aio.h>: aiocb shall include aio_fildes, aio_offset, aio_buf, aio_nbytes, aio_reqprio, aio_sigevent, aio_lio_opcode with the listed types"},
    {"aioh.types", M, t_aioh_types, "<aio.h>: shall define off_t, pthread_attr_t, size_t, ssize_t, struct timespec, struct sigevent/union sigval"},
    {"aioh.constants", M, t_aioh_constants, "<aio.h>: shall define AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED, LIO_NOP, LIO_NOWAIT, LIO_READ, LIO_WAIT, LIO_WRITE"},
    {"aioh.prototypes", M, t_aioh_prototypes, "<aio.h>: the listed functions shall be declared (as functions) with the given prototypes"},

    {"read.basic", M, t_read_basic, "aio_read: shall read aio_nbytes into aio_buf; operation at the absolute position aio_offset; shall return 0 if queued"},
    {"read.short", M, t_read_short, "aio_read/aio_return: the return status is the value read() would return (short count at EOF, 0 past EOF)"},
    {"read.lio_opcode_ignored", M, t_read_opcode_ignored, "aio_read: the aio_lio_opcode field shall be ignored"},
    {"read.pipe", M, t_read_pipe, "aio_read: shall return when the request is queued even when the data cannot be delivered immediately (pipe)"},
    {"read.socket", M, t_read_socket, "aio_read: operation on a socket, completed when data arrives"},
    {"read.ebadf", M, t_read_ebadf, "aio_read ERRORS: [EBADF] aio_fildes is not a valid file descriptor (sync -1 or async status)"},
    {"read.ebadf_wronly", M, t_read_ebadf_wronly, "aio_read ERRORS: [EBADF] aio_fildes not open for reading (sync -1 or async status)"},
    {"read.einval_offset", M, t_read_einval_offset, "aio_read ERRORS: [EINVAL] the file offset implied by aio_offset would be invalid (sync or async)"},
    {"read.einval_reqprio", M, t_read_einval_reqprio, "aio_read ERRORS: [EINVAL] aio_reqprio is not a valid value (> AIO_PRIO_DELTA_MAX)"},
    {"read.eisdir", M, t_read_eisdir, "aio_read: error status is one of the statuses read() sets (EISDIR), return status -1"},
    {"read.einval_nbytes", O, t_read_einval_nbytes, "aio_read ERRORS: [EINVAL] aio_nbytes is an invalid value (> SSIZE_MAX; invalidity is not defined by POSIX)"},
    {"read.eoverflow", O, t_read_eoverflow, "aio_read ERRORS: [EOVERFLOW] regular file, offset before EOF but at/beyond the offset maximum"},
    {"read.eagain", O, t_read_eagain, "aio_read ERRORS: [EAGAIN] not queued due to system resource limitations"},
    {"reqprio.valid", M, t_reqprio_valid, "aio_reqprio 0..{AIO_PRIO_DELTA_MAX} is a valid value: request queued and performed"},
    {"reqprio.negative", O, t_reqprio_negative, "aio_reqprio < 0 rejected with EINVAL (aio_reqprio can only lower the priority)"},

    {"write.basic", M, t_write_basic, "aio_write: without O_APPEND the write shall take place at the absolute position aio_offset; return 0 if queued"},
    {"write.lio_opcode_ignored", M, t_write_opcode_ignored, "aio_write: the aio_lio_opcode field shall be ignored"},
    {"write.append_order", M, t_write_append_order, "aio_write: with O_APPEND, writes append to the file in the same order as the calls were made"},
    {"write.pipe", M, t_write_pipe, "aio_write on a pipe"},
    {"write.socket", M, t_write_socket, "aio_write on a stream socket"},
    {"write.ebadf", M, t_write_ebadf, "aio_write ERRORS: [EBADF] aio_fildes is not a valid file descriptor (sync or async)"},
    {"write.ebadf_rdonly", M, t_write_ebadf_rdonly, "aio_write ERRORS: [EBADF] aio_fildes not open for writing (sync or async)"},
    {"write.einval_offset", M, t_write_einval_offset, "aio_write ERRORS: [EINVAL] aio_offset invalid; if detected at queuing, shall return without having queued (no write, no notification)"},
    {"write.einval_reqprio", M, t_write_einval_reqprio, "aio_write ERRORS: [EINVAL] aio_reqprio not valid; if detected at queuing nothing is queued"},
    {"write.efbig", M, t_write_efbig, "aio_write: error status is one of the statuses write() sets (EFBIG past RLIMIT_FSIZE), return status -1"},

    {"error.einprogress", M, t_error_einprogress, "aio_error: shall return EINPROGRESS while not completed, 0 after successful completion"},
    {"error.einval_unsubmitted", O, t_error_einval_unsubmitted, "aio_error ERRORS (may fail): [EINVAL] aiocbp does not refer to an operation whose return status is not yet retrieved (never submitted)"},
    {"error.einval_after_return", O, t_error_einval_after_return, "aio_error ERRORS (may fail): [EINVAL] status already retrieved by aio_return"},
    {"return.reuse", M, t_return_reuse, "aio_return: when the aiocb is used to submit another operation, aio_return may be successfully used for that operation"},
    {"return.einval_unsubmitted", O, t_return_einval_unsubmitted, "aio_return ERRORS (may fail): [EINVAL] aiocbp does not refer to an operation (never submitted)"},
    {"return.einval_twice", O, t_return_einval_twice, "aio_return: may be called exactly once; thereafter an error may be returned ([EINVAL])"},

    {"notify.signal", M, t_notify_signal, "SIGEV_SIGNAL: signal generated on completion with si_code SI_ASYNCIO and si_value = sigev_value; status final (aio_error != EINPROGRESS) when notified"},
    {"notify.thread", M, t_notify_thread, "SIGEV_THREAD: sigev_notify_function called as if the start of a new thread with sigev_value; status final"},
    {"notify.thread_attr", M, t_notify_thread_attr, "SIGEV_THREAD with sigev_notify_attributes: notification thread created with those attributes"},
    {"notify.none", M, t_notify_none, "SIGEV_NONE: no asynchronous notification is delivered"},
    {"notify.once", M, t_notify_once, "each completed request is notified once with its own sigev_value"},

    {"suspend.completed", M, t_suspend_completed, "aio_suspend: if any listed request is complete at the call, shall return (0) without suspending"},
    {"suspend.wakes", M, t_suspend_wakes, "aio_suspend: shall suspend until at least one listed request has completed, then return 0"},
    {"suspend.eagain", M, t_suspend_eagain, "aio_suspend ERRORS: [EAGAIN] no listed request completed in the time interval (not before it passes)"},
    {"suspend.poll", M, t_suspend_poll, "aio_suspend: a zero timeout with nothing complete fails with EAGAIN at once"},
    {"suspend.null_entries", M, t_suspend_null_entries, "aio_suspend: the list may contain null pointers, which are ignored"},
    {"suspend.eintr", M, t_suspend_eintr, "aio_suspend ERRORS: [EINTR] a signal interrupted aio_suspend (handler without SA_RESTART)"},
    {"suspend.sa_restart", M, t_suspend_sa_restart, "sigaction SA_RESTART: an interruptible function (aio_suspend, NULL timeout) shall restart and shall not fail with EINTR"},
    {"suspend.sa_restart_timeout", M, t_suspend_sa_restart_timeout, "sigaction SA_RESTART: the same for aio_suspend with a timeout (restarted with a timeout not exceeding the original)"},

    {"cancel.ebadf", M, t_cancel_ebadf, "aio_cancel ERRORS: [EBADF] fildes is not a valid file descriptor"},
    {"cancel.alldone", M, t_cancel_alldone, "aio_cancel: AIO_ALLDONE is returned if all of the operations have already completed"},
    {"cancel.alldone_null", M, t_cancel_alldone_null, "aio_cancel(fd, NULL): AIO_ALLDONE when every request on fd has completed"},
    {"cancel.running", M, t_cancel_running, "aio_cancel of a running read: AIO_NOTCANCELED, aiocb not modified, normal completion later; or AIO_CANCELED with ECANCELED, -1, notification"},
    {"cancel.queued_signal", M, t_cancel_queued_signal, "aio_cancel of a queued request: AIO_CANCELED with error status ECANCELED, return -1, normal notification (SIGEV_SIGNAL); or AIO_NOTCANCELED and normal completion"},
    {"cancel.queued_thread", M, t_cancel_queued_thread, "the same with SIGEV_THREAD notification"},
    {"cancel.null_fd", M, t_cancel_null_fd, "aio_cancel(fd, NULL): all cancelable requests on fd cancelled; AIO_NOTCANCELED if one could not be; each request ECANCELED or completed; notified once"},

    {"fsync.basic", M, t_fsync_basic, "aio_fsync(O_SYNC): return 0 when queued; status 0 and return 0 after success"},
    {"fsync.dsync", M, t_fsync_dsync, "aio_fsync(O_DSYNC): accepted when synchronized I/O is supported"},
    {"fsync.einval_op", M, t_fsync_einval_op, "aio_fsync ERRORS: [EINVAL] op other than O_DSYNC or O_SYNC"},
    {"fsync.ebadf", M, t_fsync_ebadf, "aio_fsync ERRORS: [EBADF] aio_fildes is not a valid file descriptor"},
    {"fsync.einval_pipe", M, t_fsync_einval_pipe, "aio_fsync ERRORS: [EINVAL] this implementation does not support synchronized I/O for this file (a pipe)"},
    {"fsync.covers_writes", M, t_fsync_covers_writes, "aio_fsync: all I/O queued at the time of the call forced to completion before the sync completes"},
    {"fsync.notify", M, t_fsync_notify, "aio_fsync: aio_sigevent determines the notification when all operations have achieved synchronized completion"},
    {"fsync.ignores_fields", M, t_fsync_ignores_fields, "aio_fsync: all members but aio_fildes and aio_sigevent are ignored (offset, nbytes, buf, lio_opcode)"},
    {"fsync.ignores_reqprio", M, t_fsync_ignores_reqprio, "aio_fsync: all members but aio_fildes and aio_sigevent are ignored (aio_reqprio)"},

    {"lio.wait", M, t_lio_wait, "lio_listio LIO_WAIT: shall wait until all I/O is complete; returns 0 when all completed successfully"},
    {"lio.wait_ignores_sig", M, t_lio_wait_ignores_sig, "lio_listio LIO_WAIT: the sig argument shall be ignored"},
    {"lio.nowait_signal", M, t_lio_nowait_signal, "lio_listio LIO_NOWAIT: shall return immediately; notification per sig when all I/O operations complete (SIGEV_SIGNAL)"},
    {"lio.nowait_thread", M, t_lio_nowait_thread, "lio_listio LIO_NOWAIT: list notification with SIGEV_THREAD after all complete"},
    {"lio.entry_sigevent", M, t_lio_entry_sigevent, "lio_listio: LIO_WRITE entries submitted as if by aio_write(), so each entry's aio_sigevent applies"},
    {"lio.nop_null", M, t_lio_nop_null, "lio_listio: NULL list entries shall be ignored; LIO_NOP shall cause the entry to be ignored"},
    {"lio.wait_eio", M, t_lio_wait_eio, "lio_listio ERRORS: [EIO] one or more individual operations failed; failure of one does not prevent the others"},
    {"lio.nowait_bad_entry", M, t_lio_nowait_bad_entry, "lio_listio LIO_NOWAIT: an entry failing (EBADF) gives 0 or -1/EIO; its error status is that of aio_write(); others complete"},
    {"lio.einval_mode", M, t_lio_einval_mode, "lio_listio ERRORS: [EINVAL] mode not a proper value; no operation shall have been initiated"},
    {"lio.einval_nent", M, t_lio_einval_nent, "lio_listio ERRORS: [EINVAL] nent greater than {AIO_LISTIO_MAX}"},
    {"lio.eintr", M, t_lio_eintr, "lio_listio ERRORS: [EINTR] signal during LIO_WAIT; outstanding requests are not cancelled"},
    {"lio.bad_opcode", O, t_lio_bad_opcode, "lio_listio: entry with an aio_lio_opcode other than LIO_READ/LIO_WRITE/LIO_NOP reported as failed (EINVAL) and the call -1/EIO (POSIX does not say)"},
    {"lio.eagain", O, t_lio_eagain, "lio_listio ERRORS: [EAGAIN] resources to queue the requests not available / {AIO_MAX} exceeded"},

    {"suspend.cancellation_point", M, t_suspend_cancellation_point, "XSH 2.9.5.2: aio_suspend() is a cancellation point: a thread suspended in it is cancelled, its cleanup handlers run"},
    {"suspend.cancel_pending", M, t_suspend_cancel_pending, "XSH 2.9.5.2: a cancellation request pending when aio_suspend() would suspend is acted upon"},
    {"write.pipe_order", M, t_write_pipe_order, "aio_write: on a device incapable of seeking, write operations append in the same order as the calls were made"},

    {"glibc.lio_wait_not_cancellation_point", G, t_g_lio_wait_not_cancellation_point, "lio_listio may be a cancellation point (XSH 2.9.5.2): glibc's LIO_WAIT is not one"},
    {"glibc.suspend_complete_cancel_pending", G, t_g_suspend_complete_cancel_pending, "aio_suspend with a complete entry and a pending cancel: glibc returns 0 (no suspension, the cancel stays pending)"},
    {"glibc.stream_cancel_queued", G, t_g_stream_cancel_queued, "which operations are cancelable is implementation-defined: glibc queues a pipe's second read behind the first; aio_cancel(fd, NULL) cancels it"},
    {"glibc.stream_cancel_one_queued", G, t_g_stream_cancel_one_queued, "the same with aio_cancel of the queued aiocb: AIO_CANCELED; the running one AIO_NOTCANCELED"},
    {"glibc.error_after_return", G, t_g_error_after_return, "aio_error after aio_return is undefined (may fail EINVAL): glibc still returns the final status"},
    {"glibc.read_ebadf_async", G, t_g_read_ebadf_async, "aio_read EBADF may be detected at the call or later: glibc accepts the request and reports EBADF through aio_error, with the notification"},
    {"glibc.lio_nowait_ebadf", G, t_g_lio_nowait_ebadf, "lio_listio LIO_NOWAIT with an entry on a bad fd: glibc returns 0, the entry fails with EBADF, the list notification comes"},
    {"glibc.fsync_rdonly", G, t_g_fsync_rdonly, "aio_fsync [EBADF] 'not open for writing': glibc accepts a descriptor open for reading (a directory cannot be opened for writing)"},
    {"glibc.offset_async", G, t_g_offset_async, "aio_read [EINVAL] invalid aio_offset may be detected at the call or later: glibc reports it through aio_error"},
    {"glibc.lio_nowait_bad_opcode", G, t_g_lio_nowait_bad_opcode, "lio_listio entry with an opcode naming no operation (POSIX silent): glibc accepts it, it fails with EINVAL"},
    {"glibc.suspend_timeout_fields", G, t_g_suspend_timeout_fields, "aio_suspend timeout fields out of range (POSIX lists no EINVAL): glibc reads an interval; negative polls"},
    {"glibc.nbytes_async", G, t_g_nbytes_async, "aio_read [EINVAL] invalid aio_nbytes may be detected later: glibc lets the read report it"},
    {"glibc.stream_priority_order", G, t_g_stream_priority_order, "prioritized I/O: writes queued on a pipe run by priority, FIFO among equals (POSIX lets differing priorities relax the call order)"},
    {"glibc.suspend_unknown_entry", G, t_g_suspend_unknown_entry, "aio_suspend on an aiocb never submitted (undefined): glibc treats it as complete"},
    {"glibc.zero_sigevent", G, t_g_zero_sigevent, "a zero-filled aiocb (SIGEV_SIGNAL, signal 0): glibc accepts it and sends nothing"},
};
#define NTESTS (sizeof tests / sizeof tests[0])

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < NTESTS; i++)
            printf("%s\t%s\t%s\n", tests[i].id,
                   tests[i].mandatory == G ? "GLIBC" : tests[i].mandatory ? "MANDATORY" : "OPTIONAL",
                   tests[i].posix);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: %s --list | ID\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < NTESTS; i++) {
        if (strcmp(argv[1], tests[i].id) != 0) continue;
        g_main = pthread_self();
        int r = tests[i].fn();
        if (r == UNSUP && tests[i].mandatory) r = FAIL; /* 77 is for OPTIONAL assertions only */
        printf("%s\n", g_reason);
        fflush(stdout);
        exit(r);
    }
    fprintf(stderr, "unknown assertion %s\n", argv[1]);
    return 2;
}
