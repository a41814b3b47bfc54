/*
 * test_nn_simd.c - the ISA matmul kernels (AVX2, AVX-512, NEON) against the scalar
 * reference nn_matmul_range_ref, for every weight type, plus the kernel-set dispatch;
 * f16 products of attention shapes (the decoder's f16 cross-attention K/V), and the
 * f32 -> f16 row conversions (bit-exact against nn_fp32_to_fp16, guard values around),
 * and the AVX-512 softmax and GELU against the reference. f32 attention shapes (the
 * encoder's self-attention K and V^T, packed into GEMM panels per query tile) too.
 *
 * A kernel set this CPU lacks is skipped with a note on stdout, not failed.
 * Shapes cover m = 1, 3, 16 (streaming kernels) and 17 .. 100 (blocked GEMM), k up to
 * 5120 (several 256-column panels), n and row ranges that start and end mid-tile, and
 * weight data offset 1..3 bytes from alignment. y has guard floats before and after,
 * and every column outside [row0, row1) must keep its sentinel.
 * Bounds, per output element, with mag = sum_l |x_l w_l|:
 *  - f32/f16 weights, and every type when m > 16 (weights widened to f32) except below:
 *    |y - ref| <= 1e-5 * mag (float32 summation order only).
 *  - quantized weights with m <= 16, and q4_0/q5_0/q8_0 with m > 16 on AVX-512 (VNNI
 *    GEMM, gemm_q_avx512.c) (activations quantized to q8 blocks, scale
 *    d = amax/127, rounding error <= d/2 per activation): |y - ref| <= sum over blocks
 *    of d_b/2 * sum_{l in b} |w_l| + 1e-5 * mag, a strict bound. Typical error is far
 *    below it; each run prints max|y-ref|/max|ref| (measured: ~2e-3 .. 4e-3).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nn/nn.h"
#include "sotto/error.h"

#define SENTINEL 1234.5f
#define GUARD 16

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static float grand(void)
{
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += urand() - 0.5;
    return (float)(s * 1.7);
}

typedef struct shape {
    int64_t m, k, n, row0, row1;
} shape;

/* Runs one product under the current kernel set; returns max|y-ref| / max|ref|. */
static double check_one(nn_type t, shape s, int offset, int with_bias)
{
    const int64_t m = s.m, k = s.k, n = s.n;
    size_t row = nn_row_bytes(t, k);
    ASSERT_TRUE(row > 0);
    uint8_t *wbuf = malloc(row * (size_t)n + 8);
    float *wf = malloc(sizeof(float) * (size_t)(n * k));
    float *src = malloc(sizeof(float) * (size_t)k);
    float *x = malloc(sizeof(float) * (size_t)(m * k));
    float *bias = malloc(sizeof(float) * (size_t)n);
    size_t ylen = (size_t)(m * n) + 2 * GUARD;
    float *y = malloc(sizeof(float) * ylen), *yr = malloc(sizeof(float) * ylen);
    ASSERT_TRUE(wbuf && wf && src && x && bias && y && yr);
    uint8_t *wd = wbuf + offset;
    for (int64_t r = 0; r < n; r++) {
        for (int64_t l = 0; l < k; l++)
            src[l] = grand();
        nn_quantize_row(t, src, wd + (size_t)r * row, k);
        nn_dequantize_row(t, wd + (size_t)r * row, wf + r * k, k);
    }
    for (int64_t i = 0; i < m * k; i++) /* a few large values widen the q8 block scales */
        x[i] = urand() < 0.02 ? grand() * 8 : grand();
    for (int64_t i = 0; i < n; i++)
        bias[i] = grand();
    for (size_t i = 0; i < ylen; i++)
        y[i] = yr[i] = SENTINEL;
    nn_tensor w = {.name = "w", .type = t, .n_dims = 2, .ne = {k, n, 1, 1}, .data = wd,
                   .nbytes = row * (size_t)n};
    const float *b = with_bias ? bias : NULL;
    nn_matmul_range(&w, b, x, m, y + GUARD, s.row0, s.row1);
    nn_matmul_range_ref(&w, b, x, m, yr + GUARD, s.row0, s.row1);

    for (int i = 0; i < GUARD; i++) {
        ASSERT_TRUE(y[i] == SENTINEL);
        ASSERT_TRUE(y[GUARD + m * n + i] == SENTINEL);
    }
    /* the AVX-512 GEMM takes q4_0/q5_0/q8_0 in integer dot products too (gemm_q_avx512.c) */
    int int_gemm = strcmp(nn_isa_name(), "avx512") == 0 &&
                   (t == NN_Q4_0 || t == NN_Q5_0 || t == NN_Q8_0);
    int act_quant = t != NN_F32 && t != NN_F16 && (m <= 16 || int_gemm);
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float got = y[GUARD + i * n + j], ref = yr[GUARD + i * n + j];
            if (j < s.row0 || j >= s.row1) {
                if (got != SENTINEL)
                    CHECK_FAIL("%s %s: column %lld outside [%lld, %lld) written", nn_isa_name(),
                               nn_type_name(t), (long long)j, (long long)s.row0,
                               (long long)s.row1);
                continue;
            }
            double mag = 0, qbound = 0;
            for (int64_t b0 = 0; b0 < k; b0 += 32) {
                double amax = 0, wsum = 0;
                for (int64_t l = b0; l < b0 + 32 && l < k; l++) {
                    const double xv = x[i * k + l], wv = wf[j * k + l];
                    mag += fabs(xv * wv);
                    wsum += fabs(wv);
                    amax = fabs(xv) > amax ? fabs(xv) : amax;
                }
                qbound += amax / 127.0 * 0.5 * wsum;
            }
            double bound = 1e-5 * mag + 1e-6 + (act_quant ? qbound * 1.0001 : 0.0);
            double diff = fabs((double)got - ref);
            if (!(diff <= bound))
                CHECK_FAIL("%s %s m=%lld k=%lld n=%lld rows [%lld,%lld) off %d: y[%lld][%lld] = "
                           "%.9g, reference %.9g (bound %g)", nn_isa_name(), nn_type_name(t),
                           (long long)m, (long long)k, (long long)n, (long long)s.row0,
                           (long long)s.row1, offset, (long long)i, (long long)j, got, ref,
                           bound);
            max_diff = diff > max_diff ? diff : max_diff;
            max_ref = fabs(ref) > max_ref ? fabs(ref) : max_ref;
        }
    }
    free(wbuf);
    free(wf);
    free(src);
    free(x);
    free(bias);
    free(y);
    free(yr);
    return max_ref > 0 ? max_diff / max_ref : max_diff;
}

