/*
 * ops_state.c: the stateful operators at run time, and the table side of
 * the stateless ones.
 *
 *   toTable, table sources     materialise (key -> value), forward (new, old)
 *   toStream                   a table's changes as a stream
 *   filter/mapValues (tables)  on both the new and the old value
 *   groupBy                    streams: a new key; tables: a subtract record
 *                              for the old value and an add record for the
 *                              new one, through the repartition topic
 *   count/reduce/aggregate     streams, tables (adder/subtractor), and
 *                              tumbling, hopping and session windows
 *   suppress                   untilWindowCloses, untilTimeLimit/maxRecords
 *
 * Semantics are Kafka Streams': records with a null key (and, for stream
 * aggregations, a null value) are dropped; an aggregate's timestamp is the
 * largest of its inputs'; a window accepts a record while its end is after
 * stream time minus grace, later records are dropped and counted as late;
 * stream time is kept per processor and partition, as each Kafka Streams
 * processor observes it.
 *
 * Store layout (see store.h): keys are the grouping key as JSON text;
 * window stores append `\0`, the window start (8 bytes, big-endian) and, for
 * sessions, the end. Values are the timestamp (8 bytes, big-endian) then the
 * value as JSON text. A changelog record carries the store key, the value
 * without its timestamp prefix, and the timestamp as its own; restore puts
 * them back together.
 *
 * The record cache sits in front of the key-value and time-window stores:
 * updates to a key collapse until the cache is flushed (at commit) or the
 * key is evicted (least recently used first, flushing its processor's
 * other dirty entries too, as Kafka Streams' NamedCache does). Session
 * stores, which are read by range, are written through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../store/store.h"
#include "../util/util.h"
#include "engine_int.h"

/* ---- the record cache ---- */

typedef struct centry {
    struct centry *hnext, *lprev, *lnext;
    const ks_proc_t *p;
    int32_t part;
    uint64_t h;
    char *k;
    size_t kl;
    char *v; /* timestamp-prefixed value; NULL: delete */
    size_t vl;
    ks_val fkey; /* the key forwarded downstream (KS_INVALID for a clean entry made by a read) */
    ks_val val;  /* the value v was made from (KS_INVALID: decode v) */
    char *base;  /* what the store holds for the key, when base_known (NULL: absent) */
    size_t basel;
    int base_known;
    int64_t del_ts; /* a delete's timestamp */
    int dirty, listed;
    const char *src_topic; /* interned */
    int32_t src_part;
    int64_t src_off;
    size_t bytes;
} centry_t;

/*
 * What a cache entry costs beyond its struct and bytes: four allocations'
 * malloc headers, the forwarded key's value, its hash and dirty-list slots
 * (measured: counting only 64 bytes, the cache used ~2.5x its budget).
 */
#define CENTRY_OVERHEAD 192

/*
 * A suppression buffer entry: in memory only what ordering needs; the
 * record itself lives in the buffer's store (and changelog) until emitted.
 */
typedef struct supent {
    char *k; /* the key's JSON text, also its store key */
    size_t kl;
    int64_t btime, ts;
    uint64_t seq;
} supent_t;

typedef struct pstate {
    int64_t time;
    int has_time;
    int loaded;
    supent_t *buf; /* suppression buffer */
    int nbuf, capbuf;
    int64_t minb;  /* smallest buffer time in buf */
    int *slots;    /* open-addressing index of buf by key: index + 1, 0 empty */
    int nslots;
    int64_t purged_at; /* window stores: stream time of the last purge of expired windows */
    int purged;
} pstate_t;

struct ks_state {
    ks_stores_t *stores;
    size_t cache_max, cache_bytes;
    centry_t **tab;
    size_t tabsize, count;
    centry_t *lru_head, *lru_tail;
    struct dlist {   /* per processor (by seq): its dirty entries, in the order they became dirty */
        centry_t **v;
        size_t n, cap;
    } *dl;
    int ndl;
    pstate_t **ps;
    int *nps;
    int nprocs;
    uint64_t seq;
    int flushing;
    char **topics; /* interned source topic names of cache entries */
    int ntopics;
    struct {            /* the last store read without the cache, reused by the write that follows it */
        const ks_proc_t *p;
        int32_t part;
        char *k, *v;
        size_t kl, vl, kcap, vcap;
        int found;
    } last;
};

int ks_topology_has_state(const ks_topology_t *t)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->nstores > 0)
            return 1;
    return 0;
}

int ks__state_check(const ks_topology_t *t, char *err, size_t errlen)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        const char *why = NULL;
        if (p->op == KS_OP_JOIN || p->op == KS_OP_LEFT_JOIN || p->op == KS_OP_OUTER_JOIN)
            why = "joins are not run by this version of kstreamd";
        else if (p->op == KS_OP_TABLE_SOURCE && p->is_default)
            why = "global tables (used by joins) are not run by this version of kstreamd";
        if (why) {
            snprintf(err, errlen, "%s:%d:%d: `%s`: %s", t->file, p->pos.line, p->pos.col, ks_op_dsl_name(p->op), why);
            return -1;
        }
    }
    return 0;
}


/* ---- failures of the state layer: they stop the service ---- */

static int state_fatal(ks_engine_t *e, const char *msg)
{
    if (!e->failed) {
        snprintf(e->fatal, sizeof e->fatal, "state store: %s", msg);
        e->failed = 1;
    }
    return -1;
}

static struct ks_state *state(ks_engine_t *e)
{
    if (!e->st) {
        state_fatal(e, "no state directory is attached to this engine");
        return NULL;
    }
    return e->st;
}

static int begin(ks_engine_t *e)
{
    char err[512];
    if (ks_stores_begin(e->st->stores, err, sizeof err))
        return state_fatal(e, err);
    return 0;
}

static pstate_t *pstate(ks_engine_t *e, const ks_proc_t *p, int32_t part)
{
    struct ks_state *st = e->st;
    if (p->seq >= st->nprocs) {
        st->ps = ks_xrealloc(st->ps, (size_t)(p->seq + 1) * sizeof *st->ps);
        st->nps = ks_xrealloc(st->nps, (size_t)(p->seq + 1) * sizeof *st->nps);
        for (int i = st->nprocs; i <= p->seq; i++) {
            st->ps[i] = NULL;
            st->nps[i] = 0;
        }
        st->nprocs = p->seq + 1;
    }
    if (part >= st->nps[p->seq]) {
        st->ps[p->seq] = ks_xrealloc(st->ps[p->seq], (size_t)(part + 1) * sizeof(pstate_t));
        memset(st->ps[p->seq] + st->nps[p->seq], 0, (size_t)(part + 1 - st->nps[p->seq]) * sizeof(pstate_t));
        st->nps[p->seq] = part + 1;
    }
    return &st->ps[p->seq][part];
}

/* Stream time as this processor observes it on this partition. */
static int64_t observe(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t ts)
{
    pstate_t *ps = pstate(e, p, part);
    if (!ps->has_time || ts > ps->time) {
        ps->time = ts;
        ps->has_time = 1;
    }
    return ps->time;
}

/* ---- encodings ---- */

