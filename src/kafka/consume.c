/*
 * consume.c: consuming (the consumer queue drained in batches, each ordered
 * by timestamp within its task), rebalances (stores restored before an
 * assigned task processes; processed offsets committed before partitions
 * are given up), and the prefetch: small (RSS), its fetcher woken when the
 * app has drained it (wake_fetcher: librdkafka 2.0.2 would otherwise idle
 * up to 1 s). Part of the stream thread (driver_int.h); loop thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/partition_group.h"
#include "../util/util.h"
#include "driver_int.h"
#include "status.h"

#define DRAIN_MAX 20000               /* messages per drain before the loop gets a turn */
#define BATCH 512                     /* records ordered and processed together */
#define EARLY_WAKE 2048               /* see drain_consumer */
#define START_OFFSETS_TIMEOUT_MS 5000 /* see resolve_start_offsets */

static void drain_consumer(stream_thread_t *st);

/*
 * The consumer queue signals its fd only when messages arrive, but
 * librdkafka counts max.poll.interval.ms from the last poll: an idle
 * service would leave its group every 5 minutes. Poll once a second.
 */
void ks__on_poll_timer(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    ks__sample_tick(st);
    ks__metrics_publish(st);
    if (st->consumer && !st->held && !st->stopping && !st->failed)
        drain_consumer(st);
}

int64_t ks__reset_offset(const char *value)
{
    static const char *const begin[] = {"smallest", "earliest", "beginning"}, *const end[] = {"largest", "latest",
                                                                                              "end"};
    for (size_t i = 0; i < 3; i++) {
        if (strcmp(value, begin[i]) == 0)
            return RD_KAFKA_OFFSET_BEGINNING;
        if (strcmp(value, end[i]) == 0)
            return RD_KAFKA_OFFSET_END;
    }
    return RD_KAFKA_OFFSET_INVALID; /* "error": librdkafka reports a partition without a committed offset */
}

/*
 * Where each assigned partition starts: its committed offset, or where
 * auto.offset.reset says when the group has none. librdkafka 2.0.2 finds
 * both itself when given INVALID offsets, but then backs off 100 ms before
 * the reset of a partition without a committed offset (rdkafka_offset.c: an
 * offset query after an error waits), which was half of a new service's
 * time to its first output. Given BEGINNING or END, it resets at once.
 *
 * The offsets are read through the admin API on the consumer's handle, not
 * rd_kafka_committed: the consumer group holds that request while a rejoin
 * is pending (see restore.c), and this runs inside the rebalance. If the
 * read fails or takes longer than START_OFFSETS_TIMEOUT_MS, a partition
 * keeps INVALID and librdkafka reads its offset itself: the same offset,
 * later. The previous owner committed before it gave the partitions up
 * (eager rebalancing), so what is read is what librdkafka would read.
 */
static void resolve_start_offsets(stream_thread_t *st, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts)
{
    char e[256];
    rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        if (parts->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
            rd_kafka_topic_partition_list_add(want, parts->elems[i].topic, parts->elems[i].partition);
    if (want->cnt == 0 || st->reset_offset == RD_KAFKA_OFFSET_INVALID) {
        rd_kafka_topic_partition_list_destroy(want);
        return;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(o, START_OFFSETS_TIMEOUT_MS, e, sizeof e);
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(st->t->application, want);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, o, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_topic_partition_list_destroy(want);

    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, START_OFFSETS_TIMEOUT_MS + 1000);
    const char *why = NULL;
    size_t ngroups = 0;
    const rd_kafka_group_result_t **groups = NULL;
    if (!ev)
        why = "timed out";
    else if (rd_kafka_event_error(ev))
        why = rd_kafka_event_error_string(ev);
    else {
        groups = rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev),
                                                                 &ngroups);
        if (ngroups != 1)
            why = "no result for the group";
        else if (rd_kafka_group_result_error(groups[0]))
            why = rd_kafka_error_string(rd_kafka_group_result_error(groups[0]));
    }
    if (why) {
        ks_log(KS_LOG_INFO, "%s: reading the committed offsets: %s; the consumer reads them itself", st->name, why);
    } else {
        const rd_kafka_topic_partition_list_t *got = rd_kafka_group_result_partitions(groups[0]);
        for (int i = 0; i < got->cnt; i++) {
            const rd_kafka_topic_partition_t *g = &got->elems[i];
            rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(parts, g->topic, g->partition);
            if (!p || g->err || p->offset != RD_KAFKA_OFFSET_INVALID)
                continue; /* a partition's error: librdkafka reads it itself */
            p->offset = g->offset >= 0 ? g->offset : st->reset_offset;
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
}

void ks__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    stream_thread_t *st = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        ks_log(KS_LOG_INFO, "%s: assigned %d partitions", st->name, parts->cnt);
        const char **topics = ks_xcalloc((size_t)parts->cnt + 1, sizeof *topics);
        int32_t *nums = ks_xcalloc((size_t)parts->cnt + 1, sizeof *nums);
        for (int i = 0; i < parts->cnt; i++) {
            topics[i] = parts->elems[i].topic;
            nums[i] = parts->elems[i].partition;
        }
        ks_status_assigned(st->t, st->index, topics, nums, parts->cnt);
        free(topics);
        free(nums);
        if (st->stores) {
            /* A task processes nothing before its stores are restored. */
            char err[KS_ERRMSG_SIZE];
            if (ks__commit_stores(st) || ks__restore_tasks(st->t, st->stores, st->conf, st->bootstrap, parts, st->name,
                                                           ks__metrics_restore, st, err, sizeof err)) {
                if (!st->failed)
                    ks__thread_fail(st, "%s", err);
                return;
            }
        }
        rd_kafka_topic_partition_list_destroy(st->fetched);
        st->fetched = rd_kafka_topic_partition_list_new(8);
        resolve_start_offsets(st, rk, parts);
        rd_kafka_assign(rk, parts);
        ks_status_restored(st->t, st->index);
        if (st->paused)
            rd_kafka_pause_partitions(rk, parts);
    } else {
        ks_log(KS_LOG_INFO, "%s: %d partitions revoked; committing first", st->name, parts->cnt);
        ks__commit_cycle(st);
        ks_engine_forget_tasks(st->engine);
        ks__metrics_revoked(st);
        ks_status_revoked(st->t, st->index);
        rd_kafka_topic_partition_list_destroy(st->fetched);
        st->fetched = rd_kafka_topic_partition_list_new(8);
        rd_kafka_assign(rk, NULL);
    }
}

