/* kaio_fallback: fault injection (RTAIO_FAULTS) — when the kernel refuses, requests fall back
 * to the thread pool silently and complete correctly.
 * Re-executes itself with RTAIO_FAULTS unset (reference), io_submit=EAGAIN (every io_submit
 * fails: each request falls back), io_setup=ENOSYS (no context: backend disabled for the
 * process), io_submit=EINVAL, and io_submit=EAGAIN / io_setup=ENOSYS with
 * RTAIO_BACKEND=kernel. In each: 3 rounds of
 *  - 32 O_DIRECT aio_writes then aio_reads (4K..256K, distinct regions), data checked,
 *    SIGEV_THREAD notifications exactly once after completion;
 *  - lio_listio LIO_WAIT and LIO_NOWAIT (SIGEV_THREAD list notification) of 8 O_DIRECT
 *    writes, 8 O_DIRECT reads and a buffered write and read, data checked;
 *  - aio_fsync(O_SYNC/O_DSYNC) after 8 writes on the O_DIRECT and on a buffered fd: the
 *    callback sees the earlier writes complete;
 *  - whole files re-read against the model;
 * then a misaligned O_DIRECT read fails as the synchronous pread does, and /proc/self/fd is
 * unchanged. */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define FSZ (8u << 20)
#define REG (256u * 1024) /* 32 regions */
#define NR 32

static int fd, bfd;
static unsigned char *model, *bmodel;
static unsigned char *bufs[NR];
static struct aiocb cbs[NR];

static void verify(const char *what)
{
    unsigned char *b = kaio_alloc(FSZ);
    t_pread_all(fd, b, FSZ, 0);
    long d = kaio_cmp(b, model, FSZ);
    if (d >= 0)
        FAILF("%s: O_DIRECT file differs from the model at byte %ld", what, d);
    t_pread_all(bfd, b, REG, 0);
    if ((d = kaio_cmp(b, bmodel, REG)) >= 0)
        FAILF("%s: buffered file differs from the model at byte %ld", what, d);
    free(b);
}

static volatile int th_count[NR], th_total;
static void th_fn(union sigval v)
{
    struct aiocb *cb = v.sival_ptr;
    if (aio_error(cb) == EINPROGRESS)
        th_count[cb - cbs] += 1000;
    __atomic_add_fetch(&th_count[cb - cbs], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&th_total, 1, __ATOMIC_SEQ_CST);
}

/* 1. NR O_DIRECT writes (one region each, random aligned size), then NR reads of them */
static void round_trip(void)
{
    size_t len[NR];
    off_t off[NR];
    int notified = 0;
    memset((void *)th_count, 0, sizeof th_count);
    th_total = 0;
    for (int i = 0; i < NR; i++) {
        len[i] = KA * (1 + t_rand_below(REG / KA));
        off[i] = (off_t)i * REG + (off_t)KA * t_rand_below((REG - len[i]) / KA + 1);
        kaio_fill(bufs[i], len[i]);
        t_cb(&cbs[i], fd, bufs[i], len[i], off[i]);
        if (i % 4 == 0) {
            cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            cbs[i].aio_sigevent.sigev_notify_function = th_fn;
            cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
            notified++;
        }
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < NR; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, "O_DIRECT aio_write"), (ssize_t)len[i]);
        memcpy(model + off[i], bufs[i], len[i]);
    }
    /* the notifications may come after the status is final: wait for them before the
     * aiocbs are reused */
    t_wait_counter(&th_total, notified, "SIGEV_THREAD notifications");
    t_sleep_ms(100);
    CHECK_EQ(th_total, notified);
    for (int i = 0; i < NR; i += 4)
        if (th_count[i] != 1)
            FAILF("write %d: notification count %d%s, expected exactly one after completion", i,
                  th_count[i] % 1000,
                  th_count[i] >= 1000 ? " (one saw aio_error == EINPROGRESS)" : "");
    for (int i = 0; i < NR; i++) {
        memset(bufs[i], 0xEE, REG);
        t_cb(&cbs[i], fd, bufs[i], len[i], off[i]);
        CHECK_OK(aio_read(&cbs[i]));
    }
    for (int i = 0; i < NR; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, "O_DIRECT aio_read"), (ssize_t)len[i]);
        long d = kaio_cmp(bufs[i], model + off[i], len[i]);
        if (d >= 0)
            FAILF("O_DIRECT aio_read %d (len %zu off %lld): wrong data at byte %ld", i, len[i],
                  (long long)off[i], d);
    }
}

