/*
 * kafka_int.h: shared between the Kafka driver's files.
 */
#ifndef KS_KAFKA_INT_H
#define KS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>

#include "../util/log.h"
#include "kafka.h"

/* librdkafka's log callback: its lines through ks_log, with its syslog level mapped to ours. */
void ks__rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* A client configuration with bootstrap.servers and the pass-through properties set. */
rd_kafka_conf_t *ks__client_conf(const ks_runtime_conf_t *conf, const char *bootstrap, char *err, size_t errlen);

/*
 * Checks the cluster before processing: it answers within startup.timeout.ms,
 * the source topics exist (co-partitioned sources agree), and creates the
 * internal topics and the dead-letter topic that are missing. Returns 0, or
 * -1 with a message.
 */
int ks__prepare_cluster(const ks_topology_t *t, const ks_runtime_conf_t *conf, const char *bootstrap, char *err,
                        size_t errlen);

/*
 * The embedded broker: librdkafka's in-process mock cluster, with every
 * topic the topologies use created on it. Returns its bootstrap address
 * (valid until ks__embedded_stop), or NULL with a message.
 */
const char *ks__embedded_start(ks_topology_t **ts, int n, const ks_runtime_conf_t *conf, char *err, size_t errlen);
void ks__embedded_stop(void);

/* restore.c: state stores. */
struct ks_stores;
/* The store whose changelog topic this is (and its processor's index), or NULL. */
const char *ks__changelog_store(const ks_topology_t *t, const char *topic, int *proc_index);
/*
 * Restores the stores of the tasks that the assigned partitions make, from
 * their checkpoints to their changelogs' ends. Blocks; logs progress.
 */
int ks__restore_tasks(const ks_topology_t *t, struct ks_stores *s, const ks_runtime_conf_t *conf, const char *bootstrap,
                      const rd_kafka_topic_partition_list_t *assigned, const char *who, char *err, size_t errlen);

#endif
