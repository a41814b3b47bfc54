/*
 * multipart_header.c - header syntax for multipart/form-data: the boundary parameter of
 * the request's Content-Type, each part's header lines, and Content-Disposition with
 * quoted-string escapes (RFC 7230) and RFC 5987 filename*= values.
 *
 * Every value here comes from the client, so each parse is bounded by the length given
 * and fails with a one-line "multipart: ..." message. The streaming body parser is in
 * multipart.c.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "base/json_int.h"
#include "multipart.h"

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && is_tchar((unsigned char)*q))
        q++;
    return (size_t)(q - p);
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

static int ieq(const char *a, size_t a_len, const char *b)
{
    size_t b_len = strlen(b);
    if (a_len != b_len)
        return 0;
    for (size_t i = 0; i < a_len; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

static char *mem_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int no_memory(void)
{
    return error_set(SOTTO_ENOMEM, "multipart: out of memory");
}

/* Read `OWS ";" OWS name "=" (token / quoted-string)` at *pp. 1 with a parameter (value
 * decoded into a malloc'd string), 0 at the end of the header value, or an error. `what`
 * names the header in messages. */
static int next_param(const char **pp, const char *end, const char *what, const char **name,
                      size_t *name_len, char **value, size_t *value_len)
{
    const char *p = *pp;
    for (;;) {
        skip_ows(&p, end);
        if (p >= end) {
            *pp = p;
            return 0;
        }
        if (*p != ';')
            return error_set(SOTTO_EFORMAT, "multipart: expected ';' between %s parameters", what);
        p++;
        skip_ows(&p, end);
        if (p >= end) { /* a trailing ';' is harmless */
            *pp = p;
            return 0;
        }
        if (*p != ';')
            break;
    }
    size_t nl = token_len(p, end);
    if (nl == 0)
        return error_set(SOTTO_EFORMAT, "multipart: malformed %s parameter", what);
    *name = p;
    *name_len = nl;
    p += nl;
    skip_ows(&p, end);
    if (p >= end || *p != '=')
        return error_set(SOTTO_EFORMAT, "multipart: %s parameter '%.*s' has no value", what,
                         (int)nl, *name);
    p++;
    skip_ows(&p, end);
    if (p < end && *p == '"') {
        char *buf = malloc((size_t)(end - p)), *w = buf;
        if (!buf)
            return no_memory();
        for (p++;; p++) {
            if (p >= end) {
                free(buf);
                return error_set(SOTTO_EFORMAT, "multipart: unterminated quoted string in %s", what);
            }
            unsigned char c = (unsigned char)*p;
            if (c == '"')
                break;
            if (c == '\\' && p + 1 < end)
                c = (unsigned char)*++p;
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                free(buf);
                return error_set(SOTTO_EFORMAT, "multipart: control character in %s", what);
            }
            *w++ = (char)c;
        }
        p++;
        *value_len = (size_t)(w - buf);
        *w = '\0';
        *value = buf;
    } else {
        size_t vl = token_len(p, end);
        if (vl == 0)
            return error_set(SOTTO_EFORMAT, "multipart: %s parameter '%.*s' has no value", what,
                             (int)nl, *name);
        if (!(*value = mem_dup(p, vl)))
            return no_memory();
        *value_len = vl;
        p += vl;
    }
    *pp = p;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 5987 ext-value: charset "'" [language] "'" pct-encoded value, UTF-8 or ISO-8859-1. */
static int decode_ext_value(const char *v, size_t n, char **out)
{
    const char *end = v + n, *q1 = memchr(v, '\'', n);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', (size_t)(end - q1 - 1)) : NULL;
    if (!q2)
        return error_set(SOTTO_EFORMAT, "multipart: filename* is not charset'language'value");
    int latin1 = ieq(v, (size_t)(q1 - v), "iso-8859-1");
    if (!latin1 && !ieq(v, (size_t)(q1 - v), "utf-8"))
        return error_set(SOTTO_EFORMAT, "multipart: filename* charset '%.*s' is not supported",
                         (int)(q1 - v), v);
    char *buf = malloc(2 * (size_t)(end - q2) + 1), *w = buf; /* latin-1 doubles at most */
    if (!buf)
        return no_memory();
    for (const char *p = q2 + 1; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = -1, lo = -1;
            if (end - p >= 3) {
                hi = hexval(p[1]);
                lo = hexval(p[2]);
            }
            if (hi < 0 || lo < 0) {
                free(buf);
                return error_set(SOTTO_EFORMAT, "multipart: bad %%-escape in filename*");
            }
            c = (unsigned char)(hi * 16 + lo);
            p += 2;
        } else if (!is_tchar(c) || c == '*' || c == '\'') {
            free(buf);
            return error_set(SOTTO_EFORMAT, "multipart: invalid character in filename*");
        }
        if (c < 0x20 || c == 0x7f) {
            free(buf);
            return error_set(SOTTO_EFORMAT, "multipart: control character in filename*");
        }
        if (latin1 && c >= 0x80) {
            *w++ = (char)(0xC0 | (c >> 6));
            *w++ = (char)(0x80 | (c & 0x3F));
        } else {
            *w++ = (char)c;
        }
    }
    *w = '\0';
    if (!json_utf8_valid(buf, (size_t)(w - buf))) {
        free(buf);
        return error_set(SOTTO_EFORMAT, "multipart: filename* is not valid UTF-8");
    }
    *out = buf;
    return 0;
}

void multipart_disposition_free(multipart_disposition *d)
{
    if (!d)
        return;
    free(d->type);
    free(d->name);
    free(d->filename);
    memset(d, 0, sizeof *d);
}

