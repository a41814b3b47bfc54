/*
 * test_sphinx_pool.c - the sphinx backend's pool of stream decoders (sphinx_stream.c):
 * a stream on a reused decoder decodes exactly like one on a new decoder, a stream that
 * skips the second pass keeps its partials and the whole-utterance pass, warming creates
 * the decoders streams then take, the pool is safe under threads that create and free
 * streams at once, and sotto_asr_warm_streams checks its arguments and does nothing for
 * backends without per-stream decoders.
 *
 * The pool tests drive the backend's ops on its own state (asr_backend_sphinx), so they
 * can read the pool's counters (sphinx_pool_counts).
 */
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>

#include "asr/asr_int.h"
#include "asr/sphinx/sphinx_int.h"
#include "base/base_int.h"
#include "check.h"
#include "check_audio.h"
#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/buf.h"
#include "sotto/error.h"
#include "whisper_test_fixtures.h"

#define RATE 16000
#define BLOCK 1600 /* samples fed per step: 100 ms, like a live client */

/* ---- helpers ------------------------------------------------------------------------ */

/* A sphinx backend state with word times (what the server's recognizers use). */
static sphinx_state *state_new(void)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.word_timestamps = 1;
    void *state = NULL;
    char name[256];
    ASSERT_OK(asr_backend_sphinx.create(&o, &state, name, sizeof name));
    return state;
}

static uint64_t n_created(sphinx_state *st)
{
    uint64_t n = 0;
    sphinx_pool_counts(st, NULL, &n);
    return n;
}

static int n_idle(sphinx_state *st)
{
    int n = 0;
    sphinx_pool_counts(st, &n, NULL);
    return n;
}

/* Times as sample counts from t0 (the stream's count when this audio began): exact, so
 * two decodes compare with strcmp. */
static long rel_samples(double t, uint64_t t0)
{
    return lround(t * RATE) - (long)t0;
}

static void trace_segments(sotto_buf *b, const char *tag, const sotto_transcript *t, uint64_t t0)
{
    for (size_t i = 0; i < t->n_segments; i++) {
        const sotto_segment *s = &t->segments[i];
        sotto_buf_printf(b, "%s \"%s\" %ld-%ld conf %.9g logp %.9g:", tag, s->text,
                         rel_samples(s->start, t0), rel_samples(s->end, t0), s->confidence,
                         s->avg_logprob);
        for (size_t j = 0; j < s->n_words; j++)
            sotto_buf_printf(b, " %s@%ld-%ld/%.9g", s->words[j].word,
                             rel_samples(s->words[j].start, t0), rel_samples(s->words[j].end, t0),
                             s->words[j].probability);
        sotto_buf_puts(b, "\n");
    }
}

/* The text a trace buffer holds, as a string of its own; frees the buffer. Caller frees. */
static char *buf_take(sotto_buf *b)
{
    char *s = str_dup(b->data ? b->data : "");
    sotto_buf_free(b);
    ASSERT_TRUE(s != NULL);
    return s;
}

/* A whole-buffer pass over pcm on the stream's own decoder, with word times: one segment
 * in *t (caller frees). */
static void whole_pass(void *stream, const float *pcm, size_t n, sotto_transcript *t)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.word_timestamps = 1;
    sotto_transcript_init(t);
    ASSERT_OK(asr_backend_sphinx.stream_transcribe(stream, &o, pcm, n, 0.0, t));
    ASSERT_TRUE(t->n_segments == 1);
}

/* Feed pcm to a stream in 100 ms blocks and write down everything it says: the partial
 * text and the partial words after every block, then the finals with word times and
 * probabilities. t0: samples the stream was fed before. Caller frees. */
static char *trace_stream(void *stream, const float *pcm, size_t n, uint64_t t0)
{
    sotto_buf b = SOTTO_BUF_INIT;
    for (size_t done = 0; done < n; done += BLOCK) {
        size_t m = n - done < BLOCK ? n - done : BLOCK;
        ASSERT_OK(asr_backend_sphinx.stream_feed(stream, pcm + done, m));
        const char *partial = NULL;
        ASSERT_OK(asr_backend_sphinx.stream_partial(stream, &partial));
        sotto_buf_printf(&b, "%zu: \"%s\"\n", done + m, partial);
        sotto_transcript w;
        sotto_transcript_init(&w);
        ASSERT_OK(asr_backend_sphinx.stream_partial_words(stream, &w));
        trace_segments(&b, "  words", &w, t0);
        sotto_transcript_free(&w);
    }
    ASSERT_OK(asr_backend_sphinx.stream_flush(stream));
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(asr_backend_sphinx.stream_take_finals(stream, &t));
    ASSERT_TRUE(t.n_segments == 1);
    trace_segments(&b, "final", &t, t0);
    sotto_transcript_free(&t);
    return buf_take(&b);
}

