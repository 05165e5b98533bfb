/* kaio_direct: the kernel-AIO backend (Linux native AIO for O_DIRECT descriptors) through
 * the ordinary POSIX AIO interface. An unlinked O_DIRECT file on a disk file system (not
 * tmpfs; $RTAIO_TEST_DIR or the build directory), 64 MiB, with an in-memory model:
 *  1. 384 random aligned requests (reads and writes, 4 KiB..1 MiB, posix_memalign buffers,
 *     random 4 KiB-aligned offsets), 64 in flight on ONE fd at all times (each of the 64
 *     slots owns one MiB, so requests in flight never overlap); every read checked byte for
 *     byte against the model (and nothing written past its length); whole file re-read.
 *  2. aio_fsync(O_SYNC) and aio_fsync(O_DSYNC) after 32 O_DIRECT writes, 32 more writes
 *     after it: the fsync's SIGEV_THREAD callback sees every earlier write complete and
 *     its own status final (the per-fd barrier); data checked.
 *  3. 96 O_DIRECT reads/writes and 2 fsyncs, alternately SIGEV_SIGNAL (SA_SIGINFO handler)
 *     and SIGEV_THREAD: each notified exactly once, with aio_error already final.
 *  4. /proc/self/fd is identical before and after (the backend opens no descriptor).
 * Run in any RTAIO_BACKEND mode; exit 77 when the file system refuses O_DIRECT. */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define SLOTS 64                 /* requests in flight on one fd */
#define SLOT_SZ (1u << 20)       /* each slot owns one MiB of the file: no overlap */
#define FILE_SZ ((size_t)SLOTS * SLOT_SZ)
#define OPS 384                  /* random requests in the round-trip phase */

static unsigned char *model;     /* what the file must contain */
static int fd;

static void verify_file(const char *what)
{
    unsigned char *b = kaio_alloc(SLOT_SZ);
    for (size_t off = 0; off < FILE_SZ; off += SLOT_SZ) {
        t_pread_all(fd, b, SLOT_SZ, (off_t)off);
        long d = kaio_cmp(b, model + off, SLOT_SZ);
        if (d >= 0)
            FAILF("%s: file content differs from the model at byte %zu", what, off + (size_t)d);
    }
    free(b);
}

/* ---------------------------------------------------------------- 1. round trips */
struct slot {
    struct aiocb cb;
    unsigned char *buf;
    int write;
    size_t len;
    off_t off;
};
static struct slot slots[SLOTS];

static size_t pick_len(void)
{
    if (t_rand() & 1)
        return (size_t)KA << t_rand_below(9); /* 4K, 8K, ... 1M */
    return (size_t)KA * (1 + t_rand_below(SLOT_SZ / KA)); /* any multiple of 4K up to 1M */
}

static void slot_submit(int i)
{
    struct slot *s = &slots[i];
    s->len = pick_len();
    s->off = (off_t)i * SLOT_SZ + (off_t)KA * (off_t)t_rand_below((SLOT_SZ - s->len) / KA + 1);
    s->write = (int)(t_rand() & 1);
    if (s->write)
        kaio_fill(s->buf, s->len);
    else
        memset(s->buf, 0xEE, SLOT_SZ);
    t_cb(&s->cb, fd, s->buf, s->len, s->off);
    int r = s->write ? aio_write(&s->cb) : aio_read(&s->cb);
    if (r != 0)
        FAILF("slot %d: aio_%s(len %zu off %lld) = %d errno %d (%s)", i,
              s->write ? "write" : "read", s->len, (long long)s->off, r, errno,
              strerror(errno));
}

static void slot_complete(int i, int err)
{
    struct slot *s = &slots[i];
    const char *op = s->write ? "write" : "read";
    ssize_t r = aio_return(&s->cb);
    if (err != 0 || r != (ssize_t)s->len)
        FAILF("slot %d: O_DIRECT %s len %zu off %lld: aio_error %d (%s), aio_return %zd", i, op,
              s->len, (long long)s->off, err, strerror(err), r);
    if (s->write) {
        memcpy(model + s->off, s->buf, s->len);
    } else {
        long d = kaio_cmp(s->buf, model + s->off, s->len);
        if (d >= 0)
            FAILF("slot %d: O_DIRECT read len %zu off %lld: wrong data at byte %ld", i, s->len,
                  (long long)s->off, d);
        for (size_t k = s->len; k < SLOT_SZ; k++)
            if (s->buf[k] != 0xEE)
                FAILF("slot %d: read of %zu bytes wrote beyond its length (byte %zu)", i,
                      s->len, k);
    }
}

