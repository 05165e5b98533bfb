/* rel_leftovers: nothing left behind. BEHAVIOUR.md "No thread exists before the first
 * request ... an idle worker exits after aio_idle_time (RTAIO_IDLE_MS)"; fileref.rs: rtaio's
 * duplicate of a descriptor is "closed when the last of [its requests] is retired"; the
 * kernel backend's context "creates no file descriptor"; the reaper "exits after the idle
 * time with nothing in flight".
 *
 * RTAIO_IDLE_MS=200 is set before the first AIO call. The descriptors (number → target)
 * and the threads are recorded before any AIO. Then, phase 1 (buffered): reads, writes,
 * O_SYNC and O_DSYNC fsyncs on a file; lio_listio LIO_WAIT and LIO_NOWAIT (with a list
 * notification); pipe, socket and FIFO reads; SIGEV_THREAD (with and without attributes) and
 * SIGEV_SIGNAL notifications; a cancelled queued request; a request whose descriptor the
 * application closes while it is in flight; failed submissions (EBADF, EINVAL). All
 * completed and returned, the test closes its own descriptors: the descriptor table must be
 * exactly the initial one (no rtaio duplicate, socket, eventfd, memfd, io_uring...) within 3 s,
 * and within 3 s the process must be back to its initial thread count. Phase 2 (if O_DIRECT works in
 * TMPDIR): O_DIRECT reads, writes and fsyncs (kernel backend) — the same checks; whether the
 * kernel AIO ring mapping ("[aio]" in /proc/self/maps) stays is reported, not judged.
 * Phase 3: "completed" means rtaio holds nothing of the request any more: 500 times, an
 * aio_write to a pipe completes (aio_error, aio_return), the application closes the write
 * end, reads the byte, and poll(0) must report POLLHUP at once (no duplicate of the write end
 * still open); the same for aio_read and EPIPE on the write end once the read end is closed
 * (plain glibc passes both: its threads use the application's descriptor). */
#include "t.h"

static char fds0[16384];

/* Within 3 s (the idle time is 200 ms): an io_uring executor keeps its ring and doorbell while
 * requests flow, and closes them, like its thread, once idle. */
static void check_fds(const char *what)
{
    static char now[16384];
    double end = t_now() + 3.0;
    for (;;) {
        t_fd_table(now, sizeof now);
        if (strcmp(now, fds0) == 0 || t_now() > end)
            break;
        t_sleep_ms(20);
    }
    if (strcmp(now, fds0) != 0)
        FAILF("%s: descriptors left behind.\nbefore any AIO:\n%snow:\n%s", what, fds0, now);
}

static int threads0;
static void check_threads(const char *what)
{
    double start = t_now(), end = start + 3.0;
    int n;
    while ((n = t_count_threads()) != threads0 && t_now() < end)
        t_sleep_ms(20);
    if (n != threads0) {
        fprintf(stderr, "threads now:\n");
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[300], comm[64] = "?";
            snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
            FILE *f = fopen(p, "r");
            if (f) {
                if (!fgets(comm, sizeof comm, f))
                    strcpy(comm, "?");
                fclose(f);
            }
            fprintf(stderr, "  %s %s", e->d_name, comm);
        }
        if (d)
            closedir(d);
        FAILF("%s: %d threads 3 s after the last request (idle time 200 ms), %d before any AIO",
              what, n, threads0);
    }
    t_note("%s: back to %d thread(s) after %.2f s", what, n, t_now() - start);
}

static _Atomic int notes, sigs;
static void fn(union sigval v)
{
    (void)v;
    __atomic_add_fetch(&notes, 1, __ATOMIC_SEQ_CST);
}
static void on_sig(int s)
{
    (void)s;
    __atomic_add_fetch(&sigs, 1, __ATOMIC_SEQ_CST);
}

#define MAXCB 64
static struct aiocb *cbs[MAXCB];
static int ncbs;
static void track(struct aiocb *cb)
{
    CHECK(ncbs < MAXCB);
    cbs[ncbs++] = cb;
}

static void drain(void)
{
    for (int i = 0; i < ncbs; i++) {
        int e = t_wait(cbs[i]);
        if (e != 0 && e != ECANCELED)
            FAILF("request %d: status %d (%s)", i, e, strerror(e));
        aio_return(cbs[i]);
    }
    ncbs = 0;
}