static void put_be64(char *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        b[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get_be64(const void *p)
{
    const unsigned char *b = p;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | b[i];
    return (int64_t)u;
}

static void key_text(ks_buf_t *b, ks_val key)
{
    b->len = 0;
    ks_json_write(b, key);
}

static void window_key(ks_buf_t *b, ks_val key, int64_t start, int64_t end, int session)
{
    key_text(b, key);
    char t[17];
    t[0] = 0;
    put_be64(t + 1, start);
    ks_buf_append(b, t, 9);
    if (session) {
        put_be64(t, end);
        ks_buf_append(b, t, 8);
    }
}

static ks_val windowed_key(ks_val key, int64_t start, int64_t end)
{
    ks_val w = ks_obj_new(2), o = ks_obj_new(2);
    ks_obj_setc(&w, "start", ks_num_i64(start));
    ks_obj_setc(&w, "end", ks_num_i64(end));
    ks_obj_setc(&o, "key", ks_val_retain(key));
    ks_obj_setc(&o, "window", w);
    return o;
}

static void enc_value(ks_buf_t *b, ks_val v, int64_t ts)
{
    char t[8];
    b->len = 0;
    put_be64(t, ts);
    ks_buf_append(b, t, 8);
    ks_json_write(b, v);
}

static int dec_value(ks_engine_t *e, const void *data, size_t len, ks_val *v, int64_t *ts)
{
    char err[200];
    if (len < 8 || ks_json_parse((const char *)data + 8, len - 8, v, err, sizeof err)) {
        char msg[300];
        snprintf(msg, sizeof msg, "a stored value does not decode (%s)", len < 8 ? "too short" : err);
        return state_fatal(e, msg);
    }
    if (ts)
        *ts = get_be64(data);
    return 0;
}

/* ---- forwarding a change downstream ---- */

static void forward_change(ks_engine_t *e, const ks_proc_t *p, ks_val key, ks_val newv, ks_val oldv, int64_t ts)
{
    flight_t c = {0};
    c.key = key;
    c.value = newv.kind == KS_INVALID ? ks_null() : newv;
    c.old = oldv.kind == KS_INVALID ? ks_null() : oldv;
    c.key_changed = c.value_changed = 1;
    c.key_serde = c.value_serde = KS_SERDE_JSON;
    c.ts = ts;
    c.node = p->name;
    c.window = ks_invalid();
    ks__forward(e, &c, p);
}

static void changelog(ks_engine_t *e, const ks_proc_t *p, int32_t part, const void *k, size_t kl, const void *v,
                      size_t vl, int64_t ts)
{
    if (!p->changelogs || !p->changelogs[0])
        return;
    ks_record_t out = {0};
    out.topic = p->changelogs[0];
    out.partition = part;
    out.offset = -1;
    out.timestamp = ts;
    out.key = k;
    out.key_len = kl;
    out.value = v ? (const char *)v + 8 : NULL;
    out.value_len = v ? vl - 8 : 0;
    e->ops.emit(e->ud, &out);
}

/*
 * Writes through to the store and the changelog, then forwards (key, new,
 * old). newb is the timestamp-prefixed value, NULL to delete.
 */
/* What the store holds for a key, when the caller already knows it (saves a read). */
typedef struct known {
    int valid;
    const char *b; /* NULL: absent */
    size_t l;
} known_t;

static int write_through(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey,
                         const char *newb, size_t newl, int forward, int64_t del_ts, const known_t *known, ks_val given)
{
    struct ks_state *st = e->st;
    if (begin(e))
        return -1;
    const void *ob = NULL;
    size_t ol = 0;
    ks_val oldv = ks_invalid(), newv = ks_invalid();
    int found = 0;
    if (known && known->valid) {
        found = known->b != NULL;
        ob = known->b;
        ol = known->l;
    } else if (forward) {
        found = ks_store_get(st->stores, p->stores[0], part, k, kl, &ob, &ol);
        if (found < 0)
            return state_fatal(e, "reading a store failed");
    }
    if (forward && found && dec_value(e, ob, ol, &oldv, NULL))
        return -1;
    int64_t ts = newb ? get_be64(newb) : del_ts;
    if (given.kind != KS_INVALID)
        newv = ks_val_retain(given); /* the value the bytes were made from */
    else if (newb && forward && dec_value(e, newb, newl, &newv, NULL)) {
        ks_val_release(oldv);
        return -1;
    }
    if (ks_store_put(st->stores, p->stores[0], part, k, kl, newb, newl)) {
        ks_val_release(oldv);
        ks_val_release(newv);
        return state_fatal(e, "writing a store failed");
    }
    e->stats.store_writes++;
    changelog(e, p, part, k, kl, newb, newl, ts);
    if (forward && (found || newb))
        forward_change(e, p, fkey, newv, oldv, ts);
    ks_val_release(oldv);
    ks_val_release(newv);
    return 0;
}

static const char *intern_topic(struct ks_state *st, const char *t)
{
    for (int i = 0; i < st->ntopics; i++)
        if (strcmp(st->topics[i], t) == 0)
            return st->topics[i];
    st->topics = ks_xrealloc(st->topics, (size_t)(st->ntopics + 1) * sizeof *st->topics);
    return st->topics[st->ntopics++] = ks_xstrdup(t);
}

static uint64_t hash_key(const ks_proc_t *p, int32_t part, const char *k, size_t kl)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)p->seq * 31 ^ (uint64_t)(uint32_t)part << 20;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static centry_t *cache_find(struct ks_state *st, const ks_proc_t *p, int32_t part, const char *k, size_t kl, uint64_t h)
{
    if (!st->tabsize)
        return NULL;
    for (centry_t *c = st->tab[h & (st->tabsize - 1)]; c; c = c->hnext)
        if (c->h == h && c->p == p && c->part == part && c->kl == kl && memcmp(c->k, k, kl) == 0)
            return c;
    return NULL;
}

static void lru_unlink(struct ks_state *st, centry_t *c)
{
    if (c->lprev)
        c->lprev->lnext = c->lnext;
    else
        st->lru_head = c->lnext;
    if (c->lnext)
        c->lnext->lprev = c->lprev;
    else
        st->lru_tail = c->lprev;
    c->lprev = c->lnext = NULL;
}

static void lru_append(struct ks_state *st, centry_t *c)
{
    c->lprev = st->lru_tail;
    c->lnext = NULL;
    if (st->lru_tail)
        st->lru_tail->lnext = c;
    else
        st->lru_head = c;
    st->lru_tail = c;
}

static void cache_remove(struct ks_state *st, centry_t *c)
{
    centry_t **pp = &st->tab[c->h & (st->tabsize - 1)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    lru_unlink(st, c);
    st->cache_bytes -= c->bytes;
    st->count--;
    free(c->k);
    free(c->v);
    free(c->base);
    ks_val_release(c->fkey);
    ks_val_release(c->val);
    free(c);
}

/* Writes one dirty entry through, with its own record context. */
static int flush_entry(ks_engine_t *e, centry_t *c)
{
    if (!c->dirty)
        return 0;
    c->dirty = 0;
    const ks_record_t *saved = e->cur;
    ks_val saved_headers = e->cur_headers;
    ks_record_t ctx = {0};
    ctx.topic = c->src_topic;
    ctx.partition = c->src_part;
    ctx.offset = c->src_off;
    ctx.timestamp = c->v ? get_be64(c->v) : 0;
    e->cur = &ctx;
    e->cur_headers = ks_invalid();
    e->dlq_sent = 0;
    known_t kn = {c->base_known, c->base, c->basel};
    int rc = write_through(e, c->p, c->part, c->k, c->kl, c->fkey, c->v, c->vl, 1, c->del_ts, &kn, c->val);
    if (rc == 0) {
        /* The store now holds the entry's value. */
        free(c->base);
        c->base = c->v ? ks_xmalloc(c->vl) : NULL;
        if (c->v)
            memcpy(c->base, c->v, c->vl);
        c->basel = c->vl;
        c->base_known = 1;
    }
    ks_val_release(e->cur_headers);
    e->cur = saved;
    e->cur_headers = saved_headers;
    return rc;
}

static struct dlist *dlist_of(struct ks_state *st, const ks_proc_t *p)
{
    if (p->seq >= st->ndl) {
        st->dl = ks_xrealloc(st->dl, (size_t)(p->seq + 1) * sizeof *st->dl);
        memset(st->dl + st->ndl, 0, (size_t)(p->seq + 1 - st->ndl) * sizeof *st->dl);
        st->ndl = p->seq + 1;
    }
    return &st->dl[p->seq];
}

static int flush_list(ks_engine_t *e, int seq)
{
    int rc = 0;
    /* A processor's flush forwards downstream only, so its own list does not grow meanwhile. */
    for (size_t i = 0; i < e->st->dl[seq].n; i++) {
        centry_t *c = e->st->dl[seq].v[i];
        c->listed = 0;
        if (rc == 0 && flush_entry(e, c))
            rc = -1;
    }
    e->st->dl[seq].n = 0;
    return rc;
}

/*
 * Flushes the dirty entries of one processor (an eviction, as Kafka
 * Streams flushes a whole NamedCache), or of all (a commit), each
 * processor's in the order they became dirty; flushing goes downstream and
 * may dirty later processors' entries, so a commit repeats until none is.
 */
static int flush_dirty(ks_engine_t *e, const ks_proc_t *only)
{
    struct ks_state *st = e->st;
    if (st->flushing)
        return 0;
    st->flushing = 1;
    int rc = 0;
    if (only) {
        rc = flush_list(e, dlist_of(st, only) - st->dl);
    } else {
        for (int any = 1; any && rc == 0;) {
            any = 0;
            for (int i = 0; i < st->ndl && rc == 0; i++)
                if (st->dl[i].n) {
                    any = 1;
                    rc = flush_list(e, i);
                }
        }
    }
    st->flushing = 0;
    return rc;
}

static void cache_evict(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    while (st->cache_bytes > st->cache_max && st->lru_head && !e->failed) {
        centry_t *c = st->lru_head;
        if (c->dirty) {
            if (st->flushing)
                return; /* evicted once the flush in progress is done */
            flush_dirty(e, c->p);
        }
        cache_remove(st, c);
    }
}

static void cache_grow(struct ks_state *st)
{
    size_t n = st->tabsize ? st->tabsize * 2 : 1024;
    centry_t **tab = ks_xcalloc(n, sizeof *tab);
    for (size_t i = 0; i < st->tabsize; i++) {
        centry_t *c = st->tab[i];
        while (c) {
            centry_t *next = c->hnext;
            c->hnext = tab[c->h & (n - 1)];
            tab[c->h & (n - 1)] = c;
            c = next;
        }
    }
    free(st->tab);
    st->tab = tab;
    st->tabsize = n;
}

/* A new, clean entry at the LRU tail (the caller fills it in). */
static centry_t *cache_insert(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl)
{
    struct ks_state *st = e->st;
    uint64_t h = hash_key(p, part, k, kl);
    if (st->count + 1 > st->tabsize)
        cache_grow(st);
    centry_t *c = ks_xcalloc(1, sizeof *c);
    c->p = p;
    c->part = part;
    c->h = h;
    c->k = ks_xmalloc(kl);
    memcpy(c->k, k, kl);
    c->kl = kl;
    c->hnext = st->tab[h & (st->tabsize - 1)];
    st->tab[h & (st->tabsize - 1)] = c;
    st->count++;
    c->fkey = ks_invalid();
    c->val = ks_invalid();
    lru_append(st, c);
    return c;
}

/*
 * Reads a key: the cache first, then the store. Returns 1 found (value and
 * timestamp set, owned), 0 not found, -1 on failure.
 */
static int kv_get(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val *v, int64_t *ts)
{
    struct ks_state *st = e->st;
    centry_t *c = cache_find(st, p, part, k, kl, hash_key(p, part, k, kl));
    if (c) {
        if (!c->v)
            return 0;
        return dec_value(e, c->v, c->vl, v, ts) ? -1 : 1;
    }
    if (begin(e))
        return -1;
    const void *b = NULL;
    size_t bl = 0;
    int found = ks_store_get(st->stores, p->stores[0], part, k, kl, &b, &bl);
    if (found < 0)
        return state_fatal(e, "reading a store failed");
    if (st->cache_max == 0) {
        /* Kept for the write that follows: write_through need not read it again. */
        if (kl > st->last.kcap)
            st->last.k = ks_xrealloc(st->last.k, st->last.kcap = kl);
        if (found && bl > st->last.vcap)
            st->last.v = ks_xrealloc(st->last.v, st->last.vcap = bl);
        memcpy(st->last.k, k, kl);
        if (found && bl)
            memcpy(st->last.v, b, bl);
        st->last.p = p;
        st->last.part = part;
        st->last.kl = kl;
        st->last.vl = found ? bl : 0;
        st->last.found = found;
    } else {
        /* A clean cache entry remembers the stored value: the next flush of the key need not read it. */
        centry_t *c = cache_insert(e, p, part, k, kl);
        c->v = found ? ks_xmalloc(bl ? bl : 1) : NULL;
        if (found && bl)
            memcpy(c->v, b, bl);
        c->vl = found ? bl : 0;
        c->base = found ? ks_xmalloc(bl ? bl : 1) : NULL;
        if (found && bl)
            memcpy(c->base, b, bl);
        c->basel = c->vl;
        c->base_known = 1;
        c->bytes = sizeof *c + kl + 2 * c->vl + CENTRY_OVERHEAD;
        st->cache_bytes += c->bytes;
        if (found && dec_value(e, c->v, c->vl, v, ts))
            return -1;
        cache_evict(e);
        return found;
    }
    if (!found)
        return 0;
    return dec_value(e, b, bl, v, ts) ? -1 : 1;
}

/* Writes a key: into the cache, or through when the cache is off. newv KS_INVALID deletes. */
static int kv_put(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey, ks_val newv,
                  int64_t ts)
{
    struct ks_state *st = e->st;
    ks_buf_t vb = {0};
    if (newv.kind != KS_INVALID)
        enc_value(&vb, newv, ts);
    int rc;
    if (st->cache_max == 0) {
        known_t kn = {0, NULL, 0};
        if (st->last.p == p && st->last.part == part && st->last.kl == kl && memcmp(st->last.k, k, kl) == 0)
            kn = (known_t){1, st->last.found ? st->last.v : NULL, st->last.vl};
        rc = write_through(e, p, part, k, kl, fkey, vb.data, vb.len, 1, ts, &kn, newv);
        st->last.p = NULL;
        ks_buf_free(&vb);
        return rc;
    }
    uint64_t h = hash_key(p, part, k, kl);
    centry_t *c = cache_find(st, p, part, k, kl, h);
    if (!c) {
        c = cache_insert(e, p, part, k, kl);
    } else {
        lru_unlink(st, c);
        lru_append(st, c);
        st->cache_bytes -= c->bytes;
        if (c->dirty)
            e->stats.cache_hits++;
        free(c->v);
    }
    ks_val_release(c->fkey);
    c->fkey = ks_val_retain(fkey);
    ks_val_release(c->val);
    c->val = ks_val_retain(newv);
    size_t vl = vb.len;
    c->v = vb.data ? ks_buf_steal(&vb) : NULL;
    c->vl = c->v ? vl : 0;
    c->del_ts = ts;
    c->src_topic = intern_topic(st, e->cur ? e->cur->topic : "");
    c->src_part = e->cur ? e->cur->partition : part;
    c->src_off = e->cur ? e->cur->offset : -1;
    c->dirty = 1;
    if (!c->listed) {
        struct dlist *d = dlist_of(st, p);
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 256;
            d->v = ks_xrealloc(d->v, d->cap * sizeof *d->v);
        }
        d->v[d->n++] = c;
        c->listed = 1;
    }
    c->bytes = sizeof *c + kl + c->vl + c->basel + CENTRY_OVERHEAD;
    st->cache_bytes += c->bytes;
    cache_evict(e);
    return e->failed ? -1 : 0;
}

/* ---- expressions of stateful steps ---- */

static const ks_step_expr_t *part_of(const ks_proc_t *p, const char *name)
{
    for (int i = 0; i < p->nextra; i++)
        if (p->extra[i].part && strcmp(p->extra[i].part, name) == 0)
            return &p->extra[i];
    return NULL;
}

/* Evaluates a step's expression with `.` = input, $agg and $window bound; one output required. */
static int eval_x(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const ks_step_expr_t *x, ks_val input, ks_val agg,
                  ks_val *out)
{
    ks_val vars[KS_EXPR_NSTREAM_VARS], err;
    if (ks__bind_vars(e, f, vars))
        return -1;
    vars[7] = agg.kind == KS_INVALID ? ks_null() : agg;
    vars[10] = f->window.kind == KS_INVALID ? ks_null() : f->window;
    char what[300];
    snprintf(what, sizeof what, "evaluating `%s` of `%s` (%s:%d:%d)", x->part ? x->part : "expression",
             ks_op_dsl_name(p->op), x->pos.file, x->pos.line, x->pos.col);
    if (ks_expr_eval1(x->expr, input, vars, KS_EXPR_NSTREAM_VARS, out, &err)) {
        char *m = ks_expr_error_message(err);
        ks_val_release(err);
        ks__fail(e, f, what, m);
        free(m);
        return -1;
    }
    if (out->kind == KS_INVALID) {
        ks__fail(e, f, what, "the expression produced no output");
        return -1;
    }
    return 0;
}

static int eval_key(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out)
{
    ks_val v;
    if (ks__flight_value(e, f, &v))
        return -1;
    return eval_x(e, f, p, &p->e, v, ks_invalid(), out);
}

/* The first aggregate: count 0, aggregate's initializer; reduce has none (KS_INVALID). */
static int agg_init(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num(0);
        return 0;
    }
    if (p->op == KS_OP_REDUCE) {
        *out = ks_invalid();
        return 0;
    }
    return eval_x(e, f, p, part_of(p, "initializer"), ks_null(), ks_invalid(), out);
}

