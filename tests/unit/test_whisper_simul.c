/*
 * test_whisper_simul.c - AlignAtt simultaneous decoding (src/asr/whisper/simul.c) through
 * asr_simul_* on random-weight Whisper models, plus its pure parts (the attended-frame
 * computation against NumPy, the context trimming).
 *
 * A random model says gibberish and never <|endoftext|>, so these tests check the
 * mechanics: committed text only grows across updates (the forced prefix is reproduced
 * and published words never repeat), tau holds tokens back, final publishes everything,
 * word times are absolute, ordered and inside the buffer, drop / reset keep working, a
 * backward attention jump commits nothing, streams sharing a recognizer's run state do
 * not disturb each other. The random vocabulary is mostly filler tokens without a
 * leading space, so mid-stream word publication is tested on real tokenized text
 * (words_complete_when_the_next_one_starts); end to end, words appear at final.
 * Small dims (64 wide, 2 + 3 layers, a 64-token text context) keep each test a few
 * seconds under ASan; the audio is whisper_test_speech (whisper_test_fixtures.h).
 */
#include <math.h>
#include <stdint.h>

#include "asr/asr_int.h"
#include "asr/whisper/decode.h"
#include "asr/whisper/simul.h"
#include "base/base_int.h"
#include "check.h"
#include "whisper_test_fixtures.h"
#include "sotto/asr.h"
#include "sotto/error.h"

#define RATE 16000

/* ---- helpers ------------------------------------------------------------------------ */

/* Append s to buf (size cap); fails the test when it does not fit. */
static void append(char *buf, size_t cap, const char *s)
{
    size_t a = strlen(buf), b = strlen(s);
    ASSERT_TRUE(a + b < cap);
    memcpy(buf + a, s, b + 1);
}

static const char *small_model(int32_t n_text_ctx)
{
    static char path[1024];
    whisper_hparams hp = whisper_test_small_hparams(51865, n_text_ctx);
    snprintf(path, sizeof path, "%s/small-%d.bin", check_tmpdir(), (int)n_text_ctx);
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    else
        ASSERT_OK(whisper_model_write_random(&hp, NN_F32, 11, path));
    return path;
}

typedef struct fixture {
    sotto_asr_options o;
    sotto_asr *asr;
    asr_simul *sim;
    float *pcm;
    size_t n;
} fixture;

static void fixture_open(fixture *fx, const char *language, double seconds)
{
    memset(fx, 0, sizeof *fx);
    sotto_asr_options_init(&fx->o);
    fx->o.model_path = small_model(64);
    fx->o.language = language;
    fx->o.n_threads = 2;
    ASSERT_OK(sotto_asr_new("whisper", &fx->o, &fx->asr));
    ASSERT_TRUE(asr_simul_supported(fx->asr));
    ASSERT_OK(asr_simul_new(fx->asr, &fx->sim));
    fx->pcm = whisper_test_speech(seconds, 3, &fx->n);
}

static void fixture_close(fixture *fx)
{
    asr_simul_free(fx->sim);
    sotto_asr_free(fx->asr);
    free(fx->pcm);
}

/* Text so far: the published words (appended to *all) plus the partial. */
typedef struct acc {
    char all[8192];  /* every published word, in order */
    char prev[8192]; /* all + partial after the previous update */
    double last_end;
    int n_updates, n_tokens;
    double ms;
} acc;

static void check_update(acc *a, const asr_simul_out *out, double t0, double t1)
{
    for (size_t i = 0; i < out->n_words; i++) {
        const sotto_word *w = &out->words[i];
        ASSERT_TRUE(w->word && w->word[0]);
        if (!(w->start >= t0 - 1e-9 && w->end <= t1 + 1e-9 && w->start <= w->end && w->start >= a->last_end - 1e-9))
            CHECK_FAIL("word '%s' [%.3f, %.3f] outside [%.3f, %.3f] or before %.3f", w->word, w->start, w->end, t0,
                       t1, a->last_end);
        ASSERT_TRUE(w->probability >= 0.0f && w->probability <= 1.0f);
        a->last_end = w->end;
        append(a->all, sizeof a->all, w->word);
    }
    char now[8192];
    snprintf(now, sizeof now, "%s%s", a->all, out->partial);
    /* committed tokens are append-only: the previous text is a prefix of this one */
    if (strncmp(now, a->prev, strlen(a->prev)) != 0)
        CHECK_FAIL("update %d rewrote committed text:\n  before: '%s'\n  now:    '%s'", a->n_updates, a->prev, now);
    snprintf(a->prev, sizeof a->prev, "%s", now);
    ASSERT_TRUE(out->n_new_tokens >= 0);
    a->n_tokens += out->n_new_tokens;
    a->n_updates++;
}

