/*
 * model_write.c - writes ggml Whisper files: the published size presets, deterministic
 * random-weight models for tests and benchmarks, and re-quantized copies of a model.
 *
 * A random model is realistic where it matters to the code that reads it: a real Slaney
 * mel filterbank (as librosa.filters.mel for 16 kHz / n_fft 400), Whisper's sinusoidal
 * encoder positions, weights scaled 1/sqrt(fan_in) so activations stay near unit size,
 * and a byte-level BPE vocabulary (GPT-2 byte order, merges learned from a small English
 * text, unique fillers up to the real size) so the tokenizer has something to work on.
 * The files load in whisper.cpp too (full n_vocab, a " " token).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/whisper_int.h"
#include "base/base_int.h"

#define GGML_MAGIC 0x67676d6cu
#define MAX_TOK 64 /* bytes of a learned token; fillers are short too */

/* ---- presets -------------------------------------------------------------------- */

int whisper_hparams_preset(const char *name, int english_only, whisper_hparams *hp)
{
    static const struct { const char *name; int state, heads, a_layers, t_layers, mels, vocab; } p[] = {
        {"tiny", 384, 6, 4, 4, 80, 51865},        {"base", 512, 8, 6, 6, 80, 51865},
        {"small", 768, 12, 12, 12, 80, 51865},    {"medium", 1024, 16, 24, 24, 80, 51865},
        {"large-v1", 1280, 20, 32, 32, 80, 51865}, {"large-v2", 1280, 20, 32, 32, 80, 51865},
        {"large-v3", 1280, 20, 32, 32, 128, 51866}, {"large", 1280, 20, 32, 32, 128, 51866},
        {"large-v3-turbo", 1280, 20, 32, 4, 128, 51866},
    };
    SOTTO_ASSERT(hp);
    for (size_t i = 0; name && i < sizeof p / sizeof p[0]; i++) {
        if (strcmp(name, p[i].name) != 0)
            continue;
        if (english_only && p[i].state == 1280)
            return error_set(SOTTO_EINVAL, "there is no English-only %s model", name);
        *hp = (whisper_hparams){
            .n_vocab = english_only ? 51864 : p[i].vocab, .n_audio_ctx = 1500,
            .n_audio_state = p[i].state, .n_audio_head = p[i].heads, .n_audio_layer = p[i].a_layers,
            .n_text_ctx = 448, .n_text_state = p[i].state, .n_text_head = p[i].heads,
            .n_text_layer = p[i].t_layers, .n_mels = p[i].mels, .ftype = 1,
        };
        return 0;
    }
    return error_set(SOTTO_EINVAL, "unknown Whisper size '%s' (tiny, base, small, medium, large-v3)",
                     name ? name : "");
}

static int32_t ftype_of(nn_type t)
{
    switch (t) {
    case NN_F32: return 0;
    case NN_F16: return 1;
    case NN_Q4_0: return 2 + 2000;
    case NN_Q4_1: return 3 + 2000;
    case NN_Q8_0: return 7 + 2000;
    case NN_Q5_0: return 8 + 2000;
    case NN_Q5_1: return 9 + 2000;
    }
    return -1;
}

/* ---- output --------------------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    const char *path;
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (n)
        fwrite(p, 1, n, w->f); /* errors are sticky; checked once by writer_close */
}

static void put_i32(writer *w, int32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)((uint32_t)v >> 8), (uint8_t)((uint32_t)v >> 16), (uint8_t)((uint32_t)v >> 24)};
    put(w, b, 4);
}

static void put_f32(writer *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_i32(w, (int32_t)u);
}

static int writer_open(writer *w, const char *path)
{
    w->path = path;
    w->f = fopen(path, "wb");
    if (!w->f)
        return error_set(SOTTO_EIO, "cannot create model file '%s'", path);
    setvbuf(w->f, NULL, _IOFBF, 1 << 20);
    return 0;
}

static int writer_close(writer *w, int rc)
{
    int bad = ferror(w->f);
    if (fclose(w->f) != 0)
        bad = 1;
    if (rc == 0 && bad)
        rc = error_set(SOTTO_EIO, "writing model file '%s' failed", w->path);
    if (rc)
        remove(w->path);
    return rc;
}