/* Adds a value to an aggregate (agg KS_INVALID: none yet). */
static int agg_add(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num((agg.kind == KS_NUMBER ? ks_num_get(agg) : 0) + 1);
        return 0;
    }
    const ks_step_expr_t *x = part_of(p, p->table ? "adder" : p->op == KS_OP_REDUCE ? "reducer" : "aggregator");
    if (p->op == KS_OP_REDUCE) {
        if (agg.kind == KS_INVALID) {
            *out = ks_val_retain(value);
            return 0;
        }
        return eval_x(e, f, p, x, value, agg, out);
    }
    ks_val base = ks_invalid();
    if (agg.kind == KS_INVALID) {
        if (agg_init(e, f, p, &base))
            return -1;
        agg = base;
    }
    int rc = eval_x(e, f, p, x, value, agg, out);
    ks_val_release(base);
    return rc;
}

static int agg_sub(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num((agg.kind == KS_NUMBER ? ks_num_get(agg) : 0) - 1);
        return 0;
    }
    return eval_x(e, f, p, part_of(p, "subtractor"), value, agg, out);
}

/* Session windows: combines two sessions' aggregates. */
static int agg_merge(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val a, ks_val b, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num((a.kind == KS_NUMBER ? ks_num_get(a) : 0) + (b.kind == KS_NUMBER ? ks_num_get(b) : 0));
        return 0;
    }
    if (p->op == KS_OP_REDUCE) {
        if (a.kind == KS_INVALID) {
            *out = ks_val_retain(b);
            return 0;
        }
        return eval_x(e, f, p, part_of(p, "reducer"), b, a, out);
    }
    return eval_x(e, f, p, part_of(p, "merger"), b, a, out);
}

