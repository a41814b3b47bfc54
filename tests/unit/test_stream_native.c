/* test_stream_native.c - the native policy (PocketSphinx streaming by itself) on a long
 * synthesized stream: finals WER against batch recognition of the same audio, word latency
 * with early commit, threaded vs synchronous finals, and load shedding. The fixtures are in
 * stream_test_fixtures.h. */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "check.h"
#include "whisper_test_fixtures.h"
#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "sotto/stream.h"
#include "sotto/text.h"
#include "stream/stream_int.h"
#include "stream_test_fixtures.h"

/* A measurement (label measure): under the sanitizers the same code runs in
 * threaded_same_finals_as_sync (whole-utterance pass, sync and threaded). */
TEST(native_wer_matches_batch) /* labels: measure */
{
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 8, 1.0);
    double wb = batch_wer(asr, &ls);
    sotto_stream_options o;
    sotto_stream_options_init(&o); /* auto = native for sphinx */
    collect c;
    collect_init(&c);
    sotto_stream_stats st;
    double cpu0 = cpu_s();
    run_stream(asr, &o, ls.pcm, ls.n, 640, &c, &st);
    double cpu = cpu_s() - cpu0;
    double ws = stream_wer(&ls, &c);
    double lat_mean = 0, lat_p95 = 0;
    latency_stats(&c, &lat_mean, &lat_p95);
    fprintf(stderr, "native: %.1f s audio, stream WER %.2f%% batch WER %.2f%%, %d finals, "
                    "updates %lld (no VAD %lld), voiced %.1f s, rtf %.3f, cpu %.3f s per audio s, "
                    "word latency (audio fed) mean %.2f s p95 %.2f s over %d words\n",
            (double)ls.n / RATE, 100 * ws, 100 * wb, c.n_finals, (long long)st.updates,
            (long long)st.updates_no_vad, st.voiced_s, st.rtf, cpu / ((double)ls.n / RATE),
            lat_mean, lat_p95, c.n_lat);
    check_append_only(&c, 8);
    ASSERT_TRUE(ws <= wb + 0.015);
    /* one final per utterance, committed at its end (after the VAD's 0.5 s hangover) */
    ASSERT_EQ(c.n_finals, 8);
    ASSERT_TRUE(lat_mean >= 0.5);
    ASSERT_TRUE(st.voiced_s < st.audio_s * 0.9);
    ASSERT_NEAR(st.audio_s, (double)ls.n / RATE, 1e-6);
    free(ls.pcm);
    sotto_asr_free(asr);
}

/* Early commit: once a first-pass word is committable a whole-prefix pass is checked
 * against the first pass (and the previous prefix pass); words they agree on are published
 * mid-utterance. The same stream as above; latency = audio fed when a word's final was
 * emitted minus the word's end (computation left out: the test feeds as fast as it can). */
/* A measurement (label measure): under the sanitizers the same code runs in
 * native_early_commit_threaded_same_as_sync (prefix passes from the speech start,
 * agreement, commits, the final pass) and native_early_commit_skips_passes_when_behind. */
