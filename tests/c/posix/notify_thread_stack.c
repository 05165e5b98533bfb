/* notify_thread_stack: a SIGEV_THREAD callback without thread attributes runs with the stack
 * of a thread made without attributes (glibc's notification threads are such threads: the
 * stack rlimit, 8 MiB on most systems), so a callback may use a few MiB of stack, as it may
 * under glibc. */
#include "t.h"

#define BIG (2u << 20)

static _Atomic int done;
static size_t callback_stack;

static void callback(union sigval v)
{
    (void)v;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstacksize(&a, &callback_stack);
        pthread_attr_destroy(&a);
    }
    volatile char big[BIG];
    for (size_t i = 0; i < BIG; i += 4096)
        big[i] = (char)i;
    done = 1 + big[4096];
}

int main(void)
{
    t_init("notify_thread_stack");
    pthread_attr_t def;
    size_t want = 0;
    CHECK_EQ(pthread_getattr_default_np(&def), 0);
    CHECK_EQ(pthread_attr_getstacksize(&def, &want), 0);
    pthread_attr_destroy(&def);
    if (want < BIG + (1u << 20))
        SKIP("threads get a %zu-byte stack by default here: too small for the test's 2 MiB", want);
    int fd = t_tmpfile();
    static char buf[16];
    t_pwrite_all(fd, "x", 1, 0);
    for (int round = 0; round < 3; round++) {
        done = 0;
        struct aiocb cb;
        t_cb(&cb, fd, buf, 1, 0);
        cb.aio_sigevent.sigev_notify = SIGEV_THREAD;
        cb.aio_sigevent.sigev_notify_function = callback;
        CHECK_OK(aio_read(&cb));
        CHECK_EQ(t_wait_return(&cb, 0, "read"), 1);
        t_wait_atomic(&done, 1, "the callback");
        if (callback_stack < want)
            FAILF("the callback's thread has a %zu-byte stack, a thread without attributes %zu", callback_stack, want);
    }
    return T_PASS;
}
