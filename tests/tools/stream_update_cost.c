/*
 * stream_update_cost.c - what one live update of a local_agreement (or generic) stream
 * costs decoded greedily, as streams decode them, against the recognizer's own search (the
 * server's options: beam 5, best_of 5, temperature fallback), which the final pass of an
 * utterance keeps. The two ways are interleaved (greedy, full, greedy, ...) on one run
 * state so that load from other processes hits both alike; prints per way the median
 * process CPU seconds per update (getrusage: contention-free) and the decoder work
 * counted (tokens fed to the decoder, decoder calls, windows encoded), and their ratio.
 *
 *   stream_update_cost MODEL|PRESET AUDIO [-s SECONDS] [-r ROUNDS] [-t THREADS] [-p PROMPT]
 *
 * MODEL is a ggml Whisper file; PRESET (tiny, base, ...) writes a random-weight model of
 * those dims to a temporary file first: a random model never says end-of-text, so every
 * decode runs to the token limit and the full search climbs the whole fallback ladder (the
 * worst case; a real model stops earlier). AUDIO is any file sotto reads, cut to SECONDS
 * (default 3: a live update's buffer). The unit test
 * stream_whisper_opts.update_decodes_far_fewer_tokens_greedy_than_full checks the counts;
 * the seconds are measured here (speed is measured in benchmarks, not timed tests).
 * Figures seen (random tiny, fixtures/utt_00_kal16.wav 3 s, 1 thread, x86-64 release):
 * greedy 4.5 s, full 97.8 s CPU per update (21.7x; 484 vs 27012 decoder tokens); the old
 * unit test saw 2.6x to 9x on synthesized audio, as the number of 30 s windows a decode
 * takes varies with its (random) output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "asr/asr_int.h"
#include "asr/whisper/transcribe.h"
#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "bench_util.h"

#define MAX_ROUNDS 21

/* model: a file, or a preset's random-weight model written to tmp (path in buf). */
static int model_path(const char *arg, char *buf, size_t cap, const char **path, int *written)
{
    whisper_hparams hp;
    *written = 0;
    if (access(arg, R_OK) == 0 || whisper_hparams_preset(arg, 0, &hp) != 0) {
        *path = arg;
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    int len = snprintf(buf, cap, "%s/stream_update_cost_%s_%ld.bin", tmp && *tmp ? tmp : "/tmp",
                       arg, (long)getpid());
    if (len < 0 || (size_t)len >= cap)
        return error_set(SOTTO_EINVAL, "temporary path too long");
    int rc = whisper_model_write_random(&hp, NN_F32, 11, buf);
    if (rc)
        return rc;
    *path = buf;
    *written = 1;
    return 0;
}

static int bench(const char *path, const float *pcm, size_t n, int rounds, int threads,
                 const char *prompt)
{
    sotto_asr_options base; /* the recognizer's own (the server's defaults) */
    sotto_asr_options_init(&base);
    base.model_path = path;
    base.language = "en";
    base.n_threads = threads;
    base.word_timestamps = 1;
    base.no_fallback = 0;
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    whisper_runner *r = NULL;
    int rc = whisper_model_load(path, &m);
    if (!rc)
        rc = whisper_tokenizer_new(m, &tk);
    if (!rc)
        rc = whisper_runner_new(m, tk, threads, whisper_runner_slots(&base), &r);
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_call call = {.prompt = prompt, .word_timestamps = 1};
    double cpu[2][MAX_ROUNDS];
    whisper_runner_stats sum[2];
    memset(sum, 0, sizeof sum);
    /* a first call pages the weights in and makes the run state's scratch: not counted */
    sotto_asr_options o;
    asr_call_options(&base, &call, &greedy, &o);
    sotto_transcript t;
    sotto_transcript_init(&t);
    if (!rc)
        rc = whisper_transcribe(r, &o, pcm, n / 4, 0, &t);
    sotto_transcript_free(&t);
    for (int k = 0; !rc && k < rounds; k++) {
        for (int j = 0; !rc && j < 2; j++) {
            int way = (k + j) % 2; /* alternate which way goes first */
            asr_call_options(&base, &call, way == 0 ? &greedy : NULL, &o);
            whisper_runner_stats s0, s1;
            whisper_runner_get_stats(r, &s0);
            sotto_transcript_init(&t);
            double c0 = cpu_s();
            rc = whisper_transcribe(r, &o, pcm, n, 0, &t);
            cpu[way][k] = cpu_s() - c0;
            sotto_transcript_free(&t);
            whisper_runner_get_stats(r, &s1);
            sum[way].n_tokens += s1.n_tokens - s0.n_tokens;
            sum[way].n_decode_calls += s1.n_decode_calls - s0.n_decode_calls;
            sum[way].n_windows += s1.n_windows - s0.n_windows;
        }
    }
    if (!rc) {
        printf("model %s (%s, %s, %d-token context), %.2f s of audio, %d threads, %d rounds\n",
               path, m->size_name, nn_type_name(m->wtype), m->hp.n_text_ctx,
               (double)n / SOTTO_SAMPLE_RATE, threads, rounds);
        double med[2];
        for (int way = 0; way < 2; way++) {
            med[way] = median(cpu[way], rounds);
            printf("%-7s CPU %.3f s per update (median); per update %.0f decoder tokens in %.0f "
                   "calls, %.1f "
                   "windows\n",
                   way == 0 ? "greedy" : "full", med[way], (double)sum[way].n_tokens / rounds,
                   (double)sum[way].n_decode_calls / rounds, (double)sum[way].n_windows / rounds);
        }
        printf("full / greedy: %.1fx the CPU, %.1fx the decoder tokens\n",
               med[1] / (med[0] > 0 ? med[0] : 1e-9),
               (double)sum[1].n_tokens / (double)(sum[0].n_tokens ? sum[0].n_tokens : 1));
    }
    whisper_runner_free(r);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *audio = NULL, *prompt = "the words said so far";
    double seconds = 3.0;
    int rounds = 3, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-s") && i + 1 < argc)
            seconds = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            rounds = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc)
            prompt = argv[++i];
        else if (argv[i][0] != '-' && !model)
            model = argv[i];
        else if (argv[i][0] != '-' && !audio)
            audio = argv[i];
        else
            model = NULL, i = argc;
    }
    if (!model || !audio || rounds < 1 || rounds > MAX_ROUNDS || threads < 1 || !(seconds > 0)) {
        fprintf(stderr,
                "usage: stream_update_cost MODEL|PRESET AUDIO [-s SECONDS] [-r ROUNDS (1..%d)] "
                "[-t THREADS] [-p PROMPT]\n",
                MAX_ROUNDS);
        return 2;
    }
    float *pcm = NULL;
    size_t n = 0;
    char buf[1024];
    const char *path = NULL;
    int written = 0;
    int rc = sotto_audio_load(audio, NULL, &pcm, &n);
    if (!rc && n == 0)
        rc = error_set(SOTTO_EINVAL, "%s: no audio", audio);
    if (!rc && (double)n > seconds * SOTTO_SAMPLE_RATE)
        n = (size_t)(seconds * SOTTO_SAMPLE_RATE);
    if (!rc)
        rc = model_path(model, buf, sizeof buf, &path, &written);
    if (!rc)
        rc = bench(path, pcm, n, rounds, threads, prompt);
    if (rc)
        fprintf(stderr, "stream_update_cost: %s\n", sotto_last_error());
    if (written)
        remove(buf);
    free(pcm);
    return rc ? 1 : 0;
}
