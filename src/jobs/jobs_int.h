/*
 * jobs_int.h - what the files of the job runner share (inside libsotto only).
 *
 * runner.c owns the runner (workers, queue wake-ups, stop, stats); options.c parses and
 * checks a job's options_json; run.c runs one claimed job to its end; wait.c holds the
 * per-job watchers that let a thread wait for a job and receive its segment texts.
 * One mutex (sotto_jobs.mu) protects every mutable field below that is not a worker's own.
 */
#ifndef SOTTO_JOBS_INT_H
#define SOTTO_JOBS_INT_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "sotto/asr.h"
#include "sotto/jobs.h"

/* A job's options after parsing and validation (strings owned). */
typedef struct jobs_opts {
    char backend[16];   /* "sphinx" or "whisper" */
    char *model;        /* model file (whisper), NULL for sphinx */
    char language[16];  /* "" = backend default */
    char *prompt;       /* NULL = none */
    int translate;      /* task "translate" */
    double temperature; /* 0..1 */
    int word_timestamps;
    unsigned formats;   /* sotto_format bit mask */
} jobs_opts;

/* Parse and check options_json (NULL or "" = all defaults) with the runner's defaults
 * (default model). On failure *out is left empty and the error is set. */
int jobs_opts_parse(const sotto_jobs *j, const char *options_json, jobs_opts *out);
void jobs_opts_free(jobs_opts *o);

/* A job run by a local worker or waited for: segment texts the worker produced so far
 * and whether it is done. Found by id in sotto_jobs.watches; freed when the worker is
 * done with it and no one waits. */
typedef struct jobs_watch {
    struct jobs_watch *next;
    char id[SOTTO_ID_LEN];
    int n_waiters;
    int running;    /* a local worker is running the job */
    int done;       /* the local worker finished (any outcome) */
    char **texts;   /* (n_texts) segment texts in order */
    size_t n_texts, cap_texts;
} jobs_watch;

/* A worker thread and the recognizer it keeps between jobs. */
typedef struct jobs_worker {
    struct sotto_jobs *j;
    int index;
    pthread_t thread;
    int started;
    char name[64];          /* claim owner name: "pid<N>/w<I>" */
    sotto_asr *asr;         /* kept while the next job asks for the same recognizer */
    jobs_opts asr_opts;     /* what asr was made with (compared field by field) */
} jobs_worker;

/* A cached model file digest (whisper models are hashed once per file version). */
typedef struct jobs_model_hash {
    char *path;
    int64_t size, mtime_ns;
    char hex[65];
} jobs_model_hash;

struct sotto_jobs {
    sotto_store *st;
    sotto_jobs_options o;
    char *default_model;       /* owned copy of o.model */

    pthread_mutex_t mu;
    pthread_mutex_t submit_mu; /* serializes count-then-create in sotto_jobs_submit */
    pthread_cond_t work_cond;  /* workers: a job was submitted, or stop */
    pthread_cond_t watch_cond; /* waiters: a segment, a job end, stop, or a waiter left */
    int stopping;
    int cancel_running;        /* stop(cancel_running=1): running jobs stop and go back */
    uint64_t wake_seq;         /* bumped by submit so an idle worker claims at once */
    int n_waiters;             /* threads inside sotto_jobs_wait*, stop waits for 0 */
    jobs_watch *watches;

    jobs_worker *workers;      /* (o.n_workers) */
    size_t workers_alive, running;
    double audio_s, busy_s;

    jobs_model_hash *hashes;   /* (n_hashes) */
    size_t n_hashes;
};

/* Run one claimed job to its end (COMPLETE, FAILED, CANCELLED, or left for recovery when
 * the runner stops with cancel_running); job is the claimed record. */
void jobs_run(jobs_worker *w, const sotto_job *job);

/* An absolute CLOCK_MONOTONIC deadline s seconds from now, for pthread_cond_timedwait on
 * work_cond/watch_cond (they use that clock: a wall-clock jump neither stalls nor spins). */
struct timespec jobs_deadline(double s);

/* Worker side of the watchers: begin (a local worker runs id; its texts start empty),
 * publish one segment text, finish (the worker is done with it, any outcome) (take j->mu themselves). */
void jobs_watch_begin(sotto_jobs *j, const char *id);
void jobs_watch_publish(sotto_jobs *j, const char *id, const char *text);
void jobs_watch_finish(sotto_jobs *j, const char *id);

/* The SHA-256 of a model file as hex, cached per (path, size, mtime). */
int jobs_model_sha256(sotto_jobs *j, const char *path, char hex[65]);

#endif