static void put_header(writer *w, const whisper_hparams *hp)
{
    put_i32(w, (int32_t)GGML_MAGIC);
    const int32_t *fields = &hp->n_vocab;
    for (int i = 0; i < 11; i++)
        put_i32(w, fields[i]);
}

static void put_tensor_header(writer *w, const char *name, int n_dims, const int64_t *ne, nn_type t)
{
    put_i32(w, n_dims);
    put_i32(w, (int32_t)strlen(name));
    put_i32(w, (int32_t)t);
    for (int i = 0; i < n_dims; i++)
        put_i32(w, (int32_t)ne[i]);
    put(w, name, strlen(name));
}

/* ---- deterministic randomness ----------------------------------------------------- */

typedef struct rng {
    uint64_t s;
    int have_spare;
    double spare;
} rng;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double gauss(rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = ((double)(splitmix64(&r->s) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (double)(splitmix64(&r->s) >> 11) / 9007199254740992.0;
    double rad = sqrt(-2.0 * log(u1));
    r->spare = rad * sin(2.0 * M_PI * u2);
    r->have_spare = 1;
    return rad * cos(2.0 * M_PI * u2);
}

/* ---- mel filterbank (librosa.filters.mel, Slaney scale and norm) ------------------- */

static double hz_to_mel(double hz)
{
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = 15.0, logstep = log(6.4) / 27.0;
    return hz >= min_log_hz ? min_log_mel + log(hz / min_log_hz) / logstep : hz / f_sp;
}

static double mel_to_hz(double mel)
{
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = 15.0, logstep = log(6.4) / 27.0;
    return mel >= min_log_mel ? min_log_hz * exp(logstep * (mel - min_log_mel)) : f_sp * mel;
}

static void put_mel_filters(writer *w, int n_mels)
{
    double mel_f[130], fft_f[201];
    double m_lo = hz_to_mel(0.0), m_hi = hz_to_mel(WHISPER_SAMPLE_RATE / 2.0);
    for (int i = 0; i < n_mels + 2; i++)
        mel_f[i] = mel_to_hz(m_lo + (m_hi - m_lo) * i / (n_mels + 1));
    for (int j = 0; j < 201; j++)
        fft_f[j] = (double)WHISPER_SAMPLE_RATE / 2.0 * j / 200.0;
    put_i32(w, n_mels);
    put_i32(w, 201);
    for (int i = 0; i < n_mels; i++) {
        double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (int j = 0; j < 201; j++) {
            double lower = (fft_f[j] - mel_f[i]) / (mel_f[i + 1] - mel_f[i]);
            double upper = (mel_f[i + 2] - fft_f[j]) / (mel_f[i + 2] - mel_f[i + 1]);
            double v = lower < upper ? lower : upper;
            put_f32(w, (float)((v > 0.0 ? v : 0.0) * enorm));
        }
    }
}

/* ---- vocabulary ------------------------------------------------------------------- */

/* Common English the BPE merges are learned from (every token stays reachable by BPE). */
static const char bpe_text[] =
    "the of and to a in is it you that he was for on are with as I his they be at one have this "
    "from or had by hot word but what some we can out other were all there when up use your how "
    "said an each she which do their time if will way about many then them write would like so "
    "these her long make thing see him two has look more day could go come did number sound no "
    "most people my over know water than call first who may down side been now find any new work "
    "part take get place made live where after back little only round man year came show every "
    "good me give our under name very through just form sentence great think say help low line "
    "differ turn cause much mean before move right boy old too same tell does set three want air "
    "well also play small end put home read hand port large spell add even land here must big "
    "high such follow act why ask men change went light kind off need house picture try us again "
    "animal point mother world near build self earth father head stand own page should country "
    "found answer school grow study still learn plant cover food sun four between state keep eye "
    "never last let thought city tree cross farm hard start might story saw far sea draw left late "
    "run don't while press close night real life few north open seem together next white children "
    "begin got walk example ease paper group always music those both mark often letter until mile "
    "river car feet care second book carry took science eat room friend began idea fish mountain "
    "stop once base hear horse cut sure watch color face wood main enough plain girl usual young "
    "ready above ever red list though feel talk bird soon body dog family direct pose leave song "
    "measure door product black short numeral class wind question happen complete ship area half "
    "rock order fire south problem piece told knew pass since top whole king space heard best hour "
    "better true during hundred five remember step early hold west ground interest reach fast verb "
    "sing listen six table travel less morning ten simple several vowel toward war lay against "
    "pattern slow center love person money serve appear road map rain rule govern pull cold notice "
    "voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star "
    "box noun field rest correct able pound done beauty drive stood contain front teach week final "
    "gave green oh quick develop ocean warm free minute strong special mind behind clear tail "
    "produce fact street inch multiply nothing course stay wheel full force blue object decide "
    "surface deep moon island foot system busy test record boat common gold possible plane stead "
    "dry wonder laugh thousand ago ran check game shape equate miss brought heat snow tire bring "
    "yes distant fill east paint language among speech recognition meeting hello thank you okay. "
    "The quick brown fox jumps over the lazy dog. This is a test of the speech system, and it works!";

typedef struct vocab {
    int n;
    uint8_t (*tok)[MAX_TOK];
    uint8_t *len;
} vocab;

static int vocab_find(const vocab *v, const uint8_t *s, int n)
{
    for (int i = v->n - 1; i >= 0; i--)
        if (v->len[i] == n && memcmp(v->tok[i], s, (size_t)n) == 0)
            return i;
    return -1;
}

static void vocab_add(vocab *v, const uint8_t *s, int n)
{
    memcpy(v->tok[v->n], s, (size_t)n);
    v->len[v->n++] = (uint8_t)n;
}

#define MAX_WORDS 2048
#define MAX_MERGES 4000

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Words split like GPT-2's pre-tokenizer roughly does: " word", punctuation alone. */
static int split_words(int (*sym)[MAX_TOK], int *n_sym)
{
    int n = 0;
    const char *p = bpe_text;
    while (*p && n < MAX_WORDS) {
        int len = 0;
        if (*p == ' ')
            sym[n][len++] = (uint8_t)*p++;
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            while (((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '\'') && len < MAX_TOK)
                sym[n][len++] = (uint8_t)*p++;
        } else if (*p && *p != ' ') {
            sym[n][len++] = (uint8_t)*p++;
        }
        if (len)
            n_sym[n++] = len;
    }
    return n;
}

/*
 * Build the stored vocabulary: 256 byte tokens in GPT-2's bytes_to_unicode order, merges
 * learned by plain BPE over bpe_text (each new token the concatenation of two earlier
 * ones), then unique filler tokens up to n_tokens. Token ids are positions.
 */
static int vocab_build(vocab *v, int n_tokens)
{
    v->n = 0;
    v->tok = malloc((size_t)n_tokens * MAX_TOK);
    v->len = malloc((size_t)n_tokens);
    int (*words)[MAX_TOK] = malloc(sizeof(int[MAX_WORDS][MAX_TOK]));
    int *n_sym = malloc(sizeof(int) * MAX_WORDS);
    uint64_t *pairs = malloc(sizeof(uint64_t) * MAX_WORDS * MAX_TOK);
    if (!v->tok || !v->len || !words || !n_sym || !pairs) {
        free(words);
        free(n_sym);
        free(pairs);
        return error_set(SOTTO_ENOMEM, "out of memory for a vocabulary");
    }
    uint8_t used[256] = {0};
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < 256; b++) {
            int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
            if (pass == 0 ? printable : !used[b]) {
                uint8_t c = (uint8_t)b;
                used[b] = 1;
                vocab_add(v, &c, 1);
            }
        }
    }
    /* byte -> id, then words as id sequences */
    int n_words = split_words(words, n_sym);
    for (int i = 0; i < n_words; i++)
        for (int j = 0; j < n_sym[i]; j++)
            words[i][j] = vocab_find(v, (uint8_t[]){(uint8_t)words[i][j]}, 1);
    for (int merge = 0; merge < MAX_MERGES && v->n < n_tokens; merge++) {
        /* most frequent adjacent pair; ties go to the smallest (a, b). Merging goes on
         * until every word of the text is one token, as in a real GPT-2 vocabulary. */
        int n_pairs = 0;
        for (int i = 0; i < n_words; i++)
            for (int j = 0; j + 1 < n_sym[i]; j++)
                if (v->len[words[i][j]] + v->len[words[i][j + 1]] <= MAX_TOK)
                    pairs[n_pairs++] = ((uint64_t)words[i][j] << 32) | (uint32_t)words[i][j + 1];
        qsort(pairs, (size_t)n_pairs, sizeof *pairs, cmp_u64);
        int best_a = -1, best_b = -1, best_count = 0;
        for (int i = 0; i < n_pairs;) {
            int j = i;
            while (j < n_pairs && pairs[j] == pairs[i])
                j++;
            if (j - i > best_count) {
                best_count = j - i;
                best_a = (int)(pairs[i] >> 32);
                best_b = (int)(pairs[i] & 0xffffffffu);
            }
            i = j;
        }
        if (best_a < 0)
            break;
        uint8_t cat[MAX_TOK];
        int n_cat = v->len[best_a] + v->len[best_b];
        memcpy(cat, v->tok[best_a], v->len[best_a]);
        memcpy(cat + v->len[best_a], v->tok[best_b], v->len[best_b]);
        int id = vocab_find(v, cat, n_cat);
        if (id < 0) {
            id = v->n;
            vocab_add(v, cat, n_cat);
        }
        for (int i = 0; i < n_words; i++) {
            int o = 0;
            for (int j = 0; j < n_sym[i]; j++) {
                if (j + 1 < n_sym[i] && words[i][j] == best_a && words[i][j + 1] == best_b) {
                    words[i][o++] = id;
                    j++;
                } else {
                    words[i][o++] = words[i][j];
                }
            }
            n_sym[i] = o;
        }
    }
    free(words);
    free(n_sym);
    free(pairs);
    /* fillers: U+1F000 (a mahjong tile) + a number never occurs in speech transcripts */
    for (int i = 0; v->n < n_tokens; i++) {
        char buf[MAX_TOK];
        int n = snprintf(buf, sizeof buf, "\xf0\x9f\x80\x80%d", i);
        vocab_add(v, (const uint8_t *)buf, n);
    }
    return 0;
}

