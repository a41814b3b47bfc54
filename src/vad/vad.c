/*
 * vad.c - the speech-activity detector's hysteresis, events and API (sotto_vad_*).
 *
 * Scores come from vad_features.c, one per hop. A small state machine turns them into
 * speech segments:
 *   idle       -> candidate  on a frame scoring >= start_threshold; the onset is the
 *                            first of the frames >= end_threshold just before it (at
 *                            most 0.3 s back);
 *   candidate  -> speech     once min_speech_s of frames score >= end_threshold: the
 *                            speech_start event is queued with t = onset - pad_s;
 *   candidate  -> idle       after min_speech_s of frames below end_threshold (a click);
 *   speech     -> idle       after min_silence_s of frames below end_threshold: the
 *                            speech_end event is queued with t = last speech frame's end
 *                            + pad_s.
 * Starts never reach back before the previous end (segments do not overlap) nor before
 * sample 0; ends never lie after what was fed. The event queue is a growable ring with a
 * hard cap. Not done here: holding audio (the caller keeps its own pre-roll buffer).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/audio.h"
#include "sotto/vad.h"
#include "vad/vad_int.h"

#define EVENTS_MAX 65536
#define BACKTRACK_S 0.3 /* an onset reaches back at most this far over weaker frames */

enum { ST_IDLE, ST_CANDIDATE, ST_SPEECH };

struct sotto_vad {
    sotto_vad_options o;
    vad_features feat;
    int hop;
    int64_t pad;               /* samples */
    int64_t min_speech_frames; /* >= 1 */
    int64_t min_sil_frames;    /* >= 1 */
    int64_t back_frames;       /* BACKTRACK_S in frames */

    float *part; /* (hop) a partial frame not yet scored */
    int part_len;
    int64_t n_fed;   /* samples fed */
    int64_t n_frames; /* frames scored */
    float last_score;
    int finished;

    int state;
    int64_t run;         /* idle: consecutive frames >= end_threshold up to now */
    int64_t onset;       /* candidate: first frame */
    int64_t cand_speech; /* candidate: frames >= end_threshold */
    int64_t cand_sil;    /* candidate: consecutive frames below end_threshold */
    int64_t last_speech; /* speech: last frame >= end_threshold */
    int64_t sil;         /* speech: consecutive frames below end_threshold since then */
    int64_t prev_end;    /* sample where the previous segment ended */

    sotto_vad_event *ev; /* ring of queued events */
    size_t ev_cap, ev_head, ev_len;
};

void sotto_vad_options_init(sotto_vad_options *o)
{
    SOTTO_ASSERT(o);
    o->frame_ms = 10;
    o->start_threshold = 0.5f;
    o->end_threshold = 0.35f;
    o->min_speech_s = 0.1f;
    o->min_silence_s = 0.5f;
    o->pad_s = 0.1f;
}

