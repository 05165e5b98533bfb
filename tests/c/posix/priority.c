/* priority: BEHAVIOUR.md "among queued requests, lower aio_reqprio is dispatched first;
 * equal priority is FIFO". With aio_init({.aio_threads = 1}) and the only worker blocked in
 * an aio_read on an empty pipe, 1-byte aio_writes to another pipe with mixed priorities are
 * all queued; writes to a pipe run one at a time, so the bytes appear in the pipe in
 * dispatch order: the first write holds the pipe, the others follow by priority, FIFO among
 * equals — glibc's order too (its per-descriptor queue). */
#include "t.h"

int main(void)
{
    t_init("priority");
    t_backend_threads(); /* queued requests behind blocked workers: the pool's behaviour */
    t_aio_init(1, 0);

    int blk[2], out[2];
    CHECK_OK(pipe(blk));
    CHECK_OK(pipe(out));
    char rb;
    struct aiocb rd;
    t_cb(&rd, blk[0], &rb, 1, 0);
    CHECK_OK(aio_read(&rd));
    t_wait_blocked_read(blk[0]);

    /* byte, priority */
    static const struct {
        char c;
        int prio;
    } reqs[] = { { 'a', 3 }, { 'b', 1 }, { 'c', 2 }, { 'd', 1 }, { 'e', 20 },
                 { 'f', 0 }, { 'g', 2 }, { 'h', 0 }, { 'i', 3 } };
    const char *expect = "afhbdcgie";
    enum { M = sizeof reqs / sizeof reqs[0] };
    struct aiocb w[M];
    for (int i = 0; i < M; i++) {
        t_cb(&w[i], out[1], (void *)&reqs[i].c, 1, 0);
        w[i].aio_reqprio = reqs[i].prio;
        CHECK_OK(aio_write(&w[i]));
    }
    t_sleep_ms(100);
    for (int i = 0; i < M; i++)
        CHECK_EQ(aio_error(&w[i]), EINPROGRESS);
    t_write_all(blk[1], "!", 1);
    CHECK_EQ(t_wait_return(&rd, 0, "blocking read"), 1);
    for (int i = 0; i < M; i++)
        CHECK_EQ(t_wait_return(&w[i], 0, "write"), 1);
    char got[M + 1];
    t_read_all(out[0], got, M);
    got[M] = 0;
    if (strcmp(got, expect) != 0)
        FAILF("dispatch order \"%s\", expected \"%s\" (lower aio_reqprio first, FIFO among "
              "equals)",
              got, expect);
    return T_PASS;
}
