/*
 * gemm_q_avx512.c - the blocked GEMM for many input rows (m > 16: the encoder) with
 * q4_0, q5_0 or q8_0 weights on AVX-512 VNNI, in integer dot products as whisper.cpp
 * does: activations quantized to q8 blocks (32 int8 + scale, nn_quantize_act_q8's
 * values), weights unpacked to unsigned bytes, vpdpbusd sums 4 byte products per int32
 * lane, and each block's int32 sum is scaled once in fp32. 64 multiply-adds per
 * instruction instead of the f32 FMA's 16 (the float GEMM of matmul_avx512.c widens the
 * same weights to f32 panels).
 *
 * Weights become unsigned u = q + off (q4_0 nibbles are already q + 8, q5_0's 5-bit
 * values q + 16, q8_0 bytes flip their top bit: q + 128), so block b of a product is
 * d_w d_x (sum_j u_j x_j - off * sum_j x_j): the int32 accumulator starts at
 * -off * sum(x block), exact in integers. q4_1/q5_1 (an fp32 minimum per block) stay on
 * the float GEMM. Error: activation quantization, as the decoder's m <= 16 kernels: at
 * most sum over blocks of (amax_b / 254) sum_{l in b} |w_l| per output (plus float
 * rounding of the scales), ~1e-3 .. 1e-2 of the output range.
 *
 * Layout: for 32 weight rows and up to 16 blocks (512 columns), a panel of
 * 16 x 8 groups x (32 rows x 4 bytes): group g of block b holds, for each row, the
 * bytes of columns 4g .. 4g+3, so one 64-byte load feeds 16 rows to one vpdpbusd whose
 * other operand is 4 activation bytes broadcast. A 6 x 32 register tile (12 int32 and
 * 12 fp32 accumulators) reuses each loaded weight vector for 6 input rows.
 * Does not: choose kernels (matmul.c), handle m <= 16 (matmul_avx512.c).
 */
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "nn/avx512_int.h"

#define QK 32
#define MR 6   /* input rows per register tile */
#define NR 32  /* weight rows per panel (two zmm of int32 lanes) */
#define KB 16  /* blocks per panel: 512 columns, 16 KiB of bytes */
#define GROUP_BYTES (NR * 4)

/* The byte offset of a type's unsigned values (u = q + off); 0 when not handled here. */
static int type_offset(nn_type t)
{
    switch (t) {
    case NN_Q4_0: return 8;
    case NN_Q5_0: return 16;
    case NN_Q8_0: return 128;
    default: return 0;
    }
}

/* Rows [r0, r0 + nr) x blocks [b0, b0 + nbk) of a type-t weight (a constant after
 * inlining: block_q becomes straight-line code) into the panel (bytes pq, scales pd);
 * rows nr .. NR-1 get zero bytes and zero scales, so they add nothing. */
TGT_INLINE void pack_q_t(nn_type t, const nn_tensor *w, int64_t r0, int nr, int64_t b0, int nbk,
                         uint8_t *pq, float *pd)
{
    const size_t row_bytes = nn_row_bytes(t, w->ne[0]), bb = q_block_bytes(t);
    const uint8_t *base = w->data;
    _Alignas(32) uint8_t u[QK];
    for (int j = 0; j < NR; j++) {
        const uint8_t *row = j < nr ? base + (size_t)(r0 + j) * row_bytes + (size_t)b0 * bb : NULL;
        for (int b = 0; b < nbk; b++) {
            __m256i v = _mm256_setzero_si256();
            float d = 0.0f;
            if (row) {
                float mn; /* 0: the types here have none */
                v = block_q(t, row + (size_t)b * bb, &d, &mn);
                if (t == NN_Q8_0) /* q + 128 as a byte is q with its top bit flipped */
                    v = _mm256_xor_si256(v, _mm256_set1_epi8((char)0x80));
            }
            _mm256_store_si256((__m256i *)u, v);
            for (int g = 0; g < QK / 4; g++)
                memcpy(pq + (size_t)(b * 8 + g) * GROUP_BYTES + (size_t)j * 4, u + 4 * g, 4);
            pd[b * NR + j] = d;
        }
    }
}

