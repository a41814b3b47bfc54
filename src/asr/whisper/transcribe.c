/*
 * transcribe.c - long-form Whisper transcription: openai-whisper's transcribe() loop on
 * sotto's engine.
 *
 * Owns: the whisper_runner (one whisper_state, the search's whisper_kv caches behind a
 * whisper_lm adapter, attention scratch), the window loop (seek in mel frames, log-mel,
 * encode, language id on the first window, temperature fallback, silence skip, segment
 * cutting, seek advance, prompt conditioning with the reset at T > 0.5), word timestamps
 * (the alignment heads' cross-attention over sot + notimestamps + text + eot, DTW in
 * timing.c, then the reference's per-segment fix-ups) and the per-token callback.
 * Does not: search (decode_search.c), cut segments (decode_window.c), or align
 * (timing.c). Deviations from the reference, on purpose:
 *  - the log-mel is computed per 30 s window (whisper_log_mel's unit), so its dynamic-range
 *    clamp uses the window's loudest bin rather than the whole file's; frames past the
 *    audio are zero as the reference's pad_or_trim makes them;
 *  - segment and word times are clamped to the audio of their window (a random or
 *    confused model may emit timestamps past the end of the input), and a window that
 *    would not advance the seek is skipped instead of looping.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/transcribe.h"
#include "base/base_int.h"

#define ATTN_SCRATCH_BYTES ((size_t)32 << 20) /* cross-attention rows recorded per call */
#define FRAMES_PER_S 100                      /* mel frames per second */
#define PROMPT_KEEP 1024                      /* previous-text tokens kept (prompts use <= 223) */

struct whisper_runner {
    const whisper_model *m;      /* borrowed */
    const whisper_tokenizer *tk; /* borrowed */
    whisper_state *st;
    whisper_kv **kv; /* n_seq caches, one per search slot */
    int n_seq;
    whisper_lm lm;
    float *mel;    /* (n_mels, 3000) */
    float *logits; /* (n_seq, n_vocab): attention runs use row 0, batched steps all */
    whisper_kv **batch_kv; /* (n_seq) caches of one batched step */
    float *attn;   /* (attn_rows, n_text_layer * n_text_head, n_audio_ctx) */
    int attn_rows;
    whisper_runner_stats stats;
};

/* ---- the network as the search sees it ---------------------------------------------- */

static int lm_logits(void *ctx, int seq, const int32_t *tokens, int n, int n_past, float *logits)
{
    whisper_runner *r = ctx;
    if (seq < 0 || seq >= r->n_seq)
        return error_set(SOTTO_EINVAL, "whisper: sequence slot %d of %d", seq, r->n_seq);
    double t0 = time_now();
    int rc = whisper_decode(r->st, r->kv[seq], tokens, n, n_past, logits, NULL);
    r->stats.t_decode_s += time_now() - t0;
    r->stats.n_tokens += n;
    r->stats.n_decode_calls++;
    return rc;
}

/* Several slots by one token each: one whisper_decode_batch pass (the weights are read
 * once for all of them), then each row to where the search wants it. */
static int lm_logits_batch(void *ctx, const int *seqs, const int32_t *tokens, const int *n_past, int n,
                           float *const *rows)
{
    whisper_runner *r = ctx;
    if (n < 1 || n > r->n_seq || n > WHISPER_MAX_BATCH)
        return error_set(SOTTO_EINVAL, "whisper: batch of %d sequences (%d slots)", n, r->n_seq);
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= r->n_seq)
            return error_set(SOTTO_EINVAL, "whisper: sequence slot %d of %d", seqs[i], r->n_seq);
        r->batch_kv[i] = r->kv[seqs[i]];
    }
    double t0 = time_now();
    int rc = whisper_decode_batch(r->st, r->batch_kv, tokens, n_past, n, r->logits);
    r->stats.t_decode_s += time_now() - t0;
    r->stats.n_tokens += n;
    r->stats.n_decode_calls++;
    const size_t V = (size_t)r->m->hp.n_vocab;
    for (int i = 0; !rc && i < n; i++)
        memcpy(rows[i], r->logits + (size_t)i * V, sizeof(float) * V);
    return rc;
}

