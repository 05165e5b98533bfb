/* kaio_mixed: lio_listio lists mixing the kernel-AIO backend and the thread pool.
 * One list holds O_DIRECT writes and reads on two O_DIRECT files (kernel AIO), buffered
 * writes and reads at unaligned offsets on a buffered file (thread pool), a pipe read (data
 * already in the pipe) and a pipe write, a LIO_NOP and a NULL entry, in random order;
 * regions never overlap within a list. All data checked against models, then every file
 * re-read. Parts:
 *  1. LIO_WAIT, 4 lists: returns 0, no entry EINPROGRESS afterwards.
 *  2. LIO_WAIT with an extra misaligned O_DIRECT read (buffer + 1): -1/EIO and that
 *     entry's aio_error == the errno of the same pread done synchronously (if the kernel
 *     accepts it, success in both); the others succeed.
 *  3. LIO_NOWAIT with a SIGEV_THREAD and with a SIGEV_SIGNAL list notification: delivered
 *     exactly once, after every entry is complete; per-entry SIGEV_THREAD notifications on
 *     some O_DIRECT entries, exactly once each.
 * Runs in the inherited mode, then re-executes itself with RTAIO_BACKEND=kernel (buffered
 * entries also go to the kernel) and RTAIO_BACKEND=threads (unless RTAIO_BACKEND is set). */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define DSZ (1u << 20) /* each O_DIRECT file */
#define DREG (64u * 1024)
#define CSZ (256u * 1024) /* the buffered file */
#define CREG (8u * 1024)
#define P1 3000 /* bytes the list reads from pipe 1 (written before the list) */
#define P2 2000 /* bytes the list writes into pipe 2 */
#define MAXE 48

enum { DA_W, DB_R, DA_R, C_W, C_R, P_R, P_W, DA_BAD, NOP };
static const char *kname[] = { "O_DIRECT write", "O_DIRECT read", "O_DIRECT read (file A)",
                               "buffered write", "buffered read", "pipe read", "pipe write",
                               "misaligned O_DIRECT read", "LIO_NOP" };

struct ent {
    struct aiocb cb;
    int kind;
    unsigned char *mem; /* allocation (aligned) */
    unsigned char *buf; /* = mem, or mem + 1 for DA_BAD */
    size_t len;
    off_t off;
    int want_err;
    ssize_t want_ret;
};

static int dA, dB, fC, p1[2], p2[2];
static unsigned char *mA, *mB, *mC; /* models */
static unsigned char p1data[P1], p2data[P2];
static struct ent ents[MAXE];
static struct aiocb *list[MAXE + 1];
static int nent;

static void perm(int *p, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)t_rand_below((uint64_t)i + 1), t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

static struct ent *add(int kind, int fd, size_t len, off_t off, int opcode)
{
    CHECK(nent < MAXE);
    struct ent *e = &ents[nent++];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->len = len;
    e->off = off;
    e->mem = kaio_alloc(len + KA);
    e->buf = e->mem + (kind == DA_BAD ? 1 : 0);
    e->want_ret = (ssize_t)len;
    t_cb(&e->cb, fd, e->buf, len, off);
    e->cb.aio_lio_opcode = opcode;
    if (opcode == LIO_WRITE)
        kaio_fill(e->buf, len);
    else
        memset(e->mem, 0xEE, len + KA);
    return e;
}

