/* rel_help: a thread waiting in aio_suspend (no timeout) for the request it queued last runs
 * it itself if no worker has taken it yet (BEHAVIOUR.md "aio_suspend runs its own request");
 * the worker that pops it later finishes it. Nothing of that may show but the speed:
 *
 * Part 1: 2000 round trips at depth 1 (a write of random bytes at a random block, then its
 *         read), each waited for with aio_suspend(NULL): every status, return value and byte
 *         is the one pwrite/pread would give, and aio_cancel of a completed one (and of the
 *         whole descriptor) answers AIO_ALLDONE.
 * Part 2: the fsync barrier across threads: one thread loops write + aio_suspend(NULL) on the
 *         descriptor while another loops aio_fsync(O_DSYNC) + aio_suspend(NULL) on it: an
 *         fsync held back behind a write the writer ran itself is released (no hang: the
 *         watchdog fails the test if either stops moving).
 * Part 3: 40 threads each do 10 round trips and exit (the per-thread slot is let go at exit:
 *         ASan's leak check, under tests/sanitize.sh).
 * Part 4: fork after helped requests: the child (whose copy of the slot names the parent's
 *         request) does its own round trips, and the parent goes on.
 * Part 5: a request with a notification, one in a list, a read into a buffer that is not
 *         resident yet: not run by the waiter, and complete all the same. */
#include "t.h"
#include <stdatomic.h>
#include <sys/mman.h>

#define BS 4096
#define BLOCKS 512 /* part 3 writes 400 distinct blocks at once */

static int fd;

static void wait_null(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS) {
        t_progress();
        if (aio_suspend(l, 1, NULL) != 0 && errno != EINTR)
            FAILF("aio_suspend(NULL): %s", strerror(errno));
    }
}

static void round_trip(int f, off_t off, unsigned seed)
{
    unsigned char out[BS], in[BS];
    for (int i = 0; i < BS; i++)
        out[i] = (unsigned char)(seed * 131 + i * 7);
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = f;
    cb.aio_buf = out;
    cb.aio_nbytes = BS;
    cb.aio_offset = off;
    CHECK_OK(aio_write(&cb));
    wait_null(&cb);
    CHECK_EQ(aio_error(&cb), 0);
    CHECK_EQ(aio_return(&cb), BS);
    memset(in, 0, sizeof in);
    cb.aio_buf = in;
    CHECK_OK(aio_read(&cb));
    wait_null(&cb);
    CHECK_EQ(aio_error(&cb), 0);
    CHECK_EQ(aio_return(&cb), BS);
    if (memcmp(in, out, BS) != 0)
        FAILF("block at %lld: the read did not return what the write wrote", (long long)off);
    /* its status is final: nothing to cancel */
    CHECK_EQ(aio_cancel(f, &cb), AIO_ALLDONE);
}

static _Atomic int stop_writer;

static void *writer(void *arg)
{
    (void)arg;
    unsigned i = 0;
    while (!atomic_load(&stop_writer)) {
        round_trip(fd, (off_t)(i % BLOCKS) * BS, i);
        i++;
    }
    return NULL;
}

static void *short_lived(void *arg)
{
    long k = (long)arg;
    for (int i = 0; i < 10; i++)
        round_trip(fd, (off_t)((k * 10 + i) % BLOCKS) * BS, (unsigned)(k * 100 + i));
    return NULL;
}

static _Atomic int notified;
static void on_note(union sigval v)
{
    (void)v;
    atomic_fetch_add(&notified, 1);
}

int main(void)
{
    struct t_watchdog wd = { .secs = 30, .block_signals = 1 };
    t_watchdog_start(&wd);
    fd = t_tmpfile();
    static unsigned char zero[BS * BLOCKS];
    t_pwrite_all(fd, zero, sizeof zero, 0);

    t_phase("part 1: round trips at depth 1");
    for (unsigned i = 0; i < 2000; i++)
        round_trip(fd, (off_t)t_rand_below(BLOCKS) * BS, i);
    CHECK_EQ(aio_cancel(fd, NULL), AIO_ALLDONE);

    t_phase("part 2: fsyncs behind writes the writer ran itself");
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, writer, NULL), 0);
    for (int i = 0; i < 300; i++) {
        struct aiocb s;
        memset(&s, 0, sizeof s);
        s.aio_fildes = fd;
        CHECK_OK(aio_fsync(O_DSYNC, &s));
        wait_null(&s);
        CHECK_EQ(aio_error(&s), 0);
        CHECK_EQ(aio_return(&s), 0);
    }
    atomic_store(&stop_writer, 1);
    CHECK_EQ(pthread_join(w, NULL), 0);

    t_phase("part 3: short-lived threads");
    pthread_t th[40];
    for (long k = 0; k < 40; k++)
        CHECK_EQ(pthread_create(&th[k], NULL, short_lived, (void *)k), 0);
    for (int k = 0; k < 40; k++)
        CHECK_EQ(pthread_join(th[k], NULL), 0);

    t_phase("part 4: fork");
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    /* TSan: "starting new threads after multi-threaded fork is not supported"; gcc 12's ASan
     * takes no allocator locks around fork (tests/sanitize.sh, ASAN_FORK). */
    t_note("part 4 (fork) skipped under the sanitizers");
#else
    round_trip(fd, 0, 7);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        for (unsigned i = 0; i < 200; i++)
            round_trip(fd, (off_t)(BLOCKS / 2 + i % (BLOCKS / 2)) * BS, i + 5000);
        _exit(0);
    }
    CHECK(pid > 0);
    for (unsigned i = 0; i < 200; i++)
        round_trip(fd, (off_t)(i % (BLOCKS / 2)) * BS, i + 9000);
    int status;
    CHECK_EQ(t_wait_child(pid, 30, &status), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif

    t_phase("part 5: requests the waiter does not run");
    unsigned char buf[BS];
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = BS;
    cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
    cb.aio_sigevent.sigev_notify_function = on_note;
    for (int i = 0; i < 50; i++) {
        CHECK_OK(aio_write(&cb));
        wait_null(&cb);
        CHECK_EQ(aio_return(&cb), BS);
    }
    t_wait_atomic(&notified, 50, "SIGEV_THREAD notifications");
    struct aiocb *list[1] = { &cb };
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    cb.aio_lio_opcode = LIO_WRITE;
    for (int i = 0; i < 50; i++) {
        CHECK_OK(lio_listio(LIO_NOWAIT, list, 1, NULL));
        wait_null(&cb);
        CHECK_EQ(aio_return(&cb), BS);
    }
    /* a fresh mapping: its pages are not resident until touched */
    unsigned char *fresh = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(fresh != MAP_FAILED);
    cb.aio_buf = fresh;
    CHECK_OK(aio_read(&cb));
    wait_null(&cb);
    CHECK_EQ(aio_return(&cb), BS);
    CHECK_EQ(memcmp(fresh, buf, BS), 0);
    munmap(fresh, BS);
    t_watchdog_stop();
    return T_PASS;
}
