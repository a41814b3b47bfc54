/*
 * routes_history.c - conversation history: sessions (create, get, list with filters and
 * limit/offset, end, delete with cascade), messages (append with an atomically assigned
 * per-session seq, list in order), full-text search with snippets, export as json, txt,
 * srt or vtt, and per-session statistics. Every call is scoped to the caller: another
 * user's ids answer 404 exactly like missing ones (the store enforces it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "server/server_int.h"
#include "sotto/transcript.h"

static void put_str_or_null(sotto_buf *b, const char *key, const char *v)
{
    sotto_buf_printf(b, ",\"%s\":", key);
    if (v)
        sotto_buf_json_string(b, v);
    else
        sotto_buf_puts(b, "null");
}

static void put_num_or_null(sotto_buf *b, const char *key, double v, int digits, double unknown_below)
{
    sotto_buf_printf(b, ",\"%s\":", key);
    if (v >= unknown_below)
        sotto_buf_json_number(b, v, digits);
    else
        sotto_buf_puts(b, "null");
}

static void session_json(sotto_buf *b, const sotto_session *s)
{
    sotto_buf_printf(b, "{\"id\":\"%s\",\"object\":\"session\",\"type\":\"%s\",\"status\":\"%s\"", s->id,
                     s->type, s->status);
    put_str_or_null(b, "title", s->title);
    put_str_or_null(b, "language", s->language[0] ? s->language : NULL);
    sotto_buf_putc(b, ',');
    json_put_raw(b, "targets", s->targets_json);
    sotto_buf_putc(b, ',');
    json_put_raw(b, "metadata", s->metadata_json);
    put_num_or_null(b, "started_at", s->started_at, 3, 0.001);
    put_num_or_null(b, "ended_at", s->ended_at, 3, 0.001);
    sotto_buf_putc(b, '}');
}

/* page_send's item writer. */
static void session_item(sotto_buf *b, const void *item, const void *ctx)
{
    (void)ctx;
    session_json(b, item);
}

static void message_json(sotto_buf *b, const sotto_message *m)
{
    sotto_buf_printf(b, "{\"id\":%lld,\"object\":\"message\",\"session_id\":\"%s\",\"seq\":%lld,\"role\":",
                     (long long)m->id, m->session_id, (long long)m->seq);
    sotto_buf_json_string(b, m->role);
    put_str_or_null(b, "content", m->content ? m->content : "");
    put_str_or_null(b, "language", m->language[0] ? m->language : NULL);
    sotto_buf_putc(b, ',');
    json_put_raw(b, "translations", m->translations_json);
    put_num_or_null(b, "start", m->start_s, 3, 0);
    put_num_or_null(b, "end", m->end_s, 3, 0);
    if (m->speaker >= 0)
        sotto_buf_printf(b, ",\"speaker\":%d", m->speaker);
    else
        sotto_buf_puts(b, ",\"speaker\":null");
    put_str_or_null(b, "speaker_name", m->speaker_name);
    put_num_or_null(b, "confidence", m->confidence, 4, 0);
    sotto_buf_putc(b, ',');
    json_put_raw(b, "metadata", m->metadata_json);
    put_num_or_null(b, "created_at", m->created_at, 3, 0.001);
    sotto_buf_putc(b, '}');
}

static int reply(srv_req *r, int status, sotto_buf *b)
{
    int st = b->data ? http_send_json(r, status, b) : http_error(r, 500, "internal", "out of memory");
    sotto_buf_free(b);
    return st;
}

/* Optional string member: 0 ok (*out NULL when absent), -1 after a 400. */
static int opt_string(srv_req *r, const sotto_json *o, const char *key, size_t max, const char **out)
{
    const sotto_json *v = sotto_json_get(o, key);
    *out = NULL;
    if (!v || sotto_json_type_of(v) == SOTTO_JSON_NULL)
        return 0;
    if (sotto_json_type_of(v) != SOTTO_JSON_STRING || sotto_json_string_len(v) > max ||
        strlen(sotto_json_string(v, "")) != sotto_json_string_len(v))
        return http_error(r, 400, "invalid_request", "'%s' must be a string of at most %zu bytes", key, max), -1;
    *out = sotto_json_string(v, "");
    return 0;
}

