/*
 * upload.c - receiving a multipart/form-data upload: the body is streamed through the
 * multipart parser; the file part goes straight to <data>/uploads/<random>.upload (never
 * the client's name, which is kept for display only), under the size cap (413); the other
 * parts become small text fields. Afterwards the file is checked by content: known audio
 * or video container magic bytes (415 otherwise), not empty, and openable and decodable by
 * the audio module (422 with the decoder's reason, paths removed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

#include "base/base_int.h"
#include "server/multipart.h"
#include "server/server_int.h"
#include "sotto/audio.h"

#define MAX_FIELDS 64

typedef struct up_ctx {
    srv_req *r;
    upload *u;
    int fd;                 /* open file part, -1 otherwise */
    int in_file;            /* current part is the file */
    int file_seen;
    uint64_t file_bytes;
    unsigned char head[64]; /* first bytes of the file, for sniffing */
    size_t n_head;
    sotto_buf field;        /* current field's value */
    char field_name[64];
    int skip;               /* a file part other than "file": read and dropped */
    int too_large;          /* the reason a callback stopped the parser */
    int extra_file;
} up_ctx;

static int on_begin(void *user, const multipart_part *part)
{
    up_ctx *c = user;
    sotto_buf_reset(&c->field);
    snprintf(c->field_name, sizeof c->field_name, "%s", part->name);
    c->in_file = part->filename != NULL && !strcmp(part->name, "file");
    c->skip = part->filename != NULL && !c->in_file;
    if (!c->in_file)
        return 0;
    if (c->file_seen) {
        c->extra_file = 1;
        return error_set(SOTTO_EINVAL, "only one 'file' part is allowed");
    }
    c->file_seen = 1;
    /* the client's name, reduced to its last path component, for display only */
    const char *base = strrchr(part->filename, '/');
    base = base ? base + 1 : part->filename;
    const char *b2 = strrchr(base, '\\');
    base = b2 ? b2 + 1 : base;
    snprintf(c->u->client_name, sizeof c->u->client_name, "%s", base);
    char name[40];
    random_hex(name, 32);
    size_t n = strlen(c->r->srv->uploads_dir) + 48;
    c->u->path = malloc(n);
    if (!c->u->path)
        return error_set(SOTTO_ENOMEM, "out of memory");
    snprintf(c->u->path, n, "%s/%s.upload", c->r->srv->uploads_dir, name);
    c->fd = open(c->u->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (c->fd < 0) {
        free(c->u->path);
        c->u->path = NULL;
        return error_set(SOTTO_EIO, "cannot store the upload: %s", strerror(errno));
    }
    return 0;
}

static int on_data(void *user, const uint8_t *data, size_t len)
{
    up_ctx *c = user;
    if (c->skip)
        return 0;
    if (!c->in_file) {
        if (!c->field_name[0] || c->u->n_fields >= MAX_FIELDS)
            return 0;
        return sotto_buf_append(&c->field, data, len);
    }
    if (c->fd < 0)
        return 0;
    if (c->file_bytes + len > c->r->srv->opt.limits.max_upload_bytes) {
        c->too_large = 1;
        return error_set(SOTTO_ENOMEM, "upload over the limit");
    }
    if (c->n_head < sizeof c->head) {
        size_t k = sizeof c->head - c->n_head < len ? sizeof c->head - c->n_head : len;
        memcpy(c->head + c->n_head, data, k);
        c->n_head += k;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(c->fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return error_set(SOTTO_EIO, "cannot store the upload: %s", strerror(errno));
        off += (size_t)w;
    }
    c->file_bytes += len;
    return 0;
}

static int on_end(void *user)
{
    up_ctx *c = user;
    if (c->in_file) {
        if (c->fd >= 0 && close(c->fd) != 0) {
            c->fd = -1;
            return error_set(SOTTO_EIO, "cannot store the upload");
        }
        c->fd = -1;
        c->in_file = 0;
        return 0;
    }
    if (c->skip || c->u->n_fields >= MAX_FIELDS || !c->field_name[0])
        return 0;
    upload_field *f = &c->u->fields[c->u->n_fields];
    snprintf(f->name, sizeof f->name, "%s", c->field_name);
    f->value = str_dup(c->field.data ? c->field.data : "");
    if (!f->value)
        return error_set(SOTTO_ENOMEM, "out of memory");
    c->u->n_fields++;
    return 0;
}

/* Container signatures of the audio/video formats the decoder reads. */
static int looks_like_media(const unsigned char *h, size_t n)
{
    if (n >= 12 && !memcmp(h, "RIFF", 4) && (!memcmp(h + 8, "WAVE", 4) || !memcmp(h + 8, "AVI ", 4)))
        return 1;
    if (n >= 12 && !memcmp(h, "FORM", 4) && (!memcmp(h + 8, "AIFF", 4) || !memcmp(h + 8, "AIFC", 4)))
        return 1;
    if (n >= 4 && (!memcmp(h, "fLaC", 4) || !memcmp(h, "OggS", 4) || !memcmp(h, ".snd", 4) ||
                   !memcmp(h, "caff", 4) || !memcmp(h, "\x1a\x45\xdf\xa3", 4) || !memcmp(h, "RF64", 4)))
        return 1;
    if (n >= 3 && !memcmp(h, "ID3", 3))
        return 1;
    if (n >= 5 && !memcmp(h, "#!AMR", 5))
        return 1;
    if (n >= 8 && !memcmp(h + 4, "ftyp", 4)) /* mp4, m4a, mov, 3gp */
        return 1;
    if (n >= 2 && h[0] == 0xFF && (h[1] & 0xE0) == 0xE0) /* MPEG audio / ADTS frame sync */
        return 1;
    return 0;
}

/* Probe the stored file: it must open and yield samples. */
static int probe(srv_req *r, upload *u)
{
    sotto_audio *a = NULL;
    int rc = sotto_audio_open(u->path, NULL, &a);
    if (rc) {
        http_error(r, 422, "unprocessable_audio", "the upload cannot be decoded: %s", sotto_last_error());
        return -1;
    }
    u->duration_s = sotto_audio_duration(a);
    float pcm[4096];
    size_t got = 0;
    rc = sotto_audio_read(a, pcm, sizeof pcm / sizeof pcm[0], &got);
    sotto_audio_close(a);
    if (rc) {
        http_error(r, 422, "unprocessable_audio", "the upload cannot be decoded: %s", sotto_last_error());
        return -1;
    }
    if (got == 0) {
        http_error(r, 422, "unprocessable_audio", "the upload holds no audio samples");
        return -1;
    }
    return 0;
}

int upload_receive(srv_req *r, int require_file, upload *u)
{
    memset(u, 0, sizeof *u);
    u->duration_s = -1;
    sotto_server *s = r->srv;
    const char *ct = http_header(r, "Content-Type");
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    if (!ct || multipart_boundary(ct, boundary, sizeof boundary) != 0) {
        http_error(r, 400, "invalid_request",
                   "the request must be multipart/form-data with a 'file' part");
        return -1;
    }
    long long declared = r->ri->content_length;
    if (declared > 0 && (uint64_t)declared > s->opt.limits.max_upload_bytes + (1u << 20)) {
        http_error(r, 413, "payload_too_large", "the upload is over the limit of %zu bytes",
                   s->opt.limits.max_upload_bytes);
        return -1;
    }
    u->fields = calloc(MAX_FIELDS, sizeof *u->fields);
    if (!u->fields) {
        http_error(r, 500, "internal", "out of memory");
        return -1;
    }
    up_ctx c;
    memset(&c, 0, sizeof c);
    c.r = r;
    c.u = u;
    c.fd = -1;
    sotto_buf_init(&c.field, 1 << 20);
    multipart_callbacks cb = {on_begin, on_data, on_end, &c};
    multipart_limits lim = {MAX_FIELDS, 8192, 256 << 10};
    multipart_parser *mp = NULL;
    int rc = multipart_new(boundary, &lim, &cb, &mp);
    char *buf = rc ? NULL : malloc(65536);
    if (!rc && !buf)
        rc = error_set(SOTTO_ENOMEM, "out of memory");
    int read_failed = 0;
    while (!rc) {
        int k = mg_read(r->conn, buf, 65536);
        if (k < 0) {
            read_failed = 1;
            break;
        }
        if (k == 0) {
            rc = multipart_finish(mp);
            break;
        }
        rc = multipart_feed(mp, buf, (size_t)k);
    }
    free(buf);
    multipart_free(mp);
    sotto_buf_free(&c.field);
    if (c.fd >= 0)
        close(c.fd);
    if (c.too_large) {
        upload_clear(u, 1);
        http_error(r, 413, "payload_too_large", "the upload is over the limit of %zu bytes",
                   s->opt.limits.max_upload_bytes);
        return -1;
    }
    if (read_failed || rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", read_failed ? "could not read the request body" : sotto_last_error());
        upload_clear(u, 1);
        if (rc == SOTTO_EIO || rc == SOTTO_ENOMEM)
            http_error(r, 507, "insufficient_storage", "%s", msg);
        else
            http_error(r, 400, "invalid_request", "%s", msg);
        return -1;
    }
    if (!u->path) {
        if (!require_file)
            return 0;
        upload_clear(u, 1);
        http_error(r, 400, "invalid_request", "the request has no 'file' part (multipart field 'file')");
        return -1;
    }
    if (c.file_bytes == 0) {
        upload_clear(u, 1);
        http_error(r, 422, "unprocessable_audio", "the uploaded file is empty");
        return -1;
    }
    if (!looks_like_media(c.head, c.n_head)) {
        upload_clear(u, 1);
        http_error(r, 415, "unsupported_media_type",
                   "the uploaded file is not audio (supported: wav, flac, mp3, ogg/opus, m4a/mp4, "
                   "webm, aiff)");
        return -1;
    }
    if (probe(r, u) != 0) {
        upload_clear(u, 1);
        return -1;
    }
    return 0;
}

const char *upload_field_get(const upload *u, const char *name)
{
    for (size_t i = 0; i < u->n_fields; i++)
        if (!strcmp(u->fields[i].name, name))
            return u->fields[i].value;
    return NULL;
}

size_t upload_field_count(const upload *u, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < u->n_fields; i++)
        n += !strcmp(u->fields[i].name, name);
    return n;
}

const char *upload_field_at(const upload *u, const char *name, size_t idx)
{
    for (size_t i = 0; i < u->n_fields; i++)
        if (!strcmp(u->fields[i].name, name) && idx-- == 0)
            return u->fields[i].value;
    return NULL;
}

void upload_clear(upload *u, int remove_file)
{
    if (!u)
        return;
    if (remove_file && u->path)
        unlink(u->path);
    free(u->path);
    u->path = NULL;
    for (size_t i = 0; i < u->n_fields; i++)
        free(u->fields[i].value);
    free(u->fields);
    u->fields = NULL;
    u->n_fields = 0;
}
