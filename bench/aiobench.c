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
 *   aiobench pread   FILE SECS
 *        kernel reference, no AIO: one thread, pread() of 4 KiB at random aligned offsets,
 *        one after another (what a synchronous program gets at queue depth 1).
 *   aiobench lio     FILE N SECS
 *        lio_listio(LIO_WAIT) of N 4 KiB reads at random offsets of ONE fd, again and again;
 *        every entry's status and data checked after each call.
 *   aiobench write   FILE DEPTH SECS
 *        DEPTH 4 KiB aio_writes in flight on ONE O_RDWR fd, each at a random aligned block
 *        that no other in-flight request touches, waited for with aio_suspend as in `read`.
 *        Every written block carries (block, sequence number); after the run every block
 *        written is read back with pread and compared byte for byte with its last write.
 *   aiobench wsync   FILE PAIRS SECS
 *        PAIRS independent chains on ONE fd, each: aio_write of 4 KiB at a random block, and
 *        once it completed, aio_fsync(O_DSYNC) on the same fd; once that completed, the next
 *        write.  The figure counts write+fsync pairs.  Written blocks checked as in `write`.
 *   aiobench pipe    DEPTH SECS
 *        a writer thread keeps a pipe full of 4 KiB records (record k: k, data derived from
 *        k, ~k; one write() each, atomic since 4096 <= PIPE_BUF); DEPTH aio_reads of 4 KiB
 *        on the read end, waited for with aio_suspend.  Reads on a pipe are served in
 *        submission order, so the i-th read submitted must return exactly record i.
 *   aiobench mixed   FILE DEPTH SECS
 *        a small program: DEPTH requests in flight on ONE O_RDWR fd, each a 4 KiB read or
 *        write (50/50) at a random block no other in-flight request touches; completion by
 *        SIGEV_SIGNAL (SIGRTMIN+2, sival_ptr = the request): an SA_SIGINFO handler appends
 *        the pointer to a ring, the main loop keeps the signal blocked and waits in
 *        sigsuspend(), then reaps what the ring holds and submits the next request.
 *        Reads check the block's head/tail stamp, and the whole block when this run wrote
 *        it; every completion must arrive exactly once (signals == completions).
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
#include <pthread.h>
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
#include <sys/time.h>
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

/* A block written by this run: the prepared stamp kept (head = block, tail = ~block, so the
 * file stays a valid prepared file), the write's sequence number in word 1, the rest derived
 * from both.  A read of a block this run wrote must return exactly its last write. */
static void fill_wblock(unsigned char *b, uint64_t blk, uint64_t seq)
{
    for (unsigned i = 0; i < BS; i += 8) {
        uint64_t v = (blk * 0x9E3779B97F4A7C15ull) ^ (seq * 0xC2B2AE3D27D4EB4Full) ^ i;
        memcpy(b + i, &v, 8);
    }
    uint64_t inv = ~blk;
    memcpy(b, &blk, 8);
    memcpy(b + 8, &seq, 8);
    memcpy(b + BS - 8, &inv, 8);
}

static int check_wblock(const unsigned char *b, uint64_t blk, uint64_t seq)
{
    unsigned char want[BS];
    fill_wblock(want, blk, seq);
    return memcmp(b, want, BS) == 0;
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
    int is_write;
    uint64_t seq;  /* write: its sequence number; pipe: the index of the read */
};

static struct slot *slots;
static int fd_g;

/* Modes that write: one flag per block, set while a request on it is in flight (no two
 * in-flight requests share a block, so every result is predictable), and the sequence number
 * of the last completed write of each block (0: not written by this run). */
static unsigned char *busy;
static uint64_t *wseq;
static uint64_t seq_counter;

