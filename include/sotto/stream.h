/*
 * stream.h - live recognition: audio arrives in pieces, captions leave within a second or
 * two, and final text is append-only (never revised, never repeated).
 *
 * A sotto_stream sits between a source of audio (a WebSocket, a growing file, a
 * microphone, a file paced like live audio) and a recognizer (asr.h). It runs the VAD
 * (vad.h) so that silence never reaches the recognizer, keeps 1 s of pre-roll, and runs a
 * policy that decides which words are safe to publish:
 *
 *  - native:          the recognizer streams by itself (PocketSphinx partials/finals);
 *  - local_agreement: LocalAgreement-2 over re-decodes of a buffer (any recognizer);
 *  - align_att:       Whisper's cross-attention decides which tokens are safe (Whisper);
 *  - auto:            native for sphinx, align_att for whisper.
 *
 * Context carries across pauses: a static part (domain terms, custom terms, a prompt) that
 * is never trimmed, plus recent committed text trimmed from the front by whole words.
 * docs/streaming.md gives every parameter with its default and the measured figures.
 *
 * Threading: with options.threaded = 0 every call runs on the caller's thread and events
 * are delivered from inside sotto_stream_feed/flush/finish. With threaded = 1, feed only
 * copies the samples into an inbox and returns; a worker thread owned by the stream runs
 * updates, each taking everything that arrived during the previous one (so a slow machine
 * gets larger updates instead of a growing queue), and delivers events from that thread.
 * sotto_stream_finish() waits until all audio fed has been recognized in both modes.
 * The recognizer may be shared by several streams (asr.c serializes whole-buffer calls).
 */
#ifndef SOTTO_STREAM_H
#define SOTTO_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/asr.h"
#include "sotto/buf.h"
#include "sotto/transcript.h"
#include "sotto/vad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sotto_stream_policy {
    SOTTO_POLICY_AUTO = 0,
    SOTTO_POLICY_NATIVE = 1,
    SOTTO_POLICY_LOCAL_AGREEMENT = 2,
    SOTTO_POLICY_ALIGN_ATT = 3
} sotto_stream_policy;

/* "auto", "native", "local_agreement", "align_att" (and back). Unknown names are
 * SOTTO_EINVAL with a message listing the valid ones. */
int sotto_stream_policy_parse(const char *name, sotto_stream_policy *out);
const char *sotto_stream_policy_name(sotto_stream_policy p);

typedef struct sotto_stream_options {
    sotto_stream_policy policy; /* default auto */
    int threaded;               /* 1: a worker thread runs the updates (see above) */
    int use_vad;                /* default 1; 0 sends everything to the recognizer */
    sotto_vad_options vad;      /* defaults of sotto_vad_options_init */
    float preroll_s;            /* audio kept before a detected speech start (default 1.0) */
    float min_chunk_s;          /* new voiced audio that triggers an update (0 = policy's:
                                   1.0 local_agreement, 1.2 align_att, 0.1 native) */
    float trim_s;               /* local_agreement: trim the buffer beyond this (default 15) */
    float max_buffer_s;         /* hard cap on the buffer (default 30, Whisper's window) */
    int tau_frames;             /* align_att: frames kept from the buffer end (default 25) */
    int tau_end_frames;         /* align_att: the same at an utterance's end (default 4) */
    float word_gap_s;           /* word boundary: a word ending closer than this to the
                                   buffer end is not committed mid-utterance (default 0.2) */
    const char *domain;         /* built-in term list: medical, legal, technical, business,
                                   education; NULL = none */
    const char *terms;          /* custom terms, comma-separated; NULL = none */
    const char *prompt;         /* static prompt text; NULL = none */
    int max_context_words;      /* rolling context kept from committed text (default 120,
                                   which stays under Whisper's 223-token prompt limit) */
    int early_commit;           /* native: commit words mid-utterance, every 0.6 s, from a
                                   recognition of the utterance so far that agrees with the
                                   live hypothesis (word latency ~0.7 s of audio instead
                                   of ~1.9 s at the same WER, for about 2.5x the CPU;
                                   default 0) */
    float max_backlog_s;        /* threaded: audio waiting beyond this marks the stream as
                                   degraded (updates grow; default 4) */
    int shed_load;              /* threaded native: while more than max_backlog_s waits
                                   (or the worker waited long for a compute slot: the
                                   cores are short; docs/streaming.md),
                                   finals come from the live decoder alone (no extra
                                   whole-utterance or early-commit passes: about half the
                                   CPU, a point or two of WER) until the backlog is under a
                                   quarter of it; with early_commit, the prefix passes
                                   also pause while more than 0.6 s waits; default 0 (the
                                   server turns it on) */
} sotto_stream_options;

void sotto_stream_options_init(sotto_stream_options *o);

