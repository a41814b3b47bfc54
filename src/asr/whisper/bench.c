/*
 * bench.c - the Whisper engine's benchmark (sotto_whisper_bench, `sotto bench -m MODEL`).
 *
 * Times the pieces on a synthetic 30 s input: load, log-mel, encoder, decoder steps for
 * 1 (greedy), 5 (a beam step), 4 and 16 batched sequences; and measures, in the same run,
 * this machine's limits the figures are compared with: OpenBLAS sgemm GFLOP/s on the
 * encoder's product shapes (same thread count) and memcpy bandwidth.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cblas.h>

#include "base/base_int.h"
#include "nn/nn.h"
#include "sotto/whisper.h"
#include "whisper_int.h"

void openblas_set_num_threads(int n); /* OpenBLAS's own API; cblas.h does not declare it */

#define DEC_STEPS 24 /* tokens timed per decode figure */

/* Analytic FLOPs of one 30 s window through the encoder, counted as 2 per multiply-add:
 * the two convolutions, per block Q K V O + MLP products and attention (QK^T and PV),
 * and the cross-attention K/V of every decoder layer (whisper_encode computes those). */
typedef struct gemm_shape {
    int64_t m, n, k, count;
} gemm_shape;

static int encoder_shapes(const whisper_hparams *hp, gemm_shape *g)
{
    const int64_t A = hp->n_audio_ctx, S = hp->n_audio_state, H = hp->n_audio_head, C = hp->n_mels;
    const int64_t L = hp->n_audio_layer, dh = S / H;
    int n = 0;
    g[n++] = (gemm_shape){WHISPER_N_FRAMES, S, 3 * C, 1};           /* conv1 */
    g[n++] = (gemm_shape){A, S, 3 * S, 1};                          /* conv2 */
    g[n++] = (gemm_shape){A, S, S, 4 * L + 2 * hp->n_text_layer};   /* Q K V O, cross K V */
    g[n++] = (gemm_shape){A, 4 * S, S, L};                          /* fc1 */
    g[n++] = (gemm_shape){A, S, 4 * S, L};                          /* fc2 */
    g[n++] = (gemm_shape){A, A, dh, L * H};                         /* Q K^T per head */
    g[n++] = (gemm_shape){A, dh, A, L * H};                         /* P V per head */
    return n;
}

static double shapes_flops(const gemm_shape *g, int n)
{
    double f = 0;
    for (int i = 0; i < n; i++)
        f += 2.0 * (double)g[i].m * (double)g[i].n * (double)g[i].k * (double)g[i].count;
    return f;
}

/* OpenBLAS on the same shapes and thread count: each shape timed (best of 2) and
 * multiplied by how often the encoder runs it. Returns seconds (0 if out of memory). */
static double sgemm_seconds(const gemm_shape *g, int n, int n_threads)
{
    openblas_set_num_threads(n_threads);
    double total = 0;
    for (int i = 0; i < n; i++) {
        float *a = calloc((size_t)(g[i].m * g[i].k), sizeof(float));
        float *b = calloc((size_t)(g[i].n * g[i].k), sizeof(float));
        float *c = calloc((size_t)(g[i].m * g[i].n), sizeof(float));
        if (!a || !b || !c) {
            free(a), free(b), free(c);
            return 0;
        }
        for (int64_t j = 0; j < g[i].m * g[i].k; j++)
            a[j] = (float)(j % 17) * 0.01f;
        for (int64_t j = 0; j < g[i].n * g[i].k; j++)
            b[j] = (float)(j % 13) * 0.01f;
        double best = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = time_now();
            /* C (m, n) = A (m, k) B^T, B stored (n, k) like a weight matrix */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g[i].m, (int)g[i].n, (int)g[i].k,
                        1.0f, a, (int)g[i].k, b, (int)g[i].k, 0.0f, c, (int)g[i].n);
            double t = time_now() - t0;
            if (rep > 0 && t < best) /* the first run warms caches and threads */
                best = t;
        }
        total += best * (double)g[i].count;
        free(a), free(b), free(c);
    }
    openblas_set_num_threads(1);
    return total;
}

/* memcpy bandwidth in bytes copied per second: 256 MiB buffers, best of 3. */
static double memcpy_bandwidth(void)
{
    const size_t n = (size_t)256 << 20;
    char *a = malloc(n), *b = malloc(n);
    if (!a || !b) {
        free(a), free(b);
        return 0;
    }
    memset(a, 1, n);
    memset(b, 2, n);
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = time_now();
        memcpy(b, a, n);
        double t = time_now() - t0;
        best = t < best ? t : best;
    }
    volatile char sink = b[n / 2];
    (void)sink;
    free(a), free(b);
    return (double)n / best;
}

/* Bytes of weights one decoded token reads: every decoder matrix the per-token pass uses
 * (not the cross K/V projections, which run once per window) and the output projection. */
static double decoder_weight_bytes(const whisper_model *m)
{
    double b = (double)m->dec_tok_emb.nbytes;
    for (int l = 0; l < m->hp.n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        const nn_tensor *t[] = {&D->self.attn_q_w, &D->self.attn_k_w, &D->self.attn_v_w,
                                &D->self.attn_out_w, &D->self.mlp0_w, &D->self.mlp2_w,
                                &D->cross_q_w, &D->cross_out_w};
        for (size_t i = 0; i < sizeof t / sizeof *t; i++)
            b += (double)t[i]->nbytes;
    }
    return b;
}

/* Steps of n_seq sequences one token each; returns seconds per step. Sequences start
 * after a 3-token prefix. */
