/*
 * load_join_fk.c: the loader of a foreign-key table-table join (`join` or
 * `leftJoin` with `table:` and `foreignKey:` on a table), called by
 * load_join.c. It builds the nodes, stores and internal topics Kafka
 * Streams' KTableImpl#doJoinOnForeignKey builds, with its names:
 *
 *   left table --> SUBSCRIPTION-REGISTRATION --> sink: registration topic
 *   registration topic --> SUBSCRIPTION-PROCESSOR (receive; subscription
 *       store) --> SUBSCRIPTION-PROCESSOR (join-foreign; right table's
 *       store) --> sink: response topic
 *   right table --> SUBSCRIPTION-PROCESSOR (foreign-join; subscription
 *       store) --> the same sink
 *   response topic --> SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR (left
 *       table's store) --> FK-JOIN-OUTPUT, the result table
 *
 * The two internal topics split the graph into the left table's
 * sub-topology and the right table's. With `name:` (TableJoined.as) the
 * nodes, topics and store are named `<name>-subscription-registration-...`
 * and so on; each name still uses its index of the name counter, as
 * NamedInternal#suffixWithOrElseGet does. The nodes run in
 * src/engine/ops_join_fk.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/*
 * A node's or topic's name: `<name><suffix>` when the join is named (its
 * index is used all the same), else `<prefix>-<index>` (malloc'd).
 */
static char *fk_name(load_t *L, const char *named, const char *suffix, const char *prefix)
{
    if (!named)
        return ks__topo_gen_name(L, prefix);
    L->t->name_counter++;
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s%s", named, suffix);
    return ks_buf_steal(&b);
}

static ks_proc_t *fk_node(load_t *L, ks_op_t op, const char *named, const char *suffix, const char *prefix,
                          const ks_ynode_t *at)
{
    char *name = fk_name(L, named, suffix, prefix);
    /* The index was used by fk_name: the node itself takes none. */
    ks_proc_t *p = ks__topo_new_proc_burn(L, op, prefix, name, at, 0);
    free(name);
    return p;
}

/*
 * The right table's node, whose store a subscription reads its foreign
 * key's row from (the right side is a `tables:` table; the left side is
 * read through its value getter, ks__topo_add_getter_stores). Returns
 * NULL after reporting the error at `at`.
 */
static ks_proc_t *fk_side_store(load_t *L, ks_proc_t *side, const char *which, const ks_ynode_t *at)
{
    int ok = 0;
    switch (side->op) {
    case KS_OP_TABLE_SOURCE: ok = !side->table_source.global; break;
    case KS_OP_TO_TABLE: ok = side->nstores > 0; break;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE: ok = side->state.window.kind == KS_WIN_NONE && side->nstores > 0; break;
    default: break;
    }
    if (!ok) {
        ks__topo_err_at(L, at,
                        "a foreign-key join reads the %s table's rows by key, but `%s` keeps no store to read them "
                        "from; join right after a table, a toTable or an aggregation",
                        which, ks_op_dsl_name(side->op));
        return NULL;
    }
    return side;
}

