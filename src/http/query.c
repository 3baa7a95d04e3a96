/*
 * query.c: the store queries of the query service (service.h), Kafka
 * Streams' interactive queries over HTTP:
 *
 *   GET /v1/stores                                   every queryable store
 *   GET /v1/stores/{store}?from=&to=&prefix=&limit=&after=
 *                                                    a range or prefix scan
 *   GET /v1/stores/{store}/keys/{key}                one key's value
 *   GET /v1/stores/{store}/keys/{key}/windows?from=&to=
 *                                                    a key's windows or sessions
 *   GET /v1/apps/{application}/stores[/{store}/...]  the same, by application
 *
 * A key is written in the store's key format: its text for string keys,
 * JSON for json keys, a number for long, int and double keys, base64 for
 * bytes, percent-encoded in the path. It is serialised with the store's key
 * serde; its partition is Kafka's default partitioner's (murmur2 of those
 * bytes, modulo the partitions), which is how Kafka Streams' KeyQueryMetadata
 * finds a key's task; only that partition is read. Values are decoded with
 * the store's value serde.
 *
 * Each request reads in one LMDB read transaction of a read-only handle of
 * the application's environment: it sees what the stream threads had
 * committed when it began (the record cache and the batch being written are
 * not visible).
 *
 * A scan merges the partitions this process holds in key-byte order (Kafka
 * Streams' order for a store's serialised keys): each partition gives at
 * most limit+1 keys from the cursor on, the merge keeps the first `limit`;
 * more exist exactly when more than `limit` were found. The cursor (`next`,
 * given back as `after`) is the last key's bytes, base64url: the next page
 * starts strictly after it, so each key is returned once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../kafka/kafka.h"
#include "../kafka/status.h"
#include "../serde/serde.h"
#include "../util/util.h"
#include "proxy.h"
#include "service_int.h"

#define KEY_MAX KS_HTTP_MAX_HEAD
#define LIMIT_DEFAULT 100
#define LIMIT_MAX 1000
#define GLOBAL_PARTITION 0 /* a global table's one store partition (the engine's KS_GLOBAL_PARTITION) */
#define WINDOW_SUFFIX 12   /* a window store key: the key's bytes, start (8), sequence number (4): store_codec.h */
#define SESSION_SUFFIX 16  /* a session store key: the key's bytes, end (8), start (8) */

/* ---- the stores ---- */

static void add_store(ks_query_service_t *svc, ks_query_app_t *app, const ks_proc_t *p, int global)
{
    for (int i = 0; i < svc->nstores; i++)
        if (svc->stores[i].app == app && strcmp(svc->stores[i].name, p->stores[0]) == 0)
            return;
    KS_GROW(svc->stores, svc->nstores);
    ks_query_store_t *qs = &svc->stores[svc->nstores++];
    qs->app = app;
    qs->name = p->stores[0];
    qs->layout = ks_store_layout_of(p);
    qs->kind = qs->layout.kind == KS_STORE_WINDOW    ? "window"
               : qs->layout.kind == KS_STORE_SESSION ? "session"
                                                     : "key-value";
    qs->global = global;
    qs->sub = p->subtopology;
}

void ks__query_find_stores(ks_query_service_t *svc)
{
    for (int a = 0; a < svc->napps; a++) {
        ks_query_app_t *app = &svc->apps[a];
        const ks_topology_t *t = app->t;
        for (int i = 0; i < t->nprocs; i++) {
            const ks_proc_t *p = t->procs[i];
            if (p->nstores == 0)
                continue;
            if (p->op == KS_OP_TABLE_SOURCE) {
                for (int k = 0; k < t->ntables; k++)
                    if (t->tables[k].queryable && strcmp(t->tables[k].name, p->table_source.table) == 0)
                        add_store(svc, app, p, p->table_source.global);
            } else if (p->state.queryable) {
                add_store(svc, app, p, 0);
            }
        }
    }
}

void ks__query_close(ks_query_service_t *svc)
{
    for (int a = 0; a < svc->napps; a++) {
        ks_stores_close(svc->apps[a].stores);
        ks_stores_close(svc->apps[a].global_stores);
        svc->apps[a].stores = svc->apps[a].global_stores = NULL;
    }
}

