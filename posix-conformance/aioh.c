/*
 * <aio.h> assertions. This translation unit includes ONLY <aio.h>, so that it also checks
 * that the header itself makes the required types visible (POSIX.1-2017 XBD <aio.h>:
 * "The <aio.h> header shall define the aiocb structure ...", "shall define the off_t,
 * pthread_attr_t, size_t and ssize_t types as described in <sys/types.h>", "shall define
 * struct timespec as described in <time.h>", "shall define the sigevent structure and
 * sigval union as described in <signal.h>", the symbolic constants and the prototypes).
 *
 * Every check is a compile-time type test evaluated at run time, so a mismatch is reported
 * as a failed assertion instead of breaking the build of the whole suite.
 */
#include <aio.h>

#define IS(expr, type) _Generic((expr), type: 1, default: 0)

/* Returns a bit mask of failed checks; aioh_names() gives the meaning of each bit. */
unsigned aioh_members(void)
{
    struct aiocb cb;
    unsigned bad = 0;
    bad |= !IS(&cb.aio_fildes, int *) << 0;
    bad |= !IS(&cb.aio_offset, off_t *) << 1;
    bad |= !IS(&cb.aio_buf, volatile void **) << 2;
    bad |= !IS(&cb.aio_nbytes, size_t *) << 3;
    bad |= !IS(&cb.aio_reqprio, int *) << 4;
    bad |= !IS(&cb.aio_sigevent, struct sigevent *) << 5;
    bad |= !IS(&cb.aio_lio_opcode, int *) << 6;
    return bad;
}

unsigned aioh_types(void)
{
    /* Each declaration only compiles if <aio.h> made the type visible. */
    off_t o = 0;
    pthread_attr_t *pa = 0;
    size_t s = 0;
    ssize_t ss = -1;
    struct timespec ts = {0, 0};
    struct sigevent sev;
    union sigval sv;
    unsigned bad = 0;
    sev.sigev_notify = 0;
    sev.sigev_signo = 0;
    sev.sigev_value.sival_int = 0;
    sev.sigev_notify_function = 0;
    sev.sigev_notify_attributes = pa;
    sv.sival_ptr = 0;
    bad |= !IS(&sev.sigev_value, union sigval *) << 0;
    bad |= !IS(&sev.sigev_notify_attributes, pthread_attr_t **) << 1;
    bad |= !IS(&sev.sigev_notify_function, void (**)(union sigval)) << 2;
    bad |= !(ss < 0) << 3;              /* ssize_t is signed */
    bad |= !((size_t)-1 > s) << 4;      /* size_t is unsigned */
    bad |= !((off_t)-1 < o) << 5;       /* off_t is signed */
    bad |= !IS(ts.tv_sec, time_t) << 6;
    bad |= !IS(ts.tv_nsec, long) << 7;
    (void)sv;
    return bad;
}

unsigned aioh_constants(void)
{
    unsigned bad = 0;
    int ret[3] = {AIO_ALLDONE, AIO_CANCELED, AIO_NOTCANCELED};
    int op[3] = {LIO_NOP, LIO_READ, LIO_WRITE};
    int mode[2] = {LIO_WAIT, LIO_NOWAIT};
    /* The values must be distinguishable, or the return value of aio_cancel() and the
     * opcodes of lio_listio() would carry no information. */
    bad |= (ret[0] == ret[1] || ret[0] == ret[2] || ret[1] == ret[2]) << 0;
    bad |= (op[0] == op[1] || op[0] == op[2] || op[1] == op[2]) << 1;
    bad |= (mode[0] == mode[1]) << 2;
    /* A failed aio_cancel() returns -1, so no AIO_* result may be -1. */
    bad |= (ret[0] == -1 || ret[1] == -1 || ret[2] == -1) << 3;
    return bad;
}

unsigned aioh_prototypes(void)
{
    unsigned bad = 0;
    bad |= !IS(&aio_cancel, int (*)(int, struct aiocb *)) << 0;
    bad |= !IS(&aio_error, int (*)(const struct aiocb *)) << 1;
    bad |= !IS(&aio_fsync, int (*)(int, struct aiocb *)) << 2;
    bad |= !IS(&aio_read, int (*)(struct aiocb *)) << 3;
    bad |= !IS(&aio_return, ssize_t (*)(struct aiocb *)) << 4;
    bad |= !IS(&aio_suspend, int (*)(const struct aiocb *const[], int, const struct timespec *)) << 5;
    bad |= !IS(&aio_write, int (*)(struct aiocb *)) << 6;
    /* POSIX spells the list parameter "struct aiocb *restrict const list[restrict]"; an
     * implementation without the inner restrict is accepted as well. */
    bad |= !_Generic(&lio_listio,
                     int (*)(int, struct aiocb *const[], int, struct sigevent *): 1,
                     int (*)(int, struct aiocb *restrict const[], int, struct sigevent *): 1,
                     default: 0) << 7;
    return bad;
}