/* Submit a 4 KiB read (write == 0) or write of a random block (a free one when tracking). */
static int submit_io(struct slot *s, int write)
{
    if (busy) {
        do
            s->blk = rnd() % nblocks;
        while (busy[s->blk]);
        busy[s->blk] = 1;
    } else {
        s->blk = next_block();
    }
    s->is_write = write;
    s->cb.aio_fildes = fd_g;
    s->cb.aio_offset = (off_t)(s->blk * BS);
    s->cb.aio_buf = s->buf;
    s->cb.aio_nbytes = BS;
    s->cb.aio_reqprio = 0;
    if (write) {
        s->seq = ++seq_counter;
        fill_wblock(s->buf, s->blk, s->seq);
    } else {
        memset(s->buf, 0xA5, 8); /* poison the checked words: a read that copies nothing fails */
        memset(s->buf + BS - 8, 0xA5, 8);
    }
    for (;;) {
        if ((write ? aio_write(&s->cb) : aio_read(&s->cb)) == 0) {
            s->inflight = 1;
            return 0;
        }
        if (errno == EAGAIN) { /* resource shortage: report it, retry after a breath */
            io_error("%s: EAGAIN (retrying)", write ? "aio_write" : "aio_read");
            usleep(100);
            continue;
        }
        io_error("%s submission failed: %s", write ? "aio_write" : "aio_read", strerror(errno));
        if (busy)
            busy[s->blk] = 0;
        return -1;
    }
}

static int submit(struct slot *s)
{
    return submit_io(s, 0);
}

/* Reap a slot whose aio_error is not EINPROGRESS.  Returns 1 on a good 4096-byte transfer
 * (a read: with the right data). */
static int reap(struct slot *s, int err)
{
    ssize_t r = aio_return(&s->cb);
    const char *what = s->is_write ? "write" : "read";
    s->inflight = 0;
    if (busy)
        busy[s->blk] = 0;
    if (err != 0) {
        io_error("%s of block %" PRIu64 ": aio_error=%d (%s), aio_return=%zd", what, s->blk, err,
                 strerror(err), r);
        if (s->is_write && wseq)
            wseq[s->blk] = 0; /* its content is unknown now: not checked */
        return 0;
    }
    if (r != (ssize_t)BS) {
        io_error("%s of block %" PRIu64 ": aio_return=%zd, expected %u", what, s->blk, r, BS);
        if (s->is_write && wseq)
            wseq[s->blk] = 0;
        return 0;
    }
    if (s->is_write) {
        wseq[s->blk] = s->seq;
        return 1;
    }
    if (!check_block(s->buf, s->blk)) {
        io_error("block %" PRIu64 ": wrong data", s->blk);
        return 0;
    }
    if (wseq && wseq[s->blk] && !check_wblock(s->buf, s->blk, wseq[s->blk])) {
        io_error("block %" PRIu64 ": the read does not return its last write (seq %" PRIu64 ")",
                 s->blk, wseq[s->blk]);
        return 0;
    }
    return 1;
}

/* After a writing run: read back every block it wrote and compare with its last write. */
static unsigned long verify_written(void)
{
    unsigned char *b;
    unsigned long n = 0;
    if (posix_memalign((void **)&b, BS, BS) != 0)
        die("posix_memalign");
    for (uint64_t blk = 0; blk < nblocks; blk++) {
        if (!wseq[blk])
            continue;
        ssize_t r = pread(fd_g, b, BS, (off_t)(blk * BS));
        if (r != (ssize_t)BS)
            io_error("read-back of block %" PRIu64 ": pread=%zd (%s)", blk, r,
                     r < 0 ? strerror(errno) : "short");
        else if (!check_wblock(b, blk, wseq[blk]))
            io_error("read-back of block %" PRIu64 ": not the data of its last write (seq %" PRIu64
                     ")", blk, wseq[blk]);
        else
            n++;
    }
    free(b);
    return n;
}

static void track_writes(void)
{
    busy = calloc(nblocks, 1);
    wseq = calloc(nblocks, sizeof *wseq);
    if (!busy || !wseq)
        die("calloc");
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
        slots[i].cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    }
}