/* A list mixing everything; regions never overlap within one list. */
static void build(int with_bad)
{
    for (int i = 0; i < nent; i++)
        free(ents[i].mem);
    nent = 0;
    int ra[DSZ / DREG], rb[DSZ / DREG], rc[CSZ / CREG];
    perm(ra, DSZ / DREG);
    perm(rb, DSZ / DREG);
    perm(rc, CSZ / CREG);
    for (int i = 0; i < 8; i++) {
        size_t len = KA * (1 + t_rand_below(DREG / KA));
        off_t off = (off_t)ra[i] * DREG + (off_t)KA * t_rand_below((DREG - len) / KA + 1);
        add(DA_W, dA, len, off, LIO_WRITE);
    }
    for (int i = 0; i < 8; i++) {
        size_t len = KA * (1 + t_rand_below(DREG / KA));
        off_t off = (off_t)rb[i] * DREG + (off_t)KA * t_rand_below((DREG - len) / KA + 1);
        add(DB_R, dB, len, off, LIO_READ);
    }
    for (int i = 8; i < 10; i++)
        add(DA_R, dA, DREG, (off_t)ra[i] * DREG, LIO_READ);
    for (int i = 0; i < 6; i++) {
        size_t len = 1 + t_rand_below(CREG / 2);
        off_t off = (off_t)rc[i] * CREG + (off_t)t_rand_below(CREG / 2);
        add(C_W, fC, len, off, LIO_WRITE);
    }
    for (int i = 6; i < 12; i++) {
        size_t len = 1 + t_rand_below(CREG / 2);
        off_t off = (off_t)rc[i] * CREG + (off_t)t_rand_below(CREG / 2);
        add(C_R, fC, len, off, LIO_READ);
    }
    /* pipe 1: the data is already in the pipe; pipe 2: read back after the list */
    kaio_fill(p1data, P1);
    t_write_all(p1[1], p1data, P1);
    add(P_R, p1[0], P1, 0, LIO_READ);
    struct ent *w = add(P_W, p2[1], P2, 0, LIO_WRITE);
    memcpy(p2data, w->buf, P2);
    add(NOP, dA, KA, 0, LIO_NOP);
    if (with_bad) {
        struct ent *b = add(DA_BAD, dA, KA, (off_t)ra[10] * DREG, LIO_READ);
        /* the errno of the same pread, done synchronously */
        unsigned char *tmp = kaio_alloc(2 * KA);
        errno = 0;
        ssize_t r = pread(dA, tmp + 1, KA, b->off);
        b->want_err = r < 0 ? errno : 0;
        b->want_ret = r;
        free(tmp);
    }
    /* random order, and a NULL entry somewhere */
    int order[MAXE];
    perm(order, nent);
    int k = 0, nullpos = (int)t_rand_below((uint64_t)nent + 1);
    for (int i = 0; i < nent; i++) {
        if (i == nullpos)
            list[k++] = NULL;
        list[k++] = &ents[order[i]].cb;
    }
    if (nullpos == nent)
        list[k++] = NULL;
}

static int list_len(void)
{
    return nent + 1;
}

static void check_ent(struct ent *e, const char *what)
{
    if (e->kind == NOP)
        return;
    int err = aio_error(&e->cb);
    ssize_t r = aio_return(&e->cb);
    if (err != e->want_err || r != (e->want_err ? -1 : e->want_ret))
        FAILF("%s: %s (fd %d, len %zu, off %lld): aio_error %d (%s), aio_return %zd; expected "
              "%d (%s), %zd",
              what, kname[e->kind], e->cb.aio_fildes, e->len, (long long)e->off, err,
              strerror(err), r, e->want_err, strerror(e->want_err),
              e->want_err ? (ssize_t)-1 : e->want_ret);
    long d = -1;
    switch (e->kind) {
    case DA_W:
        memcpy(mA + e->off, e->buf, e->len);
        break;
    case C_W:
        memcpy(mC + e->off, e->buf, e->len);
        break;
    case DB_R:
        d = kaio_cmp(e->buf, mB + e->off, e->len);
        break;
    case DA_R:
        d = kaio_cmp(e->buf, mA + e->off, e->len);
        break;
    case C_R:
        d = kaio_cmp(e->buf, mC + e->off, e->len);
        break;
    case P_R:
        d = kaio_cmp(e->buf, p1data, P1);
        break;
    }
    if (d >= 0)
        FAILF("%s: %s (len %zu, off %lld): wrong data at byte %ld", what, kname[e->kind],
              e->len, (long long)e->off, d);
    if (e->kind == DB_R || e->kind == DA_R || e->kind == C_R || e->kind == P_R)
        for (size_t i = e->len; i < e->len + KA; i++)
            if (e->mem[i] != 0xEE)
                FAILF("%s: %s of %zu bytes wrote past its length", what, kname[e->kind], e->len);
}