typedef enum sotto_stream_event_type {
    SOTTO_STREAM_SPEECH_START = 1, /* t: where speech starts (pre-roll excluded) */
    SOTTO_STREAM_SPEECH_END = 2,   /* t: where it ended */
    SOTTO_STREAM_PARTIAL = 3,      /* text: the whole unstable tail; replaces the last */
    SOTTO_STREAM_FINAL = 4,        /* a committed segment: segment_id, text, words ... */
    SOTTO_STREAM_STATS = 5         /* stats (after each update) */
} sotto_stream_event_type;

typedef struct sotto_stream_stats {
    double audio_s;         /* audio fed so far */
    double voiced_s;        /* audio that reached the recognizer */
    double compute_s;       /* time spent in the recognizer */
    double rtf;             /* compute_s / audio_s */
    double buffered_s;      /* audio held in the policy's buffer */
    double backlog_s;       /* threaded: audio received and not yet recognized (what
                               waits, or what waited when the batch being recognized
                               was taken) */
    double latency_s;       /* wall time of the last update */
    int64_t updates;        /* recognizer calls made */
    int64_t updates_no_vad; /* calls the same policy would have made without the VAD */
    int degraded;           /* 1 while the stream cannot keep up with real time */
    int shedding;           /* 1 while shed_load skips the extra passes */
    int64_t shed_utterances; /* utterances whose finals came from the live decoder alone */
} sotto_stream_stats;

/* Pointers inside an event are valid only during the callback. */
typedef struct sotto_stream_event {
    sotto_stream_event_type type;
    double t;                /* speech_start / speech_end */
    const char *text;        /* partial / final, UTF-8, no leading space */
    double start, end;       /* partial / final: seconds from the stream start */
    int64_t segment_id;      /* final: 0, 1, 2 ... in order */
    const sotto_word *words; /* final: word times and probabilities */
    size_t n_words;
    const char *language;    /* final: "en", or "" when unknown */
    const sotto_stream_stats *stats; /* stats */
} sotto_stream_event;

typedef void (*sotto_stream_event_fn)(void *user, const sotto_stream_event *ev);

typedef struct sotto_stream sotto_stream;

/* Start a stream on asr (not owned; it must outlive the stream). opts may be NULL for
 * defaults; a policy the recognizer cannot run (align_att on sphinx) is SOTTO_EINVAL.
 * on_event may be NULL. Free with sotto_stream_free(). */
int sotto_stream_new(sotto_asr *asr, const sotto_stream_options *opts, sotto_stream_event_fn on_event,
                     void *user, sotto_stream **out);

/* Append n samples of 16 kHz mono audio (contiguous with earlier feeds). Non-finite
 * samples are SOTTO_EINVAL; feeding after finish is SOTTO_EINVAL. */
int sotto_stream_feed(sotto_stream *s, const float *pcm, size_t n);

/* The current utterance ends now: everything fed so far is recognized and committed. */
int sotto_stream_flush(sotto_stream *s);

/* End of input: like flush, then wait until every event has been delivered. Idempotent.
 * Returns the first error a threaded worker met, if any. */
int sotto_stream_finish(sotto_stream *s);

/* A snapshot of the figures (safe from any thread). */
void sotto_stream_get_stats(sotto_stream *s, sotto_stream_stats *out);

/* The policy the stream runs (auto resolved to native, local_agreement or align_att). */
sotto_stream_policy sotto_stream_policy_of(const sotto_stream *s);

/* Append ev as one JSON object (no newline) as the server and `sotto listen --json` send
 * it; times shifted by offset_s. SOTTO_EINVAL for an unknown event type (or stats without
 * figures), SOTTO_ENOMEM when out's cap is reached. The caller owns and frees out. */
int sotto_stream_event_json(const sotto_stream_event *ev, double offset_s, sotto_buf *out);

/* The same event as one MessagePack map (GET /v1/listen?encoding=msgpack): the keys, order
 * and nesting of sotto_stream_event_json; times float64 at full precision (shifted by
 * offset_s), ids and counts the smallest int, text str (invalid UTF-8 -> U+FFFD), nil where
 * JSON has null, bool for true/false. Errors as sotto_stream_event_json. The caller owns
 * and frees out. */
int sotto_stream_event_msgpack(const sotto_stream_event *ev, double offset_s, sotto_buf *out);

/* Stops the worker (without finishing: call finish first to keep the tail) and frees.
 * NULL is a no-op. */
void sotto_stream_free(sotto_stream *s);

/* The built-in term list of a domain (a static string of comma-separated terms), for
 * docs and `sotto listen --help`. Unknown names are SOTTO_EINVAL listing the domains. */
int sotto_stream_domain_terms(const char *domain, const char **terms);

#ifdef __cplusplus
}
#endif

#endif
