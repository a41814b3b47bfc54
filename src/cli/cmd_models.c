/*
 * cmd_models.c - `sotto models`: which recognizers are built in and usable here.
 */
#include <string.h>

#include "cli.h"
#include "sotto/sotto.h"

int cmd_models(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        cli_help("models", stdout);
        return EXIT_OK;
    }
    if (argc > 1) {
        cli_error("'sotto models' takes no arguments");
        return EXIT_USAGE;
    }
    size_t n = sotto_asr_backend_count();
    printf("%-10s %-11s %s\n", "BACKEND", "STATUS", "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        sotto_asr_backend_info info;
        if (sotto_asr_backend_info_get(i, &info) != 0)
            continue;
        printf("%-10s %-11s %s\n", info.name, info.available ? "available" : "unavailable",
               info.description);
        if (info.needs[0])
            printf("%-10s %-11s %s: %s\n", "", "", info.available ? "uses" : "needs", info.needs);
    }
    return EXIT_OK;
}