/* Optional JSON member of a given type, re-emitted as text (caller frees *out). */
static int opt_json(srv_req *r, const sotto_json *o, const char *key, sotto_json_type type, char **out)
{
    const sotto_json *v = sotto_json_get(o, key);
    *out = NULL;
    if (!v || sotto_json_type_of(v) == SOTTO_JSON_NULL)
        return 0;
    if (sotto_json_type_of(v) != type)
        return http_error(r, 400, "invalid_request", "'%s' must be a JSON %s", key,
                          type == SOTTO_JSON_OBJECT ? "object" : "array"), -1;
    sotto_buf b = SOTTO_BUF_INIT;
    if (json_emit(&b, v) != 0) {
        sotto_buf_free(&b);
        return http_error(r, 500, "internal", "out of memory"), -1;
    }
    *out = sotto_buf_steal(&b);
    return 0;
}

static int opt_number(srv_req *r, const sotto_json *o, const char *key, double lo, double hi, double *out)
{
    const sotto_json *v = sotto_json_get(o, key);
    if (!v || sotto_json_type_of(v) == SOTTO_JSON_NULL)
        return 0;
    double d = sotto_json_number(v, NAN);
    if (sotto_json_type_of(v) != SOTTO_JSON_NUMBER || !(d >= lo && d <= hi))
        return http_error(r, 400, "invalid_request", "'%s' must be a number from %g to %g", key, lo, hi), -1;
    *out = d;
    return 0;
}

int route_session_create(srv_req *r)
{
    sotto_json *body;
    if (http_read_json(r, &body) != 0)
        return r->status;
    sotto_session s;
    memset(&s, 0, sizeof s);
    s.user_id = r->user.id;
    const char *type, *title, *lang;
    char *targets = NULL, *meta = NULL;
    if (opt_string(r, body, "type", 15, &type) || opt_string(r, body, "title", 1000, &title) ||
        opt_string(r, body, "language", 15, &lang) ||
        opt_json(r, body, "targets", SOTTO_JSON_ARRAY, &targets) ||
        opt_json(r, body, "metadata", SOTTO_JSON_OBJECT, &meta))
        goto done;
    if (!type)
        type = "chat";
    if (strcmp(type, "live") && strcmp(type, "job") && strcmp(type, "chat") && strcmp(type, "voice")) {
        http_error(r, 400, "invalid_request", "'type' must be live, job, chat or voice");
        goto done;
    }
    snprintf(s.type, sizeof s.type, "%s", type);
    snprintf(s.status, sizeof s.status, "active");
    snprintf(s.language, sizeof s.language, "%s", lang ? lang : "");
    s.title = (char *)title;
    s.targets_json = targets;
    s.metadata_json = meta;
    char id[SOTTO_ID_LEN];
    int rc = sotto_store_session_create(r->srv->store, &s, id);
    if (rc) {
        http_error_rc(r, rc);
        goto done;
    }
    sotto_session got;
    memset(&got, 0, sizeof got);
    rc = sotto_store_session_get(r->srv->store, r->user.id, id, &got);
    if (rc) {
        http_error_rc(r, rc);
        goto done;
    }
    sotto_buf b = SOTTO_BUF_INIT;
    session_json(&b, &got);
    sotto_buf_putc(&b, '\n');
    sotto_session_clear(&got);
    reply(r, 201, &b);
done:
    free(targets);
    free(meta);
    sotto_json_free(body);
    return r->status;
}

int route_session_get(srv_req *r)
{
    sotto_session s;
    memset(&s, 0, sizeof s);
    int rc = sotto_store_session_get(r->srv->store, r->user.id, r->param, &s);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    session_json(&b, &s);
    sotto_buf_putc(&b, '\n');
    sotto_session_clear(&s);
    return reply(r, 200, &b);
}

