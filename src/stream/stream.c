/*
 * stream.c - the public face of the live-recognition engine (sotto_stream_*).
 *
 * Owns: option defaults and checks, policy names, choosing the policy for a recognizer,
 * the stream object's life, the event helpers the policies publish through (final,
 * partial, stats), and the statistics. It does not chunk audio (vac.c), run the worker
 * thread (worker.c), build prompts (context.c) or decide what to commit (policy_*.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr_int.h"
#include "base/base_int.h"
#include "stream/stream_int.h"

/* Longest text a caller may pass as terms or prompt (they come from WebSocket clients). */
#define STREAM_MAX_TEXT 4096

static const char *const policy_names[] = {"auto", "native", "local_agreement", "align_att"};

int sotto_stream_policy_parse(const char *name, sotto_stream_policy *out)
{
    if (!name || !out)
        return error_set(SOTTO_EINVAL, "stream policy: NULL argument");
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, policy_names[i]) == 0) {
            *out = (sotto_stream_policy)i;
            return 0;
        }
    }
    return error_set(SOTTO_EINVAL,
                     "unknown stream policy '%.64s' (valid: auto, native, local_agreement, align_att)",
                     name);
}

const char *sotto_stream_policy_name(sotto_stream_policy p)
{
    return (int)p >= 0 && (int)p < 4 ? policy_names[p] : "unknown";
}

void sotto_stream_options_init(sotto_stream_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->policy = SOTTO_POLICY_AUTO;
    o->use_vad = 1;
    sotto_vad_options_init(&o->vad);
    o->preroll_s = 1.0f;
    o->min_chunk_s = 0.0f;
    o->trim_s = 15.0f;
    o->max_buffer_s = 30.0f;
    o->tau_frames = 25;
    o->tau_end_frames = 4;
    o->word_gap_s = 0.2f;
    o->max_context_words = 120;
    o->max_backlog_s = 4.0f;
}