static int key_fits(ks_engine_t *e, flight_t *f, const ks_buf_t *k)
{
    if (k->len <= 480)
        return 1;
    ks__fail(e, f, "storing the key", "a state store key may be at most 480 bytes as JSON text");
    return 0;
}

/* ---- aggregations ---- */

static void agg_stream(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    ks_buf_t kb = {0};
    key_text(&kb, key);
    if (!key_fits(e, f, &kb)) {
        ks_buf_free(&kb);
        return;
    }
    ks_val old = ks_invalid(), nw = ks_invalid();
    int64_t ots = 0;
    int found = kv_get(e, p, part, kb.data, kb.len, &old, &ots);
    if (found >= 0 && agg_add(e, f, p, found ? old : ks_invalid(), value, &nw) == 0)
        kv_put(e, p, part, kb.data, kb.len, key, nw, found && ots > f->ts ? ots : f->ts);
    ks_val_release(old);
    ks_val_release(nw);
    ks_buf_free(&kb);
}

/* ---- window retention ---- */

typedef struct purge {
    int64_t before; /* entries whose segment time (below) is before this go */
    int session;
    char **keys;
    size_t *lens;
    int n, cap;
} purge_t;

static int on_purge(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    (void)v;
    (void)vl;
    purge_t *pg = ud;
    if (kl < 9)
        return 0;
    /* Kafka Streams segments window stores by window start, session stores by session end: the key's last 8 bytes. */
    if (get_be64((const char *)k + kl - 8) >= pg->before)
        return 0;
    if (pg->n == pg->cap) {
        pg->cap = pg->cap ? pg->cap * 2 : 64;
        pg->keys = ks_xrealloc(pg->keys, (size_t)pg->cap * sizeof *pg->keys);
        pg->lens = ks_xrealloc(pg->lens, (size_t)pg->cap * sizeof *pg->lens);
    }
    pg->keys[pg->n] = ks_xmalloc(kl);
    memcpy(pg->keys[pg->n], k, kl);
    pg->lens[pg->n++] = kl;
    return 0;
}

/*
 * Retention of window and session stores, as Kafka Streams' segmented
 * stores: retention is size + grace (gap + grace for sessions), segments
 * are max(retention / 2, 60 s) long, and a segment is dropped once it lies
 * wholly before stream time minus retention. Dropped windows leave the
 * local store only (the changelog forgets them by its retention.ms);
 * nothing is forwarded. Runs once per segment of stream time.
 */
static void purge_windows(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t stime)
{
    pstate_t *ps = pstate(e, p, part);
    int64_t retention = (p->window.kind == KS_WIN_SLIDING ? 2 * p->window.size : p->window.size) + p->window.grace;
    int64_t seg = retention / 2 > 60000 ? retention / 2 : 60000;
    if (!ps->purged) {
        ps->purged = 1;
        ps->purged_at = stime;
        return;
    }
    if (stime - ps->purged_at < seg || stime - retention < seg || begin(e))
        return;
    ps->purged_at = stime;
    purge_t pg = {(stime - retention) / seg * seg, p->window.kind == KS_WIN_SESSION, NULL, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_purge, &pg))
        state_fatal(e, "reading a window store failed");
    for (int i = 0; i < pg.n; i++) {
        if (!e->failed && ks_store_put(e->st->stores, p->stores[0], part, pg.keys[i], pg.lens[i], NULL, 0))
            state_fatal(e, "writing a window store failed");
        free(pg.keys[i]);
    }
    free(pg.keys);
    free(pg.lens);
}

