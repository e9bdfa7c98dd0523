/* TLS with OpenSSL: one context per FTP_TLS object (no process-wide state),
 * certificate and host checks, and the session that data connections resume. */
#ifndef FTP_TLS_H
#define FTP_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

typedef struct ftp_tls_opts {
    const char *cafile, *capath;
    const char *certfile, *keyfile;
    const char *ciphers;       /* TLS 1.2 and older */
    const char *ciphersuites;  /* TLS 1.3 */
    int verify;
    int min_version, max_version; /* TLS1_2_VERSION ..., 0 for the default */
} ftp_tls_opts;

enum { FTP_TLS_SESSIONS = 4 };

/* Sessions for data connections to resume. Servers that require reuse
 * (vsftpd, proftpd) refuse a data connection that does not resume. Under
 * TLS 1.3 tickets arrive after the handshake and a server with a session
 * cache accepts each only once, so every connection takes an unused one,
 * newest first, and the tickets it brings in are kept for the next. Under
 * TLS 1.2 one session serves again and again: when no unused one is left,
 * the last one taken is offered again. */
typedef struct ftp_tls_ctx {
    SSL_CTX *ctx;
    SSL_SESSION *unused[FTP_TLS_SESSIONS]; /* oldest first */
    int n_unused;
    SSL_SESSION *last_taken;
} ftp_tls_ctx;

/* 0, or -1 with a message in err. */
int ftp_tls_ctx_init(ftp_tls_ctx *t, const ftp_tls_opts *o, char *err, size_t errlen);
void ftp_tls_ctx_free(ftp_tls_ctx *t);

/* A client SSL for fd, checking host (a name or an IP literal) unless
 * verification is off. For a data connection (is_data), it resumes a kept
 * session and reads ahead: each read from the socket takes whatever records
 * have arrived, up to FTP_TLS_READ_AHEAD bytes, instead of one record's
 * header and then its body. (Not for the control connection: after CCC its
 * plain text must stay on the socket.) NULL with a message in err. */
SSL *ftp_tls_new(ftp_tls_ctx *t, int fd, const char *host, int is_data,
                 char *err, size_t errlen);
/* 64 KiB cost the least client CPU of the sizes measured (1 GiB over TLS
 * 1.3 from vsftpd on loopback, medians of 8-10 pairs, issue 16): 32 KiB,
 * 128 KiB, 256 KiB and no read-ahead each took 5-10% more; the wall time
 * did not tell them apart. Larger is not cheaper, one reason being that
 * OpenSSL 3.0 moves the unread rest of its buffer to the front at each new
 * record: the more it holds, the more it copies. */
#define FTP_TLS_READ_AHEAD (64 * 1024)

/* OpenSSL's reason for the last failure of ssl (verification included). */
void ftp_tls_error_text(SSL *ssl, int ret, char *err, size_t errlen);

#endif
