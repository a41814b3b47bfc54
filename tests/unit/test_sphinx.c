/* test_sphinx.c - the PocketSphinx backend on synthesized speech: accuracy, word timing,
 * time offsets, silence, native and generic streaming (mid-utterance words too), errors,
 * and its real-time factor. */
#include <time.h>

#include "asr/asr_int.h"
#include "asr/sphinx/sphinx_int.h"
#include "base/base_int.h"
#include "check.h"
#include "check_audio.h"
#include "sotto/asr.h"
#include "sotto/audio.h"
#include "sotto/error.h"
#include "sotto/text.h"

#define RATE 16000

/* ---- helpers ------------------------------------------------------------------------ */

/* Word errors (S + D + I) between ref and hyp; *n_ref gets the reference length. */
static size_t word_errors(const char *ref, const char *hyp, size_t *n_ref)
{
    sotto_wer w;
    ASSERT_OK(sotto_text_wer(ref, hyp, &w));
    *n_ref = w.ref_words;
    return w.substitutions + w.deletions + w.insertions;
}

static sotto_asr *new_sphinx(int words)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.word_timestamps = words;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", &o, &asr));
    return asr;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Whole-buffer recognition of one fixture; caller frees the text. */
static char *recognize(sotto_asr *asr, const char *wav, double *audio_s, double *cpu_s)
{
    size_t n = 0;
    float *pcm = check_load_speech(wav, &n);
    sotto_transcript t;
    sotto_transcript_init(&t);
    double t0 = time_now();
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0.0, &t));
    if (cpu_s)
        *cpu_s += time_now() - t0;
    if (audio_s)
        *audio_s += (double)n / RATE;
    ASSERT_TRUE(t.n_segments <= 1);
    char *text = sotto_transcript_text(&t);
    ASSERT_TRUE(text != NULL);
    sotto_transcript_free(&t);
    free(pcm);
    return text;
}

/* Structural checks every sphinx segment must pass. */
static void check_segment(const sotto_segment *s, double t_min, double t_max)
{
    ASSERT_TRUE(s->text && *s->text);
    ASSERT_STR_EQ(s->language, "en");
    ASSERT_EQ(s->speaker, -1);
    ASSERT_TRUE(s->start >= t_min - 1e-9 && s->end <= t_max + 1e-9 && s->start < s->end);
    ASSERT_TRUE(s->confidence >= 0.0f && s->confidence <= 1.0f);
    ASSERT_TRUE(s->avg_logprob <= 0.0f);
    ASSERT_TRUE(s->tokens == NULL && s->n_tokens == 0);
    ASSERT_TRUE(!strchr(s->text, '(') && !strchr(s->text, '<') && !strchr(s->text, '['));
    ASSERT_TRUE(s->n_words > 0);
    double prev_end = s->start;
    for (size_t i = 0; i < s->n_words; i++) {
        const sotto_word *w = &s->words[i];
        ASSERT_TRUE(w->word && *w->word && !strchr(w->word, '('));
        ASSERT_TRUE(w->start >= prev_end - 1e-9 && w->end >= w->start);
        ASSERT_TRUE(w->start >= s->start - 1e-9 && w->end <= s->end + 1e-9);
        ASSERT_TRUE(w->probability >= 0.0f && w->probability <= 1.0f);
        ASSERT_STR_CONTAINS(s->text, w->word);
        prev_end = w->end;
    }
    ASSERT_NEAR(s->start, s->words[0].start, 1e-9);
}

/* asr's whole-buffer transcript of one fixture at t_offset, which must be one segment;
 * *n gets the fixture's sample count. Caller frees the transcript. */
static void transcribe_one(sotto_asr *asr, const char *wav, double t_offset, sotto_transcript *t,
                           size_t *n)
{
    float *pcm = check_load_speech(wav, n);
    sotto_transcript_init(t);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, *n, t_offset, t));
    ASSERT_EQ(t->n_segments, 1);
    free(pcm);
}

/* Feed a whole utterance to a stream and end it. */
static void stream_utterance(sotto_asr_stream *st, const float *pcm, size_t n)
{
    ASSERT_OK(sotto_asr_stream_feed(st, pcm, n));
    ASSERT_OK(sotto_asr_stream_flush(st));
}

