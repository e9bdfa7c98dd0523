/* For the targets that feed a byte stream in pieces (fuzz_reply_scan,
 * fuzz_session): the input layout, and the reference answer, the replies found
 * in the whole stream at once.
 *
 * Input layout:
 *
 *   byte 0   limits: 128..255 the session defaults (maxline 8192, maxreply
 *            1 MiB); 0..127 a small maxline, 1 + byte 0, to reach the limits
 *   byte 1   with a small maxline, maxreply = 1 + 8 * byte 1
 *   byte 2   k = byte 2 % 16: the stream arrives in k + 1 pieces
 *   k bytes  the lengths of the first k pieces (the last piece is the rest)
 *   rest     the stream: what a server sends on the control connection
 *
 * The seeds in fuzz/corpus/ start with "\x80\x00\x00" (defaults, one piece). */
#ifndef FUZZ_STREAM_H
#define FUZZ_STREAM_H

#include "check.h"
#include "reply.h"

#include <stddef.h>

enum { MAX_PIECES = 16 };

typedef struct split_input {
    ftp_limits lim;
    const char *stream;
    size_t len;
    size_t npieces;
    size_t piece_end[MAX_PIECES]; /* offsets into stream, non-decreasing, last = len */
} split_input;

/* 0, or -1 when the input is too short to hold its header. */
static inline int split_input_read(const unsigned char *data, size_t size,
                                   split_input *in)
{
    if (size < 3)
        return -1;
    if (data[0] >= 128) {
        in->lim.maxline = 8192;
        in->lim.maxreply = 1 << 20;
    } else {
        in->lim.maxline = 1 + (size_t)data[0];
        in->lim.maxreply = 1 + 8 * (size_t)data[1];
    }
    size_t cuts = data[2] % MAX_PIECES;
    if (size < 3 + cuts)
        return -1;
    in->stream = (const char *)data + 3 + cuts;
    in->len = size - 3 - cuts;
    size_t at = 0;
    for (size_t i = 0; i < cuts; i++) {
        at += data[3 + i];
        in->piece_end[i] = at < in->len ? at : in->len;
    }
    in->piece_end[cuts] = in->len;
    in->npieces = cuts + 1;
    return 0;
}

typedef struct outcome {
    size_t n; /* replies found */
    int *codes;
    size_t *lens;
    int end; /* the ftp_scan_result that stopped the scan (never DONE) */
} outcome;

static inline void outcome_init(outcome *o, size_t len)
{
    size_t most = len / 4 + 1; /* the shortest reply is "ddd\n" */
    o->n = 0;
    o->end = FTP_SCAN_MORE;
    o->codes = malloc(most * sizeof *o->codes);
    o->lens = malloc(most * sizeof *o->lens);
    CHECK(o->codes != NULL && o->lens != NULL);
}

static inline void outcome_record(outcome *o, int code, size_t reply_len)
{
    o->codes[o->n] = code;
    o->lens[o->n] = reply_len;
    o->n++;
}

static inline void outcome_free(outcome *o)
{
    free(o->codes);
    free(o->lens);
}

/* The reference: replies taken off the front of the whole stream, each scan
 * on a copy of exactly the bytes left (ASan sees reads past them). */
static inline void scan_whole(const split_input *in, outcome *o)
{
    size_t off = 0;
    for (;;) {
        ftp_scanner sc = {0};
        int code;
        size_t reply_len;
        char *view = exact_copy(in->stream + off, in->len - off);
        int r = ftp_reply_scan(&sc, view, in->len - off, &in->lim, &code,
                               &reply_len);
        free(view);
        if (r != FTP_SCAN_DONE) {
            o->end = r;
            return;
        }
        outcome_record(o, code, reply_len);
        off += reply_len;
    }
}

#endif