/* What a stream session on B says: a whole-buffer pass over B first (batch CMN over B:
 * sphinx_stream_transcribe sets it and puts the live state back), then B streamed (from
 * the decoder's running estimate, which a reset must restore). t0: samples the stream was
 * fed before. Caller frees. */
static char *trace_session(void *stream, const float *b, size_t n_b, uint64_t t0)
{
    sotto_transcript t;
    whole_pass(stream, b, n_b, &t);
    sotto_buf whole = SOTTO_BUF_INIT;
    trace_segments(&whole, "whole", &t, 0);
    sotto_transcript_free(&t);
    char *live = trace_stream(stream, b, n_b, t0);
    sotto_buf_puts(&whole, live);
    free(live);
    return buf_take(&whole);
}

/* Utterance A (another voice and other words) goes through a stream's live decoder, which
 * moves its running estimate, and then a whole-buffer pass on it. */
static void decode_other_audio(void *stream, const float *a, size_t n_a)
{
    char *ta = trace_stream(stream, a, n_a, 0);
    free(ta);
    sotto_transcript t;
    whole_pass(stream, a, n_a, &t);
    sotto_transcript_free(&t);
}

/* ---- a reused decoder is a new decoder ------------------------------------------------ */

/* The same audio B recognized on a new decoder and on one that decoded A before (live
 * and with a whole-buffer pass), each time as a whole-buffer pass and then streamed:
 * every partial, partial word, final, word time and posterior is the same. A decoder that
 * goes on from A without the pool's reset (the same stream, next utterance) decodes B
 * differently, so this test catches a reset that misses the cepstral mean (its running
 * estimate, or its type, which decides the whole-buffer pass). B is four utterances
 * without a pause (about 12 s), long enough for the live CMN to move its mean
 * mid-utterance (past 800 frames). */
TEST(reused_decoder_decodes_exactly_like_a_new_one)
{
    static const char *const b_parts[] = {"utt_03_kal16.wav", "utt_00_kal16.wav",
                                          "utt_05_rms.wav", "utt_07_slt.wav"};
    size_t n_a = 0, n_b = 0;
    float *a = check_load_speech("utt_01_slt.wav", &n_a);
    float *b = check_load_joined(b_parts, sizeof b_parts / sizeof b_parts[0], 0, &n_b);
    ASSERT_TRUE(n_b > 10 * RATE);

    sphinx_state *st1 = state_new();
    void *fresh = NULL;
    ASSERT_OK(asr_backend_sphinx.stream_new(st1, &fresh));
    ASSERT_EQ(n_created(st1), 1);
    char *t_fresh = trace_session(fresh, b, n_b, 0);
    asr_backend_sphinx.stream_free(fresh);

    sphinx_state *st2 = state_new();
    void *first = NULL;
    ASSERT_OK(asr_backend_sphinx.stream_new(st2, &first));
    decode_other_audio(first, a, n_a);
    /* without a reset: the same decoder's next utterance */
    char *t_carried = trace_session(first, b, n_b, (uint64_t)n_a);
    asr_backend_sphinx.stream_free(first);
    ASSERT_EQ(n_idle(st2), 1);

    void *second = NULL;
    ASSERT_OK(asr_backend_sphinx.stream_new(st2, &second));
    ASSERT_EQ(n_created(st2), 1); /* the pooled decoder, not a new one */
    ASSERT_EQ(n_idle(st2), 0);
    char *t_reused = trace_session(second, b, n_b, 0);
    asr_backend_sphinx.stream_free(second);

    fprintf(stderr, "new decoder:\n%s\ncarried over from A (no reset):\n%s\n", t_fresh, t_carried);
    ASSERT_STR_EQ(t_reused, t_fresh);
    ASSERT_TRUE(strcmp(t_carried, t_fresh) != 0);

    free(t_fresh);
    free(t_carried);
    free(t_reused);
    asr_backend_sphinx.destroy(st1);
    asr_backend_sphinx.destroy(st2);
    free(a);
    free(b);
}

/* ---- the first pass alone (stream_want_finals 0) --------------------------------------- */

/* The text of a trace up to its "final" line (the partials and partial words). */
static char *before_final(char *trace)
{
    char *f = strstr(trace, "\nfinal");
    ASSERT_TRUE(f != NULL);
    f[1] = '\0';
    return trace;
}

/* A stream told its finals will not be used runs the live utterance without the second
 * pass: every partial and partial word is the same as on the full search (both come from
 * the first pass), it still ends the utterance with a final, and a whole-buffer pass right
 * after it (the native policy's final pass) runs the full search: the same words, times
 * and posteriors as on a stream that never skipped anything. */
