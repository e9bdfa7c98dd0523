/* Parsers for control replies and the texts of 227, 229, 257 and 150. */
#include "reply.h"

#include <string.h>
#include <strings.h>

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Three digits, the first 1..5: the shape of an RFC 959 reply code. */
static int code_at(const char *line, size_t len)
{
    if (len < 3 || line[0] < '1' || line[0] > '5' || !is_digit(line[1]) ||
        !is_digit(line[2]))
        return 0;
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Length of a line without its terminator: LF, or CR LF. */
static size_t content_len(const char *line, size_t with_lf)
{
    size_t n = with_lf - 1;
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return n;
}

/* Classifies a complete first line: 1 = single-line reply, 2 = starts a
 * multi-line reply, -1 = malformed. */
static int first_line_kind(const char *line, size_t n, int *code)
{
    *code = code_at(line, n);
    if (*code == 0)
        return -1;
    if (n == 3 || line[3] == ' ')
        return 1;
    return line[3] == '-' ? 2 : -1;
}

static int is_last_line(const char *line, size_t n, int *code)
{
    int c = code_at(line, n);
    if (c == 0 || (n > 3 && line[3] != ' '))
        return 0;
    *code = c;
    return 1;
}

int ftp_reply_scan(ftp_scanner *sc, const char *buf, size_t len,
                   const ftp_limits *lim, int *code, size_t *reply_len)
{
    for (;;) {
        if (sc->line_start >= len)
            return FTP_SCAN_MORE; /* also when buf is NULL: nothing read yet */
        const char *line = buf + sc->line_start;
        size_t avail = len - sc->line_start;
        const char *lf = memchr(line, '\n', avail);
        if (lf == NULL) {
            /* +1 leaves room for the CR of a line exactly maxline long */
            if (avail > lim->maxline + 1 || len > lim->maxreply)
                return FTP_SCAN_LIMIT;
            return FTP_SCAN_MORE;
        }
        size_t with_lf = (size_t)(lf - line) + 1;
        size_t n = content_len(line, with_lf);
        size_t end = sc->line_start + with_lf;
        if (n > lim->maxline || end > lim->maxreply)
            return FTP_SCAN_LIMIT;
        if (sc->first_code == 0) {
            int kind = first_line_kind(line, n, code);
            if (kind < 0)
                return FTP_SCAN_PROTO;
            if (kind == 1) {
                *reply_len = end;
                return FTP_SCAN_DONE;
            }
            sc->first_code = *code;
        } else if (is_last_line(line, n, code)) {
            *reply_len = end;
            return FTP_SCAN_DONE;
        }
        sc->line_start = end;
    }
}

/* Reads a decimal number of at most max_digits digits at text[*pos]. */
static int read_number(const char *text, size_t len, size_t *pos,
                       int max_digits, unsigned long *value)
{
    size_t start = *pos;
    unsigned long v = 0;
    while (*pos < len && is_digit(text[*pos])) {
        if ((int)(*pos - start) == max_digits)
            return -1;
        v = v * 10 + (unsigned long)(text[*pos] - '0');
        (*pos)++;
    }
    if (*pos == start)
        return -1;
    *value = v;
    return 0;
}

static void skip_spaces(const char *text, size_t len, size_t *pos)
{
    while (*pos < len && text[*pos] == ' ')
        (*pos)++;
}

/* Six numbers h1,h2,h3,h4,p1,p2 starting at pos. */
static int read_six(const char *text, size_t len, size_t pos,
                    unsigned long v[6])
{
    for (int i = 0; i < 6; i++) {
        if (i > 0) {
            skip_spaces(text, len, &pos);
            if (pos >= len || text[pos] != ',')
                return -1;
            pos++;
            skip_spaces(text, len, &pos);
        }
        if (read_number(text, len, &pos, 4, &v[i]) < 0)
            return -1;
    }
    return 0;
}

int ftp_parse_pasv(const char *text, size_t len, unsigned char host[4],
                   unsigned *port)
{
    /* Skip the reply code so that "227" is not taken as the first number. */
    for (size_t pos = len > 3 ? 3 : len; pos < len; pos++) {
        unsigned long v[6];
        if (!is_digit(text[pos]) || is_digit(text[pos - 1]))
            continue;
        if (read_six(text, len, pos, v) < 0)
            continue;
        for (int i = 0; i < 6; i++)
            if (v[i] > 255)
                return -1;
        for (int i = 0; i < 4; i++)
            host[i] = (unsigned char)v[i];
        *port = (unsigned)(v[4] * 256 + v[5]);
        return *port == 0 ? -1 : 0;
    }
    return -1;
}

int ftp_parse_epsv(const char *text, size_t len, unsigned *port)
{
    const char *open = memchr(text, '(', len);
    if (open == NULL)
        return -1;
    size_t pos = (size_t)(open - text) + 1;
    if (pos + 3 > len)
        return -1;
    char d = text[pos];
    /* The delimiter is printable ASCII and not a digit (RFC 2428). */
    if (d < 33 || d > 126 || is_digit(d) || text[pos + 1] != d ||
        text[pos + 2] != d)
        return -1;
    pos += 3;
    unsigned long v;
    if (read_number(text, len, &pos, 5, &v) < 0 || v == 0 || v > 65535)
        return -1;
    if (pos + 1 >= len || text[pos] != d || text[pos + 1] != ')')
        return -1;
    *port = (unsigned)v;
    return 0;
}

static int closes_word(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '.' || c == ','
           || c == ';' || c == ':' || c == ')';
}

long ftp_parse_quoted_path(const char *text, size_t len, char *out)
{
    const char *open = memchr(text, '"', len);
    if (open == NULL)
        return -1;
    size_t n = 0;
    for (size_t pos = (size_t)(open - text) + 1; pos < len; pos++) {
        if (text[pos] != '"') {
            out[n++] = text[pos];
            continue;
        }
        if (pos + 1 < len && text[pos + 1] == '"') {
            out[n++] = '"';
            pos++;
            continue;
        }
        /* The closing quote ends the path and a word: what a server that
         * did not double a quote in the name sends ('"/a"b" is ...') is no
         * path at all, rather than a path cut short ("/a"), somewhere else. */
        if (pos + 1 < len && !closes_word(text[pos + 1]))
            return -1;
        return (long)n;
    }
    return -1; /* no closing quote */
}

int ftp_parse_150_size(const char *text, size_t len, long long *size)
{
    static const char unit[] = " bytes)";
    size_t unit_len = sizeof unit - 1;
    for (size_t pos = 0; pos < len; pos++) {
        if (text[pos] != '(')
            continue;
        size_t p = pos + 1;
        unsigned long long v = 0;
        int digits = 0;
        while (p < len && is_digit(text[p]) && digits < 18) {
            v = v * 10 + (unsigned long long)(text[p] - '0');
            p++;
            digits++;
        }
        if (digits == 0 || p + unit_len > len)
            continue;
        if (strncasecmp(text + p, unit, unit_len) == 0) {
            *size = (long long)v;
            return 0;
        }
    }
    return -1;
}
