/*
 * policy_native.c - the `native` policy: the recognizer streams by itself.
 *
 * Voiced audio goes into a sotto_asr_stream (PocketSphinx decodes incrementally) for the
 * partials. At the utterance end the policy recognizes the whole utterance once more as
 * one buffer (asr_stream_transcribe: on the stream's own decoder, so streams sharing a
 * recognizer do not queue on its lock). What the live decoder's results lack, measured on
 * the 30 fixture utterances (290 words; each with 0.6 s noise before, 0.5 s after):
 * batch 5.2% WER; live first pass at the utterance end 8.3%, live final (second pass and
 * best path) 6.2%, with the live cepstral mean carried from the previous utterances (the
 * fixture voices alternate, so that mean is another speaker's). With the utterance's own
 * mean set before decoding (cmn_live_set, an oracle): first pass 6.9%, final 5.2%. So the
 * CMN costs about 1 point and the first pass alone (no second pass) about 1.7 more;
 * a mean from the utterance's first 0.9 / 2.0 s (first pass 32% / 10%), a running mean
 * updated every block (10%) or the model's -cmninit (20%) are all worse than carrying it.
 * Mid-utterance words from the first pass cannot match batch accuracy, hence the pass.
 * The extra pass costs about one batch recognition of the voiced audio.
 * Utterances longer than NATIVE_UTT_MAX_S keep the live decoder's finals, and so does
 * every utterance that ends while a threaded stream sheds load (options.shed_load: more
 * audio waits than the machine keeps up with; the extra passes are then skipped, about
 * half the stream's CPU, for the live decoder's WER); under shed_load, early commit's
 * prefix passes also pause while the stream is behind by more than one pass interval.
 * Early commit (native_set_early_commit, off by default): the recognizer is fed in blocks
 * of NATIVE_AGREE_S counted from the utterance start; after a block in which a word of the
 * first pass became committable (also inside the update that ends the utterance, so the
 * finals do not depend on how updates were batched: threaded == synchronous, unless
 * shed_load lets a stream that is behind skip passes) the utterance so far is recognized as
 * one buffer on a second decoder of the stream (a prefix pass: batch CMN, second pass,
 * best path) and its leading words that the first pass's current hypothesis
 * (asr_stream_partial_words) or the previous prefix pass also has (LocalAgreement-2,
 * la_skip / la_commit_count of policy_la.c) are published with the pass's times, except
 * words ending within NATIVE_EARLY_GAP_S of the audio fed; at the utterance end the
 * whole-utterance pass's words after the committed ones are published. A prefix pass runs
 * only when the first pass has an uncommitted word that could be committed, from
 * NATIVE_PASS_LEAD_S before the speech. Measured on the 8-utterance stream of
 * tests/unit/test_stream_native.c (Release, getrusage): WER 4.94% like the default (batch
 * 7.41% there), word latency in audio time mean 0.60 s, p95 0.82 s (default 1.89 / 3.16 s);
 * CPU 0.62-0.64 s per audio second against 0.2-0.25 for the default (the prefix passes'
 * cost grows with the square of an utterance's length), which is why it stays off by
 * default.
 * Committing first-pass words by agreement of consecutive first-pass readings alone gave
 * WER 12.3% there (errors the first pass keeps to the utterance end).
 * The partial is the hypothesis after the committed words. Words need the recognizer
 * created with options.word_timestamps = 1 for the end-of-utterance finals; without them
 * a final's words are its text split at spaces with times spread evenly over the segment.
 * The recognizer stream counts only the samples fed to it (silence is never fed), so
 * times are mapped back to stream time per utterance (an utterance is contiguous audio).
 */
#include <stdlib.h>
#include <string.h>

#include "asr/asr_int.h"
#include "base/base_int.h"
#include "stream/stream_int.h"

/* Early commit: the block the recognizer is fed in, and the least distance of a committed
 * word's end from the audio fed (the stream's word_gap_s when larger). With the prefix
 * passes deciding, the gap matters little for WER (8-utterance stream, live sphinx
 * settings: 6.17% at 0.2, 0.3 and 0.5 s) and directly for latency (mean 0.68 / 0.70 /
 * 0.86 s in audio time); 0.3 keeps a margin over the word-boundary rule. */
