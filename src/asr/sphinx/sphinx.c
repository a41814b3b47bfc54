/*
 * sphinx.c - the "sphinx" recognizer: CMU PocketSphinx (Debian's 0.8+5prealpha) with the
 * packaged US English model.
 *
 * Owns: the model-file checks (probe and create), PocketSphinx's logging (silenced; its
 * last error is kept per thread for our messages), decoder configuration, the float ->
 * int16 conversion, and turning a decoded utterance into one sotto_segment with word
 * times and posteriors. Streaming (and the pool of stream decoders) lives in
 * sphinx_stream.c.
 * Does not: split long input into utterances (the pipeline does), or recognize any
 * language but English.
 */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sphinxbase/err.h>

#include "asr/sphinx/sphinx_int.h"
#include "base/base_int.h"

#ifndef SOTTO_SPHINX_MODELDIR
#define SOTTO_SPHINX_MODELDIR "/usr/share/pocketsphinx/model"
#endif
#define SPHINX_DEFAULT_DIR SOTTO_SPHINX_MODELDIR "/en-us"
#define SPHINX_NEEDS "apt-get install pocketsphinx-en-us libpocketsphinx3"
#define SPHINX_CONVERT_BLOCK 4096 /* samples converted to int16 per ps_process_raw call */

/* ---- logging ------------------------------------------------------------------------ */

/* The last ERROR/FATAL line PocketSphinx wanted to print on this thread, for messages. */
static _Thread_local char sphinx_last_msg[256];
static pthread_once_t sphinx_log_once = PTHREAD_ONCE_INIT;

/* PocketSphinx logs dozens of INFO lines per decoder; users must see none of them.
 * A callback (rather than "-logfn /dev/null", which reopens and closes a global FILE on
 * every ps_init and so races between threads) drops everything but keeps errors. */
static void sphinx_log_cb(void *user, err_lvl_t level, const char *fmt, ...)
{
    if (level < ERR_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sphinx_last_msg, sizeof sphinx_last_msg, fmt, ap);
    va_end(ap);
    size_t len = strlen(sphinx_last_msg);
    while (len > 0 && (sphinx_last_msg[len - 1] == '\n' || sphinx_last_msg[len - 1] == ' '))
        sphinx_last_msg[--len] = '\0';
}

static void sphinx_log_install(void)
{
    err_set_logfp(NULL);
    err_set_callback(sphinx_log_cb, NULL);
}

static void sphinx_log_silence(void)
{
    pthread_once(&sphinx_log_once, sphinx_log_install);
    sphinx_last_msg[0] = '\0';
}

static const char *sphinx_reason(void)
{
    return sphinx_last_msg[0] ? sphinx_last_msg : "no detail";
}

/* ---- model files -------------------------------------------------------------------- */

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Fill st's paths from a model directory laid out like Debian's en-us one (en-us/ with
 * the acoustic model, en-us.lm.bin, cmudict-en-us.dict). On failure *missing names the
 * first file that is not there (static storage of the caller: missing_buf). */
static int model_paths(sphinx_state *st, const char *dir, char *missing, size_t missing_size)
{
    static const char *const hmm_files[] = {
        "mdef", "means", "variances", "transition_matrices", "noisedict", "feat.params"};
    int n1 = snprintf(st->hmm, sizeof st->hmm, "%s/en-us", dir);
    int n2 = snprintf(st->lm, sizeof st->lm, "%s/en-us.lm.bin", dir);
    int n3 = snprintf(st->dict, sizeof st->dict, "%s/cmudict-en-us.dict", dir);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof st->hmm || (size_t)n2 >= sizeof st->lm ||
        (size_t)n3 >= sizeof st->dict) {
        snprintf(missing, missing_size, "%s (path too long)", dir);
        return SOTTO_EINVAL;
    }
    for (size_t i = 0; i < sizeof hmm_files / sizeof hmm_files[0]; i++) {
        char path[SPHINX_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", st->hmm, hmm_files[i]);
        if (!is_file(path)) {
            snprintf(missing, missing_size, "%s", path);
            return SOTTO_ENOENT;
        }
    }
    /* mixture weights come either compressed (sendump) or plain */
    char sendump[SPHINX_PATH_MAX + 32], mixw[SPHINX_PATH_MAX + 32];
    snprintf(sendump, sizeof sendump, "%s/sendump", st->hmm);
    snprintf(mixw, sizeof mixw, "%s/mixture_weights", st->hmm);
    if (!is_file(sendump) && !is_file(mixw)) {
        snprintf(missing, missing_size, "%s", sendump);
        return SOTTO_ENOENT;
    }
    const char *others[] = {st->lm, st->dict};
    for (size_t i = 0; i < 2; i++) {
        if (!is_file(others[i])) {
            snprintf(missing, missing_size, "%s", others[i]);
            return SOTTO_ENOENT;
        }
    }
    return 0;
}

