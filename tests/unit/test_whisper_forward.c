/*
 * test_whisper_forward.c - the Whisper front end and forward pass against an independent
 * NumPy reference (tests/ref/whisper_ref.py, float64), on random-weight models written by
 * whisper_model_write_random and a real synthesized speech fixture.
 *
 * Error = max |c - ref| / max |ref| over a whole tensor (mel, encoder output, logits),
 * the logits being those of the last token of the start sequence; then 20 greedy tokens.
 * Every kernel set the machine supports (scalar, avx2, avx512, neon) is checked in turn.
 * Bound: ERR_BOUND = 1e-5 for the mel, the encoder output (every type on the scalar and
 * AVX2 kernels, f32/f16/q*_1 weights on AVX-512: float GEMMs on dequantized weights) and
 * the logits of f32/f16 weights and of every type on the scalar kernels: the reference
 * dequantizes the same stored weights, so the only difference is float32 vs float64
 * arithmetic; the greedy tokens are then identical. Measured: mel 5.4e-8; encoder
 * <= 1.05e-6; logits <= 6.6e-7 with f32 weights; 6.3e-6 with f16 weights, whose models
 * keep the cross-attention K/V in f16 (rounding them to 11 bits is most of that error;
 * cross_kv_f16_matches_f32 measures it against f32 K/V on the same model: 5.8e-6).
 * QUANT_ACT_BOUND = 3e-2 for the logits of quantized weights on SIMD kernels: decoder
 * steps quantize activations to 8 bits (as ggml does) for integer dot products; measured
 * q8_0 8.5e-3, q5_0 1.1e-2, q4_0 9.2e-3 on the small model (1.0e-2, 9.2e-3, 1.0e-2 with
 * the AVX-512 integer encoder below). The same bound for the encoder output of q4_0,
 * q5_0 and q8_0 weights on AVX-512, whose encoder GEMM (gemm_q_avx512.c) quantizes
 * activations the same way: measured 1.0e-2, 9.8e-3, 1.1e-2. Random weights give nearly
 * flat logits, so greedy tokens may then differ from the reference and are not compared.
 * Plus: the FFT against a direct DFT, KV-cached incremental decoding against one batched
 * call, cross-attention rows summing to 1, f16 against f32 cross K/V, and bad-input errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "asr/whisper/forward_int.h"
#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "check.h"
#include "dsp/dsp.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "whisper_test_fixtures.h"

#define N_GREEDY 20
#define ERR_BOUND 1e-5
#define QUANT_ACT_BOUND 3e-2
#define FIXTURE "utt_00_kal16.wav"

/* The source tree, from this file's path (CMake compiles it by absolute path). */
static const char *source_dir(void)
{
    static char dir[1024];
    if (!dir[0]) {
        const char *f = __FILE__;
        const char *cut = strstr(f, "tests/unit/test_whisper_forward.c");
        size_t len = cut ? (size_t)(cut - f) : 0;
        if (len == 0 || len >= sizeof dir)
            CHECK_FAIL("cannot derive the source dir from %s", f);
        memcpy(dir, f, len);
        dir[len] = '\0';
    }
    return dir;
}

static float *read_f32(const char *path, size_t n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        CHECK_FAIL("cannot open %s", path);
    float *v = malloc(n * sizeof(float));
    ASSERT_TRUE(v != NULL);
    size_t got = fread(v, sizeof(float), n, fp);
    int extra = fgetc(fp);
    fclose(fp);
    if (got != n || extra != EOF)
        CHECK_FAIL("%s: expected exactly %zu floats", path, n);
    return v;
}

static void write_f32(const char *path, const float *v, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ASSERT_TRUE(fp != NULL);
    ASSERT_EQ(fwrite(v, sizeof(float), n, fp), n);
    ASSERT_EQ(fclose(fp), 0);
}

/* max |a - b| / max |b| */
static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* The small custom dimensions most tests use: fast, but the real audio context and
 * vocabulary, so the mel/conv/positional and token paths are the real ones. */
