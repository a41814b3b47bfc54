/*
 * cmd_admin.c - users and API keys in a data dir's store, without a running server:
 *   sotto user add NAME [--admin] [--data DIR]
 *   sotto key new USER [--data DIR]          (prints the key alone on its line, once)
 *   sotto key revoke KEY_OR_PREFIX [--data DIR]
 * The data dir is --data, else $SOTTO_DATA, else ./sotto-data (as for `sotto serve`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "sotto/sotto.h"
#include "sotto/store.h"


typedef struct admin_args {
    const char *data;
    const char *arg; /* the one positional argument after the verb */
    int admin;
} admin_args;

static int parse(const char *what, int argc, char **argv, int allow_admin, admin_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            a->data = argv[++i];
        } else if (allow_admin && !strcmp(argv[i], "--admin")) {
            a->admin = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("%s: unknown option '%s'", what, argv[i]);
            return -1;
        } else if (!a->arg) {
            a->arg = argv[i];
        } else {
            cli_error("%s: unexpected argument '%s'", what, argv[i]);
            return -1;
        }
    }
    if (!a->arg) {
        cli_error("%s: missing argument (try 'sotto help %s')", what, argv[0]);
        return -1;
    }
    if (!a->data)
        a->data = getenv("SOTTO_DATA");
    if (!a->data || !*a->data)
        a->data = "./sotto-data";
    return 0;
}

static int open_store(const char *data, sotto_store **st)
{
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        cli_error("cannot create data dir %s: %s", data, strerror(errno));
        return EXIT_OUTPUT;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/sotto.db", data);
    int rc = sotto_store_open(path, st);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    return 0;
}

int cmd_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "add") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            cli_help("user", stdout);
            return EXIT_OK;
        }
        cli_error("user: expected 'sotto user add NAME [--admin] [--data DIR]'");
        return EXIT_USAGE;
    }
    admin_args a;
    if (parse("user add", argc, argv, 1, &a) != 0)
        return EXIT_USAGE;
    sotto_store *st;
    int ex = open_store(a.data, &st);
    if (ex)
        return ex;
    sotto_user u;
    int rc = sotto_store_user_add(st, a.arg, a.admin, &u);
    if (rc) {
        cli_error("%s", sotto_last_error());
        sotto_store_close(st);
        return cli_exit_code(rc);
    }
    fprintf(stderr, "created user '%s'%s (id %lld)\n", u.name, u.is_admin ? " (admin)" : "",
            (long long)u.id);
    sotto_store_close(st);
    return EXIT_OK;
}

int cmd_key(int argc, char **argv)
{
    int is_new = argc >= 2 && !strcmp(argv[1], "new");
    int is_revoke = argc >= 2 && !strcmp(argv[1], "revoke");
    if (!is_new && !is_revoke) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            cli_help("key", stdout);
            return EXIT_OK;
        }
        cli_error("key: expected 'sotto key new USER' or 'sotto key revoke KEY_OR_PREFIX'");
        return EXIT_USAGE;
    }
    admin_args a;
    if (parse(is_new ? "key new" : "key revoke", argc, argv, 0, &a) != 0)
        return EXIT_USAGE;
    sotto_store *st;
    int ex = open_store(a.data, &st);
    if (ex)
        return ex;
    int rc;
    if (is_new) {
        sotto_user u;
        char key[128];
        rc = sotto_store_user_get(st, a.arg, &u);
        if (!rc)
            rc = sotto_store_key_new(st, u.id, key, sizeof key);
        if (!rc) {
            printf("%s\n", key);
            fprintf(stderr, "new API key for '%s' (shown once; only its hash is stored)\n", u.name);
        }
    } else {
        rc = sotto_store_key_revoke(st, a.arg);
        if (!rc)
            fprintf(stderr, "revoked\n");
    }
    if (rc)
        cli_error("%s", sotto_last_error());
    sotto_store_close(st);
    return rc ? cli_exit_code(rc) : EXIT_OK;
}
