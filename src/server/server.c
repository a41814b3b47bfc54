/*
 * server.c - the server's life cycle and request dispatch: data dir, store and job runner
 * start-up, the CivetWeb context, the route table, per-request ids, per-address and
 * per-key limits, one JSON access-log line per request, metrics, and the drain on stop.
 *
 * Every request goes through one CivetWeb handler (dispatch) so that logging, metrics,
 * request ids and limits apply to all routes alike, including 404s.
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "base/base_int.h"
#include "server/server_int.h"
#include "sotto/log.h"
#include "sotto/sotto.h"

typedef struct route {
    const char *method;
    const char *pattern; /* literal segments; "{id}" matches one segment */
    int (*run)(srv_req *r);
    int auth;            /* needs a key (and counts against its rate limit) */
} route;


/* Every log line goes out in one write(2) under a lock: lines from many threads never
 * interleave, even when stderr is a file opened for append by another process. */
static pthread_mutex_t log_write_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_line(const sotto_buf *b)
{
    if (!b->data)
        return;
    pthread_mutex_lock(&log_write_lock);
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(STDERR_FILENO, b->data + off, b->len - off);
        if (w <= 0 && errno != EINTR)
            break;
        if (w > 0)
            off += (size_t)w;
    }
    pthread_mutex_unlock(&log_write_lock);
}

static const route routes[] = {
    {"GET", "/health", route_health, 0},
    {"GET", "/metrics", route_metrics, 0},
    {"GET", "/v1/models", route_models, 1},
    {"POST", "/v1/audio/transcriptions", route_transcribe, 1},
    {"POST", "/v1/audio/translations", route_translate, 1},
    {"POST", "/v1/jobs", route_job_submit, 1},
    {"GET", "/v1/jobs", route_job_list, 1},
    {"GET", "/v1/jobs/{id}", route_job_get, 1},
    {"DELETE", "/v1/jobs/{id}", route_job_delete, 1},
    {"POST", "/v1/sessions", route_session_create, 1},
    {"GET", "/v1/sessions", route_session_list, 1},
    {"GET", "/v1/sessions/{id}", route_session_get, 1},
    {"DELETE", "/v1/sessions/{id}", route_session_delete, 1},
    {"POST", "/v1/sessions/{id}/end", route_session_end, 1},
    {"POST", "/v1/sessions/{id}/messages", route_message_append, 1},
    {"GET", "/v1/sessions/{id}/messages", route_message_list, 1},
    {"GET", "/v1/sessions/{id}/export", route_session_export, 1},
    {"GET", "/v1/sessions/{id}/stats", route_session_stats, 1},
    {"GET", "/v1/search", route_search, 1},
    {"GET", "/v1/listen", route_listen, 0}, /* WebSocket upgrades go to listen.c */
    {"POST", "/v1/users", route_user_add, 1},
    {"POST", "/v1/users/{id}/keys", route_key_new, 1},
};

/* Match path against pattern; on a match with "{id}", copy the segment into r. */
static int route_match(const char *pattern, const char *path, srv_req *r)
{
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (!strncmp(p, "{id}", 4)) {
            size_t n = strcspn(s, "/");
            if (n == 0 || n >= sizeof r->param_buf)
                return 0;
            memcpy(r->param_buf, s, n);
            r->param_buf[n] = '\0';
            r->param = r->param_buf;
            p += 4;
            s += n;
            continue;
        }
        if (*p != *s)
            return 0;
        p++;
        s++;
    }
    if (*s == '/' && s[1] == '\0') /* tolerate one trailing slash */
        s++;
    return *p == '\0' && *s == '\0';
}

