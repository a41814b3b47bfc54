/*
 * run.c - running one claimed job: options, recognizer, audio, pipeline, results.
 *
 * Owns: the stages a job goes through (PREPROCESSING with versions_json, TRANSCRIBING
 * with progress and cancellation, POSTPROCESSING), the worker's recognizer cache (made
 * again only when a job asks for another one), the results/metrics/versions JSON, and
 * turning the transcript into the job's session. Every way out ends the job in the store
 * exactly once (complete, fail) or leaves it for recovery (runner stopping), and tells
 * the waiters (jobs_watch_finish).
 * Does not: decide which job runs (runner.c) or talk to waiters directly (wait.c).
 */
#include <string.h>
#include <sys/stat.h>

#include "base/base_int.h"
#include "base/sha256.h"
#include "jobs/jobs_int.h"
#include "sotto/log.h"
#include "sotto/pipeline.h"
#include "sotto/sotto.h"

/* Why the pipeline was stopped from the progress callback. */
enum { STOP_NONE = 0, STOP_CANCELLED, STOP_GONE, STOP_RUNNER };

typedef struct run_ctx {
    jobs_worker *w;
    const sotto_job *job;
    const sotto_transcript *t;
    size_t n_published; /* segments already handed to waiters */
    int stop;           /* STOP_* */
} run_ctx;

