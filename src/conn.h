/* A byte stream over one socket: plain now, TLS when a session is secured.
 * Every call is non-blocking and reports what it waits for. */
#ifndef FTP_CONN_H
#define FTP_CONN_H

#include <stddef.h>

typedef struct ftp_conn {
    int fd;  /* -1 when closed */
    int err; /* errno of the last FTP_ESYS */
} ftp_conn;

void ftp_conn_init(ftp_conn *c);
/* FTP_OK with *got > 0, FTP_WANT_READ, FTP_CLOSED (end of stream) or an error. */
int ftp_conn_read(ftp_conn *c, void *buf, size_t n, size_t *got);
/* FTP_OK with *put > 0, FTP_WANT_WRITE or an error. */
int ftp_conn_write(ftp_conn *c, const void *buf, size_t n, size_t *put);
void ftp_conn_close(ftp_conn *c);

#endif
