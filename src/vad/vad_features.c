/*
 * vad_features.c - per-frame features and the speech score of the VAD (vad_features_*).
 *
 * Every hop of 16 kHz samples is analysed over a short window ending at the hop's end
 * (256 samples for 10 ms hops, 512 for 20 ms; causal, so no look-ahead delay). Four
 * features, each measured against a noise estimate, combine linearly into a logit:
 *   band SNR   mean over 16 mel bands (100 Hz - 7 kHz) of max(0, 10 log10(P_b / N_b)):
 *              speech raises some bands far above the noise spectrum, whatever its colour;
 *   energy     frame energy (dB) above an adaptive noise floor, capped at 30 dB;
 *   flatness   how much less flat (dB, geometric / arithmetic mean of the power spectrum
 *              at 100 Hz - 4 kHz) the frame is than the noise: harmonics are peaky;
 *   ZCR        distance of the zero-crossing rate from the noise's.
 * The noise estimates follow frames that score as non-speech (time constant 0.2 s), fall
 * quickly to a quieter smoothed band power at any time (so a stream that starts with
 * speech recovers), and creep up at 1 dB/s during speech (so a louder noise is learned).
 * A background that varies like speech (babble) is scored by vad_babble.c instead: its
 * logit replaces this one as the background's measured variability rises.
 * The weights were set by hand on synthesized speech in white, pink and babble noise
 * (tests/unit/test_vad_detector.c, docs/vad.md); there is no trained model here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/audio.h"
#include "vad/vad_int.h"

#define VAD_BAND_LO_HZ 100.0
#define VAD_BAND_HI_HZ 7000.0
#define FLAT_HI_HZ 4000.0
#define INIT_S 0.1         /* the first 100 ms train the noise estimates unconditionally */
#define NOISE_TAU_S 0.2    /* noise estimates follow non-speech frames with this time constant */
#define NOISE_FALL 0.3       /* per frame, fraction of the way down to a much quieter frame */
#define NOISE_FALL_RATIO 10.0 /* "much quieter": 10 dB below the estimate */
#define NOISE_DRIFT_DB_S 1.0 /* the median tracker's speed */
#define SMOOTH_TAU_S 0.2     /* band power smoothing for the tracker: babble dips are short */
#define NOISE_SCORE 0.3    /* frames scoring below this update the noise estimates */
#define ENERGY_CAP_DB 30.0
#define NOISE_MIN_DB (-90.0) /* estimates never go below about -90 dBFS */

/* Logit weights: z = W0 + W_BAND*band_snr + W_ENERGY*energy + W_FLAT*flat + W_ZCR*zcr */
#define W0 (-2.5)
#define W_BAND 0.55
#define W_ENERGY 0.08
#define W_FLAT 0.12
#define W_ZCR 4.0

static double hz_to_mel(double hz)
{
    return 2595.0 * log10(1.0 + hz / 700.0);
}

static double mel_to_hz(double mel)
{
    return 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
}

