/*
 * test_jobs.c - the job runner end to end on real synthesized speech: a job goes from
 * PENDING to COMPLETE with results, metrics, versions and a searchable session; bad
 * input fails with the decoder's message; cancellation (pending and running); waiting
 * with streamed segment texts; the queue limit; two workers; a process killed mid-job
 * (fork + SIGKILL) whose job completes exactly once after restart; stop with running jobs.
 *
 * Speech comes from flite + sox, made into this test's temporary directory (the jobs
 * module is not among the modules wired to the shared fixtures).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "check_audio.h"
#include "sotto/jobs.h"
#include "sotto/json.h"
#include "sotto/sotto.h"

#define S1 "please send me the report before the end of the week"
#define S2 "the weather is going to be cold and rainy tomorrow"
#define S3 "can you tell me how to get to the train station"

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        CHECK_FAIL("command failed: %s", cmd);
}

/* A 16 kHz mono WAV of one sentence (kal16), 0.3 s of silence on each side. */
static const char *make_sentence(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s.wav", check_tmpdir(), name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "flite -voice kal16 -t '%s' -o '%s/%s.raw.wav' && sox -R -q '%s/%s.raw.wav' -r 16000 "
             "-c 1 -b 16 '%s' pad 0.3 0.3",
             text, check_tmpdir(), name, check_tmpdir(), name, path);
    sh(cmd);
    return path;
}

/* Three sentences with pauses between them (several segments). */
static const char *make_three(void)
{
    static char path[512];
    const char *a = make_sentence("s1", S1), *b = make_sentence("s2", S2);
    const char *c = make_sentence("s3", S3);
    snprintf(path, sizeof path, "%s/three.wav", check_tmpdir());
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "sox -R -q '%s' -p pad 0 1.0 | sox -R -q - '%s' -p pad 0 1.0 | sox -R -q - '%s' '%s'", a,
             b, c, path);
    sh(cmd);
    return path;
}

/* The three sentences repeated: 5 times make about 62 s of speech (jobs that are cancelled
 * or stopped mid-way); 2 times, 25 s (jobs that are interrupted and then run to the end,
 * kept shorter so a loaded machine stays well inside the test timeout). */
static const char *make_long_n(int repeats)
{
    static char path[512];
    const char *three = make_three();
    snprintf(path, sizeof path, "%s/long%d.wav", check_tmpdir(), repeats);
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, "sox -R -q");
    for (int i = 0; i < repeats; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", three);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", path);
    sh(cmd);
    return path;
}

static const char *make_long(void)
{
    return make_long_n(5);
}

static sotto_store *open_store(sotto_user *u)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store.db", check_tmpdir());
    sotto_store *st = NULL;
    ASSERT_OK(sotto_store_open(path, &st));
    if (u && sotto_store_user_get(st, "alice", u) != 0)
        ASSERT_OK(sotto_store_user_add(st, "alice", 0, u));
    return st;
}

static sotto_jobs *start(sotto_store *st, int n_workers, size_t max_queue)
{
    sotto_jobs_options o;
    sotto_jobs_options_init(&o);
    o.n_workers = n_workers;
    if (max_queue)
        o.max_queue = max_queue;
    o.poll_s = 0.05;
    sotto_jobs *j = NULL;
    ASSERT_OK(sotto_jobs_start(st, &o, &j));
    return j;
}

static sotto_job_status job_status(sotto_store *st, const char *id, double *progress)
{
    sotto_job job;
    ASSERT_OK(sotto_store_job_get(st, -1, id, &job));
    sotto_job_status s = job.status;
    if (progress)
        *progress = job.progress;
    sotto_job_clear(&job);
    return s;
}

