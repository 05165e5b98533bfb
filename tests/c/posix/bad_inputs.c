/* bad_inputs: every errno BEHAVIOUR.md gives for bad arguments, plus the check order of
 * aio_read/aio_write ("Checks, in this order"), request identity (never submitted, copy,
 * double aio_return, aio_return in progress, aio_error after aio_return), that a rejected
 * submission queues nothing, and that a bad descriptor is reported as glibc reports it: the
 * request is accepted and fails with EBADF through aio_error, with its notification. */
#include "t.h"

/* Notifications counted per signal: a completion's status is published before its signal is
 * sent (as in glibc), so a signal may come after aio_error already reports the request done;
 * one counter for both would let a late SIGRTMAX count as a bad descriptor's notification. The
 * handler may run on any thread that does not block the signal. */
static _Atomic int sigrt_hits, sigrtmax_hits;
static void rt_handler(int s)
{
    int saved = errno;
    if (s == SIGRTMAX)
        sigrtmax_hits++;
    else
        sigrt_hits++;
    errno = saved;
}
/* Waits (bounded) until `counter` reaches `want`. */
static int wait_hits(_Atomic int *counter, int want)
{
    double end = t_now() + T_DEADLINE_S;
    while (*counter < want && t_now() < end)
        t_sleep_ms(1);
    return *counter;
}
static void dummy_fn(union sigval v)
{
    (void)v;
}

/* submit with both aio_read and aio_write (and the 64 twins) and expect -1/E each time;
 * the aiocb must stay unknown (nothing queued). */
#define BOTH(cbp, E)                                                                   \
    do {                                                                               \
        CHECK_ERR(aio_read(cbp), E);                                                   \
        CHECK_ERR(aio_write(cbp), E);                                                  \
        CHECK_ERR(aio_read64((struct aiocb64 *)(cbp)), E);                             \
        CHECK_ERR(aio_write64((struct aiocb64 *)(cbp)), E);                            \
        CHECK_ERR(aio_error(cbp), EINVAL);                                             \
    } while (0)
/* The same for a bad aio_reqprio, which, as in glibc, also leaves EINVAL as the aiocb's status. */
#define BOTH_PRIO(cbp)                                                                 \
    do {                                                                               \
        CHECK_ERR(aio_read(cbp), EINVAL);                                              \
        CHECK_ERR(aio_write(cbp), EINVAL);                                             \
        CHECK_ERR(aio_read64((struct aiocb64 *)(cbp)), EINVAL);                        \
        CHECK_ERR(aio_write64((struct aiocb64 *)(cbp)), EINVAL);                       \
        CHECK_EQ(aio_error(cbp), EINVAL);                                              \
        CHECK_EQ(aio_return(cbp), -1);                                                 \
    } while (0)

