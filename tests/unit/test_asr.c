/* test_asr.c - the recognizer interface: backend registry, default choice, option copies,
 * argument checks, and that creating a recognizer prints nothing. Speech accuracy is
 * tested in test_sphinx.c (it needs the generated fixtures). */
#include <unistd.h>

#include "asr/asr_int.h"
#include "check.h"
#include "sotto/asr.h"
#include "sotto/error.h"

TEST(registry_lists_sphinx)
{
    ASSERT_TRUE(sotto_asr_backend_count() >= 1);
    int found = 0;
    for (size_t i = 0; i < sotto_asr_backend_count(); i++) {
        sotto_asr_backend_info info;
        ASSERT_OK(sotto_asr_backend_info_get(i, &info));
        ASSERT_TRUE(info.name && *info.name && info.description && *info.description);
        if (strcmp(info.name, "sphinx") == 0) {
            found = 1;
            ASSERT_STR_EQ(info.description,
                          "CMU PocketSphinx (offline, English, embedded default)");
            ASSERT_EQ(info.available, 1); /* the build needs pocketsphinx-en-us */
            ASSERT_STR_CONTAINS(info.needs, "en-us");
        }
    }
    ASSERT_TRUE(found);
    sotto_asr_backend_info info;
    ASSERT_EQ(sotto_asr_backend_info_get(sotto_asr_backend_count(), &info), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "no backend number");
    ASSERT_EQ(sotto_asr_backend_info_get(0, NULL), SOTTO_EINVAL);
}

TEST(default_backend_depends_on_model)
{
    ASSERT_STR_EQ(sotto_asr_default_backend(NULL), "sphinx");
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    ASSERT_STR_EQ(sotto_asr_default_backend(&o), "sphinx");
    o.model_path = "";
    ASSERT_STR_EQ(sotto_asr_default_backend(&o), "sphinx");
    o.model_path = "models/ggml-base.en.bin";
    ASSERT_STR_EQ(sotto_asr_default_backend(&o), "whisper");
}

TEST(options_init_zeroes_everything)
{
    sotto_asr_options o;
    memset(&o, 0xab, sizeof o);
    sotto_asr_options_init(&o);
    ASSERT_TRUE(o.model_path == NULL && o.language == NULL && o.prompt == NULL);
    ASSERT_TRUE(o.on_token == NULL && o.on_token_user == NULL);
    ASSERT_EQ(o.beam_size, 0);
    ASSERT_EQ(o.n_threads, 0);
    ASSERT_EQ(o.word_timestamps, 0);
    ASSERT_TRUE(o.temperature == 0.0f);
    sotto_asr_options_init(NULL); /* no-op */
}

TEST(unknown_backend_names_the_available_ones)
{
    sotto_asr *asr = (sotto_asr *)&asr; /* must be reset to NULL on failure */
    ASSERT_EQ(sotto_asr_new("x", NULL, &asr), SOTTO_EINVAL);
    ASSERT_TRUE(asr == NULL);
    ASSERT_STR_EQ(sotto_last_error(), "unknown backend 'x' (available: sphinx, whisper)");
    ASSERT_EQ(sotto_asr_new("sphinx", NULL, NULL), SOTTO_EINVAL);
}

TEST(bad_options_are_rejected)
{
    sotto_asr_options o;
    sotto_asr *asr = NULL;
    sotto_asr_options_init(&o);
    o.beam_size = -1;
    ASSERT_EQ(sotto_asr_new("sphinx", &o, &asr), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "beam size");
    sotto_asr_options_init(&o);
    o.n_threads = -2;
    ASSERT_EQ(sotto_asr_new("sphinx", &o, &asr), SOTTO_EINVAL);
    sotto_asr_options_init(&o);
    o.temperature = NAN;
    ASSERT_EQ(sotto_asr_new("sphinx", &o, &asr), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "temperature");
    ASSERT_TRUE(asr == NULL);
}

