/*
 * load_aggregate.c: the loaders of the table and aggregation steps
 * (toTable, toStream, groupByKey, groupBy, windowedBy, count, reduce,
 * aggregate, suppress), each named by its row in schema.c. Their nodes run
 * in src/engine/ops_state.c, ops_aggregate.c and ops_window.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/* `changelog: false` on a store-making step. */
static int changelog_off(const ks_step_t *step)
{
    const ks_ynode_t *n = ks__topo_part(step, "changelog");
    return n && n->kind == KS_YAML_SCALAR && strcmp(n->value, "false") == 0;
}

int ks__topo_queryable(load_t *L, const ks_step_t *step)
{
    const ks_ynode_t *n = ks__topo_part(step, "queryable");
    int q = ks__topo_get_bool(L, n, "`queryable`", 0);
    if (q && !ks__topo_part(step, "store")) {
        ks__topo_err_at(L, n,
                        "`queryable` needs `store:`, the name queries use (Kafka Streams serves only stores named "
                        "with Materialized.as)");
        return 0;
    }
    return q;
}

/* windowedBy's argument: exactly one kind of window, its durations, and `advance` for hopping windows only. */
static void check_window(load_t *L, const ks_step_t *step, ks_window_spec_t *w)
{
    const char *kinds[] = {"tumbling", "hopping", "sliding", "session"};
    int n = 0;
    memset(w, 0, sizeof *w);
    w->pos = ks__topo_pos_of(L, step->arg);
    for (int i = 0; i < 4; i++) {
        const ks_ynode_t *d = ks__topo_part(step, kinds[i]);
        int64_t ms;
        if (d) {
            n++;
            if (ks__topo_get_duration(L, d, kinds[i], &ms) == 0) {
                w->kind = (ks_win_kind_t)(KS_WIN_TUMBLING + i);
                w->size = ms;
                w->advance = ms;
                if (ms <= 0)
                    ks__topo_err_at(L, d, "`%s` needs a duration above zero", kinds[i]);
            }
        }
    }
    const ks_ynode_t *adv = ks__topo_part(step, "advance"), *grace = ks__topo_part(step, "grace");
    int64_t ms;
    if (adv && ks__topo_get_duration(L, adv, "advance", &ms) == 0) {
        w->advance = ms;
        if (ms <= 0 || (w->kind == KS_WIN_HOPPING && ms > w->size))
            ks__topo_err_at(L, adv, "`advance` must be above zero and at most the window size");
    }
    if (grace && ks__topo_get_duration(L, grace, "grace", &ms) == 0)
        w->grace = ms;
    if (n != 1)
        ks__topo_err_at(L, step->arg, "`windowedBy` needs exactly one of tumbling, hopping, sliding, session");
    if (adv && !ks__topo_part(step, "hopping"))
        ks__topo_err_at(L, adv, "`advance` applies to hopping windows only");
    if (ks__topo_part(step, "hopping") && !adv)
        ks__topo_err_at(L, step->arg, "hopping windows need `advance`");
}

/* toTable: a KSTREAM-TOTABLE node and its store, after a repartition topic when the key changed. */
void ks__topo_load_to_table(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key;
    ks_proc_t *p;
    /*
     * KStreamImpl#toTable: the processor's name, then its store's (an
     * index is used even when the table is not materialised), then the
     * repartition topic `<name>-repartition` when the key changed
     * upstream, so each key lands in one partition of the table.
     */
    p = ks__topo_new_proc(L, KS_OP_TO_TABLE, ks_op_prefix(KS_OP_TO_TABLE, 0), step->name, key);
    const ks_ynode_t *st = ks__topo_part(step, "store");
    char *store = st ? ks_xstrdup(st->value) : ks__topo_gen_name(L, "KSTREAM-TOTABLE-STATE-STORE");
    if (s->key_changed) {
        ks__topo_insert_repartition(L, s, p->name, key);
        p->add_order = s->cur->add_order + 1; /* added to the topology after its repartition topic */
    }
    ks__topo_add_store(p, store);
    free(store);
    p->table = 1;
    p->state.store_optional = st == NULL; /* Materialized without a name: kept only if needed (prune_table_stores) */
    p->state.no_changelog = changelog_off(step);
    p->state.queryable = ks__topo_queryable(L, step);
    ks__topo_link(s->cur, p);
    s->cur = p;
    if (step->row->produces)
        s->kind = step->row->produces;
}

