/*
 * decode_search.c - one decode of one window: start sequence, greedy / temperature
 * sampling / best_of, beam search with patience, the ranker, no-speech probability and
 * language detection, as openai-whisper's DecodingTask does them.
 *
 * The network is reached only through whisper_lm (decode.h); sequence slots hold the
 * caches. Greedy and sampling use slots 0..n_group-1; beam search keeps two banks of
 * beam_size slots and copies the surviving beams' caches into the other bank each step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "base/base_int.h"

void whisper_decode_opts_init(whisper_decode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->lang = -1;
    o->patience = 1.0f;
    o->length_penalty = -1.0f;
    o->max_initial_timestamp_index = 50;
    o->suppress_blank = 1;
}

void whisper_decoding_clear(whisper_decoding *d)
{
    if (!d)
        return;
    free(d->tokens);
    free(d->token_probs);
    free(d->text);
    memset(d, 0, sizeof *d);
}

int whisper_start_sequence(const whisper_special *sp, const whisper_decode_opts *o, int n_ctx,
                           int32_t **out, size_t *n_out, size_t *sot_index)
{
    size_t max_prompt = n_ctx / 2 > 1 ? (size_t)(n_ctx / 2 - 1) : 0;
    size_t n_prompt = o->n_prompt < max_prompt ? o->n_prompt : max_prompt;
    int32_t *t = malloc(sizeof *t * (n_prompt + 5));
    if (!t)
        return error_set(SOTTO_ENOMEM, "out of memory (start sequence)");
    size_t n = 0;
    if (o->prompt && n_prompt > 0) {
        t[n++] = sp->startofprev;
        memcpy(t + n, o->prompt + (o->n_prompt - n_prompt), n_prompt * sizeof *t);
        n += n_prompt;
    }
    *sot_index = n;
    t[n++] = sp->sot;
    if (sp->multilingual) {
        if (o->lang >= 0 && o->lang < sp->n_langs)
            t[n++] = sp->first_lang + o->lang;
        else if (o->lang >= 0) {
            free(t);
            return error_set(SOTTO_EINVAL, "language index %d is not in this model", o->lang);
        }
        t[n++] = o->translate ? sp->translate : sp->transcribe;
    }
    if (o->without_timestamps)
        t[n++] = sp->notimestamps;
    *out = t;
    *n_out = n;
    return 0;
}

double whisper_rank_score(double sum_logprob, size_t length, float length_penalty)
{
    double penalty = length_penalty < 0 ? (double)length : pow((5.0 + length) / 6.0, length_penalty);
    return penalty > 0 ? sum_logprob / penalty : sum_logprob;
}

/* ---- helpers ------------------------------------------------------------------------- */

/* log_softmax in place into out (n floats). */
static void log_softmax(const float *x, float *out, int32_t n)
{
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    double s = 0;
    for (int32_t i = 0; i < n; i++)
        s += exp((double)x[i] - m);
    float lse = (float)(m + log(s));
    for (int32_t i = 0; i < n; i++)
        out[i] = x[i] - lse;
}

/* xoshiro256** seeded by splitmix64: fast, reproducible across platforms. */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static double rng_uniform(rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return (double)(out >> 11) * (1.0 / 9007199254740992.0);
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Sample from softmax(x / T). */
static int32_t sample(const float *x, int32_t n, float temperature, rng *r)
{
    float m = x[argmax(x, n)];
    double total = 0;
    for (int32_t i = 0; i < n; i++)
        total += exp(((double)x[i] - m) / temperature);
    double u = rng_uniform(r) * total, acc = 0;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (x[i] == -INFINITY)
            continue;
        acc += exp(((double)x[i] - m) / temperature);
        last = i;
        if (u < acc)
            return i;
    }
    return last;
}

/* State shared by both searches. */
typedef struct search {
    const whisper_tokenizer *tk;
    const whisper_lm *lm;
    const whisper_decode_opts *o;
    const whisper_special *sp;
    int32_t n_vocab;
    int32_t *suppress;
    size_t n_suppress;
    int32_t *start;
    size_t n_start, sot_index;
    int sample_len;
    float *logits;   /* (n_slots, n_vocab) raw rows */
    float *lp;       /* n_vocab scratch: log-probabilities */
    int32_t *toks;   /* (n_slots, cap) sampled tokens per slot */
    float *probs;    /* (n_slots, cap) their probabilities */
    size_t cap;
    float no_speech;
} search;

