/* Tests for src/stream/event_msgpack.c: every stream event type encoded as MessagePack,
 * decoded by a strict decoder here (which also rejects any value not in its smallest form,
 * truncation, trailing bytes and invalid UTF-8), and compared field by field with the JSON
 * encoding of the same event (sotto_stream_event_json): same keys in the same order, same
 * nesting, same strings, ints exact, floats within JSON's rounding; plus every width of
 * str, int, array and map, and the error returns. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_int.h"
#include "check.h"
#include "sotto/buf.h"
#include "sotto/error.h"
#include "sotto/json.h"
#include "sotto/stream.h"
#include "stream/event_msgpack.h"

/* ---- a strict decoder into a tree ------------------------------------------------------- */
enum { MP_NIL, MP_BOOL, MP_INT, MP_FLOAT, MP_STR, MP_ARRAY, MP_MAP };

typedef struct mp_node {
    int kind;
    int64_t i;              /* int, bool */
    double f;               /* float */
    uint8_t *s;             /* str bytes (a copy, not NUL-terminated) */
    size_t len;             /* str bytes, array items, map pairs */
    struct mp_node *kids;   /* array: len items; map: 2*len (key, value, ...) */
} mp_node;

typedef struct mp_reader {
    const uint8_t *p;
    size_t n, off;
} mp_reader;

static int rd(mp_reader *r, size_t k, uint64_t *v)
{
    if (k > r->n - r->off)
        return -1; /* truncated */
    uint64_t x = 0;
    for (size_t i = 0; i < k; i++)
        x = x << 8 | r->p[r->off + i];
    r->off += k;
    *v = x;
    return 0;
}

static void mp_free(mp_node *n)
{
    if (n->kind == MP_STR)
        free(n->s);
    if (n->kind == MP_ARRAY || n->kind == MP_MAP) {
        size_t k = n->kind == MP_MAP ? 2 * n->len : n->len;
        for (size_t i = 0; i < k; i++)
            mp_free(&n->kids[i]);
        free(n->kids);
    }
}

static int mp_read(mp_reader *r, mp_node *out, int depth)
{
    memset(out, 0, sizeof *out);
    uint64_t t, v;
    if (depth > 8 || rd(r, 1, &t))
        return -1;
    size_t len = 0;
    int kind;
    if (t <= 0x7f) {
        out->kind = MP_INT;
        out->i = (int64_t)t;
        return 0;
    }
    if (t >= 0xe0) {
        out->kind = MP_INT;
        out->i = (int64_t)t - 256;
        return 0;
    }
    if ((t & 0xf0) == 0x80 || (t & 0xf0) == 0x90) {
        kind = (t & 0xf0) == 0x80 ? MP_MAP : MP_ARRAY;
        len = t & 0x0f;
    } else if ((t & 0xe0) == 0xa0) {
        kind = MP_STR;
        len = t & 0x1f;
    } else {
        switch (t) {
        case 0xc0: out->kind = MP_NIL; return 0;
        case 0xc2: case 0xc3: out->kind = MP_BOOL; out->i = t == 0xc3; return 0;
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            static const uint64_t lo[] = {0x80, 0x100, 0x10000, 0x100000000ull};
            int w = (int)(t - 0xcc);
            if (rd(r, (size_t)1 << w, &v) || v < lo[w] || v > INT64_MAX)
                return -1; /* not the smallest form (or not an int64) */
            out->kind = MP_INT;
            out->i = (int64_t)v;
            return 0;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            static const int64_t hi[] = {-33, INT8_MIN - 1, INT16_MIN - 1, (int64_t)INT32_MIN - 1};
            int w = (int)(t - 0xd0);
            size_t k = (size_t)1 << w;
            if (rd(r, k, &v))
                return -1;
            int64_t x = k == 8 ? (int64_t)v : (int64_t)(v ^ ((uint64_t)1 << (8 * k - 1))) - ((int64_t)1 << (8 * k - 1));
            if (x > hi[w])
                return -1; /* non-negative or small values have shorter forms */
            out->kind = MP_INT;
            out->i = x;
            return 0;
        }
        case 0xcb:
            if (rd(r, 8, &v))
                return -1;
            out->kind = MP_FLOAT;
            memcpy(&out->f, &v, 8);
            return 0;
        case 0xd9: case 0xda: case 0xdb:
            kind = MP_STR;
            if (rd(r, (size_t)1 << (t - 0xd9), &v) || v < (t == 0xd9 ? 32u : t == 0xda ? 256u : 65536u))
                return -1;
            len = (size_t)v;
            break;
        case 0xdc: case 0xdd: case 0xde: case 0xdf:
            kind = t <= 0xdd ? MP_ARRAY : MP_MAP;
            if (rd(r, (t & 1) ? 4 : 2, &v) || v < ((t & 1) ? 65536u : 16u))
                return -1;
            len = (size_t)v;
            break;
        default:
            return -1; /* bin, ext, float32: never written by the encoder */
        }
    }
    out->kind = kind;
    out->len = len;
    if (kind == MP_STR) {
        if (len > r->n - r->off || !json_utf8_valid((const char *)r->p + r->off, len))
            return -1;
        out->s = malloc(len ? len : 1); /* a copy: the tree outlives the encoded bytes */
        if (!out->s)
            return -1;
        memcpy(out->s, r->p + r->off, len);
        r->off += len;
        return 0;
    }
    size_t k = kind == MP_MAP ? 2 * len : len;
    if (k > r->n - r->off) /* every value takes at least one byte */
        return -1;
    out->kids = calloc(k ? k : 1, sizeof *out->kids);
    if (!out->kids)
        return -1;
    for (size_t i = 0; i < k; i++)
        if (mp_read(r, &out->kids[i], depth + 1) || (kind == MP_MAP && i % 2 == 0 && out->kids[i].kind != MP_STR)) {
            out->len = kind == MP_MAP ? (i + 2) / 2 : i + 1;
            mp_free(out);
            out->kind = MP_NIL;
            return -1;
        }
    return 0;
}

