/*
 * test_serde.c: the serdes' byte layouts, which must match Java's
 * org.apache.kafka.common.serialization classes byte for byte, their error
 * messages, Kafka nulls, and the default partitioner's murmur2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/json/json.h"
#include "../../src/serde/serde.h"

#define NSERDES 11

static ks_val J(const char *s)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(s, strlen(s), &v, err, sizeof err))
        fail_msg("bad JSON in test: %s", err);
    return v;
}

/* Encodes JSON text; returns lowercase hex ("" for no bytes), "NULL" for a Kafka null, or "ERROR: msg". */
static char *enc(ks_serde_t s, const char *json)
{
    ks_val v = J(json);
    ks_buf_t out = {0}, res = {0};
    char err[200];
    int is_null = -1;
    if (ks_serde_encode(s, v, &out, &is_null, err, sizeof err) == 0) {
        assert_true(is_null == 0 || is_null == 1);
        if (is_null) {
            assert_int_equal(out.len, 0);
            ks_buf_puts(&res, "NULL");
        }
        for (size_t i = 0; i < out.len; i++)
            ks_buf_printf(&res, "%s%02x", i ? " " : "", (unsigned char)out.data[i]);
    } else {
        assert_int_equal(out.len, 0); /* a failed encode appends nothing */
        ks_buf_printf(&res, "ERROR: %s", err);
    }
    ks_val_release(v);
    ks_buf_free(&out);
    return ks_buf_steal(&res);
}

/* Decodes bytes; returns the value's JSON text or "ERROR: msg". */
static char *dec(ks_serde_t s, const void *data, size_t len)
{
    ks_val v;
    char err[200];
    if (ks_serde_decode(s, data, len, &v, err, sizeof err) != 0) {
        assert_false(ks_is_valid(v));
        ks_buf_t res = {0};
        ks_buf_printf(&res, "ERROR: %s", err);
        return ks_buf_steal(&res);
    }
    char *t = ks_json_dump(v);
    ks_val_release(v);
    return t;
}

#define ASSERT_ENC(serde, json, expected)                                                                              \
    do {                                                                                                               \
        char *got_ = enc(serde, json);                                                                                 \
        assert_string_equal(got_, expected);                                                                           \
        free(got_);                                                                                                    \
    } while (0)

#define ASSERT_DEC(serde, data, len, expected)                                                                         \
    do {                                                                                                               \
        char *got_ = dec(serde, data, len);                                                                            \
        assert_string_equal(got_, expected);                                                                           \
        free(got_);                                                                                                    \
    } while (0)

/* Encodes json, decodes the bytes, and checks the value printed back is the same text. */
static void assert_round_trip(ks_serde_t s, const char *json)
{
    ks_val v = J(json), back;
    ks_buf_t out = {0};
    char err[200];
    int is_null;
    assert_int_equal(ks_serde_encode(s, v, &out, &is_null, err, sizeof err), 0);
    assert_int_equal(is_null, 0);
    assert_int_equal(ks_serde_decode(s, out.data ? out.data : "", out.len, &back, err, sizeof err), 0);
    char *t = ks_json_dump(back);
    assert_string_equal(t, json);
    free(t);
    ks_val_release(back);
    ks_val_release(v);
    ks_buf_free(&out);
}

static void names_map_both_ways_and_unknown_is_refused(void **state)
{
    (void)state;
    int n = 0;
    for (; ks_serde_names[n]; n++) {
        ks_serde_t s;
        assert_int_equal(ks_serde_from_name(ks_serde_names[n], &s), 0);
        assert_int_equal(s, n);
        assert_string_equal(ks_serde_name(s), ks_serde_names[n]);
    }
    assert_int_equal(n, NSERDES);
    ks_serde_t s = KS_SERDE_JSON;
    assert_int_equal(ks_serde_from_name("long", &s), 0);
    assert_int_equal(s, KS_SERDE_LONG);
    assert_int_equal(ks_serde_from_name("Long", &s), -1);
    assert_int_equal(ks_serde_from_name("avro", &s), -1);
    assert_int_equal(ks_serde_from_name("", &s), -1);
    assert_string_equal(ks_serde_name((ks_serde_t)99), "unknown");
}

