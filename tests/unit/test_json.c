/* test_json.c - the strict JSON parser: every value type, the RFC 8259 examples, escapes,
 * every rejection class with its message and position, limits, deep nesting, accessors. */
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "sotto/error.h"
#include "sotto/json.h"

static sotto_json *parse_ok(const char *text)
{
    sotto_json *root = NULL;
    int rc = sotto_json_parse(text, strlen(text), NULL, &root);
    if (rc != 0)
        CHECK_FAIL("parse of '%s' failed: %s", text, sotto_last_error());
    return root;
}

/* Parse must fail with SOTTO_EFORMAT and exactly this message. */
static void expect_error_n(const char *text, size_t len, const char *message)
{
    sotto_json *root = (sotto_json *)(uintptr_t)1;
    int rc = sotto_json_parse(text, len, NULL, &root);
    if (rc != SOTTO_EFORMAT)
        CHECK_FAIL("parse of '%.*s' returned %d, expected SOTTO_EFORMAT", (int)len, text, rc);
    if (root != NULL)
        CHECK_FAIL("root not cleared on failure");
    if (strcmp(sotto_last_error(), message) != 0)
        CHECK_FAIL("parse of '%.*s':\n  got:      %s\n  expected: %s", (int)len, text,
                   sotto_last_error(), message);
}

static void expect_error(const char *text, const char *message)
{
    expect_error_n(text, strlen(text), message);
}

TEST(scalars_of_every_type)
{
    sotto_json *v = parse_ok("null");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_NULL);
    sotto_json_free(v);
    v = parse_ok(" true ");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_TRUE);
    ASSERT_EQ(sotto_json_bool(v, -1), 1);
    sotto_json_free(v);
    v = parse_ok("\n\tfalse\r\n");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_FALSE);
    ASSERT_EQ(sotto_json_bool(v, -1), 0);
    sotto_json_free(v);
    v = parse_ok("-12.5e-1");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_NUMBER);
    ASSERT_NEAR(sotto_json_number(v, 0), -1.25, 0);
    sotto_json_free(v);
    v = parse_ok("\"hi\"");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_STRING);
    ASSERT_STR_EQ(sotto_json_string(v, NULL), "hi");
    ASSERT_EQ(sotto_json_string_len(v), 2);
    sotto_json_free(v);
    v = parse_ok("[]");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_ARRAY);
    ASSERT_EQ(sotto_json_len(v), 0);
    ASSERT_TRUE(sotto_json_at(v, 0) == NULL);
    sotto_json_free(v);
    v = parse_ok("{ }");
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_OBJECT);
    ASSERT_EQ(sotto_json_len(v), 0);
    ASSERT_TRUE(sotto_json_get(v, "a") == NULL);
    sotto_json_free(v);
}

TEST(numbers_follow_the_grammar)
{
    static const struct { const char *text; double value; } ok[] = {
        {"0", 0}, {"-0", -0.0}, {"1", 1}, {"10", 10}, {"0.5", 0.5}, {"-0.5e2", -50},
        {"1E3", 1000}, {"1e+3", 1000}, {"25e-1", 2.5}, {"123456789", 123456789},
        {"1.7976931348623157e308", 1.7976931348623157e308}, {"5e-324", 5e-324},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        sotto_json *v = parse_ok(ok[i].text);
        ASSERT_TRUE(sotto_json_number(v, 99) == ok[i].value);
        sotto_json_free(v);
    }
}

