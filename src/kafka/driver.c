/*
 * driver.c: stream threads' lifecycle and the run entry point. Each stream
 * thread runs one libuv loop that owns a consumer, an idempotent producer
 * and an engine:
 *
 *   consumer queue --io event--> eventfd --uv_poll--> drain the queue,
 *       order the batch by timestamp within each task, ks_engine_process
 *                                                           (consume.c)
 *   engine outputs --> rd_kafka_producev (murmur2 partitioner) (produce.c)
 *   producer queue --io event--> eventfd --uv_poll--> delivery reports
 *                                                           (produce.c)
 *   commit timer   --> flush the producer, commit processed offsets
 *                                                           (commit.c)
 *
 * Rebalance callbacks run on the loop thread (they are served by
 * rd_kafka_consumer_poll); revoked partitions are committed before they are
 * given up. Backpressure: while the producer's queue is long, draining
 * waits for delivery reports; after HOLD_PAUSE_MS it pauses the assigned
 * partitions instead, so the consumer is polled again. The prefetch is
 * small (RSS) and its fetcher is woken when the app has drained it
 * (wake_fetcher: librdkafka 2.0.2 would otherwise idle up to 1 s).
 *
 * This file starts and closes the threads (both clients built by
 * client_conf), feeds generate sources, logs the progress line, and runs
 * the process: signals on the main loop, one thread per stream thread.
 * The thread's struct is in driver_int.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../http/directory.h"
#include "../util/util.h"
#include "driver_int.h"
#include "status.h"

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
static char advertised[300]; /* application.server, or the query server's address; "": no server */

void ks_kafka_set_application_server(const char *address)
{
    snprintf(advertised, sizeof advertised, "%s", address ? address : "");
}

/* ---- generate sources ---- */