/* Decode the whole buffer: exactly one value, no trailing bytes. */
static int mp_decode(const sotto_buf *b, mp_node *out)
{
    mp_reader r = {(const uint8_t *)b->data, b->len, 0};
    if (mp_read(&r, out, 0))
        return -1;
    if (r.off != r.n) {
        mp_free(out);
        return -1;
    }
    return 0;
}

/* ---- comparison with the JSON encoding ----------------------------------------------------- */
static int key_is(const char *key, const char *const *list)
{
    for (; key && *list; list++)
        if (!strcmp(key, *list))
            return 1;
    return 0;
}

static const char *const FLOAT_KEYS[] = {"t", "start", "end", "p", "latency_s", "rtf", "buffered_s",
                                         "backlog_s", "audio_s", "voiced_s", "compute_s", NULL};
static const char *const INT_KEYS[] = {"segment_id", "updates", "updates_no_vad", NULL};
static const char *const STR_KEYS[] = {"type", "text", "word", "language", NULL};

/* m (msgpack) equals j (JSON) field by field; key is the member name m is the value of. */
static void compare(const mp_node *m, const sotto_json *j, const char *key)
{
    if (key_is(key, FLOAT_KEYS) && m->kind != MP_FLOAT && m->kind != MP_NIL)
        CHECK_FAIL("'%s' is not a float64 (kind %d)", key, m->kind);
    if (key_is(key, INT_KEYS) && m->kind != MP_INT)
        CHECK_FAIL("'%s' is not an int (kind %d)", key, m->kind);
    if (key_is(key, STR_KEYS) && m->kind != MP_STR)
        CHECK_FAIL("'%s' is not a str (kind %d)", key, m->kind);
    switch (sotto_json_type_of(j)) {
    case SOTTO_JSON_NULL:
        ASSERT_EQ(m->kind, MP_NIL);
        break;
    case SOTTO_JSON_TRUE:
    case SOTTO_JSON_FALSE:
        ASSERT_EQ(m->kind, MP_BOOL);
        ASSERT_EQ(m->i, sotto_json_type_of(j) == SOTTO_JSON_TRUE);
        break;
    case SOTTO_JSON_NUMBER:
        if (m->kind == MP_INT) {
            int64_t x;
            ASSERT_OK(sotto_json_int(j, key, INT64_MIN, INT64_MAX, &x));
            ASSERT_EQ(m->i, x);
        } else {
            ASSERT_EQ(m->kind, MP_FLOAT);
            /* JSON prints 3 decimals (rtf 4): the float64 is the unrounded value */
            ASSERT_NEAR(m->f, sotto_json_number(j, NAN), 5.0001e-4 * fmax(1.0, fabs(m->f) * 1e-9));
        }
        break;
    case SOTTO_JSON_STRING:
        ASSERT_EQ(m->kind, MP_STR);
        ASSERT_EQ(m->len, sotto_json_string_len(j));
        ASSERT_TRUE(memcmp(m->s, sotto_json_string(j, ""), m->len) == 0);
        break;
    case SOTTO_JSON_ARRAY:
        ASSERT_EQ(m->kind, MP_ARRAY);
        ASSERT_EQ(m->len, sotto_json_len(j));
        for (size_t i = 0; i < m->len; i++)
            compare(&m->kids[i], sotto_json_at(j, i), NULL);
        break;
    case SOTTO_JSON_OBJECT:
        ASSERT_EQ(m->kind, MP_MAP);
        ASSERT_EQ(m->len, sotto_json_len(j));
        for (size_t i = 0; i < m->len; i++) {
            const mp_node *k = &m->kids[2 * i];
            const char *jk = sotto_json_key(j, i);
            ASSERT_TRUE(k->len == strlen(jk) && memcmp(k->s, jk, k->len) == 0);
            compare(&m->kids[2 * i + 1], sotto_json_at(j, i), jk);
        }
        break;
    }
}

