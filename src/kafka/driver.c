/*
 * driver.c: stream threads. Each runs one libuv loop that owns a consumer,
 * an idempotent producer and an engine:
 *
 *   consumer queue --io event--> eventfd --uv_poll--> drain the queue,
 *       order the batch by timestamp within each task, ks_engine_process
 *   engine outputs --> rd_kafka_producev (murmur2 partitioner)
 *   producer queue --io event--> eventfd --uv_poll--> delivery reports
 *   commit timer   --> flush the producer, commit processed offsets
 *
 * Rebalance callbacks run on the loop thread (they are served by
 * rd_kafka_consumer_poll); revoked partitions are committed before they are
 * given up. Backpressure: while the producer's queue is long, draining
 * waits for delivery reports; after HOLD_PAUSE_MS it pauses the assigned
 * partitions instead, so the consumer is polled again. The prefetch is
 * small (RSS) and its fetcher is woken when the app has drained it
 * (wake_fetcher: librdkafka 2.0.2 would otherwise idle up to 1 s).
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include "../engine/engine.h"
#include "../engine/generate.h"
#include "../json/json.h"
#include "../serde/serde.h"
#include "../store/store.h"
#include "../util/util.h"
#include "kafka_int.h"

#define DRAIN_MAX 20000         /* messages per drain before the loop gets a turn */
#define BATCH 512               /* records ordered and processed together */
#define EARLY_WAKE 2048         /* see drain_consumer */
/* Producer queue (records, and key+value bytes) at which draining the consumer waits for deliveries. */
#define OUTQ_HOLD 10000
#define OUTQ_HOLD_BYTES (4 << 20)
#define OUTQ_RESUME 5000        /* ... and below which (and half the bytes) it goes on */
/*
 * Within one record's processing (a record cache's flush forwards thousands
 * of updates at once), an emit past these waits for deliveries down to
 * OUTQ_HOLD: the producer's queue, not the heap, absorbs the burst.
 */
#define OUTQ_EMIT_MAX 15000
#define OUTQ_EMIT_MAX_BYTES (6 << 20)
#define HOLD_PAUSE_MS 1000      /* a wait longer than this pauses the partitions, so the consumer is polled again */
#define TRIM_SLACK ((size_t)4 << 20) /* free heap bytes kept between busy commits */
#define FLUSH_TIMEOUT_MS 60000

typedef struct stream_thread {
    const ks_topology_t *t;
    const ks_runtime_conf_t *conf;
    const char *bootstrap;
    int index;
    uv_loop_t loop;
    uv_poll_t cpoll, ppoll;
    int cfd, pfd;
    uv_timer_t commit_timer, progress_timer, gen_timer, hold_timer, poll_timer;
    uv_async_t stop_async;
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *cq, *pq;
    rd_kafka_topic_t **out_topics; /* the producer's known output topics (warm_producer) */
    int nout_topics;
    struct emit_topic { /* the topology's own name pointers of those topics, for on_emit */
        const char *name;
        rd_kafka_topic_t *rkt;
    } *emit_topics;
    int nemit_topics;
    ks_engine_t *engine;
    rd_kafka_topic_partition_list_t *processed; /* next offset to commit, per partition */
    rd_kafka_topic_partition_list_t *fetched;   /* offset after the last record taken, per partition (this assignment) */
    ks_stores_t *stores;                        /* state: this thread's handle of the application's LMDB */
    rd_kafka_topic_partition_list_t *cl_done;   /* changelog partitions: last offset delivered */
    ks_generator_t **gens;
    int ngens;
    uint64_t *gen_made;
    uint64_t gen_start_ms;
    int stopping, failed, paused, closed;
    int held;                /* draining waits for the producer queue to shrink (backpressure) */
    int prefetch_full;       /* the fetch queue came near librdkafka's prefetch limit: its fetcher may be idle */
    int64_t prefetch_msgs;   /* the consumer's queued.min.messages */
    int64_t prefetch_bytes;  /* the consumer's queued.max.messages.kbytes, in bytes */
    uint64_t popped, popped_bytes; /* records taken from the consumer, and their value bytes */
    uint64_t fetch_wakes;
    int64_t outq_bytes;      /* key+value bytes produced and not yet reported delivered */
    int64_t outq_msgs;       /* records produced and not yet reported delivered (rd_kafka_outq_len takes locks) */
    int trimmed_idle;        /* the heap was trimmed at the first commit with nothing processed */
    uint64_t in, out, last_in, last_out;
    pthread_t tid;
    int exit_code;
    /* Purging committed records of repartition topics (purge_repartition). */
    rd_kafka_topic_partition_list_t *purge_offsets; /* committed offsets not yet asked to be deleted up to */
    rd_kafka_queue_t *purge_q;                      /* DeleteRecords results */
    int purge_pending;                              /* a DeleteRecords request has no result yet */
    uint64_t last_purge_ms;                         /* loop time of the last request (or of the thread's start) */
    /* Sample output records for the log (log.sample.interval.ms, sample_tick). */
    struct sample *samples;
    int nsamples;
    uint64_t last_sample_ms;
    atomic_int ready; /* stop_async is initialised: other threads may signal it */
    char name[160];
} stream_thread_t;

static stream_thread_t *threads; /* every stream thread of the process */
static int nthreads;
static atomic_int stop_requested; /* a stop came before some thread was ready */
/*
 * Guards each thread's `ready` together with the uv_async_send that reads
 * it: a thread clears `ready` under it before closing its stop_async, so no
 * other thread sends to a closed handle (libuv aborts on that).
 */
