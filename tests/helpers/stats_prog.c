/* tests/stats.sh: known request mixes for RTAIO_STATS to count.
 *   stats_prog MODE FILE [ARG]
 * Modes (every request is checked; any failure exits 1 with a message on stderr):
 *   lio8      8 reads of 4096 bytes in one lio_listio(LIO_WAIT)
 *   lio8d     the same, the file opened O_DIRECT (aligned buffers)
 *   range     O_DIRECT: 1 aio_read whose end is past the largest offset (status EINVAL), then lio8d
 *   mix       4 writes, 1 aio_fsync(O_SYNC), 1 aio_fsync(O_DSYNC), 8 reads (lio_listio)
 *   ebadf     1 aio_read on a descriptor that is not open: its status is EBADF
 *   notify    2 reads with SIGEV_SIGNAL, 1 with SIGEV_THREAD, 1 with SIGEV_NONE
 *   signal    lio8, then raise(ARG) (RTAIO_STATS_SIGNAL), then 3 more reads (lio_listio)
 *   fork      lio8; then a child does 2 reads and exits; the parent waits for it
 *   interval  lio8, then waits (30 s at most) until the stats file ARG holds an interval report
 *   qd1w      200 writes, one at a time, each waited for with aio_suspend (no timeout)
 *   qd8r      20 rounds of 8 reads of 4096 bytes in flight (aio_read each, then all waited for)
 *   qd8r16    the same with reads of 16384 bytes
 * Prints "pid N" (and "child N" for fork) and "secure N" (getauxval(AT_SECURE)) on stdout. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define N 8
#define BIG (4 * BS) /* qd8r16's reads; the file and the buffer hold N of them */
static int fd;
static unsigned char *buf;