int ks__partition_lag(stream_thread_t *st, const char *topic, int32_t partition, int64_t *lag)
{
    int64_t lo, hi;
    const rd_kafka_topic_partition_t *f = rd_kafka_topic_partition_list_find(st->fetched, topic, partition);
    if (!f || f->offset < 0 || rd_kafka_get_watermark_offsets(st->consumer, topic, partition, &lo, &hi) || hi < 0)
        return 0;
    *lag = hi > f->offset ? hi - f->offset : 0;
    return 1;
}

static void mark_processed(stream_thread_t *st, const rd_kafka_message_t *m)
{
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(st->processed, topic, m->partition);
    if (!tp)
        tp = rd_kafka_topic_partition_list_add(st->processed, topic, m->partition);
    tp->offset = m->offset + 1;
}

static void process_one(stream_thread_t *st, rd_kafka_message_t *m)
{
    ks_header_t hs[64];
    int nh = 0;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t size;
        for (size_t i = 0; nh < 64 && rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == 0; i++, nh++) {
            hs[nh].key = name;
            hs[nh].value = val;
            hs[nh].len = size;
        }
    }
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    ks_record_t r = {rd_kafka_topic_name(m->rkt),
                     m->partition,
                     m->offset,
                     ts < 0 ? (int64_t)ks_now_ms() : ts,
                     m->key,
                     m->key_len,
                     m->payload,
                     m->len,
                     hs,
                     nh};
    char err[KS_ERRMSG_SIZE];
    st->in++;
    if (ks_engine_process(st->engine, &r, err, sizeof err)) {
        ks__thread_fail(st, "errors.tolerance is none and a record failed: %s", err);
        return; /* not marked processed: it is not committed */
    }
    mark_processed(st, m);
}

/*
 * Processes a drained batch: each task (a partition number), in the order
 * its first record came, takes its records in Kafka Streams' timestamp
 * order across its topic-partitions (engine/partition_group.h).
 */
static void process_batch(stream_thread_t *st, rd_kafka_message_t **ms, int n)
{
    if (n == 0)
        return;
    struct task_group {
        int32_t task;
        ks_partition_group_t pg;
    } *groups = NULL;
    int ngroups = 0;
    for (int i = 0; i < n; i++) {
        int g = 0;
        while (g < ngroups && groups[g].task != ms[i]->partition)
            g++;
        if (g == ngroups) {
            groups = ks_xrealloc(groups, (size_t)(ngroups + 1) * sizeof *groups);
            groups[g].task = ms[i]->partition;
            ks_pg_init(&groups[g].pg);
            ngroups++;
        }
        rd_kafka_timestamp_type_t tt;
        ks_pg_add(&groups[g].pg, ms[i]->rkt, ms[i]->partition, ms[i], rd_kafka_message_timestamp(ms[i], &tt));
    }
    for (int g = 0; g < ngroups; g++) {
        rd_kafka_message_t *m;
        while (!st->failed && (m = ks_pg_next(&groups[g].pg, NULL)))
            process_one(st, m);
        ks_pg_free(&groups[g].pg);
    }
    free(groups);
}

/*
 * librdkafka 2.0.2's fetcher stops fetching once the consumer's queue holds
 * queued.min.messages or queued.max.messages.kbytes, and looks again only
 * when its broker thread next wakes up: up to 1 s later, however soon the
 * queue is drained (2.3.0 added fetch.queue.backoff.ms for this). A bounded
 * prefetch would idle most of the time. So the queue's length is watched
 * while draining; when it came near either limit and is now empty, a seek
 * of the assigned partitions to where they are wakes the fetcher at once
 * (wake_fetcher).
 */
