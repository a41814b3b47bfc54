/*
 * sha256.h - a small SHA-256 (FIPS 180-4) for identifying model files (inside libsotto).
 */
#ifndef SOTTO_SHA256_H
#define SOTTO_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t block[64];
    size_t n_block;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t digest[32]);
/* One-shot digest as 64 lowercase hex characters + NUL. */
void sha256_hex(const void *data, size_t n, char hex[65]);

#endif
