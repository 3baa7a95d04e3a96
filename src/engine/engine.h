/*
 * engine.h: runs a built topology on records. The engine knows nothing of
 * Kafka or libuv: a driver (the Kafka driver, or the test driver) hands it
 * input records with their raw bytes and receives output records (sinks,
 * repartition topics, the dead-letter topic) through a callback.
 *
 * Records keep the bytes they arrived with: a value is parsed only when an
 * expression needs it, and written again only when an operator changed it
 * or the sink's serde differs; a record that passes a filter is forwarded
 * with its original bytes.
 *
 * A record that cannot be deserialised, whose expression fails, or whose
 * result the sink's serde cannot hold goes to the dead-letter topic with
 * the error in headers (kstreamd.error, kstreamd.source.topic,
 * kstreamd.source.partition, kstreamd.source.offset, kstreamd.node) and is
 * counted; with `errors.tolerance: none` ks_engine_process fails instead.
 *
 * One engine serves one thread.
 *
 * @locality: every ks_engine_* function runs on the thread that owns the
 * engine (a Kafka stream thread; the test driver's or the command line's
 * thread), and the callbacks of ks_engine_ops_t are called on it, within
 * ks_engine_process and ks_engine_flush. ks_topology_has_state may be
 * called from any thread: it only reads the topology.
 * @ownership: a record passed in is borrowed for the call (what the engine
 * keeps, in its record cache or stores, it copies); a record passed out
 * through emit is the engine's, valid during the call only.
 */
#ifndef KS_ENGINE_H
#define KS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../topology/topology.h"

typedef struct ks_header {
    const char *key;
    const void *value; /* NULL: a null header value */
    size_t len;
} ks_header_t;

/* A record's timestamp left to the producer (Kafka Streams sends some changelog records without one). */
#define KS_NO_TIMESTAMP INT64_MIN

/* A record as a driver sees it: raw bytes; NULL data means a Kafka null. */
typedef struct ks_record {
    const char *topic;
    int32_t partition; /* -1 on output: let the partitioner choose */
    int64_t offset;
    int64_t timestamp;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const ks_header_t *headers;
    int nheaders;
} ks_record_t;

typedef struct ks_engine_ops {
    /* An output record; its memory is valid during the call only. */
    void (*emit)(void *ud, const ks_record_t *out);
    /* A line from `peek`. */
    void (*log)(void *ud, const char *node, const char *line);
} ks_engine_ops_t;

typedef struct ks_engine_stats {
    uint64_t in, out, dlq, dropped;
    uint64_t late;         /* records dropped by a windowed aggregation because their window had closed */
    uint64_t store_writes; /* writes that reached a store (after the record cache) */
    uint64_t cache_hits;   /* updates the record cache absorbed */
} ks_engine_stats_t;

typedef struct ks_engine ks_engine_t;

/*
 * Prepares an engine for a topology (borrowed: it must outlive the engine).
 * Returns NULL with a message in err when the topology uses operators this
 * engine cannot run.
 * @ownership the engine is the caller's (ks_engine_free); `*ops` is copied;
 *            `ud` is kept, borrowed, and passed to every callback.
 */
ks_engine_t *ks_engine_new(const ks_topology_t *t, const ks_engine_ops_t *ops, void *ud, char *err, size_t errlen);
void ks_engine_free(ks_engine_t *e);

/*
 * Processes one input record read from rec->topic. Returns 0; or -1
 * when the record failed and errors.tolerance is none (the message is in err).
 * @ownership borrows `rec` for the call; outputs are emitted within it.
 */
int ks_engine_process(ks_engine_t *e, const ks_record_t *rec, char *err, size_t errlen);

/*
 * Sets the wall clock the engine reads, in ms (stream-stream joins
 * throttle their scans for unmatched records by it, as Kafka Streams does
 * by its system time). A driver that keeps its own time (kstreamd test:
 * 0, moved by `advance`) sets it; without a call the engine reads the
 * system's clock.
 */
void ks_engine_set_wall_clock(ks_engine_t *e, int64_t now_ms);
/*
 * Sets how often (ms of wall clock) a stream-stream left or outer join
 * scans for unmatched records whose window has closed: Kafka Streams'
 * internal __emit.interval.ms.kstreams.outer.join.spurious.results.fix__,
 * 1000 by default; kstreamd test sets 0, as TopologyTestDriver does.
 */
