/*
 * test_store.c - the store: opening and migrations, users and keys, sessions, messages,
 * statistics and isolation between users. Seq numbering under concurrency and across
 * SIGKILL is in test_store_seq.c, full-text search in test_store_search.c, jobs in
 * test_store_jobs.c.
 */
#define _GNU_SOURCE /* memmem */
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "store/store_int.h"
#include "store_test_fixtures.h"

/* ---- open and migrations ---------------------------------------------------------- */

TEST(open_fresh_is_latest_version)
{
    sotto_store *st = open_store("fresh");
    ASSERT_EQ(sotto_store_schema_version(st), STORE_SCHEMA_VERSION);
    ASSERT_OK(sotto_store_ping(st));
    sotto_store_close(st);
    /* reopening applies nothing and keeps the version; "sqlite:" prefix accepted */
    char loc[600];
    snprintf(loc, sizeof loc, "sqlite:%s", db_path("fresh"));
    ASSERT_OK(sotto_store_open(loc, &st));
    ASSERT_EQ(sotto_store_schema_version(st), STORE_SCHEMA_VERSION);
    sotto_store_close(st);
    sotto_store_close(NULL);

    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path("fresh"), &db), SQLITE_OK);
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

TEST(open_newer_version_refused)
{
    sotto_store *st = open_store("newer");
    sotto_store_close(st);
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path("newer"), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = NULL;
    ASSERT_EQ(sotto_store_open(db_path("newer"), &st), SOTTO_ENOTSUP);
    ASSERT_TRUE(st == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "schema version 99");
    ASSERT_STR_CONTAINS(sotto_last_error(), "newer than this build");
}

TEST(open_bad_locations)
{
    sotto_store *st = NULL;
    ASSERT_EQ(sotto_store_open("/nonexistent-dir/x/store.db", &st), SOTTO_EIO);
    ASSERT_STR_CONTAINS(sotto_last_error(), "cannot open");
    ASSERT_EQ(sotto_store_open(":memory:", &st), SOTTO_EINVAL);
    ASSERT_EQ(sotto_store_open("postgres://db/sotto", &st), SOTTO_ENOTSUP);
    ASSERT_EQ(sotto_store_open("", &st), SOTTO_EINVAL);
    /* a file that is not a database */
    FILE *f = fopen(db_path("garbage"), "wb");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < 4096; i++)
        fputc('x', f);
    fclose(f);
    int rc = sotto_store_open(db_path("garbage"), &st);
    ASSERT_TRUE(rc == SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "store: ");
    ASSERT_TRUE(st == NULL);
}

/* ---- users and keys --------------------------------------------------------------- */

TEST(users_add_get)
{
    sotto_store *st = open_store("users");
    sotto_user u, g;
    ASSERT_OK(sotto_store_user_add(st, "alice", 1, &u));
    ASSERT_STR_EQ(u.name, "alice");
    ASSERT_EQ(u.is_admin, 1);
    ASSERT_OK(sotto_store_user_get(st, "alice", &g));
    ASSERT_EQ(g.id, u.id);
    ASSERT_EQ(g.is_admin, 1);
    ASSERT_NEAR(g.created_at, u.created_at, 1e-3);
    ASSERT_EQ(sotto_store_user_add(st, "alice", 0, &u), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "already exists");
    ASSERT_EQ(sotto_store_user_get(st, "bob", &g), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_user_add(st, "", 0, &u), SOTTO_EINVAL);
    ASSERT_EQ(sotto_store_user_add(st, "a\nb", 0, &u), SOTTO_EINVAL);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ASSERT_EQ(sotto_store_user_add(st, longname, 0, &u), SOTTO_EINVAL);
    sotto_store_close(st);
}

