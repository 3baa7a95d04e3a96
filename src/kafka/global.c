/*
 * global.c: an application's global tables (GlobalKTable). One global
 * thread per application per process has its own consumer, assigned every
 * partition of every global table's topic (no group, nothing committed:
 * the checkpoints are the offsets), and writes the tables into their own
 * LMDB environment, `state.dir/<application>/global`. Each table's store
 * holds all the partitions of its topic in one (KS_GLOBAL_PARTITION); each
 * topic partition has its checkpoint, the next offset to apply, written in
 * the same transaction as the data. The stream threads read the tables
 * through read-only handles of that environment (ks_engine_attach_global).
 *
 * Before any stream thread starts, ks__global_start bootstraps the tables:
 * every partition is read from its checkpoint to the end offset it had
 * when the bootstrap began, the raw bytes put into the store as Kafka
 * Streams' GlobalStateManager restores them (null keys skipped). Local
 * state whose checkpoints cannot be trusted (missing while the store has
 * data, past the topic's end, or before its start) is wiped and read in
 * full, as restore.c does for task stores. Then the thread keeps the
 * tables up to date: each record goes through the engine's global table
 * source, as GlobalStateUpdateTask runs its source node (deserialised, a
 * record that cannot be goes to the dead-letter topic), one LMDB
 * transaction per batch.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/engine.h"
#include "../engine/store_codec.h"
#include "../store/store.h"
#include "../util/duration.h"
#include "../util/util.h"
#include "kafka_int.h"
#include "status.h"

#define GLOBAL_PARTITION 0 /* the engine's KS_GLOBAL_PARTITION: one store partition per table */
#define BOOT_BATCH 100000  /* records per LMDB transaction while bootstrapping */
#define POLL_MS 100        /* how long the running thread waits for a batch */

/* A global table: its processor, store and topic, and where each partition stands. */
typedef struct gtable {
    const ks_proc_t *p;
    const char *store, *topic;
    int nparts;
    int64_t *next; /* per partition: the next offset to apply */
    int64_t *end;  /* per partition: the end offset when the bootstrap began */
} gtable_t;

struct ks_global {
    const ks_topology_t *t;
    const ks_runtime_conf_t *conf;
    const char *bootstrap;
    char name[160]; /* "<application>[global]": the log lines' prefix */
    gtable_t *tables;
    int ntables;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *q;
    ks_stores_t *stores;
    ks_engine_t *engine;
    pthread_t tid;
    int started;
    atomic_int stop;
    atomic_int failed;
    atomic_int delivery_failed;
    uint64_t applied; /* records applied since the start, bootstrap included */
};

/* ---- the producer, for the dead-letter topic ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ks_global_t *g = opaque;
    if (m->err) {
        ks_log(KS_LOG_ERROR, "%s: cannot write a dead-letter record to %s: %s", g->name, rd_kafka_topic_name(m->rkt),
               rd_kafka_err2str(m->err));
        atomic_store(&g->delivery_failed, 1);
    }
}

/* The engine's output: only dead-letter records come out of a global table source. */
static void on_emit(void *ud, const ks_record_t *r)
{
    ks_global_t *g = ud;
    rd_kafka_headers_t *hdrs = NULL;
    if (r->nheaders) {
        hdrs = rd_kafka_headers_new((size_t)r->nheaders);
        for (int i = 0; i < r->nheaders; i++)
            rd_kafka_header_add(hdrs, r->headers[i].key, -1, r->headers[i].value, (ssize_t)r->headers[i].len);
    }
    for (int attempt = 0;; attempt++) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(g->producer, RD_KAFKA_V_TOPIC(r->topic),
                              RD_KAFKA_V_PARTITION(r->partition >= 0 ? r->partition : RD_KAFKA_PARTITION_UA),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r->key, r->key_len),
                              RD_KAFKA_V_VALUE((void *)r->value, r->value_len),
                              RD_KAFKA_V_TIMESTAMP(r->timestamp == KS_NO_TIMESTAMP ? 0 : r->timestamp),
                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 600) {
            rd_kafka_poll(g->producer, 10);
            continue;
        }
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        ks_log(KS_LOG_ERROR, "%s: cannot produce to %s: %s", g->name, r->topic, rd_kafka_err2str(e));
        atomic_store(&g->delivery_failed, 1);
        return;
    }
}

