/*
 * testdriver_int.h: shared by the test driver's files: testdriver.c (the
 * cases: feeding inputs, commits, checking records and stores) and
 * trace.c (`kstreamd test --trace`, for tests/conformance/run.sh). Main
 * thread only.
 */
#ifndef KS_TESTDRIVER_INT_H
#define KS_TESTDRIVER_INT_H

#include <stdio.h>

#include "../engine/engine.h"
#include "../engine/store_codec.h"
#include "../json/value.h"
#include "../store/store.h"
#include "../topology/topology.h"
#include "../util/util.h"

typedef struct hdr {
    char *key;
    char *value; /* NULL: null */
    size_t len;
} hdr_t;

typedef struct outrec {
    char *topic;
    int32_t partition;
    int64_t timestamp;
    char *key, *value; /* raw bytes (NULL: Kafka null) */
    size_t klen, vlen;
    hdr_t *headers;
    int nheaders;
} outrec_t;

typedef struct run {
    const ks_topology_t *t;
    int64_t *offs; /* next offset per topic/partition */
    char **onames;
    int noffs;
    char *stopped;  /* set when errors.tolerance: none stopped the service */
    outrec_t *outs; /* everything written, in order */
    int nouts;
    outrec_t *queue; /* written to topics the application reads: to be fed back */
    int nqueue, qhead;
    ks_buf_t log;
    int stateful;         /* the topology has stores: the driver commits */
    int64_t now;          /* the case's wall-clock time */
    int64_t commit_every; /* `commitInterval`: 0 commits after every record, as TopologyTestDriver */
    int64_t last_commit;
    ks_val trace_in; /* with --trace: the case's inputs, as written to the trace */
} run_t;

/* A written record's headers as the engine's (borrowed from o), at most KS__TD_MAX_HEADERS; their number. */
#define KS__TD_MAX_HEADERS 64
int ks__td_headers(const outrec_t *o, ks_header_t hs[KS__TD_MAX_HEADERS]);

/* What a store holds, decoded as `stores:` shows it (ks__td_store_entry fills it, a ks_store_range callback). */
typedef struct store_dump {
    ks_val entries;           /* [{key, window?, value}] */
    ks_store_layout_t layout; /* of the store's processor */
} store_dump_t;

int ks__td_store_entry(void *ud, const void *k, size_t kl, const void *v, size_t vl);

/* trace.c: whether --trace is on; the topology file being run (its path is resolved). */
int ks__td_tracing(void);
void ks__td_trace_topology(const char *path);
/* A record as the trace writes it: bytes as hex, headers as [name, hex] pairs; no timestamp: null. */
ks_val ks__td_trace_record(const char *topic, int32_t partition, int64_t ts, const char *k, size_t kl, const char *v,
                           size_t vl, const ks_header_t *hs, int nh);
/* Adds one of the case's inputs (owned) to the trace, or releases it when tracing is off. */
void ks__td_trace_push(run_t *run, ks_val v);
/* Writes the case's line: its inputs, every record written and every store's contents (stores may be NULL). */
void ks__td_trace_case(const ks_topology_t *t, const char *file, const ks_ynode_t *c, const char *cname, run_t *run,
                       ks_stores_t *stores);

#endif
