/*
 * test_nn.c - weight types, fp16 conversion, quantization error bounds and the scalar
 * reference kernels (matmul against a double-precision reference, with guard bytes).
 */
#include <stdint.h>

#include "check.h"
#include "nn/nn.h"
#include "sotto/error.h"

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng_state = 12345;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float grand(void)
{
    double u1 = urand() + 1e-12, u2 = urand();
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

TEST(type_table)
{
    ASSERT_EQ(nn_type_block_len(NN_F32), 1);
    ASSERT_EQ(nn_type_block_len(NN_Q4_0), 32);
    ASSERT_EQ(nn_type_block_bytes(NN_F32), 4);
    ASSERT_EQ(nn_type_block_bytes(NN_F16), 2);
    ASSERT_EQ(nn_type_block_bytes(NN_Q4_0), 18);
    ASSERT_EQ(nn_type_block_bytes(NN_Q4_1), 20);
    ASSERT_EQ(nn_type_block_bytes(NN_Q5_0), 22);
    ASSERT_EQ(nn_type_block_bytes(NN_Q5_1), 24);
    ASSERT_EQ(nn_type_block_bytes(NN_Q8_0), 34);
    ASSERT_EQ(nn_row_bytes(NN_Q8_0, 64), 68);
    ASSERT_EQ(nn_row_bytes(NN_Q8_0, 50), 0);
    ASSERT_EQ(nn_row_bytes(NN_F16, 7), 14);
    ASSERT_TRUE(nn_type_valid(8) && !nn_type_valid(4) && !nn_type_valid(-1) && !nn_type_valid(9));
    ASSERT_STR_EQ(nn_type_name(NN_Q5_1), "q5_1");
    nn_type t;
    ASSERT_OK(nn_type_from_name("q4_1", &t));
    ASSERT_EQ(t, NN_Q4_1);
    ASSERT_EQ(nn_type_from_name("q3_k", &t), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "q3_k");
}

TEST(fp16_known_values)
{
    ASSERT_EQ(nn_fp32_to_fp16(1.0f), 0x3c00);
    ASSERT_EQ(nn_fp32_to_fp16(-2.0f), 0xc000);
    ASSERT_EQ(nn_fp32_to_fp16(0.0f), 0x0000);
    ASSERT_EQ(nn_fp32_to_fp16(-0.0f), 0x8000);
    ASSERT_EQ(nn_fp32_to_fp16(65504.0f), 0x7bff);
    ASSERT_EQ(nn_fp32_to_fp16(65519.0f), 0x7bff);   /* below the rounding midpoint */
    ASSERT_EQ(nn_fp32_to_fp16(65520.0f), 0x7c00);   /* midpoint rounds to even: inf */
    ASSERT_EQ(nn_fp32_to_fp16(1e10f), 0x7c00);
    ASSERT_EQ(nn_fp32_to_fp16(-INFINITY), 0xfc00);
    ASSERT_EQ(nn_fp32_to_fp16(0.333333343f), 0x3555);
    ASSERT_EQ(nn_fp32_to_fp16(5.9604645e-8f), 0x0001); /* smallest subnormal 2^-24 */
    ASSERT_EQ(nn_fp32_to_fp16(2.98023224e-8f), 0x0000); /* 2^-25: tie rounds to even 0 */
    ASSERT_EQ(nn_fp32_to_fp16(8.9406967e-8f), 0x0002); /* 1.5 * 2^-24: tie to even 2 */
    ASSERT_EQ(nn_fp32_to_fp16(6.097555e-5f), 0x03ff);  /* largest subnormal */
    ASSERT_EQ(nn_fp32_to_fp16(6.1035156e-5f), 0x0400); /* smallest normal */
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: even is 1.0 */
    ASSERT_EQ(nn_fp32_to_fp16(1.00048828125f), 0x3c00);
    ASSERT_EQ(nn_fp32_to_fp16(1.00146484375f), 0x3c02); /* 1 + 3 * 2^-11 -> up to even */
    uint16_t nan = nn_fp32_to_fp16(NAN);
    ASSERT_TRUE((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff) != 0);
    ASSERT_TRUE(isnan(nn_fp16_to_fp32(0x7e00)));
    ASSERT_TRUE(isinf(nn_fp16_to_fp32(0x7c00)) && nn_fp16_to_fp32(0xfc00) < 0);
    ASSERT_EQ(bits(nn_fp16_to_fp32(0x0001)), bits(5.9604645e-8f));
    ASSERT_EQ(bits(nn_fp16_to_fp32(0x8000)), 0x80000000u);
    ASSERT_EQ(bits(nn_fp16_to_fp32(0x3555)), bits(0.333251953125f));
}

/* Every half round-trips exactly; every float rounds to the nearest half (ties to even). */
TEST(fp16_round_trip_exhaustive)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = nn_fp16_to_fp32((uint16_t)h);
        if (isnan(f))
            continue;
        if (nn_fp32_to_fp16(f) != h)
            CHECK_FAIL("half 0x%04x -> %g -> 0x%04x", h, f, nn_fp32_to_fp16(f));
    }
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)(urand() * 4294967296.0);
        float f = from_bits(u);
        if (isnan(f) || fabsf(f) >= 65504.0f)
            continue;
        uint16_t h = nn_fp32_to_fp16(f);
        double got = nn_fp16_to_fp32(h);
        /* neighbours of h must not be strictly closer */
        for (int d = -1; d <= 1; d += 2) {
            uint16_t nb = (uint16_t)(h + d);
            if ((h & 0x7fff) == 0 && d < 0)
                continue;
            double alt = nn_fp16_to_fp32(nb);
            if (isinf(alt) || isnan(alt) || ((nb ^ h) & 0x8000))
                continue;
            double eg = fabs(got - f), ea = fabs(alt - f);
            if (ea < eg || (ea == eg && (h & 1)))
                CHECK_FAIL("%a -> 0x%04x (%a) but 0x%04x (%a) is nearer/even", f, h, got, nb, alt);
        }
    }
}

