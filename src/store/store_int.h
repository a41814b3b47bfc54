/*
 * store_int.h - what the store's files share (not public API): the store object with its
 * connections, the prepared-statement cache, transactions, row readers and ids.
 *
 * Concurrency model: one writer connection behind a mutex (SQLite allows one writer at a
 * time anyway; taking our own mutex first means threads of this process queue on a cheap
 * futex instead of sleeping in SQLite's busy handler) and a pool of reader connections
 * that run in parallel in WAL mode. busy_timeout stays set on every connection for other
 * processes using the same file (e.g. `sotto` admin commands next to a running server).
 */
#ifndef SOTTO_STORE_INT_H
#define SOTTO_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base_int.h"
#include "sotto/store.h"

#define STORE_SCHEMA_VERSION 1
#define STORE_MAX_READERS 8
#define STORE_STMT_CACHE 48
#define STORE_MAX_TEXT (4u << 20) /* largest text value accepted (message content, JSON) */

typedef struct store_conn {
    sqlite3 *db;
    int durable; /* synchronous=FULL is set (store_durable) */
    struct {
        const char *sql; /* a static string: the cache key is its address */
        sqlite3_stmt *stmt;
        int in_use;
    } cache[STORE_STMT_CACHE];
} store_conn;

struct sotto_store {
    char *path;
    int schema_version;
    size_t max_readers;

    pthread_mutex_t write_lock; /* held for the whole of a write call */
    store_conn *writer;

    pthread_mutex_t pool_lock;
    pthread_cond_t pool_cond;
    store_conn *readers[STORE_MAX_READERS];
    size_t n_open; /* reader connections opened so far */
    store_conn *idle[STORE_MAX_READERS];
    size_t n_idle;
};

/* Open with a chosen number of reader connections (1..STORE_MAX_READERS); the public
 * open uses STORE_MAX_READERS. For tests and measurements. */
int store_open_readers(const char *location, size_t max_readers, sotto_store **out);

/* Take the writer (locks it) / give it back. */
store_conn *store_writer(sotto_store *st);
void store_writer_done(sotto_store *st);
/* Take a reader connection (waits while all are busy) / give it back. NULL with the
 * error set when a new connection cannot be opened. */
store_conn *store_reader(sotto_store *st);
void store_reader_done(sotto_store *st, store_conn *c);

/* A cached prepared statement for a static SQL string; give it back with store_stmt_done
 * (which resets it and clears its bindings). NULL with the error set on failure. */
sqlite3_stmt *store_stmt(store_conn *c, const char *sql);
void store_stmt_done(store_conn *c, sqlite3_stmt *stmt);

/* Make the writer's following commits fsync the log (FULL) or not (NORMAL, the default
 * that store_writer_done restores). Call with no transaction open. */
int store_durable(store_conn *c, int on);
/* Run SQL without results (transaction control, pragmas). */
int store_exec(store_conn *c, const char *sql, const char *what);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback ignores errors: it is the cleanup path). */
int store_begin(store_conn *c);
int store_commit(store_conn *c);
void store_rollback(store_conn *c);

/* Set the thread's error from an SQLite result code: "store: <what>: <sqlite reason>".
 * Returns the matching SOTTO_E* code. */
int store_err(store_conn *c, int rc, const char *what);

/* Wall-clock Unix seconds with sub-second precision. */
double store_time(void);
/* A new id: prefix + 32 lowercase hex characters from 16 random bytes. */
int store_new_id(const char *prefix, char out[SOTTO_ID_LEN]);
/* Fill buf with n bytes from the kernel's CSPRNG. */
int store_random(void *buf, size_t n);

/* Column readers. Database rows are untrusted too: NULL where a value was required, or a
 * string longer than its fixed field, is an error (SOTTO_EFORMAT), never a crash. */
int store_col_fixed(sqlite3_stmt *s, int col, char *dst, size_t size, int nullable);
/* malloc'd copy, or NULL for SQL NULL; SOTTO_ENOMEM when the copy fails. */
int store_col_dup(sqlite3_stmt *s, int col, char **dst);

/* Bind helpers: NULL pointer binds SQL NULL. */
int store_bind_text(sqlite3_stmt *s, int idx, const char *v);

