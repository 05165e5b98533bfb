/* evserve — an epoll file server whose disk reads are POSIX AIO completions on an eventfd.
 *
 *   evserve [-v] FILE [PORT]
 *
 * Listens on 127.0.0.1:PORT (default 0: an ephemeral port) and prints the port it got as the
 * first line on stdout. Serves byte ranges of FILE to any number of concurrent TCP clients.
 *
 * Protocol. A client sends request lines, as many as it likes without waiting for answers:
 *
 *     OFFSET LENGTH\n          (two unsigned decimal numbers, one space; "\r\n" also accepted)
 *
 * The server answers every line, in order, with an 8-byte little-endian unsigned count N followed
 * by exactly N bytes: the file's bytes [OFFSET, OFFSET+LENGTH) clipped at end of file (the size
 * FILE had when the server started). A range that starts at or past end of file, or LENGTH 0,
 * answers N = 0. A malformed line, or one longer than 4095 bytes, closes the connection. When
 * the client shuts down its sending side, the server answers the lines it has and then closes.
 *
 * What it shows: one thread, one epoll set, and in it the listening socket, every client socket,
 * a signalfd (SIGINT/SIGTERM: clean exit) and ONE eventfd. Every disk read is an aio_read()
 * with sigev_notify = SIGEV_EVENTFD (rtaio.h) naming that eventfd. When the eventfd is readable
 * the loop reads it and calls aio_reap() until it returns fewer aiocbs than asked; each reaped
 * aiocb is final, so aio_return() takes its result and the bytes are queued for the socket.
 * No signal handlers, no self-pipe, no threads of our own (rtaio's I/O threads are its business),
 * and no aio_suspend() scan over all requests in flight.
 *
 * Per client: answers are cut into 64 KiB chunks; up to MAX_CHUNKS chunks are in flight or
 * waiting for the socket at once (so a client costs at most MAX_CHUNKS * 64 KiB of buffers),
 * request lines are buffered up to 4 KiB (then the server stops reading that socket until it
 * catches up), and partial writes wait for EPOLLOUT. Chunks are sent strictly in order even when
 * their reads complete out of order. If aio_read() says EAGAIN (rtaio's request limit,
 * RTAIO_MAX_REQUESTS) the chunk is submitted again after the next completions.
 *
 * -v: on exit, a summary (connections, requests, bytes, reads) on stderr. */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <rtaio.h>

#define CHUNK (64 * 1024)
#define MAX_CHUNKS 4 /* per client: reads in flight plus chunks waiting for the socket */
#define INBUF 4096   /* per client: unparsed request bytes */
#define REAP_MAX 64  /* aiocbs taken per aio_reap() call */
#define MAX_EVENTS 128

enum chunk_state { CH_FREE, CH_UNSUBMITTED, CH_INFLIGHT, CH_READY };

struct client;

struct chunk {
    struct aiocb cb;
    struct client *cl;
    unsigned char *buf;   /* CHUNK bytes, allocated on first use */
    unsigned char hdr[8]; /* the answer's length, when this chunk starts an answer */
    size_t hdr_len;       /* 0 or 8 */
    size_t data_len;      /* bytes of file data in this chunk (0: no read needed) */
    off_t offset;         /* where they come from */
    size_t sent;          /* of hdr_len + data_len */
    enum chunk_state state;
};

struct client {
    int fd;          /* -1 once closed (the struct lives on until its reads complete) */
    uint32_t events; /* current epoll interest */
    char in[INBUF];
    size_t in_len;
    int rd_eof;
    /* the request being cut into chunks */
    int cur_active, cur_hdr;
    uint64_t cur_off, cur_left, cur_total;
    struct chunk ch[MAX_CHUNKS]; /* ring, head = oldest (the next to send) */
    unsigned head, count;
    unsigned inflight; /* reads submitted and not yet reaped */
    int dirty;         /* on the dirty list */
    struct client *next, *prev, *dirty_next;
};

/* Tags for the epoll entries that are not clients. */
static int tag_listen, tag_efd, tag_sig;

static int file_fd, efd, epfd, lfd, sfd;
static uint64_t file_size;
static int verbose;
static struct client *clients;     /* every client not yet freed */
static struct client *dirty_list;  /* clients with news to act on */
static int starved;                /* some aio_read() said EAGAIN */
static int listen_paused;          /* accept() said EMFILE */
static unsigned long inflight_total;
static struct {
    unsigned long long conns, requests, bytes, reads, again, errors, peak_inflight;
} st;

