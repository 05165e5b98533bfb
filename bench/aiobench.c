/*
 * aiobench — POSIX AIO micro-benchmark, run unchanged under glibc and under rtaio
 * (LD_PRELOAD=.../librtaio.so).  Plain C, <aio.h>, link with -lrt.
 *
 *   aiobench prepare FILE MIB        create FILE (MIB MiB) once; reused if already valid
 *   aiobench warm    FILE            read FILE into the page cache, print resident fraction
 *   aiobench evict   FILE            fsync + POSIX_FADV_DONTNEED, print resident fraction
 *   aiobench hold    FILE SECS       mmap + mlock FILE for SECS seconds (keeps it cached)
 *   aiobench read    FILE DEPTH SECS cached|uncached
 *        keep DEPTH 4 KiB random aligned reads in flight on ONE fd; wait with aio_suspend on
 *        the whole list, reap every completed aiocb (aio_error != EINPROGRESS -> aio_return)
 *        and resubmit it.  "uncached": evict the file before the run, POSIX_FADV_RANDOM, and
 *        read each block at most once (random permutation) so no read hits the cache.
 *   aiobench odirect FILE DEPTH SECS
 *        the same 4 KiB random reads at DEPTH on ONE fd, but the file is opened with O_DIRECT
 *        (buffers from posix_memalign, 4 KiB aligned offsets): every read goes to the device,
 *        whatever the page cache holds.  Offsets are uniformly random over the file.
 *   aiobench sigev   FILE DEPTH SECS
 *        same reads, completion by SIGEV_THREAD: the callback increments an atomic counter,
 *        marks its slot and posts a semaphore; the main thread reaps marked slots and
 *        resubmits them.
 *
 * Every block of a prepared file starts with its block number (uint64) and ends with
 * ~block number, so each completed read is checked for length 4096 AND for the right data.
 * Output: one line "RESULT key=value ..." on stdout; exit status 0 only when no error was seen.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BS 4096u
#define MAXDEPTH 1024
#define MAXERR_PRINT 10

static unsigned long nerrors;

static void io_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void io_error(const char *fmt, ...)
{
    if (++nerrors <= MAXERR_PRINT) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "aiobench: I/O error: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    } else if (nerrors == MAXERR_PRINT + 1) {
        fprintf(stderr, "aiobench: further I/O errors not printed\n");
    }
}

static void die(const char *what)
{
    fprintf(stderr, "aiobench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64* — cheap, good enough for offsets */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Which object provides aio_read at run time (glibc's libc.so.6 or librtaio.so). */
static const char *aio_impl(void)
{
    Dl_info info;
    void *p = (void *)&aio_read;
    if (dladdr(p, &info) && info.dli_fname) {
        const char *s = strrchr(info.dli_fname, '/');
        return s ? s + 1 : info.dli_fname;
    }
    return "unknown";
}

/* ---------- page-cache residency ---------- */

static double resident_fraction(int fd, off_t size)
{
    if (size <= 0)
        return 0.0;
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        die("mmap");
    long pg = sysconf(_SC_PAGESIZE);
    size_t npages = ((size_t)size + (size_t)pg - 1) / (size_t)pg;
    unsigned char *vec = malloc(npages);
    if (!vec)
        die("malloc");
    if (mincore(m, (size_t)size, vec) != 0)
        die("mincore");
    size_t res = 0;
    for (size_t i = 0; i < npages; i++)
        res += vec[i] & 1;
    free(vec);
    munmap(m, (size_t)size);
    return (double)res / (double)npages;
}

static off_t file_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        die("fstat");
    return st.st_size;
}

static double evict(int fd)
{
    if (fsync(fd) != 0 && errno != EBADF && errno != EINVAL)
        die("fsync");
    int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (e != 0) {
        errno = e;
        die("posix_fadvise(DONTNEED)");
    }
    return resident_fraction(fd, file_size(fd));
}

