/*
 * stream_int.h - what the files of the live-recognition engine share (src/stream/ only).
 *
 * stream.c owns the public sotto_stream_* calls, the options and the event helpers;
 * vac.c the voice-activity-controlled chunking (VAD, pre-roll, utterance buffer, when an
 * update runs); worker.c the threaded mode; context.c the prompt (static + rolling);
 * policy_native.c, policy_la.c and policy_att.c the three policies behind one vtable.
 */
#ifndef SOTTO_STREAM_INT_H
#define SOTTO_STREAM_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sotto/stream.h"

#define STREAM_RATE 16000

/* ---- context (context.c) ------------------------------------------------------------ */

/* The prompt of a stream: a static part (domain terms, custom terms, prompt text) that is
 * never trimmed, plus committed words (with their start times) kept up to max_words,
 * trimmed from the front by whole words. */
typedef struct stream_context {
    char *static_text;  /* "" when none */
    char **words;       /* rolling committed words, oldest first */
    double *starts;     /* their start times (s) */
    size_t n_words, cap_words;
    int max_words;
    char *prompt;       /* last built prompt (owned) */
} stream_context;

/* domain/terms/prompt may be NULL. Bad domain or oversized text: SOTTO_EINVAL. */
int context_init(stream_context *c, const char *domain, const char *terms, const char *prompt,
                 int max_words);
void context_free(stream_context *c);
/* Append the words of a committed text (split at spaces), all starting at about t. */
int context_add_text(stream_context *c, const char *text, double t);
/* Append committed words one by one (start times from the words). */
int context_add_words(stream_context *c, const sotto_word *w, size_t n);
/* The prompt: static part + the rolling words that start before before_t (words still
 * inside a policy's buffer are left out: the recognizer hears them again). Owned by c,
 * valid until the next call; NULL when the prompt would be empty. */
const char *context_prompt(stream_context *c, double before_t);

/* ---- LocalAgreement-2 logic on plain words (policy_la.c; tested directly) ------------- */

/* Two words are the same for agreement when equal after trimming white space. */
int la_word_eq(const char *a, const char *b);
/* How many leading words of hyp to skip: those starting before last_end - 0.1 s, then
 * (when the next starts within 1 s of last_end) up to 5 that repeat the tail of the
 * committed words (tail = the last n_tail committed words, oldest first). */
size_t la_skip(const sotto_word *tail, size_t n_tail, const sotto_word *hyp, size_t n_hyp,
               double last_end);
/* How many leading words of cur (this update's new words) to commit: all when final,
 * else the longest common prefix with prev (the previous update's uncommitted words),
 * less trailing words that end within word_gap_s of buf_end (a word touching the buffer
 * end may be cut). */
size_t la_commit_count(const sotto_word *prev, size_t n_prev, const sotto_word *cur, size_t n_cur,
                       double buf_end, double word_gap_s, int final);

/* Word arrays the policies own (policy_la.c). LA_TAIL: committed words a policy keeps for
 * la_skip's repeat check. */
#define LA_TAIL 5
/* Free the word strings of w[0..n) (the array itself stays). */
void la_words_clear(sotto_word *w, size_t n);
/* Deep copy n words into a new array (*out, NULL when n = 0; caller frees with
 * la_words_clear + free). */
int la_words_copy(const sotto_word *w, size_t n, sotto_word **out);
/* Append copies of w[0..n) to tail (capacity LA_TAIL, oldest first), dropping the oldest
 * when full. */
int la_tail_push(sotto_word *tail, size_t *n_tail, const sotto_word *w, size_t n);
/* The words' text, trimmed and joined with single spaces (*out malloc'ed; caller frees). */
int la_words_join(const sotto_word *w, size_t n, char **out);

/* ---- policies ------------------------------------------------------------------------- */

/* A policy sees the stream's utterance buffer (s->buf, starting at stream time s->buf_t0)
 * and publishes words through stream_emit_final / stream_emit_partial. */
typedef struct stream_policy_ops {
    const char *name;
    int (*create)(sotto_stream *s, void **state);
    void (*destroy)(void *state);
    /* One update over the buffer; final = the utterance ended: commit everything, then
     * leave the buffer empty. Returns 0 or a negative SOTTO_E* code. */
    int (*update)(sotto_stream *s, void *state, int final);
} stream_policy_ops;

extern const stream_policy_ops stream_policy_native;

