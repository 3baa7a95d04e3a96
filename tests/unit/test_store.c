/*
 * test_store.c: the LMDB state stores: a batch is one transaction (visible
 * to itself, invisible until committed, gone when aborted), range scans,
 * per-partition databases, checkpoints written atomically with the data (a
 * process killed between the writes and the commit leaves neither), map
 * growth without losing the batch, wiping, the map's pages leaving the
 * resident set at each commit, and the lock file that refuses a second
 * process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/store/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ks-store-test-XXXXXX");
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

static ks_stores_t *open_ok(void)
{
    char err[512];
    ks_stores_t *s = ks_stores_open(dir, 0, err, sizeof err);
    if (!s)
        fail_msg("open: %s", err);
    return s;
}

static int get_str(ks_stores_t *s, const char *store, int part, const char *k, char *out, size_t n)
{
    const void *v;
    size_t vl;
    int rc = ks_store_get(s, store, part, k, strlen(k), &v, &vl);
    if (rc == 1) {
        snprintf(out, n, "%.*s", (int)vl, (const char *)v);
    }
    return rc;
}

static void batch_is_one_transaction(void **state)
{
    (void)state;
    char err[512], buf[64];
    ks_stores_t *s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_put(s, "counts", 0, "a", 1, "1", 1), 0);
    assert_int_equal(get_str(s, "counts", 0, "a", buf, sizeof buf), 1); /* the batch sees its own writes */
    assert_string_equal(buf, "1");
    ks_stores_abort(s);
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(get_str(s, "counts", 0, "a", buf, sizeof buf), 0); /* aborted: gone */
    assert_int_equal(ks_store_put(s, "counts", 0, "a", 1, "2", 1), 0);
    assert_int_equal(ks_store_put(s, "counts", 1, "a", 1, "9", 1), 0);
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    ks_stores_close(s);
    s = open_ok(); /* committed: survives closing */
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(get_str(s, "counts", 0, "a", buf, sizeof buf), 1);
    assert_string_equal(buf, "2");
    assert_int_equal(get_str(s, "counts", 1, "a", buf, sizeof buf), 1); /* partitions are separate databases */
    assert_string_equal(buf, "9");
    assert_int_equal(ks_store_put(s, "counts", 0, "a", 1, NULL, 0), 0); /* delete */
    assert_int_equal(get_str(s, "counts", 0, "a", buf, sizeof buf), 0);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void put_str(ks_stores_t *s, const char *k, const char *v)
{
    assert_int_equal(ks_store_put(s, "counts", 0, k, strlen(k), v, v ? strlen(v) : 0), 0);
}

static void expect_str(ks_stores_t *s, const char *k, const char *v)
{
    char buf[64];
    assert_int_equal(get_str(s, "counts", 0, k, buf, sizeof buf), v != NULL);
    if (v)
        assert_string_equal(buf, v);
}

/*
 * A put right after a get of the same key writes through the get's cursor:
 * writes in between (inserts that split pages, deletes) must never send it
 * to another key.
 */
static void put_after_get_lands_on_its_key(void **state)
{
    (void)state;
    char err[512], k[32], v[32];
    ks_stores_t *s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    for (int i = 0; i < 3000; i++) {
        snprintf(k, sizeof k, "k%05d", i);
        snprintf(v, sizeof v, "v%d", i);
        put_str(s, k, v);
    }
    expect_str(s, "k01000", "v1000");
    for (int i = 0; i < 800; i++) { /* splits the pages before the cursor's key */
        snprintf(k, sizeof k, "k00500-%03d", i);
        put_str(s, k, "filler value that takes some room on the page");
    }
    put_str(s, "k01000", "new");
    expect_str(s, "k01000", "new");
    expect_str(s, "k00999", "v999");
    expect_str(s, "k01001", "v1001");
    expect_str(s, "k00200", "v200"); /* a delete through the cursor */
    put_str(s, "k00200", NULL);
    expect_str(s, "k00200", NULL);
    expect_str(s, "k00201", "v201");
    expect_str(s, "k00300", "v300"); /* the neighbour deleted in between */
    put_str(s, "k00301", NULL);
    put_str(s, "k00300", "a longer value than before, so the node is replaced");
    expect_str(s, "k00300", "a longer value than before, so the node is replaced");
    expect_str(s, "k00301", NULL);
    expect_str(s, "k00302", "v302");
    expect_str(s, "k00400", "v400"); /* the key itself deleted in between, then written again */
    put_str(s, "k00400", NULL);
    put_str(s, "k00400", "back");
    expect_str(s, "k00400", "back");
    expect_str(s, "k00401", "v401");
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    ks_stores_close(s);
    s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    expect_str(s, "k01000", "new");
    expect_str(s, "k00300", "a longer value than before, so the node is replaced");
    expect_str(s, "k00400", "back");
    expect_str(s, "k02999", "v2999");
    ks_stores_abort(s);
    ks_stores_close(s);
}

