/*
 * encoder.c - Whisper's audio encoder and the attention both halves of the model use.
 *
 * whisper_encode() runs one 30 s window: conv1 (k 3, pad 1) + GELU, conv2 (k 3, stride 2,
 * pad 1) + GELU, + positional embedding, n_audio_layer pre-LN transformer blocks
 * (x += out(attn(ln(x))); x += fc2(gelu(fc1(ln(x))))), ln_post; then, once per window,
 * every decoder layer's cross-attention K = enc Wk^T and V = enc Wv^T + bv (stored in f16
 * except for f32 models: see forward_int.h).
 * Matrix products go through nn_matmul (any weight type) on the thread pool, with GELU and
 * the residual adds fused into them; the convolutions are products too, over im2col rows.
 * Attention runs per (head x 64-row tile) work item on the pool, both of its products on
 * the matmul kernels with K and V^T packed per head as f32 weights, so no thread holds
 * more than one tile of scores. Also here: the parallel-items helper and the row-parallel
 * layer norm the decoder shares. All buffers belong to the whisper_state (state.c).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

#define LN_EPS 1e-5f
#define LN_ROWS_PER_ITEM 32

/* ---- parallel items --------------------------------------------------------------------- */

typedef struct par_job {
    whisper_state *st;
    whisper_item_fn fn;
    void *ctx;
    int n_items;
    atomic_int next;
} par_job;

/* One pool task per thread, so that task ith owns scratch row ith; items are claimed
 * from a counter so uneven items (causal rows, the last tile) balance out. */
static void par_task(void *arg, int ith, int nth)
{
    (void)nth;
    par_job *j = arg;
    float *scratch = j->st->scratch + (size_t)ith * j->st->scratch_floats;
    for (;;) {
        int it = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (it >= j->n_items)
            break;
        j->fn(j->ctx, it, scratch);
    }
}

void whisper_parallel(whisper_state *st, int n_threads, int n_items, whisper_item_fn fn, void *ctx)
{
    if (n_threads > st->n_threads)
        n_threads = st->n_threads;
    if (n_threads > n_items)
        n_threads = n_items;
    if (n_threads < 1)
        n_threads = 1;
    par_job j = {.st = st, .fn = fn, .ctx = ctx, .n_items = n_items};
    atomic_init(&j.next, 0);
    nn_pool_run(n_threads, n_threads, par_task, &j);
}

/* ---- layer norm ----------------------------------------------------------------------- */

typedef struct ln_ctx {
    float *dst;
    const float *src;
    int64_t n_rows, dim;
    const float *g, *b;
} ln_ctx;

static void ln_item(void *ctx, int item, float *scratch)
{
    (void)scratch;
    const ln_ctx *c = ctx;
    int64_t r0 = (int64_t)item * LN_ROWS_PER_ITEM;
    int64_t nr = c->n_rows - r0 < LN_ROWS_PER_ITEM ? c->n_rows - r0 : LN_ROWS_PER_ITEM;
    float *d = c->dst + r0 * c->dim;
    if (c->dst != c->src)
        memcpy(d, c->src + r0 * c->dim, sizeof(float) * (size_t)(nr * c->dim));
    nn_layer_norm(d, nr, c->dim, c->g, c->b, LN_EPS);
}

void whisper_ln_rows(whisper_state *st, float *dst, const float *src, int64_t n_rows, int64_t dim,
                     const nn_tensor *g, const nn_tensor *b)
{
    ln_ctx c = {dst, src, n_rows, dim, whisper_f32(g), whisper_f32(b)};
    int n_items = (int)((n_rows + LN_ROWS_PER_ITEM - 1) / LN_ROWS_PER_ITEM);
    whisper_parallel(st, n_items > 1 ? st->n_threads : 1, n_items, ln_item, &c);
}

/* ---- attention ------------------------------------------------------------------------ */

void whisper_pack_heads(float *dst, const float *src, int n, int n_head, int S, float scale,
                        int transpose)
{
    const int dh = S / n_head;
    for (int hd = 0; hd < n_head; hd++) {
        float *d = dst + (size_t)hd * n * dh;
        for (int t = 0; t < n; t++) {
            const float *r = src + (size_t)t * S + (size_t)hd * dh;
            if (transpose)
                for (int c = 0; c < dh; c++)
                    d[(size_t)c * n + t] = r[c];
            else
                for (int c = 0; c < dh; c++)
                    d[(size_t)t * dh + c] = r[c] * scale;
        }
    }
}

