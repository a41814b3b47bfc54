/*
 * server_int.h - structs and helpers shared by the files of the server module (not public).
 *
 * One sotto_server per process: options, store, job runner, CivetWeb context, limits and
 * metrics. One srv_req per HTTP request: the connection, the request id, the caller, the
 * route matched (for logs and metrics) and the status sent.
 */
#ifndef SOTTO_SERVER_INT_H
#define SOTTO_SERVER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "sotto/buf.h"
#include "sotto/jobs.h"
#include "sotto/json.h"
#include "sotto/server.h"
#include "sotto/store.h"

struct mg_connection;
struct mg_context;
struct mg_request_info;

/* ---- metrics (routes_health.c) ---------------------------------------------------- */
#define METRICS_MAX_SERIES 256
#define METRICS_LAT_BUCKETS 12
#define METRICS_RTF_BUCKETS 10

typedef struct metrics_series {
    const char *route; /* static route template string */
    const char *method;
    int status;
    uint64_t count;
} metrics_series;

typedef struct srv_metrics {
    pthread_mutex_t mu;
    metrics_series series[METRICS_MAX_SERIES];
    size_t n_series;
    uint64_t lat_buckets[METRICS_LAT_BUCKETS + 1]; /* last = +Inf */
    double lat_sum;
    uint64_t lat_count;
    uint64_t rtf_buckets[METRICS_RTF_BUCKETS + 1];
    double rtf_sum;
    uint64_t rtf_count;
    long open_connections;
} srv_metrics;

void metrics_init(srv_metrics *m);
void metrics_free(srv_metrics *m);
void metrics_observe_request(srv_metrics *m, const char *method, const char *route, int status,
                             double latency_s);
void metrics_observe_rtf(srv_metrics *m, double rtf);

/* ---- limits (limits.c) -------------------------------------------------------------- */
typedef struct srv_limits srv_limits;
int limits_new(const sotto_server_limits *cfg, srv_limits **out);
void limits_free(srv_limits *l);
/* Take one token from the key's bucket; 0 ok, else seconds until a token (>= 1). */
int limits_take(srv_limits *l, int64_t user_id);
/* Count a request in flight from addr; 0 ok, -1 over the cap (then do not call leave). */
int limits_enter(srv_limits *l, const char *addr);
void limits_leave(srv_limits *l, const char *addr);

/* ---- the server ---------------------------------------------------------------------- */
typedef struct listen_state listen_state; /* listen_int.h: live streams (/v1/listen) */

struct sotto_server {
    sotto_server_options opt; /* strings below are owned copies */
    char *listen, *data_dir, *model;
    char *uploads_dir;
    sotto_store *store;
    sotto_jobs *jobs;
    struct mg_context *ctx;
    int port;
    int loopback;             /* bound to a loopback address only */
    int draining;             /* stopping: new requests get 503 (atomic) */
    long in_flight;           /* requests being handled (atomic) */
    srv_metrics metrics;
    srv_limits *limits;
    double t_start;
    /* stop request: a self-pipe so a signal handler can wake sotto_server_wait */
    int stop_pipe[2];
    /* jobs submitted here that have not been seen terminal yet (for the RTF histogram) */
    pthread_mutex_t watch_mu;
    pthread_cond_t watch_cv;
    char (*watch_ids)[SOTTO_ID_LEN];
    size_t n_watch, cap_watch;
    int watch_stop;
    pthread_t watch_thread;
    int watch_started;
    listen_state *streams;    /* WebSocket streams; NULL until listen_start */
    /* background warm-up of sphinx stream decoders (opt.warm_streams): set warm_stop
     * (atomic) and join before listen_stop frees the recognizers */
    pthread_t warm_thread;
    int warm_started;
    int warm_stop;
};

