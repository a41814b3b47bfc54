/*
 * main.c - the `sotto` command: dispatches to subcommands. Every capability is a
 * libsotto call; this file and its siblings only parse arguments and print.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sotto/sotto.h"

/* First Ctrl-C: commands finish what they hold (a listen transcribes its tail) and exit;
 * the second stops at once. */
static void on_sigint(int sig)
{
    (void)sig;
    if (cli_interrupted) {
        static const char msg[] = "\nsotto: interrupted\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(EXIT_INTERRUPTED);
    }
    cli_interrupted = 1;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {
        {"transcribe", cmd_transcribe}, {"models", cmd_models}, {"wer", cmd_wer},
        {"bench", cmd_bench},           {"model", cmd_model},
        {"serve", cmd_serve},           {"user", cmd_user},   {"key", cmd_key},
        {"listen", cmd_listen},
    };
    if (argc < 2) {
        cli_help(NULL, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("sotto %s\n", sotto_version());
        return EXIT_OK;
    }
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        cli_help(NULL, stdout);
        return EXIT_OK;
    }
    if (!strcmp(cmd, "help")) {
        if (cli_help(argc > 2 ? argv[2] : NULL, stdout) != 0) {
            cli_error("no help for '%s'; commands: transcribe, listen, models, model, wer, bench, serve, user, key", argv[2]);
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    signal(SIGINT, on_sigint);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    }
    cli_error("unknown command '%s' (try 'sotto help')", cmd);
    return EXIT_USAGE;
}
