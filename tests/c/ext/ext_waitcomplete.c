/* ext_waitcomplete: aio_waitcomplete (rtaio.h). This program links aio_waitcomplete
 * dynamically, so every request except SIGEV_EVENTFD ones is tracked from the first
 * submission on.
 *  - nothing tracked: a zero timeout and a NULL timeout both give -1/EAGAIN at once,
 *    *iocbp == NULL;
 *  - a completed request: its aiocb and its aio_return value; afterwards aio_return →
 *    -1/EINVAL and aio_error gives its final status; then EAGAIN; works for aio_read/aio_write/aio_fsync,
 *    SIGEV_THREAD and SIGEV_SIGNAL requests, lio_listio entries (LIO_WAIT and LIO_NOWAIT);
 *  - a request blocked on an empty pipe: a 200 ms timeout → EAGAIN after about 200 ms;
 *    invalid timeouts (tv_nsec 2e9, tv_nsec -1, tv_sec -1) → EINVAL; iocbp NULL → EINVAL
 *    (also with a NULL timeout: must not block); after writing to the pipe it is returned;
 *  - EINVAL calls do not consume a completed request;
 *  - a request that fails at completion (EFAULT): -1, errno EFAULT, *iocbp == the aiocb;
 *  - SIGEV_EVENTFD requests are never returned (completed or in flight: EAGAIN at once);
 *  - a request retrieved with aio_return is not returned later (a page-cache hit, which rtaio
 *    completes inside aio_read, included: nothing is left to wait for); a completed aiocb that is
 *    submitted again is returned once, with the new result;
 *  - a signal handler interrupting a wait (no SA_RESTART, SA_RESTART, with a timeout) →
 *    -1/EINTR, and the request is still returned afterwards;
 *  - 10,000 requests from 4 threads, waited for by 2 threads with a NULL timeout: each
 *    returned exactly once with the right value, totals match. */
#include "t.h"
#include <rtaio.h>
#include <sys/eventfd.h>

#define SENTINEL ((struct aiocb *)(uintptr_t)0x5a5a5a50)

