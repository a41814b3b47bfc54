/*
 * hparams.c - what a model's dimensions imply: validation of the hparams, special token
 * ids from n_vocab, the size name, and the alignment heads used for word timestamps
 * (the published lists per size, else every head of the upper half of the decoder).
 * Split from model.c, which parses files; nothing here reads bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"

/* Limits that keep every later size computation far from overflow. */
#define MAX_LAYERS 64
#define MAX_STATE 8192
#define MAX_HEADS 128
#define MAX_TEXT_CTX 4096

/* ---- hparams, special tokens, sizes, alignment heads ------------------------------- */

void whisper_special_init(int32_t n_vocab, whisper_special *sp)
{
    int multi = n_vocab >= 51865;
    int n_langs = n_vocab - 51765 - multi; /* 99 (or 100 for large-v3) language slots */
    memset(sp, 0, sizeof *sp);
    sp->multilingual = multi;
    sp->eot = 50256 + multi;
    sp->sot = sp->eot + 1;
    sp->first_lang = sp->sot + 1;
    sp->translate = sp->sot + 1 + n_langs;
    sp->transcribe = sp->translate + 1;
    sp->startoflm = sp->translate + 2;
    sp->startofprev = sp->translate + 3;
    sp->nospeech = sp->translate + 4;
    sp->notimestamps = sp->translate + 5;
    sp->timestamp_begin = sp->translate + 6;
    sp->n_langs = multi ? n_langs : 0;
}

static int ftype_to_type(int32_t ftype, nn_type *t)
{
    switch (ftype) {
    case 0: *t = NN_F32; return 1;
    case 1: *t = NN_F16; return 1;
    case 2: *t = NN_Q4_0; return 1;
    case 3: *t = NN_Q4_1; return 1;
    case 7: *t = NN_Q8_0; return 1;
    case 8: *t = NN_Q5_0; return 1;
    case 9: *t = NN_Q5_1; return 1;
    default: return 0;
    }
}

#define HP_RANGE(field, lo, hi)                                                            \
    if (hp->field < (lo) || hp->field > (hi))                                              \
    return error_set(SOTTO_EFORMAT, "model hparam " #field " = %d is out of range [%d, %d]", \
                     (int)hp->field, (int)(lo), (int)(hi))

int whisper_hparams_validate(const whisper_hparams *hp, nn_type *wtype)
{
    if (hp->n_vocab < 51864 || hp->n_vocab > 51866)
        return error_set(SOTTO_EFORMAT, "model hparam n_vocab = %d (expected 51864, 51865 or 51866)",
                         (int)hp->n_vocab);
    if (hp->n_audio_ctx != 1500)
        return error_set(SOTTO_EFORMAT, "model hparam n_audio_ctx = %d (expected 1500: 30 s of 20 ms frames)",
                         (int)hp->n_audio_ctx);
    HP_RANGE(n_audio_state, 1, MAX_STATE);
    HP_RANGE(n_audio_head, 1, MAX_HEADS);
    HP_RANGE(n_audio_layer, 1, MAX_LAYERS);
    HP_RANGE(n_text_ctx, 1, MAX_TEXT_CTX);
    HP_RANGE(n_text_state, 1, MAX_STATE);
    HP_RANGE(n_text_head, 1, MAX_HEADS);
    HP_RANGE(n_text_layer, 1, MAX_LAYERS);
    if (hp->n_text_state != hp->n_audio_state)
        return error_set(SOTTO_EFORMAT, "model n_text_state = %d differs from n_audio_state = %d",
                         (int)hp->n_text_state, (int)hp->n_audio_state);
    if (hp->n_audio_state % hp->n_audio_head || hp->n_text_state % hp->n_text_head)
        return error_set(SOTTO_EFORMAT, "model state %d is not divisible by the head count (%d audio, %d text)",
                         (int)hp->n_audio_state, (int)hp->n_audio_head, (int)hp->n_text_head);
    if (hp->n_mels != 80 && hp->n_mels != 128)
        return error_set(SOTTO_EFORMAT, "model hparam n_mels = %d (expected 80 or 128)", (int)hp->n_mels);
    if (hp->ftype < 0)
        return error_set(SOTTO_EFORMAT, "model ftype %d is invalid", (int)hp->ftype);
    int qntvr = hp->ftype / 1000, ft = hp->ftype % 1000;
    if (!ftype_to_type(ft, wtype))
        return error_set(SOTTO_ENOTSUP, "model ftype %d (weight type id %d) is not supported "
                         "(f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0 are)", (int)hp->ftype, ft);
    if (*wtype != NN_F32 && *wtype != NN_F16 && qntvr != 2)
        return error_set(SOTTO_ENOTSUP, "model quantization version %d is not supported (only 2; "
                         "re-quantize the model with a current whisper.cpp)", qntvr);
    if (qntvr > 2)
        return error_set(SOTTO_EFORMAT, "model ftype %d has unknown quantization version %d",
                         (int)hp->ftype, qntvr);
    return 0;
}

