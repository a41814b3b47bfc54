/*
 * text_int.h - helpers shared by the text module's files (not public API).
 */
#ifndef SOTTO_TEXT_INT_H
#define SOTTO_TEXT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/buf.h"

/* Largest integer spelled as a number; longer digit runs are read digit by digit. */
#define TEXT_NUMBER_MAX 999999999999ULL

/* Append the English words for v (0..TEXT_NUMBER_MAX), e.g. "one hundred twenty three".
 * Words are separated by single spaces, with no leading or trailing space. */
int text_spell_integer(sotto_buf *out, uint64_t v);

/* s[0..n) starts with an ASCII digit. Reads one number: digits with optional thousands
 * commas ("1,000"), an optional decimal part ("3.5"), an optional ordinal suffix ("21st");
 * appends its words to out (no leading/trailing space) and sets *used to the bytes read. */
int text_spell_number(sotto_buf *out, const char *s, size_t n, size_t *used);

#endif
