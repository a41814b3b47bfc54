/*
 * wav_header.c - reads what a RIFF/WAVE header promises, before FFmpeg touches it.
 *
 * FFmpeg's WAV demuxer quietly clamps a data chunk that claims more bytes than the file
 * holds and rejects a zero sample rate with a generic "invalid data". sotto wants to say
 * exactly what is wrong ("has an invalid header: 0 channels", "is truncated: its header
 * promises 31.47 s ..."), so this file walks the chunk list itself. It only reads: every
 * size is checked with 64-bit arithmetic and a bounded number of chunks is visited.
 */
#include <string.h>

#include "audio_int.h"

#define WAV_MAX_CHUNKS 64
#define WAVE_FORMAT_EXTENSIBLE 0xFFFE

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int rd_u16(const uint8_t *p) { return p[0] | p[1] << 8; }

void wav_sniff(audio_source *s, wav_info *w)
{
    uint8_t h[40];
    memset(w, 0, sizeof *w);
    w->data_size = -1;
    if (source_peek(s, 0, h, 12) < 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0)
        return;
    int have_fmt = 0;
    int64_t off = 12;
    for (int i = 0; i < WAV_MAX_CHUNKS; i++) {
        if (source_peek(s, off, h, 8) < 8)
            break;
        int64_t size = (int64_t)rd_u32(h + 4);
        if (memcmp(h, "fmt ", 4) == 0) {
            size_t want = size < 40 ? (size_t)size : 40;
            if (want < 16 || source_peek(s, off + 8, h, want) < want)
                break;
            w->format_tag = rd_u16(h);
            w->channels = rd_u16(h + 2);
            w->rate = (int64_t)rd_u32(h + 4);
            w->block_align = rd_u16(h + 12);
            w->bits = rd_u16(h + 14);
            /* WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the GUID */
            if (w->format_tag == WAVE_FORMAT_EXTENSIBLE && want >= 26)
                w->format_tag = rd_u16(h + 24);
            have_fmt = 1;
        } else if (memcmp(h, "data", 4) == 0) {
            w->have_data = 1;
            /* Writers that stream to a pipe cannot know the length and write 0, ~0 or
             * "as large as possible" (sox: 0x7ffff000-ish); those promise nothing. */
            if (size > 0 && size < 0x7fff0000)
                w->data_size = size;
            break;
        }
        off += 8 + size + (size & 1); /* chunks are padded to even sizes */
    }
    w->is_wav = have_fmt;
}
