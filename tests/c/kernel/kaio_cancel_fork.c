/* kaio_cancel_fork: aio_cancel of requests in flight in the kernel, and fork() with a kernel
 * AIO context open. O_DIRECT file of 64 MiB on a disk (not tmpfs), with a model.
 * Cancel (3 rounds each):
 *  - 64 O_DIRECT 1 MiB reads submitted by one lio_listio(LIO_NOWAIT), each aio_cancel'ed at
 *    once. File systems refuse io_cancel, so AIO_NOTCANCELED (then the read completes
 *    normally: status 0, full count, right data) or AIO_ALLDONE (aio_error already final,
 *    same checks) is expected; AIO_CANCELED is accepted only with aio_error == ECANCELED at
 *    once, aio_return -1, and the buffer untouched — also 200 ms after everything finished
 *    (a read the kernel still performs would show up there).
 *  - 64 O_DIRECT 1 MiB aio_writes, then aio_cancel(fd, NULL): each write ends 0 (file has
 *    the new data) or ECANCELED (file keeps the old data), checked by re-reading the file;
 *    AIO_ALLDONE => no ECANCELED; AIO_CANCELED => at least one.
 *  - every request (SIGEV_THREAD) is notified exactly once, with its status final.
 * Fork (3 times, the parent has done O_DIRECT AIO, 16 O_DIRECT reads in flight at the fork):
 *  - child: the in-flight aiocbs are not its requests (aio_error -1/EINVAL, or 0 if they
 *    finished before the fork; never EINPROGRESS), aio_suspend on them returns; O_DIRECT
 *    writes + fsync + lio_listio reads on the inherited fd and on a new O_DIRECT fd, data
 *    checked; the first child also forks a grandchild that does the same.
 *  - parent: the in-flight reads complete with the right data; new O_DIRECT AIO works
 *    while the child runs and after it exits. */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define MB (1u << 20)
#define NC 64            /* requests per cancel round, 1 MiB each */
#define FSZ ((size_t)NC * MB)
#define CH_BASE (4u * MB) /* per-process regions for the fork part: [k*4M, (k+1)*4M) */

static int fd;
static unsigned char *model;
static unsigned char *bufs[NC];
static struct aiocb cbs[NC];
static volatile int ncount[NC], ntotal;

static void n_fn(union sigval v)
{
    struct aiocb *cb = v.sival_ptr;
    if (aio_error(cb) == EINPROGRESS)
        __atomic_add_fetch(&ncount[cb - cbs], 1000, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ncount[cb - cbs], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ntotal, 1, __ATOMIC_SEQ_CST);
}

static void verify_range(size_t off, size_t len, const char *what)
{
    unsigned char *b = kaio_alloc(MB);
    for (size_t o = off; o < off + len; o += MB) {
        size_t n = off + len - o < MB ? off + len - o : MB;
        t_pread_all(fd, b, n, (off_t)o);
        long d = kaio_cmp(b, model + o, n);
        if (d >= 0)
            FAILF("%s: file differs from the model at byte %zu", what, o + (size_t)d);
    }
    free(b);
}

static const char *cname(int r)
{
    return r == AIO_CANCELED ? "AIO_CANCELED" : r == AIO_NOTCANCELED ? "AIO_NOTCANCELED"
           : r == AIO_ALLDONE ? "AIO_ALLDONE" : "-1";
}

static int tot_canceled, tot_notcanceled, tot_alldone;

static void arm(int i)
{
    cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
    cbs[i].aio_sigevent.sigev_notify_function = n_fn;
    cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
}

static void wait_notifications(const char *what)
{
    t_wait_counter(&ntotal, NC, what);
    t_sleep_ms(100);
    for (int i = 0; i < NC; i++)
        if (ncount[i] != 1)
            FAILF("%s: request %d: %d notifications%s, expected exactly 1", what, i,
                  ncount[i] % 1000, ncount[i] >= 1000 ? " (one while EINPROGRESS)" : "");
    CHECK_EQ(ntotal, NC);
}

