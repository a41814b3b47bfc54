/*
 * subtitles.c - SRT and WebVTT output with readable cue layout.
 *
 * A recognizer's segment can be far longer than a viewer can read in one subtitle, so
 * each segment is laid out into cues of at most SUB_MAX_LINES lines of at most
 * SUB_LINE_CHARS characters (UTF-8 code points), broken only at whitespace: a single word
 * longer than a line stays whole on a line of its own. When a segment needs several cues
 * the words are spread so cues come out about equally long (preferring to end a cue or
 * line after a sentence or clause mark), and its time span is split
 * between them: by word timings when the segment's words match its text one-to-one, by
 * share of characters otherwise. This file owns only layout and rendering; segment
 * contents come from the transcript as they are.
 */
#include <string.h>

#include "base/base_int.h"
#include "transcript_int.h"

#define SUB_LINE_CHARS 42
#define SUB_MAX_LINES 2

typedef struct {
    const char *p; /* into the segment text */
    size_t len;    /* bytes */
    size_t chars;  /* code points */
    double t0, t1; /* word timing, when has_times */
} sub_unit;

typedef struct {
    sub_unit *units;
    size_t n_units;
    size_t *cues_from; /* (n_units + 1) fewest cues that can hold units[i..] */
    size_t *prefix;    /* (n_units + 1) chars of units[0..i), spaces not counted */
    int has_times;
} sub_layout;

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* Characters of units[a..b) joined by single spaces. */
static size_t span_chars(const sub_layout *l, size_t a, size_t b)
{
    return b > a ? l->prefix[b] - l->prefix[a] + (b - a - 1) : 0;
}

/* How many units starting at i fit in one cue when lines are filled greedily. Greedy
 * filling maximizes the units per cue, so it also gives the fewest cues overall. */
static size_t cue_fit(const sub_layout *l, size_t i)
{
    size_t j = i;
    for (int line = 0; line < SUB_MAX_LINES && j < l->n_units; line++) {
        size_t len = l->units[j++].chars; /* a line always takes its first word */
        while (j < l->n_units && len + 1 + l->units[j].chars <= SUB_LINE_CHARS)
            len += 1 + l->units[j++].chars;
    }
    return j - i;
}

/* Split the trimmed text into words and, when the words carry times that match them one
 * to one, attach those times. */
