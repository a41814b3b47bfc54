/* test_multipart.c - the streaming multipart/form-data parser and its header helpers:
 * real bodies as curl sends them, fed whole, in 1-byte, 7-byte and random chunks with
 * identical results; binary data with CRLFs and partial boundaries; every rejection. */
#include <stdint.h>
#include <stdlib.h>

#include "base/base_int.h"
#include "check.h"
#include "server/multipart.h"
#include "sotto/buf.h"
#include "sotto/error.h"

#define CURL_BOUNDARY "------------------------d74496d66958873e"

/* ---- a recorder for the callbacks ------------------------------------------------- */

typedef struct rec {
    sotto_buf log;       /* "<name|filename|type|index>" data... "</>" per part */
    int fail_data_after; /* > 0: the n-th data callback fails */
    int n_data;
} rec;

static int on_begin(void *user, const multipart_part *part)
{
    rec *r = user;
    return sotto_buf_printf(&r->log, "<%s|%s|%s|%zu>", part->name,
                            part->filename ? part->filename : "(none)",
                            part->content_type ? part->content_type : "(none)", part->index);
}

static int on_data(void *user, const uint8_t *data, size_t len)
{
    rec *r = user;
    if (len == 0)
        CHECK_FAIL("empty data callback");
    if (r->fail_data_after && ++r->n_data >= r->fail_data_after) {
        sotto_buf_puts(&r->log, "<fail>");
        return error_set(SOTTO_ENOMEM, "upload quota exceeded");
    }
    return sotto_buf_append(&r->log, data, len);
}

static int on_end(void *user)
{
    rec *r = user;
    return sotto_buf_puts(&r->log, "</>");
}

/* How a body is cut into chunks: fixed size, or random sizes from a seed (step 0). */
typedef struct chunking {
    size_t step;
    unsigned seed;
} chunking;

/* Feed body in chunks; the log of callbacks goes to r->log. Returns the first error of
 * feed or finish (0 when both succeed). */
static int run(const char *boundary, const void *body, size_t len, chunking ch,
               const multipart_limits *lim, rec *r)
{
    multipart_callbacks cb = {on_begin, on_data, on_end, r};
    multipart_parser *mp = NULL;
    int rc = multipart_new(boundary, lim, &cb, &mp);
    if (rc != 0)
        CHECK_FAIL("multipart_new: %s", sotto_last_error());
    const uint8_t *s = body;
    size_t off = 0;
    unsigned seed = ch.seed;
    while (off < len && rc == 0) {
        size_t n = ch.step ? ch.step : 1 + (size_t)rand_r(&seed) % 97;
        if (n > len - off)
            n = len - off;
        rc = multipart_feed(mp, s + off, n);
        off += n;
    }
    if (rc == 0)
        rc = multipart_finish(mp);
    multipart_free(mp);
    return rc;
}

/* The body must give `expected` (and rc 0) with every chunking. */
static void expect_log(const char *boundary, const void *body, size_t len, const char *expected,
                       size_t expected_len)
{
    const chunking ways[] = {{len ? len : 1, 0}, {1, 0}, {7, 0}, {2, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 99}};
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        rec r = {SOTTO_BUF_INIT, 0, 0};
        int rc = run(boundary, body, len, ways[i], NULL, &r);
        if (rc != 0)
            CHECK_FAIL("chunking %zu/%u: %d %s", ways[i].step, ways[i].seed, rc, sotto_last_error());
        if (r.log.len != expected_len ||
            (expected_len && memcmp(r.log.data, expected, expected_len) != 0))
            CHECK_FAIL("chunking %zu/%u: log differs (%zu vs %zu bytes):\n%.*s", ways[i].step,
                       ways[i].seed, r.log.len, expected_len, (int)r.log.len, r.log.data);
        sotto_buf_free(&r.log);
    }
}

