/*
 * tokenizer.c - Whisper's byte-level BPE, exactly as tiktoken encodes, plus token text.
 *
 * Owns the whisper_tokenizer: a copy of the vocabulary's byte strings (rank = id), a hash
 * map from byte string to id, and the special-token layout derived from the sizes. Text
 * is pre-split by pretokenize.c; each piece is looked up whole first, then merged pair by
 * pair, always the adjacent pair whose concatenation has the lowest rank (leftmost on
 * ties), until no concatenation is in the vocabulary (tiktoken's byte_pair_merge).
 * Also here: UTF-8 helpers for turning token bytes back into text (replacement of
 * invalid bytes as Python does, hold-back of incomplete characters when streaming).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "asr/whisper/pretokenize.h"
#include "base/base_int.h"

/* tokens past the BPE vocabulary: eot, sot, languages, 6 task/control tokens, 1501 times */
#define N_FIXED_SPECIALS (1 + 1 + 6 + 1501)

struct whisper_tokenizer {
    int32_t n_bpe;    /* tokens with bytes (ids 0 .. n_bpe-1) */
    int32_t n_vocab;  /* all tokens including the specials */
    whisper_special sp;
    uint8_t *blob;    /* all token bytes, back to back */
    size_t *off;      /* n_bpe + 1 offsets into blob */
    int32_t *slots;   /* open-addressing hash map of ids, -1 = empty */
    uint64_t mask;    /* slots - 1 (a power of two minus one) */
};

static uint64_t hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Id of the byte string s, or -1. */
static int32_t lookup(const whisper_tokenizer *tk, const uint8_t *s, size_t n)
{
    uint64_t i = hash_bytes(s, n) & tk->mask;
    for (;;) {
        int32_t id = tk->slots[i];
        if (id < 0)
            return -1;
        size_t len = tk->off[id + 1] - tk->off[id];
        if (len == n && memcmp(tk->blob + tk->off[id], s, n) == 0)
            return id;
        i = (i + 1) & tk->mask;
    }
}

/* The layout of the specials from the sizes alone, so that toy vocabularies work like the
 * real ones: n_vocab - n_bpe - 1509 language slots (99 or 100 in real files). */
static int special_layout(int32_t n_bpe, int32_t n_vocab, whisper_special *sp)
{
    int64_t n_lang_slots = (int64_t)n_vocab - n_bpe - N_FIXED_SPECIALS;
    if (n_lang_slots < 0 || n_lang_slots > 100)
        return error_set(SOTTO_EFORMAT, "whisper vocabulary: %d tokens cannot hold %d BPE tokens plus the special tokens",
                         (int)n_vocab, (int)n_bpe);
    memset(sp, 0, sizeof *sp);
    sp->eot = n_bpe;
    sp->sot = n_bpe + 1;
    sp->first_lang = sp->sot + 1;
    sp->translate = sp->first_lang + (int32_t)n_lang_slots;
    sp->transcribe = sp->translate + 1;
    sp->startoflm = sp->translate + 2;
    sp->startofprev = sp->translate + 3;
    sp->nospeech = sp->translate + 4;
    sp->notimestamps = sp->translate + 5;
    sp->timestamp_begin = sp->translate + 6;
    /* .en files store 50256 BPE tokens and still reserve the language slots */
    sp->multilingual = n_bpe != 50256 && n_lang_slots > 0;
    sp->n_langs = sp->multilingual ? (int)n_lang_slots : 0;
    return 0;
}

int whisper_tokenizer_new_vocab(const uint8_t *const *tokens, const uint32_t *lens, int32_t n,
                                int32_t n_vocab_total, whisper_tokenizer **out)
{
    *out = NULL;
    if (n < 256 || !tokens || !lens)
        return error_set(SOTTO_EFORMAT, "whisper vocabulary: %d tokens (need at least the 256 bytes)", (int)n);
    whisper_tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk)
        return error_set(SOTTO_ENOMEM, "out of memory (tokenizer)");
    int rc = special_layout(n, n_vocab_total, &tk->sp);
    if (rc) {
        free(tk);
        return rc;
    }
    tk->n_bpe = n;
    tk->n_vocab = n_vocab_total;
    uint64_t total = 0;
    for (int32_t i = 0; i < n; i++)
        total += lens[i];
    uint64_t cap = 1;
    while (cap < (uint64_t)n * 2)
        cap <<= 1;
    tk->blob = malloc(total ? total : 1);
    tk->off = malloc(sizeof *tk->off * ((size_t)n + 1));
    tk->slots = malloc(sizeof *tk->slots * cap);
    if (!tk->blob || !tk->off || !tk->slots) {
        whisper_tokenizer_free(tk);
        return error_set(SOTTO_ENOMEM, "out of memory (tokenizer, %d tokens)", (int)n);
    }
    memset(tk->slots, 0xFF, sizeof *tk->slots * cap);
    tk->mask = cap - 1;
    size_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        tk->off[i] = pos;
        if (lens[i])
            memcpy(tk->blob + pos, tokens[i], lens[i]);
        pos += lens[i];
        tk->off[i + 1] = pos;
        /* a duplicate keeps its lowest id, the one with the best rank */
        if (lens[i] == 0 || lookup(tk, tk->blob + tk->off[i], lens[i]) >= 0)
            continue;
        uint64_t h = hash_bytes(tk->blob + tk->off[i], lens[i]) & tk->mask;
        while (tk->slots[h] >= 0)
            h = (h + 1) & tk->mask;
        tk->slots[h] = i;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        if (lookup(tk, &c, 1) < 0) {
            whisper_tokenizer_free(tk);
            return error_set(SOTTO_EFORMAT, "whisper vocabulary: no token for byte 0x%02x", b);
        }
    }
    *out = tk;
    return 0;
}

