/*
 * test_whisper_batch.c - whisper_decode_batch against one-at-a-time whisper_decode on
 * random-weight models of small custom dims: equal logits (1e-5 relative; q8_0 on SIMD
 * kernels 3e-2, see check_batch_equals_single) for sequences at different positions, in
 * f32 and q8_0, with 1 and 3 threads; bad input refused; and
 * beam search / best-of giving identical tokens with and without the batched callback.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "base/base_int.h"
#include "check.h"
#include "sotto/error.h"
#include "whisper_test_fixtures.h"
#include "check_whisper.h"

#define N_SEQ 5

static whisper_model *small_model(nn_type wtype, int n_text_ctx)
{
    return check_whisper_small_model("batch", wtype, n_text_ctx, 29);
}

/* A deterministic, speech-free but structured log-mel window. */
static whisper_state *encoded_state(const whisper_model *m, int n_threads)
{
    return check_whisper_encoded(m, n_threads, 0);
}

/* Sequences primed to different lengths, then three batched steps; each step compared
 * with whisper_decode on a copy of the same cache. */
static void check_batch_equals_single(nn_type wtype, int n_threads)
{
    whisper_model *m = small_model(wtype, 64);
    whisper_state *st = encoded_state(m, n_threads);
    const size_t V = (size_t)m->hp.n_vocab;
    whisper_kv *kv[N_SEQ], *ref[N_SEQ];
    int32_t tok[N_SEQ];
    int pos[N_SEQ];
    float *lb = malloc(sizeof *lb * V * N_SEQ), *ls = malloc(sizeof *ls * V);
    ASSERT_TRUE(lb && ls);
    for (int i = 0; i < N_SEQ; i++) {
        ASSERT_OK(whisper_kv_new(m, &kv[i]));
        ASSERT_OK(whisper_kv_new(m, &ref[i]));
        /* positions 1, 4, 7, 10, 13: different n_past per sequence */
        pos[i] = check_whisper_prime(st, kv[i], i, ls);
        tok[i] = (int32_t)(1000 + 37 * i);
    }
    const double bound = check_whisper_batch_bound(wtype);
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < N_SEQ; i++)
            whisper_kv_copy(ref[i], kv[i]);
        ASSERT_OK(whisper_decode_batch(st, kv, tok, pos, N_SEQ, lb));
        for (int i = 0; i < N_SEQ; i++) {
            ASSERT_OK(whisper_decode(st, ref[i], &tok[i], 1, pos[i], ls, NULL));
            double e = whisper_test_rel_err(lb + (size_t)i * V, ls, V);
            if (e > bound)
                CHECK_FAIL("%s, %d threads, step %d, sequence %d at %d: rel err %g", nn_type_name(wtype),
                           n_threads, step, i, pos[i], e);
        }
        for (int i = 0; i < N_SEQ; i++) {
            pos[i]++;
            tok[i] = (int32_t)((tok[i] * 7 + 11) % 50000);
        }
    }
    for (int i = 0; i < N_SEQ; i++) {
        whisper_kv_free(kv[i]);
        whisper_kv_free(ref[i]);
    }
    free(lb);
    free(ls);
    whisper_state_free(st);
    whisper_model_free(m);
}

TEST(batch_equals_single_f32)
{
    check_batch_equals_single(NN_F32, 1);
    check_batch_equals_single(NN_F32, 3);
}

TEST(batch_equals_single_q8_0)
{
    check_batch_equals_single(NN_Q8_0, 2);
}

TEST(batch_refuses_bad_input)
{
    whisper_model *m = small_model(NN_F32, 64);
    whisper_state *st = NULL;
    ASSERT_OK(whisper_state_new(m, 1, &st));
    whisper_kv *a = NULL, *b = NULL;
    ASSERT_OK(whisper_kv_new(m, &a));
    ASSERT_OK(whisper_kv_new(m, &b));
    float *logits = malloc(sizeof *logits * (size_t)m->hp.n_vocab * 2);
    whisper_kv *kvs[2] = {a, b};
    int32_t tok[2] = {1, 2};
    int pos[2] = {0, 0};
    /* nothing encoded yet */
    ASSERT_EQ(whisper_decode_batch(st, kvs, tok, pos, 2, logits), SOTTO_EINVAL);
    whisper_state_free(st);
    st = encoded_state(m, 1);
    ASSERT_OK(whisper_decode_batch(st, kvs, tok, pos, 2, logits));
    whisper_kv *same[2] = {a, a};
    ASSERT_EQ(whisper_decode_batch(st, same, tok, pos, 2, logits), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "share a cache");
    int past_end[2] = {1, 5}; /* b holds 1 position: 5 is past it */
    ASSERT_EQ(whisper_decode_batch(st, kvs, tok, past_end, 2, logits), SOTTO_EINVAL);
    int32_t bad_tok[2] = {1, (int32_t)m->hp.n_vocab};
    ASSERT_EQ(whisper_decode_batch(st, kvs, bad_tok, pos, 2, logits), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode_batch(st, kvs, tok, pos, 0, logits), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode_batch(st, kvs, tok, pos, WHISPER_MAX_BATCH + 1, logits), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode_batch(st, NULL, tok, pos, 2, logits), SOTTO_EINVAL);
    free(logits);
    whisper_kv_free(a);
    whisper_kv_free(b);
    whisper_state_free(st);
    whisper_model_free(m);
}

