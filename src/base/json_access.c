/*
 * json_access.c - read access to a parsed JSON tree (sotto_json_get/at/key/len and the
 * typed reads with fallbacks), and the strict UTF-8 check the parser and other parsers of
 * untrusted text share. The tree itself is built by json.c.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base_int.h"
#include "json_int.h"
#include "sotto/json.h"

/* ---- UTF-8 ----------------------------------------------------------------------- */

size_t json_utf8_seq_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* continuation byte, or an overlong 2-byte form */
        return 0;
    if (c < 0xE0)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, or a UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
            return 0; /* overlong, or above U+10FFFF */
        return 4;
    }
    return 0;
}

int json_utf8_valid(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = json_utf8_seq_len(u + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

sotto_json_type sotto_json_type_of(const sotto_json *v)
{
    return v ? (sotto_json_type)v->type : SOTTO_JSON_NULL;
}

const sotto_json *sotto_json_get(const sotto_json *v, const char *key)
{
    if (!v || v->type != SOTTO_JSON_OBJECT || !key)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = v->len; i-- > 0;) { /* from the end: the last duplicate wins */
        const sotto_json *m = &v->u.items[i];
        if (m->key_len == klen && memcmp(m->key, key, klen) == 0)
            return m;
    }
    return NULL;
}

size_t sotto_json_len(const sotto_json *v)
{
    return v && (v->type == SOTTO_JSON_ARRAY || v->type == SOTTO_JSON_OBJECT) ? v->len : 0;
}

const sotto_json *sotto_json_at(const sotto_json *v, size_t i)
{
    if (!v || (v->type != SOTTO_JSON_ARRAY && v->type != SOTTO_JSON_OBJECT) || i >= v->len)
        return NULL;
    return &v->u.items[i];
}

const char *sotto_json_key(const sotto_json *v, size_t i)
{
    if (!v || v->type != SOTTO_JSON_OBJECT || i >= v->len)
        return NULL;
    return v->u.items[i].key;
}

const char *sotto_json_string(const sotto_json *v, const char *fallback)
{
    return v && v->type == SOTTO_JSON_STRING ? v->u.str : fallback;
}

size_t sotto_json_string_len(const sotto_json *v)
{
    return v && v->type == SOTTO_JSON_STRING ? v->len : 0;
}

double sotto_json_number(const sotto_json *v, double fallback)
{
    return v && v->type == SOTTO_JSON_NUMBER ? v->u.num : fallback;
}

int sotto_json_bool(const sotto_json *v, int fallback)
{
    if (v && v->type == SOTTO_JSON_TRUE)
        return 1;
    if (v && v->type == SOTTO_JSON_FALSE)
        return 0;
    return fallback;
}

int sotto_json_int(const sotto_json *v, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const char *name = key ? key : "value";
    if (!v)
        return error_set(SOTTO_EINVAL, "'%s' is missing", name);
    int ok = 0;
    int64_t x = 0;
    if (v->type == SOTTO_JSON_NUMBER) {
        double d = v->u.num;
        if (v->is_int) {
            x = v->inum;
            ok = 1;
        } else if (d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            x = (int64_t)d;
            ok = 1;
        }
    }
    if (!ok || x < lo || x > hi)
        return error_set(SOTTO_EINVAL, "'%s' must be an integer between %lld and %lld", name,
                         (long long)lo, (long long)hi);
    *out = x;
    return 0;
}