/* One update over pcm[first .. first + n) as the stream would send it. */
static void update(fixture *fx, acc *a, size_t first, size_t n, double t_offset, int tau, int final,
                   const char *prompt, asr_simul_out *out)
{
    asr_simul_call c = {.pcm = fx->pcm + first, .n = n, .t_offset = t_offset, .prompt = prompt,
                        .tau_frames = tau, .final = final};
    double t0 = time_now();
    ASSERT_OK(asr_simul_update(fx->sim, &c, out));
    a->ms += (time_now() - t0) * 1000;
    check_update(a, out, t_offset, t_offset + (double)n / RATE);
}

/* ---- the attended frame (pure) ------------------------------------------------------- */

/* Expected values from NumPy (the spec's steps, written independently):
 *   i = arange(160); x = float32((i*i*7919 + i*104729 + 13) % 10007 / 10007).reshape(2, 5, 16)
 *   x[:,3,9:14] += 2; x[0,1,1:6] += 1.5; x[1,1,2:7] += 1.5; x[0,4,10] += 5
 *   z = (x - x.mean(1)) / x.std(1)                      # over rows, population std
 *   p = pad(z, 3 on the frame axis, mode='reflect'); med = median of the 7-wide windows
 *   avg = med.mean(0); frame = argmax(avg[row, :crop])
 * Every expected maximum beats the next different value by >= 0.012 (exact ties are
 * the same filtered element, first one wins). Row 4's one-frame spike at frame 10 is
 * removed by the median filter; row 3's plateau at 9..13 reaches 15 through the
 * reflect padding; row 1 follows the heads' shared bump. */
TEST(attended_frame_matches_numpy)
{
    enum { H = 2, R = 5, F = 16 };
    float x[H * R * F];
    for (long long i = 0; i < H * R * F; i++)
        x[i] = (float)((double)((i * i * 7919 + i * 104729 + 13) % 10007) / 10007.0);
#define AT(h, r, f) x[((h) * R + (r)) * F + (f)]
    for (int f = 9; f < 14; f++)
        AT(0, 3, f) += 2.0f, AT(1, 3, f) += 2.0f;
    for (int f = 1; f < 6; f++)
        AT(0, 1, f) += 1.5f, AT(1, 1, f + 1) += 1.5f;
    AT(0, 4, 10) += 5.0f;
#undef AT
    const int want16[R] = {1, 0, 5, 15, 13}, want9[R] = {1, 0, 5, 8, 0}, want4[R] = {1, 0, 3, 0, 0};
    for (int r = 0; r < R; r++) {
        ASSERT_EQ(whisper_simul_attended_frame(x, H, R, F, r, 16), want16[r]);
        ASSERT_EQ(whisper_simul_attended_frame(x, H, R, F, r, 9), want9[r]);
        ASSERT_EQ(whisper_simul_attended_frame(x, H, R, F, r, 4), want4[r]);
    }
    /* hand-checkable: one head, two rows; every column is constant but frame 5, where
     * row 1 is higher (z = +1 there, 0 elsewhere). A one-frame bump does not survive the
     * median of 7, a 4-frame one does (frames 5..8 -> the first of the filtered maxima). */
    float y[2 * 16];
    for (int i = 0; i < 32; i++)
        y[i] = 0.5f;
    y[16 + 5] = 0.9f;
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 1, 16), 0);
    for (int f = 5; f < 9; f++)
        y[16 + f] = 0.9f;
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 1, 16), 5);
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 0, 16), 0); /* row 0: z = -1 there */
    /* bad arguments */
    ASSERT_EQ(whisper_simul_attended_frame(NULL, 1, 2, 16, 0, 16), -1);
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 2, 16), -1);
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 0, 17), -1);
    ASSERT_EQ(whisper_simul_attended_frame(y, 1, 2, 16, 0, 0), -1);
}

/* ---- context trimming ------------------------------------------------------------------ */

