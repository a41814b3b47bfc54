/*
 * whisper_int.h - the Whisper engine's internal interfaces (inside libsotto only).
 *
 * Config (hparams), weights (whisper_model, read-only, memory-mapped) and run state
 * (whisper_state, whisper_kv) are separate, as in llama2.c. Pieces:
 *   model.c / model_write.c   load + validate ggml files; write random/quantized ones
 *   tokenizer.c               tiktoken-exact byte-level BPE, special tokens
 *   ../../dsp/mel.c           log-mel front end
 *   encoder.c / decoder.c     the forward pass
 *   decode*.c, transcribe.c   logit filters, search, fallback, long-form, word times
 *   backend.c                 the asr_backend "whisper"
 */
#ifndef SOTTO_WHISPER_INT_H
#define SOTTO_WHISPER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

#define WHISPER_SAMPLE_RATE 16000
#define WHISPER_N_FFT 400
#define WHISPER_HOP 160
#define WHISPER_CHUNK_S 30
#define WHISPER_N_SAMPLES (WHISPER_SAMPLE_RATE * WHISPER_CHUNK_S) /* 480000 */
#define WHISPER_N_FRAMES 3000                                     /* mel frames per window */

typedef struct whisper_hparams {
    int32_t n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int32_t n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype;
} whisper_hparams;

/* Special token ids, derived from n_vocab exactly as the reference does. */
typedef struct whisper_special {
    int32_t eot, sot, translate, transcribe, startoflm, startofprev, nospeech, notimestamps;
    int32_t timestamp_begin; /* <|0.00|> */
    int32_t first_lang;      /* sot + 1 */
    int n_langs;             /* 0 for .en models, 99, or 100 for large-v3 */
    int multilingual;
} whisper_special;

typedef struct whisper_enc_layer {
    nn_tensor attn_ln_w, attn_ln_b;            /* [S] */
    nn_tensor attn_q_w, attn_q_b;              /* [S,S], [S] */
    nn_tensor attn_k_w;                        /* [S,S] (no bias) */
    nn_tensor attn_v_w, attn_v_b, attn_out_w, attn_out_b;
    nn_tensor mlp_ln_w, mlp_ln_b;
    nn_tensor mlp0_w, mlp0_b;                  /* [S,4S], [4S] */
    nn_tensor mlp2_w, mlp2_b;                  /* [4S,S], [S] */
} whisper_enc_layer;

typedef struct whisper_dec_layer {
    whisper_enc_layer self;                    /* same tensors as an encoder block */
    nn_tensor cross_ln_w, cross_ln_b;
    nn_tensor cross_q_w, cross_q_b, cross_k_w, cross_v_w, cross_v_b, cross_out_w, cross_out_b;
} whisper_dec_layer;

typedef struct whisper_model {
    whisper_hparams hp;
    nn_type wtype;            /* type of the 2-D weight matrices (from ftype) */
    whisper_special special;
    const char *size_name;    /* "tiny", "base", ... from n_audio_layer, or "custom" */

    const float *mel_filters; /* (n_mels, 201), aligned copy */
    int32_t n_vocab_file;     /* tokens stored in the file (the rest are specials) */
    const uint8_t **vocab;    /* n_vocab_file byte strings (not NUL-terminated) */
    const uint32_t *vocab_len;

    nn_tensor enc_pos;                 /* [S, A] f32 */
    nn_tensor enc_conv1_w, enc_conv1_b; /* [3, n_mels, S], [1, S] */
    nn_tensor enc_conv2_w, enc_conv2_b; /* [3, S, S], [1, S] */
    nn_tensor enc_ln_post_w, enc_ln_post_b;
    whisper_enc_layer *enc;            /* n_audio_layer */

    nn_tensor dec_pos;                 /* [S, T] f32 */
    nn_tensor dec_tok_emb;             /* [S, V], also the output projection */
    nn_tensor dec_ln_w, dec_ln_b;
    whisper_dec_layer *dec;            /* n_text_layer */

    int n_tensors;
    nn_tensor *tensors;                /* every tensor, in file order */

    /* alignment heads (layer, head) for word timestamps; published list or upper half */
    int n_align_heads;
    int (*align_heads)[2];

    /* ownership */
    void *map;            /* mmap of the file (or NULL for in-memory) */
    size_t map_size;
    void *arena;          /* 64-byte aligned copies of EVERY NN_F32 tensor and the mel
                           * filters: `(const float *)t.data` is valid when t.type is
                           * NN_F32; f16/quantized data stays in the map, unaligned */
    char path[512];
    char sha256[65];      /* hex digest of the file, filled by whisper_model_load */
} whisper_model;