typedef struct seen {
    char keys[16][16];
    int n;
} seen_t;

static int collect(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)v;
    (void)vl;
    seen_t *s = ud;
    snprintf(s->keys[s->n++], 16, "%.*s", (int)kl, (const char *)k);
    return s->n == 16;
}

static void range_scans_in_key_order(void **state)
{
    (void)state;
    char err[512];
    ks_stores_t *s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    const char *keys[] = {"b2", "a1", "b1", "c1", "b3"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ks_store_put(s, "w", 0, keys[i], 2, "x", 1), 0);
    seen_t seen = {0};
    assert_int_equal(ks_store_range(s, "w", 0, "b", 1, "c", 1, collect, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.keys[0], "b1");
    assert_string_equal(seen.keys[2], "b3");
    memset(&seen, 0, sizeof seen);
    assert_int_equal(ks_store_range(s, "w", 0, NULL, 0, NULL, 0, collect, &seen), 0);
    assert_int_equal(seen.n, 5);
    assert_int_equal(ks_store_count(s, "w", 0), 5);
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    ks_stores_close(s);
}

static void checkpoint_commits_with_the_data(void **state)
{
    (void)state;
    char err[512], buf[64];
    ks_stores_t *s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_checkpoint(s, "counts", 0), -1);
    assert_int_equal(ks_store_put(s, "counts", 0, "a", 1, "1", 1), 0);
    assert_int_equal(ks_store_set_checkpoint(s, "counts", 0, 42), 0);
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    ks_stores_close(s);

    /* A child writes the next batch and its checkpoint, then dies before committing. */
    pid_t pid = fork();
    if (pid == 0) {
        ks_stores_t *c = ks_stores_open(dir, 0, err, sizeof err);
        if (!c || ks_stores_begin(c, err, sizeof err))
            _exit(3);
        ks_store_put(c, "counts", 0, "a", 1, "2", 1);
        ks_store_put(c, "counts", 0, "b", 1, "1", 1);
        ks_store_set_checkpoint(c, "counts", 0, 43);
        kill(getpid(), SIGKILL);
        _exit(4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    s = open_ok();
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_checkpoint(s, "counts", 0), 42); /* neither the checkpoint... */
    assert_int_equal(get_str(s, "counts", 0, "a", buf, sizeof buf), 1);
    assert_string_equal(buf, "1"); /* ...nor the data moved */
    assert_int_equal(get_str(s, "counts", 0, "b", buf, sizeof buf), 0);
    /* Wiping empties the partition and forgets its checkpoint. */
    assert_int_equal(ks_store_wipe(s, "counts", 0), 0);
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "counts", 0), 0);
    assert_int_equal(ks_store_checkpoint(s, "counts", 0), -1);
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void map_grows_without_losing_the_batch(void **state)
{
    (void)state;
    char err[512], key[32], val[256];
    ks_stores_t *s = open_ok();
    assert_int_equal(ks_stores_set_map_size(s, 256 * 1024), 0);
    size_t before = ks_stores_map_size(s);
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 20000; i++) {
        int kl = snprintf(key, sizeof key, "key-%06d", i);
        assert_int_equal(ks_store_put(s, "big", 0, key, (size_t)kl, val, sizeof val), 0);
    }
    assert_int_equal(ks_store_set_checkpoint(s, "big", 0, 20000), 0);
    assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
    assert_true(ks_stores_map_size(s) > before);
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "big", 0), 20000);
    assert_int_equal(ks_store_checkpoint(s, "big", 0), 20000);
    ks_stores_abort(s);
    ks_stores_close(s);
}

