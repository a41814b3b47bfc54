/*
 * json.c - strict RFC 8259 JSON parser into a read-only tree, plus the tree accessors.
 *
 * Every JSON that crosses a trust boundary goes through here, so the parser is strict
 * (no comments, trailing commas, NaN, leading zeros, control characters or invalid UTF-8;
 * lone UTF-16 surrogates in \u escapes are rejected) and bounded: nesting depth and the
 * number of values are limited while parsing. The parser is iterative (an explicit
 * frame stack), so 100,000 '[' fail at the depth limit instead of overflowing the C stack.
 *
 * Memory: every node and decoded string of a document lives in one arena (a chain of
 * blocks) owned by a json_doc that also holds the root node, so sotto_json_free(root)
 * releases the document in one call. Children of an array/object are stored contiguously
 * (O(1) sotto_json_at); while a container is open its children sit on a scratch value
 * stack and are copied into the arena when it closes.
 *
 * Not here: the tree accessors and the UTF-8 check (json_access.c), JSON output (buf.c).
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base_int.h"
#include "json_int.h"
#include "sotto/json.h"

#define JSON_DEFAULT_MAX_DEPTH 64
#define JSON_DEFAULT_MAX_VALUES 1000000
#define ARENA_FIRST_BLOCK 1024
#define ARENA_MAX_BLOCK ((size_t)1 << 20)

typedef struct json_block {
    struct json_block *next;
    size_t cap, used;
    _Alignas(8) unsigned char data[];
} json_block;

typedef struct json_arena {
    json_block *head; /* newest block first */
    size_t next_cap;
} json_arena;

typedef struct json_doc {
    json_arena arena;
    sotto_json root;
} json_doc;

typedef struct json_frame {
    uint8_t type;        /* SOTTO_JSON_ARRAY or SOTTO_JSON_OBJECT */
    size_t first;        /* index of its first child on the value stack */
    const char *key;     /* object: key of the member being parsed */
    size_t key_len;
} json_frame;

typedef struct json_parser {
    const char *start, *p, *end;
    json_arena *arena;
    sotto_json *vals; /* scratch stack of children of the open containers */
    size_t n_vals, cap_vals;
    json_frame *frames;
    size_t depth, cap_frames;
    size_t n_values, max_values, max_depth;
} json_parser;

/* ---- arena ----------------------------------------------------------------------- */

static void *arena_alloc(json_arena *a, size_t size)
{
    if (size > SIZE_MAX / 2)
        return NULL;
    size = (size + 7) & ~(size_t)7;
    json_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = a->next_cap > size ? a->next_cap : size;
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a->head;
        b->cap = cap;
        b->used = 0;
        a->head = b;
        if (a->next_cap < ARENA_MAX_BLOCK)
            a->next_cap *= 2;
    }
    void *ptr = b->data + b->used;
    b->used += size;
    return ptr;
}

/* Give back the tail of the newest allocation (strings are allocated at their raw length
 * and shrink once decoded). */
static void arena_trim(json_arena *a, void *ptr, size_t old_size, size_t new_size)
{
    json_block *b = a->head;
    old_size = (old_size + 7) & ~(size_t)7;
    new_size = (new_size + 7) & ~(size_t)7;
    if (b && (unsigned char *)ptr + old_size == b->data + b->used)
        b->used -= old_size - new_size;
}