TEST(prompt_trimming_keeps_whole_tail_tokens)
{
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_model_load(small_model(64), &m));
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    char prompt[16384] = "";
    for (int i = 0; i < 400 && strlen(prompt) + 64 < sizeof prompt; i++) {
        char w[64];
        snprintf(w, sizeof w, "%sword%d, Ünïcode", i ? " " : "", i);
        append(prompt, sizeof prompt, w);
    }
    int32_t *all = NULL, *ctx = NULL;
    size_t n_all = 0, n_ctx = 0;
    ASSERT_OK(whisper_tokenize(tk, prompt, &all, &n_all));
    ASSERT_TRUE(n_all > 223);
    ASSERT_OK(whisper_simul_context(tk, prompt, 223, &ctx, &n_ctx));
    ASSERT_TRUE(n_ctx > 200 && n_ctx <= 223);
    /* the kept tokens are the tokenization's own tail (whole tokens), starting at a word */
    ASSERT_TRUE(memcmp(ctx, all + (n_all - n_ctx), sizeof *ctx * n_ctx) == 0);
    const uint8_t *b;
    size_t len;
    ASSERT_OK(whisper_token_bytes(tk, ctx[0], &b, &len));
    ASSERT_TRUE(len > 0 && b[0] == ' ');
    char *text = NULL;
    ASSERT_OK(whisper_detokenize(tk, ctx, n_ctx, &text));
    ASSERT_STR_CONTAINS(text, "word399, Ünïcode");
    free(text);
    free(ctx);
    /* a short prompt is kept whole; none or a zero limit gives nothing */
    ASSERT_OK(whisper_simul_context(tk, "Hello world", 223, &ctx, &n_ctx));
    free(all);
    ASSERT_OK(whisper_tokenize(tk, "Hello world", &all, &n_all));
    ASSERT_EQ(n_ctx, n_all);
    free(ctx);
    free(all);
    ASSERT_OK(whisper_simul_context(tk, NULL, 223, &ctx, &n_ctx));
    ASSERT_TRUE(n_ctx == 0 && ctx == NULL);
    ASSERT_OK(whisper_simul_context(tk, "Hello", 0, &ctx, &n_ctx));
    ASSERT_TRUE(n_ctx == 0 && ctx == NULL);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
}

/* ---- word grouping ---------------------------------------------------------------------- */

TEST(words_complete_when_the_next_one_starts)
{
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_model_load(small_model(64), &m));
    ASSERT_OK(whisper_tokenizer_new(m, &tk));
    int32_t *ids = NULL;
    size_t n = 0, n_words = 99;
    ASSERT_OK(whisper_tokenize(tk, "Hello world, this is", &ids, &n));
    ASSERT_TRUE(n >= 4);
    /* not final: " is" may go on ("island"), so three words are complete */
    size_t end = whisper_simul_complete_words(tk, ids, n, 0, &n_words);
    ASSERT_EQ(n_words, 3);
    char *text = NULL;
    ASSERT_OK(whisper_detokenize(tk, ids, end, &text));
    ASSERT_STR_EQ(text, "Hello world, this");
    free(text);
    ASSERT_OK(whisper_detokenize(tk, ids + end, n - end, &text));
    ASSERT_STR_EQ(text, " is");
    free(text);
    /* final: every token is published */
    ASSERT_EQ(whisper_simul_complete_words(tk, ids, n, 1, &n_words), n);
    ASSERT_EQ(n_words, 4);
    /* one word alone is never complete until final; nothing is nothing */
    ASSERT_EQ(whisper_simul_complete_words(tk, ids, 1, 0, &n_words), 0);
    ASSERT_EQ(n_words, 0);
    ASSERT_EQ(whisper_simul_complete_words(tk, ids, 0, 1, &n_words), 0);
    ASSERT_EQ(n_words, 0);
    free(ids);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
}

/* ---- through asr_simul_* ---------------------------------------------------------------- */

TEST(sphinx_has_no_cross_attention)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", &o, &asr));
    ASSERT_EQ(asr_simul_supported(asr), 0);
    asr_simul *s = (asr_simul *)1;
    ASSERT_EQ(asr_simul_new(asr, &s), SOTTO_EINVAL);
    ASSERT_TRUE(s == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "align_att needs whisper");
    sotto_asr_free(asr);
}

TEST(growing_buffer_is_append_only)
{
    fixture fx;
    fixture_open(&fx, "en", 4.0);
    acc a = {.last_end = -1};
    asr_simul_out out;
    /* tau 0: the argmax is always inside the audio, so tokens flow until the cap */
    for (int k = 1; k <= 4; k++) {
        update(&fx, &a, 0, (size_t)k * RATE, 12.0, k < 3 ? 0 : 10, 0, "Meeting notes.", &out);
        ASSERT_STR_EQ(out.language, "en");
        ASSERT_EQ(out.rewound && out.n_new_tokens, 0);
        fprintf(stderr, "update %d: +%d tokens, %zu words, partial '%s'%s\n", k, out.n_new_tokens, out.n_words,
                out.partial, out.ended ? " (eot)" : "");
    }
    fprintf(stderr, "%d updates, %d tokens, %.0f ms per update\n", a.n_updates, a.n_tokens, a.ms / a.n_updates);
    ASSERT_TRUE(a.n_tokens > 0);
    /* final: everything committed is published, nothing is left partial */
    update(&fx, &a, 0, fx.n, 12.0, 4, 1, "Meeting notes.", &out);
    ASSERT_STR_EQ(out.partial, "");
    ASSERT_STR_EQ(a.all, a.prev);
    ASSERT_TRUE(strlen(a.all) > 0);
    fixture_close(&fx);
}