/* The read handle of a store's environment, opened at its first query. NULL with a message. */
static ks_stores_t *handle_of(const ks_query_store_t *qs, char *err, size_t errlen)
{
    ks_query_app_t *app = qs->app;
    ks_stores_t **h = qs->global ? &app->global_stores : &app->stores;
    if (!*h) {
        char dir[4096];
        ks_kafka_store_dir(app->t, app->conf, qs->global, dir, sizeof dir);
        *h = ks_stores_open(dir, KS_STORE_READONLY, err, errlen);
    }
    return *h;
}

static void write_store(ks_buf_t *b, const ks_query_store_t *qs)
{
    const ks_proc_t *p = qs->layout.p;
    ks_buf_puts(b, "{\"application\":");
    ks_json_write_str(b, qs->app->t->application, strlen(qs->app->t->application));
    ks_buf_puts(b, ",\"store\":");
    ks_json_write_str(b, qs->name, strlen(qs->name));
    ks_buf_printf(b, ",\"kind\":\"%s\",\"global\":%s,\"keySerde\":\"%s\",\"valueSerde\":\"%s\",\"partitions\":[",
                  qs->kind, qs->global ? "true" : "false", ks_serde_name(p->store_key), ks_serde_name(p->store_value));
    int n = ks_status_partitions(qs->app->t, qs->sub), first = 1;
    for (int i = 0; i < n; i++) {
        int held = qs->global ? ks_status_global_ready(qs->app->t)
                              : ks_status_partition(qs->app->t, qs->sub, i) != KS_PART_NOT_HELD;
        if (held) {
            ks_buf_printf(b, "%s%d", first ? "" : ",", i);
            first = 0;
        }
    }
    ks_buf_puts(b, "]}");
}

/* GET /v1/stores (app NULL) or /v1/apps/{app}/stores. */
static void list_stores(ks_http_req_t *req, ks_query_service_t *svc, const ks_query_app_t *app)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "{\"stores\":[");
    int n = 0;
    for (int i = 0; i < svc->nstores; i++) {
        if (app && svc->stores[i].app != app)
            continue;
        if (n++)
            ks_buf_putc(&b, ',');
        write_store(&b, &svc->stores[i]);
    }
    ks_buf_puts(&b, "]}");
    ks_http_reply(req, 200, NULL, b.data, b.len);
    ks_buf_free(&b);
}

void ks__query_list(ks_http_req_t *req, void *ud)
{
    list_stores(req, ud, NULL);
}

/* ---- keys and parameters ---- */

/*
 * The bytes of a key written as text in the store's key format. Returns 0,
 * or -1 with a message for a 400.
 */
static int key_bytes(const ks_query_store_t *qs, const char *text, size_t len, ks_buf_t *out, char *err, size_t errlen)
{
    ks_serde_t serde = qs->layout.p->store_key;
    ks_val v;
    char e[512];
    if (serde == KS_SERDE_VOID) {
        snprintf(err, errlen, "store `%s` has void keys: there is no key to look up", qs->name);
        return -1;
    }
    if (serde == KS_SERDE_STRING || serde == KS_SERDE_BYTES) {
        v = ks_str_new(text, len);
    } else if (ks_json_parse(text, len, &v, e, sizeof e)) {
        snprintf(err, errlen, "store `%s` has %s keys: `%.*s` is not %s (%s)", qs->name, ks_serde_name(serde),
                 (int)(len > 200 ? 200 : len), text, serde == KS_SERDE_JSON ? "JSON" : "a number", e);
        return -1;
    }
    int is_null = 0;
    int rc = ks_serde_encode(serde, v, out, &is_null, e, sizeof e);
    ks_val_release(v);
    if (rc) {
        snprintf(err, errlen, "store `%s` has %s keys: %s", qs->name, ks_serde_name(serde), e);
        return -1;
    }
    if (is_null) {
        snprintf(err, errlen, "a key cannot be null");
        return -1;
    }
    return 0;
}

/* A query parameter: 1 present (decoded into `out`), 0 absent, -1 present but not decodable (the reply is sent). */
static int param(ks_http_req_t *req, const char *name, char *out, size_t outlen)
{
    int n = ks_http_req_param(req, name, out, outlen);
    if (n >= 0)
        return 1;
    if (n == -1)
        return 0;
    ks_http_reply_error(req, 400, NULL, "query parameter `%s` is not percent-encoded text of at most %zu bytes", name,
                        outlen - 1);
    return -1;
}

