/*
 * route.c: requests for partitions this process does not hold. Another
 * instance of the application holds them, or nobody does while the group
 * rebalances. The owner is the member the consumer group assigned the
 * partition to (directory.h: the group's own description, each member's
 * query address in its client.id), as Kafka Streams' KeyQueryMetadata finds
 * the active host from the assignment.
 *
 * - A key (a lookup, a key's windows) is proxied to its owner, one hop: the
 *   request carries KS_FORWARDED_HEADER, and an instance that gets a
 *   forwarded request for a partition it does not hold answers 503 rather
 *   than proxying again. With `redirect=true` the answer is a 307 to the
 *   owner instead.
 * - A scan asks every owner, this process included, for its partitions
 *   (`partitions=` on a forwarded request), each answering at most `limit`
 *   records after the cursor with each record's key bytes; the first
 *   `limit` of their merge in key-byte order is the page. A partition
 *   without an owner makes the scan 503: a page is never built from part
 *   of the store.
 * - While the group rebalances (its description is not stable), or the
 *   owner does not answer, the answer is 503 with Retry-After, and the
 *   directory is asked again: never a value from a partition's former
 *   owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../kafka/status.h"
#include "../util/util.h"
#include "directory.h"
#include "proxy.h"
#include "service_int.h"

#define PROXY_TIMEOUT_MS 5000
#define LIMIT_DEFAULT 100 /* query.c's */

/* The topic whose partition p is task p of sub-topology `sub`: any of its sources' (they are co-partitioned). */
static const char *sub_topic(const ks_topology_t *t, int sub)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op == KS_OP_SOURCE && p->subtopology == sub && p->io.ntopics > 0)
            return p->io.topics[0];
    }
    return NULL;
}

/* The request's target (path and query) with `extra` ("name=value") added to its query. */
static void target_of(ks_buf_t *b, ks_http_req_t *req, const char *extra)
{
    const char *q = ks_http_req_query(req);
    ks_buf_puts(b, ks_http_req_path(req));
    if (*q || extra)
        ks_buf_putc(b, '?');
    ks_buf_puts(b, q);
    if (extra) {
        if (*q)
            ks_buf_putc(b, '&');
        ks_buf_puts(b, extra);
    }
}

/* ---- one partition: proxy or redirect ---- */

typedef struct proxied {
    ks_http_req_t *req;
    ks_directory_t *dir;
    char owner[300];
    int32_t partition;
} proxied_t;

static void on_proxied(void *ud, const ks_proxy_response_t *res)
{
    proxied_t *p = ud;
    char headers[400];
    if (!res->status) {
        ks_directory_refresh(p->dir);
        ks_http_reply_error(p->req, 503, "Retry-After: 1\r\n", "the owner of partition %d (%s) did not answer: %s",
                            (int)p->partition, p->owner, res->error);
        free(p);
        return;
    }
    if (res->status == 503)
        ks_directory_refresh(p->dir); /* it may not own the partition any more */
    int hl = snprintf(headers, sizeof headers, "X-Kstreamd-Served-By: %s\r\n", p->owner);
    if (res->retry_after)
        snprintf(headers + hl, sizeof headers - (size_t)hl, "Retry-After: %.20s\r\n", res->retry_after);
    ks_http_reply_as(p->req, res->status, res->ctype ? res->ctype : "application/json", headers, res->body,
                     res->body_len);
    free(p);
}

static int redirect_asked(ks_http_req_t *req)
{
    char v[16];
    return ks_http_req_param(req, "redirect", v, sizeof v) > 0 && strcmp(v, "true") == 0;
}

