/*
 * metrics.c: stream threads publish their counts (ks__metrics_publish, on
 * their own thread) into a locked struct; ks_metrics_render writes them all
 * in the Prometheus text format (metrics.h).
 *
 * Names are Kafka Streams' (ThreadMetrics, TaskMetrics, ProcessorNodeMetrics,
 * ClientMetrics) as jmx_exporter's default rules turn an MBean into a
 * Prometheus name: `kafka.streams:type=stream-thread-metrics,thread-id=T`
 * attribute `process-rate` becomes
 * `kafka_streams_stream_thread_metrics_process_rate{thread_id="T"}`. The
 * consumer's lag is the Java consumer's `records-lag` of
 * `consumer-fetch-manager-metrics`. kstreamd's own metrics start with
 * `kstreamd_`.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../store/store.h"
#include "driver_int.h"
#include "metrics.h"
#include "status.h"

#define SAMPLE_MS 30000 /* Kafka Streams' default metrics.sample.window.ms */
#define NSAMPLES 2      /* ... and metrics.num.samples */

/* ---- sampled statistics, as Kafka's SampledStat ---- */

typedef struct win_stat {
    int64_t start[NSAMPLES]; /* a sample's first ms; INT64_MIN: never used */
    uint64_t n[NSAMPLES];    /* events in the sample */
    double sum[NSAMPLES], min[NSAMPLES], max[NSAMPLES];
    int cur;
} win_stat_t;

static void ws_init(win_stat_t *w, int64_t now)
{
    memset(w, 0, sizeof *w);
    for (int i = 0; i < NSAMPLES; i++)
        w->start[i] = INT64_MIN;
    w->start[0] = now;
}

/* The current sample, a new one when it has lasted its window. */
static int ws_sample(win_stat_t *w, int64_t now)
{
    if (now - w->start[w->cur] >= SAMPLE_MS) {
        w->cur = (w->cur + 1) % NSAMPLES;
        w->start[w->cur] = now;
        w->n[w->cur] = 0;
        w->sum[w->cur] = w->min[w->cur] = w->max[w->cur] = 0;
    }
    return w->cur;
}

/* Records n events whose values sum to `sum`, with the given min and max. */
static void ws_record(win_stat_t *w, int64_t now, uint64_t n, double sum, double min, double max)
{
    if (n == 0)
        return;
    int i = ws_sample(w, now);
    if (w->n[i] == 0 || min < w->min[i])
        w->min[i] = min;
    if (w->n[i] == 0 || max > w->max[i])
        w->max[i] = max;
    w->n[i] += n;
    w->sum[i] += sum;
}

/* Whether sample i still counts at `now` (Kafka's purgeObsoleteSamples: older than all samples' span is gone). */
static int ws_live(const win_stat_t *w, int i, int64_t now)
{
    return w->start[i] != INT64_MIN && now - w->start[i] < (int64_t)NSAMPLES * SAMPLE_MS;
}

/* Events per second over the samples' span, Kafka's Rate.measure with its windowSize. */
static double ws_rate(const win_stat_t *w, int64_t now)
{
    uint64_t n = 0;
    int64_t oldest = now;
    for (int i = 0; i < NSAMPLES; i++)
        if (ws_live(w, i, now)) {
            n += w->n[i];
            if (w->start[i] < oldest)
                oldest = w->start[i];
        }
    int64_t span = now - oldest;
    int64_t full = span / SAMPLE_MS;
    if (full < NSAMPLES - 1)
        span += (NSAMPLES - 1 - full) * (int64_t)SAMPLE_MS;
    return span > 0 ? (double)n * 1000.0 / (double)span : 0;
}

