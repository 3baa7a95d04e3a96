/*
 * test_store_layout.c: the bytes of state-store entries and changelog
 * records (src/engine/store_codec.c), which are Kafka Streams' own, and the
 * order LMDB keeps them in: key-value keys (the key's serde bytes), window
 * keys (WindowKeySchema: key bytes, the start as 8 big-endian bytes, a
 * sequence number of 4), session keys (SessionKeySchema: key bytes, end,
 * start), timestamped values (8 bytes of timestamp, the value's serde
 * bytes), suppression buffer entries (InMemoryTimeOrderedKeyValueChange
 * Buffer's changelog value); a changelog record restored with
 * ks_engine_restore_record gives back the stored bytes, and
 * ks_engine_decode_entry reads each layout back. The expected bytes of the
 * buffer entry are the ones Kafka Streams 4.4 wrote for the same record
 * (tests/conformance/ compares every case's changelogs with its own).
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

/* The values J made: J keeps its reference, released after the last test (tests only lend them). */
static ks_val made[64];
static int nmade;

static ks_val J(const char *s)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(s, strlen(s), &v, err, sizeof err))
        fail_msg("bad JSON in test: %s", err);
    assert_true(nmade < (int)(sizeof made / sizeof made[0]));
    made[nmade++] = v;
    return v;
}

static int release_made(void **state)
{
    for (int i = 0; i < nmade; i++)
        ks_val_release(made[i]);
    nmade = 0;
    return 0;
}

/* A processor owning a store with these serdes (and window kind). */
static ks_proc_t store_of(ks_serde_t key, ks_serde_t value, ks_win_kind_t win, int64_t size)
{
    ks_proc_t p;
    memset(&p, 0, sizeof p);
    p.op = KS_OP_COUNT;
    p.store_key = key;
    p.store_value = value;
    p.state.window.kind = win;
    p.state.window.size = size;
    return p;
}

static void kv_key_is_the_keys_serde_bytes(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    char err[200];
    ks_proc_t s = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_NONE, 0);
    assert_int_equal(ks__st_key_bytes(&s, &b, J("\"c-1\""), err, sizeof err), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "c-1", 3); /* not the JSON text "\"c-1\"" */
    ks_proc_t l = store_of(KS_SERDE_LONG, KS_SERDE_LONG, KS_WIN_NONE, 0);
    assert_int_equal(ks__st_key_bytes(&l, &b, ks_num(7), err, sizeof err), 0);
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.data, "\0\0\0\0\0\0\0\x07", 8);
    /* A key its serde cannot hold is an error, not a fallback. */
    assert_int_equal(ks__st_key_bytes(&s, &b, ks_num(7), err, sizeof err), -1);
    assert_non_null(strstr(err, "string serde cannot hold a number"));
    ks_buf_free(&b);
}

static void window_key_is_key_start_and_sequence_number(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    char err[200];
    ks_proc_t w = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_TUMBLING, 1000);
    assert_int_equal(ks__st_window_key(&w, &b, J("\"a\""), 0x0102, 0, 0, err, sizeof err), 0);
    assert_int_equal(b.len, 13);
    assert_memory_equal(b.data, "a\0\0\0\0\0\0\x01\x02\0\0\0\0", 13);
    int64_t start = 0, t = 0;
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 1, 0, &start, NULL), 0);
    assert_int_equal(start, 0x0102);
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 2, 0, &start, NULL), -1); /* wrong key length */
    assert_int_equal(ks__st_window_key_segment_time(b.data, b.len, 0, &t), 0);
    assert_int_equal(t, 0x0102); /* window stores are segmented by start */
    ks_buf_free(&b);
}