const char *whisper_size_name(const whisper_hparams *hp)
{
    static const struct { const char *name; int layers, state, heads; } sizes[] = {
        {"tiny", 4, 384, 6}, {"base", 6, 512, 8}, {"small", 12, 768, 12},
        {"medium", 24, 1024, 16}, {"large", 32, 1280, 20},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (hp->n_audio_layer == sizes[i].layers && hp->n_audio_state == sizes[i].state &&
            hp->n_audio_head == sizes[i].heads && hp->n_text_head == sizes[i].heads)
            return sizes[i].name;
    return "custom";
}

/* openai/whisper's _ALIGNMENT_HEADS (as whisper.cpp lists them), as (layer, head) pairs. */
static const signed char heads_tiny_en[] = {1, 0, 2, 0, 2, 5, 3, 0, 3, 1, 3, 2, 3, 3, 3, 4, -1};
static const signed char heads_tiny[] = {2, 2, 3, 0, 3, 2, 3, 3, 3, 4, 3, 5, -1};
static const signed char heads_base_en[] = {3, 3, 4, 7, 5, 1, 5, 5, 5, 7, -1};
static const signed char heads_base[] = {3, 1, 4, 2, 4, 3, 4, 7, 5, 1, 5, 2, 5, 4, 5, 6, -1};
static const signed char heads_small_en[] = {6, 6, 7, 0, 7, 3, 7, 8, 8, 2, 8, 5, 8, 7, 9, 0, 9, 4, 9, 8,
                                             9, 10, 10, 0, 10, 1, 10, 2, 10, 3, 10, 6, 10, 11, 11, 2, 11, 4, -1};
static const signed char heads_small[] = {5, 3, 5, 9, 8, 0, 8, 4, 8, 7, 8, 8, 9, 0, 9, 7, 9, 9, 10, 5, -1};
static const signed char heads_medium_en[] = {11, 4, 14, 1, 14, 12, 14, 14, 15, 4, 16, 0, 16, 4, 16, 9, 17, 12,
                                              17, 14, 18, 7, 18, 10, 18, 15, 20, 0, 20, 3, 20, 9, 20, 14, 21, 12, -1};
static const signed char heads_medium[] = {13, 15, 15, 4, 15, 15, 16, 1, 20, 0, 23, 4, -1};
/* large-v1 and v2 have identical dims; v2 is the one in use, so an 80-mel large gets v2's. */
static const signed char heads_large_v2[] = {10, 12, 13, 17, 16, 11, 16, 12, 16, 13, 17, 15, 17, 16, 18, 4,
                                             18, 11, 18, 19, 19, 11, 21, 2, 21, 3, 22, 3, 22, 9, 22, 12,
                                             23, 5, 23, 7, 23, 13, 25, 5, 26, 1, 26, 12, 27, 15, -1};
static const signed char heads_large_v3[] = {7, 0, 10, 17, 12, 18, 13, 12, 16, 1, 17, 14, 19, 11, 21, 4, 24, 1, 25, 6, -1};
static const signed char heads_large_v3_turbo[] = {2, 4, 2, 11, 3, 3, 3, 6, 3, 11, 3, 14, -1};

static const signed char *published_heads(const whisper_model *m)
{
    const whisper_hparams *hp = &m->hp;
    int en = hp->n_vocab == 51864;
    const char *s = m->size_name;
    if (strcmp(s, "large") == 0) {
        if (hp->n_text_layer == 4 && hp->n_vocab == 51866)
            return heads_large_v3_turbo;
        if (hp->n_text_layer != 32)
            return NULL;
        return hp->n_vocab == 51866 ? heads_large_v3 : heads_large_v2;
    }
    if (hp->n_text_layer != hp->n_audio_layer)
        return NULL;
    if (strcmp(s, "tiny") == 0)
        return en ? heads_tiny_en : heads_tiny;
    if (strcmp(s, "base") == 0)
        return en ? heads_base_en : heads_base;
    if (strcmp(s, "small") == 0)
        return en ? heads_small_en : heads_small;
    if (strcmp(s, "medium") == 0)
        return en ? heads_medium_en : heads_medium;
    return NULL;
}

int whisper_align_heads_init(whisper_model *m)
{
    const signed char *list = published_heads(m);
    int n = 0, L = m->hp.n_text_layer, H = m->hp.n_text_head;
    if (list) {
        while (list[2 * n] >= 0)
            n++;
    } else {
        n = (L - L / 2) * H; /* every head of the upper half of the decoder layers */
    }
    m->align_heads = malloc((size_t)n * sizeof *m->align_heads);
    if (!m->align_heads)
        return error_set(SOTTO_ENOMEM, "out of memory for alignment heads");
    for (int i = 0; i < n; i++) {
        m->align_heads[i][0] = list ? list[2 * i] : L / 2 + i / H;
        m->align_heads[i][1] = list ? list[2 * i + 1] : i % H;
    }
    m->n_align_heads = n;
    return 0;
}

