/*
 * matmul_avx512.c - nn_matmul_range for AVX-512 F/BW/VL/VNNI CPUs (Zen 4, Ice Lake+).
 *
 * Two kernels, by the number of input rows m:
 *  - m <= 16 (decoder steps): each weight row is streamed from memory once and dotted
 *    with all m input rows, so the product runs at memory bandwidth. f32/f16 rows are
 *    read (f16 widened with vcvtph2ps) straight into FMAs; for m = 1 sixteen rows' sums
 *    are reduced together (hsum16) instead of one horizontal reduction per row, which
 *    matters for attention's 64-wide rows. Activations are quantized to q8 blocks here
 *    in AVX-512 (quant_act.c), bit-identical to its reference. q8_0 rows are read straight
 *    from the blocks, two blocks per 512-bit vpdpbusd; other quantized rows are
 *    unpacked to 32 bytes per block (4/5-bit values as unsigned 0..31) and dotted by
 *    vpdpbusd; the per-block product of scales multiplies the int32 sums in fp32, and
 *    the constant part of the weights (q4_0's -8, q5_0's -16, q4_1/q5_1's minimum) is
 *    added once per block through the activation block sums.
 *  - m > 16 (encoder): q4_0, q5_0 and q8_0 weights go to the integer GEMM of
 *    gemm_q_avx512.c (VNNI, activations quantized to q8 blocks). Other types: blocked
 *    GEMM: a panel of 32 weight rows x 512 columns is widened to f32 (pack_panel: 32 x 32
 *    blocks transposed in registers) and reused for every input row from cache; an
 *    8 x 32 register tile (16 zmm accumulators) takes one broadcast FMA per input row
 *    and k step. Results stay within float32 rounding of the reference.
 * Every function carries a target attribute instead of the file getting -mavx512f, so
 * the rest of the library still runs on CPUs without AVX-512 (matmul.c checks cpuid).
 */
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "nn/avx512_int.h"

#define QK 32
#define SMALL_M 16 /* up to this many input rows: the streaming kernels */
#define MR 8       /* GEMM register tile: input rows ... */
#define NR 32      /* ... x weight rows (two zmm) */
#define KC 512     /* weight columns per packed panel: 32 x 256 floats = 32 KiB */

/* ---- blocked GEMM (m > 16) --------------------------------------------------------- */

/* c[i][0..32) (+)= sum_kk x_i[kk] * panel[kk][0..32) for i < 8; init: bias row or NULL
 * to accumulate onto c. */
TGT_INLINE void gemm_tile(int64_t kc, const float *const xr[MR], const float *panel, float *c,
                          int64_t ldc, const float *init)
{
    __m512 a[MR][2];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        a[i][0] = init ? _mm512_loadu_ps(init) : _mm512_loadu_ps(c + i * ldc);
        a[i][1] = init ? _mm512_loadu_ps(init + 16) : _mm512_loadu_ps(c + i * ldc + 16);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        __m512 w0 = _mm512_load_ps(panel + kk * NR), w1 = _mm512_load_ps(panel + kk * NR + 16);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) {
            __m512 xv = _mm512_set1_ps(xr[i][kk]);
            a[i][0] = _mm512_fmadd_ps(xv, w0, a[i][0]);
            a[i][1] = _mm512_fmadd_ps(xv, w1, a[i][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(c + i * ldc, a[i][0]);
        _mm512_storeu_ps(c + i * ldc + 16, a[i][1]);
    }
}

/* In-register transpose of a 16 x 16 float block: r[i][j] -> r[j][i]. Three rounds
 * (pairs of rows, 4 x 4 within 128-bit lanes, then the 4 x 4 lanes): 64 shuffles for
 * 256 values, instead of 256 scalar stores at a 128-byte stride. */
TGT_INLINE void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + c], lane L: column 4L + c of rows 4g .. 4g+3 */
    _Pragma("GCC unroll 4")
    for (int g = 0; g < 4; g++) {
        u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
    }
    /* column 4L + c = lane L of u[c], u[4 + c], u[8 + c], u[12 + c] */
    _Pragma("GCC unroll 4")
    for (int c = 0; c < 4; c++) {
        __m512 p0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
        __m512 p1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xee);
        __m512 q0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
        __m512 q1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xee);
        r[c] = _mm512_shuffle_f32x4(p0, q0, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(p0, q0, 0xdd);
        r[8 + c] = _mm512_shuffle_f32x4(p1, q1, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(p1, q1, 0xdd);
    }
}

