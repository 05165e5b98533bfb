/* rel_exit_inflight: a process that ends with requests in flight must end promptly and
 * cleanly (no hang in exit handlers or destructors, no crash while rtaio's threads still
 * run).
 *
 * Each child submits: 16 reads of empty pipes (never completed), 32 buffered 1 MiB writes,
 * 16 O_DIRECT reads (kernel backend) when the file system allows O_DIRECT, SIGEV_THREAD
 * notifications (some callbacks are slow, so one runs during exit) and SIGEV_SIGNAL
 * notifications, a lio_listio(LIO_NOWAIT) list with a list notification; then it ends:
 *   exit(0) | return 0 from main | _exit(0) | exit(0) from a second thread while the main
 *   thread sits in aio_suspend(no timeout) | exit(0) inside a SIGEV_THREAD callback |
 *   exit(0) while the main thread is blocked in lio_listio(LIO_WAIT) (from a second thread)
 * The parent waits (deadline 15 s per child): each must exit with status 0, not by a signal.
 * Every variant runs 4 times, the simple ones ending 0, 1, 3 and 7 ms after the last
 * submission (different phases of the work in flight). */
#include "t.h"

#define NPIPE 16
#define NWRITE 32
#define WSIZE (1 << 20)
#define NDIRECT 16

enum { V_EXIT, V_RETURN, V__EXIT, V_EXIT_THREAD, V_EXIT_IN_CALLBACK, V_EXIT_DURING_LIO, NV };
static const char *vname[NV] = { "exit(0)",
                                 "return from main",
                                 "_exit(0)",
                                 "exit(0) from another thread during aio_suspend",
                                 "exit(0) inside a SIGEV_THREAD callback",
                                 "exit(0) from another thread during lio_listio(LIO_WAIT)" };

static int variant;
static _Atomic int callbacks;
static _Atomic int sigs;

static void slow_fn(union sigval v)
{
    __atomic_add_fetch(&callbacks, 1, __ATOMIC_SEQ_CST);
    if (v.sival_int % 4 == 0)
        t_sleep_ms(100); /* still running when the process exits */
}

static void exiting_fn(union sigval v)
{
    (void)v;
    exit(0);
}

static void on_sig(int s)
{
    int saved = errno;
    (void)s;
    sigs++;
    errno = saved;
}

static int open_direct(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rel_exit_direct-XXXXXX", dir && *dir ? dir : "/tmp");
    int t = mkstemp(path);
    if (t < 0)
        return -1;
    if (ftruncate(t, (off_t)NDIRECT * 65536) != 0) {
        close(t);
        return -1;
    }
    int f = open(path, O_RDONLY | O_DIRECT);
    unlink(path);
    close(t);
    return f;
}

static void *exit_later(void *a)
{
    t_sleep_ms((long)a);
    exit(0);
    return NULL;
}

