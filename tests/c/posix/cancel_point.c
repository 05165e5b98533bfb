/* cancel_point: pthread_cancel and rtaio's blocking calls, as in glibc.
 *  - aio_suspend is a cancellation point (POSIX): a thread asleep in it (one entry; 200
 *    entries, beyond futex_waitv's 128) ends at pthread_cancel, its cleanup handlers run, and
 *    the requests go on: they complete normally afterwards;
 *  - a cancel already pending when aio_suspend would sleep is acted on at once; when a listed
 *    request is already complete, aio_suspend returns 0 and the cancel stays pending (glibc);
 *  - lio_listio(LIO_WAIT) is not a cancellation point (glibc disables cancellation there): a
 *    cancel does not end its wait; the list completes, the call returns 0, and the cancel is
 *    acted on at the next cancellation point;
 *  - aio_read, aio_write, aio_error and aio_return never act on a pending cancel. */
#include "t.h"

static int p[2];
static _Atomic int phase, cleaned;
static _Atomic pid_t tid;

static void on_cleanup(void *a)
{
    (void)a;
    cleaned = 1;
}

#define NLONG 200
static struct aiocb cbs[NLONG];
static const struct aiocb *lst[NLONG];
static char bytes[NLONG];

static void setup_reads(int n)
{
    for (int i = 0; i < n; i++) {
        t_cb(&cbs[i], p[0], &bytes[i], 1, 0);
        cbs[i].aio_lio_opcode = LIO_READ;
        lst[i] = &cbs[i];
    }
}

/* mode 0: aio_suspend on cbs[0..n); mode 1: lio_listio(LIO_WAIT); mode 2: pending cancel,
 * then aio_suspend on cbs[0]; mode 3: pending cancel, aio_suspend on a complete request;
 * mode 4: pending cancel, then aio_read/aio_error/aio_return */
struct job {
    int mode, n;
    int ret, err;
    int fd; /* mode 4: a file (opened beforehand: open() is a cancellation point) */
};

static void *body(void *arg)
{
    struct job *j = arg;
    tid = t_gettid();
    int old;
    pthread_cleanup_push(on_cleanup, NULL);
    switch (j->mode) {
    case 0:
        j->ret = aio_suspend(lst, j->n, NULL);
        break;
    case 1:
        j->ret = lio_listio(LIO_WAIT, (struct aiocb *const *)lst, j->n, NULL);
        j->err = errno;
        phase = 2; /* returned from lio_listio */
        pthread_testcancel();
        break;
    case 2:
    case 3:
    case 4:
        CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old));
        phase = 1;
        while (phase != 2)
            sched_yield(); /* main cancels us meanwhile */
        CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
        if (j->mode == 4) {
            char b[8] = "abcdefgh";
            struct aiocb w;
            t_cb(&w, j->fd, b, 8, 0);
            j->ret = aio_write(&w);
            while (aio_error(&w) == EINPROGRESS)
                sched_yield();
            j->err = (int)aio_return(&w);
            phase = 3; /* survived them all */
        } else {
            j->ret = aio_suspend(lst, 1, NULL);
            phase = 3;
        }
        pthread_testcancel();
        break;
    }
    pthread_cleanup_pop(0);
    return NULL;
}

static void join_canceled(pthread_t t, const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)T_DEADLINE_S;
    void *r = NULL;
    int e = pthread_timedjoin_np(t, &r, &ts);
    if (e != 0)
        FAILF("%s: the cancelled thread did not end (%s)", what, strerror(e));
    if (r != PTHREAD_CANCELED)
        FAILF("%s: the thread ended without being cancelled", what);
    if (!cleaned)
        FAILF("%s: its cleanup handler did not run", what);
}

static void feed_and_complete(int n, const char *what)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(aio_error(&cbs[i]), EINPROGRESS); /* the requests go on */
    char buf[NLONG];
    memset(buf, 'x', sizeof buf);
    t_write_all(p[1], buf, (size_t)n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, what), 1);
}

