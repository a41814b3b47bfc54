/*
 * store.c - the store's SQLite side: opening the file (WAL, foreign keys, busy timeout,
 * synchronous=FULL), the versioned schema migrations, the writer lock and reader pool,
 * the prepared-statement cache, error mapping, ids and row helpers. The tables' own
 * calls live in users.c, sessions.c, messages.c, search.c and jobs*.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

/* Each entry moves the schema from version i to i + 1, inside one transaction. Never edit
 * an entry once released: add a new one (docs/store.md lists them). */
static const char *const migrations[] = {
    /* 1: users, keys, sessions, messages + FTS5 index, jobs */
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  is_admin INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL);"
    "CREATE TABLE api_keys ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  prefix TEXT NOT NULL,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  created_at REAL NOT NULL,"
    "  revoked_at REAL);"
    "CREATE INDEX api_keys_prefix ON api_keys(prefix);"
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  title TEXT,"
    "  language TEXT NOT NULL DEFAULT '',"
    "  targets_json TEXT,"
    "  metadata_json TEXT,"
    "  started_at REAL NOT NULL,"
    "  ended_at REAL NOT NULL DEFAULT 0);"
    "CREATE INDEX sessions_user ON sessions(user_id, started_at);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
    "  user_id INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL,"
    "  content TEXT NOT NULL,"
    "  language TEXT NOT NULL DEFAULT '',"
    "  translations_json TEXT,"
    "  start_s REAL NOT NULL DEFAULT -1,"
    "  end_s REAL NOT NULL DEFAULT -1,"
    "  speaker INTEGER NOT NULL DEFAULT -1,"
    "  speaker_name TEXT,"
    "  confidence REAL NOT NULL DEFAULT -1,"
    "  metadata_json TEXT,"
    "  words INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL,"
    "  UNIQUE (session_id, seq));"
    /* external-content FTS5: the text lives once, in messages; triggers keep the index
     * in step with every insert, update and delete (including cascades) */
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',"
    "  content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;"
    "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  VALUES ('delete', old.id, old.content); END;"
    "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content)"
    "  VALUES ('delete', old.id, old.content);"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;"
    "CREATE TABLE jobs ("
    "  id TEXT PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  progress REAL NOT NULL DEFAULT 0,"
    "  options_json TEXT NOT NULL,"
    "  input_path TEXT NOT NULL,"
    "  input_name TEXT,"
    "  versions_json TEXT,"
    "  metrics_json TEXT,"
    "  results_json TEXT,"
    "  error TEXT,"
    "  session_id TEXT,"
    "  worker TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_at REAL NOT NULL,"
    "  started_at REAL NOT NULL DEFAULT 0,"
    "  finished_at REAL NOT NULL DEFAULT 0);"
    "CREATE INDEX jobs_queue ON jobs(status, created_at);"
    "CREATE INDEX jobs_user ON jobs(user_id, created_at);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

int store_err(store_conn *c, int rc, const char *what)
{
    const char *reason = c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
    int code;
    switch (rc & 0xff) {
    case SQLITE_NOMEM: code = SOTTO_ENOMEM; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT: code = SOTTO_EFORMAT; break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = SOTTO_EUNAVAIL; break;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH: code = SOTTO_EACCES; break;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH: code = SOTTO_EINVAL; break;
    default: code = SOTTO_EIO; break;
    }
    return error_set(code, "store: %s: %s", what, reason);
}

int store_exec(store_conn *c, const char *sql, const char *what)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_err(c, rc, what);
}