/* aio_waitcomplete must fail with err and set *iocbp to NULL */
#define WC_ERR(ts, err, what)                                                              \
    do {                                                                                   \
        struct aiocb *p_ = SENTINEL;                                                       \
        errno = 0;                                                                         \
        ssize_t r_ = aio_waitcomplete(&p_, (ts));                                          \
        int e_ = errno;                                                                    \
        if (r_ != -1 || e_ != (err))                                                       \
            FAILF("%s: aio_waitcomplete returned %zd errno %d (%s), expected -1/%s (got "  \
                  "aiocb %p)",                                                             \
                  what, r_, e_, strerror(e_), #err, (void *)p_);                           \
        if (p_ != NULL)                                                                    \
            FAILF("%s: aio_waitcomplete failed with %s but *iocbp = %p, expected NULL",     \
                  what, #err, (void *)p_);                                                 \
    } while (0)

/* aio_waitcomplete must return want_ret and the aiocb cb */
static void wc_expect(struct aiocb *cb, ssize_t want_ret, const char *what)
{
    struct aiocb *p = SENTINEL;
    struct timespec ts = { 10, 0 };
    errno = 0;
    ssize_t r = aio_waitcomplete(&p, &ts);
    int e = errno;
    if (p != cb)
        FAILF("%s: aio_waitcomplete gave aiocb %p (returned %zd errno %d %s), expected %p", what,
              (void *)p, r, e, strerror(e), (void *)cb);
    if (r != want_ret)
        FAILF("%s: aio_waitcomplete returned %zd (errno %d %s), expected %zd", what, r, e,
              strerror(e), want_ret);
    /* released, as by aio_return; the final status stays readable */
    CHECK_ERR(aio_return(cb), EINVAL);
    CHECK_EQ(aio_error(cb), want_ret == -1 ? e : 0);
}

static struct timespec ts_zero(void)
{
    return (struct timespec){ 0, 0 };
}

static volatile int thread_notes;
static void note_fn(union sigval v)
{
    (void)v;
    __atomic_add_fetch(&thread_notes, 1, __ATOMIC_SEQ_CST);
}
static volatile int usr1_notes;
static void usr1_handler(int sig)
{
    (void)sig;
    __atomic_add_fetch(&usr1_notes, 1, __ATOMIC_SEQ_CST);
}
static volatile int alarms;
static int rescue_fd;
static int rescue_state; /* 0 waiting, 1 rescued (request completed), 2 not needed */
static void *rescuer(void *arg)
{
    (void)arg;
    double end = t_now() + 3.0;
    while (t_now() < end) {
        if (__atomic_load_n(&rescue_state, __ATOMIC_SEQ_CST) == 2)
            return NULL;
        t_sleep_ms(10);
    }
    int zero = 0;
    if (__atomic_compare_exchange_n(&rescue_state, &zero, 1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST))
        t_write_all(rescue_fd, "RESCUE0000", 10);
    return NULL;
}
static void alrm_handler(int sig)
{
    (void)sig;
    __atomic_add_fetch(&alarms, 1, __ATOMIC_SEQ_CST);
}

/* ---- many requests ---- */
#define NSUB 4
#define PER 2500
#define NMANY (NSUB * PER)
#define MSZ 16
static struct aiocb many[NMANY];
static unsigned char mbuf[NMANY][MSZ];
static int mcount[NMANY];
static int mfd;
static long mreturned, msubmitted, sentinels_got;
static int mdone;
static struct aiocb sent[2];
static unsigned char sentbuf[2][8];

static unsigned char mpat(int i, int k)
{
    return (unsigned char)(i * 7 + k * 13 + 3);
}

static void *many_submitter(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int j = 0; j < PER; j++) {
        int i = t * PER + j;
        t_cb(&many[i], mfd, mbuf[i], MSZ, (off_t)i * MSZ);
        int r;
        if (i % 2 == 0) {
            for (int k = 0; k < MSZ; k++)
                mbuf[i][k] = mpat(i, k);
            r = aio_write(&many[i]);
        } else {
            r = aio_read(&many[i]);
        }
        if (r != 0)
            FAILF("many: submission %d failed: errno %d (%s)", i, errno, strerror(errno));
        __atomic_add_fetch(&msubmitted, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void *many_waiter(void *arg)
{
    (void)arg;
    long mine = 0;
    double end = t_now() + 40.0;
    for (;;) {
        struct aiocb *p = SENTINEL;
        errno = 0;
        ssize_t r = aio_waitcomplete(&p, NULL);
        int e = errno;
        if (r == -1 && e == EAGAIN) {
            if (p != NULL)
                FAILF("many: EAGAIN with *iocbp = %p", (void *)p);
            if (__atomic_load_n(&mdone, __ATOMIC_SEQ_CST))
                break;
            if (t_now() > end)
                FAILF("many: only %ld of %d returned after 40 s", mreturned, NMANY);
            t_sleep_ms(1); /* nothing tracked yet / right now */
            continue;
        }
        if (p == &sent[0] || p == &sent[1]) {
            if (r != 8)
                FAILF("many: sentinel returned %zd errno %d", r, e);
            __atomic_add_fetch(&sentinels_got, 1, __ATOMIC_SEQ_CST);
            break; /* mdone is set before the sentinels are submitted */
        }
        if (p < &many[0] || p >= &many[NMANY])
            FAILF("many: aio_waitcomplete gave %p (returned %zd errno %d %s), not one of the "
                  "requests",
                  (void *)p, r, e, strerror(e));
        int i = (int)(p - many);
        if (r != MSZ)
            FAILF("many: request %d: aio_waitcomplete returned %zd errno %d (%s), expected %d", i,
                  r, e, strerror(e), MSZ);
        int c = __atomic_add_fetch(&mcount[i], 1, __ATOMIC_SEQ_CST);
        if (c != 1)
            FAILF("many: request %d returned %d times", i, c);
        if (i % 2 == 1)
            for (int k = 0; k < MSZ; k++)
                if (mbuf[i][k] != mpat(i, k))
                    FAILF("many: read %d: wrong data", i);
        mine++;
        __atomic_add_fetch(&mreturned, 1, __ATOMIC_SEQ_CST);
    }
    return (void *)mine;
}

int main(void)
{
    t_init("ext_waitcomplete");
    /* a phase that takes more than 20 s fails the test with its name; the watchdog thread
     * blocks every signal, so that none the test sends is delivered to it */
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100, .block_signals = 1 });
    struct timespec z;

    /* ---------- nothing tracked ---------- */
    t_phase("nothing tracked yet");
    z = ts_zero();
    WC_ERR(&z, EAGAIN, "zero timeout, nothing submitted yet");
    double t0 = t_now();
    WC_ERR(NULL, EAGAIN, "NULL timeout, nothing submitted yet");
    if (t_now() - t0 > 2.0)
        FAILF("NULL timeout with nothing tracked: EAGAIN only after %.1f s", t_now() - t0);

    int fd = t_tmpfile();
    static unsigned char filedata[8192];
    t_fill_random(filedata, sizeof filedata);
    t_pwrite_all(fd, filedata, sizeof filedata, 0);

    static struct aiocb cb[8];
    static unsigned char wbuf[100], rbuf[100];

    /* a read of data just written (a page-cache hit: rtaio completes it inside aio_read),
     * retrieved by aio_return: the application may free the aiocb at once, and nothing is
     * left for aio_waitcomplete (which must not touch the freed aiocb: unmapped here) */
    t_phase("aio_return of a page-cache hit, aiocb freed");
    {
        long pg = sysconf(_SC_PAGESIZE);
        struct aiocb *mcb = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(mcb != MAP_FAILED);
        t_cb(mcb, fd, rbuf, 100, 0);
        CHECK_OK(aio_read(mcb));
        CHECK_EQ(t_wait(mcb), 0);
        CHECK_EQ(aio_return(mcb), 100);
        CHECK(memcmp(rbuf, filedata, 100) == 0);
        CHECK_OK(munmap(mcb, pg));
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "zero timeout, the only request retrieved by aio_return");
        t0 = t_now();
        WC_ERR(NULL, EAGAIN, "NULL timeout, the only request retrieved by aio_return");
        if (t_now() - t0 > 2.0)
            FAILF("NULL timeout after aio_return: EAGAIN only after %.1f s", t_now() - t0);
    }

    /* ---------- one completed request ---------- */
    t_phase("basic");
    t_fill_random(wbuf, sizeof wbuf);
    t_cb(&cb[0], fd, wbuf, 100, 200);
    CHECK_OK(aio_write(&cb[0]));
    {
        struct aiocb *p = SENTINEL;
        errno = 0;
        ssize_t r = aio_waitcomplete(&p, NULL);
        if (r != 100 || p != &cb[0])
            FAILF("aio_write then aio_waitcomplete(NULL timeout): returned %zd (errno %d) aiocb "
                  "%p, expected 100 and %p",
                  r, errno, (void *)p, (void *)&cb[0]);
        CHECK_ERR(aio_return(&cb[0]), EINVAL);
        CHECK_EQ(aio_error(&cb[0]), 0); /* retrieved; its final status stays readable */
    }
    memcpy(filedata + 200, wbuf, 100);
    z = ts_zero();
    WC_ERR(&z, EAGAIN, "zero timeout after the only request was returned");
    WC_ERR(NULL, EAGAIN, "NULL timeout after the only request was returned");
    t_cb(&cb[1], fd, rbuf, 100, 150);
    CHECK_OK(aio_read(&cb[1]));
    wc_expect(&cb[1], 100, "aio_read");
    if (memcmp(rbuf, filedata + 150, 100) != 0)
        FAILF("aio_read returned by aio_waitcomplete: wrong data");

    /* several kinds at once: each returned once */
    t_phase("several kinds");
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = usr1_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
        static unsigned char b2[50], b3[60], b4[70];
        t_cb(&cb[2], fd, b2, 50, 0); /* read, SIGEV_THREAD */
        cb[2].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb[2].aio_sigevent.sigev_notify_function = note_fn;
        t_cb(&cb[3], fd, b3, 60, 1000); /* read, SIGEV_SIGNAL */
        cb[3].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb[3].aio_sigevent.sigev_signo = SIGUSR1;
        t_fill_random(b4, sizeof b4);
        t_cb(&cb[4], fd, b4, 70, 3000); /* write */
        t_cb(&cb[5], fd, NULL, 0, 0);   /* fsync */
        CHECK_OK(aio_read(&cb[2]));
        CHECK_OK(aio_read(&cb[3]));
        CHECK_OK(aio_write(&cb[4]));
        CHECK_OK(aio_fsync(O_DSYNC, &cb[5]));
        int got[6] = { 0 };
        const ssize_t want[6] = { 0, 0, 50, 60, 70, 0 };
        for (int k = 0; k < 4; k++) {
            struct aiocb *p = SENTINEL;
            struct timespec ts = { 10, 0 };
            errno = 0;
            ssize_t r = aio_waitcomplete(&p, &ts);
            /* cb[3]'s SIGUSR1 may arrive after its completion was returned, while the wait is
             * for the others: EINTR (even under SA_RESTART, as FreeBSD's) means none completed
             * meanwhile; wait again. */
            if (r == -1 && errno == EINTR && p == NULL) {
                k--;
                continue;
            }
            int i = (p >= &cb[2] && p <= &cb[5]) ? (int)(p - cb) : -1;
            if (i < 0)
                FAILF("several kinds: aio_waitcomplete #%d gave %p (returned %zd errno %d %s)", k,
                      (void *)p, r, errno, strerror(errno));
            if (got[i]++)
                FAILF("several kinds: request %d returned twice", i);
            if (r != want[i])
                FAILF("several kinds: request %d: returned %zd, expected %zd", i, r, want[i]);
            CHECK_ERR(aio_return(p), EINVAL);
            CHECK_EQ(aio_error(p), 0);
        }
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "several kinds: all returned");
        t_wait_counter(&thread_notes, 1, "SIGEV_THREAD notification");
        t_wait_counter(&usr1_notes, 1, "SIGEV_SIGNAL notification");
        if (memcmp(b2, filedata, 50) || memcmp(b3, filedata + 1000, 60))
            FAILF("several kinds: wrong data read");
        memcpy(filedata + 3000, b4, 70);
    }

    /* lio_listio entries are tracked too */
    t_phase("lio_listio entries");
    {
        static unsigned char l0[30], l1[40], l2[20];
        struct aiocb *list[4];
        t_cb(&cb[0], fd, l0, 30, 10);
        cb[0].aio_lio_opcode = LIO_READ;
        t_fill_random(l1, sizeof l1);
        t_cb(&cb[1], fd, l1, 40, 5000);
        cb[1].aio_lio_opcode = LIO_WRITE;
        t_cb(&cb[2], fd, l2, 20, 6000);
        cb[2].aio_lio_opcode = LIO_NOP;
        list[0] = &cb[0];
        list[1] = NULL;
        list[2] = &cb[1];
        list[3] = &cb[2];
        CHECK_OK(lio_listio(LIO_WAIT, list, 4, NULL));
        int seen0 = 0, seen1 = 0;
        for (int k = 0; k < 2; k++) {
            struct aiocb *p = SENTINEL;
            struct timespec ts = { 10, 0 };
            ssize_t r = aio_waitcomplete(&p, &ts);
            if (p == &cb[0] && r == 30 && !seen0)
                seen0 = 1;
            else if (p == &cb[1] && r == 40 && !seen1)
                seen1 = 1;
            else
                FAILF("lio_listio(LIO_WAIT) entries: aio_waitcomplete gave %p returned %zd "
                      "errno %d",
                      (void *)p, r, errno);
        }
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "lio_listio(LIO_WAIT): both entries returned (the NOP is no request)");
        memcpy(filedata + 5000, l1, 40);
        t_cb(&cb[0], fd, l0, 30, 10);
        cb[0].aio_lio_opcode = LIO_READ;
        t_cb(&cb[1], fd, l1, 40, 5000);
        cb[1].aio_lio_opcode = LIO_WRITE;
        CHECK_OK(lio_listio(LIO_NOWAIT, list, 3, NULL));
        seen0 = seen1 = 0;
        for (int k = 0; k < 2; k++) {
            struct aiocb *p = SENTINEL;
            struct timespec ts = { 10, 0 };
            ssize_t r = aio_waitcomplete(&p, &ts);
            if (p == &cb[0] && r == 30 && !seen0)
                seen0 = 1;
            else if (p == &cb[1] && r == 40 && !seen1)
                seen1 = 1;
            else
                FAILF("lio_listio(LIO_NOWAIT) entries: aio_waitcomplete gave %p returned %zd "
                      "errno %d",
                      (void *)p, r, errno);
        }
        WC_ERR(&z, EAGAIN, "lio_listio(LIO_NOWAIT): both entries returned");
        if (memcmp(l0, filedata + 10, 30) != 0)
            FAILF("lio_listio read entry: wrong data");
    }

    /* ---------- a request blocked on an empty pipe ---------- */
    t_phase("blocked request: timeouts and argument errors");
    int pp[2];
    CHECK_OK(pipe(pp));
    static char pbuf[10];
    t_cb(&cb[6], pp[0], pbuf, 10, 0);
    CHECK_OK(aio_read(&cb[6]));
    {
        struct timespec ts = { 0, 200 * 1000000L };
        t0 = t_now();
        WC_ERR(&ts, EAGAIN, "200 ms timeout, request blocked");
        double el = t_now() - t0;
        if (el < 0.18 || el > 5.0)
            FAILF("200 ms timeout: aio_waitcomplete returned EAGAIN after %.3f s", el);
        ts = (struct timespec){ 0, 2000000000L };
        WC_ERR(&ts, EINVAL, "tv_nsec = 2e9");
        ts = (struct timespec){ 0, 1000000000L };
        WC_ERR(&ts, EINVAL, "tv_nsec = 1e9");
        ts = (struct timespec){ 0, -1 };
        WC_ERR(&ts, EINVAL, "tv_nsec = -1");
        ts = (struct timespec){ -1, 0 };
        WC_ERR(&ts, EINVAL, "tv_sec = -1");
        ts = (struct timespec){ 0, 0 };
        CHECK_ERR(aio_waitcomplete(t_null(), &ts), EINVAL);
        t0 = t_now();
        CHECK_ERR(aio_waitcomplete(t_null(), NULL), EINVAL);
        ts = (struct timespec){ 5, 0 };
        CHECK_ERR(aio_waitcomplete(t_null(), &ts), EINVAL);
        if (t_now() - t0 > 2.0)
            FAILF("aio_waitcomplete(NULL iocbp) waited %.1f s before EINVAL", t_now() - t0);
        CHECK_EQ(aio_error(&cb[6]), EINPROGRESS);
        t_write_all(pp[1], "abcdefghij", 10);
        wc_expect(&cb[6], 10, "pipe read after the data came");
        CHECK(memcmp(pbuf, "abcdefghij", 10) == 0);
    }

    /* EINVAL calls do not consume a completed request */
    t_phase("EINVAL calls with a completed request waiting");
    {
        t_cb(&cb[0], fd, rbuf, 100, 0);
        CHECK_OK(aio_read(&cb[0]));
        CHECK_EQ(t_wait(&cb[0]), 0); /* complete, not retrieved */
        z = ts_zero();
        CHECK_ERR(aio_waitcomplete(t_null(), &z), EINVAL);
        CHECK_ERR(aio_waitcomplete(t_null(), NULL), EINVAL);
        CHECK_EQ(aio_error(&cb[0]), 0); /* still there */
        struct timespec bad = { 0, 2000000000L };
        struct aiocb *p = SENTINEL;
        errno = 0;
        ssize_t r = aio_waitcomplete(&p, &bad);
        if (r == -1 && errno == EINVAL) {
            CHECK(p == NULL);
            CHECK_EQ(aio_error(&cb[0]), 0);
            wc_expect(&cb[0], 100, "request left by an EINVAL call");
        } else if (!(r == 100 && p == &cb[0])) {
            FAILF("invalid timeout with a completed request waiting: returned %zd errno %d "
                  "aiocb %p",
                  r, errno, (void *)p);
        }
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "after the EINVAL calls");
    }

    /* ---------- a request that fails at completion ---------- */
    t_phase("failed request");
    {
        t_cb(&cb[0], fd, (void *)1, 100, 0);
        CHECK_OK(aio_read(&cb[0]));
        struct aiocb *p = SENTINEL;
        struct timespec ts = { 10, 0 };
        errno = 0;
        ssize_t r = aio_waitcomplete(&p, &ts);
        int e = errno;
        if (r != -1 || e != EFAULT || p != &cb[0])
            FAILF("read into address 1: aio_waitcomplete returned %zd errno %d (%s) aiocb %p, "
                  "expected -1/EFAULT and %p",
                  r, e, strerror(e), (void *)p, (void *)&cb[0]);
        CHECK_EQ(aio_error(&cb[0]), EFAULT); /* retrieved; its final status stays readable */
        CHECK_ERR(aio_return(&cb[0]), EINVAL);
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "after the failed request");
    }

    /* ---------- SIGEV_EVENTFD requests belong to aio_reap ---------- */
    t_phase("SIGEV_EVENTFD requests");
    {
        int efd = eventfd(0, EFD_NONBLOCK);
        CHECK(efd >= 0);
        static unsigned char be[80], bn[90];
        t_cb(&cb[0], fd, be, 80, 0);
        cb[0].aio_sigevent.sigev_notify = SIGEV_EVENTFD;
        cb[0].aio_sigevent.sigev_signo = efd;
        t_cb(&cb[1], fd, bn, 90, 100);
        CHECK_OK(aio_read(&cb[0]));
        CHECK_OK(aio_read(&cb[1]));
        wc_expect(&cb[1], 90, "SIGEV_NONE request next to a SIGEV_EVENTFD one");
        struct pollfd pf = { efd, POLLIN, 0 };
        CHECK_EQ(poll(&pf, 1, 10000), 1);
        uint64_t v;
        CHECK_EQ(read(efd, &v, 8), 8);
        CHECK_EQ(v, 1);
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "completed SIGEV_EVENTFD request (zero timeout)");
        t0 = t_now();
        WC_ERR(NULL, EAGAIN, "completed SIGEV_EVENTFD request (NULL timeout)");
        struct aiocb *out[4];
        CHECK_EQ(aio_reap(efd, out, 4), 1);
        CHECK(out[0] == &cb[0]);
        CHECK_EQ(aio_return(&cb[0]), 80);
        /* in flight, nothing else tracked: EAGAIN at once, not a wait */
        t_cb(&cb[2], pp[0], pbuf, 10, 0);
        cb[2].aio_sigevent.sigev_notify = SIGEV_EVENTFD;
        cb[2].aio_sigevent.sigev_signo = efd;
        CHECK_OK(aio_read(&cb[2]));
        t_sleep_ms(20);
        t0 = t_now();
        WC_ERR(NULL, EAGAIN, "only a SIGEV_EVENTFD request in flight (NULL timeout)");
        if (t_now() - t0 > 2.0)
            FAILF("only a SIGEV_EVENTFD request in flight: EAGAIN after %.1f s", t_now() - t0);
        t_write_all(pp[1], "0123456789", 10);
        CHECK_EQ(poll(&pf, 1, 10000), 1);
        CHECK_EQ(read(efd, &v, 8), 8);
        CHECK_EQ(aio_reap(efd, out, 4), 1);
        CHECK(out[0] == &cb[2]);
        CHECK_EQ(aio_return(&cb[2]), 10);
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "after the SIGEV_EVENTFD requests");
        close(efd);
    }

    /* ---------- aio_return takes a request away; resubmission replaces it ---------- */
    t_phase("aio_return / resubmission");
    {
        t_cb(&cb[0], fd, wbuf, 100, 0);
        t_cb(&cb[1], fd, rbuf, 77, 0);
        CHECK_OK(aio_read(&cb[0]));
        CHECK_OK(aio_read(&cb[1]));
        CHECK_EQ(t_wait(&cb[0]), 0);
        CHECK_EQ(aio_return(&cb[0]), 100);
        wc_expect(&cb[1], 77, "the request not retrieved by aio_return");
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "the other one was retrieved by aio_return");
        /* completed, not retrieved, submitted again with another size */
        t_cb(&cb[2], fd, rbuf, 100, 0);
        CHECK_OK(aio_read(&cb[2]));
        CHECK_EQ(t_wait(&cb[2]), 0);
        cb[2].aio_nbytes = 33;
        CHECK_OK(aio_read(&cb[2]));
        wc_expect(&cb[2], 33, "resubmitted aiocb");
        WC_ERR(&z, EAGAIN, "a resubmitted aiocb is returned once");
    }

    /* ---------- many requests, several waiters ---------- */
    t_phase("10,000 requests, 4 submitters, 2 waiters");
    {
        mfd = t_tmpfile();
        static unsigned char init[NMANY * MSZ];
        for (int i = 0; i < NMANY; i++)
            for (int k = 0; k < MSZ; k++)
                init[i * MSZ + k] = (i % 2) ? mpat(i, k) : 0;
        t_pwrite_all(mfd, init, sizeof init, 0);
        pthread_t ws[2], ss[NSUB];
        for (int k = 0; k < 2; k++)
            CHECK_OK(pthread_create(&ws[k], NULL, many_waiter, NULL));
        for (int t = 0; t < NSUB; t++)
            CHECK_OK(pthread_create(&ss[t], NULL, many_submitter, (void *)(intptr_t)t));
        for (int t = 0; t < NSUB; t++)
            CHECK_OK(pthread_join(ss[t], NULL));
        double end = t_now() + 30.0;
        while (__atomic_load_n(&mreturned, __ATOMIC_SEQ_CST) < NMANY) {
            if (t_now() > end)
                FAILF("many: %ld of %d returned after 30 s", mreturned, NMANY);
            t_sleep_ms(5);
        }
        /* wake the waiters: two more tracked requests */
        __atomic_store_n(&mdone, 1, __ATOMIC_SEQ_CST);
        for (int k = 0; k < 2; k++) {
            t_cb(&sent[k], mfd, sentbuf[k], 8, 0);
            CHECK_OK(aio_read(&sent[k]));
        }
        long per[2];
        for (int k = 0; k < 2; k++) {
            void *ret;
            CHECK_OK(pthread_join(ws[k], &ret));
            per[k] = (long)ret;
        }
        /* sentinels a waiter did not take (it had seen EAGAIN and left) */
        while (sentinels_got < 2) {
            struct aiocb *p = SENTINEL;
            struct timespec ts = { 10, 0 };
            ssize_t r = aio_waitcomplete(&p, &ts);
            if (!((p == &sent[0] || p == &sent[1]) && r == 8))
                FAILF("many: collecting sentinels: got %p returned %zd errno %d", (void *)p, r,
                      errno);
            sentinels_got++;
        }
        CHECK_EQ(sentinels_got, 2);
        CHECK_EQ(msubmitted, NMANY);
        CHECK_EQ(mreturned, NMANY);
        CHECK_EQ(per[0] + per[1], NMANY);
        for (int i = 0; i < NMANY; i++)
            if (mcount[i] != 1)
                FAILF("many: request %d returned %d times", i, mcount[i]);
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "many: everything returned");
        static unsigned char fin[NMANY * MSZ];
        t_pread_all(mfd, fin, sizeof fin, 0);
        for (int i = 0; i < NMANY; i++)
            for (int k = 0; k < MSZ; k++)
                if (fin[i * MSZ + k] != mpat(i, k))
                    FAILF("many: file content wrong at request %d", i);
        t_note("many: waiter split %ld/%ld", per[0], per[1]);
        close(mfd);
    }
    /* ---------- signal handlers (last: a wait that is not interrupted is rescued by
     * completing the request after 3 s, which then fails the test) ---------- */
    t_phase("EINTR");
    {
        t_cb(&cb[6], pp[0], pbuf, 10, 0);
        CHECK_OK(aio_read(&cb[6]));
        timer_t tm;
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_THREAD_ID;
        sev.sigev_signo = SIGALRM;
        sev.sigev_notify_thread_id = t_gettid();
        CHECK_OK(timer_create(CLOCK_MONOTONIC, &sev, &tm));
        rescue_fd = pp[1];
        for (int variant = 0; variant < 3; variant++) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = alrm_handler;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = variant == 0 ? 0 : SA_RESTART;
            CHECK_OK(sigaction(SIGALRM, &sa, NULL));
            alarms = 0;
            const char *what = variant == 0 ? "SIGALRM without SA_RESTART, NULL timeout"
                               : variant == 1 ? "SIGALRM with SA_RESTART, NULL timeout"
                                              : "SIGALRM with SA_RESTART, 30 s timeout";
            pthread_t rt;
            __atomic_store_n(&rescue_state, 0, __ATOMIC_SEQ_CST);
            CHECK_OK(pthread_create(&rt, NULL, rescuer, NULL));
            /* repeating, so that one signal surely comes while waiting */
            struct itimerspec its = { { 0, 100 * 1000000L }, { 0, 100 * 1000000L } };
            CHECK_OK(timer_settime(tm, 0, &its, NULL));
            struct timespec ts = { 30, 0 };
            struct aiocb *p = SENTINEL;
            t0 = t_now();
            errno = 0;
            ssize_t r = aio_waitcomplete(&p, variant == 2 ? &ts : NULL);
            int e = errno;
            int rescued = !__atomic_compare_exchange_n(&rescue_state, &(int){ 0 }, 2, 0,
                                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
            struct itimerspec off;
            memset(&off, 0, sizeof off);
            CHECK_OK(timer_settime(tm, 0, &off, NULL));
            CHECK_OK(pthread_join(rt, NULL));
            if (rescued)
                FAILF("%s: the handler ran %d times in %.1f s but aio_waitcomplete kept waiting "
                      "(returned %zd errno %d aiocb %p once the request was completed), "
                      "expected -1/EINTR",
                      what, alarms, t_now() - t0, r, e, (void *)p);
            if (r != -1 || e != EINTR || p != NULL)
                FAILF("%s: aio_waitcomplete returned %zd errno %d (%s) aiocb %p, expected "
                      "-1/EINTR and NULL",
                      what, r, e, strerror(e), (void *)p);
            if (alarms < 1)
                FAILF("%s: EINTR but no handler ran", what);
            CHECK_EQ(aio_error(&cb[6]), EINPROGRESS);
        }
        timer_delete(tm);
        signal(SIGALRM, SIG_IGN);
        t_write_all(pp[1], "ABCDEFGHIJ", 10);
        wc_expect(&cb[6], 10, "pipe read after the EINTR waits");
        z = ts_zero();
        WC_ERR(&z, EAGAIN, "after EINTR part");
    }

    close(pp[0]);
    close(pp[1]);
    close(fd);
    t_phase("done");
    return T_PASS;
}
