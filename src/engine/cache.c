/*
 * cache.c: the record cache in front of key-value and time-window stores,
 * and the reads and writes that go through it (ks__st_kv_get/put).
 *
 * Updates to a key collapse in the cache until it is flushed (at commit) or
 * the key is evicted, least recently used first; evicting a dirty entry
 * flushes its processor's other dirty entries too, as Kafka Streams'
 * NamedCache does. Each processor's dirty entries are flushed in the order
 * they were last written, as NamedCache's dirtyKeys (a key written again
 * moves to the end).
 *
 * An entry is one allocation: its header, the key, then what the store
 * holds for the key (the base, when known) and the entry's own value. A
 * clean entry keeps one copy, as base and value are the same. The key
 * forwarded downstream is made again from the key's text at flush, and the
 * value from its bytes, so an entry holds no parsed values. The cache
 * counts an entry's real size (header, bytes, malloc's header and its
 * slots in the hash table and dirty list) against cache.max.bytes.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "../serde/serde.h"
#include "state_int.h"

enum {
    F_HAS_V = 1,      /* the value is present (else the entry deletes the key, or, clean, the store has none) */
    F_BASE_KNOWN = 2, /* what the store holds is known: F_HAS_BASE and the base */
    F_HAS_BASE = 4,
    F_SAME = 8,    /* the value is the base, stored once (clean entries) */
    F_DIRTY = 16,  /* not yet written to the store */
    F_LISTED = 32, /* in its processor's dirty list, at index dl */
    F_PINNED = 64, /* being flushed: not evicted meanwhile */
};

typedef struct centry {
    struct centry *hnext, *lprev, *lnext;
    const ks_proc_t *p;
    int64_t src_off;
    uint32_t h, kl;
    uint32_t basel; /* base bytes (unless F_SAME) */
    uint32_t vl;    /* value bytes; a delete keeps its timestamp there (8 bytes) */
    uint32_t cap;   /* bytes after the key for base and value */
    uint32_t dl;
    int32_t part, src_part;
    uint16_t src_topic; /* index into the interned topic names */
    uint8_t flags;
    char k[]; /* kl bytes of key, then the base, then the value */
} centry_t;

/* Beyond the allocation itself: malloc's header, and the hash and dirty-list slots. */
#define CENTRY_OVERHEAD 32

static size_t alloc_size(size_t kl, size_t cap)
{
    return offsetof(centry_t, k) + kl + cap;
}

static char *base_of(centry_t *c)
{
    return c->k + c->kl;
}

static const char *value_of(centry_t *c)
{
    if (!(c->flags & F_HAS_V))
        return NULL;
    return c->flags & F_SAME ? base_of(c) : base_of(c) + c->basel;
}

static int64_t del_ts_of(centry_t *c)
{
    return c->vl >= 8 ? ks__st_value_ts(base_of(c) + c->basel) : 0;
}

static void account(struct ks_state *st, centry_t *c, size_t old_cap)
{
    size_t before = old_cap == (size_t)-1 ? 0 : (alloc_size(c->kl, old_cap) + 15) / 16 * 16 + CENTRY_OVERHEAD;
    st->cache_bytes -= before;
    st->cache_bytes += (alloc_size(c->kl, c->cap) + 15) / 16 * 16 + CENTRY_OVERHEAD;
}

static uint16_t intern_topic(struct ks_state *st, const char *t)
{
    for (int i = 0; i < st->ntopics; i++)
        if (strcmp(st->topics[i], t) == 0)
            return (uint16_t)i;
    if (st->ntopics == 65535)
        return 0; /* more source topics than that: the dead-letter headers may name the first */
    KS_GROW(st->topics, st->ntopics);
    st->topics[st->ntopics] = ks_xstrdup(t);
    return (uint16_t)st->ntopics++;
}

static uint32_t hash_key(const ks_proc_t *p, int32_t part, const char *k, size_t kl)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)p->seq * 31 ^ (uint64_t)(uint32_t)part << 20;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return (uint32_t)(h ^ h >> 32);
}

