/*
 * raw.c - reads headerless PCM (s16le, f32le) at any rate and channel count.
 *
 * Owns a chunk buffer of at most RAW_CHUNK_BYTES: bytes are read from the source,
 * whole sample frames go to the resampler, a partial frame waits for the next read.
 * A partial frame left at the very end is dropped (a recorder killed mid-write leaves
 * one). Raw input states no length, so it can never be "truncated".
 */
#include <libavutil/samplefmt.h>
#include <stdio.h>
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"

#define RAW_CHUNK_BYTES 65536
#define AUDIO_FEED_OUT 8192

int raw_open(sotto_audio *a, const sotto_audio_options *opts)
{
    audio_raw *r = &a->raw;
    a->is_raw = 1;
    r->bytes_per_sample = opts->raw == SOTTO_RAW_S16LE ? 2 : 4;
    size_t frame_bytes = (size_t)r->bytes_per_sample * (size_t)opts->raw_channels;
    /* about AUDIO_FEED_OUT output samples per chunk, and never more than 64 KB */
    int64_t frames = (int64_t)AUDIO_FEED_OUT * opts->raw_rate / SOTTO_SAMPLE_RATE;
    if (frames < 64)
        frames = 64;
    if ((uint64_t)frames * frame_bytes > RAW_CHUNK_BYTES)
        frames = (int64_t)(RAW_CHUNK_BYTES / frame_bytes);
    r->cap = (size_t)frames * frame_bytes;
    r->buf = malloc(r->cap);
    if (!r->buf)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    int fmt = opts->raw == SOTTO_RAW_S16LE ? AV_SAMPLE_FMT_S16 : AV_SAMPLE_FMT_FLT;
    int rc = resample_setup(a, fmt, opts->raw_rate, opts->raw_channels);
    if (rc < 0)
        return rc;
    const char *fname = opts->raw == SOTTO_RAW_S16LE ? "s16le" : "f32le";
    snprintf(a->desc, sizeof a->desc, "raw %s, %d Hz, %d ch", fname, opts->raw_rate,
             opts->raw_channels);
    a->stated_s = -1;
    a->duration_s = -1;
    if (a->src.size >= 0)
        a->duration_s = (double)((a->src.size - a->src.pos) / (int64_t)frame_bytes) / opts->raw_rate;
    return 0;
}

int raw_produce(sotto_audio *a)
{
    audio_raw *r = &a->raw;
    size_t frame_bytes = (size_t)r->bytes_per_sample * (size_t)a->in_channels;
    /* fill up to one whole frame at least; a pipe may hand out a few bytes at a time */
    while (r->len < frame_bytes) {
        int64_t got = source_read(&a->src, r->buf + r->len, r->cap - r->len);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            a->at_end = 1;
            return resample_flush(a);
        }
        r->len += (size_t)got;
    }
    size_t n_frames = r->len / frame_bytes;
    const uint8_t *in[1] = {r->buf};
    int rc = resample_feed(a, in, (int)n_frames);
    size_t used = n_frames * frame_bytes;
    memmove(r->buf, r->buf + used, r->len - used);
    r->len -= used;
    return rc;
}

void raw_close(sotto_audio *a)
{
    free(a->raw.buf);
    a->raw.buf = NULL;
    a->raw.len = a->raw.cap = 0;
}
