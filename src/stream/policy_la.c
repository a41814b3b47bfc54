/*
 * policy_la.c - the `local_agreement` policy (LocalAgreement-2, whisper_streaming 2023).
 *
 * Every update re-decodes the whole utterance buffer (any recognizer, through
 * asr_runner_decode with word timestamps and the context as prompt; greedily during
 * an utterance, with the recognizer's own decoding at its end) and commits
 * the words on which this hypothesis and the previous one agree (longest common prefix),
 * except a word that ends within word_gap_s of the buffer's end: it may be cut in the
 * middle. At an utterance's end everything left is committed. Each update that commits
 * words publishes them as one final; the rest is the partial. The buffer is trimmed past
 * trim_s at a segment end that lies inside committed speech; past max_buffer_s without
 * such a point the update commits everything (a forced utterance end).
 * The agreement steps are pure functions (la_skip, la_commit_count) so tests drive them
 * on hand-made hypotheses.
 * Decoding goes through the stream's own asr_runner (asr_int.h), made at the first update
 * (a stream that never speaks costs nothing) and freed with the stream: on whisper it is a
 * private run state, so concurrent streams re-decode in parallel instead of queueing on
 * the recognizer's lock; elsewhere (sphinx, or past whisper's cap) the shared locked call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr_int.h"
#include "base/base_int.h"
#include "stream/stream_int.h"

/* ---- the agreement logic on plain words ----------------------------------------------- */

static void trim_span(const char *w, const char **b, size_t *n)
{
    const char *p = w ? w : "";
    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    size_t m = strlen(p);
    while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\n'))
        m--;
    *b = p;
    *n = m;
}

int la_word_eq(const char *a, const char *b)
{
    const char *pa, *pb;
    size_t na, nb;
    trim_span(a, &pa, &na);
    trim_span(b, &pb, &nb);
    return na == nb && memcmp(pa, pb, na) == 0;
}

size_t la_skip(const sotto_word *tail, size_t n_tail, const sotto_word *hyp, size_t n_hyp,
               double last_end)
{
    size_t i = 0;
    while (i < n_hyp && hyp[i].start <= last_end - 0.1)
        i++;
    if (i >= n_hyp || fabs(hyp[i].start - last_end) >= 1.0)
        return i;
    size_t kmax = n_tail < LA_TAIL ? n_tail : LA_TAIL;
    if (kmax > n_hyp - i)
        kmax = n_hyp - i;
    for (size_t k = kmax; k >= 1; k--) {
        size_t j = 0;
        while (j < k && la_word_eq(tail[n_tail - k + j].word, hyp[i + j].word))
            j++;
        if (j == k)
            return i + k;
    }
    return i;
}

size_t la_commit_count(const sotto_word *prev, size_t n_prev, const sotto_word *cur, size_t n_cur,
                       double buf_end, double word_gap_s, int final)
{
    if (final)
        return n_cur;
    size_t k = 0;
    while (k < n_prev && k < n_cur && la_word_eq(prev[k].word, cur[k].word))
        k++;
    /* word boundary: a word touching the buffer end may be cut; wait for more audio */
    while (k > 0 && cur[k - 1].end > buf_end - word_gap_s)
        k--;
    return k;
}

/* ---- word arrays ----------------------------------------------------------------------- */

void la_words_clear(sotto_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].word);
        w[i].word = NULL;
    }
}

int la_words_copy(const sotto_word *w, size_t n, sotto_word **out)
{
    *out = NULL;
    if (n == 0)
        return 0;
    sotto_word *c = calloc(n, sizeof *c);
    if (!c)
        return error_set(SOTTO_ENOMEM, "out of memory copying words");
    for (size_t i = 0; i < n; i++) {
        c[i] = w[i];
        c[i].word = str_dup(w[i].word ? w[i].word : "");
        if (!c[i].word) {
            la_words_clear(c, i);
            free(c);
            return error_set(SOTTO_ENOMEM, "out of memory copying words");
        }
    }
    *out = c;
    return 0;
}