static void route_key(ks_http_req_t *req, const ks_query_store_t *qs, int32_t partition)
{
    ks_query_service_t *svc = qs->app->svc;
    const ks_topology_t *t = qs->app->t;
    const char *topic = sub_topic(t, qs->sub);
    const char *owner = qs->app->dir && topic ? ks_directory_owner(qs->app->dir, topic, partition) : NULL;
    if (!owner || strcmp(owner, svc->self) == 0) {
        if (qs->app->dir)
            ks_directory_refresh(qs->app->dir);
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %d of store `%s` (application %s) has no owner that serves queries now: the "
                            "group is rebalancing, or its owner does not serve queries",
                            (int)partition, qs->name, t->application);
        return;
    }
    ks_buf_t target = {0};
    if (redirect_asked(req)) {
        ks_buf_t h = {0};
        ks_buf_printf(&h, "Location: http://%s", owner);
        target_of(&h, req, NULL);
        ks_buf_puts(&h, "\r\n");
        ks_http_reply_error(req, 307, h.data, "partition %d of store `%s` is served by %s", (int)partition, qs->name,
                            owner);
        ks_buf_free(&h);
        return;
    }
    proxied_t *p = ks_xcalloc(1, sizeof *p);
    p->req = req;
    p->dir = qs->app->dir;
    p->partition = partition;
    snprintf(p->owner, sizeof p->owner, "%s", owner);
    target_of(&target, req, NULL);
    if (ks_proxy_get(svc->pool, p->owner, target.data, PROXY_TIMEOUT_MS, on_proxied, p)) {
        ks_http_reply_error(req, 502, NULL, "the owner's address `%s` is not HOST:PORT", p->owner);
        free(p);
    }
    ks_buf_free(&target);
}

/* ---- a scan: every owner's part, merged ---- */

typedef struct item {
    char *key; /* the key's bytes */
    size_t keylen;
    char *json; /* the record as the page shows it */
} item_t;

typedef struct scan {
    ks_http_req_t *req;
    const ks_query_store_t *qs;
    int64_t limit;
    int pending; /* sub-requests not answered yet */
    int more;    /* a part had more records than it gave */
    item_t *items;
    int n;
    /* The first failure, relayed when every part has answered. */
    int fail_status;
    char *fail_body, *fail_retry;
    size_t fail_len;
} scan_t;

static int cmp_item(const void *a, const void *b)
{
    const item_t *x = a, *y = b;
    size_t n = x->keylen < y->keylen ? x->keylen : y->keylen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

static void scan_free(scan_t *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->items[i].key);
        free(s->items[i].json);
    }
    free(s->items);
    free(s->fail_body);
    free(s->fail_retry);
    free(s);
}

static void scan_fail(scan_t *s, int status, const char *retry, const char *body, size_t len)
{
    if (s->fail_status)
        return;
    s->fail_status = status;
    s->fail_retry = retry ? ks_xstrdup(retry) : NULL;
    s->fail_body = ks_xstrndup(body, len);
    s->fail_len = len;
}

/* A part's page: its records (each with `_k`, its key bytes) into the merge. Returns 0, or -1 when malformed. */
static int take_part(scan_t *s, const char *body, size_t len)
{
    ks_val page;
    char err[256];
    if (ks_json_parse(body, len, &page, err, sizeof err))
        return -1;
    int rc = -1;
    const ks_val *records = page.kind == KS_OBJECT ? ks_obj_get(page, "records", 7) : NULL;
    const ks_val *next = page.kind == KS_OBJECT ? ks_obj_get(page, "next", 4) : NULL;
    if (!records || records->kind != KS_ARRAY)
        goto out;
    if (next && next->kind != KS_NULL)
        s->more = 1;
    for (size_t i = 0; i < ks_arr_len(*records); i++) {
        ks_val r = ks_val_retain(*ks_arr_get(*records, i));
        const ks_val *k = r.kind == KS_OBJECT ? ks_obj_get(r, "_k", 2) : NULL;
        ks_buf_t key = {0};
        if (!k || k->kind != KS_STRING || ks__cursor_decode(ks_str_data(*k), &key)) {
            ks_val_release(r);
            ks_buf_free(&key);
            goto out;
        }
        ks_obj_del(&r, "_k", 2);
        ks_buf_t j = {0};
        ks_json_write(&j, r);
        ks_val_release(r);
        KS_GROW(s->items, s->n);
        s->items[s->n].keylen = key.len;
        s->items[s->n].key = key.data ? ks_buf_steal(&key) : ks_xstrdup("");
        s->items[s->n].json = ks_buf_steal(&j);
        s->n++;
    }
    rc = 0;
out:
    ks_val_release(page);
    return rc;
}