static void agg_windows(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    const ks_window_spec_t *w = &p->window;
    int64_t ts = f->ts, stime = observe(e, p, part, ts), close = stime - w->grace;
    if (ts < 0) {
        ks__fail(e, f, "windowing", "a windowed aggregation needs a timestamp of at least 0");
        return;
    }
    int64_t start = ts - w->size + w->advance;
    start = (start > 0 ? start : 0) / w->advance * w->advance;
    purge_windows(e, p, part, stime);
    ks_buf_t kb = {0};
    for (; start <= ts && !e->failed; start += w->advance) {
        int64_t end = start + w->size;
        if (end <= close) {
            e->stats.late++;
            e->stats.dropped++;
            continue;
        }
        window_key(&kb, key, start, end, 0);
        if (!key_fits(e, f, &kb))
            break;
        ks_val fkey = windowed_key(key, start, end);
        ks_val old = ks_invalid(), nw = ks_invalid();
        int64_t ots = 0;
        f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
        int found = kv_get(e, p, part, kb.data, kb.len, &old, &ots);
        if (found >= 0 && agg_add(e, f, p, found ? old : ks_invalid(), value, &nw) == 0)
            kv_put(e, p, part, kb.data, kb.len, fkey, nw, found && ots > ts ? ots : ts);
        ks_val_release(f->window);
        f->window = ks_invalid();
        ks_val_release(old);
        ks_val_release(nw);
        ks_val_release(fkey);
    }
    ks_buf_free(&kb);
}

/* ---- sliding windows (Kafka Streams' KStreamSlidingWindowAggregate, KIP-450) ---- */

typedef struct swin {
    int64_t start;
    ks_val agg; /* owned */
    int64_t ts; /* the window's largest record timestamp */
} swin_t;

typedef struct swin_scan {
    ks_engine_t *e;
    size_t prefix;
    swin_t *w;
    int n;
    int bad;
} swin_scan_t;

static int on_swin(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    swin_scan_t *sc = ud;
    if (kl != sc->prefix + 8)
        return 0;
    ks_val agg;
    int64_t ts;
    if (dec_value(sc->e, v, vl, &agg, &ts)) {
        sc->bad = 1;
        return 1;
    }
    sc->w = ks_xrealloc(sc->w, (size_t)(sc->n + 1) * sizeof *sc->w);
    sc->w[sc->n].start = get_be64((const char *)k + sc->prefix);
    sc->w[sc->n].agg = agg;
    sc->w[sc->n].ts = ts;
    sc->n++;
    return 0;
}

typedef struct sliding {
    ks_engine_t *e;
    flight_t *f;
    const ks_proc_t *p;
    ks_val key, value;
    int32_t part;
    int64_t ts, close, d;
    ks_buf_t kb;
} sliding_t;

/* updateWindowAndForward: adds the record to the window [start, start + d] (base: its aggregate so far). */
static void sw_update(sliding_t *s, int64_t start, ks_val base, int64_t base_ts)
{
    ks_engine_t *e = s->e;
    int64_t end = start + s->d;
    if (end < s->close) {
        e->stats.late++;
        e->stats.dropped++;
        return;
    }
    ks_val fkey = windowed_key(s->key, start, end), nw = ks_invalid();
    s->f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
    if (agg_add(e, s->f, s->p, base, s->value, &nw) == 0) {
        ks_buf_t vb = {0};
        int64_t ts = base.kind == KS_INVALID ? s->ts : (base_ts > s->ts ? base_ts : s->ts);
        enc_value(&vb, nw, ts);
        window_key(&s->kb, s->key, start, 0, 0);
        write_through(e, s->p, s->part, s->kb.data, s->kb.len, fkey, vb.data, vb.len, 1, ts, NULL, nw);
        ks_buf_free(&vb);
    }
    ks_val_release(s->f->window);
    s->f->window = ks_invalid();
    ks_val_release(nw);
    ks_val_release(fkey);
}

/* A new window starting from the initializer (reduce: from nothing). */
static void sw_create(sliding_t *s, int64_t start)
{
    ks_val init;
    if (agg_init(s->e, s->f, s->p, &init))
        return;
    sw_update(s, start, init, s->ts);
    ks_val_release(init);
}

/* createCurrentRecordRightWindow: the right window takes the aggregate of the window it was found in. */
static void sw_right(sliding_t *s, const swin_t *src)
{
    int64_t start = s->ts + 1;
    ks_val fkey = windowed_key(s->key, start, start + s->d);
    ks_buf_t vb = {0};
    enc_value(&vb, src->agg, src->ts);
    window_key(&s->kb, s->key, start, 0, 0);
    write_through(s->e, s->p, s->part, s->kb.data, s->kb.len, fkey, vb.data, vb.len, 1, src->ts, NULL, src->agg);
    ks_buf_free(&vb);
    ks_val_release(fkey);
}

static int has_start(const swin_t *w, int n, int64_t start)
{
    for (int i = 0; i < n; i++)
        if (w[i].start == start)
            return 1;
    return 0;
}

static void agg_sliding(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    int64_t d = p->window.size, ts = f->ts;
    if (ts < 0) {
        ks__fail(e, f, "windowing", "a windowed aggregation needs a timestamp of at least 0");
        return;
    }
    int64_t stime = observe(e, p, part, ts), close = stime - p->window.grace;
    if (ts + 1 + d <= close) {
        e->stats.late++;
        e->stats.dropped++;
        return;
    }
    purge_windows(e, p, part, stime);
    sliding_t s = {e, f, p, key, value, part, ts, close, d, {0}};
    key_text(&s.kb, key);
    if (!key_fits(e, f, &s.kb) || begin(e)) {
        ks_buf_free(&s.kb);
        return;
    }
    /* The key's windows starting in [lo, ts + 1], in start order. */
    int early = ts < d;
    int64_t lo = early ? 0 : (ts - 2 * d > 0 ? ts - 2 * d : 0);
    ks_buf_t from = {0}, to = {0};
    window_key(&from, key, lo, 0, 0);
    window_key(&to, key, ts + 2, 0, 0);
    swin_scan_t sc = {e, s.kb.len + 1, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, from.data, from.len, to.data, to.len, on_swin, &sc))
        state_fatal(e, "reading a window store failed");
    ks_buf_free(&from);
    ks_buf_free(&to);
    const swin_t *left = NULL, *right = NULL, *combined = NULL;
    int left_made = 0, right_made = 0, has_prev = 0;
    int64_t prev = 0;
    for (int i = 0; i < sc.n && !e->failed && !sc.bad; i++) {
        const swin_t *w = &sc.w[i];
        int64_t end = w->start + d;
        if (early) {
            if (w->start == 0) {
                combined = w;
                if (w->ts < ts)
                    prev = w->ts, has_prev = 1;
            } else if (w->start <= ts) {
                right = w;
                sw_update(&s, w->start, w->agg, w->ts);
            } else if (w->start == ts + 1) {
                right_made = 1;
            }
        } else if (end < ts) {
            left = w;
            prev = w->ts, has_prev = 1;
        } else if (end == ts) {
            left_made = 1;
            if (w->ts < ts)
                prev = w->ts, has_prev = 1;
            sw_update(&s, w->start, w->agg, w->ts);
        } else if (w->start <= ts) {
            right = w;
            sw_update(&s, w->start, w->agg, w->ts);
        } else if (w->start == ts + 1) {
            right_made = 1;
        }
    }
    if (!e->failed && !sc.bad) {
        if (early) {
            /* Records before d share the window [0, d]; their right windows are made as later records come. */
            if (!right && combined && combined->ts > ts)
                right = combined;
            if (!right_made && right && right->ts > ts)
                sw_right(&s, right);
            if (has_prev && !has_start(sc.w, sc.n, prev + 1) && !e->failed)
                sw_create(&s, prev + 1);
            if (!e->failed) {
                if (!combined)
                    sw_create(&s, 0);
                else
                    sw_update(&s, 0, combined->agg, combined->ts);
            }
        } else {
            /* The previous record's right window, if it is missing and this record falls in it. */
            if (has_prev && !has_start(sc.w, sc.n, prev + 1) && prev + 1 + d >= ts)
                sw_create(&s, prev + 1);
            /* This record's left window [ts - d, ts]. */
            if (!left_made && !e->failed) {
                if (has_prev && ts - d <= prev && left)
                    sw_update(&s, ts - d, left->agg, ts);
                else
                    sw_create(&s, ts - d);
            }
            /* This record's right window, when later records exist. */
            if (!right_made && right && right->ts > ts && !e->failed)
                sw_right(&s, right);
        }
    }
    for (int i = 0; i < sc.n; i++)
        ks_val_release(sc.w[i].agg);
    free(sc.w);
    ks_buf_free(&s.kb);
}

