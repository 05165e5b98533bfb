/* pipes_sockets: aio_read/aio_write on descriptors that cannot seek (BEHAVIOUR.md: read /
 * write, offset ignored): pipe, socketpair (stream and datagram), FIFO. Data checked
 * byte for byte; a read asking for more than is available returns the short count; a
 * read issued before the data arrives waits for it; EOF on a pipe gives 0. */
#include "t.h"

static void roundtrip(int wfd, int rfd, const char *what)
{
    static unsigned char out[3000], in[4096];
    t_fill_random(out, sizeof out);
    struct aiocb w, r;
    t_cb(&w, wfd, out, sizeof out, 123456789); /* offset ignored */
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, what), (ssize_t)sizeof out);
    memset(in, 0, sizeof in);
    t_cb(&r, rfd, in, sizeof in, 987654321);
    CHECK_OK(aio_read(&r));
    ssize_t got = t_wait_return(&r, 0, what);
    CHECK(got > 0 && got <= (ssize_t)sizeof out);
    /* stream: possibly short; fetch the rest with plain reads */
    if (got < (ssize_t)sizeof out)
        t_read_all(rfd, in + got, sizeof out - (size_t)got);
    if (memcmp(in, out, sizeof out) != 0)
        FAILF("%s: data mismatch", what);

    /* read first, data later */
    t_cb(&r, rfd, in, 10, 5);
    CHECK_OK(aio_read(&r));
    t_sleep_ms(50);
    CHECK_EQ(aio_error(&r), EINPROGRESS);
    t_write_all(wfd, "0123456789", 10);
    CHECK_EQ(t_wait_return(&r, 0, what), 10);
    CHECK(memcmp(in, "0123456789", 10) == 0);

    /* several reads and writes in flight: the byte stream is preserved in total */
    enum { K = 8 };
    struct aiocb ws[K], rs[K];
    static char wb[K][100], rb[K][100];
    int counts[256] = { 0 };
    for (int i = 0; i < K; i++) {
        memset(wb[i], 'a' + i, 100);
        t_cb(&ws[i], wfd, wb[i], 100, (off_t)i * 1000);
        CHECK_OK(aio_write(&ws[i]));
    }
    for (int i = 0; i < K; i++)
        CHECK_EQ(t_wait_return(&ws[i], 0, what), 100);
    size_t total = 0;
    while (total < K * 100) {
        for (int i = 0; i < K; i++) {
            t_cb(&rs[i], rfd, rb[i], 100, 0);
            CHECK_OK(aio_read(&rs[i]));
            ssize_t n = t_wait_return(&rs[i], 0, what);
            CHECK(n > 0);
            for (ssize_t k = 0; k < n; k++)
                counts[(unsigned char)rb[i][k]]++;
            total += (size_t)n;
            if (total >= K * 100)
                break;
        }
    }
    for (int i = 0; i < K; i++)
        CHECK_EQ(counts['a' + i], 100);
}

int main(void)
{
    t_init("pipes_sockets");
    int p[2];
    CHECK_OK(pipe(p));
    roundtrip(p[1], p[0], "pipe");

    int s[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
    roundtrip(s[0], s[1], "stream socket a->b");
    roundtrip(s[1], s[0], "stream socket b->a");

    /* datagram socket: one message per read, short read truncates */
    int d[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_DGRAM, 0, d));
    struct aiocb w, r;
    char msg[50], in[100];
    memset(msg, 'D', sizeof msg);
    t_cb(&w, d[0], msg, sizeof msg, 77);
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "dgram write"), 50);
    t_cb(&r, d[1], in, sizeof in, 77);
    CHECK_OK(aio_read(&r));
    CHECK_EQ(t_wait_return(&r, 0, "dgram read"), 50);
    CHECK(memcmp(in, msg, 50) == 0);

    /* FIFO */
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rtaio-fifo-%d", dir && *dir ? dir : "/tmp", (int)getpid());
    unlink(path);
    CHECK_OK(mkfifo(path, 0600));
    int f = open(path, O_RDWR);
    CHECK(f >= 0);
    unlink(path);
    roundtrip(f, f, "fifo");

    /* EOF on a pipe: read returns 0 */
    close(p[1]);
    t_cb(&r, p[0], in, sizeof in, 0);
    CHECK_OK(aio_read(&r));
    CHECK_EQ(t_wait_return(&r, 0, "pipe EOF"), 0);
    /* write to a pipe without reader: EPIPE via aio_error (SIGPIPE ignored) */
    signal(SIGPIPE, SIG_IGN);
    int q[2];
    CHECK_OK(pipe(q));
    close(q[0]);
    t_cb(&w, q[1], msg, 10, 0);
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, EPIPE, "write to a closed pipe"), -1);
    return T_PASS;
}