static whisper_hparams small_hparams(void)
{
    whisper_hparams hp = {.n_vocab = 51865, .n_audio_ctx = 1500, .n_audio_state = 64,
                          .n_audio_head = 2, .n_audio_layer = 2, .n_text_ctx = 448,
                          .n_text_state = 64, .n_text_head = 2, .n_text_layer = 3,
                          .n_mels = 80, .ftype = 0};
    return hp;
}

static int ftype_of(nn_type t)
{
    switch (t) {
    case NN_F32: return 0;
    case NN_F16: return 1;
    case NN_Q4_0: return 2;
    case NN_Q4_1: return 3;
    case NN_Q8_0: return 7;
    case NN_Q5_0: return 8;
    case NN_Q5_1: return 9;
    }
    return 0;
}

static whisper_model *make_model(whisper_hparams hp, nn_type wtype, uint64_t seed, char *path,
                                 size_t path_size)
{
    hp.ftype = ftype_of(wtype);
    snprintf(path, path_size, "%s/model-%s-%d-%llu.bin", check_tmpdir(), nn_type_name(wtype),
             hp.n_audio_state, (unsigned long long)seed);
    FILE *f = fopen(path, "rb"); /* written once per test: every kernel set loads the same file */
    if (f)
        fclose(f);
    else
        ASSERT_OK(whisper_model_write_random(&hp, wtype, seed, path));
    whisper_model *m = NULL;
    ASSERT_OK(whisper_model_load(path, &m));
    return m;
}

typedef struct errors {
    double mel, enc, logits;
    int greedy_mismatch;        /* index of the first greedy token that differs, or -1 */
    double t_mel, t_enc, t_tok; /* seconds: mel, encoder (+cross K/V), per greedy token */
} errors;

/*
 * Run the C front end + forward pass and the NumPy reference on the speech fixture and
 * return the relative errors; the greedy token sequences must be identical. The reference
 * depends only on the model file and the audio, so it runs once per model: the calls for
 * further kernel sets (check_every_isa) compare against the same dump.
 */