static int lm_copy(void *ctx, int dst, int src)
{
    whisper_runner *r = ctx;
    if (dst < 0 || dst >= r->n_seq || src < 0 || src >= r->n_seq)
        return error_set(SOTTO_EINVAL, "whisper: cache copy %d <- %d of %d slots", dst, src, r->n_seq);
    if (dst != src)
        whisper_kv_copy(r->kv[dst], r->kv[src]);
    return 0;
}

/* KV caches the options can use: beam search at T = 0 keeps the current and the next
 * beams (2 x beam), sampling at T > 0 one per candidate (best_of). Each cache is
 * n_text_layer x n_text_ctx x state x 2 floats (88 MB for medium), so caches that the
 * options rule out (no sampling without fallback at T = 0) are not allocated. */
int whisper_runner_slots(const sotto_asr_options *o)
{
    int beam = o->beam_size > 0 ? o->beam_size : WHISPER_DEFAULT_BEAM;
    int best = o->best_of > 0 ? o->best_of : WHISPER_DEFAULT_BEST_OF;
    int samples = (o->temperature > 0 || !o->no_fallback) ? best : 0;
    int slots = o->temperature > 0 ? 0 : 2 * beam;
    return slots > samples ? slots : samples;
}

int whisper_runner_new(const whisper_model *m, const whisper_tokenizer *tk, int n_threads, int n_seq,
                       whisper_runner **out)
{
    *out = NULL;
    if (n_seq < 1 || n_seq > 2 * WHISPER_MAX_GROUP)
        return error_set(SOTTO_EINVAL, "whisper: %d decoding sequences (1 .. %d)", n_seq,
                         2 * WHISPER_MAX_GROUP);
    whisper_runner *r = calloc(1, sizeof *r);
    if (!r)
        return error_set(SOTTO_ENOMEM, "out of memory (whisper run state)");
    r->m = m, r->tk = tk, r->n_seq = n_seq;
    const whisper_hparams *hp = &m->hp;
    size_t row_floats = (size_t)hp->n_text_layer * hp->n_text_head * hp->n_audio_ctx;
    size_t rows = ATTN_SCRATCH_BYTES / (row_floats * sizeof(float));
    r->attn_rows = rows < 1 ? 1 : rows > (size_t)hp->n_text_ctx ? hp->n_text_ctx : (int)rows;
    int rc = whisper_state_new(m, n_threads, &r->st);
    r->kv = calloc((size_t)n_seq, sizeof *r->kv);
    r->mel = malloc(sizeof *r->mel * (size_t)hp->n_mels * WHISPER_N_FRAMES);
    r->logits = malloc(sizeof *r->logits * (size_t)hp->n_vocab * (size_t)n_seq);
    r->batch_kv = calloc((size_t)n_seq, sizeof *r->batch_kv);
    r->attn = malloc(sizeof *r->attn * row_floats * (size_t)r->attn_rows);
    if (!rc && (!r->kv || !r->mel || !r->logits || !r->attn || !r->batch_kv))
        rc = error_set(SOTTO_ENOMEM, "out of memory (whisper run state)");
    for (int i = 0; !rc && i < n_seq; i++)
        rc = whisper_kv_new(m, &r->kv[i]);
    if (rc) {
        whisper_runner_free(r);
        return rc;
    }
    r->lm = (whisper_lm){.ctx = r, .n_vocab = hp->n_vocab, .n_ctx = hp->n_text_ctx, .n_seq = n_seq,
                         .logits = lm_logits, .copy = lm_copy, .logits_batch = lm_logits_batch};
    *out = r;
    return 0;
}

