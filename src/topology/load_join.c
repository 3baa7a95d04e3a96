/*
 * load_join.c: the loader of join, leftJoin and outerJoin (with a table, a
 * global table or another pipeline's stream), named by their rows in
 * schema.c. The join nodes run in src/engine/ops_join.c; foreign-key joins
 * are loaded by load_join_fk.c and run in src/engine/ops_join_fk.c.
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
        int64_t ms;
        ks__topo_get_duration(L, win, "window", &ms);
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
        other = op->end;
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
        if (win)
            ks__topo_err_at(L, win, "`window` applies to stream-stream joins only");
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
    if (!sn && ks__topo_part(step, "key"))
        ks__topo_compile_part(L, step, "key", &k);
    else if (!sn && fk)
        ks__topo_compile_part(L, step, "foreignKey", &k);
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