static void scan_reply(scan_t *s)
{
    if (s->fail_status) {
        char headers[64] = "";
        if (s->fail_retry)
            snprintf(headers, sizeof headers, "Retry-After: %.20s\r\n", s->fail_retry);
        ks_http_reply(s->req, s->fail_status, headers[0] ? headers : NULL, s->fail_body, s->fail_len);
        return;
    }
    qsort(s->items, (size_t)s->n, sizeof *s->items, cmp_item);
    int n = s->n < s->limit ? s->n : (int)s->limit;
    ks_buf_t b = {0};
    ks_buf_puts(&b, "{\"records\":[");
    for (int i = 0; i < n; i++) {
        if (i)
            ks_buf_putc(&b, ',');
        ks_buf_puts(&b, s->items[i].json);
    }
    ks_buf_puts(&b, "],\"next\":");
    if (n > 0 && (s->n > s->limit || s->more)) {
        ks_buf_putc(&b, '"');
        ks__cursor_encode(&b, (const unsigned char *)s->items[n - 1].key, s->items[n - 1].keylen);
        ks_buf_putc(&b, '"');
    } else {
        ks_buf_puts(&b, "null");
    }
    ks_buf_putc(&b, '}');
    ks_http_reply(s->req, 200, NULL, b.data, b.len);
    ks_buf_free(&b);
}

typedef struct part_req {
    scan_t *scan;
    char owner[300];
} part_req_t;

static void on_part(void *ud, const ks_proxy_response_t *res)
{
    part_req_t *pr = ud;
    scan_t *s = pr->scan;
    if (!res->status) {
        ks_directory_refresh(s->qs->app->dir);
        char msg[600];
        int n = snprintf(msg, sizeof msg, "{\"error\":\"an owner of store `%s` (%s) did not answer\"}", s->qs->name,
                         pr->owner);
        scan_fail(s, 503, "1", msg, (size_t)n);
    } else if (res->status != 200) {
        if (res->status == 503)
            ks_directory_refresh(s->qs->app->dir);
        scan_fail(s, res->status, res->retry_after, res->body, res->body_len);
    } else if (take_part(s, res->body, res->body_len)) {
        char msg[600];
        int n = snprintf(msg, sizeof msg, "{\"error\":\"the page %s gave of store `%s` is malformed\"}", pr->owner,
                         s->qs->name);
        scan_fail(s, 502, NULL, msg, (size_t)n);
    }
    free(pr);
    if (--s->pending == 0) {
        scan_reply(s);
        scan_free(s);
    }
}

