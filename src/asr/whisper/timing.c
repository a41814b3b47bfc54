/*
 * timing.c - word timestamps from cross-attention, as openai-whisper's timing.py:
 * per-head renormalisation over the audio frames, z-score across tokens, median filter
 * (width 7), head average, DTW between tokens and frames, grouping tokens into words,
 * sentence-mark truncation and punctuation merging. The decoder run that records the
 * attention is the caller's (transcribe.c); this file is pure arithmetic and testable
 * on synthetic matrices.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "asr/whisper/decode.h"
#include "base/base_int.h"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int whisper_median_filter(float *x, int n_rows, int n_cols, int w)
{
    int pad = w / 2;
    if (w < 1 || w % 2 == 0)
        return error_set(SOTTO_EINVAL, "median filter width %d must be odd", w);
    if (n_cols <= pad)
        return 0; /* reflect padding needs more columns than the pad */
    float *row = malloc(sizeof *row * (size_t)(n_cols + 2 * pad));
    float *win = malloc(sizeof *win * (size_t)w);
    if (!row || !win) {
        free(row);
        free(win);
        return error_set(SOTTO_ENOMEM, "out of memory (median filter)");
    }
    for (int r = 0; r < n_rows; r++) {
        float *xr = x + (size_t)r * n_cols;
        /* reflect: ... x2 x1 | x0 x1 x2 ... xn-1 | xn-2 xn-3 ... */
        for (int i = 0; i < n_cols + 2 * pad; i++) {
            int j = i - pad;
            if (j < 0)
                j = -j;
            if (j >= n_cols)
                j = 2 * (n_cols - 1) - j;
            row[i] = xr[j];
        }
        for (int c = 0; c < n_cols; c++) {
            memcpy(win, row + c, sizeof *win * (size_t)w);
            qsort(win, (size_t)w, sizeof *win, cmp_float);
            xr[c] = win[pad];
        }
    }
    free(row);
    free(win);
    return 0;
}

int whisper_dtw(const float *x, int N, int M, int32_t **rows, int32_t **cols, size_t *n_path)
{
    *rows = *cols = NULL;
    *n_path = 0;
    if (N <= 0 || M <= 0)
        return error_set(SOTTO_EINVAL, "DTW of an empty matrix");
    size_t W = (size_t)M + 1;
    float *cost = malloc(sizeof *cost * (size_t)(N + 1) * W);
    int8_t *trace = malloc((size_t)(N + 1) * W);
    int32_t *ri = malloc(sizeof *ri * (size_t)(N + M + 1));
    int32_t *ci = malloc(sizeof *ci * (size_t)(N + M + 1));
    if (!cost || !trace || !ri || !ci) {
        free(cost), free(trace), free(ri), free(ci);
        return error_set(SOTTO_ENOMEM, "out of memory (DTW)");
    }
    for (size_t i = 0; i < (size_t)(N + 1) * W; i++)
        cost[i] = INFINITY, trace[i] = -1;
    cost[0] = 0;
    for (int j = 1; j <= M; j++)
        for (int i = 1; i <= N; i++) {
            float c0 = cost[(size_t)(i - 1) * W + j - 1], c1 = cost[(size_t)(i - 1) * W + j],
                  c2 = cost[(size_t)i * W + j - 1], c;
            int8_t t;
            if (c0 < c1 && c0 < c2)
                c = c0, t = 0;
            else if (c1 < c0 && c1 < c2)
                c = c1, t = 1;
            else
                c = c2, t = 2;
            cost[(size_t)i * W + j] = x[(size_t)(i - 1) * M + j - 1] + c;
            trace[(size_t)i * W + j] = t;
        }
    for (int j = 0; j <= M; j++)
        trace[j] = 2;
    for (int i = 0; i <= N; i++)
        trace[(size_t)i * W] = 1;
    size_t n = 0;
    int i = N, j = M;
    while (i > 0 || j > 0) {
        ri[n] = i - 1, ci[n] = j - 1, n++;
        int8_t t = trace[(size_t)i * W + j];
        if (t == 0)
            i--, j--;
        else if (t == 1)
            i--;
        else
            j--;
    }
    /* reverse into start-to-end order */
    for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
        int32_t tr = ri[a], tc = ci[a];
        ri[a] = ri[b], ci[a] = ci[b], ri[b] = tr, ci[b] = tc;
    }
    free(cost);
    free(trace);
    *rows = ri, *cols = ci, *n_path = n;
    return 0;
}

