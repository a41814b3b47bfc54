/*
 * test_whisper_multi.c - whisper_decode_multi (one pass over rows attending to different
 * windows) against separate whisper_decode calls, and the step batcher (concurrent
 * threads' steps batched into whisper_decode_multi passes) against solo calls, on
 * random-weight models of small custom dims (tests/unit/whisper_test_fixtures.h);
 * bad arguments refused with a message.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "asr/whisper/simul.h"
#include "base/base_int.h"
#include "check.h"
#include "sotto/error.h"
#include "whisper_test_fixtures.h"
#include "check_whisper.h"

#define MAX_ROWS 8
#define MAX_WIN 3

static whisper_model *small_model(nn_type wtype)
{
    return check_whisper_small_model("multi", wtype, 64, 31);
}

/* Window w: a structured log-mel different for every w. */
static whisper_state *encoded_state(const whisper_model *m, int n_threads, int w)
{
    return check_whisper_encoded(m, n_threads, w);
}

/* n_rows rows spread over n_win windows (row i on window i % n_win), primed to different
 * lengths, then two multi steps, each compared (logits and cross-attention) with
 * whisper_decode on a copy of the same cache and the row's own state. */
static void check_multi(const whisper_model *m, whisper_state **win, int n_win, int n_rows)
{
    const size_t V = (size_t)m->hp.n_vocab;
    const size_t LHA = (size_t)m->hp.n_text_layer * m->hp.n_text_head * m->hp.n_audio_ctx;
    whisper_state *sts[MAX_ROWS];
    whisper_kv *kv[MAX_ROWS], *ref[MAX_ROWS];
    int32_t tok[MAX_ROWS];
    int pos[MAX_ROWS];
    float *attn[MAX_ROWS];
    float *lb = malloc(sizeof *lb * V * MAX_ROWS), *ls = malloc(sizeof *ls * V);
    float *as = malloc(sizeof *as * LHA);
    ASSERT_TRUE(lb && ls && as);
    for (int i = 0; i < n_rows; i++) {
        sts[i] = win[i % n_win];
        ASSERT_OK(whisper_kv_new(m, &kv[i]));
        ASSERT_OK(whisper_kv_new(m, &ref[i]));
        pos[i] = check_whisper_prime(sts[i], kv[i], i, ls);
        tok[i] = (int32_t)(1000 + 37 * i);
        /* every other row asks for its attention weights */
        attn[i] = i % 2 == 0 ? malloc(sizeof(float) * LHA) : NULL;
    }
    const double bound = check_whisper_batch_bound(m->wtype);
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < n_rows; i++)
            whisper_kv_copy(ref[i], kv[i]);
        /* step 1 without attention: one window then takes the all-rows attention path */
        float *const *want = step == 0 ? attn : NULL;
        ASSERT_OK(whisper_decode_multi(sts, kv, tok, pos, n_rows, lb, want));
        for (int i = 0; i < n_rows; i++) {
            ASSERT_EQ(kv[i]->n, pos[i] + 1);
            ASSERT_OK(whisper_decode(sts[i], ref[i], &tok[i], 1, pos[i], ls, as));
            double e = whisper_test_rel_err(lb + (size_t)i * V, ls, V);
            if (e > bound)
                CHECK_FAIL("%s, %d rows over %d windows, step %d, row %d: logits rel err %g",
                           nn_type_name(m->wtype), n_rows, n_win, step, i, e);
            if (want && attn[i] && whisper_test_rel_err(attn[i], as, LHA) > bound)
                CHECK_FAIL("%s, %d rows, row %d: attention rel err %g", nn_type_name(m->wtype), n_rows, i,
                           whisper_test_rel_err(attn[i], as, LHA));
        }
        for (int i = 0; i < n_rows; i++) {
            pos[i]++;
            tok[i] = (int32_t)((tok[i] * 7 + 11) % 50000);
        }
    }
    for (int i = 0; i < n_rows; i++) {
        whisper_kv_free(kv[i]);
        whisper_kv_free(ref[i]);
        free(attn[i]);
    }
    free(lb);
    free(ls);
    free(as);
}

static void check_multi_type(nn_type wtype, int n_threads)
{
    whisper_model *m = small_model(wtype);
    whisper_state *win[MAX_WIN];
    for (int w = 0; w < MAX_WIN; w++)
        win[w] = encoded_state(m, n_threads, w);
    for (int n_win = 1; n_win <= MAX_WIN; n_win++)
        for (int n_rows = 1; n_rows <= MAX_ROWS; n_rows++)
            check_multi(m, win, n_win, n_rows);
    for (int w = 0; w < MAX_WIN; w++)
        whisper_state_free(win[w]);
    whisper_model_free(m);
}