int multipart_disposition_parse(const char *value, size_t len, multipart_disposition *out)
{
    static const char what[] = "Content-Disposition";
    memset(out, 0, sizeof *out);
    const char *p = value, *end = value + len;
    char *plain = NULL, *ext = NULL, *val = NULL;
    const char *pname;
    size_t pname_len, val_len;
    int rc;
    skip_ows(&p, end);
    size_t tl = token_len(p, end);
    if (tl == 0)
        return error_set(SOTTO_EFORMAT, "multipart: Content-Disposition has no type");
    if (!(out->type = mem_dup(p, tl)))
        return no_memory();
    for (size_t i = 0; i < tl; i++)
        out->type[i] = (char)tolower((unsigned char)out->type[i]);
    p += tl;
    while ((rc = next_param(&p, end, what, &pname, &pname_len, &val, &val_len)) == 1) {
        char **slot = NULL;
        if (ieq(pname, pname_len, "name"))
            slot = &out->name;
        else if (ieq(pname, pname_len, "filename"))
            slot = &plain;
        else if (ieq(pname, pname_len, "filename*"))
            slot = &ext;
        if (!slot) { /* unknown parameters are ignored (RFC 7578 4.2) */
            free(val);
            continue;
        }
        if (*slot) {
            free(val);
            rc = error_set(SOTTO_EFORMAT, "multipart: Content-Disposition repeats '%.*s'",
                           (int)pname_len, pname);
            break;
        }
        if (slot == &ext) {
            rc = decode_ext_value(val, val_len, slot);
            free(val);
            if (rc != 0)
                break;
        } else {
            *slot = val;
            if (!json_utf8_valid(val, val_len)) {
                rc = error_set(SOTTO_EFORMAT, "multipart: Content-Disposition %.*s is not valid UTF-8",
                               (int)pname_len, pname);
                break;
            }
        }
        val = NULL;
    }
    if (rc < 0) {
        free(plain);
        free(ext);
        multipart_disposition_free(out);
        return rc;
    }
    if (ext) { /* filename* wins over filename (RFC 6266 4.3) */
        free(plain);
        out->filename = ext;
    } else {
        out->filename = plain;
    }
    return 0;
}

/* RFC 2046 bchars, 1..70 of them, not ending in a space. */
int multipart_boundary_valid(const char *b, size_t n)
{
    if (n < 1 || n > MULTIPART_BOUNDARY_MAX || b[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (!isalnum(c) && !strchr("'()+_,-./:=? ", c))
            return 0;
    }
    return 1;
}

int multipart_boundary(const char *content_type, char *out, size_t cap)
{
    static const char what[] = "Content-Type";
    if (!content_type)
        return error_set(SOTTO_EFORMAT, "multipart: no Content-Type header");
    const char *p = content_type, *end = p + strlen(p);
    skip_ows(&p, end);
    size_t tl = token_len(p, end);
    if (!ieq(p, tl, "multipart") || p + tl >= end || p[tl] != '/' ||
        !ieq(p + tl + 1, token_len(p + tl + 1, end), "form-data"))
        return error_set(SOTTO_EFORMAT, "multipart: Content-Type is not multipart/form-data");
    p += tl + 1 + strlen("form-data");
    const char *name;
    size_t name_len, val_len;
    char *val;
    int rc, found = 0;
    while ((rc = next_param(&p, end, what, &name, &name_len, &val, &val_len)) == 1) {
        if (ieq(name, name_len, "boundary") && !found) {
            found = 1;
            if (!multipart_boundary_valid(val, val_len))
                rc = error_set(SOTTO_EFORMAT, "multipart: invalid boundary (1 to 70 letters, digits or '()+_,-./:=? )");
            else if (val_len + 1 > cap)
                rc = error_set(SOTTO_EINVAL, "multipart: boundary longer than %zu bytes", cap - 1);
            else
                memcpy(out, val, val_len + 1);
        }
        free(val);
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!found)
        return error_set(SOTTO_EFORMAT, "multipart: Content-Type has no boundary parameter");
    return 0;
}

int multipart_header_line(const char *line, size_t n, multipart_disposition *disp,
                          char **content_type)
{
    const char *end = line + n;
    if (line[0] == ' ' || line[0] == '\t')
        return error_set(SOTTO_EFORMAT, "multipart: folded part header lines are not supported");
    size_t nl = token_len(line, end);
    if (nl == 0 || nl == n || line[nl] != ':')
        return error_set(SOTTO_EFORMAT, "multipart: malformed part header line '%.*s'",
                         (int)(n < 60 ? n : 60), line);
    const char *v = line + nl + 1;
    for (const char *q = v; q < end; q++)
        if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
            return error_set(SOTTO_EFORMAT, "multipart: control character in part header '%.*s'",
                             (int)nl, line);
    skip_ows(&v, end);
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (ieq(line, nl, "content-disposition")) {
        if (disp->type)
            return error_set(SOTTO_EFORMAT, "multipart: part has two Content-Disposition headers");
        return multipart_disposition_parse(v, (size_t)(end - v), disp);
    }
    if (ieq(line, nl, "content-type")) {
        if (*content_type)
            return error_set(SOTTO_EFORMAT, "multipart: part has two Content-Type headers");
        if (!json_utf8_valid(v, (size_t)(end - v)))
            return error_set(SOTTO_EFORMAT, "multipart: part Content-Type is not valid UTF-8");
        if (!(*content_type = mem_dup(v, (size_t)(end - v))))
            return no_memory();
    }
    return 0; /* other headers (Content-Transfer-Encoding ...) are ignored, as RFC 7578 says */
}
