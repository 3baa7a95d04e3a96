/*
 * op_list.h: every operator of the processor graph, declared once (libuv's
 * UV_HANDLE_TYPE_MAP, jq's opcode_list.h). A row gives the enum tail
 * (KS_OP_<enum>), the DSL name users write, Kafka Streams' node-name prefix
 * when the operator is applied to a stream and when it is applied to a
 * table (NULL: the operator makes no node of that kind, or has no name of
 * its own), and its family, which says where it is loaded and run:
 *
 *   SOURCE, SINK   topology/pipeline.c; engine/ops_stateless.c forwards and writes
 *   STATELESS      topology/load_stateless.c, engine/ops_stateless.c
 *   STATE          topology/load_aggregate.c, engine/ops_state.c and ops_aggregate.c
 *   WINDOW         topology/load_aggregate.c (windowedBy makes no node; the
 *                  aggregation after it runs in engine/ops_window.c)
 *   JOIN           topology/load_join.c, engine/ops_state.c
 *
 * The order of the rows is the order of ks_op_t. Include topology.h, not
 * this file.
 */
#ifndef KS_OP_LIST_H
#define KS_OP_LIST_H

/* XX(enum, dsl name, stream prefix, table prefix, family) */
#define KS_OP_LIST(XX)                                                                                                 \
    XX(SOURCE, "source", "KSTREAM-SOURCE", NULL, SOURCE)                                                               \
    XX(FILTER, "filter", "KSTREAM-FILTER", "KTABLE-FILTER", STATELESS)                                                 \
    XX(FILTER_NOT, "filterNot", "KSTREAM-FILTER", "KTABLE-FILTER", STATELESS)                                          \
    XX(MAP, "map", "KSTREAM-MAP", NULL, STATELESS)                                                                     \
    XX(MAP_VALUES, "mapValues", "KSTREAM-MAPVALUES", "KTABLE-MAPVALUES", STATELESS)                                    \
    XX(FLAT_MAP, "flatMap", "KSTREAM-FLATMAP", NULL, STATELESS)                                                        \
    XX(FLAT_MAP_VALUES, "flatMapValues", "KSTREAM-FLATMAPVALUES", NULL, STATELESS)                                     \
    XX(SELECT_KEY, "selectKey", "KSTREAM-KEY-SELECT", NULL, STATELESS)                                                 \
    XX(PEEK, "peek", "KSTREAM-PEEK", NULL, STATELESS)                                                                  \
    XX(PRINT, "print", "KSTREAM-PRINTER", NULL, STATELESS)                                                             \
    /* The branch processor; branches are its children. */                                                             \
    XX(SPLIT, "split", "KSTREAM-BRANCH", NULL, STATELESS)                                                              \
    /* One branch of a split, named `<split name><branch name>`. */                                                    \
    XX(BRANCH, "branch", NULL, NULL, STATELESS)                                                                        \
    XX(MERGE, "merge", "KSTREAM-MERGE", NULL, STATELESS)                                                               \
    /* Makes no node of its own: a sink, a filter and a source. */                                                     \
    XX(REPARTITION, "repartition", "KSTREAM-REPARTITION", NULL, STATELESS)                                             \
    XX(SINK, "to", "KSTREAM-SINK", NULL, SINK)                                                                         \
    XX(TO_TABLE, "toTable", "KSTREAM-TOTABLE", NULL, STATE)                                                            \
    XX(TO_STREAM, "toStream", NULL, "KTABLE-TOSTREAM", STATE)                                                          \
    /* Not a processor in Kafka Streams. */                                                                            \
    XX(GROUP_BY_KEY, "groupByKey", NULL, NULL, STATE)                                                                  \
    XX(GROUP_BY, "groupBy", "KSTREAM-KEY-SELECT", "KTABLE-SELECT", STATE)                                              \
    XX(WINDOWED_BY, "windowedBy", NULL, NULL, WINDOW)                                                                  \
    XX(COUNT, "count", "KSTREAM-AGGREGATE", "KTABLE-AGGREGATE", STATE)                                                 \
    XX(REDUCE, "reduce", "KSTREAM-REDUCE", "KTABLE-REDUCE", STATE)                                                     \
    XX(AGGREGATE, "aggregate", "KSTREAM-AGGREGATE", "KTABLE-AGGREGATE", STATE)                                         \
    XX(SUPPRESS, "suppress", NULL, "KTABLE-SUPPRESS", STATE)                                                           \
    XX(JOIN, "join", "KSTREAM-JOIN", "KTABLE-JOIN", JOIN)                                                              \
    XX(LEFT_JOIN, "leftJoin", "KSTREAM-LEFTJOIN", "KTABLE-LEFTJOIN", JOIN)                                             \
    XX(OUTER_JOIN, "outerJoin", "KSTREAM-OUTERJOIN", "KTABLE-OUTERJOIN", JOIN)                                         \
    XX(TABLE_SOURCE, "table", NULL, "KTABLE-SOURCE", STATE)

#endif