TEST(multi_equals_single_f16)
{
    check_multi_type(NN_F16, 2);
}

TEST(multi_equals_single_q8_0)
{
    check_multi_type(NN_Q8_0, 2);
}

/* A different window must change the result: the rows really read their own states. */
TEST(multi_rows_see_their_own_window)
{
    whisper_model *m = small_model(NN_F16);
    whisper_state *a = encoded_state(m, 1, 0), *b = encoded_state(m, 1, 1);
    const size_t V = (size_t)m->hp.n_vocab;
    whisper_kv *k1 = NULL, *k2 = NULL;
    ASSERT_OK(whisper_kv_new(m, &k1));
    ASSERT_OK(whisper_kv_new(m, &k2));
    float *l = malloc(sizeof *l * V * 2);
    ASSERT_TRUE(l != NULL);
    whisper_state *sts[2] = {a, b};
    whisper_kv *kvs[2] = {k1, k2};
    int32_t tok[2] = {50258, 50258};
    int pos[2] = {0, 0};
    ASSERT_OK(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL));
    ASSERT_TRUE(whisper_test_rel_err(l, l + V, V) > 1e-3);
    whisper_kv_free(k1);
    whisper_kv_free(k2);
    free(l);
    whisper_state_free(a);
    whisper_state_free(b);
    whisper_model_free(m);
}

