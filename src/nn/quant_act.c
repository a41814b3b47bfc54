/*
 * quant_act.c - what the ISA matmul kernels share besides dispatch: activation rows
 * quantized to q8 blocks (the int8 side of ggml-style integer dot products) and a
 * per-thread scratch buffer for them.
 *
 * Quantization is plain scalar C on purpose: one definition means every ISA sees the
 * same int8 activations (their results differ only in float summation order). The
 * AVX-512 kernels use a vectorized copy (nn_quantize_act_q8_avx512, below: at 2 threads
 * the scalar loop was ~10% of a q8_0 decoder step) that does the same float operations
 * in the same order, so it is bit-identical to this one; change both together.
 * Does not: choose kernels (matmul.c) or compute products (matmul_<isa>.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "base/base_int.h"
#include "nn/nn.h"

#define QK 32

void nn_quantize_act_q8(const float *x, int64_t m, int64_t k, int8_t *q, float *d, float *s)
{
    int64_t nb = k / QK;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + i * k + b * QK;
            int8_t *qb = q + i * k + b * QK;
            float amax = 0.0f;
            for (int j = 0; j < QK; j++) {
                float a = fabsf(xb[j]);
                amax = a > amax ? a : amax; /* NaN compares false: ignored, not propagated */
            }
            float dd = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
            int sum = 0;
            for (int j = 0; j < QK; j++) {
                float v = xb[j] * id;
                /* round half away from zero; the clamp keeps NaN (-> 0) and rounding
                 * slop inside int8 without UB */
                v = v >= 0.0f ? v + 0.5f : v - 0.5f;
                int qi = v >= 127.0f ? 127 : v <= -127.0f ? -127 : v == v ? (int)v : 0;
                qb[j] = (int8_t)qi;
                sum += qi;
            }
            d[i * nb + b] = dd;
            s[i * nb + b] = dd * (float)sum;
        }
    }
}

/* ---- AVX-512 ------------------------------------------------------------------------ */

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma")))

/*
 * nn_quantize_act_q8_avx512: the same arithmetic as nn_quantize_act_q8 above, in
 * the same order, so the int8 values, scales and sums are bit-identical to it; only
 * 16 lanes at a time. The _round_ forms keep the compiler from fusing x*id+0.5 into an
 * FMA (the reference rounds twice).
 */
TGT void nn_quantize_act_q8_avx512(const float *x, int64_t m, int64_t k, int8_t *q, float *d,
                                   float *s)
{
    const int64_t nb = k / QK;
    const __m512 zero = _mm512_setzero_ps(), half = _mm512_set1_ps(0.5f);
    const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
    for (int64_t i = 0; i < m; i++) {
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = x + i * k + b * QK;
            __m512 v0 = _mm512_loadu_ps(xb), v1 = _mm512_loadu_ps(xb + 16);
            /* max_ps returns its second operand when either is NaN: NaN is skipped */
            __m512 am = _mm512_max_ps(_mm512_abs_ps(v0), zero);
            am = _mm512_max_ps(_mm512_abs_ps(v1), am);
            float amax = _mm512_reduce_max_ps(am);
            float dd = amax / 127.0f, id = amax > 0.0f ? 127.0f / amax : 0.0f;
            __m512 idv = _mm512_set1_ps(id);
            __m512i qi[2];
            for (int h = 0; h < 2; h++) {
                __m512 v = _mm512_mul_round_ps(h ? v1 : v0, idv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                __mmask16 ge0 = _mm512_cmp_ps_mask(v, zero, _CMP_GE_OQ);
                v = _mm512_mask_add_round_ps(_mm512_sub_round_ps(v, half, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                             ge0, v, half, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                __m512i t = _mm512_cvttps_epi32(v);
                t = _mm512_mask_mov_epi32(t, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q),
                                          _mm512_setzero_si512());
                t = _mm512_mask_mov_epi32(t, _mm512_cmp_ps_mask(v, lo, _CMP_LE_OQ),
                                          _mm512_set1_epi32(-127));
                t = _mm512_mask_mov_epi32(t, _mm512_cmp_ps_mask(v, hi, _CMP_GE_OQ),
                                          _mm512_set1_epi32(127));
                qi[h] = t;
            }
            int8_t *qb = q + i * k + b * QK;
            _mm_storeu_si128((__m128i *)qb, _mm512_cvtepi32_epi8(qi[0]));
            _mm_storeu_si128((__m128i *)(qb + 16), _mm512_cvtepi32_epi8(qi[1]));
            int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(qi[0], qi[1]));
            d[i * nb + b] = dd;
            s[i * nb + b] = dd * (float)sum;
        }
    }
}

#else /* not x86-64: never called (the AVX-512 set is never chosen), the symbol exists */

void nn_quantize_act_q8_avx512(const float *x, int64_t m, int64_t k, int8_t *q, float *d,
                               float *s)
{
    nn_quantize_act_q8(x, m, k, q, d, s);
}

#endif

/* ---- per-thread scratch ------------------------------------------------------------ */

typedef struct scratch {
    void *p;
    size_t cap;
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok;

static void scratch_destroy(void *arg)
{
    scratch *sc = arg;
    free(sc->p);
    free(sc);
}

static void scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0;
}

void *nn_scratch(size_t n)
{
    pthread_once(&scratch_once, scratch_key_init);
    if (!scratch_key_ok)
        return NULL;
    scratch *sc = pthread_getspecific(scratch_key);
    if (!sc) {
        sc = calloc(1, sizeof *sc);
        if (!sc)
            return NULL;
        if (pthread_setspecific(scratch_key, sc) != 0) {
            free(sc);
            return NULL;
        }
    }
    if (sc->cap < n) {
        /* grow geometrically (rounded to 64) so a few sizes settle after one call each */
        size_t cap = sc->cap * 2 > n ? sc->cap * 2 : n;
        cap = (cap + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, cap);
        if (!p)
            return NULL;
        free(sc->p);
        sc->p = p;
        sc->cap = cap;
    }
    return sc->p;
}
