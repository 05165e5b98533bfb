/* kaio_wait: waiting for O_DIRECT requests, where rtaio lets a thread in aio_suspend (no
 * timeout) wait in the kernel itself (the eventfd of its native AIO context) and reap the
 * completions it finds, one thread at a time, the others on their status words. Each part
 * keeps 4 KiB O_DIRECT reads of a file of known blocks in flight and checks every block read.
 *  1. one thread, depth 16, aio_suspend(NULL) over the whole list: 3000 completions.
 *  2. four threads at once, each its own 8 reads and aio_suspend(NULL); a fifth polls
 *     aio_error on its own 8 without ever waiting: all progress (nobody's completion is
 *     stranded by another thread's reaping).
 *  3. notifications while threads wait: reads with SIGEV_THREAD_ID (a real-time signal to a
 *     thread that takes it with sigtimedwait) and SIGEV_THREAD beside two aio_suspend threads: each delivered exactly once,
 *     and only after its aiocb is complete.
 *  4. signals during the waits: SIGUSR2 with SA_RESTART at a waiting thread, again and again:
 *     aio_suspend never fails (the wait restarts); SIGUSR1 without SA_RESTART: it may fail with
 *     EINTR, and the requests still complete.
 *  5. pthread_cancel of threads waiting in aio_suspend (a cancellation point), 40 times at
 *     random moments: each thread ends, and the requests it left in flight complete for the
 *     main thread's own aio_suspend (nothing lost, no wait left stuck).
 * A watchdog fails the test if nothing progresses for 60 s. */
#include "t.h"

#include <sched.h>
#include <stdatomic.h>

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define BLK 4096
#define NBLK 2048 /* an 8 MiB file */

static int fd;

static void fill_block(unsigned char *p, unsigned blk)
{
    for (unsigned i = 0; i < BLK; i += 4) {
        uint32_t v = blk * 2654435761u + i;
        memcpy(p + i, &v, 4);
    }
}

static void check_block(const unsigned char *p, unsigned blk, const char *what)
{
    unsigned char want[BLK];
    fill_block(want, blk);
    long d = kaio_cmp(p, want, BLK);
    if (d >= 0)
        FAILF("%s: block %u differs at byte %ld", what, blk, d);
}

static _Atomic pid_t sig_tid; /* part 3's signal-taking thread */

struct slot {
    struct aiocb cb;
    unsigned char *buf;
    unsigned blk;
};

/* t_rand is one generator for the process; threads draw from their own (seeded from it). */
static _Thread_local uint64_t rng;
static unsigned rand_block(void)
{
    if (!rng) {
        static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&m);
        rng = t_rand() | 1;
        pthread_mutex_unlock(&m);
    }
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % NBLK);
}

static void submit_read(struct slot *s, int notify, int signo, void (*fn)(union sigval))
{
    s->blk = rand_block();
    t_cb(&s->cb, fd, s->buf, BLK, (off_t)s->blk * BLK);
    s->cb.aio_sigevent.sigev_notify = notify;
    s->cb.aio_sigevent.sigev_signo = signo;
    s->cb.aio_sigevent.sigev_value.sival_ptr = s;
    if (notify == SIGEV_THREAD)
        s->cb.aio_sigevent.sigev_notify_function = fn;
    else if (notify == SIGEV_THREAD_ID)
        s->cb.aio_sigevent.sigev_notify_thread_id = atomic_load(&sig_tid);
    CHECK_OK(aio_read(&s->cb));
}

/* Reaps the complete slots of `v` (checking their data) and resubmits them while `left` > 0;
 * returns how many completed. */
static int reap_some(struct slot *v, int n, _Atomic int *left, const char *what)
{
    int done = 0;
    for (int i = 0; i < n; i++) {
        if (v[i].cb.aio_fildes < 0)
            continue;
        int e = aio_error(&v[i].cb);
        if (e == EINPROGRESS)
            continue;
        CHECK_EQ(e, 0);
        CHECK_EQ(aio_return(&v[i].cb), BLK);
        check_block(v[i].buf, v[i].blk, what);
        done++;
        t_progress();
        if (atomic_fetch_sub(left, 1) > 0)
            submit_read(&v[i], SIGEV_NONE, 0, NULL);
        else
            v[i].cb.aio_fildes = -1;
    }
    return done;
}

