/*
 * config.c - the server's options: defaults, the JSON config file (every key checked, with
 * errors that name the key), SOTTO_* environment overrides, and the listen address parser.
 * The file format is documented in docs/server.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "server/server_int.h"
#include "sotto/asr.h"

void sotto_server_options_init(sotto_server_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->data_dir = "./sotto-data";
    o->model = NULL;
    o->auth = 1;
    o->http_threads = 32;
    o->workers = 1;
    o->log_requests = 1;
    o->limits.max_upload_bytes = (size_t)200 << 20;
    o->limits.rate_per_s = 20;
    o->limits.rate_burst = 40;
    o->limits.max_conns_per_ip = 64;
    o->limits.max_queue = 100;
    o->limits.sync_timeout_s = 600;
    o->limits.max_json_bytes = (size_t)1 << 20;
}

void sotto_server_options_free(sotto_server_options *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < sizeof o->owned_ / sizeof o->owned_[0]; i++) {
        free(o->owned_[i]);
        o->owned_[i] = NULL;
    }
}

int config_parse_listen(const char *listen, char *host, size_t host_size, int *port)
{
    if (!listen || !*listen)
        return error_set(SOTTO_EINVAL, "listen address is empty (expected HOST:PORT, e.g. 127.0.0.1:8080)");
    const char *colon = strrchr(listen, ':');
    const char *p = colon ? colon + 1 : listen;
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno || end == p || *end || v < 0 || v > 65535)
        return error_set(SOTTO_EINVAL, "listen address '%s': port must be a number from 0 to 65535",
                         listen);
    if (hl + 1 > host_size)
        return error_set(SOTTO_EINVAL, "listen address '%s': host is too long", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    for (size_t i = 0; i < hl; i++) {
        char c = host[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '*'))
            return error_set(SOTTO_EINVAL,
                             "listen address '%s': host must be an IPv4 address (127.0.0.1, 0.0.0.0)",
                             listen);
    }
    *port = (int)v;
    return 0;
}

/* Keep a string in the options' own storage (slot 0..3) so it outlives the JSON tree. */
static int own(sotto_server_options *o, int slot, const char *s, const char **field)
{
    char *c = str_dup(s);
    if (!c)
        return error_set(SOTTO_ENOMEM, "out of memory");
    free(o->owned_[slot]);
    o->owned_[slot] = c;
    *field = c;
    return 0;
}

static int want_number(const char *path, const char *key, const sotto_json *v, double lo, double hi,
                       double *out)
{
    double d = sotto_json_number(v, NAN);
    if (sotto_json_type_of(v) != SOTTO_JSON_NUMBER || !(d >= lo && d <= hi))
        return error_set(SOTTO_EINVAL, "config %s: '%s' must be a number from %g to %g", path, key, lo,
                         hi);
    *out = d;
    return 0;
}

static int want_bool(const char *path, const char *key, const sotto_json *v, int *out)
{
    sotto_json_type t = sotto_json_type_of(v);
    if (t != SOTTO_JSON_TRUE && t != SOTTO_JSON_FALSE)
        return error_set(SOTTO_EINVAL, "config %s: '%s' must be true or false", path, key);
    *out = t == SOTTO_JSON_TRUE;
    return 0;
}

