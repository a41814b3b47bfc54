/*
 * json.h - a strict, bounded JSON parser (RFC 8259) into a read-only tree.
 *
 * Used for every JSON that crosses a trust boundary: HTTP request bodies, WebSocket
 * control messages, config files, LLM replies. Limits (nesting depth, total size, number
 * of values) are enforced while parsing, so hostile input fails with one line
 * ("JSON: unexpected ',' at line 1, column 17") instead of exhausting memory or stack.
 * Strings are decoded to UTF-8 (escapes and surrogate pairs; invalid UTF-8 is rejected).
 *
 * Ownership: sotto_json_parse returns a document that owns every node and string;
 * sotto_json_free releases it all. Node pointers are valid until then.
 */
#ifndef SOTTO_JSON_H
#define SOTTO_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sotto_json_type {
    SOTTO_JSON_NULL,
    SOTTO_JSON_FALSE,
    SOTTO_JSON_TRUE,
    SOTTO_JSON_NUMBER,
    SOTTO_JSON_STRING,
    SOTTO_JSON_ARRAY,
    SOTTO_JSON_OBJECT
} sotto_json_type;

typedef struct sotto_json sotto_json; /* one value */

typedef struct sotto_json_limits {
    size_t max_depth;  /* default 64 */
    size_t max_values; /* default 1,000,000 */
} sotto_json_limits;

/* Parse len bytes (not NUL-terminated necessarily). limits may be NULL. On success *root
 * is the document's root value; free it with sotto_json_free(root). */
int sotto_json_parse(const char *text, size_t len, const sotto_json_limits *limits,
                     sotto_json **root);
void sotto_json_free(sotto_json *root); /* only on a root; NULL is a no-op */

sotto_json_type sotto_json_type_of(const sotto_json *v);
/* Object member by key (NULL if v is not an object or has no such key; last one wins). */
const sotto_json *sotto_json_get(const sotto_json *v, const char *key);
/* Array element / object member count, and element i (NULL when out of range). For an
 * object, element i is the i-th member's value and sotto_json_key(v, i) its key. */
size_t sotto_json_len(const sotto_json *v);
const sotto_json *sotto_json_at(const sotto_json *v, size_t i);
const char *sotto_json_key(const sotto_json *v, size_t i);

/* Typed reads with a fallback when v is NULL or of another type. */
const char *sotto_json_string(const sotto_json *v, const char *fallback); /* UTF-8 */
size_t sotto_json_string_len(const sotto_json *v); /* bytes (strings may hold NUL) */
double sotto_json_number(const sotto_json *v, double fallback);
int sotto_json_bool(const sotto_json *v, int fallback);
/* A number that is an integer in [lo, hi]: 0 and *out, else SOTTO_EINVAL (message names key). */
int sotto_json_int(const sotto_json *v, const char *key, int64_t lo, int64_t hi, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