#define NATIVE_AGREE_S 0.2
#define NATIVE_EARLY_GAP_S 0.3
#define NATIVE_BLOCK 3200 /* NATIVE_AGREE_S at 16 kHz */
#define NATIVE_UTT_MAX_S 60 /* utterance audio kept for the final whole-utterance pass */
/* Early commit: when prefix passes run. A pass runs once a word of the first pass became
 * eligible (ends NATIVE_EARLY_GAP_S before the audio fed) that was not at the last pass,
 * at most every NATIVE_PASS_MIN_BLOCKS blocks, and again after NATIVE_PASS_BLOCKS blocks
 * while eligible words stay uncommitted (the pass and the first pass disagreed).
 * 8-utterance stream (tests/unit/test_stream_native.c, audio time): a pass every 3
 * blocks whenever a word was eligible: latency mean 0.70 s, p95 1.07, CPU 0.57 s per
 * audio s; on a new eligible word, at most every block: 0.51 / 0.73 s, 0.86; at most every
 * 2 blocks: 0.59 / 0.82 s, 0.74 (WER 4.94% in all three). Over the server the passes'
 * compute adds to the latency, so the cheaper setting wins there (60 s stream: 0.96 s
 * mean against 0.99 and 1.12). Blocks of 0.1 s: 0.43 s in audio time, but at 0.97 CPU the
 * worker saturates over the server (1.09 s). A pass that starts at the last committed word
 * instead of the utterance start (LM history and CMN over a fragment) cost 2.5 points of
 * WER for 6% less CPU; with 2 s of context before it, no WER cost and 4% less CPU. */
#define NATIVE_PASS_MIN_BLOCKS 2
#define NATIVE_PASS_BLOCKS 3
/* Early commit under shed_load: prefix passes only buy latency, and a stream that is
 * already behind by more than one pass interval would lose more to their compute than
 * they gain, so it skips them until it has caught up (the whole-utterance pass still runs
 * until the backlog reaches max_backlog_s). */
#define NATIVE_PASS_MAX_BEHIND_S 0.6
/* Early commit: the audio a prefix pass gets before the VAD's speech start (the live
 * decoder and the whole-utterance pass get the whole pre-roll). Noise frames are costly to
 * search and the passes re-decode them every time: on the 8-utterance stream, CPU 0.78 ->
 * 0.62-0.64 s per audio s at the same WER (4.94%; 0.5 s: 6.17%, 0.2 s: 4.94-6.17%); 60 s
 * benchmark stream over the server, mean final-word latency 1.03 -> 0.91-0.92 s, WER 1.1 ->
 * 3.4% (the batch WER there; its finals then equal the batch words). */
#define NATIVE_PASS_LEAD_S 0.3

typedef struct native_state {
    sotto_asr_stream *as;
    int supported;     /* the recognizer gives words mid-utterance */
    int words_mid;     /* early commit: on and supported */
    int64_t fed;       /* samples fed to the recognizer stream in all */
    int utt_open;      /* the current utterance has fed audio */
    int64_t utt_fed0;  /* fed when the utterance began */
    double utt_t0;     /* its stream time */
    float pend[NATIVE_BLOCK]; /* early commit: audio waiting to complete a block */
    size_t n_pend;
    sotto_word *prev;  /* the last reading's uncommitted words (owned) */
    size_t n_prev;
    sotto_word tail[LA_TAIL]; /* the utterance's last committed words (owned) */
    size_t n_tail;
    double last_end;   /* end of the last committed word (stream time) */
    sotto_transcript finals;
    sotto_transcript hyp;
    float *utt;        /* the utterance's audio so far, for the final pass */
    size_t n_utt, cap_utt;
    int utt_whole;     /* utt holds the whole utterance (not cut by a cap or self-flush) */
    int utt_live_full; /* the live decoder runs its full search for this utterance */
    sotto_asr_stream *pass; /* early commit: decoder for the whole-prefix passes */
    int64_t n_blocks;  /* early commit: blocks fed in this utterance */
    int64_t pass_block; /* early commit: n_blocks at the last prefix pass */
    double elig_end;   /* early commit: end of the last first-pass word eligible then */
    sotto_transcript ptr; /* the last prefix pass */
} native_state;