const char *sphinx_default_model_dir(void)
{
    return SPHINX_DEFAULT_DIR;
}

static void sphinx_probe(sotto_asr_backend_info *info)
{
    sphinx_state st;
    char missing[SPHINX_PATH_MAX + 64];
    if (model_paths(&st, SPHINX_DEFAULT_DIR, missing, sizeof missing) == 0) {
        info->available = 1;
        snprintf(info->needs, sizeof info->needs, "model %s", SPHINX_DEFAULT_DIR);
    } else {
        info->available = 0;
        snprintf(info->needs, sizeof info->needs, "%s (missing %.150s)", SPHINX_NEEDS, missing);
    }
}

/* ---- decoders ----------------------------------------------------------------------- */

/* Live decoders (streams) search with fewer active HMMs per frame (-maxhmmpf 3000, default
 * 30000) and score the top 3 Gaussians per codebook (-topn, default 4). Measured on the
 * 60 s benchmark stream (bench-stream, A/B in one process): -maxhmmpf 3000 alone 0.59x the
 * live pass's CPU, with -topn 2 0.45x (whole-utterance pass 0.44x), finals WER unchanged
 * (3.4%). -topn 2 was dropped for 3: the same speech resampled from 48 kHz lost 3 more
 * words of 38 with it (tests/e2e/listen_stream.sh), with 3 none. Tighter beams cost
 * accuracy (-beam 1e-40: 29% WER), -ds 2 too (13.5%), and a much smaller -maxhmmpf (100)
 * makes PocketSphinx 5prealpha divide by zero. At most 3 distinct words leave the search
 * per frame (-maxwpf, default unlimited): the 30 fixture utterances fed as a stream in 0.1 s
 * calls, live decoder alone: CPU 0.89x (min of interleaved runs, 0.116 against 0.131 s
 * per audio s), WER unchanged (7.24%, 290 words; 2 words per frame: the same, 1: 10.3%);
 * the stream tests' finals (native, early commit) and the 48 kHz e2e stream unchanged.
 * Batch decoding keeps the defaults. */
#define SPHINX_LIVE_MAXHMMPF 3000
#define SPHINX_LIVE_TOPN 3
#define SPHINX_LIVE_MAXWPF 3

/* A live decoder's searches. The second pass (fwdflat) runs at the utterance end over the
 * whole utterance and was 15% of a live decoder's CPU in a profile of 20 streams; a stream
 * that recognizes the utterance again anyway (the native policy's whole-utterance pass)
 * does not need it, so live decoders carry a search without it too. PocketSphinx makes
 * the acoustic model keep every frame of an utterance (which the second pass reads) when
 * the search made last has both passes, so the first-pass search is made first (as the
 * default) and the full one after it. One native stream over the server (60 s benchmark
 * stream, interleaved runs): 0.20-0.22 CPU s per audio s against 0.23-0.24 with the
 * second pass in every live utterance; making a decoder costs about 0.9 s CPU instead of
 * 0.4 (the second search's lexicon tree), paid once per pooled decoder. */
#define SPHINX_SEARCH_FULL "full"
#define SPHINX_SEARCH_FIRST "_default" /* the one ps_init makes (PS_DEFAULT_SEARCH, not public) */

