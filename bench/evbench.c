/*
 * evbench — AIO completions per second delivered to an epoll event loop.
 *
 *   evbench signal  FILE DEPTH SECS [WARMUP]   pattern A, "signal+pipe" (any POSIX AIO)
 *   evbench eventfd FILE DEPTH SECS [WARMUP]   pattern B, SIGEV_EVENTFD + aio_reap (rtaio only;
 *                                              compiled in with -DEVBENCH_RTAIO)
 *
 * Workload: DEPTH requests in flight, each a 4 KiB aio_read at a random 4 KiB-aligned offset of
 * FILE (read once with pread before the run, so it is in the page cache), all on one fd. The
 * loop runs WARMUP seconds (default 0.25) unmeasured, then SECS measured seconds; after that it
 * stops resubmitting and drains what is in flight. The figure is the number of completions the
 * loop received during the measured window divided by the window's length.
 *
 * Pattern A: every aiocb has SIGEV_SIGNAL, signal SIGRTMIN+1, sival_ptr = the aiocb. The
 *   SA_SIGINFO handler writes that pointer (8 bytes, atomic: < PIPE_BUF) into a non-blocking
 *   pipe; the loop waits on the read end with epoll, reads the pointers in bulk, aio_return()s
 *   each aiocb and resubmits it.
 * Pattern B: every aiocb has SIGEV_EVENTFD on one eventfd that is in the epoll set; on EPOLLIN
 *   the loop reads the eventfd, then calls aio_reap() in batches of REAP_BATCH until it returns
 *   fewer, aio_return()s and resubmits each aiocb.
 *
 * Nothing lost, nothing twice (checked at the end of every run; any failure -> exit status 1):
 *   - submitted == completed (every submitted aiocb came back through the loop, and the loop
 *     ended only when none was in flight);
 *   - every aiocb the loop received was in flight (no duplicate or unknown pointer) and its
 *     status was final (aio_error != EINPROGRESS);
 *   - A: signals handled == pointers written == pointers read == completed, and the handler
 *     never found the pipe full (the pipe is sized so it cannot be, see pipe_size_for());
 *     B: the sum of the values read from the eventfd == aiocbs reaped == completed;
 *   - after the drain, 50 ms of silence: no further pointer / eventfd count / reapable aiocb;
 *   - every read returned 4096 bytes with the right data (files made by `aiobench prepare`:
 *     each block starts with its block number, uint64, and ends with its complement);
 *   - a request that completes without reaching the loop is reported as lost after 5 s.
 *
 * Output: one line "RESULT key=value ..." on stdout (rate= is the figure).
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#ifdef EVBENCH_RTAIO
#include <sys/eventfd.h>
#include "rtaio.h"
#endif

#define BLK 4096u
#define MAX_DEPTH 1024
#define REAP_BATCH 64
#define STALL_SECS 5.0

#if ATOMIC_LONG_LOCK_FREE != 2
#error "the signal handler needs lock-free atomic counters"
#endif

/* ------------------------------------------------------------------ small helpers */

