/* ext_eventfd: SIGEV_EVENTFD and aio_reap (rtaio.h).
 *  - aio_read, aio_write, aio_fsync, aio_readv, aio_writev with SIGEV_EVENTFD: the eventfd
 *    counts exactly 1 per completion; aio_reap hands out every aiocb exactly once, with its
 *    status final, then returns 0; aio_return values and data are right; a request that fails
 *    at completion (EFAULT) is counted and reaped too;
 *  - submission errors: sigev_signo a regular file, a pipe, an epoll fd, a timerfd → EINVAL;
 *    a closed descriptor or -1 → EBADF; nothing is queued (aio_error → EINVAL, file and
 *    eventfds untouched);
 *  - aio_reap errors: EBADF, EINVAL (not an eventfd, max < 0, out NULL with max > 0);
 *    max == 0 → 0 and takes nothing; an eventfd rtaio never saw → 0;
 *  - two eventfds: each queue gets only its own completions;
 *  - EFD_NONBLOCK and EFD_SEMAPHORE eventfds;
 *  - the eventfd is closed while requests are in flight and its number is reused by a
 *    regular file: rtaio must not write to that file (F); if the number is taken by a new
 *    eventfd instead, the completions are neither counted nor queued there (F2); a new
 *    eventfd that gets the number of a closed one later starts with an empty queue (F3). */
#include "t.h"
#include <rtaio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

enum { OP_READ, OP_WRITE, OP_FSYNC, OP_READV, OP_WRITEV, NOPS };
static const char *op_name[NOPS] = { "aio_read", "aio_write", "aio_fsync", "aio_readv",
                                     "aio_writev" };

static int submit(int op, struct aiocb *cb)
{
    switch (op) {
    case OP_READ:
        return aio_read(cb);
    case OP_WRITE:
        return aio_write(cb);
    case OP_FSYNC:
        return aio_fsync(O_SYNC, cb);
    case OP_READV:
        return aio_readv(cb);
    case OP_WRITEV:
        return aio_writev(cb);
    }
    abort();
}

static void set_efd(struct aiocb *cb, int efd)
{
    cb->aio_sigevent.sigev_notify = SIGEV_EVENTFD;
    cb->aio_sigevent.sigev_signo = efd;
    cb->aio_sigevent.sigev_value.sival_ptr = cb;
}

/* Read the eventfd until the values read add up to at least `want`; returns the sum. */
static uint64_t efd_collect(int efd, uint64_t want, const char *what)
{
    uint64_t sum = 0;
    double end = t_now() + T_DEADLINE_S;
    while (sum < want) {
        struct pollfd pf = { efd, POLLIN, 0 };
        int r = poll(&pf, 1, 100);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r >= 0);
        if (r == 1) {
            uint64_t v = 0;
            ssize_t n = read(efd, &v, sizeof v);
            if (n == 8)
                sum += v;
            else if (!(n < 0 && errno == EAGAIN))
                FAILF("%s: read(eventfd) returned %zd (errno %d %s)", what, n, errno,
                      strerror(errno));
        }
        if (sum < want && t_now() > end)
            FAILF("%s: eventfd counted %llu of %llu completions after %.0f s", what,
                  (unsigned long long)sum, (unsigned long long)want, T_DEADLINE_S);
    }
    return sum;
}

/* Nothing more may be counted on the eventfd within `ms` milliseconds. */
static void efd_quiet(int efd, int ms, const char *what)
{
    struct pollfd pf = { efd, POLLIN, 0 };
    int r;
    do
        r = poll(&pf, 1, ms);
    while (r < 0 && errno == EINTR);
    CHECK(r >= 0);
    if (r == 1) {
        uint64_t v = 0;
        ssize_t n = read(efd, &v, sizeof v);
        FAILF("%s: eventfd counted %llu more (read %zd) after all expected completions", what,
              (unsigned long long)v, n);
    }
}

