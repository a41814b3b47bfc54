/*
 * base_int.h - helpers shared by every module inside libsotto (not public API).
 */
#ifndef SOTTO_BASE_INT_H
#define SOTTO_BASE_INT_H

#include <stdio.h>
#include <stdlib.h>

#include "sotto/error.h"

/* Set this thread's error message and return code (so callers can `return error_set(...)`). */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Cheap always-on precondition check for programmer errors at function entry. */
#define SOTTO_ASSERT(cond)                                                                 \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "sotto: internal error: %s:%d: assertion '%s' failed\n",       \
                    __FILE__, __LINE__, #cond);                                            \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* strdup that accepts NULL (returns NULL). */
char *str_dup(const char *s);
/* Seconds from a monotonic clock. */
double time_now(void);

#endif
