/*
 * test_cache.c: the record cache (src/engine/cache.c) through the engine,
 * against Kafka Streams' ThreadCache and NamedCache: a key's updates
 * collapse until a commit flushes them; a commit flushes a store's dirty
 * keys in the order they were last written (NamedCache's dirtyKeys, a
 * LinkedHashSet a written key is removed from and added to again); over
 * cache.max.bytes the least recently written entry is evicted, and
 * evicting a dirty one flushes it first, then the store's other dirty
 * keys in that order. The orders were checked against Kafka Streams
 * 4.4.0's ThreadCache itself: puts a, b, a then a flush give b=1 a=2;
 * with room for two entries, puts a, b, a, c give one flush of b=1 a=2 c=1.
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

#include "../../src/engine/engine.h"
#include "../../src/store/store.h"
#include "../../src/util/endian.h"
#include "load_topology.h"

static const char *const TOPOLOGY = "application: cache-test\n"
                                    "topics:\n"
                                    "  defaults: {key: string, value: json}\n"
                                    "  out: {value: long}\n"
                                    "pipelines:\n"
                                    "  count:\n"
                                    "    from: in\n"
                                    "    steps:\n"
                                    "      - groupByKey\n"
                                    "      - count: {store: counts}\n"
                                    "      - toStream\n"
                                    "    to: out\n";

/* Room for two count entries of a one-letter key, not three (an entry is about 128 bytes). */
#define ROOM_FOR_TWO 300

typedef struct fixture {
    char dir[64];
    ks_topology_t *t;
    ks_stores_t *stores;
    ks_engine_t *e;
    char out[512]; /* the records on `out`, as "a=2 b=1" */
    int changelog; /* records on the store's changelog */
} fixture_t;

static void on_emit(void *ud, const ks_record_t *rec)
{
    fixture_t *f = ud;
    if (strcmp(rec->topic, "cache-test-counts-changelog") == 0) {
        f->changelog++;
        return;
    }
    assert_string_equal(rec->topic, "out");
    assert_int_equal(rec->value_len, 8);
    size_t n = strlen(f->out);
    snprintf(f->out + n, sizeof f->out - n, "%s%.*s=%lld", n ? " " : "", (int)rec->key_len, (const char *)rec->key,
             (long long)ks_be64_get(rec->value));
}

static fixture_t *start(size_t cache_max)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ks-cache-test-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[512];
    f->t = load_topology(TOPOLOGY);
    f->stores = ks_stores_open(f->dir, 0, err, sizeof err);
    if (!f->stores)
        fail_msg("open: %s", err);
    static const ks_engine_ops_t ops = {on_emit, NULL};
    f->e = ks_engine_new(f->t, &ops, f, err, sizeof err);
    if (!f->e)
        fail_msg("engine: %s", err);
    ks_engine_attach_stores(f->e, f->stores, cache_max);
    return f;
}

