/*
 * cmd_wer.c - `sotto wer REF HYP`: word error rate between two text files.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sotto/sotto.h"

#define WER_MAX_FILE ((size_t)64 << 20)

/* Read a whole text file ("-" = stdin) into a NUL-terminated string; NULL on error. */
static char *read_text(const char *path)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error("cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    sotto_buf b;
    sotto_buf_init(&b, WER_MAX_FILE);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = sotto_buf_append(&b, chunk, n);
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (rc || err) {
        cli_error("cannot read '%s': %s", path, rc ? sotto_last_error() : "read error");
        sotto_buf_free(&b);
        return NULL;
    }
    return sotto_buf_steal(&b);
}

int cmd_wer(int argc, char **argv)
{
    int json = 0;
    const char *files[2];
    int n_files = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            cli_help("wer", stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option '%s' (see 'sotto help wer')", argv[i]);
            return EXIT_USAGE;
        } else if (n_files < 2) {
            files[n_files++] = argv[i];
        } else {
            cli_error("too many arguments (usage: sotto wer [--json] REF HYP)");
            return EXIT_USAGE;
        }
    }
    if (n_files != 2) {
        cli_error("need two files (usage: sotto wer [--json] REF HYP)");
        return EXIT_USAGE;
    }
    if (!strcmp(files[0], "-") && !strcmp(files[1], "-")) {
        cli_error("only one of REF and HYP can be '-'");
        return EXIT_USAGE;
    }
    char *ref = read_text(files[0]);
    char *hyp = ref ? read_text(files[1]) : NULL;
    if (!ref || !hyp) {
        free(ref);
        free(hyp);
        return EXIT_INPUT;
    }
    sotto_wer w;
    int rc = sotto_text_wer(ref, hyp, &w);
    free(ref);
    free(hyp);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    if (json)
        printf("{\"wer\": %.6f, \"ref_words\": %zu, \"hyp_words\": %zu, \"substitutions\": %zu, "
               "\"deletions\": %zu, \"insertions\": %zu}\n",
               w.wer, w.ref_words, w.hyp_words, w.substitutions, w.deletions, w.insertions);
    else
        printf("WER %.2f%% (%zu words: %zu substitutions, %zu deletions, %zu insertions)\n",
               w.wer * 100, w.ref_words, w.substitutions, w.deletions, w.insertions);
    return EXIT_OK;
}