static int native_create(sotto_stream *s, void **state)
{
    native_state *ns = calloc(1, sizeof *ns);
    if (!ns)
        return error_set(SOTTO_ENOMEM, "out of memory creating the native policy");
    int rc = sotto_asr_stream_new(s->asr, &ns->as);
    if (rc < 0) {
        free(ns);
        return rc;
    }
    ns->supported = asr_stream_partial_words_supported(s->asr);
    if (s->o.early_commit && !ns->supported) {
        sotto_asr_stream_free(ns->as);
        free(ns);
        return error_set(SOTTO_ENOTSUP, "early commit: the %s recognizer gives no words mid-utterance",
                         sotto_asr_backend_name(s->asr));
    }
    ns->words_mid = s->o.early_commit != 0;
    if (ns->words_mid && (rc = sotto_asr_stream_new(s->asr, &ns->pass)) < 0) {
        sotto_asr_stream_free(ns->as);
        free(ns);
        return rc;
    }
    ns->last_end = -1e9;
    sotto_transcript_init(&ns->ptr);
    sotto_transcript_init(&ns->finals);
    sotto_transcript_init(&ns->hyp);
    *state = ns;
    return 0;
}

static void native_destroy(void *state)
{
    native_state *ns = state;
    if (!ns)
        return;
    sotto_asr_stream_free(ns->as);
    sotto_asr_stream_free(ns->pass);
    sotto_transcript_free(&ns->ptr);
    sotto_transcript_free(&ns->finals);
    sotto_transcript_free(&ns->hyp);
    la_words_clear(ns->prev, ns->n_prev);
    free(ns->prev);
    la_words_clear(ns->tail, ns->n_tail);
    free(ns->utt);
    free(ns);
}

/* Words for a segment that came without them: its text split at spaces, times spread
 * evenly. *out is malloc'ed (words too); caller frees. */
static int split_words(const sotto_segment *seg, sotto_word **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    const char *p = seg->text ? seg->text : "";
    size_t n = 0;
    for (const char *q = p; *q;) {
        while (*q == ' ')
            q++;
        if (!*q)
            break;
        n++;
        while (*q && *q != ' ')
            q++;
    }
    if (n == 0)
        return 0;
    sotto_word *w = calloc(n, sizeof *w);
    if (!w)
        return error_set(SOTTO_ENOMEM, "out of memory splitting a final");
    double step = (seg->end - seg->start) / (double)n;
    size_t i = 0;
    for (const char *q = p; *q && i < n;) {
        while (*q == ' ')
            q++;
        const char *b = q;
        while (*q && *q != ' ')
            q++;
        w[i].word = malloc((size_t)(q - b) + 1);
        if (!w[i].word) {
            for (size_t k = 0; k < i; k++)
                free(w[k].word);
            free(w);
            return error_set(SOTTO_ENOMEM, "out of memory splitting a final");
        }
        memcpy(w[i].word, b, (size_t)(q - b));
        w[i].word[q - b] = '\0';
        w[i].start = seg->start + step * (double)i;
        w[i].end = w[i].start + step;
        w[i].probability = seg->confidence;
        i++;
    }
    *out = w;
    *n_out = n;
    return 0;
}

/* Publish n words (times already in stream time) as one final: remember the tail for the
 * repeat check and the last end. Start times are raised to the last committed end so
 * finals never go back in time (a word la_skip kept may start up to 0.1 s before it). */
static int commit(sotto_stream *s, native_state *ns, sotto_word *w, size_t n, const char *lang)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].start < ns->last_end)
            w[i].start = ns->last_end;
        if (w[i].end < w[i].start)
            w[i].end = w[i].start;
    }
    int rc = stream_emit_final(s, w, n, lang);
    if (rc == 0) {
        rc = la_tail_push(ns->tail, &ns->n_tail, w, n);
        if (rc < 0)
            return rc;
    }
    if (w[n - 1].end > ns->last_end)
        ns->last_end = w[n - 1].end;
    return rc;
}

