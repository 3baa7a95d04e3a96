/*
 * purge.c: purging the committed records of repartition topics
 * (DeleteRecords), as Kafka Streams does. Part of the stream thread
 * (driver_int.h); loop thread.
 */
#include <string.h>

#include "driver_int.h"

/* Whether `topic` is one of the application's repartition topics. */
static int is_repartition_topic(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->op == KS_OP_SOURCE && t->procs[i]->is_repartition && t->procs[i]->io.topic &&
            strcmp(t->procs[i]->io.topic, topic) == 0)
            return 1;
    return 0;
}

/*
 * Called with the offsets just committed: those of repartition topics are
 * remembered for the next purge. Loop thread.
 */
void ks__note_committed(stream_thread_t *st, const rd_kafka_topic_partition_list_t *committed)
{
    if (strcmp(st->conf->bootstrap, "embedded") == 0)
        return; /* the embedded broker has no DeleteRecords */
    for (int i = 0; i < committed->cnt; i++) {
        const rd_kafka_topic_partition_t *c = &committed->elems[i];
        if (c->offset < 0 || !is_repartition_topic(st->t, c->topic))
            continue;
        if (!st->purge_offsets)
            st->purge_offsets = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(st->purge_offsets, c->topic, c->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(st->purge_offsets, c->topic, c->partition);
        tp->offset = c->offset;
    }
}

/* Reads the result of the DeleteRecords request in flight, waiting up to timeout_ms. */
static void purge_result(stream_thread_t *st, int timeout_ms)
{
    if (!st->purge_pending)
        return;
    rd_kafka_event_t *ev = rd_kafka_queue_poll(st->purge_q, timeout_ms);
    if (!ev)
        return;
    st->purge_pending = 0;
    const rd_kafka_DeleteRecords_result_t *res = rd_kafka_event_DeleteRecords_result(ev);
    const rd_kafka_topic_partition_list_t *done = res ? rd_kafka_DeleteRecords_result_offsets(res) : NULL;
    if (rd_kafka_event_error(ev)) {
        ks_log(KS_LOG_WARN, "%s: purging repartition topics: %s (tried again after repartition.purge.interval.ms)",
               st->name, rd_kafka_event_error_string(ev));
    } else if (done) {
        for (int i = 0; i < done->cnt; i++) {
            if (done->elems[i].err)
                ks_log(KS_LOG_WARN, "%s: purging %s[%d]: %s", st->name, done->elems[i].topic, done->elems[i].partition,
                       rd_kafka_err2str(done->elems[i].err));
            else
                ks_log(KS_LOG_DEBUG, "%s: purged %s[%d] below offset %lld", st->name, done->elems[i].topic,
                       done->elems[i].partition, (long long)done->elems[i].offset);
        }
    }
    rd_kafka_event_destroy(ev);
}

/*
 * Records of a repartition topic below the committed offset are never read
 * again: as Kafka Streams does, they are deleted (DeleteRecords) at a commit
 * that comes at least repartition.purge.interval.ms after the last purge.
 * The request is asynchronous: its result is read at a later commit, and no
 * new request is made while one is in flight. The topics are created with
 * retention.ms=-1 (admin.c), so this is what bounds their size. Loop thread,
 * after ks__commit_cycle.
 */
void ks__purge_repartition(stream_thread_t *st)
{
    if (!st->producer)
        return;
    uint64_t now = uv_now(&st->loop); /* the clock of the commit timer, so an interval of commits is exact */
    if (st->purge_pending && st->purge_q)
        purge_result(st, 0);
    if (st->purge_pending || !st->purge_offsets || st->purge_offsets->cnt == 0 ||
        now - st->last_purge_ms < (uint64_t)st->conf->purge_interval_ms)
        return;
    if (!st->purge_q)
        st->purge_q = rd_kafka_queue_new(st->producer);
    rd_kafka_DeleteRecords_t *del = rd_kafka_DeleteRecords_new(st->purge_offsets);
    rd_kafka_DeleteRecords(st->producer, &del, 1, NULL, st->purge_q);
    rd_kafka_DeleteRecords_destroy(del);
    ks_log(KS_LOG_DEBUG, "%s: purging %d repartition partitions below their committed offsets", st->name,
           st->purge_offsets->cnt);
    rd_kafka_topic_partition_list_destroy(st->purge_offsets);
    st->purge_offsets = NULL;
    st->purge_pending = 1;
    st->last_purge_ms = now;
}

/* At close, before the producer is destroyed: the request in flight gets a second to answer. */
void ks__purge_close(stream_thread_t *st)
{
    if (st->purge_q) {
        purge_result(st, 1000);
        rd_kafka_queue_destroy(st->purge_q);
        st->purge_q = NULL;
    }
    if (st->purge_offsets)
        rd_kafka_topic_partition_list_destroy(st->purge_offsets);
    st->purge_offsets = NULL;
    st->purge_pending = 0;
}
