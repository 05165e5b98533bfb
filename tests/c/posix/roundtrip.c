/* roundtrip: aio_write random data at random offsets, aio_read it back at random
 * offsets, compare byte for byte with an in-memory model. Batches of requests are in
 * flight together (writes of disjoint ranges, then overlapping reads). Also the explicit
 * aio_read64/aio_write64 entry points, a short read at end of file, a read past EOF, a
 * >4 GiB offset, and reuse of aiocbs after aio_return.
 *
 * roundtrip64.c includes this file with _FILE_OFFSET_BITS=64, so <aio.h> redirects
 * aio_read & co to their 64 twins. */
#include "t.h"

#ifndef RT_NAME
#define RT_NAME "roundtrip"
#endif

#define FSIZE (1u << 20)
#define BATCH 8
#define ITERS 300
#define MAXLEN 65536

static unsigned char model[FSIZE];
static unsigned char wbuf[BATCH][MAXLEN];
static unsigned char rbuf[BATCH][MAXLEN];

int main(void)
{
    t_init(RT_NAME);
    int fd = t_tmpfile();
    CHECK_EQ(sizeof(struct aiocb), 168);
    CHECK_EQ(sizeof(off_t), 8);

    /* initial content */
    t_fill_random(model, FSIZE);
    t_pwrite_all(fd, model, FSIZE, 0);

    struct aiocb cbs[BATCH];
    memset(cbs, 0, sizeof cbs);
    for (int it = 0; it < ITERS; it++) {
        /* BATCH writes of disjoint ranges: range i lies inside segment i of the file */
        size_t seg = FSIZE / BATCH;
        size_t len[BATCH];
        off_t off[BATCH];
        for (int i = 0; i < BATCH; i++) {
            len[i] = 1 + t_rand_below(seg < MAXLEN ? seg : MAXLEN);
            off[i] = (off_t)(i * seg + t_rand_below(seg - len[i] + 1));
            t_fill_random(wbuf[i], len[i]);
            /* the same aiocbs are reused every iteration (after aio_return) */
            t_cb(&cbs[i], fd, wbuf[i], len[i], off[i]);
            cbs[i].aio_lio_opcode = 12345; /* ignored by aio_write */
            if (it & 1)
                CHECK_OK(aio_write(&cbs[i]));
            else
                CHECK_OK(aio_write64((struct aiocb64 *)&cbs[i]));
        }
        for (int i = 0; i < BATCH; i++) {
            ssize_t r = t_wait_return(&cbs[i], 0, "write");
            CHECK_EQ(r, (ssize_t)len[i]);
            memcpy(model + off[i], wbuf[i], len[i]);
        }
        /* BATCH reads at random (possibly overlapping) offsets */
        for (int i = 0; i < BATCH; i++) {
            len[i] = 1 + t_rand_below(MAXLEN);
            off[i] = (off_t)t_rand_below(FSIZE - len[i] + 1);
            memset(rbuf[i], 0xa5, len[i]);
            t_cb(&cbs[i], fd, rbuf[i], len[i], off[i]);
            if (it & 2)
                CHECK_OK(aio_read(&cbs[i]));
            else
                CHECK_OK(aio_read64((struct aiocb64 *)&cbs[i]));
        }
        for (int i = 0; i < BATCH; i++) {
            ssize_t r = t_wait_return(&cbs[i], 0, "read");
            CHECK_EQ(r, (ssize_t)len[i]);
            if (memcmp(rbuf[i], model + off[i], len[i]) != 0) {
                size_t k = 0;
                while (rbuf[i][k] == model[off[i] + k])
                    k++;
                FAILF("iteration %d read %d: data differs at file offset %lld (len %zu)",
                      it, i, (long long)(off[i] + k), len[i]);
            }
        }
    }

    /* whole-file check with plain pread */
    static unsigned char all[FSIZE];
    t_pread_all(fd, all, FSIZE, 0);
    CHECK(memcmp(all, model, FSIZE) == 0);

    /* short read at end of file: success with the short count */
    struct aiocb cb;
    t_cb(&cb, fd, rbuf[0], 1000, FSIZE - 100);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "short read"), 100);
    CHECK(memcmp(rbuf[0], model + FSIZE - 100, 100) == 0);

    /* read entirely past EOF: 0 bytes */
    t_cb(&cb, fd, rbuf[0], 1000, FSIZE + 4096);
    CHECK_OK(aio_read(&cb));
    CHECK_EQ(t_wait_return(&cb, 0, "read past EOF"), 0);

    /* offset above 4 GiB (sparse file) via the 64 entry points */
    off_t big = (off_t)5 << 30;
    if (ftruncate(fd, big + 8192) == 0) {
        t_fill_random(wbuf[0], 4096);
        struct aiocb64 cb64;
        memset(&cb64, 0, sizeof cb64);
        cb64.aio_fildes = fd;
        cb64.aio_buf = wbuf[0];
        cb64.aio_nbytes = 4096;
        cb64.aio_offset = big + 123;
        CHECK_OK(aio_write64(&cb64));
        CHECK_EQ(t_wait_return((struct aiocb *)&cb64, 0, "write64 big"), 4096);
        memset(rbuf[0], 0, 4096);
        t_pread_all(fd, rbuf[0], 4096, big + 123);
        CHECK(memcmp(rbuf[0], wbuf[0], 4096) == 0);
        memset(rbuf[1], 0, 4096);
        memset(&cb64, 0, sizeof cb64);
        cb64.aio_fildes = fd;
        cb64.aio_buf = rbuf[1];
        cb64.aio_nbytes = 4096;
        cb64.aio_offset = big + 123;
        CHECK_OK(aio_read64(&cb64));
        CHECK_EQ(t_wait_return((struct aiocb *)&cb64, 0, "read64 big"), 4096);
        CHECK(memcmp(rbuf[1], wbuf[0], 4096) == 0);
    } else {
        t_note("ftruncate to 5 GiB failed (%s): big-offset part not run", strerror(errno));
    }

    close(fd);
    return T_PASS;
}
