/*
 * nn.h - tensors, weight types and the kernels the Whisper engine runs on
 * (inside libsotto only).
 *
 * Weight data usually points into a memory-mapped model file with no alignment
 * guarantee: kernels read it as bytes (memcpy / unaligned vector loads), never through
 * a cast float* or uint16_t*. Activations are plain aligned float arrays.
 * Every kernel here is the scalar reference; SIMD versions (speed issue) live in their
 * own files behind the same functions and are tested against these.
 */
#ifndef SOTTO_NN_H
#define SOTTO_NN_H

#include <stddef.h>
#include <stdint.h>

/* Values are ggml's type ids, as stored in model files. */
typedef enum nn_type {
    NN_F32 = 0,
    NN_F16 = 1,
    NN_Q4_0 = 2,
    NN_Q4_1 = 3,
    NN_Q5_0 = 6,
    NN_Q5_1 = 7,
    NN_Q8_0 = 8
} nn_type;

typedef struct nn_tensor {
    const char *name;   /* checkpoint name, e.g. "encoder.blocks.0.attn.query.weight" */
    nn_type type;
    int n_dims;
    int64_t ne[4];      /* ggml order: ne[0] is the contiguous dimension; unused dims = 1 */
    const void *data;   /* raw bytes, possibly unaligned (see above) */
    size_t nbytes;
} nn_tensor;

/* 1 for a valid type id, else 0. */
int nn_type_valid(int type);
const char *nn_type_name(nn_type t);             /* "q8_0" */
int nn_type_from_name(const char *s, nn_type *out); /* SOTTO_EINVAL when unknown */
int64_t nn_type_block_len(nn_type t);            /* weights per block: 1 or 32 */
size_t nn_type_block_bytes(nn_type t);           /* bytes per block: 4, 2, 18, 20, 22, 24, 34 */
/* Bytes of a row of n weights; n must be a multiple of the block length (else 0). */
size_t nn_row_bytes(nn_type t, int64_t n);

uint16_t nn_fp32_to_fp16(float f); /* round to nearest even, like F16C */
float nn_fp16_to_fp32(uint16_t h);
/* y[i] = nn_fp32_to_fp16(x[i]) for i < n, on the kernel set in use (kernels_f16.c); the
 * per-set versions (call only when nn_isa_supported) give bit-identical results. */
void nn_fp32_to_fp16_row(const float *x, uint16_t *y, size_t n);
void nn_fp32_to_fp16_row_ref(const float *x, uint16_t *y, size_t n);
void nn_fp32_to_fp16_row_avx2(const float *x, uint16_t *y, size_t n);
void nn_fp32_to_fp16_row_avx512(const float *x, uint16_t *y, size_t n);
void nn_fp32_to_fp16_row_neon(const float *x, uint16_t *y, size_t n);

/* Convert n weights (a multiple of the block length) between float and a type. */
void nn_dequantize_row(nn_type t, const void *src, float *dst, int64_t n);
void nn_quantize_row(nn_type t, const float *src, void *dst, int64_t n);

/*
 * y = x W^T + bias: x is (m, k) floats, W a 2-D tensor with ne = [k, n] (n rows of k
 * weights), y is (m, n). bias may be NULL. n_threads <= 1 runs on the calling thread.
 */
void nn_matmul(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
               int n_threads);

/*
 * The single-threaded kernel behind nn_matmul: output columns [row0, row1) of y for all m
 * input rows (weight rows row0 .. row1-1). nn_matmul splits the weight rows over threads
 * and calls this for each range. nn_matmul_range picks the fastest kernel for this CPU;
 * nn_matmul_range_ref is the scalar reference every other kernel is tested against.
 */
void nn_matmul_range(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                     int64_t row0, int64_t row1);
void nn_matmul_range_ref(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                         float *y, int64_t row0, int64_t row1);

/* ---- kernel sets behind nn_matmul_range (matmul.c, matmul_<isa>.c) -------------------
 * Chosen once, at first use, from the CPU (cpuid); SOTTO_NN_ISA=scalar|avx2|avx512|neon
 * forces one (an unknown or unsupported name prints one line on stderr and the best
 * supported set is used). "scalar" is nn_matmul_range_ref. */
const char *nn_isa_name(void);          /* the set in use: "scalar", "avx2", ... */
int nn_isa_supported(const char *name); /* 1 if this CPU and build can run the set */
/* Switch sets (tests, benchmarks; not while products run): 0, or SOTTO_EINVAL for an
 * unknown or unsupported name (the current set stays). */
int nn_isa_set(const char *name);
/* The ISA kernels (nn_matmul_range's contract); call only when nn_isa_supported (the
 * NEON one exists only on AArch64, the x86 ones fall back to the reference elsewhere). m <= 16
 * streams each weight row once; quantized types then use int8 dot products against the
 * activations quantized to q8 blocks (error ~1e-3 relative, see docs/whisper.md). */
void nn_matmul_range_avx2(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                          float *y, int64_t row0, int64_t row1);
void nn_matmul_range_avx512(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                            float *y, int64_t row0, int64_t row1);
void nn_matmul_range_neon(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                          float *y, int64_t row0, int64_t row1);
/* Weight rows [r0, r0+nr) x columns [k0, k0+kc) as floats, transposed into a panel:
 * panel[kk * ldp + j] = W[r0 + j][k0 + kk]; columns j in [nr, ldp) are zero. k0 and kc
 * are multiples of the block length (kc <= 512), nr <= ldp. (matmul.c) */
void nn_pack_panel(const nn_tensor *w, int64_t r0, int nr, int ldp, int64_t k0, int64_t kc,
                   float *panel);
