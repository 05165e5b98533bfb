/* kaio_misaligned: misaligned O_DIRECT requests are passed to the kernel, which fails them
 * with the errno a plain pread/pwrite gives (EINVAL on most file systems).
 * For every combination of read/write x buffer misalignment (0, 1, 8, 512, 2048 bytes past a
 * 4 KiB boundary) x file offset misalignment (0, 1, 511, 512, 2048) x length (4096, 1, 100,
 * 512, 4095, 4097, 4608, 8192): first the synchronous pread/pwrite, then the same request
 * through aio_read/aio_write: aio_error must equal the synchronous errno and aio_return the
 * synchronous result (success in both when the kernel accepts the request, e.g. 512-byte
 * alignment on a 512-byte-sector device); an aligned request must succeed in both; data
 * checked against a model. Then all read cases in one lio_listio(LIO_WAIT) list (-1/EIO,
 * each entry's status = the pread's). Inherited mode, then RTAIO_BACKEND=kernel and
 * RTAIO_BACKEND=threads (re-executed, unless RTAIO_BACKEND is set). */
#include "t.h"

#include "kaio.h"
/* ---- end of the kaio common block ---- */

#define FSZ (2u << 20)
static int fd;
static unsigned char *model;

struct kcase {
    int write;
    size_t bufmis; /* buffer = aligned + bufmis */
    off_t off;
    size_t len;
};

static const size_t bufmis_v[] = { 0, 1, 8, 512, 2048 };
static const off_t offmis_v[] = { 0, 1, 511, 512, 2048 };
static const size_t len_v[] = { 4096, 1, 100, 512, 4095, 4097, 4096 + 512, 8192 };
#define NB_ (sizeof bufmis_v / sizeof bufmis_v[0])
#define NO_ (sizeof offmis_v / sizeof offmis_v[0])
#define NL_ (sizeof len_v / sizeof len_v[0])

static int n_same_err, n_same_ok, n_cases;

static const char *desc(const struct kcase *c)
{
    static char s[200];
    snprintf(s, sizeof s, "O_DIRECT %s: buffer aligned+%zu, offset %lld (4K+%lld), length %zu",
             c->write ? "write" : "read", c->bufmis, (long long)c->off,
             (long long)(c->off % KA), c->len);
    return s;
}

/* one case: the synchronous call, then the same through aio_read/aio_write */
static void one(const struct kcase *c)
{
    unsigned char *mem = kaio_alloc(c->len + 3 * KA);
    unsigned char *buf = mem + c->bufmis;
    /* synchronous reference */
    if (c->write)
        kaio_fill(buf, c->len);
    else
        memset(mem, 0xEE, c->len + 3 * KA);
    errno = 0;
    ssize_t sr = c->write ? pwrite(fd, buf, c->len, c->off) : pread(fd, buf, c->len, c->off);
    int se = sr < 0 ? errno : 0;
    if (sr >= 0 && c->write)
        memcpy(model + c->off, buf, (size_t)sr);
    if (sr >= 0 && !c->write && kaio_cmp(buf, model + c->off, (size_t)sr) >= 0)
        FAILF("%s: the SYNCHRONOUS pread returned wrong data (test bug?)", desc(c));
    /* asynchronous */
    unsigned char *amem = kaio_alloc(c->len + 3 * KA);
    unsigned char *abuf = amem + c->bufmis;
    if (c->write)
        kaio_fill(abuf, c->len);
    else
        memset(amem, 0xEE, c->len + 3 * KA);
    struct aiocb cb;
    t_cb(&cb, fd, abuf, c->len, c->off);
    int r = c->write ? aio_write(&cb) : aio_read(&cb);
    if (r != 0)
        FAILF("%s: aio_%s refused at submission: errno %d (%s) (the synchronous call: %zd, %s)",
              desc(c), c->write ? "write" : "read", errno, strerror(errno), sr, strerror(se));
    int ae = t_wait(&cb);
    ssize_t ar = aio_return(&cb);
    if (ae != se || ar != sr)
        FAILF("%s: aio_error %d (%s), aio_return %zd; the synchronous p%s gave %zd, errno %d "
              "(%s)",
              desc(c), ae, strerror(ae), ar, c->write ? "write" : "read", sr, se, strerror(se));
    if (ar >= 0) {
        if (c->write) {
            memcpy(model + c->off, abuf, (size_t)ar);
        } else {
            long d = kaio_cmp(abuf, model + c->off, (size_t)ar);
            if (d >= 0)
                FAILF("%s: aio_read returned %zd bytes but wrong data at byte %ld", desc(c), ar,
                      d);
            for (size_t i = c->bufmis + (size_t)ar; i < c->len + 3 * KA; i++)
                if (amem[i] != 0xEE)
                    FAILF("%s: aio_read wrote past its %zd bytes", desc(c), ar);
        }
        n_same_ok++;
    } else {
        n_same_err++;
    }
    if (c->bufmis == 0 && c->off % KA == 0 && c->len % KA == 0 && (ae != 0 || se != 0))
        FAILF("%s: an ALIGNED request failed (sync errno %d, aio_error %d)", desc(c), se, ae);
    n_cases++;
    free(mem);
    free(amem);
}