static const shape shapes[] = {
    {1, 64, 37, 0, 37},      {1, 512, 70, 5, 61},    {3, 256, 70, 5, 61},
    {16, 384, 45, 3, 40},    {2, 96, 33, 1, 32},     {1, 5120, 19, 2, 19},
    {3, 5120, 9, 0, 9},      {17, 96, 50, 1, 49},    {40, 160, 67, 7, 66},
    {100, 288, 33, 0, 33},   {24, 5120, 40, 13, 39}, {53, 640, 97, 31, 96},
    {150, 384, 64, 16, 48},
};
static const shape float_shapes[] = { /* k not a multiple of the block or vector length */
    {1, 7, 9, 0, 9}, {5, 13, 30, 2, 29}, {18, 300, 35, 1, 35}, {33, 259, 70, 9, 63},
    {4, 1, 5, 0, 5},
};

static void check_isa(const char *isa)
{
    if (!nn_isa_supported(isa)) {
        printf("note: kernel set %s is not supported on this machine: skipped\n", isa);
        return;
    }
    ASSERT_OK(nn_isa_set(isa));
    ASSERT_STR_EQ(nn_isa_name(), isa);
    const nn_type types[] = {NN_F32, NN_F16, NN_Q8_0, NN_Q5_0, NN_Q5_1, NN_Q4_0, NN_Q4_1};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        double worst_small = 0, worst_gemm = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            double e = check_one(types[t], shapes[i], (int)(i % 4), (int)(i % 3 != 2));
            if (shapes[i].m <= 16)
                worst_small = e > worst_small ? e : worst_small;
            else
                worst_gemm = e > worst_gemm ? e : worst_gemm;
        }
        if (types[t] == NN_F32 || types[t] == NN_F16)
            for (size_t i = 0; i < sizeof float_shapes / sizeof float_shapes[0]; i++)
                (void)check_one(types[t], float_shapes[i], (int)(1 + i % 3), 1);
        printf("%s %-5s max|y-ref|/max|ref|: m<=16 %.2e, m>16 %.2e\n", isa,
               nn_type_name(types[t]), worst_small, worst_gemm);
    }
}

