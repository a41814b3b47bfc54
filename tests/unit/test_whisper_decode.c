/*
 * test_whisper_decode.c - Whisper's decoding logic on a toy vocabulary with hand-made
 * logits: filters, greedy vs beam search, patience, length penalty, best_of, the
 * temperature fallback, silence, compression ratio, segment cutting, DTW, median filter,
 * word grouping and punctuation merging. No model is involved: a fake whisper_lm
 * computes logits from each slot's token history.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "check.h"
#include "sotto/error.h"

static const char *const MERGES[] = {"he", "th", " t", "ca", "caf", "\xc3\xa9", "caf\xc3\xa9", " c", "on"};
#define N_MERGES ((int)(sizeof MERGES / sizeof MERGES[0]))
#define N_BPE (256 + N_MERGES)
#define N_VOCAB (N_BPE + 1509 + 2)

static whisper_tokenizer *toy_tokenizer(void)
{
    static uint8_t bytes[256];
    const uint8_t *toks[N_BPE];
    uint32_t lens[N_BPE];
    int k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int b = 0; b < 256; b++) {
            int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            if (printable == (pass == 0))
                bytes[k++] = (uint8_t)b;
        }
    for (int i = 0; i < 256; i++)
        toks[i] = &bytes[i], lens[i] = 1;
    for (int i = 0; i < N_MERGES; i++)
        toks[256 + i] = (const uint8_t *)MERGES[i], lens[256 + i] = (uint32_t)strlen(MERGES[i]);
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_tokenizer_new_vocab(toks, lens, N_BPE, N_VOCAB, &tk));
    return tk;
}

/* id of a single ASCII byte in GPT-2 order */
static int32_t byte_id(char c)
{
    return (int32_t)(c - '!');
}

/* ---- fake network ---------------------------------------------------------------------- */
#define MAX_SLOTS 16
#define MAX_LEN 512
typedef struct fake_lm {
    int32_t hist[MAX_SLOTS][MAX_LEN];
    int len[MAX_SLOTS];
    int runs;            /* decodes started (slot 0 fed from position 0) */
    const whisper_special *sp;
    /* fill logits given the tokens after the start sequence */
    void (*rule)(struct fake_lm *f, const int32_t *sampled, int n, float *logits);
    int n_start;
    float nospeech_logit;
} fake_lm;

static int fake_logits(void *ctx, int seq, const int32_t *tokens, int n, int n_past, float *logits)
{
    fake_lm *f = ctx;
    ASSERT_TRUE(seq >= 0 && seq < MAX_SLOTS && n_past + n <= MAX_LEN);
    /* the search must feed each slot contiguously (or start it afresh) */
    ASSERT_TRUE(n_past == 0 || n_past == f->len[seq]);
    if (n_past == 0 && seq == 0)
        f->runs++;
    memcpy(f->hist[seq] + n_past, tokens, sizeof *tokens * (size_t)n);
    f->len[seq] = n_past + n;
    for (int i = 0; i < N_VOCAB; i++)
        logits[i] = -30.0f;
    int32_t last = f->hist[seq][f->len[seq] - 1];
    if (last == f->sp->sot) {
        logits[f->sp->nospeech] = f->nospeech_logit;
        logits[f->sp->first_lang + 1] = 5.0f; /* "zh" for language detection */
    }
    /* position of the first sampled token: after the start sequence */
    int n_sampled = f->len[seq] - f->n_start;
    if (n_sampled >= 0)
        f->rule(f, f->hist[seq] + f->n_start, n_sampled, logits);
    return 0;
}

static int fake_copy(void *ctx, int dst, int src)
{
    fake_lm *f = ctx;
    memcpy(f->hist[dst], f->hist[src], sizeof f->hist[0]);
    f->len[dst] = f->len[src];
    return 0;
}

static whisper_lm make_lm(fake_lm *f)
{
    whisper_lm lm = {f, N_VOCAB, 448, MAX_SLOTS, fake_logits, fake_copy, NULL};
    return lm;
}

