/* evclient — load and verification client for evserve.
 *
 *   evclient PORT FILE CLIENTS REQUESTS SEED
 *
 * Starts CLIENTS threads, each with its own connection to 127.0.0.1:PORT. Each sends REQUESTS
 * request lines "OFFSET LENGTH\n" (evserve.c describes the protocol), keeping a per-client
 * window of 1 to 8 requests in flight (pipelined, several lines per send, sometimes a line split
 * across two sends). The ranges are random (from SEED and the client's number): small and
 * medium ranges anywhere, ranges aligned to evserve's 64 KiB chunks, large ranges up to 1 MiB,
 * ranges crossing end of file (some with LENGTH 2^64-1), ranges entirely past end of file and
 * zero-length ranges. Every answer's length is checked against the clipped range and EVERY byte
 * against FILE read directly with pread(). After the last answer the client shuts down its
 * sending side and expects end of stream with no extra bytes.
 *
 * Prints totals. Exit status 0 only if every answer arrived and every byte matched; 1 if not;
 * 2 on bad usage. A silent server fails a client after 30 s (SO_RCVTIMEO). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define WINDOW_MAX 8
#define BUF (64 * 1024)
#define TIMEOUT_S 30

static int file_fd;
static uint64_t file_size;
static uint16_t port;
static unsigned long nrequests;
static uint64_t seed;

struct range {
    uint64_t off, len;
};

struct client {
    pthread_t tid;
    unsigned id;
    int ok;
    unsigned long answers;
    uint64_t bytes;
    char err[256];
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n) /* uniform-ish in [0, n), 0 if n == 0 */
{
    return n ? splitmix(s) % n : 0;
}

static struct range pick(uint64_t *s)
{
    uint64_t S = file_size;
    struct range r;
    unsigned k = (unsigned)below(s, 100);
    if (k < 8) { /* zero length, anywhere (also past EOF) */
        r.off = below(s, S + 100);
        r.len = 0;
    } else if (k < 16 && S) { /* crossing EOF */
        uint64_t back = 1 + below(s, S < 200000 ? S : 200000);
        r.off = S - back;
        r.len = back + 1 + below(s, 100000);
    } else if (k < 19 && S) { /* crossing EOF, largest possible LENGTH */
        r.off = S - 1 - below(s, S < 100000 ? S : 100000);
        r.len = UINT64_MAX;
    } else if (k < 25) { /* entirely past EOF */
        r.off = S + below(s, 100000);
        r.len = below(s, 100000);
    } else if (k < 35) { /* large: up to 1 MiB */
        r.off = below(s, S);
        r.len = 512 * 1024 + below(s, 512 * 1024 + 1);
    } else if (k < 45) { /* on 64 KiB boundaries, give or take one byte */
        r.off = below(s, S / 65536 + 1) * 65536;
        r.len = (1 + below(s, 4)) * 65536;
        unsigned j = (unsigned)below(s, 3);
        if (j == 1 && r.off)
            r.off--;
        else if (j == 2)
            r.len++;
    } else if (k < 70) { /* tiny */
        r.off = below(s, S);
        r.len = 1 + below(s, 64);
    } else { /* medium */
        r.off = below(s, S);
        r.len = 1 + below(s, 160 * 1024);
    }
    return r;
}

