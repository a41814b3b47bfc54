/* test_buf.c - the capped buffer and JSON encoding. */
#include "check.h"
#include "sotto/buf.h"
#include "sotto/error.h"

TEST(printf_appends_and_terminates)
{
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_buf_printf(&b, "%d-%s", 42, "x"));
    ASSERT_OK(sotto_buf_puts(&b, "!"));
    ASSERT_STR_EQ(b.data, "42-x!");
    ASSERT_EQ(b.len, 5);
    sotto_buf_free(&b);
}

TEST(cap_rejects_growth_and_keeps_contents)
{
    sotto_buf b;
    sotto_buf_init(&b, 8);
    ASSERT_OK(sotto_buf_puts(&b, "12345678"));
    ASSERT_EQ(sotto_buf_putc(&b, '9'), SOTTO_ENOMEM);
    ASSERT_STR_EQ(b.data, "12345678");
    ASSERT_STR_CONTAINS(sotto_last_error(), "limit 8 bytes");
    sotto_buf_free(&b);
}

/* After a failed append nothing more is written, however small, until a reset: a writer
 * that checks only its last append still learns that its document is incomplete. */
TEST(failure_is_sticky_until_reset)
{
    sotto_buf b;
    sotto_buf_init(&b, 8);
    ASSERT_OK(sotto_buf_puts(&b, "{\"a\""));
    ASSERT_EQ(sotto_buf_puts(&b, ":\"too long\""), SOTTO_ENOMEM);
    ASSERT_EQ(sotto_buf_putc(&b, '}'), SOTTO_ENOMEM); /* would fit, but the value is missing */
    ASSERT_EQ(sotto_buf_printf(&b, "%d", 1), SOTTO_ENOMEM);
    ASSERT_EQ(sotto_buf_json_number(&b, 1.0, 3), SOTTO_ENOMEM);
    ASSERT_STR_EQ(b.data, "{\"a\"");
    ASSERT_STR_CONTAINS(sotto_last_error(), "limit 8 bytes"); /* the first failure's reason */
    sotto_buf_reset(&b);
    ASSERT_OK(sotto_buf_puts(&b, "{}"));
    ASSERT_STR_EQ(b.data, "{}");
    sotto_buf_free(&b);
    ASSERT_OK(sotto_buf_puts(&b, "free ok")); /* the cap stays */
    sotto_buf_free(&b);
}

TEST(json_string_escapes_controls_quotes_and_bad_utf8)
{
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_buf_json_string(&b, "a\"b\\c\n\x01 caf\xc3\xa9 \xff"));
    ASSERT_STR_EQ(b.data, "\"a\\\"b\\\\c\\n\\u0001 caf\xc3\xa9 \xef\xbf\xbd\"");
    sotto_buf_free(&b);
}

TEST(json_number_is_compact_and_finite)
{
    sotto_buf b = SOTTO_BUF_INIT;
    ASSERT_OK(sotto_buf_json_number(&b, 1.5, 3));
    ASSERT_OK(sotto_buf_putc(&b, ' '));
    ASSERT_OK(sotto_buf_json_number(&b, 2.0, 3));
    ASSERT_OK(sotto_buf_putc(&b, ' '));
    ASSERT_OK(sotto_buf_json_number(&b, -0.0001, 2));
    ASSERT_OK(sotto_buf_putc(&b, ' '));
    ASSERT_OK(sotto_buf_json_number(&b, NAN, 2));
    ASSERT_STR_EQ(b.data, "1.5 2 0 null");
    sotto_buf_free(&b);
}
