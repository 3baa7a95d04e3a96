/*
 * test_json.c: the JSON parser and writer, and the value type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/json/json.h"

static char *roundtrip(const char *in)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(in, strlen(in), &v, err, sizeof err))
        return NULL;
    char *s = ks_json_dump(v);
    ks_val_release(v);
    return s;
}

static void assert_roundtrip(const char *in, const char *want)
{
    char *got = roundtrip(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void numbers_print_like_jq(void **state)
{
    (void)state;
    assert_roundtrip("1e17", "1e+17");
    assert_roundtrip("1e16", "1e+16");
    assert_roundtrip("1000000", "1000000");
    assert_roundtrip("0.1", "0.1");
    assert_roundtrip("3.0", "3");
    assert_roundtrip("1e-5", "1e-05");
    assert_roundtrip("0.0001", "0.0001");
    assert_roundtrip("1.5e300", "1.5e+300");
    assert_roundtrip("-0", "-0");
    assert_roundtrip("1e1000", "1.7976931348623157e+308");
    assert_roundtrip("1000000000000000.5", "1000000000000000.5");
    assert_roundtrip("123e-20", "1.23e-18");
}

static void big_integers_keep_their_digits(void **state)
{
    (void)state;
    assert_roundtrip("9007199254740993", "9007199254740993");
    assert_roundtrip("-9223372036854775808", "-9223372036854775808");
    assert_roundtrip("18446744073709551615", "18446744073709551615");
    assert_roundtrip("{\"id\":1234567890123456789}", "{\"id\":1234567890123456789}");
    /* Past 64 bits there is nothing exact to keep: a double, as in jq 1.6. */
    assert_roundtrip("100000000000000000000", "1e+20");
    ks_val a, b;
    char err[100];
    assert_int_equal(ks_json_parse("9007199254740993", 16, &a, err, sizeof err), 0);
    assert_int_equal(ks_json_parse("9007199254740992", 16, &b, err, sizeof err), 0);
    assert_true(ks_val_cmp(a, b) > 0); /* exact comparison, not rounded to the same double */
    /* exact integers made by code (counts, window bounds) write their digits too */
    const struct {
        ks_val v;
        const char *text;
    } ints[] = {{ks_num_i64(0), "0"},
                {ks_num_i64(-1), "-1"},
                {ks_num_i64(1718064000000), "1718064000000"},
                {ks_num_i64(INT64_MIN), "-9223372036854775808"},
                {ks_num_i64(INT64_MAX), "9223372036854775807"},
                {ks_num_u64(UINT64_MAX), "18446744073709551615"}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        ks_buf_t out = {0};
        ks_json_write(&out, ints[i].v);
        ks_buf_putc(&out, 0);
        assert_string_equal(out.data, ints[i].text);
        ks_buf_free(&out);
    }
}

static void strings_escape_like_jq(void **state)
{
    (void)state;
    assert_roundtrip("\"\\u007f\\u0001/\\u00e9\"", "\"\\u007f\\u0001/\xc3\xa9\"");
    assert_roundtrip("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    assert_roundtrip("\"\xff\xfe"
                     "ab\"",
                     "\"\xef\xbf\xbd\xef\xbf\xbd"
                     "ab\"");
    assert_roundtrip("\"tab\\there\\n\"", "\"tab\\there\\n\"");
}

static void objects_keep_order_and_last_duplicate(void **state)
{
    (void)state;
    assert_roundtrip("{\"b\":1,\"a\":2}", "{\"b\":1,\"a\":2}");
    assert_roundtrip("{\"a\":1,\"a\":2}", "{\"a\":2}");
    assert_roundtrip(" [ 1 , [ ] , { } , null , true , false ] ", "[1,[],{},null,true,false]");
}

static void malformed_input_is_an_error_with_a_position(void **state)
{
    (void)state;
    const char *bad[] = {"", "[1,2", "{a:1}", "\"abc", "1 2", "tru", "[1,]", "\"\\ud800\"", "-", "01x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_val v;
        char err[200] = "";
        assert_int_equal(ks_json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err), -1);
        assert_non_null(strstr(err, "line 1, column"));
    }
}

static void deep_nesting_is_refused_not_a_crash(void **state)
{
    (void)state;
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[n] = 0;
    ks_val v;
    char err[200];
    assert_int_equal(ks_json_parse(s, n, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "depth"));
    free(s);
}

