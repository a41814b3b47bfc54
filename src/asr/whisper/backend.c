/*
 * backend.c - the asr_backend "whisper": OpenAI Whisper on sotto's own engine, reading
 * the ggml model files whisper.cpp users already have.
 *
 * Owns: the recognizer object (loaded model, tokenizer, the run state of transcribe.c),
 * option checks that only this backend makes (a model file is required, the language
 * must be one the model knows, beam_size / best_of within what the run state holds).
 * Does not: decode (transcribe.c and decode*.c do) or stream natively: asr.c's generic
 * buffer-and-redecode stream calls transcribe. The align_att hooks (simul_*) are
 * simul.c's: each simul object has its own run state; the recognizer's simul_run is the
 * step batcher they share (batcher.c).
 * Private runners (runner_*, asr_runner in asr_int.h): a whisper_runner per caller (a
 * local_agreement stream), made like the shared one (same model, tokenizer, threads and
 * slots), so whole-buffer calls of different streams run in parallel with identical
 * results. Cost of one (tiny, default beam 5 = 10 slots; sizes in transcribe.h): ~140 MB
 * allocated, of which greedy live updates make ~60 MB resident (measured, tiny q8_0:
 * state, one cache, scratch rows used); calloc'ed pages never touched cost nothing. At most 2 x cores (private_runner_cap)
 * live per recognizer: past that a caller shares the locked runner (no gain from more run
 * states than cores: the compute pool runs one parallel job at a time, nn/pool.c).
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "asr/asr_int.h"
#include "asr/whisper/simul.h"
#include "asr/whisper/transcribe.h"
#include "base/base_int.h"

typedef struct whisper_backend {
    whisper_model *model;
    whisper_tokenizer *tk;
    whisper_runner *run;
    const sotto_asr_options *opts; /* asr.c's copy, valid for the recognizer's life */
    whisper_simul_run *simul_run;  /* align_att: the step batcher of all simul objects (simul.c) */
    atomic_int n_private;          /* private runners alive (runner_new / runner_free) */
    int max_private;               /* cap on n_private: private_runner_cap() */
} whisper_backend;

/* A caller's own whole-buffer run state (see the file comment). */
typedef struct whisper_private_runner {
    whisper_backend *b;
    whisper_runner *run;
} whisper_private_runner;

static void whisper_probe(sotto_asr_backend_info *info)
{
    info->available = 1;
    snprintf(info->needs, sizeof info->needs, "a ggml model file: -m FILE (see README: models/download.sh)");
}

static void whisper_destroy(void *state)
{
    whisper_backend *b = state;
    if (!b)
        return;
    whisper_runner_free(b->run);
    whisper_simul_run_free(b->simul_run);
    whisper_tokenizer_free(b->tk);
    whisper_model_free(b->model);
    free(b);
}

