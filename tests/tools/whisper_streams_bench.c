/*
 * whisper_streams_bench.c - N concurrent Whisper streams on one model: decoder CPU per
 * token and wall tokens/s with their decoder steps serialized (each step alone under one
 * lock, as the recognizer lock did) vs batched (the step batcher: steps that coincide run
 * as one whisper_decode_multi pass). A and B are interleaved round by round (order
 * alternating) so that load from other processes hits both alike.
 *
 *   whisper_streams_bench MODEL [-t THREADS] [-n 1,2,4] [-r ROUNDS] [-s STEPS] [--no-simul] [--la]
 *
 * Two measurements per N:
 *  steps  decoder only: each thread owns an encoded window and a cache and feeds a greedy
 *         chain of STEPS tokens (default n_text_ctx / 2, what a random model decodes per
 *         window: it never says end-of-text). Process CPU (getrusage, all threads) over the
 *         run is all decoder, so CPU/token is exact.
 *  simul  whole align_att updates (whisper_simul_update, final, 3 s of audio: log-mel,
 *         encoder, prefix, greedy AlignAtt steps) on per-stream simul objects of one
 *         shared run; serialized = the updates under one lock (the old recognizer lock).
 *         CPU/token includes the encoder here.
 * Prints one line per (N, mode) with medians over the rounds, and the batch sizes seen.
 *
 * --la instead: local_agreement's whole-buffer decodes (one live update each: greedy, word
 * timestamps, 3 s of audio) by N threads at once on one recognizer, A = the shared run
 * state under the recognizer lock (asr_transcribe_decode, as before private runners),
 * B = each thread on its own asr_runner. Prints process CPU seconds per decode, wall
 * decodes/s and cores busy (process CPU / wall: at most threads x 1 when locked), medians,
 * and the resident memory one private runner added.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "asr/asr_int.h"
#include "asr/whisper/decode.h"
#include "asr/whisper/simul.h"
#include "asr/whisper/forward_int.h"
#include "sotto/error.h"
#include "bench_util.h"

#define MAX_STREAMS 16
#define MAX_ROUNDS 15

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Speech-like audio: pulse train through two moving resonances, bursts and pauses. */
static float *make_audio(size_t n, uint64_t seed)
{
    float *x = calloc(n, sizeof *x);
    if (!x)
        return NULL;
    uint64_t s = seed * 2654435761u + 7;
    double ph = 0, p1 = 0, p2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 4000 == 0)
            s = s * 6364136223846793005ull + 1442695040888963407ull;
        double f0 = 110 + (double)((s >> 50) % 90), f1 = 300 + (double)((s >> 30) % 500);
        ph += 2 * 3.14159265 * f0 / 16000, p1 += 2 * 3.14159265 * f1 / 16000, p2 += 2 * 3.14159265 * 1400 / 16000;
        double pulse = 0.5 + 0.5 * __builtin_cos(ph);
        pulse *= pulse, pulse *= pulse;
        x[i] = (float)((i / 4000) % 3 == 2 ? 0 : 0.3 * pulse * (__builtin_sin(p1) + 0.4 * __builtin_sin(p2)));
    }
    return x;
}

typedef struct shared {
    const whisper_model *m;
    whisper_batcher *bt;
    pthread_mutex_t lock; /* the serialized mode's "recognizer lock" */
    pthread_barrier_t start;
    int batched, n_steps;
} shared;

typedef struct lane {
    shared *sh;
    whisper_state *st;
    whisper_kv *kv;
    float *logits, *attn;
    whisper_simul *sim;
    const float *pcm;
    size_t n_pcm;
    long tokens;
    int rc;
} lane;

