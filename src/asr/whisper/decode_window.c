/*
 * decode_window.c - what transcribe.py does around one decode: the compression-ratio
 * check, the temperature-fallback loop, the silence rule, and cutting a window's tokens
 * into segments at timestamp pairs together with how far the next window starts.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "asr/whisper/decode.h"
#include "base/base_int.h"

float whisper_compression_ratio(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    if (n == 0)
        return 0.0f; /* Python would divide 0 by the 8 bytes of an empty stream */
    uLongf cap = compressBound((uLong)n);
    Bytef *buf = malloc(cap);
    if (!buf)
        return 0.0f;
    /* zlib.compress(text) uses level -1 = Z_DEFAULT_COMPRESSION (6) */
    int zrc = compress2(buf, &cap, (const Bytef *)text, (uLong)n, Z_DEFAULT_COMPRESSION);
    free(buf);
    if (zrc != Z_OK || cap == 0)
        return 0.0f;
    return (float)((double)n / (double)cap);
}

void whisper_fallback_opts_init(whisper_fallback_opts *f)
{
    f->temperatures = NULL;
    f->n_temperatures = 0;
    f->compression_ratio_threshold = 2.4f;
    f->logprob_threshold = -1.0f;
    f->no_speech_threshold = 0.6f;
}

static int logprob_on(const whisper_fallback_opts *f)
{
    return f->logprob_threshold > -1e30f;
}

int whisper_is_silence(const whisper_decoding *d, const whisper_fallback_opts *f)
{
    if (f->no_speech_threshold > 1.0f || !(d->no_speech_prob > f->no_speech_threshold))
        return 0;
    /* confident text overrides the no-speech token */
    if (logprob_on(f) && d->avg_logprob > f->logprob_threshold)
        return 0;
    return 1;
}

int whisper_decode_fallback(const whisper_tokenizer *tk, const whisper_lm *lm, const whisper_decode_opts *o,
                            const whisper_fallback_opts *f, whisper_decoding *out, int *n_tried)
{
    static const float DEFAULT_T[] = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
    const float *temps = f->temperatures ? f->temperatures : DEFAULT_T;
    int n_t = f->temperatures ? f->n_temperatures : 6;
    if (n_t <= 0)
        return error_set(SOTTO_EINVAL, "whisper decode: no temperatures to try");
    memset(out, 0, sizeof *out);
    int tried = 0;
    for (int i = 0; i < n_t; i++) {
        whisper_decode_opts oi = *o;
        oi.temperature = temps[i];
        if (temps[i] > 0) {
            oi.beam_size = 0; /* beam search only at T = 0 */
            oi.seed = o->seed + (uint64_t)i;
        } else
            oi.best_of = 0; /* best_of only when sampling */
        whisper_decoding_clear(out);
        int rc = whisper_decode_run(tk, lm, &oi, out);
        tried++;
        if (rc)
            return rc;
        int fallback = 0;
        if (f->compression_ratio_threshold > 0 && out->compression_ratio > f->compression_ratio_threshold)
            fallback = 1; /* too repetitive */
        if (logprob_on(f) && out->avg_logprob < f->logprob_threshold)
            fallback = 1; /* too unlikely */
        if (f->no_speech_threshold <= 1.0f && out->no_speech_prob > f->no_speech_threshold && logprob_on(f) &&
            out->avg_logprob < f->logprob_threshold)
            fallback = 0; /* silence: the caller skips the window */
        if (!fallback)
            break;
    }
    if (n_tried)
        *n_tried = tried;
    return 0;
}

int whisper_cut_segments(const whisper_special *sp, const int32_t *tokens, size_t n, double time_offset,
                         int segment_frames, whisper_span **spans, size_t *n_spans, int *seek_frames,
                         int *single_timestamp_ending)
{
    const int32_t tb = sp->timestamp_begin;
    const double prec = 0.02; /* seconds per timestamp step */
    const int stride = 2;     /* mel frames per timestamp step */
    *spans = NULL;
    *n_spans = 0;
    int single_end = n >= 2 && tokens[n - 2] < tb && tokens[n - 1] >= tb;
    *single_timestamp_ending = single_end;
    size_t n_pairs = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (tokens[i] >= tb && tokens[i + 1] >= tb)
            n_pairs++;
    whisper_span *s = malloc(sizeof *s * (n_pairs + 2));
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory (segments)");
    size_t k = 0;
    if (n_pairs > 0) {
        /* cut after the first timestamp of every consecutive pair */
        size_t last = 0;
        for (size_t i = 0; i + 1 <= n; i++) {
            int cut = (i + 1 < n && tokens[i] >= tb && tokens[i + 1] >= tb);
            size_t at = i + 1;
            if (!cut && !(single_end && i + 1 == n))
                continue;
            if (at <= last)
                continue;
            s[k].begin = last, s[k].end = at;
            s[k].start = time_offset + (tokens[last] - tb) * prec;
            s[k].end_s = time_offset + (tokens[at - 1] - tb) * prec;
            /* a slice that does not start/end with a timestamp keeps the reference's
             * arithmetic on text ids; clamp it to the window so times stay sane */
            if (tokens[last] < tb)
                s[k].start = time_offset;
            if (tokens[at - 1] < tb)
                s[k].end_s = s[k].start;
            k++;
            last = at;
        }
        if (single_end)
            *seek_frames = segment_frames;
        else
            *seek_frames = (tokens[last - 1] - tb) * stride;
    } else {
        double duration = segment_frames * (double)WHISPER_HOP / WHISPER_SAMPLE_RATE;
        for (size_t i = n; i-- > 0;)
            if (tokens[i] >= tb) {
                if (tokens[i] != tb)
                    duration = (tokens[i] - tb) * prec;
                break;
            }
        s[0].begin = 0, s[0].end = n;
        s[0].start = time_offset, s[0].end_s = time_offset + duration;
        k = 1;
        *seek_frames = segment_frames;
    }
    *spans = s;
    *n_spans = k;
    return 0;
}
