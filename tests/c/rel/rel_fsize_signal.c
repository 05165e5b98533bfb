/* rel_fsize_signal: writes past RLIMIT_FSIZE with SIGXFSZ left at its default action (which
 * ends the process). write(2) raises SIGXFSZ in the thread that makes the call; glibc makes
 * it in a thread of its own that blocks every signal, so the program only sees EFBIG through
 * aio_error. rtaio must not make such a call in an application's thread either (not even when
 * the thread waits for its own request in aio_suspend and could run it itself).
 * Also: a write that crosses the limit is shortened (no signal), one below it is whole. The
 * same for O_DIRECT writes (rtaio submits those to native AIO from the calling thread). */
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
    /* The O_DIRECT file of the last part, written whole before the limit. */
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rtaio-fsize-XXXXXX", dir && *dir ? dir : "/tmp");
    int tmp = mkstemp(path);
    CHECK(tmp >= 0);
    static char fill[65536];
    memset(fill, 'f', sizeof fill);
    t_pwrite_all(tmp, fill, sizeof fill, 0);
    CHECK_OK(fsync(tmp));
    close(tmp);
    int d = open(path, O_RDWR | O_DIRECT);
    unlink(path);
    void *al;
    CHECK_EQ(posix_memalign(&al, 4096, 4096), 0);
    memset(al, 'd', 4096);
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

    /* O_DIRECT writes, which rtaio may hand to the kernel (io_submit) from the calling thread:
     * overwrites of blocks the file has (made before the limit), which the kernel takes
     * without waiting, so it checks the limit in that very call. */
    if (d < 0) {
        t_note("no O_DIRECT here: that part skipped");
        return T_PASS;
    }
    for (int round = 0; round < 5; round++) {
        CHECK_EQ(write_and_wait(d, al, 4096, 0, &err), 4096);
        CHECK_EQ(err, 0);
        CHECK_EQ(write_and_wait(d, al, 4096, 16384, &err), -1);
        CHECK_EQ(err, EFBIG);
    }
    free(al);
    close(d);
    return T_PASS;
}