static void set_p(float *logits, int32_t id, double p)
{
    logits[id] = (float)log(p);
}

/* A .5 B .4 C .1 | A: eot .6 D .4 | B: eot .3 E .7 | AD: eot .9 | BE: eot .95 */
static void rule_tree(fake_lm *f, const int32_t *s, int n, float *l)
{
    int32_t A = byte_id('a'), B = byte_id('b'), C = byte_id('c'), D = byte_id('d'), E = byte_id('e'),
            eot = f->sp->eot;
    if (n == 0) {
        set_p(l, A, .5), set_p(l, B, .4), set_p(l, C, .1);
    } else if (n == 1 && s[0] == A) {
        set_p(l, eot, .6), set_p(l, D, .4);
    } else if (n == 1 && s[0] == B) {
        set_p(l, eot, .3), set_p(l, E, .7);
    } else {
        set_p(l, eot, s[n - 1] == E ? .95 : .9);
        set_p(l, C, s[n - 1] == E ? .05 : .1);
    }
}

static void base_opts(whisper_decode_opts *o)
{
    whisper_decode_opts_init(o);
    o->lang = 0;
    o->without_timestamps = 1;
}

static void expect_tokens(const whisper_decoding *d, const int32_t *want, size_t n)
{
    ASSERT_EQ(d->n_tokens, n);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(d->tokens[i], want[i]);
}

TEST(beam_beats_greedy)
{
    whisper_tokenizer *tk = toy_tokenizer();
    fake_lm f = {.sp = whisper_tokenizer_special(tk), .rule = rule_tree, .n_start = 4};
    whisper_lm lm = make_lm(&f);
    whisper_decode_opts o;
    base_opts(&o);
    whisper_decoding d;
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    expect_tokens(&d, (int32_t[]){byte_id('a')}, 1); /* greedy: a, eot */
    ASSERT_NEAR(d.sum_logprob, log(.5) + log(.6), 1e-4);
    ASSERT_NEAR(d.avg_logprob, (log(.5) + log(.6)) / 2, 1e-4);
    ASSERT_STR_EQ(d.text, "a");
    whisper_decoding_clear(&d);

    memset(&f, 0, sizeof f);
    f = (fake_lm){.sp = whisper_tokenizer_special(tk), .rule = rule_tree, .n_start = 4};
    o.beam_size = 2;
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    /* b e: sum -1.32 over 2 tokens beats a: -1.20 over 1 */
    expect_tokens(&d, (int32_t[]){byte_id('b'), byte_id('e')}, 2);
    ASSERT_NEAR(d.sum_logprob, log(.4) + log(.7) + log(.95), 1e-4);
    whisper_decoding_clear(&d);

    /* length_penalty 0: penalty 1, the plain highest sum wins (a) */
    memset(&f, 0, sizeof f);
    f = (fake_lm){.sp = whisper_tokenizer_special(tk), .rule = rule_tree, .n_start = 4};
    o.length_penalty = 0.0f;
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    expect_tokens(&d, (int32_t[]){byte_id('a')}, 1);
    whisper_decoding_clear(&d);
    ASSERT_NEAR(whisper_rank_score(-3.0, 4, 1.0f), -3.0 / 1.5, 1e-9);
    ASSERT_NEAR(whisper_rank_score(-3.0, 4, -1.0f), -0.75, 1e-9);
    whisper_tokenizer_free(tk);
}

TEST(beam_patience)
{
    whisper_tokenizer *tk = toy_tokenizer();
    fake_lm f = {.sp = whisper_tokenizer_special(tk), .rule = rule_tree, .n_start = 4};
    whisper_lm lm = make_lm(&f);
    whisper_decode_opts o;
    base_opts(&o);
    o.beam_size = 1;
    whisper_decoding d;
    /* one beam, patience 1: stops at the first finished candidate (a) */
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    expect_tokens(&d, (int32_t[]){byte_id('a')}, 1);
    whisper_decoding_clear(&d);
    /* patience 2: waits for a second finished one (a d), which ranks higher */
    f = (fake_lm){.sp = whisper_tokenizer_special(tk), .rule = rule_tree, .n_start = 4};
    o.patience = 2.0f;
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    expect_tokens(&d, (int32_t[]){byte_id('a'), byte_id('d')}, 2);
    whisper_decoding_clear(&d);
    whisper_tokenizer_free(tk);
}