static void round_trips(void)
{
    const struct aiocb *list[SLOTS];
    int submitted = 0, completed = 0, active[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        slots[i].buf = kaio_alloc(SLOT_SZ);
        slot_submit(i);
        list[i] = &slots[i].cb;
        active[i] = 1;
        submitted++;
    }
    double last = t_now();
    while (completed < submitted) {
        struct timespec ts = { 1, 0 };
        int r = aio_suspend(list, SLOTS, &ts);
        if (r != 0 && errno != EAGAIN && errno != EINTR)
            FAILF("aio_suspend: errno %d (%s)", errno, strerror(errno));
        int progress = 0;
        for (int i = 0; i < SLOTS; i++) {
            if (!active[i])
                continue;
            int e = aio_error(&slots[i].cb);
            if (e == EINPROGRESS)
                continue;
            if (e < 0)
                FAILF("slot %d: aio_error = -1 errno %d on a submitted request", i, errno);
            slot_complete(i, e);
            completed++;
            progress = 1;
            if (submitted < OPS) {
                slot_submit(i);
                submitted++;
            } else {
                active[i] = 0;
                list[i] = NULL;
            }
        }
        if (progress)
            last = t_now();
        else if (t_now() - last > T_DEADLINE_S)
            FAILF("no request of %d in flight completed for %.0f s", submitted - completed,
                  T_DEADLINE_S);
    }
    verify_file("after the round trips");
    for (int i = 0; i < SLOTS; i++)
        free(slots[i].buf);
    t_note("round trips: %d O_DIRECT requests of 4K..1M, %d in flight, data checked", OPS,
           SLOTS);
}

/* ---------------------------------------------------------------- 2. fsync barrier */
#define NB 32
#define BSZ (64u * 1024)
static struct aiocb before[NB], after[NB];
static unsigned char *bbuf[NB], *abuf[NB];
static volatile int fs_fired, fs_bad;

static void fs_fn(union sigval v)
{
    struct aiocb *self = v.sival_ptr;
    int k = 0;
    for (int i = 0; i < NB; i++)
        if (aio_error(&before[i]) == EINPROGRESS)
            k++;
    if (aio_error(self) == EINPROGRESS)
        k += 1000;
    fs_bad += k;
    __atomic_add_fetch(&fs_fired, 1, __ATOMIC_SEQ_CST);
}

static void fsync_round(int op, const char *what)
{
    /* before[i] at slot i (first 64K), after[i] at slot NB+i: distinct regions */
    for (int i = 0; i < NB; i++) {
        kaio_fill(bbuf[i], BSZ);
        t_cb(&before[i], fd, bbuf[i], BSZ, (off_t)i * SLOT_SZ + (off_t)KA * t_rand_below(8));
        CHECK_OK(aio_write(&before[i]));
    }
    struct aiocb fs;
    t_cb(&fs, fd, NULL, 0, 0);
    fs.aio_sigevent.sigev_notify = SIGEV_THREAD;
    fs.aio_sigevent.sigev_notify_function = fs_fn;
    fs.aio_sigevent.sigev_value.sival_ptr = &fs;
    fs_fired = 0;
    fs_bad = 0;
    CHECK_OK(aio_fsync(op, &fs));
    for (int i = 0; i < NB; i++) {
        kaio_fill(abuf[i], BSZ);
        t_cb(&after[i], fd, abuf[i], BSZ, (off_t)(NB + i) * SLOT_SZ);
        CHECK_OK(aio_write(&after[i]));
    }
    t_wait_counter(&fs_fired, 1, what);
    if (fs_bad)
        FAILF("%s: inside the fsync's SIGEV_THREAD callback, %d earlier writes were still in "
              "progress%s",
              what, fs_bad % 1000, fs_bad >= 1000 ? " and the fsync itself was EINPROGRESS" : "");
    CHECK_EQ(t_wait_return(&fs, 0, what), 0);
    for (int i = 0; i < NB; i++) {
        CHECK_EQ(t_wait_return(&before[i], 0, "write before the fsync"), BSZ);
        memcpy(model + before[i].aio_offset, bbuf[i], BSZ);
    }
    for (int i = 0; i < NB; i++) {
        CHECK_EQ(t_wait_return(&after[i], 0, "write after the fsync"), BSZ);
        memcpy(model + after[i].aio_offset, abuf[i], BSZ);
    }
    t_sleep_ms(100);
    CHECK_EQ(fs_fired, 1);
    verify_file(what);
}

/* ---------------------------------------------------------------- 3. notifications */
#define NN 96
#define NSZ (16u * 1024)
static struct aiocb ncb[NN + 2]; /* NN reads/writes, then 2 fsyncs */
static unsigned char *nbuf[NN];
static volatile int ncount[NN + 2], ntotal, n_inprogress, n_badptr, n_badcode;
static int nsig;

static void n_record(struct aiocb *cb)
{
    if (cb < &ncb[0] || cb >= &ncb[NN + 2]) {
        __atomic_add_fetch(&n_badptr, 1, __ATOMIC_SEQ_CST);
        return;
    }
    if (aio_error(cb) == EINPROGRESS)
        __atomic_add_fetch(&n_inprogress, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ncount[cb - ncb], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ntotal, 1, __ATOMIC_SEQ_CST);
}

static void n_handler(int s, siginfo_t *si, void *uc)
{
    (void)s;
    (void)uc;
    int saved = errno;
    if (si->si_code != SI_ASYNCIO)
        n_badcode = si->si_code ? si->si_code : -1000;
    n_record(si->si_value.sival_ptr);
    errno = saved;
}

