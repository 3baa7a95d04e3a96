/*
 * load_join.c: the loader of join, leftJoin and outerJoin (with a table, a
 * global table or another pipeline's stream), named by their rows in
 * schema.c. The join nodes run in src/engine/ops_join.c; a stream-stream
 * join's nodes are made by load_join_stream.c, a foreign-key join's by
 * load_join_fk.c (they run in ops_join_stream.c and ops_join_fk.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/*
 * A join without `value:` joins with the schema's default, `$left +
 * $right`, compiled as if written at the step's name.
 */
static void default_joiner(load_t *L, const ks_step_t *step, ks_step_expr_t *out)
{
    static const char *const vars[] = KS_EXPR_STREAM_VARS;
    const char *src = ks_schema_key(step->row->parts, "value")->def;
    char *err = NULL;
    ks_expr_t *x = ks_expr_compile(src, vars, KS_EXPR_NSTREAM_VARS, &err);
    if (!x) {
        ks__topo_err_at(L, step->key, "the default joiner `%s` does not compile: %s", src, err);
        free(err);
        return;
    }
    out->src = ks_xstrdup(src);
    out->expr = x;
    out->pos = ks__topo_pos_of(L, step->key);
    out->part = "value";
}

/* See topology_int.h. */
int ks__topo_add_getter_stores(load_t *L, ks_proc_t *p, const ks_proc_t *table, const ks_ynode_t *at)
{
    switch (table->op) {
    case KS_OP_TABLE_SOURCE:
    case KS_OP_TO_TABLE:
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE:
        if (table->state.window.kind != KS_WIN_NONE)
            break;
        for (int i = 0; p && i < table->nstores; i++)
            ks__topo_add_store(p, table->stores[i]);
        return 0;
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP_VALUES:
        if (table->table && table->nparents == 1)
            return ks__topo_add_getter_stores(L, p, table->parents[0], at);
        break;
    case KS_OP_JOIN:
    case KS_OP_LEFT_JOIN:
    case KS_OP_OUTER_JOIN:
        if (table->join.role != KS_JOIN_ROLE_MERGE)
            break;
        if (table->nstores) {
            if (p)
                ks__topo_add_store(p, table->stores[0]);
            return 0;
        }
        if (ks__topo_add_getter_stores(L, p, table->join.left_node, at) ||
            ks__topo_add_getter_stores(L, p, table->join.table_node, at))
            return -1;
        return 0;
    default: break;
    }
    ks__topo_err_at(L, at,
                    "this table cannot be joined by key: a table-table join reads both sides by key, and the table "
                    "made by `%s` (%s) cannot be read that way; join before it, or after `toStream` and `toTable` "
                    "with `store:`",
                    ks_op_dsl_name(table->op), table->name);
    return -1;
}

/*
 * A table-table join (KTableImpl#doJoin): three nodes, named in Kafka
 * Streams' order. KTABLE-MERGE takes the first index, then KTABLE-JOINTHIS
 * (the left table's changes, reading the right table's stores) and
 * KTABLE-JOINOTHER (the right table's, reading the left's); `name:` names
 * them NAME, NAME-join-this and NAME-join-other. The merge is the result
 * table, materialised in `store:` when given (Materialized.as).
 */
static void table_table_join(load_t *L, stream_t *s, const ks_step_t *step, ks_proc_t *right, ks_step_expr_t joiner)
{
    const ks_ynode_t *key = step->key, *st = ks__topo_part(step, "store");
    ks_op_t op = step->row->op;
    ks_proc_t *left = s->cur;
    ks_buf_t b = {0};
    ks_proc_t *merge = ks__topo_new_proc(L, op, "KTABLE-MERGE", step->name, key);
    if (step->name)
        ks_buf_printf(&b, "%s-join-this", step->name);
    ks_proc_t *jthis = ks__topo_new_proc(L, op, "KTABLE-JOINTHIS", step->name ? b.data : NULL, key);
    b.len = 0;
    if (step->name)
        ks_buf_printf(&b, "%s-join-other", step->name);
    ks_proc_t *jother = ks__topo_new_proc(L, op, "KTABLE-JOINOTHER", step->name ? b.data : NULL, key);
    ks_buf_free(&b);
    ks_proc_t *roles[3] = {jthis, jother, merge};
    for (int i = 0; i < 3; i++) {
        ks_proc_t *q = roles[i];
        q->table = 1;
        q->join.kind = KS_JOIN_TABLE_TABLE;
        q->join.role = i == 0 ? KS_JOIN_ROLE_THIS : i == 1 ? KS_JOIN_ROLE_OTHER : KS_JOIN_ROLE_MERGE;
        q->join.table = ks_xstrdup(ks__topo_part(step, "table")->value);
        q->join.left_node = left;
        q->join.table_node = right;
    }
    /* JOINTHIS owns the joiner; JOINOTHER and the merge's value getter run it from there (join.peer). */
    jthis->e = joiner;
    for (int i = 0; i < 3; i++)
        roles[i]->join.peer = jthis;
    /* JOINTHIS reads the right table's stores, JOINOTHER the left's (KTableKTableJoinNode#writeToTopology). */
    ks__topo_add_getter_stores(L, jthis, right, ks__topo_part(step, "table"));
    ks__topo_add_getter_stores(L, jother, left, key);
    merge->state.queryable = ks__topo_queryable(L, step);
    if (st) {
        ks__topo_add_store(merge, st->value);
        const ks_ynode_t *cl = ks__topo_part(step, "changelog");
        merge->state.no_changelog = cl && cl->kind == KS_YAML_SCALAR && strcmp(cl->value, "false") == 0;
    }
    merge->add_order = jother->add_order + 1; /* added to the topology after the two join nodes */
    ks__topo_link(left, jthis);
    ks__topo_link(right, jother);
    ks__topo_link(jthis, merge);
    ks__topo_link(jother, merge);
    s->cur = merge;
}

