/*
 * test_nn_pool.c - the thread pool (every task exactly once, any thread count, several
 * callers at once, nested calls inline, shutdown and restart) and the matmul driver on
 * top of it (results independent of the thread count, fused GELU / residual add equal
 * to the separate ops, several products in one job).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
