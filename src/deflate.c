#include "deflate.h"
#include "status.h"

#include <limits.h>
#include <string.h>

/* The most given to zlib in one call: its counters are unsigned ints. */
#define Z_STEP ((size_t)UINT_MAX / 2)

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void ftp_z_init(ftp_z *c)
{
    memset(c, 0, sizeof *c);
}

int ftp_z_start_inflate(ftp_z *c)
{
    ftp_z_init(c);
    /* 15: the zlib format (RFC 1950) with any window; not raw, not gzip. */
    if (inflateInit2(&c->z, 15) != Z_OK)
        return FTP_ENOMEM;
    c->kind = FTP_Z_INFLATE;
    return FTP_OK;
}

int ftp_z_start_deflate(ftp_z *c, int level)
{
    ftp_z_init(c);
    if (deflateInit2(&c->z, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return FTP_ENOMEM;
    c->kind = FTP_Z_DEFLATE;
    return FTP_OK;
}

void ftp_z_feed(ftp_z *c, const char *in, size_t n)
{
    c->in = in;
    c->in_len = n;
}

int ftp_z_has_input(const ftp_z *c)
{
    return c->in_len > 0;
}

int ftp_z_inflate(ftp_z *c, char *out, size_t cap, size_t *made)
{
    *made = 0;
    while (c->in_len > 0 && *made < cap) {
        if (c->ended)
            return FTP_EPROTO; /* bytes after the stream's end */
        size_t give = min_size(c->in_len, Z_STEP);
        c->z.next_in = (Bytef *)c->in;
        c->z.avail_in = (uInt)give;
        c->z.next_out = (Bytef *)out + *made;
        c->z.avail_out = (uInt)min_size(cap - *made, Z_STEP);
        int rc = inflate(&c->z, Z_NO_FLUSH);
        size_t took = give - c->z.avail_in;
        *made = (size_t)((char *)c->z.next_out - out);
        c->in += took;
        c->in_len -= took;
        if (rc == Z_STREAM_END)
            c->ended = 1;
        else if (rc == Z_BUF_ERROR && took == 0)
            break; /* no progress: out is full */
        else if (rc != Z_OK)
            return rc == Z_MEM_ERROR ? FTP_ENOMEM : FTP_EPROTO; /* DATA, NEED_DICT, ... */
    }
    return FTP_OK;
}

int ftp_z_deflate(ftp_z *c, const char *in, size_t n, int finish, ftp_buf *out)
{
    c->z.next_in = (Bytef *)in;
    for (;;) {
        size_t give = min_size(n, Z_STEP);
        c->z.avail_in = (uInt)give;
        /* Room for all of it: what deflate keeps back comes out later. */
        size_t room = deflateBound(&c->z, (uLong)give) + 64;
        if (ftp_buf_reserve(out, room) < 0)
            return FTP_ENOMEM;
        c->z.next_out = (Bytef *)out->data + out->len;
        c->z.avail_out = (uInt)min_size(out->cap - out->len, Z_STEP);
        int last = finish && give == n;
        int rc = deflate(&c->z, last ? Z_FINISH : Z_NO_FLUSH);
        out->len = (size_t)((char *)c->z.next_out - out->data);
        n -= give - c->z.avail_in;
        if (rc == Z_STREAM_END) {
            c->ended = 1;
            return FTP_OK;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return FTP_ENOMEM; /* deflate fails only for a misuse or want of memory */
        if (n == 0 && !last)
            return FTP_OK;
    }
}

void ftp_z_end(ftp_z *c)
{
    if (c->kind == FTP_Z_INFLATE)
        inflateEnd(&c->z);
    else if (c->kind == FTP_Z_DEFLATE)
        deflateEnd(&c->z);
    ftp_z_init(c);
}
