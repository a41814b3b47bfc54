/*
 * routes_openai.c - the OpenAI-compatible audio API: POST /v1/audio/transcriptions and
 * /v1/audio/translations (multipart: file, model, language, prompt, response_format,
 * temperature, timestamp_granularities[], stream) answered as json, text, srt, vtt or
 * verbose_json, or streamed as SSE transcript.text.delta / transcript.text.done events.
 *
 * The request thread only uploads, submits a job and waits: recognition runs on the job
 * workers. The upload is removed once the job has finished; its transcript stays as a
 * session in the caller's history.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "server/server_int.h"

typedef struct oa_req {
    const char *format;  /* json text srt vtt verbose_json */
    char format_buf[16];
    int words, segments; /* timestamp granularities */
    int stream;
    int translate;
} oa_req;

/* Read the request's fields into q and the job options into b; sends 400 and returns -1. */
static int build_options(srv_req *r, const upload *u, oa_req *q, sotto_buf *b)
{
    const char *model = upload_field_get(u, "model");
    if (!model || !*model)
        return http_error(r, 400, "invalid_request", "missing required field 'model' (e.g. whisper-1)"), -1;
    const char *backend;
    if (jobs_backend_for_model(r, model, &backend) != 0)
        return -1;
    q->format = upload_field_get(u, "response_format");
    if (!q->format || !*q->format)
        q->format = "json";
    static const char *formats[] = {"json", "text", "srt", "vtt", "verbose_json"};
    int ok = 0;
    for (size_t i = 0; i < 5; i++)
        ok |= !strcmp(q->format, formats[i]);
    if (!ok)
        return http_error(r, 400, "invalid_request",
                          "response_format '%.32s' is not one of json, text, srt, verbose_json, vtt",
                          q->format), -1;
    size_t ng = upload_field_count(u, "timestamp_granularities[]");
    for (size_t i = 0; i < ng; i++) {
        const char *g = upload_field_at(u, "timestamp_granularities[]", i);
        if (!strcmp(g, "word"))
            q->words = 1;
        else if (!strcmp(g, "segment"))
            q->segments = 1;
        else
            return http_error(r, 400, "invalid_request",
                              "timestamp_granularities[] '%.32s' is not word or segment", g), -1;
    }
    if (!ng)
        q->segments = 1;
    const char *stream = upload_field_get(u, "stream");
    q->stream = stream && (!strcmp(stream, "true") || !strcmp(stream, "1"));
    sotto_buf_printf(b, "{\"task\":\"%s\"", q->translate ? "translate" : "transcribe");
    if (backend)
        sotto_buf_printf(b, ",\"backend\":\"%s\"", backend);
    const char *lang = upload_field_get(u, "language");
    if (lang && *lang && !q->translate) {
        sotto_buf_puts(b, ",\"language\":");
        sotto_buf_json_string(b, lang);
    }
    const char *prompt = upload_field_get(u, "prompt");
    if (prompt && *prompt) {
        sotto_buf_puts(b, ",\"prompt\":");
        sotto_buf_json_string(b, prompt);
    }
    const char *t = upload_field_get(u, "temperature");
    if (t && *t) {
        char *end;
        double d = strtod(t, &end);
        if (end == t || *end || !(d >= 0 && d <= 1))
            return http_error(r, 400, "invalid_request", "temperature must be a number in [0, 1]"), -1;
        sotto_buf_printf(b, ",\"temperature\":%g", d);
    }
    sotto_buf_printf(b, ",\"word_timestamps\":%s,\"formats\":[\"txt\",\"json\",\"srt\",\"vtt\"]}",
                     q->words ? "true" : "false");
    return b->data ? 0 : (http_error(r, 500, "internal", "out of memory"), -1);
}

