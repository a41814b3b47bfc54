/*
 * model.c - loads and validates a ggml Whisper model file (whisper.cpp's format, see
 * docs/whisper-ggml-format.md) into a whisper_model.
 *
 * The file is memory-mapped read-only; quantized and f16 weights stay in the map
 * (unaligned: read them as bytes). Every NN_F32 tensor (biases, layer norms, positional
 * embeddings, f32 weights) and the mel filters are copied into one 64-byte aligned arena,
 * so `(const float *)t.data` is valid for every tensor whose type is NN_F32.
 * Every count, length, shape and offset is checked against the hparams and the file size
 * (64-bit arithmetic) before anything is read; a bad file is a one-line SOTTO_EFORMAT
 * error naming the problem. Does not compute anything (see encoder.c, decoder.c).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <errno.h>

#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"
#include "base/sha256.h"

#define GGML_MAGIC 0x67676d6cu
#define MAX_TOKEN_LEN 1024
#define ARENA_ALIGN 64

/* ---- the tensors a model must hold ------------------------------------------------ */

enum shape_kind { K_S, K_4S, K_SS, K_S4S, K_4SS, K_POS_ENC, K_POS_DEC, K_CONV1, K_CONV2, K_CONVB, K_TOK };
enum type_rule { T_F32, T_CONV, T_MAT };

typedef struct slot_def {
    const char *name;
    size_t offset; /* of the nn_tensor in whisper_model, or in whisper_dec_layer */
    unsigned char shape, rule;
} slot_def;

#define TOP(name, field, shape, rule) {name, offsetof(whisper_model, field), shape, rule}
static const slot_def top_defs[] = {
    TOP("encoder.positional_embedding", enc_pos, K_POS_ENC, T_F32),
    TOP("encoder.conv1.weight", enc_conv1_w, K_CONV1, T_CONV),
    TOP("encoder.conv1.bias", enc_conv1_b, K_CONVB, T_F32),
    TOP("encoder.conv2.weight", enc_conv2_w, K_CONV2, T_CONV),
    TOP("encoder.conv2.bias", enc_conv2_b, K_CONVB, T_F32),
    TOP("encoder.ln_post.weight", enc_ln_post_w, K_S, T_F32),
    TOP("encoder.ln_post.bias", enc_ln_post_b, K_S, T_F32),
    TOP("decoder.positional_embedding", dec_pos, K_POS_DEC, T_F32),
    TOP("decoder.token_embedding.weight", dec_tok_emb, K_TOK, T_MAT),
    TOP("decoder.ln.weight", dec_ln_w, K_S, T_F32),
    TOP("decoder.ln.bias", dec_ln_b, K_S, T_F32),
};
#define N_TOP ((int)(sizeof top_defs / sizeof top_defs[0]))

/* The first N_ENC_SLOTS entries are an encoder block (whisper_dec_layer starts with one). */
#define LAY(name, field, shape, rule) {name, offsetof(whisper_dec_layer, field), shape, rule}
static const slot_def layer_defs[] = {
    LAY("attn_ln.weight", self.attn_ln_w, K_S, T_F32),
    LAY("attn_ln.bias", self.attn_ln_b, K_S, T_F32),
    LAY("attn.query.weight", self.attn_q_w, K_SS, T_MAT),
    LAY("attn.query.bias", self.attn_q_b, K_S, T_F32),
    LAY("attn.key.weight", self.attn_k_w, K_SS, T_MAT),
    LAY("attn.value.weight", self.attn_v_w, K_SS, T_MAT),
    LAY("attn.value.bias", self.attn_v_b, K_S, T_F32),
    LAY("attn.out.weight", self.attn_out_w, K_SS, T_MAT),
    LAY("attn.out.bias", self.attn_out_b, K_S, T_F32),
    LAY("mlp_ln.weight", self.mlp_ln_w, K_S, T_F32),
    LAY("mlp_ln.bias", self.mlp_ln_b, K_S, T_F32),
    LAY("mlp.0.weight", self.mlp0_w, K_S4S, T_MAT),
    LAY("mlp.0.bias", self.mlp0_b, K_4S, T_F32),
    LAY("mlp.2.weight", self.mlp2_w, K_4SS, T_MAT),
    LAY("mlp.2.bias", self.mlp2_b, K_S, T_F32),
    LAY("cross_attn_ln.weight", cross_ln_w, K_S, T_F32),
    LAY("cross_attn_ln.bias", cross_ln_b, K_S, T_F32),
    LAY("cross_attn.query.weight", cross_q_w, K_SS, T_MAT),
    LAY("cross_attn.query.bias", cross_q_b, K_S, T_F32),
    LAY("cross_attn.key.weight", cross_k_w, K_SS, T_MAT),
    LAY("cross_attn.value.weight", cross_v_w, K_SS, T_MAT),
    LAY("cross_attn.value.bias", cross_v_b, K_S, T_F32),
    LAY("cross_attn.out.weight", cross_out_w, K_SS, T_MAT),
    LAY("cross_attn.out.bias", cross_out_b, K_S, T_F32),
};
#define N_ENC_SLOTS 15
#define N_DEC_SLOTS ((int)(sizeof layer_defs / sizeof layer_defs[0]))