static void arena_release(json_arena *a)
{
    json_block *b = a->head;
    while (b) {
        json_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
}

/* ---- errors ---------------------------------------------------------------------- */

/* Every parse error: "JSON: <what> at line L, column C" (column in bytes, 1-based). */
__attribute__((format(printf, 3, 4))) static int fail_at(const json_parser *ps, const char *at,
                                                         const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return error_set(SOTTO_EFORMAT, "JSON: %s at line %zu, column %zu", what, line, col);
}

static int unexpected(const json_parser *ps, const char *at, const char *suffix)
{
    if (at >= ps->end)
        return fail_at(ps, at, "unexpected end of input");
    unsigned char c = (unsigned char)*at;
    if (c > 0x20 && c < 0x7f)
        return fail_at(ps, at, "unexpected '%c'%s", c, suffix);
    return fail_at(ps, at, "unexpected byte 0x%02x%s", c, suffix);
}

static int out_of_memory(void)
{
    return error_set(SOTTO_ENOMEM, "JSON: out of memory");
}

/* ---- scalars --------------------------------------------------------------------- */

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static char *utf8_put(char *w, uint32_t cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/* Decode the string starting at ps->p (the opening quote) into the arena. The decoded
 * form is never longer than the raw bytes (an escape of n bytes yields at most n-2), so
 * one allocation of the raw length suffices; the unused tail is given back. */
static int parse_string(json_parser *ps, const char **out, size_t *out_len)
{
    const char *s = ps->p + 1, *end = ps->end, *close = s;
    while (close < end && *close != '"') {
        if (*close == '\\' && close + 1 < end)
            close++;
        close++;
    }
    size_t raw = (size_t)(close - s);
    char *buf = arena_alloc(ps->arena, raw + 1);
    if (!buf)
        return out_of_memory();
    char *w = buf;
    while (s < close) {
        unsigned char c = (unsigned char)*s;
        if (c == '\\') {
            if (s + 1 >= close)
                return unexpected(ps, end, "");
            char e = s[1];
            switch (e) {
            case '"': case '\\': case '/': *w++ = e; break;
            case 'b': *w++ = '\b'; break;
            case 'f': *w++ = '\f'; break;
            case 'n': *w++ = '\n'; break;
            case 'r': *w++ = '\r'; break;
            case 't': *w++ = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (close - s < 6 || hex4(s + 2, &cp) != 0)
                    return fail_at(ps, s, "invalid \\u escape (expected 4 hex digits)");
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return fail_at(ps, s, "lone surrogate \\u%04X in string", (unsigned)cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (close - s < 12 || s[6] != '\\' || s[7] != 'u' || hex4(s + 8, &lo) != 0 ||
                        lo < 0xDC00 || lo > 0xDFFF)
                        return fail_at(ps, s, "lone surrogate \\u%04X in string", (unsigned)cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    s += 6;
                }
                w = utf8_put(w, cp);
                s += 4;
                break;
            }
            default:
                if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7f)
                    return fail_at(ps, s, "invalid escape '\\%c' in string", e);
                return fail_at(ps, s, "invalid escape in string");
            }
            s += 2;
        } else if (c < 0x20) {
            return fail_at(ps, s, "control character 0x%02x in string", c);
        } else if (c < 0x80) {
            *w++ = (char)c;
            s++;
        } else {
            size_t k = json_utf8_seq_len((const uint8_t *)s, (size_t)(close - s));
            if (k == 0)
                return fail_at(ps, s, "invalid UTF-8 in string");
            memcpy(w, s, k);
            w += k;
            s += k;
        }
    }
    if (close >= end)
        return unexpected(ps, end, "");
    *w = '\0';
    *out_len = (size_t)(w - buf);
    arena_trim(ps->arena, buf, raw + 1, *out_len + 1);
    *out = buf;
    ps->p = close + 1;
    return 0;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* strtod in the "C" locale whatever the process's LC_NUMERIC says (a ',' decimal point
 * would otherwise misread "1.5"); the switch is per thread. */
static double strtod_c(const char *s, char **endp)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale)
        return strtod(s, endp);
    locale_t old = uselocale(c_locale);
    double d = strtod(s, endp);
    uselocale(old);
    return d;
}

static int is_digit(const json_parser *ps, const char *q)
{
    return q < ps->end && *q >= '0' && *q <= '9';
}

/* Validate the RFC 8259 number grammar first, then convert the exact token with strtod;
 * an integer literal that fits int64 is also kept exactly. */