static void suspend_case(int n, const char *what)
{
    setup_reads(n);
    for (int i = 0; i < n; i++)
        CHECK_OK(aio_read(&cbs[i]));
    struct job j = { .mode = 0, .n = n };
    pthread_t t;
    cleaned = 0;
    tid = 0;
    CHECK_OK(pthread_create(&t, NULL, body, &j));
    while (tid == 0)
        sched_yield();
    t_wait_thread_asleep(tid);
    CHECK_OK(pthread_cancel(t));
    join_canceled(t, what);
    feed_and_complete(n, what);
}

static void pending_case(int mode, const char *what)
{
    struct job j = { .mode = mode, .n = 1, .fd = mode == 4 ? t_tmpfile() : -1 };
    pthread_t t;
    cleaned = 0;
    phase = 0;
    CHECK_OK(pthread_create(&t, NULL, body, &j));
    while (phase != 1)
        sched_yield();
    CHECK_OK(pthread_cancel(t));
    phase = 2;
    join_canceled(t, what);
    if (mode == 2 && j.ret != 0 && phase == 3)
        FAILF("%s: aio_suspend returned %d instead of acting on the cancel", what, j.ret);
    if (mode == 2 && phase == 3)
        FAILF("%s: aio_suspend returned instead of acting on the pending cancel", what);
    if (mode == 3 && (phase != 3 || j.ret != 0))
        FAILF("%s: aio_suspend on a complete request: phase %d ret %d, expected it to return 0",
              what, (int)phase, j.ret);
    if (mode == 4 && (phase != 3 || j.ret != 0 || j.err != 8))
        FAILF("%s: phase %d, aio_write %d, aio_return %d: a call acted on the cancel", what,
              (int)phase, j.ret, j.err);
}

int main(void)
{
    t_init("cancel_point");
    CHECK_OK(pipe(p));

    suspend_case(1, "aio_suspend, one entry");
    suspend_case(NLONG, "aio_suspend, 200 entries");

    /* a cancel pending when aio_suspend would sleep */
    setup_reads(1);
    CHECK_OK(aio_read(&cbs[0]));
    pending_case(2, "pending cancel, aio_suspend");
    feed_and_complete(1, "pending cancel, aio_suspend");

    /* a cancel pending, a listed request already complete: returns 0 (no sleep) */
    int fd = t_tmpfile();
    char b[4] = "wxyz";
    t_cb(&cbs[0], fd, b, 4, 0);
    CHECK_OK(aio_write(&cbs[0]));
    CHECK_EQ(t_wait(&cbs[0]), 0);
    lst[0] = &cbs[0];
    pending_case(3, "pending cancel, complete request");
    CHECK_EQ(aio_return(&cbs[0]), 4);

    /* aio_write/aio_error/aio_return are not cancellation points */
    pending_case(4, "pending cancel, aio_write/aio_error/aio_return");

    /* lio_listio(LIO_WAIT) is not a cancellation point */
    setup_reads(3);
    struct job j = { .mode = 1, .n = 3 };
    pthread_t t;
    cleaned = 0;
    phase = 0;
    tid = 0;
    CHECK_OK(pthread_create(&t, NULL, body, &j));
    while (tid == 0)
        sched_yield();
    t_wait_thread_asleep(tid);
    CHECK_OK(pthread_cancel(t));
    t_sleep_ms(200);
    if (phase != 0 || cleaned)
        FAILF("lio_listio(LIO_WAIT) acted on the cancel (phase %d)", (int)phase);
    t_write_all(p[1], "abc", 3);
    join_canceled(t, "lio_listio(LIO_WAIT)");
    if (phase != 2 || j.ret != 0)
        FAILF("lio_listio(LIO_WAIT): returned %d errno %d (phase %d), expected 0 and the cancel "
              "acted on afterwards",
              j.ret, j.err, (int)phase);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "lio entry"), 1);
    return T_PASS;
}