static void on_peek(void *ud, const char *node, const char *line)
{
    /* A global table source has no `peek` below it: there is nothing to log. */
}

/* ---- set-up ---- */

static gtable_t *table_of(ks_global_t *g, const char *topic)
{
    for (int i = 0; i < g->ntables; i++)
        if (strcmp(g->tables[i].topic, topic) == 0)
            return &g->tables[i];
    return NULL;
}

/* The global tables of the topology, their topics' partition counts (metadata) and end offsets. */
static int find_tables(ks_global_t *g, char *err, size_t errlen)
{
    const ks_topology_t *t = g->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_TABLE_SOURCE || !p->table_source.global || p->nparents == 0)
            continue;
        KS_GROW(g->tables, g->ntables);
        gtable_t *gt = &g->tables[g->ntables++];
        memset(gt, 0, sizeof *gt);
        gt->p = p;
        gt->store = p->stores[0];
        gt->topic = p->parents[0]->io.topics[0];
    }
    for (int i = 0; i < g->ntables; i++) {
        gtable_t *gt = &g->tables[i];
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->consumer, gt->topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(g->consumer, 0, rkt, &md, g->conf->startup_timeout_ms);
        rd_kafka_topic_destroy(rkt);
        if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt <= 0) {
            snprintf(err, errlen, "global table %s: cannot read the partitions of %s: %s", gt->p->table_source.table,
                     gt->topic,
                     rd_kafka_err2str(e                    ? e
                                      : md->topic_cnt == 1 ? md->topics[0].err
                                                           : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
            if (md)
                rd_kafka_metadata_destroy(md);
            return -1;
        }
        gt->nparts = md->topics[0].partition_cnt;
        ks_status_set_partitions(t, gt->p->subtopology, gt->nparts);
        rd_kafka_metadata_destroy(md);
        gt->next = ks_xcalloc((size_t)gt->nparts, sizeof *gt->next);
        gt->end = ks_xcalloc((size_t)gt->nparts, sizeof *gt->end);
    }
    return 0;
}

/*
 * Where each partition of a table starts: its checkpoint, or the topic's
 * start for all of them when the local state was wiped (why says why).
 */
static int table_range(ks_global_t *g, gtable_t *gt, char *err, size_t errlen)
{
    int64_t *lo = ks_xcalloc((size_t)gt->nparts, sizeof *lo);
    const char *why = NULL;
    int rc = 0;
    for (int part = 0; part < gt->nparts && rc == 0; part++) {
        rd_kafka_resp_err_t e;
        uint64_t until = ks_mono_ms() + (uint64_t)g->conf->startup_timeout_ms;
        while ((e = rd_kafka_query_watermark_offsets(g->consumer, gt->topic, part, &lo[part], &gt->end[part], 5000)) &&
               ks_mono_ms() < until)
            usleep(100 * 1000);
        if (e) {
            snprintf(err, errlen, "global table %s: cannot read the end of %s[%d]: %s", gt->p->table_source.table,
                     gt->topic, part, rd_kafka_err2str(e));
            rc = -1;
        }
    }
    if (rc == 0 && (rc = ks_stores_begin(g->stores, err, errlen)) == 0) {
        int64_t have = ks_store_count(g->stores, gt->store, GLOBAL_PARTITION);
        for (int part = 0; part < gt->nparts && !why; part++) {
            int64_t c = ks_store_checkpoint(g->stores, gt->store, part);
            gt->next[part] = c;
            if (c < 0 && have > 0)
                why = "local state has no checkpoint";
            else if (c > gt->end[part])
                why = "the checkpoint is past the topic's end";
            else if (c >= 0 && c < lo[part])
                why = "the topic no longer holds the checkpoint";
        }
        if (why) {
            int embedded = strcmp(g->conf->bootstrap, "embedded") == 0;
            if (embedded)
                ks_log(KS_LOG_INFO,
                       "%s: the embedded broker starts empty: cleared the global table %s a previous run left", g->name,
                       gt->p->table_source.table);
            else
                ks_log(KS_LOG_INFO, "%s: global table %s: %s; wiped it and reading %s in full", g->name,
                       gt->p->table_source.table, why, gt->topic);
            rc = ks_store_wipe(g->stores, gt->store, GLOBAL_PARTITION);
            for (int part = 0; part < gt->nparts && rc == 0; part++)
                rc = ks_store_set_checkpoint(g->stores, gt->store, part, -1);
            if (rc == 0)
                rc = ks_stores_commit(g->stores, err, errlen);
            else
                snprintf(err, errlen, "global table %s: cannot wipe its store", gt->p->table_source.table);
        } else {
            ks_stores_abort(g->stores);
        }
        for (int part = 0; part < gt->nparts; part++)
            if (why || gt->next[part] < 0)
                gt->next[part] = lo[part];
    }
    free(lo);
    return rc;
}

