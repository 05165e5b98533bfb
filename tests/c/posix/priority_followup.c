/* priority_followup: BEHAVIOUR.md "Among requests queued for the pool, lower aio_reqprio is
 * dispatched first; equal priority is FIFO", also for a request another one's completion
 * releases (the next read of a pipe). aio_threads = 1, on the pool. The only worker blocks in
 * R0 (a read of empty pipe A). Queued: R1 (the next read of A, held in A's order; priority
 * 20, or 0 in the second round) and, after it, W1 (a file write) and W2 (a write to pipe B),
 * priority 0. A byte arrives on A: R0 completes and releases R1. R1 was queued for the pool
 * only then: W1 and W2 go first (the worker ran R1 first, which blocked on the empty pipe, and
 * W1 and W2 waited as long as A stayed empty: for ever). glibc runs W1 and W2 too. */
#include "t.h"

static void round_with(int r1_prio)
{
    int a[2], b[2];
    CHECK_OK(pipe(a));
    CHECK_OK(pipe(b));
    int f = t_tmpfile();
    char r0b, r1b, wb = 'w';
    struct aiocb r0, r1, w1, w2;
    t_cb(&r0, a[0], &r0b, 1, 0);
    CHECK_OK(aio_read(&r0));
    t_wait_blocked_read(a[0]);
    t_cb(&r1, a[0], &r1b, 1, 0);
    r1.aio_reqprio = r1_prio;
    CHECK_OK(aio_read(&r1));
    t_cb(&w1, f, &wb, 1, 0);
    CHECK_OK(aio_write(&w1));
    t_cb(&w2, b[1], &wb, 1, 0);
    CHECK_OK(aio_write(&w2));
    t_write_all(a[1], "x", 1);
    CHECK_EQ(t_wait_return(&r0, 0, "R0"), 1);
    /* R1 cannot complete before the next byte: W1 and W2 must not wait for it */
    CHECK_EQ(t_wait_return(&w1, 0, "W1, queued before R1 was released"), 1);
    CHECK_EQ(t_wait_return(&w2, 0, "W2, queued before R1 was released"), 1);
    CHECK_EQ(aio_error(&r1), EINPROGRESS);
    t_write_all(a[1], "y", 1);
    CHECK_EQ(t_wait_return(&r1, 0, "R1"), 1);
    CHECK_EQ(r1b, 'y');
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    close(f);
}

int main(void)
{
    t_init("priority_followup");
    t_backend_threads();
    t_aio_init(1, 0);
    round_with(20);
    round_with(0);
    return T_PASS;
}
