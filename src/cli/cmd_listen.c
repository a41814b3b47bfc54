/*
 * cmd_listen.c - `sotto listen`: the live pipeline (sotto_stream) from the command line.
 *
 * Audio comes from a listen_source (a file, a file paced like live audio, a file still
 * being written, a microphone) and goes into one sotto_stream; its events are printed as
 * they come: on a terminal the partial text is redrawn in place and finals are printed as
 * "[mm:ss.s - mm:ss.s] text" lines; with --json every event is one JSON object per line
 * (the objects the server's /v1/listen sends). A plain FILE runs the stream on this
 * thread (as fast as possible); live sources run it threaded so that reading never waits
 * for recognition. Ctrl-C ends the input and finishes the stream (the tail is still
 * transcribed); a second Ctrl-C kills the process (main.c's handler).
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "listen_source.h"
#include "sotto/sotto.h"
#include "sotto/stream.h"

#define REALTIME_CHUNK 640 /* 40 ms at 16 kHz, the size of a typical live audio packet */
#define FILE_CHUNK 8000    /* 0.5 s: keeps Ctrl-C responsive while running in sync mode */

typedef struct listen_config {
    listen_source_options src;
    const char *backend;
    sotto_asr_options asr;
    sotto_stream_options st;
    int realtime, json, stats, quiet;
} listen_config;

/* What the event callback needs; written only from the thread delivering events. */
typedef struct listen_out {
    int json, tty, partial_shown, width;
    int realtime;
    double t0;               /* wall clock when the first sample was fed (realtime) */
    double lat_sum, lat_max; /* final-word latency: emission time minus the word's end */
    int64_t lat_n, n_finals;
    double first_partial_wall; /* wall time of the first partial, -1 before */
    sotto_buf line;
} listen_out;

