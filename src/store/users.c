/*
 * users.c - users and their API keys. A key is "sk-sotto-" + 43 base64url characters
 * (32 random bytes from getrandom()); it is shown once and never stored: the store keeps
 * its SHA-256 (looked up by a unique index, then compared in constant time) and the first
 * 8 characters after "sk-sotto-" as the prefix shown in listings and accepted by revoke.
 */
#include <string.h>

#include "base/sha256.h"
#include "store_int.h"

#define KEY_TAG "sk-sotto-"
#define KEY_TAG_LEN 9
#define KEY_BODY_LEN 43 /* base64url of 32 bytes, no padding */
#define KEY_LEN (KEY_TAG_LEN + KEY_BODY_LEN)
#define KEY_PREFIX_LEN 8

static void base64url(const unsigned char *in, size_t n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = alphabet[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

/* Compare digests without an early exit, so timing says nothing about how many leading
 * bytes of a guessed key's hash were right. */
static int digest_equal(const unsigned char *a, const unsigned char *b)
{
    unsigned char diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static void key_digest(const char *key, unsigned char digest[32])
{
    sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, key, strlen(key));
    sha256_final(&ctx, digest);
}

static int read_user(sqlite3_stmt *s, int first, sotto_user *out)
{
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(s, first);
    out->is_admin = sqlite3_column_int(s, first + 2) != 0;
    out->created_at = sqlite3_column_double(s, first + 3);
    return store_col_fixed(s, first + 1, out->name, sizeof out->name, 0);
}

int sotto_store_user_add(sotto_store *st, const char *name, int is_admin, sotto_user *out)
{
    if (!st)
        return error_set(SOTTO_EINVAL, "store: no store");
    int rc = store_check_text(name, sizeof out->name, 0, "user name");
    if (rc)
        return rc;
    if (!name[0])
        return error_set(SOTTO_EINVAL, "store: user name is empty");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return error_set(SOTTO_EINVAL, "store: user name has a control character");
    double now = store_time();
    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "INSERT INTO users (name, is_admin, created_at) "
                                    "VALUES (?, ?, ?)");
    if (!s) {
        store_writer_done(st);
        return SOTTO_EIO;
    }
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 2, is_admin != 0);
    sqlite3_bind_double(s, 3, now);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = 0;
        if (out) {
            memset(out, 0, sizeof *out);
            out->id = sqlite3_last_insert_rowid(c->db);
            snprintf(out->name, sizeof out->name, "%s", name);
            out->is_admin = is_admin != 0;
            out->created_at = now;
        }
    } else if (step == SQLITE_CONSTRAINT_UNIQUE) {
        rc = error_set(SOTTO_EINVAL, "store: user '%s' already exists", name);
    } else {
        rc = store_err(c, step, "add user");
    }
    store_stmt_done(c, s);
    store_writer_done(st);
    return rc;
}

int sotto_store_user_get(sotto_store *st, const char *name, sotto_user *out)
{
    if (!st || !name || !out)
        return error_set(SOTTO_EINVAL, "store: user_get needs a store, a name and an output");
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    sqlite3_stmt *s = store_stmt(c, "SELECT id, name, is_admin, created_at FROM users "
                                    "WHERE name = ?");
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            rc = read_user(s, 0, out);
        else if (step == SQLITE_DONE)
            rc = error_set(SOTTO_ENOENT, "store: no user '%s'", name);
        else
            rc = store_err(c, step, "get user");
    }
    store_stmt_done(c, s);
    store_reader_done(st, c);
    return rc;
}

int sotto_store_key_new(sotto_store *st, int64_t user_id, char *key_out, size_t key_out_size)
{
    if (!st || !key_out)
        return error_set(SOTTO_EINVAL, "store: key_new needs a store and an output buffer");
    if (key_out_size < KEY_LEN + 1)
        return error_set(SOTTO_EINVAL, "store: key buffer too small (%zu bytes, need %d)",
                         key_out_size, KEY_LEN + 1);
    unsigned char raw[32];
    int rc = store_random(raw, sizeof raw);
    if (rc)
        return rc;
    char key[KEY_LEN + 1];
    memcpy(key, KEY_TAG, KEY_TAG_LEN);
    base64url(raw, sizeof raw, key + KEY_TAG_LEN);
    unsigned char digest[32];
    key_digest(key, digest);

    store_conn *c = store_writer(st);
    sqlite3_stmt *s = store_stmt(c, "INSERT INTO api_keys (user_id, prefix, hash, created_at) "
                                    "VALUES (?, ?, ?, ?)");
    if (!s) {
        store_writer_done(st);
        return SOTTO_EIO;
    }
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, key + KEY_TAG_LEN, KEY_PREFIX_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, digest, sizeof digest, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 4, store_time());
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        rc = 0;
    else if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = error_set(SOTTO_ENOENT, "store: no user with id %lld", (long long)user_id);
    else
        rc = store_err(c, step, "create key");
    store_stmt_done(c, s);
    store_writer_done(st);
    if (rc == 0)
        memcpy(key_out, key, KEY_LEN + 1);
    memset(key, 0, sizeof key);
    memset(raw, 0, sizeof raw);
    return rc;
}

