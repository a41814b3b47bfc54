/*
 * test_store_jobs.c - the store's durable job queue: records, claim order, no double
 * claim under concurrent claimers, cancel while running, finish exactly once, recovery
 * after a crash, delete, counts and isolation between users.
 */
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "store_test_fixtures.h"

/* Claim the next job as worker "w", asserting there was one; the record is not kept. */
static void claim_next(sotto_store *st)
{
    sotto_job j;
    ASSERT_EQ(sotto_store_job_claim(st, "w", &j), 1);
    sotto_job_clear(&j);
}

/* A new job on "/in" for user, claimed at once (PREPROCESSING, attempt 1). */
static void new_claimed_job(sotto_store *st, int64_t user, char id[SOTTO_ID_LEN])
{
    new_job(st, user, "/in", id);
    claim_next(st);
}

/* How many jobs the store counts in status s. */
static int64_t jobs_in(sotto_store *st, sotto_job_status s)
{
    int64_t counts[7];
    ASSERT_OK(sotto_store_job_counts(st, counts));
    return counts[s];
}

/* How many sessions user has (the transcripts finished jobs made). */
static size_t n_sessions(sotto_store *st, int64_t user)
{
    sotto_session *list;
    size_t n, total;
    ASSERT_OK(sotto_store_session_list(st, user, NULL, &list, &n, &total));
    sotto_session_list_free(list, n);
    return total;
}

TEST(status_names)
{
    ASSERT_STR_EQ(sotto_job_status_name(SOTTO_JOB_PENDING), "PENDING");
    ASSERT_STR_EQ(sotto_job_status_name(SOTTO_JOB_CANCELLED), "CANCELLED");
    ASSERT_STR_EQ(sotto_job_status_name((sotto_job_status)42), "UNKNOWN");
    sotto_job_status s;
    ASSERT_OK(sotto_job_status_parse("TRANSCRIBING", &s));
    ASSERT_EQ(s, SOTTO_JOB_TRANSCRIBING);
    ASSERT_OK(sotto_job_status_parse("complete", &s));
    ASSERT_EQ(s, SOTTO_JOB_COMPLETE);
    ASSERT_EQ(sotto_job_status_parse("DONE", &s), SOTTO_EINVAL);
    ASSERT_EQ(sotto_job_status_parse(NULL, &s), SOTTO_EINVAL);
    ASSERT_TRUE(sotto_job_status_terminal(SOTTO_JOB_FAILED));
    ASSERT_TRUE(!sotto_job_status_terminal(SOTTO_JOB_POSTPROCESSING));
}

TEST(create_get_list)
{
    sotto_store *st = open_store("records");
    int64_t alice = add_user(st, "alice");
    char ids[5][SOTTO_ID_LEN];
    for (int i = 0; i < 5; i++)
        new_job(st, alice, "/data/in.wav", ids[i]);
    ASSERT_TRUE(strncmp(ids[0], "job_", 4) == 0 && strlen(ids[0]) == 36);
    sotto_job j;
    ASSERT_OK(sotto_store_job_get(st, alice, ids[0], &j));
    ASSERT_STR_EQ(j.id, ids[0]);
    ASSERT_EQ(j.user_id, alice);
    ASSERT_EQ(j.status, SOTTO_JOB_PENDING);
    ASSERT_STR_EQ(j.options_json, "{\"backend\":\"sphinx\"}");
    ASSERT_STR_EQ(j.input_path, "/data/in.wav");
    ASSERT_STR_EQ(j.input_name, "talk.wav");
    ASSERT_TRUE(j.versions_json == NULL && j.results_json == NULL && j.error == NULL);
    ASSERT_STR_EQ(j.session_id, "");
    ASSERT_EQ(j.attempts, 0);
    ASSERT_TRUE(j.created_at > 1e9);
    sotto_job_clear(&j);
    sotto_job_clear(NULL);

    sotto_job *list;
    size_t n, total;
    ASSERT_OK(sotto_store_job_list(st, alice, NULL, &list, &n, &total));
    ASSERT_EQ(n, 5);
    ASSERT_EQ(total, 5);
    ASSERT_STR_EQ(list[0].id, ids[4]); /* newest first */
    sotto_job_list_free(list, n);
    sotto_job_filter f = {.status = SOTTO_JOB_PENDING, .limit = 2, .offset = 1};
    ASSERT_OK(sotto_store_job_list(st, alice, &f, &list, &n, &total));
    ASSERT_EQ(n, 2);
    ASSERT_EQ(total, 5);
    ASSERT_STR_EQ(list[0].id, ids[3]);
    sotto_job_list_free(list, n);
    sotto_job_filter done = {.status = SOTTO_JOB_COMPLETE};
    ASSERT_OK(sotto_store_job_list(st, alice, &done, &list, &n, &total));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(total, 0);
    sotto_job_list_free(list, n);
    sotto_job_filter bad = {.status = 9};
    ASSERT_EQ(sotto_store_job_list(st, alice, &bad, &list, &n, &total), SOTTO_EINVAL);

    sotto_job in;
    memset(&in, 0, sizeof in);
    in.user_id = alice;
    char id[SOTTO_ID_LEN];
    ASSERT_EQ(sotto_store_job_create(st, &in, id), SOTTO_EINVAL); /* no input path */
    in.input_path = "/x";
    in.user_id = 777;
    ASSERT_EQ(sotto_store_job_create(st, &in, id), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_job_get(st, alice, "job_nope", &j), SOTTO_ENOENT);
    sotto_store_close(st);
}