static void vocab_free(vocab *v)
{
    free(v->tok);
    free(v->len);
}

/* ---- random model ----------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The weight type a 2-D matrix gets in a model of type wtype. */
static nn_type matrix_type(nn_type wtype, int64_t ne0)
{
    return nn_row_bytes(wtype, ne0) ? wtype : NN_F16;
}

/* One row of values of tensor `name` (row index r of ne[1]*ne[2]*ne[3]). */
static void fill_row(rng *r, const char *name, whisper_tensor_kind kind, const int64_t *ne, int64_t row,
                     float *x)
{
    int64_t n = ne[0];
    if (strcmp(name, "encoder.positional_embedding") == 0) {
        /* Whisper's sinusoids(): sin of the first half of channels, cos of the second */
        int64_t half = n / 2;
        double inc = log(10000.0) / (double)(half > 1 ? half - 1 : 1);
        for (int64_t i = 0; i < n; i++) {
            int64_t c = i < half ? i : i - half;
            double ang = (double)row * exp(-inc * (double)c);
            x[i] = i >= 2 * half ? 0.0f : (float)(i < half ? sin(ang) : cos(ang));
        }
        return;
    }
    double mean = 0.0, sd = 0.02;
    if (kind == WHISPER_TENSOR_MATRIX)
        sd = 1.0 / sqrt((double)n);
    else if (kind == WHISPER_TENSOR_CONV)
        sd = 1.0 / sqrt((double)(ne[0] * ne[1]));
    else if (ends_with(name, "ln.weight") || ends_with(name, "ln_post.weight"))
        mean = 1.0;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(mean + sd * gauss(r));
}

