/*
 * cmd_bench.c - `sotto bench AUDIO`: decode throughput, recognition RTF, peak RSS; and
 * `sotto bench -m MODEL [-t N]`: the Whisper engine's own figures (load, mel, encoder,
 * decoder per token, batched throughput, and the two efficiency ratios against
 * OpenBLAS sgemm and memcpy measured in the same run).
 *
 * Figures are ratios to real time so they read the same on any machine size; peak RSS
 * comes from getrusage and covers the whole process (both passes).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "sotto/sotto.h"


static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}

/* Pass 1: decode + resample the whole file, discarding samples. */
static int bench_decode(const char *path, double *audio_s, double *wall_s)
{
    sotto_audio *a = NULL;
    int rc = sotto_audio_open(path, NULL, &a);
    if (rc)
        return rc;
    static float block[16000];
    size_t n, total = 0;
    double t0 = now_s();
    while ((rc = sotto_audio_read(a, block, 16000, &n)) == 0 && n > 0)
        total += n;
    *wall_s = now_s() - t0;
    *audio_s = (double)total / SOTTO_SAMPLE_RATE;
    sotto_audio_close(a);
    return rc;
}

static int on_progress(void *user, const sotto_progress *p)
{
    cli_progress_update(user, p->done_s, p->total_s, p->elapsed_s);
    return cli_interrupted;
}

/* Pass 2: the full batch pipeline with the chosen recognizer. */
static int bench_transcribe(const char *path, const char *backend, const sotto_asr_options *o,
                            double *wall_s, size_t *n_segments, char *model, size_t model_size)
{
    sotto_asr *asr = NULL;
    int rc = sotto_asr_new(backend, o, &asr);
    if (rc)
        return rc;
    snprintf(model, model_size, "%s (%s)", sotto_asr_backend_name(asr), sotto_asr_model_name(asr));
    sotto_audio *a = NULL;
    rc = sotto_audio_open(path, NULL, &a);
    if (rc) {
        sotto_asr_free(asr);
        return rc;
    }
    sotto_transcript t;
    sotto_transcript_init(&t);
    cli_progress bar;
    cli_progress_init(&bar, "transcribing", 0);
    sotto_pipeline_options po;
    sotto_pipeline_options_init(&po);
    po.progress = on_progress;
    po.progress_user = &bar;
    double t0 = now_s();
    rc = sotto_pipeline_transcribe(asr, a, &po, &t);
    *wall_s = now_s() - t0;
    cli_progress_done(&bar);
    *n_segments = t.n_segments;
    sotto_transcript_free(&t);
    sotto_audio_close(a);
    sotto_asr_free(asr);
    return rc;
}

/* ---- sotto bench -m MODEL: the Whisper engine ---------------------------------------- */

