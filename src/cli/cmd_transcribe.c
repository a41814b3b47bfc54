/*
 * cmd_transcribe.c - `sotto transcribe`: files in, transcripts out.
 *
 * One recognizer is created for all inputs. Each input is streamed through the batch
 * pipeline; its outputs are written only when it succeeded, each through a temporary
 * file renamed into place, so a failure never leaves a partial output file behind.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sotto/sotto.h"

typedef struct tr_config {
    unsigned formats;
    const char *outdir;
    int quiet;
    const char *backend;
    sotto_asr_options asr;
    sotto_audio_options audio;
} tr_config;

enum {
    OPT_BACKEND = 256, OPT_PROMPT, OPT_WORDS, OPT_BEAM, OPT_BEST_OF, OPT_TEMP, OPT_NO_FALLBACK,
    OPT_TRANSLATE, OPT_NO_TS, OPT_RAW, OPT_RATE, OPT_CHANNELS, OPT_HELP
};

static int parse_args(int argc, char **argv, tr_config *c)
{
    static const struct option longopts[] = {
        {"format", required_argument, 0, 'f'},     {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},            {"backend", required_argument, 0, OPT_BACKEND},
        {"model", required_argument, 0, 'm'},      {"language", required_argument, 0, 'l'},
        {"prompt", required_argument, 0, OPT_PROMPT}, {"word-timestamps", no_argument, 0, OPT_WORDS},
        {"threads", required_argument, 0, 't'},    {"beam-size", required_argument, 0, OPT_BEAM},
        {"best-of", required_argument, 0, OPT_BEST_OF}, {"temperature", required_argument, 0, OPT_TEMP},
        {"no-fallback", no_argument, 0, OPT_NO_FALLBACK}, {"translate", no_argument, 0, OPT_TRANSLATE},
        {"no-timestamps", no_argument, 0, OPT_NO_TS}, {"raw", required_argument, 0, OPT_RAW},
        {"rate", required_argument, 0, OPT_RATE}, {"channels", required_argument, 0, OPT_CHANNELS},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0}};
    int opt;
    c->formats = SOTTO_FORMAT_TXT;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":f:o:qm:l:t:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (sotto_format_parse(optarg, &c->formats) != 0) {
                cli_error("%s", sotto_last_error());
                return -1;
            }
            break;
        case 'o': c->outdir = optarg; break;
        case 'q': c->quiet = 1; break;
        case OPT_BACKEND: c->backend = optarg; break;
        case 'm': c->asr.model_path = optarg; break;
        case 'l': c->asr.language = optarg; break;
        case OPT_PROMPT: c->asr.prompt = optarg; break;
        case OPT_WORDS: c->asr.word_timestamps = 1; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 256, &c->asr.n_threads)) return -1; break;
        case OPT_BEAM: if (cli_parse_int("--beam-size", optarg, 1, 16, &c->asr.beam_size)) return -1; break;
        case OPT_BEST_OF: if (cli_parse_int("--best-of", optarg, 1, 16, &c->asr.best_of)) return -1; break;
        case OPT_TEMP: if (cli_parse_float("--temperature", optarg, 0, 2, &c->asr.temperature)) return -1; break;
        case OPT_NO_FALLBACK: c->asr.no_fallback = 1; break;
        case OPT_TRANSLATE: c->asr.translate = 1; break;
        case OPT_NO_TS: c->asr.no_timestamps = 1; break;
        case OPT_RAW:
            if (sotto_audio_parse_raw_format(optarg, &c->audio.raw) != 0) {
                cli_error("--raw expects s16le or f32le, not '%s'", optarg);
                return -1;
            }
            break;
        case OPT_RATE: if (cli_parse_int("--rate", optarg, 1000, 384000, &c->audio.raw_rate)) return -1; break;
        case OPT_CHANNELS: if (cli_parse_int("--channels", optarg, 1, 32, &c->audio.raw_channels)) return -1; break;
        case 'h': cli_help("transcribe", stdout); return 1;
        case ':': cli_error("option '%s' needs a value (see 'sotto help transcribe')", argv[optind - 1]); return -1;
        default: cli_error("unknown option '%s' (see 'sotto help transcribe')", argv[optind - 1]); return -1;
        }
    }
    if (optind >= argc) {
        cli_error("no input files (usage: sotto transcribe [options] FILE...)");
        return -1;
    }
    if (c->audio.raw != SOTTO_RAW_NONE && (!c->audio.raw_rate || !c->audio.raw_channels)) {
        cli_error("--raw needs --rate and --channels too (e.g. --raw s16le --rate 16000 --channels 1)");
        return -1;
    }
    if (c->audio.raw == SOTTO_RAW_NONE && (c->audio.raw_rate || c->audio.raw_channels)) {
        cli_error("--rate and --channels describe raw input; add --raw s16le or --raw f32le");
        return -1;
    }
    return 0;
}

/* Name of the output file for input `in` in format f: DIR/<stem>.<ext>. */
static void output_path(const tr_config *c, const char *in, sotto_format f, char *out, size_t n)
{
    char dirbuf[4096], basebuf[4096];
    const char *dir, *base;
    if (strcmp(in, "-") == 0) {
        dir = ".";
        base = "stdin";
    } else {
        snprintf(dirbuf, sizeof dirbuf, "%s", in);
        snprintf(basebuf, sizeof basebuf, "%s", in);
        dir = dirname(dirbuf);
        base = basename(basebuf);
    }
    if (c->outdir)
        dir = c->outdir;
    const char *dot = strrchr(base, '.');
    int stem_len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, n, "%s/%.*s.%s", dir, stem_len, base, sotto_format_ext(f));
}