/* 32 bytes as floats: out[0..16) from the low half, out[16..32) from the high. */
TGT_INLINE void bytes_to_f32(__m256i v, int is_signed, __m512 *lo, __m512 *hi)
{
    __m128i a = _mm256_castsi256_si128(v), b = _mm256_extracti128_si256(v, 1);
    *lo = _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(a) : _mm512_cvtepu8_epi32(a));
    *hi = _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b));
}

/*
 * Columns [c, c + cw) of one weight row as floats into out[0..32) (cw <= 32; for block
 * types c is a block start and cw 32). The same values as nn_dequantize_row: integer
 * offsets are exact, then one multiply (and one add for the q*_1 minimum, unfused, as
 * the reference rounds twice).
 */
TGT_INLINE void widen32(nn_type t, const uint8_t *row, int64_t c, int cw, float *out)
{
    __m512 lo, hi;
    if (t == NN_F32 || t == NN_F16) {
        __mmask16 m0 = cw >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cw) - 1u);
        __mmask16 m1 = cw >= 32 ? (__mmask16)0xffff
                       : cw > 16 ? (__mmask16)((1u << (cw - 16)) - 1u) : (__mmask16)0;
        if (t == NN_F32) {
            lo = _mm512_maskz_loadu_ps(m0, row + c * 4);
            hi = _mm512_maskz_loadu_ps(m1, row + (c + 16) * 4);
        } else {
            lo = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m0, row + c * 2));
            hi = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m1, row + (c + 16) * 2));
        }
        _mm512_store_ps(out, lo);
        _mm512_store_ps(out + 16, hi);
        return;
    }
    const uint8_t *p = row + (size_t)(c / QK) * q_block_bytes(t);
    float dq, mn;
    __m256i v = block_q(t, p, &dq, &mn);
    const int is_signed = !q_has_min(t), bias = q_bias(t);
    if (bias) /* q4_0 / q5_0: q - 8, q - 16 as int8 */
        v = _mm256_sub_epi8(v, _mm256_set1_epi8((char)bias));
    const __m512 d = _mm512_set1_ps(dq);
    bytes_to_f32(v, is_signed, &lo, &hi);
    lo = _mm512_mul_ps(lo, d);
    hi = _mm512_mul_ps(hi, d);
    if (!is_signed) {
        lo = _mm512_add_ps(lo, _mm512_set1_ps(mn));
        hi = _mm512_add_ps(hi, _mm512_set1_ps(mn));
    }
    _mm512_store_ps(out, lo);
    _mm512_store_ps(out + 16, hi);
}

/*
 * nn_pack_panel with ldp = NR for every weight type, vectorized: 32 columns of the NR
 * rows at a time are widened into a 32 x 32 block, then written transposed with four
 * in-register 16 x 16 transposes. Same values as nn_pack_panel (the widening is exact
 * or rounds as the reference does), at a fraction of its cost: the scalar pack was 10%
 * of a base encoder pass, most of it repacking attention's K and V^T per query tile.
 */