TEST(keys_new_lookup_revoke)
{
    sotto_store *st = open_store("keys");
    int64_t alice = add_user(st, "alice"), bob = add_user(st, "bob");
    char k1[64], k2[64], kb[64];
    ASSERT_OK(sotto_store_key_new(st, alice, k1, sizeof k1));
    ASSERT_OK(sotto_store_key_new(st, alice, k2, sizeof k2));
    ASSERT_OK(sotto_store_key_new(st, bob, kb, sizeof kb));
    ASSERT_EQ(strlen(k1), 52);
    ASSERT_TRUE(strncmp(k1, "sk-sotto-", 9) == 0);
    for (const char *p = k1 + 9; *p; p++)
        ASSERT_TRUE((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
    ASSERT_TRUE(strcmp(k1, k2) != 0);

    sotto_user u;
    ASSERT_OK(sotto_store_key_lookup(st, k1, &u));
    ASSERT_EQ(u.id, alice);
    ASSERT_STR_EQ(u.name, "alice");
    ASSERT_OK(sotto_store_key_lookup(st, kb, &u));
    ASSERT_EQ(u.id, bob);
    char wrong[64];
    memcpy(wrong, k1, sizeof wrong);
    wrong[30] = wrong[30] == 'A' ? 'B' : 'A';
    ASSERT_EQ(sotto_store_key_lookup(st, wrong, &u), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_key_lookup(st, "", &u), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_key_lookup(st, "sk-sotto-short", &u), SOTTO_ENOENT);

    char small[20];
    ASSERT_EQ(sotto_store_key_new(st, alice, small, sizeof small), SOTTO_EINVAL);
    ASSERT_EQ(sotto_store_key_new(st, 9999, kb, sizeof kb), SOTTO_ENOENT);

    /* revoke by the displayed prefix, then by the full key; revoked keys never match */
    char prefix[9];
    memcpy(prefix, k1 + 9, 8);
    prefix[8] = '\0';
    ASSERT_OK(sotto_store_key_revoke(st, prefix));
    ASSERT_EQ(sotto_store_key_lookup(st, k1, &u), SOTTO_ENOENT);
    ASSERT_OK(sotto_store_key_lookup(st, k2, &u));
    ASSERT_EQ(sotto_store_key_revoke(st, prefix), SOTTO_ENOENT);
    ASSERT_OK(sotto_store_key_revoke(st, k2));
    ASSERT_EQ(sotto_store_key_lookup(st, k2, &u), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_key_revoke(st, k2), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_key_revoke(st, "nothing"), SOTTO_ENOENT);
    ASSERT_OK(sotto_store_key_lookup(st, kb, &u));
    sotto_store_close(st);

    /* the plain key is nowhere in the file: only a 32-byte hash and an 8-char prefix */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path("keys"), &db), SQLITE_OK);
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT prefix, length(hash), typeof(hash) FROM api_keys", -1,
                                 &s, NULL),
              SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        ASSERT_EQ(strlen((const char *)sqlite3_column_text(s, 0)), 8);
        ASSERT_EQ(sqlite3_column_int(s, 1), 32);
        ASSERT_STR_EQ((const char *)sqlite3_column_text(s, 2), "blob");
        rows++;
    }
    ASSERT_EQ(rows, 3);
    sqlite3_finalize(s);
    sqlite3_close(db);
    FILE *f = fopen(db_path("keys"), "rb");
    ASSERT_TRUE(f != NULL);
    static char bytes[1 << 20];
    size_t n = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    ASSERT_TRUE(memmem(bytes, n, k1 + 9, 43) == NULL);
    ASSERT_TRUE(memmem(bytes, n, kb + 9, 43) == NULL);
}

/* ---- sessions --------------------------------------------------------------------- */

