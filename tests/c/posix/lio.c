/* lio: lio_listio per BEHAVIOUR.md.
 *  - LIO_WAIT with reads + writes + LIO_NOP + NULL entries: returns 0, data checked;
 *  - LIO_NOWAIT with list sigevent SIGEV_SIGNAL and SIGEV_THREAD: delivered exactly once,
 *    after every entry is complete (checked inside the notification);
 *  - per-entry aio_sigevent honoured;
 *  - an entry with a bad fd is accepted and fails with EBADF, as in glibc: LIO_WAIT →
 *    -1/EIO, that entry's aio_error == EBADF, aio_return == -1, its own notification sent
 *    once, the others succeed; LIO_NOWAIT → 0, the others still run and the list
 *    notification comes once;
 *  - invalid opcode entry: accepted and failed with EINVAL (as glibc): LIO_WAIT → EIO;
 *  - bad mode, nent < 0, nent > 65536, list NULL, bad list sigevent → -1/EINVAL;
 *    nent == 65536 is accepted;
 *  - nent == 0 (and a list of only NOP/NULL) with LIO_NOWAIT: the notification fires. */
#include "t.h"

#define N 32
#define SZ 4096

static unsigned char filedata[N * SZ];
static unsigned char bufs[N][SZ];
static struct aiocb cbs[N];
static struct aiocb *list[N + 4];
static int nlist;

struct lstate {
    struct aiocb **l;
    int n;
    volatile int fired;
    volatile int inprogress_seen;
    volatile int code;
};

static int count_inprogress(struct aiocb **l, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (l[i] && l[i]->aio_lio_opcode != LIO_NOP && aio_error(l[i]) == EINPROGRESS)
            k++;
    return k;
}

static void list_thread_fn(union sigval v)
{
    struct lstate *s = v.sival_ptr;
    s->inprogress_seen += count_inprogress(s->l, s->n);
    __atomic_add_fetch(&s->fired, 1, __ATOMIC_SEQ_CST);
}

static struct lstate *sig_state;
static void list_sig_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno; /* aio_error may set it: a handler must not change the interrupted errno */
    struct lstate *s = si->si_value.sival_ptr;
    if (s != sig_state) {
        sig_state->code = -2;
        errno = saved;
        return;
    }
    s->code = si->si_code;
    s->inprogress_seen += count_inprogress(s->l, s->n);
    __atomic_add_fetch(&s->fired, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}

static volatile int entry_notes[N];
static void entry_fn(union sigval v)
{
    __atomic_add_fetch(&entry_notes[(struct aiocb *)v.sival_ptr - cbs], 1, __ATOMIC_SEQ_CST);
}

static int fd;

/* Build a list: even entries write new data to region i, odd entries read region i;
 * plus a NOP and two NULL entries mixed in. */
static void build(void)
{
    nlist = 0;
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0) {
            t_fill_random(bufs[i], SZ);
            t_cb(&cbs[i], fd, bufs[i], SZ, (off_t)i * SZ);
            cbs[i].aio_lio_opcode = LIO_WRITE;
        } else {
            memset(bufs[i], 0, SZ);
            t_cb(&cbs[i], fd, bufs[i], SZ, (off_t)i * SZ);
            cbs[i].aio_lio_opcode = LIO_READ;
        }
        list[nlist++] = &cbs[i];
        if (i == 5)
            list[nlist++] = NULL;
    }
    static struct aiocb nop;
    t_cb(&nop, -1, NULL, 0, 0); /* bad fd, but NOP: skipped */
    nop.aio_lio_opcode = LIO_NOP;
    list[nlist++] = &nop;
    list[nlist++] = NULL;
}

static void verify(int skip)
{
    for (int i = 0; i < N; i++) {
        if (i == skip)
            continue;
        CHECK_EQ(t_wait_return(&cbs[i], 0, "list entry"), SZ);
        if (i % 2 == 0)
            memcpy(filedata + (size_t)i * SZ, bufs[i], SZ);
        else if (memcmp(bufs[i], filedata + (size_t)i * SZ, SZ) != 0)
            FAILF("read entry %d: wrong data", i);
    }
    static unsigned char chk[N * SZ];
    t_pread_all(fd, chk, sizeof chk, 0);
    for (int i = 0; i < N; i++)
        if (i % 2 == 0 && i != skip && memcmp(chk + (size_t)i * SZ, bufs[i], SZ) != 0)
            FAILF("write entry %d: file content wrong", i);
}