/* Encode ev both ways, compare, and hand back the decoded msgpack (free with mp_free). */
static void check_event(const sotto_stream_event *ev, double offset_s, mp_node *out)
{
    sotto_buf bj = SOTTO_BUF_INIT, bm = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_stream_event_json(ev, offset_s, &bj));
    ASSERT_OK(sotto_stream_event_msgpack(ev, offset_s, &bm));
    sotto_json *j = NULL;
    ASSERT_OK(sotto_json_parse(bj.data, bj.len, NULL, &j));
    ASSERT_TRUE(mp_decode(&bm, out) == 0);
    compare(out, j, NULL);
    ASSERT_EQ(out->kind, MP_MAP);
    sotto_json_free(j);
    sotto_buf_free(&bj);
    sotto_buf_free(&bm);
}

/* The value of member key in a decoded map (NULL when absent). */
static const mp_node *mp_get(const mp_node *m, const char *key)
{
    for (size_t i = 0; m->kind == MP_MAP && i < m->len; i++)
        if (m->kids[2 * i].len == strlen(key) && !memcmp(m->kids[2 * i].s, key, m->kids[2 * i].len))
            return &m->kids[2 * i + 1];
    return NULL;
}

/* ---- tests ------------------------------------------------------------------------------------ */
TEST(every_event_type_matches_json)
{
    sotto_word words[3] = {{" hello", 1.0, 1.4, 0.91}, {" wörld", 1.4, 2.0, 0.5}, {"", 2.0, 2.0, 0.0}};
    sotto_stream_event ev;
    mp_node m;

    static const sotto_stream_event_type simple[] = {SOTTO_STREAM_SPEECH_START, SOTTO_STREAM_SPEECH_END};
    for (size_t i = 0; i < 2; i++) {
        memset(&ev, 0, sizeof ev);
        ev.type = simple[i];
        ev.t = 2.125;
        check_event(&ev, 10.0, &m);
        ASSERT_EQ(m.len, 2);
        ASSERT_TRUE(mp_get(&m, "t")->f == 12.125);
        mp_free(&m);
    }

    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_PARTIAL;
    ev.text = "par\ntial \"quoted\" \x01 ü";
    ev.start = 0.0004;
    ev.end = 1.23456;
    check_event(&ev, 0.5, &m);
    ASSERT_EQ(m.len, 4);
    ASSERT_TRUE(mp_get(&m, "end")->f == 1.23456 + 0.5); /* full precision, not JSON's 3 decimals */
    mp_free(&m);

    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_PARTIAL; /* NULL text is "" as in JSON */
    check_event(&ev, 0, &m);
    ASSERT_EQ(mp_get(&m, "text")->len, 0);
    mp_free(&m);

    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_FINAL;
    ev.segment_id = 3;
    ev.text = "hello wörld";
    ev.start = 1.0;
    ev.end = 2.0;
    ev.words = words;
    ev.n_words = 3;
    ev.language = "en";
    check_event(&ev, 100.25, &m);
    ASSERT_EQ(m.len, 7);
    const mp_node *ws = mp_get(&m, "words");
    ASSERT_EQ(ws->len, 3);
    ASSERT_TRUE(mp_get(&ws->kids[0], "word")->len == 5); /* leading space dropped, as in JSON */
    ASSERT_TRUE(mp_get(&ws->kids[1], "start")->f == 101.65);
    mp_free(&m);

    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_FINAL; /* no words, no language: [] and "" */
    check_event(&ev, 0, &m);
    ASSERT_EQ(mp_get(&m, "words")->len, 0);
    ASSERT_EQ(mp_get(&m, "language")->len, 0);
    mp_free(&m);

    sotto_stream_stats st;
    memset(&st, 0, sizeof st);
    st.latency_s = 0.3125;
    st.rtf = 0.12345;
    st.audio_s = 61.5;
    st.voiced_s = 40;
    st.compute_s = 7.25;
    st.backlog_s = NAN; /* JSON null: msgpack nil */
    st.buffered_s = INFINITY;
    st.degraded = 1;
    st.updates = 70000;
    st.updates_no_vad = 5000000000LL;
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_STATS;
    ev.stats = &st;
    check_event(&ev, 0, &m);
    ASSERT_EQ(m.len, 12);
    ASSERT_EQ(mp_get(&m, "backlog_s")->kind, MP_NIL);
    ASSERT_EQ(mp_get(&m, "degraded")->kind, MP_BOOL);
    ASSERT_EQ(mp_get(&m, "shedding")->i, 0);
    ASSERT_EQ(mp_get(&m, "updates_no_vad")->i, 5000000000LL);
    mp_free(&m);
}