static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static int signals_seen;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fail(stream_thread_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rk_log_forward(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    int l = level <= 3 ? KS_LOG_ERROR : level <= 4 ? KS_LOG_WARN : level <= 6 ? KS_LOG_INFO : KS_LOG_DEBUG;
    ks__log(l, "librdkafka %s %s: %s", rd_kafka_name(rk), fac, buf);
}

/* ---- purging repartition topics ---- */

/* Whether `topic` is one of the application's repartition topics. */
static int is_repartition_topic(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->op == KS_OP_SOURCE && t->procs[i]->is_repartition && t->procs[i]->topic &&
            strcmp(t->procs[i]->topic, topic) == 0)
            return 1;
    return 0;
}

/*
 * Called with the offsets just committed: those of repartition topics are
 * remembered for the next purge. Loop thread.
 */
static void note_committed(stream_thread_t *st, const rd_kafka_topic_partition_list_t *committed)
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
        ks__log(KS_LOG_WARN, "%s: purging repartition topics: %s (tried again after repartition.purge.interval.ms)",
                st->name, rd_kafka_event_error_string(ev));
    } else if (done) {
        for (int i = 0; i < done->cnt; i++) {
            if (done->elems[i].err)
                ks__log(KS_LOG_WARN, "%s: purging %s[%d]: %s", st->name, done->elems[i].topic,
                        done->elems[i].partition, rd_kafka_err2str(done->elems[i].err));
            else
                ks__log(KS_LOG_DEBUG, "%s: purged %s[%d] below offset %lld", st->name, done->elems[i].topic,
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
 * after commit_cycle.
 */
static void purge_repartition(stream_thread_t *st)
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
    ks__log(KS_LOG_DEBUG, "%s: purging %d repartition partitions below their committed offsets", st->name,
            st->purge_offsets->cnt);
    rd_kafka_topic_partition_list_destroy(st->purge_offsets);
    st->purge_offsets = NULL;
    st->purge_pending = 1;
    st->last_purge_ms = now;
}

/* At close, before the producer is destroyed: the request in flight gets a second to answer. */
static void purge_close(stream_thread_t *st)
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

/* ---- sample output records (log.sample.interval.ms) ---- */

/*
 * One record of each output topic is logged every log.sample.interval.ms,
 * key and value decoded with the topic's serdes: what `make demo` shows of
 * what the services compute. Copying every record would cost the hot path;
 * instead a sample asks for one record (`want`), on_emit copies the next
 * record to its topic, and sample_tick logs it and asks again.
 */
typedef struct sample {
    const char *topic; /* the sink's topic: the topology's own string, which on_emit receives */
    int owner;         /* index of the sample that holds this topic's record: the first sink to the topic */
    ks_serde_t key_serde, value_serde;
    int want, have;
    int key_null, value_null;
    ks_buf_t key, value;
} sample_t;

static void samples_init(stream_thread_t *st)
{
    const ks_topology_t *t = st->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SINK || p->is_repartition || p->dynamic_topic || !p->topic)
            continue;
        st->samples = ks_xrealloc(st->samples, (size_t)(st->nsamples + 1) * sizeof *st->samples);
        sample_t *sm = &st->samples[st->nsamples++];
        memset(sm, 0, sizeof *sm);
        const ks_topic_conf_t *tc = ks_topology_topic(t, p->topic);
        sm->topic = p->topic;
        sm->key_serde = tc ? tc->key : KS_SERDE_STRING;
        sm->value_serde = tc ? tc->value : KS_SERDE_JSON;
        sm->owner = st->nsamples - 1;
        for (int k = 0; k < st->nsamples - 1 && sm->owner == st->nsamples - 1; k++)
            if (strcmp(st->samples[k].topic, p->topic) == 0)
                sm->owner = k;
        sm->want = 1;
    }
}

/* on_emit: copies the record if its topic's sample asked for one. */
static void sample_capture(stream_thread_t *st, const ks_record_t *r)
{
    for (int i = 0; i < st->nsamples; i++) {
        if (st->samples[i].topic != r->topic)
            continue;
        sample_t *sm = &st->samples[st->samples[i].owner]; /* a topic fed by several sinks has one line */
        if (!sm->want)
            return;
        sm->key.len = sm->value.len = 0;
        sm->key_null = r->key == NULL;
        sm->value_null = r->value == NULL;
        if (r->key)
            ks_buf_append(&sm->key, r->key, r->key_len);
        if (r->value)
            ks_buf_append(&sm->value, r->value, r->value_len);
        sm->want = 0;
        sm->have = 1;
        return;
    }
}

/* `bytes` decoded with `serde`, as JSON text, or why it cannot be. */
static void sample_decode(ks_buf_t *out, ks_serde_t serde, const ks_buf_t *bytes, int is_null)
{
    ks_val v;
    char err[256];
    if (ks_serde_decode(serde, is_null ? NULL : (bytes->data ? bytes->data : ""), bytes->len, &v, err, sizeof err)) {
        ks_buf_printf(out, "(not %s: %s)", ks_serde_name(serde), err);
        return;
    }
    ks_json_write(out, v);
    ks_val_release(v);
}

/* Every log.sample.interval.ms (from the 1 s poll timer): one line per output topic that had a record. */
static void sample_tick(stream_thread_t *st)
{
    if (st->conf->sample_interval_ms <= 0)
        return;
    uint64_t now = now_ms();
    if (!st->samples && !st->last_sample_ms) {
        samples_init(st);
        st->last_sample_ms = now;
        return;
    }
    if (now - st->last_sample_ms < (uint64_t)st->conf->sample_interval_ms)
        return;
    st->last_sample_ms = now;
    ks_buf_t line = {0};
    for (int i = 0; i < st->nsamples; i++) {
        sample_t *sm = &st->samples[i];
        if (sm->owner != i || !sm->have) {
            sm->want = 1;
            continue;
        }
        line.len = 0;
        ks_buf_printf(&line, "%s: sample %s: key ", st->name, sm->topic);
        sample_decode(&line, sm->key_serde, &sm->key, sm->key_null);
        ks_buf_puts(&line, ", value ");
        sample_decode(&line, sm->value_serde, &sm->value, sm->value_null);
        ks__log(KS_LOG_INFO, "%.*s", (int)line.len, line.data);
        sm->have = 0;
        sm->want = 1;
    }
    ks_buf_free(&line);
}

