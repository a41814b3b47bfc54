/*
 * asr_int.h - what a recognizer backend implements (inside libsotto only).
 *
 * asr.c owns the registry (a const table of these) and the public sotto_asr_* wrappers;
 * each backend lives in src/asr/<name>/ and exports one `const asr_backend`.
 * The wrappers check arguments and keep the common state (name, options copy); backends
 * get a validated call and return 0 or a negative SOTTO_E* code with error_set().
 */
#ifndef SOTTO_ASR_INT_H
#define SOTTO_ASR_INT_H

#include "sotto/asr.h"

typedef struct asr_backend {
    const char *name;
    const char *description;
    /* Fill info->available / info->needs for `sotto models` (name/description preset). */
    void (*probe)(sotto_asr_backend_info *info);
    /* Load the model; *state is the backend's own object. opts are the caller's copy,
     * valid for the recognizer's life. model_name (out, <= 255 chars) names the model. */
    int (*create)(const sotto_asr_options *opts, void **state, char *model_name,
                  size_t model_name_size);
    void (*destroy)(void *state);
    int (*transcribe)(void *state, const float *pcm, size_t n, double t_offset,
                      sotto_transcript *out);
    /* Streaming; stream_new may be NULL, then the generic buffer-and-redecode stream in
     * asr.c is used (it calls transcribe on the buffered utterance). */
    int (*stream_new)(void *state, void **stream);
    void (*stream_free)(void *stream);
    int (*stream_feed)(void *stream, const float *pcm, size_t n);
    int (*stream_partial)(void *stream, const char **text);
    int (*stream_flush)(void *stream);
    int (*stream_take_finals)(void *stream, sotto_transcript *out);
} asr_backend;

extern const asr_backend asr_backend_sphinx;
extern const asr_backend asr_backend_whisper;

/* The recognizer's private copy of its options (strings owned by asr). */
const sotto_asr_options *asr_options(const sotto_asr *asr);

/* The generic stream (buffer what is fed; partial = transcribe of the buffer so far;
 * flush = transcribe it once more as final). sotto_asr_stream_new() uses it for backends
 * without stream_new; exposed so tests can drive it with any backend. */
int asr_stream_new_generic(sotto_asr *asr, sotto_asr_stream **out);

#endif