void whisper_word_timings_free(whisper_word_timing *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++) {
        free(w[i].word);
        free(w[i].tokens);
    }
    free(w);
}

typedef struct wlist {
    whisper_word_timing *w;
    size_t n, cap;
} wlist;

/* Append tokens (and their text) to a new word, or to the last word when join. */
static int wlist_add(wlist *l, const char *text, const int32_t *toks, size_t nt, int join)
{
    if (join && l->n > 0) {
        whisper_word_timing *x = &l->w[l->n - 1];
        size_t a = strlen(x->word), b = strlen(text);
        char *nw = realloc(x->word, a + b + 1);
        int32_t *ntk = realloc(x->tokens, sizeof *ntk * (x->n_tokens + nt + 1));
        if (nw)
            x->word = nw;
        if (ntk)
            x->tokens = ntk;
        if (!nw || !ntk)
            return error_set(SOTTO_ENOMEM, "out of memory (words)");
        memcpy(nw + a, text, b + 1);
        memcpy(ntk + x->n_tokens, toks, sizeof *toks * nt);
        x->n_tokens += nt;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        whisper_word_timing *p = realloc(l->w, sizeof *p * cap);
        if (!p)
            return error_set(SOTTO_ENOMEM, "out of memory (words)");
        l->w = p, l->cap = cap;
    }
    whisper_word_timing *x = &l->w[l->n];
    memset(x, 0, sizeof *x);
    x->word = str_dup(text);
    x->tokens = malloc(sizeof *toks * (nt + 1));
    if (!x->word || !x->tokens) {
        free(x->word), free(x->tokens);
        return error_set(SOTTO_ENOMEM, "out of memory (words)");
    }
    memcpy(x->tokens, toks, sizeof *toks * nt);
    x->n_tokens = nt;
    l->n++;
    return 0;
}

/* Python's str.strip() for the ASCII white space Whisper text carries. */
static void strip_copy(const char *s, char *out, size_t size)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (n >= size)
        n = size - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* `needle in hay` for Python strings: substring test ("" is in everything). */
static int py_in(const char *needle, const char *hay)
{
    return strstr(hay, needle) != NULL;
}

int whisper_split_words(const whisper_tokenizer *tk, const int32_t *tokens, size_t n, const char *lang,
                        whisper_word_timing **words, size_t *n_words)
{
    static const char *const NO_SPACE[] = {"zh", "ja", "th", "lo", "my", "yue"};
    static const char PUNCT[] = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    int by_unicode = 0;
    for (size_t i = 0; lang && i < sizeof NO_SPACE / sizeof NO_SPACE[0]; i++)
        by_unicode |= strcmp(lang, NO_SPACE[i]) == 0;
    const int32_t eot = whisper_tokenizer_special(tk)->eot;
    wlist l = {0};
    int rc = 0;
    size_t first = 0; /* first token of the pending subword */
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t *b;
        size_t len;
        rc = whisper_tokens_bytes(tk, tokens + first, i + 1 - first, 0, &b, &len);
        if (rc)
            break;
        /* a subword ends where its bytes are complete characters */
        if (tokens[i] >= eot || whisper_utf8_complete(b, len) == len) {
            char *text = whisper_utf8_sanitize(b, len);
            if (!text)
                rc = error_set(SOTTO_ENOMEM, "out of memory (words)");
            int join = 0;
            if (!rc && !by_unicode) {
                char stripped[64];
                strip_copy(text, stripped, sizeof stripped);
                int special = tokens[first] >= eot, space = text[0] == ' ';
                join = !(special || space || py_in(stripped, PUNCT) || l.n == 0);
            }
            if (!rc)
                rc = wlist_add(&l, text, tokens + first, i + 1 - first, join);
            free(text);
            first = i + 1;
        }
        free(b);
    }
    if (rc) {
        whisper_word_timings_free(l.w, l.n);
        return rc;
    }
    *words = l.w;
    *n_words = l.n;
    return 0;
}

