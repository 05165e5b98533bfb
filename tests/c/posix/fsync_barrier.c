/* fsync_barrier: aio_fsync per BEHAVIOUR.md ("it starts only after every read and write
 * submitted earlier on the same descriptor has completed. Later requests are not held
 * back.").
 *  1. 200 aio_writes, aio_fsync(O_SYNC) with a SIGEV_THREAD callback, 200 more writes:
 *     inside the callback every write submitted before the fsync is complete. Same with
 *     O_DSYNC. All data checked.
 *  2. Deterministic barrier: an aio_read A of an uncached hole of the file blocks (its
 *     buffer is a userfaultfd page); aio_fsync F on the same fd stays in progress while A
 *     is; a later aio_write B on the fd completes while A still blocks (not held back); when
 *     A completes, F runs and its callback sees A complete. (Skipped without userfaultfd.)
 *  3. Bad op → EINVAL; O_RDONLY fd and directory → accepted (glibc); bad fd → EBADF; pipe, socket, /dev/null →
 *     EINVAL at submission; members other than aio_fildes/aio_sigevent are ignored. */
#include "t.h"
#include <stdatomic.h>

#define N 200
#define SZ 512

static struct aiocb before[N], after[N];
static char bdata[N][SZ], adata[N][SZ];
static volatile int fs_fired, fs_inprogress_before;
static struct aiocb *barrier_list;
static int barrier_n;

static void fs_fn(union sigval v)
{
    struct aiocb *self = v.sival_ptr;
    int k = 0;
    for (int i = 0; i < barrier_n; i++)
        if (aio_error(&barrier_list[i]) == EINPROGRESS)
            k++;
    fs_inprogress_before += k;
    if (aio_error(self) == EINPROGRESS)
        fs_inprogress_before += 1000;
    __atomic_add_fetch(&fs_fired, 1, __ATOMIC_SEQ_CST);
}

/* userfaultfd page handler: a separate thread, so that a read done in the submitting thread
 * (rtaio completes page-cache hits inline) cannot deadlock the test */
static struct t_uffd U;
static _Atomic int uf_state; /* 0 waiting, 1 worker blocked, 2 released, 3 inline */
static _Atomic int uf_release;
static pid_t submit_tid;
static void *uf_thread(void *arg)
{
    (void)arg;
    pid_t t = t_uffd_wait_fault(&U);
    if (t == submit_tid) {
        t_uffd_release(&U);
        uf_state = 3;
        return NULL;
    }
    uf_state = 1;
    while (!uf_release)
        t_sleep_ms(1);
    t_uffd_release(&U);
    uf_state = 2;
    return NULL;
}

static void round_file(int fd, int op, const char *what)
{
    for (int i = 0; i < N; i++) {
        t_fill_random(bdata[i], SZ);
        t_cb(&before[i], fd, bdata[i], SZ, (off_t)i * SZ);
        CHECK_OK(aio_write(&before[i]));
    }
    struct aiocb fs;
    t_cb(&fs, fd, NULL, 0, 0);
    fs.aio_sigevent.sigev_notify = SIGEV_THREAD;
    fs.aio_sigevent.sigev_notify_function = fs_fn;
    fs.aio_sigevent.sigev_value.sival_ptr = &fs;
    barrier_list = before;
    barrier_n = N;
    fs_fired = 0;
    fs_inprogress_before = 0;
    CHECK_OK(aio_fsync(op, &fs));
    for (int i = 0; i < N; i++) {
        t_fill_random(adata[i], SZ);
        t_cb(&after[i], fd, adata[i], SZ, (off_t)(N + i) * SZ);
        CHECK_OK(aio_write(&after[i]));
    }
    t_wait_counter(&fs_fired, 1, what);
    if (fs_inprogress_before)
        FAILF("%s: when the fsync completed, %d writes submitted before it were still in "
              "progress",
              what, fs_inprogress_before);
    CHECK_EQ(t_wait_return(&fs, 0, what), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(t_wait_return(&before[i], 0, "write before fsync"), SZ);
        CHECK_EQ(t_wait_return(&after[i], 0, "write after fsync"), SZ);
    }
    static char chk[2 * N * SZ];
    t_pread_all(fd, chk, sizeof chk, 0);
    for (int i = 0; i < N; i++) {
        CHECK(memcmp(chk + (size_t)i * SZ, bdata[i], SZ) == 0);
        CHECK(memcmp(chk + (size_t)(N + i) * SZ, adata[i], SZ) == 0);
    }
    t_sleep_ms(100);
    CHECK_EQ(fs_fired, 1);
}