static void phase_buffered(void)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int fd = t_tmpfile();
    static char buf[16][8192];
    static struct aiocb c[40];
    int k = 0;
    for (int i = 0; i < 8; i++) {
        memset(buf[i], 'a' + i, sizeof buf[i]);
        t_cb(&c[k], fd, buf[i], sizeof buf[i], (off_t)i * 8192);
        if (i == 1) {
            c[k].aio_sigevent.sigev_notify = SIGEV_THREAD;
            c[k].aio_sigevent.sigev_notify_function = fn;
        } else if (i == 2) {
            c[k].aio_sigevent.sigev_notify = SIGEV_THREAD;
            c[k].aio_sigevent.sigev_notify_function = fn;
            c[k].aio_sigevent.sigev_notify_attributes = &attr;
        } else if (i == 3) {
            c[k].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            c[k].aio_sigevent.sigev_signo = SIGUSR2;
        }
        CHECK_OK(aio_write(&c[k]));
        track(&c[k++]);
    }
    t_cb(&c[k], fd, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_SYNC, &c[k]));
    track(&c[k++]);
    t_cb(&c[k], fd, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_DSYNC, &c[k]));
    track(&c[k++]);
    drain();
    for (int i = 8; i < 12; i++) {
        t_cb(&c[k], fd, buf[i], 8192, (off_t)(i - 8) * 8192);
        CHECK_OK(aio_read(&c[k]));
        track(&c[k++]);
    }
    /* lio_listio, both modes */
    struct aiocb *l[4];
    for (int i = 0; i < 4; i++) {
        t_cb(&c[k], fd, buf[12 + i], 8192, (off_t)i * 8192);
        c[k].aio_lio_opcode = i % 2 ? LIO_READ : LIO_WRITE;
        l[i] = &c[k++];
    }
    CHECK_OK(lio_listio(LIO_WAIT, l, 4, NULL));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(aio_return(l[i]), 8192);
    struct sigevent ls;
    memset(&ls, 0, sizeof ls);
    ls.sigev_notify = SIGEV_THREAD;
    ls.sigev_notify_function = fn;
    CHECK_OK(lio_listio(LIO_NOWAIT, l, 4, &ls));
    for (int i = 0; i < 4; i++)
        track(l[i]);
    drain();
    /* pipe, socket, FIFO reads */
    int p[2], sv[2];
    CHECK_OK(pipe(p));
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    char fifo[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(fifo, sizeof fifo, "%s/rel_leftovers-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    CHECK_OK(mkfifo(fifo, 0600));
    int fr = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(fr >= 0);
    int fw = open(fifo, O_WRONLY);
    CHECK(fw >= 0);
    CHECK_OK(fcntl(fr, F_SETFL, O_RDONLY));
    unlink(fifo);
    static char rb[4][4];
    int rfds[3] = { p[0], sv[0], fr }, wfds[3] = { p[1], sv[1], fw };
    for (int i = 0; i < 3; i++) {
        t_cb(&c[k], rfds[i], rb[i], 4, 0);
        CHECK_OK(aio_read(&c[k]));
        track(&c[k++]);
    }
    /* a queued request behind a blocked one, cancelled (one worker only, so it queues) */
    struct aioinit ai;
    memset(&ai, 0, sizeof ai);
    ai.aio_threads = 3;
    aio_init(&ai);
    static char cb_byte;
    int p2[2];
    CHECK_OK(pipe(p2));
    struct aiocb q;
    t_cb(&q, p2[0], &cb_byte, 1, 0);
    CHECK_OK(aio_read(&q));
    int cr = aio_cancel(p2[0], &q);
    CHECK(cr == AIO_CANCELED || cr == AIO_NOTCANCELED);
    if (cr == AIO_NOTCANCELED)
        t_write_all(p2[1], "q", 1);
    int e = t_wait(&q);
    CHECK(e == 0 || e == ECANCELED);
    aio_return(&q);
    ai.aio_threads = 64;
    aio_init(&ai);
    /* a request whose descriptor is closed by the application while in flight */
    int p3[2];
    CHECK_OK(pipe(p3));
    static char cl_byte;
    struct aiocb cl;
    t_cb(&cl, p3[0], &cl_byte, 1, 0);
    CHECK_OK(aio_read(&cl));
    t_wait_blocked_read(p3[0]);
    CHECK_OK(close(p3[0]));
    /* failed submissions */
    struct aiocb bad;
    t_cb(&bad, p3[0], buf[0], 1, 0); /* now closed: accepted, fails with EBADF */
    CHECK_OK(aio_read(&bad));
    CHECK_EQ(t_wait_return(&bad, EBADF, "read on a closed fd"), -1);
    t_cb(&bad, fd, buf[0], 1, 0);
    bad.aio_reqprio = -5;
    CHECK_ERR(aio_read(&bad), EINVAL);
    CHECK_ERR(aio_fsync(O_SYNC, &c[k - 1]), EINVAL); /* a pipe... still in flight: EINVAL */
    /* release */
    for (int i = 0; i < 3; i++)
        t_write_all(wfds[i], "data", 4);
    t_write_all(p3[1], "c", 1);
    drain();
    CHECK_EQ(t_wait_return(&cl, 0, "read on a descriptor closed while in flight"), 1);
    t_wait_atomic(&notes, 3, "SIGEV_THREAD notifications");
    t_wait_atomic(&sigs, 1, "SIGEV_SIGNAL notification");
    for (int i = 0; i < 3; i++) {
        close(rfds[i]);
        close(wfds[i]);
    }
    close(p2[0]);
    close(p2[1]);
    close(p3[1]);
    close(fd);
    pthread_attr_destroy(&attr);
}

static int open_direct(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rel_leftovers_direct-XXXXXX", dir && *dir ? dir : "/tmp");
    int t = mkstemp(path);
    CHECK(t >= 0);
    CHECK_OK(ftruncate(t, 1 << 20));
    int f = open(path, O_RDWR | O_DIRECT);
    unlink(path);
    close(t);
    return f;
}

static int aio_mapping(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "[aio]"))
            found = 1;
    fclose(f);
    return found;
}

