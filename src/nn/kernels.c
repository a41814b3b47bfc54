/*
 * kernels.c - the matmul driver (threads, fused post ops) and the element-wise kernels:
 * the scalar reference matmul over every weight type, layer norm, GELU, softmax, exp, add
 * (softmax and GELU dispatch to kernels_avx512.c under the AVX-512 kernel set).
 *
 * The reference matmul favours clarity: it widens one weight row at a time into a stack
 * buffer and dots it against every input row (the weights are read once per call,
 * whatever m is). The driver (nn_matmul, nn_matmul_multi) splits weight rows into
 * contiguous ranges over the thread pool (pool.c); each task writes only its own output
 * columns, so no locking is needed. Nothing is allocated on the heap, so the decoder's
 * per-token loop allocates nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#define MATMUL_MAX_OPS 8 /* products one nn_matmul_multi call may hold */
/* Longest weight row widened on the stack: 4 x the widest Whisper (1280) is 5120; the
 * loader caps the state at 8192, so MLP rows reach 32768 floats = 128 KiB of stack. */
#define MATMUL_MAX_K 32768

/* Eight partial sums: keeps the reference reasonably fast without reassociation flags. */
static float dot_f32(const float *a, const float *b, int64_t k)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int j = 0; j < 8; j++)
            s[j] += a[i + j] * b[i + j];
    float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; i < k; i++)
        r += a[i] * b[i];
    return r;
}

void nn_matmul_range_ref(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                        float *y, int64_t row0, int64_t row1)
{
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    SOTTO_ASSERT(k > 0 && k <= MATMUL_MAX_K);
    size_t row_bytes = nn_row_bytes(w->type, k);
    const uint8_t *base = w->data;
    float row[k]; /* bounded by MATMUL_MAX_K */
    for (int64_t r = row0; r < row1; r++) {
        nn_dequantize_row(w->type, base + (size_t)r * row_bytes, row, k);
        float b = bias ? bias[r] : 0.0f;
        for (int64_t i = 0; i < m; i++)
            y[i * n + r] = dot_f32(x + i * k, row, k) + b;
    }
}

/* Weight rows per range are a multiple of this, so SIMD kernels see whole tiles. */
#define MATMUL_ROW_ALIGN 16
/* Products below this many multiply-adds run on the calling thread (a job costs a few
 * microseconds of wake-up and join). */
#define MATMUL_MIN_PARALLEL 65536.0

typedef struct matmul_plan {
    const nn_matmul_op *ops;
    int n_ops;
    int chunks[MATMUL_MAX_OPS]; /* ranges per op */
    int first[MATMUL_MAX_OPS];  /* task index of each op's first range */
} matmul_plan;

static void post_range(const nn_matmul_op *op, int64_t n, int64_t row0, int64_t row1)
{
    if (op->post == NN_POST_NONE)
        return;
    for (int64_t i = 0; i < op->m; i++) {
        float *y = op->y + i * n;
        if (op->post == NN_POST_GELU)
            nn_gelu(y + row0, (size_t)(row1 - row0));
        else
            nn_add(op->acc + i * n + row0, y + row0, (size_t)(row1 - row0));
    }
}

static void matmul_task(void *arg, int ith, int nth)
{
    (void)nth;
    const matmul_plan *pl = arg;
    int o = 0;
    while (o + 1 < pl->n_ops && ith >= pl->first[o + 1])
        o++;
    const nn_matmul_op *op = &pl->ops[o];
    const int64_t n = op->w->ne[1] * op->w->ne[2] * op->w->ne[3];
    const int64_t blocks = (n + MATMUL_ROW_ALIGN - 1) / MATMUL_ROW_ALIGN;
    const int c = ith - pl->first[o], nc = pl->chunks[o];
    int64_t row0 = blocks * c / nc * MATMUL_ROW_ALIGN, row1 = blocks * (c + 1) / nc * MATMUL_ROW_ALIGN;
    if (row1 > n)
        row1 = n;
    if (row0 >= row1)
        return;
    nn_matmul_range(op->w, op->bias, op->x, op->m, op->y, row0, row1);
    post_range(op, n, row0, row1);
}