TEST(native_early_commit_latency) /* labels: measure */
{
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 8, 1.0);
    collect bw;
    collect_init(&bw);
    double wb = batch_wer_words(asr, &ls, &bw);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    collect c;
    collect_init(&c);
    sotto_stream_stats st;
    early_commit = 1;
    double cpu0 = cpu_s();
    run_stream(asr, &o, ls.pcm, ls.n, 640, &c, &st);
    double cpu = cpu_s() - cpu0;
    early_commit = 0;
    double ws = stream_wer(&ls, &c);
    double lat_mean = 0, lat_p95 = 0;
    latency_stats(&c, &lat_mean, &lat_p95);
    fprintf(stderr, "native early commit: stream WER %.2f%% batch WER %.2f%%, %d finals, "
                    "updates %lld, rtf %.3f, cpu %.3f s per audio s, "
                    "word latency (audio fed) mean %.2f s p95 %.2f s over %d words\n",
            100 * ws, 100 * wb, c.n_finals, (long long)st.updates, st.rtf,
            cpu / ((double)ls.n / RATE), lat_mean, lat_p95, c.n_lat);
    check_append_only(&c, 8);
    /* words come mid-utterance: more finals than utterances, far sooner than at the
     * utterance end (1.9 s mean there); measured 0.60-0.62 s mean, 0.82-0.92 s p95 (a pass every
     * 0.6 s instead of once a word is committable: 0.70 / 1.07 s) */
    ASSERT_TRUE(c.n_finals > 8);
    ASSERT_TRUE(lat_mean <= 0.8);
    ASSERT_TRUE(lat_p95 <= 1.2);
    /* the prefix passes keep the first pass's errors out of the finals: the bound
     * (measured: the same WER as the default whole-utterance finals) */
    ASSERT_TRUE(ws <= wb + 0.015);
    /* the prefix passes decode from just before the speech, not from the pre-roll's start:
     * their words still carry stream times (measured: 78 of 81 at the batch words' times) */
    int same = words_at_same_times(&c, &bw, 0.1);
    fprintf(stderr, "native early commit: %d of %d words at a batch word's start (+-0.1 s)\n", same, c.n_words);
    ASSERT_TRUE(same >= 0.9 * c.n_words);
    free(ls.pcm);
    sotto_asr_free(asr);
}

TEST(native_early_commit_threaded_same_as_sync)
{
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 2, 1.0); /* 2: the prefix passes make it slow under sanitizers */
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    collect a, b;
    collect_init(&a);
    collect_init(&b);
    early_commit = 1;
    run_stream(asr, &o, ls.pcm, ls.n, 640, &a, NULL);
    o.threaded = 1;
    /* the worker takes whatever waits: updates of any size; the hypothesis is still read
     * at the same points of each utterance */
    run_stream(asr, &o, ls.pcm, ls.n, 1600, &b, NULL);
    early_commit = 0;
    ASSERT_TRUE(a.n_finals > 2);
    ASSERT_STR_EQ(b.finals, a.finals);
    ASSERT_EQ(b.n_finals, a.n_finals);
    ASSERT_EQ(b.bad_order, 0);
    ASSERT_EQ(b.repeated, 0);
    free(ls.pcm);
    sotto_asr_free(asr);
}

/* Early commit with shed_load: a threaded stream fed far faster than real time (the whole
 * stream at once) is behind at every batch, so it skips the prefix passes (they would only
 * add compute to a stream that is already late) while the backlog stays under
 * max_backlog_s, where nothing is shed yet: one whole-utterance final per utterance, the
 * same as without early commit. */
TEST(native_early_commit_skips_passes_when_behind)
{
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 2, 1.0);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    o.threaded = 1;
    o.shed_load = 1;
    o.max_backlog_s = 3600.0f; /* never shed: only the pass gate acts */
    collect plain, early;
    collect_init(&plain);
    collect_init(&early);
    sotto_stream_stats sp, se;
    run_stream(asr, &o, ls.pcm, ls.n, (size_t)ls.n, &plain, &sp);
    early_commit = 1;
    run_stream(asr, &o, ls.pcm, ls.n, (size_t)ls.n, &early, &se);
    early_commit = 0;
    ASSERT_EQ(se.shed_utterances, 0);
    ASSERT_EQ(early.n_finals, 2);
    ASSERT_STR_EQ(early.finals, plain.finals);
    ASSERT_EQ(se.updates, sp.updates); /* not one prefix pass */
    free(ls.pcm);
    sotto_asr_free(asr);
}

TEST(threaded_same_finals_as_sync)
{
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 4, 1.0);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    o.policy = SOTTO_POLICY_NATIVE;
    collect a, b;
    collect_init(&a);
    collect_init(&b);
    run_stream(asr, &o, ls.pcm, ls.n, 640, &a, NULL);
    o.threaded = 1;
    sotto_stream_stats st;
    run_stream(asr, &o, ls.pcm, ls.n, 1600, &b, &st);
    ASSERT_STR_EQ(b.finals, a.finals);
    ASSERT_EQ(b.n_finals, a.n_finals);
    ASSERT_EQ(b.bad_order, 0);
    ASSERT_TRUE(!pthread_equal(b.thread, pthread_self())); /* events from the worker */
    ASSERT_EQ(st.backlog_s, 0);
    ASSERT_EQ(st.degraded, 0);
    free(ls.pcm);
    sotto_asr_free(asr);
}

