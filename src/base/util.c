/*
 * util.c - small helpers every module uses: string copies, the monotonic clock, version.
 */
#include <string.h>
#include <time.h>

#include "base_int.h"
#include "sotto/sotto.h"

#ifndef SOTTO_VERSION
#define SOTTO_VERSION "0.0.0"
#endif

const char *sotto_version(void) { return SOTTO_VERSION; }

char *str_dup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

double time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