static centry_t *cache_find(struct ks_state *st, const ks_proc_t *p, int32_t part, const char *k, size_t kl, uint32_t h)
{
    if (!st->tabsize)
        return NULL;
    for (centry_t *c = st->tab[h & (st->tabsize - 1)]; c; c = c->hnext)
        if (c->h == h && c->p == p && c->part == part && c->kl == kl && memcmp(c->k, k, kl) == 0)
            return c;
    return NULL;
}

static void hash_unlink(struct ks_state *st, centry_t *c)
{
    centry_t **pp = &st->tab[c->h & (st->tabsize - 1)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
}

static void hash_push(struct ks_state *st, centry_t *c)
{
    c->hnext = st->tab[c->h & (st->tabsize - 1)];
    st->tab[c->h & (st->tabsize - 1)] = c;
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
    hash_unlink(st, c);
    lru_unlink(st, c);
    st->cache_bytes -= (alloc_size(c->kl, c->cap) + 15) / 16 * 16 + CENTRY_OVERHEAD;
    st->count--;
    free(c);
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

/* Room for cap bytes after the key; the entry may move (it goes to the LRU tail). */
static centry_t *entry_reserve(struct ks_state *st, centry_t *c, size_t cap)
{
    lru_unlink(st, c);
    if (cap > c->cap) {
        size_t old_cap = c->cap;
        cap = (cap + 15) / 16 * 16;
        hash_unlink(st, c);
        c = ks_xrealloc(c, alloc_size(c->kl, cap));
        c->cap = (uint32_t)cap;
        hash_push(st, c);
        if (c->flags & F_LISTED)
            dlist_of(st, c->p)->v[c->dl] = c;
        account(st, c, old_cap);
    }
    lru_append(st, c);
    return c;
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

/* A new, clean entry with room for cap bytes and nothing known, at the LRU tail. */
static centry_t *cache_insert(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, uint32_t h,
                              size_t cap)
{
    struct ks_state *st = e->st;
    if (st->count + 1 > st->tabsize)
        cache_grow(st);
    centry_t *c = ks_xcalloc(1, alloc_size(kl, cap));
    c->p = p;
    c->part = part;
    c->h = h;
    memcpy(c->k, k, kl);
    c->kl = (uint32_t)kl;
    c->cap = (uint32_t)cap;
    hash_push(st, c);
    st->count++;
    lru_append(st, c);
    account(st, c, (size_t)-1);
    return c;
}

void ks__st_cache_clear(struct ks_state *st)
{
    while (st->lru_head)
        cache_remove(st, st->lru_head);
    for (int i = 0; i < st->ndl; i++)
        st->dl[i].n = st->dl[i].holes = 0;
    st->last.p = NULL;
}

/* ---- flushing ---- */

/* The key a flushed entry forwards: the grouping key, or for a time window {key, window}. */
static int entry_key(ks_engine_t *e, const centry_t *c, ks_val *out)
{
    int windowed = c->p->state.window.kind == KS_WIN_TUMBLING || c->p->state.window.kind == KS_WIN_HOPPING;
    size_t jl = windowed && c->kl >= KS__ST_WINDOW_SUFFIX ? c->kl - KS__ST_WINDOW_SUFFIX : c->kl;
    char err[KS_ERRMSG_SIZE];
    ks_val key;
    if (ks_serde_decode(c->p->store_key, c->k, jl, &key, err, sizeof err)) {
        char msg[KS_ERRMSG_SIZE + 40];
        snprintf(msg, sizeof msg, "a cached key does not decode (%s)", err);
        return ks__st_state_fatal(e, msg);
    }
    int64_t start;
    if (windowed && ks__st_window_key_times(c->k, c->kl, jl, 0, &start, NULL) == 0) {
        *out = ks__st_windowed_key(key, start, start + c->p->state.window.size);
        ks_val_release(key);
    } else {
        *out = key;
    }
    return 0;
}

/* Writes one dirty entry through, with its own record context. */
static int flush_entry(ks_engine_t *e, centry_t *c)
{
    if (!(c->flags & F_DIRTY))
        return 0;
    c->flags &= (uint8_t)~F_DIRTY;
    ks_val fkey;
    if (entry_key(e, c, &fkey))
        return -1;
    const ks_record_t *saved = e->cur;
    ks_val saved_headers = e->cur_headers;
    ks_record_t ctx = {0};
    ctx.topic = e->st->topics[c->src_topic];
    ctx.partition = c->src_part;
    ctx.offset = c->src_off;
    ctx.timestamp = value_of(c) ? ks__st_value_ts(value_of(c)) : 0;
    e->cur = &ctx;
    e->cur_headers = ks_invalid();
    e->dlq_sent = 0;
    known_t kn = {(c->flags & F_BASE_KNOWN) != 0, c->flags & F_HAS_BASE ? base_of(c) : NULL, c->basel};
    /* Forwarding may write other processors' entries and evict: not this one. */
    c->flags |= F_PINNED;
    int rc = ks__st_write_through(e, c->p, c->part, c->k, c->kl, fkey, value_of(c), c->flags & F_HAS_V ? c->vl : 0,
                                  KS_WT_FORWARD_HELD, del_ts_of(c), &kn, ks_invalid());
    c->flags &= (uint8_t)~F_PINNED;
    if (rc == 0) {
        /* The store now holds the entry's value: it is the base, kept once. */
        if (c->flags & F_HAS_V) {
            if (!(c->flags & F_SAME))
                memmove(base_of(c), base_of(c) + c->basel, c->vl);
            c->basel = c->vl;
            c->flags |= F_HAS_BASE;
        } else {
            c->basel = c->vl = 0;
            c->flags &= (uint8_t)~F_HAS_BASE;
        }
        c->flags |= F_BASE_KNOWN | F_SAME;
    }
    ks_val_release(fkey);
    ks_val_release(e->cur_headers);
    e->cur = saved;
    e->cur_headers = saved_headers;
    return rc;
}

static int flush_list(ks_engine_t *e, int seq)
{
    int rc = 0;
    /* A processor's flush forwards downstream only, so its own list does not change meanwhile. */
    for (size_t i = 0; i < e->st->dl[seq].n; i++) {
        centry_t *c = e->st->dl[seq].v[i];
        if (!c)
            continue; /* written again later: it is further on */
        c->flags &= (uint8_t)~F_LISTED;
        if (rc == 0 && flush_entry(e, c))
            rc = -1;
    }
    e->st->dl[seq].n = 0;
    e->st->dl[seq].holes = 0;
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
        rc = flush_list(e, (int)(dlist_of(st, only) - st->dl));
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
        if (c->flags & F_PINNED) {
            if (c == st->lru_tail)
                return;
            lru_unlink(st, c);
            lru_append(st, c);
            continue;
        }
        if (c->flags & F_DIRTY) {
            if (st->flushing)
                return; /* evicted once the flush in progress is done */
            ks__st_flush_dirty(e, c->p);
        }
        cache_remove(st, c);
    }
}

/* ---- reads and writes ---- */

/*
 * Reads a key: the cache first, then the store. Returns 1 found (value and
 * timestamp set, owned), 0 not found, -1 on failure.
 */
int ks__st_kv_get(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val *v, int64_t *ts)
{
    struct ks_state *st = e->st;
    uint32_t h = hash_key(p, part, k, kl);
    centry_t *c = cache_find(st, p, part, k, kl, h);
    if (c) {
        if (!(c->flags & F_HAS_V))
            return 0;
        return ks__st_dec_value(e, p, value_of(c), c->vl, v, ts) ? -1 : 1;
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
        if (!found)
            return 0;
        return ks__st_dec_value(e, p, b, bl, v, ts) ? -1 : 1;
    }
    /*
     * A clean entry remembers the stored value: the next flush of the key
     * need not read it. Aggregations write what they read: room for a new
     * value of about the same size is made now, not by a realloc then.
     */
    c = cache_insert(e, p, part, k, kl, h, found ? (2 * bl + 8 + 15) / 16 * 16 : 16);
    if (found && bl)
        memcpy(base_of(c), b, bl);
    c->vl = c->basel = found ? (uint32_t)bl : 0;
    c->flags = F_BASE_KNOWN | F_SAME | (found ? F_HAS_V | F_HAS_BASE : 0);
    if (found && ks__st_dec_value(e, p, base_of(c), c->vl, v, ts))
        return -1;
    /*
     * Kafka Streams caches a read value (evicting now if the cache is full)
     * but not a miss: the put that follows a miss evicts, with the new key
     * already dirty, so an eviction's flush includes it.
     */
    if (found)
        ks__st_cache_evict(e);
    return found;
}

/* Drops the holes of a processor's dirty list, keeping its order. */
static void dlist_compact(struct dlist *d)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->v[i]) {
            d->v[i]->dl = (uint32_t)n;
            d->v[n++] = d->v[i];
        }
    d->n = n;
    d->holes = 0;
}

