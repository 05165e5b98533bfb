/* rel_fuzz: deterministic randomized API fuzz (seed from RTAIO_TEST_SEED or the time,
 * printed by t_init; ~5 s of operations, then a drain).
 *
 * The fuzzer owns NSLOT aiocbs at fixed addresses and a model of each (never submitted,
 * submitted, failed lio entry, returned). Every operation's result is checked against an
 * oracle built from docs/BEHAVIOUR.md:
 *  - aio_read/aio_write/aio_fsync (and the 64 twins): the errno is predicted from the
 *    contents (check order: in progress, reqprio, sigevent; fsync: op, sigevent, descriptor
 *    open, synchronized I/O); predicted success → 0 (or EAGAIN); as in glibc, a read or write
 *    on a bad descriptor is accepted and fails with EBADF, a negative offset or a count above
 *    SSIZE_MAX is accepted and the system call reports it, an fsync of a descriptor open only
 *    for reading is accepted;
 *    a resubmitted in-flight aiocb → EINVAL unless it completed meanwhile; a rejected
 *    submission leaves the aiocb untouched (aio_error unchanged), but for a bad aio_reqprio,
 *    which leaves EINVAL as its status (as glibc);
 *  - lio_listio (random mode incl. invalid, nent incl. negative and > AIO_LISTIO_MAX, NULL
 *    list, NULL entries, LIO_NOP, invalid opcodes, the same aiocb twice, random list
 *    sigevent): per-entry outcome simulated in order; failed entries get their errno as
 *    status (an unknown opcode is accepted and fails with EINVAL, as in glibc); LIO_WAIT
 *    returns only when every accepted entry is complete; 0 / EIO / EINVAL;
 *  - aio_error/aio_return on never-submitted, in-flight, completed, returned aiocbs: EINVAL
 *    exactly when rtaio does not know the request; a final status never changes, and stays
 *    readable by aio_error after aio_return (a second aio_return: EINVAL); aio_return is
 *    never -1/EINVAL for a request known to be submitted and not returned, returns -1 iff
 *    the status is an error, 0..nbytes otherwise;
 *  - aio_suspend (NULL entries, nent < 0, NULL list, odd (read as intervals)/zero/short timeouts, NULL timeout
 *    only when something listed is already complete): 0 at once when something listed is
 *    complete, EAGAIN only after the timeout, never EINTR (all handlers are SA_RESTART);
 *  - aio_cancel (random descriptor incl. closed/-1, mismatched aio_fildes, NULL aiocb):
 *    EBADF / EINVAL as documented; AIO_CANCELED → status ECANCELED at once; AIO_ALLDONE →
 *    not in progress; unknown aiocb → AIO_ALLDONE;
 *  - notifications: SIGEV_THREAD and queued (real-time) signals arrive exactly once per
 *    accepted request (si_code SI_ASYNCIO); SIGUSR1/SIGUSR2 at most once; SIGEV_THREAD_ID
 *    naming another process's thread (a helper child) is refused and the helper never gets a
 *    signal; a LIO_NOWAIT list notification arrives exactly once when the call returned 0/EIO.
 * Buffers are the test's own memory: a private arena followed by a PROT_NONE guard page (so
 * oversized transfers fault instead of overrunning), a read-only page, a PROT_NONE page, an
 * unmapped page (mmap+munmap far below the heap), NULL. Descriptors: regular file (RDWR,
 * RDONLY, WRONLY, O_APPEND, O_DIRECT if available), directory, O_PATH, /dev/null, /dev/zero,
 * both ends of a pipe, a socket, a closed number, -1, huge. Requests that could block forever
 * (pipe/socket) are bounded in number and fed/drained; at the end every accepted request
 * must complete (20 s deadline). A watchdog fails the test if an API call hangs. */
#include "t.h"
#include <sys/prctl.h>

#define NSLOT 48
#define BUDGET 12
#define FUZZ_SECONDS 5.0
#define AIO_LISTIO_MAX_RTAIO 65536
#ifdef __SANITIZE_THREAD__
/* TSan keeps one pending instance per signal number: queued real-time notifications of one
 * number can merge there, so only "never more than expected" is checked for signals. */
#define SIGNALS_MAY_MERGE 1
#else
#define SIGNALS_MAY_MERGE 0
#endif /* BEHAVIOUR.md: lio_listio */

/* ---------------- trace ring (printed on failure) ---------------- */
static char ring[32][200];
static unsigned ring_pos;
static long op_no;
static void trace(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = ring[ring_pos++ % 32];
    int n = snprintf(s, 200, "#%ld ", op_no);
    vsnprintf(s + n, 200 - (size_t)n, fmt, ap);
    va_end(ap);
}
static void dump_ring(void)
{
    fprintf(stderr, "%s: last operations:\n", t_name);
    unsigned start = ring_pos > 32 ? ring_pos - 32 : 0;
    for (unsigned i = start; i < ring_pos; i++)
        fprintf(stderr, "  %s\n", ring[i % 32]);
}
#define FZFAIL(...)                                                                       \
    do {                                                                                  \
        dump_ring();                                                                      \
        FAILF(__VA_ARGS__);                                                               \
    } while (0)

/* ---------------- descriptors ---------------- */
enum {
    FK_FILE, FK_RDONLY, FK_WRONLY, FK_APPEND, FK_DIRECT, FK_DIR, FK_PATH, FK_DEVNULL,
    FK_DEVZERO, FK_PIPE_R, FK_PIPE_W, FK_SOCK, FK_CLOSED, FK_NEG, FK_HUGE, NFK
};
static const char *fk_name[NFK] = { "file", "rdonly", "wronly", "append", "direct",
                                    "dir", "opath", "devnull", "devzero", "pipe_r",
                                    "pipe_w", "sock", "closed", "neg", "huge" };
struct fdinfo {
    int fd, open, opath, readable, writable, syncable, blk_read, blk_write;
};
static struct fdinfo fds[NFK];
static int pipe_w_fd, pipe_r_fd, sock_peer;

static int fk_of(int fd)
{
    for (int k = 0; k < NFK; k++)
        if (fds[k].fd == fd)
            return k;
    return -1;
}

/* ---------------- memory ---------------- */
static long pg;
static char *ro_page, *arena, *guard, *unmapped;
static size_t arena_len;

/* ---------------- signals / notifications ---------------- */
#define LISTS_MAX 100000
static int sig_rt1, sig_rt2;
static _Atomic int exp_thread[NSLOT], got_thread[NSLOT], exact[NSLOT];
static _Atomic int exp_rt[NSLOT], got_rt[NSLOT], exp_std[NSLOT], got_std[NSLOT];
static _Atomic int exp_list, got_list, list_exact = 1;
static _Atomic int bad_code, bad_value;
static pid_t main_tid, sleeper_tid, helper_pid;

#define LIST_VALUE 77777