typedef struct srv_req {
    sotto_server *srv;
    struct mg_connection *conn;
    const struct mg_request_info *ri;
    char id[24];            /* request id, also sent as X-Request-Id */
    sotto_user user;        /* the caller (id 0 = anonymous when auth is off) */
    int authed;
    const char *route;      /* route template for logs/metrics */
    const char *param;      /* {id} from the path, if the route has one */
    char param_buf[128];
    int status;             /* status sent (0 until a response starts) */
    int retry_after;        /* seconds for Retry-After on a 429 (0 = 1) */
    double t0;
} srv_req;

/* ---- http.c: responses and request helpers ------------------------------------------- */
/* Send a complete response with Content-Length and X-Request-Id. */
int http_send(srv_req *r, int status, const char *content_type, const void *body, size_t len);
int http_send_json(srv_req *r, int status, const sotto_buf *b);
/* {"error": {"code", "message", "type", "request_id"}} with status. Returns status. */
int http_error(srv_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Map a libsotto error code (with sotto_last_error()) to an HTTP error response. */
int http_error_rc(srv_req *r, int rc);
/* Start a chunked response (SSE) with extra header lines; then http_chunk, http_chunk_end. */
int http_start_chunked(srv_req *r, int status, const char *content_type);
int http_chunk(srv_req *r, const char *data, size_t len);
int http_chunk_end(srv_req *r);
/* Read the whole body up to cap bytes (caller frees *out). Sends 413/400 itself and
 * returns -1 when it did. */
int http_read_body(srv_req *r, size_t cap, char **out, size_t *len);
/* Read and parse a JSON object body; sends the error and returns -1 on failure. */
int http_read_json(srv_req *r, sotto_json **out);
/* Query-string parameter (URL-decoded) into buf: 1 found, 0 absent, -1 too long. */
int http_query(srv_req *r, const char *name, char *buf, size_t size);
/* Integer query parameter in [lo, hi] (default when absent); sends 400 and returns -1. */
int http_query_long(srv_req *r, const char *name, long lo, long hi, long dflt, long *out);
const char *http_header(srv_req *r, const char *name);
/* Append a parsed JSON value back out as JSON text. */
int json_emit(sotto_buf *b, const sotto_json *v);
/* Append "key": then a raw JSON text (or null when text is NULL/empty). */
int json_put_raw(sotto_buf *b, const char *key, const char *json_text);
/* Replace server paths in a message by "the upload" (for anything a client sees). */
void server_scrub(const sotto_server *s, const char *in, char *out, size_t n);
/* Fill buf with n random lowercase hex characters (NUL-terminated; buf has n+1 bytes). */
void random_hex(char *buf, size_t n);

/* ---- auth.c ---------------------------------------------------------------------------- */
/* Authenticate the request (Bearer or X-API-Key). 0 ok; otherwise the 401 was sent. */
int auth_check(srv_req *r);

/* ---- upload.c ---------------------------------------------------------------------------- */
typedef struct upload_field {
    char name[64];
    char *value; /* NUL-terminated */
} upload_field;

typedef struct upload {
    char *path;           /* the stored file (generated name), NULL when no file part */
    char client_name[256];
    upload_field *fields;
    size_t n_fields;
    double duration_s;    /* from the probe, -1 unknown */
} upload;

/* Read a multipart/form-data body: the "file" part to <uploads>/<random>, other parts as
 * fields. Checks size (413), content type by magic bytes and decoder probe (415/422).
 * require_file: 400 when no file part. Returns 0, or -1 after sending the error (and
 * removing any partial file). */
int upload_receive(srv_req *r, int require_file, upload *out);
const char *upload_field_get(const upload *u, const char *name);
/* All values of a repeated field (e.g. "timestamp_granularities[]"), in order. */
size_t upload_field_count(const upload *u, const char *name);
const char *upload_field_at(const upload *u, const char *name, size_t i);
/* Free fields; with remove_file, delete the stored file too. */
void upload_clear(upload *u, int remove_file);

/* ---- page.c: limit/offset lists -------------------------------------------------------- */
typedef struct srv_page {
    long limit;  /* ?limit=, 1..1000 */
    long offset; /* ?offset=, 0..2^30 */
} srv_page;
/* Parse ?limit= (dflt_limit when absent) and ?offset= (0). 0 ok; -1 after sending a 400. */
int page_parse(srv_req *r, long dflt_limit, srv_page *p);
/* Writes one list item (a JSON object) to b; ctx is page_send's. */
typedef void (*page_item_fn)(sotto_buf *b, const void *item, const void *ctx);
/* Send 200 {"object":"list","data":[...],"total","limit","offset","has_more"} with the n
 * items (each item_size bytes; the caller keeps owning the array) written by put, or a
 * 500 when out of memory. Returns the status sent. */
int page_send(srv_req *r, const srv_page *p, const void *items, size_t n, size_t item_size,
              size_t total, page_item_fn put, const void *ctx);

/* ---- routes ------------------------------------------------------------------------------ */
int route_health(srv_req *r);
int route_metrics(srv_req *r);
int route_models(srv_req *r);
int route_transcribe(srv_req *r);   /* POST /v1/audio/transcriptions */
int route_translate(srv_req *r);    /* POST /v1/audio/translations */
int route_job_submit(srv_req *r);
int route_job_get(srv_req *r);
int route_job_list(srv_req *r);
int route_job_delete(srv_req *r);
int route_session_create(srv_req *r);
int route_session_get(srv_req *r);
int route_session_list(srv_req *r);
int route_session_end(srv_req *r);
int route_session_delete(srv_req *r);
int route_message_append(srv_req *r);
int route_message_list(srv_req *r);
int route_session_export(srv_req *r);
int route_session_stats(srv_req *r);
int route_search(srv_req *r);
int route_user_add(srv_req *r);     /* admin */
int route_key_new(srv_req *r);      /* admin */

/* listen.c: GET /v1/listen (WebSocket). listen_start registers the handler on s->ctx
 * (and fails on a negative limits.max_streams); listen_stop (after mg_stop) waits until
 * dropped streams have saved their tails, then frees the shared recognizers.
 * route_listen answers a plain GET with 426. listen_get_counts gives /metrics the
 * connections holding a stream slot, the slot limit and the streams started so far. */
int listen_start(sotto_server *s);
void listen_stop(sotto_server *s);
int route_listen(srv_req *r);
void listen_get_counts(sotto_server *s, int *active, int *max_streams, uint64_t *started);
/* listen_conn.c: load the sphinx recognizer streams share (backend "sphinx", no language,
 * transcribe) and make n of its stream decoders ready, one at a time, until done or *stop
 * (read atomically) is set; logs "warmed N sphinx stream decoders in X s", or a warning
 * when the model is missing or a decoder cannot be made. Slow: run it on its own thread,
 * after listen_start. */
void listen_warm_streams(sotto_server *s, int n, const int *stop);

/* routes_jobs.c, shared with routes_openai.c: submit an upload as a job for r->user
 * (remembers it for metrics). On success the file belongs to the job (u->path becomes
 * NULL; the fields stay until upload_clear). On failure the upload is cleared and removed,
 * the error (429/503/4xx) is sent, and -1 returned. */
int jobs_submit_upload(srv_req *r, upload *u, const char *options_json, int sync,
                       char out_id[SOTTO_ID_LEN]);
/* Map a client's model name (sphinx, whisper, whisper-1) to a backend (NULL = default);
 * sends 400 and returns -1 for unknown names. Never a file path from a client. */
int jobs_backend_for_model(srv_req *r, const char *model, const char **backend);
/* Remove an upload file, only if it lies under the uploads dir. */
void server_remove_upload(sotto_server *s, const char *path);
/* Remember a job id so its completion is observed for the RTF histogram. */
void server_watch_job(sotto_server *s, const char *id);

/* config.c helper: parse "HOST:PORT" (HOST may be empty, "*", or an IPv4 address). */
int config_parse_listen(const char *listen, char *host, size_t host_size, int *port);

#endif