int store_begin(store_conn *c)
{
    return store_exec(c, "BEGIN IMMEDIATE", "begin transaction");
}
int store_commit(store_conn *c)
{
    return store_exec(c, "COMMIT", "commit");
}
void store_rollback(store_conn *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *store_stmt(store_conn *c, const char *sql)
{
    int free_slot = -1;
    for (int i = 0; i < STORE_STMT_CACHE; i++) {
        if (c->cache[i].sql == sql && !c->cache[i].in_use) {
            c->cache[i].in_use = 1;
            return c->cache[i].stmt;
        }
        if (!c->cache[i].sql && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        /* full (more distinct statements than expected): evict one that is idle */
        for (int i = 0; i < STORE_STMT_CACHE && free_slot < 0; i++)
            if (!c->cache[i].in_use)
                free_slot = i;
        if (free_slot < 0) {
            error_set(SOTTO_ENOMEM, "store: statement cache exhausted");
            return NULL;
        }
        sqlite3_finalize(c->cache[free_slot].stmt);
        c->cache[free_slot].sql = NULL;
        c->cache[free_slot].stmt = NULL;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        store_err(c, rc, "prepare");
        sqlite3_finalize(stmt);
        return NULL;
    }
    c->cache[free_slot].sql = sql;
    c->cache[free_slot].stmt = stmt;
    c->cache[free_slot].in_use = 1;
    return stmt;
}

void store_stmt_done(store_conn *c, sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (int i = 0; i < STORE_STMT_CACHE; i++)
        if (c->cache[i].stmt == stmt) {
            c->cache[i].in_use = 0;
            return;
        }
}

static void conn_close(store_conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < STORE_STMT_CACHE; i++)
        sqlite3_finalize(c->cache[i].stmt);
    sqlite3_close(c->db);
    free(c);
}

/* Durability: in WAL mode every commit is in the log file before the call returns, so it
 * survives a crash of the process (synchronous=NORMAL, the writer's default). Surviving
 * power loss or a kernel crash needs the log fsynced at commit (FULL): the job calls that
 * accept or finish work switch to it per transaction (store_durable), message appends do
 * not (measured 10-25x slower with FULL on this disk; see docs/store.md). Because the log
 * is sequential, a power loss can only lose a suffix of NORMAL commits, never leave a
 * hole: seq stays gap-free. */
static int conn_open(const char *path, int writer, store_conn **out)
{
    store_conn *c = calloc(1, sizeof *c);
    if (!c)
        return error_set(SOTTO_ENOMEM, "store: out of memory");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        int code = error_set(SOTTO_EIO, "store: cannot open '%s': %s", path,
                             c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_close(c);
        return code;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, 10000);
    const char *setup = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                 "PRAGMA foreign_keys=ON;"
                               : "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;";
    rc = store_exec(c, setup, "configure connection");
    if (rc == 0 && writer) {
        /* journal_mode answers with the mode it got: a file system without shared
         * memory support silently stays in rollback mode, which we refuse */
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(s, 0);
            if (!mode || strcmp(mode, "wal") != 0)
                rc = error_set(SOTTO_ENOTSUP, "store: '%s' cannot use WAL mode (got '%s')", path,
                               mode ? mode : "?");
        } else {
            rc = store_err(c, sqlite3_errcode(c->db), "read journal mode");
        }
        sqlite3_finalize(s);
    }
    if (rc != 0) {
        conn_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static int read_user_version(store_conn *c, int *version)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        int code = store_err(c, rc, "read schema version");
        sqlite3_finalize(s);
        return code;
    }
    *version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return 0;
}

/* Bring the schema to STORE_SCHEMA_VERSION, one transaction per step so a crash leaves
 * the file at a whole version. The version is re-read under the write lock because
 * another process may have migrated in the meantime. */
static int migrate(sotto_store *st)
{
    store_conn *c = st->writer;
    for (;;) {
        int rc = store_begin(c);
        if (rc)
            return rc;
        int version = 0;
        rc = read_user_version(c, &version);
        if (rc) {
            store_rollback(c);
            return rc;
        }
        if (version > STORE_SCHEMA_VERSION) {
            store_rollback(c);
            return error_set(SOTTO_ENOTSUP,
                             "store: '%s' has schema version %d, newer than this build of "
                             "sotto knows (%d); use a newer sotto",
                             st->path, version, STORE_SCHEMA_VERSION);
        }
        if (version < 0) {
            store_rollback(c);
            return error_set(SOTTO_EFORMAT, "store: '%s' has an invalid schema version %d",
                             st->path, version);
        }
        if (version == STORE_SCHEMA_VERSION) {
            store_rollback(c);
            st->schema_version = version;
            return 0;
        }
        char what[64];
        snprintf(what, sizeof what, "migrate schema to version %d", version + 1);
        rc = store_exec(c, migrations[version], what);
        if (rc == 0) {
            char sql[48];
            snprintf(sql, sizeof sql, "PRAGMA user_version=%d", version + 1);
            rc = store_exec(c, sql, what);
        }
        if (rc == 0)
            rc = store_commit(c);
        if (rc) {
            store_rollback(c);
            return rc;
        }
    }
}

