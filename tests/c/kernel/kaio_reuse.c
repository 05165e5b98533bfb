/* kaio_reuse: a read submitted on a descriptor number that named an O_DIRECT file with reads
 * still in flight, but names something else now, never waits inside aio_read and returns what
 * the read glibc would do on that number returns. rtaio takes the flags of such a read from the
 * live requests on the number instead of asking fcntl again (one system call less per O_DIRECT
 * read); native AIO then submits it with RWF_NOWAIT, so the kernel answers EAGAIN where a
 * blocking io_submit would wait, and the pool does again whatever such a read did not do whole.
 *  1. Eight 1 MiB O_DIRECT reads of an 8 MiB file in flight on fd; dup2() puts something else
 *     on fd; then aio_read(fd) must return at once (a helper thread feeds the stream after 20 s
 *     if it has not: then the call waited, and the test fails) and read "hello":
 *     a. an empty pipe: the read stays in progress until "hello" is written;
 *     b. a pipe already holding "hello": read as it is (a stream's data, once taken, is the
 *        result: doing the read again would lose it);
 *     c. an empty stream socket, read at offset 4096 (the socket answers ESPIPE to a read at
 *        an offset: as glibc, the read is done at the socket's position), "hello" written later.
 *     The earlier reads return the file's data (native AIO holds the file). Each case repeated
 *     (up to ROUNDS times) until an earlier read was still in flight when aio_read returned.
 *  2. O_DIRECT cleared with F_SETFL while reads are in flight: an 8 KiB read whose first page
 *     alone is in the page cache returns all 8 KiB, as pread does (RWF_NOWAIT stops short).
 * Inherited backend; skipped on the thread pool (RTAIO_BACKEND=threads) and in glibc, where a
 * queued read of the file runs on the number when its turn comes and would read the stream
 * (glibc bug 14942, kept for regular files: docs/BEHAVIOUR.md). The earlier reads must not be
 * given back by the kernel (EAGAIN under RWF_NOWAIT: a writer holding the file's lock, its
 * extents not in memory): one given back would run on the number, after dup2. Nothing writes
 * the file meanwhile, and it was just written, so that does not happen here. */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define NREADS 8
#define CHUNK (1u << 20)
#define FILE_SZ ((size_t)NREADS * CHUNK)
#define LATE_S 20.0 /* the helper fills the pipe after this long: aio_read waited */
/* Rounds of each case until one happens (the first, in most runs). */
#define ROUNDS 20

static unsigned char pattern(size_t off)
{
    return (unsigned char)((off >> 12) * 131 + (off & 4095) * 7 + 1);
}

static int make_file(void)
{
    int fd = kaio_open(O_DIRECT);
    unsigned char *b = kaio_alloc(CHUNK);
    for (size_t c = 0; c < NREADS; c++) {
        for (size_t i = 0; i < CHUNK; i++)
            b[i] = pattern(c * CHUNK + i);
        CHECK_EQ(pwrite(fd, b, CHUNK, (off_t)(c * CHUNK)), (ssize_t)CHUNK);
    }
    free(b);
    return fd;
}

static void check_data(const unsigned char *b, size_t off, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern(off + i))
            FAILF("%s: wrong data at file offset %zu", what, off + i);
}

static int feed_fd = -1;
static _Atomic int submitted;

/* Feeds the stream after LATE_S unless aio_read returned before. */
static void *late_writer(void *arg)
{
    (void)arg;
    double end = t_now() + LATE_S;
    while (!submitted && t_now() < end)
        t_sleep_ms(10);
    if (!submitted)
        t_write_all(feed_fd, "late!", 5);
    return NULL;
}

enum what { EMPTY_PIPE, FULL_PIPE, SOCKET };
static const char *const what_name[] = { "an empty pipe", "a pipe holding data", "a socket" };

/* O_DIRECT reads of the first n chunks in flight on fd. */
static void reads_in_flight(int fd, struct aiocb *cbs, unsigned char **bufs, int n)
{
    for (int i = 0; i < n; i++) {
        bufs[i] = kaio_alloc(CHUNK);
        t_cb(&cbs[i], fd, bufs[i], CHUNK, (off_t)((size_t)i * CHUNK));
        CHECK_OK(aio_read(&cbs[i]));
    }
}

static void reads_done(struct aiocb *cbs, unsigned char **bufs, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s: O_DIRECT read %d", what, i);
        CHECK_EQ(t_wait_return(&cbs[i], 0, w), (ssize_t)CHUNK);
        check_data(bufs[i], (size_t)i * CHUNK, CHUNK, w);
        free(bufs[i]);
    }
}

static int in_progress(const struct aiocb *cbs, int n)
{
    int live = 0;
    for (int i = 0; i < n; i++)
        live += aio_error(&cbs[i]) == EINPROGRESS;
    return live;
}

/* One round of case 1; returns 1 if an earlier read was still in progress when aio_read on
 * the reused number returned (the case happened), 0 if not. */