static int send_verbose(srv_req *r, const oa_req *q, const sotto_json *res)
{
    const sotto_json *js = sotto_json_get(res, "json");
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "{\"task\":\"%s\",\"language\":", q->translate ? "translate" : "transcribe");
    sotto_buf_json_string(&b, sotto_json_string(sotto_json_get(js, "language"), ""));
    sotto_buf_puts(&b, ",\"duration\":");
    sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(js, "duration"), 0), 3);
    sotto_buf_puts(&b, ",\"text\":");
    sotto_buf_json_string(&b, sotto_json_string(sotto_json_get(res, "text"), ""));
    const sotto_json *segs = sotto_json_get(js, "segments");
    if (q->segments) {
        sotto_buf_puts(&b, ",\"segments\":[");
        for (size_t i = 0; i < sotto_json_len(segs); i++) {
            const sotto_json *sg = sotto_json_at(segs, i);
            sotto_buf_printf(&b, "%s{\"id\":%zu,\"seek\":0,\"start\":", i ? "," : "", i);
            sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(sg, "start"), 0), 3);
            sotto_buf_puts(&b, ",\"end\":");
            sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(sg, "end"), 0), 3);
            sotto_buf_puts(&b, ",\"text\":");
            sotto_buf_json_string(&b, sotto_json_string(sotto_json_get(sg, "text"), ""));
            sotto_buf_puts(&b, ",\"tokens\":");
            const sotto_json *tok = sotto_json_get(sg, "tokens");
            if (tok)
                json_emit(&b, tok);
            else
                sotto_buf_puts(&b, "[]");
            static const char *nums[] = {"temperature", "avg_logprob", "compression_ratio",
                                         "no_speech_prob"};
            for (size_t k = 0; k < 4; k++) {
                sotto_buf_printf(&b, ",\"%s\":", nums[k]);
                sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(sg, nums[k]), 0), 4);
            }
            sotto_buf_putc(&b, '}');
        }
        sotto_buf_putc(&b, ']');
    }
    if (q->words) {
        sotto_buf_puts(&b, ",\"words\":[");
        int first = 1;
        for (size_t i = 0; i < sotto_json_len(segs); i++) {
            const sotto_json *ws = sotto_json_get(sotto_json_at(segs, i), "words");
            for (size_t k = 0; k < sotto_json_len(ws); k++) {
                const sotto_json *w = sotto_json_at(ws, k);
                const char *word = sotto_json_string(sotto_json_get(w, "word"), "");
                while (*word == ' ')
                    word++;
                sotto_buf_puts(&b, first ? "{\"word\":" : ",{\"word\":");
                first = 0;
                sotto_buf_json_string(&b, word);
                sotto_buf_puts(&b, ",\"start\":");
                sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(w, "start"), 0), 3);
                sotto_buf_puts(&b, ",\"end\":");
                sotto_buf_json_number(&b, sotto_json_number(sotto_json_get(w, "end"), 0), 3);
                sotto_buf_putc(&b, '}');
            }
        }
        sotto_buf_putc(&b, ']');
    }
    sotto_buf_puts(&b, "}\n");
    int st = b.data ? http_send_json(r, 200, &b) : http_error(r, 500, "internal", "out of memory");
    sotto_buf_free(&b);
    return st;
}

/* Answer a finished job in the requested format. */
static int send_result(srv_req *r, const oa_req *q, const sotto_job *job)
{
    if (job->status == SOTTO_JOB_FAILED) {
        char msg[600];
        server_scrub(r->srv, job->error ? job->error : "transcription failed", msg, sizeof msg);
        return http_error(r, 422, "transcription_failed", "%s", msg);
    }
    if (job->status != SOTTO_JOB_COMPLETE || !job->results_json)
        return http_error(r, 409, "cancelled", "the transcription was cancelled");
    sotto_json *res = NULL;
    if (sotto_json_parse(job->results_json, strlen(job->results_json), NULL, &res) != 0)
        return http_error(r, 500, "internal", "the job's results could not be read");
    int st;
    const char *text = sotto_json_string(sotto_json_get(res, "text"), "");
    if (!strcmp(q->format, "json")) {
        sotto_buf b = SOTTO_BUF_INIT;
        sotto_buf_puts(&b, "{\"text\":");
        sotto_buf_json_string(&b, text);
        sotto_buf_puts(&b, "}\n");
        st = http_send_json(r, 200, &b);
        sotto_buf_free(&b);
    } else if (!strcmp(q->format, "text")) {
        sotto_buf b = SOTTO_BUF_INIT;
        sotto_buf_printf(&b, "%s\n", text);
        st = http_send(r, 200, "text/plain; charset=utf-8", b.data, b.len);
        sotto_buf_free(&b);
    } else if (!strcmp(q->format, "srt") || !strcmp(q->format, "vtt")) {
        const char *sub = sotto_json_string(sotto_json_get(res, q->format), "");
        st = http_send(r, 200, q->format[0] == 's' ? "application/x-subrip; charset=utf-8" : "text/vtt; charset=utf-8",
                       sub, strlen(sub));
    } else {
        st = send_verbose(r, q, res);
    }
    sotto_json_free(res);
    return st;
}

