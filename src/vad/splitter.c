/*
 * splitter.c - the energy-based utterance splitter (sotto_splitter_*).
 *
 * Cuts a stream of 16 kHz mono samples into utterances at pauses. Each 10 ms frame's
 * energy (dB) is compared with an adaptive noise floor; a frame is speech when it is
 * threshold_db above the floor. An utterance opens on the first speech frame (with pad_s
 * of audio before it), closes after min_silence_s of non-speech (with up to pad_s after
 * the last speech frame), and is cut at the quietest recent frame when it would exceed
 * max_utterance_s. Utterances with less than MIN_SPEECH_S of speech frames are clicks
 * and are dropped, as is all pure silence.
 *
 * Memory: the input buffer is allocated once and holds only the open utterance (or, when
 * idle, the pad that may become its lead-in) plus one partial frame, so it is bounded by
 * max_utterance_s + pad_s whatever is fed. Finished utterances are copied to an output
 * queue the caller drains with sotto_splitter_next(); that queue is reused, not freed,
 * once drained, so a caller that drains after every feed keeps memory flat.
 *
 * Not done here: any spectral or learned speech model (the live-streaming VAD is that).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/audio.h"
#include "sotto/vad.h"

#define FRAME_LEN 160        /* 10 ms at 16 kHz */
#define FLOOR_MIN_DB (-70.0) /* the floor never drops below this: digital silence */
#define FLOOR_FALL 0.3       /* per frame, fraction of the way down to a quieter frame */
#define FLOOR_RISE_DB_S 1.5  /* dB per second the floor may creep up */
#define MIN_SPEECH_S 0.1     /* less speech than this in an utterance is a click */
#define CUT_SEARCH_S 3.0     /* an over-long utterance is cut within its last 3 s */
#define PENDING_MAX_S 3600.0 /* hard cap on finished utterances not yet taken */

typedef struct utt_entry {
    size_t off; /* first sample in sp->out */
    size_t n;
    double t_start;
} utt_entry;

struct sotto_splitter {
    sotto_splitter_options o;
    int64_t pad;     /* samples */
    int64_t max_len; /* samples */
    int64_t min_sil_frames;
    int64_t min_speech_frames;
    int64_t search_frames; /* frames searched for the quietest point of a cut */

    /* input: samples [buf_pos, buf_pos + buf_len) of the stream */
    float *buf;
    size_t buf_cap, buf_len;
    int64_t buf_pos;
    int64_t n_fed;    /* samples fed in total */
    int64_t n_framed; /* samples already classified (whole frames, plus a tail at finish) */
    int finished;

    /* noise floor */
    int have_floor;
    double floor_db;

    /* recent frames: energy and speech flag, indexed by frame number % ring_cap */
    float *ring_db;
    unsigned char *ring_speech;
    int64_t ring_cap;

    /* the open utterance */
    int in_utt;
    int64_t utt_start;       /* first sample (lead-in pad included) */
    int64_t last_speech_end; /* end of its last speech frame */
    int64_t silence_frames;  /* non-speech frames since then */
    int64_t speech_frames;   /* speech frames in it */
    int64_t prev_end;        /* end of the last emitted utterance: utterances never overlap */

    /* finished utterances waiting for sotto_splitter_next() */
    float *out;
    size_t out_len, out_cap;
    utt_entry *q;
    size_t q_len, q_cap, q_head;
};

void sotto_splitter_options_init(sotto_splitter_options *o)
{
    SOTTO_ASSERT(o);
    o->min_silence_s = 0.35f;
    o->max_utterance_s = 30.0f;
    o->pad_s = 0.25f;
    o->threshold_db = 12.0f;
}