void ks_engine_set_join_emit_interval(ks_engine_t *e, int64_t ms);
/*
 * on nonzero: stream-stream join buffers drop each expired record at once
 * (kstreamd test, whose `stores:` then shows what Kafka Streams' in-memory
 * stores hold) rather than in batches once per segment interval of stream
 * time (the default; the joins' results are the same).
 */
void ks_engine_set_exact_expiry(ks_engine_t *e, int on);

/* The counters, borrowed: they live in the engine, read on its thread (the progress line's timer). */
const ks_engine_stats_t *ks_engine_stats(const ks_engine_t *e);

/*
 * Per task: Kafka Streams' task-level and processor-node-level metrics. A
 * task is (sub-topology, partition), as Kafka Streams' task id "1_2". The
 * counts run from the task's first record until its partitions are revoked
 * (ks_engine_forget_tasks forgets them, as Kafka Streams removes a closed
 * task's metrics). The end-to-end latency (wall clock at the node minus the
 * record's timestamp, ms) is kept at the task's source nodes and terminal
 * nodes (no children: sinks, a table's source that nothing reads), as Kafka
 * Streams' record-e2e-latency is, and summed since the last
 * ks_engine_take_latency.
 */
typedef struct ks_node_latency {
    const char *node; /* the processor's name, borrowed from the topology */
    int64_t min, max, sum;
    uint64_t count; /* 0: no record since the last take (min and max are meaningless) */
} ks_node_latency_t;

typedef struct ks_task_stats {
    int subtopology, partition;
    uint64_t process; /* records processed */
    uint64_t dropped; /* dropped-records: null keys, late records, ... */
    uint64_t dlq;     /* records sent to the dead-letter topic */
    ks_node_latency_t *nodes;
    int nnodes;
} ks_task_stats_t;

/* The tasks seen since the engine started or last forgot its tasks; borrowed, valid until the next process call. */
const ks_task_stats_t *ks_engine_tasks(const ks_engine_t *e, int *ntasks);
/* Starts the next latency period: every task's node latencies are zeroed. */
void ks_engine_take_latency(ks_engine_t *e);

/*
 * State. A topology with stores needs them attached before its first
 * record: `stores` is the thread's handle of the application's LMDB
 * environment (src/store/store.h). The record cache holds up to
 * cache_max_bytes of updates per engine (0: every update goes through to
 * the store, the changelog and downstream at once).
 *
 * Each store write also goes to the store's changelog topic
 * (`<application>-<store>-changelog`, the task's partition) through emit,
 * unless the step says `changelog: false`.
 *
 * A driver calls ks_engine_flush at each commit (the cache's updates are
 * written and forwarded: outputs are emitted during the call), then, when
 * the outputs are safely written, ks_engine_commit_stores (one LMDB
 * transaction, with the checkpoints set through ks_store_set_checkpoint).
 * ks_engine_commit_stores alone may also be called after any processing
 * batch, to keep LMDB transactions short.
 *
 * @ownership `stores` is borrowed: the caller's handle, of the engine's own
 * thread, open until the engine is freed (the drivers free the engine,
 * then close the stores).
 */
struct ks_stores;
int ks_topology_has_state(const ks_topology_t *t);
void ks_engine_attach_stores(ks_engine_t *e, struct ks_stores *stores, size_t cache_max_bytes);
int ks_engine_flush(ks_engine_t *e, char *err, size_t errlen);
/*
 * Global tables written by another thread (the Kafka driver's global
 * thread, into its own environment): `global` is this thread's read-only
 * handle of it (KS_STORE_READONLY). A batch reads one snapshot, taken at
 * its first lookup and released by ks_engine_commit_stores. Without it, an
 * engine keeps its global tables in its own stores, as the test driver and
 * the global thread's engine do.
 * @ownership `global` is borrowed, open until the engine is freed.
 */
void ks_engine_attach_global(ks_engine_t *e, struct ks_stores *global);
/* Ends the batch's snapshot of the global tables (ks_engine_commit_stores does too). Returns 0 or -1. */
int ks_engine_release_global(ks_engine_t *e, char *err, size_t errlen);
int ks_engine_commit_stores(ks_engine_t *e, char *err, size_t errlen);
/*
 * Partitions were revoked (after a commit): forgets the record cache, the
 * suppression buffers' indexes and the stream times, as Kafka Streams
 * closes its tasks; a task assigned again starts from its restored store.
 */
void ks_engine_forget_tasks(ks_engine_t *e);

#endif