static errors compare_with_reference(whisper_hparams hp, nn_type wtype, uint64_t seed,
                                     int n_threads)
{
    char model_path[512], audio_path[700], wav[700], dump[600], cmd[4096], path[700];
    whisper_model *m = make_model(hp, wtype, seed, model_path, sizeof model_path);
    const whisper_hparams *mh = &m->hp;
    const int S = mh->n_audio_state, A = mh->n_audio_ctx, V = mh->n_vocab, C = mh->n_mels;

    snprintf(wav, sizeof wav, "%s/%s", check_fixtures_dir(), FIXTURE);
    float *pcm = NULL;
    size_t n_pcm = 0;
    ASSERT_OK(sotto_audio_load(wav, NULL, &pcm, &n_pcm));
    ASSERT_TRUE(n_pcm > 16000 && n_pcm <= WHISPER_N_SAMPLES);
    snprintf(audio_path, sizeof audio_path, "%s/audio.f32", check_tmpdir());
    write_f32(audio_path, pcm, n_pcm);

    /* the start sequence of a multilingual model: sot, <|en|>, <|transcribe|> */
    int32_t sot_seq[3] = {m->special.sot, m->special.first_lang, m->special.transcribe};
    int n_sot = m->special.multilingual ? 3 : 1;
    char toks[64];
    if (n_sot == 3)
        snprintf(toks, sizeof toks, "%d,%d,%d", sot_seq[0], sot_seq[1], sot_seq[2]);
    else
        snprintf(toks, sizeof toks, "%d", sot_seq[0]);

    snprintf(dump, sizeof dump, "%s/ref-%s-%d-%llu", check_tmpdir(), nn_type_name(wtype), S,
             (unsigned long long)seed);
    static char ref_done[sizeof dump]; /* the dump made by this process's last reference run */
    int run_ref = strcmp(dump, ref_done) != 0;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%stests/ref/whisper_ref.py' '%s' '%s' --dump-dir '%s' "
             "--tokens %s --greedy %d 2>&1",
             source_dir(), model_path, audio_path, dump, toks, N_GREEDY);
    /* the reference runs while the C code computes (they share two cores) */
    FILE *p = run_ref ? popen(cmd, "r") : NULL;
    ASSERT_TRUE(p != NULL || !run_ref);

    errors e = {0};
    e.greedy_mismatch = -1;
    float *mel = malloc(sizeof(float) * (size_t)C * WHISPER_N_FRAMES);
    ASSERT_TRUE(mel != NULL);
    double t0 = time_now();
    ASSERT_OK(whisper_log_mel(m, pcm, n_pcm, mel));
    e.t_mel = time_now() - t0;
    whisper_state *st = NULL;
    ASSERT_OK(whisper_state_new(m, n_threads, &st));
    t0 = time_now();
    ASSERT_OK(whisper_encode(st, mel));
    e.t_enc = time_now() - t0;

    /* logits of the start sequence fed at once, then greedy through the cache */
    whisper_kv *kv = NULL;
    ASSERT_OK(whisper_kv_new(m, &kv));
    float *logits = malloc(sizeof(float) * (size_t)V), *logits0 = malloc(sizeof(float) * (size_t)V);
    ASSERT_TRUE(logits != NULL && logits0 != NULL);
    ASSERT_OK(whisper_decode(st, kv, sot_seq, n_sot, 0, logits0, NULL));
    memcpy(logits, logits0, sizeof(float) * (size_t)V);
    int32_t greedy[N_GREEDY];
    t0 = time_now();
    for (int i = 0; i < N_GREEDY; i++) {
        greedy[i] = argmax(logits, V);
        ASSERT_OK(whisper_decode(st, kv, &greedy[i], 1, n_sot + i, logits, NULL));
    }
    e.t_tok = (time_now() - t0) / N_GREEDY;

    if (run_ref) {
        char line[512];
        while (fgets(line, sizeof line, p))
            fputs(line, stderr); /* the reference only prints on failure */
        int status = pclose(p);
        if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            CHECK_FAIL("reference failed: %s", cmd);
        memcpy(ref_done, dump, sizeof ref_done);
    }

    snprintf(path, sizeof path, "%s/mel.f32", dump);
    float *ref = read_f32(path, (size_t)C * WHISPER_N_FRAMES);
    e.mel = whisper_test_rel_err(mel, ref, (size_t)C * WHISPER_N_FRAMES);
    free(ref);

    snprintf(path, sizeof path, "%s/enc.f32", dump);
    ref = read_f32(path, (size_t)A * S);
    e.enc = whisper_test_rel_err(whisper_encoder_output(st), ref, (size_t)A * S);
    free(ref);

    snprintf(path, sizeof path, "%s/logits.f32", dump);
    ref = read_f32(path, (size_t)n_sot * V);
    e.logits = whisper_test_rel_err(logits0, ref + (size_t)(n_sot - 1) * V, (size_t)V);
    free(ref);

    snprintf(path, sizeof path, "%s/greedy.txt", dump);
    FILE *g = fopen(path, "r");
    ASSERT_TRUE(g != NULL);
    for (int i = 0; i < N_GREEDY; i++) {
        long want = -1;
        if (fscanf(g, "%ld", &want) != 1)
            CHECK_FAIL("reference greedy.txt has fewer than %d tokens", N_GREEDY);
        if (greedy[i] != want && e.greedy_mismatch < 0) {
            fprintf(stderr, "greedy token %d: C %d, reference %ld\n", i, greedy[i], want);
            e.greedy_mismatch = i;
        }
    }
    fclose(g);

    fprintf(stderr,
            "%s S=%d: rel err mel %.3g enc %.3g logits %.3g; mel %.3f s, encode %.3f s, "
            "decode %.2f ms/token (%d threads)\n",
            nn_type_name(wtype), S, e.mel, e.enc, e.logits, e.t_mel, e.t_enc, e.t_tok * 1e3,
            n_threads);
    free(logits);
    free(logits0);
    whisper_kv_free(kv);
    whisper_state_free(st);
    free(mel);
    free(pcm);
    whisper_model_free(m);
    return e;
}

