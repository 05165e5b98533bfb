/* char_devices: requests on character devices that seek (pread/pwrite work on them, as glibc
 * calls them): they complete with what those calls answer, whatever the device's poll says.
 * /dev/kmsg's poll never reports room for writing (a write on io_uring waited forever);
 * /dev/null and /dev/zero at an offset; /dev/cpu/0/cpuid, whose offset is the CPUID leaf
 * (where it exists); /dev/full: ENOSPC. */
#include "t.h"

static ssize_t one(int fd, void *buf, size_t n, off_t off, int write, int want_err, const char *what)
{
    struct aiocb cb;
    t_cb(&cb, fd, buf, n, off);
    CHECK_OK(write ? aio_write(&cb) : aio_read(&cb));
    int e = t_wait(&cb);
    if (e != want_err)
        FAILF("%s: aio_error %d (%s), expected %d (%s)", what, e, strerror(e), want_err, strerror(want_err));
    return aio_return(&cb);
}

int main(void)
{
    t_init("char_devices");
    static char buf[4096];
    int k = open("/dev/kmsg", O_WRONLY);
    if (k >= 0) {
        /* Debug level: not shown on a console. */
        static const char line[] = "<7>rtaio-test: char_devices\n";
        CHECK_EQ(one(k, (void *)line, sizeof line - 1, 0, 1, 0, "/dev/kmsg write"), (ssize_t)sizeof line - 1);
        close(k);
    } else {
        t_note("no /dev/kmsg to write to (%s): that part skipped", strerror(errno));
    }
    int n = open("/dev/null", O_RDWR);
    CHECK(n >= 0);
    CHECK_EQ(one(n, buf, sizeof buf, 4096, 1, 0, "/dev/null write"), (ssize_t)sizeof buf);
    CHECK_EQ(one(n, buf, sizeof buf, 4096, 0, 0, "/dev/null read"), 0);
    close(n);
    int z = open("/dev/zero", O_RDONLY);
    CHECK(z >= 0);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(one(z, buf, sizeof buf, 12345, 0, 0, "/dev/zero read"), (ssize_t)sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        CHECK(buf[i] == 0);
    close(z);
    /* Where the offset means something (the CPUID leaf): what pread at it gives, and the file
     * position stays put. */
    int c = open("/dev/cpu/0/cpuid", O_RDONLY);
    if (c >= 0) {
        char want[16], got[16];
        const off_t leaf = 0x80000002;
        if (pread(c, want, sizeof want, leaf) == (ssize_t)sizeof want) {
            CHECK_EQ(one(c, got, sizeof got, leaf, 0, 0, "cpuid read"), (ssize_t)sizeof got);
            if (memcmp(got, want, sizeof want) != 0)
                FAILF("cpuid read at leaf %#llx: not what pread at that offset gives", (long long)leaf);
            CHECK_EQ(lseek(c, 0, SEEK_CUR), 0);
        }
        close(c);
    }
    int f = open("/dev/full", O_WRONLY);
    if (f >= 0) {
        CHECK_EQ(one(f, buf, 16, 0, 1, ENOSPC, "/dev/full write"), -1);
        close(f);
    }
    return T_PASS;
}