int vad_features_init(vad_features *f, int hop)
{
    SOTTO_ASSERT(f && (hop == 160 || hop == 320));
    memset(f, 0, sizeof *f);
    f->hop = hop;
    f->win = hop == 160 ? 256 : 512;
    f->hop_s = (double)hop / SOTTO_SAMPLE_RATE;
    int w = f->win;
    if (dsp_fft_new(w, &f->fft) != 0)
        return error_set(SOTTO_ENOMEM, "vad: out of memory");
    f->window = malloc((size_t)w * sizeof *f->window);
    f->in = malloc((size_t)w * sizeof *f->in);
    f->spec = malloc((size_t)(w + 2) * sizeof *f->spec);
    f->work = malloc((size_t)(4 * w) * sizeof *f->work);
    f->hist = calloc((size_t)w, sizeof *f->hist);
    if (!f->window || !f->in || !f->spec || !f->work || !f->hist) {
        vad_features_free(f);
        return error_set(SOTTO_ENOMEM, "vad: out of memory");
    }
    for (int i = 0; i < w; i++)
        f->window[i] = 0.5 - 0.5 * cos(2.0 * 3.14159265358979323846 * (i + 0.5) / w);

    /* mel-spaced band edges; every band gets at least one bin of its own */
    double bin_hz = (double)SOTTO_SAMPLE_RATE / w;
    double m_lo = hz_to_mel(VAD_BAND_LO_HZ), m_hi = hz_to_mel(VAD_BAND_HI_HZ);
    int prev = (int)lround(VAD_BAND_LO_HZ / bin_hz);
    for (int b = 0; b < VAD_BANDS; b++) {
        double hz = mel_to_hz(m_lo + (m_hi - m_lo) * (b + 1) / VAD_BANDS);
        int hi = (int)lround(hz / bin_hz);
        if (hi <= prev)
            hi = prev + 1;
        f->band_lo[b] = prev;
        f->band_hi[b] = hi;
        prev = hi;
    }
    f->flat_lo = (int)lround(VAD_BAND_LO_HZ / bin_hz);
    f->flat_hi = (int)lround(FLAT_HI_HZ / bin_hz);
    vad_babble_init(&f->babble);
    return 0;
}

void vad_features_free(vad_features *f)
{
    if (!f)
        return;
    dsp_fft_free(f->fft);
    free(f->window);
    free(f->in);
    free(f->spec);
    free(f->work);
    free(f->hist);
    f->fft = NULL;
    f->window = f->in = f->spec = f->work = NULL;
    f->hist = NULL;
}

static double db(double p)
{
    return 10.0 * log10(p + 1e-20);
}