/* All filters on one row, given that slot's sampled tokens. */
static void apply_filters(search *s, float *row, const int32_t *sampled, size_t n_sampled)
{
    if (s->o->suppress_blank && n_sampled == 0)
        whisper_filter_blank(s->tk, row);
    whisper_filter_suppress(s->suppress, s->n_suppress, row, s->n_vocab);
    if (!s->o->without_timestamps)
        whisper_filter_timestamps(s->sp, s->n_vocab, sampled, n_sampled, s->o->max_initial_timestamp_index,
                                  row);
}

/* Feed the start sequence to slot 0, note no_speech_prob, copy to slots 1..n-1. */
static int prime(search *s, int n_slots)
{
    const whisper_lm *lm = s->lm;
    size_t upto = s->sot_index + 1;
    int rc = lm->logits(lm->ctx, 0, s->start, (int)upto, 0, s->logits);
    if (rc)
        return rc;
    log_softmax(s->logits, s->lp, s->n_vocab);
    s->no_speech = expf(s->lp[s->sp->nospeech]);
    if (upto < s->n_start) {
        rc = lm->logits(lm->ctx, 0, s->start + upto, (int)(s->n_start - upto), (int)upto, s->logits);
        if (rc)
            return rc;
    }
    for (int k = 1; k < n_slots; k++) {
        if ((rc = lm->copy(lm->ctx, k, 0)))
            return rc;
        memcpy(s->logits + (size_t)k * s->n_vocab, s->logits, s->n_vocab * sizeof *s->logits);
    }
    return 0;
}

/* Greedy (T = 0) or sampling (T > 0) of n_group sequences; the ranker picks one. */
static int run_sampling(search *s, int n_group, whisper_decoding *out)
{
    const whisper_lm *lm = s->lm;
    int32_t eot = s->sp->eot;
    rng r;
    rng_seed(&r, s->o->seed);
    size_t *len = calloc((size_t)n_group, sizeof *len);
    double *sum = calloc((size_t)n_group, sizeof *sum);
    int rc = len && sum ? prime(s, n_group) : error_set(SOTTO_ENOMEM, "out of memory (decode)");
    for (int i = 0; !rc && i < s->sample_len; i++) {
        int done = 1;
        if (i > 0 && lm->logits_batch) { /* every unfinished sequence in one pass */
            int seqs[64], pos[64], nb = 0;
            int32_t tk[64];
            float *rows[64];
            for (int k = 0; k < n_group; k++) {
                const int32_t *toks = s->toks + (size_t)k * s->cap;
                if (len[k] > 0 && toks[len[k] - 1] == eot)
                    continue;
                seqs[nb] = k, tk[nb] = toks[len[k] - 1], pos[nb] = (int)(s->n_start + len[k] - 1);
                rows[nb++] = s->logits + (size_t)k * s->n_vocab;
            }
            if (nb > 0 && (rc = lm->logits_batch(lm->ctx, seqs, tk, pos, nb, rows)))
                break;
        }
        for (int k = 0; k < n_group && !rc; k++) {
            int32_t *toks = s->toks + (size_t)k * s->cap;
            if (len[k] > 0 && toks[len[k] - 1] == eot)
                continue;
            float *row = s->logits + (size_t)k * s->n_vocab;
            if (i > 0 && !lm->logits_batch)
                rc = lm->logits(lm->ctx, k, &toks[len[k] - 1], 1, (int)(s->n_start + len[k] - 1), row);
            if (rc)
                break;
            apply_filters(s, row, toks, len[k]);
            int32_t t = s->o->temperature > 0 ? sample(row, s->n_vocab, s->o->temperature, &r)
                                              : argmax(row, s->n_vocab);
            log_softmax(row, s->lp, s->n_vocab);
            sum[k] += s->lp[t];
            s->probs[(size_t)k * s->cap + len[k]] = expf(s->lp[t]);
            toks[len[k]++] = t;
            if (t != eot)
                done = 0;
        }
        /* the next forward would need more positions than the context holds */
        if (done || s->n_start + (size_t)i + 1 > (size_t)lm->n_ctx)
            break;
    }
    if (!rc) {
        int best = 0;
        double best_score = -INFINITY;
        for (int k = 0; k < n_group; k++) {
            int32_t *toks = s->toks + (size_t)k * s->cap;
            if (len[k] > 0 && toks[len[k] - 1] == eot)
                len[k]--;
            double sc = whisper_rank_score(sum[k], len[k], s->o->length_penalty);
            if (k == 0 || sc > best_score)
                best = k, best_score = sc;
        }
        out->n_tokens = len[best];
        out->sum_logprob = sum[best];
        memcpy(out->tokens, s->toks + (size_t)best * s->cap, len[best] * sizeof *out->tokens);
        memcpy(out->token_probs, s->probs + (size_t)best * s->cap, len[best] * sizeof *out->token_probs);
    }
    free(len);
    free(sum);
    return rc;
}

