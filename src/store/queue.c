/*
 * queue.c - the worker side of the durable job queue: claim the oldest PENDING job
 * (one UPDATE ... RETURNING under BEGIN IMMEDIATE, so no two claimers get the same job),
 * report progress (refused once the job was cancelled), finish exactly once (COMPLETE
 * with its transcript session and messages in the same transaction, or FAILED), and
 * recover jobs a crashed process left running.
 */
#include <string.h>

#include "store_int.h"

int sotto_store_job_claim(sotto_store *st, const char *worker, sotto_job *out)
{
    if (!st || !out)
        return error_set(SOTTO_EINVAL, "store: job_claim needs a store and an output");
    int rc = store_check_text(worker, 256, 1, "worker name");
    if (rc)
        return rc;
    store_conn *c = store_writer(st);
    rc = store_begin(c);
    sqlite3_stmt *s = NULL;
    int claimed = 0;
    if (!rc) {
        s = store_stmt(c, "UPDATE jobs SET status = 1, progress = 0, attempts = attempts + 1,"
                          " started_at = ?1, worker = ?2"
                          " WHERE id = (SELECT id FROM jobs WHERE status = 0"
                          "             ORDER BY created_at, rowid LIMIT 1)"
                          " RETURNING " STORE_JOB_COLS);
        rc = s ? 0 : SOTTO_EIO;
    }
    if (!rc) {
        sqlite3_bind_double(s, 1, store_time());
        store_bind_text(s, 2, worker);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW) {
            rc = jobs_read(s, out);
            claimed = rc == 0;
            step = sqlite3_step(s);
        }
        if (!rc && step != SQLITE_DONE)
            rc = store_err(c, step, "claim job");
        store_stmt_done(c, s);
    }
    if (!rc)
        rc = store_commit(c);
    if (rc && claimed)
        sotto_job_clear(out);
    store_writer_done(st);
    return rc ? rc : claimed;
}

/* Why a job cannot move on: ENOENT, ECANCELED, or EINVAL for finished/unclaimed jobs.
 * Reads the status on the caller's (writer) connection. */
static int job_refusal(store_conn *c, const char *id, int *status_out, int64_t *user_out)
{
    sqlite3_stmt *s = store_stmt(c, "SELECT status, user_id FROM jobs WHERE id = ?");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    int rc = 0;
    int status = -1;
    if (step == SQLITE_ROW) {
        status = sqlite3_column_int(s, 0);
        if (user_out)
            *user_out = sqlite3_column_int64(s, 1);
    }
    store_stmt_done(c, s);
    if (step == SQLITE_DONE)
        return error_set(SOTTO_ENOENT, "store: no job '%.40s'", id);
    if (step != SQLITE_ROW)
        return store_err(c, step, "find job");
    if (status_out)
        *status_out = status;
    if (status == SOTTO_JOB_CANCELLED)
        rc = error_set(SOTTO_ECANCELED, "store: job '%.40s' was cancelled", id);
    else if (status == SOTTO_JOB_COMPLETE || status == SOTTO_JOB_FAILED)
        rc = error_set(SOTTO_EINVAL, "store: job '%.40s' is already %s", id,
                       sotto_job_status_name((sotto_job_status)status));
    else if (status < SOTTO_JOB_PREPROCESSING || status > SOTTO_JOB_POSTPROCESSING)
        rc = error_set(SOTTO_EINVAL, "store: job '%.40s' is not running (%s); claim it first", id,
                       sotto_job_status_name((sotto_job_status)status));
    return rc;
}

int sotto_store_job_progress(sotto_store *st, const char *id, sotto_job_status status,
                             double progress, const char *versions_json)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_progress needs a store and an id");
    if (status < SOTTO_JOB_PREPROCESSING || status > SOTTO_JOB_POSTPROCESSING)
        return error_set(SOTTO_EINVAL, "store: progress status must be PREPROCESSING, "
                                       "TRANSCRIBING or POSTPROCESSING");
    int rc = store_check_text(versions_json, STORE_MAX_TEXT, 1, "job versions");
    if (rc)
        return rc;
    if (!(progress >= 0)) /* also catches NaN */
        progress = 0;
    if (progress > 1)
        progress = 1;
    store_conn *c = store_writer(st);
    rc = store_begin(c);
    if (!rc)
        rc = job_refusal(c, id, NULL, NULL);
    if (!rc) {
        sqlite3_stmt *s =
            store_stmt(c, "UPDATE jobs SET status = ?2, progress = coalesce(?3, progress),"
                          " versions_json = coalesce(?4, versions_json)"
                          " WHERE id = ?1");
        rc = s ? 0 : SOTTO_EIO;
        if (s) {
            sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int(s, 2, (int)status);
            sqlite3_bind_double(s, 3, progress);
            store_bind_text(s, 4, versions_json);
            int step = sqlite3_step(s);
            if (step != SQLITE_DONE)
                rc = store_err(c, step, "update job progress");
            store_stmt_done(c, s);
        }
    }
    if (!rc)
        rc = store_commit(c);
    store_writer_done(st);
    return rc;
}

/* Mark a running job finished (COMPLETE or FAILED) with its texts, in the caller's
 * transaction. */