static void die(const char *what)
{
    fprintf(stderr, "stats_prog: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void wait_one(struct aiocb *cb, long want)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS)
        aio_suspend(l, 1, NULL);
    int e = aio_error(cb);
    ssize_t r = aio_return(cb);
    if (want < 0 ? e != -want : (e != 0 || r != want)) {
        fprintf(stderr, "stats_prog: status %d/%zd, expected %ld\n", e, r, want);
        exit(1);
    }
}

/* n reads of BS bytes in one lio_listio(LIO_WAIT) */
static void list_reads(int n)
{
    struct aiocb cbs[N];
    struct aiocb *l[N];
    memset(cbs, 0, sizeof cbs);
    for (int i = 0; i < n; i++) {
        cbs[i].aio_fildes = fd;
        cbs[i].aio_buf = buf + (size_t)i * BS;
        cbs[i].aio_nbytes = BS;
        cbs[i].aio_offset = (off_t)i * BS;
        cbs[i].aio_lio_opcode = LIO_READ;
        l[i] = &cbs[i];
    }
    if (lio_listio(LIO_WAIT, l, n, NULL))
        die("lio_listio");
    for (int i = 0; i < n; i++)
        wait_one(&cbs[i], BS);
}

static void one(int op, int fsync_op, struct sigevent *ev, long want)
{
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = BS;
    if (ev)
        cb.aio_sigevent = *ev;
    int r = fsync_op ? aio_fsync(fsync_op, &cb) : op == LIO_READ ? aio_read(&cb) : aio_write(&cb);
    if (r)
        die("submit");
    wait_one(&cb, want);
}

static void on_signal(int s)
{
    (void)s;
}

static atomic_int called;
static void on_thread(union sigval v)
{
    (void)v;
    atomic_fetch_add(&called, 1);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: stats_prog MODE FILE [ARG]\n");
        return 2;
    }
    const char *mode = argv[1];
    int direct = !strcmp(mode, "lio8d") || !strcmp(mode, "range");
    if (posix_memalign((void **)&buf, BS, (size_t)N * BIG))
        die("posix_memalign");
    memset(buf, 'x', (size_t)N * BIG);
    int wfd = open(argv[2], O_RDWR | O_CREAT, 0644);
    if (wfd < 0 || pwrite(wfd, buf, (size_t)N * BIG, 0) != N * BIG || fsync(wfd))
        die("prepare the file");
    close(wfd);
    fd = open(argv[2], O_RDWR | (direct ? O_DIRECT : 0));
    if (fd < 0)
        die("open");
    printf("pid %d\nsecure %lu\n", (int)getpid(), getauxval(AT_SECURE));
    fflush(stdout);

    if (!strcmp(mode, "lio8") || direct) {
        if (!strcmp(mode, "range")) {
            struct aiocb cb;
            memset(&cb, 0, sizeof cb);
            cb.aio_fildes = fd;
            cb.aio_buf = buf;
            cb.aio_nbytes = BS;
            cb.aio_offset = (off_t)(INT64_MAX / BS * BS);
            if (aio_read(&cb))
                die("aio_read");
            wait_one(&cb, -EINVAL);
        }
        list_reads(N);
    } else if (!strcmp(mode, "mix")) {
        for (int i = 0; i < 4; i++)
            one(LIO_WRITE, 0, NULL, BS);
        one(0, O_SYNC, NULL, 0);
        one(0, O_DSYNC, NULL, 0);
        list_reads(N);
    } else if (!strcmp(mode, "qd1w")) {
        for (int i = 0; i < 200; i++)
            one(LIO_WRITE, 0, NULL, BS);
    } else if (!strcmp(mode, "qd8r") || !strcmp(mode, "qd8r16")) {
        size_t len = strcmp(mode, "qd8r") ? BIG : BS;
        struct aiocb cbs[N];
        memset(cbs, 0, sizeof cbs);
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < N; i++) {
                cbs[i].aio_fildes = fd;
                cbs[i].aio_buf = buf + (size_t)i * len;
                cbs[i].aio_nbytes = len;
                cbs[i].aio_offset = (off_t)((size_t)i * len);
                if (aio_read(&cbs[i]))
                    die("aio_read");
            }
            for (int i = 0; i < N; i++)
                wait_one(&cbs[i], (long)len);
        }
    } else if (!strcmp(mode, "ebadf")) {
        int bad = dup(fd);
        close(bad);
        struct aiocb cb;
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = bad;
        cb.aio_buf = buf;
        cb.aio_nbytes = BS;
        int r = aio_read(&cb);
        if (r == 0)
            wait_one(&cb, -EBADF);
        else if (errno != EBADF)
            die("aio_read on a closed descriptor");
    } else if (!strcmp(mode, "notify")) {
        signal(SIGUSR1, on_signal); /* any thread may take it (SIGEV_THREAD's run unblocked) */
        struct sigevent sig = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
        struct sigevent thr = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_thread };
        struct sigevent none = { .sigev_notify = SIGEV_NONE };
        one(LIO_READ, 0, &sig, BS);
        one(LIO_READ, 0, &sig, BS);
        one(LIO_READ, 0, &thr, BS);
        one(LIO_READ, 0, &none, BS);
        for (int i = 0; i < 3000 && atomic_load(&called) == 0; i++)
            usleep(10000);
        if (atomic_load(&called) != 1)
            die("the SIGEV_THREAD callback did not run");
    } else if (!strcmp(mode, "signal")) {
        list_reads(N);
        if (argc < 4 || raise(atoi(argv[3])))
            die("raise");
        list_reads(3);
    } else if (!strcmp(mode, "fork")) {
        list_reads(N);
        fflush(stdout);
        pid_t c = fork();
        if (c < 0)
            die("fork");
        if (c == 0) {
            list_reads(2);
            exit(0);
        }
        int st;
        if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("the child failed");
        printf("child %d\n", (int)c);
    } else if (!strcmp(mode, "interval")) {
        list_reads(N);
        if (argc < 4)
            die("interval: no stats file");
        for (int i = 0; i < 3000; i++) {
            char text[65536];
            int sfd = open(argv[3], O_RDONLY);
            ssize_t n = sfd < 0 ? 0 : read(sfd, text, sizeof text - 1);
            if (sfd >= 0)
                close(sfd);
            text[n > 0 ? n : 0] = 0;
            if (strstr(text, "interval"))
                return 0;
            usleep(10000);
        }
        errno = ETIMEDOUT;
        die("no interval report in 30 s");
    } else {
        fprintf(stderr, "stats_prog: unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
