/*
 * decode.c - reads container files through FFmpeg (libavformat + libavcodec).
 *
 * Owns the demuxer, the decoder and a custom AVIOContext over the reader's byte source
 * (file, pipe or memory), so FFmpeg never opens anything by itself: nested opens that
 * playlists and concat scripts ask for are refused. Picks the best audio stream (the
 * audio track of a video file), discards the others, and feeds decoded frames to the
 * resampler in bounded pieces. FFmpeg's own log lines are kept off stderr: the caller
 * gets one sotto message per failure instead. It does not judge truncation (audio.c
 * compares the promised and decoded lengths at the end).
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"
#include "sotto/log.h"

#define AVIO_BUF_BYTES 32768
/* Output samples fed to the resampler per call: bounds the output buffer. */
#define AUDIO_FEED_OUT 8192
/* A damaged frame here and there is skipped, as players do; this many is a corrupt file. */
#define AUDIO_MAX_DECODE_ERRORS 16

/* FFmpeg error messages go to sotto's debug log, everything else nowhere. */
static void ff_log(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_ERROR || sotto_log_get_level() > SOTTO_LOG_DEBUG)
        return;
    char line[512];
    int prefix = 1;
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    SOTTO_DEBUG("ffmpeg: %s", line);
}

static pthread_once_t ff_once = PTHREAD_ONCE_INIT;
static void ff_init_once(void) { av_log_set_callback(ff_log); }
void audio_ffmpeg_init(void) { pthread_once(&ff_once, ff_init_once); }

static int ff_read(void *opaque, uint8_t *buf, int n)
{
    audio_source *s = opaque;
    int64_t r = source_read(s, buf, n > 0 ? (size_t)n : 0);
    if (r < 0)
        return AVERROR(EIO);
    if (r == 0)
        return AVERROR_EOF;
    return (int)r;
}