/* everything in flight; returns with it in flight */
static void load_up(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART;
    CHECK_OK(sigaction(SIGRTMIN + 2, &sa, NULL));

    static struct aiocb pr[NPIPE], w[NWRITE], d[NDIRECT], l[4];
    static char pb[NPIPE];
    for (int i = 0; i < NPIPE; i++) {
        int p[2];
        CHECK_OK(pipe(p));
        t_cb(&pr[i], p[0], &pb[i], 1, 0);
        if (i % 2) {
            pr[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            pr[i].aio_sigevent.sigev_notify_function = slow_fn;
        }
        CHECK_OK(aio_read(&pr[i]));
    }
    int fd = t_tmpfile();
    char *big = malloc(WSIZE);
    CHECK(big != NULL);
    memset(big, 'w', WSIZE);
    for (int i = 0; i < NWRITE; i++) {
        t_cb(&w[i], fd, big, WSIZE, (off_t)i * WSIZE);
        if (i % 3 == 0) {
            w[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            w[i].aio_sigevent.sigev_notify_function =
                variant == V_EXIT_IN_CALLBACK && i == 3 ? exiting_fn : slow_fn;
            w[i].aio_sigevent.sigev_value.sival_int = i;
        } else if (i % 3 == 1) {
            w[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
            w[i].aio_sigevent.sigev_signo = SIGRTMIN + 2;
        }
        CHECK_OK(aio_write(&w[i]));
    }
    int df = open_direct();
    if (df >= 0) {
        void *db;
        CHECK_OK(posix_memalign(&db, 4096, (size_t)NDIRECT * 65536));
        for (int i = 0; i < NDIRECT; i++) {
            t_cb(&d[i], df, (char *)db + (size_t)i * 65536, 65536, (off_t)i * 65536);
            d[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
            d[i].aio_sigevent.sigev_notify_function = slow_fn;
            d[i].aio_sigevent.sigev_value.sival_int = i;
            CHECK_OK(aio_read(&d[i]));
        }
    }
    struct aiocb *lp[4];
    static char lb[4][4096];
    for (int i = 0; i < 4; i++) {
        t_cb(&l[i], fd, lb[i], sizeof lb[i], (off_t)i * 4096);
        l[i].aio_lio_opcode = i % 2 ? LIO_READ : LIO_WRITE;
        lp[i] = &l[i];
    }
    struct sigevent ls;
    memset(&ls, 0, sizeof ls);
    ls.sigev_notify = SIGEV_THREAD;
    ls.sigev_notify_function = slow_fn;
    CHECK_OK(lio_listio(LIO_NOWAIT, lp, 4, &ls));

    switch (variant) {
    case V_EXIT_THREAD: {
        pthread_t t;
        CHECK_OK(pthread_create(&t, NULL, exit_later, (void *)20L));
        const struct aiocb *one[1] = { &pr[0] };
        for (;;)
            aio_suspend(one, 1, NULL);
    }
    case V_EXIT_IN_CALLBACK:
        for (;;)
            t_sleep_ms(1000); /* the callback of w[3] exits */
    case V_EXIT_DURING_LIO: {
        pthread_t t;
        CHECK_OK(pthread_create(&t, NULL, exit_later, (void *)30L));
        static struct aiocb lw;
        static char lwb;
        int p[2];
        CHECK_OK(pipe(p));
        t_cb(&lw, p[0], &lwb, 1, 0);
        lw.aio_lio_opcode = LIO_READ;
        struct aiocb *one[1] = { &lw };
        for (;;)
            lio_listio(LIO_WAIT, one, 1, NULL);
    }
    default:
        break;
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    t_init("rel_exit_inflight");
    static const long delay_ms[4] = { 0, 1, 3, 7 };
    for (int round = 0; round < 4; round++) {
        for (int v = 0; v < NV; v++) {
            pid_t pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                variant = v;
                alarm(12);
                load_up();
                if (delay_ms[round])
                    t_sleep_ms(delay_ms[round]);
                switch (v) {
                case V_RETURN:
                    return 0;
                case V__EXIT:
                    _exit(0);
                default:
                    exit(0);
                }
            }
            double start = t_now();
            int st;
            if (t_wait_child(pid, 15, &st) != 0)
                FAILF("%s (round %d): the process did not end within 15 s", vname[v], round);
            if (WIFSIGNALED(st))
                FAILF("%s (round %d): the process died of signal %d (%s)%s", vname[v], round,
                      WTERMSIG(st), strsignal(WTERMSIG(st)),
                      WTERMSIG(st) == SIGALRM ? ": it hung at exit" : "");
            if (WEXITSTATUS(st) != 0)
                FAILF("%s (round %d): exit status %d, expected 0", vname[v], round,
                      WEXITSTATUS(st));
            if (round == 0)
                t_note("%s: ended with 0 in %.2f s", vname[v], t_now() - start);
        }
    }
    return T_PASS;
}