/* A .5 B .5 | A: eot .99 | B: C .99 | BC: eot .99 */
static void rule_bestof(fake_lm *f, const int32_t *s, int n, float *l)
{
    int32_t A = byte_id('a'), B = byte_id('b'), C = byte_id('c');
    if (n == 0)
        set_p(l, A, .5), set_p(l, B, .5);
    else if (n == 1 && s[0] == B)
        set_p(l, C, .99), set_p(l, f->sp->eot, .01);
    else
        set_p(l, f->sp->eot, .99), set_p(l, C, .01);
}

TEST(best_of_picks_best)
{
    whisper_tokenizer *tk = toy_tokenizer();
    whisper_decode_opts o;
    base_opts(&o);
    o.temperature = 1.0f;
    int single_a = 0, single_bc = 0, best_bc = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        o.seed = seed;
        for (int best_of = 1; best_of <= 5; best_of += 4) {
            fake_lm f = {.sp = whisper_tokenizer_special(tk), .rule = rule_bestof, .n_start = 4};
            whisper_lm lm = make_lm(&f);
            whisper_decoding d;
            o.best_of = best_of;
            ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
            int bc = d.n_tokens == 2 && d.tokens[0] == byte_id('b');
            if (best_of == 1)
                single_a += !bc, single_bc += bc;
            else
                best_bc += bc;
            whisper_decoding_clear(&d);
        }
    }
    /* single samples go both ways; five samples almost always contain b c (97%) */
    ASSERT_TRUE(single_a > 3 && single_bc > 3);
    ASSERT_TRUE(best_bc >= 18);
    whisper_tokenizer_free(tk);
}

TEST(suppress_blank_and_default_set)
{
    whisper_tokenizer *tk = toy_tokenizer();
    const whisper_special *sp = whisper_tokenizer_special(tk);
    float *l = calloc(N_VOCAB, sizeof *l);
    whisper_filter_blank(tk, l);
    ASSERT_TRUE(isinf(l[220]) && isinf(l[sp->eot])); /* " " is byte token 220 */
    ASSERT_TRUE(l[byte_id('a')] == 0.0f);
    int32_t *ids;
    size_t n;
    ASSERT_OK(whisper_default_suppress(tk, &ids, &n));
    int has_quote = 0, has_hash = 0, has_a = 0, has_space = 0;
    for (size_t i = 0; i < n; i++) {
        has_quote |= ids[i] == byte_id('"');
        has_hash |= ids[i] == byte_id('#');
        has_a |= ids[i] == byte_id('a');
        has_space |= ids[i] == 220;
        if (i)
            ASSERT_TRUE(ids[i] > ids[i - 1]);
    }
    /* multi-token symbols ("<<") are not suppressed; " -" adds its first token (" ") */
    ASSERT_TRUE(has_quote && has_hash && !has_a && has_space);
    free(ids);
    whisper_decode_opts o;
    whisper_decode_opts_init(&o);
    ASSERT_OK(whisper_suppress_set(tk, &o, &ids, &n));
    int has_sot = 0, has_nospeech = 0, has_eot = 0;
    for (size_t i = 0; i < n; i++)
        has_sot |= ids[i] == sp->sot, has_nospeech |= ids[i] == sp->nospeech, has_eot |= ids[i] == sp->eot;
    ASSERT_TRUE(has_sot && has_nospeech && !has_eot);
    free(ids);
    free(l);
    whisper_tokenizer_free(tk);
}

