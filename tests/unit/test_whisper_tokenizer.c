/*
 * test_whisper_tokenizer.c - the GPT-2 pre-split, tiktoken-exact BPE on a hand-built
 * vocabulary, special-token layout, language codes and UTF-8 handling of token bytes.
 * Expected ids were computed with a Python reference of tiktoken's algorithm (the
 * `regex` module's \p classes + byte_pair_merge) over the same vocabulary.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "asr/whisper/pretokenize.h"
#include "check.h"
#include "sotto/error.h"

static const char *const MERGES[] = {
    "he", "th", " t", "ca", "caf", "\xc3\xa9", "caf\xc3\xa9", " c", "on", "20", "2024", "'m", "in",
    "ing", " do", "xyz", " \xc3\xa9", "\xc3\xa9\xc3\xa9", "n\xc3\xa9",
};
#define N_MERGES ((int)(sizeof MERGES / sizeof MERGES[0]))
#define N_BPE (256 + N_MERGES)

/* 256 single bytes in GPT-2's byte order (printable first), then the merges. */
static whisper_tokenizer *toy_tokenizer(int n_langs)
{
    static uint8_t bytes[256];
    const uint8_t *toks[N_BPE];
    uint32_t lens[N_BPE];
    int k = 0;
    for (int b = 0; b < 256; b++)
        if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
            bytes[k++] = (uint8_t)b;
    for (int b = 0; b < 256; b++)
        if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)))
            bytes[k++] = (uint8_t)b;
    for (int i = 0; i < 256; i++)
        toks[i] = &bytes[i], lens[i] = 1;
    for (int i = 0; i < N_MERGES; i++)
        toks[256 + i] = (const uint8_t *)MERGES[i], lens[256 + i] = (uint32_t)strlen(MERGES[i]);
    whisper_tokenizer *tk = NULL;
    ASSERT_OK(whisper_tokenizer_new_vocab(toks, lens, N_BPE, N_BPE + 1509 + n_langs, &tk));
    return tk;
}

typedef struct pieces {
    char buf[512];
    size_t n;
} pieces;

/* Collect pieces as "a|b|c". */
static int collect(void *user, const uint8_t *p, size_t len)
{
    pieces *ps = user;
    if (ps->n && ps->n + 1 < sizeof ps->buf)
        ps->buf[ps->n++] = '|';
    if (ps->n + len < sizeof ps->buf) {
        memcpy(ps->buf + ps->n, p, len);
        ps->n += len;
    }
    ps->buf[ps->n] = '\0';
    return 0;
}

static void check_split(const char *text, const char *expected)
{
    pieces ps = {{0}, 0};
    ASSERT_OK(pretokenize((const uint8_t *)text, strlen(text), collect, &ps));
    ASSERT_STR_EQ(ps.buf, expected);
}

TEST(presplit_contractions)
{
    check_split("I'm don't they'll", "I|'m| don|'t| they|'ll");
    check_split("it's 'sup' ok'", "it|'s| '|sup|'| ok|'");
}

TEST(presplit_digits)
{
    check_split("2024 3.14", "2024| 3|.|14");
    /* Arabic-Indic digits, superscript two, vulgar half are numbers */
    check_split("\xd9\xa1\xd9\xa2\xd9\xa3 x\xc2\xb2 \xc2\xbd", "\xd9\xa1\xd9\xa2\xd9\xa3| x|\xc2\xb2| \xc2\xbd");
}

TEST(presplit_emoji_and_scripts)
{
    /* emoji and skin-tone modifier are "other", like the "!" after them */
    check_split("hi \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd! ok", "hi| \xf0\x9f\x91\x8b\xf0\x9f\x8f\xbd!| ok");
    check_split("\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0\xb8\xd1\x80 \xce\x93\xce\xb5\xce\xb9\xce\xac",
                "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82| \xd0\xbc\xd0\xb8\xd1\x80| \xce\x93\xce\xb5\xce\xb9\xce\xac");
    /* CJK letters, fullwidth comma is punctuation */
    check_split("\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96\xe7\x95\x8c",
                "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c|\xe4\xb8\x96\xe7\x95\x8c");
}

TEST(presplit_dutch_diacritics)
{
    check_split("\xc3\xa9\xc3\xa9n caf\xc3\xa9", "\xc3\xa9\xc3\xa9n| caf\xc3\xa9");
    check_split("na\xc3\xafve co\xc3\xb6rdinatie", "na\xc3\xafve| co\xc3\xb6rdinatie");
    /* a combining acute accent is a mark, not a letter */
    check_split("cafe\xcc\x81", "cafe|\xcc\x81");
}

TEST(presplit_whitespace)
{
    check_split("Hello  world\n\nfoo   ", "Hello| | world|\n|\n|foo|   ");
    check_split(" \t x", " \t| x");
    check_split("a\xc2\xa0" "b", "a|\xc2\xa0|b");
    check_split("", "");
}