int main(void)
{
    t_init("fsync_barrier");
    int fd = t_tmpfile();
    for (int r = 0; r < 3; r++) {
        round_file(fd, O_SYNC, "O_SYNC round");
        round_file(fd, O_DSYNC, "O_DSYNC round");
    }

    /* 2: deterministic barrier: an aio_read A of a never-read hole of the file (not in the
     * page cache, so it goes to a worker) into a userfaultfd page blocks in the kernel copy
     * until the page is provided */
    struct t_uffd *u = &U;
    if (t_uffd_open(u) != 0) {
        t_note("userfaultfd unavailable (%s): deterministic barrier part not run",
               strerror(errno));
    } else {
        static struct aiocb a, f, b;
        static char later[SZ], chk2[SZ];
        off_t hole = (off_t)64 << 20;
        CHECK_OK(ftruncate(fd, hole + (off_t)u->size));
        posix_fadvise(fd, hole, (off_t)u->size, POSIX_FADV_DONTNEED);
        submit_tid = t_gettid();
        pthread_t uft;
        CHECK_OK(pthread_create(&uft, NULL, uf_thread, NULL));
        t_cb(&a, fd, u->page, u->size, hole);
        CHECK_OK(aio_read(&a));
        double dl = t_now() + T_DEADLINE_S;
        while (uf_state == 0 && t_now() < dl)
            t_sleep_ms(1);
        if (uf_state == 3) {
            t_note("the read ran in the submitting thread: deterministic barrier part not run");
            pthread_join(uft, NULL);
            CHECK_EQ(t_wait_return(&a, 0, "inline read"), (ssize_t)u->size);
            goto barrier_done;
        }
        if (uf_state != 1)
            FAILF("the aio_read into the userfaultfd page never faulted");
        /* A is running and blocked in the kernel */
        t_cb(&f, fd, NULL, 0, 0);
        f.aio_sigevent.sigev_notify = SIGEV_THREAD;
        f.aio_sigevent.sigev_notify_function = fs_fn;
        f.aio_sigevent.sigev_value.sival_ptr = &f;
        barrier_list = &a;
        barrier_n = 1;
        fs_fired = 0;
        fs_inprogress_before = 0;
        CHECK_OK(aio_fsync(O_SYNC, &f));
        t_fill_random(later, SZ);
        t_cb(&b, fd, later, SZ, (off_t)(3 * N) * SZ);
        CHECK_OK(aio_write(&b));
        /* B is not held back by the fsync barrier */
        const struct aiocb *bl[1] = { &b };
        double end = t_now() + 10.0;
        while (aio_error(&b) == EINPROGRESS && t_now() < end) {
            struct timespec ts = { 0, 100000000L };
            aio_suspend(bl, 1, &ts);
        }
        int b_err = aio_error(&b);
        t_sleep_ms(200);
        int f_err = aio_error(&f);
        int a_err = aio_error(&a);
        int fired_early = fs_fired;
        /* unblock A in every case */
        uf_release = 1;
        pthread_join(uft, NULL);
        t_wait_counter(&fs_fired, 1, "fsync callback");
        CHECK_EQ(a_err, EINPROGRESS);
        if (f_err != EINPROGRESS || fired_early)
            FAILF("aio_fsync finished (status %d, callback fired %d) while an earlier aio_read "
                  "on the same fd was still in progress",
                  f_err, fired_early);
        if (b_err == EINPROGRESS)
            FAILF("aio_write submitted after an aio_fsync was held back for 10 s (the fsync "
                  "barrier must not hold back later requests)");
        if (fs_inprogress_before)
            FAILF("inside the fsync's notification, the earlier aio_read was still in progress "
                  "(aio_error == EINPROGRESS)");
        CHECK_EQ(t_wait_return(&a, 0, "blocked read"), (ssize_t)u->size);
        for (size_t k = 0; k < u->size; k++)
            if (((char *)u->page)[k] != 0)
                FAILF("read of a hole returned non-zero data");
        CHECK_EQ(t_wait_return(&f, 0, "fsync after blocked read"), 0);
        CHECK_EQ(t_wait_return(&b, 0, "later write"), SZ);
        t_pread_all(fd, chk2, SZ, (off_t)(3 * N) * SZ);
        CHECK(memcmp(chk2, later, SZ) == 0);
        t_sleep_ms(100);
        CHECK_EQ(fs_fired, 1);
    barrier_done:
        munmap(u->page, u->size);
        close(u->fd);
    }

    /* 3: errors */
    struct aiocb e;
    t_cb(&e, fd, NULL, 0, 0);
    CHECK_ERR(aio_fsync(0, &e), EINVAL);
    CHECK_ERR(aio_fsync(O_RDWR, &e), EINVAL);
    CHECK_ERR(aio_fsync(O_SYNC | O_APPEND, &e), EINVAL);
    CHECK_ERR(aio_fsync(-1, &e), EINVAL);
    NOT_GLIBC(CHECK_ERR(aio_fsync(O_SYNC, t_null()), EINVAL));
    CHECK_ERR(aio_error(&e), EINVAL); /* nothing was queued */
    int ro = open("/proc/self/exe", O_RDONLY);
    CHECK(ro >= 0);
    t_cb(&e, ro, NULL, 0, 0); /* open, but not for writing: accepted, as in glibc */
    CHECK_OK(aio_fsync(O_SYNC, &e));
    CHECK_EQ(t_wait_return(&e, 0, "aio_fsync of an O_RDONLY fd"), 0);
    CHECK_OK(aio_fsync(O_DSYNC, &e));
    CHECK_EQ(t_wait_return(&e, 0, "aio_fsync(O_DSYNC) of an O_RDONLY fd"), 0);
    close(ro);
    int dir = open(".", O_RDONLY | O_DIRECTORY); /* a directory: its entries made durable */
    CHECK(dir >= 0);
    t_cb(&e, dir, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_SYNC, &e));
    CHECK_EQ(t_wait_return(&e, 0, "aio_fsync of a directory"), 0);
    close(dir);
    t_cb(&e, -1, NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &e), EBADF);
    /* descriptors without synchronized I/O: -1/EINVAL at submission */
    int p[2];
    CHECK_OK(pipe(p));
    t_cb(&e, p[1], NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &e), EINVAL);
    CHECK_ERR(aio_fsync(O_DSYNC, &e), EINVAL);
    CHECK_ERR(aio_error(&e), EINVAL);
    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    t_cb(&e, sv[0], NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &e), EINVAL);
    int nul = open("/dev/null", O_WRONLY);
    CHECK(nul >= 0);
    t_cb(&e, nul, NULL, 0, 0);
    CHECK_ERR(aio_fsync(O_SYNC, &e), EINVAL);
    close(nul);
    close(sv[0]);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
    /* only aio_fildes and aio_sigevent are read: garbage elsewhere is ignored */
    memset(&e, 0, sizeof e);
    e.aio_fildes = fd;
    e.aio_reqprio = -7;
    e.aio_offset = -1;
    e.aio_nbytes = (size_t)-1;
    e.aio_buf = (void *)1;
    e.aio_lio_opcode = 1234;
    e.aio_sigevent.sigev_notify = SIGEV_NONE;
    CHECK_OK(aio_fsync(O_SYNC, &e));
    CHECK_EQ(t_wait_return(&e, 0, "fsync with garbage members"), 0);
    /* aio_fsync64 twin */
    t_cb(&e, fd, NULL, 0, 0);
    CHECK_OK(aio_fsync64(O_DSYNC, (struct aiocb64 *)&e));
    CHECK_EQ(t_wait_return(&e, 0, "aio_fsync64"), 0);
    close(fd);
    return T_PASS;
}