/* A: NC 1 MiB O_DIRECT reads in one lio_listio(LIO_NOWAIT) list, each cancelled at once */
static void cancel_reads(int round)
{
    int res[NC], err_after[NC];
    memset((void *)ncount, 0, sizeof ncount);
    ntotal = 0;
    struct aiocb *l[NC];
    for (int i = 0; i < NC; i++) {
        memset(bufs[i], 0xEE, MB);
        t_cb(&cbs[i], fd, bufs[i], MB, (off_t)i * MB);
        cbs[i].aio_lio_opcode = LIO_READ;
        arm(i);
        l[i] = &cbs[i];
    }
    CHECK_OK(lio_listio(LIO_NOWAIT, l, NC, NULL));
    for (int i = 0; i < NC; i++) {
        res[i] = aio_cancel(fd, &cbs[i]);
        err_after[i] = aio_error(&cbs[i]);
    }
    int c = 0, nc = 0, ad = 0;
    for (int i = 0; i < NC; i++) {
        const char *r = cname(res[i]);
        int e = t_wait(&cbs[i]);
        ssize_t n = aio_return(&cbs[i]);
        switch (res[i]) {
        case AIO_CANCELED:
            c++;
            if (err_after[i] != ECANCELED || e != ECANCELED || n != -1)
                FAILF("read %d: aio_cancel = %s but aio_error right after %d, final %d, "
                      "aio_return %zd (expected ECANCELED, -1)",
                      i, r, err_after[i], e, n);
            break;
        case AIO_NOTCANCELED:
        case AIO_ALLDONE:
            if (res[i] == AIO_ALLDONE) {
                ad++;
                if (err_after[i] == EINPROGRESS)
                    FAILF("read %d: aio_cancel = AIO_ALLDONE but aio_error right after is "
                          "EINPROGRESS",
                          i);
            } else {
                nc++;
            }
            if (e != 0 || n != (ssize_t)MB)
                FAILF("read %d: aio_cancel = %s, then aio_error %d (%s), aio_return %zd: a "
                      "request that was not cancelled must complete normally",
                      i, r, e, strerror(e), n);
            long d = kaio_cmp(bufs[i], model + (size_t)i * MB, MB);
            if (d >= 0)
                FAILF("read %d (%s): wrong data at byte %ld", i, r, d);
            break;
        default:
            FAILF("read %d: aio_cancel returned %d errno %d (%s)", i, res[i], errno,
                  strerror(errno));
        }
    }
    wait_notifications("cancelled reads");
    /* a read reported cancelled must not have transferred anything — also not later */
    t_sleep_ms(200);
    for (int i = 0; i < NC; i++)
        if (res[i] == AIO_CANCELED)
            for (size_t k = 0; k < MB; k++)
                if (bufs[i][k] != 0xEE)
                    FAILF("read %d: aio_cancel = AIO_CANCELED (aio_error ECANCELED), yet data "
                          "was transferred into its buffer (byte %zu changed)",
                          i, k);
    t_note("cancel round %d, %d O_DIRECT 1 MiB reads: %d AIO_CANCELED, %d AIO_NOTCANCELED, %d "
           "AIO_ALLDONE",
           round, NC, c, nc, ad);
    tot_canceled += c;
    tot_notcanceled += nc;
    tot_alldone += ad;
}

