/*
 * test_whisper_model.c - the ggml Whisper loader, writer and quantizer: random models of
 * every weight type load; the tiny preset has the real file size; every kind of
 * malformed file fails with its one-line message; quantized copies stay close.
 */
#include <stdint.h>
#include <sys/stat.h>

#include "asr/whisper/whisper_int.h"
#include "base/sha256.h"
#include "check.h"
#include "sotto/error.h"

/* Small dims for speed, real vocabulary and contexts; 3 decoder layers (not 2: see spec). */
static whisper_hparams small_hp(void)
{
    whisper_hparams hp = {.n_vocab = 51865, .n_audio_ctx = 1500, .n_audio_state = 64, .n_audio_head = 2,
                          .n_audio_layer = 2, .n_text_ctx = 448, .n_text_state = 64, .n_text_head = 2,
                          .n_text_layer = 3, .n_mels = 80, .ftype = 1};
    return hp;
}

static char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, 512, "%s/%s", check_tmpdir(), name);
    return p;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    /* the caller frees */
    FILE *f = fopen(path, "rb");
    ASSERT_TRUE(f != NULL);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len);
    ASSERT_TRUE(fread(d, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return d;
}

static void check_model(const whisper_model *m, const whisper_hparams *hp, nn_type wtype)
{
    ASSERT_EQ(m->hp.n_vocab, hp->n_vocab);
    ASSERT_EQ(m->hp.n_text_layer, hp->n_text_layer);
    ASSERT_EQ(m->wtype, wtype);
    ASSERT_EQ(m->n_tensors, whisper_tensor_count(hp));
    ASSERT_EQ(m->n_vocab_file, m->special.eot);
    ASSERT_STR_EQ(m->size_name, "custom");
    ASSERT_EQ(m->dec_tok_emb.type, wtype);
    ASSERT_EQ(m->dec_tok_emb.ne[1], hp->n_vocab);
    ASSERT_EQ(m->dec[2].cross_out_w.type, wtype);
    ASSERT_EQ(m->enc[1].mlp0_w.ne[1], 4 * hp->n_audio_state);
    ASSERT_EQ(m->enc_conv1_w.type, wtype == NN_F32 ? NN_F32 : NN_F16);
    ASSERT_STR_EQ(m->dec[2].cross_q_b.name, "decoder.blocks.2.cross_attn.query.bias");
    /* f32 tensors are aligned float arrays */
    ASSERT_EQ((uintptr_t)m->enc_pos.data % 64, 0);
    ASSERT_EQ((uintptr_t)m->dec[1].self.mlp2_b.data % 64, 0);
    ASSERT_EQ((uintptr_t)m->mel_filters % 64, 0);
    const float *ln = m->enc[0].attn_ln_w.data;
    ASSERT_NEAR(ln[0], 1.0, 0.2);
    /* sinusoid positions: row 0 is sin(0)=0 then cos(0)=1 */
    const float *pos = m->enc_pos.data;
    ASSERT_NEAR(pos[0], 0.0, 1e-7);
    ASSERT_NEAR(pos[hp->n_audio_state / 2], 1.0, 1e-7);
    /* mel filters: each a non-negative triangle with a positive peak */
    for (int i = 0; i < hp->n_mels; i++) {
        float peak = 0;
        for (int j = 0; j < 201; j++) {
            ASSERT_TRUE(m->mel_filters[i * 201 + j] >= 0);
            if (m->mel_filters[i * 201 + j] > peak)
                peak = m->mel_filters[i * 201 + j];
        }
        ASSERT_TRUE(peak > 0);
    }
    /* upper half of 3 decoder layers: layers 1 and 2, both heads */
    ASSERT_EQ(m->n_align_heads, 4);
    ASSERT_EQ(m->align_heads[0][0], 1);
    ASSERT_EQ(m->align_heads[3][0], 2);
    ASSERT_EQ(m->align_heads[3][1], 1);
    /* vocabulary: byte tokens in GPT-2 order, " " present, learned merges */
    ASSERT_EQ(m->vocab_len[0], 1);
    ASSERT_EQ(m->vocab[0][0], '!');
    ASSERT_EQ(m->vocab[188][0], 0);
    ASSERT_EQ(m->vocab[220][0], ' ');
    int found_the = 0;
    for (int i = 256; i < 5000 && i < m->n_vocab_file; i++)
        if (m->vocab_len[i] == 4 && memcmp(m->vocab[i], " the", 4) == 0)
            found_the = 1;
    ASSERT_TRUE(found_the);
    ASSERT_EQ(strlen(m->sha256), 64);
}

TEST(write_load_every_type)
{
    const nn_type types[] = {NN_F32, NN_F16, NN_Q8_0, NN_Q5_0, NN_Q5_1, NN_Q4_0, NN_Q4_1};
    whisper_hparams hp = small_hp();
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char *path = tmp_path(nn_type_name(types[i]));
        ASSERT_OK(whisper_model_write_random(&hp, types[i], 42, path));
        whisper_model *m = NULL;
        ASSERT_OK(whisper_model_load(path, &m));
        check_model(m, &hp, types[i]);
        whisper_model_free(m);
        remove(path);
    }
}

