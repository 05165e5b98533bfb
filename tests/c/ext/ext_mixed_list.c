/* ext_mixed_list: lio_listio lists mixing notification kinds (rtaio.h, SIGEV_EVENTFD).
 *  - LIO_NOWAIT, entries notified by SIGEV_EVENTFD on two eventfds, SIGEV_SIGNAL (SIGRTMIN,
 *    si_code SI_ASYNCIO, si_value checked), SIGEV_NONE; LIO_NOP (with a SIGEV_EVENTFD
 *    sigevent that must be ignored) and NULL entries; LIO_READV/LIO_WRITEV entries; one
 *    entry blocked on an empty pipe; the list sigevent SIGEV_EVENTFD on a third eventfd:
 *    it counts exactly 1, only after every entry is complete, and queues nothing (its
 *    aio_reap returns 0); every entry's own notification arrives exactly once;
 *  - a list entry whose SIGEV_EVENTFD names no eventfd fails alone (its status EINVAL /
 *    EBADF, lio_listio → EIO), the others run and the list eventfd still counts 1;
 *  - LIO_WAIT with SIGEV_EVENTFD entries: all complete on return, each counted and reaped
 *    once; the list sigevent is ignored for LIO_WAIT (BEHAVIOUR.md);
 *  - LIO_NOWAIT with the list sigevent SIGEV_EVENTFD on a regular file / pipe → EINVAL, on a
 *    closed descriptor → EBADF, with nothing submitted. */
#include "t.h"
#include <rtaio.h>
#include <sys/eventfd.h>

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
            else if (!(n < 0 && (errno == EAGAIN || errno == EINTR)))
                FAILF("%s: read(eventfd) = %zd errno %d", what, n, errno);
        }
        if (sum < want && t_now() > end)
            FAILF("%s: eventfd counted %llu of %llu after %.0f s", what,
                  (unsigned long long)sum, (unsigned long long)want, T_DEADLINE_S);
    }
    return sum;
}

static void efd_quiet(int efd, int ms, const char *what)
{
    struct pollfd pf = { efd, POLLIN, 0 };
    int r;
    double end = t_now() + ms / 1000.0;
    do {
        int left = (int)((end - t_now()) * 1000);
        r = poll(&pf, 1, left > 0 ? left : 0);
    } while (r < 0 && errno == EINTR);
    CHECK(r >= 0);
    if (r == 1) {
        uint64_t v = 0;
        ssize_t n = read(efd, &v, sizeof v);
        FAILF("%s: eventfd counted %llu more than expected (read %zd)", what,
              (unsigned long long)v, n);
    }
}

/* reap everything; exactly want[0..n) each once */
static void reap_exact(int efd, struct aiocb **want, int n, const char *what)
{
    struct aiocb *out[64];
    int seen[64] = { 0 };
    int r = aio_reap(efd, out, 64);
    if (r < 0)
        FAILF("%s: aio_reap = %d errno %d (%s)", what, r, errno, strerror(errno));
    for (int i = 0; i < r; i++) {
        int k;
        for (k = 0; k < n; k++)
            if (out[i] == want[k])
                break;
        if (k == n)
            FAILF("%s: aio_reap returned %p, not an entry notified on this eventfd", what,
                  (void *)out[i]);
        if (seen[k]++)
            FAILF("%s: entry #%d reaped twice", what, k);
        if (aio_error(out[i]) == EINPROGRESS)
            FAILF("%s: entry #%d reaped while EINPROGRESS", what, k);
    }
    if (r != n)
        FAILF("%s: aio_reap returned %d aiocbs, expected %d", what, r, n);
    CHECK_EQ(aio_reap(efd, out, 64), 0);
}

#define NE 12
static struct aiocb e[NE];
static volatile int sig_count[NE], sig_bad_code, sig_bad_ptr, sig_bad_pid;

static void rt_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    struct aiocb *p = si->si_value.sival_ptr;
    if (p < &e[0] || p >= &e[NE]) {
        sig_bad_ptr++;
        return;
    }
    if (si->si_code != SI_ASYNCIO)
        sig_bad_code = si->si_code ? si->si_code : -1000;
    if (si->si_pid != getpid())
        sig_bad_pid++;
    __atomic_add_fetch(&sig_count[p - e], 1, __ATOMIC_SEQ_CST);
}

