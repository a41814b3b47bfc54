/*
 * listen_msg.c - the pure parts of the /v1/listen WebSocket endpoint: stream parameters
 * (query string or the first {"type":"start"} message), control messages, binary audio
 * frames into float samples, a streaming windowed-sinc resampler to 16 kHz, and error
 * events as JSON (stream events are sotto_stream_event_json, src/stream/event_json.c).
 * No sockets or threads here (listen.c and listen_conn.c have those), so all of it is
 * unit tested (tests/unit/test_listen.c) and fuzzed (tests/fuzz/fuzz_listen_msg.c).
 */
#define _GNU_SOURCE /* M_PI */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "base/json_int.h"
#include "server/listen_msg.h"
#include "sotto/audio.h"
#include "sotto/json.h"

void listen_params_init(listen_params *p)
{
    memset(p, 0, sizeof *p);
    p->policy = SOTTO_POLICY_AUTO;
    p->format = LISTEN_S16LE;
    p->sample_rate = 16000;
}

void listen_params_clear(listen_params *p)
{
    free(p->prompt);
    free(p->terms);
    p->prompt = p->terms = NULL;
}

/* Copy a short value into a fixed field: printable ASCII only, so it can go into ids,
 * logs and messages without escaping surprises. */
static int put_word(char *dst, size_t size, const char *key, const char *v, size_t n)
{
    if (n >= size)
        return error_set(SOTTO_EINVAL, "'%s' is too long (at most %zu bytes)", key, size - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 127)
            return error_set(SOTTO_EINVAL, "'%s' must be printable ASCII without spaces", key);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

/* Free text (prompt, terms): valid UTF-8 without NUL, bounded. */
static int put_text(char **dst, const char *key, const char *v, size_t n)
{
    if (n > LISTEN_MAX_TEXT)
        return error_set(SOTTO_EINVAL, "'%s' is too long (at most %d bytes)", key, LISTEN_MAX_TEXT);
    if (memchr(v, '\0', n) || !json_utf8_valid(v, n))
        return error_set(SOTTO_EINVAL, "'%s' must be UTF-8 text", key);
    char *s = malloc(n + 1);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory");
    memcpy(s, v, n);
    s[n] = '\0';
    free(*dst);
    *dst = n ? s : NULL;
    if (!n)
        free(s);
    return 0;
}

static int is(const char *key, const char *a, const char *b)
{
    return !strcmp(key, a) || (b && !strcmp(key, b));
}

int listen_params_set(listen_params *p, const char *key, const char *v, size_t n)
{
    char w[64];
    if (is(key, "model", "backend"))
        return put_word(p->model, sizeof p->model, key, v, n);
    if (is(key, "language", NULL))
        return put_word(p->language, sizeof p->language, key, v, n);
    if (is(key, "session_id", "session"))
        return put_word(p->session_id, sizeof p->session_id, key, v, n);
    if (is(key, "domain", NULL)) {
        int rc = put_word(p->domain, sizeof p->domain, key, v, n);
        const char *terms;
        if (!rc && p->domain[0] && sotto_stream_domain_terms(p->domain, &terms) != 0)
            rc = SOTTO_EINVAL; /* the message lists the domains */
        if (rc)
            p->domain[0] = '\0';
        return rc;
    }
    if (is(key, "prompt", NULL))
        return put_text(&p->prompt, key, v, n);
    if (is(key, "terms", NULL))
        return put_text(&p->terms, key, v, n);
    int rc = put_word(w, sizeof w, key, v, n);
    if (rc)
        return rc;
    if (is(key, "task", NULL)) {
        if (strcmp(w, "transcribe") && strcmp(w, "translate"))
            return error_set(SOTTO_EINVAL, "'task' must be transcribe or translate");
        p->translate = !strcmp(w, "translate");
        return 0;
    }
    if (is(key, "policy", NULL))
        return sotto_stream_policy_parse(w, &p->policy);
    if (is(key, "format", "sample_format")) {
        if (!strcmp(w, "s16le"))
            p->format = LISTEN_S16LE;
        else if (!strcmp(w, "f32le"))
            p->format = LISTEN_F32LE;
        else
            return error_set(SOTTO_EINVAL, "'%s' must be s16le or f32le", key);
        return 0;
    }
    if (is(key, "sample_rate", "rate")) {
        char *end;
        long r = strtol(w, &end, 10);
        if (!w[0] || *end || r < LISTEN_MIN_RATE || r > LISTEN_MAX_RATE)
            return error_set(SOTTO_EINVAL, "'%s' must be an integer from %d to %d Hz", key,
                             LISTEN_MIN_RATE, LISTEN_MAX_RATE);
        p->sample_rate = (int)r;
        return 0;
    }
    if (is(key, "early_commit", NULL)) {
        if (strcmp(w, "0") && strcmp(w, "1") && strcmp(w, "true") && strcmp(w, "false"))
            return error_set(SOTTO_EINVAL, "'early_commit' must be 1 or 0");
        p->early_commit = !strcmp(w, "1") || !strcmp(w, "true");
        return 0;
    }
    if (is(key, "encoding", NULL)) {
        if (strcmp(w, "json") && strcmp(w, "msgpack"))
            return error_set(SOTTO_EINVAL, "'encoding' must be json or msgpack");
        p->msgpack = !strcmp(w, "msgpack");
        return 0;
    }
    return error_set(SOTTO_EINVAL, "unknown parameter '%.40s' (model, language, task, policy, "
                                   "format, sample_rate, session_id, prompt, domain, terms, encoding)",
                     key);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent/plus-decode src[0..n) into dst (at least n+1 bytes); returns the length or -1. */
static long url_decode(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == '+') {
            dst[o++] = ' ';
        } else if (src[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    dst[o] = '\0';
    return (long)o;
}

int listen_params_from_query(listen_params *p, const char *query, const char *const *skip)
{
    if (!query)
        return 0;
    size_t qlen = strlen(query);
    if (qlen > 3 * LISTEN_MAX_TEXT + 4096)
        return error_set(SOTTO_EINVAL, "the query string is too long");
    char *key = malloc(qlen + 1), *val = malloc(qlen + 1);
    if (!key || !val) {
        free(key);
        free(val);
        return error_set(SOTTO_ENOMEM, "out of memory");
    }
    int rc = 0;
    const char *s = query;
    while (*s && !rc) {
        size_t len = strcspn(s, "&");
        const char *eq = memchr(s, '=', len);
        size_t kl = eq ? (size_t)(eq - s) : len;
        if (len > 0) {
            long k = url_decode(s, kl, key);
            long v = eq ? url_decode(eq + 1, len - kl - 1, val) : 0;
            if (!eq)
                val[0] = '\0';
            if (k < 0 || v < 0 || (size_t)k != strlen(key)) {
                rc = error_set(SOTTO_EINVAL, "malformed query string");
                break;
            }
            int skipped = 0;
            for (size_t i = 0; skip && skip[i]; i++)
                skipped |= !strcmp(key, skip[i]);
            if (!skipped)
                rc = listen_params_set(p, key, val, (size_t)v);
        }
        s += len;
        if (*s == '&')
            s++;
    }
    free(key);
    free(val);
    return rc;
}

static const struct {
    const char *name;
    listen_msg_type type;
} msg_types[] = {{"start", LISTEN_MSG_START},
                 {"flush", LISTEN_MSG_FLUSH},
                 {"stop", LISTEN_MSG_STOP},
                 {"ping", LISTEN_MSG_PING}};

int listen_msg_parse(const char *text, size_t len, listen_params *params, listen_msg *out)
{
    memset(out, 0, sizeof *out);
    if (len > LISTEN_MAX_CONTROL)
        return error_set(SOTTO_EINVAL, "control message too long (at most %d bytes)", LISTEN_MAX_CONTROL);
    sotto_json_limits lim = {8, 1000};
    sotto_json *root;
    int rc = sotto_json_parse(text, len, &lim, &root);
    if (rc)
        return error_set(SOTTO_EINVAL, "invalid control message: %s", sotto_last_error());
    if (sotto_json_type_of(root) != SOTTO_JSON_OBJECT) {
        sotto_json_free(root);
        return error_set(SOTTO_EINVAL, "a control message is a JSON object with a \"type\"");
    }
    const sotto_json *t = sotto_json_get(root, "type");
    const char *ts = sotto_json_string(t, NULL);
    if (!ts) {
        sotto_json_free(root);
        return error_set(SOTTO_EINVAL, "a control message needs a string \"type\" "
                                       "(start, flush, stop, ping)");
    }
    for (size_t i = 0; i < sizeof msg_types / sizeof msg_types[0]; i++)
        if (sotto_json_string_len(t) == strlen(msg_types[i].name) && !strcmp(ts, msg_types[i].name))
            out->type = msg_types[i].type;
    if (!out->type) {
        rc = error_set(SOTTO_EINVAL, "unknown message type '%.32s' (start, flush, stop, ping)", ts);
        sotto_json_free(root);
        return rc;
    }
    if (out->type == LISTEN_MSG_PING) {
        const sotto_json *id = sotto_json_get(root, "id");
        if (sotto_json_type_of(id) == SOTTO_JSON_STRING && sotto_json_string_len(id) < sizeof out->id &&
            strlen(sotto_json_string(id, "")) == sotto_json_string_len(id))
            snprintf(out->id, sizeof out->id, "%s", sotto_json_string(id, ""));
        else if (sotto_json_type_of(id) == SOTTO_JSON_NUMBER)
            snprintf(out->id, sizeof out->id, "%.17g", sotto_json_number(id, 0));
    }
    if (out->type == LISTEN_MSG_START && params) {
        size_t n = sotto_json_len(root);
        for (size_t i = 0; i < n && !rc; i++) {
            const char *key = sotto_json_key(root, i);
            const sotto_json *v = sotto_json_at(root, i);
            if (!strcmp(key, "type"))
                continue;
            char num[32];
            const char *val;
            size_t vl;
            switch (sotto_json_type_of(v)) {
            case SOTTO_JSON_STRING:
                val = sotto_json_string(v, "");
                vl = sotto_json_string_len(v);
                break;
            case SOTTO_JSON_NUMBER: {
                int64_t x;
                if (sotto_json_int(v, key, INT32_MIN, INT32_MAX, &x)) {
                    rc = SOTTO_EINVAL;
                    continue;
                }
                snprintf(num, sizeof num, "%lld", (long long)x);
                val = num;
                vl = strlen(num);
                break;
            }
            case SOTTO_JSON_TRUE:
            case SOTTO_JSON_FALSE:
                val = sotto_json_type_of(v) == SOTTO_JSON_TRUE ? "true" : "false";
                vl = strlen(val);
                break;
            case SOTTO_JSON_NULL:
                continue; /* null = keep the default / the query's value */
            default:
                rc = error_set(SOTTO_EINVAL, "'%.40s' must be a string, number or boolean", key);
                continue;
            }
            rc = listen_params_set(params, key, val, vl);
        }
    }
    sotto_json_free(root);
    return rc;
}

int listen_pcm_convert(listen_format f, const void *data, size_t len, float **out, size_t *cap,
                       size_t *n)
{
    *n = 0;
    size_t bps = f == LISTEN_F32LE ? 4 : 2;
    if (len % bps)
        return error_set(SOTTO_EINVAL, "%s frames must hold whole samples (%zu bytes is not a "
                                       "multiple of %zu)",
                         f == LISTEN_F32LE ? "f32le" : "s16le", len, bps);
    size_t ns = len / bps;
    if (ns > *cap) {
        float *g = realloc(*out, ns * sizeof *g);
        if (!g)
            return error_set(SOTTO_ENOMEM, "out of memory");
        *out = g;
        *cap = ns;
    }
    const uint8_t *b = data;
    float *o = *out;
    for (size_t i = 0; i < ns; i++) {
        if (f == LISTEN_S16LE) {
            int16_t v = (int16_t)((uint16_t)b[2 * i] | (uint16_t)b[2 * i + 1] << 8);
            o[i] = (float)v / 32768.0f;
        } else {
            uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                         (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
            float v;
            memcpy(&v, &u, 4);
            if (!isfinite(v))
                return error_set(SOTTO_EINVAL, "f32le sample %zu is not a finite number", i);
            o[i] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
        }
    }
    *n = ns;
    return 0;
}

/* ---- resampler ----------------------------------------------------------------------- */
/* Kernel: sinc with a Blackman window over LISTEN_ZEROS zero crossings on each side,
 * tabulated at KTAB_RES points per crossing (linear interpolation in between). */
#define LISTEN_ZEROS 16
#define KTAB_RES 256
static float ktab[LISTEN_ZEROS * KTAB_RES + 2];
static pthread_once_t ktab_once = PTHREAD_ONCE_INIT;

static void ktab_init(void)
{
    for (int i = 0; i <= LISTEN_ZEROS * KTAB_RES + 1; i++) {
        double x = (double)i / KTAB_RES; /* in zero crossings */
        double s = x == 0 ? 1.0 : sin(M_PI * x) / (M_PI * x);
        double u = x / LISTEN_ZEROS;     /* 0..1 across the half window */
        double w = u >= 1 ? 0 : 0.42 + 0.5 * cos(M_PI * u) + 0.08 * cos(2 * M_PI * u);
        ktab[i] = (float)(s * w);
    }
}

static double kernel(double x)
{
    x = fabs(x) * KTAB_RES;
    if (x >= LISTEN_ZEROS * KTAB_RES)
        return 0;
    int i = (int)x;
    double f = x - i;
    return ktab[i] + (ktab[i + 1] - ktab[i]) * f;
}

int listen_resampler_init(listen_resampler *r, int in_rate)
{
    memset(r, 0, sizeof *r);
    if (in_rate < LISTEN_MIN_RATE || in_rate > LISTEN_MAX_RATE)
        return error_set(SOTTO_EINVAL, "sample rate %d Hz is out of range", in_rate);
    pthread_once(&ktab_once, ktab_init);
    r->in_rate = in_rate;
    /* cutoff a little below the lower Nyquist rate so the transition band does not fold */
    r->fc = (in_rate > SOTTO_SAMPLE_RATE ? (double)SOTTO_SAMPLE_RATE / in_rate : 1.0) * 0.94;
    r->half = (int)ceil(LISTEN_ZEROS / r->fc) + 1;
    return 0;
}

void listen_resampler_free(listen_resampler *r)
{
    free(r->hist);
    memset(r, 0, sizeof *r);
}

static int grow(float **p, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    float *g = realloc(*p, nc * sizeof *g);
    if (!g)
        return error_set(SOTTO_ENOMEM, "out of memory");
    *p = g;
    *cap = nc;
    return 0;
}

int listen_resampler_run(listen_resampler *r, const float *in, size_t n, int flush, float **out,
                         size_t *cap, size_t *n_out)
{
    *n_out = 0;
    if (r->in_rate == SOTTO_SAMPLE_RATE) { /* nothing to do */
        if (grow(out, cap, n))
            return SOTTO_ENOMEM;
        if (n)
            memcpy(*out, in, n * sizeof *in);
        *n_out = n;
        r->n_in += (int64_t)n;
        r->n_out += (int64_t)n;
        return 0;
    }
    size_t pad = flush ? (size_t)r->half + 1 : 0;
    if (grow(&r->hist, &r->cap_hist, r->n_hist + n + pad))
        return SOTTO_ENOMEM;
    if (n)
        memcpy(r->hist + r->n_hist, in, n * sizeof *in);
    memset(r->hist + r->n_hist + n, 0, pad * sizeof *in);
    r->n_hist += n + pad;
    r->n_in += (int64_t)n;
    int64_t end = r->hist_base + (int64_t)r->n_hist; /* absolute index past the last sample */
    /* output k sits at input position k * in_rate / 16000; it needs inputs up to pos+half.
     * At a flush, outputs stop at the real input's end (n_in samples). */
    int64_t last_out = flush ? (r->n_in * SOTTO_SAMPLE_RATE + r->in_rate - 1) / r->in_rate : INT64_MAX;
    for (;;) {
        int64_t k = r->n_out;
        if (k >= last_out)
            break;
        int64_t num = k * r->in_rate;
        int64_t ip = num / SOTTO_SAMPLE_RATE;
        double frac = (double)(num % SOTTO_SAMPLE_RATE) / SOTTO_SAMPLE_RATE;
        if (ip + r->half >= end)
            break;
        if (grow(out, cap, *n_out + 1))
            return SOTTO_ENOMEM;
        double acc = 0;
        for (int64_t j = ip - r->half + 1; j <= ip + r->half; j++) {
            if (j < r->hist_base)
                continue; /* before the first sample: zeros */
            double x = r->hist[j - r->hist_base];
            acc += x * kernel(((double)(j - ip) - frac) * r->fc);
        }
        (*out)[(*n_out)++] = (float)(acc * r->fc);
        r->n_out++;
    }
    /* keep only what the next output can still need */
    int64_t next_ip = r->n_out * r->in_rate / SOTTO_SAMPLE_RATE;
    int64_t keep_from = next_ip - r->half + 1;
    if (keep_from > r->hist_base) {
        size_t drop = (size_t)(keep_from - r->hist_base);
        if (drop > r->n_hist)
            drop = r->n_hist;
        memmove(r->hist, r->hist + drop, (r->n_hist - drop) * sizeof *r->hist);
        r->n_hist -= drop;
        r->hist_base += (int64_t)drop;
    }
    if (flush) { /* the zero padding is not input: forget it */
        int64_t real_end = r->n_in;
        if (real_end - r->hist_base < (int64_t)r->n_hist)
            r->n_hist = real_end > r->hist_base ? (size_t)(real_end - r->hist_base) : 0;
    }
    return 0;
}

/* ---- errors ------------------------------------------------------------------------- */
int listen_error_json(sotto_buf *b, const char *code, const char *message)
{
    sotto_buf_puts(b, "{\"type\":\"error\",\"code\":");
    sotto_buf_json_string(b, code);
    sotto_buf_puts(b, ",\"message\":");
    sotto_buf_json_string(b, message ? message : "");
    return sotto_buf_putc(b, '}');
}