TEST(write_is_deterministic)
{
    whisper_hparams hp = small_hp();
    hp.n_vocab = 51864;
    char *a = tmp_path("a.bin"), *b = tmp_path("b.bin"), *c = tmp_path("c.bin");
    ASSERT_OK(whisper_model_write_random(&hp, NN_Q8_0, 7, a));
    ASSERT_OK(whisper_model_write_random(&hp, NN_Q8_0, 7, b));
    ASSERT_OK(whisper_model_write_random(&hp, NN_Q8_0, 8, c));
    whisper_model *ma, *mb, *mc;
    ASSERT_OK(whisper_model_load(a, &ma));
    ASSERT_OK(whisper_model_load(b, &mb));
    ASSERT_OK(whisper_model_load(c, &mc));
    ASSERT_STR_EQ(ma->sha256, mb->sha256);
    ASSERT_TRUE(strcmp(ma->sha256, mc->sha256) != 0);
    ASSERT_EQ(ma->n_vocab_file, 50256);
    ASSERT_EQ(ma->special.eot, 50256);
    ASSERT_EQ(ma->special.n_langs, 0);
    whisper_model_free(ma);
    whisper_model_free(mb);
    whisper_model_free(mc);
}

TEST(special_tokens)
{
    whisper_special sp;
    whisper_special_init(51864, &sp);
    ASSERT_EQ(sp.eot, 50256);
    ASSERT_EQ(sp.sot, 50257);
    ASSERT_EQ(sp.translate, 50357);
    ASSERT_EQ(sp.transcribe, 50358);
    ASSERT_EQ(sp.startoflm, 50359);
    ASSERT_EQ(sp.startofprev, 50360);
    ASSERT_EQ(sp.nospeech, 50361);
    ASSERT_EQ(sp.notimestamps, 50362);
    ASSERT_EQ(sp.timestamp_begin, 50363);
    ASSERT_EQ(sp.multilingual, 0);
    ASSERT_EQ(sp.n_langs, 0);
    whisper_special_init(51865, &sp);
    ASSERT_EQ(sp.eot, 50257);
    ASSERT_EQ(sp.sot, 50258);
    ASSERT_EQ(sp.first_lang, 50259);
    ASSERT_EQ(sp.translate, 50358);
    ASSERT_EQ(sp.transcribe, 50359);
    ASSERT_EQ(sp.nospeech, 50362);
    ASSERT_EQ(sp.notimestamps, 50363);
    ASSERT_EQ(sp.timestamp_begin, 50364);
    ASSERT_EQ(sp.n_langs, 99);
    ASSERT_EQ(sp.multilingual, 1);
    whisper_special_init(51866, &sp);
    ASSERT_EQ(sp.eot, 50257);
    ASSERT_EQ(sp.translate, 50359);
    ASSERT_EQ(sp.startofprev, 50362);
    ASSERT_EQ(sp.timestamp_begin, 50365);
    ASSERT_EQ(sp.n_langs, 100);
    ASSERT_EQ(sp.timestamp_begin + 1500, 51866 - 1); /* the last timestamp is the last id */
}

