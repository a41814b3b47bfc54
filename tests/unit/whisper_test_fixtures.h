/*
 * whisper_test_fixtures.h - what the Whisper tests share (include after check.h): the
 * small random-model dims, speech-like synthesized audio and the relative error of outputs.
 *
 * Small dims (64 wide, 2 encoder + 3 decoder layers) cost little under ASan. A random
 * model never says <|endoftext|>, so a window decodes the full n_text_ctx / 2 tokens:
 * tests pick a short text context (64) unless they need the real 448.
 */
#ifndef SOTTO_WHISPER_TEST_FIXTURES_H
#define SOTTO_WHISPER_TEST_FIXTURES_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "asr/whisper/whisper_int.h"

static inline whisper_hparams whisper_test_small_hparams(int32_t n_vocab, int32_t n_text_ctx)
{
    whisper_hparams hp = {.n_vocab = n_vocab, .n_audio_ctx = 1500, .n_audio_state = 64,
                          .n_audio_head = 2, .n_audio_layer = 2, .n_text_ctx = n_text_ctx,
                          .n_text_state = 64, .n_text_head = 2, .n_text_layer = 3,
                          .n_mels = 80, .ftype = 0};
    return hp;
}

/* Speech-like 16 kHz audio: voiced bursts (a 120-200 Hz pulse train shaped by two moving
 * resonances) 150-400 ms long separated by short pauses, plus a little noise;
 * deterministic in seed. Caller frees. */
static inline float *whisper_test_speech(double seconds, uint64_t seed, size_t *n_out)
{
    const double rate = 16000;
    size_t n = (size_t)(seconds * rate);
    float *x = calloc(n + 1, sizeof *x);
    ASSERT_TRUE(x != NULL);
    uint64_t s = seed * 2654435761u + 1;
    double phase = 0, f1p = 0, f2p = 0;
    size_t i = 0;
    while (i < n) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t burst = (size_t)((0.15 + (s >> 40) % 250 / 1000.0) * rate);
        size_t pause = (size_t)((0.05 + (s >> 20) % 150 / 1000.0) * rate);
        double f0 = 120 + (s >> 50) % 80, f1 = 300 + (s >> 30) % 500, f2 = 900 + (s >> 10) % 1500;
        for (size_t k = 0; k < burst && i < n; k++, i++) {
            double env = sin(M_PI * (double)k / (double)burst);
            phase += 2 * M_PI * f0 / rate;
            f1p += 2 * M_PI * (f1 + 200 * (double)k / burst) / rate;
            f2p += 2 * M_PI * (f2 - 300 * (double)k / burst) / rate;
            double pulse = pow(0.5 + 0.5 * cos(phase), 8);
            x[i] = (float)(0.3 * env * pulse * (sin(f1p) + 0.5 * sin(f2p)));
        }
        i += pause;
    }
    for (size_t k = 0; k < n; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[k] += (float)(((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.004);
    }
    *n_out = n;
    return x;
}

/* Largest absolute difference of a from the reference b over b's largest magnitude (a NaN
 * in a counts as an infinite difference). */
static inline double whisper_test_rel_err(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > num || d != d)
            num = d;
        if (fabs((double)b[i]) > den)
            den = fabs((double)b[i]);
    }
    return den > 0 ? num / den : num;
}

#endif
