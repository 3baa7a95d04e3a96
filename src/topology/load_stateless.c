/*
 * load_stateless.c: the loaders of the stateless steps (filter, filterNot,
 * map, mapValues, flatMap, flatMapValues, selectKey, peek, print, split,
 * merge, repartition, to), each named by its row in schema.c. Their nodes run in
 * src/engine/ops_stateless.c; a filter, filterNot or mapValues of a table
 * runs in the state engine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/* filter, filterNot, map, mapValues, flatMap, flatMapValues, selectKey and peek: one expression each. */
void ks__topo_load_expression_step(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_step_row_t *row = step->row;
    const ks_ynode_t *key = step->key;
    ks_proc_t *p;
    const char *pre = ks_op_prefix(row->op, s->kind != KS_KSTREAM);
    ks_step_expr_t e = {0};
    if (ks__topo_compile_part(L, step, row->main, &e))
        return;
    p = ks__topo_new_proc(L, row->op, pre, step->name, key);
    p->e = e;
    p->table = s->kind != KS_KSTREAM;
    ks__topo_link(s->cur, p);
    s->cur = p;
    if (row->op == KS_OP_MAP || row->op == KS_OP_MAP_VALUES || row->op == KS_OP_FLAT_MAP ||
        row->op == KS_OP_FLAT_MAP_VALUES)
        s->value_kind = 0;
    if (row->op == KS_OP_MAP || row->op == KS_OP_FLAT_MAP || row->op == KS_OP_SELECT_KEY) {
        s->key_changed = 1;
        s->changer = p->name;
        s->key_window = KS_WIN_NONE;
    }
}

/* split: a branch processor and one node per named branch, each continuing with its own steps. */
void ks__topo_load_split(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key, *arg = step->arg;
    const char *pipe = step->pipe;
    ks_proc_t *p;
    if (!arg || arg->kind != KS_YAML_MAP || arg->n == 0) {
        ks__topo_err_at(L, arg ? arg : key,
                        "`split` needs a mapping of named branches, each with `when` and `steps`/`to`");
        return;
    }
    p = ks__topo_new_proc(L, KS_OP_SPLIT, ks_op_prefix(KS_OP_SPLIT, 0), NULL, key);
    ks__topo_link(s->cur, p);
    int has_default = 0;
    for (size_t i = 0; i < arg->n; i++) {
        const char *bname = arg->keys[i]->value;
        const ks_ynode_t *b = arg->items[i];
        int is_default = strcmp(bname, "default") == 0;
        if (has_default) {
            ks__topo_err_at(L, arg->keys[i], "branch `%s` comes after `default`, which takes every remaining record",
                            bname);
            continue;
        }
        if (b->kind != KS_YAML_MAP) {
            ks__topo_err_at(L, b, "branch `%s` must be a mapping with `when`, `steps` and `to`", bname);
            continue;
        }
        for (size_t j = 0; j < b->n; j++) {
            if (!ks_schema_key(ks_schema_branch, b->keys[j]->value)) {
                char *allowed = ks_schema_names(ks_schema_branch, NULL);
                ks__topo_err_at(L, b->keys[j], "unknown key `%s` in branch `%s`; allowed here: %s", b->keys[j]->value,
                                bname, allowed);
                free(allowed);
            }
        }
        ks_step_expr_t e = {0};
        const ks_ynode_t *when = ks_ynode_get(b, "when");
        if (is_default) {
            has_default = 1;
            if (when)
                ks__topo_err_at(L, when,
                                "the `default` branch takes every record no other branch took: it has no `when`");
        } else if (!when) {
            ks__topo_err_at(L, b, "branch `%s` needs `when` (only `default` may leave it out)", bname);
            continue;
        } else if (ks__topo_compile_expr(L, when, "`when`", &e)) {
            continue;
        }
        /* Kafka Streams names a branch `<split name><branch name>` and uses a counter index for it. */
        char bn[512];
        snprintf(bn, sizeof bn, "%s%s", p->name, bname);
        ks_proc_t *bp = ks__topo_new_proc(L, KS_OP_BRANCH, NULL, bn, arg->keys[i]);
        bp->branch.name = ks_xstrdup(bname);
        bp->branch.is_default = is_default;
        bp->e = e;
        ks__topo_link(p, bp);
        stream_t bs = *s;
        bs.cur = bp;
        bs.kind = KS_KSTREAM;
        bs.ended = 0;
        bs.group_name = NULL;
        const ks_ynode_t *bsteps = ks_ynode_get(b, "steps");
        if (bsteps)
            ks__topo_load_steps(L, &bs, bsteps, pipe);
        const ks_ynode_t *bto = ks_ynode_get(b, "to");
        if (bto)
            ks__topo_load_sink(L, &bs, bto, NULL, bto);
        if (!bsteps && !bto)
            ks__topo_err_at(L, b, "branch `%s` goes nowhere: give it `to` or `steps`", bname);
    }
    s->ended = 1;
    s->cur = NULL;
}