/* The body must fail with this message with every chunking. */
static void expect_error(const char *boundary, const char *body, size_t len,
                         const multipart_limits *lim, const char *message)
{
    const chunking ways[] = {{len ? len : 1, 0}, {1, 0}, {7, 0}, {0, 5}};
    for (size_t i = 0; i < sizeof ways / sizeof ways[0]; i++) {
        rec r = {SOTTO_BUF_INIT, 0, 0};
        int rc = run(boundary, body, len, ways[i], lim, &r);
        if (rc != SOTTO_EFORMAT)
            CHECK_FAIL("chunking %zu/%u: rc %d, expected SOTTO_EFORMAT (%s)", ways[i].step,
                       ways[i].seed, rc, sotto_last_error());
        if (strcmp(sotto_last_error(), message) != 0)
            CHECK_FAIL("chunking %zu/%u:\n  got:      %s\n  expected: %s", ways[i].step,
                       ways[i].seed, sotto_last_error(), message);
        sotto_buf_free(&r.log);
    }
}

/* A body as `curl -F model=whisper-1 -F language=en -F file=@"a b.wav"` sends it. */
static size_t curl_body(sotto_buf *b, const uint8_t *file, size_t file_len)
{
    sotto_buf_init(b, 0);
    sotto_buf_puts(b, "--" CURL_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
                      "whisper-1\r\n"
                      "--" CURL_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"language\"\r\n\r\n"
                      "en\r\n"
                      "--" CURL_BOUNDARY "\r\n"
                      "Content-Disposition: form-data; name=\"file\"; filename=\"a b.wav\"\r\n"
                      "Content-Type: audio/x-wav\r\n\r\n");
    sotto_buf_append(b, file, file_len);
    sotto_buf_puts(b, "\r\n--" CURL_BOUNDARY "--\r\n");
    return b->len;
}

/* Binary file bytes that contain CRLFs, "--", partial delimiters and every byte value. */
static size_t tricky_file(uint8_t *out, size_t cap)
{
    static const char *pieces[] = {
        "RIFF\r\n", "\r\n--", "\r\n-", "\r", "\r\r\n\r\n", "\r\n--------------------",
        "\r\n--" "------------------------d74496d66958873", /* boundary minus its last byte */
        "--" CURL_BOUNDARY,                                /* boundary without the CRLF */
        "\n--" CURL_BOUNDARY "\r\n",                       /* LF but no CR before it */
        "\r\n--" "------------------------d74496d66958873f", /* last byte differs */
        "\r\r\n--",
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        size_t k = strlen(pieces[i]);
        memcpy(out + n, pieces[i], k);
        n += k;
        for (int v = 0; v < 256; v += 17)
            out[n++] = (uint8_t)(v + i);
    }
    for (int v = 0; v < 256; v++)
        out[n++] = (uint8_t)v;
    out[n++] = '\r'; /* the file itself ends in CR: it precedes the final delimiter */
    if (n > cap)
        CHECK_FAIL("tricky_file overflow");
    return n;
}

TEST(curl_body_in_any_chunking)
{
    uint8_t file[2048];
    size_t file_len = tricky_file(file, sizeof file);
    sotto_buf body, expected;
    curl_body(&body, file, file_len);
    sotto_buf_init(&expected, 0);
    sotto_buf_puts(&expected, "<model|(none)|(none)|0>whisper-1</><language|(none)|(none)|1>en</>"
                              "<file|a b.wav|audio/x-wav|2>");
    sotto_buf_append(&expected, file, file_len);
    sotto_buf_puts(&expected, "</>");
    expect_log(CURL_BOUNDARY, body.data, body.len, expected.data, expected.len);

    /* random chunkings over many seeds, compared with the one-shot result */
    for (unsigned seed = 10; seed < 60; seed++) {
        rec r = {SOTTO_BUF_INIT, 0, 0};
        ASSERT_OK(run(CURL_BOUNDARY, body.data, body.len, (chunking){0, seed}, NULL, &r));
        ASSERT_EQ(r.log.len, expected.len);
        ASSERT_TRUE(memcmp(r.log.data, expected.data, expected.len) == 0);
        sotto_buf_free(&r.log);
    }
    sotto_buf_free(&body);
    sotto_buf_free(&expected);
}

