/*
 * source.c - byte sources for the audio reader: a file, standard input, or memory.
 *
 * Owns opening (and the one-line messages for a missing file, a directory, permission
 * denied, an empty file), reading, seeking and peeking. Standard input that is a pipe
 * cannot seek, so its first AUDIO_PEEK_BYTES are read ahead into a small buffer that
 * both the WAV header check and the later reads are served from. It does not interpret
 * the bytes: that is wav_header.c, decode.c and raw.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio_int.h"
#include "base/base_int.h"

static int open_errno(int e, const char *name)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return error_set(SOTTO_ENOENT, "cannot open '%s': no such file", name);
    case EACCES:
    case EPERM:
        return error_set(SOTTO_EACCES, "cannot open '%s': permission denied", name);
    case EISDIR:
        return error_set(SOTTO_EFORMAT, "'%s' is a directory, not an audio file", name);
    default:
        return error_set(SOTTO_EIO, "cannot open '%s': %s", name, strerror(e));
    }
}

/* Classify an open descriptor: regular files seek, pipes and devices do not. */
static int source_from_fd(audio_source *s, int fd, int own, const char *name)
{
    struct stat st;
    memset(s, 0, sizeof *s);
    s->name = name;
    s->fd = fd;
    s->own_fd = own;
    s->size = -1;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        source_close(s);
        return error_set(SOTTO_EIO, "cannot open '%s': %s", name, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        source_close(s);
        return error_set(SOTTO_EFORMAT, "'%s' is a directory, not an audio file", name);
    }
    if (S_ISREG(st.st_mode)) {
        s->seekable = 1;
        s->size = (int64_t)st.st_size;
        s->pos = 0; /* pread from the start, even for a redirected stdin read before */
        if (s->size <= 0) {
            source_close(s);
            return error_set(SOTTO_EFORMAT, "'%s' is empty", name);
        }
        return 0;
    }
    /* a pipe or device: read ahead so the header can be inspected without seeking */
    s->peek = malloc(AUDIO_PEEK_BYTES);
    if (!s->peek) {
        source_close(s);
        return error_set(SOTTO_ENOMEM, "out of memory opening '%s'", name);
    }
    while (s->peek_len < AUDIO_PEEK_BYTES) {
        ssize_t r = read(fd, s->peek + s->peek_len, AUDIO_PEEK_BYTES - s->peek_len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            source_close(s);
            return error_set(SOTTO_EIO, "cannot read '%s': %s", name, strerror(e));
        }
        if (r == 0)
            break;
        s->peek_len += (size_t)r;
    }
    if (s->peek_len == 0) {
        source_close(s);
        return error_set(SOTTO_EFORMAT, "'%s' is empty", name);
    }
    return 0;
}

int source_open_path(audio_source *s, const char *path, const char *name)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        memset(s, 0, sizeof *s);
        s->fd = -1;
        return open_errno(errno, name);
    }
    return source_from_fd(s, fd, 1, name);
}

int source_open_stdin(audio_source *s, const char *name)
{
    return source_from_fd(s, STDIN_FILENO, 0, name);
}

int source_open_memory(audio_source *s, const void *data, size_t size, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name;
    s->fd = -1;
    s->mem = data;
    s->size = (int64_t)size;
    s->seekable = 1;
    if (size == 0 || !data)
        return error_set(SOTTO_EFORMAT, "'%s' is empty", name);
    return 0;
}

void source_close(audio_source *s)
{
    if (s->own_fd && s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->own_fd = 0;
    free(s->peek);
    s->peek = NULL;
}

int64_t source_read(audio_source *s, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (s->mem) {
        int64_t left = s->size - s->pos;
        if (left <= 0)
            return 0;
        size_t k = (uint64_t)left < n ? (size_t)left : n;
        memcpy(buf, s->mem + s->pos, k);
        s->pos += (int64_t)k;
        s->n_bytes_read += (int64_t)k;
        return (int64_t)k;
    }
    if (s->peek_pos < s->peek_len) {
        size_t k = s->peek_len - s->peek_pos;
        if (k > n)
            k = n;
        memcpy(buf, s->peek + s->peek_pos, k);
        s->peek_pos += k;
        s->n_bytes_read += (int64_t)k;
        return (int64_t)k;
    }
    for (;;) {
        ssize_t r = s->seekable ? pread(s->fd, buf, n, (off_t)s->pos) : read(s->fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (!s->io_errno)
                s->io_errno = errno;
            return error_set(SOTTO_EIO, "cannot read '%s': %s", s->name, strerror(errno));
        }
        s->pos += r;
        s->n_bytes_read += r;
        return (int64_t)r;
    }
}

int64_t source_seek(audio_source *s, int64_t off, int whence)
{
    if (!s->seekable)
        return -1;
    int64_t base;
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = s->pos; break;
    case SEEK_END: base = s->size; break;
    default: return -1;
    }
    /* 64-bit arithmetic with an explicit overflow guard: offsets come from the file */
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -1;
    s->pos = base + off;
    return s->pos;
}

size_t source_peek(audio_source *s, int64_t off, void *buf, size_t n)
{
    if (off < 0)
        return 0;
    if (s->mem) {
        if (off >= s->size)
            return 0;
        int64_t left = s->size - off;
        size_t k = (uint64_t)left < n ? (size_t)left : n;
        memcpy(buf, s->mem + off, k);
        return k;
    }
    if (s->seekable) {
        size_t got = 0;
        while (got < n) {
            ssize_t r = pread(s->fd, (uint8_t *)buf + got, n - got, (off_t)(off + (int64_t)got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        return got;
    }
    if ((uint64_t)off >= s->peek_len)
        return 0;
    size_t k = s->peek_len - (size_t)off;
    if (k > n)
        k = n;
    memcpy(buf, s->peek + off, k);
    return k;
}