/* Shift a segment's words by shift seconds (recognizer-fed time to stream time); a
 * segment without words gets its text split (*own, caller frees with la_words_clear + free). */
static int segment_words(sotto_segment *seg, double shift, sotto_word **w, size_t *n,
                         sotto_word **own)
{
    *own = NULL;
    *w = seg->words;
    *n = seg->n_words;
    if (*n == 0) {
        int rc = split_words(seg, own, n);
        if (rc < 0)
            return rc;
        *w = *own;
    }
    for (size_t k = 0; k < *n; k++) {
        (*w)[k].start += shift;
        (*w)[k].end += shift;
    }
    return 0;
}

/* Publish the segments in ns->finals (words shifted by shift seconds into stream time),
 * only their words after the ones already committed from this utterance, then empty it. */
static int publish_segments(sotto_stream *s, native_state *ns, double shift)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < ns->finals.n_segments; i++) {
        sotto_segment *seg = &ns->finals.segments[i];
        sotto_word *w = NULL, *own = NULL;
        size_t n = 0;
        rc = segment_words(seg, shift, &w, &n, &own);
        if (rc == 0) {
            size_t skip = la_skip(ns->tail, ns->n_tail, w, n, ns->last_end);
            rc = commit(s, ns, w + skip, n - skip, seg->language);
        }
        la_words_clear(own, own ? n : 0);
        free(own);
    }
    sotto_transcript_free(&ns->finals);
    sotto_transcript_init(&ns->finals);
    return rc;
}

/* Publish the live decoder's finals (its utterance end, or one it made by itself). */
static int publish_finals(sotto_stream *s, native_state *ns)
{
    int rc = sotto_asr_stream_take_finals(ns->as, &ns->finals);
    if (rc < 0)
        return rc;
    return publish_segments(s, ns, ns->utt_t0 - (double)ns->utt_fed0 / STREAM_RATE);
}

/* Read the current hypothesis: *cur / *n_cur are its words after the committed ones
 * (views into ns->hyp, valid until the next reading). */
static int read_hyp(native_state *ns, sotto_word **cur, size_t *n_cur)
{
    sotto_transcript_free(&ns->hyp);
    sotto_transcript_init(&ns->hyp);
    *cur = NULL;
    *n_cur = 0;
    int rc = asr_stream_partial_words(ns->as, &ns->hyp);
    if (rc < 0 || ns->hyp.n_segments == 0)
        return rc;
    /* the sphinx stream gives one segment per reading */
    sotto_segment *seg = &ns->hyp.segments[ns->hyp.n_segments - 1];
    double shift = ns->utt_t0 - (double)ns->utt_fed0 / STREAM_RATE;
    for (size_t k = 0; k < seg->n_words; k++) {
        seg->words[k].start += shift;
        seg->words[k].end += shift;
    }
    size_t skip = la_skip(ns->tail, ns->n_tail, seg->words, seg->n_words, ns->last_end);
    *cur = seg->words + skip;
    *n_cur = seg->n_words - skip;
    return 0;
}

/* Where a prefix pass starts in the utterance's n samples: NATIVE_PASS_LEAD_S before the
 * VAD's speech start, not at the 1 s pre-roll's start (see NATIVE_PASS_LEAD_S). */
static size_t pass_from(const sotto_stream *s, const native_state *ns, size_t n)
{
    double skip = s->speech_t0 - NATIVE_PASS_LEAD_S - ns->utt_t0;
    size_t from = skip > 0 ? (size_t)(skip * STREAM_RATE) : 0;
    return from < n ? from : 0;
}

/* A whole-prefix pass: the utterance so far recognized as one buffer on the pass decoder
 * (batch CMN over the prefix, second pass and best path, which the first pass lacks).
 * *w / *n are its words after the committed ones (views into ns->ptr). */
