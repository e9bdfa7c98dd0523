/* The control connection: commands out, replies in, both non-blocking. */
#ifndef FTP_SESSION_H
#define FTP_SESSION_H

#include "buf.h"
#include "conn.h"
#include "net.h"
#include "reply.h"

typedef struct ftp_session {
    ftp_conn conn;
    ftp_buf in;  /* received bytes not yet returned as replies */
    ftp_buf out; /* command bytes not yet sent */
    ftp_scanner scan;
    ftp_limits lim;
    ftp_addr peer;
    ftp_addr local;
} ftp_session;

void ftp_session_init(ftp_session *s);
/* Adopts a connected socket and forgets anything of an earlier connection. */
void ftp_session_attach(ftp_session *s, int fd);
/* Reads both ends' addresses once the connection is up. */
void ftp_session_learn_addresses(ftp_session *s);
/* Queues "line CRLF". The caller has checked the line. 0 or -1 (memory). */
int ftp_session_queue(ftp_session *s, const char *line, size_t len);
/* Sends queued bytes: FTP_OK once all are sent, FTP_WANT_WRITE, or an error. */
int ftp_session_flush(ftp_session *s);
/* Returns FTP_OK with the next reply at *text (valid until the next call),
 * FTP_WANT_READ, or an error. Call ftp_session_take_reply after use. */
int ftp_session_reply(ftp_session *s, int *code, const char **text, size_t *len);
void ftp_session_take_reply(ftp_session *s, size_t len);
void ftp_session_close(ftp_session *s);
void ftp_session_free(ftp_session *s);

#endif
