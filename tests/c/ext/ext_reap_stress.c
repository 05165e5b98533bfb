/* ext_reap_stress: 1,000,000 completions through one eventfd (SIGEV_EVENTFD + aio_reap).
 * A submitter keeps INFLIGHT requests in flight out of NCB reusable aiocbs: aio_read and
 * aio_write of 512 bytes on a small cached file, and 64-byte aio_write/aio_read on a
 * socketpair (reads only when the data is known to be there, so none blocks a worker for
 * long). Two reaper threads poll() the eventfd, read it, and aio_reap in batches of random
 * size 1..64; every reaped aiocb is checked (its status final, aio_return never -1/EINVAL,
 * the value and data right, never reaped twice or while not in flight), aio_return'ed and
 * handed back to the submitter. At the end: reaped == submitted == TOTAL for every aiocb
 * individually, aio_reap returns 0 and the values read from the eventfd add up to TOTAL.
 * Prints the time and completions/s. A stall (no completion reaped for 30 s) fails; slowness
 * (a busy machine) does not. Under a sanitizer 250,000 completions. */
#include "t.h"
#include <rtaio.h>
#include <sys/eventfd.h>

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define TOTAL 250000L /* instrumented: ten times slower, and the runner's timeout is per test */
#else
#define TOTAL 1000000L
#endif
#define NCB 4096
#define INFLIGHT 256
#define FILESZ 65536
#define FCHUNK 512
#define SCHUNK 64
#define SOCK_LIMIT 4096 /* bytes written to the socket and not yet read back */
/* a hang, not slowness (the machine may be busy): no completion reaped for this long */
#define STALL_S 30.0

enum { K_FREAD, K_FWRITE, K_SWRITE, K_SREAD };

struct slot {
    struct aiocb cb;
    int kind;
    off_t off;
    unsigned char buf[FCHUNK];
};

static struct slot slots[NCB];
static int state[NCB]; /* 0 free, 1 in flight, 2 being handled by a reaper */
static unsigned submits[NCB], reaps[NCB];

static int efd, stopfd, filefd, sv[2];
static double t_start;

/* free FIFO of slot indices (so that all NCB aiocbs take turns) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ring[NCB];
static int ring_head, ring_count;
static int submitter_waiting;

static long submitted, reaped, inflight;
static double last_progress; /* when a completion was last reaped (atomic via __atomic) */

static void note_progress(void)
{
    double now = t_now();
    __atomic_store(&last_progress, &now, __ATOMIC_SEQ_CST);
}

static int stalled(void)
{
    double last;
    __atomic_load(&last_progress, &last, __ATOMIC_SEQ_CST);
    return t_now() - last > STALL_S;
}
static unsigned long long efd_sum;
static long kind_count[4];
static long long sock_w_submitted, sock_w_completed, sock_r_reserved, sock_r_completed;
static int stop;

static unsigned char pattern_byte(off_t pos)
{
    return (unsigned char)((pos / FCHUNK) * 131 + (pos % FCHUNK) * 7 + 1);
}

static void fill_pattern(unsigned char *b, off_t off)
{
    for (int i = 0; i < FCHUNK; i++)
        b[i] = pattern_byte(off + i);
}

static void progress_fail(const char *why)
{
    static int once;
    if (__atomic_exchange_n(&once, 1, __ATOMIC_SEQ_CST))
        for (;;)
            pause(); /* the other thread reports */
    FAILF("%s after %.1f s: submitted %ld, reaped %ld, in flight %ld, eventfd sum %llu", why,
          t_now() - t_start, __atomic_load_n(&submitted, __ATOMIC_SEQ_CST),
          __atomic_load_n(&reaped, __ATOMIC_SEQ_CST),
          __atomic_load_n(&inflight, __ATOMIC_SEQ_CST),
          __atomic_load_n(&efd_sum, __ATOMIC_SEQ_CST));
}

