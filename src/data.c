#include "data.h"
#include "status.h"

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

enum {
    CHUNK = 1 << 20,      /* one splice or sendfile call */
    COPY_CHUNK = 1 << 18, /* one read and write when the kernel cannot splice */
    /* Bytes one pump step moves at most, even when more is ready: the step
     * then answers FTP_MORE, so that other sessions of the same thread get
     * their turn during a long fast transfer (a few ms on loopback). */
    STEP_BUDGET = 4 << 20,
};

void ftp_data_init(ftp_data *d)
{
    memset(d, 0, sizeof *d);
    ftp_conn_init(&d->conn);
    d->listen_fd = -1;
    d->pipe_fd[0] = d->pipe_fd[1] = -1;
    d->expect = -1;
}

void ftp_data_set_rate(ftp_data *d, double rate)
{
    ftp_rate_set(&d->rate, rate, ftp_net_now());
}

size_t ftp_data_allow(ftp_data *d, size_t want)
{
    if (d->rate.rate <= 0)
        return want; /* no limit: not even a look at the clock */
    return ftp_rate_allow(&d->rate, want, ftp_net_now());
}

void ftp_data_spend(ftp_data *d, size_t n)
{
    ftp_rate_spend(&d->rate, n);
}

double ftp_data_pause(const ftp_data *d)
{
    return ftp_rate_delay(&d->rate);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void ftp_data_close(ftp_data *d)
{
    ftp_conn_close(&d->conn);
    close_fd(&d->listen_fd);
    close_fd(&d->pipe_fd[0]);
    close_fd(&d->pipe_fd[1]);
    ftp_buf_clear(&d->pending);
    free(d->recv_buf);
    d->recv_buf = NULL;
    d->recv_cap = 0;
    d->recv_full = 0;
    d->recv_pos = d->recv_left = 0;
    d->held = FTP_OK;
    ftp_z_end(&d->z);
    free(d->z_out);
    d->z_out = NULL;
}

int ftp_data_connect(ftp_data *d, const ftp_addr *dst)
{
    ftp_addr none = {.len = 0};
    ftp_data_close(d);
    d->conn.err = 0;
    return ftp_net_connect(dst, &none, FTP_DATA_RCVBUF, &d->conn.fd, &d->conn.err);
}

void ftp_data_free(ftp_data *d)
{
    ftp_data_close(d); /* frees the receive buffer too */
    ftp_buf_free(&d->pending);
}

static void set_port(ftp_addr *a, int port)
{
    if (a->sa.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)port);
}

static int bind_in_range(int fd, ftp_addr *a, int lo, int hi)
{
    if (lo <= 0) {
        set_port(a, 0);
        return bind(fd, (struct sockaddr *)&a->sa, a->len);
    }
    for (int port = lo; port <= hi; port++) {
        set_port(a, port);
        if (bind(fd, (struct sockaddr *)&a->sa, a->len) == 0)
            return 0;
        if (errno != EADDRINUSE)
            return -1;
    }
    return -1;
}

int ftp_data_listen(ftp_data *d, const ftp_addr *host, int lo, int hi,
                    ftp_addr *bound)
{
    ftp_addr a = *host;
    int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        ftp_net_set_rcvbuf(fd, FTP_DATA_RCVBUF); /* the accepted socket inherits it */
    if (fd < 0 || bind_in_range(fd, &a, lo, hi) < 0 || listen(fd, 1) < 0 ||
        ftp_net_local(fd, bound) < 0) {
        d->conn.err = errno;
        if (fd >= 0)
            close(fd);
        return FTP_ESYS;
    }
    close_fd(&d->listen_fd);
    d->listen_fd = fd;
    return FTP_OK;
}

int ftp_data_accept(ftp_data *d, const ftp_addr *server)
{
    for (;;) {
        ftp_addr from = {.len = sizeof from.sa};
        int fd = accept4(d->listen_fd, (struct sockaddr *)&from.sa, &from.len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return FTP_WANT_READ;
            d->conn.err = errno;
            return FTP_ESYS;
        }
        if (!ftp_net_same_host(&from, server)) {
            close(fd); /* a stranger on our port: not the server's data */
            continue;
        }
        close_fd(&d->listen_fd);
        d->conn.fd = fd;
        return FTP_OK;
    }
}

