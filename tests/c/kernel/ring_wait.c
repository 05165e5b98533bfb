/* ring_wait: kaio_wait's five parts (kaio_wait.c) with the O_DIRECT reads on io_uring
 * (RTAIO_BACKEND=uring; the threads mode keeps its thread pool), where a thread in aio_suspend
 * (no timeout) whose entries are all in the ring waits on the ring's completion eventfd and
 * reaps what completed itself, one thread at a time, the others on their status words.
 * First, on io_uring, that this wait is the one taken: a thread in aio_suspend on a read of an
 * empty pipe (in the ring, polled) sleeps in read() (the eventfd), not in a futex wait, and
 * returns with the data once the pipe has some. */
#define RING_WAIT 1

static void ring_wait_setup(void);
static void ring_wait_check(void);

#include "kaio_wait.c"

static void ring_wait_setup(void)
{
    const char *b = getenv("RTAIO_BACKEND");
    if (!b || strcmp(b, "threads") != 0)
        setenv("RTAIO_BACKEND", "uring", 1); /* before any AIO call: the backend is chosen then */
    t_init("ring_wait");
}

static _Atomic pid_t waiter_tid;

static void *pipe_waiter(void *arg)
{
    const struct aiocb *list[1] = { arg };
    atomic_store(&waiter_tid, t_gettid());
    while (aio_suspend(list, 1, NULL) != 0)
        CHECK_EQ(errno, EINTR);
    return NULL;
}

/* The system call thread `tid` is in now (-1 if /proc cannot say). */
static long syscall_of(pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long nr = -1;
    if (fscanf(f, "%ld", &nr) != 1)
        nr = -1;
    fclose(f);
    return nr;
}

static void ring_wait_check(void)
{
    t_phase("aio_suspend on the ring waits on its eventfd");
    int p[2];
    CHECK_OK(pipe(p));
    char buf[8] = { 0 };
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK_OK(aio_read(&cb));
    if (!t_uring()) {
        t_note("not on io_uring (refused here, or the threads mode): no ring wait to see");
    } else {
        pthread_t th;
        CHECK_OK(pthread_create(&th, NULL, pipe_waiter, &cb));
        while (!atomic_load(&waiter_tid))
            sched_yield();
        double end = t_now() + T_DEADLINE_S;
        long nr;
        while ((nr = syscall_of(atomic_load(&waiter_tid))) != SYS_read) {
            if (nr == -1) {
                t_note("no /proc/self/task/N/syscall: the wait is not looked at");
                break;
            }
            if (t_now() > end)
                FAILF("the thread in aio_suspend is in system call %ld after %.0f s, not in "
                      "read() of the ring's eventfd", nr, T_DEADLINE_S);
            t_sleep_ms(2);
        }
        CHECK_EQ(write(p[1], "ring", 4), 4);
        CHECK_OK(pthread_join(th, NULL));
    }
    if (aio_error(&cb) == EINPROGRESS)
        CHECK_EQ(write(p[1], "ring", 4), 4);
    CHECK_EQ(t_wait_return(&cb, 0, "the pipe read"), 4);
    CHECK(memcmp(buf, "ring", 4) == 0);
    close(p[0]);
    close(p[1]);
}
