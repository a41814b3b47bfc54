/*
 * numbers.c - numbers written in digits, read out as English words for scoring.
 *
 * A reference says "two dogs" where a recognizer writes "2 dogs" (or the other way
 * round); WER must not count that as an error, so both sides are spelled out the same
 * way. Integers up to 999,999,999,999 become words ("one hundred twenty three", no
 * "and"); longer runs and runs with leading zeros ("007", phone numbers) are read digit
 * by digit; decimals are "three point one four"; ordinals ("21st") end in the ordinal
 * word ("twenty first"). Years are read as plain integers ("one thousand nine hundred
 * ninety nine"), a known gap that affects both sides alike. Percent signs and all other
 * context are normalize.c's business.
 */
#include <string.h>

#include "base/base_int.h"
#include "text_int.h"

static const char *const ones[20] = {
    "zero",     "one",     "two",     "three",     "four",     "five",     "six",
    "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",   "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
};
static const char *const tens[10] = {
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
};

/* Append word, preceded by a space unless out is empty or already ends in one. */
static int put_word(sotto_buf *out, const char *word)
{
    if (out->len && out->data[out->len - 1] != ' ') {
        int rc = sotto_buf_putc(out, ' ');
        if (rc)
            return rc;
    }
    return sotto_buf_puts(out, word);
}

/* 1..999 */
static int spell_below_1000(sotto_buf *out, unsigned v)
{
    int rc = 0;
    if (v >= 100) {
        rc = put_word(out, ones[v / 100]);
        if (!rc)
            rc = put_word(out, "hundred");
        v %= 100;
    }
    if (!rc && v >= 20) {
        rc = put_word(out, tens[v / 10]);
        v %= 10;
    }
    if (!rc && v > 0)
        rc = put_word(out, ones[v]);
    return rc;
}

int text_spell_integer(sotto_buf *out, uint64_t v)
{
    if (v > TEXT_NUMBER_MAX)
        return error_set(SOTTO_EINVAL, "number %llu too large to spell", (unsigned long long)v);
    if (v == 0)
        return put_word(out, ones[0]);
    static const struct {
        uint64_t value;
        const char *name;
    } scales[] = {{1000000000ULL, "billion"}, {1000000ULL, "million"}, {1000ULL, "thousand"}};
    int rc = 0;
    for (size_t k = 0; k < sizeof scales / sizeof scales[0] && !rc; k++) {
        if (v >= scales[k].value) {
            rc = spell_below_1000(out, (unsigned)(v / scales[k].value));
            if (!rc)
                rc = put_word(out, scales[k].name);
            v %= scales[k].value;
        }
    }
    if (!rc && v > 0)
        rc = spell_below_1000(out, (unsigned)v);
    return rc;
}

static int spell_digits(sotto_buf *out, const char *d, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = put_word(out, ones[d[i] - '0']);
    return rc;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum_byte(char c)
{
    unsigned char u = (unsigned char)c;
    /* bytes >= 0x80 belong to non-ASCII letters as far as word boundaries go */
    return is_digit(c) || ((u | 0x20) >= 'a' && (u | 0x20) <= 'z') || u >= 0x80;
}

/* Turn the last word in out ("one") into its ordinal ("first"). */
static int ordinalize_last(sotto_buf *out)
{
    static const struct {
        const char *cardinal, *ordinal;
    } irregular[] = {{"one", "first"},     {"two", "second"},   {"three", "third"},
                     {"five", "fifth"},    {"eight", "eighth"}, {"nine", "ninth"},
                     {"twelve", "twelfth"}};
    size_t start = out->len;
    while (start > 0 && out->data[start - 1] != ' ')
        start--;
    const char *last = out->data + start;
    for (size_t k = 0; k < sizeof irregular / sizeof irregular[0]; k++) {
        if (strcmp(last, irregular[k].cardinal) == 0) {
            out->len = start;
            out->data[start] = '\0';
            return sotto_buf_puts(out, irregular[k].ordinal);
        }
    }
    if (out->len > start && out->data[out->len - 1] == 'y') { /* twenty -> twentieth */
        out->data[--out->len] = '\0';
        return sotto_buf_puts(out, "ieth");
    }
    return sotto_buf_puts(out, "th");
}

int text_spell_number(sotto_buf *out, const char *s, size_t n, size_t *used)
{
    SOTTO_ASSERT(n > 0 && is_digit(s[0]));
    /* integer part, collecting digits without the grouping commas */
    char digits[32];
    size_t n_digits = 0, i = 0, first_group = 0;
    int too_long = 0;
    while (i < n && is_digit(s[i])) {
        if (n_digits < sizeof digits)
            digits[n_digits] = s[i];
        else
            too_long = 1;
        n_digits++;
        i++;
    }
    first_group = n_digits;
    /* "1,000,000": a comma counts as grouping only before exactly three digits, after a
     * first group of one to three; otherwise "1,2" is a list and the comma a separator */
    while (first_group <= 3 && i + 3 < n && s[i] == ',' && is_digit(s[i + 1]) &&
           is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i + 4 >= n || !is_digit(s[i + 4]))) {
        for (size_t k = 1; k <= 3; k++) {
            if (n_digits < sizeof digits)
                digits[n_digits] = s[i + k];
            else
                too_long = 1;
            n_digits++;
        }
        i += 4;
    }

    int rc;
    if (too_long || n_digits > 12 || (n_digits > 1 && digits[0] == '0')) {
        /* read digit by digit (digits past the buffer are read from the input directly) */
        rc = spell_digits(out, digits, n_digits < sizeof digits ? n_digits : sizeof digits);
        for (size_t k = 0, seen = 0; !rc && k < i; k++) {
            if (!is_digit(s[k]))
                continue;
            if (seen++ >= sizeof digits)
                rc = put_word(out, ones[s[k] - '0']);
        }
    } else {
        uint64_t v = 0;
        for (size_t k = 0; k < n_digits; k++)
            v = v * 10 + (uint64_t)(digits[k] - '0');
        rc = text_spell_integer(out, v);
    }
    if (rc)
        return rc;

    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        rc = put_word(out, "point");
        i++;
        while (!rc && i < n && is_digit(s[i]))
            rc = put_word(out, ones[s[i++] - '0']);
    } else if (i + 1 < n && (i + 2 >= n || !is_alnum_byte(s[i + 2]))) {
        char a = (char)(s[i] | 0x20), b = (char)(s[i + 1] | 0x20);
        if ((a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
            (a == 't' && b == 'h')) {
            rc = ordinalize_last(out);
            i += 2;
        }
    }
    *used = i;
    return rc;
}