static void on_sig(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    if (si->si_code != SI_ASYNCIO)
        bad_code = si->si_code ? si->si_code : -1;
    int v = si->si_value.sival_int;
    if (v == LIST_VALUE)
        __atomic_add_fetch(&got_list, 1, __ATOMIC_SEQ_CST);
    else if (v < 0 || v >= NSLOT)
        bad_value = v ? v : -1;
    else if (s == sig_rt1 || s == sig_rt2)
        __atomic_add_fetch(&got_rt[v], 1, __ATOMIC_SEQ_CST);
    else
        __atomic_add_fetch(&got_std[v], 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

static void on_thread(union sigval v)
{
    if (v.sival_int == LIST_VALUE)
        __atomic_add_fetch(&got_list, 1, __ATOMIC_SEQ_CST);
    else if (v.sival_int >= 0 && v.sival_int < NSLOT)
        __atomic_add_fetch(&got_thread[v.sival_int], 1, __ATOMIC_SEQ_CST);
    else
        bad_value = v.sival_int ? v.sival_int : -1;
}

static _Atomic int sleeper_stop;
static void *sleeper(void *a)
{
    (void)a;
    __atomic_store_n(&sleeper_tid, t_gettid(), __ATOMIC_SEQ_CST);
    while (!__atomic_load_n(&sleeper_stop, __ATOMIC_SEQ_CST))
        t_sleep_ms(5);
    return NULL;
}

/* ---------------- slots and the model ---------------- */
enum { S_FRESH, S_SUB, S_LIOFAIL, S_RETURNED };
enum { OP_R, OP_W, OP_S };
struct slot {
    struct aiocb cb;
    int state;
    int op;
    int done, err; /* observed final status of the current request */
    int uncertain; /* S_SUB: may also still be the previous request (lio race); sticky
                    * until returned, since either request's status may be the one seen */
    /* what the request(s) the status may belong to asked for, recorded at submission (the
     * fuzzer rewrites the aiocb before later, possibly rejected, submissions) */
    size_t max_nbytes;
    int may_rw, may_sync;
    int blocking;  /* may block until the test feeds/drains */
    int liofail;   /* S_LIOFAIL: its errno */
    /* S_RETURNED: what aio_error must still say: ret_known 1 = exactly ret_err; 2 = some
     * error (aio_return gave -1); 3 = 0 (aio_return gave a count); 0 = any final status */
    int ret_known, ret_err;
};
static struct slot slots[NSLOT];
static pthread_attr_t detached;

static int slot_index(const struct aiocb *cb)
{
    return (int)((const struct slot *)(const void *)cb - slots);
}

/* The request now accepted on `s` replaces what its status may belong to (merge: it may not). */
static void record_request(struct slot *s, int op, int merge)
{
    if (!merge) {
        s->max_nbytes = 0;
        s->may_rw = s->may_sync = 0;
    }
    if (op == OP_S) {
        s->may_sync = 1;
    } else {
        s->may_rw = 1;
        if (s->cb.aio_nbytes > s->max_nbytes)
            s->max_nbytes = s->cb.aio_nbytes;
    }
}

static int in_flight(const struct slot *s)
{
    return s->state == S_SUB && !s->done;
}

static int blocking_in_flight(void)
{
    int n = 0;
    for (int i = 0; i < NSLOT; i++) {
        struct slot *s = &slots[i];
        if (in_flight(s) && s->blocking) {
            int e = aio_error(&s->cb);
            if (e != EINPROGRESS && !s->uncertain && e != -1) {
                s->done = 1;
                s->err = e;
            } else {
                n++;
            }
        }
    }
    return n;
}

/* ---------------- random contents ---------------- */
static int pick_fd(void)
{
    int k = (int)t_rand_below(NFK);
    if (k == FK_DIRECT && !fds[k].open)
        k = FK_FILE;
    return fds[k].fd;
}

static void rand_buf(struct aiocb *cb)
{
    unsigned r = (unsigned)t_rand_below(100);
    size_t off;
    if (r < 55) {
        off = (size_t)t_rand_below(arena_len) & ~(size_t)(t_rand_below(2) ? 4095 : 0);
        cb->aio_buf = arena + off;
    } else if (r < 70) {
        cb->aio_buf = arena + arena_len - 1 - t_rand_below(8192); /* runs into the guard */
    } else if (r < 76) {
        cb->aio_buf = NULL;
    } else if (r < 82) {
        cb->aio_buf = unmapped;
    } else if (r < 88) {
        cb->aio_buf = guard;
    } else if (r < 94) {
        cb->aio_buf = ro_page + t_rand_below((uint64_t)pg);
    } else {
        cb->aio_buf = arena; /* aligned */
    }
}

static size_t rand_nbytes(void)
{
    static const size_t special[] = { 0,       1,           512,
                                      4096,    65536,       (size_t)1 << 40,
                                      SSIZE_MAX, (size_t)SSIZE_MAX + 1, SIZE_MAX };
    if (t_rand_below(3) == 0)
        return special[t_rand_below(sizeof special / sizeof special[0])];
    return (size_t)t_rand_below(t_rand_below(2) ? 16384 : 300);
}

static off_t rand_offset(void)
{
    static const off_t special[] = { 0, -1, LLONG_MIN, LLONG_MAX, (off_t)1 << 40, 4096,
                                     LLONG_MAX - 10 };
    if (t_rand_below(4) == 0)
        return special[t_rand_below(sizeof special / sizeof special[0])];
    return (off_t)t_rand_below(t_rand_below(2) ? 1 << 20 : 65536);
}

static int rand_prio(void)
{
    static const int special[] = { -1, 0, 1, 20, 21, INT_MIN, INT_MAX };
    if (t_rand_below(3) == 0)
        return special[t_rand_below(sizeof special / sizeof special[0])];
    return (int)t_rand_below(21);
}

static int rand_valid_sig(void)
{
    switch (t_rand_below(5)) {
    case 0:
        return SIGUSR1;
    case 1:
        return SIGUSR2;
    case 2:
        return sig_rt1;
    case 3:
        return sig_rt2;
    default:
        return 0;
    }
}

static int rand_bad_sig(void)
{
    static int special[] = { -1, 32, 33, 0, 1000, INT_MIN, INT_MAX };
    special[3] = SIGRTMAX + 1;
    return special[t_rand_below(sizeof special / sizeof special[0])];
}

static void rand_sigevent(struct sigevent *ev, int value)
{
    memset(ev, 0, sizeof *ev);
    ev->sigev_value.sival_int = value;
    unsigned r = (unsigned)t_rand_below(100);
    if (r < 25) {
        ev->sigev_notify = SIGEV_NONE;
    } else if (r < 45) {
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = t_rand_below(5) ? rand_valid_sig() : rand_bad_sig();
    } else if (r < 70) {
        ev->sigev_notify = SIGEV_THREAD;
        ev->sigev_notify_function = t_rand_below(8) ? on_thread : NULL;
        if (t_rand_below(4) == 0)
            ev->sigev_notify_attributes = &detached;
    } else if (r < 90) {
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = t_rand_below(5) ? rand_valid_sig() : rand_bad_sig();
        static const int bogus[] = { 0, -1, 0x7ffffff0 };
        switch (t_rand_below(5)) {
        case 0:
        case 1:
            ev->sigev_notify_thread_id = main_tid;
            break;
        case 2:
            ev->sigev_notify_thread_id = sleeper_tid;
            break;
        case 3:
            ev->sigev_notify_thread_id = helper_pid; /* another process */
            break;
        default:
            ev->sigev_notify_thread_id = bogus[t_rand_below(3)];
        }
    } else {
        static const int bad[] = { 3, 5, 99, -1, 0x4001 };
        ev->sigev_notify = bad[t_rand_below(5)];
    }
}

/* safe list opcodes only: 4/5 are rtaio's LIO_READV/LIO_WRITEV (aio_buf = iovec array) */
static int rand_opcode(void)
{
    static const int ops[] = { LIO_READ, LIO_WRITE, LIO_NOP, 3, 6, -1, 99 };
    unsigned r = (unsigned)t_rand_below(10);
    if (r < 4)
        return LIO_READ;
    if (r < 8)
        return LIO_WRITE;
    return ops[2 + t_rand_below(5)];
}

static void randomize(struct slot *s, int idx)
{
    if (t_rand_below(6) == 0) {
        memset(&s->cb, 0, sizeof s->cb); /* unknown to rtaio again */
        s->state = S_FRESH;
    }
    s->cb.aio_fildes = pick_fd();
    rand_buf(&s->cb);
    s->cb.aio_nbytes = rand_nbytes();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* Under a sanitizer, the library's pread/pwrite go through its interceptors, which check
     * the whole buffer range before the kernel could answer EFAULT: accepted transfers stay
     * inside the arena (invalid sizes, rejected at submission, are still tried). */
    {
        char *b = (char *)s->cb.aio_buf;
        if (b < arena || b >= arena + arena_len)
            s->cb.aio_buf = b = arena + t_rand_below(arena_len);
        if (s->cb.aio_nbytes <= (size_t)SSIZE_MAX && s->cb.aio_nbytes > (size_t)(arena + arena_len - b))
            s->cb.aio_nbytes = (size_t)(arena + arena_len - b);
    }
#endif
    s->cb.aio_offset = rand_offset();
    s->cb.aio_reqprio = rand_prio();
    rand_sigevent(&s->cb.aio_sigevent, idx);
    s->cb.aio_lio_opcode = rand_opcode();
}

/* ---------------- the oracle ---------------- */
/* 1 valid, 0 invalid, -1 either */
static int sigev_valid(const struct sigevent *ev)
{
    switch (ev->sigev_notify) {
    case SIGEV_NONE:
        return 1;
    case SIGEV_THREAD:
        return ev->sigev_notify_function != NULL;
    case SIGEV_SIGNAL:
    case SIGEV_THREAD_ID: {
        int s = ev->sigev_signo;
        int ok_sig = (s >= 1 && s < 32) || (s >= SIGRTMIN && s <= SIGRTMAX);
        if (ev->sigev_notify == SIGEV_SIGNAL)
            return s == 0 || ok_sig;
        pid_t tid = ev->sigev_notify_thread_id;
        int ok_tid = tid == main_tid || tid == sleeper_tid;
        if (s == 0)
            return ok_tid ? 1 : -1; /* no notification: whether the tid is checked is open */
        return ok_sig && ok_tid;
    }
    default:
        return 0;
    }
}

/* predicted submission result from the contents: 0 accept, errno, or -1 for "0 or EINVAL" */
static int predict(int op, int fsync_op, const struct aiocb *cb)
{
    if (op == OP_S && fsync_op != O_SYNC && fsync_op != O_DSYNC)
        return EINVAL;
    /* a negative offset or a huge count is reported by the system call (as in glibc) */
    if (op != OP_S && (cb->aio_reqprio < 0 || cb->aio_reqprio > AIO_PRIO_DELTA_MAX))
        return EINVAL;
    int sv = sigev_valid(&cb->aio_sigevent);
    if (sv == 0)
        return EINVAL;
    if (op == OP_S) { /* aio_fsync alone checks at the call that the descriptor is open (as
                       * glibc: not that it is open for writing) and can be synced */
        int k = fk_of(cb->aio_fildes);
        const struct fdinfo *f = k >= 0 ? &fds[k] : NULL;
        if (!f || !f->open)
            return EBADF;
        if (!f->syncable && !f->opath) /* an O_PATH of a file is accepted, fails with EBADF */
            return EINVAL;
    }
    return sv < 0 ? -1 : 0;
}

static int is_blocking(int op, const struct aiocb *cb)
{
    int k = fk_of(cb->aio_fildes);
    if (k < 0)
        return 0;
    return (op == OP_R && fds[k].blk_read) || (op == OP_W && fds[k].blk_write);
}

/* an accepted request: its notification is expected once */
static void expect_notify(int idx, const struct sigevent *ev, int certain)
{
    if (!certain) {
        exact[idx] = 0;
        return;
    }
    switch (ev->sigev_notify) {
    case SIGEV_THREAD:
        exp_thread[idx]++;
        break;
    case SIGEV_SIGNAL:
    case SIGEV_THREAD_ID:
        if (ev->sigev_signo == sig_rt1 || ev->sigev_signo == sig_rt2)
            exp_rt[idx]++;
        else if (ev->sigev_signo != 0)
            exp_std[idx]++;
        break;
    }
}

static int final_ok(int e)
{
    switch (e) {
    case 0:
    case ECANCELED:
    case EFAULT:
    case EISDIR:
    case EINVAL:
    case EFBIG:
    case EOVERFLOW:
    case EAGAIN:
    case EBADF:
    case ENOSPC:
    case EPIPE:
    case EIO:
    case ENXIO:
        return 1;
    default:
        return 0;
    }
}

/* check aio_error against the model; updates it */
static void check_error(int idx)
{
    struct slot *s = &slots[idx];
    errno = 0;
    int e = aio_error(&s->cb);
    int en = errno;
    trace("aio_error(slot %d state %d) = %d errno %d", idx, s->state, e, en);
    switch (s->state) {
    case S_FRESH:
        if (e != -1 || en != EINVAL)
            FZFAIL("aio_error on a never-submitted aiocb (slot %d) = %d errno %d, expected "
                   "-1/EINVAL",
                   idx, e, en);
        break;
    case S_RETURNED:
        if (e == -1 || e == EINPROGRESS || !final_ok(e) ||
            (s->ret_known == 1 && e != s->ret_err) || (s->ret_known == 2 && e == 0) ||
            (s->ret_known == 3 && e != 0))
            FZFAIL("aio_error on a returned aiocb (slot %d) = %d errno %d, expected its final "
                   "status (known %d: %d)",
                   idx, e, en, s->ret_known, s->ret_err);
        s->ret_known = 1;
        s->ret_err = e;
        break;
    case S_LIOFAIL:
        if (e != s->liofail)
            FZFAIL("aio_error on a failed lio_listio entry (slot %d) = %d, expected its "
                   "errno %d",
                   idx, e, s->liofail);
        break;
    case S_SUB:
        if (e == -1)
            FZFAIL("aio_error on a submitted, not returned aiocb (slot %d) = -1 errno %d", idx,
                   en);
        if (e == EINPROGRESS) {
            if (s->done && !s->uncertain)
                FZFAIL("slot %d: aio_error went back to EINPROGRESS after final status %d",
                       idx, s->err);
        } else {
            if (!final_ok(e))
                FZFAIL("slot %d: unexpected final status %d (%s)", idx, e, strerror(e));
            if (s->done && !s->uncertain && e != s->err)
                FZFAIL("slot %d: final status changed from %d to %d", idx, s->err, e);
            s->done = 1;
            s->err = e;
        }
        break;
    }
}

static void check_return(int idx)
{
    struct slot *s = &slots[idx];
    int known_done = s->state == S_SUB && s->done && !s->uncertain;
    errno = 0;
    ssize_t r = aio_return(&s->cb);
    int en = errno;
    trace("aio_return(slot %d state %d done %d err %d) = %zd errno %d", idx, s->state,
          s->done, s->err, r, en);
    switch (s->state) {
    case S_FRESH:
    case S_RETURNED:
        if (r != -1 || en != EINVAL)
            FZFAIL("aio_return on a %s aiocb (slot %d) = %zd errno %d, expected -1/EINVAL",
                   s->state == S_FRESH ? "never-submitted" : "returned", idx, r, en);
        return;
    case S_LIOFAIL:
        if (r != -1)
            FZFAIL("aio_return on a failed lio_listio entry (slot %d) = %zd, expected -1",
                   idx, r);
        s->state = S_RETURNED;
        s->ret_known = 1;
        s->ret_err = s->liofail;
        return;
    }
    /* S_SUB */
    if (r == -1 && en == EINVAL)
        FZFAIL("aio_return = -1/EINVAL for a submitted, not yet returned request (slot %d, "
               "done %d status %d)",
               idx, s->done, s->err);
    if (r == -1 && en == EINPROGRESS) {
        if (known_done)
            FZFAIL("aio_return = -1/EINPROGRESS for slot %d whose status %d was final", idx,
                   s->err);
        return; /* nothing released */
    }
    if (known_done) {
        if (s->err != 0 && r != -1)
            FZFAIL("slot %d: status %d but aio_return %zd (expected -1)", idx, s->err, r);
        if (s->err == 0 && r < 0)
            FZFAIL("slot %d: status 0 but aio_return %zd", idx, r);
    }
    if (r >= 0) {
        if (!s->may_rw && r != 0)
            FZFAIL("slot %d: fsync returned %zd", idx, r);
        if (s->may_rw && (size_t)r > s->max_nbytes)
            FZFAIL("slot %d: aio_return %zd > aio_nbytes %zu (as submitted)", idx, r,
                   s->max_nbytes);
    } else if (r != -1) {
        FZFAIL("slot %d: aio_return %zd", idx, r);
    }
    s->state = S_RETURNED;
    s->ret_known = known_done ? 1 : r == -1 ? 2 : 3;
    s->ret_err = s->err;
    s->done = 0;
    s->uncertain = 0;
}

/* ---------------- operations ---------------- */
static int submit_call(int op, int fsync_op, struct aiocb *cb, int use64)
{
    switch (op) {
    case OP_R:
        return use64 ? aio_read64((struct aiocb64 *)cb) : aio_read(cb);
    case OP_W:
        return use64 ? aio_write64((struct aiocb64 *)cb) : aio_write(cb);
    default:
        return use64 ? aio_fsync64(fsync_op, (struct aiocb64 *)cb) : aio_fsync(fsync_op, cb);
    }
}

static void feed(void);
static void expect_list_notify(const struct sigevent *sig);

static void op_submit(void)
{
    int idx = (int)t_rand_below(NSLOT);
    struct slot *s = &slots[idx];
    int op = (int)t_rand_below(3);
    static const int fops[] = { O_SYNC, O_DSYNC, 0, -1, O_RDWR, O_SYNC | O_APPEND };
    int fsync_op = t_rand_below(4) ? fops[t_rand_below(2)] : fops[2 + t_rand_below(4)];
    int was_flight = in_flight(s);
    if (!was_flight && t_rand_below(10) < 7)
        randomize(s, idx);
    if (!was_flight && is_blocking(op, &s->cb) && blocking_in_flight() >= BUDGET) {
        feed();
        if (blocking_in_flight() >= BUDGET)
            s->cb.aio_fildes = fds[FK_FILE].fd;
    }
    int pred = predict(op, fsync_op, &s->cb);
    int prev_state = s->state, prev_done = s->done, prev_err = s->err;
    errno = 0;
    int r = submit_call(op, fsync_op, &s->cb, (int)t_rand_below(2));
    int en = errno;
    trace("submit op %d (fsync_op %d) slot %d fd %d(%s) nbytes %zu off %lld prio %d notify %d "
          "signo %d -> %d errno %d (predicted %d, in flight %d)",
          op, fsync_op, idx, s->cb.aio_fildes, fk_of(s->cb.aio_fildes) >= 0 ? fk_name[fk_of(s->cb.aio_fildes)] : "?",
          s->cb.aio_nbytes, (long long)s->cb.aio_offset, s->cb.aio_reqprio,
          s->cb.aio_sigevent.sigev_notify, s->cb.aio_sigevent.sigev_signo, r, en, pred,
          was_flight);
    if (r == 0) {
        if (pred > 0)
            FZFAIL("submission accepted although %s (errno %d predicted)",
                   pred == EBADF ? "the descriptor is bad" : "an argument is invalid", pred);
        s->state = S_SUB;
        s->op = op;
        s->done = 0;
        s->uncertain = 0;
        s->blocking = is_blocking(op, &s->cb);
        record_request(s, op, 0);
        expect_notify(idx, &s->cb.aio_sigevent, 1);
        return;
    }
    if (r != -1)
        FZFAIL("submission returned %d", r);
    if (en == EAGAIN && pred == 0) {
        t_note("submission: EAGAIN (allowed)");
        exact[idx] = 0;
        if (!was_flight)
            s->state = S_FRESH; /* status unknown: EINVAL or EAGAIN; treat as unknown */
        return;
    }
    int ok = en == pred || (pred == -1 && en == EINVAL) || (was_flight && en == EINVAL);
    if (!ok)
        FZFAIL("submission: -1 errno %d (%s), expected %s%d%s", en, strerror(en),
               pred == 0 ? "success, or EAGAIN; not " : "errno ", pred,
               was_flight ? " or EINVAL (in flight)" : "");
    /* refused for its priority: as in glibc, the aiocb's status says EINVAL (a request that
     * completed meanwhile included; one still in progress is not touched) */
    if (op != OP_S && (s->cb.aio_reqprio < 0 || s->cb.aio_reqprio > AIO_PRIO_DELTA_MAX)) {
        if (was_flight) {
            s->uncertain = 1;
        } else {
            s->state = S_LIOFAIL;
            s->liofail = EINVAL;
            check_error(idx);
        }
        return;
    }
    /* untouched: the model is unchanged; check that aio_error agrees */
    s->state = prev_state;
    s->done = prev_done;
    s->err = prev_err;
    if (!was_flight)
        check_error(idx);
}

static void op_lio(void)
{
    struct aiocb *list[12];
    int nent = (int)t_rand_below(9);
    int mode = t_rand_below(10) < 3 ? LIO_WAIT : LIO_NOWAIT;
    int bad_top = 0;
    if (t_rand_below(20) == 0) {
        static const int bm[] = { -1, 2, 7, INT_MIN };
        mode = bm[t_rand_below(4)];
        bad_top = 1;
    }
    int use_null_list = 0;
    if (t_rand_below(25) == 0) {
        static const int bn[] = { -1, -100, INT_MIN };
        nent = bn[t_rand_below(3)];
        bad_top = 1;
    } else if (!t_glibc() && t_rand_below(40) == 0) {
        nent = AIO_LISTIO_MAX_RTAIO + 1;
        bad_top = 1;
    } else if (t_rand_below(30) == 0) {
        use_null_list = 1;
        if (nent > 0) {
            if (t_glibc())
                nent = 0;
            else
                bad_top = 1;
        }
    }
    struct sigevent sig;
    int sig_null = t_rand_below(3) == 0;
    rand_sigevent(&sig, LIST_VALUE);
    if (sig.sigev_notify == SIGEV_THREAD_ID && sig.sigev_signo == 0)
        sig.sigev_signo = sig_rt1;
    if (mode == LIO_NOWAIT && !sig_null && sigev_valid(&sig) == 0)
        bad_top = 1;
    /* entries */
    int n = nent > 0 && nent <= 12 && !use_null_list ? nent : 0;
    int sim_state[NSLOT]; /* in-list simulation: 0 untouched, 1 accepted now, 2 failed now */
    memset(sim_state, 0, sizeof sim_state);
    int pred_entry[12], was_flight_entry[12];
    int any_fail = 0, any_uncertain = 0;
    for (int i = 0; i < n; i++) {
        if (t_rand_below(7) == 0) {
            list[i] = NULL;
            continue;
        }
        int idx = (int)t_rand_below(NSLOT);
        struct slot *s = &slots[idx];
        if (!in_flight(s) && sim_state[idx] == 0 && t_rand_below(10) < 8)
            randomize(s, idx);
        list[i] = &s->cb;
    }
    /* LIO_WAIT must not wait for a pipe or socket: no such entry may be queued */
    if (mode == LIO_WAIT) {
        for (int i = 0; i < n; i++) {
            if (!list[i])
                continue;
            struct slot *s = &slots[slot_index(list[i])];
            int k = fk_of(s->cb.aio_fildes);
            if (k >= 0 && (fds[k].blk_read || fds[k].blk_write)) {
                if (in_flight(s))
                    list[i] = NULL;
                else
                    s->cb.aio_lio_opcode = LIO_NOP;
            }
        }
    }
    /* budget for the blocking entries of a NOWAIT list */
    int blk = blocking_in_flight();
    for (int i = 0; i < n; i++) {
        if (!list[i])
            continue;
        struct slot *s = &slots[slot_index(list[i])];
        int op = s->cb.aio_lio_opcode == LIO_READ ? OP_R : OP_W;
        if (!in_flight(s) && (s->cb.aio_lio_opcode == LIO_READ || s->cb.aio_lio_opcode == LIO_WRITE) &&
            is_blocking(op, &s->cb)) {
            if (blk >= BUDGET)
                s->cb.aio_fildes = fds[FK_FILE].fd;
            else
                blk++;
        }
    }
    /* simulate entries in order */
    for (int i = 0; i < n; i++) {
        pred_entry[i] = -2; /* skipped */
        was_flight_entry[i] = 0;
        if (!list[i])
            continue;
        int idx = slot_index(list[i]);
        struct slot *s = &slots[idx];
        int opc = s->cb.aio_lio_opcode;
        if (opc == LIO_NOP)
            continue;
        int flight = in_flight(s) || sim_state[idx] == 1;
        was_flight_entry[i] = flight;
        /* an opcode naming no operation is accepted and fails with EINVAL (as glibc) */
        int p = predict(opc == LIO_READ ? OP_R : OP_W, 0, &s->cb);
        pred_entry[i] = p;
        if (flight) {
            any_uncertain = 1;
        } else if (p > 0) {
            any_fail = 1;
            sim_state[idx] = 2;
        } else if (p == -1) {
            any_uncertain = 1;
            sim_state[idx] = 1;
        } else {
            sim_state[idx] = 1;
        }
    }
    struct aiocb **lp = use_null_list ? t_null() : list;
    errno = 0;
    double t0 = t_now();
    int r = lio_listio(mode, lp, nent, sig_null ? NULL : &sig);
    int en = errno;
    trace("lio_listio(mode %d, nent %d, null list %d, sig %d/%d) -> %d errno %d (bad_top %d "
          "any_fail %d uncertain %d)",
          mode, nent, use_null_list, sig_null ? -1 : sig.sigev_notify, sig.sigev_signo, r, en,
          bad_top, any_fail, any_uncertain);
    if (bad_top) {
        if (r != -1 || en != EINVAL)
            FZFAIL("lio_listio with an invalid mode/nent/list/sigevent: %d errno %d, expected "
                   "-1/EINVAL",
                   r, en);
        return; /* nothing happened: entries untouched */
    }
    if (r == -1 && en == EAGAIN && !any_fail) {
        t_note("lio_listio: EAGAIN (allowed)");
        return;
    }
    if (mode == LIO_NOWAIT) {
        if (any_fail && !(r == -1 && en == EIO))
            FZFAIL("lio_listio(LIO_NOWAIT) with a failing entry: %d errno %d, expected -1/EIO",
                   r, en);
        if (!any_fail && !any_uncertain && r != 0)
            FZFAIL("lio_listio(LIO_NOWAIT), all entries valid: %d errno %d", r, en);
        if (r != 0 && !(r == -1 && en == EIO))
            FZFAIL("lio_listio(LIO_NOWAIT): %d errno %d", r, en);
        if (!sig_null && sigev_valid(&sig) == 1)
            expect_list_notify(&sig);
    } else {
        if (any_fail && !(r == -1 && (en == EIO || en == EINTR)))
            FZFAIL("lio_listio(LIO_WAIT) with a failing entry: %d errno %d, expected -1/EIO",
                   r, en);
        if (r != 0 && !(r == -1 && (en == EIO || en == EINTR)))
            FZFAIL("lio_listio(LIO_WAIT): %d errno %d", r, en);
        if (t_now() - t0 > 15)
            FZFAIL("lio_listio(LIO_WAIT) took %.1f s", t_now() - t0);
    }
    /* apply to the model */
    int seen[NSLOT];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < n; i++) {
        if (pred_entry[i] == -2)
            continue;
        int idx = slot_index(list[i]);
        struct slot *s = &slots[idx];
        int opc = s->cb.aio_lio_opcode;
        if (was_flight_entry[i] || pred_entry[i] == -1) {
            /* accepted or refused: unknown */
            record_request(s, opc == LIO_READ ? OP_R : OP_W, s->state == S_SUB);
            if (s->state != S_SUB || !was_flight_entry[i]) {
                s->state = S_SUB;
                s->op = opc == LIO_READ ? OP_R : OP_W;
                s->done = 0;
            }
            s->uncertain = 1;
            s->blocking = s->blocking || is_blocking(s->op, &s->cb);
            exact[idx] = 0;
            continue;
        }
        if (pred_entry[i] > 0) {
            if (seen[idx] == 1)
                continue; /* already accepted earlier in this list: stays in flight */
            s->state = S_LIOFAIL;
            s->liofail = pred_entry[i];
            seen[idx] = 2;
            check_error(idx);
            continue;
        }
        /* accepted */
        s->state = S_SUB;
        s->op = opc == LIO_READ ? OP_R : OP_W;
        s->done = 0;
        s->uncertain = 0;
        record_request(s, s->op, 0);
        s->blocking = is_blocking(s->op, &s->cb);
        seen[idx] = 1;
        expect_notify(idx, &s->cb.aio_sigevent, 1);
        if (mode == LIO_WAIT && r == 0 && !any_uncertain) {
            int e = aio_error(&s->cb);
            if (e != 0)
                FZFAIL("lio_listio(LIO_WAIT) returned 0 but entry %d (slot %d) has status %d",
                       i, idx, e);
        } else if (mode == LIO_WAIT && !(r == -1 && en == EINTR) && !any_uncertain) {
            int e = aio_error(&s->cb);
            if (e == EINPROGRESS)
                FZFAIL("lio_listio(LIO_WAIT) returned %d/%d with entry %d (slot %d) still in "
                       "progress",
                       r, en, i, idx);
        }
    }
    if (any_uncertain)
        list_exact = list_exact; /* list notification: still exactly one */
}

static void op_suspend(void)
{
    const struct aiocb *list[8];
    int nent = (int)t_rand_below(7);
    int any_known_complete = 0, any_entry = 0;
    for (int i = 0; i < nent; i++) {
        if (t_rand_below(5) == 0) {
            list[i] = NULL;
            continue;
        }
        struct slot *s = &slots[t_rand_below(NSLOT)];
        list[i] = &s->cb;
        any_entry = 1;
        if (!in_flight(s) && !(s->state == S_SUB && s->uncertain))
            any_known_complete = 1;
    }
    struct timespec ts = { 0, 0 };
    struct timespec *tp = &ts;
    int bad = 0;
    double tmo = 0;
    switch (t_rand_below(8)) {
    case 0:
        ts.tv_nsec = 0;
        break;
    case 1:
        ts.tv_nsec = 1000000;
        tmo = 0.001;
        break;
    case 2:
        ts.tv_nsec = 5000000;
        tmo = 0.005;
        break;
    case 3:
        ts.tv_nsec = 20000000;
        tmo = 0.02;
        break;
    case 4: /* out of the usual ranges: read as an interval, as glibc does */
        if (t_rand_below(2)) {
            ts.tv_nsec = -1;
        } else {
            ts.tv_nsec = 1000000000;
            tmo = 1.0;
        }
        break;
    case 5:
        ts.tv_sec = -1; /* negative: polls */
        break;
    case 6:
        if (any_known_complete || !any_entry)
            tp = NULL; /* returns at once */
        break;
    default:
        ts.tv_nsec = 2000000;
        tmo = 0.002;
    }
    int use_null_list = 0;
    if (t_rand_below(20) == 0) {
        nent = -1 - (int)t_rand_below(3);
        bad = 1;
    } else if (!t_glibc() && t_rand_below(30) == 0 && nent > 0) {
        use_null_list = 1;
        bad = 1;
    }
    errno = 0;
    double t0 = t_now();
    int r = aio_suspend(use_null_list ? t_null() : list, nent, tp);
    int en = errno;
    double dt = t_now() - t0;
    trace("aio_suspend(nent %d, timeout %s%.3f, known complete %d) -> %d errno %d in %.4f s",
          nent, tp ? "" : "NULL ", tmo, any_known_complete, r, en, dt);
    if (bad) {
        /* a list with nent < 0 or NULL: EINVAL */
        if (r != -1 || en != EINVAL)
            FZFAIL("aio_suspend with an invalid argument: %d errno %d, expected -1/EINVAL", r,
                   en);
        return;
    }
    if (dt > tmo + 3.0)
        FZFAIL("aio_suspend with timeout %.3f s took %.1f s", tmo, dt);
    if (r == 0) {
        if (!any_entry)
            return;
        int found = 0;
        for (int i = 0; i < nent; i++)
            if (list[i] && aio_error(list[i]) != EINPROGRESS)
                found = 1;
        if (!found)
            FZFAIL("aio_suspend returned 0 but every listed request is in progress");
        return;
    }
    if (r != -1)
        FZFAIL("aio_suspend returned %d", r);
    if (en == EINTR)
        FZFAIL("aio_suspend: EINTR although every handler has SA_RESTART (BEHAVIOUR.md: the "
               "wait restarts)");
    if (en != EAGAIN)
        FZFAIL("aio_suspend: errno %d (%s)", en, strerror(en));
    if (!any_entry)
        FZFAIL("aio_suspend with no non-NULL entry: EAGAIN, expected 0 at once");
    if (any_known_complete)
        FZFAIL("aio_suspend: EAGAIN although a listed aiocb was already complete");
    if (dt + 0.0005 < tmo)
        FZFAIL("aio_suspend: EAGAIN after %.4f s, before the %.3f s timeout", dt, tmo);
}

static void op_cancel(void)
{
    int idx = (int)t_rand_below(NSLOT);
    struct slot *s = &slots[idx];
    int fd;
    unsigned r = (unsigned)t_rand_below(10);
    if (r < 6)
        fd = s->cb.aio_fildes;
    else
        fd = pick_fd();
    int with_cb = t_rand_below(10) < 7;
    int k = fk_of(fd);
    int fd_open = k >= 0 && fds[k].open;
    int pred = !fd_open ? EBADF : (with_cb && s->cb.aio_fildes != fd) ? EINVAL : 0;
    int flight = in_flight(s) || (s->state == S_SUB && s->uncertain);
    errno = 0;
    int c = aio_cancel(fd, with_cb ? &s->cb : NULL);
    int en = errno;
    trace("aio_cancel(fd %d, %s slot %d state %d) -> %d errno %d (pred %d)", fd,
          with_cb ? "" : "NULL, not", idx, s->state, c, en, pred);
    if (pred) {
        if (c != -1 || en != pred)
            FZFAIL("aio_cancel: %d errno %d, expected -1/%d", c, en, pred);
        return;
    }
    if (c != AIO_CANCELED && c != AIO_NOTCANCELED && c != AIO_ALLDONE)
        FZFAIL("aio_cancel: %d errno %d", c, en);
    if (!with_cb)
        return;
    if (!flight && c != AIO_ALLDONE)
        FZFAIL("aio_cancel of an aiocb that is not in progress (slot %d state %d done %d): %d, "
               "expected AIO_ALLDONE",
               idx, s->state, s->done, c);
    if (c == AIO_CANCELED) {
        int e = aio_error(&s->cb);
        if (e != ECANCELED)
            FZFAIL("aio_cancel = AIO_CANCELED but aio_error = %d", e);
        s->done = 1;
        s->err = ECANCELED;
        s->uncertain = 0;
    } else if (c == AIO_ALLDONE && s->state == S_SUB) {
        if (aio_error(&s->cb) == EINPROGRESS)
            FZFAIL("aio_cancel = AIO_ALLDONE but the request is in progress");
    }
}

static void op_init(void)
{
    struct aioinit ai;
    memset(&ai, 0, sizeof ai);
    static const int th[] = { 0, -1, 24, 32, 64, 100 };
    static const int num[] = { 0, -5, 1, 1000, 100000 };
    static const int idle[] = { 0, -1, 1, 2 };
    ai.aio_threads = th[t_rand_below(6)];
    ai.aio_num = num[t_rand_below(5)];
    ai.aio_idle_time = idle[t_rand_below(4)];
    trace("aio_init(threads %d num %d idle %d)", ai.aio_threads, ai.aio_num,
          ai.aio_idle_time);
    if (t_rand_below(8) == 0 && !t_glibc())
        aio_init(t_null());
    else
        aio_init(&ai);
}

static void op_null(void)
{
    if (t_glibc())
        return;
    trace("NULL pointer calls");
    CHECK_ERR(aio_read(t_null()), EINVAL);
    CHECK_ERR(aio_write(t_null()), EINVAL);
    CHECK_ERR(aio_fsync(O_SYNC, t_null()), EINVAL);
    CHECK_ERR(aio_error(t_null()), EINVAL);
    CHECK_ERR(aio_return(t_null()), EINVAL);
    CHECK_ERR(aio_suspend(t_null(), 1, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_NOWAIT, t_null(), 1, NULL), EINVAL);
    CHECK_OK(aio_suspend(t_null(), 0, NULL));
}

/* pipe and socket: give blocked readers data, blocked writers room */
static void feed(void)
{
    static char junk[65536];
    ssize_t w = write(pipe_w_fd, junk, 64);
    if (w < 0 && errno == EAGAIN)
        while (read(pipe_r_fd, junk, sizeof junk) > 0) {
        }
    if (write(sock_peer, junk, 64) < 0 && errno != EAGAIN)
        FAILF("socket feed: %s", strerror(errno));
    while (read(sock_peer, junk, sizeof junk) > 0) {
    }
}

static void expect_list_notify(const struct sigevent *sig)
{
    switch (sig->sigev_notify) {
    case SIGEV_THREAD:
        exp_list++;
        break;
    case SIGEV_SIGNAL:
    case SIGEV_THREAD_ID:
        if (sig->sigev_signo == sig_rt1 || sig->sigev_signo == sig_rt2)
            exp_list++;
        else if (sig->sigev_signo != 0)
            list_exact = 0; /* standard signals merge */
        break;
    }
}

/* ---------------- setup ---------------- */
static void setup_fds(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/rel_fuzz-XXXXXX", dir);
    int f = mkstemp(path);
    CHECK(f >= 0);
    static char init[65536];
    memset(init, 'i', sizeof init);
    t_pwrite_all(f, init, sizeof init, 0);
    fds[FK_FILE] = (struct fdinfo){ f, 1, 0, 1, 1, 1, 0, 0 };
    fds[FK_RDONLY] = (struct fdinfo){ open(path, O_RDONLY), 1, 0, 1, 0, 1, 0, 0 };
    fds[FK_WRONLY] = (struct fdinfo){ open(path, O_WRONLY), 1, 0, 0, 1, 1, 0, 0 };
    fds[FK_APPEND] = (struct fdinfo){ open(path, O_RDWR | O_APPEND), 1, 0, 1, 1, 1, 0, 0 };
    int d = open(path, O_RDWR | O_DIRECT);
    fds[FK_DIRECT] = (struct fdinfo){ d, d >= 0, 0, 1, 1, 1, 0, 0 };
    if (d < 0)
        t_note("O_DIRECT unavailable in %s: no kernel-backend descriptor", dir);
    fds[FK_PATH] = (struct fdinfo){ open(path, O_PATH), 1, 1, 0, 0, 0, 0, 0 };
    unlink(path);
    fds[FK_DIR] = (struct fdinfo){ open(dir, O_RDONLY | O_DIRECTORY), 1, 0, 1, 0, 1, 0, 0 };
    fds[FK_DEVNULL] = (struct fdinfo){ open("/dev/null", O_RDWR), 1, 0, 1, 1, 0, 0, 0 };
    fds[FK_DEVZERO] = (struct fdinfo){ open("/dev/zero", O_RDONLY), 1, 0, 1, 0, 0, 0, 0 };
    int p[2], sv[2];
    CHECK_OK(pipe(p));
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    fds[FK_PIPE_R] = (struct fdinfo){ p[0], 1, 0, 1, 0, 0, 1, 0 };
    fds[FK_PIPE_W] = (struct fdinfo){ p[1], 1, 0, 0, 1, 0, 0, 1 };
    fds[FK_SOCK] = (struct fdinfo){ sv[0], 1, 0, 1, 1, 0, 1, 1 };
    /* the test's own ends, non-blocking (separate open file descriptions for the pipe) */
    char pp[64];
    snprintf(pp, sizeof pp, "/proc/self/fd/%d", p[1]);
    pipe_w_fd = open(pp, O_WRONLY | O_NONBLOCK);
    snprintf(pp, sizeof pp, "/proc/self/fd/%d", p[0]);
    pipe_r_fd = open(pp, O_RDONLY | O_NONBLOCK);
    CHECK(pipe_w_fd >= 0 && pipe_r_fd >= 0);
    sock_peer = sv[1];
    CHECK_OK(fcntl(sock_peer, F_SETFL, O_RDWR | O_NONBLOCK));
    /* Not the lowest free number: other threads open files for a moment (glibc's malloc
     * reads /sys/devices/system/cpu/online for a new thread's arena), and one of those would
     * make a just-closed low number valid again. */
    int c = 500;
    while (fcntl(c, F_GETFD) >= 0)
        c++;
    fds[FK_CLOSED] = (struct fdinfo){ c, 0, 0, 0, 0, 0, 0, 0 };
    fds[FK_NEG] = (struct fdinfo){ -1, 0, 0, 0, 0, 0, 0, 0 };
    fds[FK_HUGE] = (struct fdinfo){ t_rand_below(2) ? INT_MAX : (1 << 20) + 7, 0, 0, 0, 0, 0, 0, 0 };
    for (int k = 0; k < NFK; k++)
        if (k != FK_DIRECT && k < FK_CLOSED)
            CHECK(fds[k].fd >= 0);
}

static void setup_memory(void)
{
    pg = sysconf(_SC_PAGESIZE);
    arena_len = 64 * (size_t)pg;
    char *m = mmap(NULL, arena_len + 3 * (size_t)pg, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    ro_page = m;
    arena = m + pg;
    guard = arena + arena_len;
    memset(m, 'r', arena_len + (size_t)pg);
    CHECK_OK(mprotect(ro_page, (size_t)pg, PROT_READ));
    CHECK_OK(mprotect(guard, 2 * (size_t)pg, PROT_NONE));
    /* an unmapped page far below anything the allocator hands out */
    void *u = mmap((void *)0x30000, (size_t)pg, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (u == (void *)0x30000) {
        munmap(u, (size_t)pg);
        unmapped = u;
    } else {
        if (u != MAP_FAILED)
            munmap(u, (size_t)pg);
        unmapped = guard + pg; /* PROT_NONE: faults the same way */
    }
}

static pid_t start_helper(void)
{
    int p[2];
    CHECK_OK(pipe(p));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        static volatile int got;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = (void (*)(int))(void *)0;
        close(p[0]);
        /* dies with the test, however the test ends (a failed check, the alarm, a watchdog):
         * it blocks every signal, so nothing else would end it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(0);
        /* count what arrives; SIGTERM ends with the count */
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        CHECK_EQ(write(p[1], "r", 1), 1);
        for (;;) {
            siginfo_t si;
            int s = sigwaitinfo(&all, &si);
            if (s == SIGTERM)
                _exit(got > 100 ? 100 : got);
            if (s > 0)
                got++;
        }
    }
    close(p[1]);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    return pid;
}

/* ---------------- main ---------------- */
int main(void)
{
    t_init("rel_fuzz");
    alarm(55);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    main_tid = t_gettid();
    sig_rt1 = SIGRTMIN + 3;
    sig_rt2 = SIGRTMAX;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sig;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    int hs[] = { SIGUSR1, SIGUSR2, sig_rt1, sig_rt2 };
    for (int i = 0; i < 4; i++)
        CHECK_OK(sigaction(hs[i], &sa, NULL));
    helper_pid = start_helper();
    setup_memory();
    setup_fds();
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < NSLOT; i++) {
        t_cb(&slots[i].cb, fds[FK_FILE].fd, arena, 1, 0);
        slots[i].state = S_FRESH;
        exact[i] = 1;
    }
    pthread_t ts;
    CHECK_OK(pthread_create(&ts, NULL, sleeper, NULL));
    while (!__atomic_load_n(&sleeper_tid, __ATOMIC_SEQ_CST))
        t_sleep_ms(1);
    /* 20 looks 500 ms apart (10 s) without a call returning: the last call hangs */
    t_watchdog_start(&(struct t_watchdog){
        .polls = 20,
        .poll_ms = 500,
        .on_stall = dump_ring,
        .stall_msg = "no progress for 10 s: the last call (see above) hangs",
    });

    double end = t_now() + FUZZ_SECONDS;
    long counts[9] = { 0 };
    while (t_now() < end) {
        op_no++;
        t_progress();
        unsigned r = (unsigned)t_rand_below(100);
        int idx = (int)t_rand_below(NSLOT);
        if (r < 28) {
            op_submit();
            counts[0]++;
        } else if (r < 38) {
            op_lio();
            counts[1]++;
        } else if (r < 53) {
            check_error(idx);
            counts[2]++;
        } else if (r < 63) {
            check_return(idx);
            counts[3]++;
        } else if (r < 73) {
            op_suspend();
            counts[4]++;
        } else if (r < 83) {
            op_cancel();
            counts[5]++;
        } else if (r < 90) {
            if (!in_flight(&slots[idx]) && !slots[idx].uncertain)
                randomize(&slots[idx], idx);
            counts[6]++;
        } else if (r < 97) {
            feed();
            counts[7]++;
        } else if (r < 99) {
            op_init();
        } else {
            op_null();
            counts[8]++;
        }
    }
    t_note("%ld operations: %ld submit, %ld lio_listio, %ld aio_error, %ld aio_return, %ld "
           "aio_suspend, %ld aio_cancel, %ld randomize, %ld feed, %ld NULL rounds",
           op_no, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
           counts[7], counts[8]);

    /* drain: every accepted request completes */
    struct aioinit ai;
    memset(&ai, 0, sizeof ai);
    ai.aio_threads = 64;
    aio_init(&ai);
    double dend = t_now() + 20;
    for (;;) {
        t_progress();
        const struct aiocb *l[NSLOT];
        int n = 0;
        for (int i = 0; i < NSLOT; i++) {
            struct slot *s = &slots[i];
            if (s->state == S_SUB) {
                int e = aio_error(&s->cb);
                if (e == EINPROGRESS)
                    l[n++] = &s->cb;
                else
                    check_return(i);
            } else if (s->state == S_LIOFAIL) {
                check_return(i);
            }
        }
        if (n == 0)
            break;
        if (t_now() > dend) {
            for (int i = 0; i < n; i++) {
                struct slot *s = &slots[slot_index(l[i])];
                fprintf(stderr, "  stuck: slot %d op %d fd %d (%s) nbytes %zu\n",
                        slot_index(l[i]), s->op, s->cb.aio_fildes,
                        fk_of(s->cb.aio_fildes) >= 0 ? fk_name[fk_of(s->cb.aio_fildes)] : "?",
                        s->cb.aio_nbytes);
            }
            FZFAIL("%d accepted request(s) still in progress 20 s after the fuzzing stopped",
                   n);
        }
        feed();
        struct timespec ts2 = { 0, 10 * 1000000L };
        int r = aio_suspend(l, n, &ts2);
        if (r != 0 && errno != EAGAIN)
            FZFAIL("drain: aio_suspend errno %d", errno);
    }
    /* notifications settle */
    double nend = t_now() + 5;
    for (;;) {
        int pending = 0;
        for (int i = 0; i < NSLOT; i++)
            if (exact[i] && (got_thread[i] < exp_thread[i] ||
                             (!SIGNALS_MAY_MERGE && got_rt[i] < exp_rt[i])))
                pending = 1;
        if (list_exact && !SIGNALS_MAY_MERGE && got_list < exp_list)
            pending = 1;
        if (!pending || t_now() > nend)
            break;
        t_sleep_ms(10);
    }
    t_sleep_ms(200);
    t_watchdog_stop();
    long tot_thread = 0, tot_rt = 0, tot_std = 0;
    for (int i = 0; i < NSLOT; i++) {
        tot_thread += got_thread[i];
        tot_rt += got_rt[i];
        tot_std += got_std[i];
        if (exact[i] && got_thread[i] != exp_thread[i])
            FAILF("slot %d: %d SIGEV_THREAD notifications, expected %d", i, got_thread[i],
                  exp_thread[i]);
        if (exact[i] && (SIGNALS_MAY_MERGE ? got_rt[i] > exp_rt[i] : got_rt[i] != exp_rt[i]))
            FAILF("slot %d: %d real-time signal notifications, expected %d", i, got_rt[i],
                  exp_rt[i]);
        if (exact[i] && got_std[i] > exp_std[i])
            FAILF("slot %d: %d SIGUSR1/2 notifications, at most %d expected", i, got_std[i],
                  exp_std[i]);
        if (!exact[i] && got_thread[i] < exp_thread[i])
            FAILF("slot %d: %d SIGEV_THREAD notifications, at least %d expected", i,
                  got_thread[i], exp_thread[i]);
    }
    if (list_exact && (SIGNALS_MAY_MERGE ? got_list > exp_list : got_list != exp_list))
        FAILF("%d lio_listio list notifications, expected %d", got_list, exp_list);
    if (bad_code)
        FAILF("a notification signal had si_code %d, expected SI_ASYNCIO", bad_code);
    if (bad_value)
        FAILF("a notification carried an unexpected value %d", bad_value);
    __atomic_store_n(&sleeper_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(ts, NULL);
    kill(helper_pid, SIGTERM);
    int st;
    CHECK_EQ(waitpid(helper_pid, &st, 0), helper_pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAILF("the helper process (a SIGEV_THREAD_ID target outside this process) received "
              "%d signal(s): a notification went to another process",
              WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    t_note("notifications: %ld SIGEV_THREAD, %ld real-time, %ld SIGUSR1/2, %d list", tot_thread,
           tot_rt, tot_std, got_list);
    return T_PASS;
}
