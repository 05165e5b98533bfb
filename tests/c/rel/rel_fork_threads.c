/* rel_fork_threads: fork() from several threads while requests are in flight, and exec()
 * after AIO. BEHAVIOUR.md "Threads, fork": the parent is unaffected; the child starts with
 * no threads and empty queues; an aiocb in progress at the fork is not the child's
 * (aio_error → EINVAL, aio_suspend treats it as done, aio_cancel → AIO_ALLDONE); AIO works
 * normally in the child. rtaio's duplicates are F_DUPFD_CLOEXEC; the kernel AIO context
 * "creates no file descriptor".
 *
 * Part 1: 4 threads each keep requests in flight (file writes+reads of their own region,
 * checked; a pipe read completed by themselves) plus one "sentinel" pipe read each that
 * stays in flight throughout. Threads 0 and 1 fork at the same moment (a barrier), 4 times
 * each. Each child: every aiocb of the parent is not in progress (sentinels → -1/EINVAL),
 * aio_suspend over all of them returns 0 at once, aio_cancel → AIO_ALLDONE; then a new
 * write/read round trip, a pipe read, a SIGEV_THREAD notification and a lio_listio(LIO_WAIT)
 * work; it exits 0 (alternately exit() and _exit()), under alarm(). Parent: no error in any
 * thread, sentinels complete with the right byte after the forks.
 * Part 2: a child that used AIO (a pipe read blocked in a worker, completed file I/O, a
 * SIGEV_THREAD notification, an O_DIRECT read on the kernel backend if the file system
 * allows O_DIRECT) execs itself, once from the main thread and once from another thread
 * (while the main thread sits in aio_suspend). The new image must see exactly the
 * descriptors the test had at start plus the pipe it keeps on purpose (no rtaio duplicate,
 * no eventfd, no socket); one thread; a byte written into the kept pipe is read back by the
 * new image (no leftover worker steals it); AIO works there. */
#include "t.h"

#define NT 4
#define FORKS 4
#define REG 4096
#define NCB 4

static int fd;
static _Atomic int stop;
static _Atomic int errors;
static char errmsg[256];
static struct aiocb wcb[NT][NCB], rcb[NT][NCB], pcb[NT];
static unsigned char wb[NT][NCB][REG], rb[NT][NCB][REG], pb[NT];
static struct aiocb sentinel[NT];
static char sentinel_byte[NT];
static int sentinel_pipe[NT][2];
static pthread_barrier_t fork_barrier;
static _Atomic int forks_done;

static void note_error(const char *fmt, int a, int b)
{
    if (__atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST) == 1)
        snprintf(errmsg, sizeof errmsg, fmt, a, b);
}

/* ---------------- the child after fork ---------------- */
static _Atomic int child_notes;
static void child_fn(union sigval v)
{
    (void)v;
    __atomic_add_fetch(&child_notes, 1, __ATOMIC_SEQ_CST);
}

