/*
 * http.c - response and request helpers for the server's routes: complete and chunked
 * responses (every one with X-Request-Id), the JSON error shape, mapping libsotto error
 * codes to statuses, bounded body reads, query parameters, and re-emitting parsed JSON.
 *
 * Error messages come from libsotto's one-line messages; none of them carries a file
 * path of the server (uploads are referred to as "the upload", never by path).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <civetweb.h>

#include "base/base_int.h"
#include "server/server_int.h"

void random_hex(char *buf, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t need = (n + 1) / 2;
    if (need > sizeof raw)
        need = sizeof raw;
    size_t got = 0;
    while (got < need) {
        ssize_t k = getrandom(raw + got, need - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    for (size_t i = 0; i < n && i / 2 < need; i++)
        buf[i] = hex[(raw[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    buf[n] = '\0';
}

static int send_headers(srv_req *r, int status, const char *content_type, long long len)
{
    r->status = status;
    if (mg_response_header_start(r->conn, status) != 0)
        return -1;
    mg_response_header_add(r->conn, "X-Request-Id", r->id, -1);
    if (content_type)
        mg_response_header_add(r->conn, "Content-Type", content_type, -1);
    mg_response_header_add(r->conn, "Cache-Control", "no-store", -1);
    if (len >= 0) {
        char n[32];
        snprintf(n, sizeof n, "%lld", len);
        mg_response_header_add(r->conn, "Content-Length", n, -1);
    }
    return 0;
}

int http_send(srv_req *r, int status, const char *content_type, const void *body, size_t len)
{
    if (send_headers(r, status, content_type, (long long)len) != 0)
        return status;
    mg_response_header_send(r->conn);
    if (len && strcmp(r->ri->request_method, "HEAD") != 0)
        mg_write(r->conn, body, len);
    return status;
}

int http_send_json(srv_req *r, int status, const sotto_buf *b)
{
    return http_send(r, status, "application/json", b->data ? b->data : "{}",
                     b->data ? b->len : 2);
}

/* Copy in to out replacing every server path (the data dir and anything under it, with
 * its quotes) by "the upload": messages from libsotto name files, clients must not see
 * where the server keeps them. */
void server_scrub(const sotto_server *s, const char *in, char *out, size_t n)
{
    size_t dl = s->data_dir ? strlen(s->data_dir) : 0;
    size_t o = 0;
    while (*in && o + 1 < n) {
        if (dl && !strncmp(in, s->data_dir, dl)) {
            int quoted = o > 0 && out[o - 1] == '\'';
            if (quoted)
                o--;
            in += dl;
            while (*in && *in != '\'' && *in != '"' && *in != ' ' && *in != ',')
                in++;
            if (quoted && *in == '\'')
                in++;
            const char *rep = "the upload";
            for (; *rep && o + 1 < n; rep++)
                out[o++] = *rep;
            continue;
        }
        out[o++] = *in++;
    }
    out[o] = '\0';
}

/* The error body; 429 and 503 also tell the client when to retry (Retry-After, from
 * r->retry_after when the rate limiter set it), 401 names the scheme. */
static int send_error(srv_req *r, int status, const char *code, const char *raw_msg, int retry_after)
{
    char msg[600];
    server_scrub(r->srv, raw_msg, msg, sizeof msg);
    sotto_buf b = SOTTO_BUF_INIT;
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    if (status == 401)
        type = "authentication_error";
    if (status == 429)
        type = "rate_limit_error";
    int rc = sotto_buf_puts(&b, "{\"error\":{\"code\":");
    if (!rc)
        rc = sotto_buf_json_string(&b, code);
    if (!rc)
        rc = sotto_buf_puts(&b, ",\"message\":");
    if (!rc)
        rc = sotto_buf_json_string(&b, msg);
    if (!rc)
        rc = sotto_buf_printf(&b, ",\"type\":\"%s\",\"request_id\":\"%s\"}}\n", type, r->id);
    if (rc) {
        sotto_buf_free(&b);
        return http_send(r, 500, "text/plain", "internal error\n", 15);
    }
    if (send_headers(r, status, "application/json", (long long)b.len) == 0) {
        if (retry_after > 0) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", retry_after);
            mg_response_header_add(r->conn, "Retry-After", ra, -1);
        }
        if (status == 401)
            mg_response_header_add(r->conn, "WWW-Authenticate", "Bearer", -1);
        mg_response_header_send(r->conn);
        mg_write(r->conn, b.data, b.len);
    }
    sotto_buf_free(&b);
    return status;
}