static int load_limits(sotto_server_options *o, const char *path, const sotto_json *lim)
{
    if (sotto_json_type_of(lim) != SOTTO_JSON_OBJECT)
        return error_set(SOTTO_EINVAL, "config %s: 'limits' must be an object", path);
    for (size_t i = 0; i < sotto_json_len(lim); i++) {
        const char *k = sotto_json_key(lim, i);
        const sotto_json *v = sotto_json_at(lim, i);
        double d = 0;
        int rc;
        if (!strcmp(k, "max_upload_mb")) {
            if ((rc = want_number(path, k, v, 0.001, 1 << 20, &d)))
                return rc;
            o->limits.max_upload_bytes = (size_t)(d * 1048576.0);
        } else if (!strcmp(k, "rate_per_s")) {
            if ((rc = want_number(path, k, v, 0.001, 1e6, &d)))
                return rc;
            o->limits.rate_per_s = d;
        } else if (!strcmp(k, "rate_burst")) {
            if ((rc = want_number(path, k, v, 1, 1e6, &d)))
                return rc;
            o->limits.rate_burst = d;
        } else if (!strcmp(k, "max_conns_per_ip")) {
            if ((rc = want_number(path, k, v, 1, 100000, &d)))
                return rc;
            o->limits.max_conns_per_ip = (int)d;
        } else if (!strcmp(k, "max_queue")) {
            if ((rc = want_number(path, k, v, 1, 1e7, &d)))
                return rc;
            o->limits.max_queue = (size_t)d;
        } else if (!strcmp(k, "sync_timeout_s")) {
            if ((rc = want_number(path, k, v, 1, 86400, &d)))
                return rc;
            o->limits.sync_timeout_s = d;
        } else if (!strcmp(k, "max_json_kb")) {
            if ((rc = want_number(path, k, v, 1, 1 << 20, &d)))
                return rc;
            o->limits.max_json_bytes = (size_t)d * 1024;
        } else if (!strcmp(k, "max_streams")) {
            if ((rc = want_number(path, k, v, 0, 100000, &d)))
                return rc;
            o->limits.max_streams = (int)d;
        } else {
            return error_set(SOTTO_EINVAL,
                             "config %s: unknown key 'limits.%s' (known: max_upload_mb, rate_per_s, "
                             "rate_burst, max_conns_per_ip, max_queue, sync_timeout_s, max_json_kb, "
                             "max_streams)",
                             path, k);
        }
    }
    return 0;
}

