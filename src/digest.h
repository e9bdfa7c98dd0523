/* Digests of local files, for comparing with what a server says of its copy
 * (HASH, XSHA256, XCRC, ...): SHA-512, SHA-256, SHA-1 and MD5 through OpenSSL's
 * EVP, CRC-32 (IEEE 802.3, as zlib's crc32 and XCRC) by hand. No Lua here: the
 * binding is core_digest.c. */
#ifndef FTP_DIGEST_H
#define FTP_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* The longest digest, in bytes (SHA-512), and its hex form with the NUL. */
#define FTP_DIGEST_MAX 64
#define FTP_DIGEST_HEX_MAX (2 * FTP_DIGEST_MAX + 1)

enum ftp_digest_algo {
    FTP_DIGEST_SHA512,
    FTP_DIGEST_SHA256,
    FTP_DIGEST_SHA1,
    FTP_DIGEST_MD5,
    FTP_DIGEST_CRC32,
};

/* The names the binding takes, indexed by enum ftp_digest_algo, NULL-ended. */
extern const char *const ftp_digest_names[];

struct ftp_digest {
    enum ftp_digest_algo algo;
    void *evp;      /* EVP_MD_CTX, NULL for CRC-32 */
    uint32_t crc;   /* the running CRC-32, before its final inversion */
};

/* 0, or -1 when OpenSSL cannot give the algorithm (a FIPS build without MD5)
 * or memory. */
int ftp_digest_init(struct ftp_digest *d, enum ftp_digest_algo algo);
/* 0, or -1 (OpenSSL failed: only for want of memory). */
int ftp_digest_update(struct ftp_digest *d, const void *bytes, size_t len);
/* Writes the digest as lower-case hex and a NUL into hex (FTP_DIGEST_HEX_MAX
 * bytes); answers its length, 0 on failure. The state is spent afterwards. */
size_t ftp_digest_final(struct ftp_digest *d, char *hex);
/* Frees the state; idempotent. */
void ftp_digest_free(struct ftp_digest *d);

/* CRC-32 of len bytes on top of crc (start with 0: as zlib's crc32()). */
uint32_t ftp_crc32(uint32_t crc, const unsigned char *bytes, size_t len);

#endif
