/*
 * test_store_seq.c - the per-session message numbers: gap-free and in each writer's order
 * under concurrent appenders (one session and several), and durable across a SIGKILL in
 * the middle of appends (everything reported is there exactly once, no gaps).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "store_test_fixtures.h"

/* ---- concurrency ------------------------------------------------------------------ */

#define N_THREADS 8
#define N_APPENDS 200

typedef struct appender {
    sotto_store *st;
    int64_t user;
    char sessions[4][SOTTO_ID_LEN];
    int n_sessions;
    int thread;
    int failed;
    int64_t seqs[N_APPENDS];
} appender;

static void *append_thread(void *arg)
{
    appender *a = arg;
    for (int i = 0; i < N_APPENDS; i++) {
        char text[64];
        snprintf(text, sizeof text, "t%d m%d", a->thread, i);
        sotto_message m;
        sotto_message_init(&m);
        snprintf(m.session_id, sizeof m.session_id, "%s", a->sessions[i % a->n_sessions]);
        snprintf(m.role, sizeof m.role, "user");
        m.content = text;
        if (sotto_store_message_append(a->st, a->user, &m) != 0) {
            fprintf(stderr, "append failed: %s\n", sotto_last_error());
            a->failed = 1;
            return NULL;
        }
        a->seqs[i] = m.seq;
    }
    return NULL;
}

/* Every session's seq numbers are exactly 1..n, and each thread's messages appear in the
 * order it appended them. */
static void check_gap_free(sotto_store *st, int64_t user, const char *ses, int expect)
{
    sotto_message *list;
    size_t n;
    ASSERT_OK(sotto_store_message_list(st, user, ses, 0, 0, &list, &n));
    ASSERT_EQ(n, expect);
    int last[N_THREADS];
    for (int t = 0; t < N_THREADS; t++)
        last[t] = -1;
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(list[i].seq, (int64_t)i + 1);
        int t = -1, k = -1;
        ASSERT_EQ(sscanf(list[i].content, "t%d m%d", &t, &k), 2);
        ASSERT_TRUE(t >= 0 && t < N_THREADS);
        ASSERT_TRUE(k > last[t]);
        last[t] = k;
    }
    sotto_message_list_free(list, n);
}

static double run_appenders(sotto_store *st, int64_t user, char sessions[][SOTTO_ID_LEN],
                            int n_sessions, int n_threads)
{
    static appender a[N_THREADS];
    pthread_t th[N_THREADS];
    double t0 = now_s();
    for (int t = 0; t < n_threads; t++) {
        memset(&a[t], 0, sizeof a[t]);
        a[t].st = st;
        a[t].user = user;
        a[t].thread = t;
        a[t].n_sessions = n_sessions;
        for (int s = 0; s < n_sessions; s++)
            memcpy(a[t].sessions[s], sessions[s], SOTTO_ID_LEN);
        ASSERT_EQ(pthread_create(&th[t], NULL, append_thread, &a[t]), 0);
    }
    for (int t = 0; t < n_threads; t++)
        pthread_join(th[t], NULL);
    double dt = now_s() - t0;
    for (int t = 0; t < n_threads; t++) {
        ASSERT_EQ(a[t].failed, 0);
        for (int i = 1; i < N_APPENDS; i++) /* a thread's own appends to one session rise */
            if (i >= n_sessions)
                ASSERT_TRUE(a[t].seqs[i] > a[t].seqs[i - n_sessions]);
    }
    return dt;
}

TEST(seq_gap_free_concurrent_one_session)
{
    sotto_store *st = open_store("concurrent1");
    int64_t user = add_user(st, "alice");
    char ses[1][SOTTO_ID_LEN], single[1][SOTTO_ID_LEN];
    new_session(st, user, "live", ses[0]);
    new_session(st, user, "live", single[0]);
    double t1 = run_appenders(st, user, single, 1, 1);
    double t8 = run_appenders(st, user, ses, 1, N_THREADS);
    check_gap_free(st, user, ses[0], N_THREADS * N_APPENDS);
    check_gap_free(st, user, single[0], N_APPENDS);
    printf("append: 1 thread %.0f msg/s (%.3f ms each); %d threads %.0f msg/s\n", N_APPENDS / t1,
           1e3 * t1 / N_APPENDS, N_THREADS, N_THREADS * N_APPENDS / t8);
    sotto_store_close(st);
}

