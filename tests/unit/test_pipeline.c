/* test_pipeline.c - batch transcription (reader -> splitter -> PocketSphinx) on the
 * synthesized speech fixtures: timing, silence, WER of a long input, progress, cancel. */
#include "check.h"
#include "check_audio.h"
#include "sotto/error.h"
#include "sotto/pipeline.h"
#include "sotto/text.h"

static sotto_asr *sphinx_new(int words)
{
    sotto_asr_options ao;
    sotto_asr_options_init(&ao);
    ao.word_timestamps = words;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", &ao, &asr));
    return asr;
}

/* Transcribe a file at path with the given options; returns the pipeline's code. */
static int transcribe_path(sotto_asr *asr, const char *path, const sotto_pipeline_options *o,
                           sotto_transcript *t)
{
    sotto_audio *a = NULL;
    ASSERT_OK(sotto_audio_open(path, NULL, &a));
    sotto_transcript_init(t);
    int rc = sotto_pipeline_transcribe(asr, a, o, t);
    sotto_audio_close(a);
    return rc;
}

static int transcribe_fixture(sotto_asr *asr, const char *name, const sotto_pipeline_options *o,
                              sotto_transcript *t)
{
    return transcribe_path(asr, check_fixture_path(name), o, t);
}

static double fixture_seconds(const char *name)
{
    return check_audio_seconds(check_fixture_path(name));
}

static void check_times_increase(const sotto_transcript *t)
{
    for (size_t i = 0; i < t->n_segments; i++) {
        const sotto_segment *s = &t->segments[i];
        ASSERT_TRUE(s->start >= 0 && s->end >= s->start);
        ASSERT_TRUE(s->end <= t->duration + 1e-6);
        if (i > 0) {
            ASSERT_TRUE(s->start > t->segments[i - 1].start);
            ASSERT_TRUE(s->start >= t->segments[i - 1].end - 1e-6);
        }
    }
}

