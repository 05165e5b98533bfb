/* suspend: aio_suspend per BEHAVIOUR.md.
 *  - returns 0 at once when one listed request is already complete (others pending);
 *  - NULL entries ignored; only-NULL list and nent == 0 return 0; unknown aiocb counts as
 *    complete;
 *  - timeout → -1/EAGAIN after (about) the timeout; a zero timeout polls;
 *  - a handler installed without SA_RESTART running during the wait → -1/EINTR; with
 *    SA_RESTART the wait restarts and returns 0 when the request completes;
 *  - wakes when a request completes during the wait (short list and a 200-entry list
 *    where only the last entry completes);
 *  - nent < 0, list == NULL with nent > 0, invalid timespec → -1/EINVAL.
 * Pending requests: aio_init({.aio_threads = 2}); an aio_read on socket S with nothing to
 * read blocks one worker for the whole test, a pipe read the other when needed; requests
 * submitted while both are blocked stay queued (and can be completed by aio_cancel). */
#include "t.h"
#include <stdatomic.h>

static volatile int handler_runs;
static _Atomic int stop_kicker;
static pthread_t main_thread;

static void handler(int s)
{
    (void)s;
    handler_runs++;
}

static void *kicker(void *arg)
{
    (void)arg;
    /* keep interrupting until main says stop: no race with the start of the wait */
    while (!stop_kicker) {
        t_sleep_ms(100);
        if (!stop_kicker)
            pthread_kill(main_thread, SIGUSR1);
    }
    return NULL;
}

static int feed_fd = -1;
static long feed_delay_ms;
static void *feeder(void *arg)
{
    (void)arg;
    t_sleep_ms(feed_delay_ms);
    t_write_all(feed_fd, "F", 1);
    return NULL;
}

static void start_feeder(int fd, long delay_ms, pthread_t *th)
{
    feed_fd = fd;
    feed_delay_ms = delay_ms;
    CHECK_OK(pthread_create(th, NULL, feeder, NULL));
}

static struct aiocb *cancel_cb;
static long cancel_delay_ms;
static volatile int cancel_result;
static void *canceller(void *arg)
{
    (void)arg;
    t_sleep_ms(cancel_delay_ms);
    cancel_result = aio_cancel(cancel_cb->aio_fildes, cancel_cb);
    return NULL;
}

static void start_canceller(struct aiocb *cb, long delay_ms, pthread_t *th)
{
    cancel_cb = cb;
    cancel_delay_ms = delay_ms;
    cancel_result = -100;
    CHECK_OK(pthread_create(th, NULL, canceller, NULL));
}

#define BIG 200