/* Load and validate a ggml Whisper file. Every failure is a one-line message naming the
 * problem (tensor name, expected vs found shape, offset past end). */
int whisper_model_load(const char *path, whisper_model **out);
/* Same from memory (the buffer must outlive the model; used by the fuzz target). */
int whisper_model_load_memory(const void *data, size_t size, whisper_model **out);
void whisper_model_free(whisper_model *m);

/* Dimensions of the published sizes: "tiny", "base", "small", "medium", "large-v3",
 * with .en variants via english_only (n_vocab 51864). */
int whisper_hparams_preset(const char *name, int english_only, whisper_hparams *hp);
/* Write a valid random-weight model (deterministic in seed) with weights of type wtype. */
int whisper_model_write_random(const whisper_hparams *hp, nn_type wtype, uint64_t seed, const char *path);
/* Rewrite a model with its 2-D weight matrices in type t. */
int whisper_model_quantize(const char *in_path, const char *out_path, nn_type t);

void whisper_special_init(int32_t n_vocab, whisper_special *sp);
/* "tiny", "base", ... when the dimensions match a published size, else "custom". */
const char *whisper_size_name(const whisper_hparams *hp);
/* Fill m->align_heads from the published list for its size (or the upper half). */
int whisper_align_heads_init(whisper_model *m);

/* Check hparams as the loader does (ranges, n_text_state == n_audio_state, ftype); sets
 * *wtype from ftype. 0 or SOTTO_EFORMAT / SOTTO_ENOTSUP with a message. */
int whisper_hparams_validate(const whisper_hparams *hp, nn_type *wtype);

/* The tensors a model with these hparams must hold (the loader's table), i = 0 ..
 * whisper_tensor_count(hp) - 1: checkpoint name, ggml shape and what type rule applies. */
typedef enum whisper_tensor_kind {
    WHISPER_TENSOR_F32,    /* biases, layer norms, positional embeddings: always f32 */
    WHISPER_TENSOR_CONV,   /* conv weights: f16 or f32 */
    WHISPER_TENSOR_MATRIX  /* 2-D weights: the model's wtype (f16 where rows are not whole blocks) */
} whisper_tensor_kind;
int whisper_tensor_count(const whisper_hparams *hp);
void whisper_tensor_spec(const whisper_hparams *hp, int i, char *name, size_t cap, int64_t ne[4],
                         int *n_dims, whisper_tensor_kind *kind);

/* ---- tokenizer ---------------------------------------------------------------------- */
typedef struct whisper_tokenizer whisper_tokenizer;
int whisper_tokenizer_new(const whisper_model *m, whisper_tokenizer **out);
/* Build from a bare vocabulary (tests): n byte strings, rank = index. */
int whisper_tokenizer_new_vocab(const uint8_t *const *tokens, const uint32_t *lens, int32_t n,
                                int32_t n_vocab_total, whisper_tokenizer **out);
void whisper_tokenizer_free(whisper_tokenizer *tk);
/* Encode UTF-8 text as tiktoken would; *out is malloc'd (caller frees). */
int whisper_tokenize(const whisper_tokenizer *tk, const char *text, int32_t **out, size_t *n_out);
/* Bytes of one token ("" for specials; "<|0.50|>" style text from token_name). */
int whisper_token_bytes(const whisper_tokenizer *tk, int32_t id, const uint8_t **bytes, size_t *len);
const char *whisper_lang_code(int index);   /* 0 -> "en" */
int whisper_lang_index(const char *code);    /* -1 when unknown */

/* ---- forward pass ------------------------------------------------------------------- */
/* Log-mel of up to 30 s of audio (zero-padded) into mel (n_mels, 3000). */
int whisper_log_mel(const whisper_model *m, const float *pcm, size_t n, float *mel);

typedef struct whisper_state whisper_state; /* encoder output + cross K/V for one window */
typedef struct whisper_kv whisper_kv;       /* self-attention cache of one token sequence */

int whisper_state_new(const whisper_model *m, int n_threads, whisper_state **out);
void whisper_state_free(whisper_state *st);
/* Run the encoder on mel (n_mels, 3000) and compute every decoder layer's cross K/V. */
int whisper_encode(whisper_state *st, const float *mel);
/* The encoder output (n_audio_ctx, n_audio_state), for tests. */
const float *whisper_encoder_output(const whisper_state *st);

int whisper_kv_new(const whisper_model *m, whisper_kv **out);
void whisper_kv_free(whisper_kv *kv);
void whisper_kv_copy(whisper_kv *dst, const whisper_kv *src); /* beam forks */

