/*
 * vac.c - voice-activity-controlled chunking: which audio reaches the recognizer, and when.
 *
 * Audio goes through in 40 ms pieces (what a live source delivers, whatever size the
 * caller fed). The VAD (sotto_vad) marks speech; outside speech the audio only fills a
 * short history, so silence never reaches the recognizer. At a speech start the utterance
 * buffer opens preroll_s before the detected start (never reaching back into audio already
 * sent) and every later piece is appended to it; an update runs whenever min_chunk of new
 * voiced audio has arrived, and at speech end the final update runs at once. Audio after
 * the last speech frame (plus the VAD's padding) waits while the VAD's hangover runs: no
 * update is spent on silence; it joins the buffer when speech resumes or with the final
 * update (test stream.hangover_waits_for_the_final_update). With use_vad
 * = 0 everything is speech and only flush/finish end an utterance. A stream that sheds
 * load (worker.c) opens its utterances with at most SHED_PREROLL_S of pre-roll.
 * Owns the history, the policy's buffer and the VAD; runs on one thread at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "stream/stream_int.h"

#define PIECE 640 /* 40 ms */

/* The pre-roll of a shedding stream. The VAD's start is already backdated by its padding,
 * so the recognizer still sees silence before the speech; the rest of a 1 s pre-roll is
 * frames to score (about a fifth of all a sphinx stream decodes on the benchmark stream:
 * 9 utterances, 33 s of speech, 42 s voiced). Twenty native streams, shedding, on two
 * cores (bench/stream_latency.sh): CPU per stream 0.091 -> 0.082 (staggered talkers) and
 * 0.088 -> 0.073 (all at once), WER of the live decoder's finals 8.3 -> 6.8% and
 * 10.1 -> 6.5% (fewer words inserted in the lead-in; with a full pre-roll the live CMN
 * also starts each utterance on more non-speech). The whole-utterance pass of a stream
 * that does not shed keeps the full pre-roll: its batch CMN gains from the lead-in. */
#define SHED_PREROLL_S 0.3

int vac_init(sotto_stream *s)
{
    if (s->o.use_vad) {
        int rc = sotto_vad_new(&s->o.vad, &s->vad);
        if (rc < 0)
            return rc;
    }
    /* history: pre-roll, plus how far back a VAD start may lie when reported, plus the
     * hangover held back from the recognizer (vac_process) */
    double hist_s = s->o.preroll_s + s->o.vad.min_speech_s + s->o.vad.pad_s + 1.0 +
                    s->o.vad.min_silence_s;
    s->hist_cap = (size_t)(hist_s * STREAM_RATE) * 2 + PIECE;
    s->hist = malloc(s->hist_cap * sizeof *s->hist);
    if (!s->hist)
        return error_set(SOTTO_ENOMEM, "out of memory creating a stream");
    return 0;
}

void vac_free(sotto_stream *s)
{
    sotto_vad_free(s->vad);
    s->vad = NULL;
    free(s->hist);
    free(s->buf);
    s->hist = s->buf = NULL;
}

static void hist_append(sotto_stream *s, const float *pcm, size_t n)
{
    if (s->hist_n + n > s->hist_cap) {
        /* keep the newer half: enough for the longest pre-roll reach */
        size_t keep = s->hist_cap / 2 > n ? s->hist_cap / 2 - n : 0;
        if (keep > s->hist_n)
            keep = s->hist_n;
        size_t drop = s->hist_n - keep;
        memmove(s->hist, s->hist + drop, keep * sizeof *s->hist);
        s->hist_n = keep;
        s->hist_pos0 += (int64_t)drop;
    }
    memcpy(s->hist + s->hist_n, pcm, n * sizeof *pcm);
    s->hist_n += n;
}

