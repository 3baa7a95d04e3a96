/*
 * test_partition_group.c: the order in which a task takes its records
 * across its topic-partitions (src/engine/partition_group.c), Kafka
 * Streams' PartitionGroup: the lowest head timestamp first, ties to the
 * queue that joined first, each partition's own order kept, stream time
 * never going back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/engine/partition_group.h"

/* Two topics, identified by pointer as the Kafka driver's rd_kafka_topic_t are. */
static const char orders[] = "orders", payments[] = "payments";

/* A record of a test: its name says where it came from ("o0:10" is orders[0], timestamp 10). */
typedef struct rec {
    const char *name;
} rec_t;

/* Takes every record, writing their names in order as "a b c" into out. */
static void drain(ks_partition_group_t *g, char *out, size_t outlen)
{
    out[0] = 0;
    rec_t *r;
    while ((r = ks_pg_next(g, NULL))) {
        if (out[0])
            strncat(out, " ", outlen - strlen(out) - 1);
        strncat(out, r->name, outlen - strlen(out) - 1);
    }
}

static void lowest_head_timestamp_goes_first(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t o1 = {"o0:30"}, o2 = {"o0:40"}, p1 = {"p0:10"}, p2 = {"p0:35"};
    ks_pg_add(&g, orders, 0, &o1, 30);
    ks_pg_add(&g, orders, 0, &o2, 40);
    ks_pg_add(&g, payments, 0, &p1, 10);
    ks_pg_add(&g, payments, 0, &p2, 35);
    assert_int_equal(ks_pg_buffered(&g), 4);
    char got[200];
    drain(&g, got, sizeof got);
    assert_string_equal(got, "p0:10 o0:30 p0:35 o0:40");
    assert_int_equal(ks_pg_buffered(&g), 0);
    ks_pg_free(&g);
}

static void equal_heads_go_to_the_queue_that_joined_first(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t p1 = {"p0:5"}, o1 = {"o0:5"}, p2 = {"p0:7"}, o2 = {"o0:7"};
    ks_pg_add(&g, payments, 0, &p1, 5); /* payments joins first */
    ks_pg_add(&g, orders, 0, &o1, 5);
    ks_pg_add(&g, orders, 0, &o2, 7);
    ks_pg_add(&g, payments, 0, &p2, 7);
    char got[200];
    drain(&g, got, sizeof got);
    assert_string_equal(got, "p0:5 o0:5 p0:7 o0:7");
    ks_pg_free(&g);
}

static void a_partitions_own_order_is_kept_when_its_timestamps_go_back(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t late = {"o0:10"}, early = {"o0:5"}, p = {"p0:7"};
    ks_pg_add(&g, orders, 0, &late, 10);
    ks_pg_add(&g, orders, 0, &early, 5); /* behind a later record of its partition: it waits for it */
    ks_pg_add(&g, payments, 0, &p, 7);
    int64_t ts, times[3], stimes[3];
    const char *names[3];
    for (int i = 0; i < 3; i++) {
        rec_t *r = ks_pg_next(&g, &ts);
        assert_non_null(r);
        names[i] = r->name;
        times[i] = ts;
        stimes[i] = ks_pg_stream_time(&g);
    }
    assert_string_equal(names[0], "p0:7");
    assert_string_equal(names[1], "o0:10");
    assert_string_equal(names[2], "o0:5");
    assert_int_equal(times[0], 7);
    assert_int_equal(times[1], 10);
    assert_int_equal(times[2], 5);
    /* Stream time is the largest timestamp handed out: it does not go back to 5. */
    assert_int_equal(stimes[0], 7);
    assert_int_equal(stimes[1], 10);
    assert_int_equal(stimes[2], 10);
    assert_int_equal(ks_pg_partition_time(&g, orders, 0), 10);
    assert_int_equal(ks_pg_partition_time(&g, payments, 0), 7);
    ks_pg_free(&g);
}

static void an_empty_group_hands_out_nothing(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    int64_t ts = 99;
    assert_null(ks_pg_next(&g, &ts));
    assert_int_equal(ts, 99);
    assert_true(ks_pg_stream_time(&g) == KS_PG_UNKNOWN);
    assert_true(ks_pg_partition_time(&g, orders, 0) == KS_PG_UNKNOWN);
    rec_t r = {"o0:1"};
    ks_pg_add(&g, orders, 0, &r, 1);
    assert_ptr_equal(ks_pg_next(&g, NULL), &r);
    assert_null(ks_pg_next(&g, NULL)); /* drained again */
    assert_int_equal(ks_pg_stream_time(&g), 1);
    ks_pg_free(&g);
}

