/* MODE Z (draft-preston-ftpext-deflate, as proftpd's mod_deflate does it):
 * each data connection carries one zlib stream (RFC 1950), compressed by
 * the sender. A codec on bytes only, no I/O, so that the inflate side can be
 * fuzzed: what a server sends is hostile, and a small stream may inflate to
 * gigabytes. Inflating writes into the caller's fixed-size buffer, input
 * left over stays for the next call: memory is bounded whatever the ratio. */
#ifndef FTP_DEFLATE_H
#define FTP_DEFLATE_H

#include <stddef.h>
#include <zlib.h>

#include "buf.h"

enum ftp_z_kind { FTP_Z_NONE = 0, FTP_Z_INFLATE, FTP_Z_DEFLATE };

typedef struct ftp_z {
    z_stream z;
    int kind;      /* enum ftp_z_kind: what z was set up for, NONE before */
    int ended;     /* inflate: the stream's end came; deflate: Z_FINISH done */
    const char *in; /* inflate: input not yet taken (the caller's buffer) */
    size_t in_len;
} ftp_z;

void ftp_z_init(ftp_z *c);
/* Sets c up to inflate, or to deflate at level (0-9, -1: zlib's default).
 * FTP_OK, or FTP_ENOMEM. Once per codec. */
int ftp_z_start_inflate(ftp_z *c);
int ftp_z_start_deflate(ftp_z *c, int level);
/* Gives inflate n bytes of input, which must stay valid until taken
 * (ftp_z_has_input is 0 again). Only when the last input is all taken. */
void ftp_z_feed(ftp_z *c, const char *in, size_t n);
int ftp_z_has_input(const ftp_z *c);
/* Inflates the input given into out (cap bytes): FTP_OK with *made bytes (0
 * when the input held none, e.g. only the header), or FTP_EPROTO for a
 * stream that is not zlib, is corrupt, or has bytes after its end. */
int ftp_z_inflate(ftp_z *c, char *out, size_t cap, size_t *made);
/* Deflates n bytes onto the end of out (all of them; finish: and ends the
 * stream). FTP_OK or FTP_ENOMEM. */
int ftp_z_deflate(ftp_z *c, const char *in, size_t n, int finish, ftp_buf *out);
void ftp_z_end(ftp_z *c);

#endif