static void slots_init(struct slot *v, int n)
{
    for (int i = 0; i < n; i++)
        v[i].buf = kaio_alloc(BLK);
}

static void slots_free(struct slot *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].buf);
}

/* Waits with aio_suspend(NULL) until all of v is reaped; `eintr`: EINTR is allowed. */
static void suspend_loop(struct slot *v, int n, _Atomic int *left, int eintr, const char *what)
{
    const struct aiocb *list[64];
    for (;;) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            list[i] = v[i].cb.aio_fildes >= 0 ? &v[i].cb : NULL;
            live += list[i] != NULL;
        }
        if (!live)
            return;
        if (aio_suspend(list, n, NULL) != 0) {
            if (!(eintr && errno == EINTR))
                FAILF("%s: aio_suspend: %s", what, strerror(errno));
        }
        reap_some(v, n, left, what);
    }
}

/* ---- part 2 ---- */
struct worker {
    pthread_t th;
    int depth, poll_only, eintr;
    _Atomic int left;
    const char *what;
    pid_t tid;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct slot v[16];
    w->tid = t_gettid();
    slots_init(v, w->depth);
    for (int i = 0; i < w->depth; i++) {
        atomic_fetch_sub(&w->left, 1);
        submit_read(&v[i], SIGEV_NONE, 0, NULL);
    }
    if (w->poll_only) {
        int live = w->depth;
        while (live > 0) {
            reap_some(v, w->depth, &w->left, w->what);
            live = 0;
            for (int i = 0; i < w->depth; i++)
                live += v[i].cb.aio_fildes >= 0;
            sched_yield();
        }
    } else {
        suspend_loop(v, w->depth, &w->left, w->eintr, w->what);
    }
    slots_free(v, w->depth);
    return NULL;
}

/* ---- part 3 ---- */
#define NOTE_N 200
static struct slot notes[NOTE_N];
static _Atomic int note_count[NOTE_N];
static _Atomic int notes_total, notes_early;

static void note_of(struct slot *s)
{
    int i = (int)(s - notes);
    if (i < 0 || i >= NOTE_N) {
        atomic_fetch_add(&notes_early, 1000); /* a foreign value: counted as a failure */
        return;
    }
    if (aio_error(&s->cb) == EINPROGRESS)
        atomic_fetch_add(&notes_early, 1);
    atomic_fetch_add(&note_count[i], 1);
    atomic_fetch_add(&notes_total, 1);
}

static void thread_note(union sigval v)
{
    note_of(v.sival_ptr);
}

/* The signal goes to one thread that keeps it blocked and takes it with sigtimedwait
 * (SIGEV_THREAD_ID): SIGEV_THREAD callbacks run with an empty signal mask (as glibc's do), and
 * a handler would see queued instances merged under TSan. */
static _Atomic int sig_stop;
static void *sigwaiter_main(void *arg)
{
    (void)arg;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGRTMIN + 1);
    CHECK_OK(pthread_sigmask(SIG_BLOCK, &s, NULL));
    atomic_store(&sig_tid, t_gettid());
    while (!atomic_load(&sig_stop)) {
        siginfo_t si;
        struct timespec t = { 0, 50 * 1000 * 1000 };
        if (sigtimedwait(&s, &si, &t) == SIGRTMIN + 1) {
            if (si.si_code != SI_ASYNCIO)
                atomic_fetch_add(&notes_early, 1000);
            else
                note_of(si.si_value.sival_ptr);
        }
    }
    return NULL;
}

/* ---- part 4 ---- */
static _Atomic int handled;
static void on_sig(int s)
{
    (void)s;
    atomic_fetch_add(&handled, 1);
}