int sphinx_decoder_new(const sphinx_state *st, int live, ps_decoder_t **out)
{
    sphinx_log_silence();
    cmd_ln_t *config =
        cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", st->hmm, "-lm", st->lm, "-dict", st->dict,
                    "-remove_silence", "no", "-bestpath", "yes", "-samprate", "16000", NULL);
    if (!config)
        return error_set(SOTTO_EBACKEND, "pocketsphinx: bad configuration: %s", sphinx_reason());
    if (live) {
        cmd_ln_set_int32_r(config, "-maxhmmpf", SPHINX_LIVE_MAXHMMPF);
        cmd_ln_set_int32_r(config, "-topn", SPHINX_LIVE_TOPN);
        cmd_ln_set_int32_r(config, "-maxwpf", SPHINX_LIVE_MAXWPF);
        cmd_ln_set_boolean_r(config, "-fwdflat", FALSE); /* the default search: first pass */
    }
    ps_decoder_t *ps = ps_init(config);
    cmd_ln_free_r(config); /* the decoder keeps its own reference */
    if (!ps)
        return error_set(SOTTO_EBACKEND, "pocketsphinx: cannot load the model in '%s': %s", st->hmm,
                         sphinx_reason());
    if (live) {
        /* the full search on the same language model, made from the decoder's own config */
        cmd_ln_set_boolean_r(ps_get_config(ps), "-fwdflat", TRUE);
        /* the search holds the model in a set of one (made by ngram_search_init): the new
         * search gets the model itself, as ps_init's did, not a set of that set */
        ngram_model_t *set = ps_get_lm(ps, SPHINX_SEARCH_FIRST);
        ngram_model_t *lm = set ? ngram_model_set_lookup(set, ngram_model_set_current(set)) : NULL;
        if (!lm || ps_set_lm(ps, SPHINX_SEARCH_FULL, lm) < 0 ||
            ps_set_search(ps, SPHINX_SEARCH_FULL) < 0) {
            ps_free(ps);
            return error_set(SOTTO_EBACKEND, "pocketsphinx: cannot add the two-pass search: %s",
                             sphinx_reason());
        }
    }
    *out = ps;
    return 0;
}

int sphinx_search(ps_decoder_t *ps, int full)
{
    /* (not ps_get_search to see whether it is set already: it leaks an iterator) */
    const char *name = full ? SPHINX_SEARCH_FULL : SPHINX_SEARCH_FIRST;
    if (ps_set_search(ps, name) < 0)
        return error_set(SOTTO_EBACKEND, "pocketsphinx: cannot switch to the '%s' search: %s", name,
                         sphinx_reason());
    return 0;
}

static int sphinx_create(const sotto_asr_options *opts, void **state, char *model_name,
                         size_t model_name_size)
{
    if (opts->language && *opts->language && strcmp(opts->language, "en") != 0 &&
        strcmp(opts->language, "auto") != 0)
        return error_set(SOTTO_ENOTSUP,
                         "the sphinx backend recognizes English only (language '%s' asked)",
                         opts->language);
    if (opts->translate)
        return error_set(SOTTO_ENOTSUP, "the sphinx backend cannot translate");
    sphinx_state *st = calloc(1, sizeof *st);
    if (!st)
        return error_set(SOTTO_ENOMEM, "out of memory loading pocketsphinx");
    int is_default = !opts->model_path || !*opts->model_path;
    const char *dir = is_default ? SPHINX_DEFAULT_DIR : opts->model_path;
    char missing[SPHINX_PATH_MAX + 64];
    int rc = model_paths(st, dir, missing, sizeof missing);
    if (rc < 0) {
        free(st);
        if (rc == SOTTO_ENOENT && is_default)
            return error_set(SOTTO_EUNAVAIL, "pocketsphinx model not found (%s); run '%s'", missing,
                             SPHINX_NEEDS);
        return error_set(rc, "pocketsphinx model directory '%s' is incomplete: missing %s", dir,
                         missing);
    }
    st->want_words = opts->word_timestamps;
    rc = sphinx_pool_init(&st->pool);
    if (rc < 0) {
        free(st);
        return rc;
    }
    rc = sphinx_decoder_new(st, 0, &st->ps);
    if (rc < 0) {
        sphinx_pool_free(&st->pool);
        free(st);
        return rc;
    }
    if (is_default)
        snprintf(model_name, model_name_size, "pocketsphinx en-us");
    else
        snprintf(model_name, model_name_size, "pocketsphinx %s", dir);
    *state = st;
    return 0;
}

