/*
 * format.c - output format names and the plain renderers: txt, json, tsv.
 *
 * sotto_transcript_write() dispatches on the format; subtitles (srt, vtt) live in
 * subtitles.c because cue layout is a concern of its own. Every renderer appends to a
 * caller-owned capped buffer, so a failure (cap reached, out of memory) returns the
 * buffer's error code and leaves whatever was appended so far.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "base/base_int.h"
#include "transcript_int.h"

static const struct {
    const char *name;
    sotto_format format;
} formats[] = {
    {"txt", SOTTO_FORMAT_TXT}, {"json", SOTTO_FORMAT_JSON}, {"srt", SOTTO_FORMAT_SRT},
    {"vtt", SOTTO_FORMAT_VTT}, {"tsv", SOTTO_FORMAT_TSV},
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

const char *transcript_trim(const char *s, size_t *len)
{
    if (!s) {
        *len = 0;
        return "";
    }
    while (is_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

long long transcript_ms(double seconds)
{
    if (!isfinite(seconds) || seconds <= 0)
        return 0;
    double ms = round(seconds * 1000.0);
    /* ~292 million years: anything beyond is garbage, clamp instead of overflowing */
    if (ms > 9.0e18)
        return 9000000000000000000LL;
    return (long long)ms;
}

int sotto_format_parse(const char *list, unsigned *mask)
{
    SOTTO_ASSERT(mask);
    *mask = 0;
    if (!list)
        return error_set(SOTTO_EINVAL, "no output format given (choose from txt, json, srt, "
                                       "vtt, tsv)");
    unsigned m = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *name = p;
        while (n > 0 && is_space((unsigned char)*name)) {
            name++;
            n--;
        }
        while (n > 0 && is_space((unsigned char)name[n - 1]))
            n--;
        if (n == 0)
            return error_set(SOTTO_EINVAL,
                             "empty format name in '%.64s' (choose from txt, "
                             "json, srt, vtt, tsv)",
                             list);
        size_t k = 0;
        while (k < N_FORMATS &&
               !(strlen(formats[k].name) == n && strncasecmp(formats[k].name, name, n) == 0))
            k++;
        if (k == N_FORMATS)
            return error_set(SOTTO_EINVAL,
                             "unknown format '%.*s' (choose from txt, json, srt, vtt, tsv)",
                             (int)(n > 64 ? 64 : n), name);
        m |= (unsigned)formats[k].format;
        if (!comma)
            break;
        p = comma + 1;
    }
    *mask = m;
    return 0;
}

const char *sotto_format_ext(sotto_format f)
{
    for (size_t k = 0; k < N_FORMATS; k++)
        if (formats[k].format == f)
            return formats[k].name;
    return NULL;
}

/* Append n bytes of s with every tab, CR and LF turned into a space, so one segment
 * stays one line (txt) or one field (tsv). */
static int put_one_line(sotto_buf *out, const char *s, size_t n)
{
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && !rc; i++) {
        if (i == n || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
            rc = sotto_buf_append(out, s + start, i - start);
            if (!rc && i < n)
                rc = sotto_buf_putc(out, ' ');
            start = i + 1;
        }
    }
    return rc;
}

/* txt: one line per non-empty segment, trimmed. */
static int write_txt(const sotto_transcript *t, sotto_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        size_t n;
        const char *s = transcript_trim(t->segments[i].text, &n);
        if (n == 0)
            continue;
        rc = put_one_line(out, s, n);
        if (!rc)
            rc = sotto_buf_putc(out, '\n');
    }
    return rc;
}

/* tsv: whisper's layout, integer milliseconds; empty segments skipped. */
static int write_tsv(const sotto_transcript *t, sotto_buf *out)
{
    int rc = sotto_buf_puts(out, "start\tend\ttext\n");
    for (size_t i = 0; i < t->n_segments && !rc; i++) {
        const sotto_segment *seg = &t->segments[i];
        size_t n;
        const char *s = transcript_trim(seg->text, &n);
        if (n == 0)
            continue;
        long long t0 = transcript_ms(seg->start), t1 = transcript_ms(seg->end);
        if (t1 < t0)
            t1 = t0;
        rc = sotto_buf_printf(out, "%lld\t%lld\t", t0, t1);
        if (!rc)
            rc = put_one_line(out, s, n);
        if (!rc)
            rc = sotto_buf_putc(out, '\n');
    }
    return rc;
}

/* "key": prefixed by a comma (all keys here follow another). */
static int json_key(sotto_buf *out, const char *key)
{
    int rc = sotto_buf_putc(out, ',');
    if (!rc)
        rc = sotto_buf_json_string(out, key);
    return rc ? rc : sotto_buf_putc(out, ':');
}

