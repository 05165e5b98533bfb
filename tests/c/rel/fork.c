/* fork: BEHAVIOUR.md "Threads, fork". Two threads keep requests in flight (writes and
 * reads of their own file regions, checked) while the main thread forks several times;
 * an aio_read on an empty pipe is in flight at every fork.
 * Child: the in-flight aiocb is not its request (aio_error → -1/EINVAL, aio_suspend
 * treats it as done, aio_cancel → AIO_ALLDONE); a new AIO round-trip works, with a
 * SIGEV_THREAD notification; exits 0 (a hang is caught by a timeout).
 * Parent: all its requests complete correctly; the pipe read completes after the write. */
#include "t.h"

#define FORKS 6
#define REG 8192

static int fd;
static volatile int stop;
static volatile int worker_errors;
static struct aiocb pipe_rd;
static char pipe_byte;

static void *worker(void *arg)
{
    long id = (long)arg;
    static __thread unsigned char wb[8][REG], rb[8][REG];
    struct aiocb w[8], r[8];
    unsigned seed = (unsigned)id * 7919u + 1;
    long iter = 0;
    while (!stop) {
        for (int i = 0; i < 8; i++) {
            for (int k = 0; k < REG; k++)
                wb[i][k] = (unsigned char)(seed = seed * 1103515245u + 12345u) >> 3;
            t_cb(&w[i], fd, wb[i], REG, (off_t)((id * 8 + i) * REG));
            if (aio_write(&w[i]) != 0) {
                worker_errors++;
                return NULL;
            }
        }
        for (int i = 0; i < 8; i++) {
            if (t_wait(&w[i]) != 0 || aio_return(&w[i]) != REG)
                worker_errors++;
            t_cb(&r[i], fd, rb[i], REG, (off_t)((id * 8 + i) * REG));
            if (aio_read(&r[i]) != 0) {
                worker_errors++;
                return NULL;
            }
        }
        for (int i = 0; i < 8; i++) {
            if (t_wait(&r[i]) != 0 || aio_return(&r[i]) != REG)
                worker_errors++;
            else if (memcmp(rb[i], wb[i], REG) != 0)
                worker_errors++;
        }
        iter++;
    }
    return NULL;
}

static volatile int child_note;
static void child_fn(union sigval v)
{
    if (aio_error(v.sival_ptr) != EINPROGRESS)
        child_note++;
}

static int child_main(void)
{
    /* the parent's in-flight request is not ours */
    if (aio_error(&pipe_rd) != -1 || errno != EINVAL) {
        fprintf(stderr, "fork child: aio_error(in-flight-at-fork aiocb) = %d errno %d, "
                        "expected -1/EINVAL\n",
                aio_error(&pipe_rd), errno);
        return 1;
    }
    const struct aiocb *l[1] = { &pipe_rd };
    struct timespec ts = { 5, 0 };
    if (aio_suspend(l, 1, &ts) != 0) {
        fprintf(stderr, "fork child: aio_suspend on the parent's aiocb: errno %d\n", errno);
        return 1;
    }
    int c = aio_cancel(pipe_rd.aio_fildes, &pipe_rd);
    if (c != AIO_ALLDONE) {
        fprintf(stderr, "fork child: aio_cancel on parent's aiocb = %d, expected ALLDONE\n",
                c);
        return 1;
    }
    /* new round trip in the child */
    int cfd = t_tmpfile();
    char out[4096], in[4096];
    for (int i = 0; i < (int)sizeof out; i++)
        out[i] = (char)(i * 31 + getpid());
    struct aiocb w, r;
    t_cb(&w, cfd, out, sizeof out, 100);
    w.aio_sigevent.sigev_notify = SIGEV_THREAD;
    w.aio_sigevent.sigev_notify_function = child_fn;
    w.aio_sigevent.sigev_value.sival_ptr = &w;
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait_return(&w, 0, "child write"), (ssize_t)sizeof out);
    t_cb(&r, cfd, in, sizeof in, 100);
    CHECK_OK(aio_read(&r));
    CHECK_EQ(t_wait_return(&r, 0, "child read"), (ssize_t)sizeof in);
    CHECK(memcmp(in, out, sizeof in) == 0);
    t_wait_counter(&child_note, 1, "child SIGEV_THREAD");
    /* the child's own pipe read, completed by itself */
    int p[2];
    CHECK_OK(pipe(p));
    char b = 0;
    struct aiocb pr;
    t_cb(&pr, p[0], &b, 1, 0);
    CHECK_OK(aio_read(&pr));
    t_write_all(p[1], "c", 1);
    CHECK_EQ(t_wait_return(&pr, 0, "child pipe read"), 1);
    CHECK_EQ(b, 'c');
    return 0;
}

int main(void)
{
    t_init("fork");
    fd = t_tmpfile();
    int p[2];
    CHECK_OK(pipe(p));
    t_cb(&pipe_rd, p[0], &pipe_byte, 1, 0);
    CHECK_OK(aio_read(&pipe_rd));

    pthread_t th[2];
    for (long i = 0; i < 2; i++)
        CHECK_OK(pthread_create(&th[i], NULL, worker, (void *)i));

    for (int k = 0; k < FORKS; k++) {
        t_sleep_ms(50 + (long)t_rand_below(100));
        CHECK_EQ(aio_error(&pipe_rd), EINPROGRESS);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0)
            _exit(child_main());
        char what[32];
        snprintf(what, sizeof what, "fork %d: the child", k);
        t_child_ok(pid, what);
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(worker_errors, 0);
    /* parent's in-flight-at-fork read is still ours and completes */
    CHECK_EQ(aio_error(&pipe_rd), EINPROGRESS);
    t_write_all(p[1], "P", 1);
    CHECK_EQ(t_wait_return(&pipe_rd, 0, "parent pipe read"), 1);
    CHECK_EQ(pipe_byte, 'P');
    return T_PASS;
}
