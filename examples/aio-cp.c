/* aio-cp — copy a file through a queue of vectored POSIX AIO requests.
 *
 *   aio-cp [-q DEPTH] [-b BLOCK] [-d] [-e] [-v] SRC DST
 *
 *   -q DEPTH  blocks in flight at once (default 16, at most 1024)
 *   -b BLOCK  block size, with an optional k or m suffix (default 256k, at most 64m)
 *   -d        O_DIRECT on both files (BLOCK must then be a multiple of 4096). A file whose
 *             filesystem refuses O_DIRECT at open() is used buffered, with a message.
 *   -e        wait with SIGEV_EVENTFD + aio_reap() instead of aio_suspend()
 *   -v        print what was done, and how fast, on stderr
 *
 * What it shows: rtaio's aio_readv()/aio_writev() (rtaio.h). Each of the DEPTH slots owns a
 * block split into 2 to 4 separately allocated segments (uneven sizes; multiples of 4096 bytes
 * with -d). A slot reads its block with aio_readv() into the segments, then aio_writev()s the
 * same segments to the same offset of DST, then takes the next block. The first batch of reads
 * is ONE lio_listio(LIO_NOWAIT) call with LIO_READV entries. Short transfers are resubmitted
 * for the rest. The last block may be short: with O_DIRECT it is written rounded up to 4096
 * bytes (zero padding) and DST is cut to size with ftruncate() afterwards.
 *
 * Waiting: by default aio_suspend() on the requests in flight, then aio_error() on each of them
 * to find the finished ones (fine for a queue of 16; each wait costs O(DEPTH)). With -e every
 * request names one eventfd (SIGEV_EVENTFD): a blocking read() of the eventfd, then aio_reap()
 * hands over exactly the finished aiocbs.
 *
 * At the end DST is flushed with aio_fsync(O_SYNC), waited for the same way. Exit status 0 on
 * success; 1 on any error, with a message naming the call that failed; 2 on bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <rtaio.h>

#define ALIGN 4096
#define MAX_SEG 4

enum phase { IDLE, READING, WRITING };

struct slot {
    struct aiocb cb;
    struct iovec seg[MAX_SEG]; /* the block's buffers */
    int nseg;
    struct iovec iov[MAX_SEG]; /* the part of them the current request transfers */
    int niov;
    off_t off;  /* the block's offset in both files */
    size_t len; /* its bytes in the file (the last block may be short) */
    size_t want, done; /* bytes the current phase transfers, and has transferred */
    enum phase phase;
};

