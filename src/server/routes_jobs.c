/*
 * routes_jobs.c - the durable job API: POST /v1/jobs (multipart upload + options -> 202
 * {id}), GET /v1/jobs/{id} (status, progress, versions, metrics, results), GET /v1/jobs
 * (status filter, limit/offset), DELETE /v1/jobs/{id} (cancel a job that has not finished;
 * delete a finished one with its upload). Also the submission path the OpenAI routes share.
 *
 * Clients name recognizers, never files: "model" is a backend name (sphinx, whisper,
 * whisper-1); the Whisper model file is the server's own configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base_int.h"
#include "server/server_int.h"

int jobs_submit_upload(srv_req *r, upload *u, const char *options_json, int sync,
                       char out_id[SOTTO_ID_LEN])
{
    sotto_server *s = r->srv;
    int rc = sotto_jobs_validate_options(s->jobs, options_json);
    if (rc) {
        upload_clear(u, 1);
        if (rc == SOTTO_ENOTSUP)
            http_error(r, 422, "not_available", "%s", sotto_last_error());
        else
            http_error_rc(r, rc);
        return -1;
    }
    rc = sotto_jobs_submit(s->jobs, r->user.id, options_json, u->path,
                           u->client_name[0] ? u->client_name : NULL, out_id);
    if (rc) {
        upload_clear(u, 1);
        if (rc == SOTTO_EUNAVAIL) {
            if (sync)
                http_error(r, 503, "queue_full",
                           "the transcription queue is full (%zu jobs waiting); retry later",
                           s->opt.limits.max_queue);
            else
                http_error(r, 429, "queue_full", "the job queue is full (%zu jobs waiting); retry later",
                           s->opt.limits.max_queue);
        } else {
            http_error_rc(r, rc);
        }
        return -1;
    }
    free(u->path); /* the file now belongs to the job; the fields stay for the caller */
    u->path = NULL;
    server_watch_job(s, out_id);
    return 0;
}

/* Map a client's recognizer name to job options' "backend" (NULL = server default). */
int jobs_backend_for_model(srv_req *r, const char *model, const char **backend)
{
    *backend = NULL;
    if (!model || !*model || !strcmp(model, "whisper-1") || !strcmp(model, "default"))
        return 0;
    if (!strcmp(model, "sphinx")) {
        *backend = "sphinx";
        return 0;
    }
    if (!strcmp(model, "whisper")) {
        if (!r->srv->model) {
            http_error(r, 400, "model_not_available",
                       "model 'whisper' is not available: the server has no Whisper model configured");
            return -1;
        }
        *backend = "whisper";
        return 0;
    }
    http_error(r, 400, "model_not_found", "unknown model '%.64s' (see GET /v1/models)", model);
    return -1;
}

/* Append ,"key":[...] from a comma-separated value or repeated fields. */
static void put_list(sotto_buf *b, const upload *u, const char *field, const char *key)
{
    size_t n = upload_field_count(u, field);
    if (!n)
        return;
    sotto_buf_printf(b, ",\"%s\":[", key);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const char *v = upload_field_at(u, field, i);
        while (v && *v) {
            size_t len = strcspn(v, ", ");
            if (len) {
                char item[64];
                snprintf(item, sizeof item, "%.*s", (int)(len < 63 ? len : 63), v);
                if (!first)
                    sotto_buf_putc(b, ',');
                sotto_buf_json_string(b, item);
                first = 0;
            }
            v += len;
            while (*v == ',' || *v == ' ')
                v++;
        }
    }
    sotto_buf_putc(b, ']');
}

