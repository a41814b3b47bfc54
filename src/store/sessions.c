/*
 * sessions.c - conversation sessions: create, get, list (filtered, newest first), end,
 * delete (messages and their search entries go with it by cascade), and statistics.
 * Every call is scoped to one user: another user's session id answers ENOENT.
 */
#include <string.h>

#include "store_int.h"

#define SESSION_COLS                                                                               \
    "id, user_id, type, status, title, language, targets_json, metadata_json, started_at, "        \
    "ended_at"

static int valid_type(const char *t)
{
    return strcmp(t, "live") == 0 || strcmp(t, "job") == 0 || strcmp(t, "chat") == 0 ||
           strcmp(t, "voice") == 0;
}

static int valid_status(const char *s)
{
    return strcmp(s, "active") == 0 || strcmp(s, "ended") == 0;
}

void sotto_session_clear(sotto_session *s)
{
    if (!s)
        return;
    free(s->title);
    free(s->targets_json);
    free(s->metadata_json);
    memset(s, 0, sizeof *s);
}

void sotto_session_list_free(sotto_session *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        sotto_session_clear(&list[i]);
    free(list);
}

static int read_session(sqlite3_stmt *s, sotto_session *out)
{
    memset(out, 0, sizeof *out);
    out->user_id = sqlite3_column_int64(s, 1);
    out->started_at = sqlite3_column_double(s, 8);
    out->ended_at = sqlite3_column_double(s, 9);
    int rc = store_col_fixed(s, 0, out->id, sizeof out->id, 0);
    if (!rc)
        rc = store_col_fixed(s, 2, out->type, sizeof out->type, 0);
    if (!rc)
        rc = store_col_fixed(s, 3, out->status, sizeof out->status, 0);
    if (!rc)
        rc = store_col_dup(s, 4, &out->title);
    if (!rc)
        rc = store_col_fixed(s, 5, out->language, sizeof out->language, 1);
    if (!rc)
        rc = store_col_dup(s, 6, &out->targets_json);
    if (!rc)
        rc = store_col_dup(s, 7, &out->metadata_json);
    if (rc)
        sotto_session_clear(out);
    return rc;
}

static int read_session_row(sqlite3_stmt *s, void *elem)
{
    return read_session(s, elem);
}

int sessions_insert(store_conn *c, const sotto_session *in, char out_id[SOTTO_ID_LEN])
{
    const char *type = in->type[0] ? in->type : "chat";
    const char *status = in->status[0] ? in->status : "active";
    if (!memchr(in->type, '\0', sizeof in->type) || !valid_type(type))
        return error_set(SOTTO_EINVAL, "store: session type must be live, job, chat or voice");
    if (!memchr(in->status, '\0', sizeof in->status) || !valid_status(status))
        return error_set(SOTTO_EINVAL, "store: session status must be active or ended");
    if (!memchr(in->language, '\0', sizeof in->language))
        return error_set(SOTTO_EINVAL, "store: session language is not a terminated string");
    int rc = store_check_text(in->title, 4096, 1, "session title");
    if (!rc)
        rc = store_check_text(in->targets_json, STORE_MAX_TEXT, 1, "session targets");
    if (!rc)
        rc = store_check_text(in->metadata_json, STORE_MAX_TEXT, 1, "session metadata");
    char id[SOTTO_ID_LEN];
    if (!rc)
        rc = store_new_id("ses_", id);
    if (rc)
        return rc;
    double now = store_time();
    double started = in->started_at > 0 ? in->started_at : now;
    double ended = strcmp(status, "ended") == 0 ? (in->ended_at > 0 ? in->ended_at : now) : 0;
    sqlite3_stmt *s = store_stmt(c, "INSERT INTO sessions (" SESSION_COLS ") "
                                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, in->user_id);
    sqlite3_bind_text(s, 3, type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, status, -1, SQLITE_TRANSIENT);
    store_bind_text(s, 5, in->title);
    sqlite3_bind_text(s, 6, in->language, -1, SQLITE_TRANSIENT);
    store_bind_text(s, 7, in->targets_json);
    store_bind_text(s, 8, in->metadata_json);
    sqlite3_bind_double(s, 9, started);
    sqlite3_bind_double(s, 10, ended);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        rc = 0;
    else if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = error_set(SOTTO_ENOENT, "store: no user with id %lld", (long long)in->user_id);
    else
        rc = store_err(c, step, "create session");
    store_stmt_done(c, s);
    if (rc == 0)
        memcpy(out_id, id, SOTTO_ID_LEN);
    return rc;
}