TEST(claim_order_and_empty_queue)
{
    sotto_store *st = open_store("claim");
    int64_t alice = add_user(st, "alice");
    char ids[5][SOTTO_ID_LEN];
    for (int i = 0; i < 5; i++)
        new_job(st, alice, "/in", ids[i]);
    for (int i = 0; i < 5; i++) {
        sotto_job j;
        ASSERT_EQ(sotto_store_job_claim(st, "worker-1", &j), 1);
        ASSERT_STR_EQ(j.id, ids[i]); /* oldest first */
        ASSERT_EQ(j.status, SOTTO_JOB_PREPROCESSING);
        ASSERT_EQ(j.attempts, 1);
        ASSERT_TRUE(j.started_at > 0);
        sotto_job_clear(&j);
    }
    sotto_job j;
    ASSERT_EQ(sotto_store_job_claim(st, "worker-1", &j), 0);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_PENDING), 0);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_PREPROCESSING), 5);
    sotto_store_close(st);
}

#define N_CLAIMERS 4
#define N_QUEUED 200

typedef struct claimer {
    sotto_store *st;
    char ids[N_QUEUED][SOTTO_ID_LEN];
    int n;
    int failed;
} claimer;

static void *claim_thread(void *arg)
{
    claimer *c = arg;
    for (;;) {
        sotto_job j;
        int rc = sotto_store_job_claim(c->st, "w", &j);
        if (rc == 0)
            return NULL;
        if (rc < 0 || c->n >= N_QUEUED) {
            c->failed = 1;
            return NULL;
        }
        memcpy(c->ids[c->n++], j.id, SOTTO_ID_LEN);
        sotto_job_clear(&j);
    }
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

TEST(no_double_claim_under_concurrency)
{
    sotto_store *st = open_store("claim4");
    int64_t alice = add_user(st, "alice");
    static char created[N_QUEUED][SOTTO_ID_LEN];
    for (int i = 0; i < N_QUEUED; i++)
        new_job(st, alice, "/in", created[i]);
    static claimer c[N_CLAIMERS];
    pthread_t th[N_CLAIMERS];
    for (int t = 0; t < N_CLAIMERS; t++) {
        memset(&c[t], 0, sizeof c[t]);
        c[t].st = st;
        ASSERT_EQ(pthread_create(&th[t], NULL, claim_thread, &c[t]), 0);
    }
    static char claimed[N_QUEUED * N_CLAIMERS][SOTTO_ID_LEN];
    int n = 0;
    for (int t = 0; t < N_CLAIMERS; t++) {
        pthread_join(th[t], NULL);
        ASSERT_EQ(c[t].failed, 0);
        for (int i = 0; i < c[t].n; i++)
            memcpy(claimed[n++], c[t].ids[i], SOTTO_ID_LEN);
    }
    /* every job claimed exactly once */
    ASSERT_EQ(n, N_QUEUED);
    qsort(claimed, (size_t)n, SOTTO_ID_LEN, cmp_id);
    qsort(created, N_QUEUED, SOTTO_ID_LEN, cmp_id);
    for (int i = 0; i < n; i++)
        ASSERT_STR_EQ(claimed[i], created[i]);
    sotto_job *list;
    size_t nl, total;
    sotto_job_filter f = {.status = -1, .limit = 1000};
    ASSERT_OK(sotto_store_job_list(st, -1, &f, &list, &nl, &total));
    ASSERT_EQ(nl, N_QUEUED);
    for (size_t i = 0; i < nl; i++) {
        ASSERT_EQ(list[i].attempts, 1);
        ASSERT_EQ(list[i].status, SOTTO_JOB_PREPROCESSING);
    }
    sotto_job_list_free(list, nl);
    sotto_store_close(st);
}

TEST(cancel_while_running_stops_progress)
{
    sotto_store *st = open_store("cancel");
    int64_t alice = add_user(st, "alice");
    char id[SOTTO_ID_LEN], pend[SOTTO_ID_LEN];
    new_claimed_job(st, alice, id);
    new_job(st, alice, "/in", pend);
    sotto_job j;
    ASSERT_OK(sotto_store_job_progress(st, id, SOTTO_JOB_TRANSCRIBING, 0.4, "{\"sotto\":\"0.1\"}"));
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    ASSERT_EQ(j.status, SOTTO_JOB_TRANSCRIBING);
    ASSERT_NEAR(j.progress, 0.4, 1e-12);
    ASSERT_STR_EQ(j.versions_json, "{\"sotto\":\"0.1\"}");
    sotto_job_clear(&j);
    ASSERT_OK(sotto_store_job_progress(st, id, SOTTO_JOB_TRANSCRIBING, 0.5, NULL));
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    ASSERT_STR_EQ(j.versions_json, "{\"sotto\":\"0.1\"}"); /* NULL keeps what was there */
    sotto_job_clear(&j);
    ASSERT_EQ(sotto_store_job_progress(st, id, SOTTO_JOB_COMPLETE, 1, NULL), SOTTO_EINVAL);
    ASSERT_EQ(sotto_store_job_progress(st, pend, SOTTO_JOB_TRANSCRIBING, 0.1, NULL), SOTTO_EINVAL);

    ASSERT_OK(sotto_store_job_cancel(st, alice, id));
    ASSERT_OK(sotto_store_job_cancel(st, alice, pend)); /* pending jobs cancel too */
    ASSERT_EQ(sotto_store_job_progress(st, id, SOTTO_JOB_POSTPROCESSING, 0.9, NULL),
              SOTTO_ECANCELED);
    ASSERT_STR_CONTAINS(sotto_last_error(), "cancelled");
    sotto_session ses;
    memset(&ses, 0, sizeof ses);
    ASSERT_EQ(sotto_store_job_complete(st, id, "{}", NULL, &ses, NULL, 0), SOTTO_ECANCELED);
    ASSERT_EQ(sotto_store_job_fail(st, id, "boom", NULL), SOTTO_ECANCELED);
    ASSERT_EQ(job_status(st, id), SOTTO_JOB_CANCELLED);
    ASSERT_OK(sotto_store_job_cancel(st, alice, id)); /* terminal: unchanged, no error */
    ASSERT_EQ(job_status(st, id), SOTTO_JOB_CANCELLED);
    ASSERT_EQ(sotto_store_job_claim(st, "w", &j), 0); /* the cancelled pending one is gone */
    /* no transcript session was created for the cancelled job */
    ASSERT_EQ(n_sessions(st, alice), 0);
    sotto_store_close(st);
}

TEST(complete_exactly_once_with_transcript)
{
    sotto_store *st = open_store("complete");
    int64_t alice = add_user(st, "alice");
    char id[SOTTO_ID_LEN], pend[SOTTO_ID_LEN];
    new_claimed_job(st, alice, id);
    new_job(st, alice, "/in", pend);
    sotto_job j;

    sotto_session ses;
    memset(&ses, 0, sizeof ses);
    ses.user_id = 999; /* ignored: the session belongs to the job's user */
    ses.title = "talk.wav";
    snprintf(ses.language, sizeof ses.language, "en");
    sotto_message msgs[3];
    const char *texts[] = {"hello world", "second segment", "the end"};
    for (int i = 0; i < 3; i++) {
        sotto_message_init(&msgs[i]);
        snprintf(msgs[i].role, sizeof msgs[i].role, "user");
        msgs[i].content = (char *)texts[i];
        msgs[i].start_s = i * 2.0;
        msgs[i].end_s = i * 2.0 + 1.5;
    }
    ASSERT_EQ(sotto_store_job_complete(st, pend, "{}", NULL, &ses, msgs, 3), SOTTO_EINVAL);
    ASSERT_OK(sotto_store_job_complete(st, id, "{\"txt\":\"hello world\"}", "{\"rtf\":0.1}", &ses,
                                       msgs, 3));
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    ASSERT_EQ(j.status, SOTTO_JOB_COMPLETE);
    ASSERT_NEAR(j.progress, 1, 0);
    ASSERT_STR_EQ(j.results_json, "{\"txt\":\"hello world\"}");
    ASSERT_STR_EQ(j.metrics_json, "{\"rtf\":0.1}");
    ASSERT_TRUE(j.finished_at >= j.started_at && j.finished_at > 0);
    ASSERT_TRUE(strncmp(j.session_id, "ses_", 4) == 0);
    char session_id[SOTTO_ID_LEN];
    memcpy(session_id, j.session_id, SOTTO_ID_LEN);
    sotto_job_clear(&j);

    sotto_session s;
    ASSERT_OK(sotto_store_session_get(st, alice, session_id, &s));
    ASSERT_STR_EQ(s.type, "job");
    ASSERT_STR_EQ(s.status, "ended");
    ASSERT_STR_EQ(s.title, "talk.wav");
    ASSERT_EQ(s.user_id, alice);
    sotto_session_clear(&s);
    sotto_message *list;
    size_t n;
    ASSERT_OK(sotto_store_message_list(st, alice, session_id, 0, 0, &list, &n));
    ASSERT_EQ(n, 3);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(list[i].seq, (int64_t)i + 1);
        ASSERT_STR_EQ(list[i].content, texts[i]);
    }
    sotto_message_list_free(list, n);
    sotto_search_hit *hits;
    ASSERT_OK(sotto_store_search(st, alice, "segment", 0, 0, &hits, &n));
    ASSERT_EQ(n, 1);
    sotto_search_hits_free(hits, n);

    /* a second finish is refused and changes nothing */
    ASSERT_EQ(sotto_store_job_complete(st, id, "{\"txt\":\"again\"}", NULL, &ses, msgs, 3),
              SOTTO_EINVAL);
    ASSERT_STR_CONTAINS(sotto_last_error(), "already COMPLETE");
    ASSERT_EQ(sotto_store_job_fail(st, id, "late failure", NULL), SOTTO_EINVAL);
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    ASSERT_EQ(j.status, SOTTO_JOB_COMPLETE);
    ASSERT_STR_EQ(j.results_json, "{\"txt\":\"hello world\"}");
    ASSERT_TRUE(j.error == NULL);
    sotto_job_clear(&j);
    ASSERT_EQ(n_sessions(st, alice), 1); /* no second transcript */
    ASSERT_EQ(sotto_store_job_complete(st, "job_missing", "{}", NULL, NULL, NULL, 0), SOTTO_ENOENT);
    sotto_store_close(st);
}