/* A non-negative integer parameter in [lo, hi]: 1 set, 0 absent, -1 refused (the reply is sent). */
static int int_param(ks_http_req_t *req, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    char text[64];
    int rc = param(req, name, text, sizeof text);
    if (rc <= 0)
        return rc;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < lo || n > hi) {
        ks_http_reply_error(req, 400, NULL, "query parameter `%s` must be an integer from %lld to %lld, not `%s`", name,
                            (long long)lo, (long long)hi, text);
        return -1;
    }
    *v = n;
    return 1;
}

/* `stale=true` allows reading partitions that are restoring. 1, 0, or -1 refused (the reply is sent). */
static int stale_param(ks_http_req_t *req)
{
    char text[16];
    int rc = param(req, "stale", text, sizeof text);
    if (rc <= 0)
        return rc;
    if (strcmp(text, "true") == 0)
        return 1;
    if (strcmp(text, "false") == 0)
        return 0;
    ks_http_reply_error(req, 400, NULL, "query parameter `stale` must be true or false");
    return -1;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void ks__cursor_encode(ks_buf_t *b, const unsigned char *k, size_t n)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)k[i] << 16 | (i + 1 < n ? (uint32_t)k[i + 1] << 8 : 0) | (i + 2 < n ? k[i + 2] : 0);
        ks_buf_putc(b, b64url[v >> 18 & 63]);
        ks_buf_putc(b, b64url[v >> 12 & 63]);
        if (i + 1 < n)
            ks_buf_putc(b, b64url[v >> 6 & 63]);
        if (i + 2 < n)
            ks_buf_putc(b, b64url[v & 63]);
    }
}

int ks__cursor_decode(const char *s, ks_buf_t *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (; *s; s++) {
        const char *at = strchr(b64url, *s);
        if (!at)
            return -1;
        acc = acc << 6 | (uint32_t)(at - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            ks_buf_putc(out, (char)(acc >> bits & 0xff));
        }
    }
    return bits >= 6 ? -1 : 0; /* a lone trailing character carries no byte */
}

/* ---- partitions ---- */

/*
 * Whether the partitions a request reads may be read here: partition
 * `part` (-1: all of them). Replies and returns -1 when they may not: 503
 * while the partitions are unknown or restoring (unless stale), the
 * not-local answer (route.c) when they are not held.
 */
static int check_partitions(ks_http_req_t *req, const ks_query_store_t *qs, int32_t part, int stale,
                            const unsigned char *mask)
{
    const ks_topology_t *t = qs->app->t;
    if (qs->global) {
        if (!stale && !ks_status_global_ready(t)) {
            ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                                "global store `%s` is bootstrapping (add stale=true to read it as it is)", qs->name);
            return -1;
        }
        return 0;
    }
    int n = ks_status_partitions(t, qs->sub);
    if (n <= 0) {
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "application %s is starting: its partitions are not known yet", t->application);
        return -1;
    }
    int lo = part >= 0 ? part : 0, hi = part >= 0 ? part + 1 : n, restoring = -1;
    for (int p = lo; p < hi; p++) {
        if (mask && !mask[p])
            continue; /* a peer's part of a scan: only the partitions it was asked for */
        ks_part_state_t s = ks_status_partition(t, qs->sub, p);
        if (s == KS_PART_NOT_HELD) {
            ks__query_not_local(req, qs, part, mask != NULL);
            return -1;
        }
        if (s == KS_PART_RESTORING && restoring < 0)
            restoring = p;
    }
    if (restoring >= 0 && !stale) {
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %d of store `%s` is restoring (add stale=true to read it as it is)", restoring,
                            qs->name);
        return -1;
    }
    return 0;
}

/* ---- entries as JSON ---- */

static void write_entry(ks_buf_t *b, const ks_query_store_t *qs, const void *k, size_t kl, const void *v, size_t vl)
{
    ks_store_entry_t e;
    ks_engine_decode_entry(qs->layout, k, kl, v, vl, &e);
    ks_buf_puts(b, "{\"key\":");
    ks_json_write(b, e.key);
    if (e.windowed)
        ks_buf_printf(b, ",\"window\":{\"start\":%lld,\"end\":%lld}", (long long)e.start, (long long)e.end);
    ks_buf_puts(b, ",\"value\":");
    if (ks_is_valid(e.value)) {
        ks_json_write(b, e.value);
    } else {
        const char *why = "the stored value does not decode with the store's value serde";
        ks_buf_puts(b, "null,\"error\":");
        ks_json_write_str(b, why, strlen(why));
    }
    ks_buf_printf(b, ",\"timestamp\":%lld}", (long long)e.ts);
    ks_val_release(e.key);
    if (ks_is_valid(e.value))
        ks_val_release(e.value);
}

