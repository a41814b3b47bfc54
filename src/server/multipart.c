/*
 * multipart.c - streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * The body is scanned for the delimiter "\r\n--<boundary>" one chunk at a time with no
 * buffering of part data: a partial delimiter match at the end of a chunk is remembered as
 * a count, and because a legal boundary never contains CR, a mismatch can only restart the
 * match at a new CR, so the bytes held back are always the delimiter's own prefix and can
 * be re-emitted from it. The preamble is handled by starting as if "\r\n" had been seen, so
 * a body that opens with "--<boundary>" matches. Each part's header block (capped) is
 * collected, then parsed (multipart_header.c) for Content-Disposition and Content-Type.
 *
 * Owns: the parser state and the current part's strings. Does not: parse header syntax
 * (multipart_header.c), store files, decide which fields an endpoint accepts, or limit
 * file sizes (the caller does, see multipart.h).
 */
#include "multipart.h"

#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"

#define MP_DEFAULT_MAX_PARTS 64
#define MP_DEFAULT_MAX_HEADER 8192
#define MP_DEFAULT_MAX_FIELD ((size_t)1 << 20)

enum mp_state {
    MP_PREAMBLE,    /* before the first delimiter: bytes are discarded */
    MP_AFTER_DELIM, /* just matched a delimiter: "--", padding or CRLF follows */
    MP_PADDING,     /* transport padding (SP/HT) after a delimiter */
    MP_EXPECT_LF,   /* saw CR after a delimiter */
    MP_CLOSE_DASH,  /* saw the first '-' of a close delimiter */
    MP_HEADERS,     /* collecting a part's header block */
    MP_DATA,        /* in a part's body */
    MP_DONE         /* after the close delimiter: the epilogue is ignored */
};

struct multipart_parser {
    multipart_callbacks cb;
    size_t max_parts, max_header, max_field;
    char delim[4 + MULTIPART_BOUNDARY_MAX + 1]; /* "\r\n--" boundary */
    size_t delim_len;
    size_t match;       /* bytes of delim matched at the end of the input so far */
    int state;
    int error;          /* sticky: once failed, every call returns this */
    char errmsg[256];
    char *hdr;          /* (max_header) bytes: the current header block */
    size_t hdr_len;
    size_t n_parts;
    int in_part;        /* begun and not yet ended */
    size_t field_bytes; /* data bytes of the current part */
    multipart_disposition disp;
    char *content_type;
};

static int no_memory(void)
{
    return error_set(SOTTO_ENOMEM, "multipart: out of memory");
}

int multipart_new(const char *boundary, const multipart_limits *limits,
                  const multipart_callbacks *callbacks, multipart_parser **out)
{
    SOTTO_ASSERT(boundary && out);
    *out = NULL;
    size_t blen = strlen(boundary);
    if (!multipart_boundary_valid(boundary, blen))
        return error_set(SOTTO_EINVAL, "multipart: invalid boundary '%.80s'", boundary);
    multipart_parser *p = calloc(1, sizeof *p);
    if (!p)
        return no_memory();
    if (callbacks)
        p->cb = *callbacks;
    p->max_parts = limits && limits->max_parts ? limits->max_parts : MP_DEFAULT_MAX_PARTS;
    p->max_header = limits && limits->max_header_bytes ? limits->max_header_bytes : MP_DEFAULT_MAX_HEADER;
    p->max_field = limits && limits->max_field_bytes ? limits->max_field_bytes : MP_DEFAULT_MAX_FIELD;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen + 1);
    p->delim_len = 4 + blen;
    p->match = 2; /* as if the body were preceded by CRLF, so it may open with "--boundary" */
    p->state = MP_PREAMBLE;
    if (!(p->hdr = malloc(p->max_header))) {
        free(p);
        return no_memory();
    }
    *out = p;
    return 0;
}

static void part_clear(multipart_parser *p)
{
    multipart_disposition_free(&p->disp);
    free(p->content_type);
    p->content_type = NULL;
}

void multipart_free(multipart_parser *p)
{
    if (!p)
        return;
    part_clear(p);
    free(p->hdr);
    free(p);
}

size_t multipart_part_count(const multipart_parser *p)
{
    return p->n_parts;
}

/* Remember the first error so every later call repeats it (with its message). */
static int fail(multipart_parser *p, int rc)
{
    p->error = rc;
    snprintf(p->errmsg, sizeof p->errmsg, "%s", sotto_last_error());
    return rc;
}

/* Part data (or preamble, which is dropped). */
static int emit(multipart_parser *p, const uint8_t *data, size_t n)
{
    if (p->state == MP_PREAMBLE || n == 0)
        return 0;
    int over = !p->disp.filename && n > p->max_field - p->field_bytes;
    if (over) /* deliver exactly up to the limit, so the outcome never depends on chunking */
        n = p->max_field - p->field_bytes;
    p->field_bytes += n;
    int rc = n > 0 && p->cb.on_part_data ? p->cb.on_part_data(p->cb.user, data, n) : 0;
    if (rc == 0 && over)
        rc = error_set(SOTTO_EFORMAT, "multipart: field '%.64s' is larger than %zu bytes",
                       p->disp.name, p->max_field);
    return rc;
}

static int end_part(multipart_parser *p)
{
    int rc = p->cb.on_part_end ? p->cb.on_part_end(p->cb.user) : 0;
    p->in_part = 0;
    part_clear(p);
    return rc;
}

