/* ftp_parse_epsv on any 229 text. Properties: an accepted reply has a port in
 * 1..65535; and "(<d><d><d>port<d>)" with a delimiter and port the fuzzer
 * picks parses back to that port. */
#include "check.h"
#include "reply.h"

static void check_any_text(const unsigned char *data, size_t size)
{
    char *text = exact_copy(data, size);
    unsigned port;
    if (ftp_parse_epsv(text, size, &port) == 0)
        CHECK(port >= 1 && port <= 65535);
    free(text);
}

static void check_round_trip(const unsigned char *data, size_t size)
{
    if (size < 3)
        return;
    /* RFC 2428: any printable ASCII but digits may delimit; '|' is usual. */
    char d = (char)(33 + data[0] % 94);
    unsigned want = (unsigned)data[1] << 8 | data[2];
    if (d >= '0' && d <= '9')
        d = '|';
    if (want == 0)
        return;
    char text[80];
    int n = snprintf(text, sizeof text,
                     "229 Entering Extended Passive Mode (%c%c%c%u%c)", d, d, d,
                     want, d);
    unsigned port;
    CHECK(ftp_parse_epsv(text, (size_t)n, &port) == 0);
    CHECK(port == want);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    check_any_text(data, size);
    check_round_trip(data, size);
    return 0;
}