/* Assigns every partition of every table at its next offset. */
static int assign_all(ks_global_t *g, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < g->ntables; i++)
        for (int part = 0; part < g->tables[i].nparts; part++)
            rd_kafka_topic_partition_list_add(tp, g->tables[i].topic, part)->offset = g->tables[i].next[part];
    rd_kafka_resp_err_t e = rd_kafka_assign(g->consumer, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e) {
        snprintf(err, errlen, "global tables: cannot assign their partitions: %s", rd_kafka_err2str(e));
        return -1;
    }
    return 0;
}

/* ---- applying records ---- */

/* One record: raw into the store (bootstrap), or through the engine's table source (running). */
static int apply(ks_global_t *g, gtable_t *gt, const rd_kafka_message_t *m, int bootstrapping, ks_buf_t *vb, char *err,
                 size_t errlen)
{
    int64_t ts = rd_kafka_message_timestamp(m, NULL);
    if (bootstrapping) {
        if (m->key && ks_engine_restore_record(g->stores, ks_store_layout_of(gt->p), gt->store, GLOBAL_PARTITION,
                                               m->key, m->key_len, m->payload, m->len, ts, vb, err, errlen))
            return -1;
    } else {
        ks_record_t r = {gt->topic,  m->partition,
                         m->offset,  ts,
                         m->key,     m->key ? m->key_len : 0,
                         m->payload, m->payload ? m->len : 0,
                         NULL,       0};
        if (ks_engine_process(g->engine, &r, err, errlen))
            return -1;
    }
    gt->next[m->partition] = m->offset + 1;
    g->applied++;
    return 0;
}

/* Ends a batch: the dead-letter records delivered, the checkpoints and the data in one transaction. */
static int end_batch(ks_global_t *g, char *err, size_t errlen)
{
    if (g->producer && rd_kafka_outq_len(g->producer) > 0) {
        rd_kafka_resp_err_t e = rd_kafka_flush(g->producer, 60000);
        if (e) {
            snprintf(err, errlen, "flushing the dead-letter records: %s", rd_kafka_err2str(e));
            return -1;
        }
    }
    if (atomic_load(&g->delivery_failed)) {
        snprintf(err, errlen, "a dead-letter record could not be written");
        return -1;
    }
    if (ks_stores_begin(g->stores, err, errlen))
        return -1;
    for (int i = 0; i < g->ntables; i++)
        for (int part = 0; part < g->tables[i].nparts; part++)
            if (ks_store_set_checkpoint(g->stores, g->tables[i].store, part, g->tables[i].next[part])) {
                snprintf(err, errlen, "global tables: cannot write their checkpoints");
                return -1;
            }
    return ks_engine_commit_stores(g->engine, err, errlen);
}