static void session_key_is_key_end_then_start(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    char err[200];
    ks_proc_t s = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_SESSION, 10000);
    assert_int_equal(ks__st_window_key(&s, &b, J("\"a\""), 5, 0x4e20, 1, err, sizeof err), 0);
    assert_int_equal(b.len, 17);
    assert_memory_equal(b.data, "a\0\0\0\0\0\0\x4e\x20\0\0\0\0\0\0\0\x05", 17);
    int64_t start = 0, end = 0, t = 0;
    assert_int_equal(ks__st_window_key_times(b.data, b.len, 1, 1, &start, &end), 0);
    assert_int_equal(start, 5);
    assert_int_equal(end, 0x4e20);
    assert_int_equal(ks__st_window_key_segment_time(b.data, b.len, 1, &t), 0);
    assert_int_equal(t, 0x4e20); /* session stores are segmented by end */
    ks_buf_free(&b);
}

static void value_is_timestamp_then_the_value_serdes_bytes(void **state)
{
    (void)state;
    ks_buf_t b = {0};
    char err[200];
    ks_proc_t count = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_NONE, 0);
    assert_int_equal(ks__st_enc_value(&count, &b, ks_num(2), 0x03e8, err, sizeof err), 0);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, "\0\0\0\0\0\0\x03\xe8\0\0\0\0\0\0\0\x02", 16);
    /* What the changelog carries: the value without the timestamp (the record's own). */
    const void *lv;
    size_t ll;
    ks__st_log_value(b.data, b.len, &lv, &ll);
    assert_int_equal(ll, 8);
    assert_memory_equal(lv, "\0\0\0\0\0\0\0\x02", 8);
    ks_proc_t agg = store_of(KS_SERDE_STRING, KS_SERDE_JSON, KS_WIN_NONE, 0);
    assert_int_equal(ks__st_enc_value(&agg, &b, J("{\"n\":1}"), 7, err, sizeof err), 0);
    assert_int_equal(b.len, 15);
    assert_memory_equal(b.data, "\0\0\0\0\0\0\0\x07{\"n\":1}", 15);
    assert_int_equal(ks__st_value_ts(b.data), 7);
    ks_buf_free(&b);
}

/*
 * The first update of a window count buffered by untilWindowCloses, as
 * Kafka Streams 4.4 logs it for tests/topologies/state_suppress.test.yaml's
 * first case: context (timestamp 1000, offset 0, topic fin-in-v1,
 * partition 0, no headers), prior null, old null, new 1 (a long), buffer
 * time 10000. The key is the table's windowed key: `a`, start 0.
 */