static int prefix_pass(sotto_stream *s, native_state *ns, sotto_word **w, size_t *n)
{
    *w = NULL;
    *n = 0;
    sotto_transcript_free(&ns->ptr);
    sotto_transcript_init(&ns->ptr);
    size_t n_pre = (size_t)(ns->fed - ns->utt_fed0);
    if (n_pre > ns->n_utt)
        n_pre = ns->n_utt;
    size_t from = pass_from(s, ns, n_pre);
    sotto_asr_call call = {.prompt = NULL, .word_timestamps = 1};
    int rc = asr_stream_transcribe(ns->pass, &call, ns->utt + from, n_pre - from,
                                   ns->utt_t0 + (double)from / STREAM_RATE, &ns->ptr);
    /* a recognizer call, but its time is inside the update's, which native_update counts */
    stream_count_call(s, 0.0);
    if (rc < 0 || ns->ptr.n_segments == 0)
        return rc;
    sotto_segment *seg = &ns->ptr.segments[ns->ptr.n_segments - 1];
    size_t skip = la_skip(ns->tail, ns->n_tail, seg->words, seg->n_words, ns->last_end);
    *w = seg->words + skip;
    *n = seg->n_words - skip;
    return 0;
}

/* After each block: when due (NATIVE_PASS_MIN_BLOCKS above), a prefix pass; commit its
 * leading words that the first pass or the previous prefix pass also has, keep the rest of
 * it for the next agreement. more: another whole block of this batch follows; a stream
 * under shed_load then leaves the pass to the newest block (a pass on audio that is
 * already stale only delays the rest). */
static int agree(sotto_stream *s, native_state *ns, int more)
{
    ns->n_blocks++;
    /* (s->st.shedding is written only by this thread, the worker) */
    if (!ns->utt_whole || s->st.shedding ||
        (s->o.shed_load && (more || s->behind_s > NATIVE_PASS_MAX_BEHIND_S)))
        return 0;
    sotto_word *cur = NULL, *pw = NULL;
    size_t n_cur = 0, n_pw = 0;
    int rc = read_hyp(ns, &cur, &n_cur);
    if (rc < 0)
        return rc;
    double fed_end = ns->utt_t0 + (double)(ns->fed - ns->utt_fed0) / STREAM_RATE;
    double gap = s->o.word_gap_s > NATIVE_EARLY_GAP_S ? s->o.word_gap_s : NATIVE_EARLY_GAP_S;
    /* a pass is worth its cost only when the first pass has a word far enough from the
     * audio fed to be committed (none in the pre-roll, none during a long word), and
     * either that word was not eligible at the last pass (a new word to commit) or
     * NATIVE_PASS_BLOCKS went by (the last pass disagreed with the first) */
    size_t n_elig = 0;
    while (n_elig < n_cur && cur[n_elig].end <= fed_end - gap)
        n_elig++;
    if (n_elig == 0)
        return 0;
    double elig_end = cur[n_elig - 1].end;
    int64_t since = ns->n_blocks - ns->pass_block;
    int fresh = ns->pass_block == 0 || elig_end > ns->elig_end + 1e-6;
    if (ns->pass_block && (since < NATIVE_PASS_MIN_BLOCKS || (!fresh && since < NATIVE_PASS_BLOCKS)))
        return 0;
    ns->pass_block = ns->n_blocks;
    ns->elig_end = elig_end;
    rc = prefix_pass(s, ns, &pw, &n_pw);
    if (rc < 0 || n_pw == 0)
        return rc;
    /* the pass's leading words that the first pass or the previous pass also has */
    size_t k = la_commit_count(cur, n_cur, pw, n_pw, fed_end, gap, 0);
    size_t k2 = la_commit_count(ns->prev, ns->n_prev, pw, n_pw, fed_end, gap, 0);
    if (k2 > k)
        k = k2;
    rc = commit(s, ns, pw, k, ns->ptr.segments[ns->ptr.n_segments - 1].language);
    la_words_clear(ns->prev, ns->n_prev);
    free(ns->prev);
    ns->prev = NULL;
    ns->n_prev = 0;
    if (rc < 0)
        return rc;
    rc = la_words_copy(pw + k, n_pw - k, &ns->prev);
    if (rc == 0)
        ns->n_prev = n_pw - k;
    return rc;
}

/* The partial: the current hypothesis after the committed words. */
static int emit_rest(sotto_stream *s, native_state *ns, double end)
{
    sotto_word *cur = NULL;
    size_t n_cur = 0;
    int rc = read_hyp(ns, &cur, &n_cur);
    if (rc < 0)
        return rc;
    char *text = NULL;
    rc = la_words_join(cur, n_cur, &text);
    if (rc < 0)
        return rc;
    rc = stream_emit_partial(s, text, n_cur ? cur[0].start : end, end);
    free(text);
    return rc;
}