/* Attention-shaped f16 products: the decoder's cross-attention reads K as 1500 rows of
 * d_head (64) and V^T as d_head rows of 1500, for 1 query row (greedy), 5 (a beam step),
 * 16 and 64 (a prompt tile, blocked GEMM), with row ranges that split a head. */
static const shape attn_shapes[] = {
    {1, 64, 1500, 0, 1500}, {5, 64, 1500, 16, 1493}, {16, 64, 1500, 0, 1500},
    {64, 64, 1500, 32, 1500}, {1, 1500, 64, 0, 64}, {5, 1500, 64, 16, 48},
    {64, 1500, 64, 0, 64}, {1, 80, 1500, 0, 1500}, {3, 1500, 80, 7, 80},
};

static void check_attention_f16(const char *isa)
{
    if (!nn_isa_supported(isa)) {
        printf("note: kernel set %s is not supported on this machine: skipped\n", isa);
        return;
    }
    const char *saved = nn_isa_name();
    ASSERT_OK(nn_isa_set(isa));
    double worst = 0;
    for (size_t i = 0; i < sizeof attn_shapes / sizeof attn_shapes[0]; i++) {
        double e = check_one(NN_F16, attn_shapes[i], 0, 0);
        worst = e > worst ? e : worst;
    }
    printf("%s f16 attention shapes max|y-ref|/max|ref|: %.2e\n", isa, worst);
    ASSERT_OK(nn_isa_set(saved));
}

/* The encoder's self-attention: f32 K (1500 rows of 64) and V^T (64 rows of 1500, k not
 * a multiple of 32) for a 64-row query tile and row ranges that split a panel: the blocked
 * GEMM's panel packing on every column edge. Bound as check_one's (1e-5 * mag). */
TEST(attention_f32_matches_reference)
{
    static const char *const isas[] = {"scalar", "avx2", "avx512", "neon"};
    static const shape f32_shapes[] = {
        {64, 64, 1500, 0, 1500}, {64, 64, 1500, 48, 1488}, {17, 64, 100, 5, 99},
        {64, 1500, 64, 0, 64},   {40, 1500, 64, 16, 48},   {64, 1499, 45, 0, 45},
        {33, 240, 70, 0, 70},    {20, 23, 37, 1, 37},
    };
    const char *saved = nn_isa_name();
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        if (!nn_isa_supported(isas[s])) {
            printf("note: kernel set %s is not supported on this machine: skipped\n", isas[s]);
            continue;
        }
        ASSERT_OK(nn_isa_set(isas[s]));
        double worst = 0;
        for (size_t i = 0; i < sizeof f32_shapes / sizeof f32_shapes[0]; i++) {
            double e = check_one(NN_F32, f32_shapes[i], (int)(i % 4), (int)(i % 2));
            worst = e > worst ? e : worst;
        }
        printf("%s f32 attention shapes max|y-ref|/max|ref|: %.2e\n", isas[s], worst);
    }
    ASSERT_OK(nn_isa_set(saved));
}

