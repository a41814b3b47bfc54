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

/* The floats of a small f32 tensor (bias, norm, positional embedding). The loader keeps
 * these as aligned copies (whisper_model.arena); whisper_state_new checks that. */
static inline const float *whisper_f32(const nn_tensor *t) { return (const float *)t->data; }

struct whisper_state {
    const whisper_model *m; /* not owned */
    int n_threads;
    int encoded;            /* 1 once whisper_encode() has filled enc_out and cross K/V */

    float *enc_out;         /* (A, S) encoder output after ln_post */
    float *cross_k;         /* (n_text_layer, S, A) (enc @ Wk^T)^T per decoder layer:
                             * stored transposed, the layout attention reads keys in */
    float *cross_v;         /* (n_text_layer, A, S) enc @ Wv^T + bv */

    /* scratch, shared by the encoder and the decoder (they never run at once);
     * R = max(A, T) rows */
    float *x;               /* (R, S) residual stream */
    float *h;               /* (R, S) layer-norm output */
    float *q, *k, *v;       /* (R, S) projections (the decoder writes k, v to its cache) */
    float *o;               /* (R, S) attention output before the out projection */
    float *kt;              /* (S, R) keys transposed for whisper_attention */
    float *f;               /* (max(R, 3000 / 4), 4S): MLP hidden; conv1 output (3000, S) */
    float *cols;            /* im2col rows: max(3000 x 3 n_mels, A x 3S) */
    int max_kv;             /* R: the longest attention row */
    float *scores;          /* (n_threads, R) one softmax row per attention worker */
};

struct whisper_kv {
    const whisper_model *m; /* not owned */
    int n;                  /* positions 0 .. n-1 hold valid K/V */
    float *k;               /* (n_text_layer, T, S) self-attention keys */
    float *v;               /* (n_text_layer, T, S) self-attention values */
};

/*
 * Multi-head attention over already-projected rows: for each of the n query rows i and
 * head hd, softmax(q_i . k_j / sqrt(d_head)) over j < n_keys(i) and out_i = sum_j p_j v_j.
 * q, v, out have row stride S = n_head * d_head; the keys come transposed: key j's
 * component c is kt[c * kt_stride + j], so the score loop runs over contiguous keys.
 * n_keys(i) = causal ? first_key_count + i : n_kv. If probs is not NULL the softmax row
 * of (i, hd) is stored at probs + (i * probs_row_stride + hd) * n_kv (zeros past
 * n_keys(i)). Rows are split over st->n_threads workers, each with its own scores row.
 */
void whisper_attention(whisper_state *st, const float *q, int n, const float *kt,
                       size_t kt_stride, const float *v, int n_kv, int causal,
                       int first_key_count, int n_head, int S, float *out, float *probs,
                       size_t probs_row_stride);

/* dst (cols, rows) = src (rows, cols) transposed. */
void whisper_transpose(float *dst, const float *src, int rows, int cols);

/* The layer-norm + copy helper: dst = LN(src) row by row with a tensor's g and b. */
void whisper_ln_rows(float *dst, const float *src, int64_t n_rows, int64_t dim,
                     const nn_tensor *g, const nn_tensor *b);

#endif
