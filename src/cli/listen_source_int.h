/*
 * listen_source_int.h - what the files of `sotto listen`'s audio sources share (not an
 * interface of the command): the source object, the conversion of every source's PCM to
 * 16 kHz mono float, and the open/fill pair of each live kind.
 *
 * listen_source.c holds the common interface, the FILE kind and the converter;
 * listen_follow.c the growing WAV/raw file (--follow); listen_mic.c the microphone (--mic).
 */
#ifndef SOTTO_LISTEN_SOURCE_INT_H
#define SOTTO_LISTEN_SOURCE_INT_H

#include <stdint.h>

#include <libavformat/avformat.h>

#include "listen_source.h"

struct listen_source {
    listen_source_kind kind;
    char desc[160];
    volatile int *stop;
    sotto_audio *audio; /* FILE */
    /* FOLLOW */
    char *path;
    int fd;
    int is_wav;
    double idle_s, last_growth;
    int64_t data_off;      /* where the samples start */
    int64_t pos;           /* data bytes consumed so far */
    int64_t final_size;    /* data bytes in all once the writer finalized the header, else -1 */
    uint32_t size_at_open; /* the data chunk size field when the header was first read */
    int pcm24;             /* packed 24-bit samples, widened to s32 before conversion */
    int block_align;       /* bytes per frame in the file */
    uint8_t *bytes;        /* bytes read, not yet converted (a partial frame at most) */
    size_t blen;
    uint8_t *wide; /* pcm24 widened */
    /* MIC */
    AVFormatContext *fmt;
    AVPacket *pkt;
    int stream_index;
    /* conversion (FOLLOW and MIC) */
    struct SwrContext *swr;
    int in_fmt, in_rate, in_channels;
    float *obuf;
    size_t olen, opos, ocap;
    int ended;
};

/* Monotonic seconds, and a nap that Ctrl-C (EINTR) may cut short. */
double listen_now_s(void);
void listen_sleep_s(double s);

/* Set up the converter from fmt (an AVSampleFormat), rate and channels (averaged to mono,
 * as the library's reader does) to 16 kHz mono float; name is for the error. Returns 0 or
 * an exit code (printed). */
int listen_conv_setup(listen_source *s, int fmt, int rate, int channels, const char *name);
/* Convert n_in interleaved frames (NULL/0 = drain the resampler) onto s->obuf. 0 or an
 * exit code (printed). */
int listen_conv_run(listen_source *s, const uint8_t *in, int n_in);

/* FOLLOW (listen_follow.c): wait for the file (and a complete WAV header) and set up the
 * converter; then convert appended bytes until some samples are out, or mark the end. */
int listen_follow_open(listen_source *s, const listen_source_options *o);
int listen_follow_fill(listen_source *s);

/* MIC (listen_mic.c): load libavdevice and open PulseAudio, else ALSA; then convert
 * captured packets until some samples are out, or mark the end (stop flag). */
int listen_mic_open(listen_source *s, const listen_source_options *o);
int listen_mic_fill(listen_source *s);

#endif