TEST(attention_f16_matches_reference)
{
    check_attention_f16("scalar");
    check_attention_f16("avx2");
    check_attention_f16("avx512");
    check_attention_f16("neon");
}

/* Values that exercise every rounding case of f32 -> f16: zeros, subnormal results
 * (including the smallest and halfway ones), ties to even, the largest finite half and
 * the first values that round to infinity, infinities, NaNs, then random values over a
 * wide exponent range. */
static void fp16_inputs(float *x, size_t n)
{
    static const uint32_t special[] = {
        0x00000000u, 0x80000000u, 0x33800000u, 0x33000000u, 0x33000001u, 0x387fc000u,
        0x38800000u, 0x3f800000u, 0x3f801000u, 0x3f803000u, 0x3f801001u, 0x477fe000u,
        0x477fefffu, 0x477ff000u, 0x47800000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
        0x7fc00000u, 0xffc12345u, 0x7f800001u, 0x00000001u, 0xb3800000u, 0xc77ff000u};
    const size_t ns = sizeof special / sizeof special[0];
    for (size_t i = 0; i < n; i++) {
        if (i < ns) {
            memcpy(&x[i], &special[i], 4);
        } else {
            double mag = ldexp(1.0, (int)(urand() * 44) - 28); /* 2^-28 .. 2^15 */
            x[i] = (float)((urand() - 0.5) * 2.0 * mag);
        }
    }
}

typedef void (*to_f16_fn)(const float *, uint16_t *, size_t);

static void check_fp16_row(const char *isa, to_f16_fn fn)
{
    if (!nn_isa_supported(isa)) {
        printf("note: kernel set %s is not supported on this machine: skipped\n", isa);
        return;
    }
    enum { N = 1037, G = 8 };
    const uint16_t guard = 0xbeef;
    float *src = malloc(sizeof(float) * (N + 3));
    uint16_t *got = malloc(sizeof(uint16_t) * (N + 2 * G)), want[N];
    ASSERT_TRUE(src && got);
    const size_t lens[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 100, N};
    for (int off = 0; off < 3; off++) { /* unaligned source rows too */
        float *x = src + off;
        fp16_inputs(x, N);
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < N + 2 * G; i++)
                got[i] = guard;
            fn(x, got + G, n);
            for (size_t i = 0; i < n; i++)
                want[i] = nn_fp32_to_fp16(x[i]);
            for (size_t i = 0; i < n; i++) {
                uint32_t bits;
                memcpy(&bits, &x[i], 4);
                if (got[G + i] != want[i])
                    CHECK_FAIL("%s: fp16 of %a (bits %08x) is %04x, reference %04x (n %zu)", isa,
                               (double)x[i], (unsigned)bits, got[G + i], want[i], n);
            }
            for (size_t i = 0; i < G; i++)
                ASSERT_TRUE(got[i] == guard);
            for (size_t i = G + n; i < N + 2 * G; i++)
                ASSERT_TRUE(got[i] == guard);
        }
    }
    /* the dispatching entry point follows the kernel set */
    const char *saved = nn_isa_name();
    ASSERT_OK(nn_isa_set(isa));
    nn_fp32_to_fp16_row(src, got, N);
    for (size_t i = 0; i < N; i++)
        ASSERT_TRUE(got[i] == nn_fp32_to_fp16(src[i]));
    ASSERT_OK(nn_isa_set(saved));
    free(src);
    free(got);
}

