/*
 * listen_conn.c - the life of one GET /v1/listen stream, away from the socket: the small
 * cache of shared recognizers (and warming the sphinx one's stream decoders at start),
 * starting a stream and the session its finals go to,
 * delivering its events (finals saved before they are sent; JSON text frames, or msgpack
 * binary frames with encoding=msgpack), and finishing a stream whose connection is gone,
 * so that a dropped connection loses nothing.
 *
 * The CivetWeb handlers, frames and control messages are in listen.c; what the two files
 * share is in listen_int.h (with the locking rules).
 *
 * Times: a stream that continues a session starts at the session's last message end, so
 * event and message times are session times (documented in docs/server.md).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base_int.h"
#include "server/listen_int.h"
#include "sotto/log.h"
#include "sotto/sotto.h"
#include "stream/event_msgpack.h"

#define LISTEN_STATS_EVERY_S 0.5 /* at most two stats events per second */

/* ---- recognizers ---------------------------------------------------------------------- */
/* A recognizer shared by every stream with the same backend/language/task (whole-buffer
 * calls are serialized inside asr.c; sphinx streams get their own decoder each, from the
 * recognizer's pool of ready ones). */
static int get_asr(sotto_server *s, const char *backend, const char *language, int translate,
                   sotto_asr **out)
{
    listen_state *L = s->streams;
    int rc = 0;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->n_asrs; i++) {
        listen_asr_entry *e = &L->asrs[i];
        if (!strcmp(e->backend, backend) && !strcmp(e->language, language) && e->translate == translate) {
            *out = e->asr;
            pthread_mutex_unlock(&L->mu);
            return 0;
        }
    }
    if (L->n_asrs == LISTEN_MAX_ASR) {
        rc = error_set(SOTTO_EUNAVAIL, "too many different recognizers in use (at most %d)", LISTEN_MAX_ASR);
    } else {
        sotto_asr_options ao;
        sotto_asr_options_init(&ao);
        ao.model_path = !strcmp(backend, "whisper") ? s->model : NULL;
        ao.language = language[0] ? language : NULL;
        ao.translate = translate;
        ao.word_timestamps = 1;
        listen_asr_entry *e = &L->asrs[L->n_asrs];
        rc = sotto_asr_new(backend, &ao, &e->asr);
        if (!rc) {
            snprintf(e->backend, sizeof e->backend, "%s", backend);
            snprintf(e->language, sizeof e->language, "%s", language);
            e->translate = translate;
            *out = e->asr;
            L->n_asrs++;
        }
    }
    pthread_mutex_unlock(&L->mu);
    return rc;
}

void listen_warm_streams(sotto_server *s, int n, const int *stop)
{
    double t0 = time_now();
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    sotto_asr *asr = NULL;
    /* the key get_asr gives a stream that names no model and no language */
    int rc = get_asr(s, "sphinx", "", 0, &asr);
    if (rc) {
        SOTTO_WARN("listen: no sphinx stream decoders warmed: %s", sotto_last_error());
        return;
    }
    /* one at a time: a stop request waits for one decoder at most, and the first streams
     * find the first decoders ready */
    int i = 0;
    while (i < n && !__atomic_load_n(stop, __ATOMIC_SEQ_CST)) {
        rc = sotto_asr_warm_streams(asr, ++i);
        if (rc < 0) {
            SOTTO_WARN("listen: warmed %d of %d sphinx stream decoders: %s", i - 1, n,
                       sotto_last_error());
            return;
        }
    }
    if (i < n)
        return; /* stopping */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) * 1e-9;
    SOTTO_INFO("warmed %d sphinx stream decoders in %.1f s (%.1f s CPU, with the recognizer)", n,
               time_now() - t0, cpu);
}

/* ---- events from the stream ----------------------------------------------------------- */
static void save_final(listen_conn *c, const sotto_stream_event *ev)
{
    if (!ev->text || !ev->text[0])
        return;
    sotto_message m;
    sotto_message_init(&m);
    snprintf(m.session_id, sizeof m.session_id, "%s", c->session_id);
    snprintf(m.role, sizeof m.role, "user");
    snprintf(m.language, sizeof m.language, "%s", ev->language ? ev->language : "");
    m.content = (char *)ev->text;
    m.start_s = ev->start + c->offset;
    m.end_s = ev->end + c->offset;
    if (ev->n_words) {
        double p = 0;
        for (size_t i = 0; i < ev->n_words; i++)
            p += ev->words[i].probability;
        m.confidence = p / (double)ev->n_words;
    }
    char meta[96];
    snprintf(meta, sizeof meta, "{\"source\":\"listen\",\"segment_id\":%lld}", (long long)ev->segment_id);
    m.metadata_json = meta;
    int rc = sotto_store_message_append(c->srv->store, c->user.id, &m);
    if (rc) {
        SOTTO_WARN("listen: could not save a final to session %s: %s", c->session_id, sotto_last_error());
        listen_send_error(c, "store_failed", "a final could not be saved to the session");
    }
}

