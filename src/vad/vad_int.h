/*
 * vad_int.h - inside the vad module: the per-frame feature extractor and speech score
 * of the detector (vad_features.c, with the babble model of vad_babble.c), used by its
 * hysteresis and API (vad.c).
 */
#ifndef SOTTO_VAD_INT_H
#define SOTTO_VAD_INT_H

#include "dsp/dsp.h"

#define VAD_BANDS 16 /* mel-spaced bands between VAD_BAND_LO_HZ and VAD_BAND_HI_HZ */

/* The background-variability model (vad_babble.c): low quantiles of each band's level and
 * of the frame energy, how deep the signal dips below them (the variability of the
 * background), and a level-above-quantile score for speech-like (babble) backgrounds. */
typedef struct vad_babble {
    long long frames;         /* frames seen */
    double q_band[VAD_BANDS]; /* 20th percentile of each band's level, dB */
    double q_energy;          /* 20th percentile of the frame energy, dB */
    double var_db;            /* mean depth of the dips below q_band, dB (4 s average) */
    double level;             /* smoothed level above the floors, dB */
    double level_hi;          /* 80th percentile of that level */
} vad_babble;

void vad_babble_init(vad_babble *m);
/* Update the model with one frame (band[] power, e_db energy in dB; hop_s seconds) and
 * return its speech logit for a variable background; *weight in [0, 1] is how much that
 * logit should count (0 for stationary noise, 1 for babble). */
double vad_babble_frame(vad_babble *m, const double *band, double e_db, double hop_s,
                        double *weight);

typedef struct vad_features {
    int hop; /* samples per frame (160 or 320) */
    int win; /* analysis window: the hop plus earlier samples (256 or 512), a power of 2 */
    double hop_s;
    dsp_fft *fft;
    double *window; /* (win) Hann */
    double *in;     /* (win) windowed samples */
    double *spec;   /* (win + 2) interleaved re, im */
    double *work;   /* (4 * win) FFT scratch */
    float *hist;    /* (win) the latest win samples, oldest first */
    int band_lo[VAD_BANDS], band_hi[VAD_BANDS]; /* FFT bin range [lo, hi) of each band */
    int flat_lo, flat_hi;                       /* bins used for spectral flatness */

    /* noise estimates, learned from frames that score as non-speech */
    long long n_frames;
    double noise_band[VAD_BANDS]; /* band power */
    double smooth_band[VAD_BANDS]; /* band power smoothed over a few frames */
    double noise_db;               /* frame energy floor, dB */
    double noise_flat_db;          /* spectral flatness of the noise, dB (<= 0) */
    double noise_zcr;              /* zero crossings per sample of the noise */
    float prev_sample;             /* for zero crossings across frame boundaries */
    vad_babble babble;             /* the variable-background path */

    /* the latest frame, for tests and docs */
    double f_band_snr, f_energy, f_flat, f_zcr, f_babble_weight;
} vad_features;

/* hop is 160 or 320. Returns 0 or SOTTO_ENOMEM. */
int vad_features_init(vad_features *f, int hop);
void vad_features_free(vad_features *f); /* safe on a zeroed or freed struct */

/* Score one hop of samples (x has f->hop of them) in [0, 1] and update the noise
 * estimates from it; in_speech (the detector is inside a segment or a candidate) keeps
 * the frame from training the noise even when it scores low. */
float vad_features_frame(vad_features *f, const float *x, int in_speech);

#endif