/* Avg, min and max over the live samples; NaN when they saw nothing. */
static void ws_stats(const win_stat_t *w, int64_t now, double *avg, double *min, double *max)
{
    uint64_t n = 0;
    double sum = 0, lo = 0, hi = 0;
    for (int i = 0; i < NSAMPLES; i++) {
        if (!ws_live(w, i, now) || w->n[i] == 0)
            continue;
        if (n == 0 || w->min[i] < lo)
            lo = w->min[i];
        if (n == 0 || w->max[i] > hi)
            hi = w->max[i];
        n += w->n[i];
        sum += w->sum[i];
    }
    *avg = n ? sum / (double)n : NAN;
    *min = n ? lo : NAN;
    *max = n ? hi : NAN;
}

/* ---- what a thread publishes ---- */

typedef struct node_metrics {
    const char *node; /* the topology's name (the topology outlives the registry) */
    win_stat_t e2e;   /* record-e2e-latency, ms */
} node_metrics_t;

typedef struct task_metrics {
    int subtopology, partition;
    uint64_t dropped, dlq; /* the engine's counts, totals since the task appeared */
    win_stat_t dropped_rate;
    node_metrics_t *nodes;
    int nnodes;
    int seen; /* present in the engine's list at the last publish */
} task_metrics_t;

typedef struct restore_metric {
    int subtopology, partition;
    const char *store; /* the topology's name */
    int64_t remaining;
} restore_metric_t;

typedef struct lag_metric {
    char *topic;
    int32_t partition;
    int64_t lag;
} lag_metric_t;

typedef struct ks_thread_metrics ks_thread_metrics_t;

struct ks_thread_metrics {
    pthread_mutex_t lock;
    const ks_topology_t *t;
    char *stores_dir;           /* the application's LMDB directory, for store sizes; NULL: stateless */
    char client_id[200];        /* "<application>-<process id>", Kafka Streams' default client.id */
    char thread_id[240];        /* "<client id>-StreamThread-<n>" */
    int64_t start_ms;           /* thread-start-time, ms since the epoch */
    int alive, failed;          /* the thread runs; it ended after a fatal error */
    uint64_t process_total;     /* records processed */
    uint64_t commit_total;      /* commits */
    win_stat_t process, commit; /* their rates; commit also holds the latency (ms) */
    task_metrics_t *tasks;
    int ntasks;
    lag_metric_t *lags;
    int nlags;
    restore_metric_t *restores; /* per (task, store), since the assignment */
    int nrestores;
    struct ks_thread_metrics *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static ks_thread_metrics_t *registry; /* in the order the threads started */
static ks_thread_metrics_t **registry_tail = &registry;

static pthread_once_t id_once = PTHREAD_ONCE_INIT;
static char process_id[37];

static void make_process_id(void)
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        /* No /dev/urandom: the clock and the pid still make the id unique enough on this host. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ ((uint64_t)getpid() << 40);
        for (int i = 0; i < 16; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            b[i] = (unsigned char)(x >> 56);
    }
    if (f)
        fclose(f);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(process_id, sizeof process_id, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

const char *ks_metrics_process_id(void)
{
    pthread_once(&id_once, make_process_id);
    return process_id;
}

void ks__client_id_prefix(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *buf, size_t len)
{
    for (int i = 0; i < conf->nrk; i++)
        if (strcmp(conf->rk_keys[i], "client.id") == 0) {
            snprintf(buf, len, "%s", conf->rk_vals[i]); /* Kafka Streams' client.id: the prefix of its clients' */
            return;
        }
    snprintf(buf, len, "%s-%s", t->application, ks_metrics_process_id());
}

const char *ks__thread_client_id(const stream_thread_t *st)
{
    return st->metrics ? st->metrics->thread_id : st->name;
}

static int64_t now_ms(void)
{
    return (int64_t)ks_now_ms();
}

void ks__metrics_start(stream_thread_t *st)
{
    ks_thread_metrics_t *m = ks_xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->t = st->t;
    if (ks_topology_has_state(st->t)) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", st->conf->state_dir, st->t->application);
        m->stores_dir = ks_xstrdup(dir);
    }
    ks__client_id_prefix(st->t, st->conf, m->client_id, sizeof m->client_id);
    snprintf(m->thread_id, sizeof m->thread_id, "%s-StreamThread-%d", m->client_id, st->index + 1);
    m->start_ms = now_ms();
    m->alive = 1;
    ws_init(&m->process, m->start_ms);
    ws_init(&m->commit, m->start_ms);
    st->metrics = m;
    pthread_mutex_lock(&registry_lock);
    *registry_tail = m; /* in the order threads start: the output groups an application's threads */
    registry_tail = &m->next;
    pthread_mutex_unlock(&registry_lock);
}

