/*
 * test_util.c: the helpers of src/util/ that other modules share: the
 * big-endian integers of the store layout and the serdes, and durations
 * parsed and formatted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/util/duration.h"
#include "../../src/util/endian.h"

static void be64_is_most_significant_byte_first(void **state)
{
    (void)state;
    unsigned char b[8];
    ks_be64_put(b, INT64_C(0x0102030405060708));
    const unsigned char want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(b, want, 8);
    assert_int_equal(ks_be64_get(b), INT64_C(0x0102030405060708));
}

static void be64_negative_is_twos_complement(void **state)
{
    (void)state;
    unsigned char b[8];
    ks_be64_put(b, -2);
    const unsigned char want[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    assert_memory_equal(b, want, 8);
    assert_int_equal(ks_be64_get(b), -2);
}

static void be_load_and_store_use_n_bytes(void **state)
{
    (void)state;
    unsigned char b[5] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
    ks_be_store(b, 0x80000001u, 4);
    const unsigned char want[5] = {0x80, 0x00, 0x00, 0x01, 0xaa}; /* the fifth byte untouched */
    assert_memory_equal(b, want, 5);
    assert_int_equal(ks_be_load(b, 4), 0x80000001u);
    assert_int_equal(ks_be_load(b, 2), 0x8000u);
}

static void parse_duration_units(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(ks_parse_duration("250", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(ks_parse_duration("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(ks_parse_duration("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(ks_parse_duration("10m", &ms), 0);
    assert_int_equal(ms, 600000);
    assert_int_equal(ks_parse_duration("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(ks_parse_duration("7d", &ms), 0);
    assert_int_equal(ms, 604800000);
}

static void parse_duration_refuses_bad_text(void **state)
{
    (void)state;
    int64_t ms = 42;
    assert_int_equal(ks_parse_duration(NULL, &ms), -1);
    assert_int_equal(ks_parse_duration("", &ms), -1);
    assert_int_equal(ks_parse_duration("-5s", &ms), -1);
    assert_int_equal(ks_parse_duration("5 s", &ms), -1);
    assert_int_equal(ks_parse_duration("5w", &ms), -1);
    assert_int_equal(ks_parse_duration("999999999999d", &ms), -1);
    assert_int_equal(ms, 42);
}

static void format_duration_uses_the_largest_unit_that_divides(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {{0, "0ms"},      {250, "250ms"},   {1000, "1s"},     {90000, "90s"},
                 {3600000, "1h"}, {5400000, "90m"}, {86400000, "1d"}, {1001, "1001ms"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_buf_t b = {0};
        ks_format_duration(&b, cases[i].ms);
        assert_string_equal(b.data, cases[i].text);
        ks_buf_free(&b);
    }
}

static void clocks_move_forward(void **state)
{
    (void)state;
    uint64_t m0 = ks_mono_ms(), w0 = ks_now_ms();
    assert_true(w0 > UINT64_C(1600000000000)); /* after 2020 */
    assert_true(ks_mono_ms() >= m0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(be64_is_most_significant_byte_first),
        cmocka_unit_test(be64_negative_is_twos_complement),
        cmocka_unit_test(be_load_and_store_use_n_bytes),
        cmocka_unit_test(parse_duration_units),
        cmocka_unit_test(parse_duration_refuses_bad_text),
        cmocka_unit_test(format_duration_uses_the_largest_unit_that_divides),
        cmocka_unit_test(clocks_move_forward),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
