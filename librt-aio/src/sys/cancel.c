/* Blocking waits as POSIX cancellation points: the one C file of rtaio.
 *
 * POSIX makes aio_suspend() a cancellation point. glibc acts on pthread_cancel() inside a
 * blocking call by running that call's system call with asynchronous cancellation enabled:
 * a cancel already pending when the call starts, or one that arrives while the thread sleeps
 * in the kernel (SIGCANCEL interrupts it), unwinds the thread from there, running its
 * cleanup handlers. rtaio's waits are raw futex system calls that libc does not wrap, so they
 * do the same here, in C, because pthread_cleanup_push() is a C construct: asynchronous
 * cancellation is on around the one system call only, and a cleanup handler undoes what the
 * waiting Rust code registered (a waiter count). The forced unwind then passes through Rust
 * frames that own nothing to drop (see `cancellable` in librt-aio/src/sys/mod.rs).
 *
 * Returns the system call's result, or -errno. Built with -fexceptions, so the cleanup runs
 * from the unwinder like a C++ destructor. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

long rtaio_cancellable_syscall(void (*cleanup)(void *), void *arg, long nr, const long a[6])
{
    long r;
    int type, err;
    pthread_cleanup_push(cleanup, arg);
    /* Acts at once on a cancel that is already pending (pthread_setcanceltype is
     * async-cancel-safe). */
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
    r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    err = errno;
    pthread_setcanceltype(type, &type);
    pthread_cleanup_pop(0);
    return r < 0 ? -err : r;
}
