/*
 * admin.c: talking to the cluster before processing starts (metadata,
 * topic creation), the embedded mock broker, client configuration and
 * librdkafka's log lines (through util/log.h).
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../util/duration.h"
#include "../util/util.h"
#include "kafka_int.h"
#include "status.h"

/* Kafka Streams' windowstore.changelog.additional.retention.ms default: a day. */
#define KS_WINDOW_CHANGELOG_EXTRA_MS 86400000LL

void ks__rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    int l = level <= 3 ? KS_LOG_ERROR : level <= 4 ? KS_LOG_WARN : level <= 6 ? KS_LOG_INFO : KS_LOG_DEBUG;
    ks_log(l, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *ks__client_conf(const ks_runtime_conf_t *conf, const char *bootstrap, char *err, size_t errlen)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(c, ks__rk_log_cb);
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, errlen) != RD_KAFKA_CONF_OK ||
        ks_runtime_conf_apply(conf, c, err, errlen) != 0) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

/* ---- metadata and topics ---- */

static const rd_kafka_metadata_topic_t *find_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return &md->topics[i];
    return NULL;
}

/* Whether `name` ends with `suffix`. */
static int ends_with(const char *name, const char *suffix)
{
    size_t nl = strlen(name), sl = strlen(suffix);
    return nl > sl && strcmp(name + nl - sl, suffix) == 0;
}

/*
 * The configuration Kafka Streams gives its internal topics (its
 * RepartitionTopicConfig, UnwindowedChangelogTopicConfig and
 * WindowedChangelogTopicConfig):
 *
 *   repartition  cleanup.policy=delete, retention.ms=-1 and
 *                segment.bytes=52428800: nothing expires, however long the
 *                service is down; the driver deletes what has been committed
 *                (repartition.purge.interval.ms), and 50 MB segments let
 *                those deletions free disk space soon.
 *   changelog    cleanup.policy=compact: each key's latest value is kept.
 *                A window or session store's changelog is compact,delete
 *                with retention.ms the store's retention (size + grace; for
 *                sliding windows twice the time difference + grace; for
 *                sessions gap + grace) plus a day, Kafka Streams' default
 *                windowstore.changelog.additional.retention.ms; a
 *                stream-stream join's buffer is delete only, with its
 *                retention (before + after + grace) plus the same.
 *
 * Both carry message.timestamp.type=CreateTime (Kafka Streams'
 * INTERNAL_TOPIC_DEFAULT_OVERRIDES for changelogs; the broker's default for
 * repartition topics), so restored windows keep their records' times. The
 * dead-letter topic keeps the broker's defaults.
 */
static void set_internal_topic_config(const ks_topology_t *t, rd_kafka_NewTopic_t *nt, const char *name)
{
    /* A foreign-key join's two `...-topic` topics are repartition topics too. */
    if ((ends_with(name, "-repartition") || ends_with(name, "-topic")) && t && ks_topology_is_internal(t, name)) {
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
        rd_kafka_NewTopic_set_config(nt, "retention.ms", "-1");
        rd_kafka_NewTopic_set_config(nt, "segment.bytes", "52428800");
        return;
    }
    if (!ends_with(name, "-changelog"))
        return;
    int pi = -1;
    const ks_proc_t *wp = t && ks__changelog_store(t, name, &pi) && pi >= 0 ? t->procs[pi] : NULL;
    rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", "CreateTime");
    if (wp && wp->join.kind == KS_JOIN_STREAM_STREAM && wp->join.role == KS_JOIN_ROLE_WINDOWED) {
        /* A stream-stream join's buffer (StreamJoinedStoreFactory): cleanup.policy=delete, its retention + a day. */
        char ret[32];
        snprintf(ret, sizeof ret, "%lld",
                 (long long)(wp->join.before + wp->join.after + wp->join.grace + KS_WINDOW_CHANGELOG_EXTRA_MS));
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "delete");
        rd_kafka_NewTopic_set_config(nt, "retention.ms", ret);
    } else if (wp && wp->state.window.kind != KS_WIN_NONE && wp->op != KS_OP_SUPPRESS) {
        int64_t span = wp->state.window.kind == KS_WIN_SLIDING ? 2 * wp->state.window.size : wp->state.window.size;
        char ret[32];
        snprintf(ret, sizeof ret, "%lld", (long long)(span + wp->state.window.grace + KS_WINDOW_CHANGELOG_EXTRA_MS));
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact,delete");
        rd_kafka_NewTopic_set_config(nt, "retention.ms", ret);
    } else {
        rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    }
}

/*
 * Waits until the metadata shows each created topic with all its
 * partitions led: a broker answers CreateTopics before every broker knows
 * the topic, and the service's clients (a restore reading a new changelog's
 * end, the consumer subscribing to a new repartition topic) would find it
 * missing.
 */