TEST(first_pass_only_keeps_partials_and_the_whole_pass)
{
    size_t n = 0;
    float *pcm = check_load_speech("utt_03_kal16.wav", &n);
    sphinx_state *st = state_new();
    void *full = NULL, *lean = NULL;
    ASSERT_OK(asr_backend_sphinx.stream_new(st, &full));
    ASSERT_OK(asr_backend_sphinx.stream_new(st, &lean));
    ASSERT_OK(asr_backend_sphinx.stream_want_finals(lean, 0));
    char *t_full = trace_stream(full, pcm, n, 0);
    char *t_lean = trace_stream(lean, pcm, n, 0);
    fprintf(stderr, "full search:\n%s\nfirst pass alone:\n%s\n", t_full, t_lean);
    ASSERT_TRUE(strstr(t_lean, "\nfinal") != NULL);
    ASSERT_STR_EQ(before_final(t_lean), before_final(t_full));

    sotto_transcript a, b;
    whole_pass(full, pcm, n, &a);
    whole_pass(lean, pcm, n, &b);
    sotto_buf ta = SOTTO_BUF_INIT, tb = SOTTO_BUF_INIT;
    trace_segments(&ta, "whole", &a, 0);
    trace_segments(&tb, "whole", &b, 0);
    char *wa = buf_take(&ta), *wb = buf_take(&tb);
    ASSERT_STR_EQ(wb, wa);
    ASSERT_TRUE(a.segments[0].n_words >= 5);

    free(wa);
    free(wb);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
    free(t_full);
    free(t_lean);
    asr_backend_sphinx.stream_free(full);
    asr_backend_sphinx.stream_free(lean);
    asr_backend_sphinx.destroy(st);
    free(pcm);
}

/* ---- counts ----------------------------------------------------------------------------- */

#define N_WARM 3

typedef struct opener {
    sphinx_state *st;
    pthread_barrier_t *all_open; /* everyone holds a stream at the same time */
    void *stream;
    int rc;
} opener;

static void *open_and_hold(void *arg)
{
    opener *o = arg;
    o->rc = asr_backend_sphinx.stream_new(o->st, &o->stream);
    pthread_barrier_wait(o->all_open);
    return NULL;
}

/* After warm_streams(n), n streams opened at once create no decoder; given back, all n
 * are kept (warming raised the pool's keep to n); a later smaller warm creates none. */
TEST(warmed_decoders_serve_concurrent_streams)
{
    sphinx_state *st = state_new();
    ASSERT_EQ(n_created(st), 0);
    ASSERT_EQ(asr_backend_sphinx.stream_warm(st, N_WARM), N_WARM);
    ASSERT_EQ(n_created(st), N_WARM);
    ASSERT_EQ(n_idle(st), N_WARM);

    pthread_barrier_t all_open;
    pthread_barrier_init(&all_open, NULL, N_WARM);
    opener o[N_WARM];
    pthread_t th[N_WARM];
    for (int i = 0; i < N_WARM; i++) {
        o[i] = (opener){st, &all_open, NULL, -1};
        ASSERT_EQ(pthread_create(&th[i], NULL, open_and_hold, &o[i]), 0);
    }
    for (int i = 0; i < N_WARM; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&all_open);
    for (int i = 0; i < N_WARM; i++)
        ASSERT_OK(o[i].rc);
    ASSERT_EQ(n_created(st), N_WARM);
    ASSERT_EQ(n_idle(st), 0);
    for (int i = 0; i < N_WARM; i++)
        asr_backend_sphinx.stream_free(o[i].stream);
    ASSERT_EQ(n_idle(st), N_WARM);
    ASSERT_EQ(asr_backend_sphinx.stream_warm(st, 2), 0);
    ASSERT_EQ(asr_backend_sphinx.stream_warm(st, N_WARM), 0);
    ASSERT_EQ(n_created(st), N_WARM);
    asr_backend_sphinx.destroy(st);
}

/* Without warming the pool keeps SPHINX_POOL_KEEP idle decoders and frees the rest. */
TEST(pool_keeps_a_few_idle_decoders)
{
    enum { N = SPHINX_POOL_KEEP + 2 };
    sphinx_state *st = state_new();
    void *s[N];
    for (int i = 0; i < N; i++)
        ASSERT_OK(asr_backend_sphinx.stream_new(st, &s[i]));
    ASSERT_EQ(n_created(st), N);
    for (int i = 0; i < N; i++)
        asr_backend_sphinx.stream_free(s[i]);
    ASSERT_EQ(n_idle(st), SPHINX_POOL_KEEP);
    asr_backend_sphinx.stream_free(NULL);
    asr_backend_sphinx.destroy(st);
}

