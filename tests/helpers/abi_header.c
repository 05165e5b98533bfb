/* check-abi.sh: rtaio.h compiles on its own as C11, and its constants equal the library's.
 * check-abi.sh passes the library's values (librt-aio/src/abi.rs) as -DABI_<NAME>=value. */
#include <rtaio.h>
#if !defined(ABI_SIGEV_EVENTFD) || !defined(ABI_LIO_READV) || !defined(ABI_LIO_WRITEV)
#error "compile with -DABI_SIGEV_EVENTFD=... -DABI_LIO_READV=... -DABI_LIO_WRITEV=... (abi.rs)"
#endif
_Static_assert(SIGEV_EVENTFD == ABI_SIGEV_EVENTFD, "SIGEV_EVENTFD");
_Static_assert(LIO_READV == ABI_LIO_READV, "LIO_READV");
_Static_assert(LIO_WRITEV == ABI_LIO_WRITEV, "LIO_WRITEV");
_Static_assert(SIGEV_EVENTFD != SIGEV_SIGNAL && SIGEV_EVENTFD != SIGEV_NONE &&
               SIGEV_EVENTFD != SIGEV_THREAD && SIGEV_EVENTFD != SIGEV_THREAD_ID, "distinct");
_Static_assert(LIO_READV != LIO_READ && LIO_READV != LIO_WRITE && LIO_READV != LIO_NOP &&
               LIO_WRITEV != LIO_READ && LIO_WRITEV != LIO_WRITE && LIO_WRITEV != LIO_NOP, "distinct");
int main(void)
{
    struct aiocb cb = {0};
    struct iovec v[1];
    cb.aio_iov = v;
    cb.aio_iovcnt = 1;
    int (*r)(struct aiocb *) = aio_readv;
    int (*w)(struct aiocb *) = aio_writev;
    int (*reap)(int, struct aiocb **, int) = aio_reap;
    ssize_t (*wc)(struct aiocb **, struct timespec *) = aio_waitcomplete;
    return !(r && w && reap && wc && cb.aio_nbytes == 1);
}