static void access_log(srv_req *r, double latency_s)
{
    if (!r->srv->opt.log_requests)
        return;
    sotto_buf b = SOTTO_BUF_INIT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sotto_buf_printf(&b, "{\"ts\":%.3f,\"level\":\"info\",\"msg\":\"request\",\"request_id\":\"%s\","
                         "\"method\":",
                     (double)ts.tv_sec + ts.tv_nsec / 1e9, r->id);
    sotto_buf_json_string(&b, r->ri->request_method);
    sotto_buf_puts(&b, ",\"route\":");
    sotto_buf_json_string(&b, r->route ? r->route : "unmatched");
    sotto_buf_puts(&b, ",\"path\":");
    sotto_buf_json_string(&b, r->ri->local_uri ? r->ri->local_uri : "");
    sotto_buf_printf(&b, ",\"status\":%d,\"latency_ms\":%.2f,\"user\":", r->status, latency_s * 1000);
    if (r->authed)
        sotto_buf_json_string(&b, r->user.name);
    else
        sotto_buf_puts(&b, "null");
    sotto_buf_puts(&b, ",\"remote\":");
    sotto_buf_json_string(&b, r->ri->remote_addr);
    sotto_buf_puts(&b, "}\n");
    log_line(&b);
    sotto_buf_free(&b);
}

/* Everything a request does, on a thread with a full-size stack (see executor). */
static void handle(srv_req *rp)
{
    srv_req r = *rp;
    sotto_server *s = r.srv;
    sotto_clear_error();
    const char *path = r.ri->local_uri ? r.ri->local_uri : "/";
    const char *method = r.ri->request_method ? r.ri->request_method : "";
    __atomic_add_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
    int entered = limits_enter(s->limits, r.ri->remote_addr) == 0;
    if (__atomic_load_n(&s->draining, __ATOMIC_SEQ_CST)) {
        if (entered)
            limits_leave(s->limits, r.ri->remote_addr);
        mg_disable_keep_alive(r.conn);
        http_error(&r, 503, "shutting_down", "the server is shutting down");
    } else if (!entered) {
        http_error(&r, 429, "too_many_connections",
                   "too many requests in flight from your address (limit %d)",
                   s->opt.limits.max_conns_per_ip);
    } else {
        const route *hit = NULL;
        int path_known = 0;
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            r.param = NULL;
            if (!route_match(routes[i].pattern, path, &r))
                continue;
            path_known = 1;
            if (!strcmp(routes[i].method, method) ||
                (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
                hit = &routes[i];
                break;
            }
        }
        if (!hit) {
            r.param = NULL;
            if (path_known)
                http_error(&r, 405, "method_not_allowed", "method %s is not allowed here", method);
            else
                http_error(&r, 404, "not_found", "no such endpoint");
        } else {
            r.route = hit->pattern;
            int ok = 1;
            if (hit->auth) {
                ok = auth_check(&r) == 0;
                if (ok) {
                    int wait = limits_take(s->limits, r.user.id);
                    if (wait > 0) {
                        r.retry_after = wait;
                        http_error(&r, 429, "rate_limited",
                                   "rate limit exceeded (%.3g requests/s, burst %.0f); retry in %d s",
                                   s->opt.limits.rate_per_s, s->opt.limits.rate_burst, wait);
                        ok = 0;
                    }
                }
            }
            if (ok)
                hit->run(&r);
            if (r.status == 0)
                http_error(&r, 500, "internal", "the request was not answered");
        }
        limits_leave(s->limits, r.ri->remote_addr);
    }
    double dt = time_now() - r.t0;
    metrics_observe_request(&s->metrics, method, r.route ? r.route : "unmatched", r.status, dt);
    access_log(&r, dt);
    rp->status = r.status;
    __atomic_sub_fetch(&s->in_flight, 1, __ATOMIC_SEQ_CST);
}

/* CivetWeb's worker threads have 100 KiB stacks (fixed in Debian's build), too small for
 * FFmpeg probing and sanitizer builds. Each worker therefore gets one helper thread with
 * an 8 MiB stack, created when the worker starts; the worker hands it each request and
 * waits. Requests still run one per worker, so CivetWeb's thread count stays the limit. */
typedef struct executor {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_req *req; /* the request to run, NULL when idle */
    int done, stop;
} executor;

static __thread executor *tl_exec;

static void *executor_main(void *arg)
{
    executor *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->req && !e->stop)
            pthread_cond_wait(&e->cv, &e->mu);
        if (!e->req)
            break;
        srv_req *r = e->req;
        pthread_mutex_unlock(&e->mu);
        handle(r);
        pthread_mutex_lock(&e->mu);
        e->req = NULL;
        e->done = 1;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static void *on_init_thread(const struct mg_context *ctx, int thread_type)
{
    if (thread_type != 1)
        return NULL;
    executor *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)8 << 20);
    int rc = pthread_create(&e->thread, &attr, executor_main, e);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        free(e);
        return NULL;
    }
    tl_exec = e;
    return e;
}

