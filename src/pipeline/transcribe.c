/*
 * transcribe.c - batch transcription of one input (sotto_pipeline_transcribe).
 *
 * Reads the input in half-second blocks, feeds the utterance splitter, and hands every
 * finished utterance, with its exact start time, to the recognizer; the recognizer
 * appends the segments. Memory is the splitter's (bounded by the longest utterance) plus
 * one block, whatever the input's length. Progress is reported between blocks, at most
 * every PROGRESS_EVERY_S of wall time and once at the end; a non-zero return cancels.
 *
 * Not done here: output formats, files, model choice (the CLI and job layers do those).
 */
#include <string.h>

#include "base/base_int.h"
#include "sotto/pipeline.h"

#define BLOCK_SAMPLES (SOTTO_SAMPLE_RATE / 2) /* 0.5 s read per step */
#define PROGRESS_EVERY_S 0.25

void sotto_pipeline_options_init(sotto_pipeline_options *o)
{
    SOTTO_ASSERT(o);
    memset(o, 0, sizeof *o);
    sotto_splitter_options_init(&o->splitter);
}

/* Recognize every utterance the splitter has ready. */
static int drain(sotto_splitter *sp, sotto_asr *asr, sotto_transcript *out)
{
    const float *pcm;
    size_t n;
    double t_start;
    while (sotto_splitter_next(sp, &pcm, &n, &t_start)) {
        int rc = sotto_asr_transcribe(asr, pcm, n, t_start, out);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Tell the caller how far we are; non-zero from the callback means stop. */
static int report(const sotto_pipeline_options *o, const sotto_audio *audio, int64_t n_read,
                  double t0)
{
    sotto_progress p;
    p.done_s = (double)n_read / SOTTO_SAMPLE_RATE;
    p.total_s = sotto_audio_duration(audio);
    p.elapsed_s = time_now() - t0;
    if (o->progress(o->progress_user, &p) != 0)
        return error_set(SOTTO_ECANCELED, "cancelled");
    return 0;
}

int sotto_pipeline_transcribe(sotto_asr *asr, sotto_audio *audio,
                              const sotto_pipeline_options *opts, sotto_transcript *out)
{
    SOTTO_ASSERT(asr && audio && out);
    sotto_pipeline_options defaults;
    if (!opts) {
        sotto_pipeline_options_init(&defaults);
        opts = &defaults;
    }
    sotto_splitter *sp = NULL;
    int rc = sotto_splitter_new(&opts->splitter, &sp);
    if (rc < 0)
        return rc;
    float *block = malloc(BLOCK_SAMPLES * sizeof *block);
    if (!block) {
        sotto_splitter_free(sp);
        return error_set(SOTTO_ENOMEM, "pipeline: out of memory");
    }

    double t0 = time_now();
    double last_report = -1.0; /* the first block is always reported */
    int64_t n_read = 0;
    for (;;) {
        size_t n = 0;
        rc = sotto_audio_read(audio, block, BLOCK_SAMPLES, &n);
        if (rc < 0 || n == 0)
            break;
        n_read += (int64_t)n;
        rc = sotto_splitter_feed(sp, block, n);
        if (rc == 0)
            rc = drain(sp, asr, out);
        if (rc < 0)
            break;
        if (opts->progress && (last_report < 0 || time_now() - last_report >= PROGRESS_EVERY_S)) {
            last_report = time_now();
            rc = report(opts, audio, n_read, t0);
            if (rc < 0)
                break;
        }
    }
    if (rc == 0)
        rc = sotto_splitter_finish(sp);
    if (rc == 0)
        rc = drain(sp, asr, out);
    out->duration = (double)n_read / SOTTO_SAMPLE_RATE;
    if (rc == 0 && !out->language[0]) {
        for (size_t i = 0; i < out->n_segments; i++) {
            if (out->segments[i].language[0]) {
                memcpy(out->language, out->segments[i].language, sizeof out->language);
                out->language[sizeof out->language - 1] = '\0';
                break;
            }
        }
    }
    if (rc == 0 && opts->progress)
        rc = report(opts, audio, n_read, t0);
    free(block);
    sotto_splitter_free(sp);
    return rc;
}
