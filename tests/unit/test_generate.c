/*
 * test_generate.c: generate sources: the seeded PRNG behind $rand (same
 * seed and record number, same number), the parsing of `rate`, and a
 * generator made from a loaded topology (record bytes, count, failures and
 * their dead-letter record).
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

#include "../../src/engine/generate.h"
#include "../../src/topology/topology.h"
#include "load_topology.h"

/* ---- the PRNG ---- */

static void mix64_is_splitmix64(void **state)
{
    (void)state;
    /* The first outputs of splitmix64 seeded with 0 (Vigna's reference implementation). */
    assert_true(ks_generate_mix64(0x9e3779b97f4a7c15ULL) == 0xe220a8397b1dcdafULL);
    assert_true(ks_generate_mix64(0x3c6ef372fe94f82aULL) == 0x6e789e6aa1b965f4ULL);
}

static void same_seed_and_record_give_the_same_number(void **state)
{
    (void)state;
    for (int64_t i = 0; i < 1000; i++) {
        assert_true(ks_generate_rand(7, i) == ks_generate_rand(7, i));
        assert_true(ks_generate_rand(-3, i) == ks_generate_rand(-3, i));
    }
}

static void numbers_do_not_depend_on_the_order_they_are_asked_for(void **state)
{
    (void)state;
    double forward[100], backward[100];
    for (int i = 0; i < 100; i++)
        forward[i] = ks_generate_rand(42, i);
    for (int i = 99; i >= 0; i--)
        backward[i] = ks_generate_rand(42, i);
    assert_memory_equal(forward, backward, sizeof forward);
}

static void numbers_are_in_zero_to_one_and_spread_evenly(void **state)
{
    (void)state;
    int buckets[10] = {0};
    double sum = 0;
    for (int64_t i = 0; i < 100000; i++) {
        double r = ks_generate_rand(1, i);
        assert_true(r >= 0 && r < 1);
        buckets[(int)(r * 10)]++;
        sum += r;
    }
    assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);
    for (int b = 0; b < 10; b++)
        assert_true(buckets[b] > 9500 && buckets[b] < 10500);
}

static void other_seeds_and_records_give_other_numbers(void **state)
{
    (void)state;
    int same = 0;
    for (int64_t i = 0; i < 1000; i++) {
        same += ks_generate_rand(0, i) == ks_generate_rand(1, i);
        same += ks_generate_rand(0, i) == ks_generate_rand(0, i + 1);
        /* Neighbouring seeds are not the same stream shifted by one record. */
        same += ks_generate_rand(1, i) == ks_generate_rand(0, i + 1);
    }
    assert_int_equal(same, 0);
}

/* ---- rate ---- */

static void rate_takes_records_per_unit(void **state)
{
    (void)state;
    double r = -1;
    assert_int_equal(ks_topology_parse_rate("200/s", &r), 0);
    assert_true(r == 200);
    assert_int_equal(ks_topology_parse_rate("10/m", &r), 0);
    assert_true(r > 0.1666 && r < 0.1667);
    assert_int_equal(ks_topology_parse_rate("3600/h", &r), 0);
    assert_true(r == 1);
    assert_int_equal(ks_topology_parse_rate("86400/d", &r), 0);
    assert_true(r == 1);
    assert_int_equal(ks_topology_parse_rate("2/ms", &r), 0);
    assert_true(r == 2000);
    assert_int_equal(ks_topology_parse_rate("1.5/s", &r), 0);
    assert_true(r == 1.5);
}

static void rate_bare_number_is_per_second_and_zero_is_unthrottled(void **state)
{
    (void)state;
    double r = -1;
    assert_int_equal(ks_topology_parse_rate("250", &r), 0);
    assert_true(r == 250);
    assert_int_equal(ks_topology_parse_rate("0", &r), 0);
    assert_true(r == 0);
    assert_int_equal(ks_topology_parse_rate("0/s", &r), 0);
    assert_true(r == 0);
}

static void rate_refuses_what_is_not_a_rate(void **state)
{
    (void)state;
    const char *bad[] = {"fast", "", "/s", "-1/s", "10/x", "10 /s", "10/", "10/sec", "1e400/s", "nan", "inf"};
    double r = 7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ks_topology_parse_rate(bad[i], &r) == 0)
            fail_msg("`%s` was accepted as a rate", bad[i]);
    }
    assert_int_equal(ks_topology_parse_rate(NULL, &r), -1);
    assert_true(r == 7);
}

/* ---- a generator from a topology ---- */

static const char *const TOPOLOGY = "application: gen-unit\n"
                                    "pipelines:\n"
                                    "  made:\n"
                                    "    from:\n"
                                    "      generate:\n"
                                    "        rate: 10/m\n"
                                    "        count: 3\n"
                                    "        seed: 5\n"
                                    "        timestamp: '$now + $i'\n"
                                    "        value: 'if $i == 1 then error(\"no\") else {i: $i, r: $rand} end'\n"
                                    "        key: '\"k\\(.i)\"'\n"
                                    "    to: gen-made-v1\n";

