/* ext_vectored: aio_readv / aio_writev and LIO_READV / LIO_WRITEV (rtaio.h).
 *  - scatter/gather with 1, 3 and IOV_MAX segments of odd sizes (some empty), at odd
 *    offsets; reads with a different segmentation; bytes between segments untouched;
 *  - iovcnt 0 (with and without an iovec pointer) → 0 bytes;
 *  - the iovec array is copied at submission: a readv blocked on an empty pipe and a writev
 *    blocked on a full pipe use the original buffers after the array was overwritten and
 *    freed; same for lio_listio entries;
 *  - iovcnt > IOV_MAX, NULL iov with a count, lengths adding up to more than SSIZE_MAX
 *    (also when the sum wraps around) → EINVAL, nothing queued;
 *  - short read at end of file, 0 at and past it;
 *  - writev on a read-only fd / readv on a write-only fd / a closed fd → accepted, EBADF via
 *    aio_error (as aio_read/aio_write);
 *  - O_DIRECT with aligned segments (skipped where O_DIRECT is refused);
 *  - O_APPEND: 100 writevs (and writevs mixed with aio_write) land in submission order;
 *  - pipes and sockets: the offset is ignored;
 *  - aio_cancel of queued vectored requests (with aio_threads = 2): AIO_CANCELED /
 *    AIO_NOTCANCELED, each final status ECANCELED or success, nothing lost, cancelled
 *    writes leave no data;
 *  - lio_listio with LIO_READV/LIO_WRITEV entries (LIO_WAIT, LIO_NOWAIT), bad vectored
 *    entries → EIO with that entry's status EINVAL. */
#include "t.h"
#include <rtaio.h>
#include <sys/uio.h>

static void vcb(struct aiocb *cb, int fd, const struct iovec *iov, size_t cnt, off_t off)
{
    t_cb(cb, fd, NULL, 0, off);
    cb->aio_iov = (void *)iov;
    cb->aio_iovcnt = cnt;
}

/* submission must fail with err and queue nothing */
#define SUBMIT_ERR(call, cbp, err, what)                                                  \
    do {                                                                                  \
        errno = 0;                                                                        \
        int r_ = (call);                                                                  \
        int e_ = errno;                                                                   \
        if (r_ != -1 || e_ != (err))                                                      \
            FAILF("%s: returned %d errno %d (%s), expected -1/%s", what, r_, e_,          \
                  strerror(e_), #err);                                                    \
        errno = 0;                                                                        \
        int a_ = aio_error(cbp);                                                          \
        if (a_ != -1 || errno != EINVAL)                                                  \
            FAILF("%s: refused, but aio_error = %d errno %d: something was queued", what, \
                  a_, errno);                                                             \
    } while (0)

static char *tmppath(char *buf, size_t n)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, n, "%s/rtaio-ext-vec-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(buf);
    CHECK(fd >= 0);
    close(fd);
    return buf;
}

#define GUARD 0xA5

/* Carve segments out of one buffer with a 1-byte guard after each. */
struct segs {
    int n;
    struct iovec iov[IOV_MAX];
    unsigned char *mem;
    size_t memsz, total;
};

static void segs_make(struct segs *s, int n, const size_t *len)
{
    s->n = n;
    s->total = 0;
    s->memsz = 0;
    for (int i = 0; i < n; i++)
        s->memsz += len[i] + 1;
    s->mem = malloc(s->memsz + 1);
    CHECK(s->mem != NULL);
    memset(s->mem, GUARD, s->memsz + 1);
    size_t p = 0;
    for (int i = 0; i < n; i++) {
        s->iov[i].iov_base = s->mem + p;
        s->iov[i].iov_len = len[i];
        p += len[i] + 1;
        s->total += len[i];
    }
}

static void segs_fill(struct segs *s, unsigned char v)
{
    for (int i = 0; i < s->n; i++)
        memset(s->iov[i].iov_base, v, s->iov[i].iov_len);
}

/* gather the segments into out; check the guard bytes */
static void segs_gather(struct segs *s, unsigned char *out, const char *what)
{
    size_t p = 0;
    for (int i = 0; i < s->n; i++) {
        memcpy(out + p, s->iov[i].iov_base, s->iov[i].iov_len);
        p += s->iov[i].iov_len;
        if (((unsigned char *)s->iov[i].iov_base)[s->iov[i].iov_len] != GUARD)
            FAILF("%s: byte after segment %d (len %zu) overwritten", what, i, s->iov[i].iov_len);
    }
}

