/* append_order: BEHAVIOUR.md "writes to a descriptor with O_APPEND set are performed one
 * at a time in submission order". 500 aio_writes of numbered records (various lengths) on
 * an O_APPEND descriptor, submitted back to back (no waiting): the file contains them
 * exactly in submission order. Repeated with records submitted from a list (lio_listio
 * LIO_NOWAIT, list order is submission order) and mixed with reads on the same fd. */
#include "t.h"

#define N 500

static struct aiocb cbs[N];
static char recs[N][200];
static size_t lens[N];

static void make_records(int round)
{
    for (int i = 0; i < N; i++) {
        int pad = (int)t_rand_below(120);
        int n = snprintf(recs[i], sizeof recs[i], "<r%d #%05d ", round, i);
        for (int k = 0; k < pad; k++)
            recs[i][n++] = (char)('a' + (i + k) % 26);
        recs[i][n++] = '>';
        recs[i][n++] = '\n';
        lens[i] = (size_t)n;
    }
}

static void check_file(int fd, off_t start, const char *what)
{
    size_t total = 0;
    for (int i = 0; i < N; i++)
        total += lens[i];
    char *buf = malloc(total + 1);
    CHECK(buf != NULL);
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    CHECK_EQ(st.st_size, start + (off_t)total);
    t_pread_all(fd, buf, total, start);
    size_t pos = 0;
    for (int i = 0; i < N; i++) {
        if (memcmp(buf + pos, recs[i], lens[i]) != 0) {
            int k = -1;
            sscanf(buf + pos, "<r%*d #%d", &k);
            FAILF("%s: record %d of the file is record %d (appends out of order)", what, i,
                  k);
        }
        pos += lens[i];
    }
    free(buf);
}

int main(void)
{
    t_init("append_order");
    int tfd = t_tmpfile();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tfd);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    int rfd = open(path, O_RDONLY);
    CHECK(rfd >= 0);

    /* round 1: aio_write back to back; offsets are ignored with O_APPEND */
    make_records(1);
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, recs[i], lens[i], (off_t)t_rand_below(1000));
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "append"), (ssize_t)lens[i]);
    check_file(rfd, 0, "aio_write round");
    struct stat st;
    CHECK_OK(fstat(fd, &st));
    off_t start = st.st_size;

    /* round 2: one lio_listio(LIO_NOWAIT) list, plus aio_writes interleaved from the same
     * thread after it */
    make_records(2);
    static struct aiocb *list[N / 2];
    for (int i = 0; i < N / 2; i++) {
        t_cb(&cbs[i], fd, recs[i], lens[i], 0);
        cbs[i].aio_lio_opcode = LIO_WRITE;
        list[i] = &cbs[i];
    }
    CHECK_OK(lio_listio(LIO_NOWAIT, list, N / 2, NULL));
    for (int i = N / 2; i < N; i++) {
        t_cb(&cbs[i], fd, recs[i], lens[i], 0);
        CHECK_OK(aio_write(&cbs[i]));
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(t_wait_return(&cbs[i], 0, "append (lio)"), (ssize_t)lens[i]);
    check_file(rfd, start, "lio_listio round");
    CHECK_OK(fstat(fd, &st));
    start = st.st_size;

    /* round 3: an O_RDWR|O_APPEND fd with reads of the start of the file in between */
    close(fd);
    fd = open(path, O_RDWR | O_APPEND);
    CHECK(fd >= 0);
    make_records(3);
    static struct aiocb reads[N];
    static char rbuf[N][16];
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, recs[i], lens[i], 0);
        CHECK_OK(aio_write(&cbs[i]));
        t_cb(&reads[i], fd, rbuf[i], 8, 0);
        CHECK_OK(aio_read(&reads[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(t_wait_return(&cbs[i], 0, "append (rdwr)"), (ssize_t)lens[i]);
        CHECK_EQ(t_wait_return(&reads[i], 0, "read"), 8);
        CHECK(memcmp(rbuf[i], "<r1 #000", 8) == 0);
    }
    check_file(rfd, start, "O_RDWR|O_APPEND round");
    close(fd);
    close(rfd);
    close(tfd);
    return T_PASS;
}