void whisper_runner_free(whisper_runner *r)
{
    if (!r)
        return;
    for (int i = 0; r->kv && i < r->n_seq; i++)
        whisper_kv_free(r->kv[i]);
    free(r->kv);
    whisper_state_free(r->st);
    free(r->mel);
    free(r->logits);
    free(r->batch_kv);
    free(r->attn);
    free(r);
}

void whisper_runner_get_stats(const whisper_runner *r, whisper_runner_stats *s)
{
    *s = r->stats;
}

int whisper_language_resolve(const whisper_tokenizer *tk, const char *code, int *lang)
{
    const whisper_special *sp = whisper_tokenizer_special(tk);
    if (!sp->multilingual) {
        *lang = 0; /* "en": the start sequence of an English-only model names no language */
        return 0;
    }
    if (!code || !*code || strcmp(code, "auto") == 0) {
        *lang = -1;
        return 0;
    }
    int idx = whisper_lang_index(code);
    if (idx < 0 || idx >= sp->n_langs)
        return error_set(SOTTO_EINVAL, "unknown language '%s' for this Whisper model", code);
    *lang = idx;
    return 0;
}

/* ---- cross-attention of the alignment heads ------------------------------------------- */

/*
 * Feed seq[0..n) through cache slot 0 from position 0 (in chunks that fit the scratch)
 * and copy the alignment heads' attention of rows row0 .. n-1 to out: head-major
 * (n_heads, n - row0, A) for the DTW, or row-major (n - row0, n_heads, A) for callbacks.
 */
static int align_attention(whisper_runner *r, const int32_t *seq, int n, int row0, int head_major, float *out)
{
    const whisper_model *m = r->m;
    const int H = m->hp.n_text_head, LH = m->hp.n_text_layer * H, A = m->hp.n_audio_ctx;
    const int nh = m->n_align_heads, n_rows = n - row0;
    for (int h = 0; h < nh; h++)
        if (m->align_heads[h][0] < 0 || m->align_heads[h][0] >= m->hp.n_text_layer || m->align_heads[h][1] < 0 ||
            m->align_heads[h][1] >= H)
            return error_set(SOTTO_EFORMAT, "whisper: alignment head (%d, %d) is not in the model",
                             m->align_heads[h][0], m->align_heads[h][1]);
    for (int p = 0; p < n; p += r->attn_rows) {
        int c = n - p < r->attn_rows ? n - p : r->attn_rows;
        double t0 = time_now();
        int rc = whisper_decode(r->st, r->kv[0], seq + p, c, p, r->logits, r->attn);
        r->stats.t_decode_s += time_now() - t0;
        r->stats.n_tokens += c;
        r->stats.n_decode_calls++;
        if (rc)
            return rc;
        for (int i = 0; i < c; i++) {
            int row = p + i - row0;
            if (row < 0)
                continue;
            for (int h = 0; h < nh; h++) {
                const float *src = r->attn + ((size_t)i * LH + (size_t)m->align_heads[h][0] * H +
                                              (size_t)m->align_heads[h][1]) * A;
                float *dst = head_major ? out + ((size_t)h * n_rows + row) * A : out + ((size_t)row * nh + h) * A;
                memcpy(dst, src, sizeof *dst * (size_t)A);
            }
        }
    }
    return 0;
}

/* The per-token callback for a window's final tokens: text held back until its UTF-8
 * characters are complete, the token's probability, its time if it is a timestamp, and
 * the alignment heads' attention of the position that predicted it. */