/* A receive buffer of at least `size` bytes. The small first one comes
 * from the allocator's heap (a 1 KiB file's transfer costs no mmap, munmap
 * and page faults: glibc maps a 256 KiB block afresh each time). The large
 * one is page-aligned: the kernel copies into whole pages, and its start
 * never shares a cache line with the allocator's bookkeeping. */
static int ensure_recv_buf(ftp_data *d, size_t size)
{
    if (d->recv_cap >= size)
        return 0;
    void *p = NULL;
    if (size <= FTP_RECV_FIRST)
        p = malloc(FTP_RECV_FIRST);
    else if (posix_memalign(&p, 4096, FTP_RECV_BUF) != 0)
        p = NULL;
    if (p == NULL)
        return -1;
    free(d->recv_buf);
    d->recv_buf = p;
    d->recv_cap = size <= FTP_RECV_FIRST ? FTP_RECV_FIRST : FTP_RECV_BUF;
    return 0;
}

/* The buffer for the next read: the small one first, the large one once a
 * read has filled the small one (more is coming than a small file holds). */
static int grow_recv_buf(ftp_data *d)
{
    return ensure_recv_buf(d, d->recv_full ? FTP_RECV_BUF : FTP_RECV_FIRST);
}

/* A wait (or a read that needs a write first) ends the gathering without
 * a failure; anything else is kept for the next call. */
static int is_wait(int st)
{
    return st == FTP_WANT_READ || st == FTP_WANT_WRITE;
}

/* TLS hands out one record (16 KiB at most) per read: gather them. */
static int gather_tls(ftp_data *d, size_t want, size_t *got)
{
    *got = 0;
    while (*got < want) {
        size_t n;
        int st = ftp_conn_read(&d->conn, d->recv_buf + *got, want - *got, &n);
        if (st == FTP_OK) {
            *got += n;
            continue;
        }
        if (*got == 0)
            return st;
        if (!is_wait(st))
            d->held = st; /* the bytes before it go out first */
        break;
    }
    return FTP_OK;
}

static int gathered_recv(ftp_data *d, size_t max, const char **block, size_t *got)
{
    *got = 0;
    if (d->held != FTP_OK) {
        int st = d->held;
        d->held = FTP_OK;
        return st;
    }
    if (grow_recv_buf(d) < 0)
        return FTP_ENOMEM;
    size_t want = max < d->recv_cap ? max : d->recv_cap;
    *block = d->recv_buf;
    int st;
    if (d->conn.ssl != NULL)
        st = gather_tls(d, want, got);
    else /* One recv takes all the socket holds, up to want: a second would
          * most often only say EAGAIN. */
        st = ftp_conn_read(&d->conn, d->recv_buf, want, got);
    if (st == FTP_OK && *got == d->recv_cap)
        d->recv_full = 1;
    return st;
}

static int counted_recv(ftp_data *d, size_t max, const char **block, size_t *got)
{
    int st = gathered_recv(d, max, block, got);
    if (st == FTP_OK)
        d->wire += (long long)*got;
    return st;
}

void ftp_data_set_mode_z(ftp_data *d, int on)
{
    d->mode_z = on;
}

void ftp_data_set_expect(ftp_data *d, long long size)
{
    d->expect = size;
}

static int z_failed(ftp_data *d, int st, const char *why)
{
    if (st == FTP_EPROTO || st == FTP_ELIMIT)
        d->z_err = why;
    return st;
}

static int start_inflate(ftp_data *d)
{
    if (d->z.kind == FTP_Z_INFLATE)
        return FTP_OK;
    if (d->z.kind != FTP_Z_NONE)
        return z_failed(d, FTP_EPROTO, "MODE Z: a data connection is read or written, not both");
    if (d->z_out == NULL && (d->z_out = malloc(FTP_Z_OUT)) == NULL)
        return FTP_ENOMEM;
    return ftp_z_start_inflate(&d->z);
}

/* The next inflated block of at most max bytes, reading at most max bytes
 * of the stream: the input of one read is inflated over as many calls as
 * its output needs, so that a bomb costs time, never memory. */
