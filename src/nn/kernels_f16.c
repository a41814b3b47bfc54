/*
 * kernels_f16.c - float rows to fp16 (nn_fp32_to_fp16_row), one version per kernel set:
 * the scalar reference (nn_fp32_to_fp16, round to nearest even), F16C (AVX2 set),
 * AVX-512 and NEON. All round to nearest even and give bit-identical results, NaNs
 * included (quiet, top payload kept), so the choice never changes a computation.
 *
 * Used where activations computed once are read many times afterwards: the Whisper
 * decoder keeps the window's cross-attention K/V in f16 (half the bytes per token) and
 * reads them through the f16 matmul kernels. Follows the matmul kernel set in use
 * (nn_isa_name), so SOTTO_NN_ISA / nn_isa_set force these paths too.
 */
#include <string.h>

#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

void nn_fp32_to_fp16_row_ref(const float *x, uint16_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = nn_fp32_to_fp16(x[i]);
}

#if defined(__x86_64__)

#define RNE (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

__attribute__((target("avx2,f16c"))) void nn_fp32_to_fp16_row_avx2(const float *x, uint16_t *y,
                                                                    size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), RNE);
        __m128i b = _mm256_cvtps_ph(_mm256_loadu_ps(x + i + 8), RNE);
        _mm_storeu_si128((__m128i *)(y + i), a);
        _mm_storeu_si128((__m128i *)(y + i + 8), b);
    }
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), RNE));
    if (i < n) { /* the tail through a padded vector: never touches memory past n */
        float t[8] = {0};
        uint16_t h[8];
        memcpy(t, x + i, sizeof(float) * (n - i));
        _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(_mm256_loadu_ps(t), RNE));
        memcpy(y + i, h, sizeof(uint16_t) * (n - i));
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c"))) void
nn_fp32_to_fp16_row_avx512(const float *x, uint16_t *y, size_t n)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm512_cvtps_ph(_mm512_loadu_ps(x + i), RNE);
        __m256i b = _mm512_cvtps_ph(_mm512_loadu_ps(x + i + 16), RNE);
        _mm256_storeu_si256((__m256i *)(y + i), a);
        _mm256_storeu_si256((__m256i *)(y + i + 16), b);
    }
    for (; i < n; i += 16) { /* masked: loads and stores stop at n */
        __mmask16 mk = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
        __m256i h = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mk, x + i), RNE);
        _mm256_mask_storeu_epi16(y + i, mk, h);
    }
}

#else

void nn_fp32_to_fp16_row_avx2(const float *x, uint16_t *y, size_t n)
{
    nn_fp32_to_fp16_row_ref(x, y, n);
}

void nn_fp32_to_fp16_row_avx512(const float *x, uint16_t *y, size_t n)
{
    nn_fp32_to_fp16_row_ref(x, y, n);
}

#endif

#if defined(__aarch64__)

/* FCVTN rounds by FPCR, which is round-to-nearest-even unless someone changed it. */
void nn_fp32_to_fp16_row_neon(const float *x, uint16_t *y, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++)
        y[i] = nn_fp32_to_fp16(x[i]);
}

#else

void nn_fp32_to_fp16_row_neon(const float *x, uint16_t *y, size_t n)
{
    nn_fp32_to_fp16_row_ref(x, y, n);
}

#endif

void nn_fp32_to_fp16_row(const float *x, uint16_t *y, size_t n)
{
    /* nn_isa_name() names a set this CPU supports (matmul.c checks cpuid) */
    const char *isa = nn_isa_name();
    if (strcmp(isa, "avx512") == 0)
        nn_fp32_to_fp16_row_avx512(x, y, n);
    else if (strcmp(isa, "avx2") == 0)
        nn_fp32_to_fp16_row_avx2(x, y, n);
    else if (strcmp(isa, "neon") == 0)
        nn_fp32_to_fp16_row_neon(x, y, n);
    else
        nn_fp32_to_fp16_row_ref(x, y, n);
}
