/*
 * check_whisper.h - the set-up the Whisper decoder tests that compare batched with
 * one-at-a-time decoding share (include after check.h and whisper_test_fixtures.h): a
 * random-weight model of the small dims, an encoded window of a structured (speech-free)
 * log-mel, sequences primed to different lengths, and the error bound between a batched
 * and a single decode.
 *
 * Every helper asserts its own success and is static inline, like the *_fixtures.h
 * headers here: nothing more is needed at link time.
 */
#ifndef SOTTO_CHECK_WHISPER_H
#define SOTTO_CHECK_WHISPER_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/whisper_int.h"

/* A random model of the small dims (whisper_test_small_hparams) with text context
 * n_text_ctx and weights of wtype, written from seed as <tmp>/<name>-<type>.bin, loaded.
 * Caller frees. */
static inline whisper_model *check_whisper_small_model(const char *name, nn_type wtype,
                                                       int n_text_ctx, uint64_t seed)
{
    whisper_hparams hp = whisper_test_small_hparams(51865, n_text_ctx);
    hp.ftype = wtype == NN_F32 ? 0 : wtype == NN_F16 ? 1 : 7;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-%s.bin", check_tmpdir(), name, nn_type_name(wtype));
    ASSERT_OK(whisper_model_write_random(&hp, wtype, seed, path));
    whisper_model *m = NULL;
    ASSERT_OK(whisper_model_load(path, &m));
    return m;
}

/* A new state holding window w encoded: a deterministic structured log-mel, different for
 * every w. Caller frees. */
static inline whisper_state *check_whisper_encoded(const whisper_model *m, int n_threads, int w)
{
    whisper_state *st = NULL;
    ASSERT_OK(whisper_state_new(m, n_threads, &st));
    size_t n = (size_t)m->hp.n_mels * WHISPER_N_FRAMES;
    float *mel = malloc(sizeof *mel * n);
    ASSERT_TRUE(mel != NULL);
    for (size_t i = 0; i < n; i++)
        mel[i] = 0.5f * sinf((float)i * (0.013f + 0.004f * (float)w)) +
                 0.25f * cosf((float)(i % 3000) * 0.07f * (float)(w + 1));
    ASSERT_OK(whisper_encode(st, mel));
    free(mel);
    return st;
}

/* Decode sequence i's prompt into kv: 1 + 3 i tokens (so every sequence has another
 * n_past), logits into logits (n_vocab floats). Returns the prompt's length. */
static inline int check_whisper_prime(whisper_state *st, whisper_kv *kv, int i, float *logits)
{
    int32_t prefix[64];
    int n = 1 + 3 * i;
    ASSERT_TRUE(n <= 64);
    for (int j = 0; j < n; j++)
        prefix[j] = (int32_t)((50258 + 977 * i + 131 * j) % 50000);
    ASSERT_OK(whisper_decode(st, kv, prefix, n, 0, logits, NULL));
    return n;
}

/* Relative error allowed between a batched and a single decode. f32 and f16 weights
 * (which widen exactly) differ only in summation order: 1e-5. Quantized weights on SIMD
 * kernels quantize activations to 8 bits, where a batch (m = 5) and a single row (m = 1)
 * summing attention in different float orders can differ by a whole quantization step
 * (measured 5.5e-3): 3e-2. A batching mistake (wrong window, cache row or position) is
 * O(1). */
static inline double check_whisper_batch_bound(nn_type wtype)
{
    int exact = wtype == NN_F32 || wtype == NN_F16 || strcmp(nn_isa_name(), "scalar") == 0;
    return exact ? 1e-5 : 3e-2;
}

#endif
