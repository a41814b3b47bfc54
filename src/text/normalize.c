/*
 * normalize.c - text normalization for scoring (WER) and matching.
 *
 * Two transcripts of the same speech differ in case, punctuation and how numbers are
 * written; none of that is a recognition error. This file maps text to a canonical form:
 * ASCII letters lower-cased (other UTF-8 letters kept as they are), punctuation and
 * hyphens turned into word breaks, apostrophes kept only inside words ("don't" stays,
 * "'quoted'" loses its quotes; typographic ’ counts as '), "%" read as "percent",
 * numbers spelled out (numbers.c), whitespace collapsed to single spaces. Invalid UTF-8
 * bytes are word breaks. It does not split or compare words (wer.c does).
 */
#include <stdint.h>
#include <string.h>

#include "base/base_int.h"
#include "sotto/text.h"
#include "text_int.h"

typedef enum { CH_LETTER, CH_DIGIT, CH_APOS, CH_PERCENT, CH_BREAK } char_class;

/* Decode one UTF-8 code point; 0 length for an invalid sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        v = c & 0x07;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Non-ASCII code points that are punctuation or spaces rather than letters: the common
 * ones in transcripts (typographic quotes, dashes, ellipsis, CJK and fullwidth marks). */
static char_class classify_unicode(uint32_t cp)
{
    if (cp == 0x2019 || cp == 0x2018 || cp == 0x02BC)
        return CH_APOS;
    if (cp == 0xFF05)
        return CH_PERCENT;
    if (cp < 0xA0 || /* C1 controls */
        cp == 0xA0 || cp == 0xA1 || cp == 0xA7 || cp == 0xAB || cp == 0xB6 || cp == 0xB7 ||
        cp == 0xBB || cp == 0xBF ||       /* Latin-1 punctuation */
        (cp >= 0x2000 && cp <= 0x206F) || /* general punctuation, spaces */
        (cp >= 0x3000 && cp <= 0x3003) || /* ideographic space, 、 。 */
        (cp >= 0x3008 && cp <= 0x3011) || /* CJK brackets */
        (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
        cp == 0xFEFF) /* byte order mark */
        return CH_BREAK;
    return CH_LETTER;
}

/* Class of the character at s (n bytes left) and its length in bytes (>= 1). */
static char_class classify(const char *s, size_t n, size_t *len)
{
    unsigned char c = (unsigned char)s[0];
    *len = 1;
    if (c >= 'a' && c <= 'z')
        return CH_LETTER;
    if (c >= 'A' && c <= 'Z')
        return CH_LETTER;
    if (c >= '0' && c <= '9')
        return CH_DIGIT;
    if (c == '\'')
        return CH_APOS;
    if (c == '%')
        return CH_PERCENT;
    if (c < 0x80)
        return CH_BREAK; /* space, hyphen, every other ASCII punctuation and control */
    uint32_t cp;
    size_t l = utf8_decode((const unsigned char *)s, n, &cp);
    if (l == 0)
        return CH_BREAK; /* an invalid byte splits words and is dropped */
    *len = l;
    return classify_unicode(cp);
}

/* A single space unless out is empty or already ends in one. */
static int put_break(sotto_buf *out)
{
    if (out->len == 0 || out->data[out->len - 1] == ' ')
        return 0;
    return sotto_buf_putc(out, ' ');
}

char *sotto_text_normalize(const char *text)
{
    sotto_buf out = SOTTO_BUF_INIT;
    const char *s = text ? text : "";
    size_t n = strlen(s);
    int rc = sotto_buf_puts(&out, ""); /* so an empty input still gives "" */
    for (size_t i = 0; i < n && !rc;) {
        size_t len, used = 1;
        switch (classify(s + i, n - i, &len)) {
        case CH_LETTER:
            if (len == 1) {
                char c = s[i];
                rc = sotto_buf_putc(&out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
            } else {
                rc = sotto_buf_append(&out, s + i, len);
            }
            break;
        case CH_DIGIT:
            rc = put_break(&out);
            if (!rc)
                rc = text_spell_number(&out, s + i, n - i, &used);
            if (!rc)
                rc = put_break(&out);
            len = used;
            break;
        case CH_APOS: {
            /* kept only between a letter already written and a letter that follows */
            size_t next_len;
            int inside = out.len > 0 && out.data[out.len - 1] != ' ' && i + len < n &&
                         classify(s + i + len, n - i - len, &next_len) == CH_LETTER;
            rc = inside ? sotto_buf_putc(&out, '\'') : put_break(&out);
            break;
        }
        case CH_PERCENT:
            rc = put_break(&out);
            if (!rc)
                rc = sotto_buf_puts(&out, "percent ");
            break;
        case CH_BREAK: rc = put_break(&out); break;
        }
        i += len;
    }
    if (rc) {
        sotto_buf_free(&out);
        return NULL;
    }
    if (out.len > 0 && out.data[out.len - 1] == ' ')
        out.data[--out.len] = '\0';
    return sotto_buf_steal(&out);
}