/* ---- one key ---- */

static int32_t partition_of(const ks_query_store_t *qs, const ks_buf_t *key)
{
    if (qs->global)
        return GLOBAL_PARTITION;
    return ks_partition_for_key(key->data, key->len, ks_status_partitions(qs->app->t, qs->sub));
}

static void get_key(ks_http_req_t *req, const ks_query_store_t *qs, const char *keytext, size_t keylen)
{
    char err[KS_ERRMSG_SIZE];
    ks_buf_t key = {0}, b = {0};
    int stale = stale_param(req);
    if (stale < 0)
        goto out;
    if (qs->layout.kind != KS_STORE_KV) {
        ks_http_reply_error(
            req, 400, NULL,
            "store `%s` is a %s store: ask for a key's windows, /v1/stores/%s/keys/KEY/windows?from=&to=", qs->name,
            qs->kind, qs->name);
        goto out;
    }
    if (key_bytes(qs, keytext, keylen, &key, err, sizeof err)) {
        ks_http_reply_error(req, 400, NULL, "%s", err);
        goto out;
    }
    if (check_partitions(req, qs, qs->global ? -1 : partition_of(qs, &key), stale, NULL))
        goto out;
    ks_stores_t *s = handle_of(qs, err, sizeof err);
    if (!s || ks_stores_begin(s, err, sizeof err)) {
        ks_http_reply_error(req, 500, NULL, "%s", err);
        goto out;
    }
    const void *v;
    size_t vl;
    int found = ks_store_get(s, qs->name, partition_of(qs, &key), key.data, key.len, &v, &vl);
    if (found == 1)
        write_entry(&b, qs, key.data, key.len, v, vl);
    ks_stores_commit(s, err, sizeof err); /* ends the read transaction */
    if (found < 0)
        ks_http_reply_error(req, 500, NULL, "reading store `%s` failed", qs->name);
    else if (found == 0)
        ks_http_reply_error(req, 404, NULL, "key not found in store `%s`", qs->name);
    else
        ks_http_reply(req, 200, NULL, b.data, b.len);
out:
    ks_buf_free(&key);
    ks_buf_free(&b);
}

/* ---- scans and windows: entries gathered per partition, then merged ---- */

typedef struct entry {
    char *k, *v;
    size_t kl, vl;
} entry_t;

typedef struct gather {
    entry_t *items;
    int n;
    int want; /* entries this partition may give */
    int got;  /* entries this partition gave */
    const ks_query_store_t *qs;
    /* Window and session fetches: only keys of this exact key, and these times. */
    const char *key;
    size_t keylen;
    int64_t from, to;
} gather_t;

static int64_t be64(const void *p)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return (int64_t)v;
}

static void put_be64(ks_buf_t *b, int64_t v)
{
    for (int i = 7; i >= 0; i--)
        ks_buf_putc(b, (char)((uint64_t)v >> (i * 8) & 0xff));
}

static int on_entry(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    gather_t *g = ud;
    if (g->key) {
        /* Kafka Streams' bounds: windows starting in [from, to]; sessions ending at or after from, starting at or
         * before to. */
        int session = g->qs->layout.kind == KS_STORE_SESSION;
        size_t suffix = session ? SESSION_SUFFIX : WINDOW_SUFFIX;
        if (kl != g->keylen + suffix || memcmp(k, g->key, g->keylen) != 0)
            return 0;
        const char *t = (const char *)k + g->keylen;
        int64_t start = session ? be64(t + 8) : be64(t);
        int64_t end = session ? be64(t) : start;
        if (start > g->to || (session ? end < g->from : start < g->from))
            return 0;
    }
    KS_GROW(g->items, g->n);
    entry_t *e = &g->items[g->n++];
    e->k = ks_xmalloc(kl + 1);
    memcpy(e->k, k, kl);
    e->kl = kl;
    e->v = ks_xmalloc(vl + 1);
    memcpy(e->v, v, vl);
    e->vl = vl;
    return ++g->got >= g->want;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    return c ? c : x->kl < y->kl ? -1 : x->kl > y->kl;
}

