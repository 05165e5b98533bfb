/* notify_thread: SIGEV_THREAD notifications (BEHAVIOUR.md "Notifications").
 * The function runs with sigev_value, aio_error() is already final inside it, it runs in a
 * thread other than the submitting one, with an empty signal mask, and every notification
 * arrives exactly once. Variant: sigev_notify_attributes non-NULL (a pthread_attr_t with a
 * given stack size): the callback runs on a thread with that stack size. */
#include "t.h"

#define N 300

static struct aiocb cbs[N];
static volatile int counts[N];
static volatile int total;
static volatile int bad_ptr, bad_inprogress, bad_tid, bad_mask;
static pid_t main_tid;

static void check_common(struct aiocb *cb)
{
    if (cb < &cbs[0] || cb >= &cbs[N]) {
        __atomic_add_fetch(&bad_ptr, 1, __ATOMIC_SEQ_CST);
        return;
    }
    if (aio_error(cb) == EINPROGRESS)
        __atomic_add_fetch(&bad_inprogress, 1, __ATOMIC_SEQ_CST);
    if (t_gettid() == main_tid)
        __atomic_add_fetch(&bad_tid, 1, __ATOMIC_SEQ_CST);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    if (sigismember(&cur, SIGINT) || sigismember(&cur, SIGUSR1) ||
        sigismember(&cur, SIGTERM) || sigismember(&cur, SIGRTMIN + 5))
        __atomic_add_fetch(&bad_mask, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&counts[cb - cbs], 1, __ATOMIC_SEQ_CST);
}

static void cb_fn(union sigval v)
{
    check_common(v.sival_ptr);
    __atomic_add_fetch(&total, 1, __ATOMIC_SEQ_CST);
}

static volatile int attr_total, bad_stack;
static size_t want_stack;
static void cb_attr_fn(union sigval v)
{
    check_common(v.sival_ptr);
    pthread_attr_t a;
    size_t ss = 0;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &ss);
        pthread_attr_destroy(&a);
    }
    /* glibc reports the usable size; allow rounding up to a few pages */
    if (ss < want_stack || ss > want_stack + 65536)
        bad_stack = (int)(ss / 1024) + 1;
    /* use some of that stack */
    volatile char big[256 * 1024];
    big[0] = 1;
    big[sizeof big - 1] = 1;
    __atomic_add_fetch(&attr_total, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
    t_init("notify_thread");
    main_tid = t_gettid();
    /* block a few signals in the submitting thread: the callback must not inherit them */
    sigset_t blk;
    sigemptyset(&blk);
    sigaddset(&blk, SIGINT);
    sigaddset(&blk, SIGUSR1);
    sigaddset(&blk, SIGTERM);
    sigaddset(&blk, SIGRTMIN + 5);
    CHECK_OK(pthread_sigmask(SIG_BLOCK, &blk, NULL));

    int fd = t_tmpfile();
    static char data[N][100];
    for (int i = 0; i < N; i++) {
        memset(data[i], 'a' + i % 26, sizeof data[i]);
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 100);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = cb_fn;
        cbs[i].aio_sigevent.sigev_notify_attributes = NULL;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
        CHECK_OK(aio_write(&cbs[i]));
    }
    t_wait_counter(&total, N, "SIGEV_THREAD notifications");
    t_sleep_ms(300);
    CHECK_EQ(total, N);
    for (int i = 0; i < N; i++) {
        if (counts[i] != 1)
            FAILF("request %d notified %d times", i, counts[i]);
        CHECK_EQ(aio_error(&cbs[i]), 0);
        CHECK_EQ(aio_return(&cbs[i]), 100);
    }
    CHECK_EQ(bad_ptr, 0);
    CHECK_EQ(bad_inprogress, 0);
    CHECK_EQ(bad_tid, 0);
    CHECK_EQ(bad_mask, 0);
    static char check[N * 100];
    t_pread_all(fd, check, sizeof check, 0);
    for (int i = 0; i < N; i++)
        CHECK(memcmp(check + i * 100, data[i], 100) == 0);

    /* variant: sigev_notify_attributes with a 2 MiB + 64 KiB stack */
    pthread_attr_t attr;
    CHECK_OK(pthread_attr_init(&attr));
    want_stack = 2 * 1024 * 1024 + 65536;
    CHECK_OK(pthread_attr_setstacksize(&attr, want_stack));
    memset((void *)counts, 0, sizeof counts);
    const int M = 20;
    for (int i = 0; i < M; i++) {
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 100);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = cb_attr_fn;
        cbs[i].aio_sigevent.sigev_notify_attributes = &attr;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
        CHECK_OK(i & 1 ? aio_read(&cbs[i]) : aio_write(&cbs[i]));
    }
    t_wait_counter(&attr_total, M, "SIGEV_THREAD with attributes");
    t_sleep_ms(300);
    CHECK_EQ(attr_total, M);
    for (int i = 0; i < M; i++) {
        if (counts[i] != 1)
            FAILF("request %d (attr variant) notified %d times", i, counts[i]);
        CHECK_EQ(t_wait_return(&cbs[i], 0, "attr variant"), 100);
    }
    if (bad_stack)
        FAILF("callback thread stack size %d KiB, expected about %zu KiB", bad_stack - 1,
              want_stack / 1024);
    CHECK_EQ(bad_inprogress, 0);
    CHECK_EQ(bad_tid, 0);
    CHECK_EQ(bad_mask, 0);
    pthread_attr_destroy(&attr);
    close(fd);
    return T_PASS;
}
