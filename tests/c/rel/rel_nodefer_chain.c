/* rel_nodefer_chain: the classic read chain, driven by SIGEV_SIGNAL with an SA_NODEFER handler
 * that takes the result and submits the next read of a page-cached file. Such a read
 * completes in aio_read and its signal is sent from the calling thread: the handler ran
 * inside the previous handler's aio_read, one level deeper per read, and the stack
 * overflowed (between 2048 and 4096 levels in 8 MiB). 16384 reads of 512 bytes. */
#include "t.h"

#define CHUNK 512
#define CHUNKS 16384

static struct aiocb cb;
static int fd;
static char buf[CHUNK];
static _Atomic int done, bad;
static long total;

static void submit(int i)
{
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = CHUNK;
    cb.aio_offset = (off_t)i * CHUNK;
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = SIGRTMIN + 2;
    cb.aio_sigevent.sigev_value.sival_int = i;
    if (aio_read(&cb) != 0)
        bad++;
}

static void on_done(int s, siginfo_t *si, void *uc)
{
    (void)s;
    (void)uc;
    int saved = errno;
    int i = si->si_value.sival_int;
    if (aio_error(&cb) != 0 || aio_return(&cb) != CHUNK || buf[0] != (char)('a' + i % 26))
        bad++;
    total += CHUNK;
    if (i + 1 < CHUNKS)
        submit(i + 1);
    else
        done = 1;
    errno = saved;
}

int main(void)
{
    t_init("rel_nodefer_chain");
    fd = t_tmpfile();
    static char data[CHUNKS][CHUNK];
    for (int i = 0; i < CHUNKS; i++)
        memset(data[i], 'a' + i % 26, CHUNK);
    t_pwrite_all(fd, data, sizeof data, 0); /* in the page cache */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_done;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGRTMIN + 2, &sa, NULL));
    submit(0);
    double end = t_now() + T_DEADLINE_S;
    while (!done && !bad) {
        if (t_now() > end)
            FAILF("after %.0f s: %ld bytes of %ld read", T_DEADLINE_S, total, (long)sizeof data);
        t_sleep_ms(2);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(total, (long)sizeof data);
    close(fd);
    return T_PASS;
}