static void check_all(const char *what)
{
    for (int i = 0; i < nent; i++)
        check_ent(&ents[i], what);
    unsigned char got[P2];
    t_read_all(p2[0], got, P2);
    if (memcmp(got, p2data, P2) != 0)
        FAILF("%s: pipe write: wrong data in the pipe", what);
    /* the files */
    unsigned char *b = kaio_alloc(DSZ);
    t_pread_all(dA, b, DSZ, 0);
    long d = kaio_cmp(b, mA, DSZ);
    if (d >= 0)
        FAILF("%s: O_DIRECT file A differs from the model at byte %ld", what, d);
    t_pread_all(dB, b, DSZ, 0);
    if ((d = kaio_cmp(b, mB, DSZ)) >= 0)
        FAILF("%s: O_DIRECT file B (only read) changed at byte %ld", what, d);
    t_pread_all(fC, b, CSZ, 0);
    if ((d = kaio_cmp(b, mC, CSZ)) >= 0)
        FAILF("%s: buffered file differs from the model at byte %ld", what, d);
    free(b);
}

/* list notification */
static volatile int l_fired, l_inprogress, l_code, l_badval;
static int count_inprogress(void)
{
    int k = 0;
    for (int i = 0; i < nent; i++)
        if (ents[i].kind != NOP && aio_error(&ents[i].cb) == EINPROGRESS)
            k++;
    return k;
}
static void l_thread(union sigval v)
{
    if (v.sival_ptr != (void *)ents)
        l_badval++;
    l_inprogress += count_inprogress();
    __atomic_add_fetch(&l_fired, 1, __ATOMIC_SEQ_CST);
}
static void l_handler(int s, siginfo_t *si, void *uc)
{
    (void)s;
    (void)uc;
    int saved = errno;
    l_code = si->si_code;
    if (si->si_value.sival_int != 4242)
        l_badval++;
    l_inprogress += count_inprogress();
    __atomic_add_fetch(&l_fired, 1, __ATOMIC_SEQ_CST);
    errno = saved;
}
/* per-entry notifications on the O_DIRECT entries of the NOWAIT lists */
static volatile int e_count[MAXE], e_total, e_inprogress;
static void e_thread(union sigval v)
{
    struct ent *e = v.sival_ptr;
    if (aio_error(&e->cb) == EINPROGRESS)
        e_inprogress++;
    __atomic_add_fetch(&e_count[e - ents], 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&e_total, 1, __ATOMIC_SEQ_CST);
}

static void nowait_round(int use_signal)
{
    const char *what = use_signal ? "LIO_NOWAIT, SIGEV_SIGNAL list notification"
                                  : "LIO_NOWAIT, SIGEV_THREAD list notification";
    build(0);
    int nnotify = 0;
    memset((void *)e_count, 0, sizeof e_count);
    e_total = e_inprogress = 0;
    for (int i = 0; i < nent; i++)
        if ((ents[i].kind == DA_W || ents[i].kind == DB_R) && (i % 2)) {
            ents[i].cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
            ents[i].cb.aio_sigevent.sigev_notify_function = e_thread;
            ents[i].cb.aio_sigevent.sigev_value.sival_ptr = &ents[i];
            nnotify++;
        }
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    if (use_signal) {
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGRTMIN + 3;
        sev.sigev_value.sival_int = 4242;
    } else {
        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = l_thread;
        sev.sigev_value.sival_ptr = ents;
    }
    l_fired = l_inprogress = l_code = l_badval = 0;
    CHECK_OK(lio_listio(LIO_NOWAIT, list, list_len(), &sev));
    t_wait_counter(&l_fired, 1, what);
    t_wait_counter(&e_total, nnotify, "per-entry SIGEV_THREAD notifications");
    for (int i = 0; i < nent; i++)
        if (ents[i].kind != NOP)
            t_wait(&ents[i].cb);
    t_sleep_ms(200);
    if (l_inprogress)
        FAILF("%s: %d entries still in progress when the list notification came", what,
              l_inprogress);
    CHECK_EQ(l_fired, 1);
    CHECK_EQ(l_badval, 0);
    if (use_signal)
        CHECK_EQ(l_code, SI_ASYNCIO);
    CHECK_EQ(e_total, nnotify);
    CHECK_EQ(e_inprogress, 0);
    for (int i = 0; i < nent; i++)
        if (ents[i].cb.aio_sigevent.sigev_notify == SIGEV_THREAD)
            CHECK_EQ(e_count[i], 1);
    check_all(what);
}