static task_metrics_t *find_task(ks_thread_metrics_t *m, int sub, int part)
{
    for (int i = 0; i < m->ntasks; i++)
        if (m->tasks[i].subtopology == sub && m->tasks[i].partition == part)
            return &m->tasks[i];
    return NULL;
}

static void free_task(task_metrics_t *t)
{
    free(t->nodes);
}

/* The engine's tasks into m's: new ones added, gone ones (revoked) removed, deltas recorded. */
static void publish_tasks(ks_thread_metrics_t *m, ks_engine_t *e, int64_t now)
{
    int n;
    const ks_task_stats_t *ts = ks_engine_tasks(e, &n);
    for (int i = 0; i < m->ntasks; i++)
        m->tasks[i].seen = 0;
    for (int i = 0; i < n; i++) {
        task_metrics_t *t = find_task(m, ts[i].subtopology, ts[i].partition);
        if (t && ts[i].dropped < t->dropped) {
            /* The engine forgot the task and met it again: a new task, as after a rebalance. */
            t->dropped = t->dlq = 0;
        }
        if (!t) {
            m->tasks = ks_xrealloc(m->tasks, (size_t)(m->ntasks + 1) * sizeof *m->tasks);
            t = &m->tasks[m->ntasks++];
            memset(t, 0, sizeof *t);
            t->subtopology = ts[i].subtopology;
            t->partition = ts[i].partition;
            ws_init(&t->dropped_rate, now);
            t->nodes = ks_xcalloc((size_t)ts[i].nnodes + 1, sizeof *t->nodes);
            t->nnodes = ts[i].nnodes;
            for (int j = 0; j < t->nnodes; j++) {
                t->nodes[j].node = ts[i].nodes[j].node;
                ws_init(&t->nodes[j].e2e, now);
            }
        }
        t->seen = 1;
        uint64_t d = ts[i].dropped - t->dropped;
        ws_record(&t->dropped_rate, now, d, (double)d, 0, 0);
        t->dropped = ts[i].dropped;
        t->dlq = ts[i].dlq;
        for (int j = 0; j < t->nnodes && j < ts[i].nnodes; j++) {
            const ks_node_latency_t *l = &ts[i].nodes[j];
            ws_record(&t->nodes[j].e2e, now, l->count, (double)l->sum, (double)l->min, (double)l->max);
        }
    }
    int k = 0;
    for (int i = 0; i < m->ntasks; i++) {
        if (m->tasks[i].seen)
            m->tasks[k++] = m->tasks[i];
        else
            free_task(&m->tasks[i]);
    }
    m->ntasks = k;
    ks_engine_take_latency(e);
}

/* The consumer's lag per assigned partition it has taken records from (ks__partition_lag). */
static void publish_lags(ks_thread_metrics_t *m, stream_thread_t *st)
{
    for (int i = 0; i < m->nlags; i++)
        free(m->lags[i].topic);
    m->nlags = 0;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!st->consumer || rd_kafka_assignment(st->consumer, &parts) || !parts)
        return;
    m->lags = ks_xrealloc(m->lags, (size_t)(parts->cnt + 1) * sizeof *m->lags);
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lag;
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (!ks__partition_lag(st, p->topic, p->partition, &lag))
            continue;
        lag_metric_t *l = &m->lags[m->nlags++];
        l->topic = ks_xstrdup(p->topic);
        l->partition = p->partition;
        l->lag = lag;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