enum { M_CACHED, M_UNCACHED, M_ODIRECT, M_WRITE };

static int open_bench_file(const char *path, int uncached, double *res_before)
{
    /* O_DIRECT only in the odirect mode (uncached == M_ODIRECT), O_RDWR in M_WRITE */
    int fd = open(path, uncached == M_WRITE ? O_RDWR : O_RDONLY | (uncached == 2 ? O_DIRECT : 0));
    if (fd < 0)
        die(uncached == 2 ? "open(O_DIRECT)" : "open");
    off_t sz = file_size(fd);
    if (sz < (off_t)BS)
        die("file too small");
    nblocks = (uint64_t)sz / BS;
    rng_state ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(now_s() * 1e9);
    if (uncached == M_ODIRECT) {
        *res_before = 0; /* O_DIRECT: the page cache is not used */
    } else if (uncached == M_UNCACHED) {
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

static const char *impl_name; /* NULL: where aio_read comes from */

static void print_result(const char *mode, int depth, unsigned long ops, double el,
                         double res_before, double res_after, double lat_us, const char *extra)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru); /* all threads of the process, whole run incl. setup */
    double cpu_u = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    double cpu_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    printf("RESULT impl=%s mode=%s depth=%d ops=%lu secs=%.3f iops=%.0f avg_us=%.1f "
           "resident_before=%.4f resident_after=%.4f wraps=%lu cpu_user=%.2f cpu_sys=%.2f "
           "errors=%lu%s%s\n",
           impl_name ? impl_name : aio_impl(), mode, depth, ops, el, el > 0 ? (double)ops / el : 0,
           lat_us, res_before, res_after, wraps, cpu_u, cpu_s, nerrors, *extra ? " " : "", extra);
}

