/*
 * driver_int.h: the stream thread, shared between the files of the Kafka
 * driver that run it: driver.c (thread lifecycle, generate sources, the
 * progress line, the process's signals and threads), produce.c (producing,
 * delivery reports, backpressure), commit.c (flush, checkpoints, offset
 * commits), consume.c (consuming, rebalances, prefetch), purge.c (purging
 * repartition topics) and sample.c (the logged sample records).
 *
 * Every function declared here runs on the stream thread's own loop thread
 * (librdkafka's callbacks too: they are served by rd_kafka_poll and
 * rd_kafka_consumer_poll on that thread), unless it says otherwise.
 *
 * @ownership: `st` (or the `ud`, `opaque` or handle's data that holds it) is
 * always the calling thread's own stream_thread_t, borrowed; it lives until
 * ks_kafka_run returns. A function keeps no other pointer it is given, and
 * librdkafka's lists and messages passed to a callback stay librdkafka's,
 * unless the function says otherwise.
 */
#ifndef KS_KAFKA_DRIVER_INT_H
#define KS_KAFKA_DRIVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "../engine/engine.h"
#include "../engine/generate.h"
#include "../store/store.h"
#include "../util/duration.h"
#include "kafka_int.h"

/* Producer queue (records, and key+value bytes) at which draining the consumer waits for deliveries. */
#define OUTQ_HOLD 10000
#define OUTQ_HOLD_BYTES (4 << 20)
#define OUTQ_RESUME 5000 /* ... and below which (and half the bytes) it goes on */
#define FLUSH_TIMEOUT_MS 60000

struct sample;

typedef struct stream_thread {
    /* What the thread runs; set before it starts. */
    const ks_topology_t *t;        /* the application's topology */
    const ks_runtime_conf_t *conf; /* the application's runtime configuration */
    const char *bootstrap;         /* the cluster's address (the embedded broker's when it is embedded) */
    int index;                     /* the thread's number within its application: generators run on 0 */
    char name[160];                /* "<application>[<index>]": the log lines' prefix */
    pthread_t tid;                 /* joined by ks_kafka_run */
    int exit_code;                 /* 0, 1 after a runtime failure, 2 after a configuration error */

    /* The loop and its handles, closed by close_all. */
    uv_loop_t loop;            /* the thread's own libuv loop */
    uv_poll_t cpoll, ppoll;    /* watch cfd and pfd */
    int cfd, pfd;              /* eventfds the consumer's and the producer's queues signal */
    uv_timer_t commit_timer;   /* commit.interval.ms: ks__on_commit_timer */
    uv_timer_t progress_timer; /* log.summary.interval.ms: the progress line */
    uv_timer_t gen_timer;      /* every 10 ms while there are generate sources */
    uv_timer_t hold_timer;     /* HOLD_PAUSE_MS after draining began to wait (produce.c) */
    uv_timer_t poll_timer;     /* every second: ks__on_poll_timer */
    uv_async_t stop_async;     /* on_stop: how other threads and the signal handler stop this one */
    atomic_int ready;          /* stop_async is initialised: other threads may signal it */

    /* The clients. */
    rd_kafka_t *consumer;          /* NULL for a service with generate sources only */
    rd_kafka_t *producer;          /* NULL until started, and again once closed */
    rd_kafka_queue_t *cq, *pq;     /* the consumer's and the producer's main queues */
    rd_kafka_topic_t **out_topics; /* the producer's known output topics (ks__warm_producer) */
    int nout_topics;
    rd_kafka_topic_t **in_topics; /* the consumer's handles of its subscribed topics (start_consumer) */
    int nin_topics;
    struct emit_topic { /* the topology's own name pointers of those topics, for ks__on_emit */
        const char *name;
        rd_kafka_topic_t *rkt;
    } * emit_topics;
    int nemit_topics;

    /* The engine and its state. */
    ks_engine_t *engine;
    ks_stores_t *stores;                        /* state: this thread's handle of the application's LMDB */
    ks_stores_t *global_stores;                 /* read-only: the global tables the global thread writes (global.c) */
    rd_kafka_topic_partition_list_t *processed; /* next offset to commit, per partition */
    rd_kafka_topic_partition_list_t *fetched; /* offset after the last record taken, per partition (this assignment) */
    rd_kafka_topic_partition_list_t *cl_done; /* changelog partitions: last offset delivered */
    int trimmed_idle;                         /* the heap was trimmed at the first commit with nothing processed */

    /* Generate sources (on the application's first thread only). */
    ks_generator_t **gens;
    int ngens;
    uint64_t *gen_made;    /* records made so far, per generator */
    uint64_t gen_start_ms; /* wall-clock time the generators started */

    /* How the thread runs. */
    int stopping; /* a graceful stop began: nothing more is drained */
    int failed;   /* a fatal error was logged: nothing more is committed */
    int paused;   /* the assigned partitions are paused (backpressure) */
    int closed;   /* close_all ran */

    /* Backpressure and prefetch. */
    int held;                      /* draining waits for the producer queue to shrink (backpressure) */
    int64_t outq_bytes;            /* key+value bytes produced and not yet reported delivered */
    int64_t outq_msgs;             /* records produced and not yet reported delivered (rd_kafka_outq_len takes locks) */
    int prefetch_full;             /* the fetch queue came near librdkafka's prefetch limit: its fetcher may be idle */
    int64_t prefetch_msgs;         /* the consumer's queued.min.messages */
    int64_t prefetch_bytes;        /* the consumer's queued.max.messages.kbytes, in bytes */
    int64_t reset_offset;          /* auto.offset.reset as a logical offset (BEGINNING, END), or INVALID ("error") */
    uint64_t popped, popped_bytes; /* records taken from the consumer, and their value bytes */
    uint64_t fetch_wakes;          /* how often wake_fetcher sought the assigned partitions */

    /* Counters of the progress line. */
    uint64_t in, out;           /* records processed and produced */
    uint64_t last_in, last_out; /* the same at the last progress line */

    /* Purging committed records of repartition topics (purge.c). */
    rd_kafka_topic_partition_list_t *purge_offsets; /* committed offsets not yet asked to be deleted up to */
    rd_kafka_queue_t *purge_q;                      /* DeleteRecords results */
    int purge_pending;                              /* a DeleteRecords request has no result yet */
    uint64_t last_purge_ms;                         /* loop time of the last request (or of the thread's start) */

    /* Metrics (metrics.c): what the thread publishes, and its commits' latencies since the last publish. */
    struct ks_thread_metrics *metrics;
    uint64_t commits;                                   /* commit cycles that committed */
    uint64_t commits_unpublished;                       /* ... of which since the last publish */
    double commit_ms_sum, commit_ms_min, commit_ms_max; /* their latencies since then, ms */

    /* Sample output records for the log (log.sample.interval.ms, sample.c). */
    struct sample *samples;
    int nsamples;
    uint64_t last_sample_ms; /* wall-clock time of the last sample lines */
} stream_thread_t;

