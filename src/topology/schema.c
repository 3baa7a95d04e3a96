/*
 * schema.c: the rows of the topology language. See schema.h.
 */
#include "schema.h"

#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "topology_int.h"

const ks_key_row_t ks_schema_top[] = {
    {"application", KT_STRING, 1, NULL, "application.id: the consumer group and the prefix of internal topics"},
    {"description", KT_STRING, 0, NULL, "what the service does"},
    {"config", KT_ANYMAP, 0, NULL, "runtime settings overriding the environment file (-E)"},
    {"topics", KT_ANYMAP, 0, NULL, "serdes and partition counts per topic; `defaults` applies to the rest"},
    {"tables", KT_ANYMAP, 0, NULL, "KTables and GlobalKTables materialised from topics"},
    {"pipelines", KT_ANYMAP, 1, NULL, "named streams: a source, steps, and sinks"},
    {NULL, 0, 0, NULL, NULL},
};

const ks_key_row_t ks_schema_topic[] = {
    {"key", KT_SERDE, 0, "string", "serde of record keys"},
    {"value", KT_SERDE, 0, "json", "serde of record values"},
    {"partitions", KT_INT, 0, NULL, "partition count, when kstreamd creates the topic"},
    {NULL, 0, 0, NULL, NULL},
};

const ks_key_row_t ks_schema_table[] = {
    {"topic", KT_STRING, 1, NULL, "the topic the table is read from"},
    {"queryable", KT_BOOL, 0, "false", "serve the table's store over HTTP (GET /v1/stores/STORE/...)"},
    {"global", KT_BOOL, 0, "false", "a GlobalKTable: every instance holds all partitions"},
    {"store", KT_STRING, 0, "the table's name", "the state store's name"},
    {NULL, 0, 0, NULL, NULL},
};

const ks_key_row_t ks_schema_pipeline[] = {
    {"from", KT_SOURCE, 1, NULL,
     "a topic, a list of topics, a table, `{pipeline: NAME}` (another pipeline's stream), or `{generate: ...}` "
     "(made-up records)"},
    {"steps", KT_STEPS, 0, NULL, "the operators, in order"},
    {"to", KT_SINK, 0, NULL, "the topic the result is written to"},
    {"description", KT_STRING, 0, NULL, "what the pipeline does"},
    {NULL, 0, 0, NULL, NULL},
};

const ks_key_row_t ks_schema_branch[] = {
    {"when", KT_EXPR, 0, NULL, "predicate selecting the branch's records (the `default` branch has none)"},
    {"steps", KT_STEPS, 0, NULL, "the branch's own operators"},
    {"to", KT_SINK, 0, NULL, "where the branch's records go"},
    {NULL, 0, 0, NULL, NULL},
};

/*
 * `from: {generate: ...}`: a source that makes records up, for demos and
 * load. Its expressions see $i (the record number from 0), $rand (a
 * pseudo-random number in [0,1), one per record, from the seed), $seed and
 * $now (ms); the stream variables are null except $timestamp (the record's,
 * in `key` and `value`) and $topic (`generate:<pipeline>`).
 */
const ks_key_row_t ks_schema_generate[] = {
    {"value", KT_EXPR, 1, NULL, "the record's value (input null)"},
    {"key", KT_EXPR, 0, "null", "the record's key (input: the value made by `value`)"},
    {"timestamp", KT_EXPR, 0, "$now", "the record's timestamp in ms"},
    {"rate", KT_STRING, 0, "0", "records per time unit: `200/s`, `10/m`, `5/h`; 0: as fast as possible"},
    {"count", KT_INT, 0, NULL, "total records to make; unbounded when absent"},
    {"seed", KT_INT, 0, "0", "seed of $rand: the same seed makes the same records"},
    {NULL, 0, 0, NULL, NULL},
};