/* merge: another pipeline's stream joins this one in a merge node. */
void ks__topo_load_merge(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key, *arg = step->arg;
    const char *pipe = step->pipe;
    ks_proc_t *p;
    const ks_ynode_t *pn = ks__topo_part(step, "pipeline");
    if (!pn || pn->kind != KS_YAML_SCALAR) {
        ks__topo_err_at(L, arg, "`merge` needs the name of another pipeline");
        return;
    }
    pipe_state_t *other = ks__topo_find_pipe(L, pn->value);
    if (!other) {
        char *names = ks__topo_pipe_names(L);
        ks__topo_err_at(L, pn, "`merge`: no pipeline named `%s`; pipelines: %s", pn->value, names);
        free(names);
        return;
    }
    if (strcmp(other->name, pipe) == 0 || other->state == 1) {
        ks__topo_err_at(L, pn, "`merge` of `%s` makes a cycle of pipelines", pn->value);
        return;
    }
    ks__topo_load_pipeline(L, other);
    if (!other->end) {
        ks__topo_err_at(L, pn, "`merge`: pipeline `%s` ends in a `split` or failed to load; it has no single stream",
                        pn->value);
        return;
    }
    if (other->kind != KS_KSTREAM) {
        ks__topo_err_at(L, pn, "`merge`: pipeline `%s` is %s, not a stream", pn->value,
                        ks_stream_kind_name(other->kind));
        return;
    }
    p = ks__topo_new_proc(L, KS_OP_MERGE, ks_op_prefix(KS_OP_MERGE, 0), step->name, key);
    ks__topo_link(s->cur, p);
    ks__topo_link(other->end, p);
    s->cur = p;
    s->key_changed |= other->key_changed;
    if ((ks_win_kind_t)other->key_window != s->key_window)
        s->key_window = KS_WIN_NONE; /* a mix: only records are checked, at run time */
}

/* repartition: a sink, a null-key filter and a source around `<name>-repartition`. */
void ks__topo_load_repartition(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *key = step->key;
    char *base = step->name ? ks_xstrdup(step->name) : ks__topo_gen_name(L, ks_op_prefix(KS_OP_REPARTITION, 0));
    ks__topo_insert_repartition(L, s, base, key);
    free(base);
}

/* to: a sink in the middle of the steps; records continue downstream. */
/*
 * print: a KSTREAM-PRINTER node beside the stream, as Kafka Streams'
 * KStream#print; like `to`, the stream goes on from the step before it.
 */
void ks__topo_load_print(load_t *L, stream_t *s, const ks_step_t *step)
{
    const ks_ynode_t *label = ks__topo_part(step, "label");
    if (label && (label->kind != KS_YAML_SCALAR || !*label->value)) {
        ks__topo_err_at(L, label, "`label` of `print` needs a string");
        return;
    }
    ks_proc_t *p = ks__topo_new_proc(L, KS_OP_PRINT, ks_op_prefix(KS_OP_PRINT, 0), step->name, step->key);
    p->print.label = label ? ks_xstrdup(label->value) : NULL;
    ks__topo_link(s->cur, p);
}

void ks__topo_load_to(load_t *L, stream_t *s, const ks_step_t *step)
{
    ks__topo_load_sink(L, s, step->arg, step->name, step->key);
}