TEST(strings_of_every_width)
{
    /* fixstr up to 31, str8 to 255, str16 to 65535, str32 beyond */
    static const struct { size_t n; unsigned char head; size_t head_len; } cases[] = {
        {0, 0xa0, 1}, {1, 0xa1, 1}, {31, 0xbf, 1}, {32, 0xd9, 2}, {255, 0xd9, 2},
        {256, 0xda, 3}, {65535, 0xda, 3}, {65536, 0xdb, 5}, {200000, 0xdb, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].n;
        char *s = malloc(n + 1);
        ASSERT_TRUE(s != NULL);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)('a' + i % 26);
        s[n] = '\0';
        sotto_buf b = SOTTO_BUF_INIT;
        ASSERT_OK(msgpack_put_str(&b, s));
        ASSERT_EQ(b.len, n + cases[c].head_len);
        ASSERT_EQ((unsigned char)b.data[0], cases[c].head);
        mp_node m;
        ASSERT_TRUE(mp_decode(&b, &m) == 0);
        ASSERT_TRUE(m.kind == MP_STR && m.len == n && memcmp(m.s, s, n) == 0);
        mp_free(&m);
        sotto_buf_free(&b);
        /* and inside an event, against the JSON */
        sotto_stream_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SOTTO_STREAM_PARTIAL;
        ev.text = s;
        check_event(&ev, 0, &m);
        mp_free(&m);
        free(s);
    }
}

TEST(invalid_utf8_becomes_replacement_as_in_json)
{
    /* a stray continuation byte, a truncated sequence, an overlong '/', a surrogate */
    const char *bad = "a\x80" "b\xE2\x82" "c\xC0\xAF" "d\xED\xA0\x80" "e";
    sotto_stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SOTTO_STREAM_PARTIAL;
    ev.text = bad;
    mp_node m;
    check_event(&ev, 0, &m); /* the decoder rejects invalid UTF-8, compare() checks the bytes */
    const mp_node *t = mp_get(&m, "text");
    ASSERT_TRUE(t->len > strlen(bad));
    ASSERT_TRUE(memcmp(t->s, "a\xEF\xBF\xBD" "b", 5) == 0);
    mp_free(&m);
}

TEST(ints_of_every_width)
{
    static const struct { int64_t v; size_t len; } cases[] = {
        {0, 1}, {1, 1}, {127, 1}, {128, 2}, {255, 2}, {256, 3}, {65535, 3}, {65536, 5},
        {4294967295LL, 5}, {4294967296LL, 9}, {INT64_MAX, 9}, {-1, 1}, {-32, 1}, {-33, 2},
        {-128, 2}, {-129, 3}, {-32768, 3}, {-32769, 5}, {INT32_MIN, 5}, {(int64_t)INT32_MIN - 1, 9},
        {INT64_MIN, 9}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sotto_buf b = SOTTO_BUF_INIT;
        ASSERT_OK(msgpack_put_int(&b, cases[c].v));
        ASSERT_EQ(b.len, cases[c].len);
        mp_node m;
        ASSERT_TRUE(mp_decode(&b, &m) == 0); /* also proves the form is the smallest */
        ASSERT_EQ(m.kind, MP_INT);
        ASSERT_TRUE(m.i == cases[c].v);
        sotto_buf_free(&b);
    }
    /* negative and large ids inside events, exact against JSON's integers */
    static const int64_t ids[] = {0, 200, -5, -300, 1LL << 40, INT64_MAX, INT64_MIN};
    for (size_t c = 0; c < sizeof ids / sizeof ids[0]; c++) {
        sotto_stream_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SOTTO_STREAM_FINAL;
        ev.segment_id = ids[c];
        mp_node m;
        check_event(&ev, 0, &m);
        ASSERT_TRUE(mp_get(&m, "segment_id")->i == ids[c]);
        mp_free(&m);
    }
}

