/*
 * test_whisper_backend.c - the "whisper" recognizer end to end on random-weight models
 * written by whisper_model_write_random: long-form windows, search modes, languages,
 * translate / no-timestamps, word timestamps, the per-token callback, errors.
 *
 * A random model produces gibberish, so these tests assert structure, not words: times
 * inside the audio and ordered, tokens that are text, valid UTF-8, scores in range,
 * determinism at T = 0 and with a fixed sampling seed. The audio is synthesized
 * (whisper_test_speech, whisper_test_fixtures.h); speech_fixture also runs the
 * flite fixture utt_00_kal16.wav.
 * Small custom dims (64 wide, 2 + 3 layers, mostly a 64-token text context) keep every
 * test under about 30 s in the ASan build. The real "tiny" dims are not run here: its
 * encoder takes 2.3 s per window in a Release build, and the unoptimized ASan build is
 * many times slower than that.
 */
#include <math.h>
#include <stdint.h>

#include "asr/whisper/transcribe.h"
#include "base/base_int.h"
#include "check.h"
#include "check_audio.h"
#include "whisper_test_fixtures.h"
#include "sotto/audio.h"
#include "sotto/asr.h"
#include "sotto/error.h"

#define RATE 16000

/* ---- helpers ------------------------------------------------------------------------ */

/* Write a random model into the test's temp dir; returns its path (static buffer). */
static const char *write_model(const char *name, whisper_hparams hp, nn_type wtype, uint64_t seed)
{
    static char path[1024];
    hp.ftype = wtype == NN_F32 ? 0 : wtype == NN_F16 ? 1 : 7;
    snprintf(path, sizeof path, "%s/%s", check_tmpdir(), name);
    ASSERT_OK(whisper_model_write_random(&hp, wtype, seed, path));
    return path;
}

static const char *small_model(void)
{
    return write_model("small.bin", whisper_test_small_hparams(51865, 64), NN_F32, 11);
}

static sotto_asr_options opts_for(const char *model)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = model;
    o.language = "en";
    o.n_threads = 2;
    o.no_fallback = 1; /* most tests: one decode per window (fallback has its own test) */
    return o;
}

/* opts_for(model) with greedy search (beam 1), what most tests decode with. */
static sotto_asr_options greedy_opts_for(const char *model)
{
    sotto_asr_options o = opts_for(model);
    o.beam_size = 1;
    return o;
}

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || (len == 2 && *p < 0xC2))
            return 0;
        for (int k = 1; k < len; k++)
            if ((p[k] & 0xC0) != 0x80)
                return 0;
        p += len;
    }
    return 1;
}

/* Everything a transcript of n samples starting at t_offset must satisfy. */
static void check_structure(const sotto_transcript *t, double t_offset, size_t n, int32_t eot)
{
    double duration = (double)n / RATE, prev_start = t_offset;
    for (size_t i = 0; i < t->n_segments; i++) {
        const sotto_segment *g = &t->segments[i];
        if (!(g->start >= t_offset - 1e-9 && g->end <= t_offset + duration + 0.02 && g->start <= g->end &&
              g->start >= prev_start - 1e-9))
            CHECK_FAIL("segment %zu: [%.3f, %.3f] outside [%.3f, %.3f] or out of order", i, g->start, g->end,
                       t_offset, t_offset + duration);
        prev_start = g->start;
        ASSERT_TRUE(g->text != NULL && utf8_valid(g->text));
        ASSERT_TRUE(g->n_tokens > 0);
        for (size_t k = 0; k < g->n_tokens; k++)
            ASSERT_TRUE(g->tokens[k] >= 0 && g->tokens[k] < eot);
        ASSERT_TRUE(g->avg_logprob <= 0.0f);
        ASSERT_TRUE(g->no_speech_prob >= 0.0f && g->no_speech_prob <= 1.0f);
        ASSERT_TRUE(g->compression_ratio >= 0.0f);
        ASSERT_TRUE(g->temperature >= 0.0f && g->temperature <= 1.0f);
        ASSERT_TRUE(whisper_lang_index(g->language) >= 0);
    }
}

static void assert_same(const sotto_transcript *a, const sotto_transcript *b)
{
    ASSERT_EQ(a->n_segments, b->n_segments);
    for (size_t i = 0; i < a->n_segments; i++) {
        const sotto_segment *x = &a->segments[i], *y = &b->segments[i];
        ASSERT_STR_EQ(x->text, y->text);
        ASSERT_TRUE(x->start == y->start && x->end == y->end && x->avg_logprob == y->avg_logprob);
        ASSERT_EQ(x->n_tokens, y->n_tokens);
        ASSERT_TRUE(memcmp(x->tokens, y->tokens, x->n_tokens * sizeof *x->tokens) == 0);
    }
}