/* Resident kB of this process's mappings of `dir`/data.mdb (from /proc/self/smaps), -1 when none. */
static long map_rss_kb(void)
{
    char want[128], line[512];
    snprintf(want, sizeof want, "%s/data.mdb", dir);
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    long kb = -1;
    int in = 0;
    while (fgets(line, sizeof line, f)) {
        const char *dash = strchr(line, '-'), *space = strchr(line, ' ');
        if (dash && space && dash < space) /* "lo-hi perms offset dev inode path": a mapping's first line */
            in = strstr(line, want) != NULL;
        long v;
        if (in && sscanf(line, "Rss: %ld kB", &v) == 1)
            kb = (kb < 0 ? 0 : kb) + v;
    }
    fclose(f);
    return kb;
}

static void commit_releases_the_maps_pages(void **state)
{
    (void)state;
    char err[512], key[32], val[1000];
    ks_stores_t *s = open_ok();
    memset(val, 'v', sizeof val);
    /* 80,000 values of 1 kB: more than the initial 64 MB map, so it grows (and moves) on the way. */
    for (int b = 0; b < 8; b++) {
        assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
        for (int i = b * 10000; i < (b + 1) * 10000; i++) {
            int kl = snprintf(key, sizeof key, "key-%06d", i);
            val[0] = (char)('a' + i % 26);
            assert_int_equal(ks_store_put(s, "big", 0, key, (size_t)kl, val, sizeof val), 0);
        }
        assert_int_equal(ks_stores_commit(s, err, sizeof err), 0);
        /* what the batch wrote (10 MB and more) is no longer resident in this process */
        long kb = map_rss_kb();
        assert_true(kb >= 0);
        if (kb > 1024)
            fail_msg("after batch %d, %ld kB of the map are resident", b, kb);
    }
    assert_int_equal(ks_stores_sync(s), 0);
    /* ... and every value reads back (mapped again from the page cache) */
    assert_int_equal(ks_stores_begin(s, err, sizeof err), 0);
    assert_int_equal(ks_store_count(s, "big", 0), 80000);
    for (int i = 0; i < 80000; i += 997) {
        int kl = snprintf(key, sizeof key, "key-%06d", i);
        const void *v;
        size_t vl;
        assert_int_equal(ks_store_get(s, "big", 0, key, (size_t)kl, &v, &vl), 1);
        assert_int_equal(vl, sizeof val);
        assert_int_equal(((const char *)v)[0], 'a' + i % 26);
        assert_int_equal(((const char *)v)[999], 'v');
    }
    ks_stores_abort(s);
    ks_stores_close(s);
}

static void second_process_is_refused(void **state)
{
    (void)state;
    ks_stores_t *s = open_ok();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char err[512];
        ks_stores_t *c = ks_stores_open(dir, 0, err, sizeof err);
        ssize_t w = write(fds[1], err, strlen(err) + 1);
        (void)w;
        _exit(c ? 1 : 0);
    }
    int status;
    char msg[512] = "";
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(read(fds[0], msg, sizeof msg - 1) > 0);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(msg, "is in use by another kstreamd process"));
    ks_stores_close(s);
    /* Once closed, another process may open it. */
    pid = fork();
    if (pid == 0) {
        char err[512];
        ks_stores_t *c = ks_stores_open(dir, 0, err, sizeof err);
        _exit(c ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(batch_is_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(put_after_get_lands_on_its_key, setup, teardown),
        cmocka_unit_test_setup_teardown(range_scans_in_key_order, setup, teardown),
        cmocka_unit_test_setup_teardown(checkpoint_commits_with_the_data, setup, teardown),
        cmocka_unit_test_setup_teardown(map_grows_without_losing_the_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(commit_releases_the_maps_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(second_process_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
