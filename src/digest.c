/* Digests of bytes, fed in pieces: see digest.h. */
#include "digest.h"

#include <stdio.h>

#include <openssl/evp.h>

const char *const ftp_digest_names[] = {"sha512", "sha256", "sha1", "md5", "crc32", NULL};

/* CRC-32 with the reflected polynomial 0xEDB88320, four bits at a time: a
 * table of 16 words instead of 256, fast enough beside the disk and the
 * network. table[n] is the CRC of the nibble n. */
static const uint32_t crc_nibble[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
    0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

static uint32_t crc_step(uint32_t crc, const unsigned char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        crc ^= bytes[i];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
        crc = (crc >> 4) ^ crc_nibble[crc & 15];
    }
    return crc;
}

uint32_t ftp_crc32(uint32_t crc, const unsigned char *bytes, size_t len)
{
    return ~crc_step(~crc, bytes, len);
}

static const EVP_MD *evp_of(enum ftp_digest_algo algo)
{
    switch (algo) {
    case FTP_DIGEST_SHA512: return EVP_sha512();
    case FTP_DIGEST_SHA256: return EVP_sha256();
    case FTP_DIGEST_SHA1: return EVP_sha1();
    case FTP_DIGEST_MD5: return EVP_md5();
    default: return NULL;
    }
}

int ftp_digest_init(struct ftp_digest *d, enum ftp_digest_algo algo)
{
    d->algo = algo;
    d->evp = NULL;
    d->crc = 0xffffffffu;
    if (algo == FTP_DIGEST_CRC32)
        return 0;
    const EVP_MD *md = evp_of(algo);
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    if (ctx == NULL)
        return -1;
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    d->evp = ctx;
    return 0;
}

int ftp_digest_update(struct ftp_digest *d, const void *bytes, size_t len)
{
    if (d->algo == FTP_DIGEST_CRC32) {
        d->crc = crc_step(d->crc, bytes, len);
        return 0;
    }
    if (d->evp == NULL)
        return -1;
    return EVP_DigestUpdate(d->evp, bytes, len) == 1 ? 0 : -1;
}

static size_t to_hex(const unsigned char *md, size_t len, char *hex)
{
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * len] = '\0';
    return 2 * len;
}

size_t ftp_digest_final(struct ftp_digest *d, char *hex)
{
    unsigned char md[FTP_DIGEST_MAX > EVP_MAX_MD_SIZE ? FTP_DIGEST_MAX : EVP_MAX_MD_SIZE];
    if (d->algo == FTP_DIGEST_CRC32) {
        uint32_t crc = ~d->crc; /* big-endian, as servers and zlib users print it */
        md[0] = (unsigned char)(crc >> 24);
        md[1] = (unsigned char)(crc >> 16);
        md[2] = (unsigned char)(crc >> 8);
        md[3] = (unsigned char)crc;
        return to_hex(md, 4, hex);
    }
    unsigned int len = 0;
    if (d->evp == NULL || EVP_DigestFinal_ex(d->evp, md, &len) != 1 || len > FTP_DIGEST_MAX)
        return 0;
    return to_hex(md, len, hex);
}

void ftp_digest_free(struct ftp_digest *d)
{
    EVP_MD_CTX_free(d->evp); /* NULL is fine */
    d->evp = NULL;
}