TEST(timestamp_rules)
{
    whisper_tokenizer *tk = toy_tokenizer();
    const whisper_special *sp = whisper_tokenizer_special(tk);
    const int32_t tb = sp->timestamp_begin, a = byte_id('a');
    float *l = calloc(N_VOCAB, sizeof *l);
    /* first token: a timestamp <= 50 (1.0 s); never notimestamps */
    whisper_filter_timestamps(sp, N_VOCAB, NULL, 0, 50, l);
    ASSERT_TRUE(isinf(l[a]) && isinf(l[sp->eot]) && isinf(l[sp->notimestamps]));
    ASSERT_TRUE(l[tb] == 0 && l[tb + 50] == 0 && isinf(l[tb + 51]));
    /* an open pair <5> a <8>: next is a timestamp >= 8 or eot, not text */
    for (int i = 0; i < N_VOCAB; i++)
        l[i] = i < tb ? 0.0f : -30.0f; /* keep the probability-mass rule out of this case */
    int32_t s1[] = {tb + 5, a, tb + 8};
    whisper_filter_timestamps(sp, N_VOCAB, s1, 3, 50, l);
    ASSERT_TRUE(isinf(l[a]) && l[sp->eot] == 0);
    ASSERT_TRUE(isinf(l[tb + 7]) && !isinf(l[tb + 8]) && !isinf(l[tb + 9]));
    /* a closed pair <5> a <8><8>: next is text (no timestamp at all) */
    memset(l, 0, sizeof *l * N_VOCAB);
    int32_t s2[] = {tb + 5, a, tb + 8, tb + 8};
    whisper_filter_timestamps(sp, N_VOCAB, s2, 4, 50, l);
    ASSERT_TRUE(l[a] == 0 && isinf(l[tb + 8]) && isinf(l[tb + 100]));
    /* after text, timestamps strictly increase past the last one */
    memset(l, 0, sizeof *l * N_VOCAB);
    int32_t s3[] = {tb + 5, a, tb + 8, tb + 8, a};
    for (int i = 0; i < N_VOCAB; i++)
        l[i] = -10.0f;
    l[a] = 0.0f;
    whisper_filter_timestamps(sp, N_VOCAB, s3, 5, 50, l);
    ASSERT_TRUE(isinf(l[tb + 8]) && !isinf(l[tb + 9]) && l[a] == 0.0f);
    /* probability mass: 1492 timestamps at -2 together beat the best text token at 0 */
    for (int i = 0; i < N_VOCAB; i++)
        l[i] = i >= tb ? -2.0f : -20.0f;
    l[a] = 0.0f;
    whisper_filter_timestamps(sp, N_VOCAB, s3, 5, 50, l);
    ASSERT_TRUE(isinf(l[a]) && !isinf(l[tb + 20]));
    /* ... but a single timestamp does not */
    for (int i = 0; i < N_VOCAB; i++)
        l[i] = -20.0f;
    l[a] = 0.0f, l[tb + 20] = -0.5f;
    whisper_filter_timestamps(sp, N_VOCAB, s3, 5, 50, l);
    ASSERT_TRUE(l[a] == 0.0f);
    free(l);
    whisper_tokenizer_free(tk);
}

/* timestamps mode: <0> t h e <50> eot, through the real filters */
static void rule_ts(fake_lm *f, const int32_t *s, int n, float *l)
{
    const int32_t tb = f->sp->timestamp_begin;
    static const char text[] = "the";
    if (n == 0)
        l[tb] = 2.0f;
    else if (n <= 3)
        l[byte_id(text[n - 1])] = 5.0f;
    else if (n == 4)
        l[tb + 50] = 3.0f;
    else
        l[f->sp->eot] = 3.0f;
}

