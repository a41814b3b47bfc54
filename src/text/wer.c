/*
 * wer.c - word error rate: word-level Levenshtein alignment with S/D/I counts.
 *
 * Both texts are normalized (normalize.c), split into words and the words interned to
 * integer ids, so the alignment compares ints. The counts of substitutions, deletions
 * and insertions come from one optimal alignment. Instead of keeping the whole n*m
 * matrix for a backtrace, every cell of the two rows in use carries the counts of the
 * best path into it, so memory is O(n + m) whatever the input length (a 100k-word pair
 * needs about 15 MB). Time is kept near O((n + m) * d) for d edits: the common prefix
 * and suffix are dropped, and the DP runs in a diagonal band |i - j| <= k that doubles
 * until no path leaving the band could be cheaper (so the result is exact). Wholly
 * different long texts still cost O(n * m) time.
 *
 * Empty reference: WER is 1.0 when the hypothesis has words (all insertions) and 0 when
 * both are empty, so the rate stays finite; corpus totals (sotto_wer_add) divide the
 * summed edits by the summed reference words with the same rule.
 */
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/text.h"

/* One DP cell packs the cost of the best path into (i, j) (high 32 bits) and its
 * deletions (low 32 bits). That is enough to recover all counts, because along any path
 * i - D = j - I, so I = j - i + D and S = cost - D - I. Comparing packed values picks the
 * lowest cost and, among equally cheap paths, the fewest deletions (so also the fewest
 * insertions and the most substitutions); an 8-byte cell and a branch-free minimum keep
 * the inner loop cheap. */
typedef uint64_t wer_cell;
#define CELL_COST(c) ((size_t)((c) >> 32))
#define CELL_DEL(c) ((size_t)((c)&0xFFFFFFFFu))
#define STEP_SUB ((uint64_t)1 << 32)
#define STEP_DEL (((uint64_t)1 << 32) | 1)
#define STEP_INS ((uint64_t)1 << 32)
#define CELL_INF ((uint64_t)1 << 63)    /* out of band; + a step cannot overflow */
#define WER_MAX_WORDS ((size_t)1 << 31) /* so real costs stay far below CELL_INF */

static inline wer_cell cell_min(wer_cell a, wer_cell b)
{
    return a < b ? a : b;
}

typedef struct {
    const char *p;
    size_t len;
} wer_word;

/* Split normalized text (single spaces, no leading/trailing) into words. *words is
 * NULL when there are none. */
static int split_words(const char *s, wer_word **words, size_t *n)
{
    *words = NULL;
    *n = 0;
    if (!*s)
        return 0;
    size_t count = 1;
    for (const char *p = s; *p; p++)
        count += *p == ' ';
    wer_word *w = malloc(count * sizeof *w);
    if (!w)
        return error_set(SOTTO_ENOMEM, "out of memory splitting %zu words", count);
    size_t k = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ' ' || !*p) {
            if (p > start) {
                w[k].p = start;
                w[k].len = (size_t)(p - start);
                k++;
            }
            if (!*p)
                break;
            start = p + 1;
        }
    }
    *words = w;
    *n = k;
    return 0;
}

static uint64_t hash_word(const wer_word *w)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < w->len; i++) {
        h ^= (unsigned char)w->p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Give every distinct word an id; ids[k] for the k-th word of ref then hyp. */
static int intern_words(const wer_word *words, size_t n, uint32_t *ids)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    int64_t *slots = malloc(cap * sizeof *slots); /* index of the first word with the id */
    if (!slots)
        return error_set(SOTTO_ENOMEM, "out of memory interning %zu words", n);
    for (size_t i = 0; i < cap; i++)
        slots[i] = -1;
    uint32_t next_id = 0;
    for (size_t k = 0; k < n; k++) {
        size_t h = (size_t)hash_word(&words[k]) & (cap - 1);
        for (;;) {
            if (slots[h] < 0) {
                slots[h] = (int64_t)k;
                ids[k] = next_id++;
                break;
            }
            const wer_word *o = &words[slots[h]];
            if (o->len == words[k].len && memcmp(o->p, words[k].p, o->len) == 0) {
                ids[k] = ids[slots[h]];
                break;
            }
            h = (h + 1) & (cap - 1);
        }
    }
    free(slots);
    return 0;
}

/* Levenshtein of ref[0..n) vs hyp[0..m) restricted to the band |i - j| <= k; rows are
 * caller scratch of m + 1 cells each. Returns the best in-band path into (n, m). */
