/*
 * asr.c - the recognizer interface: backend registry, the public sotto_asr_* wrappers,
 * and the generic stream for backends that cannot stream natively.
 *
 * Owns: the table of compiled-in backends (adding one is one line in `backends`), the
 * recognizer object (backend, its state, a private copy of the caller's options), argument
 * checks before any backend call, and the buffer-and-redecode stream.
 * Does not: recognize anything itself (src/asr/<name>/ does), or split long input into
 * utterances (the pipeline does).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/asr_int.h"
#include "base/base_int.h"
#include "sotto/audio.h"

/* Every compiled-in backend, in the order `sotto models` lists them. */
static const asr_backend *const backends[] = {
    &asr_backend_sphinx,
    &asr_backend_whisper,
};
#define N_BACKENDS (sizeof backends / sizeof backends[0])

/* The generic stream keeps the whole utterance; past this it refuses more samples
 * (a caller that never flushes would otherwise grow it without bound). */
#define ASR_GENERIC_MAX_SAMPLES ((size_t)SOTTO_SAMPLE_RATE * 600)

struct sotto_asr {
    const asr_backend *backend;
    void *state;            /* the backend's own object */
    sotto_asr_options opts; /* the caller's options; the strings below are ours */
    char *model_path, *language, *prompt;
    char model_name[256];
    pthread_mutex_t lock; /* serializes whole-buffer calls (one run state) and simul_new */
};

struct asr_simul {
    sotto_asr *asr;
    void *state; /* the backend's simul object */
};

struct sotto_asr_stream {
    sotto_asr *asr;
    void *native; /* the backend's stream, or NULL for the generic one below */
    /* generic stream */
    float *buf; /* (n_buf) samples of the current utterance */
    size_t n_buf, cap_buf;
    uint64_t n_base;         /* samples fed before buf[0] (times are counted, not summed) */
    size_t n_decoded;        /* n_buf when `partial` was last computed */
    char *partial;           /* "" when none */
    sotto_transcript finals; /* final segments not yet taken */
};

void sotto_asr_options_init(sotto_asr_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
}

size_t sotto_asr_backend_count(void)
{
    return N_BACKENDS;
}

int sotto_asr_backend_info_get(size_t index, sotto_asr_backend_info *info)
{
    if (!info)
        return error_set(SOTTO_EINVAL, "sotto_asr_backend_info_get: info is NULL");
    if (index >= N_BACKENDS)
        return error_set(SOTTO_EINVAL, "no backend number %zu (there are %zu)", index,
                         (size_t)N_BACKENDS);
    const asr_backend *b = backends[index];
    memset(info, 0, sizeof *info);
    info->name = b->name;
    info->description = b->description;
    info->available = 1;
    if (b->probe)
        b->probe(info);
    return 0;
}

const char *sotto_asr_default_backend(const sotto_asr_options *opts)
{
    return opts && opts->model_path && *opts->model_path ? "whisper" : "sphinx";
}

