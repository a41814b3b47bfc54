/*
 * simul.c - AlignAtt simultaneous decoding for Whisper: the backend side of the
 * align_att policy (asr_simul_* in ../asr_int.h; spec "AlignAtt" in
 * shared/docs/streaming.md).
 *
 * Owns: the per-stream committed tokens of the current buffer (ids, probabilities,
 * attended frames relative to the buffer start, absolute times), the language detected
 * once per simul object, the words / partial text handed out by an update, each
 * stream's own run state (simul_work: encoder state, KV cache, scratch), and the
 * recognizer's shared part (whisper_simul_run: the step batcher). Streams thus encode and
 * decode in parallel; their per-token steps meet in the batcher, which runs the steps
 * waiting together as one decoder pass over the shared (read-only) weights.
 * Each update: log-mel of the buffer (zero past the audio) -> encoder -> the decoder fed
 * [<|startofprev|> context] sot [lang] task notimestamps + committed tokens, then greedy
 * steps. A new token's attended frame is computed from the row of the position that
 * predicts it (AlignAtt's "attention while generating"), z-normalized over the rows of
 * this update from sot on (the context rows refer to older audio), median-filtered,
 * averaged over the alignment heads and cropped to the real audio. Column statistics
 * are running sums, so a step costs O(heads x frames), not O(rows x heads x frames);
 * the frame itself is simul_frame.c's.
 * Does not: chunk audio, run VAD or keep the rolling context text (src/stream/ does).
 * Choices beyond the spec: with final=1 tau is not applied (the utterance is over, decode
 * to end-of-text); only text tokens and eot may be chosen (timestamps and other specials
 * are suppressed); drop() removes whole words (a word whose first token is cut goes).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "asr/whisper/simul.h"
#include "asr/whisper/transcribe.h"
#include "base/base_int.h"

#define ATTN_SCRATCH_BYTES ((size_t)16 << 20) /* cross-attention of one prefix chunk */
#define SAMPLES_PER_FRAME 320                 /* encoder frame: 2 mel hops, 20 ms */
#define FRAME_S 0.02

/* The recognizer's share: one batcher over its model. */
struct whisper_simul_run {
    whisper_batcher *batcher;
};

#define SIMUL_BATCH 32 /* steps of different streams one decoder pass may take */

/* One stream's run state, made on its first update that runs the network. Nothing in it
 * outlives an update (each encodes and decodes its buffer from scratch). */
typedef struct simul_work {
    const whisper_model *m;
    whisper_state *st;
    whisper_kv *kv;
    float *mel;     /* (n_mels, 3000) */
    float *logits;  /* n_vocab */
    float *attn;    /* (chunk_rows, n_text_layer * n_text_head, n_audio_ctx) */
    int chunk_rows;
    double *sum, *sq; /* (n_align_heads, n_audio_ctx) column sums over this update's rows */
    float *cur;     /* (n_align_heads, n_audio_ctx) the newest row */
    float *z, *avg; /* n_audio_ctx scratch each */
} simul_work;

typedef struct ctok {
    int32_t id;
    float p;
    double fr; /* attended frame, relative to the current buffer start */
    double t;  /* absolute time (s), non-decreasing */
} ctok;

struct whisper_simul {
    const whisper_model *m;
    const whisper_tokenizer *tk;
    const sotto_asr_options *opts;
    whisper_simul_run *shared; /* the recognizer's (not owned) */
    simul_work *w;           /* this stream's run state (owned; NULL until needed) */
    int n_threads;
    int lang;                /* -1: detect on the first update */
    int32_t *suppress;
    size_t n_suppress;
    ctok *tok;
    size_t n_tok, cap, n_pub; /* committed, capacity, published as words */
    double last_t;           /* time of the last committed token (or -inf) */
    sotto_word *words;       /* last update's output */
    size_t n_words;
    char *partial;
};

/* ---- run state --------------------------------------------------------------------------- */

void whisper_simul_run_free(whisper_simul_run *r)
{
    if (!r)
        return;
    whisper_batcher_free(r->batcher);
    free(r);
}

void whisper_simul_run_counts(whisper_simul_run *r, uint64_t *n_steps, uint64_t *n_passes)
{
    whisper_batcher_counts(r->batcher, n_steps, n_passes);
}

