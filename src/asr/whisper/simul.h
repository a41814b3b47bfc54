/*
 * simul.h - AlignAtt simultaneous decoding for Whisper (inside libsotto only): the
 * backend side of asr_simul_* (src/asr/asr_int.h), policy in ../shared/docs/streaming.md.
 *
 * A whisper_simul is one stream's decoder: the tokens committed from its current audio
 * buffer, their attended frames, times and probabilities, the detected language, and
 * the words / partial text of its last update, and its own run state (encoder state,
 * KV cache, mel and attention scratch; made on its first update that runs the network),
 * so updates of different simul objects may run at the same time on different threads
 * (calls on ONE simul object must not overlap). What the simul objects of one recognizer
 * share is a whisper_simul_run: the step batcher through which their per-token decoder
 * steps run, batched when they coincide. It is made by the first whisper_simul_new on
 * the recognizer's slot (calls of whisper_simul_new on one slot must be serialized: asr.c
 * holds the recognizer's lock) and freed by the recognizer (whisper_simul_run_free)
 * after all its simul objects. Ownership: a simul borrows the model, tokenizer, options
 * and the shared run; words and partial handed out by an update are the simul's, valid
 * until its next call.
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
/* Decoder steps of the recognizer's simul objects that went through the batcher, and
 * the passes they took (steps / passes = mean batch; tests and benchmarks). */
void whisper_simul_run_counts(whisper_simul_run *r, uint64_t *n_steps, uint64_t *n_passes);

/* A simul object over the recognizer's model/tokenizer/options; *run is the recognizer's
 * shared run slot (filled by the first call). n_threads for the stream's forward pass. */
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
/* The same from running column statistics (simul.c's per-token path): row is head h's
 * values at row + h * head_stride; sum / sq are (n_heads, F) column sums of the values and
 * their squares over n_rows rows; z and avg are F floats of scratch. The argmax over
 * frames [0, n_crop). */
int whisper_simul_frame_of_row(const float *row, size_t head_stride, const double *sum, const double *sq,
                               int n_rows, int n_heads, int F, int n_crop, float *z, float *avg);

int whisper_simul_attended_frame(const float *attn, int n_heads, int n_rows, int n_frames, int row, int n_crop);

#endif
