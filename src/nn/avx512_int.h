/*
 * avx512_int.h - what the AVX-512 kernel files share (matmul_avx512.c, gemm_q_avx512.c):
 * the target attribute every function carries (the files are not compiled with
 * -mavx512f, so the rest of the library runs on any x86-64) and the block readers: one
 * reader (block_q) of the quantized block formats for all three unpacking sites (the f32
 * panel widening, the m <= 16 GEMV's row unpacking, the VNNI GEMM's panel packing), each
 * of which then biases the bytes as its kernel needs.
 * Include only inside #if defined(__x86_64__), after <immintrin.h>, <string.h> and nn/nn.h.
 */
#ifndef SOTTO_NN_AVX512_INT_H
#define SOTTO_NN_AVX512_INT_H

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT

/* The fp16 scale (or minimum) stored at p, as a float. */
TGT_INLINE float fp16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* 16 packed nibble bytes -> 32 values 0..15: low nibbles first, as ggml stores them. */
TGT_INLINE __m256i nibbles(const uint8_t *qs)
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs), lo4 = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), lo4), _mm_and_si128(v, lo4));
}

/*
 * One block of a q4_0 / q4_1 / q5_0 / q5_1 / q8_0 row at p, in ggml's layout (fp16 scale;
 * q*_1: fp16 minimum; q5: 32 high bits; then 16 nibble bytes, or 32 int8 for q8_0).
 * Returns the 32 values as stored: 0..15 (q4), 0..31 (q5), int8 (q8_0); *d = the scale,
 * *mn = the minimum (q4_1 / q5_1, else 0). Weight l is d * (q_l - q_bias(t)) + mn.
 * Callers that read many blocks of one row pass t as a constant (a switch on the type
 * around an always-inline loop: unpack_row, pack_q) so this folds to straight-line code.
 */
TGT_INLINE __m256i block_q(nn_type t, const uint8_t *p, float *d, float *mn)
{
    uint32_t qh;
    *d = fp16_at(p);
    *mn = 0.0f;
    switch (t) {
    case NN_Q4_0:
        return nibbles(p + 2);
    case NN_Q4_1:
        *mn = fp16_at(p + 2);
        return nibbles(p + 4);
    case NN_Q5_0: /* high bit l of qh -> 16 in value l */
        memcpy(&qh, p + 2, 4);
        return _mm256_or_si256(nibbles(p + 6), _mm256_maskz_set1_epi8((__mmask32)qh, 0x10));
    case NN_Q5_1:
        *mn = fp16_at(p + 2);
        memcpy(&qh, p + 4, 4);
        return _mm256_or_si256(nibbles(p + 8), _mm256_maskz_set1_epi8((__mmask32)qh, 0x10));
    default: /* NN_Q8_0 */
        return _mm256_loadu_si256((const __m256i *)(p + 2));
    }
}

/* Bytes of one block as block_q reads it (nn_type_block_bytes, but a constant the
 * compiler folds when t is one). */
static inline size_t q_block_bytes(nn_type t)
{
    return t == NN_Q4_0 ? 18 : t == NN_Q4_1 ? 20 : t == NN_Q5_0 ? 22 : t == NN_Q5_1 ? 24 : 34;
}

/* The integer offset of block_q's values: 8 (q4_0), 16 (q5_0), 0 for the others (q8_0
 * is signed; q4_1 / q5_1 carry a minimum instead). */
static inline int q_bias(nn_type t)
{
    return t == NN_Q4_0 ? 8 : t == NN_Q5_0 ? 16 : 0;
}

/* 1 for the types with a per-block minimum (q4_1, q5_1): their values stay unsigned. */
static inline int q_has_min(nn_type t)
{
    return t == NN_Q4_1 || t == NN_Q5_1;
}

#endif
