/* notify_thread_id: SIGEV_THREAD_ID (Linux) — the signal goes to the thread named by
 * sigev_notify_thread_id (rt_tgsigqueueinfo), with si_code == SI_ASYNCIO and the
 * sigev_value; every notification arrives once, in that thread (gettid() in the handler).
 * The submitting (main) thread leaves the signal unblocked, so a process-directed signal
 * would normally land in it and be detected. Second round: the target is the main thread,
 * the requests are submitted from another thread.
 * glibc does not implement SIGEV_THREAD_ID for AIO: this is an rtaio test. */
#include "t.h"
#include <stdatomic.h>

#define N 100

static struct aiocb cbs[N];
static volatile int counts[N];
static _Atomic int total;
static _Atomic pid_t target_tid;
static volatile int wrong_thread, bad_code, bad_ptr, bad_inprogress, bad_pid;
static _Atomic int stop;
static int sig;

static void handler(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    (void)s;
    int saved = errno;
    if (t_gettid() != target_tid)
        wrong_thread++;
    if (si->si_code != SI_ASYNCIO)
        bad_code = si->si_code ? si->si_code : -1000;
    if (si->si_pid != getpid())
        bad_pid++;
    struct aiocb *cb = si->si_value.sival_ptr;
    if (cb < &cbs[0] || cb >= &cbs[N]) {
        bad_ptr++;
    } else {
        if (aio_error(cb) == EINPROGRESS)
            bad_inprogress++;
        __atomic_add_fetch(&counts[cb - cbs], 1, __ATOMIC_SEQ_CST);
    }
    atomic_fetch_add(&total, 1);
    errno = saved;
}

static void *target_thread(void *arg)
{
    (void)arg;
    target_tid = t_gettid();
    while (!stop)
        t_sleep_ms(5);
    return NULL;
}

static char data[N][32];
static int fd;

static void submit_all(void)
{
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 32);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
        cbs[i].aio_sigevent.sigev_signo = sig;
        cbs[i].aio_sigevent.sigev_notify_thread_id = target_tid;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
        CHECK_OK(aio_write(&cbs[i]));
    }
}

static void check_round(const char *what)
{
    double end = t_now() + 10.0;
    while (total < N && t_now() < end)
        t_sleep_ms(5);
    if (total < N)
        FAILF("%s: %d of %d SIGEV_THREAD_ID notifications arrived within 10 s", what, total,
              N);
    t_sleep_ms(200);
    CHECK_EQ(total, N);
    for (int i = 0; i < N; i++) {
        if (counts[i] != 1)
            FAILF("%s: request %d notified %d times", what, i, counts[i]);
        CHECK_EQ(t_wait_return(&cbs[i], 0, what), 32);
    }
    if (wrong_thread)
        FAILF("%s: %d signals were delivered to a thread other than tid %d", what,
              wrong_thread, target_tid);
    if (bad_code)
        FAILF("%s: si_code = %d, expected SI_ASYNCIO (%d)", what, bad_code, SI_ASYNCIO);
    CHECK_EQ(bad_ptr, 0);
    CHECK_EQ(bad_pid, 0);
    CHECK_EQ(bad_inprogress, 0);
}

static void *submitter(void *arg)
{
    (void)arg;
    submit_all();
    return NULL;
}

int main(void)
{
    t_init("notify_thread_id");
    sig = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(sig, &sa, NULL));
    fd = t_tmpfile();
    for (int i = 0; i < N; i++)
        snprintf(data[i], sizeof data[i], "tid record %d", i);

    /* round 1: target = another thread, submitter = main (signal unblocked in main) */
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, target_thread, NULL));
    while (!target_tid)
        t_sleep_ms(1);
    submit_all();
    check_round("target=other thread");
    stop = 1;
    pthread_join(th, NULL);

    /* round 2: target = main thread, submitted from another thread which does not block
     * the signal either */
    memset((void *)counts, 0, sizeof counts);
    total = 0;
    target_tid = t_gettid();
    pthread_t sub;
    CHECK_OK(pthread_create(&sub, NULL, submitter, NULL));
    CHECK_OK(pthread_join(sub, NULL));
    check_round("target=main thread");

    static char check[N * 32];
    t_pread_all(fd, check, sizeof check, 0);
    for (int i = 0; i < N; i++)
        CHECK(memcmp(check + i * 32, data[i], 32) == 0);
    close(fd);
    return T_PASS;
}
