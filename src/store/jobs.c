/*
 * jobs.c - job records as users see them: status names, create, get, list, cancel,
 * delete and per-status counts. The worker side of the queue (claim, progress, finish,
 * recover) is in queue.c.
 */
#include <string.h>
#include <strings.h>

#include "store_int.h"

static const char *const status_names[] = {"PENDING",        "PREPROCESSING", "TRANSCRIBING",
                                           "POSTPROCESSING", "COMPLETE",      "FAILED",
                                           "CANCELLED"};

const char *sotto_job_status_name(sotto_job_status s)
{
    return (unsigned)s < 7 ? status_names[s] : "UNKNOWN";
}

int sotto_job_status_parse(const char *s, sotto_job_status *out)
{
    for (int i = 0; s && i < 7; i++)
        if (strcasecmp(s, status_names[i]) == 0) {
            if (out)
                *out = (sotto_job_status)i;
            return 0;
        }
    return error_set(SOTTO_EINVAL,
                     "unknown job status '%.32s' (PENDING, PREPROCESSING, "
                     "TRANSCRIBING, POSTPROCESSING, COMPLETE, FAILED, CANCELLED)",
                     s ? s : "");
}

int sotto_job_status_terminal(sotto_job_status s)
{
    return s == SOTTO_JOB_COMPLETE || s == SOTTO_JOB_FAILED || s == SOTTO_JOB_CANCELLED;
}

void sotto_job_clear(sotto_job *j)
{
    if (!j)
        return;
    free(j->options_json);
    free(j->input_path);
    free(j->input_name);
    free(j->versions_json);
    free(j->metrics_json);
    free(j->results_json);
    free(j->error);
    memset(j, 0, sizeof *j);
}

void sotto_job_list_free(sotto_job *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        sotto_job_clear(&list[i]);
    free(list);
}

int jobs_read(sqlite3_stmt *s, sotto_job *out)
{
    memset(out, 0, sizeof *out);
    out->user_id = sqlite3_column_int64(s, 1);
    int64_t status = sqlite3_column_int64(s, 2);
    out->progress = sqlite3_column_double(s, 3);
    out->attempts = sqlite3_column_int(s, 12);
    out->created_at = sqlite3_column_double(s, 13);
    out->started_at = sqlite3_column_double(s, 14);
    out->finished_at = sqlite3_column_double(s, 15);
    int rc = store_col_fixed(s, 0, out->id, sizeof out->id, 0);
    if (!rc && (status < 0 || status > SOTTO_JOB_CANCELLED))
        rc = error_set(SOTTO_EFORMAT, "store: job '%s' has an invalid status %lld", out->id,
                       (long long)status);
    out->status = (sotto_job_status)(rc ? 0 : status);
    if (!rc)
        rc = store_col_dup(s, 4, &out->options_json);
    if (!rc)
        rc = store_col_dup(s, 5, &out->input_path);
    if (!rc && (!out->options_json || !out->input_path))
        rc = error_set(SOTTO_EFORMAT, "store: job '%s' lacks options or input", out->id);
    if (!rc)
        rc = store_col_dup(s, 6, &out->input_name);
    if (!rc)
        rc = store_col_dup(s, 7, &out->versions_json);
    if (!rc)
        rc = store_col_dup(s, 8, &out->metrics_json);
    if (!rc)
        rc = store_col_dup(s, 9, &out->results_json);
    if (!rc)
        rc = store_col_dup(s, 10, &out->error);
    if (!rc)
        rc = store_col_fixed(s, 11, out->session_id, sizeof out->session_id, 1);
    if (rc)
        sotto_job_clear(out);
    return rc;
}

static int jobs_read_row(sqlite3_stmt *s, void *elem)
{
    return jobs_read(s, elem);
}

int sotto_store_job_create(sotto_store *st, const sotto_job *in, char out_id[SOTTO_ID_LEN])
{
    if (!st || !in || !out_id)
        return error_set(SOTTO_EINVAL, "store: job_create needs a store, a job and an id buffer");
    int rc = store_check_text(in->options_json, STORE_MAX_TEXT, 1, "job options");
    if (!rc)
        rc = store_check_text(in->input_path, 4096, 0, "job input path");
    if (!rc)
        rc = store_check_text(in->input_name, 1024, 1, "job input name");
    char id[SOTTO_ID_LEN];
    if (!rc)
        rc = store_new_id("job_", id);
    if (rc)
        return rc;
    store_conn *c = store_writer(st);
    /* an accepted job (the client holds its id) must survive power loss too */
    rc = store_durable(c, 1);
    sqlite3_stmt *s = rc ? NULL
                         : store_stmt(c, "INSERT INTO jobs (id, user_id, status, options_json,"
                                         " input_path, input_name, created_at)"
                                         " VALUES (?, ?, 0, ?, ?, ?, ?)");
    rc = rc ? rc : SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, in->user_id);
        sqlite3_bind_text(s, 3, in->options_json ? in->options_json : "{}", -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, in->input_path, -1, SQLITE_TRANSIENT);
        store_bind_text(s, 5, in->input_name);
        sqlite3_bind_double(s, 6, store_time());
        int step = sqlite3_step(s);
        if (step == SQLITE_DONE)
            rc = 0;
        else if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
            rc = error_set(SOTTO_ENOENT, "store: no user with id %lld", (long long)in->user_id);
        else
            rc = store_err(c, step, "create job");
    }
    store_stmt_done(c, s);
    store_writer_done(st);
    if (rc == 0)
        memcpy(out_id, id, SOTTO_ID_LEN);
    return rc;
}