void nn_matmul_multi(const nn_matmul_op *ops, int n_ops, int n_threads)
{
    SOTTO_ASSERT(ops && n_ops >= 0 && n_ops <= MATMUL_MAX_OPS);
    matmul_plan pl = {.ops = ops, .n_ops = n_ops};
    double work = 0;
    int n_tasks = 0;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > NN_POOL_MAX_THREADS)
        n_threads = NN_POOL_MAX_THREADS;
    for (int o = 0; o < n_ops; o++) {
        const nn_matmul_op *op = &ops[o];
        SOTTO_ASSERT(op->w && op->x && op->y && op->m >= 0);
        SOTTO_ASSERT(op->post != NN_POST_ADD || op->acc);
        int64_t k = op->w->ne[0], n = op->w->ne[1] * op->w->ne[2] * op->w->ne[3];
        SOTTO_ASSERT(k > 0 && k <= MATMUL_MAX_K && nn_row_bytes(op->w->type, k) > 0);
        int64_t blocks = (n + MATMUL_ROW_ALIGN - 1) / MATMUL_ROW_ALIGN;
        if (op->m == 0 || n == 0)
            blocks = 0;
        pl.first[o] = n_tasks;
        pl.chunks[o] = blocks < n_threads ? (int)blocks : n_threads;
        n_tasks += pl.chunks[o];
        work += (double)op->m * (double)n * (double)k;
    }
    if (work < MATMUL_MIN_PARALLEL)
        n_threads = 1;
    nn_pool_run(n_threads, n_tasks, matmul_task, &pl);
}

void nn_matmul_post(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                    nn_post post, float *acc, int n_threads)
{
    nn_matmul_op op = {w, bias, x, m, y, post, acc};
    nn_matmul_multi(&op, 1, n_threads);
}

void nn_matmul(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
               int n_threads)
{
    nn_matmul_post(w, bias, x, m, y, NN_POST_NONE, NULL, n_threads);
}

void nn_layer_norm(float *x, int64_t n_rows, int64_t dim, const float *g, const float *b, float eps)
{
    for (int64_t r = 0; r < n_rows; r++) {
        float *v = x + r * dim;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < dim; i++)
            mean += v[i];
        mean /= (double)dim;
        for (int64_t i = 0; i < dim; i++) {
            double d = v[i] - mean;
            var += d * d;
        }
        var /= (double)dim;
        float scale = (float)(1.0 / sqrt(var + eps));
        float fmean = (float)mean;
        for (int64_t i = 0; i < dim; i++) {
            float t = (v[i] - fmean) * scale;
            v[i] = t * (g ? g[i] : 1.0f) + (b ? b[i] : 0.0f);
        }
    }
}

/* Cephes' expf: e^x = 2^i e^r with |r| <= ln2/2, r's polynomial of degree 6; rounding by
 * the 1.5 x 2^23 trick and 2^i built in the exponent bits, so the loop has no calls or
 * branches and vectorizes. */
static inline float exp_one(float x)
{
    const float lo = -87.3f, hi = 88.3f;
    float xc = x < lo ? lo : x > hi ? hi : x;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = xc * 1.44269504088896341f + magic;
    float fi = t - magic;
    int32_t ti;
    memcpy(&ti, &t, sizeof ti);
    int32_t i = ti - 0x4B400000;
    float r = xc - fi * 0.693359375f;
    r = r - fi * -2.12194440e-4f;
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (i + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < lo ? 0.0f : p * scale;
}

void nn_exp(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = exp_one(x[i]);
}

/* gelu(v) = 0.5 v (1 + tanh(u)) = v / (1 + e^(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3):
 * the same function as the tanh form, through the vectorizable exp. */
void nn_gelu_ref(float *x, size_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float u = c * (v + 0.044715f * v * v * v);
        x[i] = v / (1.0f + exp_one(-2.0f * u));
    }
}

void nn_softmax_ref(float *x, size_t n)
{
    if (n == 0)
        return;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) { /* everything masked: no distribution; zeros rather than NaN */
        memset(x, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = exp_one(x[i] - mx);
    /* eight partial sums: a fixed order the compiler may vectorize without fast-math */
    float part[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            part[j] += x[i + j];
    double sum = 0.0;
    for (int j = 0; j < 8; j++)
        sum += part[j];
    for (; i < n; i++)
        sum += x[i];
    float inv = (float)(1.0 / sum);
    for (i = 0; i < n; i++)
        x[i] *= inv;
}

/* The AVX-512 version when that kernel set is in use (it is chosen only on CPUs that
 * have it); the reference otherwise. */
void nn_gelu(float *x, size_t n)
{
    if (strcmp(nn_isa_name(), "avx512") == 0)
        nn_gelu_avx512(x, n);
    else
        nn_gelu_ref(x, n);
}

/* The AVX-512 version when that kernel set is in use (it is chosen only on CPUs that
 * have it); the reference otherwise (the compiler vectorizes it for the baseline ISA). */
void nn_softmax(float *x, size_t n)
{
    if (strcmp(nn_isa_name(), "avx512") == 0)
        nn_softmax_avx512(x, n);
    else
        nn_softmax_ref(x, n);
}

void nn_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}
