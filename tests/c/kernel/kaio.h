/* kaio.h: helpers shared by the kernel-backend tests (tests/c/kernel/kaio_*.c). */
#ifndef RTAIO_TEST_KAIO_H
#define RTAIO_TEST_KAIO_H
#include "t.h"

/* ---- kaio common block (the same in every tests/c/kernel/kaio_*.c: each test is one file) ----
 * kaio_dir(): a directory on a real disk for O_DIRECT files: $RTAIO_TEST_DIR, else the
 *   directory of the test binary (build/tests/<mode>), else $TMPDIR, else "." — never a
 *   tmpfs/ramfs (statfs), which has no O_DIRECT.
 * kaio_open(): an unlinked O_RDWR file there (with extra flags, e.g. O_DIRECT); exits 77 when
 *   O_DIRECT is refused (EINVAL).
 * (t_fd_table() in t.h: /proc/self/fd as text, to compare before/after.) */
#include <sys/statfs.h>
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif
#define KA 4096 /* alignment of every "aligned" request: buffer, offset and length */

static char kaio_dirbuf[4096];

static inline int kaio_dir_ok(const char *d)
{
    struct statfs s;
    if (!d || !*d || statfs(d, &s) != 0 || access(d, W_OK | X_OK) != 0)
        return 0;
    return (unsigned long)s.f_type != TMPFS_MAGIC && (unsigned long)s.f_type != RAMFS_MAGIC;
}

static const char *kaio_dir(void)
{
    const char *e = getenv("RTAIO_TEST_DIR");
    if (e && *e) {
        if (!kaio_dir_ok(e))
            SKIP("RTAIO_TEST_DIR=%s is not a writable directory on a disk file system", e);
        return e;
    }
    ssize_t n = readlink("/proc/self/exe", kaio_dirbuf, sizeof kaio_dirbuf - 1);
    if (n > 0) {
        kaio_dirbuf[n] = 0;
        char *slash = strrchr(kaio_dirbuf, '/');
        if (slash && slash != kaio_dirbuf) {
            *slash = 0;
            if (kaio_dir_ok(kaio_dirbuf))
                return kaio_dirbuf;
        }
    }
    e = getenv("TMPDIR");
    if (kaio_dir_ok(e))
        return e;
    if (kaio_dir_ok("."))
        return ".";
    SKIP("no writable directory on a disk file system (set RTAIO_TEST_DIR)");
    return NULL;
}

static inline int kaio_open(int flags)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/kaio-test-XXXXXX", kaio_dir());
    int tfd = mkstemp(path);
    if (tfd < 0)
        FAILF("mkstemp(%s): %s", path, strerror(errno));
    int fd = open(path, O_RDWR | flags);
    int e = errno;
    unlink(path);
    close(tfd);
    if (fd < 0 && (flags & O_DIRECT) && e == EINVAL)
        SKIP("O_DIRECT refused by the file system of %s (EINVAL)", path);
    if (fd < 0)
        FAILF("open(%s): %s", path, strerror(e));
    return fd;
}

/* Pipes, sockets and files opened by the test are all listed, so the lists before and after
 * must be identical — once rtaio is idle: an io_uring executor keeps its ring (and doorbell)
 * while requests flow and closes them after its idle time (1 s by default), so the lists are
 * compared for up to 10 s. */
static inline void kaio_check_fds(const char *before, const char *what)
{
    static char after[16384];
    double end = t_now() + 10;
    for (;;) {
        t_fd_table(after, sizeof after);
        if (strcmp(before, after) == 0 || t_now() > end)
            break;
        t_sleep_ms(50);
    }
    if (strcmp(before, after) != 0)
        FAILF("%s: the set of open descriptors changed.\nbefore:\n%safter:\n%s", what, before,
              after);
}

static void *kaio_alloc(size_t n)
{
    void *p = NULL;
    int e = posix_memalign(&p, KA, n);
    if (e != 0)
        FAILF("posix_memalign(%zu): %s", n, strerror(e));
    return p;
}

static inline void kaio_fill(unsigned char *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = t_rand();
        memcpy(p + i, &v, 8);
    }
    for (; i < n; i++)
        p[i] = (unsigned char)t_rand();
}

/* first differing byte, or -1 */
static inline long kaio_cmp(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (memcmp(a, b, n) == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

static const char *kaio_backend(void)
{
    const char *b = getenv("RTAIO_BACKEND");
    return b && *b ? b : "auto";
}

#endif