/* Whether every partition has reached its bootstrap end; a partition with no message waiting is asked its position. */
static int bootstrapped(ks_global_t *g)
{
    for (int i = 0; i < g->ntables; i++) {
        gtable_t *gt = &g->tables[i];
        for (int part = 0; part < gt->nparts; part++) {
            if (gt->next[part] >= gt->end[part])
                continue;
            /* Transaction markers and compaction leave gaps: the position says where the end is. */
            rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(pos, gt->topic, part);
            int at_end = rd_kafka_position(g->consumer, pos) == 0 && pos->elems[0].offset >= gt->end[part];
            rd_kafka_topic_partition_list_destroy(pos);
            if (!at_end)
                return 0;
            gt->next[part] = gt->end[part];
        }
    }
    return 1;
}

static int64_t remaining(const ks_global_t *g)
{
    int64_t n = 0;
    for (int i = 0; i < g->ntables; i++)
        for (int part = 0; part < g->tables[i].nparts; part++)
            if (g->tables[i].end[part] > g->tables[i].next[part])
                n += g->tables[i].end[part] - g->tables[i].next[part];
    return n;
}

/* Reads every partition to its bootstrap end. */
static int bootstrap_tables(ks_global_t *g, char *err, size_t errlen)
{
    int64_t total = remaining(g);
    char names[512] = "";
    size_t nl = 0;
    for (int i = 0; i < g->ntables && nl < sizeof names - 64; i++)
        nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%s (%s, %d partition%s)", i ? ", " : "",
                               g->tables[i].p->table_source.table, g->tables[i].topic, g->tables[i].nparts,
                               g->tables[i].nparts == 1 ? "" : "s");
    if (total == 0) {
        ks_log(KS_LOG_INFO, "%s: global tables up to date: %s", g->name, names);
        return end_batch(g, err, errlen);
    }
    ks_log(KS_LOG_INFO, "%s: bootstrapping global tables %s: %lld records", g->name, names, (long long)total);
    uint64_t t0 = ks_mono_ms(), last_log = t0, idle_since = t0;
    int tty = isatty(STDERR_FILENO), drawn = 0, rc = 0, in_batch = 0;
    uint64_t applied0 = g->applied;
    ks_buf_t vb = {0};
    rd_kafka_message_t *msgs[1024];
    while (rc == 0 && !atomic_load(&g->stop)) {
        ssize_t nm = rd_kafka_consume_batch_queue(g->q, 20, msgs, 1024);
        if (nm <= 0) {
            if (bootstrapped(g))
                break;
            if (ks_mono_ms() - idle_since > (uint64_t)g->conf->startup_timeout_ms) {
                snprintf(err, errlen, "bootstrapping the global tables: no progress for %d ms (%lld records left)",
                         g->conf->startup_timeout_ms, (long long)remaining(g));
                rc = -1;
            }
            continue;
        }
        idle_since = ks_mono_ms();
        for (ssize_t i = 0; i < nm; i++) {
            rd_kafka_message_t *m = msgs[i];
            gtable_t *gt = m->rkt ? table_of(g, rd_kafka_topic_name(m->rkt)) : NULL;
            if (rc == 0 && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(err, errlen, "bootstrapping the global tables: %s", rd_kafka_message_errstr(m));
                rc = -1;
            } else if (rc == 0 && !m->err && gt && m->partition < gt->nparts) {
                /* A record past the bootstrap's end is applied too: it is not fetched again. */
                if ((in_batch == 0 && ks_stores_begin(g->stores, err, errlen)) || apply(g, gt, m, 1, &vb, err, errlen))
                    rc = -1;
                in_batch++;
            }
            rd_kafka_message_destroy(m);
        }
        if (rc == 0 && in_batch >= BOOT_BATCH) {
            rc = end_batch(g, err, errlen);
            in_batch = 0;
        }
        uint64_t now = ks_mono_ms();
        int64_t done = (int64_t)(g->applied - applied0);
        if (tty && now - last_log >= 200) {
            fprintf(stderr, "\r%s: bootstrapping global tables: %lld of %lld records (%d%%)  ", g->name,
                    (long long)done, (long long)total, (int)(done * 100 / total));
            fflush(stderr);
            last_log = now;
            drawn = 1;
        } else if (!tty && now - last_log >= 2000) {
            ks_log(KS_LOG_INFO, "%s: bootstrapping global tables: %lld of %lld records", g->name, (long long)done,
                   (long long)total);
            last_log = now;
        }
        if (rc == 0 && remaining(g) == 0)
            break;
    }
    if (drawn)
        fputs("\n", stderr);
    if (rc == 0)
        rc = end_batch(g, err, errlen);
    if (rc == 0)
        rc = ks_stores_sync(g->stores);
    ks_buf_free(&vb);
    if (rc) {
        ks_stores_abort(g->stores);
        return -1;
    }
    uint64_t ms = ks_mono_ms() - t0;
    uint64_t n = g->applied - applied0;
    ks_log(KS_LOG_INFO, "%s: bootstrapped global tables: %llu records in %llu ms (%.0f records/s)", g->name,
           (unsigned long long)n, (unsigned long long)ms, ms ? (double)n * 1000.0 / (double)ms : (double)n);
    return 0;
}