int la_tail_push(sotto_word *tail, size_t *n_tail, const sotto_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (*n_tail == LA_TAIL) {
            free(tail[0].word);
            memmove(tail, tail + 1, (LA_TAIL - 1) * sizeof *tail);
            (*n_tail)--;
        }
        tail[*n_tail] = w[i];
        tail[*n_tail].word = str_dup(w[i].word ? w[i].word : "");
        if (!tail[*n_tail].word)
            return error_set(SOTTO_ENOMEM, "out of memory keeping committed words");
        (*n_tail)++;
    }
    return 0;
}

int la_words_join(const sotto_word *w, size_t n, char **out)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(w[i].word ? w[i].word : "") + 1;
    char *text = malloc(len);
    if (!text)
        return error_set(SOTTO_ENOMEM, "out of memory joining words");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *b;
        size_t m;
        trim_span(w[i].word, &b, &m);
        if (m == 0)
            continue;
        if (pos > 0)
            text[pos++] = ' ';
        memcpy(text + pos, b, m);
        pos += m;
    }
    text[pos] = '\0';
    *out = text;
    return 0;
}

/* ---- the policy -------------------------------------------------------------------------- */

typedef struct la_state {
    sotto_word *prev; /* the previous update's uncommitted words (owned) */
    size_t n_prev;
    sotto_word tail[LA_TAIL]; /* the last committed words, oldest first (owned) */
    size_t n_tail;
    double last_end;  /* end of the last committed word */
    sotto_transcript tr;
    asr_runner *runner; /* the stream's whole-buffer decoder, made at the first update (owned) */
} la_state;


static int la_create(sotto_stream *s, void **state)
{
    (void)s;
    la_state *ls = calloc(1, sizeof *ls);
    if (!ls)
        return error_set(SOTTO_ENOMEM, "out of memory creating the local_agreement policy");
    ls->last_end = -1e9;
    sotto_transcript_init(&ls->tr);
    *state = ls;
    return 0;
}

static void la_destroy(void *state)
{
    la_state *ls = state;
    if (!ls)
        return;
    la_words_clear(ls->prev, ls->n_prev);
    free(ls->prev);
    la_words_clear(ls->tail, ls->n_tail);
    sotto_transcript_free(&ls->tr);
    asr_runner_free(ls->runner);
    free(ls);
}

/* The hypothesis' words in order (shallow views into tr; segments without words give
 * their text as one word spanning the segment). *out is malloc'ed; caller frees it only. */
static int flatten(const sotto_transcript *tr, sotto_word **out, size_t *n_out)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->n_segments; i++)
        n += tr->segments[i].n_words ? tr->segments[i].n_words : 1;
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return 0;
    sotto_word *w = malloc(n * sizeof *w);
    if (!w)
        return error_set(SOTTO_ENOMEM, "out of memory collecting words");
    size_t k = 0;
    for (size_t i = 0; i < tr->n_segments; i++) {
        const sotto_segment *seg = &tr->segments[i];
        if (seg->n_words) {
            memcpy(w + k, seg->words, seg->n_words * sizeof *w);
            k += seg->n_words;
        } else {
            w[k].word = seg->text;
            w[k].start = seg->start;
            w[k].end = seg->end;
            w[k].probability = seg->confidence;
            k++;
        }
    }
    *out = w;
    *n_out = k;
    return 0;
}

static int commit(sotto_stream *s, la_state *ls, const sotto_word *w, size_t n, const char *lang)
{
    if (n == 0)
        return 0;
    int rc = stream_emit_final(s, w, n, lang);
    /* keep the committed tail for the repeat check of the next hypothesis */
    if (rc == 0) {
        rc = la_tail_push(ls->tail, &ls->n_tail, w, n);
        if (rc < 0)
            return rc;
    }
    if (n > 0 && w[n - 1].end > ls->last_end)
        ls->last_end = w[n - 1].end;
    return rc;
}

/* Trim past trim_s at the latest segment end at or before the last committed word's
 * end; recognizers that give one segment per call (sphinx) fall back to that word end. */