static void verify(const char *what)
{
    unsigned char *b = kaio_alloc(FSZ);
    t_pread_all(fd, b, FSZ, 0);
    long d = kaio_cmp(b, model, FSZ);
    if (d >= 0)
        FAILF("%s: file differs from the model at byte %ld", what, d);
    free(b);
}

/* all read cases in one lio_listio(LIO_WAIT) list: each entry's status = the pread's */
#define MAXL (NB_ * NO_ * NL_)
static void list_reads(void)
{
    static struct aiocb cbs[MAXL];
    static struct aiocb *l[MAXL];
    static unsigned char *mem[MAXL];
    static int want_e[MAXL];
    static ssize_t want_r[MAXL];
    int n = 0, any_bad = 0;
    for (size_t b = 0; b < NB_; b++)
        for (size_t o = 0; o < NO_; o++)
            for (size_t k = 0; k < NL_; k++) {
                size_t len = len_v[k];
                off_t off = (off_t)KA * (off_t)(2 + 2 * n) + offmis_v[o];
                CHECK((size_t)off + len <= FSZ);
                mem[n] = kaio_alloc(len + 3 * KA);
                unsigned char *buf = mem[n] + bufmis_v[b];
                errno = 0;
                ssize_t r = pread(fd, buf, len, off);
                want_r[n] = r;
                want_e[n] = r < 0 ? errno : 0;
                any_bad |= r < 0;
                memset(mem[n], 0xEE, len + 3 * KA);
                t_cb(&cbs[n], fd, buf, len, off);
                cbs[n].aio_lio_opcode = LIO_READ;
                l[n] = &cbs[n];
                n++;
            }
    errno = 0;
    int rc = lio_listio(LIO_WAIT, l, n, NULL);
    int e = errno;
    if (any_bad ? (rc != -1 || e != EIO) : rc != 0)
        FAILF("lio_listio(LIO_WAIT) of %d read cases: %d errno %d (%s), expected %s", n, rc, e,
              strerror(e), any_bad ? "-1/EIO" : "0");
    for (int i = 0; i < n; i++) {
        int ae = aio_error(&cbs[i]);
        ssize_t ar = aio_return(&cbs[i]);
        struct kcase c = { 0, (size_t)((unsigned char *)cbs[i].aio_buf - mem[i]),
                           cbs[i].aio_offset, cbs[i].aio_nbytes };
        if (ae != want_e[i] || ar != want_r[i])
            FAILF("lio_listio entry %d, %s: aio_error %d (%s), aio_return %zd; the "
                  "synchronous pread gave %zd, errno %d (%s)",
                  i, desc(&c), ae, strerror(ae), ar, want_r[i], want_e[i], strerror(want_e[i]));
        if (ar >= 0 && kaio_cmp((unsigned char *)cbs[i].aio_buf, model + c.off, (size_t)ar) >= 0)
            FAILF("lio_listio entry %d, %s: wrong data", i, desc(&c));
        free(mem[i]);
    }
    t_note("lio_listio: %d misaligned/aligned O_DIRECT reads in one list, each status = pread's",
           n);
}

static int body(void)
{
    t_note("backend %s, directory %s", kaio_backend(), kaio_dir());
    fd = kaio_open(O_DIRECT);
    model = kaio_alloc(FSZ);
    kaio_fill(model, FSZ);
    t_pwrite_all(fd, model, FSZ, 0);
    int idx = 0;
    for (int w = 0; w < 2; w++)
        for (size_t b = 0; b < NB_; b++)
            for (size_t o = 0; o < NO_; o++)
                for (size_t k = 0; k < NL_; k++) {
                    /* each case its own 8K-aligned region, so a case never sees another's
                     * bytes on an unexpected success */
                    struct kcase c = { w, bufmis_v[b],
                                       (off_t)KA * (off_t)(2 + 2 * (idx++ % 120)) + offmis_v[o],
                                       len_v[k] };
                    one(&c);
                }
    verify("after the single-request cases");
    t_note("%d cases (read+write x buffer x offset x length): %d failed in both with the same "
           "errno, %d succeeded in both with the same count",
           n_cases, n_same_err, n_same_ok);
    if (n_same_err == 0)
        t_note("note: the file system accepted every misaligned O_DIRECT request");
    list_reads();
    verify("after the list");
    close(fd);
    return T_PASS;
}

int main(int argc, char **argv)
{
    t_init("kaio_misaligned");
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return body();
    int rc = body();
    if (rc != T_PASS || (getenv("RTAIO_BACKEND") && *getenv("RTAIO_BACKEND")))
        return rc;
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
