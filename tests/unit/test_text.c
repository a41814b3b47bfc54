/* test_text.c - normalization, number spelling and word error rate. */
#include <stdint.h>

#include "check.h"
#include "sotto/buf.h"
#include "sotto/error.h"
#include "sotto/text.h"

static void check_norm(const char *in, const char *want)
{
    char *got = sotto_text_normalize(in);
    if (!got || strcmp(got, want) != 0)
        CHECK_FAIL("normalize(\"%s\"):\n  got:      \"%s\"\n  expected: \"%s\"", in,
                   got ? got : "(null)", want);
    free(got);
}

TEST(normalize_case_punctuation_whitespace)
{
    check_norm("Hello, World!", "hello world");
    check_norm("  a \t b\n\nc  ", "a b c");
    check_norm("", "");
    check_norm("?!...", "");
    check_norm("well-known self-driving cars", "well known self driving cars");
    check_norm("e.g. (this) [that]; \"so\": yes", "e g this that so yes");
}

TEST(normalize_apostrophes_inside_words_only)
{
    check_norm("Don't 'quote' me", "don't quote me");
    check_norm("the dogs' bowls", "the dogs bowls");
    check_norm("rock 'n' roll", "rock n roll");
    check_norm("don\xe2\x80\x99t \xe2\x80\x9chi\xe2\x80\x9d", "don't hi"); /* ’ “ ” */
}

TEST(normalize_utf8_letters_kept_invalid_bytes_break)
{
    check_norm("Caf\xc3\xa9 \xc3\x89LAN", "caf\xc3\xa9 \xc3\x89lan"); /* only ASCII lowers */
    check_norm("a\xff"
               "b",
               "a b");
    check_norm("a\xe2\x80\x94"
               "b",
               "a b");                                                              /* em dash */
    check_norm("\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82", "\xe4\xbd\xa0\xe5\xa5\xbd"); /* 你好。 */
    check_norm("truncated \xe4\xbd", "truncated");
}

TEST(numbers_integers_to_words)
{
    check_norm("0", "zero");
    check_norm("7", "seven");
    check_norm("13", "thirteen");
    check_norm("40", "forty");
    check_norm("123", "one hundred twenty three");
    check_norm("1000000", "one million");
    check_norm("2,500,001", "two million five hundred thousand one");
    check_norm("1,000", "one thousand");
    check_norm("999,999,999,999",
               "nine hundred ninety nine billion nine hundred ninety nine million "
               "nine hundred ninety nine thousand nine hundred ninety nine");
    check_norm("I have 2 dogs", "i have two dogs");
}

TEST(numbers_decimals_ordinals_percent)
{
    check_norm("3.5", "three point five");
    check_norm("pi is 3.14.", "pi is three point one four");
    check_norm("21st", "twenty first");
    check_norm("2nd 3rd 4th 12th 20th 100th 1st",
               "second third fourth twelfth twentieth one hundredth first");
    check_norm("50%", "fifty percent");
    check_norm("12.5 %", "twelve point five percent");
}

TEST(numbers_long_or_zero_led_runs_read_digit_by_digit)
{
    check_norm("007", "zero zero seven");
    check_norm("1234567890123", "one two three four five six seven eight nine zero one two three");
    check_norm("1,2", "one two"); /* a list, not thousands */
    check_norm("1,0000", "one zero zero zero zero");
    check_norm("mp3", "mp three");
    check_norm("-5", "five");
}

TEST(wer_identical_is_zero)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer("the cat sat down", "the cat sat down", &w));
    ASSERT_EQ(w.ref_words, 4);
    ASSERT_EQ(w.hyp_words, 4);
    ASSERT_EQ(w.substitutions + w.deletions + w.insertions, 0);
    ASSERT_NEAR(w.wer, 0.0, 1e-12);
}

TEST(wer_one_substitution_in_four)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer("the cat sat down", "the bat sat down", &w));
    ASSERT_EQ(w.substitutions, 1);
    ASSERT_EQ(w.deletions, 0);
    ASSERT_EQ(w.insertions, 0);
    ASSERT_NEAR(w.wer, 0.25, 1e-12);
}

TEST(wer_counts_insertions_and_deletions)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer("the cat sat down", "the cat down", &w));
    ASSERT_EQ(w.deletions, 1);
    ASSERT_EQ(w.substitutions + w.insertions, 0);
    ASSERT_NEAR(w.wer, 0.25, 1e-12);

    ASSERT_OK(sotto_text_wer("the cat sat down", "well the cat sat right down now", &w));
    ASSERT_EQ(w.insertions, 3);
    ASSERT_EQ(w.substitutions + w.deletions, 0);
    ASSERT_EQ(w.hyp_words, 7);
    ASSERT_NEAR(w.wer, 0.75, 1e-12);

    /* I x, D d, I y; any substitution-based alignment needs more edits */
    ASSERT_OK(sotto_text_wer("a b c d e f g h", "x a b c e f g h y", &w));
    ASSERT_EQ(w.insertions, 2);
    ASSERT_EQ(w.deletions, 1);
    ASSERT_EQ(w.substitutions, 0);
    ASSERT_NEAR(w.wer, 0.375, 1e-12);
}

TEST(wer_ignores_case_punctuation_and_number_form)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer("Hello, World! It's 5 o'clock.", "hello world its five o'clock", &w));
    ASSERT_EQ(w.substitutions, 1); /* it's vs its: apostrophes inside words count */
    ASSERT_OK(sotto_text_wer("Hello, World!", "HELLO world", &w));
    ASSERT_NEAR(w.wer, 0.0, 1e-12);
    ASSERT_OK(sotto_text_wer("I have 2 dogs", "i have two dogs", &w));
    ASSERT_NEAR(w.wer, 0.0, 1e-12);
    ASSERT_EQ(w.ref_words, 4);
}