static int wait_visible(rd_kafka_t *rk, char **names, const int *parts, int n, int timeout_ms, char *err, size_t errlen)
{
    uint64_t deadline = ks_mono_ms() + (uint64_t)timeout_ms;
    const char *missing = NULL;
    long pause_ms = 5; /* a new topic is usually visible within milliseconds: ask soon, then less often */
    for (;;) {
        const rd_kafka_metadata_t *md = NULL;
        missing = NULL;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < n && !missing; i++) {
                const rd_kafka_metadata_topic_t *mt = find_topic(md, names[i]);
                int led = mt && mt->partition_cnt == parts[i];
                for (int j = 0; led && j < mt->partition_cnt; j++)
                    led = mt->partitions[j].leader >= 0;
                if (!led)
                    missing = names[i];
            }
            rd_kafka_metadata_destroy(md);
        } else {
            missing = names[0];
        }
        if (!missing)
            return 0;
        if (ks_mono_ms() > deadline) {
            snprintf(err, errlen, "created topic %s, but it was not in the cluster's metadata after %d ms", missing,
                     timeout_ms);
            return -1;
        }
        struct timespec ts = {0, pause_ms * 1000000L};
        nanosleep(&ts, NULL);
        if (pause_ms < 100)
            pause_ms *= 2;
    }
}

static int create_topics(rd_kafka_t *rk, const ks_topology_t *t, char **names, int *parts, int n, int rf,
                         int timeout_ms, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    rd_kafka_NewTopic_t **nt = ks_xcalloc((size_t)n, sizeof *nt);
    char e[256];
    for (int i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], parts[i], rf, e, sizeof e);
        if (nt[i])
            set_internal_topic_config(t, nt[i], names[i]);
        if (!nt[i]) {
            snprintf(err, errlen, "cannot describe topic %s: %s", names[i], e);
            rd_kafka_NewTopic_destroy_array(nt, (size_t)i);
            free(nt);
            return -1;
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, e, sizeof e);
    rd_kafka_CreateTopics(rk, nt, (size_t)n, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    int rc = 0;
    if (!ev) {
        snprintf(err, errlen, "creating internal topics timed out after %d ms", timeout_ms);
        rc = -1;
    } else if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "creating internal topics: %s", rd_kafka_event_error_string(ev));
        rc = -1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(err, errlen, "creating topic %s: %s", rd_kafka_topic_result_name(res[i]),
                         rd_kafka_topic_result_error_string(res[i]) ? rd_kafka_topic_result_error_string(res[i])
                                                                    : rd_kafka_err2str(te));
                rc = -1;
                break;
            }
            ks_log(KS_LOG_INFO, "created topic %s", rd_kafka_topic_result_name(res[i]));
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
    free(nt);
    if (rc == 0)
        rc = wait_visible(rk, names, parts, n, timeout_ms, err, errlen);
    return rc;
}

/*
 * The partition count a repartition topic must have to be co-partitioned
 * with the table a stream-table join of its reader reads, or with the
 * other side's source topic of a stream-stream join: Kafka Streams puts
 * a join's sources in one co-partition group and gives the group's
 * repartition topics its source topic's count
 * (CopartitionedTopicsEnforcer), so that a re-keyed stream meets each of
 * the other side's partitions; so are a foreign-key join's two topics
 * (below). Sets *table to that topic; 0 when no such join reads the topic
 * (or the other topic is not in md).
 */
static int join_partitions(const ks_topology_t *t, const rd_kafka_metadata_t *md, const char *topic, const char **table)
{
    int sub = ks_topology_reader(t, topic);
    for (int i = 0; sub >= 0 && i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->subtopology == sub && p->join.kind == KS_JOIN_STREAM_STREAM && p->join.role == KS_JOIN_ROLE_WINDOWED) {
            for (int j = 0; j < t->nprocs; j++) {
                const ks_proc_t *q = t->procs[j];
                const rd_kafka_metadata_topic_t *mt =
                    q->op == KS_OP_SOURCE && !q->is_repartition && q->subtopology == sub && q->io.ntopics
                        ? find_topic(md, q->io.topics[0])
                        : NULL;
                if (mt) {
                    *table = q->io.topics[0];
                    return mt->partition_cnt;
                }
            }
            continue;
        }
        /*
         * A foreign-key join's registration topic is co-partitioned with the
         * right table, its response topic with the left table's sub-topology
         * (KTableImpl#doJoinOnForeignKey's copartitionSources): either takes
         * the count of a source topic its reader's sub-topology reads.
         */
        if (p->subtopology == sub && p->join.kind == KS_JOIN_FOREIGN_KEY &&
            (p->join.fk_role == KS_FK_RECEIVE || p->join.fk_role == KS_FK_RESOLVER)) {
            for (int j = 0; j < t->nprocs; j++) {
                const ks_proc_t *src = t->procs[j];
                const rd_kafka_metadata_topic_t *mt =
                    src->op == KS_OP_SOURCE && !src->is_repartition && src->subtopology == sub && src->io.ntopics
                        ? find_topic(md, src->io.topics[0])
                        : NULL;
                if (mt) {
                    *table = src->io.topics[0];
                    return mt->partition_cnt;
                }
            }
        }
        if (p->subtopology != sub || p->join.kind != KS_JOIN_STREAM_TABLE || !p->join.table_node)
            continue;
        const ks_proc_t *src = p->join.table_node->nparents ? p->join.table_node->parents[0] : NULL;
        const rd_kafka_metadata_topic_t *mt = src && src->io.ntopics ? find_topic(md, src->io.topics[0]) : NULL;
        if (mt) {
            *table = src->io.topics[0];
            return mt->partition_cnt;
        }
    }
    return 0;
}

