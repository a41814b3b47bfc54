/*
 * event_json.c - a stream event as one JSON object: the text frame GET /v1/listen sends
 * (src/server/listen.c) and the line `sotto listen --json` prints (src/cli/cmd_listen.c),
 * so the two can never drift apart. The format is documented in docs/server.md and
 * docs/streaming.md; tests/unit/test_listen.c checks it byte for byte.
 *
 * Owns nothing: it only appends to the caller's buffer.
 */
#include <stddef.h>

#include "base/base_int.h"
#include "sotto/buf.h"
#include "sotto/stream.h"

static void put_num(sotto_buf *b, const char *key, double v, int digits)
{
    sotto_buf_printf(b, ",\"%s\":", key);
    sotto_buf_json_number(b, v, digits);
}

static void put_words(sotto_buf *b, const sotto_stream_event *ev, double offset_s)
{
    sotto_buf_puts(b, ",\"words\":[");
    for (size_t i = 0; i < ev->n_words; i++) {
        const sotto_word *w = &ev->words[i];
        const char *txt = w->word ? w->word : "";
        while (*txt == ' ')
            txt++; /* Whisper's leading space is tokenization, not text */
        sotto_buf_puts(b, i ? ",{\"word\":" : "{\"word\":");
        sotto_buf_json_string(b, txt);
        put_num(b, "start", w->start + offset_s, 3);
        put_num(b, "end", w->end + offset_s, 3);
        put_num(b, "p", w->probability, 3);
        sotto_buf_putc(b, '}');
    }
    sotto_buf_putc(b, ']');
}

int sotto_stream_event_json(const sotto_stream_event *ev, double offset_s, sotto_buf *out)
{
    if (!ev || !out)
        return error_set(SOTTO_EINVAL, "stream event json: NULL argument");
    sotto_buf *b = out;
    switch (ev->type) {
    case SOTTO_STREAM_SPEECH_START:
    case SOTTO_STREAM_SPEECH_END:
        sotto_buf_printf(b, "{\"type\":\"%s\"",
                         ev->type == SOTTO_STREAM_SPEECH_START ? "speech_start" : "speech_end");
        put_num(b, "t", ev->t + offset_s, 3);
        break;
    case SOTTO_STREAM_PARTIAL:
        sotto_buf_puts(b, "{\"type\":\"partial\",\"text\":");
        sotto_buf_json_string(b, ev->text ? ev->text : "");
        put_num(b, "start", ev->start + offset_s, 3);
        put_num(b, "end", ev->end + offset_s, 3);
        break;
    case SOTTO_STREAM_FINAL:
        sotto_buf_printf(b, "{\"type\":\"final\",\"segment_id\":%lld,\"text\":", (long long)ev->segment_id);
        sotto_buf_json_string(b, ev->text ? ev->text : "");
        put_num(b, "start", ev->start + offset_s, 3);
        put_num(b, "end", ev->end + offset_s, 3);
        put_words(b, ev, offset_s);
        sotto_buf_puts(b, ",\"language\":");
        sotto_buf_json_string(b, ev->language ? ev->language : "");
        break;
    case SOTTO_STREAM_STATS: {
        const sotto_stream_stats *s = ev->stats;
        if (!s)
            return error_set(SOTTO_EINVAL, "stats event without figures");
        sotto_buf_puts(b, "{\"type\":\"stats\"");
        put_num(b, "latency_s", s->latency_s, 3);
        put_num(b, "rtf", s->rtf, 4);
        put_num(b, "buffered_s", s->buffered_s, 3);
        put_num(b, "backlog_s", s->backlog_s, 3);
        put_num(b, "audio_s", s->audio_s, 3);
        put_num(b, "voiced_s", s->voiced_s, 3);
        put_num(b, "compute_s", s->compute_s, 3);
        sotto_buf_printf(b, ",\"degraded\":%s,\"shedding\":%s,\"updates\":%lld,\"updates_no_vad\":%lld",
                         s->degraded ? "true" : "false", s->shedding ? "true" : "false",
                         (long long)s->updates, (long long)s->updates_no_vad);
        break;
    }
    default:
        return error_set(SOTTO_EINVAL, "unknown stream event %d", (int)ev->type);
    }
    /* an append that hit the buffer's cap fails every later one too, so the last says it */
    return sotto_buf_putc(b, '}');
}
