/*
 * produce.c: producing the engine's outputs (one idempotent producer per
 * stream thread, Java's murmur2 partitioner), delivery reports, the output
 * topics known in advance, and backpressure: while the producer's queue is
 * long, draining the consumer waits for delivery reports; after
 * HOLD_PAUSE_MS it pauses the assigned partitions instead, so the consumer
 * is polled again. Part of the stream thread (driver_int.h); loop thread.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "driver_int.h"

/*
 * Within one record's processing (a record cache's flush forwards thousands
 * of updates at once), an emit past these waits for deliveries down to
 * OUTQ_HOLD: the producer's queue, not the heap, absorbs the burst.
 */
#define OUTQ_EMIT_MAX 15000
#define OUTQ_EMIT_MAX_BYTES (6 << 20)
#define HOLD_PAUSE_MS 1000 /* a wait longer than this pauses the partitions, so the consumer is polled again */

void ks__on_emit(void *ud, const ks_record_t *r)
{
    stream_thread_t *st = ud;
    rd_kafka_headers_t *hdrs = NULL;
    if (st->nsamples)
        ks__sample_capture(st, r);
    if (st->outq_msgs >= OUTQ_EMIT_MAX || st->outq_bytes >= OUTQ_EMIT_MAX_BYTES) {
        /* Deliveries fail after message.timeout.ms at worst, so this ends. */
        while (!st->failed && (st->outq_msgs >= OUTQ_HOLD || st->outq_bytes >= OUTQ_HOLD_BYTES))
            rd_kafka_poll(st->producer, 10);
    }
    if (r->nheaders) {
        hdrs = rd_kafka_headers_new((size_t)r->nheaders);
        for (int i = 0; i < r->nheaders; i++)
            rd_kafka_header_add(hdrs, r->headers[i].key, -1, r->headers[i].value, (ssize_t)r->headers[i].len);
    }
    /* A topic handle saves librdkafka's lookup by name (a lock and a scan) on every record. */
    rd_kafka_topic_t *rkt = NULL;
    for (int i = 0; i < st->nemit_topics && !rkt; i++)
        if (st->emit_topics[i].name == r->topic)
            rkt = st->emit_topics[i].rkt;
#define EMIT_ARGS                                                                                                      \
    RD_KAFKA_V_PARTITION(r->partition >= 0 ? r->partition : RD_KAFKA_PARTITION_UA),                                    \
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r->key, r->key_len),                                  \
        RD_KAFKA_V_VALUE((void *)r->value, r->value_len),                                                              \
        RD_KAFKA_V_TIMESTAMP(r->timestamp == KS_NO_TIMESTAMP ? 0 : r->timestamp), RD_KAFKA_V_HEADERS(hdrs),            \
        RD_KAFKA_V_END
    for (int attempt = 0;; attempt++) {
        rd_kafka_resp_err_t e = rkt ? rd_kafka_producev(st->producer, RD_KAFKA_V_RKT(rkt), EMIT_ARGS)
                                    : rd_kafka_producev(st->producer, RD_KAFKA_V_TOPIC(r->topic), EMIT_ARGS);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            st->out++;
            st->outq_msgs++;
            st->outq_bytes += (int64_t)(r->key_len + r->value_len);
            return;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 600) {
            rd_kafka_poll(st->producer, 10); /* serve delivery reports until there is room */
            continue;
        }
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        ks__thread_fail(st, "cannot produce to %s: %s", r->topic, rd_kafka_err2str(e));
        return;
    }
}

#undef EMIT_ARGS

void ks__on_peek(void *ud, const char *node, const char *line)
{
    stream_thread_t *st = ud;
    ks_log(KS_LOG_INFO, "%s %s: %s", st->name, node, line);
}

void ks__dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    stream_thread_t *st = opaque;
    st->outq_msgs--;
    st->outq_bytes -= (int64_t)(m->key_len + m->len);
    if (m->err) {
        ks__thread_fail(st, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        return;
    }
    /* Changelog offsets become the stores' checkpoints at the next commit. */
    if (st->stores && m->offset >= 0) {
        const char *topic = rd_kafka_topic_name(m->rkt);
        size_t tl = strlen(topic);
        if (tl > 10 && strcmp(topic + tl - 10, "-changelog") == 0) {
            rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(st->cl_done, topic, m->partition);
            if (!tp)
                tp = rd_kafka_topic_partition_list_add(st->cl_done, topic, m->partition), tp->offset = -1;
            if (m->offset > tp->offset)
                tp->offset = m->offset;
        }
    }
}