static int feed_block(sotto_stream *s, native_state *ns, const float *pcm, size_t m)
{
    int rc = sotto_asr_stream_feed(ns->as, pcm, m);
    ns->fed += (int64_t)m;
    /* the recognizer may end an overlong utterance by itself: its words are published
     * now, so the final pass would repeat them */
    double last_end = ns->last_end;
    if (rc == 0)
        rc = publish_finals(s, ns);
    if (ns->last_end != last_end)
        ns->utt_whole = 0;
    return rc;
}

/* Feed the buffer. Early commit feeds the recognizer in blocks of exactly NATIVE_AGREE_S
 * counted from the utterance start (the rest waits in pend) and reads the hypothesis after
 * each: the first pass's words depend on how the samples were split into calls (its live
 * cepstral mean), so fixed blocks make threaded and synchronous streams agree. */
static int feed(sotto_stream *s, native_state *ns, int final)
{
    if (!ns->words_mid)
        return s->buf_n ? feed_block(s, ns, s->buf, s->buf_n) : 0;
    int rc = 0;
    size_t off = 0;
    while (rc == 0 && off < s->buf_n) {
        size_t m = NATIVE_BLOCK - ns->n_pend;
        if (m > s->buf_n - off)
            m = s->buf_n - off;
        memcpy(ns->pend + ns->n_pend, s->buf + off, m * sizeof *ns->pend);
        ns->n_pend += m;
        off += m;
        if (ns->n_pend == NATIVE_BLOCK) {
            ns->n_pend = 0;
            rc = feed_block(s, ns, ns->pend, NATIVE_BLOCK);
            /* also in a final update: a threaded stream's worker may get a whole
             * utterance end in one batch, and it must commit what a synchronous one did */
            if (rc == 0)
                rc = agree(s, ns, s->buf_n - off >= NATIVE_BLOCK);
        }
    }
    if (rc == 0 && final && ns->n_pend > 0) {
        size_t m = ns->n_pend;
        ns->n_pend = 0;
        rc = feed_block(s, ns, ns->pend, m);
    }
    return rc;
}

/* The utterance ended: forget its agreement state (the context stays in the stream). */
static void utt_reset(native_state *ns)
{
    ns->utt_open = 0;
    ns->n_blocks = 0;
    ns->pass_block = 0;
    ns->elig_end = 0;
    la_words_clear(ns->prev, ns->n_prev);
    ns->n_prev = 0;
    la_words_clear(ns->tail, ns->n_tail);
    ns->n_tail = 0;
}

/* Keep the utterance's audio for the final pass (up to NATIVE_UTT_MAX_S; beyond it the
 * live decoder's finals are used). */