/* ---- recognition -------------------------------------------------------------------- */

/* PocketSphinx 5prealpha's en-us model gets about 20-30% WER on these flite voices (a
 * broken front end or a wrong sample format gives near 100%), so: most words of most
 * utterances. */
TEST(recognizes_kal16_utterances)
{
    sotto_asr *asr = new_sphinx(0);
    size_t errors = 0, words = 0, n_good = 0, n_utts = 0;
    for (int i = 0; i < 24; i += 3) {
        char wav[64], txt[64];
        snprintf(wav, sizeof wav, "utt_%02d_kal16.wav", i);
        snprintf(txt, sizeof txt, "utt_%02d_kal16.txt", i);
        char *ref = check_fixture_text(txt);
        char *hyp = recognize(asr, wav, NULL, NULL);
        size_t n_ref = 0, e = word_errors(ref, hyp, &n_ref);
        fprintf(stderr, "%s: ref \"%s\"\n%*s  hyp \"%s\" (%zu/%zu errors)\n", wav, ref,
                (int)strlen(wav), "", hyp, e, n_ref);
        n_good += e * 10 <= n_ref * 2;
        n_utts++;
        errors += e;
        words += n_ref;
        free(ref);
        free(hyp);
    }
    ASSERT_EQ(n_utts, 8);
    ASSERT_TRUE(n_good >= 7);                 /* at most 20% errors on 7 of 8 sentences */
    ASSERT_TRUE(errors * 100 <= words * 12); /* kal16 measures ~7% here */
    sotto_asr_free(asr);
}

TEST(segment_and_word_fields_are_consistent)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    sotto_transcript t;
    transcribe_one(asr, "utt_06_kal16.wav", 0.0, &t, &n);
    check_segment(&t.segments[0], 0.0, (double)n / RATE);
    const sotto_segment *s = &t.segments[0];
    /* confidence is the mean word probability */
    double sum = 0;
    for (size_t i = 0; i < s->n_words; i++)
        sum += s->words[i].probability;
    ASSERT_NEAR(s->confidence, sum / (double)s->n_words, 1e-4);
    ASSERT_TRUE(s->confidence > 0.3f); /* clean synthetic speech: mostly confident */
    ASSERT_STR_EQ(t.language, "en");
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(words_only_when_requested)
{
    sotto_asr *asr = new_sphinx(0);
    size_t n = 0;
    sotto_transcript t;
    transcribe_one(asr, "utt_03_kal16.wav", 0.0, &t, &n);
    ASSERT_TRUE(t.segments[0].words == NULL && t.segments[0].n_words == 0);
    ASSERT_TRUE(t.segments[0].confidence > 0.0f); /* still scored */
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(first_word_starts_at_two_seconds)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    sotto_transcript t;
    transcribe_one(asr, "speech_at_2s.wav", 0.0, &t, &n);
    const sotto_segment *s = &t.segments[0];
    check_segment(s, 0.0, (double)n / RATE);
    fprintf(stderr, "first word '%s' at %.2f s, segment %.2f-%.2f \"%s\"\n", s->words[0].word,
            s->words[0].start, s->start, s->end, s->text);
    ASSERT_NEAR(s->words[0].start, 2.0, 0.2);
    ASSERT_NEAR(s->start, 2.0, 0.2);
    ASSERT_STR_CONTAINS(s->text, "report");
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(time_offset_shifts_all_times)
{
    sotto_asr *asr = new_sphinx(1); /* the same recognizer for both */
    size_t n = 0;
    sotto_transcript a, b;
    transcribe_one(asr, "speech_at_2s.wav", 0.0, &a, &n);
    transcribe_one(asr, "speech_at_2s.wav", 100.25, &b, &n);
    const sotto_segment *sa = &a.segments[0], *sb = &b.segments[0];
    ASSERT_STR_EQ(sa->text, sb->text);
    ASSERT_NEAR(sb->start, sa->start + 100.25, 1e-6);
    ASSERT_NEAR(sb->end, sa->end + 100.25, 1e-6);
    ASSERT_EQ(sa->n_words, sb->n_words);
    for (size_t i = 0; i < sa->n_words; i++) {
        ASSERT_NEAR(sb->words[i].start, sa->words[i].start + 100.25, 1e-6);
        ASSERT_NEAR(sb->words[i].end, sa->words[i].end + 100.25, 1e-6);
    }
    check_segment(sb, 100.25, 100.25 + (double)n / RATE);
    sotto_transcript_free(&a);
    sotto_transcript_free(&b);
    sotto_asr_free(asr);
}

TEST(silence_gives_no_segment)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    float *pcm = check_load_speech("silence_5s.wav", &n);
    ASSERT_EQ(n, 5 * RATE);
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0.0, &t));
    ASSERT_EQ(t.n_segments, 0);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, 0, 0.0, &t));  /* empty input */
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, 80, 0.0, &t)); /* 5 ms: less than a frame */
    ASSERT_EQ(t.n_segments, 0);
    sotto_transcript_free(&t);
    free(pcm);
    sotto_asr_free(asr);
}

