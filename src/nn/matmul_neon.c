/*
 * matmul_neon.c - nn_matmul_range for AArch64 Advanced SIMD (compiled to an empty unit
 * elsewhere).
 *
 * The same two kernels as matmul_avx512.c (see there), on 128-bit vectors:
 *  - m <= 16: each weight row streamed once; f32/f16 rows straight into FMAs; quantized
 *    rows unpacked to signed bytes (q4_0 - 8, q5_0 - 16, q4_1/q5_1 as 0..31 with the
 *    minimum added through the activation block sums) and dotted with the q8-quantized
 *    activations by widening multiplies (vmull_s8 + pairwise adds; no dotprod needed).
 *  - m > 16: blocked GEMM on f32 panels of 16 weight rows (nn_pack_panel) with a 4 x 16
 *    register tile (16 q-register accumulators).
 * Not run by this project's x86 CI: tests/unit/test_nn_simd.c covers it on an ARM host.
 */
#include "nn/nn.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "base/base_int.h"

#define QK 32
#define SMALL_M 16
#define MR 4
#define NR 16
#define KC 512

static void gemm_tile(int64_t kc, const float *const xr[MR], const float *panel, float *c,
                      int64_t ldc, const float *init)
{
    float32x4_t a[MR][4];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            a[i][v] = vld1q_f32(init ? init + 4 * v : c + i * ldc + 4 * v);
    for (int64_t kk = 0; kk < kc; kk++) {
        const float *p = panel + kk * NR;
        float32x4_t w0 = vld1q_f32(p), w1 = vld1q_f32(p + 4), w2 = vld1q_f32(p + 8),
                    w3 = vld1q_f32(p + 12);
        for (int i = 0; i < MR; i++) {
            float xv = xr[i][kk];
            a[i][0] = vfmaq_n_f32(a[i][0], w0, xv);
            a[i][1] = vfmaq_n_f32(a[i][1], w1, xv);
            a[i][2] = vfmaq_n_f32(a[i][2], w2, xv);
            a[i][3] = vfmaq_n_f32(a[i][3], w3, xv);
        }
    }
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < 4; v++)
            vst1q_f32(c + i * ldc + 4 * v, a[i][v]);
}

static void gemm(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                 int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    _Alignas(64) float panel[KC * NR];
    float tile[MR * NR], binit[NR];
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
        int64_t kc = k - k0 < KC ? k - k0 : KC;
        for (int64_t r0 = row0; r0 < row1; r0 += NR) {
            int nr = row1 - r0 < NR ? (int)(row1 - r0) : NR;
            nn_pack_panel(w, r0, nr, NR, k0, kc, panel);
            const float *init = NULL;
            if (k0 == 0) {
                for (int j = 0; j < NR; j++)
                    binit[j] = bias && j < nr ? bias[r0 + j] : 0.0f;
                init = binit;
            }
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                int mr = m - i0 < MR ? (int)(m - i0) : MR;
                const float *xr[MR];
                for (int i = 0; i < MR; i++)
                    xr[i] = x + (i0 + (i < mr ? i : mr - 1)) * k + k0;
                float *c = y + i0 * n + r0;
                if (mr == MR && nr == NR) {
                    gemm_tile(kc, xr, panel, c, n, init);
                    continue;
                }
                if (!init)
                    for (int i = 0; i < mr; i++)
                        memcpy(tile + i * NR, c + i * n, sizeof(float) * (size_t)nr);
                gemm_tile(kc, xr, panel, tile, NR, init);
                for (int i = 0; i < mr; i++)
                    memcpy(c + i * n, tile + i * NR, sizeof(float) * (size_t)nr);
            }
        }
    }
}

static inline float32x4_t load_w4(const uint8_t *p, int f16)
{
    if (f16)
        return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(p)));
    return vreinterpretq_f32_u8(vld1q_u8(p));
}

static void rows_float(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                       float *y, int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    size_t row_bytes = nn_row_bytes(w->type, k), es = w->type == NN_F16 ? 2 : 4;
    int f16 = w->type == NN_F16;
    const uint8_t *base = w->data;
    for (int64_t r = row0; r < row1; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        float b = bias ? bias[r] : 0.0f;
        for (int64_t i = 0; i < m; i++) {
            const float *xi = x + i * k;
            float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
            int64_t kk = 0;
            for (; kk + 8 <= k; kk += 8) {
                a0 = vfmaq_f32(a0, load_w4(wr + kk * es, f16), vld1q_f32(xi + kk));
                a1 = vfmaq_f32(a1, load_w4(wr + (kk + 4) * es, f16), vld1q_f32(xi + kk + 4));
            }
            float s = vaddvq_f32(vaddq_f32(a0, a1));
            if (kk < k) { /* the tail through the reference widening, byte-safe */
                float tail[8];
                nn_dequantize_row(w->type, wr + kk * es, tail, k - kk);
                for (int64_t t = 0; t < k - kk; t++)
                    s += tail[t] * xi[kk + t];
            }
            y[i * n + r] = s + b;
        }
    }
}