float vad_features_frame(vad_features *f, const float *x, int in_speech)
{
    int w = f->win, hop = f->hop;

    /* slide the history and append the hop */
    memmove(f->hist, f->hist + hop, (size_t)(w - hop) * sizeof *f->hist);
    memcpy(f->hist + (w - hop), x, (size_t)hop * sizeof *f->hist);

    /* energy and zero crossings of the hop itself (exact timing) */
    double acc = 0.0;
    int crossings = 0;
    float prev = f->prev_sample;
    for (int i = 0; i < hop; i++) {
        acc += (double)x[i] * x[i];
        if ((x[i] >= 0.0f) != (prev >= 0.0f))
            crossings++;
        prev = x[i];
    }
    f->prev_sample = prev;
    double e_db = db(acc / hop);
    double zcr = (double)crossings / hop;

    /* power spectrum over the window */
    for (int i = 0; i < w; i++)
        f->in[i] = f->hist[i] * f->window[i];
    dsp_fft_real(f->fft, f->in, f->spec, f->work);
    double band[VAD_BANDS];
    for (int b = 0; b < VAD_BANDS; b++) {
        double s = 0.0;
        for (int k = f->band_lo[b]; k < f->band_hi[b]; k++)
            s += f->spec[2 * k] * f->spec[2 * k] + f->spec[2 * k + 1] * f->spec[2 * k + 1];
        band[b] = s / (f->band_hi[b] - f->band_lo[b]) + 1e-20;
    }
    double log_sum = 0.0, lin_sum = 0.0;
    for (int k = f->flat_lo; k < f->flat_hi; k++) {
        double p = f->spec[2 * k] * f->spec[2 * k] + f->spec[2 * k + 1] * f->spec[2 * k + 1] +
                   1e-20;
        log_sum += log(p);
        lin_sum += p;
    }
    int n_flat = f->flat_hi - f->flat_lo;
    double flat_db = 10.0 / log(10.0) * (log_sum / n_flat - log(lin_sum / n_flat));

    long long init_frames = (long long)lround(INIT_S / f->hop_s);
    if (f->n_frames == 0) {
        for (int b = 0; b < VAD_BANDS; b++)
            f->noise_band[b] = f->smooth_band[b] = band[b];
        f->noise_db = e_db;
        f->noise_flat_db = flat_db;
        f->noise_zcr = zcr;
    }
    for (int b = 0; b < VAD_BANDS; b++)
        f->smooth_band[b] += f->hop_s / SMOOTH_TAU_S * (band[b] - f->smooth_band[b]);

    /* features against the noise as known before this frame */
    double snr_sum = 0.0;
    for (int b = 0; b < VAD_BANDS; b++) {
        double s = db(band[b] / f->noise_band[b]);
        snr_sum += s > 0.0 ? s : 0.0;
    }
    f->f_band_snr = snr_sum / VAD_BANDS;
    double energy = e_db - f->noise_db;
    f->f_energy = energy < 0.0 ? 0.0 : energy > ENERGY_CAP_DB ? ENERGY_CAP_DB : energy;
    double dflat = f->noise_flat_db - flat_db;
    f->f_flat = dflat < 0.0 ? 0.0 : dflat > 20.0 ? 20.0 : dflat;
    f->f_zcr = fabs(zcr - f->noise_zcr);
    double z = W0 + W_BAND * f->f_band_snr + W_ENERGY * f->f_energy + W_FLAT * f->f_flat +
               W_ZCR * f->f_zcr;
    /* a speech-like background: its own logit takes over (vad_babble.c) */
    /* ... which sees levels floored like the noise estimates below: it measures how far
     * the signal dips under its own floor, and digital silence (-200 dB) would make any
     * later dither look 100 dB "above the background" and keep a segment open forever */
    double band_floor = 1e-10 * w, band_fl[VAD_BANDS];
    for (int b = 0; b < VAD_BANDS; b++)
        band_fl[b] = band[b] > band_floor ? band[b] : band_floor;
    double wb = 0.0;
    double zb = vad_babble_frame(&f->babble, band_fl, e_db > NOISE_MIN_DB ? e_db : NOISE_MIN_DB,
                                 f->hop_s, &wb);
    f->f_babble_weight = wb;
    z = (1.0 - wb) * z + wb * zb;
    double score = 1.0 / (1.0 + exp(-z));

    /* update the noise estimates */
    double a = f->hop_s / NOISE_TAU_S;
    if (f->n_frames < init_frames) {
        double r = 1.0 / (double)(f->n_frames + 1); /* running mean */
        a = r;
    }
    if (f->n_frames < init_frames || (!in_speech && score < NOISE_SCORE)) {
        for (int b = 0; b < VAD_BANDS; b++)
            f->noise_band[b] += a * (band[b] - f->noise_band[b]);
        f->noise_db += a * (e_db - f->noise_db);
        f->noise_flat_db += a * (flat_db - f->noise_flat_db);
        f->noise_zcr += a * (zcr - f->noise_zcr);
    }
    /* every frame: a slow median tracker (so a wrong estimate cannot lock the detector in
     * speech or in silence), and a fast fall when the signal is far below the estimate */
    double step = pow(10.0, NOISE_DRIFT_DB_S * f->hop_s / 10.0);
    for (int b = 0; b < VAD_BANDS; b++) {
        if (f->smooth_band[b] > f->noise_band[b])
            f->noise_band[b] *= step;
        else
            f->noise_band[b] /= step;
        if (f->smooth_band[b] * NOISE_FALL_RATIO < f->noise_band[b])
            f->noise_band[b] += NOISE_FALL * (f->smooth_band[b] - f->noise_band[b]);
    }
    f->noise_db += (e_db > f->noise_db ? 1.0 : -1.0) * NOISE_DRIFT_DB_S * f->hop_s;
    if (e_db < f->noise_db - 10.0 * log10(NOISE_FALL_RATIO))
        f->noise_db += NOISE_FALL * (e_db - f->noise_db);
    /* digital silence must not drive the estimates to zero: any dither would be "speech" */
    for (int b = 0; b < VAD_BANDS; b++)
        if (f->noise_band[b] < band_floor)
            f->noise_band[b] = band_floor;
    if (f->noise_db < NOISE_MIN_DB)
        f->noise_db = NOISE_MIN_DB;
    f->n_frames++;
    return (float)score;
}