TEST(clipped_and_nan_samples_do_not_crash)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = RATE;
    float *pcm = malloc(n * sizeof *pcm);
    for (size_t i = 0; i < n; i++)
        pcm[i] = i % 7 == 0 ? NAN : (i % 2 ? 50.0f : -50.0f) * (float)(i % 5);
    pcm[3] = INFINITY;
    pcm[4] = -INFINITY;
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0.0, &t));
    for (size_t i = 0; i < t.n_segments; i++)
        ASSERT_TRUE(t.segments[i].end <= 1.0 + 1e-9);
    sotto_transcript_free(&t);
    free(pcm);
    sotto_asr_free(asr);
}

/* ---- errors ------------------------------------------------------------------------- */

TEST(incomplete_model_dir_is_a_clear_error)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = check_tmpdir();
    sotto_asr *asr = NULL;
    ASSERT_EQ(sotto_asr_new("sphinx", &o, &asr), SOTTO_ENOENT);
    ASSERT_TRUE(asr == NULL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "is incomplete: missing");
    ASSERT_STR_CONTAINS(sotto_last_error(), "mdef");
}

TEST(model_path_names_a_copy_of_the_model)
{
    /* a directory laid out like Debian's en-us one, made of symlinks */
    char dir[512], cmd[2048];
    snprintf(dir, sizeof dir, "%s/model", check_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && ln -s '%s'/* '%s'/", dir,
             sphinx_default_model_dir(), dir);
    ASSERT_EQ(system(cmd), 0);
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.model_path = dir;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", &o, &asr));
    ASSERT_STR_CONTAINS(sotto_asr_model_name(asr), dir);
    char *hyp = recognize(asr, "utt_00_kal16.wav", NULL, NULL);
    ASSERT_STR_CONTAINS(hyp, "reservation");
    free(hyp);
    sotto_asr_free(asr);
}

TEST(english_only)
{
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.language = "nl";
    sotto_asr *asr = NULL;
    ASSERT_EQ(sotto_asr_new("sphinx", &o, &asr), SOTTO_ENOTSUP);
    ASSERT_STR_CONTAINS(sotto_last_error(), "English only");
    o.language = "en";
    ASSERT_OK(sotto_asr_new("sphinx", &o, &asr));
    ASSERT_STR_EQ(sotto_asr_model_name(asr), "pocketsphinx en-us");
    ASSERT_STR_EQ(sotto_asr_backend_name(asr), "sphinx");
    sotto_asr_free(asr);
}

/* ---- streaming ---------------------------------------------------------------------- */

/* Feed pcm in 0.1 s blocks, checking partials; returns the final transcript's text. */
static char *stream_blocks(sotto_asr_stream *st, const float *pcm, size_t n, int *n_growing)
{
    size_t block = RATE / 10, prev_len = 0;
    int grew = 0, nonempty = 0;
    for (size_t pos = 0; pos < n; pos += block) {
        size_t m = n - pos < block ? n - pos : block;
        ASSERT_OK(sotto_asr_stream_feed(st, pcm + pos, m));
        const char *partial = NULL;
        ASSERT_OK(sotto_asr_stream_partial(st, &partial));
        ASSERT_TRUE(partial != NULL);
        ASSERT_TRUE(!strchr(partial, '(') && !strchr(partial, '<'));
        size_t len = strlen(partial);
        if (len > prev_len)
            grew++;
        if (len)
            nonempty++;
        prev_len = len;
    }
    *n_growing = grew;
    ASSERT_TRUE(nonempty > 0);
    ASSERT_OK(sotto_asr_stream_flush(st));
    const char *partial = NULL;
    ASSERT_OK(sotto_asr_stream_partial(st, &partial));
    ASSERT_STR_EQ(partial, "");
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_stream_take_finals(st, &t));
    ASSERT_EQ(t.n_segments, 1);
    check_segment(&t.segments[0], 0.0, (double)n / RATE);
    char *text = sotto_transcript_text(&t);
    sotto_transcript_free(&t);
    /* taken: nothing left */
    ASSERT_OK(sotto_asr_stream_take_finals(st, &t));
    ASSERT_EQ(t.n_segments, 0);
    return text;
}

TEST(stream_partials_grow_and_final_matches_whole_buffer)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    float *pcm = check_load_speech("utt_03_kal16.wav", &n);
    char *whole = recognize(asr, "utt_03_kal16.wav", NULL, NULL);
    sotto_asr_stream *st = NULL;
    ASSERT_OK(sotto_asr_stream_new(asr, &st));
    int grew = 0;
    char *final = stream_blocks(st, pcm, n, &grew);
    fprintf(stderr, "whole:  \"%s\"\nstream: \"%s\" (partial grew %d times)\n", whole, final, grew);
    ASSERT_TRUE(grew >= 3);
    size_t n_ref = 0, e = word_errors(whole, final, &n_ref);
    ASSERT_TRUE(e * 10 <= n_ref); /* (nearly) the same words */
    free(whole);
    free(final);
    free(pcm);
    sotto_asr_stream_free(st);
    sotto_asr_free(asr);
}

