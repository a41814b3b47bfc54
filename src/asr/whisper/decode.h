/*
 * decode.h - Whisper decoding as openai-whisper does it, decoupled from the network
 * (inside libsotto only).
 *
 * The search talks to the network through whisper_lm (a logits callback over numbered
 * sequence slots plus a cache copy for beam forks), so unit tests drive it with
 * hand-made logits and the engine plugs in whisper_decode + whisper_kv. Pieces:
 *   tokenizer.c        token text, UTF-8 helpers (also whisper_int.h's tokenizer API)
 *   decode_filters.c   suppress blank, suppress tokens (default set), timestamp rules
 *   decode_search.c    start sequence, greedy / sampling / best_of, beam search, no-speech,
 *                      language detection
 *   decode_window.c    compression ratio, temperature fallback, segment cutting, seek rules
 *   timing.c           word timestamps: z-score, median filter, DTW, words, punctuation
 * Ownership: every pointer in a result struct is malloc'd and freed by its _clear().
 */
#ifndef SOTTO_WHISPER_DECODE_H
#define SOTTO_WHISPER_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "asr/whisper/whisper_int.h"

/* ---- tokenizer extras (tokenizer.c) ------------------------------------------------- */
const whisper_special *whisper_tokenizer_special(const whisper_tokenizer *tk);
int32_t whisper_tokenizer_n_vocab(const whisper_tokenizer *tk);
/* "<|endoftext|>", "<|en|>", "<|1.50|>" for specials; the token's bytes otherwise. */
int whisper_token_name(const whisper_tokenizer *tk, int32_t id, char *buf, size_t size);
/* Concatenated bytes of ids (text_only: skip ids >= eot); *out malloc'd, NUL-terminated. */
int whisper_tokens_bytes(const whisper_tokenizer *tk, const int32_t *ids, size_t n, int text_only,
                         uint8_t **out, size_t *n_out);
/* Text of the text tokens among ids (specials and timestamps skipped), invalid UTF-8
 * replaced by U+FFFD as Python's errors="replace" does. *text malloc'd. */
int whisper_detokenize(const whisper_tokenizer *tk, const int32_t *ids, size_t n, char **text);
/* How many leading bytes of s can be shown now: all but a trailing character that is
 * still incomplete (streaming token text holds it back until the next token). */
size_t whisper_utf8_complete(const uint8_t *s, size_t n);
/* Copy of s with invalid sequences replaced by U+FFFD; malloc'd (NULL on OOM). */
char *whisper_utf8_sanitize(const uint8_t *s, size_t n);

/* ---- the network, as the search sees it -------------------------------------------- */
typedef struct whisper_lm {
    void *ctx;
    int32_t n_vocab; /* floats per logits row */
    int n_ctx;       /* n_text_ctx: most tokens one sequence can hold */
    int n_seq;       /* sequence slots available (the search needs 2 x beams or best_of) */
    /* Append n tokens to slot seq's cache (positions n_past ..), write the last one's
     * logits (n_vocab floats). n_past == 0 starts the slot afresh. 0 or SOTTO_E*. */
    int (*logits)(void *ctx, int seq, const int32_t *tokens, int n, int n_past, float *logits);
    /* Make slot dst's cache a copy of slot src's (beam forks). */
    int (*copy)(void *ctx, int dst, int src);
    /* Optional (NULL: the search calls logits once per slot): append one token to each
     * of n distinct slots in one pass, slot seqs[i] getting tokens[i] at position
     * n_past[i] and its logits in rows[i]. Same results as n logits() calls. */
    int (*logits_batch)(void *ctx, const int *seqs, const int32_t *tokens, const int *n_past, int n,
                        float *const *rows);
} whisper_lm;