/* ---- the running thread ---- */

static void *global_main(void *arg)
{
    ks_global_t *g = arg;
    char err[KS_ERRMSG_SIZE];
    rd_kafka_message_t *msgs[1024];
    ks_buf_t vb = {0};
    int rc = 0;
    while (rc == 0 && !atomic_load(&g->stop)) {
        ssize_t nm = rd_kafka_consume_batch_queue(g->q, POLL_MS, msgs, 1024);
        if (g->producer)
            rd_kafka_poll(g->producer, 0);
        if (nm <= 0)
            continue;
        for (ssize_t i = 0; i < nm; i++) {
            rd_kafka_message_t *m = msgs[i];
            gtable_t *gt = m->rkt ? table_of(g, rd_kafka_topic_name(m->rkt)) : NULL;
            if (rc == 0 && m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(err, sizeof err, "reading the global tables: %s", rd_kafka_message_errstr(m));
                rc = -1;
            } else if (rc == 0 && !m->err && gt && m->partition < gt->nparts) {
                rc = apply(g, gt, m, 0, &vb, err, sizeof err);
            }
            rd_kafka_message_destroy(m);
        }
        if (rc == 0)
            rc = end_batch(g, err, sizeof err);
    }
    ks_buf_free(&vb);
    if (rc) {
        ks_stores_abort(g->stores);
        ks_log(KS_LOG_ERROR, "%s: %s; stopping every service", g->name, err);
        ks_status_failed(g->t, err);
        atomic_store(&g->failed, 1);
        ks__stop_all_threads();
    } else {
        ks_stores_sync(g->stores);
    }
    return NULL;
}

/* ---- the lifecycle ---- */

void ks__global_dir(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *dir, size_t n)
{
    ks_kafka_store_dir(t, conf, 1, dir, n);
}

void ks_kafka_store_dir(const ks_topology_t *t, const ks_runtime_conf_t *conf, int global, char *dir, size_t n)
{
    snprintf(dir, n, "%s/%s%s", conf->state_dir, t->application, global ? "/global" : "");
}

