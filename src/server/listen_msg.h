/*
 * listen_msg.h - the pure parts of GET /v1/listen (no sockets, no threads), so that they
 * can be unit-tested and fuzzed on their own:
 *
 *  - stream parameters from the query string or from the first {"type":"start"} message;
 *  - control messages (start, flush, stop, ping) parsed from a text frame;
 *  - binary frames (s16le / f32le) checked and turned into float samples;
 *  - a streaming resampler (windowed sinc) from any rate to 16 kHz;
 *  - error events as JSON text frames (stream events: sotto_stream_event_json).
 *
 * Every parse error is SOTTO_EINVAL with a one-line message (sotto_last_error()) that the
 * server sends to the client as an error event.
 */
#ifndef SOTTO_LISTEN_MSG_H
#define SOTTO_LISTEN_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/buf.h"
#include "sotto/store.h"
#include "sotto/stream.h"

#define LISTEN_MIN_RATE 4000
#define LISTEN_MAX_RATE 384000
#define LISTEN_MAX_TEXT 4096     /* prompt / terms bytes */
#define LISTEN_MAX_CONTROL 65536 /* a text frame longer than this is refused */

typedef enum listen_format { LISTEN_S16LE = 0, LISTEN_F32LE = 1 } listen_format;

typedef struct listen_params {
    char model[32];           /* "sphinx", "whisper", "whisper-1", "default", "" */
    char language[16];        /* "" = recognizer's default */
    int translate;            /* task=translate */
    sotto_stream_policy policy;
    listen_format format;
    int sample_rate;          /* Hz of the client's audio (default 16000) */
    char session_id[SOTTO_ID_LEN]; /* "" = new session */
    char domain[32];          /* "" = none */
    char *prompt, *terms;     /* owned, NULL = none */
    int msgpack;              /* encoding=msgpack: events go as binary msgpack frames */
    int early_commit;         /* early_commit=1|0: see sotto_stream_options */
} listen_params;

void listen_params_init(listen_params *p);
void listen_params_clear(listen_params *p); /* frees strings; the struct can be reused */

/* Set one parameter by name ("model"/"backend", "language", "task", "policy", "format"/
 * "sample_format", "sample_rate"/"rate", "session_id"/"session", "prompt", "domain",
 * "terms", "encoding", "early_commit"). Unknown names and bad values are SOTTO_EINVAL. */
int listen_params_set(listen_params *p, const char *key, const char *value, size_t value_len);

/* Apply a URL query string ("a=b&c=d", percent/plus-decoded). Keys in skip (NULL-ended
 * list, e.g. {"api_key", NULL}) are ignored. */
int listen_params_from_query(listen_params *p, const char *query, const char *const *skip);

typedef enum listen_msg_type {
    LISTEN_MSG_START = 1,
    LISTEN_MSG_FLUSH,
    LISTEN_MSG_STOP,
    LISTEN_MSG_PING
} listen_msg_type;

typedef struct listen_msg {
    listen_msg_type type;
    char id[64];              /* ping: echoed in the pong when given (string or number) */
} listen_msg;

/* Parse a text frame (a JSON object with "type"). For "start", the other members are
 * applied to params (which may hold the query's values); other types leave params alone.
 * Invalid JSON, a missing or unknown type, or a bad parameter is SOTTO_EINVAL. */
int listen_msg_parse(const char *text, size_t len, listen_params *params, listen_msg *out);

/* Convert a binary frame into float samples (*out grown with realloc, *cap its size in
 * samples). s16le needs an even byte count, f32le a multiple of 4 and finite samples;
 * otherwise SOTTO_EINVAL and nothing is returned. */
int listen_pcm_convert(listen_format f, const void *data, size_t len, float **out, size_t *cap,
                       size_t *n);

/* Streaming resampler to 16 kHz (windowed sinc, cutoff below the lower Nyquist rate).
 * Output depends only on the input samples, not on how they were split into calls. */
typedef struct listen_resampler {
    int in_rate;
    int half;           /* taps on each side, in input samples */
    double fc;          /* cutoff as a fraction of the input Nyquist rate */
    float *hist;        /* input kept for the filter */
    size_t n_hist, cap_hist;
    int64_t hist_base;  /* absolute input index of hist[0] */
    int64_t n_out;      /* output samples produced so far */
    int64_t n_in;       /* input samples received so far */
} listen_resampler;

int listen_resampler_init(listen_resampler *r, int in_rate);
void listen_resampler_free(listen_resampler *r);
/* Feed n input samples; *out (grown with realloc, *cap samples) receives *n_out samples.
 * flush = 1 at the end of input: pads with zeros so the tail comes out. */
int listen_resampler_run(listen_resampler *r, const float *in, size_t n, int flush, float **out,
                         size_t *cap, size_t *n_out);

/* {"type":"error","code":...,"message":...} (no newline). */
int listen_error_json(sotto_buf *b, const char *code, const char *message);

#endif