TEST(fail_records_error)
{
    sotto_store *st = open_store("fail");
    int64_t alice = add_user(st, "alice");
    char id[SOTTO_ID_LEN];
    new_claimed_job(st, alice, id);
    sotto_job j;
    ASSERT_OK(sotto_store_job_progress(st, id, SOTTO_JOB_TRANSCRIBING, 0.3, NULL));
    ASSERT_OK(sotto_store_job_fail(st, id, "decoder exploded", "{\"s\":1}"));
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    ASSERT_EQ(j.status, SOTTO_JOB_FAILED);
    ASSERT_STR_EQ(j.error, "decoder exploded");
    ASSERT_STR_EQ(j.metrics_json, "{\"s\":1}");
    ASSERT_NEAR(j.progress, 0.3, 1e-12);
    ASSERT_STR_EQ(j.session_id, "");
    sotto_job_clear(&j);
    ASSERT_EQ(sotto_store_job_fail(st, id, "again", NULL), SOTTO_EINVAL);
    ASSERT_EQ(sotto_store_job_complete(st, id, "{}", NULL, NULL, NULL, 0), SOTTO_EINVAL);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_FAILED), 1);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_COMPLETE), 0);
    sotto_store_close(st);
}

TEST(recover_after_crash)
{
    sotto_store *st = open_store("recover");
    int64_t alice = add_user(st, "alice");
    char a[SOTTO_ID_LEN], b[SOTTO_ID_LEN], c[SOTTO_ID_LEN];
    new_job(st, alice, "/in", a);
    new_job(st, alice, "/in", b);
    new_job(st, alice, "/in", c);
    claim_next(st); /* a */
    claim_next(st); /* b */
    sotto_job j;
    ASSERT_OK(sotto_store_job_progress(st, a, SOTTO_JOB_TRANSCRIBING, 0.7, NULL));
    ASSERT_OK(sotto_store_job_fail(st, b, "bad", NULL));
    /* the process "dies": close without finishing a, reopen */
    sotto_store_close(st);
    ASSERT_OK(sotto_store_open(db_path("recover"), &st));
    ASSERT_EQ(job_status(st, a), SOTTO_JOB_TRANSCRIBING);
    size_t n = 99;
    ASSERT_OK(sotto_store_job_recover(st, &n));
    ASSERT_EQ(n, 1);
    ASSERT_OK(sotto_store_job_get(st, alice, a, &j));
    ASSERT_EQ(j.status, SOTTO_JOB_PENDING);
    ASSERT_EQ(j.attempts, 1);
    ASSERT_NEAR(j.progress, 0, 0);
    sotto_job_clear(&j);
    ASSERT_EQ(job_status(st, b), SOTTO_JOB_FAILED);
    ASSERT_OK(sotto_store_job_recover(st, &n));
    ASSERT_EQ(n, 0);
    /* the recovered job is first in line again (it is older than c) */
    ASSERT_EQ(sotto_store_job_claim(st, "w2", &j), 1);
    ASSERT_STR_EQ(j.id, a);
    ASSERT_EQ(j.attempts, 2);
    sotto_job_clear(&j);
    sotto_store_close(st);
}