static const asr_backend *backend_find(const char *name)
{
    for (size_t i = 0; i < N_BACKENDS; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

static int unknown_backend(const char *name)
{
    char list[256];
    size_t pos = 0;
    list[0] = '\0';
    for (size_t i = 0; i < N_BACKENDS && pos < sizeof list; i++) {
        int w = snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "", backends[i]->name);
        if (w < 0)
            break;
        pos += (size_t)w;
    }
    return error_set(SOTTO_EINVAL, "unknown backend '%s' (available: %s)", name, list);
}

/* Options every backend would reject the same way are refused here once. */
static int options_check(const sotto_asr_options *o)
{
    if (o->beam_size < 0)
        return error_set(SOTTO_EINVAL, "beam size must be >= 0 (got %d)", o->beam_size);
    if (o->best_of < 0)
        return error_set(SOTTO_EINVAL, "best-of must be >= 0 (got %d)", o->best_of);
    if (o->n_threads < 0)
        return error_set(SOTTO_EINVAL, "thread count must be >= 0 (got %d)", o->n_threads);
    if (!(o->temperature >= 0.0f && o->temperature <= 1.0f))
        return error_set(SOTTO_EINVAL, "temperature must be in [0, 1] (got %g)",
                         (double)o->temperature);
    return 0;
}

int sotto_asr_new(const char *backend, const sotto_asr_options *opts, sotto_asr **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "sotto_asr_new: out is NULL");
    *out = NULL;
    sotto_asr_options defaults;
    if (!opts) {
        sotto_asr_options_init(&defaults);
        opts = &defaults;
    }
    if (!backend || !*backend)
        backend = sotto_asr_default_backend(opts);
    const asr_backend *b = backend_find(backend);
    if (!b)
        return unknown_backend(backend);
    int rc = options_check(opts);
    if (rc < 0)
        return rc;

    sotto_asr *asr = calloc(1, sizeof *asr);
    if (!asr)
        return error_set(SOTTO_ENOMEM, "out of memory creating a recognizer");
    asr->backend = b;
    pthread_mutex_init(&asr->lock, NULL);
    asr->opts = *opts;
    asr->model_path = str_dup(opts->model_path);
    asr->language = str_dup(opts->language);
    asr->prompt = str_dup(opts->prompt);
    if ((opts->model_path && !asr->model_path) || (opts->language && !asr->language) ||
        (opts->prompt && !asr->prompt)) {
        sotto_asr_free(asr);
        return error_set(SOTTO_ENOMEM, "out of memory copying recognizer options");
    }
    asr->opts.model_path = asr->model_path;
    asr->opts.language = asr->language;
    asr->opts.prompt = asr->prompt;
    rc = b->create(&asr->opts, &asr->state, asr->model_name, sizeof asr->model_name);
    if (rc < 0) {
        asr->state = NULL;
        sotto_asr_free(asr);
        return rc;
    }
    asr->model_name[sizeof asr->model_name - 1] = '\0';
    *out = asr;
    return 0;
}

void sotto_asr_free(sotto_asr *asr)
{
    if (!asr)
        return;
    if (asr->state)
        asr->backend->destroy(asr->state);
    free(asr->model_path);
    free(asr->language);
    free(asr->prompt);
    pthread_mutex_destroy(&asr->lock);
    free(asr);
}

const char *sotto_asr_backend_name(const sotto_asr *asr)
{
    return asr ? asr->backend->name : "";
}

const char *sotto_asr_model_name(const sotto_asr *asr)
{
    return asr ? asr->model_name : "";
}

const sotto_asr_options *asr_options(const sotto_asr *asr)
{
    return &asr->opts;
}

int sotto_asr_transcribe(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                         sotto_transcript *out)
{
    return sotto_asr_transcribe_ex(asr, pcm, n, t_offset, NULL, out);
}

void asr_call_options(const sotto_asr_options *base, const sotto_asr_call *call, const asr_decode *dec,
                      sotto_asr_options *out)
{
    *out = *base;
    if (call && call->prompt)
        out->prompt = call->prompt;
    if (call && call->word_timestamps)
        out->word_timestamps = 1;
    if (dec) {
        out->beam_size = dec->beam_size;
        out->best_of = dec->best_of;
        out->temperature = dec->temperature;
        out->no_fallback = dec->no_fallback;
    }
}

int asr_transcribe_decode(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                          const sotto_asr_call *call, const asr_decode *dec, sotto_transcript *out)
{
    if (!asr || !out || (!pcm && n > 0))
        return error_set(SOTTO_EINVAL, "sotto_asr_transcribe: %s is NULL",
                         !asr   ? "asr"
                         : !out ? "out"
                                : "pcm");
    if (!isfinite(t_offset) || t_offset < 0.0)
        return error_set(SOTTO_EINVAL, "sotto_asr_transcribe: bad time offset %g", t_offset);
    if (n == 0)
        return 0;
    sotto_asr_options o;
    asr_call_options(&asr->opts, call, dec, &o);
    pthread_mutex_lock(&asr->lock);
    int rc = asr->backend->transcribe(asr->state, &o, pcm, n, t_offset, out);
    pthread_mutex_unlock(&asr->lock);
    return rc;
}

int sotto_asr_transcribe_ex(sotto_asr *asr, const float *pcm, size_t n, double t_offset,
                            const sotto_asr_call *call, sotto_transcript *out)
{
    return asr_transcribe_decode(asr, pcm, n, t_offset, call, NULL, out);
}

