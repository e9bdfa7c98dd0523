/* A byte stream over one socket: plain, or TLS once secured. Every call is
 * non-blocking and reports what it waits for. */
#ifndef FTP_CONN_H
#define FTP_CONN_H

#include <stddef.h>

#include <openssl/ssl.h>

typedef struct ftp_conn {
    int fd;          /* -1 when closed */
    int err;         /* errno of the last FTP_ESYS */
    SSL *ssl;        /* NULL while plain */
    int unclean_eof; /* TLS ended without the peer's close_notify */
    char tls_err[256];
} ftp_conn;

void ftp_conn_init(ftp_conn *c);
/* FTP_OK with *got > 0, FTP_WANT_READ (or WRITE, under TLS), FTP_CLOSED at
 * the end of the stream (c->err == 0) or when reset (c->err set), or an error. */
int ftp_conn_read(ftp_conn *c, void *buf, size_t n, size_t *got);
/* FTP_OK with *put > 0, FTP_WANT_WRITE (or READ, under TLS) or an error. */
int ftp_conn_write(ftp_conn *c, const void *buf, size_t n, size_t *put);
/* Takes ownership of ssl (set up for c->fd) for the handshake that follows. */
void ftp_conn_start_tls(ftp_conn *c, SSL *ssl);
int ftp_conn_handshake(ftp_conn *c);
/* Sends our close_notify, then waits for the peer's: FTP_OK once both are
 * done, FTP_WANT_READ/WRITE, or an error (a peer that just closes counts as
 * FTP_CLOSED). */
int ftp_conn_shutdown_tls(ftp_conn *c);
/* Forgets TLS and goes on in plain text (CCC). */
void ftp_conn_drop_tls(ftp_conn *c);
int ftp_conn_tls_resumed(const ftp_conn *c);
void ftp_conn_close(ftp_conn *c);

#endif
