/*
 * wav_write.c - writes float samples as a 16-bit PCM mono WAV file (tests and tools).
 *
 * Samples are clamped to [-1, 1] and rounded; a NaN becomes silence. The file is
 * written through a small fixed buffer, so any length streams out without a copy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio_int.h"
#include "base/base_int.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static int write_error(const char *path, int e)
{
    int code = e == ENOENT ? SOTTO_ENOENT : e == EACCES || e == EPERM ? SOTTO_EACCES : SOTTO_EIO;
    return error_set(code, "cannot write '%s': %s", path, strerror(e));
}

int sotto_audio_write_wav(const char *path, const float *pcm, size_t n_samples, int sample_rate)
{
    if (!path || (!pcm && n_samples > 0))
        return error_set(SOTTO_EINVAL, "sotto_audio_write_wav: no path or samples");
    if (sample_rate <= 0)
        return error_set(SOTTO_EINVAL, "cannot write '%s': sample rate %d Hz", path, sample_rate);
    /* the RIFF size field is 32 bits: data plus 36 header bytes must fit */
    if ((uint64_t)n_samples * 2 > 0xFFFFFFFFull - 36)
        return error_set(SOTTO_EINVAL, "cannot write '%s': %zu samples do not fit in a WAV file",
                         path, n_samples);
    uint32_t data_bytes = (uint32_t)(n_samples * 2);
    uint8_t h[44];
    memcpy(h, "RIFF", 4);
    put_u32(h + 4, 36 + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_u32(h + 16, 16);
    put_u16(h + 20, 1); /* PCM */
    put_u16(h + 22, 1); /* mono */
    put_u32(h + 24, (uint32_t)sample_rate);
    put_u32(h + 28, (uint32_t)sample_rate * 2);
    put_u16(h + 32, 2);
    put_u16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_u32(h + 40, data_bytes);

    FILE *f = fopen(path, "wb");
    if (!f)
        return write_error(path, errno);
    int ok = fwrite(h, 1, sizeof h, f) == sizeof h;
    uint8_t block[8192];
    size_t i = 0;
    while (ok && i < n_samples) {
        size_t k = 0;
        for (; k < sizeof block / 2 && i < n_samples; k++, i++) {
            float x = pcm[i];
            if (!(x == x))
                x = 0;
            x = x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
            long v = lrintf(x * 32767.0f);
            put_u16(block + 2 * k, (unsigned)(v & 0xFFFF));
        }
        ok = fwrite(block, 2, k, f) == k;
    }
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        remove(path);
        return write_error(path, e ? e : EIO);
    }
    return 0;
}