typedef struct whisper_decode_opts {
    int lang;              /* language index, or -1 (English-only models) */
    int translate;         /* 1: <|translate|> instead of <|transcribe|> */
    float temperature;     /* 0: greedy or beam search; > 0: sampling */
    int beam_size;         /* 0: no beam search; used only at temperature 0 */
    float patience;        /* beam search: finished candidates = round(beam_size x patience) */
    int best_of;           /* samples at temperature > 0 (0 or 1: one) */
    float length_penalty;  /* < 0: rank by sum_logprob / length; else ((5+len)/6)^alpha */
    int without_timestamps;
    int max_initial_timestamp_index; /* 50 (1.0 s); < 0: no limit */
    int suppress_blank;    /* 1 as in the reference */
    const int32_t *suppress; /* extra ids to suppress; NULL: the default set ("-1") */
    size_t n_suppress;
    const int32_t *prompt; /* previous-text tokens (the last n_ctx/2 - 1 are used) */
    size_t n_prompt;
    int sample_len;        /* 0: n_ctx / 2 */
    uint64_t seed;         /* sampling PRNG seed */
} whisper_decode_opts;

void whisper_decode_opts_init(whisper_decode_opts *o); /* the reference's defaults */

typedef struct whisper_decoding {
    int32_t *tokens;        /* sampled tokens without the final eot */
    size_t n_tokens;
    float *token_probs;     /* probability of each token when it was chosen */
    char *text;             /* UTF-8 text of the text tokens */
    double sum_logprob, avg_logprob;
    float no_speech_prob;
    float compression_ratio;
    float temperature;
} whisper_decoding;

void whisper_decoding_clear(whisper_decoding *d);

/* Start sequence: [startofprev, prompt tail] sot [lang] [task] [notimestamps].
 * *out malloc'd; *sot_index = position of sot. */
int whisper_start_sequence(const whisper_special *sp, const whisper_decode_opts *o, int n_ctx,
                           int32_t **out, size_t *n_out, size_t *sot_index);

/* ---- logit filters (decode_filters.c) ------------------------------------------------ */
/* The reference's non-speech symbol set, tokenized with and without a leading space
 * (single tokens only, first token for the music symbols) plus " -" and " '"; sorted. */
int whisper_default_suppress(const whisper_tokenizer *tk, int32_t **ids, size_t *n);
/* Everything the decoder suppresses for these options: the given or default set plus
 * transcribe, translate, sot, startofprev, startoflm, nospeech. Sorted, unique. */
int whisper_suppress_set(const whisper_tokenizer *tk, const whisper_decode_opts *o, int32_t **ids,
                         size_t *n);
void whisper_filter_suppress(const int32_t *ids, size_t n, float *logits, int32_t n_vocab);
/* At the first sampled position only: forbid the " " token(s) and eot. */
void whisper_filter_blank(const whisper_tokenizer *tk, float *logits);
/* Timestamp rules given the tokens sampled so far (sampled, n_sampled). */
void whisper_filter_timestamps(const whisper_special *sp, int32_t n_vocab, const int32_t *sampled,
                               size_t n_sampled, int max_initial_index, float *logits);

/* ---- search (decode_search.c) --------------------------------------------------------- */
/* One decode of one 30 s window with fixed options (no fallback). */
int whisper_decode_run(const whisper_tokenizer *tk, const whisper_lm *lm, const whisper_decode_opts *o,
                       whisper_decoding *out);
/* Language id: logits after sot, restricted to the language tokens. probs (optional)
 * receives n_langs probabilities. Returns the index in *lang. */
int whisper_detect_language(const whisper_tokenizer *tk, const whisper_lm *lm, int *lang, float *probs);
/* Ranker score of one candidate: sum_logprob / penalty. */
double whisper_rank_score(double sum_logprob, size_t length, float length_penalty);

/* ---- fallback, segments, seeking (decode_window.c) ------------------------------------ */
/* len(text) / len(zlib.compress(text)) at the default level, as the reference. */
float whisper_compression_ratio(const char *text);