TEST(delete_returns_input_path)
{
    sotto_store *st = open_store("delete");
    int64_t alice = add_user(st, "alice");
    char id[SOTTO_ID_LEN];
    new_job(st, alice, "/data/uploads/abc.wav", id);
    claim_next(st);
    sotto_job j;
    char *path = NULL;
    ASSERT_OK(sotto_store_job_delete(st, alice, id, &path));
    ASSERT_STR_EQ(path, "/data/uploads/abc.wav");
    free(path);
    ASSERT_EQ(sotto_store_job_get(st, alice, id, &j), SOTTO_ENOENT);
    /* the worker still holding it learns it is gone */
    ASSERT_EQ(sotto_store_job_progress(st, id, SOTTO_JOB_TRANSCRIBING, 0.5, NULL), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_job_complete(st, id, "{}", NULL, NULL, NULL, 0), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_job_delete(st, alice, id, &path), SOTTO_ENOENT);
    ASSERT_TRUE(path == NULL);
    ASSERT_EQ(sotto_store_job_cancel(st, alice, id), SOTTO_ENOENT);
    sotto_store_close(st);
}

TEST(isolation_between_users)
{
    sotto_store *st = open_store("isolation");
    int64_t alice = add_user(st, "alice"), bob = add_user(st, "bob");
    char id[SOTTO_ID_LEN], bid[SOTTO_ID_LEN];
    new_job(st, alice, "/alice.wav", id);
    new_job(st, bob, "/bob.wav", bid);
    sotto_job j;
    ASSERT_EQ(sotto_store_job_get(st, bob, id, &j), SOTTO_ENOENT);
    ASSERT_EQ(sotto_store_job_cancel(st, bob, id), SOTTO_ENOENT);
    char *path = NULL;
    ASSERT_EQ(sotto_store_job_delete(st, bob, id, &path), SOTTO_ENOENT);
    ASSERT_TRUE(path == NULL);
    sotto_job *list;
    size_t n, total;
    ASSERT_OK(sotto_store_job_list(st, bob, NULL, &list, &n, &total));
    ASSERT_EQ(n, 1);
    ASSERT_EQ(total, 1);
    ASSERT_STR_EQ(list[0].id, bid);
    sotto_job_list_free(list, n);
    ASSERT_EQ(job_status(st, id), SOTTO_JOB_PENDING); /* untouched */
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    sotto_job_clear(&j);

    /* a finished job's transcript belongs to the job's owner only */
    ASSERT_EQ(sotto_store_job_claim(st, "w", &j), 1);
    ASSERT_STR_EQ(j.id, id);
    sotto_job_clear(&j);
    sotto_session ses;
    memset(&ses, 0, sizeof ses);
    ASSERT_OK(sotto_store_job_complete(st, id, "{}", NULL, &ses, NULL, 0));
    ASSERT_OK(sotto_store_job_get(st, alice, id, &j));
    sotto_session s;
    ASSERT_EQ(sotto_store_session_get(st, bob, j.session_id, &s), SOTTO_ENOENT);
    ASSERT_OK(sotto_store_session_get(st, alice, j.session_id, &s));
    sotto_session_clear(&s);
    sotto_job_clear(&j);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_PENDING), 1);
    ASSERT_EQ(jobs_in(st, SOTTO_JOB_COMPLETE), 1);
    sotto_store_close(st);
}
