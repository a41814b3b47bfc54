/*
 * resample.c - converts any sample format, rate and channel count to 16 kHz mono float.
 *
 * Owns the libswresample context and the reader's small output buffer. Channels are
 * averaged (an explicit 1/n mix matrix, so a stereo file with one silent side is not
 * boosted and an unusual layout is not dropped). Output is clamped to [-1, 1] with NaN
 * turned into 0, because float sources (f32 WAV, raw f32le) may hold anything.
 * Producers feed at most about AUDIO_FEED_OUT output samples per call, which keeps the
 * output buffer at a fixed small size.
 */
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"

/* Hard cap on buffered output (samples); producers stay far below it. */
#define AUDIO_OBUF_MAX (1 << 20)

void resample_free(sotto_audio *a)
{
    swr_free(&a->swr);
    free(a->obuf);
    a->obuf = NULL;
    a->ocap = a->olen = a->opos = 0;
}

/* Make room for n more samples after the unread ones. */
static int obuf_reserve(sotto_audio *a, size_t n)
{
    if (a->opos > 0) {
        memmove(a->obuf, a->obuf + a->opos, (a->olen - a->opos) * sizeof(float));
        a->olen -= a->opos;
        a->opos = 0;
    }
    if (a->olen + n <= a->ocap)
        return 0;
    size_t want = a->olen + n;
    if (want > AUDIO_OBUF_MAX)
        return error_set(SOTTO_ENOMEM, "'%s': decoded block too large", a->name);
    size_t cap = a->ocap ? a->ocap : 16384;
    while (cap < want)
        cap *= 2;
    float *p = realloc(a->obuf, cap * sizeof(float));
    if (!p)
        return error_set(SOTTO_ENOMEM, "out of memory decoding '%s'", a->name);
    a->obuf = p;
    a->ocap = cap;
    return 0;
}

static void clamp_new(sotto_audio *a, size_t from)
{
    for (size_t i = from; i < a->olen; i++) {
        float x = a->obuf[i];
        if (!(x >= -1.0f)) /* also catches NaN */
            x = x < -1.0f ? -1.0f : 0.0f;
        else if (x > 1.0f)
            x = 1.0f;
        a->obuf[i] = x;
    }
}

int resample_flush(sotto_audio *a)
{
    if (!a->swr)
        return 0;
    for (;;) {
        int64_t want = swr_get_out_samples(a->swr, 0);
        if (want <= 0)
            want = 256;
        int rc = obuf_reserve(a, (size_t)want + 256);
        if (rc < 0)
            return rc;
        uint8_t *out = (uint8_t *)(a->obuf + a->olen);
        int got = swr_convert(a->swr, &out, (int)(a->ocap - a->olen), NULL, 0);
        if (got < 0)
            return error_set(SOTTO_EFORMAT, "'%s': resampling failed", a->name);
        if (got == 0)
            return 0;
        size_t from = a->olen;
        a->olen += (size_t)got;
        clamp_new(a, from);
    }
}

int resample_setup(sotto_audio *a, int fmt, int rate, int channels)
{
    if (a->swr && fmt == a->in_format && rate == a->in_rate && channels == a->in_channels)
        return 0;
    if (channels < 1 || channels > AUDIO_MAX_CHANNELS)
        return error_set(SOTTO_ENOTSUP, "'%s' has %d channels; at most %d are supported",
                         a->name, channels, AUDIO_MAX_CHANNELS);
    if (rate < 1)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: sample rate %d Hz",
                         a->name, rate);
    /* far outside real audio, and libswresample's filter design for such a ratio takes
     * seconds and megabytes: a header that claims it is refused */
    if (rate < AUDIO_MIN_RATE || rate > AUDIO_MAX_RATE)
        return error_set(SOTTO_ENOTSUP, "'%s' has a sample rate of %d Hz; %d to %d Hz are supported",
                         a->name, rate, AUDIO_MIN_RATE, AUDIO_MAX_RATE);
    /* a format change mid-stream (it happens in MP3 and ADTS streams): drain the old one */
    int rc = resample_flush(a);
    if (rc < 0)
        return rc;
    swr_free(&a->swr);

    AVChannelLayout in_layout, out_layout = AV_CHANNEL_LAYOUT_MONO;
    av_channel_layout_default(&in_layout, channels);
    int err = swr_alloc_set_opts2(&a->swr, &out_layout, AV_SAMPLE_FMT_FLT, SOTTO_SAMPLE_RATE,
                                  &in_layout, (enum AVSampleFormat)fmt, rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (err < 0 || !a->swr)
        return error_set(SOTTO_ENOMEM, "cannot set up resampling for '%s'", a->name);
    double matrix[AUDIO_MAX_CHANNELS];
    for (int c = 0; c < channels; c++)
        matrix[c] = 1.0 / channels;
    if (swr_set_matrix(a->swr, matrix, channels) < 0 || swr_init(a->swr) < 0) {
        swr_free(&a->swr);
        return error_set(SOTTO_ENOTSUP, "'%s': cannot convert %s at %d Hz, %d ch", a->name,
                         av_get_sample_fmt_name((enum AVSampleFormat)fmt)
                             ? av_get_sample_fmt_name((enum AVSampleFormat)fmt)
                             : "?",
                         rate, channels);
    }
    a->in_format = fmt;
    a->in_rate = rate;
    a->in_channels = channels;
    return 0;
}

int resample_feed(sotto_audio *a, const uint8_t *const *in, int n_in)
{
    if (n_in <= 0)
        return 0;
    int64_t want = swr_get_out_samples(a->swr, n_in);
    if (want < 0)
        return error_set(SOTTO_EFORMAT, "'%s': resampling failed", a->name);
    int rc = obuf_reserve(a, (size_t)want + 256);
    if (rc < 0)
        return rc;
    uint8_t *out = (uint8_t *)(a->obuf + a->olen);
    int got = swr_convert(a->swr, &out, (int)(a->ocap - a->olen), (const uint8_t **)in, n_in);
    if (got < 0)
        return error_set(SOTTO_EFORMAT, "'%s': resampling failed", a->name);
    size_t from = a->olen;
    a->olen += (size_t)got;
    clamp_new(a, from);
    a->decoded_s += (double)n_in / a->in_rate;
    return 0;
}