static wer_cell align_band(const uint32_t *ref, size_t n, const uint32_t *hyp, size_t m, size_t k,
                           wer_cell *prev, wer_cell *cur)
{
    for (size_t j = 0; j <= m && j <= k; j++)
        prev[j] = (uint64_t)j << 32; /* j insertions */
    for (size_t i = 1; i <= n; i++) {
        size_t lo = i > k ? i - k : 0, hi = i + k < m ? i + k : m;
        /* cells just outside the band read as unreachable */
        if (i + k <= m)
            prev[i + k] = CELL_INF;
        if (lo > 0)
            cur[lo - 1] = CELL_INF;
        else
            cur[0] = prev[0] + STEP_DEL;
        uint32_t r = ref[i - 1];
        for (size_t j = lo > 0 ? lo : 1; j <= hi; j++) {
            wer_cell diag = prev[j - 1] + (r != hyp[j - 1] ? STEP_SUB : 0);
            wer_cell up = prev[j] + STEP_DEL;
            wer_cell left = cur[j - 1] + STEP_INS;
            cur[j] = cell_min(diag, cell_min(up, left));
        }
        wer_cell *t = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

/* Edit counts of ref vs hyp (word ids) into out. */
static int align(const uint32_t *ref, size_t n, const uint32_t *hyp, size_t m, sotto_wer *out)
{
    /* equal ends are matches in some optimal alignment; dropping them is free */
    while (n > 0 && m > 0 && ref[0] == hyp[0]) {
        ref++;
        hyp++;
        n--;
        m--;
    }
    while (n > 0 && m > 0 && ref[n - 1] == hyp[m - 1]) {
        n--;
        m--;
    }
    if (n == 0 || m == 0) {
        out->deletions = n;
        out->insertions = m;
        return 0;
    }
    wer_cell *rows = malloc(2 * (m + 1) * sizeof *rows); /* m < 2^31: checked by caller */
    if (!rows)
        return error_set(SOTTO_ENOMEM, "out of memory aligning %zu x %zu words", n, m);
    size_t longest = n > m ? n : m, shortest = n < m ? n : m;
    size_t delta = longest - shortest;
    /* A path that leaves the band |i - j| <= k reaches offset k + 1 and must come back to
     * offset m - n, so it has at least 2(k + 1) - delta insertions and deletions: an
     * in-band best no costlier than that is optimal. The diagonal path (substitutions,
     * then the length difference) bounds the cost, so k never needs to pass k_cap. */
    size_t diag_cost = delta;
    for (size_t i = 0; i < shortest; i++)
        diag_cost += ref[i] != hyp[i];
    size_t k_cap = (diag_cost + delta) / 2 + 1;
    if (k_cap > longest)
        k_cap = longest;
    size_t k = delta + 16;
    for (;;) {
        if (k > k_cap)
            k = k_cap;
        wer_cell c = align_band(ref, n, hyp, m, k, rows, rows + m + 1);
        if (CELL_COST(c) + delta <= 2 * (k + 1) || k == k_cap) {
            out->deletions = CELL_DEL(c);
            out->insertions = m + CELL_DEL(c) - n;
            out->substitutions = CELL_COST(c) - out->deletions - out->insertions;
            break;
        }
        k *= 2;
    }
    free(rows);
    return 0;
}

static void wer_rate(sotto_wer *w)
{
    size_t edits = w->substitutions + w->deletions + w->insertions;
    if (w->ref_words > 0)
        w->wer = (double)edits / (double)w->ref_words;
    else
        w->wer = w->hyp_words > 0 ? 1.0 : 0.0;
}

int sotto_text_wer(const char *ref, const char *hyp, sotto_wer *out)
{
    if (!ref || !hyp || !out)
        return error_set(SOTTO_EINVAL, "sotto_text_wer: reference, hypothesis and result "
                                       "must not be NULL");
    memset(out, 0, sizeof *out);
    char *nref = sotto_text_normalize(ref), *nhyp = sotto_text_normalize(hyp);
    wer_word *rw = NULL, *hw = NULL;
    uint32_t *ids = NULL;
    size_t n = 0, m = 0;
    int rc = 0;
    if (!nref || !nhyp)
        rc = error_set(SOTTO_ENOMEM, "out of memory normalizing text for WER");
    if (!rc)
        rc = split_words(nref, &rw, &n);
    if (!rc)
        rc = split_words(nhyp, &hw, &m);
    if (!rc && (n + m >= WER_MAX_WORDS || !(ids = malloc((n + m + 1) * sizeof *ids))))
        rc = error_set(SOTTO_ENOMEM, "out of memory scoring %zu + %zu words", n, m);
    if (!rc) {
        /* intern over one array so equal words in ref and hyp share an id */
        wer_word *all = malloc((n + m + 1) * sizeof *all);
        if (!all) {
            rc = error_set(SOTTO_ENOMEM, "out of memory scoring %zu + %zu words", n, m);
        } else {
            if (n)
                memcpy(all, rw, n * sizeof *all);
            if (m)
                memcpy(all + n, hw, m * sizeof *all);
            rc = intern_words(all, n + m, ids);
            free(all);
        }
    }
    if (!rc) {
        out->ref_words = n;
        out->hyp_words = m;
        rc = align(ids, n, ids + n, m, out);
    }
    if (!rc)
        wer_rate(out);
    else
        memset(out, 0, sizeof *out);
    free(ids);
    free(rw);
    free(hw);
    free(nref);
    free(nhyp);
    return rc;
}

void sotto_wer_add(sotto_wer *total, const sotto_wer *one)
{
    SOTTO_ASSERT(total && one);
    total->ref_words += one->ref_words;
    total->hyp_words += one->hyp_words;
    total->substitutions += one->substitutions;
    total->deletions += one->deletions;
    total->insertions += one->insertions;
    wer_rate(total);
}
