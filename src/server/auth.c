/*
 * auth.c - who is calling: an API key from `Authorization: Bearer KEY` or `X-API-Key: KEY`
 * looked up in the store (SHA-256, constant-time compare there). Unknown, revoked or
 * missing keys are 401 with the same message shape, so a client cannot tell a revoked key
 * from a mistyped one. With auth off (loopback only) every caller is the local user
 * "local", created on first use.
 */
#include <string.h>
#include <strings.h>

#include "base/base_int.h"
#include "server/server_int.h"

static int local_user(srv_req *r)
{
    sotto_store *st = r->srv->store;
    int rc = sotto_store_user_get(st, "local", &r->user);
    if (rc == SOTTO_ENOENT) {
        rc = sotto_store_user_add(st, "local", 1, &r->user);
        if (rc) /* another request created it first */
            rc = sotto_store_user_get(st, "local", &r->user);
    }
    if (rc) {
        http_error_rc(r, rc);
        return -1;
    }
    r->authed = 1;
    return 0;
}

int auth_check(srv_req *r)
{
    if (!r->srv->opt.auth)
        return local_user(r);
    const char *key = http_header(r, "X-API-Key");
    const char *h = http_header(r, "Authorization");
    if ((!key || !*key) && h) {
        if (!strncasecmp(h, "Bearer ", 7)) {
            key = h + 7;
            while (*key == ' ')
                key++;
        }
    }
    if (!key || !*key) {
        http_error(r, 401, "unauthorized",
                   "an API key is required: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'");
        return -1;
    }
    if (strlen(key) > 256) {
        http_error(r, 401, "unauthorized", "invalid API key");
        return -1;
    }
    int rc = sotto_store_key_lookup(r->srv->store, key, &r->user);
    if (rc == SOTTO_ENOENT) {
        http_error(r, 401, "unauthorized", "invalid API key");
        return -1;
    }
    if (rc) {
        http_error(r, 503, "unavailable", "could not check the API key: %s", sotto_last_error());
        return -1;
    }
    r->authed = 1;
    return 0;
}

/* ---- admin: users and keys (an admin key manages users) -------------------------------- */

static int need_admin(srv_req *r)
{
    if (r->user.is_admin)
        return 0;
    http_error(r, 403, "forbidden", "this needs an admin key");
    return -1;
}

/* POST /v1/users {"name": "...", "admin": false} -> 201 {id, name, is_admin} */
int route_user_add(srv_req *r)
{
    if (need_admin(r))
        return r->status;
    sotto_json *body;
    if (http_read_json(r, &body) != 0)
        return r->status;
    const sotto_json *name = sotto_json_get(body, "name");
    const char *n = sotto_json_string(name, NULL);
    if (!n || !*n || sotto_json_string_len(name) >= sizeof r->user.name || strlen(n) != sotto_json_string_len(name)) {
        sotto_json_free(body);
        return http_error(r, 400, "invalid_request", "'name' must be a string of 1 to 127 bytes");
    }
    sotto_user u;
    int rc = sotto_store_user_add(r->srv->store, n, sotto_json_bool(sotto_json_get(body, "admin"), 0), &u);
    sotto_json_free(body);
    if (rc == SOTTO_EINVAL && strstr(sotto_last_error(), "already exists"))
        return http_error(r, 409, "conflict", "%s", sotto_last_error());
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_printf(&b, "{\"id\":%lld,\"object\":\"user\",\"name\":", (long long)u.id);
    sotto_buf_json_string(&b, u.name);
    sotto_buf_printf(&b, ",\"is_admin\":%s}\n", u.is_admin ? "true" : "false");
    int st = http_send_json(r, 201, &b);
    sotto_buf_free(&b);
    return st;
}

/* POST /v1/users/{name}/keys -> 201 {"key": "..."}; the key is shown only here. */
int route_key_new(srv_req *r)
{
    if (need_admin(r))
        return r->status;
    sotto_user u;
    int rc = sotto_store_user_get(r->srv->store, r->param, &u);
    if (rc == SOTTO_ENOENT)
        return http_error(r, 404, "not_found", "no user '%.64s'", r->param);
    if (rc)
        return http_error_rc(r, rc);
    char key[128];
    rc = sotto_store_key_new(r->srv->store, u.id, key, sizeof key);
    if (rc)
        return http_error_rc(r, rc);
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"object\":\"api_key\",\"user\":");
    sotto_buf_json_string(&b, u.name);
    sotto_buf_puts(&b, ",\"key\":");
    sotto_buf_json_string(&b, key);
    sotto_buf_puts(&b, "}\n");
    int st = http_send_json(r, 201, &b);
    sotto_buf_free(&b);
    return st;
}
