/* rel_lio_share: a long lio_listio(LIO_WAIT) list of reads of regular files is submitted by
 * the caller and a pool worker at once (BEHAVIOUR.md, lio_listio). Nothing of that may show
 * but the speed:
 *
 * Part 1: 200 lists of 256 4 KiB reads at random blocks of two descriptors of one file, with
 *         LIO_NOP and NULL entries among them: when lio_listio returns, every entry is complete,
 *         with the bytes and return value pread gives.
 * Part 2: the same with half of the file's blocks out of the page cache: entries that cannot
 *         complete at once are queued by whichever thread took them, and still complete before
 *         the call returns.
 * Part 3: one entry with an invalid aio_reqprio, at a different place each time: the call
 *         fails with EIO, that entry with EINVAL, the others complete.
 * Part 4: lists that must keep their order: reads of a pipe among the file's reads take the
 *         pipe's bytes in list order; an aiocb listed twice neither crashes nor hangs.
 * Part 5: two threads run part 1 at once. */
#include "t.h"

#define BS 4096
#define BLOCKS 1024
#define N 256

static int fd1, fd2;

static unsigned char byte_at(long block, int i)
{
    return (unsigned char)(block * 13 + i * 7 + (block >> 3));
}

struct list {
    struct aiocb cb[N];
    struct aiocb *l[N];
    unsigned char buf[N][BS];
};

/* Fills `s` with reads at random blocks (LIO_NOP and NULL entries too, if `holes`). */
static void fill(struct list *s, unsigned *seed, int holes)
{
    memset(s->cb, 0, sizeof s->cb);
    for (int i = 0; i < N; i++) {
        struct aiocb *cb = &s->cb[i];
        cb->aio_fildes = i % 2 ? fd2 : fd1;
        cb->aio_buf = s->buf[i];
        cb->aio_nbytes = BS;
        cb->aio_offset = (off_t)(rand_r(seed) % BLOCKS) * BS;
        cb->aio_lio_opcode = LIO_READ;
        memset(s->buf[i], 0xee, BS);
        s->l[i] = cb;
        if (holes && i % 37 == 5)
            cb->aio_lio_opcode = LIO_NOP;
        if (holes && i % 41 == 7)
            s->l[i] = NULL;
    }
}

/* Every read entry complete, with the file's bytes; `bad`: the entry that must have failed. */
static void verify(struct list *s, int bad)
{
    for (int i = 0; i < N; i++) {
        struct aiocb *cb = &s->cb[i];
        if (!s->l[i] || cb->aio_lio_opcode == LIO_NOP)
            continue;
        int e = aio_error(cb);
        if (i == bad) {
            CHECK_EQ(e, EINVAL);
            CHECK_EQ(aio_return(cb), -1);
            continue;
        }
        if (e != 0)
            FAILF("entry %d: aio_error %d (%s) after lio_listio(LIO_WAIT) returned", i, e, strerror(e));
        CHECK_EQ(aio_return(cb), BS);
        long block = (long)(cb->aio_offset / BS);
        const unsigned char *b = s->buf[i];
        for (int k = 0; k < BS; k++)
            if (b[k] != byte_at(block, k))
                FAILF("entry %d (block %ld): byte %d is %#x, not %#x", i, block, k, b[k], byte_at(block, k));
    }
}

static void lists(unsigned seed, int rounds)
{
    struct list *s = malloc(sizeof *s);
    CHECK(s != NULL);
    for (int r = 0; r < rounds; r++) {
        t_progress();
        fill(s, &seed, r % 2);
        CHECK_OK(lio_listio(LIO_WAIT, s->l, N, NULL));
        verify(s, -1);
    }
    free(s);
}

static void *thread_lists(void *arg)
{
    lists((unsigned)(uintptr_t)arg, 200);
    return NULL;
}

static void evict_half(void)
{
    CHECK_OK(fdatasync(fd1));
    for (long b = 0; b < BLOCKS; b += 2)
        CHECK_EQ(posix_fadvise(fd1, b * BS, BS, POSIX_FADV_DONTNEED), 0);
}

