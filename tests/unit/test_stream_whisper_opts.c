/* test_stream_whisper_opts.c - how a stream's Whisper calls decode: live local_agreement
 * updates (and the generic stream's partials) decode greedily, one sequence at temperature
 * 0 without the fallback ladder, while the pass at an utterance's end keeps the
 * recognizer's own options (beam 5, best_of 5, fallback). Checked on random-weight
 * models (whisper_test_fixtures.h): the live partial is word for word a greedy
 * transcription of the buffer and differs from the recognizer's beam search, the final is
 * word for word the recognizer's; and the decoder work of one update both ways with the
 * server's options, counted in decoder tokens (a random model never says end-of-text, so
 * every decode runs to the token limit, and the full search fails the compression-ratio
 * check and climbs the whole ladder). The CPU seconds: tests/tools/stream_update_cost.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr_int.h"
#include "asr/whisper/transcribe.h"
#include "asr/whisper/whisper_int.h"
#include "check.h"
#include "whisper_test_fixtures.h"
#include "sotto/asr.h"
#include "sotto/error.h"
#include "sotto/stream.h"
#include "stream/stream_int.h"

TEST(call_options_apply_decode)
{
    sotto_asr_options base;
    sotto_asr_options_init(&base);
    base.prompt = "base prompt";
    base.beam_size = 5;
    base.best_of = 4;
    base.temperature = 0.2f;
    base.no_fallback = 0;
    base.language = "en";
    sotto_asr_call call = {.prompt = "call prompt", .word_timestamps = 1};
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_options o;
    asr_call_options(&base, &call, &greedy, &o);
    ASSERT_STR_EQ(o.prompt, "call prompt");
    ASSERT_EQ(o.word_timestamps, 1);
    ASSERT_EQ(o.beam_size, 1);
    ASSERT_EQ(o.best_of, 1);
    ASSERT_TRUE(o.temperature == 0.0f);
    ASSERT_EQ(o.no_fallback, 1);
    ASSERT_STR_EQ(o.language, "en");
    asr_call_options(&base, NULL, NULL, &o); /* the recognizer's own */
    ASSERT_STR_EQ(o.prompt, "base prompt");
    ASSERT_EQ(o.word_timestamps, 0);
    ASSERT_EQ(o.beam_size, 5);
    ASSERT_EQ(o.best_of, 4);
    ASSERT_TRUE(o.temperature == 0.2f);
    ASSERT_EQ(o.no_fallback, 0);
}

/* ---- events of a synchronous stream ------------------------------------------------------- */
typedef struct events {
    char *partial;           /* the last non-empty partial */
    sotto_word words[512];   /* every final's words, in order (strings owned) */
    size_t n_words;
    int n_finals, n_partials;
} events;

static void on_event(void *user, const sotto_stream_event *ev)
{
    events *e = user;
    if (ev->type == SOTTO_STREAM_PARTIAL && ev->text && ev->text[0]) {
        free(e->partial);
        e->partial = strdup(ev->text);
        e->n_partials++;
    } else if (ev->type == SOTTO_STREAM_FINAL) {
        e->n_finals++;
        for (size_t i = 0; i < ev->n_words && e->n_words < 512; i++) {
            e->words[e->n_words] = ev->words[i];
            e->words[e->n_words++].word = strdup(ev->words[i].word ? ev->words[i].word : "");
        }
    }
}

static void events_free(events *e)
{
    free(e->partial);
    for (size_t i = 0; i < e->n_words; i++)
        free(e->words[i].word);
}

/* Every word of a transcript, in order (borrowed from tr). */
static size_t transcript_words(const sotto_transcript *tr, const sotto_word **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < tr->n_segments; i++)
        for (size_t j = 0; j < tr->segments[i].n_words && n < cap; j++)
            out[n++] = &tr->segments[i].words[j];
    return n;
}

/* The small test dims made cheaper still (32 wide, a 16-token context: 8 tokens per
 * decode), so that each test runs a few full searches in reasonable time under ASan. */
static whisper_hparams cheap_hparams(void)
{
    whisper_hparams hp = whisper_test_small_hparams(51865, 16);
    hp.n_audio_state = hp.n_text_state = 32;
    return hp;
}

/* The recognizer's options on the model at path: the server's (beam and best_of default to
 * 5, temperature fallback on), or with ladder = 0 the same beam search without the
 * fallback ladder (the plumbing tests: cheaper under ASan, and still not greedy). */
static void recognizer_options(const char *path, int threads, int ladder, sotto_asr_options *ao)
{
    sotto_asr_options_init(ao);
    ao->no_fallback = !ladder;
    ao->model_path = path;
    ao->language = "en";
    ao->n_threads = threads;
    ao->word_timestamps = 1;
}

/* A random model of dims hp named name in the test's directory, written once; the path
 * (static: one model per test at a time). */
static const char *random_model(const whisper_hparams *hp, const char *name)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", check_tmpdir(), name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        ASSERT_OK(whisper_model_write_random(hp, NN_F32, 11, path));
    return path;
}

