/*
 * cli.h - pieces shared by the `sotto` subcommands (the CLI uses only libsotto's public API).
 */
#ifndef SOTTO_CLI_H
#define SOTTO_CLI_H

#include <stdio.h>

/* Documented exit codes (see `sotto help` and README). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_GENERIC = 1, /* something failed that is not one of the below */
    EXIT_USAGE = 2,           /* bad command line */
    EXIT_INPUT = 3,           /* an input file is missing, unreadable or not valid audio */
    EXIT_BACKEND = 4,         /* recognizer or model unavailable or failing */
    EXIT_OUTPUT = 5,          /* an output file could not be written */
    EXIT_INTERRUPTED = 130    /* cancelled by SIGINT */
};

int cmd_transcribe(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_wer(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* cmd_serve.c */
int cmd_user(int argc, char **argv);  /* cmd_admin.c */
int cmd_key(int argc, char **argv);   /* cmd_admin.c */
int cmd_listen(int argc, char **argv); /* cmd_listen.c */

/* Print "sotto: error: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Map a libsotto error code to an exit code. */
int cli_exit_code(int rc);
/* Parse a non-negative int / float option value or report a usage error. */
int cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out);
int cli_parse_float(const char *opt, const char *s, float lo, float hi, float *out);
/* Print the help text of a command (NULL = overview) to f; returns 0 if known. */
int cli_help(const char *command, FILE *f);

/* Terminal progress bar on stderr; silent unless stderr is a terminal. */
typedef struct cli_progress {
    int enabled;
    int last_width;
    const char *label;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, int quiet);
void cli_progress_update(cli_progress *p, double done_s, double total_s, double elapsed_s);
void cli_progress_done(cli_progress *p);

/* Set by the SIGINT handler; long work polls it to stop cleanly. */
extern volatile int cli_interrupted;

#endif
