/*
 * test_nn_pool.c - the thread pool (every task exactly once, any thread count, several
 * callers at once, nested calls inline, shutdown and restart; a worker that wakes late
 * or stalls mid-task neither holds the caller up nor runs a stale job; an idle pool uses
 * no CPU) and the matmul driver on top of it (results bit-identical for any thread count
 * and timing, fused GELU / residual add equal to the separate ops, several products in
 * one job).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "nn/nn.h"

#define MAX_TASKS 1000

typedef struct count_ctx {
    atomic_int hits[MAX_TASKS];
    atomic_int bad_nth;
    int n_tasks;
} count_ctx;

static void count_task(void *arg, int ith, int nth)
{
    count_ctx *c = arg;
    if (nth != c->n_tasks || ith < 0 || ith >= nth)
        atomic_fetch_add(&c->bad_nth, 1);
    else
        atomic_fetch_add(&c->hits[ith], 1);
}

static void check_each_once(int n_threads, int n_tasks)
{
    static count_ctx c;
    memset(&c, 0, sizeof c);
    c.n_tasks = n_tasks;
    nn_pool_run(n_threads, n_tasks, count_task, &c);
    ASSERT_EQ(atomic_load(&c.bad_nth), 0);
    for (int i = 0; i < n_tasks; i++)
        if (atomic_load(&c.hits[i]) != 1)
            CHECK_FAIL("threads %d tasks %d: task %d ran %d times", n_threads, n_tasks, i,
                       atomic_load(&c.hits[i]));
}

TEST(every_task_once)
{
    const int threads[] = {1, 2, 3, 4, 8};
    const int tasks[] = {0, 1, 2, 3, 7, 64, 1000};
    for (int rep = 0; rep < 20; rep++)
        for (size_t i = 0; i < sizeof threads / sizeof *threads; i++)
            for (size_t j = 0; j < sizeof tasks / sizeof *tasks; j++)
                check_each_once(threads[i], tasks[j]);
    /* the pool grew to the largest request and no further */
    ASSERT_EQ(nn_pool_size(), 8);
    nn_pool_shutdown();
    ASSERT_EQ(nn_pool_size(), 1);
    check_each_once(3, 100); /* restarts after a shutdown */
    ASSERT_EQ(nn_pool_size(), 3);
    nn_pool_shutdown();
}

/* Several caller threads at once, each with its own jobs. */
typedef struct caller_arg {
    int id;
    int failures;
} caller_arg;

typedef struct sum_ctx {
    const int *v;
    int64_t part[16];
} sum_ctx;

static void sum_task(void *arg, int ith, int nth)
{
    sum_ctx *c = arg;
    int64_t s = 0;
    for (int i = 1000 * ith / nth; i < 1000 * (ith + 1) / nth; i++)
        s += c->v[i];
    c->part[ith] = s;
}

static void *caller_main(void *p)
{
    caller_arg *a = p;
    int v[1000];
    int64_t want = 0;
    for (int i = 0; i < 1000; i++) {
        v[i] = i * (a->id + 1);
        want += v[i];
    }
    for (int rep = 0; rep < 300; rep++) {
        sum_ctx c = {.v = v};
        nn_pool_run(1 + (rep + a->id) % 4, 16, sum_task, &c);
        int64_t got = 0;
        for (int i = 0; i < 16; i++)
            got += c.part[i];
        a->failures += got != want;
    }
    return NULL;
}

TEST(concurrent_callers)
{
    pthread_t t[4];
    caller_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (caller_arg){.id = i};
        ASSERT_EQ(pthread_create(&t[i], NULL, caller_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(a[i].failures, 0);
    }
    nn_pool_shutdown();
}

/* A task that starts its own parallel job: the inner job runs inline, no deadlock. */
static void nested_task(void *arg, int ith, int nth)
{
    (void)nth;
    count_ctx *inner = (count_ctx *)arg + ith;
    nn_pool_run(4, inner->n_tasks, count_task, inner);
}

TEST(nested_runs_inline)
{
    static count_ctx inner[4];
    memset(inner, 0, sizeof inner);
    for (int i = 0; i < 4; i++)
        inner[i].n_tasks = 10 + i;
    nn_pool_run(4, 4, nested_task, inner);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < inner[i].n_tasks; j++)
            ASSERT_EQ(atomic_load(&inner[i].hits[j]), 1);
    nn_pool_shutdown();
}

/* ---- a worker the OS does not run: the test hook delays it -------------------------- */