/* pack_q_t for w's type (q4_0, q5_0 or q8_0: type_offset's). With the type a variable the
 * per-block switch made q5_0 products of 64 rows ~3% slower than the old per-type code. */
TGT static void pack_q(const nn_tensor *w, int64_t r0, int nr, int64_t b0, int nbk, uint8_t *pq,
                       float *pd)
{
    switch (w->type) {
    case NN_Q4_0: pack_q_t(NN_Q4_0, w, r0, nr, b0, nbk, pq, pd); break;
    case NN_Q5_0: pack_q_t(NN_Q5_0, w, r0, nr, b0, nbk, pq, pd); break;
    default: pack_q_t(NN_Q8_0, w, r0, nr, b0, nbk, pq, pd); break;
    }
}

/* Per activation block: -off * sum of its 32 int8 values (the int32 accumulator's start). */
TGT static void block_offsets(const int8_t *xq, int64_t n_blocks, int off, int32_t *xo)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t i = 0; i < n_blocks; i++) {
        /* sum(q) = sum(q + 128) - 32 * 128, the biased bytes summed by vpsadbw */
        __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(xq + i * QK)), flip);
        __m256i s = _mm256_sad_epu8(v, _mm256_setzero_si256());
        __m128i h = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        int64_t sum = _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1) - 32 * 128;
        xo[i] = (int32_t)(-off * sum);
    }
}

/*
 * c[i][0..32) (+)= sum over the panel's blocks of d_w d_x,i (int32 dot) for i < MR.
 * xq[i], xd[i], xo[i] point at block b0 of input row i; init: bias row, or NULL to
 * accumulate onto c.
 */
TGT_INLINE void tile_q(int nbk, const int8_t *const xq[MR], const float *const xd[MR],
                       const int32_t *const xo[MR], const uint8_t *pq, const float *pd, float *c,
                       int64_t ldc, const float *init)
{
    __m512 f[MR][2];
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        f[i][0] = init ? _mm512_loadu_ps(init) : _mm512_loadu_ps(c + i * ldc);
        f[i][1] = init ? _mm512_loadu_ps(init + 16) : _mm512_loadu_ps(c + i * ldc + 16);
    }
    for (int b = 0; b < nbk; b++) {
        __m512i a[MR][2];
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++)
            a[i][0] = a[i][1] = _mm512_set1_epi32(xo[i][b]);
        const uint8_t *pb = pq + (size_t)b * 8 * GROUP_BYTES;
        _Pragma("GCC unroll 8")
        for (int g = 0; g < QK / 4; g++) {
            __m512i w0 = _mm512_load_si512(pb + g * GROUP_BYTES);
            __m512i w1 = _mm512_load_si512(pb + g * GROUP_BYTES + 64);
            _Pragma("GCC unroll 8")
            for (int i = 0; i < MR; i++) {
                int32_t x4;
                memcpy(&x4, xq[i] + b * QK + 4 * g, 4);
                __m512i xv = _mm512_set1_epi32(x4);
                a[i][0] = _mm512_dpbusd_epi32(a[i][0], w0, xv);
                a[i][1] = _mm512_dpbusd_epi32(a[i][1], w1, xv);
            }
        }
        __m512 d0 = _mm512_load_ps(pd + b * NR), d1 = _mm512_load_ps(pd + b * NR + 16);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < MR; i++) {
            __m512 sx = _mm512_set1_ps(xd[i][b]);
            f[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[i][0]), _mm512_mul_ps(d0, sx), f[i][0]);
            f[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[i][1]), _mm512_mul_ps(d1, sx), f[i][1]);
        }
    }
    _Pragma("GCC unroll 8")
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(c + i * ldc, f[i][0]);
        _mm512_storeu_ps(c + i * ldc + 16, f[i][1]);
    }
}