static int n_slots(const whisper_hparams *hp)
{
    return N_TOP + N_ENC_SLOTS * hp->n_audio_layer + N_DEC_SLOTS * hp->n_text_layer;
}

/* Slot index -> its definition, its layer (-1 for top level) and whether it is the decoder's. */
static const slot_def *slot_info(const whisper_hparams *hp, int slot, int *layer, int *is_dec)
{
    *layer = -1;
    *is_dec = 0;
    if (slot < N_TOP)
        return &top_defs[slot];
    slot -= N_TOP;
    if (slot < N_ENC_SLOTS * hp->n_audio_layer) {
        *layer = slot / N_ENC_SLOTS;
        return &layer_defs[slot % N_ENC_SLOTS];
    }
    slot -= N_ENC_SLOTS * hp->n_audio_layer;
    *layer = slot / N_DEC_SLOTS;
    *is_dec = 1;
    return &layer_defs[slot % N_DEC_SLOTS];
}

static void slot_name(const whisper_hparams *hp, int slot, char *buf, size_t n)
{
    int layer, is_dec;
    const slot_def *d = slot_info(hp, slot, &layer, &is_dec);
    if (layer < 0)
        snprintf(buf, n, "%s", d->name);
    else
        snprintf(buf, n, "%s.blocks.%d.%s", is_dec ? "decoder" : "encoder", layer, d->name);
}

static nn_tensor *slot_tensor(whisper_model *m, int slot)
{
    int layer, is_dec;
    const slot_def *d = slot_info(&m->hp, slot, &layer, &is_dec);
    if (layer < 0)
        return (nn_tensor *)((char *)m + d->offset);
    if (is_dec)
        return (nn_tensor *)((char *)&m->dec[layer] + d->offset);
    return (nn_tensor *)((char *)&m->enc[layer] + d->offset);
}

/* Name -> slot; -1 when the name is not a tensor of this model. */
static int slot_find(const whisper_hparams *hp, const char *name)
{
    for (int i = 0; i < N_TOP; i++)
        if (strcmp(name, top_defs[i].name) == 0)
            return i;
    int is_dec = strncmp(name, "decoder.blocks.", 15) == 0;
    if (!is_dec && strncmp(name, "encoder.blocks.", 15) != 0)
        return -1;
    const char *p = name + 15;
    int layer = 0, digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 3) {
        layer = layer * 10 + (*p++ - '0');
        digits++;
    }
    if (digits == 0 || *p != '.' || (digits > 1 && name[15] == '0'))
        return -1;
    p++;
    int n_layer = is_dec ? hp->n_text_layer : hp->n_audio_layer;
    int n_defs = is_dec ? N_DEC_SLOTS : N_ENC_SLOTS;
    if (layer >= n_layer)
        return -1;
    for (int i = 0; i < n_defs; i++) {
        if (strcmp(p, layer_defs[i].name) == 0) {
            if (is_dec)
                return N_TOP + N_ENC_SLOTS * hp->n_audio_layer + layer * N_DEC_SLOTS + i;
            return N_TOP + layer * N_ENC_SLOTS + i;
        }
    }
    return -1;
}

