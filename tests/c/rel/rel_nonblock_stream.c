/* rel_nonblock_stream: requests on pipes, FIFOs and sockets whose descriptor is O_NONBLOCK.
 * read() and write() answer EAGAIN at once there when there is no data or no room, and so
 * does glibc's AIO (its worker makes those calls): aio_error must report EAGAIN, aio_return
 * -1, not wait for data that may never come (io_uring waits, by polling, on such a file).
 * With data or room, the request transfers as usual. */
#include "t.h"

static void expect_eagain(struct aiocb *cb, const char *what)
{
    int e = t_wait(cb);
    if (e != EAGAIN)
        FAILF("%s: aio_error = %d (%s), expected EAGAIN", what, e, strerror(e));
    CHECK_EQ(aio_return(cb), -1);
}

static void reads(int rd, int wr, const char *what)
{
    char buf[64];
    struct aiocb cb;
    t_cb(&cb, rd, buf, sizeof buf, 0);
    CHECK_OK(aio_read(&cb));
    expect_eagain(&cb, what);
    /* With data there, it is read. */
    t_write_all(wr, "hello", 5);
    t_cb(&cb, rd, buf, sizeof buf, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait(&cb), 0);
    CHECK_EQ(aio_return(&cb), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
}

static void writes(int rd, int wr, const char *what)
{
    static char fill[65536];
    size_t filled = 0;
    for (;;) {
        ssize_t n = write(wr, fill, sizeof fill);
        if (n < 0 && errno == EAGAIN) {
            n = write(wr, fill, 1); /* the last bytes (a socket's buffer is not page-sized) */
            if (n < 0 && errno == EAGAIN)
                break;
        }
        CHECK(n > 0);
        filled += (size_t)n;
    }
    static char b[4096];
    struct aiocb cb;
    t_cb(&cb, wr, b, sizeof b, 0);
    CHECK_OK(aio_write(&cb));
    expect_eagain(&cb, what);
    /* With room, it is written. */
    static char sink[65536];
    while (filled > 0) {
        ssize_t n = read(rd, sink, sizeof sink);
        if (n < 0 && errno == EAGAIN)
            break;
        CHECK(n > 0);
        filled -= (size_t)n;
    }
    memset(b, 'w', sizeof b);
    t_cb(&cb, wr, b, sizeof b, 0);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait(&cb), 0);
    CHECK_EQ(aio_return(&cb), (ssize_t)sizeof b);
}

int main(void)
{
    t_init("rel_nonblock_stream");
    int p[2];
    CHECK_OK(pipe2(p, O_NONBLOCK));
    reads(p[0], p[1], "pipe read");
    writes(p[0], p[1], "pipe write");
    close(p[0]);
    close(p[1]);

    int s[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s));
    reads(s[0], s[1], "socket read");
    writes(s[1], s[0], "socket write");
    close(s[0]);
    close(s[1]);

    /* A FIFO made non-blocking with F_SETFL after open. */
    char dir[] = "/tmp/rtaio-nbfifo-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[sizeof dir + 8];
    snprintf(path, sizeof path, "%s/f", dir);
    CHECK_OK(mkfifo(path, 0600));
    int f = open(path, O_RDWR);
    CHECK(f >= 0);
    CHECK_OK(fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_NONBLOCK));
    reads(f, f, "FIFO read");
    close(f);
    unlink(path);
    rmdir(dir);
    return T_PASS;
}
