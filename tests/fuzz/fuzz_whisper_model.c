/*
 * fuzz_whisper_model.c - libFuzzer target for the ggml Whisper model loader.
 *
 * Two input forms, so the fuzzer reaches deep into the tensor records even though a
 * valid Whisper file is never small (the vocabulary makes the token embedding >= 0.9 MB):
 *  - bytes starting with the ggml magic ("lmgg" on disk) are loaded as a file, as is;
 *  - anything else edits a valid template model generated once per process:
 *    byte 0 is a mode; if its bit 0 is set, the next u32 truncates the template
 *    (mod its size + 1); then each 8 bytes (u32 offset, u32 value) overwrite 4 bytes.
 * A successful load has every tensor's first and last byte and every token read, so
 * the sanitizers check that what the loader accepted really lies inside the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asr/whisper/whisper_int.h"

static uint8_t *template_data;
static size_t template_size;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void template_init(void)
{
    if (template_data)
        return;
    whisper_hparams hp = {.n_vocab = 51864, .n_audio_ctx = 1500, .n_audio_state = 32, .n_audio_head = 1,
                          .n_audio_layer = 1, .n_text_ctx = 8, .n_text_state = 32, .n_text_head = 1,
                          .n_text_layer = 1, .n_mels = 80, .ftype = 0};
    char path[] = "/tmp/fuzz_whisper_model_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    close(fd);
    if (whisper_model_write_random(&hp, NN_Q4_0, 1, path) != 0)
        abort();
    FILE *f = fopen(path, "rb");
    if (!f)
        abort();
    fseek(f, 0, SEEK_END);
    template_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    template_data = malloc(template_size);
    if (!template_data || fread(template_data, 1, template_size, f) != template_size)
        abort();
    fclose(f);
    unlink(path);
}

static unsigned touch(const whisper_model *m)
{
    unsigned acc = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const uint8_t *d = m->tensors[i].data;
        acc += d[0] + d[m->tensors[i].nbytes - 1] + (unsigned)strlen(m->tensors[i].name);
    }
    for (int i = 0; i < m->n_vocab_file; i++)
        if (m->vocab_len[i])
            acc += m->vocab[i][0] + m->vocab[i][m->vocab_len[i] - 1];
    acc += (unsigned)(m->mel_filters[0] + m->mel_filters[m->hp.n_mels * 201 - 1] > 0.0f);
    for (int i = 0; i < m->n_align_heads; i++)
        acc += (unsigned)(m->align_heads[i][0] + m->align_heads[i][1]);
    return acc;
}

static void load(const uint8_t *data, size_t size)
{
    whisper_model *m = NULL;
    if (whisper_model_load_memory(data, size, &m) == 0) {
        volatile unsigned sink = touch(m);
        (void)sink;
        whisper_model_free(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "lmgg", 4) == 0) {
        /* exact-size copy so reads past the end are caught */
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        load(copy, size);
        free(copy);
        return 0;
    }
    template_init();
    uint8_t *buf = malloc(template_size);
    if (!buf)
        return 0;
    memcpy(buf, template_data, template_size);
    size_t n = template_size, p = 1;
    if (size >= 5 && (data[0] & 1)) {
        n = rd32(data + 1) % (template_size + 1);
        p = 5;
    }
    for (; n >= 4 && p + 8 <= size; p += 8) {
        size_t off = rd32(data + p) % (n - 3);
        memcpy(buf + off, data + p + 4, 4);
    }
    uint8_t *exact = malloc(n ? n : 1);
    if (exact) {
        memcpy(exact, buf, n);
        load(exact, n);
        free(exact);
    }
    free(buf);
    return 0;
}