static int parse_number(json_parser *ps, sotto_json *v)
{
    const char *s = ps->p, *q = s;
    int is_int = 1;
    if (*q == '-')
        q++;
    if (!is_digit(ps, q))
        return q >= ps->end ? unexpected(ps, q, "") : fail_at(ps, q, "expected a digit in number");
    if (*q == '0') {
        q++;
        if (is_digit(ps, q))
            return fail_at(ps, s, "leading zero in number");
    } else {
        while (is_digit(ps, q))
            q++;
    }
    if (q < ps->end && *q == '.') {
        is_int = 0;
        q++;
        if (!is_digit(ps, q))
            return q >= ps->end ? unexpected(ps, q, "") : fail_at(ps, q, "expected a digit after '.' in number");
        while (is_digit(ps, q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_int = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (!is_digit(ps, q))
            return q >= ps->end ? unexpected(ps, q, "") : fail_at(ps, q, "expected a digit in exponent");
        while (is_digit(ps, q))
            q++;
    }
    size_t n = (size_t)(q - s);
    char small[64];
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return out_of_memory();
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *endp;
    double d = strtod_c(tmp, &endp);
    int converted = endp == tmp + n;
    if (tmp != small)
        free(tmp);
    if (!converted)
        return fail_at(ps, s, "invalid number");
    if (isinf(d))
        return fail_at(ps, s, "number out of range");
    v->type = SOTTO_JSON_NUMBER;
    v->u.num = d;
    if (is_int) {
        /* accumulate as a negative value so INT64_MIN fits */
        const char *dq = s + (*s == '-');
        int64_t acc = 0;
        for (; dq < q; dq++) {
            int digit = *dq - '0';
            if (acc < (INT64_MIN + digit) / 10) {
                is_int = 0;
                break;
            }
            acc = acc * 10 - digit;
        }
        if (is_int && *s != '-') {
            if (acc == INT64_MIN)
                is_int = 0;
            else
                acc = -acc;
        }
        v->inum = acc;
    }
    v->is_int = (uint8_t)is_int;
    ps->p = q;
    return 0;
}

static int parse_literal(json_parser *ps, sotto_json *v)
{
    static const struct { const char *word; size_t len; sotto_json_type type; } lits[3] = {
        {"true", 4, SOTTO_JSON_TRUE}, {"false", 5, SOTTO_JSON_FALSE}, {"null", 4, SOTTO_JSON_NULL}};
    for (int i = 0; i < 3; i++) {
        if (*ps->p != lits[i].word[0])
            continue;
        if ((size_t)(ps->end - ps->p) < lits[i].len || memcmp(ps->p, lits[i].word, lits[i].len) != 0)
            return fail_at(ps, ps->p, "invalid literal (expected '%s')", lits[i].word);
        v->type = (uint8_t)lits[i].type;
        ps->p += lits[i].len;
        return 0;
    }
    return unexpected(ps, ps->p, "");
}

/* ---- the document ---------------------------------------------------------------- */

static void skip_ws(json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int push_value(json_parser *ps, const sotto_json *v)
{
    if (ps->n_vals == ps->cap_vals) {
        size_t cap = ps->cap_vals ? ps->cap_vals * 2 : 64;
        sotto_json *nv = realloc(ps->vals, cap * sizeof *nv);
        if (!nv)
            return out_of_memory();
        ps->vals = nv;
        ps->cap_vals = cap;
    }
    ps->vals[ps->n_vals++] = *v;
    return 0;
}

static int open_container(json_parser *ps, uint8_t type)
{
    if (ps->depth >= ps->max_depth)
        return fail_at(ps, ps->p, "nesting deeper than %zu", ps->max_depth);
    if (ps->depth == ps->cap_frames) {
        size_t cap = ps->cap_frames ? ps->cap_frames * 2 : 16;
        json_frame *nf = realloc(ps->frames, cap * sizeof *nf);
        if (!nf)
            return out_of_memory();
        ps->frames = nf;
        ps->cap_frames = cap;
    }
    json_frame *f = &ps->frames[ps->depth++];
    f->type = type;
    f->first = ps->n_vals;
    f->key = NULL;
    f->key_len = 0;
    ps->p++;
    return 0;
}

/* Pop the innermost container: its children move from the value stack into the arena. */
static int close_container(json_parser *ps, sotto_json *v)
{
    json_frame *f = &ps->frames[--ps->depth];
    size_t n = ps->n_vals - f->first;
    memset(v, 0, sizeof *v);
    v->type = f->type;
    v->len = n;
    if (n > 0) {
        v->u.items = arena_alloc(ps->arena, n * sizeof(sotto_json));
        if (!v->u.items)
            return out_of_memory();
        memcpy(v->u.items, ps->vals + f->first, n * sizeof(sotto_json));
    }
    ps->n_vals = f->first;
    return 0;
}

enum { ST_VALUE, ST_KEY, ST_AFTER };

static int parse_document(json_parser *ps, sotto_json *root)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail_at(ps, ps->p, "empty document");
    int state = ST_VALUE, rc;
    sotto_json v;
    for (;;) {
        if (state == ST_KEY) {
            json_frame *f = &ps->frames[ps->depth - 1];
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return unexpected(ps, ps->p, " (expected a string key)");
            if ((rc = parse_string(ps, &f->key, &f->key_len)) != 0)
                return rc;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return unexpected(ps, ps->p, " (expected ':')");
            ps->p++;
            state = ST_VALUE;
            continue;
        }
        if (state == ST_AFTER) {
            json_frame *f = &ps->frames[ps->depth - 1];
            char closer = f->type == SOTTO_JSON_OBJECT ? '}' : ']';
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                state = f->type == SOTTO_JSON_OBJECT ? ST_KEY : ST_VALUE;
                continue;
            }
            if (ps->p >= ps->end || *ps->p != closer)
                return unexpected(ps, ps->p, closer == '}' ? " (expected ',' or '}')" : " (expected ',' or ']')");
            ps->p++;
            if ((rc = close_container(ps, &v)) != 0)
                return rc;
        } else { /* ST_VALUE */
            skip_ws(ps);
            if (ps->p >= ps->end)
                return unexpected(ps, ps->p, "");
            if (++ps->n_values > ps->max_values)
                return fail_at(ps, ps->p, "more than %zu values", ps->max_values);
            memset(&v, 0, sizeof v);
            char c = *ps->p;
            if (c == '[' || c == '{') {
                uint8_t type = c == '[' ? SOTTO_JSON_ARRAY : SOTTO_JSON_OBJECT;
                if ((rc = open_container(ps, type)) != 0)
                    return rc;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == (c == '[' ? ']' : '}')) {
                    ps->p++;
                    if ((rc = close_container(ps, &v)) != 0)
                        return rc;
                } else {
                    state = type == SOTTO_JSON_OBJECT ? ST_KEY : ST_VALUE;
                    continue;
                }
            } else if (c == '"') {
                v.type = SOTTO_JSON_STRING;
                if ((rc = parse_string(ps, &v.u.str, &v.len)) != 0)
                    return rc;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                if ((rc = parse_number(ps, &v)) != 0)
                    return rc;
            } else if ((rc = parse_literal(ps, &v)) != 0) {
                return rc;
            }
        }
        /* a complete value v: the root, or a child of the innermost open container */
        if (ps->depth == 0)
            break;
        json_frame *f = &ps->frames[ps->depth - 1];
        v.key = f->key;
        v.key_len = f->key_len;
        if ((rc = push_value(ps, &v)) != 0)
            return rc;
        state = ST_AFTER;
    }
    skip_ws(ps);
    if (ps->p < ps->end)
        return unexpected(ps, ps->p, " after the document");
    *root = v;
    return 0;
}

int sotto_json_parse(const char *text, size_t len, const sotto_json_limits *limits,
                     sotto_json **root)
{
    SOTTO_ASSERT(root != NULL);
    SOTTO_ASSERT(text != NULL || len == 0);
    *root = NULL;
    json_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return out_of_memory();
    doc->arena.next_cap = ARENA_FIRST_BLOCK;
    json_parser ps = {0};
    ps.start = ps.p = text ? text : "";
    ps.end = ps.start + len;
    ps.arena = &doc->arena;
    ps.max_depth = limits && limits->max_depth ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH;
    ps.max_values = limits && limits->max_values ? limits->max_values : JSON_DEFAULT_MAX_VALUES;
    int rc = parse_document(&ps, &doc->root);
    free(ps.vals);
    free(ps.frames);
    if (rc != 0) {
        arena_release(&doc->arena);
        free(doc);
        return rc;
    }
    doc->root.is_root = 1;
    *root = &doc->root;
    return 0;
}

void sotto_json_free(sotto_json *root)
{
    if (!root)
        return;
    SOTTO_ASSERT(root->is_root); /* only a document's root owns memory */
    json_doc *doc = (json_doc *)((char *)root - offsetof(json_doc, root));
    arena_release(&doc->arena);
    free(doc);
}