/*
 * Tells the status (status.h) how many tasks each sub-topology makes: the
 * partition count of its source topics, as the cluster has them (`md`) or
 * as they were just created (`names`, `parts`). The query server finds a
 * key's partition with it.
 */
static void note_partitions(const ks_topology_t *t, const rd_kafka_metadata_t *md, char **names, const int *parts,
                            int nn)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || p->gen.enabled || ks_topology_is_global_source(p) || !p->io.ntopics)
            continue;
        const char *topic = p->io.topics[0];
        int n = 0;
        const rd_kafka_metadata_topic_t *mt = find_topic(md, topic);
        if (mt)
            n = mt->partition_cnt;
        for (int k = 0; k < nn && !n; k++)
            if (strcmp(names[k], topic) == 0)
                n = parts[k];
        if (n > 0)
            ks_status_set_partitions(t, p->subtopology, n);
    }
}

int ks__prepare_cluster(const ks_topology_t *t, const ks_runtime_conf_t *conf, const char *bootstrap, char *err,
                        size_t errlen)
{
    rd_kafka_conf_t *c = ks__client_conf(conf, bootstrap, err, errlen);
    if (!c)
        return -1;
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "cannot create a Kafka client: %s", e);
        rd_kafka_conf_destroy(c);
        return -1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t me = rd_kafka_metadata(rk, 1, NULL, &md, conf->startup_timeout_ms);
    if (me) {
        snprintf(err, errlen, "cannot reach Kafka at %s within %d ms (startup.timeout.ms): %s", bootstrap,
                 conf->startup_timeout_ms, rd_kafka_err2str(me));
        rd_kafka_destroy(rk);
        return -1;
    }
    int rc = 0, maxparts = 1;
    /* Source topics must exist; co-partitioned sources (one sub-topology) must agree on partitions. */
    for (int i = 0; i < t->nprocs && rc == 0; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || p->is_repartition || p->gen.enabled)
            continue; /* generate sources read no Kafka topic */
        for (int j = 0; j < p->io.ntopics; j++) {
            const rd_kafka_metadata_topic_t *mt = find_topic(md, p->io.topics[j]);
            if (!mt) {
                snprintf(err, errlen,
                         "%s:%d:%d: source topic `%s` does not exist on %s (kstreamd creates only internal topics)",
                         p->pos.file, p->pos.line, p->pos.col, p->io.topics[j], bootstrap);
                rc = -1;
                break;
            }
            if (mt->partition_cnt > maxparts)
                maxparts = mt->partition_cnt;
        }
    }
    for (int i = 0; i < t->nprocs && rc == 0; i++) {
        const ks_proc_t *a = t->procs[i];
        if (a->op != KS_OP_SOURCE || a->is_repartition || !a->io.ntopics)
            continue;
        for (int k = i + 1; k < t->nprocs && rc == 0; k++) {
            const ks_proc_t *b = t->procs[k];
            if (b->op != KS_OP_SOURCE || b->is_repartition || b->subtopology != a->subtopology || !b->io.ntopics)
                continue;
            const rd_kafka_metadata_topic_t *ma = find_topic(md, a->io.topics[0]),
                                            *mb = find_topic(md, b->io.topics[0]);
            if (ma && mb && ma->partition_cnt != mb->partition_cnt) {
                snprintf(err, errlen,
                         "topics `%s` (%d partitions) and `%s` (%d) are joined in one sub-topology, so they must be "
                         "co-partitioned",
                         a->io.topics[0], ma->partition_cnt, b->io.topics[0], mb->partition_cnt);
                rc = -1;
            }
        }
    }
    /* A repartition topic in front of a join that exists must have the other side's partition count. */
    for (int i = 0; i < t->ninternal && rc == 0; i++) {
        const char *table = NULL;
        int want = join_partitions(t, md, t->internal_topics[i], &table);
        const rd_kafka_metadata_topic_t *mt = find_topic(md, t->internal_topics[i]);
        if (want && mt && mt->partition_cnt != want) {
            snprintf(err, errlen,
                     "topics `%s` (%d partitions) and `%s` (%d) are joined in one sub-topology, so they must be "
                     "co-partitioned",
                     t->internal_topics[i], mt->partition_cnt, table, want);
            rc = -1;
        }
    }
    /*
     * Internal topics and the dead-letter topic: created when missing, with
     * the sources' partition count; a repartition topic in front of a
     * stream-table join with its table's.
     */
    if (rc == 0) {
        char **names = ks_xcalloc((size_t)t->ninternal + 1, sizeof(char *));
        int *parts = ks_xcalloc((size_t)t->ninternal + 1, sizeof(int));
        int nn = 0;
        for (int i = 0; i < t->ninternal; i++)
            if (!find_topic(md, t->internal_topics[i])) {
                const char *table = NULL;
                int want = join_partitions(t, md, t->internal_topics[i], &table);
                names[nn] = t->internal_topics[i];
                parts[nn++] = want ? want : maxparts;
            }
        /* With errors.tolerance none a failed record stops the service: nothing is ever dead-lettered. */
        if (!t->errors_tolerance_none && !find_topic(md, t->dlq_topic)) {
            names[nn] = t->dlq_topic;
            parts[nn++] = maxparts;
        }
        rc = create_topics(rk, t, names, parts, nn, conf->replication_factor, conf->startup_timeout_ms, err, errlen);
        if (rc == 0)
            note_partitions(t, md, names, parts, nn);
        free(names);
        free(parts);
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- the embedded broker ---- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;

static void mock_topic(const char *name, int parts, char **seen, int *nseen)
{
    for (int i = 0; i < *nseen; i++)
        if (strcmp(seen[i], name) == 0)
            return;
    seen[(*nseen)++] = (char *)name;
    rd_kafka_mock_topic_create(mock, name, parts, 1);
}

const char *ks__embedded_start(ks_topology_t **ts, int n, const ks_runtime_conf_t *conf, char *err, size_t errlen)
{
    if (mock)
        return rd_kafka_mock_cluster_bootstraps(mock);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    rd_kafka_conf_set(c, "log_level", "3", e, sizeof e); /* it has no bootstrap.servers of its own, on purpose */
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, e, sizeof e);
    if (!mock_rk) {
        snprintf(err, errlen, "cannot start the embedded broker: %s", e);
        return NULL;
    }
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    if (!mock) {
        snprintf(err, errlen, "cannot start the embedded broker (librdkafka mock cluster)");
        rd_kafka_destroy(mock_rk);
        mock_rk = NULL;
        return NULL;
    }
    /* The mock has no CreateTopics: create every topic the topologies name, up front. */
    char *seen[4096];
    int nseen = 0;
    for (int k = 0; k < n; k++) {
        ks_topology_t *t = ts[k];
        for (int i = 0; i < t->nprocs && nseen < 4000; i++) {
            const ks_proc_t *p = t->procs[i];
            int parts = p->is_repartition ? conf->embedded_partitions : 0;
            const ks_topic_conf_t *tc = p->io.topic ? ks_topology_topic(t, p->io.topic) : NULL;
            if (!parts)
                parts = tc && tc->partitions ? tc->partitions : conf->embedded_partitions;
            if (p->op == KS_OP_SOURCE && !p->gen.enabled)
                for (int j = 0; j < p->io.ntopics; j++)
                    mock_topic(p->io.topics[j], parts, seen, &nseen);
            if (p->op == KS_OP_SINK && p->io.topic)
                mock_topic(p->io.topic, parts, seen, &nseen);
        }
        for (int i = 0; i < t->ninternal && nseen < 4000; i++)
            mock_topic(t->internal_topics[i], conf->embedded_partitions, seen, &nseen);
        mock_topic(t->dlq_topic, 1, seen, &nseen);
    }
    ks_log(KS_LOG_INFO, "embedded broker at %s (librdkafka mock cluster: in memory only, %d topics)",
           rd_kafka_mock_cluster_bootstraps(mock), nseen);
    return rd_kafka_mock_cluster_bootstraps(mock);
}

void ks__embedded_stop(void)
{
    if (mock)
        rd_kafka_mock_cluster_destroy(mock);
    if (mock_rk)
        rd_kafka_destroy(mock_rk);
    mock = NULL;
    mock_rk = NULL;
}
