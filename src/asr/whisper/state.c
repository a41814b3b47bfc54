/*
 * state.c - the run state of the Whisper forward pass: whisper_state (encoder output,
 * cross-attention K/V of the current window, and the scratch both halves compute in) and
 * whisper_kv (one token sequence's self-attention cache).
 *
 * Everything is allocated here, at creation, sized for the largest call (a 3000-frame
 * window, n_text_ctx tokens), so encoding and decoding never allocate. It also checks
 * the model facts the forward pass relies on (shapes it indexes by hand, aligned f32
 * small tensors) so encoder.c / decoder.c can trust them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/forward_int.h"
#include "base/base_int.h"

/* One f32 tensor of n floats that the forward pass reads through a float pointer. */
static int check_f32(const nn_tensor *t, int64_t n)
{
    int64_t have = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (t->type != NN_F32 || have != n || !t->data || ((uintptr_t)t->data % sizeof(float)) != 0)
        return error_set(SOTTO_EFORMAT, "whisper: tensor '%s' is not an aligned f32 of %lld values",
                         t->name ? t->name : "?", (long long)n);
    return 0;
}

static int check_block(const whisper_enc_layer *L, int64_t S)
{
    const nn_tensor *vec[] = {&L->attn_ln_w, &L->attn_ln_b, &L->attn_q_b, &L->attn_v_b,
                              &L->attn_out_b, &L->mlp_ln_w, &L->mlp_ln_b, &L->mlp2_b};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        int rc = check_f32(vec[i], S);
        if (rc < 0)
            return rc;
    }
    return check_f32(&L->mlp0_b, 4 * S);
}

/* Facts encoder.c and decoder.c index by hand; the loader has checked names and shapes
 * against the hparams already, this guards the assumptions of this code. */
static int check_model(const whisper_model *m)
{
    const whisper_hparams *hp = &m->hp;
    if (hp->n_audio_ctx * 2 != WHISPER_N_FRAMES)
        return error_set(SOTTO_ENOTSUP, "whisper: n_audio_ctx %d is not %d (30 s windows)",
                         hp->n_audio_ctx, WHISPER_N_FRAMES / 2);
    if (hp->n_audio_state != hp->n_text_state || hp->n_audio_head <= 0 || hp->n_text_head <= 0 ||
        hp->n_audio_state % hp->n_audio_head != 0 || hp->n_text_state % hp->n_text_head != 0)
        return error_set(SOTTO_EFORMAT, "whisper: state %d / heads %d, %d do not divide",
                         hp->n_audio_state, hp->n_audio_head, hp->n_text_head);
    if (hp->n_text_ctx <= 0 || hp->n_vocab <= 0 || hp->n_mels <= 0)
        return error_set(SOTTO_EFORMAT, "whisper: bad text context, vocabulary or mel count");
    const int64_t S = hp->n_audio_state;
    int rc;
    if ((rc = check_f32(&m->enc_pos, S * hp->n_audio_ctx)) < 0 ||
        (rc = check_f32(&m->enc_conv1_b, S)) < 0 || (rc = check_f32(&m->enc_conv2_b, S)) < 0 ||
        (rc = check_f32(&m->enc_ln_post_w, S)) < 0 || (rc = check_f32(&m->enc_ln_post_b, S)) < 0 ||
        (rc = check_f32(&m->dec_pos, S * hp->n_text_ctx)) < 0 ||
        (rc = check_f32(&m->dec_ln_w, S)) < 0 || (rc = check_f32(&m->dec_ln_b, S)) < 0)
        return rc;
    for (int l = 0; l < hp->n_audio_layer; l++)
        if ((rc = check_block(&m->enc[l], S)) < 0)
            return rc;
    for (int l = 0; l < hp->n_text_layer; l++) {
        const whisper_dec_layer *D = &m->dec[l];
        if ((rc = check_block(&D->self, S)) < 0 || (rc = check_f32(&D->cross_ln_w, S)) < 0 ||
            (rc = check_f32(&D->cross_ln_b, S)) < 0 || (rc = check_f32(&D->cross_q_b, S)) < 0 ||
            (rc = check_f32(&D->cross_v_b, S)) < 0 || (rc = check_f32(&D->cross_out_b, S)) < 0)
            return rc;
    }
    if (m->dec_tok_emb.ne[0] != S || m->dec_tok_emb.ne[1] != hp->n_vocab ||
        nn_row_bytes(m->dec_tok_emb.type, S) == 0)
        return error_set(SOTTO_EFORMAT, "whisper: token embedding is not [%lld, %d]",
                         (long long)S, hp->n_vocab);
    return 0;
}

static float *falloc(size_t n, int *failed)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p)
        *failed = 1;
    return p;
}

static size_t cross_elem_bytes(nn_type t)
{
    return t == NN_F16 ? sizeof(uint16_t) : sizeof(float);
}