void ks__metrics_publish(stream_thread_t *st)
{
    ks_thread_metrics_t *m = st->metrics;
    if (!m)
        return;
    int64_t now = now_ms();
    pthread_mutex_lock(&m->lock);
    uint64_t processed = st->in - m->process_total;
    ws_record(&m->process, now, processed, (double)processed, 0, 0);
    m->process_total = st->in;
    ws_record(&m->commit, now, st->commits - m->commit_total, st->commit_ms_sum, st->commit_ms_min, st->commit_ms_max);
    m->commit_total = st->commits;
    st->commit_ms_sum = st->commit_ms_min = st->commit_ms_max = 0;
    st->commits_unpublished = 0;
    if (st->engine)
        publish_tasks(m, st->engine, now);
    publish_lags(m, st);
    pthread_mutex_unlock(&m->lock);
}

void ks__metrics_note_commit(stream_thread_t *st, double ms)
{
    if (st->commits_unpublished++ == 0 || ms < st->commit_ms_min)
        st->commit_ms_min = ms;
    if (ms > st->commit_ms_max)
        st->commit_ms_max = ms;
    st->commit_ms_sum += ms;
    st->commits++;
}

void ks__metrics_restore(void *ud, int subtopology, int32_t partition, const char *store, int64_t remaining)
{
    stream_thread_t *st = ud;
    ks_thread_metrics_t *m = st->metrics;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    restore_metric_t *r = NULL;
    for (int i = 0; i < m->nrestores && !r; i++)
        if (m->restores[i].subtopology == subtopology && m->restores[i].partition == partition &&
            strcmp(m->restores[i].store, store) == 0)
            r = &m->restores[i];
    if (!r) {
        m->restores = ks_xrealloc(m->restores, (size_t)(m->nrestores + 1) * sizeof *m->restores);
        r = &m->restores[m->nrestores++];
        r->subtopology = subtopology;
        r->partition = partition;
        r->store = store;
    }
    r->remaining = remaining;
    pthread_mutex_unlock(&m->lock);
}

void ks__metrics_revoked(stream_thread_t *st)
{
    ks_thread_metrics_t *m = st->metrics;
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->nrestores = 0;
    pthread_mutex_unlock(&m->lock);
}

void ks__metrics_stop(stream_thread_t *st)
{
    ks_thread_metrics_t *m = st->metrics;
    if (!m)
        return;
    ks__metrics_publish(st);
    pthread_mutex_lock(&m->lock);
    m->alive = 0;
    m->failed = st->failed;
    for (int i = 0; i < m->ntasks; i++)
        free_task(&m->tasks[i]);
    m->ntasks = 0; /* its tasks are closed */
    for (int i = 0; i < m->nlags; i++)
        free(m->lags[i].topic);
    m->nlags = 0;
    m->nrestores = 0;
    pthread_mutex_unlock(&m->lock);
}

void ks_metrics_clear(void)
{
    pthread_mutex_lock(&registry_lock);
    ks_thread_metrics_t *m = registry;
    while (m) {
        ks_thread_metrics_t *next = m->next;
        for (int i = 0; i < m->ntasks; i++)
            free_task(&m->tasks[i]);
        free(m->tasks);
        for (int i = 0; i < m->nlags; i++)
            free(m->lags[i].topic);
        free(m->lags);
        free(m->restores);
        free(m->stores_dir);
        pthread_mutex_destroy(&m->lock);
        free(m);
        m = next;
    }
    registry = NULL;
    registry_tail = &registry;
    pthread_mutex_unlock(&registry_lock);
}

/* ---- rendering ---- */

/* A label value, escaped as the text format wants (backslash, quote, newline). */
static void put_label(ks_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            ks_buf_putc(b, '\\');
        if (*s == '\n') {
            ks_buf_puts(b, "\\n");
            continue;
        }
        ks_buf_putc(b, *s);
    }
}

static void put_value(ks_buf_t *b, double v)
{
    if (isnan(v))
        ks_buf_puts(b, " NaN\n");
    else if (v == (double)(int64_t)v && fabs(v) < 9e15)
        ks_buf_printf(b, " %lld\n", (long long)v);
    else
        ks_buf_printf(b, " %.6g\n", v);
}

