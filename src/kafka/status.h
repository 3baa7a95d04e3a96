/*
 * status.h: what each application of the process is doing, shared between
 * the threads that make it happen and the threads that report it.
 *
 * The stream threads write it (consume.c's rebalance callback: which
 * partitions of which sub-topology each thread holds, restoring or active;
 * driver.c: threads started, failed, stopping), the global thread's start
 * writes whether the global tables are bootstrapped (global.c), admin.c
 * how many partitions each sub-topology has. The HTTP server reads it: /ready, /health,
 * which partitions of a store this process holds, and the owner partition
 * of a key; /metrics and the routing between instances read it too.
 *
 * The client's state is Kafka Streams' KafkaStreams.State, derived from the
 * above: CREATED before the stream threads start, REBALANCING while a
 * thread waits for its assignment or restores it, or the global tables
 * bootstrap, RUNNING when every thread has its assignment restored,
 * PENDING_SHUTDOWN once a graceful stop began, ERROR after a fatal failure.
 *
 * @locality every function may be called from any thread: an application's
 *           status is guarded by its own mutex.
 * @ownership the registry borrows the topologies (ks_status_register); the
 *            functions copy what they hand out.
 */
#ifndef KS_KAFKA_STATUS_H
#define KS_KAFKA_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "../topology/topology.h"

typedef enum {
    KS_CLIENT_CREATED,
    KS_CLIENT_REBALANCING,
    KS_CLIENT_RUNNING,
    KS_CLIENT_PENDING_SHUTDOWN,
    KS_CLIENT_NOT_RUNNING,
    KS_CLIENT_ERROR,
} ks_client_state_t;

/* Kafka Streams' name of a state: "CREATED", "REBALANCING", ... (static). */
const char *ks_client_state_name(ks_client_state_t s);

/* Where a task's partition stands in this process. */
typedef enum { KS_PART_NOT_HELD, KS_PART_RESTORING, KS_PART_ACTIVE } ks_part_state_t;

/*
 * Registers the applications `ts[i]`, each with `nthreads[i]` stream
 * threads; an application registered already is left as it is. Call it
 * before any other function names them. @locality the main thread, before
 * the threads that write or read the status start.
 */
void ks_status_register(ks_topology_t *const *ts, int n, const int *nthreads);
/* Forgets every application (the process's run has ended). @locality the main thread, once no thread uses it. */
void ks_status_clear(void);

/* ---- writers ---- */

/* admin.c: sub-topology `sub` of `t` makes `partitions` tasks (its source topics' partition count). */
void ks_status_set_partitions(const ks_topology_t *t, int sub, int partitions);
/* driver.c: stream thread `thread` (its index in the application) has started (it joins the group next). */
void ks_status_thread_started(const ks_topology_t *t, int thread);
/* driver.c: the thread has no consumer (generate sources only): it is running as soon as it has started. */
void ks_status_thread_running(const ks_topology_t *t, int thread);
/* driver.c: the thread's loop has ended. */
void ks_status_thread_stopped(const ks_topology_t *t, int thread);
/*
 * consume.c: the thread was assigned these topic partitions (`topics[i]`,
 * `partitions[i]`): their tasks are restoring. What the thread held before
 * is forgotten.
 */
void ks_status_assigned(const ks_topology_t *t, int thread, const char *const *topics, const int32_t *partitions,
                        int n);
/* consume.c: the thread's restoring tasks are restored: they are active. */
void ks_status_restored(const ks_topology_t *t, int thread);
/* consume.c: the thread's partitions were revoked: it holds nothing and waits for an assignment. */
void ks_status_revoked(const ks_topology_t *t, int thread);
/* global.c: the global tables are bootstrapped (an application without them counts as bootstrapped). */
void ks_status_global_bootstrapped(const ks_topology_t *t);
/* driver.c, global.c: a fatal error; `why` is copied (the first one is kept). */
void ks_status_failed(const ks_topology_t *t, const char *why);
/* driver.c: a graceful stop of every application began. */
void ks_status_stopping(void);

/* ---- readers ---- */

/* The number of applications registered, and the topology of the i-th (borrowed), in registration order. */
int ks_status_count(void);
const ks_topology_t *ks_status_topology(int i);
/*
 * The client state of `t`; `reason` (may be NULL) gets why it is not
 * RUNNING, in one sentence ("thread 0 is restoring 2 partitions of
 * sub-topology 1"), or "" when it is.
 */
ks_client_state_t ks_status_state(const ks_topology_t *t, char *reason, size_t reasonlen);
/* Partitions of sub-topology `sub` (0 while unknown: before the cluster was asked). */
int ks_status_partitions(const ks_topology_t *t, int sub);
/* Where task (sub, partition) stands in this process. */
ks_part_state_t ks_status_partition(const ks_topology_t *t, int sub, int32_t partition);
/* Whether the global tables of `t` are bootstrapped. */
int ks_status_global_ready(const ks_topology_t *t);

#endif