void ks__topo_load_join_fk(load_t *L, stream_t *s, const ks_step_t *step, ks_proc_t *right, ks_step_expr_t *joiner,
                           ks_step_expr_t *fk)
{
    const ks_ynode_t *at = step->key, *fkn = ks__topo_part(step, "foreignKey");
    const ks_ynode_t *store = ks__topo_part(step, "store");
    const char *named = step->name;
    ks_op_t op = step->row->op;
    ks_proc_t *left = NULL;
    if (op == KS_OP_OUTER_JOIN)
        ks__topo_err_at(L, at, "foreign-key joins are `join` or `leftJoin`; Kafka Streams has no outer one");
    if (ks__topo_part(step, "key"))
        ks__topo_err_at(L, ks__topo_part(step, "key"),
                        "`key` applies to global-table joins; a foreign-key join "
                        "takes its key from `foreignKey`");
    if (s->kind != KS_KTABLE)
        ks__topo_err_at(L, fkn, "`foreignKey` joins are table-table joins: the left side must be a table, not %s",
                        ks_stream_kind_name(s->kind));
    else if (ks__topo_add_getter_stores(L, NULL, s->cur, fkn) == 0)
        left = s->cur; /* read through its value getter: a store, or a filter or mapValues of one */
    if (right)
        right = fk_side_store(L, right, "right", ks__topo_part(step, "table"));
    if (!left || !right || op == KS_OP_OUTER_JOIN) {
        free(joiner->src);
        ks_expr_free(joiner->expr);
        free(fk->src);
        ks_expr_free(fk->expr);
        return;
    }
    /* The order below is Kafka Streams': each name uses the next index. */
    char *reg_topic = fk_name(L, named, "-subscription-registration", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION");
    ks_proc_t *reg =
        fk_node(L, op, named, "-subscription-registration-processor", "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION", at);
    ks_proc_t *reg_sink = fk_node(L, KS_OP_SINK, named, "-subscription-registration-sink", "KTABLE-SINK", at);
    ks_proc_t *reg_src = fk_node(L, KS_OP_SOURCE, named, "-subscription-registration-source", "KTABLE-SOURCE", at);
    char *sub_store = fk_name(L, named, "-subscription-store", "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE");
    ks_proc_t *receive = fk_node(L, op, named, "-subscription-receive", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", at);
    ks_proc_t *join_foreign =
        fk_node(L, op, named, "-subscription-join-foreign", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", at);
    ks_proc_t *foreign_join =
        fk_node(L, op, named, "-foreign-join-subscription", "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR", at);
    char *resp_topic = fk_name(L, named, "-subscription-response", "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE");
    ks_proc_t *resp_sink = fk_node(L, KS_OP_SINK, named, "-subscription-response-sink", "KTABLE-SINK", at);
    ks_proc_t *resp_src = fk_node(L, KS_OP_SOURCE, named, "-subscription-response-source", "KTABLE-SOURCE", at);
    ks_proc_t *resolver = fk_node(L, op, named, "-subscription-response-resolver",
                                  "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR", at);
    ks_proc_t *output = fk_node(L, KS_OP_TO_TABLE, named, "-result", "KTABLE-FK-JOIN-OUTPUT", at);
    /* MaterializedInternal names the result's store (an index) unless `store:` names it. */
    char *out_store = store ? ks_xstrdup(store->value) : ks__topo_gen_name(L, "KTABLE-FK-JOIN-OUTPUT-STATE-STORE");
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s-topic", reg_topic);
    char *t = ks_buf_steal(&b);
    ks__topo_internal_topic(L, reg_sink, reg_src, t);
    free(t);
    ks_buf_printf(&b, "%s-topic", resp_topic);
    t = ks_buf_steal(&b);
    ks__topo_internal_topic(L, resp_sink, resp_src, t);
    free(t);

    ks_proc_t *fk_nodes[] = {reg, receive, join_foreign, foreign_join, resolver};
    int roles[] = {KS_FK_REGISTRATION, KS_FK_RECEIVE, KS_FK_JOIN_FOREIGN, KS_FK_FOREIGN_JOIN, KS_FK_RESOLVER};
    for (int i = 0; i < 5; i++) {
        ks_proc_t *p = fk_nodes[i];
        p->table = 1;
        p->join.kind = KS_JOIN_FOREIGN_KEY;
        p->join.fk_role = roles[i];
        p->join.table =
            ks_xstrdup(step->arg && ks__topo_part(step, "table") ? ks__topo_part(step, "table")->value : "");
        p->join.table_node = right;
        p->join.left_node = left;
    }
    /* The extractor runs in the registration node, the joiner in the resolver. */
    ks__topo_add_extra(reg, *fk);
    resolver->e = *joiner;
    reg->join.fk_sink = reg_sink;
    join_foreign->join.fk_sink = resp_sink;
    foreign_join->join.fk_sink = resp_sink;
    receive->join.fk_next = join_foreign;
    ks__topo_add_store(receive, sub_store);
    ks__topo_add_store(foreign_join, sub_store);
    ks__topo_add_store(join_foreign, right->stores[0]);
    ks__topo_add_getter_stores(L, resolver, left, fkn);
    ks__topo_add_store(output, out_store);
    output->table = 1;
    output->state.store_optional = store == NULL;
    output->state.queryable = ks__topo_queryable(L, step);

    ks__topo_link(s->cur, reg);
    ks__topo_link(reg, reg_sink);
    ks__topo_link(reg_src, receive);
    ks__topo_link(receive, join_foreign);
    ks__topo_link(join_foreign, resp_sink);
    ks__topo_link(right, foreign_join);
    ks__topo_link(foreign_join, resp_sink);
    ks__topo_link(resp_src, resolver);
    ks__topo_link(resolver, output);
    s->cur = output;
    s->kind = KS_KTABLE;
    s->key_changed = 0;
    free(reg_topic);
    free(resp_topic);
    free(sub_store);
    free(out_store);
}