/* 2. lio lists: 8 writes + 8 reads of other regions + 2 buffered entries */
static volatile int l_fired, l_inprog;
static struct aiocb *lst[NR + 2];
static int nl;
static void l_fn(union sigval v)
{
    (void)v;
    int k = 0;
    for (int i = 0; i < nl; i++)
        if (aio_error(lst[i]) == EINPROGRESS)
            k++;
    l_inprog += k;
    __atomic_add_fetch(&l_fired, 1, __ATOMIC_SEQ_CST);
}

static void lists(int mode)
{
    static struct aiocb bcb[2];
    static unsigned char bb[2][1000];
    size_t len[16];
    off_t off[16];
    nl = 0;
    for (int i = 0; i < 16; i++) {
        len[i] = KA * (1 + t_rand_below(16));
        off[i] = (off_t)(i + (mode == LIO_WAIT ? 0 : 16)) * REG + KA;
        if (i < 8)
            kaio_fill(bufs[i], len[i]);
        else
            memset(bufs[i], 0xEE, len[i]);
        t_cb(&cbs[i], fd, bufs[i], len[i], off[i]);
        cbs[i].aio_lio_opcode = i < 8 ? LIO_WRITE : LIO_READ;
        lst[nl++] = &cbs[i];
    }
    kaio_fill(bb[0], sizeof bb[0]);
    t_cb(&bcb[0], bfd, bb[0], sizeof bb[0], 777 + (mode == LIO_WAIT ? 0 : 5000));
    bcb[0].aio_lio_opcode = LIO_WRITE;
    memset(bb[1], 0xEE, sizeof bb[1]);
    t_cb(&bcb[1], bfd, bb[1], sizeof bb[1], 20000 + (mode == LIO_WAIT ? 0 : 5000));
    bcb[1].aio_lio_opcode = LIO_READ;
    lst[nl++] = &bcb[0];
    lst[nl++] = &bcb[1];
    const char *what = mode == LIO_WAIT ? "lio_listio(LIO_WAIT)" : "lio_listio(LIO_NOWAIT)";
    if (mode == LIO_WAIT) {
        if (lio_listio(LIO_WAIT, lst, nl, NULL) != 0)
            FAILF("%s: errno %d (%s)", what, errno, strerror(errno));
    } else {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = l_fn;
        l_fired = l_inprog = 0;
        CHECK_OK(lio_listio(LIO_NOWAIT, lst, nl, &sev));
        t_wait_counter(&l_fired, 1, what);
        CHECK_EQ(l_inprog, 0);
    }
    for (int i = 0; i < 16; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, what), (ssize_t)len[i]);
        if (i < 8) {
            memcpy(model + off[i], bufs[i], len[i]);
        } else {
            long d = kaio_cmp(bufs[i], model + off[i], len[i]);
            if (d >= 0)
                FAILF("%s: O_DIRECT read entry %d: wrong data at byte %ld", what, i, d);
        }
    }
    CHECK_EQ(t_wait_return(&bcb[0], 0, what), (ssize_t)sizeof bb[0]);
    memcpy(bmodel + bcb[0].aio_offset, bb[0], sizeof bb[0]);
    CHECK_EQ(t_wait_return(&bcb[1], 0, what), (ssize_t)sizeof bb[1]);
    if (memcmp(bb[1], bmodel + bcb[1].aio_offset, sizeof bb[1]) != 0)
        FAILF("%s: buffered read entry: wrong data", what);
    if (mode == LIO_NOWAIT) {
        t_sleep_ms(100);
        CHECK_EQ(l_fired, 1);
    }
}

/* 3. aio_fsync after writes, on the O_DIRECT and the buffered fd: barrier seen in the
 * callback */
static volatile int f_fired, f_bad;
static void f_fn(union sigval v)
{
    int k = 0;
    for (int i = 0; i < 8; i++)
        if (aio_error(&cbs[i]) == EINPROGRESS)
            k++;
    if (aio_error(v.sival_ptr) == EINPROGRESS)
        k += 100;
    f_bad += k;
    __atomic_add_fetch(&f_fired, 1, __ATOMIC_SEQ_CST);
}

