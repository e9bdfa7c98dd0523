/* ftp_parse_150_size on any 150 text. Properties: an accepted size is not
 * negative; and a size the fuzzer picks, written as vsftpd and others write
 * it, parses back to itself. */
#include "check.h"
#include "reply.h"

static void check_any_text(const unsigned char *data, size_t size)
{
    char *text = exact_copy(data, size);
    long long bytes;
    if (ftp_parse_150_size(text, size, &bytes) == 0)
        CHECK(bytes >= 0);
    free(text);
}

static void check_round_trip(const unsigned char *data, size_t size)
{
    static const char *const styles[] = {
        "150 Opening BINARY mode data connection for big.bin (%lld bytes).",
        "150 Opening ASCII mode data connection for /x (%lld bytes)",
        "150 Data connection accepted; transfer starting (%lld Bytes).",
    };
    if (size < 9)
        return;
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | data[i];
    long long want = (long long)(v % 1000000000000000000ULL); /* 18 digits */
    char text[128];
    int n = snprintf(text, sizeof text, styles[data[8] % 3], want);
    long long bytes;
    CHECK(ftp_parse_150_size(text, (size_t)n, &bytes) == 0);
    CHECK(bytes == want);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    check_any_text(data, size);
    check_round_trip(data, size);
    return 0;
}