TEST(seq_gap_free_concurrent_across_sessions)
{
    sotto_store *st = open_store("concurrent4");
    int64_t user = add_user(st, "alice");
    char ses[4][SOTTO_ID_LEN];
    for (int s = 0; s < 4; s++)
        new_session(st, user, "chat", ses[s]);
    run_appenders(st, user, ses, 4, N_THREADS);
    for (int s = 0; s < 4; s++)
        check_gap_free(st, user, ses[s], N_THREADS * N_APPENDS / 4);
    sotto_store_close(st);
}

/* ---- durability --------------------------------------------------------------------- */

/* A child appends messages ("m<seq>") and creates jobs, reporting each one through a pipe
 * only after the call returned; the parent kills it with SIGKILL at a random moment, then
 * checks that everything reported is there, exactly once, with no gap in seq. */
TEST(durability_sigkill_mid_append)
{
    const char *path = db_path("durable");
    sotto_store *st = open_store("durable");
    int64_t user = add_user(st, "alice");
    char ses[SOTTO_ID_LEN];
    new_session(st, user, "live", ses);
    sotto_store_close(st);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int64_t reported_seq = 0;
    int jobs_reported = 0;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            sotto_store *cs = NULL;
            if (sotto_store_open(path, &cs) != 0)
                _exit(3);
            for (int i = 0; i < 100000; i++) {
                sotto_message m;
                sotto_message_init(&m);
                snprintf(m.session_id, sizeof m.session_id, "%s", ses);
                snprintf(m.role, sizeof m.role, "user");
                char text[32];
                /* the next seq is known only after commit; the content names the count of
                 * messages before it, which must equal seq - 1 */
                snprintf(text, sizeof text, "r%d i%d", round, i);
                m.content = text;
                if (sotto_store_message_append(cs, user, &m) != 0)
                    _exit(4);
                char rec[64];
                int len = snprintf(rec, sizeof rec, "M %lld\n", (long long)m.seq);
                if (write(fds[1], rec, (size_t)len) != len)
                    _exit(5);
                if (i % 5 == 0) {
                    sotto_job in;
                    memset(&in, 0, sizeof in);
                    in.user_id = user;
                    in.input_path = "/tmp/x.wav";
                    char id[SOTTO_ID_LEN];
                    if (sotto_store_job_create(cs, &in, id) != 0)
                        _exit(6);
                    len = snprintf(rec, sizeof rec, "J %s\n", id);
                    if (write(fds[1], rec, (size_t)len) != len)
                        _exit(5);
                }
            }
            _exit(0);
        }
        close(fds[1]);
        usleep(50000 + (useconds_t)(rand() % 400000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        FILE *f = fdopen(fds[0], "r");
        ASSERT_TRUE(f != NULL);
        static char job_ids[20000][SOTTO_ID_LEN];
        int n_jobs = 0;
        char line[128];
        while (fgets(line, sizeof line, f)) {
            long long seq;
            if (sscanf(line, "M %lld", &seq) == 1) {
                ASSERT_EQ(seq, reported_seq + 1); /* reported in order, no gaps */
                reported_seq = seq;
            } else if (line[0] == 'J' && n_jobs < 20000 && strlen(line) > 2) {
                snprintf(job_ids[n_jobs], SOTTO_ID_LEN, "%.36s", line + 2);
                n_jobs++;
            }
        }
        fclose(f);
        ASSERT_TRUE(reported_seq > 0);

        ASSERT_OK(sotto_store_open(path, &st));
        sotto_message *list;
        size_t n;
        ASSERT_OK(sotto_store_message_list(st, user, ses, 0, 0, &list, &n));
        /* every reported message is there; at most one more committed before the kill */
        ASSERT_TRUE((int64_t)n >= reported_seq && (int64_t)n <= reported_seq + 1);
        for (size_t i = 0; i < n; i++)
            ASSERT_EQ(list[i].seq, (int64_t)i + 1);
        for (size_t i = 1; i < n; i++)
            ASSERT_TRUE(strcmp(list[i].content, list[i - 1].content) != 0);
        reported_seq = (int64_t)n; /* the next round continues after what is stored */
        sotto_message_list_free(list, n);
        for (int j = 0; j < n_jobs; j++) {
            sotto_job job;
            ASSERT_OK(sotto_store_job_get(st, user, job_ids[j], &job));
            ASSERT_EQ(job.status, SOTTO_JOB_PENDING);
            sotto_job_clear(&job);
        }
        jobs_reported += n_jobs;
        sotto_store_close(st);
        printf("round %d: %zu messages, %d jobs after SIGKILL\n", round, n, n_jobs);
    }
    ASSERT_TRUE(jobs_reported > 0);
    ASSERT_EQ(count_rows(path, "SELECT count(*) FROM (SELECT content FROM messages GROUP BY "
                               "content HAVING count(*) > 1)"),
              0);
}