static const char *src_path, *dst_path;
static int src_fd = -1, dst_fd = -1, efd = -1;
static int src_direct, dst_direct, use_efd, verbose;
static uint64_t file_size;
static size_t block = 256 * 1024;
static unsigned depth = 16;
static struct slot *slots;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aio-cp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static size_t round_up(size_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static const char *op_name(const struct slot *s)
{
    return s->phase == READING ? "aio_readv" : "aio_writev";
}

/* Points s->iov at bytes [from, to) of the block. */
static void set_iov(struct slot *s, size_t from, size_t to)
{
    size_t start = 0; /* of segment i within the block */
    s->niov = 0;
    for (int i = 0; i < s->nseg && start < to; start += s->seg[i].iov_len, i++) {
        size_t a = start, b = start + s->seg[i].iov_len;
        if (b <= from)
            continue;
        if (a < from)
            a = from;
        if (b > to)
            b = to;
        s->iov[s->niov++] = (struct iovec){ (char *)s->seg[i].iov_base + (a - start), b - a };
    }
}

/* Fills in the aiocb for the rest of the current phase. */
static void prepare(struct slot *s)
{
    set_iov(s, s->done, s->want);
    memset(&s->cb, 0, sizeof s->cb);
    s->cb.aio_fildes = s->phase == READING ? src_fd : dst_fd;
    s->cb.aio_iov = s->iov;
    s->cb.aio_iovcnt = (size_t)s->niov;
    s->cb.aio_offset = s->off + (off_t)s->done;
    s->cb.aio_lio_opcode = s->phase == READING ? LIO_READV : LIO_WRITEV;
    if (use_efd) {
        s->cb.aio_sigevent.sigev_notify = SIGEV_EVENTFD;
        s->cb.aio_sigevent.sigev_signo = efd;
        s->cb.aio_sigevent.sigev_value.sival_ptr = s;
    } else {
        s->cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    }
}

static void submit(struct slot *s)
{
    prepare(s);
    int r = s->phase == READING ? aio_readv(&s->cb) : aio_writev(&s->cb);
    if (r < 0)
        die("%s(%s, offset %lld, %d segments): %s", op_name(s),
            s->phase == READING ? src_path : dst_path, (long long)s->cb.aio_offset, s->niov,
            strerror(errno));
}

/* Sets the slot up to read the block at off (not submitted). */
static void start_block(struct slot *s, uint64_t off)
{
    s->off = (off_t)off;
    s->len = file_size - off < block ? (size_t)(file_size - off) : block;
    s->want = src_direct ? round_up(s->len) : s->len;
    s->done = 0;
    s->phase = READING;
}

/* The slot's request finished. Returns 1 if the slot is now idle (its block is copied). */
static int finished(struct slot *s)
{
    int err = aio_error(&s->cb);
    if (err < 0)
        die("aio_error(%s): %s", op_name(s), strerror(errno));
    if (err == EINPROGRESS)
        die("aio_error(%s): still in progress after completion was reported", op_name(s));
    ssize_t r = aio_return(&s->cb);
    if (err)
        die("%s(%s, offset %lld): %s", op_name(s), s->phase == READING ? src_path : dst_path,
            (long long)s->cb.aio_offset, strerror(err));
    if (r < 0)
        die("aio_return(%s): %s", op_name(s), strerror(errno));

    if (s->phase == READING) {
        if (r == 0 && s->done < s->len)
            die("aio_readv(%s, offset %lld): end of file (the source shrank?)", src_path,
                (long long)s->cb.aio_offset);
        s->done += (size_t)r;
        if (s->done < s->len) { /* short read: read the rest */
            submit(s);
            return 0;
        }
        s->want = dst_direct ? round_up(s->len) : s->len;
        /* Zero the O_DIRECT padding of a short last block (ftruncate removes it later). */
        size_t pos = 0;
        for (int i = 0; i < s->nseg; i++) {
            size_t a = pos, b = pos + s->seg[i].iov_len;
            pos = b;
            if (b > s->len && a < s->want) {
                size_t z0 = a < s->len ? s->len - a : 0;
                size_t z1 = (b < s->want ? b : s->want) - a;
                memset((char *)s->seg[i].iov_base + z0, 0, z1 - z0);
            }
        }
        s->phase = WRITING;
        s->done = 0;
        submit(s);
        return 0;
    }
    if (r == 0)
        die("aio_writev(%s, offset %lld): wrote nothing", dst_path, (long long)s->cb.aio_offset);
    s->done += (size_t)r;
    if (s->done < s->want) { /* short write: write the rest */
        submit(s);
        return 0;
    }
    s->phase = IDLE;
    return 1;
}

/* Waits until at least one request finished; puts the finished slots in out[], returns how
 * many. A slot's aiocb whose request is the fsync is reported as NULL. */
static unsigned wait_some(struct slot **out, struct aiocb *fsync_cb)
{
    unsigned n = 0;
    if (use_efd) {
        struct aiocb **got = malloc(sizeof *got * (depth + 1));
        if (!got)
            die("malloc: %s", strerror(errno));
        while (n == 0) {
            uint64_t v;
            if (read(efd, &v, sizeof v) < 0) {
                if (errno == EINTR)
                    continue;
                die("read(eventfd): %s", strerror(errno));
            }
            /* Reap until fewer than asked: a completion is queued before it is counted. */
            for (;;) {
                int k = aio_reap(efd, got, (int)depth + 1);
                if (k < 0)
                    die("aio_reap: %s", strerror(errno));
                for (int i = 0; i < k; i++)
                    out[n++] = got[i] == fsync_cb ? NULL : got[i]->aio_sigevent.sigev_value.sival_ptr;
                if (k < (int)depth + 1)
                    break;
            }
        }
        free(got);
        return n;
    }

    const struct aiocb *list[depth + 1];
    unsigned m = 0;
    for (unsigned i = 0; i < depth; i++)
        if (slots[i].phase != IDLE)
            list[m++] = &slots[i].cb;
    if (fsync_cb)
        list[m++] = fsync_cb;
    while (aio_suspend(list, (int)m, NULL) < 0)
        if (errno != EINTR)
            die("aio_suspend: %s", strerror(errno));
    for (unsigned i = 0; i < m; i++) {
        int e = aio_error(list[i]);
        if (e < 0)
            die("aio_error: %s", strerror(errno));
        if (e != EINPROGRESS)
            out[n++] = list[i] == fsync_cb ? NULL : (struct slot *)((const char *)list[i] - offsetof(struct slot, cb));
    }
    return n;
}

static int parse_size(const char *s, size_t *v)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(s, &e, 10);
    if (errno || e == s)
        return -1;
    if (*e == 'k' || *e == 'K')
        x <<= 10, e++;
    else if (*e == 'm' || *e == 'M')
        x <<= 20, e++;
    if (*e || x == 0 || x > (64u << 20))
        return -1;
    *v = (size_t)x;
    return 0;
}