static void trim(sotto_stream *s, la_state *ls)
{
    if ((double)s->buf_n <= (double)s->o.trim_s * STREAM_RATE || ls->last_end <= s->buf_t0)
        return;
    double cut = -1.0;
    for (size_t i = 0; i < ls->tr.n_segments; i++) {
        double e = ls->tr.segments[i].end;
        if (e <= ls->last_end && e > cut)
            cut = e;
    }
    if (cut <= s->buf_t0)
        cut = ls->last_end;
    double drop = (cut - s->buf_t0) * STREAM_RATE;
    if (drop > 0.0)
        stream_buf_drop(s, drop >= (double)s->buf_n ? s->buf_n : (size_t)drop);
}

/* How an update decodes: greedily during an utterance (ASR_DECODE_GREEDY), with the
 * recognizer's own options (beam search, temperature fallback) at its end (and at a
 * forced cut). A live hypothesis only has to agree with the next one and every update
 * redoes the whole buffer, so the full search there would multiply the CPU of each
 * update; the words still uncommitted at the end get the full search once. */
static const asr_decode *update_decode(const sotto_stream *s, int final)
{
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    (void)s; /* the stream's options may ask for the full search on every update */
    return final ? NULL : &greedy;
}

static int la_update(sotto_stream *s, void *state, int final)
{
    la_state *ls = state;
    if (s->buf_n == 0) {
        la_words_clear(ls->prev, ls->n_prev);
        ls->n_prev = 0;
        return 0;
    }
    int forced = !final && (double)s->buf_n > (double)s->o.max_buffer_s * STREAM_RATE;
    if (forced)
        final = 1; /* nothing could be trimmed: end the utterance here */
    sotto_transcript_free(&ls->tr);
    sotto_transcript_init(&ls->tr);
    sotto_asr_call call = {0};
    call.prompt = context_prompt(&s->ctx, s->buf_t0);
    call.word_timestamps = 1;
    if (!ls->runner) {
        int rc = asr_runner_new(s->asr, &ls->runner);
        if (rc < 0)
            return rc;
    }
    double t0 = time_now();
    int rc = asr_runner_decode(ls->runner, s->buf, s->buf_n, s->buf_t0, &call, update_decode(s, final), &ls->tr);
    stream_count_call(s, time_now() - t0);
    if (rc < 0)
        return rc;

    sotto_word *hyp = NULL, *rest = NULL;
    size_t n_hyp = 0;
    rc = flatten(&ls->tr, &hyp, &n_hyp);
    if (rc < 0)
        return rc;
    double buf_end = s->buf_t0 + (double)s->buf_n / STREAM_RATE;
    size_t skip = la_skip(ls->tail, ls->n_tail, hyp, n_hyp, ls->last_end);
    const sotto_word *cur = hyp + skip;
    size_t n_cur = n_hyp - skip;
    size_t k = la_commit_count(ls->prev, ls->n_prev, cur, n_cur, buf_end, s->o.word_gap_s, final);
    const char *lang = ls->tr.n_segments ? ls->tr.segments[0].language : "";
    rc = commit(s, ls, cur, k, lang);
    if (rc == 0)
        rc = la_words_copy(cur + k, final ? 0 : n_cur - k, &rest);
    la_words_clear(ls->prev, ls->n_prev);
    free(ls->prev);
    ls->prev = rest;
    ls->n_prev = rc == 0 && !final ? n_cur - k : 0;
    free(hyp);
    if (rc < 0)
        return rc;

    if (final) {
        stream_buf_drop(s, s->buf_n);
        /* a new utterance starts afresh (whisper_streaming's VAC does the same); after a
         * forced cut the audio goes on, so the repeat check keeps the tail */
        if (!forced) {
            la_words_clear(ls->tail, ls->n_tail);
            ls->n_tail = 0;
        }
        return stream_emit_partial(s, "", buf_end, buf_end);
    }
    /* the partial: the words not yet agreed on */
    char *text = NULL;
    rc = la_words_join(ls->prev, ls->n_prev, &text);
    if (rc < 0)
        return rc;
    rc = stream_emit_partial(s, text, ls->n_prev ? ls->prev[0].start : buf_end, buf_end);
    free(text);
    trim(s, ls);
    return rc;
}

const stream_policy_ops stream_policy_la = {
    .name = "local_agreement",
    .create = la_create,
    .destroy = la_destroy,
    .update = la_update,
};