TGT static void pack_panel(const nn_tensor *w, int64_t r0, int nr, int64_t k0, int64_t kc,
                           float *panel)
{
    const size_t row_bytes = nn_row_bytes(w->type, w->ne[0]);
    const uint8_t *base = w->data;
    _Alignas(64) float blk[NR][32];
    for (int64_t c0 = 0; c0 < kc; c0 += 32) {
        const int cw = kc - c0 < 32 ? (int)(kc - c0) : 32;
        for (int j = 0; j < NR; j++) {
            if (j < nr) {
                widen32(w->type, base + (size_t)(r0 + j) * row_bytes, k0 + c0, cw, blk[j]);
            } else {
                _mm512_store_ps(blk[j], _mm512_setzero_ps());
                _mm512_store_ps(blk[j] + 16, _mm512_setzero_ps());
            }
        }
        for (int h = 0; h < 2 && h * 16 < cw; h++) { /* column halves of the block */
            const int ncol = cw - h * 16 < 16 ? cw - h * 16 : 16;
            for (int g = 0; g < NR / 16; g++) { /* row halves */
                __m512 r[16];
                _Pragma("GCC unroll 16")
                for (int i = 0; i < 16; i++)
                    r[i] = _mm512_load_ps(blk[g * 16 + i] + h * 16);
                transpose16(r);
                float *dst = panel + (c0 + h * 16) * NR + g * 16;
                for (int i = 0; i < ncol; i++)
                    _mm512_store_ps(dst + i * NR, r[i]);
            }
        }
    }
}

TGT static void gemm(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                     int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    _Alignas(64) float panel[KC * NR];
    _Alignas(64) float tile[MR * NR];
    _Alignas(64) float binit[NR];
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
        int64_t kc = k - k0 < KC ? k - k0 : KC;
        for (int64_t r0 = row0; r0 < row1; r0 += NR) {
            int nr = row1 - r0 < NR ? (int)(row1 - r0) : NR;
            pack_panel(w, r0, nr, k0, kc, panel);
            const float *init = NULL; /* later column blocks accumulate onto y */
            if (k0 == 0) {
                for (int j = 0; j < NR; j++)
                    binit[j] = bias && j < nr ? bias[r0 + j] : 0.0f;
                init = binit;
            }
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                int mr = m - i0 < MR ? (int)(m - i0) : MR;
                const float *xr[MR];
                _Pragma("GCC unroll 8")
                for (int i = 0; i < MR; i++) /* missing rows repeat the last (not stored) */
                    xr[i] = x + (i0 + (i < mr ? i : mr - 1)) * k + k0;
                float *c = y + i0 * n + r0;
                if (mr == MR && nr == NR) {
                    gemm_tile(kc, xr, panel, c, n, init);
                    continue;
                }
                /* edge tile: compute into a full-size scratch tile, copy the valid part */
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

/* ---- f32 / f16 rows (m <= 16) ------------------------------------------------------ */

TGT_INLINE __m512 load_w16(const uint8_t *p, int f16)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_loadu_ps(p);
}

TGT_INLINE __m512 load_w16_mask(const uint8_t *p, int f16, __mmask16 mk)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, p));
    return _mm512_maskz_loadu_ps(mk, p);
}

/* out[j] = dot(weight row wr, x row j) for j < mr (a constant after inlining). */
TGT_INLINE void dot_float(const uint8_t *wr, int f16, const float *x, int64_t k, int mr,
                          float *out)
{
    const size_t es = f16 ? 2 : 4;
    __m512 a[4][2];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        a[j][0] = a[j][1] = _mm512_setzero_ps();
    int64_t kk = 0;
    for (; kk + 32 <= k; kk += 32) { /* two chains: m = 1 would wait on FMA latency */
        __m512 w0 = load_w16(wr + kk * es, f16), w1 = load_w16(wr + (kk + 16) * es, f16);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < mr; j++) {
            a[j][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + j * k + kk), a[j][0]);
            a[j][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + j * k + kk + 16), a[j][1]);
        }
    }
    for (; kk < k; kk += 16) {
        __mmask16 mk = k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - kk)) - 1u);
        __m512 w0 = load_w16_mask(wr + kk * es, f16, mk);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < mr; j++)
            a[j][0] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(mk, x + j * k + kk), a[j][0]);
    }
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(a[j][0], a[j][1]));
}