TEST(wer_empty_reference_rules)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer("", "", &w));
    ASSERT_NEAR(w.wer, 0.0, 1e-12);
    ASSERT_EQ(w.ref_words + w.hyp_words, 0);
    ASSERT_OK(sotto_text_wer("  ...  ", "uh huh", &w));
    ASSERT_EQ(w.insertions, 2);
    ASSERT_EQ(w.ref_words, 0);
    ASSERT_NEAR(w.wer, 1.0, 1e-12);
    ASSERT_OK(sotto_text_wer("two words", "", &w));
    ASSERT_EQ(w.deletions, 2);
    ASSERT_NEAR(w.wer, 1.0, 1e-12);
    ASSERT_EQ(sotto_text_wer(NULL, "x", &w), SOTTO_EINVAL);
}

TEST(wer_corpus_accumulates_and_recomputes)
{
    sotto_wer total = {0}, w;
    ASSERT_OK(sotto_text_wer("the cat sat down", "the bat sat down", &w)); /* 1 / 4 */
    sotto_wer_add(&total, &w);
    ASSERT_OK(sotto_text_wer("a b c d e f", "a b c d e f", &w)); /* 0 / 6 */
    sotto_wer_add(&total, &w);
    ASSERT_OK(sotto_text_wer("", "extra", &w)); /* 1 insertion / 0 */
    sotto_wer_add(&total, &w);
    ASSERT_EQ(total.ref_words, 10);
    ASSERT_EQ(total.hyp_words, 11);
    ASSERT_EQ(total.substitutions, 1);
    ASSERT_EQ(total.insertions, 1);
    ASSERT_NEAR(total.wer, 0.2, 1e-12);
}

/* Independent full-matrix Levenshtein over single-letter words. */
static size_t ref_distance(const char *a, size_t n, const char *b, size_t m)
{
    size_t d[41][41];
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = i + j;
                continue;
            }
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

static void words_of(const char *letters, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = letters[i];
        out[k++] = ' ';
    }
    out[k] = '\0';
}

TEST(wer_matches_full_dp_on_random_pairs)
{
    uint32_t seed = 12345;
    for (int trial = 0; trial < 2000; trial++) {
        char a[40], b[40], ta[100], tb[100];
        seed = seed * 1664525u + 1013904223u;
        size_t n = (seed >> 8) % 40, m;
        seed = seed * 1664525u + 1013904223u;
        m = (seed >> 8) % 40;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            a[i] = (char)('a' + (seed >> 16) % 3);
        }
        for (size_t i = 0; i < m; i++) {
            seed = seed * 1664525u + 1013904223u;
            b[i] = (char)('a' + (seed >> 16) % 3);
        }
        words_of(a, n, ta);
        words_of(b, m, tb);
        sotto_wer w;
        ASSERT_OK(sotto_text_wer(ta, tb, &w));
        ASSERT_EQ(w.substitutions + w.deletions + w.insertions, ref_distance(a, n, b, m));
        /* the counts describe a real alignment: matched+substituted pairs agree */
        ASSERT_EQ(w.ref_words - w.deletions, w.hyp_words - w.insertions);
    }
}

/* Distinct letters-only word for index i ("ba", "bb", ...), so alignments are unique. */
static void put_index_word(sotto_buf *b, size_t i, char first)
{
    char w[16];
    size_t k = 0;
    w[k++] = first;
    do {
        w[k++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    w[k++] = ' ';
    sotto_buf_append(b, w, k);
}

TEST(wer_long_inputs_band_and_full)
{
    /* 50k words with 10 S, 5 D, 3 I spread out: the band path */
    sotto_buf ref = SOTTO_BUF_INIT, hyp = SOTTO_BUF_INIT;
    size_t n = 50000;
    for (size_t i = 0; i < n; i++) {
        put_index_word(&ref, i, 'b');
        if (i % 5000 == 100)
            put_index_word(&hyp, i, 'z'); /* substitution */
        else if (i % 10000 == 2000)
            continue; /* deletion */
        else
            put_index_word(&hyp, i, 'b');
        if (i == 7777 || i == 27777 || i == 47777)
            put_index_word(&hyp, i, 'q'); /* insertion */
    }
    sotto_wer w;
    ASSERT_OK(sotto_text_wer(ref.data, hyp.data, &w));
    ASSERT_EQ(w.ref_words, n);
    ASSERT_EQ(w.substitutions, 10);
    ASSERT_EQ(w.deletions, 5);
    ASSERT_EQ(w.insertions, 3);
    ASSERT_NEAR(w.wer, 18.0 / 50000.0, 1e-12);

    /* wholly different texts: the band widens to the full matrix */
    sotto_buf_reset(&ref);
    sotto_buf_reset(&hyp);
    for (size_t i = 0; i < 3000; i++)
        put_index_word(&ref, i, 'b');
    for (size_t i = 0; i < 2000; i++)
        put_index_word(&hyp, i, 'c');
    ASSERT_OK(sotto_text_wer(ref.data, hyp.data, &w));
    ASSERT_EQ(w.substitutions, 2000);
    ASSERT_EQ(w.deletions, 1000);
    ASSERT_EQ(w.insertions, 0);
    sotto_buf_free(&ref);
    sotto_buf_free(&hyp);
}
