#include "buf.h"

#include <stdlib.h>
#include <string.h>

static void compact(ftp_buf *b)
{
    if (b->off == 0)
        return;
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
}

int ftp_buf_reserve(ftp_buf *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    compact(b);
    if (b->cap - b->len >= n)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > (size_t)-1 / 2)
            return -1;
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

int ftp_buf_append(ftp_buf *b, const void *p, size_t n)
{
    if (ftp_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void ftp_buf_take(ftp_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

size_t ftp_buf_size(const ftp_buf *b) { return b->len - b->off; }

/* A buffer that never held anything has no memory: NULL + 0 is undefined in C
 * (UBSan under clang, found by fuzz/fuzz_session.c), so say NULL. */
const char *ftp_buf_head(const ftp_buf *b)
{
    return b->data != NULL ? b->data + b->off : NULL;
}

void ftp_buf_clear(ftp_buf *b) { b->off = b->len = 0; }

void ftp_buf_free(ftp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}