/* Validate a caller's string: non-NULL (unless nullable), shorter than max bytes. */
int store_check_text(const char *v, size_t max, int nullable, const char *what);

/* Count whitespace-separated words (for session stats). */
int64_t store_count_words(const char *text);

/* Messages: insert one message into a session inside the caller's open write
 * transaction, assigning seq = max + 1. Shared by append and job completion. */
int messages_insert(store_conn *c, const char *session_id, int64_t user_id, sotto_message *m);
/* Insert a session row inside the caller's transaction (user_id taken from in). */
int sessions_insert(store_conn *c, const sotto_session *in, char out_id[SOTTO_ID_LEN]);
/* 0 when session id exists and belongs to user_id (read on the caller's connection,
 * inside its transaction if any); SOTTO_ENOENT "store: no session '<id>'" when not (another
 * user's session looks missing), or another error. */
int sessions_check(store_conn *c, int64_t user_id, const char *id);
/* The message columns in the order store_read_message expects, as a SQL list for
 * table alias m. */
#define STORE_MESSAGE_COLS                                                                         \
    "m.id, m.session_id, m.seq, m.role, m.content, m.language, m.translations_json, "              \
    "m.start_s, m.end_s, m.speaker, m.speaker_name, m.confidence, m.metadata_json, "               \
    "m.created_at"
#define STORE_MESSAGE_NCOLS 14
/* Read columns first..first+13 into m (owning its strings; cleared on failure). */
int store_read_message(sqlite3_stmt *s, int first, sotto_message *m);

/* Fill one element (zeroed) from the current row; on failure leave nothing to free. */
typedef int (*store_read_fn)(sqlite3_stmt *s, void *elem);
/* Step s to the end (or to limit rows; 0 = no limit) reading each row with read into a
 * growing array of elem_size elements. *out / *n get the array (NULL when no rows) and
 * the rows read, also on failure: the caller frees those with its list-free function.
 * what names the list in messages ("jobs"). */
int store_collect(store_conn *c, sqlite3_stmt *s, size_t limit, size_t elem_size,
                  store_read_fn read, const char *what, void **out, size_t *n);
/* Run sql (parameters ?1 = id, ?2 = user id) on a reader and read its one row into out;
 * SOTTO_ENOENT "store: no <what> '<id>'" when there is none. */
int store_get_by_id(sotto_store *st, const char *sql, const char *id, int64_t user_id,
                    store_read_fn read, void *out, const char *what);

/* Binds a list's filter (its parameters are the same in the count and the rows SQL). */
typedef void (*store_bind_fn)(sqlite3_stmt *s, const void *filter);
typedef struct store_page_query {
    const char *count_sql; /* "SELECT count(*) FROM <table> <where>" (static: cache key) */
    const char *rows_sql;  /* the rows, same <where>, then "... LIMIT ?L OFFSET ?L+1" */
    int limit_param;       /* L, the index of the LIMIT parameter in rows_sql */
    store_bind_fn bind;
    const void *filter; /* passed to bind */
    size_t elem_size;
    store_read_fn read;
    const char *what; /* the list's name in messages ("jobs": "store: count jobs: ...") */
    void (*free_list)(void *list, size_t n); /* frees the rows read when a step fails */
} store_page_query;
/* One page (limit rows, 0 = 50, at most 1000, after offset rows) of q and, when total is
 * not NULL, the count of all rows matching the filter, read in one snapshot. On success
 * *out / *n are the caller's (NULL / 0 when no rows); on failure they are NULL / 0. */
int store_list_page(sotto_store *st, const store_page_query *q, size_t limit, size_t offset,
                    void **out, size_t *n, size_t *total);

/* Jobs: the columns jobs_read expects, and the reader (owning strings; cleared on
 * failure). */
#define STORE_JOB_COLS                                                                             \
    "id, user_id, status, progress, options_json, input_path, input_name, versions_json, "         \
    "metrics_json, results_json, error, session_id, attempts, created_at, started_at, "            \
    "finished_at"
int jobs_read(sqlite3_stmt *s, sotto_job *out);

#endif
