/*
 * routes_health.c - GET /health (per component, 503 when a required one is down),
 * GET /metrics (Prometheus text format) and GET /v1/models, plus the server's metrics
 * registry: requests by method/route/status, a latency histogram, an RTF histogram.
 * Process RSS and CPU come from /proc and getrusage at scrape time; live streams
 * (/v1/listen) from listen.c's counters.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/base_int.h"
#include "server/server_int.h"
#include "sotto/asr.h"
#include "sotto/sotto.h"

static const double lat_bounds[METRICS_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                       0.1,   0.25,   0.5,   1,    5,     30};
static const double rtf_bounds[METRICS_RTF_BUCKETS] = {0.01, 0.02, 0.05, 0.1, 0.2,
                                                       0.3,  0.5,  1,    2,   5};

void metrics_init(srv_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void metrics_free(srv_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

void metrics_observe_request(srv_metrics *m, const char *method, const char *route, int status,
                             double latency_s)
{
    pthread_mutex_lock(&m->mu);
    size_t i;
    for (i = 0; i < m->n_series; i++) {
        metrics_series *s = &m->series[i];
        if (s->status == status && s->route == route && !strcmp(s->method, method))
            break;
    }
    if (i == m->n_series && m->n_series < METRICS_MAX_SERIES) {
        /* method names are from CivetWeb's request; keep only the known ones as labels */
        static const char *known[] = {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"};
        const char *label = "OTHER";
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (!strcmp(known[k], method))
                label = known[k];
        m->series[i] = (metrics_series){route, label, status, 0};
        m->n_series++;
    }
    if (i < m->n_series)
        m->series[i].count++;
    size_t b = 0;
    while (b < METRICS_LAT_BUCKETS && latency_s > lat_bounds[b])
        b++;
    m->lat_buckets[b]++;
    m->lat_sum += latency_s;
    m->lat_count++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_observe_rtf(srv_metrics *m, double rtf)
{
    pthread_mutex_lock(&m->mu);
    size_t b = 0;
    while (b < METRICS_RTF_BUCKETS && rtf > rtf_bounds[b])
        b++;
    m->rtf_buckets[b]++;
    m->rtf_sum += rtf;
    m->rtf_count++;
    pthread_mutex_unlock(&m->mu);
}

static void histogram(sotto_buf *b, const char *name, const double *bounds, size_t nb,
                      const uint64_t *buckets, double sum, uint64_t count)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += buckets[i];
        sotto_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    cum += buckets[nb];
    sotto_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
                     (unsigned long long)cum, name, sum, name, (unsigned long long)count);
}

