/* rel_sigpending: the real-time signal queue is full (RLIMIT_SIGPENDING = 4). BEHAVIOUR.md
 * Notifications: SIGEV_SIGNAL is rt_sigqueueinfo(...) with si_code SI_ASYNCIO and the
 * request's si_value; a queue refusing it (EAGAIN) must not lose it.
 *
 * SIGRTMIN and SIGRTMIN+1 are blocked (every thread of the test; rtaio's threads block
 * everything). 200 buffered writes notify with SIGEV_SIGNAL SIGRTMIN (sival_int = index),
 * 50 more with SIGEV_THREAD_ID SIGRTMIN+1 to the main thread (sival_int = 1000 + index), and
 * a lio_listio(LIO_NOWAIT) list of 10 writes notifies SIGRTMIN with sival_int 5000. All
 * complete while the queue holds only a few signals. Then sigtimedwait() consumes: every
 * one of the 251 notifications must arrive (si_code SI_ASYNCIO, si_pid, distinct si_value,
 * the request already complete), none twice, within 30 s; afterwards nothing more arrives.
 * The limit is applied in a child process (it counts per user: lowering it for the test
 * process would not disturb others, but a child keeps the test's own state simple). Since it
 * counts every pending signal of the user, other processes' included, the child raises it
 * from 4 until the queue takes at least MIN_OWN signals of its own (a busy machine may hold
 * more). While they wait, they hold one notification thread, not one each (a thread per
 * waiting signal: once the pool was full, SIGEV_THREAD callbacks never ran). */
#include "t.h"
#include <sys/resource.h>

#define NSIG1 200
#define NSIG2 50
#define NLIO 10
#define LIST_VALUE 5000
#define TOTAL (NSIG1 + NSIG2 + 1)
/* Signals of our own the queue must take under the chosen limit: a margin for the user's other
 * processes, whose pending signals (and POSIX timers: each `timeout` wrapper preallocates one
 * entry) come and go meanwhile; far fewer than the 251 notifications all the same. */
#define MIN_OWN 3

/* Threads of this process named rtaio-notify* */
static int notify_threads(void)
{
    pid_t tids[4096];
    int n = t_threads(tids, 4096), k = 0;
    for (int i = 0; i < n; i++) {
        char name[32];
        t_thread_name(tids[i], name, sizeof name);
        k += strncmp(name, "rtaio-notify", 12) == 0;
    }
    return k;
}

static struct aiocb cbs[NSIG1 + NSIG2 + NLIO];
static char bufs[NSIG1 + NSIG2 + NLIO][64];