/* The metric families, in the order they are written; each is written with all its series together. */
typedef enum {
    F_ALIVE,
    F_FAILED,
    F_STATE,
    F_PROCESS_TOTAL,
    F_PROCESS_RATE,
    F_COMMIT_TOTAL,
    F_COMMIT_RATE,
    F_COMMIT_AVG,
    F_COMMIT_MAX,
    F_START_TIME,
    F_DROPPED_TOTAL,
    F_DROPPED_RATE,
    F_RESTORE_REMAINING,
    F_E2E_AVG,
    F_E2E_MIN,
    F_E2E_MAX,
    F_LAG,
    F_DLQ,
    F_STORE_ENTRIES,
    F__COUNT
} family_t;

static const struct family {
    const char *name, *type, *help;
} families[F__COUNT] = {
    [F_ALIVE] = {"kafka_streams_stream_metrics_alive_stream_threads", "gauge",
                 "The current number of alive stream threads that are running or participating in rebalance"},
    [F_FAILED] = {"kafka_streams_stream_metrics_failed_stream_threads", "gauge",
                  "The number of failed stream threads since the start of the Kafka Streams client"},
    [F_STATE] = {"kafka_streams_stream_metrics_state", "gauge",
                 "The state of the Kafka Streams client: 1 for the state in the label"},
    [F_PROCESS_TOTAL] = {"kafka_streams_stream_thread_metrics_process_total", "counter",
                         "The total number of calls to process"},
    [F_PROCESS_RATE] = {"kafka_streams_stream_thread_metrics_process_rate", "gauge",
                        "The average per-second number of calls to process"},
    [F_COMMIT_TOTAL] = {"kafka_streams_stream_thread_metrics_commit_total", "counter",
                        "The total number of calls to commit"},
    [F_COMMIT_RATE] = {"kafka_streams_stream_thread_metrics_commit_rate", "gauge",
                       "The average per-second number of calls to commit"},
    [F_COMMIT_AVG] = {"kafka_streams_stream_thread_metrics_commit_latency_avg", "gauge",
                      "The average commit latency (ms)"},
    [F_COMMIT_MAX] = {"kafka_streams_stream_thread_metrics_commit_latency_max", "gauge",
                      "The maximum commit latency (ms)"},
    [F_START_TIME] = {"kafka_streams_stream_thread_metrics_thread_start_time", "gauge",
                      "The time that the thread was started (ms since the epoch)"},
    [F_DROPPED_TOTAL] = {"kafka_streams_stream_task_metrics_dropped_records_total", "counter",
                         "The total number of dropped records"},
    [F_DROPPED_RATE] = {"kafka_streams_stream_task_metrics_dropped_records_rate", "gauge",
                        "The average number of dropped records per second"},
    [F_RESTORE_REMAINING] = {"kafka_streams_stream_task_metrics_restore_remaining_records_total", "gauge",
                             "The total number of records remaining to be restored"},
    [F_E2E_AVG] = {"kafka_streams_stream_processor_node_metrics_record_e2e_latency_avg", "gauge",
                   "The average end-to-end latency of a record, measuring by comparing the record timestamp with "
                   "the system time when it has been fully processed by the node (ms)"},
    [F_E2E_MIN] = {"kafka_streams_stream_processor_node_metrics_record_e2e_latency_min", "gauge",
                   "The minimum end-to-end latency of a record (ms)"},
    [F_E2E_MAX] = {"kafka_streams_stream_processor_node_metrics_record_e2e_latency_max", "gauge",
                   "The maximum end-to-end latency of a record (ms)"},
    [F_LAG] = {"kafka_consumer_consumer_fetch_manager_metrics_records_lag", "gauge",
               "The latest lag of the partition: its high watermark minus the consumer's position"},
    [F_DLQ] = {"kstreamd_dead_letter_records_total", "counter",
               "Records sent to the dead-letter topic (they failed deserialisation or evaluation)"},
    [F_STORE_ENTRIES] = {"kstreamd_store_entries", "gauge", "Entries of a state store's partition, as committed"},
};

