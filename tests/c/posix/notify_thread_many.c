/* notify_thread_many: SIGEV_THREAD callbacks that wait for each other. POSIX: each
 * notification runs "as if" on a new thread; glibc starts one per notification. 1100
 * callbacks meet at a barrier: every one needs a thread of its own at once (a pool capped at
 * 1024 threads left them all waiting for ever). */
#include "t.h"

#define N 1100
/* How long a callback waits for the others: starting 1100 threads takes a few seconds under
 * a sanitizer on a busy machine. */
#define BARRIER_S 120.0

static _Atomic int arrived, released, gave_up;

static void meet(union sigval v)
{
    (void)v;
    arrived++;
    double end = t_now() + BARRIER_S;
    while (arrived < N) {
        if (t_now() > end) {
            gave_up++;
            break;
        }
        t_sleep_ms(5);
    }
    released++;
}

int main(void)
{
    t_init("notify_thread_many");
    int fd = t_tmpfile();
    static struct aiocb cbs[N];
    static char bufs[N][8];
    t_pwrite_all(fd, "abcdefgh", 8, 0);
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, bufs[i], sizeof bufs[i], 0);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = meet;
        CHECK_OK(aio_read(&cbs[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "read"), 8);
    double end = t_now() + BARRIER_S + T_DEADLINE_S;
    while (released < N && t_now() < end)
        t_sleep_ms(5);
    CHECK_EQ(released, N);
    if (gave_up)
        FAILF("%d callbacks waited %.0f s for the others (arrived: %d of %d)", (int)gave_up, BARRIER_S,
              (int)arrived, N);
    close(fd);
    return T_PASS;
}