/* toStream: a table's changes as a stream. */
void ks__topo_load_to_stream(load_t *L, stream_t *s, const ks_step_t *step)
{
    ks_proc_t *p = ks__topo_new_proc(L, KS_OP_TO_STREAM, ks_op_prefix(KS_OP_TO_STREAM, 1), step->name, step->key);
    ks__topo_link(s->cur, p);
    s->cur = p;
    if (step->row->produces)
        s->kind = step->row->produces;
}

/* groupByKey: not a processor in Kafka Streams; the stream becomes grouped. */
void ks__topo_load_group_by_key(load_t *L, stream_t *s, const ks_step_t *step)
{
    s->kind = KS_KGROUPED_STREAM;
    s->group_name = step->name;
}

/* groupBy: a key-selecting node; the aggregation after it repartitions. */
void ks__topo_load_group_by(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key;
    ks_proc_t *p;
    ks_step_expr_t e = {0};
    if (ks__topo_compile_part(L, step, "keySelector", &e))
        return;
    int table = s->kind == KS_KTABLE;
    p = ks__topo_new_proc(L, KS_OP_GROUP_BY, ks_op_prefix(KS_OP_GROUP_BY, table), step->name, key);
    p->e = e;
    p->table = table;
    ks__topo_link(s->cur, p);
    s->cur = p;
    s->kind = table ? KS_KGROUPED_TABLE : KS_KGROUPED_STREAM;
    s->key_changed = 1;
    s->changer = p->name;
    s->group_name = step->name;
    s->key_window = KS_WIN_NONE;
}

/* windowedBy: makes no node; its windows are carried to the aggregation that follows. */
void ks__topo_load_windowed_by(load_t *L, stream_t *s, const ks_step_t *step)
{
    check_window(L, step, &s->window);
    s->kind = KS_KWINDOWED;
}

/* count, reduce and aggregate of a grouped stream, grouped table or windowed stream. */
void ks__topo_load_aggregation(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_step_row_t *row = step->row;
    const ks_ynode_t *key = step->key;
    ks_proc_t *p;
    int table = s->kind == KS_KGROUPED_TABLE, windowed = s->kind == KS_KWINDOWED;
    if (row->op == KS_OP_REDUCE) {
        if (table && (!ks__topo_part(step, "adder") || !ks__topo_part(step, "subtractor")))
            ks__topo_err_at(L, key, "`reduce` of a grouped table needs `adder` and `subtractor`");
        if (!table && !ks__topo_part(step, "reducer"))
            ks__topo_err_at(L, key, "`reduce` of a grouped stream needs `reducer`");
    }
    if (row->op == KS_OP_AGGREGATE) {
        if (table && (!ks__topo_part(step, "adder") || !ks__topo_part(step, "subtractor")))
            ks__topo_err_at(L, key, "`aggregate` of a grouped table needs `adder` and `subtractor`");
        if (!table && !ks__topo_part(step, "aggregator"))
            ks__topo_err_at(L, key, "`aggregate` of a grouped stream needs `aggregator`");
    }
    static const char *const parts_order[] = {"initializer", "aggregator", "reducer", "adder", "subtractor", "merger"};
    ks_step_expr_t exprs[6];
    int ne = 0;
    if (row->op == KS_OP_AGGREGATE && windowed && s->window.kind == KS_WIN_SESSION && !ks__topo_part(step, "merger"))
        ks__topo_err_at(
            L, key,
            "`aggregate` over session windows needs `merger` (combines two sessions' aggregates: `$agg` and `.`)");
    if (ks__topo_part(step, "merger") && !(windowed && s->window.kind == KS_WIN_SESSION))
        ks__topo_err_at(L, ks__topo_part(step, "merger"), "`merger` applies to session windows only");
    for (int i = 0; i < 6; i++) {
        if (ks__topo_part(step, parts_order[i])) {
            memset(&exprs[ne], 0, sizeof exprs[ne]);
            if (ks__topo_compile_part(L, step, parts_order[i], &exprs[ne]) == 0)
                ne++;
        }
    }
    const char *pre = ks_op_prefix(row->op, table);
    char spre[96];
    snprintf(spre, sizeof spre, "%s-STATE-STORE", pre);
    const ks_ynode_t *st = ks__topo_part(step, "store");
    char *store = st ? ks_xstrdup(st->value) : ks__topo_gen_name(L, spre);
    const char *base = s->group_name ? s->group_name : store;
    if (table) {
        /* KGroupedTableImpl#doAggregate: sink and source, then the aggregate (no null-key filter). */
        ks__topo_insert_table_repartition(L, s, base, step->name, key);
        p = ks__topo_new_proc(L, row->op, pre, step->name, key);
    } else {
        /* GroupedStreamAggregateBuilder#build names the aggregate before its repartition nodes. */
        p = ks__topo_new_proc(L, row->op, pre, step->name, key);
        if (s->key_changed) {
            ks__topo_insert_repartition(L, s, base, key);
            p->add_order = s->cur->add_order + 1; /* added to the topology after its repartition topic */
        }
    }
    ks__topo_add_store(p, store);
    free(store);
    for (int i = 0; i < ne; i++)
        ks__topo_add_extra(p, exprs[i]);
    p->table = table;
    if (windowed)
        p->state.window = s->window;
    p->state.no_changelog = changelog_off(step);
    p->state.queryable = ks__topo_queryable(L, step);
    ks__topo_link(s->cur, p);
    s->cur = p;
    s->kind = windowed ? KS_KWTABLE : KS_KTABLE;
    s->group_name = NULL;
    s->key_window = windowed ? s->window.kind : KS_WIN_NONE;
    s->value_kind = row->op == KS_OP_COUNT ? KS_NUMBER : 0;
    s->value_from = row->name;
}