/* Move from's text and tokens onto the front (prepend) or back of to; from becomes "". */
static void move_word(whisper_word_timing *from, whisper_word_timing *to, int prepend)
{
    size_t a = strlen(from->word), b = strlen(to->word);
    char *w = malloc(a + b + 1);
    int32_t *t = malloc(sizeof *t * (from->n_tokens + to->n_tokens + 1));
    if (!w || !t) {
        free(w), free(t);
        return; /* out of memory: leave the words unmerged */
    }
    if (prepend) {
        memcpy(w, from->word, a), memcpy(w + a, to->word, b + 1);
        memcpy(t, from->tokens, sizeof *t * from->n_tokens);
        memcpy(t + from->n_tokens, to->tokens, sizeof *t * to->n_tokens);
    } else {
        memcpy(w, to->word, b), memcpy(w + b, from->word, a + 1);
        memcpy(t, to->tokens, sizeof *t * to->n_tokens);
        memcpy(t + to->n_tokens, from->tokens, sizeof *t * from->n_tokens);
    }
    free(to->word), free(to->tokens);
    to->word = w, to->tokens = t, to->n_tokens += from->n_tokens;
    from->word[0] = '\0';
    from->n_tokens = 0;
}

void whisper_merge_punctuation(whisper_word_timing *w, size_t n, const char *prepend, const char *append)
{
    if (n < 2)
        return;
    char stripped[64];
    /* prepended punctuation joins the following word (right to left) */
    size_t j = n - 1;
    for (size_t i = n - 1; i-- > 0;) {
        strip_copy(w[i].word, stripped, sizeof stripped);
        if (w[i].word[0] == ' ' && py_in(stripped, prepend))
            move_word(&w[i], &w[j], 1);
        else
            j = i;
    }
    /* appended punctuation joins the previous word (left to right) */
    size_t i = 0;
    for (j = 1; j < n; j++) {
        size_t len = strlen(w[i].word);
        if (!(len > 0 && w[i].word[len - 1] == ' ') && py_in(w[j].word, append))
            move_word(&w[j], &w[i], 0);
        else
            i = j;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The head-averaged, normalised, filtered attention of the rows the DTW aligns:
 * (n_text + 1, nf), negated into a cost. */
static int alignment_cost(const float *attn, int n_heads, int n_rows, int n_frames, int n_sot, int nf,
                          float **cost_out)
{
    size_t plane = (size_t)n_rows * nf;
    float *w = malloc(sizeof *w * plane * (size_t)n_heads);
    int N = n_rows - 1 - n_sot;
    float *cost = calloc((size_t)N * nf, sizeof *cost);
    if (!w || !cost) {
        free(w), free(cost);
        return error_set(SOTTO_ENOMEM, "out of memory (word timestamps)");
    }
    for (int h = 0; h < n_heads; h++) {
        float *wh = w + (size_t)h * plane;
        /* softmax over the real audio only = the full softmax renormalised */
        for (int r = 0; r < n_rows; r++) {
            const float *src = attn + ((size_t)h * n_rows + r) * n_frames;
            double s = 0;
            for (int f = 0; f < nf; f++)
                s += src[f];
            for (int f = 0; f < nf; f++)
                wh[(size_t)r * nf + f] = s > 0 ? (float)(src[f] / s) : 1.0f / (float)nf;
        }
        /* z-score of every frame across the tokens */
        for (int f = 0; f < nf; f++) {
            double mean = 0, var = 0;
            for (int r = 0; r < n_rows; r++)
                mean += wh[(size_t)r * nf + f];
            mean /= n_rows;
            for (int r = 0; r < n_rows; r++) {
                double d = wh[(size_t)r * nf + f] - mean;
                var += d * d;
            }
            double sd = sqrt(var / n_rows);
            for (int r = 0; r < n_rows; r++)
                wh[(size_t)r * nf + f] = sd > 0 ? (float)((wh[(size_t)r * nf + f] - mean) / sd) : 0.0f;
        }
    }
    int rc = whisper_median_filter(w, n_heads * n_rows, nf, 7);
    for (int h = 0; !rc && h < n_heads; h++)
        for (int r = 0; r < N; r++)
            for (int f = 0; f < nf; f++)
                cost[(size_t)r * nf + f] -= w[(size_t)h * plane + (size_t)(r + n_sot) * nf + f] / n_heads;
    free(w);
    if (rc) {
        free(cost);
        return rc;
    }
    *cost_out = cost;
    return 0;
}

int whisper_align_words(const whisper_tokenizer *tk, const int32_t *text, size_t n_text, const float *probs,
                        const float *attn, int n_heads, int n_rows, int n_frames, int n_sot, int num_frames,
                        const char *lang, whisper_word_timing **words, size_t *n_words, double *median_duration)
{
    *words = NULL;
    *n_words = 0;
    *median_duration = 0;
    if (n_text == 0)
        return 0;
    if (n_heads <= 0 || n_rows != n_sot + (int)n_text + 2 || n_frames <= 0)
        return error_set(SOTTO_EINVAL, "word timestamps: attention has %d rows for %d text tokens", n_rows,
                         (int)n_text);
    int nf = num_frames / 2;
    if (nf > n_frames)
        nf = n_frames;
    if (nf < 1)
        nf = 1;
    float *cost = NULL;
    int32_t *rows = NULL, *cols = NULL, *seq = NULL;
    size_t n_path = 0, nw = 0;
    whisper_word_timing *w = NULL;
    int rc = alignment_cost(attn, n_heads, n_rows, n_frames, n_sot, nf, &cost);
    if (!rc)
        rc = whisper_dtw(cost, (int)n_text + 1, nf, &rows, &cols, &n_path);
    seq = malloc(sizeof *seq * (n_text + 1));
    if (!rc && !seq)
        rc = error_set(SOTTO_ENOMEM, "out of memory (word timestamps)");
    if (!rc) {
        memcpy(seq, text, sizeof *seq * n_text);
        seq[n_text] = whisper_tokenizer_special(tk)->eot;
        rc = whisper_split_words(tk, seq, n_text + 1, lang, &w, &nw);
    }
    double *jump = malloc(sizeof *jump * (n_path + 1));
    if (!rc && !jump)
        rc = error_set(SOTTO_ENOMEM, "out of memory (word timestamps)");
    size_t n_jump = 0;
    for (size_t p = 0; !rc && p < n_path; p++)
        if (p == 0 || rows[p] != rows[p - 1])
            jump[n_jump++] = cols[p] / 50.0;
    if (!rc && nw > 1) {
        size_t b = 0; /* token index where word k starts */
        for (size_t k = 0; k + 1 < nw; k++) {
            size_t e = b + w[k].n_tokens;
            w[k].start = b < n_jump ? jump[b] : 0;
            w[k].end = e < n_jump ? jump[e] : w[k].start;
            double ps = 0;
            for (size_t t = b; t < e && t < n_text; t++)
                ps += probs[t];
            w[k].probability = e > b ? (float)(ps / (double)(e - b)) : 0.0f;
            b = e;
        }
        /* drop the final eot "word" */
        free(w[nw - 1].word), free(w[nw - 1].tokens);
        nw--;
        /* median word duration, capped at 0.7 s; truncate long words at sentence marks */
        double *d = malloc(sizeof *d * nw);
        size_t nd = 0;
        for (size_t k = 0; d && k < nw; k++)
            if (w[k].end - w[k].start != 0)
                d[nd++] = w[k].end - w[k].start;
        double med = 0;
        if (nd > 0) {
            qsort(d, nd, sizeof *d, cmp_double);
            med = nd % 2 ? d[nd / 2] : (d[nd / 2 - 1] + d[nd / 2]) / 2;
        }
        free(d);
        if (med > 0.7)
            med = 0.7;
        double max_d = med * 2;
        static const char MARKS[] = ".\xE3\x80\x82!\xEF\xBC\x81?\xEF\xBC\x9F";
        for (size_t k = 1; nd > 0 && k < nw; k++)
            if (w[k].end - w[k].start > max_d) {
                if (py_in(w[k].word, MARKS))
                    w[k].end = w[k].start + max_d;
                else if (py_in(w[k - 1].word, MARKS))
                    w[k].start = w[k].end - max_d;
            }
        whisper_merge_punctuation(w, nw, "\"'\xE2\x80\x9C\xC2\xBF([{-",
                                  "\"'.\xE3\x80\x82,\xEF\xBC\x8C!\xEF\xBC\x81?\xEF\xBC\x9F:\xEF\xBC\x9A\xE2\x80\x9D)]}\xE3\x80\x81");
        *median_duration = med;
    } else if (!rc) {
        whisper_word_timings_free(w, nw);
        w = NULL, nw = 0;
    }
    free(jump);
    free(cost);
    free(rows);
    free(cols);
    free(seq);
    if (rc) {
        whisper_word_timings_free(w, nw);
        return rc;
    }
    *words = w;
    *n_words = nw;
    return 0;
}