static uint64_t clipped(struct range r)
{
    if (r.off >= file_size)
        return 0;
    return r.len < file_size - r.off ? r.len : file_size - r.off;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* 0: got n bytes; -1: error (errno), 1: end of stream first. */
static int recv_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return 1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

#define FAIL(...)                                                 \
    do {                                                          \
        snprintf(c->err, sizeof c->err, __VA_ARGS__);             \
        goto out;                                                 \
    } while (0)

static void *run(void *arg)
{
    struct client *c = arg;
    uint64_t s = seed ^ (0xd1b54a32d192ed03ULL * (c->id + 1));
    unsigned char *got = malloc(BUF), *want = malloc(BUF);
    int fd = -1;
    if (!got || !want)
        FAIL("out of memory");

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        FAIL("socket: %s", strerror(errno));
    struct timeval tv = { .tv_sec = TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        FAIL("connect: %s", strerror(errno));

    unsigned window = 1 + (unsigned)below(&s, WINDOW_MAX);
    struct range q[WINDOW_MAX];
    unsigned qhead = 0, qlen = 0;
    unsigned long sent = 0;
    while (c->answers < nrequests) {
        char lines[WINDOW_MAX * 48];
        size_t L = 0;
        while (sent < nrequests && qlen < window) {
            struct range r = pick(&s);
            q[(qhead + qlen++) % WINDOW_MAX] = r;
            L += (size_t)snprintf(lines + L, sizeof lines - L, "%" PRIu64 " %" PRIu64 "\n", r.off,
                                  r.len);
            sent++;
        }
        if (L) {
            size_t cut = below(&s, 10) == 0 ? (size_t)below(&s, L) : 0; /* split a line */
            if ((cut && send_all(fd, lines, cut) < 0) || send_all(fd, lines + cut, L - cut) < 0)
                FAIL("send: %s", strerror(errno));
        }

        struct range r = q[qhead];
        qhead = (qhead + 1) % WINDOW_MAX;
        qlen--;
        unsigned char h[8];
        int e = recv_all(fd, h, 8);
        if (e)
            FAIL("answer %lu (offset %" PRIu64 " length %" PRIu64 "): %s", c->answers, r.off, r.len,
                 e > 0 ? "connection closed before the header"
                       : errno == EAGAIN ? "timed out" : strerror(errno));
        uint64_t n = 0;
        for (int i = 0; i < 8; i++)
            n |= (uint64_t)h[i] << (8 * i);
        if (n != clipped(r))
            FAIL("answer %lu (offset %" PRIu64 " length %" PRIu64 "): header says %" PRIu64
                 " bytes, expected %" PRIu64,
                 c->answers, r.off, r.len, n, clipped(r));
        uint64_t pos = r.off;
        while (n) {
            size_t k = n < BUF ? (size_t)n : BUF;
            e = recv_all(fd, got, k);
            if (e)
                FAIL("answer %lu (offset %" PRIu64 " length %" PRIu64 ") at byte %" PRIu64 ": %s",
                     c->answers, r.off, r.len, pos - r.off,
                     e > 0 ? "connection closed early" : errno == EAGAIN ? "timed out" : strerror(errno));
            ssize_t pr = pread(file_fd, want, k, (off_t)pos);
            if (pr != (ssize_t)k)
                FAIL("pread(offset %" PRIu64 "): %s", pos, pr < 0 ? strerror(errno) : "short read");
            if (memcmp(got, want, k) != 0) {
                size_t i = 0;
                while (got[i] == want[i])
                    i++;
                FAIL("answer %lu (offset %" PRIu64 " length %" PRIu64 "): wrong byte at file "
                     "offset %" PRIu64 ": got 0x%02x, file has 0x%02x",
                     c->answers, r.off, r.len, pos + i, got[i], want[i]);
            }
            pos += k;
            n -= k;
            c->bytes += k;
        }
        c->answers++;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        FAIL("shutdown: %s", strerror(errno));
    ssize_t extra = recv(fd, got, BUF, 0);
    if (extra != 0)
        FAIL("after the last answer: %s", extra > 0 ? "extra bytes" : strerror(errno));
    c->ok = 1;
out:
    if (fd >= 0)
        close(fd);
    free(got);
    free(want);
    return NULL;
}

static int parse_ul(const char *s, unsigned long long max, unsigned long long *v)
{
    char *e;
    errno = 0;
    *v = strtoull(s, &e, 10);
    return *s && !*e && !errno && *v <= max ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned long long p, nc, nr, sd;
    if (argc != 6 || parse_ul(argv[1], 65535, &p) || p == 0 || parse_ul(argv[3], 10000, &nc) ||
        nc == 0 || parse_ul(argv[4], ULONG_MAX, &nr) || parse_ul(argv[5], UINT64_MAX, &sd)) {
        fprintf(stderr, "usage: evclient PORT FILE CLIENTS REQUESTS SEED\n"
                        "       (CLIENTS 1..10000)\n");
        return 2;
    }
    port = (uint16_t)p;
    nrequests = (unsigned long)nr;
    seed = sd;
    if ((file_fd = open(argv[2], O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "evclient: open %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    struct stat sb;
    if (fstat(file_fd, &sb) < 0) {
        fprintf(stderr, "evclient: fstat: %s\n", strerror(errno));
        return 1;
    }
    file_size = (uint64_t)sb.st_size;

    struct client *cl = calloc(nc, sizeof *cl);
    if (!cl) {
        fprintf(stderr, "evclient: out of memory\n");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    unsigned long started = 0;
    for (unsigned i = 0; i < nc; i++) {
        cl[i].id = i;
        int e = pthread_create(&cl[i].tid, &at, run, &cl[i]);
        if (e) {
            fprintf(stderr, "evclient: pthread_create: %s\n", strerror(e));
            break;
        }
        started++;
    }
    unsigned long failed = nc - started, answers = 0;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(cl[i].tid, NULL);
        answers += cl[i].answers;
        bytes += cl[i].bytes;
        if (!cl[i].ok) {
            failed++;
            fprintf(stderr, "evclient: client %u: %s\n", i, cl[i].err);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("evclient: %llu clients, %lu of %llu answers, %" PRIu64 " bytes verified, %.2f s "
           "(%.1f MiB/s), %lu clients failed\n",
           nc, answers, nc * nr, bytes, secs, (double)bytes / 1048576.0 / (secs > 0 ? secs : 1), failed);
    free(cl);
    close(file_fd);
    return failed || answers != nc * nr ? 1 : 0;
}