int whisper_tokenizer_new(const whisper_model *m, whisper_tokenizer **out)
{
    return whisper_tokenizer_new_vocab(m->vocab, m->vocab_len, m->n_vocab_file, m->hp.n_vocab, out);
}

void whisper_tokenizer_free(whisper_tokenizer *tk)
{
    if (!tk)
        return;
    free(tk->blob);
    free(tk->off);
    free(tk->slots);
    free(tk);
}

const whisper_special *whisper_tokenizer_special(const whisper_tokenizer *tk)
{
    return &tk->sp;
}

int32_t whisper_tokenizer_n_vocab(const whisper_tokenizer *tk)
{
    return tk->n_vocab;
}

typedef struct tok_out {
    const whisper_tokenizer *tk;
    int32_t *ids;
    size_t n, cap;
    size_t *parts; /* scratch for one piece: start offsets */
    size_t parts_cap;
} tok_out;

static int push_id(tok_out *o, int32_t id)
{
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        int32_t *p = realloc(o->ids, cap * sizeof *p);
        if (!p)
            return error_set(SOTTO_ENOMEM, "out of memory (tokenize)");
        o->ids = p, o->cap = cap;
    }
    o->ids[o->n++] = id;
    return 0;
}

/* Rank of piece[parts[i] .. parts[i + 2]] or INT32_MAX when absent or past the end. */
static int32_t pair_rank(const whisper_tokenizer *tk, const uint8_t *piece, const size_t *parts,
                         size_t n_parts, size_t i)
{
    if (i + 2 >= n_parts)
        return INT32_MAX;
    int32_t id = lookup(tk, piece + parts[i], parts[i + 2] - parts[i]);
    return id < 0 ? INT32_MAX : id;
}

/* BPE of one pre-tokenized piece (tiktoken's byte_pair_merge): parts[] are the start
 * offsets of the current symbols plus the end; merging removes a boundary. */
static int encode_piece(void *user, const uint8_t *piece, size_t len)
{
    tok_out *o = user;
    const whisper_tokenizer *tk = o->tk;
    int32_t whole = lookup(tk, piece, len);
    if (whole >= 0)
        return push_id(o, whole);
    if (len + 1 > o->parts_cap) {
        size_t *p = realloc(o->parts, (len + 1) * 2 * sizeof *p);
        if (!p)
            return error_set(SOTTO_ENOMEM, "out of memory (tokenize)");
        o->parts = p, o->parts_cap = (len + 1) * 2;
    }
    size_t *parts = o->parts;
    size_t n_parts = len + 1;
    for (size_t i = 0; i <= len; i++)
        parts[i] = i;
    for (;;) {
        int32_t best = INT32_MAX;
        size_t best_i = 0;
        for (size_t i = 0; i + 2 < n_parts; i++) {
            int32_t r = pair_rank(tk, piece, parts, n_parts, i);
            if (r < best)
                best = r, best_i = i;
        }
        if (best == INT32_MAX)
            break;
        memmove(parts + best_i + 1, parts + best_i + 2, (n_parts - best_i - 2) * sizeof *parts);
        n_parts--;
    }
    for (size_t i = 0; i + 1 < n_parts; i++) {
        int32_t id = lookup(tk, piece + parts[i], parts[i + 1] - parts[i]);
        if (id < 0) /* cannot happen: every byte is a token (checked at construction) */
            return error_set(SOTTO_EFORMAT, "whisper tokenizer: no token for a byte sequence");
        int rc = push_id(o, id);
        if (rc)
            return rc;
    }
    return 0;
}

int whisper_tokenize(const whisper_tokenizer *tk, const char *text, int32_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!text)
        return error_set(SOTTO_EINVAL, "whisper_tokenize: no text");
    tok_out o = {.tk = tk};
    int rc = pretokenize((const uint8_t *)text, strlen(text), encode_piece, &o);
    free(o.parts);
    if (rc) {
        free(o.ids);
        return rc;
    }
    *out = o.ids;
    *n_out = o.n;
    return 0;
}

int whisper_token_bytes(const whisper_tokenizer *tk, int32_t id, const uint8_t **bytes, size_t *len)
{
    if (id < 0 || id >= tk->n_vocab)
        return error_set(SOTTO_EINVAL, "whisper token id %d out of range (vocabulary %d)", (int)id, (int)tk->n_vocab);
    if (id >= tk->n_bpe) {
        *bytes = (const uint8_t *)"";
        *len = 0;
        return 0;
    }
    *bytes = tk->blob + tk->off[id];
    *len = tk->off[id + 1] - tk->off[id];
    return 0;
}

