/*
 * listen.c - GET /v1/listen: live transcription over a WebSocket (CivetWeb handlers,
 * frames, control messages).
 *
 * One listen_conn per connection (listen_int.h): the caller (API key from a header or
 * ?api_key=), the stream parameters (listen_msg.c), a shared recognizer, a threaded
 * sotto_stream, the resampler, and the session its finals go to. Starting a stream,
 * delivering its events and finishing it after a drop are in listen_conn.c.
 *
 * Encoding: server messages are JSON text frames, or with encoding=msgpack (query or
 * start message) MessagePack binary frames with the same keys (stream events from
 * sotto_stream_event_msgpack, ready/error/pong/done built here); client control messages
 * are JSON text either way. Errors sent before the encoding is known are JSON.
 *
 * Threads: CivetWeb's connection thread runs connect/ready/data/close; the stream's
 * worker thread delivers events. Writes to the socket go through listen_send under c->mu,
 * and the close handler sets c->closed under the same lock, so nobody writes to a
 * connection CivetWeb has released. Work that needs a deep stack (recognizer and store)
 * runs on a helper thread with 8 MiB: CivetWeb's own threads have a fixed 100 KiB stack,
 * from which glibc also carves the static TLS (OpenBLAS alone takes 60 KiB of it). The
 * `sotto` executable raises those stacks (src/cli/thread_stack.c); the library does not
 * interpose on libc for its host application (docs/server.md, "Thread stacks").
 *
 * A dropped connection loses nothing: the close handler hands the stream to a finisher
 * thread (listen_conn.c); listen_stop waits for the finishers before the store closes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "base/base_int.h"
#include "server/listen_int.h"
#include "sotto/log.h"
#include "sotto/sotto.h"
#include "stream/event_msgpack.h"

#define LISTEN_MAX_FRAME ((size_t)1 << 20) /* a larger binary frame closes with 1009 */

/* ---- helpers ------------------------------------------------------------------------- */
typedef struct big_call {
    int (*fn)(void *);
    void *arg;
    int rc;
} big_call;

static void *big_main(void *p)
{
    big_call *b = p;
    b->rc = b->fn(b->arg);
    return NULL;
}

int listen_run_big(int (*fn)(void *), void *arg, const char *err)
{
    big_call b = {fn, arg, 0};
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, (size_t)8 << 20);
    pthread_t t;
    int prc = pthread_create(&t, &a, big_main, &b);
    pthread_attr_destroy(&a);
    if (prc)
        return error_set(SOTTO_ENOMEM, "cannot start a thread");
    pthread_join(t, NULL);
    if (b.rc && err)
        error_set(b.rc, "%s", err[0] ? err : "failed");
    return b.rc;
}

/* ---- frames ---------------------------------------------------------------------------- */
static void send_frame(listen_conn *c, int opcode, const char *data, size_t len)
{
    pthread_mutex_lock(&c->mu);
    if (!c->closed && c->conn)
        mg_websocket_write(c->conn, opcode, data, len);
    pthread_mutex_unlock(&c->mu);
}

void listen_send(listen_conn *c, const char *text, size_t len)
{
    send_frame(c, MG_WEBSOCKET_OPCODE_TEXT, text, len);
}

void listen_send_binary(listen_conn *c, const char *data, size_t len)
{
    send_frame(c, MG_WEBSOCKET_OPCODE_BINARY, data, len);
}

/* Start a msgpack map {"type": type, ...n_more pairs} (the caller writes the rest). The
 * buffer's failure is sticky (sotto/buf.h), so a run of writes is checked at its end. */
static int mp_begin(sotto_buf *b, uint32_t n_more, const char *type)
{
    msgpack_put_map(b, n_more + 1);
    msgpack_put_str(b, "type");
    return msgpack_put_str(b, type);
}

static int mp_kv_str(sotto_buf *b, const char *key, const char *v)
{
    msgpack_put_str(b, key);
    return msgpack_put_str(b, v);
}

/* Send b as the message it is: binary with encoding=msgpack, else text. Frees b. */
static void send_buf(listen_conn *c, sotto_buf *b, int rc)
{
    if (!rc && b->data) {
        if (c->params.msgpack)
            listen_send_binary(c, b->data, b->len);
        else
            listen_send(c, b->data, b->len);
    }
    sotto_buf_free(b);
}

void listen_send_error(listen_conn *c, const char *code, const char *message)
{
    sotto_buf b = SOTTO_BUF_INIT;
    int rc;
    if (c->params.msgpack) {
        mp_begin(&b, 2, "error");
        mp_kv_str(&b, "code", code);
        rc = mp_kv_str(&b, "message", message ? message : "");
    } else {
        rc = listen_error_json(&b, code, message);
    }
    send_buf(c, &b, rc);
}

