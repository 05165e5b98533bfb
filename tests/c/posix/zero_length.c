/* zero_length: reads and writes of 0 bytes report what glibc's do, which is what pread/pwrite
 * (or read/write, where the descriptor cannot seek) answer for 0 bytes: the file is asked
 * (a directory: EISDIR, an eventfd: EINVAL, /dev/full: ENOSPC, a regular file: 0). The
 * expected answer is taken from those calls themselves, made here first. */
#include "t.h"
#include <sys/eventfd.h>

static char buf[1];

/* What glibc's AIO makes of it: pread/pwrite, then read/write on ESPIPE. */
static int direct(int fd, int wr)
{
    ssize_t r = wr ? pwrite(fd, buf, 0, 0) : pread(fd, buf, 0, 0);
    if (r < 0 && errno == ESPIPE)
        r = wr ? write(fd, buf, 0) : read(fd, buf, 0);
    return r < 0 ? errno : 0;
}

static void check(int fd, int write, const char *what)
{
    int want = direct(fd, write);
    struct aiocb cb;
    t_cb(&cb, fd, buf, 0, 0);
    CHECK_OK(write ? aio_write(&cb) : aio_read(&cb));
    int e = t_wait(&cb);
    ssize_t r = aio_return(&cb);
    if (e != want)
        FAILF("%s %s of 0 bytes: aio_error %d (%s), the system call answers %d (%s)", what, write ? "write" : "read",
              e, strerror(e), want, strerror(want));
    CHECK_EQ(r, want ? -1 : 0);
}

int main(void)
{
    t_init("zero_length");
    int f = t_tmpfile();
    check(f, 0, "regular file");
    check(f, 1, "regular file");
    close(f);
    int d = open("/tmp", O_RDONLY | O_DIRECTORY);
    CHECK(d >= 0);
    check(d, 0, "directory");
    close(d);
    int e = eventfd(0, 0);
    CHECK(e >= 0);
    check(e, 0, "eventfd");
    check(e, 1, "eventfd");
    close(e);
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        check(full, 1, "/dev/full");
        close(full);
    }
    int p[2];
    CHECK_OK(pipe(p));
    check(p[0], 0, "pipe");
    check(p[1], 1, "pipe");
    close(p[0]);
    close(p[1]);
    return T_PASS;
}
