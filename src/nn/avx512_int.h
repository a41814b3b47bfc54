/*
 * avx512_int.h - what the AVX-512 kernel files share (matmul_avx512.c, gemm_q_avx512.c):
 * the target attribute every function carries (the files are not compiled with
 * -mavx512f, so the rest of the library runs on any x86-64) and the small block readers.
 * Include only inside #if defined(__x86_64__), after <immintrin.h> and <string.h>.
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

#endif