int main(void)
{
    t_init("suspend");
    t_backend_threads(); /* queued requests behind blocked workers: the pool's behaviour */
    main_thread = pthread_self();
    /* two workers: one blocked for the whole test (pend), one for the pipe reads; with both
     * blocked, later requests are reliably queued ("at most aio_threads run") */
    t_aio_init(2, 0);
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int S = sv[0];
    char sb = 0;
    struct aiocb pend; /* pending for the whole test */
    t_cb(&pend, S, &sb, 1, 0);
    CHECK_OK(aio_read(&pend));
    t_wait_blocked_read(S);

    int fd = t_tmpfile();
    struct aiocb done;
    t_cb(&done, fd, "done", 4, 0);
    CHECK_OK(aio_write(&done));
    CHECK_EQ(t_wait(&done), 0);

    /* at once when one is done */
    struct timespec ten = { 10, 0 };
    const struct aiocb *l3[3] = { &pend, NULL, &done };
    double t0 = t_now();
    CHECK_OK(aio_suspend(l3, 3, &ten));
    CHECK_OK(aio_suspend(l3, 3, NULL));
    struct timespec zero = { 0, 0 };
    CHECK_OK(aio_suspend(l3, 3, &zero));
    CHECK(t_now() - t0 < 9.0); /* not the 10 s timeout */
    CHECK_EQ(aio_return(&done), 4);
    /* already returned → still "complete" (unknown counts as complete) */
    CHECK_OK(aio_suspend(l3, 3, &zero));
    struct aiocb never;
    t_cb(&never, fd, NULL, 0, 0);
    const struct aiocb *ln[2] = { &pend, &never };
    CHECK_OK(aio_suspend(ln, 2, &zero));

    /* NULL entries ignored; nothing to wait for */
    const struct aiocb *lnull[3] = { NULL, NULL, NULL };
    CHECK_OK(aio_suspend(lnull, 3, &ten));
    CHECK_OK(aio_suspend(lnull, 0, &ten));
    const struct aiocb *lp[3] = { NULL, &pend, NULL };

    /* zero timeout polls; a timeout → EAGAIN */
    t0 = t_now();
    CHECK_ERR(aio_suspend(lp, 3, &zero), EAGAIN);
    CHECK(t_now() - t0 < 5.0);
    struct timespec ms300 = { 0, 300 * 1000000L };
    t0 = t_now();
    CHECK_ERR(aio_suspend(lp, 3, &ms300), EAGAIN);
    double el = t_now() - t0;
    if (el < 0.25 || el > 20.0)
        FAILF("300 ms timeout took %.3f s", el);
    struct timespec s1 = { 1, 0 };
    t0 = t_now();
    CHECK_ERR(aio_suspend(lp, 3, &s1), EAGAIN);
    el = t_now() - t0;
    if (el < 0.95 || el > 20.0)
        FAILF("1 s timeout took %.3f s", el);

    /* argument errors */
    CHECK_ERR(aio_suspend(lp, -1, &ten), EINVAL);
    CHECK_ERR(aio_suspend(lp, INT_MIN, NULL), EINVAL);
    NOT_GLIBC(CHECK_ERR(aio_suspend(t_null(), 1, &ten), EINVAL));
    /* timeouts outside the usual field ranges: an interval of tv_sec + tv_nsec/1e9, as in
     * glibc (POSIX lists no EINVAL); negative polls */
    struct timespec odd1 = { 0, 1000000000L }, odd2 = { 0, -1 }, odd3 = { -1, 0 };
    double t1 = t_now();
    CHECK_ERR(aio_suspend(lp, 3, &odd1), EAGAIN);
    if (t_now() - t1 < 0.9)
        FAILF("a {0, 1e9} timeout ended after %.3f s, expected 1 s", t_now() - t1);
    CHECK_ERR(aio_suspend(lp, 3, &odd2), EAGAIN);
    CHECK_ERR(aio_suspend(lp, 3, &odd3), EAGAIN);
    CHECK_EQ(aio_error(&pend), EINPROGRESS);

    /* EINTR: handler without SA_RESTART */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    pthread_t kt;
    stop_kicker = 0;
    handler_runs = 0;
    CHECK_OK(pthread_create(&kt, NULL, kicker, NULL));
    struct timespec long_to = { 30, 0 };
    errno = 0;
    int r = aio_suspend(lp, 3, &long_to);
    int e = errno;
    stop_kicker = 1;
    pthread_join(kt, NULL);
    if (r != -1 || e != EINTR)
        FAILF("aio_suspend interrupted by a handler: returned %d errno %d (%s), expected "
              "-1/EINTR",
              r, e, strerror(e));
    CHECK(handler_runs >= 1);
    /* EINTR with no timeout at all */
    stop_kicker = 0;
    CHECK_OK(pthread_create(&kt, NULL, kicker, NULL));
    errno = 0;
    r = aio_suspend(lp, 3, NULL);
    e = errno;
    stop_kicker = 1;
    pthread_join(kt, NULL);
    if (r != -1 || e != EINTR)
        FAILF("aio_suspend(NULL timeout) interrupted by a handler: returned %d errno %d "
              "(%s), expected -1/EINTR",
              r, e, strerror(e));

    /* wake-up on completion during the wait (short list) */
    int p[2];
    CHECK_OK(pipe(p));
    char pb = 0;
    struct aiocb prd;
    t_cb(&prd, p[0], &pb, 1, 0);
    CHECK_OK(aio_read(&prd));
    pthread_t ft;
    start_feeder(p[1], 300, &ft);
    const struct aiocb *l2[2] = { &pend, &prd };
    CHECK_OK(aio_suspend(l2, 2, &long_to));
    pthread_join(ft, NULL);
    CHECK_EQ(t_wait_return(&prd, 0, "pipe read"), 1);
    CHECK_EQ(pb, 'F');

    /* SA_RESTART: the wait restarts; returns 0 when the request completes */
    sa.sa_flags = SA_RESTART;
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    CHECK_OK(aio_read(&prd));
    handler_runs = 0;
    stop_kicker = 0;
    CHECK_OK(pthread_create(&kt, NULL, kicker, NULL));
    start_feeder(p[1], 1000, &ft); /* the kicker interrupts several times first */
    errno = 0;
    r = aio_suspend(l2, 2, &long_to);
    e = errno;
    int runs = handler_runs;
    stop_kicker = 1;
    pthread_join(kt, NULL);
    pthread_join(ft, NULL);
    if (r != 0)
        FAILF("aio_suspend with an SA_RESTART handler: returned %d errno %d (%s) after %d "
              "handler runs, expected 0 (the wait restarts)",
              r, e, strerror(e), runs);
    CHECK(runs >= 1);
    CHECK_EQ(t_wait_return(&prd, 0, "pipe read 2"), 1);
    sa.sa_handler = SIG_IGN;
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));

    /* 200 entries (longer than 128): 199 pending, only the last completes, during the
     * wait. Both workers are blocked (pend on S, prd on the pipe), so requests submitted
     * now stay queued; the last entry is completed by aio_cancel from another thread. */
    CHECK_OK(aio_read(&prd));
    t_wait_blocked_read(p[0]);
    int fd2 = t_tmpfile();
    static struct aiocb qs[BIG - 1];
    static const struct aiocb *big[BIG];
    static char qbuf[BIG];
    for (int i = 0; i < BIG - 1; i++) {
        t_cb(&qs[i], fd, &qbuf[i], 1, i);
        CHECK_OK(aio_write(&qs[i]));
        big[i] = &qs[i];
    }
    struct aiocb last;
    t_cb(&last, fd2, "L", 1, 0);
    CHECK_OK(aio_write(&last));
    big[BIG - 1] = &last;
    for (int i = 0; i < BIG; i++)
        CHECK_EQ(aio_error(big[i]), EINPROGRESS);
    pthread_t ct;
    start_canceller(&last, 300, &ct);
    CHECK_OK(aio_suspend(big, BIG, &long_to));
    pthread_join(ct, NULL);
    CHECK_EQ(cancel_result, AIO_CANCELED);
    CHECK_EQ(aio_error(&last), ECANCELED);
    for (int i = 0; i < BIG - 1; i++)
        CHECK_EQ(aio_error(&qs[i]), EINPROGRESS);
    CHECK_EQ(aio_return(&last), -1);
    /* the same long list without the last entry: timeout */
    CHECK_ERR(aio_suspend(big, BIG - 1, &ms300), EAGAIN);
    /* a 100-entry list (the futex_waitv path), same scheme */
    t_cb(&last, fd2, "L", 1, 0);
    CHECK_OK(aio_write(&last));
    big[99] = &last;
    start_canceller(&last, 300, &ct);
    CHECK_OK(aio_suspend(big, 100, &long_to));
    pthread_join(ct, NULL);
    CHECK_EQ(cancel_result, AIO_CANCELED);
    CHECK_EQ(t_wait_return(&last, ECANCELED, "cancelled last entry"), -1);
    for (int i = 0; i < 99; i++)
        CHECK_EQ(aio_error(&qs[i]), EINPROGRESS);

    /* clean up: cancel the queued writes, complete the two blocked reads */
    CHECK_EQ(aio_cancel(fd, NULL), AIO_CANCELED);
    for (int i = 0; i < BIG - 1; i++)
        CHECK_EQ(t_wait_return(&qs[i], ECANCELED, "cancelled write"), -1);
    t_write_all(p[1], "P", 1);
    CHECK_EQ(t_wait_return(&prd, 0, "pipe read 3"), 1);
    t_write_all(sv[1], "s", 1);
    CHECK_EQ(t_wait_return(&pend, 0, "socket read"), 1);
    CHECK_EQ(sb, 's');
    struct stat st;
    CHECK_OK(fstat(fd2, &st));
    CHECK_EQ(st.st_size, 0);
    return T_PASS;
}