/* ---- the search with and without the batched callback --------------------------------- */

typedef struct lm_ctx {
    const whisper_model *m;
    whisper_state *st;
    whisper_kv *kv[2 * N_SEQ];
    whisper_kv *batch[2 * N_SEQ];
    float *rows;
    int n_batched; /* batched calls made */
} lm_ctx;

static int t_logits(void *ctx, int seq, const int32_t *tokens, int n, int n_past, float *logits)
{
    lm_ctx *c = ctx;
    return whisper_decode(c->st, c->kv[seq], tokens, n, n_past, logits, NULL);
}

static int t_copy(void *ctx, int dst, int src)
{
    lm_ctx *c = ctx;
    if (dst != src)
        whisper_kv_copy(c->kv[dst], c->kv[src]);
    return 0;
}

static int t_batch(void *ctx, const int *seqs, const int32_t *tokens, const int *n_past, int n,
                   float *const *rows)
{
    lm_ctx *c = ctx;
    const size_t V = (size_t)c->m->hp.n_vocab;
    for (int i = 0; i < n; i++)
        c->batch[i] = c->kv[seqs[i]];
    int rc = whisper_decode_batch(c->st, c->batch, tokens, n_past, n, c->rows);
    for (int i = 0; !rc && i < n; i++)
        memcpy(rows[i], c->rows + (size_t)i * V, sizeof(float) * V);
    c->n_batched++;
    return rc;
}

static void run_search(const whisper_model *m, whisper_state *st, const whisper_tokenizer *tk,
                       const whisper_decode_opts *o, int batched, whisper_decoding *out, int *n_batched)
{
    lm_ctx c = {.m = m, .st = st};
    c.rows = malloc(sizeof *c.rows * (size_t)m->hp.n_vocab * 2 * N_SEQ);
    ASSERT_TRUE(c.rows != NULL);
    for (int i = 0; i < 2 * N_SEQ; i++)
        ASSERT_OK(whisper_kv_new(m, &c.kv[i]));
    whisper_lm lm = {.ctx = &c, .n_vocab = m->hp.n_vocab, .n_ctx = m->hp.n_text_ctx,
                     .n_seq = 2 * N_SEQ, .logits = t_logits, .copy = t_copy,
                     .logits_batch = batched ? t_batch : NULL};
    ASSERT_OK(whisper_decode_run(tk, &lm, o, out));
    *n_batched = c.n_batched;
    for (int i = 0; i < 2 * N_SEQ; i++)
        whisper_kv_free(c.kv[i]);
    free(c.rows);
}

static void check_search_same(float temperature)
{
    whisper_model *m = small_model(NN_F32, 64);
    whisper_state *st = encoded_state(m, 2);
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    whisper_decode_opts o;
    whisper_decode_opts_init(&o);
    o.lang = 0;
    o.temperature = temperature;
    o.beam_size = N_SEQ;
    o.best_of = N_SEQ;
    o.seed = 77;
    whisper_decoding one = {0}, batch = {0};
    int n1 = 0, nb = 0;
    run_search(m, st, tk, &o, 0, &one, &n1);
    run_search(m, st, tk, &o, 1, &batch, &nb);
    ASSERT_EQ(n1, 0);
    ASSERT_TRUE(nb > 0);
    ASSERT_TRUE(one.n_tokens > 0);
    ASSERT_EQ(one.n_tokens, batch.n_tokens);
    ASSERT_TRUE(memcmp(one.tokens, batch.tokens, sizeof *one.tokens * one.n_tokens) == 0);
    ASSERT_NEAR(one.sum_logprob, batch.sum_logprob, 1e-3 * (1 + fabs(one.sum_logprob)));
    whisper_decoding_clear(&one);
    whisper_decoding_clear(&batch);
    whisper_tokenizer_free(tk);
    whisper_state_free(st);
    whisper_model_free(m);
}

TEST(beam_search_same_with_batching)
{
    check_search_same(0.0f);
}

TEST(best_of_same_with_batching)
{
    check_search_same(0.6f);
}