enum {
    OPT_BACKEND = 256, OPT_TASK, OPT_POLICY, OPT_DOMAIN, OPT_TERMS, OPT_PROMPT, OPT_MIN_CHUNK, OPT_NO_VAD, OPT_EARLY,
    OPT_JSON, OPT_STATS, OPT_REALTIME, OPT_FOLLOW, OPT_MIC, OPT_DEVICE, OPT_IDLE, OPT_RAW, OPT_RATE,
    OPT_CHANNELS
};

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_args(int argc, char **argv, listen_config *c)
{
    static const struct option longopts[] = {
        {"backend", required_argument, 0, 'b'},   {"model", required_argument, 0, 'm'},
        {"language", required_argument, 0, 'l'},  {"task", required_argument, 0, OPT_TASK},
        {"policy", required_argument, 0, OPT_POLICY}, {"domain", required_argument, 0, OPT_DOMAIN},
        {"terms", required_argument, 0, OPT_TERMS}, {"prompt", required_argument, 0, OPT_PROMPT},
        {"min-chunk", required_argument, 0, OPT_MIN_CHUNK}, {"no-vad", no_argument, 0, OPT_NO_VAD},
        {"early-commit", no_argument, 0, OPT_EARLY},
        {"threads", required_argument, 0, 't'},   {"json", no_argument, 0, OPT_JSON},
        {"stats", no_argument, 0, OPT_STATS},     {"realtime", no_argument, 0, OPT_REALTIME},
        {"follow", no_argument, 0, OPT_FOLLOW},   {"mic", no_argument, 0, OPT_MIC},
        {"device", required_argument, 0, OPT_DEVICE}, {"idle", required_argument, 0, OPT_IDLE},
        {"raw", required_argument, 0, OPT_RAW},   {"rate", required_argument, 0, OPT_RATE},
        {"channels", required_argument, 0, OPT_CHANNELS}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    int opt, follow = 0, mic = 0, idle_set = 0;
    float f;
    optind = 1;
    opterr = 0;
    c->src.idle_s = 10;
    while ((opt = getopt_long(argc, argv, ":b:m:l:t:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b': c->backend = optarg; break;
        case 'm': c->asr.model_path = optarg; break;
        case 'l': c->asr.language = optarg; break;
        case OPT_TASK:
            if (strcmp(optarg, "transcribe") && strcmp(optarg, "translate")) {
                cli_error("--task is transcribe or translate, not '%s'", optarg);
                return -1;
            }
            c->asr.translate = !strcmp(optarg, "translate");
            break;
        case OPT_POLICY:
            if (sotto_stream_policy_parse(optarg, &c->st.policy) != 0) {
                cli_error("%s", sotto_last_error());
                return -1;
            }
            break;
        case OPT_DOMAIN: {
            const char *terms;
            if (sotto_stream_domain_terms(optarg, &terms) != 0) {
                cli_error("%s", sotto_last_error());
                return -1;
            }
            c->st.domain = optarg;
            break;
        }
        case OPT_TERMS: c->st.terms = optarg; break;
        case OPT_PROMPT: c->st.prompt = optarg; break;
        case OPT_MIN_CHUNK:
            if (cli_parse_float("--min-chunk", optarg, 0.04f, 30, &c->st.min_chunk_s)) return -1;
            break;
        case OPT_NO_VAD: c->st.use_vad = 0; break;
        case OPT_EARLY: c->st.early_commit = 1; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 256, &c->asr.n_threads)) return -1; break;
        case OPT_JSON: c->json = 1; break;
        case OPT_STATS: c->stats = 1; break;
        case OPT_REALTIME: c->realtime = 1; break;
        case OPT_FOLLOW: follow = 1; break;
        case OPT_MIC: mic = 1; break;
        case OPT_DEVICE: c->src.device = optarg; break;
        case OPT_IDLE:
            if (cli_parse_float("--idle", optarg, 0.1f, 86400, &f)) return -1;
            c->src.idle_s = f;
            idle_set = 1;
            break;
        case OPT_RAW:
            if (sotto_audio_parse_raw_format(optarg, &c->src.audio.raw) != 0) {
                cli_error("--raw expects s16le or f32le, not '%s'", optarg);
                return -1;
            }
            break;
        case OPT_RATE: if (cli_parse_int("--rate", optarg, 1000, 384000, &c->src.audio.raw_rate)) return -1; break;
        case OPT_CHANNELS: if (cli_parse_int("--channels", optarg, 1, 32, &c->src.audio.raw_channels)) return -1; break;
        case 'q': c->quiet = 1; break;
        case 'h': cli_help("listen", stdout); return 1;
        case ':': cli_error("option '%s' needs a value (see 'sotto help listen')", argv[optind - 1]); return -1;
        default: cli_error("unknown option '%s' (see 'sotto help listen')", argv[optind - 1]); return -1;
        }
    }
    int n_files = argc - optind;
    if (follow + mic > 1 || (mic && n_files > 0)) {
        cli_error("give one source: FILE, --follow FILE or --mic (see 'sotto help listen')");
        return -1;
    }
    if (!mic && n_files != 1) {
        cli_error(n_files ? "listen takes one input (usage: sotto listen [options] FILE | --follow FILE | --mic)"
                          : "no input (usage: sotto listen [options] FILE | --follow FILE | --mic)");
        return -1;
    }
    c->src.kind = mic ? LISTEN_SRC_MIC : follow ? LISTEN_SRC_FOLLOW : LISTEN_SRC_FILE;
    c->src.path = mic ? NULL : argv[optind];
    if (c->realtime && c->src.kind != LISTEN_SRC_FILE) {
        cli_error("--realtime paces a FILE; --follow and --mic are live already");
        return -1;
    }
    if (idle_set && !follow) {
        cli_error("--idle applies to --follow FILE");
        return -1;
    }
    if (c->src.device && !mic) {
        cli_error("--device applies to --mic");
        return -1;
    }
    if (follow && !strcmp(c->src.path, "-")) {
        cli_error("--follow needs a file name; to read standard input use 'sotto listen -'");
        return -1;
    }
    const sotto_audio_options *a = &c->src.audio;
    if (a->raw != SOTTO_RAW_NONE && (!a->raw_rate || !a->raw_channels)) {
        cli_error("--raw needs --rate and --channels too (e.g. --raw s16le --rate 16000 --channels 1)");
        return -1;
    }
    if (a->raw == SOTTO_RAW_NONE && (a->raw_rate || a->raw_channels)) {
        cli_error("--rate and --channels describe raw input; add --raw s16le or --raw f32le");
        return -1;
    }
    if (mic && a->raw != SOTTO_RAW_NONE) {
        cli_error("--raw describes a file; --mic takes the device's own format");
        return -1;
    }
    return 0;
}