static float fp16_at(const uint8_t *p)
{
    __fp16 h;
    memcpy(&h, p, 2);
    return (float)h;
}

/* One weight row as signed bytes wq, block scales wd and minimums wc (0 for _0 types). */
static void unpack_row(nn_type t, const uint8_t *p, int64_t nb, int8_t *wq, float *wd,
                       float *wc)
{
    const size_t bb = nn_type_block_bytes(t);
    for (int64_t b = 0; b < nb; b++, p += bb) {
        int8_t *q = wq + b * QK;
        wd[b] = fp16_at(p);
        wc[b] = 0.0f;
        if (t == NN_Q8_0) {
            vst1q_s8(q, vld1q_s8((const int8_t *)p + 2));
            vst1q_s8(q + 16, vld1q_s8((const int8_t *)p + 18));
            continue;
        }
        int has_min = t == NN_Q4_1 || t == NN_Q5_1, has_hi = t == NN_Q5_0 || t == NN_Q5_1;
        const uint8_t *qs = p + 2 + 2 * has_min + 4 * has_hi;
        uint32_t qh = 0;
        if (has_hi)
            memcpy(&qh, p + 2 + 2 * has_min, 4);
        if (has_min)
            wc[b] = fp16_at(p + 2);
        int off = has_min ? 0 : has_hi ? 16 : 8;
        uint8x16_t v = vld1q_u8(qs);
        uint8_t lo[16], hi[16];
        vst1q_u8(lo, vandq_u8(v, vdupq_n_u8(0x0f)));
        vst1q_u8(hi, vshrq_n_u8(v, 4));
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((lo[j] | (((qh >> j) & 1u) << 4)) - off);
            q[j + 16] = (int8_t)((hi[j] | (((qh >> (j + 16)) & 1u) << 4)) - off);
        }
    }
}

static inline int32x4_t dot32(const int8_t *a, const int8_t *b)
{
    int8x16_t a0 = vld1q_s8(a), a1 = vld1q_s8(a + 16), b0 = vld1q_s8(b), b1 = vld1q_s8(b + 16);
    int16x8_t p = vmull_s8(vget_low_s8(a0), vget_low_s8(b0));
    p = vmlal_s8(p, vget_high_s8(a0), vget_high_s8(b0)); /* |sum| <= 2 * 128 * 127 */
    int16x8_t q = vmull_s8(vget_low_s8(a1), vget_low_s8(b1));
    q = vmlal_s8(q, vget_high_s8(a1), vget_high_s8(b1));
    return vaddq_s32(vpaddlq_s16(p), vpaddlq_s16(q));
}

static void rows_quant(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                       float *y, int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3], nb = k / QK;
    size_t row_bytes = nn_row_bytes(w->type, k);
    size_t xq_bytes = ((size_t)(m * k) + 63) & ~(size_t)63;
    size_t xf_bytes = ((size_t)(2 * m * nb) * sizeof(float) + 63) & ~(size_t)63;
    uint8_t *scr = nn_scratch(xq_bytes + xf_bytes + (size_t)k + (size_t)(2 * nb) * 4);
    if (!scr) {
        nn_matmul_range_ref(w, bias, x, m, y, row0, row1);
        return;
    }
    int8_t *xq = (int8_t *)scr, *wq = (int8_t *)(scr + xq_bytes + xf_bytes);
    float *xd = (float *)(scr + xq_bytes), *xs = xd + m * nb;
    float *wd = (float *)(wq + k), *wc = wd + nb;
    nn_quantize_act_q8(x, m, k, xq, xd, xs);
    const uint8_t *base = w->data;
    for (int64_t r = row0; r < row1; r++) {
        unpack_row(w->type, base + (size_t)r * row_bytes, nb, wq, wd, wc);
        float b = bias ? bias[r] : 0.0f;
        for (int64_t i = 0; i < m; i++) {
            float32x4_t a = vdupq_n_f32(0.0f);
            float s = 0.0f;
            for (int64_t bl = 0; bl < nb; bl++) {
                int32x4_t p = dot32(wq + bl * QK, xq + i * k + bl * QK);
                a = vfmaq_n_f32(a, vcvtq_f32_s32(p), wd[bl] * xd[i * nb + bl]);
                s += wc[bl] * xs[i * nb + bl];
            }
            y[i * n + r] = vaddvq_f32(a) + s + b;
        }
    }
}

void nn_matmul_range_neon(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                          float *y, int64_t row0, int64_t row1)
{
    SOTTO_ASSERT(w && x && y && w->ne[0] > 0 && nn_row_bytes(w->type, w->ne[0]) > 0);
    if (m <= 0 || row1 <= row0)
        return;
    if (m > SMALL_M)
        gemm(w, bias, x, m, y, row0, row1);
    else if (w->type == NN_F32 || w->type == NN_F16)
        rows_float(w, bias, x, m, y, row0, row1);
    else
        rows_quant(w, bias, x, m, y, row0, row1);
}

#else
typedef int matmul_neon_empty; /* ISO C wants a declaration in every translation unit */
#endif