static atomic_int g_late_ms;      /* how long worker 0 sleeps when it wakes for a job */
static atomic_int g_late_inside;  /* 1 while worker 0 is inside that sleep */
static atomic_int g_late_spread_us; /* > 0: every worker sleeps a varying 0 .. this us */

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void late_hook(int worker)
{
    int ms = atomic_load(&g_late_ms);
    if (worker == 0 && ms > 0) {
        atomic_store(&g_late_inside, 1);
        sleep_us(ms * 1000L);
        atomic_store(&g_late_inside, 0);
    }
    int spread = atomic_load(&g_late_spread_us);
    if (spread > 0) {
        static atomic_uint seq;
        unsigned s = atomic_fetch_add(&seq, 1u) * 2654435761u;
        sleep_us((long)((s >> 8) % (unsigned)spread));
    }
}

typedef struct who_ctx {
    atomic_int hits[MAX_TASKS];
    atomic_int by_caller;
    pthread_t caller;
} who_ctx;

static void who_task(void *arg, int ith, int nth)
{
    (void)nth;
    who_ctx *c = arg;
    atomic_fetch_add(&c->hits[ith], 1);
    if (pthread_equal(pthread_self(), c->caller))
        atomic_fetch_add(&c->by_caller, 1);
}

static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* Two tasks that each wait (up to 10 s) until both have started: proves a worker runs. */
static atomic_int g_meet;

static void meet_task(void *arg, int ith, int nth)
{
    (void)arg, (void)ith, (void)nth;
    atomic_fetch_add(&g_meet, 1);
    for (int i = 0; atomic_load(&g_meet) < 2 && i < 100000; i++)
        sleep_us(100);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The worker sleeps 2 s when it wakes for a job, before it claims anything: the caller
 * does every task itself and returns long before the worker is back (it waits for
 * claimed tasks, not for threads). Jobs posted while the worker sleeps, and after it
 * wakes into a finished generation, still run every task exactly once. */
TEST(late_worker_does_not_stall_caller)
{
    static who_ctx c;
    nn_pool_run(2, 2, meet_task, NULL); /* the worker is up and has run a task */
    ASSERT_EQ(atomic_load(&g_meet), 2);
    nn_pool_set_test_hook(late_hook);
    atomic_store(&g_late_ms, 2000);
    memset(&c, 0, sizeof c);
    c.caller = pthread_self();
    double t0 = now_s();
    nn_pool_run(2, 200, who_task, &c);
    double took = now_s() - t0;
    if (took > 1.0)
        CHECK_FAIL("the caller waited %.3f s for a worker that had not woken", took);
    ASSERT_EQ(atomic_load(&c.by_caller), 200);
    for (int i = 0; i < 200; i++)
        ASSERT_EQ(atomic_load(&c.hits[i]), 1);
    /* the worker reaches its 2 s sleep (if it had not yet); later wake-ups are on time */
    for (int wait_ms = 0; !atomic_load(&g_late_inside) && wait_ms < 10000; wait_ms++)
        sleep_us(1000);
    ASSERT_EQ(atomic_load(&g_late_inside), 1);
    atomic_store(&g_late_ms, 0);
    for (int rep = 0; rep < 50; rep++)
        check_each_once(2, 1 + rep * 7 % 300);
    for (int wait_ms = 0; atomic_load(&g_late_inside) && wait_ms < 10000; wait_ms += 10)
        sleep_us(10000);
    ASSERT_EQ(atomic_load(&g_late_inside), 0);
    /* the worker woke into a finished generation: it claims nothing stale */
    for (int rep = 0; rep < 200; rep++)
        check_each_once(2, 1 + rep * 13 % 500);
    nn_pool_set_test_hook(NULL);
    nn_pool_shutdown();
}

/* A worker that stalls in the middle of a task it claimed: the caller waits for exactly
 * that task (its result is needed) and the job completes with every task once. */
static void slow_on_worker(void *arg, int ith, int nth)
{
    who_ctx *c = arg;
    if (!pthread_equal(pthread_self(), c->caller))
        sleep_us(30000);
    who_task(arg, ith, nth);
}

TEST(stalled_worker_mid_task_completes)
{
    static who_ctx c;
    for (int rep = 0; rep < 5; rep++) {
        memset(&c, 0, sizeof c);
        c.caller = pthread_self();
        nn_pool_run(3, 40, slow_on_worker, &c);
        for (int i = 0; i < 40; i++)
            ASSERT_EQ(atomic_load(&c.hits[i]), 1);
        /* a worker holds each task it claims for 30 ms, in which the caller does the
         * rest: the workers can only have run a few */
        ASSERT_TRUE(atomic_load(&c.by_caller) >= 30);
    }
    nn_pool_shutdown();
}

/* Workers wake after random delays into a stream of jobs of changing sizes and
 * arguments: no task is lost, repeated, or run with another job's (ith, nth). */
TEST(random_late_workers_many_jobs)
{
    nn_pool_set_test_hook(late_hook);
    atomic_store(&g_late_spread_us, 300);
    for (int rep = 0; rep < 400; rep++)
        check_each_once(2 + rep % 4, 1 + (rep * 37) % 200);
    atomic_store(&g_late_spread_us, 0);
    nn_pool_set_test_hook(NULL);
    nn_pool_shutdown();
}

/* A pool at rest sleeps: over half a second without jobs the process uses (almost) no
 * CPU, with as many threads as CPUs and with more threads than CPUs. */
TEST(idle_pool_does_not_spin)
{
    const int threads[] = {2, 4, 9};
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        for (int rep = 0; rep < 20; rep++)
            check_each_once(threads[i], 64);
        sleep_us(20000); /* past the short spin after the last job */
        double t0 = process_cpu_s();
        sleep_us(500000);
        double used = process_cpu_s() - t0;
        /* A worker spinning at rest would burn the whole 0.5 s; the margin below that
         * absorbs CPU-time accounting of the jobs just before and late wake-ups of
         * workers on a loaded machine (0.051 s seen at load 28 on 2 cores). */
        if (used > 0.15)
            CHECK_FAIL("%d threads: %.3f s of CPU in 0.5 s at rest", threads[i], used);
    }
    nn_pool_shutdown();
}