static void phase_direct(void)
{
    int df = open_direct();
    if (df < 0) {
        t_note("O_DIRECT refused in TMPDIR (%s): phase 2 skipped", strerror(errno));
        return;
    }
    void *mem;
    CHECK_OK(posix_memalign(&mem, 4096, 8 * 65536));
    memset(mem, 'd', 8 * 65536);
    static struct aiocb c[20];
    int k = 0;
    for (int i = 0; i < 8; i++) {
        t_cb(&c[k], df, (char *)mem + (size_t)i * 65536, 65536, (off_t)i * 65536);
        if (i == 0) {
            c[k].aio_sigevent.sigev_notify = SIGEV_THREAD;
            c[k].aio_sigevent.sigev_notify_function = fn;
        }
        CHECK_OK(i % 2 ? aio_read(&c[k]) : aio_write(&c[k]));
        track(&c[k++]);
    }
    drain();
    t_cb(&c[k], df, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_SYNC, &c[k]));
    track(&c[k++]);
    drain();
    struct aiocb *l[4];
    for (int i = 0; i < 4; i++) {
        t_cb(&c[k], df, (char *)mem + (size_t)i * 65536, 65536, (off_t)i * 65536);
        c[k].aio_lio_opcode = LIO_READ;
        l[i] = &c[k++];
    }
    CHECK_OK(lio_listio(LIO_WAIT, l, 4, NULL));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(aio_return(l[i]), 65536);
    int during = aio_mapping();
    close(df);
    free(mem);
    check_fds("after O_DIRECT (kernel backend) I/O");
    check_threads("after O_DIRECT (kernel backend) I/O");
    int after = aio_mapping();
    t_note("kernel AIO ring mapping ([aio] in /proc/self/maps): %s during, %s after idle "
           "(it is not a descriptor; BEHAVIOUR.md: one context per process, made on first "
           "use)",
           during == 1 ? "present" : "absent", after == 1 ? "present" : "absent");
}

static void phase_close_after_completion(void)
{
    signal(SIGPIPE, SIG_IGN);
    int late_hup = 0, late_epipe = 0;
    const int N = 500;
    for (int i = 0; i < N; i++) {
        int p[2];
        CHECK_OK(pipe(p));
        struct aiocb w;
        t_cb(&w, p[1], "x", 1, 0);
        CHECK_OK(aio_write(&w));
        CHECK_EQ(t_wait_return(&w, 0, "pipe write"), 1);
        CHECK_OK(close(p[1]));
        char c;
        CHECK_EQ(read(p[0], &c, 1), 1);
        struct pollfd pf = { p[0], POLLIN, 0 };
        int r = poll(&pf, 1, 0);
        if (!(r == 1 && (pf.revents & POLLHUP)))
            late_hup++;
        close(p[0]);

        CHECK_OK(pipe(p));
        struct aiocb rd;
        char b = 0;
        t_cb(&rd, p[0], &b, 1, 0);
        CHECK_OK(aio_read(&rd));
        t_write_all(p[1], "y", 1);
        CHECK_EQ(t_wait_return(&rd, 0, "pipe read"), 1);
        CHECK_OK(close(p[0]));
        errno = 0;
        ssize_t wr = write(p[1], "z", 1);
        if (!(wr == -1 && errno == EPIPE))
            late_epipe++;
        close(p[1]);
    }
    if (late_hup || late_epipe)
        FAILF("after a request completed and the application closed its descriptor, the pipe "
              "still had another reference: %d of %d times no POLLHUP for the reader after "
              "aio_write + close(write end); %d of %d times no EPIPE for the writer after "
              "aio_read + close(read end) (rtaio's duplicate is closed after the status is "
              "published)",
              late_hup, N, late_epipe, N);
}

int main(void)
{
    t_init("rel_leftovers");
    setenv("RTAIO_IDLE_MS", "200", 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART;
    CHECK_OK(sigaction(SIGUSR2, &sa, NULL));
    threads0 = t_count_threads();
    t_fd_table(fds0, sizeof fds0);
    phase_buffered();
    check_fds("after buffered AIO, all requests returned");
    check_threads("after buffered AIO");
    check_fds("after the idle time");
    phase_direct();
    phase_close_after_completion();
    check_fds("after phase 3");
    return T_PASS;
}
