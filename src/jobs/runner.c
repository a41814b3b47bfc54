/*
 * runner.c - the job runner: worker threads over the store's durable queue.
 *
 * Owns: the sotto_jobs object, its worker threads and their idle wait (woken by a local
 * submission at once, and every poll_s to see jobs other processes submitted), the queue
 * limit on submission, stop, and the counters behind /health and /metrics.
 * Does not: run a job (run.c), parse options (options.c), or hold waiters (wait.c).
 *
 * A job is claimed in the store before it is run, so a crash leaves it to
 * sotto_store_job_recover() at the next start; nothing about a job lives only here.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base_int.h"
#include "jobs/jobs_int.h"
#include "sotto/log.h"

#define MAX_WORKERS 64

struct timespec jobs_deadline(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (s < 0)
        s = 0;
    long long ns = (long long)ts.tv_nsec + (long long)((s - (double)(long long)s) * 1e9);
    ts.tv_sec += (time_t)s + (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static void *worker_main(void *arg)
{
    jobs_worker *w = arg;
    sotto_jobs *j = w->j;
    pthread_mutex_lock(&j->mu);
    uint64_t seen = j->wake_seq;
    while (!j->stopping) {
        pthread_mutex_unlock(&j->mu);
        sotto_job job;
        memset(&job, 0, sizeof job);
        int r = sotto_store_job_claim(j->st, w->name, &job);
        if (r == 1) {
            pthread_mutex_lock(&j->mu);
            j->running++;
            pthread_mutex_unlock(&j->mu);
            double t0 = time_now();
            jobs_run(w, &job);
            sotto_job_clear(&job);
            pthread_mutex_lock(&j->mu);
            j->running--;
            j->busy_s += time_now() - t0;
            continue; /* look for the next job at once */
        }
        if (r < 0)
            SOTTO_WARN("jobs: worker %s cannot claim a job: %s", w->name, sotto_last_error());
        pthread_mutex_lock(&j->mu);
        if (!j->stopping && j->wake_seq == seen) {
            struct timespec ts = jobs_deadline(j->o.poll_s);
            pthread_cond_timedwait(&j->work_cond, &j->mu, &ts);
        }
        seen = j->wake_seq;
    }
    j->workers_alive--;
    pthread_mutex_unlock(&j->mu);
    sotto_asr_free(w->asr);
    w->asr = NULL;
    jobs_opts_free(&w->asr_opts);
    return NULL;
}

/* Free what start() made; the workers must be joined (or never started). */
static void runner_free(sotto_jobs *j)
{
    for (size_t i = 0; i < j->n_hashes; i++)
        free(j->hashes[i].path);
    free(j->hashes);
    while (j->watches) {
        jobs_watch *next = j->watches->next;
        for (size_t i = 0; i < j->watches->n_texts; i++)
            free(j->watches->texts[i]);
        free(j->watches->texts);
        free(j->watches);
        j->watches = next;
    }
    free(j->workers);
    free(j->default_model);
    pthread_cond_destroy(&j->work_cond);
    pthread_cond_destroy(&j->watch_cond);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->submit_mu);
    free(j);
}

/* Stop flag, wake everyone, wait for waiters to leave, join the workers. */
static void runner_shutdown(sotto_jobs *j, int cancel_running)
{
    pthread_mutex_lock(&j->mu);
    j->stopping = 1;
    j->cancel_running = cancel_running;
    pthread_cond_broadcast(&j->work_cond);
    pthread_cond_broadcast(&j->watch_cond);
    while (j->n_waiters > 0)
        pthread_cond_wait(&j->watch_cond, &j->mu);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->o.n_workers; i++)
        if (j->workers[i].started)
            pthread_join(j->workers[i].thread, NULL);
}