/*
 * The producer learns a topic's partitions when it first produces to it, from
 * a metadata request that librdkafka 2.0.2 makes only at its next 1 s scan:
 * the first records would wait up to a second. Asking for the metadata of
 * every output topic known in advance avoids that wait.
 */
/* `topic` is the topology's own string, which the engine passes to ks__on_emit: matched there by pointer. */
static void add_emit_topic(stream_thread_t *st, const char *topic, rd_kafka_topic_t *rkt)
{
    KS_GROW(st->emit_topics, st->nemit_topics);
    st->emit_topics[st->nemit_topics++] = (struct emit_topic){topic, rkt};
}

static void add_out_topic(stream_thread_t *st, const char *topic)
{
    if (!topic)
        return;
    for (int i = 0; i < st->nout_topics; i++)
        if (strcmp(rd_kafka_topic_name(st->out_topics[i]), topic) == 0) {
            add_emit_topic(st, topic, st->out_topics[i]);
            return;
        }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(st->producer, topic, NULL);
    if (!rkt)
        return;
    KS_GROW(st->out_topics, st->nout_topics);
    st->out_topics[st->nout_topics++] = rkt;
    add_emit_topic(st, topic, rkt);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(st->producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
}

void ks__warm_producer(stream_thread_t *st)
{
    const ks_topology_t *t = st->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op == KS_OP_SINK && !p->io.dynamic_topic)
            add_out_topic(st, p->io.topic);
        for (int j = 0; p->changelogs && j < p->nstores; j++)
            add_out_topic(st, p->changelogs[j]);
    }
}

/* ---- backpressure ---- */

static void set_paused(stream_thread_t *st, int pause)
{
    if (!st->consumer || st->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(st->consumer, &assigned) == 0 && assigned) {
        if (pause)
            rd_kafka_pause_partitions(st->consumer, assigned);
        else
            rd_kafka_resume_partitions(st->consumer, assigned);
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    st->paused = pause;
    ks_log(KS_LOG_DEBUG, "%s: %s consumption (producer queue %d)", st->name, pause ? "paused" : "resumed",
           rd_kafka_outq_len(st->producer));
}

static void on_hold_timer(uv_timer_t *h);

/* Backpressure: draining waits while the producer queue is long; a long wait pauses the partitions instead. */
void ks__hold(stream_thread_t *st)
{
    if (st->held)
        return;
    st->held = 1;
    uv_timer_start(&st->hold_timer, on_hold_timer, HOLD_PAUSE_MS, 0);
}

static void kick_consumer(stream_thread_t *st)
{
    uint64_t one = 1;
    if (st->consumer && write(st->cfd, &one, sizeof one) < 0)
        ks_log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
}

void ks__unhold(stream_thread_t *st)
{
    if (!st->held || st->outq_msgs >= OUTQ_RESUME || st->outq_bytes >= OUTQ_HOLD_BYTES / 2)
        return;
    st->held = 0;
    uv_timer_stop(&st->hold_timer);
    kick_consumer(st);
}

static void on_hold_timer(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    if (!st->held || st->stopping || st->failed)
        return;
    st->held = 0;
    set_paused(st, 1); /* resumed by ks__on_producer_event once the queue is short */
    kick_consumer(st); /* the consumer is polled again (rebalances, liveness); what it had queued is dropped */
}

void ks__on_producer_event(uv_poll_t *h, int status, int events)
{
    stream_thread_t *st = h->data;
    uint64_t v;
    if (read(st->pfd, &v, sizeof v) < 0 && errno != EAGAIN)
        ks_log(KS_LOG_WARN, "%s: eventfd read: %s", st->name, strerror(errno));
    rd_kafka_poll(st->producer, 0);
    if (st->paused && st->outq_msgs < OUTQ_RESUME)
        set_paused(st, 0);
    ks__unhold(st);
}
