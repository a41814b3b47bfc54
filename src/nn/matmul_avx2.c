/*
 * matmul_avx2.c - nn_matmul_range for AVX2 + FMA + F16C CPUs (Haswell, Zen 1-3, and
 * AVX-512 CPUs when forced with SOTTO_NN_ISA=avx2).
 *
 * The same two kernels as matmul_avx512.c (see there), on 256-bit vectors:
 *  - m <= 16: each weight row streamed once; quantized rows dotted as int8 with the
 *    q8-quantized activations by vpmaddubsw + vpmaddwd (unsigned weights 0..31 times
 *    signed activations cannot saturate the int16 pair sums; q8_0 moves the weight sign
 *    onto the activation first, |sum| <= 2 * 128 * 127 < 32768).
 *  - m > 16: blocked GEMM, panels of 16 weight rows x 256 columns widened to f32, a
 *    6 x 16 register tile (12 ymm accumulators).
 * Per-function target attributes keep the library runnable on CPUs without AVX2.
 */
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define TGT __attribute__((target("avx2,fma,f16c")))
#define TGT_INLINE static inline __attribute__((always_inline)) TGT

#define QK 32
#define SMALL_M 16 /* up to this many input rows: the streaming kernels */
#define MR 6       /* GEMM register tile: input rows ... */
#define NR 16      /* ... x weight rows (two ymm) */
#define KC 512     /* weight columns per packed panel: 16 x 256 floats = 16 KiB */

/* ---- blocked GEMM (m > 16) --------------------------------------------------------- */

/* c[i][0..16) (+)= sum_kk x_i[kk] * panel[kk][0..16) for i < 6; init: bias row or NULL
 * to accumulate onto c. */
TGT_INLINE void gemm_tile(int64_t kc, const float *const xr[MR], const float *panel, float *c,
                          int64_t ldc, const float *init)
{
    __m256 a[MR][2];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        a[i][0] = init ? _mm256_loadu_ps(init) : _mm256_loadu_ps(c + i * ldc);
        a[i][1] = init ? _mm256_loadu_ps(init + 8) : _mm256_loadu_ps(c + i * ldc + 8);
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        __m256 w0 = _mm256_load_ps(panel + kk * NR), w1 = _mm256_load_ps(panel + kk * NR + 8);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) {
            __m256 xv = _mm256_broadcast_ss(xr[i] + kk);
            a[i][0] = _mm256_fmadd_ps(xv, w0, a[i][0]);
            a[i][1] = _mm256_fmadd_ps(xv, w1, a[i][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(c + i * ldc, a[i][0]);
        _mm256_storeu_ps(c + i * ldc + 8, a[i][1]);
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
            nn_pack_panel(w, r0, nr, NR, k0, kc, panel);
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

TGT_INLINE __m256 load_w8(const uint8_t *p, int f16)
{
    if (f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    return _mm256_loadu_ps((const float *)p);
}

TGT_INLINE float fp16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

TGT_INLINE float hsum8(__m256 s)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* out[j] = dot(weight row wr, x row j) for j < mr (a constant after inlining). */
TGT_INLINE void dot_float(const uint8_t *wr, int f16, const float *x, int64_t k, int mr,
                          float *out)
{
    const size_t es = f16 ? 2 : 4;
    __m256 a[4][2];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        a[j][0] = a[j][1] = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + 16 <= k; kk += 16) { /* two chains: m = 1 would wait on FMA latency */
        __m256 w0 = load_w8(wr + kk * es, f16), w1 = load_w8(wr + (kk + 8) * es, f16);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < mr; j++) {
            a[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j * k + kk), a[j][0]);
            a[j][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + j * k + kk + 8), a[j][1]);
        }
    }
    for (; kk + 8 <= k; kk += 8) {
        __m256 w0 = load_w8(wr + kk * es, f16);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < mr; j++)
            a[j][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + j * k + kk), a[j][0]);
    }
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++)
        out[j] = hsum8(_mm256_add_ps(a[j][0], a[j][1]));
    for (; kk < k; kk++) { /* fewer than 8 left: scalar, reading no byte past the row */
        float wv;
        if (f16)
            wv = fp16_at(wr + kk * 2);
        else
            memcpy(&wv, wr + kk * 4, 4);
        _Pragma("GCC unroll 8")
        for (int j = 0; j < mr; j++)
            out[j] += wv * x[j * k + kk];
    }
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

/* 32 bits -> 32 bytes, 0xff where the bit is set (ggml's bytes_from_bits_32). */
TGT_INLINE __m256i bits_to_bytes(uint32_t bits)
{
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

/* 16 packed nibble bytes -> 32 values 0..15: low nibbles first, as ggml stores them. */
TGT_INLINE __m256i nibbles(const uint8_t *qs)
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs), lo4 = _mm_set1_epi8(0x0f);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), lo4), _mm_and_si128(v, lo4));
}

/* One block of a q4_0 / q4_1 / q5_0 / q5_1 / q8_0 row at p: the values as stored (0..15,
 * 0..31, int8), *d the scale, *mn the minimum (q*_1, else 0); avx512_int.h's block_q on
 * AVX2 (the q5 high bits through bits_to_bytes: no byte masks without AVX-512). */
