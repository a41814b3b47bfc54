/*
 * worker.c - the threaded mode: feed copies audio into an inbox, a worker thread updates.
 *
 * The worker takes everything waiting in the inbox at once and runs it through the
 * chunker with mid-utterance updates deferred to the end of that batch, so each update
 * covers all the audio that arrived while the previous one computed (computationally
 * aware chunking): on a slow machine updates grow instead of a queue growing. Utterance
 * ends inside a batch still get their final update at the right place. Flushes are
 * remembered as positions in the fed audio and honoured there. Events are delivered from
 * the worker thread. Owns the thread and the inbox (both under s->lock).
 * The thread is named "sotto-stream" so that profiles (perf, top -H) tell stream work
 * from the server's I/O threads (it would otherwise inherit its creator's name).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base_int.h"
#include "stream/stream_int.h"

/* Audio waiting beyond this is refused: the recognizer is far behind real time. */
#define INBOX_MAX_SAMPLES ((size_t)STREAM_RATE * 600)

/* Compute slots shared by the threaded native-policy streams of the process (PocketSphinx
 * decodes on the worker thread itself): at most one such worker per core recognizes at a
 * time, the others wait in arrival order. Twenty streams on two cores otherwise
 * time-slice twenty decoders every few milliseconds, each switch evicting the caches the
 * next decoder needs; with slots a worker runs its whole batch on warm caches, and a
 * waiting worker takes everything that arrived meanwhile in one batch. Whisper streams do
 * not take slots: they compute on the shared nn pool and gain from stepping together.
 * A holder can block outside recognition (its events go to a client socket that stopped
 * reading, for up to the server's write timeout), so the limit gives way: when no slot
 * has changed hands and no holder has finished a recognizer call or delivered an event
 * (stream_slot_progress) for SLOT_STALL_S, waiters run anyway (over the limit) instead of
 * stalling every stream behind a stuck one. (Counting only hand-overs as progress let a
 * holder that was merely busy with a large batch for over a second open the limit; with
 * 20 streams that fed on itself - more decoders at once, slower batches - and some runs
 * fell back to time-slicing: 0.12-0.14 CPU s per audio s per stream instead of 0.09.)
 * SOTTO_STREAM_SLOTS overrides the count (0 = no limit). */
#define SLOT_STALL_S 1.0

/* Load shedding (options.shed_load) on two signals. A stream's own backlog over
 * max_backlog_s; and the machine's: a wait of over SHED_SLOT_WAIT_S for a compute slot
 * means the streams of the process want more than the cores give, so every stream that
 * waits that long sheds at once, before its backlog has grown (with only the backlog
 * rule, twenty streams on two cores each ran the extra passes until 4 s waited, and then
 * sat at 5-7 s of backlog for the rest of the stream). A stream stops shedding when its
 * backlog is below a quarter of max_backlog_s and it has not waited that long for
 * SHED_HOLD_S: shedding lowers the load and so the waits, and without the hold the
 * streams would take the passes back at once and overload the cores again. Twenty
 * streams (bench/stream_latency.sh, A/B in one session): max backlog 5.2 -> 1.2 s and
 * final-word latency 3.9 -> 2.4 s with staggered talkers, 8.3 -> 4.0 s and 5.1 -> 3.3 s
 * when all talk at once; CPU per stream 0.099 -> 0.087 and 0.099 -> 0.077. */
#define SHED_SLOT_WAIT_S 0.3
#define SHED_HOLD_S 10.0

typedef struct slot_waiter {
    struct slot_waiter *next;
    int granted;
} slot_waiter;

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cond = PTHREAD_COND_INITIALIZER;
static slot_waiter *slot_head, *slot_tail; /* waiters in arrival order */
static int slot_busy, slot_max = -1;      /* -1: not read yet; 0: no limit */
static double slot_progress;              /* time_now() of the last grant or release */

static int slots_configured(void)
{
    if (slot_max < 0) {
        const char *e = getenv("SOTTO_STREAM_SLOTS");
        char *end = NULL;
        long v = e && *e ? strtol(e, &end, 10) : -1;
        if (v < 0 || v > 4096 || (end && *end))
            v = sysconf(_SC_NPROCESSORS_ONLN);
        slot_max = v < 0 ? 1 : (int)v;
    }
    return slot_max;
}

static void slot_unlink(slot_waiter *w)
{
    slot_waiter **pp = &slot_head, *prev = NULL;
    while (*pp && *pp != w) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = w->next;
    if (slot_tail == w)
        slot_tail = prev;
}