/* Opens with O_DIRECT if asked; falls back to buffered if the filesystem refuses it. */
static int open_file(const char *path, int flags, mode_t mode, int want_direct, int *direct)
{
    *direct = 0;
    if (want_direct) {
        int fd = open(path, flags | O_DIRECT, mode);
        if (fd >= 0) {
            *direct = 1;
            return fd;
        }
        if (errno != EINVAL)
            return -1;
        fprintf(stderr, "aio-cp: O_DIRECT refused for %s (%s): using buffered I/O\n", path,
                strerror(errno));
    }
    return open(path, flags, mode);
}

int main(int argc, char **argv)
{
    int opt, want_direct = 0;
    while ((opt = getopt(argc, argv, "q:b:dev")) != -1) {
        switch (opt) {
        case 'q': {
            char *e;
            unsigned long q = strtoul(optarg, &e, 10);
            if (*e || q == 0 || q > 1024)
                goto usage;
            depth = (unsigned)q;
            break;
        }
        case 'b':
            if (parse_size(optarg, &block))
                goto usage;
            break;
        case 'd':
            want_direct = 1;
            break;
        case 'e':
            use_efd = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind != 2) {
    usage:
        fprintf(stderr, "usage: aio-cp [-q DEPTH] [-b BLOCK[k|m]] [-d] [-e] [-v] SRC DST\n");
        return 2;
    }
    if (want_direct && block % ALIGN) {
        fprintf(stderr, "aio-cp: with -d, BLOCK must be a multiple of %d\n", ALIGN);
        return 2;
    }
    src_path = argv[optind];
    dst_path = argv[optind + 1];

    struct stat ss, ds;
    if ((src_fd = open_file(src_path, O_RDONLY | O_CLOEXEC, 0, want_direct, &src_direct)) < 0)
        die("open(%s): %s", src_path, strerror(errno));
    if (fstat(src_fd, &ss) < 0)
        die("fstat(%s): %s", src_path, strerror(errno));
    if (!S_ISREG(ss.st_mode))
        die("%s: not a regular file", src_path);
    file_size = (uint64_t)ss.st_size;
    /* No O_TRUNC yet: DST might be SRC under another name. */
    if ((dst_fd = open_file(dst_path, O_WRONLY | O_CREAT | O_CLOEXEC, ss.st_mode & 0777, want_direct,
                            &dst_direct)) < 0)
        die("open(%s): %s", dst_path, strerror(errno));
    if (fstat(dst_fd, &ds) < 0)
        die("fstat(%s): %s", dst_path, strerror(errno));
    if (ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)
        die("%s and %s are the same file", src_path, dst_path);
    int dst_regular = S_ISREG(ds.st_mode); /* else a device: nothing to truncate */
    if (dst_regular && ftruncate(dst_fd, 0) < 0)
        die("ftruncate(%s): %s", dst_path, strerror(errno));
    if (use_efd && (efd = eventfd(0, EFD_CLOEXEC)) < 0)
        die("eventfd: %s", strerror(errno));

    /* The slots and their segments: 2, 3 or 4 per block, uneven, 4096-aligned with -d. */
    int aligned = src_direct || dst_direct;
    size_t unit = aligned ? ALIGN : 1;
    if (!(slots = calloc(depth, sizeof *slots)))
        die("calloc: %s", strerror(errno));
    for (unsigned i = 0; i < depth; i++) {
        struct slot *s = &slots[i];
        size_t units = (block + unit - 1) / unit;
        int nseg = 2 + (int)(i % 3);
        if ((size_t)nseg > units)
            nseg = (int)units;
        size_t base = units / (size_t)nseg, rem = units % (size_t)nseg, skew = base / 3;
        s->nseg = nseg;
        for (int j = 0; j < nseg; j++) {
            size_t u = base + ((size_t)j < rem);
            if (nseg > 1 && j == 0)
                u -= skew;
            if (nseg > 1 && j == nseg - 1)
                u += skew;
            size_t bytes = u * unit; /* they add up to block (a multiple of unit) */
            void *p;
            int e = posix_memalign(&p, ALIGN, round_up(bytes));
            if (e)
                die("posix_memalign: %s", strerror(e));
            s->seg[j] = (struct iovec){ p, bytes };
        }
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    /* First batch: one lio_listio() call with LIO_READV entries. */
    uint64_t next = 0;
    unsigned active = 0;
    struct aiocb **list = calloc(depth, sizeof *list);
    if (!list)
        die("calloc: %s", strerror(errno));
    for (unsigned i = 0; i < depth && next < file_size; i++, next += block) {
        start_block(&slots[i], next);
        prepare(&slots[i]);
        list[active++] = &slots[i].cb;
    }
    if (active && lio_listio(LIO_NOWAIT, list, (int)active, NULL) < 0)
        die("lio_listio(LIO_NOWAIT, %u LIO_READV entries): %s", active, strerror(errno));
    unsigned first_batch = active;
    free(list);

    struct slot **done = calloc(depth + 1, sizeof *done);
    if (!done)
        die("calloc: %s", strerror(errno));
    unsigned long long requests = first_batch;
    while (active) {
        unsigned n = wait_some(done, NULL);
        for (unsigned i = 0; i < n; i++) {
            struct slot *s = done[i];
            if (!s)
                die("aio_reap: returned an aiocb that is not ours");
            if (!finished(s)) {
                requests++; /* the write, or the rest of a short transfer */
                continue;
            }
            active--;
            if (next < file_size) {
                start_block(s, next);
                next += block;
                submit(s);
                requests++;
                active++;
            }
        }
    }

    if (dst_direct && dst_regular && ftruncate(dst_fd, (off_t)file_size) < 0)
        die("ftruncate(%s): %s", dst_path, strerror(errno));

    /* Flush DST, asynchronously, waited for like the rest. */
    struct aiocb fs;
    memset(&fs, 0, sizeof fs);
    fs.aio_fildes = dst_fd;
    if (use_efd) {
        fs.aio_sigevent.sigev_notify = SIGEV_EVENTFD;
        fs.aio_sigevent.sigev_signo = efd;
    } else {
        fs.aio_sigevent.sigev_notify = SIGEV_NONE;
    }
    if (aio_fsync(O_SYNC, &fs) < 0)
        die("aio_fsync(%s): %s", dst_path, strerror(errno));
    for (int synced = 0; !synced;) {
        unsigned n = wait_some(done, &fs);
        for (unsigned i = 0; i < n; i++) {
            if (done[i])
                die("aio_reap: returned an aiocb that is not in flight");
            synced = 1;
        }
    }
    int err = aio_error(&fs);
    if (err < 0)
        die("aio_error(aio_fsync): %s", strerror(errno));
    if (err)
        die("aio_fsync(%s): %s", dst_path, strerror(err));
    if (aio_return(&fs) != 0)
        die("aio_return(aio_fsync): %s", strerror(errno));
    clock_gettime(CLOCK_MONOTONIC, &t1);

    if (close(dst_fd) < 0)
        die("close(%s): %s", dst_path, strerror(errno));
    close(src_fd);
    if (efd >= 0)
        close(efd);

    if (verbose) {
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr,
                "aio-cp: %llu bytes in %.3f s (%.1f MiB/s): depth %u, block %zu, %llu requests "
                "(first %u by lio_listio), O_DIRECT src %s dst %s, waiting with %s\n",
                (unsigned long long)file_size, secs,
                (double)file_size / 1048576.0 / (secs > 0 ? secs : 1e-9), depth, block, requests,
                first_batch, src_direct ? "yes" : "no", dst_direct ? "yes" : "no",
                use_efd ? "SIGEV_EVENTFD + aio_reap" : "aio_suspend");
    }
    for (unsigned i = 0; i < depth; i++)
        for (int j = 0; j < slots[i].nseg; j++)
            free(slots[i].seg[j].iov_base);
    free(slots);
    free(done);
    return 0;
}
