/*
 * test_store.c - the store: opening and migrations, users and keys, sessions, messages
 * (seq under concurrency, durability across SIGKILL), full-text search, statistics and
 * isolation between users. Jobs are in test_store_jobs.c.
 */
#define _GNU_SOURCE /* memmem */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sotto/error.h"
#include "sotto/store.h"
#include "store/store_int.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *db_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.db", check_tmpdir(), name);
    return path;
}

static sotto_store *open_store(const char *name)
{
    sotto_store *st = NULL;
    ASSERT_OK(sotto_store_open(db_path(name), &st));
    return st;
}

static int64_t add_user(sotto_store *st, const char *name)
{
    sotto_user u;
    ASSERT_OK(sotto_store_user_add(st, name, 0, &u));
    ASSERT_TRUE(u.id > 0);
    return u.id;
}

static void new_session(sotto_store *st, int64_t user, const char *type, char id[SOTTO_ID_LEN])
{
    sotto_session s;
    memset(&s, 0, sizeof s);
    s.user_id = user;
    snprintf(s.type, sizeof s.type, "%s", type);
    ASSERT_OK(sotto_store_session_create(st, &s, id));
}

static int64_t append(sotto_store *st, int64_t user, const char *session, const char *text)
{
    sotto_message m;
    sotto_message_init(&m);
    snprintf(m.session_id, sizeof m.session_id, "%s", session);
    snprintf(m.role, sizeof m.role, "user");
    m.content = (char *)text;
    ASSERT_OK(sotto_store_message_append(st, user, &m));
    return m.seq;
}

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

/* ---- concurrency ------------------------------------------------------------------ */

#define N_THREADS 8
#define N_APPENDS 200

typedef struct appender {
    sotto_store *st;
    int64_t user;
    char sessions[4][SOTTO_ID_LEN];
    int n_sessions;
    int thread;
    int failed;
    int64_t seqs[N_APPENDS];
} appender;

static void *append_thread(void *arg)
{
    appender *a = arg;
    for (int i = 0; i < N_APPENDS; i++) {
        char text[64];
        snprintf(text, sizeof text, "t%d m%d", a->thread, i);
        sotto_message m;
        sotto_message_init(&m);
        snprintf(m.session_id, sizeof m.session_id, "%s", a->sessions[i % a->n_sessions]);
        snprintf(m.role, sizeof m.role, "user");
        m.content = text;
        if (sotto_store_message_append(a->st, a->user, &m) != 0) {
            fprintf(stderr, "append failed: %s\n", sotto_last_error());
            a->failed = 1;
            return NULL;
        }
        a->seqs[i] = m.seq;
    }
    return NULL;
}

/* Every session's seq numbers are exactly 1..n, and each thread's messages appear in the
 * order it appended them. */
static void check_gap_free(sotto_store *st, int64_t user, const char *ses, int expect)
{
    sotto_message *list;
    size_t n;
    ASSERT_OK(sotto_store_message_list(st, user, ses, 0, 0, &list, &n));
    ASSERT_EQ(n, expect);
    int last[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        last[t] = -1;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(list[i].seq, (int64_t)i + 1);
        int t = -1, k = -1;
        ASSERT_EQ(sscanf(list[i].content, "t%d m%d", &t, &k), 2);
        ASSERT_TRUE(t >= 0 && t < N_THREADS);
        ASSERT_TRUE(k > last[t]);
        last[t] = k;
    }
    sotto_message_list_free(list, n);
}

static double run_appenders(sotto_store *st, int64_t user, char sessions[][SOTTO_ID_LEN],
                            int n_sessions, int n_threads)
{
    static appender a[N_THREADS];
    pthread_t th[N_THREADS];
    double t0 = now_s();
    for (int t = 0; t < n_threads; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].st = st;
        a[t].user = user;
        a[t].thread = t;
        a[t].n_sessions = n_sessions;
        for (int s = 0; s < n_sessions; s++)
            memcpy(a[t].sessions[s], sessions[s], SOTTO_ID_LEN);
        ASSERT_EQ(pthread_create(&th[t], NULL, append_thread, &a[t]), 0);
    }
    for (int t = 0; t < n_threads; t++)
        pthread_join(th[t], NULL);
    double dt = now_s() - t0;
    for (int t = 0; t < n_threads; t++) {
        ASSERT_EQ(a[t].failed, 0);
        for (int i = 1; i < N_APPENDS; i++) /* a thread's own appends to one session rise */
            if (i >= n_sessions)
                ASSERT_TRUE(a[t].seqs[i] > a[t].seqs[i - n_sessions]);
    }
    return dt;
}