static void on_gen_timer(uv_timer_t *h)
{
    stream_thread_t *st = h->data;
    uint64_t now = ks_now_ms();
    for (int g = 0; g < st->ngens && !st->failed; g++) {
        if (ks_generator_done(st->gens[g]))
            continue;
        double rate = ks_generator_rate(st->gens[g]);
        uint64_t due = rate > 0 ? (uint64_t)(rate * (double)(now - st->gen_start_ms) / 1000.0) : st->gen_made[g] + 2000;
        /* One thread of several takes its share of a generator's records. */
        for (int k = 0; st->gen_made[g] < due && k < 5000 && !st->failed; k++) {
            ks_record_t r;
            char err[KS_ERRMSG_SIZE];
            int rc = ks_generator_next(st->gens[g], (int64_t)now, &r, err, sizeof err);
            if (rc == 1)
                break;
            st->gen_made[g]++;
            if (rc < 0) {
                /* A record the generator could not make goes to the dead-letter topic, like any failed record. */
                if (st->t->errors_tolerance_none) {
                    ks__thread_fail(st, "errors.tolerance is none and a generated record failed: %s", err);
                    break;
                }
                ks_record_t dl;
                ks_generator_dead_letter(st->gens[g], err, (int64_t)now, &dl);
                ks__on_emit(st, &dl);
                continue;
            }
            char perr[KS_ERRMSG_SIZE];
            st->in++;
            if (ks_engine_process(st->engine, &r, perr, sizeof perr))
                ks__thread_fail(st, "errors.tolerance is none and a generated record failed: %s", perr);
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
        for (int i = 0; i < assigned->cnt; i++) {
            int64_t l;
            if (ks__partition_lag(st, assigned->elems[i].topic, assigned->elems[i].partition, &l))
                lag += l;
        }
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    ks_log(KS_LOG_INFO, "%s: in %.0f/s, out %.0f/s, dead-lettered %llu, lag %lld", st->name,
           (double)(st->in - st->last_in) / secs, (double)(st->out - st->last_out) / secs, (unsigned long long)s->dlq,
           (long long)lag);
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

void ks__thread_fail(stream_thread_t *st, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!st->failed)
        ks_log(KS_LOG_ERROR, "%s: %s", st->name, msg);
    ks_status_failed(st->t, msg);
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
    /* Nothing to free: every handle is a member of the stream thread's struct. */
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
        ks__commit_cycle(st);
    if (st->consumer) {
        rd_kafka_consumer_close(st->consumer); /* serves the revocation: commits again, then unassigns */
        rd_kafka_queue_destroy(st->cq);
        for (int i = 0; i < st->nin_topics; i++)
            if (st->in_topics[i])
                rd_kafka_topic_destroy(st->in_topics[i]);
        free(st->in_topics);
        st->in_topics = NULL;
        st->nin_topics = 0;
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
    ks__purge_close(st);
    ks__samples_free(st);
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
 * A stream thread's producer (idempotent, Java's murmur2 partitioner, random
 * for null keys) or consumer configuration: ours first, so that the
 * pass-through properties applied after may change the tunables. The
 * producer queue is larger than the backpressure threshold (so consumption
 * pauses before producev blocks), its bytes bounded to keep RSS small; the
 * consumer's prefetch is bounded too (see watch_prefetch in consume.c). `bootstrap` NULL
 * leaves it unset (ks_kafka_check_clients). Returns the configuration, or
 * NULL with a message.
 */
static rd_kafka_conf_t *client_conf(rd_kafka_type_t type, const ks_topology_t *t, const ks_runtime_conf_t *conf,
                                    const char *bootstrap, char *err, size_t errlen)
{
    const char *psettings[][2] = {{"bootstrap.servers", bootstrap},        {"enable.idempotence", "true"},
                                  {"partitioner", "murmur2_random"},       {"queue.buffering.max.messages", "1000000"},
                                  {"queue.buffering.max.kbytes", "65536"}, {"linger.ms", "5"}};
    const char *csettings[][2] = {
        {"bootstrap.servers", bootstrap},  {"group.id", t->application},
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"}, {"partition.assignment.strategy", "range"}, /* co-partitioned sources */
        {"enable.partition.eof", "false"}, {"queued.max.messages.kbytes", "2048"}};
    const char *(*settings)[2] = type == RD_KAFKA_PRODUCER ? psettings : csettings;
    size_t n =
        type == RD_KAFKA_PRODUCER ? sizeof psettings / sizeof psettings[0] : sizeof csettings / sizeof csettings[0];
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
    /* Drops librdkafka's log lines: a check's clients have no bootstrap.servers, on purpose. */
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

/* The producer, with its queue's fd watched by ppoll. Returns 0, or -1 with a message. */
static int start_producer(stream_thread_t *st, char *err, size_t errlen)
{
    char e[512];
    rd_kafka_conf_t *pc = client_conf(RD_KAFKA_PRODUCER, st->t, st->conf, st->bootstrap, err, errlen);
    if (!pc)
        return -1;
    char id[512];
    snprintf(id, sizeof id, "%s-producer", ks__thread_client_id(st));
    if (rd_kafka_conf_set(pc, "client.id", id, e, sizeof e)) {
        snprintf(err, errlen, "producer configuration client.id: %s", e);
        rd_kafka_conf_destroy(pc);
        return -1;
    }
    rd_kafka_conf_set_log_cb(pc, ks__rk_log_cb);
    rd_kafka_conf_set_dr_msg_cb(pc, ks__dr_cb);
    rd_kafka_conf_set_opaque(pc, st);
    st->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, e, sizeof e);
    if (!st->producer) {
        snprintf(err, errlen, "cannot create the producer: %s", e);
        rd_kafka_conf_destroy(pc); /* rd_kafka_new takes it only on success */
        return -1;
    }
    ks__warm_producer(st);
    st->pq = rd_kafka_queue_get_main(st->producer);
    st->pfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t one = 1;
    rd_kafka_queue_io_event_enable(st->pq, st->pfd, &one, sizeof one);
    uv_poll_init(&st->loop, &st->ppoll, st->pfd);
    st->ppoll.data = st;
    uv_poll_start(&st->ppoll, UV_READABLE, ks__on_producer_event);
    return 0;
}

/* What the consumer subscribes to: every source and repartition topic (a new list, which the caller frees). */
static rd_kafka_topic_partition_list_t *subscribed_topics(const ks_topology_t *t)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || p->gen.enabled || ks_topology_is_global_source(p))
            continue; /* generate sources are fed by the generator timer, global tables by the global thread */
        for (int j = 0; j < p->io.ntopics; j++)
            if (!rd_kafka_topic_partition_list_find(topics, p->io.topics[j], RD_KAFKA_PARTITION_UA))
                rd_kafka_topic_partition_list_add(topics, p->io.topics[j], RD_KAFKA_PARTITION_UA);
    }
    return topics;
}

/*
 * The consumer: the application's group, subscribed to `topics`, its queue's
 * fd watched by cpoll. `topics` is not kept. Returns 0, or -1 with a message.
 */
