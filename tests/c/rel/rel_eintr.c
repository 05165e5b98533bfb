/* rel_eintr: signals must not leak EINTR into requests. BEHAVIOUR.md "I/O workers block
 * every signal" and sys/mod.rs "Blocking I/O calls retry on EINTR"; aio_suspend/lio_listio
 * "A signal handler ran → -1/EINTR ... the requests continue".
 *
 * A SIGUSR1 handler is installed WITHOUT SA_RESTART. Many requests block on the pool:
 * reads from empty pipes, FIFOs and stream sockets, 64 KiB writes into full pipes, and (if
 * userfaultfd works) a regular-file read into a userfaultfd page. Meanwhile a bomber thread
 * sends SIGUSR1 thousands of times, with kill() to the process and tgkill() to every thread
 * in /proc/self/task; a churn thread keeps buffered file writes/reads going; a thread sits
 * in lio_listio(LIO_WAIT) (must return -1/EINTR, its entries continue); a thread sits in
 * aio_suspend(no timeout) (returns -1/EINTR, never 0 while all its entries are in
 * progress). The handler itself calls aio_error (async-signal-safe) on blocked requests:
 * never EINTR. Then the I/O is released while the bombing continues: no request finishes
 * with EINTR or a short count; every byte is right. */
#include "t.h"

#define NP 12 /* pipe reads */
#define NF 6  /* FIFO reads */
#define NS 4  /* socket reads */
#define NW 6  /* writes into full pipes */
#define RLEN 100
#define WLEN 65536

static _Atomic int stop_bomb, stop_churn, in_release;
static _Atomic long handled, sent, handler_bad;
static struct aiocb rcb[NP + NF + NS];
static int rfd_w[NP + NF + NS]; /* where to write to complete read i */
static char rbuf[NP + NF + NS][RLEN];
static char rdata[NP + NF + NS][RLEN];
static struct aiocb wcb[NW];
static int wfd_r[NW]; /* the reading end of full pipe i */
static unsigned char wdata[NW][WLEN];
static size_t wfill[NW];

static void on_usr1(int s)
{
    (void)s;
    int saved = errno;
    __atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
    if (!in_release) {
        unsigned k = (unsigned)handled % (NP + NF + NS);
        int e = aio_error(&rcb[k]);
        if (e != EINPROGRESS)
            handler_bad = 1000 + e;
        e = aio_error(&wcb[k % NW]);
        if (e != EINPROGRESS)
            handler_bad = 2000 + e;
    }
    errno = saved;
}

/* t_sleep_ms restarts a relative nanosleep after each EINTR, which under a signal storm
 * hardly advances: sleep until an absolute deadline instead. */
static void sleep_abs_ms(long ms)
{
    struct timespec d;
    clock_gettime(CLOCK_MONOTONIC, &d);
    d.tv_sec += ms / 1000;
    d.tv_nsec += (ms % 1000) * 1000000L;
    if (d.tv_nsec >= 1000000000L) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR) {
    }
}

