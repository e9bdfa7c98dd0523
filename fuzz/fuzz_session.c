/* The control connection's reply reader (src/session.c over src/buf.c): server
 * bytes written in pieces to a socket pair and read back with
 * ftp_session_reply / ftp_session_take_reply, as the Lua binding does. This
 * covers what the scanner target does not: the receive buffer growing,
 * compacting and handing out replies. Differential property: the same replies,
 * byte for byte, as the whole stream scanned at once (stream.h), and the
 * matching end: more needed = closed by the peer, malformed = FTP_EPROTO, over
 * a limit = FTP_ELIMIT. Leaks are caught by LeakSanitizer. */
#include "check.h"
#include "session.h"
#include "status.h"
#include "stream.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_STREAM = 64 * 1024 }; /* stays within the socket buffer */

typedef struct reader {
    ftp_session s;
    const split_input *in;
    const outcome *want;
    size_t replies; /* replies returned so far */
    size_t off;     /* where the next one starts in the stream */
} reader;

/* Takes every reply the bytes received so far hold. Returns the status that
 * stopped it (FTP_WANT_READ: wait for the next piece). */
static int read_replies(reader *r)
{
    for (;;) {
        int code;
        const char *text;
        size_t len;
        int st = ftp_session_reply(&r->s, &code, &text, &len);
        if (st != FTP_OK)
            return st;
        CHECK(r->replies < r->want->n);
        CHECK(code == r->want->codes[r->replies]);
        CHECK(len == r->want->lens[r->replies]);
        CHECK(memcmp(text, r->in->stream + r->off, len) == 0);
        r->off += len;
        r->replies++;
        ftp_session_take_reply(&r->s, len);
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        CHECK(put > 0);
        p += put;
        n -= (size_t)put;
    }
}

/* The session's end status the reference outcome calls for. */
static int expected_end(int scan_end)
{
    switch (scan_end) {
    case FTP_SCAN_PROTO: return FTP_EPROTO;
    case FTP_SCAN_LIMIT: return FTP_ELIMIT;
    default: return FTP_CLOSED; /* the stream ended without a full reply */
    }
}

static int feed(reader *r, int server_fd)
{
    size_t start = 0;
    for (size_t p = 0; p < r->in->npieces; p++) {
        size_t end = r->in->piece_end[p];
        write_all(server_fd, r->in->stream + start, end - start);
        start = end;
        int st = read_replies(r);
        if (st != FTP_WANT_READ)
            return st;
    }
    shutdown(server_fd, SHUT_WR);
    return read_replies(r);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    split_input in;
    if (split_input_read(data, size, &in) < 0 || in.len > MAX_STREAM)
        return 0;
    outcome want;
    outcome_init(&want, in.len);
    scan_whole(&in, &want);

    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    CHECK(fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0);
    reader r = {.in = &in, .want = &want};
    ftp_session_init(&r.s);
    r.s.lim = in.lim;
    ftp_session_attach(&r.s, fds[0]);

    int end = feed(&r, fds[1]);
    CHECK(end == expected_end(want.end));
    CHECK(r.replies == want.n);

    ftp_session_free(&r.s); /* closes fds[0] */
    close(fds[1]);
    outcome_free(&want);
    return 0;
}
