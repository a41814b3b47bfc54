/*
 * event_msgpack.c - a stream event as one MessagePack map: the binary frame GET /v1/listen
 * sends with encoding=msgpack (src/server/listen.c). Same keys, order, values and nesting
 * as sotto_stream_event_json (event_json.c), so a client decodes either into the same
 * object; times are float64 at full precision instead of JSON's 3 decimals.
 *
 * Also the MessagePack writers themselves (spec: github.com/msgpack/msgpack/blob/master/
 * spec.md), each value in its smallest form; the server uses them for ready/error/pong/
 * done. Owns nothing: it only appends to the caller's buffer.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"
#include "base/json_int.h"
#include "sotto/buf.h"
#include "sotto/stream.h"
#include "stream/event_msgpack.h"

/* ---- writers ---------------------------------------------------------------------------- */
/* A type byte followed by n big-endian bytes of v (n = 0, 1, 2, 4 or 8). */
static int put_be(sotto_buf *b, uint8_t type, uint64_t v, int n)
{
    unsigned char t[9];
    t[0] = type;
    for (int i = 0; i < n; i++)
        t[1 + i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    return sotto_buf_append(b, t, (size_t)n + 1);
}

/* A container or string header: fix form up to fix_max, then 8/16/32-bit lengths (the 8-bit
 * one only exists for strings: t8 = 0 means none). */
static int put_len(sotto_buf *b, uint32_t n, uint8_t fix, uint32_t fix_max, uint8_t t8, uint8_t t16,
                   uint8_t t32)
{
    if (n <= fix_max)
        return put_be(b, (uint8_t)(fix | n), 0, 0);
    if (t8 && n <= 0xff)
        return put_be(b, t8, n, 1);
    if (n <= 0xffff)
        return put_be(b, t16, n, 2);
    return put_be(b, t32, n, 4);
}

int msgpack_put_map(sotto_buf *b, uint32_t n_pairs) { return put_len(b, n_pairs, 0x80, 15, 0, 0xde, 0xdf); }

int msgpack_put_array(sotto_buf *b, uint32_t n) { return put_len(b, n, 0x90, 15, 0, 0xdc, 0xdd); }

int msgpack_put_nil(sotto_buf *b) { return put_be(b, 0xc0, 0, 0); }

int msgpack_put_bool(sotto_buf *b, int v) { return put_be(b, v ? 0xc3 : 0xc2, 0, 0); }

int msgpack_put_int(sotto_buf *b, int64_t v)
{
    if (v >= 0) {
        uint64_t u = (uint64_t)v;
        if (u <= 0x7f)
            return put_be(b, (uint8_t)u, 0, 0); /* positive fixint */
        if (u <= 0xff)
            return put_be(b, 0xcc, u, 1);
        if (u <= 0xffff)
            return put_be(b, 0xcd, u, 2);
        if (u <= 0xffffffffu)
            return put_be(b, 0xce, u, 4);
        return put_be(b, 0xcf, u, 8);
    }
    if (v >= -32)
        return put_be(b, (uint8_t)(0xe0 | (uint8_t)(v + 32)), 0, 0); /* negative fixint */
    if (v >= INT8_MIN)
        return put_be(b, 0xd0, (uint64_t)v & 0xff, 1);
    if (v >= INT16_MIN)
        return put_be(b, 0xd1, (uint64_t)v & 0xffff, 2);
    if (v >= INT32_MIN)
        return put_be(b, 0xd2, (uint64_t)v & 0xffffffffu, 4);
    return put_be(b, 0xd3, (uint64_t)v, 8);
}

int msgpack_put_float(sotto_buf *b, double v)
{
    if (!isfinite(v))
        return msgpack_put_nil(b); /* JSON's null, so both encodings say "no value" */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return put_be(b, 0xcb, bits, 8);
}

/* Bytes s takes once every invalid UTF-8 byte is replaced by U+FFFD (3 bytes). */
static size_t utf8_clean_len(const unsigned char *s, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n;) {
        size_t k = json_utf8_seq_len(s + i, n - i);
        out += k ? k : 3;
        i += k ? k : 1;
    }
    return out;
}

int msgpack_put_str(sotto_buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    size_t clean = utf8_clean_len(s, n);
    if ((uint64_t)clean > UINT32_MAX) {
        b->failed = 1; /* as a failed append: the map it belongs to is incomplete */
        return error_set(SOTTO_ENOMEM, "msgpack: a string of %zu bytes is too long", clean);
    }
    int rc = put_len(b, (uint32_t)clean, 0xa0, 31, 0xd9, 0xda, 0xdb);
    if (rc || clean == n)
        return rc ? rc : sotto_buf_append(b, s, n);
    for (size_t i = 0; i < n && !rc;) {
        size_t k = json_utf8_seq_len(s + i, n - i);
        rc = k ? sotto_buf_append(b, s + i, k) : sotto_buf_append(b, "\xEF\xBF\xBD", 3);
        i += k ? k : 1;
    }
    return rc;
}