static unsigned long n_errors;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    if (n_errors++ < 10) {
        va_list ap;
        va_start(ap, fmt);
        fputs("evbench: error: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void fatal(const char *what)
{
    fprintf(stderr, "evbench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64 */
static uint64_t seed;
static uint64_t next_random(void)
{
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* the shared object aio_read / aio_reap come from, as the dynamic linker bound them */
static const char *provider(void *fn)
{
    Dl_info di;
    if (fn && dladdr(fn, &di) && di.dli_fname)
        return di.dli_fname;
    return "unknown";
}

/* ------------------------------------------------------------------ requests */

struct req {
    struct aiocb cb; /* first member: the aiocb pointer is the request pointer */
    unsigned char *buf;
    uint64_t blk;
    int busy; /* submitted, not yet received by the loop */
};

static struct req *reqs;
static int depth, file_fd;
static uint64_t file_blocks;

static struct {
    unsigned long submitted, completed; /* whole run */
    unsigned long wakeups;              /* epoll_wait returns with events */
    unsigned long eintr;                /* epoll_wait interrupted by a signal */
    unsigned long batches;              /* A: pipe reads with data; B: aio_reap calls */
    unsigned long unknown, early;       /* pointers not in flight, statuses not final */
} st;

static void submit(struct req *r)
{
    r->blk = next_random() % file_blocks;
    r->cb.aio_fildes = file_fd;
    r->cb.aio_offset = (off_t)(r->blk * BLK);
    r->cb.aio_buf = r->buf;
    r->cb.aio_nbytes = BLK;
    r->cb.aio_reqprio = 0;
    r->cb.aio_lio_opcode = LIO_READ;
    /* a read that transfers nothing cannot pass the check */
    memset(r->buf, 0xEE, 8);
    memset(r->buf + BLK - 8, 0xEE, 8);
    r->busy = 1; /* before aio_read: the notification may arrive before aio_read returns */
    while (aio_read(&r->cb) != 0) {
        if (errno != EAGAIN) {
            r->busy = 0;
            fail("aio_read: %s", strerror(errno));
            exit(1);
        }
        usleep(50);
    }
    st.submitted++;
}

/* The loop received aiocb cb. Returns 1 if it was one of ours, in flight, with a final status. */
static int receive(struct aiocb *cb)
{
    struct req *r = (struct req *)cb;
    if (r < reqs || r >= reqs + depth ||
        (size_t)((char *)r - (char *)reqs) % sizeof *reqs != 0 || !r->busy) {
        st.unknown++;
        fail("received aiocb %p, which is not in flight", (void *)cb);
        return 0;
    }
    int e = aio_error(cb);
    if (e == EINPROGRESS) {
        st.early++;
        fail("received aiocb of block %" PRIu64 " while it is still in progress", r->blk);
        return 0;
    }
    ssize_t n = aio_return(cb);
    r->busy = 0;
    st.completed++;
    if (e != 0)
        fail("block %" PRIu64 ": aio_error %d (%s)", r->blk, e, strerror(e));
    else if (n != (ssize_t)BLK)
        fail("block %" PRIu64 ": aio_return %zd", r->blk, n);
    else {
        uint64_t head, tail;
        memcpy(&head, r->buf, 8);
        memcpy(&tail, r->buf + BLK - 8, 8);
        if (head != r->blk || tail != ~r->blk)
            fail("block %" PRIu64 ": wrong data (is the file made by aiobench prepare?)", r->blk);
    }
    return 1;
}

/* ------------------------------------------------------------------ timing */

static double t_start, t_warm, t_end; /* warm-up ends at t_warm, measurement at t_end */
static double secs_measured, secs_warmup;
static unsigned long cnt_warm, cnt_end;
static int phase; /* 0 warm-up, 1 measuring, 2 draining (no resubmission) */

/* Called after each wake-up, before the wake-up's completions are counted. */
static void tick(void)
{
    double t = mono();
    if (phase == 0 && t >= t_start + secs_warmup) {
        phase = 1;
        t_warm = t;
        cnt_warm = st.completed;
    }
    if (phase == 1 && t >= t_warm + secs_measured) {
        phase = 2;
        t_end = t;
        cnt_end = st.completed;
    }
}

static unsigned long in_flight(void)
{
    return st.submitted - st.completed;
}

/* No wake-up for STALL_SECS with requests in flight: report how many of them completed
 * without the loop hearing of it. */
static void stalled(void)
{
    int done = 0;
    for (int i = 0; i < depth; i++)
        if (reqs[i].busy && aio_error(&reqs[i].cb) != EINPROGRESS)
            done++;
    fail("no notification for %.0f s with %lu requests in flight, %d of them complete (lost)",
         STALL_SECS, in_flight(), done);
}

/* ------------------------------------------------------------------ pattern A: signal + pipe */

static int pipe_rd, pipe_wr, rt_sig;
static atomic_ulong sig_handled, sig_written, sig_pipe_full, sig_bad_code;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno;
    atomic_fetch_add_explicit(&sig_handled, 1, memory_order_relaxed);
    if (si->si_code != SI_ASYNCIO)
        atomic_fetch_add_explicit(&sig_bad_code, 1, memory_order_relaxed);
    void *p = si->si_value.sival_ptr;
    if (write(pipe_wr, &p, sizeof p) == (ssize_t)sizeof p)
        atomic_fetch_add_explicit(&sig_written, 1, memory_order_relaxed);
    else /* would need to block (pipe full) or failed: the completion would be lost */
        atomic_fetch_add_explicit(&sig_pipe_full, 1, memory_order_relaxed);
    errno = saved;
}

/* At most `depth` pointers are ever in the pipe (an aiocb is resubmitted only after its
 * pointer was read). Linux appends small writes to the last page of the pipe and takes a new
 * page ("slot") when the write does not fit, so up to one page of slack is needed on top of the
 * payload: with P >= payload + 4096 bytes a write can never find every slot taken. */
static int pipe_size_for(int d)
{
    long pg = sysconf(_SC_PAGESIZE);
    long need = (long)d * (long)sizeof(void *) + pg;
    long sz = pg;
    while (sz < need)
        sz *= 2; /* the kernel rounds up to a power of two pages anyway */
    return (int)sz;
}

static unsigned long pipe_read_total;

static void run_signal(int ep)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
        fatal("pipe2");
    pipe_rd = p[0];
    pipe_wr = p[1];
    int want = pipe_size_for(depth);
    if (fcntl(pipe_wr, F_SETPIPE_SZ, want) < 0)
        fatal("F_SETPIPE_SZ");
    int got = fcntl(pipe_wr, F_GETPIPE_SZ);
    if (got < want) {
        fprintf(stderr, "evbench: pipe holds %d bytes, %d needed\n", got, want);
        exit(2);
    }

    rt_sig = SIGRTMIN + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(rt_sig, &sa, NULL) != 0)
        fatal("sigaction");

    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pipe_rd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pipe_rd, &ev) != 0)
        fatal("epoll_ctl");

    for (int i = 0; i < depth; i++) {
        struct sigevent *se = &reqs[i].cb.aio_sigevent;
        se->sigev_notify = SIGEV_SIGNAL;
        se->sigev_signo = rt_sig;
        se->sigev_value.sival_ptr = &reqs[i].cb;
    }

    t_start = mono();
    for (int i = 0; i < depth; i++)
        submit(&reqs[i]);

    void *ptrs[MAX_DEPTH + 64];
    double last = mono();
    while (in_flight() > 0) {
        struct epoll_event evs[4];
        int n = epoll_wait(ep, evs, 4, 1000);
        if (n < 0) {
            if (errno != EINTR)
                fatal("epoll_wait");
            st.eintr++;
            continue;
        }
        if (n == 0) {
            if (mono() - last > STALL_SECS) {
                stalled();
                break;
            }
            continue;
        }
        st.wakeups++;
        tick();
        for (;;) {
            ssize_t r = read(pipe_rd, ptrs, sizeof ptrs);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN)
                    break;
                fatal("read(pipe)");
            }
            if (r == 0 || r % (ssize_t)sizeof(void *) != 0) {
                fprintf(stderr, "evbench: read %zd bytes from the pipe\n", r);
                exit(2);
            }
            st.batches++;
            size_t k = (size_t)r / sizeof(void *);
            pipe_read_total += k;
            for (size_t i = 0; i < k; i++) {
                struct req *q = (struct req *)ptrs[i];
                if (receive(ptrs[i]) && phase < 2)
                    submit(q);
            }
            if ((size_t)r < sizeof ptrs)
                break;
        }
        last = mono();
    }
}