TEST(fp16_row_matches_reference)
{
    /* the reference itself: a few values whose halves are known */
    ASSERT_EQ(nn_fp32_to_fp16(1.0f), 0x3c00);
    ASSERT_EQ(nn_fp32_to_fp16(65504.0f), 0x7bff);
    ASSERT_EQ(nn_fp32_to_fp16(65520.0f), 0x7c00);          /* rounds up to infinity */
    ASSERT_EQ(nn_fp32_to_fp16(1.0f + 0x1p-11f), 0x3c00);   /* tie: to even */
    ASSERT_EQ(nn_fp32_to_fp16(1.0f + 0x3p-11f), 0x3c02);   /* tie: to even (up) */
    ASSERT_EQ(nn_fp32_to_fp16(0x1p-24f), 0x0001);          /* smallest subnormal */
    ASSERT_EQ(nn_fp32_to_fp16(0x1p-25f), 0x0000);          /* tie below it: to zero */
    check_fp16_row("scalar", nn_fp32_to_fp16_row_ref);
    check_fp16_row("avx2", nn_fp32_to_fp16_row_avx2);
    check_fp16_row("avx512", nn_fp32_to_fp16_row_avx512);
    check_fp16_row("neon", nn_fp32_to_fp16_row_neon);
}

/* nn_softmax_avx512 against nn_softmax_ref: row lengths around the vector width and the
 * decoder's (448, 1500), scores of several spreads, rows with -inf entries (masked) and
 * an all -inf row (zeros); guard values around the row. Bound per element:
 * |got - ref| <= 2e-6 * ref + 1e-37 (same polynomial; FMA and summation order only). */
TEST(softmax_avx512_matches_reference)
{
    if (!nn_isa_supported("avx512")) {
        printf("note: kernel set avx512 is not supported on this machine: skipped\n");
        return;
    }
    enum { MAXN = 1501, G = 16 };
    const size_t lens[] = {0, 1, 2, 5, 15, 16, 17, 31, 32, 33, 100, 448, 1500, MAXN};
    const double spreads[] = {0.1, 3.0, 40.0};
    float *a = malloc(sizeof(float) * (MAXN + 2 * G)), *r = malloc(sizeof(float) * MAXN);
    ASSERT_TRUE(a && r);
    double worst = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (size_t si = 0; si < 4; si++) {
            const size_t n = lens[li];
            for (size_t i = 0; i < MAXN + 2 * G; i++)
                a[i] = SENTINEL;
            for (size_t i = 0; i < n; i++) {
                if (si == 3) /* everything masked */
                    a[G + i] = -INFINITY;
                else
                    a[G + i] = urand() < 0.05 ? -INFINITY : (float)(grand() * spreads[si]);
            }
            memcpy(r, a + G, sizeof(float) * n);
            nn_softmax_avx512(a + G, n);
            nn_softmax_ref(r, n);
            double sum = 0;
            int all_masked = 1;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)a[G + i] - r[i]);
                if (!(d <= 2e-6 * r[i] + 1e-37))
                    CHECK_FAIL("softmax n=%zu case %zu: [%zu] = %.9g, reference %.9g", n, si, i,
                               a[G + i], r[i]);
                worst = r[i] > 0 && d / r[i] > worst ? d / r[i] : worst;
                sum += a[G + i];
                all_masked &= r[i] == 0.0f;
            }
            if (n > 0 && !all_masked)
                ASSERT_NEAR(sum, 1.0, 1e-5);
            if (si == 3)
                ASSERT_TRUE(all_masked);
            for (size_t i = 0; i < G; i++) {
                ASSERT_TRUE(a[i] == SENTINEL);
                ASSERT_TRUE(a[G + n + i] == SENTINEL);
            }
        }
    }
    printf("avx512 softmax: max relative difference %.2e\n", worst);
    /* nn_softmax follows the kernel set */
    const char *saved = nn_isa_name();
    for (size_t i = 0; i < 100; i++)
        a[i] = r[i] = grand();
    ASSERT_OK(nn_isa_set("avx512"));
    nn_softmax(a, 100);
    nn_softmax_avx512(r, 100);
    ASSERT_TRUE(memcmp(a, r, sizeof(float) * 100) == 0);
    ASSERT_OK(nn_isa_set(saved));
    free(a);
    free(r);
}

/* nn_gelu_avx512 against nn_gelu_ref: lengths around the vector width and an MLP row
 * (2048), values from the linear part to where e^(-2u) clamps (|v| up to ~60), zeros,
 * tiny values; guard values around the row. Same formula and exp; FMA rounding only,
 * but an ulp of difference in the exp argument a = -2u is a relative error of |a| ulp
 * in e^a, and for v < 0 the output inherits it: |got - ref| <= (1e-6 + 2.4e-7 |a|)
 * |ref| + 1e-37. */