static void kafka_null_decodes_to_null_for_every_serde(void **state)
{
    (void)state;
    for (int s = 0; s < NSERDES; s++)
        ASSERT_DEC((ks_serde_t)s, NULL, 0, "null");
}

static void json_null_encodes_as_kafka_null_for_every_serde(void **state)
{
    (void)state;
    for (int s = 0; s < NSERDES; s++)
        ASSERT_ENC((ks_serde_t)s, "null", "NULL");
}

static void string_is_utf8_bytes_and_round_trips(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_STRING, "\"h\\u00e9\"", "68 c3 a9");
    ASSERT_ENC(KS_SERDE_STRING, "\"\"", "");
    ASSERT_DEC(KS_SERDE_STRING, "h\xc3\xa9", 3, "\"h\xc3\xa9\"");
    ASSERT_DEC(KS_SERDE_STRING, "", 0, "\"\"");
    assert_round_trip(KS_SERDE_STRING, "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\\"quoted\\\"\"");
    /* A NUL byte is part of a Java string too. */
    ks_val v;
    assert_int_equal(ks_serde_decode(KS_SERDE_STRING, "a\0b", 3, &v, NULL, 0), 0);
    assert_int_equal(ks_str_len(v), 3);
    ks_val_release(v);
}

static void string_invalid_utf8_becomes_replacement_chars_like_java(void **state)
{
    (void)state;
    /* Expected counts of U+FFFD are what `new String(bytes, UTF_8)` gives on JDK 17. */
    ASSERT_DEC(KS_SERDE_STRING,
               "a\xff"
               "b",
               3,
               "\"a\xef\xbf\xbd"
               "b\"");
    ASSERT_DEC(KS_SERDE_STRING, "\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong: two */
    ASSERT_DEC(KS_SERDE_STRING, "x\xe2\x82", 3, "\"x\xef\xbf\xbd\"");           /* truncated at end: one */
    ASSERT_DEC(KS_SERDE_STRING, "\xe2\x82x", 3, "\"\xef\xbf\xbdx\"");           /* truncated inside: one */
    ASSERT_DEC(KS_SERDE_STRING, "\xed\xa0\x80", 3, "\"\xef\xbf\xbd\"");         /* a surrogate: one */
    ASSERT_DEC(KS_SERDE_STRING, "\xf0\x80\x80\x80", 4,
               "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* overlong 4-byte: four */
    ASSERT_DEC(KS_SERDE_STRING, "\xf4\x90\x80\x80", 4,
               "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""); /* past U+10FFFF: four */
    ASSERT_DEC(KS_SERDE_STRING, "\xf0\x9f\x98", 3, "\"\xef\xbf\xbd\""); /* truncated emoji: one */
}

static void string_serde_refuses_non_strings_like_a_class_cast(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_STRING, "42", "ERROR: string serde cannot hold a number");
    ASSERT_ENC(KS_SERDE_STRING, "true", "ERROR: string serde cannot hold a boolean");
    ASSERT_ENC(KS_SERDE_STRING, "{\"a\":1}", "ERROR: string serde cannot hold an object");
    ASSERT_ENC(KS_SERDE_STRING, "[1]", "ERROR: string serde cannot hold an array");
}

static void json_is_compact_text_and_round_trips(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_JSON, "{ \"a\" : [1, 2] }", "7b 22 61 22 3a 5b 31 2c 32 5d 7d"); /* {"a":[1,2]} */
    ASSERT_ENC(KS_SERDE_JSON, "\"s\"", "22 73 22");
    ASSERT_DEC(KS_SERDE_JSON, " {\"b\": true, \"a\": null} ", 24, "{\"b\":true,\"a\":null}");
    assert_round_trip(KS_SERDE_JSON, "{\"id\":9007199254740993,\"xs\":[1.5,\"x\",false,null],\"o\":{}}");
    assert_round_trip(KS_SERDE_JSON, "0");
}

static void json_malformed_or_empty_payload_is_an_error(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_JSON, "{\"a\":", 5, "ERROR: invalid JSON: Unfinished JSON term at line 1, column 6");
    ASSERT_DEC(KS_SERDE_JSON, "{} x", 4, "ERROR: invalid JSON: Unexpected extra JSON values at line 1, column 4");
    ASSERT_DEC(KS_SERDE_JSON, "", 0, "ERROR: invalid JSON: empty payload");
    /* The payload is not NUL-terminated: only len bytes are read. */
    ASSERT_DEC(KS_SERDE_JSON, "123456", 3, "123");
}

