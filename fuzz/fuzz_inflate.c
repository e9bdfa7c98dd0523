/* The MODE Z inflater (deflate.h) on any bytes a server may send, fed in slices
 * the input itself chooses and inflated into output buffers of sizes it chooses too.
 * Properties: no call makes more than the room it was given, none fails but with
 * FTP_EPROTO (or FTP_ENOMEM), every call takes input or makes output or fails (no
 * spin), and once the stream ended any byte more is FTP_EPROTO. Memory stays
 * the fixed buffer whatever the ratio (ASan and -rss_limit_mb watch it).
 * A second pass round-trips: the input deflated by ftp_z_deflate inflates back. */
#include "check.h"
#include "deflate.h"
#include "status.h"

#include <stdint.h>

enum { OUT_CAP = 64 * 1024 };

/* At most this many inflated bytes per input, so that a bomb costs bounded
 * time per run (memory is bounded anyway). */
#define MAX_TOTAL (64LL << 20)

static void inflate_any(const unsigned char *data, size_t size)
{
    if (size < 2)
        return;
    size_t slice = (size_t)data[0] % 64 + 1;   /* input bytes a feed */
    size_t room = (size_t)data[1] * 256 % OUT_CAP + 1; /* output room a call */
    data += 2;
    size -= 2;
    char *out = malloc(OUT_CAP);
    CHECK(out != NULL);
    ftp_z z;
    CHECK(ftp_z_start_inflate(&z) == FTP_OK);
    size_t at = 0;
    long long total = 0;
    int st = FTP_OK;
    while (st == FTP_OK && at < size && total < MAX_TOTAL) {
        size_t n = size - at < slice ? size - at : slice;
        char *copy = exact_copy(data + at, n); /* ASan sees a read past the slice */
        ftp_z_feed(&z, copy, n);
        while (ftp_z_has_input(&z) && st == FTP_OK && total < MAX_TOTAL) {
            size_t before = z.in_len, made = 0;
            int ended = z.ended;
            st = ftp_z_inflate(&z, out, room, &made);
            CHECK(made <= room);
            CHECK(st == FTP_OK || st == FTP_EPROTO || st == FTP_ENOMEM);
            if (st == FTP_OK)
                CHECK(made > 0 || z.in_len < before);
            if (ended)
                CHECK(st == FTP_EPROTO); /* a byte after the end */
            total += (long long)made;
        }
        free(copy);
        at += n;
    }
    ftp_z_end(&z);
    free(out);
}

static void round_trip(const unsigned char *data, size_t size)
{
    ftp_z d;
    ftp_buf packed = {0};
    CHECK(ftp_z_start_deflate(&d, (int)(size % 10)) == FTP_OK);
    size_t half = size / 2;
    CHECK(ftp_z_deflate(&d, (const char *)data, half, 0, &packed) == FTP_OK);
    CHECK(ftp_z_deflate(&d, (const char *)data + half, size - half, 1, &packed) == FTP_OK);
    CHECK(d.ended);
    ftp_z_end(&d);
    ftp_z z;
    CHECK(ftp_z_start_inflate(&z) == FTP_OK);
    ftp_z_feed(&z, ftp_buf_head(&packed), ftp_buf_size(&packed));
    char *back = malloc(size + 1);
    CHECK(back != NULL);
    size_t got = 0;
    while (ftp_z_has_input(&z)) {
        size_t made = 0;
        CHECK(ftp_z_inflate(&z, back + got, size + 1 - got, &made) == FTP_OK);
        got += made;
        CHECK(got <= size);
    }
    CHECK(z.ended);
    CHECK(got == size && (size == 0 || memcmp(back, data, size) == 0));
    free(back);
    ftp_z_end(&z);
    ftp_buf_free(&packed);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    inflate_any(data, size);
    if (size <= 4096)
        round_trip(data, size);
    return 0;
}
