/*
 * page.c - the limit/offset paging the list routes share (GET /v1/jobs, GET /v1/sessions,
 * and the paging parameters of GET /v1/search): ?limit= and ?offset= parsed with one set
 * of bounds, and the one list envelope
 *     {"object":"list","data":[...],"total":T,"limit":L,"offset":O,"has_more":B}
 * so every paged list answers in the same shape.
 *
 * Does not: query the store, or know what an item is (a callback writes each item).
 */
#include "server/server_int.h"

#define PAGE_MAX_LIMIT 1000
#define PAGE_MAX_OFFSET (1L << 30)

int page_parse(srv_req *r, long dflt_limit, srv_page *p)
{
    if (http_query_long(r, "limit", 1, PAGE_MAX_LIMIT, dflt_limit, &p->limit) ||
        http_query_long(r, "offset", 0, PAGE_MAX_OFFSET, 0, &p->offset))
        return -1;
    return 0;
}

int page_send(srv_req *r, const srv_page *p, const void *items, size_t n, size_t item_size,
              size_t total, page_item_fn put, const void *ctx)
{
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sotto_buf_putc(&b, ',');
        put(&b, (const char *)items + i * item_size, ctx);
    }
    /* offset <= 2^30 and n <= limit <= 1000: the sum cannot overflow a size_t */
    sotto_buf_printf(&b, "],\"total\":%zu,\"limit\":%ld,\"offset\":%ld,\"has_more\":%s}\n", total,
                     p->limit, p->offset, (size_t)p->offset + n < total ? "true" : "false");
    int st = b.data ? http_send_json(r, 200, &b) : http_error(r, 500, "internal", "out of memory");
    sotto_buf_free(&b);
    return st;
}
