/*
 * kernels_avx512.c - AVX-512 versions of element-wise kernels of kernels.c, used when
 * the AVX-512 kernel set is in use (nn_isa_name()). Now: nn_softmax_avx512, the
 * attention softmax (the decoder's 1500-wide cross-attention rows and its self-attention
 * rows; 6-13% of a decoder step with the reference's 4-wide code), and nn_gelu_avx512
 * (the encoder's MLP and conv outputs, 20.7 M values per base window: 9% of a base q4_0
 * encoder pass with the reference, whose division and clamps GCC leaves scalar).
 *
 * Same method as the reference (max, e^(x - max) with kernels.c's Cephes polynomial and
 * range reduction, sum, scale by 1/sum), sixteen lanes at a time with masked tails;
 * results differ from the reference only by float rounding (FMA, summation order):
 * tests/unit/test_nn_simd.c bounds the difference.
 */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT

/* e^x for x <= 0 (softmax arguments): kernels.c's exp_one, sixteen lanes; 0 below -87.3. */
TGT_INLINE __m512 exp16_nonpos(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-87.3f), magic = _mm512_set1_ps(12582912.0f);
    __m512 xc = _mm512_max_ps(x, lo);
    __m512 t = _mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), magic);
    __m512 fi = _mm512_sub_ps(t, magic);
    __m512i i = _mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000));
    __m512 r = _mm512_fnmadd_ps(fi, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(fi, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23));
    __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
    return _mm512_maskz_mul_ps((__mmask16)~under, p, scale);
}

/* e^x for any x: kernels.c's exp_one (clamped to [-87.3, 88.3], 0 below -87.3). */
TGT_INLINE __m512 exp16(__m512 x)
{
    return exp16_nonpos(_mm512_min_ps(x, _mm512_set1_ps(88.3f)));
}

TGT_INLINE __mmask16 tail_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

TGT void nn_softmax_avx512(float *x, size_t n)
{
    if (n == 0)
        return;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(x + i));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(x + i + 16));
    }
    for (; i < n; i += 16)
        m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, tail_mask(n - i), x + i));
    const float mx = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    if (mx == -INFINITY) { /* everything masked: zeros rather than NaN, as the reference */
        memset(x, 0, n * sizeof(float));
        return;
    }
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (i = 0; i + 32 <= n; i += 32) {
        __m512 e0 = exp16_nonpos(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx));
        __m512 e1 = exp16_nonpos(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), vmx));
        _mm512_storeu_ps(x + i, e0);
        _mm512_storeu_ps(x + i + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        __m512 e = exp16_nonpos(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, mk, x + i), vmx));
        _mm512_mask_storeu_ps(x + i, mk, e);
        s0 = _mm512_add_ps(s0, e); /* masked-off lanes are e^-inf = 0 */
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / (double)_mm512_reduce_add_ps(_mm512_add_ps(s0, s1))));
    for (i = 0; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), inv));
    }
}

/* gelu(v) = v / (1 + e^(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3): the reference's
 * formula and exp, sixteen lanes; differs from it by float rounding (FMA) only. */
TGT_INLINE __m512 gelu16(__m512 v)
{
    const __m512 c = _mm512_set1_ps(-2.0f * 0.7978845608028654f);
    const __m512 c3 = _mm512_set1_ps(0.044715f);
    __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
    __m512 e = exp16(_mm512_mul_ps(c, _mm512_fmadd_ps(c3, v3, v)));
    return _mm512_div_ps(v, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

TGT void nn_gelu_avx512(float *x, size_t n)
{
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = gelu16(_mm512_loadu_ps(x + i)), b = gelu16(_mm512_loadu_ps(x + i + 16));
        _mm512_storeu_ps(x + i, a);
        _mm512_storeu_ps(x + i + 16, b);
    }
    for (; i < n; i += 16) {
        __mmask16 mk = tail_mask(n - i);
        _mm512_mask_storeu_ps(x + i, mk, gelu16(_mm512_maskz_loadu_ps(mk, x + i)));
    }
}

#else /* not x86-64: never selected, but the symbols must exist */

void nn_softmax_avx512(float *x, size_t n)
{
    nn_softmax_ref(x, n);
}

void nn_gelu_avx512(float *x, size_t n)
{
    nn_gelu_ref(x, n);
}

#endif
