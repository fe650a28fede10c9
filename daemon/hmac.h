/* hmac.h — HMAC-SHA256 with OpenSSL's libcrypto (EVP_MAC), for the webhook sink's request
 * signatures (docs/sinks.md). Pure: no I/O. */
#ifndef CW_HMAC_H
#define CW_HMAC_H

#include <stddef.h>

#define HMAC_SHA256_HEX_LEN 64

/* One piece of the message: the MAC is over the pieces one after the other. */
struct hmac_part {
    const void *data;
    size_t len;
};

/* Writes HMAC-SHA256(key, parts[0] || ... || parts[n-1]) as 64 lowercase hex digits and a
 * NUL into out. key_len must be > 0. Returns 0, or -1 when libcrypto fails (out is then
 * the empty string). */
int hmac_sha256_hex(const void *key, size_t key_len, const struct hmac_part *parts, size_t n,
                    char out[HMAC_SHA256_HEX_LEN + 1]);

#endif
