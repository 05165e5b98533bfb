/* max_requests: BEHAVIOUR.md "More than RTAIO_MAX_REQUESTS requests outstanding in the
 * process ... → EAGAIN" and lio_listio "If the whole list would exceed the
 * outstanding-request limit, nothing is queued: -1/EAGAIN".
 * The program re-executes itself with RTAIO_MAX_REQUESTS=8 (read by the library at
 * start-up). 8 aio_reads block on 8 empty pipes; a 9th request → EAGAIN (aio_read,
 * aio_write, aio_fsync, and a 1-entry lio_listio). After one completes and is returned,
 * exactly one more fits; a 2-entry list → EAGAIN with nothing queued, each entry's status
 * EAGAIN. */
#include "t.h"

#define LIM 8

int main(int argc, char **argv)
{
    (void)argc;
    t_init("max_requests");
    const char *v = getenv("RTAIO_MAX_REQUESTS");
    if (!v || strcmp(v, "8") != 0) {
        setenv("RTAIO_MAX_REQUESTS", "8", 1);
        execv("/proc/self/exe", argv);
        FAILF("execv: %s", strerror(errno));
    }
    int p[LIM][2];
    char b[LIM];
    struct aiocb rd[LIM];
    for (int i = 0; i < LIM; i++) {
        CHECK_OK(pipe(p[i]));
        t_cb(&rd[i], p[i][0], &b[i], 1, 0);
        CHECK_OK(aio_read(&rd[i]));
    }
    int fd = t_tmpfile();
    struct aiocb w, w2, fs;
    t_cb(&w, fd, "ABCD", 4, 0);
    CHECK_ERR(aio_write(&w), EAGAIN);
    CHECK_ERR(aio_read(&w), EAGAIN);
    CHECK_ERR(aio_error(&w), EINVAL); /* nothing queued */
    t_cb(&fs, fd, NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &fs), EAGAIN);
    w.aio_lio_opcode = LIO_WRITE;
    struct aiocb *l1[1] = { &w };
    CHECK_ERR(lio_listio(LIO_NOWAIT, l1, 1, NULL), EAGAIN);
    CHECK_ERR(lio_listio(LIO_WAIT, l1, 1, NULL), EAGAIN);

    /* free one slot: complete + aio_return one read */
    t_write_all(p[0][1], "0", 1);
    CHECK_EQ(t_wait_return(&rd[0], 0, "pipe read 0"), 1);

    /* a 2-entry list does not fit: nothing queued */
    t_cb(&w, fd, "ABCD", 4, 0);
    w.aio_lio_opcode = LIO_WRITE;
    t_cb(&w2, fd, "EFGH", 4, 4);
    w2.aio_lio_opcode = LIO_WRITE;
    struct aiocb *l2[2] = { &w, &w2 };
    CHECK_ERR(lio_listio(LIO_NOWAIT, l2, 2, NULL), EAGAIN);
    /* POSIX: the application checks each entry's status to see which were not queued */
    CHECK_EQ(aio_error(&w), EAGAIN);
    CHECK_EQ(aio_error(&w2), EAGAIN);
    CHECK_EQ(aio_return(&w), -1);
    t_sleep_ms(200);
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK_EQ(st.st_size, 0);
    /* exactly one more fits (a read that blocks, so it surely stays outstanding) */
    int p9[2];
    CHECK_OK(pipe(p9));
    char b9 = 0;
    struct aiocb r9;
    t_cb(&r9, p9[0], &b9, 1, 0);
    CHECK_OK(aio_read(&r9));
    CHECK_ERR(aio_write(&w2), EAGAIN);
    t_write_all(p9[1], "9", 1);
    CHECK_EQ(t_wait_return(&r9, 0, "read in the freed slot"), 1);
    t_cb(&w, fd, "ABCD", 4, 0);
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "write"), 4);

    for (int i = 1; i < LIM; i++) {
        t_write_all(p[i][1], "x", 1);
        CHECK_EQ(t_wait_return(&rd[i], 0, "pipe read"), 1);
    }
    /* everything free again: a full list of LIM fits */
    struct aiocb many[LIM], *lm[LIM];
    char bufs[LIM][4];
    for (int i = 0; i < LIM; i++) {
        t_cb(&many[i], fd, bufs[i], 4, 0);
        many[i].aio_lio_opcode = LIO_READ;
        lm[i] = &many[i];
    }
    /* every request has completed and been returned: none is outstanding */
    errno = 0;
    if (lio_listio(LIO_WAIT, lm, LIM, NULL) != 0) {
        int e = errno;
        t_sleep_ms(500);
        int later = lio_listio(LIO_WAIT, lm, LIM, NULL);
        FAILF("lio_listio of %d entries right after all requests were aio_return'ed: -1 errno "
              "%d (%s); the same call 500 ms later returned %d: a returned request was still "
              "counted as outstanding",
              LIM, e, strerror(e), later);
    }
    for (int i = 0; i < LIM; i++) {
        CHECK_EQ(aio_return(&many[i]), 4);
        CHECK(memcmp(bufs[i], "ABCD", 4) == 0);
    }
    return T_PASS;
}
