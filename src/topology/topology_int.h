/*
 * topology_int.h: shared between the topology loader's files.
 */
#ifndef KS_TOPOLOGY_INT_H
#define KS_TOPOLOGY_INT_H

#include "../config/yaml.h"
#include "topology.h"

typedef struct pipe_state {
    const char *name;
    const ks_ynode_t *node;
    const ks_ynode_t *key;
    ks_proc_t *end; /* the last node of its stream (for merge), NULL after split */
    int kind;
    int key_changed;
    int state;      /* 0 not loaded, 1 loading, 2 loaded */
    int key_window; /* ks_win_kind_t: the stream's keys are windowed */
} pipe_state_t;

typedef struct load {
    ks_topology_t *t;
    ks_diags_t *diags;
    struct {
        const char *name;
        const char *what;
        int line;
    } * names;
    int nnames;
    struct {
        char *topic;
        ks_proc_t *src;
    } * sources;
    int nsources;
    pipe_state_t *pipes;
    int npipes;
} load_t;

/* The stream flowing through a pipeline while its steps are loaded. */
typedef struct stream {
    ks_proc_t *cur;
    int kind;                /* ks_stream_kind_t */
    int key_changed;         /* a key-changing step ran since the last repartition */
    const char *changer;     /* name of the node that changed the key */
    int ended;               /* after split: nothing may follow */
    int value_kind;          /* the JSON kind every value is known to have (count: numbers), 0 when unknown */
    const char *value_from;  /* the step that fixed value_kind, for messages */
    ks_window_spec_t window; /* set by windowedBy for the aggregation that follows */
    const char *group_name; /* `name:` of groupBy/groupByKey (Kafka Streams' Grouped.as): names the repartition topic */
    ks_win_kind_t key_window; /* the keys are windowed ({key, window}) by windows of this kind; KS_WIN_NONE when not */
} stream_t;

