/*
 * buf.h - a growable byte buffer with a hard size cap.
 *
 * Used to build text output (JSON, subtitles) in memory. Every buffer has a cap so a
 * runaway producer fails with SOTTO_ENOMEM instead of eating the machine. The buffer
 * is always NUL-terminated after a successful append, so data can be used as a C string.
 * Failure is sticky: once an append failed, every later append fails too (SOTTO_ENOMEM,
 * nothing written) until sotto_buf_reset or sotto_buf_free, so a writer may make a run
 * of appends and check only the last one: a small append after a failed large one can
 * never leave a document with a hole in it.
 * Ownership: the caller owns the struct; sotto_buf_free() releases its data.
 */
#ifndef SOTTO_BUF_H
#define SOTTO_BUF_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sotto_buf {
    char *data;     /* NUL-terminated contents (NULL until the first append) */
    size_t len;     /* bytes used, not counting the terminator */
    size_t cap;     /* bytes allocated */
    size_t max_len; /* hard cap on len; 0 means the default (256 MiB) */
    int failed;     /* an append failed: later ones fail too (reset or free clears it) */
} sotto_buf;

#define SOTTO_BUF_INIT {NULL, 0, 0, 0, 0}

void sotto_buf_init(sotto_buf *b, size_t max_len);
void sotto_buf_free(sotto_buf *b);          /* releases data; the struct can be reused */
void sotto_buf_reset(sotto_buf *b);         /* len = 0 and not failed, keeps the allocation */
int sotto_buf_append(sotto_buf *b, const void *data, size_t n);
int sotto_buf_puts(sotto_buf *b, const char *s);
int sotto_buf_putc(sotto_buf *b, char c);
int sotto_buf_printf(sotto_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sotto_buf_vprintf(sotto_buf *b, const char *fmt, va_list ap);
/* Append s as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD. */
int sotto_buf_json_string(sotto_buf *b, const char *s);
/* Append a finite double as JSON (non-finite values become null); digits = decimals. */
int sotto_buf_json_number(sotto_buf *b, double v, int digits);
/* Hand the data to the caller (who frees it with free()); the buffer becomes empty. */
char *sotto_buf_steal(sotto_buf *b);

#ifdef __cplusplus
}
#endif
#endif