static void process_stats(double *rss_bytes, double *cpu_s)
{
    *rss_bytes = 0;
    *cpu_s = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long size = 0, resident = 0;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2)
            *rss_bytes = (double)resident * (double)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        *cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int route_metrics(srv_req *r)
{
    sotto_server *s = r->srv;
    sotto_buf b = SOTTO_BUF_INIT;
    sotto_jobs_stats js;
    sotto_jobs_get_stats(s->jobs, &js);
    int64_t counts[7] = {0};
    int have_counts = sotto_store_job_counts(s->store, counts) == 0;

    pthread_mutex_lock(&s->metrics.mu);
    srv_metrics *m = &s->metrics;
    sotto_buf_puts(&b, "# HELP sotto_http_requests_total HTTP requests by method, route and status.\n"
                       "# TYPE sotto_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_series; i++)
        sotto_buf_printf(&b, "sotto_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                         m->series[i].method, m->series[i].route, m->series[i].status,
                         (unsigned long long)m->series[i].count);
    sotto_buf_puts(&b, "# HELP sotto_http_request_duration_seconds Request latency.\n"
                       "# TYPE sotto_http_request_duration_seconds histogram\n");
    histogram(&b, "sotto_http_request_duration_seconds", lat_bounds, METRICS_LAT_BUCKETS,
              m->lat_buckets, m->lat_sum, m->lat_count);
    sotto_buf_puts(&b, "# HELP sotto_job_rtf Real-time factor of completed jobs (processing / audio).\n"
                       "# TYPE sotto_job_rtf histogram\n");
    histogram(&b, "sotto_job_rtf", rtf_bounds, METRICS_RTF_BUCKETS, m->rtf_buckets, m->rtf_sum,
              m->rtf_count);
    long open = __atomic_load_n(&m->open_connections, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&s->metrics.mu);

    if (have_counts) {
        sotto_buf_puts(&b, "# HELP sotto_jobs Jobs in the store by state.\n# TYPE sotto_jobs gauge\n");
        for (int i = 0; i < 7; i++)
            sotto_buf_printf(&b, "sotto_jobs{state=\"%s\"} %lld\n",
                             sotto_job_status_name((sotto_job_status)i), (long long)counts[i]);
    }
    double rss, cpu;
    process_stats(&rss, &cpu);
    sotto_buf_printf(&b,
                     "# HELP sotto_queue_depth Jobs waiting for a worker.\n# TYPE sotto_queue_depth gauge\n"
                     "sotto_queue_depth %zu\n"
                     "# HELP sotto_jobs_running Jobs being processed.\n# TYPE sotto_jobs_running gauge\n"
                     "sotto_jobs_running %zu\n"
                     "# HELP sotto_workers_alive Job worker threads alive.\n# TYPE sotto_workers_alive gauge\n"
                     "sotto_workers_alive %zu\n"
                     "# HELP sotto_audio_processed_seconds_total Audio seconds transcribed since start.\n"
                     "# TYPE sotto_audio_processed_seconds_total counter\n"
                     "sotto_audio_processed_seconds_total %.3f\n"
                     "# HELP sotto_open_connections Open HTTP connections.\n# TYPE sotto_open_connections gauge\n"
                     "sotto_open_connections %ld\n"
                     "# HELP process_resident_memory_bytes Resident memory size.\n"
                     "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %.0f\n"
                     "# HELP process_cpu_seconds_total User and system CPU time.\n"
                     "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.3f\n"
                     "# HELP sotto_uptime_seconds Seconds since the server started.\n"
                     "# TYPE sotto_uptime_seconds gauge\nsotto_uptime_seconds %.1f\n",
                     js.queue_depth, js.running, js.workers_alive, js.audio_s_processed, open, rss,
                     cpu, time_now() - s->t_start);
    int streams = 0, max_streams = 0;
    uint64_t started = 0;
    listen_get_counts(s, &streams, &max_streams, &started);
    sotto_buf_printf(&b,
                     "# HELP sotto_listen_streams Live WebSocket streams (/v1/listen) holding a stream slot.\n"
                     "# TYPE sotto_listen_streams gauge\nsotto_listen_streams %d\n"
                     "# HELP sotto_listen_streams_limit Stream slots (limits.max_streams as applied).\n"
                     "# TYPE sotto_listen_streams_limit gauge\nsotto_listen_streams_limit %d\n"
                     "# HELP sotto_listen_streams_started_total Live streams started since the server started.\n"
                     "# TYPE sotto_listen_streams_started_total counter\nsotto_listen_streams_started_total %llu\n",
                     streams, max_streams, (unsigned long long)started);
    int st = b.data ? http_send(r, 200, "text/plain; version=0.0.4", b.data, b.len)
                    : http_error(r, 500, "internal", "out of memory");
    sotto_buf_free(&b);
    return st;
}

int route_health(srv_req *r)
{
    sotto_server *s = r->srv;
    sotto_buf b = SOTTO_BUF_INIT;
    int ok = 1;
    double t0 = time_now();
    int db_rc = sotto_store_ping(s->store);
    double db_ms = (time_now() - t0) * 1000;
    if (db_rc)
        ok = 0;
    sotto_jobs_stats js;
    sotto_jobs_get_stats(s->jobs, &js);
    int workers_ok = js.workers_alive >= (size_t)(s->opt.workers > 0 ? s->opt.workers : 1);
    if (!workers_ok)
        ok = 0;
    /* recognizers first: the overall status depends on them */
    sotto_buf asr = SOTTO_BUF_INIT;
    int any_asr = 0;
    for (size_t i = 0; i < sotto_asr_backend_count(); i++) {
        sotto_asr_backend_info info;
        if (sotto_asr_backend_info_get(i, &info) != 0)
            continue;
        int usable = info.available;
        if (!strcmp(info.name, "whisper"))
            usable = s->model != NULL && access(s->model, R_OK) == 0;
        any_asr |= usable;
        sotto_buf_printf(&asr, "%s\"%s\":{\"status\":\"%s\"}", i ? "," : "", info.name,
                         usable ? "ok" : "unavailable");
    }
    if (!any_asr)
        ok = 0;
    sotto_buf_printf(&b, "{\"status\":\"%s\",\"version\":\"%s\",\"uptime_s\":%.1f,\"components\":{",
                     ok ? "ok" : "down", sotto_version(), time_now() - s->t_start);
    sotto_buf_printf(&b, "\"database\":{\"status\":\"%s\",\"latency_ms\":%.2f,\"schema_version\":%d}",
                     db_rc ? "down" : "ok", db_ms, db_rc ? -1 : sotto_store_schema_version(s->store));
    sotto_buf_printf(&b, ",\"queue\":{\"status\":\"%s\",\"depth\":%zu,\"limit\":%zu,\"running\":%zu}",
                     js.queue_depth >= s->opt.limits.max_queue ? "full" : "ok", js.queue_depth,
                     s->opt.limits.max_queue, js.running);
    sotto_buf_printf(&b, ",\"workers\":{\"status\":\"%s\",\"alive\":%zu,\"configured\":%d}",
                     workers_ok ? "ok" : "down", js.workers_alive, s->opt.workers);
    sotto_buf_printf(&b, ",\"recognizers\":{%s}}}\n", asr.data ? asr.data : "");
    sotto_buf_free(&asr);
    int st = http_send_json(r, ok ? 200 : 503, &b);
    sotto_buf_free(&b);
    return st;
}

int route_models(srv_req *r)
{
    sotto_server *s = r->srv;
    sotto_buf b = SOTTO_BUF_INIT;
    long created = (long)time(NULL) - (long)(time_now() - s->t_start);
    sotto_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
    int n = 0;
    for (size_t i = 0; i < sotto_asr_backend_count(); i++) {
        sotto_asr_backend_info info;
        if (sotto_asr_backend_info_get(i, &info) != 0)
            continue;
        if (!strcmp(info.name, "whisper") && !s->model)
            continue;
        if (strcmp(info.name, "whisper") != 0 && !info.available)
            continue;
        sotto_buf_printf(&b, "%s{\"id\":", n++ ? "," : "");
        sotto_buf_json_string(&b, info.name);
        sotto_buf_printf(&b, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"sotto\","
                             "\"description\":",
                         created);
        sotto_buf_json_string(&b, info.description);
        sotto_buf_putc(&b, '}');
    }
    /* the name OpenAI clients send by default: the configured default recognizer */
    sotto_buf_printf(&b, "%s{\"id\":\"whisper-1\",\"object\":\"model\",\"created\":%ld,"
                         "\"owned_by\":\"sotto\",\"description\":\"alias of the default recognizer (%s)\"}",
                     n ? "," : "", created, s->model ? "whisper" : "sphinx");
    sotto_buf_puts(&b, "]}\n");
    int st = http_send_json(r, 200, &b);
    sotto_buf_free(&b);
    return st;
}