static int layout_build(sub_layout *l, const sotto_segment *seg, const char *s, size_t n)
{
    memset(l, 0, sizeof *l);
    size_t max_units = n / 2 + 1;
    l->units = malloc(max_units * sizeof *l->units);
    l->cues_from = malloc((max_units + 1) * sizeof *l->cues_from);
    l->prefix = malloc((max_units + 1) * sizeof *l->prefix);
    if (!l->units || !l->cues_from || !l->prefix)
        return error_set(SOTTO_ENOMEM, "out of memory laying out subtitles");
    for (size_t i = 0; i < n;) {
        while (i < n && is_space((unsigned char)s[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space((unsigned char)s[i]))
            i++;
        if (i > start) {
            sub_unit *u = &l->units[l->n_units++];
            u->p = s + start;
            u->len = i - start;
            u->chars = utf8_chars(u->p, u->len);
            u->t0 = u->t1 = 0;
        }
    }
    l->prefix[0] = 0;
    for (size_t i = 0; i < l->n_units; i++)
        l->prefix[i + 1] = l->prefix[i] + l->units[i].chars;
    l->cues_from[l->n_units] = 0;
    for (size_t i = l->n_units; i-- > 0;)
        l->cues_from[i] = 1 + l->cues_from[i + cue_fit(l, i)];

    /* Word timings are used only when they line up with the text's words: recognizers
     * differ in how they split punctuation and scripts without spaces, and a guessed
     * alignment would put wrong times on screen. */
    size_t n_timed = 0;
    for (size_t w = 0; seg->words && w < seg->n_words; w++) {
        size_t wl;
        transcript_trim(seg->words[w].word, &wl);
        n_timed += wl > 0;
    }
    if (n_timed > 0 && n_timed == l->n_units) {
        size_t k = 0;
        for (size_t w = 0; w < seg->n_words; w++) {
            size_t wl;
            transcript_trim(seg->words[w].word, &wl);
            if (wl == 0)
                continue;
            l->units[k].t0 = seg->words[w].start;
            l->units[k].t1 = seg->words[w].end;
            k++;
        }
        l->has_times = 1;
    }
    return 0;
}

static void layout_free(sub_layout *l)
{
    free(l->units);
    free(l->cues_from);
    free(l->prefix);
}

/* How much shorter or unevener a cue or line may come out so that it ends at the end of
 * a sentence or clause, where viewers expect a break. */
static double break_bonus(const sub_unit *u)
{
    char c = u->p[u->len - 1];
    if (c == '.' || c == '?' || c == '!')
        return 10;
    if (c == ',' || c == ';' || c == ':')
        return 5;
    return 0;
}

/* Units for the next cue starting at pos when `left` cues remain: about an equal share
 * of the remaining characters, while the rest still fits in left - 1 cues. */
static size_t cue_take(const sub_layout *l, size_t pos, size_t left)
{
    size_t kmax = cue_fit(l, pos);
    if (left <= 1)
        return kmax;
    double target = (double)span_chars(l, pos, l->n_units) / (double)left;
    size_t best = kmax;
    double best_diff = 0;
    for (size_t k = kmax; k >= 1; k--) {
        if (l->cues_from[pos + k] > left - 1)
            break; /* fewer units leave too many for the remaining cues */
        double d = (double)span_chars(l, pos, pos + k) - target;
        d = (d < 0 ? -d : d) - break_bonus(&l->units[pos + k - 1]);
        if (k == kmax || d < best_diff) {
            best = k;
            best_diff = d;
        }
    }
    return best;
}

/* Where the cue units[a..b) breaks into its second line (b when it is one line): the
 * split with the shorter longest line, helped by a clause end; on a tie the shorter top
 * line, as subtitle guides prefer. */
static size_t cue_break(const sub_layout *l, size_t a, size_t b)
{
    if (span_chars(l, a, b) <= SUB_LINE_CHARS)
        return b;
    size_t best = b;
    double best_score = 0;
    for (size_t s = a + 1; s < b; s++) {
        size_t c1 = span_chars(l, a, s), c2 = span_chars(l, s, b);
        int ok1 = c1 <= SUB_LINE_CHARS || s - a == 1;
        int ok2 = c2 <= SUB_LINE_CHARS || b - s == 1;
        double score = (double)(c1 > c2 ? c1 : c2) - break_bonus(&l->units[s - 1]);
        if (ok1 && ok2 && (best == b || score < best_score)) {
            best = s;
            best_score = score;
        }
    }
    return best;
}

static int put_time(sotto_buf *out, long long ms, char frac_sep)
{
    long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, f = ms % 1000;
    return sotto_buf_printf(out, "%02lld:%02lld:%02lld%c%03lld", h, m, s, frac_sep, f);
}

/* Cue text bytes; VTT escapes the characters that would start markup (which also keeps
 * a "-->" in the text from reading as a timing line). */
static int put_text(sotto_buf *out, const char *p, size_t n, int vtt)
{
    if (!vtt)
        return sotto_buf_append(out, p, n);
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const char *esc = p[i] == '&'   ? "&amp;"
                          : p[i] == '<' ? "&lt;"
                          : p[i] == '>' ? "&gt;"
                                        : NULL;
        if (!esc)
            continue;
        rc = sotto_buf_append(out, p + start, i - start);
        if (!rc)
            rc = sotto_buf_puts(out, esc);
        start = i + 1;
    }
    return rc ? rc : sotto_buf_append(out, p + start, n - start);
}

static int put_units(sotto_buf *out, const sub_layout *l, size_t a, size_t b, int vtt)
{
    int rc = 0;
    for (size_t i = a; i < b && !rc; i++) {
        if (i > a)
            rc = sotto_buf_putc(out, ' ');
        if (!rc)
            rc = put_text(out, l->units[i].p, l->units[i].len, vtt);
    }
    return rc;
}

/* Render one segment's cues; *cue_no numbers SRT cues across the whole file. */
static int write_segment(sotto_buf *out, const sotto_segment *seg, int vtt, size_t *cue_no)
{
    size_t n;
    const char *s = transcript_trim(seg->text, &n);
    if (n == 0)
        return 0;
    sub_layout l;
    int rc = layout_build(&l, seg, s, n);
    size_t n_cues = rc ? 0 : l.cues_from[0];
    double span = seg->end > seg->start ? seg->end - seg->start : 0;
    double total_chars = 0;
    for (size_t pos = 0, left = n_cues; !rc && pos < l.n_units; left--) {
        size_t end = pos + cue_take(&l, pos, left);
        total_chars += (double)span_chars(&l, pos, end);
        pos = end;
    }

    double done_chars = 0;
    long long prev_end = 0;
    for (size_t pos = 0, left = n_cues, c = 0; !rc && pos < l.n_units; left--, c++) {
        size_t k = cue_take(&l, pos, left), end = pos + k;
        size_t chars = span_chars(&l, pos, end);
        double t0, t1;
        if (n_cues == 1) {
            t0 = seg->start;
            t1 = seg->end;
        } else if (l.has_times) {
            t0 = l.units[pos].t0;
            t1 = l.units[end - 1].t1;
        } else {
            t0 = seg->start + span * done_chars / total_chars;
            t1 = seg->start + span * (done_chars + (double)chars) / total_chars;
        }
        done_chars += (double)chars;
        long long ms0 = transcript_ms(t0), ms1 = transcript_ms(t1);
        if (c > 0 && ms0 < prev_end)
            ms0 = prev_end; /* cues of one segment never overlap */
        if (ms1 < ms0)
            ms1 = ms0;
        prev_end = ms1;

        if (!vtt)
            rc = sotto_buf_printf(out, "%zu\n", ++*cue_no);
        if (!rc)
            rc = put_time(out, ms0, vtt ? '.' : ',');
        if (!rc)
            rc = sotto_buf_puts(out, " --> ");
        if (!rc)
            rc = put_time(out, ms1, vtt ? '.' : ',');
        if (!rc)
            rc = sotto_buf_putc(out, '\n');
        size_t br = cue_break(&l, pos, end);
        if (!rc)
            rc = put_units(out, &l, pos, br, vtt);
        if (!rc && br < end) {
            rc = sotto_buf_putc(out, '\n');
            if (!rc)
                rc = put_units(out, &l, br, end, vtt);
        }
        if (!rc)
            rc = sotto_buf_puts(out, "\n\n");
        pos = end;
    }
    layout_free(&l);
    return rc;
}

int transcript_write_srt(const sotto_transcript *t, sotto_buf *out)
{
    size_t cue_no = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_segments && !rc; i++)
        rc = write_segment(out, &t->segments[i], 0, &cue_no);
    return rc;
}

int transcript_write_vtt(const sotto_transcript *t, sotto_buf *out)
{
    size_t cue_no = 0;
    int rc = sotto_buf_puts(out, "WEBVTT\n\n");
    for (size_t i = 0; i < t->n_segments && !rc; i++)
        rc = write_segment(out, &t->segments[i], 1, &cue_no);
    return rc;
}