/* Poll until the job reaches TRANSCRIBING with some progress (it is mid-recognition). */
static void wait_transcribing(sotto_store *st, const char *id)
{
    double t0 = time(NULL);
    for (;;) {
        double p = 0;
        sotto_job_status s = job_status(st, id, &p);
        if (s == SOTTO_JOB_TRANSCRIBING && p > 0.0)
            return;
        if (sotto_job_status_terminal(s))
            CHECK_FAIL("job %s ended (%s) before it was seen transcribing", id,
                       sotto_job_status_name(s));
        if (time(NULL) - t0 > 60)
            CHECK_FAIL("job %s never started transcribing", id);
        usleep(20 * 1000);
    }
}

static sotto_json *parse(const char *text)
{
    ASSERT_TRUE(text != NULL);
    sotto_json *root = NULL;
    ASSERT_OK(sotto_json_parse(text, strlen(text), NULL, &root));
    return root;
}

TEST(options_validated)
{
    ASSERT_OK(sotto_jobs_validate_options(NULL, NULL));
    ASSERT_OK(sotto_jobs_validate_options(NULL, "{}"));
    ASSERT_OK(sotto_jobs_validate_options(
        NULL, "{\"language\":\"en\",\"formats\":[\"txt\",\"srt\"],\"features\":[\"raw_transcript\"],"
              "\"temperature\":0,\"word_timestamps\":false,\"future_key\":1}"));
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"features\":[\"summary\"]}"), SOTTO_ENOTSUP);
    ASSERT_STR_EQ(sotto_last_error(), "feature 'summary' is not available in this build");
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"features\":[\"diarize\"]}"), SOTTO_ENOTSUP);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"features\":[\"magic\"]}"), SOTTO_EINVAL);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"task\":\"translate\"}"), SOTTO_ENOTSUP);
    ASSERT_STR_CONTAINS(sotto_last_error(), "whisper");
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"backend\":\"whisper\"}"), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "model");
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"backend\":\"nope\"}"), SOTTO_EINVAL);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"temperature\":3}"), SOTTO_EINVAL);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"formats\":[\"doc\"]}"), SOTTO_EINVAL);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"language\":5}"), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "language");
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "[1,2]"), SOTTO_EINVAL);
    ASSERT_EQ(sotto_jobs_validate_options(NULL, "{\"language\":"), SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "job options:");
}

