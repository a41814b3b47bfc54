/*
 * sphinx_stream.c - native streaming for the sphinx backend.
 *
 * PocketSphinx decodes incrementally, so a stream just feeds samples into a running
 * utterance: the partial text is the decoder's current hypothesis, a flush ends the
 * utterance and turns it into one final segment whose times count the samples fed since
 * the stream began. The next feed starts a new utterance. During an utterance the current
 * hypothesis is also available with words (sphinx_stream_partial_words), read from the
 * first pass's backpointer table.
 * Each stream owns its own decoder, so streams of one recognizer are independent (one
 * thread per stream); it costs a model load per stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/sphinx/sphinx_int.h"
#include "base/base_int.h"

/* An utterance never flushed would grow the decoder's history without bound: past this
 * many samples the stream ends it by itself (a caller with a VAD flushes far earlier). */
#define SPHINX_STREAM_MAX_UTT ((uint64_t)SPHINX_RATE * 300)

typedef struct sphinx_stream {
    ps_decoder_t *ps;
    int want_words;
    int in_utt;              /* an utterance is running */
    uint64_t n_total;        /* samples fed since the stream began */
    uint64_t utt_start;      /* index of the running utterance's first sample */
    char *partial;           /* copy of the last hypothesis, "" when none */
    sotto_transcript finals; /* final segments not yet taken */
} sphinx_stream;

int sphinx_stream_new(void *state, void **stream)
{
    sphinx_state *st = state;
    sphinx_stream *s = calloc(1, sizeof *s);
    char *partial = str_dup("");
    if (!s || !partial) {
        free(s);
        free(partial);
        return error_set(SOTTO_ENOMEM, "out of memory creating a sphinx stream");
    }
    int rc = sphinx_decoder_new(st, 1, &s->ps);
    if (rc < 0) {
        free(s);
        free(partial);
        return rc;
    }
    s->want_words = st->want_words;
    s->partial = partial;
    sotto_transcript_init(&s->finals);
    *stream = s;
    return 0;
}

void sphinx_stream_free(void *stream)
{
    sphinx_stream *s = stream;
    if (!s)
        return;
    if (s->in_utt)
        ps_end_utt(s->ps);
    ps_free(s->ps);
    free(s->partial);
    sotto_transcript_free(&s->finals);
    free(s);
}

static int set_partial(sphinx_stream *s, const char *text)
{
    char *copy = str_dup(text ? text : "");
    if (!copy)
        return error_set(SOTTO_ENOMEM, "out of memory copying the partial text");
    free(s->partial);
    s->partial = copy;
    return 0;
}

int sphinx_stream_flush(void *stream)
{
    sphinx_stream *s = stream;
    if (!s->in_utt)
        return 0;
    s->in_utt = 0;
    if (ps_end_utt(s->ps) < 0)
        return error_set(SOTTO_EBACKEND, "pocketsphinx: cannot end the utterance");
    int rc = sphinx_collect(s->ps, (double)s->utt_start / SPHINX_RATE,
                            (size_t)(s->n_total - s->utt_start), s->want_words, &s->finals);
    int rc2 = set_partial(s, "");
    return rc < 0 ? rc : rc2;
}

int sphinx_stream_feed(void *stream, const float *pcm, size_t n)
{
    sphinx_stream *s = stream;
    while (n > 0) {
        if (!s->in_utt) {
            int rc = sphinx_utt_start(s->ps);
            if (rc < 0)
                return rc;
            s->in_utt = 1;
            s->utt_start = s->n_total;
        }
        uint64_t room = SPHINX_STREAM_MAX_UTT - (s->n_total - s->utt_start);
        size_t m = (uint64_t)n < room ? n : (size_t)room;
        int rc = sphinx_feed(s->ps, pcm, m, FALSE);
        if (rc < 0)
            return rc;
        s->n_total += m;
        pcm += m;
        n -= m;
        if (s->n_total - s->utt_start >= SPHINX_STREAM_MAX_UTT) {
            rc = sphinx_stream_flush(s);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int sphinx_stream_partial(void *stream, const char **text)
{
    sphinx_stream *s = stream;
    if (s->in_utt) {
        int32 score = 0;
        int rc = set_partial(s, ps_get_hyp(s->ps, &score));
        if (rc < 0)
            return rc;
    }
    *text = s->partial;
    return 0;
}

int sphinx_stream_take_finals(void *stream, sotto_transcript *out)
{
    sphinx_stream *s = stream;
    return sotto_transcript_take(out, &s->finals);
}

/* Mid-utterance ps_seg_iter walks the first (tree) pass's backpointer table: there is no
 * lattice yet, and this PocketSphinx gives such words a log posterior of 0, so their
 * probabilities read 1.0 (the best-path lattice at the utterance end gives real ones).
 * A mid-utterance lattice (ps_get_lattice + ps_lattice_bestpath) was tried: it is NULL
 * at most reading points (no word exit in the last frame), changed no word where it
 * existed, and it is cached per frame count, so a flush at the same frame count would
 * reuse it over a backpointer table the second pass has replaced (the likely cause of
 * the intermittent crash seen with it). */
int sphinx_stream_partial_words(void *stream, sotto_transcript *out)
{
    sphinx_stream *s = stream;
    if (!s->in_utt)
        return 0;
    return sphinx_collect(s->ps, (double)s->utt_start / SPHINX_RATE,
                          (size_t)(s->n_total - s->utt_start), 1, out);
}

/* Whole-buffer recognition on this stream's decoder (between utterances): the same
 * batch-CMN pass as sphinx_transcribe, without the recognizer's shared decoder. The
 * stream's sample count does not move: this audio was already fed (or never will be). */
int sphinx_stream_transcribe(void *stream, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out)
{
    sphinx_stream *s = stream;
    if (s->in_utt)
        return error_set(SOTTO_EINVAL, "sphinx: a whole-buffer pass inside a streamed utterance");
    return sphinx_decode_whole(s->ps, pcm, n, t_offset, o->word_timestamps, out);
}