/* RFC 8259 section 13 (both examples) and the small texts of section 2. */
TEST(rfc8259_examples)
{
    const char *image =
        "{\n"
        "  \"Image\": {\n"
        "    \"Width\":  800,\n"
        "    \"Height\": 600,\n"
        "    \"Title\":  \"View from 15th Floor\",\n"
        "    \"Thumbnail\": {\n"
        "      \"Url\":    \"http://www.example.com/image/481989943\",\n"
        "      \"Height\": 125,\n"
        "      \"Width\":  100\n"
        "    },\n"
        "    \"Animated\" : false,\n"
        "    \"IDs\": [116, 943, 234, 38793]\n"
        "  }\n"
        "}";
    sotto_json *root = parse_ok(image);
    const sotto_json *img = sotto_json_get(root, "Image");
    ASSERT_EQ(sotto_json_len(img), 6);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(img, "Width"), 0), 800, 0);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(img, "Title"), NULL), "View from 15th Floor");
    const sotto_json *thumb = sotto_json_get(img, "Thumbnail");
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(thumb, "Url"), NULL),
                  "http://www.example.com/image/481989943");
    ASSERT_EQ(sotto_json_bool(sotto_json_get(img, "Animated"), -1), 0);
    const sotto_json *ids = sotto_json_get(img, "IDs");
    ASSERT_EQ(sotto_json_len(ids), 4);
    int64_t id;
    ASSERT_OK(sotto_json_int(sotto_json_at(ids, 3), "IDs[3]", 0, 100000, &id));
    ASSERT_EQ(id, 38793);
    ASSERT_STR_EQ(sotto_json_key(img, 5), "IDs");
    sotto_json_free(root);

    const char *places =
        "[\n"
        "  {\n"
        "     \"precision\": \"zip\",\n"
        "     \"Latitude\":  37.7668,\n"
        "     \"Longitude\": -122.3959,\n"
        "     \"Address\":   \"\",\n"
        "     \"City\":      \"SAN FRANCISCO\",\n"
        "     \"State\":     \"CA\",\n"
        "     \"Zip\":       \"94107\",\n"
        "     \"Country\":   \"US\"\n"
        "  },\n"
        "  {\n"
        "     \"precision\": \"zip\",\n"
        "     \"Latitude\":  37.371991,\n"
        "     \"Longitude\": -122.026020,\n"
        "     \"Address\":   \"\",\n"
        "     \"City\":      \"SUNNYVALE\",\n"
        "     \"State\":     \"CA\",\n"
        "     \"Zip\":       \"94085\",\n"
        "     \"Country\":   \"US\"\n"
        "  }\n"
        "]";
    root = parse_ok(places);
    ASSERT_EQ(sotto_json_len(root), 2);
    const sotto_json *second = sotto_json_at(root, 1);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(second, "Longitude"), 0), -122.026020, 1e-12);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(second, "Address"), NULL), "");
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(second, "City"), NULL), "SUNNYVALE");
    sotto_json_free(root);

    root = parse_ok("\"Hello world!\"");
    ASSERT_STR_EQ(sotto_json_string(root, NULL), "Hello world!");
    sotto_json_free(root);
    root = parse_ok("42");
    ASSERT_NEAR(sotto_json_number(root, 0), 42, 0);
    sotto_json_free(root);
}

