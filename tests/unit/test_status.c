/*
 * test_status.c: the applications' shared status (src/kafka/status.c): the
 * client state named as Kafka Streams names it, derived from what the
 * stream threads and the global thread report, and the partitions a
 * process holds, restoring or active.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/kafka/status.h"
#include "load_topology.h"

static const char counts_yaml[] = "application: counts\n"
                                  "pipelines:\n"
                                  "  p:\n"
                                  "    from: orders\n"
                                  "    steps:\n"
                                  "      - groupByKey\n"
                                  "      - count: {store: counts, queryable: true}\n";

static const char global_yaml[] = "application: lookups\n"
                                  "tables:\n"
                                  "  products: {topic: products, global: true}\n"
                                  "pipelines:\n"
                                  "  p:\n"
                                  "    from: orders\n"
                                  "    steps:\n"
                                  "      - leftJoin: {globalTable: products, key: .sku}\n"
                                  "    to: out\n";

static void states_follow_the_threads_lifecycle(void **state)
{
    ks_topology_t *t = load_topology(counts_yaml);
    int threads = 2;
    char why[256];
    ks_status_register(&t, 1, &threads);
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_CREATED);
    assert_string_equal(why, "stream thread 0 has not started");
    ks_status_thread_started(t, 0);
    ks_status_thread_started(t, 1);
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_REBALANCING);
    assert_string_equal(why, "stream thread 0 waits for its partitions (the group is rebalancing)");
    const char *topics[] = {"orders", "orders"};
    int32_t parts[] = {0, 2};
    ks_status_assigned(t, 0, topics, parts, 2);
    ks_status_assigned(t, 1, topics, (int32_t[]){1}, 1);
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_REBALANCING);
    assert_string_equal(why, "stream thread 0 is restoring the state of 2 tasks");
    assert_int_equal(ks_status_partition(t, 0, 2), KS_PART_RESTORING);
    ks_status_restored(t, 0);
    assert_int_equal(ks_status_partition(t, 0, 2), KS_PART_ACTIVE);
    assert_int_equal(ks_status_partition(t, 0, 1), KS_PART_RESTORING);
    assert_int_equal(ks_status_partition(t, 0, 3), KS_PART_NOT_HELD);
    ks_status_restored(t, 1);
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_RUNNING);
    assert_string_equal(why, "");
    /* A revocation: the thread holds nothing and waits again. */
    ks_status_revoked(t, 1);
    assert_int_equal(ks_status_partition(t, 0, 1), KS_PART_NOT_HELD);
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_REBALANCING);
    ks_status_assigned(t, 1, topics, (int32_t[]){1}, 1);
    ks_status_restored(t, 1);
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_RUNNING);
    ks_status_stopping();
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_PENDING_SHUTDOWN);
    ks_status_thread_stopped(t, 0);
    ks_status_thread_stopped(t, 1);
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_NOT_RUNNING);
    ks_status_clear();
    ks_topology_free(t);
}

static void a_failure_is_error_and_keeps_the_first_reason(void **state)
{
    ks_topology_t *t = load_topology(counts_yaml);
    int threads = 1;
    char why[256];
    ks_status_register(&t, 1, &threads);
    ks_status_thread_started(t, 0);
    ks_status_failed(t, "the broker went away");
    ks_status_failed(t, "a later error");
    ks_status_stopping();
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_ERROR);
    assert_string_equal(why, "failed: the broker went away");
    assert_string_equal(ks_client_state_name(KS_CLIENT_ERROR), "ERROR");
    ks_status_clear();
    ks_topology_free(t);
}

static void global_tables_must_bootstrap_first(void **state)
{
    ks_topology_t *t = load_topology(global_yaml);
    int threads = 1;
    char why[256];
    ks_status_register(&t, 1, &threads);
    ks_status_thread_running(t, 0);
    assert_int_equal(ks_status_state(t, why, sizeof why), KS_CLIENT_REBALANCING);
    assert_string_equal(why, "the global tables are bootstrapping");
    assert_false(ks_status_global_ready(t));
    ks_status_global_bootstrapped(t);
    assert_true(ks_status_global_ready(t));
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_RUNNING);
    ks_status_clear();
    ks_topology_free(t);
}

static void partitions_are_per_subtopology_and_registration_is_once(void **state)
{
    ks_topology_t *t = load_topology(counts_yaml);
    int threads = 1;
    ks_status_register(&t, 1, &threads);
    ks_status_set_partitions(t, 0, 6);
    ks_status_register(&t, 1, &threads); /* the driver registers again: kept as it is */
    assert_int_equal(ks_status_partitions(t, 0), 6);
    assert_int_equal(ks_status_partitions(t, 1), 0);
    assert_int_equal(ks_status_count(), 1);
    assert_ptr_equal(ks_status_topology(0), t);
    ks_status_clear();
    assert_int_equal(ks_status_count(), 0);
    assert_int_equal(ks_status_state(t, NULL, 0), KS_CLIENT_CREATED);
    ks_topology_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(states_follow_the_threads_lifecycle),
        cmocka_unit_test(a_failure_is_error_and_keeps_the_first_reason),
        cmocka_unit_test(global_tables_must_bootstrap_first),
        cmocka_unit_test(partitions_are_per_subtopology_and_registration_is_once),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