TEST(greedy_with_timestamps_and_segments)
{
    whisper_tokenizer *tk = toy_tokenizer();
    const whisper_special *sp = whisper_tokenizer_special(tk);
    fake_lm f = {.sp = sp, .rule = rule_ts, .n_start = 3};
    whisper_lm lm = make_lm(&f);
    whisper_decode_opts o;
    whisper_decode_opts_init(&o);
    o.lang = 0;
    whisper_decoding d;
    ASSERT_OK(whisper_decode_run(tk, &lm, &o, &d));
    const int32_t tb = sp->timestamp_begin;
    expect_tokens(&d, (int32_t[]){tb, byte_id('t'), byte_id('h'), byte_id('e'), tb + 50}, 5);
    ASSERT_STR_EQ(d.text, "the");
    whisper_span *sp_out;
    size_t n_sp;
    int seek, single;
    ASSERT_OK(whisper_cut_segments(sp, d.tokens, d.n_tokens, 10.0, 3000, &sp_out, &n_sp, &seek, &single));
    /* no pair: one segment up to the last timestamp, the whole window consumed */
    ASSERT_EQ(n_sp, 1);
    ASSERT_NEAR(sp_out[0].start, 10.0, 1e-9);
    ASSERT_NEAR(sp_out[0].end_s, 11.0, 1e-9);
    ASSERT_EQ(seek, 3000);
    free(sp_out);
    whisper_decoding_clear(&d);

    /* <0> a <1><1> b <2><2> c: cut at pairs, seek to the last closed pair (2 -> 4 frames) */
    int32_t t2[] = {tb, 1, tb + 1, tb + 1, 2, tb + 2, tb + 2, 3};
    ASSERT_OK(whisper_cut_segments(sp, t2, 8, 0.0, 3000, &sp_out, &n_sp, &seek, &single));
    ASSERT_EQ(n_sp, 2);
    ASSERT_EQ(sp_out[0].begin, 0); ASSERT_EQ(sp_out[0].end, 3);
    ASSERT_NEAR(sp_out[1].start, 0.02, 1e-9); ASSERT_NEAR(sp_out[1].end_s, 0.04, 1e-9);
    ASSERT_EQ(seek, 4);
    ASSERT_TRUE(!single);
    free(sp_out);
    /* ... ending with a single timestamp: the last piece is a segment, whole window used */
    int32_t t3[] = {tb, 1, tb + 1, tb + 1, 2, tb + 7};
    ASSERT_OK(whisper_cut_segments(sp, t3, 6, 0.0, 2500, &sp_out, &n_sp, &seek, &single));
    ASSERT_EQ(n_sp, 2);
    ASSERT_NEAR(sp_out[1].end_s, 0.14, 1e-9);
    ASSERT_EQ(seek, 2500);
    ASSERT_TRUE(single);
    free(sp_out);
    whisper_tokenizer_free(tk);
}

/* run 1 (T=0): "the the the ..." ; later runs: "cat" - both confident */
static void rule_repeat(fake_lm *f, const int32_t *s, int n, float *l)
{
    if (f->runs == 1) {
        l[n % 4 == 3 ? 220 : byte_id("the"[n % 4])] = 5.0f;
        if (n >= 60)
            l[f->sp->eot] = 10.0f;
    } else {
        l[n < 3 ? byte_id("cat"[n]) : f->sp->eot] = 5.0f;
    }
}

/* run 1: flat (unlikely) tokens; later runs confident */
static void rule_unsure(fake_lm *f, const int32_t *s, int n, float *l)
{
    if (f->runs == 1) {
        for (int i = byte_id('a'); i <= byte_id('z'); i++)
            l[i] = 0.0f;
        l[byte_id('q')] = 0.1f;
        if (n >= 5)
            l[f->sp->eot] = 3.0f;
    } else {
        l[n < 2 ? byte_id("ok"[n]) : f->sp->eot] = 5.0f;
    }
}