typedef struct sse_ctx {
    srv_req *r;
    int n;
    int broken;
} sse_ctx;

static void sse_event(srv_req *r, const char *type, const char *key, const char *text, int *broken)
{
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "event: %s\ndata: {\"type\":\"%s\",\"%s\":", type, type, key);
    sotto_buf_json_string(&b, text);
    sotto_buf_puts(&b, "}\n\n");
    if (!*broken && b.data && http_chunk(r, b.data, b.len) != 0)
        *broken = 1; /* the client went away; the job still finishes into its history */
    sotto_buf_free(&b);
}

static void on_segment(void *user, const char *text)
{
    sse_ctx *c = user;
    while (*text == ' ')
        text++;
    if (!*text)
        return;
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "%s%s", c->n++ ? " " : "", text);
    if (b.data)
        sse_event(c->r, "transcript.text.delta", "delta", b.data, &c->broken);
    sotto_buf_free(&b);
}

static int transcribe(srv_req *r, int translate)
{
    sotto_server *s = r->srv;
    upload u;
    if (upload_receive(r, 1, &u) != 0)
        return r->status;
    oa_req q = {0};
    q.translate = translate;
    sotto_buf opts = SOTTO_BUF_INIT;
    if (build_options(r, &u, &q, &opts) != 0) {
        sotto_buf_free(&opts);
        upload_clear(&u, 1);
        return r->status;
    }
    char id[SOTTO_ID_LEN];
    int rc = jobs_submit_upload(r, &u, opts.data, 1, id);
    sotto_buf_free(&opts);
    if (rc)
        return r->status;
    snprintf(q.format_buf, sizeof q.format_buf, "%s", q.format);
    q.format = q.format_buf;
    upload_clear(&u, 0);
    sotto_job job;
    memset(&job, 0, sizeof job);
    if (q.stream) {
        if (http_start_chunked(r, 200, "text/event-stream") != 0)
            return r->status;
        sse_ctx c = {r, 0, 0};
        rc = sotto_jobs_wait_stream(s->jobs, id, s->opt.limits.sync_timeout_s, on_segment, &c, &job);
        if (rc == 0 && job.status == SOTTO_JOB_COMPLETE && job.results_json) {
            sotto_json *res = NULL;
            if (sotto_json_parse(job.results_json, strlen(job.results_json), NULL, &res) == 0) {
                sse_event(r, "transcript.text.done", "text",
                          sotto_json_string(sotto_json_get(res, "text"), ""), &c.broken);
                sotto_json_free(res);
            }
        } else {
            char msg[600];
            server_scrub(s, rc ? "the transcription did not finish in time"
                               : (job.error ? job.error : "the transcription was cancelled"),
                         msg, sizeof msg);
            sse_event(r, "error", "message", msg, &c.broken);
        }
        http_chunk_end(r);
    } else {
        rc = sotto_jobs_wait(s->jobs, id, s->opt.limits.sync_timeout_s, &job);
        if (rc == SOTTO_ECANCELED)
            http_error(r, 504, "timeout",
                       "the transcription did not finish within %.0f s; it continues as job %s",
                       s->opt.limits.sync_timeout_s, id);
        else if (rc)
            http_error_rc(r, rc);
        else
            send_result(r, &q, &job);
    }
    if (rc == 0) {
        server_remove_upload(s, job.input_path);
        sotto_job_clear(&job);
    }
    return r->status;
}

int route_transcribe(srv_req *r)
{
    return transcribe(r, 0);
}

int route_translate(srv_req *r)
{
    return transcribe(r, 1);
}