void ks__topo_err_at(load_t *L, const ks_ynode_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ks__topo_load_config(load_t *L, const ks_ynode_t *n);
void ks__topo_load_pipelines(load_t *L, const ks_ynode_t *n);
void ks__topo_load_cleanup(load_t *L);
void ks__topo_note_name(load_t *L, const char *name, const ks_ynode_t *at, const char *what);
int ks__topo_compile_expr(load_t *L, const ks_ynode_t *n, const char *what, ks_step_expr_t *out);
ks_pos_t ks__topo_pos_of(load_t *L, const ks_ynode_t *n);
int ks__topo_get_duration(load_t *L, const ks_ynode_t *n, const char *what, int64_t *ms);
/* A `true` or `false` scalar; `def` when n is NULL, or after reporting anything else. */
int ks__topo_get_bool(load_t *L, const ks_ynode_t *n, const char *what, int def);
const ks_table_conf_t *ks__topo_find_table(const ks_topology_t *t, const char *name);
void ks__topo_build(load_t *L);
/* Fills each processor's out_* and store_* serdes (serdes.c); after the graph is built. */
void ks__topo_infer_serdes(ks_topology_t *t);
/* topic_names.c: reports every topic the built topology names or makes that Kafka would refuse. */
void ks__topo_check_topic_names(load_t *L);
ks_proc_t *ks__topo_new_proc(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at);
void ks__topo_add_extra(ks_proc_t *p, ks_step_expr_t e);
/* generate_load.c: a `from: {generate: ...}` source node, or NULL after reporting errors. */
ks_proc_t *ks__topo_load_generate(load_t *L, const char *pipe, const ks_ynode_t *from);

/*
 * A step as its loader sees it, after the generic checks of pipeline.c
 * (load_step): the step's shape, its schema row, the kind of stream it
 * follows and the keys of its argument are known to be right.
 */
typedef struct ks_step {
    const struct ks_step_row *row; /* the step's row in schema.c */
    const ks_ynode_t *key;         /* the step's name as written, for messages */
    const ks_ynode_t *arg;         /* its argument: a scalar, a mapping, or NULL for a bare step */
    const char *name;              /* its `name:`, NULL when not given */
    const char *pipe;              /* the pipeline it is in */
} ks_step_t;

/*
 * `queryable:` of a store-making step: whether its store is served over HTTP.
 * A store Kafka Streams would name itself (no `store:`) cannot be: Kafka
 * Streams queries only stores named with Materialized.as, so that is an error.
 */
int ks__topo_queryable(load_t *L, const ks_step_t *step);

/* The part `key` of a step's argument (the argument itself when `key` is the part a scalar stands for), or NULL. */
const ks_ynode_t *ks__topo_part(const ks_step_t *step, const char *key);
/* Compiles the part `key` of a step into *out. Returns 0, or -1 when it is absent or after reporting errors. */
int ks__topo_compile_part(load_t *L, const ks_step_t *step, const char *key, ks_step_expr_t *out);

/* pipeline.c: the graph's nodes and the pipelines, shared with the loaders. */
/* A processor as ks__topo_new_proc makes it; a given name uses no index when burn is 0. */
ks_proc_t *ks__topo_new_proc_burn(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at,
                                  int burn);
/* `<prefix>-<index>`, using one index of the name counter (malloc'd). */
char *ks__topo_gen_name(load_t *L, const char *prefix);
void ks__topo_link(ks_proc_t *parent, ks_proc_t *child);
/* Adds a copy of `store` to the processor's stores. */
void ks__topo_add_store(ks_proc_t *p, const char *store);
/* The KTABLE-SOURCE node of a table declared under `tables:`, or NULL. */
ks_proc_t *ks__topo_table_proc(load_t *L, const char *name);
/* A repartition topic (sink, null-key filter, source) after the stream; the stream continues from its source. */
void ks__topo_insert_repartition(load_t *L, stream_t *s, const char *base, const ks_ynode_t *at);
/* A grouped table's repartition topic (sink and source, no filter). */
void ks__topo_insert_table_repartition(load_t *L, stream_t *s, const char *base, const char *named,
                                       const ks_ynode_t *at);
/* "a, b": the names of the pipelines and of the tables, for messages (malloc'd). */
char *ks__topo_pipe_names(load_t *L);
char *ks__topo_table_names(load_t *L);
pipe_state_t *ks__topo_find_pipe(load_t *L, const char *name);
/* Loads another pipeline first (merge, from: {pipeline: ...}, stream joins); returns it. */
pipe_state_t *ks__topo_load_pipeline(load_t *L, pipe_state_t *ps);
void ks__topo_load_steps(load_t *L, stream_t *s, const ks_ynode_t *steps, const char *pipe);
void ks__topo_load_sink(load_t *L, stream_t *s, const ks_ynode_t *to, const char *given, const ks_ynode_t *at);

/*
 * The loaders, one per schema row (the row's `load`). Each adds the step's
 * nodes after s->cur and moves the stream on, reporting errors with
 * ks__topo_err_at.
 */
/* load_stateless.c */
void ks__topo_load_expression_step(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_split(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_merge(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_repartition(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_to(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_print(load_t *L, stream_t *s, const ks_step_t *step);
/* load_aggregate.c */
void ks__topo_load_to_table(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_to_stream(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_group_by_key(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_group_by(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_windowed_by(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_aggregation(load_t *L, stream_t *s, const ks_step_t *step);
void ks__topo_load_suppress(load_t *L, stream_t *s, const ks_step_t *step);
/* load_join.c */
void ks__topo_load_join(load_t *L, stream_t *s, const ks_step_t *step);
/*
 * load_join.c: the stores a table's value getter reads (Kafka Streams'
 * KTableValueGetterSupplier#storeNames), added to p (none when p is NULL:
 * a check only): a table source, toTable or aggregation reads its own
 * store; a filter or mapValues of a table, its parent's; a table-table join
 * without `store:`, both of its sides'. Returns -1, with the error at `at`,
 * for a table whose rows cannot be read by key here (engine/ops_join.c,
 * ks__st_table_get, reads what this admits).
 */
int ks__topo_add_getter_stores(load_t *L, ks_proc_t *p, const ks_proc_t *table, const ks_ynode_t *at);
/*
 * pipeline.c: makes sink and src the two ends of the internal topic
 * `<application>-<topic>` (describe shows `<topic>`, as Kafka Streams does)
 * and lists it among the topology's internal topics; links nothing.
 */
void ks__topo_internal_topic(load_t *L, ks_proc_t *sink, ks_proc_t *src, const char *topic);
/* load_join_stream.c: a stream-stream join of s with pipeline op's stream; takes ownership of joiner. */
void ks__topo_load_stream_join(load_t *L, stream_t *s, const ks_step_t *step, ks_step_expr_t joiner, pipe_state_t *op);
/*
 * load_join_fk.c: a foreign-key join of the table s with `right` (the
 * right table's node; NULL after an error). Takes ownership of the
 * compiled joiner and foreign-key extractor.
 */
void ks__topo_load_join_fk(load_t *L, stream_t *s, const ks_step_t *step, ks_proc_t *right, ks_step_expr_t *joiner,
                           ks_step_expr_t *fk);

#endif