typedef struct session {
    char *k;
    size_t kl;
    int64_t start, end;
    ks_val agg;
} session_t;

typedef struct session_scan {
    ks_engine_t *e;
    size_t prefix;
    int64_t lo, hi; /* sessions with end >= lo and start <= hi */
    session_t *s;
    int n;
    int bad;
} session_scan_t;

static int on_session(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    session_scan_t *sc = ud;
    if (kl != sc->prefix + 16)
        return 0;
    int64_t start = get_be64((const char *)k + sc->prefix), end = get_be64((const char *)k + sc->prefix + 8);
    if (end < sc->lo || start > sc->hi)
        return 0;
    ks_val agg;
    if (dec_value(sc->e, v, vl, &agg, NULL)) {
        sc->bad = 1;
        return 1;
    }
    sc->s = ks_xrealloc(sc->s, (size_t)(sc->n + 1) * sizeof *sc->s);
    session_t *s = &sc->s[sc->n++];
    s->k = ks_xmalloc(kl);
    memcpy(s->k, k, kl);
    s->kl = kl;
    s->start = start;
    s->end = end;
    s->agg = agg;
    return 0;
}

static void agg_sessions(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    int64_t gap = p->window.size, ts = f->ts, stime = observe(e, p, part, ts), close = stime - p->window.grace;
    purge_windows(e, p, part, stime);
    ks_buf_t kb = {0}, hi = {0};
    key_text(&kb, key);
    if (!key_fits(e, f, &kb) || begin(e)) {
        ks_buf_free(&kb);
        return;
    }
    size_t prefix = kb.len + 1;
    ks_buf_putc(&kb, 0);
    ks_buf_append(&hi, kb.data, kb.len);
    hi.data[hi.len - 1] = 1;
    session_scan_t sc = {e, prefix, ts - gap, ts + gap, NULL, 0, 0};
    if (ks_store_range(e->st->stores, p->stores[0], part, kb.data, kb.len, hi.data, hi.len, on_session, &sc))
        state_fatal(e, "reading a session store failed");
    int64_t ms = ts, me = ts;
    for (int i = 0; i < sc.n; i++) {
        ms = sc.s[i].start < ms ? sc.s[i].start : ms;
        me = sc.s[i].end > me ? sc.s[i].end : me;
    }
    ks_val agg = ks_invalid(), nw = ks_invalid();
    if (e->failed || sc.bad) {
        /* already reported */
    } else if (me < close) {
        e->stats.late++;
        e->stats.dropped++;
    } else if (agg_init(e, f, p, &agg) == 0) {
        int ok = 1;
        for (int i = 0; i < sc.n && ok; i++) {
            ks_val m;
            ok = agg_merge(e, f, p, agg, sc.s[i].agg, &m) == 0;
            if (ok) {
                ks_val_release(agg);
                agg = m;
            }
        }
        ks_val fkey = windowed_key(key, ms, me);
        f->window = ks_val_retain(*ks_obj_get(fkey, "window", 6));
        if (ok && agg_add(e, f, p, agg, value, &nw) == 0) {
            if (ms != ts || me != ts) {
                for (int i = 0; i < sc.n && !e->failed; i++) {
                    ks_val ok2 = windowed_key(key, sc.s[i].start, sc.s[i].end);
                    /* Kafka Streams stamps a session's updates with the session's end. */
                    write_through(e, p, part, sc.s[i].k, sc.s[i].kl, ok2, NULL, 0, 1, sc.s[i].end, NULL, ks_invalid());
                    ks_val_release(ok2);
                }
            }
            ks_buf_t vb = {0};
            window_key(&kb, key, ms, me, 1);
            enc_value(&vb, nw, me);
            if (!e->failed)
                write_through(e, p, part, kb.data, kb.len, fkey, vb.data, vb.len, 1, me, NULL, ks_invalid());
            ks_buf_free(&vb);
        }
        ks_val_release(f->window);
        f->window = ks_invalid();
        ks_val_release(fkey);
    }
    ks_val_release(agg);
    ks_val_release(nw);
    for (int i = 0; i < sc.n; i++) {
        free(sc.s[i].k);
        ks_val_release(sc.s[i].agg);
    }
    free(sc.s);
    ks_buf_free(&kb);
    ks_buf_free(&hi);
}

/* KGroupedTable aggregations: subtract the old value, then add the new one. */
static void agg_table(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val newv)
{
    int32_t part = e->cur->partition;
    ks_val oldv = f->old.kind == KS_INVALID ? ks_null() : f->old;
    ks_buf_t kb = {0};
    key_text(&kb, key);
    if (!key_fits(e, f, &kb)) {
        ks_buf_free(&kb);
        return;
    }
    ks_val oldagg = ks_invalid(), inter = ks_invalid(), nw = ks_invalid();
    int64_t ots = 0, ts = f->ts;
    int found = kv_get(e, p, part, kb.data, kb.len, &oldagg, &ots);
    int ok = found >= 0;
    if (ok && oldv.kind != KS_NULL && found) {
        ok = agg_sub(e, f, p, oldagg, oldv, &inter) == 0;
        ts = ots > ts ? ots : ts;
    } else if (ok) {
        inter = ks_val_retain(oldagg);
    }
    if (ok && newv.kind != KS_NULL) {
        ok = agg_add(e, f, p, inter, newv, &nw) == 0;
        if (found)
            ts = ots > ts ? ots : ts;
    } else if (ok) {
        nw = ks_val_retain(inter);
    }
    if (ok)
        kv_put(e, p, part, kb.data, kb.len, key, nw.kind == KS_NULL ? ks_invalid() : nw, ts);
    ks_val_release(oldagg);
    ks_val_release(inter);
    ks_val_release(nw);
    ks_buf_free(&kb);
}

static void aggregate(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, value;
    if (ks__flight_key(e, f, &key))
        return;
    if (p->op == KS_OP_COUNT && !p->table && f->value.kind == KS_INVALID && !f->value_changed &&
        (!f->vraw || f->value_serde != KS_SERDE_JSON || ks_json_valid(f->vraw, f->vlen)) &&
        (f->value_serde == KS_SERDE_JSON || f->value_serde == KS_SERDE_STRING || f->value_serde == KS_SERDE_BYTES)) {
        /* count needs to know only whether the value is null: checked, not parsed */
        value = f->vraw ? ks_bool(1) : ks_null();
    } else if (ks__flight_value(e, f, &value)) {
        return;
    }
    if (key.kind == KS_NULL) {
        e->stats.dropped++;
        return;
    }
    if (p->table) {
        agg_table(e, f, p, key, value);
        return;
    }
    if (value.kind == KS_NULL) {
        e->stats.dropped++; /* Kafka Streams: records with a null key or value are ignored */
        return;
    }
    switch (p->window.kind) {
    case KS_WIN_NONE: agg_stream(e, f, p, key, value); break;
    case KS_WIN_SESSION: agg_sessions(e, f, p, key, value); break;
    case KS_WIN_SLIDING: agg_sliding(e, f, p, key, value); break;
    default: agg_windows(e, f, p, key, value); break;
    }
}

/* ---- tables ---- */

static void materialize(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    if (key.kind == KS_NULL) {
        e->stats.dropped++;
        return;
    }
    ks_buf_t kb = {0};
    key_text(&kb, key);
    if (key_fits(e, f, &kb))
        kv_put(e, p, e->cur->partition, kb.data, kb.len, key, value.kind == KS_NULL ? ks_invalid() : value, f->ts);
    ks_buf_free(&kb);
}