typedef struct attn_ctx {
    const float *qh;
    const uint8_t *kh, *vth; /* elements of kv_type */
    nn_type kv_type;
    size_t es;               /* bytes per K/V element */
    size_t qh_head_stride, probs_row_stride;
    float *out, *probs;
    int n, n_kv, n_head, S, n_tiles;
} attn_ctx;

/* One head x one tile of query rows: scores = Q K^T (tile x n_kv), softmax per row,
 * out = P V, with both products on the matmul kernels (K and V^T as f32 or f16 weights). */
static void attn_item(void *ctx, int item, float *scratch)
{
    const attn_ctx *a = ctx;
    const int dh = a->S / a->n_head, hd = item / a->n_tiles;
    const int r0 = (item % a->n_tiles) * WHISPER_ATTN_TILE;
    const int rb = a->n - r0 < WHISPER_ATTN_TILE ? a->n - r0 : WHISPER_ATTN_TILE;
    float *scores = scratch, *otile = scratch + (size_t)WHISPER_ATTN_TILE * a->n_kv;
    const size_t head_bytes = a->es * (size_t)a->n_kv * dh;
    const nn_tensor kt = {.name = "attn.k", .type = a->kv_type, .n_dims = 2,
                          .ne = {dh, a->n_kv, 1, 1}, .data = a->kh + (size_t)hd * head_bytes,
                          .nbytes = head_bytes};
    const nn_tensor vt = {.name = "attn.vt", .type = a->kv_type, .n_dims = 2,
                          .ne = {a->n_kv, dh, 1, 1}, .data = a->vth + (size_t)hd * head_bytes,
                          .nbytes = head_bytes};
    const float *q = a->qh + hd * a->qh_head_stride + (size_t)r0 * dh;
    nn_matmul_range(&kt, NULL, q, rb, scores, 0, a->n_kv);
    for (int i = 0; i < rb; i++) {
        float *s = scores + (size_t)i * a->n_kv;
        nn_softmax(s, (size_t)a->n_kv);
        if (a->probs)
            memcpy(a->probs + ((size_t)(r0 + i) * a->probs_row_stride + (size_t)hd) * a->n_kv, s,
                   sizeof(float) * (size_t)a->n_kv);
    }
    nn_matmul_range(&vt, NULL, scores, rb, otile, 0, dh);
    for (int i = 0; i < rb; i++)
        memcpy(a->out + (size_t)(r0 + i) * a->S + (size_t)hd * dh, otile + (size_t)i * dh,
               sizeof(float) * (size_t)dh);
}

void whisper_attention(whisper_state *st, const float *qh, size_t qh_head_stride, int n,
                       nn_type kv_type, const void *kh, const void *vth, int n_kv, int n_head,
                       int S, float *out, float *probs, size_t probs_row_stride)
{
    SOTTO_ASSERT(n_kv <= st->max_kv && (kv_type == NN_F32 || kv_type == NN_F16));
    attn_ctx a = {.qh = qh, .kh = kh, .vth = vth, .kv_type = kv_type,
                  .es = kv_type == NN_F16 ? sizeof(uint16_t) : sizeof(float),
                  .qh_head_stride = qh_head_stride,
                  .probs_row_stride = probs_row_stride, .out = out, .probs = probs, .n = n,
                  .n_kv = n_kv, .n_head = n_head, .S = S,
                  .n_tiles = (n + WHISPER_ATTN_TILE - 1) / WHISPER_ATTN_TILE};
    /* a head of a single query row is microseconds: not worth waking threads for less
     * than a few of them */
    int nt = (double)n * n_kv * S < 131072.0 ? 1 : st->n_threads;
    whisper_parallel(st, nt, n_head * a.n_tiles, attn_item, &a);
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
 * the decoder has its own because it also caches K/V and cross-attends). The residual
 * adds and the GELU run inside the matmul jobs, on each thread's own output columns. */