/* {"type":"pong"[,"id":...]} and {"type":"done"} in the stream's encoding */
static void send_pong(listen_conn *c, const char *id)
{
    sotto_buf b = SOTTO_BUF_INIT;
    int rc;
    if (c->params.msgpack) {
        rc = mp_begin(&b, id[0] ? 1 : 0, "pong");
        if (!rc && id[0])
            rc = mp_kv_str(&b, "id", id);
    } else {
        sotto_buf_puts(&b, "{\"type\":\"pong\"");
        if (id[0]) {
            sotto_buf_puts(&b, ",\"id\":");
            sotto_buf_json_string(&b, id);
        }
        rc = sotto_buf_putc(&b, '}');
    }
    send_buf(c, &b, rc);
}

static void send_done(listen_conn *c)
{
    sotto_buf b = SOTTO_BUF_INIT;
    int rc = c->params.msgpack ? mp_begin(&b, 0, "done") : sotto_buf_puts(&b, "{\"type\":\"done\"}");
    send_buf(c, &b, rc);
}

/* A close frame with a status code; the connection ends when the client answers. */
static void send_close(listen_conn *c, int code, const char *reason)
{
    char p[128];
    size_t n = strlen(reason);
    if (n > sizeof p - 2)
        n = sizeof p - 2;
    p[0] = (char)(code >> 8);
    p[1] = (char)(code & 0xff);
    memcpy(p + 2, reason, n);
    pthread_mutex_lock(&c->mu);
    if (!c->closed && c->conn)
        mg_websocket_write(c->conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, p, n + 2);
    pthread_mutex_unlock(&c->mu);
    c->refused = 1;
}

/* ---- control messages ------------------------------------------------------------- */
/* Start on the first frame (a start message, or audio with the query's parameters). */
static int begin(listen_conn *c)
{
    listen_start_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    int rc = listen_run_big(listen_conn_start, &x, x.err);
    if (rc) {
        sotto_stream_free(c->stream); /* made before the session failed: no audio in it */
        c->stream = NULL;
        listen_send_error(c, x.err_code[0] ? x.err_code : "invalid_request", x.err);
        send_close(c, 1008, "could not start");
        return rc;
    }
    /* the policy the stream runs ("auto" resolved), so a client knows what it got */
    const char *policy = sotto_stream_policy_name(sotto_stream_policy_of(c->stream));
    const char *format = c->params.format == LISTEN_F32LE ? "f32le" : "s16le";
    SOTTO_INFO("listen: stream started: session %s, policy %s, %s at %d Hz, offset %.3f s, %s", c->session_id,
               policy, format, c->params.sample_rate, c->offset, c->params.msgpack ? "msgpack" : "json");
    sotto_buf b = SOTTO_BUF_INIT;
    if (c->params.msgpack) {
        mp_begin(&b, 5, "ready");
        mp_kv_str(&b, "session_id", c->session_id);
        mp_kv_str(&b, "policy", policy);
        mp_kv_str(&b, "format", format);
        msgpack_put_str(&b, "sample_rate");
        msgpack_put_int(&b, c->params.sample_rate);
        msgpack_put_str(&b, "offset");
        rc = msgpack_put_float(&b, c->offset);
    } else {
        sotto_buf_puts(&b, "{\"type\":\"ready\",\"session_id\":");
        sotto_buf_json_string(&b, c->session_id);
        sotto_buf_printf(&b, ",\"policy\":\"%s\",\"format\":\"%s\",\"sample_rate\":%d,\"offset\":", policy,
                         format, c->params.sample_rate);
        sotto_buf_json_number(&b, c->offset, 3);
        rc = sotto_buf_putc(&b, '}');
    }
    send_buf(c, &b, rc);
    return 0;
}

/* ---- CivetWeb handlers ------------------------------------------------------------------- */
typedef struct auth_ctx {
    sotto_server *srv;
    const char *key;
    sotto_user user;
    int status;
    char err[256];
} auth_ctx;

static int auth_run(void *arg)
{
    auth_ctx *a = arg;
    sotto_store *st = a->srv->store;
    int rc;
    if (!a->srv->opt.auth) {
        rc = sotto_store_user_get(st, "local", &a->user);
        if (rc == SOTTO_ENOENT && sotto_store_user_add(st, "local", 1, &a->user) != 0)
            rc = sotto_store_user_get(st, "local", &a->user);
        else if (rc == SOTTO_ENOENT)
            rc = 0;
    } else if (!a->key || !*a->key || strlen(a->key) > 256) {
        rc = SOTTO_ENOENT;
    } else {
        rc = sotto_store_key_lookup(st, a->key, &a->user);
    }
    a->status = rc == 0 ? 0 : rc == SOTTO_ENOENT ? 401 : 503;
    return rc;
}