static const ks_key_row_t p_name_only[] = {{NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_predicate[] = {{"predicate", KT_EXPR, 1, NULL, "keeps records for which it is true"},
                                           {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_predicate_not[] = {{"predicate", KT_EXPR, 1, NULL, "keeps records for which it is false"},
                                               {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_mapper[] = {{"mapper", KT_EXPR, 1, NULL, "the expression"}, {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_key_selector[] = {{"keySelector", KT_EXPR, 1, NULL, "yields the new key"},
                                              {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_action[] = {{"action", KT_EXPR, 1, NULL, "its outputs are logged; records pass unchanged"},
                                        {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_print[] = {
    {"label", KT_STRING, 0, NULL, "the label in front of each line; default the processor's name"},
    {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_merge[] = {{"pipeline", KT_NAME, 1, NULL, "the pipeline whose stream is merged in"},
                                       {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_repartition[] = {{"partitions", KT_INT, 0, NULL, "partitions of the repartition topic"},
                                             {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_to[] = {{"topic", KT_STRING, 0, NULL, "the topic"},
                                    {"dynamic", KT_EXPR, 0, NULL, "yields the topic name per record"},
                                    {NULL, 0, 0, NULL, NULL}};
#define CHANGELOG_ROW                                                                                                  \
    {                                                                                                                  \
        "changelog", KT_BOOL, 0, "true", "write the store's changes to its changelog topic (restore needs it)"         \
    }
#define QUERYABLE_ROW                                                                                                  \
    {                                                                                                                  \
        "queryable", KT_BOOL, 0, "false", "serve the store over HTTP (GET /v1/stores/STORE/...); needs `store`"        \
    }
static const ks_key_row_t p_table[] = {
    {"store", KT_STRING, 0, NULL,
     "the state store's name; without it the table keeps a store only if a groupBy, suppress or join below needs one"},
    CHANGELOG_ROW,
    QUERYABLE_ROW,
    {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_group_by[] = {{"keySelector", KT_EXPR, 1, NULL, "yields the grouping key"},
                                          {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_windowed[] = {
    {"tumbling", KT_DURATION, 0, NULL, "fixed, non-overlapping windows of this size"},
    {"hopping", KT_DURATION, 0, NULL, "overlapping windows of this size, one starting every `advance`"},
    {"advance", KT_DURATION, 0, NULL, "with `hopping`: the time between the starts of two windows"},
    {"sliding", KT_DURATION, 0, NULL, "windows of at most this time difference between records"},
    {"session", KT_DURATION, 0, NULL, "sessions closed after this inactivity gap"},
    {"grace", KT_DURATION, 0, "0ms", "how long late records are still accepted"},
    {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_count[] = {
    {"store", KT_STRING, 0, NULL, "the state store's name"}, CHANGELOG_ROW, QUERYABLE_ROW, {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_reduce[] = {{"reducer", KT_EXPR, 0, NULL, "combines $agg and the record (streams)"},
                                        {"adder", KT_EXPR, 0, NULL, "adds a new value (tables)"},
                                        {"subtractor", KT_EXPR, 0, NULL, "removes an old value (tables)"},
                                        {"store", KT_STRING, 0, NULL, "the state store's name"},
                                        CHANGELOG_ROW,
                                        QUERYABLE_ROW,
                                        {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_aggregate[] = {
    {"initializer", KT_EXPR, 1, NULL, "the first aggregate"},
    {"aggregator", KT_EXPR, 0, NULL, "new aggregate from $agg and the record"},
    {"adder", KT_EXPR, 0, NULL, "tables: adds a new value"},
    {"subtractor", KT_EXPR, 0, NULL, "tables: removes an old value"},
    {"merger", KT_EXPR, 0, NULL, "session windows: combines two aggregates ($agg and .)"},
    {"store", KT_STRING, 0, NULL, "the state store's name"},
    CHANGELOG_ROW,
    QUERYABLE_ROW,
    {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_suppress[] = {
    {"untilWindowCloses", KT_BOOL, 0, NULL, "emit each window's final result once"},
    {"untilTimeLimit", KT_DURATION, 0, NULL, "emit a key's latest update at most this often"},
    {"maxRecords", KT_INT, 0, NULL, "buffer bound for untilTimeLimit"},
    {NULL, 0, 0, NULL, NULL}};
static const ks_key_row_t p_join[] = {
    {"table", KT_NAME, 0, NULL, "join with a table (key lookup)"},
    {"globalTable", KT_NAME, 0, NULL, "join with a global table (lookup by `key`)"},
    {"stream", KT_NAME, 0, NULL, "join with another pipeline's stream, within `window`"},
    {"foreignKey", KT_EXPR, 0, NULL, "table-table join on a foreign key taken from each row (`.`, $key)"},
    {"key", KT_EXPR, 0, NULL, "global tables: the lookup key from the record"},
    {"window", KT_DURATION, 0, NULL, "stream-stream joins: the time difference allowed, before and after"},
    {"before", KT_DURATION, 0, NULL,
     "stream-stream joins: how far before a record the window reaches (default `window`)"},
    {"after", KT_DURATION, 0, NULL,
     "stream-stream joins: how far after a record the window reaches (default `window`)"},
    {"grace", KT_DURATION, 0, NULL, "stream-stream joins: grace after the window (default 0)"},
    {"value", KT_EXPR, 0, "$left + $right", "the joiner: the output value from $left and $right"},
    {"store", KT_STRING, 0, NULL, "table-table and foreign-key joins: materialise the result in this store"},
    CHANGELOG_ROW,
    QUERYABLE_ROW,
    {NULL, 0, 0, NULL, NULL}};

#define STREAMS (KS_KSTREAM)
#define TABLES (KS_KTABLE | KS_KWTABLE)
#define GROUPED (KS_KGROUPED_STREAM | KS_KGROUPED_TABLE | KS_KWINDOWED)

const ks_step_row_t ks_schema_steps[] = {
    {"filter", KS_OP_FILTER, "predicate", 0, STREAMS | TABLES, 0, p_predicate, "keeps records whose predicate is true",
     ks__topo_load_expression_step},
    {"filterNot", KS_OP_FILTER_NOT, "predicate", 0, STREAMS | TABLES, 0, p_predicate_not,
     "drops records whose predicate is true", ks__topo_load_expression_step},
    {"map", KS_OP_MAP, "mapper", 0, STREAMS, 0, p_mapper, "new key and value: the expression yields {key, value}",
     ks__topo_load_expression_step},
    {"mapValues", KS_OP_MAP_VALUES, "mapper", 0, STREAMS | TABLES, 0, p_mapper, "new value; the key is kept",
     ks__topo_load_expression_step},
    {"flatMap", KS_OP_FLAT_MAP, "mapper", 0, STREAMS, 0, p_mapper, "one record per output {key, value}",
     ks__topo_load_expression_step},
    {"flatMapValues", KS_OP_FLAT_MAP_VALUES, "mapper", 0, STREAMS, 0, p_mapper, "one record per output value",
     ks__topo_load_expression_step},
    {"selectKey", KS_OP_SELECT_KEY, "keySelector", 0, STREAMS, 0, p_key_selector, "new key; the value is kept",
     ks__topo_load_expression_step},
    {"peek", KS_OP_PEEK, "action", 0, STREAMS, 0, p_action, "logs the expression's outputs; records pass unchanged",
     ks__topo_load_expression_step},
    {"print", KS_OP_PRINT, "label", 1, STREAMS, 0, p_print,
     "logs each record as `[label]: key, value` (Kafka Streams' KStream#print); records pass on", ks__topo_load_print},
    {"split", KS_OP_SPLIT, NULL, 0, STREAMS, 0, NULL, "named branches: the first whose `when` holds takes the record",
     ks__topo_load_split},
    {"merge", KS_OP_MERGE, "pipeline", 0, STREAMS, 0, p_merge, "adds another pipeline's records to this stream",
     ks__topo_load_merge},
    {"repartition", KS_OP_REPARTITION, NULL, 1, STREAMS, 0, p_repartition, "writes through a repartition topic",
     ks__topo_load_repartition},
    {"to", KS_OP_SINK, "topic", 0, STREAMS, 0, p_to, "writes to a topic; records continue downstream",
     ks__topo_load_to},
    {"toTable", KS_OP_TO_TABLE, NULL, 1, STREAMS, KS_KTABLE, p_table,
     "the stream as a table, through a repartition topic after a key change", ks__topo_load_to_table},
    {"toStream", KS_OP_TO_STREAM, NULL, 1, TABLES, KS_KSTREAM, p_name_only, "a table's changes as a stream",
     ks__topo_load_to_stream},
    {"groupByKey", KS_OP_GROUP_BY_KEY, NULL, 1, STREAMS, KS_KGROUPED_STREAM, p_name_only, "groups by the current key",
     ks__topo_load_group_by_key},
    {"groupBy", KS_OP_GROUP_BY, "keySelector", 0, STREAMS | KS_KTABLE, KS_KGROUPED_STREAM, p_group_by,
     "groups by a new key (through a repartition topic)", ks__topo_load_group_by},
    {"windowedBy", KS_OP_WINDOWED_BY, NULL, 0, KS_KGROUPED_STREAM, KS_KWINDOWED, p_windowed,
     "tumbling, hopping, sliding or session windows, with grace", ks__topo_load_windowed_by},
    {"count", KS_OP_COUNT, NULL, 1, GROUPED, KS_KTABLE, p_count, "counts records per key (and window)",
     ks__topo_load_aggregation},
    {"reduce", KS_OP_REDUCE, "reducer", 0, GROUPED, KS_KTABLE, p_reduce, "combines values per key",
     ks__topo_load_aggregation},
    {"aggregate", KS_OP_AGGREGATE, NULL, 0, GROUPED, KS_KTABLE, p_aggregate, "folds values into an aggregate per key",
     ks__topo_load_aggregation},
    {"suppress", KS_OP_SUPPRESS, NULL, 0, TABLES, 0, p_suppress, "holds back a table's updates",
     ks__topo_load_suppress},
    {"join", KS_OP_JOIN, NULL, 0, STREAMS | KS_KTABLE, 0, p_join, "inner join with a table, global table or stream",
     ks__topo_load_join},
    {"leftJoin", KS_OP_LEFT_JOIN, NULL, 0, STREAMS | KS_KTABLE, 0, p_join,
     "left join: unmatched records get $right null", ks__topo_load_join},
    {"outerJoin", KS_OP_OUTER_JOIN, NULL, 0, STREAMS | KS_KTABLE, 0, p_join, "outer join of streams or tables",
     ks__topo_load_join},
    {NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const ks_step_row_t *ks_schema_step(const char *name)
{
    for (const ks_step_row_t *r = ks_schema_steps; r->name; r++)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

const ks_key_row_t *ks_schema_key(const ks_key_row_t *rows, const char *name)
{
    for (; rows && rows->name; rows++)
        if (strcmp(rows->name, name) == 0)
            return rows;
    return NULL;
}

char *ks_schema_names(const ks_key_row_t *rows, const char *extra)
{
    ks_buf_t b = {0};
    for (; rows && rows->name; rows++)
        ks_buf_printf(&b, "%s%s", b.len ? ", " : "", rows->name);
    if (extra)
        ks_buf_printf(&b, "%s%s", b.len ? ", " : "", extra);
    return ks_buf_steal(&b);
}

char *ks_schema_step_names(void)
{
    ks_buf_t b = {0};
    for (const ks_step_row_t *r = ks_schema_steps; r->name; r++)
        ks_buf_printf(&b, "%s%s", b.len ? ", " : "", r->name);
    return ks_buf_steal(&b);
}

const char *ks_stream_kind_name(int kind)
{
    switch (kind) {
    case KS_KSTREAM: return "a stream (KStream)";
    case KS_KTABLE: return "a table (KTable)";
    case KS_KGROUPED_STREAM: return "a grouped stream (KGroupedStream)";
    case KS_KGROUPED_TABLE: return "a grouped table (KGroupedTable)";
    case KS_KWINDOWED: return "a windowed stream (TimeWindowedKStream)";
    case KS_KWTABLE: return "a windowed table (KTable<Windowed<K>, V>)";
    default: return "nothing";
    }
}

static const char *type_name(ks_ktype_t t)
{
    switch (t) {
    case KT_STRING: return "string";
    case KT_BOOL: return "boolean";
    case KT_INT: return "integer";
    case KT_DURATION: return "duration";
    case KT_EXPR: return "jq expression";
    case KT_SERDE: return "serde";
    case KT_MAP:
    case KT_ANYMAP: return "mapping";
    case KT_STEPS: return "list of steps";
    case KT_SOURCE: return "topic, [topics] or table";
    case KT_SINK: return "topic or mapping";
    case KT_BRANCHES: return "mapping of branches";
    case KT_NAME: return "name";
    case KT_WINDOW: return "window";
    case KT_SUPPRESS: return "suppression";
    }
    return "?";
}

/*
 * A description as roff text: a backslash is written `\e`, and a line that
 * would start with `.` or `'` (a request to troff) gets `\&` in front.
 */
static const char *roff_text(const char *s)
{
    static char buf[2048];
    size_t n = 0;
    if (*s == '.' || *s == '\'')
        n += (size_t)snprintf(buf, sizeof buf, "\\&");
    for (; *s && n + 3 < sizeof buf; s++) {
        if (*s == '\\')
            buf[n++] = '\\', buf[n++] = 'e';
        else
            buf[n++] = *s;
    }
    buf[n] = 0;
    return buf;
}

static void print_rows(FILE *f, const char *title, const ks_key_row_t *rows, int roff)
{
    fprintf(f, roff ? ".SS %s\n" : "\n%s\n", title);
    for (; rows && rows->name; rows++) {
        if (roff)
            fprintf(f, ".TP\n.BR %s \" (%s%s%s%s)\"\n%s.\n", rows->name, type_name(rows->type),
                    rows->required ? ", required" : "", rows->def ? ", default " : "", rows->def ? rows->def : "",
                    roff_text(rows->doc));
        else
            fprintf(f, "  %-14s %-24s %s%s%s%s\n", rows->name, type_name(rows->type), rows->doc,
                    rows->required ? " (required)" : "", rows->def ? "; default " : "", rows->def ? rows->def : "");
    }
}

void ks_schema_print_reference(FILE *f, int roff)
{
    print_rows(f, "Top-level keys", ks_schema_top, roff);
    print_rows(f, "Topic keys (topics: NAME: ...)", ks_schema_topic, roff);
    print_rows(f, "Table keys (tables: NAME: ...)", ks_schema_table, roff);
    print_rows(f, "Pipeline keys (pipelines: NAME: ...)", ks_schema_pipeline, roff);
    print_rows(f, "Branch keys (split: NAME: ...)", ks_schema_branch, roff);
    print_rows(f, "Generate keys (from: {generate: ...})", ks_schema_generate, roff);
    fprintf(f, roff ? ".SS Steps\n" : "\nSteps\n");
    for (const ks_step_row_t *r = ks_schema_steps; r->name; r++) {
        if (roff) {
            fprintf(f, ".TP\n.B %s\n%s.", r->name, roff_text(r->doc));
            if (r->main)
                fprintf(f, " Written `%s: EXPR` or with named parts.", r->name);
            fprintf(f, "\n");
        } else {
            fprintf(f, "  %-14s %s\n", r->name, r->doc);
        }
        for (const ks_key_row_t *p = r->parts; p && p->name; p++) {
            if (roff)
                fprintf(f, ".RS\n.TP\n.BR %s \" (%s)\"\n%s.\n.RE\n", p->name, type_name(p->type), roff_text(p->doc));
            else
                fprintf(f, "      %-14s %-20s %s\n", p->name, type_name(p->type), p->doc);
        }
    }
}