/* driver.c */

/*
 * A fatal error of the thread: logs "<thread>: <message>" the first time,
 * marks the thread failed (exit code 1) and stops every thread of the
 * process, the others gracefully.
 * @locality `st`'s own thread, which alone writes its fields; the stop it
 *           sends the other threads is thread-safe (uv_async_send).
 */
void ks__thread_fail(stream_thread_t *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* produce.c */

/*
 * The engine's output callback: produces the record (waiting for deliveries past the emit limits).
 * @ownership borrows `r` for the call: librdkafka copies its key, value and headers (RD_KAFKA_MSG_F_COPY).
 * @locality inside ks_engine_process and ks_engine_flush; while the queue is long it serves the producer
 *           (rd_kafka_poll), so ks__dr_cb may run within it.
 */
void ks__on_emit(void *ud, const ks_record_t *r);
/* The engine's peek callback: logs the line. @ownership borrows `node` and `line` for the call. */
void ks__on_peek(void *ud, const char *node, const char *line);
/*
 * The producer's delivery report callback: counts the queue down, notes delivered changelog offsets.
 * @locality served by rd_kafka_poll on this thread (ks__on_producer_event, ks__on_emit, the commit's flush).
 * @ownership `m` is librdkafka's, borrowed for the call; its topic name is copied into st->cl_done.
 */
void ks__dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
/*
 * Asks for the metadata of every output topic known in advance, with a topic handle for each.
 * @ownership the handles are st's (out_topics, emit_topics), destroyed by close_all.
 */
void ks__warm_producer(stream_thread_t *st);
/* The producer queue's fd: serves delivery reports, resumes and unholds consumption when the queue is short. */
void ks__on_producer_event(uv_poll_t *h, int status, int events);
/* Backpressure: draining waits while the producer queue is long; a long wait pauses the partitions instead. */
void ks__hold(stream_thread_t *st);
/* Ends the wait of ks__hold once the producer queue is short again. */
void ks__unhold(stream_thread_t *st);

/* commit.c */

/* After a flush: the delivered changelog offsets become the stores' checkpoints. Returns 0 or -1 (failed). */
int ks__commit_stores(stream_thread_t *st);
/* Flush, then commit the offsets of processed records. Returns 0 or -1. */
int ks__commit_cycle(stream_thread_t *st);
/* Every commit.interval.ms: commit, unhold, purge. */
void ks__on_commit_timer(uv_timer_t *h);

/* consume.c */

/* Every second: the sample lines, and a poll of the consumer (max.poll.interval.ms). */
void ks__on_poll_timer(uv_timer_t *h);
/*
 * The consumer's rebalance callback: restores the assigned tasks' stores; commits before a revocation.
 * @locality served by rd_kafka_consumer_poll on this thread; blocks while the stores restore.
 * @ownership `parts` is librdkafka's, borrowed for the call (rd_kafka_assign copies it).
 */
void ks__rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque);
/* auto.offset.reset's value as the consumer configuration gives it: RD_KAFKA_OFFSET_BEGINNING, _END, or _INVALID. */
int64_t ks__reset_offset(const char *value);
/*
 * The consumer's lag on an assigned partition: its high watermark (as the
 * last fetch response gave it, no request) minus the offset after the last
 * record taken. Returns 1 with *lag set, or 0 when unknown (nothing taken
 * from it since the assignment, or no watermark yet).
 */
