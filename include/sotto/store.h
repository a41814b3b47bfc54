/*
 * store.h - durable state: users and API keys, sessions and messages (with full-text
 * search), and the job queue. One interface; SQLite (one file, WAL, FTS5) behind it now,
 * PostgreSQL later (same calls; queue claims with FOR UPDATE SKIP LOCKED).
 *
 * Every call that reads or changes a user's data takes that user's id and treats another
 * user's record exactly like a missing one (SOTTO_ENOENT), so the HTTP layer can answer
 * 404 without a separate ownership check. A sotto_store is safe to use from many threads.
 *
 * Ownership: out-structs filled by the store own their strings; free them with the
 * matching *_clear() (arrays with *_list_free()). Times are Unix seconds (double).
 */
#ifndef SOTTO_STORE_H
#define SOTTO_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOTTO_ID_LEN 40 /* ids are short printable strings: "ses_3f9a...", "job_...", NUL included */

typedef struct sotto_store sotto_store;

/* Open or create the store. location: a file path (SQLite), or "sqlite:PATH". Applies the
 * versioned schema migrations. */
int sotto_store_open(const char *location, sotto_store **out);
void sotto_store_close(sotto_store *st);
/* Schema version after migrations (for /health and tests). */
int sotto_store_schema_version(sotto_store *st);
/* A cheap round trip to the database (for /health). */
int sotto_store_ping(sotto_store *st);

/* ---- users and API keys ------------------------------------------------------------ */
typedef struct sotto_user {
    int64_t id;
    char name[128];
    int is_admin;
    double created_at;
} sotto_user;

int sotto_store_user_add(sotto_store *st, const char *name, int is_admin, sotto_user *out);
int sotto_store_user_get(sotto_store *st, const char *name, sotto_user *out); /* ENOENT */
/* Create a key for a user: the plain key (e.g. "sk-sotto-<43 base64url chars>") is written
 * to key_out once and never stored; the store keeps its SHA-256 and an 8-char prefix. */
int sotto_store_key_new(sotto_store *st, int64_t user_id, char *key_out, size_t key_out_size);
/* Revoke by full key or by its prefix as shown in listings. ENOENT when none matches. */
int sotto_store_key_revoke(sotto_store *st, const char *key_or_prefix);
/* The user a key belongs to (constant-time hash comparison); ENOENT for unknown or
 * revoked keys. */
int sotto_store_key_lookup(sotto_store *st, const char *key, sotto_user *out);

/* ---- sessions and messages ---------------------------------------------------------- */
typedef struct sotto_session {
    char id[SOTTO_ID_LEN];
    int64_t user_id;
    char type[16];        /* "live", "job", "chat", "voice" */
    char status[16];      /* "active", "ended" */
    char *title;          /* may be NULL */
    char language[16];    /* source language, "" when unknown */
    char *targets_json;   /* JSON array of target language codes, or NULL */
    char *metadata_json;  /* JSON object, or NULL */
    double started_at, ended_at; /* ended_at 0 while active */
} sotto_session;

typedef struct sotto_session_filter {
    const char *type;     /* NULL = any */
    const char *status;   /* NULL = any */
    double from, to;      /* started_at range; 0 = open */
    size_t limit;         /* 0 = 50; at most 1000 */
    size_t offset;
} sotto_session_filter;

/* Create (in->id ignored; the new id is written to out_id). */
int sotto_store_session_create(sotto_store *st, const sotto_session *in, char out_id[SOTTO_ID_LEN]);
int sotto_store_session_get(sotto_store *st, int64_t user_id, const char *id, sotto_session *out);
/* Newest first. *total is the count matching the filter without limit/offset. */
int sotto_store_session_list(sotto_store *st, int64_t user_id, const sotto_session_filter *f,
                             sotto_session **out, size_t *n, size_t *total);
int sotto_store_session_end(sotto_store *st, int64_t user_id, const char *id);
/* Delete a session with its messages (and their search entries). */
int sotto_store_session_delete(sotto_store *st, int64_t user_id, const char *id);
void sotto_session_clear(sotto_session *s);
void sotto_session_list_free(sotto_session *list, size_t n);

typedef struct sotto_message {
    int64_t id;
    char session_id[SOTTO_ID_LEN];
    int64_t seq;            /* 1, 2, 3 ... per session, assigned atomically on append */
    char role[16];          /* "user", "assistant", "system" */
    char *content;          /* UTF-8 text */
    char language[16];
    char *translations_json; /* {"nl": "...", ...} or NULL */
    double start_s, end_s;  /* position in the session's audio; -1 when not audio */
    int speaker;            /* -1 when unknown */
    char *speaker_name;     /* NULL when unknown */
    double confidence;      /* 0..1, -1 when unknown */
    char *metadata_json;    /* or NULL */
    double created_at;
} sotto_message;

/* Initialize a message with "unknown" values (start/end/confidence -1, speaker -1). */
void sotto_message_init(sotto_message *m);
/* Append to a session the user owns; m->id, m->seq and m->created_at are filled in. */
int sotto_store_message_append(sotto_store *st, int64_t user_id, sotto_message *m);
/* Messages with seq > after_seq in order, at most limit (0 = all). */
int sotto_store_message_list(sotto_store *st, int64_t user_id, const char *session_id,
                             int64_t after_seq, size_t limit, sotto_message **out, size_t *n);
void sotto_message_clear(sotto_message *m);
void sotto_message_list_free(sotto_message *list, size_t n);

