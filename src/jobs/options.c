/*
 * options.c - a job's options: parsing options_json into jobs_opts and checking it.
 *
 * Owns: the list of option keys and their allowed values, the feature list (which ones
 * this build runs, which are refused), the runner's option defaults.
 * Does not: touch the store or recognizers. Unknown keys are ignored so that clients can
 * send options of later versions; wrong types and values of known keys are refused with
 * a message that names the key.
 */
#include <string.h>

#include "base/base_int.h"
#include "jobs/jobs_int.h"
#include "sotto/json.h"
#include "sotto/transcript.h"

#define OPTIONS_MAX_BYTES (64 * 1024)
#define PROMPT_MAX_BYTES 4096

void sotto_jobs_options_init(sotto_jobs_options *o)
{
    SOTTO_ASSERT(o);
    memset(o, 0, sizeof *o);
    o->n_workers = 1;
    o->n_threads = 0;
    o->model = NULL;
    o->max_queue = 100;
    o->poll_s = 0.2;
}

void jobs_opts_free(jobs_opts *o)
{
    if (!o)
        return;
    free(o->model);
    free(o->prompt);
    memset(o, 0, sizeof *o);
}

/* Features a client may ask for, and whether this build runs them. Later work (LLM
 * clean-up, summaries, translation, diarization) flips the refused ones on. */
static const struct {
    const char *name;
    int available;
} features[] = {
    {"raw_transcript", 1}, {"clean_transcript", 0}, {"summary", 0},
    {"translation", 0},    {"diarize", 0},
};

static int check_features(const sotto_json *v)
{
    if (!v)
        return 0;
    if (sotto_json_type_of(v) != SOTTO_JSON_ARRAY)
        return error_set(SOTTO_EINVAL, "option 'features' must be an array of names");
    for (size_t i = 0; i < sotto_json_len(v); i++) {
        const sotto_json *f = sotto_json_at(v, i);
        if (sotto_json_type_of(f) != SOTTO_JSON_STRING)
            return error_set(SOTTO_EINVAL, "option 'features' must be an array of names");
        const char *name = sotto_json_string(f, "");
        size_t k = 0;
        while (k < sizeof features / sizeof features[0] && strcmp(features[k].name, name) != 0)
            k++;
        if (k == sizeof features / sizeof features[0])
            return error_set(SOTTO_EINVAL,
                             "unknown feature '%.64s' (known: raw_transcript, clean_transcript, "
                             "summary, translation, diarize)",
                             name);
        if (!features[k].available)
            return error_set(SOTTO_ENOTSUP, "feature '%s' is not available in this build",
                             features[k].name);
    }
    return 0;
}

/* "formats": an array of names, or one comma-separated string. */
static int parse_formats(const sotto_json *v, unsigned *mask)
{
    *mask = SOTTO_FORMAT_TXT | SOTTO_FORMAT_JSON | SOTTO_FORMAT_SRT | SOTTO_FORMAT_VTT |
            SOTTO_FORMAT_TSV;
    if (!v)
        return 0;
    if (sotto_json_type_of(v) == SOTTO_JSON_STRING) {
        if (sotto_format_parse(sotto_json_string(v, ""), mask) < 0 || *mask == 0)
            return error_set(SOTTO_EINVAL, "option 'formats': '%.64s' is not a list of txt, "
                                           "json, srt, vtt, tsv",
                             sotto_json_string(v, ""));
        return 0;
    }
    if (sotto_json_type_of(v) != SOTTO_JSON_ARRAY)
        return error_set(SOTTO_EINVAL, "option 'formats' must be an array of names "
                                       "(txt, json, srt, vtt, tsv)");
    *mask = 0;
    for (size_t i = 0; i < sotto_json_len(v); i++) {
        const sotto_json *f = sotto_json_at(v, i);
        unsigned one = 0;
        if (sotto_json_type_of(f) != SOTTO_JSON_STRING ||
            sotto_format_parse(sotto_json_string(f, ""), &one) < 0 || one == 0)
            return error_set(SOTTO_EINVAL, "option 'formats': unknown format '%.32s' (known: "
                                           "txt, json, srt, vtt, tsv)",
                             sotto_json_string(f, "?"));
        *mask |= one;
    }
    return 0;
}

/* A string option: NULL when absent, EINVAL when of another type or too long. */
static int get_string(const sotto_json *root, const char *key, size_t max_len, const char **out)
{
    const sotto_json *v = sotto_json_get(root, key);
    *out = NULL;
    if (!v || sotto_json_type_of(v) == SOTTO_JSON_NULL)
        return 0;
    if (sotto_json_type_of(v) != SOTTO_JSON_STRING)
        return error_set(SOTTO_EINVAL, "option '%s' must be a string", key);
    const char *s = sotto_json_string(v, "");
    size_t n = sotto_json_string_len(v);
    if (n != strlen(s))
        return error_set(SOTTO_EINVAL, "option '%s' contains a NUL character", key);
    if (n > max_len)
        return error_set(SOTTO_EINVAL, "option '%s' is too long (%zu bytes; at most %zu)", key,
                         n, max_len);
    *out = s;
    return 0;
}