int sotto_store_job_get(sotto_store *st, int64_t user_id, const char *id, sotto_job *out)
{
    if (!st || !id || !out)
        return error_set(SOTTO_EINVAL, "store: job_get needs a store, an id and an output");
    return store_get_by_id(
        st, "SELECT " STORE_JOB_COLS " FROM jobs WHERE id = ?1 AND (?2 < 0 OR user_id = ?2)", id,
        user_id, jobs_read_row, out, "job");
}

#define JOB_WHERE " WHERE (?1 < 0 OR user_id = ?1) AND (?2 < 0 OR status = ?2)"

typedef struct job_filter_args {
    int64_t user_id; /* -1: every user's */
    int status;      /* -1: any status */
} job_filter_args;

/* store_page_query's free_list (the list-free function through a void pointer). */
static void free_jobs(void *list, size_t n)
{
    sotto_job_list_free(list, n);
}

static void bind_job_filter(sqlite3_stmt *s, const void *filter)
{
    const job_filter_args *a = filter;
    sqlite3_bind_int64(s, 1, a->user_id);
    sqlite3_bind_int(s, 2, a->status);
}

int sotto_store_job_list(sotto_store *st, int64_t user_id, const sotto_job_filter *f,
                         sotto_job **out, size_t *n, size_t *total)
{
    if (!st || !out || !n)
        return error_set(SOTTO_EINVAL, "store: job_list needs a store and outputs");
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    job_filter_args args = {user_id, f ? f->status : -1};
    if (args.status < -1 || args.status > SOTTO_JOB_CANCELLED)
        return error_set(SOTTO_EINVAL, "store: job filter status %d is not a job status",
                         args.status);
    const store_page_query q = {
        .count_sql = "SELECT count(*) FROM jobs" JOB_WHERE,
        .rows_sql = "SELECT " STORE_JOB_COLS " FROM jobs" JOB_WHERE
                    " ORDER BY created_at DESC, rowid DESC LIMIT ?3 OFFSET ?4",
        .limit_param = 3,
        .bind = bind_job_filter,
        .filter = &args,
        .elem_size = sizeof(sotto_job),
        .read = jobs_read_row,
        .what = "jobs",
        .free_list = free_jobs,
    };
    return store_list_page(st, &q, f ? f->limit : 0, f ? f->offset : 0, (void **)out, n, total);
}

int sotto_store_job_cancel(sotto_store *st, int64_t user_id, const char *id)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_cancel needs a store and an id");
    store_conn *c = store_writer(st);
    int rc = store_durable(c, 1);
    sqlite3_stmt *s =
        rc ? NULL
           : store_stmt(c, "UPDATE jobs SET status = 6, finished_at = ?3 "
                           "WHERE id = ?1 AND (?2 < 0 OR user_id = ?2) AND status < 4 "
                           "RETURNING 1");
    rc = rc ? rc : SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, user_id);
        sqlite3_bind_double(s, 3, store_time());
        int step = sqlite3_step(s);
        int changed = step == SQLITE_ROW;
        while (step == SQLITE_ROW)
            step = sqlite3_step(s);
        rc = step == SQLITE_DONE ? 0 : store_err(c, step, "cancel job");
        store_stmt_done(c, s);
        if (rc == 0 && !changed) {
            /* terminal jobs stay as they are; only a missing (or foreign) one is an error */
            s = store_stmt(c, "SELECT 1 FROM jobs WHERE id = ?1 AND (?2 < 0 OR user_id = ?2)");
            rc = s ? 0 : SOTTO_EIO;
            if (s) {
                sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(s, 2, user_id);
                step = sqlite3_step(s);
                if (step == SQLITE_DONE)
                    rc = error_set(SOTTO_ENOENT, "store: no job '%.40s'", id);
                else if (step != SQLITE_ROW)
                    rc = store_err(c, step, "find job");
                store_stmt_done(c, s);
            }
        }
    }
    store_writer_done(st);
    return rc;
}

int sotto_store_job_delete(sotto_store *st, int64_t user_id, const char *id, char **input_path_out)
{
    if (input_path_out)
        *input_path_out = NULL;
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_delete needs a store and an id");
    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "DELETE FROM jobs WHERE id = ?1 AND (?2 < 0 OR user_id = ?2) "
                                    "RETURNING input_path");
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, user_id);
        int step = sqlite3_step(s);
        char *path = NULL;
        rc = 0;
        if (step == SQLITE_ROW) {
            rc = store_col_dup(s, 0, &path);
            step = sqlite3_step(s);
            if (step != SQLITE_DONE && !rc)
                rc = store_err(c, step, "delete job");
        } else if (step == SQLITE_DONE) {
            rc = error_set(SOTTO_ENOENT, "store: no job '%.40s'", id);
        } else {
            rc = store_err(c, step, "delete job");
        }
        if (rc == 0 && input_path_out)
            *input_path_out = path;
        else
            free(path);
        store_stmt_done(c, s);
    }
    store_writer_done(st);
    return rc;
}

int sotto_store_job_counts(sotto_store *st, int64_t counts[7])
{
    if (!st || !counts)
        return error_set(SOTTO_EINVAL, "store: job_counts needs a store and an array");
    memset(counts, 0, 7 * sizeof counts[0]);
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    sqlite3_stmt *s = store_stmt(c, "SELECT status, count(*) FROM jobs GROUP BY status");
    int rc = s ? 0 : SOTTO_EIO;
    if (s) {
        int step;
        while ((step = sqlite3_step(s)) == SQLITE_ROW) {
            int64_t status = sqlite3_column_int64(s, 0);
            if (status >= 0 && status <= SOTTO_JOB_CANCELLED)
                counts[status] = sqlite3_column_int64(s, 1);
        }
        if (step != SQLITE_DONE)
            rc = store_err(c, step, "count jobs");
    }
    store_stmt_done(c, s);
    store_reader_done(st, c);
    return rc;
}