/* Transcribe with fresh recognizer; returns the wall time in seconds. */
static double run(const sotto_asr_options *o, const float *pcm, size_t n, double t_offset, sotto_transcript *t)
{
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", o, &asr));
    sotto_transcript_init(t);
    double t0 = time_now();
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, t_offset, t));
    double dt = time_now() - t0;
    sotto_asr_free(asr);
    return dt;
}

/* run(), then check_structure() on the result for a multilingual model (eot 50257). */
static double run_checked(const sotto_asr_options *o, const float *pcm, size_t n, double t_offset,
                          sotto_transcript *t)
{
    double dt = run(o, pcm, n, t_offset, t);
    check_structure(t, t_offset, n, 50257);
    return dt;
}

/* run_checked() on whisper_test_speech(seconds, seed); returns the wall time. */
static double run_speech(const sotto_asr_options *o, double seconds, uint64_t seed, double t_offset,
                         sotto_transcript *t)
{
    size_t n;
    float *pcm = whisper_test_speech(seconds, seed, &n);
    double dt = run_checked(o, pcm, n, t_offset, t);
    free(pcm);
    return dt;
}

static size_t total_tokens(const sotto_transcript *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_segments; i++)
        n += t->segments[i].n_tokens;
    return n;
}

/* ---- tests ---------------------------------------------------------------------------- */

TEST(registered_and_listed)
{
    ASSERT_TRUE(sotto_asr_backend_count() >= 2);
    sotto_asr_backend_info info;
    ASSERT_OK(sotto_asr_backend_info_get(1, &info));
    ASSERT_STR_EQ(info.name, "whisper");
    ASSERT_EQ(info.available, 1);
    ASSERT_STR_CONTAINS(info.needs, "-m FILE");
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = "x.bin";
    ASSERT_STR_EQ(sotto_asr_default_backend(&o), "whisper");
}

TEST(needs_a_model_file)
{
    sotto_asr *asr = NULL;
    ASSERT_EQ(sotto_asr_new("whisper", NULL, &asr), SOTTO_EINVAL);
    ASSERT_TRUE(asr == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "the whisper backend needs a model file: -m FILE");
}

TEST(corrupt_model_is_the_loaders_error)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/corrupt.bin", check_tmpdir());
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f != NULL);
    fputs("this is not a ggml whisper model, just some bytes", f);
    fclose(f);
    sotto_asr_options o = opts_for(path);
    sotto_asr *asr = NULL;
    ASSERT_EQ(sotto_asr_new("whisper", &o, &asr), SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "ggml");
    o.model_path = "/nonexistent/dir/model.bin";
    ASSERT_EQ(sotto_asr_new("whisper", &o, &asr), SOTTO_ENOENT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "/nonexistent/dir/model.bin");
    /* an unknown language is refused at create time */
    o = opts_for(small_model());
    o.language = "xx";
    ASSERT_EQ(sotto_asr_new("whisper", &o, &asr), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "unknown language 'xx'");
}

TEST(greedy_structure_and_model_name)
{
    size_t n;
    float *pcm = whisper_test_speech(20.0, 1, &n);
    const char *model = write_model("small-448.bin", whisper_test_small_hparams(51865, 448), NN_F32, 11);
    sotto_asr_options o = greedy_opts_for(model);
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &o, &asr));
    ASSERT_STR_EQ(sotto_asr_model_name(asr), "small-448.bin");
    ASSERT_STR_EQ(sotto_asr_backend_name(asr), "whisper");
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 12.5, &t));
    fprintf(stderr, "greedy: %zu segments, %zu tokens, language %s\n", t.n_segments, total_tokens(&t), t.language);
    check_structure(&t, 12.5, n, 50257);
    ASSERT_STR_EQ(t.language, "en");
    ASSERT_TRUE(t.n_segments > 0); /* a random model still says something about 6 s of sound */
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
    free(pcm);
}

TEST(deterministic_at_temperature_zero)
{
    size_t n;
    float *pcm = whisper_test_speech(5.0, 2, &n);
    sotto_asr_options o = greedy_opts_for(small_model());
    /* the same recognizer twice: identical output, nothing carries over between calls */
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &o, &asr));
    sotto_transcript a, b;
    sotto_transcript_init(&a);
    sotto_transcript_init(&b);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0, &a));
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0, &b));
    assert_same(&a, &b);
    check_structure(&a, 0, n, 50257);
    ASSERT_TRUE(a.n_segments > 0);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
    sotto_asr_free(asr);
    free(pcm);
}