static double quant_rel_rms(nn_type t, int64_t n)
{
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    uint8_t *q = malloc(nn_row_bytes(t, n));
    for (int64_t i = 0; i < n; i++)
        x[i] = grand();
    nn_quantize_row(t, x, q, n);
    nn_dequantize_row(t, q, y, n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        err += (double)(x[i] - y[i]) * (x[i] - y[i]);
        ref += (double)x[i] * x[i];
    }
    free(x);
    free(y);
    free(q);
    return sqrt(err / ref);
}

TEST(quant_error_bounds)
{
    int64_t n = 32 * 1024;
    double e;
    printf("rel rms:");
    ASSERT_TRUE((e = quant_rel_rms(NN_F32, n)) == 0.0);
    ASSERT_TRUE((e = quant_rel_rms(NN_F16, n)) < 1e-3);
    printf(" f16 %.5f", e);
    ASSERT_TRUE((e = quant_rel_rms(NN_Q8_0, n)) < 0.01);
    printf(" q8_0 %.5f", e);
    ASSERT_TRUE((e = quant_rel_rms(NN_Q5_0, n)) < 0.05);
    printf(" q5_0 %.5f", e);
    ASSERT_TRUE((e = quant_rel_rms(NN_Q5_1, n)) < 0.05);
    printf(" q5_1 %.5f", e);
    ASSERT_TRUE((e = quant_rel_rms(NN_Q4_0, n)) < 0.10);
    printf(" q4_0 %.5f", e);
    ASSERT_TRUE((e = quant_rel_rms(NN_Q4_1, n)) < 0.10);
    printf(" q4_1 %.5f\n", e);
}