TEST(gelu_avx512_matches_reference)
{
    if (!nn_isa_supported("avx512")) {
        printf("note: kernel set avx512 is not supported on this machine: skipped\n");
        return;
    }
    enum { MAXN = 2049, G = 16 };
    const size_t lens[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 2048, MAXN};
    const double spreads[] = {1e-3, 1.0, 4.0, 30.0};
    float *a = malloc(sizeof(float) * (MAXN + 2 * G)), *r = malloc(sizeof(float) * MAXN);
    float *in = malloc(sizeof(float) * MAXN);
    ASSERT_TRUE(a && r && in);
    double worst = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        for (size_t si = 0; si < sizeof spreads / sizeof spreads[0]; si++) {
            const size_t n = lens[li];
            for (size_t i = 0; i < MAXN + 2 * G; i++)
                a[i] = SENTINEL;
            for (size_t i = 0; i < n; i++)
                a[G + i] = urand() < 0.02 ? 0.0f : (float)(grand() * spreads[si]);
            memcpy(r, a + G, sizeof(float) * n);
            memcpy(in, a + G, sizeof(float) * n);
            nn_gelu_avx512(a + G, n);
            nn_gelu_ref(r, n);
            for (size_t i = 0; i < n; i++) {
                const double v = in[i], arg = 2 * 0.7978845608 * fabs(v + 0.044715 * v * v * v);
                const double rel = 1e-6 + 2.4e-7 * (arg < 176.6 ? arg : 176.6);
                double d = fabs((double)a[G + i] - r[i]);
                if (!(d <= rel * fabs(r[i]) + 1e-37))
                    CHECK_FAIL("gelu n=%zu spread %g: [%zu] gelu(%.9g) = %.9g, reference %.9g",
                               n, spreads[si], i, v, a[G + i], r[i]);
                worst = r[i] != 0 && d / fabs(r[i]) > worst ? d / fabs(r[i]) : worst;
            }
            for (size_t i = 0; i < G; i++) {
                ASSERT_TRUE(a[i] == SENTINEL);
                ASSERT_TRUE(a[G + n + i] == SENTINEL);
            }
        }
    }
    printf("avx512 gelu: max relative difference %.2e\n", worst);
    /* nn_gelu follows the kernel set */
    const char *saved = nn_isa_name();
    for (size_t i = 0; i < 100; i++)
        a[i] = r[i] = grand();
    ASSERT_OK(nn_isa_set("avx512"));
    nn_gelu(a, 100);
    nn_gelu_avx512(r, 100);
    ASSERT_TRUE(memcmp(a, r, sizeof(float) * 100) == 0);
    ASSERT_OK(nn_isa_set("scalar"));
    for (size_t i = 0; i < 100; i++)
        a[i] = r[i] = grand();
    nn_gelu(a, 100);
    nn_gelu_ref(r, 100);
    ASSERT_TRUE(memcmp(a, r, sizeof(float) * 100) == 0);
    ASSERT_OK(nn_isa_set(saved));
    free(a);
    free(r);
    free(in);
}

/* nn_quantize_act_q8_avx512 against nn_quantize_act_q8: the same int8 values, scales and
 * sums bit for bit (every integer kernel relies on it), on rows with zeros, NaN, huge
 * and tiny values, exact .5 ties, and an all-zero block; guard bytes after the output. */