static void set_efd(struct aiocb *cb, int efd)
{
    cb->aio_sigevent.sigev_notify = SIGEV_EVENTFD;
    cb->aio_sigevent.sigev_signo = efd;
}

static void vcb(struct aiocb *cb, int fd, const struct iovec *iov, size_t cnt, off_t off)
{
    t_cb(cb, fd, NULL, 0, off);
    cb->aio_iov = (void *)iov;
    cb->aio_iovcnt = cnt;
}

int main(void)
{
    t_init("ext_mixed_list");
    /* a phase that takes more than 20 s fails the test with its name; the watchdog thread
     * blocks every signal, so that none the test sends is delivered to it */
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100, .block_signals = 1 });
    int sig = SIGRTMIN;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = rt_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(sig, &sa, NULL));
    /* entry 4 signals sig + 1: TSan keeps one pending instance per signal number, and two
     * notifications of one number could merge there */
    CHECK_OK(sigaction(sig + 1, &sa, NULL));

    enum { FSZ = 65536 };
    static unsigned char filedata[FSZ], chk[FSZ];
    int fd = t_tmpfile();
    t_fill_random(filedata, FSZ);
    t_pwrite_all(fd, filedata, FSZ, 0);
    int efdA = eventfd(0, EFD_NONBLOCK), efdB = eventfd(0, 0), efdL = eventfd(0, EFD_NONBLOCK);
    CHECK(efdA >= 0 && efdB >= 0 && efdL >= 0);
    int pp[2];
    CHECK_OK(pipe(pp));

    /* ---------- LIO_NOWAIT, mixed notifications ---------- */
    t_phase("LIO_NOWAIT mixed list");
    static unsigned char w0[100], r1[100], wv0[30], wv1[70], rv0[11], rv1[22], rv2[33],
        w4[64], r5[80], rv8a[40], rv8b[1], wv9[3][17], pipebuf[12];
    t_fill_random(w0, sizeof w0);
    t_fill_random(wv0, sizeof wv0);
    t_fill_random(wv1, sizeof wv1);
    t_fill_random(w4, sizeof w4);
    t_fill_random(wv9, sizeof wv9);
    struct iovec iov2[2] = { { wv0, 30 }, { wv1, 70 } };
    struct iovec iov3[3] = { { rv0, 11 }, { rv1, 22 }, { rv2, 33 } };
    struct iovec iov8[2] = { { rv8a, 40 }, { rv8b, 1 } };
    struct iovec iov9[3] = { { wv9[0], 17 }, { wv9[1], 17 }, { wv9[2], 17 } };
    t_cb(&e[0], fd, w0, 100, 0);
    e[0].aio_lio_opcode = LIO_WRITE;
    set_efd(&e[0], efdA);
    t_cb(&e[1], fd, r1, 100, 10000);
    e[1].aio_lio_opcode = LIO_READ;
    set_efd(&e[1], efdA);
    vcb(&e[2], fd, iov2, 2, 20000);
    e[2].aio_lio_opcode = LIO_WRITEV;
    set_efd(&e[2], efdB);
    vcb(&e[3], fd, iov3, 3, 30000);
    e[3].aio_lio_opcode = LIO_READV;
    e[3].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    e[3].aio_sigevent.sigev_signo = sig;
    e[3].aio_sigevent.sigev_value.sival_ptr = &e[3];
    t_cb(&e[4], fd, w4, 64, 40000);
    e[4].aio_lio_opcode = LIO_WRITE;
    e[4].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    e[4].aio_sigevent.sigev_signo = sig + 1;
    e[4].aio_sigevent.sigev_value.sival_ptr = &e[4];
    t_cb(&e[5], fd, r5, 80, 50000);
    e[5].aio_lio_opcode = LIO_READ;
    t_cb(&e[6], fd, r1, 100, 0); /* NOP: its sigevent must be ignored */
    e[6].aio_lio_opcode = LIO_NOP;
    set_efd(&e[6], efdA);
    vcb(&e[8], fd, iov8, 2, 60000);
    e[8].aio_lio_opcode = LIO_READV;
    set_efd(&e[8], efdB);
    vcb(&e[9], fd, iov9, 3, 5000);
    e[9].aio_lio_opcode = LIO_WRITEV;
    t_cb(&e[10], pp[0], pipebuf, 12, 0); /* blocks until the pipe has data */
    e[10].aio_lio_opcode = LIO_READ;
    set_efd(&e[10], efdB);
    struct aiocb *list[11] = { &e[0], &e[1], &e[2], &e[3], &e[4], &e[5],
                               &e[6], NULL,  &e[8], &e[9], &e[10] };
    struct sigevent ls;
    memset(&ls, 0, sizeof ls);
    ls.sigev_notify = SIGEV_EVENTFD;
    ls.sigev_signo = efdL;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, 11, &ls));
    CHECK_EQ(efd_collect(efdA, 2, "entries on eventfd A"), 2);
    CHECK_EQ(efd_collect(efdB, 2, "entries on eventfd B (before the pipe read)"), 2);
    t_wait_counter(&sig_count[3], 1, "SIGEV_SIGNAL entry 3 (LIO_READV)");
    t_wait_counter(&sig_count[4], 1, "SIGEV_SIGNAL entry 4 (LIO_WRITE)");
    CHECK_EQ(t_wait(&e[5]), 0);
    CHECK_EQ(t_wait(&e[9]), 0);
    /* the pipe read is still blocked: the list is not complete */
    efd_quiet(efdL, 200, "list eventfd before the last entry completed");
    CHECK_EQ(aio_error(&e[10]), EINPROGRESS);
    t_write_all(pp[1], "last-entry!!", 12);
    CHECK_EQ(efd_collect(efdL, 1, "list eventfd"), 1);
    for (int i = 0; i < 11; i++)
        if (list[i] && list[i]->aio_lio_opcode != LIO_NOP && aio_error(list[i]) == EINPROGRESS)
            FAILF("list eventfd counted while entry %d was still in progress", i);
    CHECK_EQ(efd_collect(efdB, 1, "entry 10 on eventfd B"), 1);
    t_sleep_ms(200);
    efd_quiet(efdL, 0, "list eventfd (counted once)");
    efd_quiet(efdA, 0, "eventfd A (2 entries; the NOP entry must not count)");
    efd_quiet(efdB, 0, "eventfd B (3 entries)");
    CHECK_EQ(aio_reap(efdL, (struct aiocb *[4]){ 0 }, 4), 0);
    {
        struct aiocb *wa[2] = { &e[0], &e[1] };
        reap_exact(efdA, wa, 2, "eventfd A");
        struct aiocb *wb[3] = { &e[2], &e[8], &e[10] };
        reap_exact(efdB, wb, 3, "eventfd B");
    }
    for (int i = 0; i < NE; i++)
        if (sig_count[i] != (i == 3 || i == 4 ? 1 : 0))
            FAILF("entry %d: %d SIGEV_SIGNAL notifications", i, sig_count[i]);
    CHECK_EQ(sig_bad_ptr, 0);
    if (sig_bad_code)
        FAILF("SIGEV_SIGNAL entry: si_code %d, expected SI_ASYNCIO (%d)", sig_bad_code,
              SI_ASYNCIO);
    CHECK_EQ(sig_bad_pid, 0);
    const ssize_t want[11] = { 100, 100, 100, 66, 64, 80, -2, -2, 41, 51, 12 };
    for (int i = 0; i < 11; i++) {
        if (want[i] == -2)
            continue;
        CHECK_EQ(aio_error(&e[i]), 0);
        ssize_t r = aio_return(&e[i]);
        if (r != want[i])
            FAILF("entry %d: aio_return %zd, expected %zd", i, r, want[i]);
    }
    CHECK_ERR(aio_error(&e[6]), EINVAL); /* the NOP was never a request */
    if (memcmp(r1, filedata + 10000, 100) || memcmp(rv0, filedata + 30000, 11) ||
        memcmp(rv1, filedata + 30011, 22) || memcmp(rv2, filedata + 30033, 33) ||
        memcmp(r5, filedata + 50000, 80) || memcmp(rv8a, filedata + 60000, 40) ||
        memcmp(rv8b, filedata + 60040, 1) || memcmp(pipebuf, "last-entry!!", 12))
        FAILF("mixed list: a read entry got wrong data");
    memcpy(filedata, w0, 100);
    memcpy(filedata + 20000, wv0, 30);
    memcpy(filedata + 20030, wv1, 70);
    memcpy(filedata + 40000, w4, 64);
    memcpy(filedata + 5000, wv9, 51);
    t_pread_all(fd, chk, FSZ, 0);
    if (memcmp(chk, filedata, FSZ) != 0)
        FAILF("mixed list: file content wrong after the write entries");

    /* ---------- an entry with a bad SIGEV_EVENTFD fails alone ---------- */
    t_phase("LIO_NOWAIT with a bad SIGEV_EVENTFD entry");
    {
        int regfd = t_tmpfile();
        int closed = dup(regfd);
        CHECK(closed >= 0);
        close(closed);
        t_cb(&e[0], fd, r1, 100, 0);
        e[0].aio_lio_opcode = LIO_READ;
        set_efd(&e[0], efdA);
        t_cb(&e[1], fd, w0, 100, 100);
        e[1].aio_lio_opcode = LIO_WRITE;
        set_efd(&e[1], regfd); /* not an eventfd */
        vcb(&e[2], fd, iov2, 2, 200);
        e[2].aio_lio_opcode = LIO_WRITEV;
        set_efd(&e[2], closed); /* not open */
        t_cb(&e[3], fd, r5, 80, 300);
        e[3].aio_lio_opcode = LIO_READ;
        set_efd(&e[3], efdA);
        struct aiocb *l2[4] = { &e[0], &e[1], &e[2], &e[3] };
        CHECK_ERR(lio_listio(LIO_NOWAIT, l2, 4, &ls), EIO);
        CHECK_EQ(aio_error(&e[1]), EINVAL);
        CHECK_EQ(aio_return(&e[1]), -1);
        CHECK_EQ(aio_error(&e[2]), EBADF);
        CHECK_EQ(aio_return(&e[2]), -1);
        CHECK_EQ(efd_collect(efdL, 1, "list eventfd with failed entries"), 1);
        CHECK_EQ(efd_collect(efdA, 2, "good entries of the list with failed ones"), 2);
        t_sleep_ms(150);
        efd_quiet(efdL, 0, "list eventfd with failed entries (counted once)");
        efd_quiet(efdA, 0, "eventfd A with failed entries");
        struct aiocb *wa[2] = { &e[0], &e[3] };
        reap_exact(efdA, wa, 2, "eventfd A, list with failed entries");
        CHECK_EQ(aio_return(&e[0]), 100);
        CHECK_EQ(aio_return(&e[3]), 80);
        struct stat st;
        CHECK_OK(fstat(regfd, &st));
        CHECK_EQ(st.st_size, 0);
        t_pread_all(fd, chk, FSZ, 0);
        if (memcmp(chk, filedata, FSZ) != 0)
            FAILF("the failed write entries changed the file");
        close(regfd);
    }

    /* ---------- LIO_WAIT with SIGEV_EVENTFD entries ---------- */
    t_phase("LIO_WAIT with SIGEV_EVENTFD entries");
    for (int round = 0; round < 2; round++) {
        enum { NW = 8 };
        static struct aiocb wc[NW];
        static unsigned char wbuf[NW][256];
        static struct iovec wiov[NW][2];
        struct aiocb *l[NW];
        for (int i = 0; i < NW; i++) {
            off_t off = 8192 + (off_t)i * 256;
            switch (i % 4) {
            case 0:
                t_fill_random(wbuf[i], 256);
                t_cb(&wc[i], fd, wbuf[i], 256, off);
                wc[i].aio_lio_opcode = LIO_WRITE;
                memcpy(filedata + off, wbuf[i], 256);
                break;
            case 1:
                t_cb(&wc[i], fd, wbuf[i], 256, off);
                wc[i].aio_lio_opcode = LIO_READ;
                break;
            case 2:
                t_fill_random(wbuf[i], 256);
                wiov[i][0] = (struct iovec){ wbuf[i], 56 };
                wiov[i][1] = (struct iovec){ wbuf[i] + 56, 200 };
                vcb(&wc[i], fd, wiov[i], 2, off);
                wc[i].aio_lio_opcode = LIO_WRITEV;
                memcpy(filedata + off, wbuf[i], 256);
                break;
            case 3:
                wiov[i][0] = (struct iovec){ wbuf[i], 200 };
                wiov[i][1] = (struct iovec){ wbuf[i] + 200, 56 };
                vcb(&wc[i], fd, wiov[i], 2, off);
                wc[i].aio_lio_opcode = LIO_READV;
                break;
            }
            set_efd(&wc[i], efdB);
            l[i] = &wc[i];
        }
        /* round 1: a list sigevent on efdL, which LIO_WAIT ignores */
        CHECK_OK(lio_listio(LIO_WAIT, l, NW, round ? &ls : NULL));
        for (int i = 0; i < NW; i++)
            if (aio_error(&wc[i]) != 0)
                FAILF("LIO_WAIT returned but entry %d has aio_error %d", i, aio_error(&wc[i]));
        CHECK_EQ(efd_collect(efdB, NW, "LIO_WAIT entries"), NW);
        t_sleep_ms(150);
        efd_quiet(efdB, 0, "LIO_WAIT entries");
        if (round)
            efd_quiet(efdL, 0, "list sigevent of LIO_WAIT (ignored)");
        reap_exact(efdB, l, NW, "LIO_WAIT entries");
        for (int i = 0; i < NW; i++)
            CHECK_EQ(aio_return(&wc[i]), 256);
        for (int i = 1; i < NW; i += 2)
            if (memcmp(wbuf[i], filedata + 8192 + i * 256, 256) != 0)
                FAILF("LIO_WAIT read entry %d: wrong data", i);
        t_pread_all(fd, chk, FSZ, 0);
        if (memcmp(chk, filedata, FSZ) != 0)
            FAILF("LIO_WAIT write entries: file content wrong");
    }

    /* ---------- list sigevent SIGEV_EVENTFD on something else ---------- */
    t_phase("list sigevent SIGEV_EVENTFD on a non-eventfd");
    {
        int regfd = t_tmpfile();
        int closed = dup(regfd);
        close(closed);
        struct {
            int signo, err;
            const char *what;
        } bad[] = { { regfd, EINVAL, "a regular file" },
                    { pp[0], EINVAL, "a pipe" },
                    { closed, EBADF, "a closed fd" },
                    { -1, EBADF, "-1" } };
        for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
            static unsigned char nb[3][50];
            memset(nb, 'N', sizeof nb);
            t_cb(&e[0], fd, nb[0], 50, 0);
            e[0].aio_lio_opcode = LIO_WRITE;
            set_efd(&e[0], efdA);
            t_cb(&e[1], fd, nb[1], 50, 100);
            e[1].aio_lio_opcode = LIO_READ;
            t_cb(&e[2], fd, nb[2], 50, 200);
            e[2].aio_lio_opcode = LIO_WRITE;
            e[2].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            e[2].aio_sigevent.sigev_signo = sig;
            e[2].aio_sigevent.sigev_value.sival_ptr = &e[2];
            struct iovec wv[1] = { { nb[2], 50 } };
            vcb(&e[3], fd, wv, 1, 300);
            e[3].aio_lio_opcode = LIO_WRITEV;
            struct aiocb *l[4] = { &e[0], &e[1], &e[2], &e[3] };
            struct sigevent bs;
            memset(&bs, 0, sizeof bs);
            bs.sigev_notify = SIGEV_EVENTFD;
            bs.sigev_signo = bad[b].signo;
            sig_count[2] = 0;
            errno = 0;
            int r = lio_listio(LIO_NOWAIT, l, 4, &bs);
            int er = errno;
            if (r != -1 || er != bad[b].err)
                FAILF("lio_listio(LIO_NOWAIT), list sigevent SIGEV_EVENTFD on %s: returned %d "
                      "errno %d (%s), expected -1/%s",
                      bad[b].what, r, er, strerror(er), bad[b].err == EINVAL ? "EINVAL" : "EBADF");
            for (int i = 0; i < 4; i++) {
                errno = 0;
                int ae = aio_error(&e[i]);
                if (ae != -1 || errno != EINVAL)
                    FAILF("list refused (list sigevent on %s), but entry %d has aio_error %d "
                          "errno %d: it was submitted",
                          bad[b].what, i, ae, errno);
            }
        }
        t_sleep_ms(200);
        efd_quiet(efdA, 0, "refused lists");
        CHECK_EQ(aio_reap(efdA, (struct aiocb *[4]){ 0 }, 4), 0);
        CHECK_EQ(sig_count[2], 0);
        t_pread_all(fd, chk, FSZ, 0);
        if (memcmp(chk, filedata, FSZ) != 0)
            FAILF("a refused list changed the file");
        struct stat st;
        CHECK_OK(fstat(regfd, &st));
        CHECK_EQ(st.st_size, 0);
        close(regfd);
    }

    close(pp[0]);
    close(pp[1]);
    close(efdA);
    close(efdB);
    close(efdL);
    close(fd);
    t_phase("done");
    return T_PASS;
}
