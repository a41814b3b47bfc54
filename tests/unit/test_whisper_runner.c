/* test_whisper_runner.c - private whole-buffer run states (asr_runner, asr_int.h) on the
 * whisper backend: a private runner decodes exactly as the recognizer's shared, locked
 * run state (greedy live updates and the full utterance-end search), runners on several
 * threads decode at once without the recognizer lock (the test holds that lock the whole
 * time, so a runner that took it would never finish) and give what they give alone,
 * local_agreement streams on threads give the finals they give alone, and past the cap a
 * runner falls back to the shared run state. Random-weight models of small dims
 * (whisper_test_fixtures.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "asr/asr_int.h"
#include "asr/whisper/whisper_int.h"
#include "check.h"
#include "whisper_test_fixtures.h"
#include "sotto/asr.h"
#include "sotto/error.h"
#include "sotto/stream.h"

#define N_THREADS 3
#define MAX_WORDS 512

/* Cheap dims (32 wide, 16-token context) with the server's options: beam 5 / best_of 5
 * at the end of an utterance (no fallback ladder, to keep ASan runs short), word times. */
static sotto_asr *random_whisper(void)
{
    whisper_hparams hp = whisper_test_small_hparams(51865, 16);
    hp.n_audio_state = hp.n_text_state = 32;
    static char path[1024];
    snprintf(path, sizeof path, "%s/runner.bin", check_tmpdir());
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        ASSERT_OK(whisper_model_write_random(&hp, NN_F32, 13, path));
    sotto_asr_options ao;
    sotto_asr_options_init(&ao);
    ao.no_fallback = 1;
    ao.model_path = path;
    ao.language = "en";
    ao.n_threads = 2;
    ao.word_timestamps = 1;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &ao, &asr));
    return asr;
}

/* Same segments (text, times) and words (text, times, probability), bit for bit. */
static void assert_same_transcript(const sotto_transcript *a, const sotto_transcript *b)
{
    ASSERT_EQ(a->n_segments, b->n_segments);
    for (size_t i = 0; i < a->n_segments; i++) {
        const sotto_segment *x = &a->segments[i], *y = &b->segments[i];
        ASSERT_STR_EQ(x->text, y->text);
        ASSERT_TRUE(x->start == y->start && x->end == y->end);
        ASSERT_EQ(x->n_words, y->n_words);
        for (size_t j = 0; j < x->n_words; j++) {
            ASSERT_STR_EQ(x->words[j].word, y->words[j].word);
            ASSERT_TRUE(x->words[j].start == y->words[j].start && x->words[j].end == y->words[j].end);
            ASSERT_TRUE(x->words[j].probability == y->words[j].probability);
        }
    }
}

static const asr_decode greedy = ASR_DECODE_GREEDY;

TEST(private_runner_decodes_like_shared_locked_runner)
{
    sotto_asr *asr = random_whisper();
    size_t n;
    float *pcm = whisper_test_speech(1.5, 3, &n);
    asr_runner *r = NULL;
    ASSERT_OK(asr_runner_new(asr, &r));
    ASSERT_EQ(asr_runner_private(r), 1);
    sotto_asr_call call = {.prompt = "earlier words", .word_timestamps = 1};
    /* greedy (a live update), the recognizer's own search (utterance end), greedy again:
     * the runner's state left by one call must not change the next */
    for (int way = 0; way < 3; way++) {
        const asr_decode *dec = way == 1 ? NULL : &greedy;
        sotto_transcript mine, shared;
        sotto_transcript_init(&mine);
        sotto_transcript_init(&shared);
        ASSERT_OK(asr_runner_decode(r, pcm, n, 1.5, &call, dec, &mine));
        ASSERT_OK(asr_transcribe_decode(asr, pcm, n, 1.5, &call, dec, &shared));
        ASSERT_TRUE(shared.n_segments > 0);
        assert_same_transcript(&mine, &shared);
        sotto_transcript_free(&mine);
        sotto_transcript_free(&shared);
    }
    /* arguments: a bad offset is refused with a message; no samples decode to nothing */
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_EQ(asr_runner_decode(r, pcm, n, -1.0, NULL, NULL, &t), SOTTO_EINVAL);
    ASSERT_EQ(asr_runner_decode(NULL, pcm, n, 0, NULL, NULL, &t), SOTTO_EINVAL);
    ASSERT_OK(asr_runner_decode(r, pcm, 0, 0, NULL, NULL, &t));
    ASSERT_EQ(t.n_segments, 0);
    asr_runner_free(r);
    asr_runner_free(NULL);
    free(pcm);
    sotto_asr_free(asr);
}

