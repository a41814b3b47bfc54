/*
 * check_audio.h - the speech fixtures as the unit tests read them (include after check.h):
 * a fixture's path in the generated fixtures directory, its audio as 16 kHz mono float PCM
 * (read through the audio module, the way the library reads any input), its length in
 * seconds, its reference text, and several fixtures joined into one buffer.
 *
 * Every helper asserts its own success (a missing fixture fails the test at the call
 * with the audio module's message) and is static inline, like the other *_fixtures.h
 * headers here: each test file gets its own copy and needs nothing more at link time.
 */
#ifndef SOTTO_CHECK_AUDIO_H
#define SOTTO_CHECK_AUDIO_H

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sotto/audio.h"
#include "sotto/error.h"

/* <fixtures dir>/<name>; one of 8 static buffers used in turn, so a few paths can be held
 * at once (valid until the 8th call after this one). */
static inline const char *check_fixture_path(const char *name)
{
    static char paths[8][1024];
    static int slot;
    char *p = paths[slot++ % 8];
    int len = snprintf(p, sizeof paths[0], "%s/%s", check_fixtures_dir(), name);
    if (len < 0 || (size_t)len >= sizeof paths[0])
        CHECK_FAIL("fixture path too long: %s/%s", check_fixtures_dir(), name);
    return p;
}

/* Any audio file, decoded to 16 kHz mono float; *n_out gets the sample count; caller frees. */
static inline float *check_load_audio(const char *path, size_t *n_out)
{
    float *pcm = NULL;
    size_t n = 0;
    int rc = sotto_audio_load(path, NULL, &pcm, &n);
    if (rc != 0)
        CHECK_FAIL("load %s: %d %s", path, rc, sotto_last_error());
    if (n_out)
        *n_out = n;
    return pcm;
}

/* A generated fixture (e.g. "utt_00_kal16.wav") as 16 kHz mono float; caller frees. */
static inline float *check_load_speech(const char *name, size_t *n_out)
{
    return check_load_audio(check_fixture_path(name), n_out);
}

/* Length in seconds of any audio file, as the reader decodes it. */
static inline double check_audio_seconds(const char *path)
{
    size_t n = 0;
    free(check_load_audio(path, &n));
    return (double)n / SOTTO_SAMPLE_RATE;
}

/* A fixture's reference text (the .txt beside each utterance: one line), with trailing
 * white space removed; caller frees. */
static inline char *check_fixture_text(const char *name)
{
    const char *path = check_fixture_path(name);
    FILE *f = fopen(path, "rb");
    if (!f)
        CHECK_FAIL("cannot open %s", path);
    char *s = calloc(1, 4096);
    ASSERT_TRUE(s != NULL);
    size_t n = fread(s, 1, 4095, f);
    fclose(f);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Fixtures back to back as one buffer, gap_samples of silence between two; caller frees. */
static inline float *check_load_joined(const char *const *names, size_t n_names, size_t gap_samples,
                                       size_t *n_out)
{
    float *all = NULL;
    size_t n_all = 0;
    for (size_t i = 0; i < n_names; i++) {
        size_t n = 0;
        float *pcm = check_load_speech(names[i], &n);
        size_t gap = i ? gap_samples : 0;
        float *grown = realloc(all, (n_all + gap + n) * sizeof *all);
        ASSERT_TRUE(grown != NULL);
        all = grown;
        memset(all + n_all, 0, gap * sizeof *all);
        memcpy(all + n_all + gap, pcm, n * sizeof *pcm);
        n_all += gap + n;
        free(pcm);
    }
    *n_out = n_all;
    return all;
}

#endif
