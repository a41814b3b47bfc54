/*
 * pool.c - the process's compute thread pool: persistent workers and a parallel-for
 * (nn_pool_run) that the calling thread joins.
 *
 * Workers are created lazily by the first call that asks for more threads than exist
 * and then live for the process (nn_pool_shutdown joins them, for leak checkers); a call
 * never allocates. One job runs at a time (a mutex serializes callers from different
 * threads: every job already uses all the threads it asked for, so queueing loses
 * nothing). A task that itself calls nn_pool_run runs that inner job inline on its own
 * thread (no deadlock, no oversubscription).
 *
 * Why it is built this way: a decoder step posts a few hundred jobs of microseconds
 * each. If the caller waited for every worker it asked for, a worker that the OS has
 * descheduled (another process loads the machine) would stall the step for a whole
 * scheduler slice although the caller could have done its share. So:
 * - Tasks are claimed from one atomic word (generation, tasks left). The caller claims
 *   too, and it waits only for tasks that another thread has actually claimed and not
 *   finished, never for a worker that has not woken yet: such a worker finds the job
 *   drained (or a newer generation) and claims nothing. Each task runs exactly once, on
 *   whichever thread claimed it, so results cannot depend on timing.
 * - A claim succeeds only on a word of the claimant's own generation with tasks left,
 *   and fn, arg and n_tasks are read only after a successful claim (the job cannot end
 *   while one of its tasks is unfinished), so a late worker never runs a stale job.
 * - Waiting threads spin for a short bounded time (jobs come microseconds apart), then
 *   sleep on a condition variable: an idle pool costs no CPU. When a job's threads
 *   outnumber the CPUs this process may run on, nobody spins: a spinning thread would
 *   take the core that the thread it waits for needs.
 * Does not: decide how work is split (callers choose n_tasks; nn_matmul splits rows).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "base/base_int.h"
#include "nn/nn.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Spin this long for the next job / the last task before sleeping. It covers the gaps
 * between the jobs of a decoder step; 200 us cost 10-30% more CPU per token under load
 * for no lower latency (A/B measured, tiny and base q8_0, 2 threads). */
#define SPIN_NS 50000L

typedef struct pool {
    pthread_mutex_t run_lock; /* one job at a time */
    pthread_mutex_t mu;       /* guards the sleep counters, quit, and the condition variables */
    pthread_cond_t wake;      /* workers wait here for a new generation */
    pthread_cond_t done;      /* the caller waits here for the last claimed task */
    pthread_t tids[NN_POOL_MAX_THREADS];
    int n_workers;            /* started workers (caller not counted) */
    int n_sleeping;           /* workers inside pthread_cond_wait(wake) */
    int caller_sleeping;
    int quit;
    int n_cpus;               /* CPUs this process may run on (0: not read yet) */

    /* ticket = (generation << 8) | helpers: workers 0 .. helpers-1 take part in the job
     * of that generation. Published last (release), after everything below. */
    _Atomic uint64_t ticket;
    /* claim = (generation mod 2^32) << 32 | tasks not yet claimed. */
    _Atomic uint64_t claim;
    atomic_int spin;          /* 1 when waiting threads may spin (threads <= CPUs) */
    /* Read only by a thread holding a claimed task of the current job (stable then). */
    nn_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int n_done;        /* tasks of the current job that have finished */
} pool;

static pool g_pool = {.run_lock = PTHREAD_MUTEX_INITIALIZER,
                      .mu = PTHREAD_MUTEX_INITIALIZER,
                      .wake = PTHREAD_COND_INITIALIZER,
                      .done = PTHREAD_COND_INITIALIZER};
static _Thread_local int tl_in_job; /* 1 while this thread runs a task */
static void (*_Atomic g_test_hook)(int worker);

void nn_pool_set_test_hook(void (*hook)(int worker))
{
    atomic_store(&g_test_hook, hook);
}

static long elapsed_ns(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Claim and run tasks of generation gen until none is left (or a newer job replaced it).
 * The claim word's generation check is what keeps a late thread out of a later job. */
static void claim_tasks(pool *p, uint64_t gen)
{
    const uint64_t tag = (gen & 0xffffffffu) << 32;
    uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
    tl_in_job = 1;
    for (;;) {
        if ((c & ~(uint64_t)0xffffffffu) != tag || (c & 0xffffffffu) == 0)
            break;
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &c, c - 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* c now holds the current word */
        /* task claimed: the job cannot finish before it does, so its fields are stable */
        const int n = p->n_tasks, i = n - (int)(c & 0xffffffffu);
        p->fn(p->arg, i, n);
        if (atomic_fetch_add_explicit(&p->n_done, 1, memory_order_acq_rel) + 1 == n) {
            /* the last task: wake the caller if it went to sleep (a flag of a later job
             * read here only causes a spurious wake-up, which the caller re-checks) */
            pthread_mutex_lock(&p->mu);
            if (p->caller_sleeping)
                pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        c = atomic_load_explicit(&p->claim, memory_order_acquire);
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
        if (atomic_load_explicit(&p->spin, memory_order_relaxed)) {
            struct timespec t0;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int i = 0; (atomic_load_explicit(&p->ticket, memory_order_acquire) >> 8) == seen; i++) {
                CPU_RELAX();
                if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS)
                    break;
            }
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
        if (index >= (int)(t & 0xff))
            continue; /* this job asked for fewer threads */
        void (*hook)(int) = atomic_load(&g_test_hook);
        if (hook)
            hook(index); /* tests: play a worker that the OS has not run yet */
        claim_tasks(p, seen);
    }
    return NULL;
}

/* CPUs this process may run on (its affinity mask; a cgroup quota is not seen). */
static int count_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
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
    if (p->n_cpus == 0)
        p->n_cpus = count_cpus();
    grow(p, n_threads - 1);
    const int helpers = n_threads - 1 < p->n_workers ? n_threads - 1 : p->n_workers;
    const int spin = helpers + 1 <= p->n_cpus;
    p->fn = fn, p->arg = arg, p->n_tasks = n_tasks;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->spin, spin, memory_order_relaxed);
    const uint64_t gen = (atomic_load_explicit(&p->ticket, memory_order_relaxed) >> 8) + 1;
    atomic_store_explicit(&p->claim, (gen & 0xffffffffu) << 32 | (uint64_t)n_tasks,
                          memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->ticket, gen << 8 | (uint64_t)helpers, memory_order_release);
    if (p->n_sleeping > 0)
        pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    claim_tasks(p, gen);

    /* Nothing is left to claim: wait for the tasks other threads hold (not for workers
     * that never woke). Spin a little, then sleep until the last one signals. */
    if (spin) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) < n_tasks; i++) {
            CPU_RELAX();
            if ((i & 63) == 63 && elapsed_ns(&t0) > SPIN_NS)
                break;
        }
    }
    if (atomic_load_explicit(&p->n_done, memory_order_acquire) < n_tasks) {
        pthread_mutex_lock(&p->mu);
        p->caller_sleeping = 1;
        while (atomic_load_explicit(&p->n_done, memory_order_acquire) < n_tasks)
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