/* `sotto bench -m MODEL`: the Whisper engine's figures (sotto_whisper_bench). */
static int cmd_bench_whisper(const char *model_path, int n_threads, int json)
{
    sotto_whisper_bench_result r;
    int rc = sotto_whisper_bench(model_path, n_threads, &r);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    if (json) {
        printf("{\"model\": ");
        sotto_buf b = SOTTO_BUF_INIT;
        sotto_buf_json_string(&b, model_path);
        fputs(b.data ? b.data : "\"\"", stdout);
        sotto_buf_free(&b);
        printf(", \"size\": \"%s\", \"type\": \"%s\", \"threads\": %d, "
               "\"load_ms\": %.1f, \"mel_ms\": %.1f, \"encoder_ms\": %.1f, "
               "\"decode_ms_per_token\": %.3f, \"beam5_ms_per_step\": %.3f, "
               "\"tokens_per_s_1\": %.1f, \"tokens_per_s_4\": %.1f, \"tokens_per_s_16\": %.1f, "
               "\"peak_rss_mb\": %.1f, \"encoder_gflops\": %.2f, \"sgemm_gflops\": %.2f, "
               "\"encoder_sgemm_ratio\": %.3f, \"decoder_weight_mb_per_token\": %.2f, "
               "\"decoder_gb_per_s\": %.2f, \"memcpy_gb_per_s\": %.2f, "
               "\"decoder_bandwidth_ratio\": %.3f}\n",
               r.size, r.type, r.threads, r.load_ms, r.mel_ms, r.encoder_ms,
               r.decode_ms_per_token, r.beam5_ms_per_step, r.tokens_per_s[0], r.tokens_per_s[1],
               r.tokens_per_s[2], r.peak_rss_mb, r.encoder_gflops, r.sgemm_gflops,
               r.encoder_sgemm_ratio, r.decoder_weight_mb, r.decoder_gb_per_s, r.memcpy_gb_per_s,
               r.decoder_bandwidth_ratio);
        return EXIT_OK;
    }
    printf("model:            %s (%s, %s), %d threads\n", model_path, r.size, r.type, r.threads);
    printf("load:             %.1f ms\n", r.load_ms);
    printf("log-mel:          %.1f ms per 30 s\n", r.mel_ms);
    printf("encoder:          %.1f ms per 30 s window, %.1f GFLOP/s (OpenBLAS sgemm %.1f: %.0f%%)\n",
           r.encoder_ms, r.encoder_gflops, r.sgemm_gflops, r.encoder_sgemm_ratio * 100);
    printf("decoder:          %.2f ms per token (greedy), %.2f ms per step of 5 beams\n",
           r.decode_ms_per_token, r.beam5_ms_per_step);
    printf("batched tokens/s: %.0f (1), %.0f (4), %.0f (16)\n", r.tokens_per_s[0], r.tokens_per_s[1],
           r.tokens_per_s[2]);
    printf("weights/token:    %.1f MB -> %.2f GB/s (memcpy %.2f GB/s: %.0f%%)\n", r.decoder_weight_mb,
           r.decoder_gb_per_s, r.memcpy_gb_per_s, r.decoder_bandwidth_ratio * 100);
    printf("peak RSS:         %.1f MB (engine, before the reference measurements)\n", r.peak_rss_mb);
    return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
    int json = 0;
    const char *path = NULL, *backend = NULL;
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            cli_help("bench", stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            backend = argv[++i];
        } else if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc) {
            o.model_path = argv[++i];
        } else if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) && i + 1 < argc) {
            if (cli_parse_int("--threads", argv[++i], 1, 64, &o.n_threads))
                return EXIT_USAGE;
        } else if (!strcmp(argv[i], "--greedy")) {
            o.beam_size = 1; /* Whisper: greedy, no temperature fallback */
            o.no_fallback = 1;
        } else if (argv[i][0] == '-') {
            cli_error("unknown option '%s' (see 'sotto help bench')", argv[i]);
            return EXIT_USAGE;
        } else if (!path) {
            path = argv[i];
        } else {
            cli_error("bench takes one audio file");
            return EXIT_USAGE;
        }
    }
    if (!path && o.model_path && (!backend || !strcmp(backend, "whisper")))
        return cmd_bench_whisper(o.model_path, o.n_threads, json);
    if (!path) {
        cli_error("no audio file (usage: sotto bench [--json] [-m MODEL] AUDIO | sotto bench -m MODEL)");
        return EXIT_USAGE;
    }
    if (!backend && o.model_path && strstr(o.model_path, ".bin"))
        backend = "whisper"; /* a ggml file: the Whisper engine end to end */
    double audio_s = 0, decode_s = 0, asr_s = 0;
    int rc = bench_decode(path, &audio_s, &decode_s);
    double rss_after_decode = peak_rss_mb();
    size_t n_segments = 0;
    char model[300] = "";
    if (!rc)
        rc = bench_transcribe(path, backend, &o, &asr_s, &n_segments, model, sizeof model);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    double decode_x = decode_s > 0 ? audio_s / decode_s : 0;
    double rtf = audio_s > 0 ? asr_s / audio_s : 0;
    if (json) {
        printf("{\"audio_s\": %.2f, \"decode_x_realtime\": %.1f, \"recognizer\": \"%s\", "
               "\"transcribe_s\": %.2f, \"rtf\": %.4f, \"segments\": %zu, "
               "\"peak_rss_decode_mb\": %.1f, \"peak_rss_mb\": %.1f}\n",
               audio_s, decode_x, model, asr_s, rtf, n_segments, rss_after_decode, peak_rss_mb());
    } else {
        printf("audio:            %s, %.1f s (%.1f min)\n", path, audio_s, audio_s / 60);
        printf("decode:           %.2f s  -> %.0fx real time\n", decode_s, decode_x);
        printf("recognizer:       %s\n", model);
        printf("transcribe:       %.2f s  -> RTF %.4f (%.1fx real time), %zu segments\n", asr_s, rtf,
               rtf > 0 ? 1 / rtf : 0, n_segments);
        printf("peak RSS:         %.1f MB after decoding, %.1f MB overall\n", rss_after_decode,
               peak_rss_mb());
    }
    return EXIT_OK;
}
