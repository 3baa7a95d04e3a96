/*
 * topology.h: a topology file, loaded, validated and built into a processor
 * graph with Kafka Streams' structure and names.
 *
 * Loading (load.c) walks the YAML tree against the tables of schema.c and
 * reports every error with file:line:col; building (build.c) turns the
 * pipelines into processor nodes (`KSTREAM-FILTER-0000000003`, ...),
 * inserts repartition topics where a key-changing step is followed by a step
 * that needs co-partitioning, and splits the graph into sub-topologies;
 * describe.c prints it as Kafka Streams' Topology#describe(), JSON or dot.
 * The engine (src/engine/) runs the graph.
 */
#ifndef KS_TOPOLOGY_H
#define KS_TOPOLOGY_H

#include <stdint.h>
#include <stdio.h>

#include "../expr/expr.h"
#include "../serde/serde.h"
#include "../util/diag.h"
#include "op_list.h"

/* A place in a topology file. */
typedef struct ks_pos {
    const char *file;
    int line, col;
} ks_pos_t;

typedef struct ks_topic_conf {
    char *name;
    ks_serde_t key, value;
    int partitions; /* 0: not declared */
    ks_pos_t pos;
    int declared; /* listed under topics: (not only defaulted) */
} ks_topic_conf_t;

/* One compiled expression of a step, with its source for messages and describe. */
typedef struct ks_step_expr {
    char *src;
    ks_expr_t *expr;
    ks_pos_t pos;
    const char *part; /* aggregations: "initializer", "aggregator", "reducer", "adder", "subtractor", "merger" */
} ks_step_expr_t;

typedef enum { KS_WIN_NONE, KS_WIN_TUMBLING, KS_WIN_HOPPING, KS_WIN_SLIDING, KS_WIN_SESSION } ks_win_kind_t;

/* A `windowedBy` step's windows, carried by the aggregation after it. */
typedef struct ks_window_spec {
    ks_win_kind_t kind;
    int64_t size;    /* tumbling/hopping size, sliding time difference, session inactivity gap (ms) */
    int64_t advance; /* hopping: the advance; tumbling: = size */
    int64_t grace;
    ks_pos_t pos;
} ks_window_spec_t;

/* The operators, from the rows of op_list.h. */
typedef enum ks_op {
#define XX(op, dsl, stream_prefix, table_prefix, family) KS_OP_##op,
    KS_OP_LIST(XX)
#undef XX
        KS_OP__COUNT
} ks_op_t;

/* Where an operator is loaded and run (see op_list.h). */
typedef enum ks_op_family {
    KS_FAMILY_SOURCE,
    KS_FAMILY_STATELESS,
    KS_FAMILY_SINK,
    KS_FAMILY_STATE,
    KS_FAMILY_WINDOW,
    KS_FAMILY_JOIN,
} ks_op_family_t;

/* One row of op_list.h. */
typedef struct ks_op_info {
    const char *dsl;           /* the DSL name users write (`filter`) */
    const char *stream_prefix; /* Kafka Streams' node-name prefix applied to a stream; NULL: none */
    const char *table_prefix;  /* the same applied to a table; NULL: the stream prefix */
    ks_op_family_t family;
} ks_op_info_t;

/* The rows of op_list.h, indexed by ks_op_t (topology/ops.c). */
extern const ks_op_info_t ks_ops[KS_OP__COUNT];

/*
 * The arguments of a node by family (see op_list.h). A node fills the
 * struct of its family only; the others stay zero, so a reader that asks
 * any node (describe, build) needs no test of the operator.
 */

/* SOURCE and SINK: the topics read or written. */
typedef struct ks_io_args {
    char *topic;   /* SINK: the topic (NULL when dynamic); SOURCE: the first topic */
    char **topics; /* SOURCE: all topics */
    int ntopics;
    char *display_topic; /* internal topics: the name describe shows (without `<application>-`) */
    int dynamic_topic;   /* SINK: the topic comes from the node's expression `e` */
} ks_io_args_t;