TEST(pause_splits_into_timed_segments)
{
    sotto_asr *asr = sphinx_new(0);
    sotto_transcript t;
    ASSERT_OK(transcribe_fixture(asr, "pause_3s.wav", NULL, &t));
    /* utt_00 (with its 0.3 s pads), 3 s of silence, utt_03 */
    double first_len = fixture_seconds("utt_00_kal16.wav");
    ASSERT_TRUE(t.n_segments >= 2);
    ASSERT_TRUE(t.segments[1].start > 3.0);
    ASSERT_TRUE(t.segments[0].end < first_len);
    ASSERT_TRUE(t.segments[t.n_segments - 1].start > first_len + 3.0);
    ASSERT_NEAR(t.duration, first_len + 3.0 + fixture_seconds("utt_03_kal16.wav"), 0.01);
    ASSERT_STR_EQ(t.language, "en");
    check_times_increase(&t);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(speech_at_two_seconds_is_timed_exactly)
{
    sotto_asr *asr = sphinx_new(1);
    sotto_transcript t;
    ASSERT_OK(transcribe_fixture(asr, "speech_at_2s.wav", NULL, &t));
    ASSERT_TRUE(t.n_segments >= 1);
    const sotto_segment *s = &t.segments[0];
    double first = s->n_words ? s->words[0].start : s->start;
    printf("first word at %.3f s\n", first);
    ASSERT_NEAR(first, 2.0, 0.2);
    ASSERT_NEAR(s->start, 2.0, 0.2);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(silence_gives_no_segments)
{
    sotto_asr *asr = sphinx_new(0);
    sotto_transcript t;
    ASSERT_OK(transcribe_fixture(asr, "silence_5s.wav", NULL, &t));
    ASSERT_EQ(t.n_segments, 0);
    ASSERT_NEAR(t.duration, 5.0, 0.01);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(short_input_gives_empty_transcript)
{
    sotto_asr *asr = sphinx_new(0);
    sotto_transcript t;
    ASSERT_OK(transcribe_fixture(asr, "short_50ms.wav", NULL, &t));
    char *text = sotto_transcript_text(&t);
    ASSERT_STR_EQ(text, "");
    free(text);
    ASSERT_NEAR(t.duration, 0.05, 0.005);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

/* The first six fixture sentences (three voices), 0.8 s apart, as one file: the pipeline
 * must recognize them about as well as the recognizer does on each sentence alone (the
 * baseline is measured here too), so the bound tests the pipeline, not the recognizer. */
TEST(six_sentences_concatenated_have_low_wer)
{
    static const char *names[] = {"utt_00_kal16", "utt_01_slt", "utt_02_rms",
                                  "utt_03_kal16", "utt_04_slt", "utt_05_rms"};
    const size_t gap = (size_t)(0.8 * SOTTO_SAMPLE_RATE);
    sotto_asr *asr = sphinx_new(0);
    float *all = NULL;
    size_t n_all = 0;
    char ref[8192] = "";
    double starts[6];
    sotto_wer alone;
    memset(&alone, 0, sizeof alone);
    for (size_t i = 0; i < 6; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.wav", names[i]);
        size_t n;
        float *pcm = check_load_speech(file, &n);
        size_t add = (i ? gap : 0) + n;
        float *p = realloc(all, (n_all + add) * sizeof *p);
        ASSERT_TRUE(p);
        all = p;
        if (i)
            memset(all + n_all, 0, gap * sizeof *all);
        starts[i] = (double)(n_all + (i ? gap : 0)) / SOTTO_SAMPLE_RATE;
        memcpy(all + n_all + (i ? gap : 0), pcm, n * sizeof *pcm);
        n_all += add;

        snprintf(file, sizeof file, "%s.txt", names[i]);
        char *txt = check_fixture_text(file);
        size_t used = strlen(ref);
        snprintf(ref + used, sizeof ref - used, "%s%s", used ? " " : "", txt);
        /* baseline: the recognizer on this sentence alone, no splitter */
        sotto_transcript one;
        sotto_transcript_init(&one);
        ASSERT_OK(sotto_asr_transcribe(asr, pcm, n, 0, &one));
        char *hyp_one = sotto_transcript_text(&one);
        sotto_wer w1;
        ASSERT_OK(sotto_text_wer(txt, hyp_one, &w1));
        sotto_wer_add(&alone, &w1);
        free(hyp_one);
        sotto_transcript_free(&one);
        free(txt);
        free(pcm);
    }
    char wav[512];
    snprintf(wav, sizeof wav, "%s/six.wav", check_tmpdir());
    ASSERT_OK(sotto_audio_write_wav(wav, all, n_all, SOTTO_SAMPLE_RATE));
    free(all);

    sotto_transcript t;
    ASSERT_OK(transcribe_path(asr, wav, NULL, &t));
    ASSERT_NEAR(t.duration, (double)n_all / SOTTO_SAMPLE_RATE, 0.01);
    check_times_increase(&t);
    /* every sentence was recognized in its own place */
    for (size_t i = 0; i < 6; i++) {
        double end = i < 5 ? starts[i + 1] : t.duration;
        int found = 0;
        for (size_t k = 0; k < t.n_segments; k++)
            found |= t.segments[k].start >= starts[i] && t.segments[k].start < end;
        if (!found)
            CHECK_FAIL("no segment for sentence %zu (%.2f..%.2f s)", i, starts[i], end);
    }
    char *hyp = sotto_transcript_text(&t);
    sotto_wer w;
    ASSERT_OK(sotto_text_wer(ref, hyp, &w));
    printf("segments %zu, pipeline WER %.1f%% (S %zu D %zu I %zu of %zu words), "
           "sentences alone %.1f%%\nref: %s\nhyp: %s\n",
           t.n_segments, 100 * w.wer, w.substitutions, w.deletions, w.insertions, w.ref_words,
           100 * alone.wer, ref, hyp);
    ASSERT_TRUE(w.ref_words > 30);
    ASSERT_TRUE(w.wer <= 0.20);
    ASSERT_TRUE(w.wer <= alone.wer + 0.05);
    free(hyp);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

typedef struct progress_log {
    double done[4096];
    double total, elapsed;
    size_t n;
    int cancel_at; /* cancel on this call (1-based), 0 = never */
} progress_log;

static int on_progress(void *user, const sotto_progress *p)
{
    progress_log *l = user;
    if (l->n < 4096)
        l->done[l->n] = p->done_s;
    if (l->n > 0 && p->elapsed_s < l->elapsed)
        CHECK_FAIL("elapsed_s went back: %g after %g", p->elapsed_s, l->elapsed);
    l->elapsed = p->elapsed_s;
    l->total = p->total_s;
    l->n++;
    return l->cancel_at && (int)l->n >= l->cancel_at;
}

TEST(progress_reports_growing_position)
{
    sotto_asr *asr = sphinx_new(0);
    progress_log log = {.n = 0};
    sotto_pipeline_options o;
    sotto_pipeline_options_init(&o);
    o.progress = on_progress;
    o.progress_user = &log;
    sotto_transcript t;
    ASSERT_OK(transcribe_fixture(asr, "pause_3s.wav", &o, &t));
    ASSERT_TRUE(log.n >= 2);
    for (size_t i = 1; i < log.n; i++)
        ASSERT_TRUE(log.done[i] >= log.done[i - 1]);
    ASSERT_TRUE(log.done[0] > 0);
    ASSERT_NEAR(log.done[log.n - 1], t.duration, 1e-9);
    ASSERT_NEAR(log.total, t.duration, 0.05);
    ASSERT_TRUE(t.n_segments >= 2);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(progress_callback_cancels)
{
    sotto_asr *asr = sphinx_new(0);
    for (int at = 1; at <= 2; at++) {
        progress_log log = {.n = 0, .cancel_at = at};
        sotto_pipeline_options o;
        sotto_pipeline_options_init(&o);
        o.progress = on_progress;
        o.progress_user = &log;
        sotto_transcript t;
        ASSERT_EQ(transcribe_fixture(asr, "pause_3s.wav", &o, &t), SOTTO_ECANCELED);
        ASSERT_STR_EQ(sotto_last_error(), "cancelled");
        ASSERT_EQ(log.n, at); /* never called again after cancelling */
        sotto_transcript_free(&t);
    }
    sotto_asr_free(asr);
}

TEST(bad_splitter_options_are_reported)
{
    sotto_asr *asr = sphinx_new(0);
    sotto_pipeline_options o;
    sotto_pipeline_options_init(&o);
    o.splitter.max_utterance_s = -3;
    sotto_transcript t;
    ASSERT_EQ(transcribe_fixture(asr, "speech_at_2s.wav", &o, &t), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "max_utterance_s");
    ASSERT_EQ(t.n_segments, 0);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

TEST(audio_errors_pass_through)
{
    /* the header promises ten times the data that follows: the reader's truncation error
     * (audio.h: SOTTO_EFORMAT) reaches the caller as is, after the audio that was there */
    sotto_asr *asr = sphinx_new(0);
    sotto_transcript t;
    ASSERT_EQ(transcribe_fixture(asr, "bad_lying_size.wav", NULL, &t), SOTTO_EFORMAT);
    ASSERT_STR_CONTAINS(sotto_last_error(), "bad_lying_size.wav");
    ASSERT_TRUE(t.duration > 1.0);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}