/* Write data to path through a temporary file in the same directory, then rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok = (fclose(f) == 0) && ok;
    else
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        cli_error("cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

typedef struct tr_progress_ctx {
    cli_progress bar;
} tr_progress_ctx;

static int on_progress(void *user, const sotto_progress *p)
{
    tr_progress_ctx *ctx = user;
    cli_progress_update(&ctx->bar, p->done_s, p->total_s, p->elapsed_s);
    return cli_interrupted;
}

/* Transcribe one input and write its outputs; returns an exit code. */
static int transcribe_one(const tr_config *c, sotto_asr *asr, const char *in, int to_stdout)
{
    sotto_audio *audio = NULL;
    int rc = sotto_audio_open(in, &c->audio, &audio);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    sotto_transcript t;
    sotto_transcript_init(&t);
    tr_progress_ctx ctx;
    cli_progress_init(&ctx.bar, strcmp(in, "-") ? in : "stdin", c->quiet);
    sotto_pipeline_options po;
    sotto_pipeline_options_init(&po);
    po.progress = on_progress;
    po.progress_user = &ctx;
    rc = sotto_pipeline_transcribe(asr, audio, &po, &t);
    cli_progress_done(&ctx.bar);
    sotto_audio_close(audio);
    if (rc) {
        if (rc == SOTTO_ECANCELED)
            cli_error("interrupted; nothing written for '%s'", in);
        else
            cli_error("%s", sotto_last_error());
        sotto_transcript_free(&t);
        return cli_exit_code(rc);
    }
    int exit_code = EXIT_OK;
    sotto_buf out = SOTTO_BUF_INIT;
    for (unsigned f = 1; f <= SOTTO_FORMAT_TSV; f <<= 1) {
        if (!(c->formats & f))
            continue;
        sotto_buf_reset(&out);
        rc = sotto_transcript_write(&t, (sotto_format)f, &out);
        if (rc) {
            cli_error("%s", sotto_last_error());
            exit_code = EXIT_FAILURE_GENERIC;
            break;
        }
        if (to_stdout) {
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
            fflush(stdout);
            continue;
        }
        char path[4096];
        output_path(c, in, (sotto_format)f, path, sizeof path);
        if (write_atomic(path, out.data ? out.data : "", out.len) != 0) {
            exit_code = EXIT_OUTPUT;
            break;
        }
        if (!c->quiet)
            fprintf(stderr, "sotto: wrote %s\n", path);
    }
    sotto_buf_free(&out);
    sotto_transcript_free(&t);
    return exit_code;
}

static int count_bits(unsigned x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

int cmd_transcribe(int argc, char **argv)
{
    tr_config c;
    memset(&c, 0, sizeof c);
    sotto_asr_options_init(&c.asr);
    int prc = parse_args(argc, argv, &c);
    if (prc)
        return prc > 0 ? EXIT_OK : EXIT_USAGE;
    if (c.quiet)
        sotto_log_set_level(SOTTO_LOG_ERROR);
    int n_files = argc - optind;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0 && n_files > 1) {
            cli_error("'-' (standard input) must be the only input");
            return EXIT_USAGE;
        }
    }
    if (c.outdir && access(c.outdir, W_OK) != 0) {
        cli_error("output directory '%s' is not a writable directory", c.outdir);
        return EXIT_OUTPUT;
    }
    sotto_asr *asr = NULL;
    int rc = sotto_asr_new(c.backend, &c.asr, &asr);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return rc == SOTTO_EINVAL ? EXIT_USAGE : EXIT_BACKEND;
    }
    int to_stdout = n_files == 1 && !c.outdir && count_bits(c.formats) == 1;
    int exit_code = EXIT_OK;
    for (int i = optind; i < argc && !cli_interrupted; i++) {
        int code = transcribe_one(&c, asr, argv[i], to_stdout);
        if (code != EXIT_OK && exit_code == EXIT_OK)
            exit_code = code;
    }
    sotto_asr_free(asr);
    if (cli_interrupted)
        exit_code = EXIT_INTERRUPTED;
    return exit_code;
}