int route_job_submit(srv_req *r)
{
    upload u;
    if (upload_receive(r, 1, &u) != 0)
        return r->status;
    const char *backend = upload_field_get(&u, "backend");
    if (!backend && jobs_backend_for_model(r, upload_field_get(&u, "model"), &backend) != 0) {
        upload_clear(&u, 1);
        return r->status;
    }
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_putc(&b, '{');
    sotto_buf_puts(&b, "\"task\":\"transcribe\"");
    if (backend) {
        sotto_buf_puts(&b, ",\"backend\":");
        sotto_buf_json_string(&b, backend);
    }
    static const char *strings[] = {"language", "prompt", "template"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *v = upload_field_get(&u, strings[i]);
        if (v) {
            sotto_buf_printf(&b, ",\"%s\":", strings[i]);
            sotto_buf_json_string(&b, v);
        }
    }
    const char *t = upload_field_get(&u, "temperature");
    if (t) {
        char *end;
        double d = strtod(t, &end);
        if (end == t || *end || !(d >= 0 && d <= 1)) {
            sotto_buf_free(&b);
            upload_clear(&u, 1);
            return http_error(r, 400, "invalid_request", "field 'temperature' must be a number in [0, 1]");
        }
        sotto_buf_printf(&b, ",\"temperature\":%g", d);
    }
    const char *wt = upload_field_get(&u, "word_timestamps");
    if (wt)
        sotto_buf_printf(&b, ",\"word_timestamps\":%s",
                         (!strcmp(wt, "true") || !strcmp(wt, "1")) ? "true" : "false");
    put_list(&b, &u, "features", "features");
    const char *diarize = upload_field_get(&u, "diarize");
    if (diarize && (!strcmp(diarize, "true") || !strcmp(diarize, "1"))) {
        /* diarize is a feature of later work: let validation refuse it by name */
        sotto_buf_puts(&b, upload_field_count(&u, "features") ? "" : ",\"features\":[\"diarize\"]");
    }
    if (upload_field_count(&u, "formats"))
        put_list(&b, &u, "formats", "formats");
    else
        sotto_buf_puts(&b, ",\"formats\":[\"txt\",\"json\",\"srt\",\"vtt\"]");
    sotto_buf_putc(&b, '}');
    if (!b.data) {
        upload_clear(&u, 1);
        return http_error(r, 500, "internal", "out of memory");
    }
    char id[SOTTO_ID_LEN];
    int rc = jobs_submit_upload(r, &u, b.data, 0, id);
    sotto_buf_free(&b);
    upload_clear(&u, 0);
    if (rc)
        return r->status;
    sotto_buf out = SOTTO_BUF_INIT;
    sotto_buf_printf(&out, "{\"id\":\"%s\",\"status\":\"PENDING\",\"duration_s\":", id);
    sotto_buf_json_number(&out, u.duration_s, 3);
    sotto_buf_puts(&out, "}\n");
    int st = http_send_json(r, 202, &out);
    sotto_buf_free(&out);
    return st;
}

static void put_time(sotto_buf *b, const char *key, double t)
{
    sotto_buf_printf(b, ",\"%s\":", key);
    if (t > 0)
        sotto_buf_json_number(b, t, 3);
    else
        sotto_buf_puts(b, "null");
}

static void job_json(const sotto_server *s, sotto_buf *b, const sotto_job *j, int full)
{
    sotto_buf_printf(b, "{\"id\":\"%s\",\"object\":\"job\",\"status\":\"%s\",\"progress\":", j->id,
                     sotto_job_status_name(j->status));
    sotto_buf_json_number(b, j->progress, 3);
    sotto_buf_puts(b, ",\"input_name\":");
    if (j->input_name)
        sotto_buf_json_string(b, j->input_name);
    else
        sotto_buf_puts(b, "null");
    put_time(b, "created_at", j->created_at);
    put_time(b, "started_at", j->started_at);
    put_time(b, "finished_at", j->finished_at);
    sotto_buf_printf(b, ",\"attempts\":%d,\"session_id\":", j->attempts);
    if (j->session_id[0])
        sotto_buf_json_string(b, j->session_id);
    else
        sotto_buf_puts(b, "null");
    sotto_buf_puts(b, ",\"error\":");
    if (j->error) {
        char msg[600];
        server_scrub(s, j->error, msg, sizeof msg);
        sotto_buf_json_string(b, msg);
    }
    else
        sotto_buf_puts(b, "null");
    if (full) {
        sotto_buf_putc(b, ',');
        json_put_raw(b, "options", j->options_json);
        sotto_buf_putc(b, ',');
        json_put_raw(b, "versions", j->versions_json);
        sotto_buf_putc(b, ',');
        json_put_raw(b, "metrics", j->metrics_json);
        sotto_buf_putc(b, ',');
        json_put_raw(b, "results", j->results_json);
    }
    sotto_buf_putc(b, '}');
}