int whisper_token_name(const whisper_tokenizer *tk, int32_t id, char *buf, size_t size)
{
    const whisper_special *sp = &tk->sp;
    const char *name = NULL;
    if (id < 0 || id >= tk->n_vocab)
        return error_set(SOTTO_EINVAL, "whisper token id %d out of range", (int)id);
    if (id < tk->n_bpe) {
        size_t n = tk->off[id + 1] - tk->off[id];
        if (n >= size)
            n = size ? size - 1 : 0;
        if (size) {
            memcpy(buf, tk->blob + tk->off[id], n);
            buf[n] = '\0';
        }
        return 0;
    }
    if (id >= sp->timestamp_begin) {
        int k = id - sp->timestamp_begin;
        snprintf(buf, size, "<|%d.%02d|>", k / 50, (k % 50) * 2);
        return 0;
    }
    if (id >= sp->first_lang && id < sp->translate) {
        const char *code = whisper_lang_code(id - sp->first_lang);
        snprintf(buf, size, "<|%s|>", code ? code : "?");
        return 0;
    }
    if (id == sp->eot)
        name = "endoftext";
    else if (id == sp->sot)
        name = "startoftranscript";
    else if (id == sp->translate)
        name = "translate";
    else if (id == sp->transcribe)
        name = "transcribe";
    else if (id == sp->startoflm)
        name = "startoflm";
    else if (id == sp->startofprev)
        name = "startofprev";
    else if (id == sp->nospeech)
        name = "nospeech";
    else
        name = "notimestamps";
    snprintf(buf, size, "<|%s|>", name);
    return 0;
}

/* ---- UTF-8 ------------------------------------------------------------------------ */

/* Length of the character at s: > 0 valid; else -(length of the maximal invalid subpart),
 * the unit Python's "replace" turns into one U+FFFD. *incomplete is set when the bytes
 * are a valid start cut off by the end of the buffer. */
static int utf8_scan(const uint8_t *s, size_t n, int *incomplete)
{
    uint8_t c = s[0];
    *incomplete = 0;
    if (c < 0x80)
        return 1;
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF)
        need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return -1;
    for (int i = 1; i <= need; i++) {
        if ((size_t)i >= n) {
            *incomplete = 1;
            return -i;
        }
        uint8_t b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
            return -i;
    }
    return need + 1;
}

size_t whisper_utf8_complete(const uint8_t *s, size_t n)
{
    size_t p = 0;
    while (p < n) {
        int inc;
        int l = utf8_scan(s + p, n - p, &inc);
        if (inc)
            return p; /* hold back a character that later bytes may complete */
        p += (size_t)(l > 0 ? l : -l);
    }
    return n;
}

char *whisper_utf8_sanitize(const uint8_t *s, size_t n)
{
    /* each invalid subpart (1..3 bytes) becomes 3 bytes: at most 3x growth */
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t p = 0, q = 0;
    while (p < n) {
        int inc;
        int l = utf8_scan(s + p, n - p, &inc);
        if (l > 0) {
            memcpy(out + q, s + p, (size_t)l);
            q += (size_t)l, p += (size_t)l;
        } else {
            memcpy(out + q, "\xEF\xBF\xBD", 3);
            q += 3, p += (size_t)-l;
        }
    }
    out[q] = '\0';
    return out;
}

int whisper_tokens_bytes(const whisper_tokenizer *tk, const int32_t *ids, size_t n, int text_only,
                         uint8_t **out, size_t *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = NULL; /* set on success; initialized for gcc's aarch64 -O3 */
        size_t l = 0;
        int rc = whisper_token_bytes(tk, ids[i], &b, &l);
        if (rc)
            return rc;
        if (!text_only || ids[i] < tk->sp.eot)
            total += l;
    }
    uint8_t *buf = malloc(total + 1);
    if (!buf)
        return error_set(SOTTO_ENOMEM, "out of memory (token text)");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = NULL; /* set on success; initialized for gcc's aarch64 -O3 */
        size_t l = 0;
        whisper_token_bytes(tk, ids[i], &b, &l);
        if (!text_only || ids[i] < tk->sp.eot) {
            memcpy(buf + pos, b, l);
            pos += l;
        }
    }
    buf[pos] = 0;
    *out = buf;
    *n_out = pos;
    return 0;
}

int whisper_detokenize(const whisper_tokenizer *tk, const int32_t *ids, size_t n, char **text)
{
    uint8_t *b;
    size_t len;
    *text = NULL;
    int rc = whisper_tokens_bytes(tk, ids, n, 1, &b, &len);
    if (rc)
        return rc;
    *text = whisper_utf8_sanitize(b, len);
    free(b);
    return *text ? 0 : error_set(SOTTO_ENOMEM, "out of memory (token text)");
}