/* Returns the seconds spent waiting for the slot. */
static double slot_acquire(void)
{
    double t0 = time_now();
    pthread_mutex_lock(&slot_lock);
    if (slots_configured() > 0) {
        if (slot_busy < slot_max && !slot_head) {
            slot_busy++;
            slot_progress = time_now();
        } else {
            slot_waiter w = {NULL, 0};
            if (slot_tail)
                slot_tail->next = &w;
            else
                slot_head = &w;
            slot_tail = &w;
            while (!w.granted) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 250000000L; /* look at the holders' progress 4 times a second */
                if (ts.tv_nsec >= 1000000000L)
                    ts.tv_sec++, ts.tv_nsec -= 1000000000L;
                pthread_cond_timedwait(&slot_cond, &slot_lock, &ts);
                if (!w.granted && time_now() - slot_progress > SLOT_STALL_S) {
                    slot_unlink(&w); /* the holders are stuck: run over the limit */
                    slot_busy++;
                    slot_progress = time_now();
                    break;
                }
            }
        }
    }
    pthread_mutex_unlock(&slot_lock);
    return time_now() - t0;
}

void stream_slot_progress(void)
{
    pthread_mutex_lock(&slot_lock);
    slot_progress = time_now();
    pthread_mutex_unlock(&slot_lock);
}

static void slot_release(void)
{
    pthread_mutex_lock(&slot_lock);
    if (slot_max > 0) {
        slot_busy--;
        slot_progress = time_now();
        while (slot_busy < slot_max && slot_head) { /* hand the slot to the oldest waiter */
            slot_waiter *w = slot_head;
            slot_head = w->next;
            if (!slot_head)
                slot_tail = NULL;
            w->granted = 1;
            slot_busy++;
        }
        pthread_cond_broadcast(&slot_cond);
    }
    pthread_mutex_unlock(&slot_lock);
}

static void *worker_main(void *arg)
{
    sotto_stream *s = arg;
    float *batch = NULL;
    size_t batch_cap = 0;
    pthread_setname_np(pthread_self(), "sotto-stream"); /* a name is a nicety: ignore failure */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->stop_req && s->inbox_n == 0 && s->n_flush == 0 && !(s->finish_req && !s->done))
            pthread_cond_wait(&s->wake, &s->lock);
        if (s->stop_req)
            break;
        /* a compute slot first, then the audio: what arrives while waiting joins the batch */
        int slotted = s->policy == &stream_policy_native;
        double slot_wait = 0;
        if (slotted) {
            pthread_mutex_unlock(&s->lock);
            slot_wait = slot_acquire();
            pthread_mutex_lock(&s->lock);
            if (s->stop_req) {
                slot_release();
                break;
            }
            s->slotted = 1; /* (read by this thread only, in stream_emit / count_call) */
        }
        /* shed_load: on the whole backlog and on the wait for a slot (SHED_SLOT_WAIT_S),
         * with hysteresis so that a stream near the thresholds does not flip at every batch */
        double wait_s = (double)s->inbox_n / STREAM_RATE;
        s->behind_s = wait_s;
        if (s->o.shed_load) {
            double now = time_now();
            if (slot_wait > SHED_SLOT_WAIT_S)
                s->contended_at = now;
            int contended = s->contended_at > 0 && now - s->contended_at < SHED_HOLD_S;
            if (wait_s > s->o.max_backlog_s || slot_wait > SHED_SLOT_WAIT_S)
                s->st.shedding = 1;
            else if (wait_s < s->o.max_backlog_s / 4 && !contended)
                s->st.shedding = 0;
        }
        /* take all waiting audio, or up to the first pending flush */
        size_t k = s->inbox_n;
        int flush_now = 0;
        if (s->n_flush > 0) {
            int64_t at = s->flush_at[0] - s->inbox_pos0;
            if (at <= (int64_t)k) {
                k = at > 0 ? (size_t)at : 0;
                flush_now = 1;
                memmove(s->flush_at, s->flush_at + 1, (size_t)(s->n_flush - 1) * sizeof *s->flush_at);
                s->n_flush--;
            }
        }
        int rc = 0;
        if (k > batch_cap) {
            float *nb = realloc(batch, k * sizeof *nb);
            if (!nb) {
                rc = error_set(SOTTO_ENOMEM, "out of memory taking audio from the inbox");
                k = 0; /* drop nothing: retry after reporting */
            } else {
                batch = nb;
                batch_cap = k;
            }
        }
        if (k > 0) {
            memcpy(batch, s->inbox, k * sizeof *batch);
            memmove(s->inbox, s->inbox + k, (s->inbox_n - k) * sizeof *s->inbox);
            s->inbox_n -= k;
            s->inbox_pos0 += (int64_t)k;
        }
        int finish_now = s->finish_req && !s->done && s->inbox_n == 0 && s->n_flush == 0;
        int failed = s->worker_err != 0;
        pthread_mutex_unlock(&s->lock);

        /* after an error the audio is drained without recognition, so finish returns */
        if (rc == 0 && !failed && k > 0)
            rc = vac_process(s, batch, k, 1);
        if (rc == 0 && !failed && flush_now)
            rc = vac_flush(s);
        if (rc == 0 && !failed && finish_now)
            rc = vac_finish(s);
        if (slotted) {
            s->slotted = 0;
            slot_release();
        }

        pthread_mutex_lock(&s->lock);
        if (s->inbox_n == 0)
            s->behind_s = 0; /* caught up */
        if (rc < 0 && s->worker_err == 0) {
            s->worker_err = rc;
            snprintf(s->worker_msg, sizeof s->worker_msg, "%s", sotto_last_error());
        }
        if (rc < 0 && k == 0 && !finish_now && s->inbox_n > 0) {
            /* out of memory taking audio: give the rest up rather than spin */
            s->inbox_pos0 += (int64_t)s->inbox_n;
            s->inbox_n = 0;
        }
        if (finish_now) {
            s->done = 1;
            pthread_cond_broadcast(&s->idle);
        }
    }
    pthread_mutex_unlock(&s->lock);
    free(batch);
    return NULL;
}