/* ?from= / ?to= as Unix seconds. */
static int query_time(srv_req *r, const char *name, double *out)
{
    char buf[40];
    int k = http_query(r, name, buf, sizeof buf);
    *out = 0;
    if (k == 0)
        return 0;
    char *end;
    double d = k > 0 ? strtod(buf, &end) : -1;
    if (k < 0 || end == buf || *end || !(d >= 0 && d < 1e11))
        return http_error(r, 400, "invalid_request", "query parameter '%s' must be Unix seconds", name), -1;
    *out = d;
    return 0;
}

int route_session_list(srv_req *r)
{
    char type[16], status[16];
    if (http_query(r, "type", type, sizeof type) < 0 || http_query(r, "status", status, sizeof status) < 0)
        return http_error(r, 400, "invalid_request", "query parameter 'type' or 'status' is too long");
    sotto_session_filter f;
    memset(&f, 0, sizeof f);
    f.type = type[0] ? type : NULL;
    f.status = status[0] ? status : NULL;
    srv_page p;
    if (query_time(r, "from", &f.from) || query_time(r, "to", &f.to) || page_parse(r, 50, &p))
        return r->status;
    f.limit = (size_t)p.limit;
    f.offset = (size_t)p.offset;
    sotto_session *list = NULL;
    size_t n = 0, total = 0;
    int rc = sotto_store_session_list(r->srv->store, r->user.id, &f, &list, &n, &total);
    if (rc)
        return http_error_rc(r, rc);
    int st = page_send(r, &p, list, n, sizeof *list, total, session_item, NULL);
    sotto_session_list_free(list, n);
    return st;
}

int route_session_end(srv_req *r)
{
    int rc = sotto_store_session_end(r->srv->store, r->user.id, r->param);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    return route_session_get(r);
}

int route_session_delete(srv_req *r)
{
    int rc = sotto_store_session_delete(r->srv->store, r->user.id, r->param);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "{\"id\":\"%s\",\"object\":\"session\",\"deleted\":true}\n", r->param);
    return reply(r, 200, &b);
}

int route_message_append(srv_req *r)
{
    sotto_json *body;
    if (http_read_json(r, &body) != 0)
        return r->status;
    sotto_message m;
    sotto_message_init(&m);
    snprintf(m.session_id, sizeof m.session_id, "%s", r->param);
    const char *role, *content, *lang, *speaker_name;
    char *tr = NULL, *meta = NULL;
    double start = -1, end = -1, conf = -1, speaker = -1;
    if (opt_string(r, body, "role", 15, &role) || opt_string(r, body, "content", 1 << 20, &content) ||
        opt_string(r, body, "language", 15, &lang) || opt_string(r, body, "speaker_name", 200, &speaker_name) ||
        opt_json(r, body, "translations", SOTTO_JSON_OBJECT, &tr) ||
        opt_json(r, body, "metadata", SOTTO_JSON_OBJECT, &meta) ||
        opt_number(r, body, "start", 0, 1e9, &start) || opt_number(r, body, "end", 0, 1e9, &end) ||
        opt_number(r, body, "confidence", 0, 1, &conf) || opt_number(r, body, "speaker", 0, 1e6, &speaker))
        goto done;
    if (!content) {
        http_error(r, 400, "invalid_request", "'content' is required");
        goto done;
    }
    if (!role)
        role = "user";
    if (strcmp(role, "user") && strcmp(role, "assistant") && strcmp(role, "system")) {
        http_error(r, 400, "invalid_request", "'role' must be user, assistant or system");
        goto done;
    }
    if (start >= 0 && end >= 0 && end < start) {
        http_error(r, 400, "invalid_request", "'end' is before 'start'");
        goto done;
    }
    snprintf(m.role, sizeof m.role, "%s", role);
    snprintf(m.language, sizeof m.language, "%s", lang ? lang : "");
    m.content = (char *)content;
    m.translations_json = tr;
    m.metadata_json = meta;
    m.speaker_name = (char *)speaker_name;
    m.start_s = start;
    m.end_s = end;
    m.confidence = conf;
    m.speaker = (int)speaker;
    int rc = sotto_store_message_append(r->srv->store, r->user.id, &m);
    if (rc == SOTTO_ENOENT) {
        http_error(r, 404, "not_found", "no session '%.64s'", r->param);
        goto done;
    }
    if (rc) {
        http_error_rc(r, rc);
        goto done;
    }
    sotto_buf b = SOTTO_BUF_INIT;
    message_json(&b, &m);
    sotto_buf_putc(&b, '\n');
    reply(r, 201, &b);
done:
    free(tr);
    free(meta);
    sotto_json_free(body);
    return r->status;
}

