/* fifo_short_long: with aio_threads = 1, a steady stream of buffered file writes (short tasks,
 * priority 0) keeps the pool's short lane non-empty; an aio_fsync of ANOTHER file (a long
 * task, priority 0, queued after some writes) must still run in FIFO order ("equal priority
 * is FIFO"): at most the N writes in flight when it was queued go first (with short tasks
 * scanned first within a lane and no bound, it waited until the stream stopped). Polls with
 * aio_error (no aio_suspend: no help path). */
#include "t.h"

#define N 256
#define LEN 65536

int main(void)
{
    t_init("fifo_short_long");
    t_aio_init(1, 0);
    int fa = t_tmpfile(), fb = t_tmpfile();
    static char buf[N][LEN];
    struct aiocb w[N];
    long off = 0, writes = 0, w_at_sub = 0, w_at_done = -1;
    for (int i = 0; i < N; i++) {
        memset(buf[i], 'a' + i, LEN);
        t_cb(&w[i], fa, buf[i], LEN, off);
        off = (off + LEN) % (64 << 20);
        CHECK_OK(aio_write(&w[i]));
    }
    struct aiocb s;
    memset(&s, 0, sizeof s);
    s.aio_fildes = fb;
    double t0 = t_now(), submitted = 0, done_at = 0;
    while (t_now() - t0 < 3.5) {
        for (int i = 0; i < N; i++) {
            int e = aio_error(&w[i]);
            if (e == EINPROGRESS)
                continue;
            CHECK_EQ(e, 0);
            CHECK_EQ(aio_return(&w[i]), LEN);
            writes++;
            t_cb(&w[i], fa, buf[i], LEN, off);
            off = (off + LEN) % (64 << 20);
            CHECK_OK(aio_write(&w[i]));
        }
        if (!submitted && t_now() - t0 > 0.2) {
            CHECK_OK(aio_fsync(O_SYNC, &s));
            submitted = t_now();
            w_at_sub = writes;
        }
        if (submitted && !done_at && aio_error(&s) != EINPROGRESS) {
            CHECK_EQ(aio_error(&s), 0);
            done_at = t_now();
            w_at_done = writes;
            t_note("threads now: %d", t_count_threads());
        }
        if (done_at && t_now() - done_at > 0.1)
            break;
    }
    /* stream stopped: drain */
    for (int i = 0; i < N; i++)
        t_wait_return(&w[i], 0, "write");
    double fs_stream = done_at ? done_at - submitted : -1;
    if (!done_at) {
        t_wait_return(&s, 0, "fsync");
        done_at = t_now();
    }
    t_note("writes completed between fsync submission and its completion: %ld", w_at_done - w_at_sub);
    t_note("writes completed: %ld; fsync (queued behind the stream) done %.3f s after submission%s", writes,
           done_at - submitted, fs_stream < 0 ? " -- only after the write stream stopped" : "");
    /* FIFO: at most the N writes in flight when it was queued run before it */
    if (fs_stream < 0 || w_at_done - w_at_sub > N)
        FAILF("fsync of another file waited %.3f s while %ld writes submitted after it ran first", done_at - submitted,
              w_at_done - w_at_sub);
    return T_PASS;
}