/* suppress: holds back a table's updates in a buffer store. */
void ks__topo_load_suppress(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key, *arg = step->arg;
    ks_proc_t *p;
    const ks_ynode_t *uwc = ks__topo_part(step, "untilWindowCloses"), *utl = ks__topo_part(step, "untilTimeLimit");
    if (arg && arg->kind == KS_YAML_SCALAR && strcmp(arg->value, "untilWindowCloses") == 0)
        uwc = arg;
    if (!uwc && !utl)
        ks__topo_err_at(L, arg ? arg : key, "`suppress` needs `untilWindowCloses` or `{untilTimeLimit: DURATION}`");
    if (uwc && s->kind != KS_KWTABLE)
        ks__topo_err_at(L, uwc, "`untilWindowCloses` needs a windowed aggregation before it");
    int64_t ms = 0;
    if (utl)
        ks__topo_get_duration(L, utl, "untilTimeLimit", &ms);
    /* KTableImpl#suppress: a given name uses no index, and names the buffer `<name>-store`. */
    p = ks__topo_new_proc_burn(L, KS_OP_SUPPRESS, ks_op_prefix(KS_OP_SUPPRESS, 1), step->name, key, 0);
    p->suppress.final = uwc != NULL && !(uwc->kind == KS_YAML_SCALAR && strcmp(uwc->value, "false") == 0);
    p->suppress.limit = utl ? ms : 0;
    p->suppress.max = -1;
    const ks_ynode_t *mr = ks__topo_part(step, "maxRecords");
    if (mr && mr->kind == KS_YAML_SCALAR) {
        char *end;
        long long n = strtoll(mr->value, &end, 10);
        if (*end || n <= 0)
            ks__topo_err_at(L, mr, "`maxRecords` needs a positive number");
        else if (!utl)
            ks__topo_err_at(L, mr, "`maxRecords` applies to `untilTimeLimit`");
        p->suppress.max = n;
    }
    if (uwc && utl)
        ks__topo_err_at(L, utl, "`suppress` takes one of `untilWindowCloses` and `untilTimeLimit`");
    char *buffer = step->name ? NULL : ks__topo_gen_name(L, "KTABLE-SUPPRESS-STATE-STORE"); /* the suppression buffer */
    if (step->name) {
        ks_buf_t b = {0};
        ks_buf_printf(&b, "%s-store", step->name);
        buffer = ks_buf_steal(&b);
    }
    ks__topo_add_store(p, buffer);
    free(buffer);
    ks__topo_link(s->cur, p);
    s->cur = p;
    if (step->row->produces)
        s->kind = step->row->produces;
}
