/*
 * decoder.c - Whisper's text decoder. whisper_decode() feeds tokens at positions
 * n_past .. n_past+n-1 of one sequence; whisper_decode_batch() advances several
 * sequences by one token each in one pass. Both run the same row-wise forward: token +
 * positional embedding, n_text_layer pre-LN blocks (causal self-attention of each row
 * over its own whisper_kv cache, cross-attention over the window's K/V from
 * whisper_encode, MLP), the final layer norm and the output projection (the token
 * embedding transposed) for the rows whose logits are wanted.
 *
 * Every weight matrix is one nn_matmul over all rows, so a batch of sequences reads the
 * weights once per step. Feeding a whole sequence at once and feeding it one token at a
 * time give the same logits (the cache holds exactly the rows a full pass computes).
 * All buffers come from the state and the caches (state.c); nothing is allocated here.
 */
#include <math.h>
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

/* x[i] = token_embedding[tokens[i]] + positional_embedding[pos[i]] */
static void embed(const whisper_model *m, const int32_t *tokens, const int *pos, int n, float *x)
{
    const int64_t S = m->hp.n_text_state;
    const nn_tensor *emb = &m->dec_tok_emb;
    const size_t row_bytes = nn_row_bytes(emb->type, S);
    const float *pe = whisper_f32(&m->dec_pos);
    for (int i = 0; i < n; i++) {
        const uint8_t *row = (const uint8_t *)emb->data + (size_t)tokens[i] * row_bytes;
        nn_dequantize_row(emb->type, row, x + (size_t)i * S, S);
        nn_add(x + (size_t)i * S, pe + (size_t)pos[i] * S, (size_t)S);
    }
}

/* Causal self-attention of row i, head hd, over its cache's positions 0 .. pos[i]
 * (keys and values are cache rows, contiguous per position). */
typedef struct self_ctx {
    whisper_state *st;
    const float *q;
    float *out;
    int layer, n_head, S;
} self_ctx;

static void self_item(void *ctx, int item, float *s)
{
    const self_ctx *c = ctx;
    const int S = c->S, dh = S / c->n_head, i = item / c->n_head, hd = item % c->n_head;
    const whisper_kv *kv = c->st->row_kv[i];
    const size_t T = (size_t)kv->m->hp.n_text_ctx;
    const float *kc = kv->k + (size_t)c->layer * T * S + (size_t)hd * dh;
    const float *vc = kv->v + (size_t)c->layer * T * S + (size_t)hd * dh;
    const int nk = c->st->row_pos[i] + 1;
    const float scale = 1.0f / sqrtf((float)dh);
    float qs[dh]; /* dh <= S, bounded by the loader */
    for (int d = 0; d < dh; d++)
        qs[d] = c->q[(size_t)i * S + (size_t)hd * dh + d] * scale;
    for (int t = 0; t < nk; t++) {
        const float *kt = kc + (size_t)t * S;
        float part[8] = {0};
        int d = 0;
        for (; d + 8 <= dh; d += 8)
            for (int j = 0; j < 8; j++)
                part[j] += qs[d + j] * kt[d + j];
        float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
        for (; d < dh; d++)
            sum += qs[d] * kt[d];
        s[t] = sum;
    }
    nn_softmax(s, (size_t)nk);
    float *o = c->out + (size_t)i * S + (size_t)hd * dh;
    memset(o, 0, sizeof(float) * (size_t)dh);
    for (int t = 0; t < nk; t++) {
        const float *vt = vc + (size_t)t * S;
        const float p = s[t];
        for (int d = 0; d < dh; d++)
            o[d] += p * vt[d];
    }
}

/* Layer l's block of a state's cross K or V (elements of its cross_type). */
static const void *cross_at(const whisper_state *ws, const void *base, int l)
{
    const whisper_hparams *hp = &ws->m->hp;
    const size_t es = ws->cross_type == NN_F16 ? 2 : 4;
    return (const uint8_t *)base + (size_t)l * hp->n_text_state * hp->n_audio_ctx * es;
}