TGT_INLINE __m256i block_q(nn_type t, const uint8_t *p, float *d, float *mn)
{
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    uint32_t qh;
    *d = fp16_at(p);
    *mn = 0.0f;
    switch (t) {
    case NN_Q4_0:
        return nibbles(p + 2);
    case NN_Q4_1:
        *mn = fp16_at(p + 2);
        return nibbles(p + 4);
    case NN_Q5_0:
        memcpy(&qh, p + 2, 4);
        return _mm256_or_si256(nibbles(p + 6), _mm256_and_si256(bits_to_bytes(qh), bit4));
    case NN_Q5_1:
        *mn = fp16_at(p + 2);
        memcpy(&qh, p + 4, 4);
        return _mm256_or_si256(nibbles(p + 8), _mm256_and_si256(bits_to_bytes(qh), bit4));
    default: /* NN_Q8_0 */
        return _mm256_loadu_si256((const __m256i *)(p + 2));
    }
}

/* unpack_row's loop for one type, a constant after inlining (block_q and the block size
 * fold; as in matmul_avx512.c, where the per-block switch cost m = 1 products 5-10%). */
TGT_INLINE void unpack_blocks(nn_type t, const uint8_t *p, int64_t nb, uint8_t *wq, float *wd,
                              float *wc)
{
    const size_t bb = t == NN_Q4_0 ? 18 : t == NN_Q4_1 ? 20 : t == NN_Q5_0 ? 22
                    : t == NN_Q5_1 ? 24 : 34;
    for (int64_t b = 0; b < nb; b++) {
        float d, mn;
        __m256i v = block_q(t, p + (size_t)b * bb, &d, &mn);
        wd[b] = d;
        wc[b] = t == NN_Q4_0 ? -8.0f * d : t == NN_Q5_0 ? -16.0f * d : mn; /* q8_0: unused */
        _mm256_store_si256((__m256i *)(wq + b * QK), v);
    }
}

/*
 * One weight row into wq (32 bytes a block), wd (block scale) and wc (the constant the
 * block's activation sum is multiplied by). Returns 1 when wq holds signed values
 * (q8_0), 0 for unsigned 0..31.
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
    /* vpmaddubsw multiplies unsigned by signed bytes: a signed weight gives its magnitude
     * and moves its sign onto the activation */
    __m256i wu = is_signed ? _mm256_sign_epi8(wv, wv) : wv;
    _Pragma("GCC unroll 8")
    for (int j = 0; j < mr; j++) {
        __m256i xv = _mm256_load_si256((const __m256i *)(xq + j * k + b * QK));
        if (is_signed)
            xv = _mm256_sign_epi8(xv, wv);
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wu, xv), _mm256_set1_epi16(1));
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
        float r = hsum8(_mm256_add_ps(a[0][j], a[1][j]));
        if (!is_signed) {
            __m256 c = _mm256_setzero_ps();
            int64_t c0 = 0;
            for (; c0 + 8 <= nb; c0 += 8)
                c = _mm256_fmadd_ps(_mm256_loadu_ps(wc + c0), _mm256_loadu_ps(xs + j * nb + c0),
                                    c);
            r += hsum8(c);
            for (; c0 < nb; c0++)
                r += wc[c0] * xs[j * nb + c0];
        }
        out[j] = r;
    }
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
    nn_quantize_act_q8(x, m, k, xq, xd, xs);
    const uint8_t *base = w->data;
    for (int64_t r = row0; r < row1; r++) {
        int sg = unpack_row(w->type, base + (size_t)r * row_bytes, nb, wq, wd, wc);
        float b = bias ? bias[r] : 0.0f, out[4] = {0};
        for (int64_t i0 = 0; i0 < m; i0 += 4) {
            const int8_t *q = xq + i0 * k;
            const float *d = xd + i0 * nb, *s = xs + i0 * nb;
            switch (m - i0 >= 4 ? 4 : (int)(m - i0)) {
            case 1: dot_q8(wq, wd, wc, sg, q, d, s, k, 1, out); break;
            case 2: dot_q8(wq, wd, wc, sg, q, d, s, k, 2, out); break;
            case 3: dot_q8(wq, wd, wc, sg, q, d, s, k, 3, out); break;
            default: dot_q8(wq, wd, wc, sg, q, d, s, k, 4, out); break;
            }
            for (int j = 0; j < 4 && i0 + j < m; j++)
                y[(i0 + j) * n + r] = out[j] + b;
        }
    }
}

TGT void nn_matmul_range_avx2(const nn_tensor *w, const float *bias, const float *x,
                                int64_t m, float *y, int64_t row0, int64_t row1)
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

#else /* not x86-64: never selected (matmul.c checks), but the symbol must exist */

void nn_matmul_range_avx2(const nn_tensor *w, const float *bias, const float *x,
                            int64_t m, float *y, int64_t row0, int64_t row1)
{
    nn_matmul_range_ref(w, bias, x, m, y, row0, row1);
}

#endif