static void check_signal(void)
{
    usleep(50000); /* late or duplicate signals would show up now */
    void *ptrs[64];
    ssize_t r;
    while ((r = read(pipe_rd, ptrs, sizeof ptrs)) > 0) {
        pipe_read_total += (unsigned long)r / sizeof(void *);
        fail("%zd stray bytes in the pipe after the drain", r);
    }
    unsigned long h = atomic_load(&sig_handled), w = atomic_load(&sig_written);
    unsigned long full = atomic_load(&sig_pipe_full), bad = atomic_load(&sig_bad_code);
    if (full)
        fail("the signal handler found the pipe full %lu times (completions lost)", full);
    if (bad)
        fail("%lu signals with si_code != SI_ASYNCIO", bad);
    if (h != st.completed || w != st.completed || pipe_read_total != st.completed)
        fail("signals handled %lu, pointers written %lu, read %lu, completions %lu", h, w,
             pipe_read_total, st.completed);
    printf("RESULT_CHECK pattern=signal signals=%lu written=%lu read=%lu pipe_full=%lu "
           "pipe_bytes=%d\n", h, w, pipe_read_total, full, fcntl(pipe_wr, F_GETPIPE_SZ));
}

/* ------------------------------------------------------------------ pattern B: eventfd */

#ifdef EVBENCH_RTAIO
static int efd;
static unsigned long efd_total, reaped_total;