/* shed_load: a threaded stream fed far faster than it is recognized (the whole stream at
 * once, as a machine that cannot keep up sees it) drops the whole-utterance pass and takes
 * the live decoder's finals; the finals stay append-only, one per utterance, within a few
 * points of batch; without shed_load nothing is shed. */
TEST(native_sheds_load_when_behind)
{
    sotto_asr *asr = sphinx_new();
    shed_pair p;
    run_shed_pair(asr, &p, 1.0, 1600);
    double ws = stream_wer(&p.ls, &p.shed);
    fprintf(stderr, "shed_load: %lld of 4 utterances from the live decoder, WER %.2f%% (batch %.2f%%, "
                    "not shed %.2f%%), compute %.2f s (not shed %.2f s)\n",
            (long long)p.ss.shed_utterances, 100 * ws, 100 * p.wb, 100 * stream_wer(&p.ls, &p.full),
            p.ss.compute_s, p.sf.compute_s);
    ASSERT_EQ(p.sf.shed_utterances, 0);
    ASSERT_TRUE(p.ss.shed_utterances >= 2);
    /* append-only finals, one per utterance (no partials: the worker takes the backlog
     * in one batch and defers mid-utterance updates to its end) */
    ASSERT_EQ(p.shed.bad_order, 0);
    ASSERT_EQ(p.shed.repeated, 0);
    ASSERT_EQ(p.shed.n_starts, 4);
    ASSERT_EQ(p.shed.n_finals, 4);
    ASSERT_TRUE(ws <= p.wb + 0.10);
    /* fewer recognizer calls: no whole-utterance pass for the shed utterances */
    ASSERT_TRUE(p.ss.updates < p.sf.updates);
    free(p.ls.pcm);
    sotto_asr_free(asr);
}

static void count_finals(void *user, const sotto_stream_event *ev)
{
    if (ev->type == SOTTO_STREAM_FINAL)
        ++*(int *)user;
}

/* Compute slots give way to a stuck holder: with one slot, a stream whose event callback
 * blocks for 10 s (a client that stopped reading) holds the slot, and another stream still
 * finishes while it is blocked (the waiters run over the limit once no slot has changed
 * hands for a second). */
TEST(slots_give_way_to_a_stuck_stream)
{
    ASSERT_OK(setenv("SOTTO_STREAM_SLOTS", "1", 1)); /* read by the first threaded stream */
    sotto_asr *asr = sphinx_new();
    long_stream ls;
    build_stream(&ls, 1, 1.0);
    sotto_stream_options o;
    sotto_stream_options_init(&o);
    o.threaded = 1;
    slow_first st = {0, 0, 10.0};
    int finals = 0;
    sotto_stream *stuck = NULL, *other = NULL;
    ASSERT_OK(sotto_stream_new(asr, &o, block_first_event, &st, &stuck));
    ASSERT_OK(sotto_stream_new(asr, &o, count_finals, &finals, &other));
    ASSERT_OK(sotto_stream_feed(stuck, ls.pcm, ls.n));
    wait_first_blocked(&st); /* the stuck stream holds the slot now */
    double t0 = time_now();
    ASSERT_OK(sotto_stream_feed(other, ls.pcm, ls.n));
    ASSERT_OK(sotto_stream_finish(other));
    fprintf(stderr, "slots: the other stream finished %.2f s after the holder got stuck for 10 s\n",
            time_now() - t0);
    ASSERT_EQ(finals, 1);
    ASSERT_EQ(atomic_load(&st.released), 0); /* it did not wait for the stuck one */
    ASSERT_OK(sotto_stream_finish(stuck));
    sotto_stream_free(stuck);
    sotto_stream_free(other);
    free(ls.pcm);
    sotto_asr_free(asr);
}