/*
 * A SOURCE of a `from: {generate: ...}` pipeline. Its one topic is the
 * pseudo-topic `generate:<pipeline>` (no Kafka topic can contain `:`),
 * which the records the generator makes carry, so ks_engine_process
 * dispatches them here like records read from a topic; describe shows it
 * as the source's topic. The expressions are extra[KS_GEN_KEY],
 * extra[KS_GEN_VALUE] and extra[KS_GEN_TIMESTAMP] (expr NULL when not
 * written); src/engine/generate.c runs them.
 */
typedef struct ks_gen_args {
    int enabled;   /* 1 for a generate source */
    double rate;   /* records per second; 0: as fast as possible */
    int64_t count; /* total records; -1: unbounded */
    int64_t seed;  /* the PRNG seed, also $seed */
} ks_gen_args_t;

/* BRANCH: one branch of a split. */
typedef struct ks_branch_args {
    char *name;     /* the branch's name as written */
    int is_default; /* the `default` branch: takes what no other branch took */
} ks_branch_args_t;

/* TABLE_SOURCE: the node of a table declared under `tables:`. */
typedef struct ks_table_source_args {
    char *table; /* the table's name, for lookups */
    int global;  /* a global table: its sub-topology makes no tasks and its store no changelog */
} ks_table_source_args_t;

/* TO_TABLE and the aggregations (count, reduce, aggregate): the store they keep. */
typedef struct ks_state_args {
    ks_window_spec_t window; /* aggregations after windowedBy */
    int no_changelog;        /* `changelog: false`: the store is not logged */
    int store_optional;      /* TO_TABLE without `store:`: materialised only if something downstream needs it */
    int queryable;           /* `queryable: true`: stores[0] is served over HTTP (src/http/query.c) */
} ks_state_args_t;

/* PRINT. */
typedef struct ks_print_args {
    char *label; /* `label:`; NULL: the processor's name, as Kafka Streams' Printed */
} ks_print_args_t;

/* SUPPRESS. */
typedef struct ks_suppress_args {
    int final;     /* untilWindowCloses */
    int64_t limit; /* untilTimeLimit (ms) */
    int64_t max;   /* maxRecords; -1 unbounded */
} ks_suppress_args_t;

/* What a join joins, from the kind of its left side and its `table:`, `globalTable:`, `stream:`, `foreignKey:`. */
typedef enum ks_join_kind {
    KS_JOIN_STREAM_TABLE = 1, /* a stream with a `tables:` table, by the stream's key (KStreamKTableJoin) */
    KS_JOIN_STREAM_GLOBAL,    /* a stream with a global table, by `key:` */
    KS_JOIN_STREAM_STREAM,    /* two streams within `window:` */
    KS_JOIN_TABLE_TABLE,      /* two tables by key */
    KS_JOIN_FOREIGN_KEY,      /* two tables, by `foreignKey:` */
} ks_join_kind_t;

/*
 * The nodes of a stream-stream join (KStreamImplJoin): each side's
 * KSTREAM-WINDOWED buffers its records in its window store, each side's
 * join node (KSTREAM-JOINTHIS/-OUTERTHIS, KSTREAM-JOINOTHER/-OUTEROTHER)
 * joins a record with the other side's buffer, and a KSTREAM-MERGE (a
 * plain MERGE node) joins their outputs. A table-table join
 * (KTableKTableJoinNode) is KTABLE-JOINTHIS and -JOINOTHER, the changes of
 * either table joined with the other's row, and KTABLE-MERGE.
 */
typedef enum ks_join_role {
    KS_JOIN_ROLE_NONE,
    KS_JOIN_ROLE_WINDOWED, /* KStreamJoinWindow: forwards, then buffers the record in stores[0] */
    KS_JOIN_ROLE_THIS,     /* KStreamKStreamJoinLeftSide: the left stream's records */
    KS_JOIN_ROLE_OTHER,    /* KStreamKStreamJoinRightSide: the right stream's records */
    KS_JOIN_ROLE_MERGE,    /* a table-table join's KTABLE-MERGE: the result table (KTableKTableJoinMerger) */
} ks_join_role_t;

