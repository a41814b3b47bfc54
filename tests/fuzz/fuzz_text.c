/*
 * fuzz_text.c - libFuzzer target for text normalization and WER on arbitrary bytes
 * (transcripts and reference files are untrusted text), and for the transcript writers
 * fed a segment whose text is those bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sotto/sotto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) /* WER is O(n*m): keep each input fast */
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* split at the first newline: reference before, hypothesis after */
    char *hyp = strchr(text, '\n');
    if (hyp)
        *hyp++ = '\0';
    else
        hyp = text;
    free(sotto_text_normalize(text));
    sotto_wer w;
    (void)sotto_text_wer(text, hyp, &w);

    sotto_transcript t;
    sotto_transcript_init(&t);
    sotto_segment seg;
    memset(&seg, 0, sizeof seg);
    seg.start = size > 0 ? data[0] * 0.37 : 0;
    seg.end = seg.start + (size > 1 ? data[1] * 0.11 : 1);
    seg.text = hyp;
    seg.speaker = -1;
    if (sotto_transcript_append(&t, &seg) == 0) {
        sotto_buf b = SOTTO_BUF_INIT;
        for (unsigned f = SOTTO_FORMAT_TXT; f <= SOTTO_FORMAT_TSV; f <<= 1) {
            sotto_buf_reset(&b);
            (void)sotto_transcript_write(&t, (sotto_format)f, &b);
        }
        sotto_buf_free(&b);
    }
    sotto_transcript_free(&t);
    free(text);
    return 0;
}
