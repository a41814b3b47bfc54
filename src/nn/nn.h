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

/* In place over rows of dim floats: y = (x - mean) / sqrt(var + eps) * g + b. */
void nn_layer_norm(float *x, int64_t n_rows, int64_t dim, const float *g, const float *b, float eps);
void nn_gelu(float *x, size_t n);         /* tanh approximation, as Whisper/ggml use */
void nn_softmax(float *x, size_t n);      /* numerically stable, in place */
void nn_add(float *y, const float *x, size_t n); /* y += x */

#endif