static int cmd_read(const char *path, int depth, double secs, int uncached)
{
    double res_before;
    fd_g = open_bench_file(path, uncached, &res_before);
    alloc_slots(depth);
    if (uncached == M_WRITE)
        track_writes();
    const struct aiocb **list = calloc((size_t)depth, sizeof *list);
    double *t_sub = calloc((size_t)depth, sizeof *t_sub);
    if (!list || !t_sub)
        die("calloc");

    unsigned long ops = 0;
    double t0 = now_s(), end = t0 + secs, lat_sum = 0;
    for (int i = 0; i < depth; i++) {
        if (submit_io(&slots[i], uncached == M_WRITE) != 0)
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
                if (submit_io(&slots[i], uncached == M_WRITE) != 0)
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
    char extra[64] = "";
    if (uncached == M_WRITE)
        snprintf(extra, sizeof extra, "verified=%lu", verify_written());
    double res_after = uncached == M_ODIRECT ? 0 : resident_fraction(fd_g, file_size(fd_g));
    static const char *const names[] = {"cached", "uncached", "odirect", "write"};
    print_result(names[uncached], depth, ops, el, res_before, res_after,
                 ops ? lat_sum / (double)ops * 1e6 : 0, extra);
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
    print_result("sigev", depth, ops, el, res_before, res_before, 0, "");
    return nerrors ? 1 : 0;
}

/* ---------- pread: the synchronous reference ---------- */

static int cmd_pread(const char *path, double secs)
{
    double res_before;
    int fd = open_bench_file(path, M_CACHED, &res_before);
    unsigned char *buf;
    if (posix_memalign((void **)&buf, BS, BS) != 0)
        die("posix_memalign");
    impl_name = "kernel";
    unsigned long ops = 0;
    double t0 = now_s(), end = t0 + secs, t = t0;
    while (t < end) {
        for (int k = 0; k < 64; k++) { /* the clock every 64 reads */
            uint64_t blk = rnd() % nblocks;
            memset(buf, 0xA5, 8);
            ssize_t r = pread(fd, buf, BS, (off_t)(blk * BS));
            if (r != (ssize_t)BS)
                io_error("pread of block %" PRIu64 ": %zd (%s)", blk, r,
                         r < 0 ? strerror(errno) : "short");
            else if (!check_block(buf, blk))
                io_error("block %" PRIu64 ": wrong data", blk);
            else
                ops++;
        }
        t = now_s();
    }
    double el = t - t0;
    print_result("pread", 1, ops, el, res_before, resident_fraction(fd, file_size(fd)),
                 ops ? el / (double)ops * 1e6 : 0, "");
    return nerrors ? 1 : 0;
}

/* ---------- lio_listio(LIO_WAIT) ---------- */

static int cmd_lio(const char *path, int n, double secs)
{
    double res_before;
    fd_g = open_bench_file(path, M_CACHED, &res_before);
    alloc_slots(n);
    struct aiocb **list = calloc((size_t)n, sizeof *list);
    if (!list)
        die("calloc");
    for (int i = 0; i < n; i++)
        list[i] = &slots[i].cb;
    unsigned long ops = 0, calls = 0;
    double t0 = now_s(), end = t0 + secs, t = t0;
    while (t < end) {
        for (int i = 0; i < n; i++) {
            struct slot *s = &slots[i];
            s->blk = next_block();
            s->is_write = 0;
            s->cb.aio_fildes = fd_g;
            s->cb.aio_offset = (off_t)(s->blk * BS);
            s->cb.aio_buf = s->buf;
            s->cb.aio_nbytes = BS;
            s->cb.aio_reqprio = 0;
            s->cb.aio_lio_opcode = LIO_READ;
            memset(s->buf, 0xA5, 8);
            memset(s->buf + BS - 8, 0xA5, 8);
            s->inflight = 1;
        }
        if (lio_listio(LIO_WAIT, list, n, NULL) != 0)
            io_error("lio_listio(LIO_WAIT, %d entries): %s", n, strerror(errno));
        calls++;
        for (int i = 0; i < n; i++) {
            int e = aio_error(&slots[i].cb);
            if (e == EINPROGRESS) {
                io_error("entry %d still in progress after lio_listio(LIO_WAIT) returned", i);
                const struct aiocb *one[1] = {&slots[i].cb};
                while ((e = aio_error(&slots[i].cb)) == EINPROGRESS)
                    aio_suspend(one, 1, NULL);
            }
            if (e < 0) {
                io_error("aio_error after lio_listio: %s", strerror(errno));
                e = EIO;
            }
            ops += (unsigned long)reap(&slots[i], e);
        }
        t = now_s();
    }
    char extra[64];
    snprintf(extra, sizeof extra, "calls=%lu", calls);
    print_result("lio", n, ops, t - t0, res_before, resident_fraction(fd_g, file_size(fd_g)),
                 calls ? (t - t0) / (double)calls * 1e6 : 0, extra);
    return nerrors ? 1 : 0;
}

/* ---------- write + fsync chains ---------- */

static int cmd_wsync(const char *path, int pairs, double secs)
{
    double res_before;
    fd_g = open_bench_file(path, M_WRITE, &res_before);
    alloc_slots(pairs);
    track_writes();
    struct aiocb *fcb = calloc((size_t)pairs, sizeof *fcb);
    const struct aiocb **list = calloc((size_t)pairs, sizeof *list);
    int *in_fsync = calloc((size_t)pairs, sizeof *in_fsync);
    int *wrote_ok = calloc((size_t)pairs, sizeof *wrote_ok);
    if (!fcb || !list || !in_fsync || !wrote_ok)
        die("calloc");
    unsigned long done_pairs = 0, requests = 0;
    int active = 0;
    double t0 = now_s(), end = t0 + secs, t = t0, t_stop = 0;
    for (int i = 0; i < pairs; i++) {
        if (submit_io(&slots[i], 1) != 0)
            goto out;
        list[i] = &slots[i].cb;
        active++;
    }
    while (active > 0) {
        struct timespec ten = {10, 0};
        if (aio_suspend(list, pairs, &ten) != 0) {
            if (errno == EINTR)
                continue;
            io_error("aio_suspend: %s", errno == EAGAIN ? "no completion for 10 s" : strerror(errno));
            break;
        }
        t = now_s();
        if (t >= end && t_stop == 0)
            t_stop = t;
        for (int i = 0; i < pairs; i++) {
            if (!list[i])
                continue;
            int e = aio_error(list[i]);
            if (e == EINPROGRESS)
                continue;
            if (e < 0) {
                io_error("aio_error on an in-flight aiocb: %s", strerror(errno));
                e = EIO;
            }
            requests++;
            if (!in_fsync[i]) {
                wrote_ok[i] = reap(&slots[i], e);
                memset(&fcb[i], 0, sizeof fcb[i]);
                fcb[i].aio_fildes = fd_g;
                fcb[i].aio_sigevent.sigev_notify = SIGEV_NONE;
                if (aio_fsync(O_DSYNC, &fcb[i]) != 0) {
                    io_error("aio_fsync(O_DSYNC) submission failed: %s", strerror(errno));
                    list[i] = NULL;
                    active--;
                    continue;
                }
                list[i] = &fcb[i];
                in_fsync[i] = 1;
                continue;
            }
            ssize_t r = aio_return(&fcb[i]);
            in_fsync[i] = 0;
            if (e != 0 || r != 0)
                io_error("aio_fsync(O_DSYNC): aio_error=%d (%s), aio_return=%zd", e, strerror(e), r);
            else if (wrote_ok[i] && t < end)
                done_pairs++;
            if (t < end && submit_io(&slots[i], 1) == 0) {
                list[i] = &slots[i].cb;
            } else {
                list[i] = NULL;
                active--;
            }
        }
    }
out:;
    double el = (t_stop > 0 ? t_stop : now_s()) - t0;
    char extra[96];
    unsigned long verified = verify_written();
    snprintf(extra, sizeof extra, "requests=%lu verified=%lu", requests, verified);
    print_result("wsync", pairs, done_pairs, el, res_before,
                 resident_fraction(fd_g, file_size(fd_g)), 0, extra);
    return nerrors ? 1 : 0;
}

/* ---------- pipe reads ---------- */

static int pipe_fds[2];
static atomic_int pipe_stop;
static atomic_ulong pipe_werr;
static unsigned char record_body[BS];

/* Record k: k in word 0, k * K in word 1, ~k in the last word, a fixed pattern between. */
static void stamp_record(unsigned char *b, uint64_t k)
{
    uint64_t v = k * 0x9E3779B97F4A7C15ull, inv = ~k;
    memcpy(b, &k, 8);
    memcpy(b + 8, &v, 8);
    memcpy(b + BS - 8, &inv, 8);
}

static int check_record(const unsigned char *b, uint64_t k)
{
    unsigned char head[16], tail[8];
    uint64_t v = k * 0x9E3779B97F4A7C15ull, inv = ~k;
    memcpy(head, &k, 8);
    memcpy(head + 8, &v, 8);
    memcpy(tail, &inv, 8);
    return !memcmp(b, head, 16) && !memcmp(b + BS - 8, tail, 8) &&
           !memcmp(b + 16, record_body + 16, BS - 24);
}

static void *pipe_writer(void *arg)
{
    (void)arg;
    unsigned char *rec = malloc(BS);
    if (!rec)
        die("malloc");
    memcpy(rec, record_body, BS);
    for (uint64_t k = 0; !atomic_load_explicit(&pipe_stop, memory_order_relaxed);) {
        stamp_record(rec, k);
        ssize_t w = write(pipe_fds[1], rec, BS);
        if (w < 0 && errno == EINTR)
            continue;
        if (w != (ssize_t)BS) { /* 4096 <= PIPE_BUF: all or nothing */
            atomic_fetch_add(&pipe_werr, 1);
            break;
        }
        k++;
    }
    close(pipe_fds[1]);
    free(rec);
    return NULL;
}

static int cmd_pipe(int depth, double secs)
{
    for (unsigned i = 0; i < BS; i += 8) {
        uint64_t v = rnd();
        memcpy(record_body + i, &v, 8);
    }
    if (pipe(pipe_fds) != 0)
        die("pipe");
    fd_g = pipe_fds[0];
    alloc_slots(depth);
    const struct aiocb **list = calloc((size_t)depth, sizeof *list);
    if (!list)
        die("calloc");
    pthread_t writer;
    if (pthread_create(&writer, NULL, pipe_writer, NULL) != 0)
        die("pthread_create");
    uint64_t next_idx = 0;
    unsigned long ops = 0;
    double t0 = now_s(), end = t0 + secs, t = t0;
#define PIPE_SUBMIT(s)                                                                           \
    do {                                                                                         \
        (s)->seq = next_idx++;                                                                   \
        (s)->is_write = 0;                                                                       \
        (s)->cb.aio_fildes = fd_g;                                                               \
        (s)->cb.aio_offset = 0;                                                                  \
        (s)->cb.aio_buf = (s)->buf;                                                              \
        (s)->cb.aio_nbytes = BS;                                                                 \
        memset((s)->buf, 0xA5, 16);                                                              \
        if (aio_read(&(s)->cb) != 0) {                                                           \
            io_error("aio_read on the pipe: %s", strerror(errno));                               \
            goto out;                                                                            \
        }                                                                                        \
        (s)->inflight = 1;                                                                       \
    } while (0)
    for (int i = 0; i < depth; i++) {
        PIPE_SUBMIT(&slots[i]);
        list[i] = &slots[i].cb;
    }
    while (t < end) {
        struct timespec ten = {10, 0};
        if (aio_suspend(list, depth, &ten) != 0) {
            if (errno == EINTR)
                continue;
            io_error("aio_suspend: %s", errno == EAGAIN ? "no completion for 10 s" : strerror(errno));
            break;
        }
        t = now_s();
        for (int i = 0; i < depth; i++) {
            struct slot *s = &slots[i];
            int e = aio_error(&s->cb);
            if (e == EINPROGRESS)
                continue;
            ssize_t r = aio_return(&s->cb);
            s->inflight = 0;
            if (e != 0 || r != (ssize_t)BS) /* 4 KiB writes and reads: never a partial record */
                io_error("pipe read %" PRIu64 ": aio_error=%d (%s), aio_return=%zd", s->seq, e,
                         strerror(e), r);
            else if (!check_record(s->buf, s->seq))
                io_error("pipe read %" PRIu64 ": not record %" PRIu64 " (got record %" PRIu64 ")",
                         s->seq, s->seq, *(uint64_t *)(void *)s->buf);
            else
                ops++;
            if (t < end)
                PIPE_SUBMIT(s);
            else
                list[i] = NULL;
        }
    }
out:;
    double el = now_s() - t0;
    for (int i = 0; i < depth; i++) { /* drain (the writer keeps the pipe full: they finish) */
        if (!slots[i].inflight)
            continue;
        const struct aiocb *one[1] = {&slots[i].cb};
        while (aio_error(&slots[i].cb) == EINPROGRESS)
            aio_suspend(one, 1, NULL);
        aio_return(&slots[i].cb);
    }
    atomic_store(&pipe_stop, 1);
    unsigned char sink[BS];
    while (read(pipe_fds[0], sink, sizeof sink) > 0) /* until the writer has closed its end */
        ;
    pthread_join(writer, NULL);
    if (atomic_load(&pipe_werr))
        io_error("the writer's write() to the pipe failed or was short");
    print_result("pipe", depth, ops, el, 0, 0, ops ? el / (double)ops * 1e6 * depth : 0, "");
    return nerrors ? 1 : 0;
}

/* ---------- mixed reads and writes, SIGEV_SIGNAL ---------- */

#define RING 4096
static _Atomic unsigned long sig_head;
static void *_Atomic sig_ring[RING];

static void on_aio_signal(int signo, siginfo_t *si, void *uc)
{
    (void)signo;
    (void)uc;
    unsigned long i = atomic_fetch_add_explicit(&sig_head, 1, memory_order_relaxed);
    atomic_store_explicit(&sig_ring[i % RING], si->si_value.sival_ptr, memory_order_release);
}

static void on_alarm(int signo)
{
    (void)signo; /* only wakes sigsuspend, for the stall check */
}

static int cmd_mixed(const char *path, int depth, double secs)
{
    double res_before;
    fd_g = open_bench_file(path, M_WRITE, &res_before);
    alloc_slots(depth);
    track_writes();
    const int signo = SIGRTMIN + 2;
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, signo);
    sigaddset(&block, SIGALRM);
    if (sigprocmask(SIG_BLOCK, &block, &waitmask) != 0)
        die("sigprocmask");
    sigdelset(&waitmask, signo);
    sigdelset(&waitmask, SIGALRM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_aio_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(signo, &sa, NULL) != 0)
        die("sigaction");
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) != 0)
        die("sigaction");
    struct itimerval tick = {{1, 0}, {1, 0}};
    setitimer(ITIMER_REAL, &tick, NULL);
    for (int i = 0; i < depth; i++) {
        struct sigevent *ev = &slots[i].cb.aio_sigevent;
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = signo;
        ev->sigev_value.sival_ptr = &slots[i];
    }
    unsigned long ops = 0, reads = 0, writes = 0, full_checks = 0, completions = 0, tail = 0;
    int inflight = 0;
    double t0 = now_s(), end = t0 + secs, t = t0, t_stop = 0, last = t0;
    for (int i = 0; i < depth; i++) {
        if (submit_io(&slots[i], (int)(rnd() & 1)) != 0)
            goto out;
        inflight++;
    }
    while (inflight > 0) {
        if (tail == atomic_load_explicit(&sig_head, memory_order_acquire))
            sigsuspend(&waitmask); /* returns after one handler ran (EINTR) */
        t = now_s();
        if (t >= end && t_stop == 0)
            t_stop = t;
        if (tail == atomic_load_explicit(&sig_head, memory_order_acquire)) {
            if (t - last > 10) {
                io_error("no completion signal for 10 s with %d requests in flight", inflight);
                break;
            }
            continue;
        }
        last = t;
        while (tail != atomic_load_explicit(&sig_head, memory_order_acquire)) {
            struct slot *s = atomic_exchange_explicit(&sig_ring[tail % RING], NULL,
                                                      memory_order_acquire);
            if (!s) /* a handler on another thread has not stored its pointer yet */
                continue;
            tail++;
            if (s < slots || s >= slots + depth || !s->inflight) {
                io_error("signal for an aiocb that is not in flight (%p)", (void *)s);
                continue;
            }
            int e = aio_error(&s->cb);
            if (e == EINPROGRESS) {
                io_error("signal for block %" PRIu64 " while it is still in progress", s->blk);
                continue;
            }
            if (e < 0) {
                io_error("aio_error after the signal: %s", strerror(errno));
                e = EIO;
            }
            int was_write = s->is_write, checked = !was_write && wseq[s->blk] != 0;
            int good = reap(s, e);
            completions++;
            inflight--;
            if (t < end) {
                ops += (unsigned long)good;
                writes += (unsigned long)(good && was_write);
                reads += (unsigned long)(good && !was_write);
                full_checks += (unsigned long)(good && checked);
                if (submit_io(s, (int)(rnd() & 1)) != 0)
                    goto out;
                inflight++;
            }
        }
    }