/* ---- threads -------------------------------------------------------------------------- */

typedef struct job {
    asr_runner *r;
    const float *pcm;
    size_t n;
    sotto_transcript live, fin; /* a greedy and a full decode */
    int rc;
    atomic_int *done;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    sotto_asr_call call = {.word_timestamps = 1};
    j->rc = asr_runner_decode(j->r, j->pcm, j->n, 0, &call, &greedy, &j->live);
    if (!j->rc)
        j->rc = asr_runner_decode(j->r, j->pcm, j->n, 0, &call, NULL, &j->fin);
    atomic_fetch_add(j->done, 1);
    return NULL;
}

/* Wait up to 120 s for *done to reach want (a runner stuck on the held lock never would). */
static int wait_done(atomic_int *done, int want)
{
    for (int i = 0; i < 12000 && atomic_load(done) < want; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return atomic_load(done) == want;
}

TEST(concurrent_private_runners_match_alone_and_skip_recognizer_lock)
{
    sotto_asr *asr = random_whisper();
    float *pcm[N_THREADS];
    size_t n[N_THREADS];
    job jobs[N_THREADS], alone[N_THREADS]; /* the same runners, threaded and one at a time */
    atomic_int done;
    atomic_init(&done, 0);
    memset(jobs, 0, sizeof jobs);
    memset(alone, 0, sizeof alone);
    for (int i = 0; i < N_THREADS; i++) {
        pcm[i] = whisper_test_speech(1.0 + 0.2 * i, 20 + (uint64_t)i, &n[i]);
        ASSERT_OK(asr_runner_new(asr, &jobs[i].r));
        ASSERT_EQ(asr_runner_private(jobs[i].r), 1);
        alone[i].r = jobs[i].r;
        for (int k = 0; k < 2; k++) {
            job *j = k ? &jobs[i] : &alone[i];
            j->pcm = pcm[i], j->n = n[i], j->done = &done;
            sotto_transcript_init(&j->live);
            sotto_transcript_init(&j->fin);
        }
    }
    for (int i = 0; i < N_THREADS; i++) /* one at a time */
        run_job(&alone[i]);
    atomic_store(&done, 0);
    /* all at once, while the recognizer's lock is held by this thread */
    asr_test_hold_lock(asr, 1);
    pthread_t tid[N_THREADS];
    for (int i = 0; i < N_THREADS; i++)
        ASSERT_EQ(pthread_create(&tid[i], NULL, run_job, &jobs[i]), 0);
    int finished = wait_done(&done, N_THREADS);
    asr_test_hold_lock(asr, 0);
    ASSERT_TRUE(finished);
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(tid[i], NULL);
        ASSERT_OK(alone[i].rc);
        ASSERT_OK(jobs[i].rc);
        ASSERT_TRUE(alone[i].fin.n_segments > 0);
        assert_same_transcript(&jobs[i].live, &alone[i].live);
        assert_same_transcript(&jobs[i].fin, &alone[i].fin);
    }
    for (int i = 0; i < N_THREADS; i++) {
        for (int k = 0; k < 2; k++) {
            job *j = k ? &jobs[i] : &alone[i];
            sotto_transcript_free(&j->live);
            sotto_transcript_free(&j->fin);
        }
        asr_runner_free(jobs[i].r);
        free(pcm[i]);
    }
    sotto_asr_free(asr);
}

TEST(runners_past_cap_share_the_locked_run_state)
{
    sotto_asr *asr = random_whisper();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int cap = 2 * (int)(cores < 1 ? 1 : cores > 64 ? 64 : cores);
    asr_runner **rs = calloc((size_t)cap + 1, sizeof *rs);
    ASSERT_TRUE(rs != NULL);
    for (int i = 0; i < cap; i++) {
        ASSERT_OK(asr_runner_new(asr, &rs[i]));
        ASSERT_EQ(asr_runner_private(rs[i]), 1);
    }
    ASSERT_OK(asr_runner_new(asr, &rs[cap]));
    ASSERT_EQ(asr_runner_private(rs[cap]), 0);
    /* the shared one decodes like a private one */
    size_t n;
    float *pcm = whisper_test_speech(1.0, 9, &n);
    sotto_transcript a, b;
    sotto_transcript_init(&a);
    sotto_transcript_init(&b);
    ASSERT_OK(asr_runner_decode(rs[cap], pcm, n, 0, NULL, &greedy, &a));
    ASSERT_OK(asr_runner_decode(rs[0], pcm, n, 0, NULL, &greedy, &b));
    assert_same_transcript(&a, &b);
    /* a freed private runner makes room for the next */
    asr_runner_free(rs[0]);
    ASSERT_OK(asr_runner_new(asr, &rs[0]));
    ASSERT_EQ(asr_runner_private(rs[0]), 1);
    for (int i = 0; i <= cap; i++)
        asr_runner_free(rs[i]);
    free(rs);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
    free(pcm);
    sotto_asr_free(asr);
}