static int job_finish(store_conn *c, const char *id, sotto_job_status status,
                      const char *results_json, const char *metrics_json, const char *error,
                      const char *session_id)
{
    sqlite3_stmt *s =
        store_stmt(c, "UPDATE jobs SET status = ?2, progress = coalesce(?3, progress),"
                      " results_json = coalesce(?4, results_json),"
                      " metrics_json = coalesce(?5, metrics_json), error = ?6,"
                      " session_id = ?7, finished_at = ?8 WHERE id = ?1");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, (int)status);
    if (status == SOTTO_JOB_COMPLETE)
        sqlite3_bind_double(s, 3, 1.0);
    else
        sqlite3_bind_null(s, 3);
    store_bind_text(s, 4, results_json);
    store_bind_text(s, 5, metrics_json);
    store_bind_text(s, 6, error);
    store_bind_text(s, 7, session_id && session_id[0] ? session_id : NULL);
    sqlite3_bind_double(s, 8, store_time());
    int step = sqlite3_step(s);
    int rc = step == SQLITE_DONE ? 0 : store_err(c, step, "finish job");
    store_stmt_done(c, s);
    return rc;
}

int sotto_store_job_complete(sotto_store *st, const char *id, const char *results_json,
                             const char *metrics_json, const sotto_session *session,
                             const sotto_message *messages, size_t n_messages)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_complete needs a store and an id");
    if (n_messages && (!messages || !session))
        return error_set(SOTTO_EINVAL, "store: job messages need a session to go in");
    int rc = store_check_text(results_json, STORE_MAX_TEXT, 1, "job results");
    if (!rc)
        rc = store_check_text(metrics_json, STORE_MAX_TEXT, 1, "job metrics");
    if (rc)
        return rc;
    store_conn *c = store_writer(st);
    rc = store_durable(c, 1); /* results and transcript survive power loss */
    if (!rc)
        rc = store_begin(c);
    int64_t user_id = 0;
    if (!rc)
        rc = job_refusal(c, id, NULL, &user_id);
    char session_id[SOTTO_ID_LEN] = "";
    if (!rc && session) {
        sotto_session ses = *session;
        ses.user_id = user_id;
        if (!ses.type[0])
            snprintf(ses.type, sizeof ses.type, "job");
        if (!ses.status[0])
            snprintf(ses.status, sizeof ses.status, "ended");
        rc = sessions_insert(c, &ses, session_id);
        for (size_t i = 0; !rc && i < n_messages; i++) {
            sotto_message m = messages[i]; /* shallow: only id/seq/created_at are written */
            rc = messages_insert(c, session_id, user_id, &m);
        }
    }
    if (!rc)
        rc = job_finish(c, id, SOTTO_JOB_COMPLETE, results_json, metrics_json, NULL, session_id);
    if (!rc)
        rc = store_commit(c);
    store_writer_done(st); /* rolls back whatever an error left open */
    return rc;
}

int sotto_store_job_fail(sotto_store *st, const char *id, const char *error,
                         const char *metrics_json)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_fail needs a store and an id");
    int rc = store_check_text(error, 64 * 1024, 1, "job error");
    if (!rc)
        rc = store_check_text(metrics_json, STORE_MAX_TEXT, 1, "job metrics");
    if (rc)
        return rc;
    store_conn *c = store_writer(st);
    rc = store_durable(c, 1);
    if (!rc)
        rc = store_begin(c);
    if (!rc)
        rc = job_refusal(c, id, NULL, NULL);
    if (!rc)
        rc =
            job_finish(c, id, SOTTO_JOB_FAILED, NULL, metrics_json, error ? error : "failed", NULL);
    if (!rc)
        rc = store_commit(c);
    store_writer_done(st);
    return rc;
}

int sotto_store_job_recover(sotto_store *st, size_t *n_recovered)
{
    if (n_recovered)
        *n_recovered = 0;
    if (!st)
        return error_set(SOTTO_EINVAL, "store: job_recover needs a store");
    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "UPDATE jobs SET status = 0, progress = 0, worker = NULL "
                                    "WHERE status BETWEEN 1 AND 3");
    int rc = SOTTO_EIO;
    if (s) {
        int step = sqlite3_step(s);
        rc = step == SQLITE_DONE ? 0 : store_err(c, step, "recover jobs");
        if (rc == 0 && n_recovered)
            *n_recovered = (size_t)sqlite3_changes(c->db);
        store_stmt_done(c, s);
    }
    store_writer_done(st);
    return rc;
}

/* Put one claimed job back in the queue (a runner stopping without finishing it), so it
 * reads PENDING at once and another runner may take it; a job that is not running is
 * left as it is (ENOENT for an unknown id). */
int sotto_store_job_release(sotto_store *st, const char *id)
{
    if (!st || !id)
        return error_set(SOTTO_EINVAL, "store: job_release needs a store and an id");
    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "UPDATE jobs SET status = 0, progress = 0, worker = NULL "
                                    "WHERE id = ?1 AND status BETWEEN 1 AND 3");
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(s);
        rc = step == SQLITE_DONE ? 0 : store_err(c, step, "release job");
        store_stmt_done(c, s);
    }
    store_writer_done(st);
    return rc;
}