static int64_t ff_seek(void *opaque, int64_t off, int whence)
{
    audio_source *s = opaque;
    if (whence & AVSEEK_SIZE)
        return s->size >= 0 ? s->size : AVERROR(ENOSYS);
    int64_t r = source_seek(s, off, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(EINVAL) : r;
}

/* Demuxers that reference other files (HLS, concat, DASH) must not reach outside. */
static int ff_refuse_open(struct AVFormatContext *s, AVIOContext **pb, const char *url,
                          int flags, AVDictionary **options)
{
    return AVERROR(EPERM);
}

static void describe(sotto_audio *a, const AVCodecParameters *par)
{
    const char *codec = avcodec_get_name(par->codec_id);
    char container[32];
    const char *fname = a->ff.fmt->iformat->name;
    size_t k = strcspn(fname, ",");
    if (k >= sizeof container)
        k = sizeof container - 1;
    memcpy(container, fname, k);
    container[k] = '\0';
    if (strcmp(container, "mov") == 0)
        snprintf(container, sizeof container, "mp4");
    if (strcmp(container, codec) == 0)
        snprintf(a->desc, sizeof a->desc, "%s, %d Hz, %d ch", codec, par->sample_rate,
                 par->ch_layout.nb_channels);
    else
        snprintf(a->desc, sizeof a->desc, "%s in %s, %d Hz, %d ch", codec, container,
                 par->sample_rate, par->ch_layout.nb_channels);
}

/* Why av_find_best_stream found no usable audio stream, as a sotto error. */
static int no_stream_error(sotto_audio *a, int ret)
{
    AVFormatContext *fmt = a->ff.fmt;
    if (ret == AVERROR_DECODER_NOT_FOUND) {
        for (unsigned i = 0; i < fmt->nb_streams; i++) {
            const AVCodecParameters *par = fmt->streams[i]->codecpar;
            if (par->codec_type != AVMEDIA_TYPE_AUDIO)
                continue;
            if (par->codec_id == AV_CODEC_ID_NONE)
                return error_set(SOTTO_ENOTSUP, "'%s' uses an unknown audio codec (tag 0x%04x)",
                                 a->name, par->codec_tag);
            return error_set(SOTTO_ENOTSUP,
                             "'%s' uses the audio codec '%s', which this build cannot decode",
                             a->name, avcodec_get_name(par->codec_id));
        }
    }
    if (fmt->nb_streams == 0)
        return error_set(SOTTO_EFORMAT, "'%s' is not a recognized audio file", a->name);
    return error_set(SOTTO_ENOAUDIO, "'%s' has no audio track", a->name);
}

/* An MP4 whose index (moov) follows the audio needs to seek back to reach the audio. */
static int mp4_pipe_error(sotto_audio *a)
{
    return error_set(SOTTO_ENOTSUP,
                     "'%s' is an MP4 with its index at the end, which cannot be read from a "
                     "pipe: pass it as a file (or remux it with -movflags +faststart)",
                     a->name);
}

int decode_end_error(sotto_audio *a)
{
    audio_ff *ff = &a->ff;
    if (ff->demux_error && !a->src.seekable && a->decoded_s == 0 && ff->fmt &&
        strncmp(ff->fmt->iformat->name, "mov,", 4) == 0)
        return mp4_pipe_error(a);
    return 0;
}

int decode_open(sotto_audio *a, const wav_info *w)
{
    audio_ff *ff = &a->ff;
    audio_ffmpeg_init();
    ff->stream_index = -1;
    uint8_t *iobuf = av_malloc(AVIO_BUF_BYTES);
    if (!iobuf)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    ff->pb = avio_alloc_context(iobuf, AVIO_BUF_BYTES, 0, &a->src, ff_read, NULL,
                                a->src.seekable ? ff_seek : NULL);
    if (!ff->pb) {
        av_free(iobuf);
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    }
    ff->pb->seekable = a->src.seekable ? AVIO_SEEKABLE_NORMAL : 0;
    ff->fmt = avformat_alloc_context();
    if (!ff->fmt)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    ff->fmt->pb = ff->pb;
    ff->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    ff->fmt->io_open = ff_refuse_open;
    /* probing reads (and buffers) at most this much: keeps the open bounded */
    ff->fmt->probesize = 2 << 20;

    /* the name is a hint for probing by extension; it is never opened (custom I/O) */
    int ret = avformat_open_input(&ff->fmt, a->name, NULL, NULL);
    if (ret < 0) {
        ff->fmt = NULL; /* freed by avformat_open_input on failure */
        if (a->src.io_errno)
            return error_set(SOTTO_EIO, "cannot read '%s': %s", a->name, strerror(a->src.io_errno));
        if (ret == AVERROR(ENOMEM))
            return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
        /* the demuxer ran out of bytes while still reading its headers */
        if (ret == AVERROR_EOF)
            return error_set(SOTTO_EFORMAT, "'%s' is truncated: it ends inside its header",
                             a->name);
        if (!a->src.seekable && w->is_wav == 0 && a->src.peek_len >= 8 &&
            memcmp(a->src.peek + 4, "ftyp", 4) == 0)
            return mp4_pipe_error(a);
        return error_set(SOTTO_EFORMAT, "'%s' is not a recognized audio file", a->name);
    }
    ret = avformat_find_stream_info(ff->fmt, NULL);
    if (ret < 0 && a->src.io_errno)
        return error_set(SOTTO_EIO, "cannot read '%s': %s", a->name, strerror(a->src.io_errno));

    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(ff->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (idx < 0 || !codec)
        return no_stream_error(a, idx);
    ff->stream_index = idx;
    for (unsigned i = 0; i < ff->fmt->nb_streams; i++)
        if ((int)i != idx)
            ff->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = ff->fmt->streams[idx];
    const AVCodecParameters *par = st->codecpar;
    if (par->ch_layout.nb_channels <= 0)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: 0 channels", a->name);
    if (par->sample_rate <= 0)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: sample rate %d Hz", a->name,
                         par->sample_rate);
    if (par->sample_rate < AUDIO_MIN_RATE || par->sample_rate > AUDIO_MAX_RATE)
        return error_set(SOTTO_ENOTSUP, "'%s' has a sample rate of %d Hz; %d to %d Hz are supported",
                         a->name, par->sample_rate, AUDIO_MIN_RATE, AUDIO_MAX_RATE);
    if (par->ch_layout.nb_channels > AUDIO_MAX_CHANNELS)
        return error_set(SOTTO_ENOTSUP, "'%s' has %d channels; at most %d are supported",
                         a->name, par->ch_layout.nb_channels, AUDIO_MAX_CHANNELS);

    ff->dec = avcodec_alloc_context3(codec);
    ff->pkt = av_packet_alloc();
    ff->frame = av_frame_alloc();
    if (!ff->dec || !ff->pkt || !ff->frame)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    if (avcodec_parameters_to_context(ff->dec, par) < 0)
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", a->name);
    ff->dec->thread_count = 1; /* the compute pool owns the cores, not the decoder */
    ff->dec->pkt_timebase = st->time_base;
    if (avcodec_open2(ff->dec, codec, NULL) < 0)
        return error_set(SOTTO_EFORMAT, "'%s' has an invalid header: its %s stream cannot be decoded",
                         a->name, codec->name);

    describe(a, par);
    a->duration_s = -1;
    if (ff->fmt->duration != AV_NOPTS_VALUE && ff->fmt->duration > 0)
        a->duration_s = (double)ff->fmt->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        a->duration_s = (double)st->duration * av_q2d(st->time_base);
    /* A length the container states from its index or header (not guessed from the
     * bitrate) is a promise: audio.c reports a file that ends well short of it. The
     * whole-file duration counts only when the audio is the only stream (a video's
     * audio track may legitimately end before the picture). */
    a->stated_s = -1;
    if (ff->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE) {
        if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.den > 0)
            a->stated_s = (double)st->duration * av_q2d(st->time_base);
        else if (ff->fmt->nb_streams == 1 && ff->fmt->duration != AV_NOPTS_VALUE &&
                 ff->fmt->duration > 0)
            a->stated_s = (double)ff->fmt->duration / AV_TIME_BASE;
    }
    return 0;
}

