/* threads_lowered: BEHAVIOUR.md aio_init: "aio_threads (>= 1) is the maximum number of I/O worker
 * threads ... May be called at any time; takes effect for later requests"; Threads: "at most
 * aio_threads run". Threads backend, default limit. 4 pipe reads block 4 workers; aio_init
 * lowers the limit to 1; one more read (pipe E) is submitted and then the 4 pipes are fed.
 * Then, with the limit at 1, 4 NEW reads on 4 empty pipes are submitted: at most one may be
 * running (blocked in read), the others must wait queued. Counts the threads blocked in
 * read() on those pipes (the workers over the limit took new requests as long as they were
 * busy: all 4 ran). */
#include "t.h"

int main(void)
{
    t_init("threads_lowered");
    t_backend_threads();
    int p[4][2], q[4][2];
    char b[8][1];
    struct aiocb r[4], s[4];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(pipe(p[i]));
        CHECK_OK(pipe(q[i]));
        t_cb(&r[i], p[i][0], b[i], 1, 0);
        CHECK_OK(aio_read(&r[i]));
    }
    for (int i = 0; i < 4; i++)
        t_wait_blocked_read(p[i][0]);
    t_aio_init(1, 0);
    /* new reads, submitted while the 4 workers are still busy */
    for (int i = 0; i < 4; i++) {
        t_cb(&s[i], q[i][0], b[4 + i], 1, 0);
        CHECK_OK(aio_read(&s[i]));
    }
    /* release the old reads: their workers become free */
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(write(p[i][1], "x", 1), 1);
        t_wait_return(&r[i], 0, "old read");
    }
    t_sleep_ms(300);
    int blocked = 0;
    for (int i = 0; i < 4; i++)
        blocked += t_thread_in_syscall_on_fd(q[i][0], 1, NULL) == 1;
    t_note("limit 1: threads blocked in the 4 new reads: %d", blocked);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(write(q[i][1], "y", 1), 1);
    for (int i = 0; i < 4; i++)
        t_wait_return(&s[i], 0, "new read");
    if (blocked > 1)
        FAILF("%d workers ran the new reads at once with aio_threads = 1", blocked);
    return T_PASS;
}