TEST(fallback_compression_and_logprob)
{
    ASSERT_NEAR(whisper_compression_ratio("hello hello hello hello hello hello hello hello"), 47.0 / 17.0, 1e-5);
    ASSERT_NEAR(whisper_compression_ratio("The quick brown fox jumps over the lazy dog."), 44.0 / 51.0, 1e-5);
    whisper_tokenizer *tk = toy_tokenizer();
    whisper_decode_opts o;
    base_opts(&o);
    o.beam_size = 2;
    o.best_of = 3;
    whisper_fallback_opts fo;
    whisper_fallback_opts_init(&fo);
    whisper_decoding d;
    int tried;
    fake_lm f = {.sp = whisper_tokenizer_special(tk), .rule = rule_repeat, .n_start = 4};
    whisper_lm lm = make_lm(&f);
    ASSERT_OK(whisper_decode_fallback(tk, &lm, &o, &fo, &d, &tried));
    ASSERT_EQ(tried, 2); /* T=0 was too repetitive; T=0.2 passed and stopped the loop */
    ASSERT_NEAR(d.temperature, 0.2, 1e-6);
    ASSERT_STR_EQ(d.text, "cat");
    ASSERT_TRUE(d.compression_ratio < 2.4f);
    whisper_decoding_clear(&d);

    fake_lm g = {.sp = whisper_tokenizer_special(tk), .rule = rule_unsure, .n_start = 4};
    lm = make_lm(&g);
    ASSERT_OK(whisper_decode_fallback(tk, &lm, &o, &fo, &d, &tried));
    ASSERT_EQ(tried, 2); /* avg_logprob about -3.2 < -1 at T=0 */
    ASSERT_STR_EQ(d.text, "ok");
    ASSERT_TRUE(d.avg_logprob > -0.1);
    whisper_decoding_clear(&d);
    whisper_tokenizer_free(tk);
}

TEST(no_speech_skip)
{
    whisper_tokenizer *tk = toy_tokenizer();
    whisper_decode_opts o;
    base_opts(&o);
    whisper_fallback_opts fo;
    whisper_fallback_opts_init(&fo);
    whisper_decoding d;
    int tried;
    /* <|nospeech|> very likely after sot and the text unlikely: silence, no fallback */
    fake_lm f = {.sp = whisper_tokenizer_special(tk), .rule = rule_unsure, .n_start = 4, .nospeech_logit = 10.0f};
    whisper_lm lm = make_lm(&f);
    ASSERT_OK(whisper_decode_fallback(tk, &lm, &o, &fo, &d, &tried));
    ASSERT_EQ(tried, 1);
    ASSERT_TRUE(d.no_speech_prob > 0.99f);
    ASSERT_TRUE(whisper_is_silence(&d, &fo));
    whisper_decoding_clear(&d);
    /* confident text keeps the window even with a high no-speech probability */
    f = (fake_lm){.sp = whisper_tokenizer_special(tk), .rule = rule_unsure, .n_start = 4, .nospeech_logit = 10.0f};
    f.runs = 1; /* skip the unsure first behaviour */
    ASSERT_OK(whisper_decode_fallback(tk, &lm, &o, &fo, &d, &tried));
    ASSERT_TRUE(d.no_speech_prob > 0.6f && !whisper_is_silence(&d, &fo));
    whisper_decoding_clear(&d);
    /* language detection reads the language tokens after sot */
    int lang = -1;
    float probs[2];
    ASSERT_OK(whisper_detect_language(tk, &lm, &lang, probs));
    ASSERT_EQ(lang, 1);
    ASSERT_TRUE(probs[1] > 0.99f);
    whisper_tokenizer_free(tk);
}

TEST(prompt_window)
{
    whisper_tokenizer *tk = toy_tokenizer();
    const whisper_special *sp = whisper_tokenizer_special(tk);
    int32_t prompt[300];
    for (int i = 0; i < 300; i++)
        prompt[i] = i % 200;
    whisper_decode_opts o;
    whisper_decode_opts_init(&o);
    o.lang = 1;
    o.translate = 1;
    o.prompt = prompt, o.n_prompt = 300;
    int32_t *seq;
    size_t n, sot_i;
    ASSERT_OK(whisper_start_sequence(sp, &o, 448, &seq, &n, &sot_i));
    ASSERT_EQ(n, 1 + 223 + 3);
    ASSERT_EQ(seq[0], sp->startofprev);
    ASSERT_EQ(seq[1], prompt[300 - 223]);
    ASSERT_EQ(sot_i, 224);
    ASSERT_EQ(seq[225], sp->first_lang + 1);
    ASSERT_EQ(seq[226], sp->translate);
    free(seq);
    o.prompt = NULL, o.n_prompt = 0, o.without_timestamps = 1, o.translate = 0;
    ASSERT_OK(whisper_start_sequence(sp, &o, 448, &seq, &n, &sot_i));
    ASSERT_EQ(n, 4);
    ASSERT_EQ(seq[0], sp->sot); ASSERT_EQ(seq[2], sp->transcribe); ASSERT_EQ(seq[3], sp->notimestamps);
    free(seq);
    whisper_tokenizer_free(tk);
}

