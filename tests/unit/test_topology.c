/*
 * test_topology.c: the built graph, through the topology API: where the
 * graph splits into sub-topologies and how they are numbered, Kafka
 * Streams' generated names (named steps use an index too), the repartition
 * topic of toTable, and when a toTable keeps a store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/topology/topology.h"
#include "load_topology.h"

static const ks_proc_t *proc(const ks_topology_t *t, const char *name)
{
    for (int i = 0; i < t->nprocs; i++)
        if (strcmp(t->procs[i]->name, name) == 0)
            return t->procs[i];
    fail_msg("no processor named %s", name);
    return NULL;
}

static int has_internal(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->ninternal; i++)
        if (strcmp(t->internal_topics[i], topic) == 0)
            return 1;
    return 0;
}

/* A key change before an aggregation splits the graph at the repartition topic; groups are numbered in creation order.
 */
static void a_repartition_splits_and_groups_are_numbered_in_creation_order(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology("application: unit\n"
                                     "topics: {defaults: {key: string, value: json}, out: {value: long}}\n"
                                     "pipelines:\n"
                                     "  counted:\n"
                                     "    from: in\n"
                                     "    steps: [{selectKey: .c}, groupByKey, count, toStream]\n"
                                     "    to: out\n"
                                     "  other:\n"
                                     "    from: in2\n"
                                     "    to: out2\n");
    assert_int_equal(t->nsubtopologies, 3);
    assert_int_equal(proc(t, "KSTREAM-SOURCE-0000000000")->subtopology, 0);
    assert_int_equal(proc(t, "KSTREAM-KEY-SELECT-0000000001")->subtopology, 0);
    /* Kafka Streams' order: the store, the aggregate, then the repartition's sink, filter and source. */
    assert_int_equal(proc(t, "KSTREAM-SINK-0000000004")->subtopology, 0);
    assert_int_equal(proc(t, "KSTREAM-FILTER-0000000005")->subtopology, 0);
    assert_int_equal(proc(t, "KSTREAM-SOURCE-0000000006")->subtopology, 1);
    const ks_proc_t *agg = proc(t, "KSTREAM-AGGREGATE-0000000003");
    assert_int_equal(agg->subtopology, 1);
    assert_int_equal(agg->nstores, 1);
    assert_string_equal(agg->stores[0], "KSTREAM-AGGREGATE-STATE-STORE-0000000002");
    assert_true(has_internal(t, "unit-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"));
    assert_true(has_internal(t, "unit-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog"));
    /* The unrelated pipeline, created last, is the last group. */
    assert_int_equal(proc(t, "KSTREAM-SOURCE-0000000009")->subtopology, 2);
    ks_topology_free(t);
}

/* Naming a step uses an index too (Kafka Streams' NamedInternal), so the next generated name is unchanged. */
static void a_named_step_uses_an_index(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology("application: unit\n"
                                     "pipelines:\n"
                                     "  p:\n"
                                     "    from: in\n"
                                     "    steps: [{filter: {predicate: 'true', name: kept}}, {mapValues: .}]\n"
                                     "    to: out\n");
    assert_int_equal(proc(t, "kept")->subtopology, 0);
    assert_int_equal(proc(t, "KSTREAM-MAPVALUES-0000000002")->subtopology, 0);
    assert_int_equal(proc(t, "KSTREAM-SINK-0000000003")->subtopology, 0);
    ks_topology_free(t);
}

/* toTable after a key change goes through `<toTable name>-repartition`; with nothing below that needs one, no store. */
static void totable_repartitions_after_a_key_change_and_keeps_no_store_unless_needed(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology("application: unit\n"
                                     "topics: {defaults: {key: string, value: json}, n: {value: long}}\n"
                                     "pipelines:\n"
                                     "  plain:\n"
                                     "    from: a\n"
                                     "    steps: [{selectKey: .c}, toTable, toStream]\n"
                                     "    to: out\n"
                                     "  grouped:\n"
                                     "    from: b\n"
                                     "    steps: [toTable, {groupBy: .x}, count, toStream]\n"
                                     "    to: n\n"
                                     "  named:\n"
                                     "    from: c\n"
                                     "    steps: [{toTable: {store: kept}}, toStream]\n"
                                     "    to: out2\n");
    const ks_proc_t *plain = proc(t, "KSTREAM-TOTABLE-0000000002");
    assert_int_equal(plain->nstores, 0);
    assert_true(has_internal(t, "unit-KSTREAM-TOTABLE-0000000002-repartition"));
    assert_false(has_internal(t, "unit-KSTREAM-TOTABLE-STATE-STORE-0000000003-changelog"));
    assert_int_equal(proc(t, "KSTREAM-SOURCE-0000000006")->subtopology, plain->subtopology);
    /* A groupBy of the table asks for old values: the table keeps its store (and changelog). */
    const ks_proc_t *grouped = proc(t, "KSTREAM-TOTABLE-0000000010");
    assert_int_equal(grouped->nstores, 1);
    assert_string_equal(grouped->stores[0], "KSTREAM-TOTABLE-STATE-STORE-0000000011");
    assert_true(has_internal(t, "unit-KSTREAM-TOTABLE-STATE-STORE-0000000011-changelog"));
    /* `store:` is Materialized.as: always kept. */
    int found = 0;
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->op == KS_OP_TO_TABLE && t->procs[i]->nstores && strcmp(t->procs[i]->stores[0], "kept") == 0)
            found = 1;
    assert_true(found);
    ks_topology_free(t);
}

/* Processors sharing a store are one sub-topology even without an edge between them (table source and join). */
static void processors_sharing_a_store_are_one_group(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology("application: unit\n"
                                     "tables: {customers: {topic: crm-customer-v1}}\n"
                                     "pipelines:\n"
                                     "  p:\n"
                                     "    from: order-v1\n"
                                     "    steps: [{join: {table: customers, value: '$left'}}]\n"
                                     "    to: out\n");
    const ks_proc_t *table = proc(t, "KTABLE-SOURCE-0000000001");
    const ks_proc_t *join = proc(t, "KSTREAM-JOIN-0000000003");
    assert_int_equal(table->subtopology, join->subtopology);
    assert_int_equal(t->nsubtopologies, 1);
    ks_topology_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_repartition_splits_and_groups_are_numbered_in_creation_order),
        cmocka_unit_test(a_named_step_uses_an_index),
        cmocka_unit_test(totable_repartitions_after_a_key_change_and_keeps_no_store_unless_needed),
        cmocka_unit_test(processors_sharing_a_store_are_one_group),
    };
    return cmocka_run_group_tests_name("topology", tests, NULL, NULL);
}