static void die(const char *what)
{
    fprintf(stderr, "evserve: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void set_interest(struct client *c, uint32_t want)
{
    if (c->fd < 0 || want == c->events)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl(MOD)");
    c->events = want;
}

static void mark_dirty(struct client *c)
{
    if (!c->dirty) {
        c->dirty = 1;
        c->dirty_next = dirty_list;
        dirty_list = c;
    }
}

/* Closes the socket; the struct is freed by reap_dead() once no read of it is in flight. */
static void client_close(struct client *c, const char *why)
{
    if (c->fd < 0)
        return;
    if (why) {
        st.errors++;
        if (verbose)
            fprintf(stderr, "evserve: closing client fd %d: %s\n", c->fd, why);
    }
    close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    if (listen_paused) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &ev) < 0)
            die("epoll_ctl(MOD listen)");
        listen_paused = 0;
    }
}

static void client_free(struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    for (unsigned i = 0; i < MAX_CHUNKS; i++)
        free(c->ch[i].buf);
    free(c);
}

/* Frees the closed clients that have no read in flight. Called where no pointer to a client
 * from this loop iteration's epoll events or reaped aiocbs can still be used. */
static void reap_dead(void)
{
    struct client *c = clients, *n;
    for (; c; c = n) {
        n = c->next;
        if (c->fd < 0 && c->inflight == 0 && !c->dirty)
            client_free(c);
    }
}

/* Parses one request line into the client's current request. 1: got one, 0: no full line
 * yet, -1: protocol error. */
static int parse_line(struct client *c)
{
    char *nl = memchr(c->in, '\n', c->in_len);
    if (!nl)
        return c->in_len == INBUF ? -1 : 0;
    size_t used = (size_t)(nl - c->in) + 1;
    char *end = nl;
    if (end > c->in && end[-1] == '\r')
        end--;
    *end = '\0';

    uint64_t v[2];
    char *p = c->in;
    for (int i = 0; i < 2; i++) {
        if (i == 1) {
            if (*p != ' ')
                return -1;
            p++;
        }
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        char *e;
        unsigned long long x = strtoull(p, &e, 10);
        if (errno)
            return -1;
        v[i] = x;
        p = e;
    }
    if (p != end)
        return -1;

    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;

    uint64_t off = v[0], len = v[1], n = 0;
    if (off < file_size)
        n = len < file_size - off ? len : file_size - off;
    c->cur_active = 1;
    c->cur_hdr = 1;
    c->cur_off = off;
    c->cur_left = n;
    c->cur_total = n;
    st.requests++;
    return 1;
}

/* Submits the chunk's read. 0: submitted, 1: EAGAIN (stays CH_UNSUBMITTED), -1: error. */
static int submit_chunk(struct chunk *ch)
{
    memset(&ch->cb, 0, sizeof ch->cb);
    ch->cb.aio_fildes = file_fd;
    ch->cb.aio_buf = ch->buf;
    ch->cb.aio_nbytes = ch->data_len;
    ch->cb.aio_offset = ch->offset;
    ch->cb.aio_sigevent.sigev_notify = SIGEV_EVENTFD;
    ch->cb.aio_sigevent.sigev_signo = efd;
    ch->cb.aio_sigevent.sigev_value.sival_ptr = ch;
    if (aio_read(&ch->cb) < 0) {
        if (errno == EAGAIN) {
            st.again++;
            starved = 1;
            ch->state = CH_UNSUBMITTED;
            return 1;
        }
        fprintf(stderr, "evserve: aio_read(offset %lld, %zu bytes): %s\n", (long long)ch->offset,
                ch->data_len, strerror(errno));
        return -1;
    }
    ch->state = CH_INFLIGHT;
    ch->cl->inflight++;
    st.reads++;
    if (++inflight_total > st.peak_inflight)
        st.peak_inflight = inflight_total;
    return 0;
}

/* Turns buffered request lines into chunks and submits their reads, while the ring has room.
 * 0: fine, -1: the client must be closed. */
static int issue(struct client *c)
{
    /* A chunk whose aio_read() said EAGAIN is always the newest one: retry it first. */
    if (c->count) {
        struct chunk *last = &c->ch[(c->head + c->count - 1) % MAX_CHUNKS];
        if (last->state == CH_UNSUBMITTED) {
            int r = submit_chunk(last);
            if (r)
                return r < 0 ? -1 : 0;
        }
    }
    while (c->count < MAX_CHUNKS) {
        if (!c->cur_active) {
            int r = parse_line(c);
            if (r < 0) {
                client_close(c, "malformed request line");
                return -1;
            }
            if (r == 0)
                break;
        }
        struct chunk *ch = &c->ch[(c->head + c->count) % MAX_CHUNKS];
        c->count++;
        ch->cl = c;
        ch->sent = 0;
        ch->hdr_len = 0;
        if (c->cur_hdr) {
            for (int i = 0; i < 8; i++)
                ch->hdr[i] = (unsigned char)(c->cur_total >> (8 * i));
            ch->hdr_len = 8;
            c->cur_hdr = 0;
        }
        ch->data_len = c->cur_left < CHUNK ? (size_t)c->cur_left : CHUNK;
        ch->offset = (off_t)c->cur_off;
        c->cur_off += ch->data_len;
        c->cur_left -= ch->data_len;
        if (c->cur_left == 0)
            c->cur_active = 0;
        if (ch->data_len == 0) {
            ch->state = CH_READY;
            continue;
        }
        if (!ch->buf && !(ch->buf = malloc(CHUNK))) {
            client_close(c, "out of memory");
            return -1;
        }
        int r = submit_chunk(ch);
        if (r < 0) {
            client_close(c, "aio_read failed");
            return -1;
        }
        if (r > 0)
            break;
    }
    return 0;
}