static int child_main(int who, int round)
{
    alarm(20);
    /* sentinels: in flight at the fork → not the child's */
    for (int t = 0; t < NT; t++) {
        errno = 0;
        int e = aio_error(&sentinel[t]);
        if (e != -1 || errno != EINVAL)
            FAILF("child of thread %d: aio_error(sentinel %d) = %d errno %d, expected -1/EINVAL",
                  who, t, e, errno);
        int c = aio_cancel(sentinel[t].aio_fildes, &sentinel[t]);
        if (c != AIO_ALLDONE)
            FAILF("child: aio_cancel(sentinel %d) = %d, expected AIO_ALLDONE", t, c);
    }
    /* no aiocb of the parent is in progress here; aio_suspend over all returns at once */
    const struct aiocb *all[NT * (2 * NCB + 2)];
    int n = 0;
    for (int t = 0; t < NT; t++) {
        for (int i = 0; i < NCB; i++) {
            all[n++] = &wcb[t][i];
            all[n++] = &rcb[t][i];
        }
        all[n++] = &pcb[t];
        all[n++] = &sentinel[t];
    }
    for (int i = 0; i < n; i++)
        if (aio_error(all[i]) == EINPROGRESS)
            FAILF("child: an aiocb of the parent (#%d) is EINPROGRESS in the child", i);
    for (int i = 0; i < n; i++) {
        struct timespec ts = { 5, 0 };
        double t0 = t_now();
        if (aio_suspend(&all[i], 1, &ts) != 0)
            FAILF("child: aio_suspend on the parent's aiocb #%d: errno %d (%s)", i, errno,
                  strerror(errno));
        if (t_now() - t0 > 1.0)
            FAILF("child: aio_suspend on the parent's aiocb #%d waited %.1f s", i,
                  t_now() - t0);
    }
    struct timespec ts = { 5, 0 };
    CHECK_OK(aio_suspend(all, n, &ts));
    int c = aio_cancel(fd, NULL);
    if (c != AIO_ALLDONE)
        FAILF("child: aio_cancel(shared file, NULL) = %d, expected AIO_ALLDONE (the parent's "
              "requests are not the child's)",
              c);
    /* new work in the child */
    int cfd = t_tmpfile();
    static char out[8192], in[8192];
    for (int i = 0; i < (int)sizeof out; i++)
        out[i] = (char)(i * 31 + who + round);
    struct aiocb w, r;
    t_cb(&w, cfd, out, sizeof out, 512);
    w.aio_sigevent.sigev_notify = SIGEV_THREAD;
    w.aio_sigevent.sigev_notify_function = child_fn;
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "child write"), (ssize_t)sizeof out);
    t_cb(&r, cfd, in, sizeof in, 512);
    CHECK_OK(aio_read(&r));
    CHECK_EQ(t_wait_return(&r, 0, "child read"), (ssize_t)sizeof in);
    CHECK(memcmp(in, out, sizeof in) == 0);
    t_wait_atomic(&child_notes, 1, "child SIGEV_THREAD");
    int p[2];
    CHECK_OK(pipe(p));
    char b = 0;
    struct aiocb pr;
    t_cb(&pr, p[0], &b, 1, 0);
    CHECK_OK(aio_read(&pr));
    t_sleep_ms(5);
    t_write_all(p[1], "c", 1);
    CHECK_EQ(t_wait_return(&pr, 0, "child pipe read"), 1);
    CHECK_EQ(b, 'c');
    struct aiocb l[3], *lp[3];
    static char lb[3][100];
    for (int i = 0; i < 3; i++) {
        t_cb(&l[i], cfd, lb[i], sizeof lb[i], (off_t)i * 100);
        l[i].aio_lio_opcode = i == 1 ? LIO_WRITE : LIO_READ;
        lp[i] = &l[i];
    }
    CHECK_OK(lio_listio(LIO_WAIT, lp, 3, NULL));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(aio_return(&l[i]), 100);
    return 0;
}

/* ---------------- the parent's threads ---------------- */
static void wait_child(pid_t pid, int who, int round)
{
    double end = t_now() + 30;
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0) {
            note_error("waitpid failed (thread %d round %d)", who, round);
            return;
        }
        if (t_now() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            note_error("child of thread %d (round %d) did not finish within 30 s", who, round);
            return;
        }
        t_sleep_ms(5);
    }
    if (WIFSIGNALED(st))
        note_error("child of thread %d died of signal %d", who, WTERMSIG(st));
    else if (WEXITSTATUS(st) != 0)
        note_error("child of thread %d exited with %d", who, WEXITSTATUS(st));
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    unsigned seed = (unsigned)id * 7919u + 1;
    int p[2];
    CHECK_OK(pipe(p));
    int round = 0;
    double next_fork = t_now() + 0.05;
    while (!__atomic_load_n(&stop, __ATOMIC_SEQ_CST)) {
        for (int i = 0; i < NCB; i++) {
            for (int k = 0; k < REG; k++)
                wb[id][i][k] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
            t_cb(&wcb[id][i], fd, wb[id][i], REG, (off_t)((id * NCB + i) * REG));
            if (aio_write(&wcb[id][i]) != 0) {
                note_error("thread %d: aio_write failed (errno %d)", id, errno);
                return NULL;
            }
        }
        t_cb(&pcb[id], p[0], &pb[id], 1, 0);
        if (aio_read(&pcb[id]) != 0)
            note_error("thread %d: pipe aio_read failed (errno %d)", id, errno);
        if (id < 2 && round < FORKS && t_now() >= next_fork) {
            /* both forking threads fork at the same moment, requests in flight */
            pthread_barrier_wait(&fork_barrier);
            pid_t pid = fork();
            if (pid == 0) {
                int r = child_main(id, round);
                if (round % 2)
                    exit(r);
                _exit(r);
            }
            if (pid < 0)
                note_error("thread %d: fork failed (errno %d)", id, errno);
            else
                wait_child(pid, id, round);
            round++;
            if (round == FORKS)
                __atomic_add_fetch(&forks_done, 1, __ATOMIC_SEQ_CST);
            next_fork = t_now() + 0.02 + (double)(seed % 50) / 1000.0;
        }
        t_write_all(p[1], "p", 1);
        for (int i = 0; i < NCB; i++) {
            if (t_wait(&wcb[id][i]) != 0 || aio_return(&wcb[id][i]) != REG)
                note_error("thread %d: write %d failed", id, i);
            t_cb(&rcb[id][i], fd, rb[id][i], REG, (off_t)((id * NCB + i) * REG));
            if (aio_read(&rcb[id][i]) != 0)
                note_error("thread %d: aio_read failed (errno %d)", id, errno);
        }
        if (t_wait(&pcb[id]) != 0 || aio_return(&pcb[id]) != 1 || pb[id] != 'p')
            note_error("thread %d: pipe read failed", id, 0);
        for (int i = 0; i < NCB; i++) {
            if (t_wait(&rcb[id][i]) != 0 || aio_return(&rcb[id][i]) != REG)
                note_error("thread %d: read %d failed", id, i);
            else if (memcmp(rb[id][i], wb[id][i], REG) != 0)
                note_error("thread %d: read %d: wrong data", id, i);
        }
    }
    return NULL;
}

