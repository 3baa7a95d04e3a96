/*
 * state.c: the state of an engine (stores, record cache, stream times) and
 * the operators that use it, which live in ops_aggregate.c, ops_window.c and
 * ops_state.c (see state_int.h).
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
 * other dirty entries too, as Kafka Streams' NamedCache does). Session and
 * sliding-window stores, which are read by range, are written through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "state_int.h"

/*
 * A cache entry is one allocation with its key, and one for its values:
 * what the store holds for the key (the base, when known), then the
 * entry's own value; a clean entry keeps one copy, as both are the same.
 * The key forwarded downstream is made again from the key's text when the
 * entry is flushed, and the value from its bytes.
 */
typedef struct centry {
    struct centry *hnext, *lprev, *lnext;
    const ks_proc_t *p;
    const char *src_topic; /* interned */
    char *vals;            /* base (basel bytes, unless same), then the value (vl bytes) */
    int64_t del_ts;        /* a delete's timestamp */
    int64_t src_off;
    uint64_t h;
    int32_t part, src_part;
    uint32_t kl, vl, basel, vcap, bytes;
    uint8_t has_v;      /* 0: the entry deletes the key (or, clean, the store has none) */
    uint8_t base_known; /* what the store holds is known: has_base and the base */
    uint8_t has_base;
    uint8_t same; /* clean: the value is the base, stored once */
    uint8_t dirty, listed;
    char k[]; /* kl bytes */
} centry_t;

/*
 * What an entry costs beyond its struct, key and values: two malloc
 * headers rounded up, its hash-table slot and its dirty-list slot.
 */
#define CENTRY_OVERHEAD 64

static const char *cv(const centry_t *c) { return c->has_v ? (c->same ? c->vals : c->vals + c->basel) : NULL; }

static void centry_size(struct ks_state *st, centry_t *c)
{
    st->cache_bytes -= c->bytes;
    c->bytes = (uint32_t)(sizeof *c + c->kl + c->vcap + CENTRY_OVERHEAD);
    st->cache_bytes += c->bytes;
}

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

int ks__st_state_fatal(ks_engine_t *e, const char *msg)
{
    if (!e->failed) {
        snprintf(e->fatal, sizeof e->fatal, "state store: %s", msg);
        e->failed = 1;
    }
    return -1;
}

struct ks_state *ks__st_state(ks_engine_t *e)
{
    if (!e->st) {
        ks__st_state_fatal(e, "no state directory is attached to this engine");
        return NULL;
    }
    return e->st;
}

int ks__st_begin(ks_engine_t *e)
{
    char err[512];
    if (ks_stores_begin(e->st->stores, err, sizeof err))
        return ks__st_state_fatal(e, err);
    return 0;
}

pstate_t *ks__st_pstate(ks_engine_t *e, const ks_proc_t *p, int32_t part)
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
int64_t ks__st_observe(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t ts)
{
    pstate_t *ps = ks__st_pstate(e, p, part);
    if (!ps->has_time || ts > ps->time) {
        ps->time = ts;
        ps->has_time = 1;
    }
    return ps->time;
}

/* ---- encodings ---- */