/* isfinite plus a range: NaN fails both comparisons */
static int in_range(float v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

int sotto_vad_new(const sotto_vad_options *opts, sotto_vad **out)
{
    SOTTO_ASSERT(out);
    *out = NULL;
    sotto_vad_options o;
    if (opts)
        o = *opts;
    else
        sotto_vad_options_init(&o);
    if (o.frame_ms != 10 && o.frame_ms != 20)
        return error_set(SOTTO_EINVAL, "vad: frame_ms %d is not 10 or 20", o.frame_ms);
    if (!in_range(o.start_threshold, 0.01, 0.99) || !in_range(o.end_threshold, 0.01, 0.99))
        return error_set(SOTTO_EINVAL, "vad: thresholds %g/%g must lie in 0.01..0.99",
                         (double)o.start_threshold, (double)o.end_threshold);
    if (o.end_threshold > o.start_threshold)
        return error_set(SOTTO_EINVAL, "vad: end_threshold %g is above start_threshold %g",
                         (double)o.end_threshold, (double)o.start_threshold);
    if (!in_range(o.min_speech_s, 0.0, 5.0))
        return error_set(SOTTO_EINVAL, "vad: min_speech_s %g is outside 0..5",
                         (double)o.min_speech_s);
    if (!in_range(o.min_silence_s, 0.0, 10.0))
        return error_set(SOTTO_EINVAL, "vad: min_silence_s %g is outside 0..10",
                         (double)o.min_silence_s);
    if (!in_range(o.pad_s, 0.0, 2.0) || o.pad_s > o.min_silence_s)
        return error_set(SOTTO_EINVAL, "vad: pad_s %g is outside 0..min(2, min_silence_s %g)",
                         (double)o.pad_s, (double)o.min_silence_s);

    sotto_vad *v = calloc(1, sizeof *v);
    if (!v)
        return error_set(SOTTO_ENOMEM, "vad: out of memory");
    v->o = o;
    v->hop = o.frame_ms * SOTTO_SAMPLE_RATE / 1000;
    v->pad = (int64_t)lround(o.pad_s * SOTTO_SAMPLE_RATE);
    v->min_speech_frames = (int64_t)lround(o.min_speech_s * 1000.0 / o.frame_ms);
    if (v->min_speech_frames < 1)
        v->min_speech_frames = 1;
    v->min_sil_frames = (int64_t)lround(o.min_silence_s * 1000.0 / o.frame_ms);
    if (v->min_sil_frames < 1)
        v->min_sil_frames = 1;
    v->back_frames = (int64_t)lround(BACKTRACK_S * 1000.0 / o.frame_ms);
    v->part = malloc((size_t)v->hop * sizeof *v->part);
    int rc = v->part ? vad_features_init(&v->feat, v->hop) : SOTTO_ENOMEM;
    if (rc != 0) {
        sotto_vad_free(v);
        return error_set(SOTTO_ENOMEM, "vad: out of memory");
    }
    v->state = ST_IDLE;
    *out = v;
    return 0;
}

void sotto_vad_free(sotto_vad *v)
{
    if (!v)
        return;
    vad_features_free(&v->feat);
    free(v->part);
    free(v->ev);
    free(v);
}

static int push_event(sotto_vad *v, sotto_vad_event_type type, int64_t sample)
{
    if (v->ev_len == v->ev_cap) {
        if (v->ev_cap >= EVENTS_MAX)
            return error_set(SOTTO_ENOMEM,
                             "vad: %d events are waiting; take them with "
                             "sotto_vad_next_event() between feeds",
                             EVENTS_MAX);
        size_t cap = v->ev_cap ? v->ev_cap * 2 : 16;
        sotto_vad_event *e = malloc(cap * sizeof *e);
        if (!e)
            return error_set(SOTTO_ENOMEM, "vad: out of memory");
        for (size_t i = 0; i < v->ev_len; i++) /* unwrap the ring */
            e[i] = v->ev[(v->ev_head + i) % v->ev_cap];
        free(v->ev);
        v->ev = e;
        v->ev_cap = cap;
        v->ev_head = 0;
    }
    sotto_vad_event *e = &v->ev[(v->ev_head + v->ev_len) % v->ev_cap];
    e->type = type;
    e->sample = sample;
    e->t = (double)sample / SOTTO_SAMPLE_RATE;
    v->ev_len++;
    return 0;
}

static int close_segment(sotto_vad *v, int64_t limit)
{
    int64_t end = (v->last_speech + 1) * v->hop + v->pad;
    if (end > limit)
        end = limit;
    v->prev_end = end;
    v->state = ST_IDLE;
    v->run = 0;
    return push_event(v, SOTTO_VAD_SPEECH_END, end);
}

/* One scored frame through the state machine. */
static int step(sotto_vad *v, float score)
{
    int64_t i = v->n_frames;
    int speech = score >= v->o.end_threshold;
    switch (v->state) {
    case ST_IDLE:
        v->run = speech ? v->run + 1 : 0;
        if (score < v->o.start_threshold)
            return 0;
        v->state = ST_CANDIDATE;
        /* the onset is the first of the frames >= end_threshold leading up to this one:
         * speech rises through the weaker score before it crosses start_threshold */
        v->onset = i - (v->run - 1 < v->back_frames ? v->run - 1 : v->back_frames);
        v->cand_speech = 0;
        v->cand_sil = 0;
        /* the onset frame counts as speech */
        __attribute__((fallthrough));
    case ST_CANDIDATE:
        if (speech) {
            v->cand_speech++;
            v->cand_sil = 0;
            v->last_speech = i;
        } else if (++v->cand_sil >= v->min_speech_frames) {
            v->state = ST_IDLE;
            v->run = 0;
            return 0;
        }
        if (v->cand_speech >= v->min_speech_frames) {
            int64_t start = v->onset * v->hop - v->pad;
            if (start < v->prev_end)
                start = v->prev_end;
            if (start < 0)
                start = 0;
            v->state = ST_SPEECH;
            v->sil = 0;
            return push_event(v, SOTTO_VAD_SPEECH_START, start);
        }
        return 0;
    default: /* ST_SPEECH */
        if (speech) {
            v->last_speech = i;
            v->sil = 0;
            return 0;
        }
        if (++v->sil >= v->min_sil_frames)
            return close_segment(v, (i + 1) * v->hop);
        return 0;
    }
}

int sotto_vad_feed(sotto_vad *v, const float *pcm, size_t n)
{
    SOTTO_ASSERT(v && (pcm || n == 0));
    if (v->finished)
        return error_set(SOTTO_EINVAL, "vad: feed after finish");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pcm[i]))
            return error_set(SOTTO_EINVAL, "vad: sample %zu is not a finite number", i);
    size_t pos = 0;
    while (pos < n) {
        size_t take = (size_t)(v->hop - v->part_len);
        if (take > n - pos)
            take = n - pos;
        memcpy(v->part + v->part_len, pcm + pos, take * sizeof *pcm);
        v->part_len += (int)take;
        v->n_fed += (int64_t)take;
        pos += take;
        if (v->part_len < v->hop)
            break;
        v->part_len = 0;
        float score = vad_features_frame(&v->feat, v->part, v->state != ST_IDLE);
        v->last_score = score;
        int rc = step(v, score);
        v->n_frames++;
        if (rc != 0)
            return rc;
    }
    return 0;
}