/* Scan preamble or part data for the delimiter; stop right after it. */
static int scan_data(multipart_parser *p, const uint8_t **sp, const uint8_t *end)
{
    const uint8_t *s = *sp;
    int rc = 0;
    while (s < end) {
        if (p->match == 0) {
            const uint8_t *cr = memchr(s, '\r', (size_t)(end - s));
            const uint8_t *stop = cr ? cr : end;
            if ((rc = emit(p, s, (size_t)(stop - s))) != 0)
                break;
            s = stop;
            if (cr) {
                p->match = 1;
                s++;
            }
            continue;
        }
        if (*s == (uint8_t)p->delim[p->match]) {
            s++;
            if (++p->match == p->delim_len) {
                p->match = 0;
                if (p->state == MP_DATA)
                    rc = end_part(p);
                p->state = MP_AFTER_DELIM;
                break;
            }
            continue;
        }
        /* mismatch: the held-back bytes were data after all; they equal the delimiter's
         * prefix, and the current byte is looked at again with no match */
        rc = emit(p, (const uint8_t *)p->delim, p->match);
        p->match = 0;
        if (rc != 0)
            break;
    }
    *sp = s;
    return rc;
}

/* The header block is complete (it ends with an empty line): parse it, begin the part. */
static int begin_part(multipart_parser *p)
{
    const char *s = p->hdr, *end = p->hdr + p->hdr_len - 2; /* without the final CRLF */
    int rc;
    while (s < end) {
        const char *eol = s;
        while (eol < end && *eol != '\r' && *eol != '\n')
            eol++;
        if (eol >= end || eol[0] != '\r' || eol[1] != '\n' || eol == s)
            return error_set(SOTTO_EFORMAT, "multipart: part header lines must end in CRLF");
        if ((rc = multipart_header_line(s, (size_t)(eol - s), &p->disp, &p->content_type)) != 0)
            return rc;
        s = eol + 2;
    }
    if (!p->disp.type)
        return error_set(SOTTO_EFORMAT, "multipart: part %zu has no Content-Disposition header",
                         p->n_parts);
    if (strcmp(p->disp.type, "form-data") != 0)
        return error_set(SOTTO_EFORMAT, "multipart: part disposition is '%.32s', not form-data",
                         p->disp.type);
    if (!p->disp.name)
        return error_set(SOTTO_EFORMAT, "multipart: part %zu has no name", p->n_parts);
    multipart_part part = {p->disp.name, p->disp.filename, p->content_type, p->n_parts};
    p->n_parts++;
    p->in_part = 1;
    p->field_bytes = 0;
    p->state = MP_DATA;
    return p->cb.on_part_begin ? p->cb.on_part_begin(p->cb.user, &part) : 0;
}

static int scan_headers(multipart_parser *p, const uint8_t **sp, const uint8_t *end)
{
    const uint8_t *s = *sp;
    while (s < end) {
        if (p->hdr_len >= p->max_header)
            return error_set(SOTTO_EFORMAT, "multipart: part header block is larger than %zu bytes",
                             p->max_header);
        char c = (char)*s++;
        if (c == '\0')
            return error_set(SOTTO_EFORMAT, "multipart: NUL byte in part headers");
        p->hdr[p->hdr_len++] = c;
        if (c == '\n' && ((p->hdr_len == 2 && p->hdr[0] == '\r') ||
                          (p->hdr_len >= 4 && memcmp(p->hdr + p->hdr_len - 4, "\r\n\r\n", 4) == 0))) {
            *sp = s;
            return begin_part(p);
        }
    }
    *sp = s;
    return 0;
}

int multipart_feed(multipart_parser *p, const void *data, size_t len)
{
    if (p->error)
        return error_set(p->error, "%s", p->errmsg);
    if (len == 0)
        return 0;
    const uint8_t *s = data, *end = s + len;
    int rc = 0;
    while (s < end && rc == 0) {
        uint8_t c;
        switch (p->state) {
        case MP_PREAMBLE:
        case MP_DATA:
            rc = scan_data(p, &s, end);
            break;
        case MP_HEADERS:
            rc = scan_headers(p, &s, end);
            break;
        case MP_AFTER_DELIM:
        case MP_PADDING:
            c = *s++;
            if (c == '-' && p->state == MP_AFTER_DELIM)
                p->state = MP_CLOSE_DASH;
            else if (c == ' ' || c == '\t')
                p->state = MP_PADDING;
            else if (c == '\r')
                p->state = MP_EXPECT_LF;
            else
                rc = error_set(SOTTO_EFORMAT, "multipart: unexpected bytes after a boundary");
            break;
        case MP_EXPECT_LF:
            if (*s++ != '\n') {
                rc = error_set(SOTTO_EFORMAT, "multipart: boundary line does not end in CRLF");
            } else if (p->n_parts >= p->max_parts) {
                rc = error_set(SOTTO_EFORMAT, "multipart: more than %zu parts", p->max_parts);
            } else {
                p->hdr_len = 0;
                p->state = MP_HEADERS;
            }
            break;
        case MP_CLOSE_DASH:
            if (*s++ != '-')
                rc = error_set(SOTTO_EFORMAT, "multipart: unexpected bytes after a boundary");
            else
                p->state = MP_DONE;
            break;
        default: /* MP_DONE: the epilogue is ignored */
            s = end;
            break;
        }
    }
    return rc ? fail(p, rc) : 0;
}

int multipart_finish(multipart_parser *p)
{
    if (p->error)
        return error_set(p->error, "%s", p->errmsg);
    if (p->state == MP_DONE)
        return 0;
    if (p->state == MP_PREAMBLE)
        return fail(p, error_set(SOTTO_EFORMAT, "multipart: no boundary found in the body"));
    return fail(p, error_set(SOTTO_EFORMAT, "multipart: body ended before the closing boundary"));
}