int worker_start(sotto_stream *s)
{
    if (pthread_create(&s->thread, NULL, worker_main, s) != 0)
        return error_set(SOTTO_ENOMEM, "stream: cannot start the worker thread");
    s->thread_started = 1;
    return 0;
}

int worker_feed(sotto_stream *s, const float *pcm, size_t n)
{
    pthread_mutex_lock(&s->lock);
    if (s->finished) {
        pthread_mutex_unlock(&s->lock);
        return error_set(SOTTO_EINVAL, "stream: feed after finish");
    }
    if ((uint64_t)s->inbox_n + n > INBOX_MAX_SAMPLES) {
        pthread_mutex_unlock(&s->lock);
        return error_set(SOTTO_ENOMEM,
                         "stream: more than %d s of audio waiting (the recognizer cannot keep up)",
                         (int)(INBOX_MAX_SAMPLES / STREAM_RATE));
    }
    if (s->inbox_n + n > s->inbox_cap) {
        size_t cap = s->inbox_cap ? s->inbox_cap : STREAM_RATE;
        while (cap < s->inbox_n + n)
            cap *= 2;
        float *nb = realloc(s->inbox, cap * sizeof *nb);
        if (!nb) {
            pthread_mutex_unlock(&s->lock);
            return error_set(SOTTO_ENOMEM, "out of memory queueing audio");
        }
        s->inbox = nb;
        s->inbox_cap = cap;
    }
    if (n > 0)
        memcpy(s->inbox + s->inbox_n, pcm, n * sizeof *pcm);
    s->inbox_n += n;
    s->st.audio_s += (double)n / STREAM_RATE;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int worker_flush(sotto_stream *s)
{
    pthread_mutex_lock(&s->lock);
    int64_t at = s->inbox_pos0 + (int64_t)s->inbox_n;
    if (s->n_flush < STREAM_MAX_FLUSHES)
        s->flush_at[s->n_flush++] = at;
    else
        s->flush_at[STREAM_MAX_FLUSHES - 1] = at; /* a flood of flushes: merge the last */
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int worker_finish(sotto_stream *s)
{
    pthread_mutex_lock(&s->lock);
    s->finish_req = 1;
    pthread_cond_signal(&s->wake);
    while (!s->done && !s->stop_req)
        pthread_cond_wait(&s->idle, &s->lock);
    int rc = s->worker_err;
    char msg[sizeof s->worker_msg];
    memcpy(msg, s->worker_msg, sizeof msg);
    pthread_mutex_unlock(&s->lock);
    return rc < 0 ? error_set(rc, "%s", msg) : 0;
}

void worker_stop(sotto_stream *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop_req = 1;
    pthread_cond_broadcast(&s->wake);
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
}
