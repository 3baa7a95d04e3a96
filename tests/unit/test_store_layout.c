/*
 * test_store_layout.c: the bytes of state-store entries and changelog
 * records (src/engine/store_codec.c), and the order LMDB keeps them in:
 * key-value keys, window keys (the key's JSON text, `\0`, the window start
 * as 8 big-endian bytes), session keys (start, then end), timestamped
 * values, suppression buffer entries; a changelog record restored with
 * ks_engine_restore_record gives back the stored bytes, and
 * ks_engine_decode_entry reads each layout back.
 *
 * Kafka Streams' own WindowKeySchema is key bytes, the start (8 bytes) and
 * a sequence number (4 bytes), and its SessionKeySchema key bytes, end,
 * start; kstreamd's layout differs (the README's "State" section) and is
 * what these tests pin, so that a change of it is deliberate.
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

#include "../../src/engine/state_int.h"
#include "../../src/engine/store_codec.h"
#include "../../src/json/json.h"
#include "../../src/store/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ks-layout-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static ks_val J(const char *s)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(s, strlen(s), &v, err, sizeof err))
        fail_msg("bad JSON in test: %s", err);
    return v;
}

static void kv_key_is_the_keys_json_text(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    ks_val k = J("{\"id\": 7, \"c\": \"x\"}");
    ks__st_key_text(&b, k);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, "{\"id\":7,\"c\":\"x\"}", 16);
    ks_val_release(k);
    ks_buf_free(&b);
}

static void window_key_is_text_nul_and_start_big_endian(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    ks_val k = J("\"a\"");
    ks__st_window_key(&b, k, INT64_C(0x0102030405060708), 99, 0); /* end is not written for windows */
    const char want[] = "\"a\"\0\x01\x02\x03\x04\x05\x06\x07\x08";
    assert_int_equal(b.len, 3 + KS__ST_WINDOW_SUFFIX);
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, b.len);
    int64_t start = 0, end = -1;
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 3, 0, &start, &end), 0);
    assert_int_equal(start, INT64_C(0x0102030405060708));
    assert_int_equal(end, -1);
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 2, 0, &start, &end), -1); /* wrong text length */
    ks_val_release(k);
    ks_buf_free(&b);
}

static void session_key_is_text_nul_start_then_end(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    ks_val k = J("1");
    ks__st_window_key(&b, k, 1000, 2500, 1);
    const char want[] = "1\0\0\0\0\0\0\0\x03\xe8\0\0\0\0\0\0\x09\xc4";
    assert_int_equal(b.len, 1 + KS__ST_SESSION_SUFFIX);
    assert_memory_equal(b.data, want, b.len);
    int64_t start = 0, end = 0, seg = 0;
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 1, 1, &start, &end), 0);
    assert_int_equal(start, 1000);
    assert_int_equal(end, 2500);
    /* Session stores are segmented by the session's end: the key's last 8 bytes. */
    assert_int_equal(ks__st_window_key_segment_time(b.data, b.len, &seg), 0);
    assert_int_equal(seg, 2500);
    ks_val_release(k);
    ks_buf_free(&b);
}

static void value_is_timestamp_big_endian_then_json(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    ks_val v = J("{\"n\": 3}");
    ks__st_enc_value(&b, v, 258);
    const char want[] = "\0\0\0\0\0\0\x01\x02{\"n\":3}";
    assert_int_equal(b.len, sizeof want - 1);
    assert_memory_equal(b.data, want, b.len);
    assert_int_equal(ks__st_value_ts(b.data), 258);
    /* A changelog record carries what follows the timestamp. */
    const void *lv;
    size_t ll;
    ks__st_log_value(b.data, b.len, &lv, &ll);
    assert_int_equal(ll, 7);
    assert_memory_equal(lv, "{\"n\":3}", 7);
    ks__st_log_value(NULL, 0, &lv, &ll);
    assert_null(lv);
    assert_int_equal(ll, 0);
    ks_val_release(v);
    ks_buf_free(&b);
}

static void suppress_entry_is_buffer_time_key_then_ts_btime_flag_value(void **state)
{
    (void)state;
    ks_buf_t text = {0}, kb = {0}, vb = {0};
    ks_val k = J("\"k\""), v = J("5");
    ks__st_key_text(&text, k);
    ks__st_sup_encode(&kb, &vb, 16, &text, 9, v);
    assert_int_equal(kb.len, KS__ST_SUP_KEY_HDR + 3);
    assert_memory_equal(kb.data, "\0\0\0\0\0\0\0\x10\"k\"", kb.len);
    assert_int_equal(vb.len, KS__ST_SUP_VALUE_HDR + 1);
    assert_memory_equal(vb.data, "\0\0\0\0\0\0\0\x09\0\0\0\0\0\0\0\x10\x01" "5", vb.len);
    assert_int_equal(ks__st_sup_btime(kb.data), 16);
    ks_val dk, dv;
    int64_t ts;
    assert_int_equal(ks__st_sup_decode(kb.data, kb.len, vb.data, vb.len, &dk, &dv, &ts), 0);
    assert_int_equal(ts, 9);
    assert_true(ks_val_equal(dk, k));
    assert_true(ks_val_equal(dv, v));
    ks_val_release(dk);
    ks_val_release(dv);
    /* A buffered tombstone: the flag byte is 0 and nothing follows. */
    ks__st_sup_encode(&kb, &vb, 16, &text, 9, ks_null());
    assert_int_equal(vb.len, KS__ST_SUP_VALUE_HDR);
    assert_int_equal(vb.data[16], 0);
    assert_int_equal(ks__st_sup_decode(kb.data, kb.len, vb.data, vb.len, &dk, &dv, &ts), 0);
    assert_int_equal(dv.kind, KS_NULL);
    ks_val_release(dk);
    assert_int_equal(ks__st_sup_decode(kb.data, kb.len, vb.data, 16, &dk, &dv, &ts), -1); /* cut short */
    ks_val_release(k);
    ks_val_release(v);
    ks_buf_free(&text);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
}