TEST(preamble_epilogue_and_padding)
{
    /* the preamble may hold near-misses of the delimiter; the epilogue may hold anything */
    const char body[] = "preamble --b \r\n-- b\r\n-b\r\n"
                        "--b\r\n"
                        "content-disposition: FORM-DATA; NAME=field\r\n"
                        "X-Other: ignored\r\n\r\n"
                        "value\r\n"
                        "--b--\r\nepilogue\r\n--b\r\ngarbage";
    expect_log("b", body, sizeof body - 1, "<field|(none)|(none)|0>value</>", 31);
    /* a preamble line "--b--..." after a CRLF is already the close delimiter: no parts */
    const char closed[] = "This is the preamble.\r\n--b--x\r\n"
                          "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b--";
    expect_log("b", closed, sizeof closed - 1, "", 0);
    /* transport padding (SP/HT) after a boundary */
    const char padded[] = "--b \t \r\n"
                          "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                          "1\r\n--b\t\r\n"
                          "Content-Disposition: form-data; name=\"c\"\r\n\r\n"
                          "2\r\n--b--";
    expect_log("b", padded, sizeof padded - 1, "<a|(none)|(none)|0>1</><c|(none)|(none)|1>2</>", 46);
}

TEST(empty_file_part_and_empty_field)
{
    const char body[] = "--xyz\r\n"
                        "Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\n"
                        "Content-Type: application/octet-stream\r\n\r\n"
                        "\r\n--xyz\r\n"
                        "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
                        "\r\n--xyz--\r\n";
    const char expected[] = "<file||application/octet-stream|0></><prompt|(none)|(none)|1></>";
    expect_log("xyz", body, sizeof body - 1, expected, sizeof expected - 1);
}

TEST(missing_final_boundary)
{
    uint8_t file[2048];
    size_t file_len = tricky_file(file, sizeof file);
    sotto_buf body;
    curl_body(&body, file, file_len);
    /* every truncation before the closing "--" fails in finish; at or after it, succeeds */
    size_t close_at = body.len - 2; /* after the final "--" (the CRLF is epilogue) */
    for (size_t cut = 0; cut < body.len; cut += cut < 200 || cut > close_at - 60 ? 1 : 37) {
        rec r = {SOTTO_BUF_INIT, 0, 0};
        int rc = run(CURL_BOUNDARY, body.data, cut, (chunking){0, (unsigned)cut}, NULL, &r);
        if (cut < close_at) {
            ASSERT_EQ(rc, SOTTO_EFORMAT);
            if (cut < 2 + strlen(CURL_BOUNDARY))
                ASSERT_STR_EQ(sotto_last_error(), "multipart: no boundary found in the body");
            else
                ASSERT_STR_EQ(sotto_last_error(), "multipart: body ended before the closing boundary");
        } else {
            ASSERT_OK(rc);
        }
        sotto_buf_free(&r.log);
    }
    sotto_buf_free(&body);
    expect_error("b", "", 0, NULL, "multipart: no boundary found in the body");
    expect_error("b", "just text\r\n", 11, NULL, "multipart: no boundary found in the body");
    /* LF-only line endings never form a delimiter */
    const char lf[] = "--b\nContent-Disposition: form-data; name=a\n\nx\n--b--\n";
    expect_error("b", lf, sizeof lf - 1, NULL, "multipart: unexpected bytes after a boundary");
}