void listen_on_event(void *user, const sotto_stream_event *ev)
{
    listen_conn *c = user;
    if (ev->type == SOTTO_STREAM_FINAL)
        save_final(c, ev); /* before the client hears of it: a reader never misses it */
    if (ev->type == SOTTO_STREAM_STATS) {
        double now = time_now();
        if (now - c->last_stats < LISTEN_STATS_EVERY_S)
            return;
        c->last_stats = now;
    }
    sotto_buf b = SOTTO_BUF_INIT;
    if (c->params.msgpack) { /* params are fixed once the stream runs: no lock needed */
        if (sotto_stream_event_msgpack(ev, c->offset, &b) == 0)
            listen_send_binary(c, b.data, b.len);
    } else if (sotto_stream_event_json(ev, c->offset, &b) == 0) {
        listen_send(c, b.data, b.len);
    }
    sotto_buf_free(&b);
}

/* ---- starting a stream ------------------------------------------------------------------ */
/* Is an earlier connection of this session still finishing? (L->mu held) */
static int session_finishing(listen_state *L, const char *sid)
{
    for (listen_conn *f = L->finishing_list; f; f = f->next)
        if (!strcmp(f->session_id, sid))
            return 1;
    return 0;
}

/* The session's last audio end (where a continuing stream's times start). */
static double session_end(sotto_server *s, int64_t uid, const char *sid)
{
    sotto_session_stats st;
    if (sotto_store_session_stats(s->store, uid, sid, &st) != 0 || st.messages <= 0)
        return 0;
    sotto_message *list = NULL;
    size_t n = 0;
    double end = 0;
    int64_t after = st.messages > 64 ? st.messages - 64 : 0;
    if (sotto_store_message_list(s->store, uid, sid, after, 0, &list, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (list[i].end_s > end)
                end = list[i].end_s;
        sotto_message_list_free(list, n);
    }
    return end;
}

static int fail(listen_start_ctx *x, const char *code, int rc)
{
    snprintf(x->err_code, sizeof x->err_code, "%s", code);
    snprintf(x->err, sizeof x->err, "%s", sotto_last_error());
    return rc < 0 ? rc : SOTTO_EINVAL;
}

/* Wait (bounded) until no earlier connection of session sid is finishing its tail, so
 * that times and order continue. */
static void wait_session_finished(listen_state *L, const char *sid)
{
    double until = time_now() + 30;
    pthread_mutex_lock(&L->mu);
    while (session_finishing(L, sid) && time_now() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&L->cv, &L->mu, &ts);
    }
    pthread_mutex_unlock(&L->mu);
}

/* The backend a client's model name asks for (NULL after fail()). */
static const char *pick_backend(listen_start_ctx *x)
{
    sotto_server *s = x->c->srv;
    const char *m = x->c->params.model;
    if (!strcmp(m, "sphinx"))
        return "sphinx";
    if (!strcmp(m, "whisper")) {
        if (s->model)
            return "whisper";
        fail(x, "model_not_available",
             error_set(SOTTO_EINVAL, "model 'whisper' is not available: the server has no Whisper model configured"));
        return NULL;
    }
    if (m[0] && strcmp(m, "whisper-1") && strcmp(m, "default")) {
        fail(x, "model_not_found", error_set(SOTTO_EINVAL, "unknown model '%s' (sphinx, whisper)", m));
        return NULL;
    }
    return s->model ? "whisper" : "sphinx";
}

