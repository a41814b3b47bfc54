/*
 * log.h - the process-wide logger (one of the two allowed pieces of global state).
 *
 * Messages go to stderr as "sotto: level: message" by default. The CLI sets the level
 * from -q/-v; the server will install a JSON sink. Thread-safe.
 */
#ifndef SOTTO_LOG_H
#define SOTTO_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sotto_log_level {
    SOTTO_LOG_DEBUG = 0,
    SOTTO_LOG_INFO = 1,
    SOTTO_LOG_WARN = 2,
    SOTTO_LOG_ERROR = 3,
    SOTTO_LOG_SILENT = 4
} sotto_log_level;

typedef void (*sotto_log_sink)(void *user, sotto_log_level level, const char *msg);

void sotto_log_set_level(sotto_log_level level);
sotto_log_level sotto_log_get_level(void);
/* Replace the sink (NULL restores the stderr sink). */
void sotto_log_set_sink(sotto_log_sink sink, void *user);
void sotto_log(sotto_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SOTTO_DEBUG(...) sotto_log(SOTTO_LOG_DEBUG, __VA_ARGS__)
#define SOTTO_INFO(...) sotto_log(SOTTO_LOG_INFO, __VA_ARGS__)
#define SOTTO_WARN(...) sotto_log(SOTTO_LOG_WARN, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