TEST(sentence_completes)
{
    const char *wav = make_sentence("one", S1);
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 1, 0);
    char id[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, "{\"language\":\"en\"}", wav, "meeting.wav", id));
    /* the states seen never go backwards and end at COMPLETE */
    int last = -1, seen_running = 0;
    for (int i = 0; i < 6000; i++) {
        sotto_job_status s = job_status(st, id, NULL);
        ASSERT_TRUE((int)s >= last);
        last = (int)s;
        seen_running |= s == SOTTO_JOB_TRANSCRIBING || s == SOTTO_JOB_PREPROCESSING;
        if (sotto_job_status_terminal(s))
            break;
        usleep(10 * 1000);
    }
    ASSERT_EQ(last, SOTTO_JOB_COMPLETE);
    ASSERT_TRUE(seen_running);

    sotto_job job;
    ASSERT_OK(sotto_jobs_wait(j, id, 10, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
    ASSERT_EQ(job.attempts, 1);
    ASSERT_NEAR(job.progress, 1.0, 1e-9);
    ASSERT_TRUE(job.finished_at >= job.started_at && job.started_at > 0);

    sotto_json *res = parse(job.results_json);
    const char *text = sotto_json_string(sotto_json_get(res, "text"), "");
    ASSERT_STR_CONTAINS(text, "report");
    ASSERT_STR_CONTAINS(text, "week");
    ASSERT_STR_CONTAINS(sotto_json_string(sotto_json_get(res, "txt"), ""), "report");
    ASSERT_STR_CONTAINS(sotto_json_string(sotto_json_get(res, "srt"), ""), "-->");
    ASSERT_STR_CONTAINS(sotto_json_string(sotto_json_get(res, "vtt"), ""), "WEBVTT");
    ASSERT_TRUE(sotto_json_get(res, "tsv") != NULL);
    const sotto_json *js = sotto_json_get(res, "json");
    ASSERT_EQ(sotto_json_type_of(js), SOTTO_JSON_OBJECT); /* embedded, not a string */
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(js, "text"), ""), text);
    ASSERT_TRUE(sotto_json_len(sotto_json_get(js, "segments")) >= 1);

    double dur = check_audio_seconds(wav);
    sotto_json *met = parse(job.metrics_json);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(met, "input_duration_s"), -1), dur, 0.01);
    double rtf = sotto_json_number(sotto_json_get(met, "rtf"), -1);
    ASSERT_TRUE(rtf > 0.0);
    ASSERT_NEAR(sotto_json_number(sotto_json_get(met, "processing_time_s"), -1), rtf * dur,
                0.01 + 0.01 * rtf * dur);
    double cov = sotto_json_number(sotto_json_get(met, "vad_coverage"), -1);
    ASSERT_TRUE(cov > 0.3 && cov <= 1.0);
    printf("sentence: %.2f s audio, rtf %.3f, vad coverage %.2f, confidence %.3f\n", dur, rtf, cov,
           sotto_json_number(sotto_json_get(met, "confidence_avg"), -1));

    sotto_json *ver = parse(job.versions_json);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(ver, "sotto"), ""), sotto_version());
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(ver, "backend"), ""), "sphinx");
    ASSERT_TRUE(strlen(sotto_json_string(sotto_json_get(ver, "model"), "")) > 0);
    ASSERT_STR_EQ(sotto_json_string(sotto_json_get(sotto_json_get(ver, "decoding"), "language"), ""),
                  "en");

    /* the transcript is a session of type "job" whose messages are the segments */
    sotto_session ses;
    ASSERT_OK(sotto_store_session_get(st, u.id, job.session_id, &ses));
    ASSERT_STR_EQ(ses.type, "job");
    ASSERT_STR_EQ(ses.title, "meeting.wav");
    sotto_session_clear(&ses);
    sotto_message *msgs = NULL;
    size_t n = 0;
    ASSERT_OK(sotto_store_message_list(st, u.id, job.session_id, 0, 0, &msgs, &n));
    ASSERT_TRUE(n >= 1);
    size_t n_seg = sotto_json_len(sotto_json_get(js, "segments"));
    ASSERT_TRUE(n <= n_seg);
    for (size_t i = 0; i < n; i++) {
        ASSERT_STR_EQ(msgs[i].role, "user");
        ASSERT_TRUE(msgs[i].start_s >= 0 && msgs[i].end_s > msgs[i].start_s);
        ASSERT_TRUE(msgs[i].end_s <= dur + 0.01);
    }
    sotto_message_list_free(msgs, n);
    sotto_search_hit *hits = NULL;
    ASSERT_OK(sotto_store_search(st, u.id, "report", 10, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    ASSERT_STR_EQ(hits[0].message.session_id, job.session_id);
    sotto_search_hits_free(hits, n);

    sotto_jobs_stats stats;
    sotto_jobs_get_stats(j, &stats);
    ASSERT_EQ(stats.workers_alive, 1);
    ASSERT_EQ(stats.queue_depth, 0);
    ASSERT_NEAR(stats.audio_s_processed, dur, 0.01);
    ASSERT_TRUE(stats.busy_s > 0);

    sotto_json_free(res);
    sotto_json_free(met);
    sotto_json_free(ver);
    sotto_job_clear(&job);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}

TEST(non_audio_fails_with_decoder_message)
{
    char path[512];
    snprintf(path, sizeof path, "%s/notes.wav", check_tmpdir());
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    fputs("these are meeting notes, not audio\n", f);
    fclose(f);
    /* what the decoder says about this file */
    sotto_audio *a = NULL;
    int rc = sotto_audio_open(path, NULL, &a);
    ASSERT_TRUE(rc < 0);
    char expected[512];
    snprintf(expected, sizeof expected, "%s", sotto_last_error());
    ASSERT_TRUE(expected[0] != '\0');

    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 1, 0);
    char id[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, path, "notes.wav", id));
    sotto_job job;
    ASSERT_OK(sotto_jobs_wait(j, id, 60, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_FAILED);
    ASSERT_STR_EQ(job.error, expected);
    ASSERT_TRUE(strchr(job.error, '\n') == NULL);
    ASSERT_TRUE(job.session_id[0] == '\0');
    sotto_job_clear(&job);
    /* a refused feature never reaches the queue */
    ASSERT_EQ(sotto_jobs_submit(j, u.id, "{\"features\":[\"summary\"]}", path, NULL, id),
              SOTTO_ENOTSUP);
    int64_t counts[7];
    ASSERT_OK(sotto_store_job_counts(st, counts));
    ASSERT_EQ(counts[SOTTO_JOB_FAILED], 1);
    ASSERT_EQ(counts[SOTTO_JOB_PENDING], 0);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}

