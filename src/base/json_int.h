/*
 * json_int.h - the JSON module's internals shared inside libsotto (not public API).
 *
 * The node layout is shared by the parser and the accessors. The strict UTF-8 check the
 * JSON parser applies to strings is also what other parsers of untrusted text (multipart
 * field names and filenames) need, so it lives here once.
 */
#ifndef SOTTO_JSON_INT_H
#define SOTTO_JSON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/json.h"

/* One value. The parser (json.c) builds them; the accessors (json_access.c) read them. */
struct sotto_json {
    const char *key; /* member key (NUL-terminated) when inside an object, else NULL */
    size_t key_len;  /* bytes of key (keys may hold NUL) */
    size_t len;      /* string: bytes; array/object: number of children */
    union {
        const char *str;    /* string: UTF-8, NUL-terminated */
        sotto_json *items;  /* array/object: (len) children in document order */
        double num;         /* number */
    } u;
    int64_t inum;     /* number: the exact value when is_int */
    uint8_t type;     /* sotto_json_type */
    uint8_t is_int;   /* number token was an integer literal that fits int64 */
    uint8_t is_root;  /* the node embedded in json_doc (the only one sotto_json_free takes) */
};

/* Length of the valid UTF-8 sequence at s (1..4 bytes), or 0 when s[0..n) does not start
 * with one: overlong forms, UTF-16 surrogates (U+D800..DFFF), code points above U+10FFFF,
 * stray continuation bytes and truncated sequences are all invalid. n must be >= 1. */
size_t json_utf8_seq_len(const uint8_t *s, size_t n);

/* 1 when s[0..n) is entirely valid UTF-8 (NUL bytes included), else 0. */
int json_utf8_valid(const char *s, size_t n);

#endif
