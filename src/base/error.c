/*
 * error.c - error codes and the per-thread last-error message.
 */
#include <stdarg.h>
#include <stdio.h>

#include "base_int.h"

static _Thread_local char last_error[512];

const char *sotto_strerror(int code)
{
    switch (code) {
    case SOTTO_OK: return "success";
    case SOTTO_EINVAL: return "invalid argument";
    case SOTTO_ENOMEM: return "out of memory";
    case SOTTO_EIO: return "input/output error";
    case SOTTO_ENOENT: return "not found";
    case SOTTO_EACCES: return "permission denied";
    case SOTTO_EFORMAT: return "malformed input";
    case SOTTO_ENOTSUP: return "not supported";
    case SOTTO_ENOAUDIO: return "no audio";
    case SOTTO_EBACKEND: return "backend failure";
    case SOTTO_EUNAVAIL: return "not available";
    case SOTTO_ECANCELED: return "cancelled";
    default: return "unknown error";
    }
}

const char *sotto_last_error(void) { return last_error; }

void sotto_clear_error(void) { last_error[0] = '\0'; }

int error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}
