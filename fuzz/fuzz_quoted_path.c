/* ftp_parse_quoted_path on any 257 text, with an output buffer of exactly the
 * size the header promises is enough (len bytes), so ASan catches a write past
 * it. Round trip: any byte string, quoted as RFC 959 says (a quote doubled),
 * parses back to itself. */
#include "check.h"
#include "reply.h"

static void check_any_text(const unsigned char *data, size_t size)
{
    char *text = exact_copy(data, size);
    char *out = exact_copy("", size);
    long n = ftp_parse_quoted_path(text, size, out);
    CHECK(n >= -1 && n <= (long)size);
    free(out);
    free(text);
}

static void check_round_trip(const unsigned char *data, size_t size)
{
    static const char head[] = "257 \"", tail[] = "\" is the current directory";
    size_t cap = sizeof head + 2 * size + sizeof tail;
    char *text = malloc(cap);
    CHECK(text != NULL);
    size_t len = 0;
    memcpy(text, head, sizeof head - 1);
    len += sizeof head - 1;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '"')
            text[len++] = '"';
        text[len++] = (char)data[i];
    }
    memcpy(text + len, tail, sizeof tail - 1);
    len += sizeof tail - 1;
    char *out = exact_copy("", len);
    long n = ftp_parse_quoted_path(text, len, out);
    CHECK(n == (long)size);
    CHECK(size == 0 || memcmp(out, data, size) == 0);
    free(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    check_any_text(data, size);
    check_round_trip(data, size);
    return 0;
}