/* ---- FFT ---------------------------------------------------------------------------- */

TEST(fft_matches_direct_dft)
{
    const int lens[] = {1, 2, 5, 8, 12, 25, 400, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        dsp_fft *p = NULL;
        ASSERT_OK(dsp_fft_new(n, &p));
        double *in = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)(n + 2));
        double *work = malloc(sizeof(double) * 4 * (size_t)n);
        ASSERT_TRUE(in && out && work);
        uint64_t s = 12345 + (uint64_t)n;
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            in[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        }
        dsp_fft_real(p, in, out, work);
        for (int k = 0; k <= n / 2; k++) {
            double re = 0, im = 0;
            for (int t = 0; t < n; t++) {
                double a = -2.0 * M_PI * (double)k * (double)t / (double)n;
                re += in[t] * cos(a);
                im += in[t] * sin(a);
            }
            ASSERT_NEAR(out[2 * k], re, 1e-9 * n);
            ASSERT_NEAR(out[2 * k + 1], im, 1e-9 * n);
        }
        free(in);
        free(out);
        free(work);
        dsp_fft_free(p);
    }
    dsp_fft *p = NULL;
    ASSERT_EQ(dsp_fft_new(0, &p), SOTTO_EINVAL);
    ASSERT_EQ(dsp_fft_new(2 * 67, &p), SOTTO_ENOTSUP); /* prime factor above the limit */
    dsp_fft_free(NULL);
}

/* ---- against the NumPy reference ---------------------------------------------------- */

/* Compare under every kernel set this machine supports, with the bounds above. */
static void check_every_isa(whisper_hparams hp, nn_type wtype, uint64_t seed, int n_threads)
{
    static const char *isas[] = {"scalar", "avx2", "avx512", "neon"};
    const char *saved = nn_isa_name();
    int quantized = wtype != NN_F32 && wtype != NN_F16;
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if (!nn_isa_supported(isas[i]))
            continue;
        ASSERT_OK(nn_isa_set(isas[i]));
        errors e = compare_with_reference(hp, wtype, seed, n_threads);
        int exact = !quantized || strcmp(isas[i], "scalar") == 0;
        /* the AVX-512 encoder GEMM takes q4_0/q5_0/q8_0 in integer dot products */
        int enc_exact = exact || strcmp(isas[i], "avx512") != 0 || wtype == NN_Q4_1 ||
                        wtype == NN_Q5_1;
        fprintf(stderr, "%s %s: mel %.2g enc %.2g logits %.2g greedy %s\n", nn_type_name(wtype),
                isas[i], e.mel, e.enc, e.logits, e.greedy_mismatch < 0 ? "identical" : "differs");
        ASSERT_TRUE(e.mel <= ERR_BOUND && e.enc <= (enc_exact ? ERR_BOUND : QUANT_ACT_BOUND));
        ASSERT_TRUE(e.logits <= (exact ? ERR_BOUND : QUANT_ACT_BOUND));
        if (exact)
            ASSERT_EQ(e.greedy_mismatch, -1);
    }
    ASSERT_OK(nn_isa_set(saved));
}

TEST(small_f32_matches_reference) { check_every_isa(small_hparams(), NN_F32, 1, 1); }
TEST(small_f16_matches_reference) { check_every_isa(small_hparams(), NN_F16, 2, 1); }
TEST(small_q8_0_matches_reference) { check_every_isa(small_hparams(), NN_Q8_0, 3, 1); }
TEST(small_q5_0_matches_reference) { check_every_isa(small_hparams(), NN_Q5_0, 4, 1); }
TEST(small_q4_0_matches_reference) { check_every_isa(small_hparams(), NN_Q4_0, 5, 1); }

/* The real tiny dimensions (384 wide, 6 heads, 4 + 4 layers), 2 threads. */
TEST(tiny_f32_matches_reference)
{
    whisper_hparams hp;
    ASSERT_OK(whisper_hparams_preset("tiny", 0, &hp));
    errors e = compare_with_reference(hp, NN_F32, 6, 2); /* the kernels this CPU picks */
    ASSERT_TRUE(e.mel <= ERR_BOUND && e.enc <= ERR_BOUND && e.logits <= ERR_BOUND);
    ASSERT_EQ(e.greedy_mismatch, -1);
}