int ks__partition_lag(stream_thread_t *st, const char *topic, int32_t partition, int64_t *lag);
/* The consumer queue's fd: drains the queue. */
void ks__on_consumer_event(uv_poll_t *h, int status, int events);

/* purge.c */

/*
 * Called with the offsets just committed: those of repartition topics are remembered for the next purge.
 * @ownership borrows `committed`: its offsets are copied into st->purge_offsets.
 */
void ks__note_committed(stream_thread_t *st, const rd_kafka_topic_partition_list_t *committed);
/* After a commit: asks to delete the committed records of repartition topics, at most once an interval. */
void ks__purge_repartition(stream_thread_t *st);
/* At close, before the producer is destroyed: the request in flight gets a second to answer. */
void ks__purge_close(stream_thread_t *st);

/* metrics.c */

/* Registers the thread's metrics (metrics.h); they stay registered until ks_metrics_clear. */
void ks__metrics_start(stream_thread_t *st);
/* Publishes the thread's counts, its tasks' and its consumer's lag: every second, and after each commit. */
void ks__metrics_publish(stream_thread_t *st);
/*
 * Kafka Streams' client.id of an application's clients: the `client.id`
 * property when it is set, else "<application>-<process id>".
 */
void ks__client_id_prefix(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *buf, size_t len);
/* The thread's own: "<prefix>-StreamThread-<n>", its clients' client.id without "-consumer"/"-producer". */
const char *ks__thread_client_id(const stream_thread_t *st);
/* ks__restore_tasks' progress (ud: the stream thread): what a (store, partition) of a task has left to restore. */
void ks__metrics_restore(void *ud, int subtopology, int32_t partition, const char *store, int64_t remaining);
/* The thread's partitions were revoked: its tasks' restore counts go with them. */
void ks__metrics_revoked(stream_thread_t *st);
/* A commit cycle that took `ms`. */
void ks__metrics_note_commit(stream_thread_t *st, double ms);
/* The thread ended (its loop returned): published as not alive, failed or not; its tasks are gone. */
void ks__metrics_stop(stream_thread_t *st);

/* sample.c */

/* ks__on_emit: copies the record if its topic's sample asked for one. @ownership borrows `r`; copies its bytes. */
void ks__sample_capture(stream_thread_t *st, const ks_record_t *r);
/* Every log.sample.interval.ms (from the 1 s poll timer): one line per output topic that had a record. */
void ks__sample_tick(stream_thread_t *st);
/* Frees the samples (close_all). */
void ks__samples_free(stream_thread_t *st);

#endif