/*
 * The forward pass over n rows: row i is tokens[i] at position st->row_pos[i] of cache
 * st->row_kv[i] (set by the caller; a row's cache may be shared with earlier rows of the
 * same sequence, whose K/V it then sees). Logits (n_vocab floats each) are written for
 * rows logits_from .. n-1, one after another. Cross-attention: over st's window when row_st
 * is NULL (attn, if set, receives (n, L*H, A)); else row i attends to row_st[i]'s window
 * (row_attn[i], if set, receives its (L*H, A)) and st is only the scratch.
 */
static void forward_rows(whisper_state *st, whisper_state *const *row_st, const int32_t *tokens, int n,
                         float *logits, int logits_from, float *attn, float *const *row_attn)
{
    const whisper_model *m = st->m;
    const whisper_hparams *hp = &m->hp;
    const int S = hp->n_text_state, H = hp->n_text_head, A = hp->n_audio_ctx, dh = S / H;
    const size_t T = (size_t)hp->n_text_ctx;
    const int nt = st->n_threads;
    float *x = st->x, *h = st->h, *q = st->q, *o = st->o;
    int64_t work = 0;
    for (int i = 0; i < n; i++)
        work += st->row_pos[i] + 1;

    embed(m, tokens, st->row_pos, n, x);
    for (int l = 0; l < hp->n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        const whisper_enc_layer *self = &D->self;

        /* causal self-attention: the rows' K/V join their caches first */
        whisper_ln_rows(st, h, x, n, S, &self->attn_ln_w, &self->attn_ln_b);
        const nn_matmul_op qkv[3] = {
            {&self->attn_q_w, whisper_f32(&self->attn_q_b), h, n, q, NN_POST_NONE, NULL},
            {&self->attn_k_w, NULL, h, n, st->k, NN_POST_NONE, NULL},
            {&self->attn_v_w, whisper_f32(&self->attn_v_b), h, n, st->v, NN_POST_NONE, NULL}};
        nn_matmul_multi(qkv, 3, nt);
        for (int i = 0; i < n; i++) {
            size_t off = (size_t)l * T * S + (size_t)st->row_pos[i] * S;
            memcpy(st->row_kv[i]->k + off, st->k + (size_t)i * S, sizeof(float) * (size_t)S);
            memcpy(st->row_kv[i]->v + off, st->v + (size_t)i * S, sizeof(float) * (size_t)S);
        }
        self_ctx sc = {st, q, o, l, H, S};
        whisper_parallel(st, work * S < 131072 ? 1 : nt, n * H, self_item, &sc);
        nn_matmul_post(&self->attn_out_w, whisper_f32(&self->attn_out_b), o, n, h, NN_POST_ADD, x, nt);

        /* cross-attention over the window (K/V computed once by whisper_encode) */
        whisper_ln_rows(st, h, x, n, S, &D->cross_ln_w, &D->cross_ln_b);
        nn_matmul(&D->cross_q_w, whisper_f32(&D->cross_q_b), h, n, q, nt);
        if (!row_st) {
            whisper_pack_heads(st->qh, q, n, H, S, 1.0f / sqrtf((float)dh), 0);
            whisper_attention(st, st->qh, (size_t)n * dh, n, st->cross_type, cross_at(st, st->cross_k, l),
                              cross_at(st, st->cross_v, l), A, H, S, o,
                              attn ? attn + (size_t)l * H * A : NULL, (size_t)hp->n_text_layer * H);
        } else {
            /* rows of different windows: each row over its own state's K/V, computed in
             * st's scratch (the caller holds every state of the call) */
            for (int i = 0; i < n; i++) {
                const whisper_state *ws = row_st[i];
                float *pa = row_attn && row_attn[i] ? row_attn[i] + (size_t)l * H * A : NULL;
                whisper_pack_heads(st->qh, q + (size_t)i * S, 1, H, S, 1.0f / sqrtf((float)dh), 0);
                whisper_attention(st, st->qh, (size_t)dh, 1, ws->cross_type, cross_at(ws, ws->cross_k, l),
                                  cross_at(ws, ws->cross_v, l), A, H, S, o + (size_t)i * S, pa,
                                  (size_t)hp->n_text_layer * H);
            }
        }
        nn_matmul_post(&D->cross_out_w, whisper_f32(&D->cross_out_b), o, n, h, NN_POST_ADD, x, nt);

        /* MLP */
        whisper_ln_rows(st, h, x, n, S, &self->mlp_ln_w, &self->mlp_ln_b);
        nn_matmul_post(&self->mlp0_w, whisper_f32(&self->mlp0_b), h, n, st->f, NN_POST_GELU, NULL, nt);
        nn_matmul_post(&self->mlp2_w, whisper_f32(&self->mlp2_b), st->f, n, h, NN_POST_ADD, x, nt);
    }

    /* final norm and output projection, for the wanted rows only */
    const int nl = n - logits_from;
    whisper_ln_rows(st, h, x + (size_t)logits_from * S, nl, S, &m->dec_ln_w, &m->dec_ln_b);
    nn_matmul(&m->dec_tok_emb, NULL, h, nl, logits, nt);
}