static int expected_shape(const whisper_hparams *hp, int kind, int64_t ne[4])
{
    int64_t S = hp->n_audio_state;
    ne[0] = ne[1] = ne[2] = ne[3] = 1;
    switch (kind) {
    case K_S: ne[0] = S; return 1;
    case K_4S: ne[0] = 4 * S; return 1;
    case K_SS: ne[0] = S; ne[1] = S; return 2;
    case K_S4S: ne[0] = S; ne[1] = 4 * S; return 2;
    case K_4SS: ne[0] = 4 * S; ne[1] = S; return 2;
    case K_POS_ENC: ne[0] = S; ne[1] = hp->n_audio_ctx; return 2;
    case K_POS_DEC: ne[0] = S; ne[1] = hp->n_text_ctx; return 2;
    case K_CONV1: ne[0] = 3; ne[1] = hp->n_mels; ne[2] = S; return 3;
    case K_CONV2: ne[0] = 3; ne[1] = S; ne[2] = S; return 3;
    case K_CONVB: ne[0] = 1; ne[1] = S; return 2;
    default: ne[0] = S; ne[1] = hp->n_vocab; return 2; /* K_TOK */
    }
}

static void shape_str(const int64_t *ne, int n_dims, char *buf, size_t n)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < n_dims && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)ne[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

int whisper_tensor_count(const whisper_hparams *hp)
{
    return n_slots(hp);
}

void whisper_tensor_spec(const whisper_hparams *hp, int i, char *name, size_t cap, int64_t ne[4],
                         int *n_dims, whisper_tensor_kind *kind)
{
    int layer, is_dec;
    const slot_def *d = slot_info(hp, i, &layer, &is_dec);
    slot_name(hp, i, name, cap);
    *n_dims = expected_shape(hp, d->shape, ne);
    *kind = d->rule == T_F32 ? WHISPER_TENSOR_F32 : d->rule == T_CONV ? WHISPER_TENSOR_CONV : WHISPER_TENSOR_MATRIX;
}

/* ---- parsing ---------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    uint64_t size, off;
} reader;

static int need(reader *r, uint64_t n, const char *what)
{
    if (n > r->size - r->off)
        return error_set(SOTTO_EFORMAT, "model file truncated: %s needs %llu bytes at offset %llu, file has %llu",
                         what, (unsigned long long)n, (unsigned long long)r->off,
                         (unsigned long long)r->size);
    return 0;
}

static int rd_i32(reader *r, const char *what, int32_t *v)
{
    int rc = need(r, 4, what);
    if (rc)
        return rc;
    const uint8_t *p = r->p + r->off;
    *v = (int32_t)((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24));
    r->off += 4;
    return 0;
}

typedef struct rec {
    int slot;
    nn_type type;
    int n_dims;
    int64_t ne[4];
    uint64_t data_off, nbytes;
} rec;

/* Printable copy of an untrusted name for messages; returns 0 if any byte was not. */
static int printable(const uint8_t *s, size_t n, char *buf, size_t cap)
{
    size_t j = 0;
    int clean = 1;
    for (size_t i = 0; i < n && j + 1 < cap; i++) {
        int ok = s[i] >= 0x20 && s[i] < 0x7f;
        clean &= ok;
        buf[j++] = ok ? (char)s[i] : '?';
    }
    buf[j] = 0;
    return clean;
}

static int type_allowed(int rule, nn_type t, nn_type wtype, int64_t ne0)
{
    switch (rule) {
    case T_F32: return t == NN_F32;
    case T_CONV: return t == NN_F16 || t == NN_F32;
    default:
        /* a quantizer leaves a matrix in f16 when its rows are not whole blocks */
        return t == wtype || (t == NN_F16 && nn_row_bytes(wtype, ne0) == 0);
    }
}

/* One tensor record: header, name, checks against the hparams, data bounds. */
static int read_tensor(reader *r, const whisper_hparams *hp, nn_type wtype, const uint8_t *seen, rec *out)
{
    uint64_t rec_off = r->off;
    int32_t n_dims, name_len, type;
    int rc;
    if ((rc = rd_i32(r, "tensor header", &n_dims)) || (rc = rd_i32(r, "tensor header", &name_len)) ||
        (rc = rd_i32(r, "tensor header", &type)))
        return rc;
    if (n_dims < 1 || n_dims > 4)
        return error_set(SOTTO_EFORMAT, "tensor record at offset %llu has n_dims %d (expected 1..4)",
                         (unsigned long long)rec_off, (int)n_dims);
    if (name_len < 1 || name_len > 255)
        return error_set(SOTTO_EFORMAT, "tensor record at offset %llu has name length %d (expected 1..255)",
                         (unsigned long long)rec_off, (int)name_len);
    int64_t ne[4] = {1, 1, 1, 1};
    for (int i = 0; i < n_dims; i++) {
        int32_t v;
        if ((rc = rd_i32(r, "tensor shape", &v)))
            return rc;
        if (v < 1)
            return error_set(SOTTO_EFORMAT, "tensor record at offset %llu has ne[%d] = %d (expected >= 1)",
                             (unsigned long long)rec_off, i, (int)v);
        ne[i] = v;
    }
    if ((rc = need(r, (uint64_t)name_len, "tensor name")))
        return rc;
    const uint8_t *raw = r->p + r->off;
    r->off += (uint64_t)name_len;
    char name[256];
    int slot = printable(raw, (size_t)name_len, name, sizeof name) ? slot_find(hp, name) : -1;
    if (slot < 0)
        return error_set(SOTTO_EFORMAT, "unknown tensor '%s'", name);
    if (seen[slot])
        return error_set(SOTTO_EFORMAT, "duplicate tensor '%s'", name);
    if (!nn_type_valid(type))
        return error_set(SOTTO_EFORMAT, "tensor '%s' has unknown type id %d", name, (int)type);

    int lay, is_dec;
    const slot_def *d = slot_info(hp, slot, &lay, &is_dec);
    int64_t want[4];
    int want_dims = expected_shape(hp, d->shape, want);
    int ok = memcmp(ne, want, sizeof ne) == 0;
    if (!ok && d->shape == K_CONVB) /* a plain [S] bias holds the same numbers */
        ok = ne[0] == hp->n_audio_state && ne[1] == 1 && ne[2] == 1 && ne[3] == 1;
    if (!ok) {
        char got_s[80], want_s[80];
        shape_str(ne, n_dims, got_s, sizeof got_s);
        shape_str(want, want_dims, want_s, sizeof want_s);
        return error_set(SOTTO_EFORMAT, "tensor '%s' has shape %s, expected %s", name, got_s, want_s);
    }
    if (!type_allowed(d->rule, (nn_type)type, wtype, ne[0]))
        return error_set(SOTTO_EFORMAT, "tensor '%s' has type %s, expected %s", name,
                         nn_type_name((nn_type)type),
                         d->rule == T_F32 ? "f32" : d->rule == T_CONV ? "f16 or f32" : nn_type_name(wtype));
    size_t row = nn_row_bytes((nn_type)type, ne[0]);
    if (row == 0)
        return error_set(SOTTO_EFORMAT, "tensor '%s' of type %s has rows of %lld weights, not a multiple of %lld",
                         name, nn_type_name((nn_type)type), (long long)ne[0],
                         (long long)nn_type_block_len((nn_type)type));
    uint64_t nbytes = row;
    for (int i = 1; i < 4; i++)
        if (__builtin_mul_overflow(nbytes, (uint64_t)ne[i], &nbytes))
            return error_set(SOTTO_EFORMAT, "tensor '%s' is impossibly large", name);
    if (nbytes > r->size - r->off)
        return error_set(SOTTO_EFORMAT, "model file truncated: tensor '%s' needs %llu bytes at offset %llu, file has %llu",
                         name, (unsigned long long)nbytes, (unsigned long long)r->off, (unsigned long long)r->size);
    out->slot = slot;
    out->type = (nn_type)type;
    out->n_dims = n_dims;
    memcpy(out->ne, ne, sizeof ne);
    out->data_off = r->off;
    out->nbytes = nbytes;
    r->off += nbytes;
    return 0;
}

static uint64_t align_up(uint64_t v)
{
    return (v + ARENA_ALIGN - 1) & ~(uint64_t)(ARENA_ALIGN - 1);
}

/* Parse and validate data[0..size) into m (whose map fields the caller set). */
static int parse(whisper_model *m, const uint8_t *data, uint64_t size)
{
    reader r = {data, size, 0};
    whisper_hparams *hp = &m->hp;
    int32_t magic, v;
    int rc;
    if (size < 4)
        return error_set(SOTTO_EFORMAT, "not a ggml Whisper model (file has only %llu bytes)", (unsigned long long)size);
    rd_i32(&r, "magic", &magic);
    if ((uint32_t)magic != GGML_MAGIC)
        return error_set(SOTTO_EFORMAT, "not a ggml Whisper model (bad magic 0x%08x)", (unsigned)magic);
    int32_t *fields = &hp->n_vocab;
    for (int i = 0; i < 11; i++)
        if ((rc = rd_i32(&r, "hparams", &fields[i])))
            return rc;
    if ((rc = whisper_hparams_validate(hp, &m->wtype)))
        return rc;
    whisper_special_init(hp->n_vocab, &m->special);
    m->size_name = whisper_size_name(hp);

    /* mel filters */
    int32_t n_mel, n_fft;
    if ((rc = rd_i32(&r, "mel filter header", &n_mel)) || (rc = rd_i32(&r, "mel filter header", &n_fft)))
        return rc;
    if (n_mel != hp->n_mels)
        return error_set(SOTTO_EFORMAT, "mel filters have n_mel = %d, model has n_mels = %d", (int)n_mel, (int)hp->n_mels);
    if (n_fft != 201)
        return error_set(SOTTO_EFORMAT, "mel filters have n_fft = %d (expected 201)", (int)n_fft);
    uint64_t mel_bytes = (uint64_t)n_mel * 201 * 4, mel_off = r.off;
    if ((rc = need(&r, mel_bytes, "mel filters")))
        return rc;
    r.off += mel_bytes;

    /* vocabulary: pointers into the file */
    int32_t count;
    if ((rc = rd_i32(&r, "vocabulary size", &count)))
        return rc;
    if (count < 0 || count > hp->n_vocab)
        return error_set(SOTTO_EFORMAT, "vocabulary has %d tokens (expected 0..%d)", (int)count, (int)hp->n_vocab);
    m->n_vocab_file = count;
    m->vocab = calloc((size_t)count + 1, sizeof *m->vocab);
    m->vocab_len = calloc((size_t)count + 1, sizeof *m->vocab_len);
    if (!m->vocab || !m->vocab_len)
        return error_set(SOTTO_ENOMEM, "out of memory for the vocabulary");
    for (int32_t i = 0; i < count; i++) {
        if ((rc = rd_i32(&r, "token length", &v)))
            return rc;
        if ((uint32_t)v > MAX_TOKEN_LEN)
            return error_set(SOTTO_EFORMAT, "token %d has length %u (max %d)", (int)i, (unsigned)v, MAX_TOKEN_LEN);
        if ((rc = need(&r, (uint32_t)v, "token")))
            return rc;
        ((const uint8_t **)m->vocab)[i] = data + r.off;
        ((uint32_t *)m->vocab_len)[i] = (uint32_t)v;
        r.off += (uint32_t)v;
    }

    /* tensor records */
    int ns = n_slots(hp);
    rec *recs = calloc((size_t)ns, sizeof *recs);
    uint8_t *seen = calloc((size_t)ns, 1);
    m->enc = calloc((size_t)hp->n_audio_layer, sizeof *m->enc);
    m->dec = calloc((size_t)hp->n_text_layer, sizeof *m->dec);
    m->tensors = calloc((size_t)ns, sizeof *m->tensors);
    if (!recs || !seen || !m->enc || !m->dec || !m->tensors) {
        free(recs);
        free(seen);
        return error_set(SOTTO_ENOMEM, "out of memory for %d tensors", ns);
    }
    int n_rec = 0;
    rc = 0;
    while (r.off < r.size && rc == 0) {
        rc = read_tensor(&r, hp, m->wtype, seen, &recs[n_rec]);
        if (rc == 0)
            seen[recs[n_rec++].slot] = 1;
    }
    for (int s = 0; s < ns && rc == 0; s++) {
        if (!seen[s]) {
            char name[128];
            slot_name(hp, s, name, sizeof name);
            rc = error_set(SOTTO_EFORMAT, "missing tensor '%s'", name);
        }
    }
    free(seen);

    /* arena: mel filters, f32 tensors (aligned), then names */
    uint64_t arena_size = align_up(mel_bytes);
    for (int i = 0; i < n_rec && rc == 0; i++) {
        if (recs[i].type == NN_F32)
            arena_size += align_up(recs[i].nbytes);
        arena_size += 128;
    }
    if (rc == 0 && (arena_size > SIZE_MAX || !(m->arena = aligned_alloc(ARENA_ALIGN, (size_t)align_up(arena_size)))))
        rc = error_set(SOTTO_ENOMEM, "out of memory for %llu bytes of model tables", (unsigned long long)arena_size);
    if (rc) {
        free(recs);
        return rc;
    }
    uint8_t *a = m->arena;
    memcpy(a, data + mel_off, mel_bytes);
    m->mel_filters = (const float *)a;
    a += align_up(mel_bytes);
    for (int i = 0; i < n_rec; i++) {
        nn_tensor *t = slot_tensor(m, recs[i].slot);
        t->type = recs[i].type;
        t->n_dims = recs[i].n_dims;
        memcpy(t->ne, recs[i].ne, sizeof t->ne);
        t->nbytes = (size_t)recs[i].nbytes;
        if (t->type == NN_F32) {
            memcpy(a, data + recs[i].data_off, t->nbytes);
            t->data = a;
            a += align_up(t->nbytes);
        } else {
            t->data = data + recs[i].data_off;
        }
        slot_name(hp, recs[i].slot, (char *)a, 128);
        t->name = (const char *)a;
        a += 128;
        m->tensors[i] = *t;
    }
    m->n_tensors = n_rec;
    free(recs);
    return whisper_align_heads_init(m);
}

static int load_common(whisper_model *m, const void *data, size_t size, whisper_model **out)
{
    int rc = parse(m, data, size);
    if (rc) {
        whisper_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int whisper_model_load_memory(const void *data, size_t size, whisper_model **out)
{
    SOTTO_ASSERT(out && (data || size == 0));
    *out = NULL;
    whisper_model *m = calloc(1, sizeof *m);
    if (!m)
        return error_set(SOTTO_ENOMEM, "out of memory for a model");
    return load_common(m, data, size, out);
}

int whisper_model_load(const char *path, whisper_model **out)
{
    SOTTO_ASSERT(path && out);
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(errno == ENOENT ? SOTTO_ENOENT : errno == EACCES ? SOTTO_EACCES : SOTTO_EIO,
                         "cannot open model '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return error_set(SOTTO_EIO, "model '%s' is not a regular file", path);
    }
    if (st.st_size < 4) {
        close(fd);
        return error_set(SOTTO_EFORMAT, "not a ggml Whisper model: '%s' has only %lld bytes", path,
                         (long long)st.st_size);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return error_set(SOTTO_ENOMEM, "model '%s' is too large to map", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED)
        return error_set(SOTTO_EIO, "cannot map model '%s': %s", path, strerror(err));
    whisper_model *m = calloc(1, sizeof *m);
    if (!m) {
        munmap(map, (size_t)st.st_size);
        return error_set(SOTTO_ENOMEM, "out of memory for a model");
    }
    m->map = map;
    m->map_size = (size_t)st.st_size;
    snprintf(m->path, sizeof m->path, "%s", path);
    int rc = load_common(m, map, (size_t)st.st_size, out);
    if (rc == 0)
        sha256_hex(map, (size_t)st.st_size, m->sha256);
    return rc;
}

void whisper_model_free(whisper_model *m)
{
    if (!m)
        return;
    if (m->map)
        munmap(m->map, m->map_size);
    free((void *)m->vocab);
    free((void *)m->vocab_len);
    free(m->enc);
    free(m->dec);
    free(m->tensors);
    free(m->align_heads);
    free(m->arena);
    free(m);
}
