/*
 * pretokenize.h - the GPT-2 pre-tokenizer (the regex tiktoken splits text with before
 * BPE), implemented by hand over UTF-8 (inside libsotto only; used by tokenizer.c).
 *
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * Unicode classes come from compact range tables: Latin (with diacritics), Greek,
 * Cyrillic, Armenian, Hebrew, Arabic, Indic, Thai, CJK, Hangul, ... as letters; decimal
 * digits of every common script plus superscripts, fractions and circled numbers as
 * numbers; combining marks, punctuation, symbols and emoji as "other". A byte that is not
 * valid UTF-8 is one "other" character.
 */
#ifndef SOTTO_WHISPER_PRETOKENIZE_H
#define SOTTO_WHISPER_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

enum { UCLASS_OTHER = 0, UCLASS_LETTER = 1, UCLASS_NUMBER = 2, UCLASS_SPACE = 3 };

/* Class of one code point (UCLASS_*). */
int unicode_class(uint32_t cp);

/* Decode one UTF-8 character at s (n bytes available, n >= 1): returns its length
 * (1..4) and the code point; an invalid or truncated sequence gives length 1 and
 * *cp = 0xFFFFFFFF (class "other"). */
int utf8_next(const uint8_t *s, size_t n, uint32_t *cp);

/* Called for each piece, in order; a non-zero return stops the split and is returned. */
typedef int (*pretok_fn)(void *user, const uint8_t *piece, size_t len);

/* Split len bytes of text into pieces (their concatenation is the input). */
int pretokenize(const uint8_t *text, size_t len, pretok_fn fn, void *user);

#endif
