/* append_position: what glibc's pread/pwrite-based AIO shows around offsets.
 * - An aio_write to an O_APPEND file goes to the end of the file and leaves the file position
 *   where it was (pwrite does not move it).
 * - A read or write at a negative aio_offset fails with EINVAL through aio_error, whatever the
 *   descriptor (a pipe too: nothing is consumed or written), before the descriptor itself is
 *   looked at (a bad descriptor: EINVAL, not EBADF); an O_APPEND write at LLONG_MAX: EINVAL. */
#include "t.h"

static int run(struct aiocb *cb, int write, ssize_t *ret)
{
    CHECK_OK(write ? aio_write(cb) : aio_read(cb));
    int e = t_wait(cb);
    *ret = aio_return(cb);
    return e;
}

int main(void)
{
    t_init("append_position");
    char path[] = "/tmp/rtaio-append-XXXXXX";
    int tmp = mkstemp(path);
    CHECK(tmp >= 0);
    close(tmp);
    int fd = open(path, O_RDWR | O_APPEND);
    CHECK(fd >= 0);
    unlink(path);
    t_write_all(fd, "hello", 5);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    struct aiocb cb;
    ssize_t r;
    t_cb(&cb, fd, "world", 5, 0);
    CHECK_EQ(run(&cb, 1, &r), 0);
    CHECK_EQ(r, 5);
    char got[16] = { 0 };
    t_pread_all(fd, got, 10, 0);
    CHECK(memcmp(got, "helloworld", 10) == 0);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos != 0)
        FAILF("an O_APPEND aio_write moved the file position to %lld (pwrite leaves it at 0)", (long long)pos);

    t_cb(&cb, fd, "neg", 3, -1);
    CHECK_EQ(run(&cb, 1, &r), EINVAL);
    CHECK_EQ(r, -1);
    t_cb(&cb, fd, "max", 3, LLONG_MAX);
    CHECK_EQ(run(&cb, 1, &r), EINVAL);
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK_EQ(st.st_size, 10);
    t_cb(&cb, fd, got, 4, -4096);
    CHECK_EQ(run(&cb, 0, &r), EINVAL);
    close(fd);

    int p[2];
    CHECK_OK(pipe(p));
    t_write_all(p[1], "pipedata", 8);
    char b[8];
    t_cb(&cb, p[0], b, 4, -1);
    CHECK_EQ(run(&cb, 0, &r), EINVAL);
    t_cb(&cb, p[1], "xx", 2, -1);
    CHECK_EQ(run(&cb, 1, &r), EINVAL);
    char all[16];
    CHECK_EQ(read(p[0], all, sizeof all), 8); /* nothing consumed, nothing added */
    CHECK(memcmp(all, "pipedata", 8) == 0);
    close(p[0]);
    close(p[1]);

    t_cb(&cb, -1, b, 4, -1);
    CHECK_EQ(run(&cb, 0, &r), EINVAL);
    return T_PASS;
}