/* Lane i of the result = the sum of v[i]'s 16 lanes: 15 adds and 30 shuffles for 16
 * rows instead of a full horizontal reduction per row. */
TGT_INLINE __m512 hsum16(const __m512 v[16])
{
    __m512 t[8], u[4];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < 8; i++) /* per 128-bit chunk: a0+a2, b0+b2, a1+a3, b1+b3 */
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    _Pragma("GCC unroll 4")
    for (int i = 0; i < 4; i++) /* per chunk: rows 4i .. 4i+3, that chunk's part */
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    __m512 x01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[0], u[1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 x23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_f32x4(u[2], u[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(x01, x23, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The 16 partial sums of dot(weight row wr, x) (one input row). */
TGT_INLINE __m512 dot_float_vec(const uint8_t *wr, int f16, const float *x, int64_t k)
{
    const size_t es = f16 ? 2 : 4;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t kk = 0;
    for (; kk + 32 <= k; kk += 32) {
        a0 = _mm512_fmadd_ps(load_w16(wr + kk * es, f16), _mm512_loadu_ps(x + kk), a0);
        a1 = _mm512_fmadd_ps(load_w16(wr + (kk + 16) * es, f16), _mm512_loadu_ps(x + kk + 16), a1);
    }
    for (; kk < k; kk += 16) {
        __mmask16 mk = k - kk >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - kk)) - 1u);
        a0 = _mm512_fmadd_ps(load_w16_mask(wr + kk * es, f16, mk),
                             _mm512_maskz_loadu_ps(mk, x + kk), a0);
    }
    return _mm512_add_ps(a0, a1);
}

/* m = 1 (greedy decoding, and attention of one query row): 16 weight rows at a time,
 * their sums reduced together and stored as one vector. */
TGT static void rows_float_m1(const nn_tensor *w, const float *bias, const float *x, float *y,
                              int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0];
    size_t row_bytes = nn_row_bytes(w->type, k);
    int f16 = w->type == NN_F16;
    const uint8_t *base = w->data;
    int64_t r = row0;
    for (; r + 16 <= row1; r += 16) {
        __m512 v[16];
        _Pragma("GCC unroll 16")
        for (int t = 0; t < 16; t++)
            v[t] = dot_float_vec(base + (size_t)(r + t) * row_bytes, f16, x, k);
        __m512 s = hsum16(v);
        if (bias)
            s = _mm512_add_ps(s, _mm512_loadu_ps(bias + r));
        _mm512_storeu_ps(y + r, s);
    }
    for (; r < row1; r++)
        y[r] = _mm512_reduce_add_ps(dot_float_vec(base + (size_t)r * row_bytes, f16, x, k)) +
               (bias ? bias[r] : 0.0f);
}

TGT static void rows_float(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                           float *y, int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    size_t row_bytes = nn_row_bytes(w->type, k);
    int f16 = w->type == NN_F16;
    const uint8_t *base = w->data;
    for (int64_t r = row0; r < row1; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        float b = bias ? bias[r] : 0.0f, out[4] = {0};
        for (int64_t i0 = 0; i0 < m; i0 += 4) {
            const float *xi = x + i0 * k;
            switch (m - i0 >= 4 ? 4 : (int)(m - i0)) {
            case 1: dot_float(wr, f16, xi, k, 1, out); break;
            case 2: dot_float(wr, f16, xi, k, 2, out); break;
            case 3: dot_float(wr, f16, xi, k, 3, out); break;
            default: dot_float(wr, f16, xi, k, 4, out); break;
            }
            for (int j = 0; j < 4 && i0 + j < m; j++)
                y[(i0 + j) * n + r] = out[j] + b;
        }
    }
}

/* ---- quantized rows (m <= 16) ------------------------------------------------------ */

/* unpack_row's loop for one type (a constant after inlining, so block_q is straight-line
 * code). With t a variable the loop ran block_q's switch per block: q4_0 m = 1 products
 * took ~20% more CPU time than the old per-type code; this way ~5% less. */