int main(void)
{
    t_init("rel_lio_share");
    struct t_watchdog wd = { .secs = 60, .poll_ms = 500 };
    t_watchdog_start(&wd);
    fd1 = t_tmpfile();
    unsigned char *blk = malloc(BS);
    CHECK(blk != NULL);
    for (long b = 0; b < BLOCKS; b++) {
        for (int k = 0; k < BS; k++)
            blk[k] = byte_at(b, k);
        CHECK_EQ(pwrite(fd1, blk, BS, b * BS), BS);
    }
    free(blk);
    fd2 = dup(fd1);
    CHECK(fd2 >= 0);

    /* Part 1 */
    lists((unsigned)t_rand(), 200);

    /* Part 2 */
    {
        struct list *s = malloc(sizeof *s);
        CHECK(s != NULL);
        unsigned seed = (unsigned)t_rand();
        for (int r = 0; r < 20; r++) {
            t_progress();
            evict_half();
            fill(s, &seed, 0);
            CHECK_OK(lio_listio(LIO_WAIT, s->l, N, NULL));
            verify(s, -1);
        }
        free(s);
    }

    /* Part 3 */
    {
        struct list *s = malloc(sizeof *s);
        CHECK(s != NULL);
        unsigned seed = (unsigned)t_rand();
        for (int r = 0; r < 50; r++) {
            t_progress();
            fill(s, &seed, 0);
            int bad = (r * 53 + 11) % N;
            s->cb[bad].aio_reqprio = -1;
            errno = 0;
            CHECK_EQ(lio_listio(LIO_WAIT, s->l, N, NULL), -1);
            CHECK_EQ(errno, EIO);
            verify(s, bad);
        }
        free(s);
    }

    /* Part 4 */
    {
        struct list *s = malloc(sizeof *s);
        CHECK(s != NULL);
        unsigned seed = (unsigned)t_rand();
        int p[2];
        CHECK_OK(pipe(p));
        unsigned char order[8];
        for (int r = 0; r < 50; r++) {
            t_progress();
            fill(s, &seed, 0);
            unsigned char msg[8];
            for (int k = 0; k < 8; k++)
                msg[k] = (unsigned char)(r * 8 + k);
            CHECK_EQ(write(p[1], msg, 8), 8);
            for (int k = 0; k < 8; k++) { /* 8 one-byte pipe reads, spread over the list */
                struct aiocb *cb = &s->cb[k * 31 + 3];
                cb->aio_fildes = p[0];
                cb->aio_buf = &order[k];
                cb->aio_nbytes = 1;
                cb->aio_offset = 0;
            }
            CHECK_OK(lio_listio(LIO_WAIT, s->l, N, NULL));
            for (int k = 0; k < 8; k++) {
                struct aiocb *cb = &s->cb[k * 31 + 3];
                CHECK_EQ(aio_error(cb), 0);
                CHECK_EQ(aio_return(cb), 1);
                if (order[k] != msg[k])
                    FAILF("pipe read %d of the list got byte %d, not %d", k, order[k], msg[k]);
                /* (verify skips nothing else: give the entry a file block back) */
                cb->aio_lio_opcode = LIO_NOP;
            }
            verify(s, -1);
        }
        close(p[0]);
        close(p[1]);

        /* One aiocb twice: whatever the second submission finds, no crash and no hang. */
        for (int r = 0; r < 20; r++) {
            fill(s, &seed, 0);
            s->l[N - 1] = s->l[0];
            int rc = lio_listio(LIO_WAIT, s->l, N, NULL);
            CHECK(rc == 0 || (rc == -1 && errno == EIO));
            for (int i = 0; i < N - 1; i++)
                while (aio_error(&s->cb[i]) == EINPROGRESS)
                    t_progress();
            for (int i = 0; i < N - 1; i++)
                aio_return(&s->cb[i]);
        }
        free(s);
    }

    /* Part 5 */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_lists, (void *)(uintptr_t)(unsigned)t_rand()), 0);
    lists((unsigned)t_rand(), 200);
    CHECK_EQ(pthread_join(th, NULL), 0);

    close(fd1);
    close(fd2);
    return T_PASS;
}