/*
 * Feed n tokens at positions n_past .. n_past+n-1 (n_past + n <= n_text_ctx); write the
 * logits of the last token (n_vocab floats) to logits. If attn is not NULL it receives
 * the cross-attention weights (n, n_text_layer * n_text_head, n_audio_ctx) of every fed
 * token (softmax rows); computing them costs nothing extra when attn is NULL.
 */
int whisper_decode(whisper_state *st, whisper_kv *kv, const int32_t *tokens, int n, int n_past,
                   float *logits, float *attn);

#define WHISPER_MAX_BATCH 64 /* sequences one whisper_decode_batch call may advance */

/*
 * Advance n_seq sequences by one token each in one pass: sequence i feeds tokens[i] at
 * position n_past[i] of its own cache kvs[i] (0 <= n_past[i] <= kvs[i]->n, as
 * whisper_decode) and gets its logits in row i of logits (n_seq, n_vocab). Every weight
 * matrix is read once per call for all sequences, so a step of B beams costs about one
 * token's weight traffic. The sequences must differ in cache (no two kvs alike) and all
 * attend to the window encoded in st: beams or best-of candidates of one request, or
 * several requests on the same audio window. Requests on different windows need their
 * own states. Equal, within rounding, to n_seq separate whisper_decode calls.
 */
int whisper_decode_batch(whisper_state *st, whisper_kv *const *kvs, const int32_t *tokens,
                         const int *n_past, int n_seq, float *logits);


/*
 * Advance n_seq sequences by one token each, each over its own window: row i feeds
 * tokens[i] at position n_past[i] of cache kvs[i] and attends to the window encoded in
 * sts[i] (rows may share a state; no two share a cache). Every weight matrix is read
 * once for all rows (self-attention Q/K/V/out, cross Q/out, MLP, logits); attention runs
 * per row over its own cache and its own state's cross K/V. Logits: row i in row i of
 * logits (n_seq, n_vocab). attn: NULL, or n_seq pointers, each NULL or receiving row i's
 * cross-attention weights (n_text_layer * n_text_head, n_audio_ctx).
 * The pass computes in sts[0]'s scratch: the caller must hold every state and cache of
 * the call exclusively (no encode or decode on any of them meanwhile). Equal, within
 * rounding, to separate whisper_decode calls. 0 or SOTTO_EINVAL with a message.
 */
int whisper_decode_multi(whisper_state *const *sts, whisper_kv *const *kvs, const int32_t *tokens,
                         const int *n_past, int n_seq, float *logits, float *const *attn);

/* The checks whisper_decode_multi makes on one row (fn names the caller in the message). */
int whisper_decode_row_check(const whisper_state *st, const whisper_kv *kv, int32_t token, int n_past,
                             const char *fn);

/*
 * The step batcher: concurrent callers (one per stream thread) each hand in one decode
 * step (whisper_batcher_step); the steps waiting together run as one whisper_decode_multi.
 * Leader/follower: a caller that finds no pass running runs one over every waiting step
 * (itself included), so a lone caller never waits; callers arriving meanwhile wait and
 * are taken by the next pass (see whisper_batcher_join). One batcher per model; it owns nothing of the
 * callers'. _free(NULL) is a no-op; free it only when no step is in flight.
 */
typedef struct whisper_batcher whisper_batcher;
int whisper_batcher_new(const whisper_model *m, int max_rows, whisper_batcher **out);
void whisper_batcher_free(whisper_batcher *b);
/* One step: token at position n_past of kv over st's window; logits (n_vocab floats) and,
 * if attn is set, the cross-attention weights (n_text_layer * n_text_head, n_audio_ctx).
 * Blocks until the pass holding it is done. The caller holds st and kv exclusively. */
int whisper_batcher_step(whisper_batcher *b, whisper_state *st, whisper_kv *kv, int32_t token, int n_past,
                         float *logits, float *attn);
/* A caller about to decode a run of steps joins, and leaves after its last one: a
 * leader then waits (about one pass at most) for the steps of the other joined callers,
 * which would otherwise miss each pass by the few microseconds between their steps.
 * Steps of callers that never join are batched only when they happen to coincide. */
void whisper_batcher_join(whisper_batcher *b);
void whisper_batcher_leave(whisper_batcher *b);
/* Steps handed in and passes run since creation (steps / passes = mean batch size). */
void whisper_batcher_counts(whisper_batcher *b, uint64_t *n_steps, uint64_t *n_passes);

#endif