/* ---- threads ------------------------------------------------------------------------------ */

#define N_THREADS 4
#define N_ROUNDS 3

typedef struct churner {
    sphinx_state *st;
    const float *pcm;
    size_t n;
    int rc;
} churner;

/* Open a stream, decode a piece of speech (ending mid-utterance every other round, so
 * the pool ends it), free it; several rounds. */
static void *churn(void *arg)
{
    churner *c = arg;
    for (int r = 0; r < N_ROUNDS && c->rc == 0; r++) {
        void *s = NULL;
        int rc = asr_backend_sphinx.stream_new(c->st, &s);
        if (rc == 0)
            rc = asr_backend_sphinx.stream_feed(s, c->pcm, c->n);
        const char *partial = NULL;
        if (rc == 0)
            rc = asr_backend_sphinx.stream_partial(s, &partial);
        if (rc == 0 && r % 2 == 0)
            rc = asr_backend_sphinx.stream_flush(s);
        asr_backend_sphinx.stream_free(s);
        c->rc = rc;
    }
    return NULL;
}

/* N_THREADS threads take and give back decoders at once: no errors (and nothing for the
 * sanitizers), and since at most N_THREADS streams are open at a time and the pool keeps
 * SPHINX_POOL_KEEP >= N_THREADS, no more than N_THREADS decoders are ever created. */
TEST(threads_create_and_free_streams_concurrently)
{
    size_t n = 0;
    float *pcm = check_load_speech("utt_00_kal16.wav", &n);
    if (n > RATE)
        n = RATE; /* a second of it: the pool, not the decoding, is under test */
    sphinx_state *st = state_new();
    churner c[N_THREADS];
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        c[i] = (churner){st, pcm, n, 0};
        ASSERT_EQ(pthread_create(&th[i], NULL, churn, &c[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N_THREADS; i++)
        ASSERT_OK(c[i].rc);
    uint64_t created = n_created(st);
    fprintf(stderr, "%d threads x %d streams: %llu decoders created\n", N_THREADS, N_ROUNDS,
            (unsigned long long)created);
    ASSERT_TRUE(created >= 1 && created <= N_THREADS);
    ASSERT_EQ(n_idle(st), (int)created);
    asr_backend_sphinx.destroy(st);
    free(pcm);
}

/* ---- the public call ------------------------------------------------------------------------ */

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* Argument errors; a warmed recognizer's streams open without creating a decoder (here
 * through the public API, measured as process CPU: a new decoder costs far more than a
 * pooled one). */
TEST(warm_streams_public_call)
{
    ASSERT_EQ(sotto_asr_warm_streams(NULL, 1), SOTTO_EINVAL);
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", NULL, &asr));
    ASSERT_EQ(sotto_asr_warm_streams(asr, -1), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "-1 stream decoders");
    ASSERT_EQ(sotto_asr_warm_streams(asr, SOTTO_ASR_WARM_MAX + 1), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_warm_streams(asr, 0), 0);

    sotto_asr_stream *s = NULL;
    double c0 = cpu_now();
    ASSERT_OK(sotto_asr_stream_new(asr, &s));
    double cpu_new = cpu_now() - c0;
    sotto_asr_stream_free(s);
    ASSERT_EQ(sotto_asr_warm_streams(asr, 2), 1); /* the freed stream's decoder is one */
    ASSERT_EQ(sotto_asr_warm_streams(asr, 2), 0);
    c0 = cpu_now();
    ASSERT_OK(sotto_asr_stream_new(asr, &s));
    double cpu_pooled = cpu_now() - c0;
    fprintf(stderr, "stream_new CPU: new decoder %.3f s, pooled %.6f s\n", cpu_new, cpu_pooled);
    ASSERT_TRUE(cpu_pooled * 20 < cpu_new);
    sotto_asr_stream_free(s);
    sotto_asr_free(asr);
}

/* Whisper streams have no decoder of their own: warming is 0 and does nothing. */
TEST(warm_streams_is_a_no_op_for_whisper)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/small.bin", check_tmpdir());
    whisper_hparams hp = whisper_test_small_hparams(51865, 64);
    ASSERT_OK(whisper_model_write_random(&hp, NN_F32, 11, path));
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = path;
    o.n_threads = 1;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &o, &asr));
    ASSERT_EQ(sotto_asr_warm_streams(asr, 4), 0);
    ASSERT_EQ(sotto_asr_warm_streams(asr, -1), SOTTO_EINVAL);
    sotto_asr_free(asr);
}
