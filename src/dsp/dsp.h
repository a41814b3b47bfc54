/*
 * dsp.h - signal-processing helpers inside libsotto: a mixed-radix FFT for any length
 * whose factors are small (Whisper's n_fft = 400 = 2^4 * 5^2).
 *
 * A plan holds only read-only tables, so one plan may be used by several threads at
 * once; each call brings its own scratch. The log-mel front end itself is
 * whisper_log_mel() (dsp/mel.c, declared in asr/whisper/whisper_int.h).
 */
#ifndef SOTTO_DSP_H
#define SOTTO_DSP_H

#include <stddef.h>

typedef struct dsp_fft dsp_fft;

/* Plan a transform of length n (1 <= n <= 65536). *out is freed with dsp_fft_free(). */
int dsp_fft_new(int n, dsp_fft **out);
void dsp_fft_free(dsp_fft *p); /* NULL is a no-op */
int dsp_fft_len(const dsp_fft *p);

/*
 * Forward DFT of n real samples: out[k] = sum_t in[t] exp(-2 pi i k t / n) for
 * k = 0 .. n/2, as interleaved (re, im) doubles (n + 2 of them, like numpy.fft.rfft).
 * work holds 4 * n doubles of caller scratch.
 */
void dsp_fft_real(const dsp_fft *p, const double *in, double *out, double *work);

#endif
