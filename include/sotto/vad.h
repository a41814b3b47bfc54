/*
 * vad.h - speech activity: for now, an energy-based utterance splitter.
 *
 * The splitter cuts a long stream of 16 kHz mono samples into utterances at pauses so
 * that recognition time and memory grow linearly with the audio and each utterance keeps
 * its exact time offset. It tracks an adaptive noise floor over 10 ms frames; a pause is
 * min_silence_s of frames below the floor + threshold. Utterances longer than
 * max_utterance_s are cut at the quietest recent frame. Pure silence is dropped (never
 * handed to a recognizer). The live-streaming work brings a measured VAD beside it.
 */
#ifndef SOTTO_VAD_H
#define SOTTO_VAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_splitter_options {
    float min_silence_s;   /* pause length that ends an utterance (default 0.35) */
    float max_utterance_s; /* hard cap on one utterance (default 30) */
    float pad_s;           /* audio kept before/after detected speech (default 0.25) */
    float threshold_db;    /* speech = frame energy this far above the noise floor (default 12) */
} sotto_splitter_options;

void sotto_splitter_options_init(sotto_splitter_options *o);

typedef struct sotto_splitter sotto_splitter;

/* opts may be NULL for defaults. Free with sotto_splitter_free(). */
int sotto_splitter_new(const sotto_splitter_options *opts, sotto_splitter **out);
void sotto_splitter_free(sotto_splitter *sp);

/* Append samples (contiguous with what was fed before). */
int sotto_splitter_feed(sotto_splitter *sp, const float *pcm, size_t n);
/* Declare end of input: whatever speech is buffered becomes a final utterance. Fails only
 * when that utterance cannot be queued (out of memory or the queue's cap); calling it
 * again is a no-op that returns 0. */
int sotto_splitter_finish(sotto_splitter *sp);

/* Take the next complete utterance, if one is ready: returns 1 and points *pcm at n
 * samples owned by the splitter (valid until the next call on it) starting *t_start
 * seconds into the input; returns 0 when none is ready yet. */
int sotto_splitter_next(sotto_splitter *sp, const float **pcm, size_t *n, double *t_start);

#ifdef __cplusplus
}
#endif
#endif
