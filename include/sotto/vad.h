/*
 * vad.h - speech activity: for now, an energy-based utterance splitter.
 *
 * The splitter cuts a long stream of 16 kHz mono samples into utterances at pauses so
 * that recognition time and memory grow linearly with the audio and each utterance keeps
 * its exact time offset. It tracks an adaptive noise floor over 10 ms frames; a pause is
 * min_silence_s of frames below the floor + threshold. Utterances longer than
 * max_utterance_s are cut at the quietest recent frame. Pure silence is dropped (never
 * handed to a recognizer). sotto_vad_* below is the measured VAD for live streams.
 */
#ifndef SOTTO_VAD_H
#define SOTTO_VAD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_splitter_options {
    float min_silence_s;   /* pause length that ends an utterance (default 0.35) */
    float max_utterance_s; /* hard cap on one utterance (default 30) */
    float pad_s;           /* audio kept before/after detected speech (default 0.25) */
    float threshold_db;    /* speech = frame energy this far above the noise floor (default 12) */
} sotto_splitter_options;

void sotto_splitter_options_init(sotto_splitter_options *o);

typedef struct sotto_splitter sotto_splitter;

/* opts may be NULL for defaults. Free with sotto_splitter_free(). */
int sotto_splitter_new(const sotto_splitter_options *opts, sotto_splitter **out);
void sotto_splitter_free(sotto_splitter *sp);

/* Append samples (contiguous with what was fed before). */
int sotto_splitter_feed(sotto_splitter *sp, const float *pcm, size_t n);
/* Declare end of input: whatever speech is buffered becomes a final utterance. Fails only
 * when that utterance cannot be queued (out of memory or the queue's cap); calling it
 * again is a no-op that returns 0. */
int sotto_splitter_finish(sotto_splitter *sp);

/* Take the next complete utterance, if one is ready: returns 1 and points *pcm at n
 * samples owned by the splitter (valid until the next call on it) starting *t_start
 * seconds into the input; returns 0 when none is ready yet. */
int sotto_splitter_next(sotto_splitter *sp, const float **pcm, size_t *n, double *t_start);


/*
 * The speech-activity detector (sotto_vad_*): a model-free VAD for live streams.
 *
 * Each hop (10 or 20 ms of 16 kHz mono) gets a speech score in [0, 1] from four
 * features measured against adaptive noise estimates: band SNR against a per-band noise
 * spectrum, frame energy against a noise floor, spectral flatness and zero-crossing rate;
 * a speech-like (babble) background is scored by its own level-above-floor model instead
 * (docs/vad.md has the formulas and the measured F1). Hysteresis turns scores into
 * segments: a segment opens on a frame >= start_threshold once min_speech_s of frames
 * >= end_threshold follow, and closes after min_silence_s of frames < end_threshold.
 * Segment times include pad_s of audio on both sides (never overlapping the previous
 * segment). Events carry exact times: speech_start is reported min_speech_s after the
 * onset (its t lies in the past, pre-roll included), speech_end min_silence_s after the
 * last speech frame (its t = that frame's end + pad_s).
 */
typedef struct sotto_vad_options {
    int frame_ms;          /* hop: 10 or 20 (default 10) */
    float start_threshold; /* score that can open a segment (default 0.5) */
    float end_threshold;   /* score below which a frame is silence (default 0.35) */
    float min_speech_s;    /* speech needed to confirm a segment (default 0.1) */
    float min_silence_s;   /* silence that closes a segment (default 0.5) */
    float pad_s;           /* audio kept before and after a segment (default 0.1) */
} sotto_vad_options;

void sotto_vad_options_init(sotto_vad_options *o);

typedef enum sotto_vad_event_type {
    SOTTO_VAD_SPEECH_START = 1,
    SOTTO_VAD_SPEECH_END = 2
} sotto_vad_event_type;

typedef struct sotto_vad_event {
    sotto_vad_event_type type;
    long long sample; /* position in the stream (samples since the first fed) */
    double t;         /* the same in seconds */
} sotto_vad_event;

typedef struct sotto_vad sotto_vad;

/* opts may be NULL for defaults; bad options are SOTTO_EINVAL. Free with sotto_vad_free(). */
int sotto_vad_new(const sotto_vad_options *opts, sotto_vad **out);
void sotto_vad_free(sotto_vad *v); /* NULL is a no-op */

/* Append n samples (16 kHz mono, contiguous with earlier feeds; any n, including 0).
 * Non-finite samples are SOTTO_EINVAL. Events found are queued for sotto_vad_next_event();
 * the queue holds at most 65536 events: drain it between feeds. */
int sotto_vad_feed(sotto_vad *v, const float *pcm, size_t n);
/* End of input: an open segment ends now (its speech_end is queued). Idempotent; feeding
 * after it is SOTTO_EINVAL. */
int sotto_vad_finish(sotto_vad *v);
/* Take the oldest queued event: 1 and *ev filled, or 0 when none. */
int sotto_vad_next_event(sotto_vad *v, sotto_vad_event *ev);

/* Is the stream in speech now: 1 from a confirmed start until its speech_end is queued
 * (the min_silence_s hangover included), else 0. */
int sotto_vad_in_speech(const sotto_vad *v);
/* Inside a segment whose latest frames are silence: the sample the segment will end at if
 * that silence lasts min_silence_s (its last speech frame plus pad_s), else -1. Audio past
 * it is the hangover so far: a recognizer need not see it until speech resumes or the
 * segment ends. */
long long sotto_vad_pending_end(const sotto_vad *v);
/* Score in [0, 1] of the latest whole frame (0 before the first). */
float sotto_vad_last_score(const sotto_vad *v);
/* Whole frames processed so far, and the hop in samples. */
long long sotto_vad_frames(const sotto_vad *v);
int sotto_vad_hop(const sotto_vad *v);

#ifdef __cplusplus
}
#endif
#endif
