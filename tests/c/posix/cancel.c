/* cancel: aio_cancel per BEHAVIOUR.md.
 * A request that is reliably QUEUED: aio_init({.aio_threads = 1}) before the first request
 * ("at most aio_threads run"); an aio_read on socket S with nothing to read occupies the
 * only worker, so every later request waits in the queue.
 *  - running request (blocked read) → AIO_NOTCANCELED, stays in progress, later completes;
 *  - queued request on S → AIO_CANCELED, aio_error == ECANCELED, aio_return == -1, its
 *    notification (SIGEV_THREAD and SIGEV_SIGNAL) still arrives, exactly once;
 *  - aio_cancel(fd, NULL) with one running + one queued → AIO_NOTCANCELED, queued one
 *    cancelled; with nothing outstanding → AIO_ALLDONE;
 *  - completed request → AIO_ALLDONE (before and after aio_return);
 *  - bad fd → EBADF; aiocb->aio_fildes != fd → EINVAL.
 * cancel_pool.c covers "aio_cancel(fd, NULL) → AIO_CANCELED" with only queued requests. */
#include "t.h"

static volatile int thread_notes, signal_notes, bad_inprogress;
static struct aiocb fs1, fs2, fs3;

static void note_fn(union sigval v)
{
    if (aio_error(v.sival_ptr) == EINPROGRESS)
        bad_inprogress++;
    __atomic_add_fetch(&thread_notes, 1, __ATOMIC_SEQ_CST);
}

static void handler(int s, siginfo_t *si, void *uc)
{
    (void)s;
    (void)uc;
    if (aio_error(si->si_value.sival_ptr) == EINPROGRESS)
        bad_inprogress++;
    __atomic_add_fetch(&signal_notes, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
    t_init("cancel");
    t_backend_threads(); /* queued requests behind blocked workers: the pool's behaviour */
    int sig = SIGRTMIN + 4;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(sig, &sa, NULL));

    t_aio_init(1, 0);

    int sv[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    int S = sv[0];

    /* running request */
    char rb = 0;
    struct aiocb rd;
    t_cb(&rd, S, &rb, 1, 0);
    CHECK_OK(aio_read(&rd));
    t_wait_blocked_read(S);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    CHECK_EQ(aio_cancel(S, &rd), AIO_NOTCANCELED);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    CHECK_ERR(aio_return(&rd), EINPROGRESS);

    /* queued request (the only worker is busy), SIGEV_THREAD */
    t_cb(&fs1, S, "1", 1, 0);
    fs1.aio_sigevent.sigev_notify = SIGEV_THREAD;
    fs1.aio_sigevent.sigev_notify_function = note_fn;
    fs1.aio_sigevent.sigev_value.sival_ptr = &fs1;
    CHECK_OK(aio_write(&fs1));
    t_sleep_ms(100);
    CHECK_EQ(aio_error(&fs1), EINPROGRESS); /* queued */
    CHECK_EQ(aio_cancel(S, &fs1), AIO_CANCELED);
    CHECK_EQ(aio_error(&fs1), ECANCELED);
    t_wait_counter(&thread_notes, 1, "notification of cancelled request");
    CHECK_EQ(aio_return(&fs1), -1);
    CHECK_EQ(aio_error(&fs1), ECANCELED); /* released; its final status stays readable */
    CHECK_EQ(aio_cancel(S, &fs1), AIO_ALLDONE);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);

    /* queued request with SIGEV_SIGNAL, cancelled by aio_cancel(fd, NULL): one running
     * (rd) cannot be cancelled → AIO_NOTCANCELED, the queued one is cancelled */
    t_cb(&fs2, S, "2", 1, 0);
    fs2.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    fs2.aio_sigevent.sigev_signo = sig;
    fs2.aio_sigevent.sigev_value.sival_ptr = &fs2;
    CHECK_OK(aio_write(&fs2));
    t_sleep_ms(50);
    CHECK_EQ(aio_error(&fs2), EINPROGRESS);
    CHECK_EQ(aio_cancel(S, NULL), AIO_NOTCANCELED);
    CHECK_EQ(aio_error(&fs2), ECANCELED);
    t_wait_counter(&signal_notes, 1, "signal of cancelled request");
    CHECK_EQ(aio_return(&fs2), -1);
    CHECK_EQ(aio_error(&rd), EINPROGRESS);
    CHECK_EQ(aio_cancel(S, NULL), AIO_NOTCANCELED); /* only the running read left */

    /* aio_cancel argument errors */
    CHECK_ERR(aio_cancel(-1, NULL), EBADF);
    CHECK_ERR(aio_cancel(-1, &rd), EBADF);
    int closed = dup(S);
    CHECK(closed >= 0);
    close(closed);
    CHECK_ERR(aio_cancel(closed, NULL), EBADF);
    CHECK_ERR(aio_cancel(sv[1], &rd), EINVAL); /* rd.aio_fildes == S != sv[1] */
    CHECK_EQ(aio_error(&rd), EINPROGRESS);

    /* one more queued request left alone: it must run after the read completes */
    t_cb(&fs3, S, "3", 1, 0);
    CHECK_OK(aio_write(&fs3));

    /* complete the running read */
    t_write_all(sv[1], "x", 1);
    CHECK_EQ(t_wait(&rd), 0);
    CHECK_EQ(aio_cancel(S, &rd), AIO_ALLDONE); /* completed, not yet returned */
    CHECK_EQ(aio_error(&rd), 0);               /* cancel did not disturb it */
    CHECK_EQ(aio_return(&rd), 1);
    CHECK_EQ(rb, 'x');
    CHECK_EQ(aio_cancel(S, &rd), AIO_ALLDONE); /* returned → unknown → ALLDONE */
    CHECK_EQ(t_wait_return(&fs3, 0, "queued write"), 1);
    char got = 0;
    t_read_all(sv[1], &got, 1);
    CHECK_EQ(got, '3'); /* only the write that was not cancelled reached the peer */
    CHECK_EQ(aio_cancel(S, NULL), AIO_ALLDONE); /* nothing outstanding */

    /* completed regular-file request → AIO_ALLDONE */
    int fd = t_tmpfile();
    struct aiocb w;
    t_cb(&w, fd, "abc", 3, 0);
    CHECK_OK(aio_write(&w));
    CHECK_EQ(t_wait(&w), 0);
    CHECK_EQ(aio_cancel(fd, &w), AIO_ALLDONE);
    CHECK_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);
    CHECK_EQ(aio_return(&w), 3);
    /* never-submitted aiocb → AIO_ALLDONE */
    struct aiocb never;
    t_cb(&never, fd, "abc", 3, 0);
    CHECK_EQ(aio_cancel(fd, &never), AIO_ALLDONE);

    /* exactly once */
    t_sleep_ms(300);
    CHECK_EQ(thread_notes, 1);
    CHECK_EQ(signal_notes, 1);
    CHECK_EQ(bad_inprogress, 0);
    close(fd);
    close(sv[0]);
    close(sv[1]);
    return T_PASS;
}