static void fmt_time(char *out, size_t n, double s)
{
    if (s < 0)
        s = 0;
    int m = (int)(s / 60);
    snprintf(out, n, "%02d:%04.1f", m, s - m * 60.0);
}

static void emit_line(listen_out *o)
{
    sotto_buf_putc(&o->line, '\n');
    fwrite(o->line.data, 1, o->line.len, stdout);
    fflush(stdout);
    sotto_buf_reset(&o->line);
}

/* --json: one line per event, exactly as GET /v1/listen sends it (stream times). */
static void json_event(listen_out *o, const sotto_stream_event *ev)
{
    if (sotto_stream_event_json(ev, 0, &o->line) != 0) {
        sotto_buf_reset(&o->line);
        return;
    }
    emit_line(o);
}

/* Terminal: the partial's tail that fits on one line, dim, redrawn in place. */
static void tty_partial(listen_out *o, const char *text)
{
    if (!*text) { /* the partial became final or vanished: clear its line */
        if (o->partial_shown)
            fputs("\r\033[2K", stdout);
        fflush(stdout);
        o->partial_shown = 0;
        return;
    }
    size_t len = strlen(text), room = o->width > 8 ? (size_t)o->width - 2 : 70;
    const char *p = text;
    if (len > room) {
        p = text + (len - room);
        while ((*p & 0xC0) == 0x80) /* do not start inside a UTF-8 sequence */
            p++;
    }
    printf("\r\033[2K\033[2m%s\033[0m", p);
    fflush(stdout);
    o->partial_shown = 1;
}

static void on_event(void *user, const sotto_stream_event *ev)
{
    listen_out *o = user;
    double now = wall_now();
    if (ev->type == SOTTO_STREAM_PARTIAL && o->first_partial_wall < 0 && ev->text && *ev->text)
        o->first_partial_wall = now;
    if (ev->type == SOTTO_STREAM_FINAL) {
        o->n_finals++;
        for (size_t i = 0; o->realtime && i < ev->n_words; i++) {
            double lat = (now - o->t0) - ev->words[i].end;
            o->lat_sum += lat;
            o->lat_n++;
            if (lat > o->lat_max)
                o->lat_max = lat;
        }
    }
    if (o->json) {
        json_event(o, ev);
        return;
    }
    if (ev->type == SOTTO_STREAM_PARTIAL && o->tty) {
        tty_partial(o, ev->text ? ev->text : "");
    } else if (ev->type == SOTTO_STREAM_FINAL) {
        char a[32], z[32];
        fmt_time(a, sizeof a, ev->start);
        fmt_time(z, sizeof z, ev->end);
        if (o->partial_shown)
            fputs("\r\033[2K", stdout);
        o->partial_shown = 0;
        sotto_buf_printf(&o->line, "[%s - %s] %s", a, z, ev->text ? ev->text : "");
        emit_line(o);
    }
}

static void print_stats(const listen_config *c, sotto_stream *st, const listen_out *o, const listen_source *src,
                        double wall)
{
    sotto_stream_stats s;
    sotto_stream_get_stats(st, &s);
    double saved = s.updates_no_vad > 0 ? 100.0 * (double)(s.updates_no_vad - s.updates) / (double)s.updates_no_vad : 0;
    fprintf(stderr, "sotto: listen: %s\n", listen_source_describe(src));
    fprintf(stderr,
            "sotto: stats: audio %.2f s, voiced %.2f s, compute %.2f s, RTF %.3f, wall %.2f s, updates %lld, "
            "updates without VAD %lld (%.0f%% calls saved), finals %lld%s\n",
            s.audio_s, s.voiced_s, s.compute_s, s.rtf, wall, (long long)s.updates, (long long)s.updates_no_vad,
            saved, (long long)o->n_finals, s.degraded ? ", fell behind real time" : "");
    if (c->realtime && o->lat_n > 0)
        fprintf(stderr, "sotto: latency: final words mean %.2f s, max %.2f s after they were spoken; first partial at %.2f s\n",
                o->lat_sum / (double)o->lat_n, o->lat_max,
                o->first_partial_wall >= 0 ? o->first_partial_wall - o->t0 : -1.0);
}

