/*
 * decode_filters.c - the logit filters openai-whisper applies before every choice, in
 * its order: suppress blank (first position), suppress tokens (non-speech symbols and
 * control tokens), timestamp rules (pairs, monotonic, initial limit, probability mass).
 * Filters only write -INFINITY into a logits row; they never renormalise.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "base/base_int.h"

typedef struct idset {
    int32_t *ids;
    size_t n, cap;
} idset;

static int idset_add(idset *s, int32_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        int32_t *p = realloc(s->ids, cap * sizeof *p);
        if (!p)
            return error_set(SOTTO_ENOMEM, "out of memory (suppress set)");
        s->ids = p, s->cap = cap;
    }
    s->ids[s->n++] = id;
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort and drop duplicates. */
static void idset_finish(idset *s)
{
    if (!s->n)
        return;
    qsort(s->ids, s->n, sizeof *s->ids, cmp_i32);
    size_t k = 1;
    for (size_t i = 1; i < s->n; i++)
        if (s->ids[i] != s->ids[k - 1])
            s->ids[k++] = s->ids[i];
    s->n = k;
}

/* Add the first token of text (only when it is the only token, unless always). */
static int add_encoded(const whisper_tokenizer *tk, idset *s, const char *text, int always)
{
    int32_t *ids;
    size_t n;
    int rc = whisper_tokenize(tk, text, &ids, &n);
    if (rc)
        return rc;
    if (n == 1 || (always && n > 0))
        rc = idset_add(s, ids[0]);
    free(ids);
    return rc;
}

int whisper_default_suppress(const whisper_tokenizer *tk, int32_t **out, size_t *n_out)
{
    static const char *const SYMBOLS[] = {
        "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]",
        "^", "_", "`", "{", "|", "}", "~", "\xE3\x80\x8C", "\xE3\x80\x8D", "\xE3\x80\x8E",
        "\xE3\x80\x8F", "<<", ">>", "<<<", ">>>", "--", "---", "-(", "-[", "('", "(\"", "((",
        "))", "(((", ")))", "[[", "]]", "{{", "}}", "\xE2\x99\xAA\xE2\x99\xAA",
        "\xE2\x99\xAA\xE2\x99\xAA\xE2\x99\xAA",
    };
    /* the music symbols ♩♪♫♬♭♮♯: their first token is suppressed even when they split */
    static const char *const MISC[] = {
        "\xE2\x99\xA9", "\xE2\x99\xAA", "\xE2\x99\xAB", "\xE2\x99\xAC",
        "\xE2\x99\xAD", "\xE2\x99\xAE", "\xE2\x99\xAF",
    };
    idset s = {0};
    char buf[32];
    int rc = add_encoded(tk, &s, " -", 1);
    if (!rc)
        rc = add_encoded(tk, &s, " '", 1);
    for (size_t i = 0; !rc && i < sizeof SYMBOLS / sizeof SYMBOLS[0]; i++) {
        rc = add_encoded(tk, &s, SYMBOLS[i], 0);
        snprintf(buf, sizeof buf, " %s", SYMBOLS[i]);
        if (!rc)
            rc = add_encoded(tk, &s, buf, 0);
    }
    for (size_t i = 0; !rc && i < sizeof MISC / sizeof MISC[0]; i++) {
        rc = add_encoded(tk, &s, MISC[i], 1);
        snprintf(buf, sizeof buf, " %s", MISC[i]);
        if (!rc)
            rc = add_encoded(tk, &s, buf, 1);
    }
    if (rc) {
        free(s.ids);
        return rc;
    }
    idset_finish(&s);
    *out = s.ids;
    *n_out = s.n;
    return 0;
}