TEST(multi_refuses_bad_input)
{
    whisper_model *m = small_model(NN_F16), *m2 = small_model(NN_F32);
    whisper_state *a = encoded_state(m, 1, 0), *other = encoded_state(m2, 1, 0), *raw = NULL;
    ASSERT_OK(whisper_state_new(m, 1, &raw));
    whisper_kv *k1 = NULL, *k2 = NULL;
    ASSERT_OK(whisper_kv_new(m, &k1));
    ASSERT_OK(whisper_kv_new(m, &k2));
    float *l = malloc(sizeof *l * (size_t)m->hp.n_vocab * 2);
    whisper_state *sts[2] = {a, a};
    whisper_kv *kvs[2] = {k1, k2};
    int32_t tok[2] = {1, 2};
    int pos[2] = {0, 0};
    ASSERT_EQ(whisper_decode_multi(NULL, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 0, l, NULL), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, WHISPER_MAX_BATCH + 1, l, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "rows") != NULL);
    sts[1] = raw; /* not encoded */
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "row 1") != NULL);
    sts[1] = other; /* another model */
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    sts[1] = a;
    kvs[1] = k1; /* shared cache */
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "share") != NULL);
    kvs[1] = k2;
    pos[1] = 5; /* past the cache */
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    pos[1] = 0;
    tok[0] = -1;
    ASSERT_EQ(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "vocabulary") != NULL);
    tok[0] = 1;
    ASSERT_EQ(k1->n, 0); /* refused calls change nothing */
    ASSERT_OK(whisper_decode_multi(sts, kvs, tok, pos, 2, l, NULL));
    whisper_batcher *bt = NULL;
    ASSERT_EQ(whisper_batcher_new(m, 0, &bt), SOTTO_EINVAL);
    ASSERT_OK(whisper_batcher_new(m, 4, &bt));
    ASSERT_EQ(whisper_batcher_step(bt, raw, k1, 1, 1, l, NULL), SOTTO_EINVAL);
    ASSERT_EQ(whisper_batcher_step(bt, other, k1, 1, 1, l, NULL), SOTTO_EINVAL);
    ASSERT_EQ(whisper_batcher_step(bt, a, k1, 1, 9, l, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(strstr(sotto_last_error(), "position 9") != NULL);
    whisper_batcher_free(bt);
    whisper_batcher_free(NULL);
    whisper_kv_free(k1);
    whisper_kv_free(k2);
    free(l);
    whisper_state_free(a);
    whisper_state_free(raw);
    whisper_state_free(other);
    whisper_model_free(m);
    whisper_model_free(m2);
}

/* ---- the batcher ------------------------------------------------------------------------ */

#define N_THREADS 4
#define N_STEPS 24

typedef struct worker {
    whisper_batcher *bt;
    const whisper_model *m;
    whisper_state *st;
    whisper_kv *kv;
    float *logits; /* (N_STEPS, n_vocab) every step's logits */
    float *attn;   /* the last step's attention */
    pthread_barrier_t *start; /* all threads begin together */
    int32_t first;
    int rc;
} worker;

/* A greedy chain: each step feeds the argmax of the previous one. */
static int32_t argmax_of(const float *x, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return (int32_t)b;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const size_t V = (size_t)w->m->hp.n_vocab;
    int32_t tok = w->first;
    pthread_barrier_wait(w->start);
    whisper_batcher_join(w->bt); /* a run of steps: leaders wait for the others' */
    for (int s = 0; s < N_STEPS && !w->rc; s++) {
        w->rc = whisper_batcher_step(w->bt, w->st, w->kv, tok, s, w->logits + (size_t)s * V,
                                     s == N_STEPS - 1 ? w->attn : NULL);
        tok = argmax_of(w->logits + (size_t)s * V, V);
    }
    whisper_batcher_leave(w->bt);
    return NULL;
}

TEST(batcher_threads_equal_solo)
{
    whisper_model *m = small_model(NN_F16);
    const size_t V = (size_t)m->hp.n_vocab;
    const size_t LHA = (size_t)m->hp.n_text_layer * m->hp.n_text_head * m->hp.n_audio_ctx;
    whisper_batcher *bt = NULL;
    ASSERT_OK(whisper_batcher_new(m, 8, &bt));
    worker w[N_THREADS];
    pthread_t th[N_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_THREADS);
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){.bt = bt, .m = m, .st = encoded_state(m, 2, i % MAX_WIN), .start = &start, .first = 50258 + i};
        ASSERT_OK(whisper_kv_new(m, &w[i].kv));
        w[i].logits = malloc(sizeof(float) * V * N_STEPS);
        w[i].attn = malloc(sizeof(float) * LHA);
        ASSERT_TRUE(w[i].logits && w[i].attn);
    }
    for (int i = 0; i < N_THREADS; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    uint64_t n_steps = 0, n_passes = 0;
    whisper_batcher_counts(bt, &n_steps, &n_passes);
    ASSERT_EQ(n_steps, (uint64_t)N_THREADS * N_STEPS);
    /* joined threads stepping together: their steps must share passes (typically all
     * N_THREADS in one; a descheduled thread costs the others one gather timeout) */
    if (!(n_passes < n_steps))
        CHECK_FAIL("%llu passes for %llu steps: nothing was batched", (unsigned long long)n_passes,
                   (unsigned long long)n_steps);
    printf("batcher: %llu steps in %llu passes\n", (unsigned long long)n_steps, (unsigned long long)n_passes);
    /* solo: the same chains one call at a time on fresh caches */
    float *ls = malloc(sizeof *ls * V), *as = malloc(sizeof *as * LHA);
    ASSERT_TRUE(ls && as);
    for (int i = 0; i < N_THREADS; i++) {
        ASSERT_OK(w[i].rc);
        whisper_kv *kv = NULL;
        ASSERT_OK(whisper_kv_new(m, &kv));
        int32_t tok = w[i].first;
        for (int s = 0; s < N_STEPS; s++) {
            ASSERT_OK(whisper_decode(w[i].st, kv, &tok, 1, s, ls, s == N_STEPS - 1 ? as : NULL));
            double e = whisper_test_rel_err(w[i].logits + (size_t)s * V, ls, V);
            if (e > 1e-5)
                CHECK_FAIL("thread %d step %d: rel err %g", i, s, e);
            tok = argmax_of(ls, V);
            ASSERT_EQ(tok, argmax_of(w[i].logits + (size_t)s * V, V));
        }
        ASSERT_TRUE(whisper_test_rel_err(w[i].attn, as, LHA) <= 1e-5);
        whisper_kv_free(kv);
    }
    for (int i = 0; i < N_THREADS; i++) {
        whisper_state_free(w[i].st);
        whisper_kv_free(w[i].kv);
        free(w[i].logits);
        free(w[i].attn);
    }
    free(ls);
    free(as);
    whisper_batcher_free(bt);
    whisper_model_free(m);
}

/* Alone, a caller leads its own pass: one pass per step. */
TEST(batcher_alone_runs_at_once)
{
    whisper_model *m = small_model(NN_F16);
    whisper_state *st = encoded_state(m, 1, 0);
    whisper_kv *kv = NULL;
    ASSERT_OK(whisper_kv_new(m, &kv));
    whisper_batcher *bt = NULL;
    ASSERT_OK(whisper_batcher_new(m, 8, &bt));
    float *l = malloc(sizeof *l * (size_t)m->hp.n_vocab);
    for (int s = 0; s < 5; s++)
        ASSERT_OK(whisper_batcher_step(bt, st, kv, 50258, s, l, NULL));
    uint64_t n_steps = 0, n_passes = 0;
    whisper_batcher_counts(bt, &n_steps, &n_passes);
    ASSERT_EQ(n_steps, 5);
    ASSERT_EQ(n_passes, 5);
    ASSERT_EQ(kv->n, 5);
    whisper_batcher_free(bt);
    whisper_kv_free(kv);
    free(l);
    whisper_state_free(st);
    whisper_model_free(m);
}