TEST(dtw_diagonal)
{
    enum { N = 10, M = 40 };
    float cost[N * M];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < M; j++)
            cost[i * M + j] = (j / 4 == i) ? -1.0f : 1.0f; /* token i owns frames 4i..4i+3 */
    int32_t *r, *c;
    size_t n;
    ASSERT_OK(whisper_dtw(cost, N, M, &r, &c, &n));
    ASSERT_EQ(r[0], 0); ASSERT_EQ(c[0], 0);
    ASSERT_EQ(r[n - 1], N - 1); ASSERT_EQ(c[n - 1], M - 1);
    int first_col[N];
    for (int i = 0; i < N; i++)
        first_col[i] = -1;
    for (size_t p = 0; p < n; p++) {
        if (p) {
            ASSERT_TRUE(r[p] >= r[p - 1] && c[p] >= c[p - 1]);
            ASSERT_TRUE(r[p] - r[p - 1] <= 1 && c[p] - c[p - 1] <= 1);
        }
        if (first_col[r[p]] < 0)
            first_col[r[p]] = c[p];
    }
    for (int i = 0; i < N; i++)
        ASSERT_EQ(first_col[i], 4 * i); /* boundaries on the diagonal */
    free(r);
    free(c);
}

TEST(median_filter)
{
    float x[10] = {1, 9, 2, 8, 3, 7, 4, 6, 5, 0};
    float y[10];
    memcpy(y, x, sizeof x);
    ASSERT_OK(whisper_median_filter(y, 1, 10, 3));
    const float e3[10] = {9, 2, 8, 3, 7, 4, 6, 5, 5, 5}; /* numpy reflect-pad reference */
    for (int i = 0; i < 10; i++)
        ASSERT_NEAR(y[i], e3[i], 0);
    memcpy(y, x, sizeof x);
    ASSERT_OK(whisper_median_filter(y, 1, 10, 7));
    const float e7[10] = {8, 3, 7, 4, 6, 5, 5, 5, 5, 5};
    for (int i = 0; i < 10; i++)
        ASSERT_NEAR(y[i], e7[i], 0);
    float z[3] = {3, 1, 2}; /* too short for width 7: unchanged */
    ASSERT_OK(whisper_median_filter(z, 1, 3, 7));
    ASSERT_TRUE(z[0] == 3 && z[1] == 1 && z[2] == 2);
    ASSERT_EQ(whisper_median_filter(z, 1, 3, 4), SOTTO_EINVAL);
}

