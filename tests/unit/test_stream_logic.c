/* test_stream_logic.c - the pure parts of the live-recognition engine, without audio:
 * the LocalAgreement-2 commit and skip rules (with the word-boundary rule), the prompt's
 * static part and rolling context trimmed by whole words, and the built-in domain lists. */
#include <string.h>

#include "check.h"
#include "sotto/error.h"
#include "sotto/stream.h"
#include "stream/stream_int.h"

static sotto_word W(const char *w, double start, double end)
{
    sotto_word x = {(char *)w, start, end, 0.9f};
    return x;
}

TEST(la_commit_logic)
{
    /* two hypotheses agree on "the meeting has"; "been" differs */
    sotto_word prev[] = {W(" the", 0.0, 0.2), W(" meeting", 0.2, 0.6), W(" has", 0.6, 0.8),
                         W(" bean", 0.8, 1.0)};
    sotto_word cur[] = {W("the", 0.0, 0.2), W("meeting", 0.2, 0.6), W("has", 0.6, 0.8),
                        W("been", 0.8, 1.1), W("moved", 1.1, 1.5)};
    ASSERT_EQ(la_commit_count(prev, 4, cur, 5, 2.0, 0.2, 0), 3);
    /* word boundary: "has" ends 0.1 s before the buffer end: held back, and so is
     * everything after it */
    ASSERT_EQ(la_commit_count(prev, 4, cur, 5, 0.9, 0.2, 0), 2);
    ASSERT_EQ(la_commit_count(prev, 4, cur, 5, 1.0, 0.2, 0), 3);
    ASSERT_EQ(la_commit_count(prev, 4, cur, 5, 0.75, 0.2, 0), 1);
    /* at the utterance end everything goes, touching the end or not */
    ASSERT_EQ(la_commit_count(prev, 4, cur, 5, 1.5, 0.2, 1), 5);
    /* nothing to agree with yet */
    ASSERT_EQ(la_commit_count(NULL, 0, cur, 5, 9.0, 0.2, 0), 0);
    ASSERT_EQ(la_commit_count(prev, 4, NULL, 0, 9.0, 0.2, 0), 0);
    ASSERT_TRUE(la_word_eq(" has ", "has"));
    ASSERT_TRUE(!la_word_eq("has", "Has"));

    /* skip: words before last_end - 0.1 go; then repeats of the committed tail */
    sotto_word tail[] = {W("the", 0.0, 0.2), W("meeting", 0.2, 0.6)};
    sotto_word hyp[] = {W("the", 0.0, 0.2), W("meeting", 0.2, 0.6), W("has", 0.6, 0.8)};
    ASSERT_EQ(la_skip(tail, 2, hyp, 3, 0.6), 2);
    /* times shifted (a re-decode after trimming): the repeat check removes them */
    sotto_word hyp2[] = {W("the", 0.55, 0.6), W("meeting", 0.6, 0.9), W("has", 0.9, 1.0)};
    ASSERT_EQ(la_skip(tail, 2, hyp2, 3, 0.6), 2);
    /* only the tail's last word repeats */
    sotto_word hyp3[] = {W("meeting", 0.55, 0.7), W("has", 0.7, 0.9)};
    ASSERT_EQ(la_skip(tail, 2, hyp3, 2, 0.6), 1);
    /* far from the committed end: no repeat check */
    sotto_word hyp4[] = {W("meeting", 3.0, 3.3)};
    ASSERT_EQ(la_skip(tail, 2, hyp4, 1, 0.6), 0);
    ASSERT_EQ(la_skip(NULL, 0, hyp, 3, -1e9), 0);
}

TEST(context_trims_whole_words_keeps_static)
{
    stream_context c;
    ASSERT_OK(context_init(&c, "business", "Acme Corp, , widget ", "Quarterly call.", 5));
    const char *p = context_prompt(&c, 1e9);
    ASSERT_TRUE(p != NULL);
    ASSERT_STR_CONTAINS(p, "EBITDA");
    ASSERT_STR_CONTAINS(p, "Acme Corp, widget. Quarterly call.");
    char static_part[4096];
    snprintf(static_part, sizeof static_part, "%s", p);

    ASSERT_OK(context_add_text(&c, "one two three four", 1.0));
    ASSERT_OK(context_add_text(&c, "five six seven", 2.0));
    p = context_prompt(&c, 1e9);
    /* five words kept: the oldest two went, whole */
    char want[4200];
    snprintf(want, sizeof want, "%s three four five six seven", static_part);
    ASSERT_STR_EQ(p, want);
    /* words still inside the buffer (start >= 2.0) are left out of the prompt */
    p = context_prompt(&c, 2.0);
    snprintf(want, sizeof want, "%s three four", static_part);
    ASSERT_STR_EQ(p, want);
    context_free(&c);

    /* no static part, no words: no prompt */
    ASSERT_OK(context_init(&c, NULL, NULL, NULL, 120));
    ASSERT_TRUE(context_prompt(&c, 1e9) == NULL);
    sotto_word w[] = {W(" Hello", 0.5, 0.8), W(" world.", 0.8, 1.2)};
    ASSERT_OK(context_add_words(&c, w, 2));
    ASSERT_STR_EQ(context_prompt(&c, 1e9), "Hello world.");
    context_free(&c);
    ASSERT_EQ(context_init(&c, "cooking", NULL, NULL, 10), SOTTO_EINVAL);
}

TEST(domain_lookup)
{
    const char *names[] = {"medical", "legal", "technical", "business", "education"};
    for (int i = 0; i < 5; i++) {
        const char *terms = NULL;
        ASSERT_OK(sotto_stream_domain_terms(names[i], &terms));
        int n = 1;
        for (const char *p = terms; *p; p++)
            n += *p == ',';
        ASSERT_TRUE(n >= 20 && n <= 40);
    }
    const char *t = NULL;
    ASSERT_OK(sotto_stream_domain_terms("medical", &t));
    ASSERT_STR_CONTAINS(t, "tachycardia");
    ASSERT_EQ(sotto_stream_domain_terms("astrology", &t), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "education");
    ASSERT_EQ(sotto_stream_domain_terms(NULL, &t), SOTTO_EINVAL);
}

