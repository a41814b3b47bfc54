/*
 * encoder.c - Whisper's audio encoder and the attention both halves of the model use.
 *
 * whisper_encode() runs one 30 s window: conv1 (k 3, pad 1) + GELU, conv2 (k 3, stride 2,
 * pad 1) + GELU, + positional embedding, n_audio_layer pre-LN transformer blocks
 * (x += out(attn(ln(x))); x += fc2(gelu(fc1(ln(x))))), ln_post; then, once per window,
 * every decoder layer's cross-attention K = enc Wk^T and V = enc Wv^T + bv.
 * Matrix products go through nn_matmul (any weight type); the convolutions are products
 * too, over im2col rows. All buffers belong to the whisper_state (state.c).
 */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

#define LN_EPS 1e-5f

void whisper_ln_rows(float *dst, const float *src, int64_t n_rows, int64_t dim,
                     const nn_tensor *g, const nn_tensor *b)
{
    if (dst != src)
        memcpy(dst, src, sizeof(float) * (size_t)(n_rows * dim));
    nn_layer_norm(dst, n_rows, dim, whisper_f32(g), whisper_f32(b), LN_EPS);
}

/* ---- attention ------------------------------------------------------------------------ */

void whisper_transpose(float *dst, const float *src, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

typedef struct attn_job {
    const float *q, *kt, *v;
    float *out, *probs, *scores;
    size_t kt_stride, probs_row_stride;
    int row_begin, row_end, n_kv, causal, first_key_count, n_head, S;
} attn_job;

static void attn_rows(const attn_job *j)
{
    const int S = j->S, dh = S / j->n_head;
    const float scale = 1.0f / sqrtf((float)dh);
    float *s = j->scores;
    for (int i = j->row_begin; i < j->row_end; i++) {
        int nk = j->causal ? j->first_key_count + i : j->n_kv;
        for (int hd = 0; hd < j->n_head; hd++) {
            const float *qi = j->q + (size_t)i * S + (size_t)hd * dh;
            /* scores as dh axpys over contiguous keys: no reduction chain, vectorizes */
            memset(s, 0, sizeof(float) * (size_t)nk);
            for (int c = 0; c < dh; c++) {
                const float qc = qi[c] * scale;
                const float *krow = j->kt + (size_t)(hd * dh + c) * j->kt_stride;
                for (int t = 0; t < nk; t++)
                    s[t] += qc * krow[t];
            }
            nn_softmax(s, (size_t)nk);
            float *oi = j->out + (size_t)i * S + (size_t)hd * dh;
            memset(oi, 0, sizeof(float) * (size_t)dh);
            for (int t = 0; t < nk; t++) {
                const float *vt = j->v + (size_t)t * S + (size_t)hd * dh;
                const float p = s[t];
                for (int c = 0; c < dh; c++)
                    oi[c] += p * vt[c];
            }
            if (j->probs) {
                float *pr = j->probs + ((size_t)i * j->probs_row_stride + (size_t)hd) * j->n_kv;
                memcpy(pr, s, sizeof(float) * (size_t)nk);
                memset(pr + nk, 0, sizeof(float) * (size_t)(j->n_kv - nk));
            }
        }
    }
}

static void *attn_worker(void *arg)
{
    attn_rows(arg);
    return NULL;
}

void whisper_attention(whisper_state *st, const float *q, int n, const float *kt,
                       size_t kt_stride, const float *v, int n_kv, int causal,
                       int first_key_count, int n_head, int S, float *out, float *probs,
                       size_t probs_row_stride)
{
    int n_threads = st->n_threads;
    /* threads only pay off on the encoder's 1500 x 1500 rows, not per decoded token */
    if ((int64_t)n * n_kv < 65536 || n < 2)
        n_threads = 1;
    if (n_threads > n)
        n_threads = n;
    attn_job jobs[WHISPER_MAX_THREADS];
    pthread_t tids[WHISPER_MAX_THREADS];
    int started[WHISPER_MAX_THREADS];
    size_t row_len = (size_t)(st->max_kv);
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (attn_job){.q = q, .kt = kt, .kt_stride = kt_stride, .v = v, .out = out, .probs = probs,
                             .scores = st->scores + (size_t)t * row_len,
                             .probs_row_stride = probs_row_stride,
                             .row_begin = (int)((int64_t)n * t / n_threads),
                             .row_end = (int)((int64_t)n * (t + 1) / n_threads),
                             .n_kv = n_kv, .causal = causal,
                             .first_key_count = first_key_count, .n_head = n_head, .S = S};
        started[t] = 0;
    }
    for (int t = 1; t < n_threads; t++)
        started[t] = pthread_create(&tids[t], NULL, attn_worker, &jobs[t]) == 0;
    attn_rows(&jobs[0]);
    for (int t = 1; t < n_threads; t++) {
        if (started[t])
            pthread_join(tids[t], NULL);
        else
            attn_rows(&jobs[t]); /* could not start a thread: do its share here */
    }
}

/* ---- encoder ---------------------------------------------------------------------------- */

/* A conv weight [3, C_in, C_out] read as the 2-D matrix [3 * C_in, C_out] that multiplies
 * im2col rows laid out (c_in, tap). */