static int reuse_round(enum what what, int round)
{
    static struct aiocb cbs[NREADS];
    unsigned char *bufs[NREADS];
    int s[2];
    if (what == SOCKET)
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s));
    else
        CHECK_OK(pipe2(s, O_CLOEXEC));
    feed_fd = s[1];
    if (what == FULL_PIPE)
        t_write_all(s[1], "hello", 5);
    submitted = 0;
    int fd = make_file();
    /* Everything else first: between the reads' submission and aio_read's return, as little
     * as possible (under a sanitizer on a busy machine, 8 MiB of reads can finish in a
     * thread's start-up). */
    pthread_t late;
    CHECK_OK(pthread_create(&late, NULL, late_writer, NULL));
    unsigned char *buf = kaio_alloc(KA);
    memset(buf, 0xEE, KA);
    reads_in_flight(fd, cbs, bufs, NREADS);
    /* The number now names the stream; the file stays open only through the reads in flight. */
    CHECK_EQ(dup2(s[0], fd), fd);
    struct aiocb cb;
    t_cb(&cb, fd, buf, KA, what == SOCKET ? KA : 0);
    double t0 = t_now();
    int r = aio_read(&cb);
    double took = t_now() - t0;
    submitted = 1;
    int live = in_progress(cbs, NREADS);
    pthread_join(late, NULL);
    if (r != 0)
        FAILF("%s, round %d: aio_read on the reused number: %s", what_name[what], round, strerror(errno));
    if (took > LATE_S - 1)
        FAILF("%s, round %d: aio_read on the reused number waited %.1f s inside the call (until "
              "the stream had data)",
              what_name[what], round, took);
    if (what != FULL_PIPE) {
        t_sleep_ms(50);
        int e = aio_error(&cb);
        if (e != EINPROGRESS)
            FAILF("%s, round %d: the read is done before anything was written: aio_error %d (%s)",
                  what_name[what], round, e, strerror(e));
        t_write_all(s[1], "hello", 5);
    }
    ssize_t n = t_wait_return(&cb, 0, what_name[what]);
    if (n != 5 || memcmp(buf, "hello", 5) != 0)
        FAILF("%s, round %d: the read returned %zd bytes (\"%.*s\"), expected \"hello\"",
              what_name[what], round, n, n > 0 ? (int)n : 0, (const char *)buf);
    reads_done(cbs, bufs, NREADS, what_name[what]);
    free(buf);
    close(fd);
    close(s[0]);
    close(s[1]);
    t_note("%s, round %d: %d of %d earlier reads in progress when aio_read returned (%.0f us)",
           what_name[what], round, live, NREADS, took * 1e6);
    return live > 0;
}

/* Case 2: O_DIRECT cleared while reads are in flight; an 8 KiB read whose first page alone is
 * cached returns all of it. Returns 1 if an earlier read was in progress when it returned. */
static int setfl_round(int round)
{
    static struct aiocb cbs[NREADS];
    unsigned char *bufs[NREADS];
    const size_t at = FILE_SZ - CHUNK / 2; /* in the last chunk, which no O_DIRECT read reads */
    int fd = make_file();
    /* One page cached through a buffered descriptor of the same file, without readahead. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int bfd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(bfd >= 0);
    CHECK_OK(posix_fadvise(bfd, 0, 0, POSIX_FADV_RANDOM));
    unsigned char page[KA];
    CHECK_EQ(pread(bfd, page, KA, (off_t)at), (ssize_t)KA);
    /* Reads of chunks 0..NREADS-2 in flight. */
    reads_in_flight(fd, cbs, bufs, NREADS - 1);
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0);
    CHECK_OK(fcntl(fd, F_SETFL, fl & ~O_DIRECT));
    unsigned char *b = kaio_alloc(2 * KA);
    struct aiocb cb;
    t_cb(&cb, fd, b, 2 * KA, (off_t)at);
    CHECK_OK(aio_read(&cb));
    int live = in_progress(cbs, NREADS - 1);
    ssize_t n = t_wait_return(&cb, 0, "read after F_SETFL cleared O_DIRECT");
    if (n != 2 * KA)
        FAILF("round %d: an 8 KiB read of a file, its first page cached, returned %zd bytes after "
              "F_SETFL cleared O_DIRECT (pread returns 8192)",
              round, n);
    check_data(b, at, 2 * KA, "read after F_SETFL cleared O_DIRECT");
    reads_done(cbs, bufs, NREADS - 1, "before F_SETFL");
    free(b);
    close(bfd);
    close(fd);
    t_note("F_SETFL, round %d: %d of %d earlier reads in progress when aio_read returned", round,
           live, NREADS - 1);
    return live > 0;
}

int main(void)
{
    t_init("kaio_reuse");
    if (t_glibc())
        SKIP("glibc runs a queued read of a regular file on whatever its number names then");
    if (strcmp(kaio_backend(), "threads") == 0)
        SKIP("the thread pool runs a queued read of a regular file on whatever its number "
             "names then (as glibc does)");
    for (enum what w = EMPTY_PIPE; w <= SOCKET; w++) {
        int happened = 0;
        for (int round = 1; round <= ROUNDS && !happened; round++)
            happened = reuse_round(w, round);
        if (!happened)
            FAILF("%s: in %d rounds no earlier read was still in progress when aio_read on the "
                  "reused number returned (8 MiB of O_DIRECT reads done in microseconds?)",
                  what_name[w], ROUNDS);
    }
    int happened = 0;
    for (int round = 1; round <= ROUNDS && !happened; round++)
        happened = setfl_round(round);
    if (!happened)
        FAILF("F_SETFL: in %d rounds no earlier read was still in progress when aio_read returned", ROUNDS);
    return T_PASS;
}