static void fsyncs(int dfd, int op, const char *what)
{
    size_t len = 3 * KA;
    for (int i = 0; i < 8; i++) {
        kaio_fill(bufs[i], len);
        t_cb(&cbs[i], dfd, bufs[i], len, (off_t)i * (dfd == fd ? REG : 4 * KA));
        CHECK_OK(aio_write(&cbs[i]));
    }
    struct aiocb fs;
    t_cb(&fs, dfd, NULL, 0, 0);
    fs.aio_sigevent.sigev_notify = SIGEV_THREAD;
    fs.aio_sigevent.sigev_notify_function = f_fn;
    fs.aio_sigevent.sigev_value.sival_ptr = &fs;
    f_fired = f_bad = 0;
    CHECK_OK(aio_fsync(op, &fs));
    t_wait_counter(&f_fired, 1, what);
    if (f_bad)
        FAILF("%s: the fsync's callback saw %d earlier writes in progress%s", what, f_bad % 100,
              f_bad >= 100 ? " and its own status EINPROGRESS" : "");
    CHECK_EQ(t_wait_return(&fs, 0, what), 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, what), (ssize_t)len);
        memcpy((dfd == fd ? model : bmodel) + cbs[i].aio_offset, bufs[i], len);
    }
}

static int body(void)
{
    const char *faults = getenv("RTAIO_FAULTS");
    t_note("RTAIO_FAULTS=%s, backend %s, directory %s", faults ? faults : "(unset)",
           kaio_backend(), kaio_dir());
    fd = kaio_open(O_DIRECT);
    bfd = kaio_open(0);
    model = kaio_alloc(FSZ);
    bmodel = kaio_alloc(REG);
    kaio_fill(model, FSZ);
    kaio_fill(bmodel, REG);
    t_pwrite_all(fd, model, FSZ, 0);
    t_pwrite_all(bfd, bmodel, REG, 0);
    for (int i = 0; i < NR; i++)
        bufs[i] = kaio_alloc(REG);
    static char fds_before[16384];
    t_fd_table(fds_before, sizeof fds_before);
    for (int r = 0; r < 3; r++) {
        round_trip();
        verify("O_DIRECT round trip");
        lists(LIO_WAIT);
        lists(LIO_NOWAIT);
        verify("lio_listio");
        fsyncs(fd, O_SYNC, "aio_fsync(O_SYNC) on the O_DIRECT fd");
        fsyncs(fd, O_DSYNC, "aio_fsync(O_DSYNC) on the O_DIRECT fd");
        fsyncs(bfd, O_SYNC, "aio_fsync(O_SYNC) on the buffered fd");
        fsyncs(bfd, O_DSYNC, "aio_fsync(O_DSYNC) on the buffered fd");
        verify("aio_fsync");
    }
    /* a misaligned O_DIRECT read still fails as the pread does */
    unsigned char *m = kaio_alloc(3 * KA);
    errno = 0;
    ssize_t sr = pread(fd, m + 1, KA, 0);
    int se = sr < 0 ? errno : 0;
    struct aiocb mc;
    t_cb(&mc, fd, m + 1, KA, 0);
    CHECK_OK(aio_read(&mc));
    int ae = t_wait(&mc);
    ssize_t ar = aio_return(&mc);
    if (ae != se || ar != sr)
        FAILF("misaligned O_DIRECT read: aio_error %d aio_return %zd, pread: %zd errno %d", ae,
              ar, sr, se);
    free(m);
    kaio_check_fds(fds_before, "AIO under fault injection");
    t_note("O_DIRECT round trips, lio lists, fsyncs: all data checked");
    return T_PASS;
}

int main(int argc, char **argv)
{
    t_init("kaio_fallback");
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return body();
    close(kaio_open(O_DIRECT)); /* skip here (77) when there is no O_DIRECT directory */
    static const struct {
        const char *faults, *backend;
    } runs[] = {
        { NULL, NULL }, /* no fault: the reference */
        { "io_submit=EAGAIN", NULL },
        { "io_setup=ENOSYS", NULL },
        { "io_submit=EINVAL", NULL },
        { "io_submit=EAGAIN", "kernel" },
        { "io_setup=ENOSYS", "kernel" },
    };
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t_rand());
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            if (runs[k].faults)
                setenv("RTAIO_FAULTS", runs[k].faults, 1);
            else
                unsetenv("RTAIO_FAULTS");
            if (runs[k].backend)
                setenv("RTAIO_BACKEND", runs[k].backend, 1);
            setenv("RTAIO_TEST_SEED", seed, 1);
            execl("/proc/self/exe", argv[0], "--child", (char *)NULL);
            _exit(126);
        }
        int st;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAILF("with RTAIO_FAULTS=%s RTAIO_BACKEND=%s: the test %s %d",
                  runs[k].faults ? runs[k].faults : "(unset)",
                  runs[k].backend ? runs[k].backend : kaio_backend(),
                  WIFEXITED(st) ? "exited with" : "was killed by signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    return T_PASS;
}