typedef struct sotto_search_hit {
    sotto_message message;
    char *snippet; /* the match in context, matched terms wrapped in [ and ] */
    double rank;   /* lower is better (bm25) */
} sotto_search_hit;

/* Full-text search over the user's messages, best first. query is plain words (quoted
 * phrases allowed); anything else in it is treated as text, never as query syntax. */
int sotto_store_search(sotto_store *st, int64_t user_id, const char *query, size_t limit,
                       size_t offset, sotto_search_hit **out, size_t *n);
void sotto_search_hits_free(sotto_search_hit *hits, size_t n);

typedef struct sotto_session_stats {
    int64_t messages, words;
    double duration_s;      /* last end_s - first start_s of audio messages, 0 if none */
    double avg_confidence;  /* over messages with a confidence, -1 if none */
} sotto_session_stats;

int sotto_store_session_stats(sotto_store *st, int64_t user_id, const char *session_id,
                              sotto_session_stats *out);

/* ---- jobs: a durable queue ------------------------------------------------------------ */
typedef enum sotto_job_status {
    SOTTO_JOB_PENDING = 0,
    SOTTO_JOB_PREPROCESSING,
    SOTTO_JOB_TRANSCRIBING,
    SOTTO_JOB_POSTPROCESSING,
    SOTTO_JOB_COMPLETE,
    SOTTO_JOB_FAILED,
    SOTTO_JOB_CANCELLED
} sotto_job_status;

const char *sotto_job_status_name(sotto_job_status s); /* "PENDING", ... */
int sotto_job_status_parse(const char *s, sotto_job_status *out);
int sotto_job_status_terminal(sotto_job_status s);      /* COMPLETE, FAILED, CANCELLED */

typedef struct sotto_job {
    char id[SOTTO_ID_LEN];
    int64_t user_id;
    sotto_job_status status;
    double progress;        /* 0..1 */
    char *options_json;     /* the submitted options (backend, model, language, features ...) */
    char *input_path;       /* the uploaded file under the data dir (generated name) */
    char *input_name;       /* the client's file name, for display only; may be NULL */
    char *versions_json;    /* filled when processing starts */
    char *metrics_json;     /* filled at the end */
    char *results_json;     /* {"txt": "...", "json": {...}, ...} when COMPLETE */
    char *error;            /* message when FAILED */
    char session_id[SOTTO_ID_LEN]; /* the session holding the transcript when COMPLETE */
    int attempts;           /* claims so far (a crash mid-job means > 1) */
    double created_at, started_at, finished_at;
} sotto_job;

typedef struct sotto_job_filter {
    int status;             /* a sotto_job_status, or -1 for any */
    size_t limit, offset;   /* limit 0 = 50; at most 1000 */
} sotto_job_filter;

/* Create a PENDING job from in (user_id, options_json, input_path, input_name); the new id
 * is written to out_id. */
int sotto_store_job_create(sotto_store *st, const sotto_job *in, char out_id[SOTTO_ID_LEN]);
/* user_id -1 = any user (workers). */
int sotto_store_job_get(sotto_store *st, int64_t user_id, const char *id, sotto_job *out);
int sotto_store_job_list(sotto_store *st, int64_t user_id, const sotto_job_filter *f,
                         sotto_job **out, size_t *n, size_t *total);
/* Atomically take the oldest PENDING job for a worker: it becomes PREPROCESSING and its
 * attempts grow by one. Returns 1 with *out filled, 0 when the queue is empty. */
int sotto_store_job_claim(sotto_store *st, const char *worker, sotto_job *out);
/* Progress of a claimed job; fails with ECANCELED when the job was cancelled meanwhile
 * (so the worker stops), ENOENT when deleted. */
int sotto_store_job_progress(sotto_store *st, const char *id, sotto_job_status status,
                             double progress, const char *versions_json);
/* Finish a job exactly once: COMPLETE with results (and, in the same transaction, the
 * session `transcript` with its messages, created for the job's user), or FAILED with an
 * error. A job already terminal is left as it is (returns ECANCELED if it was cancelled). */
int sotto_store_job_complete(sotto_store *st, const char *id, const char *results_json,
                             const char *metrics_json, const sotto_session *session,
                             const sotto_message *messages, size_t n_messages);
int sotto_store_job_fail(sotto_store *st, const char *id, const char *error,
                         const char *metrics_json);
/* Cancel a user's job (PENDING or running: CANCELLED; terminal: unchanged). */
int sotto_store_job_cancel(sotto_store *st, int64_t user_id, const char *id);
/* Delete a job record; *input_path_out (malloc'd, may be NULL) tells the caller which
 * upload to remove. */
int sotto_store_job_delete(sotto_store *st, int64_t user_id, const char *id, char **input_path_out);
/* At start-up: jobs left in PREPROCESSING/TRANSCRIBING/POSTPROCESSING by a crashed
 * process go back to PENDING. *n_recovered tells how many. */
int sotto_store_job_recover(sotto_store *st, size_t *n_recovered);
/* Put one running job back to PENDING (its runner stops without finishing it). */
int sotto_store_job_release(sotto_store *st, const char *id);
/* Jobs per status (array indexed by sotto_job_status, 7 entries). */
int sotto_store_job_counts(sotto_store *st, int64_t counts[7]);
void sotto_job_clear(sotto_job *j);
void sotto_job_list_free(sotto_job *list, size_t n);

#ifdef __cplusplus
}
#endif
#endif