TEST(presets)
{
    whisper_hparams hp;
    ASSERT_OK(whisper_hparams_preset("tiny", 1, &hp));
    ASSERT_EQ(hp.n_vocab, 51864);
    ASSERT_EQ(hp.n_audio_state, 384);
    ASSERT_EQ(hp.n_text_layer, 4);
    ASSERT_OK(whisper_hparams_preset("base", 0, &hp));
    ASSERT_EQ(hp.n_vocab, 51865);
    ASSERT_EQ(hp.n_audio_head, 8);
    ASSERT_OK(whisper_hparams_preset("small", 0, &hp));
    ASSERT_EQ(hp.n_audio_layer, 12);
    ASSERT_OK(whisper_hparams_preset("medium", 1, &hp));
    ASSERT_EQ(hp.n_text_head, 16);
    ASSERT_OK(whisper_hparams_preset("large-v3", 0, &hp));
    ASSERT_EQ(hp.n_vocab, 51866);
    ASSERT_EQ(hp.n_mels, 128);
    ASSERT_EQ(hp.n_audio_state, 1280);
    ASSERT_EQ(whisper_hparams_preset("large-v3", 1, &hp), SOTTO_EINVAL);
    ASSERT_EQ(whisper_hparams_preset("huge", 0, &hp), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "huge");
}

/* The tiny preset written as f16 has exactly the bytes the format implies (~75 MB). */
TEST(tiny_preset_file)
{
    whisper_hparams hp;
    ASSERT_OK(whisper_hparams_preset("tiny", 1, &hp));
    char *path = tmp_path("tiny.en.bin");
    ASSERT_OK(whisper_model_write_random(&hp, NN_F16, 1, path));
    whisper_model *m;
    ASSERT_OK(whisper_model_load(path, &m));
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    uint64_t expect = 4 + 44 + 8 + 80 * 201 * 4 + 4;
    for (int i = 0; i < m->n_vocab_file; i++)
        expect += 4 + m->vocab_len[i];
    uint64_t n_params = 0;
    for (int i = 0; i < whisper_tensor_count(&hp); i++) {
        char name[128];
        int64_t ne[4];
        int n_dims;
        whisper_tensor_kind kind;
        whisper_tensor_spec(&hp, i, name, sizeof name, ne, &n_dims, &kind);
        uint64_t n = (uint64_t)(ne[0] * ne[1] * ne[2] * ne[3]);
        n_params += n;
        expect += 12 + 4 * (uint64_t)n_dims + strlen(name) + n * (kind == WHISPER_TENSOR_F32 ? 4 : 2);
    }
    printf("tiny.en f16: %lld bytes, %llu parameters\n", (long long)st.st_size, (unsigned long long)n_params);
    ASSERT_EQ((uint64_t)st.st_size, expect);
    ASSERT_TRUE(n_params > 37000000 && n_params < 38000000); /* tiny has 37.8M */
    ASSERT_TRUE(st.st_size > 74000000 && st.st_size < 78000000);
    ASSERT_STR_EQ(m->size_name, "tiny");
    /* published alignment heads of tiny.en */
    ASSERT_EQ(m->n_align_heads, 8);
    ASSERT_EQ(m->align_heads[0][0], 1);
    ASSERT_EQ(m->align_heads[0][1], 0);
    ASSERT_EQ(m->align_heads[7][0], 3);
    ASSERT_EQ(m->align_heads[7][1], 4);
    whisper_model_free(m);
    remove(path);
}

