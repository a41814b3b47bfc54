/*
 * cmd_model.c - `sotto model new|info|quantize`: Whisper model files.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sotto/sotto.h"

/* Flags of `model new` that set a custom dimension, and where each goes. */
static int *custom_dim(sotto_whisper_dims *d, const char *flag)
{
    if (!strcmp(flag, "--state")) return &d->n_audio_state;
    if (!strcmp(flag, "--heads")) return &d->n_audio_head;
    if (!strcmp(flag, "--enc-layers")) return &d->n_audio_layer;
    if (!strcmp(flag, "--dec-layers")) return &d->n_text_layer;
    if (!strcmp(flag, "--mels")) return &d->n_mels;
    if (!strcmp(flag, "--vocab")) return &d->n_vocab;
    return NULL;
}

static int model_new(int argc, char **argv)
{
    const char *dims_name = NULL, *type = "f16", *out = NULL;
    int english_only = 0, seed = 1;
    sotto_whisper_dims custom = {51865, 1500, 384, 6, 4, 448, 384, 6, 4, 80};
    int have_custom = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *dim = custom_dim(&custom, a);
        if (!strcmp(a, "--en")) {
            english_only = 1;
            continue;
        }
        if (!v) {
            cli_error("'%s' needs a value (see 'sotto help model')", a);
            return EXIT_USAGE;
        }
        if (!strcmp(a, "--dims")) dims_name = v;
        else if (!strcmp(a, "--type")) type = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--seed")) {
            if (cli_parse_int("--seed", v, 0, 2147483647, &seed)) return EXIT_USAGE;
        } else if (dim) {
            if (cli_parse_int(a, v, 1, 65536, dim)) return EXIT_USAGE;
            have_custom = 1;
        } else {
            cli_error("unknown option '%s' (see 'sotto help model')", a);
            return EXIT_USAGE;
        }
        i++;
    }
    if (!dims_name || !out) {
        cli_error("usage: sotto model new --dims tiny|base|small|medium|large-v3|custom [--type T] [--seed N] -o FILE");
        return EXIT_USAGE;
    }
    sotto_whisper_dims d;
    if (!strcmp(dims_name, "custom")) {
        d = custom;
        d.n_text_state = d.n_audio_state;
        d.n_text_head = d.n_audio_head;
        if (english_only)
            d.n_vocab = 51864;
    } else {
        if (have_custom) {
            cli_error("--state/--heads/--enc-layers/--dec-layers/--mels go with --dims custom");
            return EXIT_USAGE;
        }
        if (sotto_whisper_dims_preset(dims_name, english_only, &d) != 0) {
            cli_error("%s", sotto_last_error());
            return EXIT_USAGE;
        }
    }
    int rc = sotto_whisper_model_new(&d, type, (uint64_t)seed, out);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return rc == SOTTO_EINVAL ? EXIT_USAGE : EXIT_OUTPUT;
    }
    fprintf(stderr, "sotto: wrote %s (random weights: for tests and benchmarks, not speech)\n", out);
    return EXIT_OK;
}

static int model_info(int argc, char **argv)
{
    if (argc != 2) {
        cli_error("usage: sotto model info FILE");
        return EXIT_USAGE;
    }
    sotto_buf b = SOTTO_BUF_INIT;
    int rc = sotto_whisper_model_info(argv[1], &b);
    if (rc) {
        cli_error("%s", sotto_last_error());
        sotto_buf_free(&b);
        return cli_exit_code(rc);
    }
    fputs(b.data, stdout);
    sotto_buf_free(&b);
    return EXIT_OK;
}

static int model_quantize(int argc, char **argv)
{
    if (argc != 4) {
        cli_error("usage: sotto model quantize IN OUT TYPE (TYPE: f16, q8_0, q5_0, q5_1, q4_0, q4_1)");
        return EXIT_USAGE;
    }
    int rc = sotto_whisper_model_quantize(argv[1], argv[2], argv[3]);
    if (rc) {
        cli_error("%s", sotto_last_error());
        return cli_exit_code(rc);
    }
    fprintf(stderr, "sotto: wrote %s\n", argv[2]);
    return EXIT_OK;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        cli_help("model", argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "new"))
        return model_new(argc - 1, argv + 1);
    if (!strcmp(argv[1], "info"))
        return model_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "quantize"))
        return model_quantize(argc - 1, argv + 1);
    cli_error("unknown 'model' command '%s' (new, info, quantize)", argv[1]);
    return EXIT_USAGE;
}