TEST(tiny_f16_matches_reference)
{
    whisper_hparams hp;
    ASSERT_OK(whisper_hparams_preset("tiny", 0, &hp));
    errors e = compare_with_reference(hp, NN_F16, 7, 2);
    ASSERT_TRUE(e.mel <= ERR_BOUND && e.enc <= ERR_BOUND && e.logits <= ERR_BOUND);
    ASSERT_EQ(e.greedy_mismatch, -1);
}

/* ---- the cache, attention rows, bad input -------------------------------------------- */

/* The log-mel of a window of synthetic audio (a chirp), so these tests need no fixture;
 * malloc'd, the caller frees. */
static float *chirp_mel(const whisper_model *m)
{
    size_t n = 5 * WHISPER_SAMPLE_RATE;
    float *pcm = malloc(sizeof(float) * n);
    float *mel = malloc(sizeof(float) * (size_t)m->hp.n_mels * WHISPER_N_FRAMES);
    ASSERT_TRUE(pcm && mel);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / WHISPER_SAMPLE_RATE;
        pcm[i] = (float)(0.3 * sin(2 * M_PI * (200 + 300 * t) * t));
    }
    ASSERT_OK(whisper_log_mel(m, pcm, n, mel));
    free(pcm);
    return mel;
}

static whisper_state *encoded_state(whisper_model *m)
{
    float *mel = chirp_mel(m);
    whisper_state *st = NULL;
    ASSERT_OK(whisper_state_new(m, 1, &st));
    ASSERT_OK(whisper_encode(st, mel));
    free(mel);
    return st;
}

TEST(kv_incremental_matches_batch)
{
    char path[512];
    whisper_model *m = make_model(small_hparams(), NN_F32, 11, path, sizeof path);
    whisper_state *st = encoded_state(m);
    const int V = m->hp.n_vocab, A = m->hp.n_audio_ctx;
    const int LH = m->hp.n_text_layer * m->hp.n_text_head;
    enum { N = 8 };
    const int32_t toks[N] = {m->special.sot, m->special.first_lang, m->special.transcribe,
                             m->special.notimestamps, 440, 1770, 13, 50};
    float *lb = malloc(sizeof(float) * (size_t)V), *li = malloc(sizeof(float) * (size_t)V);
    float *ab = malloc(sizeof(float) * (size_t)N * LH * A), *ai = malloc(sizeof(float) * (size_t)LH * A);
    ASSERT_TRUE(lb && li && ab && ai);
    whisper_kv *kb = NULL, *ki = NULL, *kc = NULL;
    ASSERT_OK(whisper_kv_new(m, &kb));
    ASSERT_OK(whisper_kv_new(m, &ki));
    ASSERT_OK(whisper_kv_new(m, &kc));

    ASSERT_OK(whisper_decode(st, kb, toks, N, 0, lb, ab));
    for (int i = 0; i < N; i++) {
        ASSERT_OK(whisper_decode(st, ki, &toks[i], 1, i, li, ai));
        /* this token's cross-attention rows: same as in the batch, each summing to 1 */
        for (int r = 0; r < LH; r++) {
            double sum = 0;
            for (int j = 0; j < A; j++)
                sum += ai[(size_t)r * A + j];
            ASSERT_NEAR(sum, 1.0, 1e-5);
        }
        ASSERT_TRUE(whisper_test_rel_err(ai, ab + (size_t)i * LH * A, (size_t)LH * A) <= 1e-6);
        /* a batch of the prefix gives the same logits as the cache so far */
        if (i == 3) {
            ASSERT_OK(whisper_decode(st, kc, toks, i + 1, 0, lb, NULL));
            ASSERT_TRUE(whisper_test_rel_err(li, lb, (size_t)V) <= 1e-6);
        }
    }
    ASSERT_OK(whisper_decode(st, kb, toks, N, 0, lb, NULL));
    ASSERT_TRUE(whisper_test_rel_err(li, lb, (size_t)V) <= 1e-6);

    /* a copied cache continues exactly like the original (beam forks) */
    whisper_kv_copy(kc, ki);
    int32_t next = 200;
    ASSERT_OK(whisper_decode(st, ki, &next, 1, N, li, NULL));
    ASSERT_OK(whisper_decode(st, kc, &next, 1, N, lb, NULL));
    ASSERT_TRUE(whisper_test_rel_err(li, lb, (size_t)V) == 0.0);

    whisper_kv_free(kb);
    whisper_kv_free(ki);
    whisper_kv_free(kc);
    free(lb);
    free(li);
    free(ab);
    free(ai);
    whisper_state_free(st);
    whisper_model_free(m);
}