/* Reap everything from efd (max per call = batch); every aiocb must be one of want[0..n)
 * and appear exactly once; all n must appear; the final call returns 0. */
static void reap_exact(int efd, struct aiocb **want, int n, int batch, const char *what)
{
    struct aiocb *out[256];
    int seen[256] = { 0 };
    int got = 0;
    CHECK(n <= 256 && batch <= 256);
    for (;;) {
        for (int i = 0; i < batch; i++)
            out[i] = (struct aiocb *)(uintptr_t)0x5a5a5a5a; /* poison */
        errno = 0;
        int r = aio_reap(efd, out, batch);
        if (r < 0)
            FAILF("%s: aio_reap returned %d (errno %d %s)", what, r, errno, strerror(errno));
        if (r > batch)
            FAILF("%s: aio_reap returned %d > max %d", what, r, batch);
        for (int i = 0; i < r; i++) {
            int k;
            for (k = 0; k < n; k++)
                if (want[k] == out[i])
                    break;
            if (k == n)
                FAILF("%s: aio_reap returned %p, not one of this eventfd's requests", what,
                      (void *)out[i]);
            if (seen[k]++)
                FAILF("%s: aio_reap returned request #%d (%p) twice", what, k, (void *)out[i]);
            int e = aio_error(out[i]);
            if (e == EINPROGRESS)
                FAILF("%s: aio_reap returned request #%d still EINPROGRESS", what, k);
            got++;
        }
        if (r < batch)
            break;
    }
    if (got != n)
        FAILF("%s: aio_reap returned %d requests in all, expected %d", what, got, n);
    CHECK_EQ(aio_reap(efd, out, batch), 0);
    CHECK_EQ(aio_reap(efd, out, 256), 0);
}

static int closed_fd_number(void)
{
    /* a descriptor number that is certainly not open */
    int fd = 977;
    while (fcntl(fd, F_GETFD) != -1)
        fd++;
    return fd;
}

