/*
 * log.c - the process-wide logger: a level and a sink, guarded by a mutex.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "sotto/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static sotto_log_level log_level = SOTTO_LOG_INFO;
static sotto_log_sink log_sink;
static void *log_sink_user;

static const char *level_name(sotto_log_level l)
{
    switch (l) {
    case SOTTO_LOG_DEBUG: return "debug";
    case SOTTO_LOG_INFO: return "info";
    case SOTTO_LOG_WARN: return "warning";
    default: return "error";
    }
}

void sotto_log_set_level(sotto_log_level level) { log_level = level; }
sotto_log_level sotto_log_get_level(void) { return log_level; }

void sotto_log_set_sink(sotto_log_sink sink, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_user = user;
    pthread_mutex_unlock(&log_lock);
}

void sotto_log(sotto_log_level level, const char *fmt, ...)
{
    if (level < log_level || level >= SOTTO_LOG_SILENT)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    if (log_sink)
        log_sink(log_sink_user, level, msg);
    else
        fprintf(stderr, "sotto: %s: %s\n", level_name(level), msg);
    pthread_mutex_unlock(&log_lock);
}