static void long_is_8_bytes_big_endian_twos_complement(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_LONG, "1", "00 00 00 00 00 00 00 01");
    ASSERT_ENC(KS_SERDE_LONG, "-1", "ff ff ff ff ff ff ff ff");
    ASSERT_ENC(KS_SERDE_LONG, "258", "00 00 00 00 00 00 01 02");
    ASSERT_ENC(KS_SERDE_LONG, "0", "00 00 00 00 00 00 00 00");
    ASSERT_ENC(KS_SERDE_LONG, "-0", "00 00 00 00 00 00 00 00");
    ASSERT_ENC(KS_SERDE_LONG, "1e3", "00 00 00 00 00 00 03 e8"); /* integral, though written as a double */
    ASSERT_ENC(KS_SERDE_LONG, "9223372036854775807", "7f ff ff ff ff ff ff ff");
    ASSERT_ENC(KS_SERDE_LONG, "-9223372036854775808", "80 00 00 00 00 00 00 00");
    ASSERT_DEC(KS_SERDE_LONG, "\0\0\0\0\0\0\x01\x02", 8, "258");
    ASSERT_DEC(KS_SERDE_LONG, "\xff\xff\xff\xff\xff\xff\xff\xfe", 8, "-2");
    ASSERT_DEC(KS_SERDE_LONG, "\x80\0\0\0\0\0\0\0", 8, "-9223372036854775808");
    assert_round_trip(KS_SERDE_LONG, "1700000000000");
    assert_round_trip(KS_SERDE_LONG, "-42");
}

static void long_exact_big_integers_round_trip_exactly(void **state)
{
    (void)state;
    /* 2^53 + 1: a double would round it to ...992. */
    ASSERT_ENC(KS_SERDE_LONG, "9007199254740993", "00 20 00 00 00 00 00 01");
    ASSERT_DEC(KS_SERDE_LONG, "\x00\x20\0\0\0\0\0\x01", 8, "9007199254740993");
    assert_round_trip(KS_SERDE_LONG, "9007199254740993");
    assert_round_trip(KS_SERDE_LONG, "-9007199254740993");
    assert_round_trip(KS_SERDE_LONG, "9223372036854775807");
    /* The decoded value carries the exact flag, so it survives further serdes. */
    ks_val v;
    assert_int_equal(ks_serde_decode(KS_SERDE_LONG, "\x00\x20\0\0\0\0\0\x01", 8, &v, NULL, 0), 0);
    assert_int_equal(v.exact, KS_EXACT_I64);
    assert_true(v.i == INT64_C(9007199254740993));
}

static void long_wrong_size_is_javas_error(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_LONG, "\0\0\0\x01", 4, "ERROR: Size of data received by LongDeserializer is not 8");
    ASSERT_DEC(KS_SERDE_LONG, "\0\0\0\0\0\0\0\0\0", 9, "ERROR: Size of data received by LongDeserializer is not 8");
    ASSERT_DEC(KS_SERDE_LONG, "", 0, "ERROR: Size of data received by LongDeserializer is not 8");
}

static void long_refuses_fractions_out_of_range_and_other_kinds(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_LONG, "1.5", "ERROR: long serde needs an integer, got 1.5");
    ASSERT_ENC(KS_SERDE_LONG, "\"1\"", "ERROR: long serde cannot hold a string");
    ASSERT_ENC(KS_SERDE_LONG, "true", "ERROR: long serde cannot hold a boolean");
    ASSERT_ENC(KS_SERDE_LONG, "9223372036854775808",
               "ERROR: long serde needs a 64-bit integer, got 9223372036854775808");
    ASSERT_ENC(KS_SERDE_LONG, "1e19", "ERROR: long serde needs a 64-bit integer, got 1e+19");
    ASSERT_ENC(KS_SERDE_LONG, "-1e19", "ERROR: long serde needs a 64-bit integer, got -1e+19");
}