int route_message_list(srv_req *r)
{
    long after, limit;
    if (http_query_long(r, "after", 0, 1L << 62, 0, &after) || http_query_long(r, "limit", 0, 100000, 0, &limit))
        return r->status;
    sotto_message *list = NULL;
    size_t n = 0;
    int rc = sotto_store_message_list(r->srv->store, r->user.id, r->param, after, (size_t)limit, &list, &n);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sotto_buf_putc(&b, ',');
        message_json(&b, &list[i]);
    }
    sotto_buf_printf(&b, "],\"count\":%zu}\n", n);
    sotto_message_list_free(list, n);
    return reply(r, 200, &b);
}

int route_search(srv_req *r)
{
    char q[1024];
    int k = http_query(r, "q", q, sizeof q);
    if (k < 0)
        return http_error(r, 400, "invalid_request", "query parameter 'q' is over 1000 bytes");
    if (k == 0 || !q[0])
        return http_error(r, 400, "invalid_request", "query parameter 'q' (the words to find) is required");
    srv_page p;
    if (page_parse(r, 20, &p))
        return r->status;
    sotto_search_hit *hits = NULL;
    size_t n = 0;
    int rc = sotto_store_search(r->srv->store, r->user.id, q, (size_t)p.limit, (size_t)p.offset, &hits, &n);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"object\":\"list\",\"query\":");
    sotto_buf_json_string(&b, q);
    sotto_buf_puts(&b, ",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        sotto_buf_puts(&b, i ? ",{\"snippet\":" : "{\"snippet\":");
        sotto_buf_json_string(&b, hits[i].snippet ? hits[i].snippet : "");
        /* bm25 scores of small collections are tiny: significant digits, not decimals */
        sotto_buf_printf(&b, ",\"rank\":%.6g", isfinite(hits[i].rank) ? hits[i].rank : 0.0);
        sotto_buf_puts(&b, ",\"message\":");
        message_json(&b, &hits[i].message);
        sotto_buf_putc(&b, '}');
    }
    sotto_buf_printf(&b, "],\"count\":%zu,\"limit\":%ld,\"offset\":%ld}\n", n, p.limit, p.offset);
    sotto_search_hits_free(hits, n);
    return reply(r, 200, &b);
}

int route_session_stats(srv_req *r)
{
    sotto_session_stats st;
    int rc = sotto_store_session_stats(r->srv->store, r->user.id, r->param, &st);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "{\"session_id\":\"%s\",\"object\":\"session.stats\",\"messages\":%lld,\"words\":%lld,"
                         "\"duration_s\":",
                     r->param, (long long)st.messages, (long long)st.words);
    sotto_buf_json_number(&b, st.duration_s, 3);
    sotto_buf_puts(&b, ",\"avg_confidence\":");
    if (st.avg_confidence >= 0)
        sotto_buf_json_number(&b, st.avg_confidence, 4);
    else
        sotto_buf_puts(&b, "null");
    sotto_buf_puts(&b, "}\n");
    return reply(r, 200, &b);
}

/* Messages as a transcript: timed messages keep their times; untimed ones are laid end to
 * end from the previous end at 0.4 s per word (at least 1 s), so subtitles stay ordered. */
