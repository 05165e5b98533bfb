/* fifo_after_file: a descriptor number that named a regular file, whose requests have all
 * completed, closed and reused for a FIFO opened with the same access mode (its status flags
 * are then the file's: open() sets O_LARGEFILE on both). Writes to the FIFO must land in
 * submission order (POSIX: a device incapable of seeking), as on any FIFO: the number no
 * longer names the file, whatever rtaio still holds of the file's completed requests.
 *
 * Each round: a write to the file, waited for with aio_suspend (so that the thread may run
 * it itself and the library finish it later), then at once close(), the FIFO at the same
 * number, filled up, and a burst of small writes (each one atomic: under PIPE_BUF). The main
 * thread then waits for the last write with aio_suspend while a reader drains the FIFO
 * slowly: the records must come out in submission order (a write taken for a regular file's
 * would be run by whichever thread got to it first). */
#include "t.h"

#define ROUNDS 12
#define BURST 24
#define REC 256

struct drain {
    int fd;
    size_t filler;
    char got[BURST][REC];
};

static void *drainer(void *arg)
{
    struct drain *d = arg;
    t_sleep_ms(30); /* the writes are all submitted, the first one waiting for room */
    static char sink[REC];
    for (size_t left = d->filler; left > 0;) {
        size_t n = left < sizeof sink ? left : sizeof sink;
        t_read_all(d->fd, sink, n);
        left -= n;
    }
    for (int i = 0; i < BURST; i++)
        t_read_all(d->fd, d->got[i], REC);
    return NULL;
}

static void round_once(const char *fifo, int round)
{
    int fd = t_tmpfile();
    int flags = fcntl(fd, F_GETFL);
    static char fbuf[4096];
    memset(fbuf, 'f', sizeof fbuf);
    struct aiocb fcb;
    t_cb(&fcb, fd, fbuf, sizeof fbuf, 0);
    CHECK_OK(aio_write(&fcb));
    const struct aiocb *l[1] = { &fcb };
    while (aio_error(&fcb) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, NULL) == 0 || errno == EINTR);
    CHECK_EQ(aio_return(&fcb), (ssize_t)sizeof fbuf);

    /* The reader first (so the writer's open does not wait), then the number, then a
     * non-blocking writer to fill the FIFO with. */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0);
    CHECK_OK(close(fd));
    int w = open(fifo, O_RDWR);
    CHECK(w >= 0);
    if (w != fd || fcntl(w, F_GETFL) != flags) {
        int wf = fcntl(w, F_GETFL);
        close(w);
        close(rd);
        SKIP("the FIFO did not get the file's number and flags (%d %#x, not %d %#x)", w, wf, fd, flags);
    }
    int fill = open(fifo, O_WRONLY | O_NONBLOCK);
    CHECK(fill >= 0);
    struct drain d = { .fd = rd, .filler = 0 };
    static char filler[4096];
    memset(filler, '-', sizeof filler);
    for (;;) {
        ssize_t n = write(fill, filler, sizeof filler);
        if (n < 0 && errno == EAGAIN)
            break;
        CHECK(n > 0);
        d.filler += (size_t)n;
    }
    close(fill);
    CHECK_OK(fcntl(rd, F_SETFL, 0)); /* the drainer's reads wait for data */

    static char data[BURST][REC];
    struct aiocb cb[BURST];
    for (int i = 0; i < BURST; i++) {
        memset(data[i], 0, REC);
        snprintf(data[i], REC, "round %d record %d", round, i);
        t_cb(&cb[i], w, data[i], REC, 0);
        CHECK_OK(aio_write(&cb[i]));
    }
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, drainer, &d), 0);
    const struct aiocb *last[1] = { &cb[BURST - 1] };
    while (aio_error(&cb[BURST - 1]) == EINPROGRESS)
        CHECK(aio_suspend(last, 1, NULL) == 0 || errno == EINTR);
    for (int i = 0; i < BURST; i++)
        CHECK_EQ(t_wait_return(&cb[i], 0, "FIFO write"), (ssize_t)REC);
    CHECK_EQ(pthread_join(t, NULL), 0);
    for (int i = 0; i < BURST; i++)
        if (memcmp(d.got[i], data[i], REC) != 0)
            FAILF("round %d: record %d of the FIFO is \"%.40s\", expected \"%s\" (writes reordered)",
                  round, i, d.got[i], data[i]);
    close(w);
    close(rd);
}

int main(void)
{
    t_init("fifo_after_file");
    char dir[] = "/tmp/rtaio-fifo-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char fifo[sizeof dir + 8];
    snprintf(fifo, sizeof fifo, "%s/f", dir);
    CHECK_OK(mkfifo(fifo, 0600));
    for (int r = 0; r < ROUNDS; r++)
        round_once(fifo, r);
    unlink(fifo);
    rmdir(dir);
    return T_PASS;
}