static int emit_tokens(whisper_runner *r, const sotto_asr_options *o, const whisper_decode_opts *d,
                       const whisper_decoding *dec, double t_window)
{
    if (dec->n_tokens == 0)
        return 0;
    const whisper_special *sp = whisper_tokenizer_special(r->tk);
    const int A = r->m->hp.n_audio_ctx, nh = r->m->n_align_heads;
    int32_t *start = NULL, *seq = NULL;
    size_t n_start = 0, sot_index = 0, max_len = 0;
    float *attn = NULL;
    uint8_t *text = NULL;
    int rc = whisper_start_sequence(sp, d, r->lm.n_ctx, &start, &n_start, &sot_index);
    if (rc)
        return rc;
    size_t n_seq = n_start + dec->n_tokens - 1;
    if (n_seq > (size_t)r->lm.n_ctx)
        rc = error_set(SOTTO_EINVAL, "whisper: %zu tokens exceed the text context", n_seq);
    for (size_t i = 0; !rc && i < dec->n_tokens; i++) {
        const uint8_t *b;
        size_t len = 0;
        rc = whisper_token_bytes(r->tk, dec->tokens[i], &b, &len);
        if (len > max_len)
            max_len = len;
    }
    if (!rc) {
        seq = malloc(sizeof *seq * n_seq);
        attn = malloc(sizeof *attn * dec->n_tokens * (size_t)nh * (size_t)A);
        text = malloc(max_len + 8);
        if (!seq || !attn || !text)
            rc = error_set(SOTTO_ENOMEM, "out of memory (token callback)");
    }
    if (!rc) {
        memcpy(seq, start, sizeof *seq * n_start);
        memcpy(seq + n_start, dec->tokens, sizeof *seq * (dec->n_tokens - 1));
        rc = align_attention(r, seq, (int)n_seq, (int)n_start - 1, 0, attn);
    }
    size_t n_pend = 0; /* bytes of an incomplete character carried to the next token */
    for (size_t i = 0; !rc && i < dec->n_tokens; i++) {
        int32_t id = dec->tokens[i];
        const uint8_t *b = (const uint8_t *)"";
        size_t len = 0;
        if (id < sp->eot)
            whisper_token_bytes(r->tk, id, &b, &len);
        memcpy(text + n_pend, b, len);
        size_t total = n_pend + len, show = whisper_utf8_complete(text, total);
        char keep[8];
        n_pend = total - show < sizeof keep ? total - show : 0;
        memcpy(keep, text + show, n_pend);
        text[show] = '\0';
        sotto_asr_token tok = {.id = id, .text = (const char *)text, .probability = dec->token_probs[i],
                               .t = id >= sp->timestamp_begin ? t_window + (id - sp->timestamp_begin) * 0.02 : -1.0,
                               .cross_attn = attn + i * (size_t)nh * A, .n_heads = nh, .n_frames = A};
        o->on_token(o->on_token_user, &tok);
        memcpy(text, keep, n_pend);
    }
    free(start);
    free(seq);
    free(attn);
    free(text);
    return rc;
}

/* ---- word timestamps ------------------------------------------------------------------ */