static void n_thread(union sigval v)
{
    n_record(v.sival_ptr);
}

static void n_sigev(struct aiocb *cb, int i)
{
    if (i % 2 == 0) {
        cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cb->aio_sigevent.sigev_signo = nsig;
    } else {
        cb->aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb->aio_sigevent.sigev_notify_function = n_thread;
        cb->aio_sigevent.sigev_notify_attributes = NULL;
    }
    cb->aio_sigevent.sigev_value.sival_ptr = cb;
}

static void notifications(void)
{
    nsig = SIGRTMIN + 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = n_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(nsig, &sa, NULL));
    /* first half writes, second half reads of other blocks: 16K requests, block i at
     * slot i/2, offset (i%2)*NSZ*4 — all distinct */
    for (int i = 0; i < NN; i++) {
        nbuf[i] = kaio_alloc(NSZ);
        off_t off = (off_t)(i / 2) * SLOT_SZ + (off_t)(i % 2) * NSZ * 4 + (off_t)NSZ * 16;
        t_cb(&ncb[i], fd, nbuf[i], NSZ, off);
        n_sigev(&ncb[i], i);
        if (i < NN / 2) {
            kaio_fill(nbuf[i], NSZ);
            CHECK_OK(aio_write(&ncb[i]));
        } else {
            memset(nbuf[i], 0xEE, NSZ);
            CHECK_OK(aio_read(&ncb[i]));
        }
    }
    for (int k = 0; k < 2; k++) {
        t_cb(&ncb[NN + k], fd, NULL, 0, 0);
        n_sigev(&ncb[NN + k], k);
        CHECK_OK(aio_fsync(k ? O_DSYNC : O_SYNC, &ncb[NN + k]));
    }
    t_wait_counter(&ntotal, NN + 2, "SIGEV_SIGNAL/SIGEV_THREAD notifications");
    for (int i = 0; i < NN; i++) {
        CHECK_EQ(t_wait_return(&ncb[i], 0, i < NN / 2 ? "notified write" : "notified read"),
                 NSZ);
        if (i < NN / 2) {
            memcpy(model + ncb[i].aio_offset, nbuf[i], NSZ);
        } else {
            long d = kaio_cmp(nbuf[i], model + ncb[i].aio_offset, NSZ);
            if (d >= 0)
                FAILF("notified read %d: wrong data at byte %ld", i, d);
        }
    }
    CHECK_EQ(t_wait_return(&ncb[NN], 0, "notified fsync(O_SYNC)"), 0);
    CHECK_EQ(t_wait_return(&ncb[NN + 1], 0, "notified fsync(O_DSYNC)"), 0);
    t_sleep_ms(300); /* duplicates would show up now */
    for (int i = 0; i < NN + 2; i++)
        if (ncount[i] != 1)
            FAILF("request %d (%s, %s): %d notifications, expected exactly 1", i,
                  i >= NN ? "fsync" : i < NN / 2 ? "write" : "read",
                  i % 2 ? "SIGEV_THREAD" : "SIGEV_SIGNAL", ncount[i]);
    CHECK_EQ(ntotal, NN + 2);
    if (n_inprogress)
        FAILF("%d notifications arrived while aio_error was still EINPROGRESS", n_inprogress);
    CHECK_EQ(n_badptr, 0);
    CHECK_EQ(n_badcode, 0);
    for (int i = 0; i < NN; i++)
        free(nbuf[i]);
    verify_file("after the notification phase");
}

int main(void)
{
    t_init("kaio_direct");
    t_note("backend %s, directory %s", kaio_backend(), kaio_dir());
    fd = kaio_open(O_DIRECT);
    model = malloc(FILE_SZ);
    CHECK(model != NULL);
    kaio_fill(model, FILE_SZ);
    for (size_t off = 0; off < FILE_SZ; off += SLOT_SZ) {
        unsigned char *b = kaio_alloc(SLOT_SZ);
        memcpy(b, model + off, SLOT_SZ);
        t_pwrite_all(fd, b, SLOT_SZ, (off_t)off);
        free(b);
    }
    static char fds_before[16384];
    t_fd_table(fds_before, sizeof fds_before);

    round_trips();

    for (int i = 0; i < NB; i++) {
        bbuf[i] = kaio_alloc(BSZ);
        abuf[i] = kaio_alloc(BSZ);
    }
    for (int r = 0; r < 2; r++) {
        fsync_round(O_SYNC, "aio_fsync(O_SYNC) barrier");
        fsync_round(O_DSYNC, "aio_fsync(O_DSYNC) barrier");
    }
    t_note("aio_fsync barrier: O_SYNC and O_DSYNC, callbacks saw every earlier write done");

    notifications();
    t_note("notifications: %d SIGEV_SIGNAL/SIGEV_THREAD, each exactly once, status final",
           NN + 2);

    kaio_check_fds(fds_before, "O_DIRECT AIO");
    close(fd);
    return T_PASS;
}
