/*
 * load_join_stream.c: the loader of a stream-stream join (`join`,
 * `leftJoin` or `outerJoin` with `stream:`), called by load_join.c once
 * the step is known to be one. It makes Kafka Streams' nodes as
 * KStreamImpl#doJoin and KStreamImplJoin#join make them, in their order:
 *
 *   <left>-repartition, <right>-repartition   when a side's key changed
 *   KSTREAM-WINDOWED (this side, then the other)   buffer each side
 *   KSTREAM-JOINTHIS / -OUTERTHIS                   left records join
 *   KSTREAM-JOINOTHER / -OUTEROTHER                 right records join
 *   KSTREAM-MERGE                                   both results
 *
 * Stores: KSTREAM-JOINTHIS-N-store (OUTERTHIS for outer joins) buffers the
 * left side, KSTREAM-JOINOTHER-M-store (OUTEROTHER for left and outer
 * joins) the right side, and left and outer joins share
 * KSTREAM-OUTERSHARED-N-store for their unmatched records. A step's
 * `name:` names the nodes and the stores as StreamJoined.as(name)
 * .withName(name) does: `<name>-this-windowed`, `<name>-this-join`
 * (`-outer-this-join`), `<name>-this-join-store`,
 * `<name>-left-shared-join-store` (`-outer-shared-join-store`), ...
 *
 * The window is JoinWindows.ofTimeDifferenceAndGrace(window, grace), or
 * ofTimeDifferenceWithNoGrace(window) without `grace:`; `before:` and
 * `after:` are JoinWindows#before and #after. The nodes run in
 * src/engine/ops_join_stream.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/* `<name><suffix>` (malloc'd). */
static char *suffixed(const char *name, const char *suffix)
{
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s%s", name, suffix);
    return ks_buf_steal(&b);
}

/* A node named `<name><suffix>` when the step is named, else `<prefix>-<index>`; the index is used either way. */
static ks_proc_t *named_proc(load_t *L, ks_op_t op, const char *prefix, const char *name, const char *suffix,
                             const ks_ynode_t *at)
{
    char *given = name ? suffixed(name, suffix) : NULL;
    ks_proc_t *p = ks__topo_new_proc(L, op, prefix, given, at);
    free(given);
    return p;
}

/* The window's durations: 0 with *before, *after and *grace set, or -1 after reporting errors. */
static int join_windows(load_t *L, const ks_step_t *step, int64_t *before, int64_t *after, int64_t *grace)
{
    const ks_ynode_t *win = ks__topo_part(step, "window"), *bn = ks__topo_part(step, "before"),
                     *an = ks__topo_part(step, "after"), *gn = ks__topo_part(step, "grace");
    int64_t w = 0;
    int bad = ks__topo_get_duration(L, win, "window", &w);
    *before = *after = w;
    *grace = 0;
    if (bn && ks__topo_get_duration(L, bn, "before", before))
        bad = -1;
    if (an && ks__topo_get_duration(L, an, "after", after))
        bad = -1;
    if (gn && ks__topo_get_duration(L, gn, "grace", grace))
        bad = -1;
    return bad ? -1 : 0;
}