TEST(string_escapes_and_unicode)
{
    sotto_json *v = parse_ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
    ASSERT_STR_EQ(sotto_json_string(v, NULL), "a\"b\\c/d\b\f\n\r\t");
    sotto_json_free(v);
    v = parse_ok("\"caf\\u00e9 \\u20AC \\ud83d\\ude00 \\uD834\\uDD1E\"");
    ASSERT_STR_EQ(sotto_json_string(v, NULL),
                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf0\x9d\x84\x9e");
    sotto_json_free(v);
    v = parse_ok("\"raw caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80\"");
    ASSERT_STR_EQ(sotto_json_string(v, NULL), "raw caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80");
    sotto_json_free(v);
    /* an escaped NUL is kept: the length says where the string ends */
    v = parse_ok("\"a\\u0000b\"");
    ASSERT_EQ(sotto_json_string_len(v), 3);
    ASSERT_TRUE(memcmp(sotto_json_string(v, NULL), "a\0b", 4) == 0);
    sotto_json_free(v);
    /* escapes in keys are decoded too */
    v = parse_ok("{\"k\\u00e9y\": 1}");
    ASSERT_TRUE(sotto_json_get(v, "k\xc3\xa9y") != NULL);
    sotto_json_free(v);
}

TEST(rejects_lone_surrogates)
{
    expect_error("\"\\ud800\"", "JSON: lone surrogate \\uD800 in string at line 1, column 2");
    expect_error("\"\\udc00\"", "JSON: lone surrogate \\uDC00 in string at line 1, column 2");
    expect_error("\"x\\uD83D\\u0041\"", "JSON: lone surrogate \\uD83D in string at line 1, column 3");
    expect_error("\"\\ud83dx\"", "JSON: lone surrogate \\uD83D in string at line 1, column 2");
    expect_error("\"\\ud83d\\ud83d\"", "JSON: lone surrogate \\uD83D in string at line 1, column 2");
}

TEST(rejects_each_syntax_error_with_position)
{
    static const struct { const char *text, *message; } cases[] = {
        {"[1,,2]", "JSON: unexpected ',' at line 1, column 4"},
        {"[1,2,]", "JSON: unexpected ']' at line 1, column 6"},
        {"{\"a\":1,}", "JSON: unexpected '}' (expected a string key) at line 1, column 8"},
        {"{\"a\" 1}", "JSON: unexpected '1' (expected ':') at line 1, column 6"},
        {"{a:1}", "JSON: unexpected 'a' (expected a string key) at line 1, column 2"},
        {"[1 2]", "JSON: unexpected '2' (expected ',' or ']') at line 1, column 4"},
        {"{\"a\":1 \"b\":2}", "JSON: unexpected '\"' (expected ',' or '}') at line 1, column 8"},
        {"[1}", "JSON: unexpected '}' (expected ',' or ']') at line 1, column 3"},
        {"{\"a\":1]", "JSON: unexpected ']' (expected ',' or '}') at line 1, column 7"},
        {"[1] x", "JSON: unexpected 'x' after the document at line 1, column 5"},
        {"1 2", "JSON: unexpected '2' after the document at line 1, column 3"},
        {"[1,\n 2,\n /* c */ 3]", "JSON: unexpected '/' at line 3, column 2"},
        {"// c\n1", "JSON: unexpected '/' at line 1, column 1"},
        {"{\"key\": [1, 2, 3", "JSON: unexpected end of input at line 1, column 17"},
        {"[\"abcdefgh", "JSON: unexpected end of input at line 1, column 11"},
        {"\"ab\\", "JSON: unexpected end of input at line 1, column 5"},
        {"NaN", "JSON: unexpected 'N' at line 1, column 1"},
        {"[-Infinity]", "JSON: expected a digit in number at line 1, column 3"},
        {"Infinity", "JSON: unexpected 'I' at line 1, column 1"},
        {"nul", "JSON: invalid literal (expected 'null') at line 1, column 1"},
        {"[True]", "JSON: unexpected 'T' at line 1, column 2"},
        {"tru e", "JSON: invalid literal (expected 'true') at line 1, column 1"},
        {"falsey", "JSON: unexpected 'y' after the document at line 1, column 6"},
        {"'a'", "JSON: unexpected ''' at line 1, column 1"},
        {"01", "JSON: leading zero in number at line 1, column 1"},
        {"[-012]", "JSON: leading zero in number at line 1, column 2"},
        {"1.", "JSON: unexpected end of input at line 1, column 3"},
        {"[1.]", "JSON: expected a digit after '.' in number at line 1, column 4"},
        {"[.5]", "JSON: unexpected '.' at line 1, column 2"},
        {"[1e]", "JSON: expected a digit in exponent at line 1, column 4"},
        {"[1e+]", "JSON: expected a digit in exponent at line 1, column 5"},
        {"[+1]", "JSON: unexpected '+' at line 1, column 2"},
        {"[0x10]", "JSON: unexpected 'x' (expected ',' or ']') at line 1, column 3"},
        {"[1e309]", "JSON: number out of range at line 1, column 2"},
        {"-", "JSON: unexpected end of input at line 1, column 2"},
        {"\"a\\qb\"", "JSON: invalid escape '\\q' in string at line 1, column 3"},
        {"\"\\x41\"", "JSON: invalid escape '\\x' in string at line 1, column 2"},
        {"\"\\u12\"", "JSON: invalid \\u escape (expected 4 hex digits) at line 1, column 2"},
        {"\"\\u12G4\"", "JSON: invalid \\u escape (expected 4 hex digits) at line 1, column 2"},
        {"\"tab\there\"", "JSON: control character 0x09 in string at line 1, column 5"},
        {"\"line\nbreak\"", "JSON: control character 0x0a in string at line 1, column 6"},
        {"\"\x7f ok\" x", "JSON: unexpected 'x' after the document at line 1, column 8"},
        {"", "JSON: empty document at line 1, column 1"},
        {" \n\t\r ", "JSON: empty document at line 2, column 4"},
        {"\xef\xbb\xbf{}", "JSON: unexpected byte 0xef at line 1, column 1"},
        {"[\x01]", "JSON: unexpected byte 0x01 at line 1, column 2"},
        {"\f1", "JSON: unexpected byte 0x0c at line 1, column 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].text, cases[i].message);
    /* a NUL byte is not whitespace */
    expect_error_n("[1]\0", 4, "JSON: unexpected byte 0x00 after the document at line 1, column 4");
    expect_error_n("\"a\0\"", 4, "JSON: control character 0x00 in string at line 1, column 3");
}

TEST(rejects_invalid_utf8)
{
    static const char *bad[] = {
        "\"\x80\"",             /* stray continuation */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
        "\"\xed\xa0\x80\"",     /* encoded surrogate U+D800 */
        "\"\xf0\x80\x80\xaf\"", /* overlong 4-byte */
        "\"\xf4\x90\x80\x80\"", /* above U+10FFFF */
        "\"\xf5\x80\x80\x80\"", /* invalid lead byte */
        "\"\xff\"",             /* invalid byte */
        "\"\xe2\x82\"",         /* truncated before the quote */
        "\"\xc3x\"",            /* lead byte then ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_error(bad[i], "JSON: invalid UTF-8 in string at line 1, column 2");
    /* the boundary code points are fine */
    sotto_json *v = parse_ok("[\"\xc2\x80\", \"\xed\x9f\xbf\", \"\xee\x80\x80\", \"\xf4\x8f\xbf\xbf\", \"\xef\xbf\xbf\"]");
    ASSERT_EQ(sotto_json_len(v), 5);
    sotto_json_free(v);
    /* outside strings a non-ASCII byte is simply unexpected */
    expect_error("[\xc3\xa9]", "JSON: unexpected byte 0xc3 at line 1, column 2");
}

TEST(nesting_at_the_limit_and_beyond)
{
    char doc[200];
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        doc[n++] = '[';
    for (int i = 0; i < 64; i++)
        doc[n++] = ']';
    sotto_json *root = NULL;
    ASSERT_OK(sotto_json_parse(doc, n, NULL, &root));
    const sotto_json *v = root;
    for (int i = 0; i < 63; i++)
        v = sotto_json_at(v, 0);
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_ARRAY);
    ASSERT_EQ(sotto_json_len(v), 0);
    sotto_json_free(root);

    /* mixed objects and arrays count alike: {"":[{"":[ ... 65 deep */
    char mixed[400];
    n = 0;
    for (int i = 0; i < 65; i++) {
        const char *open = i % 2 ? "[" : "{\"\":";
        memcpy(mixed + n, open, strlen(open));
        n += strlen(open);
    }
    ASSERT_EQ(sotto_json_parse(mixed, n, NULL, &root), SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "JSON: nesting deeper than 64 at line 1, column ");

    /* 65 arrays: the 65th bracket is reported */
    n = 0;
    for (int i = 0; i < 65; i++)
        doc[n++] = '[';
    for (int i = 0; i < 65; i++)
        doc[n++] = ']';
    ASSERT_EQ(sotto_json_parse(doc, n, NULL, &root), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), "JSON: nesting deeper than 64 at line 1, column 65");

    /* a custom limit */
    sotto_json_limits lim = {.max_depth = 3, .max_values = 0};
    ASSERT_OK(sotto_json_parse("{\"a\":[{}]}", 10, &lim, &root));
    sotto_json_free(root);
    ASSERT_EQ(sotto_json_parse("{\"a\":[{\"b\":[]}]}", 16, &lim, &root), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), "JSON: nesting deeper than 3 at line 1, column 12");
}

TEST(hundred_thousand_brackets_fail_fast)
{
    size_t n = 100000;
    char *doc = malloc(n);
    memset(doc, '[', n);
    sotto_json *root = NULL;
    clock_t t0 = clock();
    ASSERT_EQ(sotto_json_parse(doc, n, NULL, &root), SOTTO_EFORMAT);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    ASSERT_STR_EQ(sotto_last_error(), "JSON: nesting deeper than 64 at line 1, column 65");
    ASSERT_TRUE(secs < 0.5);
    /* with the limit lifted the iterative parser still cannot overflow the C stack */
    sotto_json_limits lim = {.max_depth = 1000000, .max_values = 0};
    ASSERT_EQ(sotto_json_parse(doc, n, &lim, &root), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), "JSON: unexpected end of input at line 1, column 100001");
    memset(doc + n / 2, ']', n / 2);
    ASSERT_OK(sotto_json_parse(doc, n, &lim, &root));
    sotto_json_free(root);
    free(doc);
}