/*
 * Reads [from, to) (byte order; NULL: open) of every partition the request
 * covers, at most limit+1 entries each, merges them and replies with the
 * first `limit` and the cursor of the next page.
 */
static void read_range(ks_http_req_t *req, const ks_query_store_t *qs, int32_t only_part, const unsigned char *mask,
                       const ks_buf_t *from, const ks_buf_t *to, int64_t limit, gather_t *g)
{
    char err[KS_ERRMSG_SIZE];
    ks_buf_t b = {0};
    ks_stores_t *s = handle_of(qs, err, sizeof err);
    if (!s || ks_stores_begin(s, err, sizeof err)) {
        ks_http_reply_error(req, 500, NULL, "%s", err);
        return;
    }
    int nparts = qs->global ? 1 : ks_status_partitions(qs->app->t, qs->sub);
    int rc = 0;
    for (int p = 0; p < nparts && rc == 0; p++) {
        int32_t part = qs->global ? GLOBAL_PARTITION : p;
        if ((only_part >= 0 && part != only_part) || (mask && !mask[p]))
            continue;
        g->want = (int)limit + 1;
        g->got = 0;
        rc = ks_store_range(s, qs->name, part, from && from->data ? from->data : NULL, from ? from->len : 0,
                            to && to->data ? to->data : NULL, to ? to->len : 0, on_entry, g);
    }
    ks_stores_commit(s, err, sizeof err);
    if (rc < 0) {
        ks_http_reply_error(req, 500, NULL, "reading store `%s` failed", qs->name);
        return;
    }
    if (g->n > 1)
        qsort(g->items, (size_t)g->n, sizeof *g->items, cmp_entry);
    int n = g->n < limit ? g->n : (int)limit;
    ks_buf_puts(&b, "{\"records\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            ks_buf_putc(&b, ',');
        write_entry(&b, qs, g->items[i].k, g->items[i].kl, g->items[i].v, g->items[i].vl);
        if (mask) {
            /* For the instance that merges the pages of several (route.c): the key's bytes, its sort key. */
            b.len--;
            ks_buf_puts(&b, ",\"_k\":\"");
            ks__cursor_encode(&b, (const unsigned char *)g->items[i].k, g->items[i].kl);
            ks_buf_puts(&b, "\"}");
        }
    }
    ks_buf_puts(&b, "],\"next\":");
    if (g->n > limit) {
        ks_buf_putc(&b, '"');
        ks__cursor_encode(&b, (const unsigned char *)g->items[n - 1].k, g->items[n - 1].kl);
        ks_buf_putc(&b, '"');
    } else {
        ks_buf_puts(&b, "null");
    }
    ks_buf_putc(&b, '}');
    ks_http_reply(req, 200, NULL, b.data, b.len);
    ks_buf_free(&b);
}

static void gather_free(gather_t *g)
{
    for (int i = 0; i < g->n; i++) {
        free(g->items[i].k);
        free(g->items[i].v);
    }
    free(g->items);
}

/* `after`: the cursor of the previous page; the range starts strictly after it. Returns 0, or -1 (replied). */
static int apply_cursor(ks_http_req_t *req, ks_buf_t *from)
{
    char text[4 * KEY_MAX / 3 + 8];
    int rc = param(req, "after", text, sizeof text);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return 0;
    ks_buf_t after = {0};
    if (ks__cursor_decode(text, &after) || after.len == 0) {
        ks_buf_free(&after);
        ks_http_reply_error(req, 400, NULL, "query parameter `after` is not a cursor this server gave");
        return -1;
    }
    ks_buf_putc(&after, 0); /* the least key above the cursor */
    size_t n = from->len < after.len ? from->len : after.len;
    int c = from->data ? memcmp(from->data, after.data, n) : -1;
    if (!from->data || c < 0 || (c == 0 && from->len < after.len)) {
        ks_buf_free(from);
        *from = after;
    } else {
        ks_buf_free(&after);
    }
    return 0;
}

/*
 * `partitions=0,2`, on a request another instance proxied (the forwarded
 * header): the part of a scan it asks of this one (route.c). *mask is set
 * (the caller frees it) only then. Returns 0, or -1 (replied 400).
 */
