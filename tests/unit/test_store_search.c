/*
 * test_store_search.c - the store's full-text search: ranking, phrases and snippets,
 * query syntax taken as text, deletion cascading into the index, and timings over 100k
 * messages.
 */
#include <sqlite3.h>
#include <stdint.h>

#include "check.h"
#include "store_test_fixtures.h"

/* How many hits query gets for user, as one page of at most limit (0: no limit). */
static size_t n_hits(sotto_store *st, int64_t user, const char *query, int limit)
{
    sotto_search_hit *hits;
    size_t n;
    ASSERT_OK(sotto_store_search(st, user, query, limit, 0, &hits, &n));
    sotto_search_hits_free(hits, n);
    return n;
}

/* The seq of the one message query finds for user (exactly one hit, asserted). */
static int64_t only_hit_seq(sotto_store *st, int64_t user, const char *query)
{
    sotto_search_hit *hits;
    size_t n;
    ASSERT_OK(sotto_store_search(st, user, query, 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    int64_t seq = hits[0].message.seq;
    sotto_search_hits_free(hits, n);
    return seq;
}

/* ---- full-text search ------------------------------------------------------------- */

TEST(search_ranking_phrases_snippets)
{
    sotto_store *st = open_store("search");
    int64_t user = add_user(st, "alice");
    char ses[SOTTO_ID_LEN];
    new_session(st, user, "chat", ses);
    append(st, user, ses, "the weather today is fine and we talk about lunch plans");
    append(st, user, ses, "weather again: the weather report says rain for the weekend");
    append(st, user, ses, "nothing relevant in this message at all");
    append(st, user, ses, "a quick brown fox jumps over the lazy dog");
    append(st, user, ses, "the brown dog is quick to eat");
    append(st, user, ses, "Caf\xc3\xa9 cr\xc3\xa8me is served this or that way");

    sotto_search_hit *hits;
    size_t n;
    ASSERT_OK(sotto_store_search(st, user, "weather", 10, 0, &hits, &n));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(hits[0].message.seq, 2); /* the term twice ranks above once */
    ASSERT_EQ(hits[1].message.seq, 1);
    ASSERT_TRUE(hits[0].rank < hits[1].rank);
    ASSERT_STR_CONTAINS(hits[0].snippet, "[weather]");
    ASSERT_STR_CONTAINS(hits[1].snippet, "[weather]");
    ASSERT_STR_CONTAINS(hits[0].message.content, "weather report");
    sotto_search_hits_free(hits, n);

    /* offset/limit page through the same order */
    ASSERT_OK(sotto_store_search(st, user, "weather", 1, 1, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 1);
    sotto_search_hits_free(hits, n);

    /* words are ANDed; a quoted phrase must appear in order */
    ASSERT_EQ(n_hits(st, user, "quick brown", 10), 2);
    ASSERT_OK(sotto_store_search(st, user, "\"quick brown\"", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 4);
    ASSERT_STR_CONTAINS(hits[0].snippet, "[quick brown]"); /* a phrase is marked whole */
    sotto_search_hits_free(hits, n);

    /* accents folded; a long message gets an ellipsis in its snippet */
    ASSERT_EQ(only_hit_seq(st, user, "cafe"), 6);
    char longtext[4096];
    size_t o = 0;
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(longtext + o, sizeof longtext - o, "filler%d ", i);
    snprintf(longtext + o, sizeof longtext - o, "needle at the end");
    append(st, user, ses, longtext);
    ASSERT_OK(sotto_store_search(st, user, "needle", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_CONTAINS(hits[0].snippet, "[needle]");
    ASSERT_STR_CONTAINS(hits[0].snippet, "\xe2\x80\xa6");
    ASSERT_TRUE(strlen(hits[0].snippet) < 300);
    sotto_search_hits_free(hits, n);
    sotto_store_close(st);
}

TEST(search_query_syntax_is_text)
{
    sotto_store *st = open_store("syntax");
    int64_t user = add_user(st, "alice");
    char ses[SOTTO_ID_LEN];
    new_session(st, user, "chat", ses);
    append(st, user, ses, "this or that near the foobar column");
    append(st, user, ses, "foo alone");
    static const char *const queries[] = {"\"",
                                          "\"\"",
                                          "*",
                                          "foo*",
                                          "NEAR(",
                                          "NEAR(foo bar)",
                                          "OR",
                                          "foo OR bar",
                                          "-",
                                          "-foo",
                                          ":",
                                          "content:foo",
                                          "\"unterminated phrase",
                                          "a AND",
                                          "AND",
                                          "NOT foo",
                                          "(",
                                          ")",
                                          "^foo",
                                          "{content}: foo",
                                          "+",
                                          "foo\"bar",
                                          "''",
                                          "\\",
                                          "%",
                                          "    ",
                                          "",
                                          "*:* OR 1=1",
                                          "\xff\xfe",
                                          "\xc3",
                                          "rank:1",
                                          "messages_fts",
                                          "NEAR(\"a\" \"b\", 2)"};
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        sotto_search_hit *hits = NULL;
        size_t n = 99;
        int rc = sotto_store_search(st, user, queries[i], 10, 0, &hits, &n);
        if (rc != 0)
            CHECK_FAIL("query '%s' failed: %s", queries[i], sotto_last_error());
        sotto_search_hits_free(hits, n);
    }
    /* operators are searched as words: "OR" finds the message with "or" in it, "foo*" is
     * not a prefix query (it does not match "foobar"), "-foo" still finds foo */
    ASSERT_EQ(only_hit_seq(st, user, "OR"), 1);
    ASSERT_EQ(only_hit_seq(st, user, "foo*"), 2);
    ASSERT_EQ(n_hits(st, user, "-foo", 10), 1);
    /* both "near" and "that" must appear: only message 1 ... */
    ASSERT_EQ(n_hits(st, user, "NEAR(that", 10), 0);
    ASSERT_EQ(n_hits(st, user, "that NEAR", 10), 1); /* ... where NEAR is an ordinary word */
    sotto_store_close(st);
}

TEST(delete_cascades_to_messages_and_search)
{
    sotto_store *st = open_store("cascade");
    int64_t user = add_user(st, "alice");
    char a[SOTTO_ID_LEN], b[SOTTO_ID_LEN];
    new_session(st, user, "chat", a);
    new_session(st, user, "chat", b);
    for (int i = 0; i < 5; i++)
        append(st, user, a, "zebra crossing number");
    append(st, user, b, "zebra in the other session");
    sotto_search_hit *hits;
    size_t n;
    ASSERT_EQ(n_hits(st, user, "zebra", 0), 6);
    ASSERT_OK(sotto_store_session_delete(st, user, a));
    ASSERT_OK(sotto_store_search(st, user, "zebra", 0, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(hits[0].message.session_id, b);
    sotto_search_hits_free(hits, n);
    ASSERT_EQ(n_hits(st, user, "crossing", 0), 0);
    sotto_store_close(st);
    const char *path = db_path("cascade");
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM messages"), 1);
    /* the index itself no longer holds the deleted rows' terms */
    ASSERT_EQ(
        count_rows(path, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'crossing'"),
        0);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')",
                           NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
}

/* ---- scale -------------------------------------------------------------------------- */

/* 100k messages through the API (in job completions: one transaction per 1000 messages),
 * then timed searches for rare, medium and common terms and a phrase. */
TEST(search_100k_messages_timing)
{
    sotto_store *st = open_store("scale");
    int64_t user = add_user(st, "alice"), other = add_user(st, "bob");
    enum { N_BATCH = 100, PER_BATCH = 1000 };
    static sotto_message msgs[PER_BATCH];
    static char texts[PER_BATCH][160];
    uint32_t rng = 12345;
    double t0 = now_s();
    for (int b = 0; b < N_BATCH; b++) {
        for (int i = 0; i < PER_BATCH; i++) {
            size_t o = 0;
            for (int w = 0; w < 12; w++) {
                rng = rng * 1664525u + 1013904223u;
                unsigned v = (rng >> 8) % 5000; /* a 5000-word vocabulary, Zipf-ish below */
                unsigned word = (v * v) / 5000;
                o += (size_t)snprintf(texts[i] + o, sizeof texts[i] - o, "w%u ", word);
            }
            if ((b * PER_BATCH + i) % 1000 == 7)
                snprintf(texts[i] + o, sizeof texts[i] - o, "rareterm");
            sotto_message_init(&msgs[i]);
            snprintf(msgs[i].role, sizeof msgs[i].role, "user");
            msgs[i].content = texts[i];
        }
        sotto_job in;
        memset(&in, 0, sizeof in);
        in.user_id = b % 10 == 9 ? other : user;
        in.input_path = "/tmp/in.wav";
        char id[SOTTO_ID_LEN];
        ASSERT_OK(sotto_store_job_create(st, &in, id));
        sotto_job job;
        ASSERT_EQ(sotto_store_job_claim(st, "w", &job), 1);
        sotto_job_clear(&job);
        sotto_session ses;
        memset(&ses, 0, sizeof ses);
        ASSERT_OK(sotto_store_job_complete(st, id, "{}", NULL, &ses, msgs, PER_BATCH));
    }
    double t_insert = now_s() - t0;
    ASSERT_EQ(count_rows(db_path("scale"), "SELECT count(*) FROM messages"), N_BATCH * PER_BATCH);

    static const char *const queries[] = {"rareterm", "w3000", "w100", "w0", "w1 w2", "\"w0 w0\""};
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
        int reps = 5;
        size_t n = 0;
        double t1 = now_s();
        for (int r = 0; r < reps; r++) {
            sotto_search_hit *hits;
            ASSERT_OK(sotto_store_search(st, user, queries[q], 20, 0, &hits, &n));
            for (size_t i = 0; i < n; i++) {
                ASSERT_EQ(hits[i].message.id > 0, 1);
                if (i)
                    ASSERT_TRUE(hits[i].rank >= hits[i - 1].rank);
            }
            sotto_search_hits_free(hits, n);
        }
        double ms = 1e3 * (now_s() - t1) / reps;
        printf("search '%s' over 100k messages: %.2f ms (%zu hits shown)\n", queries[q], ms, n);
        ASSERT_TRUE(n > 0);
    }
    ASSERT_EQ(n_hits(st, user, "rareterm", 1000), 90); /* 100 carry it; bob's 10 are not alice's */
    printf("insert: %d messages in %.2f s (%.0f msg/s, 1000 per transaction)\n",
           N_BATCH * PER_BATCH, t_insert, N_BATCH * PER_BATCH / t_insert);
    sotto_store_close(st);
}