/* ---- the matmul driver ----------------------------------------------------------------- */

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

typedef struct mm_case {
    nn_tensor w;
    void *wbuf;
    float *x, *bias;
    int64_t k, n, m;
} mm_case;

static mm_case make_case(nn_type t, int64_t k, int64_t n, int64_t m, uint64_t seed)
{
    mm_case c = {.k = k, .n = n, .m = m};
    size_t row = nn_row_bytes(t, k);
    c.wbuf = malloc(row * (size_t)n);
    float *tmp = malloc(sizeof *tmp * (size_t)k);
    for (int64_t r = 0; r < n; r++) {
        for (int64_t i = 0; i < k; i++)
            tmp[i] = frand(&seed) * 0.2f;
        nn_quantize_row(t, tmp, (uint8_t *)c.wbuf + (size_t)r * row, k);
    }
    free(tmp);
    c.x = malloc(sizeof *c.x * (size_t)(m * k));
    c.bias = malloc(sizeof *c.bias * (size_t)n);
    for (int64_t i = 0; i < m * k; i++)
        c.x[i] = frand(&seed) * 4;
    for (int64_t i = 0; i < n; i++)
        c.bias[i] = frand(&seed);
    c.w = (nn_tensor){.name = "w", .type = t, .n_dims = 2, .ne = {k, n, 1, 1}, .data = c.wbuf,
                      .nbytes = row * (size_t)n};
    return c;
}

static void free_case(mm_case *c)
{
    free(c->wbuf);
    free(c->x);
    free(c->bias);
}

/* Every range is computed by the same kernel: the split cannot change a single bit. */
TEST(matmul_independent_of_threads)
{
    const nn_type types[] = {NN_F32, NN_F16, NN_Q8_0, NN_Q4_0};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        mm_case c = make_case(types[ti], 256, 333, 37, 5 + ti);
        size_t ny = (size_t)(c.m * c.n);
        float *y1 = malloc(sizeof *y1 * ny), *yt = malloc(sizeof *yt * ny);
        nn_matmul(&c.w, c.bias, c.x, c.m, y1, 1);
        for (int nt = 2; nt <= 7; nt++) {
            nn_matmul(&c.w, c.bias, c.x, c.m, yt, nt);
            if (memcmp(y1, yt, sizeof *y1 * ny) != 0)
                CHECK_FAIL("%s: %d threads differ from 1", nn_type_name(types[ti]), nt);
        }
        free(y1);
        free(yt);
        free_case(&c);
    }
    nn_pool_shutdown();
}

/* Bit-identical results for 1 .. 4 threads over repeated runs, with workers waking at
 * random times (which thread computes which rows changes from run to run): several
 * products with fused post ops in one job, for each weight type. */