static void check_encode(const whisper_tokenizer *tk, const char *text, const int32_t *expected, size_t n)
{
    int32_t *ids;
    size_t n_ids;
    ASSERT_OK(whisper_tokenize(tk, text, &ids, &n_ids));
    if (n_ids != n) {
        for (size_t i = 0; i < n_ids; i++)
            fprintf(stderr, "%d ", (int)ids[i]);
        CHECK_FAIL("'%s': %zu tokens, expected %zu", text, n_ids, n);
    }
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(ids[i], expected[i]);
    /* round trip: the bytes of the tokens are the text */
    uint8_t *b;
    size_t len;
    ASSERT_OK(whisper_tokens_bytes(tk, ids, n_ids, 1, &b, &len));
    ASSERT_EQ(len, strlen(text));
    ASSERT_TRUE(memcmp(b, text, len) == 0);
    free(b);
    free(ids);
}

TEST(bpe_merge_order_by_rank)
{
    whisper_tokenizer *tk = toy_tokenizer(2);
    /* "he" (256) ranks before "th" (257): "the" is t + he, "tha" is th + a */
    check_encode(tk, "the", (const int32_t[]){83, 256}, 2);
    check_encode(tk, " the", (const int32_t[]){258, 256}, 2);
    check_encode(tk, "tha", (const int32_t[]){257, 64}, 2);
    /* merges chain: ca -> caf -> café; a leading space stays a byte token */
    check_encode(tk, "caf\xc3\xa9", (const int32_t[]){262}, 1);
    check_encode(tk, " caf\xc3\xa9", (const int32_t[]){220, 262}, 2);
    check_encode(tk, "\xc3\xa9\xc3\xa9n", (const int32_t[]){273, 77}, 2);
    check_encode(tk, " \xc3\xa9t\xc3\xa9", (const int32_t[]){272, 83, 261}, 3);
    whisper_tokenizer_free(tk);
}

TEST(bpe_whole_piece_and_bytes)
{
    whisper_tokenizer *tk = toy_tokenizer(2);
    /* a piece that is a token is used whole even without the merges to reach it */
    check_encode(tk, "xyz", (const int32_t[]){271}, 1);
    check_encode(tk, " xyz", (const int32_t[]){220, 87, 88, 89}, 4);
    check_encode(tk, "I'm doing 2024", (const int32_t[]){40, 267, 220, 67, 78, 269, 220, 265, 17, 19}, 10);
    check_encode(tk, "\xf0\x9f\x91\x8b", (const int32_t[]){172, 253, 239, 233}, 4);
    /* a NUL-free control byte and invalid UTF-8 still round-trip */
    int32_t *ids;
    size_t n;
    ASSERT_OK(whisper_tokenize(tk, "a\x01\xff" "b", &ids, &n));
    uint8_t *b;
    size_t len;
    ASSERT_OK(whisper_tokens_bytes(tk, ids, n, 1, &b, &len));
    ASSERT_EQ(len, 4);
    ASSERT_TRUE(memcmp(b, "a\x01\xff" "b", 4) == 0);
    free(b);
    free(ids);
    whisper_tokenizer_free(tk);
}

TEST(special_layout_and_names)
{
    whisper_tokenizer *tk = toy_tokenizer(2);
    const whisper_special *sp = whisper_tokenizer_special(tk);
    ASSERT_EQ(sp->eot, N_BPE);
    ASSERT_EQ(sp->sot, N_BPE + 1);
    ASSERT_EQ(sp->first_lang, N_BPE + 2);
    ASSERT_EQ(sp->translate, N_BPE + 4);
    ASSERT_EQ(sp->notimestamps, N_BPE + 9);
    ASSERT_EQ(sp->timestamp_begin, N_BPE + 10);
    ASSERT_EQ(whisper_tokenizer_n_vocab(tk) - sp->timestamp_begin, 1501);
    ASSERT_EQ(sp->n_langs, 2);
    char name[32];
    ASSERT_OK(whisper_token_name(tk, sp->timestamp_begin + 75, name, sizeof name));
    ASSERT_STR_EQ(name, "<|1.50|>");
    ASSERT_OK(whisper_token_name(tk, sp->first_lang + 1, name, sizeof name));
    ASSERT_STR_EQ(name, "<|zh|>");
    ASSERT_OK(whisper_token_name(tk, sp->eot, name, sizeof name));
    ASSERT_STR_EQ(name, "<|endoftext|>");
    const uint8_t *b;
    size_t len;
    ASSERT_OK(whisper_token_bytes(tk, sp->sot, &b, &len));
    ASSERT_EQ(len, 0);
    ASSERT_EQ(whisper_token_bytes(tk, whisper_tokenizer_n_vocab(tk), &b, &len), SOTTO_EINVAL);
    whisper_tokenizer_free(tk);

    /* the real layouts: multilingual 51865 (eot 50257, ts 50364) and .en 51864 */
    static uint8_t bytes[256];
    const uint8_t **toks = malloc(sizeof *toks * 50257);
    uint32_t *lens = malloc(sizeof *lens * 50257);
    for (int i = 0; i < 256; i++)
        bytes[i] = (uint8_t)i;
    for (int i = 0; i < 50257; i++)
        toks[i] = &bytes[i % 256], lens[i] = 1;
    ASSERT_OK(whisper_tokenizer_new_vocab(toks, lens, 50257, 51865, &tk));
    sp = whisper_tokenizer_special(tk);
    ASSERT_EQ(sp->eot, 50257);
    ASSERT_EQ(sp->translate, 50358);
    ASSERT_EQ(sp->timestamp_begin, 50364);
    ASSERT_EQ(sp->n_langs, 99);
    ASSERT_TRUE(sp->multilingual);
    whisper_tokenizer_free(tk);
    ASSERT_OK(whisper_tokenizer_new_vocab(toks, lens, 50256, 51864, &tk));
    sp = whisper_tokenizer_special(tk);
    ASSERT_EQ(sp->eot, 50256);
    ASSERT_EQ(sp->transcribe, 50358);
    ASSERT_EQ(sp->timestamp_begin, 50363);
    ASSERT_TRUE(!sp->multilingual);
    whisper_tokenizer_free(tk);
    ASSERT_OK(whisper_tokenizer_new_vocab(toks, lens, 50257, 51866, &tk));
    ASSERT_EQ(whisper_tokenizer_special(tk)->timestamp_begin, 50365);
    ASSERT_EQ(whisper_tokenizer_special(tk)->n_langs, 100);
    whisper_tokenizer_free(tk);
    /* too small a total for the specials is a format error, not a crash */
    ASSERT_EQ(whisper_tokenizer_new_vocab(toks, lens, 50257, 50300, &tk), SOTTO_EFORMAT);
    free(toks);
    free(lens);
}

