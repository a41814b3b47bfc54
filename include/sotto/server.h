/*
 * server.h - `sotto serve`: the HTTP API in one process (CivetWeb), over the store
 * (SQLite file under the data dir) and the job runner (PocketSphinx by default, Whisper
 * when a model is configured).
 *
 * Endpoints (docs/server.md): OpenAI-compatible /v1/audio/transcriptions|translations and
 * /v1/models, durable jobs (/v1/jobs), conversation history (/v1/sessions, /v1/search),
 * /health and /metrics. I/O threads never run recognition: every transcription is a job
 * in the store's queue that worker threads run; synchronous requests wait for their job.
 *
 * Configuration comes, in increasing precedence, from defaults, a JSON config file
 * (sotto_server_config_load), SOTTO_* environment variables (sotto_server_config_env)
 * and whatever the caller sets afterwards (command-line flags).
 *
 * Ownership: the options struct holds borrowed strings unless filled by
 * sotto_server_config_load, which keeps them in the options' own storage (free with
 * sotto_server_options_free). sotto_server_start copies what it needs.
 */
#ifndef SOTTO_SERVER_H
#define SOTTO_SERVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_server_limits {
    size_t max_upload_bytes;   /* per upload; larger bodies get 413 (default 200 MiB) */
    double rate_per_s;         /* per-key token bucket refill, requests/s (default 20) */
    double rate_burst;         /* bucket size (default 40) */
    int max_conns_per_ip;      /* requests in flight per client address (default 64) */
    size_t max_queue;          /* PENDING jobs before 429/503 (default 100) */
    double sync_timeout_s;     /* how long a synchronous transcription waits (default 600) */
    size_t max_json_bytes;     /* JSON request bodies (default 1 MiB) */
    int max_streams;           /* live WebSocket streams (/v1/listen); 0 = automatic, the
                                  default: http_threads - 4 (half of them up to 8 threads),
                                  which is also the most that is honoured */
} sotto_server_limits;

typedef struct sotto_server_options {
    const char *listen;        /* "127.0.0.1:8080"; port 0 picks a free port */
    const char *data_dir;      /* store file, uploads (default "./sotto-data") */
    const char *model;         /* default Whisper model file; NULL = PocketSphinx */
    int auth;                  /* 1: every /v1 request needs a key (default); 0 only on loopback */
    int http_threads;          /* CivetWeb worker threads (default 32) */
    int workers;               /* job worker threads (default 1) */
    int log_requests;          /* one JSON line per request on stderr (default 1) */
    int warm_streams;          /* PocketSphinx stream decoders made ready in the background
                                  once listening, so the first streams start at once (each
                                  about 95 MB and 0.3-0.5 s CPU; only when streams default to
                                  sphinx, i.e. no model): 0..256, default 0 here (`sotto
                                  serve` defaults to the number of cores) */
    sotto_server_limits limits;
    char *owned_[4];           /* strings owned by the options (config file values) */
} sotto_server_options;

void sotto_server_options_init(sotto_server_options *o);
/* Free strings the options own (from a config file). The struct can be reused. */
void sotto_server_options_free(sotto_server_options *o);

/* Read a JSON config file into o (keys: listen, data_dir, model, auth, http_threads,
 * workers, log_requests, warm_streams, limits{max_upload_mb, rate_per_s, rate_burst,
 * max_conns_per_ip, max_queue, sync_timeout_s, max_json_kb, max_streams}). Unknown keys and wrong types are
 * errors that name the key: SOTTO_EINVAL / SOTTO_EFORMAT with the message in
 * sotto_last_error(). */
int sotto_server_config_load(sotto_server_options *o, const char *path);
/* Apply SOTTO_LISTEN, SOTTO_DATA, SOTTO_MODEL, SOTTO_AUTH (on|off), SOTTO_WORKERS,
 * SOTTO_MAX_UPLOAD_MB, SOTTO_RATE_PER_S, SOTTO_RATE_BURST, SOTTO_MAX_QUEUE,
 * SOTTO_MAX_CONNS_PER_IP, SOTTO_MAX_STREAMS, SOTTO_WARM_STREAMS. Bad values are
 * SOTTO_EINVAL naming the variable. */
int sotto_server_config_env(sotto_server_options *o);

typedef struct sotto_server sotto_server;

/* Validate the options, open the store under data_dir, start the job runner and listen.
 * Fails with a one-line message (port in use, --auth off on a public address, ...).
 * With warm_streams > 0 (and no model), a background thread then loads the sphinx
 * recognizer that /v1/listen streams share and makes that many stream decoders ready;
 * it logs "warmed N sphinx stream decoders in X s" (a warning if it cannot). */
int sotto_server_start(const sotto_server_options *o, sotto_server **out);
/* The port actually listened on (useful with port 0). */
int sotto_server_port(const sotto_server *s);
/* Ask a running server to stop; async-signal-safe (may be called from a signal handler). */
void sotto_server_request_stop(sotto_server *s);
/* Block until sotto_server_request_stop is called. */
void sotto_server_wait(sotto_server *s);
/* Stop accepting, drain in-flight requests, stop the job runner (running jobs go back to
 * the queue for the next start), close the store, free. NULL is a no-op. */
void sotto_server_stop(sotto_server *s);

#ifdef __cplusplus
}
#endif
#endif
