/* rel_help_fuse: a thread in aio_suspend that runs its own queued read (core/help.rs) holds
 * every signal during the call; on a file system whose reads wait for a server (FUSE, NFS)
 * that held SIGTERM until the server answered. A minimal FUSE server (a child) serves one
 * file whose READs it answers only after HOLD_S seconds, or at once with EINTR on
 * FUSE_INTERRUPT, as every FUSE server does. A client (another child) submits one aio_read of
 * it and waits in aio_suspend without a timeout; one second later it gets SIGTERM (default
 * action) and must die promptly (glibc: at once; before the fix: when the server answered, 7
 * s later). Needs root and /dev/fuse (else skipped). Usage: rel_help_fuse [suspend|poll]. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLD_S 8
static char MNT[] = "/tmp/rtaio-fuse-XXXXXX";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void reply(int fd, uint64_t unique, int error, const void *data, size_t n)
{
    char buf[8192];
    struct fuse_out_header *o = (void *)buf;
    o->len = sizeof *o + n;
    o->error = error;
    o->unique = unique;
    if (n)
        memcpy(buf + sizeof *o, data, n);
    if (write(fd, buf, o->len) < 0 && errno != ENOENT)
        perror("fuse reply");
}

static void fill_attr(struct fuse_attr *a, uint64_t ino)
{
    memset(a, 0, sizeof *a);
    a->ino = ino;
    a->nlink = 1;
    a->blksize = 4096;
    if (ino == 1) {
        a->mode = S_IFDIR | 0755;
    } else {
        a->mode = S_IFREG | 0644;
        a->size = 1 << 20;
        a->blocks = 2048;
    }
}

static void serve(int fd)
{
    static char in[1 << 21];
    uint64_t pending = 0; /* a READ not answered yet */
    uint32_t pending_size = 0;
    double pending_at = 0;
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, 100);
        if (pending && now() - pending_at >= HOLD_S) {
            static char data[4096];
            memset(data, 'x', sizeof data);
            fprintf(stderr, "server: answering the read after %d s\n", HOLD_S);
            reply(fd, pending, 0, data, pending_size < sizeof data ? pending_size : sizeof data);
            pending = 0;
        }
        if (r <= 0)
            continue;
        ssize_t n = read(fd, in, sizeof in);
        if (n < 0) {
            if (errno == ENODEV)
                return; /* unmounted */
            if (errno == EINTR || errno == ENOENT)
                continue;
            perror("fuse read");
            return;
        }
        struct fuse_in_header *h = (void *)in;
        void *arg = in + sizeof *h;
        switch (h->opcode) {
        case FUSE_INIT: {
            struct fuse_init_in *ii = arg;
            struct fuse_init_out o;
            memset(&o, 0, sizeof o);
            o.major = FUSE_KERNEL_VERSION;
            o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
            o.max_readahead = ii->max_readahead;
            o.max_write = 4096;
            o.max_background = 16;
            o.congestion_threshold = 12;
            reply(fd, h->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_LOOKUP: {
            if (strcmp((char *)arg, "f") != 0) {
                reply(fd, h->unique, -ENOENT, NULL, 0);
                break;
            }
            struct fuse_entry_out e;
            memset(&e, 0, sizeof e);
            e.nodeid = 2;
            e.generation = 1;
            e.entry_valid = e.attr_valid = 100;
            fill_attr(&e.attr, 2);
            reply(fd, h->unique, 0, &e, sizeof e);
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out a;
            memset(&a, 0, sizeof a);
            a.attr_valid = 100;
            fill_attr(&a.attr, h->nodeid);
            reply(fd, h->unique, 0, &a, sizeof a);
            break;
        }
        case FUSE_OPEN: {
            struct fuse_open_out o;
            memset(&o, 0, sizeof o);
            o.fh = 1;
            o.open_flags = FOPEN_DIRECT_IO; /* every read reaches the server */
            reply(fd, h->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_READ: {
            struct fuse_read_in *ri = arg;
            fprintf(stderr, "server: READ by tid %u (offset %llu, %u bytes): held\n", h->pid,
                    (unsigned long long)ri->offset, ri->size);
            pending = h->unique;
            pending_size = ri->size;
            pending_at = now();
            break;
        }
        case FUSE_INTERRUPT: {
            struct fuse_interrupt_in *ii = arg;
            fprintf(stderr, "server: INTERRUPT: the read ends with EINTR\n");
            if (pending && ii->unique == pending) {
                reply(fd, pending, -EINTR, NULL, 0);
                pending = 0;
            }
            break; /* no reply to INTERRUPT itself */
        }
        case FUSE_FORGET:
        case FUSE_BATCH_FORGET:
            break;
        case FUSE_FLUSH:
        case FUSE_RELEASE:
        case FUSE_RELEASEDIR:
            reply(fd, h->unique, 0, NULL, 0);
            break;
        case FUSE_OPENDIR: {
            struct fuse_open_out o;
            memset(&o, 0, sizeof o);
            reply(fd, h->unique, 0, &o, sizeof o);
            break;
        }
        default:
            reply(fd, h->unique, -ENOSYS, NULL, 0);
        }
    }
}

static void client(const char *mode)
{
    char path[sizeof MNT + 2];
    snprintf(path, sizeof path, "%s/f", MNT);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        _exit(2);
    }
    static char buf[4096];
    memset(buf, 0, sizeof buf); /* resident */
    struct aiocb cb;
    memset(&cb, 0, sizeof cb);
    cb.aio_fildes = fd;
    cb.aio_buf = buf;
    cb.aio_nbytes = sizeof buf;
    cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    if (aio_read(&cb) != 0) {
        perror("aio_read");
        _exit(2);
    }
    const struct aiocb *l[1] = { &cb };
    if (strcmp(mode, "suspend") == 0) {
        while (aio_error(&cb) == EINPROGRESS)
            aio_suspend(l, 1, NULL);
    } else {
        struct timespec ts = { 0, 1000000 };
        while (aio_error(&cb) == EINPROGRESS)
            nanosleep(&ts, NULL);
    }
    fprintf(stderr, "client: read done: error %d return %zd (not killed)\n", aio_error(&cb),
            aio_return(&cb));
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "suspend";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!mkdtemp(MNT)) {
        perror("mkdtemp");
        return 1;
    }
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("/dev/fuse");
        rmdir(MNT);
        return 77;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
    if (mount("rvf", MNT, "fuse.rvf", MS_NOSUID | MS_NODEV, opts) != 0) {
        perror("mount fuse");
        rmdir(MNT);
        return 77;
    }
    pid_t server = fork();
    if (server == 0) {
        serve(fd);
        _exit(0);
    }
    close(fd);
    pid_t c = fork();
    if (c == 0)
        client(mode);
    sleep(1);
    { /* the client's main thread: which signals it blocks now */
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", c);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "SigBlk", 6) || !strncmp(line, "State", 5))
                fprintf(stderr, "client main thread (pid %d) %s", c, line);
        if (f)
            fclose(f);
    }
    double t0 = now();
    kill(c, SIGTERM);
    int st;
    waitpid(c, &st, 0);
    double dt = now() - t0;
    printf("mode %s: client %s %d, %.2f s after SIGTERM -> %s\n", mode,
           WIFSIGNALED(st) ? "killed by signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
           dt, dt < HOLD_S / 2 ? "OK (terminated promptly)" : "DEFECT (SIGTERM held until the file system answered)");
    umount2(MNT, MNT_DETACH);
    kill(server, SIGKILL);
    waitpid(server, NULL, 0);
    rmdir(MNT);
    return dt < HOLD_S / 2 ? 0 : 1;
}