static int32_t argmax(const float *x, int32_t n)
{
    int32_t b = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* Decoder only: sot, then a greedy chain; every step with the cross-attention, as AlignAtt. */
static void *steps_main(void *arg)
{
    lane *l = arg;
    shared *sh = l->sh;
    const int32_t V = sh->m->hp.n_vocab;
    int32_t tok = sh->m->special.sot;
    pthread_barrier_wait(&sh->start);
    if (sh->batched)
        whisper_batcher_join(sh->bt);
    for (int s = 0; s < sh->n_steps && !l->rc; s++) {
        if (sh->batched) {
            l->rc = whisper_batcher_step(sh->bt, l->st, l->kv, tok, s, l->logits, l->attn);
        } else {
            pthread_mutex_lock(&sh->lock);
            l->rc = whisper_decode(l->st, l->kv, &tok, 1, s, l->logits, l->attn);
            pthread_mutex_unlock(&sh->lock);
        }
        tok = argmax(l->logits, sh->m->special.eot < V ? sh->m->special.eot : V); /* text tokens only */
        l->tokens++;
    }
    if (sh->batched)
        whisper_batcher_leave(sh->bt);
    return NULL;
}

/* One final align_att update on a fresh buffer. */
static void *simul_main(void *arg)
{
    lane *l = arg;
    shared *sh = l->sh;
    whisper_simul_reset(l->sim);
    asr_simul_call c = {.pcm = l->pcm, .n = l->n_pcm, .tau_frames = 4, .final = 1};
    asr_simul_out o;
    pthread_barrier_wait(&sh->start);
    if (!sh->batched)
        pthread_mutex_lock(&sh->lock);
    l->rc = whisper_simul_update(l->sim, &c, &o);
    if (!sh->batched)
        pthread_mutex_unlock(&sh->lock);
    l->tokens += l->rc ? 0 : o.n_new_tokens;
    return NULL;
}

typedef struct figures {
    double cpu_per_tok[MAX_ROUNDS], tok_per_s[MAX_ROUNDS];
    long tokens;
    uint64_t steps, passes;
} figures;

/* One run of n lanes in one mode; adds its figures to f[round]. */
static int run_once(shared *sh, lane *ln, int n, int simul, uint64_t (*counts)(void *, uint64_t *), void *cctx,
                    figures *f, int round)
{
    pthread_t th[MAX_STREAMS];
    pthread_barrier_init(&sh->start, NULL, (unsigned)n);
    uint64_t s0 = 0, p0 = counts(cctx, &s0);
    for (int i = 0; i < n; i++) {
        ln[i].tokens = 0, ln[i].rc = 0;
        if (!simul)
            ln[i].kv->n = 0;
    }
    double c0 = cpu_s(), w0 = now_s();
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, simul ? simul_main : steps_main, &ln[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double w = now_s() - w0, c = cpu_s() - c0;
    pthread_barrier_destroy(&sh->start);
    long tok = 0;
    for (int i = 0; i < n; i++) {
        if (ln[i].rc) {
            fprintf(stderr, "whisper_streams_bench: %s\n", sotto_last_error());
            return ln[i].rc;
        }
        tok += ln[i].tokens;
    }
    uint64_t s1 = 0, p1 = counts(cctx, &s1);
    f->cpu_per_tok[round] = tok ? c / (double)tok : 0;
    f->tok_per_s[round] = w > 0 ? (double)tok / w : 0;
    f->tokens += tok;
    f->steps += s1 - s0, f->passes += p1 - p0;
    return 0;
}

static uint64_t batcher_counts(void *ctx, uint64_t *steps)
{
    uint64_t p = 0;
    whisper_batcher_counts(ctx, steps, &p);
    return p;
}

static uint64_t simul_counts(void *ctx, uint64_t *steps)
{
    uint64_t p = 0;
    whisper_simul_run_counts(ctx, steps, &p);
    return p;
}

static void print_pair(const char *what, int n, figures *f, int rounds)
{
    const char *mode[2] = {"serialized", "batched"};
    for (int b = 0; b < 2; b++) {
        char batch[32] = "-"; /* the serialized decoder-only mode calls whisper_decode */
        if (f[b].passes)
            snprintf(batch, sizeof batch, "%.2f", (double)f[b].steps / (double)f[b].passes);
        printf("%-5s N=%d %-10s  CPU/token %7.2f ms  wall %7.1f tokens/s  mean batch %s  (%ld tokens)\n", what, n,
               mode[b], 1e3 * median(f[b].cpu_per_tok, rounds), median(f[b].tok_per_s, rounds), batch, f[b].tokens);
    }
    fflush(stdout);
}

/* ---- --la: whole-buffer decodes, locked shared run state vs private runners ------------ */

typedef struct la_lane {
    sotto_asr *asr;
    asr_runner *r; /* private */
    const float *pcm;
    size_t n;
    int private_runner, rc;
    pthread_barrier_t *start;
} la_lane;

/* The next stream count of -n's comma-separated list at *p (advanced past it), or -1 with
 * a message when it is not a number in 1 .. MAX_STREAMS. */
static int next_count(const char **p)
{
    char *end = NULL;
    long n = strtol(*p, &end, 10);
    if (end == *p || n < 1 || n > MAX_STREAMS || (*end && *end != ',')) {
        fprintf(stderr, "whisper_streams_bench: -n wants stream counts 1 .. %d, comma-separated\n", MAX_STREAMS);
        return -1;
    }
    *p = *end == ',' ? end + 1 : end;
    return (int)n;
}

static void *la_main(void *arg)
{
    la_lane *l = arg;
    static const asr_decode greedy = ASR_DECODE_GREEDY;
    sotto_asr_call call = {.word_timestamps = 1};
    sotto_transcript t;
    sotto_transcript_init(&t);
    pthread_barrier_wait(l->start);
    l->rc = l->private_runner ? asr_runner_decode(l->r, l->pcm, l->n, 0, &call, &greedy, &t)
                              : asr_transcribe_decode(l->asr, l->pcm, l->n, 0, &call, &greedy, &t);
    sotto_transcript_free(&t);
    return NULL;
}

/* Resident set size in MB (/proc/self/statm), 0 if unknown. */
static double rss_mb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return (double)res * 4096.0 / 1e6;
}

static int la_bench(const char *path, int threads, const char *list, int rounds)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = path;
    o.language = "en";
    o.n_threads = threads;
    sotto_asr *asr = NULL;
    int rc = sotto_asr_new("whisper", &o, &asr);
    if (rc)
        return rc;
    printf("--la: model %s, %d threads per decode, %d rounds, medians; one greedy 3 s decode per stream\n", path,
           threads, rounds);
    const size_t n_pcm = 3 * 16000;
    for (const char *p = list; !rc && *p;) {
        int n = next_count(&p);
        if (n < 0) {
            rc = 2;
            break;
        }
        la_lane ln[MAX_STREAMS];
        memset(ln, 0, sizeof ln);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)n);
        double rss0 = rss_mb(), rss1 = rss0;
        int n_private = 0;
        for (int i = 0; !rc && i < n; i++) {
            ln[i] = (la_lane){.asr = asr, .n = n_pcm, .start = &start};
            ln[i].pcm = make_audio(n_pcm, 200 + (uint64_t)i);
            rc = ln[i].pcm ? asr_runner_new(asr, &ln[i].r) : SOTTO_ENOMEM;
            n_private += asr_runner_private(ln[i].r);
        }
        double cpu[2][MAX_ROUNDS], rate[2][MAX_ROUNDS], cores[2][MAX_ROUNDS];
        for (int r = 0; !rc && r < rounds; r++)
            for (int k = 0; !rc && k < 2; k++) {
                int priv = (r + k) % 2; /* alternate which mode goes first */
                pthread_t th[MAX_STREAMS];
                if (r == 0 && priv) /* the locked run went first: weights are resident */
                    rss0 = rss_mb();
                double c0 = cpu_s(), w0 = now_s();
                for (int i = 0; i < n; i++) {
                    ln[i].private_runner = priv;
                    pthread_create(&th[i], NULL, la_main, &ln[i]);
                }
                for (int i = 0; i < n; i++)
                    pthread_join(th[i], NULL);
                double w = now_s() - w0;
                cpu[priv][r] = (cpu_s() - c0) / n;
                rate[priv][r] = w > 0 ? n / w : 0;
                cores[priv][r] = w > 0 ? cpu[priv][r] * n / w : 0; /* CPU busy at once */
                for (int i = 0; i < n; i++)
                    rc = rc ? rc : ln[i].rc;
                if (r == 0 && priv)
                    rss1 = rss_mb();
            }
        for (int b = 0; !rc && b < 2; b++)
            printf("la    N=%d %-8s  CPU/decode %6.2f s  wall %6.2f decodes/s  cores busy %.2f%s\n", n,
                   b ? "private" : "locked", median(cpu[b], rounds), median(rate[b], rounds), median(cores[b], rounds),
                   b ? "" : "  (shared run state)");
        if (!rc)
            printf("la    N=%d private runners %d, resident +%.0f MB in their first decodes (%.0f MB each)\n", n,
                   n_private, rss1 - rss0, n_private ? (rss1 - rss0) / n_private : 0.0);
        fflush(stdout);
        for (int i = 0; i < n; i++) {
            asr_runner_free(ln[i].r);
            free((void *)ln[i].pcm);
        }
        pthread_barrier_destroy(&start);
    }
    sotto_asr_free(asr);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *list = "1,2,4";
    int threads = 2, rounds = 3, n_steps = 0, do_simul = 1, do_la = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            rounds = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc)
            n_steps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--no-simul"))
            do_simul = 0;
        else if (!strcmp(argv[i], "--la"))
            do_la = 1;
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else {
            fprintf(stderr, "usage: whisper_streams_bench MODEL [-t THREADS] [-n 1,2,4] [-r ROUNDS] [-s STEPS] "
                            "[--no-simul] [--la]\n");
            return 2;
        }
    }
    if (!path || rounds < 1 || rounds > MAX_ROUNDS || threads < 1) {
        fprintf(stderr, "whisper_streams_bench: need a model file; 1 <= rounds <= %d\n", MAX_ROUNDS);
        return 2;
    }
    if (do_la) {
        int rc = la_bench(path, threads, list, rounds);
        if (rc && rc != 2)
            fprintf(stderr, "whisper_streams_bench: %s\n", sotto_last_error());
        return rc ? 1 : 0;
    }
    whisper_model *m = NULL;
    whisper_tokenizer *tk = NULL;
    if (whisper_model_load(path, &m) || whisper_tokenizer_new(m, &tk)) {
        fprintf(stderr, "whisper_streams_bench: %s\n", sotto_last_error());
        return 1;
    }
    if (n_steps < 1 || n_steps > m->hp.n_text_ctx - 1)
        n_steps = m->hp.n_text_ctx / 2;
    printf("model %s (%s, %s), %d threads per stream, %d rounds, medians; decoder steps per stream %d\n", path,
           m->size_name, nn_type_name(m->wtype), threads, rounds, n_steps);
    shared sh = {.m = m, .n_steps = n_steps};
    pthread_mutex_init(&sh.lock, NULL);
    int rc = whisper_batcher_new(m, WHISPER_MAX_BATCH, &sh.bt);
    float *mel = malloc(sizeof *mel * (size_t)m->hp.n_mels * WHISPER_N_FRAMES);
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.language = "en";
    for (const char *p = list; !rc && *p;) {
        int n = next_count(&p);
        if (n < 0) {
            rc = 2;
            break;
        }
        lane ln[MAX_STREAMS];
        memset(ln, 0, sizeof ln);
        whisper_simul_run *run = NULL;
        const size_t n_pcm = 3 * 16000;
        for (int i = 0; !rc && i < n; i++) {
            ln[i].sh = &sh;
            rc = whisper_state_new(m, threads, &ln[i].st);
            if (!rc)
                rc = whisper_kv_new(m, &ln[i].kv);
            ln[i].logits = malloc(sizeof(float) * (size_t)m->hp.n_vocab);
            ln[i].attn = malloc(sizeof(float) * (size_t)m->hp.n_text_layer * m->hp.n_text_head * m->hp.n_audio_ctx);
            ln[i].pcm = make_audio(n_pcm, 100 + (uint64_t)i);
            ln[i].n_pcm = n_pcm;
            if (!rc && (!ln[i].logits || !ln[i].attn || !ln[i].pcm || !mel))
                rc = SOTTO_ENOMEM;
            if (!rc)
                rc = whisper_log_mel(m, ln[i].pcm, n_pcm, mel);
            if (!rc)
                rc = whisper_encode(ln[i].st, mel);
            if (!rc && do_simul)
                rc = whisper_simul_new(m, tk, &o, threads, &run, &ln[i].sim);
        }
        figures f[2][2]; /* [steps|simul][serialized|batched] */
        memset(f, 0, sizeof f);
        for (int r = 0; !rc && r < rounds; r++)
            for (int k = 0; !rc && k < 2; k++) {
                sh.batched = (r + k) % 2; /* alternate which mode goes first */
                rc = run_once(&sh, ln, n, 0, batcher_counts, sh.bt, &f[0][sh.batched], r);
            }
        if (!rc)
            print_pair("steps", n, f[0], rounds);
        for (int r = 0; !rc && do_simul && r < rounds; r++)
            for (int k = 0; !rc && k < 2; k++) {
                sh.batched = (r + k) % 2;
                rc = run_once(&sh, ln, n, 1, simul_counts, run, &f[1][sh.batched], r);
            }
        if (!rc && do_simul)
            print_pair("simul", n, f[1], rounds);
        for (int i = 0; i < n; i++) {
            whisper_simul_free(ln[i].sim);
            whisper_state_free(ln[i].st);
            whisper_kv_free(ln[i].kv);
            free(ln[i].logits);
            free(ln[i].attn);
            free((void *)ln[i].pcm);
        }
        whisper_simul_run_free(run);
    }
    if (rc && rc != 2)
        fprintf(stderr, "whisper_streams_bench: %s\n", sotto_last_error());
    free(mel);
    whisper_batcher_free(sh.bt);
    pthread_mutex_destroy(&sh.lock);
    whisper_tokenizer_free(tk);
    whisper_model_free(m);
    return rc ? 1 : 0;
}
