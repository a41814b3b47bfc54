/*
 * pipeline.h - batch transcription of one input: audio reader -> splitter -> recognizer.
 *
 * Reads the input block by block, cuts it into utterances at pauses, recognizes each and
 * collects the segments with exact times. Memory is bounded by the longest utterance,
 * not the length of the input. Progress is reported through a callback that can cancel.
 */
#ifndef SOTTO_PIPELINE_H
#define SOTTO_PIPELINE_H

#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/transcript.h"
#include "sotto/vad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_progress {
    double done_s;    /* seconds of audio read so far */
    double total_s;   /* container's duration, or -1 when unknown */
    double elapsed_s; /* wall-clock seconds since the start */
} sotto_progress;

/* Return non-zero to cancel (the pipeline then returns SOTTO_ECANCELED). */
typedef int (*sotto_progress_cb)(void *user, const sotto_progress *p);

typedef struct sotto_pipeline_options {
    sotto_splitter_options splitter;
    sotto_progress_cb progress; /* optional */
    void *progress_user;
} sotto_pipeline_options;

void sotto_pipeline_options_init(sotto_pipeline_options *o);

/* Transcribe everything audio yields with asr, appending segments to out (out->duration
 * becomes the seconds of audio read). opts may be NULL. */
int sotto_pipeline_transcribe(sotto_asr *asr, sotto_audio *audio,
                              const sotto_pipeline_options *opts, sotto_transcript *out);

#ifdef __cplusplus
}
#endif
#endif
