/*
 * fft.c - a mixed-radix complex FFT (decimation in time, recursive over the prime
 * factors of n) used for real input by the log-mel front end.
 *
 * It is written for correctness and plain-C speed at Whisper's sizes (n = 400 over
 * 3000 frames per window): the twiddles come from one table of n roots computed in
 * double, and factors other than 2 use a direct DFT of that factor's size, which is
 * cheap for the 5s of 400. It is not a general high-performance FFT.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "dsp/dsp.h"

#define FFT_MAX_LEN 65536
#define FFT_MAX_FACTORS 32
#define FFT_MAX_PRIME 64 /* direct DFT per factor: fine for small primes only */

struct dsp_fft {
    int n;
    int n_factors;
    int factors[FFT_MAX_FACTORS]; /* prime factors of n, smallest first */
    double *twiddle;              /* (n, 2): exp(-2 pi i j / n) as (re, im) */
};

int dsp_fft_new(int n, dsp_fft **out)
{
    *out = NULL;
    if (n < 1 || n > FFT_MAX_LEN)
        return error_set(SOTTO_EINVAL, "fft length %d outside 1..%d", n, FFT_MAX_LEN);
    dsp_fft *p = calloc(1, sizeof *p);
    if (!p)
        return error_set(SOTTO_ENOMEM, "out of memory planning an fft of %d", n);
    p->n = n;
    int rest = n;
    for (int f = 2; rest > 1; f++) {
        while (rest % f == 0) {
            p->factors[p->n_factors++] = f; /* at most log2(65536) = 16 factors */
            rest /= f;
        }
    }
    if (n > 1 && p->factors[p->n_factors - 1] > FFT_MAX_PRIME) {
        int f = p->factors[p->n_factors - 1];
        free(p);
        return error_set(SOTTO_ENOTSUP, "fft length %d has prime factor %d (max %d)", n, f,
                         FFT_MAX_PRIME);
    }
    p->twiddle = malloc(sizeof(double) * 2 * (size_t)n);
    if (!p->twiddle) {
        free(p);
        return error_set(SOTTO_ENOMEM, "out of memory planning an fft of %d", n);
    }
    for (int j = 0; j < n; j++) {
        double a = -2.0 * M_PI * (double)j / (double)n;
        p->twiddle[2 * j] = cos(a);
        p->twiddle[2 * j + 1] = sin(a);
    }
    *out = p;
    return 0;
}

void dsp_fft_free(dsp_fft *p)
{
    if (!p)
        return;
    free(p->twiddle);
    free(p);
}

int dsp_fft_len(const dsp_fft *p) { return p->n; }

/*
 * out[0..len) = DFT of the len complex values in[0], in[stride], ... (interleaved re/im).
 * Splits len = f * m with f the next prime factor: f sub-transforms of length m over the
 * decimated inputs, then each output k + s*m combines them with twiddles w^(q (k + s m)).
 * tw_step maps this level's roots onto the full table (w_len = w_n^(n/len)).
 */
static void fft_rec(const dsp_fft *p, int level, const double *in, int stride, int len,
                    double *out)
{
    if (len == 1) {
        out[0] = in[0];
        out[1] = in[1];
        return;
    }
    int f = p->factors[level];
    int m = len / f;
    for (int q = 0; q < f; q++)
        fft_rec(p, level + 1, in + 2 * (size_t)q * (size_t)stride, stride * f, m, out + 2 * (size_t)q * (size_t)m);

    int n = p->n;
    int tw_step = n / len;
    const double *tw = p->twiddle;
    if (f == 2) {
        for (int k = 0; k < m; k++) {
            double *a = out + 2 * k, *b = out + 2 * (k + m);
            double wr = tw[2 * (k * tw_step)], wi = tw[2 * (k * tw_step) + 1];
            double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
            double ar = a[0], ai = a[1];
            a[0] = ar + br;
            a[1] = ai + bi;
            b[0] = ar - br;
            b[1] = ai - bi;
        }
        return;
    }
    double t[2 * FFT_MAX_PRIME]; /* dsp_fft_new refuses larger prime factors */
    for (int k = 0; k < m; k++) {
        for (int q = 0; q < f; q++) {
            t[2 * q] = out[2 * (q * m + k)];
            t[2 * q + 1] = out[2 * (q * m + k) + 1];
        }
        for (int s = 0; s < f; s++) {
            int kk = k + s * m; /* output index within this level, < len */
            double re = 0, im = 0;
            for (int q = 0; q < f; q++) {
                /* root index q * kk of w_len, reduced mod len, in units of the table */
                long idx = ((long)q * kk % len) * tw_step;
                double wr = tw[2 * idx], wi = tw[2 * idx + 1];
                re += t[2 * q] * wr - t[2 * q + 1] * wi;
                im += t[2 * q] * wi + t[2 * q + 1] * wr;
            }
            out[2 * kk] = re;
            out[2 * kk + 1] = im;
        }
    }
}

void dsp_fft_real(const dsp_fft *p, const double *in, double *out, double *work)
{
    int n = p->n;
    double *cin = work, *cout = work + 2 * (size_t)n;
    for (int t = 0; t < n; t++) {
        cin[2 * t] = in[t];
        cin[2 * t + 1] = 0.0;
    }
    fft_rec(p, 0, cin, 1, n, cout);
    memcpy(out, cout, sizeof(double) * 2 * (size_t)(n / 2 + 1));
}
