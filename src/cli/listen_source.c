/*
 * listen_source.c - the audio sources of `sotto listen` (see listen_source.h): the
 * common interface, the FILE kind, and the one libswresample converter the live kinds
 * share.
 *
 * FILE reads through libsotto's audio reader. FOLLOW (listen_follow.c) and MIC
 * (listen_mic.c) produce PCM at their own rate and layout and share the converter here
 * (averaging the channels, as the library's reader does, so a followed file gives the
 * same samples as the file read whole).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "cli.h"
#include "listen_source_int.h"
#include "sotto/sotto.h"

double listen_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void listen_sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* EINTR (Ctrl-C) just ends the nap early */
}

/* ---- conversion to 16 kHz mono float ----------------------------------------------- */

int listen_conv_setup(listen_source *s, int fmt, int rate, int channels, const char *name)
{
    if (channels < 1 || channels > 64 || rate < 1000 || rate > 768000) {
        cli_error(
            "'%s': %d Hz, %d channels is not audio sotto can read (1000-768000 Hz, 1-64 channels)",
            name, rate, channels);
        return EXIT_INPUT;
    }
    AVChannelLayout in_layout, out_layout = AV_CHANNEL_LAYOUT_MONO;
    av_channel_layout_default(&in_layout, channels);
    int err = swr_alloc_set_opts2(&s->swr, &out_layout, AV_SAMPLE_FMT_FLT, SOTTO_SAMPLE_RATE,
                                  &in_layout, (enum AVSampleFormat)fmt, rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    double matrix[64];
    for (int c = 0; c < channels; c++)
        matrix[c] = 1.0 / channels;
    if (err < 0 || !s->swr || swr_set_matrix(s->swr, matrix, channels) < 0 ||
        swr_init(s->swr) < 0) {
        cli_error("'%s': cannot convert %d Hz, %d channels to 16 kHz mono", name, rate, channels);
        return EXIT_FAILURE_GENERIC;
    }
    s->in_fmt = fmt;
    s->in_rate = rate;
    s->in_channels = channels;
    return 0;
}

/* Convert n_in interleaved frames (NULL/0 = drain) into obuf. */
int listen_conv_run(listen_source *s, const uint8_t *in, int n_in)
{
    int64_t want = swr_get_out_samples(s->swr, n_in) + 256;
    if (want < 0 || want > (int64_t)1 << 26)
        return EXIT_FAILURE_GENERIC;
    if (s->opos == s->olen)
        s->opos = s->olen = 0;
    if (s->olen + (size_t)want > s->ocap) {
        size_t cap = s->olen + (size_t)want;
        float *p = realloc(s->obuf, cap * sizeof *p);
        if (!p) {
            cli_error("out of memory");
            return EXIT_FAILURE_GENERIC;
        }
        s->obuf = p;
        s->ocap = cap;
    }
    uint8_t *out = (uint8_t *)(s->obuf + s->olen);
    const uint8_t *inp[1] = {in};
    int got = swr_convert(s->swr, &out, (int)(s->ocap - s->olen), in ? inp : NULL, n_in);
    if (got < 0) {
        cli_error("resampling failed");
        return EXIT_FAILURE_GENERIC;
    }
    /* the stream refuses non-finite samples; a float file may hold them */
    for (size_t i = s->olen; i < s->olen + (size_t)got; i++) {
        float v = s->obuf[i];
        s->obuf[i] = !isfinite(v) ? 0.0f : v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
    s->olen += (size_t)got;
    return 0;
}

/* ---- the common interface ------------------------------------------------------------ */

int listen_source_open(const listen_source_options *o, listen_source **out)
{
    *out = NULL;
    listen_source *s = calloc(1, sizeof *s);
    if (!s) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    s->kind = o->kind;
    s->stop = o->stop;
    s->fd = -1;
    s->final_size = -1;
    s->idle_s = o->idle_s;
    int rc = 0;
    if (o->kind == LISTEN_SRC_FILE) {
        int arc = sotto_audio_open(o->path, &o->audio, &s->audio);
        if (arc) {
            cli_error("%s", sotto_last_error());
            rc = cli_exit_code(arc) == EXIT_USAGE ? EXIT_INPUT : cli_exit_code(arc);
        } else {
            snprintf(s->desc, sizeof s->desc, "%s", sotto_audio_describe(s->audio));
        }
    } else if (o->kind == LISTEN_SRC_FOLLOW) {
        s->path = strdup(o->path);
        rc = s->path ? listen_follow_open(s, o) : EXIT_FAILURE_GENERIC;
    } else {
        rc = listen_mic_open(s, o);
    }
    if (rc) {
        listen_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int listen_source_read(listen_source *s, float *pcm, size_t max, size_t *n)
{
    *n = 0;
    if (s->kind == LISTEN_SRC_FILE) {
        if (*s->stop)
            return 0;
        int rc = sotto_audio_read(s->audio, pcm, max, n);
        if (rc) {
            cli_error("%s", sotto_last_error());
            return cli_exit_code(rc);
        }
        return 0;
    }
    if (s->opos == s->olen && !s->ended) {
        int rc = s->kind == LISTEN_SRC_FOLLOW ? listen_follow_fill(s) : listen_mic_fill(s);
        if (rc)
            return rc;
    }
    size_t k = s->olen - s->opos < max ? s->olen - s->opos : max;
    memcpy(pcm, s->obuf + s->opos, k * sizeof *pcm);
    s->opos += k;
    *n = k;
    return 0;
}

const char *listen_source_describe(const listen_source *s)
{
    return s->desc;
}

void listen_source_close(listen_source *s)
{
    if (!s)
        return;
    sotto_audio_close(s->audio);
    if (s->fd >= 0)
        close(s->fd);
    if (s->fmt)
        avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    swr_free(&s->swr);
    free(s->obuf);
    free(s->bytes);
    free(s->wide);
    free(s->path);
    free(s);
}