static double round2(double x)
{
    return nearbyint(x * 100.0) / 100.0;
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* One window's segments being built: times in seconds from the start of pcm. */
typedef struct wseg {
    size_t begin, end; /* token range in the decoding */
    double start, end_s;
    sotto_word *words;
    size_t n_words;
} wseg;

/* The reference's add_word_timestamps for one window: align all its text tokens at once,
 * hand the words out to the segments in order, then fix long first/last words. */
static int add_words(whisper_runner *r, const whisper_decode_opts *d, const char *lang,
                     const whisper_decoding *dec, wseg *segs, size_t n_segs, double time_offset,
                     int segment_frames, double *last_speech)
{
    const whisper_special *sp = whisper_tokenizer_special(r->tk);
    const int A = r->m->hp.n_audio_ctx, nh = r->m->n_align_heads;
    size_t n_text = 0;
    for (size_t s = 0; s < n_segs; s++)
        for (size_t i = segs[s].begin; i < segs[s].end; i++)
            n_text += dec->tokens[i] < sp->eot;
    if (n_text == 0)
        return 0;
    whisper_decode_opts wo = *d;
    wo.prompt = NULL, wo.n_prompt = 0, wo.without_timestamps = 1;
    int32_t *start = NULL, *seq = NULL;
    size_t n_start = 0, sot_index = 0, nw = 0;
    float *probs = NULL, *attn = NULL;
    whisper_word_timing *w = NULL;
    double median = 0;
    int rc = whisper_start_sequence(sp, &wo, r->lm.n_ctx, &start, &n_start, &sot_index);
    if (rc)
        return rc;
    int n_rows = (int)(n_start + n_text + 1);
    if (n_rows > r->lm.n_ctx)
        rc = error_set(SOTTO_EINVAL, "whisper: %d tokens exceed the text context", n_rows);
    if (!rc) {
        seq = malloc(sizeof *seq * (size_t)n_rows);
        probs = malloc(sizeof *probs * n_text);
        attn = malloc(sizeof *attn * (size_t)nh * (size_t)n_rows * (size_t)A);
        if (!seq || !probs || !attn)
            rc = error_set(SOTTO_ENOMEM, "out of memory (word timestamps)");
    }
    if (!rc) {
        memcpy(seq, start, sizeof *seq * n_start);
        size_t k = 0;
        for (size_t s = 0; s < n_segs; s++)
            for (size_t i = segs[s].begin; i < segs[s].end; i++)
                if (dec->tokens[i] < sp->eot) {
                    probs[k] = dec->token_probs[i];
                    seq[n_start + k++] = dec->tokens[i];
                }
        seq[n_rows - 1] = sp->eot;
        rc = align_attention(r, seq, n_rows, 0, 1, attn);
    }
    if (!rc)
        rc = whisper_align_words(r->tk, seq + n_start, n_text, probs, attn, nh, n_rows, A, (int)n_start - 1,
                                 segment_frames, lang, &w, &nw, &median);
    const double max_d = median * 2, t_end = time_offset + segment_frames / (double)FRAMES_PER_S;
    size_t wi = 0;
    for (size_t s = 0; !rc && s < n_segs; s++) {
        wseg *g = &segs[s];
        size_t n_seg_text = 0, saved = 0;
        for (size_t i = g->begin; i < g->end; i++)
            n_seg_text += dec->tokens[i] < sp->eot;
        g->words = calloc(nw + 1, sizeof *g->words);
        if (!g->words) {
            rc = error_set(SOTTO_ENOMEM, "out of memory (word timestamps)");
            break;
        }
        sotto_word *ws = g->words;
        size_t n = 0;
        for (; wi < nw && saved < n_seg_text; wi++) {
            if (w[wi].word[0]) {
                ws[n] = (sotto_word){.word = w[wi].word, .probability = w[wi].probability,
                                     .start = round2(time_offset + w[wi].start),
                                     .end = round2(time_offset + w[wi].end)};
                w[wi].word = NULL; /* moved */
                n++;
            }
            saved += w[wi].n_tokens;
        }
        g->n_words = n;
        if (n == 0)
            continue;
        /* a first word right after a pause is no longer than twice the median word */
        if (ws[0].end - *last_speech > median * 4 &&
            (ws[0].end - ws[0].start > max_d || (n > 1 && ws[1].end - ws[0].start > max_d * 2))) {
            if (n > 1 && ws[1].end - ws[1].start > max_d) {
                double boundary = fmax(ws[1].end / 2, ws[1].end - max_d);
                ws[0].end = ws[1].start = boundary;
            }
            ws[0].start = fmax(0, ws[0].end - max_d);
        }
        /* prefer the segment's own start / end when the first / last word is too long */
        if (g->start < ws[0].end && g->start - 0.5 > ws[0].start)
            ws[0].start = fmax(0, fmin(ws[0].end - median, g->start));
        else
            g->start = ws[0].start;
        if (g->end_s > ws[n - 1].start && g->end_s + 0.5 < ws[n - 1].end)
            ws[n - 1].end = fmax(ws[n - 1].start + median, g->end_s);
        else
            g->end_s = ws[n - 1].end;
        /* keep everything inside the window's audio and the words inside their segment */
        g->start = clampd(g->start, time_offset, t_end);
        g->end_s = clampd(g->end_s, g->start, t_end);
        double prev = g->start;
        for (size_t k = 0; k < n; k++) {
            ws[k].start = clampd(ws[k].start, prev, g->end_s);
            ws[k].end = clampd(ws[k].end, ws[k].start, g->end_s);
            prev = ws[k].start;
        }
        *last_speech = g->end_s;
    }
    whisper_word_timings_free(w, nw);
    free(start);
    free(seq);
    free(probs);
    free(attn);
    return rc;
}

/* ---- the long-form loop ---------------------------------------------------------------- */

/* A growable token list with a hard cap (the prompt only ever uses its tail). */
typedef struct toklist {
    int32_t *v;
    size_t n, cap;
} toklist;

static int toklist_add(toklist *t, const int32_t *ids, size_t n)
{
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->n + n)
            cap *= 2;
        int32_t *p = realloc(t->v, sizeof *p * cap);
        if (!p)
            return error_set(SOTTO_ENOMEM, "out of memory (prompt tokens)");
        t->v = p, t->cap = cap;
    }
    memcpy(t->v + t->n, ids, sizeof *ids * n);
    t->n += n;
    return 0;
}