TEST(stream_flushes_count_time_from_samples_fed)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n1 = 0, n2 = 0;
    float *a = check_load_speech("utt_00_kal16.wav", &n1);
    float *b = check_load_speech("speech_at_2s.wav", &n2);
    sotto_asr_stream *st = NULL;
    ASSERT_OK(sotto_asr_stream_new(asr, &st));
    ASSERT_OK(sotto_asr_stream_flush(st)); /* nothing fed: nothing happens */
    stream_utterance(st, a, n1);
    stream_utterance(st, b, n2);
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_stream_take_finals(st, &t));
    ASSERT_EQ(t.n_segments, 2);
    double t1 = (double)n1 / RATE;
    check_segment(&t.segments[0], 0.0, t1);
    check_segment(&t.segments[1], t1, t1 + (double)n2 / RATE);
    ASSERT_NEAR(t.segments[1].words[0].start, t1 + 2.0, 0.2);
    ASSERT_EQ(t.segments[1].id, 1);
    sotto_transcript_free(&t);
    sotto_asr_stream_free(st);
    free(a);
    free(b);
    sotto_asr_free(asr);
}

/* Mid-utterance words (the stream policy's early commit reads them): the words of the
 * current hypothesis, the same as its text, with times inside the audio fed so far and
 * counted from the stream's first sample; nothing between utterances; the generic stream
 * cannot give them. */
