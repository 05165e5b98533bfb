/* rel_one_cpu: the process may run on one CPU only (BEHAVIOUR.md "Threads": with one CPU a
 * worker gives the CPU back once after a buffered write, and the waiters of a run of such
 * writes are woken when the run is over). The program re-executes itself with its affinity
 * set to one CPU, so that rtaio counts one from its start. Checked, each with its data:
 *  - 32 buffered writes at a time on one descriptor, waited for with aio_suspend, 20 rounds:
 *    every request completes (the wake-ups held while the worker runs the queue are given);
 *  - a caller polling aio_error without ever sleeping, one write at a time, 200 times;
 *  - a read of an empty pipe (a task that waits, not a buffered write) queued right after a
 *    buffered write, with the caller polling: it is running (blocked in read in a thread of
 *    rtaio's) before the pipe gets its data, then completes with it;
 *  - an aio_suspend on the first of 32 writes while the rest are queued behind it;
 *  - an aio_suspend without timeout on the second of three writes (not the one this thread
 *    queued last, so not run by it): only the worker's completion, whose wake-up it held
 *    while it ran the queue, ends the wait, 50 times. */
#include "t.h"
#include <sched.h>

#define N 32

static void pin_to_one_cpu(char **argv)
{
    if (getenv("RTAIO_TEST_PINNED"))
        return;
    cpu_set_t set;
    CHECK_OK(sched_getaffinity(0, sizeof set, &set));
    int cpu = -1;
    for (int i = 0; i < CPU_SETSIZE && cpu < 0; i++)
        if (CPU_ISSET(i, &set))
            cpu = i;
    CHECK(cpu >= 0);
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    CHECK_OK(sched_setaffinity(0, sizeof set, &set));
    CHECK_OK(setenv("RTAIO_TEST_PINNED", "1", 1));
    execv("/proc/self/exe", argv);
    FAILF("execv: %s", strerror(errno));
}

static char data[N][4096];
static struct aiocb cbs[N];

static void fill(int round)
{
    for (int i = 0; i < N; i++)
        memset(data[i], 'a' + (round + i) % 26, sizeof data[i]);
}

static void check_file(int fd)
{
    static char back[4096];
    for (int i = 0; i < N; i++) {
        t_pread_all(fd, back, sizeof back, (off_t)i * 4096);
        if (memcmp(back, data[i], sizeof back) != 0)
            FAILF("block %d does not hold its last write", i);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    t_init("rel_one_cpu");
    pin_to_one_cpu(argv);
    cpu_set_t set;
    CHECK_OK(sched_getaffinity(0, sizeof set, &set));
    CHECK_EQ(CPU_COUNT(&set), 1);
    int fd = t_tmpfile();

    t_phase("32 at a time");
    for (int round = 0; round < 20; round++) {
        fill(round);
        for (int i = 0; i < N; i++) {
            t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 4096);
            CHECK_OK(aio_write(&cbs[i]));
        }
        const struct aiocb *list[N];
        for (int i = 0; i < N; i++)
            list[i] = &cbs[i];
        for (int left = N; left > 0;) {
            CHECK_OK(aio_suspend(list, N, NULL));
            for (int i = 0; i < N; i++) {
                if (!list[i] || aio_error(&cbs[i]) == EINPROGRESS)
                    continue;
                CHECK_EQ(aio_return(&cbs[i]), 4096);
                list[i] = NULL;
                left--;
            }
        }
        check_file(fd);
    }

    t_phase("polling aio_error");
    for (int k = 0; k < 200; k++) {
        memset(data[k % N], 'A' + k % 26, 4096);
        t_cb(&cbs[0], fd, data[k % N], 4096, (off_t)(k % N) * 4096);
        CHECK_OK(aio_write(&cbs[0]));
        while (aio_error(&cbs[0]) == EINPROGRESS)
            ;
        CHECK_EQ(aio_return(&cbs[0]), 4096);
    }
    check_file(fd);

    t_phase("a pipe read behind a buffered write");
    int p[2];
    CHECK_OK(pipe(p));
    char c = 0;
    struct aiocb rd;
    t_cb(&cbs[0], fd, data[0], 4096, 0);
    CHECK_OK(aio_write(&cbs[0]));
    t_cb(&rd, p[0], &c, 1, 0);
    CHECK_OK(aio_read(&rd));
    while (aio_error(&cbs[0]) == EINPROGRESS)
        ;
    CHECK_EQ(aio_return(&cbs[0]), 4096);
    t_wait_blocked_read(p[0]); /* (on io_uring the read is polled: returns at once) */
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    t_write_all(p[1], "z", 1);
    CHECK_EQ(t_wait_return(&rd, 0, "pipe read"), 1);
    CHECK_EQ(c, 'z');

    t_phase("waiting for the first of 32");
    fill(7);
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 4096);
        CHECK_OK(aio_write(&cbs[i]));
    }
    const struct aiocb *first[1] = { &cbs[0] };
    while (aio_error(&cbs[0]) == EINPROGRESS)
        CHECK_OK(aio_suspend(first, 1, NULL));
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write"), 4096);
    check_file(fd);

    t_phase("waiting for a write queued behind others");
    for (int round = 0; round < 50; round++) {
        fill(round);
        for (int i = 0; i < 3; i++) {
            t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 4096);
            CHECK_OK(aio_write(&cbs[i]));
        }
        /* The second is not the one this thread queued last: nothing runs it here, and no
         * timeout: only the worker's completion can end this wait. */
        const struct aiocb *second[1] = { &cbs[1] };
        do /* (aio_suspend first: aio_error would give the worker the CPU) */
            CHECK_OK(aio_suspend(second, 1, NULL));
        while (aio_error(&cbs[1]) == EINPROGRESS);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(t_wait_return(&cbs[i], 0, "write"), 4096);
    }
    close(fd);
    return T_PASS;
}