TEST(sessions_create_get_list_end_delete)
{
    sotto_store *st = open_store("sessions");
    int64_t alice = add_user(st, "alice");
    sotto_session in;
    memset(&in, 0, sizeof in);
    in.user_id = alice;
    snprintf(in.type, sizeof in.type, "live");
    in.title = "standup";
    snprintf(in.language, sizeof in.language, "en");
    in.targets_json = "[\"nl\",\"de\"]";
    in.metadata_json = "{\"room\":1}";
    in.started_at = 1000;
    char id1[SOTTO_ID_LEN], id2[SOTTO_ID_LEN], id3[SOTTO_ID_LEN];
    ASSERT_OK(sotto_store_session_create(st, &in, id1));
    ASSERT_TRUE(strncmp(id1, "ses_", 4) == 0 && strlen(id1) == 36);
    in.started_at = 2000;
    in.title = NULL;
    in.targets_json = NULL;
    in.metadata_json = NULL;
    snprintf(in.type, sizeof in.type, "chat");
    ASSERT_OK(sotto_store_session_create(st, &in, id2));
    in.started_at = 3000;
    ASSERT_OK(sotto_store_session_create(st, &in, id3));
    ASSERT_TRUE(strcmp(id1, id2) != 0);

    sotto_session s;
    ASSERT_OK(sotto_store_session_get(st, alice, id1, &s));
    ASSERT_STR_EQ(s.id, id1);
    ASSERT_STR_EQ(s.type, "live");
    ASSERT_STR_EQ(s.status, "active");
    ASSERT_STR_EQ(s.title, "standup");
    ASSERT_STR_EQ(s.language, "en");
    ASSERT_STR_EQ(s.targets_json, "[\"nl\",\"de\"]");
    ASSERT_STR_EQ(s.metadata_json, "{\"room\":1}");
    ASSERT_NEAR(s.started_at, 1000, 1e-9);
    ASSERT_NEAR(s.ended_at, 0, 1e-9);
    sotto_session_clear(&s);
    ASSERT_OK(sotto_store_session_get(st, alice, id2, &s));
    ASSERT_TRUE(s.title == NULL && s.targets_json == NULL && s.metadata_json == NULL);
    sotto_session_clear(&s);
    sotto_session_clear(NULL);

    sotto_session *list;
    size_t n, total;
    ASSERT_OK(sotto_store_session_list(st, alice, NULL, &list, &n, &total));
    ASSERT_EQ(n, 3);
    ASSERT_EQ(total, 3);
    ASSERT_STR_EQ(list[0].id, id3); /* newest first */
    ASSERT_STR_EQ(list[2].id, id1);
    sotto_session_list_free(list, n);
    sotto_session_filter f = {.type = "chat", .limit = 1, .offset = 1};
    ASSERT_OK(sotto_store_session_list(st, alice, &f, &list, &n, &total));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(total, 2);
    ASSERT_STR_EQ(list[0].id, id2);
    sotto_session_list_free(list, n);
    sotto_session_filter range = {.from = 1500, .to = 2500};
    ASSERT_OK(sotto_store_session_list(st, alice, &range, &list, &n, &total));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(list[0].id, id2);
    sotto_session_list_free(list, n);

    ASSERT_OK(sotto_store_session_end(st, alice, id1));
    ASSERT_OK(sotto_store_session_end(st, alice, id1)); /* idempotent */
    ASSERT_OK(sotto_store_session_get(st, alice, id1, &s));
    ASSERT_STR_EQ(s.status, "ended");
    ASSERT_TRUE(s.ended_at > 0);
    sotto_session_clear(&s);
    sotto_session_filter ended = {.status = "ended"};
    ASSERT_OK(sotto_store_session_list(st, alice, &ended, &list, &n, NULL));
    ASSERT_EQ(n, 1);
    sotto_session_list_free(list, n);

    ASSERT_OK(sotto_store_session_delete(st, alice, id1));
    ASSERT_EQ(sotto_store_session_get(st, alice, id1, &s), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_session_delete(st, alice, id1), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_session_end(st, alice, "ses_nope"), SOTTO_ENOENT);

    snprintf(in.type, sizeof in.type, "bogus");
    ASSERT_EQ(sotto_store_session_create(st, &in, id1), SOTTO_EINVAL);
    snprintf(in.type, sizeof in.type, "chat");
    in.user_id = 4242;
    ASSERT_EQ(sotto_store_session_create(st, &in, id1), SOTTO_ENOENT);
    sotto_store_close(st);
}

/* A row the store cannot read (here a language longer than its field, as another program
 * could write) fails the whole page with EFORMAT, after the rows read before it were
 * freed (ASan sees any leak): the caller gets no list. */
TEST(session_list_bad_row_fails_the_page)
{
    sotto_store *st = open_store("badrow");
    int64_t alice = add_user(st, "alice");
    char ids[3][SOTTO_ID_LEN];
    for (int i = 0; i < 3; i++) {
        sotto_session in;
        memset(&in, 0, sizeof in);
        in.user_id = alice;
        in.started_at = 1000 + i; /* the oldest is listed last */
        ASSERT_OK(sotto_store_session_create(st, &in, ids[i]));
    }
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(db_path("badrow"), &db), SQLITE_OK);
    char sql[200];
    snprintf(sql, sizeof sql,
             "UPDATE sessions SET language = printf('%%.200c', 'x') WHERE id = '%s'", ids[0]);
    ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    sotto_session *list = (sotto_session *)1;
    size_t n = 99, total = 0;
    ASSERT_EQ(sotto_store_session_list(st, alice, NULL, &list, &n, &total), SOTTO_EFORMAT);
    ASSERT_TRUE(list == NULL);
    ASSERT_EQ(n, 0);
    /* a page that stops before the bad row is fine, and the count still sees all three */
    sotto_session_filter f = {.limit = 2};
    ASSERT_OK(sotto_store_session_list(st, alice, &f, &list, &n, &total));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(total, 3);
    ASSERT_STR_EQ(list[0].id, ids[2]);
    sotto_session_list_free(list, n);
    sotto_store_close(st);
}