int whisper_model_write_random(const whisper_hparams *hp_in, nn_type wtype, uint64_t seed, const char *path)
{
    SOTTO_ASSERT(hp_in && path);
    if (!nn_type_valid((int)wtype))
        return error_set(SOTTO_EINVAL, "unknown weight type %d", (int)wtype);
    whisper_hparams hp = *hp_in;
    hp.ftype = ftype_of(wtype);
    nn_type check;
    int rc = whisper_hparams_validate(&hp, &check);
    if (rc)
        return rc;
    whisper_special sp;
    whisper_special_init(hp.n_vocab, &sp);
    vocab v;
    if ((rc = vocab_build(&v, sp.eot)))
        return rc;
    float *x = malloc(sizeof(float) * 4 * (size_t)hp.n_audio_state + 64);
    uint8_t *q = malloc(sizeof(float) * 4 * (size_t)hp.n_audio_state + 64);
    writer w;
    if (!x || !q) {
        rc = error_set(SOTTO_ENOMEM, "out of memory writing a model");
    } else if ((rc = writer_open(&w, path)) == 0) {
        put_header(&w, &hp);
        put_mel_filters(&w, hp.n_mels);
        put_i32(&w, v.n);
        for (int i = 0; i < v.n; i++) {
            put_i32(&w, v.len[i]);
            put(&w, v.tok[i], v.len[i]);
        }
        rng r = {seed ^ 0x5077054d0de1ull, 0, 0.0};
        int n_t = whisper_tensor_count(&hp);
        for (int i = 0; i < n_t; i++) {
            char name[128];
            int64_t ne[4];
            int n_dims;
            whisper_tensor_kind kind;
            whisper_tensor_spec(&hp, i, name, sizeof name, ne, &n_dims, &kind);
            nn_type t = kind == WHISPER_TENSOR_F32    ? NN_F32
                        : kind == WHISPER_TENSOR_CONV ? (wtype == NN_F32 ? NN_F32 : NN_F16)
                                                      : matrix_type(wtype, ne[0]);
            put_tensor_header(&w, name, n_dims, ne, t);
            int64_t rows = ne[1] * ne[2] * ne[3];
            size_t row_bytes = nn_row_bytes(t, ne[0]);
            for (int64_t row = 0; row < rows; row++) {
                fill_row(&r, name, kind, ne, row, x);
                nn_quantize_row(t, x, q, ne[0]);
                put(&w, q, row_bytes);
            }
        }
        rc = writer_close(&w, 0);
    }
    free(x);
    free(q);
    vocab_free(&v);
    return rc;
}