static void *bomber(void *a)
{
    (void)a;
    pid_t pid = getpid();
    pid_t tids[512];
    int nt = 0;
    long iter = 0;
    while (!stop_bomb) {
        if (iter % 8 == 0) {
            nt = 0;
            DIR *d = opendir("/proc/self/task");
            if (d) {
                struct dirent *e;
                while ((e = readdir(d)) != NULL && nt < 512)
                    if (e->d_name[0] != '.')
                        tids[nt++] = (pid_t)atoi(e->d_name);
                closedir(d);
            }
        }
        kill(pid, SIGUSR1);
        sent++;
        for (int i = 0; i < nt; i++)
            if (syscall(SYS_tgkill, pid, tids[i], SIGUSR1) == 0)
                sent++;
        iter++;
        /* a storm, but one that leaves the interrupted threads some time to run */
        struct timespec pause = { 0, 20000 };
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* buffered file writes and reads, completing while signals fly */
static _Atomic long churn_rounds;
static void *churner(void *a)
{
    int fd = (int)(long)a;
    static unsigned char wb[8][4096], rb[8][4096];
    struct aiocb w[8], r[8];
    unsigned seed = 12345;
    while (!stop_churn) {
        for (int i = 0; i < 8; i++) {
            for (int k = 0; k < 4096; k++)
                wb[i][k] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
            t_cb(&w[i], fd, wb[i], 4096, (off_t)i * 4096);
            CHECK_OK(aio_write(&w[i]));
        }
        for (int i = 0; i < 8; i++) {
            int e = t_wait(&w[i]);
            if (e != 0)
                FAILF("churn write: status %d (%s)", e, strerror(e));
            CHECK_EQ(aio_return(&w[i]), 4096);
            t_cb(&r[i], fd, rb[i], 4096, (off_t)i * 4096);
            CHECK_OK(aio_read(&r[i]));
        }
        for (int i = 0; i < 8; i++) {
            int e = t_wait(&r[i]);
            if (e != 0)
                FAILF("churn read: status %d (%s)", e, strerror(e));
            CHECK_EQ(aio_return(&r[i]), 4096);
            if (memcmp(rb[i], wb[i], 4096) != 0)
                FAILF("churn read %d: wrong data", i);
        }
        churn_rounds++;
    }
    return NULL;
}

/* lio_listio(LIO_WAIT) interrupted by the handler */
static struct aiocb lcb[2];
static char lbuf[2][8];
static int lpipe[2][2];
static _Atomic int lio_ret, lio_errno, lio_done;
static void *lio_thread(void *a)
{
    (void)a;
    struct aiocb *l[2] = { &lcb[0], &lcb[1] };
    errno = 0;
    lio_ret = lio_listio(LIO_WAIT, l, 2, NULL);
    lio_errno = errno;
    __atomic_store_n(&lio_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* aio_suspend without timeout, interrupted again and again */
static _Atomic long susp_eintr;
static _Atomic int susp_bad;
static void *suspend_thread(void *a)
{
    (void)a;
    const struct aiocb *l[3] = { &rcb[0], &rcb[NP], &wcb[0] };
    while (!in_release) {
        errno = 0;
        int r = aio_suspend(l, 3, NULL);
        if (r == -1 && errno == EINTR) {
            susp_eintr++;
            continue;
        }
        if (r == 0) {
            if (!in_release && aio_error(l[0]) == EINPROGRESS &&
                aio_error(l[1]) == EINPROGRESS && aio_error(l[2]) == EINPROGRESS)
                susp_bad = 1; /* returned 0 with nothing complete */
            break;
        }
        susp_bad = 100 + errno;
        break;
    }
    return NULL;
}

static void check_final(struct aiocb *cb, ssize_t want, const char *what, int i)
{
    int e = t_wait(cb);
    if (e == EINTR)
        FAILF("%s %d completed with EINTR: a signal leaked into the request", what, i);
    if (e != 0)
        FAILF("%s %d completed with status %d (%s)", what, i, e, strerror(e));
    ssize_t r = aio_return(cb);
    if (r != want)
        FAILF("%s %d: aio_return %zd, expected %zd (interrupted part-way?)", what, i, r, want);
}

int main(void)
{
    t_init("rel_eintr");
    alarm(50);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = 0; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));

    int nr = NP + NF + NS;
    const char *tmp = getenv("TMPDIR");
    for (int i = 0; i < nr; i++) {
        int rfd, wfd;
        if (i < NP) {
            int p[2];
            CHECK_OK(pipe(p));
            rfd = p[0];
            wfd = p[1];
        } else if (i < NP + NF) {
            char path[4096];
            snprintf(path, sizeof path, "%s/rel_eintr-fifo-%d-%d", tmp && *tmp ? tmp : "/tmp",
                     (int)getpid(), i);
            CHECK_OK(mkfifo(path, 0600));
            rfd = open(path, O_RDONLY | O_NONBLOCK);
            CHECK(rfd >= 0);
            wfd = open(path, O_WRONLY);
            CHECK(wfd >= 0);
            CHECK_OK(fcntl(rfd, F_SETFL, O_RDONLY));
            unlink(path);
        } else {
            int sv[2];
            CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
            rfd = sv[0];
            wfd = sv[1];
        }
        rfd_w[i] = wfd;
        for (int k = 0; k < RLEN; k++)
            rdata[i][k] = (char)(i * 7 + k);
        t_cb(&rcb[i], rfd, rbuf[i], RLEN, 0);
        CHECK_OK(aio_read(&rcb[i]));
    }
    for (int i = 0; i < NW; i++) {
        int p[2];
        CHECK_OK(pipe(p));
        CHECK_OK(fcntl(p[1], F_SETFL, O_NONBLOCK));
        static char f[4096];
        memset(f, 'F', sizeof f);
        for (;;) {
            ssize_t r = write(p[1], f, sizeof f);
            if (r < 0) {
                CHECK(errno == EAGAIN);
                /* a few more single bytes may fit into a partly filled page */
                while (write(p[1], f, 1) == 1)
                    wfill[i]++;
                break;
            }
            wfill[i] += (size_t)r;
        }
        CHECK_OK(fcntl(p[1], F_SETFL, O_WRONLY));
        wfd_r[i] = p[0];
        for (int k = 0; k < WLEN; k++)
            wdata[i][k] = (unsigned char)(k * 13 + i);
        t_cb(&wcb[i], p[1], wdata[i], WLEN, 0);
        CHECK_OK(aio_write(&wcb[i]));
    }
    /* a regular-file read blocked in the kernel (userfaultfd page) */
    struct t_uffd u;
    memset(&u, 0, sizeof u);
    int have_uffd = t_uffd_open(&u) == 0;
    int ffd = t_tmpfile();
    static char fdata[4096];
    for (int k = 0; k < 4096; k++)
        fdata[k] = (char)(k * 5 + 1);
    t_pwrite_all(ffd, fdata, sizeof fdata, 0);
    struct aiocb ucb;
    if (have_uffd) {
        t_cb(&ucb, ffd, u.page, u.size < 4096 ? u.size : 4096, 0);
        CHECK_OK(aio_read(&ucb));
        t_uffd_wait_fault(&u);
    } else {
        t_note("userfaultfd unavailable: no blocked regular-file read");
    }
    /* lio_listio entries: two more pipe reads */
    for (int i = 0; i < 2; i++) {
        CHECK_OK(pipe(lpipe[i]));
        t_cb(&lcb[i], lpipe[i][0], lbuf[i], 4, 0);
        lcb[i].aio_lio_opcode = LIO_READ;
    }
    for (int i = 0; i < nr; i++)
        t_wait_blocked_read(rcb[i].aio_fildes);

    int cfd = t_tmpfile();
    pthread_t tb, tc, tl, ts;
    CHECK_OK(pthread_create(&tl, NULL, lio_thread, NULL));
    CHECK_OK(pthread_create(&ts, NULL, suspend_thread, NULL));
    sleep_abs_ms(50);
    CHECK_OK(pthread_create(&tb, NULL, bomber, NULL));
    CHECK_OK(pthread_create(&tc, NULL, churner, (void *)(long)cfd));

    sleep_abs_ms(1500); /* bombard the blocked requests */
    if (handler_bad)
        FAILF("inside the signal handler aio_error of a blocked request returned %ld",
              handler_bad - (handler_bad >= 2000 ? 2000 : 1000));
    for (int i = 0; i < nr; i++)
        CHECK_EQ(aio_error(&rcb[i]), EINPROGRESS);
    for (int i = 0; i < NW; i++)
        CHECK_EQ(aio_error(&wcb[i]), EINPROGRESS);
    t_wait_atomic(&lio_done, 1, "lio_listio(LIO_WAIT) interrupted by a handler");
    if (lio_ret != -1 || lio_errno != EINTR)
        FAILF("lio_listio(LIO_WAIT) under signals (handler without SA_RESTART) returned %d "
              "errno %d (%s), expected -1/EINTR",
              lio_ret, lio_errno, strerror(lio_errno));
    CHECK_EQ(aio_error(&lcb[0]), EINPROGRESS);
    CHECK_EQ(aio_error(&lcb[1]), EINPROGRESS);

    /* release everything while the bombing goes on */
    in_release = 1;
    for (int i = 0; i < nr; i++)
        t_write_all(rfd_w[i], rdata[i], RLEN);
    for (int i = 0; i < 2; i++)
        t_write_all(lpipe[i][1], "LIO!", 4);
    static unsigned char drained[WLEN + 70000];
    for (int i = 0; i < NW; i++) {
        size_t want = wfill[i] + WLEN;
        CHECK(want <= sizeof drained);
        t_read_all(wfd_r[i], drained, want);
        for (size_t k = 0; k < wfill[i]; k++)
            if (drained[k] != 'F')
                FAILF("full pipe %d: byte %zu of the fill changed", i, k);
        if (memcmp(drained + wfill[i], wdata[i], WLEN) != 0)
            FAILF("full pipe %d: the aio_write data arrived wrong", i);
    }
    if (have_uffd)
        t_uffd_release(&u);

    for (int i = 0; i < nr; i++) {
        check_final(&rcb[i], RLEN, i < NP ? "pipe read" : i < NP + NF ? "FIFO read" : "socket read",
                    i);
        if (memcmp(rbuf[i], rdata[i], RLEN) != 0)
            FAILF("read %d: wrong data", i);
    }
    for (int i = 0; i < NW; i++)
        check_final(&wcb[i], WLEN, "full-pipe write", i);
    for (int i = 0; i < 2; i++) {
        check_final(&lcb[i], 4, "lio_listio entry", i);
        CHECK(memcmp(lbuf[i], "LIO!", 4) == 0);
    }
    if (have_uffd) {
        check_final(&ucb, (ssize_t)(u.size < 4096 ? u.size : 4096), "userfaultfd file read", 0);
        CHECK(memcmp(u.page, fdata, u.size < 4096 ? u.size : 4096) == 0);
    }
    sleep_abs_ms(200); /* churn a little longer with everything released */
    stop_churn = 1;
    pthread_join(tc, NULL);
    stop_bomb = 1;
    pthread_join(tb, NULL);
    pthread_join(tl, NULL);
    pthread_join(ts, NULL);
    if (susp_bad)
        FAILF("aio_suspend(NULL timeout) misbehaved under signals (%d): returned 0 while "
              "every entry was in progress, or an unexpected errno",
              susp_bad);
    if (susp_eintr == 0)
        FAILF("aio_suspend(NULL timeout) never returned -1/EINTR although %ld signals were "
              "sent (handler without SA_RESTART)",
              (long)sent);
    t_note("%ld signals sent, %ld handled; aio_suspend EINTR %ld times; %ld churn rounds",
           (long)sent, (long)handled, (long)susp_eintr, (long)churn_rounds);
    if (handled < 1000)
        FAILF("only %ld signals handled: the bombardment did not happen", (long)handled);
    return T_PASS;
}