static void sphinx_destroy(void *state)
{
    sphinx_state *st = state;
    if (!st)
        return;
    sphinx_pool_free(&st->pool);
    ps_free(st->ps);
    free(st);
}

int sphinx_utt_start(ps_decoder_t *ps)
{
    sphinx_log_silence();
    /* Segment frames are counted from the start of the "stream", and that count loses a
     * few frames at every utterance end; restarting the stream makes frame 0 the
     * utterance's first sample, so our own sample count places it. Channel estimates
     * (CMN) carry over. */
    if (ps_start_stream(ps) < 0 || ps_start_utt(ps) < 0)
        return error_set(SOTTO_EBACKEND, "pocketsphinx: cannot start an utterance: %s",
                         sphinx_reason());
    return 0;
}

int sphinx_feed(ps_decoder_t *ps, const float *pcm, size_t n, int full_utt)
{
    /* full_utt needs the whole utterance in one call: convert it all at once then */
    int16_t block[SPHINX_CONVERT_BLOCK];
    int16_t *whole = NULL;
    size_t step = SPHINX_CONVERT_BLOCK;
    if (full_utt) {
        whole = n < SIZE_MAX / sizeof *whole ? malloc(n * sizeof *whole + 1) : NULL;
        if (!whole)
            return error_set(SOTTO_ENOMEM, "out of memory converting %zu samples", n);
        step = n;
    }
    int16_t *dst = whole ? whole : block;
    for (size_t done = 0; done < n; done += step) {
        size_t m = n - done < step ? n - done : step;
        for (size_t i = 0; i < m; i++) {
            float x = pcm[done + i] * 32768.0f;
            /* NaN compares false both ways and becomes 0 */
            dst[i] = x >= 32767.0f    ? 32767
                     : x <= -32768.0f ? -32768
                     : x == x         ? (int16_t)lrintf(x)
                                      : 0;
        }
        if (ps_process_raw(ps, dst, m, FALSE, full_utt) < 0) {
            free(whole);
            return error_set(SOTTO_EBACKEND, "pocketsphinx: decoding failed: %s", sphinx_reason());
        }
    }
    free(whole);
    return 0;
}

/* ---- results ------------------------------------------------------------------------ */

/* <s>, </s>, <sil>, [NOISE], [SPEECH], ++GARBAGE++: not words anyone said. */
static int is_filler(const char *w)
{
    return !w || !*w || w[0] == '<' || w[0] == '[' || (w[0] == '+' && w[1] == '+');
}

/* Copy w without an alternate-pronunciation marker: "read(2)" -> "read". */
static char *word_base(const char *w)
{
    size_t len = strlen(w);
    if (len >= 3 && w[len - 1] == ')') {
        size_t i = len - 2;
        while (i > 0 && w[i] >= '0' && w[i] <= '9')
            i--;
        if (i > 0 && w[i] == '(' && i < len - 2)
            len = i;
    }
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, w, len);
        s[len] = '\0';
    }
    return s;
}

static void words_free(sotto_word *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(words[i].word);
    free(words);
}