TEST(quantize_f16_to_q8_0)
{
    whisper_hparams hp = small_hp();
    char *src = tmp_path("f16.bin"), *dst = tmp_path("q8.bin");
    ASSERT_OK(whisper_model_write_random(&hp, NN_F16, 3, src));
    ASSERT_OK(whisper_model_quantize(src, dst, NN_Q8_0));
    whisper_model *a, *b;
    ASSERT_OK(whisper_model_load(src, &a));
    ASSERT_OK(whisper_model_load(dst, &b));
    ASSERT_EQ(b->wtype, NN_Q8_0);
    ASSERT_EQ(b->hp.ftype, 2007);
    ASSERT_EQ(b->n_tensors, a->n_tensors);
    ASSERT_EQ(b->n_vocab_file, a->n_vocab_file);
    ASSERT_EQ(memcmp(a->mel_filters, b->mel_filters, 80 * 201 * 4), 0);
    ASSERT_EQ(b->enc_conv2_w.type, NN_F16);
    ASSERT_EQ(memcmp(a->enc_conv2_w.data, b->enc_conv2_w.data, a->enc_conv2_w.nbytes), 0);
    ASSERT_EQ(memcmp(a->dec_pos.data, b->dec_pos.data, a->dec_pos.nbytes), 0);
    for (int i = 0; i < a->n_vocab_file; i += 997)
        ASSERT_TRUE(a->vocab_len[i] == b->vocab_len[i] && memcmp(a->vocab[i], b->vocab[i], a->vocab_len[i]) == 0);
    const nn_tensor *pairs[][2] = {{&a->dec_tok_emb, &b->dec_tok_emb},
                                   {&a->enc[1].mlp2_w, &b->enc[1].mlp2_w},
                                   {&a->dec[2].cross_k_w, &b->dec[2].cross_k_w}};
    for (int p = 0; p < 3; p++) {
        const nn_tensor *ta = pairs[p][0], *tb = pairs[p][1];
        ASSERT_EQ(tb->type, NN_Q8_0);
        int64_t k = ta->ne[0], rows = ta->ne[1];
        float *ra = malloc(sizeof(float) * (size_t)k), *rb = malloc(sizeof(float) * (size_t)k);
        double err = 0, ref = 0;
        for (int64_t r = 0; r < rows; r += 7) {
            nn_dequantize_row(ta->type, (const uint8_t *)ta->data + (size_t)r * nn_row_bytes(ta->type, k), ra, k);
            nn_dequantize_row(tb->type, (const uint8_t *)tb->data + (size_t)r * nn_row_bytes(tb->type, k), rb, k);
            for (int64_t i = 0; i < k; i++) {
                err += (double)(ra[i] - rb[i]) * (ra[i] - rb[i]);
                ref += (double)ra[i] * ra[i];
            }
        }
        ASSERT_TRUE(sqrt(err / ref) < 0.01);
        free(ra);
        free(rb);
    }
    whisper_model_free(a);
    whisper_model_free(b);
    /* quantizing to a type whose blocks do not divide the rows leaves them f16 */
    hp.n_audio_state = hp.n_text_state = 48;
    ASSERT_OK(whisper_model_write_random(&hp, NN_F32, 3, src));
    ASSERT_OK(whisper_model_quantize(src, dst, NN_Q4_0));
    ASSERT_OK(whisper_model_load(dst, &b));
    ASSERT_EQ(b->wtype, NN_Q4_0);
    ASSERT_EQ(b->dec[0].self.attn_q_w.type, NN_F16);
    ASSERT_EQ(b->enc_conv1_w.type, NN_F32);
    whisper_model_free(b);
}

TEST(load_missing_file)
{
    whisper_model *m = (whisper_model *)1;
    ASSERT_EQ(whisper_model_load("/nonexistent/ggml-tiny.bin", &m), SOTTO_ENOENT);
    ASSERT_TRUE(m == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "/nonexistent/ggml-tiny.bin");
    whisper_model_free(NULL);
}

/* ---- malformed files ------------------------------------------------------------- */

static uint8_t *base_file;
static size_t base_size;

/* A valid small model in memory (f16, 3 decoder layers), written once per process. */
static void base_init(void)
{
    if (base_file)
        return;
    whisper_hparams hp = small_hp();
    char *path = tmp_path("base.bin");
    ASSERT_OK(whisper_model_write_random(&hp, NN_F16, 5, path));
    base_file = slurp(path, &base_size);
    remove(path);
}

static uint32_t get32(const uint8_t *d, size_t off)
{
    return (uint32_t)d[off] | ((uint32_t)d[off + 1] << 8) | ((uint32_t)d[off + 2] << 16) |
           ((uint32_t)d[off + 3] << 24);
}

static void put32(uint8_t *d, size_t off, uint32_t v)
{
    d[off] = (uint8_t)v;
    d[off + 1] = (uint8_t)(v >> 8);
    d[off + 2] = (uint8_t)(v >> 16);
    d[off + 3] = (uint8_t)(v >> 24);
}

