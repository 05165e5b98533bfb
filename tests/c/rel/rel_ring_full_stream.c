/* rel_ring_full_stream: a 1 MiB aio_write to a pipe (whose reader drains it) goes in parts on
 * io_uring: each part's completion queues the rest. Another thread keeps the ring's
 * submission queue full (lio_listio(LIO_WAIT) of 1100 one-byte reads of 1100 pipes, each with
 * a byte waiting). A rest the full queue refused finished the write with the part written
 * (a short count: the rest never written; glibc's write() writes it all). Every write must
 * return its whole length, and the reader must get every byte. Rounds for at most 4 s. */
#include "t.h"
#include <sys/resource.h>

#define LEN (1 << 20)
#define NL 1100
#define BUDGET_S 4.0

static int p[2], lp[NL][2];
static _Atomic int stop;
static _Atomic long drained;

static void *reader(void *a)
{
    (void)a;
    static char b[1 << 16];
    for (;;) {
        ssize_t k = read(p[0], b, sizeof b);
        if (k <= 0)
            break;
        drained += k;
    }
    return NULL;
}

static void *lister(void *a)
{
    (void)a;
    static struct aiocb cbs[NL];
    static struct aiocb *l[NL];
    static char buf[NL];
    while (!stop) {
        for (int i = 0; i < NL; i++) {
            memset(&cbs[i], 0, sizeof cbs[i]);
            t_write_all(lp[i][1], "q", 1);
            cbs[i].aio_fildes = lp[i][0];
            cbs[i].aio_buf = &buf[i];
            cbs[i].aio_nbytes = 1;
            cbs[i].aio_lio_opcode = LIO_READ;
            l[i] = &cbs[i];
        }
        CHECK_OK(lio_listio(LIO_WAIT, l, NL, NULL));
        for (int i = 0; i < NL; i++)
            CHECK_EQ(aio_return(&cbs[i]), 1);
    }
    return NULL;
}

int main(void)
{
    t_init("rel_ring_full_stream");
    struct rlimit rl;
    CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 2 * NL + 64) {
        rl.rlim_cur = rl.rlim_max < 2 * NL + 64 ? rl.rlim_max : 2 * NL + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        CHECK_OK(getrlimit(RLIMIT_NOFILE, &rl));
        if (rl.rlim_cur < 2 * NL + 64)
            SKIP("RLIMIT_NOFILE %lu: not enough descriptors for %d pipes", (unsigned long)rl.rlim_cur, NL);
    }
    for (int i = 0; i < NL; i++)
        CHECK_OK(pipe(lp[i]));
    CHECK_OK(pipe(p));
    pthread_t r, l;
    CHECK_OK(pthread_create(&r, NULL, reader, NULL));
    CHECK_OK(pthread_create(&l, NULL, lister, NULL));
    char *buf = malloc(LEN);
    CHECK(buf);
    memset(buf, 'w', LEN);
    long writes = 0;
    double end = t_now() + BUDGET_S;
    while (t_now() < end) {
        struct aiocb cb;
        t_cb(&cb, p[1], buf, LEN, 0);
        CHECK_OK(aio_write(&cb));
        ssize_t n = t_wait_return(&cb, 0, "1 MiB write to a pipe");
        writes++;
        if (n != LEN)
            FAILF("write %ld returned %zd of %d bytes (the ring's queue was full for the rest)", writes, n, LEN);
    }
    stop = 1;
    CHECK_OK(pthread_join(l, NULL));
    close(p[1]);
    CHECK_OK(pthread_join(r, NULL));
    CHECK_EQ(drained, writes * LEN);
    t_note("%ld writes of 1 MiB", writes);
    free(buf);
    return T_PASS;
}
