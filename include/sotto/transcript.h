/*
 * transcript.h - recognition results and their output formats.
 *
 * A transcript is a list of segments (start/end seconds, text, per-segment scores,
 * token ids where the recognizer has them) each with optional words (start/end,
 * probability). Every recognizer produces this; every output format reads it.
 * Fields that later stages fill (speaker, translations) exist from the start.
 *
 * Ownership: a sotto_transcript owns all its strings and arrays; free it with
 * sotto_transcript_free(). Appending copies the segment passed in.
 */
#ifndef SOTTO_TRANSCRIPT_H
#define SOTTO_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_word {
    char *word;        /* the word as spoken, UTF-8, with Whisper's leading space if any */
    double start, end; /* seconds from the start of the audio */
    float probability; /* 0..1 */
} sotto_word;

typedef struct sotto_segment {
    int id;
    double start, end; /* seconds from the start of the audio */
    char *text;        /* UTF-8 */
    char language[16]; /* ISO 639-1 code ("en"), "" when unknown */
    float avg_logprob;       /* mean log-probability of the tokens (or 0 when unknown) */
    float no_speech_prob;    /* probability that the window held no speech */
    float compression_ratio; /* gzip ratio of the text (Whisper's hallucination check) */
    float temperature;       /* decoding temperature that produced it */
    float confidence;        /* 0..1, recognizer's overall confidence */
    int32_t *tokens;         /* token ids (NULL/0 when the recognizer has none) */
    size_t n_tokens;
    sotto_word *words; /* word timings (NULL/0 unless requested and available) */
    size_t n_words;
    int speaker;        /* speaker index, -1 when unknown */
    char *speaker_name; /* NULL when unknown */
} sotto_segment;

typedef struct sotto_transcript {
    sotto_segment *segments;
    size_t n_segments;
    size_t cap_segments;
    char language[16]; /* detected or requested language of the whole input */
    double duration;   /* seconds of audio processed */
} sotto_transcript;

void sotto_transcript_init(sotto_transcript *t);
void sotto_transcript_free(sotto_transcript *t); /* frees contents; the struct can be reused */
/* Deep-copy seg onto the end of t; its id is set to the new index. */
int sotto_transcript_append(sotto_transcript *t, const sotto_segment *seg);
/* Move all segments of src onto the end of dst (renumbering them); src becomes empty. */
int sotto_transcript_take(sotto_transcript *dst, sotto_transcript *src);
/* Free the contents of one segment (for code that builds segments by hand). */
void sotto_segment_clear(sotto_segment *seg);
/* The whole text: segment texts joined by single spaces, trimmed. Caller frees. */
char *sotto_transcript_text(const sotto_transcript *t);

typedef enum sotto_format {
    SOTTO_FORMAT_TXT = 1,
    SOTTO_FORMAT_JSON = 2, /* close to OpenAI verbose_json */
    SOTTO_FORMAT_SRT = 4,
    SOTTO_FORMAT_VTT = 8,
    SOTTO_FORMAT_TSV = 16 /* start_ms<TAB>end_ms<TAB>text, with a header line */
} sotto_format;

/* Parse "txt,json,srt" into a bit mask of sotto_format values. */
int sotto_format_parse(const char *list, unsigned *mask);
const char *sotto_format_ext(sotto_format f); /* "txt", "json", ... */

/* Render t in one format, appending to out. */
int sotto_transcript_write(const sotto_transcript *t, sotto_format f, sotto_buf *out);

#ifdef __cplusplus
}
#endif
#endif
