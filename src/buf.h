/* A growable byte buffer with a consumed prefix: bytes are appended at the end
 * and taken from the front without moving the rest on every take. */
#ifndef FTP_BUF_H
#define FTP_BUF_H

#include <stddef.h>

typedef struct ftp_buf {
    char *data;
    size_t off; /* start of the bytes not yet taken */
    size_t len; /* end of the bytes held */
    size_t cap;
} ftp_buf;

/* Makes room for at least n more bytes at the end. 0, or -1 out of memory. */
int ftp_buf_reserve(ftp_buf *b, size_t n);
int ftp_buf_append(ftp_buf *b, const void *p, size_t n);
/* Takes n bytes from the front. */
void ftp_buf_take(ftp_buf *b, size_t n);
size_t ftp_buf_size(const ftp_buf *b);
const char *ftp_buf_head(const ftp_buf *b);
void ftp_buf_clear(ftp_buf *b);
void ftp_buf_free(ftp_buf *b);

#endif