TEST(cancel_pending_and_running)
{
    const char *lng = make_long();
    const char *one = make_sentence("one", S2);
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 1, 0);
    char a[SOTTO_ID_LEN], b[SOTTO_ID_LEN], c[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, lng, "long.wav", a));
    wait_transcribing(st, a);
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, one, "b.wav", b));
    ASSERT_EQ(job_status(st, b, NULL), SOTTO_JOB_PENDING); /* the only worker is busy */
    ASSERT_OK(sotto_store_job_cancel(st, u.id, b));
    ASSERT_EQ(job_status(st, b, NULL), SOTTO_JOB_CANCELLED);

    double t0 = time(NULL);
    ASSERT_OK(sotto_store_job_cancel(st, u.id, a));
    sotto_job job;
    ASSERT_OK(sotto_jobs_wait(j, a, 30, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_CANCELLED);
    ASSERT_TRUE(job.session_id[0] == '\0');
    sotto_job_clear(&job);
    /* the worker left the cancelled job and takes the next one */
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, one, "c.wav", c));
    ASSERT_OK(sotto_jobs_wait(j, c, 60, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
    ASSERT_TRUE(time(NULL) - t0 < 30);
    sotto_job_clear(&job);
    ASSERT_EQ(job_status(st, b, NULL), SOTTO_JOB_CANCELLED);
    ASSERT_EQ(job_status(st, a, NULL), SOTTO_JOB_CANCELLED);
    sotto_session *list = NULL;
    size_t n = 0, total = 0;
    sotto_session_filter f = {"job", NULL, 0, 0, 0, 0};
    ASSERT_OK(sotto_store_session_list(st, u.id, &f, &list, &n, &total));
    ASSERT_EQ(total, 1); /* only c made a session */
    sotto_session_list_free(list, n);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}

typedef struct texts {
    char all[4096];
    int n;
    int n_live; /* texts that arrived while the job was still running */
    sotto_store *st;
    const char *id;
} texts;

static void on_text(void *user, const char *text)
{
    texts *t = user;
    size_t len = strlen(t->all);
    snprintf(t->all + len, sizeof t->all - len, "%s%s", t->n ? " " : "", text);
    t->n++;
    if (!sotto_job_status_terminal(job_status(t->st, t->id, NULL)))
        t->n_live++;
}

TEST(wait_stream_delivers_segments_in_order)
{
    const char *three = make_three();
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 1, 0);
    char id[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, three, "three.wav", id));
    texts t = {.st = st, .id = id};
    sotto_job job;
    ASSERT_OK(sotto_jobs_wait_stream(j, id, 120, on_text, &t, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
    sotto_json *res = parse(job.results_json);
    printf("%d texts (%d live): %s\n", t.n, t.n_live, t.all);
    ASSERT_TRUE(t.n >= 3); /* one per sentence at least: the pauses split them */
    ASSERT_TRUE(t.n_live >= 1);
    ASSERT_STR_EQ(t.all, sotto_json_string(sotto_json_get(res, "text"), "?"));
    sotto_json_free(res);

    /* a late waiter (job already finished) gets the same texts from the session */
    texts late = {.st = st, .id = id};
    sotto_job again;
    ASSERT_OK(sotto_jobs_wait_stream(j, id, 5, on_text, &late, &again));
    ASSERT_STR_EQ(late.all, t.all);
    ASSERT_EQ(late.n_live, 0);
    sotto_job_clear(&again);
    sotto_job_clear(&job);

    /* timeout */
    const char *lng = make_long();
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, lng, "long.wav", id));
    ASSERT_EQ(sotto_jobs_wait(j, id, 0.2, &job), SOTTO_ECANCELED);
    ASSERT_STR_CONTAINS(sotto_last_error(), "timed out waiting for job");
    ASSERT_EQ(sotto_jobs_wait(j, "job_doesnotexist", 1, &job), SOTTO_ENOENT);
    sotto_jobs_stop(j, 1);
    sotto_store_close(st);
}