TEST(beam_1_and_beam_5)
{
    size_t n;
    float *pcm = whisper_test_speech(5.0, 3, &n);
    sotto_asr_options o = opts_for(small_model());
    sotto_transcript g, b;
    o.beam_size = 1;
    double t1 = run_checked(&o, pcm, n, 0, &g);
    o.beam_size = 5;
    double t5 = run_checked(&o, pcm, n, 0, &b);
    fprintf(stderr, "beam 1: %.2f s, %zu tokens; beam 5: %.2f s, %zu tokens\n", t1, total_tokens(&g), t5,
            total_tokens(&b));
    ASSERT_TRUE(g.n_segments > 0 && b.n_segments > 0);
    for (size_t i = 0; i < b.n_segments; i++)
        ASSERT_TRUE(b.segments[i].temperature == 0.0f);
    sotto_transcript_free(&g);
    sotto_transcript_free(&b);
    free(pcm);
}

TEST(best_of_sampling_is_reproducible)
{
    size_t n;
    float *pcm = whisper_test_speech(5.0, 4, &n);
    sotto_asr_options o = opts_for(small_model());
    o.temperature = 0.6f;
    o.best_of = 3;
    sotto_transcript a, b;
    run_checked(&o, pcm, n, 0, &a);
    run(&o, pcm, n, 0, &b);
    assert_same(&a, &b);
    for (size_t i = 0; i < a.n_segments; i++)
        ASSERT_NEAR(a.segments[i].temperature, 0.6, 1e-6);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
    free(pcm);
}

TEST(temperature_fallback)
{
    sotto_asr_options o = opts_for(small_model());
    o.no_fallback = 0;
    o.beam_size = 2;
    o.best_of = 2;
    sotto_transcript a;
    double dt = run_speech(&o, 3.0, 5, 0, &a);
    fprintf(stderr, "fallback: %.2f s, %zu segments\n", dt, a.n_segments);
    /* a result below the log-probability threshold was retried at a higher temperature */
    for (size_t i = 0; i < a.n_segments; i++)
        ASSERT_TRUE(a.segments[i].temperature > 0.0f || a.segments[i].avg_logprob >= -1.0f);
    sotto_transcript_free(&a);
}

TEST(language_auto_on_multilingual)
{
    size_t n;
    float *pcm = whisper_test_speech(4.0, 6, &n);
    sotto_asr_options o = greedy_opts_for(small_model());
    o.language = "auto";
    sotto_transcript t;
    run_checked(&o, pcm, n, 0, &t);
    fprintf(stderr, "detected language: %s\n", t.language);
    ASSERT_TRUE(whisper_lang_index(t.language) >= 0);
    for (size_t i = 0; i < t.n_segments; i++)
        ASSERT_STR_EQ(t.segments[i].language, t.language);
    sotto_transcript_free(&t);
    free(pcm);
    /* NULL and "" mean the same as "auto"; a code names its index */
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_model_load(small_model(), &m));
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    int lang = 7;
    ASSERT_OK(whisper_language_resolve(tk, NULL, &lang));
    ASSERT_EQ(lang, -1);
    ASSERT_OK(whisper_language_resolve(tk, "", &lang));
    ASSERT_EQ(lang, -1);
    ASSERT_OK(whisper_language_resolve(tk, "nl", &lang));
    ASSERT_EQ(lang, whisper_lang_index("nl"));
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
}

TEST(english_only_model)
{
    size_t n;
    float *pcm = whisper_test_speech(4.0, 7, &n);
    const char *path = write_model("small.en.bin", whisper_test_small_hparams(51864, 64), NN_F32, 12);
    sotto_asr_options o = greedy_opts_for(path);
    o.language = NULL;
    o.translate = 1; /* ignored: English-only models have no task token */
    sotto_transcript t;
    run(&o, pcm, n, 0, &t);
    ASSERT_STR_EQ(t.language, "en");
    check_structure(&t, 0, n, 50256);
    ASSERT_TRUE(t.n_segments > 0);
    sotto_transcript_free(&t);
    free(pcm);
}

