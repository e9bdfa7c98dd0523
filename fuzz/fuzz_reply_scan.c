/* The incremental reply scanner (ftp_reply_scan) against a stream of server
 * bytes. Differential property: the replies found, and how the stream ends
 * (more needed, malformed, over a limit), do not depend on how the stream is
 * split into reads. Each call sees a buffer of exactly the bytes received, so
 * ASan catches any read past them. Input layout: stream.h. */
#include "check.h"
#include "reply.h"
#include "stream.h"

/* What any reply the scanner returns must look like. */
static void check_reply(const char *buf, size_t avail, const ftp_limits *lim,
                        int code, size_t reply_len)
{
    CHECK(reply_len >= 4 && reply_len <= avail);
    CHECK(reply_len <= lim->maxreply);
    CHECK(buf[reply_len - 1] == '\n');
    CHECK(code >= 100 && code <= 599);
    CHECK(buf[0] >= '1' && buf[0] <= '5');
}

/* One call on a private copy of buf[0..avail). */
static int scan_copy(ftp_scanner *sc, const char *buf, size_t avail,
                     const ftp_limits *lim, int *code, size_t *reply_len)
{
    char *view = exact_copy(buf, avail);
    int r = ftp_reply_scan(sc, view, avail, lim, code, reply_len);
    if (r == FTP_SCAN_DONE)
        check_reply(view, avail, lim, *code, *reply_len);
    free(view);
    return r;
}

/* The stream arriving piece by piece; the scanner keeps its progress between
 * calls and starts afresh after each reply, as in the session. */
static void scan_pieces(const split_input *in, outcome *o)
{
    ftp_scanner sc = {0};
    size_t off = 0;
    for (size_t p = 0; p < in->npieces; p++) {
        size_t end = in->piece_end[p];
        for (;;) {
            int code;
            size_t reply_len;
            int r = scan_copy(&sc, in->stream + off, end - off, &in->lim, &code,
                              &reply_len);
            if (r == FTP_SCAN_MORE)
                break;
            if (r != FTP_SCAN_DONE) {
                o->end = r;
                return;
            }
            outcome_record(o, code, reply_len);
            off += reply_len;
            sc = (ftp_scanner){0};
        }
    }
    o->end = FTP_SCAN_MORE;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    split_input in;
    if (split_input_read(data, size, &in) < 0)
        return 0;
    outcome whole, pieces;
    outcome_init(&whole, in.len);
    outcome_init(&pieces, in.len);
    scan_whole(&in, &whole);
    scan_pieces(&in, &pieces);
    CHECK(whole.end == pieces.end);
    CHECK(whole.n == pieces.n);
    for (size_t i = 0; i < whole.n; i++) {
        CHECK(whole.codes[i] == pieces.codes[i]);
        CHECK(whole.lens[i] == pieces.lens[i]);
    }
    outcome_free(&whole);
    outcome_free(&pieces);
    return 0;
}
