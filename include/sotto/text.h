/*
 * text.h - text utilities: normalization for scoring and word error rate.
 *
 * WER is word-level Levenshtein distance between a reference and a hypothesis after both
 * are normalized the same way: lower case, punctuation removed (apostrophes inside words
 * kept), numbers written as words ("42" -> "forty two"), whitespace collapsed.
 */
#ifndef SOTTO_TEXT_H
#define SOTTO_TEXT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Normalize text for scoring; returns a newly allocated string (caller frees) or NULL
 * on out-of-memory. */
char *sotto_text_normalize(const char *text);

typedef struct sotto_wer {
    size_t ref_words;     /* words in the normalized reference */
    size_t hyp_words;     /* words in the normalized hypothesis */
    size_t substitutions;
    size_t deletions;
    size_t insertions;
    double wer;           /* (S + D + I) / ref_words; with an empty ref: 1.0 if hyp has words, else 0 */
} sotto_wer;

/* Compute WER between ref and hyp (both raw text; normalized here). */
int sotto_text_wer(const char *ref, const char *hyp, sotto_wer *out);

/* Accumulate one pair's counts into a running total (for corpus-level WER). */
void sotto_wer_add(sotto_wer *total, const sotto_wer *one);

#ifdef __cplusplus
}
#endif
#endif
