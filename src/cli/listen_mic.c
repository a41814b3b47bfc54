/*
 * listen_mic.c - `sotto listen --mic`: live capture through FFmpeg's input devices,
 * PulseAudio first, then ALSA, with one error line naming what to do when neither has a
 * device. libavdevice is dlopen()ed here only, when a microphone is asked for.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libavdevice/version.h>
#include <libavformat/avformat.h>

#include "cli.h"
#include "listen_source_int.h"

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
    return listen_conv_setup(s, fmt, par->sample_rate, par->ch_layout.nb_channels, dev) ? -2 : 0;
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

int listen_mic_open(listen_source *s, const listen_source_options *o)
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
        cli_error(
            "no microphone '%s' (PulseAudio: %s; ALSA: %s): start PulseAudio/PipeWire or connect a "
            "sound card; list inputs with 'pactl list sources short' or 'arecord -L' and pick one "
            "with "
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

int listen_mic_fill(listen_source *s)
{
    while (!*s->stop) {
        int err = av_read_frame(s->fmt, s->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR(EINTR)) {
            listen_sleep_s(0.005);
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
        int bytes_per_frame =
            av_get_bytes_per_sample((enum AVSampleFormat)s->in_fmt) * s->in_channels;
        int frames = s->pkt->stream_index == s->stream_index ? s->pkt->size / bytes_per_frame : 0;
        int rc = frames > 0 ? listen_conv_run(s, s->pkt->data, frames) : 0;
        av_packet_unref(s->pkt);
        if (rc)
            return rc;
        if (s->olen > s->opos)
            return 0;
    }
    s->ended = 1;
    return listen_conv_run(s, NULL, 0);
}