static int partitions_param(ks_http_req_t *req, const ks_query_store_t *qs, unsigned char **mask)
{
    char text[4096];
    int rc;
    if (!ks_http_req_header(req, KS_FORWARDED_HEADER) || (rc = param(req, "partitions", text, sizeof text)) == 0)
        return 0;
    int n = ks_status_partitions(qs->app->t, qs->sub);
    if (rc < 0 || n <= 0)
        return rc < 0 ? -1 : 0;
    *mask = ks_xcalloc((size_t)n, 1);
    for (char *p = text, *end; *p; p = *end ? end + 1 : end) {
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || errno || v < 0 || v >= n) {
            ks_http_reply_error(req, 400, NULL, "query parameter `partitions` must list partitions below %d", n);
            return -1;
        }
        (*mask)[v] = 1;
    }
    return 0;
}

static void scan(ks_http_req_t *req, const ks_query_store_t *qs)
{
    char err[KS_ERRMSG_SIZE], text[KEY_MAX];
    unsigned char *mask = NULL;
    ks_buf_t from = {0}, to = {0};
    gather_t g = {0};
    g.qs = qs;
    int64_t limit = LIMIT_DEFAULT;
    int stale = stale_param(req), rc;
    if (stale < 0 || int_param(req, "limit", 1, LIMIT_MAX, &limit) < 0)
        goto out;
    if (qs->layout.kind != KS_STORE_KV) {
        ks_http_reply_error(req, 400, NULL,
                            "store `%s` is a %s store: scans are of key-value stores; ask for a key's windows, "
                            "/v1/stores/%s/keys/KEY/windows?from=&to=",
                            qs->name, qs->kind, qs->name);
        goto out;
    }
    int has_prefix = 0;
    if ((rc = param(req, "prefix", text, sizeof text)) < 0)
        goto out;
    if (rc > 0) {
        has_prefix = 1;
        if (key_bytes(qs, text, strlen(text), &from, err, sizeof err)) {
            ks_http_reply_error(req, 400, NULL, "prefix: %s", err);
            goto out;
        }
        /* The least key above every key with the prefix: the prefix with its last byte not 0xff raised. */
        ks_buf_append(&to, from.data, from.len);
        while (to.len && (unsigned char)to.data[to.len - 1] == 0xff)
            to.len--;
        if (to.len)
            to.data[to.len - 1]++;
        else
            ks_buf_free(&to); /* only 0xff bytes: no upper bound */
    }
    if ((rc = param(req, "from", text, sizeof text)) < 0)
        goto out;
    if (rc > 0) {
        if (has_prefix) {
            ks_http_reply_error(req, 400, NULL, "give `prefix` or `from`/`to`, not both");
            goto out;
        }
        if (key_bytes(qs, text, strlen(text), &from, err, sizeof err)) {
            ks_http_reply_error(req, 400, NULL, "from: %s", err);
            goto out;
        }
    }
    if ((rc = param(req, "to", text, sizeof text)) < 0)
        goto out;
    if (rc > 0) {
        if (has_prefix) {
            ks_http_reply_error(req, 400, NULL, "give `prefix` or `from`/`to`, not both");
            goto out;
        }
        if (key_bytes(qs, text, strlen(text), &to, err, sizeof err)) {
            ks_http_reply_error(req, 400, NULL, "to: %s", err);
            goto out;
        }
        ks_buf_putc(&to, 0); /* `to` is inclusive, as in ReadOnlyKeyValueStore#range */
    }
    if (apply_cursor(req, &from) || partitions_param(req, qs, &mask) || check_partitions(req, qs, -1, stale, mask))
        goto out;
    read_range(req, qs, -1, mask, &from, &to, limit, &g);
out:
    free(mask);
    gather_free(&g);
    ks_buf_free(&from);
    ks_buf_free(&to);
}