/* A float option is usable when finite and within [lo, hi]. */
static int in_range(float v, float lo, float hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static int check_options(const sotto_stream_options *o)
{
    if ((int)o->policy < 0 || (int)o->policy > 3)
        return error_set(SOTTO_EINVAL, "stream: policy %d out of range", (int)o->policy);
    if (!in_range(o->preroll_s, 0.0f, 10.0f))
        return error_set(SOTTO_EINVAL, "stream: preroll_s must be in [0, 10]");
    if (!in_range(o->min_chunk_s, 0.0f, 30.0f))
        return error_set(SOTTO_EINVAL, "stream: min_chunk_s must be in [0, 30] (0 = policy's)");
    if (!in_range(o->max_buffer_s, 1.0f, 30.0f))
        return error_set(SOTTO_EINVAL, "stream: max_buffer_s must be in [1, 30]");
    if (!in_range(o->trim_s, 1.0f, o->max_buffer_s))
        return error_set(SOTTO_EINVAL, "stream: trim_s must be in [1, max_buffer_s]");
    if (o->tau_frames < 0 || o->tau_frames > 1500 || o->tau_end_frames < 0 ||
        o->tau_end_frames > 1500)
        return error_set(SOTTO_EINVAL, "stream: tau_frames / tau_end_frames must be in [0, 1500]");
    if (!in_range(o->word_gap_s, 0.0f, 5.0f))
        return error_set(SOTTO_EINVAL, "stream: word_gap_s must be in [0, 5]");
    if (o->max_context_words < 0 || o->max_context_words > 1000)
        return error_set(SOTTO_EINVAL, "stream: max_context_words must be in [0, 1000]");
    if (!in_range(o->max_backlog_s, 0.1f, 3600.0f))
        return error_set(SOTTO_EINVAL, "stream: max_backlog_s must be in [0.1, 3600]");
    if ((o->terms && strlen(o->terms) > STREAM_MAX_TEXT) ||
        (o->prompt && strlen(o->prompt) > STREAM_MAX_TEXT))
        return error_set(SOTTO_EINVAL, "stream: terms and prompt are limited to %d bytes",
                         STREAM_MAX_TEXT);
    return 0;
}

/* auto: sphinx streams by itself; a recognizer with cross-attention gets AlignAtt;
 * anything else re-decodes under LocalAgreement. */
static int choose_policy(sotto_asr *asr, sotto_stream_policy want, sotto_stream_policy *out)
{
    const char *backend = sotto_asr_backend_name(asr);
    if (want == SOTTO_POLICY_AUTO) {
        if (backend && strcmp(backend, "sphinx") == 0)
            want = SOTTO_POLICY_NATIVE;
        else if (asr_simul_supported(asr))
            want = SOTTO_POLICY_ALIGN_ATT;
        else
            want = SOTTO_POLICY_LOCAL_AGREEMENT;
    }
    if (want == SOTTO_POLICY_ALIGN_ATT && !asr_simul_supported(asr))
        return error_set(SOTTO_EINVAL,
                         "stream: policy align_att needs a recognizer with cross-attention "
                         "(whisper); backend '%s' has none: use native or local_agreement",
                         backend ? backend : "?");
    *out = want;
    return 0;
}

int sotto_stream_new(sotto_asr *asr, const sotto_stream_options *opts, sotto_stream_event_fn on_event,
                     void *user, sotto_stream **out)
{
    if (!asr || !out)
        return error_set(SOTTO_EINVAL, "sotto_stream_new: NULL argument");
    *out = NULL;
    sotto_stream_options o;
    if (opts)
        o = *opts;
    else
        sotto_stream_options_init(&o);
    int rc = check_options(&o);
    if (rc < 0)
        return rc;
    sotto_stream_policy pid = SOTTO_POLICY_NATIVE;
    rc = choose_policy(asr, o.policy, &pid);
    if (rc < 0)
        return rc;

    sotto_stream *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory creating a stream");
    s->asr = asr;
    s->o = o;
    s->policy_id = pid;
    s->on_event = on_event;
    s->user = user;
    s->policy = pid == SOTTO_POLICY_NATIVE            ? &stream_policy_native
                : pid == SOTTO_POLICY_LOCAL_AGREEMENT ? &stream_policy_la
                                                      : &stream_policy_att;
    s->min_chunk_s = o.min_chunk_s > 0.0f               ? o.min_chunk_s
                     : pid == SOTTO_POLICY_NATIVE          ? 0.1f
                     : pid == SOTTO_POLICY_LOCAL_AGREEMENT ? 1.0f
                                                           : 1.2f;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->idle, NULL);
    s->last_partial = str_dup("");
    if (!s->last_partial) {
        sotto_stream_free(s);
        return error_set(SOTTO_ENOMEM, "out of memory creating a stream");
    }
    /* the caller's strings are used here only: the context keeps its own copy */
    rc = context_init(&s->ctx, o.domain, o.terms, o.prompt, o.max_context_words);
    s->o.domain = s->o.terms = s->o.prompt = NULL;
    if (rc == 0)
        rc = vac_init(s);
    if (rc == 0)
        rc = s->policy->create(s, &s->pstate);
    if (rc == 0 && o.threaded) {
        s->threaded = 1;
        rc = worker_start(s);
    }
    if (rc < 0) {
        sotto_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int sotto_stream_feed(sotto_stream *s, const float *pcm, size_t n)
{
    if (!s || (!pcm && n > 0))
        return error_set(SOTTO_EINVAL, "sotto_stream_feed: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pcm[i]))
            return error_set(SOTTO_EINVAL, "stream: sample %zu is not a finite number", i);
    if (s->threaded)
        return worker_feed(s, pcm, n); /* checks finish under the inbox's lock */
    pthread_mutex_lock(&s->lock);
    int finished = s->finished;
    if (!finished)
        s->st.audio_s += (double)n / STREAM_RATE;
    pthread_mutex_unlock(&s->lock);
    if (finished)
        return error_set(SOTTO_EINVAL, "stream: feed after finish");
    return n ? vac_process(s, pcm, n, 0) : 0;
}

int sotto_stream_flush(sotto_stream *s)
{
    if (!s)
        return error_set(SOTTO_EINVAL, "sotto_stream_flush: NULL argument");
    pthread_mutex_lock(&s->lock);
    int finished = s->finished;
    pthread_mutex_unlock(&s->lock);
    if (finished)
        return 0;
    return s->threaded ? worker_flush(s) : vac_flush(s);
}

int sotto_stream_finish(sotto_stream *s)
{
    if (!s)
        return error_set(SOTTO_EINVAL, "sotto_stream_finish: NULL argument");
    pthread_mutex_lock(&s->lock);
    s->finished = 1;
    pthread_mutex_unlock(&s->lock);
    if (s->threaded)
        return worker_finish(s);
    if (s->done)
        return 0;
    s->done = 1;
    return vac_finish(s);
}

void sotto_stream_get_stats(sotto_stream *s, sotto_stream_stats *out)
{
    if (!s || !out)
        return;
    pthread_mutex_lock(&s->lock);
    *out = s->st;
    /* the lag: what waits now, or what waited when the worker took the batch it is
     * recognizing (the inbox alone reads ~0 right after a take, however late it was) */
    out->backlog_s = (double)s->inbox_n / STREAM_RATE;
    if (s->behind_s > out->backlog_s)
        out->backlog_s = s->behind_s;
    out->degraded = out->backlog_s > s->o.max_backlog_s || s->st.degraded;
    out->rtf = out->audio_s > 0.0 ? out->compute_s / out->audio_s : 0.0;
    /* the calls the same policy would have made on every chunk, silence included */
    out->updates_no_vad = (int64_t)ceil(out->audio_s / s->min_chunk_s - 1e-9);
    pthread_mutex_unlock(&s->lock);
}

void sotto_stream_free(sotto_stream *s)
{
    if (!s)
        return;
    if (s->threaded)
        worker_stop(s);
    if (s->policy && s->pstate)
        s->policy->destroy(s->pstate);
    vac_free(s);
    context_free(&s->ctx);
    free(s->last_partial);
    free(s->inbox);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- events (from the thread running updates) ---------------------------------------- */

void stream_emit(sotto_stream *s, const sotto_stream_event *ev)
{
    if (s->on_event)
        s->on_event(s->user, ev);
    if (s->slotted)
        stream_slot_progress();
}

void stream_count_call(sotto_stream *s, double compute_s)
{
    if (s->slotted)
        stream_slot_progress();
    pthread_mutex_lock(&s->lock);
    s->st.updates++;
    s->st.compute_s += compute_s;
    if (compute_s > 0.0) /* 0: a call inside another whose time is counted (a prefix pass) */
        s->st.latency_s = compute_s;
    s->st.buffered_s = (double)s->buf_n / STREAM_RATE;
    pthread_mutex_unlock(&s->lock);
}

/* Join words (trimmed of white space) with single spaces. Caller frees. */
static char *words_text(const sotto_word *w, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += (w[i].word ? strlen(w[i].word) : 0) + 1;
    char *text = malloc(len);
    if (!text)
        return NULL;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = w[i].word ? w[i].word : "";
        while (*a == ' ' || *a == '\t' || *a == '\n')
            a++;
        size_t m = strlen(a);
        while (m > 0 && (a[m - 1] == ' ' || a[m - 1] == '\t' || a[m - 1] == '\n'))
            m--;
        if (m == 0)
            continue;
        if (pos > 0)
            text[pos++] = ' ';
        memcpy(text + pos, a, m);
        pos += m;
    }
    text[pos] = '\0';
    return text;
}

int stream_emit_final(sotto_stream *s, const sotto_word *w, size_t n, const char *language)
{
    if (n == 0)
        return 0;
    char *text = words_text(w, n);
    if (!text)
        return error_set(SOTTO_ENOMEM, "out of memory building a final");
    if (!text[0]) {
        free(text);
        return 0;
    }
    int rc = context_add_words(&s->ctx, w, n);
    if (rc == 0) {
        sotto_stream_event ev = {0};
        ev.type = SOTTO_STREAM_FINAL;
        ev.text = text;
        ev.start = w[0].start;
        ev.end = w[n - 1].end;
        ev.segment_id = s->next_segment_id++;
        ev.words = w;
        ev.n_words = n;
        ev.language = language ? language : "";
        stream_emit(s, &ev);
    }
    free(text);
    return rc;
}

int stream_emit_partial(sotto_stream *s, const char *text, double start, double end)
{
    if (!text)
        text = "";
    if (strcmp(text, s->last_partial) == 0)
        return 0;
    char *copy = str_dup(text);
    if (!copy)
        return error_set(SOTTO_ENOMEM, "out of memory copying a partial");
    free(s->last_partial);
    s->last_partial = copy;
    sotto_stream_event ev = {0};
    ev.type = SOTTO_STREAM_PARTIAL;
    ev.text = copy;
    ev.start = start;
    ev.end = end;
    stream_emit(s, &ev);
    return 0;
}

void stream_buf_drop(sotto_stream *s, size_t n)
{
    if (n > s->buf_n)
        n = s->buf_n;
    memmove(s->buf, s->buf + n, (s->buf_n - n) * sizeof *s->buf);
    s->buf_n -= n;
    s->buf_t0 += (double)n / STREAM_RATE;
    s->buf_new = s->buf_new < s->buf_n ? s->buf_new : s->buf_n;
}

sotto_stream_policy sotto_stream_policy_of(const sotto_stream *s)
{
    return s ? s->policy_id : SOTTO_POLICY_AUTO;
}
