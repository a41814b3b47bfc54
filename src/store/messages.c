/*
 * messages.c - the messages of a session: append (seq assigned as max + 1 inside a
 * BEGIN IMMEDIATE transaction, so numbers are gap-free and ordered however many threads
 * or processes append) and list in seq order. The FTS index follows by trigger.
 */
#include <string.h>

#include "store_int.h"

void sotto_message_init(sotto_message *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    m->start_s = -1;
    m->end_s = -1;
    m->speaker = -1;
    m->confidence = -1;
}

void sotto_message_clear(sotto_message *m)
{
    if (!m)
        return;
    free(m->content);
    free(m->translations_json);
    free(m->speaker_name);
    free(m->metadata_json);
    sotto_message_init(m);
}

void sotto_message_list_free(sotto_message *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        sotto_message_clear(&list[i]);
    free(list);
}

static int read_message_row(sqlite3_stmt *s, void *elem)
{
    return store_read_message(s, 0, elem);
}

int store_read_message(sqlite3_stmt *s, int first, sotto_message *m)
{
    sotto_message_init(m);
    m->id = sqlite3_column_int64(s, first);
    m->seq = sqlite3_column_int64(s, first + 2);
    m->start_s = sqlite3_column_double(s, first + 7);
    m->end_s = sqlite3_column_double(s, first + 8);
    m->speaker = sqlite3_column_int(s, first + 9);
    m->confidence = sqlite3_column_double(s, first + 11);
    m->created_at = sqlite3_column_double(s, first + 13);
    int rc = store_col_fixed(s, first + 1, m->session_id, sizeof m->session_id, 0);
    if (!rc)
        rc = store_col_fixed(s, first + 3, m->role, sizeof m->role, 0);
    if (!rc)
        rc = store_col_dup(s, first + 4, &m->content);
    if (!rc && !m->content)
        rc = error_set(SOTTO_EFORMAT, "store: message %lld has no content", (long long)m->id);
    if (!rc)
        rc = store_col_fixed(s, first + 5, m->language, sizeof m->language, 1);
    if (!rc)
        rc = store_col_dup(s, first + 6, &m->translations_json);
    if (!rc)
        rc = store_col_dup(s, first + 10, &m->speaker_name);
    if (!rc)
        rc = store_col_dup(s, first + 12, &m->metadata_json);
    if (rc)
        sotto_message_clear(m);
    return rc;
}

static int check_message(const sotto_message *m)
{
    if (!memchr(m->role, '\0', sizeof m->role) ||
        (strcmp(m->role, "user") != 0 && strcmp(m->role, "assistant") != 0 &&
         strcmp(m->role, "system") != 0))
        return error_set(SOTTO_EINVAL, "store: message role must be user, assistant or system");
    if (!memchr(m->language, '\0', sizeof m->language))
        return error_set(SOTTO_EINVAL, "store: message language is not a terminated string");
    int rc = store_check_text(m->content, STORE_MAX_TEXT, 0, "message content");
    if (!rc)
        rc = store_check_text(m->translations_json, STORE_MAX_TEXT, 1, "message translations");
    if (!rc)
        rc = store_check_text(m->speaker_name, 256, 1, "speaker name");
    if (!rc)
        rc = store_check_text(m->metadata_json, STORE_MAX_TEXT, 1, "message metadata");
    return rc;
}

int messages_insert(store_conn *c, const char *session_id, int64_t user_id, sotto_message *m)
{
    int rc = check_message(m);
    if (rc)
        return rc;
    /* seq = max + 1 under the write lock: the UNIQUE (session_id, seq) index makes the
     * max a single b-tree probe */
    sqlite3_stmt *s = store_stmt(c, "SELECT coalesce(max(seq), 0) + 1 FROM messages "
                                    "WHERE session_id = ?");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, session_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    int64_t seq = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    store_stmt_done(c, s);
    if (step != SQLITE_ROW)
        return store_err(c, step, "next message number");

    double now = store_time();
    s = store_stmt(c, "INSERT INTO messages (session_id, user_id, seq, role, content, language,"
                      " translations_json, start_s, end_s, speaker, speaker_name, confidence,"
                      " metadata_json, words, created_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!s)
        return SOTTO_EIO;
    sqlite3_bind_text(s, 1, session_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, user_id);
    sqlite3_bind_int64(s, 3, seq);
    sqlite3_bind_text(s, 4, m->role, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, m->content, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, m->language, -1, SQLITE_TRANSIENT);
    store_bind_text(s, 7, m->translations_json);
    sqlite3_bind_double(s, 8, m->start_s);
    sqlite3_bind_double(s, 9, m->end_s);
    sqlite3_bind_int(s, 10, m->speaker);
    store_bind_text(s, 11, m->speaker_name);
    sqlite3_bind_double(s, 12, m->confidence);
    store_bind_text(s, 13, m->metadata_json);
    sqlite3_bind_int64(s, 14, store_count_words(m->content));
    sqlite3_bind_double(s, 15, now);
    step = sqlite3_step(s);
    rc = step == SQLITE_DONE ? 0 : store_err(c, step, "append message");
    if (rc == 0) {
        m->id = sqlite3_last_insert_rowid(c->db);
        m->seq = seq;
        m->created_at = now;
        snprintf(m->session_id, sizeof m->session_id, "%s", session_id);
    }
    store_stmt_done(c, s);
    return rc;
}

int sotto_store_message_append(sotto_store *st, int64_t user_id, sotto_message *m)
{
    if (!st || !m)
        return error_set(SOTTO_EINVAL, "store: message_append needs a store and a message");
    if (!memchr(m->session_id, '\0', sizeof m->session_id))
        return error_set(SOTTO_EINVAL, "store: message session id is not a terminated string");
    char session_id[SOTTO_ID_LEN];
    memcpy(session_id, m->session_id, sizeof session_id);
    store_conn *c = store_writer(st);
    int rc = store_begin(c);
    if (!rc)
        rc = sessions_check(c, user_id, session_id);
    if (!rc)
        rc = messages_insert(c, session_id, user_id, m);
    if (!rc)
        rc = store_commit(c);
    if (rc) {
        m->id = 0;
        m->seq = 0;
    }
    store_writer_done(st);
    return rc;
}

int sotto_store_message_list(sotto_store *st, int64_t user_id, const char *session_id,
                             int64_t after_seq, size_t limit, sotto_message **out, size_t *n)
{
    if (!st || !session_id || !out || !n)
        return error_set(SOTTO_EINVAL, "store: message_list needs a store, a session and outputs");
    *out = NULL;
    *n = 0;
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    int rc = store_exec(c, "BEGIN", "begin read");
    sqlite3_stmt *s = NULL;
    if (!rc)
        rc = sessions_check(c, user_id, session_id);
    sotto_message *list = NULL;
    size_t count = 0;
    if (!rc) {
        s = store_stmt(c, "SELECT " STORE_MESSAGE_COLS " FROM messages m "
                          "WHERE m.session_id = ? AND m.seq > ? ORDER BY m.seq LIMIT ?");
        rc = s ? 0 : SOTTO_EIO;
    }
    if (!rc) {
        sqlite3_bind_text(s, 1, session_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, after_seq);
        sqlite3_bind_int64(s, 3,
                           limit ? (sqlite3_int64)(limit > INT64_MAX ? INT64_MAX : limit) : -1);
        rc = store_collect(c, s, 0, sizeof *list, read_message_row, "messages", (void **)&list,
                           &count);
        store_stmt_done(c, s);
    }
    store_reader_done(st, c);
    if (rc) {
        sotto_message_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}