static int n_threads_of(const sotto_asr_options *opts)
{
    if (opts->n_threads > 0)
        return opts->n_threads;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Private runners per recognizer: two per core (a stream's runner idles between its
 * updates, so a few more than cores keep the cores busy), at least 2. */
static int private_runner_cap(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n > 64 ? 64 : n;
    return 2 * (int)n;
}

static int whisper_create(const sotto_asr_options *opts, void **state, char *model_name, size_t model_name_size)
{
    if (!opts->model_path || !*opts->model_path)
        return error_set(SOTTO_EINVAL, "the whisper backend needs a model file: -m FILE");
    if (opts->beam_size > WHISPER_MAX_GROUP || opts->best_of > WHISPER_MAX_GROUP)
        return error_set(SOTTO_EINVAL, "whisper: beam size and best-of are at most %d (got %d, %d)",
                         WHISPER_MAX_GROUP, opts->beam_size, opts->best_of);
    whisper_backend *b = calloc(1, sizeof *b);
    if (!b)
        return error_set(SOTTO_ENOMEM, "out of memory creating the whisper backend");
    b->opts = opts;
    atomic_init(&b->n_private, 0);
    b->max_private = private_runner_cap();
    int lang = 0;
    int rc = whisper_model_load(opts->model_path, &b->model);
    if (!rc)
        rc = whisper_tokenizer_new(b->model, &b->tk);
    if (!rc)
        rc = whisper_language_resolve(b->tk, opts->language, &lang);
    if (!rc)
        rc = whisper_runner_new(b->model, b->tk, n_threads_of(opts), whisper_runner_slots(opts), &b->run);
    if (rc) {
        whisper_destroy(b);
        return rc;
    }
    const char *base = strrchr(opts->model_path, '/');
    snprintf(model_name, model_name_size, "%s", base ? base + 1 : opts->model_path);
    *state = b;
    return 0;
}

static int whisper_backend_transcribe(void *state, const sotto_asr_options *o, const float *pcm,
                                      size_t n, double t_offset, sotto_transcript *out)
{
    whisper_backend *b = state;
    return whisper_transcribe(b->run, o, pcm, n, t_offset, out);
}

/* 0 with *runner NULL past the cap: the caller then shares b->run under asr.c's lock. */
static int whisper_backend_runner_new(void *state, void **runner)
{
    whisper_backend *b = state;
    *runner = NULL;
    if (atomic_fetch_add(&b->n_private, 1) >= b->max_private) {
        atomic_fetch_sub(&b->n_private, 1);
        return 0;
    }
    whisper_private_runner *p = calloc(1, sizeof *p);
    int rc = p ? whisper_runner_new(b->model, b->tk, n_threads_of(b->opts), whisper_runner_slots(b->opts), &p->run)
               : error_set(SOTTO_ENOMEM, "out of memory (whisper run state)");
    if (rc < 0) {
        free(p);
        atomic_fetch_sub(&b->n_private, 1);
        return rc;
    }
    p->b = b;
    *runner = p;
    return 0;
}

static void whisper_backend_runner_free(void *runner)
{
    whisper_private_runner *p = runner;
    if (!p)
        return;
    whisper_runner_free(p->run);
    atomic_fetch_sub(&p->b->n_private, 1);
    free(p);
}

static int whisper_backend_runner_transcribe(void *runner, const sotto_asr_options *o, const float *pcm,
                                             size_t n, double t_offset, sotto_transcript *out)
{
    whisper_private_runner *p = runner;
    return whisper_transcribe(p->run, o, pcm, n, t_offset, out);
}

/* align_att (simul.c): asr.c serializes simul_new only (it creates the shared simul_run on
 * first use); updates of different simul objects run concurrently, their token steps
 * batched together. */
static int whisper_backend_simul_new(void *state, void **simul)
{
    whisper_backend *b = state;
    whisper_simul *s = NULL;
    int rc = whisper_simul_new(b->model, b->tk, b->opts, n_threads_of(b->opts), &b->simul_run, &s);
    *simul = s;
    return rc;
}

static void whisper_backend_simul_free(void *simul)
{
    whisper_simul_free(simul);
}

static int whisper_backend_simul_update(void *simul, const asr_simul_call *call, asr_simul_out *out)
{
    return whisper_simul_update(simul, call, out);
}

static int whisper_backend_simul_drop(void *simul, size_t n_samples)
{
    return whisper_simul_drop(simul, n_samples);
}

static void whisper_backend_simul_reset(void *simul)
{
    whisper_simul_reset(simul);
}

const asr_backend asr_backend_whisper = {
    .name = "whisper",
    .description = "OpenAI Whisper on sotto's own engine (ggml model files from whisper.cpp)",
    .probe = whisper_probe,
    .create = whisper_create,
    .destroy = whisper_destroy,
    .transcribe = whisper_backend_transcribe,
    .stream_new = NULL, /* asr.c's generic stream re-decodes the buffered utterance */
    .simul_new = whisper_backend_simul_new,
    .simul_free = whisper_backend_simul_free,
    .simul_update = whisper_backend_simul_update,
    .simul_drop = whisper_backend_simul_drop,
    .simul_reset = whisper_backend_simul_reset,
    .runner_new = whisper_backend_runner_new,
    .runner_free = whisper_backend_runner_free,
    .runner_transcribe = whisper_backend_runner_transcribe,
};
