/*
 * api.c - the public model-file tooling of include/sotto/whisper.h, as thin wrappers
 * over the loader and writer (model.c, model_write.c).
 */
#include <string.h>
#include <sys/stat.h>

#include "base/base_int.h"
#include "sotto/whisper.h"
#include "whisper_int.h"

static void dims_from_hparams(const whisper_hparams *hp, sotto_whisper_dims *d)
{
    *d = (sotto_whisper_dims){
        .n_vocab = hp->n_vocab, .n_audio_ctx = hp->n_audio_ctx, .n_audio_state = hp->n_audio_state,
        .n_audio_head = hp->n_audio_head, .n_audio_layer = hp->n_audio_layer,
        .n_text_ctx = hp->n_text_ctx, .n_text_state = hp->n_text_state,
        .n_text_head = hp->n_text_head, .n_text_layer = hp->n_text_layer, .n_mels = hp->n_mels,
    };
}

int sotto_whisper_dims_preset(const char *name, int english_only, sotto_whisper_dims *out)
{
    whisper_hparams hp;
    int rc = whisper_hparams_preset(name, english_only, &hp);
    if (rc == 0)
        dims_from_hparams(&hp, out);
    return rc;
}

static int parse_type(const char *type, nn_type *t)
{
    if (!type || nn_type_from_name(type, t) != 0)
        return error_set(SOTTO_EINVAL, "unknown weight type '%s' (f32, f16, q8_0, q5_0, q5_1, q4_0, q4_1)",
                         type ? type : "");
    return 0;
}

int sotto_whisper_model_new(const sotto_whisper_dims *d, const char *type, uint64_t seed,
                            const char *path)
{
    nn_type t;
    int rc = parse_type(type, &t);
    if (rc)
        return rc;
    whisper_hparams hp = {
        .n_vocab = d->n_vocab, .n_audio_ctx = d->n_audio_ctx, .n_audio_state = d->n_audio_state,
        .n_audio_head = d->n_audio_head, .n_audio_layer = d->n_audio_layer,
        .n_text_ctx = d->n_text_ctx, .n_text_state = d->n_text_state,
        .n_text_head = d->n_text_head, .n_text_layer = d->n_text_layer, .n_mels = d->n_mels,
    };
    return whisper_model_write_random(&hp, t, seed, path);
}

int sotto_whisper_model_quantize(const char *in_path, const char *out_path, const char *type)
{
    nn_type t;
    int rc = parse_type(type, &t);
    return rc ? rc : whisper_model_quantize(in_path, out_path, t);
}

int sotto_whisper_model_info(const char *path, sotto_buf *out)
{
    whisper_model *m = NULL;
    int rc = whisper_model_load(path, &m);
    if (rc)
        return rc;
    const whisper_hparams *hp = &m->hp;
    /* count parameters and bytes per tensor type */
    int64_t n_params = 0, per_type_count[16] = {0};
    for (int i = 0; i < m->n_tensors; i++) {
        const nn_tensor *t = &m->tensors[i];
        n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
        if ((int)t->type >= 0 && (int)t->type < 16)
            per_type_count[t->type]++;
    }
    struct stat st;
    long long file_size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    rc = sotto_buf_printf(out,
                          "file:        %s\n"
                          "size:        %s%s (%d audio layers, %d text layers, width %d, %d heads)\n"
                          "vocabulary:  %d tokens (%s)\n"
                          "mels:        %d\n"
                          "context:     %d audio frames, %d text tokens\n"
                          "weights:     %s\n"
                          "parameters:  %lld (%.1f M)\n"
                          "file bytes:  %lld (%.1f MB)\n"
                          "sha256:      %s\n"
                          "tensors:     %d:",
                          path, m->size_name, hp->n_vocab == 51864 ? ".en" : "", hp->n_audio_layer,
                          hp->n_text_layer, hp->n_audio_state, hp->n_audio_head, hp->n_vocab,
                          m->special.multilingual ? "multilingual" : "English only", hp->n_mels,
                          hp->n_audio_ctx, hp->n_text_ctx, nn_type_name(m->wtype),
                          (long long)n_params, (double)n_params / 1e6, file_size,
                          (double)file_size / 1e6, m->sha256, m->n_tensors);
    for (int t = 0; !rc && t < 16; t++) {
        if (per_type_count[t])
            rc = sotto_buf_printf(out, " %lld %s", (long long)per_type_count[t],
                                  nn_type_name((nn_type)t));
    }
    if (!rc)
        rc = sotto_buf_putc(out, '\n');
    whisper_model_free(m);
    return rc;
}