/* A recognizer with those options on a random model of dims hp. */
static sotto_asr *random_whisper(const whisper_hparams *hp, const char *name, int threads, int ladder)
{
    sotto_asr_options ao;
    recognizer_options(random_model(hp, name), threads, ladder, &ao);
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &ao, &asr));
    return asr;
}

TEST(local_agreement_live_updates_greedy_final_full)
{
    whisper_hparams hp = cheap_hparams();
    sotto_asr *asr = random_whisper(&hp, "small", 2, 0);
    size_t n;
    float *pcm = whisper_test_speech(1.6, 5, &n);

    sotto_stream_options so;
    sotto_stream_options_init(&so);
    so.policy = SOTTO_POLICY_LOCAL_AGREEMENT;
    so.use_vad = 0;          /* every sample reaches the buffer: the buffer is pcm */
    so.min_chunk_s = 1.0f;   /* one live update after 1 s, the final one at finish */
    events ev;
    memset(&ev, 0, sizeof ev);
    sotto_stream *st = NULL;
    ASSERT_OK(sotto_stream_new(asr, &so, on_event, &ev, &st));
    size_t n_live = 16000; /* the first update sees exactly this much */
    ASSERT_OK(sotto_stream_feed(st, pcm, n_live));
    ASSERT_EQ(ev.n_finals, 0); /* one hypothesis agrees with nothing yet */
    ASSERT_TRUE(ev.partial != NULL);
    char *live = strdup(ev.partial);
    ASSERT_OK(sotto_stream_feed(st, pcm + n_live, n - n_live));
    ASSERT_OK(sotto_stream_finish(st));
    sotto_stream_stats stats;
    sotto_stream_get_stats(st, &stats);
    ASSERT_EQ(stats.updates, 2);

    /* the live partial is the greedy transcription of the first second ... */
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_call call = {.prompt = NULL, .word_timestamps = 1};
    sotto_transcript tg, tf, tall;
    sotto_transcript_init(&tg);
    sotto_transcript_init(&tf);
    sotto_transcript_init(&tall);
    ASSERT_OK(asr_transcribe_decode(asr, pcm, n_live, 0, &call, &greedy, &tg));
    ASSERT_OK(asr_transcribe_decode(asr, pcm, n_live, 0, &call, NULL, &tf));
    const sotto_word *wg[512], *wf[512], *wa[512];
    size_t ng = transcript_words(&tg, wg, 512), nf = transcript_words(&tf, wf, 512);
    sotto_word *flat = calloc(ng + 1, sizeof *flat);
    ASSERT_TRUE(flat != NULL);
    for (size_t i = 0; i < ng; i++)
        flat[i] = *wg[i];
    char *want = NULL;
    ASSERT_OK(la_words_join(flat, ng, &want));
    ASSERT_STR_EQ(live, want);
    /* ... which is not what the recognizer's beam search says (else this could not tell) */
    int same = ng == nf;
    for (size_t i = 0; same && i < ng; i++)
        same = la_word_eq(wg[i]->word, wf[i]->word);
    ASSERT_TRUE(!same);
    fprintf(stderr, "live (greedy): %zu words; the recognizer's beam search: %zu words\n", ng, nf);

    /* the final pass (utterance end) is the recognizer's own search of the whole buffer */
    ASSERT_OK(asr_transcribe_decode(asr, pcm, n, 0, &call, NULL, &tall));
    size_t na = transcript_words(&tall, wa, 512);
    ASSERT_TRUE(na > 0);
    ASSERT_EQ(ev.n_words, na);
    for (size_t i = 0; i < na; i++) {
        ASSERT_TRUE(la_word_eq(ev.words[i].word, wa[i]->word));
        ASSERT_NEAR(ev.words[i].start, wa[i]->start, 1e-6);
    }

    free(flat);
    free(want);
    free(live);
    sotto_transcript_free(&tg);
    sotto_transcript_free(&tf);
    sotto_transcript_free(&tall);
    events_free(&ev);
    sotto_stream_free(st);
    free(pcm);
    sotto_asr_free(asr);
}

TEST(generic_stream_partial_greedy_flush_full)
{
    whisper_hparams hp = cheap_hparams();
    sotto_asr *asr = random_whisper(&hp, "small", 2, 0);
    size_t n;
    float *pcm = whisper_test_speech(1.2, 6, &n);
    sotto_asr_stream *st = NULL;
    ASSERT_OK(asr_stream_new_generic(asr, &st));
    ASSERT_OK(sotto_asr_stream_feed(st, pcm, n));
    const char *partial = NULL;
    ASSERT_OK(sotto_asr_stream_partial(st, &partial));
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_transcript tg, fin;
    sotto_transcript_init(&tg);
    sotto_transcript_init(&fin);
    ASSERT_OK(asr_transcribe_decode(asr, pcm, n, 0, NULL, &greedy, &tg));
    char *tg_text = sotto_transcript_text(&tg);
    ASSERT_STR_EQ(partial, tg_text);
    /* the flush is the final: the recognizer's own search, which says something else
     * (local_agreement_live_updates_greedy_final_full checks it word for word) */
    ASSERT_OK(sotto_asr_stream_flush(st));
    ASSERT_OK(sotto_asr_stream_take_finals(st, &fin));
    char *fin_text = sotto_transcript_text(&fin);
    ASSERT_TRUE(fin_text && fin_text[0] && strcmp(fin_text, tg_text) != 0);
    free(tg_text);
    free(fin_text);
    sotto_transcript_free(&tg);
    sotto_transcript_free(&fin);
    sotto_asr_stream_free(st);
    free(pcm);
    sotto_asr_free(asr);
}

