/*
 * search.c - full-text search over a user's messages (FTS5, bm25 ranking, snippets).
 *
 * The user's query is never handed to FTS5 as query syntax: it is split into words and
 * "quoted phrases", each becomes an FTS5 string (in double quotes, inner quotes doubled),
 * and the strings are ANDed. So `NEAR(`, `OR`, `*`, `-`, `col:` and stray quotes are
 * searched as text (or dropped when they hold no letters or digits), never interpreted.
 */
#include <string.h>

#include "store_int.h"

#define SEARCH_MAX_QUERY 4096
#define SEARCH_MAX_TERMS 64

/* A token worth searching: it has a letter or digit (any non-ASCII byte counts, since
 * the unicode61 tokenizer indexes letters beyond ASCII). Punctuation-only tokens would
 * become empty phrases. */
static int has_word_char(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x80 || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
            (ch >= 'A' && ch <= 'Z'))
            return 1;
    }
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Build the FTS5 expression for a plain-text query into out (size cap bytes). Returns
 * the number of terms (0: nothing searchable) or a negative error. */
static int build_match(const char *query, char *out, size_t cap)
{
    size_t len = strnlen(query, SEARCH_MAX_QUERY + 1);
    if (len > SEARCH_MAX_QUERY)
        return error_set(SOTTO_EINVAL, "store: search query too long (at most %d bytes)",
                         SEARCH_MAX_QUERY);
    size_t o = 0;
    int terms = 0;
    size_t i = 0;
    while (i < len) {
        if (is_space(query[i])) {
            i++;
            continue;
        }
        size_t start, end;
        if (query[i] == '"') {
            start = ++i;
            while (i < len && query[i] != '"')
                i++;
            end = i;
            if (i < len)
                i++; /* closing quote */
        } else {
            start = i;
            while (i < len && !is_space(query[i]) && query[i] != '"')
                i++;
            end = i;
        }
        if (!has_word_char(query + start, end - start))
            continue;
        if (++terms > SEARCH_MAX_TERMS)
            return error_set(SOTTO_EINVAL, "store: search query has more than %d terms",
                             SEARCH_MAX_TERMS);
        /* worst case per token: space + 2 quotes + every byte doubled + NUL */
        if (o + 3 + 2 * (end - start) + 1 > cap)
            return error_set(SOTTO_EINVAL, "store: search query too long");
        if (o)
            out[o++] = ' ';
        out[o++] = '"';
        for (size_t k = start; k < end; k++) {
            if (query[k] == '"')
                out[o++] = '"';
            out[o++] = query[k];
        }
        out[o++] = '"';
    }
    out[o] = '\0';
    return terms;
}

void sotto_search_hits_free(sotto_search_hit *hits, size_t n)
{
    if (!hits)
        return;
    for (size_t i = 0; i < n; i++) {
        sotto_message_clear(&hits[i].message);
        free(hits[i].snippet);
    }
    free(hits);
}

/* One search hit: the message, its snippet ("" when FTS gives none) and the bm25 rank. */
static int read_hit(sqlite3_stmt *s, void *elem)
{
    sotto_search_hit *h = elem;
    int rc = store_read_message(s, 0, &h->message);
    if (!rc)
        rc = store_col_dup(s, STORE_MESSAGE_NCOLS, &h->snippet);
    if (!rc && !h->snippet && !(h->snippet = str_dup("")))
        rc = error_set(SOTTO_ENOMEM, "store: out of memory");
    h->rank = sqlite3_column_double(s, STORE_MESSAGE_NCOLS + 1);
    if (rc) {
        sotto_message_clear(&h->message);
        free(h->snippet);
        h->snippet = NULL;
    }
    return rc;
}

int sotto_store_search(sotto_store *st, int64_t user_id, const char *query, size_t limit,
                       size_t offset, sotto_search_hit **out, size_t *n)
{
    if (!st || !query || !out || !n)
        return error_set(SOTTO_EINVAL, "store: search needs a store, a query and outputs");
    *out = NULL;
    *n = 0;
    if (limit == 0)
        limit = 20;
    if (limit > 1000)
        limit = 1000;
    if (offset > INT32_MAX)
        return error_set(SOTTO_EINVAL, "store: search offset too large");
    size_t cap = 2 * SEARCH_MAX_QUERY + 4 * SEARCH_MAX_TERMS + 1;
    char *match = malloc(cap);
    if (!match)
        return error_set(SOTTO_ENOMEM, "store: out of memory");
    int terms = build_match(query, match, cap);
    if (terms <= 0) {
        free(match);
        return terms; /* 0: nothing searchable is an empty result, not an error */
    }
    store_conn *c = store_reader(st);
    if (!c) {
        free(match);
        return SOTTO_EIO;
    }
    sqlite3_stmt *s =
        store_stmt(c, "SELECT " STORE_MESSAGE_COLS ","
                      " snippet(messages_fts, 0, '[', ']', '\xe2\x80\xa6', 16),"
                      " bm25(messages_fts) AS score"
                      " FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                      " WHERE messages_fts MATCH ?1 AND m.user_id = ?2"
                      " ORDER BY score, m.id LIMIT ?3 OFFSET ?4");
    int rc = s ? 0 : SOTTO_EIO;
    sotto_search_hit *hits = NULL;
    size_t count = 0;
    if (!rc) {
        sqlite3_bind_text(s, 1, match, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, user_id);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)offset);
        rc = store_collect(c, s, limit, sizeof *hits, read_hit, "search results", (void **)&hits,
                           &count);
    }
    store_stmt_done(c, s);
    store_reader_done(st, c);
    free(match);
    if (rc) {
        sotto_search_hits_free(hits, count);
        return rc;
    }
    *out = hits;
    *n = count;
    return 0;
}