int sotto_store_session_create(sotto_store *st, const sotto_session *in, char out_id[SOTTO_ID_LEN])
{
    if (!st || !in || !out_id)
        return error_set(SOTTO_EINVAL,
                         "store: session_create needs a store, a session and an id buffer");
    store_conn *c = store_writer(st);
    int rc = sessions_insert(c, in, out_id);
    store_writer_done(st);
    return rc;
}

int sotto_store_session_get(sotto_store *st, int64_t user_id, const char *id, sotto_session *out)
{
    if (!st || !id || !out)
        return error_set(SOTTO_EINVAL, "store: session_get needs a store, an id and an output");
    return store_get_by_id(st,
                           "SELECT " SESSION_COLS " FROM sessions WHERE id = ?1 AND user_id = ?2",
                           id, user_id, read_session_row, out, "session");
}

/* The filter is bound as parameters with "?N IS NULL OR ..." so one static statement
 * (cached, prepared once) serves every combination. */
#define SESSION_WHERE                                                                              \
    " WHERE user_id = ?1 AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR status = ?3)"            \
    " AND (?4 IS NULL OR started_at >= ?4) AND (?5 IS NULL OR started_at <= ?5)"

typedef struct session_filter_args {
    int64_t user_id;
    const sotto_session_filter *f; /* NULL: no filter */
} session_filter_args;

/* store_page_query's free_list (the list-free function through a void pointer). */
static void free_sessions(void *list, size_t n)
{
    sotto_session_list_free(list, n);
}

static void bind_session_filter(sqlite3_stmt *s, const void *filter)
{
    const session_filter_args *a = filter;
    const sotto_session_filter *f = a->f;
    sqlite3_bind_int64(s, 1, a->user_id);
    store_bind_text(s, 2, f ? f->type : NULL);
    store_bind_text(s, 3, f ? f->status : NULL);
    if (f && f->from > 0)
        sqlite3_bind_double(s, 4, f->from);
    if (f && f->to > 0)
        sqlite3_bind_double(s, 5, f->to);
}

int sotto_store_session_list(sotto_store *st, int64_t user_id, const sotto_session_filter *f,
                             sotto_session **out, size_t *n, size_t *total)
{
    if (!st || !out || !n)
        return error_set(SOTTO_EINVAL, "store: session_list needs a store and outputs");
    session_filter_args args = {user_id, f};
    const store_page_query q = {
        .count_sql = "SELECT count(*) FROM sessions" SESSION_WHERE,
        .rows_sql = "SELECT " SESSION_COLS " FROM sessions" SESSION_WHERE
                    " ORDER BY started_at DESC, rowid DESC LIMIT ?6 OFFSET ?7",
        .limit_param = 6,
        .bind = bind_session_filter,
        .filter = &args,
        .elem_size = sizeof(sotto_session),
        .read = read_session_row,
        .what = "sessions",
        .free_list = free_sessions,
    };
    return store_list_page(st, &q, f ? f->limit : 0, f ? f->offset : 0, (void **)out, n, total);
}

/* One statement for "is it the user's", for ending a session here and for appending and
 * listing in messages.c. */
