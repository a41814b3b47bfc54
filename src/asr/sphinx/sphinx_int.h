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

#include <pthread.h>
#include <stdint.h>

#include <pocketsphinx.h>
#include <sphinxbase/cmn.h>

#include "asr/asr_int.h"

#define SPHINX_RATE 16000
#define SPHINX_FRAME_S 0.01
#define SPHINX_PATH_MAX 1024

/* Idle live decoders a recognizer keeps for its next streams (a new one costs about
 * 0.3-0.5 s CPU and 95 MB): this many by default, more after a warm request for more. */
#define SPHINX_POOL_KEEP 4
#define SPHINX_POOL_MAX SOTTO_ASR_WARM_MAX /* the most a warm request may ask for */

/*
 * The pool of idle live (stream) decoders, sphinx_stream.c. A decoder given back is
 * reset to what a new one is: its utterance ended and its cepstral mean normalization
 * (type and live estimate: the only state PocketSphinx carries from one utterance to the
 * next) set back to what the decoder had when created (cmn0_*, saved from the first
 * decoder the pool made; every decoder of a recognizer has the same configuration).
 * mu guards every field.
 */
typedef struct sphinx_pool {
    pthread_mutex_t mu;
    ps_decoder_t *idle[SPHINX_POOL_MAX]; /* idle decoders, a stack: idle[n_idle - 1] on top */
    int n_idle;
    int keep;            /* idle decoders kept at most: SPHINX_POOL_KEEP, or a warm's n */
    uint64_t n_created;  /* live decoders created for this recognizer (tests count them) */
    int cmn0_saved;      /* cmn0_* hold a new decoder's CMN state */
    cmn_type_t cmn0_type; /* its CMN type (batch: live frames switch it to live) */
    int32 cmn0_veclen;
    int32 cmn0_nframe;
    mfcc_t *cmn0_mean;   /* (cmn0_veclen) */
    mfcc_t *cmn0_sum;    /* (cmn0_veclen) */
} sphinx_pool;

/* The backend's loaded state (one per sotto_asr). */
typedef struct sphinx_state {
    char hmm[SPHINX_PATH_MAX];  /* acoustic model directory */
    char lm[SPHINX_PATH_MAX];   /* language model file */
    char dict[SPHINX_PATH_MAX]; /* pronunciation dictionary */
    int want_words;             /* fill sotto_segment.words */
    ps_decoder_t *ps;           /* decoder for sotto_asr_transcribe (one caller at a time) */
    sphinx_pool pool;           /* idle stream decoders (thread-safe) */
} sphinx_state;

/* The packaged model directory used when options.model_path is NULL (".../en-us"). */
const char *sphinx_default_model_dir(void);

/* A new decoder for st's model (each stream gets its own so streams are independent);
 * live = 1: the cheaper search settings of stream decoders (sphinx.c says why), and two
 * searches to choose from before each utterance (sphinx_search): the full one (first
 * pass, second pass, best path; active when made) and the first pass alone (with best
 * path). Free with ps_free(). */
int sphinx_decoder_new(const sphinx_state *st, int live, ps_decoder_t **out);
/* Make a live decoder's next utterance use the full search (full = 1) or the first pass
 * alone; between utterances only. */
int sphinx_search(ps_decoder_t *ps, int full);

/* Recognize pcm as one utterance on ps (second pass, best path; CMN over the whole buffer
 * while the decoder's CMN type is batch, as it is until the decoder first streams:
 * sphinx_stream_transcribe sets it around its pass) and append its segments, times
 * shifted by t_offset, to out; words: word times too. Used by transcribe and by a
 * stream's whole-utterance pass. */
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

/* The stream-decoder pool (sphinx_stream.c). init: empty, keep = SPHINX_POOL_KEEP;
 * free: ps_free every idle decoder (streams must be freed before: they give theirs back).
 * take: an idle decoder (reset, see sphinx_pool) or else a new live one; the caller owns
 * it and hands it back with give, which ends any open utterance, resets it and keeps it
 * while fewer than keep are idle (else frees it). All thread-safe; the slow parts (ps_init,
 * ps_free, the reset) run outside the lock. */
int sphinx_pool_init(sphinx_pool *pool);
void sphinx_pool_free(sphinx_pool *pool);
int sphinx_pool_take(sphinx_state *st, ps_decoder_t **out);
void sphinx_pool_give(sphinx_state *st, ps_decoder_t *ps, int in_utt);
/* For tests and logs: idle decoders now and live decoders created so far. */
void sphinx_pool_counts(sphinx_state *st, int *n_idle, uint64_t *n_created);
/* asr_backend.stream_warm: at least n (0..SPHINX_POOL_MAX) idle decoders, keep raised to
 * n; returns how many it created. */
int sphinx_stream_warm(void *state, int n);

int sphinx_stream_new(void *state, void **stream);
void sphinx_stream_free(void *stream);
int sphinx_stream_feed(void *stream, const float *pcm, size_t n);
int sphinx_stream_partial(void *stream, const char **text);
int sphinx_stream_flush(void *stream);
int sphinx_stream_take_finals(void *stream, sotto_transcript *out);
int sphinx_stream_partial_words(void *stream, sotto_transcript *out);
int sphinx_stream_transcribe(void *stream, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out);
int sphinx_stream_want_finals(void *stream, int want);

#endif