int sotto_jobs_start(sotto_store *st, const sotto_jobs_options *o, sotto_jobs **out)
{
    if (!st || !out)
        return error_set(SOTTO_EINVAL, "sotto_jobs_start: %s is NULL", !st ? "store" : "out");
    *out = NULL;
    sotto_jobs_options defaults;
    sotto_jobs_options_init(&defaults);
    sotto_jobs_options opts = o ? *o : defaults;
    if (opts.n_workers <= 0)
        opts.n_workers = defaults.n_workers;
    if (opts.n_workers > MAX_WORKERS)
        return error_set(SOTTO_EINVAL, "too many job workers (%d; at most %d)", opts.n_workers,
                         MAX_WORKERS);
    if (opts.n_threads < 0)
        return error_set(SOTTO_EINVAL, "thread count must be >= 0 (got %d)", opts.n_threads);
    if (opts.max_queue == 0)
        opts.max_queue = defaults.max_queue;
    if (!(opts.poll_s > 0.0 && opts.poll_s <= 3600.0))
        opts.poll_s = defaults.poll_s;
    if (opts.n_threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        opts.n_threads = cores > opts.n_workers ? (int)(cores / opts.n_workers) : 1;
    }

    size_t n_recovered = 0;
    int rc = sotto_store_job_recover(st, &n_recovered);
    if (rc < 0)
        return rc;
    if (n_recovered)
        SOTTO_INFO("jobs: %zu interrupted job(s) queued again", n_recovered);

    sotto_jobs *j = calloc(1, sizeof *j);
    if (!j)
        return error_set(SOTTO_ENOMEM, "out of memory starting the job runner");
    j->st = st;
    j->o = opts;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->submit_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->work_cond, &ca);
    pthread_cond_init(&j->watch_cond, &ca);
    pthread_condattr_destroy(&ca);
    j->default_model = str_dup(opts.model && *opts.model ? opts.model : NULL);
    j->o.model = j->default_model;
    j->workers = calloc((size_t)opts.n_workers, sizeof *j->workers);
    if ((opts.model && *opts.model && !j->default_model) || !j->workers) {
        runner_free(j);
        return error_set(SOTTO_ENOMEM, "out of memory starting the job runner");
    }
    for (int i = 0; i < opts.n_workers; i++) {
        jobs_worker *w = &j->workers[i];
        w->j = j;
        w->index = i;
        snprintf(w->name, sizeof w->name, "pid%ld/w%d", (long)getpid(), i);
        pthread_mutex_lock(&j->mu);
        j->workers_alive++;
        pthread_mutex_unlock(&j->mu);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_mutex_lock(&j->mu);
            j->workers_alive--;
            pthread_mutex_unlock(&j->mu);
            runner_shutdown(j, 0);
            runner_free(j);
            return error_set(SOTTO_ENOMEM, "cannot start job worker %d", i);
        }
        w->started = 1;
    }
    *out = j;
    return 0;
}

void sotto_jobs_stop(sotto_jobs *j, int cancel_running)
{
    if (!j)
        return;
    runner_shutdown(j, cancel_running);
    runner_free(j);
}

int sotto_jobs_submit(sotto_jobs *j, int64_t user_id, const char *options_json,
                      const char *input_path, const char *input_name, char out_id[SOTTO_ID_LEN])
{
    if (!j || !input_path || !*input_path || !out_id)
        return error_set(SOTTO_EINVAL, "sotto_jobs_submit: %s is missing",
                         !j ? "runner" : !out_id ? "out_id" : "input_path");
    out_id[0] = '\0';
    int rc = sotto_jobs_validate_options(j, options_json);
    if (rc < 0)
        return rc;
    /* one submission at a time in this process, so the count and the insert agree; other
     * processes can still overshoot the limit by their own in-flight submissions */
    pthread_mutex_lock(&j->submit_mu);
    int64_t counts[7] = {0};
    rc = sotto_store_job_counts(j->st, counts);
    if (rc == 0 && counts[SOTTO_JOB_PENDING] >= (int64_t)j->o.max_queue)
        rc = error_set(SOTTO_EUNAVAIL, "queue full (%lld jobs waiting)",
                       (long long)counts[SOTTO_JOB_PENDING]);
    if (rc == 0) {
        sotto_job in;
        memset(&in, 0, sizeof in);
        in.user_id = user_id;
        in.options_json = (char *)(options_json && *options_json ? options_json : "{}");
        in.input_path = (char *)input_path;
        in.input_name = (char *)input_name;
        rc = sotto_store_job_create(j->st, &in, out_id);
    }
    pthread_mutex_unlock(&j->submit_mu);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&j->mu);
    j->wake_seq++;
    pthread_cond_signal(&j->work_cond);
    pthread_mutex_unlock(&j->mu);
    return 0;
}

void sotto_jobs_get_stats(sotto_jobs *j, sotto_jobs_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    out->workers_alive = j->workers_alive;
    out->running = j->running;
    out->audio_s_processed = j->audio_s;
    out->busy_s = j->busy_s;
    pthread_mutex_unlock(&j->mu);
    int64_t counts[7] = {0};
    if (sotto_store_job_counts(j->st, counts) == 0 && counts[SOTTO_JOB_PENDING] > 0)
        out->queue_depth = (size_t)counts[SOTTO_JOB_PENDING];
}
