/*
 * transcribe.h - long-form Whisper transcription on sotto's engine (inside libsotto only).
 *
 * A whisper_runner is the run state of one recognizer: one whisper_state (the encoded
 * window) and n_seq whisper_kv caches that the decoding search (decode.h) uses through a
 * whisper_lm adapter, plus scratch for mel and cross-attention. It is allocated once at
 * create time; whisper_transcribe() walks any amount of audio in 30 s windows as
 * openai-whisper's transcribe() does and appends segments to a transcript.
 * Ownership: the runner borrows the model and tokenizer (they must outlive it);
 * whisper_runner_free() frees the rest.
 * Memory of one runner (whisper_runner_new + whisper_state_new), with the default beam 5 /
 * best_of 5 (10 slots): whisper_state ~48 MB for tiny (q8_0/f16: f16 cross K/V), ~71 MB
 * for base; each slot's cache n_text_layer x n_text_ctx x n_text_state x 2 floats (5.5 MB
 * tiny, 11 MB base); attention scratch 32 MiB; mel + logits ~3 MB. In all ~140 MB tiny,
 * ~216 MB base allocated; calloc'ed pages cost nothing until touched, so a greedy decode
 * with word timestamps makes resident only the state, one cache's used rows and the
 * scratch rows used (tools/whisper_streams_bench --la: ~60 MB for tiny q8_0). A recognizer has one
 * shared runner (backend.c); local_agreement streams may own private ones (asr_runner).
 */
#ifndef SOTTO_WHISPER_TRANSCRIBE_H
#define SOTTO_WHISPER_TRANSCRIBE_H

#include <stddef.h>

#include "asr/whisper/decode.h"
#include "sotto/asr.h"
#include "sotto/transcript.h"

#define WHISPER_DEFAULT_BEAM 5
#define WHISPER_DEFAULT_BEST_OF 5
#define WHISPER_MAX_GROUP 32 /* largest beam_size / best_of a recognizer accepts */

typedef struct whisper_runner whisper_runner;

/* Timing counters since the runner was made (for `sotto bench` and tests). */
typedef struct whisper_runner_stats {
    int n_windows;        /* windows encoded */
    double t_mel_s;       /* seconds in the log-mel front end */
    double t_encode_s;    /* seconds in whisper_encode (encoder + cross K/V) */
    long long n_tokens;   /* tokens fed to the decoder */
    int n_decode_calls;   /* whisper_decode calls */
    double t_decode_s;    /* seconds in whisper_decode */
} whisper_runner_stats;

/* Sequence slots the search needs for these options: 2 x max(beam_size, best_of). */
int whisper_runner_slots(const sotto_asr_options *o);

int whisper_runner_new(const whisper_model *m, const whisper_tokenizer *tk, int n_threads, int n_seq,
                       whisper_runner **out);
void whisper_runner_free(whisper_runner *r); /* NULL is a no-op */
void whisper_runner_get_stats(const whisper_runner *r, whisper_runner_stats *s);

/* Language option -> index for the start sequence: NULL, "" or "auto" on a multilingual
 * model gives -1 (detect on the first window); English-only models always give "en".
 * An unknown code is SOTTO_EINVAL with a message. */
int whisper_language_resolve(const whisper_tokenizer *tk, const char *code, int *lang);

/* Transcribe n samples (16 kHz mono, any length) starting t_offset s into the input and
 * append the segments (times include t_offset) to out. */
int whisper_transcribe(whisper_runner *r, const sotto_asr_options *o, const float *pcm, size_t n,
                       double t_offset, sotto_transcript *out);

#endif