/* One application's client-level series: its threads are consecutive in the registry. */
static void client_series(ks_buf_t *b, family_t f, ks_thread_metrics_t *first)
{
    int alive = 0, failed = 0;
    for (ks_thread_metrics_t *m = first; m && m->t == first->t; m = m->next) {
        pthread_mutex_lock(&m->lock);
        alive += m->alive;
        failed += m->failed;
        pthread_mutex_unlock(&m->lock);
    }
    ks_buf_printf(b, "%s{client_id=\"", families[f].name);
    put_label(b, first->client_id);
    if (f == F_STATE) {
        /* Kafka Streams' KafkaStreams.State, as /ready reports it (status.h). */
        ks_buf_printf(b, "\",state=\"%s\"}", ks_client_state_name(ks_status_state(first->t, NULL, 0)));
        put_value(b, 1);
        return;
    }
    ks_buf_puts(b, "\"}");
    put_value(b, f == F_ALIVE ? alive : failed);
}

static void thread_labels(ks_buf_t *b, const ks_thread_metrics_t *m)
{
    ks_buf_puts(b, "{thread_id=\"");
    put_label(b, m->thread_id);
    ks_buf_putc(b, '"');
}

/* The entries of every store partition of m's tasks, read through a read-only handle of the application's LMDB. */
static void store_series(ks_buf_t *b, ks_thread_metrics_t *m)
{
    if (!m->stores_dir || !m->ntasks)
        return;
    char err[KS_ERRMSG_SIZE];
    ks_stores_t *s = ks_stores_open(m->stores_dir, KS_STORE_READONLY, err, sizeof err);
    if (!s)
        return;
    if (ks_stores_begin(s, err, sizeof err)) {
        ks_stores_close(s);
        return;
    }
    const ks_topology_t *t = m->t;
    for (int i = 0; i < m->ntasks; i++) {
        const task_metrics_t *task = &m->tasks[i];
        for (int p = 0; p < t->nprocs; p++) {
            const ks_proc_t *proc = t->procs[p];
            if (proc->subtopology != task->subtopology)
                continue;
            for (int j = 0; j < proc->nstores; j++) {
                /* A store several processors use is counted once: at its first processor. */
                int earlier = 0;
                for (int q = 0; q < p && !earlier; q++)
                    for (int k = 0; k < t->procs[q]->nstores && !earlier; k++)
                        earlier = t->procs[q]->subtopology == task->subtopology &&
                                  strcmp(t->procs[q]->stores[k], proc->stores[j]) == 0;
                for (int k = 0; k < j && !earlier; k++)
                    earlier = strcmp(proc->stores[k], proc->stores[j]) == 0;
                if (earlier)
                    continue;
                int64_t n = ks_store_count(s, proc->stores[j], task->partition);
                if (n < 0)
                    continue; /* not written yet */
                ks_buf_printf(b, "%s{application=\"", families[F_STORE_ENTRIES].name);
                put_label(b, t->application);
                ks_buf_puts(b, "\",store=\"");
                put_label(b, proc->stores[j]);
                ks_buf_printf(b, "\",partition=\"%d\"}", task->partition);
                put_value(b, (double)n);
            }
        }
    }
    ks_stores_commit(s, err, sizeof err);
    ks_stores_close(s);
}