typedef struct whisper_fallback_opts {
    const float *temperatures; /* NULL: 0.0 0.2 0.4 0.6 0.8 1.0 */
    int n_temperatures;
    float compression_ratio_threshold; /* 2.4; <= 0 disables */
    float logprob_threshold;           /* -1.0; <= -1e30 disables */
    float no_speech_threshold;         /* 0.6; > 1 disables */
} whisper_fallback_opts;

void whisper_fallback_opts_init(whisper_fallback_opts *f);
/* Decode at each temperature in turn until the result passes (or is silence); beam
 * search only at T = 0, best_of only at T > 0. *n_tried (optional) = decodes run. */
int whisper_decode_fallback(const whisper_tokenizer *tk, const whisper_lm *lm, const whisper_decode_opts *o,
                            const whisper_fallback_opts *f, whisper_decoding *out, int *n_tried);
/* 1 when the window should be skipped whole as silence. */
int whisper_is_silence(const whisper_decoding *d, const whisper_fallback_opts *f);

typedef struct whisper_span {
    size_t begin, end; /* token range [begin, end) of the decoding's tokens */
    double start, end_s;
} whisper_span;

/* Cut the tokens of one window into segments at timestamp pairs and compute how far to
 * seek (in mel frames; segment_frames = frames of audio in this window). *spans malloc'd. */
int whisper_cut_segments(const whisper_special *sp, const int32_t *tokens, size_t n, double time_offset,
                         int segment_frames, whisper_span **spans, size_t *n_spans, int *seek_frames,
                         int *single_timestamp_ending);

/* ---- word timestamps (timing.c) -------------------------------------------------------- */
/* Median filter of width w (odd) along each of n_rows rows of n_cols, reflect padding;
 * rows no longer than w/2 are left alone (as the reference). */
int whisper_median_filter(float *x, int n_rows, int n_cols, int w);
/* DTW over cost (n_rows x n_cols): the path as text (row) and time (column) indices,
 * from (0,0) to (n_rows-1, n_cols-1); arrays malloc'd. */
int whisper_dtw(const float *cost, int n_rows, int n_cols, int32_t **rows, int32_t **cols, size_t *n_path);

typedef struct whisper_word_timing {
    char *word;           /* malloc'd */
    int32_t *tokens;      /* malloc'd */
    size_t n_tokens;
    double start, end;    /* seconds from the window start */
    float probability;
} whisper_word_timing;

void whisper_word_timings_free(whisper_word_timing *w, size_t n);
/* Group text tokens (+ a final eot) into words: at characters for zh ja th lo my yue,
 * else at leading spaces and punctuation. Words are returned as timings with 0 times. */
int whisper_split_words(const whisper_tokenizer *tk, const int32_t *tokens, size_t n, const char *lang,
                        whisper_word_timing **words, size_t *n_words);
/* Merge prepended punctuation into the next word and appended into the previous one
 * (emptied words keep their slot with an empty string). */
void whisper_merge_punctuation(whisper_word_timing *w, size_t n, const char *prepend, const char *append);

/*
 * Word timings of n_text text tokens from the alignment heads' cross-attention.
 * attn: (n_heads, n_rows, n_frames) softmax rows for the token sequence
 * sot_sequence + notimestamps + text + eot (n_rows = n_sot + n_text + 2);
 * probs: probability of each text token. num_frames: mel frames of real audio.
 * Long words at sentence marks are truncated and punctuation merged (the reference's
 * add_word_timestamps, before segment assignment); *median_duration receives the
 * clamped median word duration the caller's segment fix-ups use.
 */
int whisper_align_words(const whisper_tokenizer *tk, const int32_t *text, size_t n_text, const float *probs,
                        const float *attn, int n_heads, int n_rows, int n_frames, int n_sot, int num_frames,
                        const char *lang, whisper_word_timing **words, size_t *n_words,
                        double *median_duration);

#endif
