/*
 * fuzz_multipart.c - libFuzzer target for the streaming multipart/form-data parser and
 * its header helpers (src/server/multipart.c).
 *
 * Input: the first line is the boundary (or, when it starts with "multipart/", a
 * Content-Type value to take the boundary from); the rest is the body. The body is parsed
 * in one piece and again in chunks whose sizes come from the input bytes, and the two
 * callback logs and results must be identical (the parser's promise that chunking does
 * not matter). The first line is also run through multipart_disposition_parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"
#include "sotto/error.h"

#define LOG_CAP 65536

typedef struct rec {
    uint8_t log[LOG_CAP];
    size_t len;
    uint64_t hash; /* of everything logged, also past LOG_CAP */
} rec;

static void put(rec *r, const void *data, size_t n)
{
    const uint8_t *s = data;
    for (size_t i = 0; i < n; i++) {
        r->hash = (r->hash ^ s[i]) * 1099511628211ULL;
        if (r->len < LOG_CAP)
            r->log[r->len++] = s[i];
    }
}

static int on_begin(void *user, const multipart_part *part)
{
    rec *r = user;
    put(r, "<", 1);
    put(r, part->name, strlen(part->name) + 1);
    if (part->filename)
        put(r, part->filename, strlen(part->filename) + 1);
    if (part->content_type)
        put(r, part->content_type, strlen(part->content_type) + 1);
    return 0;
}

static int on_data(void *user, const uint8_t *data, size_t len)
{
    if (len == 0)
        abort(); /* promised never to happen */
    put(user, data, len);
    return 0;
}

static int on_end(void *user)
{
    put(user, ">", 1);
    return 0;
}

static int parse(const char *boundary, const uint8_t *body, size_t len, const uint8_t *sizes,
                 size_t n_sizes, rec *r)
{
    multipart_limits lim = {16, 512, 4096};
    multipart_callbacks cb = {on_begin, on_data, on_end, r};
    multipart_parser *mp;
    if (multipart_new(boundary, &lim, &cb, &mp) != 0)
        return 1;
    int rc = 0;
    size_t off = 0, k = 0;
    while (off < len && rc == 0) {
        size_t n = sizes ? 1 + (size_t)(sizes[k++ % n_sizes] % 61) : len;
        if (n > len - off)
            n = len - off;
        rc = multipart_feed(mp, body + off, n);
        off += n;
    }
    if (rc == 0)
        rc = multipart_finish(mp);
    multipart_free(mp);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t line_len = (size_t)(nl - data);
    char *line = malloc(line_len + 1);
    if (!line)
        return 0;
    memcpy(line, data, line_len);
    line[line_len] = '\0';

    multipart_disposition d;
    if (multipart_disposition_parse(line, line_len, &d) == 0)
        multipart_disposition_free(&d);

    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    const char *b = line;
    if (strncmp(line, "multipart/", 10) == 0) {
        if (multipart_boundary(line, boundary, sizeof boundary) != 0) {
            free(line);
            return 0;
        }
        b = boundary;
    }
    const uint8_t *body = nl + 1;
    size_t body_len = size - line_len - 1;
    static rec whole, pieces;
    whole.len = pieces.len = 0;
    whole.hash = pieces.hash = 14695981039346656037ULL;
    int rc1 = parse(b, body, body_len, NULL, 0, &whole);
    /* chunk sizes from the body's own bytes (or the line's when the body is empty) */
    int rc2 = parse(b, body, body_len, body_len ? body : (const uint8_t *)"\x07", body_len ? body_len : 1,
                    &pieces);
    if (rc1 != rc2 || whole.hash != pieces.hash || whole.len != pieces.len ||
        memcmp(whole.log, pieces.log, whole.len) != 0)
        abort();
    free(line);
    return 0;
}
