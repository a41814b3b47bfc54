/*
 * listen_int.h - what the two halves of GET /v1/listen share (not public, not for the rest
 * of the server, which sees only listen_start/listen_stop/listen_get_counts in
 * server_int.h):
 *
 *  - listen.c:      the CivetWeb handlers, writing frames, control messages;
 *  - listen_conn.c: the shared recognizers, starting a stream and its session, delivering
 *                   its events, and finishing a stream after its connection is gone.
 *
 * Threads and locks: listen_state.mu guards everything in listen_state; listen_conn.mu
 * guards conn and closed (every socket write holds it). The rest of a listen_conn belongs
 * to whichever thread holds the connection: CivetWeb's connection thread until the close
 * handler, then the finisher thread.
 */
#ifndef SOTTO_LISTEN_INT_H
#define SOTTO_LISTEN_INT_H

#include <pthread.h>
#include <stdint.h>

#include "server/listen_msg.h"
#include "server/server_int.h"
#include "sotto/stream.h"

#define LISTEN_MAX_ASR 8 /* distinct recognizers kept */

typedef struct listen_asr_entry {
    char backend[16], language[16];
    int translate;
    sotto_asr *asr;
} listen_asr_entry;

struct listen_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    listen_asr_entry asrs[LISTEN_MAX_ASR];
    size_t n_asrs;
    int active;                         /* connections counted against max_streams */
    int finishing;                      /* finisher threads running */
    struct listen_conn *finishing_list; /* their connections (linked by next) */
    int max_streams;
    uint64_t started;                   /* streams started since the server started */
};

typedef struct listen_conn {
    sotto_server *srv;
    struct mg_connection *conn;
    pthread_mutex_t mu;       /* guards conn writes and closed */
    int closed;               /* the close handler ran: never write again */
    int counted;              /* holds one of max_streams */
    int refused;              /* an error closed it: ignore further frames */
    sotto_user user;
    listen_params params;
    sotto_stream *stream;
    listen_resampler rs;
    float *pcm, *rpcm;
    size_t cap_pcm, cap_rpcm;
    char session_id[SOTTO_ID_LEN];
    double offset;            /* session time where this stream starts */
    double last_stats;        /* wall time of the last stats event sent */
    struct listen_conn *next; /* in listen_state.finishing_list */
} listen_conn;

/* ---- listen.c: frames ------------------------------------------------------------------ */
/* Send a text frame, unless the connection has been closed (then nothing happens). */
void listen_send(listen_conn *c, const char *text, size_t len);
/* Send a binary frame (a MessagePack message), likewise. */
void listen_send_binary(listen_conn *c, const char *data, size_t len);
/* An {"type":"error"} event: a JSON text frame, or a msgpack binary frame once the
 * parameters ask for encoding=msgpack (as every other message the server sends). */
void listen_send_error(listen_conn *c, const char *code, const char *message);
/* Run fn(arg) on a thread with an 8 MiB stack and wait for it: CivetWeb's threads have
 * small stacks, the recognizer and the store need more. When fn fails and err holds a
 * message, that message is set on the calling thread too (messages are per thread). */
int listen_run_big(int (*fn)(void *), void *arg, const char *err);

/* ---- listen_conn.c ---------------------------------------------------------------------- */
/* Start c's stream from c->params (run it with listen_run_big): pick the recognizer, make
 * the stream, then create the session or continue one (waiting for an earlier connection
 * of that session to finish its tail). On failure err_code/err hold what the client is
 * told and c->stream may be non-NULL (free it). */
typedef struct listen_start_ctx {
    listen_conn *c;
    char err_code[32];
    char err[512];
} listen_start_ctx;
int listen_conn_start(void *start_ctx);

/* The stream's event callback: finals are saved to the session before they are sent;
 * stats go out at most twice a second (except the last, after last_stats = 0). */
void listen_on_event(void *user, const sotto_stream_event *ev);

/* The close handler's half: give back the stream slot, then free c now (no stream) or
 * hand it to a finisher thread that recognizes and saves the tail, then frees it. */
void listen_conn_release(listen_conn *c);
void listen_conn_free(listen_conn *c);

/* The per-server state: max_streams computed by the caller. listen_state_free waits for
 * every finisher (call it after mg_stop, while the store is open). */
int listen_state_new(int max_streams, listen_state **out);
void listen_state_free(listen_state *L);

#endif