TEST(larger_tau_emits_fewer_tokens)
{
    fixture fx;
    fixture_open(&fx, "en", 2.0);
    asr_simul_out out;
    /* 2 s = 100 encoder frames; each tau decodes the same buffer from an empty state, so
     * the greedy tokens are the same and only the cut point moves: fewer as tau grows,
     * none once every frame is within tau of the end */
    const int taus[] = {0, 50, 80, 100, 5000};
    int prev = 1 << 30, first = 0;
    for (size_t i = 0; i < sizeof taus / sizeof *taus; i++) {
        asr_simul_reset(fx.sim);
        acc a = {.last_end = -1};
        update(&fx, &a, 0, fx.n, 0, taus[i], 0, NULL, &out);
        fprintf(stderr, "tau %d: %d tokens\n", taus[i], out.n_new_tokens);
        ASSERT_TRUE(out.n_new_tokens <= prev);
        prev = out.n_new_tokens;
        if (i == 0)
            first = out.n_new_tokens;
        if (taus[i] >= 100) {
            ASSERT_EQ(out.n_new_tokens, 0);
            ASSERT_EQ(out.n_words, 0);
            ASSERT_STR_EQ(out.partial, "");
        }
    }
    ASSERT_TRUE(first > 0);
    /* a final update after the tau 5000 one decodes the buffer and publishes it all */
    acc a = {.last_end = -1};
    update(&fx, &a, 0, fx.n, 0, 5000, 1, NULL, &out);
    ASSERT_STR_EQ(out.partial, "");
    ASSERT_TRUE(out.n_new_tokens > 0 && out.n_words > 0);
    fixture_close(&fx);
}

TEST(drop_keeps_times_absolute)
{
    fixture fx;
    fixture_open(&fx, "en", 5.0);
    acc a = {.last_end = -1};
    asr_simul_out out;
    update(&fx, &a, 0, 2 * RATE, 100.0, 0, 0, NULL, &out);
    update(&fx, &a, 0, 3 * RATE, 100.0, 0, 0, NULL, &out);
    ASSERT_TRUE(a.n_tokens > 0);
    /* the oldest 1.5 s leave the buffer; what follows is 101.5 s onwards */
    const size_t cut = 3 * RATE / 2;
    ASSERT_OK(asr_simul_drop(fx.sim, cut));
    a.prev[0] = 0, a.all[0] = 0; /* the dropped text is the caller's now */
    int before = a.n_tokens;
    update(&fx, &a, cut, fx.n - cut, 101.5, 0, 0, NULL, &out);
    update(&fx, &a, cut, fx.n - cut, 101.5, 4, 1, NULL, &out);
    ASSERT_TRUE(a.n_tokens >= before);
    ASSERT_STR_EQ(out.partial, "");
    ASSERT_TRUE(a.all[0] != 0);
    /* dropping more than everything leaves an empty buffer that still works */
    ASSERT_OK(asr_simul_drop(fx.sim, fx.n));
    a.prev[0] = 0;
    update(&fx, &a, fx.n - RATE, RATE, 104.0, 0, 0, NULL, &out);
    ASSERT_TRUE(out.n_new_tokens > 0);
    fixture_close(&fx);
}

TEST(reset_forgets_committed_tokens)
{
    fixture fx;
    fixture_open(&fx, "auto", 4.0);
    acc a = {.last_end = -1};
    asr_simul_out out;
    update(&fx, &a, 0, 2 * RATE, 0, 0, 0, NULL, &out);
    char first[8192], lang[16];
    snprintf(first, sizeof first, "%s", a.prev);
    snprintf(lang, sizeof lang, "%s", out.language);
    ASSERT_TRUE(whisper_lang_index(lang) >= 0); /* "auto" detected a language */
    update(&fx, &a, 0, fx.n, 0, 0, 1, NULL, &out);
    ASSERT_STR_EQ(out.language, lang);
    /* a new utterance: the same first buffer decodes to the same text as the first time */
    asr_simul_reset(fx.sim);
    acc b = {.last_end = -1};
    update(&fx, &b, 0, 2 * RATE, 0, 0, 0, NULL, &out);
    ASSERT_STR_EQ(b.prev, first);
    ASSERT_STR_EQ(out.language, lang);
    fixture_close(&fx);
}

