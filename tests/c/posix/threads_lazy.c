/* threads_lazy: BEHAVIOUR.md "No thread exists before the first request. I/O workers block
 * every signal".
 *  - before any AIO call the process has exactly 1 thread (the library is linked or
 *    preloaded, and aio_error/aio_suspend on unknown aiocbs start nothing either);
 *  - with an aio_read blocked on an empty pipe, there are more threads;
 *  - the worker blocked in that read has every signal blocked (SigBlk in
 *    /proc/self/task/TID/status: all bits except SIGKILL/SIGSTOP, which cannot be blocked,
 *    and 32/33 (glibc-internal)); every non-main thread has a non-empty mask. */
#include "t.h"

static unsigned long long sigblk_of(pid_t tid)
{
    char path[128], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return ~0ULL; /* thread gone */
    unsigned long long m = 0;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &m) == 1) {
            found = 1;
            break;
        }
    fclose(f);
    CHECK(found);
    return m;
}

#define BIT(s) (1ULL << ((s)-1))

int main(void)
{
    t_init("threads_lazy");
    int n0 = t_count_threads();
    if (n0 != 1)
        FAILF("%d threads before any AIO request, expected 1", n0);

    /* calls that submit nothing must not start threads */
    struct aiocb never;
    t_cb(&never, 0, NULL, 0, 0);
    CHECK_ERR(aio_error(&never), EINVAL);
    const struct aiocb *l[1] = { &never };
    struct timespec z = { 0, 0 };
    CHECK_OK(aio_suspend(l, 1, &z));
    int n1 = t_count_threads();
    if (n1 != 1)
        FAILF("%d threads after aio_error/aio_suspend on an unknown aiocb, expected 1", n1);

    int p[2];
    CHECK_OK(pipe(p));
    char b = 0;
    struct aiocb rd;
    t_cb(&rd, p[0], &b, 1, 0);
    CHECK_OK(aio_read(&rd));
    t_wait_blocked_read(p[0]);
    int n2 = t_count_threads();
    if (n2 < 2)
        FAILF("%d threads while a request is blocked, expected more than 1", n2);

    pid_t worker = 0;
    int have_syscall = t_thread_in_syscall_on_fd(p[0], 1, &worker);
    unsigned long long allowed_clear = BIT(SIGKILL) | BIT(SIGSTOP) | BIT(32) | BIT(33);
    if (have_syscall == 1) {
        CHECK(worker != getpid());
        unsigned long long m = sigblk_of(worker);
        if ((m | allowed_clear) != ~0ULL)
            FAILF("worker thread %d (blocked in read) has SigBlk %016llx: not every signal is "
                  "blocked",
                  (int)worker, m);
    } else {
        t_note("/proc/self/task/*/syscall unavailable: checking all non-main threads only");
    }
    pid_t tids[256];
    int nt = t_threads(tids, 256);
    CHECK(nt > 0);
    for (int i = 0; i < nt; i++) {
        if (tids[i] == getpid())
            continue;
        unsigned long long m = sigblk_of(tids[i]);
        if (m == 0)
            FAILF("library thread %d has an empty signal mask", (int)tids[i]);
    }

    t_write_all(p[1], "x", 1);
    CHECK_EQ(t_wait_return(&rd, 0, "pipe read"), 1);
    CHECK_EQ(b, 'x');
    return T_PASS;
}