/* ---------- file preparation ---------- */

static void fill_block(unsigned char *b, uint64_t blk)
{
    uint64_t inv = ~blk;
    for (unsigned i = 0; i < BS; i += 8) {
        uint64_t v = blk * 0x9E3779B97F4A7C15ull + i;
        memcpy(b + i, &v, 8);
    }
    memcpy(b, &blk, 8);
    memcpy(b + BS - 8, &inv, 8);
}

static int check_block(const unsigned char *b, uint64_t blk)
{
    uint64_t h, t;
    memcpy(&h, b, 8);
    memcpy(&t, b + BS - 8, 8);
    return h == blk && t == ~blk;
}

static int cmd_prepare(const char *path, long mib)
{
    off_t want = (off_t)mib << 20;
    unsigned char buf[BS];
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        if (file_size(fd) == want) {
            int ok = 1;
            uint64_t nblk = (uint64_t)want / BS;
            uint64_t probe[] = {0, 1, nblk / 3, nblk / 2, nblk - 1};
            for (unsigned i = 0; i < sizeof probe / sizeof probe[0]; i++)
                if (pread(fd, buf, BS, (off_t)(probe[i] * BS)) != (ssize_t)BS ||
                    !check_block(buf, probe[i]))
                    ok = 0;
            if (ok) {
                printf("RESULT prepared=reused file=%s mib=%ld\n", path, mib);
                close(fd);
                return 0;
            }
        }
        close(fd);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open for writing");
    const size_t chunk = 1u << 20;
    unsigned char *big = malloc(chunk);
    if (!big)
        die("malloc");
    uint64_t blk = 0;
    for (off_t done = 0; done < want; done += (off_t)chunk) {
        for (size_t o = 0; o < chunk; o += BS)
            fill_block(big + o, blk++);
        size_t off = 0;
        while (off < chunk) {
            ssize_t w = write(fd, big + off, chunk - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                die("write");
            }
            off += (size_t)w;
        }
    }
    if (fsync(fd) != 0)
        die("fsync");
    close(fd);
    free(big);
    if (rename(tmp, path) != 0)
        die("rename");
    printf("RESULT prepared=created file=%s mib=%ld\n", path, mib);
    return 0;
}

static int cmd_warm(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    static unsigned char buf[1 << 20];
    off_t off = 0;
    ssize_t r;
    while ((r = pread(fd, buf, sizeof buf, off)) > 0)
        off += r;
    if (r < 0)
        die("read");
    printf("RESULT resident=%.4f\n", resident_fraction(fd, file_size(fd)));
    close(fd);
    return 0;
}

/* Keep FILE in the page cache for at most SECS seconds (or until killed): mmap + mlock.
 * Something on this VM reclaims clean page cache within seconds; without this, a few percent
 * of the "cached" reads go to the disk and dominate the figures. */
static int cmd_hold(const char *path, double secs)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    off_t sz = file_size(fd);
    void *m = mmap(NULL, (size_t)sz, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        die("mmap");
    int locked = mlock(m, (size_t)sz) == 0;
    if (!locked)
        fprintf(stderr, "aiobench: mlock: %s (touching the pages every 100 ms instead)\n",
                strerror(errno));
    printf("RESULT hold=%s resident=%.4f\n", locked ? "mlock" : "touch",
           resident_fraction(fd, sz));
    fflush(stdout);
    long pg = sysconf(_SC_PAGESIZE);
    volatile unsigned char sink = 0;
    for (double end = now_s() + secs; now_s() < end;) {
        if (!locked)
            for (off_t o = 0; o < sz; o += pg)
                sink += ((volatile unsigned char *)m)[o];
        usleep(100000);
    }
    (void)sink;
    return 0;
}

static int cmd_evict(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        die("open");
    printf("RESULT resident=%.4f\n", evict(fd));
    close(fd);
    return 0;
}

/* ---------- offset generation ---------- */