static int time_steps(whisper_state *st, whisper_kv **kv, int n_seq, int steps, float *logits, double *per_step)
{
    const int32_t prefix[3] = {50258, 50259, 50359};
    int32_t tok[WHISPER_MAX_BATCH];
    int pos[WHISPER_MAX_BATCH];
    for (int i = 0; i < n_seq; i++) {
        int rc = whisper_decode(st, kv[i], prefix, 3, 0, logits, NULL);
        if (rc)
            return rc;
        tok[i] = 440 + 17 * i, pos[i] = 3;
    }
    double t0 = time_now();
    for (int s = 0; s < steps; s++) {
        int rc = n_seq == 1 ? whisper_decode(st, kv[0], tok, 1, pos[0], logits, NULL)
                            : whisper_decode_batch(st, kv, tok, pos, n_seq, logits);
        if (rc)
            return rc;
        for (int i = 0; i < n_seq; i++)
            pos[i]++, tok[i] = (tok[i] * 31 + 7) % 50000;
    }
    *per_step = (time_now() - t0) / steps;
    return 0;
}


static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

int sotto_whisper_bench(const char *model_path, int n_threads, sotto_whisper_bench_result *out)
{
    SOTTO_ASSERT(model_path && out);
    memset(out, 0, sizeof *out);
    if (n_threads < 1)
        n_threads = 2;
    openblas_set_num_threads(1); /* our pool owns the cores; sgemm timing sets its own */
    whisper_model *m = NULL;
    whisper_state *st = NULL;
    whisper_kv *kv[16] = {0};
    float *pcm = NULL, *mel = NULL, *logits = NULL;
    double t0 = time_now();
    int rc = whisper_model_load(model_path, &m);
    out->load_ms = (time_now() - t0) * 1e3;
    if (!rc)
        rc = whisper_state_new(m, n_threads, &st);
    for (int i = 0; !rc && i < 16; i++)
        rc = whisper_kv_new(m, &kv[i]);
    if (!rc) {
        pcm = malloc(sizeof *pcm * WHISPER_N_SAMPLES);
        mel = malloc(sizeof *mel * (size_t)m->hp.n_mels * WHISPER_N_FRAMES);
        logits = malloc(sizeof *logits * (size_t)m->hp.n_vocab * 16);
        if (!pcm || !mel || !logits)
            rc = error_set(SOTTO_ENOMEM, "out of memory for the benchmark's buffers");
    }
    double mel_s = 1e30, enc_s = 1e30, greedy = 0, beam5 = 0, b4 = 0, b16 = 0;
    for (int i = 0; !rc && i < WHISPER_N_SAMPLES; i++) /* a chirp with noise: 30 s */
        pcm[i] = 0.3f * sinf(0.02f * (float)i + 1e-7f * (float)i * (float)i) +
                 0.01f * (float)(((int64_t)i * 7919) % 201 - 100) / 100.0f;
    for (int rep = 0; !rc && rep < 3; rep++) {
        t0 = time_now();
        rc = whisper_log_mel(m, pcm, WHISPER_N_SAMPLES, mel);
        double t = time_now() - t0;
        mel_s = t < mel_s ? t : mel_s;
    }
    for (int rep = 0; !rc && rep < 3; rep++) { /* the first run pages the weights in */
        t0 = time_now();
        rc = whisper_encode(st, mel);
        double t = time_now() - t0;
        if (rep > 0)
            enc_s = t < enc_s ? t : enc_s;
    }
    if (!rc)
        rc = time_steps(st, kv, 1, DEC_STEPS, logits, &greedy);
    if (!rc)
        rc = time_steps(st, kv, 5, DEC_STEPS, logits, &beam5);
    if (!rc)
        rc = time_steps(st, kv, 4, DEC_STEPS, logits, &b4);
    if (!rc)
        rc = time_steps(st, kv, 16, DEC_STEPS, logits, &b16);
    if (!rc) {
        out->peak_rss_mb = peak_rss_mb(); /* before the sgemm and memcpy buffers */
        gemm_shape g[8];
        int ng = encoder_shapes(&m->hp, g);
        const double flops = shapes_flops(g, ng), blas_s = sgemm_seconds(g, ng, n_threads);
        out->threads = n_threads;
        snprintf(out->size, sizeof out->size, "%s", m->size_name);
        snprintf(out->type, sizeof out->type, "%s", nn_type_name(m->wtype));
        out->mel_ms = mel_s * 1e3;
        out->encoder_ms = enc_s * 1e3;
        out->decode_ms_per_token = greedy * 1e3;
        out->beam5_ms_per_step = beam5 * 1e3;
        out->tokens_per_s[0] = 1 / greedy;
        out->tokens_per_s[1] = 4 / b4;
        out->tokens_per_s[2] = 16 / b16;
        out->encoder_gflops = flops / enc_s * 1e-9;
        out->sgemm_gflops = blas_s > 0 ? flops / blas_s * 1e-9 : 0;
        out->encoder_sgemm_ratio = out->sgemm_gflops > 0 ? out->encoder_gflops / out->sgemm_gflops : 0;
        out->decoder_weight_mb = decoder_weight_bytes(m) / 1e6;
        out->decoder_gb_per_s = decoder_weight_bytes(m) / greedy / 1e9;
        out->memcpy_gb_per_s = memcpy_bandwidth() / 1e9;
        out->decoder_bandwidth_ratio =
            out->memcpy_gb_per_s > 0 ? out->decoder_gb_per_s / out->memcpy_gb_per_s : 0;
    }
    for (int i = 0; i < 16; i++)
        whisper_kv_free(kv[i]);
    whisper_state_free(st);
    whisper_model_free(m);
    free(pcm);
    free(mel);
    free(logits);
    return rc;
}
