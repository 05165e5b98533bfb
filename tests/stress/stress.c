/* stress: bounded-time data-integrity stress test for rtaio (BEHAVIOUR.md as a whole).
 *
 * N threads (STRESS_THREADS, default 4) issue random aio_read, aio_write, aio_fsync,
 * aio_cancel (one request, and whole descriptor) and lio_listio (LIO_WAIT, LIO_NOWAIT with and
 * without a list notification) for STRESS_SECS seconds (default 20) on four files:
 *   buf0, buf1   buffered files, unaligned random byte ranges (page-cache reads may complete
 *                inline, the rest run on the pool);
 *   direct       an O_DIRECT file (4 KiB aligned buffers, offsets, lengths: Linux native AIO);
 *                left out when the file system refuses O_DIRECT (EINVAL, e.g. tmpfs);
 *   append       an O_APPEND file of self-describing records (thread id, sequence number,
 *                length, payload hash), plus reads of its already-final prefix.
 * Model: each thread owns a disjoint block range of every non-append file and keeps at most
 * one write (or any number of reads, never both) in flight per block, so the expected content
 * is exact: a write changes the model when it completes with status 0; a write that ends
 * ECANCELED changes nothing; a read is compared byte for byte with the model when it completes.
 * aio_cancel outcomes are checked (AIO_CANCELED → aio_error is ECANCELED at once;
 * AIO_NOTCANCELED → the request completes normally; AIO_ALLDONE → status already final).
 * Append file: at the end it must hold every completed record exactly once, whole, no
 * cancelled record, nothing else, and each thread's records in its submission order among
 * records of equal aio_reqprio (a more urgent one may overtake a queued one). A read of
 * the append file covers only bytes that completed appends had written when it was submitted;
 * its hash is checked against the final file.
 * aio_fsync (status 0) is checked as a barrier against this thread's earlier requests on the fd.
 * Notifications: SIGEV_NONE, SIGEV_SIGNAL (SIGRTMIN+3, SA_SIGINFO; also signal 0 = none),
 * SIGEV_THREAD (with and without attributes), SIGEV_THREAD_ID, chosen at random for requests
 * and for LIO_NOWAIT lists. The sigev_value encodes (thread, slot, generation): every
 * notification is matched to exactly one request/list (exactly once, status final inside it,
 * list entries all complete inside the list notification); the totals must equal the number of
 * submitted requests that asked for one. A LIO_WAIT list's `sig` (ignored) must never arrive.
 * Waiting: aio_suspend on random subsets (random timeouts: none, zero, 1-20 ms) and polling
 * aio_error. Every request is aio_return'ed exactly once (a second aio_return then fails with
 * EINVAL; aio_error still gives the final status). At the end every byte of every file is compared with the model.
 * No timing assertions (the drain has a generous 60 s deadline).
 *
 * Env: STRESS_SECS, STRESS_SEED (replay the random choices; timing still differs),
 *      STRESS_THREADS (1..16), STRESS_DIR (where the files live; default $TMPDIR or /tmp),
 *      STRESS_NO_SIGNALS=1 (SIGEV_THREAD instead of SIGEV_SIGNAL/SIGEV_THREAD_ID: for
 *      ThreadSanitizer, which merges queued instances of one real-time signal).
 * Exit 0 pass, 1 fail. The last line is a summary. */
#include "t.h"

#define MAXTHR 16
#define NSLOT 64 /* requests per thread (bitmask in uint64_t) */
#define BLK 4096
#define BPT 64 /* blocks each thread owns in every non-append file */
#define MAXB 16 /* longest request, in blocks */
#define BUFMAX (MAXB * BLK)
#define NLIST 16 /* LIO_NOWAIT lists with a notification in flight, per thread */
#define LMAX 8 /* entries per list */
#define NFILE 4
#define APPEND_LIMIT (48u << 20) /* stop appending beyond this many bytes */
#define AREC_HDR 32
#define AREC_MAGIC 0x52544941u
#define HIST 4

enum { F_BUF0, F_BUF1, F_DIRECT, F_APPEND };
static const char *fname[NFILE] = { "buf0", "buf1", "direct", "append" };

enum { K_READ, K_WRITE, K_FSYNC, K_APPEND, K_AREAD, NKIND };
static const char *kname[NKIND] = { "read", "write", "fsync", "append", "aread" };

enum { N_NONE, N_SIG0, N_SIGNAL, N_THREAD, N_THREAD_ATTR, N_TID, NNK };
static const char *nkname[NNK] = { "none", "signal0", "signal", "thread", "thread+attr",
                                   "thread_id" };
/* notification channels: how a notification arrives */
enum { CH_SIGNAL, CH_THREAD, NCH };

enum { S_FREE, S_INFLIGHT, S_REAPED };

struct slot {
    struct aiocb cb;
    int kind, file, state, nk, want;
    uint32_t gen; /* atomic: read by notification handlers */
    int notified; /* atomic */
    int list; /* LIO_NOWAIT list (with notification) holding this slot, or -1 */
    int saw_canceled, saw_notcanceled, via_lio;
    off_t off;
    size_t len;
    int b0, b1; /* locked blocks [b0, b1) */
    uint32_t seq; /* append record */
    uint64_t op; /* global op number (diagnostics) */
    uint64_t bmask; /* fsync: my requests on the fd in flight at its submission */
    uint32_t bgen[NSLOT];
    unsigned char *buf;
};

struct lrec {
    uint32_t gen; /* atomic */
    int notified; /* atomic */
    int inuse, nk, n;
    int ent[LMAX];
};

struct arec {
    uint32_t len;
    uint8_t st, seen; /* st: 0 in flight, 1 completed, 2 cancelled */
    uint8_t prio;     /* its aio_reqprio */
    uint64_t hash;
};

struct alog {
    off_t off;
    uint32_t len;
    uint64_t hash;
};

struct thr {
    int id;
    pid_t ostid;
    uint64_t rng;
    pthread_t pt;
    struct slot s[NSLOT];
    struct lrec l[NLIST];
    struct aiocb nop;
    short lk[NFILE][BPT]; /* 0 free, >0 readers, -1 a writer */
    struct arec *rec;
    uint32_t nrec, caprec;
    uint32_t last_done_seq; /* diagnostics */
    struct alog *alog;
    size_t nalog, capalog;
    /* stats */
    uint64_t ops[NKIND], ecanceled, cancel1[3], cancelfd[3], cancel_badfd;
    uint64_t lio_wait, lio_nowait, lio_ent, lio_eintr, lio_eio, lio_empty;
    uint64_t susp, susp_ok, susp_eagain, susp_eintr, bytes_r, bytes_w;
    uint64_t expect[NCH], nk_used[NNK];
};

/* history of the writes to each block (diagnostics of a mismatch) */
struct bev {
    uint64_t op;
    int t, st, canc; /* st: final errno; canc: aio_cancel result seen (bit 0 CANCELED, 1 NOTCANCELED) */
    int lo, hi; /* byte range inside the block */
    uint64_t h; /* hash of the data written to [lo, hi) */
};
struct bhist {
    unsigned n;
    struct bev ev[HIST];
};

