/*
 * quant_act.c - what the ISA matmul kernels share besides dispatch: activation rows
 * quantized to q8 blocks (the int8 side of ggml-style integer dot products) and a
 * per-thread scratch buffer for them.
 *
 * Quantization is plain scalar C on purpose: one definition means every ISA sees the
 * same int8 activations (their results differ only in float summation order). The
 * AVX-512 kernel carries a vectorized copy (matmul_avx512.c, quantize_act: at 2 threads
 * this loop was ~10% of a q8_0 decoder step) that does the same float operations in
 * the same order, so it is bit-identical to this one; change both together.
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
