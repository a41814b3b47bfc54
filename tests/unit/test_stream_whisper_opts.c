/* test_stream_whisper_opts.c - how a stream's Whisper calls decode: live local_agreement
 * updates (and the generic stream's partials) decode greedily, one sequence at temperature
 * 0 without the fallback ladder, while the pass at an utterance's end keeps the
 * recognizer's own options (beam 5, best_of 5, fallback). Checked on random-weight
 * models (whisper_test_fixtures.h): the live partial is word for word a greedy
 * transcription of the buffer and differs from the recognizer's beam search, the final is
 * word for word the recognizer's; and the CPU of one update both ways with the server's
 * options (a random model never says end-of-text, so every decode runs to the token limit,
 * and the full search fails the compression-ratio check and climbs the whole ladder). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "asr/asr_int.h"
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

/* A recognizer with the server's options (beam and best_of default to 5, temperature
 * fallback on), or with ladder = 0 the same beam search without the fallback ladder (the
 * plumbing tests: cheaper under ASan, and still not greedy). */
static sotto_asr *random_whisper(const whisper_hparams *hp, const char *name, int threads, int ladder)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s.bin", check_tmpdir(), name);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        ASSERT_OK(whisper_model_write_random(hp, NN_F32, 11, path));
    sotto_asr_options ao;
    sotto_asr_options_init(&ao);
    ao.no_fallback = !ladder;
    ao.model_path = path;
    ao.language = "en";
    ao.n_threads = threads;
    ao.word_timestamps = 1;
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

/* ---- cost ----------------------------------------------------------------------------------- */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of one update's decode both ways, interleaved (greedy, full, greedy, ...). */
static void measure(sotto_asr *asr, const float *pcm, size_t n, int reps, double *greedy_s, double *full_s)
{
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_call call = {.prompt = "the words said so far", .word_timestamps = 1};
    *greedy_s = *full_s = 0;
    /* a first call pages the weights in and makes the run state's scratch: not an update */
    sotto_transcript warm;
    sotto_transcript_init(&warm);
    ASSERT_OK(asr_transcribe_decode(asr, pcm, n / 4, 0, &call, &greedy, &warm));
    sotto_transcript_free(&warm);
    for (int r = 0; r < reps; r++) {
        for (int way = 0; way < 2; way++) {
            sotto_transcript t;
            sotto_transcript_init(&t);
            double c0 = cpu_s();
            ASSERT_OK(asr_transcribe_decode(asr, pcm, n, 0, &call, way == 0 ? &greedy : NULL, &t));
            *(way == 0 ? greedy_s : full_s) += (cpu_s() - c0) / reps;
            sotto_transcript_free(&t);
        }
    }
}

TEST(update_cpu_greedy_vs_full)
{
    whisper_hparams hp = cheap_hparams();
    sotto_asr *asr = random_whisper(&hp, "small", 1, 1); /* one thread: CPU = work */
    size_t n;
    float *pcm = whisper_test_speech(3.0, 7, &n);
    double g, f;
    measure(asr, pcm, n, 1, &g, &f);
    fprintf(stderr, "small random model, 3 s buffer: CPU per update %.3f s greedy, %.3f s full search "
                    "(%.1fx)\n", g, f, f / g);
    /* the encoder (the same both ways) weighs a lot at these dims and only 8 tokens fit
     * the 16-token context, yet the full search costs several times the greedy update
     * (6.6x under ASan); tiny's real dims below show the size of it */
    ASSERT_TRUE(f > 2.0 * g);
    free(pcm);
    sotto_asr_free(asr);
}

/* The same on Whisper tiny's real dimensions (448-token context: 224 tokens per decode);
 * "tiny" in the name labels it slow (skipped by the sanitizer pass). */
TEST(update_cpu_greedy_vs_full_tiny)
{
    whisper_hparams hp;
    ASSERT_OK(whisper_hparams_preset("tiny", 0, &hp));
    sotto_asr *asr = random_whisper(&hp, "tiny", 1, 1);
    size_t n;
    float *pcm = whisper_test_speech(3.0, 7, &n);
    double g, f;
    measure(asr, pcm, n, 1, &g, &f);
    fprintf(stderr, "tiny random model, 3 s buffer, 1 thread: CPU per update %.2f s greedy, %.2f s full "
                    "search (%.1fx)\n", g, f, f / g);
    /* a random model's timestamp tokens move the seek, so how many 30 s windows one decode
     * takes varies with its output (2.6x to 9x measured at these dims): a loose bound */
    ASSERT_TRUE(f > 1.5 * g);
    free(pcm);
    sotto_asr_free(asr);
}
