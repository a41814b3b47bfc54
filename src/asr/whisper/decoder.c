/*
 * decoder.c - Whisper's text decoder: whisper_decode() feeds tokens at positions
 * n_past .. n_past+n-1 through token + positional embedding, n_text_layer pre-LN blocks
 * (causal self-attention over the whisper_kv cache, cross-attention over the window's
 * K/V from whisper_encode, MLP), the final layer norm, and the output projection
 * (the token embedding transposed) for the last token only.
 *
 * Feeding a whole sequence at once and feeding it one token at a time give the same
 * logits (the cache holds exactly the rows a full pass would compute). All buffers come
 * from the state and the cache (state.c); nothing is allocated here.
 */
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

/* x[i] = token_embedding[tokens[i]] + positional_embedding[n_past + i] */
static void embed(const whisper_model *m, const int32_t *tokens, int n, int n_past, float *x)
{
    const int64_t S = m->hp.n_text_state;
    const nn_tensor *emb = &m->dec_tok_emb;
    const size_t row_bytes = nn_row_bytes(emb->type, S);
    const float *pos = whisper_f32(&m->dec_pos);
    for (int i = 0; i < n; i++) {
        const uint8_t *row = (const uint8_t *)emb->data + (size_t)tokens[i] * row_bytes;
        nn_dequantize_row(emb->type, row, x + (size_t)i * S, S);
        nn_add(x + (size_t)i * S, pos + (size_t)(n_past + i) * S, (size_t)S);
    }
}

int whisper_decode(whisper_state *st, whisper_kv *kv, const int32_t *tokens, int n, int n_past,
                   float *logits, float *attn)
{
    if (!st || !kv || !tokens || !logits)
        return error_set(SOTTO_EINVAL, "whisper_decode: missing state, cache, tokens or logits");
    const whisper_model *m = st->m;
    const whisper_hparams *hp = &m->hp;
    if (kv->m != m)
        return error_set(SOTTO_EINVAL, "whisper_decode: cache belongs to another model");
    if (!st->encoded)
        return error_set(SOTTO_EINVAL, "whisper_decode: no window encoded yet");
    if (n < 1 || n_past < 0 || n_past > kv->n || (int64_t)n_past + n > hp->n_text_ctx)
        return error_set(SOTTO_EINVAL,
                         "whisper_decode: %d tokens at position %d (cache holds %d, context %d)",
                         n, n_past, kv->n, hp->n_text_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return error_set(SOTTO_EINVAL, "whisper_decode: token %d outside the vocabulary (%d)",
                             tokens[i], hp->n_vocab);

    const int S = hp->n_text_state, H = hp->n_text_head, A = hp->n_audio_ctx;
    const size_t T = (size_t)hp->n_text_ctx, nt = (size_t)st->n_threads;
    const int n_kv = n_past + n;
    float *x = st->x, *h = st->h, *q = st->q, *o = st->o;

    embed(m, tokens, n, n_past, x);
    for (int l = 0; l < hp->n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        const whisper_enc_layer *self = &D->self;
        float *kc = kv->k + (size_t)l * T * S, *vc = kv->v + (size_t)l * T * S;

        /* causal self-attention: this call's K/V join the cache at n_past */
        whisper_ln_rows(h, x, n, S, &self->attn_ln_w, &self->attn_ln_b);
        nn_matmul(&self->attn_q_w, whisper_f32(&self->attn_q_b), h, n, q, (int)nt);
        nn_matmul(&self->attn_k_w, NULL, h, n, kc + (size_t)n_past * S, (int)nt);
        nn_matmul(&self->attn_v_w, whisper_f32(&self->attn_v_b), h, n, vc + (size_t)n_past * S,
                  (int)nt);
        whisper_transpose(st->kt, kc, n_kv, S);
        whisper_attention(st, q, n, st->kt, (size_t)n_kv, vc, n_kv, 1, n_past + 1, H, S, o,
                          NULL, 0);
        nn_matmul(&self->attn_out_w, whisper_f32(&self->attn_out_b), o, n, h, (int)nt);
        nn_add(x, h, (size_t)n * S);

        /* cross-attention over the window (K/V computed once by whisper_encode) */
        whisper_ln_rows(h, x, n, S, &D->cross_ln_w, &D->cross_ln_b);
        nn_matmul(&D->cross_q_w, whisper_f32(&D->cross_q_b), h, n, q, (int)nt);
        whisper_attention(st, q, n, st->cross_k + (size_t)l * S * A, (size_t)A,
                          st->cross_v + (size_t)l * A * S, A, 0, 0, H, S, o,
                          attn ? attn + (size_t)l * H * A : NULL, (size_t)hp->n_text_layer * H);
        nn_matmul(&D->cross_out_w, whisper_f32(&D->cross_out_b), o, n, h, (int)nt);
        nn_add(x, h, (size_t)n * S);

        /* MLP */
        whisper_ln_rows(h, x, n, S, &self->mlp_ln_w, &self->mlp_ln_b);
        nn_matmul(&self->mlp0_w, whisper_f32(&self->mlp0_b), h, n, st->f, (int)nt);
        nn_gelu(st->f, (size_t)n * 4 * S);
        nn_matmul(&self->mlp2_w, whisper_f32(&self->mlp2_b), st->f, n, h, (int)nt);
        nn_add(x, h, (size_t)n * S);
    }
    kv->n = n_kv;

    /* final norm and output projection, for the last token only */
    float *last = x + (size_t)(n - 1) * S;
    whisper_ln_rows(h, last, 1, S, &m->dec_ln_w, &m->dec_ln_b);
    nn_matmul(&m->dec_tok_emb, NULL, h, 1, logits, (int)nt);
    return 0;
}