static int is_backend(const char *name)
{
    sotto_asr_backend_info info;
    for (size_t i = 0; i < sotto_asr_backend_count(); i++)
        if (sotto_asr_backend_info_get(i, &info) == 0 && strcmp(info.name, name) == 0)
            return 1;
    return 0;
}

static int language_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* Everything but the JSON syntax: read each known key into out. */
static int parse_tree(const sotto_jobs *j, const sotto_json *root, jobs_opts *out)
{
    if (sotto_json_type_of(root) != SOTTO_JSON_OBJECT)
        return error_set(SOTTO_EINVAL, "job options must be a JSON object");
    const char *backend, *model, *language, *prompt, *task;
    int rc;
    if ((rc = get_string(root, "backend", 15, &backend)) < 0 ||
        (rc = get_string(root, "model", 4096, &model)) < 0 ||
        (rc = get_string(root, "language", 15, &language)) < 0 ||
        (rc = get_string(root, "prompt", PROMPT_MAX_BYTES, &prompt)) < 0 ||
        (rc = get_string(root, "task", 15, &task)) < 0)
        return rc;

    if (!model || !*model)
        model = j ? j->default_model : NULL;
    if (!backend || !*backend)
        backend = model && *model ? "whisper" : "sphinx";
    if (!is_backend(backend))
        return error_set(SOTTO_EINVAL, "unknown backend '%s' (available: sphinx, whisper)",
                         backend);
    snprintf(out->backend, sizeof out->backend, "%s", backend);
    if (strcmp(backend, "whisper") == 0) {
        if (!model || !*model)
            return error_set(SOTTO_EINVAL, "backend 'whisper' needs a model file (option "
                                           "'model', or the server's --model)");
        if (!(out->model = str_dup(model)))
            return error_set(SOTTO_ENOMEM, "out of memory reading job options");
    }
    if (language && *language) {
        if (!language_ok(language))
            return error_set(SOTTO_EINVAL, "option 'language': '%s' is not a language code",
                             language);
        snprintf(out->language, sizeof out->language, "%s", language);
    }
    if (prompt && *prompt && !(out->prompt = str_dup(prompt)))
        return error_set(SOTTO_ENOMEM, "out of memory reading job options");
    if (task && strcmp(task, "transcribe") != 0) {
        if (strcmp(task, "translate") != 0)
            return error_set(SOTTO_EINVAL,
                             "option 'task' must be 'transcribe' or 'translate' (got '%s')", task);
        if (strcmp(out->backend, "whisper") != 0)
            return error_set(SOTTO_ENOTSUP, "task 'translate' needs the whisper backend "
                                            "(give a Whisper model)");
        out->translate = 1;
    }

    const sotto_json *v = sotto_json_get(root, "temperature");
    if (v && sotto_json_type_of(v) != SOTTO_JSON_NULL) {
        if (sotto_json_type_of(v) != SOTTO_JSON_NUMBER)
            return error_set(SOTTO_EINVAL, "option 'temperature' must be a number in [0, 1]");
        out->temperature = sotto_json_number(v, 0.0);
        if (!(out->temperature >= 0.0 && out->temperature <= 1.0))
            return error_set(SOTTO_EINVAL, "option 'temperature' must be in [0, 1] (got %g)",
                             out->temperature);
    }
    v = sotto_json_get(root, "word_timestamps");
    if (v && sotto_json_type_of(v) != SOTTO_JSON_NULL) {
        if (sotto_json_type_of(v) != SOTTO_JSON_TRUE && sotto_json_type_of(v) != SOTTO_JSON_FALSE)
            return error_set(SOTTO_EINVAL, "option 'word_timestamps' must be true or false");
        out->word_timestamps = sotto_json_bool(v, 0);
    }
    if ((rc = parse_formats(sotto_json_get(root, "formats"), &out->formats)) < 0)
        return rc;
    return check_features(sotto_json_get(root, "features"));
}

int jobs_opts_parse(const sotto_jobs *j, const char *options_json, jobs_opts *out)
{
    SOTTO_ASSERT(out);
    memset(out, 0, sizeof *out);
    if (!options_json || !*options_json)
        options_json = "{}";
    size_t len = strlen(options_json);
    if (len > OPTIONS_MAX_BYTES)
        return error_set(SOTTO_EINVAL, "job options are too long (%zu bytes; at most %d)", len,
                         OPTIONS_MAX_BYTES);
    sotto_json *root = NULL;
    int rc = sotto_json_parse(options_json, len, NULL, &root);
    if (rc < 0) {
        /* copy first: error_set formats into the buffer sotto_last_error() points at */
        char why[512];
        snprintf(why, sizeof why, "%s", sotto_last_error());
        return error_set(SOTTO_EINVAL, "job options: %s", why);
    }
    rc = parse_tree(j, root, out);
    sotto_json_free(root);
    if (rc < 0)
        jobs_opts_free(out);
    return rc;
}

int sotto_jobs_validate_options(const sotto_jobs *j, const char *options_json)
{
    jobs_opts o;
    int rc = jobs_opts_parse(j, options_json, &o);
    if (rc == 0)
        jobs_opts_free(&o);
    return rc;
}
