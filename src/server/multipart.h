/*
 * multipart.h - streaming multipart/form-data parser (RFC 7578 / RFC 2046), internal API.
 *
 * Upload bodies are untrusted and may be large, so the parser never buffers a part's
 * data: the caller feeds the body in chunks exactly as they arrive (any split, including
 * inside the boundary line or the part headers) and gets callbacks:
 *
 *     char boundary[MULTIPART_BOUNDARY_MAX + 1];
 *     if (multipart_boundary(content_type_header, boundary, sizeof boundary) != 0) -> 400
 *     multipart_parser *mp;
 *     multipart_new(boundary, NULL, &callbacks, &mp);
 *     while (read chunk) if (multipart_feed(mp, chunk, n) != 0) -> 400 (sotto_last_error())
 *     if (multipart_finish(mp) != 0) -> 400
 *     multipart_free(mp);
 *
 * Per part: on_part_begin (name, filename, content type from its headers), on_part_data
 * zero or more times (data split anywhere, possibly 1 byte), on_part_end. The preamble
 * (before the first boundary) and the epilogue (after the closing boundary) are ignored.
 *
 * Limits, and who enforces them:
 *   - max_parts and max_header_bytes (each part's header block): the parser.
 *   - max_field_bytes: the parser, for parts WITHOUT a filename (form fields): exactly
 *     the first max_field_bytes are delivered, then feed fails (whatever the chunking).
 *   - File parts (filename present, even ""): no size limit in the parser; the caller
 *     enforces its upload quota in on_part_data (return an error to stop) and should also
 *     cap the whole body by Content-Length.
 * Every error is SOTTO_EFORMAT with a one-line "multipart: ..." message (SOTTO_ENOMEM on
 * allocation failure), except an error returned by a callback, which is passed through
 * unchanged (the callback sets its own message).
 */
#ifndef SOTTO_MULTIPART_H
#define SOTTO_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX 70 /* RFC 2046: 1..70 characters */

/* Extract the boundary parameter of a Content-Type header value such as
 * `multipart/form-data; boundary=----X` or `Multipart/Form-Data; charset=x; boundary="a b"`
 * into out (NUL-terminated; cap must be at least MULTIPART_BOUNDARY_MAX + 1 to accept
 * every legal boundary). 0 on success; SOTTO_EFORMAT when the type is not
 * multipart/form-data, the parameter is missing, or the boundary is not 1..70 RFC 2046
 * characters; SOTTO_EINVAL when it does not fit in cap. */
int multipart_boundary(const char *content_type, char *out, size_t cap);

/* The parsed Content-Disposition of one part. All strings are NUL-terminated UTF-8
 * (validated), owned by the struct and released by multipart_disposition_free. */
typedef struct multipart_disposition {
    char *type;     /* disposition type, lowercased ("form-data") */
    char *name;     /* name parameter, NULL when absent */
    char *filename; /* filename* (RFC 5987, UTF-8 or ISO-8859-1, decoded) when present,
                       else filename (quoted-string escapes removed); NULL when absent.
                       Untrusted: never use it as a path. */
} multipart_disposition;

/* Parse a Content-Disposition header value (len bytes, e.g.
 * `form-data; name="file"; filename="a b.wav"`). Parameter names are case-insensitive;
 * a repeated parameter is an error. 0, or SOTTO_EFORMAT "multipart: ..." (then *out holds
 * nothing to free). */
int multipart_disposition_parse(const char *value, size_t len, multipart_disposition *out);
void multipart_disposition_free(multipart_disposition *d); /* NULL is a no-op */

/* 1 when b[0..n) is a legal RFC 2046 boundary (1..70 bchars, not ending in a space). */
int multipart_boundary_valid(const char *b, size_t n);

/* Parse one part header line (n bytes, no CRLF) into disp (Content-Disposition) or
 * *content_type (malloc'd, trimmed); other headers are ignored. Used by the parser; a
 * second Content-Disposition/Content-Type is an error. 0 or SOTTO_EFORMAT. */
int multipart_header_line(const char *line, size_t n, multipart_disposition *disp,
                          char **content_type);

/* What on_part_begin learns about a part. The strings are owned by the parser and valid
 * until on_part_end returns (or until the parser fails or is freed). */
typedef struct multipart_part {
    const char *name;         /* form field name, never NULL */
    const char *filename;     /* NULL for a plain field; non-NULL (maybe "") for a file */
    const char *content_type; /* the part's Content-Type, NULL when absent */
    size_t index;             /* 0-based position of the part in the body */
} multipart_part;

/* Callbacks return 0 to continue or a negative SOTTO_E* code to stop: multipart_feed then
 * returns that code and the parser is dead (later feeds/finish return the same code). After
 * any error no more callbacks fire, so on_part_end may never come for a begun part: the
 * caller cleans up what on_part_begin opened (e.g. removes a partial file) itself. */
typedef struct multipart_callbacks {
    int (*on_part_begin)(void *user, const multipart_part *part);
    int (*on_part_data)(void *user, const uint8_t *data, size_t len);
    int (*on_part_end)(void *user);
    void *user;
} multipart_callbacks;

typedef struct multipart_limits {
    size_t max_parts;        /* parts per body; 0 = default 64 */
    size_t max_header_bytes; /* one part's header block incl. CRLFs; 0 = default 8192 */
    size_t max_field_bytes;  /* data of a part without filename; 0 = default 1 MiB */
} multipart_limits;

typedef struct multipart_parser multipart_parser;

/* Create a parser for boundary (as returned by multipart_boundary). limits may be NULL;
 * callbacks are copied (any may be NULL). Free with multipart_free. */
int multipart_new(const char *boundary, const multipart_limits *limits,
                  const multipart_callbacks *callbacks, multipart_parser **out);
/* Feed the next len bytes of the body. 0, or an error (see above); after an error the
 * parser stays failed. Bytes after the closing boundary are ignored. */
int multipart_feed(multipart_parser *p, const void *data, size_t len);
/* The body has ended: 0 when the closing boundary was seen, else SOTTO_EFORMAT
 * ("multipart: body ended before the closing boundary" / "... no boundary found"). */
int multipart_finish(multipart_parser *p);
/* Number of parts begun so far. */
size_t multipart_part_count(const multipart_parser *p);
void multipart_free(multipart_parser *p); /* NULL is a no-op */

#endif