static void work_free(simul_work *r)
{
    if (!r)
        return;
    whisper_state_free(r->st);
    whisper_kv_free(r->kv);
    free(r->mel);
    free(r->logits);
    free(r->attn);
    free(r->sum);
    free(r->sq);
    free(r->cur);
    free(r->z);
    free(r->avg);
    free(r);
}

static int work_new(const whisper_model *m, int n_threads, simul_work **out)
{
    const whisper_hparams *hp = &m->hp;
    simul_work *r = calloc(1, sizeof *r);
    if (!r)
        return error_set(SOTTO_ENOMEM, "out of memory (align_att run state)");
    r->m = m;
    const size_t A = (size_t)hp->n_audio_ctx, row = (size_t)hp->n_text_layer * hp->n_text_head * A;
    const size_t hA = (size_t)m->n_align_heads * A;
    size_t rows = ATTN_SCRATCH_BYTES / (row * sizeof(float));
    r->chunk_rows = rows < 1 ? 1 : rows > (size_t)hp->n_text_ctx ? hp->n_text_ctx : (int)rows;
    int rc = whisper_state_new(m, n_threads, &r->st);
    if (!rc)
        rc = whisper_kv_new(m, &r->kv);
    r->mel = malloc(sizeof *r->mel * (size_t)hp->n_mels * WHISPER_N_FRAMES);
    r->logits = malloc(sizeof *r->logits * (size_t)hp->n_vocab);
    r->attn = malloc(sizeof *r->attn * row * (size_t)r->chunk_rows);
    r->sum = malloc(sizeof *r->sum * hA);
    r->sq = malloc(sizeof *r->sq * hA);
    r->cur = malloc(sizeof *r->cur * hA);
    r->z = malloc(sizeof *r->z * A);
    r->avg = malloc(sizeof *r->avg * A);
    if (!rc && (!r->mel || !r->logits || !r->attn || !r->sum || !r->sq || !r->cur || !r->z || !r->avg))
        rc = error_set(SOTTO_ENOMEM, "out of memory (align_att run state)");
    if (rc) {
        work_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Add the alignment heads' rows of attn (n rows of (L*H, A)) to the column sums over the
 * first Fz frames; the last row becomes cur. */
static void add_rows(simul_work *r, const float *attn, int n, int Fz)
{
    const whisper_model *m = r->m;
    const int H = m->hp.n_text_head, A = m->hp.n_audio_ctx, LH = m->hp.n_text_layer * H;
    for (int i = 0; i < n; i++)
        for (int h = 0; h < m->n_align_heads; h++) {
            const float *src = attn + ((size_t)i * LH + (size_t)m->align_heads[h][0] * H + m->align_heads[h][1]) * A;
            double *s = r->sum + (size_t)h * A, *q = r->sq + (size_t)h * A;
            for (int j = 0; j < Fz; j++) {
                s[j] += src[j];
                q[j] += (double)src[j] * src[j];
            }
            if (i == n - 1)
                memcpy(r->cur + (size_t)h * A, src, sizeof *src * (size_t)Fz);
        }
}

/* ---- language detection through the search's lm interface ------------------------------ */

static int lm_logits(void *ctx, int seq, const int32_t *tokens, int n, int n_past, float *logits)
{
    simul_work *r = ctx;
    (void)seq;
    return whisper_decode(r->st, r->kv, tokens, n, n_past, logits, NULL);
}

/* ---- simul objects ------------------------------------------------------------------------- */

int whisper_simul_new(const whisper_model *m, const whisper_tokenizer *tk, const sotto_asr_options *opts,
                      int n_threads, whisper_simul_run **run, whisper_simul **out)
{
    *out = NULL;
    for (int h = 0; h < m->n_align_heads; h++)
        if (m->align_heads[h][0] < 0 || m->align_heads[h][0] >= m->hp.n_text_layer || m->align_heads[h][1] < 0 ||
            m->align_heads[h][1] >= m->hp.n_text_head)
            return error_set(SOTTO_EFORMAT, "whisper: alignment head (%d, %d) is not in the model",
                             m->align_heads[h][0], m->align_heads[h][1]);
    if (m->n_align_heads < 1)
        return error_set(SOTTO_ENOTSUP, "whisper: this model has no alignment heads for align_att");
    if (!*run) { /* the recognizer's first simul object (the caller serializes simul_new) */
        whisper_simul_run *r = calloc(1, sizeof *r);
        int rc = r ? whisper_batcher_new(m, SIMUL_BATCH, &r->batcher)
                   : error_set(SOTTO_ENOMEM, "out of memory (align_att batcher)");
        if (rc) {
            free(r);
            return rc;
        }
        *run = r;
    }
    whisper_simul *s = calloc(1, sizeof *s);
    if (!s)
        return error_set(SOTTO_ENOMEM, "out of memory (align_att decoder)");
    s->m = m, s->tk = tk, s->opts = opts, s->shared = *run, s->n_threads = n_threads;
    s->last_t = -INFINITY;
    whisper_decode_opts d;
    whisper_decode_opts_init(&d);
    int rc = whisper_language_resolve(tk, opts->language, &s->lang);
    if (!rc)
        rc = whisper_suppress_set(tk, &d, &s->suppress, &s->n_suppress);
    if (!rc && !(s->partial = str_dup("")))
        rc = error_set(SOTTO_ENOMEM, "out of memory (align_att decoder)");
    if (rc) {
        whisper_simul_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static void clear_words(whisper_simul *s)
{
    for (size_t i = 0; i < s->n_words; i++)
        free(s->words[i].word);
    free(s->words);
    s->words = NULL, s->n_words = 0;
}

void whisper_simul_free(whisper_simul *s)
{
    if (!s)
        return;
    clear_words(s);
    work_free(s->w);
    free(s->partial);
    free(s->suppress);
    free(s->tok);
    free(s);
}

void whisper_simul_reset(whisper_simul *s)
{
    s->n_tok = 0, s->n_pub = 0;
    s->last_t = -INFINITY;
}

static int id_starts_word(const whisper_tokenizer *tk, int32_t id)
{
    const uint8_t *b;
    size_t len = 0;
    return !whisper_token_bytes(tk, id, &b, &len) && len > 0 && b[0] == ' ';
}

static int starts_word(const whisper_simul *s, size_t i)
{
    return i == 0 || id_starts_word(s->tk, s->tok[i].id);
}

size_t whisper_simul_complete_words(const whisper_tokenizer *tk, const int32_t *ids, size_t n, int final,
                                    size_t *n_words)
{
    size_t end = n, words = 0;
    if (!final) { /* up to the last word start: the word it begins may go on */
        end = 0;
        for (size_t i = n; i-- > 1;)
            if (id_starts_word(tk, ids[i])) {
                end = i;
                break;
            }
    }
    for (size_t i = 0; i < end; i++)
        words += i == 0 || id_starts_word(tk, ids[i]);
    *n_words = words;
    return end;
}

int whisper_simul_drop(whisper_simul *s, size_t n_samples)
{
    if (!s || n_samples == 0)
        return 0;
    const double cut = (double)n_samples / SAMPLES_PER_FRAME;
    size_t k = 0;
    while (k < s->n_tok && s->tok[k].fr < cut)
        k++;
    while (k > 0 && k < s->n_tok && !starts_word(s, k)) /* the rest of a cut word goes too */
        k++;
    if (k > 0 && k < s->n_tok)
        memmove(s->tok, s->tok + k, sizeof *s->tok * (s->n_tok - k));
    s->n_tok -= k;
    s->n_pub = s->n_pub > k ? s->n_pub - k : 0;
    for (size_t i = 0; i < s->n_tok; i++)
        s->tok[i].fr = s->tok[i].fr - cut < 0 ? 0 : s->tok[i].fr - cut;
    return 0;
}

static int push_token(whisper_simul *s, ctok t)
{
    if (s->n_tok == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ctok *v = realloc(s->tok, sizeof *v * cap);
        if (!v)
            return error_set(SOTTO_ENOMEM, "out of memory (align_att tokens)");
        s->tok = v, s->cap = cap;
    }
    s->tok[s->n_tok++] = t;
    return 0;
}

/* Text of committed tokens [a, b): raw bytes, malloc'd (NUL-terminated) in *out. */
static int tokens_text(const whisper_simul *s, size_t a, size_t b, uint8_t **out, size_t *n_out)
{
    int32_t *ids = malloc(sizeof *ids * (b > a ? b - a : 1));
    if (!ids)
        return error_set(SOTTO_ENOMEM, "out of memory (align_att text)");
    for (size_t i = a; i < b; i++)
        ids[i - a] = s->tok[i].id;
    int rc = whisper_tokens_bytes(s->tk, ids, b - a, 1, out, n_out);
    free(ids);
    return rc;
}

/* Publish the complete words (all when final) and set the partial text. */
static int publish(whisper_simul *s, int final, double t_end, asr_simul_out *out)
{
    /* the unpublished tokens always begin at a word (published words end before one) */
    size_t n_new = s->n_tok - s->n_pub, n_w = 0;
    int32_t *ids = malloc(sizeof *ids * (n_new ? n_new : 1));
    if (!ids)
        return error_set(SOTTO_ENOMEM, "out of memory (align_att words)");
    for (size_t i = 0; i < n_new; i++)
        ids[i] = s->tok[s->n_pub + i].id;
    size_t end = s->n_pub + whisper_simul_complete_words(s->tk, ids, n_new, final, &n_w);
    free(ids);
    if (n_w > 0 && !(s->words = calloc(n_w, sizeof *s->words)))
        return error_set(SOTTO_ENOMEM, "out of memory (align_att words)");
    int rc = 0;
    for (size_t i = s->n_pub; !rc && i < end;) {
        size_t j = i + 1;
        while (j < end && !starts_word(s, j))
            j++;
        uint8_t *b = NULL;
        size_t n = 0;
        rc = tokens_text(s, i, j, &b, &n);
        sotto_word *w = &s->words[s->n_words];
        if (!rc && !(w->word = whisper_utf8_sanitize(b, n)))
            rc = error_set(SOTTO_ENOMEM, "out of memory (align_att words)");
        free(b);
        if (rc)
            break;
        double p = 0;
        for (size_t k = i; k < j; k++)
            p += s->tok[k].p;
        w->probability = (float)(p / (double)(j - i));
        w->start = s->tok[i].t;
        double stop = j < s->n_tok ? s->tok[j].t : t_end;
        double e = s->tok[j - 1].t + FRAME_S;
        w->end = e < stop ? e : stop;
        if (w->end < w->start)
            w->end = w->start;
        s->n_words++;
        i = j;
    }
    if (rc)
        return rc;
    s->n_pub = end;
    uint8_t *b = NULL;
    size_t n = 0;
    rc = tokens_text(s, s->n_pub, s->n_tok, &b, &n);
    if (rc)
        return rc;
    free(s->partial);
    s->partial = whisper_utf8_sanitize(b, whisper_utf8_complete(b, n)); /* hold back a cut character */
    free(b);
    if (!s->partial)
        return error_set(SOTTO_ENOMEM, "out of memory (align_att partial)");
    out->words = s->words, out->n_words = s->n_words, out->partial = s->partial;
    return 0;
}

/* Softmax probability of id among logits. */
static float prob_of(const float *x, int32_t n, int32_t id)
{
    double s = 0;
    for (int32_t i = 0; i < n; i++)
        if (x[i] > -INFINITY)
            s += exp((double)x[i] - x[id]);
    return s > 0 ? (float)(1.0 / s) : 0.0f;
}

/* Greedy AlignAtt steps after the prefix of n_fed tokens (rows from sot: n_rows). */
static int decode_steps(whisper_simul *s, simul_work *r, const asr_simul_call *c, int n_enc, int n_fed,
                        int n_rows, int Fz, asr_simul_out *out)
{
    const whisper_model *m = s->m;
    const whisper_special *sp = whisper_tokenizer_special(s->tk);
    const int32_t V = m->hp.n_vocab;
    const int A = m->hp.n_audio_ctx, T = m->hp.n_text_ctx;
    const int max_new = T / 2;
    const size_t n_before = s->n_tok;
    const double last_t0 = s->last_t;
    int prev_f = s->n_tok > 0 ? (int)s->tok[s->n_tok - 1].fr : -1;
    for (int step = 0; step < max_new; step++) {
        float *lg = r->logits;
        whisper_filter_suppress(s->suppress, s->n_suppress, lg, V);
        for (int32_t i = sp->eot + 1; i < V; i++)
            lg[i] = -INFINITY; /* only text or end-of-text */
        if (s->n_tok == 0)
            whisper_filter_blank(s->tk, lg);
        int32_t id = 0;
        for (int32_t i = 1; i < V; i++)
            if (lg[i] > lg[id])
                id = i;
        if (id == sp->eot) {
            out->ended = 1;
            break;
        }
        int f = whisper_simul_frame_of_row(r->cur, (size_t)A, r->sum, r->sq, n_rows, m->n_align_heads, A, n_enc,
                                           r->z, r->avg);
        if (!c->final && f >= n_enc - c->tau_frames)
            break; /* the model looks at the newest audio: wait for more */
        if (prev_f >= 0 && f < prev_f - WHISPER_SIMUL_REWIND) {
            s->n_tok = n_before, s->last_t = last_t0;
            out->rewound = 1;
            break;
        }
        double t = c->t_offset + f * FRAME_S;
        t = t < s->last_t ? s->last_t : t;
        int rc = push_token(s, (ctok){.id = id, .p = prob_of(lg, V, id), .fr = f, .t = t});
        if (rc)
            return rc;
        s->last_t = t, prev_f = f;
        if (n_fed + 1 > T - 1)
            break; /* text context full: the stream must drop audio */
        /* the one step other streams' steps can join: through the batcher */
        rc = whisper_batcher_step(s->shared->batcher, r->st, r->kv, id, n_fed, r->logits, r->attn);
        if (rc)
            return rc;
        n_fed++, n_rows++;
        add_rows(r, r->attn, 1, Fz);
    }
    out->n_new_tokens = (int)(s->n_tok - n_before);
    return 0;
}

int whisper_simul_update(whisper_simul *s, const asr_simul_call *c, asr_simul_out *out)
{
    const whisper_model *m = s->m;
    const whisper_special *sp = whisper_tokenizer_special(s->tk);
    const int A = m->hp.n_audio_ctx, T = m->hp.n_text_ctx;
    memset(out, 0, sizeof *out);
    clear_words(s);
    out->partial = s->partial;
    if (c->n > WHISPER_N_SAMPLES)
        return error_set(SOTTO_EINVAL, "align_att: the buffer holds %.2f s, at most %d s", (double)c->n / 16000.0,
                         WHISPER_CHUNK_S);
    if (c->tau_frames < 0)
        return error_set(SOTTO_EINVAL, "align_att: tau %d frames is negative", c->tau_frames);
    int n_enc = (int)(c->n / WHISPER_HOP) / 2;
    n_enc = n_enc > A ? A : n_enc;
    const double t_end = c->t_offset + (double)c->n / 16000.0;
    int rc = 0;
    /* nothing can be emitted: skip the network (every frame is within tau of the end) */
    int skip = n_enc < 1 || (!c->final && n_enc - c->tau_frames <= 0);
    if (!skip && !s->w)
        rc = work_new(m, s->n_threads, &s->w);
    simul_work *r = s->w;
    int32_t *ctx = NULL, *seq = NULL, *start = NULL;
    size_t n_ctx = 0, n_start = 0, sot_index = 0;
    if (!rc && !skip) {
        const int content = (int)(c->n / WHISPER_HOP);
        rc = whisper_log_mel(m, c->pcm, c->n, r->mel);
        for (int b = 0; !rc && content < WHISPER_N_FRAMES && b < m->hp.n_mels; b++)
            memset(r->mel + (size_t)b * WHISPER_N_FRAMES + content, 0,
                   sizeof *r->mel * (size_t)(WHISPER_N_FRAMES - content));
        if (!rc)
            rc = whisper_encode(r->st, r->mel);
        whisper_lm lm = {.ctx = r, .n_vocab = m->hp.n_vocab, .n_ctx = T, .n_seq = 1, .logits = lm_logits};
        if (!rc && s->lang < 0)
            rc = whisper_detect_language(s->tk, &lm, &s->lang, NULL);
    }
    if (!rc && !skip) {
        whisper_decode_opts d;
        whisper_decode_opts_init(&d);
        d.lang = sp->multilingual ? s->lang : -1;
        d.translate = sp->multilingual && s->opts->translate;
        d.without_timestamps = 1;
        rc = whisper_start_sequence(sp, &d, T, &start, &n_start, &sot_index);
        /* context + forced tokens <= n_text_ctx - 20, the prompt <= n_text_ctx / 2 - 1 */
        long room = (long)T - WHISPER_SIMUL_CTX_SPARE - (long)s->n_tok, half = T / 2 - 1;
        if (!rc && c->prompt && *c->prompt && room > 1)
            rc = whisper_simul_context(s->tk, c->prompt, (size_t)((room - 1 < half ? room - 1 : half)), &ctx,
                                       &n_ctx);
        if (!rc && !(seq = malloc(sizeof *seq * (size_t)T)))
            rc = error_set(SOTTO_ENOMEM, "out of memory (align_att)");
    }
    int n_fed = 0;
    if (!rc && !skip && (size_t)T > (n_ctx ? n_ctx + 1 : 0) + n_start + s->n_tok) {
        if (n_ctx) {
            seq[n_fed++] = sp->startofprev;
            memcpy(seq + n_fed, ctx, sizeof *seq * n_ctx);
            n_fed += (int)n_ctx;
        }
        const int sot_pos = n_fed;
        memcpy(seq + n_fed, start, sizeof *seq * n_start);
        n_fed += (int)n_start;
        for (size_t i = 0; i < s->n_tok; i++)
            seq[n_fed++] = s->tok[i].id;
        const int Fz = n_enc + WHISPER_SIMUL_MEDIAN / 2 < A ? n_enc + WHISPER_SIMUL_MEDIAN / 2 : A;
        const size_t hA = (size_t)m->n_align_heads * A;
        memset(r->sum, 0, sizeof *r->sum * hA);
        memset(r->sq, 0, sizeof *r->sq * hA);
        if (sot_pos > 0)
            rc = whisper_decode(r->st, r->kv, seq, sot_pos, 0, r->logits, NULL);
        for (int p = sot_pos; !rc && p < n_fed; p += r->chunk_rows) {
            int k = n_fed - p < r->chunk_rows ? n_fed - p : r->chunk_rows;
            rc = whisper_decode(r->st, r->kv, seq + p, k, p, r->logits, r->attn);
            if (!rc)
                add_rows(r, r->attn, k, Fz);
        }
        if (!rc) { /* the steps other streams' steps can join (batcher.c) */
            whisper_batcher_join(s->shared->batcher);
            rc = decode_steps(s, r, c, n_enc, n_fed, n_fed - sot_pos, Fz, out);
            whisper_batcher_leave(s->shared->batcher);
        }
    }
    free(ctx);
    free(seq);
    free(start);
    const char *code = s->lang >= 0 ? whisper_lang_code(s->lang) : NULL;
    snprintf(out->language, sizeof out->language, "%s", code ? code : sp->multilingual ? "" : "en");
    if (!rc)
        rc = publish(s, c->final, t_end, out);
    return rc;
}

int whisper_simul_context(const whisper_tokenizer *tk, const char *prompt, size_t max_tokens, int32_t **out,
                          size_t *n)
{
    *out = NULL, *n = 0;
    if (!prompt || !*prompt || max_tokens == 0)
        return 0;
    int32_t *ids = NULL;
    size_t k = 0;
    int rc = whisper_tokenize(tk, prompt, &ids, &k);
    if (rc)
        return rc;
    size_t first = k > max_tokens ? k - max_tokens : 0;
    if (first > 0) /* start the kept tail at a word when it holds one */
        for (size_t i = first; i < k; i++) {
            const uint8_t *b;
            size_t len = 0;
            if (!whisper_token_bytes(tk, ids[i], &b, &len) && len > 0 && b[0] == ' ') {
                first = i;
                break;
            }
        }
    memmove(ids, ids + first, sizeof *ids * (k - first));
    *n = k - first;
    if (*n == 0) {
        free(ids);
        ids = NULL;
    }
    *out = ids;
    return 0;
}