/* reads the eventfd counter (0 if it is zero) */
static uint64_t read_efd(void)
{
    uint64_t v;
    for (;;) {
        ssize_t r = read(efd, &v, sizeof v);
        if (r == (ssize_t)sizeof v)
            return v;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            return 0;
        fatal("read(eventfd)");
    }
}

static void run_eventfd(int ep)
{
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0)
        fatal("eventfd");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0)
        fatal("epoll_ctl");
    for (int i = 0; i < depth; i++) {
        struct sigevent *se = &reqs[i].cb.aio_sigevent;
        se->sigev_notify = SIGEV_EVENTFD;
        se->sigev_signo = efd;
        se->sigev_value.sival_ptr = NULL;
    }

    t_start = mono();
    for (int i = 0; i < depth; i++)
        submit(&reqs[i]);

    struct aiocb *out[REAP_BATCH];
    double last = mono();
    while (in_flight() > 0) {
        struct epoll_event evs[4];
        int n = epoll_wait(ep, evs, 4, 1000);
        if (n < 0) {
            if (errno != EINTR)
                fatal("epoll_wait");
            st.eintr++;
            continue;
        }
        if (n == 0) {
            if (mono() - last > STALL_SECS) {
                stalled();
                break;
            }
            continue;
        }
        st.wakeups++;
        tick();
        efd_total += read_efd();
        int k;
        do {
            k = aio_reap(efd, out, REAP_BATCH);
            if (k < 0)
                fatal("aio_reap");
            st.batches++;
            reaped_total += (unsigned long)k;
            for (int i = 0; i < k; i++)
                if (receive(out[i]) && phase < 2)
                    submit((struct req *)out[i]);
        } while (k == REAP_BATCH);
        last = mono();
    }
}

static void check_eventfd(int ep)
{
    /* Every completion queues its aiocb before it adds to the counter: the last additions may
     * still be on their way when the last aiocb has been reaped. Wait for them (1 s at most). */
    double until = mono() + 1.0;
    while (efd_total < st.completed && mono() < until) {
        struct epoll_event e;
        if (epoll_wait(ep, &e, 1, 100) > 0)
            efd_total += read_efd();
    }
    usleep(50000); /* late or duplicate completions would show up now */
    efd_total += read_efd();
    struct aiocb *out[REAP_BATCH];
    int k = aio_reap(efd, out, REAP_BATCH);
    if (k != 0)
        fail("aio_reap returned %d after the drain", k);
    if (efd_total != st.completed || reaped_total != st.completed)
        fail("eventfd counted %lu, aio_reap returned %lu, completions %lu", efd_total,
             reaped_total, st.completed);
    printf("RESULT_CHECK pattern=eventfd efd_counted=%lu reaped=%lu reap_batch=%d\n", efd_total,
           reaped_total, REAP_BATCH);
}
#endif

/* ------------------------------------------------------------------ setup, main */

