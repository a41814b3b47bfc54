/*
 * audio.c - the public sotto_audio reader: open, read, describe, close.
 *
 * Ties a byte source (source.c) to a producer (decode.c for containers, raw.c for
 * headerless PCM) and hands out 16 kHz mono float blocks from the resampler's output
 * buffer. Owns the end-of-input judgement: a file whose header promised noticeably more
 * audio than it held is reported as truncated by the read that reaches the end, after
 * every sample it did hold has been delivered. Errors are sticky: once a read fails,
 * later reads fail the same way with the same message.
 */
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"

/* WAVE_FORMAT tags whose data chunk holds one sample frame per block_align bytes. */
static int wav_is_pcm_like(int tag) { return tag == 1 || tag == 3 || tag == 6 || tag == 7; }

static int check_options(const sotto_audio_options *opts, const char *name)
{
    if (!opts || opts->raw == SOTTO_RAW_NONE)
        return 0;
    if (opts->raw != SOTTO_RAW_S16LE && opts->raw != SOTTO_RAW_F32LE)
        return error_set(SOTTO_EINVAL, "invalid raw format %d for '%s'", (int)opts->raw, name);
    if (opts->raw_rate < AUDIO_MIN_RATE || opts->raw_rate > AUDIO_MAX_RATE)
        return error_set(SOTTO_EINVAL, "raw input '%s' needs a sample rate from %d to %d Hz (got %d)",
                         name, AUDIO_MIN_RATE, AUDIO_MAX_RATE, opts->raw_rate);
    if (opts->raw_channels < 1 || opts->raw_channels > AUDIO_MAX_CHANNELS)
        return error_set(SOTTO_EINVAL, "raw input '%s' needs 1 to %d channels (got %d)", name,
                         AUDIO_MAX_CHANNELS, opts->raw_channels);
    return 0;
}

/* Container input: check a WAV header's promises, then let FFmpeg open it. */
static int open_container(sotto_audio *a)
{
    wav_info w;
    wav_sniff(&a->src, &w);
    if (w.is_wav && w.channels == 0)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: 0 channels", a->name);
    if (w.is_wav && w.rate == 0)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: sample rate 0 Hz", a->name);
    int rc = decode_open(a, &w);
    if (rc < 0)
        return rc;
    /* FFmpeg clamps a WAV data chunk to what the file holds, so the header's own size is
     * the promise; trusted only when block_align agrees with channels and sample size. */
    if (w.is_wav && w.have_data && w.data_size > 0 && wav_is_pcm_like(w.format_tag) &&
        w.rate > 0 && w.block_align > 0 &&
        w.block_align == w.channels * ((w.bits + 7) / 8)) {
        a->stated_s = (double)(w.data_size / w.block_align) / (double)w.rate;
        if (a->src.seekable || a->duration_s < 0)
            a->duration_s = a->stated_s;
    }
    return 0;
}

/* Shared tail of both open calls: a->src is open; on failure *out stays NULL. */
static int finish_open(sotto_audio *a, const sotto_audio_options *opts, sotto_audio **out)
{
    a->stated_s = -1;
    a->duration_s = -1;
    int rc = opts && opts->raw != SOTTO_RAW_NONE ? raw_open(a, opts) : open_container(a);
    if (rc < 0) {
        sotto_audio_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

static sotto_audio *audio_new(const char *name)
{
    sotto_audio *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->name = str_dup(name);
    if (!a->name) {
        free(a);
        return NULL;
    }
    a->src.fd = -1;
    return a;
}

int sotto_audio_open(const char *path, const sotto_audio_options *opts, sotto_audio **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "sotto_audio_open: no output pointer");
    *out = NULL;
    if (!path || !*path)
        return error_set(SOTTO_EINVAL, "no audio file given");
    int is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    int rc = check_options(opts, name);
    if (rc < 0)
        return rc;
    sotto_audio *a = audio_new(name);
    if (!a)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", name);
    rc = is_stdin ? source_open_stdin(&a->src, a->name) : source_open_path(&a->src, path, a->name);
    if (rc < 0) {
        sotto_audio_close(a);
        return rc;
    }
    return finish_open(a, opts, out);
}

int sotto_audio_open_memory(const void *data, size_t size, const char *name,
                            const sotto_audio_options *opts, sotto_audio **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "sotto_audio_open_memory: no output pointer");
    *out = NULL;
    if (!name)
        name = "memory";
    int rc = check_options(opts, name);
    if (rc < 0)
        return rc;
    sotto_audio *a = audio_new(name);
    if (!a)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", name);
    rc = source_open_memory(&a->src, data, size, a->name);
    if (rc < 0) {
        sotto_audio_close(a);
        return rc;
    }
    return finish_open(a, opts, out);
}

/* The end of input was reached: was it the end the header promised? */
static int check_end(sotto_audio *a)
{
    if (!a->is_raw) {
        int rc = decode_end_error(a);
        if (rc < 0)
            return rc;
    }
    double missing = a->stated_s - a->decoded_s;
    /* slack for codec padding and rounded container durations (a frame or two) */
    if (a->stated_s > 0 && missing > 0.25 + 0.001 * a->stated_s)
        return error_set(SOTTO_EFORMAT,
                         "'%s' is truncated: its header promises %.2f s of audio but the file "
                         "holds %.2f s",
                         a->name, a->stated_s, a->decoded_s);
    if (a->is_raw)
        return 0;
    if (a->ff.demux_error)
        return error_set(SOTTO_EFORMAT, "'%s' is corrupt after %.2f s: %s", a->name, a->decoded_s,
                         a->ff.demux_reason);
    if (a->ff.n_errors > 0 && a->decoded_s == 0)
        return error_set(SOTTO_EFORMAT, "'%s' is corrupt: none of its audio could be decoded",
                         a->name);
    return 0;
}

int sotto_audio_read(sotto_audio *a, float *pcm, size_t max_samples, size_t *n_read)
{
    SOTTO_ASSERT(a && n_read && (pcm || max_samples == 0));
    *n_read = 0;
    size_t n = 0;
    while (n < max_samples) {
        if (a->opos < a->olen) {
            size_t k = a->olen - a->opos;
            if (k > max_samples - n)
                k = max_samples - n;
            memcpy(pcm + n, a->obuf + a->opos, k * sizeof(float));
            a->opos += k;
            n += k;
            continue;
        }
        if (a->err || a->at_end)
            break;
        int rc = a->is_raw ? raw_produce(a) : decode_produce(a);
        if (rc == 0 && a->at_end)
            rc = check_end(a);
        if (rc < 0) {
            /* deliver what was decoded before the failure; the error comes next */
            a->err = rc;
            snprintf(a->err_msg, sizeof a->err_msg, "%s", sotto_last_error());
        }
    }
    if (n == 0 && a->err && max_samples > 0)
        return error_set(a->err, "%s", a->err_msg);
    *n_read = n;
    return 0;
}

double sotto_audio_duration(const sotto_audio *a) { return a ? a->duration_s : -1; }

const char *sotto_audio_describe(const sotto_audio *a) { return a ? a->desc : ""; }

void sotto_audio_close(sotto_audio *a)
{
    if (!a)
        return;
    decode_close(a);
    raw_close(a);
    resample_free(a);
    source_close(&a->src);
    free(a->name);
    free(a);
}