/* isfinite plus a range: NaN fails both comparisons */
static int in_range(float v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

int sotto_splitter_new(const sotto_splitter_options *opts, sotto_splitter **out)
{
    SOTTO_ASSERT(out);
    *out = NULL;
    sotto_splitter_options o;
    if (opts)
        o = *opts;
    else
        sotto_splitter_options_init(&o);
    if (!in_range(o.min_silence_s, 0.01, 10.0))
        return error_set(SOTTO_EINVAL, "splitter: min_silence_s %g is outside 0.01..10",
                         (double)o.min_silence_s);
    if (!in_range(o.max_utterance_s, 1.0, 600.0))
        return error_set(SOTTO_EINVAL, "splitter: max_utterance_s %g is outside 1..600",
                         (double)o.max_utterance_s);
    if (!in_range(o.pad_s, 0.0, 5.0))
        return error_set(SOTTO_EINVAL, "splitter: pad_s %g is outside 0..5", (double)o.pad_s);
    if (!in_range(o.threshold_db, 0.0, 80.0))
        return error_set(SOTTO_EINVAL, "splitter: threshold_db %g is outside 0..80",
                         (double)o.threshold_db);
    if (o.pad_s * 2.0f >= o.max_utterance_s)
        return error_set(SOTTO_EINVAL, "splitter: pad_s %g leaves no room in max_utterance_s %g",
                         (double)o.pad_s, (double)o.max_utterance_s);

    sotto_splitter *sp = calloc(1, sizeof *sp);
    if (!sp)
        return error_set(SOTTO_ENOMEM, "splitter: out of memory");
    sp->o = o;
    sp->pad = (int64_t)lround(o.pad_s * SOTTO_SAMPLE_RATE);
    sp->max_len = (int64_t)lround(o.max_utterance_s * SOTTO_SAMPLE_RATE);
    sp->min_sil_frames = (int64_t)lround(o.min_silence_s * SOTTO_SAMPLE_RATE / FRAME_LEN);
    if (sp->min_sil_frames < 1)
        sp->min_sil_frames = 1;
    sp->min_speech_frames = (int64_t)lround(MIN_SPEECH_S * SOTTO_SAMPLE_RATE / FRAME_LEN);
    /* at most half the utterance, so both pieces of a cut are substantial */
    int64_t search = (int64_t)lround(CUT_SEARCH_S * SOTTO_SAMPLE_RATE / FRAME_LEN);
    int64_t half = sp->max_len / FRAME_LEN / 2;
    sp->search_frames = search < half ? search : half;
    sp->ring_cap = sp->search_frames + 2;
    /* an open utterance never exceeds max_len; plus a partial frame and room to copy in */
    sp->buf_cap = (size_t)(sp->max_len + sp->pad + 4 * FRAME_LEN);
    sp->buf = malloc(sp->buf_cap * sizeof *sp->buf);
    sp->ring_db = malloc((size_t)sp->ring_cap * sizeof *sp->ring_db);
    sp->ring_speech = malloc((size_t)sp->ring_cap);
    if (!sp->buf || !sp->ring_db || !sp->ring_speech) {
        sotto_splitter_free(sp);
        return error_set(SOTTO_ENOMEM, "splitter: out of memory");
    }
    *out = sp;
    return 0;
}

void sotto_splitter_free(sotto_splitter *sp)
{
    if (!sp)
        return;
    free(sp->buf);
    free(sp->ring_db);
    free(sp->ring_speech);
    free(sp->out);
    free(sp->q);
    free(sp);
}

/* Mean power of a frame in dB relative to full scale (a full-scale square wave is 0). */
static double frame_db(const float *x, size_t n)
{
    double acc = 0.0;
    for (size_t i = 0; i < n; i++)
        acc += (double)x[i] * x[i];
    return 10.0 * log10(acc / (double)n + 1e-12);
}

/* Copy samples [start, end) of the stream into the output queue. */
static int queue_push(sotto_splitter *sp, int64_t start, int64_t end)
{
    SOTTO_ASSERT(start >= sp->buf_pos && end <= sp->buf_pos + (int64_t)sp->buf_len);
    size_t n = (size_t)(end - start);
    if (sp->out_len + n > (size_t)(PENDING_MAX_S * SOTTO_SAMPLE_RATE))
        return error_set(SOTTO_ENOMEM,
                         "splitter: more than %.0f s of utterances are waiting; take them "
                         "with sotto_splitter_next() between feeds",
                         PENDING_MAX_S);
    if (sp->out_len + n > sp->out_cap) {
        size_t cap = sp->out_cap ? sp->out_cap : 16000;
        while (cap < sp->out_len + n)
            cap *= 2;
        float *p = realloc(sp->out, cap * sizeof *p);
        if (!p)
            return error_set(SOTTO_ENOMEM, "splitter: out of memory");
        sp->out = p;
        sp->out_cap = cap;
    }
    if (sp->q_len == sp->q_cap) {
        size_t cap = sp->q_cap ? sp->q_cap * 2 : 8;
        utt_entry *q = realloc(sp->q, cap * sizeof *q);
        if (!q)
            return error_set(SOTTO_ENOMEM, "splitter: out of memory");
        sp->q = q;
        sp->q_cap = cap;
    }
    memcpy(sp->out + sp->out_len, sp->buf + (start - sp->buf_pos), n * sizeof(float));
    sp->q[sp->q_len].off = sp->out_len;
    sp->q[sp->q_len].n = n;
    sp->q[sp->q_len].t_start = (double)start / SOTTO_SAMPLE_RATE;
    sp->q_len++;
    sp->out_len += n;
    return 0;
}

/* Close the open utterance at end; keep it unless it is a click. */
static int utt_close(sotto_splitter *sp, int64_t end)
{
    sp->in_utt = 0;
    if (end > sp->utt_start + sp->max_len)
        end = sp->utt_start + sp->max_len;
    if (sp->speech_frames < sp->min_speech_frames || end <= sp->utt_start)
        return 0;
    sp->prev_end = end;
    return queue_push(sp, sp->utt_start, end);
}

/* The open utterance reached max_len at frame k: emit it up to the centre of the
 * quietest of its last search_frames frames, and go on with the rest as a new one. */
static int utt_cut(sotto_splitter *sp, int64_t k)
{
    int64_t best = k;
    float best_db = INFINITY;
    for (int64_t j = k - sp->search_frames + 1; j <= k; j++) {
        float e = sp->ring_db[j % sp->ring_cap];
        if (e < best_db) {
            best_db = e;
            best = j;
        }
    }
    int64_t cut = best * FRAME_LEN + FRAME_LEN / 2;
    if (cut > sp->utt_start + sp->max_len) /* utt_start need not be frame-aligned */
        cut = sp->utt_start + sp->max_len;
    int64_t speech_after = 0;
    for (int64_t j = best + 1; j <= k; j++)
        speech_after += sp->ring_speech[j % sp->ring_cap];
    sp->speech_frames -= speech_after;
    int rc = 0;
    if (sp->speech_frames >= sp->min_speech_frames) {
        rc = queue_push(sp, sp->utt_start, cut);
        sp->prev_end = cut;
    }
    sp->utt_start = cut;
    sp->speech_frames = speech_after;
    if (sp->last_speech_end < cut)
        sp->last_speech_end = cut;
    return rc;
}

/* Classify frame k (samples [start, start + n) of the stream) and advance the state. */
static int frame_process(sotto_splitter *sp, int64_t k, int64_t start, size_t n)
{
    double e = frame_db(sp->buf + (start - sp->buf_pos), n);
    if (!sp->have_floor) {
        /* the first frame is the first guess: a noisy recording is not taken for speech;
         * input that opens mid-word is heard from its first word gap on (the fall is fast) */
        sp->floor_db = e;
        sp->have_floor = 1;
    }
    if (sp->floor_db < FLOOR_MIN_DB)
        sp->floor_db = FLOOR_MIN_DB;
    int speech = e > sp->floor_db + sp->o.threshold_db;
    /* fast fall keeps the floor at the quietest recent frames (word gaps); the slow rise
     * follows a noise level that grows without mistaking a long word for noise */
    if (e < sp->floor_db) {
        sp->floor_db += FLOOR_FALL * (e - sp->floor_db);
    } else {
        double rise = FLOOR_RISE_DB_S * FRAME_LEN / SOTTO_SAMPLE_RATE;
        sp->floor_db += (e - sp->floor_db) < rise ? (e - sp->floor_db) : rise;
    }
    if (sp->floor_db < FLOOR_MIN_DB)
        sp->floor_db = FLOOR_MIN_DB;
    sp->ring_db[k % sp->ring_cap] = (float)e;
    sp->ring_speech[k % sp->ring_cap] = (unsigned char)speech;

    int64_t end = start + (int64_t)n;
    if (!sp->in_utt) {
        if (!speech)
            return 0;
        int64_t s = start - sp->pad;
        if (s < sp->buf_pos)
            s = sp->buf_pos;
        if (s < sp->prev_end)
            s = sp->prev_end;
        sp->in_utt = 1;
        sp->utt_start = s;
        sp->last_speech_end = end;
        sp->silence_frames = 0;
        sp->speech_frames = 1;
        return 0;
    }
    if (speech) {
        sp->last_speech_end = end;
        sp->silence_frames = 0;
        sp->speech_frames++;
    } else {
        sp->silence_frames++;
    }
    if (sp->silence_frames >= sp->min_sil_frames) {
        /* the trailing pad is what has been seen: at most min_silence_s */
        int64_t e_end = sp->last_speech_end + sp->pad;
        return utt_close(sp, e_end < end ? e_end : end);
    }
    if (end - sp->utt_start >= sp->max_len)
        return utt_cut(sp, k);
    return 0;
}

/* Drop buffered samples nothing can need any more: before the open utterance, or when
 * idle, before the pad that could lead into the next one. */
static void buf_compact(sotto_splitter *sp)
{
    int64_t keep;
    if (sp->in_utt) {
        keep = sp->utt_start;
    } else {
        keep = sp->n_framed - sp->pad;
        if (keep < sp->prev_end)
            keep = sp->prev_end;
    }
    if (keep > sp->n_framed)
        keep = sp->n_framed;
    if (keep <= sp->buf_pos)
        return;
    size_t drop = (size_t)(keep - sp->buf_pos);
    memmove(sp->buf, sp->buf + drop, (sp->buf_len - drop) * sizeof(float));
    sp->buf_len -= drop;
    sp->buf_pos = keep;
}

/* Once every queued utterance has been taken, reuse the queue's storage from the start. */
static void queue_reclaim(sotto_splitter *sp)
{
    if (sp->q_head == sp->q_len) {
        sp->q_head = sp->q_len = 0;
        sp->out_len = 0;
    }
}

int sotto_splitter_feed(sotto_splitter *sp, const float *pcm, size_t n)
{
    SOTTO_ASSERT(sp && (pcm || n == 0));
    if (sp->finished)
        return error_set(SOTTO_EINVAL, "splitter: samples fed after sotto_splitter_finish()");
    queue_reclaim(sp);
    while (n > 0) {
        size_t room = sp->buf_cap - sp->buf_len;
        SOTTO_ASSERT(room > 0);
        size_t take = n < room ? n : room;
        memcpy(sp->buf + sp->buf_len, pcm, take * sizeof(float));
        sp->buf_len += take;
        sp->n_fed += (int64_t)take;
        pcm += take;
        n -= take;
        while (sp->n_fed - sp->n_framed >= FRAME_LEN) {
            int rc = frame_process(sp, sp->n_framed / FRAME_LEN, sp->n_framed, FRAME_LEN);
            sp->n_framed += FRAME_LEN;
            if (rc < 0)
                return rc;
        }
        buf_compact(sp);
    }
    return 0;
}

int sotto_splitter_finish(sotto_splitter *sp)
{
    SOTTO_ASSERT(sp);
    if (sp->finished)
        return 0;
    sp->finished = 1;
    queue_reclaim(sp);
    int rc = 0;
    int64_t tail = sp->n_fed - sp->n_framed;
    if (tail > 0) {
        /* a partial last frame is classified on its own samples */
        rc = frame_process(sp, sp->n_framed / FRAME_LEN, sp->n_framed, (size_t)tail);
        sp->n_framed = sp->n_fed;
    }
    if (!rc && sp->in_utt) {
        int64_t end = sp->last_speech_end + sp->pad;
        rc = utt_close(sp, end < sp->n_fed ? end : sp->n_fed);
    }
    return rc;
}

int sotto_splitter_next(sotto_splitter *sp, const float **pcm, size_t *n, double *t_start)
{
    SOTTO_ASSERT(sp && pcm && n && t_start);
    queue_reclaim(sp);
    if (sp->q_head == sp->q_len)
        return 0;
    const utt_entry *u = &sp->q[sp->q_head++];
    *pcm = sp->out + u->off;
    *n = u->n;
    *t_start = u->t_start;
    return 1;
}
