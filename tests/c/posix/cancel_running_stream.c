/* cancel_running_stream: aio_cancel of a write to a socket that is in progress (part of it
 * sent, the rest waiting for room). POSIX: AIO_CANCELED if the request was cancelled (its
 * status then ECANCELED), AIO_NOTCANCELED if it could not be (it is in progress; it completes
 * normally, its status is then what it did); AIO_ALLDONE only if it had completed before the
 * call, which a write waiting for room had not. glibc answers AIO_NOTCANCELED; rtaio on
 * io_uring asks the kernel, which may stop the write after a part: still not "all done".
 * Whatever the answer, the bytes the reader gets are exactly what the status reports. */
#include "t.h"

#define BIG (1 << 20)

static int rd;
static long received;

static void *drain(void *arg)
{
    (void)arg;
    static char b[65536];
    ssize_t n;
    while ((n = read(rd, b, sizeof b)) > 0)
        received += n;
    return NULL;
}

int main(void)
{
    t_init("cancel_running_stream");
    static char big[BIG];
    memset(big, 'w', sizeof big);
    for (int round = 0; round < 3; round++) {
        int sv[2];
        CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
        int small = 4096;
        CHECK_OK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small));
        struct aiocb cb;
        t_cb(&cb, sv[0], big, sizeof big, 0);
        CHECK_OK(aio_write(&cb));
        /* In progress, part of it sent: the receiver holds bytes, and the write waits. */
        double end = t_now() + T_DEADLINE_S;
        int queued = 0;
        while (queued == 0) {
            CHECK(t_now() < end);
            CHECK_OK(ioctl(sv[1], FIONREAD, &queued));
            if (queued == 0)
                t_sleep_ms(5);
        }
        t_sleep_ms(20);
        CHECK_EQ(aio_error(&cb), EINPROGRESS);
        int r = aio_cancel(sv[0], &cb);
        if (r == AIO_ALLDONE)
            FAILF("round %d: aio_cancel of a write in progress answered AIO_ALLDONE", round);
        CHECK(r == AIO_CANCELED || r == AIO_NOTCANCELED);
        rd = sv[1];
        received = 0;
        pthread_t t;
        CHECK_OK(pthread_create(&t, NULL, drain, NULL));
        int e = t_wait(&cb);
        ssize_t v = aio_return(&cb);
        CHECK_OK(shutdown(sv[0], SHUT_WR));
        CHECK_OK(pthread_join(t, NULL));
        if (r == AIO_CANCELED) {
            if (e != ECANCELED)
                FAILF("round %d: AIO_CANCELED, but the status is %d (%s)", round, e, strerror(e));
            CHECK_EQ(v, -1);
        } else {
            if (e != 0)
                FAILF("round %d: AIO_NOTCANCELED, but the status is %d (%s)", round, e, strerror(e));
            CHECK(v > 0 && v <= BIG);
            if (received != v)
                FAILF("round %d: the write reported %zd bytes, the reader got %ld", round, v, received);
        }
        close(sv[0]);
        close(sv[1]);
    }
    return T_PASS;
}
