#include "session.h"
#include "status.h"

#include <string.h>

enum { READ_CHUNK = 4096 };

void ftp_session_init(ftp_session *s)
{
    memset(s, 0, sizeof *s);
    ftp_conn_init(&s->conn);
    s->lim.maxline = 8192;
    s->lim.maxreply = 1 << 20;
}

void ftp_session_attach(ftp_session *s, int fd)
{
    ftp_session_close(s);
    s->conn.fd = fd;
}

void ftp_session_learn_addresses(ftp_session *s)
{
    ftp_net_peer(s->conn.fd, &s->peer);
    ftp_net_local(s->conn.fd, &s->local);
}

int ftp_session_queue(ftp_session *s, const char *line, size_t len)
{
    if (ftp_buf_append(&s->out, line, len) < 0)
        return -1;
    return ftp_buf_append(&s->out, "\r\n", 2);
}

int ftp_session_flush(ftp_session *s)
{
    while (ftp_buf_size(&s->out) > 0) {
        size_t put;
        int st = ftp_conn_write(&s->conn, ftp_buf_head(&s->out),
                                ftp_buf_size(&s->out), &put);
        if (st != FTP_OK)
            return st;
        ftp_buf_take(&s->out, put);
    }
    return FTP_OK;
}

static int scan(ftp_session *s, int *code, size_t *len)
{
    switch (ftp_reply_scan(&s->scan, ftp_buf_head(&s->in),
                           ftp_buf_size(&s->in), &s->lim, code, len)) {
    case FTP_SCAN_DONE: return FTP_OK;
    case FTP_SCAN_PROTO: return FTP_EPROTO;
    case FTP_SCAN_LIMIT: return FTP_ELIMIT;
    default: return FTP_WANT_READ;
    }
}

int ftp_session_reply(ftp_session *s, int *code, const char **text, size_t *len)
{
    for (;;) {
        int st = scan(s, code, len);
        if (st == FTP_OK)
            *text = ftp_buf_head(&s->in);
        if (st != FTP_WANT_READ)
            return st;
        if (ftp_buf_reserve(&s->in, READ_CHUNK) < 0)
            return FTP_ENOMEM;
        size_t got;
        st = ftp_conn_read(&s->conn, s->in.data + s->in.len, READ_CHUNK, &got);
        if (st != FTP_OK)
            return st;
        s->in.len += got;
    }
}

void ftp_session_take_reply(ftp_session *s, size_t len)
{
    ftp_buf_take(&s->in, len);
    memset(&s->scan, 0, sizeof s->scan);
}


void ftp_session_close(ftp_session *s)
{
    ftp_conn_close(&s->conn);
    ftp_buf_clear(&s->in);
    ftp_buf_clear(&s->out);
    memset(&s->scan, 0, sizeof s->scan);
}

void ftp_session_free(ftp_session *s)
{
    ftp_session_close(s);
    ftp_buf_free(&s->in);
    ftp_buf_free(&s->out);
}
