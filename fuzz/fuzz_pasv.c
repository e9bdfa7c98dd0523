/* ftp_parse_pasv on any 227 text. Properties: an accepted reply has a
 * non-zero port; and a reply written the way servers write it, from numbers
 * the fuzzer picks, parses back to exactly those numbers. */
#include "check.h"
#include "reply.h"

static void check_any_text(const unsigned char *data, size_t size)
{
    char *text = exact_copy(data, size);
    unsigned char host[4];
    unsigned port;
    if (ftp_parse_pasv(text, size, host, &port) == 0)
        CHECK(port >= 1 && port <= 65535);
    free(text);
}

/* Formats from the fuzzer's bytes: the numbers, then which server's style. */
static void check_round_trip(const unsigned char *data, size_t size)
{
    static const char *const styles[] = {
        "227 Entering Passive Mode (%u,%u,%u,%u,%u,%u).",  /* vsftpd, proftpd */
        "227 Entering passive mode (%u,%u,%u,%u,%u,%u)",   /* pyftpdlib */
        "227 Entering Passive Mode %u,%u,%u,%u,%u,%u",     /* no parentheses */
        "227 =%u,%u,%u,%u,%u,%u",                          /* some embedded servers */
        "227 Entering Passive Mode (%u, %u, %u, %u, %u, %u)",
    };
    if (size < 7)
        return;
    unsigned v[6];
    for (int i = 0; i < 6; i++)
        v[i] = data[i];
    if (v[4] == 0 && v[5] == 0)
        return; /* port 0 is refused by design */
    char text[96];
    int n = snprintf(text, sizeof text, styles[data[6] % 5], v[0], v[1], v[2],
                     v[3], v[4], v[5]);
    unsigned char host[4];
    unsigned port;
    CHECK(ftp_parse_pasv(text, (size_t)n, host, &port) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(host[i] == v[i]);
    CHECK(port == v[4] * 256 + v[5]);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    check_any_text(data, size);
    check_round_trip(data, size);
    return 0;
}
