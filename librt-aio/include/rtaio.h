/* rtaio.h — rtaio's extensions to POSIX asynchronous I/O.
 *
 * rtaio (librtaio.so) implements the standard <aio.h> functions; this header adds four
 * functions and three constants for event-driven programs. Nothing here changes what the
 * standard functions do for requests that do not use these extensions. Link with -lrtaio.
 *
 *   SIGEV_EVENTFD     completions counted on an eventfd and queued for aio_reap()
 *   aio_reap()        take completed aiocbs off an eventfd's queue
 *   aio_waitcomplete  wait for the next completed request (FreeBSD)
 *   aio_readv/writev  vectored requests, LIO_READV/LIO_WRITEV in lio_listio (FreeBSD)
 *
 * Manual pages: aio_reap(3), aio_waitcomplete(3), aio_readv(3), rtaio(7). */
#ifndef RTAIO_H
#define RTAIO_H 1

#include <aio.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define RTAIO_VERSION_MAJOR 0
#define RTAIO_VERSION_MINOR 1

/* sigev_notify value: on completion, add 1 to the eventfd in sigev_signo and append the aiocb
 * to the completion queue rtaio keeps for that eventfd (read it with aio_reap). Accepted by
 * aio_read, aio_write, aio_fsync, aio_readv, aio_writev and in the aiocbs of lio_listio; as the
 * list sigevent of lio_listio(LIO_NOWAIT) it adds 1 once, when the whole list has completed,
 * and queues nothing (each entry's own aio_sigevent says whether that entry is queued).
 * The submission (or lio_listio, for the list sigevent) fails with EINVAL if sigev_signo is
 * not an eventfd, EBADF if it is not open. rtaio writes through its own duplicate of the
 * eventfd, held while completions for it are in flight or unreaped; completions still queued
 * when the eventfd's number is reused for another eventfd are discarded. Remove the eventfd
 * from epoll sets (EPOLL_CTL_DEL) before closing it. No Linux SIGEV_* uses this value. */
#define SIGEV_EVENTFD 0x4000

/* lio_opcode values for vectored entries of lio_listio (aio_buf: the iovec array,
 * aio_nbytes: the number of iovecs). FreeBSD's LIO_VECTORED | LIO_READ/LIO_WRITE. */
#define LIO_VECTORED 4
#define LIO_READV (LIO_VECTORED | LIO_READ)   /* 4 */
#define LIO_WRITEV (LIO_VECTORED | LIO_WRITE) /* 5 */

/* Vectored requests reuse two members of struct aiocb (FreeBSD's names):
 *   cb.aio_iov    = iov;      the const struct iovec array (aio_buf)
 *   cb.aio_iovcnt = iovcnt;   how many entries, 0 to IOV_MAX (aio_nbytes) */
#define aio_iov aio_buf
#define aio_iovcnt aio_nbytes

#ifdef __cplusplus
extern "C" {
#endif

/* Vectored read/write: like aio_read/aio_write, but aio_iov/aio_iovcnt describe the buffers,
 * as for preadv/pwritev at aio_offset. The iovec array is copied at submission and may be
 * reused at once; the buffers it points to belong to the request until it completes.
 * Errors: those of aio_read/aio_write, and EINVAL if aio_iovcnt exceeds IOV_MAX, the iovec
 * pointer is NULL with a nonzero count, or the lengths add up to more than SSIZE_MAX. */
int aio_readv(struct aiocb *aiocbp);
int aio_writev(struct aiocb *aiocbp);

/* Moves up to max completed aiocbs that were submitted with SIGEV_EVENTFD on efd into
 * out[0..max) and returns how many (0 if none). Never blocks. Each aiocb is returned
 * exactly once, whichever thread reaps; its status is final, so call aio_return() on it.
 * Reap after reading the eventfd, until it returns fewer than max: every completion queues
 * its aiocb before it adds to the eventfd counter.
 * Errors: EBADF (efd is not an open descriptor), EINVAL (efd is not an eventfd, max < 0,
 * or out is NULL with max > 0). */
int aio_reap(int efd, struct aiocb **out, int max);

/* FreeBSD's aio_waitcomplete: waits for the next completed request that is tracked (below),
 * stores its aiocb in *iocbp, and returns what aio_return() would, releasing the aiocb as
 * aio_return() does (do not call aio_return() on it). A request that failed: returns -1 with
 * errno set to the request's error and *iocbp set to its aiocb. timeout: NULL waits without
 * limit, {0, 0} polls.
 * Errors (*iocbp set to NULL): EAGAIN (time limit reached, or no tracked request is in flight
 * or waiting to be returned), EINTR (a signal handler ran), EINVAL (iocbp is NULL or the
 * timeout is invalid).
 * Tracked requests: every request except those with SIGEV_EVENTFD (their eventfd queue owns
 * them), submitted while tracking is on. Tracking is on from the first submission in a process
 * that links aio_waitcomplete dynamically, and otherwise from the first call to
 * aio_waitcomplete. A tracked request stays tracked until aio_waitcomplete or aio_return
 * retrieves its status, or its aiocb is submitted again; until then the aiocb must stay
 * valid (it counts toward the process's request limit: EAGAIN at submission when full). */
ssize_t aio_waitcomplete(struct aiocb **iocbp, struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* RTAIO_H */