TEST(stream_partial_words_follow_the_hypothesis)
{
    sotto_asr *asr = new_sphinx(0); /* mid-utterance words do not need word_timestamps */
    size_t n1 = 0, n = 0;
    float *a = check_load_speech("utt_00_kal16.wav", &n1);
    float *pcm = check_load_speech("utt_03_kal16.wav", &n);
    sotto_asr_stream *st = NULL;
    ASSERT_OK(sotto_asr_stream_new(asr, &st));
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(asr_stream_partial_words(st, &t)); /* nothing fed */
    ASSERT_EQ(t.n_segments, 0);
    /* a first utterance so the second one's times start at n1 samples */
    stream_utterance(st, a, n1);
    double t0 = (double)n1 / RATE;
    int readings = 0, max_words = 0;
    size_t block = RATE / 4;
    for (size_t off = 0; off < n; off += block) {
        size_t m = n - off < block ? n - off : block;
        ASSERT_OK(sotto_asr_stream_feed(st, pcm + off, m));
        double fed_end = t0 + (double)(off + m) / RATE;
        ASSERT_OK(asr_stream_partial_words(st, &t));
        const char *hyp = NULL;
        ASSERT_OK(sotto_asr_stream_partial(st, &hyp));
        if (t.n_segments == 0) {
            ASSERT_TRUE(hyp[0] == '\0');
            continue;
        }
        ASSERT_EQ(t.n_segments, 1);
        const sotto_segment *seg = &t.segments[0];
        ASSERT_STR_EQ(seg->text, hyp);
        ASSERT_TRUE(seg->n_words > 0);
        double prev = t0 - 1e-9;
        for (size_t k = 0; k < seg->n_words; k++) {
            const sotto_word *w = &seg->words[k];
            ASSERT_TRUE(w->start >= prev - 1e-6);
            ASSERT_TRUE(w->end >= w->start);
            ASSERT_TRUE(w->end <= fed_end + 1e-6);
            ASSERT_TRUE(w->probability >= 0.0f && w->probability <= 1.0f);
            prev = w->end;
        }
        if ((int)seg->n_words > max_words)
            max_words = (int)seg->n_words;
        readings++;
        sotto_transcript_free(&t);
        sotto_transcript_init(&t);
    }
    ASSERT_TRUE(readings >= 4);
    ASSERT_TRUE(max_words >= 4);
    ASSERT_OK(sotto_asr_stream_flush(st));
    ASSERT_OK(asr_stream_partial_words(st, &t)); /* between utterances: nothing */
    ASSERT_EQ(t.n_segments, 0);
    ASSERT_EQ(asr_stream_partial_words(NULL, &t), SOTTO_EINVAL);
    ASSERT_EQ(asr_stream_partial_words(st, NULL), SOTTO_EINVAL);
    ASSERT_TRUE(asr_stream_partial_words_supported(asr));
    sotto_asr_stream_free(st);

    sotto_asr_stream *g = NULL;
    ASSERT_OK(asr_stream_new_generic(asr, &g));
    ASSERT_OK(sotto_asr_stream_feed(g, pcm, n / 2));
    ASSERT_EQ(asr_stream_partial_words(g, &t), SOTTO_ENOTSUP);
    ASSERT_STR_CONTAINS(sotto_last_error(), "mid-utterance");
    sotto_asr_stream_free(g);
    sotto_transcript_free(&t);
    free(a);
    free(pcm);
    sotto_asr_free(asr);
}

/* The native policy's end-of-utterance pass: whole-buffer recognition on the stream's own
 * decoder gives what the recognizer's transcribe gives (times shifted by the offset), and
 * is refused inside a streamed utterance. */
TEST(stream_whole_pass_matches_transcribe)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    float *pcm = check_load_speech("utt_03_kal16.wav", &n);
    sotto_transcript ref, got;
    sotto_transcript_init(&ref);
    sotto_transcript_init(&got);
    ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 5.0, &ref));
    sotto_asr_stream *st = NULL;
    ASSERT_OK(sotto_asr_stream_new(asr, &st));
    sotto_asr_call call = {.prompt = NULL, .word_timestamps = 1};
    ASSERT_OK(asr_stream_transcribe(st, &call, pcm, n, 5.0, &got));
    ASSERT_EQ(got.n_segments, ref.n_segments);
    ASSERT_TRUE(got.n_segments == 1);
    ASSERT_STR_EQ(got.segments[0].text, ref.segments[0].text);
    ASSERT_EQ(got.segments[0].n_words, ref.segments[0].n_words);
    ASSERT_TRUE(got.segments[0].words[0].start >= 5.0);
    /* inside a streamed utterance the decoder is busy */
    ASSERT_OK(sotto_asr_stream_feed(st, pcm, n / 2));
    ASSERT_EQ(asr_stream_transcribe(st, &call, pcm, n, 0.0, &got), SOTTO_EINVAL);
    ASSERT_OK(sotto_asr_stream_flush(st));
    sotto_asr_stream_free(st);
    sotto_transcript_free(&ref);
    sotto_transcript_free(&got);
    free(pcm);
    sotto_asr_free(asr);
}

