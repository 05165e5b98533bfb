/* cancel_pool: cancellation of requests queued because the worker pool is saturated.
 * aio_init({.aio_threads = 1}) before the first request; an aio_read on an empty pipe
 * occupies the only worker (BEHAVIOUR.md: "at most aio_threads run"), so every later
 * request is queued:
 *  - aio_cancel(fd, &one) → AIO_CANCELED; aio_cancel(fd, NULL) with only queued requests on
 *    fd → AIO_CANCELED; again → AIO_ALLDONE;
 *  - every cancelled request: ECANCELED, aio_return -1, its SIGEV_THREAD notification
 *    arrives exactly once;
 *  - a queued request on another fd is not touched and runs once the worker is free. */
#include "t.h"

#define N 10

static struct aiocb ws[N];
static volatile int notes[N];
static volatile int total, bad_inprogress;

static void note_fn(union sigval v)
{
    struct aiocb *cb = v.sival_ptr;
    if (aio_error(cb) == EINPROGRESS)
        bad_inprogress++;
    __atomic_add_fetch(&notes[cb - ws], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&total, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
    t_init("cancel_pool");
    t_backend_threads(); /* queued requests behind blocked workers: the pool's behaviour */
    t_aio_init(1, 64);

    int p[2];
    CHECK_OK(pipe(p));
    char rb = 0;
    struct aiocb rd;
    t_cb(&rd, p[0], &rb, 1, 0);
    CHECK_OK(aio_read(&rd));
    t_wait_blocked_read(p[0]);

    int fd = t_tmpfile();
    int fd2 = t_tmpfile();
    static char data[N][16];
    for (int i = 0; i < N; i++) {
        memset(data[i], 'A' + i, sizeof data[i]);
        t_cb(&ws[i], fd, data[i], sizeof data[i], (off_t)i * 16);
        ws[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        ws[i].aio_sigevent.sigev_notify_function = note_fn;
        ws[i].aio_sigevent.sigev_value.sival_ptr = &ws[i];
        CHECK_OK(aio_write(&ws[i]));
    }
    struct aiocb other;
    t_cb(&other, fd2, "other", 5, 0);
    CHECK_OK(aio_write(&other));

    t_sleep_ms(200);
    for (int i = 0; i < N; i++)
        CHECK_EQ(aio_error(&ws[i]), EINPROGRESS); /* queued: the only worker is busy */
    CHECK_EQ(aio_error(&other), EINPROGRESS);

    CHECK_EQ(aio_cancel(fd, &ws[3]), AIO_CANCELED);
    CHECK_EQ(aio_error(&ws[3]), ECANCELED);
    CHECK_EQ(aio_cancel(fd, NULL), AIO_CANCELED);
    for (int i = 0; i < N; i++)
        CHECK_EQ(aio_error(&ws[i]), ECANCELED);
    CHECK_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
    CHECK_EQ(aio_cancel(fd, &ws[5]), AIO_ALLDONE);
    t_wait_counter(&total, N, "notifications of cancelled requests");
    for (int i = 0; i < N; i++)
        CHECK_EQ(aio_return(&ws[i]), -1);
    CHECK_EQ(aio_error(&other), EINPROGRESS);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);

    /* free the worker: the read, then the untouched request on fd2 complete */
    t_write_all(p[1], "z", 1);
    CHECK_EQ(t_wait_return(&rd, 0, "pipe read"), 1);
    CHECK_EQ(rb, 'z');
    CHECK_EQ(t_wait_return(&other, 0, "other fd write"), 5);
    char buf[8] = { 0 };
    t_pread_all(fd2, buf, 5, 0);
    CHECK(memcmp(buf, "other", 5) == 0);
    /* nothing of the cancelled writes reached the file */
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK_EQ(st.st_size, 0);

    t_sleep_ms(300);
    CHECK_EQ(total, N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(notes[i], 1);
    CHECK_EQ(bad_inprogress, 0);
    return T_PASS;
}
