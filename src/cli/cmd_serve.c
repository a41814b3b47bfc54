/*
 * cmd_serve.c - `sotto serve`: run the HTTP API until SIGTERM/SIGINT, then drain.
 * Options come from defaults, then --config FILE, then SOTTO_* environment variables,
 * then the command line (each overriding the one before). --warm-streams defaults to the
 * number of cores here (the library's default is 0): a few hundred MB buys streams that
 * start at once instead of loading a PocketSphinx decoder first.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sotto/server.h"
#include "sotto/sotto.h"


int cmd_serve(int argc, char **argv)
{
    const char *listen = NULL, *data = NULL, *config = NULL, *auth = NULL, *model = NULL;
    int workers = 0, warm = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help("serve", stdout);
            return EXIT_OK;
        }
        if (!strcmp(a, "--listen"))
            slot = &listen;
        else if (!strcmp(a, "--data"))
            slot = &data;
        else if (!strcmp(a, "--config"))
            slot = &config;
        else if (!strcmp(a, "--auth"))
            slot = &auth;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            slot = &model;
        else if (!strcmp(a, "--workers")) {
            if (i + 1 >= argc || cli_parse_int("--workers", argv[++i], 1, 64, &workers) != 0)
                return EXIT_USAGE;
            continue;
        } else if (!strcmp(a, "--warm-streams")) {
            if (i + 1 >= argc ||
                cli_parse_int("--warm-streams", argv[++i], 0, SOTTO_ASR_WARM_MAX, &warm) != 0)
                return EXIT_USAGE;
            continue;
        } else {
            cli_error("serve: unknown option '%s' (try 'sotto help serve')", a);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            cli_error("serve: %s needs a value", a);
            return EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    if (auth && strcmp(auth, "on") && strcmp(auth, "off")) {
        cli_error("serve: --auth expects on or off, not '%s'", auth);
        return EXIT_USAGE;
    }
    sotto_server_options o;
    sotto_server_options_init(&o);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.warm_streams = cores < 1 ? 1 : cores > SOTTO_ASR_WARM_MAX ? SOTTO_ASR_WARM_MAX : (int)cores;
    int rc = 0;
    if (config && (rc = sotto_server_config_load(&o, config)) != 0) {
        cli_error("%s", sotto_last_error());
        sotto_server_options_free(&o);
        return EXIT_USAGE;
    }
    if ((rc = sotto_server_config_env(&o)) != 0) {
        cli_error("%s", sotto_last_error());
        sotto_server_options_free(&o);
        return EXIT_USAGE;
    }
    if (listen)
        o.listen = listen;
    if (data)
        o.data_dir = data;
    if (model)
        o.model = model;
    if (auth)
        o.auth = !strcmp(auth, "on");
    if (workers)
        o.workers = workers;
    if (warm >= 0)
        o.warm_streams = warm;

    /* Signals are taken by this thread only (sigwait): server threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sotto_server *srv = NULL;
    rc = sotto_server_start(&o, &srv);
    if (rc) {
        cli_error("serve: %s", sotto_last_error());
        sotto_server_options_free(&o);
        return cli_exit_code(rc) == EXIT_USAGE ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
    }
    fprintf(stderr,
            "{\"level\":\"info\",\"msg\":\"listening\",\"listen\":\"%s\",\"port\":%d,"
            "\"auth\":%s,\"backend\":\"%s\",\"version\":\"%s\"}\n",
            o.listen, sotto_server_port(srv), o.auth ? "true" : "false",
            o.model ? "whisper" : "sphinx", sotto_version());
    fflush(stderr);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "{\"level\":\"info\",\"msg\":\"stopping\",\"signal\":\"%s\"}\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    sotto_server_stop(srv);
    fprintf(stderr, "{\"level\":\"info\",\"msg\":\"stopped\"}\n");
    sotto_server_options_free(&o);
    return EXIT_OK;
}
