/*
 * whisper.h - Whisper model files: create, inspect, quantize.
 *
 * sotto runs OpenAI Whisper from the ggml model files whisper.cpp users already have
 * (ggml-base.en.bin, ggml-small-q5_1.bin, ...). Recognition goes through asr.h with
 * backend "whisper"; this header is the tooling around the files: writing valid models
 * with random weights (tests and benchmarks cost the same compute as real ones), printing
 * what a file holds, and rewriting its weight matrices in another type.
 */
#ifndef SOTTO_WHISPER_H
#define SOTTO_WHISPER_H

#include <stdint.h>

#include "sotto/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_whisper_dims {
    int n_vocab;       /* 51864 (.en), 51865 (multilingual), 51866 (large-v3) */
    int n_audio_ctx;   /* 1500 */
    int n_audio_state; /* model width, e.g. 384 for tiny */
    int n_audio_head;
    int n_audio_layer;
    int n_text_ctx;    /* 448 */
    int n_text_state;  /* = n_audio_state */
    int n_text_head;
    int n_text_layer;
    int n_mels;        /* 80, or 128 for large-v3 */
} sotto_whisper_dims;

/* Dimensions of a published size: tiny, base, small, medium, large-v1, large-v2,
 * large-v3 (= large), large-v3-turbo; english_only gives the .en variant. */
int sotto_whisper_dims_preset(const char *name, int english_only, sotto_whisper_dims *out);

/* Write a valid model with random weights (deterministic in seed). type is the weight
 * matrices' type: "f32", "f16", "q8_0", "q5_0", "q5_1", "q4_0", "q4_1". */
int sotto_whisper_model_new(const sotto_whisper_dims *dims, const char *type, uint64_t seed,
                            const char *path);

/* Append a human-readable description of the model file at path to out: dimensions,
 * size name, tensor types, parameter count, file size, sha256. */
int sotto_whisper_model_info(const char *path, sotto_buf *out);

/* Rewrite the model at in_path with its weight matrices in type (as above) at out_path. */
int sotto_whisper_model_quantize(const char *in_path, const char *out_path, const char *type);

/* What sotto_whisper_bench measures (times are per 30 s window or per decoder step). */
typedef struct sotto_whisper_bench_result {
    char size[16], type[8]; /* "base", "q8_0" */
    int threads;
    double load_ms, mel_ms, encoder_ms;
    double decode_ms_per_token;  /* greedy: one sequence */
    double beam5_ms_per_step;    /* 5 sequences advanced together */
    double tokens_per_s[3];      /* with 1, 4 and 16 batched sequences */
    double peak_rss_mb;          /* of the process, before the reference measurements */
    double encoder_gflops, sgemm_gflops, encoder_sgemm_ratio; /* vs OpenBLAS, same shapes */
    double decoder_weight_mb;    /* weight bytes read per decoder step */
    double decoder_gb_per_s, memcpy_gb_per_s, decoder_bandwidth_ratio;
} sotto_whisper_bench_result;

/* Benchmark the engine on a model file with n_threads (0 = 2) on a synthetic 30 s input,
 * comparing with this machine's sgemm speed and memcpy bandwidth measured in the same
 * run. Takes seconds to minutes depending on the model size. */
int sotto_whisper_bench(const char *model_path, int n_threads, sotto_whisper_bench_result *out);

#ifdef __cplusplus
}
#endif
#endif