/* ---- cost, counted ------------------------------------------------------------------------ */
/* The decoder work of one update's decode both ways, on a run state of the recognizer's own
 * model and options with what a stream's calls change (asr_call_options: greedy for a live
 * update, the recognizer's search at the end): tokens fed to the decoder, decoder calls and
 * windows encoded (whisper_runner_stats). Counts, not CPU seconds: the same on any machine,
 * loaded or not, and under the sanitizers; tools/stream_update_cost prints the CPU
 * seconds (rules: speed is measured in benchmarks, not timed tests). */
static void count_update(const whisper_hparams *hp, const char *name, const float *pcm, size_t n,
                         whisper_runner_stats *g, whisper_runner_stats *f)
{
    const char *path = random_model(hp, name);
    sotto_asr_options base;
    recognizer_options(path, 1, 1, &base);
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    whisper_runner *r = NULL;
    ASSERT_OK(whisper_model_load(path, &m));
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    ASSERT_OK(whisper_runner_new(m, tk, 1, whisper_runner_slots(&base), &r));
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_call call = {.prompt = "the words said so far", .word_timestamps = 1};
    for (int way = 0; way < 2; way++) {
        sotto_asr_options o;
        asr_call_options(&base, &call, way == 0 ? &greedy : NULL, &o);
        whisper_runner_stats s0, s1;
        whisper_runner_get_stats(r, &s0);
        sotto_transcript t;
        sotto_transcript_init(&t);
        ASSERT_OK(whisper_transcribe(r, &o, pcm, n, 0, &t));
        sotto_transcript_free(&t);
        whisper_runner_get_stats(r, &s1);
        whisper_runner_stats *d = way == 0 ? g : f;
        memset(d, 0, sizeof *d);
        d->n_windows = s1.n_windows - s0.n_windows;
        d->n_tokens = s1.n_tokens - s0.n_tokens;
        d->n_decode_calls = s1.n_decode_calls - s0.n_decode_calls;
    }
    whisper_runner_free(r);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
}

/* Count one update both ways on seconds of audio and check the greedy one is the far
 * cheaper: over 10x fewer decoder tokens, over 3x fewer decoder calls (batched beams
 * share a call). Measured: 20.7x / 12.6x (16-token context), 40.5x / 9.0x (448). */
static void check_update_counts(const whisper_hparams *hp, const char *name, double seconds)
{
    size_t n;
    float *pcm = whisper_test_speech(seconds, 7, &n);
    whisper_runner_stats g, f;
    count_update(hp, name, pcm, n, &g, &f);
    fprintf(stderr, "%d-token context, %.1f s buffer: greedy %lld tokens in %d calls (%d windows), full "
                    "search %lld tokens in %d calls (%d windows): %.1fx the tokens\n", hp->n_text_ctx, seconds,
            g.n_tokens, g.n_decode_calls, g.n_windows, f.n_tokens, f.n_decode_calls, f.n_windows,
            (double)f.n_tokens / (double)g.n_tokens);
    ASSERT_TRUE(g.n_windows >= 1 && g.n_tokens > 0);
    ASSERT_TRUE(f.n_tokens > 10 * g.n_tokens);
    ASSERT_TRUE(f.n_decode_calls > 3 * g.n_decode_calls);
    free(pcm);
}

/* A live update decodes one greedy sequence; the final pass runs the recognizer's beam
 * search (5 beams) and, as a random model's output fails the compression-ratio check, the
 * whole temperature ladder (5 samples at each of 5 more temperatures): many times the
 * decoder tokens. Counted on the cheap dims (8 tokens per decode) and 1 s of audio (the
 * counts need no more; fewer windows than 3 s). */
TEST(update_decodes_far_fewer_tokens_greedy_than_full)
{
    whisper_hparams hp = cheap_hparams();
    check_update_counts(&hp, "small", 1.0);
}

/* The same with Whisper tiny's real 448-token context (224 tokens per decode), where the
 * decoder dominates an update; counts do not depend on the width, so the cheap width does
 * (1 s of audio: fewer windows). Still ~21 s of CPU in a release build (the search's
 * softmax over the 51865-token vocabulary, 20k times): "tiny" in the name labels it slow
 * (skipped by the sanitizer pass), as the CPU-timed test on tiny's full dims it replaces. */
TEST(update_decodes_far_fewer_tokens_greedy_than_full_tiny_ctx)
{
    whisper_hparams hp = cheap_hparams();
    hp.n_text_ctx = 448;
    check_update_counts(&hp, "ctx448", 1.0);
}