static void windows(ks_http_req_t *req, const ks_query_store_t *qs, const char *keytext, size_t keylen)
{
    char err[KS_ERRMSG_SIZE];
    ks_buf_t key = {0}, from = {0}, to = {0};
    gather_t g = {0};
    g.qs = qs;
    int64_t limit = LIMIT_DEFAULT, tfrom = 0, tto = INT64_MAX;
    int stale = stale_param(req);
    if (stale < 0 || int_param(req, "limit", 1, LIMIT_MAX, &limit) < 0 ||
        int_param(req, "from", 0, INT64_MAX, &tfrom) < 0 || int_param(req, "to", 0, INT64_MAX, &tto) < 0)
        goto out;
    if (qs->layout.kind == KS_STORE_KV) {
        ks_http_reply_error(req, 400, NULL,
                            "store `%s` is a key-value store: it has no windows; use /v1/stores/%s/keys/KEY", qs->name,
                            qs->name);
        goto out;
    }
    if (key_bytes(qs, keytext, keylen, &key, err, sizeof err)) {
        ks_http_reply_error(req, 400, NULL, "%s", err);
        goto out;
    }
    int32_t part = partition_of(qs, &key);
    if (check_partitions(req, qs, part, stale, NULL))
        goto out;
    /* Window keys sort by start, session keys by end: the range starts at the first that can match. */
    ks_buf_append(&from, key.data, key.len);
    put_be64(&from, tfrom);
    ks_buf_append(&to, key.data, key.len);
    put_be64(&to, qs->layout.kind == KS_STORE_SESSION ? INT64_MAX : tto);
    for (int i = 0; i < (qs->layout.kind == KS_STORE_SESSION ? 8 : 4); i++)
        ks_buf_putc(&to, (char)0xff);
    ks_buf_putc(&to, 0);
    g.key = key.data;
    g.keylen = key.len;
    g.from = tfrom;
    g.to = tto;
    if (apply_cursor(req, &from))
        goto out;
    read_range(req, qs, part, NULL, &from, &to, limit, &g);
out:
    gather_free(&g);
    ks_buf_free(&key);
    ks_buf_free(&from);
    ks_buf_free(&to);
}

/* ---- routing of /v1/stores/... and /v1/apps/... ---- */

/* Splits `path` at '/' into at most `max` segments (borrowed pointers and lengths). Returns their number, or -1. */
static int segments(const char *path, const char **seg, size_t *len, int max)
{
    int n = 0;
    while (*path) {
        const char *slash = strchr(path, '/');
        size_t l = slash ? (size_t)(slash - path) : strlen(path);
        if (n == max)
            return -1;
        seg[n] = path;
        len[n++] = l;
        if (!slash)
            break;
        path = slash + 1;
        if (!*path)
            return -1; /* a trailing slash */
    }
    return n;
}

/* Serves `rest` ("{store}[/keys/{key}[/windows]]") for the stores of `app` (NULL: of every application). */
static void serve_store(ks_http_req_t *req, ks_query_service_t *svc, const ks_query_app_t *app, const char *rest)
{
    const char *seg[4];
    size_t len[4];
    int n = segments(rest, seg, len, 4);
    char name[512], key[KEY_MAX];
    if (n < 1 || (n >= 2 && (len[1] != 4 || strncmp(seg[1], "keys", 4) != 0)) || n == 2 ||
        (n == 4 && (len[3] != 7 || strncmp(seg[3], "windows", 7) != 0))) {
        ks_http_req_set_endpoint(req, KS_EP_UNKNOWN);
        ks_http_reply_error(req, 404, NULL, "no such endpoint: %s", ks_http_req_path(req));
        return;
    }
    if (ks_http_percent_decode(seg[0], len[0], name, sizeof name) < 0) {
        ks_http_reply_error(req, 400, NULL, "the store name is not percent-encoded text");
        return;
    }
    const ks_query_store_t *qs = NULL;
    int matches = 0;
    for (int i = 0; i < svc->nstores; i++)
        if ((!app || svc->stores[i].app == app) && strcmp(svc->stores[i].name, name) == 0) {
            qs = &svc->stores[i];
            matches++;
        }
    ks_http_req_set_endpoint(req, n == 1 ? KS_EP_SCAN : n == 3 ? KS_EP_KEY : KS_EP_WINDOWS);
    if (matches == 0) {
        ks_http_reply_error(req, 404, NULL, "no queryable store `%s`%s%s (GET /v1/stores lists them)", name,
                            app ? " in application " : "", app ? app->t->application : "");
        return;
    }
    if (matches > 1) {
        ks_http_reply_error(req, 400, NULL,
                            "%d applications of this process have a store `%s`: ask "
                            "/v1/apps/{application}/stores/%s/...",
                            matches, name, name);
        return;
    }
    if (n == 1) {
        scan(req, qs);
        return;
    }
    int kl = ks_http_percent_decode(seg[2], len[2], key, sizeof key);
    if (kl < 0) {
        ks_http_reply_error(req, 400, NULL, "the key is not percent-encoded text");
        return;
    }
    if (n == 3)
        get_key(req, qs, key, (size_t)kl);
    else
        windows(req, qs, key, (size_t)kl);
}