/* First Ctrl-C: stop reading and finish the stream (the tail is still transcribed).
 * Second: quit now, from the handler (only async-signal-safe calls). */
/* Sleep until the wall clock reaches t (realtime pacing), waking early on Ctrl-C. */
static void sleep_until(double t)
{
    for (double d; (d = t - wall_now()) > 0 && !cli_interrupted;) {
        if (d > 0.05)
            d = 0.05;
        struct timespec ts = {0, (long)(d * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* Read the source into the stream until it ends; returns an exit code. */
static int pump(const listen_config *c, listen_source *src, sotto_stream *st, listen_out *o)
{
    size_t chunk = c->realtime ? REALTIME_CHUNK : FILE_CHUNK;
    float *pcm = malloc(chunk * sizeof *pcm);
    if (!pcm) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    int64_t fed = 0;
    int code = EXIT_OK;
    o->t0 = wall_now();
    while (!cli_interrupted) {
        size_t n = 0;
        code = listen_source_read(src, pcm, chunk, &n);
        if (code || n == 0)
            break;
        int rc = sotto_stream_feed(st, pcm, n);
        if (rc) {
            cli_error("%s", sotto_last_error());
            code = cli_exit_code(rc) == EXIT_USAGE ? EXIT_FAILURE_GENERIC : cli_exit_code(rc);
            break;
        }
        fed += (int64_t)n;
        if (c->realtime)
            sleep_until(o->t0 + (double)fed / SOTTO_SAMPLE_RATE);
    }
    free(pcm);
    return code;
}

int cmd_listen(int argc, char **argv)
{
    listen_config c;
    memset(&c, 0, sizeof c);
    sotto_asr_options_init(&c.asr);
    sotto_stream_options_init(&c.st);
    c.src.stop = &cli_interrupted;
    int prc = parse_args(argc, argv, &c);
    if (prc)
        return prc > 0 ? EXIT_OK : EXIT_USAGE;
    if (c.quiet)
        sotto_log_set_level(SOTTO_LOG_ERROR);
    c.asr.word_timestamps = 1; /* finals carry word times (JSON, latency figures) */
    /* live sources (standard input may be one: arecord | sotto listen -) must never wait
     * for recognition: the stream's worker does it */
    c.st.threaded = c.realtime || c.src.kind != LISTEN_SRC_FILE || !strcmp(c.src.path, "-");

    listen_source *src = NULL;
    int code = listen_source_open(&c.src, &src);
    if (code)
        return code;
    sotto_asr *asr = NULL;
    int rc = sotto_asr_new(c.backend, &c.asr, &asr);
    if (rc) {
        cli_error("%s", sotto_last_error());
        listen_source_close(src);
        return rc == SOTTO_EINVAL ? EXIT_USAGE : EXIT_BACKEND;
    }
    listen_out out;
    memset(&out, 0, sizeof out);
    out.json = c.json;
    out.tty = isatty(STDOUT_FILENO);
    out.realtime = c.realtime;
    out.first_partial_wall = -1;
    out.lat_max = -1e9;
    struct winsize ws;
    if (out.tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        out.width = ws.ws_col;
    sotto_stream *st = NULL;
    rc = sotto_stream_new(asr, &c.st, on_event, &out, &st);
    if (rc) {
        cli_error("%s", sotto_last_error());
        sotto_asr_free(asr);
        listen_source_close(src);
        return rc == SOTTO_EINVAL ? EXIT_USAGE : EXIT_BACKEND;
    }
    double t_start = wall_now();
    code = pump(&c, src, st, &out);
    /* Ctrl-C or end of input: the tail is still recognized and printed */
    rc = sotto_stream_finish(st);
    if (rc && !code) {
        cli_error("%s", sotto_last_error());
        code = cli_exit_code(rc) == EXIT_USAGE ? EXIT_FAILURE_GENERIC : cli_exit_code(rc);
    }
    if (out.partial_shown && !out.json) {
        fputs("\r\033[2K", stdout);
        fflush(stdout);
    }
    if (c.stats)
        print_stats(&c, st, &out, src, wall_now() - t_start);
    sotto_stream_free(st);
    sotto_asr_free(asr);
    listen_source_close(src);
    sotto_buf_free(&out.line);
    return code;
}