TEST(queue_full)
{
    const char *lng = make_long();
    const char *one = make_sentence("one", S3);
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 1, 2);
    char id[SOTTO_ID_LEN], busy[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, lng, NULL, busy));
    wait_transcribing(st, busy);
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, one, NULL, id));
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, one, NULL, id));
    ASSERT_EQ(sotto_jobs_submit(j, u.id, NULL, one, NULL, id), SOTTO_EUNAVAIL);
    ASSERT_STR_EQ(sotto_last_error(), "queue full (2 jobs waiting)");
    sotto_jobs_stats stats;
    sotto_jobs_get_stats(j, &stats);
    ASSERT_EQ(stats.queue_depth, 2);
    ASSERT_EQ(stats.running, 1);
    int64_t counts[7];
    ASSERT_OK(sotto_store_job_counts(st, counts));
    ASSERT_EQ(counts[SOTTO_JOB_PENDING], 2);
    sotto_jobs_stop(j, 1);
    sotto_store_close(st);
}

TEST(two_workers_six_jobs)
{
    const char *wav[2] = {make_sentence("a", S1), make_sentence("b", S2)};
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = start(st, 2, 0);
    char ids[6][SOTTO_ID_LEN];
    for (int i = 0; i < 6; i++)
        ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, wav[i % 2], NULL, ids[i]));
    double start_at[6], end_at[6], audio = 0;
    for (int i = 0; i < 6; i++) {
        sotto_job job;
        ASSERT_OK(sotto_jobs_wait(j, ids[i], 100, &job));
        ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
        ASSERT_EQ(job.attempts, 1);
        ASSERT_STR_CONTAINS(job.results_json, i % 2 ? "tomorrow" : "report");
        start_at[i] = job.started_at;
        end_at[i] = job.finished_at;
        audio += check_audio_seconds(wav[i % 2]);
        sotto_job_clear(&job);
    }
    /* two jobs ran at the same time */
    int overlap = 0;
    for (int a = 0; a < 6; a++)
        for (int b = a + 1; b < 6; b++)
            overlap |= start_at[a] < end_at[b] && start_at[b] < end_at[a];
    ASSERT_TRUE(overlap);
    sotto_session *list = NULL;
    size_t n = 0, total = 0;
    sotto_session_filter f = {"job", NULL, 0, 0, 0, 0};
    ASSERT_OK(sotto_store_session_list(st, u.id, &f, &list, &n, &total));
    ASSERT_EQ(total, 6); /* each job finished exactly once */
    sotto_session_list_free(list, n);
    sotto_jobs_stats stats;
    sotto_jobs_get_stats(j, &stats);
    ASSERT_EQ(stats.workers_alive, 2);
    ASSERT_NEAR(stats.audio_s_processed, audio, 0.05);
    printf("6 jobs, %.1f s audio, %.1f worker-s busy\n", stats.audio_s_processed, stats.busy_s);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}

