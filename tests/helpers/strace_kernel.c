/* strace-kernel.sh: the program it traces. strace_kernel DIR direct|buffered|fork */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 8
#define BS 4096
static int fd;
static unsigned char *data;

static int die(const char *what)
{
    fprintf(stderr, "prog: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int wait_one(struct aiocb *cb)
{
    const struct aiocb *l[1] = { cb };
    while (aio_error(cb) == EINPROGRESS)
        aio_suspend(l, 1, NULL);
    int e = aio_error(cb);
    ssize_t r = aio_return(cb);
    return e == 0 ? (int)r : -e;
}

/* 8 reads in one lio_listio(LIO_WAIT), data checked */
static int list_reads(void)
{
    static struct aiocb cbs[N];
    struct aiocb *l[N];
    unsigned char *b;
    if (posix_memalign((void **)&b, BS, N * BS))
        die("posix_memalign");
    memset(b, 0, N * BS);
    for (int i = 0; i < N; i++) {
        memset(&cbs[i], 0, sizeof cbs[i]);
        cbs[i].aio_fildes = fd;
        cbs[i].aio_buf = b + i * BS;
        cbs[i].aio_nbytes = BS;
        cbs[i].aio_offset = (off_t)(N - 1 - i) * BS; /* block N-1-i */
        cbs[i].aio_lio_opcode = LIO_READ;
        cbs[i].aio_sigevent.sigev_notify = SIGEV_NONE;
        l[i] = &cbs[i];
    }
    if (lio_listio(LIO_WAIT, l, N, NULL) != 0)
        die("lio_listio");
    for (int i = 0; i < N; i++) {
        if (aio_return(&cbs[i]) != BS || memcmp(b + i * BS, data + (N - 1 - i) * BS, BS)) {
            fprintf(stderr, "prog: read %d: wrong result or data\n", i);
            exit(1);
        }
    }
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int direct = strcmp(argv[2], "buffered") != 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/strace-kernel-XXXXXX", argv[1]);
    int t = mkstemp(path);
    if (t < 0)
        die("mkstemp");
    fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
    unlink(path);
    close(t);
    if (fd < 0)
        die("open");
    if (posix_memalign((void **)&data, BS, N * BS))
        die("posix_memalign");
    for (int i = 0; i < N * BS; i++)
        data[i] = (unsigned char)(i * 7 + i / BS);
    if (pwrite(fd, data, N * BS, 0) != N * BS)
        die("pwrite");
    printf("FD=%d SECURE=%lu PID=%d\n", fd, getauxval(AT_SECURE), (int)getpid());
    fflush(stdout);
    list_reads();
    if (!strcmp(argv[2], "fork")) {
        pid_t p = fork();
        if (p < 0)
            die("fork");
        if (p == 0) {
            printf("CHILD=%d\n", (int)getpid());
            fflush(stdout);
            list_reads();
            _exit(0);
        }
        int st;
        if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "prog: child failed\n");
            return 1;
        }
        list_reads();
    }
    struct aiocb fs;
    memset(&fs, 0, sizeof fs);
    fs.aio_fildes = fd;
    fs.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_fsync(O_SYNC, &fs) != 0 || wait_one(&fs) != 0)
        die("aio_fsync(O_SYNC)");
    memset(&fs, 0, sizeof fs);
    fs.aio_fildes = fd;
    fs.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_fsync(O_DSYNC, &fs) != 0 || wait_one(&fs) != 0)
        die("aio_fsync(O_DSYNC)");
    printf("OK\n");
    return 0;
}
