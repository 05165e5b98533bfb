/* kaio_cancel_race: aio_cancel of an O_DIRECT write racing its completion, reaped by another
 * thread polling aio_error. aio_cancel on native AIO answers AIO_NOTCANCELED (file systems
 * refuse io_cancel) or AIO_ALLDONE; the request must then end with its own result. Each write
 * extends the file, so its RWF_NOWAIT attempt answers EAGAIN and is redone on the pool: a
 * completion reaped while aio_cancel was asking the kernel was turned into ECANCELED and not
 * redone, so the write was lost though aio_cancel said it went on. A write is checked against
 * the file's size; ECANCELED is allowed only with AIO_CANCELED. */
#include "t.h"
#include "kaio.h"
#include <sched.h>
#include <sys/stat.h>

#define NWRITES 5000

static struct aiocb cb;
static _Atomic int go, stop, seen;

static void *poller(void *a)
{
    (void)a;
    int last = 0;
    while (!stop) {
        int s;
        while ((s = go) == last && !stop)
            sched_yield(); /* (a loaded machine: let the submitter run) */
        last = s;
        for (volatile int i = 0; i < (s * 37) % 400; i++)
            ;
        while (aio_error(&cb) == EINPROGRESS && !stop)
            ;
        seen = s;
    }
    return NULL;
}

int main(void)
{
    t_init("kaio_cancel_race");
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100, .block_signals = 1 });
    t_note("backend %s", kaio_backend());
    int fd = kaio_open(O_DIRECT);
    unsigned char *mem = kaio_alloc(KA);
    memset(mem, 'w', KA);
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, poller, NULL));
    off_t off = 0;
    for (int i = 1; i <= NWRITES; i++) {
        memset(&cb, 0, sizeof cb);
        cb.aio_fildes = fd;
        cb.aio_buf = mem;
        cb.aio_nbytes = KA;
        cb.aio_offset = off;
        CHECK_OK(aio_write(&cb));
        go = i;
        int c = aio_cancel(fd, &cb);
        CHECK(c == AIO_CANCELED || c == AIO_NOTCANCELED || c == AIO_ALLDONE);
        while (seen != i)
            sched_yield();
        t_progress();
        int e = aio_error(&cb);
        ssize_t r = aio_return(&cb);
        if (e == ECANCELED && c != AIO_CANCELED)
            FAILF("write %d: aio_cancel %s, yet aio_error ECANCELED (aio_return %zd): not written", i,
                  c == AIO_NOTCANCELED ? "AIO_NOTCANCELED" : "AIO_ALLDONE", r);
        if (e == 0) {
            CHECK_EQ(r, KA);
            off += KA;
            struct stat st;
            CHECK_OK(fstat(fd, &st));
            CHECK_EQ(st.st_size, off);
        } else if (e != ECANCELED) {
            FAILF("write %d: aio_error %d (%s)", i, e, strerror(e));
        }
    }
    stop = 1;
    CHECK_OK(pthread_join(t, NULL));
    t_watchdog_stop();
    free(mem);
    return T_PASS;
}
