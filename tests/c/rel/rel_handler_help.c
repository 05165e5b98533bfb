/* rel_handler_help: a signal handler waiting in aio_suspend (async-signal-safe) for the read
 * its thread was waiting for. rtaio lets a thread in aio_suspend run its own queued read
 * (core/help.rs); a signal arriving while it does (a regular file's read is not interrupted:
 * the handler runs when the system call returns, before the status is published) ran a
 * handler that waited for a status only the frame it interrupted could publish, and the pool
 * worker waited for that frame too: a hang. Each round: the file's pages dropped, one 64 KiB
 * read, aio_suspend without a timeout, and a signal 0-400 us after the submission whose
 * handler waits for the same aiocb. Rounds for at most 5 s. */
#include "t.h"
#include <sched.h>

#define FILE_MIB 16
#define LEN (64 << 10)
#define ROUNDS 300
#define BUDGET_S 5.0

static struct aiocb cb;
static _Atomic int round_no, handled, stop, delay_us;
static pthread_t main_thread;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    const struct aiocb *l[1] = { &cb };
    while (aio_error(&cb) == EINPROGRESS)
        aio_suspend(l, 1, NULL);
    handled++;
    errno = saved;
}

static void *sender(void *arg)
{
    (void)arg;
    int last = 0;
    while (!stop) {
        int r;
        while ((r = round_no) == last && !stop)
            sched_yield();
        if (stop)
            break;
        last = r;
        struct timespec ts = { 0, (long)delay_us * 1000 }; /* (drawn by main: one rng user) */
        nanosleep(&ts, NULL);
        pthread_kill(main_thread, SIGUSR1);
    }
    return NULL;
}

int main(void)
{
    t_init("rel_handler_help");
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100, .block_signals = 1,
                                            .stall_msg = "a handler waiting in aio_suspend never returned" });
    int fd = t_tmpfile();
    size_t size = (size_t)FILE_MIB << 20;
    unsigned char *chunk = malloc(1 << 20), *buf = malloc(LEN);
    CHECK(chunk && buf);
    for (int i = 0; i < FILE_MIB; i++) {
        memset(chunk, 'a' + i, 1 << 20);
        t_pwrite_all(fd, chunk, 1 << 20, (off_t)i << 20);
    }
    CHECK_OK(fsync(fd));
    memset(buf, 0, LEN); /* resident */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    CHECK_OK(sigaction(SIGUSR1, &sa, NULL));
    main_thread = pthread_self();
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, sender, NULL));
    double end = t_now() + BUDGET_S;
    int rounds = 0;
    for (int i = 1; i <= ROUNDS && t_now() < end; i++, rounds++) {
        CHECK_OK(posix_fadvise(fd, 0, (off_t)size, POSIX_FADV_DONTNEED));
        off_t off = (off_t)t_rand_below(size / LEN) * LEN;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = buf;
        cb.aio_nbytes = LEN;
        cb.aio_offset = off;
        delay_us = (int)t_rand_below(400);
        CHECK_OK(aio_read(&cb));
        round_no = i;
        const struct aiocb *l[1] = { &cb };
        while (aio_error(&cb) == EINPROGRESS)
            aio_suspend(l, 1, NULL); /* EINTR when the handler ran */
        while (handled != i) /* the signal may come after the read completed */
            sched_yield();
        t_progress();
        CHECK_EQ(aio_error(&cb), 0);
        CHECK_EQ(aio_return(&cb), LEN);
        CHECK(buf[0] == 'a' + (int)(off >> 20) && buf[LEN - 1] == buf[0]);
    }
    stop = 1;
    CHECK_OK(pthread_join(t, NULL));
    t_watchdog_stop();
    t_note("%d rounds", rounds);
    free(chunk);
    free(buf);
    return T_PASS;
}