static void a_topology_gives_one_generator_per_generate_source(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology(TOPOLOGY);
    int n = -1;
    ks_generator_t **gs = ks_generators_new(t, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ks_generator_topic(gs[0]), "generate:made");
    assert_string_equal(ks_generator_node(gs[0]), "KSTREAM-SOURCE-0000000000");
    assert_true(ks_generator_rate(gs[0]) > 0.1666 && ks_generator_rate(gs[0]) < 0.1667);
    assert_int_equal(ks_topology_reads(t, "generate:made"), 1);
    ks_generators_free(gs, n);
    ks_topology_free(t);
}

static void records_carry_the_pseudo_topic_bytes_and_count(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology(TOPOLOGY);
    int n;
    ks_generator_t **gs = ks_generators_new(t, &n);
    ks_generator_t *g = gs[0];
    ks_record_t rec;
    char err[512];
    assert_int_equal(ks_generator_next(g, 1000, &rec, err, sizeof err), 0);
    assert_string_equal(rec.topic, "generate:made");
    assert_int_equal(rec.partition, 0);
    assert_int_equal(rec.offset, 0);
    assert_int_equal(rec.timestamp, 1000);
    assert_int_equal(rec.key_len, 2);
    assert_memory_equal(rec.key, "k0", 2);
    /* The JSON printer writes the shortest text; compare by parsing the number back. */
    assert_true(rec.value_len > 10 && memcmp(rec.value, "{\"i\":0,\"r\":", 11) == 0);
    assert_true(strtod((const char *)rec.value + 11, NULL) == ks_generate_rand(5, 0));

    /* Record 1 fails: -1 with the message, the number is used up, and the dead-letter record names it. */
    assert_int_equal(ks_generator_next(g, 2000, &rec, err, sizeof err), -1);
    assert_non_null(strstr(err, "evaluating `value` of generate ("));
    assert_non_null(strstr(err, ":10:16): no"));
    assert_int_equal(ks_generator_made(g), 2);
    ks_generator_dead_letter(g, err, 2000, &rec);
    assert_string_equal(rec.topic, "gen-unit-dlq");
    assert_null(rec.key);
    assert_null(rec.value);
    assert_int_equal(rec.nheaders, 5);
    assert_string_equal(rec.headers[1].key, "kstreamd.source.topic");
    assert_memory_equal(rec.headers[1].value, "generate:made", rec.headers[1].len);
    assert_string_equal(rec.headers[3].key, "kstreamd.source.offset");
    assert_memory_equal(rec.headers[3].value, "1", rec.headers[3].len);

    assert_int_equal(ks_generator_next(g, 3000, &rec, err, sizeof err), 0);
    assert_int_equal(rec.offset, 2);
    assert_int_equal(rec.timestamp, 3002);
    assert_int_equal(ks_generator_done(g), 1);
    assert_int_equal(ks_generator_next(g, 4000, &rec, err, sizeof err), 1);
    ks_generators_free(gs, n);
    ks_topology_free(t);
}

static void two_generators_with_one_seed_make_the_same_records(void **state)
{
    (void)state;
    const char *yaml = "application: gen-twice\n"
                       "pipelines:\n"
                       "  a: {from: {generate: {seed: 9, value: '[$i, $rand]'}}, to: gen-a-v1}\n"
                       "  b: {from: {generate: {seed: 9, value: '[$i, $rand]'}}, to: gen-b-v1}\n";
    ks_topology_t *t = load_topology(yaml);
    int n;
    ks_generator_t **gs = ks_generators_new(t, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ks_generator_done(gs[0]), 0); /* unbounded */
    for (int i = 0; i < 50; i++) {
        ks_record_t a, b;
        char err[256];
        assert_int_equal(ks_generator_next(gs[0], i, &a, err, sizeof err), 0);
        assert_int_equal(ks_generator_next(gs[1], i, &b, err, sizeof err), 0);
        assert_int_equal(a.value_len, b.value_len);
        assert_memory_equal(a.value, b.value, a.value_len);
        assert_null(a.key);
    }
    ks_generators_free(gs, n);
    ks_topology_free(t);
}

static void a_topology_without_generate_sources_has_no_generators(void **state)
{
    (void)state;
    ks_topology_t *t = load_topology("application: plain\npipelines:\n  p: {from: in-topic-v1, to: out-topic-v1}\n");
    int n = -1;
    ks_generator_t **gs = ks_generators_new(t, &n);
    assert_int_equal(n, 0);
    assert_null(gs);
    ks_generators_free(gs, n);
    ks_topology_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mix64_is_splitmix64),
        cmocka_unit_test(same_seed_and_record_give_the_same_number),
        cmocka_unit_test(numbers_do_not_depend_on_the_order_they_are_asked_for),
        cmocka_unit_test(numbers_are_in_zero_to_one_and_spread_evenly),
        cmocka_unit_test(other_seeds_and_records_give_other_numbers),
        cmocka_unit_test(rate_takes_records_per_unit),
        cmocka_unit_test(rate_bare_number_is_per_second_and_zero_is_unthrottled),
        cmocka_unit_test(rate_refuses_what_is_not_a_rate),
        cmocka_unit_test(a_topology_gives_one_generator_per_generate_source),
        cmocka_unit_test(records_carry_the_pseudo_topic_bytes_and_count),
        cmocka_unit_test(two_generators_with_one_seed_make_the_same_records),
        cmocka_unit_test(a_topology_without_generate_sources_has_no_generators),
    };
    return cmocka_run_group_tests_name("generate", tests, NULL, NULL);
}