TEST(seq_gap_free_concurrent_one_session)
{
    sotto_store *st = open_store("concurrent1");
    int64_t user = add_user(st, "alice");
    char ses[1][SOTTO_ID_LEN], single[1][SOTTO_ID_LEN];
    new_session(st, user, "live", ses[0]);
    new_session(st, user, "live", single[0]);
    double t1 = run_appenders(st, user, single, 1, 1);
    double t8 = run_appenders(st, user, ses, 1, N_THREADS);
    check_gap_free(st, user, ses[0], N_THREADS * N_APPENDS);
    check_gap_free(st, user, single[0], N_APPENDS);
    printf("append: 1 thread %.0f msg/s (%.3f ms each); %d threads %.0f msg/s\n", N_APPENDS / t1,
           1e3 * t1 / N_APPENDS, N_THREADS, N_THREADS * N_APPENDS / t8);
    sotto_store_close(st);
}

TEST(seq_gap_free_concurrent_across_sessions)
{
    sotto_store *st = open_store("concurrent4");
    int64_t user = add_user(st, "alice");
    char ses[4][SOTTO_ID_LEN];
    for (int s = 0; s < 4; s++)
        new_session(st, user, "chat", ses[s]);
    run_appenders(st, user, ses, 4, N_THREADS);
    for (int s = 0; s < 4; s++)
        check_gap_free(st, user, ses[s], N_THREADS * N_APPENDS / 4);
    sotto_store_close(st);
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
    ASSERT_OK(sotto_store_search(st, user, "quick brown", 10, 0, &hits, &n));
    ASSERT_EQ(n, 2);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "\"quick brown\"", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 4);
    ASSERT_STR_CONTAINS(hits[0].snippet, "[quick brown]"); /* a phrase is marked whole */
    sotto_search_hits_free(hits, n);

    /* accents folded; a long message gets an ellipsis in its snippet */
    ASSERT_OK(sotto_store_search(st, user, "cafe", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 6);
    sotto_search_hits_free(hits, n);
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
    sotto_search_hit *hits;
    size_t n;
    ASSERT_OK(sotto_store_search(st, user, "OR", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 1);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "foo*", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(hits[0].message.seq, 2);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "-foo", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "NEAR(that", 10, 0, &hits, &n));
    ASSERT_EQ(n, 0); /* both "near" and "that" must appear: only message 1 ... */
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "that NEAR", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1); /* ... where NEAR is an ordinary word */
    sotto_search_hits_free(hits, n);
    sotto_store_close(st);
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
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
    ASSERT_OK(sotto_store_search(st, user, "zebra", 0, 0, &hits, &n));
    ASSERT_EQ(n, 6);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_session_delete(st, user, a));
    ASSERT_OK(sotto_store_search(st, user, "zebra", 0, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(hits[0].message.session_id, b);
    sotto_search_hits_free(hits, n);
    ASSERT_OK(sotto_store_search(st, user, "crossing", 0, 0, &hits, &n));
    ASSERT_EQ(n, 0);
    sotto_search_hits_free(hits, n);
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

/* ---- durability --------------------------------------------------------------------- */

/* A child appends messages ("m<seq>") and creates jobs, reporting each one through a pipe
 * only after the call returned; the parent kills it with SIGKILL at a random moment, then
 * checks that everything reported is there, exactly once, with no gap in seq. */
TEST(durability_sigkill_mid_append)
{
    const char *path = db_path("durable");
    sotto_store *st = open_store("durable");
    int64_t user = add_user(st, "alice");
    char ses[SOTTO_ID_LEN];
    new_session(st, user, "live", ses);
    sotto_store_close(st);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int64_t reported_seq = 0;
    int jobs_reported = 0;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            sotto_store *cs = NULL;
            if (sotto_store_open(path, &cs) != 0)
                _exit(3);
            for (int i = 0; i < 100000; i++) {
                sotto_message m;
                sotto_message_init(&m);
                snprintf(m.session_id, sizeof m.session_id, "%s", ses);
                snprintf(m.role, sizeof m.role, "user");
                char text[32];
                /* the next seq is known only after commit; the content names the count of
                 * messages before it, which must equal seq - 1 */
                snprintf(text, sizeof text, "r%d i%d", round, i);
                m.content = text;
                if (sotto_store_message_append(cs, user, &m) != 0)
                    _exit(4);
                char rec[64];
                int len = snprintf(rec, sizeof rec, "M %lld\n", (long long)m.seq);
                if (write(fds[1], rec, (size_t)len) != len)
                    _exit(5);
                if (i % 5 == 0) {
                    sotto_job in;
                    memset(&in, 0, sizeof in);
                    in.user_id = user;
                    in.input_path = "/tmp/x.wav";
                    char id[SOTTO_ID_LEN];
                    if (sotto_store_job_create(cs, &in, id) != 0)
                        _exit(6);
                    len = snprintf(rec, sizeof rec, "J %s\n", id);
                    if (write(fds[1], rec, (size_t)len) != len)
                        _exit(5);
                }
            }
            _exit(0);
        }
        close(fds[1]);
        usleep(50000 + (useconds_t)(rand() % 400000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        FILE *f = fdopen(fds[0], "r");
        ASSERT_TRUE(f != NULL);
        static char job_ids[20000][SOTTO_ID_LEN];
        int n_jobs = 0;
        char line[128];
        while (fgets(line, sizeof line, f)) {
            long long seq;
            if (sscanf(line, "M %lld", &seq) == 1) {
                ASSERT_EQ(seq, reported_seq + 1); /* reported in order, no gaps */
                reported_seq = seq;
            } else if (line[0] == 'J' && n_jobs < 20000 && strlen(line) > 2) {
                snprintf(job_ids[n_jobs], SOTTO_ID_LEN, "%.36s", line + 2);
                n_jobs++;
            }
        }
        fclose(f);
        ASSERT_TRUE(reported_seq > 0);

        ASSERT_OK(sotto_store_open(path, &st));
        sotto_message *list;
        size_t n;
        ASSERT_OK(sotto_store_message_list(st, user, ses, 0, 0, &list, &n));
        /* every reported message is there; at most one more committed before the kill */
        ASSERT_TRUE((int64_t)n >= reported_seq && (int64_t)n <= reported_seq + 1);
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ(list[i].seq, (int64_t)i + 1);
        for (size_t i = 1; i < n; i++)
            ASSERT_TRUE(strcmp(list[i].content, list[i - 1].content) != 0);
        reported_seq = (int64_t)n; /* the next round continues after what is stored */
        sotto_message_list_free(list, n);
        for (int j = 0; j < n_jobs; j++) {
            sotto_job job;
            ASSERT_OK(sotto_store_job_get(st, user, job_ids[j], &job));
            ASSERT_EQ(job.status, SOTTO_JOB_PENDING);
            sotto_job_clear(&job);
        }
        jobs_reported += n_jobs;
        sotto_store_close(st);
        printf("round %d: %zu messages, %d jobs after SIGKILL\n", round, n, n_jobs);
    }
    ASSERT_TRUE(jobs_reported > 0);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM (SELECT content FROM messages GROUP BY "
                               "content HAVING count(*) > 1)"),
              0);
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
    sotto_search_hit *hits;
    size_t n;
    ASSERT_OK(sotto_store_search(st, user, "rareterm", 1000, 0, &hits, &n));
    ASSERT_EQ(n, 90); /* 100 carry it; bob's 10 are not alice's */
    sotto_search_hits_free(hits, n);
    printf("insert: %d messages in %.2f s (%.0f msg/s, 1000 per transaction)\n",
           N_BATCH * PER_BATCH, t_insert, N_BATCH * PER_BATCH / t_insert);
    sotto_store_close(st);
}