static void scatter_gather(int fd, int n, const size_t *wlen, int rn, const size_t *rlen, off_t off,
                           const char *what)
{
    struct segs w, r;
    segs_make(&w, n, wlen);
    segs_make(&r, rn, rlen);
    CHECK_EQ(w.total, r.total);
    size_t total = w.total;
    unsigned char *src = malloc(total + 1), *chk = malloc(total + 1);
    CHECK(src && chk);
    t_fill_random(src, total);
    size_t p = 0;
    for (int i = 0; i < n; i++) {
        memcpy(w.iov[i].iov_base, src + p, wlen[i]);
        p += wlen[i];
    }
    struct aiocb cb;
    vcb(&cb, fd, w.iov, (size_t)n, off);
    if (aio_writev(&cb) != 0)
        FAILF("%s: aio_writev: errno %d (%s)", what, errno, strerror(errno));
    ssize_t ret = t_wait_return(&cb, 0, what);
    if (ret != (ssize_t)total)
        FAILF("%s: aio_writev returned %zd, expected %zu", what, ret, total);
    if (total)
        t_pread_all(fd, chk, total, off);
    if (memcmp(chk, src, total) != 0)
        FAILF("%s: file content after aio_writev wrong", what);
    segs_fill(&r, 0);
    vcb(&cb, fd, r.iov, (size_t)rn, off);
    if (aio_readv(&cb) != 0)
        FAILF("%s: aio_readv: errno %d (%s)", what, errno, strerror(errno));
    ret = t_wait_return(&cb, 0, what);
    if (ret != (ssize_t)total)
        FAILF("%s: aio_readv returned %zd, expected %zu", what, ret, total);
    segs_gather(&r, chk, what);
    if (memcmp(chk, src, total) != 0)
        FAILF("%s: aio_readv data wrong", what);
    free(w.mem);
    free(r.mem);
    free(src);
    free(chk);
}