/* ---- simultaneous decoding (align_att) ---------------------------------------------- */

int asr_simul_supported(const sotto_asr *asr)
{
    return asr && asr->backend->simul_new != NULL;
}

int asr_simul_new(sotto_asr *asr, asr_simul **out)
{
    if (!asr || !out)
        return error_set(SOTTO_EINVAL, "asr_simul_new: NULL argument");
    *out = NULL;
    if (!asr_simul_supported(asr))
        return error_set(SOTTO_EINVAL,
                         "the %s recognizer has no cross-attention: policy align_att needs whisper "
                         "(use native or local_agreement)",
                         asr->backend->name);
    asr_simul *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory creating an align_att decoder");
    s->asr = asr;
    /* the first simul object of a recognizer makes what they share (see asr_backend) */
    pthread_mutex_lock(&asr->lock);
    int rc = asr->backend->simul_new(asr->state, &s->state);
    pthread_mutex_unlock(&asr->lock);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void asr_simul_free(asr_simul *s)
{
    if (!s)
        return;
    s->asr->backend->simul_free(s->state);
    free(s);
}

int asr_simul_update(asr_simul *s, const asr_simul_call *call, asr_simul_out *out)
{
    if (!s || !call || !out || (!call->pcm && call->n > 0))
        return error_set(SOTTO_EINVAL, "asr_simul_update: NULL argument");
    /* no recognizer lock: each simul object has its own run state (asr_backend) */
    return s->asr->backend->simul_update(s->state, call, out);
}

int asr_simul_drop(asr_simul *s, size_t n_samples)
{
    return s ? s->asr->backend->simul_drop(s->state, n_samples) : 0;
}

void asr_simul_reset(asr_simul *s)
{
    if (s)
        s->asr->backend->simul_reset(s->state);
}

/* ---- streams ------------------------------------------------------------------------ */

int asr_stream_new_generic(sotto_asr *asr, sotto_asr_stream **out)
{
    if (!asr || !out)
        return error_set(SOTTO_EINVAL, "asr_stream_new_generic: NULL argument");
    sotto_asr_stream *s = calloc(1, sizeof *s);
    char *partial = str_dup("");
    if (!s || !partial) {
        free(s);
        free(partial);
        return error_set(SOTTO_ENOMEM, "out of memory creating a stream");
    }
    s->asr = asr;
    s->partial = partial;
    sotto_transcript_init(&s->finals);
    *out = s;
    return 0;
}

int sotto_asr_stream_new(sotto_asr *asr, sotto_asr_stream **out)
{
    if (!asr || !out)
        return error_set(SOTTO_EINVAL, "sotto_asr_stream_new: %s is NULL", !asr ? "asr" : "out");
    *out = NULL;
    if (!asr->backend->stream_new)
        return asr_stream_new_generic(asr, out);
    sotto_asr_stream *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory creating a stream");
    s->asr = asr;
    int rc = asr->backend->stream_new(asr->state, &s->native);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Recognizer-wide, not a whole-buffer call: no recognizer lock (the backend's pool has its
 * own), so warming never holds up transcribe calls or streams. */
int sotto_asr_warm_streams(sotto_asr *asr, int n)
{
    if (!asr)
        return error_set(SOTTO_EINVAL, "sotto_asr_warm_streams: asr is NULL");
    if (n < 0 || n > SOTTO_ASR_WARM_MAX)
        return error_set(SOTTO_EINVAL, "sotto_asr_warm_streams: %d stream decoders asked (0..%d)",
                         n, SOTTO_ASR_WARM_MAX);
    if (!asr->backend->stream_new || !asr->backend->stream_warm || n == 0)
        return 0;
    return asr->backend->stream_warm(asr->state, n);
}

void sotto_asr_stream_free(sotto_asr_stream *s)
{
    if (!s)
        return;
    if (s->native)
        s->asr->backend->stream_free(s->native);
    free(s->buf);
    free(s->partial);
    sotto_transcript_free(&s->finals);
    free(s);
}

static int generic_feed(sotto_asr_stream *s, const float *pcm, size_t n)
{
    if (n > ASR_GENERIC_MAX_SAMPLES - s->n_buf)
        return error_set(SOTTO_ENOMEM,
                         "stream utterance longer than %zu s without a flush; flush more often",
                         ASR_GENERIC_MAX_SAMPLES / SOTTO_SAMPLE_RATE);
    if (s->n_buf + n > s->cap_buf) {
        size_t cap = s->cap_buf ? s->cap_buf : SOTTO_SAMPLE_RATE;
        while (cap < s->n_buf + n)
            cap *= 2;
        if (cap > ASR_GENERIC_MAX_SAMPLES)
            cap = ASR_GENERIC_MAX_SAMPLES;
        float *nb = realloc(s->buf, cap * sizeof *nb);
        if (!nb)
            return error_set(SOTTO_ENOMEM, "out of memory buffering stream audio");
        s->buf = nb;
        s->cap_buf = cap;
    }
    memcpy(s->buf + s->n_buf, pcm, n * sizeof *pcm);
    s->n_buf += n;
    return 0;
}

int sotto_asr_stream_feed(sotto_asr_stream *s, const float *pcm, size_t n)
{
    if (!s || (!pcm && n > 0))
        return error_set(SOTTO_EINVAL, "sotto_asr_stream_feed: %s is NULL", !s ? "stream" : "pcm");
    if (n == 0)
        return 0;
    if (s->native)
        return s->asr->backend->stream_feed(s->native, pcm, n);
    return generic_feed(s, pcm, n);
}

/* Re-decode the buffered utterance, but only when it grew since the last time. */
static int generic_partial(sotto_asr_stream *s, const char **text)
{
    if (s->n_buf != s->n_decoded) {
        sotto_transcript tmp;
        sotto_transcript_init(&tmp);
        /* greedy: the partial is redone on the next feed anyway; flush decodes in full */
        static const asr_decode greedy = ASR_DECODE_GREEDY;
        int rc = asr_transcribe_decode(s->asr, s->buf, s->n_buf, (double)s->n_base / SOTTO_SAMPLE_RATE, NULL,
                                       &greedy, &tmp);
        char *joined = rc == 0 ? sotto_transcript_text(&tmp) : NULL;
        sotto_transcript_free(&tmp);
        if (rc < 0)
            return rc;
        if (!joined)
            return error_set(SOTTO_ENOMEM, "out of memory building the partial text");
        free(s->partial);
        s->partial = joined;
        s->n_decoded = s->n_buf;
    }
    *text = s->partial;
    return 0;
}

int sotto_asr_stream_partial(sotto_asr_stream *s, const char **text)
{
    if (!s || !text)
        return error_set(SOTTO_EINVAL, "sotto_asr_stream_partial: %s is NULL",
                         !s ? "stream" : "text");
    if (s->native)
        return s->asr->backend->stream_partial(s->native, text);
    return generic_partial(s, text);
}

static int generic_flush(sotto_asr_stream *s)
{
    if (s->n_buf == 0)
        return 0;
    int rc = sotto_asr_transcribe(s->asr, s->buf, s->n_buf,
                                         (double)s->n_base / SOTTO_SAMPLE_RATE, &s->finals);
    if (rc < 0)
        return rc;
    s->n_base += s->n_buf;
    s->n_buf = 0;
    s->n_decoded = 0;
    s->partial[0] = '\0';
    return 0;
}

int sotto_asr_stream_flush(sotto_asr_stream *s)
{
    if (!s)
        return error_set(SOTTO_EINVAL, "sotto_asr_stream_flush: stream is NULL");
    if (s->native)
        return s->asr->backend->stream_flush(s->native);
    return generic_flush(s);
}

int sotto_asr_stream_take_finals(sotto_asr_stream *s, sotto_transcript *out)
{
    if (!s || !out)
        return error_set(SOTTO_EINVAL, "sotto_asr_stream_take_finals: %s is NULL",
                         !s ? "stream" : "out");
    if (s->native)
        return s->asr->backend->stream_take_finals(s->native, out);
    return sotto_transcript_take(out, &s->finals);
}

int asr_stream_transcribe(sotto_asr_stream *s, const sotto_asr_call *call, const float *pcm,
                          size_t n, double t_offset, sotto_transcript *out)
{
    if (!s || !out || (!pcm && n > 0))
        return error_set(SOTTO_EINVAL, "asr_stream_transcribe: NULL argument");
    if (!s->native || !s->asr->backend->stream_transcribe)
        return sotto_asr_transcribe_ex(s->asr, pcm, n, t_offset, call, out);
    if (!isfinite(t_offset) || t_offset < 0.0)
        return error_set(SOTTO_EINVAL, "asr_stream_transcribe: bad time offset %g", t_offset);
    if (n == 0)
        return 0;
    sotto_asr_options o;
    asr_call_options(&s->asr->opts, call, NULL, &o);
    return s->asr->backend->stream_transcribe(s->native, &o, pcm, n, t_offset, out);
}

int asr_stream_partial_words_supported(const sotto_asr *asr)
{
    return asr && asr->backend->stream_new && asr->backend->stream_partial_words;
}

int asr_stream_partial_words(sotto_asr_stream *s, sotto_transcript *out)
{
    if (!s || !out)
        return error_set(SOTTO_EINVAL, "asr_stream_partial_words: %s is NULL",
                         !s ? "stream" : "out");
    if (!s->native || !s->asr->backend->stream_partial_words)
        return error_set(SOTTO_ENOTSUP, "the %s recognizer gives no words mid-utterance",
                         s->asr->backend->name);
    return s->asr->backend->stream_partial_words(s->native, out);
}

int asr_stream_want_finals(sotto_asr_stream *s, int want)
{
    if (!s)
        return error_set(SOTTO_EINVAL, "asr_stream_want_finals: stream is NULL");
    if (!s->native || !s->asr->backend->stream_want_finals)
        return 0;
    return s->asr->backend->stream_want_finals(s->native, want);
}

/* ---- private whole-buffer run states (asr_runner, see asr_int.h) ------------------------ */

struct asr_runner {
    sotto_asr *asr;
    void *state; /* the backend's runner, or NULL: calls go to the shared, locked one */
};

int asr_runner_new(sotto_asr *asr, asr_runner **out)
{
    if (!asr || !out)
        return error_set(SOTTO_EINVAL, "asr_runner_new: NULL argument");
    *out = NULL;
    asr_runner *r = calloc(1, sizeof *r);
    if (!r)
        return error_set(SOTTO_ENOMEM, "out of memory creating a decoder run state");
    r->asr = asr;
    if (asr->backend->runner_new) {
        /* no recognizer lock: the backend counts its private run states itself */
        int rc = asr->backend->runner_new(asr->state, &r->state);
        if (rc < 0) {
            free(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

void asr_runner_free(asr_runner *r)
{
    if (!r)
        return;
    if (r->state)
        r->asr->backend->runner_free(r->state);
    free(r);
}

int asr_runner_private(const asr_runner *r)
{
    return r && r->state != NULL;
}

int asr_runner_decode(asr_runner *r, const float *pcm, size_t n, double t_offset,
                      const sotto_asr_call *call, const asr_decode *dec, sotto_transcript *out)
{
    if (!r)
        return error_set(SOTTO_EINVAL, "asr_runner_decode: runner is NULL");
    if (!r->state)
        return asr_transcribe_decode(r->asr, pcm, n, t_offset, call, dec, out);
    if (!out || (!pcm && n > 0))
        return error_set(SOTTO_EINVAL, "asr_runner_decode: %s is NULL", !out ? "out" : "pcm");
    if (!isfinite(t_offset) || t_offset < 0.0)
        return error_set(SOTTO_EINVAL, "asr_runner_decode: bad time offset %g", t_offset);
    if (n == 0)
        return 0;
    sotto_asr_options o;
    asr_call_options(&r->asr->opts, call, dec, &o);
    return r->asr->backend->runner_transcribe(r->state, &o, pcm, n, t_offset, out);
}

void asr_test_hold_lock(sotto_asr *asr, int hold)
{
    if (hold)
        pthread_mutex_lock(&asr->lock);
    else
        pthread_mutex_unlock(&asr->lock);
}