TEST(generic_stream_redecodes_the_buffer)
{
    sotto_asr *asr = new_sphinx(1);
    size_t n = 0;
    float *pcm = check_load_speech("utt_06_kal16.wav", &n);
    char *whole = recognize(asr, "utt_06_kal16.wav", NULL, NULL);
    sotto_asr_stream *st = NULL;
    ASSERT_OK(asr_stream_new_generic(asr, &st));
    /* 0.5 s blocks keep the O(n^2) re-decoding cheap under sanitizers */
    size_t block = RATE / 2;
    int grew = 0;
    size_t prev_len = 0;
    for (size_t pos = 0; pos < n; pos += block) {
        size_t m = n - pos < block ? n - pos : block;
        ASSERT_OK(sotto_asr_stream_feed(st, pcm + pos, m));
        const char *partial = NULL;
        ASSERT_OK(sotto_asr_stream_partial(st, &partial));
        grew += strlen(partial) > prev_len;
        prev_len = strlen(partial);
    }
    ASSERT_TRUE(grew >= 2);
    ASSERT_OK(sotto_asr_stream_flush(st));
    /* a second utterance: its times continue from the samples already fed */
    stream_utterance(st, pcm, n);
    sotto_transcript t;
    sotto_transcript_init(&t);
    ASSERT_OK(sotto_asr_stream_take_finals(st, &t));
    ASSERT_EQ(t.n_segments, 2);
    ASSERT_STR_EQ(t.segments[0].text, whole); /* the final is the whole-buffer result */
    ASSERT_STR_EQ(t.segments[1].text, whole);
    double dur = (double)n / RATE;
    check_segment(&t.segments[1], dur, 2 * dur);
    ASSERT_NEAR(t.segments[1].start, t.segments[0].start + dur, 1e-6);
    sotto_transcript_free(&t);
    sotto_asr_stream_free(st);
    free(whole);
    free(pcm);
    sotto_asr_free(asr);
}

/* ---- the whole corpus --------------------------------------------------------------- */

/* Every fixture utterance (30, three voices): corpus WER and real-time factor.
 * A measurement: its code is recognizes_kal16_utterances's (recognize, word_errors) on 22
 * more utterances, so the sanitizer pass leaves it to the Release pass (label measure). */
TEST(corpus_wer_and_real_time_factor) /* labels: measure */
{
    FILE *f = fopen(check_fixture_path("manifest.tsv"), "r");
    ASSERT_TRUE(f != NULL);
    sotto_asr *asr = new_sphinx(0);
    char line[1024];
    size_t errors = 0, words = 0, n_utts = 0;
    double audio_s = 0, wall_s = 0, cpu0 = cpu_seconds();
    while (fgets(line, sizeof line, f)) {
        char *tab1 = strchr(line, '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        ASSERT_TRUE(tab2 != NULL);
        *tab1 = '\0';
        char *hyp = recognize(asr, line, &audio_s, &wall_s);
        size_t n_ref = 0;
        errors += word_errors(tab2 + 1, hyp, &n_ref);
        words += n_ref;
        n_utts++;
        free(hyp);
    }
    fclose(f);
    ASSERT_TRUE(n_utts >= 20);
    /* CPU time includes reading the WAVs, a small part; wall time suffers from load */
    double wer = (double)errors / (double)words, cpu_s = cpu_seconds() - cpu0;
    fprintf(stderr,
            "sphinx: %zu utterances, %.1f s audio, WER %.1f%% (%zu/%zu), RTF %.3f wall, "
            "%.3f CPU\n",
            n_utts, audio_s, 100 * wer, errors, words, wall_s / audio_s, cpu_s / audio_s);
    ASSERT_TRUE(wer <= 0.12);
    sotto_asr_free(asr);
}