static int start_consumer(stream_thread_t *st, const rd_kafka_topic_partition_list_t *topics, char *err, size_t errlen)
{
    char e[512];
    rd_kafka_conf_t *cc = client_conf(RD_KAFKA_CONSUMER, st->t, st->conf, st->bootstrap, err, errlen);
    if (!cc)
        return -1;
    /* The member's client.id carries the instance's query address: the group is the directory (src/http/directory.h).
     */
    char id[768];
    ks_directory_client_id(id, sizeof id, ks__thread_client_id(st), advertised[0] ? advertised : NULL);
    if (rd_kafka_conf_set(cc, "client.id", id, e, sizeof e)) {
        snprintf(err, errlen, "consumer configuration client.id: %s", e);
        rd_kafka_conf_destroy(cc);
        return -1;
    }
    rd_kafka_conf_set_log_cb(cc, ks__rk_log_cb);
    /* The prefetch limits, as set (see watch_prefetch in consume.c). */
    char v[64];
    size_t vlen = sizeof v;
    st->prefetch_msgs = rd_kafka_conf_get(cc, "queued.min.messages", v, &vlen) == RD_KAFKA_CONF_OK ? atoll(v) : 100000;
    vlen = sizeof v;
    st->prefetch_bytes =
        (rd_kafka_conf_get(cc, "queued.max.messages.kbytes", v, &vlen) == RD_KAFKA_CONF_OK ? atoll(v) : 65536) * 1024;
    vlen = sizeof v;
    st->reset_offset = rd_kafka_conf_get(cc, "auto.offset.reset", v, &vlen) == RD_KAFKA_CONF_OK
                           ? ks__reset_offset(v)
                           : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_conf_set_rebalance_cb(cc, ks__rebalance_cb);
    rd_kafka_conf_set_opaque(cc, st);
    st->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, e, sizeof e);
    if (!st->consumer) {
        snprintf(err, errlen, "cannot create the consumer: %s", e);
        rd_kafka_conf_destroy(cc); /* rd_kafka_new takes it only on success */
        return -1;
    }
    rd_kafka_poll_set_consumer(st->consumer);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(st->consumer, topics);
    if (se) {
        snprintf(err, errlen, "cannot subscribe: %s", rd_kafka_err2str(se));
        return -1;
    }
    /*
     * Handles of the subscribed topics, so that the subscription's metadata
     * gives their partitions leaders before the assignment: a partition
     * librdkafka meets first in the assignment has none yet, and its offset
     * reset would wait 500 ms for one (resolve_start_offsets in consume.c).
     */
    st->in_topics = ks_xcalloc((size_t)topics->cnt, sizeof *st->in_topics);
    for (int i = 0; i < topics->cnt; i++)
        st->in_topics[st->nin_topics++] = rd_kafka_topic_new(st->consumer, topics->elems[i].topic, NULL);
    st->cq = rd_kafka_queue_get_consumer(st->consumer);
    st->cfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t one = 1;
    rd_kafka_queue_io_event_enable(st->cq, st->cfd, &one, sizeof one);
    uv_poll_init(&st->loop, &st->cpoll, st->cfd);
    st->cpoll.data = st;
    uv_poll_start(&st->cpoll, UV_READABLE, ks__on_consumer_event);
    /* Events queued before the fd was set would never signal it. */
    if (write(st->cfd, &one, sizeof one) < 0)
        ks_log(KS_LOG_WARN, "%s: eventfd write: %s", st->name, strerror(errno));
    return 0;
}

/*
 * Both clients: the producer, then the consumer unless the service has
 * generate sources only. On failure what was made is left to close_all
 * (st->producer set) or to the thread's end. Returns 0, or -1 with a message.
 */
static int start_clients(stream_thread_t *st, char *err, size_t errlen)
{
    if (start_producer(st, err, errlen))
        return -1;
    rd_kafka_topic_partition_list_t *topics = subscribed_topics(st->t);
    int rc = topics->cnt == 0 ? 0 : start_consumer(st, topics, err, errlen); /* 0 topics: generate sources only */
    rd_kafka_topic_partition_list_destroy(topics);
    return rc;
}

/*
 * Makes what the thread runs: the engine, the offset lists, the state
 * stores (one LMDB environment per application instance:
 * state.dir/<application>), the timers (initialised, not started) and both
 * clients. Returns 0, or the exit code with a message in `err`: 2 when the
 * engine refuses the topology, 1 when the stores or the clients fail.
 */