/* Move history audio [sent_pos, upto) into the policy's buffer. */
static int deliver(sotto_stream *s, int64_t upto)
{
    if (upto < s->hist_pos0)
        upto = s->hist_pos0;
    if (s->sent_pos < s->hist_pos0)
        s->sent_pos = s->hist_pos0;
    if (upto <= s->sent_pos)
        return 0;
    size_t m = (size_t)(upto - s->sent_pos);
    if (s->buf_n + m > s->buf_cap) {
        size_t cap = s->buf_cap ? s->buf_cap : STREAM_RATE * 4;
        while (cap < s->buf_n + m)
            cap *= 2;
        /* policies keep the buffer under max_buffer_s; this cap catches a bug, not input */
        if (cap > (size_t)(s->o.max_buffer_s + 60.0f) * STREAM_RATE)
            return error_set(SOTTO_ENOMEM, "stream: utterance buffer over its cap");
        float *nb = realloc(s->buf, cap * sizeof *nb);
        if (!nb)
            return error_set(SOTTO_ENOMEM, "out of memory growing the utterance buffer");
        s->buf = nb;
        s->buf_cap = cap;
    }
    if (s->buf_n == 0)
        s->buf_t0 = (double)s->sent_pos / STREAM_RATE;
    memcpy(s->buf + s->buf_n, s->hist + (s->sent_pos - s->hist_pos0), m * sizeof *s->buf);
    s->buf_n += m;
    s->buf_new += m;
    s->sent_pos = upto;
    pthread_mutex_lock(&s->lock);
    s->st.voiced_s += (double)m / STREAM_RATE;
    s->st.buffered_s = (double)s->buf_n / STREAM_RATE;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void emit_stats(sotto_stream *s)
{
    sotto_stream_stats st;
    sotto_stream_get_stats(s, &st);
    sotto_stream_event ev = {0};
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = &st;
    stream_emit(s, &ev);
}

static int run_update(sotto_stream *s, int final)
{
    int rc = s->policy->update(s, s->pstate, final);
    s->buf_new = 0;
    if (final) {
        s->in_utt = 0;
        s->buf_n = 0;
        int rc2 = stream_emit_partial(s, "", s->buf_t0, s->buf_t0);
        if (rc == 0)
            rc = rc2;
    }
    pthread_mutex_lock(&s->lock);
    s->st.buffered_s = (double)s->buf_n / STREAM_RATE;
    pthread_mutex_unlock(&s->lock);
    emit_stats(s);
    return rc;
}

static void open_utt(sotto_stream *s, int64_t from, int64_t speech)
{
    if (from < s->sent_pos)
        from = s->sent_pos; /* never send audio twice */
    if (from < s->hist_pos0)
        from = s->hist_pos0;
    s->sent_pos = from;
    s->in_utt = 1;
    s->buf_n = 0;
    s->buf_new = 0;
    s->buf_t0 = (double)from / STREAM_RATE;
    s->speech_t0 = (double)(speech > from ? speech : from) / STREAM_RATE;
}

static void emit_vad(sotto_stream *s, sotto_stream_event_type type, double t)
{
    sotto_stream_event ev = {0};
    ev.type = type;
    ev.t = t;
    stream_emit(s, &ev);
}

/* Handle the VAD's queued events: open utterances, end them with a final update. */
static int drain_vad(sotto_stream *s)
{
    sotto_vad_event ve;
    while (sotto_vad_next_event(s->vad, &ve) == 1) {
        if (ve.type == SOTTO_VAD_SPEECH_START) {
            emit_vad(s, SOTTO_STREAM_SPEECH_START, ve.t);
            if (!s->in_utt) {
                /* (s->st.shedding is written by this thread only: the worker) */
                double pr = s->st.shedding && s->o.preroll_s > SHED_PREROLL_S ? SHED_PREROLL_S
                                                                             : s->o.preroll_s;
                int64_t preroll = (int64_t)(pr * STREAM_RATE);
                open_utt(s, ve.sample - preroll, ve.sample);
            }
        } else {
            emit_vad(s, SOTTO_STREAM_SPEECH_END, ve.t);
            /* the final update, as a flush: the hangover held back goes in with it (the
             * whole-utterance pass reads better with the trailing silence: 60 s benchmark
             * stream, native: WER 3.4-4.5% when it ends at the VAD's end, 1.1%) */
            int rc = vac_flush(s);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static int update_due(const sotto_stream *s)
{
    return s->in_utt && (double)s->buf_new >= (double)s->min_chunk_s * STREAM_RATE - 0.5;
}

int vac_process(sotto_stream *s, const float *pcm, size_t n, int defer)
{
    size_t max_buf = (size_t)((double)s->o.max_buffer_s * STREAM_RATE);
    while (n > 0) {
        size_t m = n < PIECE ? n : PIECE;
        hist_append(s, pcm, m);
        s->n_in += (int64_t)m;
        pcm += m;
        n -= m;
        int rc = 0;
        if (s->vad) {
            rc = sotto_vad_feed(s->vad, s->hist + s->hist_n - m, m);
            if (rc == 0)
                rc = drain_vad(s);
            /* a flush ended the utterance while the VAD still hears speech: go on */
            if (rc == 0 && !s->in_utt && sotto_vad_in_speech(s->vad))
                open_utt(s, s->sent_pos, s->sent_pos);
        } else if (!s->in_utt) {
            open_utt(s, s->sent_pos, s->sent_pos);
        }
        /* the hangover (silence that may still turn out to end the utterance) waits: it
         * goes to the recognizer when speech resumes or with the final update, so no
         * update is spent on it */
        if (rc == 0 && s->in_utt) {
            int64_t upto = s->n_in;
            long long held = s->vad ? sotto_vad_pending_end(s->vad) : -1;
            if (held >= 0 && held < upto)
                upto = held;
            rc = deliver(s, upto);
        }
        if (rc == 0 && s->in_utt && ((!defer && update_due(s)) || s->buf_n > max_buf))
            rc = run_update(s, 0);
        if (rc < 0)
            return rc;
    }
    if (defer && update_due(s))
        return run_update(s, 0);
    return 0;
}

int vac_flush(sotto_stream *s)
{
    if (!s->in_utt)
        return 0;
    int rc = deliver(s, s->n_in);
    return rc < 0 ? rc : run_update(s, 1);
}

int vac_finish(sotto_stream *s)
{
    int rc = 0;
    if (s->vad && !s->vad_finished) {
        s->vad_finished = 1;
        rc = sotto_vad_finish(s->vad);
        if (rc == 0)
            rc = drain_vad(s);
    }
    int rc2 = vac_flush(s);
    return rc < 0 ? rc : rc2;
}