void ks__query_store(ks_http_req_t *req, void *ud)
{
    serve_store(req, ud, NULL, ks_http_req_path(req) + strlen("/v1/stores/"));
}

void ks__query_app(ks_http_req_t *req, void *ud)
{
    ks_query_service_t *svc = ud;
    const char *rest = ks_http_req_path(req) + strlen("/v1/apps/");
    const char *slash = strchr(rest, '/');
    char name[512];
    const ks_query_app_t *app = NULL;
    if (slash && ks_http_percent_decode(rest, (size_t)(slash - rest), name, sizeof name) >= 0)
        for (int i = 0; i < svc->napps && !app; i++)
            if (strcmp(svc->apps[i].t->application, name) == 0)
                app = &svc->apps[i];
    if (!slash || strncmp(slash, "/stores", 7) != 0 || (slash[7] != 0 && slash[7] != '/')) {
        ks_http_req_set_endpoint(req, KS_EP_UNKNOWN);
        ks_http_reply_error(req, 404, NULL, "no such endpoint: %s", ks_http_req_path(req));
        return;
    }
    if (!app) {
        ks_http_reply_error(req, 404, NULL, "no application `%.*s` in this process", (int)(slash - rest), rest);
        return;
    }
    if (slash[7] == 0) {
        list_stores(req, svc, app);
        return;
    }
    serve_store(req, svc, app, slash + 8);
}

/* ---- an example lookup, for the log line that shows a working curl ---- */

static int on_first(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    ks_buf_t *b = ud;
    ks_buf_append(b, k, kl);
    return 1;
}

static void percent_encode(ks_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-._~", ch))
            ks_buf_putc(b, (char)ch);
        else
            ks_buf_printf(b, "%%%02X", ch);
    }
}

int ks__query_example(ks_query_service_t *svc, ks_buf_t *path)
{
    char err[KS_ERRMSG_SIZE];
    for (int i = 0; i < svc->nstores; i++) {
        const ks_query_store_t *qs = &svc->stores[i];
        if (qs->layout.kind != KS_STORE_KV || qs->global)
            continue;
        ks_stores_t *s = handle_of(qs, err, sizeof err);
        if (!s || ks_stores_begin(s, err, sizeof err))
            continue;
        ks_buf_t key = {0};
        int n = ks_status_partitions(qs->app->t, qs->sub);
        for (int p = 0; p < n && key.len == 0; p++)
            if (ks_status_partition(qs->app->t, qs->sub, p) == KS_PART_ACTIVE)
                ks_store_range(s, qs->name, p, NULL, 0, NULL, 0, on_first, &key);
        ks_stores_commit(s, err, sizeof err);
        if (key.len == 0) {
            ks_buf_free(&key);
            continue;
        }
        ks_val k;
        int ok = ks_serde_decode(qs->layout.p->store_key, key.data, key.len, &k, NULL, 0) == 0;
        ks_buf_free(&key);
        if (!ok)
            continue;
        ks_buf_t text = {0};
        if (qs->layout.p->store_key == KS_SERDE_STRING || qs->layout.p->store_key == KS_SERDE_BYTES)
            ks_buf_append(&text, ks_str_data(k), ks_str_len(k));
        else
            ks_json_write(&text, k);
        ks_val_release(k);
        int unique = 1;
        for (int j = 0; j < svc->nstores; j++)
            unique &= j == i || strcmp(svc->stores[j].name, qs->name) != 0;
        if (unique) {
            ks_buf_puts(path, "/v1/stores/");
        } else {
            ks_buf_puts(path, "/v1/apps/");
            percent_encode(path, qs->app->t->application, strlen(qs->app->t->application));
            ks_buf_puts(path, "/stores/");
        }
        percent_encode(path, qs->name, strlen(qs->name));
        ks_buf_puts(path, "/keys/");
        percent_encode(path, text.data, text.len);
        ks_buf_free(&text);
        return 1;
    }
    return 0;
}
