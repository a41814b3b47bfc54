/*
 * store_test_fixtures.h - what the store's tests share (include after check.h): a database
 * path in the test's own temporary directory, opening a store there, and one-line makers
 * of users, sessions, messages and jobs that assert their own success, plus a count read
 * straight from the SQLite file (to see what the store's API does not show).
 *
 * Every helper is static: each test file gets its own copy, unused ones cost nothing.
 */
#ifndef SOTTO_STORE_TEST_FIXTURES_H
#define SOTTO_STORE_TEST_FIXTURES_H

#include <sqlite3.h>
#include <stdint.h>
#include <time.h>

#include "sotto/error.h"
#include "sotto/store.h"

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* <the test's temporary directory>/<name>.db; a static buffer, valid until the next call. */
static inline const char *db_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.db", check_tmpdir(), name);
    return path;
}

static inline sotto_store *open_store(const char *name)
{
    sotto_store *st = NULL;
    ASSERT_OK(sotto_store_open(db_path(name), &st));
    return st;
}

static inline int64_t add_user(sotto_store *st, const char *name)
{
    sotto_user u;
    ASSERT_OK(sotto_store_user_add(st, name, 0, &u));
    ASSERT_TRUE(u.id > 0);
    return u.id;
}

static inline void new_session(sotto_store *st, int64_t user, const char *type,
                               char id[SOTTO_ID_LEN])
{
    sotto_session s;
    memset(&s, 0, sizeof s);
    s.user_id = user;
    snprintf(s.type, sizeof s.type, "%s", type);
    ASSERT_OK(sotto_store_session_create(st, &s, id));
}

/* Append a user message; returns its seq. */
static inline int64_t append(sotto_store *st, int64_t user, const char *session, const char *text)
{
    sotto_message m;
    sotto_message_init(&m);
    snprintf(m.session_id, sizeof m.session_id, "%s", session);
    snprintf(m.role, sizeof m.role, "user");
    m.content = (char *)text;
    ASSERT_OK(sotto_store_message_append(st, user, &m));
    return m.seq;
}

/* A PENDING sphinx job on input (named "talk.wav" for clients). */
static inline void new_job(sotto_store *st, int64_t user, const char *input, char id[SOTTO_ID_LEN])
{
    sotto_job in;
    memset(&in, 0, sizeof in);
    in.user_id = user;
    in.options_json = "{\"backend\":\"sphinx\"}";
    in.input_path = (char *)input;
    in.input_name = "talk.wav";
    ASSERT_OK(sotto_store_job_create(st, &in, id));
}

static inline sotto_job_status job_status(sotto_store *st, const char *id)
{
    sotto_job j;
    ASSERT_OK(sotto_store_job_get(st, -1, id, &j));
    sotto_job_status s = j.status;
    sotto_job_clear(&j);
    return s;
}

/* The one integer sql gives, read through a connection of our own (not the store's). */
static inline int64_t count_rows(const char *path, const char *sql)
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

#endif