TEST(long_prompt_and_bad_input)
{
    fixture fx;
    fixture_open(&fx, "en", 2.0);
    acc a = {.last_end = -1};
    asr_simul_out out;
    char prompt[8192] = "";
    for (int i = 0; i < 300; i++)
        append(prompt, sizeof prompt, " lorem");
    update(&fx, &a, 0, fx.n, 0, 0, 0, prompt, &out); /* clipped to what the 64-token context holds */
    ASSERT_TRUE(out.n_new_tokens > 0);
    /* empty buffer: nothing to decode, no error */
    update(&fx, &a, 0, 0, 2.0, 0, 0, NULL, &out);
    ASSERT_EQ(out.n_new_tokens, 0);
    float *big = calloc(31 * RATE, sizeof *big);
    ASSERT_TRUE(big != NULL);
    asr_simul_call c = {.pcm = big, .n = 31 * RATE, .tau_frames = 4};
    ASSERT_EQ(asr_simul_update(fx.sim, &c, &out), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "at most 30 s");
    c.n = RATE, c.tau_frames = -1;
    ASSERT_EQ(asr_simul_update(fx.sim, &c, &out), SOTTO_EINVAL);
    free(big);
    fixture_close(&fx);
}

TEST(backward_jump_discards_the_update)
{
    fixture fx;
    fixture_open(&fx, "en", 12.0);
    asr_simul_out out;
    /* the text of a fresh 4 s update (a 200-frame buffer cannot jump back 200 frames) */
    acc fresh = {.last_end = -1};
    update(&fx, &fresh, 0, 4 * RATE, 0, 0, 0, NULL, &out);
    ASSERT_EQ(out.rewound, 0);
    /* a random model's attention wanders: on long buffers some step jumps back more than
     * 200 frames (this seed: at 8 s and 12 s); such an update commits nothing */
    int n_rewound = 0;
    for (int sec = 8; sec <= 12; sec += 4) {
        asr_simul_reset(fx.sim);
        acc a = {.last_end = -1};
        update(&fx, &a, 0, (size_t)sec * RATE, 0, 0, 0, NULL, &out);
        fprintf(stderr, "%d s: +%d tokens, rewound %d\n", sec, out.n_new_tokens, out.rewound);
        if (!out.rewound)
            continue;
        n_rewound++;
        ASSERT_EQ(out.n_new_tokens, 0);
        ASSERT_EQ(out.n_words, 0);
        ASSERT_STR_EQ(out.partial, "");
        if (n_rewound == 1) { /* nothing was forced: the 4 s buffer decodes as when fresh */
            acc b = {.last_end = -1};
            update(&fx, &b, 0, 4 * RATE, 0, 0, 0, NULL, &out);
            ASSERT_STR_EQ(b.prev, fresh.prev);
        }
    }
    ASSERT_TRUE(n_rewound > 0);
    fixture_close(&fx);
}

TEST(streams_of_one_recognizer_share_the_run_state)
{
    fixture fx;
    fixture_open(&fx, "en", 3.0);
    asr_simul *other = NULL;
    ASSERT_OK(asr_simul_new(fx.asr, &other));
    size_t n2;
    float *pcm2 = whisper_test_speech(2.0, 77, &n2);
    asr_simul_out out;
    /* A alone: 2 s then 3 s */
    acc alone = {.last_end = -1};
    update(&fx, &alone, 0, 2 * RATE, 0, 0, 0, NULL, &out);
    update(&fx, &alone, 0, 3 * RATE, 0, 0, 1, NULL, &out);
    /* A again from scratch, with B's update (other audio) in between */
    asr_simul_reset(fx.sim);
    acc a = {.last_end = -1};
    update(&fx, &a, 0, 2 * RATE, 0, 0, 0, NULL, &out);
    asr_simul_call c = {.pcm = pcm2, .n = n2, .t_offset = 50, .tau_frames = 0};
    ASSERT_OK(asr_simul_update(other, &c, &out));
    ASSERT_TRUE(out.n_new_tokens > 0);
    update(&fx, &a, 0, 3 * RATE, 0, 0, 1, NULL, &out);
    ASSERT_STR_EQ(a.all, alone.all);
    asr_simul_free(other);
    free(pcm2);
    fixture_close(&fx);
}