/*
 * The f16 cross-attention K/V (the default for every non-f32 model) against f32 ones on
 * the same model and window, under every kernel set: logits of a start sequence fed at
 * once and of tokens fed one by one through the cache within ERR_BOUND of the f32 path,
 * and the cross-attention rows (word timestamps, align_att) within 1e-3 of it, each row
 * still summing to 1.
 */
TEST(cross_kv_f16_matches_f32)
{
    char path[512];
    whisper_model *m = make_model(small_hparams(), NN_F16, 13, path, sizeof path);
    const int V = m->hp.n_vocab, A = m->hp.n_audio_ctx;
    const int LH = m->hp.n_text_layer * m->hp.n_text_head;
    enum { N = 6 };
    const int32_t toks[N] = {m->special.sot, m->special.first_lang, m->special.transcribe,
                             m->special.notimestamps, 440, 1770};
    float *logits[2], *steps[2], *attn[2];
    for (int c = 0; c < 2; c++) {
        logits[c] = malloc(sizeof(float) * (size_t)V);
        steps[c] = malloc(sizeof(float) * (size_t)V * 2);
        attn[c] = malloc(sizeof(float) * (size_t)N * LH * A);
        ASSERT_TRUE(logits[c] && steps[c] && attn[c]);
    }
    float *mel = chirp_mel(m);
    static const char *isas[] = {"scalar", "avx2", "avx512", "neon"};
    const char *saved = nn_isa_name();
    for (size_t ii = 0; ii < sizeof isas / sizeof isas[0]; ii++) {
        if (!nn_isa_supported(isas[ii]))
            continue;
        ASSERT_OK(nn_isa_set(isas[ii]));
        for (int c = 0; c < 2; c++) {
            /* c = 0: f32 cross K/V; c = 1: f16 */
            whisper_state *st = NULL;
            ASSERT_OK(whisper_state_new(m, 1, &st));
            ASSERT_EQ(st->cross_type, NN_F16); /* the default for an f16 model */
            ASSERT_OK(whisper_state_set_cross_type(st, c == 0 ? NN_F32 : NN_F16));
            ASSERT_OK(whisper_encode(st, mel));
            whisper_kv *kv = NULL;
            ASSERT_OK(whisper_kv_new(m, &kv));
            ASSERT_OK(whisper_decode(st, kv, toks, N - 2, 0, logits[c], attn[c]));
            for (int i = N - 2; i < N; i++)
                ASSERT_OK(whisper_decode(st, kv, &toks[i], 1, i, steps[c] + (size_t)(i - N + 2) * V,
                                         attn[c] + (size_t)i * LH * A));
            /* switching the type forgets the window */
            ASSERT_OK(whisper_state_set_cross_type(st, c == 0 ? NN_F16 : NN_F32));
            ASSERT_EQ(whisper_decode(st, kv, toks, 1, 0, logits[c], NULL), SOTTO_EINVAL);
            whisper_kv_free(kv);
            whisper_state_free(st);
        }
        double e_logits = whisper_test_rel_err(logits[1], logits[0], (size_t)V);
        double e_steps = whisper_test_rel_err(steps[1], steps[0], (size_t)V * 2);
        double e_attn = whisper_test_rel_err(attn[1], attn[0], (size_t)N * LH * A);
        fprintf(stderr, "%s: f16 vs f32 cross K/V: logits %.2g, cached steps %.2g, attention %.2g\n",
                isas[ii], e_logits, e_steps, e_attn);
        ASSERT_TRUE(e_logits <= ERR_BOUND && e_steps <= ERR_BOUND);
        ASSERT_TRUE(e_attn <= 1e-3);
        for (int r = 0; r < N * LH; r++) {
            double sum = 0;
            for (int j = 0; j < A; j++)
                sum += attn[1][(size_t)r * A + j];
            ASSERT_NEAR(sum, 1.0, 1e-5);
        }
    }
    ASSERT_OK(nn_isa_set(saved));
    free(mel);

    /* f32 models keep f32 cross K/V; bad types are refused */
    whisper_model *m32 = make_model(small_hparams(), NN_F32, 14, path, sizeof path);
    whisper_state *st = NULL;
    ASSERT_OK(whisper_state_new(m32, 1, &st));
    ASSERT_EQ(st->cross_type, NN_F32);
    ASSERT_EQ(whisper_state_set_cross_type(st, NN_Q8_0), SOTTO_EINVAL);
    ASSERT_EQ(whisper_state_set_cross_type(NULL, NN_F16), SOTTO_EINVAL);
    whisper_state_free(st);
    whisper_model_free(m32);
    for (int c = 0; c < 2; c++) {
        free(logits[c]);
        free(steps[c]);
        free(attn[c]);
    }
    whisper_model_free(m);
}