/* read the whole file once (page cache), return the resident fraction afterwards */
static double preload(int fd, off_t size)
{
    static unsigned char buf[1 << 20];
    for (off_t off = 0; off < size;) {
        ssize_t r = pread(fd, buf, sizeof buf, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            fatal("pread");
        off += r;
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        fatal("mmap");
    size_t pages = ((size_t)size + 4095) / 4096;
    unsigned char *vec = malloc(pages);
    if (!vec || mincore(m, (size_t)size, vec) != 0)
        fatal("mincore");
    size_t in = 0;
    for (size_t i = 0; i < pages; i++)
        in += vec[i] & 1;
    free(vec);
    munmap(m, (size_t)size);
    return (double)in / (double)pages;
}

static void usage(void)
{
    fprintf(stderr, "usage: evbench signal FILE DEPTH SECS [WARMUP]\n"
#ifdef EVBENCH_RTAIO
                    "       evbench eventfd FILE DEPTH SECS [WARMUP]\n"
#else
                    "       (pattern eventfd: build with -DEVBENCH_RTAIO, link with -lrtaio)\n"
#endif
    );
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc != 5 && argc != 6)
        usage();
    const char *pattern = argv[1], *path = argv[2];
    int is_signal = !strcmp(pattern, "signal");
#ifdef EVBENCH_RTAIO
    if (!is_signal && strcmp(pattern, "eventfd"))
        usage();
#else
    if (!is_signal)
        usage();
#endif
    depth = atoi(argv[3]);
    secs_measured = atof(argv[4]);
    secs_warmup = argc == 6 ? atof(argv[5]) : 0.25;
    if (depth < 1 || depth > MAX_DEPTH || !(secs_measured > 0) || !(secs_warmup >= 0))
        usage();
    setvbuf(stdout, NULL, _IOLBF, 0);

    file_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (file_fd < 0)
        fatal(path);
    struct stat sb;
    if (fstat(file_fd, &sb) != 0)
        fatal("fstat");
    file_blocks = (uint64_t)sb.st_size / BLK;
    if (file_blocks == 0) {
        fprintf(stderr, "evbench: %s is smaller than one block\n", path);
        return 2;
    }
    double resident = preload(file_fd, sb.st_size);
    seed = (uint64_t)getpid() << 32 ^ (uint64_t)(mono() * 1e9);

    reqs = calloc((size_t)depth, sizeof *reqs);
    if (!reqs)
        fatal("calloc");
    for (int i = 0; i < depth; i++)
        if (posix_memalign((void **)&reqs[i].buf, BLK, BLK) != 0)
            fatal("posix_memalign");

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fatal("epoll_create1");

    if (is_signal)
        run_signal(ep);
#ifdef EVBENCH_RTAIO
    else
        run_eventfd(ep);
#endif
    double t_done = mono();
    if (phase < 2) {
        fail("the run ended before its measured window did");
        t_end = t_done;
        cnt_end = st.completed;
        if (phase == 0) {
            t_warm = t_start;
            cnt_warm = 0;
        }
    }
    if (in_flight() != 0)
        fail("submitted %lu, completed %lu: %lu never reached the loop", st.submitted,
             st.completed, in_flight());
    if (is_signal)
        check_signal();
#ifdef EVBENCH_RTAIO
    else
        check_eventfd(ep);
#endif

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_u = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    double cpu_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    unsigned long measured = cnt_end - cnt_warm;
    double window = t_end - t_warm;
    const char *lib = provider((void *)&aio_read);
    const char *base = strrchr(lib, '/');
    printf("RESULT impl=%s lib=%s pattern=%s depth=%d secs=%.3f completions=%lu rate=%.0f "
           "submitted=%lu completed=%lu lost=%lu unknown=%lu early=%lu wakeups=%lu eintr=%lu "
           "batches=%lu per_wakeup=%.2f resident=%.4f cpu_user=%.2f cpu_sys=%.2f "
           "cpu_us_per_op=%.2f errors=%lu\n",
           base ? base + 1 : lib, lib, pattern, depth, window, measured,
           window > 0 ? (double)measured / window : 0.0, st.submitted, st.completed,
           in_flight(), st.unknown, st.early, st.wakeups, st.eintr, st.batches,
           st.wakeups ? (double)st.completed / (double)st.wakeups : 0.0, resident, cpu_u, cpu_s,
           st.completed ? (cpu_u + cpu_s) / (double)st.completed * 1e6 : 0.0, n_errors);
    return n_errors ? 1 : 0;
}