static int check_call(const whisper_state *st, const char *fn)
{
    if (!st->encoded)
        return error_set(SOTTO_EINVAL, "%s: no window encoded yet", fn);
    return 0;
}

int whisper_decode(whisper_state *st, whisper_kv *kv, const int32_t *tokens, int n, int n_past,
                   float *logits, float *attn)
{
    if (!st || !kv || !tokens || !logits)
        return error_set(SOTTO_EINVAL, "whisper_decode: missing state, cache, tokens or logits");
    const whisper_hparams *hp = &st->m->hp;
    if (kv->m != st->m)
        return error_set(SOTTO_EINVAL, "whisper_decode: cache belongs to another model");
    int rc = check_call(st, "whisper_decode");
    if (rc)
        return rc;
    if (n < 1 || n_past < 0 || n_past > kv->n || (int64_t)n_past + n > hp->n_text_ctx)
        return error_set(SOTTO_EINVAL,
                         "whisper_decode: %d tokens at position %d (cache holds %d, context %d)",
                         n, n_past, kv->n, hp->n_text_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return error_set(SOTTO_EINVAL, "whisper_decode: token %d outside the vocabulary (%d)",
                             tokens[i], hp->n_vocab);
    for (int i = 0; i < n; i++) {
        st->row_kv[i] = kv;
        st->row_pos[i] = n_past + i;
    }
    forward_rows(st, NULL, tokens, n, logits, n - 1, attn, NULL);
    kv->n = n_past + n;
    return 0;
}

int whisper_decode_batch(whisper_state *st, whisper_kv *const *kvs, const int32_t *tokens,
                         const int *n_past, int n_seq, float *logits)
{
    if (!st || !kvs || !tokens || !n_past || !logits)
        return error_set(SOTTO_EINVAL, "whisper_decode_batch: missing state, caches, tokens, "
                                       "positions or logits");
    const whisper_hparams *hp = &st->m->hp;
    int rc = check_call(st, "whisper_decode_batch");
    if (rc)
        return rc;
    if (n_seq < 1 || n_seq > WHISPER_MAX_BATCH || n_seq > st->max_kv)
        return error_set(SOTTO_EINVAL, "whisper_decode_batch: %d sequences (1 .. %d)", n_seq,
                         WHISPER_MAX_BATCH);
    for (int i = 0; i < n_seq; i++) {
        const whisper_kv *kv = kvs[i];
        if (!kv || kv->m != st->m)
            return error_set(SOTTO_EINVAL, "whisper_decode_batch: cache %d missing or of another model", i);
        if (n_past[i] < 0 || n_past[i] > kv->n || n_past[i] + 1 > hp->n_text_ctx)
            return error_set(SOTTO_EINVAL,
                             "whisper_decode_batch: sequence %d at position %d (cache holds %d, context %d)",
                             i, n_past[i], kv->n, hp->n_text_ctx);
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return error_set(SOTTO_EINVAL, "whisper_decode_batch: token %d outside the vocabulary (%d)",
                             tokens[i], hp->n_vocab);
        for (int j = 0; j < i; j++)
            if (kvs[j] == kv)
                return error_set(SOTTO_EINVAL, "whisper_decode_batch: sequences %d and %d share a cache",
                                 j, i);
    }
    for (int i = 0; i < n_seq; i++) {
        st->row_kv[i] = kvs[i];
        st->row_pos[i] = n_past[i];
    }
    forward_rows(st, NULL, tokens, n_seq, logits, 0, NULL, NULL);
    for (int i = 0; i < n_seq; i++)
        kvs[i]->n = n_past[i] + 1;
    return 0;
}

int whisper_decode_row_check(const whisper_state *st, const whisper_kv *kv, int32_t token, int n_past,
                             const char *fn)
{
    if (!st || !kv)
        return error_set(SOTTO_EINVAL, "%s: missing state or cache", fn);
    const whisper_hparams *hp = &st->m->hp;
    if (kv->m != st->m)
        return error_set(SOTTO_EINVAL, "%s: cache and state belong to different models", fn);
    if (!st->encoded)
        return error_set(SOTTO_EINVAL, "%s: no window encoded yet", fn);
    if (n_past < 0 || n_past > kv->n || n_past + 1 > hp->n_text_ctx)
        return error_set(SOTTO_EINVAL, "%s: position %d (cache holds %d, context %d)", fn, n_past, kv->n,
                         hp->n_text_ctx);
    if (token < 0 || token >= hp->n_vocab)
        return error_set(SOTTO_EINVAL, "%s: token %d outside the vocabulary (%d)", fn, token, hp->n_vocab);
    return 0;
}

/*
 * Like whisper_decode_batch, but row i attends to its own window sts[i]. The scratch is
 * sts[0]'s: the caller holds every state of the call exclusively (none is encoding or
 * decoding elsewhere), so nothing else writes it; the other states are only read (their
 * cross K/V), and each row's cache is written at its own position only.
 */
int whisper_decode_multi(whisper_state *const *sts, whisper_kv *const *kvs, const int32_t *tokens,
                         const int *n_past, int n_seq, float *logits, float *const *attn)
{
    if (!sts || !kvs || !tokens || !n_past || !logits)
        return error_set(SOTTO_EINVAL, "whisper_decode_multi: missing states, caches, tokens, positions or "
                                       "logits");
    if (n_seq < 1 || n_seq > WHISPER_MAX_BATCH)
        return error_set(SOTTO_EINVAL, "whisper_decode_multi: %d rows (1 .. %d)", n_seq, WHISPER_MAX_BATCH);
    whisper_state *scr = sts[0];
    for (int i = 0; i < n_seq; i++) {
        char fn[48];
        snprintf(fn, sizeof fn, "whisper_decode_multi: row %d", i);
        if (!sts[i] || !kvs[i])
            return error_set(SOTTO_EINVAL, "%s: missing state or cache", fn);
        if (sts[i]->m != scr->m)
            return error_set(SOTTO_EINVAL, "%s: its state belongs to another model than row 0's", fn);
        int rc = whisper_decode_row_check(sts[i], kvs[i], tokens[i], n_past[i], fn);
        if (rc)
            return rc;
        for (int j = 0; j < i; j++)
            if (kvs[j] == kvs[i])
                return error_set(SOTTO_EINVAL, "whisper_decode_multi: rows %d and %d share a cache", j, i);
    }
    if (n_seq > scr->max_kv)
        return error_set(SOTTO_EINVAL, "whisper_decode_multi: %d rows exceed the scratch (%d)", n_seq,
                         scr->max_kv);
    int one_window = !attn; /* then whisper_decode_batch's attention over all rows at once */
    for (int i = 0; i < n_seq; i++) {
        scr->row_kv[i] = kvs[i];
        scr->row_pos[i] = n_past[i];
        one_window = one_window && sts[i] == scr;
    }
    forward_rows(scr, one_window ? NULL : sts, tokens, n_seq, logits, 0, NULL, attn);
    for (int i = 0; i < n_seq; i++)
        kvs[i]->n = n_past[i] + 1;
    return 0;
}