static int str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Same recognizer? Everything sotto_asr_new takes counts (there is no call to change a
 * recognizer's decoding options afterwards), formats do not. */
static int same_recognizer(const jobs_opts *a, const jobs_opts *b)
{
    return strcmp(a->backend, b->backend) == 0 && str_same(a->model, b->model) &&
           strcmp(a->language, b->language) == 0 && str_same(a->prompt, b->prompt) &&
           a->translate == b->translate && a->temperature == b->temperature &&
           a->word_timestamps == b->word_timestamps;
}

static int worker_recognizer(jobs_worker *w, const jobs_opts *o)
{
    if (w->asr && same_recognizer(&w->asr_opts, o))
        return 0;
    sotto_asr_free(w->asr);
    w->asr = NULL;
    jobs_opts_free(&w->asr_opts);
    sotto_asr_options ao;
    sotto_asr_options_init(&ao);
    ao.model_path = o->model;
    ao.language = o->language[0] ? o->language : NULL;
    ao.prompt = o->prompt;
    ao.translate = o->translate;
    ao.temperature = (float)o->temperature;
    ao.word_timestamps = o->word_timestamps;
    ao.n_threads = w->j->o.n_threads;
    int rc = sotto_asr_new(o->backend, &ao, &w->asr);
    if (rc < 0)
        return rc;
    w->asr_opts = *o;
    w->asr_opts.model = str_dup(o->model);
    w->asr_opts.prompt = str_dup(o->prompt);
    if ((o->model && !w->asr_opts.model) || (o->prompt && !w->asr_opts.prompt)) {
        sotto_asr_free(w->asr);
        w->asr = NULL;
        jobs_opts_free(&w->asr_opts);
        return error_set(SOTTO_ENOMEM, "out of memory keeping a recognizer");
    }
    return 0;
}

int jobs_model_sha256(sotto_jobs *j, const char *path, char hex[65])
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return error_set(SOTTO_ENOENT, "cannot read model '%s'", path);
    int64_t mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->n_hashes; i++) {
        jobs_model_hash *h = &j->hashes[i];
        if (strcmp(h->path, path) == 0 && h->size == (int64_t)sb.st_size &&
            h->mtime_ns == mtime_ns) {
            memcpy(hex, h->hex, 65);
            pthread_mutex_unlock(&j->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&j->mu);

    /* hash outside the lock: a large model takes a second or two */
    FILE *f = fopen(path, "rb");
    if (!f)
        return error_set(SOTTO_ENOENT, "cannot read model '%s'", path);
    unsigned char *chunk = malloc(1 << 20);
    if (!chunk) {
        fclose(f);
        return error_set(SOTTO_ENOMEM, "out of memory hashing the model");
    }
    sha256_ctx c;
    sha256_init(&c);
    size_t n;
    while ((n = fread(chunk, 1, 1 << 20, f)) > 0)
        sha256_update(&c, chunk, n);
    int bad = ferror(f);
    fclose(f);
    free(chunk);
    if (bad)
        return error_set(SOTTO_EIO, "cannot read model '%s'", path);
    uint8_t digest[32];
    sha256_final(&c, digest);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);

    pthread_mutex_lock(&j->mu);
    jobs_model_hash *grown = realloc(j->hashes, (j->n_hashes + 1) * sizeof *grown);
    char *p = str_dup(path);
    if (grown && p) {
        j->hashes = grown;
        j->hashes[j->n_hashes].path = p;
        j->hashes[j->n_hashes].size = (int64_t)sb.st_size;
        j->hashes[j->n_hashes].mtime_ns = mtime_ns;
        memcpy(j->hashes[j->n_hashes].hex, hex, 65);
        j->n_hashes++;
    } else {
        if (grown)
            j->hashes = grown;
        free(p); /* not cached this time; the digest itself is fine */
    }
    pthread_mutex_unlock(&j->mu);
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* versions_json: what produced the result, so a result can be reproduced or compared. */
static int build_versions(jobs_worker *w, const jobs_opts *o, sotto_buf *b)
{
    char hex[65] = "";
    if (o->model) {
        int rc = jobs_model_sha256(w->j, o->model, hex);
        if (rc < 0)
            return rc;
    }
    int rc = sotto_buf_puts(b, "{\"sotto\":");
    rc = rc ? rc : sotto_buf_json_string(b, sotto_version());
    rc = rc ? rc : sotto_buf_puts(b, ",\"backend\":");
    rc = rc ? rc : sotto_buf_json_string(b, o->backend);
    rc = rc ? rc : sotto_buf_puts(b, ",\"model\":");
    rc = rc ? rc : sotto_buf_json_string(b, o->model ? base_name(o->model)
                                                     : sotto_asr_model_name(w->asr));
    rc = rc ? rc : sotto_buf_puts(b, ",\"model_sha256\":");
    rc = rc ? rc : (hex[0] ? sotto_buf_json_string(b, hex) : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_puts(b, ",\"decoding\":{\"language\":");
    rc = rc ? rc : (o->language[0] ? sotto_buf_json_string(b, o->language)
                                   : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_printf(b, ",\"task\":\"%s\",\"temperature\":",
                                    o->translate ? "translate" : "transcribe");
    rc = rc ? rc : sotto_buf_json_number(b, o->temperature, 2);
    rc = rc ? rc : sotto_buf_printf(b, ",\"word_timestamps\":%s,\"prompt\":",
                                    o->word_timestamps ? "true" : "false");
    rc = rc ? rc : (o->prompt ? sotto_buf_json_string(b, o->prompt) : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_puts(b, "}}");
    return rc;
}

/* A segment's text without surrounding white space (Whisper's texts start with one);
 * NULL when nothing is left. Caller frees. */
static char *segment_text(const sotto_segment *s)
{
    const char *p = s->text ? s->text : "";
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    if (n == 0)
        return NULL;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, p, n);
        out[n] = '\0';
    }
    return out;
}

/* Hand the segments recognized since the last call to the job's waiters. */
static void publish_new(run_ctx *c)
{
    for (; c->n_published < c->t->n_segments; c->n_published++) {
        char *text = segment_text(&c->t->segments[c->n_published]);
        if (text)
            jobs_watch_publish(c->w->j, c->job->id, text);
        free(text);
    }
}

/* The pipeline's progress callback: publish segments, record progress, and stop when
 * the job was cancelled or deleted in the store or the runner is stopping them. */
static int on_progress(void *user, const sotto_progress *p)
{
    run_ctx *c = user;
    sotto_jobs *j = c->w->j;
    publish_new(c);
    pthread_mutex_lock(&j->mu);
    int stop_now = j->stopping && j->cancel_running;
    pthread_mutex_unlock(&j->mu);
    if (stop_now) {
        c->stop = STOP_RUNNER;
        return 1;
    }
    double frac = 0.0;
    if (p->total_s > 0) {
        frac = p->done_s / p->total_s;
        frac = frac < 0 ? 0 : frac > 0.99 ? 0.99 : frac; /* 1.0 only when complete */
    }
    int rc = sotto_store_job_progress(j->st, c->job->id, SOTTO_JOB_TRANSCRIBING, frac, NULL);
    if (rc == SOTTO_ECANCELED || rc == SOTTO_ENOENT) {
        c->stop = rc == SOTTO_ECANCELED ? STOP_CANCELLED : STOP_GONE;
        return 1;
    }
    if (rc < 0) /* a busy database is no reason to throw away recognition work */
        SOTTO_WARN("jobs: progress of %s not recorded: %s", c->job->id, sotto_last_error());
    return 0;
}

/* results_json: the plain text plus every requested format; JSON embedded as an object. */
static int build_results(const sotto_transcript *t, unsigned formats, sotto_buf *b)
{
    char *text = sotto_transcript_text(t);
    if (!text)
        return error_set(SOTTO_ENOMEM, "out of memory writing results");
    int rc = sotto_buf_puts(b, "{\"text\":");
    rc = rc ? rc : sotto_buf_json_string(b, text);
    free(text);
    static const sotto_format order[] = {SOTTO_FORMAT_TXT, SOTTO_FORMAT_SRT, SOTTO_FORMAT_VTT,
                                         SOTTO_FORMAT_TSV, SOTTO_FORMAT_JSON};
    for (size_t i = 0; i < sizeof order / sizeof order[0] && !rc; i++) {
        if (!(formats & (unsigned)order[i]))
            continue;
        sotto_buf one = SOTTO_BUF_INIT;
        rc = sotto_transcript_write(t, order[i], &one);
        rc = rc ? rc : sotto_buf_printf(b, ",\"%s\":", sotto_format_ext(order[i]));
        if (!rc)
            rc = order[i] == SOTTO_FORMAT_JSON ? sotto_buf_puts(b, one.data ? one.data : "null")
                                               : sotto_buf_json_string(b, one.data ? one.data : "");
        sotto_buf_free(&one);
    }
    return rc ? rc : sotto_buf_putc(b, '}');
}

static int build_metrics(const sotto_transcript *t, double elapsed_s, sotto_buf *b)
{
    double speech_s = 0.0, conf_sum = 0.0;
    size_t n_conf = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        const sotto_segment *s = &t->segments[i];
        if (s->end > s->start)
            speech_s += s->end - s->start;
        if (s->confidence >= 0.0f && s->confidence <= 1.0f) {
            conf_sum += s->confidence;
            n_conf++;
        }
    }
    int rc = sotto_buf_puts(b, "{\"input_duration_s\":");
    rc = rc ? rc : sotto_buf_json_number(b, t->duration, 3);
    rc = rc ? rc : sotto_buf_puts(b, ",\"processing_time_s\":");
    rc = rc ? rc : sotto_buf_json_number(b, elapsed_s, 3);
    rc = rc ? rc : sotto_buf_puts(b, ",\"rtf\":");
    rc = rc ? rc : (t->duration > 0 ? sotto_buf_json_number(b, elapsed_s / t->duration, 4)
                                    : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_puts(b, ",\"vad_coverage\":");
    rc = rc ? rc : (t->duration > 0 ? sotto_buf_json_number(b, speech_s / t->duration, 4)
                                    : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_puts(b, ",\"confidence_avg\":");
    rc = rc ? rc : (n_conf ? sotto_buf_json_number(b, conf_sum / (double)n_conf, 4)
                           : sotto_buf_puts(b, "null"));
    rc = rc ? rc : sotto_buf_printf(b, ",\"segments\":%zu}", t->n_segments);
    return rc;
}

/* The transcript as the job's session: one "user" message per non-empty segment. */
static int complete_job(sotto_jobs *j, const sotto_job *job, const sotto_transcript *t,
                        const char *results, const char *metrics)
{
    sotto_message *msgs = calloc(t->n_segments ? t->n_segments : 1, sizeof *msgs);
    if (!msgs)
        return error_set(SOTTO_ENOMEM, "out of memory writing the session");
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_segments; i++) {
        const sotto_segment *s = &t->segments[i];
        char *text = segment_text(s);
        if (!text) {
            if (s->text && *s->text)
                rc = error_set(SOTTO_ENOMEM, "out of memory writing the session");
            if (rc < 0)
                break;
            continue;
        }
        sotto_message *m = &msgs[n++];
        sotto_message_init(m);
        snprintf(m->role, sizeof m->role, "user");
        m->content = text;
        snprintf(m->language, sizeof m->language, "%s", s->language[0] ? s->language : t->language);
        m->start_s = s->start;
        m->end_s = s->end;
        m->confidence = s->confidence;
        m->speaker = s->speaker;
        m->speaker_name = s->speaker_name; /* borrowed; not freed below */
    }
    if (rc == 0) {
        sotto_session ses;
        memset(&ses, 0, sizeof ses);
        ses.user_id = job->user_id;
        snprintf(ses.type, sizeof ses.type, "job");
        snprintf(ses.status, sizeof ses.status, "ended");
        ses.title = job->input_name && *job->input_name ? job->input_name
                                                         : (char *)base_name(job->input_path);
        snprintf(ses.language, sizeof ses.language, "%s", t->language);
        char meta[SOTTO_ID_LEN + 16];
        snprintf(meta, sizeof meta, "{\"job_id\":\"%s\"}", job->id);
        ses.metadata_json = meta;
        ses.started_at = job->started_at;
        ses.ended_at = job->started_at;
        rc = sotto_store_job_complete(j->st, job->id, results, metrics, &ses, msgs, n);
    }
    for (size_t i = 0; i < n; i++)
        free(msgs[i].content);
    free(msgs);
    return rc;
}

/* FAILED with a one-line message (the last error), plus how long it ran. */
static void fail_job(sotto_jobs *j, const sotto_job *job, double elapsed_s)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", sotto_last_error()[0] ? sotto_last_error() : "job failed");
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    char metrics[64];
    snprintf(metrics, sizeof metrics, "{\"processing_time_s\":%.3f}", elapsed_s);
    int rc = sotto_store_job_fail(j->st, job->id, msg, metrics);
    if (rc < 0 && rc != SOTTO_ECANCELED && rc != SOTTO_ENOENT)
        SOTTO_WARN("jobs: cannot record the failure of %s: %s", job->id, sotto_last_error());
    SOTTO_INFO("jobs: %s failed: %s", job->id, msg);
}

void jobs_run(jobs_worker *w, const sotto_job *job)
{
    sotto_jobs *j = w->j;
    double t0 = time_now();
    jobs_opts o;
    sotto_audio *audio = NULL;
    sotto_transcript t;
    sotto_transcript_init(&t);
    sotto_buf versions = SOTTO_BUF_INIT, results = SOTTO_BUF_INIT, metrics = SOTTO_BUF_INIT;
    run_ctx c = {w, job, &t, 0, STOP_NONE};
    int failed = 1;

    jobs_watch_begin(j, job->id);
    int rc = jobs_opts_parse(j, job->options_json, &o);
    if (rc < 0)
        goto out; /* o is empty */
    rc = worker_recognizer(w, &o);
    rc = rc ? rc : build_versions(w, &o, &versions);
    if (rc < 0)
        goto out_opts;
    rc = sotto_store_job_progress(j->st, job->id, SOTTO_JOB_PREPROCESSING, 0.0, versions.data);
    if (rc == SOTTO_ECANCELED || rc == SOTTO_ENOENT) {
        failed = 0; /* cancelled or deleted meanwhile: nothing more to record */
        goto out_opts;
    }
    rc = rc ? rc : sotto_audio_open(job->input_path, NULL, &audio);
    if (rc < 0)
        goto out_opts;

    sotto_pipeline_options po;
    sotto_pipeline_options_init(&po);
    po.progress = on_progress;
    po.progress_user = &c;
    rc = sotto_pipeline_transcribe(w->asr, audio, &po, &t);
    publish_new(&c);
    if (rc < 0 && c.stop != STOP_NONE) {
        /* cancelled in the store (already CANCELLED), deleted, or the runner is stopping:
         * that job stays claimed and sotto_store_job_recover() queues it at the next start */
        failed = 0;
        goto out_opts;
    }
    if (rc < 0)
        goto out_opts;

    rc = sotto_store_job_progress(j->st, job->id, SOTTO_JOB_POSTPROCESSING, 1.0, NULL);
    if (rc == SOTTO_ECANCELED || rc == SOTTO_ENOENT) {
        failed = 0;
        goto out_opts;
    }
    rc = rc ? rc : build_results(&t, o.formats, &results);
    rc = rc ? rc : build_metrics(&t, time_now() - t0, &metrics);
    rc = rc ? rc : complete_job(j, job, &t, results.data, metrics.data);
    if (rc == SOTTO_ECANCELED || rc == SOTTO_ENOENT)
        failed = 0; /* cancelled at the last moment: the store kept it CANCELLED */
    else if (rc == 0)
        failed = 0;
out_opts:
    jobs_opts_free(&o);
out:
    if (failed && c.stop != STOP_RUNNER)
        fail_job(j, job, time_now() - t0);
    else if (c.stop == STOP_RUNNER && sotto_store_job_release(j->st, job->id) != 0)
        SOTTO_WARN("jobs: %s stays claimed until the next start: %s", job->id, sotto_last_error());
    pthread_mutex_lock(&j->mu);
    j->audio_s += t.duration;
    pthread_mutex_unlock(&j->mu);
    jobs_watch_finish(j, job->id);
    sotto_audio_close(audio);
    sotto_transcript_free(&t);
    sotto_buf_free(&versions);
    sotto_buf_free(&results);
    sotto_buf_free(&metrics);
}
