/* fork_in_callback: a SIGEV_THREAD callback forks, and the child
 *   - calls exit() at once (as after a failed exec): the child ends; the thread-local state of
 *     the notification thread it was forked from (the parent's, copied) must not make its exit
 *     wait for the parent's threads;
 *   - or returns from the callback (every other fork): the child's one thread ends, and with it
 *     the child, with status 0, as glibc's notification thread ends when its callback returns;
 *     it runs none of the parent's other notifications (each would print a byte to a pipe).
 * Other threads keep SIGEV_THREAD notifications flowing meanwhile, so that the parent's
 * notification threads are busy with their pool at the fork. */
#include "t.h"

#define FORKS 40
#define BUSY 4

static int fd, seen[2];
static _Atomic int in_child;
static _Atomic int stop, forks_done, children_hung, children_failed;

static void noop_cb(union sigval v)
{
    (void)v;
    if (in_child)
        t_write_all(seen[1], "c", 1);
}

static void fork_cb(union sigval v)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (v.sival_int % 2 == 0)
            exit(0);
        in_child = 1;
        return;
    }
    if (pid < 0) {
        children_failed++;
    } else {
        int status = 0;
        if (t_wait_child(pid, 10, &status) != 0)
            children_hung++;
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            children_failed++;
    }
    forks_done++;
}

static void *busy(void *arg)
{
    (void)arg;
    char b[1];
    struct aiocb cb;
    while (!stop) {
        t_cb(&cb, fd, b, 1, 0);
        cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb.aio_sigevent.sigev_notify_function = noop_cb;
        if (aio_read(&cb) != 0)
            FAILF("aio_read: %s", strerror(errno));
        t_wait_return(&cb, 0, "a background read");
    }
    return NULL;
}

int main(void)
{
    t_init("fork_in_callback");
    fd = t_tmpfile();
    CHECK_OK(pipe(seen));
    t_pwrite_all(fd, "x", 1, 0);
    pthread_t th[BUSY];
    for (int i = 0; i < BUSY; i++)
        CHECK_OK(pthread_create(&th[i], NULL, busy, NULL));
    static char b[1];
    for (int i = 0; i < FORKS; i++) {
        struct aiocb cb;
        t_cb(&cb, fd, b, 1, 0);
        cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb.aio_sigevent.sigev_notify_function = fork_cb;
        cb.aio_sigevent.sigev_value.sival_int = i;
        CHECK_OK(aio_read(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "read"), 1);
        t_wait_atomic(&forks_done, i + 1, "a callback that forks");
        if (children_hung)
            break;
    }
    stop = 1;
    for (int i = 0; i < BUSY; i++)
        CHECK_OK(pthread_join(th[i], NULL));
    if (children_hung || children_failed)
        FAILF("of %d children forked by callbacks (half exit() at once, half return), %d did not end within 10 s "
              "and %d failed",
              FORKS, (int)children_hung, (int)children_failed);
    CHECK_OK(fcntl(seen[0], F_SETFL, O_NONBLOCK));
    char c;
    ssize_t n = read(seen[0], &c, 1);
    if (n != -1 || errno != EAGAIN)
        FAILF("a child ran a notification of its parent's (read %zd)", n);
    return T_PASS;
}