int store_open_readers(const char *location, size_t max_readers, sotto_store **out)
{
    if (!location || !out)
        return error_set(SOTTO_EINVAL, "store: no location given");
    *out = NULL;
    if (max_readers < 1 || max_readers > STORE_MAX_READERS)
        return error_set(SOTTO_EINVAL, "store: reader count must be 1..%d", STORE_MAX_READERS);
    if (strncmp(location, "sqlite:", 7) == 0)
        location += 7;
    else if (strstr(location, "://"))
        return error_set(SOTTO_ENOTSUP,
                         "store: '%s': only SQLite files are supported "
                         "(a path or sqlite:PATH)",
                         location);
    if (!*location || strcmp(location, ":memory:") == 0 || location[0] == ':')
        return error_set(SOTTO_EINVAL,
                         "store: '%s': give a database file path (an in-memory "
                         "database cannot be shared between connections)",
                         location);
    if (!sqlite3_threadsafe())
        return error_set(SOTTO_ENOTSUP, "store: this SQLite library is built without threads");
    sqlite3_initialize();

    sotto_store *st = calloc(1, sizeof *st);
    if (!st || !(st->path = str_dup(location))) {
        free(st);
        return error_set(SOTTO_ENOMEM, "store: out of memory");
    }
    st->max_readers = max_readers;
    pthread_mutex_init(&st->write_lock, NULL);
    pthread_mutex_init(&st->pool_lock, NULL);
    pthread_cond_init(&st->pool_cond, NULL);
    int rc = conn_open(st->path, 1, &st->writer);
    if (rc == 0)
        rc = migrate(st);
    if (rc) {
        sotto_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* Searches and listings are CPU-bound once the pages are cached, so readers beyond the
 * core count add memory (a page cache each) and no throughput: measured on 2 cores, 1 and
 * 8 readers served 4 searching threads equally (docs/store.md). */
int sotto_store_open(const char *location, sotto_store **out)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t readers = cores < 2 ? 2 : cores > STORE_MAX_READERS ? STORE_MAX_READERS : (size_t)cores;
    return store_open_readers(location, readers, out);
}

void sotto_store_close(sotto_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n_open; i++)
        conn_close(st->readers[i]);
    conn_close(st->writer); /* the last connection to close checkpoints the WAL */
    pthread_cond_destroy(&st->pool_cond);
    pthread_mutex_destroy(&st->pool_lock);
    pthread_mutex_destroy(&st->write_lock);
    free(st->path);
    free(st);
}

int sotto_store_schema_version(sotto_store *st)
{
    return st ? st->schema_version : 0;
}

int sotto_store_ping(sotto_store *st)
{
    if (!st)
        return error_set(SOTTO_EINVAL, "store: no store");
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    sqlite3_stmt *s = store_stmt(c, "SELECT count(*) FROM sqlite_schema");
    int rc = s ? sqlite3_step(s) : SQLITE_ERROR;
    int ret = s ? (rc == SQLITE_ROW ? 0 : store_err(c, rc, "ping")) : SOTTO_EIO;
    store_stmt_done(c, s);
    store_reader_done(st, c);
    return ret;
}

int store_durable(store_conn *c, int on)
{
    if (c->durable == on)
        return 0;
    /* outside a transaction: the setting applies to the commits that follow */
    int rc = store_exec(c, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                        "set synchronous");
    if (rc == 0)
        c->durable = on;
    return rc;
}