TEST(words_and_punctuation)
{
    whisper_tokenizer *tk = toy_tokenizer();
    /* " the" " café." -> " the" | " café" | "." then "." merges into " café." */
    int32_t *ids;
    size_t n;
    ASSERT_OK(whisper_tokenize(tk, " the caf\xc3\xa9.", &ids, &n));
    whisper_word_timing *w;
    size_t nw;
    ASSERT_OK(whisper_split_words(tk, ids, n, "en", &w, &nw));
    ASSERT_EQ(nw, 3);
    ASSERT_STR_EQ(w[0].word, " the");
    ASSERT_STR_EQ(w[1].word, " caf\xc3\xa9");
    ASSERT_STR_EQ(w[2].word, ".");
    whisper_merge_punctuation(w, nw, "\"'([{-", "\"'.,!?:)]}");
    ASSERT_STR_EQ(w[1].word, " caf\xc3\xa9.");
    ASSERT_STR_EQ(w[2].word, "");
    ASSERT_EQ(w[1].n_tokens, 3);
    whisper_word_timings_free(w, nw);
    free(ids);
    /* " (" " a": an opening paren with a space joins the following word */
    whisper_word_timing pw[2] = {{0}};
    pw[0].word = strdup(" ("), pw[1].word = strdup(" a");
    pw[0].tokens = calloc(1, sizeof(int32_t)), pw[1].tokens = calloc(1, sizeof(int32_t));
    pw[0].n_tokens = pw[1].n_tokens = 1;
    whisper_merge_punctuation(pw, 2, "\"'([{-", "\"'.,!?:)]}");
    ASSERT_STR_EQ(pw[0].word, "");
    ASSERT_STR_EQ(pw[1].word, " ( a");
    ASSERT_EQ(pw[1].n_tokens, 2);
    for (int i = 0; i < 2; i++)
        free(pw[i].word), free(pw[i].tokens);
    /* "é" as two byte tokens stays one unit; zh splits per character */
    int32_t bytes2[2] = {0, 0};
    for (int32_t id = 0; id < 256; id++) {
        const uint8_t *b;
        size_t len;
        ASSERT_OK(whisper_token_bytes(tk, id, &b, &len));
        if (b[0] == 0xC3)
            bytes2[0] = id;
        if (b[0] == 0xA9)
            bytes2[1] = id;
    }
    int32_t t3[] = {byte_id('a'), bytes2[0], bytes2[1], byte_id('b')};
    ASSERT_OK(whisper_split_words(tk, t3, 4, "zh", &w, &nw));
    ASSERT_EQ(nw, 3);
    ASSERT_STR_EQ(w[1].word, "\xc3\xa9");
    ASSERT_EQ(w[1].n_tokens, 2);
    whisper_word_timings_free(w, nw);
    whisper_tokenizer_free(tk);
}

TEST(align_words_synthetic)
{
    whisper_tokenizer *tk = toy_tokenizer();
    int32_t *ids;
    size_t n;
    ASSERT_OK(whisper_tokenize(tk, " the cat", &ids, &n)); /* " t"+"he", " ", "c","a","t" */
    int n_sot = 3, n_rows = n_sot + (int)n + 2, n_frames = 1500, heads = 2;
    float *attn = calloc((size_t)heads * n_rows * n_frames, sizeof *attn);
    float probs[16];
    /* row r (after the sot sequence) attends to frames 10r..10r+9 */
    for (int h = 0; h < heads; h++)
        for (int r = 0; r < n_rows; r++)
            for (int f = 0; f < n_frames; f++) {
                int k = r - n_sot;
                attn[((size_t)h * n_rows + r) * n_frames + f] = (k >= 0 && f / 10 == k) ? 1.0f : 0.001f;
            }
    for (size_t i = 0; i < n; i++)
        probs[i] = 0.5f + 0.1f * (float)i;
    whisper_word_timing *w;
    size_t nw;
    double med;
    ASSERT_OK(whisper_align_words(tk, ids, n, probs, attn, heads, n_rows, n_frames, n_sot, 200, "en", &w, &nw,
                                  &med));
    ASSERT_EQ(nw, 2);
    ASSERT_STR_EQ(w[0].word, " the");
    ASSERT_STR_EQ(w[1].word, " cat");
    ASSERT_TRUE(w[0].start <= w[0].end && w[0].end <= w[1].start + 1e-9 && w[1].start <= w[1].end);
    ASSERT_TRUE(w[1].end <= 2.0 + 1e-9); /* 200 mel frames = 100 attention frames = 2 s */
    ASSERT_NEAR(w[0].probability, 0.55, 1e-5);
    whisper_word_timings_free(w, nw);
    free(attn);
    free(ids);
    whisper_tokenizer_free(tk);
}