int listen_conn_start(void *arg)
{
    listen_start_ctx *x = arg;
    listen_conn *c = x->c;
    sotto_server *s = c->srv;
    listen_params *p = &c->params;
    const char *backend = pick_backend(x);
    if (!backend)
        return SOTTO_EINVAL;
    sotto_asr *asr = NULL;
    int rc = get_asr(s, backend, p->language, p->translate, &asr);
    if (rc)
        return fail(x, "recognizer_failed", rc);
    /* the stream first (no events before audio), so a bad option leaves no empty session */
    sotto_stream_options so;
    sotto_stream_options_init(&so);
    so.policy = p->policy;
    so.early_commit = p->early_commit;
    so.threaded = 1;
    so.shed_load = 1; /* many streams on few cores: finals from the live decoder, not a queue */
    so.domain = p->domain[0] ? p->domain : NULL;
    so.terms = p->terms;
    so.prompt = p->prompt;
    rc = listen_resampler_init(&c->rs, p->sample_rate);
    if (!rc)
        rc = sotto_stream_new(asr, &so, listen_on_event, c, &c->stream);
    if (rc)
        return fail(x, "invalid_request", rc);
    /* the session: continue one of this user's, or a new live one */
    if (p->session_id[0]) {
        sotto_session ses;
        rc = sotto_store_session_get(s->store, c->user.id, p->session_id, &ses);
        if (rc == SOTTO_ENOENT)
            return fail(x, "session_not_found", error_set(SOTTO_ENOENT, "no session '%s'", p->session_id));
        if (rc)
            return fail(x, "store_failed", rc);
        sotto_session_clear(&ses);
        snprintf(c->session_id, sizeof c->session_id, "%s", p->session_id);
        wait_session_finished(s->streams, p->session_id);
        c->offset = session_end(s, c->user.id, c->session_id);
    } else {
        sotto_session ses;
        memset(&ses, 0, sizeof ses);
        ses.user_id = c->user.id;
        snprintf(ses.type, sizeof ses.type, "live");
        snprintf(ses.status, sizeof ses.status, "active");
        snprintf(ses.language, sizeof ses.language, "%s", p->language);
        char meta[96];
        snprintf(meta, sizeof meta, "{\"source\":\"listen\",\"backend\":\"%s\"}", backend);
        ses.metadata_json = meta;
        rc = sotto_store_session_create(s->store, &ses, c->session_id);
        if (rc)
            return fail(x, "store_failed", rc);
    }
    listen_state *L = s->streams;
    pthread_mutex_lock(&L->mu);
    L->started++;
    pthread_mutex_unlock(&L->mu);
    return 0;
}

/* ---- finishing ---------------------------------------------------------------------------- */
void listen_conn_free(listen_conn *c)
{
    if (!c)
        return;
    sotto_stream_free(c->stream);
    listen_resampler_free(&c->rs);
    listen_params_clear(&c->params);
    free(c->pcm);
    free(c->rpcm);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Finish a dropped stream off CivetWeb's close path: the tail is recognized and saved. */
static void *finisher(void *arg)
{
    listen_conn *c = arg;
    sotto_server *s = c->srv;
    size_t n = 0;
    if (listen_resampler_run(&c->rs, NULL, 0, 1, &c->rpcm, &c->cap_rpcm, &n) == 0 && n)
        sotto_stream_feed(c->stream, c->rpcm, n);
    if (sotto_stream_finish(c->stream) != 0)
        SOTTO_WARN("listen: finishing a dropped stream of session %s: %s", c->session_id, sotto_last_error());
    else
        SOTTO_INFO("listen: the dropped stream of session %s is finished and saved", c->session_id);
    listen_state *L = s->streams;
    pthread_mutex_lock(&L->mu);
    for (listen_conn **pp = &L->finishing_list; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&L->mu);
    listen_conn_free(c);
    pthread_mutex_lock(&L->mu);
    L->finishing--;
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

void listen_conn_release(listen_conn *c)
{
    if (c->stream) {
        sotto_stream_stats st;
        sotto_stream_get_stats(c->stream, &st);
        SOTTO_INFO("listen: connection of session %s closed after %.1f s of audio; finishing the rest",
                   c->session_id, st.audio_s);
    }
    listen_state *L = c->srv->streams;
    pthread_mutex_lock(&L->mu);
    if (c->counted)
        L->active--;
    c->counted = 0;
    int finish = c->stream != NULL;
    if (finish) {
        L->finishing++;
        c->next = L->finishing_list;
        L->finishing_list = c;
    }
    pthread_mutex_unlock(&L->mu);
    if (!finish) {
        listen_conn_free(c);
        return;
    }
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, (size_t)8 << 20);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &a, finisher, c);
    pthread_attr_destroy(&a);
    if (rc)
        finisher(c); /* no thread: finish here rather than lose the tail */
}

/* ---- the per-server state ------------------------------------------------------------------ */
int listen_state_new(int max_streams, listen_state **out)
{
    listen_state *L = calloc(1, sizeof *L);
    if (!L)
        return error_set(SOTTO_ENOMEM, "out of memory");
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
    L->max_streams = max_streams;
    *out = L;
    return 0;
}

void listen_state_free(listen_state *L)
{
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    while (L->finishing > 0)
        pthread_cond_wait(&L->cv, &L->mu);
    pthread_mutex_unlock(&L->mu);
    for (size_t i = 0; i < L->n_asrs; i++)
        sotto_asr_free(L->asrs[i].asr);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
    free(L);
}
