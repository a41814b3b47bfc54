/*
 * sphinx_int.h - shared between the PocketSphinx backend's files (sphinx.c: model
 * checks, decoder creation, whole-buffer recognition; sphinx_stream.c: native streaming).
 *
 * Every decoder is configured the same way: "-remove_silence no" (with silence removal
 * on, this PocketSphinx reports word frames relative to the speech it kept, not to the
 * audio fed) and "-bestpath yes" (word posteriors come from the best-path lattice).
 * Frames are 10 ms, counted from the start of the utterance (sphinx_utt_start restarts the
 * decoder's "stream" for that); times are our own sample counts plus frames.
 */
#ifndef SOTTO_SPHINX_INT_H
#define SOTTO_SPHINX_INT_H

#include <pocketsphinx.h>

#include "asr/asr_int.h"

#define SPHINX_RATE 16000
#define SPHINX_FRAME_S 0.01
#define SPHINX_PATH_MAX 1024

/* The backend's loaded state (one per sotto_asr). */
typedef struct sphinx_state {
    char hmm[SPHINX_PATH_MAX];  /* acoustic model directory */
    char lm[SPHINX_PATH_MAX];   /* language model file */
    char dict[SPHINX_PATH_MAX]; /* pronunciation dictionary */
    int want_words;             /* fill sotto_segment.words */
    ps_decoder_t *ps;           /* decoder for sotto_asr_transcribe (one caller at a time) */
} sphinx_state;

/* The packaged model directory used when options.model_path is NULL (".../en-us"). */
const char *sphinx_default_model_dir(void);

/* A new decoder for st's model (each stream gets its own so streams are independent);
 * live = 1: the cheaper search settings of stream decoders (sphinx.c says why). Free
 * with ps_free(). */
int sphinx_decoder_new(const sphinx_state *st, int live, ps_decoder_t **out);

/* Recognize pcm as one utterance on ps (batch CMN over the whole buffer, second pass,
 * best path) and append its segments, times shifted by t_offset, to out; words: word
 * times too. Used by transcribe and by a stream's whole-utterance pass. */
int sphinx_decode_whole(ps_decoder_t *ps, const float *pcm, size_t n, double t_offset, int words,
                        sotto_transcript *out);

/* Start an utterance whose frame 0 is the next sample fed. */
int sphinx_utt_start(ps_decoder_t *ps);

/* Convert float samples to int16 (clipped) and feed them to the running utterance. */
int sphinx_feed(ps_decoder_t *ps, const float *pcm, size_t n, int full_utt);

/* After ps_end_utt(): append the utterance's one segment (if it holds any word) to out.
 * t_utt is the time of the utterance's first sample, n_fed the samples it holds. During
 * an utterance it gives the current partial hypothesis the same way (word posteriors are
 * then 1.0: there is no lattice yet). */
int sphinx_collect(ps_decoder_t *ps, double t_utt, size_t n_fed, int want_words,
                   sotto_transcript *out);

int sphinx_stream_new(void *state, void **stream);
void sphinx_stream_free(void *stream);
int sphinx_stream_feed(void *stream, const float *pcm, size_t n);
int sphinx_stream_partial(void *stream, const char **text);
int sphinx_stream_flush(void *stream);
int sphinx_stream_take_finals(void *stream, sotto_transcript *out);
int sphinx_stream_partial_words(void *stream, sotto_transcript *out);
int sphinx_stream_transcribe(void *stream, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out);

#endif