static void suppress_entry_is_kafka_streams_buffered_value(void **state)
{
    (void)state;
    ks_buf_t kb = {0}, vb = {0}, keyb = {0};
    char err[200];
    ks_proc_t p = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_NONE, 0);
    p.op = KS_OP_SUPPRESS;
    p.out_windowed = KS_KEY_WINDOWED;
    ks_val wk = J("{\"key\":\"a\",\"window\":{\"start\":0,\"end\":10000}}");
    assert_int_equal(ks__st_sup_key_bytes(&p, &keyb, wk, err, sizeof err), 0);
    assert_int_equal(keyb.len, 9);
    assert_memory_equal(keyb.data, "a\0\0\0\0\0\0\0\0", 9); /* TimeWindowedSerializer: key, start */
    ks_record_t ctx = {"fin-in-v1", 0, 0, 1000, NULL, 0, NULL, 0, NULL, 0};
    assert_int_equal(
        ks__st_sup_encode(&p, &kb, &vb, 10000, &keyb, &ctx, 1000, NULL, ks_invalid(), ks_num(1), err, sizeof err), 0);
    static const unsigned char want[] = {
        0,    0,    0,    0,    0,   0,   0x03, 0xe8,                          /* timestamp */
        0,    0,    0,    0,    0,   0,   0,    0,                             /* offset */
        0,    0,    0,    9,    'f', 'i', 'n',  '-',  'i', 'n', '-', 'v', '1', /* topic */
        0,    0,    0,    0,                                                   /* partition */
        0,    0,    0,    0,                                                   /* headers */
        0xff, 0xff, 0xff, 0xff,                                                /* prior: null */
        0xff, 0xff, 0xff, 0xff,                                                /* old: null */
        0,    0,    0,    8,    0,   0,   0,    0,    0,   0,   0,   1,        /* new: 1 */
        0,    0,    0,    0,    0,   0,   0x27, 0x10,                          /* buffer time */
    };
    assert_int_equal(vb.len, sizeof want);
    assert_memory_equal(vb.data, want, sizeof want);
    assert_int_equal(kb.len, 8 + 9);
    assert_memory_equal(kb.data, "\0\0\0\0\0\0\x27\x10", 8);
    /* The second update: the prior stays null, the old value is 1 (not a duplicate of the prior). */
    ks__st_bytes_t prior = {NULL, 0, 1};
    assert_int_equal(
        ks__st_sup_encode(&p, &kb, &vb, 10000, &keyb, &ctx, 2000, &prior, ks_num(1), ks_num(2), err, sizeof err), 0);
    ks__st_sup_parts_t parts;
    assert_int_equal(ks__st_sup_parse(vb.data, vb.len, &parts), 0);
    assert_int_equal(parts.ts, 2000);
    assert_int_equal(parts.btime, 10000);
    assert_true(parts.prior.null);
    assert_int_equal(parts.new_len, 8);
    ks_val key, value;
    int64_t ts;
    assert_int_equal(ks__st_sup_decode(&p, kb.data, kb.len, vb.data, vb.len, &key, &value, &ts), 0);
    char *kt = ks_json_dump(key);
    assert_string_equal(kt, "{\"key\":\"a\",\"window\":{\"start\":0,\"end\":0}}");
    assert_int_equal((int)ks_num_get(value), 2);
    free(kt);
    ks_val_release(key);
    ks_val_release(value);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
    ks_buf_free(&keyb);
}

typedef struct order {
    char out[512];
    int session;
    size_t keylen;
} order_t;

static int on_key(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)v, (void)vl;
    order_t *o = ud;
    size_t keylen = kl - (o->session ? KS__ST_SESSION_SUFFIX : KS__ST_WINDOW_SUFFIX);
    int64_t start, end = 0;
    assert_int_equal(ks__st_window_key_times(k, kl, keylen, o->session, &start, &end), 0);
    size_t n = strlen(o->out);
    snprintf(o->out + n, sizeof o->out - n, "%s%.*s@%lld", n ? " " : "", (int)keylen, (const char *)k,
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
    char err[200];
    ks_proc_t p = store_of(KS_SERDE_STRING, KS_SERDE_LONG, session ? KS_WIN_SESSION : KS_WIN_TUMBLING, 10);
    ks_val k = ks_str_cstr(key);
    assert_int_equal(ks__st_window_key(&p, &kb, k, start, end, session, err, sizeof err), 0);
    assert_int_equal(ks__st_enc_value(&p, &vb, ks_num(1), 0, err, sizeof err), 0);
    assert_int_equal(ks_store_put(s, store, 0, kb.data, kb.len, vb.data, vb.len), 0);
    ks_val_release(k);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
}