/* join, leftJoin and outerJoin. */
void ks__topo_load_join(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_step_row_t *row = step->row;
    const ks_ynode_t *key = step->key, *arg = step->arg;
    const char *pipe = step->pipe;
    ks_proc_t *p;
    const ks_ynode_t *tn = ks__topo_part(step, "table"), *gn = ks__topo_part(step, "globalTable"),
                     *sn = ks__topo_part(step, "stream"), *fk = ks__topo_part(step, "foreignKey"),
                     *win = ks__topo_part(step, "window");
    int nkinds = !!tn + !!gn + !!sn;
    if (nkinds != 1) {
        ks__topo_err_at(L, arg ? arg : key, "`%s` needs exactly one of `table`, `globalTable` or `stream`", row->name);
        return;
    }
    ks_step_expr_t joiner = {0}, k = {0};
    ks_proc_t *other = NULL;
    pipe_state_t *other_pipe = NULL;
    if (sn) {
        if (s->kind != KS_KSTREAM) {
            ks__topo_err_at(L, sn, "a `stream:` join needs a stream on the left, not %s", ks_stream_kind_name(s->kind));
            return;
        }
        if (!win) {
            ks__topo_err_at(L, sn,
                            "a stream-stream join needs `window:` (the time difference allowed between the records)");
            return;
        }
        pipe_state_t *op = ks__topo_find_pipe(L, sn->value);
        if (!op) {
            ks__topo_err_at(L, sn, "`%s`: no pipeline named `%s` to join with", row->name, sn->value);
            return;
        }
        if (op->state == 1 || strcmp(op->name, pipe) == 0) {
            ks__topo_err_at(L, sn, "`%s` with `%s` makes a cycle of pipelines", row->name, sn->value);
            return;
        }
        ks__topo_load_pipeline(L, op);
        other_pipe = op;
    } else {
        const char *tname = (tn ? tn : gn)->value;
        const ks_table_conf_t *tc = ks__topo_find_table(L->t, tname);
        if (!tc) {
            char *names = ks__topo_table_names(L);
            if (*names)
                ks__topo_err_at(L, tn ? tn : gn, "`%s`: no table named `%s`; tables: %s", row->name, tname, names);
            else
                ks__topo_err_at(L, tn ? tn : gn, "`%s`: no table named `%s`; declare it under `tables:`", row->name,
                                tname);
            free(names);
            return;
        }
        if (gn && !tc->global)
            ks__topo_err_at(L, gn, "`globalTable: %s` names a table that is not `global: true`; use `table:`", tname);
        if (tn && tc->global)
            ks__topo_err_at(L, tn, "`table: %s` names a global table; use `globalTable:` with a `key:`", tname);
        if (gn && !ks__topo_part(step, "key"))
            ks__topo_err_at(L, gn, "a global-table join needs `key:`, the lookup key computed from the record");
        if (gn && s->kind != KS_KSTREAM)
            ks__topo_err_at(L, gn, "a global-table join needs a stream on the left");
        if (row->op == KS_OP_OUTER_JOIN && s->kind == KS_KSTREAM)
            ks__topo_err_at(L, key, "`outerJoin` of a stream needs a `stream:` (stream-table joins are inner or left)");
        static const char *const stream_only[] = {"window", "before", "after", "grace"};
        for (size_t i = 0; i < sizeof stream_only / sizeof stream_only[0]; i++) {
            const ks_ynode_t *n = ks__topo_part(step, stream_only[i]);
            if (n)
                ks__topo_err_at(L, n, "`%s` applies to stream-stream joins only", stream_only[i]);
        }
        if (ks__topo_part(step, "store") && (s->kind != KS_KTABLE || gn))
            ks__topo_err_at(L, ks__topo_part(step, "store"),
                            "`store` materialises the result of a table-table join; a stream join's result is a "
                            "stream");
        if (ks__topo_part(step, "queryable") && (s->kind != KS_KTABLE || gn))
            ks__topo_err_at(L, ks__topo_part(step, "queryable"),
                            "`queryable` serves the `store` of a table-table join; a stream join's result is a stream");
        if (ks__topo_part(step, "changelog") && !ks__topo_part(step, "store"))
            ks__topo_err_at(L, ks__topo_part(step, "changelog"), "`changelog` applies to the join's `store`");
        other = ks__topo_table_proc(L, tname);
    }
    /* A table on the left makes a KTABLE- node (only table joins get this far with one). */
    const char *pre = ks_op_prefix(row->op, s->kind == KS_KTABLE);
    /* KStreamImpl#globalTableJoin names both kinds KSTREAM-LEFTJOIN. */
    if (gn)
        pre = ks_op_prefix(KS_OP_LEFT_JOIN, 0);
    /* Expressions are compiled once the join is known to be well-formed, so no early return leaks them. */
    if (ks__topo_part(step, "value"))
        ks__topo_compile_part(L, step, "value", &joiner);
    else
        default_joiner(L, step, &joiner);
    /* A stream-stream join is several nodes (load_join_stream.c). */
    if (sn && ks__topo_part(step, "queryable"))
        ks__topo_err_at(L, ks__topo_part(step, "queryable"),
                        "a stream-stream join's stores are its join buffers, not queryable; `queryable` applies to "
                        "table-table joins");
    if (sn && (ks__topo_part(step, "store") || ks__topo_part(step, "changelog")))
        ks__topo_err_at(L,
                        ks__topo_part(step, "store") ? ks__topo_part(step, "store") : ks__topo_part(step, "changelog"),
                        "a stream-stream join's stores are named by its `name:`; `store` and `changelog` apply to "
                        "table-table joins");
    if (sn) {
        ks__topo_load_stream_join(L, s, step, joiner, other_pipe);
        return;
    }
    if (!sn && ks__topo_part(step, "key"))
        ks__topo_compile_part(L, step, "key", &k);
    else if (!sn && fk)
        ks__topo_compile_part(L, step, "foreignKey", &k);
    if (tn && !fk && s->kind == KS_KTABLE) {
        if (other) {
            table_table_join(L, s, step, other, joiner);
        } else { /* not reached: every `tables:` entry has its table source */
            free(joiner.src);
            ks_expr_free(joiner.expr);
        }
        return;
    }
    if (fk) {
        if (!tn)
            ks__topo_err_at(L, fk, "`foreignKey` joins a table with another `table:`");
        ks__topo_load_join_fk(L, s, step, tn ? other : NULL, &joiner, &k);
        return;
    }
    /*
     * KStreamImpl#join repartitions a re-keyed stream through
     * `<name>-repartition`, named after the join's `name:` (Joined.as) or
     * else after the stream's last node.
     */
    if (s->key_changed && !gn && !fk)
        ks__topo_insert_repartition(L, s, step->name ? step->name : s->cur->name, key);
    p = ks__topo_new_proc(L, row->op, pre, step->name, key);
    p->e = joiner;
    if (k.expr)
        ks__topo_add_extra(p, k);
    p->join.kind = sn                     ? KS_JOIN_STREAM_STREAM
                   : gn                   ? KS_JOIN_STREAM_GLOBAL
                   : fk                   ? KS_JOIN_FOREIGN_KEY
                   : s->kind == KS_KTABLE ? KS_JOIN_TABLE_TABLE
                                          : KS_JOIN_STREAM_TABLE;
    if (tn || gn) {
        const ks_table_conf_t *tc = ks__topo_find_table(L->t, (tn ? tn : gn)->value);
        if (tc && !tc->global)
            ks__topo_add_store(p, tc->store);
        p->join.table = ks_xstrdup((tn ? tn : gn)->value);
        p->join.table_node = other;
    }
    ks__topo_link(s->cur, p);
    if (other && sn)
        ks__topo_link(other, p);
    s->cur = p;
}