static int body(void)
{
    t_note("backend %s, directory %s", kaio_backend(), kaio_dir());
    dA = kaio_open(O_DIRECT);
    dB = kaio_open(O_DIRECT);
    fC = kaio_open(0);
    CHECK_OK(pipe(p1));
    CHECK_OK(pipe(p2));
    mA = kaio_alloc(DSZ);
    mB = kaio_alloc(DSZ);
    mC = kaio_alloc(CSZ);
    kaio_fill(mA, DSZ);
    kaio_fill(mB, DSZ);
    kaio_fill(mC, CSZ);
    t_pwrite_all(dA, mA, DSZ, 0);
    t_pwrite_all(dB, mB, DSZ, 0);
    t_pwrite_all(fC, mC, CSZ, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = l_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(SIGRTMIN + 3, &sa, NULL));

    for (int r = 0; r < 4; r++) {
        build(0);
        int rc = lio_listio(LIO_WAIT, list, list_len(), NULL);
        if (rc != 0) {
            int e = errno;
            for (int i = 0; i < nent; i++) {
                int x = ents[i].kind == NOP ? 0 : aio_error(&ents[i].cb);
                if (x != 0)
                    t_note("  entry %s (fd %d, len %zu, off %lld): aio_error %d (%s)",
                           kname[ents[i].kind], ents[i].cb.aio_fildes, ents[i].len,
                           (long long)ents[i].off, x, strerror(x));
            }
            FAILF("LIO_WAIT mixed list (round %d): returned %d errno %d (%s); failed entries "
                  "above",
                  r, rc, e, strerror(e));
        }
        /* LIO_WAIT returned: every entry is complete */
        int k = count_inprogress();
        if (k)
            FAILF("LIO_WAIT returned with %d entries still EINPROGRESS", k);
        check_all("LIO_WAIT mixed list");
    }
    t_note("LIO_WAIT: 4 lists of %d entries (O_DIRECT, buffered, pipes, NOP, NULL) checked",
           list_len());

    build(1);
    struct ent *bad = &ents[nent - 1];
    errno = 0;
    int rc = lio_listio(LIO_WAIT, list, list_len(), NULL);
    int e = errno;
    if (bad->want_err) {
        if (rc != -1 || e != EIO)
            FAILF("LIO_WAIT with a misaligned O_DIRECT entry (sync pread: %s): returned %d "
                  "errno %d, expected -1/EIO",
                  strerror(bad->want_err), rc, e);
    } else if (rc != 0) {
        FAILF("LIO_WAIT: returned %d errno %d, but the synchronous pread of the misaligned "
              "entry succeeded",
              rc, e);
    }
    check_all("LIO_WAIT list with a misaligned O_DIRECT entry");
    t_note("LIO_WAIT with a misaligned O_DIRECT entry: its status %d (%s) = the pread's",
           bad->want_err, strerror(bad->want_err));

    for (int r = 0; r < 2; r++) {
        nowait_round(0);
        nowait_round(1);
    }
    t_note("LIO_NOWAIT: list notifications (SIGEV_THREAD, SIGEV_SIGNAL) once, after all "
           "entries; per-entry notifications once");
    for (int i = 0; i < nent; i++)
        free(ents[i].mem);
    close(dA);
    close(dB);
    close(fC);
    close(p1[0]);
    close(p1[1]);
    close(p2[0]);
    close(p2[1]);
    return T_PASS;
}

int main(int argc, char **argv)
{
    t_init("kaio_mixed");
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return body();
    int rc = body();
    if (rc != T_PASS)
        return rc;
    if (getenv("RTAIO_BACKEND") && *getenv("RTAIO_BACKEND"))
        return T_PASS; /* the caller chose the mode */
    /* the same in the two forced modes, each a fresh process (the mode is read at start-up) */
    static const char *modes[] = { "kernel", "threads" };
    for (int m = 0; m < 2; m++) {
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t_rand());
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            setenv("RTAIO_BACKEND", modes[m], 1);
            setenv("RTAIO_TEST_SEED", seed, 1);
            execl("/proc/self/exe", argv[0], "--child", (char *)NULL);
            _exit(126);
        }
        int st;
        CHECK_EQ(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            FAILF("with RTAIO_BACKEND=%s: the test %s %d", modes[m],
                  WIFEXITED(st) ? "exited with" : "was killed by signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
    return T_PASS;
}