TEST(language_codes)
{
    ASSERT_STR_EQ(whisper_lang_code(0), "en");
    ASSERT_STR_EQ(whisper_lang_code(12), "nl");
    ASSERT_STR_EQ(whisper_lang_code(98), "su");
    ASSERT_STR_EQ(whisper_lang_code(99), "yue");
    ASSERT_TRUE(whisper_lang_code(100) == NULL);
    ASSERT_EQ(whisper_lang_index("haw"), 93);
    ASSERT_EQ(whisper_lang_index("nl"), 12);
    ASSERT_EQ(whisper_lang_index("xx"), -1);
}

TEST(utf8_hold_back)
{
    /* "é" split over two tokens: the first byte alone is held back */
    ASSERT_EQ(whisper_utf8_complete((const uint8_t *)"caf\xc3", 4), 3);
    ASSERT_EQ(whisper_utf8_complete((const uint8_t *)"caf\xc3\xa9", 5), 5);
    /* a 4-byte emoji arriving 1, 2, 3 bytes at a time */
    const uint8_t wave[] = {'a', 0xF0, 0x9F, 0x91, 0x8B};
    ASSERT_EQ(whisper_utf8_complete(wave, 2), 1);
    ASSERT_EQ(whisper_utf8_complete(wave, 3), 1);
    ASSERT_EQ(whisper_utf8_complete(wave, 4), 1);
    ASSERT_EQ(whisper_utf8_complete(wave, 5), 5);
    /* invalid bytes are not held (they never complete) */
    ASSERT_EQ(whisper_utf8_complete((const uint8_t *)"a\xff", 2), 2);
    ASSERT_EQ(whisper_utf8_complete((const uint8_t *)"\xc3(", 2), 2);
    /* replacement as Python's errors="replace": one U+FFFD per maximal invalid part */
    char *s = whisper_utf8_sanitize((const uint8_t *)"a\xe2\x82(\xff", 5);
    ASSERT_STR_EQ(s, "a\xef\xbf\xbd(\xef\xbf\xbd");
    free(s);
}

TEST(detokenize_streaming)
{
    whisper_tokenizer *tk = toy_tokenizer(2);
    const whisper_special *sp = whisper_tokenizer_special(tk);
    /* "café" with é as two byte tokens (0xC3 = id 162-ish): find the ids by encoding */
    int32_t ids[8] = {0};
    size_t n = 0;
    const uint8_t *b;
    size_t len;
    for (int32_t id = 0; id < 256; id++) {
        ASSERT_OK(whisper_token_bytes(tk, id, &b, &len));
        if (b[0] == 0xC3)
            ids[2] = id;
        if (b[0] == 0xA9)
            ids[3] = id;
    }
    ids[0] = sp->timestamp_begin;
    ids[1] = 260; /* "caf" */
    ids[4] = sp->timestamp_begin + 10;
    n = 5;
    char *text;
    ASSERT_OK(whisper_detokenize(tk, ids, n, &text));
    ASSERT_STR_EQ(text, "caf\xc3\xa9");
    free(text);
    /* shown progressively: after the 0xC3 token only "caf" is complete */
    uint8_t *acc;
    ASSERT_OK(whisper_tokens_bytes(tk, ids, 3, 1, &acc, &len));
    ASSERT_EQ(whisper_utf8_complete(acc, len), 3);
    free(acc);
    whisper_tokenizer_free(tk);
}