/* The child: its own store handle and runner, one long job; it is killed mid-job. */
static void crash_child(const char *lng, int fd)
{
    sotto_user u;
    sotto_store *st = open_store(&u);
    sotto_jobs *j = NULL;
    sotto_jobs_options o;
    sotto_jobs_options_init(&o);
    char id[SOTTO_ID_LEN];
    if (sotto_jobs_start(st, &o, &j) != 0 || sotto_jobs_submit(j, u.id, NULL, lng, "long.wav", id) != 0)
        _exit(1);
    if (write(fd, id, SOTTO_ID_LEN) != SOTTO_ID_LEN)
        _exit(1);
    for (;;)
        pause();
}

TEST(crash_mid_job_completes_once_after_restart)
{
    const char *lng = make_long_n(2);
    sotto_user u;
    sotto_store *st0 = open_store(&u); /* schema and user exist before the child starts */
    sotto_store_close(st0);
    int fds[2];
    ASSERT_OK(pipe(fds));
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(lng, fds[1]);
    }
    close(fds[1]);
    char id[SOTTO_ID_LEN];
    ASSERT_EQ(read(fds[0], id, SOTTO_ID_LEN), SOTTO_ID_LEN);
    close(fds[0]);
    sotto_store *st = open_store(&u);
    wait_transcribing(st, id);
    ASSERT_OK(kill(pid, SIGKILL));
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus));
    ASSERT_EQ(job_status(st, id, NULL), SOTTO_JOB_TRANSCRIBING); /* left as it was */

    sotto_jobs *j = start(st, 1, 0); /* recovers the job */
    sotto_job job;
    ASSERT_OK(sotto_jobs_wait(j, id, 110, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
    ASSERT_EQ(job.attempts, 2);
    ASSERT_STR_CONTAINS(job.results_json, "train station");
    sotto_job_clear(&job);
    sotto_session *list = NULL;
    size_t n = 0, total = 0;
    sotto_session_filter f = {"job", NULL, 0, 0, 0, 0};
    ASSERT_OK(sotto_store_session_list(st, u.id, &f, &list, &n, &total));
    ASSERT_EQ(total, 1);
    sotto_session_list_free(list, n);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}

TEST(stop_with_running_jobs)
{
    const char *lng = make_long_n(2);
    const char *three = make_three();
    sotto_user u;
    sotto_store *st = open_store(&u);
    /* stop(cancel_running=0) lets the running job finish */
    sotto_jobs *j = start(st, 1, 0);
    char id[SOTTO_ID_LEN];
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, three, NULL, id));
    wait_transcribing(st, id);
    sotto_jobs_stop(j, 0);
    ASSERT_EQ(job_status(st, id, NULL), SOTTO_JOB_COMPLETE);

    /* stop(cancel_running=1) stops it at once; the next start runs it again */
    j = start(st, 1, 0);
    ASSERT_OK(sotto_jobs_submit(j, u.id, NULL, lng, NULL, id));
    wait_transcribing(st, id);
    double t0 = time(NULL);
    sotto_jobs_stop(j, 1);
    ASSERT_TRUE(time(NULL) - t0 <= 5);
    ASSERT_EQ(job_status(st, id, NULL), SOTTO_JOB_PENDING); /* released, not left claimed */
    j = start(st, 1, 0);
    sotto_job job;
    ASSERT_OK(sotto_jobs_wait(j, id, 110, &job));
    ASSERT_EQ(job.status, SOTTO_JOB_COMPLETE);
    ASSERT_EQ(job.attempts, 2);
    sotto_job_clear(&job);
    sotto_jobs_stop(j, 0);
    sotto_store_close(st);
}