/* Collects a store's keys in LMDB's order, as "<key text>@<start>[-<end>]" joined by spaces. */
typedef struct order {
    char out[512];
    int session;
} order_t;

static int on_key(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)v, (void)vl;
    order_t *o = ud;
    size_t textlen = strnlen(k, kl);
    int64_t start, end = 0;
    assert_int_equal(ks__st_window_key_times(k, kl, textlen, o->session, &start, &end), 0);
    size_t n = strlen(o->out);
    snprintf(o->out + n, sizeof o->out - n, "%s%.*s@%lld", n ? " " : "", (int)textlen, (const char *)k,
             (long long)start);
    if (o->session) {
        n = strlen(o->out);
        snprintf(o->out + n, sizeof o->out - n, "-%lld", (long long)end);
    }
    return 0;
}

static ks_stores_t *open_ok(void)
{
    char err[512];
    ks_stores_t *s = ks_stores_open(dir, 0, err, sizeof err);
    if (!s)
        fail_msg("open: %s", err);
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    return s;
}

static void put_window(ks_stores_t *s, const char *store, const char *key, int64_t start, int64_t end, int session)
{
    ks_buf_t kb = {0}, vb = {0};
    ks_val k = J(key);
    ks__st_window_key(&kb, k, start, end, session);
    ks__st_enc_value(&vb, ks_null(), 0);
    assert_int_equal(ks_store_put(s, store, 0, kb.data, kb.len, vb.data, vb.len), 0);
    ks_val_release(k);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
}