/* ---------------- part 2: exec ---------------- */
static char initial_fds[1024]; /* "0,1,2," as found at start */

static void list_fds(char *out, size_t n, int skip)
{
    out[0] = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d) || atoi(e->d_name) == skip)
            continue;
        int w = snprintf(out + used, n - used, "%s,", e->d_name);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

static int in_list(const char *list, int v)
{
    char tok[16];
    snprintf(tok, sizeof tok, "%d,", v);
    const char *p = list;
    while ((p = strstr(p, tok)) != NULL) {
        if (p == list || p[-1] == ',')
            return 1;
        p++;
    }
    return 0;
}

/* the exec'd image: argv = self --exec-check INITIAL KEEP_R KEEP_W */
static int exec_check(char **argv)
{
    t_name = "rel_fork_threads(exec'd)";
    const char *initial = argv[2];
    int kr = atoi(argv[3]), kw = atoi(argv[4]);
    int bad = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int n = atoi(e->d_name);
        if (n == dirfd(d) || n == kr || n == kw || in_list(initial, n))
            continue;
        char p[300], tgt[512];
        snprintf(p, sizeof p, "/proc/self/fd/%d", n);
        ssize_t k = readlink(p, tgt, sizeof tgt - 1);
        tgt[k > 0 ? k : 0] = 0;
        fprintf(stderr, "%s: leaked descriptor %d -> %s\n", t_name, n, tgt);
        bad++;
    }
    closedir(d);
    if (bad)
        FAILF("%d descriptor(s) survived exec that the test did not keep (initial: %s kept: %d "
              "%d)",
              bad, initial, kr, kw);
    CHECK(fcntl(kr, F_GETFD) >= 0 && fcntl(kw, F_GETFD) >= 0);
    int nt = t_count_threads();
    if (nt != 1)
        FAILF("%d threads right after exec", nt);
    /* nobody else reads the kept pipe: a byte written now is read back here */
    t_write_all(kw, "E", 1);
    struct pollfd pf = { kr, POLLIN, 0 };
    CHECK_EQ(poll(&pf, 1, 2000), 1);
    char c = 0;
    CHECK_EQ(read(kr, &c, 1), 1);
    CHECK_EQ(c, 'E');
    /* AIO works in the new image */
    int tf = t_tmpfile();
    struct aiocb w;
    t_cb(&w, tf, "exec'd", 6, 0);
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "write after exec"), 6);
    t_note("exec'd image: descriptors, threads and the kept pipe as expected");
    return 0;
}

static int open_direct(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rel_fork_direct-XXXXXX", dir && *dir ? dir : "/tmp");
    int t = mkostemp(path, O_CLOEXEC);
    if (t < 0)
        return -1;
    static char blk[4096] __attribute__((aligned(4096)));
    memset(blk, 'D', sizeof blk);
    t_pwrite_all(t, blk, sizeof blk, 0);
    fsync(t);
    int f = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    unlink(path);
    close(t);
    return f;
}

static char **exec_argv;
static char kr_s[16], kw_s[16];
static void do_exec(void)
{
    char *args[] = { exec_argv[0], "--exec-check", initial_fds, kr_s, kw_s, NULL };
    execv("/proc/self/exe", args);
    fprintf(stderr, "execv: %s\n", strerror(errno));
    _exit(3);
}

