#include "conn.h"
#include "status.h"
#include "tls.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

void ftp_conn_init(ftp_conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static int would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

static int plain_read(ftp_conn *c, void *buf, size_t n, size_t *got)
{
    for (;;) {
        ssize_t r = recv(c->fd, buf, n, 0);
        if (r > 0) {
            *got = (size_t)r;
            return FTP_OK;
        }
        if (r == 0) {
            c->err = 0;
            return FTP_CLOSED;
        }
        if (errno == EINTR)
            continue;
        if (would_block(errno))
            return FTP_WANT_READ;
        c->err = errno;
        return errno == ECONNRESET ? FTP_CLOSED : FTP_ESYS;
    }
}

static int plain_write(ftp_conn *c, const void *buf, size_t n, size_t *put)
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

/* What an SSL call's failure means for us. */
static int tls_status(ftp_conn *c, int ret)
{
    int e = SSL_get_error(c->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ: return FTP_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return FTP_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        c->err = 0;
        return FTP_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || ERR_peek_error() == 0) {
            c->unclean_eof = errno == 0;
            c->err = errno;
            ERR_clear_error();
            return FTP_CLOSED;
        }
        break;
    case SSL_ERROR_SSL:
        if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            c->unclean_eof = 1;
            ERR_clear_error();
            return FTP_CLOSED;
        }
        break;
    }
    ftp_tls_error_text(c->ssl, ret, c->tls_err, sizeof c->tls_err);
    return FTP_ETLS;
}

int ftp_conn_read(ftp_conn *c, void *buf, size_t n, size_t *got)
{
    if (c->ssl == NULL)
        return plain_read(c, buf, n, got);
    errno = 0;
    int r = SSL_read_ex(c->ssl, buf, n, got);
    return r == 1 ? FTP_OK : tls_status(c, r);
}

int ftp_conn_write(ftp_conn *c, const void *buf, size_t n, size_t *put)
{
    if (c->ssl == NULL)
        return plain_write(c, buf, n, put);
    errno = 0;
    int r = SSL_write_ex(c->ssl, buf, n, put);
    return r == 1 ? FTP_OK : tls_status(c, r);
}

void ftp_conn_start_tls(ftp_conn *c, SSL *ssl)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = ssl;
    c->unclean_eof = 0;
}

int ftp_conn_handshake(ftp_conn *c)
{
    errno = 0;
    int r = SSL_do_handshake(c->ssl);
    if (r == 1)
        return FTP_OK;
    int st = tls_status(c, r);
    if (st == FTP_CLOSED) {
        strcpy(c->tls_err, "connection closed during the TLS handshake");
        return FTP_ETLS;
    }
    return st;
}

int ftp_conn_shutdown_tls(ftp_conn *c)
{
    errno = 0;
    int r = SSL_shutdown(c->ssl);
    if (r == 1)
        return FTP_OK;
    if (r == 0)
        return FTP_WANT_READ; /* ours is sent; the peer's is still to come */
    return tls_status(c, r);
}

void ftp_conn_drop_tls(ftp_conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    c->ssl = NULL;
}

int ftp_conn_tls_resumed(const ftp_conn *c)
{
    return c->ssl != NULL && SSL_session_reused(c->ssl);
}

void ftp_conn_close(ftp_conn *c)
{
    ftp_conn_drop_tls(c);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->unclean_eof = 0;
}