static nn_tensor conv_as_matrix(const nn_tensor *w)
{
    nn_tensor m = *w;
    m.n_dims = 2;
    m.ne[0] = w->ne[0] * w->ne[1];
    m.ne[1] = w->ne[2];
    m.ne[2] = m.ne[3] = 1;
    return m;
}

/* One pre-LN transformer block over the n rows of st->x (the encoder's self-attention;
 * the decoder has its own because it also caches K/V and cross-attends). */
static void encoder_block(whisper_state *st, const whisper_enc_layer *L, int n)
{
    const whisper_hparams *hp = &st->m->hp;
    const int S = hp->n_audio_state, nt = st->n_threads;

    whisper_ln_rows(st->h, st->x, n, S, &L->attn_ln_w, &L->attn_ln_b);
    nn_matmul(&L->attn_q_w, whisper_f32(&L->attn_q_b), st->h, n, st->q, nt);
    nn_matmul(&L->attn_k_w, NULL, st->h, n, st->k, nt);
    nn_matmul(&L->attn_v_w, whisper_f32(&L->attn_v_b), st->h, n, st->v, nt);
    whisper_transpose(st->kt, st->k, n, S);
    whisper_attention(st, st->q, n, st->kt, (size_t)n, st->v, n, 0, 0, hp->n_audio_head, S,
                      st->o, NULL, 0);
    nn_matmul(&L->attn_out_w, whisper_f32(&L->attn_out_b), st->o, n, st->h, nt);
    nn_add(st->x, st->h, (size_t)n * S);

    whisper_ln_rows(st->h, st->x, n, S, &L->mlp_ln_w, &L->mlp_ln_b);
    nn_matmul(&L->mlp0_w, whisper_f32(&L->mlp0_b), st->h, n, st->f, nt);
    nn_gelu(st->f, (size_t)n * 4 * S);
    nn_matmul(&L->mlp2_w, whisper_f32(&L->mlp2_b), st->f, n, st->h, nt);
    nn_add(st->x, st->h, (size_t)n * S);
}

int whisper_encode(whisper_state *st, const float *mel)
{
    if (!st || !mel)
        return error_set(SOTTO_EINVAL, "whisper_encode: missing state or mel");
    const whisper_model *m = st->m;
    const whisper_hparams *hp = &m->hp;
    const int C = hp->n_mels, S = hp->n_audio_state, A = hp->n_audio_ctx;
    const int F = WHISPER_N_FRAMES, nt = st->n_threads;
    st->encoded = 0;

    /* conv1: (F, C) mel frames -> (F, S), GELU; im2col row t holds mel[c][t + tap - 1] */
    for (int t = 0; t < F; t++) {
        float *row = st->cols + (size_t)t * 3 * C;
        for (int c = 0; c < C; c++)
            for (int tap = 0; tap < 3; tap++) {
                int ts = t + tap - 1;
                row[c * 3 + tap] = ts >= 0 && ts < F ? mel[(size_t)c * F + ts] : 0.0f;
            }
    }
    nn_tensor w1 = conv_as_matrix(&m->enc_conv1_w);
    nn_matmul(&w1, whisper_f32(&m->enc_conv1_b), st->cols, F, st->f, nt);
    nn_gelu(st->f, (size_t)F * S);

    /* conv2, stride 2: (F, S) -> (A, S), GELU; row t holds conv1[2t + tap - 1][c] */
    for (int t = 0; t < A; t++) {
        float *row = st->cols + (size_t)t * 3 * S;
        for (int tap = 0; tap < 3; tap++) {
            int ts = 2 * t + tap - 1;
            const float *src = ts >= 0 && ts < F ? st->f + (size_t)ts * S : NULL;
            for (int c = 0; c < S; c++)
                row[c * 3 + tap] = src ? src[c] : 0.0f;
        }
    }
    nn_tensor w2 = conv_as_matrix(&m->enc_conv2_w);
    nn_matmul(&w2, whisper_f32(&m->enc_conv2_b), st->cols, A, st->x, nt);
    nn_gelu(st->x, (size_t)A * S);
    nn_add(st->x, whisper_f32(&m->enc_pos), (size_t)A * S);

    for (int l = 0; l < hp->n_audio_layer; l++)
        encoder_block(st, &m->enc[l], A);
    whisper_ln_rows(st->enc_out, st->x, A, S, &m->enc_ln_post_w, &m->enc_ln_post_b);

    /* cross-attention keys and values depend only on the window: compute them once */
    for (int l = 0; l < hp->n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        nn_matmul(&D->cross_k_w, NULL, st->enc_out, A, st->k, nt);
        whisper_transpose(st->cross_k + (size_t)l * S * A, st->k, A, S);
        nn_matmul(&D->cross_v_w, whisper_f32(&D->cross_v_b), st->enc_out, A,
                  st->cross_v + (size_t)l * A * S, nt);
    }
    st->encoded = 1;
    return 0;
}

const float *whisper_encoder_output(const whisper_state *st)
{
    return st && st->encoded ? st->enc_out : NULL;
}
