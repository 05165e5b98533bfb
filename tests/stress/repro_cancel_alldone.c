/* repro_cancel_alldone: aio_cancel(fd, cb) returns AIO_ALLDONE while aio_error(cb) is still
 * EINPROGRESS.
 *
 * BEHAVIOUR.md "aio_cancel": AIO_ALLDONE "if it already completed or is not a request rtaio
 * knows" (POSIX: "All of the operations have already completed"). So right after AIO_ALLDONE
 * the status must be final: aio_error != EINPROGRESS, and aio_return must succeed.
 *
 * Method: one aio_write (thread pool) at a time on a buffered file; the submitting thread calls
 * aio_cancel(fd, cb) in a tight loop until it stops returning AIO_NOTCANCELED, then checks
 * aio_error at once. The pool worker's completion removes the request from the descriptor
 * table before it publishes the status (then runtime.rs, finish_one: "table, then status"), and a
 * cancel that lands in between finds no request and answers AIO_ALLDONE.
 * Found by tests/stress/stress.c; fixed by commit 515db1c (the completer now publishes the
 * status and marks the request DONE before it leaves the table); kept as a regression check
 * (tests/run-stress.sh --repro). Exit 0: not reproduced in ROUNDS rounds; 1: reproduced. */
#include "t.h"

#define ROUNDS 200000

int main(void)
{
    t_init("repro_cancel_alldone");
    int fd = t_tmpfile();
    static char buf[512];
    memset(buf, 'x', sizeof buf);
    int hits = 0, alldone = 0;
    double end = t_now() + 20;
    for (int i = 0; i < ROUNDS && t_now() < end; i++) {
        struct aiocb cb;
        t_cb(&cb, fd, buf, sizeof buf, (off_t)(i % 64) * 512);
        CHECK_OK(aio_write(&cb));
        int r;
        do
            r = aio_cancel(fd, &cb);
        while (r == AIO_NOTCANCELED);
        int e = aio_error(&cb); /* immediately after aio_cancel */
        if (r == AIO_ALLDONE) {
            alldone++;
            if (e == EINPROGRESS) {
                errno = 0;
                ssize_t rr = aio_return(&cb);
                if (hits++ == 0)
                    t_note("round %d: aio_cancel = AIO_ALLDONE, then aio_error = EINPROGRESS, "
                           "aio_return = %zd errno %d (%s)",
                           i, rr, errno, strerror(errno));
            }
        }
        t_wait(&cb);
        aio_return(&cb);
    }
    if (hits) {
        fprintf(stderr,
                "repro_cancel_alldone: FAIL: %d of %d AIO_ALLDONE answers came while the request "
                "was still EINPROGRESS\n",
                hits, alldone);
        return T_FAIL;
    }
    t_note("not reproduced (%d AIO_ALLDONE answers, all with a final status)", alldone);
    return T_PASS;
}