TEST(quantize_act_avx512_is_bit_identical)
{
    if (!nn_isa_supported("avx512")) {
        printf("note: kernel set avx512 is not supported on this machine: skipped\n");
        return;
    }
    enum { M = 5, K = 256, NB = K / 32, G = 64 };
    float *x = malloc(sizeof(float) * M * K);
    int8_t *q = malloc(M * K + G), *qr = malloc(M * K + G);
    float d[M * NB], s[M * NB], dr[M * NB], sr[M * NB];
    ASSERT_TRUE(x && q && qr);
    for (int i = 0; i < M * K; i++) {
        double u = urand();
        x[i] = u < 0.01 ? NAN : u < 0.03 ? 0.0f : u < 0.05 ? 1e30f : u < 0.07 ? 1e-30f
             : (float)(grand() * (i % 7 + 1));
    }
    for (int j = 0; j < 32; j++) {
        x[32 + j] = 0.0f;              /* an all-zero block: scale 0, values 0 */
        x[64 + j] = (float)(j - 16) * 0.5f * 127.0f / 8.0f; /* amax 127: exact ties */
    }
    memset(q, 0x5a, M * K + G);
    memset(qr, 0x5a, M * K + G);
    nn_quantize_act_q8_avx512(x, M, K, q, d, s);
    nn_quantize_act_q8(x, M, K, qr, dr, sr);
    ASSERT_TRUE(memcmp(q, qr, M * K + G) == 0); /* guard bytes untouched in both */
    ASSERT_TRUE(memcmp(d, dr, sizeof d) == 0);
    ASSERT_TRUE(memcmp(s, sr, sizeof s) == 0);
    free(x);
    free(q);
    free(qr);
}

TEST(avx2_matches_reference)
{
    check_isa("avx2");
}

TEST(avx512_matches_reference)
{
    check_isa("avx512");
}

TEST(neon_matches_reference)
{
    check_isa("neon");
}

TEST(isa_set_and_name)
{
    const char *best = nn_isa_name();
    ASSERT_TRUE(nn_isa_supported(best));
    ASSERT_TRUE(nn_isa_supported("scalar"));
    ASSERT_TRUE(!nn_isa_supported("sse9"));
    ASSERT_EQ(nn_isa_set("sse9"), SOTTO_EINVAL);
    ASSERT_STR_EQ(nn_isa_name(), best); /* a refused switch keeps the current set */
    ASSERT_OK(nn_isa_set("scalar"));
    ASSERT_STR_EQ(nn_isa_name(), "scalar");
    ASSERT_OK(nn_isa_set(best));
#if defined(__x86_64__)
    ASSERT_TRUE(!nn_isa_supported("neon"));
    ASSERT_EQ(nn_isa_set("neon"), SOTTO_EINVAL);
#endif
#if defined(__aarch64__) /* NEON is mandatory there; the x86 sets never run */
    ASSERT_TRUE(nn_isa_supported("neon"));
    ASSERT_TRUE(!nn_isa_supported("avx2") && !nn_isa_supported("avx512"));
    ASSERT_EQ(nn_isa_set("avx512"), SOTTO_EINVAL);
    ASSERT_STR_EQ(nn_isa_name(), best);
#endif
}

/* With SOTTO_NN_ISA_EXPECT set (by isa_env_override), the set chosen at first use. */
TEST(isa_from_env)
{
    const char *want = getenv("SOTTO_NN_ISA_EXPECT");
    const char *got = nn_isa_name();
    if (want)
        ASSERT_STR_EQ(got, want);
    else
        ASSERT_TRUE(nn_isa_supported(got));
}

TEST(isa_env_override)
{
    const char *best = nn_isa_name();
    char self[512];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    ASSERT_TRUE(len > 0);
    self[len] = '\0';
    /* forced scalar; an unknown name falls back to the best set and says so on stderr */
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "SOTTO_NN_ISA=scalar SOTTO_NN_ISA_EXPECT=scalar '%s' isa_from_env >/dev/null && "
             "SOTTO_NN_ISA=bogus SOTTO_NN_ISA_EXPECT=%s '%s' isa_from_env 2>'%s/err' && "
             "grep -q 'SOTTO_NN_ISA=bogus is unknown' '%s/err'",
             self, best, self, check_tmpdir(), check_tmpdir());
    ASSERT_EQ(system(cmd), 0);
}
