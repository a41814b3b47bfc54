/*
 * types.c - the weight-type table, fp16 <-> fp32 conversion and row (de)quantization.
 *
 * Owns the byte layouts of every weight type a ggml Whisper file can hold (f32, f16,
 * q4_0, q4_1, q5_0, q5_1, q8_0 at quantization version 2). Quantization follows ggml's
 * reference rounding (quantize_row_*_ref) so files written here match ggml's bytes.
 * Block fields are read and written byte-wise (little-endian), never through casts,
 * because weight data sits unaligned in a memory-mapped file.
 */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#define QK 32 /* weights per quantized block */

typedef struct type_info {
    nn_type type;
    const char *name;
    int64_t block_len;
    size_t block_bytes;
} type_info;

static const type_info types[] = {
    {NN_F32, "f32", 1, 4},     {NN_F16, "f16", 1, 2},     {NN_Q4_0, "q4_0", QK, 18},
    {NN_Q4_1, "q4_1", QK, 20}, {NN_Q5_0, "q5_0", QK, 22}, {NN_Q5_1, "q5_1", QK, 24},
    {NN_Q8_0, "q8_0", QK, 34},
};

static const type_info *type_find(int t)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if ((int)types[i].type == t)
            return &types[i];
    return NULL;
}

int nn_type_valid(int type)
{
    return type_find(type) != NULL;
}

const char *nn_type_name(nn_type t)
{
    const type_info *ti = type_find((int)t);
    return ti ? ti->name : "unknown";
}

int nn_type_from_name(const char *s, nn_type *out)
{
    for (size_t i = 0; s && i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(types[i].name, s) == 0) {
            *out = types[i].type;
            return 0;
        }
    }
    return error_set(SOTTO_EINVAL, "unknown weight type '%s' (expected f32, f16, q4_0, q4_1, "
                                   "q5_0, q5_1 or q8_0)", s ? s : "");
}

int64_t nn_type_block_len(nn_type t)
{
    const type_info *ti = type_find((int)t);
    return ti ? ti->block_len : 0;
}

size_t nn_type_block_bytes(nn_type t)
{
    const type_info *ti = type_find((int)t);
    return ti ? ti->block_bytes : 0;
}

size_t nn_row_bytes(nn_type t, int64_t n)
{
    const type_info *ti = type_find((int)t);
    if (!ti || n < 0 || n % ti->block_len != 0)
        return 0;
    return (size_t)(n / ti->block_len) * ti->block_bytes;
}

/* ---- fp16 ------------------------------------------------------------------------- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/*
 * Round to nearest even in every range (F. Giesen's float_to_half_rtne): normals round
 * by adding half an ulp minus one plus the lowest kept bit; subnormals let the FPU do
 * the rounding by adding a magic number that aligns the kept bits to the bottom.
 */
uint16_t nn_fp32_to_fp16(float f)
{
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000u;
    u &= 0x7fffffffu;
    uint16_t o;
    if (u >= 0x47800000u) {                 /* >= 65536, inf or nan */
        if (u > 0x7f800000u)                /* nan: keep it quiet, keep the top payload */
            o = (uint16_t)(0x7e00u | ((u >> 13) & 0x3ffu));
        else
            o = 0x7c00u;
    } else if (u < 0x38800000u) {           /* below the smallest normal half (2^-14) */
        const uint32_t denorm_magic = ((127 - 15) + (23 - 10) + 1) << 23;
        float r = f32_from_bits(u) + f32_from_bits(denorm_magic);
        o = (uint16_t)(f32_bits(r) - denorm_magic);
    } else {
        uint32_t mant_odd = (u >> 13) & 1u;
        u += ((uint32_t)(15 - 127) << 23) + 0xfffu; /* rebias; wraps as intended */
        u += mant_odd;
        o = (uint16_t)(u >> 13);           /* a carry into the exponent makes 65520+ inf */
    }
    return (uint16_t)(o | sign);
}

float nn_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f)
        return f32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24 is exact in float */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

/* A 64K-entry table makes f16 rows cheap to widen (ggml does the same). */
static float fp16_table[65536];
static pthread_once_t fp16_once = PTHREAD_ONCE_INIT;

static void fp16_table_init(void)
{
    for (uint32_t i = 0; i < 65536; i++)
        fp16_table[i] = nn_fp16_to_fp32((uint16_t)i);
}

static inline float h2f(const uint8_t *p)
{
    return fp16_table[(uint16_t)(p[0] | (p[1] << 8))];
}