TGT_INLINE void unpack_blocks(nn_type t, const uint8_t *p, int64_t nb, uint8_t *wq, float *wd,
                              float *wc)
{
    const size_t bb = q_block_bytes(t);
    const int has_min = q_has_min(t);
    const float bias = (float)q_bias(t);
    for (int64_t b = 0; b < nb; b++) {
        float d, mn;
        __m256i v = block_q(t, p + (size_t)b * bb, &d, &mn);
        wd[b] = d;
        wc[b] = t == NN_Q8_0 ? 0.0f : has_min ? mn : -bias * d;
        _mm256_store_si256((__m256i *)(wq + b * QK), v);
    }
}

/*
 * One weight row into wq (32 bytes a block: block_q's values), wd (block scale) and wc
 * (the constant the block's activation sum is multiplied by: -8 d, -16 d, the minimum).
 * Returns 1 when wq holds signed values (q8_0), 0 for unsigned 0..31.
 */
TGT static int unpack_row(nn_type t, const uint8_t *p, int64_t nb, uint8_t *wq, float *wd,
                          float *wc)
{
    switch (t) {
    case NN_Q4_0: unpack_blocks(NN_Q4_0, p, nb, wq, wd, wc); break;
    case NN_Q4_1: unpack_blocks(NN_Q4_1, p, nb, wq, wd, wc); break;
    case NN_Q5_0: unpack_blocks(NN_Q5_0, p, nb, wq, wd, wc); break;
    case NN_Q5_1: unpack_blocks(NN_Q5_1, p, nb, wq, wd, wc); break;
    default: unpack_blocks(NN_Q8_0, p, nb, wq, wd, wc); break;
    }
    return t == NN_Q8_0;
}

/* acc[j] += wd[b] xd_j[b] dot(wq_b, xq_jb) for j < mr. */
TGT_INLINE void q_block(const uint8_t *wq, const float *wd, int is_signed, const int8_t *xq,
                        const float *xd, int64_t k, int64_t nb, int64_t b, int mr, __m256 *acc)
{
    __m256i wv = _mm256_load_si256((const __m256i *)(wq + b * QK));
    /* vpdpbusd multiplies unsigned by signed bytes: a signed weight gives its magnitude
     * and moves its sign onto the activation */
    __m256i wu = is_signed ? _mm256_sign_epi8(wv, wv) : wv;
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++) {
        __m256i xv = _mm256_load_si256((const __m256i *)(xq + j * k + b * QK));
        if (is_signed)
            xv = _mm256_sign_epi8(xv, wv);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wu, xv);
        __m256 sc = _mm256_set1_ps(wd[b] * xd[j * nb + b]);
        acc[j] = _mm256_fmadd_ps(sc, _mm256_cvtepi32_ps(p), acc[j]);
    }
}

/* out[j] = sum_b wd[b] xd_j[b] dot(wq_b, xq_jb) + wc[b] xs_j[b], j < mr (constant). */
TGT_INLINE void dot_q8(const uint8_t *wq, const float *wd, const float *wc, int is_signed,
                       const int8_t *xq, const float *xd, const float *xs, int64_t k, int mr,
                       float *out)
{
    int64_t nb = k / QK, b = 0;
    __m256 a[2][4];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        a[0][j] = a[1][j] = _mm256_setzero_ps();
    /* blocks alternate between two accumulators: m = 1 would wait on FMA latency */
    for (; b + 2 <= nb; b += 2) {
        q_block(wq, wd, is_signed, xq, xd, k, nb, b, mr, a[0]);
        q_block(wq, wd, is_signed, xq, xd, k, nb, b + 1, mr, a[1]);
    }
    if (b < nb)
        q_block(wq, wd, is_signed, xq, xd, k, nb, b, mr, a[0]);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++) {
        __m256 s = _mm256_add_ps(a[0][j], a[1][j]);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float r = _mm_cvtss_f32(h);
        if (!is_signed) {
            __m512 c = _mm512_setzero_ps();
            int64_t c0 = 0;
            for (; c0 + 16 <= nb; c0 += 16)
                c = _mm512_fmadd_ps(_mm512_loadu_ps(wc + c0), _mm512_loadu_ps(xs + j * nb + c0),
                                    c);
            if (c0 < nb) {
                __mmask16 mk = (__mmask16)((1u << (nb - c0)) - 1u);
                c = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, wc + c0),
                                    _mm512_maskz_loadu_ps(mk, xs + j * nb + c0), c);
            }
            r += _mm512_reduce_add_ps(c);
        }
        out[j] = r;
    }
}

