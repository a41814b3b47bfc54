/*
 * limits.c - request limits: a token bucket per API key's user (rate and burst from the
 * options; an empty bucket is 429 with Retry-After) and a cap on requests in flight per
 * client address (each address's count lives only while it has requests running).
 * Queue backpressure is not here: sotto_jobs_submit refuses when the queue is full.
 *
 * Both tables are small fixed-size arrays under one mutex: a few thousand distinct keys
 * or addresses at once is far beyond one process's needs; when a table is full the
 * oldest idle bucket is reused (so memory stays bounded under hostile traffic).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/base_int.h"
#include "server/server_int.h"

#define N_BUCKETS 4096
#define N_ADDRS 4096

typedef struct bucket {
    int64_t user_id;
    double tokens;
    double t_last;
    int used;
} bucket;

typedef struct addr_count {
    char addr[48];
    int n;
} addr_count;

struct srv_limits {
    pthread_mutex_t mu;
    double rate, burst;
    int max_per_ip;
    bucket buckets[N_BUCKETS];
    addr_count addrs[N_ADDRS];
};

int limits_new(const sotto_server_limits *cfg, srv_limits **out)
{
    srv_limits *l = calloc(1, sizeof *l);
    if (!l)
        return error_set(SOTTO_ENOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    l->rate = cfg->rate_per_s > 0 ? cfg->rate_per_s : 20;
    l->burst = cfg->rate_burst >= 1 ? cfg->rate_burst : 1;
    l->max_per_ip = cfg->max_conns_per_ip > 0 ? cfg->max_conns_per_ip : 64;
    *out = l;
    return 0;
}

void limits_free(srv_limits *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int limits_take(srv_limits *l, int64_t user_id)
{
    double now = time_now();
    pthread_mutex_lock(&l->mu);
    size_t h = (size_t)((uint64_t)user_id * 0x9E3779B97F4A7C15ull >> 52) % N_BUCKETS;
    bucket *b = NULL, *oldest = NULL;
    for (size_t probe = 0; probe < 16; probe++) {
        bucket *c = &l->buckets[(h + probe) % N_BUCKETS];
        if (c->used && c->user_id == user_id) {
            b = c;
            break;
        }
        if (!c->used) {
            b = c;
            b->used = 1;
            b->user_id = user_id;
            b->tokens = l->burst;
            b->t_last = now;
            break;
        }
        if (!oldest || c->t_last < oldest->t_last)
            oldest = c;
    }
    if (!b) { /* table region full: reuse the least recently used bucket */
        b = oldest;
        b->user_id = user_id;
        b->tokens = l->burst;
        b->t_last = now;
    }
    b->tokens += (now - b->t_last) * l->rate;
    if (b->tokens > l->burst)
        b->tokens = l->burst;
    b->t_last = now;
    int wait = 0;
    if (b->tokens >= 1) {
        b->tokens -= 1;
    } else {
        wait = (int)ceil((1 - b->tokens) / l->rate);
        if (wait < 1)
            wait = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return wait;
}

static size_t addr_hash(const char *a)
{
    uint64_t h = 1469598103934665603ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    return (size_t)(h % N_ADDRS);
}

int limits_enter(srv_limits *l, const char *addr)
{
    int rc = -1;
    size_t h = addr_hash(addr);
    pthread_mutex_lock(&l->mu);
    addr_count *free_slot = NULL;
    for (size_t probe = 0; probe < N_ADDRS; probe++) {
        addr_count *c = &l->addrs[(h + probe) % N_ADDRS];
        if (c->n > 0 && !strcmp(c->addr, addr)) {
            if (c->n < l->max_per_ip) {
                c->n++;
                rc = 0;
            }
            pthread_mutex_unlock(&l->mu);
            return rc;
        }
        if (c->n == 0 && !free_slot)
            free_slot = c;
        if (c->n == 0 && c->addr[0] == '\0')
            break; /* never used: the address is not further along the probe chain */
    }
    if (free_slot) {
        snprintf(free_slot->addr, sizeof free_slot->addr, "%s", addr);
        free_slot->n = 1;
        rc = 0;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void limits_leave(srv_limits *l, const char *addr)
{
    size_t h = addr_hash(addr);
    pthread_mutex_lock(&l->mu);
    for (size_t probe = 0; probe < N_ADDRS; probe++) {
        addr_count *c = &l->addrs[(h + probe) % N_ADDRS];
        if (c->n > 0 && !strcmp(c->addr, addr)) {
            c->n--;
            break;
        }
        if (c->n == 0 && c->addr[0] == '\0')
            break;
    }
    pthread_mutex_unlock(&l->mu);
}