/* The initial prompt as the reference encodes it: " " + prompt.strip(). */
static int initial_prompt(const whisper_tokenizer *tk, const char *prompt, toklist *all)
{
    if (!prompt)
        return 0;
    while (*prompt == ' ' || *prompt == '\t' || *prompt == '\n' || *prompt == '\r')
        prompt++;
    size_t len = strlen(prompt);
    while (len > 0 && strchr(" \t\n\r", prompt[len - 1]))
        len--;
    char *text = malloc(len + 2);
    if (!text)
        return error_set(SOTTO_ENOMEM, "out of memory (prompt)");
    text[0] = ' ';
    memcpy(text + 1, prompt, len);
    text[len + 1] = '\0';
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = whisper_tokenize(tk, text, &ids, &n);
    free(text);
    if (!rc)
        rc = toklist_add(all, ids, n);
    free(ids);
    return rc;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!strchr(" \t\n\r\f\v", *s))
            return 0;
    return 1;
}

/* Append one finished segment (times + t_offset) to out and its tokens to the prompt. */
static int emit_segment(const whisper_tokenizer *tk, const whisper_decoding *dec, wseg *g, const char *lang,
                        double t_offset, double *last_start, sotto_transcript *out, toklist *all)
{
    const whisper_special *sp = whisper_tokenizer_special(tk);
    const int32_t *toks = dec->tokens + g->begin;
    size_t n = g->end - g->begin, n_text = 0;
    char *text = NULL;
    int rc = whisper_detokenize(tk, toks, n, &text);
    if (rc)
        return rc;
    /* the reference empties instantaneous or blank segments; they are not reported */
    if (g->start == g->end_s || blank(text)) {
        free(text);
        return 0;
    }
    int32_t *ids = malloc(sizeof *ids * (n + 1));
    if (!ids) {
        free(text);
        return error_set(SOTTO_ENOMEM, "out of memory (segment)");
    }
    double psum = 0;
    for (size_t i = 0; i < n; i++)
        if (toks[i] < sp->eot) {
            psum += dec->token_probs[g->begin + i];
            ids[n_text++] = toks[i];
        }
    sotto_segment seg = {0};
    seg.start = fmax(g->start + t_offset, *last_start);
    seg.end = fmax(g->end_s + t_offset, seg.start);
    *last_start = seg.start;
    seg.text = text;
    snprintf(seg.language, sizeof seg.language, "%s", lang);
    seg.avg_logprob = (float)dec->avg_logprob;
    seg.no_speech_prob = dec->no_speech_prob;
    seg.compression_ratio = dec->compression_ratio;
    seg.temperature = dec->temperature;
    seg.confidence = n_text ? (float)(psum / (double)n_text) : 0.0f;
    seg.tokens = ids;
    seg.n_tokens = n_text;
    seg.speaker = -1;
    for (size_t k = 0; k < g->n_words; k++)
        g->words[k].start += t_offset, g->words[k].end += t_offset;
    seg.words = g->words;
    seg.n_words = g->n_words;
    rc = sotto_transcript_append(out, &seg);
    if (!rc)
        rc = toklist_add(all, toks, n);
    free(text);
    free(ids);
    return rc;
}

