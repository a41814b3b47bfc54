/*
 * vad_babble.c - the VAD's model of a variable, speech-like background (vad_babble_*).
 *
 * The main score (vad_features.c) compares each frame with a noise spectrum learned from
 * frames that score as silence. Babble (several people talking at once) defeats it: the
 * chatter itself looks like speech, so the noise is never learned and every frame scores
 * high. This path needs no silence to learn from. With L_b the level (dB) of band b, E the
 * frame energy (dB) and r = hop / 10 ms:
 *   floors      q_b and q_E track the 20th percentile of L_b and E by stochastic
 *               approximation: q += 0.05 r * 0.2 dB when the value is above q, else
 *               q -= 0.05 r * 0.8 dB (4 dB/s down, 1 dB/s up; 4x faster during the first
 *               second so a stream starting inside the chatter settles). Speech present
 *               50-60 % of the time leaves the 20th percentile on the background; the
 *               slow fall keeps a short lull of the chatter from pulling the floor down.
 *   variability V = 4 s average over all frames of mean_b max(0, q_b - L_b): how deep the
 *               signal dips below its own floor. White or pink noise: 0.32-0.45 dB;
 *               five-talker babble: 0.76-2.2 dB.
 *   level       x = mean_b max(0, L_b - q_b) + 0.5 (E - q_E), smoothed
 *               x_s += 0.15 r (x - x_s) (about 60 ms): the foreground talker is louder than
 *               the babble floor in most bands at once.
 *   threshold   T = 9 + 0.2 h, h the 80th percentile of x_s (steps 0.15 r * 0.8 up,
 *               0.15 r * 0.2 down): a louder foreground raises the bar, so the chatter's
 *               bursts stay below it.
 *   logit       z_b = x_s - T, with weight w = clamp((V - 0.5) / 0.2, 0, 1): z_b replaces
 *               the main logit only where the background varies like speech; white and
 *               pink noise keep w = 0 and their results are unchanged.
 * Constants were set on the test corpus (tests/unit/test_vad_detector.c, docs/vad.md).
 */
#include <math.h>
#include <string.h>

#include "vad/vad_int.h"

#define Q_P 0.2          /* the floors' percentile */
#define Q_RATE_DB 0.05   /* floor step scale, dB per 10 ms */
#define WARM_S 1.0       /* the floors move WARM_X times faster for this long */
#define WARM_X 4.0
#define VAR_TAU_S 4.0    /* averaging time of the variability */
#define VAR_START 0.4    /* its value before any frame (stationary) */
#define LEVEL_A 0.15     /* smoothing of the level, per 10 ms */
#define W_ENERGY 0.5     /* weight of the energy term in the level */
#define HI_P 0.8         /* the level's high percentile */
#define HI_RATE 0.15     /* its step scale, per 10 ms */
#define THR0 9.0         /* threshold: THR0 + THR_HI * high percentile */
#define THR_HI 0.2
#define MIX_LO 0.5       /* variability where the babble logit starts to count */
#define MIX_SPAN 0.2     /* ... and the span over which it takes over */

void vad_babble_init(vad_babble *m)
{
    memset(m, 0, sizeof *m);
    m->var_db = VAR_START;
}

/* one step of a percentile-p tracker of x; returns x - q before the step */
static double track(double *q, double x, double p, double rate)
{
    double d = x - *q;
    *q += d > 0.0 ? rate * p : -rate * (1.0 - p);
    return d;
}

double vad_babble_frame(vad_babble *m, const double *band, double e_db, double hop_s,
                        double *weight)
{
    double r = hop_s / 0.010;
    double l[VAD_BANDS];
    for (int b = 0; b < VAD_BANDS; b++)
        l[b] = 10.0 * log10(band[b] + 1e-20);
    if (m->frames == 0) {
        memcpy(m->q_band, l, sizeof l);
        m->q_energy = e_db;
    }
    double rate = Q_RATE_DB * r * ((double)m->frames * hop_s < WARM_S ? WARM_X : 1.0);
    double above = 0.0, dip = 0.0;
    for (int b = 0; b < VAD_BANDS; b++) {
        double d = track(&m->q_band[b], l[b], Q_P, rate);
        above += d > 0.0 ? d : 0.0;
        dip += d < 0.0 ? -d : 0.0;
    }
    double x = above / VAD_BANDS + W_ENERGY * track(&m->q_energy, e_db, Q_P, rate);
    if (m->frames == 0)
        m->level = m->level_hi = x;
    m->frames++;
    m->level += LEVEL_A * r * (x - m->level);
    track(&m->level_hi, m->level, HI_P, HI_RATE * r);
    m->var_db += hop_s / VAR_TAU_S * (dip / VAD_BANDS - m->var_db);
    double w = (m->var_db - MIX_LO) / MIX_SPAN;
    *weight = w < 0.0 ? 0.0 : w > 1.0 ? 1.0 : w;
    return m->level - (THR0 + THR_HI * m->level_hi);
}