/* ---- part 5 ---- */
struct victim {
    struct slot v[8];
    _Atomic int started;
};

static void *victim_main(void *arg)
{
    struct victim *vi = arg;
    for (int i = 0; i < 8; i++)
        submit_read(&vi->v[i], SIGEV_NONE, 0, NULL);
    atomic_store(&vi->started, 1);
    const struct aiocb *list[8];
    for (;;) {
        for (int i = 0; i < 8; i++)
            list[i] = &vi->v[i].cb;
        aio_suspend(list, 8, NULL);
        for (int i = 0; i < 8; i++) {
            if (aio_error(&vi->v[i].cb) != EINPROGRESS) {
                CHECK_EQ(aio_return(&vi->v[i].cb), BLK);
                check_block(vi->v[i].buf, vi->v[i].blk, "cancelled waiter");
                submit_read(&vi->v[i], SIGEV_NONE, 0, NULL);
            }
        }
        t_progress();
    }
    return NULL;
}

int main(void)
{
#ifdef RING_WAIT
    ring_wait_setup();
#else
    t_init("kaio_wait");
#endif
    struct t_watchdog wd = { 60, 3, 500, 1, NULL, NULL };
    t_watchdog_start(&wd);
    fd = kaio_open(O_DIRECT);
    unsigned char *w = kaio_alloc(BLK * 64);
    for (unsigned b = 0; b < NBLK; b += 64) {
        for (unsigned k = 0; k < 64; k++)
            fill_block(w + (size_t)k * BLK, b + k);
        t_pwrite_all(fd, w, (size_t)BLK * 64, (off_t)b * BLK);
    }
    free(w);
    t_note("backend %s", kaio_backend());
#ifdef RING_WAIT
    ring_wait_check();
#endif

    /* 1 */
    t_phase("one thread, depth 16");
    {
        struct slot v[16];
        _Atomic int left = 3000 - 16;
        slots_init(v, 16);
        for (int i = 0; i < 16; i++)
            submit_read(&v[i], SIGEV_NONE, 0, NULL);
        suspend_loop(v, 16, &left, 0, "part 1");
        slots_free(v, 16);
    }

    /* 2 */
    t_phase("four waiting threads and a polling one");
    {
        struct worker ws[5];
        for (int i = 0; i < 5; i++) {
            memset(&ws[i], 0, sizeof ws[i]);
            ws[i].depth = 8;
            ws[i].poll_only = i == 4;
            atomic_store(&ws[i].left, 600);
            ws[i].what = i == 4 ? "part 2 (polling)" : "part 2 (aio_suspend)";
            CHECK_OK(pthread_create(&ws[i].th, NULL, worker_main, &ws[i]));
        }
        for (int i = 0; i < 5; i++)
            CHECK_OK(pthread_join(ws[i].th, NULL));
    }

    /* 3 */
    t_phase("notifications beside waiting threads");
    {
        pthread_t sw;
        CHECK_OK(pthread_create(&sw, NULL, sigwaiter_main, NULL));
        while (!atomic_load(&sig_tid))
            sched_yield();
        struct worker ws[2];
        for (int i = 0; i < 2; i++) {
            memset(&ws[i], 0, sizeof ws[i]);
            ws[i].depth = 8;
            atomic_store(&ws[i].left, 800);
            ws[i].what = "part 3 (aio_suspend)";
            CHECK_OK(pthread_create(&ws[i].th, NULL, worker_main, &ws[i]));
        }
        for (int i = 0; i < NOTE_N; i++) {
            notes[i].buf = kaio_alloc(BLK);
            if (i % 2)
                submit_read(&notes[i], SIGEV_THREAD_ID, SIGRTMIN + 1, NULL);
            else
                submit_read(&notes[i], SIGEV_THREAD, 0, thread_note);
            if (i % 16 == 15)
                t_sleep_ms(1);
        }
        for (int i = 0; i < 2; i++)
            CHECK_OK(pthread_join(ws[i].th, NULL));
        double end = t_now() + T_DEADLINE_S;
        while (atomic_load(&notes_total) < NOTE_N && t_now() < end)
            t_sleep_ms(5);
        t_sleep_ms(100); /* a duplicate would arrive now */
        atomic_store(&sig_stop, 1);
        CHECK_OK(pthread_join(sw, NULL));
        for (int i = 0; i < NOTE_N; i++) {
            if (atomic_load(&note_count[i]) != 1)
                FAILF("part 3: notification %d (%s) delivered %d times", i,
                      i % 2 ? "SIGEV_THREAD_ID" : "SIGEV_THREAD", atomic_load(&note_count[i]));
            CHECK_EQ(aio_error(&notes[i].cb), 0);
            CHECK_EQ(aio_return(&notes[i].cb), BLK);
            check_block(notes[i].buf, notes[i].blk, "part 3 (notified)");
            free(notes[i].buf);
        }
        CHECK_EQ(atomic_load(&notes_early), 0);
    }

    /* 4 */
    for (int restart = 1; restart >= 0; restart--) {
        t_phase(restart ? "SA_RESTART signals at a waiting thread" : "signals without SA_RESTART");
        int sig = restart ? SIGUSR2 : SIGUSR1;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sig;
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigemptyset(&sa.sa_mask);
        CHECK_OK(sigaction(sig, &sa, NULL));
        atomic_store(&handled, 0);
        struct worker wk;
        memset(&wk, 0, sizeof wk);
        wk.depth = 4;
        wk.eintr = !restart;
        atomic_store(&wk.left, 1500);
        wk.what = restart ? "part 4 (SA_RESTART)" : "part 4 (no SA_RESTART)";
        CHECK_OK(pthread_create(&wk.th, NULL, worker_main, &wk));
        while (atomic_load(&wk.left) > 0) {
            pthread_kill(wk.th, sig);
            t_sleep_ms(1);
        }
        CHECK_OK(pthread_join(wk.th, NULL));
        if (atomic_load(&handled) == 0)
            FAILF("part 4: no signal was handled");
    }

    /* 5: not under TSan, whose signal bookkeeping does not expect glibc's SIGCANCEL handler
     * to unwind a thread from uninstrumented code (tests/sanitize.sh: CANCEL_UNINSTR). */
    t_phase("cancelling waiting threads");
#ifdef __SANITIZE_THREAD__
    t_note("part 5 (pthread_cancel) not run under TSan");
    for (int round = 0; round < 0; round++) {
#else
    for (int round = 0; round < 40; round++) {
#endif
        static struct victim vi;
        memset(&vi, 0, sizeof vi);
        for (int i = 0; i < 8; i++)
            vi.v[i].buf = kaio_alloc(BLK);
        pthread_t th;
        CHECK_OK(pthread_create(&th, NULL, victim_main, &vi));
        while (!atomic_load(&vi.started))
            sched_yield();
        t_sleep_ms((long)(rand_block() % 3));
        CHECK_OK(pthread_cancel(th));
        void *ret;
        CHECK_OK(pthread_join(th, &ret));
        CHECK(ret == PTHREAD_CANCELED);
        /* What it left in flight completes for this thread's own wait. */
        const struct aiocb *list[8];
        for (;;) {
            int live = 0;
            for (int i = 0; i < 8; i++) {
                int in = vi.v[i].cb.aio_fildes >= 0 && aio_error(&vi.v[i].cb) == EINPROGRESS;
                list[i] = in ? &vi.v[i].cb : NULL;
                live += in;
            }
            if (!live)
                break;
            CHECK_OK(aio_suspend(list, 8, NULL));
        }
        for (int i = 0; i < 8; i++) {
            if (aio_error(&vi.v[i].cb) == 0 && aio_return(&vi.v[i].cb) == BLK)
                check_block(vi.v[i].buf, vi.v[i].blk, "after the cancel");
            free(vi.v[i].buf);
        }
        t_progress();
    }

    t_watchdog_stop();
    close(fd);
    printf("%s: OK\n", t_name);
    return T_PASS;
}