static int child(void)
{
    int s1 = SIGRTMIN, s2 = SIGRTMIN + 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, s1);
    sigaddset(&set, s2);
    CHECK_OK(sigprocmask(SIG_BLOCK, &set, NULL));

    /* the smallest limit (from 4 up) under which the queue still takes a signal of ours: fill
     * it with our own sigqueue() to see */
    struct rlimit rl;
    CHECK_OK(getrlimit(RLIMIT_SIGPENDING, &rl));
    int own = 0, qerr = 0;
    rlim_t lim;
    siginfo_t si;
    struct timespec zero = { 0, 0 };
    union sigval sv = { .sival_int = -1 };
    for (lim = 4; lim <= 65536 && (rl.rlim_max == RLIM_INFINITY || lim <= rl.rlim_max); lim *= 2) {
        rl.rlim_cur = lim;
        CHECK_OK(setrlimit(RLIMIT_SIGPENDING, &rl));
        own = 0;
        while (own < 10000 && sigqueue(getpid(), s1, sv) == 0)
            own++;
        qerr = errno;
        for (int i = 0; i < own; i++)
            CHECK_EQ(sigtimedwait(&set, &si, &zero), s1);
        if (own >= MIN_OWN)
            break;
    }
    if (own >= 10000)
        SKIP("RLIMIT_SIGPENDING has no effect (%d signals queued)", own);
    if (own < MIN_OWN)
        SKIP("the user's signal queue is (nearly) full under every limit tried");
    t_note("limit %lu: the queue holds %d signals of ours (then sigqueue: %s)", (unsigned long)lim,
           own, strerror(qerr));

    int fd = t_tmpfile();
    pid_t me = t_gettid();
    for (int i = 0; i < NSIG1 + NSIG2; i++) {
        snprintf(bufs[i], sizeof bufs[i], "record %d", i);
        t_cb(&cbs[i], fd, bufs[i], sizeof bufs[i], (off_t)i * 64);
        struct sigevent *ev = &cbs[i].aio_sigevent;
        if (i < NSIG1) {
            ev->sigev_notify = SIGEV_SIGNAL;
            ev->sigev_signo = s1;
            ev->sigev_value.sival_int = i;
        } else {
            ev->sigev_notify = SIGEV_THREAD_ID;
            ev->sigev_signo = s2;
            ev->sigev_notify_thread_id = me;
            ev->sigev_value.sival_int = 1000 + i;
        }
        CHECK_OK(aio_write(&cbs[i]));
    }
    struct aiocb *list[NLIO];
    for (int k = 0; k < NLIO; k++) {
        int i = NSIG1 + NSIG2 + k;
        snprintf(bufs[i], sizeof bufs[i], "list %d", k);
        t_cb(&cbs[i], fd, bufs[i], sizeof bufs[i], (off_t)i * 64);
        cbs[i].aio_lio_opcode = LIO_WRITE;
        list[k] = &cbs[i];
    }
    struct sigevent lsig;
    memset(&lsig, 0, sizeof lsig);
    lsig.sigev_notify = SIGEV_SIGNAL;
    lsig.sigev_signo = s1;
    lsig.sigev_value.sival_int = LIST_VALUE;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, NLIO, &lsig));

    /* every request completes (the status is final before its notification) */
    for (int i = 0; i < NSIG1 + NSIG2 + NLIO; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "write"), 64);
    t_sleep_ms(300); /* the queue is full by now; the rest wait somewhere */
    sigset_t pend;
    CHECK_OK(sigpending(&pend));
    /* Ours hold the queue; which of the two signals, depends on which notifications got there
     * first (thread-directed SIGRTMIN+1 ones may). */
    CHECK(sigismember(&pend, s1) || sigismember(&pend, s2));
    if (!t_glibc()) {
        int k = notify_threads();
        if (k > 4)
            FAILF("%d notification threads while signals wait for room (one retries them all)", k);
    }

    static int seen1[NSIG1], seen2[NSIG2], seen_list;
    int got = 0, dup = 0;
    double start = t_now(), end = start + T_DEADLINE_S;
    while (got < TOTAL) {
        if (t_now() > end) {
            int miss1 = 0, miss2 = 0;
            for (int i = 0; i < NSIG1; i++)
                miss1 += !seen1[i];
            for (int i = 0; i < NSIG2; i++)
                miss2 += !seen2[i];
            FAILF("after %.0f s: %d of %d notifications arrived; missing: %d SIGEV_SIGNAL, %d "
                  "SIGEV_THREAD_ID, list %s (lost when the signal queue was full)",
                  T_DEADLINE_S, got, TOTAL, miss1, miss2, seen_list ? "arrived" : "missing");
        }
        struct timespec ts = { 0, 200 * 1000000L };
        int s = sigtimedwait(&set, &si, &ts);
        if (s < 0) {
            CHECK(errno == EAGAIN || errno == EINTR);
            continue;
        }
        if (si.si_code != SI_ASYNCIO)
            FAILF("signal %d with si_code %d, expected SI_ASYNCIO (%d)", s, si.si_code,
                  SI_ASYNCIO);
        CHECK_EQ(si.si_pid, getpid());
        int v = si.si_value.sival_int;
        if (s == s1 && v >= 0 && v < NSIG1) {
            dup += seen1[v]++ > 0;
        } else if (s == s2 && v >= 1000 + NSIG1 && v < 1000 + NSIG1 + NSIG2) {
            dup += seen2[v - 1000 - NSIG1]++ > 0;
        } else if (s == s1 && v == LIST_VALUE) {
            dup += seen_list++ > 0;
        } else {
            FAILF("unexpected notification: signal %d value %d", s, v);
        }
        if (dup)
            FAILF("duplicate notification: signal %d value %d", s, v);
        got++;
    }
    t_note("all %d notifications arrived in %.2f s of consuming", TOTAL, t_now() - start);
    /* nothing more (no duplicate) */
    t_sleep_ms(600);
    struct timespec ts = { 0, 300 * 1000000L };
    int s = sigtimedwait(&set, &si, &ts);
    if (s > 0)
        FAILF("extra notification after all arrived: signal %d value %d code %d", s,
              si.si_value.sival_int, si.si_code);
    return T_PASS;
}

int main(void)
{
    t_init("rel_sigpending");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(55);
        _exit(child());
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        FAILF("child killed by signal %d%s", WTERMSIG(st),
              WTERMSIG(st) == SIGALRM ? " (hang)" : "");
    return WEXITSTATUS(st);
}