int http_error(srv_req *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int retry = 0;
    if (status == 429 || status == 503)
        retry = 1;
    if (status == 429 && r->retry_after > 0)
        retry = r->retry_after;
    return send_error(r, status, code, msg, retry);
}

int http_error_rc(srv_req *r, int rc)
{
    const char *msg = sotto_last_error();
    if (!msg || !*msg)
        msg = sotto_strerror(rc);
    switch (rc) {
    case SOTTO_EINVAL: return http_error(r, 400, "invalid_request", "%s", msg);
    case SOTTO_ENOENT: return http_error(r, 404, "not_found", "%s", msg);
    case SOTTO_EACCES: return http_error(r, 403, "forbidden", "%s", msg);
    case SOTTO_EFORMAT:
    case SOTTO_ENOAUDIO: return http_error(r, 422, "unprocessable_audio", "%s", msg);
    case SOTTO_ENOTSUP: return http_error(r, 422, "not_available", "%s", msg);
    case SOTTO_EUNAVAIL: return http_error(r, 503, "unavailable", "%s", msg);
    case SOTTO_ECANCELED: return http_error(r, 409, "cancelled", "%s", msg);
    case SOTTO_ENOMEM: return http_error(r, 507, "insufficient_storage", "%s", msg);
    default: return http_error(r, 500, "internal", "%s", msg);
    }
}

int http_start_chunked(srv_req *r, int status, const char *content_type)
{
    if (send_headers(r, status, content_type, -1) != 0)
        return -1;
    mg_response_header_add(r->conn, "Transfer-Encoding", "chunked", -1);
    mg_response_header_add(r->conn, "X-Accel-Buffering", "no", -1);
    return mg_response_header_send(r->conn) == 0 ? 0 : -1;
}

int http_chunk(srv_req *r, const char *data, size_t len)
{
    if (!len)
        return 0;
    return mg_send_chunk(r->conn, data, (unsigned)len) > 0 ? 0 : -1;
}

int http_chunk_end(srv_req *r)
{
    return mg_send_chunk(r->conn, "", 0) >= 0 ? 0 : -1;
}