TEST(max_values_limit)
{
    sotto_json_limits lim = {.max_depth = 0, .max_values = 4};
    sotto_json *root = NULL;
    ASSERT_OK(sotto_json_parse("[1,2,3]", 7, &lim, &root));
    sotto_json_free(root);
    ASSERT_EQ(sotto_json_parse("[1,2,3,4]", 9, &lim, &root), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), "JSON: more than 4 values at line 1, column 8");
    ASSERT_OK(sotto_json_parse("{\"a\":{\"b\":[]}}", 14, &lim, &root));
    sotto_json_free(root);

    /* the default admits a million values, not one more */
    size_t n_items = 999999, len = n_items * 2 + 1;
    char *doc = malloc(len + 2);
    doc[0] = '[';
    for (size_t i = 0; i < n_items; i++) {
        doc[1 + 2 * i] = '0';
        doc[2 + 2 * i] = ',';
    }
    doc[len - 1] = ']';
    ASSERT_OK(sotto_json_parse(doc, len, NULL, &root));
    ASSERT_EQ(sotto_json_len(root), n_items);
    ASSERT_EQ(sotto_json_type_of(sotto_json_at(root, n_items - 1)), SOTTO_JSON_NUMBER);
    sotto_json_free(root);
    doc[len - 1] = ',';
    doc[len] = '0';
    doc[len + 1] = ']';
    ASSERT_EQ(sotto_json_parse(doc, len + 2, NULL, &root), SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "JSON: more than 1000000 values");
    free(doc);
}