int sotto_vad_finish(sotto_vad *v)
{
    SOTTO_ASSERT(v);
    if (v->finished)
        return 0;
    v->finished = 1;
    /* an unconfirmed candidate had less than min_speech_s of speech: a click, dropped */
    if (v->state == ST_SPEECH)
        return close_segment(v, v->n_fed);
    v->state = ST_IDLE;
    return 0;
}

int sotto_vad_next_event(sotto_vad *v, sotto_vad_event *ev)
{
    SOTTO_ASSERT(v && ev);
    if (v->ev_len == 0)
        return 0;
    *ev = v->ev[v->ev_head];
    v->ev_head = (v->ev_head + 1) % v->ev_cap;
    v->ev_len--;
    return 1;
}

int sotto_vad_in_speech(const sotto_vad *v)
{
    SOTTO_ASSERT(v);
    return v->state == ST_SPEECH;
}

long long sotto_vad_pending_end(const sotto_vad *v)
{
    SOTTO_ASSERT(v);
    if (v->state != ST_SPEECH || v->sil == 0)
        return -1;
    return (long long)((v->last_speech + 1) * v->hop + v->pad);
}

float sotto_vad_last_score(const sotto_vad *v)
{
    SOTTO_ASSERT(v);
    return v->last_score;
}

long long sotto_vad_frames(const sotto_vad *v)
{
    SOTTO_ASSERT(v);
    return v->n_frames;
}

int sotto_vad_hop(const sotto_vad *v)
{
    SOTTO_ASSERT(v);
    return v->hop;
}