int sessions_check(store_conn *c, int64_t user_id, const char *id)
{
    sqlite3_stmt *s = store_stmt(c, "SELECT 1 FROM sessions WHERE id = ? AND user_id = ?");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, user_id);
    int step = sqlite3_step(s);
    int rc = step == SQLITE_ROW    ? 0
             : step == SQLITE_DONE ? error_set(SOTTO_ENOENT, "store: no session '%.40s'", id)
                                   : store_err(c, step, "find session");
    store_stmt_done(c, s);
    return rc;
}

int sotto_store_session_end(sotto_store *st, int64_t user_id, const char *id)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: session_end needs a store and an id");
    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "UPDATE sessions SET status = 'ended', ended_at = ? "
                                    "WHERE id = ? AND user_id = ? AND status = 'active'");
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_double(s, 1, store_time());
        sqlite3_bind_text(s, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 3, user_id);
        int step = sqlite3_step(s);
        rc = step == SQLITE_DONE ? 0 : store_err(c, step, "end session");
        int changed = sqlite3_changes(c->db);
        store_stmt_done(c, s);
        if (rc == 0 && changed == 0) {
            /* already ended is fine (idempotent); missing or not the user's is not */
            rc = sessions_check(c, user_id, id);
        }
    }
    store_writer_done(st);
    return rc;
}

int sotto_store_session_delete(sotto_store *st, int64_t user_id, const char *id)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: session_delete needs a store and an id");
    store_conn *c = store_writer(st);
    int rc = store_begin(c);
    sqlite3_stmt *s = NULL;
    if (!rc) {
        s = store_stmt(c, "DELETE FROM sessions WHERE id = ? AND user_id = ?");
        rc = s ? 0 : SOTTO_EIO;
    }
    if (!rc) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, user_id);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE)
            rc = store_err(c, step, "delete session");
        else if (sqlite3_changes(c->db) == 0)
            rc = error_set(SOTTO_ENOENT, "store: no session '%.40s'", id);
        store_stmt_done(c, s);
    }
    if (!rc) {
        /* a finished job keeps its record, but no longer points at a deleted transcript */
        s = store_stmt(c, "UPDATE jobs SET session_id = NULL WHERE session_id = ?");
        rc = s ? 0 : SOTTO_EIO;
        if (s) {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
            int step = sqlite3_step(s);
            if (step != SQLITE_DONE)
                rc = store_err(c, step, "detach job from session");
            store_stmt_done(c, s);
        }
    }
    if (!rc)
        rc = store_commit(c);
    store_writer_done(st);
    return rc;
}

int sotto_store_session_stats(sotto_store *st, int64_t user_id, const char *session_id,
                              sotto_session_stats *out)
{
    if (!st || !session_id || !out)
        return error_set(SOTTO_EINVAL, "store: session_stats needs a store, an id and an output");
    memset(out, 0, sizeof *out);
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    int rc = store_exec(c, "BEGIN", "begin read");
    if (!rc)
        rc = sessions_check(c, user_id, session_id);
    sqlite3_stmt *s = NULL;
    if (!rc) {
        s = store_stmt(c, "SELECT count(*), coalesce(sum(words), 0),"
                          " max(CASE WHEN end_s >= 0 THEN end_s END),"
                          " min(CASE WHEN start_s >= 0 THEN start_s END),"
                          " avg(CASE WHEN confidence >= 0 THEN confidence END)"
                          " FROM messages WHERE session_id = ?");
        rc = s ? 0 : SOTTO_EIO;
    }
    if (!rc) {
        sqlite3_bind_text(s, 1, session_id, -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW) {
            out->messages = sqlite3_column_int64(s, 0);
            out->words = sqlite3_column_int64(s, 1);
            if (sqlite3_column_type(s, 2) != SQLITE_NULL &&
                sqlite3_column_type(s, 3) != SQLITE_NULL) {
                double d = sqlite3_column_double(s, 2) - sqlite3_column_double(s, 3);
                out->duration_s = d > 0 ? d : 0;
            }
            out->avg_confidence =
                sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 4);
        } else {
            rc = store_err(c, step, "session stats");
        }
        store_stmt_done(c, s);
    }
    store_reader_done(st, c);
    return rc;
}
