/* aio_init: BEHAVIOUR.md "aio_init".
 *  - aio_init({.aio_threads = 2, .aio_idle_time = 1}) before the first request;
 *  - at most 2 requests run: with 2 aio_reads blocked on empty pipes, a regular-file write
 *    stays queued; it runs once a worker is free;
 *  - many requests (2000, in batches of 500 in flight) all complete with correct data;
 *  - idle workers exit: after the activity and 3 s of idleness, /proc/self/task lists
 *    only the main thread (polled up to 30 s);
 *  - AIO works again after the workers exited;
 *  - aio_init(NULL) is ignored (in a child process: glibc would crash). */
#include "t.h"

#define BATCH 500
#define SZ 256

static struct aiocb cbs[BATCH];
static unsigned char data[BATCH][SZ], back[BATCH][SZ];

int main(void)
{
    t_init("aio_init");
    t_backend_threads(); /* queued requests behind blocked workers: the pool's behaviour */
    CHECK_EQ(t_count_threads(), 1);
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = 2;
    init.aio_num = 1000;
    init.aio_idle_time = 1;
    aio_init(&init);
    CHECK_EQ(t_count_threads(), 1); /* aio_init starts nothing */

    int fd = t_tmpfile();
    int p1[2], p2[2];
    CHECK_OK(pipe(p1));
    CHECK_OK(pipe(p2));
    char b1 = 0, b2 = 0;
    struct aiocb r1, r2, w;
    t_cb(&r1, p1[0], &b1, 1, 0);
    t_cb(&r2, p2[0], &b2, 1, 0);
    CHECK_OK(aio_read(&r1));
    CHECK_OK(aio_read(&r2));
    t_wait_blocked_read(p1[0]);
    t_wait_blocked_read(p2[0]);
    t_cb(&w, fd, "queued", 6, 0);
    CHECK_OK(aio_write(&w));
    t_sleep_ms(300);
    if (aio_error(&w) != EINPROGRESS)
        FAILF("with aio_threads = 2 and 2 workers blocked, a third request ran (status %d)",
              aio_error(&w));
    t_write_all(p1[1], "1", 1);
    CHECK_EQ(t_wait_return(&w, 0, "queued write"), 6);
    CHECK_EQ(t_wait_return(&r1, 0, "pipe read 1"), 1);
    t_write_all(p2[1], "2", 1);
    CHECK_EQ(t_wait_return(&r2, 0, "pipe read 2"), 1);
    CHECK(b1 == '1' && b2 == '2');

    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < BATCH; i++) {
            t_fill_random(data[i], SZ);
            t_cb(&cbs[i], fd, data[i], SZ, (off_t)i * SZ);
            CHECK_OK(aio_write(&cbs[i]));
        }
        for (int i = 0; i < BATCH; i++)
            CHECK_EQ(t_wait_return(&cbs[i], 0, "write"), SZ);
        for (int i = 0; i < BATCH; i++) {
            t_cb(&cbs[i], fd, back[i], SZ, (off_t)i * SZ);
            CHECK_OK(aio_read(&cbs[i]));
        }
        for (int i = 0; i < BATCH; i++) {
            CHECK_EQ(t_wait_return(&cbs[i], 0, "read"), SZ);
            CHECK(memcmp(back[i], data[i], SZ) == 0);
        }
    }

    /* idle workers exit */
    t_sleep_ms(3000);
    double end = t_now() + T_DEADLINE_S;
    int n;
    while ((n = t_count_threads()) != 1 && t_now() < end)
        t_sleep_ms(100);
    if (n != 1)
        FAILF("%d threads remain %.0f s after the last request (aio_idle_time = 1 s)", n,
              3 + T_DEADLINE_S);

    /* works again */
    struct aiocb again;
    char ab[6];
    t_cb(&again, fd, ab, 6, 0);
    CHECK_OK(aio_read(&again));
    CHECK_EQ(t_wait_return(&again, 0, "read after idle exit"), 6);
    CHECK(memcmp(ab, data[0], 6) == 0);

    /* aio_init(NULL) is ignored */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        NOT_GLIBC(aio_init(t_null()));
        struct aiocb c;
        char cb_[4];
        t_cb(&c, fd, cb_, 4, 0);
        if (aio_read(&c) != 0)
            _exit(2);
        if (t_wait_return(&c, 0, "child read") != 4)
            _exit(3);
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAILF("aio_init(NULL) in a child: status 0x%x", status);
    return T_PASS;
}
