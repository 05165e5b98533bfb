/* parallel_one_fd: many requests in flight on ONE descriptor.
 *  1. 64 aio_reads of distinct regions of one file, then 64 aio_writes of distinct
 *     regions, all in flight together; data checked byte for byte. (The program re-runs
 *     itself with RTAIO_INLINE=0: rtaio completes cached reads in the submitting thread.)
 *  2. 4 aio_reads on the same connected SOCK_STREAM socket; the peer then writes 4 bytes
 *     one at a time: all 4 reads complete, each with one byte, together the 4 bytes.
 *  3. Parallelism on one fd (BEHAVIOUR.md: "requests run in parallel, also on one
 *     descriptor"): aio_read A on socket S blocks (nothing to read); aio_write B on the SAME
 *     S must complete while A is still in progress. (glibc runs one request per descriptor
 *     at a time and fails this part; it is an rtaio test.) */
#include "t.h"

#define N 64
#define REG 16384

static unsigned char file_data[N * REG];
static unsigned char bufs[N][REG];

int main(int argc, char **argv)
{
    (void)argc;
    t_init("parallel_one_fd");
    int fd = t_tmpfile();
    t_fill_random(file_data, sizeof file_data);
    t_pwrite_all(fd, file_data, sizeof file_data, 0);

    struct aiocb cbs[N];
    /* 1a: 64 reads in flight, regions in a shuffled order */
    int perm[N];
    for (int i = 0; i < N; i++)
        perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)t_rand_below((uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < N; i++) {
        memset(bufs[i], 0, REG);
        t_cb(&cbs[i], fd, bufs[i], REG, (off_t)perm[i] * REG);
        CHECK_OK(aio_read(&cbs[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, "read"), REG);
        if (memcmp(bufs[i], file_data + (size_t)perm[i] * REG, REG) != 0)
            FAILF("read %d (region %d): wrong data", i, perm[i]);
    }
    /* 1b: 64 writes in flight */
    for (int i = 0; i < N; i++) {
        t_fill_random(bufs[i], REG);
        memcpy(file_data + (size_t)perm[i] * REG, bufs[i], REG);
        t_cb(&cbs[i], fd, bufs[i], REG, (off_t)perm[i] * REG);
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write"), REG);
    static unsigned char check[N * REG];
    t_pread_all(fd, check, sizeof check, 0);
    CHECK(memcmp(check, file_data, sizeof check) == 0);
    close(fd);

    /* 2: 4 reads on one stream socket, fed one byte at a time */
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    char rb[4] = { 0 };
    struct aiocb rc[4];
    for (int i = 0; i < 4; i++) {
        t_cb(&rc[i], sv[0], &rb[i], 1, 0);
        CHECK_OK(aio_read(&rc[i]));
    }
    t_sleep_ms(50);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(aio_error(&rc[i]), EINPROGRESS);
    const char msg[4] = { 'w', 'x', 'y', 'z' };
    for (int i = 0; i < 4; i++) {
        t_write_all(sv[1], &msg[i], 1);
        t_sleep_ms(10);
    }
    int seen[256] = { 0 };
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(t_wait_return(&rc[i], 0, "socket read"), 1);
        seen[(unsigned char)rb[i]]++;
    }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(seen[(unsigned char)msg[i]], 1);

    /* 3: a write on S completes while a read on S is blocked */
    char abyte = 0;
    struct aiocb a, b;
    t_cb(&a, sv[0], &abyte, 1, 0);
    CHECK_OK(aio_read(&a));
    t_wait_blocked_read(sv[0]);
    CHECK_EQ(aio_error(&a), EINPROGRESS);
    const char bmsg[8] = "PARALLE";
    t_cb(&b, sv[0], (void *)bmsg, sizeof bmsg, 0);
    CHECK_OK(aio_write(&b));
    const struct aiocb *bl[1] = { &b };
    double end = t_now() + 10.0;
    int b_done = 0;
    while (t_now() < end) {
        struct timespec ts = { 0, 100000000L };
        aio_suspend(bl, 1, &ts);
        if (aio_error(&b) != EINPROGRESS) {
            b_done = 1;
            break;
        }
    }
    int a_err_when_b_done = aio_error(&a);
    /* unblock A in every case so that the process can finish */
    t_write_all(sv[1], "!", 1);
    CHECK_EQ(t_wait_return(&a, 0, "blocked read"), 1);
    CHECK_EQ(abyte, '!');
    if (!b_done)
        FAILF("aio_write on socket fd %d did not complete within 10 s while an aio_read on the "
              "same fd was blocked: requests on one fd are not run in parallel",
              sv[0]);
    CHECK_EQ(a_err_when_b_done, EINPROGRESS);
    CHECK_EQ(t_wait_return(&b, 0, "parallel write"), (ssize_t)sizeof bmsg);
    char got[8];
    t_read_all(sv[1], got, sizeof got);
    CHECK(memcmp(got, bmsg, sizeof got) == 0);
    close(sv[0]);
    close(sv[1]);
    /* rtaio completes page-cache hits of reads in the submitting thread; run everything once
     * more with that off (RTAIO_INLINE=0), so that the 64 reads really are in flight together */
    if (!getenv("RTAIO_INLINE")) {
        setenv("RTAIO_INLINE", "0", 1);
        execv("/proc/self/exe", argv);
        FAILF("execv: %s", strerror(errno));
    }
    return T_PASS;
}