int whisper_suppress_set(const whisper_tokenizer *tk, const whisper_decode_opts *o, int32_t **out,
                         size_t *n_out)
{
    const whisper_special *sp = whisper_tokenizer_special(tk);
    idset s = {0};
    int rc = 0;
    if (!o->suppress) {
        rc = whisper_default_suppress(tk, &s.ids, &s.n);
        s.cap = s.n;
    } else {
        for (size_t i = 0; !rc && i < o->n_suppress; i++)
            if (o->suppress[i] >= 0 && o->suppress[i] < whisper_tokenizer_n_vocab(tk))
                rc = idset_add(&s, o->suppress[i]);
    }
    const int32_t always[] = {sp->transcribe, sp->translate, sp->sot, sp->startofprev, sp->startoflm,
                              sp->nospeech};
    for (size_t i = 0; !rc && i < sizeof always / sizeof always[0]; i++)
        rc = idset_add(&s, always[i]);
    if (rc) {
        free(s.ids);
        return rc;
    }
    idset_finish(&s);
    *out = s.ids;
    *n_out = s.n;
    return 0;
}

void whisper_filter_suppress(const int32_t *ids, size_t n, float *logits, int32_t n_vocab)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < n_vocab)
            logits[ids[i]] = -INFINITY;
}

void whisper_filter_blank(const whisper_tokenizer *tk, float *logits)
{
    int32_t *ids;
    size_t n;
    if (whisper_tokenize(tk, " ", &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            logits[ids[i]] = -INFINITY;
        free(ids);
    }
    logits[whisper_tokenizer_special(tk)->eot] = -INFINITY;
}

/* log(sum(exp(x))) over [a, b), -INFINITY when all are -INFINITY. */
static double logsumexp(const float *x, int32_t a, int32_t b)
{
    float m = -INFINITY;
    for (int32_t i = a; i < b; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY)
        return -INFINITY;
    double s = 0;
    for (int32_t i = a; i < b; i++)
        s += exp((double)x[i] - m);
    return m + log(s);
}

static void fill(float *logits, int32_t a, int32_t b)
{
    for (int32_t i = a; i < b; i++)
        logits[i] = -INFINITY;
}

void whisper_filter_timestamps(const whisper_special *sp, int32_t n_vocab, const int32_t *sampled,
                               size_t n_sampled, int max_initial_index, float *logits)
{
    const int32_t tb = sp->timestamp_begin;
    logits[sp->notimestamps] = -INFINITY;

    /* timestamps come in pairs, except directly before eot */
    int last_ts = n_sampled >= 1 && sampled[n_sampled - 1] >= tb;
    int penult_ts = n_sampled < 2 || sampled[n_sampled - 2] >= tb;
    if (last_ts) {
        if (penult_ts)
            fill(logits, tb, n_vocab); /* a pair just closed (or started): text next */
        else
            fill(logits, 0, sp->eot); /* an open pair: a timestamp or eot next */
    }

    /* timestamps never decrease; after a closed pair they strictly increase, which
     * keeps every segment non-empty */
    int32_t last_time = -1;
    for (size_t i = n_sampled; i-- > 0;)
        if (sampled[i] >= tb) {
            last_time = sampled[i];
            break;
        }
    if (last_time >= 0) {
        int32_t limit = (last_ts && !penult_ts) ? last_time : last_time + 1;
        fill(logits, tb, limit < n_vocab ? limit : n_vocab);
    }

    if (n_sampled == 0) {
        /* the first token is a timestamp, at most max_initial_index (1.0 s) */
        fill(logits, 0, tb);
        if (max_initial_index >= 0 && (int64_t)tb + max_initial_index + 1 < n_vocab)
            fill(logits, tb + max_initial_index + 1, n_vocab);
    }

    /* when all timestamps together are more likely than any single text token, the
     * next token is a timestamp (compare in log-softmax space: same normaliser) */
    double ts_mass = logsumexp(logits, tb, n_vocab);
    float max_text = -INFINITY;
    for (int32_t i = 0; i < tb; i++)
        if (logits[i] > max_text)
            max_text = logits[i];
    if (ts_mass > (double)max_text)
        fill(logits, 0, tb);
}