typedef struct cand {
    int src;        /* beam it extends */
    int32_t token;
    double score;
    float prob;
} cand;

typedef struct fin {
    int32_t *toks;  /* without eot */
    float *probs;
    size_t len;
    double score;   /* sum_logprob */
} fin;

static int same_prefix(const search *s, int a, int b, size_t len, int bank)
{
    return memcmp(s->toks + (size_t)(bank + a) * s->cap, s->toks + (size_t)(bank + b) * s->cap,
                  len * sizeof(int32_t)) == 0;
}

static int add_fin(fin *f, size_t *n_fin, const int32_t *toks, const float *probs, size_t len, double score)
{
    fin *x = &f[(*n_fin)];
    x->toks = malloc((len + 1) * sizeof *x->toks);
    x->probs = malloc((len + 1) * sizeof *x->probs);
    if (!x->toks || !x->probs) {
        free(x->toks);
        free(x->probs);
        return error_set(SOTTO_ENOMEM, "out of memory (beam search)");
    }
    memcpy(x->toks, toks, len * sizeof *toks);
    memcpy(x->probs, probs, len * sizeof *probs);
    x->len = len, x->score = score;
    (*n_fin)++;
    return 0;
}

/* Beam search (openai BeamSearchDecoder): B beams, each proposes its top B+1 tokens;
 * the best B unfinished candidates survive, finished ones are collected (best first)
 * until round(B x patience) exist. */