static rd_kafka_t *new_client(ks_global_t *g, rd_kafka_type_t type, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = ks__client_conf(g->conf, g->bootstrap, err, errlen);
    if (!c)
        return NULL;
    char e[512], group[300];
    snprintf(group, sizeof group, "%s-global", g->t->application);
    const char *csettings[][2] = {{"group.id", group},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"enable.partition.eof", "false"},
                                  /* Large fetches for the bootstrap; the fetch queue's bytes bound the memory. */
                                  {"queued.min.messages", "1000000"},
                                  {"queued.max.messages.kbytes", "16384"},
                                  {"max.partition.fetch.bytes", "4194304"},
                                  {"fetch.max.bytes", "16777216"},
                                  {"fetch.wait.max.ms", "10"}};
    const char *psettings[][2] = {{"linger.ms", "5"}};
    const char *(*settings)[2] = type == RD_KAFKA_CONSUMER ? csettings : psettings;
    size_t n = type == RD_KAFKA_CONSUMER ? sizeof csettings / sizeof csettings[0] : 1;
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(c, settings[i][0], settings[i][1], e, sizeof e)) {
            snprintf(err, errlen, "global table client configuration %s: %s", settings[i][0], e);
            rd_kafka_conf_destroy(c);
            return NULL;
        }
    rd_kafka_conf_set_log_cb(c, ks__rk_log_cb);
    rd_kafka_conf_set_opaque(c, g);
    if (type == RD_KAFKA_PRODUCER)
        rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "cannot create the global tables' %s: %s",
                 type == RD_KAFKA_CONSUMER ? "consumer" : "producer", e);
        rd_kafka_conf_destroy(c);
    }
    return rk;
}

int ks__global_start(const ks_topology_t *t, const ks_runtime_conf_t *conf, const char *bootstrap, ks_global_t **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    if (!ks_topology_has_global(t))
        return 0;
    ks_global_t *g = ks_xcalloc(1, sizeof *g);
    g->t = t;
    g->conf = conf;
    g->bootstrap = bootstrap;
    snprintf(g->name, sizeof g->name, "%s[global]", t->application);
    char dir[4096];
    ks__global_dir(t, conf, dir, sizeof dir);
    ks_engine_ops_t ops = {on_emit, on_peek};
    int rc = -1;
    if (!(g->stores = ks_stores_open(dir, KS_STORE_SYNC, err, errlen)))
        goto out;
    if (!(g->engine = ks_engine_new(t, &ops, g, err, errlen)))
        goto out;
    ks_engine_attach_stores(g->engine, g->stores, 0);
    if (!(g->consumer = new_client(g, RD_KAFKA_CONSUMER, err, errlen)) ||
        !(g->producer = new_client(g, RD_KAFKA_PRODUCER, err, errlen)))
        goto out;
    rd_kafka_poll_set_consumer(g->consumer);
    g->q = rd_kafka_queue_get_consumer(g->consumer);
    if (find_tables(g, err, errlen))
        goto out;
    for (int i = 0; i < g->ntables; i++)
        if (table_range(g, &g->tables[i], err, errlen))
            goto out;
    if (assign_all(g, err, errlen) || bootstrap_tables(g, err, errlen))
        goto out;
    ks_status_global_bootstrapped(t);
    if (pthread_create(&g->tid, NULL, global_main, g)) {
        snprintf(err, errlen, "cannot start the global thread");
        goto out;
    }
    g->started = 1;
    rc = 0;
out:
    if (rc) {
        ks__global_stop(g);
        return -1;
    }
    *out = g;
    return 0;
}

int ks__global_stop(ks_global_t *g)
{
    if (!g)
        return 0;
    atomic_store(&g->stop, 1);
    if (g->started)
        pthread_join(g->tid, NULL);
    int failed = atomic_load(&g->failed);
    if (g->q)
        rd_kafka_queue_destroy(g->q);
    if (g->consumer) {
        rd_kafka_assign(g->consumer, NULL);
        rd_kafka_destroy(g->consumer);
    }
    if (g->producer) {
        rd_kafka_flush(g->producer, 10000);
        rd_kafka_destroy(g->producer);
    }
    ks_engine_free(g->engine);
    ks_stores_close(g->stores);
    for (int i = 0; i < g->ntables; i++) {
        free(g->tables[i].next);
        free(g->tables[i].end);
    }
    free(g->tables);
    free(g);
    return failed ? -1 : 0;
}
