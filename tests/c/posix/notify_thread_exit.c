/* notify_thread_exit: a SIGEV_THREAD callback without thread attributes runs "as if" on a new
 * thread (POSIX), and glibc runs each on a thread of its own: a callback may end that thread
 * with pthread_exit, or be cancelled, and the process goes on; later notifications are still
 * delivered, including one queued by a callback just before it ends its thread.
 *
 *   1. callbacks that call pthread_exit: more in a row than rtaio's notification pool may have
 *      threads (1024), so that a pool that still counted the threads gone would stall;
 *   2. a callback that cancels itself and reaches a cancellation point;
 *   3. a callback that cancels itself and returns without reaching one: its thread ends (glibc:
 *      the cancellation acts when the thread ends, or is moot), and the next callback, which
 *      sleeps (a cancellation point), runs to its end rather than being cancelled in its place;
 *   4. a callback that submits a read whose SIGEV_THREAD notification comes while it still runs
 *      (a cached read may complete during aio_read), then calls pthread_exit: that
 *      notification is delivered. */
#include "t.h"

#define EXITS 1100

static int fd;
static char buf[16][16];
static _Atomic int exited, cancelled, returned, after, inner_done, outer_done;

static void on_exit_cb(union sigval v)
{
    (void)v;
    exited++;
    pthread_exit(NULL);
}

static void on_cancel_cb(union sigval v)
{
    (void)v;
    cancelled++;
    pthread_cancel(pthread_self());
    for (;;)
        pthread_testcancel();
}

static void on_cancel_return_cb(union sigval v)
{
    (void)v;
    pthread_cancel(pthread_self());
    returned++;
}

static void on_after_cb(union sigval v)
{
    (void)v;
    t_sleep_ms(5); /* a cancellation point */
    after++;
}

static void on_inner_cb(union sigval v)
{
    (void)v;
    inner_done++;
}

static struct aiocb inner_cb;

static void on_outer_cb(union sigval v)
{
    (void)v;
    t_cb(&inner_cb, fd, buf[1], 1, 0);
    inner_cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    inner_cb.aio_sigevent.sigev_notify_function = on_inner_cb;
    if (aio_read(&inner_cb) != 0)
        FAILF("aio_read in a callback: %s", strerror(errno));
    outer_done++;
    pthread_exit(NULL);
}

static void read_with(struct aiocb *cb, char *b, void (*fn)(union sigval))
{
    t_cb(cb, fd, b, 1, 0);
    cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb->aio_sigevent.sigev_notify_function = fn;
    CHECK_OK(aio_read(cb));
    CHECK_EQ(t_wait_return(cb, 0, "read"), 1);
}

int main(void)
{
    t_init("notify_thread_exit");
    fd = t_tmpfile();
    t_pwrite_all(fd, "x", 1, 0);
    static struct aiocb cbs[16];

    for (int i = 0; i < EXITS; i++)
        read_with(&cbs[0], buf[0], on_exit_cb);
    t_wait_atomic(&exited, EXITS, "callbacks that call pthread_exit");

    read_with(&cbs[6], buf[6], on_cancel_cb);
    t_wait_atomic(&cancelled, 1, "a callback that cancels itself");

    for (int i = 0; i < 3; i++) {
        int want = after + 1;
        read_with(&cbs[2], buf[2], on_cancel_return_cb);
        t_wait_atomic(&returned, i + 1, "a callback that cancels itself and returns");
        read_with(&cbs[3], buf[3], on_after_cb);
        t_wait_atomic(&after, want, "the callback after one that cancelled itself and returned");
    }

    read_with(&cbs[4], buf[4], on_outer_cb);
    t_wait_atomic(&outer_done, 1, "a callback that submits a read and calls pthread_exit");
    t_wait_atomic(&inner_done, 1, "the notification of the read submitted by a callback that then ended its thread");
    CHECK_EQ(t_wait_return(&inner_cb, 0, "the read submitted by a callback"), 1);

    /* Notifications still come. */
    for (int i = 0; i < 4; i++) {
        int want = after + 1;
        read_with(&cbs[5], buf[5], on_after_cb);
        t_wait_atomic(&after, want, "a callback after all that");
    }
    return T_PASS;
}