static int run_beam(search *s, int B, whisper_decoding *out)
{
    const whisper_lm *lm = s->lm;
    const int32_t eot = s->sp->eot, V = s->n_vocab;
    int max_fin = (int)nearbyint(B * (double)s->o->patience);
    if (max_fin < 1)
        max_fin = 1;
    int n_cand_max = B * (B + 1);
    cand *c = malloc(sizeof *c * (size_t)n_cand_max);
    int *order = malloc(sizeof *order * (size_t)n_cand_max);
    double *sum = calloc((size_t)B * 2, sizeof *sum);
    fin *f = calloc((size_t)(max_fin + B + n_cand_max), sizeof *f);
    size_t n_fin = 0, len = 0;
    int bank = 0; /* slots bank .. bank+B-1 hold the live beams */
    int rc = c && order && sum && f ? prime(s, B) : error_set(SOTTO_ENOMEM, "out of memory (beam search)");
    for (int i = 0; !rc && i < s->sample_len; i++) {
        int n_cand = 0;
        if (i > 0 && lm->logits_batch) { /* all B beams in one pass */
            int seqs[64], pos[64];
            int32_t tk[64];
            float *rows[64];
            for (int j = 0; j < B; j++) {
                seqs[j] = bank + j, tk[j] = s->toks[(size_t)(bank + j) * s->cap + len - 1];
                pos[j] = (int)(s->n_start + len - 1), rows[j] = s->logits + (size_t)(bank + j) * V;
            }
            if ((rc = lm->logits_batch(lm->ctx, seqs, tk, pos, B, rows)))
                break;
        }
        for (int j = 0; j < B && !rc; j++) {
            float *row = s->logits + (size_t)(bank + j) * V;
            int32_t *toks = s->toks + (size_t)(bank + j) * s->cap;
            if (i > 0 && !lm->logits_batch)
                rc = lm->logits(lm->ctx, bank + j, &toks[len - 1], 1, (int)(s->n_start + len - 1), row);
            if (rc)
                break;
            apply_filters(s, row, toks, len);
            log_softmax(row, s->lp, V);
            /* top B+1 by selection (B is small); lowest id first on ties */
            int32_t top[65];
            for (int k = 0; k <= B; k++) {
                int32_t best = -1;
                for (int32_t t = 0; t < V; t++) {
                    if (best >= 0 && !(s->lp[t] > s->lp[best]))
                        continue;
                    int taken = 0;
                    for (int q = 0; q < k && !taken; q++)
                        taken = top[q] == t;
                    if (!taken)
                        best = t;
                }
                top[k] = best;
            }
            for (int k = 0; k <= B; k++) {
                double score = sum[bank + j] + s->lp[top[k]];
                /* the same sequence from an identical beam (all beams are identical at
                 * the first step) updates the earlier entry in place, like a dict */
                int dup = -1;
                for (int q = 0; q < n_cand && dup < 0; q++)
                    if (c[q].token == top[k] && c[q].src != j && same_prefix(s, c[q].src, j, len, bank))
                        dup = q;
                if (dup >= 0)
                    c[dup].score = score, c[dup].src = j;
                else
                    c[n_cand++] = (cand){j, top[k], score, expf(s->lp[top[k]])};
            }
        }
        if (rc)
            break;
        /* stable sort by score, descending (insertion order breaks ties, as Python) */
        int n_order = 0;
        for (int q = 0; q < n_cand; q++) {
            int p = n_order++;
            while (p > 0 && c[order[p - 1]].score < c[q].score) {
                order[p] = order[p - 1];
                p--;
            }
            order[p] = q;
        }
        int saved = 0, other = bank ? 0 : B;
        size_t n_new_fin = 0;
        fin *newf = f + max_fin + B; /* scratch area after the collected ones */
        for (int q = 0; q < n_order && saved < B && !rc; q++) {
            cand *x = &c[order[q]];
            int32_t *src = s->toks + (size_t)(bank + x->src) * s->cap;
            float *srcp = s->probs + (size_t)(bank + x->src) * s->cap;
            if (x->token == eot) {
                srcp[len] = x->prob;
                rc = add_fin(newf, &n_new_fin, src, srcp, len, x->score);
                continue;
            }
            int dst = other + saved;
            int32_t *dt = s->toks + (size_t)dst * s->cap;
            float *dp = s->probs + (size_t)dst * s->cap;
            memcpy(dt, src, len * sizeof *dt);
            memcpy(dp, srcp, len * sizeof *dp);
            dt[len] = x->token;
            dp[len] = x->prob;
            sum[dst] = x->score;
            rc = lm->copy(lm->ctx, dst, bank + x->src);
            saved++;
        }
        /* newly finished are already best first; keep until the list is full */
        for (size_t q = 0; q < n_new_fin; q++) {
            if ((int)n_fin < max_fin)
                f[n_fin++] = newf[q];
            else {
                free(newf[q].toks);
                free(newf[q].probs);
            }
        }
        if (rc)
            break;
        bank = other;
        len++;
        if ((int)n_fin >= max_fin || s->n_start + len > (size_t)lm->n_ctx)
            break;
    }
    if (!rc && (int)n_fin < B) {
        /* not enough finished: add the live beams, best first */
        int used[64] = {0};
        while ((int)n_fin < B && !rc) {
            int best = -1;
            for (int j = 0; j < B && j < 64; j++)
                if (!used[j] && (best < 0 || sum[bank + j] >= sum[bank + best]))
                    best = j;
            if (best < 0)
                break;
            used[best] = 1;
            rc = add_fin(f, &n_fin, s->toks + (size_t)(bank + best) * s->cap,
                         s->probs + (size_t)(bank + best) * s->cap, len, sum[bank + best]);
        }
    }
    if (!rc && n_fin > 0) {
        size_t best = 0;
        double best_score = -INFINITY;
        for (size_t q = 0; q < n_fin; q++) {
            double sc = whisper_rank_score(f[q].score, f[q].len, s->o->length_penalty);
            if (q == 0 || sc > best_score)
                best = q, best_score = sc;
        }
        out->n_tokens = f[best].len;
        out->sum_logprob = f[best].score;
        memcpy(out->tokens, f[best].toks, f[best].len * sizeof *out->tokens);
        memcpy(out->token_probs, f[best].probs, f[best].len * sizeof *out->token_probs);
    }
    for (size_t q = 0; f && q < n_fin; q++) {
        free(f[q].toks);
        free(f[q].probs);
    }
    free(f);
    free(c);
    free(order);
    free(sum);
    return rc;
}