static void int_is_4_bytes_big_endian(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_INT, "258", "00 00 01 02");
    ASSERT_ENC(KS_SERDE_INT, "-1", "ff ff ff ff");
    ASSERT_ENC(KS_SERDE_INT, "2147483647", "7f ff ff ff");
    ASSERT_ENC(KS_SERDE_INT, "-2147483648", "80 00 00 00");
    ASSERT_DEC(KS_SERDE_INT, "\0\0\x01\x02", 4, "258");
    ASSERT_DEC(KS_SERDE_INT, "\x80\0\0\0", 4, "-2147483648");
    assert_round_trip(KS_SERDE_INT, "-7");
    ASSERT_ENC(KS_SERDE_INT, "2147483648", "ERROR: int serde needs a 32-bit integer, got 2147483648");
    ASSERT_ENC(KS_SERDE_INT, "9007199254740993", "ERROR: int serde needs a 32-bit integer, got 9007199254740993");
    ASSERT_ENC(KS_SERDE_INT, "0.5", "ERROR: int serde needs an integer, got 0.5");
}

static void int_wrong_size_is_javas_error(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_INT, "\0\0\0\0\0\0\0\x01", 8, "ERROR: Size of data received by IntegerDeserializer is not 4");
    ASSERT_DEC(KS_SERDE_INT, "\x01", 1, "ERROR: Size of data received by IntegerDeserializer is not 4");
}

static void double_is_ieee754_big_endian(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_DOUBLE, "1.5", "3f f8 00 00 00 00 00 00");
    ASSERT_ENC(KS_SERDE_DOUBLE, "1", "3f f0 00 00 00 00 00 00");
    ASSERT_ENC(KS_SERDE_DOUBLE, "-2", "c0 00 00 00 00 00 00 00");
    ASSERT_ENC(KS_SERDE_DOUBLE, "0", "00 00 00 00 00 00 00 00");
    ASSERT_DEC(KS_SERDE_DOUBLE, "\x3f\xf8\0\0\0\0\0\0", 8, "1.5");
    ASSERT_DEC(KS_SERDE_DOUBLE, "\x40\x09\x21\xfb\x54\x44\x2d\x18", 8, "3.141592653589793");
    assert_round_trip(KS_SERDE_DOUBLE, "0.1");
    assert_round_trip(KS_SERDE_DOUBLE, "-1e-05");
    ASSERT_ENC(KS_SERDE_DOUBLE, "\"1.5\"", "ERROR: double serde cannot hold a string");
}

static void double_nan_encodes_as_javas_canonical_nan(void **state)
{
    (void)state;
    ks_buf_t out = {0};
    int is_null;
    assert_int_equal(ks_serde_encode(KS_SERDE_DOUBLE, ks_num(-NAN), &out, &is_null, NULL, 0), 0);
    assert_int_equal(out.len, 8);
    assert_memory_equal(out.data, "\x7f\xf8\0\0\0\0\0\0", 8);
    ks_buf_free(&out);
}

static void double_wrong_size_is_javas_error(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_DOUBLE, "\x3f\xf8\0\0", 4, "ERROR: Size of data received by DoubleDeserializer is not 8");
    ASSERT_DEC(KS_SERDE_DOUBLE, "", 0, "ERROR: Size of data received by DoubleDeserializer is not 8");
}

static void bytes_decode_to_a_base64_string(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_BYTES, "", 0, "\"\"");
    ASSERT_DEC(KS_SERDE_BYTES, "f", 1, "\"Zg==\"");
    ASSERT_DEC(KS_SERDE_BYTES, "fo", 2, "\"Zm8=\"");
    ASSERT_DEC(KS_SERDE_BYTES, "foo", 3, "\"Zm9v\"");
    ASSERT_DEC(KS_SERDE_BYTES, "foobar", 6, "\"Zm9vYmFy\"");
    ASSERT_DEC(KS_SERDE_BYTES, "\x00\xff\xfe", 3, "\"AP/+\"");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm9vYg==\"", "66 6f 6f 62");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm9vYg\"", "66 6f 6f 62"); /* padding is optional */
    ASSERT_ENC(KS_SERDE_BYTES, "\"\"", "");
}