out:;
    double el = (t_stop > 0 ? t_stop : now_s()) - t0;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    usleep(20000); /* a duplicate notification would be pending now */
    sigset_t pend;
    sigpending(&pend);
    if (sigismember(&pend, signo))
        io_error("a completion signal arrived after every request was reaped (duplicate)");
    unsigned long sigs = atomic_load(&sig_head);
    if (sigs != completions)
        io_error("signals handled %lu != completions %lu", sigs, completions);
    char extra[160];
    unsigned long verified = verify_written();
    snprintf(extra, sizeof extra, "reads=%lu writes=%lu reads_fully_checked=%lu signals=%lu verified=%lu",
             reads, writes, full_checks, sigs, verified);
    print_result("mixed", depth, ops, el, res_before, resident_fraction(fd_g, file_size(fd_g)), 0,
                 extra);
    return nerrors ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: aiobench prepare FILE MIB | warm FILE | evict FILE | hold FILE SECS |\n"
            "       aiobench read FILE DEPTH SECS cached|uncached | sigev FILE DEPTH SECS |\n"
            "       aiobench odirect FILE DEPTH SECS | pread FILE SECS | lio FILE N SECS |\n"
            "       aiobench write FILE DEPTH SECS | wsync FILE PAIRS SECS | pipe DEPTH SECS |\n"
            "       aiobench mixed FILE DEPTH SECS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *cmd = argv[1], *path = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng_state ^= (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(now_s() * 1e9);
    if (!strcmp(cmd, "prepare") && argc == 4)
        return cmd_prepare(path, atol(argv[3]));
    if (!strcmp(cmd, "warm") && argc == 3)
        return cmd_warm(path);
    if (!strcmp(cmd, "hold") && argc == 4)
        return cmd_hold(path, atof(argv[3]));
    if (!strcmp(cmd, "evict") && argc == 3)
        return cmd_evict(path);
    if (!strcmp(cmd, "pread") && argc == 4) {
        double secs = atof(argv[3]);
        if (!(secs > 0))
            usage();
        return cmd_pread(path, secs);
    }
    if (!strcmp(cmd, "pipe") && argc == 4) {
        int depth = atoi(argv[2]);
        double secs = atof(argv[3]);
        if (depth < 1 || depth > MAXDEPTH || !(secs > 0))
            usage();
        return cmd_pipe(depth, secs);
    }
    static const char *const with_depth[] = {"sigev", "odirect", "lio", "write", "wsync", "mixed"};
    int known = !strcmp(cmd, "read") && argc == 6;
    for (unsigned i = 0; i < sizeof with_depth / sizeof with_depth[0]; i++)
        known |= !strcmp(cmd, with_depth[i]) && argc == 5;
    if (known) {
        int depth = atoi(argv[3]);
        double secs = atof(argv[4]);
        if (depth < 1 || depth > MAXDEPTH || !(secs > 0))
            usage();
        if (!strcmp(cmd, "sigev"))
            return cmd_sigev(path, depth, secs);
        if (!strcmp(cmd, "odirect"))
            return cmd_read(path, depth, secs, M_ODIRECT);
        if (!strcmp(cmd, "write"))
            return cmd_read(path, depth, secs, M_WRITE);
        if (!strcmp(cmd, "lio"))
            return cmd_lio(path, depth, secs);
        if (!strcmp(cmd, "wsync"))
            return cmd_wsync(path, depth, secs);
        if (!strcmp(cmd, "mixed"))
            return cmd_mixed(path, depth, secs);
        if (strcmp(argv[5], "cached") && strcmp(argv[5], "uncached"))
            usage();
        return cmd_read(path, depth, secs, !strcmp(argv[5], "uncached") ? M_UNCACHED : M_CACHED);
    }
    usage();
    return 2;
}