TEST(bad_input_is_an_error)
{
    char path[512];
    whisper_model *m = make_model(small_hparams(), NN_F32, 12, path, sizeof path);
    float *mel = calloc((size_t)m->hp.n_mels * WHISPER_N_FRAMES, sizeof(float));
    float *logits = malloc(sizeof(float) * (size_t)m->hp.n_vocab);
    float one = 0.0f;
    ASSERT_TRUE(mel && logits);
    ASSERT_EQ(whisper_log_mel(m, &one, WHISPER_N_SAMPLES + 1, mel), SOTTO_EINVAL);
    ASSERT_EQ(whisper_log_mel(m, NULL, 10, mel), SOTTO_EINVAL);
    ASSERT_OK(whisper_log_mel(m, NULL, 0, mel)); /* silence: all at the floor */
    ASSERT_NEAR(mel[0], mel[12345], 0.0);

    whisper_state *st = NULL;
    whisper_kv *kv = NULL;
    ASSERT_OK(whisper_state_new(m, 1, &st));
    ASSERT_OK(whisper_kv_new(m, &kv));
    int32_t tok = m->special.sot;
    ASSERT_EQ(whisper_decode(st, kv, &tok, 1, 0, logits, NULL), SOTTO_EINVAL); /* not encoded */
    ASSERT_STR_CONTAINS(sotto_last_error(), "encoded");
    ASSERT_OK(whisper_encode(st, mel));
    ASSERT_TRUE(whisper_encoder_output(st) != NULL);
    int32_t bad = m->hp.n_vocab;
    ASSERT_EQ(whisper_decode(st, kv, &bad, 1, 0, logits, NULL), SOTTO_EINVAL);
    bad = -1;
    ASSERT_EQ(whisper_decode(st, kv, &bad, 1, 0, logits, NULL), SOTTO_EINVAL);
    ASSERT_EQ(whisper_decode(st, kv, &tok, 1, 1, logits, NULL), SOTTO_EINVAL); /* gap */
    ASSERT_EQ(whisper_decode(st, kv, &tok, 0, 0, logits, NULL), SOTTO_EINVAL);
    ASSERT_OK(whisper_decode(st, kv, &tok, 1, 0, logits, NULL));
    ASSERT_EQ(whisper_decode(st, kv, &tok, 1, m->hp.n_text_ctx, logits, NULL), SOTTO_EINVAL);
    whisper_state_free(NULL);
    whisper_kv_free(NULL);
    whisper_kv_free(kv);
    whisper_state_free(st);
    free(mel);
    free(logits);
    whisper_model_free(m);
}
