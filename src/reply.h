/* Control-reply and reply-text parsers. Pure functions over byte ranges: no I/O,
 * no allocation, no Lua, so they can be fuzzed directly (see fuzz/). */
#ifndef FTP_REPLY_H
#define FTP_REPLY_H

#include <stddef.h>

enum ftp_scan_result {
    FTP_SCAN_MORE = 0,   /* no complete reply yet: read more bytes */
    FTP_SCAN_DONE = 1,   /* a complete reply starts the buffer */
    FTP_SCAN_PROTO = -1, /* not an FTP reply */
    FTP_SCAN_LIMIT = -2  /* a line or the whole reply is over its limit */
};

typedef struct ftp_limits {
    size_t maxline;  /* longest line, without its CRLF */
    size_t maxreply; /* largest whole reply, line ends included */
} ftp_limits;

/* Progress through a reply that arrives in pieces, so that each byte is looked
 * at once however the reply is split. Zero it before each new reply. */
typedef struct ftp_scanner {
    size_t line_start; /* offset of the line being scanned */
    int first_code;    /* code of the first line, 0 until it is complete */
} ftp_scanner;

/* Looks for one complete reply at the start of buf[0..len). On FTP_SCAN_DONE,
 * *code is the reply code and *reply_len the bytes it spans (line ends
 * included). A multi-line reply ends at the first later line of the form
 * "ddd " or "ddd", whatever its code: servers that end with a code other than
 * the first exist, and a continuation line in that form is not RFC 959 text.
 * *code is then the last line's code. */
int ftp_reply_scan(ftp_scanner *sc, const char *buf, size_t len,
                   const ftp_limits *lim, int *code, size_t *reply_len);

/* 227 text: the first run of six comma-separated numbers. Each must be
 * 0..255 and the port non-zero. Returns 0 on success, -1 if malformed. */
int ftp_parse_pasv(const char *text, size_t len, unsigned char host[4],
                   unsigned *port);

/* 229 text: "(<d><d><d>port<d>)" with any delimiter d. 0 or -1. */
int ftp_parse_epsv(const char *text, size_t len, unsigned *port);

/* 257 text: the quoted path, with "" standing for one quote. Writes at most
 * len bytes to out (out must hold len bytes). Returns the path length, or -1
 * when there is no well-formed quoted path. */
long ftp_parse_quoted_path(const char *text, size_t len, char *out);

/* 150 text: the size in "(12345 bytes)". Returns 0 with *size set, or -1. */
int ftp_parse_150_size(const char *text, size_t len, long long *size);

#endif