static inline void f2h(uint8_t *p, float f)
{
    uint16_t h = nn_fp32_to_fp16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static inline uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* ggml truncates (int8_t)(x + offset); clamping first keeps NaN/huge inputs defined. */
static inline int trunc_clamp(float v, int hi)
{
    if (!(v >= 0.0f))
        return 0;
    if (v >= (float)hi)
        return hi;
    return (int)v;
}

/* ---- dequantize ------------------------------------------------------------------- */

void nn_dequantize_row(nn_type t, const void *src, float *dst, int64_t n)
{
    const uint8_t *p = src;
    pthread_once(&fp16_once, fp16_table_init);
    switch (t) {
    case NN_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case NN_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = h2f(p + 2 * i);
        return;
    default:
        break;
    }
    size_t bb = nn_type_block_bytes(t);
    SOTTO_ASSERT(bb > 0 && n % QK == 0);
    for (int64_t b = 0; b < n / QK; b++, p += bb, dst += QK) {
        float d = h2f(p);
        switch (t) {
        case NN_Q4_0:
            for (int j = 0; j < 16; j++) {
                dst[j] = (float)((p[2 + j] & 0xf) - 8) * d;
                dst[j + 16] = (float)((p[2 + j] >> 4) - 8) * d;
            }
            break;
        case NN_Q4_1: {
            float m = h2f(p + 2);
            for (int j = 0; j < 16; j++) {
                dst[j] = (float)(p[4 + j] & 0xf) * d + m;
                dst[j + 16] = (float)(p[4 + j] >> 4) * d + m;
            }
            break;
        }
        case NN_Q5_0: {
            uint32_t qh = rd_u32(p + 2);
            for (int j = 0; j < 16; j++) {
                int x0 = (p[6 + j] & 0xf) | (int)(((qh >> j) & 1u) << 4);
                int x1 = (p[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
                dst[j] = (float)(x0 - 16) * d;
                dst[j + 16] = (float)(x1 - 16) * d;
            }
            break;
        }
        case NN_Q5_1: {
            float m = h2f(p + 2);
            uint32_t qh = rd_u32(p + 4);
            for (int j = 0; j < 16; j++) {
                int x0 = (p[8 + j] & 0xf) | (int)(((qh >> j) & 1u) << 4);
                int x1 = (p[8 + j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
                dst[j] = (float)x0 * d + m;
                dst[j + 16] = (float)x1 * d + m;
            }
            break;
        }
        case NN_Q8_0:
            for (int j = 0; j < QK; j++)
                dst[j] = (float)(int8_t)p[2 + j] * d;
            break;
        default:
            SOTTO_ASSERT(!"unreachable weight type");
        }
    }
}

/* ---- quantize --------------------------------------------------------------------- */

static void quant_q4_0(const float *x, uint8_t *y)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    f2h(y, d);
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 8.5f, 15);
        int q1 = trunc_clamp(x[j + 16] * id + 8.5f, 15);
        y[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void minmax(const float *x, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < QK; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static void quant_q4_1(const float *x, uint8_t *y)
{
    float mn, mx;
    minmax(x, &mn, &mx);
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    f2h(y, d);
    f2h(y + 2, mn);
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp((x[j] - mn) * id + 0.5f, 15);
        int q1 = trunc_clamp((x[j + 16] - mn) * id + 0.5f, 15);
        y[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

static void quant_q5_0(const float *x, uint8_t *y)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    f2h(y, d);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp(x[j] * id + 16.5f, 31);
        int q1 = trunc_clamp(x[j + 16] * id + 16.5f, 31);
        y[6 + j] = (uint8_t)((q0 & 0xf) | ((q1 & 0xf) << 4));
        qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
        qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
    }
    wr_u32(y + 2, qh);
}

static void quant_q5_1(const float *x, uint8_t *y)
{
    float mn, mx;
    minmax(x, &mn, &mx);
    float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    f2h(y, d);
    f2h(y + 2, mn);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int q0 = trunc_clamp((x[j] - mn) * id + 0.5f, 31);
        int q1 = trunc_clamp((x[j + 16] - mn) * id + 0.5f, 31);
        y[8 + j] = (uint8_t)((q0 & 0xf) | ((q1 & 0xf) << 4));
        qh |= ((uint32_t)(q0 & 0x10) >> 4) << j;
        qh |= ((uint32_t)(q1 & 0x10) >> 4) << (j + 16);
    }
    wr_u32(y + 4, qh);
}

static void quant_q8_0(const float *x, uint8_t *y)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++)
        if (amax < fabsf(x[j]))
            amax = fabsf(x[j]);
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    f2h(y, d);
    for (int j = 0; j < QK; j++) {
        float v = roundf(x[j] * id);
        if (!(v >= -127.0f))
            v = v != v ? 0.0f : -127.0f; /* nan -> 0 */
        if (v > 127.0f)
            v = 127.0f;
        y[2 + j] = (uint8_t)(int8_t)v;
    }
}

void nn_quantize_row(nn_type t, const float *src, void *dst, int64_t n)
{
    uint8_t *p = dst;
    switch (t) {
    case NN_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case NN_F16:
        for (int64_t i = 0; i < n; i++)
            f2h(p + 2 * i, src[i]);
        return;
    default:
        break;
    }
    size_t bb = nn_type_block_bytes(t);
    SOTTO_ASSERT(bb > 0 && n % QK == 0);
    for (int64_t b = 0; b < n / QK; b++, p += bb, src += QK) {
        switch (t) {
        case NN_Q4_0: quant_q4_0(src, p); break;
        case NN_Q4_1: quant_q4_1(src, p); break;
        case NN_Q5_0: quant_q5_0(src, p); break;
        case NN_Q5_1: quant_q5_1(src, p); break;
        case NN_Q8_0: quant_q8_0(src, p); break;
        default: SOTTO_ASSERT(!"unreachable weight type");
        }
    }
}
