/* ext_waitcomplete_limit: aio_waitcomplete under a very large RTAIO_MAX_REQUESTS.
 * Its tracker has a slot per allowed request; RTAIO_MAX_REQUESTS=4294967295 (a natural "no
 * limit") once made it allocate 3 x 32 GiB at the first aio_read, and abort with a message.
 * For 4294967295, 18446744073709551615 (above the maximum: taken as 4294967295) and the
 * default, a child process:
 *  - submits 5000 one-byte reads of a file (more than one chunk of slots), retrieving none;
 *  - gets each back from aio_waitcomplete exactly once, with its byte;
 *  - exits 0 having written nothing to stderr (the library never prints unasked). */
#include "t.h"
#include <rtaio.h>

#define N 5000

static void child(const char *limit)
{
    if (limit)
        CHECK_OK(setenv("RTAIO_MAX_REQUESTS", limit, 1));
    int fd = t_tmpfile();
    static unsigned char data[N], got[N];
    for (int i = 0; i < N; i++)
        data[i] = (unsigned char)(i * 7 + 1);
    t_pwrite_all(fd, data, N, 0);
    static struct aiocb cbs[N];
    for (int i = 0; i < N; i++) {
        t_cb(&cbs[i], fd, &got[i], 1, i);
        CHECK_OK(aio_read(&cbs[i]));
    }
    static char seen[N];
    for (int i = 0; i < N; i++) {
        struct aiocb *p = NULL;
        struct timespec ts = { (time_t)T_DEADLINE_S, 0 };
        ssize_t r = aio_waitcomplete(&p, &ts);
        if (r != 1)
            FAILF("RTAIO_MAX_REQUESTS=%s: aio_waitcomplete #%d returned %zd (%s)", limit ? limit : "(unset)", i, r,
                  strerror(errno));
        long k = p - cbs;
        CHECK(k >= 0 && k < N);
        CHECK(!seen[k]);
        seen[k] = 1;
        CHECK_EQ(got[k], data[k]);
    }
    struct aiocb *p = NULL;
    struct timespec zero = { 0, 0 };
    CHECK_ERR(aio_waitcomplete(&p, &zero), EAGAIN);
    _exit(0);
}

int main(void)
{
    t_init("ext_waitcomplete_limit");
    const char *limits[] = { "4294967295", "18446744073709551615", NULL };
    for (int i = 0; i < 3; i++) {
        const char *limit = limits[i];
        int err = t_tmpfile();
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            CHECK(dup2(err, 2) == 2);
            child(limit);
        }
        int status = 0;
        if (t_wait_child(pid, T_DEADLINE_S, &status) != 0)
            FAILF("RTAIO_MAX_REQUESTS=%s: the child did not finish", limit ? limit : "(unset)");
        char msg[512] = "";
        ssize_t n = pread(err, msg, sizeof msg - 1, 0);
        if (n > 0)
            msg[n] = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n != 0)
            FAILF("RTAIO_MAX_REQUESTS=%s: child status 0x%x (exit %d, signal %d), stderr: %s",
                  limit ? limit : "(unset)", status, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0, n > 0 ? msg : "(empty)");
        close(err);
    }
    return T_PASS;
}