static size_t vocab_off(void)
{
    return 56 + 80 * 201 * 4; /* header, mel header, mel data */
}

static size_t tensors_off(void)
{
    size_t off = vocab_off();
    uint32_t n = get32(base_file, off);
    off += 4;
    for (uint32_t i = 0; i < n; i++)
        off += 4 + get32(base_file, off);
    return off;
}

/* Offset of the record of tensor `name` (or of the end of the file if NULL); *rec_size its size. */
static size_t find_record(const char *name, size_t *rec_size)
{
    size_t off = tensors_off();
    while (off < base_size) {
        int n_dims = (int)get32(base_file, off), name_len = (int)get32(base_file, off + 4);
        int type = (int)get32(base_file, off + 8);
        int64_t ne[4] = {1, 1, 1, 1};
        for (int i = 0; i < n_dims; i++)
            ne[i] = get32(base_file, off + 12 + 4 * (size_t)i);
        size_t name_at = off + 12 + 4 * (size_t)n_dims;
        size_t size = 12 + 4 * (size_t)n_dims + (size_t)name_len +
                      nn_row_bytes((nn_type)type, ne[0]) * (size_t)(ne[1] * ne[2] * ne[3]);
        if (name && (size_t)name_len == strlen(name) && memcmp(base_file + name_at, name, (size_t)name_len) == 0) {
            *rec_size = size;
            return off;
        }
        off += size;
    }
    ASSERT_TRUE(name == NULL);
    return off;
}

/* Load data (copied so ASan sees overreads past size) and expect code + message. */
static void expect_fail(const uint8_t *data, size_t size, int code, const char *msg)
{
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    whisper_model *m = NULL;
    int rc = whisper_model_load_memory(copy, size, &m);
    if (rc != code)
        CHECK_FAIL("expected %d (\"%s\"), got %d: %s", code, msg, rc, rc ? sotto_last_error() : "loaded");
    ASSERT_TRUE(m == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), msg);
    free(copy);
}

/* A patched copy of the base file: 32-bit value v at off. */
static void expect_patched(size_t off, uint32_t v, int code, const char *msg)
{
    uint8_t *d = malloc(base_size);
    memcpy(d, base_file, base_size);
    put32(d, off, v);
    expect_fail(d, base_size, code, msg);
    free(d);
}

TEST(malformed_header)
{
    base_init();
    whisper_model *m;
    ASSERT_OK(whisper_model_load_memory(base_file, base_size, &m));
    whisper_model_free(m);
    expect_patched(0, 0x46464952, SOTTO_EFORMAT, "not a ggml Whisper model (bad magic 0x46464952)");
    expect_fail(base_file, 2, SOTTO_EFORMAT, "not a ggml Whisper model");
    expect_fail(base_file, 0, SOTTO_EFORMAT, "not a ggml Whisper model");
    expect_patched(4, 50000, SOTTO_EFORMAT, "n_vocab = 50000");
    expect_patched(8, 3000, SOTTO_EFORMAT, "n_audio_ctx = 3000");
    expect_patched(12, 0, SOTTO_EFORMAT, "n_audio_state = 0");
    expect_patched(16, 0xffffffff, SOTTO_EFORMAT, "n_audio_head = -1");
    expect_patched(16, 3, SOTTO_EFORMAT, "not divisible");
    expect_patched(20, 1000000, SOTTO_EFORMAT, "n_audio_layer = 1000000");
    expect_patched(36, 0, SOTTO_EFORMAT, "n_text_layer = 0");
    expect_patched(28, 128, SOTTO_EFORMAT, "n_text_state = 128 differs from n_audio_state = 64");
    expect_patched(40, 64, SOTTO_EFORMAT, "n_mels = 64");
    expect_patched(44, 5, SOTTO_ENOTSUP, "ftype 5");
    expect_patched(44, 12, SOTTO_ENOTSUP, "ftype 12");
    expect_patched(44, 0xffffffff, SOTTO_EFORMAT, "ftype -1 is invalid");
    expect_patched(44, 1008, SOTTO_ENOTSUP, "quantization version 1");
    expect_patched(44, 3001, SOTTO_EFORMAT, "quantization version 3");
    expect_patched(48, 128, SOTTO_EFORMAT, "mel filters have n_mel = 128, model has n_mels = 80");
    expect_patched(52, 200, SOTTO_EFORMAT, "n_fft = 200 (expected 201)");
    /* an f16 file claiming to be q8_0: its matrices have the wrong type */
    expect_patched(44, 2007, SOTTO_EFORMAT, "has type f16, expected q8_0");
}

