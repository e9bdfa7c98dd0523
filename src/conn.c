#include "conn.h"
#include "status.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

void ftp_conn_init(ftp_conn *c)
{
    c->fd = -1;
    c->err = 0;
}

static int would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

int ftp_conn_read(ftp_conn *c, void *buf, size_t n, size_t *got)
{
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r > 0) {
            *got = (size_t)r;
            return FTP_OK;
        }
        if (r == 0)
            return FTP_CLOSED;
        if (errno == EINTR)
            continue;
        if (would_block(errno))
            return FTP_WANT_READ;
        c->err = errno;
        return errno == ECONNRESET ? FTP_CLOSED : FTP_ESYS;
    }
}

int ftp_conn_write(ftp_conn *c, const void *buf, size_t n, size_t *put)
{
    for (;;) {
        /* MSG_NOSIGNAL: a closed peer is an error return, not a SIGPIPE that
         * would kill the host program. */
        ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0) {
            *put = (size_t)r;
            return FTP_OK;
        }
        if (errno == EINTR)
            continue;
        if (would_block(errno))
            return FTP_WANT_WRITE;
        c->err = errno;
        return (errno == EPIPE || errno == ECONNRESET) ? FTP_CLOSED : FTP_ESYS;
    }
}

void ftp_conn_close(ftp_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