/* Sends ready chunks in order. 1: progress made, 0: none (or socket full), -1: closed. */
static int send_ready(struct client *c)
{
    int progress = 0;
    while (c->count) {
        struct chunk *ch = &c->ch[c->head];
        if (ch->state != CH_READY)
            break;
        struct iovec iov[2];
        int n = 0;
        if (ch->sent < ch->hdr_len)
            iov[n++] = (struct iovec){ ch->hdr + ch->sent, ch->hdr_len - ch->sent };
        size_t dsent = ch->sent > ch->hdr_len ? ch->sent - ch->hdr_len : 0;
        if (dsent < ch->data_len)
            iov[n++] = (struct iovec){ ch->buf + dsent, ch->data_len - dsent };
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = n ? sendmsg(c->fd, &msg, MSG_NOSIGNAL) : 0;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            client_close(c, errno == EPIPE || errno == ECONNRESET ? NULL : "send failed");
            return -1;
        }
        size_t before = ch->sent;
        ch->sent += (size_t)w;
        size_t hdr_part = before < ch->hdr_len ? ch->hdr_len - before : 0;
        if ((size_t)w > hdr_part)
            st.bytes += (size_t)w - hdr_part;
        if (ch->sent == ch->hdr_len + ch->data_len) {
            ch->state = CH_FREE;
            c->head = (c->head + 1) % MAX_CHUNKS;
            c->count--;
            progress = 1;
        }
    }
    return progress;
}

/* Does whatever the client's state allows, then sets its epoll interest. */
static void client_progress(struct client *c)
{
    if (c->fd < 0)
        return;
    for (;;) {
        if (issue(c) < 0)
            return;
        int r = send_ready(c);
        if (r < 0)
            return;
        if (r == 0)
            break;
    }
    if (c->rd_eof && !c->cur_active && c->count == 0) {
        /* Everything answered; a partial last line is ignored. */
        client_close(c, NULL);
        return;
    }
    uint32_t want = 0;
    if (!c->rd_eof && c->in_len < INBUF)
        want |= EPOLLIN;
    if (c->count && c->ch[c->head].state == CH_READY)
        want |= EPOLLOUT; /* only left READY when the socket said EAGAIN */
    set_interest(c, want);
}

static void client_readable(struct client *c)
{
    while (c->fd >= 0 && !c->rd_eof && c->in_len < INBUF) {
        ssize_t r = read(c->fd, c->in + c->in_len, INBUF - c->in_len);
        if (r > 0) {
            c->in_len += (size_t)r;
            continue;
        }
        if (r == 0) {
            c->rd_eof = 1;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            client_close(c, errno == ECONNRESET ? NULL : "read failed");
        break;
    }
    client_progress(c);
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Stop listening until a client goes away. */
                fprintf(stderr, "evserve: accept4: %s (pausing)\n", strerror(errno));
                struct epoll_event ev = { .events = 0, .data.ptr = &tag_listen };
                if (epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &ev) < 0)
                    die("epoll_ctl(MOD listen)");
                listen_paused = 1;
                return;
            }
            die("accept4");
        }
        struct client *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            fprintf(stderr, "evserve: out of memory for a client\n");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die("epoll_ctl(ADD client)");
        c->next = clients;
        if (clients)
            clients->prev = c;
        clients = c;
        st.conns++;
    }
}

/* One reaped aiocb: its status is final. */
static void completed(struct aiocb *cb)
{
    struct chunk *ch = cb->aio_sigevent.sigev_value.sival_ptr;
    struct client *c = ch->cl;
    int err = aio_error(cb);
    ssize_t r = aio_return(cb);
    if (err < 0 || (err == 0 && r < 0)) {
        fprintf(stderr, "evserve: aio_error/aio_return on a reaped aiocb: %s\n", strerror(errno));
        exit(1);
    }
    c->inflight--;
    inflight_total--;
    ch->state = CH_READY;
    mark_dirty(c); /* also keeps a closed client alive until the dirty list is processed */
    if (c->fd < 0)
        return;
    if (err) {
        fprintf(stderr, "evserve: aio_read(offset %lld): %s\n", (long long)ch->offset, strerror(err));
        client_close(c, "read error");
    } else if ((size_t)r != ch->data_len) {
        fprintf(stderr, "evserve: aio_read(offset %lld): %zd of %zu bytes (file truncated?)\n",
                (long long)ch->offset, r, ch->data_len);
        client_close(c, "short read");
    }
}