int http_read_body(srv_req *r, size_t cap, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    long long declared = r->ri->content_length;
    if (declared > 0 && (unsigned long long)declared > cap) {
        http_error(r, 413, "payload_too_large", "request body of %lld bytes is over the limit of %zu",
                   declared, cap);
        return -1;
    }
    size_t n = 0, size = declared > 0 ? (size_t)declared + 1 : 4096;
    char *buf = malloc(size);
    if (!buf) {
        http_error(r, 500, "internal", "out of memory");
        return -1;
    }
    for (;;) {
        if (n + 1 >= size) {
            if (size > cap) {
                free(buf);
                http_error(r, 413, "payload_too_large", "request body is over the limit of %zu bytes",
                           cap);
                return -1;
            }
            size_t nsize = size * 2 > cap + 2 ? cap + 2 : size * 2;
            char *nb = realloc(buf, nsize);
            if (!nb) {
                free(buf);
                http_error(r, 500, "internal", "out of memory");
                return -1;
            }
            buf = nb;
            size = nsize;
        }
        int k = mg_read(r->conn, buf + n, size - 1 - n);
        if (k < 0) {
            free(buf);
            http_error(r, 400, "invalid_request", "could not read the request body");
            return -1;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > cap) {
            free(buf);
            http_error(r, 413, "payload_too_large", "request body is over the limit of %zu bytes",
                       cap);
            return -1;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int http_read_json(srv_req *r, sotto_json **out)
{
    char *body;
    size_t len;
    *out = NULL;
    if (http_read_body(r, r->srv->opt.limits.max_json_bytes, &body, &len) != 0)
        return -1;
    if (len == 0) {
        free(body);
        http_error(r, 400, "invalid_request", "the request needs a JSON object body");
        return -1;
    }
    sotto_json_limits lim = {32, 100000};
    int rc = sotto_json_parse(body, len, &lim, out);
    free(body);
    if (rc) {
        http_error(r, 400, "invalid_json", "%s", sotto_last_error());
        return -1;
    }
    if (sotto_json_type_of(*out) != SOTTO_JSON_OBJECT) {
        sotto_json_free(*out);
        *out = NULL;
        http_error(r, 400, "invalid_request", "the request body must be a JSON object");
        return -1;
    }
    return 0;
}

int http_query(srv_req *r, const char *name, char *buf, size_t size)
{
    const char *q = r->ri->query_string;
    buf[0] = '\0';
    if (!q)
        return 0;
    int k = mg_get_var(q, strlen(q), name, buf, size);
    if (k == -1)
        return 0;
    if (k < 0)
        return -1;
    return 1;
}

int http_query_long(srv_req *r, const char *name, long lo, long hi, long dflt, long *out)
{
    char buf[32];
    int k = http_query(r, name, buf, sizeof buf);
    *out = dflt;
    if (k == 0)
        return 0;
    char *end;
    errno = 0;
    long v = k > 0 ? strtol(buf, &end, 10) : 0;
    if (k < 0 || errno || end == buf || *end || v < lo || v > hi) {
        http_error(r, 400, "invalid_request", "query parameter '%s' must be a whole number from %ld to %ld",
                   name, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

const char *http_header(srv_req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

int json_emit(sotto_buf *b, const sotto_json *v)
{
    int rc = 0;
    switch (sotto_json_type_of(v)) {
    case SOTTO_JSON_NULL: return sotto_buf_puts(b, "null");
    case SOTTO_JSON_FALSE: return sotto_buf_puts(b, "false");
    case SOTTO_JSON_TRUE: return sotto_buf_puts(b, "true");
    case SOTTO_JSON_NUMBER: return sotto_buf_json_number(b, sotto_json_number(v, 0), 6);
    case SOTTO_JSON_STRING: return sotto_buf_json_string(b, sotto_json_string(v, ""));
    case SOTTO_JSON_ARRAY:
        rc = sotto_buf_putc(b, '[');
        for (size_t i = 0; !rc && i < sotto_json_len(v); i++) {
            if (i)
                rc = sotto_buf_putc(b, ',');
            if (!rc)
                rc = json_emit(b, sotto_json_at(v, i));
        }
        return rc ? rc : sotto_buf_putc(b, ']');
    case SOTTO_JSON_OBJECT:
        rc = sotto_buf_putc(b, '{');
        for (size_t i = 0; !rc && i < sotto_json_len(v); i++) {
            if (i)
                rc = sotto_buf_putc(b, ',');
            if (!rc)
                rc = sotto_buf_json_string(b, sotto_json_key(v, i));
            if (!rc)
                rc = sotto_buf_putc(b, ':');
            if (!rc)
                rc = json_emit(b, sotto_json_at(v, i));
        }
        return rc ? rc : sotto_buf_putc(b, '}');
    }
    return sotto_buf_puts(b, "null");
}

int json_put_raw(sotto_buf *b, const char *key, const char *json_text)
{
    int rc = sotto_buf_printf(b, "\"%s\":", key);
    if (rc)
        return rc;
    if (!json_text || !*json_text)
        return sotto_buf_puts(b, "null");
    return sotto_buf_puts(b, json_text);
}