static void a_stream_of_values_parses_one_at_a_time(void **state)
{
    (void)state;
    const char *in = "1 {\"a\":2}\n[3]  ";
    size_t pos = 0, n = 0;
    ks_val v;
    char err[100];
    for (;;) {
        assert_int_equal(ks_json_parse_next(in, strlen(in), &pos, &v, err, sizeof err), 0);
        if (v.kind == KS_INVALID)
            break;
        n++;
        ks_val_release(v);
    }
    assert_int_equal(n, 3);
}

static void unterminated_buffers_are_not_overread(void **state)
{
    (void)state;
    /* A Kafka payload is not NUL-terminated: the number ends at the buffer's end. */
    char *buf = malloc(3);
    memcpy(buf, "123", 3);
    ks_val v;
    char err[100];
    assert_int_equal(ks_json_parse(buf, 3, &v, err, sizeof err), 0);
    assert_true(ks_num_get(v) == 123);
    free(buf);
}

static void copy_on_write_leaves_shared_values_alone(void **state)
{
    (void)state;
    ks_val a = ks_arr_new(1);
    ks_arr_push(&a, ks_num(1));
    ks_val b = ks_val_retain(a);
    ks_arr_push(&b, ks_num(2));
    assert_int_equal(ks_arr_len(a), 1);
    assert_int_equal(ks_arr_len(b), 2);
    ks_val_release(a);
    ks_val_release(b);
}

static void sort_order_is_jqs(void **state)
{
    (void)state;
    const char *in = "[{\"a\":1},[1],\"b\",\"a\",2,1,true,false,null]";
    ks_val v;
    char err[100];
    assert_int_equal(ks_json_parse(in, strlen(in), &v, err, sizeof err), 0);
    ks_val_sort(v.a->items, v.a->len);
    char *s = ks_json_dump(v);
    assert_string_equal(s, "[null,false,true,1,2,\"a\",\"b\",[1],{\"a\":1}]");
    free(s);
    ks_val_release(v);
}

/* ks_json_field: one field's text, the rest checked whole; the last duplicate wins, as when parsing. */
static void one_field_is_found_without_parsing_the_rest(void **state)
{
    (void)state;
    size_t off = 0, len = 0;
    const char *in = " {\"id\":\"o1\", \"customerId\" : \"c7\", \"items\":[{\"customerId\":1}]} ";
    assert_int_equal(ks_json_field(in, strlen(in), "customerId", &off, &len), 2);
    assert_int_equal(len, 4);
    assert_memory_equal(in + off, "\"c7\"", 4);
    in = "{\"a\":1,\"a\":{\"b\":[2]}}";
    assert_int_equal(ks_json_field(in, strlen(in), "a", &off, &len), 2);
    assert_memory_equal(in + off, "{\"b\":[2]}", len);
    in = "{\"cust\\u006fmer\":true}"; /* an escaped key is compared decoded */
    assert_int_equal(ks_json_field(in, strlen(in), "custommer", &off, &len), 1);
    assert_int_equal(ks_json_field(in, strlen(in), "custoomer", &off, &len), 1);
    assert_int_equal(ks_json_field(in, strlen(in),
                                   "cust"
                                   "omer",
                                   &off, &len),
                     2);
    assert_memory_equal(in + off, "true", 4);
    assert_int_equal(ks_json_field("{}", 2, "a", &off, &len), 1);
    assert_int_equal(ks_json_field("[1]", 3, "a", &off, &len), 0);
    assert_int_equal(ks_json_field("null", 4, "a", &off, &len), 0);
    /* Anything malformed, before or after the field, is -1. */
    const char *bad[] = {"{\"a\":1,}", "{\"a\":1} x", "{\"b\":[1,}, \"a\":1}", "{\"a\":1, \"b\":\"\\q\"}", "{\"a\"1}",
                         "{",          "[1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(ks_json_field(bad[i], strlen(bad[i]), "a", &off, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_print_like_jq),
        cmocka_unit_test(big_integers_keep_their_digits),
        cmocka_unit_test(strings_escape_like_jq),
        cmocka_unit_test(objects_keep_order_and_last_duplicate),
        cmocka_unit_test(malformed_input_is_an_error_with_a_position),
        cmocka_unit_test(deep_nesting_is_refused_not_a_crash),
        cmocka_unit_test(a_stream_of_values_parses_one_at_a_time),
        cmocka_unit_test(unterminated_buffers_are_not_overread),
        cmocka_unit_test(copy_on_write_leaves_shared_values_alone),
        cmocka_unit_test(sort_order_is_jqs),
        cmocka_unit_test(one_field_is_found_without_parsing_the_rest),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
