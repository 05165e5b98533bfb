/* ext_eventfd_retired: an eventfd's queue that rtaio retired (its number named a regular file
 * at a submission, refused with EINVAL) must not be used again when a new eventfd gets the
 * number: every completion the new eventfd counts is handed out by aio_reap. (The retired
 * queue stayed in the table when no queue could replace it, and took the next tickets: the
 * eventfd counted completions whose aiocbs it had dropped.) */
#include "t.h"
#include <poll.h>
#include <rtaio.h>
#include <sys/eventfd.h>

static void setup(struct aiocb *cb, int fd, char *buf, int efd)
{
    memset(cb, 0, sizeof *cb);
    cb->aio_fildes = fd;
    cb->aio_buf = buf;
    cb->aio_nbytes = 4;
    cb->aio_sigevent.sigev_notify = SIGEV_EVENTFD;
    cb->aio_sigevent.sigev_signo = efd;
}

int main(void)
{
    t_init("ext_eventfd_retired");
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100 });
    static struct aiocb r1, bad, r2;
    static char b1[4], b2[4], b3[4];
    int fd = t_tmpfile();
    t_pwrite_all(fd, "abcdefgh", 8, 0);
    int n = eventfd(0, EFD_NONBLOCK); /* eventfd A */
    CHECK(n >= 0);
    setup(&r1, fd, b1, n);
    CHECK_OK(aio_read(&r1));
    CHECK_EQ(t_wait(&r1), 0); /* complete, left unreaped on A */
    CHECK_OK(close(n));
    int f = t_tmpfile(); /* a regular file takes the number */
    if (f != n)
        SKIP("the regular file got %d, not %d", f, n);
    setup(&bad, fd, b2, n);
    CHECK_ERR(aio_read(&bad), EINVAL);
    CHECK_OK(close(f));
    int e = eventfd(0, EFD_NONBLOCK); /* eventfd B takes the number */
    if (e != n)
        SKIP("the eventfd got %d, not %d", e, n);
    setup(&r2, fd, b3, e);
    CHECK_OK(aio_read(&r2));
    CHECK_EQ(t_wait(&r2), 0);
    struct pollfd pf = { e, POLLIN, 0 };
    CHECK_EQ(poll(&pf, 1, -1), 1); /* counted on B */
    uint64_t cnt = 0;
    CHECK_EQ(read(e, &cnt, 8), 8);
    CHECK_EQ(cnt, 1);
    struct aiocb *out[4];
    CHECK_EQ(aio_reap(e, out, 4), 1);
    CHECK(out[0] == &r2);
    CHECK_EQ(aio_return(&r2), 4);
    CHECK(memcmp(b3, "abcd", 4) == 0);
    return T_PASS;
}