void ks__topo_load_stream_join(load_t *L, stream_t *s, const ks_step_t *step, ks_step_expr_t joiner, pipe_state_t *op)
{
    const ks_step_row_t *row = step->row;
    const ks_ynode_t *key = step->key;
    const char *name = step->name;
    int left_outer = row->op != KS_OP_JOIN, right_outer = row->op == KS_OP_OUTER_JOIN;
    int64_t before, after, grace;
    char *this_gen = NULL, *other_gen = NULL, *this_store = NULL, *other_store = NULL, *shared_store = NULL;
    if (join_windows(L, step, &before, &after, &grace) || !op->end) {
        if (!op->end)
            ks__topo_err_at(L, ks__topo_part(step, "stream"), "pipeline `%s` ends in a split: it has no stream to join",
                            op->name);
        goto fail;
    }
    /* KStreamImpl#doJoin: a re-keyed side is repartitioned, `<name>-left` / `<name>-right` or after its last node. */
    if (s->key_changed) {
        char *base = name ? suffixed(name, "-left") : ks_xstrdup(s->cur->name);
        ks__topo_insert_repartition(L, s, base, key);
        free(base);
    }
    stream_t os = {0};
    os.cur = op->end;
    os.kind = KS_KSTREAM;
    if (op->key_changed) {
        char *base = name ? suffixed(name, "-right") : ks_xstrdup(op->end->name);
        os.key_changed = 1;
        ks__topo_insert_repartition(L, &os, base, key);
        free(base);
    }
    /* KStreamImplJoin#join: the names in the order it takes them from the counter. */
    ks_proc_t *tw = named_proc(L, row->op, "KSTREAM-WINDOWED", name, "-this-windowed", key);
    ks_proc_t *ow = named_proc(L, row->op, "KSTREAM-WINDOWED", name, "-other-windowed", key);
    const char *this_prefix = right_outer ? "KSTREAM-OUTERTHIS" : "KSTREAM-JOINTHIS";
    const char *other_prefix = left_outer ? "KSTREAM-OUTEROTHER" : "KSTREAM-JOINOTHER";
    const char *this_suffix = right_outer ? "-outer-this-join" : "-this-join";
    const char *other_suffix = left_outer ? "-outer-other-join" : "-other-join";
    this_gen = ks__topo_gen_name(L, this_prefix);
    other_gen = ks__topo_gen_name(L, other_prefix);
    char *given = name ? suffixed(name, this_suffix) : NULL;
    ks_proc_t *jt = ks__topo_new_proc_burn(L, row->op, this_prefix, given ? given : this_gen, key, 0);
    free(given);
    given = name ? suffixed(name, other_suffix) : NULL;
    ks_proc_t *jo = ks__topo_new_proc_burn(L, row->op, other_prefix, given ? given : other_gen, key, 0);
    free(given);
    ks_proc_t *merge = named_proc(L, KS_OP_MERGE, ks_op_prefix(KS_OP_MERGE, 0), name, "-merge", key);
    /* StreamJoinedStoreFactory and OuterStreamJoinStoreFactory: the stores' names. */
    this_store = name ? suffixed(name, right_outer ? "-outer-this-join-store" : "-this-join-store")
                      : suffixed(this_gen, "-store");
    other_store = name ? suffixed(name, left_outer ? "-outer-other-join-store" : "-other-join-store")
                       : suffixed(other_gen, "-store");
    if (left_outer) {
        if (name) {
            shared_store = suffixed(name, right_outer ? "-outer-shared-join-store" : "-left-shared-join-store");
        } else {
            ks_buf_t b = {0};
            ks_buf_printf(&b, "KSTREAM-OUTERSHARED-%s-store", this_gen + strlen(this_prefix) + 1);
            shared_store = ks_buf_steal(&b);
        }
    }
    ks_proc_t *const nodes[] = {tw, ow, jt, jo};
    for (int i = 0; i < 4; i++) {
        ks_proc_t *p = nodes[i];
        p->join.kind = KS_JOIN_STREAM_STREAM;
        p->join.before = before;
        p->join.after = after;
        p->join.grace = grace;
    }
    tw->join.role = ow->join.role = KS_JOIN_ROLE_WINDOWED;
    ks__topo_add_store(tw, this_store);
    ks__topo_add_store(ow, other_store);
    jt->join.role = KS_JOIN_ROLE_THIS;
    jt->join.outer = left_outer;
    jt->join.other_windowed = ow;
    jt->join.this_side = jt;
    ks__topo_add_store(jt, other_store);
    jo->join.role = KS_JOIN_ROLE_OTHER;
    jo->join.outer = right_outer;
    jo->join.other_windowed = tw;
    jo->join.this_side = jt;
    ks__topo_add_store(jo, this_store);
    if (shared_store) {
        jt->join.shared = jo->join.shared = 1;
        ks__topo_add_store(jt, shared_store);
        ks__topo_add_store(jo, shared_store);
    }
    /* The joiner is the THIS node's; the OTHER node calls it with the sides in their places. */
    jt->e = joiner;
    joiner.expr = NULL;
    ks__topo_link(s->cur, tw);
    ks__topo_link(os.cur, ow);
    ks__topo_link(tw, jt);
    ks__topo_link(ow, jo);
    ks__topo_link(jt, merge);
    ks__topo_link(jo, merge);
    s->cur = merge;
    s->value_kind = 0;
    s->value_from = NULL;
fail:
    if (joiner.expr) {
        ks_expr_free(joiner.expr);
        free(joiner.src);
    }
    free(this_gen);
    free(other_gen);
    free(this_store);
    free(other_store);
    free(shared_store);
}