static int messages_transcript(const sotto_message *m, size_t n, sotto_transcript *t)
{
    sotto_transcript_init(t);
    double cursor = 0;
    for (size_t i = 0; i < n; i++) {
        sotto_segment seg;
        memset(&seg, 0, sizeof seg);
        size_t words = 0;
        for (const char *p = m[i].content ? m[i].content : ""; *p;) {
            while (*p == ' ')
                p++;
            if (*p)
                words++;
            while (*p && *p != ' ')
                p++;
        }
        seg.start = m[i].start_s >= 0 ? m[i].start_s : cursor;
        seg.end = m[i].end_s >= seg.start ? m[i].end_s : seg.start + (words * 0.4 > 1 ? words * 0.4 : 1);
        seg.text = m[i].content ? m[i].content : "";
        seg.confidence = m[i].confidence >= 0 ? (float)m[i].confidence : 0;
        seg.speaker = m[i].speaker;
        seg.speaker_name = m[i].speaker_name;
        snprintf(seg.language, sizeof seg.language, "%s", m[i].language);
        int rc = sotto_transcript_append(t, &seg);
        if (rc)
            return rc;
        cursor = seg.end;
        if (cursor > t->duration)
            t->duration = cursor;
    }
    return 0;
}

int route_session_export(srv_req *r)
{
    char fmt[16];
    if (http_query(r, "format", fmt, sizeof fmt) <= 0)
        snprintf(fmt, sizeof fmt, "json");
    sotto_format f;
    const char *ctype;
    if (!strcmp(fmt, "json")) {
        f = SOTTO_FORMAT_JSON, ctype = "application/json";
    } else if (!strcmp(fmt, "txt")) {
        f = SOTTO_FORMAT_TXT, ctype = "text/plain; charset=utf-8";
    } else if (!strcmp(fmt, "srt")) {
        f = SOTTO_FORMAT_SRT, ctype = "application/x-subrip; charset=utf-8";
    } else if (!strcmp(fmt, "vtt")) {
        f = SOTTO_FORMAT_VTT, ctype = "text/vtt; charset=utf-8";
    } else {
        return http_error(r, 400, "invalid_request", "format '%.16s' is not one of json, txt, srt, vtt", fmt);
    }
    sotto_session s;
    memset(&s, 0, sizeof s);
    int rc = sotto_store_session_get(r->srv->store, r->user.id, r->param, &s);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no session '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    sotto_message *list = NULL;
    size_t n = 0;
    rc = sotto_store_message_list(r->srv->store, r->user.id, r->param, 0, 0, &list, &n);
    if (rc) {
        sotto_session_clear(&s);
        return http_error_rc(r, rc);
    }
    sotto_transcript t;
    sotto_buf b = SOTTO_BUF_INIT;
    rc = messages_transcript(list, n, &t);
    if (!rc && f == SOTTO_FORMAT_JSON) {
        /* json: the session and its messages as stored, plus the transcript rendering */
        sotto_buf_puts(&b, "{\"session\":");
        session_json(&b, &s);
        sotto_buf_puts(&b, ",\"messages\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                sotto_buf_putc(&b, ',');
            message_json(&b, &list[i]);
        }
        sotto_buf_puts(&b, "],\"transcript\":");
        rc = sotto_transcript_write(&t, SOTTO_FORMAT_JSON, &b);
        if (!rc && b.len && b.data[b.len - 1] == '\n')
            b.len--;
        sotto_buf_puts(&b, "}\n");
    } else if (!rc) {
        rc = sotto_transcript_write(&t, f, &b);
    }
    sotto_transcript_free(&t);
    sotto_message_list_free(list, n);
    sotto_session_clear(&s);
    if (rc) {
        sotto_buf_free(&b);
        return http_error_rc(r, rc);
    }
    int st = http_send(r, 200, ctype, b.data ? b.data : "", b.data ? b.len : 0);
    sotto_buf_free(&b);
    return st;
}
