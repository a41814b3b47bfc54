/*
 * listen_follow.c - `sotto listen --follow`: a WAV or raw PCM file that another program
 * is still writing, read as it grows until it stops growing for --idle seconds.
 *
 * The file is read with pread() at our own offset. A WAV header gives only the format (a
 * writer leaves its sizes 0 or garbage until it finishes), the data is whatever follows
 * the data chunk's header; once the writer rewrites the data size, that size is trusted.
 * The header's bytes are untrusted: every chunk size is checked in 64-bit arithmetic
 * against what was read and against FOLLOW_MAX_HEADER.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "listen_source_int.h"

#define FOLLOW_POLL_S 0.02          /* how often a followed file is checked for growth */
#define FOLLOW_MAX_HEADER (1 << 20) /* a data chunk must start within this many bytes */
#define FOLLOW_READ_BYTES 65536     /* bytes read per pread (about 2 s of 16 kHz s16) */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* Parse a WAV header from the first len bytes. 1: parsed; 0: incomplete (wait for more);
 * -1: not a WAV file or one sotto cannot follow (printed). */
static int wav_parse(listen_source *s, const uint8_t *b, size_t len)
{
    if (len < 12)
        return memcmp(b, "RIFF", len < 4 ? len : 4) == 0 ? 0 : -1;
    if (memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WAVE", 4) != 0)
        return -1;
    int64_t p = 12;
    int have_fmt = 0, tag = 0, channels = 0, bits = 0, align = 0;
    int64_t rate = 0;
    for (;;) {
        if (p + 8 > (int64_t)len) {
            if (len < FOLLOW_MAX_HEADER)
                return 0;
            cli_error("'%s': no WAV data chunk in the first %d bytes", s->path, FOLLOW_MAX_HEADER);
            return -2;
        }
        uint32_t size = le32(b + p + 4);
        const uint8_t *body = b + p + 8;
        if (memcmp(b + p, "data", 4) == 0) {
            if (!have_fmt) {
                cli_error("'%s': the WAV data chunk comes before its fmt chunk", s->path);
                return -2;
            }
            s->data_off = p + 8;
            s->size_at_open = size;
            break;
        }
        int64_t next = p + 8 + (int64_t)size + (size & 1);
        if (memcmp(b + p, "fmt ", 4) == 0) {
            if (size < 16 || size > 1024) {
                cli_error("'%s': the WAV fmt chunk has an invalid size (%u)", s->path, size);
                return -2;
            }
            if (p + 8 + (int64_t)size > (int64_t)len)
                return 0;
            tag = le16(body);
            channels = le16(body + 2);
            rate = le32(body + 4);
            align = le16(body + 12);
            bits = le16(body + 14);
            if (tag == 0xFFFE && size >= 26)
                tag = le16(body + 24); /* WAVE_FORMAT_EXTENSIBLE: the subformat's tag */
            have_fmt = 1;
        }
        if (next > FOLLOW_MAX_HEADER) {
            cli_error("'%s': no WAV data chunk in the first %d bytes", s->path, FOLLOW_MAX_HEADER);
            return -2;
        }
        p = next;
    }
    int fmt = -1;
    if (tag == 1 && bits == 8)
        fmt = AV_SAMPLE_FMT_U8;
    else if (tag == 1 && bits == 16)
        fmt = AV_SAMPLE_FMT_S16;
    else if (tag == 1 && (bits == 24 || bits == 32))
        fmt = AV_SAMPLE_FMT_S32;
    else if (tag == 3 && bits == 32)
        fmt = AV_SAMPLE_FMT_FLT;
    else if (tag == 3 && bits == 64)
        fmt = AV_SAMPLE_FMT_DBL;
    if (fmt < 0) {
        cli_error("'%s': --follow reads PCM WAV (8/16/24/32-bit integer or float), not format %d, "
                  "%d bits; "
                  "convert it or follow raw PCM with --raw s16le --rate N --channels N",
                  s->path, tag, bits);
        return -2;
    }
    if (channels < 1 || align != channels * (bits / 8)) {
        cli_error("'%s': inconsistent WAV header (%d channels, %d bits, block align %d)", s->path,
                  channels, bits, align);
        return -2;
    }
    s->pcm24 = bits == 24;
    s->block_align = align;
    s->is_wav = 1;
    snprintf(s->desc, sizeof s->desc, "wav, %lld Hz, %d ch, %d-bit (followed)", (long long)rate,
             channels, bits);
    return listen_conv_setup(s, fmt, rate > 768000 ? 0 : (int)rate, channels, s->path) ? -2 : 1;
}

/* Wait for the file to appear and (WAV) for its header to be complete. */
int listen_follow_open(listen_source *s, const listen_source_options *o)
{
    double start = listen_now_s();
    uint8_t *head = malloc(FOLLOW_MAX_HEADER);
    if (!head) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    int rc = 0;
    for (;;) {
        if (s->fd < 0) {
            s->fd = open(o->path, O_RDONLY | O_CLOEXEC);
            if (s->fd < 0 && errno != ENOENT) {
                cli_error("cannot open '%s': %s", o->path, strerror(errno));
                rc = EXIT_INPUT;
                break;
            }
        }
        if (s->fd >= 0) {
            struct stat st;
            if (fstat(s->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
                cli_error("cannot follow '%s': not a regular file", o->path);
                rc = EXIT_INPUT;
                break;
            }
            if (o->audio.raw != SOTTO_RAW_NONE)
                break; /* raw PCM starts at byte 0: nothing to wait for */
            ssize_t n = pread(s->fd, head, FOLLOW_MAX_HEADER, 0);
            int pr = n < 0 ? -2 : wav_parse(s, head, (size_t)n);
            if (n < 0)
                cli_error("cannot read '%s': %s", o->path, strerror(errno));
            if (pr == 1)
                break;
            if (pr == -1) {
                cli_error("'%s' is not a WAV file; --follow reads WAV, or raw PCM with --raw s16le "
                          "--rate N --channels N",
                          o->path);
                rc = EXIT_INPUT;
                break;
            }
            if (pr == -2) {
                rc = EXIT_INPUT;
                break;
            }
        }
        if (listen_now_s() - start >= o->idle_s) {
            if (s->fd < 0)
                cli_error(
                    "'%s' did not appear within %.0f s (--idle); is the recorder writing there?",
                    o->path, o->idle_s);
            else
                cli_error("'%s' has no complete WAV header after %.0f s (--idle)", o->path,
                          o->idle_s);
            rc = EXIT_INPUT;
            break;
        }
        if (*o->stop) {
            cli_error("interrupted while waiting for '%s'", o->path);
            rc = EXIT_INTERRUPTED;
            break;
        }
        listen_sleep_s(FOLLOW_POLL_S * 5);
    }
    free(head);
    if (rc)
        return rc;
    if (o->audio.raw != SOTTO_RAW_NONE) {
        int s16 = o->audio.raw == SOTTO_RAW_S16LE;
        s->block_align = (s16 ? 2 : 4) * o->audio.raw_channels;
        snprintf(s->desc, sizeof s->desc, "raw %s, %d Hz, %d ch (followed)",
                 s16 ? "s16le" : "f32le", o->audio.raw_rate, o->audio.raw_channels);
        rc = listen_conv_setup(s, s16 ? AV_SAMPLE_FMT_S16 : AV_SAMPLE_FMT_FLT, o->audio.raw_rate,
                               o->audio.raw_channels, o->path);
        if (rc)
            return rc;
    } else {
        /* a finished file: the data size agrees exactly with the file's length */
        struct stat st;
        uint32_t sz = s->size_at_open;
        if (sz != 0 && sz != 0xFFFFFFFFu && fstat(s->fd, &st) == 0 &&
            s->data_off + (int64_t)sz == st.st_size)
            s->final_size = sz;
    }
    s->bytes = malloc(FOLLOW_READ_BYTES + (size_t)s->block_align);
    /* up to FOLLOW_READ_BYTES + a partial frame are converted at once: 4 bytes per sample */
    s->wide =
        s->pcm24 ? malloc(((size_t)FOLLOW_READ_BYTES + (size_t)s->block_align) / 3 * 4 + 4) : NULL;
    if (!s->bytes || (s->pcm24 && !s->wide)) {
        cli_error("out of memory");
        return EXIT_FAILURE_GENERIC;
    }
    s->last_growth = listen_now_s();
    return 0;
}

/* The writer rewrote the data size when it finished: trust it from then on. */
static void follow_check_final(listen_source *s)
{
    if (!s->is_wav || s->final_size >= 0)
        return;
    uint8_t b[4];
    if (pread(s->fd, b, 4, s->data_off - 4) != 4)
        return;
    uint32_t sz = le32(b);
    if (sz != s->size_at_open && sz != 0 && sz != 0xFFFFFFFFu && (int64_t)sz >= s->pos)
        s->final_size = sz;
}

/* Read appended bytes and convert whole frames; waits while the file does not grow. */
int listen_follow_fill(listen_source *s)
{
    while (!*s->stop) {
        int64_t room = FOLLOW_READ_BYTES;
        if (s->final_size >= 0 && s->final_size - s->pos < room)
            room = s->final_size - s->pos;
        ssize_t n =
            room > 0 ? pread(s->fd, s->bytes + s->blen, (size_t)room, s->data_off + s->pos) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("cannot read '%s': %s", s->path, strerror(errno));
            return EXIT_INPUT;
        }
        if (n > 0) {
            s->pos += n;
            s->blen += (size_t)n;
            s->last_growth = listen_now_s();
            size_t frames = s->blen / (size_t)s->block_align;
            size_t used = frames * (size_t)s->block_align;
            const uint8_t *in = s->bytes;
            if (s->pcm24) {
                for (size_t i = 0; i < used / 3; i++) {
                    const uint8_t *p = s->bytes + i * 3;
                    uint32_t v = (uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24;
                    memcpy(s->wide + i * 4, &v, 4);
                }
                in = s->wide;
            }
            int rc = frames ? listen_conv_run(s, in, (int)frames) : 0;
            memmove(s->bytes, s->bytes + used, s->blen - used);
            s->blen -= used;
            if (rc)
                return rc;
            if (s->olen > s->opos)
                return 0;
            continue;
        }
        follow_check_final(s);
        if (s->final_size >= 0 && s->pos >= s->final_size)
            break;
        if (listen_now_s() - s->last_growth >= s->idle_s)
            break;
        listen_sleep_s(FOLLOW_POLL_S);
    }
    s->ended = 1;
    return listen_conv_run(s, NULL, 0); /* the resampler's tail */
}
