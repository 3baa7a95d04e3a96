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
} ks_engine_stats_t;

typedef struct ks_engine ks_engine_t;

/*
 * Prepares an engine for a topology (borrowed: it must outlive the engine).
 * Returns NULL with a message in err when the topology uses operators this
 * engine cannot run.
 */
ks_engine_t *ks_engine_new(const ks_topology_t *t, const ks_engine_ops_t *ops, void *ud, char *err, size_t errlen);
void ks_engine_free(ks_engine_t *e);

/*
 * Processes one input record read from rec->topic. Returns 0; or KS_EEVAL
 * when the record failed and errors.tolerance is none (the message is in err).
 */
int ks_engine_process(ks_engine_t *e, const ks_record_t *rec, char *err, size_t errlen);

const ks_engine_stats_t *ks_engine_stats(const ks_engine_t *e);

#endif
