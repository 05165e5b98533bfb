/* notify_signal: SIGEV_SIGNAL notifications (BEHAVIOUR.md "Notifications").
 * A SA_SIGINFO handler for SIGRTMIN+1 checks si_signo, si_code == SI_ASYNCIO,
 * si_value.sival_ptr, si_pid == getpid(), si_uid == getuid(), and that aio_error() of the
 * request is already final inside the handler. Many requests: every notification arrives
 * exactly once. A second round uses sival_int and a failing request (status final, -1). A
 * third (as root) changes the uid between two notifications: si_uid is the uid at the time
 * of sending, as glibc's, not the one of the first request. */
#include "t.h"

#define N 300

static struct aiocb cbs[N];
static volatile int counts[N];
static volatile int total;
static volatile int bad_signo, bad_code, bad_ptr, bad_pid, bad_uid, bad_inprogress, bad_int;
static int sig;
static pid_t mypid;
static uid_t myuid;

static void handler(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    if (s != sig || si->si_signo != sig)
        bad_signo++;
    if (si->si_code != SI_ASYNCIO)
        bad_code = si->si_code ? si->si_code : -1000;
    if (si->si_pid != mypid)
        bad_pid++;
    if (si->si_uid != myuid)
        bad_uid++;
    struct aiocb *cb = si->si_value.sival_ptr;
    if (cb < &cbs[0] || cb >= &cbs[N]) {
        bad_ptr++;
    } else {
        if (aio_error(cb) == EINPROGRESS)
            bad_inprogress++;
        __atomic_add_fetch(&counts[cb - cbs], 1, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(&total, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

static volatile int int_total, int_val_sum;
static void handler_int(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    (void)s;
    if (si->si_code != SI_ASYNCIO)
        bad_code = si->si_code ? si->si_code : -1000;
    __atomic_add_fetch(&int_val_sum, si->si_value.sival_int, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&int_total, 1, __ATOMIC_SEQ_CST);
}

static volatile int uid_total;
static volatile uid_t last_uid;
static void handler_uid(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    (void)s;
    last_uid = si->si_uid;
    __atomic_add_fetch(&uid_total, 1, __ATOMIC_SEQ_CST);
}

/* One SIGEV_SIGNAL read; its notification's si_uid must be `want`. */
static void read_notified_as(int fd, int signo, uid_t want)
{
    static char b[64];
    struct aiocb cb;
    int before = uid_total;
    t_cb(&cb, fd, b, sizeof b, 0);
    cb.aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    cb.aio_sigevent.sigev_signo = signo;
    CHECK_OK(aio_read(&cb));
    t_wait_return(&cb, 0, "read");
    t_wait_counter(&uid_total, before + 1, "the notification");
    if (last_uid != want)
        FAILF("si_uid %u, the sender's uid is %u", (unsigned)last_uid, (unsigned)want);
}

int main(void)
{
    t_init("notify_signal");
    mypid = getpid();
    myuid = getuid();
    sig = SIGRTMIN + 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(sig, &sa, NULL));

    int fd = t_tmpfile();
    static char data[N][64];
    for (int i = 0; i < N; i++) {
        snprintf(data[i], sizeof data[i], "record %d", i);
        t_cb(&cbs[i], fd, data[i], sizeof data[i], (off_t)i * 64);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cbs[i].aio_sigevent.sigev_signo = sig;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
        if (i % 3 == 0)
            CHECK_OK(aio_read(&cbs[i])); /* reads of a sparse region: 0 or short */
        else
            CHECK_OK(aio_write(&cbs[i]));
    }
    t_wait_counter(&total, N, "SIGEV_SIGNAL notifications");
    t_sleep_ms(300); /* any duplicate would arrive by now */
    CHECK_EQ(total, N);
    for (int i = 0; i < N; i++) {
        if (counts[i] != 1)
            FAILF("request %d notified %d times", i, counts[i]);
        CHECK(aio_error(&cbs[i]) != EINPROGRESS);
        CHECK(aio_return(&cbs[i]) >= 0);
    }
    CHECK_EQ(bad_signo, 0);
    if (bad_code)
        FAILF("si_code = %d, expected SI_ASYNCIO (%d)", bad_code, SI_ASYNCIO);
    CHECK_EQ(bad_ptr, 0);
    CHECK_EQ(bad_pid, 0);
    CHECK_EQ(bad_uid, 0);
    CHECK_EQ(bad_inprogress, 0);

    /* round 2: sival_int, SIGRTMIN+3, including failing requests (read into a bad
     * buffer → EFAULT through aio_error); each is still notified exactly once. */
    int sig2 = SIGRTMIN + 3;
    sa.sa_sigaction = handler_int;
    CHECK_OK(sigaction(sig2, &sa, NULL));
    int want_sum = 0;
    for (int i = 0; i < 50; i++) {
        t_cb(&cbs[i], fd, (i % 5 == 0) ? (void *)8 : data[i], 64, 0);
        cbs[i].aio_sigevent.sigev_notify = SIGEV_SIGNAL;
        cbs[i].aio_sigevent.sigev_signo = sig2;
        cbs[i].aio_sigevent.sigev_value.sival_int = i + 1;
        want_sum += i + 1;
        CHECK_OK(aio_read(&cbs[i]));
    }
    t_wait_counter(&int_total, 50, "sival_int notifications");
    t_sleep_ms(200);
    CHECK_EQ(int_total, 50);
    CHECK_EQ(int_val_sum, want_sum);
    for (int i = 0; i < 50; i++) {
        if (i % 5 == 0)
            CHECK_EQ(t_wait_return(&cbs[i], EFAULT, "read to bad buffer"), -1);
        else
            CHECK_EQ(t_wait_return(&cbs[i], 0, "read"), 64);
    }
    if (bad_code)
        FAILF("si_code = %d, expected SI_ASYNCIO (%d)", bad_code, SI_ASYNCIO);
    (void)bad_int;

    /* round 3: the uid changes after the first notifications (for good: last) */
    if (getuid() == 0) {
        sa.sa_sigaction = handler_uid;
        CHECK_OK(sigaction(sig2, &sa, NULL));
        read_notified_as(fd, sig2, 0);
        CHECK_OK(setuid(65534));
        read_notified_as(fd, sig2, 65534);
    } else {
        t_note("round 3 (si_uid after setuid) needs root: not run");
    }
    close(fd);
    return T_PASS;
}
