/*
 * wait.c - waiting for a job, and receiving its segment texts as they are recognized.
 *
 * Owns: the watch table (sotto_jobs.watches, under sotto_jobs.mu): one entry per job a
 * local worker is running or someone waits for. The worker appends each segment's text
 * and marks the end; a waiting thread sleeps on watch_cond, hands new texts to its
 * callback (without the lock held), and reads the job from the store when the worker is
 * done or every poll_s (a job run by another process is seen that way). Texts the waiter
 * did not see live (it came late, or another process ran the job) are read back from the
 * job's session, whose messages are the same non-empty segment texts in the same order.
 * Does not: run jobs or change their state.
 */
#include <string.h>

#include "base/base_int.h"
#include "jobs/jobs_int.h"
#include "sotto/log.h"

static jobs_watch *watch_find(sotto_jobs *j, const char *id)
{
    for (jobs_watch *w = j->watches; w; w = w->next)
        if (strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

/* Find or create (NULL when out of memory: the caller then works without it). */
static jobs_watch *watch_get(sotto_jobs *j, const char *id)
{
    jobs_watch *w = watch_find(j, id);
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    snprintf(w->id, sizeof w->id, "%s", id);
    w->next = j->watches;
    j->watches = w;
    return w;
}

static void watch_texts_clear(jobs_watch *w)
{
    for (size_t i = 0; i < w->n_texts; i++)
        free(w->texts[i]);
    free(w->texts);
    w->texts = NULL;
    w->n_texts = w->cap_texts = 0;
}

/* Free w when neither a worker nor a waiter needs it any more. */
static void watch_release_if_unused(sotto_jobs *j, jobs_watch *w)
{
    if (w->running || w->n_waiters > 0)
        return;
    for (jobs_watch **p = &j->watches; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    watch_texts_clear(w);
    free(w);
}

void jobs_watch_begin(sotto_jobs *j, const char *id)
{
    pthread_mutex_lock(&j->mu);
    jobs_watch *w = watch_get(j, id);
    if (w) {
        watch_texts_clear(w); /* a new attempt starts from the first segment */
        w->running = 1;
        w->done = 0;
    }
    pthread_mutex_unlock(&j->mu);
}

void jobs_watch_publish(sotto_jobs *j, const char *id, const char *text)
{
    pthread_mutex_lock(&j->mu);
    jobs_watch *w = watch_find(j, id);
    if (w && w->running) {
        if (w->n_texts == w->cap_texts) {
            size_t cap = w->cap_texts ? 2 * w->cap_texts : 16;
            char **grown = realloc(w->texts, cap * sizeof *grown);
            if (grown) {
                w->texts = grown;
                w->cap_texts = cap;
            }
        }
        char *copy = w->n_texts < w->cap_texts ? str_dup(text) : NULL;
        if (copy) {
            w->texts[w->n_texts++] = copy;
        } else {
            /* out of memory: stop live delivery for this job (waiters then read the rest
             * from the session) rather than deliver a gap */
            w->running = 0;
        }
        pthread_cond_broadcast(&j->watch_cond);
    }
    pthread_mutex_unlock(&j->mu);
}

void jobs_watch_finish(sotto_jobs *j, const char *id)
{
    pthread_mutex_lock(&j->mu);
    jobs_watch *w = watch_find(j, id);
    if (w) {
        w->running = 0;
        w->done = 1;
        pthread_cond_broadcast(&j->watch_cond);
        watch_release_if_unused(j, w);
    }
    pthread_mutex_unlock(&j->mu);
}

/* Hand the texts of w from *delivered on to on_text, lock released around each call.
 * Called and returns with j->mu held. */
static void deliver_live(sotto_jobs *j, jobs_watch *w, size_t *delivered,
                         sotto_jobs_text_cb on_text, void *user)
{
    while (on_text && w && *delivered < w->n_texts) {
        char *text = str_dup(w->texts[*delivered]);
        (*delivered)++;
        pthread_mutex_unlock(&j->mu);
        if (text)
            on_text(user, text);
        free(text);
        pthread_mutex_lock(&j->mu);
    }
}

/* The job is COMPLETE: the texts the waiter has not seen come from its session. */
static void deliver_from_session(sotto_jobs *j, const sotto_job *job, size_t delivered,
                                 sotto_jobs_text_cb on_text, void *user)
{
    if (!on_text || job->status != SOTTO_JOB_COMPLETE || !job->session_id[0])
        return;
    sotto_message *msgs = NULL;
    size_t n = 0;
    int rc = sotto_store_message_list(j->st, job->user_id, job->session_id, (int64_t)delivered,
                                      0, &msgs, &n);
    if (rc < 0) {
        SOTTO_WARN("jobs: cannot read the transcript of %s: %s", job->id, sotto_last_error());
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (msgs[i].content && msgs[i].content[0])
            on_text(user, msgs[i].content);
    sotto_message_list_free(msgs, n);
}

static int wait_impl(sotto_jobs *j, const char *id, double timeout_s, sotto_jobs_text_cb on_text,
                     void *user, sotto_job *out)
{
    if (!j || !id || !*id || !out)
        return error_set(SOTTO_EINVAL, "sotto_jobs_wait: %s is missing",
                         !j ? "runner" : !out ? "out" : "job id");
    memset(out, 0, sizeof *out);
    double deadline = time_now() + (timeout_s > 0 ? timeout_s : 0);
    pthread_mutex_lock(&j->mu);
    if (j->stopping) {
        pthread_mutex_unlock(&j->mu);
        return error_set(SOTTO_ECANCELED, "job runner is stopping");
    }
    j->n_waiters++;
    jobs_watch *w = watch_get(j, id);
    if (w)
        w->n_waiters++;
    size_t delivered = 0;
    int done_seen = 0;          /* the worker's end was followed by a store read */
    double next_poll = 0.0;     /* read the store at once: the job may be finished */
    int rc;
    for (;;) {
        deliver_live(j, w, &delivered, on_text, user);
        if (j->stopping) {
            rc = error_set(SOTTO_ECANCELED, "job runner is stopping");
            break;
        }
        double now = time_now();
        if ((w && w->done && !done_seen) || now >= next_poll) {
            done_seen = w && w->done;
            pthread_mutex_unlock(&j->mu);
            rc = sotto_store_job_get(j->st, -1, id, out);
            int terminal = rc == 0 && sotto_job_status_terminal(out->status);
            if (terminal) {
                pthread_mutex_lock(&j->mu);
                deliver_live(j, w, &delivered, on_text, user);
                pthread_mutex_unlock(&j->mu);
                deliver_from_session(j, out, delivered, on_text, user);
            } else if (rc == 0) {
                sotto_job_clear(out);
                memset(out, 0, sizeof *out);
            }
            pthread_mutex_lock(&j->mu);
            if (rc < 0 || terminal)
                break;
            now = time_now();
            next_poll = now + j->o.poll_s;
        }
        if (now >= deadline) {
            rc = error_set(SOTTO_ECANCELED, "timed out waiting for job %s", id);
            break;
        }
        double wake = next_poll < deadline ? next_poll : deadline;
        struct timespec ts = jobs_deadline(wake - now);
        pthread_cond_timedwait(&j->watch_cond, &j->mu, &ts);
    }
    if (w) {
        w->n_waiters--;
        watch_release_if_unused(j, w);
    }
    j->n_waiters--;
    pthread_cond_broadcast(&j->watch_cond); /* stop() may be waiting for the last waiter */
    pthread_mutex_unlock(&j->mu);
    return rc;
}

int sotto_jobs_wait(sotto_jobs *j, const char *id, double timeout_s, sotto_job *out)
{
    return wait_impl(j, id, timeout_s, NULL, NULL, out);
}

int sotto_jobs_wait_stream(sotto_jobs *j, const char *id, double timeout_s,
                           sotto_jobs_text_cb on_text, void *user, sotto_job *out)
{
    return wait_impl(j, id, timeout_s, on_text, user, out);
}