TEST(bad_headers_are_rejected)
{
    static const struct { const char *body, *message; } cases[] = {
        {"--b\r\n\r\nx\r\n--b--", "multipart: part 0 has no Content-Disposition header"},
        {"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
         "multipart: part 0 has no Content-Disposition header"},
        {"--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--",
         "multipart: part disposition is 'attachment', not form-data"},
        {"--b\r\nContent-Disposition: form-data; filename=a.wav\r\n\r\nx\r\n--b--",
         "multipart: part 0 has no name"},
        {"--b\r\nContent-Disposition form-data; name=a\r\n\r\nx\r\n--b--",
         "multipart: malformed part header line 'Content-Disposition form-data; name=a'"},
        {"--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b--",
         "multipart: folded part header lines are not supported"},
        {"--b\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nx\r\n--b--",
         "multipart: part header lines must end in CRLF"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n\r\n--b--",
         "multipart: part has two Content-Disposition headers"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\nContent-Type: a\r\ncontent-type: b\r\n\r\n--b--",
         "multipart: part has two Content-Type headers"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--",
         "multipart: unterminated quoted string in Content-Disposition"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\x01\"\r\n\r\n",
         "multipart: control character in part header 'Content-Disposition'"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-A: \x7f\r\n\r\n",
         "multipart: control character in part header 'X-A'"},
        {"--b\r\nContent-Disposition: form-data; name=\"a\"; name=\"c\"\r\n\r\n--b--",
         "multipart: Content-Disposition repeats 'name'"},
        {"--b\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\n--b--",
         "multipart: Content-Disposition name is not valid UTF-8"},
        {"--bx\r\n", "multipart: unexpected bytes after a boundary"},
        {"--b-x\r\n", "multipart: unexpected bytes after a boundary"},
        {"--b \rx", "multipart: boundary line does not end in CRLF"},
        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b\t-", "multipart: unexpected bytes after a boundary"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error("b", cases[i].body, strlen(cases[i].body), NULL, cases[i].message);
    const char nul[] = "--b\r\nContent-Disposition: form-data; name=a\0\r\n\r\n--b--";
    expect_error("b", nul, sizeof nul - 1, NULL, "multipart: NUL byte in part headers");
}

TEST(header_block_is_capped)
{
    sotto_buf b;
    sotto_buf_init(&b, 0);
    sotto_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ");
    size_t pad_to = 8192 - 4; /* header block incl. its final CRLF CRLF: exactly 8192 */
    while (b.len - 5 < pad_to)
        sotto_buf_putc(&b, 'p');
    sotto_buf_puts(&b, "\r\n\r\nv\r\n--b--\r\n");
    expect_log("b", b.data, b.len, "<a|(none)|(none)|0>v</>", 23);
    sotto_buf_reset(&b);
    sotto_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ");
    while (b.len - 5 < pad_to + 1)
        sotto_buf_putc(&b, 'p');
    sotto_buf_puts(&b, "\r\n\r\nv\r\n--b--\r\n");
    expect_error("b", b.data, b.len, NULL, "multipart: part header block is larger than 8192 bytes");
    multipart_limits lim = {0, 64, 0};
    expect_error("b", b.data, b.len, &lim, "multipart: part header block is larger than 64 bytes");
    sotto_buf_free(&b);
}

TEST(too_many_parts)
{
    sotto_buf b;
    sotto_buf_init(&b, 0);
    for (int i = 0; i < 4; i++)
        sotto_buf_printf(&b, "--b\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\n%d\r\n", i, i);
    sotto_buf_puts(&b, "--b--\r\n");
    multipart_limits lim = {3, 0, 0};
    expect_error("b", b.data, b.len, &lim, "multipart: more than 3 parts");
    lim.max_parts = 4;
    rec r = {SOTTO_BUF_INIT, 0, 0};
    ASSERT_OK(run("b", b.data, b.len, (chunking){3, 0}, &lim, &r));
    ASSERT_STR_EQ(r.log.data, "<f0|(none)|(none)|0>0</><f1|(none)|(none)|1>1</>"
                              "<f2|(none)|(none)|2>2</><f3|(none)|(none)|3>3</>");
    sotto_buf_free(&r.log);
    /* the default is 64 */
    sotto_buf_reset(&b);
    for (int i = 0; i < 65; i++)
        sotto_buf_printf(&b, "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\r\n");
    sotto_buf_puts(&b, "--b--\r\n");
    expect_error("b", b.data, b.len, NULL, "multipart: more than 64 parts");
    sotto_buf_free(&b);
}

TEST(field_size_limit_spares_files)
{
    sotto_buf b;
    sotto_buf_init(&b, 0);
    sotto_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\n");
    for (int i = 0; i < 100; i++)
        sotto_buf_putc(&b, 'x');
    sotto_buf_puts(&b, "\r\n--b--\r\n");
    multipart_limits lim = {0, 0, 100};
    rec r = {SOTTO_BUF_INIT, 0, 0};
    ASSERT_OK(run("b", b.data, b.len, (chunking){1, 0}, &lim, &r));
    sotto_buf_free(&r.log);
    lim.max_field_bytes = 99;
    expect_error("b", b.data, b.len, &lim, "multipart: field 'prompt' is larger than 99 bytes");
    /* exactly the first 99 bytes were delivered, whatever the chunking */
    for (unsigned seed = 0; seed < 8; seed++) {
        rec rr = {SOTTO_BUF_INIT, 0, 0};
        ASSERT_EQ(run("b", b.data, b.len, (chunking){seed % 2 ? 0 : seed + 1, seed}, &lim, &rr),
                  SOTTO_EFORMAT);
        ASSERT_EQ(rr.log.len, strlen("<prompt|(none)|(none)|0>") + 99);
        sotto_buf_free(&rr.log);
    }
    /* the same size as a file part is the caller's business */
    sotto_buf_reset(&b);
    sotto_buf_puts(&b, "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n");
    for (int i = 0; i < 1000; i++)
        sotto_buf_putc(&b, 'x');
    sotto_buf_puts(&b, "\r\n--b--\r\n");
    ASSERT_OK(run("b", b.data, b.len, (chunking){7, 0}, &lim, &r));
    ASSERT_EQ(r.log.len, strlen("<file|x|(none)|0></>") + 1000);
    sotto_buf_free(&r.log);
    sotto_buf_free(&b);
}

TEST(callback_error_stops_the_parser)
{
    sotto_buf body;
    uint8_t file[64];
    memset(file, 'a', sizeof file);
    curl_body(&body, file, sizeof file);
    rec r = {SOTTO_BUF_INIT, 3, 0};
    multipart_callbacks cb = {on_begin, on_data, on_end, &r};
    multipart_parser *mp;
    ASSERT_OK(multipart_new(CURL_BOUNDARY, NULL, &cb, &mp));
    ASSERT_EQ(multipart_feed(mp, body.data, body.len), SOTTO_ENOMEM);
    ASSERT_STR_EQ(sotto_last_error(), "upload quota exceeded");
    ASSERT_EQ(multipart_part_count(mp), 3);
    size_t log_len = r.log.len;
    sotto_clear_error();
    ASSERT_EQ(multipart_feed(mp, "more", 4), SOTTO_ENOMEM); /* sticky, with its message */
    ASSERT_STR_EQ(sotto_last_error(), "upload quota exceeded");
    ASSERT_EQ(multipart_finish(mp), SOTTO_ENOMEM);
    ASSERT_EQ(r.log.len, log_len); /* no callbacks after the error */
    ASSERT_TRUE(strstr(r.log.data, "<fail>") == r.log.data + log_len - 6);
    multipart_free(mp);
    multipart_free(NULL);
    sotto_buf_free(&r.log);
    sotto_buf_free(&body);
}

TEST(boundary_from_content_type)
{
    char b[MULTIPART_BOUNDARY_MAX + 1];
    ASSERT_OK(multipart_boundary("multipart/form-data; boundary=" CURL_BOUNDARY, b, sizeof b));
    ASSERT_STR_EQ(b, CURL_BOUNDARY);
    ASSERT_OK(multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=\"a b:c\"", b, sizeof b));
    ASSERT_STR_EQ(b, "a b:c");
    ASSERT_OK(multipart_boundary("multipart/form-data ; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW ", b, sizeof b));
    ASSERT_STR_EQ(b, "----WebKitFormBoundary7MA4YWxkTrZu0gW");
    char b70[71];
    memset(b70, 'z', 70);
    b70[70] = '\0';
    char ct[128];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    ASSERT_OK(multipart_boundary(ct, b, sizeof b));
    ASSERT_STR_EQ(b, b70);
    char small[8];
    ASSERT_EQ(multipart_boundary(ct, small, sizeof small), SOTTO_EINVAL);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sz", b70);
    ASSERT_EQ(multipart_boundary(ct, b, sizeof b), SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "multipart: invalid boundary");

    static const struct { const char *ct, *message; } bad[] = {
        {"application/json", "multipart: Content-Type is not multipart/form-data"},
        {"multipart/mixed; boundary=x", "multipart: Content-Type is not multipart/form-data"},
        {"multipart/form-datax; boundary=x", "multipart: Content-Type is not multipart/form-data"},
        {"multipart/form-data", "multipart: Content-Type has no boundary parameter"},
        {"multipart/form-data; charset=utf-8", "multipart: Content-Type has no boundary parameter"},
        {"multipart/form-data; boundary=", "multipart: Content-Type parameter 'boundary' has no value"},
        {"multipart/form-data; boundary", "multipart: Content-Type parameter 'boundary' has no value"},
        {"multipart/form-data; boundary=\"abc", "multipart: unterminated quoted string in Content-Type"},
        {"multipart/form-data; boundary=\"a\rb\"", "multipart: control character in Content-Type"},
        {"multipart/form-data; boundary=\"ab \"", "multipart: invalid boundary (1 to 70 letters, digits or '()+_,-./:=? )"},
        {"multipart/form-data; boundary=a;b", "multipart: Content-Type parameter 'b' has no value"},
        {"multipart/form-data; boundary=a b", "multipart: expected ';' between Content-Type parameters"},
        {"multipart/form-data x", "multipart: expected ';' between Content-Type parameters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_EQ(multipart_boundary(bad[i].ct, b, sizeof b), SOTTO_EFORMAT);
        ASSERT_STR_EQ(sotto_last_error(), bad[i].message);
    }
    ASSERT_EQ(multipart_boundary(NULL, b, sizeof b), SOTTO_EFORMAT);
    multipart_parser *mp;
    ASSERT_EQ(multipart_new("bad\rboundary", NULL, NULL, &mp), SOTTO_EINVAL);
    ASSERT_TRUE(mp == NULL);
}

static void disp_ok(const char *value, const char *name, const char *filename)
{
    multipart_disposition d;
    if (multipart_disposition_parse(value, strlen(value), &d) != 0)
        CHECK_FAIL("'%s': %s", value, sotto_last_error());
    ASSERT_STR_EQ(d.type, "form-data");
    if (name)
        ASSERT_STR_EQ(d.name, name);
    else
        ASSERT_TRUE(d.name == NULL);
    if (filename)
        ASSERT_STR_EQ(d.filename, filename);
    else
        ASSERT_TRUE(d.filename == NULL);
    multipart_disposition_free(&d);
}

static void disp_bad(const char *value, const char *message)
{
    multipart_disposition d;
    ASSERT_EQ(multipart_disposition_parse(value, strlen(value), &d), SOTTO_EFORMAT);
    ASSERT_STR_EQ(sotto_last_error(), message);
    ASSERT_TRUE(d.type == NULL && d.name == NULL && d.filename == NULL);
}

TEST(content_disposition_parameters)
{
    disp_ok("form-data; name=\"file\"; filename=\"a b.wav\"", "file", "a b.wav");
    disp_ok("Form-Data;Name=file;FILENAME=a.wav", "file", "a.wav");
    disp_ok("form-data; name=\"q\\\"x\"; filename=\"C:\\\\dir\\\\a \\\"b\\\".wav\"", "q\"x",
            "C:\\dir\\a \"b\".wav");
    disp_ok("form-data; name=\"caf\xc3\xa9\"; filename=\"\xe6\x97\xa5\xe6\x9c\xac.mp3\"",
            "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac.mp3");
    /* RFC 5987 filename* wins over filename, in either order */
    disp_ok("form-data; name=file; filename=\"euro.wav\"; filename*=UTF-8''%e2%82%AC%20rates.wav",
            "file", "\xe2\x82\xac rates.wav");
    disp_ok("form-data; filename*=utf-8'en'a%2Fb.wav; name=file; filename=x", "file", "a/b.wav");
    disp_ok("form-data; name=file; filename*=ISO-8859-1''%A3%20rates.wav", "file",
            "\xc2\xa3 rates.wav");
    disp_ok("form-data; name=x; unknown=\"ignored\"; size=10;", "x", NULL);
    disp_ok("form-data", NULL, NULL);
    disp_ok("form-data; name=\"\"; filename=\"\"", "", "");

    disp_bad("", "multipart: Content-Disposition has no type");
    disp_bad("; name=a", "multipart: Content-Disposition has no type");
    disp_bad("form-data; name=a; NAME=b", "multipart: Content-Disposition repeats 'NAME'");
    disp_bad("form-data; filename=a; filename=b", "multipart: Content-Disposition repeats 'filename'");
    disp_bad("form-data; name=\"a", "multipart: unterminated quoted string in Content-Disposition");
    disp_bad("form-data; name", "multipart: Content-Disposition parameter 'name' has no value");
    disp_bad("form-data; name=a b", "multipart: expected ';' between Content-Disposition parameters");
    disp_bad("form-data; =a", "multipart: malformed Content-Disposition parameter");
    disp_bad("form-data; filename*=UTF-8''%zz", "multipart: bad %-escape in filename*");
    disp_bad("form-data; filename*=UTF-8''abc%4", "multipart: bad %-escape in filename*");
    disp_bad("form-data; filename*=UTF-8''%00.wav", "multipart: control character in filename*");
    disp_bad("form-data; filename*=UTF-8''%ff.wav", "multipart: filename* is not valid UTF-8");
    disp_bad("form-data; filename*=KOI8-R''abc", "multipart: filename* charset 'KOI8-R' is not supported");
    disp_bad("form-data; filename*=abc", "multipart: filename* is not charset'language'value");
    disp_bad("form-data; filename*=\"UTF-8''a b\"", "multipart: invalid character in filename*");
    disp_bad("form-data; filename=\"\xc3(\"", "multipart: Content-Disposition filename is not valid UTF-8");
}

TEST(large_random_file_round_trips)
{
    /* 300 KB of random bytes, dense in CR/LF/'-' so partial delimiters are everywhere */
    size_t file_len = 300000;
    uint8_t *file = malloc(file_len);
    unsigned seed = 7;
    static const uint8_t alphabet[] = {'\r', '\n', '-', '-', 'd', '7', 0, 0xff};
    for (size_t i = 0; i < file_len; i++) {
        unsigned r = (unsigned)rand_r(&seed);
        file[i] = r % 3 ? alphabet[r % 8] : (uint8_t)(r >> 8);
    }
    sotto_buf body;
    curl_body(&body, file, file_len);
    for (unsigned s = 0; s < 4; s++) {
        rec r = {SOTTO_BUF_INIT, 0, 0};
        ASSERT_OK(run(CURL_BOUNDARY, body.data, body.len, (chunking){s == 0 ? 4096 : 0, s}, NULL, &r));
        const char *head = "<file|a b.wav|audio/x-wav|2>";
        const char *at = strstr(r.log.data, head);
        ASSERT_TRUE(at != NULL);
        at += strlen(head);
        ASSERT_EQ(r.log.len - (size_t)(at - r.log.data), file_len + 3);
        ASSERT_TRUE(memcmp(at, file, file_len) == 0);
        ASSERT_STR_EQ(at + file_len, "</>");
        sotto_buf_free(&r.log);
    }
    sotto_buf_free(&body);
    free(file);
}