void ks__st_put_be64(char *b, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        b[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

int64_t ks__st_get_be64(const void *p)
{
    const unsigned char *b = p;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | b[i];
    return (int64_t)u;
}

void ks__st_key_text(ks_buf_t *b, ks_val key)
{
    b->len = 0;
    ks_json_write(b, key);
}

void ks__st_window_key(ks_buf_t *b, ks_val key, int64_t start, int64_t end, int session)
{
    ks__st_key_text(b, key);
    char t[17];
    t[0] = 0;
    ks__st_put_be64(t + 1, start);
    ks_buf_append(b, t, 9);
    if (session) {
        ks__st_put_be64(t, end);
        ks_buf_append(b, t, 8);
    }
}

ks_val ks__st_windowed_key(ks_val key, int64_t start, int64_t end)
{
    ks_val w = ks_obj_new(2), o = ks_obj_new(2);
    ks_obj_setc(&w, "start", ks_num_i64(start));
    ks_obj_setc(&w, "end", ks_num_i64(end));
    ks_obj_setc(&o, "key", ks_val_retain(key));
    ks_obj_setc(&o, "window", w);
    return o;
}

void ks__st_enc_value(ks_buf_t *b, ks_val v, int64_t ts)
{
    char t[8];
    b->len = 0;
    ks__st_put_be64(t, ts);
    ks_buf_append(b, t, 8);
    ks_json_write(b, v);
}

int ks__st_dec_value(ks_engine_t *e, const void *data, size_t len, ks_val *v, int64_t *ts)
{
    char err[200];
    if (len < 8 || ks_json_parse((const char *)data + 8, len - 8, v, err, sizeof err)) {
        char msg[300];
        snprintf(msg, sizeof msg, "a stored value does not decode (%s)", len < 8 ? "too short" : err);
        return ks__st_state_fatal(e, msg);
    }
    if (ts)
        *ts = ks__st_get_be64(data);
    return 0;
}

/* ---- forwarding a change downstream ---- */

void ks__st_forward_change(ks_engine_t *e, const ks_proc_t *p, ks_val key, ks_val newv, ks_val oldv, int64_t ts)
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

void ks__st_changelog(ks_engine_t *e, const ks_proc_t *p, int32_t part, const void *k, size_t kl, const void *v,
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
int ks__st_write_through(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey,
                         const char *newb, size_t newl, int forward, int64_t del_ts, const known_t *known, ks_val given)
{
    struct ks_state *st = e->st;
    if (ks__st_begin(e))
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
            return ks__st_state_fatal(e, "reading a store failed");
    }
    if (forward && found && ks__st_dec_value(e, ob, ol, &oldv, NULL))
        return -1;
    int64_t ts = newb ? ks__st_get_be64(newb) : del_ts;
    if (given.kind != KS_INVALID)
        newv = ks_val_retain(given); /* the value the bytes were made from */
    else if (newb && forward && ks__st_dec_value(e, newb, newl, &newv, NULL)) {
        ks_val_release(oldv);
        return -1;
    }
    if (ks_store_put(st->stores, p->stores[0], part, k, kl, newb, newl)) {
        ks_val_release(oldv);
        ks_val_release(newv);
        return ks__st_state_fatal(e, "writing a store failed");
    }
    e->stats.store_writes++;
    ks__st_changelog(e, p, part, k, kl, newb, newl, ts);
    if (forward && (found || newb))
        ks__st_forward_change(e, p, fkey, newv, oldv, ts);
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
    free(c->vals);
    free(c);
}

/* The key a flushed entry forwards: the grouping key, or for a time window {key, window}. */
static int entry_key(ks_engine_t *e, const centry_t *c, ks_val *out)
{
    int windowed = c->p->window.kind == KS_WIN_TUMBLING || c->p->window.kind == KS_WIN_HOPPING;
    size_t jl = windowed && c->kl >= 9 ? c->kl - 9 : c->kl;
    char err[200];
    ks_val key;
    if (ks_json_parse(c->k, jl, &key, err, sizeof err)) {
        char msg[300];
        snprintf(msg, sizeof msg, "a cached key does not decode (%s)", err);
        return ks__st_state_fatal(e, msg);
    }
    if (windowed) {
        int64_t start = ks__st_get_be64(c->k + jl + 1);
        *out = ks__st_windowed_key(key, start, start + c->p->window.size);
        ks_val_release(key);
    } else {
        *out = key;
    }
    return 0;
}

/* Writes one dirty entry through, with its own record context. */
static int flush_entry(ks_engine_t *e, centry_t *c)
{
    if (!c->dirty)
        return 0;
    c->dirty = 0;
    ks_val fkey;
    if (entry_key(e, c, &fkey))
        return -1;
    const ks_record_t *saved = e->cur;
    ks_val saved_headers = e->cur_headers;
    ks_record_t ctx = {0};
    ctx.topic = c->src_topic;
    ctx.partition = c->src_part;
    ctx.offset = c->src_off;
    ctx.timestamp = c->has_v ? ks__st_get_be64(cv(c)) : 0;
    e->cur = &ctx;
    e->cur_headers = ks_invalid();
    e->dlq_sent = 0;
    known_t kn = {c->base_known, c->has_base ? c->vals : NULL, c->basel};
    int rc = ks__st_write_through(e, c->p, c->part, c->k, c->kl, fkey, cv(c), c->vl, 1, c->del_ts, &kn, ks_invalid());
    if (rc == 0) {
        /* The store now holds the entry's value: it is the base, kept once. */
        if (!c->same && c->has_v)
            memmove(c->vals, c->vals + c->basel, c->vl);
        c->basel = c->has_v ? c->vl : 0;
        c->has_base = c->has_v;
        c->base_known = 1;
        c->same = 1;
        if (c->vcap > c->vl + 32) {
            c->vals = c->vl ? ks_xrealloc(c->vals, c->vl) : (free(c->vals), NULL);
            c->vcap = c->vl;
            centry_size(e->st, c);
        }
    }
    ks_val_release(fkey);
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
int ks__st_flush_dirty(ks_engine_t *e, const ks_proc_t *only)
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

void ks__st_cache_evict(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    while (st->cache_bytes > st->cache_max && st->lru_head && !e->failed) {
        centry_t *c = st->lru_head;
        if (c->dirty) {
            if (st->flushing)
                return; /* evicted once the flush in progress is done */
            ks__st_flush_dirty(e, c->p);
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

/* A new, clean entry with nothing known, at the LRU tail (the caller fills it in). */
static centry_t *cache_insert(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl)
{
    struct ks_state *st = e->st;
    uint64_t h = hash_key(p, part, k, kl);
    if (st->count + 1 > st->tabsize)
        cache_grow(st);
    centry_t *c = ks_xcalloc(1, sizeof *c + kl);
    c->p = p;
    c->part = part;
    c->h = h;
    memcpy(c->k, k, kl);
    c->kl = (uint32_t)kl;
    c->hnext = st->tab[h & (st->tabsize - 1)];
    st->tab[h & (st->tabsize - 1)] = c;
    st->count++;
    lru_append(st, c);
    centry_size(st, c);
    return c;
}

/*
 * Reads a key: the cache first, then the store. Returns 1 found (value and
 * timestamp set, owned), 0 not found, -1 on failure.
 */
int ks__st_kv_get(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val *v, int64_t *ts)
{
    struct ks_state *st = e->st;
    centry_t *c = cache_find(st, p, part, k, kl, hash_key(p, part, k, kl));
    if (c) {
        if (!c->has_v)
            return 0;
        return ks__st_dec_value(e, cv(c), c->vl, v, ts) ? -1 : 1;
    }
    if (ks__st_begin(e))
        return -1;
    const void *b = NULL;
    size_t bl = 0;
    int found = ks_store_get(st->stores, p->stores[0], part, k, kl, &b, &bl);
    if (found < 0)
        return ks__st_state_fatal(e, "reading a store failed");
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
        if (found && bl) {
            c->vals = ks_xmalloc(bl);
            memcpy(c->vals, b, bl);
        }
        c->vl = c->basel = c->vcap = found ? (uint32_t)bl : 0;
        c->has_v = c->has_base = found != 0;
        c->base_known = c->same = 1;
        centry_size(st, c);
        if (found && ks__st_dec_value(e, c->vals, c->vl, v, ts))
            return -1;
        ks__st_cache_evict(e);
        return found;
    }
    if (!found)
        return 0;
    return ks__st_dec_value(e, b, bl, v, ts) ? -1 : 1;
}

/* Writes a key: into the cache, or through when the cache is off. newv KS_INVALID deletes. */
int ks__st_kv_put(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey, ks_val newv,
                  int64_t ts)
{
    struct ks_state *st = e->st;
    ks_buf_t vb = {0};
    if (newv.kind != KS_INVALID)
        ks__st_enc_value(&vb, newv, ts);
    int rc;
    if (st->cache_max == 0) {
        known_t kn = {0, NULL, 0};
        if (st->last.p == p && st->last.part == part && st->last.kl == kl && memcmp(st->last.k, k, kl) == 0)
            kn = (known_t){1, st->last.found ? st->last.v : NULL, st->last.vl};
        rc = ks__st_write_through(e, p, part, k, kl, fkey, vb.data, vb.len, 1, ts, &kn, newv);
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
        if (c->dirty)
            e->stats.cache_hits++;
    }
    /* The base stays in front; the new value goes after it. */
    size_t basel = c->base_known && c->has_base ? c->basel : 0;
    if (basel + vb.len > c->vcap) {
        char *n = ks_xmalloc(basel + vb.len);
        if (basel)
            memcpy(n, c->vals, basel);
        free(c->vals);
        c->vals = n;
        c->vcap = (uint32_t)(basel + vb.len);
    }
    if (vb.len)
        memcpy(c->vals + basel, vb.data, vb.len);
    c->basel = (uint32_t)basel;
    c->vl = (uint32_t)vb.len;
    ks_buf_free(&vb);
    c->has_v = newv.kind != KS_INVALID;
    c->same = 0;
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
    centry_size(st, c);
    ks__st_cache_evict(e);
    return e->failed ? -1 : 0;
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
    ks__st_flush_dirty(e, NULL);
    ks__st_cache_evict(e);
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

void ks_engine_forget_tasks(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    if (!st)
        return;
    /* Whatever is still dirty was not committed: it must not reach the store later. */
    while (st->lru_head)
        cache_remove(st, st->lru_head);
    for (int i = 0; i < st->ndl; i++)
        st->dl[i].n = 0;
    st->last.p = NULL;
    for (int i = 0; i < st->nprocs; i++)
        for (int j = 0; j < st->nps[i]; j++) {
            ks__st_sup_clear(&st->ps[i][j]);
            memset(&st->ps[i][j], 0, sizeof st->ps[i][j]);
        }
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
            ks__st_sup_clear(&st->ps[i][j]);
        free(st->ps[i]);
    }
    free(st->ps);
    free(st->nps);
    free(st);
    e->st = NULL;
}