static int thread_start(stream_thread_t *st, char *err, size_t errlen)
{
    ks_engine_ops_t ops = {ks__on_emit, ks__on_peek};
    st->engine = ks_engine_new(st->t, &ops, st, err, errlen);
    st->processed = rd_kafka_topic_partition_list_new(8);
    st->fetched = rd_kafka_topic_partition_list_new(8);
    st->cl_done = rd_kafka_topic_partition_list_new(8);
    int stores_failed = 0;
    if (st->engine && ks_topology_has_state(st->t)) {
        char dir[4096];
        ks_kafka_store_dir(st->t, st->conf, 0, dir, sizeof dir);
        st->stores = ks_stores_open(dir, KS_STORE_SYNC, err, errlen);
        if (!st->stores) {
            stores_failed = 1;
        } else {
            int threads_of_app = st->conf->num_stream_threads > 0 ? st->conf->num_stream_threads : 1;
            ks_engine_attach_stores(st->engine, st->stores, (size_t)st->conf->cache_max_bytes / (size_t)threads_of_app);
            ks_log(KS_LOG_INFO, "%s: state stores in %s", st->name, dir);
        }
    }
    if (st->engine && !stores_failed && ks_topology_has_global(st->t)) {
        /* The global thread writes the global tables; this thread reads them. */
        char dir[4096];
        ks__global_dir(st->t, st->conf, dir, sizeof dir);
        if (!(st->global_stores = ks_stores_open(dir, KS_STORE_READONLY, err, errlen)))
            stores_failed = 1;
        else
            ks_engine_attach_global(st->engine, st->global_stores);
    }
    uv_timer_init(&st->loop, &st->commit_timer);
    uv_timer_init(&st->loop, &st->progress_timer);
    uv_timer_init(&st->loop, &st->gen_timer);
    uv_timer_init(&st->loop, &st->hold_timer);
    uv_timer_init(&st->loop, &st->poll_timer);
    st->commit_timer.data = st->progress_timer.data = st->gen_timer.data = st->hold_timer.data = st;
    st->poll_timer.data = st;
    if (!st->engine)
        return 2;
    if (stores_failed || start_clients(st, err, errlen))
        return 1;
    return 0;
}

/*
 * A thread that cannot start stops the process: the others stop
 * gracefully. Its handles are closed, so its loop ends.
 */
static void thread_cannot_start(stream_thread_t *st, int exit_code, const char *err)
{
    ks_log(KS_LOG_ERROR, "%s: cannot start: %s; stopping every service", st->name, err);
    ks_status_failed(st->t, err);
    st->failed = 1;
    st->exit_code = exit_code;
    set_unready(st);
    stop_all_threads();
    if (st->producer) {
        close_all(st);
        return;
    }
    uv_close((uv_handle_t *)&st->commit_timer, close_cb);
    uv_close((uv_handle_t *)&st->progress_timer, close_cb);
    uv_close((uv_handle_t *)&st->gen_timer, close_cb);
    uv_close((uv_handle_t *)&st->hold_timer, close_cb);
    uv_close((uv_handle_t *)&st->poll_timer, close_cb);
    uv_close((uv_handle_t *)&st->stop_async, close_cb);
}

/* A started thread's timers, and its generators (on the first thread of an application only). */
static void thread_begin(stream_thread_t *st)
{
    uv_timer_start(&st->poll_timer, ks__on_poll_timer, 1000, 1000);
    st->last_purge_ms = uv_now(&st->loop); /* the first purge comes an interval after the start */
    uv_timer_start(&st->commit_timer, ks__on_commit_timer, (uint64_t)st->conf->commit_interval_ms,
                   (uint64_t)st->conf->commit_interval_ms);
    if (st->conf->progress_interval_ms > 0)
        uv_timer_start(&st->progress_timer, on_progress, (uint64_t)st->conf->progress_interval_ms,
                       (uint64_t)st->conf->progress_interval_ms);
    if (st->index == 0)
        st->gens = ks_generators_new(st->t, &st->ngens);
    if (st->ngens) {
        st->gen_made = ks_xcalloc((size_t)st->ngens, sizeof *st->gen_made);
        st->gen_start_ms = ks_now_ms();
        uv_timer_start(&st->gen_timer, on_gen_timer, 10, 10);
    }
    ks_log(KS_LOG_INFO, "%s: running against %s", st->name, st->bootstrap);
    /* A thread with a consumer waits for its partitions; one with generate sources only runs now. */
    if (st->consumer)
        ks_status_thread_started(st->t, st->index);
    else
        ks_status_thread_running(st->t, st->index);
    if (atomic_load(&stop_requested)) /* a stop that came while this thread was starting */
        uv_async_send(&st->stop_async);
}

