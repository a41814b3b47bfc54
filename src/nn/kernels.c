/*
 * kernels.c - scalar reference kernels: matmul over every weight type, layer norm,
 * GELU, softmax, add.
 *
 * These are the correctness baseline that SIMD versions are tested against, so they
 * favour clarity: nn_matmul widens one weight row at a time into a stack buffer and
 * dots it against every input row (the weights are read once per call, whatever m is).
 * Nothing is allocated on the heap, so the decoder's per-token loop allocates nothing.
 * Threads split the weight rows into contiguous ranges; each thread writes only its own
 * output columns, so no locking is needed.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "nn/nn.h"

#define MATMUL_MAX_THREADS 64
/* Longest weight row widened on the stack: 4 x the widest Whisper (1280) is 5120; the
 * loader caps the state at 8192, so MLP rows reach 32768 floats = 128 KiB of stack. */
#define MATMUL_MAX_K 32768

typedef struct matmul_job {
    const nn_tensor *w;
    const float *bias;
    const float *x;
    int64_t m, k, n;
    float *y;
    int64_t row0, row1; /* weight rows [row0, row1) */
} matmul_job;

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

static void matmul_rows(const matmul_job *jb)
{
    nn_matmul_range(jb->w, jb->bias, jb->x, jb->m, jb->y, jb->row0, jb->row1);
}

/* Until ISA-specific kernels exist, the range kernel is the reference. */
void nn_matmul_range(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                     int64_t row0, int64_t row1)
{
    nn_matmul_range_ref(w, bias, x, m, y, row0, row1);
}

static void *matmul_thread(void *arg)
{
    matmul_rows(arg);
    return NULL;
}

void nn_matmul(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
               int n_threads)
{
    SOTTO_ASSERT(w && x && y && m >= 0);
    int64_t k = w->ne[0], n = w->ne[1] * w->ne[2] * w->ne[3];
    SOTTO_ASSERT(k > 0 && k <= MATMUL_MAX_K && nn_row_bytes(w->type, k) > 0);
    if (m == 0 || n == 0)
        return;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > MATMUL_MAX_THREADS)
        n_threads = MATMUL_MAX_THREADS;
    if (n_threads > n)
        n_threads = (int)n;
    /* tiny products are not worth a thread start */
    if ((double)m * (double)n * (double)k < 65536.0)
        n_threads = 1;

    matmul_job jobs[MATMUL_MAX_THREADS];
    pthread_t tids[MATMUL_MAX_THREADS];
    int started[MATMUL_MAX_THREADS] = {0};
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (matmul_job){w, bias, x, m, k, n, y, n * t / n_threads, n * (t + 1) / n_threads};
    }
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&tids[t], NULL, matmul_thread, &jobs[t]) == 0;
    matmul_rows(&jobs[0]);
    for (int t = 1; t < n_threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            matmul_rows(&jobs[t]); /* could not start a thread: do its share here */
    }
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

void nn_gelu(float *x, size_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void nn_softmax(float *x, size_t n)
{
    if (n == 0)
        return;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    if (mx == -INFINITY) { /* everything masked: no distribution; zeros rather than NaN */
        memset(x, 0, n * sizeof(float));
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < n; i++)
        x[i] *= inv;
}

void nn_add(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}