int main(void)
{
    t_init("ext_eventfd");
    /* a phase that takes more than 20 s fails the test with its name */
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100 });

    enum { FSZ = 65536 };
    static unsigned char filedata[FSZ], chk[FSZ];
    int fd = t_tmpfile();
    t_fill_random(filedata, FSZ);
    t_pwrite_all(fd, filedata, FSZ, 0);

    /* ---------- A: each operation, exact counts, reap each once ---------- */
    t_phase("A: five operations with SIGEV_EVENTFD");
    int efd = eventfd(0, EFD_CLOEXEC);
    CHECK(efd >= 0);
    CHECK_EQ(aio_reap(efd, (struct aiocb *[1]){ NULL }, 1), 0); /* never used: empty */
    static struct aiocb cb[8];
    static unsigned char rbuf[1000], wbuf[777], seg0[10], seg1[333], seg2[1], wv0[500],
        wv1[123];
    t_fill_random(wbuf, sizeof wbuf);
    t_fill_random(wv0, sizeof wv0);
    t_fill_random(wv1, sizeof wv1);
    struct iovec riov[3] = { { seg0, sizeof seg0 }, { seg1, sizeof seg1 }, { seg2, sizeof seg2 } };
    struct iovec wiov[2] = { { wv0, sizeof wv0 }, { wv1, sizeof wv1 } };

    t_cb(&cb[0], fd, rbuf, sizeof rbuf, 100);
    t_cb(&cb[1], fd, wbuf, sizeof wbuf, 20000);
    t_cb(&cb[2], fd, NULL, 0, 5000);
    cb[2].aio_iov = riov;
    cb[2].aio_iovcnt = 3;
    t_cb(&cb[3], fd, NULL, 0, 30000);
    cb[3].aio_iov = wiov;
    cb[3].aio_iovcnt = 2;
    t_cb(&cb[4], fd, NULL, 0, 0);
    const int ops[5] = { OP_READ, OP_WRITE, OP_READV, OP_WRITEV, OP_FSYNC };
    const ssize_t want_ret[5] = { 1000, 777, 344, 623, 0 };
    struct aiocb *wantl[5];
    for (int i = 0; i < 5; i++) {
        set_efd(&cb[i], efd);
        wantl[i] = &cb[i];
        if (submit(ops[i], &cb[i]) != 0)
            FAILF("%s with SIGEV_EVENTFD: -1 (errno %d %s)", op_name[ops[i]], errno,
                  strerror(errno));
    }
    uint64_t sum = efd_collect(efd, 5, "five operations");
    CHECK_EQ(sum, 5);
    efd_quiet(efd, 200, "five operations");
    /* batches of 2: 2 + 2 + 1, then 0 */
    {
        struct aiocb *out[8];
        int seen[5] = { 0 }, total = 0;
        int r1 = aio_reap(efd, out, 2);
        CHECK_EQ(r1, 2);
        int r2 = aio_reap(efd, out + 2, 2);
        CHECK_EQ(r2, 2);
        int r3 = aio_reap(efd, out + 4, 2);
        CHECK_EQ(r3, 1);
        CHECK_EQ(aio_reap(efd, out + 5, 3), 0);
        for (int i = 0; i < 5; i++) {
            int k;
            for (k = 0; k < 5; k++)
                if (out[i] == wantl[k])
                    break;
            if (k == 5)
                FAILF("aio_reap returned %p, not a submitted aiocb", (void *)out[i]);
            if (seen[k]++)
                FAILF("aio_reap returned the %s aiocb twice", op_name[ops[k]]);
            total++;
        }
        CHECK_EQ(total, 5);
    }
    for (int i = 0; i < 5; i++) {
        int e = aio_error(&cb[i]);
        if (e != 0)
            FAILF("%s with SIGEV_EVENTFD: aio_error after reap = %d (%s)", op_name[ops[i]], e,
                  strerror(e));
        ssize_t r = aio_return(&cb[i]);
        if (r != want_ret[i])
            FAILF("%s with SIGEV_EVENTFD: aio_return = %zd, expected %zd", op_name[ops[i]], r,
                  want_ret[i]);
        CHECK_ERR(aio_return(&cb[i]), EINVAL); /* released by aio_return */
        CHECK_EQ(aio_error(&cb[i]), 0);          /* its final status stays readable */
    }
    if (memcmp(rbuf, filedata + 100, sizeof rbuf) != 0)
        FAILF("aio_read with SIGEV_EVENTFD: wrong data");
    if (memcmp(seg0, filedata + 5000, 10) || memcmp(seg1, filedata + 5010, 333) ||
        memcmp(seg2, filedata + 5343, 1))
        FAILF("aio_readv with SIGEV_EVENTFD: wrong data");
    memcpy(filedata + 20000, wbuf, sizeof wbuf);
    memcpy(filedata + 30000, wv0, sizeof wv0);
    memcpy(filedata + 30500, wv1, sizeof wv1);
    t_pread_all(fd, chk, FSZ, 0);
    if (memcmp(chk, filedata, FSZ) != 0)
        FAILF("aio_write/aio_writev with SIGEV_EVENTFD: file content wrong");
    CHECK_EQ(aio_reap(efd, (struct aiocb *[1]){ NULL }, 1), 0);

    /* a request that fails at completion is counted and reaped like any other */
    t_phase("A2: failing request (EFAULT) with SIGEV_EVENTFD");
    t_cb(&cb[0], fd, (void *)1, 100, 0);
    set_efd(&cb[0], efd);
    CHECK_OK(aio_read(&cb[0]));
    CHECK_EQ(efd_collect(efd, 1, "EFAULT request"), 1);
    efd_quiet(efd, 100, "EFAULT request");
    reap_exact(efd, wantl, 1, 4, "EFAULT request");
    CHECK_EQ(aio_error(&cb[0]), EFAULT);
    CHECK_EQ(aio_return(&cb[0]), -1);

    /* ---------- B: submission errors ---------- */
    t_phase("B: submission errors");
    int regfd = t_tmpfile();
    int pp[2];
    CHECK_OK(pipe(pp));
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    CHECK(epfd >= 0);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    CHECK(tfd >= 0);
    int justclosed = dup(regfd);
    CHECK(justclosed >= 0);
    CHECK_OK(close(justclosed));
    int highclosed = closed_fd_number();
    struct {
        int signo;
        int err;
        const char *what;
    } bad[] = {
        { regfd, EINVAL, "a regular file" },  { pp[0], EINVAL, "a pipe (read end)" },
        { pp[1], EINVAL, "a pipe (write end)" }, { epfd, EINVAL, "an epoll fd" },
        { tfd, EINVAL, "a timerfd" },         { fd, EINVAL, "the request's own file" },
        { justclosed, EBADF, "a just-closed fd" }, { highclosed, EBADF, "a never-opened fd" },
        { -1, EBADF, "-1" },                  { INT_MIN, EBADF, "INT_MIN" },
    };
    static unsigned char junk[4096];
    memset(junk, 0xee, sizeof junk);
    struct iovec jiov[2] = { { junk, 100 }, { junk + 100, 200 } };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        for (int op = 0; op < NOPS; op++) {
            struct aiocb c;
            t_cb(&c, fd, junk, 300, 1000);
            if (op == OP_READV || op == OP_WRITEV) {
                c.aio_iov = jiov;
                c.aio_iovcnt = 2;
            }
            set_efd(&c, bad[b].signo);
            if (b == 6 && fcntl(justclosed, F_GETFD) != -1)
                FAILF("fd %d was reopened behind the test's back", justclosed);
            errno = 0;
            int r = submit(op, &c);
            int e = errno;
            if (r != -1 || e != bad[b].err)
                FAILF("%s with SIGEV_EVENTFD, sigev_signo = %s (%d): returned %d errno %d (%s), "
                      "expected -1/%s",
                      op_name[op], bad[b].what, bad[b].signo, r, e, strerror(e),
                      bad[b].err == EINVAL ? "EINVAL" : "EBADF");
            errno = 0;
            int ae = aio_error(&c);
            if (!(ae == -1 && errno == EINVAL))
                FAILF("%s refused (sigev_signo = %s) but aio_error = %d errno %d: something "
                      "was queued",
                      op_name[op], bad[b].what, ae, errno);
        }
    }
    t_sleep_ms(200);
    t_pread_all(fd, chk, FSZ, 0);
    if (memcmp(chk, filedata, FSZ) != 0)
        FAILF("a refused aio_write/aio_writev changed the file");
    struct stat st;
    CHECK_OK(fstat(regfd, &st));
    if (st.st_size != 0)
        FAILF("a refused submission naming a regular file as eventfd: that file now has %lld "
              "bytes",
              (long long)st.st_size);
    {
        int pfl = fcntl(pp[0], F_GETFL);
        CHECK(pfl >= 0);
        CHECK_OK(fcntl(pp[0], F_SETFL, pfl | O_NONBLOCK));
        char x;
        CHECK_ERR(read(pp[0], &x, 1), EAGAIN); /* nothing written to the pipe */
    }
    efd_quiet(efd, 50, "after refused submissions");
    CHECK_EQ(aio_reap(efd, (struct aiocb *[1]){ NULL }, 1), 0);

    /* ---------- C: aio_reap argument errors ---------- */
    t_phase("C: aio_reap errors");
    {
        struct aiocb *out[4];
        CHECK_ERR(aio_reap(highclosed, out, 4), EBADF);
        CHECK_ERR(aio_reap(-1, out, 4), EBADF);
        CHECK_ERR(aio_reap(regfd, out, 4), EINVAL);
        CHECK_ERR(aio_reap(pp[0], out, 4), EINVAL);
        CHECK_ERR(aio_reap(epfd, out, 4), EINVAL);
        CHECK_ERR(aio_reap(efd, out, -1), EINVAL);
        CHECK_ERR(aio_reap(efd, out, INT_MIN), EINVAL);
        CHECK_ERR(aio_reap(efd, t_null(), 1), EINVAL);
        CHECK_EQ(aio_reap(efd, out, 0), 0);
        CHECK_EQ(aio_reap(efd, t_null(), 0), 0);
        /* with one completion queued: the calls above must not take it */
        t_cb(&cb[0], fd, rbuf, 10, 0);
        set_efd(&cb[0], efd);
        CHECK_OK(aio_read(&cb[0]));
        CHECK_EQ(efd_collect(efd, 1, "reap-errors request"), 1);
        CHECK_EQ(aio_reap(efd, out, 0), 0);
        CHECK_EQ(aio_reap(efd, t_null(), 0), 0);
        CHECK_ERR(aio_reap(efd, out, -5), EINVAL);
        CHECK_ERR(aio_reap(efd, t_null(), 3), EINVAL);
        out[0] = NULL;
        CHECK_EQ(aio_reap(efd, out, 4), 1);
        CHECK(out[0] == &cb[0]);
        CHECK_EQ(aio_return(&cb[0]), 10);
        CHECK_EQ(aio_reap(efd, out, 4), 0);
    }

    /* ---------- D: two eventfds ---------- */
    t_phase("D: two eventfds");
    {
        enum { N1 = 13, N2 = 7 };
        int e1 = eventfd(0, 0), e2 = eventfd(0, 0);
        CHECK(e1 >= 0 && e2 >= 0);
        static struct aiocb c1[N1], c2[N2];
        static unsigned char b1[N1][64], b2[N2][64];
        struct aiocb *l1[N1], *l2[N2];
        for (int i = 0, j1 = 0, j2 = 0; i < N1 + N2; i++) {
            int to1 = (i % 3 != 2 && j1 < N1) || j2 == N2;
            struct aiocb *c = to1 ? &c1[j1] : &c2[j2];
            unsigned char *b = to1 ? b1[j1] : b2[j2];
            t_cb(c, fd, b, 64, (off_t)i * 64);
            set_efd(c, to1 ? e1 : e2);
            CHECK_OK(i & 1 ? aio_read(c) : aio_write(c));
            if (to1)
                l1[j1++] = c;
            else
                l2[j2++] = c;
        }
        CHECK_EQ(efd_collect(e1, N1, "first eventfd"), N1);
        CHECK_EQ(efd_collect(e2, N2, "second eventfd"), N2);
        efd_quiet(e1, 150, "first eventfd");
        efd_quiet(e2, 10, "second eventfd");
        reap_exact(e1, l1, N1, 5, "first eventfd");
        reap_exact(e2, l2, N2, 64, "second eventfd");
        CHECK_EQ(aio_reap(efd, (struct aiocb *[1]){ NULL }, 1), 0);
        for (int i = 0; i < N1; i++)
            CHECK_EQ(aio_return(&c1[i]), 64);
        for (int i = 0; i < N2; i++)
            CHECK_EQ(aio_return(&c2[i]), 64);
        close(e1);
        close(e2);
    }
    t_pwrite_all(fd, filedata, FSZ, 0); /* restore */

    /* ---------- E: EFD_NONBLOCK and EFD_SEMAPHORE ---------- */
    t_phase("E: EFD_NONBLOCK and EFD_SEMAPHORE");
    {
        enum { K = 6 };
        int en = eventfd(0, EFD_NONBLOCK), es = eventfd(0, EFD_SEMAPHORE);
        CHECK(en >= 0 && es >= 0);
        static struct aiocb cn[K], cs[K];
        static unsigned char bn[K][100], bs[K][100];
        struct aiocb *ln[K], *ls[K];
        for (int i = 0; i < K; i++) {
            t_cb(&cn[i], fd, bn[i], 100, (off_t)i * 100);
            set_efd(&cn[i], en);
            t_cb(&cs[i], fd, bs[i], 100, 1000 + (off_t)i * 100);
            set_efd(&cs[i], es);
            ln[i] = &cn[i];
            ls[i] = &cs[i];
            CHECK_OK(aio_read(&cn[i]));
            CHECK_OK(aio_read(&cs[i]));
        }
        CHECK_EQ(efd_collect(en, K, "EFD_NONBLOCK eventfd"), K);
        efd_quiet(en, 150, "EFD_NONBLOCK eventfd");
        uint64_t v = 0;
        CHECK_ERR(read(en, &v, 8), EAGAIN);
        /* semaphore: every read takes 1 */
        for (int i = 0; i < K; i++) {
            struct pollfd pf = { es, POLLIN, 0 };
            int r = poll(&pf, 1, (int)(T_DEADLINE_S * 1000));
            if (r != 1)
                FAILF("EFD_SEMAPHORE eventfd: only %d of %d completions counted", i, K);
            CHECK_EQ(read(es, &v, 8), 8);
            CHECK_EQ(v, 1);
        }
        efd_quiet(es, 150, "EFD_SEMAPHORE eventfd");
        reap_exact(en, ln, K, 64, "EFD_NONBLOCK eventfd");
        reap_exact(es, ls, K, 1, "EFD_SEMAPHORE eventfd");
        for (int i = 0; i < K; i++) {
            CHECK_EQ(aio_return(&cn[i]), 100);
            CHECK_EQ(aio_return(&cs[i]), 100);
            CHECK(memcmp(bn[i], filedata + i * 100, 100) == 0);
            CHECK(memcmp(bs[i], filedata + 1000 + i * 100, 100) == 0);
        }
        close(en);
        close(es);
    }

    /* ---------- F: eventfd closed while requests are in flight ---------- */
    int f_num;
    t_phase("F: eventfd closed with requests in flight, number reused by a file");
    {
        enum { K = 3 };
        int p2[2];
        CHECK_OK(pipe(p2));
        int ex = eventfd(0, 0);
        CHECK(ex >= 0);
        static struct aiocb cx[K];
        static char bx[K][10];
        for (int i = 0; i < K; i++) {
            t_cb(&cx[i], p2[0], bx[i], 10, 0);
            set_efd(&cx[i], ex);
            CHECK_OK(aio_read(&cx[i]));
        }
        t_sleep_ms(50); /* let them start: the pipe is empty, they cannot complete */
        for (int i = 0; i < K; i++)
            CHECK_EQ(aio_error(&cx[i]), EINPROGRESS);
        CHECK_OK(close(ex));
        /* a regular file takes the number */
        const char *dir = getenv("TMPDIR");
        char path[4096];
        snprintf(path, sizeof path, "%s/rtaio-ext-eventfd-XXXXXX", dir && *dir ? dir : "/tmp");
        int vf = mkstemp(path);
        CHECK(vf >= 0);
        CHECK_OK(unlink(path));
        if (vf != ex) {
            CHECK_EQ(dup2(vf, ex), ex);
            CHECK_OK(close(vf));
        }
        static const char victim[] = "this file must not be touched by rtaio\n";
        t_pwrite_all(ex, victim, sizeof victim - 1, 0); /* file offset stays 0 */
        /* complete the requests */
        t_write_all(p2[1], "0123456789abcdefghijABCDEFGHIJ", 30);
        for (int i = 0; i < K; i++)
            CHECK_EQ(t_wait_return(&cx[i], 0, "read whose eventfd was closed"), 10);
        t_sleep_ms(300); /* notifications come after the status is final */
        struct stat vs;
        CHECK_OK(fstat(ex, &vs));
        char vbuf[256];
        memset(vbuf, 0, sizeof vbuf);
        ssize_t vn = pread(ex, vbuf, sizeof vbuf, 0);
        if (vs.st_size != (off_t)(sizeof victim - 1) || vn != (ssize_t)(sizeof victim - 1) ||
            memcmp(vbuf, victim, sizeof victim - 1) != 0 || lseek(ex, 0, SEEK_CUR) != 0)
            FAILF("the regular file that reused the closed eventfd's number %d was written to: "
                  "size %lld (expected %zu), offset %lld, content %s",
                  ex, (long long)vs.st_size, sizeof victim - 1, (long long)lseek(ex, 0, SEEK_CUR),
                  memcmp(vbuf, victim, sizeof victim - 1) ? "changed" : "same");
        CHECK_ERR(aio_reap(ex, (struct aiocb *[1]){ NULL }, 1), EINVAL); /* not an eventfd */
        f_num = ex; /* still the regular file; used by F3 */
        close(p2[0]);
        close(p2[1]);
    }

    /* ---------- F2: the number is taken by a new eventfd while requests are in flight ---- */
    t_phase("F2: eventfd closed with requests in flight, number reused by a new eventfd");
    {
        enum { K = 2 };
        int p3[2];
        CHECK_OK(pipe(p3));
        int ey = eventfd(0, EFD_NONBLOCK);
        CHECK(ey >= 0);
        static struct aiocb cy[K];
        static char by[K][10];
        for (int i = 0; i < K; i++) {
            t_cb(&cy[i], p3[0], by[i], 10, 0);
            set_efd(&cy[i], ey);
            CHECK_OK(aio_read(&cy[i]));
        }
        t_sleep_ms(50);
        CHECK_OK(close(ey));
        int ez = eventfd(0, EFD_NONBLOCK);
        CHECK(ez >= 0);
        if (ez != ey) {
            CHECK_EQ(dup2(ez, ey), ey);
            CHECK_OK(close(ez));
        }
        t_write_all(p3[1], "01234567890123456789", 20);
        for (int i = 0; i < K; i++)
            CHECK_EQ(t_wait_return(&cy[i], 0, "read whose eventfd was replaced"), 10);
        t_sleep_ms(300);
        uint64_t v = 0;
        errno = 0;
        ssize_t n = read(ey, &v, 8);
        if (n != -1 || errno != EAGAIN)
            FAILF("requests submitted on a closed eventfd were counted on the new eventfd that "
                  "took its number %d (read %zd, value %llu)",
                  ey, n, (unsigned long long)v);
        struct aiocb *out[8];
        int r = aio_reap(ey, out, 8);
        if (r != 0)
            FAILF("requests submitted on a closed eventfd were queued for the new eventfd that "
                  "took its number %d: aio_reap returned %d",
                  ey, r);
        close(ey);
        close(p3[0]);
        close(p3[1]);
    }

    /* ---------- F3: a new eventfd on the number of one closed with unreaped completions ---- */
    t_phase("F3: new eventfd on the number of a closed one");
    {
        int ex = f_num;
        CHECK_OK(close(ex)); /* the regular file of F */
        int en = eventfd(0, EFD_NONBLOCK);
        CHECK(en >= 0);
        if (en != ex) {
            CHECK_EQ(dup2(en, ex), ex);
            CHECK_OK(close(en));
        }
        struct aiocb *out[8];
        int r = aio_reap(ex, out, 8);
        if (r != 0)
            FAILF("a new eventfd with the number %d of a closed one: aio_reap returned %d (the "
                  "closed eventfd's completions leaked into the new eventfd's queue)",
                  ex, r);
        efd_quiet(ex, 100, "new eventfd with a reused number");
        /* and it works normally */
        t_cb(&cb[0], fd, rbuf, 10, 0);
        set_efd(&cb[0], ex);
        CHECK_OK(aio_read(&cb[0]));
        CHECK_EQ(efd_collect(ex, 1, "new eventfd with a reused number"), 1);
        reap_exact(ex, wantl, 1, 8, "new eventfd with a reused number");
        CHECK_EQ(aio_return(&cb[0]), 10);
        close(ex);
    }

    close(regfd);
    close(pp[0]);
    close(pp[1]);
    close(epfd);
    close(tfd);
    close(efd);
    close(fd);
    t_phase("done");
    return T_PASS;
}
