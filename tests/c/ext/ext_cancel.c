/* ext_cancel: aio_waitcomplete (rtaio.h) is a cancellation point, like aio_suspend: a thread
 * asleep in it ends at pthread_cancel, its cleanup handler runs, and the request it waited
 * for goes on and is retrieved afterwards; a cancel already pending when it would sleep is
 * acted on at once. */
#include "t.h"
#include <rtaio.h>

static int p[2];
static _Atomic int phase, cleaned;
static _Atomic pid_t tid;

static void on_cleanup(void *a)
{
    (void)a;
    cleaned = 1;
}

static void *body(void *arg)
{
    int pending = (int)(intptr_t)arg;
    int old;
    tid = t_gettid();
    pthread_cleanup_push(on_cleanup, NULL);
    if (pending) {
        CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old));
        phase = 1;
        while (phase != 2)
            sched_yield();
        CHECK_OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old));
    }
    struct aiocb *got = NULL;
    aio_waitcomplete(&got, NULL);
    phase = 3; /* returned: must not happen */
    pthread_cleanup_pop(0);
    return NULL;
}

static void one(int pending, const char *what)
{
    pthread_t t;
    cleaned = 0;
    phase = 0;
    tid = 0;
    CHECK_OK(pthread_create(&t, NULL, body, (void *)(intptr_t)pending));
    if (pending) {
        while (phase != 1)
            sched_yield();
        CHECK_OK(pthread_cancel(t));
        phase = 2;
    } else {
        while (tid == 0)
            sched_yield();
        t_wait_thread_asleep(tid);
        CHECK_OK(pthread_cancel(t));
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)T_DEADLINE_S;
    void *r = NULL;
    int e = pthread_timedjoin_np(t, &r, &ts);
    if (e != 0)
        FAILF("%s: the cancelled thread did not end (%s)", what, strerror(e));
    if (r != PTHREAD_CANCELED || phase == 3 || !cleaned)
        FAILF("%s: ended %s, phase %d, cleanup %d", what,
              r == PTHREAD_CANCELED ? "cancelled" : "normally", (int)phase, (int)cleaned);
}

int main(void)
{
    t_init("ext_cancel");
    CHECK_OK(pipe(p));
    char b;
    struct aiocb cb;
    t_cb(&cb, p[0], &b, 1, 0);
    CHECK_OK(aio_read(&cb));
    one(0, "asleep in aio_waitcomplete");
    one(1, "cancel pending at aio_waitcomplete");
    /* the request went on: retrieved now */
    CHECK_EQ(aio_error(&cb), EINPROGRESS);
    t_write_all(p[1], "k", 1);
    struct aiocb *got = NULL;
    struct timespec ts = { (time_t)T_DEADLINE_S, 0 };
    CHECK_EQ(aio_waitcomplete(&got, &ts), 1);
    CHECK(got == &cb);
    CHECK_EQ(b, 'k');
    return T_PASS;
}
