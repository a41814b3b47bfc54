/*
 * collect.c - the one loop that turns the rows of a list query into a caller-owned array
 * (jobs, sessions, messages, search hits all list this way).
 *
 * Also the one-row lookup by (id, user) that every "get" shares, and the paged list with
 * its total count (jobs and sessions list that way).
 *
 * Owns: stepping the statement, growing the array (doubling, never beyond the query's
 * limit), and the error for a failed step. Does not: know any row type or filter: a read
 * callback fills one element from the current row, a bind callback binds a filter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "store/store_int.h"

int store_collect(store_conn *c, sqlite3_stmt *s, size_t limit, size_t elem_size,
                  store_read_fn read, const char *what, void **out, size_t *n)
{
    char *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0, step;
    while ((limit == 0 || count < limit) && (step = sqlite3_step(s)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            if (limit && ncap > limit)
                ncap = limit;
            char *grown = realloc(list, ncap * elem_size);
            if (!grown) {
                rc = error_set(SOTTO_ENOMEM, "store: out of memory listing %s", what);
                break;
            }
            list = grown;
            cap = ncap;
        }
        memset(list + count * elem_size, 0, elem_size);
        rc = read(s, list + count * elem_size);
        if (rc)
            break; /* the reader cleaned up its partial element */
        count++;
    }
    if (!rc && (limit == 0 || count < limit) && step != SQLITE_DONE)
        rc = store_err(c, step, what);
    if (count == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    *n = count;
    return rc;
}

int store_get_by_id(sotto_store *st, const char *sql, const char *id, int64_t user_id,
                    store_read_fn read, void *out, const char *what)
{
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    sqlite3_stmt *s = store_stmt(c, sql);
    int rc = SOTTO_EIO;
    if (s) {
        sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, user_id);
        int step = sqlite3_step(s);
        if (step == SQLITE_ROW)
            rc = read(s, out);
        else if (step == SQLITE_DONE)
            rc = error_set(SOTTO_ENOENT, "store: no %s '%.40s'", what, id);
        else
            rc = store_err(c, step, what);
    }
    store_stmt_done(c, s);
    store_reader_done(st, c);
    return rc;
}

/* Run the count, then the page: inside one read transaction, so that the total and the
 * page come from the same snapshot even while writers commit in between. */
int store_list_page(sotto_store *st, const store_page_query *q, size_t limit, size_t offset,
                    void **out, size_t *n, size_t *total)
{
    *out = NULL;
    *n = 0;
    if (total)
        *total = 0;
    if (limit == 0)
        limit = 50;
    if (limit > 1000)
        limit = 1000;
    if (offset > INT64_MAX)
        return error_set(SOTTO_EINVAL, "store: offset too large");
    store_conn *c = store_reader(st);
    if (!c)
        return SOTTO_EIO;
    int rc = store_exec(c, "BEGIN", "begin read");
    sqlite3_stmt *s = NULL;
    if (!rc && total) {
        s = store_stmt(c, q->count_sql);
        rc = s ? 0 : SOTTO_EIO;
        if (s) {
            q->bind(s, q->filter);
            int step = sqlite3_step(s);
            if (step == SQLITE_ROW) {
                *total = (size_t)sqlite3_column_int64(s, 0);
            } else {
                char what[64];
                snprintf(what, sizeof what, "count %s", q->what);
                rc = store_err(c, step, what);
            }
            store_stmt_done(c, s);
        }
    }
    if (!rc) {
        s = store_stmt(c, q->rows_sql);
        rc = s ? 0 : SOTTO_EIO;
    }
    if (!rc) {
        q->bind(s, q->filter);
        sqlite3_bind_int64(s, q->limit_param, (sqlite3_int64)limit);
        sqlite3_bind_int64(s, q->limit_param + 1, (sqlite3_int64)offset);
        rc = store_collect(c, s, limit, q->elem_size, q->read, q->what, out, n);
        store_stmt_done(c, s);
    }
    store_reader_done(st, c);
    if (rc) {
        q->free_list(*out, *n); /* the rows read before the failure */
        *out = NULL;
        *n = 0;
    }
    return rc;
}