static uint64_t nblocks;
static uint32_t *perm; /* uncached: random permutation of all blocks, each read at most once */
static uint64_t perm_pos;
static unsigned long wraps;

static uint64_t next_block(void)
{
    if (!perm)
        return rnd() % nblocks;
    if (perm_pos == nblocks) {
        perm_pos = 0;
        wraps++;
    }
    return perm[perm_pos++];
}

static void make_perm(void)
{
    perm = malloc(nblocks * sizeof *perm);
    if (!perm)
        die("malloc");
    for (uint64_t i = 0; i < nblocks; i++)
        perm[i] = (uint32_t)i;
    for (uint64_t i = nblocks - 1; i > 0; i--) {
        uint64_t j = rnd() % (i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

/* ---------- the request slots ---------- */

struct slot {
    struct aiocb cb;
    uint64_t blk;
    _Atomic int done; /* sigev mode: set by the callback */
    unsigned char *buf;
    int inflight; /* submitted and not yet reaped */
};

static struct slot *slots;
static int fd_g;

static int submit(struct slot *s)
{
    s->blk = next_block();
    s->cb.aio_fildes = fd_g;
    s->cb.aio_offset = (off_t)(s->blk * BS);
    s->cb.aio_buf = s->buf;
    s->cb.aio_nbytes = BS;
    s->cb.aio_reqprio = 0;
    memset(s->buf, 0xA5, 8); /* poison the checked words: a read that copies nothing fails */
    memset(s->buf + BS - 8, 0xA5, 8);
    for (;;) {
        if (aio_read(&s->cb) == 0) {
            s->inflight = 1;
            return 0;
        }
        if (errno == EAGAIN) { /* resource shortage: report it, retry after a breath */
            io_error("aio_read: EAGAIN (retrying)");
            usleep(100);
            continue;
        }
        io_error("aio_read submission failed: %s", strerror(errno));
        return -1;
    }
}

/* Reap a slot whose aio_error is not EINPROGRESS.  Returns 1 on a good 4096-byte read. */
static int reap(struct slot *s, int err)
{
    ssize_t r = aio_return(&s->cb);
    s->inflight = 0;
    if (err != 0) {
        io_error("block %" PRIu64 ": aio_error=%d (%s), aio_return=%zd", s->blk, err,
                 strerror(err), r);
        return 0;
    }
    if (r != (ssize_t)BS) {
        io_error("block %" PRIu64 ": aio_return=%zd, expected %u", s->blk, r, BS);
        return 0;
    }
    if (!check_block(s->buf, s->blk)) {
        io_error("block %" PRIu64 ": wrong data", s->blk);
        return 0;
    }
    return 1;
}

static void alloc_slots(int depth)
{
    slots = calloc((size_t)depth, sizeof *slots);
    if (!slots)
        die("calloc");
    for (int i = 0; i < depth; i++) {
        if (posix_memalign((void **)&slots[i].buf, BS, BS) != 0)
            die("posix_memalign");
        memset(slots[i].buf, 0, BS);
    }
}

static int open_bench_file(const char *path, int uncached, double *res_before)
{
    /* O_DIRECT only in the odirect mode (uncached == 2) */
    int fd = open(path, O_RDONLY | (uncached == 2 ? O_DIRECT : 0));
    if (fd < 0)
        die(uncached == 2 ? "open(O_DIRECT)" : "open");
    off_t sz = file_size(fd);
    if (sz < (off_t)BS)
        die("file too small");
    nblocks = (uint64_t)sz / BS;
    rng_state ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(now_s() * 1e9);
    if (uncached == 2) {
        *res_before = 0; /* O_DIRECT: the page cache is not used */
    } else if (uncached) {
        *res_before = evict(fd);
        int e = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
        if (e != 0) {
            errno = e;
            die("posix_fadvise(RANDOM)");
        }
        make_perm();
    } else {
        *res_before = resident_fraction(fd, sz);
    }
    return fd;
}

static void print_result(const char *mode, int depth, unsigned long ops, double el,
                         double res_before, double res_after, double lat_us)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* all threads of the process, whole run incl. setup */
    double cpu_u = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    double cpu_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    printf("RESULT impl=%s mode=%s depth=%d ops=%lu secs=%.3f iops=%.0f avg_us=%.1f "
           "resident_before=%.4f resident_after=%.4f wraps=%lu cpu_user=%.2f cpu_sys=%.2f "
           "errors=%lu\n",
           aio_impl(), mode, depth, ops, el, (double)ops / el, lat_us, res_before, res_after,
           wraps, cpu_u, cpu_s, nerrors);
}

static int cmd_read(const char *path, int depth, double secs, int uncached)
{
    double res_before;
    fd_g = open_bench_file(path, uncached, &res_before);
    alloc_slots(depth);
    const struct aiocb **list = calloc((size_t)depth, sizeof *list);
    double *t_sub = calloc((size_t)depth, sizeof *t_sub);
    if (!list || !t_sub)
        die("calloc");

    unsigned long ops = 0;
    double t0 = now_s(), end = t0 + secs, lat_sum = 0;
    for (int i = 0; i < depth; i++) {
        slots[i].cb.aio_sigevent.sigev_notify = SIGEV_NONE;
        if (submit(&slots[i]) != 0)
            goto out;
        t_sub[i] = t0;
        list[i] = &slots[i].cb;
    }
    double t = t0;
    while (t < end) {
        if (aio_suspend(list, depth, NULL) != 0) {
            if (errno == EINTR)
                continue;
            io_error("aio_suspend: %s", strerror(errno));
            break;
        }
        t = now_s();
        for (int i = 0; i < depth; i++) {
            int e = aio_error(&slots[i].cb);
            if (e == EINPROGRESS)
                continue;
            if (e < 0) {
                io_error("aio_error on an in-flight aiocb: %s", strerror(errno));
                goto out;
            }
            ops += (unsigned long)reap(&slots[i], e);
            lat_sum += t - t_sub[i];
            if (t < end) {
                if (submit(&slots[i]) != 0)
                    goto out;
                t_sub[i] = t;
            } else {
                list[i] = NULL;
            }
        }
    }
out:;
    double el = now_s() - t0;
    /* drain whatever is still in flight (not counted) */
    for (int i = 0; i < depth; i++) {
        if (!slots[i].inflight)
            continue;
        while (aio_error(&slots[i].cb) == EINPROGRESS) {
            const struct aiocb *one[1] = {&slots[i].cb};
            aio_suspend(one, 1, NULL);
        }
        int e = aio_error(&slots[i].cb);
        if (e >= 0)
            reap(&slots[i], e);
    }
    double res_after = uncached == 2 ? 0 : resident_fraction(fd_g, file_size(fd_g));
    print_result(uncached == 2 ? "odirect" : uncached ? "uncached" : "cached", depth, ops, el,
                 res_before, res_after,
                 ops ? lat_sum / (double)ops * 1e6 : 0);
    return nerrors ? 1 : 0;
}

/* ---------- SIGEV_THREAD ---------- */

static atomic_ulong cb_count;
static sem_t sem;

static void on_complete(union sigval v)
{
    struct slot *s = v.sival_ptr;
    atomic_fetch_add_explicit(&cb_count, 1, memory_order_relaxed);
    atomic_store_explicit(&s->done, 1, memory_order_release);
    sem_post(&sem);
}

static int cmd_sigev(const char *path, int depth, double secs)
{
    double res_before;
    fd_g = open_bench_file(path, 0, &res_before);
    alloc_slots(depth);
    if (sem_init(&sem, 0, 0) != 0)
        die("sem_init");
    for (int i = 0; i < depth; i++) {
        struct sigevent *ev = &slots[i].cb.aio_sigevent;
        ev->sigev_notify = SIGEV_THREAD;
        ev->sigev_notify_function = on_complete;
        ev->sigev_notify_attributes = NULL;
        ev->sigev_value.sival_ptr = &slots[i];
    }
    int inflight = 0;
    unsigned long ops = 0, reaped_total = 0;
    double t0 = now_s(), end = t0 + secs, t = t0, t_stop = 0;
    for (int i = 0; i < depth; i++) {
        if (submit(&slots[i]) != 0)
            goto out;
        inflight++;
    }
    while (inflight > 0) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 10;
        if (sem_timedwait(&sem, &dl) != 0) {
            if (errno == EINTR)
                continue;
            if (errno != ETIMEDOUT)
                die("sem_timedwait");
            int lost = 0;
            for (int i = 0; i < depth; i++)
                if (slots[i].inflight && aio_error(&slots[i].cb) != EINPROGRESS)
                    lost++;
            io_error("no notification for 10 s with %d requests in flight, %d of them complete "
                     "(lost notifications)", inflight, lost);
            break;
        }
        t = now_s();
        if (t >= end && t_stop == 0)
            t_stop = t;
        for (int i = 0; i < depth; i++) {
            if (!atomic_load_explicit(&slots[i].done, memory_order_acquire))
                continue;
            atomic_store_explicit(&slots[i].done, 0, memory_order_relaxed);
            int e = aio_error(&slots[i].cb);
            if (e == EINPROGRESS) { /* early or duplicate notification: leave it in flight */
                io_error("notification for block %" PRIu64 " while it is still in progress",
                         slots[i].blk);
                continue;
            }
            if (e < 0) {
                io_error("aio_error after notification: %s", strerror(errno));
                e = EIO;
            }
            int good = reap(&slots[i], e);
            reaped_total++;
            inflight--;
            if (t < end) {
                ops += (unsigned long)good;
                if (submit(&slots[i]) != 0)
                    goto out;
                inflight++;
            }
        }
        if (t >= end && inflight == 0)
            break;
    }
out:;
    double el = (t_stop > 0 ? t_stop : now_s()) - t0;
    /* give duplicate (stray) notifications a moment to show up, then compare the counts */
    usleep(20000);
    unsigned long cbs = atomic_load(&cb_count);
    if (cbs != reaped_total)
        io_error("callback count %lu != completions reaped %lu", cbs, reaped_total);
    print_result("sigev", depth, ops, el, res_before, res_before, 0);
    return nerrors ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: aiobench prepare FILE MIB | warm FILE | evict FILE | hold FILE SECS |\n"
            "       aiobench read FILE DEPTH SECS cached|uncached | sigev FILE DEPTH SECS |\n"
            "       aiobench odirect FILE DEPTH SECS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *cmd = argv[1], *path = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "prepare") && argc == 4)
        return cmd_prepare(path, atol(argv[3]));
    if (!strcmp(cmd, "warm") && argc == 3)
        return cmd_warm(path);
    if (!strcmp(cmd, "hold") && argc == 4)
        return cmd_hold(path, atof(argv[3]));
    if (!strcmp(cmd, "evict") && argc == 3)
        return cmd_evict(path);
    if ((!strcmp(cmd, "read") && argc == 6) || (!strcmp(cmd, "sigev") && argc == 5) ||
        (!strcmp(cmd, "odirect") && argc == 5)) {
        int depth = atoi(argv[3]);
        double secs = atof(argv[4]);
        if (depth < 1 || depth > MAXDEPTH || !(secs > 0))
            usage();
        if (!strcmp(cmd, "sigev"))
            return cmd_sigev(path, depth, secs);
        if (!strcmp(cmd, "odirect"))
            return cmd_read(path, depth, secs, 2);
        if (strcmp(argv[5], "cached") && strcmp(argv[5], "uncached"))
            usage();
        return cmd_read(path, depth, secs, !strcmp(argv[5], "uncached"));
    }
    usage();
    return 2;
}
