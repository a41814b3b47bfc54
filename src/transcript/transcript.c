/*
 * transcript.c - the transcript container: segments with words, deep copies, moves.
 *
 * A sotto_transcript owns every string and array reachable from it. This file grows the
 * segment array, deep-copies appended segments, moves segments between transcripts and
 * joins the text. It does not render output formats (format.c, subtitles.c do).
 */
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/transcript.h"

/* A transcript longer than this is a runaway producer, not real audio (about 1e7 segments
 * would be months of speech); refusing it keeps size arithmetic far from overflow. */
#define TRANSCRIPT_MAX_SEGMENTS ((size_t)1 << 26)

void sotto_transcript_init(sotto_transcript *t)
{
    SOTTO_ASSERT(t);
    memset(t, 0, sizeof *t);
}

void sotto_segment_clear(sotto_segment *seg)
{
    if (!seg)
        return;
    free(seg->text);
    free(seg->tokens);
    for (size_t i = 0; i < seg->n_words; i++)
        free(seg->words[i].word);
    free(seg->words);
    free(seg->speaker_name);
    memset(seg, 0, sizeof *seg);
    seg->speaker = -1;
}

void sotto_transcript_free(sotto_transcript *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_segments; i++)
        sotto_segment_clear(&t->segments[i]);
    free(t->segments);
    memset(t, 0, sizeof *t);
}

/* Make room for `more` segments beyond n_segments. */
static int transcript_reserve(sotto_transcript *t, size_t more)
{
    if (more > TRANSCRIPT_MAX_SEGMENTS || t->n_segments > TRANSCRIPT_MAX_SEGMENTS - more)
        return error_set(SOTTO_ENOMEM, "transcript too long (limit %zu segments)",
                         (size_t)TRANSCRIPT_MAX_SEGMENTS);
    size_t need = t->n_segments + more;
    if (need <= t->cap_segments)
        return 0;
    size_t cap = t->cap_segments ? t->cap_segments : 16;
    while (cap < need)
        cap *= 2;
    sotto_segment *p = realloc(t->segments, cap * sizeof *p);
    if (!p)
        return error_set(SOTTO_ENOMEM, "out of memory growing a transcript to %zu segments", cap);
    t->segments = p;
    t->cap_segments = cap;
    return 0;
}

/* Deep copy of src into dst (dst is overwritten, not freed); on failure dst is cleared. */
static int segment_copy(sotto_segment *dst, const sotto_segment *src)
{
    *dst = *src;
    dst->text = NULL;
    dst->tokens = NULL;
    dst->n_tokens = 0;
    dst->words = NULL;
    dst->n_words = 0;
    dst->speaker_name = NULL;
    dst->language[sizeof dst->language - 1] = '\0';

    if (src->text && !(dst->text = str_dup(src->text)))
        goto oom;
    if (src->speaker_name && !(dst->speaker_name = str_dup(src->speaker_name)))
        goto oom;
    if (src->tokens && src->n_tokens) {
        if (src->n_tokens > SIZE_MAX / sizeof *src->tokens)
            goto oom;
        dst->tokens = malloc(src->n_tokens * sizeof *src->tokens);
        if (!dst->tokens)
            goto oom;
        memcpy(dst->tokens, src->tokens, src->n_tokens * sizeof *src->tokens);
        dst->n_tokens = src->n_tokens;
    }
    if (src->words && src->n_words) {
        if (src->n_words > SIZE_MAX / sizeof *src->words)
            goto oom;
        dst->words = calloc(src->n_words, sizeof *src->words);
        if (!dst->words)
            goto oom;
        for (size_t i = 0; i < src->n_words; i++) {
            dst->words[i] = src->words[i];
            dst->words[i].word = NULL;
            dst->n_words = i + 1; /* so a failure below frees what was copied */
            if (src->words[i].word && !(dst->words[i].word = str_dup(src->words[i].word)))
                goto oom;
        }
    }
    return 0;
oom:
    sotto_segment_clear(dst);
    return error_set(SOTTO_ENOMEM, "out of memory copying a segment");
}

int sotto_transcript_append(sotto_transcript *t, const sotto_segment *seg)
{
    SOTTO_ASSERT(t && seg);
    /* seg may point into t->segments, which reserve can move; its strings do not move */
    sotto_segment src = *seg;
    int rc = transcript_reserve(t, 1);
    if (rc)
        return rc;
    sotto_segment *dst = &t->segments[t->n_segments];
    rc = segment_copy(dst, &src);
    if (rc)
        return rc;
    dst->id = (int)t->n_segments;
    t->n_segments++;
    return 0;
}

int sotto_transcript_take(sotto_transcript *dst, sotto_transcript *src)
{
    SOTTO_ASSERT(dst && src && dst != src);
    if (src->n_segments == 0)
        return 0;
    int rc = transcript_reserve(dst, src->n_segments);
    if (rc)
        return rc;
    for (size_t i = 0; i < src->n_segments; i++) {
        sotto_segment *s = &dst->segments[dst->n_segments];
        *s = src->segments[i]; /* ownership moves with the struct */
        s->id = (int)dst->n_segments;
        dst->n_segments++;
    }
    free(src->segments);
    src->segments = NULL;
    src->n_segments = src->cap_segments = 0;
    return 0;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char *sotto_transcript_text(const sotto_transcript *t)
{
    SOTTO_ASSERT(t);
    sotto_buf b = SOTTO_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const char *s = t->segments[i].text;
        if (!s)
            continue;
        /* trim, then join with exactly one space between non-empty segments */
        while (is_space((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n > 0 && is_space((unsigned char)s[n - 1]))
            n--;
        if (n == 0)
            continue;
        if (b.len)
            rc = sotto_buf_putc(&b, ' ');
        if (!rc)
            rc = sotto_buf_append(&b, s, n);
    }
    if (rc) {
        sotto_buf_free(&b);
        return NULL;
    }
    return sotto_buf_steal(&b);
}