TEST(big_numbers)
{
    sotto_json *v = parse_ok("[123456789012345678901234567890, 1e308, -1e-400, 9223372036854775807,"
                             " -9223372036854775808, 9223372036854775808, 9007199254740993,"
                             " 0.1e1, 1e3, 1.5]");
    int64_t x = 0;
    ASSERT_NEAR(sotto_json_number(sotto_json_at(v, 0), 0), 1.2345678901234568e29, 1e15);
    ASSERT_EQ(sotto_json_int(sotto_json_at(v, 0), "a", INT64_MIN, INT64_MAX, &x), SOTTO_EINVAL);
    ASSERT_TRUE(sotto_json_number(sotto_json_at(v, 1), 0) == 1e308);
    ASSERT_TRUE(sotto_json_number(sotto_json_at(v, 2), 1) == 0.0); /* underflow is zero */
    ASSERT_OK(sotto_json_int(sotto_json_at(v, 3), "max", INT64_MIN, INT64_MAX, &x));
    ASSERT_TRUE(x == INT64_MAX);
    ASSERT_OK(sotto_json_int(sotto_json_at(v, 4), "min", INT64_MIN, INT64_MAX, &x));
    ASSERT_TRUE(x == INT64_MIN);
    ASSERT_EQ(sotto_json_int(sotto_json_at(v, 5), "over", INT64_MIN, INT64_MAX, &x), SOTTO_EINVAL);
    /* integer literals are exact even where a double is not */
    ASSERT_OK(sotto_json_int(sotto_json_at(v, 6), "id", 0, INT64_MAX, &x));
    ASSERT_TRUE(x == 9007199254740993LL);
    ASSERT_OK(sotto_json_int(sotto_json_at(v, 7), "one", 0, 10, &x));
    ASSERT_EQ(x, 1);
    ASSERT_OK(sotto_json_int(sotto_json_at(v, 8), "k", 0, 1000, &x));
    ASSERT_EQ(x, 1000);
    ASSERT_EQ(sotto_json_int(sotto_json_at(v, 9), "temperature", 0, 10, &x), SOTTO_EINVAL);
    ASSERT_STR_EQ(sotto_last_error(), "'temperature' must be an integer between 0 and 10");
    sotto_json_free(v);

    /* a 100,000-digit number is parsed (and converted) in reasonable time */
    size_t n = 100000;
    char *digits = malloc(n);
    memset(digits, '7', n);
    ASSERT_EQ(sotto_json_parse(digits, n, NULL, &v), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), "JSON: number out of range at line 1, column 1");
    digits[0] = '0';
    digits[1] = '.';
    ASSERT_OK(sotto_json_parse(digits, n, NULL, &v));
    ASSERT_NEAR(sotto_json_number(v, 0), 0.7777777, 1e-6);
    sotto_json_free(v);
    free(digits);
}