/* A stream thread: starts, runs its loop until every handle is closed, frees what it made. */
static void *thread_main(void *arg)
{
    stream_thread_t *st = arg;
    char err[KS_ERRMSG_SIZE];
    uv_loop_init(&st->loop);
    uv_async_init(&st->loop, &st->stop_async, on_stop);
    st->stop_async.data = st;
    pthread_mutex_lock(&ready_lock);
    atomic_store(&st->ready, 1);
    pthread_mutex_unlock(&ready_lock);
    ks__metrics_start(st);
    int code = thread_start(st, err, sizeof err);
    if (code)
        thread_cannot_start(st, code, err);
    else
        thread_begin(st);
    uv_run(&st->loop, UV_RUN_DEFAULT);
    ks__metrics_stop(st);
    uv_loop_close(&st->loop);
    ks_status_thread_stopped(st->t, st->index);
    if (st->gens)
        ks_generators_free(st->gens, st->ngens);
    free(st->gen_made);
    rd_kafka_topic_partition_list_destroy(st->processed);
    rd_kafka_topic_partition_list_destroy(st->fetched);
    rd_kafka_topic_partition_list_destroy(st->cl_done);
    ks_engine_free(st->engine);
    ks_stores_close(st->stores);
    ks_stores_close(st->global_stores);
    return NULL;
}

/* ---- the process: signals and threads ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    if (++signals_seen > 1) {
        ks_log(KS_LOG_WARN, "second signal: exiting at once");
        _exit(128 + signum);
    }
    ks_log(KS_LOG_INFO, "%s: stopping (flush, commit, close); send it again to exit at once", strsignal(signum));
    stop_all_threads();
}

void ks__stop_all_threads(void)
{
    stop_all_threads();
}

static void stop_all_threads(void)
{
    atomic_store(&stop_requested, 1);
    ks_status_stopping();
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

/*
 * Runs the stream threads, confs[i].num_stream_threads for ts[i], until all
 * have ended: the main thread serves SIGINT and SIGTERM meanwhile. Returns
 * the highest exit code of the threads.
 */
static int run_threads(ks_topology_t **ts, int n, const ks_runtime_conf_t *confs, const char *bootstrap)
{
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
    return code;
}

int ks_kafka_run(ks_topology_t **ts, int n, const ks_runtime_conf_t *confs)
{
    /* What the process has once is the same in every configuration (ks_runtime_conf_check_together). */
    const ks_runtime_conf_t *conf = &confs[0];
    ks_log_set_level(conf->log_level);
    char err[KS_ERRMSG_SIZE];
    const char *bootstrap = conf->bootstrap;
    int embedded = strcmp(bootstrap, "embedded") == 0;
    if (embedded && !(bootstrap = ks__embedded_start(ts, n, conf, err, sizeof err))) {
        ks_log(KS_LOG_ERROR, "%s", err);
        return 1;
    }
    int code = 1, ran = 0;
    int *nthreads = ks_xcalloc((size_t)n, sizeof *nthreads);
    for (int i = 0; i < n; i++)
        nthreads[i] = confs[i].num_stream_threads;
    ks_status_register(ts, n, nthreads); /* the query server may have registered them already */
    free(nthreads);
    ks_global_t **globals = ks_xcalloc((size_t)n, sizeof *globals);
    for (int i = 0; i < n; i++) {
        if (ks__prepare_cluster(ts[i], &confs[i], bootstrap, err, sizeof err)) {
            ks_log(KS_LOG_ERROR, "%s: %s", ts[i]->application, err);
            goto done;
        }
    }
    /* Global tables are bootstrapped before any stream task processes a record. */
    for (int i = 0; i < n; i++) {
        if (ks__global_start(ts[i], &confs[i], bootstrap, &globals[i], err, sizeof err)) {
            ks_log(KS_LOG_ERROR, "%s: %s", ts[i]->application, err);
            goto done;
        }
    }
    code = run_threads(ts, n, confs, bootstrap);
    ran = 1;
done:
    for (int i = 0; i < n; i++)
        if (ks__global_stop(globals[i]) && code == 0)
            code = 1;
    free(globals);
    if (embedded)
        ks__embedded_stop();
    if (ran)
        ks_log(KS_LOG_INFO, "stopped%s", code ? " after a failure" : "");
    return code;
}
