/*
 * event_msgpack.h - a stream event (and the server's own small messages) as MessagePack,
 * the binary twin of sotto_stream_event_json for GET /v1/listen?encoding=msgpack.
 *
 * sotto_stream_event_msgpack is public (include/sotto/stream.h, next to
 * sotto_stream_event_json); the msgpack_put_* writers here are library-internal (the
 * server builds its ready/error/pong/done maps with them).
 */
#ifndef SOTTO_EVENT_MSGPACK_H
#define SOTTO_EVENT_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

#include "sotto/buf.h"
#include "sotto/stream.h"

/* MessagePack writers, each in the smallest form the value fits (fixmap/map16/map32,
 * fixarray/array16/array32, fixstr/str8/str16/str32, positive/negative fixint and
 * (u)int8..64, float64, nil, bool). They return 0 or SOTTO_ENOMEM and, like the buffer's
 * own appends, fail for good once one failed (sotto/buf.h): a run of writes needs only
 * its last result checked. */
int msgpack_put_map(sotto_buf *b, uint32_t n_pairs);
int msgpack_put_array(sotto_buf *b, uint32_t n);
/* s NUL-terminated (NULL = ""); invalid UTF-8 becomes U+FFFD, as sotto_buf_json_string. */
int msgpack_put_str(sotto_buf *b, const char *s);
int msgpack_put_int(sotto_buf *b, int64_t v);
int msgpack_put_float(sotto_buf *b, double v); /* float64; non-finite -> nil (JSON null) */
int msgpack_put_bool(sotto_buf *b, int v);
int msgpack_put_nil(sotto_buf *b);

#endif
