/*
 * asr.h - one interface for every speech recognizer.
 *
 * A recognizer (sotto_asr) is created from a backend name ("sphinx", "whisper") and
 * options; it holds the loaded model. Threads may share one: its whole-buffer calls are
 * serialized (one runs at a time; give each thread its own recognizer for parallelism),
 * and each sotto_asr_stream belongs to one thread at a time.
 *
 * Two ways to use it:
 *  - whole buffer: sotto_asr_transcribe() recognizes a block of 16 kHz mono samples
 *    (an utterance, a 30 s window, a whole short file) and appends segments;
 *  - streaming: a sotto_asr_stream is fed samples as they arrive; the caller asks for the
 *    current partial (unstable) text at any time, takes final segments as they become
 *    stable, and flushes at the end of an utterance or of the input.
 *
 * Streaming policies (LocalAgreement, AlignAtt) and word timestamps need per-token
 * information, including Whisper's cross-attention: a caller that wants it sets
 * options.on_token; backends that have no attention pass NULL for it. Nobody asking
 * costs nothing.
 */
#ifndef SOTTO_ASR_H
#define SOTTO_ASR_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/transcript.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-token detail for callers that need it (streaming policies, diagnostics). */
typedef struct sotto_asr_token {
    int32_t id;           /* token id in the backend's vocabulary */
    const char *text;     /* token text (may be a partial UTF-8 sequence for BPE) */
    float probability;    /* 0..1 */
    double t;             /* time in seconds of the token's timestamp, or -1 */
    const float *cross_attn; /* (n_heads, n_frames) alignment-head attention, or NULL */
    int n_heads;
    int n_frames;         /* encoder frames (20 ms each for Whisper) */
} sotto_asr_token;

typedef void (*sotto_asr_token_cb)(void *user, const sotto_asr_token *tok);

typedef struct sotto_asr_options {
    const char *model_path;  /* model file or directory; NULL = backend default */
    const char *language;    /* "en", "nl", ... or "auto"; NULL = backend default */
    const char *prompt;      /* initial prompt / context text; NULL = none */
    int translate;           /* 1: translate to English (Whisper) */
    int beam_size;           /* 0 = backend default */
    int best_of;             /* 0 = backend default */
    float temperature;       /* starting temperature (0 = greedy) */
    int no_fallback;         /* 1: disable the temperature-fallback loop */
    int no_timestamps;       /* 1: decode without timestamp tokens */
    int word_timestamps;     /* 1: fill sotto_segment.words */
    int n_threads;           /* 0 = number of cores */
    sotto_asr_token_cb on_token; /* optional per-token callback (final decode only) */
    void *on_token_user;
} sotto_asr_options;

/* Fill opts with defaults (everything 0/NULL except what the backends rely on). */
void sotto_asr_options_init(sotto_asr_options *opts);

typedef struct sotto_asr sotto_asr;
typedef struct sotto_asr_stream sotto_asr_stream;

/* What `sotto models` shows for each compiled-in backend. */
typedef struct sotto_asr_backend_info {
    const char *name;        /* "sphinx" */
    const char *description; /* one line */
    int available;           /* 1 when it can be created on this host as things are */
    char needs[256];         /* when unavailable (or what it needs): e.g. "apt-get install ..." */
} sotto_asr_backend_info;

/* Number of compiled-in backends, and their descriptions (index 0 .. n-1). */
size_t sotto_asr_backend_count(void);
int sotto_asr_backend_info_get(size_t index, sotto_asr_backend_info *info);
/* The backend used when the caller names none: "whisper" when a model is given,
 * else "sphinx". */
const char *sotto_asr_default_backend(const sotto_asr_options *opts);

/* Create a recognizer. backend NULL = sotto_asr_default_backend(opts). opts may be NULL.
 * The options are copied (strings too). Free with sotto_asr_free(). */
int sotto_asr_new(const char *backend, const sotto_asr_options *opts, sotto_asr **out);
void sotto_asr_free(sotto_asr *asr);
const char *sotto_asr_backend_name(const sotto_asr *asr);
/* Model description for records ("pocketsphinx en-us", "ggml-base.en.bin"). */
const char *sotto_asr_model_name(const sotto_asr *asr);

/* Recognize n samples (16 kHz mono) that start t_offset seconds into the input and
 * append the resulting segments (times include t_offset) to out. */
int sotto_asr_transcribe(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                         sotto_transcript *out);

/* What one call may change without a new recognizer (streaming policies prompt every
 * update with the text committed so far). Zero / NULL fields keep the recognizer's own. */
typedef struct sotto_asr_call {
    const char *prompt;  /* context text for this call (NULL: options.prompt) */
    int word_timestamps; /* 1: fill words for this call */
} sotto_asr_call;

/* sotto_asr_transcribe with per-call overrides (call may be NULL). Whole-buffer calls on
 * one recognizer are serialized, so several threads may share it (one at a time runs). */
int sotto_asr_transcribe_ex(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                            const sotto_asr_call *call, sotto_transcript *out);

/* Streaming. A stream belongs to one thread at a time; different streams of one
 * recognizer may be created, used and freed on different threads at once. A stream must
 * be freed before its recognizer. */
int sotto_asr_stream_new(sotto_asr *asr, sotto_asr_stream **out);
void sotto_asr_stream_free(sotto_asr_stream *s);
/* Feed more samples (16 kHz mono, contiguous with what was fed before). */
int sotto_asr_stream_feed(sotto_asr_stream *s, const float *pcm, size_t n);
/* The current unstable text (may be ""); owned by the stream, valid until the next call. */
int sotto_asr_stream_partial(sotto_asr_stream *s, const char **text);
/* Mark the end of an utterance (or of the input): everything fed becomes final. */
int sotto_asr_stream_flush(sotto_asr_stream *s);
/* Move the segments that became final since the last call into out. */
int sotto_asr_stream_take_finals(sotto_asr_stream *s, sotto_transcript *out);

/* Backends whose streams own a decoder (sphinx: about 0.3-0.5 s CPU and 95 MB each to
 * create) keep the decoders of freed streams in the recognizer for the next streams (a
 * few by default; reset, so a stream decodes exactly as on a new decoder).
 * sotto_asr_warm_streams makes sure at least n such decoders are ready now, creating
 * the missing ones (slow: call it from a background thread), and keeps up to n of them
 * from then on. Returns how many it created (>= 0); 0 and nothing done for backends
 * without per-stream decoders (whisper); SOTTO_EINVAL for n < 0 or n >
 * SOTTO_ASR_WARM_MAX. Thread-safe with stream_new/stream_free and other warm calls on
 * the same recognizer (it does not wait for whole-buffer calls); the decoders belong to
 * the recognizer and go with sotto_asr_free. */
#define SOTTO_ASR_WARM_MAX 256
int sotto_asr_warm_streams(sotto_asr *asr, int n);

#ifdef __cplusplus
}
#endif
#endif
