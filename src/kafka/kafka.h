/*
 * kafka.h: the Kafka driver: runs built topologies against a Kafka cluster
 * (or the embedded mock broker). Each application gets
 * `num.stream.threads` stream threads; each thread has its own libuv loop,
 * consumer (group.id = application id), idempotent producer and engine.
 *
 * Delivery is at-least-once: every `commit.interval.ms` the thread flushes
 * its producer, then commits the offsets of the records it has processed
 * (only those); partitions being revoked are committed first the same way.
 * SIGINT/SIGTERM stop fetching, finish what was fetched, flush, commit and
 * close; a second signal exits at once.
 *
 * Each function below says, as librdkafka's headers do, which thread may
 * call it (@locality) and what becomes of the pointers it is given and
 * returns (@ownership).
 */
#ifndef KS_KAFKA_H
#define KS_KAFKA_H

#include "runtime.h"
#include "../topology/topology.h"

/*
 * Runs the topologies until a signal stops them (or a fatal error), ts[i]
 * with its own configuration confs[i]; what the process has once
 * (bootstrap.servers, log.level, the embedded broker) is taken from
 * confs[0], the caller having checked that all agree.
 * Returns the process exit code: 0 after a graceful stop, 1 on a runtime
 * failure (the message is printed), 2 on a configuration error.
 *
 * @locality the main thread, once: it starts the stream threads, serves
 *           SIGINT and SIGTERM on its own loop and returns when all have
 *           ended.
 * @ownership borrows `ts` and `confs`: the stream threads read them, so
 *            they must stay alive and unchanged until the call returns;
 *            nothing is freed.
 */
int ks_kafka_run(ks_topology_t **ts, int n, const ks_runtime_conf_t *confs);

/*
 * What librdkafka refuses of a service's producer and consumer
 * configuration (ours with the pass-through properties), found by creating
 * both clients without bootstrap.servers, which connects to nothing.
 * Returns 0, or -1 with librdkafka's message. Called by --validate and
 * before running.
 *
 * @locality any thread (the main thread calls it); the clients it makes are
 *           destroyed before it returns.
 * @ownership borrows `t` and `conf` for the call; writes `err`.
 */
int ks_kafka_check_clients(const ks_topology_t *t, const ks_runtime_conf_t *conf, char *err, size_t errlen);

/*
 * The directory of the LMDB environment that holds `t`'s state stores
 * (`global` nonzero: its global tables'), where the stream threads (the
 * global thread) open it: state.dir/<application>[/global]. The query
 * server opens read-only handles of the same environments.
 * @locality any thread. @ownership writes `dir`; borrows the rest.
 */
void ks_kafka_store_dir(const ks_topology_t *t, const ks_runtime_conf_t *conf, int global, char *dir, size_t n);

/*
 * The address this process's query server is reached at
 * (application.server, else the bound query.listen): every stream
 * thread's consumer carries it in its client.id, so the consumer group's
 * description says which instance serves which partitions
 * (src/http/directory.h). NULL: none.
 * @locality the main thread, before ks_kafka_run. @ownership copied.
 */
void ks_kafka_set_application_server(const char *address);

#endif
