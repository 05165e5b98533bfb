/* threads_policy: BEHAVIOUR.md "Threads": every rtaio thread runs with the scheduling policy
 * of the application thread that started it, as glibc's helper threads do: a woken I/O worker
 * or io_uring submitter preempts a busy caller at once. (SCHED_BATCH helpers, which do not,
 * were measured: on one CPU a program polling aio_error got 250 requests/s instead of 71k/s,
 * and an uncached read no longer overlapped the computation that followed its submission.)
 *  - aio_init with a 60 s idle time first, so no thread leaves while it is looked at;
 *  - after 64 buffered writes (waited for one by one and 32 at a time) and 8 SIGEV_THREAD
 *    notifications: every thread named rtaio-io-N, rtaio-uring or rtaio-notify-N runs the main
 *    thread's policy, and there is at least one I/O helper and one notification thread;
 *  - the data is on the file. */
#include "t.h"

#define N 32

static _Atomic int notified;
static void on_done(union sigval v)
{
    (void)v;
    notified++;
}

int main(void)
{
    t_init("threads_policy");
    int app = sched_getscheduler(0);
    CHECK(app >= 0);
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = 4;
    init.aio_num = 64;
    init.aio_idle_time = 60;
    aio_init(&init);

    int fd = t_tmpfile();
    static char data[2 * N][4096];
    static struct aiocb cbs[N];
    for (int i = 0; i < N; i++) {
        memset(data[i], 'a' + i % 26, sizeof data[i]);
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 4096);
        CHECK_OK(aio_write(&cbs[i]));
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write one by one"), 4096);
    }
    for (int i = 0; i < N; i++) {
        memset(data[N + i], 'A' + i % 26, sizeof data[N + i]);
        t_cb(&cbs[i], fd, data[N + i], sizeof data[N + i], (off_t)(N + i) * 4096);
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write 32 at a time"), 4096);
    for (int i = 0; i < 8; i++) {
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 4096);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = on_done;
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < 8; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write with SIGEV_THREAD"), 4096);
    t_wait_atomic(&notified, 8, "SIGEV_THREAD notifications");

    int helpers = 0, notifiers = 0;
    pid_t tids[256];
    int n = t_threads(tids, 256);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        char comm[64];
        t_thread_name(tids[i], comm, sizeof comm);
        int p = sched_getscheduler(tids[i]);
        if (strncmp(comm, "rtaio-io-", 9) == 0 || strcmp(comm, "rtaio-uring") == 0) {
            helpers++;
            if (p != app)
                FAILF("helper thread %d (%s) runs policy %d, not the application's %d",
                      (int)tids[i], comm, p, app);
        } else if (strncmp(comm, "rtaio-notify-", 13) == 0) {
            notifiers++;
            if (p != app)
                FAILF("notification thread %d (%s) runs policy %d, not the application's %d",
                      (int)tids[i], comm, p, app);
        }
    }
    if (helpers == 0)
        FAILF("no rtaio-io-N or rtaio-uring thread after 72 writes");
    if (notifiers == 0)
        FAILF("no rtaio-notify-N thread after 8 SIGEV_THREAD notifications");
    static char check[4096];
    for (int i = 0; i < 2 * N; i++) {
        t_pread_all(fd, check, sizeof check, (off_t)i * 4096);
        CHECK(memcmp(check, data[i], sizeof check) == 0);
    }
    close(fd);
    return T_PASS;
}