static void *exec_thread(void *a)
{
    (void)a;
    t_sleep_ms(100);
    do_exec();
    return NULL;
}

static void exec_child(int from_thread)
{
    alarm(20);
    int p[2];
    CHECK_OK(pipe(p)); /* kept across exec on purpose (no O_CLOEXEC) */
    snprintf(kr_s, sizeof kr_s, "%d", p[0]);
    snprintf(kw_s, sizeof kw_s, "%d", p[1]);
    /* a worker blocked reading the kept pipe at exec time */
    static char b;
    static struct aiocb pr;
    t_cb(&pr, p[0], &b, 1, 0);
    CHECK_OK(aio_read(&pr));
    t_wait_blocked_read(p[0]);
    /* completed buffered I/O with a SIGEV_THREAD notification */
    int tf = t_tmpfile();
    CHECK_OK(fcntl(tf, F_SETFD, FD_CLOEXEC));
    struct aiocb w;
    t_cb(&w, tf, "0123456789", 10, 0);
    w.aio_sigevent.sigev_notify = SIGEV_THREAD;
    w.aio_sigevent.sigev_notify_function = child_fn;
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "write before exec"), 10);
    t_wait_atomic(&child_notes, 1, "SIGEV_THREAD before exec");
    /* kernel AIO context, if O_DIRECT works here */
    int df = open_direct();
    if (df < 0)
        t_note("O_DIRECT unavailable in TMPDIR: no kernel AIO context before exec");
    static char dbuf[4096] __attribute__((aligned(4096)));
    if (df >= 0) {
        struct aiocb dr;
        t_cb(&dr, df, dbuf, sizeof dbuf, 0);
        CHECK_OK(aio_read(&dr));
        CHECK_EQ(t_wait_return(&dr, 0, "O_DIRECT read before exec"), 4096);
        CHECK_EQ(dbuf[0], 'D');
    }
    if (from_thread) {
        pthread_t t;
        CHECK_OK(pthread_create(&t, NULL, exec_thread, NULL));
        const struct aiocb *l[1] = { &pr };
        for (;;)
            aio_suspend(l, 1, NULL); /* the exec from the other thread ends this */
    }
    do_exec();
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "--exec-check") == 0)
        return exec_check(argv);
    t_init("rel_fork_threads");
    list_fds(initial_fds, sizeof initial_fds, -1);
    exec_argv = argv;
    fd = t_tmpfile();
    CHECK_OK(fcntl(fd, F_SETFD, FD_CLOEXEC));

    /* part 2 first, from a process that has not used AIO yet */
    for (int from_thread = 0; from_thread < 2; from_thread++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            exec_child(from_thread);
        int st;
        if (t_wait_child(pid, 30, &st) != 0)
            FAILF("exec test (%s) did not finish", from_thread ? "thread" : "main");
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAILF("exec after AIO (exec from %s): status 0x%x (exit %d, signal %d)",
                  from_thread ? "a second thread" : "the main thread", st,
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }

    /* part 1 */
    CHECK_OK(pthread_barrier_init(&fork_barrier, NULL, 2));
    for (int t = 0; t < NT; t++) {
        CHECK_OK(pipe(sentinel_pipe[t]));
        t_cb(&sentinel[t], sentinel_pipe[t][0], &sentinel_byte[t], 1, 0);
        CHECK_OK(aio_read(&sentinel[t]));
    }
    pthread_t th[NT];
    for (long i = 0; i < NT; i++)
        CHECK_OK(pthread_create(&th[i], NULL, worker, (void *)i));
    double end = t_now() + 40;
    while (__atomic_load_n(&forks_done, __ATOMIC_SEQ_CST) < 2 && t_now() < end && !errors)
        t_sleep_ms(10);
    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    if (errors)
        FAILF("%d error(s) in the parent's threads; first: %s", errors, errmsg);
    CHECK_EQ(forks_done, 2);
    for (int t = 0; t < NT; t++) {
        CHECK_EQ(aio_error(&sentinel[t]), EINPROGRESS);
        char c = (char)('A' + t);
        t_write_all(sentinel_pipe[t][1], &c, 1);
        CHECK_EQ(t_wait_return(&sentinel[t], 0, "sentinel"), 1);
        CHECK_EQ(sentinel_byte[t], c);
    }
    return T_PASS;
}