static void eventfd_readable(void)
{
    uint64_t n;
    if (read(efd, &n, sizeof n) < 0 && errno != EAGAIN)
        die("read(eventfd)");
    struct aiocb *done[REAP_MAX];
    for (;;) {
        int k = aio_reap(efd, done, REAP_MAX);
        if (k < 0)
            die("aio_reap");
        for (int i = 0; i < k; i++)
            completed(done[i]);
        if (k < REAP_MAX)
            break;
    }
}

static void process_dirty(void)
{
    if (starved) {
        /* Completions made room under the request limit: every client may retry. */
        starved = 0;
        for (struct client *c = clients; c; c = c->next)
            mark_dirty(c);
    }
    while (dirty_list) {
        struct client *c = dirty_list;
        dirty_list = c->dirty_next;
        c->dirty = 0;
        client_progress(c);
    }
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "v")) != -1) {
        if (opt == 'v')
            verbose = 1;
        else
            goto usage;
    }
    if (argc - optind < 1 || argc - optind > 2) {
    usage:
        fprintf(stderr, "usage: evserve [-v] FILE [PORT]\n");
        return 2;
    }
    const char *path = argv[optind];
    unsigned long port = 0;
    if (argc - optind == 2) {
        char *e;
        port = strtoul(argv[optind + 1], &e, 10);
        if (*e || port > 65535)
            goto usage;
    }

    /* Block SIGINT/SIGTERM before anything starts a thread, so that every thread (rtaio's
     * included) inherits the mask and the signals reach only the signalfd. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0)
        die("sigprocmask");
    if ((sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        die("signalfd");

    if ((file_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "evserve: open %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct stat sb;
    if (fstat(file_fd, &sb) < 0)
        die("fstat");
    file_size = (uint64_t)sb.st_size;

    if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        die("eventfd");
    if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("bind");
    if (listen(lfd, SOMAXCONN) < 0)
        die("listen");
    socklen_t sl = sizeof sa;
    if (getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
        die("getsockname");
    printf("%u\n", ntohs(sa.sin_port));
    fflush(stdout);

    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    struct epoll_event ev = { .events = EPOLLIN };
    ev.data.ptr = &tag_listen;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0)
        die("epoll_ctl(ADD listen)");
    ev.data.ptr = &tag_efd;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) < 0)
        die("epoll_ctl(ADD eventfd)");
    ev.data.ptr = &tag_sig;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev) < 0)
        die("epoll_ctl(ADD signalfd)");

    int stop = 0, signo = 0;
    struct epoll_event evs[MAX_EVENTS];
    while (!stop) {
        int n = epoll_wait(epfd, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            if (p == &tag_listen) {
                accept_clients();
            } else if (p == &tag_efd) {
                eventfd_readable();
            } else if (p == &tag_sig) {
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    stop = 1;
                    signo = (int)si.ssi_signo;
                }
            } else {
                struct client *c = p;
                if (c->fd < 0)
                    continue; /* closed earlier in this batch */
                if (e & (EPOLLERR | EPOLLHUP)) {
                    /* Reset, or closed both ways: nobody left to answer. */
                    client_close(c, NULL);
                    continue;
                }
                if (e & EPOLLIN)
                    client_readable(c);
                else if (e & EPOLLOUT)
                    client_progress(c);
            }
        }
        process_dirty();
        reap_dead();
    }

    /* Clean exit: close every connection, then wait for the reads still in flight (their
     * buffers belong to rtaio until they complete). */
    close(lfd);
    for (struct client *c = clients; c; c = c->next)
        client_close(c, NULL);
    while (inflight_total) {
        struct pollfd pfd = { .fd = efd, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
            die("poll(eventfd)");
        eventfd_readable();
    }
    while (dirty_list) {
        struct client *c = dirty_list;
        dirty_list = c->dirty_next;
        c->dirty = 0;
    }
    reap_dead();
    if (verbose)
        fprintf(stderr,
                "evserve: %s: %llu connections, %llu requests, %llu bytes, %llu reads "
                "(%llu EAGAIN, peak %llu in flight), %llu errors\n",
                strsignal(signo), st.conns, st.requests, st.bytes, st.reads, st.again,
                st.peak_inflight, st.errors);
    close(efd);
    close(sfd);
    close(epfd);
    close(file_fd);
    return 0;
}
