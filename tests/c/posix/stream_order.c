/* stream_order: BEHAVIOUR.md "Ordering" for descriptors incapable of seeking.
 *  - two 1 MiB aio_writes to one pipe arrive whole and in call order (never interleaved),
 *    20 times;
 *  - reads of one pipe take its bytes in call order: 8 one-byte reads, then "abcdefgh";
 *  - a read and a write on one socket run at once: with an aio_read blocked on a socketpair
 *    end, an aio_write on that same end completes and the peer receives it (glibc parks the
 *    write behind the read);
 *  - a FIFO opened O_RDWR: a blocked aio_read, then an aio_write on the same descriptor that
 *    satisfies it: both complete (glibc deadlocks);
 *  - requests queued behind a blocked read are cancellable: aio_cancel(fd, NULL) cancels the
 *    queued reads (ECANCELED, each notified once) and answers AIO_NOTCANCELED for the running
 *    one, which completes later. */
#include "t.h"

#define BIG (1 << 20)
static _Atomic int notes;
static void on_note(union sigval v)
{
    (void)v;
    notes++;
}

int main(void)
{
    t_init("stream_order");
    static char a[BIG], b[BIG], got[2 * BIG];
    memset(a, 'A', sizeof a);
    memset(b, 'B', sizeof b);
    for (int round = 0; round < 20; round++) {
        int p[2];
        CHECK_OK(pipe(p));
        struct aiocb wa, wb;
        t_cb(&wa, p[1], a, BIG, 0);
        t_cb(&wb, p[1], b, BIG, 0);
        CHECK_OK(aio_write(&wa));
        CHECK_OK(aio_write(&wb));
        t_read_all(p[0], got, sizeof got);
        CHECK_EQ(t_wait_return(&wa, 0, "first write"), BIG);
        CHECK_EQ(t_wait_return(&wb, 0, "second write"), BIG);
        int switches = 0;
        for (size_t i = 1; i < sizeof got; i++)
            switches += got[i] != got[i - 1];
        if (got[0] != 'A' || switches != 1)
            FAILF("round %d: the writes arrived mixed (%d switches, first byte %c)", round, switches,
                  got[0]);
        close(p[0]);
        close(p[1]);
    }

    /* reads take the bytes in call order */
    {
        int p[2];
        CHECK_OK(pipe(p));
        struct aiocb r[8];
        char c[8];
        for (int i = 0; i < 8; i++) {
            t_cb(&r[i], p[0], &c[i], 1, 0);
            CHECK_OK(aio_read(&r[i]));
        }
        t_write_all(p[1], "abcdefgh", 8);
        for (int i = 0; i < 8; i++)
            CHECK_EQ(t_wait_return(&r[i], 0, "pipe read"), 1);
        if (memcmp(c, "abcdefgh", 8) != 0)
            FAILF("reads took \"%.8s\", expected \"abcdefgh\"", c);
        close(p[0]);
        close(p[1]);
    }

    /* a read and a write on one socket at once */
    {
        int sv[2];
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
        char rb, wbuf[4] = "ping", peer[4];
        struct aiocb rd, wr;
        t_cb(&rd, sv[0], &rb, 1, 0);
        CHECK_OK(aio_read(&rd));
        t_wait_blocked_read(sv[0]);
        t_cb(&wr, sv[0], wbuf, 4, 0);
        CHECK_OK(aio_write(&wr));
        t_read_all(sv[1], peer, 4); /* would block forever if the write waited for the read */
        CHECK(memcmp(peer, "ping", 4) == 0);
        CHECK_EQ(t_wait_return(&wr, 0, "write beside a blocked read"), 4);
        CHECK_EQ(aio_error(&rd), EINPROGRESS);
        t_write_all(sv[1], "!", 1);
        CHECK_EQ(t_wait_return(&rd, 0, "the read"), 1);
        close(sv[0]);
        close(sv[1]);
    }

    /* a FIFO open for reading and writing: the write satisfies the blocked read */
    {
        char path[256];
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/rtaio-fifo-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
        CHECK_OK(mkfifo(path, 0600));
        int f = open(path, O_RDWR);
        CHECK(f >= 0);
        unlink(path);
        char rb[3], wbuf[3] = "xyz";
        struct aiocb rd, wr;
        t_cb(&rd, f, rb, 3, 0);
        CHECK_OK(aio_read(&rd));
        t_wait_blocked_read(f);
        t_cb(&wr, f, wbuf, 3, 0);
        CHECK_OK(aio_write(&wr));
        CHECK_EQ(t_wait_return(&wr, 0, "FIFO write"), 3);
        CHECK_EQ(t_wait_return(&rd, 0, "FIFO read"), 3);
        CHECK(memcmp(rb, "xyz", 3) == 0);
        close(f);
    }

    /* queued behind a blocked read: cancellable (on io_uring, the blocked read as well) */
    {
        int p[2];
        CHECK_OK(pipe(p));
        struct aiocb r[4];
        char c[4];
        for (int i = 0; i < 4; i++) {
            t_cb(&r[i], p[0], &c[i], 1, 0);
            r[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            r[i].aio_sigevent.sigev_notify_function = on_note;
            CHECK_OK(aio_read(&r[i]));
        }
        t_wait_blocked_read(p[0]);
        CHECK_EQ(aio_cancel(p[0], &r[3]), AIO_CANCELED);
        CHECK_EQ(aio_error(&r[3]), ECANCELED);
        if (t_uring()) {
            /* io_uring: the running read waits by polling, and the kernel cancels it too */
            CHECK_EQ(aio_cancel(p[0], NULL), AIO_CANCELED);
            for (int i = 0; i < 3; i++)
                CHECK_EQ(aio_error(&r[i]), ECANCELED);
            t_wait_atomic(&notes, 4, "notifications of the cancelled reads");
            for (int i = 0; i < 4; i++)
                CHECK_EQ(aio_return(&r[i]), -1);
            /* nothing consumed: the byte written now is still there for a plain read */
            t_write_all(p[1], "q", 1);
            char q = 0;
            t_read_all(p[0], &q, 1);
            CHECK_EQ(q, 'q');
        } else {
            CHECK_EQ(aio_cancel(p[0], NULL), AIO_NOTCANCELED);
            CHECK_EQ(aio_error(&r[1]), ECANCELED);
            CHECK_EQ(aio_error(&r[2]), ECANCELED);
            CHECK_EQ(aio_error(&r[0]), EINPROGRESS);
            t_wait_atomic(&notes, 3, "notifications of the cancelled reads");
            t_write_all(p[1], "q", 1);
            CHECK_EQ(t_wait_return(&r[0], 0, "the running read"), 1);
            t_wait_atomic(&notes, 4, "notification of the running read");
            for (int i = 1; i < 4; i++)
                CHECK_EQ(aio_return(&r[i]), -1);
        }
        t_sleep_ms(100);
        CHECK_EQ(notes, 4);
    }
    return T_PASS;
}