static void window_keys_sort_by_key_then_start(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    /* Starts across a byte boundary (255, 256) and keys where one is a prefix of the other ("a", "ab"). */
    put_window(s, "w", "\"ab\"", 0, 0, 0);
    put_window(s, "w", "\"a\"", 256, 0, 0);
    put_window(s, "w", "\"a\"", 255, 0, 0);
    put_window(s, "w", "\"a\"", 100000, 0, 0);
    put_window(s, "w", "\"b\"", 5, 0, 0);
    order_t o = {"", 0};
    assert_int_equal(ks_store_range(s, "w", 0, NULL, 0, NULL, 0, on_key, &o), 0);
    /* A key's windows are together, in start order, before the keys its text is a prefix of (`\0` is lowest). */
    assert_string_equal(o.out, "\"a\"@255 \"a\"@256 \"a\"@100000 \"ab\"@0 \"b\"@5");
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void a_keys_windows_are_one_range_scan(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    put_window(s, "w", "\"a\"", 10, 0, 0);
    put_window(s, "w", "\"a\"", 20, 0, 0);
    put_window(s, "w", "\"a\"", 30, 0, 0);
    put_window(s, "w", "\"ab\"", 15, 0, 0);
    /* The sliding-window scan: [key@lo, key@hi) holds exactly the key's windows starting in [lo, hi). */
    ks_buf_t from = {0}, to = {0};
    ks_val k = J("\"a\"");
    ks__st_window_key(&from, k, 15, 0, 0);
    ks__st_window_key(&to, k, 30, 0, 0);
    order_t o = {"", 0};
    assert_int_equal(ks_store_range(s, "w", 0, from.data, from.len, to.data, to.len, on_key, &o), 0);
    assert_string_equal(o.out, "\"a\"@20");
    ks_val_release(k);
    ks_buf_free(&from);
    ks_buf_free(&to);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void session_keys_sort_by_key_start_then_end(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    put_window(s, "s", "\"a\"", 10, 50, 1);
    put_window(s, "s", "\"a\"", 10, 20, 1);
    put_window(s, "s", "\"a\"", 5, 60, 1);
    put_window(s, "s", "\"b\"", 0, 1, 1);
    order_t o = {"", 1};
    assert_int_equal(ks_store_range(s, "s", 0, NULL, 0, NULL, 0, on_key, &o), 0);
    assert_string_equal(o.out, "\"a\"@5-60 \"a\"@10-20 \"a\"@10-50 \"b\"@0-1");
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void restore_record_puts_the_timestamp_in_front_and_tombstones_delete(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    ks_buf_t scratch = {0};
    char err[200];
    assert_int_equal(ks_engine_restore_record(s, "kv", 2, "\"k\"", 3, "42", 2, 7, &scratch, err, sizeof err), 0);
    const void *v;
    size_t vl;
    assert_int_equal(ks_store_get(s, "kv", 2, "\"k\"", 3, &v, &vl), 1);
    assert_int_equal(vl, 10);
    assert_memory_equal(v, "\0\0\0\0\0\0\0\x07" "42", 10);
    /* The engine's own encoding of the same value is the same bytes: restore gives back what was written. */
    ks_buf_t enc = {0};
    ks__st_enc_value(&enc, ks_num(42), 7);
    assert_int_equal(enc.len, vl);
    assert_memory_equal(enc.data, v, vl);
    /* A tombstone deletes; a record with no key is skipped. */
    assert_int_equal(ks_engine_restore_record(s, "kv", 2, "\"k\"", 3, NULL, 0, 8, &scratch, err, sizeof err), 0);
    assert_int_equal(ks_store_get(s, "kv", 2, "\"k\"", 3, &v, &vl), 0);
    assert_int_equal(ks_engine_restore_record(s, "kv", 2, "", 0, "1", 1, 8, &scratch, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "kv", 2), 0);
    ks_buf_free(&enc);
    ks_buf_free(&scratch);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void decode_entry_reads_each_layout(void **state)
{
    (void)state;
    ks_buf_t kb = {0}, vb = {0}, text = {0};
    ks_val k = J("\"a\""), v = J("[1]");
    ks_store_entry_t ent;
    ks__st_enc_value(&vb, v, 77);

    ks__st_key_text(&kb, k);
    ks_engine_decode_entry((ks_store_layout_t){KS_STORE_KV, 0}, kb.data, kb.len, vb.data, vb.len, &ent);
    assert_true(ks_val_equal(ent.key, k) && ks_val_equal(ent.value, v));
    assert_int_equal(ent.ts, 77);
    assert_int_equal(ent.windowed, 0);
    ks_val_release(ent.key);
    ks_val_release(ent.value);

    ks__st_window_key(&kb, k, 1000, 0, 0);
    ks_engine_decode_entry((ks_store_layout_t){KS_STORE_WINDOW, 300}, kb.data, kb.len, vb.data, vb.len, &ent);
    assert_true(ks_val_equal(ent.key, k));
    assert_int_equal(ent.windowed, 1);
    assert_int_equal(ent.start, 1000);
    assert_int_equal(ent.end, 1300); /* start + size */
    ks_val_release(ent.key);
    ks_val_release(ent.value);

    ks__st_window_key(&kb, k, 1000, 1450, 1);
    ks_engine_decode_entry((ks_store_layout_t){KS_STORE_SESSION, 300}, kb.data, kb.len, vb.data, vb.len, &ent);
    assert_int_equal(ent.windowed, 1);
    assert_int_equal(ent.start, 1000);
    assert_int_equal(ent.end, 1450); /* from the key */
    ks_val_release(ent.key);
    ks_val_release(ent.value);

    ks__st_key_text(&text, k);
    ks__st_sup_encode(&kb, &vb, 500, &text, 12, v);
    ks_engine_decode_entry((ks_store_layout_t){KS_STORE_SUPPRESS, 0}, kb.data, kb.len, vb.data, vb.len, &ent);
    assert_true(ks_val_equal(ent.key, k) && ks_val_equal(ent.value, v));
    assert_int_equal(ent.ts, 12);
    ks_val_release(ent.key);
    ks_val_release(ent.value);

    /* What does not decode is said, not fatal: the raw key as a string, an invalid value. */
    ks_engine_decode_entry((ks_store_layout_t){KS_STORE_KV, 0}, "x{", 2, "\0\0", 2, &ent);
    assert_int_equal(ent.key.kind, KS_STRING);
    assert_int_equal(ent.value.kind, KS_INVALID);
    ks_val_release(ent.key);

    ks_val_release(k);
    ks_val_release(v);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
    ks_buf_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_key_is_the_keys_json_text),
        cmocka_unit_test(window_key_is_text_nul_and_start_big_endian),
        cmocka_unit_test(session_key_is_text_nul_start_then_end),
        cmocka_unit_test(value_is_timestamp_big_endian_then_json),
        cmocka_unit_test(suppress_entry_is_buffer_time_key_then_ts_btime_flag_value),
        cmocka_unit_test_setup_teardown(window_keys_sort_by_key_then_start, setup, teardown),
        cmocka_unit_test_setup_teardown(a_keys_windows_are_one_range_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(session_keys_sort_by_key_start_then_end, setup, teardown),
        cmocka_unit_test_setup_teardown(restore_record_puts_the_timestamp_in_front_and_tombstones_delete, setup,
                                        teardown),
        cmocka_unit_test(decode_entry_reads_each_layout),
    };
    return cmocka_run_group_tests_name("store_layout", tests, NULL, NULL);
}
