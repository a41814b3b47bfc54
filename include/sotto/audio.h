/*
 * audio.h - audio input: any common file, stdin or raw PCM, as 16 kHz mono float32.
 *
 * A sotto_audio is a streaming reader: it decodes and resamples block by block, so a
 * three-hour file never sits in memory whole. Containers and codecs come from FFmpeg
 * (libavformat/libavcodec/libswresample); raw PCM (s16le/f32le) is read directly.
 * Every failure is a return code plus a one-line message that names the file and the
 * reason ("cannot open 'x.wav': no such file"), never a crash.
 */
#ifndef SOTTO_AUDIO_H
#define SOTTO_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOTTO_SAMPLE_RATE 16000 /* every reader yields this rate, mono, float32 in [-1, 1] */

typedef enum sotto_raw_format {
    SOTTO_RAW_NONE = 0, /* a container file: probe it */
    SOTTO_RAW_S16LE,
    SOTTO_RAW_F32LE
} sotto_raw_format;

typedef struct sotto_audio_options {
    sotto_raw_format raw; /* SOTTO_RAW_NONE unless the input is headerless PCM */
    int raw_rate;         /* raw input: sample rate in Hz (required when raw) */
    int raw_channels;     /* raw input: interleaved channel count (required when raw) */
} sotto_audio_options;

typedef struct sotto_audio sotto_audio;

/* Open a file for reading; path "-" means standard input. opts may be NULL (probe a
 * container). On success *out owns the open file; free it with sotto_audio_close(). */
int sotto_audio_open(const char *path, const sotto_audio_options *opts, sotto_audio **out);

/* Open an in-memory file (a copy is not made: data must outlive the reader). name is
 * used in messages only. */
int sotto_audio_open_memory(const void *data, size_t size, const char *name,
                            const sotto_audio_options *opts, sotto_audio **out);

/* Read up to max_samples 16 kHz mono samples into pcm. *n_read is 0 at end of input.
 * A decode error mid-file (truncated or corrupt data) is reported as SOTTO_EFORMAT. */
int sotto_audio_read(sotto_audio *a, float *pcm, size_t max_samples, size_t *n_read);

/* Duration in seconds as the container states it, or -1 when unknown (stdin, raw pipe).
 * Used for progress display only; the true length is what sotto_audio_read yields. */
double sotto_audio_duration(const sotto_audio *a);

/* Short description of the source, e.g. "mp3, 44100 Hz, 2 ch" (owned by the reader). */
const char *sotto_audio_describe(const sotto_audio *a);

void sotto_audio_close(sotto_audio *a); /* NULL is a no-op */

/* Read a whole input into a newly allocated buffer (*pcm, freed by the caller with free()).
 * For short inputs and tests; long inputs should be streamed with sotto_audio_read(). */
int sotto_audio_load(const char *path, const sotto_audio_options *opts, float **pcm,
                     size_t *n_samples);

/* Parse "s16le" / "f32le" into a raw format; returns SOTTO_EINVAL for anything else. */
int sotto_audio_parse_raw_format(const char *s, sotto_raw_format *out);

/* Write 16 kHz mono float samples as a 16-bit PCM WAV file (for tests and tools). */
int sotto_audio_write_wav(const char *path, const float *pcm, size_t n_samples, int sample_rate);

#ifdef __cplusplus
}
#endif
#endif