/* Activation rows as q8 blocks (quant_act.c): for each of m rows of k floats (k a multiple
 * of 32) and each block b of 32: q[i*k + 32b + j] in [-127, 127], d[i*nb + b] the scale
 * (x ~ q * d) and s[i*nb + b] = d * sum(q) (the term q4_1/q5_1 minimums multiply). */
void nn_quantize_act_q8(const float *x, int64_t m, int64_t k, int8_t *q, float *d, float *s);
/* The same, bit-identical, in AVX-512 (quant_act.c; only when nn_isa_supported). */
void nn_quantize_act_q8_avx512(const float *x, int64_t m, int64_t k, int8_t *q, float *d,
                               float *s);
/* The AVX-512 set's GEMM for m > 16 with q4_0, q5_0 or q8_0 weights (gemm_q_avx512.c):
 * nn_matmul_range's contract in VNNI integer dot products on activations quantized as
 * nn_quantize_act_q8 does (error as the m <= 16 kernels'). Returns 0 when done, 1 when
 * it does not take this type or has no scratch memory (the caller then runs the float
 * GEMM). Call only when nn_isa_supported("avx512"). */
int nn_gemm_q_avx512(const nn_tensor *w, const float *bias, const float *x, int64_t m,
                     float *y, int64_t row0, int64_t row1);
/* This thread's scratch buffer of at least n bytes (64-byte aligned), kept and grown
 * across calls and freed when the thread exits; NULL when out of memory. The contents
 * are valid until the thread's next call. (quant_act.c) */
void *nn_scratch(size_t n);

/* What a matmul does to its output range after computing it (fusion saves a pass over
 * y and parallelizes the element-wise op with the product). */
typedef enum nn_post {
    NN_POST_NONE = 0,
    NN_POST_GELU, /* y = gelu(x W^T + bias) */
    NN_POST_ADD   /* y = x W^T + bias, then acc += y (acc is (m, n) like y: a residual) */
} nn_post;

/* One product of a nn_matmul_multi call; fields as nn_matmul's. */
typedef struct nn_matmul_op {
    const nn_tensor *w;
    const float *bias;
    const float *x;
    int64_t m;
    float *y;
    nn_post post;
    float *acc; /* NN_POST_ADD only */
} nn_matmul_op;

/*
 * Several independent products in one parallel job (e.g. Q, K, V of one layer: the
 * threads start once, and a thread done with one product's rows takes another's). Each
 * product's weight rows are split into contiguous ranges (multiples of 16 rows) that the
 * pool's threads claim; every range is computed by nn_matmul_range, so the result does
 * not depend on n_threads. Allocates nothing.
 */
void nn_matmul_multi(const nn_matmul_op *ops, int n_ops, int n_threads);
/* nn_matmul followed by a post op over the same range (see nn_post). */
void nn_matmul_post(const nn_tensor *w, const float *bias, const float *x, int64_t m, float *y,
                    nn_post post, float *acc, int n_threads);

/* ---- thread pool (pool.c) ----------------------------------------------------------- */
#define NN_POOL_MAX_THREADS 64

/* A task of a parallel-for: task ith of nth. */
typedef void (*nn_task_fn)(void *arg, int ith, int nth);

/*
 * fn(arg, i, n_tasks) for every i in [0, n_tasks), on up to n_threads threads of the
 * process's pool (the caller is one of them and returns when every task has finished).
 * Workers start on first use and stay (sleeping when idle); nothing is allocated per
 * call. Calls from several threads are serialized; a call from inside a task runs
 * inline. Tasks must not depend on running concurrently with each other. Threads claim
 * tasks as they come, so which thread runs task i varies from call to call (each runs
 * exactly once); the caller waits only for tasks others have claimed, never for a
 * worker that has not woken up yet (it does the rest itself).
 */
void nn_pool_run(int n_threads, int n_tasks, nn_task_fn fn, void *arg);
/* Threads the pool holds now, the caller's included (1 before any parallel call). */
int nn_pool_size(void);
/* Join every worker (tests, leak checkers); a later nn_pool_run starts them again. */
void nn_pool_shutdown(void);
/* Tests only: hook(worker index) runs on a worker each time it wakes for a job it takes
 * part in, before it claims a task (e.g. sleep to play a descheduled worker); NULL
 * removes it. */
void nn_pool_set_test_hook(void (*hook)(int worker));

/* In place over rows of dim floats: y = (x - mean) / sqrt(var + eps) * g + b. */
void nn_layer_norm(float *x, int64_t n_rows, int64_t dim, const float *g, const float *b, float eps);
void nn_gelu(float *x, size_t n);         /* tanh approximation, as Whisper/ggml use */
void nn_softmax(float *x, size_t n);      /* numerically stable, in place */
/* nn_softmax's versions: the reference, and AVX-512 (kernels_avx512.c; call only when
 * nn_isa_supported("avx512")); nn_softmax picks by the kernel set in use. */
void nn_softmax_ref(float *x, size_t n);
void nn_softmax_avx512(float *x, size_t n);
/* nn_gelu's versions, chosen the same way (kernels_avx512.c); they differ by float
 * rounding only (FMA): relative (1e-6 + 2.4e-7 |2u|) of the reference, u = the tanh
 * argument (an ulp of e^(-2u)'s argument; tests/unit/test_nn_simd.c). */
void nn_gelu_ref(float *x, size_t n);
void nn_gelu_avx512(float *x, size_t n);
/* e^x for every element, within 2 ulp of expf (0 below -87.3, clamped above 88.3);
 * written so the compiler vectorizes it (softmax and GELU spend their time here). */
void nn_exp(const float *x, float *y, size_t n);
void nn_add(float *y, const float *x, size_t n); /* y += x */

#endif