/* page_send's item writer: a job as the list shows it (without its large JSON parts). */
static void job_item(sotto_buf *b, const void *item, const void *srv)
{
    job_json(srv, b, item, 0);
}

int route_job_get(srv_req *r)
{
    sotto_job j;
    memset(&j, 0, sizeof j);
    int rc = sotto_store_job_get(r->srv->store, r->user.id, r->param, &j);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no job '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    job_json(r->srv, &b, &j, 1);
    sotto_buf_putc(&b, '\n');
    sotto_job_clear(&j);
    int st = http_send_json(r, 200, &b);
    sotto_buf_free(&b);
    return st;
}

int route_job_list(srv_req *r)
{
    sotto_job_filter f = {-1, 50, 0};
    char status[32];
    int k = http_query(r, "status", status, sizeof status);
    if (k < 0)
        return http_error(r, 400, "invalid_request", "query parameter 'status' is too long");
    if (k > 0) {
        sotto_job_status js;
        for (char *p = status; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        if (sotto_job_status_parse(status, &js) != 0)
            return http_error(r, 400, "invalid_request",
                              "unknown status '%s' (PENDING, PREPROCESSING, TRANSCRIBING, "
                              "POSTPROCESSING, COMPLETE, FAILED, CANCELLED)",
                              status);
        f.status = (int)js;
    }
    srv_page p;
    if (page_parse(r, 50, &p))
        return r->status;
    f.limit = (size_t)p.limit;
    f.offset = (size_t)p.offset;
    sotto_job *list = NULL;
    size_t n = 0, total = 0;
    int rc = sotto_store_job_list(r->srv->store, r->user.id, &f, &list, &n, &total);
    if (rc)
        return http_error_rc(r, rc);
    int st = page_send(r, &p, list, n, sizeof *list, total, job_item, r->srv);
    sotto_job_list_free(list, n);
    return st;
}

/* Only files under our uploads dir are ever removed (a store row is not trusted blindly). */
void server_remove_upload(sotto_server *s, const char *path)
{
    size_t n = strlen(s->uploads_dir);
    if (path && !strncmp(path, s->uploads_dir, n) && path[n] == '/' && !strstr(path + n, ".."))
        unlink(path);
}

int route_job_delete(srv_req *r)
{
    sotto_server *s = r->srv;
    sotto_job j;
    memset(&j, 0, sizeof j);
    int rc = sotto_store_job_get(s->store, r->user.id, r->param, &j);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no job '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    int terminal = sotto_job_status_terminal(j.status);
    sotto_job_clear(&j);
    char purge[8];
    int want_purge = http_query(r, "purge", purge, sizeof purge) > 0 &&
                     (!strcmp(purge, "1") || !strcmp(purge, "true"));
    sotto_buf b = SOTTO_BUF_INIT;
    if (!terminal) {
        rc = sotto_store_job_cancel(s->store, r->user.id, r->param);
        if (rc && rc != SOTTO_ECANCELED)
            return http_error_rc(r, rc);
    }
    if (terminal || want_purge) {
        char *input = NULL;
        rc = sotto_store_job_delete(s->store, r->user.id, r->param, &input);
        if (rc == SOTTO_ENOENT)
            return http_error(r, 404, "not_found", "no job '%.64s'", r->param);
        if (rc)
            return http_error_rc(r, rc);
        server_remove_upload(s, input);
        free(input);
        sotto_buf_printf(&b, "{\"id\":\"%s\",\"object\":\"job\",\"deleted\":true}\n", r->param);
    } else {
        sotto_buf_printf(&b, "{\"id\":\"%s\",\"object\":\"job\",\"status\":\"CANCELLED\",\"deleted\":false}\n",
                         r->param);
    }
    int st = http_send_json(r, 200, &b);
    sotto_buf_free(&b);
    return st;
}