store_conn *store_writer(sotto_store *st)
{
    pthread_mutex_lock(&st->write_lock);
    return st->writer;
}

void store_writer_done(sotto_store *st)
{
    store_rollback(st->writer); /* a no-op unless an error path left a transaction open */
    store_durable(st->writer, 0);
    pthread_mutex_unlock(&st->write_lock);
}

store_conn *store_reader(sotto_store *st)
{
    pthread_mutex_lock(&st->pool_lock);
    while (st->n_idle == 0 && st->n_open >= st->max_readers)
        pthread_cond_wait(&st->pool_cond, &st->pool_lock);
    store_conn *c = NULL;
    if (st->n_idle > 0) {
        c = st->idle[--st->n_idle];
    } else {
        /* opening under the pool lock keeps n_open exact; it happens max_readers times */
        if (conn_open(st->path, 0, &c) == 0)
            st->readers[st->n_open++] = c;
        else
            c = NULL;
    }
    pthread_mutex_unlock(&st->pool_lock);
    return c;
}

void store_reader_done(sotto_store *st, store_conn *c)
{
    if (!c)
        return;
    store_rollback(c);
    pthread_mutex_lock(&st->pool_lock);
    st->idle[st->n_idle++] = c;
    pthread_cond_signal(&st->pool_cond);
    pthread_mutex_unlock(&st->pool_lock);
}

double store_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int store_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return error_set(SOTTO_EIO, "store: getrandom failed: %s", strerror(errno));
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

int store_new_id(const char *prefix, char out[SOTTO_ID_LEN])
{
    unsigned char bytes[16];
    int rc = store_random(bytes, sizeof bytes);
    if (rc)
        return rc;
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(prefix);
    SOTTO_ASSERT(n + 32 < SOTTO_ID_LEN);
    memcpy(out, prefix, n);
    for (size_t i = 0; i < sizeof bytes; i++) {
        out[n + 2 * i] = hex[bytes[i] >> 4];
        out[n + 2 * i + 1] = hex[bytes[i] & 15];
    }
    out[n + 32] = '\0';
    return 0;
}

int store_col_fixed(sqlite3_stmt *s, int col, char *dst, size_t size, int nullable)
{
    dst[0] = '\0';
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return nullable ? 0
                        : error_set(SOTTO_EFORMAT, "store: column '%s' is NULL in a row",
                                    sqlite3_column_name(s, col));
    const char *v = (const char *)sqlite3_column_text(s, col);
    if (!v)
        return error_set(SOTTO_ENOMEM, "store: out of memory reading a row");
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    if (n >= size)
        return error_set(SOTTO_EFORMAT, "store: column '%s' holds %zu bytes, more than %zu",
                         sqlite3_column_name(s, col), n, size - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return 0;
}

int store_col_dup(sqlite3_stmt *s, int col, char **dst)
{
    *dst = NULL;
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return 0;
    const char *v = (const char *)sqlite3_column_text(s, col);
    size_t n = (size_t)sqlite3_column_bytes(s, col);
    char *d = v ? malloc(n + 1) : NULL;
    if (!d)
        return error_set(SOTTO_ENOMEM, "store: out of memory reading a row");
    memcpy(d, v, n);
    d[n] = '\0';
    *dst = d;
    return 0;
}

int store_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    return v ? sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, idx);
}

int store_check_text(const char *v, size_t max, int nullable, const char *what)
{
    if (!v)
        return nullable ? 0 : error_set(SOTTO_EINVAL, "store: %s is missing", what);
    size_t n = strnlen(v, max);
    if (n >= max)
        return error_set(SOTTO_EINVAL, "store: %s is too long (at most %zu bytes)", what, max - 1);
    return 0;
}

int64_t store_count_words(const char *text)
{
    int64_t n = 0;
    int in_word = 0;
    for (const unsigned char *p = (const unsigned char *)text; p && *p; p++) {
        int space = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v';
        if (!space && !in_word)
            n++;
        in_word = !space;
    }
    return n;
}
