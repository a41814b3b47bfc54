/*
 * listen_source.h - where `sotto listen` gets its audio: a file read as fast as possible,
 * a file another program is still writing (--follow), or a microphone (--mic, through
 * FFmpeg's libavdevice: PulseAudio, else ALSA). Every source yields 16 kHz mono float
 * samples in [-1, 1], the format sotto_stream_feed() takes.
 *
 * Errors are printed here (one line, through cli_error) and returned as the CLI's exit
 * codes (EXIT_INPUT for a missing or unreadable input or no sound device), so the
 * command only has to pass the code on.
 */
#ifndef SOTTO_LISTEN_SOURCE_H
#define SOTTO_LISTEN_SOURCE_H

#include <stddef.h>

#include "sotto/audio.h"

typedef enum listen_source_kind {
    LISTEN_SRC_FILE = 0, /* any format sotto_audio_open reads; ends at end of file */
    LISTEN_SRC_FOLLOW,   /* a growing WAV or raw PCM file; ends after idle_s without growth */
    LISTEN_SRC_MIC       /* live capture; ends when *stop becomes nonzero */
} listen_source_kind;

typedef struct listen_source_options {
    listen_source_kind kind;
    const char *path;          /* FILE and FOLLOW; the caller keeps it alive */
    const char *device;        /* MIC: NULL = "default"; "pulse:NAME" / "alsa:NAME" pick one */
    sotto_audio_options audio; /* raw PCM description (FILE and FOLLOW) */
    double idle_s;             /* FOLLOW: stop after this long without new bytes */
    volatile int *stop;        /* polled while waiting: nonzero ends the input (Ctrl-C) */
} listen_source_options;

typedef struct listen_source listen_source;

/* Open a source. Returns 0, or an exit code after printing the reason. On success *out
 * is owned by the caller: free it with listen_source_close(). */
int listen_source_open(const listen_source_options *opts, listen_source **out);

/* Read up to max samples; blocks (FOLLOW, MIC) until some arrive. *n = 0 means the input
 * ended (end of file, idle timeout, stop flag). Returns 0 or an exit code (printed). */
int listen_source_read(listen_source *s, float *pcm, size_t max, size_t *n);

/* What the source is, e.g. "wav, 16000 Hz, 1 ch (followed)", for --stats. */
const char *listen_source_describe(const listen_source *s);

void listen_source_close(listen_source *s); /* NULL is a no-op */

#endif
