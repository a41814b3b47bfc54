/*
 * jobs.h - the batch job runner: worker threads that take jobs from the store's durable
 * queue and run them (decode, split, recognize, write results), and a way for a caller
 * to wait for one job (synchronous API requests are jobs that someone waits for).
 *
 * Work is never lost: a job is claimed in the store, and finished (results + its
 * transcript session, in one transaction) exactly once; a process killed mid-job leaves
 * the job to be recovered and re-run at the next start (sotto_store_job_recover).
 * Recognizers are created per worker and reused across jobs with the same backend/model.
 *
 * Job options (the job's options_json): {"backend": "sphinx"|"whisper", "model": FILE,
 * "language": "en", "prompt": "...", "task": "transcribe"|"translate", "temperature": 0,
 * "word_timestamps": false, "formats": ["txt","json","srt","vtt","tsv"],
 * "features": ["raw_transcript", ...]}. Features that need later work (clean_transcript,
 * summary, translation, diarize) are refused at submission with a clear message.
 */
#ifndef SOTTO_JOBS_H
#define SOTTO_JOBS_H

#include <stddef.h>

#include "sotto/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_jobs_options {
    int n_workers;         /* worker threads (default 1: recognition itself uses the cores) */
    int n_threads;         /* compute threads per recognizer (0 = cores / workers) */
    const char *model;     /* default Whisper model file (NULL: sphinx is the default) */
    size_t max_queue;      /* PENDING jobs allowed before submissions are refused (default 100) */
    double poll_s;         /* how often idle workers look at the store (default 0.2 s) */
} sotto_jobs_options;

void sotto_jobs_options_init(sotto_jobs_options *o);

typedef struct sotto_jobs sotto_jobs;

/* Recover interrupted jobs and start the workers. The store must outlive the runner. */
int sotto_jobs_start(sotto_store *st, const sotto_jobs_options *o, sotto_jobs **out);
/* Stop taking jobs, let running ones finish (or, with cancel_running, stop them: they
 * go back to PENDING for the next start), join the workers, free. NULL is a no-op. */
void sotto_jobs_stop(sotto_jobs *j, int cancel_running);

/* Check job options (JSON object text) before accepting a submission: SOTTO_EINVAL or
 * SOTTO_ENOTSUP with a message a client can act on ("feature 'summary' is not available
 * in this build"). */
int sotto_jobs_validate_options(const sotto_jobs *j, const char *options_json);
/* Create a PENDING job and wake a worker. When the queue is at max_queue it returns
 * SOTTO_EUNAVAIL with "queue full" (the server answers 429, or 503 for sync requests). */
int sotto_jobs_submit(sotto_jobs *j, int64_t user_id, const char *options_json,
                      const char *input_path, const char *input_name, char out_id[SOTTO_ID_LEN]);
/* Block until the job is terminal or timeout_s passes (SOTTO_ECANCELED on timeout);
 * then *out holds the job. */
int sotto_jobs_wait(sotto_jobs *j, const char *id, double timeout_s, sotto_job *out);

/* As sotto_jobs_wait, and call on_text (on the waiting thread) with the text of each
 * segment as the worker recognizes it, in order (for streamed responses, e.g. SSE). */
typedef void (*sotto_jobs_text_cb)(void *user, const char *segment_text);
int sotto_jobs_wait_stream(sotto_jobs *j, const char *id, double timeout_s,
                           sotto_jobs_text_cb on_text, void *user, sotto_job *out);

typedef struct sotto_jobs_stats {
    size_t workers_alive;
    size_t queue_depth;        /* PENDING jobs */
    size_t running;
    double audio_s_processed;  /* since start */
    double busy_s;             /* worker seconds spent on jobs since start */
} sotto_jobs_stats;

void sotto_jobs_get_stats(sotto_jobs *j, sotto_jobs_stats *out);

#ifdef __cplusplus
}
#endif
#endif