static void wsegs_clear(wseg *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) {
        for (size_t k = 0; k < g[i].n_words; k++)
            free(g[i].words[k].word);
        free(g[i].words);
        g[i].words = NULL, g[i].n_words = 0;
    }
}

int whisper_transcribe(whisper_runner *r, const sotto_asr_options *o, const float *pcm, size_t n,
                       double t_offset, sotto_transcript *out)
{
    const whisper_model *m = r->m;
    const whisper_special *sp = whisper_tokenizer_special(r->tk);
    const int64_t content_frames = (int64_t)(n / WHISPER_HOP);
    int lang = -1;
    int rc = whisper_language_resolve(r->tk, o->language, &lang);
    if (rc || content_frames == 0)
        return rc;

    /* the temperatures: the starting one, then +0.2 up to 1.0 unless fallback is off */
    float temps[8];
    int n_temps = 0;
    for (double t = o->temperature; n_temps < 8 && t <= 1.0 + 1e-6; t += 0.2) {
        temps[n_temps++] = (float)t;
        if (o->no_fallback)
            break;
    }
    whisper_fallback_opts fb;
    whisper_fallback_opts_init(&fb);
    fb.temperatures = temps, fb.n_temperatures = n_temps;
    whisper_decode_opts d;
    whisper_decode_opts_init(&d);
    d.translate = sp->multilingual && o->translate;
    d.beam_size = o->beam_size > 0 ? o->beam_size : WHISPER_DEFAULT_BEAM;
    d.best_of = o->best_of > 0 ? o->best_of : WHISPER_DEFAULT_BEST_OF;
    d.without_timestamps = o->no_timestamps;

    toklist all = {0};
    size_t prompt_reset = 0;
    double last_speech = 0, last_start = 0;
    whisper_decoding dec = {0};
    whisper_span *spans = NULL;
    wseg *segs = NULL;
    size_t n_spans = 0;
    rc = initial_prompt(r->tk, o->prompt, &all);
    int64_t seek = 0;
    for (int window = 0; !rc && seek < content_frames; window++) {
        const double time_offset = (double)seek / FRAMES_PER_S;
        const int segment_frames = (int)(content_frames - seek < WHISPER_N_FRAMES ? content_frames - seek
                                                                                  : WHISPER_N_FRAMES);
        const size_t first = (size_t)seek * WHISPER_HOP;
        const size_t n_win = n - first < WHISPER_N_SAMPLES ? n - first : WHISPER_N_SAMPLES;

        double t0 = time_now();
        rc = whisper_log_mel(m, pcm + first, n_win, r->mel);
        if (rc)
            break;
        for (int b = 0; segment_frames < WHISPER_N_FRAMES && b < m->hp.n_mels; b++)
            memset(r->mel + (size_t)b * WHISPER_N_FRAMES + segment_frames, 0,
                   sizeof *r->mel * (size_t)(WHISPER_N_FRAMES - segment_frames));
        double t1 = time_now();
        rc = whisper_encode(r->st, r->mel);
        r->stats.t_mel_s += t1 - t0;
        r->stats.t_encode_s += time_now() - t1;
        r->stats.n_windows++;
        if (!rc && lang < 0)
            rc = whisper_detect_language(r->tk, &r->lm, &lang, NULL);
        if (rc)
            break;
        const char *lang_code = whisper_lang_code(lang);
        if (!lang_code)
            lang_code = "";
        d.lang = sp->multilingual ? lang : -1;
        d.prompt = all.n > prompt_reset ? all.v + prompt_reset : NULL;
        d.n_prompt = all.n - prompt_reset;
        d.seed = 0x5077011ull + (uint64_t)seek; /* reproducible: depends on the position only */
        rc = whisper_decode_fallback(r->tk, &r->lm, &d, &fb, &dec, NULL);
        if (rc)
            break;
        if (whisper_is_silence(&dec, &fb)) {
            seek += segment_frames;
            whisper_decoding_clear(&dec);
            continue;
        }
        const int64_t previous_seek = seek;
        int advance = 0, single_end = 0;
        rc = whisper_cut_segments(sp, dec.tokens, dec.n_tokens, time_offset, segment_frames, &spans, &n_spans,
                                  &advance, &single_end);
        if (rc)
            break;
        seek += advance;
        segs = calloc(n_spans + 1, sizeof *segs);
        if (!segs) {
            rc = error_set(SOTTO_ENOMEM, "out of memory (segments)");
            break;
        }
        const double t_end = time_offset + segment_frames / (double)FRAMES_PER_S;
        for (size_t i = 0; i < n_spans; i++) {
            segs[i].begin = spans[i].begin, segs[i].end = spans[i].end;
            segs[i].start = clampd(spans[i].start, time_offset, t_end);
            segs[i].end_s = clampd(spans[i].end_s, segs[i].start, t_end);
        }
        if (o->on_token)
            rc = emit_tokens(r, o, &d, &dec, t_offset + time_offset);
        if (!rc && o->word_timestamps) {
            rc = add_words(r, &d, lang_code, &dec, segs, n_spans, time_offset, segment_frames, &last_speech);
            /* the next window starts after the last word when the text did not end cleanly */
            double last_word_end = -1;
            for (size_t i = n_spans; !rc && i-- > 0 && last_word_end < 0;)
                if (segs[i].n_words > 0)
                    last_word_end = segs[i].words[segs[i].n_words - 1].end;
            if (!rc && last_word_end < 0 && n_spans > 0)
                last_word_end = segs[n_spans - 1].end_s;
            if (!rc && !single_end && last_word_end > time_offset)
                seek = (int64_t)nearbyint(last_word_end * FRAMES_PER_S);
        }
        for (size_t i = 0; !rc && i < n_spans; i++)
            rc = emit_segment(r->tk, &dec, &segs[i], lang_code, t_offset, &last_start, out, &all);
        if (!rc && dec.temperature > 0.5f)
            prompt_reset = all.n; /* a window that needed a high temperature is no context */
        if (all.n > PROMPT_KEEP * 4) {
            /* only the tail is ever a prompt: keep the list bounded on long inputs */
            size_t drop = all.n - PROMPT_KEEP;
            memmove(all.v, all.v + drop, sizeof *all.v * PROMPT_KEEP);
            all.n = PROMPT_KEEP;
            prompt_reset = prompt_reset > drop ? prompt_reset - drop : 0;
        }
        if (seek <= previous_seek)
            seek = previous_seek + segment_frames; /* no progress: move on, never loop */
        if (!rc && !out->language[0])
            snprintf(out->language, sizeof out->language, "%s", lang_code);
        wsegs_clear(segs, n_spans);
        free(segs);
        free(spans);
        segs = NULL, spans = NULL, n_spans = 0;
        whisper_decoding_clear(&dec);
    }
    wsegs_clear(segs, n_spans);
    free(segs);
    free(spans);
    whisper_decoding_clear(&dec);
    free(all.v);
    return rc;
}