/* ---- align_att streams on one recognizer ---------------------------------------------- */

#define N_STREAMS 3

typedef struct stream_run {
    pthread_barrier_t *start; /* NULL when run alone */
    whisper_simul *s;
    const float *pcm;
    size_t n;
    char out[4096]; /* every update's tokens, words and partial */
    int rc;
} stream_run;

/* Two updates (1.5 s, then the whole 2.5 s as final) recorded as text. */
static void *stream_main(void *arg)
{
    stream_run *r = arg;
    r->out[0] = '\0';
    size_t len = 0;
    if (r->start)
        pthread_barrier_wait(r->start);
    const size_t ns[2] = {r->n * 3 / 5, r->n};
    for (int u = 0; u < 2 && !r->rc; u++) {
        asr_simul_call c = {.pcm = r->pcm, .n = ns[u], .t_offset = 10, .tau_frames = 4, .final = u == 1};
        asr_simul_out o;
        r->rc = whisper_simul_update(r->s, &c, &o);
        if (r->rc)
            break;
        int w = snprintf(r->out + len, sizeof r->out - len, "[%d %d|%s|", o.n_new_tokens, o.ended, o.partial);
        len += w > 0 && (size_t)w < sizeof r->out - len ? (size_t)w : 0;
        for (size_t i = 0; i < o.n_words; i++) {
            /* probabilities left out: batched and solo sums may differ in the last bit */
            w = snprintf(r->out + len, sizeof r->out - len, "%s@%.2f-%.2f ", o.words[i].word,
                         o.words[i].start, o.words[i].end);
            len += w > 0 && (size_t)w < sizeof r->out - len ? (size_t)w : 0;
        }
    }
    return NULL;
}

/* Streams of one recognizer updating at the same time on their own run states give what
 * each gives alone, and their decoder steps share passes. */
TEST(simul_streams_in_parallel_equal_alone)
{
    whisper_model *m = small_model(NN_F16);
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.language = "en";
    whisper_simul_run *shared = NULL;
    stream_run r[N_STREAMS];
    float *pcm[N_STREAMS];
    char alone[N_STREAMS][4096];
    for (int i = 0; i < N_STREAMS; i++) {
        memset(&r[i], 0, sizeof r[i]);
        pcm[i] = whisper_test_speech(2.5, 40 + (uint64_t)i, &r[i].n);
        r[i].pcm = pcm[i];
        ASSERT_OK(whisper_simul_new(m, tk, &o, 2, &shared, &r[i].s));
    }
    for (int i = 0; i < N_STREAMS; i++) {
        stream_main(&r[i]);
        ASSERT_OK(r[i].rc);
        memcpy(alone[i], r[i].out, sizeof alone[i]);
        whisper_simul_reset(r[i].s);
    }
    uint64_t steps0 = 0, passes0 = 0, steps1 = 0, passes1 = 0;
    whisper_simul_run_counts(shared, &steps0, &passes0);
    ASSERT_EQ(steps0, passes0); /* one at a time: every step its own pass */
    pthread_t th[N_STREAMS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N_STREAMS);
    for (int i = 0; i < N_STREAMS; i++) {
        r[i].start = &start;
        ASSERT_EQ(pthread_create(&th[i], NULL, stream_main, &r[i]), 0);
    }
    for (int i = 0; i < N_STREAMS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    whisper_simul_run_counts(shared, &steps1, &passes1);
    for (int i = 0; i < N_STREAMS; i++) {
        ASSERT_OK(r[i].rc);
        ASSERT_STR_EQ(r[i].out, alone[i]);
    }
    ASSERT_EQ(steps1 - steps0, steps0);
    printf("align_att: %llu steps in %llu passes alone, %llu passes together\n", (unsigned long long)steps0,
           (unsigned long long)passes0, (unsigned long long)(passes1 - passes0));
    ASSERT_TRUE(steps0 > 0);
    ASSERT_TRUE(passes1 - passes0 < steps0);
    for (int i = 0; i < N_STREAMS; i++) {
        whisper_simul_free(r[i].s);
        free(pcm[i]);
    }
    whisper_simul_run_free(shared);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
}