static void refuse_http(const struct mg_connection *cc, int status, const char *code, const char *msg)
{
    struct mg_connection *conn = (struct mg_connection *)cc;
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"error\":{\"code\":");
    sotto_buf_json_string(&b, code);
    sotto_buf_puts(&b, ",\"message\":");
    sotto_buf_json_string(&b, msg);
    sotto_buf_puts(&b, "}}\n");
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
              status, status == 401 ? "Unauthorized" : status == 429 ? "Too Many Requests" : "Service Unavailable",
              b.len);
    mg_write(conn, b.data, b.len);
    sotto_buf_free(&b);
}

static int ws_connect(const struct mg_connection *conn, void *cbdata)
{
    sotto_server *s = cbdata;
    if (__atomic_load_n(&s->draining, __ATOMIC_SEQ_CST)) {
        refuse_http(conn, 503, "unavailable", "the server is stopping");
        return 1;
    }
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char qkey[300] = "";
    const char *key = mg_get_header(conn, "X-API-Key");
    const char *h = mg_get_header(conn, "Authorization");
    if ((!key || !*key) && h && !strncasecmp(h, "Bearer ", 7)) {
        key = h + 7;
        while (*key == ' ')
            key++;
    }
    /* browsers cannot set headers on a WebSocket: the key may come as ?api_key= */
    if ((!key || !*key) && ri->query_string &&
        mg_get_var(ri->query_string, strlen(ri->query_string), "api_key", qkey, sizeof qkey) > 0)
        key = qkey;
    auth_ctx a;
    memset(&a, 0, sizeof a);
    a.srv = s;
    a.key = key;
    listen_run_big(auth_run, &a, NULL);
    if (a.status == 401) {
        refuse_http(conn, 401, "unauthorized", "an API key is required: 'Authorization: Bearer KEY', "
                                               "'X-API-Key: KEY' or ?api_key=KEY");
        return 1;
    }
    if (a.status) {
        refuse_http(conn, 503, "unavailable", "could not check the API key");
        return 1;
    }
    int wait = limits_take(s->limits, a.user.id);
    if (wait > 0) {
        refuse_http(conn, 429, "rate_limited", "rate limit exceeded");
        return 1;
    }
    listen_conn *c = calloc(1, sizeof *c);
    if (!c) {
        refuse_http(conn, 503, "unavailable", "out of memory");
        return 1;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->srv = s;
    c->user = a.user;
    listen_params_init(&c->params);
    mg_set_user_connection_data(conn, c);
    return 0;
}

static void ws_ready(struct mg_connection *conn, void *cbdata)
{
    sotto_server *s = cbdata;
    listen_conn *c = mg_get_user_connection_data(conn);
    if (!c)
        return;
    c->conn = conn;
    listen_state *L = s->streams;
    pthread_mutex_lock(&L->mu);
    int over = L->active >= L->max_streams;
    if (!over) {
        L->active++;
        c->counted = 1;
    }
    pthread_mutex_unlock(&L->mu);
    /* the query first, so that even a refusal comes in the encoding it asks for */
    const struct mg_request_info *ri = mg_get_request_info(conn);
    static const char *const skip[] = {"api_key", NULL};
    int bad_query = listen_params_from_query(&c->params, ri->query_string, skip) != 0;
    char err[512];
    snprintf(err, sizeof err, "%s", bad_query ? sotto_last_error() : "");
    if (over) {
        char msg[128];
        snprintf(msg, sizeof msg, "too many live streams (limit %d); try again later", L->max_streams);
        listen_send_error(c, "too_many_streams", msg);
        send_close(c, 1013, "too many streams");
        return;
    }
    if (bad_query) {
        listen_send_error(c, "invalid_request", err);
        send_close(c, 1008, "invalid parameters");
    }
}

static int on_text(listen_conn *c, const char *data, size_t len)
{
    listen_msg m;
    if (listen_msg_parse(data, len, c->stream ? NULL : &c->params, &m) != 0) {
        listen_send_error(c, "invalid_message", sotto_last_error());
        return 1;
    }
    if (m.type == LISTEN_MSG_PING) {
        send_pong(c, m.id);
        return 1;
    }
    if (m.type == LISTEN_MSG_START) {
        if (c->stream) {
            listen_send_error(c, "invalid_message", "the stream has already started");
            return 1;
        }
        return begin(c) == 0;
    }
    if (!c->stream && begin(c) != 0)
        return 0;
    if (m.type == LISTEN_MSG_FLUSH) {
        size_t n = 0;
        if (listen_resampler_run(&c->rs, NULL, 0, 1, &c->rpcm, &c->cap_rpcm, &n) == 0 && n)
            sotto_stream_feed(c->stream, c->rpcm, n);
        if (sotto_stream_flush(c->stream) != 0)
            listen_send_error(c, "stream_failed", sotto_last_error());
        return 1;
    }
    /* stop: finish everything, say how it went, and close */
    size_t n = 0;
    if (listen_resampler_run(&c->rs, NULL, 0, 1, &c->rpcm, &c->cap_rpcm, &n) == 0 && n)
        sotto_stream_feed(c->stream, c->rpcm, n);
    if (sotto_stream_finish(c->stream) != 0)
        listen_send_error(c, "stream_failed", sotto_last_error());
    sotto_stream_stats st;
    sotto_stream_get_stats(c->stream, &st);
    sotto_stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = &st;
    c->last_stats = 0;
    listen_on_event(c, &ev);
    send_done(c);
    send_close(c, 1000, "stopped");
    return 1;
}

static int on_audio(listen_conn *c, const char *data, size_t len)
{
    if (len > LISTEN_MAX_FRAME) {
        char msg[96];
        snprintf(msg, sizeof msg, "audio frames may hold at most %zu bytes", LISTEN_MAX_FRAME);
        listen_send_error(c, "frame_too_large", msg);
        send_close(c, 1009, "frame too large");
        return 1;
    }
    if (!c->stream && begin(c) != 0)
        return 0;
    size_t n = 0, nr = 0;
    if (listen_pcm_convert(c->params.format, data, len, &c->pcm, &c->cap_pcm, &n) != 0) {
        listen_send_error(c, "invalid_audio", sotto_last_error());
        return 1;
    }
    int rc = listen_resampler_run(&c->rs, c->pcm, n, 0, &c->rpcm, &c->cap_rpcm, &nr);
    if (!rc && nr)
        rc = sotto_stream_feed(c->stream, c->rpcm, nr);
    if (rc)
        listen_send_error(c, "stream_failed", sotto_last_error());
    return 1;
}

static int ws_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata)
{
    (void)cbdata;
    listen_conn *c = mg_get_user_connection_data(conn);
    int op = bits & 0x0f;
    if (!c || op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
        return 0;
    if (c->refused)
        return 1; /* a close frame was sent: drop frames until the client answers it */
    if (op == MG_WEBSOCKET_OPCODE_TEXT)
        return on_text(c, data, len);
    if (op == MG_WEBSOCKET_OPCODE_BINARY)
        return on_audio(c, data, len);
    if (op == MG_WEBSOCKET_OPCODE_CONTINUATION) {
        listen_send_error(c, "invalid_audio", "fragmented messages are not supported; send whole frames");
        return 1;
    }
    return 1; /* ping/pong */
}

static void ws_close(const struct mg_connection *conn, void *cbdata)
{
    (void)cbdata;
    listen_conn *c = mg_get_user_connection_data(conn);
    if (!c)
        return;
    mg_set_user_connection_data(conn, NULL);
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    c->conn = NULL;
    pthread_mutex_unlock(&c->mu);
    listen_conn_release(c); /* frees c, now or after its tail is saved */
}

/* Plain GET /v1/listen (no Upgrade): say what to do instead of a bare 404. */
int route_listen(srv_req *r)
{
    return http_error(r, 426, "upgrade_required",
                      "/v1/listen is a WebSocket endpoint: connect with ws:// (Upgrade: websocket)");
}

int listen_start(sotto_server *s)
{
    /* each stream holds a CivetWeb thread: keep a few for plain requests */
    int threads = s->opt.http_threads;
    int cap = threads > 8 ? threads - 4 : threads / 2;
    if (cap < 1)
        cap = 1;
    int want = s->opt.limits.max_streams;
    if (want < 0)
        return error_set(SOTTO_EINVAL, "limits.max_streams must be 0 (automatic) or more, not %d", want);
    if (want > cap)
        SOTTO_WARN("listen: limits.max_streams %d needs more HTTP threads than %d; using %d", want, threads, cap);
    int max_streams = want > 0 && want < cap ? want : cap;
    int rc = listen_state_new(max_streams, &s->streams);
    if (rc)
        return rc;
    mg_set_websocket_handler(s->ctx, "/v1/listen", ws_connect, ws_ready, ws_data, ws_close, s);
    return 0;
}

void listen_stop(sotto_server *s)
{
    if (!s || !s->streams)
        return;
    /* mg_stop has closed every connection: wait for their tails to be saved */
    listen_state_free(s->streams);
    s->streams = NULL;
}

void listen_get_counts(sotto_server *s, int *active, int *max_streams, uint64_t *started)
{
    listen_state *L = s->streams;
    *active = 0;
    *max_streams = 0;
    *started = 0;
    if (!L)
        return;
    pthread_mutex_lock(&L->mu);
    *active = L->active;
    *max_streams = L->max_streams;
    *started = L->started;
    pthread_mutex_unlock(&L->mu);
}
