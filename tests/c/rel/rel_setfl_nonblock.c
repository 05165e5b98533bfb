/* rel_setfl_nonblock: O_NONBLOCK set on a regular file with fcntl(F_SETFL) while reads of it
 * are in flight, then cleared again. read() ignores O_NONBLOCK on a regular file (it waits for
 * the disk), and so must aio_read: every read returns its whole block with the right data,
 * never EAGAIN, whichever way rtaio runs it (io_uring honours O_NONBLOCK on regular files, and
 * rtaio may route a read on flags it learnt before the change).
 *
 * 16 reads in flight on one descriptor of a 16 MiB file that is not in the page cache (each
 * block read at most once, POSIX_FADV_RANDOM), O_NONBLOCK on for the middle part of the run. */
#include "t.h"

#define BS 4096
#define NBLK 4096 /* 16 MiB */
#define DEPTH 16

static int fd;
static unsigned perm[NBLK];
static struct aiocb cb[DEPTH];
static unsigned char bufs[DEPTH][BS] __attribute__((aligned(4096)));
static unsigned blk_of[DEPTH];

static void stamp(unsigned char *b, unsigned blk)
{
    for (unsigned i = 0; i < BS; i += 4)
        memcpy(b + i, &(uint32_t){ blk * 2654435761u ^ i }, 4);
}

static void submit(int slot, unsigned blk)
{
    blk_of[slot] = blk;
    memset(bufs[slot], 0, BS);
    t_cb(&cb[slot], fd, bufs[slot], BS, (off_t)blk * BS);
    CHECK_OK(aio_read(&cb[slot]));
}

static void check(int slot)
{
    int e = aio_error(&cb[slot]);
    ssize_t r = aio_return(&cb[slot]);
    if (e != 0 || r != BS)
        FAILF("read of block %u: aio_error %d (%s), aio_return %zd, expected 0 and %d", blk_of[slot],
              e, strerror(e), r, BS);
    static unsigned char want[BS];
    stamp(want, blk_of[slot]);
    if (memcmp(bufs[slot], want, BS) != 0)
        FAILF("read of block %u: wrong data", blk_of[slot]);
}

int main(void)
{
    t_init("rel_setfl_nonblock");
    t_watchdog_start(&(struct t_watchdog){ .secs = 60, .poll_ms = 100 });

    fd = t_tmpfile();
    static unsigned char blk[BS];
    for (unsigned b = 0; b < NBLK; b++) {
        stamp(blk, b);
        t_pwrite_all(fd, blk, BS, (off_t)b * BS);
    }
    CHECK_OK(fsync(fd));
    CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED));
    CHECK_OK(posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM));
    for (unsigned i = 0; i < NBLK; i++)
        perm[i] = i;
    for (unsigned i = NBLK - 1; i > 0; i--) {
        unsigned j = t_rand_below(i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }

    t_phase("reads with O_NONBLOCK set and cleared while others are in flight");
    int flags = fcntl(fd, F_GETFL);
    CHECK(flags >= 0);
    unsigned next = 0, done = 0;
    for (int s = 0; s < DEPTH; s++)
        submit(s, perm[next++]);
    while (done < NBLK) {
        const struct aiocb *list[DEPTH];
        for (int s = 0; s < DEPTH; s++)
            list[s] = cb[s].aio_fildes == -1 ? NULL : &cb[s];
        CHECK_OK(aio_suspend(list, DEPTH, NULL));
        for (int s = 0; s < DEPTH; s++) {
            if (cb[s].aio_fildes == -1 || aio_error(&cb[s]) == EINPROGRESS)
                continue;
            check(s);
            done++;
            /* on for the middle half of the run, off again for the last quarter */
            if (done == NBLK / 4)
                CHECK_OK(fcntl(fd, F_SETFL, flags | O_NONBLOCK));
            if (done == 3 * NBLK / 4)
                CHECK_OK(fcntl(fd, F_SETFL, flags));
            if (next < NBLK)
                submit(s, perm[next++]);
            else
                cb[s].aio_fildes = -1;
        }
    }
    t_note("%u reads, every one whole", done);
    t_watchdog_stop();
    return 0;
}
