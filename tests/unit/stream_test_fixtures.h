/*
 * stream_test_fixtures.h - what the live-engine tests share (include after check.h): a
 * long stream of fixture utterances with known placement, an event collector (finals,
 * partials, word latency in audio time), running a stream, WER against batch.
 */
#ifndef SOTTO_STREAM_TEST_FIXTURES_H
#define SOTTO_STREAM_TEST_FIXTURES_H

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "sotto/stream.h"
#include "sotto/text.h"
#include "stream/stream_int.h"

#define RATE 16000

/* ---- helpers ------------------------------------------------------------------------ */

static inline float *load_wav(const char *name, size_t *n_out)
{
    char path[1024];
    int len = snprintf(path, sizeof path, "%s/%s", check_fixtures_dir(), name);
    ASSERT_TRUE(len > 0 && (size_t)len < sizeof path);
    float *pcm = NULL;
    ASSERT_OK(sotto_audio_load(path, NULL, &pcm, n_out));
    return pcm;
}

static inline sotto_asr *sphinx_new(void)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.word_timestamps = 1; /* the stream publishes words with every final */
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", &o, &asr));
    return asr;
}

/* Low deterministic noise (about -50 dBFS) so that "silence" is not digital zero. */
static unsigned noise_state = 12345u;
static inline float noise(float amp)
{
    noise_state = noise_state * 1664525u + 1013904223u;
    return amp * ((float)(noise_state >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
}

/* A long stream: n_utt fixture utterances (manifest order) separated by gaps of 1.0,
 * 1.5 and 2.0 s of low noise, 1 s of it first. refs/starts/lens describe each. */
typedef struct long_stream {
    float *pcm;
    size_t n;
    int n_utt;
    char refs[16][256];
    size_t starts[16], lens[16];
} long_stream;

static inline void build_stream(long_stream *ls, int n_utt, double gap_scale)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.tsv", check_fixtures_dir());
    FILE *f = fopen(path, "rb");
    if (!f)
        CHECK_FAIL("cannot open %s", path);
    memset(ls, 0, sizeof *ls);
    size_t cap = (size_t)RATE * 200;
    ls->pcm = calloc(cap, sizeof *ls->pcm);
    ASSERT_TRUE(ls->pcm != NULL);
    char line[1024];
    size_t pos = 0;
    for (size_t i = 0; i < RATE; i++)
        ls->pcm[pos++] = noise(0.003f);
    while (ls->n_utt < n_utt && fgets(line, sizeof line, f)) {
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = '\0';
        size_t tl = strlen(t2 + 1);
        while (tl > 0 && isspace((unsigned char)t2[1 + tl - 1]))
            t2[1 + --tl] = '\0';
        size_t n = 0;
        float *u = load_wav(line, &n);
        double gap = (1.0 + 0.5 * (ls->n_utt % 3)) * gap_scale;
        size_t n_gap = (size_t)(gap * RATE);
        ASSERT_TRUE(pos + n + n_gap < cap);
        ls->starts[ls->n_utt] = pos;
        ls->lens[ls->n_utt] = n;
        for (size_t i = 0; i < n; i++)
            ls->pcm[pos++] = u[i] + noise(0.003f);
        for (size_t i = 0; i < n_gap; i++)
            ls->pcm[pos++] = noise(0.003f);
        snprintf(ls->refs[ls->n_utt], sizeof ls->refs[0], "%s", t2 + 1);
        ls->n_utt++;
        free(u);
    }
    fclose(f);
    ls->n = pos;
    ASSERT_EQ(ls->n_utt, n_utt);
}

/* What a stream told us. */
typedef struct collect {
    pthread_mutex_t lock;
    char finals[8192];
    int n_finals, n_partials_text, n_starts, n_ends, n_stats;
    int64_t last_id;
    double last_end;
    int bad_order;      /* ids not consecutive or times going backwards */
    int repeated;       /* a word published twice at the same time */
    double word_starts[2048];
    char words[2048][32];
    int n_words;
    pthread_t thread;   /* the thread events came from */
    double first_start_t;
    /* computation-unaware word latency: audio fed when a word's final came minus its end */
    double lat[2048];
    int n_lat;
} collect;

/* Seconds of audio fed so far by run_stream (synchronous streams deliver events inside
 * feed, so this is the stream position at the moment of an event). */
static double fed_pos_s;
/* run_stream turns the native policy's early commit on for new streams when set. */
static int early_commit;

static inline void collect_init(collect *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->last_id = -1;
    c->last_end = -1.0;
    c->first_start_t = -1.0;
}

static inline void on_event(void *user, const sotto_stream_event *ev)
{
    collect *c = user;
    pthread_mutex_lock(&c->lock);
    c->thread = pthread_self();
    switch (ev->type) {
    case SOTTO_STREAM_SPEECH_START:
        if (c->first_start_t < 0)
            c->first_start_t = ev->t;
        c->n_starts++;
        break;
    case SOTTO_STREAM_SPEECH_END:
        c->n_ends++;
        break;
    case SOTTO_STREAM_PARTIAL:
        if (ev->text && ev->text[0])
            c->n_partials_text++;
        break;
    case SOTTO_STREAM_FINAL:
        if (ev->segment_id != c->last_id + 1 || ev->start < c->last_end - 0.05 ||
            ev->end < ev->start || ev->n_words == 0)
            c->bad_order = 1;
        c->last_id = ev->segment_id;
        c->last_end = ev->end;
        for (size_t i = 0; i < ev->n_words && c->n_words < 2048; i++) {
            for (int k = 0; k < c->n_words; k++)
                if (fabs(c->word_starts[k] - ev->words[i].start) < 0.02 &&
                    strcmp(c->words[k], ev->words[i].word) == 0)
                    c->repeated = 1;
            c->word_starts[c->n_words] = ev->words[i].start;
            snprintf(c->words[c->n_words], sizeof c->words[0], "%s", ev->words[i].word);
            c->n_words++;
        }
        for (size_t i = 0; i < ev->n_words && c->n_lat < 2048; i++)
            c->lat[c->n_lat++] = fed_pos_s - ev->words[i].end;
        if (c->finals[0])
            strncat(c->finals, " ", sizeof c->finals - strlen(c->finals) - 1);
        strncat(c->finals, ev->text, sizeof c->finals - strlen(c->finals) - 1);
        c->n_finals++;
        break;
    case SOTTO_STREAM_STATS:
        c->n_stats++;
        break;
    }
    pthread_mutex_unlock(&c->lock);
}

/* A stream callback whose first event blocks the stream's worker (which then holds its
 * compute slot) for block_s seconds: a client that stopped reading. */
typedef struct slow_first {
    atomic_int blocked, released;
    double block_s;
} slow_first;

static inline void block_first_event(void *user, const sotto_stream_event *ev)
{
    (void)ev;
    slow_first *sf = user;
    if (!atomic_exchange(&sf->blocked, 1)) {
        double whole = floor(sf->block_s);
        struct timespec ts = {(time_t)whole, (long)((sf->block_s - whole) * 1e9)};
        nanosleep(&ts, NULL);
        atomic_store(&sf->released, 1);
    }
}

/* Wait until that stream's worker is blocked in its callback. */
static inline void wait_first_blocked(slow_first *sf)
{
    while (!atomic_load(&sf->blocked)) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

/* CPU seconds this process has used (user + system): contention-free, unlike wall time. */
static inline double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

/* Stream pcm through a new stream, fed in chunk-sized pieces; finish; stats out. */
static inline void run_stream(sotto_asr *asr, const sotto_stream_options *o, const float *pcm, size_t n,
                       size_t chunk, collect *c, sotto_stream_stats *st)
{
    sotto_stream *s = NULL;
    ASSERT_OK(sotto_stream_new(asr, o, on_event, c, &s));
    if (early_commit)
        ASSERT_OK(native_set_early_commit(s, 1));
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        fed_pos_s = (double)(i + m) / RATE;
        ASSERT_OK(sotto_stream_feed(s, pcm + i, m));
    }
    fed_pos_s = (double)n / RATE;
    ASSERT_OK(sotto_stream_finish(s));
    ASSERT_OK(sotto_stream_finish(s)); /* idempotent */
    if (st)
        sotto_stream_get_stats(s, st);
    sotto_stream_free(s);
}

static inline char *joined_refs(const long_stream *ls)
{
    char *r = calloc(1, 8192);
    for (int i = 0; i < ls->n_utt; i++) {
        if (i)
            strncat(r, " ", 8191 - strlen(r));
        strncat(r, ls->refs[i], 8191 - strlen(r));
    }
    return r;
}

/* Batch WER: each utterance of the same audio (noise included) recognized whole. words,
 * when not NULL, gets the batch words with their stream times (words and word_starts). */
static inline double batch_wer_words(sotto_asr *asr, const long_stream *ls, collect *words)
{
    sotto_wer total = {0};
    for (int i = 0; i < ls->n_utt; i++) {
        sotto_transcript tr;
        sotto_transcript_init(&tr);
        double t0 = (double)ls->starts[i] / RATE;
        ASSERT_OK(sotto_asr_transcribe(asr, ls->pcm + ls->starts[i], ls->lens[i], t0, &tr));
        for (size_t g = 0; words && g < tr.n_segments; g++)
            for (size_t k = 0; k < tr.segments[g].n_words && words->n_words < 2048; k++) {
                words->word_starts[words->n_words] = tr.segments[g].words[k].start;
                snprintf(words->words[words->n_words], sizeof words->words[0], "%s",
                         tr.segments[g].words[k].word);
                words->n_words++;
            }
        char *hyp = sotto_transcript_text(&tr);
        sotto_wer w;
        ASSERT_OK(sotto_text_wer(ls->refs[i], hyp, &w));
        sotto_wer_add(&total, &w);
        free(hyp);
        sotto_transcript_free(&tr);
    }
    return total.wer;
}

static inline double batch_wer(sotto_asr *asr, const long_stream *ls)
{
    return batch_wer_words(asr, ls, NULL);
}

/* How many of a's words b also has, the same word starting within tol seconds. */
static inline int words_at_same_times(const collect *a, const collect *b, double tol)
{
    int n = 0;
    for (int i = 0; i < a->n_words; i++)
        for (int k = 0; k < b->n_words; k++)
            if (fabs(a->word_starts[i] - b->word_starts[k]) <= tol && strcmp(a->words[i], b->words[k]) == 0) {
                n++;
                break;
            }
    return n;
}

/* The shedding tests' two runs: a 4-utterance stream (gap_scale as in build_stream) fed
 * to a threaded native stream in pieces of `piece` samples (0: all at once), far faster
 * than it is recognized (max_backlog_s 0.5: behind from the first batch), first without
 * shed_load (full, sf), then with it (shed, ss). wb: the batch WER of the same
 * utterances. The caller frees p->ls.pcm. */
typedef struct shed_pair {
    long_stream ls;
    double wb;
    collect full, shed;
    sotto_stream_stats sf, ss;
} shed_pair;

static inline void run_shed_pair(sotto_asr *asr, shed_pair *p, double gap_scale, size_t piece)
{
    build_stream(&p->ls, 4, gap_scale);
    p->wb = batch_wer(asr, &p->ls);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    o.policy = SOTTO_POLICY_NATIVE;
    o.threaded = 1;
    o.max_backlog_s = 0.5f;
    if (piece == 0)
        piece = p->ls.n;
    collect_init(&p->full);
    collect_init(&p->shed);
    run_stream(asr, &o, p->ls.pcm, p->ls.n, piece, &p->full, &p->sf);
    o.shed_load = 1;
    run_stream(asr, &o, p->ls.pcm, p->ls.n, piece, &p->shed, &p->ss);
}

static inline double stream_wer(const long_stream *ls, const collect *c)
{
    char *ref = joined_refs(ls);
    sotto_wer w;
    ASSERT_OK(sotto_text_wer(ref, c->finals, &w));
    free(ref);
    return w.wer;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mean and 95th percentile of the word latencies a synchronous stream collected. */
static inline void latency_stats(const collect *c, double *mean, double *p95)
{
    ASSERT_TRUE(c->n_lat > 0);
    double tmp[2048], sum = 0.0;
    for (int i = 0; i < c->n_lat; i++) {
        tmp[i] = c->lat[i];
        sum += tmp[i];
    }
    qsort(tmp, (size_t)c->n_lat, sizeof *tmp, cmp_double);
    *mean = sum / c->n_lat;
    int k = (int)(0.95 * (c->n_lat - 1) + 0.5);
    *p95 = tmp[k];
}

static inline void check_append_only(const collect *c, int n_utt)
{
    ASSERT_TRUE(c->n_finals >= n_utt / 2);
    ASSERT_EQ(c->bad_order, 0);
    ASSERT_EQ(c->repeated, 0);
    ASSERT_EQ(c->n_starts, n_utt);
    ASSERT_EQ(c->n_ends, n_utt);
    ASSERT_TRUE(c->n_partials_text > 0);
    ASSERT_TRUE(c->n_stats > 0);
}

#endif