static int g_nthr = 4, g_have_direct = 1, g_sig;
static int g_fd[NFILE];
static size_t g_fsize; /* size of each non-append file */
static unsigned char *g_model[NFILE];
static struct bhist *g_hist[NFILE];
static struct thr *g_thr[MAXTHR];
static double g_end;
static uint64_t g_seed;
static pthread_attr_t g_nattr;
static uint64_t g_op; /* atomic */
static uint64_t g_append_sub, g_append_done; /* atomic: bytes submitted / completed */
/* notification accounting (atomic) */
static uint64_t g_recv[NCH], g_bad, g_bad_never, g_early, g_wrongtid, g_badinfo;

#define V_TAG (1ULL << 63)
#define V_LIST (1ULL << 62)
#define V_NEVER (V_TAG | V_LIST | (0xFFFFFULL << 32))

static uint64_t venc(int list, int t, int idx, uint32_t gen)
{
    return V_TAG | (list ? V_LIST : 0) | ((uint64_t)t << 52) | ((uint64_t)idx << 32) | gen;
}

#define ALD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define AST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Fields a notification handler reads are written and read atomically (relaxed): rtaio orders
 * the submission before the notification, but ThreadSanitizer cannot see that ordering inside
 * the uninstrumented library (tests/sanitize.sh). */
#define RLD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define RST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define AADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)

/* ---- soft failures ----
 * A violation that leaves the model intact (e.g. aio_cancel answering AIO_ALLDONE for a request
 * still in progress) is counted, its first occurrence printed, and the run goes on so that it
 * still checks everything else; the test then fails at the end. */
enum { SOFT_ALLDONE_INPROGRESS, SOFT_CANCELFD_ALLDONE, NSOFT };
static const char *soft_name[NSOFT] = {
    "aio_cancel(fd, cb) = AIO_ALLDONE while aio_error(cb) == EINPROGRESS",
    "aio_cancel(fd, NULL) = AIO_ALLDONE while one of this thread's requests on fd stays EINPROGRESS",
};
static uint64_t g_soft[NSOFT];

