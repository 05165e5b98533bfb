/* fork_reuse_aiocb: a child after fork() inherits none of its parent's requests (POSIX), and
 * may reuse the aiocb of one that was still queued at fork() for a request of its own. The
 * child's wait for its own request must wait for that request: its status (and the parent's
 * queued write, which the child must never perform) is the child's own, and the child's later
 * requests run.
 *
 * The parent's one I/O thread (aio_init) is held by a read of an empty pipe, so that its
 * buffered write is still queued when it forks (rtaio may let the submitting thread run such a
 * request itself when it waits for it): certainly so on rtaio's thread pool; on io_uring the
 * pipe read is polled in the ring, and the write is queued at fork() unless the pool was quick.
 * The child submits a read of an empty pipe on the same aiocb, fed after a delay, and waits
 * for it with aio_suspend without a timeout. (Whether the parent's write reached the file,
 * which parent and child share, is the parent's affair.) */
#include "t.h"

static struct aiocb cb, blocker;
static char wbuf[4096], cbuf[16], bbuf[1];
static int cpipe[2];

static void *feeder(void *a)
{
    (void)a;
    t_sleep_ms(200);
    t_write_all(cpipe[1], "child", 5);
    return NULL;
}

static int child_main(void)
{
    CHECK_OK(pipe(cpipe));
    memset(&cb, 0, sizeof cb);
    t_cb(&cb, cpipe[0], cbuf, sizeof cbuf, 0);
    CHECK_OK(aio_read(&cb));
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, feeder, NULL));
    const struct aiocb *l[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS)
        CHECK(aio_suspend(l, 1, NULL) == 0 || errno == EINTR);
    int e = aio_error(&cb);
    ssize_t v = aio_return(&cb);
    CHECK_OK(pthread_join(t, NULL));
    if (e != 0 || v != 5 || memcmp(cbuf, "child", 5) != 0)
        FAILF("child: its pipe read ended with error %d, %zd bytes, \"%.5s\" (expected 0, 5, \"child\")", e, v,
              cbuf);
    /* The child's next requests run. */
    struct aiocb c2;
    char b2[8];
    t_cb(&c2, cpipe[0], b2, sizeof b2, 0);
    CHECK_OK(aio_read(&c2));
    t_write_all(cpipe[1], "again", 5);
    CHECK_EQ(t_wait_return(&c2, 0, "child's next read"), 5);
    return T_PASS;
}

int main(void)
{
    t_init("fork_reuse_aiocb");
    t_aio_init(1, 8);
    int fd = t_tmpfile();
    int bp[2];
    CHECK_OK(pipe(bp));
    t_cb(&blocker, bp[0], bbuf, 1, 0);
    CHECK_OK(aio_read(&blocker));
    t_wait_blocked_read(bp[0]);
    memset(wbuf, 'P', sizeof wbuf);
    t_cb(&cb, fd, wbuf, sizeof wbuf, 0);
    CHECK_OK(aio_write(&cb));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(child_main());
    t_child_ok(pid, "the child");
    /* The parent's requests are its own still. */
    t_write_all(bp[1], "x", 1);
    CHECK_EQ(t_wait_return(&blocker, 0, "parent's blocker"), 1);
    CHECK_EQ(t_wait_return(&cb, 0, "parent's write"), (ssize_t)sizeof wbuf);
    return T_PASS;
}
