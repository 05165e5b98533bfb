/* kaio_reuse: a read submitted on a descriptor number that named an O_DIRECT file with reads
 * still in flight, but names something else now, never waits inside aio_read and reads what
 * the number names now. rtaio takes the flags of such a read from the live requests on the
 * number instead of asking fcntl again (one system call less per O_DIRECT read); native AIO
 * then submits it with RWF_NOWAIT, so the kernel answers EAGAIN where a blocking io_submit
 * would wait, and the pool does the read.
 *  1. Eight 1 MiB O_DIRECT reads of an 8 MiB file in flight on fd; dup2() puts an empty
 *     pipe's read end on fd; aio_read(fd) must return at once (a helper thread fills the
 *     pipe after 20 s if it has not: then the call waited, and the test fails), stay in
 *     progress while the pipe is empty, and read "hello" once it is written. The earlier
 *     reads return the file's data (native AIO holds the file). Repeated (up to 5 times)
 *     until an earlier read was still in progress when aio_read returned: the case tested.
 *  2. O_DIRECT cleared with F_SETFL while reads are in flight: a read of a part of the file
 *     not in the page cache returns the file's data.
 * Inherited backend; skipped on the thread pool (RTAIO_BACKEND=threads) and in glibc, where a
 * queued read of the file runs on the number when its turn comes and would read the pipe
 * (glibc bug 14942, kept for regular files: docs/BEHAVIOUR.md). */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define NREADS 8
#define CHUNK (1u << 20) /* one device request each: no RWF_NOWAIT refusal for want of tags */
#define FILE_SZ ((size_t)NREADS * CHUNK)
#define LATE_S 20.0 /* the helper fills the pipe after this long: aio_read waited */

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

static int pipe_w = -1;
static _Atomic int submitted;

/* Fills the pipe after LATE_S unless aio_read returned before. */
static void *late_writer(void *arg)
{
    (void)arg;
    double end = t_now() + LATE_S;
    while (!submitted && t_now() < end)
        t_sleep_ms(10);
    if (!submitted)
        t_write_all(pipe_w, "late!", 5);
    return NULL;
}

/* One round of case 1; returns 1 if an earlier read was still in progress when aio_read on
 * the reused number returned (the case happened), 0 if not. */
static int reuse_round(int round)
{
    int fd = make_file();
    int p[2];
    CHECK_OK(pipe(p));
    pipe_w = p[1];
    submitted = 0;
    static struct aiocb cbs[NREADS];
    unsigned char *bufs[NREADS];
    for (int i = 0; i < NREADS; i++) {
        bufs[i] = kaio_alloc(CHUNK);
        t_cb(&cbs[i], fd, bufs[i], CHUNK, (off_t)((size_t)i * CHUNK));
        CHECK_OK(aio_read(&cbs[i]));
    }
    /* The number now names the pipe; the file stays open only through the reads in flight. */
    CHECK_EQ(dup2(p[0], fd), fd);
    pthread_t late;
    CHECK_OK(pthread_create(&late, NULL, late_writer, NULL));
    unsigned char *pbuf = kaio_alloc(KA);
    memset(pbuf, 0xEE, KA);
    struct aiocb cb;
    t_cb(&cb, fd, pbuf, KA, 0);
    double t0 = t_now();
    int r = aio_read(&cb);
    double took = t_now() - t0;
    submitted = 1;
    int live = 0;
    for (int i = 0; i < NREADS; i++)
        live += aio_error(&cbs[i]) == EINPROGRESS;
    pthread_join(late, NULL);
    if (r != 0)
        FAILF("round %d: aio_read on the reused number: %s", round, strerror(errno));
    if (took > LATE_S - 1)
        FAILF("round %d: aio_read on a number now naming an empty pipe waited %.1f s inside "
              "the call (until the pipe had data)",
              round, took);
    t_sleep_ms(50);
    int e = aio_error(&cb);
    if (e != EINPROGRESS)
        FAILF("round %d: the read of an empty pipe is done before anything was written: "
              "aio_error %d (%s)",
              round, e, strerror(e));
    t_write_all(p[1], "hello", 5);
    ssize_t n = t_wait_return(&cb, 0, "the read of the pipe");
    if (n != 5 || memcmp(pbuf, "hello", 5) != 0)
        FAILF("round %d: the read of the pipe returned %zd bytes (\"%.*s\"), expected \"hello\"",
              round, n, n > 0 ? (int)n : 0, (const char *)pbuf);
    for (int i = 0; i < NREADS; i++) {
        char what[64];
        snprintf(what, sizeof what, "O_DIRECT read %d", i);
        CHECK_EQ(t_wait_return(&cbs[i], 0, what), (ssize_t)CHUNK);
        check_data(bufs[i], (size_t)i * CHUNK, CHUNK, what);
        free(bufs[i]);
    }
    free(pbuf);
    close(fd);
    close(p[0]);
    close(p[1]);
    t_note("round %d: %d of %d earlier reads in progress when aio_read returned (%.0f us)", round,
           live, NREADS, took * 1e6);
    return live > 0;
}

/* Case 2: O_DIRECT cleared while reads are in flight; a later read still gets the file's data
 * (whether native AIO takes it without waiting or gives it back to the pool). */
static void setfl_case(void)
{
    int fd = make_file();
    static struct aiocb cbs[NREADS];
    unsigned char *bufs[NREADS];
    for (int i = 0; i < NREADS - 1; i++) {
        bufs[i] = kaio_alloc(CHUNK);
        t_cb(&cbs[i], fd, bufs[i], CHUNK, (off_t)((size_t)i * CHUNK));
        CHECK_OK(aio_read(&cbs[i]));
    }
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl >= 0);
    CHECK_OK(fcntl(fd, F_SETFL, fl & ~O_DIRECT));
    /* the last chunk: never read through the page cache, so not cached */
    unsigned char *b = kaio_alloc(KA);
    struct aiocb cb;
    t_cb(&cb, fd, b, KA, (off_t)(FILE_SZ - KA));
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "read after F_SETFL cleared O_DIRECT"), (ssize_t)KA);
    check_data(b, FILE_SZ - KA, KA, "read after F_SETFL cleared O_DIRECT");
    for (int i = 0; i < NREADS - 1; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, "O_DIRECT read before F_SETFL"), (ssize_t)CHUNK);
        check_data(bufs[i], (size_t)i * CHUNK, CHUNK, "O_DIRECT read before F_SETFL");
        free(bufs[i]);
    }
    free(b);
    close(fd);
}

int main(void)
{
    t_init("kaio_reuse");
    if (t_glibc())
        SKIP("glibc runs a queued read of a regular file on whatever its number names then");
    if (strcmp(kaio_backend(), "threads") == 0)
        SKIP("the thread pool runs a queued read of a regular file on whatever its number "
             "names then (as glibc does)");
    int happened = 0;
    for (int round = 1; round <= 5 && !happened; round++)
        happened = reuse_round(round);
    if (!happened)
        FAILF("in 5 rounds no earlier read was still in progress when aio_read on the reused "
              "number returned (8 MiB of O_DIRECT reads done in microseconds?)");
    setfl_case();
    return T_PASS;
}