int sotto_store_key_revoke(sotto_store *st, const char *key_or_prefix)
{
    if (!st || !key_or_prefix)
        return error_set(SOTTO_EINVAL, "store: key_revoke needs a store and a key");
    size_t n = strnlen(key_or_prefix, KEY_LEN + 1);
    const char *prefix = NULL;
    int by_hash = 0;
    if (n == KEY_LEN && strncmp(key_or_prefix, KEY_TAG, KEY_TAG_LEN) == 0)
        by_hash = 1;
    else if (n == KEY_PREFIX_LEN)
        prefix = key_or_prefix;
    else if (n == KEY_TAG_LEN + KEY_PREFIX_LEN && strncmp(key_or_prefix, KEY_TAG, KEY_TAG_LEN) == 0)
        prefix = key_or_prefix + KEY_TAG_LEN;
    else
        return error_set(SOTTO_ENOENT, "store: no API key matches '%.20s'", key_or_prefix);

    unsigned char digest[32];
    if (by_hash)
        key_digest(key_or_prefix, digest);
    store_conn *c = store_writer(st);
    int rc = store_begin(c);
    sqlite3_stmt *s = NULL;
    int64_t matches = 0;
    if (rc == 0) {
        s = store_stmt(c, by_hash ? "SELECT count(*) FROM api_keys WHERE hash = ?1 AND "
                                    "revoked_at IS NULL"
                                  : "SELECT count(*) FROM api_keys WHERE prefix = ?2 AND "
                                    "revoked_at IS NULL");
        rc = s ? 0 : SOTTO_EIO;
    }
    if (rc == 0) {
        if (by_hash)
            sqlite3_bind_blob(s, 1, digest, sizeof digest, SQLITE_TRANSIENT);
        else
            sqlite3_bind_text(s, 2, prefix, KEY_PREFIX_LEN, SQLITE_TRANSIENT);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            matches = sqlite3_column_int64(s, 0);
        else
            rc = store_err(c, step, "find key");
        store_stmt_done(c, s);
    }
    if (rc == 0 && matches == 0)
        rc = error_set(SOTTO_ENOENT, "store: no active API key matches '%s%.*s'",
                       by_hash ? "" : KEY_TAG, by_hash ? 0 : KEY_PREFIX_LEN, by_hash ? "" : prefix);
    if (rc == 0 && matches > 1)
        rc = error_set(SOTTO_EINVAL,
                       "store: %lld keys share the prefix '%.8s'; revoke by the "
                       "full key",
                       (long long)matches, prefix);
    if (rc == 0) {
        s = store_stmt(c, "UPDATE api_keys SET revoked_at = ?3 WHERE (hash = ?1 OR prefix = ?2) "
                          "AND revoked_at IS NULL");
        rc = s ? 0 : SOTTO_EIO;
        if (s) {
            if (by_hash)
                sqlite3_bind_blob(s, 1, digest, sizeof digest, SQLITE_TRANSIENT);
            else
                sqlite3_bind_text(s, 2, prefix, KEY_PREFIX_LEN, SQLITE_TRANSIENT);
            sqlite3_bind_double(s, 3, store_time());
            int step = sqlite3_step(s);
            if (step != SQLITE_DONE)
                rc = store_err(c, step, "revoke key");
            store_stmt_done(c, s);
        }
    }
    if (rc == 0)
        rc = store_commit(c);
    store_writer_done(st);
    return rc;
}

int sotto_store_key_lookup(sotto_store *st, const char *key, sotto_user *out)
{
    if (!st || !key || !out)
        return error_set(SOTTO_EINVAL, "store: key_lookup needs a store, a key and an output");
    /* the length check is not secret-dependent: every issued key has this shape */
    if (strnlen(key, KEY_LEN + 1) != KEY_LEN || strncmp(key, KEY_TAG, KEY_TAG_LEN) != 0)
        return error_set(SOTTO_ENOENT, "store: unknown API key");
    unsigned char digest[32];
    key_digest(key, digest);
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    sqlite3_stmt *s = store_stmt(c, "SELECT k.hash, u.id, u.name, u.is_admin, u.created_at "
                                    "FROM api_keys k JOIN users u ON u.id = k.user_id "
                                    "WHERE k.hash = ? AND k.revoked_at IS NULL");
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_blob(s, 1, digest, sizeof digest, SQLITE_TRANSIENT);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW) {
            const unsigned char *stored = sqlite3_column_blob(s, 0);
            if (sqlite3_column_bytes(s, 0) == 32 && stored && digest_equal(stored, digest))
                rc = read_user(s, 1, out);
            else
                rc = error_set(SOTTO_ENOENT, "store: unknown API key");
        } else if (step == SQLITE_DONE) {
            rc = error_set(SOTTO_ENOENT, "store: unknown API key");
        } else {
            rc = store_err(c, step, "look up key");
        }
    }
    store_stmt_done(c, s);
    store_reader_done(st, c);
    return rc;
}