static void keep_audio(native_state *ns, const float *pcm, size_t n)
{
    if (!ns->utt_whole || n == 0)
        return;
    size_t max = (size_t)NATIVE_UTT_MAX_S * STREAM_RATE;
    if (ns->n_utt + n > max) {
        ns->utt_whole = 0;
        return;
    }
    if (ns->n_utt + n > ns->cap_utt) {
        size_t cap = ns->cap_utt ? ns->cap_utt : (size_t)STREAM_RATE * 4;
        while (cap < ns->n_utt + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        float *p = realloc(ns->utt, cap * sizeof *p);
        if (!p) { /* not fatal: the live decoder's finals are used */
            ns->utt_whole = 0;
            return;
        }
        ns->utt = p;
        ns->cap_utt = cap;
    }
    memcpy(ns->utt + ns->n_utt, pcm, n * sizeof *pcm);
    ns->n_utt += n;
}

/* The final pass: the whole utterance recognized as one buffer; its words after the ones
 * already committed (early commit) are published. The live decoder's finals are dropped. */
static int publish_whole(sotto_stream *s, native_state *ns)
{
    int rc = sotto_asr_stream_take_finals(ns->as, &ns->finals);
    sotto_transcript_free(&ns->finals);
    sotto_transcript_init(&ns->finals);
    if (rc < 0)
        return rc;
    sotto_asr_call call = {.prompt = NULL, .word_timestamps = 1};
    double t0 = time_now();
    rc = asr_stream_transcribe(ns->as, &call, ns->utt, ns->n_utt, ns->utt_t0, &ns->finals);
    stream_count_call(s, time_now() - t0); /* a second recognizer call for this utterance */
    if (rc < 0)
        return rc;
    return publish_segments(s, ns, 0.0); /* the pass was given stream time already */
}

static int native_update(sotto_stream *s, void *state, int final)
{
    native_state *ns = state;
    int rc = 0;
    /* (early commit: at the end, audio short of a block may wait with an empty buffer) */
    if (s->buf_n > 0 || (final && ns->n_pend > 0)) {
        if (!ns->utt_open) {
            ns->utt_open = 1;
            ns->utt_fed0 = ns->fed;
            ns->utt_t0 = s->buf_t0;
            ns->n_utt = 0;
            ns->utt_whole = 1;
            /* the live decoder's finals are published for a shed utterance; otherwise the
             * whole-utterance pass gives them and the live second pass would be wasted.
             * Decided at the start; an utterance that starts unshed and ends shed still
             * gets the pass (its live finals are the first pass's alone: on the e2e
             * 48 kHz stream, sent faster than real time, 5 words of 38 wrong instead of
             * 2); only one too long for the pass publishes first-pass finals. */
            ns->utt_live_full = s->st.shedding;
            rc = asr_stream_want_finals(ns->as, ns->utt_live_full);
        }
        keep_audio(ns, s->buf, s->buf_n);
        double t0 = time_now();
        const char *partial = NULL;
        if (rc == 0)
            rc = feed(s, ns, final);
        if (rc == 0 && !final && !ns->words_mid)
            rc = sotto_asr_stream_partial(ns->as, &partial);
        double end = s->buf_t0 + (double)s->buf_n / STREAM_RATE;
        if (rc == 0 && !final && ns->words_mid)
            rc = emit_rest(s, ns, end);
        stream_count_call(s, time_now() - t0);
        stream_buf_drop(s, s->buf_n);
        if (rc == 0 && partial)
            rc = stream_emit_partial(s, partial, ns->utt_t0, end);
    }
    if (rc == 0 && final) {
        double t0 = time_now();
        rc = sotto_asr_stream_flush(ns->as);
        if (ns->utt_open)
            stream_count_call(s, time_now() - t0);
        int whole = ns->utt_open && ns->utt_whole && ns->n_utt > 0;
        if (whole && s->st.shedding && ns->utt_live_full) { /* behind: the live finals */
            whole = 0;
            pthread_mutex_lock(&s->lock);
            s->st.shed_utterances++;
            pthread_mutex_unlock(&s->lock);
        }
        if (rc == 0)
            rc = whole ? publish_whole(s, ns) : publish_finals(s, ns);
        utt_reset(ns);
    }
    return rc;
}

int native_set_early_commit(sotto_stream *s, int on)
{
    if (!s || s->policy != &stream_policy_native || !s->pstate)
        return error_set(SOTTO_EINVAL, "early commit is an option of the native policy");
    native_state *ns = s->pstate;
    if (ns->utt_open || ns->fed > 0)
        return error_set(SOTTO_EINVAL, "early commit must be set before audio is fed");
    if (on && !ns->supported)
        return error_set(SOTTO_ENOTSUP, "the %s recognizer gives no words mid-utterance",
                         sotto_asr_backend_name(s->asr));
    /* the pass decoder now, not at the first pass: created mid-speech (0.9 s CPU when
     * the pool has none) it delayed the first utterance's words by as much */
    if (on && !ns->pass) {
        int rc = sotto_asr_stream_new(s->asr, &ns->pass);
        if (rc < 0)
            return rc;
    } else if (!on) {
        sotto_asr_stream_free(ns->pass); /* back to the pool */
        ns->pass = NULL;
    }
    ns->words_mid = on != 0;
    return 0;
}

const stream_policy_ops stream_policy_native = {
    .name = "native",
    .create = native_create,
    .destroy = native_destroy,
    .update = native_update,
};