static void bytes_round_trip_every_byte_value(void **state)
{
    (void)state;
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    for (size_t len = 0; len <= sizeof all; len += 37) {
        ks_val v;
        ks_buf_t out = {0};
        int is_null;
        assert_int_equal(ks_serde_decode(KS_SERDE_BYTES, all, len, &v, NULL, 0), 0);
        assert_int_equal(ks_serde_encode(KS_SERDE_BYTES, v, &out, &is_null, NULL, 0), 0);
        assert_int_equal(out.len, len);
        if (len)
            assert_memory_equal(out.data, all, len);
        ks_val_release(v);
        ks_buf_free(&out);
    }
}

static void bytes_encode_refuses_invalid_base64(void **state)
{
    (void)state;
#define B64_ERR "ERROR: bytes serde needs a base64 string, got "
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm9v!\"", B64_ERR "invalid character at offset 4");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm 9v\"", B64_ERR "invalid character at offset 2");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm9_\"", B64_ERR "invalid character at offset 3");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Z=m9\"", B64_ERR "invalid character at offset 1");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zm9vY\"", B64_ERR "a truncated one of length 5");
    ASSERT_ENC(KS_SERDE_BYTES, "\"Zg=\"", B64_ERR "a truncated one of length 3");
    ASSERT_ENC(KS_SERDE_BYTES, "12", "ERROR: bytes serde cannot hold a number");
}

static void void_decodes_only_a_kafka_null(void **state)
{
    (void)state;
    ASSERT_DEC(KS_SERDE_VOID, NULL, 0, "null");
    ASSERT_DEC(KS_SERDE_VOID, "x", 1, "ERROR: Data should be null for a VoidDeserializer.");
    /* Java refuses an empty array too: only null is null. */
    ASSERT_DEC(KS_SERDE_VOID, "", 0, "ERROR: Data should be null for a VoidDeserializer.");
}

static void void_encodes_only_null(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_VOID, "null", "NULL");
    ASSERT_ENC(KS_SERDE_VOID, "0", "ERROR: void serde cannot hold a number");
    ASSERT_ENC(KS_SERDE_VOID, "\"\"", "ERROR: void serde cannot hold a string");
}

static void failed_encode_leaves_the_buffer_as_it_was(void **state)
{
    (void)state;
    ks_buf_t out = {0};
    int is_null = 7;
    char err[100];
    ks_buf_puts(&out, "prefix");
    ks_val v = J("\"Zm9vY\"");
    assert_int_equal(ks_serde_encode(KS_SERDE_BYTES, v, &out, &is_null, err, sizeof err), -1);
    ks_val_release(v);
    assert_int_equal(ks_serde_encode(KS_SERDE_LONG, ks_num(0.25), &out, &is_null, err, sizeof err), -1);
    assert_string_equal(out.data, "prefix");
    /* A successful encode appends after what is there. */
    assert_int_equal(ks_serde_encode(KS_SERDE_INT, ks_num(65), &out, &is_null, err, sizeof err), 0);
    assert_int_equal(is_null, 0);
    assert_int_equal(out.len, 10);
    assert_memory_equal(out.data, "prefix\0\0\0A", 10);
    ks_buf_free(&out);
}