static void window_keys_sort_by_key_bytes_then_start(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    /* Starts across a byte boundary (255, 256) and keys where one is a prefix of the other ("a", "ab"). */
    put_window(s, "w", "ab", 0, 0, 0);
    put_window(s, "w", "a", 256, 0, 0);
    put_window(s, "w", "a", 255, 0, 0);
    put_window(s, "w", "a", 100000, 0, 0);
    put_window(s, "w", "b", 5, 0, 0);
    order_t o = {"", 0, 0};
    assert_int_equal(ks_store_range(s, "w", 0, NULL, 0, NULL, 0, on_key, &o), 0);
    /* Kafka Streams' byte order: a key's windows are together as long as its starts' first byte is below 'b'. */
    assert_string_equal(o.out, "a@255 a@256 a@100000 ab@0 b@5");
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void session_keys_sort_by_key_end_then_start(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    put_window(s, "s", "a", 10, 50, 1);
    put_window(s, "s", "a", 10, 20, 1);
    put_window(s, "s", "a", 5, 60, 1);
    put_window(s, "s", "b", 0, 1, 1);
    order_t o = {"", 1, 0};
    assert_int_equal(ks_store_range(s, "s", 0, NULL, 0, NULL, 0, on_key, &o), 0);
    assert_string_equal(o.out, "a@10-20 a@10-50 a@5-60 b@0-1");
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void restore_record_puts_the_timestamp_in_front_and_tombstones_delete(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    ks_buf_t scratch = {0};
    char err[200];
    ks_proc_t p = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_NONE, 0);
    ks_store_layout_t kv = ks_store_layout_of(&p);
    const char *two = "\0\0\0\0\0\0\0\x02";
    assert_int_equal(ks_engine_restore_record(s, kv, "kv", 2, "k", 1, two, 8, 7, &scratch, err, sizeof err), 0);
    const void *v;
    size_t vl;
    assert_int_equal(ks_store_get(s, "kv", 2, "k", 1, &v, &vl), 1);
    assert_int_equal(vl, 16);
    /* The engine's own encoding of the same value is the same bytes: restore gives back what was written. */
    ks_buf_t enc = {0};
    assert_int_equal(ks__st_enc_value(&p, &enc, ks_num(2), 7, err, sizeof err), 0);
    assert_int_equal(enc.len, vl);
    assert_memory_equal(enc.data, v, vl);
    /* A tombstone deletes; a record with no key is skipped. */
    assert_int_equal(ks_engine_restore_record(s, kv, "kv", 2, "k", 1, NULL, 0, 8, &scratch, err, sizeof err), 0);
    assert_int_equal(ks_store_get(s, "kv", 2, "k", 1, &v, &vl), 0);
    assert_int_equal(ks_engine_restore_record(s, kv, "kv", 2, "", 0, two, 8, 8, &scratch, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "kv", 2), 0);
    ks_buf_free(&enc);
    ks_buf_free(&scratch);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void restore_buffered_record_goes_under_its_buffer_time(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    ks_buf_t kb = {0}, vb = {0}, keyb = {0}, scratch = {0};
    char err[200];
    ks_proc_t p = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_NONE, 0);
    p.op = KS_OP_SUPPRESS;
    ks_store_layout_t sup = ks_store_layout_of(&p);
    ks_record_t ctx = {"in", 0, 3, 50, NULL, 0, NULL, 0, NULL, 0};
    assert_int_equal(ks__st_sup_key_bytes(&p, &keyb, J("\"k\""), err, sizeof err), 0);
    /* Buffered at 100, then again (after an emit) at 200: the second record replaces the first. */
    assert_int_equal(
        ks__st_sup_encode(&p, &kb, &vb, 100, &keyb, &ctx, 50, NULL, ks_invalid(), ks_num(1), err, sizeof err), 0);
    assert_int_equal(ks_engine_restore_record(s, sup, "b", 0, "k", 1, vb.data, vb.len, 0, &scratch, err, sizeof err),
                     0);
    assert_int_equal(ks_store_get(s, "b", 0, kb.data, kb.len, &(const void *){NULL}, &(size_t){0}), 1);
    assert_int_equal(
        ks__st_sup_encode(&p, &kb, &vb, 200, &keyb, &ctx, 60, NULL, ks_invalid(), ks_num(2), err, sizeof err), 0);
    assert_int_equal(ks_engine_restore_record(s, sup, "b", 0, "k", 1, vb.data, vb.len, 0, &scratch, err, sizeof err),
                     0);
    assert_int_equal(ks_store_count(s, "b", 0), 1);
    assert_int_equal(ks_store_get(s, "b", 0, kb.data, kb.len, &(const void *){NULL}, &(size_t){0}), 1);
    /* A tombstone (no buffer time in it) removes the key wherever it is buffered. */
    assert_int_equal(ks_engine_restore_record(s, sup, "b", 0, "k", 1, NULL, 0, 0, &scratch, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "b", 0), 0);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
    ks_buf_free(&keyb);
    ks_buf_free(&scratch);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void decode_entry_reads_each_layout(void **state)
{
    (void)state;
    ks_buf_t kb = {0}, vb = {0};
    char err[200];
    ks_store_entry_t e;
    /* Key-value: a long key, a JSON value. */
    ks_proc_t kv = store_of(KS_SERDE_LONG, KS_SERDE_JSON, KS_WIN_NONE, 0);
    assert_int_equal(ks__st_key_bytes(&kv, &kb, ks_num(5), err, sizeof err), 0);
    assert_int_equal(ks__st_enc_value(&kv, &vb, J("[1]"), 9, err, sizeof err), 0);
    ks_engine_decode_entry(ks_store_layout_of(&kv), kb.data, kb.len, vb.data, vb.len, &e);
    assert_int_equal((int)ks_num_get(e.key), 5);
    char *t = ks_json_dump(e.value);
    assert_string_equal(t, "[1]");
    free(t);
    assert_int_equal(e.ts, 9);
    assert_false(e.windowed);
    ks_val_release(e.key);
    ks_val_release(e.value);
    /* A time window: end = start + size. */
    ks_proc_t w = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_TUMBLING, 1000);
    assert_int_equal(ks__st_window_key(&w, &kb, J("\"a\""), 3000, 0, 0, err, sizeof err), 0);
    assert_int_equal(ks__st_enc_value(&w, &vb, ks_num(4), 3500, err, sizeof err), 0);
    ks_engine_decode_entry(ks_store_layout_of(&w), kb.data, kb.len, vb.data, vb.len, &e);
    assert_string_equal(ks_str_data(e.key), "a");
    assert_true(e.windowed);
    assert_int_equal(e.start, 3000);
    assert_int_equal(e.end, 4000);
    assert_int_equal((int)ks_num_get(e.value), 4);
    ks_val_release(e.key);
    ks_val_release(e.value);
    /* A session: start and end from the key. */
    ks_proc_t s = store_of(KS_SERDE_STRING, KS_SERDE_LONG, KS_WIN_SESSION, 100);
    assert_int_equal(ks__st_window_key(&s, &kb, J("\"u\""), 10, 70, 1, err, sizeof err), 0);
    assert_int_equal(ks__st_enc_value(&s, &vb, ks_num(2), 70, err, sizeof err), 0);
    ks_engine_decode_entry(ks_store_layout_of(&s), kb.data, kb.len, vb.data, vb.len, &e);
    assert_int_equal(e.start, 10);
    assert_int_equal(e.end, 70);
    ks_val_release(e.key);
    ks_val_release(e.value);
    ks_buf_free(&kb);
    ks_buf_free(&vb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kv_key_is_the_keys_serde_bytes),
        cmocka_unit_test(window_key_is_key_start_and_sequence_number),
        cmocka_unit_test(session_key_is_key_end_then_start),
        cmocka_unit_test(value_is_timestamp_then_the_value_serdes_bytes),
        cmocka_unit_test(suppress_entry_is_kafka_streams_buffered_value),
        cmocka_unit_test_setup_teardown(window_keys_sort_by_key_bytes_then_start, setup, teardown),
        cmocka_unit_test_setup_teardown(session_keys_sort_by_key_end_then_start, setup, teardown),
        cmocka_unit_test_setup_teardown(restore_record_puts_the_timestamp_in_front_and_tombstones_delete, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(restore_buffered_record_goes_under_its_buffer_time, setup, teardown),
        cmocka_unit_test(decode_entry_reads_each_layout),
    };
    return cmocka_run_group_tests(tests, NULL, release_made);
}