static int inflated_recv(ftp_data *d, size_t max, const char **block, size_t *got)
{
    int st = start_inflate(d);
    if (st != FTP_OK)
        return st;
    *got = 0;
    for (;;) {
        if (ftp_z_has_input(&d->z)) {
            st = ftp_z_inflate(&d->z, d->z_out, min_size(max, FTP_Z_OUT), got);
            if (st != FTP_OK)
                return z_failed(d, st, d->z.ended ? "MODE Z: data after the end of the zlib stream"
                                                  : "MODE Z: not a valid zlib stream");
            if (d->expect >= 0 && *got > 0 && d->bytes + (long long)*got > d->expect)
                return z_failed(d, FTP_ELIMIT,
                                "MODE Z: the stream inflates past the size the server announced");
            if (*got > 0) {
                *block = d->z_out;
                return FTP_OK;
            }
            if (ftp_z_has_input(&d->z)) /* no progress: zlib would spin */
                return z_failed(d, FTP_EPROTO, "MODE Z: not a valid zlib stream");
            continue; /* all taken, nothing made yet (a header): read on */
        }
        const char *in;
        size_t n;
        st = counted_recv(d, max, &in, &n);
        if (st == FTP_CLOSED && d->conn.err == 0 && !d->z.ended)
            return z_failed(d, FTP_EPROTO, "MODE Z: the zlib stream was cut short");
        if (st != FTP_OK)
            return st;
        ftp_z_feed(&d->z, in, n);
    }
}

/* Gives out up to max of the bytes read ahead. */
static int take_read_ahead(ftp_data *d, size_t max, const char **block, size_t *got)
{
    size_t n = max < d->recv_left ? max : d->recv_left;
    *block = d->recv_buf + d->recv_pos;
    *got = n;
    d->recv_pos += n;
    d->recv_left -= n;
    return FTP_OK;
}

size_t ftp_data_read_ahead(const ftp_data *d)
{
    return d->recv_left;
}

/* One recv per 64 KiB chunk cost a 1 GiB download into a Lua function 0.40 s
 * here; one recv of up to 256 KiB feeding four chunks, 0.27 s (fewer system
 * calls, and the socket's backlog is processed a quarter as often). The
 * chunks stay small: a Lua string per chunk, garbage until the collector runs. */
int ftp_data_recv_chunk(ftp_data *d, size_t n, size_t wire_max, const char **block,
                        size_t *got)
{
    if (d->recv_left == 0 && !d->mode_z && wire_max > n) {
        if (wire_max > FTP_RECV_BUF)
            wire_max = FTP_RECV_BUF;
        int st = counted_recv(d, wire_max, block, got);
        if (st != FTP_OK)
            return st;
        d->recv_pos = (size_t)(*block - d->recv_buf);
        d->recv_left = *got;
    }
    return ftp_data_recv(d, n < wire_max ? n : wire_max, block, got);
}

int ftp_data_recv(ftp_data *d, size_t max, const char **block, size_t *got)
{
    if (d->recv_left > 0)
        return take_read_ahead(d, max, block, got);
    if (d->mode_z)
        return inflated_recv(d, max, block, got);
    return counted_recv(d, max, block, got);
}

static int local_error(ftp_data *d)
{
    d->local_err = errno ? errno : EIO;
    return FTP_EIO;
}

static int open_pipe(ftp_data *d)
{
    if (d->pipe_fd[0] >= 0)
        return 0;
    if (pipe2(d->pipe_fd, O_CLOEXEC | O_NONBLOCK) < 0)
        return -1;
    /* A bigger pipe means fewer splice calls; the default size still works. */
    fcntl(d->pipe_fd[1], F_SETPIPE_SZ, CHUNK);
    return 0;
}

/* Moves everything in the pipe to the file (regular files do not block). */
static int drain_pipe(ftp_data *d, int file_fd, size_t in_pipe, size_t *moved)
{
    while (in_pipe > 0) {
        ssize_t n = splice(d->pipe_fd[0], NULL, file_fd, NULL, in_pipe,
                           SPLICE_F_MOVE);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return local_error(d);
        }
        in_pipe -= (size_t)n;
        *moved += (size_t)n;
        d->bytes += n;
    }
    return FTP_OK;
}

/* The pumps below move at most `share` bytes a step: STEP_BUDGET, or what
 * the rate limit allows. */
