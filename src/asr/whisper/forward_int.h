/*
 * forward_int.h - the run state of the Whisper forward pass, shared by state.c (which
 * allocates it), encoder.c and decoder.c (which compute into it). Nothing outside these
 * three files looks inside; everyone else uses the functions of whisper_int.h.
 *
 * Every buffer is allocated once by whisper_state_new() / whisper_kv_new(), sized for
 * the largest call (3000 mel frames, n_text_ctx tokens), so encoding a window or feeding
 * tokens never allocates. Activations are row-major (rows = time steps or tokens).
 */
#ifndef SOTTO_WHISPER_FORWARD_INT_H
#define SOTTO_WHISPER_FORWARD_INT_H

#include "asr/whisper/whisper_int.h"

#define WHISPER_MAX_THREADS 64
#define WHISPER_ATTN_TILE 64 /* query rows of one attention work item (scores: TILE x keys) */

/* The floats of a small f32 tensor (bias, norm, positional embedding). The loader keeps
 * these as aligned copies (whisper_model.arena); whisper_state_new checks that. */
static inline const float *whisper_f32(const nn_tensor *t) { return (const float *)t->data; }

struct whisper_state {
    const whisper_model *m; /* not owned */
    int n_threads;
    int encoded;            /* 1 once whisper_encode() has filled enc_out and cross K/V */

    float *enc_out;         /* (A, S) encoder output after ln_post */
    /* Cross-attention K/V per decoder layer, head-major so that one head's keys are the
     * rows of a [d_head, A] matrix and its values (transposed) those of [A, d_head]:
     * attention is then two nn_matmul_range calls per head (the SIMD kernels).
     * Elements of cross_type: f16 (half the bytes every decoded token reads; the f16
     * matmul kernels widen them exactly) except for f32 models, whose users chose
     * full precision. Rows of whisper_attention's f32 operands otherwise. */
    nn_type cross_type;     /* NN_F16 or NN_F32 */
    void *cross_k;          /* (n_text_layer, H, A, d_head) enc @ Wk^T */
    void *cross_v;          /* (n_text_layer, H, d_head, A) (enc @ Wv^T + bv)^T per head */

    /* scratch, shared by the encoder and the decoder (they never run at once);
     * R = max(A, T) rows */
    float *x;               /* (R, S) residual stream */
    float *h;               /* (R, S) layer-norm output */
    float *q, *k, *v;       /* (R, S) projections */
    float *o;               /* (R, S) attention output before the out projection */
    float *qh, *kh, *vth;   /* (S * R) each: Q (scaled), K, V^T packed per head as above */
    float *f;               /* (max(R, 3000 / 4), 4S): MLP hidden; conv1 output (3000, S) */
    float *cols;            /* im2col rows: max(3000 x 3 n_mels, A x 3S) */
    int max_kv;             /* R: the longest attention row */
    float *scratch;         /* (n_threads, scratch_floats): per-thread attention tiles */
    size_t scratch_floats;  /* WHISPER_ATTN_TILE x (R + S) */
    whisper_kv **row_kv;    /* (R) the cache each decoded row belongs to */
    int *row_pos;           /* (R) that row's position in its cache */
};

struct whisper_kv {
    const whisper_model *m; /* not owned */
    int n;                  /* positions 0 .. n-1 hold valid K/V */
    float *k;               /* (n_text_layer, T, S) self-attention keys */
    float *v;               /* (n_text_layer, T, S) self-attention values */
};

/*
 * Multi-head attention with head-packed operands: for each head hd and query row i < n,
 * out[i, hd*dh .. +dh] = softmax(qh_hd[i] . kh_hd[j], j < n_kv) @ v, where
 * qh_hd = qh + hd * qh_head_stride is (n, dh) already scaled by 1/sqrt(dh),
 * kh_hd = kh + hd * n_kv * dh is (n_kv, dh) and vth_hd = vth + hd * dh * n_kv is (dh, n_kv),
 * both with elements of kv_type (NN_F32 or NN_F16).
 * out has row stride S = n_head * dh. If probs is not NULL the softmax row of (i, hd) is
 * stored at probs + (i * probs_row_stride + hd) * n_kv. Work items (head x 64-row tile)
 * are spread over st->n_threads; each thread's scores never exceed one tile.
 */
void whisper_attention(whisper_state *st, const float *qh, size_t qh_head_stride, int n,
                       nn_type kv_type, const void *kh, const void *vth, int n_kv, int n_head,
                       int S, float *out, float *probs, size_t probs_row_stride);

/* Switch the element type of the cross-attention K/V (NN_F32 or NN_F16; tests and
 * benchmarks compare the two). Reallocates them and forgets the encoded window (call
 * whisper_encode again). 0, SOTTO_EINVAL, or SOTTO_ENOMEM (the old buffers stay). */
int whisper_state_set_cross_type(whisper_state *st, nn_type t);

/* Pack src (n, S) rows into head-major (H, n, dh) times scale (Q and K), or, when
 * transpose is set, into (H, dh, n) (V^T). */
void whisper_pack_heads(float *dst, const float *src, int n, int n_head, int S, float scale,
                        int transpose);

/* dst = LN(src) row by row with a tensor's g and b; rows spread over st->n_threads. */
void whisper_ln_rows(whisper_state *st, float *dst, const float *src, int64_t n_rows, int64_t dim,
                     const nn_tensor *g, const nn_tensor *b);

/* Items 0 .. n_items-1 over st->n_threads threads (at most n_threads at once), each
 * call given its thread's scratch row (st->scratch_floats floats). */
typedef void (*whisper_item_fn)(void *ctx, int item, float *scratch);
void whisper_parallel(whisper_state *st, int n_threads, int n_items, whisper_item_fn fn, void *ctx);

#endif
