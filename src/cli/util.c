/*
 * util.c - CLI helpers: error printing, exit-code mapping, option value parsing,
 * and the terminal progress bar.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sotto/sotto.h"

volatile int cli_interrupted;

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("sotto: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_exit_code(int rc)
{
    switch (rc) {
    case SOTTO_OK: return EXIT_OK;
    case SOTTO_EINVAL: return EXIT_USAGE;
    case SOTTO_ENOENT:
    case SOTTO_EACCES:
    case SOTTO_EFORMAT:
    case SOTTO_ENOAUDIO:
    case SOTTO_ENOTSUP: return EXIT_INPUT;
    case SOTTO_EBACKEND:
    case SOTTO_EUNAVAIL: return EXIT_BACKEND;
    case SOTTO_ECANCELED: return EXIT_INTERRUPTED;
    default: return EXIT_FAILURE_GENERIC;
    }
}

int cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s expects a whole number from %d to %d, not '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_parse_float(const char *opt, const char *s, float lo, float hi, float *out)
{
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error("%s expects a number from %g to %g, not '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static void fmt_clock(char *out, size_t n, double s)
{
    if (s < 0)
        s = 0;
    long t = (long)s;
    if (t >= 3600)
        snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(out, n, "%02ld:%02ld", t / 60, t % 60);
}

void cli_progress_init(cli_progress *p, const char *label, int quiet)
{
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->last_width = 0;
    p->label = label;
}

/* One line, redrawn in place: label, bar, percent, audio time done, speed as x real time. */
void cli_progress_update(cli_progress *p, double done_s, double total_s, double elapsed_s)
{
    if (!p->enabled)
        return;
    char done[32], total[32], line[256];
    fmt_clock(done, sizeof done, done_s);
    double speed = elapsed_s > 0.05 ? done_s / elapsed_s : 0;
    int n;
    if (total_s > 0) {
        double frac = done_s / total_s;
        if (frac > 1)
            frac = 1;
        char bar[31];
        int filled = (int)(frac * 30 + 0.5);
        for (int i = 0; i < 30; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fmt_clock(total, sizeof total, total_s);
        n = snprintf(line, sizeof line, "%s [%s] %3.0f%%  %s/%s  %.1fx real time", p->label, bar,
                     frac * 100, done, total, speed);
    } else {
        n = snprintf(line, sizeof line, "%s %s of audio  %.1fx real time", p->label, done, speed);
    }
    int pad = p->last_width > n ? p->last_width - n : 0;
    fprintf(stderr, "\r%s%*s", line, pad, "");
    fflush(stderr);
    p->last_width = n;
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->last_width > 0) {
        fprintf(stderr, "\r%*s\r", p->last_width, "");
        fflush(stderr);
    }
    p->last_width = 0;
}