static void stop(fixture_t *f)
{
    char cmd[128];
    ks_engine_free(f->e);
    ks_stores_abort(f->stores);
    ks_stores_close(f->stores);
    ks_topology_free(f->t);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

static void put(fixture_t *f, const char *key, int64_t ts)
{
    static int64_t offset;
    ks_record_t r = {"in", 0, offset++, ts, key, strlen(key), "{}", 2, NULL, 0};
    char err[512];
    assert_int_equal(ks_engine_process(f->e, &r, err, sizeof err), 0);
}

static void commit(fixture_t *f)
{
    char err[512];
    assert_int_equal(ks_engine_flush(f->e, err, sizeof err), 0);
    assert_int_equal(ks_engine_commit_stores(f->e, err, sizeof err), 0);
}

static void updates_of_a_key_collapse_until_the_commit(void **state)
{
    (void)state;
    fixture_t *f = start(1 << 20);
    put(f, "a", 1);
    put(f, "a", 2);
    put(f, "a", 3);
    assert_string_equal(f->out, "");
    assert_int_equal(f->changelog, 0);
    assert_int_equal(ks_engine_stats(f->e)->cache_hits, 2);
    commit(f);
    assert_string_equal(f->out, "a=3");
    assert_int_equal(f->changelog, 1);
    assert_int_equal(ks_engine_stats(f->e)->store_writes, 1);
    stop(f);
}

static void a_commit_flushes_keys_in_the_order_they_were_last_written(void **state)
{
    (void)state;
    fixture_t *f = start(1 << 20);
    put(f, "a", 1);
    put(f, "b", 2);
    put(f, "a", 3); /* a moves behind b, as in NamedCache's dirtyKeys */
    put(f, "c", 4);
    commit(f);
    assert_string_equal(f->out, "b=1 a=2 c=1");
    /* After a commit the order starts again. */
    f->out[0] = 0;
    put(f, "c", 5);
    put(f, "a", 6);
    put(f, "b", 7);
    put(f, "c", 8);
    commit(f);
    assert_string_equal(f->out, "a=3 b=2 c=3");
    stop(f);
}

static void a_key_written_many_times_moves_each_time(void **state)
{
    (void)state;
    fixture_t *f = start(1 << 20);
    /* Many rewrites of few keys: the dirty list drops the slots they leave (its compaction). */
    const char *keys[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 2000; i++)
        put(f, keys[(i * 7) % 4], i);
    put(f, "b", 3000);
    put(f, "a", 3001);
    commit(f);
    assert_string_equal(f->out, "d=500 c=500 b=501 a=501");
    stop(f);
}

static void evicting_a_dirty_entry_flushes_it_then_the_stores_other_dirty_keys(void **state)
{
    (void)state;
    fixture_t *f = start(ROOM_FOR_TWO);
    put(f, "a", 1);
    put(f, "b", 2);
    put(f, "a", 3);
    assert_string_equal(f->out, "");
    put(f, "c", 4); /* three entries: b, the least recently written, is evicted */
    assert_string_equal(f->out, "b=1 a=2 c=1");
    assert_int_equal(f->changelog, 3);
    f->out[0] = 0;
    commit(f);
    assert_string_equal(f->out, ""); /* nothing was left dirty */
    stop(f);
}

static void eviction_takes_the_least_recently_written_entry_not_the_oldest(void **state)
{
    (void)state;
    fixture_t *f = start(ROOM_FOR_TWO);
    put(f, "a", 1);
    put(f, "b", 2);
    commit(f);
    assert_string_equal(f->out, "a=1 b=1");
    f->out[0] = 0;
    put(f, "a", 3); /* a, the oldest entry, is now the most recently written, and dirty */
    put(f, "c", 4); /* b, clean, is evicted: nothing is flushed */
    assert_string_equal(f->out, "");
    assert_int_equal(ks_engine_stats(f->e)->store_writes, 2);
    commit(f);
    assert_string_equal(f->out, "a=2 c=1");
    stop(f);
}

static void without_the_cache_every_update_goes_through(void **state)
{
    (void)state;
    fixture_t *f = start(0);
    put(f, "a", 1);
    put(f, "b", 2);
    put(f, "a", 3);
    assert_string_equal(f->out, "a=1 b=1 a=2");
    assert_int_equal(f->changelog, 3);
    assert_int_equal(ks_engine_stats(f->e)->cache_hits, 0);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(updates_of_a_key_collapse_until_the_commit),
        cmocka_unit_test(a_commit_flushes_keys_in_the_order_they_were_last_written),
        cmocka_unit_test(a_key_written_many_times_moves_each_time),
        cmocka_unit_test(evicting_a_dirty_entry_flushes_it_then_the_stores_other_dirty_keys),
        cmocka_unit_test(eviction_takes_the_least_recently_written_entry_not_the_oldest),
        cmocka_unit_test(without_the_cache_every_update_goes_through),
    };
    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
