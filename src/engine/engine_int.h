/*
 * engine_int.h: shared between the engine's files.
 */
#ifndef KS_ENGINE_INT_H
#define KS_ENGINE_INT_H

#include "../serde/serde.h"
#include "engine.h"

/* A record in flight through the processors: raw bytes plus lazily parsed values. */
typedef struct flight {
    const void *kraw, *vraw; /* the source record's bytes (NULL: Kafka null) */
    size_t klen, vlen;
    ks_serde_t key_serde, value_serde; /* serdes of the raw bytes */
    ks_val key, value;                 /* parsed or computed; KS_INVALID until needed */
    int key_changed, value_changed;    /* computed by an operator: the raw bytes no longer apply */
    int value_checked;                 /* the raw value is known to be what its serde promises */
    int64_t ts;
    const char *node; /* the processor working on it, for dead-letter headers */
    /* Tables: the previous value of the key (KS_INVALID: not known), borrowed. */
    ks_val old;
    int change_tag; /* a table groupBy record on its way through a repartition topic: KS_CHANGE_* */
    ks_val window;  /* $window of windowed aggregations (borrowed; KS_INVALID elsewhere) */
} flight_t;

enum { KS_CHANGE_NONE, KS_CHANGE_SUBTRACT, KS_CHANGE_ADD, KS_CHANGE_BOTH };
#define KS_CHANGE_HEADER "kstreamd.change"
#define KS_CHANGE_OLD_HEADER "kstreamd.change.old" /* KS_CHANGE_BOTH: the old value as JSON text */

struct ks_state; /* ops_state.c */

struct ks_engine {
    const ks_topology_t *t;
    ks_engine_ops_t ops;
    void *ud;
    ks_engine_stats_t stats;
    const ks_record_t *cur; /* the input record being processed */
    ks_val cur_topic;       /* $topic: built when an expression first needs it, kept while the topic is the same */
    ks_val cur_headers;     /* $headers, built on first use */
    int dlq_sent;
    int failed;
    /* errors.tolerance none: the failed record's place (topic, partition, offset, node), then ks__fail's message. */
    char fatal[KS_ERRMSG_SIZE + 512];
    struct ks_state *st; /* stores, record cache, stream times; NULL for stateless topologies */
    /* lookup(table; key): the table named last (the name is an expression's literal) and its table source. */
    const char *lookup_name;
    const struct ks_proc *lookup_table;
    int64_t wall_ms;      /* the driver's wall clock (ks_engine_set_wall_clock) */
    int wall_set;         /* wall_ms is set: the system's clock is not read */
    int64_t join_emit_ms; /* ks_engine_set_join_emit_interval's, when join_emit_set */
    int join_emit_set;
    int join_exact_expiry; /* stream-stream join buffers drop expired records at once (ks_engine_set_exact_expiry) */
    /* Task metrics (task_stats.c): the tasks seen, the one of the record in process, its source and terminal nodes. */
    ks_task_stats_t *tasks;
    int ntasks, cap_tasks;
    int cur_task;                     /* index into tasks of the record being processed; -1 outside */
    int last_task;                    /* the previous record's, checked first */
    int64_t task_now_ms;              /* the wall clock when the record being processed began */
    const struct ks_proc **lat_procs; /* the topology's source and terminal nodes, a task's nodes[] in this order */
    int nlat_procs;
    ks_buf_t sink_kb, sink_vb; /* ks__sink's key and value bytes, kept from record to record: emit copies them */
    /* Input topics' configurations and source nodes (indexes into t->procs), found once per topic. */
    struct {
        char *topic;
        const struct ks_topic_conf *tc;
        int *sources, nsources;
    } ins[8];
    int nins;
    /* Sinks' topic configurations, by the sink's topic pointer (the topology's, stable). */
    struct {
        const char *topic;
        const struct ks_topic_conf *tc;
    } sink_tcs[8];
    int nsink_tcs;
};

/* The wall clock in ms: the driver's when it set one, else the system's. */
int64_t ks__wall_clock(const ks_engine_t *e);

int ks__flight_value(ks_engine_t *e, flight_t *f, ks_val *out);
/*
 * An expression that is `.field`, on a JSON value not parsed yet: reads that
 * field alone (the text is still checked whole). Returns 1 with *out set,
 * 0 when this does not apply (the caller evaluates as usual).
 */
int ks__eval_field(ks_engine_t *e, flight_t *f, const ks_step_expr_t *x, ks_val *out);
int ks__flight_key(ks_engine_t *e, flight_t *f, ks_val *out);
int ks__bind_vars(ks_engine_t *e, flight_t *f, ks_val vars[KS_EXPR_NSTREAM_VARS]);
/* The engine's answer to lookup(table; key) (expr.h, ks_expr_lookup_fn; ud is the engine): ops_join.c. */
int ks__st_lookup(void *ud, const char *table, ks_val key, ks_val *row, char *err, size_t errlen);
int ks__fail(ks_engine_t *e, flight_t *f, const char *what, const char *msg);
/*
 * The context of a failed expression, the `what` of ks__fail (and of the
 * generator's messages): "evaluating `filter` (file:line:col)" for a
 * step's expression (part NULL), "evaluating `aggregator` of `aggregate`
 * (file:line:col)" for one of its named parts, "evaluating `value` of
 * generate (file:line:col)" for a generate source's. pos is where the
 * expression is written; buf holds KS_ERRMSG_SIZE bytes or fewer.
 */
void ks__eval_context(char *buf, size_t len, const ks_proc_t *p, const char *part, ks_pos_t pos);
int ks__sink(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
int ks__forward(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
void ks__process_node(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
/* ops_state.c: stateful operators and table-side stateless ones. */
void ks__process_state(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
void ks__state_free(ks_engine_t *e);
int ks__state_check(const ks_topology_t *t, char *err, size_t errlen);
/* task_stats.c: the task of an input record (found or added, e->cur_task set), a node's e2e latency, freeing. */
void ks__task_begin(ks_engine_t *e, const ks_record_t *rec, int subtopology);
void ks__task_latency(ks_engine_t *e, const struct ks_proc *p, int64_t ts);
void ks__tasks_forget(ks_engine_t *e);
void ks__tasks_free(ks_engine_t *e);

#endif
