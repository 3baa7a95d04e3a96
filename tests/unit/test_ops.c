/*
 * test_ops.c: the operator table (src/topology/op_list.h) agrees with the
 * schema's step rows and keeps the rules the code used to spell out by
 * hand: every step's DSL name and loader, Kafka Streams' prefixes for a
 * step applied to a stream or a table, and which operators the state
 * engine runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/topology/schema.h"
#include "../../src/topology/topology.h"

static void every_operator_has_a_dsl_name(void **state)
{
    (void)state;
    for (int op = 0; op < KS_OP__COUNT; op++) {
        assert_non_null(ks_ops[op].dsl);
        assert_string_not_equal(ks_op_dsl_name((ks_op_t)op), "?");
    }
    assert_string_equal(ks_op_dsl_name(KS_OP__COUNT), "?");
}

static void every_step_row_is_named_as_its_operator_and_has_a_loader(void **state)
{
    (void)state;
    int n = 0;
    for (const ks_step_row_t *r = ks_schema_steps; r->name; r++, n++) {
        assert_string_equal(r->name, ks_op_dsl_name(r->op));
        assert_non_null(r->load);
    }
    assert_int_equal(n, 25);
}

static void prefixes_follow_kafka_streams_for_streams_and_tables(void **state)
{
    (void)state;
    assert_string_equal(ks_op_prefix(KS_OP_FILTER, 0), "KSTREAM-FILTER");
    assert_string_equal(ks_op_prefix(KS_OP_FILTER_NOT, 1), "KTABLE-FILTER");
    assert_string_equal(ks_op_prefix(KS_OP_MAP_VALUES, 1), "KTABLE-MAPVALUES");
    assert_string_equal(ks_op_prefix(KS_OP_SELECT_KEY, 0), "KSTREAM-KEY-SELECT");
    assert_string_equal(ks_op_prefix(KS_OP_GROUP_BY, 1), "KTABLE-SELECT");
    assert_string_equal(ks_op_prefix(KS_OP_COUNT, 0), "KSTREAM-AGGREGATE");
    assert_string_equal(ks_op_prefix(KS_OP_REDUCE, 1), "KTABLE-REDUCE");
    assert_string_equal(ks_op_prefix(KS_OP_TO_STREAM, 0), "KTABLE-TOSTREAM");
    assert_string_equal(ks_op_prefix(KS_OP_SUPPRESS, 0), "KTABLE-SUPPRESS");
    assert_string_equal(ks_op_prefix(KS_OP_LEFT_JOIN, 0), "KSTREAM-LEFTJOIN");
    assert_string_equal(ks_op_prefix(KS_OP_OUTER_JOIN, 1), "KTABLE-OUTERJOIN");
    assert_null(ks_op_prefix(KS_OP_GROUP_BY_KEY, 0));
}

static void the_state_engine_runs_the_state_window_and_join_families(void **state)
{
    (void)state;
    /* The rule the engine used before the table: every operator from toTable on is stateful. */
    for (int op = 0; op < KS_OP__COUNT; op++)
        assert_int_equal(ks_op_stateful((ks_op_t)op), op >= KS_OP_TO_TABLE);
    assert_int_equal(ks_ops[KS_OP_JOIN].family, KS_FAMILY_JOIN);
    assert_int_equal(ks_ops[KS_OP_WINDOWED_BY].family, KS_FAMILY_WINDOW);
    assert_int_equal(ks_ops[KS_OP_SINK].family, KS_FAMILY_SINK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_operator_has_a_dsl_name),
        cmocka_unit_test(every_step_row_is_named_as_its_operator_and_has_a_loader),
        cmocka_unit_test(prefixes_follow_kafka_streams_for_streams_and_tables),
        cmocka_unit_test(the_state_engine_runs_the_state_window_and_join_families),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