static void route_scan(ks_http_req_t *req, const ks_query_store_t *qs)
{
    ks_query_service_t *svc = qs->app->svc;
    const ks_topology_t *t = qs->app->t;
    const char *topic = sub_topic(t, qs->sub);
    int n = ks_status_partitions(t, qs->sub);
    char v[32];
    int64_t limit = LIMIT_DEFAULT;
    if (ks_http_req_param(req, "limit", v, sizeof v) > 0)
        limit = atoll(v); /* the parts check it: a bad one comes back as their 400 */
    if (limit < 1)
        limit = 1;
    /* Each partition's owner: this process for what it holds, else the group's member. */
    const char **owner = ks_xcalloc((size_t)n + 1, sizeof *owner);
    int missing = -1;
    for (int p = 0; p < n; p++) {
        owner[p] = ks_status_partition(t, qs->sub, p) != KS_PART_NOT_HELD ? svc->self
                   : qs->app->dir && topic                                ? ks_directory_owner(qs->app->dir, topic, p)
                                                                          : NULL;
        if ((!owner[p] || (owner[p] != svc->self && strcmp(owner[p], svc->self) == 0)) && missing < 0)
            missing = p;
    }
    if (missing >= 0) {
        if (qs->app->dir)
            ks_directory_refresh(qs->app->dir);
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %d of store `%s` (application %s) has no owner that serves queries now: the "
                            "group is rebalancing, or its owner does not serve queries",
                            missing, qs->name, t->application);
        free(owner);
        return;
    }
    scan_t *s = ks_xcalloc(1, sizeof *s);
    s->req = req;
    s->qs = qs;
    s->limit = limit;
    s->pending = 1; /* this function's own, dropped at the end: no reply before every part is asked */
    for (int p = 0; p < n; p++) {
        if (!owner[p])
            continue;
        const char *who = owner[p];
        ks_buf_t parts = {0}, target = {0};
        ks_buf_puts(&parts, "partitions=");
        for (int q = p, first = 1; q < n; q++)
            if (owner[q] && strcmp(owner[q], who) == 0) {
                ks_buf_printf(&parts, "%s%d", first ? "" : "%2C", q);
                first = 0;
                owner[q] = NULL;
            }
        target_of(&target, req, parts.data);
        part_req_t *pr = ks_xcalloc(1, sizeof *pr);
        pr->scan = s;
        snprintf(pr->owner, sizeof pr->owner, "%s", who);
        s->pending++;
        if (ks_proxy_get(svc->pool, pr->owner, target.data, PROXY_TIMEOUT_MS, on_part, pr)) {
            s->pending--;
            char msg[600];
            int ml = snprintf(msg, sizeof msg, "{\"error\":\"the owner's address `%s` is not HOST:PORT\"}", pr->owner);
            scan_fail(s, 502, NULL, msg, (size_t)ml);
            free(pr);
        }
        ks_buf_free(&parts);
        ks_buf_free(&target);
    }
    free(owner);
    if (--s->pending == 0) {
        scan_reply(s);
        scan_free(s);
    }
}

void ks__query_not_local(ks_http_req_t *req, const ks_query_store_t *store, int32_t partition, int part_of_scan)
{
    if (part_of_scan || ks_http_req_header(req, KS_FORWARDED_HEADER)) {
        /* Asked by another instance that believed this one holds it: one hop only. */
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %s%d of store `%s` (application %s) is not held by this instance",
                            partition >= 0 ? "" : "of the scan ", (int)partition, store->name,
                            store->app->t->application);
        return;
    }
    if (!store->app->svc->pool) {
        ks_http_reply_error(req, 503, "Retry-After: 1\r\n",
                            "partition %d of store `%s` (application %s) is not held by this instance, and this "
                            "process routes no queries (the embedded broker)",
                            (int)partition, store->name, store->app->t->application);
        return;
    }
    if (partition >= 0)
        route_key(req, store, partition);
    else
        route_scan(req, store);
}

/* ---- the service's routing state ---- */

int ks__routing_start(ks_query_service_t *svc, char *err, size_t errlen)
{
    const ks_runtime_conf_t *c0 = svc->apps[0].conf;
    const char *adv =
        c0->application_server && *c0->application_server ? c0->application_server : ks_http_server_address(svc->srv);
    snprintf(svc->self, sizeof svc->self, "%s", adv);
    if (!c0->bootstrap || strcmp(c0->bootstrap, "embedded") == 0)
        return 0; /* one process is the whole cluster: nothing to route */
    uv_loop_t *loop = ks_http_server_loop(svc->srv);
    svc->pool = ks_proxy_pool_new(loop, 64);
    for (int i = 0; i < svc->napps; i++) {
        int routed = 0;
        for (int k = 0; k < svc->nstores; k++)
            routed |= svc->stores[k].app == &svc->apps[i] && !svc->stores[k].global;
        if (!routed)
            continue;
        svc->apps[i].dir =
            ks_directory_new(loop, svc->apps[i].t->application, svc->apps[i].conf, c0->bootstrap, err, errlen);
        if (!svc->apps[i].dir)
            return -1;
    }
    return 0;
}

void ks__routing_close(void *ud)
{
    ks_query_service_t *svc = ud;
    for (int i = 0; i < svc->napps; i++) {
        ks_directory_close(svc->apps[i].dir);
        svc->apps[i].dir = NULL;
    }
    if (svc->pool)
        ks_proxy_pool_close(svc->pool);
    svc->pool = NULL;
}