TEST(accessors_and_helpers)
{
    sotto_json *root = parse_ok("{\"model\":\"whisper-1\",\"n\":3,\"n\":5,\"flags\":[true,null,\"x\"],"
                                "\"neg\":-2,\"frac\":2.5}");
    ASSERT_EQ(sotto_json_len(root), 6);
    /* duplicates: both are kept in order; get returns the last */
    ASSERT_STR_EQ(sotto_json_key(root, 1), "n");
    ASSERT_STR_EQ(sotto_json_key(root, 2), "n");
    ASSERT_NEAR(sotto_json_number(sotto_json_at(root, 1), 0), 3, 0);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(root, "n"), 0), 5, 0);
    ASSERT_TRUE(sotto_json_key(root, 6) == NULL);
    ASSERT_TRUE(sotto_json_at(root, 6) == NULL);
    ASSERT_TRUE(sotto_json_get(root, "missing") == NULL);
    ASSERT_TRUE(sotto_json_get(root, "mode") == NULL);
    ASSERT_TRUE(sotto_json_get(root, NULL) == NULL);

    const sotto_json *flags = sotto_json_get(root, "flags");
    ASSERT_EQ(sotto_json_len(flags), 3);
    ASSERT_TRUE(sotto_json_key(flags, 0) == NULL); /* arrays have no keys */
    ASSERT_TRUE(sotto_json_get(flags, "x") == NULL);
    ASSERT_EQ(sotto_json_bool(sotto_json_at(flags, 0), 0), 1);
    ASSERT_EQ(sotto_json_bool(sotto_json_at(flags, 1), 7), 7);
    ASSERT_EQ(sotto_json_type_of(sotto_json_at(flags, 1)), SOTTO_JSON_NULL);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_at(flags, 2), "fb"), "x");

    /* typed reads fall back on NULL and on other types */
    ASSERT_STR_EQ(sotto_json_string(NULL, "fb"), "fb");
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(root, "n"), "fb"), "fb");
    ASSERT_EQ(sotto_json_string_len(sotto_json_get(root, "n")), 0);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(root, "model"), -1), -1, 0);
    ASSERT_NEAR(sotto_json_number(NULL, -2), -2, 0);
    ASSERT_EQ(sotto_json_bool(NULL, 9), 9);
    ASSERT_EQ(sotto_json_len(NULL), 0);
    ASSERT_EQ(sotto_json_len(sotto_json_get(root, "model")), 0);
    ASSERT_TRUE(sotto_json_at(NULL, 0) == NULL);
    ASSERT_TRUE(sotto_json_key(NULL, 0) == NULL);
    ASSERT_EQ(sotto_json_type_of(NULL), SOTTO_JSON_NULL);

    int64_t x = 42;
    ASSERT_OK(sotto_json_int(sotto_json_get(root, "neg"), "neg", -5, 5, &x));
    ASSERT_EQ(x, -2);
    ASSERT_EQ(sotto_json_int(sotto_json_get(root, "neg"), "neg", 0, 5, &x), SOTTO_EINVAL);
    ASSERT_STR_EQ(sotto_last_error(), "'neg' must be an integer between 0 and 5");
    ASSERT_EQ(x, -2); /* untouched on failure */
    ASSERT_EQ(sotto_json_int(sotto_json_get(root, "frac"), "frac", 0, 5, &x), SOTTO_EINVAL);
    ASSERT_EQ(sotto_json_int(sotto_json_get(root, "model"), "model", 0, 5, &x), SOTTO_EINVAL);
    ASSERT_EQ(sotto_json_int(sotto_json_get(root, "nope"), "nope", 0, 5, &x), SOTTO_EINVAL);
    ASSERT_STR_EQ(sotto_last_error(), "'nope' is missing");
    sotto_json_free(root);
    sotto_json_free(NULL);
}