/* ---- messages --------------------------------------------------------------------- */

TEST(messages_append_list_roundtrip)
{
    sotto_store *st = open_store("messages");
    int64_t alice = add_user(st, "alice");
    char ses[SOTTO_ID_LEN];
    new_session(st, alice, "voice", ses);
    sotto_message m;
    sotto_message_init(&m);
    ASSERT_NEAR(m.start_s, -1, 0);
    ASSERT_EQ(m.speaker, -1);
    snprintf(m.session_id, sizeof m.session_id, "%s", ses);
    snprintf(m.role, sizeof m.role, "assistant");
    snprintf(m.language, sizeof m.language, "en");
    m.content = "hello there";
    m.translations_json = "{\"nl\":\"hallo daar\"}";
    m.start_s = 1.5;
    m.end_s = 2.25;
    m.speaker = 2;
    m.speaker_name = "Ann";
    m.confidence = 0.75;
    m.metadata_json = "{\"k\":1}";
    ASSERT_OK(sotto_store_message_append(st, alice, &m));
    ASSERT_EQ(m.seq, 1);
    ASSERT_TRUE(m.id > 0);
    ASSERT_TRUE(m.created_at > 1e9);
    for (int i = 2; i <= 10; i++)
        ASSERT_EQ(append(st, alice, ses, "more words here"), i);

    sotto_message *list;
    size_t n;
    ASSERT_OK(sotto_store_message_list(st, alice, ses, 0, 0, &list, &n));
    ASSERT_EQ(n, 10);
    ASSERT_STR_EQ(list[0].content, "hello there");
    ASSERT_STR_EQ(list[0].role, "assistant");
    ASSERT_STR_EQ(list[0].language, "en");
    ASSERT_STR_EQ(list[0].translations_json, "{\"nl\":\"hallo daar\"}");
    ASSERT_STR_EQ(list[0].speaker_name, "Ann");
    ASSERT_STR_EQ(list[0].metadata_json, "{\"k\":1}");
    ASSERT_STR_EQ(list[0].session_id, ses);
    ASSERT_NEAR(list[0].start_s, 1.5, 0);
    ASSERT_NEAR(list[0].end_s, 2.25, 0);
    ASSERT_NEAR(list[0].confidence, 0.75, 0);
    ASSERT_EQ(list[0].speaker, 2);
    ASSERT_TRUE(list[1].translations_json == NULL && list[1].speaker_name == NULL);
    ASSERT_NEAR(list[1].start_s, -1, 0);
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(list[i].seq, (int64_t)i + 1);
    sotto_message_list_free(list, n);

    ASSERT_OK(sotto_store_message_list(st, alice, ses, 4, 3, &list, &n));
    ASSERT_EQ(n, 3);
    ASSERT_EQ(list[0].seq, 5);
    ASSERT_EQ(list[2].seq, 7);
    sotto_message_list_free(list, n);
    ASSERT_OK(sotto_store_message_list(st, alice, ses, 10, 0, &list, &n));
    ASSERT_EQ(n, 0);
    sotto_message_list_free(list, n);

    /* bad messages are refused with a message, nothing is stored */
    snprintf(m.role, sizeof m.role, "robot");
    ASSERT_EQ(sotto_store_message_append(st, alice, &m), SOTTO_EINVAL);
    snprintf(m.role, sizeof m.role, "user");
    m.content = NULL;
    ASSERT_EQ(sotto_store_message_append(st, alice, &m), SOTTO_EINVAL);
    m.content = "x";
    snprintf(m.session_id, sizeof m.session_id, "ses_missing");
    ASSERT_EQ(sotto_store_message_append(st, alice, &m), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_message_list(st, alice, "ses_missing", 0, 0, &list, &n), SOTTO_ENOENT);
    ASSERT_EQ(append(st, alice, ses, "after errors"), 11);
    sotto_store_close(st);
}