/*
 * The nodes of a foreign-key join (KS_JOIN_FOREIGN_KEY), each a JOIN or
 * LEFT_JOIN node, named as Kafka Streams' KTableImpl#doJoinOnForeignKey
 * names them; src/engine/ops_join_fk.c runs them.
 */
typedef enum ks_fk_role {
    KS_FK_NONE,
    KS_FK_REGISTRATION, /* below the left table: subscriptions to the registration topic (SubscriptionSend) */
    KS_FK_RECEIVE,      /* reads the registration topic into the subscription store (SubscriptionReceive) */
    KS_FK_JOIN_FOREIGN, /* a subscription looks its foreign key up in the right table (SubscriptionJoin) */
    KS_FK_FOREIGN_JOIN, /* below the right table: a row's change answers its subscribers (ForeignTableJoin) */
    KS_FK_RESOLVER,     /* reads the response topic, drops stale responses, joins (ResponseJoin) */
} ks_fk_role_t;

/* JOIN, LEFT_JOIN, OUTER_JOIN. */
typedef struct ks_join_args {
    char *table; /* the table joined with (`table:` or `globalTable:`); NULL for a stream-stream join */
    ks_join_kind_t kind;
    /*
     * A stream-table join: the table's KTABLE-SOURCE, whose store the join
     * reads (its serdes encode the lookup key; the store's state is the one
     * the table writes, in the same task). A foreign-key join: the right
     * table's.
     */
    struct ks_proc *table_node;
    /* Which node of a join made of several (stream-stream and table-table joins); NONE for the others. */
    ks_join_role_t role;
    /* Stream-stream joins (kind KS_JOIN_STREAM_STREAM); the other fields stay zero elsewhere. */
    int64_t before, after, grace; /* JoinWindows: beforeMs, afterMs, gracePeriodMs */
    int outer;                    /* THIS/OTHER: this side's unmatched records are emitted (with null) */
    int shared;                   /* THIS/OTHER: stores[1] is the shared outer store (left and outer joins) */
    /*
     * THIS/OTHER: the other side's WINDOWED node, whose store (stores[0]
     * here) is searched; THIS holds the time tracker both sides share.
     */
    struct ks_proc *other_windowed;
    struct ks_proc *this_side; /* THIS/OTHER: the THIS node (its per-partition state is the shared time tracker) */
    /*
     * Table-table joins (kind KS_JOIN_TABLE_TABLE): three nodes, THIS,
     * OTHER and MERGE. Each knows both tables, the left one in left_node
     * and the right one in table_node, and peer, the THIS node, which holds
     * the joiner; send_old: a node below the merge asks for old values
     * (KTableKTableAbstractJoin#enableSendingOldValues).
     */
    struct ks_proc *left_node, *peer;
    int send_old;
    /* Foreign-key joins (kind KS_JOIN_FOREIGN_KEY; left_node above is the left table's node, whose store the resolver
     * reads). */
    int fk_role;             /* ks_fk_role_t; KS_FK_NONE for the other kinds */
    struct ks_proc *fk_sink; /* the sink of the internal topic this node writes, or NULL */
    struct ks_proc *fk_next; /* KS_FK_RECEIVE: its KS_FK_JOIN_FOREIGN child */
} ks_join_args_t;