TEST(translate_and_no_timestamps)
{
    size_t n;
    float *pcm = whisper_test_speech(5.0, 8, &n);
    sotto_asr_options o = greedy_opts_for(small_model());
    o.language = "nl";
    o.translate = 1;
    sotto_transcript t;
    run_checked(&o, pcm, n, 0, &t);
    ASSERT_STR_EQ(t.language, "nl");
    sotto_transcript_free(&t);
    /* without timestamps a window is one segment spanning its audio */
    o.translate = 0;
    o.no_timestamps = 1;
    run_checked(&o, pcm, n, 3.0, &t);
    ASSERT_TRUE(t.n_segments <= 1);
    if (t.n_segments == 1) {
        ASSERT_NEAR(t.segments[0].start, 3.0, 1e-9);
        ASSERT_NEAR(t.segments[0].end, 3.0 + (double)n / RATE, 0.011);
    }
    sotto_transcript_free(&t);
    free(pcm);
}

TEST(initial_prompt)
{
    sotto_asr_options o = greedy_opts_for(small_model());
    o.prompt = "  Meeting notes: Sotto, Whisper, Ünïcode.  ";
    sotto_transcript a;
    run_speech(&o, 4.0, 9, 0, &a);
    ASSERT_TRUE(a.n_segments > 0);
    sotto_transcript_free(&a);
}

TEST(word_timestamps)
{
    sotto_asr_options o = greedy_opts_for(small_model());
    o.word_timestamps = 1;
    sotto_transcript t;
    run_speech(&o, 3.0, 10, 1.0, &t);
    size_t n_words = 0;
    for (size_t i = 0; i < t.n_segments; i++) {
        const sotto_segment *g = &t.segments[i];
        double prev = g->start;
        for (size_t k = 0; k < g->n_words; k++) {
            const sotto_word *w = &g->words[k];
            ASSERT_TRUE(w->word && w->word[0] && utf8_valid(w->word));
            if (!(w->start >= prev - 1e-9 && w->start <= w->end && w->start >= g->start - 1e-9 &&
                  w->end <= g->end + 1e-9))
                CHECK_FAIL("word %zu '%s' [%.2f, %.2f] in segment [%.2f, %.2f]", k, w->word, w->start, w->end,
                           g->start, g->end);
            ASSERT_TRUE(w->probability >= 0.0f && w->probability <= 1.0f);
            prev = w->start;
        }
        n_words += g->n_words;
    }
    fprintf(stderr, "word timestamps: %zu segments, %zu words\n", t.n_segments, n_words);
    ASSERT_TRUE(n_words > 0);
    sotto_transcript_free(&t);
}

typedef struct tok_log {
    int n, n_text, bad_attn, bad_time;
    int n_heads, n_frames;
    double max_err;
} tok_log;

static void on_token(void *user, const sotto_asr_token *tok)
{
    tok_log *l = user;
    l->n++;
    l->n_heads = tok->n_heads;
    l->n_frames = tok->n_frames;
    if (!tok->cross_attn || tok->n_heads <= 0 || tok->n_frames != 1500) {
        l->bad_attn++;
        return;
    }
    for (int h = 0; h < tok->n_heads; h++) {
        double s = 0;
        for (int f = 0; f < tok->n_frames; f++)
            s += tok->cross_attn[(size_t)h * tok->n_frames + f];
        if (fabs(s - 1.0) > l->max_err)
            l->max_err = fabs(s - 1.0);
    }
    if (tok->id >= 50364 && (tok->t < 0 || tok->t > 60))
        l->bad_time++;
    if (tok->id < 50257)
        l->n_text++;
    if (!(tok->probability >= 0 && tok->probability <= 1) || !tok->text || !utf8_valid(tok->text))
        l->bad_attn++;
}

TEST(on_token_cross_attention)
{
    size_t n;
    float *pcm = whisper_test_speech(3.0, 11, &n);
    sotto_asr_options o = greedy_opts_for(small_model());
    tok_log log = {0};
    o.on_token = on_token;
    o.on_token_user = &log;
    sotto_transcript t;
    run(&o, pcm, n, 0, &t);
    fprintf(stderr, "on_token: %d tokens (%d text), %d heads, max |sum - 1| %.2e\n", log.n, log.n_text,
            log.n_heads, log.max_err);
    ASSERT_TRUE(log.n > 0 && log.n_text > 0);
    ASSERT_EQ(log.bad_attn, 0);
    ASSERT_EQ(log.bad_time, 0);
    ASSERT_EQ(log.n_heads, 4); /* no published list: layers 1 and 2 (upper half of 3) x 2 heads */
    ASSERT_TRUE(log.max_err < 1e-3);
    /* the callback does not change the result */
    sotto_transcript u;
    o.on_token = NULL;
    run(&o, pcm, n, 0, &u);
    assert_same(&t, &u);
    sotto_transcript_free(&t);
    sotto_transcript_free(&u);
    free(pcm);
}

