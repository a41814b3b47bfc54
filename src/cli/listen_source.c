/*
 * listen_source.c - the audio sources of `sotto listen` (see listen_source.h).
 *
 * FILE reads through libsotto's audio reader. FOLLOW and MIC produce PCM at their own
 * rate and layout and share one libswresample converter (averaging the channels, as
 * the library's reader does, so a followed file gives the same samples as the file read
 * whole). FOLLOW reads a growing file with pread() at its own offset: a WAV header gives
 * only the format (a writer leaves its sizes 0 or garbage until it finishes), the data is
 * whatever follows the data chunk's header. MIC opens FFmpeg's "pulse" input device, then
 * "alsa", with a one-line error naming what to do when neither has a device.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavdevice/version.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "cli.h"
#include "listen_source.h"
#include "sotto/sotto.h"

#define FOLLOW_POLL_S 0.02           /* how often a followed file is checked for growth */
#define FOLLOW_MAX_HEADER (1 << 20) /* a data chunk must start within this many bytes */
#define FOLLOW_READ_BYTES 65536      /* bytes read per pread (about 2 s of 16 kHz s16) */

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
    int64_t data_off;   /* where the samples start */
    int64_t pos;        /* data bytes consumed so far */
    int64_t final_size; /* data bytes in all once the writer finalized the header, else -1 */
    uint32_t size_at_open; /* the data chunk size field when the header was first read */
    int pcm24;          /* packed 24-bit samples, widened to s32 before conversion */
    int block_align;    /* bytes per frame in the file */
    uint8_t *bytes;     /* bytes read, not yet converted (a partial frame at most) */
    size_t blen;
    uint8_t *wide;      /* pcm24 widened */
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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL); /* EINTR (Ctrl-C) just ends the nap early */
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* ---- conversion to 16 kHz mono float ----------------------------------------------- */