static void handle(struct aiocb *p)
{
    uintptr_t a = (uintptr_t)p, lo = (uintptr_t)&slots[0], hi = (uintptr_t)&slots[NCB];
    if (a < lo || a >= hi || (a - lo) % sizeof(struct slot) != 0)
        FAILF("aio_reap returned %p, not one of the submitted aiocbs", (void *)p);
    int i = (int)((a - lo) / sizeof(struct slot));
    struct slot *s = &slots[i];
    int one = 1;
    if (!__atomic_compare_exchange_n(&state[i], &one, 2, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        FAILF("aiocb #%d reaped while not in flight (state %d): reported twice? (submitted %u "
              "times, reaped %u times before)",
              i, one, submits[i], reaps[i]);
    int e = aio_error(p);
    if (e == EINPROGRESS)
        FAILF("aiocb #%d reaped while aio_error == EINPROGRESS", i);
    if (e != 0)
        FAILF("aiocb #%d (kind %d): aio_error = %d (%s) at reap", i, s->kind, e, strerror(e));
    errno = 0;
    ssize_t r = aio_return(p);
    if (r < 0)
        FAILF("aiocb #%d reaped, then aio_return = %zd errno %d (%s)", i, r, errno,
              strerror(errno));
    switch (s->kind) {
    case K_FREAD:
        if (r != FCHUNK)
            FAILF("file read returned %zd, expected %d", r, FCHUNK);
        for (int k = 0; k < FCHUNK; k++)
            if (s->buf[k] != pattern_byte(s->off + k))
                FAILF("file read at %lld: wrong byte at +%d", (long long)s->off, k);
        break;
    case K_FWRITE:
        if (r != FCHUNK)
            FAILF("file write returned %zd, expected %d", r, FCHUNK);
        break;
    case K_SWRITE:
        if (r != SCHUNK)
            FAILF("socket write returned %zd, expected %d", r, SCHUNK);
        __atomic_add_fetch(&sock_w_completed, r, __ATOMIC_SEQ_CST);
        break;
    case K_SREAD:
        if (r <= 0 || r > SCHUNK)
            FAILF("socket read returned %zd, expected 1..%d", r, SCHUNK);
        __atomic_add_fetch(&sock_r_completed, r, __ATOMIC_SEQ_CST);
        __atomic_sub_fetch(&sock_r_reserved, SCHUNK - r, __ATOMIC_SEQ_CST);
        break;
    }
    __atomic_add_fetch(&reaps[i], 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&state[i], 0, __ATOMIC_SEQ_CST);
}

static void *reaper(void *arg)
{
    uint64_t rng = *(uint64_t *)arg | 1;
    struct aiocb *out[64];
    long mine = 0;
    double all_counted_at = 0;
    for (;;) {
        if (__atomic_load_n(&stop, __ATOMIC_SEQ_CST))
            break;
        struct pollfd pf[2] = { { efd, POLLIN, 0 }, { stopfd, POLLIN, 0 } };
        int pr = poll(pf, 2, 500);
        if (pr < 0 && errno != EINTR)
            FAILF("poll: %s", strerror(errno));
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t n = read(efd, &v, sizeof v);
            if (n == 8)
                __atomic_add_fetch(&efd_sum, v, __ATOMIC_SEQ_CST);
            else if (!(n < 0 && errno == EAGAIN))
                FAILF("read(eventfd) = %zd errno %d", n, errno);
        }
        for (;;) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            int max = 1 + (int)(rng % 64);
            int n = aio_reap(efd, out, max);
            if (n < 0)
                FAILF("aio_reap(max %d) = %d errno %d (%s)", max, n, errno, strerror(errno));
            if (n > max)
                FAILF("aio_reap(max %d) returned %d", max, n);
            for (int k = 0; k < n; k++)
                handle(out[k]);
            if (n > 0) {
                pthread_mutex_lock(&mu);
                for (int k = 0; k < n; k++) {
                    int i = (int)((struct slot *)out[k] - slots);
                    ring[(ring_head + ring_count) % NCB] = i;
                    ring_count++;
                }
                __atomic_sub_fetch(&inflight, n, __ATOMIC_SEQ_CST);
                if (submitter_waiting)
                    pthread_cond_signal(&cv);
                pthread_mutex_unlock(&mu);
                mine += n;
                note_progress();
                long tot = __atomic_add_fetch(&reaped, n, __ATOMIC_SEQ_CST);
                if (tot > TOTAL)
                    FAILF("reaped %ld > %ld submitted in all", tot, TOTAL);
                if (tot == TOTAL) {
                    __atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
                    uint64_t one = 1;
                    CHECK_EQ(write(stopfd, &one, 8), 8);
                }
            }
            if (n < max)
                break;
        }
        if (stalled())
            progress_fail("no completion for 30 s (reaper)");
        /* every completion is queued before it is counted: once the eventfd has counted all
         * of them, the queue must hand them all out */
        if (__atomic_load_n(&efd_sum, __ATOMIC_SEQ_CST) >= (unsigned long long)TOTAL &&
            __atomic_load_n(&reaped, __ATOMIC_SEQ_CST) < TOTAL) {
            if (all_counted_at == 0)
                all_counted_at = t_now();
            else if (t_now() - all_counted_at > 10.0)
                progress_fail("the eventfd counted every completion, but aio_reap does not "
                              "return them all (lost)");
        }
    }
    return (void *)mine;
}