static void soft_fail(int id, const char *fmt, ...)
{
    if (AADD(&g_soft[id], 1) != 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: FAIL (first occurrence; the run continues): ", t_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- per-thread randomness ---- */
static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t rnd(struct thr *T)
{
    uint64_t x = T->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return T->rng = x;
}
static uint64_t below(struct thr *T, uint64_t n)
{
    return n ? rnd(T) % n : 0;
}
static void fill(struct thr *T, unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = rnd(T);
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)rnd(T);
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- notifications ---- */
static void note(uint64_t v, int ch)
{
    AADD(&g_recv[ch], 1);
    if (v == V_NEVER) {
        AADD(&g_bad_never, 1);
        return;
    }
    if (!(v & V_TAG)) {
        AADD(&g_bad, 1);
        return;
    }
    int t = (int)((v >> 52) & 0x3ff), idx = (int)((v >> 32) & 0xfffff);
    uint32_t gen = (uint32_t)v;
    if (t >= g_nthr || !g_thr[t]) {
        AADD(&g_bad, 1);
        return;
    }
    struct thr *T = g_thr[t];
    if (v & V_LIST) {
        if (idx >= NLIST) {
            AADD(&g_bad, 1);
            return;
        }
        struct lrec *l = &T->l[idx];
        if (ALD(&l->gen) != gen) {
            AADD(&g_bad, 1);
            return;
        }
        if (RLD(&l->nk) == N_TID && (pid_t)syscall(SYS_gettid) != RLD(&T->ostid))
            AADD(&g_wrongtid, 1);
        int n = RLD(&l->n);
        for (int i = 0; i < n; i++)
            if (aio_error(&T->s[RLD(&l->ent[i])].cb) == EINPROGRESS)
                AADD(&g_early, 1);
        AADD(&l->notified, 1);
    } else {
        if (idx >= NSLOT) {
            AADD(&g_bad, 1);
            return;
        }
        struct slot *s = &T->s[idx];
        if (ALD(&s->gen) != gen) {
            AADD(&g_bad, 1);
            return;
        }
        if (RLD(&s->nk) == N_TID && (pid_t)syscall(SYS_gettid) != RLD(&T->ostid))
            AADD(&g_wrongtid, 1);
        if (aio_error(&s->cb) == EINPROGRESS)
            AADD(&g_early, 1);
        AADD(&s->notified, 1);
    }
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int e = errno;
    if (sig != g_sig || si->si_code != SI_ASYNCIO || si->si_pid != getpid())
        AADD(&g_badinfo, 1);
    note((uint64_t)(uintptr_t)si->si_value.sival_ptr, CH_SIGNAL);
    errno = e;
}

static void on_thread(union sigval sv)
{
    note((uint64_t)(uintptr_t)sv.sival_ptr, CH_THREAD);
}

static int ch_of(int nk)
{
    return (nk == N_SIGNAL || nk == N_TID) ? CH_SIGNAL : CH_THREAD;
}

/* Fill ev for notification kind nk with value v. Returns 1 if a notification is expected. */
static int set_ev(struct thr *T, struct sigevent *ev, int nk, uint64_t v)
{
    memset(ev, 0, sizeof *ev);
    ev->sigev_value.sival_ptr = (void *)(uintptr_t)v;
    switch (nk) {
    case N_NONE:
        ev->sigev_notify = SIGEV_NONE;
        return 0;
    case N_SIG0: /* the null signal: accepted, no notification */
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = 0;
        return 0;
    case N_SIGNAL:
        ev->sigev_notify = SIGEV_SIGNAL;
        ev->sigev_signo = g_sig;
        return 1;
    case N_THREAD:
    case N_THREAD_ATTR:
        ev->sigev_notify = SIGEV_THREAD;
        ev->sigev_notify_function = on_thread;
        ev->sigev_notify_attributes = nk == N_THREAD_ATTR ? &g_nattr : NULL;
        return 1;
    case N_TID:
        ev->sigev_notify = SIGEV_THREAD_ID;
        ev->sigev_signo = g_sig;
        ev->sigev_notify_thread_id = T->ostid;
        return 1;
    }
    abort();
}

static int g_nosig; /* STRESS_NO_SIGNALS: no SIGEV_SIGNAL / SIGEV_THREAD_ID (ThreadSanitizer) */

static int nosig(int nk)
{
    return g_nosig && (nk == N_SIGNAL || nk == N_TID) ? N_THREAD : nk;
}


static int pick_nk_any(struct thr *T)
{
    int r = (int)below(T, 100);
    if (r < 35)
        return N_NONE;
    if (r < 40)
        return N_SIG0;
    if (r < 62)
        return N_SIGNAL;
    if (r < 84)
        return N_THREAD;
    if (r < 86)
        return N_THREAD_ATTR;
    return N_TID;
}

static int pick_nk(struct thr *T)
{
    return nosig(pick_nk_any(T));
}

/* ---- diagnostics ---- */
static void hist_add(int f, int blk, const struct bev *e)
{
    struct bhist *h = &g_hist[f][blk];
    h->ev[h->n % HIST] = *e;
    h->n++;
}

static void dump_hist(int f, size_t off, const unsigned char *actual_block)
{
    int blk = (int)(off / BLK);
    struct bhist *h = &g_hist[f][blk];
    fprintf(stderr, "  block %d of %s (owner thread %d): %u writes retired, the last %u (oldest "
            "first):\n", blk, fname[f], blk / BPT, h->n, h->n < HIST ? h->n : HIST);
    for (unsigned i = h->n > HIST ? h->n - HIST : 0; i < h->n; i++) {
        struct bev *e = &h->ev[i % HIST];
        uint64_t ah = actual_block ? fnv(actual_block + e->lo, (size_t)(e->hi - e->lo)) : 0;
        fprintf(stderr,
                "    op #%llu thread %d bytes [%d,%d) of the block: final status %d (%s)%s%s;"
                " file %s this write's data there\n",
                (unsigned long long)e->op, e->t, e->lo, e->hi, e->st, strerror(e->st),
                (e->canc & 1) ? ", aio_cancel said AIO_CANCELED" : "",
                (e->canc & 2) ? ", aio_cancel said AIO_NOTCANCELED" : "",
                ah == e->h ? "HOLDS" : "does not hold");
    }
}

static void fail_data(int f, size_t off, size_t len, const unsigned char *got, const char *what,
                      uint64_t op)
{
    size_t i = 0;
    while (i < len && got[i] == g_model[f][off + i])
        i++;
    size_t j = i;
    while (j < len && got[j] != g_model[f][off + j])
        j++;
    fprintf(stderr,
            "stress: FAIL %s (op #%llu) of %s [%zu, %zu): first mismatch at file offset %zu "
            "(got 0x%02x, expected 0x%02x), %zu differing bytes from there\n",
            what, (unsigned long long)op, fname[f], off, off + len, off + i, got[i],
            g_model[f][off + i], j - i);
    /* the actual content of that block, when the mismatch lies in a full-block view */
    size_t b0 = (off + i) / BLK * BLK;
    if (b0 >= off && b0 + BLK <= off + len)
        dump_hist(f, off + i, got + (b0 - off));
    else
        dump_hist(f, off + i, NULL);
    fprintf(stderr, "stress: seed %llu\n", (unsigned long long)g_seed);
    _exit(T_FAIL);
}

/* ---- slots, locks ---- */
static int slot_alloc(struct thr *T)
{
    int st = (int)below(T, NSLOT);
    for (int i = 0; i < NSLOT; i++) {
        int k = (st + i) % NSLOT;
        if (T->s[k].state == S_FREE)
            return k;
    }
    return -1;
}

/* Lock a random block range of thread T's region of file f. */
static int lock_range(struct thr *T, int f, int wr, int *pb0, int *pb1)
{
    for (int tries = 0; tries < 4; tries++) {
        int nb = below(T, 4) ? 1 + (int)below(T, 4) : 1 + (int)below(T, MAXB);
        int b0 = (int)below(T, BPT - nb + 1), b1 = b0 + nb, ok = 1;
        for (int b = b0; b < b1 && ok; b++)
            ok = wr ? T->lk[f][b] == 0 : T->lk[f][b] >= 0;
        if (!ok)
            continue;
        for (int b = b0; b < b1; b++)
            T->lk[f][b] = wr ? -1 : T->lk[f][b] + 1;
        *pb0 = T->id * BPT + b0;
        *pb1 = T->id * BPT + b1;
        return 0;
    }
    return -1;
}

static void unlock_range(struct thr *T, struct slot *s)
{
    for (int b = s->b0; b < s->b1; b++) {
        short *l = &T->lk[s->file][b - T->id * BPT];
        if (s->kind == K_WRITE)
            *l = 0;
        else
            (*l)--;
    }
}

/* Prepare slot k for a request of the given kind (and file for read/write/fsync). The aiocb is
 * filled except for the notification. Returns -1 when not possible now. */
static int build(struct thr *T, int k, int kind, int f)
{
    struct slot *s = &T->s[k];
    struct aiocb *cb = &s->cb;
    memset(cb, 0, sizeof *cb);
    s->kind = kind;
    s->file = f;
    s->list = -1;
    s->saw_canceled = s->saw_notcanceled = s->via_lio = 0;
    s->bmask = 0;
    cb->aio_fildes = g_fd[f];
    cb->aio_buf = s->buf;
    cb->aio_reqprio = (int)below(T, 3) ? 0 : (int)below(T, AIO_PRIO_DELTA_MAX + 1);
    switch (kind) {
    case K_READ:
    case K_WRITE: {
        int b0, b1;
        if (lock_range(T, f, kind == K_WRITE, &b0, &b1) != 0)
            return -1;
        s->b0 = b0;
        s->b1 = b1;
        size_t lo = (size_t)b0 * BLK, hi = (size_t)b1 * BLK;
        if (f != F_DIRECT && below(T, 2)) { /* unaligned byte range inside the blocks */
            size_t span = hi - lo;
            size_t a = below(T, span), n = 1 + below(T, span - a);
            lo += a;
            hi = lo + n;
        }
        s->off = (off_t)lo;
        s->len = hi - lo;
        if (kind == K_WRITE)
            fill(T, s->buf, s->len);
        else
            memset(s->buf, 0xA5, s->len);
        break;
    }
    case K_FSYNC:
        /* "every other member is ignored": junk there */
        cb->aio_offset = (off_t)below(T, 1 << 20);
        cb->aio_nbytes = below(T, 1 << 20);
        cb->aio_lio_opcode = (int)below(T, 3);
        s->off = 0;
        s->len = 0;
        for (int i = 0; i < NSLOT; i++) {
            struct slot *o = &T->s[i];
            if (i != k && o->state == S_INFLIGHT && o->file == f && o->kind != K_FSYNC) {
                s->bmask |= 1ULL << i;
                s->bgen[i] = o->gen;
            }
        }
        break;
    case K_APPEND: {
        if (ALD(&g_append_sub) > APPEND_LIMIT)
            return -1;
        uint32_t len = below(T, 16) ? AREC_HDR + 1 + (uint32_t)below(T, 500)
                                    : AREC_HDR + 1 + (uint32_t)below(T, 3 * BLK);
        if (T->nrec == T->caprec) {
            T->caprec = T->caprec ? 2 * T->caprec : 4096;
            T->rec = realloc(T->rec, T->caprec * sizeof *T->rec);
            CHECK(T->rec != NULL);
        }
        s->seq = T->nrec++;
        unsigned char *p = s->buf;
        fill(T, p + AREC_HDR, len - AREC_HDR);
        uint64_t h = fnv(p + AREC_HDR, len - AREC_HDR);
        uint32_t hdr[4] = { AREC_MAGIC, (uint32_t)T->id, s->seq, len };
        memset(p, 0, AREC_HDR);
        memcpy(p, hdr, sizeof hdr);
        memcpy(p + 16, &h, 8);
        T->rec[s->seq] =
            (struct arec){ .len = len, .st = 0, .seen = 0, .prio = (uint8_t)cb->aio_reqprio, .hash = h };
        AADD(&g_append_sub, len);
        s->off = (off_t)below(T, 1 << 20); /* ignored for O_APPEND */
        s->len = len;
        break;
    }
    case K_AREAD: {
        uint64_t done = ALD(&g_append_done);
        if (done == 0)
            return -1;
        s->off = (off_t)below(T, done);
        s->len = 1 + below(T, done - (uint64_t)s->off < BUFMAX ? done - (uint64_t)s->off : BUFMAX);
        memset(s->buf, 0x5A, s->len);
        break;
    }
    }
    if (kind != K_FSYNC) {
        cb->aio_offset = s->off;
        cb->aio_nbytes = s->len;
    }
    s->op = AADD(&g_op, 1);
    return 0;
}

static void set_notify(struct thr *T, int k, int nk)
{
    struct slot *s = &T->s[k];
    RST(&s->nk, nk);
    s->want = set_ev(T, &s->cb.aio_sigevent, nk, venc(0, T->id, k, s->gen));
    T->nk_used[nk]++;
}

/* A slot whose request failed to be queued: give back what build() took. Only used before the
 * test fails, so no need to be complete. */
static void try_free(struct thr *T, int k)
{
    struct slot *s = &T->s[k];
    if (s->state != S_REAPED || s->list >= 0)
        return;
    int n = ALD(&s->notified);
    if (s->want && n == 0)
        return;
    if (n != s->want)
        FAILF("op #%llu (%s on %s, notify %s): %d notifications, expected %d",
              (unsigned long long)s->op, kname[s->kind], fname[s->file], nkname[s->nk], n,
              s->want);
    AST(&s->gen, s->gen + 1);
    AST(&s->notified, 0);
    s->state = S_FREE;
}

/* Retrieve a completed request (aio_error != EINPROGRESS); check and apply it. */
static int reap(struct thr *T, int k)
{
    struct slot *s = &T->s[k];
    errno = 0;
    int e = aio_error(&s->cb);
    if (e == EINPROGRESS)
        return 0;
    const char *what = kname[s->kind];
    if (e == -1)
        FAILF("op #%llu %s on %s: aio_error = -1 errno %d (%s) for a request not yet returned",
              (unsigned long long)s->op, what, fname[s->file], errno, strerror(errno));
    errno = 0;
    ssize_t r = below(T, 2) ? aio_return(&s->cb) : aio_return64((struct aiocb64 *)&s->cb);
    int re = errno;
    if (e == 0) {
        ssize_t want = s->kind == K_FSYNC ? 0 : (ssize_t)s->len;
        if (r != want)
            FAILF("op #%llu %s on %s [%lld,+%zu): status 0 but aio_return = %zd (errno %d), "
                  "expected %zd",
                  (unsigned long long)s->op, what, fname[s->file], (long long)s->off, s->len, r,
                  re, want);
    } else if (e == ECANCELED) {
        if (r != -1)
            FAILF("op #%llu %s: ECANCELED but aio_return = %zd", (unsigned long long)s->op,
                  what, r);
        if (s->saw_notcanceled)
            FAILF("op #%llu %s on %s: aio_cancel returned AIO_NOTCANCELED for it, yet it ended "
                  "ECANCELED",
                  (unsigned long long)s->op, what, fname[s->file]);
        T->ecanceled++;
    } else {
        FAILF("op #%llu %s on %s [%lld,+%zu) prio %d%s: unexpected status %d (%s), aio_return %zd",
              (unsigned long long)s->op, what, fname[s->file], (long long)s->off, s->len,
              s->cb.aio_reqprio, s->via_lio ? " (lio_listio)" : "", e, strerror(e), r);
    }
    if (s->saw_canceled && e != ECANCELED)
        FAILF("op #%llu %s: aio_cancel said AIO_CANCELED but the status is %d",
              (unsigned long long)s->op, what, e);
    /* exactly once */
    errno = 0;
    ssize_t r2 = aio_return(&s->cb);
    if (r2 != -1 || errno != EINVAL)
        FAILF("op #%llu %s: second aio_return = %zd errno %d, expected -1/EINVAL",
              (unsigned long long)s->op, what, r2, errno);
    /* the final status stays readable after aio_return (glibc's way) */
    errno = 0;
    int e2 = aio_error(&s->cb);
    if (e2 != e)
        FAILF("op #%llu %s: aio_error after aio_return = %d errno %d, expected its status %d",
              (unsigned long long)s->op, what, e2, errno, e);

    switch (s->kind) {
    case K_READ:
        if (e == 0) {
            if (memcmp(s->buf, g_model[s->file] + s->off, s->len) != 0)
                fail_data(s->file, (size_t)s->off, s->len, s->buf, "aio_read", s->op);
            T->bytes_r += s->len;
        }
        unlock_range(T, s);
        break;
    case K_WRITE: {
        size_t lo = (size_t)s->off, hi = lo + s->len;
        for (size_t b = lo / BLK; b * BLK < hi; b++) {
            size_t a = b * BLK > lo ? b * BLK : lo, z = (b + 1) * BLK < hi ? (b + 1) * BLK : hi;
            struct bev ev = { .op = s->op, .t = T->id, .st = e,
                              .canc = s->saw_canceled | (s->saw_notcanceled << 1),
                              .lo = (int)(a - b * BLK), .hi = (int)(z - b * BLK),
                              .h = fnv(s->buf + (a - lo), z - a) };
            hist_add(s->file, (int)b, &ev);
        }
        if (e == 0) {
            memcpy(g_model[s->file] + s->off, s->buf, s->len);
            T->bytes_w += s->len;
        }
        unlock_range(T, s);
        break;
    }
    case K_FSYNC:
        if (e == 0) {
            for (int i = 0; i < NSLOT; i++) {
                if (!(s->bmask & (1ULL << i)))
                    continue;
                struct slot *o = &T->s[i];
                if (o->state == S_INFLIGHT && o->gen == s->bgen[i] &&
                    aio_error(&o->cb) == EINPROGRESS)
                    FAILF("aio_fsync op #%llu on %s completed while op #%llu (%s, submitted "
                          "before it on the same fd) is still in progress",
                          (unsigned long long)s->op, fname[s->file], (unsigned long long)o->op,
                          kname[o->kind]);
            }
        }
        break;
    case K_APPEND:
        if (e == 0) {
            T->rec[s->seq].st = 1;
            T->last_done_seq = s->seq;
            AADD(&g_append_done, s->len);
            T->bytes_w += s->len;
        } else {
            T->rec[s->seq].st = 2;
        }
        break;
    case K_AREAD:
        if (e == 0) {
            if (T->nalog == T->capalog) {
                T->capalog = T->capalog ? 2 * T->capalog : 4096;
                T->alog = realloc(T->alog, T->capalog * sizeof *T->alog);
                CHECK(T->alog != NULL);
            }
            T->alog[T->nalog++] =
                (struct alog){ .off = s->off, .len = (uint32_t)s->len, .hash = fnv(s->buf, s->len) };
            T->bytes_r += s->len;
        }
        break;
    }
    s->state = S_REAPED;
    try_free(T, k);
    return 1;
}

static void lists_check(struct thr *T)
{
    for (int i = 0; i < NLIST; i++) {
        struct lrec *l = &T->l[i];
        if (!l->inuse)
            continue;
        int n = ALD(&l->notified);
        if (n == 0)
            continue;
        if (n != 1)
            FAILF("LIO_NOWAIT list notification (%s) arrived %d times", nkname[l->nk], n);
        AST(&l->gen, l->gen + 1);
        AST(&l->notified, 0);
        l->inuse = 0;
        for (int j = 0; j < l->n; j++) {
            T->s[l->ent[j]].list = -1;
            try_free(T, l->ent[j]);
        }
    }
}

static int poll_all(struct thr *T)
{
    int n = 0;
    for (int k = 0; k < NSLOT; k++) {
        if (T->s[k].state == S_INFLIGHT)
            n += reap(T, k);
        else if (T->s[k].state == S_REAPED)
            try_free(T, k);
    }
    lists_check(T);
    return n;
}

/* aio_suspend on a random subset of this thread's requests in flight. */
static void wait_some(struct thr *T, int force_timeout_ms)
{
    const struct aiocb *lst[24];
    int idx[24], n = 0, real = 0;
    int want = 1 + (int)below(T, 16);
    int st = (int)below(T, NSLOT);
    for (int i = 0; i < NSLOT && real < want; i++) {
        int k = (st + i) % NSLOT;
        if (T->s[k].state != S_INFLIGHT)
            continue;
        if (below(T, 8) == 0 && n < 23)
            lst[n++] = NULL; /* ignored */
        idx[n] = k;
        lst[n++] = &T->s[k].cb;
        real++;
    }
    struct timespec ts = { 0, 0 }, *tsp = &ts;
    int c = (int)below(T, 4);
    if (force_timeout_ms)
        ts.tv_nsec = force_timeout_ms * 1000000L;
    else if (c == 0)
        tsp = NULL;
    else if (c == 1)
        ts.tv_nsec = 0;
    else
        ts.tv_nsec = (1 + (long)below(T, 20)) * 1000000L;
    if (real == 0 && tsp == NULL)
        tsp = &ts; /* an empty list returns 0 at once anyway */
    T->susp++;
    errno = 0;
    int r = below(T, 2) ? aio_suspend(lst, n, tsp)
                        : aio_suspend64((const struct aiocb64 *const *)lst, n, tsp);
    if (r == 0) {
        T->susp_ok++;
        if (real > 0) {
            int any = 0;
            for (int i = 0; i < n; i++)
                if (lst[i] && aio_error(lst[i]) != EINPROGRESS)
                    any = 1;
            if (!any)
                FAILF("aio_suspend returned 0 but none of its %d requests is complete", real);
        }
    } else if (errno == EAGAIN) {
        T->susp_eagain++;
        if (!tsp)
            FAILF("aio_suspend without timeout returned EAGAIN");
    } else if (errno == EINTR) {
        T->susp_eintr++;
    } else {
        FAILF("aio_suspend: -1 errno %d (%s)", errno, strerror(errno));
    }
    (void)idx;
    poll_all(T);
}

static int random_file(struct thr *T, int with_append)
{
    for (;;) {
        int f = (int)below(T, with_append ? NFILE : NFILE - 1);
        if (f == F_DIRECT && !g_have_direct)
            continue;
        return f;
    }
}

/* kind for a read/write-like request (no fsync) */
static int random_rw(struct thr *T, int *pf)
{
    int r = (int)below(T, 100);
    if (r < 15) {
        *pf = F_APPEND;
        return K_APPEND;
    }
    if (r < 22) {
        *pf = F_APPEND;
        return K_AREAD;
    }
    *pf = random_file(T, 0);
    return r < 60 ? K_READ : K_WRITE;
}

static void submit_one(struct thr *T)
{
    int k = slot_alloc(T);
    if (k < 0)
        return;
    int f, kind;
    if (below(T, 12) == 0) {
        kind = K_FSYNC;
        f = random_file(T, 1);
    } else {
        kind = random_rw(T, &f);
    }
    if (build(T, k, kind, f) != 0)
        return;
    struct slot *s = &T->s[k];
    set_notify(T, k, pick_nk(T));
    s->state = S_INFLIGHT;
    errno = 0;
    int r, alt = (int)below(T, 2);
    struct aiocb64 *cb64 = (struct aiocb64 *)&s->cb;
    switch (kind) {
    case K_READ:
    case K_AREAD:
        r = alt ? aio_read64(cb64) : aio_read(&s->cb);
        break;
    case K_FSYNC:
        r = alt ? aio_fsync64(below(T, 2) ? O_SYNC : O_DSYNC, cb64)
                : aio_fsync(below(T, 2) ? O_SYNC : O_DSYNC, &s->cb);
        break;
    default:
        r = alt ? aio_write64(cb64) : aio_write(&s->cb);
        break;
    }
    if (r != 0)
        FAILF("op #%llu aio_%s on %s [%lld,+%zu) prio %d notify %s: returned %d errno %d (%s)",
              (unsigned long long)s->op, kname[kind], fname[f], (long long)s->off, s->len,
              s->cb.aio_reqprio, nkname[s->nk], r, errno, strerror(errno));
    T->ops[kind]++;
    if (s->want)
        T->expect[ch_of(s->nk)]++;
}

static void submit_list(struct thr *T)
{
    struct aiocb *lst[LMAX];
    int ent[LMAX], ne = 0;
    int n = 1 + (int)below(T, LMAX);
    int mode = below(T, 5) < 2 ? LIO_WAIT : LIO_NOWAIT;
    memset(&T->nop, 0, sizeof T->nop);
    T->nop.aio_lio_opcode = LIO_NOP;
    T->nop.aio_fildes = g_fd[F_BUF0];
    for (int i = 0; i < n; i++) {
        int c = (int)below(T, 10);
        lst[i] = NULL;
        if (c == 0)
            continue;
        if (c == 1) {
            lst[i] = &T->nop;
            continue;
        }
        int k = slot_alloc(T);
        if (k < 0)
            continue;
        int f, kind = random_rw(T, &f);
        if (build(T, k, kind, f) != 0)
            continue;
        struct slot *s = &T->s[k];
        s->cb.aio_lio_opcode = (kind == K_READ || kind == K_AREAD) ? LIO_READ : LIO_WRITE;
        s->via_lio = 1;
        set_notify(T, k, pick_nk(T));
        s->state = S_INFLIGHT;
        lst[i] = &s->cb;
        ent[ne++] = k;
    }
    struct sigevent sev, *sevp = NULL;
    int li = -1;
    if (mode == LIO_NOWAIT) {
        int c = (int)below(T, 100);
        if (c >= 20) {
            int nk = nosig(c < 40 ? N_NONE : c < 65 ? N_SIGNAL : c < 85 ? N_THREAD : N_TID);
            if (nk != N_NONE) {
                for (int i = 0; i < NLIST; i++)
                    if (!T->l[i].inuse) {
                        li = i;
                        break;
                    }
                if (li < 0)
                    nk = N_NONE;
            }
            if (li >= 0) {
                struct lrec *l = &T->l[li];
                l->inuse = 1;
                RST(&l->nk, nk);
                RST(&l->n, ne);
                for (int i = 0; i < ne; i++)
                    RST(&l->ent[i], ent[i]);
                for (int i = 0; i < ne; i++)
                    T->s[ent[i]].list = li;
                set_ev(T, &sev, nk, venc(1, T->id, li, l->gen));
                T->expect[ch_of(nk)]++;
            } else {
                set_ev(T, &sev, N_NONE, V_NEVER);
            }
            sevp = &sev;
        }
    } else if (below(T, 2)) { /* ignored for LIO_WAIT: must never arrive */
        int c = (int)below(T, 3);
        set_ev(T, &sev, nosig(c == 0 ? N_SIGNAL : c == 1 ? N_THREAD : N_TID), V_NEVER);
        sevp = &sev;
    }
    if (ne == 0)
        T->lio_empty++;
    for (int i = 0; i < ne; i++) {
        struct slot *s = &T->s[ent[i]];
        T->ops[s->kind]++;
        if (s->want)
            T->expect[ch_of(s->nk)]++;
    }
    T->lio_ent += (uint64_t)ne;
    errno = 0;
    int r = below(T, 2) ? lio_listio(mode, lst, n, sevp)
                        : lio_listio64(mode, (struct aiocb64 *const *)lst, n, sevp);
    int err = errno;
    if (mode == LIO_NOWAIT) {
        T->lio_nowait++;
        if (r != 0)
            FAILF("lio_listio(LIO_NOWAIT, %d entries, %d requests) = %d errno %d (%s)", n, ne, r,
                  err, strerror(err));
        return;
    }
    T->lio_wait++;
    if (r == 0) {
        for (int i = 0; i < ne; i++) {
            struct slot *s = &T->s[ent[i]];
            int e = aio_error(&s->cb);
            if (e != 0)
                FAILF("lio_listio(LIO_WAIT) returned 0 but entry op #%llu (%s on %s) has "
                      "aio_error %d (%s)",
                      (unsigned long long)s->op, kname[s->kind], fname[s->file], e, strerror(e));
        }
    } else if (err == EIO) {
        T->lio_eio++;
        int bad = 0;
        for (int i = 0; i < ne; i++) {
            struct slot *s = &T->s[ent[i]];
            int e = aio_error(&s->cb);
            if (e == EINPROGRESS)
                FAILF("lio_listio(LIO_WAIT) returned EIO with entry op #%llu still in progress",
                      (unsigned long long)s->op);
            if (e != 0)
                bad++;
        }
        if (!bad)
            FAILF("lio_listio(LIO_WAIT) returned EIO but every entry succeeded");
    } else if (err == EINTR) {
        T->lio_eintr++;
    } else {
        FAILF("lio_listio(LIO_WAIT, %d entries) = %d errno %d (%s)", n, r, err, strerror(err));
    }
}

static void cancel_one(struct thr *T)
{
    int st = (int)below(T, NSLOT), k = -1;
    for (int i = 0; i < NSLOT; i++)
        if (T->s[(st + i) % NSLOT].state == S_INFLIGHT) {
            k = (st + i) % NSLOT;
            break;
        }
    if (k < 0)
        return;
    struct slot *s = &T->s[k];
    int fd = s->cb.aio_fildes;
    if (below(T, 10) == 0) {
        int other = g_fd[(s->file + 1) % NFILE];
        if (other == fd || other < 0)
            other = g_fd[(s->file + 2) % NFILE];
        errno = 0;
        int r = aio_cancel(other, &s->cb);
        if (r != -1 || errno != EINVAL)
            FAILF("aio_cancel(other fd, op #%llu) = %d errno %d, expected -1/EINVAL",
                  (unsigned long long)s->op, r, errno);
        T->cancel_badfd++;
    }
    errno = 0;
    int r = below(T, 2) ? aio_cancel(fd, &s->cb) : aio_cancel64(fd, (struct aiocb64 *)&s->cb);
    if (r == AIO_CANCELED) {
        int e = aio_error(&s->cb);
        if (e != ECANCELED)
            FAILF("aio_cancel(op #%llu %s on %s) = AIO_CANCELED but aio_error = %d (%s)",
                  (unsigned long long)s->op, kname[s->kind], fname[s->file], e, strerror(e));
        s->saw_canceled = 1;
        T->cancel1[0]++;
    } else if (r == AIO_NOTCANCELED) {
        s->saw_notcanceled = 1;
        T->cancel1[1]++;
    } else if (r == AIO_ALLDONE) {
        int e = aio_error(&s->cb);
        if (e == EINPROGRESS)
            soft_fail(SOFT_ALLDONE_INPROGRESS,
                      "aio_cancel(op #%llu %s on %s) = AIO_ALLDONE but aio_error is still "
                      "EINPROGRESS right after it",
                      (unsigned long long)s->op, kname[s->kind], fname[s->file]);
        T->cancel1[2]++;
    } else {
        FAILF("aio_cancel(fd, op #%llu) = %d errno %d (%s)", (unsigned long long)s->op, r, errno,
              strerror(errno));
    }
}

static void cancel_fd(struct thr *T)
{
    int f = random_file(T, 1);
    errno = 0;
    int r = aio_cancel(g_fd[f], NULL);
    if (r == AIO_CANCELED)
        T->cancelfd[0]++;
    else if (r == AIO_NOTCANCELED)
        T->cancelfd[1]++;
    else if (r == AIO_ALLDONE) {
        /* "All of the operations have already completed": this thread's requests on the fd
         * (all submitted before the call) must have a final status now */
        for (int k = 0; k < NSLOT; k++) {
            struct slot *s = &T->s[k];
            if (s->state == S_INFLIGHT && s->file == f && aio_error(&s->cb) == EINPROGRESS) {
                soft_fail(SOFT_CANCELFD_ALLDONE,
                          "aio_cancel(%s fd, NULL) = AIO_ALLDONE but op #%llu (%s, submitted "
                          "before) is still EINPROGRESS right after it",
                          fname[f], (unsigned long long)s->op, kname[s->kind]);
                break;
            }
        }
        T->cancelfd[2]++;
    }
    else
        FAILF("aio_cancel(%s fd, NULL) = %d errno %d (%s)", fname[f], r, errno, strerror(errno));
}

static int busy(struct thr *T)
{
    for (int k = 0; k < NSLOT; k++)
        if (T->s[k].state != S_FREE)
            return 1;
    for (int i = 0; i < NLIST; i++)
        if (T->l[i].inuse)
            return 1;
    return 0;
}

static void *worker(void *arg)
{
    struct thr *T = arg;
    RST(&T->ostid, (pid_t)syscall(SYS_gettid));
    while (t_now() < g_end) {
        int a = (int)below(T, 100);
        if (a < 40)
            submit_one(T);
        else if (a < 48)
            submit_list(T);
        else if (a < 54)
            cancel_one(T);
        else if (a < 56)
            cancel_fd(T);
        else if (a < 70)
            wait_some(T, 0);
        else
            poll_all(T);
    }
    /* drain: everything completes, is returned once, every notification arrives */
    double dl = t_now() + 60;
    while (busy(T)) {
        if (t_now() > dl) {
            for (int k = 0; k < NSLOT; k++) {
                struct slot *s = &T->s[k];
                if (s->state != S_FREE)
                    fprintf(stderr,
                            "  op #%llu %s on %s state %s aio_error %d notify %s want %d got %d "
                            "list %d\n",
                            (unsigned long long)s->op, kname[s->kind], fname[s->file],
                            s->state == S_INFLIGHT ? "in-flight" : "reaped",
                            s->state == S_INFLIGHT ? aio_error(&s->cb) : -1, nkname[s->nk],
                            s->want, ALD(&s->notified), s->list);
            }
            for (int i = 0; i < NLIST; i++)
                if (T->l[i].inuse)
                    fprintf(stderr, "  list %d (%s, %d entries): notified %d\n", i,
                            nkname[T->l[i].nk], T->l[i].n, ALD(&T->l[i].notified));
            FAILF("thread %d: requests or notifications still outstanding 60 s after the end",
                  T->id);
        }
        int infl = 0;
        for (int k = 0; k < NSLOT; k++)
            infl += T->s[k].state == S_INFLIGHT;
        if (infl)
            wait_some(T, 50);
        else {
            t_sleep_ms(1);
            poll_all(T);
        }
    }
    return NULL;
}

/* ---- final verification ---- */
static void verify_files(void)
{
    unsigned char *buf;
    CHECK_OK(posix_memalign((void **)&buf, BLK, g_fsize));
    for (int f = 0; f < F_APPEND; f++) {
        if (f == F_DIRECT && !g_have_direct)
            continue;
        struct stat st;
        CHECK_OK(fstat(g_fd[f], &st));
        if ((size_t)st.st_size != g_fsize)
            FAILF("%s: size %lld, expected %zu", fname[f], (long long)st.st_size, g_fsize);
        size_t got = 0;
        while (got < g_fsize) {
            ssize_t r = pread(g_fd[f], buf + got, g_fsize - got, (off_t)got);
            if (r < 0 && errno == EINTR)
                continue;
            CHECK(r > 0);
            got += (size_t)r;
        }
        if (memcmp(buf, g_model[f], g_fsize) != 0)
            fail_data(f, 0, g_fsize, buf, "final pread", 0);
    }
    free(buf);

    /* append file */
    struct stat st;
    CHECK_OK(fstat(g_fd[F_APPEND], &st));
    size_t sz = (size_t)st.st_size;
    unsigned char *a = malloc(sz + 1);
    CHECK(a != NULL);
    size_t got = 0;
    while (got < sz) {
        ssize_t r = pread(g_fd[F_APPEND], a + got, sz - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        CHECK(r > 0);
        got += (size_t)r;
    }
    /* per thread and priority: the highest sequence number seen so far */
    int64_t last[MAXTHR][AIO_PRIO_DELTA_MAX + 1];
    for (int t = 0; t < g_nthr; t++)
        for (int p = 0; p <= AIO_PRIO_DELTA_MAX; p++)
            last[t][p] = -1;
    size_t off = 0, nrec = 0;
    while (off < sz) {
        uint32_t hdr[4];
        uint64_t h;
        if (sz - off < AREC_HDR)
            FAILF("append file: %zu trailing bytes at offset %zu (size %zu)", sz - off, off, sz);
        memcpy(hdr, a + off, sizeof hdr);
        memcpy(&h, a + off + 16, 8);
        if (hdr[0] != AREC_MAGIC || hdr[1] >= (uint32_t)g_nthr)
            FAILF("append file: no record header at offset %zu (after %zu records): magic "
                  "0x%08x thread %u seq %u len %u",
                  off, nrec, hdr[0], hdr[1], hdr[2], hdr[3]);
        struct thr *T = g_thr[hdr[1]];
        uint32_t seq = hdr[2], len = hdr[3];
        if (seq >= T->nrec)
            FAILF("append file @%zu: thread %u seq %u was never submitted", off, hdr[1], seq);
        struct arec *rc = &T->rec[seq];
        if (len != rc->len || h != rc->hash || off + len > sz ||
            fnv(a + off + AREC_HDR, len - AREC_HDR) != h)
            FAILF("append file @%zu: record thread %u seq %u is torn or corrupt (len %u, "
                  "submitted %u)",
                  off, hdr[1], seq, len, rc->len);
        if (rc->seen)
            FAILF("append file @%zu: record thread %u seq %u appears twice", off, hdr[1], seq);
        rc->seen = 1;
        if (rc->st == 2)
            FAILF("append file @%zu: record thread %u seq %u was CANCELLED (ECANCELED) but is "
                  "in the file",
                  off, hdr[1], seq);
        if (rc->st != 1)
            FAILF("append file @%zu: record thread %u seq %u has status %d", off, hdr[1], seq,
                  rc->st);
        /* a record submitted later may come first only if it is more urgent (lower
         * aio_reqprio) than this one */
        for (int p = rc->prio; p <= AIO_PRIO_DELTA_MAX; p++)
            if ((int64_t)seq <= last[hdr[1]][p])
                FAILF("append file @%zu: thread %u record seq %u (prio %u) comes after seq %lld "
                      "(prio %d): submission order violated",
                      off, hdr[1], seq, rc->prio, (long long)last[hdr[1]][p], p);
        last[hdr[1]][rc->prio] = seq;
        off += len;
        nrec++;
    }
    for (int t = 0; t < g_nthr; t++) {
        struct thr *T = g_thr[t];
        for (uint32_t i = 0; i < T->nrec; i++)
            if (T->rec[i].st == 1 && !T->rec[i].seen)
                FAILF("append file: thread %d record seq %u completed (status 0) but is missing",
                      t, i);
        for (size_t i = 0; i < T->nalog; i++) {
            struct alog *l = &T->alog[i];
            if ((size_t)l->off + l->len > sz || fnv(a + l->off, l->len) != l->hash)
                FAILF("append file: an aio_read of [%lld,+%u) (final bytes when submitted) "
                      "returned data that is not in the final file",
                      (long long)l->off, l->len);
        }
    }
    free(a);
}

int main(void)
{
    static char name[64];
    const char *e;
    g_seed = (e = getenv("STRESS_SEED")) && *e ? strtoull(e, NULL, 0)
                                              : ((uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^
                                                 (uint64_t)(t_now() * 1e9));
    snprintf(name, sizeof name, "stress[seed %llu]", (unsigned long long)g_seed);
    t_name = name;
    setvbuf(stdout, NULL, _IOLBF, 0);
    double secs = (e = getenv("STRESS_SECS")) && *e ? atof(e) : 20;
    g_nosig = (e = getenv("STRESS_NO_SIGNALS")) && *e && *e != '0';
    if ((e = getenv("STRESS_THREADS")) && *e)
        g_nthr = atoi(e);
    if (g_nthr < 1 || g_nthr > MAXTHR)
        g_nthr = 4;
    const char *dir = (e = getenv("STRESS_DIR")) && *e ? e : (e = getenv("TMPDIR")) && *e ? e : "/tmp";
    uint64_t sm = g_seed;
    uint64_t r0 = splitmix(&sm);

    /* aio_init: a small pool makes requests queue (so aio_cancel can cancel them) */
    struct aioinit ai;
    memset(&ai, 0, sizeof ai);
    int pool = (int)(r0 % 10) < 8 ? 1 + (int)((r0 >> 8) % 8) : 0;
    if (pool) {
        ai.aio_threads = pool;
        ai.aio_num = 256;
        ai.aio_idle_time = 1;
        aio_init(&ai);
    }
    printf("stress: seed %llu (STRESS_SEED=%llu to replay), %.1f s, %d threads, pool %s%d, "
           "files in %s%s\n",
           (unsigned long long)g_seed, (unsigned long long)g_seed, secs, g_nthr,
           pool ? "" : "default ", pool ? pool : 64, dir,
           g_nosig ? ", no signal notifications (STRESS_NO_SIGNALS)" : "");

    g_sig = SIGRTMIN + 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: aio_suspend / lio_listio see EINTR */
    sigemptyset(&sa.sa_mask);
    CHECK_OK(sigaction(g_sig, &sa, NULL));
    CHECK_OK(pthread_attr_init(&g_nattr));
    CHECK_OK(pthread_attr_setdetachstate(&g_nattr, PTHREAD_CREATE_DETACHED));
    CHECK_OK(pthread_attr_setstacksize(&g_nattr, 256 * 1024));

    /* files */
    g_fsize = (size_t)g_nthr * BPT * BLK;
    for (int f = 0; f < NFILE; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/rtaio-stress-%s-XXXXXX", dir, fname[f]);
        int fd0 = mkstemp(path);
        if (fd0 < 0)
            FAILF("mkstemp %s: %s", path, strerror(errno));
        int fd = fd0;
        if (f == F_DIRECT) {
            fd = open(path, O_RDWR | O_DIRECT);
            if (fd < 0 && errno == EINVAL) {
                printf("stress: O_DIRECT refused in %s (EINVAL): no O_DIRECT file\n", dir);
                g_have_direct = 0;
            } else if (fd < 0) {
                FAILF("open %s O_DIRECT: %s", path, strerror(errno));
            }
            close(fd0);
        } else if (f == F_APPEND) {
            fd = open(path, O_RDWR | O_APPEND);
            CHECK(fd >= 0);
            close(fd0);
        }
        CHECK_OK(unlink(path));
        g_fd[f] = g_have_direct || f != F_DIRECT ? fd : -1;
        if (f == F_APPEND)
            continue;
        g_model[f] = malloc(g_fsize);
        g_hist[f] = calloc(g_fsize / BLK, sizeof(struct bhist));
        CHECK(g_model[f] && g_hist[f]);
        if (g_fd[f] < 0)
            continue;
        struct thr tmp = { .rng = splitmix(&sm) | 1 };
        fill(&tmp, g_model[f], g_fsize);
        unsigned char *al;
        CHECK_OK(posix_memalign((void **)&al, BLK, g_fsize));
        memcpy(al, g_model[f], g_fsize);
        t_pwrite_all(g_fd[f], al, g_fsize, 0);
        free(al);
    }
    if (!g_have_direct)
        g_fd[F_DIRECT] = g_fd[F_BUF0]; /* never chosen; keeps fd arithmetic simple */

    for (int t = 0; t < g_nthr; t++) {
        struct thr *T = calloc(1, sizeof *T);
        CHECK(T != NULL);
        T->id = t;
        T->rng = splitmix(&sm) | 1;
        for (int k = 0; k < NSLOT; k++) {
            CHECK_OK(posix_memalign((void **)&T->s[k].buf, BLK, BUFMAX));
            T->s[k].list = -1;
            T->s[k].gen = (uint32_t)(k * 1000);
        }
        g_thr[t] = T;
    }
    g_end = t_now() + secs;
    for (int t = 0; t < g_nthr; t++)
        CHECK_OK(pthread_create(&g_thr[t]->pt, NULL, worker, g_thr[t]));
    for (int t = 0; t < g_nthr; t++)
        CHECK_OK(pthread_join(g_thr[t]->pt, NULL));

    /* late or duplicate notifications would show up now */
    t_sleep_ms(200);
    struct thr S;
    memset(&S, 0, sizeof S);
    for (int t = 0; t < g_nthr; t++) {
        struct thr *T = g_thr[t];
        for (int k = 0; k < NSLOT; k++)
            if (ALD(&T->s[k].notified) != 0)
                FAILF("thread %d slot %d: %d notifications after its request was retired "
                      "(duplicate)",
                      t, k, ALD(&T->s[k].notified));
        for (int i = 0; i < NKIND; i++)
            S.ops[i] += T->ops[i];
        for (int i = 0; i < 3; i++) {
            S.cancel1[i] += T->cancel1[i];
            S.cancelfd[i] += T->cancelfd[i];
        }
        for (int i = 0; i < NCH; i++)
            S.expect[i] += T->expect[i];
        for (int i = 0; i < NNK; i++)
            S.nk_used[i] += T->nk_used[i];
        S.ecanceled += T->ecanceled;
        S.cancel_badfd += T->cancel_badfd;
        S.lio_wait += T->lio_wait;
        S.lio_nowait += T->lio_nowait;
        S.lio_ent += T->lio_ent;
        S.lio_eintr += T->lio_eintr;
        S.lio_eio += T->lio_eio;
        S.lio_empty += T->lio_empty;
        S.susp += T->susp;
        S.susp_ok += T->susp_ok;
        S.susp_eagain += T->susp_eagain;
        S.susp_eintr += T->susp_eintr;
        S.bytes_r += T->bytes_r;
        S.bytes_w += T->bytes_w;
    }
    if (ALD(&g_bad_never))
        FAILF("%llu notifications for a LIO_WAIT list's sig (must be ignored)",
              (unsigned long long)ALD(&g_bad_never));
    if (ALD(&g_bad))
        FAILF("%llu notifications that match no live request or list (stale or duplicate)",
              (unsigned long long)ALD(&g_bad));
    if (ALD(&g_early))
        FAILF("%llu notifications arrived while a request they cover was still EINPROGRESS",
              (unsigned long long)ALD(&g_early));
    if (ALD(&g_wrongtid))
        FAILF("%llu SIGEV_THREAD_ID signals ran in the wrong thread",
              (unsigned long long)ALD(&g_wrongtid));
    if (ALD(&g_badinfo))
        FAILF("%llu signals with a wrong si_signo/si_code/si_pid", (unsigned long long)ALD(&g_badinfo));
    for (int c = 0; c < NCH; c++)
        if (ALD(&g_recv[c]) != S.expect[c])
            FAILF("%s notifications: received %llu, expected %llu", c == CH_SIGNAL ? "signal" : "thread",
                  (unsigned long long)ALD(&g_recv[c]), (unsigned long long)S.expect[c]);

    verify_files();

    int soft = 0;
    for (int i = 0; i < NSOFT; i++)
        if (g_soft[i]) {
            fprintf(stderr, "%s: FAIL: %llu x %s\n", t_name, (unsigned long long)g_soft[i],
                    soft_name[i]);
            soft = 1;
        }

    uint64_t nrec = 0, nalog = 0;
    for (int t = 0; t < g_nthr; t++) {
        for (uint32_t i = 0; i < g_thr[t]->nrec; i++)
            nrec += g_thr[t]->rec[i].st == 1;
        nalog += g_thr[t]->nalog;
    }
    printf("stress: %s seed %llu: ops read %llu write %llu fsync %llu append %llu "
           "append-read %llu; lio wait %llu (eintr %llu, eio %llu) nowait %llu, %llu entries "
           "(%llu lists without requests); cancel one %llu (canceled %llu notcanceled %llu "
           "alldone %llu, wrong fd %llu), fd %llu (canceled %llu notcanceled %llu alldone %llu); "
           "ECANCELED %llu; suspend %llu (ok %llu eagain %llu eintr %llu); notifications signal "
           "%llu thread %llu; append records %llu; bytes read %llu written %llu\n",
           soft ? "FAIL" : "PASS", (unsigned long long)g_seed, (unsigned long long)S.ops[K_READ],
           (unsigned long long)S.ops[K_WRITE], (unsigned long long)S.ops[K_FSYNC],
           (unsigned long long)S.ops[K_APPEND], (unsigned long long)S.ops[K_AREAD],
           (unsigned long long)S.lio_wait, (unsigned long long)S.lio_eintr,
           (unsigned long long)S.lio_eio, (unsigned long long)S.lio_nowait,
           (unsigned long long)S.lio_ent, (unsigned long long)S.lio_empty,
           (unsigned long long)(S.cancel1[0] + S.cancel1[1] + S.cancel1[2]),
           (unsigned long long)S.cancel1[0], (unsigned long long)S.cancel1[1],
           (unsigned long long)S.cancel1[2], (unsigned long long)S.cancel_badfd,
           (unsigned long long)(S.cancelfd[0] + S.cancelfd[1] + S.cancelfd[2]),
           (unsigned long long)S.cancelfd[0], (unsigned long long)S.cancelfd[1],
           (unsigned long long)S.cancelfd[2], (unsigned long long)S.ecanceled,
           (unsigned long long)S.susp, (unsigned long long)S.susp_ok,
           (unsigned long long)S.susp_eagain, (unsigned long long)S.susp_eintr,
           (unsigned long long)ALD(&g_recv[CH_SIGNAL]), (unsigned long long)ALD(&g_recv[CH_THREAD]),
           (unsigned long long)nrec, (unsigned long long)S.bytes_r,
           (unsigned long long)S.bytes_w);
    (void)nalog;
    return soft ? T_FAIL : T_PASS;
}