static int splice_to_file(ftp_data *d, int file_fd, size_t share, size_t *moved)
{
    for (;;) {
        ssize_t n = splice(d->conn.fd, NULL, d->pipe_fd[1], NULL,
                           min_size(CHUNK, share - *moved),
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0)
            return FTP_OK;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return FTP_WANT_READ;
            if (errno == EINVAL && *moved == 0 && d->bytes == 0) {
                d->no_splice = 1; /* e.g. a file opened for appending */
                return FTP_WANT_READ;
            }
            d->conn.err = errno;
            return FTP_ESYS;
        }
        d->wire += n;
        int st = drain_pipe(d, file_fd, (size_t)n, moved);
        if (st != FTP_OK)
            return st;
        if (*moved >= share)
            return FTP_MORE;
    }
}

/* What a step has used of its share: the file's bytes, or the wire's when
 * more (MODE Z: the rate limit counts the wire, see ftp_data_set_rate). */
static size_t share_used(const ftp_data *d, long long wire0, size_t moved)
{
    size_t wire = (size_t)(d->wire - wire0);
    return wire > moved ? wire : moved;
}

static int copy_to_file(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    long long wire0 = d->wire;
    for (;;) {
        const char *block;
        size_t got;
        size_t left = share - share_used(d, wire0, *moved);
        int st = ftp_data_recv(d, min_size(FTP_RECV_BUF, left), &block, &got);
        if (st == FTP_CLOSED && d->conn.err == 0)
            return FTP_OK; /* the end of the data */
        if (st != FTP_OK)
            return st;
        if (fwrite(block, 1, got, f) != got)
            return local_error(d);
        *moved += got;
        d->bytes += (long long)got;
        if (share_used(d, wire0, *moved) >= share)
            return FTP_MORE;
    }
}

/* splice and sendfile move the socket's bytes as they are: not for TLS,
 * not for MODE Z. */
static int may_splice(const ftp_data *d)
{
    return !d->no_splice && d->conn.ssl == NULL && !d->mode_z;
}

static int to_file(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    if (may_splice(d)) {
        if (fflush(f) != 0)
            return local_error(d);
        if (open_pipe(d) < 0)
            d->no_splice = 1;
        else {
            int st = splice_to_file(d, fileno(f), share, moved);
            if (!d->no_splice)
                return st;
        }
    }
    return copy_to_file(d, f, share, moved);
}

/* One pump step of at most its share (STEP_BUDGET, or what the rate limit
 * allows: none is FTP_PAUSE), counted against the limit. */
static int rated_step(ftp_data *d, FILE *f, size_t *moved,
                      int (*pump)(ftp_data *, FILE *, size_t, size_t *))
{
    *moved = 0;
    size_t share = ftp_data_allow(d, STEP_BUDGET);
    if (share == 0)
        return FTP_PAUSE;
    long long wire0 = d->wire;
    int st = pump(d, f, share, moved);
    ftp_data_spend(d, (size_t)(d->wire - wire0));
    return st;
}

int ftp_data_to_file(ftp_data *d, FILE *f, size_t *moved)
{
    return rated_step(d, f, moved, to_file);
}

int ftp_data_flush(ftp_data *d)
{
    while (ftp_buf_size(&d->pending) > 0) {
        size_t put;
        int st = ftp_conn_write(&d->conn, ftp_buf_head(&d->pending),
                                ftp_buf_size(&d->pending), &put);
        if (st != FTP_OK)
            return st;
        ftp_buf_take(&d->pending, put);
        d->wire += (long long)put;
        if (!d->mode_z) /* else counted as they went into the compressor */
            d->bytes += (long long)put;
    }
    return FTP_OK;
}

/* sendfile from the FILE's logical position, which is then moved past what
 * was sent so that Lua sees the file where the transfer left it. */
static int sendfile_from(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    off_t pos = ftello(f);
    if (pos < 0) {
        d->no_splice = 1;
        return FTP_WANT_WRITE;
    }
    int st = FTP_OK;
    for (;;) {
        ssize_t n = sendfile(d->conn.fd, fileno(f), &pos, min_size(CHUNK, share - *moved));
        if (n > 0) {
            *moved += (size_t)n;
            d->bytes += n;
            d->wire += n;
            if (*moved < share)
                continue;
            st = FTP_MORE;
            break;
        }
        if (n == 0)
            break;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            st = FTP_WANT_WRITE;
        } else if (errno == EINVAL && *moved == 0 && d->bytes == 0) {
            d->no_splice = 1; /* not a regular file: copy instead */
            st = FTP_WANT_WRITE;
        } else {
            d->conn.err = errno;
            st = (errno == EPIPE || errno == ECONNRESET) ? FTP_CLOSED : FTP_ESYS;
        }
        break;
    }
    if (fseeko(f, pos, SEEK_SET) != 0)
        return local_error(d);
    return st;
}