static void murmur3_128_matches_kafka_streams(void **state)
{
    (void)state;
    /*
     * Computed with Kafka Streams 4.4.0's own
     * org.apache.kafka.streams.state.internals.Murmur3.hash128(byte[]):
     * the empty input, a tail only, one block and a tail past 8 bytes.
     */
    static const struct {
        const char *data;
        uint64_t h1, h2;
    } cases[] = {
        {"", 0x9d2764a018e32942ULL, 0x8c3cf3b035938518ULL},
        {"a", 0x3361634e7e0f5188ULL, 0xe9c7dda24eae326bULL},
        {"{\"id\":\"o1\",\"customerId\":\"c1\"}", 0x881f6418f243f6bbULL, 0xabd591fbc3f3e1ebULL},
        {"0123456789abcdef0123", 0x15504d98f9c4f8acULL, 0x6d858389ae5c559eULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t h[2];
        ks_murmur3_128(cases[i].data, strlen(cases[i].data), h);
        assert_true(h[0] == cases[i].h1);
        assert_true(h[1] == cases[i].h2);
    }
}

static void murmur2_matches_kafka_utils_test_vectors(void **state)
{
    (void)state;
    /*
     * From Kafka's own test, apache/kafka
     * clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
     * testMurmur2() (commit f55581dc73953c3509a4702433aeeeddc2970779).
     */
    static const struct {
        const char *key;
        int32_t hash;
    } cases[] = {
        {"21", -973932308},
        {"foobar", -790332482},
        {"a-little-bit-long-string", -985981536},
        {"a-little-bit-longer-string", -1486304829},
        {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
        {"abc", 479470107}, /* new byte[] {'a', 'b', 'c'} */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(ks_murmur2(cases[i].key, strlen(cases[i].key)), cases[i].hash);
}

static void partition_for_key_is_positive_murmur2_modulo_partitions(void **state)
{
    (void)state;
    /*
     * Derived by hand from the murmur2 vectors above, as Java's
     * Utils.toPositive(murmur2(key)) % n:
     *   "21":     -973932308 & 0x7fffffff = 1173551340; % 4 = 0, % 10 = 0
     *   "foobar": -790332482 & 0x7fffffff = 1357151166; % 4 = 2, % 10 = 6, % 12 = 6
     *   "abc":     479470107 (already positive);        % 4 = 3, % 10 = 7, % 6 = 3
     *   "a-little-bit-long-string": -985981536 & 0x7fffffff = 1161502112; % 3 = 2, % 12 = 8
     */
    assert_int_equal(ks_partition_for_key("21", 2, 4), 0);
    assert_int_equal(ks_partition_for_key("21", 2, 10), 0);
    assert_int_equal(ks_partition_for_key("foobar", 6, 4), 2);
    assert_int_equal(ks_partition_for_key("foobar", 6, 10), 6);
    assert_int_equal(ks_partition_for_key("foobar", 6, 12), 6);
    assert_int_equal(ks_partition_for_key("abc", 3, 4), 3);
    assert_int_equal(ks_partition_for_key("abc", 3, 10), 7);
    assert_int_equal(ks_partition_for_key("abc", 3, 6), 3);
    assert_int_equal(ks_partition_for_key("a-little-bit-long-string", 24, 3), 2);
    assert_int_equal(ks_partition_for_key("a-little-bit-long-string", 24, 12), 8);
    assert_int_equal(ks_partition_for_key("abc", 3, 1), 0);
    assert_int_equal(ks_partition_for_key("abc", 3, 0), -1);
    /* An empty (non-null) key hashes like any other. */
    assert_in_range(ks_partition_for_key("", 0, 5), 0, 4);
}

static void can_hold_table_says_which_kinds_each_serde_writes(void **state)
{
    (void)state;
    /* Rows: serdes in enum order; columns: null false true number string array object. */
    static const char *const table[NSERDES] = {
        [KS_SERDE_STRING] = "1000100",        [KS_SERDE_JSON] = "1111111",
        [KS_SERDE_LONG] = "1001000",          [KS_SERDE_INT] = "1001000",
        [KS_SERDE_DOUBLE] = "1001000",        [KS_SERDE_BYTES] = "1000100",
        [KS_SERDE_VOID] = "1000000",          [KS_SERDE_WINDOWED_STRING] = "1000001",
        [KS_SERDE_WINDOWED_LONG] = "1000001", [KS_SERDE_SESSION_STRING] = "1000001",
        [KS_SERDE_SESSION_LONG] = "1000001",
    };
    for (int s = 0; s < NSERDES; s++) {
        char row[8] = {0};
        for (int k = KS_NULL; k <= KS_OBJECT; k++)
            row[k - KS_NULL] = ks_serde_can_hold((ks_serde_t)s, (ks_kind_t)k) ? '1' : '0';
        assert_string_equal(row, table[s]);
        assert_false(ks_serde_can_hold((ks_serde_t)s, KS_INVALID));
    }
}

/* Kafka Streams' WindowedSerdes: TimeWindowedSerializer writes the inner key then the start; SessionWindowed, end then
 * start. */
static void windowed_keys_are_kafka_streams_windowed_serdes(void **state)
{
    (void)state;
    ASSERT_ENC(KS_SERDE_WINDOWED_STRING, "{\"key\":\"ab\",\"window\":{\"start\":10000,\"end\":20000}}",
               "61 62 00 00 00 00 00 00 27 10");
    ASSERT_ENC(KS_SERDE_WINDOWED_LONG, "{\"key\":7,\"window\":{\"start\":1}}",
               "00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 01");
    ASSERT_ENC(KS_SERDE_SESSION_STRING, "{\"key\":\"a\",\"window\":{\"start\":1,\"end\":2}}",
               "61 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 01");
    ASSERT_DEC(KS_SERDE_WINDOWED_STRING, "ab\0\0\0\0\0\0\x27\x10", 10, "{\"key\":\"ab\",\"window\":{\"start\":10000}}");
    ASSERT_DEC(KS_SERDE_SESSION_STRING, "a\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0\1", 17,
               "{\"key\":\"a\",\"window\":{\"start\":1,\"end\":2}}");
    assert_round_trip(KS_SERDE_SESSION_LONG, "{\"key\":-5,\"window\":{\"start\":1,\"end\":2}}");
    ASSERT_DEC(KS_SERDE_WINDOWED_LONG, "\0\0\0", 3, "ERROR: a windowed key needs at least 8 bytes, got 3");
    ASSERT_ENC(KS_SERDE_SESSION_STRING, "{\"key\":\"a\",\"window\":{\"start\":1}}",
               "ERROR: session-windowed-string serde needs {key, window: {start, end}}");
    ASSERT_ENC(KS_SERDE_WINDOWED_STRING, "{\"key\":1,\"window\":{\"start\":1}}",
               "ERROR: string serde cannot hold a number");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_map_both_ways_and_unknown_is_refused),
        cmocka_unit_test(windowed_keys_are_kafka_streams_windowed_serdes),
        cmocka_unit_test(kafka_null_decodes_to_null_for_every_serde),
        cmocka_unit_test(json_null_encodes_as_kafka_null_for_every_serde),
        cmocka_unit_test(string_is_utf8_bytes_and_round_trips),
        cmocka_unit_test(string_invalid_utf8_becomes_replacement_chars_like_java),
        cmocka_unit_test(string_serde_refuses_non_strings_like_a_class_cast),
        cmocka_unit_test(json_is_compact_text_and_round_trips),
        cmocka_unit_test(json_malformed_or_empty_payload_is_an_error),
        cmocka_unit_test(long_is_8_bytes_big_endian_twos_complement),
        cmocka_unit_test(long_exact_big_integers_round_trip_exactly),
        cmocka_unit_test(long_wrong_size_is_javas_error),
        cmocka_unit_test(long_refuses_fractions_out_of_range_and_other_kinds),
        cmocka_unit_test(int_is_4_bytes_big_endian),
        cmocka_unit_test(int_wrong_size_is_javas_error),
        cmocka_unit_test(double_is_ieee754_big_endian),
        cmocka_unit_test(double_nan_encodes_as_javas_canonical_nan),
        cmocka_unit_test(double_wrong_size_is_javas_error),
        cmocka_unit_test(bytes_decode_to_a_base64_string),
        cmocka_unit_test(bytes_round_trip_every_byte_value),
        cmocka_unit_test(bytes_encode_refuses_invalid_base64),
        cmocka_unit_test(void_decodes_only_a_kafka_null),
        cmocka_unit_test(void_encodes_only_null),
        cmocka_unit_test(failed_encode_leaves_the_buffer_as_it_was),
        cmocka_unit_test(murmur3_128_matches_kafka_streams),
        cmocka_unit_test(murmur2_matches_kafka_utils_test_vectors),
        cmocka_unit_test(partition_for_key_is_positive_murmur2_modulo_partitions),
        cmocka_unit_test(can_hold_table_says_which_kinds_each_serde_writes),
    };
    return cmocka_run_group_tests_name("serde", tests, NULL, NULL);
}