static void watch_prefetch(stream_thread_t *st)
{
    int64_t q = rd_kafka_queue_length(st->cq) + BATCH; /* + what one batch may have taken meanwhile */
    int64_t avg = st->popped ? (int64_t)(st->popped_bytes / st->popped) : 0;
    if (q * 4 >= st->prefetch_msgs * 3 || q * avg * 4 >= st->prefetch_bytes * 3)
        st->prefetch_full = 1;
}

static void wake_fetcher(stream_thread_t *st)
{
    st->prefetch_full = 0;
    if (st->paused || !st->consumer)
        return;
    /*
     * A seek to where the queue ends (the offset after the last record taken)
     * wakes the partition's broker thread (a pause/resume does not: the main
     * thread serves it). Nothing is queued, so nothing is dropped; a fetch
     * that was in flight after all is discarded and made again.
     */
    rd_kafka_topic_partition_list_t *assigned = NULL, *at = NULL;
    if (rd_kafka_assignment(st->consumer, &assigned) == 0 && assigned) {
        at = rd_kafka_topic_partition_list_new(assigned->cnt > 0 ? assigned->cnt : 1);
        for (int i = 0; i < assigned->cnt; i++) {
            const rd_kafka_topic_partition_t *f =
                rd_kafka_topic_partition_list_find(st->fetched, assigned->elems[i].topic, assigned->elems[i].partition);
            if (f)
                rd_kafka_topic_partition_list_add(at, f->topic, f->partition)->offset = f->offset;
        }
        if (at->cnt) {
            rd_kafka_error_t *e = rd_kafka_seek_partitions(st->consumer, at, 0);
            if (e)
                rd_kafka_error_destroy(e);
            st->fetch_wakes++;
        }
        rd_kafka_topic_partition_list_destroy(at);
        rd_kafka_topic_partition_list_destroy(assigned);
    }
}

/*
 * Records are processed in batches of BATCH. When the prefetch was full and
 * fewer than EARLY_WAKE records are left, the rest is taken as one batch and
 * the fetcher woken before processing it, so the next fetch overlaps the work.
 */
static void drain_consumer(stream_thread_t *st)
{
    rd_kafka_message_t *batch[EARLY_WAKE + BATCH];
    int n = 0, total = 0, empty = 0, cap = BATCH;
    watch_prefetch(st);
    for (;;) {
        if (st->failed || st->stopping)
            break;
        if (n == 0 && !st->paused && (st->outq_msgs >= OUTQ_HOLD || st->outq_bytes >= OUTQ_HOLD_BYTES)) {
            ks__hold(st);
            break;
        }
        if (n == 0 && st->prefetch_full && rd_kafka_queue_length(st->cq) < EARLY_WAKE)
            cap = EARLY_WAKE + BATCH;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(st->consumer, 0);
        if (!m) {
            empty = 1;
            break;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ks_log(KS_LOG_WARN, "%s: consumer: %s", st->name, rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                ks__thread_fail(st, "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        batch[n++] = m;
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(st->fetched, topic, m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(st->fetched, topic, m->partition);
        tp->offset = m->offset + 1;
        st->popped++;
        st->popped_bytes += m->len;
        if (n == cap) {
            process_batch(st, batch, n);
            for (int i = 0; i < n; i++)
                rd_kafka_message_destroy(batch[i]);
            n = 0;
            watch_prefetch(st);
        }
        if (++total >= DRAIN_MAX)
            break;
    }
    if (empty && st->prefetch_full && !st->stopping && !st->failed)
        wake_fetcher(st); /* before the last batch: the fetch overlaps its processing */
    process_batch(st, batch, n);
    for (int i = 0; i < n; i++)
        rd_kafka_message_destroy(batch[i]);
    if (st->global_stores && total) {
        /* The next batch reads the global tables as the global thread has them then. */
        char err[KS_ERRMSG_SIZE];
        if (ks_engine_release_global(st->engine, err, sizeof err))
            ks__thread_fail(st, "%s", err);
    }
    if (st->stores && total && st->conf->num_stream_threads > 1) {
        /*
         * LMDB has one writer at a time: with several stream threads each
         * drained batch is its own transaction, so threads take turns. One
         * thread keeps its transaction until the commit (fewer page copies).
         */
        char err[KS_ERRMSG_SIZE];
        if (ks_engine_commit_stores(st->engine, err, sizeof err))
            ks__thread_fail(st, "%s", err);
    }
}

void ks__on_consumer_event(uv_poll_t *h, int status, int events)
{
    stream_thread_t *st = h->data;
    uint64_t v;
    if (read(st->cfd, &v, sizeof v) < 0 && errno != EAGAIN)
        ks_log(KS_LOG_WARN, "%s: eventfd read: %s", st->name, strerror(errno));
    drain_consumer(st);
    /* Drained up to the cap: the queue may still hold messages, and no new event will come for those. */
    if (!st->stopping && !st->failed && !st->held && rd_kafka_queue_length(st->cq) > 0) {
        uint64_t one = 1;
        if (write(st->cfd, &one, sizeof one) < 0)
            ks_log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
    }
}