/* A processor node of the built graph: a header every node has, then its family's arguments. */
typedef struct ks_proc {
    ks_op_t op;
    char *name;      /* KSTREAM-FILTER-0000000001 or the step's `name:` */
    ks_pos_t pos;    /* the step that made it */
    int subtopology; /* index, after build */
    struct ks_proc **children;
    int nchildren;
    struct ks_proc **parents;
    int nparents;
    int seq;       /* creation order */
    int add_order; /* the order Kafka Streams adds the node to its topology (describe's hash-order ties) */
    char **stores; /* stores the processor uses */
    int nstores;
    char **changelogs;     /* the changelog topic of each of `stores` (full names); NULL entries: not logged */
    int table;             /* FILTER, FILTER_NOT, MAP_VALUES, GROUP_BY, aggregations: works on a table's changes */
    int is_repartition;    /* the SINK, null-key FILTER or SOURCE of an internal repartition topic */
    int null_keys_pass;    /* a repartition FILTER above a left or outer join: null keys go through (KIP-962) */
    ks_step_expr_t e;      /* predicate, mapper, key selector, peek expression, joiner or dynamic topic */
    ks_step_expr_t *extra; /* further expressions: aggregate's initializer/aggregator, join key, generate's */
    int nextra;
    /*
     * Serdes, as Kafka Streams would have them (topology/serdes.c): those it
     * carries on the node's output (a ks_serde_t, or KS_SERDE_UNKNOWN when it
     * carries none), whether that key is windowed (KS_KEY_WINDOWED: over a
     * time window, KS_KEY_SESSION: a session), and those of the node's store
     * (the suppression buffer's for SUPPRESS), the defaults filled in.
     */
    int out_key, out_value;
    int out_windowed;
    int changes; /* SINK and SOURCE of a grouped table's repartition topic: values are Changes (ChangedSerializer) */
    ks_serde_t store_key, store_value;
    /* The family's arguments. */
    ks_io_args_t io;
    ks_gen_args_t gen;
    ks_branch_args_t branch;
    ks_table_source_args_t table_source;
    ks_state_args_t state;
    ks_suppress_args_t suppress;
    ks_join_args_t join;
    ks_print_args_t print;
} ks_proc_t;

#define KS_SERDE_UNKNOWN (-1)
enum { KS_KEY_PLAIN, KS_KEY_WINDOWED, KS_KEY_SESSION };

/* Slots of a generate source's expressions in ks_proc_t.extra. */
enum { KS_GEN_KEY, KS_GEN_VALUE, KS_GEN_TIMESTAMP, KS_GEN__NEXPR };
/*
 * The variables of a generate source's expressions besides the stream
 * variables, one row each in slot order after them: XX(slot, name). The
 * slots are KS_GEN_VAR_I, ...; KS_GEN_ALL_VARS lists every name, the stream
 * variables' first.
 */
#define KS_GEN_VAR_LIST(XX) XX(I, "i") XX(RAND, "rand") XX(SEED, "seed") XX(NOW, "now")
enum {
    KS_GEN_VAR__BEFORE = KS_EXPR_NSTREAM_VARS - 1, /* so that the first row takes the slot after the stream variables */
#define XX(slot, name) KS_GEN_VAR_##slot,
    KS_GEN_VAR_LIST(XX)
#undef XX
        KS_GEN_VAR__END /* the number of slots of a generate expression */
};
#define KS_GEN_NVARS (KS_GEN_VAR__END - KS_EXPR_NSTREAM_VARS)
#define KS_GEN_ALL_VARS KS_EXPR_STREAM_VAR_LIST(KS_EXPR_VAR_NAME) KS_GEN_VAR_LIST(KS_EXPR_VAR_NAME)
/* The pseudo-topic prefix of generate sources: `generate:<pipeline>`. */
#define KS_GEN_TOPIC_PREFIX "generate:"

/*
 * Parses a generate source's `rate`: `200/s`, `10/m`, `5/h`, `1/d`, or a
 * bare number of records per second; `0` means as fast as possible.
 * Returns 0 with *per_sec set, or -1.
 */
int ks_topology_parse_rate(const char *s, double *per_sec);

typedef struct ks_table_conf {
    char *name;
    char *topic;
    int queryable, global;
    char *store;
    ks_pos_t pos;
} ks_table_conf_t;