TEST(long_audio_uses_several_windows)
{
    size_t n;
    float *pcm = whisper_test_speech(65.0, 12, &n);
    const char *path = small_model();
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    whisper_runner *r = NULL;
    ASSERT_OK(whisper_model_load(path, &m));
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    sotto_asr_options o = greedy_opts_for(path);
    ASSERT_OK(whisper_runner_new(m, tk, 2, whisper_runner_slots(&o), &r));
    sotto_transcript t;
    sotto_transcript_init(&t);
    double t0 = time_now();
    ASSERT_OK(whisper_transcribe(r, &o, pcm, n, 0, &t));
    double dt = time_now() - t0;
    whisper_runner_stats s;
    whisper_runner_get_stats(r, &s);
    fprintf(stderr,
            "65 s: %.2f s total, %d windows, mel %.0f ms/window, encoder %.0f ms/window, "
            "%lld tokens in %d calls, %.2f ms/token, %zu segments\n",
            dt, s.n_windows, 1e3 * s.t_mel_s / s.n_windows, 1e3 * s.t_encode_s / s.n_windows, s.n_tokens,
            s.n_decode_calls, 1e3 * s.t_decode_s / (double)(s.n_tokens ? s.n_tokens : 1), t.n_segments);
    ASSERT_TRUE(s.n_windows >= 3); /* each window covers at most 30 s */
    check_structure(&t, 0, n, 50257);
    ASSERT_TRUE(t.n_segments > 0);
    sotto_transcript_free(&t);
    whisper_runner_free(r);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
    free(pcm);
}

TEST(f16_and_q8_0_models)
{
    size_t n;
    float *pcm = whisper_test_speech(4.0, 13, &n);
    const nn_type types[] = {NN_F16, NN_Q8_0};
    for (int i = 0; i < 2; i++) {
        const char *path = write_model(i ? "small-q8_0.bin" : "small-f16.bin", whisper_test_small_hparams(51865, 64), types[i], 14);
        sotto_asr_options o = opts_for(path);
        o.beam_size = 2;
        sotto_transcript a;
        run_checked(&o, pcm, n, 0, &a);
        ASSERT_TRUE(a.n_segments > 0);
        sotto_transcript_free(&a);
    }
    free(pcm);
}

TEST(short_and_empty_input)
{
    sotto_asr_options o = greedy_opts_for(small_model());
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &o, &asr));
    sotto_transcript t;
    sotto_transcript_init(&t);
    float tiny[100] = {0};
    ASSERT_OK(sotto_asr_transcribe(asr, tiny, 100, 0, &t)); /* less than one mel frame */
    ASSERT_EQ(t.n_segments, 0);
    float *silence = calloc(RATE / 2, sizeof *silence);
    ASSERT_OK(sotto_asr_transcribe(asr, silence, RATE / 2, 0, &t));
    check_structure(&t, 0, RATE / 2, 50257);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
    free(silence);
}

TEST(generic_stream)
{
    size_t n;
    float *pcm = whisper_test_speech(4.0, 15, &n);
    sotto_asr_options o = greedy_opts_for(small_model());
    sotto_asr *asr = NULL;
    sotto_asr_stream *s = NULL;
    ASSERT_OK(sotto_asr_new("whisper", &o, &asr));
    ASSERT_OK(sotto_asr_stream_new(asr, &s));
    const char *partial = NULL;
    ASSERT_OK(sotto_asr_stream_feed(s, pcm, n / 2));
    ASSERT_OK(sotto_asr_stream_partial(s, &partial));
    ASSERT_TRUE(partial != NULL && utf8_valid(partial));
    ASSERT_OK(sotto_asr_stream_feed(s, pcm + n / 2, n - n / 2));
    ASSERT_OK(sotto_asr_stream_flush(s));
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_stream_take_finals(s, &t));
    check_structure(&t, 0, n, 50257);
    sotto_transcript_free(&t);
    sotto_asr_stream_free(s);
    sotto_asr_free(asr);
    free(pcm);
}

/* The real speech fixture (flite kal16) through the same path the CLI takes. */
TEST(speech_fixture)
{
    size_t n = 0;
    float *pcm = check_load_speech("utt_00_kal16.wav", &n);
    ASSERT_TRUE(n > RATE);
    sotto_asr_options o = greedy_opts_for(small_model());
    o.word_timestamps = 1;
    sotto_transcript t;
    run(&o, pcm, n, 0, &t);
    fprintf(stderr, "fixture: %.2f s of speech, %zu segments\n", (double)n / RATE, t.n_segments);
    check_structure(&t, 0, n, 50257);
    sotto_transcript_free(&t);
    free(pcm);
}
