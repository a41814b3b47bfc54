/*
 * simul.h - AlignAtt simultaneous decoding for Whisper (inside libsotto only): the
 * backend side of asr_simul_* (src/asr/asr_int.h), policy in ../shared/docs/streaming.md.
 *
 * A whisper_simul is one stream's decoder: the tokens committed from its current audio
 * buffer, their attended frames, times and probabilities, the detected language, and
 * the words / partial text of its last update. The heavy run state (encoder state, one
 * KV cache, mel and attention scratch) is a whisper_simul_run shared by every simul
 * object of one recognizer: asr.c serializes their updates with the recognizer's lock,
 * and each update encodes and decodes its buffer from scratch, so nothing in the run
 * state outlives an update. The run is made on the first update (under the lock) and
 * freed by the recognizer (whisper_simul_run_free) after all its simul objects.
 * Ownership: a simul borrows the model, tokenizer, options and the run slot; words and
 * partial handed out by an update are the simul's, valid until its next call.
 */
#ifndef SOTTO_WHISPER_SIMUL_H
#define SOTTO_WHISPER_SIMUL_H

#include <stddef.h>
#include <stdint.h>

#include "asr/asr_int.h"
#include "asr/whisper/whisper_int.h"

#define WHISPER_SIMUL_MEDIAN 7        /* median filter width along frames */
#define WHISPER_SIMUL_REWIND 200      /* a backward jump of more frames discards the update */
#define WHISPER_SIMUL_CTX_SPARE 20    /* context + forced tokens <= n_text_ctx - 20 (428) */

typedef struct whisper_simul_run whisper_simul_run;
typedef struct whisper_simul whisper_simul;

void whisper_simul_run_free(whisper_simul_run *r); /* NULL is a no-op */

/* A simul object over the recognizer's model/tokenizer/options; *run is the recognizer's
 * shared run slot (NULL until the first update fills it). n_threads for the encoder. */
int whisper_simul_new(const whisper_model *m, const whisper_tokenizer *tk, const sotto_asr_options *opts,
                      int n_threads, whisper_simul_run **run, whisper_simul **out);
void whisper_simul_free(whisper_simul *s); /* NULL is a no-op */
int whisper_simul_update(whisper_simul *s, const asr_simul_call *call, asr_simul_out *out);
int whisper_simul_drop(whisper_simul *s, size_t n_samples);
void whisper_simul_reset(whisper_simul *s);

/*
 * The context tokens of a prompt: its tokenization, trimmed from the front to at most
 * max_tokens whole tokens, starting at a word (a token with a leading space) when the
 * kept tail holds one. *out malloc'd (NULL when *n == 0).
 */
int whisper_simul_context(const whisper_tokenizer *tk, const char *prompt, size_t max_tokens, int32_t **out,
                          size_t *n);

/*
 * Word grouping of committed tokens ids[0..n): token 0 and every token whose text
 * starts with a space begin a word. Returns how many leading tokens form complete words
 * (a word is complete once the token after it begins a new word; with final, all n),
 * and counts those words in *n_words.
 */
size_t whisper_simul_complete_words(const whisper_tokenizer *tk, const int32_t *ids, size_t n, int final,
                                    size_t *n_words);

/*
 * The attended frame of one token row (the pure core of AlignAtt): attn is the
 * alignment heads' softmaxed cross-attention (n_heads, n_rows, n_frames) of the tokens
 * of an update. Each frame column is z-normalized over the rows (population std; a
 * constant column becomes 0), each row median-filtered along frames (width 7, reflect
 * padding), the heads averaged, the frames cropped to n_crop; returns the argmax of row
 * `row` (first maximum), or -1 on bad arguments.
 */
int whisper_simul_attended_frame(const float *attn, int n_heads, int n_rows, int n_frames, int row, int n_crop);

#endif