/* B: NC 1 MiB O_DIRECT aio_writes of new data, then aio_cancel(fd, NULL) */
static void cancel_writes(int round)
{
    memset((void *)ncount, 0, sizeof ncount);
    ntotal = 0;
    for (int i = 0; i < NC; i++) {
        kaio_fill(bufs[i], MB);
        t_cb(&cbs[i], fd, bufs[i], MB, (off_t)i * MB);
        arm(i);
        CHECK_OK(aio_write(&cbs[i]));
    }
    int r = aio_cancel(fd, NULL);
    if (r != AIO_CANCELED && r != AIO_NOTCANCELED && r != AIO_ALLDONE)
        FAILF("aio_cancel(fd, NULL) = %d errno %d (%s)", r, errno, strerror(errno));
    int nce = 0, ok = 0;
    for (int i = 0; i < NC; i++) {
        int e = t_wait(&cbs[i]);
        ssize_t n = aio_return(&cbs[i]);
        if (e == ECANCELED && n == -1) {
            nce++; /* the file must keep the old data: checked below */
        } else if (e == 0 && n == (ssize_t)MB) {
            ok++;
            memcpy(model + (size_t)i * MB, bufs[i], MB);
        } else {
            FAILF("write %d after aio_cancel(fd, NULL) = %s: aio_error %d (%s), aio_return %zd",
                  i, cname(r), e, strerror(e), n);
        }
    }
    wait_notifications("writes after aio_cancel(fd, NULL)");
    if (r == AIO_ALLDONE && nce)
        FAILF("aio_cancel(fd, NULL) = AIO_ALLDONE, but %d writes ended ECANCELED", nce);
    if (r == AIO_CANCELED && nce == 0)
        FAILF("aio_cancel(fd, NULL) = AIO_CANCELED, but no write ended ECANCELED");
    t_sleep_ms(200);
    verify_range(0, FSZ, "after cancelled writes (a write reported ECANCELED must not have "
                         "changed the file)");
    t_note("cancel round %d, %d O_DIRECT 1 MiB writes, aio_cancel(fd, NULL) = %s: %d ended "
           "ECANCELED, %d completed",
           round, NC, cname(r), nce, ok);
}

/* ---------------------------------------------------------------- fork */
/* O_DIRECT round trip in [base, base + 4M) of fd d: 16 writes, lio list of 16 reads, fsync */
static void round_trip(int d, size_t base, unsigned char *m, const char *who)
{
    static struct aiocb w[16], rd[16], fs;
    static unsigned char *wb[16], *rb[16];
    struct aiocb *l[16];
    size_t reg = CH_BASE / 16;
    for (int i = 0; i < 16; i++) {
        if (!wb[i]) {
            wb[i] = kaio_alloc(reg);
            rb[i] = kaio_alloc(reg);
        }
        size_t len = KA * (1 + t_rand_below(reg / KA));
        kaio_fill(wb[i], len);
        t_cb(&w[i], d, wb[i], len, (off_t)(base + i * reg));
        CHECK_OK(aio_write(&w[i]));
    }
    t_cb(&fs, d, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_DSYNC, &fs));
    for (int i = 0; i < 16; i++) {
        ssize_t n = t_wait_return(&w[i], 0, who);
        CHECK_EQ(n, (ssize_t)w[i].aio_nbytes);
        memcpy(m + w[i].aio_offset, wb[i], (size_t)n);
    }
    CHECK_EQ(t_wait_return(&fs, 0, who), 0);
    for (int i = 0; i < 16; i++) {
        memset(rb[i], 0xEE, reg);
        t_cb(&rd[i], d, rb[i], reg, (off_t)(base + i * reg));
        rd[i].aio_lio_opcode = LIO_READ;
        l[i] = &rd[i];
    }
    if (lio_listio(LIO_WAIT, l, 16, NULL) != 0)
        FAILF("%s: lio_listio(LIO_WAIT) of 16 O_DIRECT reads: errno %d (%s)", who, errno,
              strerror(errno));
    for (int i = 0; i < 16; i++) {
        CHECK_EQ(t_wait_return(&rd[i], 0, who), (ssize_t)reg);
        long x = kaio_cmp(rb[i], m + rd[i].aio_offset, reg);
        if (x >= 0)
            FAILF("%s: O_DIRECT read %d: wrong data at byte %ld", who, i, x);
    }
}

#define NF 16
static struct aiocb fcb[NF]; /* in flight at the fork */
static unsigned char *fbuf[NF];

