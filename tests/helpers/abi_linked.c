/* check-abi.sh: a program linked with -lrtaio. It must record NEEDED librtaio.so.1, load it
 * from $RTAIO_LIBDIR and use it: exit 0 only on rtaio's answer. */
#include <aio.h>
#include <errno.h>
#include <string.h>
int main(void)
{
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    /* never submitted: rtaio says EINVAL (glibc would say 0) */
    return (aio_error(&cb) == -1 && errno == EINVAL) ? 0 : 3;
}