int whisper_state_new(const whisper_model *m, int n_threads, whisper_state **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "whisper_state_new: no output pointer");
    *out = NULL;
    if (!m)
        return error_set(SOTTO_EINVAL, "whisper_state_new: no model");
    int rc = check_model(m);
    if (rc < 0)
        return rc;
    const whisper_hparams *hp = &m->hp;
    whisper_state *st = calloc(1, sizeof *st);
    if (!st)
        return error_set(SOTTO_ENOMEM, "whisper_state_new: out of memory");
    st->m = m;
    st->n_threads = n_threads < 1 ? 1 : n_threads > WHISPER_MAX_THREADS ? WHISPER_MAX_THREADS
                                                                         : n_threads;
    const size_t S = (size_t)hp->n_audio_state, A = (size_t)hp->n_audio_ctx;
    const size_t T = (size_t)hp->n_text_ctx, L = (size_t)hp->n_text_layer;
    const size_t F = WHISPER_N_FRAMES, C = (size_t)hp->n_mels;
    const size_t R = A > T ? A : T;
    const size_t f_rows = R > F / 4 ? R : F / 4; /* conv1's (F, S) output fits in (F/4, 4S) */
    const size_t cols = F * 3 * C > A * 3 * S ? F * 3 * C : A * 3 * S;
    int failed = 0;
    st->enc_out = falloc(A * S, &failed);
    st->cross_type = m->wtype == NN_F32 ? NN_F32 : NN_F16;
    st->cross_k = calloc(L * A * S, cross_elem_bytes(st->cross_type));
    st->cross_v = calloc(L * A * S, cross_elem_bytes(st->cross_type));
    if (!st->cross_k || !st->cross_v)
        failed = 1;
    st->x = falloc(R * S, &failed);
    st->h = falloc(R * S, &failed);
    st->q = falloc(R * S, &failed);
    st->k = falloc(R * S, &failed);
    st->v = falloc(R * S, &failed);
    st->o = falloc(R * S, &failed);
    st->qh = falloc(S * R, &failed);
    st->kh = falloc(S * R, &failed);
    st->vth = falloc(S * R, &failed);
    st->f = falloc(f_rows * 4 * S, &failed);
    st->cols = falloc(cols, &failed);
    st->max_kv = (int)R;
    st->scratch_floats = (size_t)WHISPER_ATTN_TILE * (R + S);
    st->scratch = falloc((size_t)st->n_threads * st->scratch_floats, &failed);
    st->row_kv = calloc(R, sizeof *st->row_kv);
    st->row_pos = calloc(R, sizeof *st->row_pos);
    if (!st->row_kv || !st->row_pos)
        failed = 1;
    if (failed) {
        whisper_state_free(st);
        return error_set(SOTTO_ENOMEM, "whisper_state_new: out of memory for run buffers");
    }
    *out = st;
    return 0;
}

int whisper_state_set_cross_type(whisper_state *st, nn_type t)
{
    if (!st || (t != NN_F32 && t != NN_F16))
        return error_set(SOTTO_EINVAL, "whisper_state_set_cross_type: no state, or not f32/f16");
    const whisper_hparams *hp = &st->m->hp;
    size_t n = (size_t)hp->n_text_layer * (size_t)hp->n_audio_ctx * (size_t)hp->n_audio_state;
    void *k = calloc(n, cross_elem_bytes(t)), *v = calloc(n, cross_elem_bytes(t));
    if (!k || !v) {
        free(k);
        free(v);
        return error_set(SOTTO_ENOMEM, "whisper_state_set_cross_type: out of memory");
    }
    free(st->cross_k);
    free(st->cross_v);
    st->cross_k = k;
    st->cross_v = v;
    st->cross_type = t;
    st->encoded = 0;
    return 0;
}

void whisper_state_free(whisper_state *st)
{
    if (!st)
        return;
    free(st->enc_out);
    free(st->cross_k);
    free(st->cross_v);
    free(st->x);
    free(st->h);
    free(st->q);
    free(st->k);
    free(st->v);
    free(st->o);
    free(st->qh);
    free(st->kh);
    free(st->vth);
    free(st->f);
    free(st->cols);
    free(st->scratch);
    free(st->row_kv);
    free(st->row_pos);
    free(st);
}

int whisper_kv_new(const whisper_model *m, whisper_kv **out)
{
    if (!out)
        return error_set(SOTTO_EINVAL, "whisper_kv_new: no output pointer");
    *out = NULL;
    if (!m)
        return error_set(SOTTO_EINVAL, "whisper_kv_new: no model");
    whisper_kv *kv = calloc(1, sizeof *kv);
    if (!kv)
        return error_set(SOTTO_ENOMEM, "whisper_kv_new: out of memory");
    size_t n = (size_t)m->hp.n_text_layer * (size_t)m->hp.n_text_ctx * (size_t)m->hp.n_text_state;
    int failed = 0;
    kv->m = m;
    kv->k = falloc(n, &failed);
    kv->v = falloc(n, &failed);
    if (failed) {
        whisper_kv_free(kv);
        return error_set(SOTTO_ENOMEM, "whisper_kv_new: out of memory for the cache");
    }
    *out = kv;
    return 0;
}

void whisper_kv_free(whisper_kv *kv)
{
    if (!kv)
        return;
    free(kv->k);
    free(kv->v);
    free(kv);
}

/* Copy the valid positions only: beams fork often, and most of the cache is unused. */
void whisper_kv_copy(whisper_kv *dst, const whisper_kv *src)
{
    SOTTO_ASSERT(dst && src && dst->m == src->m);
    const whisper_hparams *hp = &src->m->hp;
    const size_t S = (size_t)hp->n_text_state, T = (size_t)hp->n_text_ctx;
    for (int l = 0; l < hp->n_text_layer; l++) {
        size_t off = (size_t)l * T * S, len = (size_t)src->n * S * sizeof(float);
        memcpy(dst->k + off, src->k + off, len);
        memcpy(dst->v + off, src->v + off, len);
    }
    dst->n = src->n;
}