static int load_tree(sotto_server_options *o, const char *path, const sotto_json *root)
{
    if (sotto_json_type_of(root) != SOTTO_JSON_OBJECT)
        return error_set(SOTTO_EINVAL, "config %s: the file must hold one JSON object", path);
    for (size_t i = 0; i < sotto_json_len(root); i++) {
        const char *k = sotto_json_key(root, i);
        const sotto_json *v = sotto_json_at(root, i);
        int rc = 0;
        double d = 0;
        if (!strcmp(k, "listen") || !strcmp(k, "data_dir") || !strcmp(k, "model")) {
            if (!strcmp(k, "model") && sotto_json_type_of(v) == SOTTO_JSON_NULL) {
                o->model = NULL;
                continue;
            }
            if (sotto_json_type_of(v) != SOTTO_JSON_STRING || !*sotto_json_string(v, ""))
                return error_set(SOTTO_EINVAL, "config %s: '%s' must be a non-empty string", path, k);
            const char *s = sotto_json_string(v, "");
            if (!strcmp(k, "listen")) {
                char host[64];
                int port;
                if ((rc = config_parse_listen(s, host, sizeof host, &port)))
                    return error_set(rc, "config %s: %s", path, sotto_last_error());
                rc = own(o, 0, s, &o->listen);
            } else if (!strcmp(k, "data_dir")) {
                rc = own(o, 1, s, &o->data_dir);
            } else {
                rc = own(o, 2, s, &o->model);
            }
        } else if (!strcmp(k, "auth")) {
            rc = want_bool(path, k, v, &o->auth);
        } else if (!strcmp(k, "log_requests")) {
            rc = want_bool(path, k, v, &o->log_requests);
        } else if (!strcmp(k, "http_threads")) {
            if (!(rc = want_number(path, k, v, 2, 1024, &d)))
                o->http_threads = (int)d;
        } else if (!strcmp(k, "workers")) {
            if (!(rc = want_number(path, k, v, 1, 64, &d)))
                o->workers = (int)d;
        } else if (!strcmp(k, "warm_streams")) {
            if (!(rc = want_number(path, k, v, 0, SOTTO_ASR_WARM_MAX, &d)))
                o->warm_streams = (int)d;
        } else if (!strcmp(k, "limits")) {
            rc = load_limits(o, path, v);
        } else {
            return error_set(SOTTO_EINVAL,
                             "config %s: unknown key '%s' (known: listen, data_dir, model, auth, "
                             "http_threads, workers, log_requests, warm_streams, limits)",
                             path, k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int sotto_server_config_load(sotto_server_options *o, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return error_set(errno == ENOENT ? SOTTO_ENOENT : SOTTO_EACCES, "config %s: %s", path,
                         strerror(errno));
    char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    int too_big = n == sizeof buf;
    fclose(f);
    if (too_big)
        return error_set(SOTTO_EINVAL, "config %s: file is over 64 KiB", path);
    sotto_json *root = NULL;
    sotto_json_limits lim = {16, 10000};
    int rc = sotto_json_parse(buf, n, &lim, &root);
    if (rc)
        return error_set(SOTTO_EFORMAT, "config %s: %s", path, sotto_last_error());
    rc = load_tree(o, path, root);
    sotto_json_free(root);
    return rc;
}

static int env_number(const char *name, double lo, double hi, double *out)
{
    const char *s = getenv(name);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno || end == s || *end || !(d >= lo && d <= hi))
        return error_set(SOTTO_EINVAL, "environment %s='%s': expected a number from %g to %g", name, s,
                         lo, hi);
    *out = d;
    return 1;
}

int sotto_server_config_env(sotto_server_options *o)
{
    const char *s;
    int rc;
    if ((s = getenv("SOTTO_LISTEN")) && *s) {
        char host[64];
        int port;
        if ((rc = config_parse_listen(s, host, sizeof host, &port)))
            return error_set(rc, "environment SOTTO_LISTEN: %s", sotto_last_error());
        o->listen = s;
    }
    if ((s = getenv("SOTTO_DATA")) && *s)
        o->data_dir = s;
    if ((s = getenv("SOTTO_MODEL")) && *s)
        o->model = s;
    if ((s = getenv("SOTTO_AUTH")) && *s) {
        if (!strcmp(s, "on"))
            o->auth = 1;
        else if (!strcmp(s, "off"))
            o->auth = 0;
        else
            return error_set(SOTTO_EINVAL, "environment SOTTO_AUTH='%s': expected on or off", s);
    }
    double d = 0.0;
    if ((rc = env_number("SOTTO_WORKERS", 1, 64, &d)) < 0)
        return rc;
    if (rc)
        o->workers = (int)d;
    if ((rc = env_number("SOTTO_MAX_UPLOAD_MB", 0.001, 1 << 20, &d)) < 0)
        return rc;
    if (rc)
        o->limits.max_upload_bytes = (size_t)(d * 1048576.0);
    if ((rc = env_number("SOTTO_RATE_PER_S", 0.001, 1e6, &d)) < 0)
        return rc;
    if (rc)
        o->limits.rate_per_s = d;
    if ((rc = env_number("SOTTO_RATE_BURST", 1, 1e6, &d)) < 0)
        return rc;
    if (rc)
        o->limits.rate_burst = d;
    if ((rc = env_number("SOTTO_MAX_QUEUE", 1, 1e7, &d)) < 0)
        return rc;
    if (rc)
        o->limits.max_queue = (size_t)d;
    if ((rc = env_number("SOTTO_MAX_CONNS_PER_IP", 1, 100000, &d)) < 0)
        return rc;
    if (rc)
        o->limits.max_conns_per_ip = (int)d;
    if ((rc = env_number("SOTTO_MAX_STREAMS", 0, 100000, &d)) < 0)
        return rc;
    if (rc)
        o->limits.max_streams = (int)d;
    if ((rc = env_number("SOTTO_WARM_STREAMS", 0, SOTTO_ASR_WARM_MAX, &d)) < 0)
        return rc;
    if (rc)
        o->warm_streams = (int)d;
    return 0;
}