TEST(malformed_vocab)
{
    base_init();
    size_t v = vocab_off();
    expect_patched(v, 60000, SOTTO_EFORMAT, "vocabulary has 60000 tokens (expected 0..51865)");
    expect_patched(v, 0xffffffff, SOTTO_EFORMAT, "vocabulary has -1 tokens");
    expect_patched(v + 4, 0xffffffff, SOTTO_EFORMAT, "token 0 has length 4294967295 (max 1024)");
    expect_patched(v + 4, 1025, SOTTO_EFORMAT, "token 0 has length 1025");
    /* a plausible length that runs the token list into the tensors (and past the end) */
    expect_patched(v + 4, 1000, SOTTO_EFORMAT, "");
}

TEST(malformed_truncated)
{
    base_init();
    char msg[200];
    expect_fail(base_file, 20, SOTTO_EFORMAT, "model file truncated: hparams needs 4 bytes at offset 20, file has 20");
    expect_fail(base_file, 50, SOTTO_EFORMAT, "model file truncated: mel filter header");
    expect_fail(base_file, 1000, SOTTO_EFORMAT, "model file truncated: mel filters needs 64320 bytes at offset 56, file has 1000");
    expect_fail(base_file, vocab_off() + 2, SOTTO_EFORMAT, "model file truncated: vocabulary size");
    expect_fail(base_file, vocab_off() + 100, SOTTO_EFORMAT, "model file truncated: token");
    size_t t0 = tensors_off();
    expect_fail(base_file, t0 + 6, SOTTO_EFORMAT, "model file truncated: tensor header");
    expect_fail(base_file, t0 + 14, SOTTO_EFORMAT, "model file truncated: tensor shape");
    expect_fail(base_file, t0 + 25, SOTTO_EFORMAT, "model file truncated: tensor name");
    size_t data_at = t0 + 20 + strlen("encoder.positional_embedding");
    snprintf(msg, sizeof msg, "model file truncated: tensor 'encoder.positional_embedding' needs %d bytes at offset %zu, file has %zu",
             64 * 1500 * 4, data_at, data_at + 100);
    expect_fail(base_file, data_at + 100, SOTTO_EFORMAT, msg);
    /* a file that ends cleanly between records misses the rest */
    size_t rec;
    size_t off = find_record("encoder.conv1.weight", &rec);
    expect_fail(base_file, off, SOTTO_EFORMAT, "missing tensor 'encoder.conv1.weight'");
    off = find_record("decoder.blocks.2.cross_attn.out.bias", &rec);
    ASSERT_EQ(off + rec, base_size); /* the writer's last tensor */
    expect_fail(base_file, off, SOTTO_EFORMAT, "missing tensor 'decoder.blocks.2.cross_attn.out.bias'");
    expect_fail(base_file, base_size - 1, SOTTO_EFORMAT, "model file truncated: tensor 'decoder.blocks.2.cross_attn.out.bias'");
}