/* Hand-built blocks decode exactly as the format spec says. */
TEST(quant_block_layouts)
{
    float out[32];
    uint8_t b[34] = {0};
    /* q4_0: d = 0.5, qs[0] = 0x9f: w[0] = (15-8)*0.5, w[16] = (9-8)*0.5 */
    b[0] = 0x00; b[1] = 0x38; /* 0.5 */
    memset(b + 2, 0x88, 16);
    b[2] = 0x9f;
    nn_dequantize_row(NN_Q4_0, b, out, 32);
    ASSERT_NEAR(out[0], 3.5, 0);
    ASSERT_NEAR(out[16], 0.5, 0);
    ASSERT_NEAR(out[1], 0.0, 0);
    /* q4_1: d = 1, m = -2: w = q - 2 */
    memset(b, 0, sizeof b);
    b[1] = 0x3c; b[3] = 0xc0;
    b[4] = 0x31;
    nn_dequantize_row(NN_Q4_1, b, out, 32);
    ASSERT_NEAR(out[0], -1.0, 0);
    ASSERT_NEAR(out[16], 1.0, 0);
    /* q5_0: d = 1, qh bit 0 and bit 17 set, qs[0] = 0x00, qs[1] = 0x10 */
    memset(b, 0, sizeof b);
    b[1] = 0x3c;
    b[2] = 0x01; b[4] = 0x02;
    b[7] = 0x10;
    nn_dequantize_row(NN_Q5_0, b, out, 32);
    ASSERT_NEAR(out[0], 0.0, 0);   /* (0 | 16) - 16 */
    ASSERT_NEAR(out[16], -16.0, 0);
    ASSERT_NEAR(out[17], 1.0, 0);  /* (1 | 16) - 16 */
    /* q5_1: d = 1, m = 0.5, qh bit 31 -> w[31] = 16 + q */
    memset(b, 0, sizeof b);
    b[1] = 0x3c; b[3] = 0x38;
    b[7] = 0x80;
    b[8 + 15] = 0x30;
    nn_dequantize_row(NN_Q5_1, b, out, 32);
    ASSERT_NEAR(out[31], 19.5, 0);
    ASSERT_NEAR(out[0], 0.5, 0);
    /* q8_0: d = 2, qs[5] = -3 */
    memset(b, 0, sizeof b);
    b[1] = 0x40;
    b[2 + 5] = (uint8_t)(int8_t)-3;
    nn_dequantize_row(NN_Q8_0, b, out, 32);
    ASSERT_NEAR(out[5], -6.0, 0);
    /* quantize q8_0 matches the definition d = amax / 127 */
    float x[32];
    for (int i = 0; i < 32; i++)
        x[i] = (float)(i - 10) * 0.25f;
    nn_quantize_row(NN_Q8_0, x, b, 32);
    ASSERT_EQ(b[0] | (b[1] << 8), nn_fp32_to_fp16(5.25f / 127.0f));
    ASSERT_EQ((int8_t)b[2 + 31], 127);
    ASSERT_EQ((int8_t)b[2 + 0], -60); /* round(-2.5 / (5.25 / 127)) = round(-60.48) */
}

/* nn_matmul of type t against double math on the dequantized weights. */
static void check_matmul(nn_type t, int64_t k, int64_t n, int64_t m, int n_threads, int with_bias)
{
    size_t row = nn_row_bytes(t, k);
    /* weights at an odd address: kernels must not assume alignment */
    uint8_t *wbuf = malloc(row * (size_t)n + 1);
    float *wf = malloc(sizeof(float) * (size_t)(k * n));
    float *tmp = malloc(sizeof(float) * (size_t)k);
    for (int64_t r = 0; r < n; r++) {
        for (int64_t i = 0; i < k; i++)
            tmp[i] = grand() * 0.1f;
        nn_quantize_row(t, tmp, wbuf + 1 + (size_t)r * row, k);
        nn_dequantize_row(t, wbuf + 1 + (size_t)r * row, wf + r * k, k);
    }
    float *x = malloc(sizeof(float) * (size_t)(m * k));
    float *bias = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < m * k; i++)
        x[i] = grand();
    for (int64_t i = 0; i < n; i++)
        bias[i] = grand();
    const int guard = 16;
    float *ybuf = malloc(sizeof(float) * (size_t)(m * n + 2 * guard));
    for (int64_t i = 0; i < m * n + 2 * guard; i++)
        ybuf[i] = 1234.5f;
    nn_tensor w = {.name = "w", .type = t, .n_dims = 2, .ne = {k, n, 1, 1}, .data = wbuf + 1,
                   .nbytes = row * (size_t)n};
    nn_matmul(&w, with_bias ? bias : NULL, x, m, ybuf + guard, n_threads);
    for (int i = 0; i < guard; i++) {
        ASSERT_TRUE(ybuf[i] == 1234.5f);
        ASSERT_TRUE(ybuf[guard + m * n + i] == 1234.5f);
    }
    double max_err = 0;
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double ref = with_bias ? bias[j] : 0.0, mag = 0;
            for (int64_t l = 0; l < k; l++) {
                ref += (double)x[i * k + l] * wf[j * k + l];
                mag += fabs((double)x[i * k + l] * wf[j * k + l]);
            }
            double err = fabs(ref - ybuf[guard + i * n + j]) / (mag + 1e-6);
            if (err > max_err)
                max_err = err;
        }
    }
    if (max_err > 1e-5)
        CHECK_FAIL("matmul %s k=%lld n=%lld m=%lld threads=%d: rel err %g", nn_type_name(t),
                   (long long)k, (long long)n, (long long)m, n_threads, max_err);
    free(wbuf);
    free(wf);
    free(tmp);
    free(x);
    free(bias);
    free(ybuf);
}

