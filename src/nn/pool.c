/*
 * pool.c - the process's compute thread pool: persistent workers and a parallel-for
 * (nn_pool_run) that the calling thread joins.
 *
 * Workers are created lazily by the first call that asks for more threads than exist
 * and then live for the process (nn_pool_shutdown joins them, for leak checkers); a call
 * never allocates. One job runs at a time (a mutex serializes callers from different
 * threads: every job already uses all the threads it asked for, so queueing loses
 * nothing). Tasks are claimed from an atomic counter, so a worker that the OS delays
 * does not hold the others back. A worker spins briefly after a job (the decoder posts
 * tens of jobs per token, microseconds apart), then sleeps on a condition variable: an
 * idle pool costs no CPU. A task that itself calls nn_pool_run runs that inner job
 * inline on its own thread (no deadlock, no oversubscription).
 * Does not: decide how work is split (callers choose n_tasks; nn_matmul splits rows).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "base/base_int.h"
#include "nn/nn.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define SPIN_NS 200000L /* spin this long for the next job before sleeping */

typedef struct pool {
    pthread_mutex_t run_lock; /* one job at a time */
    pthread_mutex_t mu;       /* guards sleeping, quit, and the condition variables */
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* the caller waits here for the participants */
    pthread_t tids[NN_POOL_MAX_THREADS];
    int n_workers;            /* started workers (caller not counted) */
    int n_sleeping;           /* workers inside pthread_cond_wait(wake) */
    int caller_sleeping;
    int quit;

    /* The current job. ticket = (generation << 8) | helpers, one atomic word, so a worker
     * that wakes late reads the generation and whether it takes part together (workers
     * 0 .. helpers-1 do). fn, arg, n_tasks are written before the ticket is published and
     * stay put until every helper has finished, so only helpers read them. */
    _Atomic uint64_t ticket;
    nn_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;
    atomic_int n_finished;    /* helpers that have stopped claiming */
} pool;

static pool g_pool = {.run_lock = PTHREAD_MUTEX_INITIALIZER,
                      .mu = PTHREAD_MUTEX_INITIALIZER,
                      .wake = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
static _Thread_local int tl_in_job; /* 1 while this thread runs a task */

static long elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static void claim_tasks(pool *p)
{
    tl_in_job = 1;
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (i >= p->n_tasks)
            break;
        p->fn(p->arg, i, p->n_tasks);
    }
    tl_in_job = 0;
}

typedef struct worker_arg {
    int index;
    uint64_t gen; /* generation when it was started: the jobs after it are its own */
} worker_arg;

static worker_arg g_worker_args[NN_POOL_MAX_THREADS];

static void *worker_main(void *argp)
{
    pool *p = &g_pool;
    const int index = ((worker_arg *)argp)->index;
    uint64_t seen = ((worker_arg *)argp)->gen;
    for (;;) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; (atomic_load_explicit(&p->ticket, memory_order_acquire) >> 8) == seen; i++) {
            CPU_RELAX();
            if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS)
                break;
        }
        pthread_mutex_lock(&p->mu);
        while ((atomic_load_explicit(&p->ticket, memory_order_acquire) >> 8) == seen && !p->quit) {
            p->n_sleeping++;
            pthread_cond_wait(&p->wake, &p->mu);
            p->n_sleeping--;
        }
        int quit = p->quit;
        pthread_mutex_unlock(&p->mu);
        if (quit)
            break;
        uint64_t t = atomic_load_explicit(&p->ticket, memory_order_acquire);
        seen = t >> 8;
        const int helpers = (int)(t & 0xff);
        if (index >= helpers)
            continue; /* this job asked for fewer threads */
        claim_tasks(p);
        if (atomic_fetch_add_explicit(&p->n_finished, 1, memory_order_acq_rel) + 1 == helpers) {
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* Start workers until there are want of them (or thread creation fails: the pool then
 * runs with what it has). Called with run_lock held. */
static void grow(pool *p, int want)
{
    while (p->n_workers < want) {
        int i = p->n_workers;
        g_worker_args[i].index = i;
        g_worker_args[i].gen = atomic_load_explicit(&p->ticket, memory_order_relaxed) >> 8;
        if (pthread_create(&p->tids[i], NULL, worker_main, &g_worker_args[i]) != 0)
            break;
        p->n_workers++;
    }
}

void nn_pool_run(int n_threads, int n_tasks, nn_task_fn fn, void *arg)
{
    SOTTO_ASSERT(fn && n_tasks >= 0);
    if (n_tasks == 0)
        return;
    if (n_threads > NN_POOL_MAX_THREADS)
        n_threads = NN_POOL_MAX_THREADS;
    if (n_threads > n_tasks)
        n_threads = n_tasks;
    if (n_threads <= 1 || tl_in_job) {
        for (int i = 0; i < n_tasks; i++)
            fn(arg, i, n_tasks);
        return;
    }
    pool *p = &g_pool;
    pthread_mutex_lock(&p->run_lock);
    grow(p, n_threads - 1);
    int helpers = n_threads - 1 < p->n_workers ? n_threads - 1 : p->n_workers;
    p->fn = fn, p->arg = arg, p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&p->n_finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    uint64_t gen = (atomic_load_explicit(&p->ticket, memory_order_relaxed) >> 8) + 1;
    atomic_store_explicit(&p->ticket, gen << 8 | (uint64_t)helpers, memory_order_release);
    if (p->n_sleeping > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    claim_tasks(p);

    /* wait for the helpers: spin a little, then sleep until the last one signals */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; atomic_load_explicit(&p->n_finished, memory_order_acquire) < helpers; i++) {
        CPU_RELAX();
        if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS)
            break;
    }
    if (atomic_load_explicit(&p->n_finished, memory_order_acquire) < helpers) {
        pthread_mutex_lock(&p->mu);
        p->caller_sleeping = 1;
        while (atomic_load_explicit(&p->n_finished, memory_order_acquire) < helpers)
            pthread_cond_wait(&p->done, &p->mu);
        p->caller_sleeping = 0;
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->run_lock);
}

int nn_pool_size(void)
{
    pool *p = &g_pool;
    pthread_mutex_lock(&p->run_lock);
    int n = p->n_workers + 1;
    pthread_mutex_unlock(&p->run_lock);
    return n;
}

void nn_pool_shutdown(void)
{
    pool *p = &g_pool;
    pthread_mutex_lock(&p->run_lock);
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->tids[i], NULL);
    p->n_workers = 0;
    pthread_mutex_lock(&p->mu);
    p->quit = 0;
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->run_lock);
}