TEST(many_words_and_container_widths)
{
    /* 15 words: fixarray; 16: array16; 70000: array32 */
    static const struct { size_t n; unsigned char head; } cases[] = {{15, 0x9f}, {16, 0xdc}, {70000, 0xdd}};
    for (size_t c = 0; c < 3; c++) {
        size_t n = cases[c].n;
        sotto_word *w = calloc(n, sizeof *w);
        ASSERT_TRUE(w != NULL);
        for (size_t i = 0; i < n; i++) {
            w[i].word = i % 2 ? " word" : "x";
            w[i].start = 0.1 * (double)i;
            w[i].end = 0.1 * (double)i + 0.05;
            w[i].probability = (double)(i % 100) / 100.0;
        }
        sotto_stream_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = SOTTO_STREAM_FINAL;
        ev.text = "words";
        ev.words = w;
        ev.n_words = n;
        ev.language = "en";
        sotto_buf b = SOTTO_BUF_INIT;
        ASSERT_OK(sotto_stream_event_msgpack(&ev, 0, &b));
        /* map(7) "type" "final" "segment_id" 0 "text" "words" "start" f64 "end" f64 "words" */
        size_t at = 1 + 5 + 6 + 11 + 1 + 5 + 6 + 6 + 9 + 4 + 9 + 6;
        ASSERT_TRUE(b.len > at);
        ASSERT_EQ((unsigned char)b.data[at], cases[c].head);
        sotto_buf_free(&b);
        mp_node m;
        check_event(&ev, 3.0, &m);
        ASSERT_EQ(mp_get(&m, "words")->len, n);
        mp_free(&m);
        free(w);
    }
    static const struct { uint32_t n; unsigned char head; size_t len; } maps[] = {
        {0, 0x80, 1}, {15, 0x8f, 1}, {16, 0xde, 3}, {65535, 0xde, 3}, {65536, 0xdf, 5}};
    for (size_t c = 0; c < 5; c++) {
        sotto_buf b = SOTTO_BUF_INIT;
        ASSERT_OK(msgpack_put_map(&b, maps[c].n));
        ASSERT_EQ(b.len, maps[c].len);
        ASSERT_EQ((unsigned char)b.data[0], maps[c].head);
        sotto_buf_reset(&b);
        ASSERT_OK(msgpack_put_array(&b, maps[c].n));
        ASSERT_EQ((unsigned char)b.data[0], (unsigned char)(maps[c].head + (maps[c].n < 16 ? 0x10 : 0xdc - 0xde)));
        sotto_buf_free(&b);
    }
}

TEST(scalars_and_errors)
{
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(msgpack_put_nil(&b));
    ASSERT_OK(msgpack_put_bool(&b, 0));
    ASSERT_OK(msgpack_put_bool(&b, 7));
    ASSERT_OK(msgpack_put_float(&b, -0.5));
    ASSERT_OK(msgpack_put_float(&b, NAN));
    ASSERT_EQ(b.len, 1 + 1 + 1 + 9 + 1);
    static const unsigned char want[] = {0xc0, 0xc2, 0xc3, 0xcb, 0xbf, 0xe0, 0, 0, 0, 0, 0, 0, 0xc0};
    ASSERT_TRUE(memcmp(b.data, want, sizeof want) == 0);
    sotto_buf_free(&b);

    sotto_stream_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (sotto_stream_event_type)99;
    ASSERT_EQ(sotto_stream_event_msgpack(&ev, 0, &b), SOTTO_EINVAL);
    ev.type = SOTTO_STREAM_STATS; /* without figures */
    ASSERT_EQ(sotto_stream_event_msgpack(&ev, 0, &b), SOTTO_EINVAL);
    ASSERT_EQ(sotto_stream_event_msgpack(NULL, 0, &b), SOTTO_EINVAL);
    ASSERT_EQ(sotto_stream_event_msgpack(&ev, 0, NULL), SOTTO_EINVAL);
    /* the buffer's cap is an error, not a truncated map passed off as whole */
    ev.type = SOTTO_STREAM_PARTIAL;
    ev.text = "a text longer than the cap of this buffer";
    sotto_buf_init(&b, 16);
    ASSERT_EQ(sotto_stream_event_msgpack(&ev, 0, &b), SOTTO_ENOMEM);
    sotto_buf_free(&b);
}
