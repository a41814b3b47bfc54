/*
 * fuzz_json.c - libFuzzer target for the strict JSON parser (sotto_json_parse).
 *
 * Parses the bytes with small limits (depth 32, 20,000 values) and, when they are
 * accepted, walks the whole tree through every accessor and checks what the parser
 * promises: decoded strings and keys are valid UTF-8 of the stated length, sotto_json_get
 * finds the last member of each key (a key holding "\u0000" is unreachable by name),
 * numbers are finite. A short input is parsed once more with the default limits.
 * Errors are expected; a crash, leak or abort is a bug.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_int.h"
#include "sotto/json.h"

static void walk(const sotto_json *v, size_t depth)
{
    if (depth > 40)
        abort(); /* deeper than the limit allows */
    switch (sotto_json_type_of(v)) {
    case SOTTO_JSON_STRING: {
        const char *s = sotto_json_string(v, NULL);
        size_t n = sotto_json_string_len(v);
        if (!s || s[n] != '\0' || !json_utf8_valid(s, n))
            abort();
        break;
    }
    case SOTTO_JSON_NUMBER:
        if (!isfinite(sotto_json_number(v, NAN)))
            abort();
        int64_t x;
        (void)sotto_json_int(v, "n", INT64_MIN, INT64_MAX, &x);
        break;
    case SOTTO_JSON_ARRAY:
    case SOTTO_JSON_OBJECT: {
        size_t n = sotto_json_len(v);
        for (size_t i = 0; i < n; i++) {
            const sotto_json *c = sotto_json_at(v, i);
            if (!c)
                abort();
            const char *key = sotto_json_key(v, i);
            if (sotto_json_type_of(v) == SOTTO_JSON_OBJECT) {
                if (!key || key[c->key_len] != '\0' || !json_utf8_valid(key, c->key_len))
                    abort();
                /* get must return this member or a later one with the same key; a key
                 * holding "\u0000" cannot be named by a C string, so get must not return it */
                const sotto_json *g = sotto_json_get(v, key);
                if (c->key_len == strlen(key)) {
                    if (!g || g < c || g->key_len != c->key_len || memcmp(g->key, key, c->key_len) != 0)
                        abort();
                } else if (g && g->key_len != strlen(key)) {
                    abort();
                }
            } else if (key) {
                abort();
            }
            walk(c, depth + 1);
        }
        if (sotto_json_at(v, n) != NULL)
            abort();
        break;
    }
    default:
        (void)sotto_json_bool(v, 0);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sotto_json_limits lim = {32, 20000};
    sotto_json *root;
    if (sotto_json_parse((const char *)data, size, &lim, &root) == 0) {
        walk(root, 0);
        sotto_json_free(root);
    }
    if (size < 4096 && sotto_json_parse((const char *)data, size, NULL, &root) == 0)
        sotto_json_free(root);
    return 0;
}