/*
 * Puts a just-written entry at the end of its processor's dirty list: a
 * key written again moves there from where it was (its old slot becomes a
 * hole), as NamedCache.put removes and adds the key to its dirtyKeys.
 */
static void dirty_list(struct ks_state *st, centry_t *c)
{
    struct dlist *d = dlist_of(st, c->p);
    if (c->flags & F_LISTED) {
        if (c->dl + 1 == d->n)
            return; /* already the last */
        d->v[c->dl] = NULL;
        d->holes++;
    }
    if (d->n == d->cap && d->holes > d->n / 2)
        dlist_compact(d);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->v = ks_xrealloc(d->v, d->cap * sizeof *d->v);
    }
    c->dl = (uint32_t)d->n;
    d->v[d->n++] = c;
    c->flags |= F_LISTED;
}

/* Writes a key: into the cache, or through when the cache is off. newv KS_INVALID deletes. */
int ks__st_kv_put(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey, ks_val newv,
                  int64_t ts)
{
    struct ks_state *st = e->st;
    ks_buf_t vb = {0};
    char err[KS_ERRMSG_SIZE];
    if (newv.kind != KS_INVALID && ks__st_enc_value(p, &vb, newv, ts, err, sizeof err)) {
        ks_buf_free(&vb);
        return ks__fail(e, NULL, "storing the value", err);
    }
    if (st->cache_max == 0) {
        known_t kn = {0, NULL, 0};
        if (st->last.p == p && st->last.part == part && st->last.kl == kl && memcmp(st->last.k, k, kl) == 0)
            kn = (known_t){1, st->last.found ? st->last.v : NULL, st->last.vl};
        int rc = ks__st_write_through(e, p, part, k, kl, fkey, vb.data, vb.len, 1, ts, &kn, newv);
        st->last.p = NULL;
        ks_buf_free(&vb);
        return rc;
    }
    uint32_t h = hash_key(p, part, k, kl);
    size_t vl = newv.kind != KS_INVALID ? vb.len : 8; /* a delete keeps its timestamp */
    centry_t *c = cache_find(st, p, part, k, kl, h);
    if (!c)
        c = cache_insert(e, p, part, k, kl, h, vl);
    else if (c->flags & F_DIRTY)
        e->stats.cache_hits++;
    /* The base stays in front; the new value goes after it. */
    size_t basel = (c->flags & (F_BASE_KNOWN | F_HAS_BASE)) == (F_BASE_KNOWN | F_HAS_BASE) ? c->basel : 0;
    c = entry_reserve(st, c, basel + vl);
    if (newv.kind != KS_INVALID)
        memcpy(base_of(c) + basel, vb.data, vl);
    else
        ks__st_set_value_ts(base_of(c) + basel, ts);
    ks_buf_free(&vb);
    c->basel = (uint32_t)basel;
    c->vl = (uint32_t)vl;
    c->flags = (uint8_t)((c->flags & ~(F_SAME | F_HAS_V)) | F_DIRTY | (newv.kind != KS_INVALID ? F_HAS_V : 0));
    c->src_topic = intern_topic(st, e->cur ? e->cur->topic : "");
    c->src_part = e->cur ? e->cur->partition : part;
    c->src_off = e->cur ? e->cur->offset : -1;
    dirty_list(st, c);
    ks__st_cache_evict(e);
    return e->failed ? -1 : 0;
}
