/* notify_attr_mask: SIGEV_THREAD with attributes, completed inside aio_read (a page-cache
 * hit): the thread that completes the request is the application's, and its signal mask must
 * not change, even for the moment the notification thread is made. Here SIGUSR1 is blocked
 * and pending in the main thread: its handler must not run there, and it stays pending (as
 * in glibc, whose new thread empties its own mask). The callback still runs with an empty
 * mask. */
#include "t.h"

static pthread_t main_thread;
static _Atomic int handled_in_main, calls, cb_mask_empty = 1;

static void handler(int s)
{
    (void)s;
    if (pthread_equal(pthread_self(), main_thread))
        handled_in_main = 1;
}

static void cb(union sigval v)
{
    (void)v;
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    if (sigismember(&cur, SIGUSR1) || sigismember(&cur, SIGTERM))
        cb_mask_empty = 0;
    calls++;
}

int main(void)
{
    t_init("notify_attr_mask");
    main_thread = pthread_self();
    int fd = t_tmpfile();
    char data[4096];
    memset(data, 'x', sizeof data);
    t_pwrite_all(fd, data, sizeof data, 0);
    t_pread_all(fd, data, sizeof data, 0); /* in the page cache */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    CHECK_OK(pthread_sigmask(SIG_BLOCK, &set, NULL));
    CHECK_OK(raise(SIGUSR1)); /* pending, blocked in this thread */
    pthread_attr_t attr;
    CHECK_OK(pthread_attr_init(&attr));
    CHECK_OK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
    static struct aiocb a;
    static char buf[4096];
    for (int i = 0; i < 20; i++) {
        memset(&a, 0, sizeof a);
        a.aio_fildes = fd;
        a.aio_buf = buf;
        a.aio_nbytes = sizeof buf;
        a.aio_sigevent.sigev_notify = SIGEV_THREAD;
        a.aio_sigevent.sigev_notify_function = cb;
        a.aio_sigevent.sigev_notify_attributes = &attr;
        CHECK_OK(aio_read(&a));
        CHECK_EQ(t_wait_return(&a, 0, "read"), (ssize_t)sizeof buf);
        CHECK(!handled_in_main);
    }
    t_wait_atomic(&calls, 20, "callbacks");
    sigset_t pend;
    CHECK_OK(sigpending(&pend));
    CHECK(sigismember(&pend, SIGUSR1));
    CHECK(cb_mask_empty);
    return T_PASS;
}