int main(void)
{
    t_init("lio");
    fd = t_tmpfile();
    t_fill_random(filedata, sizeof filedata);
    t_pwrite_all(fd, filedata, sizeof filedata, 0);

    /* LIO_WAIT */
    build();
    CHECK_OK(lio_listio(LIO_WAIT, list, nlist, NULL));
    for (int i = 0; i < N; i++)
        CHECK(aio_error(&cbs[i]) != EINPROGRESS);
    verify(-1);

    /* LIO_WAIT: sig is ignored (an invalid-looking one must not matter? it is "ignored") */
    build();
    struct sigevent ign;
    memset(&ign, 0, sizeof ign);
    ign.sigev_notify = SIGEV_SIGNAL;
    ign.sigev_signo = SIGUSR2; /* would kill us if it were sent */
    CHECK_OK(lio_listio(LIO_WAIT, list, nlist, &ign));
    verify(-1);

    /* LIO_NOWAIT + SIGEV_THREAD */
    struct lstate st;
    memset(&st, 0, sizeof st);
    build();
    st.l = list;
    st.n = nlist;
    struct sigevent se;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_notify_function = list_thread_fn;
    se.sigev_value.sival_ptr = &st;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, nlist, &se));
    t_wait_counter(&st.fired, 1, "LIO_NOWAIT SIGEV_THREAD");
    t_sleep_ms(200);
    CHECK_EQ(st.fired, 1);
    CHECK_EQ(st.inprogress_seen, 0);
    verify(-1);

    /* LIO_NOWAIT + SIGEV_SIGNAL, entries with their own SIGEV_THREAD */
    int sig = SIGRTMIN + 6;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = list_sig_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(sig, &sa, NULL));
    struct lstate ss;
    memset(&ss, 0, sizeof ss);
    sig_state = &ss;
    build();
    ss.l = list;
    ss.n = nlist;
    memset((void *)entry_notes, 0, sizeof entry_notes);
    for (int i = 0; i < N; i++) {
        cbs[i].aio_sigevent.sigev_notify = SIGEV_THREAD;
        cbs[i].aio_sigevent.sigev_notify_function = entry_fn;
        cbs[i].aio_sigevent.sigev_value.sival_ptr = &cbs[i];
    }
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = sig;
    se.sigev_value.sival_ptr = &ss;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, nlist, &se));
    t_wait_counter(&ss.fired, 1, "LIO_NOWAIT SIGEV_SIGNAL");
    for (int i = 0; i < N; i++)
        t_wait_counter(&entry_notes[i], 1, "per-entry SIGEV_THREAD");
    t_sleep_ms(200);
    CHECK_EQ(ss.fired, 1);
    CHECK_EQ(ss.inprogress_seen, 0);
    if (ss.code != SI_ASYNCIO)
        FAILF("list signal si_code %d, expected SI_ASYNCIO (%d)", ss.code, SI_ASYNCIO);
    for (int i = 0; i < N; i++)
        CHECK_EQ(entry_notes[i], 1);
    verify(-1);

    /* one bad-fd entry, LIO_WAIT → EIO; it failed like any request: its notification is sent */
    build();
    memset((void *)entry_notes, 0, sizeof entry_notes);
    int bad = 7;
    cbs[bad].aio_fildes = -1;
    cbs[bad].aio_sigevent.sigev_notify = SIGEV_THREAD;
    cbs[bad].aio_sigevent.sigev_notify_function = entry_fn;
    cbs[bad].aio_sigevent.sigev_value.sival_ptr = &cbs[bad];
    CHECK_ERR(lio_listio(LIO_WAIT, list, nlist, NULL), EIO);
    CHECK_EQ(aio_error(&cbs[bad]), EBADF);
    CHECK_EQ(aio_return(&cbs[bad]), -1);
    for (int i = 0; i < N; i++)
        if (i != bad)
            CHECK_EQ(aio_error(&cbs[i]), 0); /* LIO_WAIT: all complete on return */
    verify(bad);

    /* invalid opcode entry, LIO_WAIT → EIO, its status EINVAL */
    build();
    cbs[4].aio_lio_opcode = 42;
    CHECK_ERR(lio_listio(LIO_WAIT, list, nlist, NULL), EIO);
    CHECK_EQ(aio_error(&cbs[4]), EINVAL);
    CHECK_EQ(aio_return(&cbs[4]), -1);
    verify(4);

    /* bad-fd entry with LIO_NOWAIT → 0 (accepted, as glibc), others still run, list
     * notification once */
    build();
    memset(&st, 0, sizeof st);
    st.l = list;
    st.n = nlist;
    cbs[bad].aio_fildes = -1;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_notify_function = list_thread_fn;
    se.sigev_value.sival_ptr = &st;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, nlist, &se));
    CHECK_EQ(t_wait(&cbs[bad]), EBADF);
    t_wait_counter(&st.fired, 1, "LIO_NOWAIT with a failed entry");
    t_sleep_ms(200);
    CHECK_EQ(st.fired, 1);
    CHECK_EQ(st.inprogress_seen, 0);
    CHECK_EQ(aio_return(&cbs[bad]), -1);
    verify(bad);
    t_sleep_ms(100);
    CHECK_EQ(entry_notes[bad], 1); /* the failed entry of the LIO_WAIT round: notified once */

    /* argument errors */
    build();
    CHECK_ERR(lio_listio(5, list, nlist, NULL), EINVAL);
    CHECK_ERR(lio_listio(-1, list, nlist, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_WAIT, list, -1, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_NOWAIT, list, -1, NULL), EINVAL);
    NOT_GLIBC(CHECK_ERR(lio_listio(LIO_WAIT, t_null(), 3, NULL), EINVAL));
    static struct aiocb *huge[65537];
    CHECK_ERR(lio_listio(LIO_WAIT, huge, 65537, NULL), EINVAL);
    CHECK_ERR(lio_listio(LIO_NOWAIT, huge, 65537, NULL), EINVAL);
    CHECK_OK(lio_listio(LIO_WAIT, huge, 65536, NULL)); /* all NULL: nothing to do */
    struct aiocb *nops[1];
    static struct aiocb nop1;
    t_cb(&nop1, fd, NULL, 0, 0);
    nop1.aio_lio_opcode = LIO_NOP;
    nops[0] = &nop1;
    memset(&se, 0, sizeof se);
    se.sigev_notify = 99;
    CHECK_ERR(lio_listio(LIO_NOWAIT, nops, 1, &se), EINVAL);
    se.sigev_notify = SIGEV_SIGNAL;
    se.sigev_signo = 65;
    CHECK_ERR(lio_listio(LIO_NOWAIT, nops, 1, &se), EINVAL);
    se.sigev_signo = 32;
    CHECK_ERR(lio_listio(LIO_NOWAIT, nops, 1, &se), EINVAL);
    se.sigev_signo = 0; /* the null signal: accepted, no notification */
    CHECK_OK(lio_listio(LIO_NOWAIT, nops, 1, &se));
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_notify_function = NULL;
    CHECK_ERR(lio_listio(LIO_NOWAIT, nops, 1, &se), EINVAL);

    /* nent == 0 / only NOP+NULL, LIO_NOWAIT: notification fires (at once) */
    memset(&st, 0, sizeof st);
    st.l = list;
    st.n = 0;
    memset(&se, 0, sizeof se);
    se.sigev_notify = SIGEV_THREAD;
    se.sigev_notify_function = list_thread_fn;
    se.sigev_value.sival_ptr = &st;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, 0, &se));
    t_wait_counter(&st.fired, 1, "nent == 0 LIO_NOWAIT");
    memset(&st, 0, sizeof st);
    struct aiocb *onlynop[3] = { NULL, &nop1, NULL };
    st.l = onlynop;
    st.n = 3;
    CHECK_OK(lio_listio(LIO_NOWAIT, onlynop, 3, &se));
    t_wait_counter(&st.fired, 1, "NOP-only LIO_NOWAIT");
    CHECK_OK(lio_listio(LIO_NOWAIT, list, 0, NULL));
    CHECK_OK(lio_listio(LIO_WAIT, list, 0, NULL));
    t_sleep_ms(200);
    CHECK_EQ(st.fired, 1);

    /* lio_listio64 twin */
    build();
    CHECK_OK(lio_listio64(LIO_WAIT, (struct aiocb64 **)list, nlist, NULL));
    verify(-1);
    close(fd);
    return T_PASS;
}