int main(void)
{
    t_init("ext_vectored");
    /* a phase that takes more than 20 s fails the test with its name */
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100 });

    /* ---------- cancel first, with 2 workers, so that requests are surely queued ---------- */
    t_phase("aio_cancel of queued vectored requests");
    {
        t_aio_init(2, 64);
        enum { NR = 6, NW = 10, RSZ = 8 };
        int pp[2];
        CHECK_OK(pipe(pp));
        int cfd = t_tmpfile();
        static struct aiocb rc[NR], wc[NW];
        static unsigned char rb[NR][RSZ], wb[NW][100];
        static struct iovec riov[NR][2], wiov[NW][3];
        for (int i = 0; i < NR; i++) {
            memset(rb[i], 0, RSZ);
            riov[i][0] = (struct iovec){ rb[i], 3 };
            riov[i][1] = (struct iovec){ rb[i] + 3, 5 };
            vcb(&rc[i], pp[0], riov[i], 2, 0);
            CHECK_OK(aio_readv(&rc[i]));
        }
        t_sleep_ms(100); /* the two workers are now blocked in reads */
        for (int i = 0; i < NW; i++) {
            memset(wb[i], 'a' + i, 100);
            wiov[i][0] = (struct iovec){ wb[i], 10 };
            wiov[i][1] = (struct iovec){ wb[i] + 10, 0 };
            wiov[i][2] = (struct iovec){ wb[i] + 10, 90 };
            vcb(&wc[i], cfd, wiov[i], 3, (off_t)i * 100);
            CHECK_OK(aio_writev(&wc[i]));
        }
        int r1 = aio_cancel(cfd, &wc[NW - 1]);
        if (r1 != AIO_CANCELED && r1 != AIO_NOTCANCELED && r1 != AIO_ALLDONE)
            FAILF("aio_cancel(one queued aio_writev) = %d errno %d", r1, errno);
        if (r1 == AIO_CANCELED)
            CHECK_EQ(aio_error(&wc[NW - 1]), ECANCELED);
        int r2 = aio_cancel(cfd, NULL);
        if (r2 != AIO_CANCELED && r2 != AIO_NOTCANCELED && r2 != AIO_ALLDONE)
            FAILF("aio_cancel(fd of queued aio_writevs, NULL) = %d errno %d", r2, errno);
        int r3 = aio_cancel(pp[0], NULL);
        if (r3 != AIO_CANCELED && r3 != AIO_NOTCANCELED)
            FAILF("aio_cancel(pipe with %d aio_readvs, NULL) = %d errno %d, expected "
                  "AIO_CANCELED or AIO_NOTCANCELED",
                  NR, r3, errno);
        int inprog = 0;
        for (int i = 0; i < NR; i++)
            if (aio_error(&rc[i]) == EINPROGRESS)
                inprog++;
        if (r3 == AIO_NOTCANCELED && inprog == 0)
            FAILF("aio_cancel said AIO_NOTCANCELED but no readv is in progress");
        if (r3 == AIO_CANCELED && inprog != 0)
            FAILF("aio_cancel said AIO_CANCELED but %d readvs are still in progress", inprog);
        static unsigned char feed[NR * RSZ];
        for (int i = 0; i < NR * RSZ; i++)
            feed[i] = (unsigned char)('A' + i / RSZ);
        for (int k = 0; k < inprog; k++)
            t_write_all(pp[1], feed + k * RSZ, RSZ);
        int canceled = 0, done_r = 0, done_w = 0;
        unsigned seen_chunks = 0;
        for (int i = 0; i < NR; i++) {
            int e = t_wait(&rc[i]);
            ssize_t r = aio_return(&rc[i]);
            if (e == ECANCELED && r == -1) {
                canceled++;
            } else if (e == 0 && r == RSZ) {
                done_r++;
                int k = rb[i][0] - 'A';
                if (k < 0 || k >= inprog || memcmp(rb[i], feed + k * RSZ, RSZ) != 0)
                    FAILF("cancel: readv %d got wrong data", i);
                if (seen_chunks & (1u << k))
                    FAILF("cancel: two readvs got chunk %d", k);
                seen_chunks |= 1u << k;
            } else {
                FAILF("cancel: readv %d ended with aio_error %d, aio_return %zd", i, e, r);
            }
        }
        CHECK_EQ(done_r, inprog);
        /* every writev final before the file is read (one not cancelled may still run) */
        int we[NW];
        ssize_t wr[NW];
        for (int i = 0; i < NW; i++) {
            we[i] = t_wait(&wc[i]);
            wr[i] = aio_return(&wc[i]);
        }
        static unsigned char fc[NW * 100];
        memset(fc, 0, sizeof fc);
        CHECK(pread(cfd, fc, sizeof fc, 0) >= 0);
        for (int i = 0; i < NW; i++) {
            int e = we[i];
            ssize_t r = wr[i];
            unsigned char want = 0;
            if (e == ECANCELED && r == -1) {
                canceled++;
            } else if (e == 0 && r == 100) {
                done_w++;
                want = (unsigned char)('a' + i);
            } else {
                FAILF("cancel: writev %d ended with aio_error %d, aio_return %zd", i, e, r);
            }
            for (int k = 0; k < 100; k++)
                if (fc[i * 100 + k] != want)
                    FAILF("cancel: writev %d (%s) but the file has byte %d at +%d", i,
                          want ? "done" : "cancelled", fc[i * 100 + k], k);
        }
        if (r1 == AIO_CANCELED) { /* released above: no second value, the status stays */
            errno = 0;
            if (aio_return(&wc[NW - 1]) != -1 || errno != EINVAL ||
                aio_error(&wc[NW - 1]) != ECANCELED)
                FAILF("cancel: state after aio_return");
        }
        t_note("cancel: %d cancelled, %d readvs done, %d writevs done (aio_cancel %d/%d/%d)",
               canceled, done_r, done_w, r1, r2, r3);
        if (canceled == 0)
            FAILF("cancel: with aio_threads = 2 and %d requests behind 2 blocked reads, nothing "
                  "was cancelled",
                  NR + NW - 2);
        int fl = fcntl(pp[0], F_GETFL);
        CHECK_OK(fcntl(pp[0], F_SETFL, fl | O_NONBLOCK));
        char x;
        CHECK_ERR(read(pp[0], &x, 1), EAGAIN); /* no byte lost to a cancelled readv */
        close(pp[0]);
        close(pp[1]);
        close(cfd);
        t_aio_init(64, 64);
    }

    int fd = t_tmpfile();

    /* ---------- scatter/gather ---------- */
    t_phase("scatter/gather");
    {
        size_t one[1] = { 4097 };
        scatter_gather(fd, 1, one, 1, one, 12345, "1 segment");
        size_t three[3] = { 1, 333, 4095 };
        size_t three_r[3] = { 4095, 333, 1 };
        scatter_gather(fd, 3, three, 3, three, 777, "3 segments");
        scatter_gather(fd, 3, three, 3, three_r, 99, "3 segments, read back differently");
        static size_t many[IOV_MAX], many_r[IOV_MAX];
        size_t tot = 0;
        for (int i = 0; i < IOV_MAX; i++) {
            many[i] = (i % 17 == 5) ? 0 : (size_t)((i * 37) % 101) + 1;
            tot += many[i];
        }
        scatter_gather(fd, IOV_MAX, many, IOV_MAX, many, 3, "IOV_MAX segments");
        /* read back as 7 pieces */
        size_t rest = tot;
        for (int i = 0; i < 6; i++) {
            many_r[i] = tot / 7 + (size_t)i;
            rest -= many_r[i];
        }
        many_r[6] = rest;
        scatter_gather(fd, IOV_MAX, many, 7, many_r, 100001, "IOV_MAX segments, read as 7");
        scatter_gather(fd, 7, many_r, IOV_MAX, many, 5, "7 segments, read as IOV_MAX");
    }

    /* ---------- iovcnt 0 ---------- */
    t_phase("iovcnt 0");
    {
        struct stat st0, st1;
        CHECK_OK(fstat(fd, &st0));
        static unsigned char b[16];
        struct iovec iov[1] = { { b, sizeof b } };
        struct aiocb cb;
        vcb(&cb, fd, iov, 0, 0);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev iovcnt 0"), 0);
        vcb(&cb, fd, NULL, 0, st0.st_size + 100);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev iovcnt 0, NULL iov"), 0);
        memset(b, 0x77, sizeof b);
        vcb(&cb, fd, iov, 0, 0);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv iovcnt 0"), 0);
        for (size_t i = 0; i < sizeof b; i++)
            CHECK_EQ(b[i], 0x77);
        vcb(&cb, fd, NULL, 0, 0);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv iovcnt 0, NULL iov"), 0);
        CHECK_OK(fstat(fd, &st1));
        CHECK_EQ(st1.st_size, st0.st_size);
    }

    /* ---------- argument errors ---------- */
    t_phase("argument errors");
    {
        static unsigned char b[64];
        static struct iovec big[IOV_MAX + 1];
        for (int i = 0; i <= IOV_MAX; i++)
            big[i] = (struct iovec){ b, 1 };
        struct aiocb cb;
        vcb(&cb, fd, big, IOV_MAX + 1, 0);
        SUBMIT_ERR(aio_readv(&cb), &cb, EINVAL, "aio_readv iovcnt IOV_MAX+1");
        vcb(&cb, fd, big, IOV_MAX + 1, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev iovcnt IOV_MAX+1");
        vcb(&cb, fd, big, (size_t)-1, 0);
        SUBMIT_ERR(aio_readv(&cb), &cb, EINVAL, "aio_readv iovcnt SIZE_MAX");
        vcb(&cb, fd, big, (size_t)INT_MAX + 2, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev iovcnt INT_MAX+2");
        vcb(&cb, fd, NULL, 1, 0);
        SUBMIT_ERR(aio_readv(&cb), &cb, EINVAL, "aio_readv NULL iov, count 1");
        vcb(&cb, fd, NULL, 3, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev NULL iov, count 3");
        struct iovec huge[2] = { { b, (size_t)SSIZE_MAX / 2 + 1 }, { b, (size_t)SSIZE_MAX / 2 + 1 } };
        vcb(&cb, fd, huge, 2, 0);
        SUBMIT_ERR(aio_readv(&cb), &cb, EINVAL, "aio_readv total SSIZE_MAX+1");
        vcb(&cb, fd, huge, 2, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev total SSIZE_MAX+1");
        struct iovec wrap[3] = { { b, 8 }, { b, SIZE_MAX }, { b, 2 } }; /* sum wraps to 9 */
        vcb(&cb, fd, wrap, 3, 0);
        SUBMIT_ERR(aio_readv(&cb), &cb, EINVAL, "aio_readv lengths wrapping around SIZE_MAX");
        vcb(&cb, fd, wrap, 3, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev lengths wrapping around SIZE_MAX");
        struct iovec one_big[1] = { { b, (size_t)SSIZE_MAX + 1 } };
        vcb(&cb, fd, one_big, 1, 0);
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev one segment of SSIZE_MAX+1");
        /* the usual aio_read/aio_write checks apply too */
        struct iovec ok[1] = { { b, 8 } };
        vcb(&cb, fd, ok, 1, -1); /* accepted; the read reports it, as for aio_read */
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, EINVAL, "aio_readv offset -1"), -1);
        vcb(&cb, fd, ok, 1, 0);
        cb.aio_reqprio = -1;
        CHECK_ERR(aio_writev(&cb), EINVAL); /* refused; its status says so, as aio_write's */
        CHECK_EQ(aio_error(&cb), EINVAL);
        CHECK_EQ(aio_return(&cb), -1);
        vcb(&cb, fd, ok, 1, 0);
        cb.aio_sigevent.sigev_notify = 99;
        SUBMIT_ERR(aio_writev(&cb), &cb, EINVAL, "aio_writev bad sigev_notify");
        NOT_GLIBC(CHECK_ERR(aio_readv(t_null()), EINVAL));
        NOT_GLIBC(CHECK_ERR(aio_writev(t_null()), EINVAL));

        /* EBADF: read-only / write-only / closed descriptors: accepted, and the request fails
         * with EBADF through aio_error, as aio_read/aio_write do (glibc's way) */
        char path[4096];
        tmppath(path, sizeof path);
        int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY);
        CHECK(ro >= 0 && wo >= 0);
        CHECK_OK(unlink(path));
        vcb(&cb, ro, ok, 1, 0);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, EBADF, "aio_writev on an O_RDONLY fd"), -1);
        vcb(&cb, wo, ok, 1, 0);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, EBADF, "aio_readv on an O_WRONLY fd"), -1);
        int closed = dup(ro);
        CHECK(closed >= 0);
        close(closed);
        vcb(&cb, closed, ok, 1, 0);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, EBADF, "aio_readv on a closed fd"), -1);
        vcb(&cb, -1, ok, 1, 0);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, EBADF, "aio_writev on fd -1"), -1);
        struct stat st;
        CHECK_OK(fstat(ro, &st));
        CHECK_EQ(st.st_size, 0);
        close(ro);
        close(wo);
    }

    /* ---------- end of file ---------- */
    t_phase("end of file");
    {
        int efd = t_tmpfile();
        static unsigned char fdata[1000];
        t_fill_random(fdata, sizeof fdata);
        t_pwrite_all(efd, fdata, sizeof fdata, 0);
        size_t lens[3] = { 50, 30, 100 };
        struct segs s;
        segs_make(&s, 3, lens);
        segs_fill(&s, 0xcc);
        struct aiocb cb;
        vcb(&cb, efd, s.iov, 3, 900);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv across end of file"), 100);
        unsigned char got[180];
        segs_gather(&s, got, "aio_readv across end of file");
        CHECK(memcmp(got, fdata + 900, 100) == 0);
        for (int i = 100; i < 180; i++)
            if (got[i] != 0xcc)
                FAILF("aio_readv across end of file: byte %d past the data changed", i);
        vcb(&cb, efd, s.iov, 3, 1000);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv at end of file"), 0);
        vcb(&cb, efd, s.iov, 3, 5000);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv past end of file"), 0);
        free(s.mem);
        close(efd);
    }

    /* ---------- the iovec array is copied at submission ---------- */
    t_phase("iovec array copied at submission");
    {
        /* readv blocked on an empty pipe */
        int pp[2];
        CHECK_OK(pipe(pp));
        static unsigned char a0[5], a1[7], a2[3], decoy[64];
        memset(decoy, 0, sizeof decoy);
        struct iovec *iov = malloc(3 * sizeof *iov);
        CHECK(iov != NULL);
        iov[0] = (struct iovec){ a0, 5 };
        iov[1] = (struct iovec){ a1, 7 };
        iov[2] = (struct iovec){ a2, 3 };
        struct aiocb cb;
        vcb(&cb, pp[0], iov, 3, 0);
        CHECK_OK(aio_readv(&cb));
        for (int i = 0; i < 3; i++)
            iov[i] = (struct iovec){ decoy + 20 * i, 5 };
        free(iov);
        t_sleep_ms(50);
        CHECK_EQ(aio_error(&cb), EINPROGRESS);
        t_write_all(pp[1], "ABCDEFGHIJKLMNO", 15);
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv with the iovec array freed"), 15);
        if (memcmp(a0, "ABCDE", 5) || memcmp(a1, "FGHIJKL", 7) || memcmp(a2, "MNO", 3))
            FAILF("aio_readv after the iovec array was overwritten and freed: data not in the "
                  "original buffers");
        for (size_t i = 0; i < sizeof decoy; i++)
            if (decoy[i])
                FAILF("aio_readv used the overwritten iovec array (decoy byte %zu written)", i);

        /* writev blocked on a full pipe */
        int fl = fcntl(pp[1], F_GETFL);
        CHECK_OK(fcntl(pp[1], F_SETFL, fl | O_NONBLOCK));
        static unsigned char fill[4096];
        memset(fill, 'f', sizeof fill);
        size_t filled = 0;
        for (;;) {
            ssize_t r = write(pp[1], fill, sizeof fill);
            if (r < 0) {
                CHECK(errno == EAGAIN);
                break;
            }
            filled += (size_t)r;
        }
        for (;;) { /* top up to the last byte */
            ssize_t r = write(pp[1], fill, 1);
            if (r < 0) {
                CHECK(errno == EAGAIN);
                break;
            }
            filled += (size_t)r;
        }
        CHECK_OK(fcntl(pp[1], F_SETFL, fl));
        static unsigned char w0[100], w1[1], w2[300];
        memset(w0, 'x', sizeof w0);
        memset(w1, 'y', sizeof w1);
        memset(w2, 'z', sizeof w2);
        memset(decoy, 'D', sizeof decoy);
        iov = malloc(3 * sizeof *iov);
        CHECK(iov != NULL);
        iov[0] = (struct iovec){ w0, sizeof w0 };
        iov[1] = (struct iovec){ w1, sizeof w1 };
        iov[2] = (struct iovec){ w2, sizeof w2 };
        vcb(&cb, pp[1], iov, 3, 0);
        CHECK_OK(aio_writev(&cb));
        for (int i = 0; i < 3; i++)
            iov[i] = (struct iovec){ decoy, sizeof decoy };
        free(iov);
        t_sleep_ms(50);
        CHECK_EQ(aio_error(&cb), EINPROGRESS);
        size_t want = filled + 401;
        unsigned char *all = malloc(want + 4096);
        CHECK(all != NULL);
        size_t got = 0;
        double end = t_now() + T_DEADLINE_S;
        CHECK_OK(fcntl(pp[0], F_SETFL, fcntl(pp[0], F_GETFL) | O_NONBLOCK));
        while (got < want) {
            ssize_t r = read(pp[0], all + got, want + 4096 - got);
            if (r > 0)
                got += (size_t)r;
            else if (r < 0 && errno == EAGAIN)
                t_sleep_ms(1);
            else
                FAILF("draining the pipe: read %zd errno %d", r, errno);
            if (t_now() > end)
                FAILF("aio_writev to a full pipe: %zu of %zu bytes after draining", got, want);
        }
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev with the iovec array freed"), 401);
        t_sleep_ms(20);
        ssize_t extra = read(pp[0], all + got, 4096);
        CHECK(extra < 0 && errno == EAGAIN);
        for (size_t i = 0; i < filled; i++)
            if (all[i] != 'f')
                FAILF("full pipe: filler byte %zu wrong", i);
        if (memcmp(all + filled, w0, 100) || all[filled + 100] != 'y' ||
            memcmp(all + filled + 101, w2, 300))
            FAILF("aio_writev after the iovec array was overwritten and freed: wrong bytes "
                  "written (first '%c')",
                  all[filled]);
        free(all);
        close(pp[0]);
        close(pp[1]);

        /* regular file: overwrite the array right after submission */
        static unsigned char r0[1000], r1[24];
        t_fill_random(r0, sizeof r0);
        t_fill_random(r1, sizeof r1);
        struct iovec ri[2] = { { r0, sizeof r0 }, { r1, sizeof r1 } };
        vcb(&cb, fd, ri, 2, 50000);
        CHECK_OK(aio_writev(&cb));
        ri[0] = (struct iovec){ decoy, 10 };
        ri[1] = (struct iovec){ decoy, 10 };
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev to a file, array overwritten"), 1024);
        unsigned char chk[1024];
        t_pread_all(fd, chk, 1024, 50000);
        if (memcmp(chk, r0, 1000) || memcmp(chk + 1000, r1, 24))
            FAILF("aio_writev to a file, array overwritten after submission: wrong data");
    }

    /* ---------- O_DIRECT ---------- */
    t_phase("O_DIRECT");
    {
        char path[4096];
        tmppath(path, sizeof path);
        int dfd = open(path, O_RDWR | O_DIRECT);
        int derr = errno;
        unlink(path);
        if (dfd < 0) {
            if (derr != EINVAL)
                FAILF("open(O_DIRECT): %s", strerror(derr));
            t_note("O_DIRECT refused by the file system: that part skipped");
        } else {
            unsigned char *m;
            CHECK_OK(posix_memalign((void **)&m, 4096, 6 * 16384));
            unsigned char *src = m, *dst = m + 16384, *chk = m + 2 * 16384;
            t_fill_random(src, 16384);
            memset(dst, 0, 16384);
            struct iovec wi[3] = { { src, 4096 }, { src + 4096, 8192 }, { src + 12288, 4096 } };
            struct iovec rd[3] = { { dst, 8192 }, { dst + 8192, 4096 }, { dst + 12288, 4096 } };
            struct aiocb cb;
            vcb(&cb, dfd, wi, 3, 4096);
            CHECK_OK(aio_writev(&cb));
            CHECK_EQ(t_wait_return(&cb, 0, "O_DIRECT aio_writev"), 16384);
            vcb(&cb, dfd, rd, 3, 4096);
            CHECK_OK(aio_readv(&cb));
            CHECK_EQ(t_wait_return(&cb, 0, "O_DIRECT aio_readv"), 16384);
            if (memcmp(dst, src, 16384) != 0)
                FAILF("O_DIRECT aio_readv: data wrong");
            t_pread_all(dfd, chk, 16384, 4096);
            if (memcmp(chk, src, 16384) != 0)
                FAILF("O_DIRECT aio_writev: file content wrong");
            /* lio_listio with O_DIRECT vectored entries (also kernel-AIO eligible) */
            unsigned char *s2 = m + 3 * 16384, *d2 = m + 4 * 16384;
            t_fill_random(s2, 8192);
            memset(d2, 0, 16384);
            struct iovec wi2[2] = { { s2, 4096 }, { s2 + 4096, 4096 } };
            struct iovec rd2[2] = { { d2, 12288 }, { d2 + 12288, 4096 } };
            struct aiocb lw, lr;
            vcb(&lw, dfd, wi2, 2, 32768);
            lw.aio_lio_opcode = LIO_WRITEV;
            vcb(&lr, dfd, rd2, 2, 4096);
            lr.aio_lio_opcode = LIO_READV;
            struct aiocb *l[2] = { &lw, &lr };
            CHECK_OK(lio_listio(LIO_WAIT, l, 2, NULL));
            CHECK_EQ(aio_error(&lw), 0);
            CHECK_EQ(aio_return(&lw), 8192);
            CHECK_EQ(aio_error(&lr), 0);
            CHECK_EQ(aio_return(&lr), 16384);
            if (memcmp(d2, src, 16384) != 0)
                FAILF("O_DIRECT LIO_READV: data wrong");
            t_pread_all(dfd, chk, 8192, 32768);
            if (memcmp(chk, s2, 8192) != 0)
                FAILF("O_DIRECT LIO_WRITEV: file content wrong");
            free(m);
            close(dfd);
        }
    }

    /* ---------- O_APPEND order ---------- */
    t_phase("O_APPEND order");
    for (int round = 0; round < 2; round++) {
        char path[4096];
        tmppath(path, sizeof path);
        int afd = open(path, O_WRONLY | O_APPEND);
        int rfd = open(path, O_RDONLY);
        CHECK(afd >= 0 && rfd >= 0);
        unlink(path);
        enum { NA = 100 };
        static struct aiocb ac[NA];
        static char hdr[NA][8], body[NA][16];
        static struct iovec aiov[NA][3];
        static char flat[NA][32];
        static const char tail[] = "]\n";
        size_t expect_len = 0;
        static char expect[NA * 32];
        for (int i = 0; i < NA; i++) {
            snprintf(hdr[i], sizeof hdr[i], "[%03d:", i);
            size_t bl = (size_t)(i % 13) + 1;
            memset(body[i], 'a' + i % 26, bl);
            aiov[i][0] = (struct iovec){ hdr[i], 5 };
            aiov[i][1] = (struct iovec){ body[i], bl };
            aiov[i][2] = (struct iovec){ (void *)tail, 2 };
            size_t rl = 5 + bl + 2;
            memcpy(flat[i], hdr[i], 5);
            memcpy(flat[i] + 5, body[i], bl);
            memcpy(flat[i] + 5 + bl, tail, 2);
            memcpy(expect + expect_len, flat[i], rl);
            expect_len += rl;
            if (round == 1 && i % 2 == 1) {
                t_cb(&ac[i], afd, flat[i], rl, 0);
                CHECK_OK(aio_write(&ac[i]));
            } else {
                vcb(&ac[i], afd, aiov[i], 3, (off_t)(NA - i) * 1000); /* offset ignored */
                CHECK_OK(aio_writev(&ac[i]));
            }
        }
        for (int i = 0; i < NA; i++) {
            ssize_t r = t_wait_return(&ac[i], 0, "O_APPEND record");
            CHECK_EQ(r, 5 + (i % 13) + 1 + 2);
        }
        static char got[NA * 32 + 100];
        ssize_t n = pread(rfd, got, sizeof got, 0);
        CHECK_EQ(n, (ssize_t)expect_len);
        if (memcmp(got, expect, expect_len) != 0) {
            size_t k = 0;
            while (k < expect_len && got[k] == expect[k])
                k++;
            FAILF("O_APPEND %s: records out of submission order (first difference at byte %zu: "
                  "\"%.12s\" vs \"%.12s\")",
                  round ? "aio_writev mixed with aio_write" : "aio_writev", k, got + k,
                  expect + k);
        }
        close(afd);
        close(rfd);
    }

    /* ---------- pipes and sockets: offset ignored ---------- */
    t_phase("pipes and sockets");
    {
        int sv[2];
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
        static unsigned char s0[10], s1[20], s2[30], rin[60];
        t_fill_random(s0, sizeof s0);
        t_fill_random(s1, sizeof s1);
        t_fill_random(s2, sizeof s2);
        struct iovec si[3] = { { s0, 10 }, { s1, 20 }, { s2, 30 } };
        struct aiocb cb;
        vcb(&cb, sv[0], si, 3, 123456789);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev on a socket"), 60);
        t_read_all(sv[1], rin, 60);
        if (memcmp(rin, s0, 10) || memcmp(rin + 10, s1, 20) || memcmp(rin + 30, s2, 30))
            FAILF("aio_writev on a socket: wrong bytes");
        /* readv from the socket */
        t_write_all(sv[0], "socket-readv-data", 17);
        static unsigned char q0[4], q1[13];
        struct iovec qi[2] = { { q0, 4 }, { q1, 13 } };
        vcb(&cb, sv[1], qi, 2, 98765);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv on a socket"), 17);
        CHECK(memcmp(q0, "sock", 4) == 0 && memcmp(q1, "et-readv-data", 13) == 0);
        close(sv[0]);
        close(sv[1]);
        int pp[2];
        CHECK_OK(pipe(pp));
        t_write_all(pp[1], "pipe:readv!", 11);
        static unsigned char p0[5], p1[6];
        struct iovec pi[2] = { { p0, 5 }, { p1, 6 } };
        vcb(&cb, pp[0], pi, 2, 777);
        CHECK_OK(aio_readv(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_readv on a pipe"), 11);
        CHECK(memcmp(p0, "pipe:", 5) == 0 && memcmp(p1, "readv!", 6) == 0);
        struct iovec pw[2] = { { (void *)"vec", 3 }, { (void *)"tor", 3 } };
        vcb(&cb, pp[1], pw, 2, 4242);
        CHECK_OK(aio_writev(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "aio_writev on a pipe"), 6);
        char pb[6];
        t_read_all(pp[0], pb, 6);
        CHECK(memcmp(pb, "vector", 6) == 0);
        close(pp[0]);
        close(pp[1]);
    }

    /* ---------- lio_listio with LIO_READV / LIO_WRITEV ---------- */
    t_phase("lio_listio vectored entries");
    {
        static unsigned char base[8192];
        t_fill_random(base, sizeof base);
        t_pwrite_all(fd, base, sizeof base, 0);
        static unsigned char wa[100], wb2[200], ra[300], rb2[50], pr[64], pw2[64];
        t_fill_random(wa, sizeof wa);
        t_fill_random(wb2, sizeof wb2);
        t_fill_random(pw2, sizeof pw2);
        struct iovec wv[2] = { { wa, 100 }, { wb2, 200 } };
        struct iovec rv[2] = { { ra, 300 }, { rb2, 50 } };
        static struct aiocb c[6];
        vcb(&c[0], fd, wv, 2, 1000);
        c[0].aio_lio_opcode = LIO_WRITEV;
        vcb(&c[1], fd, rv, 2, 4000);
        c[1].aio_lio_opcode = LIO_READV;
        t_cb(&c[2], fd, pw2, 64, 6000);
        c[2].aio_lio_opcode = LIO_WRITE;
        t_cb(&c[3], fd, pr, 64, 7000);
        c[3].aio_lio_opcode = LIO_READ;
        t_cb(&c[4], fd, NULL, 0, 0);
        c[4].aio_lio_opcode = LIO_NOP;
        struct aiocb *l[6] = { &c[0], &c[1], NULL, &c[2], &c[3], &c[4] };
        CHECK_OK(lio_listio(LIO_WAIT, l, 6, NULL));
        CHECK_EQ(aio_error(&c[0]), 0);
        CHECK_EQ(aio_return(&c[0]), 300);
        CHECK_EQ(aio_error(&c[1]), 0);
        CHECK_EQ(aio_return(&c[1]), 350);
        CHECK_EQ(aio_return(&c[2]), 64);
        CHECK_EQ(aio_return(&c[3]), 64);
        if (memcmp(ra, base + 4000, 300) || memcmp(rb2, base + 4300, 50))
            FAILF("LIO_READV entry: wrong data");
        CHECK(memcmp(pr, base + 7000, 64) == 0);
        unsigned char chk[300];
        t_pread_all(fd, chk, 300, 1000);
        if (memcmp(chk, wa, 100) || memcmp(chk + 100, wb2, 200))
            FAILF("LIO_WRITEV entry: file content wrong");
        t_pread_all(fd, chk, 64, 6000);
        CHECK(memcmp(chk, pw2, 64) == 0);

        /* bad vectored entries: EIO, their status EINVAL, the others run */
        static struct iovec big[IOV_MAX + 1];
        for (int i = 0; i <= IOV_MAX; i++)
            big[i] = (struct iovec){ ra, 1 };
        vcb(&c[0], fd, big, IOV_MAX + 1, 0);
        c[0].aio_lio_opcode = LIO_READV;
        vcb(&c[1], fd, NULL, 2, 0);
        c[1].aio_lio_opcode = LIO_WRITEV;
        struct iovec hv[2] = { { ra, SIZE_MAX }, { ra, 2 } };
        vcb(&c[2], fd, hv, 2, 0);
        c[2].aio_lio_opcode = LIO_READV;
        vcb(&c[3], fd, rv, 2, 4000);
        c[3].aio_lio_opcode = LIO_READV;
        memset(ra, 0, sizeof ra);
        struct aiocb *l2[4] = { &c[0], &c[1], &c[2], &c[3] };
        CHECK_ERR(lio_listio(LIO_WAIT, l2, 4, NULL), EIO);
        CHECK_EQ(aio_error(&c[0]), EINVAL);
        CHECK_EQ(aio_return(&c[0]), -1);
        CHECK_EQ(aio_error(&c[1]), EINVAL);
        CHECK_EQ(aio_return(&c[1]), -1);
        CHECK_EQ(aio_error(&c[2]), EINVAL);
        CHECK_EQ(aio_return(&c[2]), -1);
        CHECK_EQ(aio_error(&c[3]), 0);
        CHECK_EQ(aio_return(&c[3]), 350);
        CHECK(memcmp(ra, base + 4000, 300) == 0);

        /* LIO_NOWAIT: the iovec arrays are copied at submission */
        int pp[2];
        CHECK_OK(pipe(pp));
        static unsigned char x0[3], x1[4], decoy[32];
        memset(decoy, 0, sizeof decoy);
        struct iovec *iv = malloc(2 * sizeof *iv);
        struct iovec *ov = malloc(2 * sizeof *ov);
        CHECK(iv && ov);
        iv[0] = (struct iovec){ x0, 3 };
        iv[1] = (struct iovec){ x1, 4 };
        static unsigned char y0[50], y1[60];
        t_fill_random(y0, sizeof y0);
        t_fill_random(y1, sizeof y1);
        ov[0] = (struct iovec){ y0, 50 };
        ov[1] = (struct iovec){ y1, 60 };
        vcb(&c[0], pp[0], iv, 2, 0);
        c[0].aio_lio_opcode = LIO_READV;
        vcb(&c[1], fd, ov, 2, 2000);
        c[1].aio_lio_opcode = LIO_WRITEV;
        struct aiocb *l3[2] = { &c[0], &c[1] };
        CHECK_OK(lio_listio(LIO_NOWAIT, l3, 2, NULL));
        iv[0] = iv[1] = ov[0] = ov[1] = (struct iovec){ decoy, 16 };
        free(iv);
        free(ov);
        t_sleep_ms(30);
        CHECK_EQ(aio_error(&c[0]), EINPROGRESS);
        t_write_all(pp[1], "1234567", 7);
        CHECK_EQ(t_wait_return(&c[0], 0, "LIO_NOWAIT LIO_READV, array freed"), 7);
        CHECK_EQ(t_wait_return(&c[1], 0, "LIO_NOWAIT LIO_WRITEV, array freed"), 110);
        if (memcmp(x0, "123", 3) || memcmp(x1, "4567", 4))
            FAILF("LIO_READV after its iovec array was freed: wrong data");
        t_pread_all(fd, chk, 110, 2000);
        if (memcmp(chk, y0, 50) || memcmp(chk + 50, y1, 60))
            FAILF("LIO_WRITEV after its iovec array was freed: wrong data");
        for (size_t i = 0; i < sizeof decoy; i++)
            if (decoy[i])
                FAILF("LIO_READV used the freed iovec array");
        close(pp[0]);
        close(pp[1]);
    }

    close(fd);
    t_phase("done");
    return T_PASS;
}