static int json_num(sotto_buf *out, const char *key, double v, int digits)
{
    int rc = json_key(out, key);
    return rc ? rc : sotto_buf_json_number(out, v, digits);
}

static int json_words(sotto_buf *out, const sotto_segment *seg)
{
    int rc = json_key(out, "words");
    if (!rc)
        rc = sotto_buf_putc(out, '[');
    for (size_t w = 0; w < seg->n_words && !rc; w++) {
        const sotto_word *wd = &seg->words[w];
        rc = sotto_buf_puts(out, w ? ",{\"word\":" : "{\"word\":");
        if (!rc)
            rc = sotto_buf_json_string(out, wd->word);
        if (!rc)
            rc = json_num(out, "start", wd->start, 3);
        if (!rc)
            rc = json_num(out, "end", wd->end, 3);
        if (!rc)
            rc = json_num(out, "probability", wd->probability, 4);
        if (!rc)
            rc = sotto_buf_putc(out, '}');
    }
    return rc ? rc : sotto_buf_putc(out, ']');
}

static int json_segment(sotto_buf *out, const sotto_segment *seg, size_t index)
{
    int rc = sotto_buf_printf(out, "%s{\"id\":%d", index ? "," : "", seg->id);
    if (!rc)
        rc = json_num(out, "start", seg->start, 3);
    if (!rc)
        rc = json_num(out, "end", seg->end, 3);
    if (!rc)
        rc = json_key(out, "text");
    if (!rc)
        rc = sotto_buf_json_string(out, seg->text);
    if (!rc)
        rc = json_key(out, "tokens");
    if (!rc)
        rc = sotto_buf_putc(out, '[');
    for (size_t k = 0; seg->tokens && k < seg->n_tokens && !rc; k++)
        rc = sotto_buf_printf(out, k ? ",%ld" : "%ld", (long)seg->tokens[k]);
    if (!rc)
        rc = sotto_buf_putc(out, ']');
    if (!rc)
        rc = json_num(out, "avg_logprob", seg->avg_logprob, 4);
    if (!rc)
        rc = json_num(out, "no_speech_prob", seg->no_speech_prob, 4);
    if (!rc)
        rc = json_num(out, "compression_ratio", seg->compression_ratio, 4);
    if (!rc)
        rc = json_num(out, "temperature", seg->temperature, 4);
    if (!rc)
        rc = json_num(out, "confidence", seg->confidence, 4);
    /* speaker fields only once diarization has said something */
    if (!rc && seg->speaker >= 0) {
        rc = json_key(out, "speaker");
        if (!rc)
            rc = sotto_buf_printf(out, "%d", seg->speaker);
    }
    if (!rc && seg->speaker_name) {
        rc = json_key(out, "speaker_name");
        if (!rc)
            rc = sotto_buf_json_string(out, seg->speaker_name);
    }
    if (!rc && seg->words && seg->n_words)
        rc = json_words(out, seg);
    return rc ? rc : sotto_buf_putc(out, '}');
}

/* json: close to OpenAI's verbose_json, one line, newline-terminated. */
static int write_json(const sotto_transcript *t, sotto_buf *out)
{
    char *text = sotto_transcript_text(t);
    if (!text)
        return error_set(SOTTO_ENOMEM, "out of memory joining the transcript text");
    int rc = sotto_buf_puts(out, "{\"text\":");
    if (!rc)
        rc = sotto_buf_json_string(out, text);
    free(text);
    if (!rc)
        rc = json_key(out, "language");
    if (!rc) {
        char lang[sizeof t->language + 1];
        memcpy(lang, t->language, sizeof t->language);
        lang[sizeof t->language] = '\0'; /* the field may be unterminated in bad input */
        rc = sotto_buf_json_string(out, lang);
    }
    if (!rc)
        rc = json_num(out, "duration", t->duration, 3);
    if (!rc)
        rc = json_key(out, "segments");
    if (!rc)
        rc = sotto_buf_putc(out, '[');
    for (size_t i = 0; i < t->n_segments && !rc; i++)
        rc = json_segment(out, &t->segments[i], i);
    return rc ? rc : sotto_buf_puts(out, "]}\n");
}

int sotto_transcript_write(const sotto_transcript *t, sotto_format f, sotto_buf *out)
{
    SOTTO_ASSERT(t && out);
    switch (f) {
    case SOTTO_FORMAT_TXT: return write_txt(t, out);
    case SOTTO_FORMAT_JSON: return write_json(t, out);
    case SOTTO_FORMAT_SRT: return transcript_write_srt(t, out);
    case SOTTO_FORMAT_VTT: return transcript_write_vtt(t, out);
    case SOTTO_FORMAT_TSV: return write_tsv(t, out);
    }
    return error_set(SOTTO_EINVAL,
                     "unknown output format %d (choose one of txt, json, srt, "
                     "vtt, tsv)",
                     (int)f);
}
