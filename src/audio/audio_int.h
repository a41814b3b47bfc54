/*
 * audio_int.h - structures shared by the files of the audio module (not public API).
 *
 * A sotto_audio is three layers: a byte source (source.c: a file descriptor, standard
 * input or a memory buffer), a producer that turns bytes into sample frames at the
 * source's own rate and layout (decode.c through FFmpeg, raw.c for headerless PCM), and
 * a resampler plus small output buffer (resample.c) that yields 16 kHz mono float32.
 * Every buffer here has a fixed or capped size, so memory does not grow with the input.
 */
#ifndef SOTTO_AUDIO_INT_H
#define SOTTO_AUDIO_INT_H

#include <stdint.h>

#include "sotto/audio.h"

struct AVFormatContext;
struct AVIOContext;
struct AVCodecContext;
struct AVPacket;
struct AVFrame;
struct SwrContext;

/* Bytes read ahead from a non-seekable source so the WAV header can be checked before
 * FFmpeg sees the stream; they are served again by source_read(). */
#define AUDIO_PEEK_BYTES 8192
/* Most channels any input may have (FFmpeg's resampler handles at most 64). */
#define AUDIO_MAX_CHANNELS 64
/* Source sample rates accepted (Hz), containers and raw PCM alike. */
#define AUDIO_MIN_RATE 1000
#define AUDIO_MAX_RATE 768000

typedef struct audio_source {
    const char *name;     /* for messages; points at the reader's copy */
    int fd;               /* -1 for a memory source */
    int own_fd;           /* close fd at the end (not for standard input) */
    int seekable;         /* regular file or memory: seek and pread work */
    int64_t size;         /* total bytes, -1 when unknown (pipe) */
    int64_t pos;          /* current read offset (seekable sources) */
    const uint8_t *mem;   /* memory source: the caller's bytes (not owned) */
    int io_errno;         /* errno of the first failed read, 0 if none */
    uint8_t *peek;        /* non-seekable: bytes read ahead (AUDIO_PEEK_BYTES) */
    size_t peek_len, peek_pos;
    int64_t n_bytes_read; /* bytes handed out so far (to tell an empty pipe) */
} audio_source;

/* What a RIFF/WAVE header says, read by wav_sniff() before FFmpeg opens the file. */
typedef struct wav_info {
    int is_wav;          /* "RIFF....WAVE" with a fmt chunk was found */
    int format_tag;      /* WAVE_FORMAT_* (the subformat for WAVE_FORMAT_EXTENSIBLE) */
    int channels;
    int64_t rate;
    int block_align;
    int bits;
    int have_data;       /* a data chunk header was found */
    int64_t data_size;   /* bytes the data chunk claims; -1 when unknown/streamed */
} wav_info;

typedef struct audio_ff {
    struct AVFormatContext *fmt;
    struct AVIOContext *pb;
    struct AVCodecContext *dec;
    struct AVPacket *pkt;
    struct AVFrame *frame;
    int stream_index;
    int flushing;         /* the decoder was sent its end-of-stream packet */
    int frame_pending;    /* frame holds samples not yet fed to the resampler */
    int frame_offset;     /* samples of frame already fed */
    int n_errors;         /* packets the decoder rejected so far */
    double first_error_s; /* position of the first rejected packet */
    int demux_error;      /* av_read_frame failed with something other than EOF */
    char demux_reason[96];
} audio_ff;

typedef struct audio_raw {
    uint8_t *buf;         /* bytes read but not yet converted (whole frames + a tail) */
    size_t len, cap;
    int bytes_per_sample;
} audio_raw;

struct sotto_audio {
    char *name;           /* path as given, or "stdin" */
    audio_source src;
    int is_raw;
    audio_ff ff;
    audio_raw raw;

    /* Resampler: configured for the current input format; rebuilt if it changes. */
    struct SwrContext *swr;
    int in_format, in_rate, in_channels; /* AVSampleFormat, Hz, count */
    float *obuf;          /* 16 kHz mono output not yet read */
    size_t olen, opos, ocap;

    double decoded_s;     /* seconds of source audio decoded so far */
    double stated_s;      /* what the header/container promises, -1 if unknown */
    const char *stated_by; /* "header" or "container" (for the truncation message) */
    double duration_s;    /* for sotto_audio_duration() */
    int at_end;           /* producer exhausted and resampler flushed */
    int err;              /* sticky error code once reading failed, 0 otherwise */
    char err_msg[512];    /* its message, set again on every later call */
    char desc[128];
};

/* ---- source.c ---- */
int source_open_path(audio_source *s, const char *path, const char *name);
int source_open_stdin(audio_source *s, const char *name);
int source_open_memory(audio_source *s, const void *data, size_t size, const char *name);
void source_close(audio_source *s);
/* Read up to n bytes: returns the count (0 at end) or a negative SOTTO_EIO. */
int64_t source_read(audio_source *s, void *buf, size_t n);
/* lseek semantics on seekable sources; -1 otherwise. */
int64_t source_seek(audio_source *s, int64_t off, int whence);
/* Copy up to n bytes at offset off without moving the read position; returns the count.
 * Non-seekable sources answer only from their read-ahead. */
size_t source_peek(audio_source *s, int64_t off, void *buf, size_t n);

/* ---- wav_header.c ---- */
void wav_sniff(audio_source *s, wav_info *w);

/* ---- decode.c / raw.c: producers ---- */
int decode_open(sotto_audio *a, const wav_info *w);
/* Feed the next piece of source audio to the resampler; sets a->at_end when done. */
int decode_produce(sotto_audio *a);
/* At the end of input: an error that explains the end better than "truncated", or 0. */
int decode_end_error(sotto_audio *a);
void decode_close(sotto_audio *a);
int raw_open(sotto_audio *a, const sotto_audio_options *opts);
int raw_produce(sotto_audio *a);
void raw_close(sotto_audio *a);

/* ---- resample.c ---- */
/* (Re)configure for input (AVSampleFormat fmt, rate Hz, channels); flushes the old one. */
int resample_setup(sotto_audio *a, int fmt, int rate, int channels);
/* Convert n_in input samples (per channel; in[] as FFmpeg lays them out for fmt) into
 * the output buffer. */
int resample_feed(sotto_audio *a, const uint8_t *const *in, int n_in);
/* Drain the resampler's delay line at the end of input. */
int resample_flush(sotto_audio *a);
void resample_free(sotto_audio *a);

/* Quiet FFmpeg's own logging once per process (messages go to sotto's debug log). */
void audio_ffmpeg_init(void);

#endif