static void submit_one(uint64_t rnd)
{
    int i;
    pthread_mutex_lock(&mu);
    while (ring_count == 0 || __atomic_load_n(&inflight, __ATOMIC_SEQ_CST) >= INFLIGHT) {
        submitter_waiting = 1;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cv, &mu, &ts);
        submitter_waiting = 0;
        if (stalled()) {
            pthread_mutex_unlock(&mu);
            progress_fail("no completion for 30 s (submitter waiting for a free aiocb)");
        }
    }
    i = ring[ring_head];
    ring_head = (ring_head + 1) % NCB;
    ring_count--;
    __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&mu);

    struct slot *s = &slots[i];
    int kind = (int)(rnd % 4);
    long long wsub = __atomic_load_n(&sock_w_submitted, __ATOMIC_SEQ_CST);
    long long wdone = __atomic_load_n(&sock_w_completed, __ATOMIC_SEQ_CST);
    long long rdone = __atomic_load_n(&sock_r_completed, __ATOMIC_SEQ_CST);
    long long rres = __atomic_load_n(&sock_r_reserved, __ATOMIC_SEQ_CST);
    if (kind == K_SWRITE && wsub - rdone + SCHUNK > SOCK_LIMIT)
        kind = K_FREAD;
    if (kind == K_SREAD && wdone - rres < SCHUNK)
        kind = K_FWRITE;
    s->kind = kind;
    kind_count[kind]++;
    memset(&s->cb, 0, sizeof s->cb);
    s->cb.aio_sigevent.sigev_notify = SIGEV_EVENTFD;
    s->cb.aio_sigevent.sigev_signo = efd;
    s->cb.aio_buf = s->buf;
    switch (kind) {
    case K_FREAD:
    case K_FWRITE:
        s->off = (off_t)((rnd >> 8) % (FILESZ / FCHUNK)) * FCHUNK;
        s->cb.aio_fildes = filefd;
        s->cb.aio_offset = s->off;
        s->cb.aio_nbytes = FCHUNK;
        if (kind == K_FREAD)
            memset(s->buf, 0, FCHUNK);
        else
            fill_pattern(s->buf, s->off);
        break;
    case K_SWRITE:
        s->cb.aio_fildes = sv[0];
        s->cb.aio_nbytes = SCHUNK;
        memset(s->buf, 's', SCHUNK);
        __atomic_add_fetch(&sock_w_submitted, SCHUNK, __ATOMIC_SEQ_CST);
        break;
    case K_SREAD:
        s->cb.aio_fildes = sv[1];
        s->cb.aio_nbytes = SCHUNK;
        __atomic_add_fetch(&sock_r_reserved, SCHUNK, __ATOMIC_SEQ_CST);
        break;
    }
    int zero = 0;
    if (!__atomic_compare_exchange_n(&state[i], &zero, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        FAILF("free aiocb #%d has state %d", i, zero);
    __atomic_add_fetch(&submits[i], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&submitted, 1, __ATOMIC_SEQ_CST);
    int r = (kind == K_FREAD || kind == K_SREAD) ? aio_read(&s->cb) : aio_write(&s->cb);
    if (r != 0)
        FAILF("submission #%ld (kind %d) failed: errno %d (%s)", submitted, kind, errno,
              strerror(errno));
}

int main(void)
{
    t_init("ext_reap_stress");
    filefd = t_tmpfile();
    static unsigned char init[FILESZ];
    for (off_t p = 0; p < FILESZ; p++)
        init[p] = pattern_byte(p);
    t_pwrite_all(filefd, init, FILESZ, 0);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(efd >= 0);
    stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(stopfd >= 0);
    for (int i = 0; i < NCB; i++)
        ring[i] = i;
    ring_count = NCB;

    t_start = t_now();
    note_progress();
    pthread_t th[2];
    static uint64_t seeds[2];
    for (int k = 0; k < 2; k++) {
        seeds[k] = t_rand();
        CHECK_OK(pthread_create(&th[k], NULL, reaper, &seeds[k]));
    }
    for (long n = 0; n < TOTAL; n++)
        submit_one(t_rand());
    long per[2];
    for (int k = 0; k < 2; k++) {
        void *ret;
        CHECK_OK(pthread_join(th[k], &ret));
        per[k] = (long)ret;
    }
    double el = t_now() - t_start;
    printf("ext_reap_stress: %ld completions in %.2f s (%.0f completions/s); reaper split %ld/%ld; "
           "file reads %ld, file writes %ld, socket writes %ld, socket reads %ld\n",
           TOTAL, el, TOTAL / el, per[0], per[1], kind_count[K_FREAD], kind_count[K_FWRITE],
           kind_count[K_SWRITE], kind_count[K_SREAD]);

    CHECK_EQ(submitted, TOTAL);
    CHECK_EQ(reaped, TOTAL);
    CHECK_EQ(per[0] + per[1], TOTAL);
    CHECK_EQ(inflight, 0);
    long sum_s = 0, sum_r = 0;
    for (int i = 0; i < NCB; i++) {
        if (submits[i] != reaps[i])
            FAILF("aiocb #%d submitted %u times, reaped %u times", i, submits[i], reaps[i]);
        if (state[i] != 0)
            FAILF("aiocb #%d ends in state %d", i, state[i]);
        sum_s += submits[i];
        sum_r += reaps[i];
    }
    CHECK_EQ(sum_s, TOTAL);
    CHECK_EQ(sum_r, TOTAL);
    /* every completion was queued before it was counted: all counts arrive, no extra ones */
    double end = t_now() + T_DEADLINE_S;
    while (efd_sum < (unsigned long long)TOTAL) {
        struct pollfd pf = { efd, POLLIN, 0 };
        if (poll(&pf, 1, 100) == 1) {
            uint64_t v;
            if (read(efd, &v, 8) == 8)
                efd_sum += v;
        }
        if (t_now() > end)
            FAILF("eventfd counted %llu, expected %ld", efd_sum, TOTAL);
    }
    t_sleep_ms(200);
    uint64_t v = 0;
    errno = 0;
    ssize_t n = read(efd, &v, 8);
    if (n == 8)
        efd_sum += v;
    else
        CHECK(n < 0 && errno == EAGAIN);
    if (efd_sum != (unsigned long long)TOTAL)
        FAILF("values read from the eventfd add up to %llu, expected %ld completions", efd_sum,
              TOTAL);
    struct aiocb *out[64];
    CHECK_EQ(aio_reap(efd, out, 64), 0);
    /* socket bookkeeping: everything written was read back, or is still there */
    CHECK_EQ(sock_w_completed, sock_w_submitted);
    int fl = fcntl(sv[1], F_GETFL);
    CHECK_OK(fcntl(sv[1], F_SETFL, fl | O_NONBLOCK));
    long long left = 0;
    char tmp[4096];
    for (;;) {
        ssize_t r = read(sv[1], tmp, sizeof tmp);
        if (r <= 0) {
            CHECK(r < 0 && errno == EAGAIN);
            break;
        }
        left += r;
    }
    CHECK_EQ(sock_r_completed + left, sock_w_completed);
    static unsigned char fin[FILESZ];
    t_pread_all(filefd, fin, FILESZ, 0);
    CHECK(memcmp(fin, init, FILESZ) == 0);
    if (el > 10.0)
        t_note("slow: %.1f s for %ld completions", el, TOTAL);
    close(efd);
    close(stopfd);
    close(sv[0]);
    close(sv[1]);
    close(filefd);
    return T_PASS;
}