int main(void)
{
    t_init("bad_inputs");
    int fd = t_tmpfile();
    char buf[64];
    memset(buf, 'q', sizeof buf);
    t_pwrite_all(fd, buf, sizeof buf, 0);
    struct aiocb cb;

    /* NULL aiocb */
    NOT_GLIBC(CHECK_ERR(aio_read(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_write(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_read64(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_write64(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_fsync(O_SYNC, t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_fsync64(O_SYNC, t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_error(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_return(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_error64(t_null()), EINVAL));
    NOT_GLIBC(CHECK_ERR(aio_return64(t_null()), EINVAL));

    /* never submitted */
    t_cb(&cb, fd, buf, 8, 0);
    CHECK_ERR(aio_error(&cb), EINVAL);
    CHECK_ERR(aio_return(&cb), EINVAL);
    struct aiocb zero;
    memset(&zero, 0, sizeof zero);
    CHECK_ERR(aio_error(&zero), EINVAL);
    CHECK_ERR(aio_return(&zero), EINVAL);
    struct aiocb junk;
    memset(&junk, 0xff, sizeof junk);
    CHECK_ERR(aio_error(&junk), EINVAL);
    CHECK_ERR(aio_return(&junk), EINVAL);

    /* completed → value once, then EINVAL (double aio_return) */
    t_cb(&cb, fd, buf, 8, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait(&cb), 0);
    /* A copy made after completion (an array the program moved) reads as glibc's, which
     * reads the result fields: the result, taken once. */
    struct aiocb copy;
    memcpy(&copy, &cb, sizeof copy);
    CHECK_EQ(aio_error(&copy), 0);
    CHECK_EQ(aio_return(&copy), 8);
    if (!getenv("RTAIO_TEST_GLIBC"))
        CHECK_ERR(aio_return(&copy), EINVAL);
    CHECK_EQ(aio_error(&cb), 0);
    CHECK_EQ(aio_error(&cb), 0); /* aio_error does not release */
    CHECK_EQ(aio_return(&cb), 8);
    CHECK_ERR(aio_return(&cb), EINVAL);
    CHECK_EQ(aio_error(&cb), 0); /* the final status stays readable after aio_return */
    CHECK_ERR(aio_return64((struct aiocb64 *)&cb), EINVAL);
    /* after aio_return the aiocb may be reused */
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "reuse"), 8);

    /* in progress: resubmission → EINVAL (first not disturbed); aio_return → EINPROGRESS
     * and nothing is released */
    int p[2];
    CHECK_OK(pipe(p));
    char pb = 0;
    struct aiocb prd;
    t_cb(&prd, p[0], &pb, 1, 0);
    CHECK_OK(aio_read(&prd));
    CHECK_ERR(aio_read(&prd), EINVAL);
    CHECK_ERR(aio_write(&prd), EINVAL);
    CHECK_ERR(aio_read64((struct aiocb64 *)&prd), EINVAL);
    CHECK_ERR(aio_fsync(O_SYNC, &prd), EINVAL);
    struct aiocb *one[1] = { &prd };
    prd.aio_lio_opcode = LIO_READ;
    CHECK_ERR(lio_listio(LIO_WAIT, one, 1, NULL), EIO); /* entry fails with EINVAL... */
    /* ...but the in-progress request itself is not disturbed: still in progress. (The
     * failed entry's status cannot be stored in an aiocb that is in flight.) */
    CHECK_EQ(aio_error(&prd), EINPROGRESS);
    CHECK_ERR(aio_return(&prd), EINPROGRESS);
    CHECK_ERR(aio_return(&prd), EINPROGRESS);
    CHECK_EQ(aio_error(&prd), EINPROGRESS);
    t_write_all(p[1], "k", 1);
    CHECK_EQ(t_wait(&prd), 0);
    CHECK_EQ(aio_return(&prd), 1);
    CHECK_EQ(pb, 'k');
    CHECK_ERR(aio_return(&prd), EINVAL);

    /* aio_reqprio */
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_reqprio = -1;
    BOTH_PRIO(&cb);
    cb.aio_reqprio = AIO_PRIO_DELTA_MAX + 1;
    BOTH_PRIO(&cb);
    cb.aio_reqprio = INT_MIN;
    BOTH_PRIO(&cb);
    CHECK_EQ(AIO_PRIO_DELTA_MAX, 20);
    cb.aio_reqprio = 20;
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "reqprio 20"), 8);
    /* refused for its priority, the aiocb says so (as glibc's): not the previous request's
     * success */
    cb.aio_reqprio = 99;
    CHECK_ERR(aio_read(&cb), EINVAL);
    CHECK_EQ(aio_error(&cb), EINVAL);
    CHECK_EQ(aio_return(&cb), -1);
    cb.aio_reqprio = 0;

    /* offset / nbytes: accepted, and the read or write itself reports them through aio_error
     * (as in glibc): EINVAL for a negative offset, EFAULT or EINVAL for a count above
     * SSIZE_MAX */
    {
        static const struct {
            off_t off;
            size_t n;
            int e1, e2;
        } bad[] = { { -1, 8, EINVAL, EINVAL },
                    { LLONG_MIN, 8, EINVAL, EINVAL },
                    { 0, (size_t)SSIZE_MAX + 1, EFAULT, EINVAL },
                    { 0, SIZE_MAX, EFAULT, EINVAL } };
        for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            for (int w = 0; w < 2; w++) {
                t_cb(&cb, fd, buf, bad[i].n, bad[i].off);
                CHECK_OK(w ? aio_write(&cb) : aio_read(&cb));
                int e = t_wait(&cb);
                if (e != bad[i].e1 && e != bad[i].e2)
                    FAILF("%s offset %lld nbytes %zu: status %d (%s), expected %s", w ? "write" : "read",
                          (long long)bad[i].off, bad[i].n, e, strerror(e), strerror(bad[i].e1));
                CHECK_EQ(aio_return(&cb), -1);
            }
        }
    }

    /* sigevent */
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = 99;
    BOTH(&cb, EINVAL);
    cb.aio_sigevent.sigev_notify = -1;
    BOTH(&cb, EINVAL);
    cb.aio_sigevent.sigev_notify = 3; /* between SIGEV_THREAD (2) and SIGEV_THREAD_ID (4) */
    BOTH(&cb, EINVAL);
    int sigs[] = { -1, 32, 33, 65, 128, INT_MAX, INT_MIN };
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        t_cb(&cb, fd, buf, 8, 0);
        cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb.aio_sigevent.sigev_signo = sigs[i];
        errno = 0;
        int r = aio_read(&cb);
        if (r != -1 || errno != EINVAL)
            FAILF("SIGEV_SIGNAL with signal %d: aio_read returned %d errno %d, expected "
                  "-1/EINVAL",
                  sigs[i], r, errno);
        cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
        cb.aio_sigevent.sigev_notify_thread_id = t_gettid();
        errno = 0;
        r = aio_write(&cb);
        if (r != -1 || errno != EINVAL)
            FAILF("SIGEV_THREAD_ID with signal %d: aio_write returned %d errno %d, expected "
                  "-1/EINVAL",
                  sigs[i], r, errno);
        CHECK_ERR(aio_error(&cb), EINVAL);
    }
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb.aio_sigevent.sigev_notify_function = NULL;
    BOTH(&cb, EINVAL);
    CHECK_ERR(aio_fsync(O_SYNC, &cb), EINVAL);
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
    cb.aio_sigevent.sigev_signo = SIGRTMIN;
    cb.aio_sigevent.sigev_notify_thread_id = 999999;
    BOTH(&cb, EINVAL);
    cb.aio_sigevent.sigev_notify_thread_id = 1; /* init: not a thread of this process */
    if (getpid() != 1)
        BOTH(&cb, EINVAL);
    cb.aio_sigevent.sigev_notify_thread_id = 0;
    BOTH(&cb, EINVAL);
    cb.aio_sigevent.sigev_notify_thread_id = -5;
    BOTH(&cb, EINVAL);
    /* valid edge: SIGRTMAX with a handler, and SIGEV_THREAD_ID naming ourselves */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rt_handler;
    sa.sa_flags = SA_RESTART;
    CHECK_OK(sigaction(SIGRTMAX, &sa, NULL));
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMAX;
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "SIGRTMAX"), 8);
    CHECK_EQ(wait_hits(&sigrtmax_hits, 1), 1);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
    cb.aio_sigevent.sigev_notify_thread_id = t_gettid();
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "SIGEV_THREAD_ID self"), 8);
    CHECK_EQ(wait_hits(&sigrtmax_hits, 2), 2);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb.aio_sigevent.sigev_notify_function = dummy_fn;
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "SIGEV_THREAD"), 8);

    /* signal number 0 (the null signal) is accepted and means no notification; a
     * zero-filled aiocb (SIGEV_SIGNAL, signal 0) is the common case */
    CHECK_EQ(SIGEV_SIGNAL, 0);
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = 8;
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "zero-filled aiocb"), 8);
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD_ID;
    cb.aio_sigevent.sigev_signo = 0;
    cb.aio_sigevent.sigev_notify_thread_id = t_gettid();
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "SIGEV_THREAD_ID signal 0"), 8);

    /* A bad descriptor is accepted and reported through aio_error (as glibc does): the
     * request fails with EBADF, aio_return == -1, and its notification is sent. aio_fsync
     * alone checks the descriptor at the call. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int wo = open(path, O_WRONLY);
    int ro = open(path, O_RDONLY);
    CHECK(wo >= 0 && ro >= 0);
    int closed = dup(fd);
    close(closed);
    {
        struct {
            int fd, write;
            const char *what;
        } bad[] = { { -1, 0, "read on fd -1" },         { -1, 1, "write on fd -1" },
                    { closed, 0, "read on a closed fd" }, { closed, 1, "write on a closed fd" },
                    { 1 << 29, 0, "read on fd 2^29" },    { wo, 0, "read on an O_WRONLY fd" },
                    { ro, 1, "write on an O_RDONLY fd" } };
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = rt_handler;
        sa.sa_flags = SA_RESTART;
        CHECK_OK(sigaction(SIGRTMIN + 1, &sa, NULL));
        for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            for (int sixty4 = 0; sixty4 < 2; sixty4++) {
                t_cb(&cb, bad[i].fd, buf, 8, 0);
                cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
                cb.aio_sigevent.sigev_signo = SIGRTMIN + 1;
                int before = sigrt_hits;
                int r = bad[i].write ? (sixty4 ? aio_write64((struct aiocb64 *)&cb) : aio_write(&cb))
                                     : (sixty4 ? aio_read64((struct aiocb64 *)&cb) : aio_read(&cb));
                if (r != 0)
                    FAILF("%s: submission returned %d errno %d, expected 0", bad[i].what, r, errno);
                CHECK_EQ(t_wait_return(&cb, EBADF, bad[i].what), -1);
                CHECK_EQ(aio_error(&cb), EBADF);
                if (wait_hits(&sigrt_hits, before + 1) != before + 1)
                    FAILF("%s: %d notifications, expected 1", bad[i].what, sigrt_hits - before);
            }
        }
    }
    t_cb(&cb, -1, buf, 8, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &cb), EBADF);
    CHECK_ERR(aio_fsync(O_DSYNC, &cb), EBADF);
    CHECK_ERR(aio_error(&cb), EINVAL);
    t_cb(&cb, closed, buf, 8, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &cb), EBADF);
    t_cb(&cb, wo, buf, 8, 0);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "write on O_WRONLY"), 8);
    t_cb(&cb, ro, buf, 8, 0);
    CHECK_OK(aio_fsync(O_SYNC, &cb)); /* open, though not for writing: accepted, as in glibc */
    CHECK_EQ(t_wait_return(&cb, 0, "aio_fsync on O_RDONLY"), 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "read on O_RDONLY"), 8);

    /* check order: EINVAL conditions (3-5) come before the descriptor; NULL first */
    t_cb(&cb, -1, buf, 8, 0);
    cb.aio_reqprio = 21;
    BOTH_PRIO(&cb);
    t_cb(&cb, -1, buf, 8, 0);
    cb.aio_reqprio = -1;
    BOTH_PRIO(&cb);
    t_cb(&cb, -1, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = 99;
    BOTH(&cb, EINVAL);
    t_cb(&cb, ro, buf, 8, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = 65;
    CHECK_ERR(aio_write(&cb), EINVAL); /* a bad signal is refused, whatever the descriptor */

    /* aio_lio_opcode is ignored by aio_read/aio_write */
    t_cb(&cb, fd, buf, 8, 0);
    cb.aio_lio_opcode = LIO_WRITE;
    memset(buf, 0, 8);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "aio_read with LIO_WRITE opcode"), 8);
    CHECK(memcmp(buf, "qqqqqqqq", 8) == 0);
    cb.aio_lio_opcode = 77;
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "aio_write with junk opcode"), 8);

    /* errors of the call itself are reported through aio_error, aio_return == -1 */
    t_cb(&cb, fd, (void *)8, 16, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, EFAULT, "read into a bad buffer"), -1);
    int dfd = open("/", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    t_cb(&cb, dfd, buf, 8, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, EISDIR, "read of a directory"), -1);
    close(dfd);

    /* aio_fsync op */
    t_cb(&cb, fd, NULL, 0, 0);
    CHECK_ERR(aio_fsync(0, &cb), EINVAL);
    CHECK_ERR(aio_fsync(12345, &cb), EINVAL);
    CHECK_ERR(aio_error(&cb), EINVAL);
    cb.aio_sigevent.sigev_notify = 99;
    CHECK_ERR(aio_fsync(O_SYNC, &cb), EINVAL);
    t_cb(&cb, p[1], NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &cb), EINVAL); /* pipe: cannot sync, EINVAL at submission */
    t_cb(&cb, fd, NULL, 0, -1);
    cb.aio_reqprio = 99;
    CHECK_OK(aio_fsync(O_DSYNC, &cb)); /* offset, reqprio are ignored by aio_fsync */
    CHECK_EQ(t_wait_return(&cb, 0, "aio_fsync ignoring other members"), 0);

    /* aio_suspend arguments */
    const struct aiocb *sl[1] = { &cb };
    struct timespec ts = { 0, 0 }, past = { -1, 0 }, big_nsec = { 0, 1000000000L };
    CHECK_ERR(aio_suspend(sl, -1, &ts), EINVAL);
    NOT_GLIBC(CHECK_ERR(aio_suspend(t_null(), 1, &ts), EINVAL));
    t_cb(&prd, p[0], &pb, 1, 0);
    CHECK_OK(aio_read(&prd));
    sl[0] = &prd;
    /* timeouts out of the usual ranges are read as glibc reads them: an interval of
     * tv_sec + tv_nsec/1e9, a negative one polls */
    CHECK_ERR(aio_suspend(sl, 1, &past), EAGAIN);
    CHECK_ERR(aio_suspend64((const struct aiocb64 *const *)sl, 1, &past), EAGAIN);
    CHECK_ERR(aio_suspend(sl, 1, &big_nsec), EAGAIN);

    /* aio_cancel arguments */
    CHECK_ERR(aio_cancel(-1, NULL), EBADF);
    closed = dup(fd); /* the earlier number may have been reused since */
    close(closed);
    CHECK_ERR(aio_cancel(closed, NULL), EBADF);
    CHECK_ERR(aio_cancel(fd, &prd), EINVAL);
    CHECK_ERR(aio_cancel64(fd, (struct aiocb64 *)&prd), EINVAL);
    CHECK_ERR(aio_cancel64(-1, NULL), EBADF);

    /* lio_listio arguments */
    struct aiocb *l1[1] = { NULL };
    CHECK_ERR(lio_listio(3, l1, 1, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_WAIT, l1, -1, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_WAIT, l1, 65537, NULL), EINVAL);
    NOT_GLIBC(CHECK_ERR(lio_listio(LIO_WAIT, t_null(), 1, NULL), EINVAL));
    CHECK_ERR(lio_listio64(7, (struct aiocb64 **)l1, 1, NULL), EINVAL);
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = 65;
    CHECK_ERR(lio_listio(LIO_NOWAIT, l1, 1, &se), EINVAL);
    /* entries failing submission: each gets its errno as status */
    struct aiocb e1, e2, e3, e4;
    t_cb(&e1, -1, buf, 8, 0);
    e1.aio_lio_opcode = LIO_READ;
    t_cb(&e2, fd, buf, 8, -1);
    e2.aio_lio_opcode = LIO_WRITE;
    t_cb(&e3, fd, buf, 8, 0);
    e3.aio_lio_opcode = 99;
    t_cb(&e4, ro, buf, 8, 0);
    e4.aio_lio_opcode = LIO_WRITE;
    struct aiocb *l4[4] = { &e1, &e2, &e3, &e4 };
    CHECK_ERR(lio_listio(LIO_WAIT, l4, 4, NULL), EIO);
    CHECK_EQ(aio_error(&e1), EBADF); /* accepted, failed with EBADF */
    CHECK_EQ(aio_error(&e2), EINVAL);
    CHECK_EQ(aio_error(&e3), EINVAL);
    CHECK_EQ(aio_error(&e4), EBADF);
    CHECK_EQ(aio_return(&e1), -1);
    CHECK_EQ(aio_return(&e2), -1);
    CHECK_EQ(aio_return(&e3), -1);
    CHECK_EQ(aio_return(&e4), -1);
    CHECK_ERR(aio_return(&e4), EINVAL);
    CHECK_EQ(aio_error(&e4), EBADF);

    /* clean up the pending pipe read */
    t_write_all(p[1], "z", 1);
    CHECK_EQ(t_wait_return(&prd, 0, "pipe read"), 1);
    /* last (an edge case): an O_PATH descriptor is open neither for reading nor for
     * writing → every request on it fails with EBADF through aio_error */
    int op = open(path, O_PATH);
    CHECK(op >= 0);
    t_cb(&cb, op, buf, 8, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, EBADF, "read on an O_PATH fd"), -1);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, EBADF, "write on an O_PATH fd"), -1);
    CHECK_OK(aio_fsync(O_SYNC, &cb));
    CHECK_EQ(t_wait_return(&cb, EBADF, "aio_fsync on an O_PATH fd"), -1);
    close(op);
    /* nothing was notified twice: the two SIGRTMAX requests, the 14 bad descriptors */
    CHECK_EQ(sigrtmax_hits, 2);
    CHECK_EQ(sigrt_hits, 14);
    return T_PASS;
}