static int copy_from_file(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    for (;;) {
        int st = ftp_data_flush(d);
        if (st != FTP_OK)
            return st;
        if (ftp_buf_reserve(&d->pending, COPY_CHUNK) < 0)
            return FTP_ENOMEM;
        size_t got = fread(d->pending.data + d->pending.len, 1,
                           min_size(COPY_CHUNK, share - *moved), f);
        if (got == 0)
            return ferror(f) ? local_error(d) : FTP_OK;
        d->pending.len += got;
        *moved += got;
        if (*moved >= share)
            return FTP_MORE; /* the next step sends it first */
    }
}

static int start_deflate(ftp_data *d)
{
    if (d->z.kind == FTP_Z_DEFLATE)
        return FTP_OK;
    if (d->z.kind != FTP_Z_NONE)
        return z_failed(d, FTP_EPROTO, "MODE Z: a data connection is read or written, not both");
    return ftp_z_start_deflate(&d->z, Z_DEFAULT_COMPRESSION);
}

/* MODE Z: the file through the compressor into d->pending, its end (the
 * end of the file) ending the zlib stream. The file's bytes are read into
 * the receive buffer, unused by an upload. */
static int deflate_from_file(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    int st = start_deflate(d);
    if (st == FTP_OK && ensure_recv_buf(d, FTP_RECV_BUF) < 0)
        st = FTP_ENOMEM;
    long long wire0 = d->wire;
    while (st == FTP_OK) {
        if ((st = ftp_data_flush(d)) != FTP_OK || d->z.ended)
            break;
        size_t used = share_used(d, wire0, *moved);
        if (used >= share)
            return FTP_MORE;
        size_t got = fread(d->recv_buf, 1, min_size(FTP_RECV_BUF, share - used), f);
        if (got == 0 && ferror(f))
            return local_error(d);
        st = ftp_z_deflate(&d->z, d->recv_buf, got, got == 0, &d->pending);
        *moved += got;
        d->bytes += (long long)got;
    }
    return st;
}

static int from_file(ftp_data *d, FILE *f, size_t share, size_t *moved)
{
    if (d->mode_z)
        return deflate_from_file(d, f, share, moved);
    if (may_splice(d)) {
        int st = sendfile_from(d, f, share, moved);
        if (!d->no_splice)
            return st;
    }
    return copy_from_file(d, f, share, moved);
}

int ftp_data_from_file(ftp_data *d, FILE *f, size_t *moved)
{
    return rated_step(d, f, moved, from_file);
}

int ftp_data_send(ftp_data *d, const char *s, size_t n, size_t *put)
{
    *put = 0;
    if (!d->mode_z) {
        int st = ftp_conn_write(&d->conn, s, n, put);
        if (st == FTP_OK) {
            d->bytes += (long long)*put;
            d->wire += (long long)*put;
        }
        return st;
    }
    int st = start_deflate(d);
    if (st == FTP_OK)
        st = ftp_data_flush(d); /* what the last call compressed goes first */
    if (st != FTP_OK)
        return st;
    size_t take = min_size(n, COPY_CHUNK);
    if ((st = ftp_z_deflate(&d->z, s, take, 0, &d->pending)) != FTP_OK)
        return st;
    *put = take;
    d->bytes += (long long)take;
    st = ftp_data_flush(d);
    return is_wait(st) ? FTP_OK : st; /* taken: the rest goes out next time */
}

int ftp_data_finish(ftp_data *d, int upload)
{
    if (d->mode_z && upload && d->z.kind == FTP_Z_NONE) {
        int st = start_deflate(d); /* an empty upload is an empty stream */
        if (st != FTP_OK)
            return st;
    }
    if (d->mode_z && d->z.kind == FTP_Z_DEFLATE && !d->z.ended) {
        int st = ftp_z_deflate(&d->z, NULL, 0, 1, &d->pending);
        if (st != FTP_OK)
            return st;
    }
    return ftp_data_flush(d);
}
