/* fifo_short_long: BEHAVIOUR.md "equal priority is FIFO" between a task that may block and the
 * buffered writes (short tasks) queued around it. aio_threads = 1, on the pool. 256 writes to
 * file A, then an aio_fsync of file B, then POST more writes to A, all at priority 0 and
 * submitted at once. An observer thread watches the fsync from its submission and, the moment
 * it completes, counts the later writes already complete: FIFO says none, rtaio lets a bounded
 * few short tasks go ahead of a waiting long one (32); with short tasks first and no bound
 * all POST ran before the fsync. Passes under half of POST (an observer descheduled on a busy
 * machine counts late, never early). */
#include "t.h"
#include <sched.h>

#define PRE 256
#define POST 2000
#define LEN 65536

static struct aiocb pre[PRE], post[POST], s;
static _Atomic int fsync_submitted, post_submitted, seen_done = -1;

static void *observer(void *a)
{
    (void)a;
    while (!fsync_submitted)
        sched_yield();
    while (aio_error(&s) == EINPROGRESS)
        ;
    int n = post_submitted, done = 0;
    for (int i = 0; i < n; i++)
        done += aio_error(&post[i]) != EINPROGRESS;
    seen_done = done;
    return NULL;
}

int main(void)
{
    t_init("fifo_short_long");
    t_backend_threads();
    t_aio_init(1, 0);
    int fa = t_tmpfile(), fb = t_tmpfile();
    static char buf[LEN];
    memset(buf, 'w', LEN);
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, observer, NULL));
    for (int i = 0; i < PRE; i++) {
        t_cb(&pre[i], fa, buf, LEN, (off_t)i * LEN);
        CHECK_OK(aio_write(&pre[i]));
    }
    memset(&s, 0, sizeof s);
    s.aio_fildes = fb;
    CHECK_OK(aio_fsync(O_SYNC, &s));
    fsync_submitted = 1;
    for (int i = 0; i < POST; i++) {
        t_cb(&post[i], fa, buf, LEN, (off_t)(i % 1024) * LEN);
        CHECK_OK(aio_write(&post[i]));
        post_submitted = i + 1;
    }
    CHECK_OK(pthread_join(t, NULL));
    for (int i = 0; i < PRE; i++)
        CHECK_EQ(t_wait_return(&pre[i], 0, "write"), LEN);
    CHECK_EQ(t_wait_return(&s, 0, "fsync"), 0);
    for (int i = 0; i < POST; i++)
        CHECK_EQ(t_wait_return(&post[i], 0, "write"), LEN);
    t_note("writes queued after the fsync and complete before it: %d of %d", (int)seen_done, POST);
    if (seen_done > POST / 2)
        FAILF("%d of the %d writes queued after the fsync ran before it (equal priority)", (int)seen_done, POST);
    return T_PASS;
}