static void thread_series(ks_buf_t *b, family_t f, ks_thread_metrics_t *m, int64_t now)
{
    pthread_mutex_lock(&m->lock);
    double avg, min, max;
    switch (f) {
    case F_PROCESS_TOTAL:
    case F_PROCESS_RATE:
    case F_COMMIT_TOTAL:
    case F_COMMIT_RATE:
    case F_COMMIT_AVG:
    case F_COMMIT_MAX:
    case F_START_TIME:
        ks_buf_puts(b, families[f].name);
        thread_labels(b, m);
        ks_buf_putc(b, '}');
        ws_stats(&m->commit, now, &avg, &min, &max);
        put_value(b, f == F_PROCESS_TOTAL  ? (double)m->process_total
                     : f == F_PROCESS_RATE ? ws_rate(&m->process, now)
                     : f == F_COMMIT_TOTAL ? (double)m->commit_total
                     : f == F_COMMIT_RATE  ? ws_rate(&m->commit, now)
                     : f == F_COMMIT_AVG   ? avg
                     : f == F_COMMIT_MAX   ? max
                                           : (double)m->start_ms);
        break;
    case F_DROPPED_TOTAL:
    case F_DROPPED_RATE:
    case F_DLQ:
        for (int i = 0; i < m->ntasks; i++) {
            const task_metrics_t *t = &m->tasks[i];
            ks_buf_puts(b, families[f].name);
            thread_labels(b, m);
            ks_buf_printf(b, ",task_id=\"%d_%d\"}", t->subtopology, t->partition);
            put_value(b, f == F_DROPPED_TOTAL  ? (double)t->dropped
                         : f == F_DROPPED_RATE ? ws_rate(&t->dropped_rate, now)
                                               : (double)t->dlq);
        }
        break;
    case F_RESTORE_REMAINING:
        /* Per task: the sum over its stores, each task once (the tasks in order of their first store). */
        for (int i = 0; i < m->nrestores; i++) {
            const restore_metric_t *r = &m->restores[i];
            int first = 1;
            for (int j = 0; j < i && first; j++)
                first = !(m->restores[j].subtopology == r->subtopology && m->restores[j].partition == r->partition);
            if (!first)
                continue;
            int64_t sum = 0;
            for (int j = i; j < m->nrestores; j++)
                if (m->restores[j].subtopology == r->subtopology && m->restores[j].partition == r->partition)
                    sum += m->restores[j].remaining;
            ks_buf_puts(b, families[f].name);
            thread_labels(b, m);
            ks_buf_printf(b, ",task_id=\"%d_%d\"}", r->subtopology, r->partition);
            put_value(b, (double)sum);
        }
        break;
    case F_E2E_AVG:
    case F_E2E_MIN:
    case F_E2E_MAX:
        for (int i = 0; i < m->ntasks; i++) {
            const task_metrics_t *t = &m->tasks[i];
            for (int j = 0; j < t->nnodes; j++) {
                ws_stats(&t->nodes[j].e2e, now, &avg, &min, &max);
                ks_buf_puts(b, families[f].name);
                thread_labels(b, m);
                ks_buf_printf(b, ",task_id=\"%d_%d\",processor_node_id=\"", t->subtopology, t->partition);
                put_label(b, t->nodes[j].node);
                ks_buf_puts(b, "\"}");
                put_value(b, f == F_E2E_AVG ? avg : f == F_E2E_MIN ? min : max);
            }
        }
        break;
    case F_LAG:
        for (int i = 0; i < m->nlags; i++) {
            ks_buf_printf(b, "%s{client_id=\"", families[f].name);
            put_label(b, m->thread_id);
            ks_buf_puts(b, "-consumer\",topic=\"");
            put_label(b, m->lags[i].topic);
            ks_buf_printf(b, "\",partition=\"%d\"}", m->lags[i].partition);
            put_value(b, (double)m->lags[i].lag);
        }
        break;
    case F_STORE_ENTRIES: store_series(b, m); break;
    default: break;
    }
    pthread_mutex_unlock(&m->lock);
}

void ks_metrics_render(ks_buf_t *out)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&registry_lock);
    for (int f = 0; f < F__COUNT; f++) {
        ks_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name,
                      families[f].type);
        if (f == F_ALIVE || f == F_FAILED || f == F_STATE) {
            const ks_topology_t *last = NULL;
            for (ks_thread_metrics_t *m = registry; m; m = m->next)
                if (m->t != last) {
                    client_series(out, (family_t)f, m);
                    last = m->t;
                }
            continue;
        }
        for (ks_thread_metrics_t *m = registry; m; m = m->next)
            thread_series(out, (family_t)f, m, now);
    }
    pthread_mutex_unlock(&registry_lock);
}
