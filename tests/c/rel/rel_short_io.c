/* rel_short_io: short transfers are reported as the system call reported them, never retried
 * into something else, never an error when some bytes moved (BEHAVIOUR.md: aio_return is
 * what one pread/pwrite returns).
 *  - buffered read across end of file → the bytes up to EOF; entirely past EOF → 0;
 *  - O_DIRECT read (kernel backend) across end of file → the bytes up to EOF, rounded as the
 *    kernel does (when TMPDIR takes O_DIRECT);
 *  - pipe read with fewer bytes available than asked → what was there;
 *  - write across RLIMIT_FSIZE (SIGXFSZ ignored) → the bytes below the limit, written; a write
 *    starting at the limit → EFBIG; the file holds exactly the short write's bytes
 *    (in a child: the limit is per process);
 *  - the same write, linked into lio_listio(LIO_WAIT): the short count is its aio_return and
 *    the list returns 0 (a short transfer is not an error). */
#include "t.h"
#include <sys/resource.h>

static void buffered_eof(void)
{
    int fd = t_tmpfile();
    char data[1000], buf[4096];
    t_fill_random(data, sizeof data);
    t_pwrite_all(fd, data, sizeof data, 0);
    struct aiocb cb;
    t_cb(&cb, fd, buf, sizeof buf, 600);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "read across EOF"), 400);
    CHECK(memcmp(buf, data + 600, 400) == 0);
    t_cb(&cb, fd, buf, sizeof buf, 5000);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "read past EOF"), 0);
    close(fd);
}

static void direct_eof(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/rtaio-short-XXXXXX", dir && *dir ? dir : "/tmp");
    int wfd = mkstemp(path);
    CHECK(wfd >= 0);
    static char data[3 * 4096 + 100];
    t_fill_random(data, sizeof data);
    t_pwrite_all(wfd, data, sizeof data, 0);
    CHECK_OK(fsync(wfd));
    int fd = open(path, O_RDONLY | O_DIRECT);
    unlink(path);
    close(wfd);
    if (fd < 0) {
        t_note("O_DIRECT not supported in %s: direct part skipped", dir ? dir : "/tmp");
        return;
    }
    void *buf;
    CHECK_OK(posix_memalign(&buf, 4096, 4 * 4096));
    struct aiocb cb;
    t_cb(&cb, fd, buf, 4 * 4096, 0);
    CHECK_OK(aio_read(&cb));
    ssize_t n = t_wait_return(&cb, 0, "O_DIRECT read across EOF");
    CHECK_EQ(n, (ssize_t)sizeof data);
    CHECK(memcmp(buf, data, sizeof data) == 0);
    t_cb(&cb, fd, buf, 4096, 8 * 4096);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "O_DIRECT read past EOF"), 0);
    free(buf);
    close(fd);
}

static void pipe_short(void)
{
    int p[2];
    CHECK_OK(pipe(p));
    char buf[100];
    struct aiocb cb;
    t_cb(&cb, p[0], buf, sizeof buf, 0);
    CHECK_OK(aio_read(&cb));
    t_write_all(p[1], "0123456789", 10);
    CHECK_EQ(t_wait_return(&cb, 0, "pipe read of 100 with 10 available"), 10);
    CHECK(memcmp(buf, "0123456789", 10) == 0);
    close(p[0]);
    close(p[1]);
}

static int fsize_child(void)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { 10000, 10000 };
    CHECK_OK(setrlimit(RLIMIT_FSIZE, &rl));
    int fd = t_tmpfile();
    static char data[8192];
    t_fill_random(data, sizeof data);
    struct aiocb cb;
    t_cb(&cb, fd, data, sizeof data, 4096);
    CHECK_OK(aio_write(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "write across RLIMIT_FSIZE"), 10000 - 4096);
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK_EQ(st.st_size, 10000);
    static char back[10000 - 4096];
    t_pread_all(fd, back, sizeof back, 4096);
    CHECK(memcmp(back, data, sizeof back) == 0);

    t_cb(&cb, fd, data, 100, 10000);
    CHECK_OK(aio_write(&cb));
    t_wait_return(&cb, EFBIG, "write at RLIMIT_FSIZE");

    /* the same short write inside a list */
    CHECK_OK(ftruncate(fd, 0));
    struct aiocb e[2];
    static char small[100];
    t_cb(&e[0], fd, data, sizeof data, 4096);
    e[0].aio_lio_opcode = LIO_WRITE;
    t_cb(&e[1], fd, small, sizeof small, 0);
    e[1].aio_lio_opcode = LIO_WRITE;
    struct aiocb *l[2] = { &e[0], &e[1] };
    CHECK_OK(lio_listio(LIO_WAIT, l, 2, NULL));
    CHECK_EQ(aio_error(&e[0]), 0);
    CHECK_EQ(aio_return(&e[0]), 10000 - 4096);
    CHECK_EQ(aio_error(&e[1]), 0);
    CHECK_EQ(aio_return(&e[1]), (ssize_t)sizeof small);
    close(fd);
    return T_PASS;
}

int main(void)
{
    t_init("rel_short_io");
    /* the RLIMIT_FSIZE part first, forked while this process has no thread yet (TSan cannot
     * start threads in a child forked from a multi-threaded process) */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(fsize_child());
    int st;
    if (t_wait_child(pid, T_DEADLINE_S, &st) != 0)
        FAILF("RLIMIT_FSIZE child did not finish within %.0f s", T_DEADLINE_S);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAILF("RLIMIT_FSIZE child: status %d", st);
    buffered_eof();
    direct_eof();
    pipe_short();
    return T_PASS;
}