/* A table's filter or mapValues, on the new value and on the old one. */
static int table_apply(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val v, ks_val *out)
{
    if (v.kind == KS_NULL) {
        *out = ks_null();
        return 0;
    }
    flight_t t = *f;
    t.value = v;
    ks_val r;
    if (eval_x(e, &t, p, &p->e, v, ks_invalid(), &r))
        return -1;
    if (p->op == KS_OP_MAP_VALUES) {
        *out = r;
        return 0;
    }
    int keep = ks_is_truthy(r) == (p->op == KS_OP_FILTER);
    ks_val_release(r);
    *out = keep ? ks_val_retain(v) : ks_null();
    return 0;
}

/*
 * Whether a table's old values are needed downstream (a groupBy of the
 * table), as Kafka Streams' enableSendingOldValues decides: only then does
 * a table filter skip changes where neither value passes; otherwise it
 * forwards the tombstone.
 */
static int needs_old(const ks_proc_t *p)
{
    for (int i = 0; i < p->nchildren; i++) {
        const ks_proc_t *c = p->children[i];
        if (c->op == KS_OP_GROUP_BY && c->table)
            return 1;
        if (c->table && c->op != KS_OP_TO_STREAM && needs_old(c))
            return 1;
    }
    return 0;
}

static void table_stateless(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val v;
    if (ks__flight_value(e, f, &v))
        return;
    ks_val nv = ks_invalid(), ov = ks_invalid();
    if (table_apply(e, f, p, v, &nv) == 0 && (f->old.kind == KS_INVALID || table_apply(e, f, p, f->old, &ov) == 0)) {
        /* Neither the new nor the old value passes: nothing changed for downstream. */
        if (!(nv.kind == KS_NULL && f->old.kind != KS_INVALID && ov.kind == KS_NULL && needs_old(p))) {
            flight_t c = *f;
            c.value = nv;
            c.value_changed = 1;
            c.old = ov;
            c.node = p->name;
            ks__forward(e, &c, p);
        }
    }
    ks_val_release(nv);
    ks_val_release(ov);
}

static void group_by(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    if (!p->table) {
        ks_val k;
        if (eval_key(e, f, p, &k))
            return;
        flight_t c = *f;
        c.key = k;
        c.key_changed = 1;
        c.node = p->name;
        ks__forward(e, &c, p);
        ks_val_release(k);
        return;
    }
    /*
     * KTable#groupBy: the old value leaves its group, the new value joins its
     * group. When both stay in one group, one record carries both (as Kafka
     * Streams does since 3.5, KIP-904), so the aggregate updates once.
     */
    ks_val nv;
    if (ks__flight_value(e, f, &nv))
        return;
    if (f->old.kind != KS_INVALID && f->old.kind != KS_NULL && nv.kind != KS_NULL) {
        flight_t t = *f;
        t.value = f->old;
        ks_val ok, nk;
        if (eval_x(e, &t, p, &p->e, f->old, ks_invalid(), &ok))
            return;
        if (eval_key(e, f, p, &nk)) {
            ks_val_release(ok);
            return;
        }
        int same = ks_val_equal(ok, nk);
        ks_val_release(ok);
        if (same) {
            flight_t c = *f;
            c.key = nk;
            c.key_changed = 1;
            c.change_tag = KS_CHANGE_BOTH;
            c.node = p->name;
            ks__forward(e, &c, p);
            ks_val_release(nk);
            return;
        }
        ks_val_release(nk);
    }
    if (f->old.kind != KS_INVALID && f->old.kind != KS_NULL) {
        flight_t t = *f;
        t.value = f->old;
        t.value_changed = 1;
        ks_val k;
        if (eval_x(e, &t, p, &p->e, f->old, ks_invalid(), &k))
            return;
        t.key = k;
        t.key_changed = 1;
        t.old = ks_invalid();
        t.change_tag = KS_CHANGE_SUBTRACT;
        t.node = p->name;
        ks__forward(e, &t, p);
        ks_val_release(k);
    }
    if (nv.kind != KS_NULL && !e->failed) {
        ks_val k;
        if (eval_key(e, f, p, &k))
            return;
        flight_t c = *f;
        c.key = k;
        c.key_changed = 1;
        c.old = ks_invalid();
        c.change_tag = KS_CHANGE_ADD;
        c.node = p->name;
        ks__forward(e, &c, p);
        ks_val_release(k);
    }
}

/* ---- suppress ---- */

static void sup_clear(pstate_t *ps)
{
    for (int i = 0; i < ps->nbuf; i++)
        free(ps->buf[i].k);
    free(ps->buf);
    free(ps->slots);
    ps->buf = NULL;
    ps->slots = NULL;
    ps->nbuf = ps->capbuf = ps->nslots = 0;
}

static uint64_t fnv(const char *k, size_t kl)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static void sup_index(pstate_t *ps)
{
    int want = 64;
    while (want < ps->nbuf * 2 + 2)
        want *= 2;
    if (want != ps->nslots) {
        free(ps->slots);
        ps->slots = ks_xmalloc((size_t)want * sizeof *ps->slots);
        ps->nslots = want;
    }
    memset(ps->slots, 0, (size_t)ps->nslots * sizeof *ps->slots);
    ps->minb = INT64_MAX;
    for (int i = 0; i < ps->nbuf; i++) {
        size_t j = fnv(ps->buf[i].k, ps->buf[i].kl) & (size_t)(ps->nslots - 1);
        while (ps->slots[j])
            j = (j + 1) & (size_t)(ps->nslots - 1);
        ps->slots[j] = i + 1;
        if (ps->buf[i].btime < ps->minb)
            ps->minb = ps->buf[i].btime;
    }
}

static int sup_find(const pstate_t *ps, const char *k, size_t kl)
{
    if (!ps->nslots)
        return -1;
    size_t j = fnv(k, kl) & (size_t)(ps->nslots - 1);
    while (ps->slots[j]) {
        const supent_t *s = &ps->buf[ps->slots[j] - 1];
        if (s->kl == kl && memcmp(s->k, k, kl) == 0)
            return ps->slots[j] - 1;
        j = (j + 1) & (size_t)(ps->nslots - 1);
    }
    return -1;
}

static void sup_add(pstate_t *ps, const char *k, size_t kl, int64_t btime, int64_t ts, uint64_t seq)
{
    if (ps->nbuf == ps->capbuf) {
        ps->capbuf = ps->capbuf ? ps->capbuf * 2 : 16;
        ps->buf = ks_xrealloc(ps->buf, (size_t)ps->capbuf * sizeof *ps->buf);
    }
    supent_t *s = &ps->buf[ps->nbuf++];
    s->k = ks_xmalloc(kl);
    memcpy(s->k, k, kl);
    s->kl = kl;
    s->btime = btime;
    s->ts = ts;
    s->seq = seq;
    if (ps->nbuf * 2 + 2 > ps->nslots) {
        sup_index(ps);
    } else {
        size_t j = fnv(k, kl) & (size_t)(ps->nslots - 1);
        while (ps->slots[j])
            j = (j + 1) & (size_t)(ps->nslots - 1);
        ps->slots[j] = ps->nbuf;
        if (btime < ps->minb)
            ps->minb = btime;
    }
}

typedef struct sup_load {
    ks_engine_t *e;
    pstate_t *ps;
} sup_load_t;

static int on_sup_entry(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    sup_load_t *sl = ud;
    if (vl < 17)
        return 0;
    const char *b = v;
    sup_add(sl->ps, k, kl, get_be64(b + 8), get_be64(b), sl->e->st->seq++);
    return 0;
}