static int child(int k, int nested)
{
    char who[64];
    snprintf(who, sizeof who, "fork child %d%s", k, nested ? " (grandchild)" : "");
    /* the parent's requests in flight at the fork are not the child's */
    for (int i = 0; i < NF; i++) {
        errno = 0;
        int e = aio_error(&fcb[i]);
        if (e == EINPROGRESS)
            FAILF("%s: aio_error of the parent's in-flight aiocb %d is EINPROGRESS (expected "
                  "-1/EINVAL, or its final status if it finished before the fork)",
                  who, i);
        if (!(e == -1 && errno == EINVAL) && e != 0)
            FAILF("%s: aio_error of the parent's aiocb %d = %d errno %d", who, i, e, errno);
    }
    const struct aiocb *l[NF];
    for (int i = 0; i < NF; i++)
        l[i] = &fcb[i];
    struct timespec ts = { 5, 0 };
    if (aio_suspend(l, NF, &ts) != 0)
        FAILF("%s: aio_suspend on the parent's aiocbs: errno %d (%s)", who, errno,
              strerror(errno));
    /* new O_DIRECT AIO in the child, on the inherited fd and on a new one */
    size_t base = (size_t)(1 + k + (nested ? 4 : 0)) * CH_BASE;
    round_trip(fd, base, model, who);
    round_trip(fd, base, model, who);
    int d2 = kaio_open(O_DIRECT);
    unsigned char *m2 = kaio_alloc(CH_BASE);
    memset(m2, 0, CH_BASE);
    CHECK_OK(ftruncate(d2, CH_BASE)); /* a hole: reads of unwritten parts give zeros */
    round_trip(d2, 0, m2, who);
    close(d2);
    if (k == 0 && !nested) {
        /* this child now has its own context: its own child must not inherit it either */
        fflush(NULL);
        pid_t g = fork();
        CHECK(g >= 0);
        if (g == 0)
            _exit(child(k, 1));
        round_trip(fd, base, model, who); /* concurrently with the grandchild */
        int st;
        CHECK_EQ(waitpid(g, &st, 0), g);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAILF("%s: the grandchild failed (status 0x%x)", who, st);
    }
    return T_PASS;
}

static void forks(void)
{
    round_trip(fd, 0, model, "parent before fork"); /* the context exists now */
    for (int k = 0; k < 3; k++) {
        /* NF 1 MiB reads of the parent's region in flight at the fork */
        for (int i = 0; i < NF; i++) {
            memset(fbuf[i], 0xEE, MB);
            t_cb(&fcb[i], fd, fbuf[i], MB / 4, (off_t)(i * (MB / 4)));
            CHECK_OK(aio_read(&fcb[i]));
        }
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(child(k, 0));
        for (int i = 0; i < NF; i++) {
            CHECK_EQ(t_wait_return(&fcb[i], 0, "parent: read in flight at the fork"),
                     (ssize_t)(MB / 4));
            long d = kaio_cmp(fbuf[i], model + fcb[i].aio_offset, MB / 4);
            if (d >= 0)
                FAILF("parent: read in flight at fork %d: wrong data at byte %ld", k, d);
        }
        round_trip(fd, 0, model, "parent after fork"); /* concurrently with the child */
        int st;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAILF("fork child %d failed (status 0x%x)", k, st);
        round_trip(fd, 0, model, "parent after the child exited");
    }
    verify_range(0, CH_BASE, "parent's region after the forks");
    t_note("fork: 3 children (one with a grandchild) and the parent did O_DIRECT AIO after "
           "the fork, data checked; requests in flight at the fork completed in the parent");
}

int main(void)
{
    t_init("kaio_cancel_fork");
    t_note("backend %s, directory %s", kaio_backend(), kaio_dir());
    fd = kaio_open(O_DIRECT);
    model = kaio_alloc(FSZ);
    kaio_fill(model, FSZ);
    for (int i = 0; i < NC; i++) {
        bufs[i] = kaio_alloc(MB);
        memcpy(bufs[i], model + (size_t)i * MB, MB);
        t_pwrite_all(fd, bufs[i], MB, (off_t)i * MB);
    }
    for (int r = 0; r < 3; r++) {
        cancel_reads(r);
        cancel_writes(r);
    }
    t_note("cancel totals over the read rounds: %d AIO_CANCELED, %d AIO_NOTCANCELED, %d "
           "AIO_ALLDONE",
           tot_canceled, tot_notcanceled, tot_alldone);
    for (int i = 0; i < NF; i++)
        fbuf[i] = kaio_alloc(MB);
    forks();
    close(fd);
    return T_PASS;
}