/* policy_native.c: early commit (off by default): commit words mid-utterance by
 * LocalAgreement-2 between the recognizer's partial hypotheses (asr_stream_partial_words)
 * read every 0.2 s of audio, words ending at least max(word_gap_s, 0.5 s) before the audio
 * fed. Lower latency, but with PocketSphinx words its second pass would have fixed get
 * committed (docs/streaming.md: numbers). Call after sotto_stream_new, before any feed.
 * SOTTO_EINVAL: not a native stream or audio already fed; SOTTO_ENOTSUP: the recognizer
 * gives no words mid-utterance. (Meant to become a public option; library-internal now.) */
int native_set_early_commit(sotto_stream *s, int on);
extern const stream_policy_ops stream_policy_la;
extern const stream_policy_ops stream_policy_att;

/* ---- the stream ----------------------------------------------------------------------- */

#define STREAM_MAX_FLUSHES 64

struct sotto_stream {
    sotto_asr *asr;
    sotto_stream_options o;
    sotto_stream_policy policy_id;
    const stream_policy_ops *policy;
    void *pstate;
    sotto_stream_event_fn on_event;
    void *user;
    stream_context ctx;
    float min_chunk_s; /* the effective one */

    /* chunking (vac.c): runs on one thread at a time (the caller's or the worker's) */
    sotto_vad *vad;
    float *hist;         /* recent audio (abs samples hist_pos0 ..), for pre-roll */
    size_t hist_n, hist_cap;
    int64_t hist_pos0;
    int64_t n_in;        /* samples that went through the chunker */
    int64_t sent_pos;    /* samples up to which audio went to the policy (abs) */
    int in_utt;          /* a policy utterance is open */
    int vad_finished;
    float *buf;          /* the policy's buffer: voiced audio of the utterance */
    size_t buf_n, buf_cap;
    double buf_t0;       /* stream time of buf[0] */
    double speech_t0;    /* stream time the VAD put the open utterance's speech start at
                          * (buf_t0 of its first update plus the pre-roll it got) */
    size_t buf_new;      /* samples appended since the last update */
    int64_t next_segment_id;
    double behind_s;     /* threaded: audio that waited when the worker took its batch
                            (the batch included), 0 once caught up; written by the worker
                            under lock, read by it and by the stats (under lock) */
    int slotted;         /* threaded: the worker holds a compute slot (worker.c) */
    double contended_at; /* threaded: time_now() when the worker last waited over
                            SHED_SLOT_WAIT_S for a compute slot (worker.c) */
    char *last_partial;  /* "" when none shown */
    int done;            /* finish processed */

    /* stats, inbox and worker state: under lock */
    pthread_mutex_t lock;
    sotto_stream_stats st;
    int finished;        /* finish called: feed refused */
    int threaded;
    pthread_t thread;
    int thread_started;
    pthread_cond_t wake, idle;
    float *inbox;
    size_t inbox_n, inbox_cap;
    int64_t inbox_pos0;  /* abs sample of inbox[0] */
    int64_t flush_at[STREAM_MAX_FLUSHES]; /* pending flushes, as abs sample positions */
    int n_flush;
    int finish_req, stop_req, worker_idle;
    int worker_err;
    char worker_msg[256]; /* its message (error_set's is per thread) */
};

/* stream.c: events (called from the thread that runs updates) */
void stream_emit(sotto_stream *s, const sotto_stream_event *ev);
/* A committed segment from words (times absolute); adds them to the context. */
int stream_emit_final(sotto_stream *s, const sotto_word *w, size_t n, const char *language);
/* The unstable tail; sent only when it differs from the last one shown. */
int stream_emit_partial(sotto_stream *s, const char *text, double start, double end);
/* Count one recognizer call of compute_s seconds (stats, under lock). */
void stream_count_call(sotto_stream *s, double compute_s);
/* A compute slot's holder made progress (a recognizer call or an event delivered): only a
 * holder that makes none for SLOT_STALL_S lets waiters run over the limit (worker.c). */
void stream_slot_progress(void);
/* Drop the first n samples of the policy's buffer. */
void stream_buf_drop(sotto_stream *s, size_t n);

/* vac.c */
int vac_init(sotto_stream *s);
void vac_free(sotto_stream *s);
/* Push audio through VAD and buffer. defer: run mid-utterance updates only once at the
 * end of this batch (threaded mode: the batch is everything that arrived meanwhile). */
int vac_process(sotto_stream *s, const float *pcm, size_t n, int defer);
/* End the current utterance now (final update). */
int vac_flush(sotto_stream *s);
/* End of input: VAD finish, final update. */
int vac_finish(sotto_stream *s);

/* worker.c */
int worker_start(sotto_stream *s);
int worker_feed(sotto_stream *s, const float *pcm, size_t n);
int worker_flush(sotto_stream *s);
int worker_finish(sotto_stream *s);
void worker_stop(sotto_stream *s);

#endif