TEST(large_document_round_trips_strings)
{
    /* many members with long strings, to cross arena blocks */
    size_t n_members = 5000, cap = n_members * 300 + 16, len = 0;
    char *doc = malloc(cap);
    doc[len++] = '{';
    for (size_t i = 0; i < n_members; i++) {
        len += (size_t)snprintf(doc + len, cap - len, "%s\"key%zu\":\"", i ? "," : "", i);
        for (size_t k = 0; k < 200; k++)
            doc[len++] = (char)('a' + (i + k) % 26);
        doc[len++] = '"';
    }
    doc[len++] = '}';
    sotto_json *root = NULL;
    ASSERT_OK(sotto_json_parse(doc, len, NULL, &root));
    ASSERT_EQ(sotto_json_len(root), n_members);
    for (size_t i = 0; i < n_members; i += 499) {
        char key[32];
        snprintf(key, sizeof key, "key%zu", i);
        const char *s = sotto_json_string(sotto_json_get(root, key), NULL);
        ASSERT_TRUE(s != NULL);
        ASSERT_EQ(strlen(s), 200);
        ASSERT_EQ(s[0], 'a' + i % 26);
        ASSERT_EQ(s[199], 'a' + (i + 199) % 26);
    }
    sotto_json_free(root);
    free(doc);
}

TEST(input_need_not_be_terminated)
{
    /* the parser reads exactly len bytes: "12" is a prefix of "123" */
    sotto_json *v = NULL;
    ASSERT_OK(sotto_json_parse("123", 2, NULL, &v));
    ASSERT_NEAR(sotto_json_number(v, 0), 12, 0);
    sotto_json_free(v);
    ASSERT_OK(sotto_json_parse("trueX", 4, NULL, &v));
    ASSERT_EQ(sotto_json_type_of(v), SOTTO_JSON_TRUE);
    sotto_json_free(v);
    ASSERT_EQ(sotto_json_parse("\"abc\"", 4, NULL, &v), SOTTO_EFORMAT);
    ASSERT_EQ(sotto_json_parse(NULL, 0, NULL, &v), SOTTO_EFORMAT);
}
