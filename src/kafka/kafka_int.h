/*
 * kafka_int.h: shared between the Kafka driver's files. @locality says which
 * thread may call a function, @ownership what becomes of its pointers (see
 * kafka.h).
 */
#ifndef KS_KAFKA_INT_H
#define KS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>

#include "../util/log.h"
#include "kafka.h"

/* librdkafka's log callback: its lines through ks_log, with its syslog level mapped to ours. */
void ks__rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/*
 * A client configuration with bootstrap.servers and the pass-through properties set.
 * @locality any thread: the main thread (checks, the cluster's preparation) and the stream threads (their
 *           clients, restores).
 * @ownership borrows `conf` and `bootstrap` (librdkafka copies the values); the result is the caller's: give it
 *            to rd_kafka_new, which takes it on success, or rd_kafka_conf_destroy it. NULL with `err` written.
 */
rd_kafka_conf_t *ks__client_conf(const ks_runtime_conf_t *conf, const char *bootstrap, char *err, size_t errlen);

/*
 * Checks the cluster before processing: it answers within startup.timeout.ms,
 * the source topics exist (co-partitioned sources agree), and creates the
 * internal topics and the dead-letter topic that are missing. Returns 0, or
 * -1 with a message.
 *
 * @locality the main thread, before the stream threads start; blocks up to
 *           startup.timeout.ms on its own admin client.
 * @ownership borrows `t`, `conf` and `bootstrap` for the call.
 */
int ks__prepare_cluster(const ks_topology_t *t, const ks_runtime_conf_t *conf, const char *bootstrap, char *err,
                        size_t errlen);

/*
 * The embedded broker: librdkafka's in-process mock cluster, with every
 * topic the topologies use created on it. Returns its bootstrap address
 * (valid until ks__embedded_stop), or NULL with a message.
 *
 * @locality the main thread: ks__embedded_start before the stream threads
 *           start, ks__embedded_stop after they have all ended (the cluster
 *           is one per process, in static storage).
 * @ownership borrows `ts` and `conf` for the call; the returned address is
 *            librdkafka's, borrowed: not to be freed.
 */
const char *ks__embedded_start(ks_topology_t **ts, int n, const ks_runtime_conf_t *conf, char *err, size_t errlen);
void ks__embedded_stop(void);

/*
 * global.c: the global tables of an application. ks__global_start
 * bootstraps them (every partition of their topics read to its end) and
 * then keeps them up to date on a thread of its own; *out is NULL when
 * the topology has none. ks__global_stop stops that thread and frees it
 * all; it returns -1 when the thread had failed. ks__global_dir is their
 * LMDB environment's directory, state.dir/<application>/global.
 * @locality the main thread: start before the stream threads start, stop
 *           after they have ended. On a failure the global thread stops
 *           every stream thread (ks__stop_all_threads).
 * @ownership borrows `t`, `conf` and `bootstrap` until ks__global_stop.
 */
typedef struct ks_global ks_global_t;
int ks__global_start(const ks_topology_t *t, const ks_runtime_conf_t *conf, const char *bootstrap, ks_global_t **out,
                     char *err, size_t errlen);
int ks__global_stop(ks_global_t *g);
void ks__global_dir(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *dir, size_t n);
/* Stops every stream thread of the process gracefully. @locality any thread (uv_async_send). */
void ks__stop_all_threads(void);

/* restore.c: state stores. */
struct ks_stores;
/*
 * The store whose changelog topic this is (and its processor's index), or NULL.
 * @locality any thread: it only reads `t`.
 * @ownership borrows `t` and `topic`; the result is the topology's own name of the store, borrowed for the
 *            topology's lifetime. `proc_index` may be NULL.
 */
const char *ks__changelog_store(const ks_topology_t *t, const char *topic, int *proc_index);
/*
 * The store of the table (a `tables:` entry, not global) whose source topic
 * this is, or NULL: Kafka Streams' source-topic changelog (the optimisation
 * reuse.ktable.source.topics). Such a store writes no changelog of its own;
 * its checkpoint is the offset committed for its source partition, and it
 * is restored from the source topic up to that offset (what comes after is
 * processed again).
 * @locality any thread. @ownership as ks__changelog_store.
 */
const char *ks__source_changelog_store(const ks_topology_t *t, const char *topic);
/*
 * Restores the stores of the tasks that the assigned partitions make, from
 * their checkpoints to their changelogs' ends (a source-topic changelog: to
 * the offset the application's group committed, read by the restore
 * consumer, which has the group's id and never joins it). Blocks; logs
 * progress, and tells `progress` the records each (store, partition) has
 * left to restore as it starts it, after each batch, and 0 at its end
 * (Kafka Streams' restore-remaining-records-total).
 *
 * @locality the stream thread whose stores `s` are, from its rebalance
 *           callback (the assignment is not processed before it returns);
 *           it runs its own consumer and commits `s`'s transactions.
 * @ownership borrows every argument for the call; `assigned` is
 *            librdkafka's list, not changed; writes `err`.
 */
typedef void (*ks_restore_progress_fn)(void *ud, int subtopology, int32_t partition, const char *store,
                                       int64_t remaining);
typedef struct ks_restore_progress {
    ks_restore_progress_fn fn;
    void *ud;
    int sub;
} ks_restore_progress_t;
int ks__restore_tasks(const ks_topology_t *t, struct ks_stores *s, const ks_runtime_conf_t *conf, const char *bootstrap,
                      const rd_kafka_topic_partition_list_t *assigned, const char *who, ks_restore_progress_fn progress,
                      void *progress_ud, char *err, size_t errlen);

#endif