static int conv_setup(listen_source *s, int fmt, int rate, int channels, const char *name)
{
    if (channels < 1 || channels > 64 || rate < 1000 || rate > 768000) {
        cli_error("'%s': %d Hz, %d channels is not audio sotto can read (1000-768000 Hz, 1-64 channels)",
                  name, rate, channels);
        return EXIT_INPUT;
    }
    AVChannelLayout in_layout, out_layout = AV_CHANNEL_LAYOUT_MONO;
    av_channel_layout_default(&in_layout, channels);
    int err = swr_alloc_set_opts2(&s->swr, &out_layout, AV_SAMPLE_FMT_FLT, SOTTO_SAMPLE_RATE, &in_layout,
                                  (enum AVSampleFormat)fmt, rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    double matrix[64];
    for (int c = 0; c < channels; c++)
        matrix[c] = 1.0 / channels;
    if (err < 0 || !s->swr || swr_set_matrix(s->swr, matrix, channels) < 0 || swr_init(s->swr) < 0) {
        cli_error("'%s': cannot convert %d Hz, %d channels to 16 kHz mono", name, rate, channels);
        return EXIT_FAILURE_GENERIC;
    }
    s->in_fmt = fmt;
    s->in_rate = rate;
    s->in_channels = channels;
    return 0;
}

/* Convert n_in interleaved frames (NULL/0 = drain) into obuf. */
static int conv_run(listen_source *s, const uint8_t *in, int n_in)
{
    int64_t want = swr_get_out_samples(s->swr, n_in) + 256;
    if (want < 0 || want > (int64_t)1 << 26)
        return EXIT_FAILURE_GENERIC;
    if (s->opos == s->olen)
        s->opos = s->olen = 0;
    if (s->olen + (size_t)want > s->ocap) {
        size_t cap = s->olen + (size_t)want;
        float *p = realloc(s->obuf, cap * sizeof *p);
        if (!p) {
            cli_error("out of memory");
            return EXIT_FAILURE_GENERIC;
        }
        s->obuf = p;
        s->ocap = cap;
    }
    uint8_t *out = (uint8_t *)(s->obuf + s->olen);
    const uint8_t *inp[1] = {in};
    int got = swr_convert(s->swr, &out, (int)(s->ocap - s->olen), in ? inp : NULL, n_in);
    if (got < 0) {
        cli_error("resampling failed");
        return EXIT_FAILURE_GENERIC;
    }
    /* the stream refuses non-finite samples; a float file may hold them */
    for (size_t i = s->olen; i < s->olen + (size_t)got; i++) {
        float v = s->obuf[i];
        s->obuf[i] = !isfinite(v) ? 0.0f : v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
    s->olen += (size_t)got;
    return 0;
}

/* ---- FOLLOW: a growing WAV or raw file --------------------------------------------- */

/* Parse a WAV header from the first len bytes. 1: parsed; 0: incomplete (wait for more);
 * -1: not a WAV file or one sotto cannot follow (printed). */
static int wav_parse(listen_source *s, const uint8_t *b, size_t len)
{
    if (len < 12)
        return memcmp(b, "RIFF", len < 4 ? len : 4) == 0 ? 0 : -1;
    if (memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0)
        return -1;
    int64_t p = 12;
    int have_fmt = 0, tag = 0, channels = 0, bits = 0, align = 0;
    int64_t rate = 0;
    for (;;) {
        if (p + 8 > (int64_t)len) {
            if (len < FOLLOW_MAX_HEADER)
                return 0;
            cli_error("'%s': no WAV data chunk in the first %d bytes", s->path, FOLLOW_MAX_HEADER);
            return -2;
        }
        uint32_t size = le32(b + p + 4);
        const uint8_t *body = b + p + 8;
        if (memcmp(b + p, "data", 4) == 0) {
            if (!have_fmt) {
                cli_error("'%s': the WAV data chunk comes before its fmt chunk", s->path);
                return -2;
            }
            s->data_off = p + 8;
            s->size_at_open = size;
            break;
        }
        int64_t next = p + 8 + (int64_t)size + (size & 1);
        if (memcmp(b + p, "fmt ", 4) == 0) {
            if (size < 16 || size > 1024) {
                cli_error("'%s': the WAV fmt chunk has an invalid size (%u)", s->path, size);
                return -2;
            }
            if (p + 8 + (int64_t)size > (int64_t)len)
                return 0;
            tag = le16(body);
            channels = le16(body + 2);
            rate = le32(body + 4);
            align = le16(body + 12);
            bits = le16(body + 14);
            if (tag == 0xFFFE && size >= 26)
                tag = le16(body + 24); /* WAVE_FORMAT_EXTENSIBLE: the subformat's tag */
            have_fmt = 1;
        }
        if (next > FOLLOW_MAX_HEADER) {
            cli_error("'%s': no WAV data chunk in the first %d bytes", s->path, FOLLOW_MAX_HEADER);
            return -2;
        }
        p = next;
    }
    int fmt = -1;
    if (tag == 1 && bits == 8)
        fmt = AV_SAMPLE_FMT_U8;
    else if (tag == 1 && bits == 16)
        fmt = AV_SAMPLE_FMT_S16;
    else if (tag == 1 && (bits == 24 || bits == 32))
        fmt = AV_SAMPLE_FMT_S32;
    else if (tag == 3 && bits == 32)
        fmt = AV_SAMPLE_FMT_FLT;
    else if (tag == 3 && bits == 64)
        fmt = AV_SAMPLE_FMT_DBL;
    if (fmt < 0) {
        cli_error("'%s': --follow reads PCM WAV (8/16/24/32-bit integer or float), not format %d, %d bits; "
                  "convert it or follow raw PCM with --raw s16le --rate N --channels N",
                  s->path, tag, bits);
        return -2;
    }
    if (channels < 1 || align != channels * (bits / 8)) {
        cli_error("'%s': inconsistent WAV header (%d channels, %d bits, block align %d)", s->path, channels,
                  bits, align);
        return -2;
    }
    s->pcm24 = bits == 24;
    s->block_align = align;
    s->is_wav = 1;
    snprintf(s->desc, sizeof s->desc, "wav, %lld Hz, %d ch, %d-bit (followed)", (long long)rate, channels, bits);
    return conv_setup(s, fmt, rate > 768000 ? 0 : (int)rate, channels, s->path) ? -2 : 1;
}

/* Wait for the file to appear and (WAV) for its header to be complete. */
static int follow_open(listen_source *s, const listen_source_options *o)
{
    double start = now_s();
    uint8_t *head = malloc(FOLLOW_MAX_HEADER);
    if (!head) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    int rc = 0;
    for (;;) {
        if (s->fd < 0) {
            s->fd = open(o->path, O_RDONLY | O_CLOEXEC);
            if (s->fd < 0 && errno != ENOENT) {
                cli_error("cannot open '%s': %s", o->path, strerror(errno));
                rc = EXIT_INPUT;
                break;
            }
        }
        if (s->fd >= 0) {
            struct stat st;
            if (fstat(s->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
                cli_error("cannot follow '%s': not a regular file", o->path);
                rc = EXIT_INPUT;
                break;
            }
            if (o->audio.raw != SOTTO_RAW_NONE)
                break; /* raw PCM starts at byte 0: nothing to wait for */
            ssize_t n = pread(s->fd, head, FOLLOW_MAX_HEADER, 0);
            int pr = n < 0 ? -2 : wav_parse(s, head, (size_t)n);
            if (n < 0)
                cli_error("cannot read '%s': %s", o->path, strerror(errno));
            if (pr == 1)
                break;
            if (pr == -1) {
                cli_error("'%s' is not a WAV file; --follow reads WAV, or raw PCM with --raw s16le --rate N --channels N",
                          o->path);
                rc = EXIT_INPUT;
                break;
            }
            if (pr == -2) {
                rc = EXIT_INPUT;
                break;
            }
        }
        if (now_s() - start >= o->idle_s) {
            if (s->fd < 0)
                cli_error("'%s' did not appear within %.0f s (--idle); is the recorder writing there?", o->path,
                          o->idle_s);
            else
                cli_error("'%s' has no complete WAV header after %.0f s (--idle)", o->path, o->idle_s);
            rc = EXIT_INPUT;
            break;
        }
        if (*o->stop) {
            cli_error("interrupted while waiting for '%s'", o->path);
            rc = EXIT_INTERRUPTED;
            break;
        }
        sleep_s(FOLLOW_POLL_S * 5);
    }
    free(head);
    if (rc)
        return rc;
    if (o->audio.raw != SOTTO_RAW_NONE) {
        int s16 = o->audio.raw == SOTTO_RAW_S16LE;
        s->block_align = (s16 ? 2 : 4) * o->audio.raw_channels;
        snprintf(s->desc, sizeof s->desc, "raw %s, %d Hz, %d ch (followed)", s16 ? "s16le" : "f32le",
                 o->audio.raw_rate, o->audio.raw_channels);
        rc = conv_setup(s, s16 ? AV_SAMPLE_FMT_S16 : AV_SAMPLE_FMT_FLT, o->audio.raw_rate, o->audio.raw_channels,
                        o->path);
        if (rc)
            return rc;
    } else {
        /* a finished file: the data size agrees exactly with the file's length */
        struct stat st;
        uint32_t sz = s->size_at_open;
        if (sz != 0 && sz != 0xFFFFFFFFu && fstat(s->fd, &st) == 0 && s->data_off + (int64_t)sz == st.st_size)
            s->final_size = sz;
    }
    s->bytes = malloc(FOLLOW_READ_BYTES + (size_t)s->block_align);
    /* up to FOLLOW_READ_BYTES + a partial frame are converted at once: 4 bytes per sample */
    s->wide = s->pcm24 ? malloc(((size_t)FOLLOW_READ_BYTES + (size_t)s->block_align) / 3 * 4 + 4) : NULL;
    if (!s->bytes || (s->pcm24 && !s->wide)) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    s->last_growth = now_s();
    return 0;
}

/* The writer rewrote the data size when it finished: trust it from then on. */
static void follow_check_final(listen_source *s)
{
    if (!s->is_wav || s->final_size >= 0)
        return;
    uint8_t b[4];
    if (pread(s->fd, b, 4, s->data_off - 4) != 4)
        return;
    uint32_t sz = le32(b);
    if (sz != s->size_at_open && sz != 0 && sz != 0xFFFFFFFFu && (int64_t)sz >= s->pos)
        s->final_size = sz;
}

/* Read appended bytes and convert whole frames; waits while the file does not grow. */
static int follow_fill(listen_source *s)
{
    while (!*s->stop) {
        int64_t room = FOLLOW_READ_BYTES;
        if (s->final_size >= 0 && s->final_size - s->pos < room)
            room = s->final_size - s->pos;
        ssize_t n = room > 0 ? pread(s->fd, s->bytes + s->blen, (size_t)room, s->data_off + s->pos) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("cannot read '%s': %s", s->path, strerror(errno));
            return EXIT_INPUT;
        }
        if (n > 0) {
            s->pos += n;
            s->blen += (size_t)n;
            s->last_growth = now_s();
            size_t frames = s->blen / (size_t)s->block_align;
            size_t used = frames * (size_t)s->block_align;
            const uint8_t *in = s->bytes;
            if (s->pcm24) {
                for (size_t i = 0; i < used / 3; i++) {
                    const uint8_t *p = s->bytes + i * 3;
                    uint32_t v = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24;
                    memcpy(s->wide + i * 4, &v, 4);
                }
                in = s->wide;
            }
            int rc = frames ? conv_run(s, in, (int)frames) : 0;
            memmove(s->bytes, s->bytes + used, s->blen - used);
            s->blen -= used;
            if (rc)
                return rc;
            if (s->olen > s->opos)
                return 0;
            continue;
        }
        follow_check_final(s);
        if (s->final_size >= 0 && s->pos >= s->final_size)
            break;
        if (now_s() - s->last_growth >= s->idle_s)
            break;
        sleep_s(FOLLOW_POLL_S);
    }
    s->ended = 1;
    return conv_run(s, NULL, 0); /* the resampler's tail */
}

/* ---- MIC: FFmpeg's capture devices ------------------------------------------------- */

static int mic_interrupt(void *user)
{
    listen_source *s = user;
    return *s->stop != 0;
}

/* Try one input device; on failure put FFmpeg's reason in why. */
static int mic_try(listen_source *s, const char *driver, const char *dev, char *why, size_t n)
{
    const AVInputFormat *ifmt = av_find_input_format(driver);
    if (!ifmt) {
        snprintf(why, n, "not built into this FFmpeg");
        return -1;
    }
    AVFormatContext *fc = avformat_alloc_context();
    if (!fc) {
        snprintf(why, n, "out of memory");
        return -1;
    }
    fc->interrupt_callback.callback = mic_interrupt;
    fc->interrupt_callback.opaque = s;
    AVDictionary *opt = NULL;
    av_dict_set(&opt, "sample_rate", "16000", 0);
    av_dict_set(&opt, "channels", "1", 0);
    /* ALSA and PulseAudio print their own complaints on stderr; ours is the one line */
    fflush(stderr);
    int saved = dup(STDERR_FILENO), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int log_level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    if (saved >= 0 && devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    int err = avformat_open_input(&fc, dev, ifmt, &opt);
    if (saved >= 0 && devnull >= 0)
        dup2(saved, STDERR_FILENO);
    if (saved >= 0)
        close(saved);
    if (devnull >= 0)
        close(devnull);
    av_log_set_level(log_level);
    av_dict_free(&opt);
    if (err < 0) {
        char e[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(err, e, sizeof e);
        snprintf(why, n, "%s (%s)", strcmp(driver, "pulse") ? "no device" : "no server", e);
        return -1; /* avformat_open_input freed fc */
    }
    AVCodecParameters *par = fc->nb_streams ? fc->streams[0]->codecpar : NULL;
    int fmt = -1;
    if (par && par->codec_id == AV_CODEC_ID_PCM_S16LE)
        fmt = AV_SAMPLE_FMT_S16;
    else if (par && par->codec_id == AV_CODEC_ID_PCM_F32LE)
        fmt = AV_SAMPLE_FMT_FLT;
    else if (par && par->codec_id == AV_CODEC_ID_PCM_S32LE)
        fmt = AV_SAMPLE_FMT_S32;
    else if (par && par->codec_id == AV_CODEC_ID_PCM_U8)
        fmt = AV_SAMPLE_FMT_U8;
    if (fmt < 0) {
        snprintf(why, n, "delivers a sample format sotto does not convert");
        avformat_close_input(&fc);
        return -1;
    }
    s->fmt = fc;
    s->stream_index = 0;
    snprintf(s->desc, sizeof s->desc, "%s '%s', %d Hz, %d ch", driver, dev, par->sample_rate,
             par->ch_layout.nb_channels);
    return conv_setup(s, fmt, par->sample_rate, par->ch_layout.nb_channels, dev) ? -2 : 0;
}

/* libavdevice is loaded only when a microphone is asked for: linked in, it brings
 * PulseAudio, X11 and SDL into every run of every command (about 15 MB of RSS). Its one
 * call registers the capture formats with libavformat, which does the rest. */
static int avdevice_load(void)
{
    static const char *const names[] = {"libavdevice.so." AV_STRINGIFY(LIBAVDEVICE_VERSION_MAJOR),
                                        "libavdevice.so"};
    const char *why = "not found";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            why = dlerror();
            continue;
        }
        void *sym = dlsym(lib, "avdevice_register_all");
        void (*register_all)(void) = NULL;
        if (sym) {
            memcpy(&register_all, &sym, sizeof register_all); /* object to function pointer */
            register_all();
            return 0; /* the library stays loaded: the formats it registered live in it */
        }
        why = "it has no avdevice_register_all";
        dlclose(lib);
    }
    cli_error("microphone input needs FFmpeg's libavdevice (%s); install it with "
              "'apt-get install libavdevice59' (make deps does)",
              why);
    return EXIT_INPUT;
}

static int mic_open(listen_source *s, const listen_source_options *o)
{
    int rc = avdevice_load();
    if (rc)
        return rc;
    const char *dev = o->device ? o->device : "default";
    const char *only = NULL;
    if (!strncmp(dev, "pulse:", 6) || !strncmp(dev, "alsa:", 5)) {
        only = dev[0] == 'p' ? "pulse" : "alsa";
        dev = strchr(dev, ':') + 1;
    }
    char why_pulse[160] = "not tried", why_alsa[160] = "not tried";
    int r = -1;
    if (!only || !strcmp(only, "pulse"))
        r = mic_try(s, "pulse", dev, why_pulse, sizeof why_pulse);
    if (r == -1 && (!only || !strcmp(only, "alsa")))
        r = mic_try(s, "alsa", dev, why_alsa, sizeof why_alsa);
    if (r == -2)
        return EXIT_INPUT;
    if (r != 0) {
        cli_error("no microphone '%s' (PulseAudio: %s; ALSA: %s): start PulseAudio/PipeWire or connect a "
                  "sound card; list inputs with 'pactl list sources short' or 'arecord -L' and pick one with "
                  "--device NAME (without a device, try --realtime FILE)",
                  dev, why_pulse, why_alsa);
        return EXIT_INPUT;
    }
    s->pkt = av_packet_alloc();
    if (!s->pkt) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    return 0;
}

static int mic_fill(listen_source *s)
{
    while (!*s->stop) {
        int err = av_read_frame(s->fmt, s->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR(EINTR)) {
            sleep_s(0.005);
            continue;
        }
        if (err < 0) {
            if (*s->stop || err == AVERROR_EXIT)
                break;
            char e[AV_ERROR_MAX_STRING_SIZE];
            av_strerror(err, e, sizeof e);
            cli_error("microphone stopped delivering audio: %s", e);
            return EXIT_INPUT;
        }
        int bytes_per_frame = av_get_bytes_per_sample((enum AVSampleFormat)s->in_fmt) * s->in_channels;
        int frames = s->pkt->stream_index == s->stream_index ? s->pkt->size / bytes_per_frame : 0;
        int rc = frames > 0 ? conv_run(s, s->pkt->data, frames) : 0;
        av_packet_unref(s->pkt);
        if (rc)
            return rc;
        if (s->olen > s->opos)
            return 0;
    }
    s->ended = 1;
    return conv_run(s, NULL, 0);
}

/* ---- the common interface ------------------------------------------------------------ */

int listen_source_open(const listen_source_options *o, listen_source **out)
{
    *out = NULL;
    listen_source *s = calloc(1, sizeof *s);
    if (!s) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    s->kind = o->kind;
    s->stop = o->stop;
    s->fd = -1;
    s->final_size = -1;
    s->idle_s = o->idle_s;
    int rc = 0;
    if (o->kind == LISTEN_SRC_FILE) {
        int arc = sotto_audio_open(o->path, &o->audio, &s->audio);
        if (arc) {
            cli_error("%s", sotto_last_error());
            rc = cli_exit_code(arc) == EXIT_USAGE ? EXIT_INPUT : cli_exit_code(arc);
        } else {
            snprintf(s->desc, sizeof s->desc, "%s", sotto_audio_describe(s->audio));
        }
    } else if (o->kind == LISTEN_SRC_FOLLOW) {
        s->path = strdup(o->path);
        rc = s->path ? follow_open(s, o) : EXIT_FAILURE_GENERIC;
    } else {
        rc = mic_open(s, o);
    }
    if (rc) {
        listen_source_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int listen_source_read(listen_source *s, float *pcm, size_t max, size_t *n)
{
    *n = 0;
    if (s->kind == LISTEN_SRC_FILE) {
        if (*s->stop)
            return 0;
        int rc = sotto_audio_read(s->audio, pcm, max, n);
        if (rc) {
            cli_error("%s", sotto_last_error());
            return cli_exit_code(rc);
        }
        return 0;
    }
    if (s->opos == s->olen && !s->ended) {
        int rc = s->kind == LISTEN_SRC_FOLLOW ? follow_fill(s) : mic_fill(s);
        if (rc)
            return rc;
    }
    size_t k = s->olen - s->opos < max ? s->olen - s->opos : max;
    memcpy(pcm, s->obuf + s->opos, k * sizeof *pcm);
    s->opos += k;
    *n = k;
    return 0;
}

const char *listen_source_describe(const listen_source *s) { return s->desc; }

void listen_source_close(listen_source *s)
{
    if (!s)
        return;
    sotto_audio_close(s->audio);
    if (s->fd >= 0)
        close(s->fd);
    if (s->fmt)
        avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    swr_free(&s->swr);
    free(s->obuf);
    free(s->bytes);
    free(s->wide);
    free(s->path);
    free(s);
}