TEST(default_recognizer_is_sphinx_and_copies_options)
{
    char *language = strdup("en"), *prompt = strdup("birch canoe");
    sotto_asr_options o;
    sotto_asr_options_init(&o);
    o.language = language;
    o.prompt = prompt;
    o.word_timestamps = 1;
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new(NULL, &o, &asr));
    /* the caller's strings may go away at once */
    memset(language, 'x', 2);
    memset(prompt, 'x', strlen(prompt));
    free(language);
    free(prompt);
    ASSERT_STR_EQ(sotto_asr_backend_name(asr), "sphinx");
    ASSERT_STR_EQ(sotto_asr_model_name(asr), "pocketsphinx en-us");
    const sotto_asr_options *copy = asr_options(asr);
    ASSERT_STR_EQ(copy->language, "en");
    ASSERT_STR_EQ(copy->prompt, "birch canoe");
    ASSERT_TRUE(copy->model_path == NULL);
    ASSERT_EQ(copy->word_timestamps, 1);
    sotto_asr_free(asr);
    sotto_asr_free(NULL);
    sotto_asr_stream_free(NULL);
}

TEST(bad_arguments_are_errors_not_crashes)
{
    sotto_asr *asr = NULL;
    ASSERT_OK(sotto_asr_new("sphinx", NULL, &asr));
    sotto_transcript t;
    sotto_transcript_init(&t);
    float one = 0.0f;
    ASSERT_EQ(sotto_asr_transcribe(asr, NULL, 10, 0.0, &t), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_transcribe(NULL, &one, 1, 0.0, &t), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_transcribe(asr, &one, 1, 0.0, NULL), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_transcribe(asr, &one, 1, -1.0, &t), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_transcribe(asr, &one, 1, NAN, &t), SOTTO_EINVAL);
    ASSERT_OK(sotto_asr_transcribe(asr, NULL, 0, 0.0, &t)); /* nothing to do */
    ASSERT_EQ(t.n_segments, 0);

    sotto_asr_stream *st = NULL;
    ASSERT_EQ(sotto_asr_stream_new(NULL, &st), SOTTO_EINVAL);
    ASSERT_OK(sotto_asr_stream_new(asr, &st));
    const char *text = NULL;
    ASSERT_OK(sotto_asr_stream_partial(st, &text));
    ASSERT_STR_EQ(text, ""); /* nothing fed yet */
    ASSERT_EQ(sotto_asr_stream_feed(st, NULL, 5), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_stream_partial(st, NULL), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_stream_take_finals(st, NULL), SOTTO_EINVAL);
    ASSERT_EQ(sotto_asr_stream_flush(NULL), SOTTO_EINVAL);
    ASSERT_OK(sotto_asr_stream_feed(st, NULL, 0));
    ASSERT_OK(sotto_asr_stream_flush(st));
    ASSERT_OK(sotto_asr_stream_take_finals(st, &t));
    ASSERT_EQ(t.n_segments, 0);
    sotto_asr_stream_free(st);
    sotto_transcript_free(&t);
    sotto_asr_free(asr);
}

/* PocketSphinx logs dozens of INFO lines while loading; none may reach the user. */
TEST(loading_prints_nothing)
{
    char path[512];
    snprintf(path, sizeof path, "%s/stderr.txt", check_tmpdir());
    fflush(stderr);
    fflush(stdout);
    int saved_err = dup(2), saved_out = dup(1);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f && saved_err >= 0 && saved_out >= 0);
    dup2(fileno(f), 2);
    dup2(fileno(f), 1);
    sotto_asr *asr = NULL;
    int rc = sotto_asr_new("sphinx", NULL, &asr);
    sotto_asr_stream *st = NULL;
    if (rc == 0)
        rc = sotto_asr_stream_new(asr, &st);
    sotto_asr_stream_free(st);
    sotto_asr_free(asr);
    fflush(stderr);
    fflush(stdout);
    dup2(saved_err, 2);
    dup2(saved_out, 1);
    close(saved_err);
    close(saved_out);
    fclose(f);
    ASSERT_OK(rc);
    f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    ASSERT_EQ(size, 0);
}
