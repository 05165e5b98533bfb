/* kaio_uffd_submit: an O_DIRECT aio_read whose buffer is a userfaultfd page not yet served,
 * in a single-threaded program that serves the fault only after aio_read returns (as glibc
 * lets it: its worker thread takes the fault). aio_read must return at once: native AIO's
 * io_submit pins the buffer in the calling thread and would wait there for the fault for
 * ever; such a request goes to the pool. The watchdog fails the test if aio_read hangs. */
#include "t.h"
#include "kaio.h"

int main(void)
{
    t_init("kaio_uffd_submit");
    t_watchdog_start(&(struct t_watchdog){ .secs = 20, .poll_ms = 100, .block_signals = 1,
                                          .stall_msg = "aio_read waits for a fault only the caller serves" });
    t_note("backend %s", kaio_backend());
    int fd = kaio_open(O_DIRECT);
    unsigned char *w = kaio_alloc(KA);
    memset(w, 'D', KA);
    t_pwrite_all(fd, w, KA, 0);
    struct t_uffd u;
    if (t_uffd_open(&u) != 0)
        SKIP("userfaultfd for kernel faults not available");
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = u.page;
    cb.aio_nbytes = KA;
    t_phase("aio_read");
    CHECK_OK(aio_read(&cb));
    t_phase("serving the fault");
    t_uffd_wait_fault(&u);
    t_uffd_release(&u);
    t_phase("waiting");
    CHECK_EQ(t_wait_return(&cb, 0, "the read"), KA);
    CHECK(((unsigned char *)u.page)[0] == 'D' && ((unsigned char *)u.page)[KA - 1] == 'D');
    t_watchdog_stop();
    return T_PASS;
}