/* ---- local_agreement streams ---------------------------------------------------------- */

typedef struct la_run {
    sotto_asr *asr;
    const float *pcm;
    size_t n;
    sotto_word words[MAX_WORDS]; /* every final's words (strings owned) */
    size_t n_words;
    int n_finals, rc;
    atomic_int *done;
} la_run;

static void on_event(void *user, const sotto_stream_event *ev)
{
    la_run *l = user;
    if (ev->type != SOTTO_STREAM_FINAL)
        return;
    l->n_finals++;
    for (size_t i = 0; i < ev->n_words && l->n_words < MAX_WORDS; i++) {
        l->words[l->n_words] = ev->words[i];
        l->words[l->n_words++].word = strdup(ev->words[i].word ? ev->words[i].word : "");
    }
}

/* One stream fed in 0.6 s chunks (an update each: min_chunk_s) and finished. */
static void *run_stream(void *arg)
{
    la_run *l = arg;
    sotto_stream_options so;
    sotto_stream_options_init(&so);
    so.policy = SOTTO_POLICY_LOCAL_AGREEMENT;
    so.use_vad = 0;
    so.min_chunk_s = 0.6f;
    sotto_stream *st = NULL;
    l->rc = sotto_stream_new(l->asr, &so, on_event, l, &st);
    for (size_t p = 0; !l->rc && p < l->n; p += 9600)
        l->rc = sotto_stream_feed(st, l->pcm + p, l->n - p < 9600 ? l->n - p : 9600);
    if (!l->rc)
        l->rc = sotto_stream_finish(st);
    sotto_stream_free(st);
    if (l->done)
        atomic_fetch_add(l->done, 1);
    return NULL;
}

TEST(two_local_agreement_streams_threaded_give_their_finals_alone)
{
    sotto_asr *asr = random_whisper();
    la_run alone[2], both[2];
    float *pcm[2];
    size_t n[2];
    atomic_int done;
    atomic_init(&done, 0);
    memset(alone, 0, sizeof alone);
    memset(both, 0, sizeof both);
    for (int i = 0; i < 2; i++) {
        pcm[i] = whisper_test_speech(1.5, 40 + (uint64_t)i, &n[i]);
        alone[i] = (la_run){.asr = asr, .pcm = pcm[i], .n = n[i]};
        both[i] = (la_run){.asr = asr, .pcm = pcm[i], .n = n[i], .done = &done};
        run_stream(&alone[i]);
        ASSERT_OK(alone[i].rc);
        ASSERT_TRUE(alone[i].n_words > 0);
    }
    /* at once, the recognizer lock held: the streams' decodes must not need it */
    asr_test_hold_lock(asr, 1);
    pthread_t tid[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&tid[i], NULL, run_stream, &both[i]), 0);
    int finished = wait_done(&done, 2);
    asr_test_hold_lock(asr, 0);
    ASSERT_TRUE(finished);
    for (int i = 0; i < 2; i++) {
        pthread_join(tid[i], NULL);
        ASSERT_OK(both[i].rc);
        ASSERT_EQ(both[i].n_finals, alone[i].n_finals);
        ASSERT_EQ(both[i].n_words, alone[i].n_words);
        for (size_t k = 0; k < alone[i].n_words; k++) {
            ASSERT_STR_EQ(both[i].words[k].word, alone[i].words[k].word);
            ASSERT_TRUE(both[i].words[k].start == alone[i].words[k].start &&
                        both[i].words[k].end == alone[i].words[k].end);
        }
        fprintf(stderr, "stream %d: %d finals, %zu words, same threaded as alone\n", i, alone[i].n_finals,
                alone[i].n_words);
    }
    for (int i = 0; i < 2; i++) {
        for (size_t k = 0; k < alone[i].n_words; k++)
            free(alone[i].words[k].word);
        for (size_t k = 0; k < both[i].n_words; k++)
            free(both[i].words[k].word);
        free(pcm[i]);
    }
    sotto_asr_free(asr);
}