/* The scalar reference kernels (SIMD kernels are held to their own bounds in
 * test_nn_simd.c: decoder-sized products, and on AVX-512 the encoder's q4_0/q5_0/q8_0
 * GEMM, quantize activations there). */
TEST(matmul_all_types)
{
    ASSERT_OK(nn_isa_set("scalar"));
    const nn_type types[] = {NN_F32, NN_F16, NN_Q4_0, NN_Q4_1, NN_Q5_0, NN_Q5_1, NN_Q8_0};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        check_matmul(types[i], 64, 24, 3, 1, 1);
        check_matmul(types[i], 256, 67, 5, 3, 0);  /* uneven split over threads */
        check_matmul(types[i], 96, 5, 1, 8, 1);    /* more threads than rows */
        check_matmul(types[i], 1024, 130, 2, 2, 1);
    }
    check_matmul(NN_F32, 7, 9, 4, 1, 1);           /* k not a multiple of 8 */
    check_matmul(NN_F16, 13, 300, 17, 2, 1);
}

TEST(layer_norm_known)
{
    float x[8] = {1, 2, 3, 4, 10, 10, 10, 10};
    float g[4] = {1, 2, 1, 1}, b[4] = {0, 0, 1, 0};
    nn_layer_norm(x, 2, 4, g, b, 1e-5f);
    /* row 0: mean 2.5, var 1.25 */
    double s = 1.0 / sqrt(1.25 + 1e-5);
    ASSERT_NEAR(x[0], -1.5 * s, 1e-5);
    ASSERT_NEAR(x[1], 2 * -0.5 * s, 1e-5);
    ASSERT_NEAR(x[2], 0.5 * s + 1, 1e-5);
    ASSERT_NEAR(x[3], 1.5 * s, 1e-5);
    /* constant row: zero deviation, no NaN */
    ASSERT_NEAR(x[4], 0, 1e-6);
    ASSERT_NEAR(x[6], 1, 1e-6);
}

TEST(gelu_known)
{
    float x[5] = {0.0f, 1.0f, -1.0f, 3.0f, -10.0f};
    nn_gelu(x, 5);
    ASSERT_NEAR(x[0], 0.0, 1e-7);
    ASSERT_NEAR(x[1], 0.8411920071, 1e-6);   /* tanh form; exact erf GELU is 0.8413447 */
    ASSERT_NEAR(x[2], -0.1588079929, 1e-6);
    ASSERT_NEAR(x[3], 2.9963625073, 1e-5);
    ASSERT_NEAR(x[4], 0.0, 1e-6);
}

TEST(softmax_known)
{
    float x[3] = {1.0f, 2.0f, 3.0f};
    nn_softmax(x, 3);
    ASSERT_NEAR(x[0], 0.09003057, 1e-6);
    ASSERT_NEAR(x[1], 0.24472847, 1e-6);
    ASSERT_NEAR(x[2], 0.66524096, 1e-6);
    float big[3] = {1000.0f, 1000.0f, -INFINITY}; /* no overflow; masked entry is 0 */
    nn_softmax(big, 3);
    ASSERT_NEAR(big[0], 0.5, 1e-6);
    ASSERT_NEAR(big[2], 0.0, 0);
    float masked[2] = {-INFINITY, -INFINITY};
    nn_softmax(masked, 2);
    ASSERT_TRUE(masked[0] == 0.0f && masked[1] == 0.0f);
    float y[3] = {1, 2, 3}, a[3] = {0.5f, -2, 10};
    nn_add(y, a, 3);
    ASSERT_NEAR(y[0], 1.5, 0);
    ASSERT_NEAR(y[1], 0, 0);
    ASSERT_NEAR(y[2], 13, 0);
}
