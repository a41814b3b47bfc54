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

/*
 * Simultaneous decoding (AlignAtt, ../shared/docs/streaming.md): each update decodes the
 * whole buffer again with the tokens already committed from it forced as a prefix, and
 * emits new tokens only while the alignment heads attend to audio at least tau frames
 * before the buffer's end. The backend's simul object holds the committed tokens of the
 * current buffer; the stream (src/stream/) owns the audio buffer, VAD and context.
 */
typedef struct asr_simul_call {
    const float *pcm;  /* the whole current buffer, 16 kHz mono, at most 30 s */
    size_t n;
    double t_offset;   /* stream time of pcm[0], seconds */
    const char *prompt; /* context text (static + rolling), NULL = none */
    int tau_frames;    /* emit a token only if its attended frame < n_frames - tau */
    int final;         /* the utterance has ended: decode to end-of-text, commit all words */
} asr_simul_call;

typedef struct asr_simul_out {
    /* Words completed by this update (times absolute, non-decreasing), owned by the
     * simul object, valid until its next call. A word is published only once the token
     * after it starts a new word (or the utterance is final), so it is never cut. */
    sotto_word *words;
    size_t n_words;
    const char *partial;  /* emitted-but-unfinished word plus held-back tokens ("" if none) */
    int n_new_tokens;     /* tokens committed by this update */
    int rewound;          /* 1: a backward attention jump discarded this update's tokens */
    int ended;            /* 1: end-of-text was decoded */
    char language[16];
} asr_simul_out;

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
    /* o: the recognizer's options with this call's overrides applied (prompt, words). */
    int (*transcribe)(void *state, const sotto_asr_options *o, const float *pcm, size_t n,
                      double t_offset, sotto_transcript *out);
    /* Streaming; stream_new may be NULL, then the generic buffer-and-redecode stream in
     * asr.c is used (it calls transcribe on the buffered utterance). */
    int (*stream_new)(void *state, void **stream);
    void (*stream_free)(void *stream);
    int (*stream_feed)(void *stream, const float *pcm, size_t n);
    int (*stream_partial)(void *stream, const char **text);
    int (*stream_flush)(void *stream);
    int (*stream_take_finals)(void *stream, sotto_transcript *out);
    /* Attention-guided incremental decoding for the align_att policy (asr_simul_* below);
     * NULL for backends without cross-attention. simul_new calls of one recognizer are
     * serialized by asr.c (with its whole-buffer calls); simul_update / drop / reset /
     * free of DIFFERENT simul objects may run at the same time, also alongside
     * transcribe, so each simul object owns its run state and what the objects share is
     * thread-safe (whisper: a step batcher that runs concurrent streams' decoder steps
     * as one pass). Calls on one simul object come from one thread at a time. */
    int (*simul_new)(void *state, void **simul);
    void (*simul_free)(void *simul);
    int (*simul_update)(void *simul, const struct asr_simul_call *call, struct asr_simul_out *out);
    int (*simul_drop)(void *simul, size_t n_samples);
    void (*simul_reset)(void *simul);
    /* Optional (NULL: not supported): the native stream's current best hypothesis during
     * an utterance as one segment with words (absolute times, the stream's sample count
     * as clock), appended to out (nothing when there is no word yet). Mid-utterance
     * hypotheses may change; they are not finals and are not removed from the stream. */
    int (*stream_partial_words)(void *stream, sotto_transcript *out);
    /* Optional: whole-buffer recognition (like transcribe) on the stream's own decoder,
     * between utterances. Streams of one recognizer then run such passes in parallel
     * instead of queueing on the recognizer's lock. */
    int (*stream_transcribe)(void *stream, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out);
    /* Optional (NULL: nothing to prepare): make at least n (0..256, checked by asr.c)
     * stream decoders ready, so the next n stream_new calls create none; returns how many
     * it created (>= 0) or a negative SOTTO_E*. Thread-safe with stream_new/stream_free
     * of the same recognizer (and with other warm calls); not serialized by asr.c. */
    int (*stream_warm)(void *state, int n);
    /* Optional (NULL: the stream always does all its work): want = 0 tells the native
     * stream that its finals of the utterances that start from now on will not be used
     * (the caller recognizes them again), so it may skip work that only improves them;
     * want = 1 (the default) undoes it. Between utterances; finals are still produced. */
    int (*stream_want_finals)(void *stream, int want);
    /* Optional (NULL: whole-buffer calls share the recognizer's run state under its lock):
     * a caller-owned run state for whole-buffer calls (asr_runner below), same model and
     * options as transcribe, so that calls on different runners run at the same time,
     * also alongside transcribe and simul updates. runner_new returns 0 with *runner NULL
     * when the backend keeps no more private run states (its cap); it is not serialized
     * by asr.c (thread-safe in the backend). One runner is used by one thread at a time. */
    int (*runner_new)(void *state, void **runner);
    void (*runner_free)(void *runner);
    int (*runner_transcribe)(void *runner, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out);
} asr_backend;

extern const asr_backend asr_backend_sphinx;
extern const asr_backend asr_backend_whisper;