TEST(matmul_bit_identical_t1_to_t4_repeated)
{
    const nn_type types[] = {NN_F32, NN_F16, NN_Q8_0, NN_Q5_1, NN_Q4_0};
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        mm_case a = make_case(types[ti], 384, 1000, 1, 11 + ti);
        mm_case b = make_case(types[ti], 384, 384, 1, 21 + ti);
        mm_case g = make_case(types[ti], 256, 200, 3, 31 + ti);
        float *ya = malloc(sizeof(float) * 1000), *yb = malloc(sizeof(float) * 384);
        float *yg = malloc(sizeof(float) * 3 * 200), *acc = malloc(sizeof(float) * 384);
        float *ref = malloc(sizeof(float) * (1000 + 384 + 600 + 384));
        for (int rep = 0; rep < 12; rep++) {
            int nt = 1 + rep % 4;
            if (rep == 4) { /* the second half with late workers */
                nn_pool_set_test_hook(late_hook);
                atomic_store(&g_late_spread_us, 200);
            }
            for (int i = 0; i < 384; i++)
                acc[i] = (float)i * 0.25f;
            nn_matmul_op ops[3] = {{&a.w, a.bias, a.x, 1, ya, NN_POST_NONE, NULL},
                                   {&b.w, b.bias, b.x, 1, yb, NN_POST_ADD, acc},
                                   {&g.w, g.bias, g.x, 3, yg, NN_POST_GELU, NULL}};
            nn_matmul_multi(ops, 3, nt);
            float *got[4] = {ya, yb, yg, acc};
            const size_t len[4] = {1000, 384, 600, 384};
            size_t off = 0;
            for (int o = 0; o < 4; o++) {
                if (rep == 0)
                    memcpy(ref + off, got[o], sizeof(float) * len[o]);
                else if (memcmp(ref + off, got[o], sizeof(float) * len[o]) != 0)
                    CHECK_FAIL("%s: output %d with %d threads (run %d) differs from 1 thread",
                               nn_type_name(types[ti]), o, nt, rep);
                off += len[o];
            }
        }
        atomic_store(&g_late_spread_us, 0);
        nn_pool_set_test_hook(NULL);
        free(ya), free(yb), free(yg), free(acc), free(ref);
        free_case(&a), free_case(&b), free_case(&g);
    }
    nn_pool_shutdown();
}

TEST(matmul_fused_post_ops)
{
    mm_case a = make_case(NN_F16, 128, 200, 9, 1), b = make_case(NN_Q8_0, 64, 48, 9, 2);
    float *ya = malloc(sizeof(float) * 9 * 200), *ra = malloc(sizeof(float) * 9 * 200);
    float *yb = malloc(sizeof(float) * 9 * 48), *rb = malloc(sizeof(float) * 9 * 48);
    float *acc = malloc(sizeof(float) * 9 * 48), *racc = malloc(sizeof(float) * 9 * 48);
    for (int i = 0; i < 9 * 48; i++)
        acc[i] = racc[i] = (float)i * 0.01f;
    /* reference: separate ops on one thread */
    nn_matmul(&a.w, a.bias, a.x, 9, ra, 1);
    nn_gelu(ra, 9 * 200);
    nn_matmul(&b.w, b.bias, b.x, 9, rb, 1);
    nn_add(racc, rb, 9 * 48);
    /* both products, fused, in one job over 3 threads */
    nn_matmul_op ops[2] = {{&a.w, a.bias, a.x, 9, ya, NN_POST_GELU, NULL},
                           {&b.w, b.bias, b.x, 9, yb, NN_POST_ADD, acc}};
    nn_matmul_multi(ops, 2, 3);
    ASSERT_TRUE(memcmp(ya, ra, sizeof(float) * 9 * 200) == 0);
    ASSERT_TRUE(memcmp(yb, rb, sizeof(float) * 9 * 48) == 0);
    ASSERT_TRUE(memcmp(acc, racc, sizeof(float) * 9 * 48) == 0);
    free(ya), free(ra), free(yb), free(rb), free(acc), free(racc);
    free_case(&a);
    free_case(&b);
    nn_pool_shutdown();
}

/* The vectorizable exp against libm, and GELU against its tanh form. */
TEST(exp_and_gelu_accuracy)
{
    enum { N = 20001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++)
        x[i] = -90.0f + 180.0f * (float)i / (N - 1);
    nn_exp(x, y, N);
    for (int i = 0; i < N; i++) {
        double ref = exp((double)x[i]);
        if (x[i] < -87.3f) {
            ASSERT_TRUE(y[i] == 0.0f);
        } else if (x[i] <= 88.3f) {
            if (fabs(y[i] - ref) > 3e-7 * ref)
                CHECK_FAIL("exp(%g) = %g, libm %g", x[i], y[i], ref);
        }
    }
    for (int i = 0; i < N; i++)
        x[i] = -12.0f + 24.0f * (float)i / (N - 1), y[i] = x[i];
    nn_gelu(y, N);
    for (int i = 0; i < N; i++) {
        double v = x[i], ref = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
        if (fabs(y[i] - ref) > 1e-6 * (1 + fabs(ref)))
            CHECK_FAIL("gelu(%g) = %g, want %g", x[i], y[i], ref);
    }
}