/*
 * q8_0 rows straight from the weight blocks: two 32-byte blocks fill one zmm, so one
 * vpdpbusd covers 64 weights (lanes 0-7 block b, 8-15 block b+1) and one FMA scales
 * both blocks by their own (weight scale x activation scale). No unpacked copy.
 * acc[j] += per-lane products for block pair b, b+1 (n2 = 1: block b alone).
 */
TGT_INLINE void q8_pair(const uint8_t *p, int n2, const int8_t *xq, const float *xd, int64_t k,
                        int64_t nb, int64_t b, int mr, __m512 *acc)
{
    const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512i w;
    uint16_t h0, h1 = 0;
    memcpy(&h0, p, 2);
    if (n2 == 2) {
        memcpy(&h1, p + 34, 2);
        w = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p + 2))),
            _mm256_loadu_si256((const __m256i *)(p + 36)), 1);
    } else {
        w = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)(p + 2)));
    }
    /* vpdpbusd multiplies unsigned by signed bytes: the weight gives its magnitude and
     * its sign moves onto the activation (|-128| = 128 as unsigned is still right) */
    __mmask64 neg = _mm512_movepi8_mask(w);
    __m512i wu = _mm512_abs_epi8(w);
    __m128 wd = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)h0 | (uint32_t)h1 << 16)));
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++) {
        const int8_t *xb = xq + j * k + b * QK;
        __m512i xv = n2 == 2 ? _mm512_loadu_si512(xb) : _mm512_maskz_loadu_epi8(0xffffffffull, xb);
        xv = _mm512_mask_sub_epi8(xv, neg, _mm512_setzero_si512(), xv);
        __m512i pr = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wu, xv);
        __m128 xs = n2 == 2 ? _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(xd + j * nb + b)))
                            : _mm_load_ss(xd + j * nb + b);
        __m512 sc = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_mul_ps(wd, xs)));
        acc[j] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(pr), acc[j]);
    }
}

/* out[j] = q8_0 weight row p . activation row j, j < mr (a constant after inlining). */
TGT_INLINE void dot_q8_0(const uint8_t *p, const int8_t *xq, const float *xd, int64_t k, int mr,
                         float *out)
{
    const int64_t nb = k / QK;
    __m512 a[2][4];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        a[0][j] = a[1][j] = _mm512_setzero_ps();
    int64_t b = 0;
    /* pairs alternate between two accumulators: m = 1 would wait on FMA latency */
    for (; b + 4 <= nb; b += 4) {
        q8_pair(p + b * 34, 2, xq, xd, k, nb, b, mr, a[0]);
        q8_pair(p + (b + 2) * 34, 2, xq, xd, k, nb, b + 2, mr, a[1]);
    }
    if (b + 2 <= nb) {
        q8_pair(p + b * 34, 2, xq, xd, k, nb, b, mr, a[0]);
        b += 2;
    }
    if (b < nb)
        q8_pair(p + b * 34, 1, xq, xd, k, nb, b, mr, a[1]);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        out[j] = _mm512_reduce_add_ps(_mm512_add_ps(a[0][j], a[1][j]));
}

