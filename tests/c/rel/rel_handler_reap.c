/* rel_handler_reap: a signal handler waits, with aio_suspend (async-signal-safe, POSIX), for a
 * request that completes while the thread it interrupted was itself reaping completions
 * (polling aio_error on another request). BEHAVIOUR.md says aio_suspend and aio_error are
 * async-signal-safe: the handler must see its request complete, whatever the interrupted frame
 * was doing. (On io_uring, a thread that held the completion queue when the handler ran left
 * it taken, and the handler waited for ever: the fix blocks signals while it is held.)
 *
 * The main thread polls aio_error on a pipe read that never completes. Another thread sends it
 * SIGUSR1, NROUNDS times, one at a time. The handler writes one byte into pipe i, whose read
 * B[i] was queued at the start, and waits for B[i] with aio_suspend; then checks its result.
 * The watchdog fails the test if no round ends for 20 s. glibc fails this test in its own way
 * (its aio_suspend takes a mutex the interrupted aio_error may hold): an rtaio guarantee. */
#include "t.h"
#include <sys/resource.h>

#define NROUNDS 200

static int pa[2], pb[NROUNDS][2];
static char abuf[8], bbuf[NROUNDS][8];
static struct aiocb A, B[NROUNDS];
static _Atomic int handled, stop;
static pthread_t main_thread;

static void on_usr1(int s)
{
    (void)s;
    int saved = errno;
    int i = handled;
    if (i >= NROUNDS)
        return;
    if (write(pb[i][1], "x", 1) != 1)
        _exit(3);
    const struct aiocb *l[1] = {&B[i]};
    while (aio_suspend(l, 1, NULL) != 0) {
    }
    if (aio_error(&B[i]) != 0 || aio_return(&B[i]) != 1 || bbuf[i][0] != 'x')
        _exit(4);
    handled = i + 1;
    t_progress();
    errno = saved;
}

static void *sender(void *x)
{
    (void)x;
    while (!stop && handled < NROUNDS) {
        int h = handled;
        pthread_kill(main_thread, SIGUSR1);
        while (handled == h && !stop)
            usleep(100);
    }
    return NULL;
}

int main(void)
{
    t_name = "rel_handler_reap";
    if (getenv("RTAIO_TEST_GLIBC"))
        SKIP("glibc's aio_suspend takes a mutex: not async-signal-safe there");
    struct rlimit rl;
    CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 2 * NROUNDS + 64) {
        rl.rlim_cur = rl.rlim_max < 2 * NROUNDS + 64 ? rl.rlim_max : 2 * NROUNDS + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    CHECK_OK(pipe(pa));
    A.aio_fildes = pa[0];
    A.aio_buf = abuf;
    A.aio_nbytes = 1;
    CHECK_OK(aio_read(&A));
    for (int i = 0; i < NROUNDS; i++) {
        if (pipe(pb[i]) != 0)
            SKIP("pipe: %s (descriptor limit)", strerror(errno));
        B[i].aio_fildes = pb[i][0];
        B[i].aio_buf = bbuf[i];
        B[i].aio_nbytes = 1;
        CHECK_OK(aio_read(&B[i]));
    }
    t_watchdog_start(&(struct t_watchdog){.secs = 20, .polls = 40, .poll_ms = 500, .block_signals = 1,
                                          .stall_msg = "a handler waits in aio_suspend for a read that completed"});
    pthread_t k;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    CHECK_OK(pthread_create(&k, NULL, sender, NULL));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (handled < NROUNDS)
        CHECK_EQ(aio_error(&A), EINPROGRESS);
    stop = 1;
    CHECK_OK(pthread_join(k, NULL));
    t_watchdog_stop();
    t_write_all(pa[1], "a", 1);
    CHECK_EQ(t_wait_return(&A, 0, "the polled read"), 1);
    return T_PASS;
}