static void on_exit_thread(const struct mg_context *ctx, int thread_type, void *ptr)
{
    executor *e = ptr;
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    e->stop = 1;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
    tl_exec = NULL;
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    srv_req r;
    memset(&r, 0, sizeof r);
    r.srv = cbdata;
    r.conn = conn;
    r.ri = mg_get_request_info(conn);
    r.t0 = time_now();
    random_hex(r.id, 20);
    executor *e = tl_exec;
    if (!e) {
        handle(&r); /* no helper (could not be created): run here */
    } else {
        pthread_mutex_lock(&e->mu);
        e->done = 0;
        e->req = &r;
        pthread_cond_broadcast(&e->cv);
        while (!e->done)
            pthread_cond_wait(&e->cv, &e->mu);
        pthread_mutex_unlock(&e->mu);
    }
    return r.status ? r.status : 500;
}

static int on_init_connection(const struct mg_connection *conn, void **conn_data)
{
    sotto_server *s = mg_get_user_data(mg_get_context(conn));
    *conn_data = NULL;
    if (s)
        __atomic_add_fetch(&s->metrics.open_connections, 1, __ATOMIC_RELAXED);
    return 0;
}

static void on_connection_closed(const struct mg_connection *conn)
{
    sotto_server *s = mg_get_user_data(mg_get_context(conn));
    if (s)
        __atomic_sub_fetch(&s->metrics.open_connections, 1, __ATOMIC_RELAXED);
}

/* CivetWeb's own log lines become JSON lines too (they may name internal paths, but
 * only on the server's stderr, never in a response). */
static int on_log_message(const struct mg_connection *conn, const char *message)
{
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"level\":\"warn\",\"msg\":");
    sotto_buf_json_string(&b, message);
    sotto_buf_puts(&b, ",\"source\":\"http\"}\n");
    log_line(&b);
    sotto_buf_free(&b);
    return 1;
}

/* Library log messages as JSON lines too, so stderr is one JSON object per line. */
static void json_log_sink(void *user, sotto_log_level level, const char *msg)
{
    static const char *names[] = {"debug", "info", "warn", "error", "silent"};
    sotto_buf b = SOTTO_BUF_INIT;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sotto_buf_printf(&b, "{\"ts\":%.3f,\"level\":\"%s\",\"msg\":", (double)ts.tv_sec + ts.tv_nsec / 1e9,
                     names[level <= SOTTO_LOG_SILENT ? level : SOTTO_LOG_ERROR]);
    sotto_buf_json_string(&b, msg);
    sotto_buf_puts(&b, "}\n");
    log_line(&b);
    sotto_buf_free(&b);
}

/* The RTF histogram: jobs submitted here are checked until they are terminal. */
void server_watch_job(sotto_server *s, const char *id)
{
    pthread_mutex_lock(&s->watch_mu);
    if (s->n_watch == s->cap_watch && s->cap_watch < 100000) {
        size_t nc = s->cap_watch ? s->cap_watch * 2 : 64;
        void *nw = realloc(s->watch_ids, nc * sizeof *s->watch_ids);
        if (nw) {
            s->watch_ids = nw;
            s->cap_watch = nc;
        }
    }
    if (s->n_watch < s->cap_watch)
        snprintf(s->watch_ids[s->n_watch++], SOTTO_ID_LEN, "%s", id);
    pthread_mutex_unlock(&s->watch_mu);
}

