/* fd_reuse: close(), dup2() and dup3() of a descriptor while requests on it are still queued.
 * The queued requests must act on the file the descriptor named at submission, never on the
 * file that holds the number afterwards (glibc bug 14942 writes into the wrong file).
 *
 * One I/O thread (aio_init), held busy by a read from an empty pipe, so that the requests on
 * the file are certainly queued, not running, when the number is reused. */
#include "t.h"

#define N 8
#define LEN 4096

static struct aiocb blocker;
static int pipefd[2];
static char blockbuf[16];

static void hold_the_worker(void)
{
    CHECK_OK(pipe(pipefd));
    t_cb(&blocker, pipefd[0], blockbuf, 1, 0);
    CHECK_OK(aio_read(&blocker));
    t_wait_blocked_read(pipefd[0]);
}

static void release_the_worker(void)
{
    t_write_all(pipefd[1], "x", 1);
    CHECK_EQ(t_wait_return(&blocker, 0, "blocker"), 1);
    close(pipefd[0]);
    close(pipefd[1]);
}

static off_t size_of(int fd)
{
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    return st.st_size;
}

enum how { CLOSE_REOPEN, DUP2, DUP3, APPEND_DUP2 };
static const char *const names[] = { "close+reopen", "dup2", "dup3", "O_APPEND+dup2" };

/* Writes queued on file A's number, then the number is reused for file B. */
static void writes(enum how how)
{
    static char data[N][LEN];
    struct aiocb cb[N];
    int a = t_tmpfile();
    if (how == APPEND_DUP2)
        CHECK_OK(fcntl(a, F_SETFL, O_APPEND));
    int keep_a = dup(a); /* to inspect A afterwards */
    CHECK(keep_a >= 0);
    int b = t_tmpfile();

    hold_the_worker();
    for (int i = 0; i < N; i++) {
        memset(data[i], 'a' + i, LEN);
        t_cb(&cb[i], a, data[i], LEN, (off_t)i * LEN);
        CHECK_OK(aio_write(&cb[i]));
    }
    switch (how) {
    case CLOSE_REOPEN: {
        CHECK_OK(close(a));
        int again = dup(b); /* the lowest free number: a's */
        CHECK_EQ(again, a);
        break;
    }
    case DUP2:
    case APPEND_DUP2:
        CHECK_EQ(dup2(b, a), a);
        break;
    case DUP3:
        CHECK_EQ(dup3(b, a, O_CLOEXEC), a);
        break;
    }
    release_the_worker();
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cb[i], 0, names[how]), LEN);

    if (size_of(b) != 0)
        FAILF("%s: queued writes went into the file that took the number (%lld bytes)", names[how],
              (long long)size_of(b));
    CHECK_EQ(size_of(keep_a), (off_t)N * LEN);
    char got[LEN];
    for (int i = 0; i < N; i++) {
        t_pread_all(keep_a, got, LEN, (off_t)i * LEN);
        if (how == APPEND_DUP2) {
            /* appended in submission order */
            if (memcmp(got, data[i], LEN) != 0)
                FAILF("%s: block %d out of order or wrong", names[how], i);
        } else if (memcmp(got, data[i], LEN) != 0) {
            FAILF("%s: block %d of the original file is wrong", names[how], i);
        }
    }
    close(a);
    close(b);
    close(keep_a);
    t_note("%s: %d queued writes completed on the original file", names[how], N);
}

/* A queued read: the number is dup2'd to a file with other content before it runs. */
static void reads(void)
{
    static char buf[LEN];
    char content_a[LEN], content_b[LEN];
    memset(content_a, 'A', LEN);
    memset(content_b, 'B', LEN);
    int a = t_tmpfile(), b = t_tmpfile();
    t_pwrite_all(a, content_a, LEN, 0);
    t_pwrite_all(b, content_b, LEN, 0);
    /* Not in the page cache would be best, but a cached read may complete inside aio_read:
     * then it trivially read A. The worker is held, so only an inline completion or a
     * correct late one can give 'A'. */
    struct aiocb cb;
    hold_the_worker();
    t_cb(&cb, a, buf, LEN, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(dup2(b, a), a);
    release_the_worker();
    CHECK_EQ(t_wait_return(&cb, 0, "read after dup2"), LEN);
    if (memcmp(buf, content_a, LEN) != 0)
        FAILF("read after dup2: got the new file's bytes ('%c')", buf[0]);
    close(a);
    close(b);
}

/* aio_fsync and aio_cancel on the reused number still behave. */
static void cancel_after_reuse(void)
{
    static char data[LEN];
    int a = t_tmpfile(), b = t_tmpfile();
    struct aiocb cb;
    hold_the_worker();
    t_cb(&cb, a, data, LEN, 0);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(dup2(b, a), a);
    /* The request is still a request on descriptor number a: it can be cancelled by it. */
    int r = aio_cancel(a, &cb);
    CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED || r == AIO_ALLDONE);
    release_the_worker();
    int e = t_wait(&cb);
    CHECK(e == 0 || e == ECANCELED);
    aio_return(&cb);
    CHECK_EQ(size_of(b), 0);
    close(a);
    close(b);
}

int main(void)
{
    t_init("fd_reuse");
    struct aioinit init;
    memset(&init, 0, sizeof init);
    init.aio_threads = 1;
    init.aio_num = 64;
    aio_init(&init);
    writes(CLOSE_REOPEN);
    writes(DUP2);
    writes(DUP3);
    writes(APPEND_DUP2);
    reads();
    cancel_after_reuse();
    return T_PASS;
}
