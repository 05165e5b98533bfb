/* fd_reuse: close(), dup2() and dup3() of a descriptor while requests on it are still queued.
 * The queued requests must act on the file the descriptor named at submission, never on the
 * file that holds the number afterwards (glibc bug 14942 writes into the wrong file). rtaio
 * guarantees this for pipes, sockets and other non-regular files (BEHAVIOUR.md); for regular
 * files it must instead keep the application's fcntl record locks (closing a duplicate of a
 * regular file would drop them), which the last part checks.
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

enum how { CLOSE_REOPEN, DUP2, DUP3 };
static const char *const names[] = { "close+reopen", "dup2", "dup3" };

/* Writes queued on pipe A's write end, then the number is reused for pipe B's write end. */
static void writes(enum how how)
{
    static char data[N][64];
    struct aiocb cb[N];
    int a[2], b[2];
    CHECK_OK(pipe(a));
    CHECK_OK(pipe(b));
    CHECK_OK(fcntl(b[0], F_SETFL, O_NONBLOCK));
    int w = a[1];

    hold_the_worker();
    for (int i = 0; i < N; i++) {
        memset(data[i], 'a' + i, sizeof data[i]);
        t_cb(&cb[i], w, data[i], sizeof data[i], 0);
        CHECK_OK(aio_write(&cb[i]));
    }
    switch (how) {
    case CLOSE_REOPEN: {
        CHECK_OK(close(w));
        CHECK_EQ(dup(b[1]), w); /* the lowest free number: w's */
        break;
    }
    case DUP2:
        CHECK_EQ(dup2(b[1], w), w);
        break;
    case DUP3:
        CHECK_EQ(dup3(b[1], w, O_CLOEXEC), w);
        break;
    }
    release_the_worker();
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cb[i], 0, names[how]), (ssize_t)sizeof data[i]);
    char got[N * 64];
    ssize_t nb = read(b[0], got, sizeof got);
    if (nb > 0)
        FAILF("%s: queued writes went into the pipe that took the number (%zd bytes)", names[how], nb);
    close(w); /* now B's write end; A's other references: rtaio's, gone after completion */
    close(b[1]);
    t_read_all(a[0], got, sizeof got);
    for (int i = 0; i < N; i++)
        if (memchr(got, 'a' + i, sizeof got) == NULL)
            FAILF("%s: write %d missing from the original pipe", names[how], i);
    close(a[0]);
    close(b[0]);
    t_note("%s: %d queued writes went to the original pipe", names[how], N);
}

/* A queued read on a socket: the number is dup2'd to another socket before it runs. */
static void reads(void)
{
    static char buf[16];
    int a[2], b[2];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, a));
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, b));
    struct aiocb cb;
    hold_the_worker();
    t_cb(&cb, a[0], buf, 1, 0);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(dup2(b[0], a[0]), a[0]);
    t_write_all(b[1], "B", 1);
    t_write_all(a[1], "A", 1);
    release_the_worker();
    CHECK_EQ(t_wait_return(&cb, 0, "read after dup2"), 1);
    if (buf[0] != 'A')
        FAILF("read after dup2: got '%c' from the socket that took the number", buf[0]);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* aio_cancel on the reused number still finds the request. */
static void cancel_after_reuse(void)
{
    static char data[64];
    int a[2], b[2];
    CHECK_OK(pipe(a));
    CHECK_OK(pipe(b));
    struct aiocb cb;
    hold_the_worker();
    t_cb(&cb, a[1], data, sizeof data, 0);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(dup2(b[1], a[1]), a[1]);
    int r = aio_cancel(a[1], &cb);
    CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED || r == AIO_ALLDONE);
    release_the_worker();
    int e = t_wait(&cb);
    CHECK(e == 0 || e == ECANCELED);
    aio_return(&cb);
    CHECK_OK(fcntl(b[0], F_SETFL, O_NONBLOCK));
    char got[64];
    CHECK(read(b[0], got, sizeof got) < 0);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* Regular files: the application's fcntl locks survive AIO on the file (a close of any
 * descriptor of the file by the process would release them). */
static void locks_survive(void)
{
    static char data[LEN], buf[LEN];
    int fd = t_tmpfile();
    t_pwrite_all(fd, data, LEN, 0);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    CHECK_OK(fcntl(fd, F_SETLK, &fl));
    struct aiocb cb[4];
    for (int i = 0; i < 4; i++) {
        t_cb(&cb[i], fd, i % 2 ? data : buf, LEN, 0);
        CHECK_OK(i % 2 ? aio_write(&cb[i]) : aio_read(&cb[i]));
    }
    struct aiocb fs;
    t_cb(&fs, fd, NULL, 0, 0);
    CHECK_OK(aio_fsync(O_SYNC, &fs));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(t_wait_return(&cb[i], 0, "locked file"), LEN);
    t_wait_return(&fs, 0, "fsync of locked file");
    t_sleep_ms(50);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct flock q = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        if (fcntl(fd, F_GETLK, &q) != 0)
            _exit(2);
        _exit(q.l_type == F_UNLCK ? 1 : 0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAILF("the application's fcntl lock was released by AIO on the file (child saw %s)",
              WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "no lock" : "an error");
    close(fd);
}

int main(void)
{
    t_init("fd_reuse");
    t_aio_init(1, 64);
    writes(CLOSE_REOPEN);
    writes(DUP2);
    writes(DUP3);
    reads();
    cancel_after_reuse();
    locks_survive();
    return T_PASS;
}