int sphinx_collect(ps_decoder_t *ps, double t_utt, size_t n_fed, int want_words,
                   sotto_transcript *out)
{
    logmath_t *lmath = ps_get_logmath(ps);
    sotto_word *words = NULL;
    size_t n_words = 0, cap = 0, text_len = 0;
    double sum_p = 0.0, sum_logp = 0.0;
    double t_end_fed = t_utt + (double)n_fed / SPHINX_RATE;
    int rc = 0;

    for (ps_seg_t *seg = ps_seg_iter(ps); seg; seg = ps_seg_next(seg)) {
        const char *w = ps_seg_word(seg);
        if (is_filler(w))
            continue;
        if (n_words == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sotto_word *nw = realloc(words, ncap * sizeof *nw);
            if (!nw) {
                ps_seg_free(seg);
                rc = error_set(SOTTO_ENOMEM, "out of memory collecting words");
                goto done;
            }
            words = nw;
            cap = ncap;
        }
        sotto_word *dst = &words[n_words];
        dst->word = word_base(w);
        if (!dst->word) {
            ps_seg_free(seg);
            rc = error_set(SOTTO_ENOMEM, "out of memory collecting words");
            goto done;
        }
        n_words++;
        int sf = 0, ef = 0;
        int32 ascr = 0, lscr = 0, lback = 0;
        ps_seg_frames(seg, &sf, &ef);
        int32 post = ps_seg_prob(seg, &ascr, &lscr, &lback);
        double logp = logmath_log_to_ln(lmath, post);
        if (!(logp <= 0.0)) /* rounding can give a hair above 0; NaN too */
            logp = 0.0;
        double p = exp(logp);
        /* the last frame can reach past the samples fed (frames are padded): clamp */
        dst->start = t_utt + sf * SPHINX_FRAME_S;
        dst->end = t_utt + (ef + 1) * SPHINX_FRAME_S;
        if (dst->start > t_end_fed)
            dst->start = t_end_fed;
        if (dst->end > t_end_fed)
            dst->end = t_end_fed;
        if (dst->end < dst->start)
            dst->end = dst->start;
        dst->probability = (float)(p < 0.0 ? 0.0 : p > 1.0 ? 1.0 : p);
        sum_p += dst->probability;
        sum_logp += logp;
        text_len += strlen(dst->word) + 1;
    }
    if (n_words == 0)
        goto done; /* silence or only fillers: no segment */

    char *text = malloc(text_len);
    if (!text) {
        rc = error_set(SOTTO_ENOMEM, "out of memory building the transcript");
        goto done;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n_words; i++) {
        size_t len = strlen(words[i].word);
        if (i > 0)
            text[pos++] = ' ';
        memcpy(text + pos, words[i].word, len);
        pos += len;
    }
    text[pos] = '\0';

    sotto_segment seg = {0};
    seg.start = words[0].start;
    seg.end = words[n_words - 1].end;
    seg.text = text;
    memcpy(seg.language, "en", 3);
    seg.avg_logprob = (float)(sum_logp / (double)n_words);
    seg.confidence = (float)(sum_p / (double)n_words);
    seg.speaker = -1;
    if (want_words) {
        seg.words = words;
        seg.n_words = n_words;
    }
    rc = sotto_transcript_append(out, &seg);
    free(text);
    if (rc == 0 && !out->language[0])
        memcpy(out->language, "en", 3);
done:
    words_free(words, n_words);
    return rc;
}

int sphinx_decode_whole(ps_decoder_t *ps, const float *pcm, size_t n, double t_offset, int words,
                        sotto_transcript *out)
{
    int rc = sphinx_utt_start(ps);
    if (rc < 0)
        return rc;
    /* the whole buffer in one call: CMN over the whole utterance (the model's "batch"
     * mode), which recognizes noticeably better than the running estimate */
    rc = sphinx_feed(ps, pcm, n, TRUE);
    if (ps_end_utt(ps) < 0 && rc == 0)
        rc = error_set(SOTTO_EBACKEND, "pocketsphinx: cannot end the utterance: %s",
                       sphinx_reason());
    if (rc < 0)
        return rc;
    return sphinx_collect(ps, t_offset, n, words, out);
}

static int sphinx_transcribe(void *state, const sotto_asr_options *o, const float *pcm, size_t n,
                             double t_offset, sotto_transcript *out)
{
    sphinx_state *st = state;
    return sphinx_decode_whole(st->ps, pcm, n, t_offset, o->word_timestamps, out);
}

const asr_backend asr_backend_sphinx = {
    .name = "sphinx",
    .description = "CMU PocketSphinx (offline, English, embedded default)",
    .probe = sphinx_probe,
    .create = sphinx_create,
    .destroy = sphinx_destroy,
    .transcribe = sphinx_transcribe,
    .stream_new = sphinx_stream_new,
    .stream_free = sphinx_stream_free,
    .stream_feed = sphinx_stream_feed,
    .stream_partial = sphinx_stream_partial,
    .stream_flush = sphinx_stream_flush,
    .stream_take_finals = sphinx_stream_take_finals,
    .stream_partial_words = sphinx_stream_partial_words,
    .stream_transcribe = sphinx_stream_transcribe,
    .stream_warm = sphinx_stream_warm,
    .stream_want_finals = sphinx_stream_want_finals,
};