static int sup_load(ks_engine_t *e, const ks_proc_t *p, int32_t part, pstate_t *ps)
{
    if (ps->loaded)
        return 0;
    ps->loaded = 1;
    if (begin(e))
        return -1;
    sup_load_t sl = {e, ps};
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_sup_entry, &sl))
        return state_fatal(e, "reading a suppression buffer failed");
    return 0;
}

static int cmp_sup(const void *a, const void *b)
{
    const supent_t *x = a, *y = b;
    if (x->btime != y->btime)
        return x->btime < y->btime ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int64_t suppress_duration(const ks_proc_t *p, int *windowed)
{
    const ks_proc_t *q = p;
    while (q->nparents > 0 && q->op != KS_OP_COUNT && q->op != KS_OP_REDUCE && q->op != KS_OP_AGGREGATE)
        q = q->parents[0];
    *windowed = q->window.kind;
    if (!p->suppress_final)
        return p->suppress_limit;
    return q->window.grace + (q->window.kind == KS_WIN_SESSION ? q->window.size : 0);
}

/* Emits a buffered record: read back from the buffer's store, deleted there, forwarded. */
static void sup_emit(ks_engine_t *e, const ks_proc_t *p, int32_t part, supent_t *s)
{
    const void *b;
    size_t bl;
    char err[200];
    ks_val key, value = ks_null();
    if (begin(e))
        return;
    int found = ks_store_get(e->st->stores, p->stores[0], part, s->k, s->kl, &b, &bl);
    if (found < 0 || (found && bl < 17)) {
        state_fatal(e, "reading a suppression buffer failed");
        return;
    }
    if (!found)
        return; /* nothing stored: nothing to emit */
    const char *v = b;
    if (ks_json_parse(s->k, s->kl, &key, err, sizeof err) ||
        (v[16] && ks_json_parse(v + 17, bl - 17, &value, err, sizeof err))) {
        state_fatal(e, "a suppression buffer entry does not decode");
        return;
    }
    write_through(e, p, part, s->k, s->kl, key, NULL, 0, 0, s->ts, NULL, ks_invalid());
    /* untilWindowCloses drops tombstones: a closed window's final result is never a deletion. */
    if (!e->failed && !(p->suppress_final && value.kind == KS_NULL))
        forward_change(e, p, key, value, ks_invalid(), s->ts);
    ks_val_release(key);
    ks_val_release(value);
}

static void suppress(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int32_t part = e->cur->partition;
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    pstate_t *ps = pstate(e, p, part);
    if (sup_load(e, p, part, ps))
        return;
    int64_t stime = observe(e, p, part, f->ts);
    int windowed;
    int64_t dur = suppress_duration(p, &windowed);
    int64_t btime = f->ts;
    if (p->suppress_final) {
        const ks_val *w = key.kind == KS_OBJECT ? ks_obj_get(key, "window", 6) : NULL;
        const ks_val *end = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "end", 3) : NULL;
        if (!end || end->kind != KS_NUMBER) {
            ks__fail(e, f, "suppressing", "untilWindowCloses needs a windowed key {key, window: {start, end}}");
            return;
        }
        btime = (int64_t)ks_num_get(*end);
    }
    ks_buf_t kb = {0}, vb = {0};
    key_text(&kb, key);
    if (!key_fits(e, f, &kb)) {
        ks_buf_free(&kb);
        return;
    }
    int at = sup_find(ps, kb.data, kb.len);
    if (at >= 0) {
        /* Kafka Streams keeps a buffered key's first buffer time ("non-resetting"). */
        supent_t *s = &ps->buf[at];
        btime = s->btime;
        s->ts = f->ts;
    } else {
        sup_add(ps, kb.data, kb.len, btime, f->ts, e->st->seq++);
    }
    /* Persist: [ts][buffer time][has value][value]. */
    char hdr[17];
    put_be64(hdr, f->ts);
    put_be64(hdr + 8, btime);
    hdr[16] = value.kind != KS_NULL;
    ks_buf_append(&vb, hdr, 17);
    if (value.kind != KS_NULL)
        ks_json_write(&vb, value);
    if (begin(e) == 0)
        write_through(e, p, part, kb.data, kb.len, key, vb.data, vb.len, 0, f->ts, NULL, ks_invalid());
    ks_buf_free(&vb);
    ks_buf_free(&kb);
    /* Emit what is due, oldest buffer time first; then what exceeds maxRecords. */
    int64_t expiry = stime - dur;
    if (ps->nbuf == 0 || (ps->minb > expiry && !(p->suppress_max > 0 && ps->nbuf > p->suppress_max)))
        return;
    qsort(ps->buf, (size_t)ps->nbuf, sizeof *ps->buf, cmp_sup);
    int n = 0;
    while (n < ps->nbuf && (ps->buf[n].btime <= expiry || (p->suppress_max > 0 && ps->nbuf - n > p->suppress_max)))
        n++;
    supent_t *due = n ? ks_xmalloc((size_t)n * sizeof *due) : NULL;
    if (n) {
        memcpy(due, ps->buf, (size_t)n * sizeof *due);
        memmove(ps->buf, ps->buf + n, (size_t)(ps->nbuf - n) * sizeof *ps->buf);
        ps->nbuf -= n;
    }
    sup_index(ps);
    for (int i = 0; i < n; i++) {
        if (!e->failed)
            sup_emit(e, p, part, &due[i]);
        free(due[i].k);
    }
    free(due);
}

/* ---- dispatch ---- */

void ks__process_state(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    f->node = p->name;
    if (!state(e))
        return;
    switch (p->op) {
    case KS_OP_TABLE_SOURCE:
    case KS_OP_TO_TABLE:
        materialize(e, f, p);
        return;
    case KS_OP_TO_STREAM: {
        flight_t c = *f;
        c.old = ks_invalid();
        c.node = p->name;
        ks__forward(e, &c, p);
        return;
    }
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP_VALUES:
        table_stateless(e, f, p);
        return;
    case KS_OP_GROUP_BY:
        group_by(e, f, p);
        return;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE:
        aggregate(e, f, p);
        return;
    case KS_OP_SUPPRESS:
        suppress(e, f, p);
        return;
    default:
        return;
    }
}

/* ---- the engine's state API ---- */

void ks_engine_attach_stores(ks_engine_t *e, ks_stores_t *stores, size_t cache_max_bytes)
{
    if (!e->st)
        e->st = ks_xcalloc(1, sizeof *e->st);
    e->st->stores = stores;
    e->st->cache_max = cache_max_bytes;
}

int ks_engine_flush(ks_engine_t *e, char *err, size_t errlen)
{
    if (!e->st)
        return 0;
    e->failed = 0;
    flush_dirty(e, NULL);
    cache_evict(e);
    if (e->failed) {
        snprintf(err, errlen, "%s", e->fatal);
        return KS_EIO;
    }
    return 0;
}

int ks_engine_commit_stores(ks_engine_t *e, char *err, size_t errlen)
{
    if (!e->st || !e->st->stores)
        return 0;
    return ks_stores_commit(e->st->stores, err, errlen);
}

void ks__state_free(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    if (!st)
        return;
    while (st->lru_head)
        cache_remove(st, st->lru_head);
    free(st->last.k);
    free(st->last.v);
    free(st->tab);
    for (int i = 0; i < st->ndl; i++)
        free(st->dl[i].v);
    free(st->dl);
    for (int i = 0; i < st->ntopics; i++)
        free(st->topics[i]);
    free(st->topics);
    for (int i = 0; i < st->nprocs; i++) {
        for (int j = 0; j < st->nps[i]; j++)
            sup_clear(&st->ps[i][j]);
        free(st->ps[i]);
    }
    free(st->ps);
    free(st->nps);
    free(st);
    e->st = NULL;
}