static void *watch_main(void *arg)
{
    sotto_server *s = arg;
    pthread_mutex_lock(&s->watch_mu);
    while (!s->watch_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->watch_cv, &s->watch_mu, &until);
        for (size_t i = 0; i < s->n_watch && !s->watch_stop;) {
            char id[SOTTO_ID_LEN];
            memcpy(id, s->watch_ids[i], SOTTO_ID_LEN);
            pthread_mutex_unlock(&s->watch_mu);
            sotto_job job;
            memset(&job, 0, sizeof job);
            int rc = sotto_store_job_get(s->store, -1, id, &job);
            int done = rc == SOTTO_ENOENT || (rc == 0 && sotto_job_status_terminal(job.status));
            if (rc == 0 && job.status == SOTTO_JOB_COMPLETE && job.metrics_json) {
                sotto_json *m = NULL;
                if (sotto_json_parse(job.metrics_json, strlen(job.metrics_json), NULL, &m) == 0) {
                    double rtf = sotto_json_number(sotto_json_get(m, "rtf"), -1);
                    if (rtf >= 0)
                        metrics_observe_rtf(&s->metrics, rtf);
                    sotto_json_free(m);
                }
            }
            if (rc == 0)
                sotto_job_clear(&job);
            pthread_mutex_lock(&s->watch_mu);
            if (done && i < s->n_watch && !strcmp(s->watch_ids[i], id)) {
                memmove(s->watch_ids[i], s->watch_ids[i + 1],
                        (s->n_watch - i - 1) * sizeof *s->watch_ids);
                s->n_watch--;
            } else {
                i++;
            }
        }
    }
    pthread_mutex_unlock(&s->watch_mu);
    return NULL;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
    }
    return error_set(SOTTO_EACCES, "cannot create directory %s: %s", path, strerror(errno));
}