static void samples_free(stream_thread_t *st)
{
    for (int i = 0; i < st->nsamples; i++) {
        ks_buf_free(&st->samples[i].key);
        ks_buf_free(&st->samples[i].value);
    }
    free(st->samples);
    st->samples = NULL;
    st->nsamples = 0;
}

/* ---- producing ---- */

static void on_emit(void *ud, const ks_record_t *r)
{
    stream_thread_t *st = ud;
    rd_kafka_headers_t *hdrs = NULL;
    if (st->nsamples)
        sample_capture(st, r);
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
#define EMIT_ARGS                                                                                                  \
    RD_KAFKA_V_PARTITION(r->partition >= 0 ? r->partition : RD_KAFKA_PARTITION_UA),                                \
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(r->key, r->key_len),                              \
        RD_KAFKA_V_VALUE((void *)r->value, r->value_len), RD_KAFKA_V_TIMESTAMP(r->timestamp),                      \
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END
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
        fail(st, "cannot produce to %s: %s", r->topic, rd_kafka_err2str(e));
        return;
    }
}

#undef EMIT_ARGS

static void on_peek(void *ud, const char *node, const char *line)
{
    stream_thread_t *st = ud;
    ks__log(KS_LOG_INFO, "%s %s: %s", st->name, node, line);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    stream_thread_t *st = opaque;
    st->outq_msgs--;
    st->outq_bytes -= (int64_t)(m->key_len + m->len);
    if (m->err) {
        fail(st, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
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

/* After a flush: the delivered changelog offsets are the stores' checkpoints, in the stores' transaction. */
static int commit_stores(stream_thread_t *st)
{
    char err[512] = "";
    if (!st->stores)
        return 0;
    if (st->cl_done->cnt) {
        if (ks_stores_begin(st->stores, err, sizeof err)) {
            fail(st, "%s", err);
            return -1;
        }
        for (int i = 0; i < st->cl_done->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &st->cl_done->elems[i];
            const char *store = ks__changelog_store(st->t, tp->topic, NULL);
            if (store)
                ks_store_set_checkpoint(st->stores, store, tp->partition, tp->offset + 1);
        }
        rd_kafka_topic_partition_list_destroy(st->cl_done);
        st->cl_done = rd_kafka_topic_partition_list_new(8);
    }
    if (ks_engine_commit_stores(st->engine, err, sizeof err) || ks_stores_sync(st->stores)) {
        fail(st, "%s", *err ? err : "syncing the state stores failed");
        return -1;
    }
    /*
     * The record cache and the batch log churn through many small blocks;
     * glibc keeps freed ones. Giving them back once more than TRIM_SLACK
     * is free, and all of it when the service goes idle, keeps RSS near
     * what is live; trimming at every busy commit costs page faults when
     * the next interval allocates again (~6% of CPU).
     */
    int idle = !st->processed || st->processed->cnt == 0;
    if ((idle && !st->trimmed_idle) || mallinfo2().fordblks > TRIM_SLACK)
        malloc_trim(0);
    st->trimmed_idle = idle;
    return 0;
}

/* ---- committing ---- */

/* Flush, then commit the offsets of processed records. Returns 0 or -1. */
static int commit_cycle(stream_thread_t *st)
{
    if (!st->producer)
        return 0;
    char ferr[1500];
    if (st->stores && !st->failed && ks_engine_flush(st->engine, ferr, sizeof ferr)) {
        fail(st, "%s", ferr); /* the record cache's updates could not be written */
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(st->producer, FLUSH_TIMEOUT_MS);
    if (e) {
        fail(st, "flushing the producer: %s", rd_kafka_err2str(e));
        return -1;
    }
    if (st->failed)
        return -1; /* a delivery failed: committing past it would lose records */
    if (commit_stores(st))
        return -1;
    if (!st->consumer || st->processed->cnt == 0)
        return 0;
    e = rd_kafka_commit(st->consumer, st->processed, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        ks__log(KS_LOG_WARN, "%s: commit failed: %s (will retry at the next interval)", st->name, rd_kafka_err2str(e));
        return -1;
    }
    ks__log(KS_LOG_DEBUG, "%s: committed %d partitions", st->name, st->processed->cnt);
    note_committed(st, st->processed);
    rd_kafka_topic_partition_list_destroy(st->processed);
    st->processed = rd_kafka_topic_partition_list_new(8);
    return 0;
}

static void unhold(stream_thread_t *st);

static void on_commit_timer(uv_timer_t *h)
{
    commit_cycle(h->data);
    unhold(h->data); /* the flush served the deliveries */
    purge_repartition(h->data);
}

/* ---- consuming ---- */

static void drain_consumer(stream_thread_t *st);

/*
 * The consumer queue signals its fd only when messages arrive, but
 * librdkafka counts max.poll.interval.ms from the last poll: an idle
 * service would leave its group every 5 minutes. Poll once a second.
 */
static void on_poll_timer(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    sample_tick(st);
    if (st->consumer && !st->held && !st->stopping && !st->failed)
        drain_consumer(st);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    stream_thread_t *st = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        ks__log(KS_LOG_INFO, "%s: assigned %d partitions", st->name, parts->cnt);
        if (st->stores) {
            /* A task processes nothing before its stores are restored. */
            char err[1024];
            if (commit_stores(st) ||
                ks__restore_tasks(st->t, st->stores, st->conf, st->bootstrap, parts, st->name, err, sizeof err)) {
                if (!st->failed)
                    fail(st, "%s", err);
                return;
            }
        }
        rd_kafka_topic_partition_list_destroy(st->fetched);
        st->fetched = rd_kafka_topic_partition_list_new(8);
        rd_kafka_assign(rk, parts);
        if (st->paused)
            rd_kafka_pause_partitions(rk, parts);
    } else {
        ks__log(KS_LOG_INFO, "%s: %d partitions revoked; committing first", st->name, parts->cnt);
        commit_cycle(st);
        ks_engine_forget_tasks(st->engine);
        rd_kafka_topic_partition_list_destroy(st->fetched);
        st->fetched = rd_kafka_topic_partition_list_new(8);
        rd_kafka_assign(rk, NULL);
    }
}

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
    ks__log(KS_LOG_DEBUG, "%s: %s consumption (producer queue %d)", st->name, pause ? "paused" : "resumed",
            rd_kafka_outq_len(st->producer));
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
    ks_record_t r = {rd_kafka_topic_name(m->rkt), m->partition, m->offset, ts < 0 ? (int64_t)now_ms() : ts,
                     m->key, m->key_len, m->payload, m->len, hs, nh};
    char err[1500];
    st->in++;
    if (ks_engine_process(st->engine, &r, err, sizeof err)) {
        fail(st, "errors.tolerance is none and a record failed: %s", err);
        return; /* not marked processed: it is not committed */
    }
    mark_processed(st, m);
}

/*
 * Processes a drained batch: each task (a partition number) takes records
 * from its partitions' queues in timestamp order, each partition's own
 * order kept, as Kafka Streams' PartitionGroup picks the smallest head.
 * One index queue per topic-partition is built once, so a pick costs the
 * number of partitions in the task, not the size of the batch.
 */
typedef struct pq {
    rd_kafka_topic_t *rkt;
    int32_t partition;
    int head, count;
    int *idx; /* positions in the batch, in arrival order */
} pq_t;

static void process_batch(stream_thread_t *st, rd_kafka_message_t **ms, int n)
{
    if (n == 0)
        return;
    pq_t qs[64];
    int nq = 0, *slots = ks_xmalloc((size_t)n * sizeof *slots), used = 0;
    int *qof = ks_xmalloc((size_t)n * sizeof *qof);
    for (int i = 0; i < n; i++) {
        int q = 0;
        while (q < nq && !(qs[q].rkt == ms[i]->rkt && qs[q].partition == ms[i]->partition))
            q++;
        if (q == nq) {
            if (nq == 64) { /* more partitions than queues in one batch: keep arrival order */
                qof[i] = -1;
                continue;
            }
            qs[nq++] = (pq_t){ms[i]->rkt, ms[i]->partition, 0, 0, NULL};
        }
        qof[i] = q;
        qs[q].count++;
    }
    for (int q = 0; q < nq; q++) {
        qs[q].idx = slots + used;
        used += qs[q].count;
        qs[q].count = 0;
    }
    for (int i = 0; i < n; i++)
        if (qof[i] >= 0)
            qs[qof[i]].idx[qs[qof[i]].count++] = i;
    /* Tasks in order of first appearance; within each, the earliest head first. */
    for (int q0 = 0; q0 < nq && !st->failed; q0++) {
        int32_t task = qs[q0].partition;
        int seen = 0;
        for (int k = 0; k < q0 && !seen; k++)
            seen = qs[k].partition == task;
        if (seen)
            continue;
        for (;;) {
            int best = -1;
            int64_t best_ts = 0;
            for (int q = q0; q < nq; q++) {
                if (qs[q].partition != task || qs[q].head == qs[q].count)
                    continue;
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(ms[qs[q].idx[qs[q].head]], &tt);
                if (best < 0 || ts < best_ts) {
                    best = q;
                    best_ts = ts;
                }
            }
            if (best < 0 || st->failed)
                break;
            process_one(st, ms[qs[best].idx[qs[best].head++]]);
        }
    }
    for (int i = 0; i < n && !st->failed; i++)
        if (qof[i] < 0)
            process_one(st, ms[i]);
    free(slots);
    free(qof);
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

static void on_hold_timer(uv_timer_t *h);

/* Backpressure: draining waits while the producer queue is long; a long wait pauses the partitions instead. */
static void hold(stream_thread_t *st)
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
        ks__log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
}

static void unhold(stream_thread_t *st)
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
    set_paused(st, 1); /* resumed by on_producer_event once the queue is short */
    kick_consumer(st); /* the consumer is polled again (rebalances, liveness); what it had queued is dropped */
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
        if (n == 0 && !st->paused &&
            (st->outq_msgs >= OUTQ_HOLD || st->outq_bytes >= OUTQ_HOLD_BYTES)) {
            hold(st);
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
                ks__log(KS_LOG_WARN, "%s: consumer: %s", st->name, rd_kafka_message_errstr(m));
            if (m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
                fail(st, "consumer: %s", rd_kafka_message_errstr(m));
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
    if (st->stores && total && st->conf->num_stream_threads > 1) {
        /*
         * LMDB has one writer at a time: with several stream threads each
         * drained batch is its own transaction, so threads take turns. One
         * thread keeps its transaction until the commit (fewer page copies).
         */
        char err[512];
        if (ks_engine_commit_stores(st->engine, err, sizeof err))
            fail(st, "%s", err);
    }
}

static void on_consumer_event(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    stream_thread_t *st = h->data;
    uint64_t v;
    if (read(st->cfd, &v, sizeof v) < 0 && errno != EAGAIN)
        ks__log(KS_LOG_WARN, "%s: eventfd read: %s", st->name, strerror(errno));
    drain_consumer(st);
    /* Drained up to the cap: the queue may still hold messages, and no new event will come for those. */
    if (!st->stopping && !st->failed && !st->held && rd_kafka_queue_length(st->cq) > 0) {
        uint64_t one = 1;
        if (write(st->cfd, &one, sizeof one) < 0)
            ks__log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
    }
}

static void on_producer_event(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    stream_thread_t *st = h->data;
    uint64_t v;
    if (read(st->pfd, &v, sizeof v) < 0 && errno != EAGAIN)
        ks__log(KS_LOG_WARN, "%s: eventfd read: %s", st->name, strerror(errno));
    rd_kafka_poll(st->producer, 0);
    if (st->paused && st->outq_msgs < OUTQ_RESUME)
        set_paused(st, 0);
    unhold(st);
}

/* ---- generate sources ---- */

static void on_gen_timer(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    uint64_t now = now_ms();
    for (int g = 0; g < st->ngens && !st->failed; g++) {
        if (ks_generator_done(st->gens[g]))
            continue;
        double rate = ks_generator_rate(st->gens[g]);
        uint64_t due = rate > 0 ? (uint64_t)(rate * (double)(now - st->gen_start_ms) / 1000.0) : st->gen_made[g] + 2000;
        /* One thread of several takes its share of a generator's records. */
        for (int k = 0; st->gen_made[g] < due && k < 5000 && !st->failed; k++) {
            ks_record_t r;
            char err[512];
            int rc = ks_generator_next(st->gens[g], (int64_t)now, &r, err, sizeof err);
            if (rc == 1)
                break;
            st->gen_made[g]++;
            if (rc < 0) {
                /* A record the generator could not make goes to the dead-letter topic, like any failed record. */
                if (st->t->errors_tolerance_none) {
                    fail(st, "errors.tolerance is none and a generated record failed: %s", err);
                    break;
                }
                ks_record_t dl;
                ks_generator_dead_letter(st->gens[g], err, (int64_t)now, &dl);
                on_emit(st, &dl);
                continue;
            }
            char perr[1500];
            st->in++;
            if (ks_engine_process(st->engine, &r, perr, sizeof perr))
                fail(st, "errors.tolerance is none and a generated record failed: %s", perr);
        }
    }
}

/* ---- progress ---- */

static void on_progress(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    double secs = (double)st->conf->progress_interval_ms / 1000.0;
    const ks_engine_stats_t *s = ks_engine_stats(st->engine);
    int64_t lag = 0;
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (st->consumer && rd_kafka_assignment(st->consumer, &assigned) == 0 && assigned) {
        rd_kafka_position(st->consumer, assigned);
        for (int i = 0; i < assigned->cnt; i++) {
            int64_t lo, hi;
            if (assigned->elems[i].offset >= 0 &&
                rd_kafka_get_watermark_offsets(st->consumer, assigned->elems[i].topic, assigned->elems[i].partition, &lo,
                                               &hi) == 0 && hi > assigned->elems[i].offset)
                lag += hi - assigned->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    ks__log(KS_LOG_INFO, "%s: in %.0f/s, out %.0f/s, dead-lettered %llu, lag %lld", st->name,
            (double)(st->in - st->last_in) / secs, (double)(st->out - st->last_out) / secs,
            (unsigned long long)s->dlq, (long long)lag);
    st->last_in = st->in;
    st->last_out = st->out;
}

/* ---- lifecycle ---- */

static void close_all(stream_thread_t *st);
static void stop_all_threads(void);

/* From now on no thread sends to this thread's stop_async, which is about to close. */
static void set_unready(stream_thread_t *st)
{
    pthread_mutex_lock(&ready_lock);
    atomic_store(&st->ready, 0);
    pthread_mutex_unlock(&ready_lock);
}

static void fail(stream_thread_t *st, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!st->failed)
        ks__log(KS_LOG_ERROR, "%s: %s", st->name, msg);
    st->failed = 1;
    st->exit_code = 1;
    /* A fatal error stops the whole process: the other threads stop gracefully, exit code 1. */
    stop_all_threads();
}

static void on_stop(uv_async_t *h)
{
    stream_thread_t *st = h->data;
    if (st->closed)
        return;
    st->stopping = 1;
    close_all(st);
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

/* Graceful stop: no more fetching, flush, commit what was processed, leave the group, close handles. */
static void close_all(stream_thread_t *st)
{
    st->closed = 1;
    uv_timer_stop(&st->commit_timer);
    uv_timer_stop(&st->progress_timer);
    uv_timer_stop(&st->gen_timer);
    uv_timer_stop(&st->hold_timer);
    uv_timer_stop(&st->poll_timer);
    if (st->consumer)
        uv_poll_stop(&st->cpoll);
    if (!st->failed)
        commit_cycle(st);
    if (st->consumer) {
        rd_kafka_consumer_close(st->consumer); /* serves the revocation: commits again, then unassigns */
        rd_kafka_queue_destroy(st->cq);
        rd_kafka_destroy(st->consumer);
        st->consumer = NULL;
        uv_close((uv_handle_t *)&st->cpoll, close_cb);
        close(st->cfd);
    }
    uv_poll_stop(&st->ppoll);
    rd_kafka_flush(st->producer, st->failed ? 1000 : FLUSH_TIMEOUT_MS);
    rd_kafka_queue_destroy(st->pq);
    for (int i = 0; i < st->nout_topics; i++)
        rd_kafka_topic_destroy(st->out_topics[i]);
    free(st->out_topics);
    st->out_topics = NULL;
    st->nout_topics = 0;
    free(st->emit_topics);
    st->emit_topics = NULL;
    st->nemit_topics = 0;
    purge_close(st);
    samples_free(st);
    rd_kafka_destroy(st->producer);
    st->producer = NULL;
    uv_close((uv_handle_t *)&st->ppoll, close_cb);
    close(st->pfd);
    uv_close((uv_handle_t *)&st->commit_timer, close_cb);
    uv_close((uv_handle_t *)&st->progress_timer, close_cb);
    uv_close((uv_handle_t *)&st->gen_timer, close_cb);
    uv_close((uv_handle_t *)&st->hold_timer, close_cb);
    uv_close((uv_handle_t *)&st->poll_timer, close_cb);
    set_unready(st);
    uv_close((uv_handle_t *)&st->stop_async, close_cb);
}

/*
 * The producer learns a topic's partitions when it first produces to it, from
 * a metadata request that librdkafka 2.0.2 makes only at its next 1 s scan:
 * the first records would wait up to a second. Asking for the metadata of
 * every output topic known in advance avoids that wait.
 */
/* `topic` is the topology's own string, which the engine passes to on_emit: matched there by pointer. */
static void add_emit_topic(stream_thread_t *st, const char *topic, rd_kafka_topic_t *rkt)
{
    st->emit_topics = ks_xrealloc(st->emit_topics, (size_t)(st->nemit_topics + 1) * sizeof *st->emit_topics);
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
    st->out_topics = ks_xrealloc(st->out_topics, (size_t)(st->nout_topics + 1) * sizeof *st->out_topics);
    st->out_topics[st->nout_topics++] = rkt;
    add_emit_topic(st, topic, rkt);
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(st->producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
}

static void warm_producer(stream_thread_t *st)
{
    const ks_topology_t *t = st->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op == KS_OP_SINK && !p->dynamic_topic)
            add_out_topic(st, p->topic);
        for (int j = 0; p->changelogs && j < p->nstores; j++)
            add_out_topic(st, p->changelogs[j]);
    }
}

/*
 * A stream thread's producer (idempotent, Java's murmur2 partitioner, random
 * for null keys) or consumer configuration: ours first, so that the
 * pass-through properties applied after may change the tunables. The
 * producer queue is larger than the backpressure threshold (so consumption
 * pauses before producev blocks), its bytes bounded to keep RSS small; the
 * consumer's prefetch is bounded too (see watch_prefetch). `bootstrap` NULL
 * leaves it unset (ks_kafka_check_clients). Returns the configuration, or
 * NULL with a message.
 */
static rd_kafka_conf_t *client_conf(rd_kafka_type_t type, const ks_topology_t *t, const ks_runtime_conf_t *conf,
                                    const char *bootstrap, char *err, size_t errlen)
{
    const char *psettings[][2] = {{"bootstrap.servers", bootstrap},
                                  {"enable.idempotence", "true"},
                                  {"partitioner", "murmur2_random"},
                                  {"queue.buffering.max.messages", "1000000"},
                                  {"queue.buffering.max.kbytes", "65536"},
                                  {"linger.ms", "5"}};
    const char *csettings[][2] = {{"bootstrap.servers", bootstrap},
                                  {"group.id", t->application},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"auto.offset.reset", "earliest"},
                                  {"partition.assignment.strategy", "range"}, /* co-partitioned sources */
                                  {"enable.partition.eof", "false"},
                                  {"queued.max.messages.kbytes", "2048"}};
    const char *(*settings)[2] = type == RD_KAFKA_PRODUCER ? psettings : csettings;
    size_t n = type == RD_KAFKA_PRODUCER ? sizeof psettings / sizeof psettings[0] : sizeof csettings / sizeof csettings[0];
    const char *what = type == RD_KAFKA_PRODUCER ? "producer" : "consumer";
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char e[512];
    for (size_t i = bootstrap ? 0 : 1; i < n; i++) {
        if (rd_kafka_conf_set(c, settings[i][0], settings[i][1], e, sizeof e)) {
            snprintf(err, errlen, "%s configuration %s: %s", what, settings[i][0], e);
            goto fail;
        }
    }
    if (ks_runtime_conf_apply(conf, c, err, errlen))
        goto fail;
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static void rk_log_quiet(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

int ks_kafka_check_clients(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *err, size_t errlen)
{
    rd_kafka_type_t types[] = {RD_KAFKA_PRODUCER, RD_KAFKA_CONSUMER};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        rd_kafka_conf_t *c = client_conf(types[i], t, conf, NULL, err, errlen);
        if (!c)
            return -1;
        rd_kafka_conf_set_log_cb(c, rk_log_quiet); /* it has no bootstrap.servers, on purpose */
        char e[512];
        rd_kafka_t *rk = rd_kafka_new(types[i], c, e, sizeof e);
        if (!rk) {
            snprintf(err, errlen, "librdkafka refuses the %s configuration: %s",
                     types[i] == RD_KAFKA_PRODUCER ? "producer" : "consumer", e);
            rd_kafka_conf_destroy(c);
            return -1;
        }
        rd_kafka_destroy(rk);
    }
    return 0;
}

static int start_clients(stream_thread_t *st, char *err, size_t errlen)
{
    const ks_topology_t *t = st->t;
    char e[512];
    rd_kafka_conf_t *pc = client_conf(RD_KAFKA_PRODUCER, t, st->conf, st->bootstrap, err, errlen);
    if (!pc)
        return -1;
    rd_kafka_conf_set_log_cb(pc, rk_log_forward);
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    rd_kafka_conf_set_opaque(pc, st);
    st->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    if (!st->producer) {
        snprintf(err, errlen, "cannot create the producer: %s", e);
        rd_kafka_conf_destroy(pc);
        return -1;
    }
    warm_producer(st);
    st->pq = rd_kafka_queue_get_main(st->producer);
    st->pfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t one = 1;
    rd_kafka_queue_io_event_enable(st->pq, st->pfd, &one, sizeof one);
    uv_poll_init(&st->loop, &st->ppoll, st->pfd);
    st->ppoll.data = st;
    uv_poll_start(&st->ppoll, UV_READABLE, on_producer_event);

    /* Consumer: the application's group, every source and repartition topic. */
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || p->generate)
            continue; /* generate sources are fed by the generator timer, not the consumer */
        for (int j = 0; j < p->ntopics; j++)
            if (!rd_kafka_topic_partition_list_find(topics, p->topics[j], RD_KAFKA_PARTITION_UA))
                rd_kafka_topic_partition_list_add(topics, p->topics[j], RD_KAFKA_PARTITION_UA);
    }
    if (topics->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(topics);
        return 0; /* a service with generate sources only */
    }
    rd_kafka_conf_t *cc = client_conf(RD_KAFKA_CONSUMER, t, st->conf, st->bootstrap, err, errlen);
    if (!cc) {
        rd_kafka_topic_partition_list_destroy(topics);
        return -1;
    }
    rd_kafka_conf_set_log_cb(cc, rk_log_forward);
    /* The prefetch limits, as set (see watch_prefetch). */
    char v[64];
    size_t vlen = sizeof v;
    st->prefetch_msgs = rd_kafka_conf_get(cc, "queued.min.messages", v, &vlen) == RD_KAFKA_CONF_OK ? atoll(v) : 100000;
    vlen = sizeof v;
    st->prefetch_bytes =
        (rd_kafka_conf_get(cc, "queued.max.messages.kbytes", v, &vlen) == RD_KAFKA_CONF_OK ? atoll(v) : 65536) * 1024;
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
    rd_kafka_conf_set_opaque(cc, st);
    st->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    if (!st->consumer) {
        snprintf(err, errlen, "cannot create the consumer: %s", e);
        rd_kafka_conf_destroy(cc);
        rd_kafka_topic_partition_list_destroy(topics);
        return -1;
    }
    rd_kafka_poll_set_consumer(st->consumer);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(st->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (se) {
        snprintf(err, errlen, "cannot subscribe: %s", rd_kafka_err2str(se));
        return -1;
    }
    st->cq = rd_kafka_queue_get_consumer(st->consumer);
    st->cfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rd_kafka_queue_io_event_enable(st->cq, st->cfd, &one, sizeof one);
    uv_poll_init(&st->loop, &st->cpoll, st->cfd);
    st->cpoll.data = st;
    uv_poll_start(&st->cpoll, UV_READABLE, on_consumer_event);
    /* Events queued before the fd was set would never signal it. */
    if (write(st->cfd, &one, sizeof one) < 0)
        ks__log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
    return 0;
}

static void *thread_main(void *arg)
{
    stream_thread_t *st = arg;
    char err[1024];
    uv_loop_init(&st->loop);
    uv_async_init(&st->loop, &st->stop_async, on_stop);
    st->stop_async.data = st;
    pthread_mutex_lock(&ready_lock);
    atomic_store(&st->ready, 1);
    pthread_mutex_unlock(&ready_lock);
    ks_engine_ops_t ops = {on_emit, on_peek};
    st->engine = ks_engine_new(st->t, &ops, st, err, sizeof err);
    st->processed = rd_kafka_topic_partition_list_new(8);
    st->fetched = rd_kafka_topic_partition_list_new(8);
    st->cl_done = rd_kafka_topic_partition_list_new(8);
    int stores_failed = 0;
    if (st->engine && ks_topology_has_state(st->t)) {
        /* One LMDB environment per application instance: state.dir/<application>. */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", st->conf->state_dir, st->t->application);
        st->stores = ks_stores_open(dir, KS_STORE_SYNC, err, sizeof err);
        if (!st->stores) {
            stores_failed = 1;
        } else {
            int threads_of_app = st->conf->num_stream_threads > 0 ? st->conf->num_stream_threads : 1;
            ks_engine_attach_stores(st->engine, st->stores, (size_t)st->conf->cache_max_bytes / (size_t)threads_of_app);
            ks__log(KS_LOG_INFO, "%s: state stores in %s", st->name, dir);
        }
    }
    uv_timer_init(&st->loop, &st->commit_timer);
    uv_timer_init(&st->loop, &st->progress_timer);
    uv_timer_init(&st->loop, &st->gen_timer);
    uv_timer_init(&st->loop, &st->hold_timer);
    uv_timer_init(&st->loop, &st->poll_timer);
    st->commit_timer.data = st->progress_timer.data = st->gen_timer.data = st->hold_timer.data = st;
    st->poll_timer.data = st;
    if (!st->engine || stores_failed || start_clients(st, err, sizeof err)) {
        /* One service that cannot start stops the process: the others stop gracefully. */
        ks__log(KS_LOG_ERROR, "%s: cannot start: %s; stopping every service", st->name, err);
        st->failed = 1;
        st->exit_code = st->engine ? 1 : 2;
        set_unready(st);
        stop_all_threads();
        if (st->producer)
            close_all(st);
        else {
            uv_close((uv_handle_t *)&st->commit_timer, close_cb);
            uv_close((uv_handle_t *)&st->progress_timer, close_cb);
            uv_close((uv_handle_t *)&st->gen_timer, close_cb);
            uv_close((uv_handle_t *)&st->hold_timer, close_cb);
            uv_close((uv_handle_t *)&st->poll_timer, close_cb);
            uv_close((uv_handle_t *)&st->stop_async, close_cb);
        }
    } else {
        uv_timer_start(&st->poll_timer, on_poll_timer, 1000, 1000);
        st->last_purge_ms = uv_now(&st->loop); /* the first purge comes an interval after the start */
        uv_timer_start(&st->commit_timer, on_commit_timer, (uint64_t)st->conf->commit_interval_ms,
                       (uint64_t)st->conf->commit_interval_ms);
        if (st->conf->progress_interval_ms > 0)
            uv_timer_start(&st->progress_timer, on_progress, (uint64_t)st->conf->progress_interval_ms,
                           (uint64_t)st->conf->progress_interval_ms);
        /* Generators run on the first thread of an application only. */
        if (st->index == 0)
            st->gens = ks_generators_new(st->t, &st->ngens);
        if (st->ngens) {
            st->gen_made = ks_xcalloc((size_t)st->ngens, sizeof *st->gen_made);
            st->gen_start_ms = now_ms();
            uv_timer_start(&st->gen_timer, on_gen_timer, 10, 10);
        }
        ks__log(KS_LOG_INFO, "%s: running against %s", st->name, st->bootstrap);
        if (atomic_load(&stop_requested)) /* a stop that came while this thread was starting */
            uv_async_send(&st->stop_async);
    }
    uv_run(&st->loop, UV_RUN_DEFAULT);
    uv_loop_close(&st->loop);
    if (st->gens)
        ks_generators_free(st->gens, st->ngens);
    free(st->gen_made);
    rd_kafka_topic_partition_list_destroy(st->processed);
    rd_kafka_topic_partition_list_destroy(st->fetched);
    rd_kafka_topic_partition_list_destroy(st->cl_done);
    ks_engine_free(st->engine);
    ks_stores_close(st->stores);
    return NULL;
}

/* ---- the process: signals and threads ---- */


static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (++signals_seen > 1) {
        ks__log(KS_LOG_WARN, "second signal: exiting at once");
        _exit(128 + signum);
    }
    ks__log(KS_LOG_INFO, "%s: stopping (flush, commit, close); send it again to exit at once", strsignal(signum));
    stop_all_threads();
}

static void stop_all_threads(void)
{
    atomic_store(&stop_requested, 1);
    pthread_mutex_lock(&ready_lock);
    for (int i = 0; i < nthreads; i++)
        if (atomic_load(&threads[i].ready))
            uv_async_send(&threads[i].stop_async);
    pthread_mutex_unlock(&ready_lock);
}

typedef struct waiter {
    uv_async_t done;
    int left;
} waiter_t;

static void *join_all(void *arg)
{
    waiter_t *w = arg;
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    uv_async_send(&w->done);
    return NULL;
}

static void on_all_done(uv_async_t *h)
{
    uv_stop(h->loop);
}

int ks_kafka_run(ks_topology_t **ts, int n, const ks_runtime_conf_t *confs)
{
    /* What the process has once is the same in every configuration (ks_runtime_conf_check_together). */
    const ks_runtime_conf_t *conf = &confs[0];
    ks__log_set_level(conf->log_level);
    char err[1024];
    const char *bootstrap = conf->bootstrap;
    int embedded = strcmp(bootstrap, "embedded") == 0;
    if (embedded && !(bootstrap = ks__embedded_start(ts, n, conf, err, sizeof err))) {
        ks__log(KS_LOG_ERROR, "%s", err);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (ks__prepare_cluster(ts[i], &confs[i], bootstrap, err, sizeof err)) {
            ks__log(KS_LOG_ERROR, "%s: %s", ts[i]->application, err);
            if (embedded)
                ks__embedded_stop();
            return 1;
        }
    }
    /* Signals are handled on the main loop; stream threads must not take them. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    nthreads = 0;
    for (int i = 0; i < n; i++)
        nthreads += confs[i].num_stream_threads;
    threads = ks_xcalloc((size_t)nthreads, sizeof *threads);
    for (int i = 0, next = 0; i < n; i++) {
        for (int k = 0; k < confs[i].num_stream_threads; k++) {
            stream_thread_t *st = &threads[next++];
            st->t = ts[i];
            st->conf = &confs[i];
            st->bootstrap = bootstrap;
            st->index = k;
            snprintf(st->name, sizeof st->name, "%s[%d]", ts[i]->application, k);
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setstacksize(&attr, 64u << 20); /* deep jq recursion gets room (the evaluator checks) */
            pthread_create(&st->tid, &attr, thread_main, st);
            pthread_attr_destroy(&attr);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    uv_loop_t *loop = uv_default_loop();
    uv_signal_t sint, sterm;
    uv_signal_init(loop, &sint);
    uv_signal_init(loop, &sterm);
    uv_signal_start(&sint, on_signal, SIGINT);
    uv_signal_start(&sterm, on_signal, SIGTERM);
    waiter_t w = {.left = nthreads};
    uv_async_init(loop, &w.done, on_all_done);
    pthread_t joiner;
    pthread_create(&joiner, NULL, join_all, &w);
    uv_run(loop, UV_RUN_DEFAULT);
    pthread_join(joiner, NULL);
    uv_close((uv_handle_t *)&sint, NULL);
    uv_close((uv_handle_t *)&sterm, NULL);
    uv_close((uv_handle_t *)&w.done, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    int code = 0;
    for (int i = 0; i < nthreads; i++)
        if (threads[i].exit_code > code)
            code = threads[i].exit_code;
    free(threads);
    if (embedded)
        ks__embedded_stop();
    ks__log(KS_LOG_INFO, "stopped%s", code ? " after a failure" : "");
    return code;
}