static int decode_error(sotto_audio *a)
{
    audio_ff *ff = &a->ff;
    if (ff->n_errors++ == 0)
        ff->first_error_s = a->decoded_s;
    if (ff->n_errors >= AUDIO_MAX_DECODE_ERRORS)
        return error_set(SOTTO_EFORMAT,
                         "'%s' is corrupt: %d audio frames could not be decoded (the first at %.2f s)",
                         a->name, ff->n_errors, ff->first_error_s);
    return 0;
}

/* Next decoded frame into ff->frame: 1 got one, 0 end of stream, <0 error. */
static int next_frame(sotto_audio *a)
{
    audio_ff *ff = &a->ff;
    for (;;) {
        int ret = avcodec_receive_frame(ff->dec, ff->frame);
        if (ret >= 0) {
            if (ff->frame->nb_samples > 0)
                return 1;
            av_frame_unref(ff->frame);
            continue;
        }
        if (ret == AVERROR_EOF)
            return 0;
        if (ret != AVERROR(EAGAIN)) {
            int rc = decode_error(a);
            if (rc < 0)
                return rc;
            if (ff->flushing)
                return 0;
            continue;
        }
        if (ff->flushing)
            return 0;
        ret = av_read_frame(ff->fmt, ff->pkt);
        if (ret < 0) {
            if (a->src.io_errno)
                return error_set(SOTTO_EIO, "cannot read '%s': %s", a->name,
                                 strerror(a->src.io_errno));
            if (ret != AVERROR_EOF && !ff->demux_error) {
                ff->demux_error = 1;
                av_strerror(ret, ff->demux_reason, sizeof ff->demux_reason);
            }
            avcodec_send_packet(ff->dec, NULL);
            ff->flushing = 1;
            continue;
        }
        if (ff->pkt->stream_index != ff->stream_index) {
            av_packet_unref(ff->pkt);
            continue;
        }
        ret = avcodec_send_packet(ff->dec, ff->pkt);
        av_packet_unref(ff->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            int rc = decode_error(a);
            if (rc < 0)
                return rc;
        }
    }
}

int decode_produce(sotto_audio *a)
{
    audio_ff *ff = &a->ff;
    if (!ff->frame_pending) {
        int rc = next_frame(a);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            a->at_end = 1;
            return resample_flush(a);
        }
        AVFrame *f = ff->frame;
        int ch = f->ch_layout.nb_channels;
        if (ch <= 0 || f->sample_rate <= 0 || !f->extended_data) {
            av_frame_unref(f);
            return error_set(SOTTO_EFORMAT, "'%s' is corrupt: a frame has %d channels at %d Hz",
                             a->name, ch, f->sample_rate);
        }
        rc = resample_setup(a, f->format, f->sample_rate, ch);
        if (rc < 0) {
            av_frame_unref(f);
            return rc;
        }
        ff->frame_pending = 1;
        ff->frame_offset = 0;
    }
    /* feed a bounded piece so one huge frame cannot blow up the output buffer */
    AVFrame *f = ff->frame;
    int ch = f->ch_layout.nb_channels;
    int64_t piece = (int64_t)AUDIO_FEED_OUT * f->sample_rate / SOTTO_SAMPLE_RATE;
    if (piece < 1)
        piece = 1;
    int n = f->nb_samples - ff->frame_offset;
    if (n > piece)
        n = (int)piece;
    int bps = av_get_bytes_per_sample(f->format);
    const uint8_t *in[AUDIO_MAX_CHANNELS];
    if (av_sample_fmt_is_planar(f->format)) {
        for (int c = 0; c < ch; c++)
            in[c] = f->extended_data[c] + (size_t)ff->frame_offset * bps;
    } else {
        in[0] = f->extended_data[0] + (size_t)ff->frame_offset * bps * ch;
    }
    int rc = resample_feed(a, in, n);
    ff->frame_offset += n;
    if (rc < 0 || ff->frame_offset >= f->nb_samples) {
        av_frame_unref(f);
        ff->frame_pending = 0;
    }
    return rc;
}

void decode_close(sotto_audio *a)
{
    audio_ff *ff = &a->ff;
    avcodec_free_context(&ff->dec);
    av_packet_free(&ff->pkt);
    av_frame_free(&ff->frame);
    avformat_close_input(&ff->fmt); /* custom I/O: leaves pb to us */
    if (ff->pb) {
        av_freep(&ff->pb->buffer);
        avio_context_free(&ff->pb);
    }
}