static int start_http(sotto_server *s, const char *host, int port)
{
    char ports[96], threads[16];
    if (host[0] && strcmp(host, "*") != 0)
        snprintf(ports, sizeof ports, "%s:%d", host, port);
    else
        snprintf(ports, sizeof ports, "%d", port);
    snprintf(threads, sizeof threads, "%d", s->opt.http_threads);
    const char *copts[] = {"listening_ports", ports, "num_threads", threads,
                           "enable_keep_alive", "yes", "request_timeout_ms", "120000",
                           "keep_alive_timeout_ms", "5000", "tcp_nodelay", "1", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.init_connection = on_init_connection;
    cb.connection_closed = on_connection_closed;
    cb.log_message = on_log_message;
    cb.init_thread = on_init_thread;
    cb.exit_thread = on_exit_thread;
    struct mg_init_data init = {&cb, s, copts};
    char etext[256] = "";
    unsigned ecode = 0;
    struct mg_error_data err = {&ecode, etext, sizeof etext};
    s->ctx = mg_start2(&init, &err);
    if (!s->ctx)
        return error_set(SOTTO_EIO, "cannot listen on %s: %s", s->listen,
                         etext[0] ? etext : "CivetWeb failed to start");
    mg_set_request_handler(s->ctx, "/", dispatch, s);
    int rc = listen_start(s);
    if (rc)
        return rc;
    struct mg_server_port sp[4];
    int n = mg_get_server_ports(s->ctx, 4, sp);
    s->port = n > 0 ? sp[0].port : port;
    return 0;
}

/* Warm sphinx stream decoders while the server already answers (sotto_server_start). */
static void *warm_main(void *arg)
{
    sotto_server *s = arg;
    listen_warm_streams(s, s->opt.warm_streams, &s->warm_stop);
    return NULL;
}

int sotto_server_start(const sotto_server_options *o, sotto_server **out)
{
    *out = NULL;
    char host[64];
    int port, rc;
    if ((rc = config_parse_listen(o->listen, host, sizeof host, &port)))
        return rc;
    if (o->warm_streams < 0 || o->warm_streams > SOTTO_ASR_WARM_MAX)
        return error_set(SOTTO_EINVAL, "warm_streams must be from 0 to %d, not %d",
                         SOTTO_ASR_WARM_MAX, o->warm_streams);
    int loopback = !strncmp(host, "127.", 4);
    if (!o->auth && !loopback)
        return error_set(SOTTO_EINVAL, "--auth off is allowed only on a loopback address "
                                       "(127.0.0.1), not on '%s'", o->listen);
    sotto_server *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory");
    s->opt = *o;
    memset(s->opt.owned_, 0, sizeof s->opt.owned_);
    s->listen = str_dup(o->listen);
    s->data_dir = str_dup(o->data_dir);
    s->model = str_dup(o->model);
    s->opt.listen = s->listen;
    s->opt.data_dir = s->data_dir;
    s->opt.model = s->model;
    s->loopback = loopback;
    s->t_start = time_now();
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    metrics_init(&s->metrics);
    pthread_mutex_init(&s->watch_mu, NULL);
    pthread_cond_init(&s->watch_cv, NULL);
    size_t dl = strlen(o->data_dir) + 32;
    char *db = malloc(dl);
    s->uploads_dir = malloc(dl);
    if (!s->listen || !s->data_dir || (o->model && !s->model) || !db || !s->uploads_dir) {
        free(db);
        sotto_server_stop(s);
        return error_set(SOTTO_ENOMEM, "out of memory");
    }
    snprintf(db, dl, "%s/sotto.db", o->data_dir);
    snprintf(s->uploads_dir, dl, "%s/uploads", o->data_dir);
    if (pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        rc = error_set(SOTTO_EIO, "pipe: %s", strerror(errno));
    if (!rc)
        rc = make_dir(o->data_dir);
    if (!rc)
        rc = make_dir(s->uploads_dir);
    if (!rc)
        rc = sotto_store_open(db, &s->store);
    free(db);
    if (!rc)
        rc = limits_new(&o->limits, &s->limits);
    if (!rc) {
        sotto_jobs_options jo;
        sotto_jobs_options_init(&jo);
        jo.n_workers = o->workers > 0 ? o->workers : 1;
        jo.model = s->model;
        jo.max_queue = o->limits.max_queue;
        rc = sotto_jobs_start(s->store, &jo, &s->jobs);
    }
    if (!rc && o->log_requests)
        sotto_log_set_sink(json_log_sink, NULL);
    if (!rc) {
        if (pthread_create(&s->watch_thread, NULL, watch_main, s) == 0)
            s->watch_started = 1;
        rc = start_http(s, host, port);
    }
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", sotto_last_error());
        sotto_server_stop(s);
        return error_set(rc, "%s", msg);
    }
    /* only when streams default to sphinx: a Whisper server's streams would not use them */
    if (o->warm_streams > 0 && !s->model &&
        pthread_create(&s->warm_thread, NULL, warm_main, s) == 0)
        s->warm_started = 1;
    *out = s;
    return 0;
}

int sotto_server_port(const sotto_server *s)
{
    return s ? s->port : -1;
}

void sotto_server_request_stop(sotto_server *s)
{
    if (s && s->stop_pipe[1] >= 0) {
        char c = 1;
        ssize_t k = write(s->stop_pipe[1], &c, 1);
        (void)k;
    }
}

void sotto_server_wait(sotto_server *s)
{
    if (!s)
        return;
    struct pollfd p = {s->stop_pipe[0], POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

void sotto_server_stop(sotto_server *s)
{
    if (!s)
        return;
    if (s->ctx) {
        /* Drain first: CivetWeb refuses writes once mg_stop has begun, so requests in
         * flight (a synchronous transcription, an SSE stream) finish while new ones are
         * answered 503; then mg_stop closes the listener and joins its threads. */
        __atomic_store_n(&s->draining, 1, __ATOMIC_SEQ_CST);
        double until = time_now() + s->opt.limits.sync_timeout_s + 5;
        while (__atomic_load_n(&s->in_flight, __ATOMIC_SEQ_CST) > 0 && time_now() < until)
            usleep(20000);
        mg_stop(s->ctx);
    }
    if (s->warm_started) {
        __atomic_store_n(&s->warm_stop, 1, __ATOMIC_SEQ_CST);
        pthread_join(s->warm_thread, NULL); /* before listen_stop frees its recognizer */
    }
    listen_stop(s); /* dropped streams save their tails while the store is open */
    if (s->watch_started) {
        pthread_mutex_lock(&s->watch_mu);
        s->watch_stop = 1;
        pthread_cond_signal(&s->watch_cv);
        pthread_mutex_unlock(&s->watch_mu);
        pthread_join(s->watch_thread, NULL);
    }
    sotto_jobs_stop(s->jobs, 1);
    sotto_store_close(s->store);
    if (s->opt.log_requests && s->store)
        sotto_log_set_sink(NULL, NULL);
    limits_free(s->limits);
    metrics_free(&s->metrics);
    pthread_mutex_destroy(&s->watch_mu);
    pthread_cond_destroy(&s->watch_cv);
    for (int i = 0; i < 2; i++)
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
    free(s->watch_ids);
    free(s->listen);
    free(s->data_dir);
    free(s->model);
    free(s->uploads_dir);
    free(s);
}