int whisper_decode_run(const whisper_tokenizer *tk, const whisper_lm *lm, const whisper_decode_opts *o,
                       whisper_decoding *out)
{
    memset(out, 0, sizeof *out);
    search s = {.tk = tk, .lm = lm, .o = o, .sp = whisper_tokenizer_special(tk)};
    s.n_vocab = whisper_tokenizer_n_vocab(tk);
    if (lm->n_vocab != s.n_vocab)
        return error_set(SOTTO_EINVAL, "whisper decode: network has %d logits, tokenizer %d tokens",
                         (int)lm->n_vocab, (int)s.n_vocab);
    int beam = o->temperature <= 0 && o->beam_size > 0;
    int n_group = beam ? o->beam_size : (o->temperature > 0 && o->best_of > 1 ? o->best_of : 1);
    int n_slots = beam ? 2 * n_group : n_group;
    if (n_group > 64 || n_slots > lm->n_seq)
        return error_set(SOTTO_EINVAL, "whisper decode: %d sequences needed, %d available", n_slots, lm->n_seq);
    int rc = whisper_start_sequence(s.sp, o, lm->n_ctx, &s.start, &s.n_start, &s.sot_index);
    if (rc)
        return rc;
    s.sample_len = o->sample_len > 0 ? o->sample_len : lm->n_ctx / 2;
    s.cap = (size_t)s.sample_len + 1;
    rc = whisper_suppress_set(tk, o, &s.suppress, &s.n_suppress);
    if (!rc && s.n_start >= (size_t)lm->n_ctx)
        rc = error_set(SOTTO_EINVAL, "whisper decode: start sequence longer than the context");
    if (!rc) {
        s.logits = malloc(sizeof *s.logits * (size_t)n_slots * s.n_vocab);
        s.lp = malloc(sizeof *s.lp * s.n_vocab);
        s.toks = malloc(sizeof *s.toks * (size_t)n_slots * s.cap);
        s.probs = malloc(sizeof *s.probs * (size_t)n_slots * s.cap);
        out->tokens = malloc(sizeof *out->tokens * s.cap);
        out->token_probs = malloc(sizeof *out->token_probs * s.cap);
        if (!s.logits || !s.lp || !s.toks || !s.probs || !out->tokens || !out->token_probs)
            rc = error_set(SOTTO_ENOMEM, "out of memory (decode)");
    }
    if (!rc)
        rc = beam ? run_beam(&s, n_group, out) : run_sampling(&s, n_group, out);
    if (!rc) {
        out->avg_logprob = out->sum_logprob / (double)(out->n_tokens + 1);
        out->no_speech_prob = s.no_speech;
        out->temperature = o->temperature;
        rc = whisper_detokenize(tk, out->tokens, out->n_tokens, &out->text);
        if (!rc)
            out->compression_ratio = whisper_compression_ratio(out->text);
    }
    free(s.start);
    free(s.suppress);
    free(s.logits);
    free(s.lp);
    free(s.toks);
    free(s.probs);
    if (rc)
        whisper_decoding_clear(out);
    return rc;
}

int whisper_detect_language(const whisper_tokenizer *tk, const whisper_lm *lm, int *lang, float *probs)
{
    const whisper_special *sp = whisper_tokenizer_special(tk);
    if (!sp->multilingual || sp->n_langs <= 0)
        return error_set(SOTTO_ENOTSUP, "this model is English-only: it cannot detect the language");
    float *logits = malloc(sizeof *logits * (size_t)lm->n_vocab);
    if (!logits)
        return error_set(SOTTO_ENOMEM, "out of memory (language detection)");
    int rc = lm->logits(lm->ctx, 0, &sp->sot, 1, 0, logits);
    if (!rc) {
        const float *l = logits + sp->first_lang;
        int best = argmax(l, sp->n_langs);
        *lang = best;
        if (probs) {
            double tot = 0;
            for (int i = 0; i < sp->n_langs; i++)
                tot += exp((double)l[i] - l[best]);
            for (int i = 0; i < sp->n_langs; i++)
                probs[i] = (float)(exp((double)l[i] - l[best]) / tot);
        }
    }
    free(logits);
    return rc;
}
