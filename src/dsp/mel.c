/*
 * mel.c - Whisper's log-mel front end (whisper_log_mel), as openai/whisper audio.py
 * computes it for one 30 s window:
 *   zero-pad the audio to 480000 samples; STFT with n_fft 400, hop 160, a periodic Hann
 *   window and centred frames (reflect padding of 200 samples at both ends), giving 3001
 *   frames of which the last is dropped; power |X|^2; mel = filters @ power with the
 *   model's filterbank; log10(max(mel, 1e-10)); clamp to (max - 8); (x + 4) / 4.
 * Everything up to the log runs in double so the result matches a float64 reference to
 * float precision. The output is (n_mels, 3000) row-major floats.
 */
#include <math.h>
#include <stdlib.h>

#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "dsp/dsp.h"

#define N_BINS (WHISPER_N_FFT / 2 + 1) /* 201 */

/* Sample i of the zero-padded 30 s window, with torch's "reflect" padding (the edge
 * sample is not repeated) for the centred frames that reach past either end. */
static double window_sample(const float *pcm, size_t n, long i)
{
    const long len = WHISPER_N_SAMPLES;
    if (i < 0)
        i = -i;
    if (i >= len)
        i = 2 * (len - 1) - i;
    return (size_t)i < n ? (double)pcm[i] : 0.0;
}

int whisper_log_mel(const whisper_model *m, const float *pcm, size_t n, float *mel)
{
    if (!m || !mel || (n > 0 && !pcm))
        return error_set(SOTTO_EINVAL, "whisper_log_mel: missing model, audio or output");
    if (n > WHISPER_N_SAMPLES)
        return error_set(SOTTO_EINVAL, "whisper_log_mel: %zu samples is more than one 30 s window",
                         n);
    const int n_mels = m->hp.n_mels;
    const float *filters = m->mel_filters; /* (n_mels, 201) */
    if (n_mels <= 0 || !filters)
        return error_set(SOTTO_EINVAL, "whisper_log_mel: model has no mel filterbank");

    dsp_fft *fft = NULL;
    int rc = dsp_fft_new(WHISPER_N_FFT, &fft);
    if (rc < 0)
        return rc;
    /* scratch: window, frame, spectrum (2 * 201), power (201), fft work (4 * 400) */
    size_t n_scratch = WHISPER_N_FFT * 2 + 2 * N_BINS + N_BINS + 4 * WHISPER_N_FFT;
    double *scratch = malloc(sizeof(double) * n_scratch);
    if (!scratch) {
        dsp_fft_free(fft);
        return error_set(SOTTO_ENOMEM, "whisper_log_mel: out of memory");
    }
    double *hann = scratch, *frame = hann + WHISPER_N_FFT, *spec = frame + WHISPER_N_FFT;
    double *power = spec + 2 * N_BINS, *work = power + N_BINS;
    for (int i = 0; i < WHISPER_N_FFT; i++) /* periodic: period n_fft, not n_fft - 1 */
        hann[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)WHISPER_N_FFT);

    double log_max = -HUGE_VAL;
    for (int t = 0; t < WHISPER_N_FRAMES; t++) {
        long start = (long)t * WHISPER_HOP - WHISPER_N_FFT / 2; /* centred frame */
        for (int i = 0; i < WHISPER_N_FFT; i++)
            frame[i] = hann[i] * window_sample(pcm, n, start + i);
        dsp_fft_real(fft, frame, spec, work);
        for (int k = 0; k < N_BINS; k++)
            power[k] = spec[2 * k] * spec[2 * k] + spec[2 * k + 1] * spec[2 * k + 1];
        for (int b = 0; b < n_mels; b++) {
            const float *f = filters + (size_t)b * N_BINS;
            double acc = 0.0;
            for (int k = 0; k < N_BINS; k++)
                acc += (double)f[k] * power[k];
            double v = log10(acc > 1e-10 ? acc : 1e-10);
            if (v > log_max)
                log_max = v;
            mel[(size_t)b * WHISPER_N_FRAMES + t] = (float)v;
        }
    }
    /* dynamic range of 8 (80 dB) below the loudest bin, then scale to about [-1, 1] */
    float floor_v = (float)(log_max - 8.0);
    size_t total = (size_t)n_mels * WHISPER_N_FRAMES;
    for (size_t i = 0; i < total; i++) {
        float v = mel[i] > floor_v ? mel[i] : floor_v;
        mel[i] = (v + 4.0f) / 4.0f;
    }
    free(scratch);
    dsp_fft_free(fft);
    return 0;
}