/* The recognizer's private copy of its options (strings owned by asr). */
const sotto_asr_options *asr_options(const sotto_asr *asr);

/* Decoding effort of one whole-buffer call, for callers inside the library: a stream's
 * live re-decodes during an utterance need one hypothesis, not the recognizer's full search
 * (beam 5 plus the temperature-fallback ladder costs several times as much per update and
 * the next update redoes it anyway). Fields as in sotto_asr_options; backends without such
 * a search (sphinx) ignore them. */
typedef struct asr_decode {
    int beam_size;     /* >= 1 */
    int best_of;       /* >= 1 */
    float temperature; /* starting temperature */
    int no_fallback;   /* 1: that temperature only */
} asr_decode;
/* Greedy: one sequence at temperature 0, no fallback. */
#define ASR_DECODE_GREEDY {1, 1, 0.0f, 1}

/* The options one whole-buffer call runs with: base with call's overrides (prompt, word
 * timestamps) and dec's decoding fields (dec NULL: base's own). Pure; strings borrowed. */
void asr_call_options(const sotto_asr_options *base, const sotto_asr_call *call, const asr_decode *dec,
                      sotto_asr_options *out);

/* sotto_asr_transcribe_ex with the decoding of dec (NULL: the recognizer's own). */
int asr_transcribe_decode(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                          const sotto_asr_call *call, const asr_decode *dec, sotto_transcript *out);

/* The generic stream (buffer what is fed; partial = a greedy transcribe of the buffer so
 * far, ASR_DECODE_GREEDY; flush = transcribe it once more as final, with the recognizer's
 * own decoding). sotto_asr_stream_new() uses it for backends
 * without stream_new; exposed so tests can drive it with any backend. */
int asr_stream_new_generic(sotto_asr *asr, sotto_asr_stream **out);

/* The backend's stream_partial_words on a native stream (see asr_backend): SOTTO_EINVAL
 * for NULL arguments, SOTTO_ENOTSUP naming the backend when it (or the generic stream)
 * cannot give words mid-utterance. out is appended to (the caller owns and frees it). */
int asr_stream_partial_words(sotto_asr_stream *s, sotto_transcript *out);
/* The backend's stream_want_finals on a native stream (see asr_backend); 0 and nothing
 * done where the backend has no such choice or the stream is the generic one. */
int asr_stream_want_finals(sotto_asr_stream *s, int want);
/* 1 when sotto_asr_stream_new(asr) gives a stream that asr_stream_partial_words serves. */
int asr_stream_partial_words_supported(const sotto_asr *asr);
/* Recognize a whole buffer for the stream's owner (the native policy's end-of-utterance
 * pass): on the stream's own decoder when the backend can (stream_transcribe, no lock),
 * else sotto_asr_transcribe_ex on the shared recognizer. Call between utterances. */
int asr_stream_transcribe(sotto_asr_stream *s, const sotto_asr_call *call, const float *pcm,
                          size_t n, double t_offset, sotto_transcript *out);

/* sotto_asr_simul: wrappers over the backend's simul_* (SOTTO_EINVAL naming the backend
 * when it has none). Updates of different simul objects run concurrently (no recognizer
 * lock: see asr_backend.simul_new); one simul object is used by one thread at a time. */
typedef struct asr_simul asr_simul;
int asr_simul_supported(const sotto_asr *asr);
int asr_simul_new(sotto_asr *asr, asr_simul **out);
void asr_simul_free(asr_simul *s); /* NULL is a no-op */
int asr_simul_update(asr_simul *s, const asr_simul_call *call, asr_simul_out *out);
/* The buffer's first n_samples were dropped: forget the committed tokens they held. */
int asr_simul_drop(asr_simul *s, size_t n_samples);
/* A new utterance starts with an empty buffer. */
void asr_simul_reset(asr_simul *s);

/* ---- private whole-buffer run states ----------------------------------------------------
 * asr_runner: whole-buffer calls (as asr_transcribe_decode) for one caller, e.g. one
 * local_agreement stream that re-decodes its buffer on every update. On backends with
 * runner_new (whisper) it owns a run state of its own and takes no recognizer lock, so N
 * such streams decode in parallel; otherwise (sphinx, or past the backend's cap of private
 * run states) it is a handle that calls asr_transcribe_decode on the shared recognizer.
 * Results are the same either way (same model, options and code path). The runner borrows
 * asr (free it first); asr_runner_free frees the rest. One thread at a time per runner. */
typedef struct asr_runner asr_runner;
int asr_runner_new(sotto_asr *asr, asr_runner **out);
void asr_runner_free(asr_runner *r); /* NULL is a no-op */
/* 1 when r owns a private run state (its calls take no recognizer lock). */
int asr_runner_private(const asr_runner *r);
int asr_runner_decode(asr_runner *r, const float *pcm, size_t n, double t_offset,
                      const sotto_asr_call *call, const asr_decode *dec, sotto_transcript *out);
/* Tests only: take (hold = 1) or release (0) the recognizer's lock, to prove that
 * private runners do not wait for it. */
void asr_test_hold_lock(sotto_asr *asr, int hold);

#endif
