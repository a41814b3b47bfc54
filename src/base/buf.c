/*
 * buf.c - growable byte buffer with a hard cap, plus JSON string/number encoding.
 *
 * The cap exists so that no producer (a hostile upload, a runaway decoder) can grow a
 * buffer without bound: appends past max_len fail with SOTTO_ENOMEM and leave the
 * buffer as it was. A failure is sticky (buf.h): later appends fail without writing,
 * so a document is either whole or reported as failed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base_int.h"
#include "sotto/buf.h"

#define BUF_DEFAULT_MAX ((size_t)256 << 20)

void sotto_buf_init(sotto_buf *b, size_t max_len)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max_len = max_len;
    b->failed = 0;
}

void sotto_buf_free(sotto_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void sotto_buf_reset(sotto_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data)
        b->data[0] = '\0';
}

/* Make room for n more bytes plus the terminator. */
static int buf_reserve(sotto_buf *b, size_t n)
{
    if (b->failed) /* the first failure's message stays the thread's last error */
        return SOTTO_ENOMEM;
    size_t max = b->max_len ? b->max_len : BUF_DEFAULT_MAX;
    if (n > max || b->len > max - n) {
        b->failed = 1;
        return error_set(SOTTO_ENOMEM, "output too large (limit %zu bytes)", max);
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return error_set(SOTTO_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sotto_buf_append(sotto_buf *b, const void *data, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sotto_buf_puts(sotto_buf *b, const char *s) { return sotto_buf_append(b, s, strlen(s)); }

int sotto_buf_putc(sotto_buf *b, char c) { return sotto_buf_append(b, &c, 1); }

int sotto_buf_vprintf(sotto_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->failed = 1;
        return error_set(SOTTO_EINVAL, "bad format string");
    }
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sotto_buf_printf(sotto_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sotto_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid. */
static size_t utf8_valid_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    /* reject overlong forms, surrogates and out-of-range code points */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

int sotto_buf_json_string(sotto_buf *b, const char *s)
{
    int rc = sotto_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (!rc && *p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = sotto_buf_append(b, esc, 2);
            p++;
        } else if (c < 0x20) {
            switch (c) {
            case '\n': rc = sotto_buf_puts(b, "\\n"); break;
            case '\r': rc = sotto_buf_puts(b, "\\r"); break;
            case '\t': rc = sotto_buf_puts(b, "\\t"); break;
            default: rc = sotto_buf_printf(b, "\\u%04x", c); break;
            }
            p++;
        } else {
            size_t n = utf8_valid_len(p);
            if (n == 0) {
                rc = sotto_buf_puts(b, "\xEF\xBF\xBD"); /* U+FFFD */
                p++;
            } else {
                rc = sotto_buf_append(b, p, n);
                p += n;
            }
        }
    }
    return rc ? rc : sotto_buf_putc(b, '"');
}

int sotto_buf_json_number(sotto_buf *b, double v, int digits)
{
    if (!isfinite(v))
        return sotto_buf_puts(b, "null");
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f", digits, v);
    /* trim trailing zeros ("1.500" -> "1.5", "2.000" -> "2") for compact output */
    if (strchr(tmp, '.')) {
        size_t n = strlen(tmp);
        while (n > 0 && tmp[n - 1] == '0')
            tmp[--n] = '\0';
        if (n > 0 && tmp[n - 1] == '.')
            tmp[--n] = '\0';
    }
    if (strcmp(tmp, "-0") == 0)
        return sotto_buf_puts(b, "0");
    return sotto_buf_puts(b, tmp);
}

char *sotto_buf_steal(sotto_buf *b)
{
    char *d = b->data;
    if (!d)
        d = str_dup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}
