/*
 * fuzz_audio.c - libFuzzer target for the audio reader (containers, codecs, raw PCM).
 *
 * Opens the bytes with sotto_audio_open_memory() as a container file and reads to the
 * end, then reads them once more as raw PCM with options taken from the first byte.
 * Any crash, sanitizer report or leak is a bug; errors are expected and ignored.
 */
#include <stddef.h>
#include <stdint.h>

#include "sotto/audio.h"

/* Stop after this much output: a tiny input may legitimately expand to long audio. */
#define FUZZ_MAX_SAMPLES (60 * SOTTO_SAMPLE_RATE)

static void drain(const uint8_t *data, size_t size, const sotto_audio_options *opts)
{
    sotto_audio *a;
    if (sotto_audio_open_memory(data, size, "fuzz", opts, &a) != 0)
        return;
    (void)sotto_audio_duration(a);
    (void)sotto_audio_describe(a);
    static float pcm[4096];
    size_t got, total = 0;
    while (total < FUZZ_MAX_SAMPLES && sotto_audio_read(a, pcm, 4096, &got) == 0 && got > 0)
        total += got;
    sotto_audio_close(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drain(data, size, NULL);
    if (size > 0) {
        static const int rates[4] = {8000, 16000, 44100, 48000};
        sotto_audio_options raw = {(data[0] & 1) ? SOTTO_RAW_F32LE : SOTTO_RAW_S16LE,
                                   rates[(data[0] >> 1) & 3], 1 + ((data[0] >> 3) & 7)};
        drain(data, size, &raw);
    }
    return 0;
}