TEST(malformed_records)
{
    base_init();
    size_t t0 = tensors_off();
    /* lying record headers */
    expect_patched(t0, 0, SOTTO_EFORMAT, "has n_dims 0 (expected 1..4)");
    expect_patched(t0, 5, SOTTO_EFORMAT, "has n_dims 5");
    expect_patched(t0, 0x80000000u, SOTTO_EFORMAT, "has n_dims -2147483648");
    expect_patched(t0 + 4, 0, SOTTO_EFORMAT, "name length 0 (expected 1..255)");
    expect_patched(t0 + 4, 256, SOTTO_EFORMAT, "name length 256");
    expect_patched(t0 + 4, 0xfffffff0u, SOTTO_EFORMAT, "name length -16");
    expect_patched(t0 + 4, 27, SOTTO_EFORMAT, "unknown tensor 'encoder.positional_embeddin'");
    expect_patched(t0 + 8, 4, SOTTO_EFORMAT, "tensor 'encoder.positional_embedding' has unknown type id 4");
    expect_patched(t0 + 8, 1, SOTTO_EFORMAT, "tensor 'encoder.positional_embedding' has type f16, expected f32");
    expect_patched(t0 + 12, 0, SOTTO_EFORMAT, "has ne[0] = 0 (expected >= 1)");
    expect_patched(t0 + 16, 0xffffffffu, SOTTO_EFORMAT, "has ne[1] = -1");
    expect_patched(t0 + 16, 1499, SOTTO_EFORMAT,
                   "tensor 'encoder.positional_embedding' has shape [64, 1499], expected [64, 1500]");
    expect_patched(t0 + 16, 0x7fffffff, SOTTO_EFORMAT, "has shape [64, 2147483647], expected [64, 1500]");
    /* n_dims 3 shifts the name by 4 bytes: the shape then reads the name's first bytes */
    expect_patched(t0, 3, SOTTO_EFORMAT, "");
    /* a wrong shape deep in the file */
    size_t rec;
    size_t off = find_record("decoder.blocks.1.attn.key.weight", &rec);
    expect_patched(off + 16, 256, SOTTO_EFORMAT,
                   "tensor 'decoder.blocks.1.attn.key.weight' has shape [64, 256], expected [64, 64]");
    expect_patched(off + 8, 8, SOTTO_EFORMAT, "tensor 'decoder.blocks.1.attn.key.weight' has type q8_0, expected f16");
    off = find_record("encoder.conv1.bias", &rec);
    expect_patched(off + 8, 1, SOTTO_EFORMAT, "tensor 'encoder.conv1.bias' has type f16, expected f32");
    /* names: unknown, beyond the layer count, with odd bytes */
    uint8_t *d = malloc(base_size + rec);
    memcpy(d, base_file, base_size);
    d[t0 + 20] = 'E';
    expect_fail(d, base_size, SOTTO_EFORMAT, "unknown tensor 'Encoder.positional_embedding'");
    d[t0 + 20] = 0x01;
    expect_fail(d, base_size, SOTTO_EFORMAT, "unknown tensor '?ncoder.positional_embedding'");
    memcpy(d, base_file, base_size);
    off = find_record("decoder.blocks.2.attn.query.weight", &rec);
    d[off + 20 + 15] = '3'; /* decoder.blocks.3: the model has 3 decoder layers */
    expect_fail(d, base_size, SOTTO_EFORMAT, "unknown tensor 'decoder.blocks.3.attn.query.weight'");
    /* duplicate: the first record again at the end */
    memcpy(d, base_file, base_size);
    off = find_record("encoder.conv1.bias", &rec);
    memcpy(d + base_size, base_file + off, rec);
    expect_fail(d, base_size + rec, SOTTO_EFORMAT, "duplicate tensor 'encoder.conv1.bias'");
    /* trailing garbage after the last record */
    memset(d + base_size, 0, 8);
    expect_fail(d, base_size + 8, SOTTO_EFORMAT, "model file truncated: tensor header");
    free(d);
}

/* Every single-byte truncation point in the header region and around records is an error. */
TEST(malformed_every_prefix)
{
    base_init();
    size_t t0 = tensors_off();
    for (size_t n = 0; n < 200; n++)
        expect_fail(base_file, n, n < 4 ? SOTTO_EFORMAT : SOTTO_EFORMAT, "");
    for (size_t n = t0 - 50; n < t0 + 400; n++)
        expect_fail(base_file, n, SOTTO_EFORMAT, "");
}

/* The model fingerprint is a real SHA-256 (FIPS 180-4 test vectors). */
TEST(sha256_vectors)
{
    char hex[65];
    sha256_hex("", 0, hex);
    ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two, strlen(two), hex);
    ASSERT_STR_EQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha256_ctx c;
    uint8_t d[32], a[1001];
    memset(a, 'a', sizeof a);
    sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        sha256_update(&c, a, i % 2 ? 999 : 1001); /* uneven pieces: 10^6 bytes in all */
    sha256_final(&c, d);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    ASSERT_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
