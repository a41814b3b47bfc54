/*
 * langs.c - Whisper's language codes in the model's token order.
 *
 * Language token k (k = 0 .. n_langs-1) is <|code|> with code = whisper_lang_code(k);
 * the order is the one the published checkpoints were trained with (en first, yue last,
 * only in large-v3). This file owns the table and nothing else.
 */
#include <string.h>

#include "asr/whisper/whisper_int.h"

static const char *const LANG_CODES[] = {
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar",
    "sv", "it", "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu",
    "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa",
    "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn",
    "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc",
    "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn",
    "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw",
    "su", "yue",
};

#define N_LANG_CODES ((int)(sizeof LANG_CODES / sizeof LANG_CODES[0]))

/* 0 -> "en"; NULL outside the table (100 entries: 99 + yue). */
const char *whisper_lang_code(int index)
{
    if (index < 0 || index >= N_LANG_CODES)
        return NULL;
    return LANG_CODES[index];
}

/* Index of a code ("nl" -> 12), or -1 when the code is not a Whisper language. */
int whisper_lang_index(const char *code)
{
    if (!code)
        return -1;
    for (int i = 0; i < N_LANG_CODES; i++)
        if (strcmp(LANG_CODES[i], code) == 0)
            return i;
    return -1;
}