static void an_empty_queue_does_not_hold_back_the_others(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t o1 = {"o0:1"}, p1 = {"p0:50"}, o2 = {"o0:60"}, p2 = {"p0:55"};
    ks_pg_add(&g, orders, 0, &o1, 1);
    ks_pg_add(&g, payments, 0, &p1, 50);
    assert_ptr_equal(ks_pg_next(&g, NULL), &o1);
    assert_ptr_equal(ks_pg_next(&g, NULL), &p1); /* orders is empty: payments goes on */
    /* Refilled queues compete again, in the order they first joined. */
    ks_pg_add(&g, orders, 0, &o2, 60);
    ks_pg_add(&g, payments, 0, &p2, 55);
    char got[200];
    drain(&g, got, sizeof got);
    assert_string_equal(got, "p0:55 o0:60");
    assert_int_equal(ks_pg_stream_time(&g), 60);
    ks_pg_free(&g);
}

static void partitions_of_one_topic_are_separate_queues(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t a = {"o0:20"}, b = {"o1:10"}, c = {"o0:30"}, d = {"o1:40"};
    ks_pg_add(&g, orders, 0, &a, 20);
    ks_pg_add(&g, orders, 1, &b, 10);
    ks_pg_add(&g, orders, 0, &c, 30);
    ks_pg_add(&g, orders, 1, &d, 40);
    char got[200];
    drain(&g, got, sizeof got);
    assert_string_equal(got, "o1:10 o0:20 o0:30 o1:40");
    ks_pg_free(&g);
}

static void stream_time_is_monotonic_over_many_records(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    enum { N = 1000 };
    static rec_t recs[N];
    uint32_t x = 12345;
    int64_t max = INT64_MIN;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u; /* a fixed pseudo-random sequence */
        int64_t ts = (int64_t)(x >> 16) % 500;
        recs[i].name = "r";
        ks_pg_add(&g, i % 3 == 0 ? orders : payments, i % 2, &recs[i], ts);
        if (ts > max)
            max = ts;
    }
    int64_t prev = KS_PG_UNKNOWN, ts;
    int n = 0;
    while (ks_pg_next(&g, &ts)) {
        int64_t now = ks_pg_stream_time(&g);
        assert_true(now >= prev);
        assert_true(now >= ts);
        prev = now;
        n++;
    }
    assert_int_equal(n, N);
    assert_int_equal(ks_pg_stream_time(&g), max);
    ks_pg_free(&g);
}

static void clear_forgets_records_partitions_and_stream_time(void **state)
{
    (void)state;
    ks_partition_group_t g;
    ks_pg_init(&g);
    rec_t a = {"o0:20"}, b = {"p0:10"};
    ks_pg_add(&g, orders, 0, &a, 20);
    ks_pg_add(&g, payments, 0, &b, 10);
    assert_ptr_equal(ks_pg_next(&g, NULL), &b);
    ks_pg_clear(&g);
    assert_int_equal(ks_pg_buffered(&g), 0);
    assert_null(ks_pg_next(&g, NULL));
    assert_true(ks_pg_stream_time(&g) == KS_PG_UNKNOWN);
    assert_true(ks_pg_partition_time(&g, payments, 0) == KS_PG_UNKNOWN);
    /* After a clear, the first partition to come back joins first. */
    rec_t c = {"o0:5"}, d = {"p0:5"};
    ks_pg_add(&g, orders, 0, &c, 5);
    ks_pg_add(&g, payments, 0, &d, 5);
    assert_ptr_equal(ks_pg_next(&g, NULL), &c);
    ks_pg_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lowest_head_timestamp_goes_first),
        cmocka_unit_test(equal_heads_go_to_the_queue_that_joined_first),
        cmocka_unit_test(a_partitions_own_order_is_kept_when_its_timestamps_go_back),
        cmocka_unit_test(an_empty_group_hands_out_nothing),
        cmocka_unit_test(an_empty_queue_does_not_hold_back_the_others),
        cmocka_unit_test(partitions_of_one_topic_are_separate_queues),
        cmocka_unit_test(stream_time_is_monotonic_over_many_records),
        cmocka_unit_test(clear_forgets_records_partitions_and_stream_time),
    };
    return cmocka_run_group_tests_name("partition_group", tests, NULL, NULL);
}