static void encoder_block(whisper_state *st, const whisper_enc_layer *L, int n)
{
    const whisper_hparams *hp = &st->m->hp;
    const int S = hp->n_audio_state, H = hp->n_audio_head, nt = st->n_threads;
    const float scale = 1.0f / sqrtf((float)(S / H));

    whisper_ln_rows(st, st->h, st->x, n, S, &L->attn_ln_w, &L->attn_ln_b);
    const nn_matmul_op qkv[3] = {
        {&L->attn_q_w, whisper_f32(&L->attn_q_b), st->h, n, st->q, NN_POST_NONE, NULL},
        {&L->attn_k_w, NULL, st->h, n, st->k, NN_POST_NONE, NULL},
        {&L->attn_v_w, whisper_f32(&L->attn_v_b), st->h, n, st->v, NN_POST_NONE, NULL}};
    nn_matmul_multi(qkv, 3, nt);
    whisper_pack_heads(st->qh, st->q, n, H, S, scale, 0);
    whisper_pack_heads(st->kh, st->k, n, H, S, 1.0f, 0);
    whisper_pack_heads(st->vth, st->v, n, H, S, 1.0f, 1);
    whisper_attention(st, st->qh, (size_t)n * (S / H), n, NN_F32, st->kh, st->vth, n, H, S, st->o,
                      NULL, 0);
    nn_matmul_post(&L->attn_out_w, whisper_f32(&L->attn_out_b), st->o, n, st->h, NN_POST_ADD, st->x, nt);

    whisper_ln_rows(st, st->h, st->x, n, S, &L->mlp_ln_w, &L->mlp_ln_b);
    nn_matmul_post(&L->mlp0_w, whisper_f32(&L->mlp0_b), st->h, n, st->f, NN_POST_GELU, NULL, nt);
    nn_matmul_post(&L->mlp2_w, whisper_f32(&L->mlp2_b), st->f, n, st->h, NN_POST_ADD, st->x, nt);
}

/* Layer l's cross K (or V, transposed) from the (A, S) projection src, packed per head
 * into the state's cross buffer in its element type (packed in f32 scratch first, then
 * narrowed in one vectorized pass when f16). */
static void store_cross(whisper_state *st, int l, const float *src, int transpose)
{
    const whisper_hparams *hp = &st->m->hp;
    const size_t n = (size_t)hp->n_audio_state * (size_t)hp->n_audio_ctx;
    void *base = transpose ? st->cross_v : st->cross_k;
    if (st->cross_type == NN_F32) {
        whisper_pack_heads((float *)base + (size_t)l * n, src, hp->n_audio_ctx, hp->n_text_head,
                           hp->n_audio_state, 1.0f, transpose);
        return;
    }
    whisper_pack_heads(st->kh, src, hp->n_audio_ctx, hp->n_text_head, hp->n_audio_state, 1.0f,
                       transpose);
    nn_fp32_to_fp16_row(st->kh, (uint16_t *)base + (size_t)l * n, n);
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
    nn_matmul_post(&w1, whisper_f32(&m->enc_conv1_b), st->cols, F, st->f, NN_POST_GELU, NULL, nt);

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
    nn_matmul_post(&w2, whisper_f32(&m->enc_conv2_b), st->cols, A, st->x, NN_POST_GELU, NULL, nt);
    nn_add(st->x, whisper_f32(&m->enc_pos), (size_t)A * S);

    for (int l = 0; l < hp->n_audio_layer; l++)
        encoder_block(st, &m->enc[l], A);
    whisper_ln_rows(st, st->enc_out, st->x, A, S, &m->enc_ln_post_w, &m->enc_ln_post_b);

    /* cross-attention keys and values depend only on the window: compute them once */
    for (int l = 0; l < hp->n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        const nn_matmul_op kv[2] = {
            {&D->cross_k_w, NULL, st->enc_out, A, st->k, NN_POST_NONE, NULL},
            {&D->cross_v_w, whisper_f32(&D->cross_v_b), st->enc_out, A, st->v, NN_POST_NONE, NULL}};
        nn_matmul_multi(kv, 2, nt);
        store_cross(st, l, st->k, 0);
        store_cross(st, l, st->v, 1);
    }
    st->encoded = 1;
    return 0;
}

const float *whisper_encoder_output(const whisper_state *st)
{
    return st && st->encoded ? st->enc_out : NULL;
}
