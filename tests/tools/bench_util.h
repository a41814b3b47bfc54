/*
 * bench_util.h - what the benchmark tools share: process CPU seconds and a median.
 * Header-only (each tool is one program built from its own .c).
 */
#ifndef SOTTO_BENCH_UTIL_H
#define SOTTO_BENCH_UTIL_H

#include <stdlib.h>
#include <sys/resource.h>

/* CPU seconds (user + system) this process has used: contention-free, unlike wall time. */
static inline double cpu_s(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec * 1e-6;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (n >= 1); sorts v. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