TGT int nn_gemm_q_avx512(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                         float *y, int64_t row0, int64_t row1)
{
    const int off = type_offset(w->type);
    if (!off || m <= 0 || row1 <= row0)
        return off ? 0 : 1;
    const int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3], nb = k / QK;
    /* scratch: the quantized activations (m*k bytes; scales, sums and offsets per
     * block), then the panel (bytes, scales) */
    const size_t xq_bytes = ((size_t)(m * k) + 63) & ~(size_t)63;
    const size_t xb_bytes = ((size_t)(m * nb) * 4 + 63) & ~(size_t)63;
    const size_t pq_bytes = (size_t)KB * 8 * GROUP_BYTES, pd_bytes = (size_t)KB * NR * 4;
    uint8_t *scr = nn_scratch(xq_bytes + 3 * xb_bytes + pq_bytes + pd_bytes);
    if (!scr)
        return 1; /* out of memory: the float GEMM needs none */
    int8_t *xq = (int8_t *)scr;
    float *xd = (float *)(scr + xq_bytes), *xs = (float *)(scr + xq_bytes + xb_bytes);
    int32_t *xo = (int32_t *)(scr + xq_bytes + 2 * xb_bytes);
    uint8_t *pq = scr + xq_bytes + 3 * xb_bytes;
    float *pd = (float *)(pq + pq_bytes);
    nn_quantize_act_q8_avx512(x, m, k, xq, xd, xs);
    block_offsets(xq, m * nb, off, xo);

    _Alignas(64) float tile[MR * NR];
    _Alignas(64) float binit[NR];
    for (int64_t b0 = 0; b0 < nb; b0 += KB) {
        const int nbk = nb - b0 < KB ? (int)(nb - b0) : KB;
        for (int64_t r0 = row0; r0 < row1; r0 += NR) {
            const int nr = row1 - r0 < NR ? (int)(row1 - r0) : NR;
            pack_q(w, r0, nr, b0, nbk, pq, pd);
            const float *init = NULL; /* later column blocks accumulate onto y */
            if (b0 == 0) {
                for (int j = 0; j < NR; j++)
                    binit[j] = bias && j < nr ? bias[r0 + j] : 0.0f;
                init = binit;
            }
            for (int64_t i0 = 0; i0 < m; i0 += MR) {
                const int mr = m - i0 < MR ? (int)(m - i0) : MR;
                const int8_t *rq[MR];
                const float *rd[MR];
                const int32_t *ro[MR];
                _Pragma("GCC unroll 8")
                for (int i = 0; i < MR; i++) { /* missing rows repeat the last (not stored) */
                    const int64_t row = i0 + (i < mr ? i : mr - 1);
                    rq[i] = xq + row * k + b0 * QK;
                    rd[i] = xd + row * nb + b0;
                    ro[i] = xo + row * nb + b0;
                }
                float *c = y + i0 * n + r0;
                if (mr == MR && nr == NR) {
                    tile_q(nbk, rq, rd, ro, pq, pd, c, n, init);
                    continue;
                }
                /* edge tile: computed in a full-size scratch tile, the valid part copied */
                if (!init)
                    for (int i = 0; i < mr; i++)
                        memcpy(tile + i * NR, c + i * n, sizeof(float) * (size_t)nr);
                tile_q(nbk, rq, rd, ro, pq, pd, tile, NR, init);
                for (int i = 0; i < mr; i++)
                    memcpy(c + i * n, tile + i * NR, sizeof(float) * (size_t)nr);
            }
        }
    }
    return 0;
}

#else /* not x86-64: never called (the AVX-512 set is never chosen), the symbol exists */

int nn_gemm_q_avx512(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                     float *y, int64_t row0, int64_t row1)
{
    (void)w, (void)bias, (void)x, (void)m, (void)y, (void)row0, (void)row1;
    return 1;
}

#endif