/* ---- re-quantize ------------------------------------------------------------------ */

static int is_matrix(const nn_tensor *t)
{
    static const char *const suffixes[] = {"query.weight", "key.weight", "value.weight", "out.weight",
                                           "mlp.0.weight", "mlp.2.weight", "token_embedding.weight"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (ends_with(t->name, suffixes[i]))
            return 1;
    return 0;
}

int whisper_model_quantize(const char *in_path, const char *out_path, nn_type t)
{
    SOTTO_ASSERT(in_path && out_path);
    if (!nn_type_valid((int)t))
        return error_set(SOTTO_EINVAL, "unknown weight type %d", (int)t);
    whisper_model *m;
    int rc = whisper_model_load(in_path, &m);
    if (rc)
        return rc;
    whisper_hparams hp = m->hp;
    hp.ftype = ftype_of(t);
    int64_t max_row = 4 * (int64_t)hp.n_audio_state + 64;
    float *x = malloc(sizeof(float) * (size_t)max_row);
    uint8_t *q = malloc(sizeof(float) * (size_t)max_row);
    writer w;
    if (!x || !q) {
        rc = error_set(SOTTO_ENOMEM, "out of memory quantizing a model");
    } else if ((rc = writer_open(&w, out_path)) == 0) {
        put_header(&w, &hp);
        put_i32(&w, hp.n_mels);
        put_i32(&w, 201);
        put(&w, m->mel_filters, (size_t)hp.n_mels * 201 * sizeof(float));
        put_i32(&w, m->n_vocab_file);
        for (int i = 0; i < m->n_vocab_file; i++) {
            put_i32(&w, (int32_t)m->vocab_len[i]);
            put(&w, m->vocab[i], m->vocab_len[i]);
        }
        for (int i = 0; i < m->n_tensors; i++) {
            const nn_tensor *src = &m->tensors[i];
            nn_type to = is_matrix(src) ? matrix_type(t, src->ne[0]) : src->type;
            put_tensor_header(&w, src->name, src->n_dims, src->ne, to);
            if (to == src->type) {
                put(&w, src->data, src->nbytes);
                continue;
            }
            int64_t rows = src->ne[1] * src->ne[2] * src->ne[3];
            size_t in_row = nn_row_bytes(src->type, src->ne[0]), out_row = nn_row_bytes(to, src->ne[0]);
            for (int64_t r = 0; r < rows; r++) {
                nn_dequantize_row(src->type, (const uint8_t *)src->data + (size_t)r * in_row, x, src->ne[0]);
                nn_quantize_row(to, x, q, src->ne[0]);
                put(&w, q, out_row);
            }
        }
        rc = writer_close(&w, 0);
    }
    free(x);
    free(q);
    whisper_model_free(m);
    return rc;
}