typedef struct ks_topology {
    char *file;
    char *application;
    char *description;
    char *dlq_topic;           /* `<application>-dlq` unless configured (config `dlq.topic`) */
    int errors_tolerance_none; /* config `errors.tolerance: none`: a bad record stops the service */
    char **config_keys, **config_vals;
    ks_pos_t *config_key_pos, *config_val_pos; /* where each config: key and value is written */
    int nconfig;
    ks_topic_conf_t defaults;
    ks_topic_conf_t *topics;
    int ntopics;
    ks_table_conf_t *tables;
    int ntables;
    ks_proc_t **procs; /* every processor, in creation order */
    int nprocs;
    int nsubtopologies;
    char **internal_topics; /* repartition topics, full names: `<application>-<base>-repartition` */
    int ninternal;
    ks_topic_conf_t *internal_serdes; /* repartition topics and key-value stores' changelogs: their serdes (serdes.c) */
    int ninternal_serdes;
    int name_counter; /* Kafka Streams' index for generated names */
} ks_topology_t;

/*
 * Loads, validates and builds a topology file. Returns NULL when there were
 * errors; every error is in diags (file:line:col: message). Warnings may be
 * added on success.
 */
ks_topology_t *ks_topology_load(const char *path, ks_diags_t *diags);
void ks_topology_free(ks_topology_t *t);

/*
 * The serdes of a topic: as declared; for a repartition topic, those
 * Kafka Streams would write it with (the stream's, the defaults filled
 * in); for a key-value store's changelog, the store's; else the defaults.
 */
const ks_topic_conf_t *ks_topology_topic(const ks_topology_t *t, const char *topic);
/* Whether the application reads this topic (a source or repartition topic). */
int ks_topology_reads(const ks_topology_t *t, const char *topic);
/* Whether the topology has global tables (`global: true`). */
int ks_topology_has_global(const ks_topology_t *t);
/* Whether a processor is the source of a global table (read by the global thread, not by tasks). */
int ks_topology_is_global_source(const ks_proc_t *p);
/* The sub-topology whose source reads the topic (-1: none). */
int ks_topology_reader(const ks_topology_t *t, const char *topic);
/*
 * Whether a topic name (as the processors name it, without the
 * `<application>-` prefix internal topics get on Kafka) is internal.
 */
int ks_topology_is_internal(const ks_topology_t *t, const char *topic);

typedef enum { KS_DESCRIBE_TEXT, KS_DESCRIBE_JSON, KS_DESCRIBE_DOT } ks_describe_fmt_t;
/* Kafka Streams' Topology#describe() text, the same graph as JSON, or Graphviz dot. */
void ks_topology_describe(const ks_topology_t *t, ks_describe_fmt_t fmt, FILE *out);
/* dot for several topologies at once: services and the topics between them. */
void ks_topology_describe_system(ks_topology_t *const *ts, int n, FILE *out);

/* The DSL name of an operator (`filter`), from its row in op_list.h. */
static inline const char *ks_op_dsl_name(ks_op_t op)
{
    return (unsigned)op < KS_OP__COUNT ? ks_ops[op].dsl : "?";
}

/*
 * Kafka Streams' node-name prefix of an operator applied to a table (table
 * nonzero) or a stream, from its row in op_list.h; NULL when it has none.
 */
static inline const char *ks_op_prefix(ks_op_t op, int table)
{
    const ks_op_info_t *info = &ks_ops[op];
    return table && info->table_prefix ? info->table_prefix
           : info->stream_prefix       ? info->stream_prefix
                                       : info->table_prefix;
}

/* Whether the state engine (engine/ops_state.c) runs an operator's nodes, whatever they are applied to. */
static inline int ks_op_stateful(ks_op_t op)
{
    ks_op_family_t f = ks_ops[op].family;
    return f == KS_FAMILY_STATE || f == KS_FAMILY_WINDOW || f == KS_FAMILY_JOIN;
}

#endif
