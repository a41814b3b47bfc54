/*
 * batcher.c - the decode-step batcher: concurrent Whisper streams on one model hand in
 * one token step each, and the steps that wait together run as one whisper_decode_multi
 * pass, which reads every weight matrix once for all of them.
 *
 * Leader/follower: a caller that finds no pass running becomes the leader and runs a
 * pass over every waiting step at once (its own included); steps handed in while a pass
 * runs wait on the condition variable and one of them leads the next pass.
 * Pure leader/follower ping-pongs with two streams: the stream whose step just finished
 * needs a moment (filters, argmax, its attended frame) before its next step, and the
 * other stream, woken first, leads a pass of one. So callers that decode a run of steps
 * say so (whisper_batcher_join / _leave), and a leader waits for the steps of the other
 * joined callers, at most about one pass (the last pass's duration, capped), before it
 * goes: a caller alone (or not joined) never waits; a slow one costs the others at most
 * one pass, which is what waiting for its pass would have cost them anyway.
 * Owns: the queue of waiting steps, the batch logits buffer and the counts. Does not own
 * the callers' states, caches or output buffers (each caller holds its own exclusively
 * while its step is queued, which is what whisper_decode_multi needs).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

typedef struct step_req {
    whisper_state *st;
    whisper_kv *kv;
    int32_t token;
    int n_past;
    float *logits, *attn; /* the caller's */
    int done, rc;
    char err[256];        /* the leader's message when rc < 0 (errors are per thread) */
} step_req;

struct whisper_batcher {
    const whisper_model *m;
    int max_rows;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a pass ended, or queue room freed */
    step_req *queue[WHISPER_MAX_BATCH];
    int n_queue;
    int running;                /* a pass is in progress */
    int active;                 /* callers between join and leave */
    double last_pass_s;         /* wall time of the last pass */
    float *logits;              /* (max_rows, n_vocab) one pass's output */
    uint64_t n_steps, n_passes;
};

int whisper_batcher_new(const whisper_model *m, int max_rows, whisper_batcher **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "whisper_batcher_new: no output pointer");
    *out = NULL;
    if (!m || max_rows < 1 || max_rows > WHISPER_MAX_BATCH)
        return error_set(SOTTO_EINVAL, "whisper_batcher_new: no model, or %d rows (1 .. %d)", max_rows,
                         WHISPER_MAX_BATCH);
    whisper_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return error_set(SOTTO_ENOMEM, "whisper_batcher_new: out of memory");
    b->logits = malloc(sizeof *b->logits * (size_t)max_rows * (size_t)m->hp.n_vocab);
    if (!b->logits) {
        free(b);
        return error_set(SOTTO_ENOMEM, "whisper_batcher_new: out of memory");
    }
    b->m = m;
    b->max_rows = max_rows;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* gather deadlines ignore clock steps */
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = b;
    return 0;
}

void whisper_batcher_free(whisper_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b->logits);
    free(b);
}

void whisper_batcher_counts(whisper_batcher *b, uint64_t *n_steps, uint64_t *n_passes)
{
    pthread_mutex_lock(&b->mu);
    if (n_steps)
        *n_steps = b->n_steps;
    if (n_passes)
        *n_passes = b->n_passes;
    pthread_mutex_unlock(&b->mu);
}

void whisper_batcher_join(whisper_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    b->active++;
    pthread_mutex_unlock(&b->mu);
}

void whisper_batcher_leave(whisper_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    b->active--;
    pthread_cond_broadcast(&b->cv); /* a gathering leader waits for one fewer */
    pthread_mutex_unlock(&b->mu);
}

#define GATHER_MIN_S 20e-6
#define GATHER_MAX_S 20e-3

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void wait_until(whisper_batcher *b, double deadline)
{
    struct timespec ts;
    ts.tv_sec = (time_t)deadline;
    ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

/* One pass over batch[0..n): called by the leader without the lock held. */
static void run_pass(whisper_batcher *b, step_req *const *batch, int n)
{
    whisper_state *sts[WHISPER_MAX_BATCH];
    whisper_kv *kvs[WHISPER_MAX_BATCH];
    int32_t tok[WHISPER_MAX_BATCH];
    int pos[WHISPER_MAX_BATCH];
    float *attn[WHISPER_MAX_BATCH];
    for (int i = 0; i < n; i++) {
        sts[i] = batch[i]->st, kvs[i] = batch[i]->kv, tok[i] = batch[i]->token;
        pos[i] = batch[i]->n_past, attn[i] = batch[i]->attn;
    }
    const size_t V = (size_t)b->m->hp.n_vocab;
    int rc = whisper_decode_multi(sts, kvs, tok, pos, n, b->logits, attn);
    for (int i = 0; i < n; i++) {
        batch[i]->rc = rc;
        if (rc)
            snprintf(batch[i]->err, sizeof batch[i]->err, "%s", sotto_last_error());
        else
            memcpy(batch[i]->logits, b->logits + (size_t)i * V, sizeof *b->logits * V);
    }
}

int whisper_batcher_step(whisper_batcher *b, whisper_state *st, whisper_kv *kv, int32_t token, int n_past,
                         float *logits, float *attn)
{
    if (!b || !logits)
        return error_set(SOTTO_EINVAL, "whisper_batcher_step: missing batcher or logits");
    /* a bad step fails alone instead of failing the pass it would join */
    int rc = whisper_decode_row_check(st, kv, token, n_past, "whisper_batcher_step");
    if (rc)
        return rc;
    if (st->m != b->m)
        return error_set(SOTTO_EINVAL, "whisper_batcher_step: the state belongs to another model");
    step_req req = {.st = st, .kv = kv, .token = token, .n_past = n_past, .logits = logits, .attn = attn};
    pthread_mutex_lock(&b->mu);
    while (b->n_queue == WHISPER_MAX_BATCH)
        pthread_cond_wait(&b->cv, &b->mu);
    b->queue[b->n_queue++] = &req;
    b->n_steps++;
    pthread_cond_broadcast(&b->cv); /* a gathering leader may now have its batch */
    double deadline = 0;
    while (!req.done) {
        if (b->running) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        /* gather: the other joined callers' steps are about to come */
        const int want = b->active < b->max_rows ? b->active : b->max_rows;
        if (b->n_queue < want) {
            double t = mono_s();
            if (deadline == 0) {
                double g = b->last_pass_s;
                deadline = t + (g < GATHER_MIN_S ? GATHER_MIN_S : g > GATHER_MAX_S ? GATHER_MAX_S : g);
            }
            if (t < deadline) {
                wait_until(b, deadline);
                continue;
            }
        }
        /* lead: take the oldest waiting steps (FIFO, so nobody starves) */
        step_req *batch[WHISPER_MAX_BATCH];
        int n = b->n_queue < b->max_rows ? b->n_queue : b->max_rows;
        memcpy(batch, b->queue, sizeof *batch * (size_t)n);
        memmove(b->queue, b->queue + n, sizeof *b->queue * (size_t)(b->n_queue - n));
        b->n_queue -= n;
        b->running = 1;
        pthread_mutex_unlock(&b->mu);
        double t0 = mono_s();
        run_pass(b, batch, n);
        double dt = mono_s() - t0;
        pthread_mutex_lock(&b->mu);
        b->last_pass_s = dt;
        deadline = 0;
        for (int i = 0; i < n; i++)
            batch[i]->done = 1;
        b->running = 0;
        b->n_passes++;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (req.rc)
        return error_set(req.rc, "%s", req.err);
    return 0;
}
