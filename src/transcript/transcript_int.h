/*
 * transcript_int.h - helpers shared by the transcript module's files (not public API).
 */
#ifndef SOTTO_TRANSCRIPT_INT_H
#define SOTTO_TRANSCRIPT_INT_H

#include <stddef.h>

#include "sotto/buf.h"
#include "sotto/transcript.h"

/* The part of s without leading/trailing ASCII whitespace: returns its start, *len its
 * length. NULL s gives an empty span. */
const char *transcript_trim(const char *s, size_t *len);

/* Seconds to whole milliseconds: rounded, never negative, non-finite values become 0. */
long long transcript_ms(double seconds);

/* Subtitle renderers (subtitles.c); both append to out and skip empty segments. */
int transcript_write_srt(const sotto_transcript *t, sotto_buf *out);
int transcript_write_vtt(const sotto_transcript *t, sotto_buf *out);

#endif