TEST(session_stats)
{
    sotto_store *st = open_store("stats");
    int64_t alice = add_user(st, "alice");
    char ses[SOTTO_ID_LEN], empty[SOTTO_ID_LEN];
    new_session(st, alice, "live", ses);
    new_session(st, alice, "chat", empty);
    const double starts[] = {2.0, 5.0, -1}, ends[] = {4.0, 9.5, -1}, conf[] = {0.5, 1.0, -1};
    const char *texts[] = {"one two three", "  four\tfive ", "six"};
    for (int i = 0; i < 3; i++) {
        sotto_message m;
        sotto_message_init(&m);
        snprintf(m.session_id, sizeof m.session_id, "%s", ses);
        snprintf(m.role, sizeof m.role, "user");
        m.content = (char *)texts[i];
        m.start_s = starts[i];
        m.end_s = ends[i];
        m.confidence = conf[i];
        ASSERT_OK(sotto_store_message_append(st, alice, &m));
    }
    sotto_session_stats stats;
    ASSERT_OK(sotto_store_session_stats(st, alice, ses, &stats));
    ASSERT_EQ(stats.messages, 3);
    ASSERT_EQ(stats.words, 6);
    ASSERT_NEAR(stats.duration_s, 7.5, 1e-9);
    ASSERT_NEAR(stats.avg_confidence, 0.75, 1e-9);
    ASSERT_OK(sotto_store_session_stats(st, alice, empty, &stats));
    ASSERT_EQ(stats.messages, 0);
    ASSERT_EQ(stats.words, 0);
    ASSERT_NEAR(stats.duration_s, 0, 0);
    ASSERT_NEAR(stats.avg_confidence, -1, 0);
    ASSERT_EQ(sotto_store_session_stats(st, alice, "ses_nope", &stats), SOTTO_ENOENT);
    sotto_store_close(st);
}

TEST(isolation_between_users)
{
    sotto_store *st = open_store("isolation");
    int64_t alice = add_user(st, "alice"), bob = add_user(st, "bob");
    char ses[SOTTO_ID_LEN], bses[SOTTO_ID_LEN];
    new_session(st, alice, "chat", ses);
    new_session(st, bob, "chat", bses);
    append(st, alice, ses, "alice secret pineapple");
    append(st, bob, bses, "bob talks about pineapple too");

    sotto_session s;
    ASSERT_EQ(sotto_store_session_get(st, bob, ses, &s), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_session_end(st, bob, ses), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_session_delete(st, bob, ses), SOTTO_ENOENT);
    sotto_message m;
    sotto_message_init(&m);
    snprintf(m.session_id, sizeof m.session_id, "%s", ses);
    snprintf(m.role, sizeof m.role, "user");
    m.content = "intrusion";
    ASSERT_EQ(sotto_store_message_append(st, bob, &m), SOTTO_ENOENT);
    sotto_message *msgs;
    size_t n, total;
    ASSERT_EQ(sotto_store_message_list(st, bob, ses, 0, 0, &msgs, &n), SOTTO_ENOENT);
    sotto_session_stats stats;
    ASSERT_EQ(sotto_store_session_stats(st, bob, ses, &stats), SOTTO_ENOENT);
    sotto_session *list;
    ASSERT_OK(sotto_store_session_list(st, bob, NULL, &list, &n, &total));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(total, 1);
    ASSERT_STR_EQ(list[0].id, bses);
    sotto_session_list_free(list, n);
    sotto_search_hit *hits;
    ASSERT_OK(sotto_store_search(st, bob, "pineapple", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(hits[0].message.session_id, bses);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, bob, "secret", 10, 0, &hits, &n));
    ASSERT_EQ(n, 0);
    sotto_search_hits_free(hits, n);

    /* alice's data is untouched by bob's attempts */
    ASSERT_OK(sotto_store_session_get(st, alice, ses, &s));
    ASSERT_STR_EQ(s.status, "active");
    sotto_session_clear(&s);
    ASSERT_OK(sotto_store_message_list(st, alice, ses, 0, 0, &msgs, &n));
    ASSERT_EQ(n, 1);
    sotto_message_list_free(msgs, n);
    sotto_store_close(st);
}