/* ---- events ------------------------------------------------------------------------------- */
/* Every map below is a run of writes checked only at its end: the buffer's failure is
 * sticky (sotto/buf.h), so the last write's result says whether the whole map was written. */
static int kv_str(sotto_buf *b, const char *key, const char *v)
{
    msgpack_put_str(b, key);
    return msgpack_put_str(b, v ? v : "");
}

static int kv_float(sotto_buf *b, const char *key, double v)
{
    msgpack_put_str(b, key);
    return msgpack_put_float(b, v);
}

static int kv_int(sotto_buf *b, const char *key, int64_t v)
{
    msgpack_put_str(b, key);
    return msgpack_put_int(b, v);
}

static int kv_bool(sotto_buf *b, const char *key, int v)
{
    msgpack_put_str(b, key);
    return msgpack_put_bool(b, v);
}

static int put_words(sotto_buf *b, const sotto_stream_event *ev, double offset_s)
{
    if ((uint64_t)ev->n_words > UINT32_MAX) {
        b->failed = 1;
        return error_set(SOTTO_EINVAL, "msgpack: too many words (%zu)", ev->n_words);
    }
    msgpack_put_str(b, "words");
    int rc = msgpack_put_array(b, (uint32_t)ev->n_words);
    for (size_t i = 0; i < ev->n_words && !rc; i++) {
        const sotto_word *w = &ev->words[i];
        const char *txt = w->word ? w->word : "";
        while (*txt == ' ')
            txt++; /* Whisper's leading space is tokenization, not text (as in JSON) */
        msgpack_put_map(b, 4);
        kv_str(b, "word", txt);
        kv_float(b, "start", w->start + offset_s);
        kv_float(b, "end", w->end + offset_s);
        rc = kv_float(b, "p", w->probability);
    }
    return rc;
}

static int put_stats(sotto_buf *b, const sotto_stream_stats *s)
{
    msgpack_put_map(b, 12);
    kv_str(b, "type", "stats");
    kv_float(b, "latency_s", s->latency_s);
    kv_float(b, "rtf", s->rtf);
    kv_float(b, "buffered_s", s->buffered_s);
    kv_float(b, "backlog_s", s->backlog_s);
    kv_float(b, "audio_s", s->audio_s);
    kv_float(b, "voiced_s", s->voiced_s);
    kv_float(b, "compute_s", s->compute_s);
    kv_bool(b, "degraded", s->degraded);
    kv_bool(b, "shedding", s->shedding);
    kv_int(b, "updates", s->updates);
    return kv_int(b, "updates_no_vad", s->updates_no_vad);
}

int sotto_stream_event_msgpack(const sotto_stream_event *ev, double offset_s, sotto_buf *out)
{
    if (!ev || !out)
        return error_set(SOTTO_EINVAL, "stream event msgpack: NULL argument");
    sotto_buf *b = out;
    switch (ev->type) {
    case SOTTO_STREAM_SPEECH_START:
    case SOTTO_STREAM_SPEECH_END:
        msgpack_put_map(b, 2);
        kv_str(b, "type", ev->type == SOTTO_STREAM_SPEECH_START ? "speech_start" : "speech_end");
        return kv_float(b, "t", ev->t + offset_s);
    case SOTTO_STREAM_PARTIAL:
        msgpack_put_map(b, 4);
        kv_str(b, "type", "partial");
        kv_str(b, "text", ev->text);
        kv_float(b, "start", ev->start + offset_s);
        return kv_float(b, "end", ev->end + offset_s);
    case SOTTO_STREAM_FINAL:
        msgpack_put_map(b, 7);
        kv_str(b, "type", "final");
        kv_int(b, "segment_id", ev->segment_id);
        kv_str(b, "text", ev->text);
        kv_float(b, "start", ev->start + offset_s);
        kv_float(b, "end", ev->end + offset_s);
        put_words(b, ev, offset_s);
        return kv_str(b, "language", ev->language);
    case SOTTO_STREAM_STATS:
        if (!ev->stats)
            return error_set(SOTTO_EINVAL, "stats event without figures");
        return put_stats(b, ev->stats);
    default:
        return error_set(SOTTO_EINVAL, "unknown stream event %d", (int)ev->type);
    }
}
