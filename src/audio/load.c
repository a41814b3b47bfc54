/*
 * load.c - whole-input convenience on top of the streaming reader, and option parsing.
 *
 * sotto_audio_load() is for short inputs and tests: it grows one buffer up to a hard cap
 * (AUDIO_LOAD_MAX_S of audio), so a huge file is an error instead of an exhausted
 * machine. Long inputs should be streamed with sotto_audio_read().
 */
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"

#define AUDIO_LOAD_MAX_S (3 * 3600)
#define AUDIO_LOAD_BLOCK 16384

int sotto_audio_load(const char *path, const sotto_audio_options *opts, float **pcm,
                     size_t *n_samples)
{
    if (!pcm || !n_samples)
        return error_set(SOTTO_EINVAL, "sotto_audio_load: no output pointer");
    *pcm = NULL;
    *n_samples = 0;
    sotto_audio *a;
    int rc = sotto_audio_open(path, opts, &a);
    if (rc < 0)
        return rc;
    const size_t max = (size_t)AUDIO_LOAD_MAX_S * SOTTO_SAMPLE_RATE;
    float *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < AUDIO_LOAD_BLOCK) {
            if (cap >= max) {
                rc = error_set(SOTTO_ENOMEM,
                               "'%s' is longer than %d hours; stream it instead of loading it",
                               a->name, AUDIO_LOAD_MAX_S / 3600);
                break;
            }
            size_t ncap = cap ? cap * 2 : 65536;
            if (ncap > max)
                ncap = max;
            float *p = realloc(buf, ncap * sizeof(float));
            if (!p) {
                rc = error_set(SOTTO_ENOMEM, "out of memory loading '%s'", a->name);
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = 0;
        size_t want = cap - len < AUDIO_LOAD_BLOCK ? cap - len : AUDIO_LOAD_BLOCK;
        rc = sotto_audio_read(a, buf + len, want, &got);
        if (rc < 0 || got == 0)
            break;
        len += got;
    }
    sotto_audio_close(a);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *pcm = buf;
    *n_samples = len;
    return 0;
}

int sotto_audio_parse_raw_format(const char *s, sotto_raw_format *out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "sotto_audio_parse_raw_format: no output pointer");
    if (s && strcmp(s, "s16le") == 0) {
        *out = SOTTO_RAW_S16LE;
        return 0;
    }
    if (s && strcmp(s, "f32le") == 0) {
        *out = SOTTO_RAW_F32LE;
        return 0;
    }
    return error_set(SOTTO_EINVAL, "unknown raw format '%s' (expected s16le or f32le)",
                     s ? s : "");
}
