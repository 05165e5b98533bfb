/* rel_fsize_signal: writes past RLIMIT_FSIZE with SIGXFSZ left at its default action (which
 * ends the process). write(2) raises SIGXFSZ in the thread that makes the call; glibc makes
 * it in a thread of its own that blocks every signal, so the program only sees EFBIG through
 * aio_error. rtaio must not make such a call in an application's thread either (not even when
 * the thread waits for its own request in aio_suspend and could run it itself).
 * Also: a write that crosses the limit is shortened (no signal), one below it is whole. */
#include "t.h"
#include <sys/resource.h>

#define LIMIT 10000

static ssize_t write_and_wait(int fd, const char *buf, size_t n, off_t off, int *err)
{
    struct aiocb cb;
    t_cb(&cb, fd, (void *)buf, n, off);
    CHECK_OK(aio_write(&cb));
    const struct aiocb *l[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, NULL) == 0 || errno == EINTR); /* no timeout: it may run it */
    *err = aio_error(&cb);
    return aio_return(&cb);
}

int main(void)
{
    t_init("rel_fsize_signal");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    CHECK_OK(sigaction(SIGXFSZ, &sa, NULL));
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    CHECK_OK(sigprocmask(SIG_UNBLOCK, &s, NULL));
    struct rlimit rl = { LIMIT, RLIM_INFINITY };
    CHECK_OK(setrlimit(RLIMIT_FSIZE, &rl));
    int fd = t_tmpfile();
    static char buf[8192];
    memset(buf, 'x', sizeof buf);
    int err;
    for (int round = 0; round < 20; round++) {
        CHECK_EQ(write_and_wait(fd, buf, 4096, 0, &err), 4096);
        CHECK_EQ(err, 0);
        /* Crossing the limit: shortened to it. */
        CHECK_EQ(write_and_wait(fd, buf, 8192, 4096, &err), LIMIT - 4096);
        CHECK_EQ(err, 0);
        /* At and past the limit: EFBIG, and the process lives on. */
        CHECK_EQ(write_and_wait(fd, buf, 100, LIMIT, &err), -1);
        CHECK_EQ(err, EFBIG);
        CHECK_EQ(write_and_wait(fd, buf, 4096, 20000, &err), -1);
        CHECK_EQ(err, EFBIG);
    }
    close(fd);
    return T_PASS;
}