TGT static void rows_quant(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                           float *y, int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3], nb = k / QK;
    size_t row_bytes = nn_row_bytes(w->type, k);
    /* scratch: activations (m*k int8, 2*m*nb floats), then one unpacked weight row */
    size_t xq_bytes = ((size_t)(m * k) + 63) & ~(size_t)63;
    size_t xf_bytes = ((size_t)(2 * m * nb) * sizeof(float) + 63) & ~(size_t)63;
    size_t wq_bytes = (size_t)k, wf_bytes = (size_t)(2 * nb) * sizeof(float);
    uint8_t *scr = nn_scratch(xq_bytes + xf_bytes + wq_bytes + wf_bytes);
    if (!scr) { /* out of memory: the reference needs none */
        nn_matmul_range_ref(w, bias, x, m, y, row0, row1);
        return;
    }
    int8_t *xq = (int8_t *)scr;
    float *xd = (float *)(scr + xq_bytes), *xs = xd + m * nb;
    uint8_t *wq = scr + xq_bytes + xf_bytes;
    float *wd = (float *)(wq + wq_bytes), *wc = wd + nb;
    nn_quantize_act_q8_avx512(x, m, k, xq, xd, xs);
    const uint8_t *base = w->data;
    const int q8 = w->type == NN_Q8_0;
    for (int64_t r = row0; r < row1; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        int sg = q8 ? 1 : unpack_row(w->type, wr, nb, wq, wd, wc);
        float b = bias ? bias[r] : 0.0f, out[4] = {0};
        for (int64_t i0 = 0; i0 < m; i0 += 4) {
            const int8_t *q = xq + i0 * k;
            const float *d = xd + i0 * nb, *s = xs + i0 * nb;
            int mr = m - i0 >= 4 ? 4 : (int)(m - i0);
            if (q8) {
                switch (mr) {
                case 1: dot_q8_0(wr, q, d, k, 1, out); break;
                case 2: dot_q8_0(wr, q, d, k, 2, out); break;
                case 3: dot_q8_0(wr, q, d, k, 3, out); break;
                default: dot_q8_0(wr, q, d, k, 4, out); break;
                }
            } else {
                switch (mr) {
                case 1: dot_q8(wq, wd, wc, sg, q, d, s, k, 1, out); break;
                case 2: dot_q8(wq, wd, wc, sg, q, d, s, k, 2, out); break;
                case 3: dot_q8(wq, wd, wc, sg, q, d, s, k, 3, out); break;
                default: dot_q8(wq, wd, wc, sg, q, d, s, k, 4, out); break;
                }
            }
            for (int j = 0; j < 4 && i0 + j < m; j++)
                y[(i0 + j) * n + r] = out[j] + b;
        }
    }
}

TGT void nn_matmul_range_avx512(const nn_tensor *w, const float *bias, const float *x,
                                int64_t m, float *y, int64_t row0, int64_t row1)
{
    SOTTO_ASSERT(w && x && y && w->ne[0] > 0 && nn_row_bytes(w->type, w->ne[0]) > 0);
    if (m <= 0 || row1 <= row0)
        return;
    if (m > SMALL_M) {
        /* q4_0/q5_0/q8_0: integer dot products (gemm_q_avx512.c); others widen to f32 */
        if (nn_gemm_q_avx512(w, bias, x, m, y, row0, row1) != 0)
            gemm(w, bias, x, m, y, row0, row1);
    } else if (w->type == NN_F32 || w->type == NN_F16)
        m == 1 ? rows_float_m1(w, bias, x, y, row0, row1) : rows_float(w, bias, x, m, y, row0, row1);
    else
        rows_quant(w, bias, x, m, y, row0, row1);
}

#else /* not x86-64: never selected (matmul.c checks), but the symbol must exist */

void nn_matmul_range_avx512(const nn_tensor *w, const float *bias, const float *x,
                            int64_t m, float *y, int64_t row0, int64_t row1)
{
    nn_matmul_range_ref(w, bias, x, m, y, row0, row1);
}

#endif
