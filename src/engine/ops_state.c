/*
 * ops_state.c: the table operators (toTable, table sources, toStream, table
 * filter and mapValues, groupBy of streams and tables), suppress, and the
 * dispatch of stateful processors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "../util/endian.h"
#include "state_int.h"

/* ---- tables ---- */

/*
 * A table source or toTable: drops null keys, then puts the record into the
 * table's store, which forwards the change. A toTable that keeps no store
 * (no `store:`, and nothing below needs one) forwards each record as a
 * change with no old value, as Kafka Streams' KTableSource does when not
 * materialised. Key and value are parsed into the flight that owns them,
 * not into the copy forwarded.
 */
static void materialize(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    if (key.kind == KS_NULL) {
        e->stats.dropped++;
        return;
    }
    if (p->nstores == 0) {
        flight_t c = *f;
        c.old = ks_invalid();
        c.node = p->name;
        ks__forward(e, &c, p);
        return;
    }
    ks_buf_t kb = {0};
    /* A global table's store holds every partition of its topic in one. */
    int32_t part = p->op == KS_OP_TABLE_SOURCE && p->table_source.global ? KS_GLOBAL_PARTITION : e->cur->partition;
    if (ks__st_store_key(e, f, p, &kb, key))
        ks__st_kv_put(e, p, part, kb.data, kb.len, key, value.kind == KS_NULL ? ks_invalid() : value, f->ts);
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
    if (ks__st_eval_x(e, &t, p, &p->e, v, ks_invalid(), &r))
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
 * table): Kafka Streams' enableSendingOldValues(true), which materialises
 * the table source if it must.
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

/*
 * Whether a table node can send old values without being made to
 * materialise (enableSendingOldValues(false)): a table source or toTable
 * with a store, an aggregation, or a filter/mapValues/suppress above one.
 */
static int can_send_old(const ks_proc_t *p)
{
    switch (p->op) {
    case KS_OP_TABLE_SOURCE:
    case KS_OP_TO_TABLE: return p->nstores > 0;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE: return 1;
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP_VALUES:
    case KS_OP_SUPPRESS: return p->nparents > 0 && can_send_old(p->parents[0]);
    default: return 0;
    }
}

/*
 * A table filter's sendOldValues: Kafka Streams' KTableFilter asks its
 * parent for old values when it is built (enableSendingOldValues(false)),
 * and so gets them whenever the table above is materialised, or when
 * something downstream asks for them. With old values, a change where
 * neither the old nor the new value passes is not forwarded.
 */
static int filter_sends_old(const ks_proc_t *p)
{
    return needs_old(p) || (p->nparents > 0 && can_send_old(p->parents[0]));
}

static void table_stateless(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val v;
    if (ks__flight_value(e, f, &v))
        return;
    ks_val nv = ks_invalid(), ov = ks_invalid();
    if (table_apply(e, f, p, v, &nv) == 0 && (f->old.kind == KS_INVALID || table_apply(e, f, p, f->old, &ov) == 0)) {
        /* Neither the new nor the old value passes: nothing changed for downstream. */
        int is_filter = p->op == KS_OP_FILTER || p->op == KS_OP_FILTER_NOT;
        int old_null = f->old.kind == KS_INVALID || ov.kind == KS_NULL;
        if (!(is_filter && nv.kind == KS_NULL && old_null && filter_sends_old(p))) {
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

/* Forwards a flight under a new key (borrowed), tagged for the repartition topic. */
static void forward_keyed(ks_engine_t *e, const flight_t *f, const ks_proc_t *p, ks_val key, int tag)
{
    flight_t c = *f;
    c.key = key;
    c.key_changed = 1;
    c.change_tag = tag;
    if (tag)
        c.old = tag == KS_CHANGE_BOTH ? f->old : ks_invalid();
    c.node = p->name;
    ks__forward(e, &c, p);
}

static void group_by(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val nk = ks_invalid(), ok = ks_invalid(), nv;
    if (!p->table) {
        if (ks__st_eval_key(e, f, p, &nk) == 0)
            forward_keyed(e, f, p, nk, KS_CHANGE_NONE);
        ks_val_release(nk);
        return;
    }
    /*
     * KTable#groupBy: the old value leaves its group (a subtract record), the
     * new value joins its group (an add record). When both stay in one group,
     * one record carries both (as Kafka Streams does since 3.5, KIP-904), so
     * the aggregate updates once.
     */
    if (ks__flight_value(e, f, &nv))
        return;
    int has_old = f->old.kind != KS_INVALID && f->old.kind != KS_NULL, has_new = nv.kind != KS_NULL;
    flight_t t = *f; /* the old value's side */
    t.value = f->old;
    t.value_changed = 1;
    if ((has_old && ks__st_eval_x(e, &t, p, &p->e, f->old, ks_invalid(), &ok)) ||
        (has_new && ks__st_eval_key(e, f, p, &nk))) {
        ks_val_release(ok);
        return;
    }
    /* KTableRepartitionMap skips a side whose new key is null (a grouped table's repartition has no filter). */
    has_old = has_old && ok.kind != KS_NULL;
    has_new = has_new && nk.kind != KS_NULL;
    if (has_old && has_new && ks_val_equal(ok, nk)) {
        forward_keyed(e, f, p, nk, KS_CHANGE_BOTH);
    } else {
        if (has_old)
            forward_keyed(e, &t, p, ok, KS_CHANGE_SUBTRACT);
        if (has_new && !e->failed)
            forward_keyed(e, f, p, nk, KS_CHANGE_ADD);
    }
    ks_val_release(ok);
    ks_val_release(nk);
}

/* ---- suppress ---- */

void ks__st_sup_clear(pstate_t *ps)
{
    free(ps->sup);
    ps->sup = NULL;
    ps->nsup = ps->capsup = 0;
    ps->minb = INT64_MAX;
    ks_buf_free(&ps->sup_dirty);
    ps->ndirty = 0;
    ps->sup_scan = 0;
}

static uint64_t sup_hash(const char *k, size_t kl)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < kl; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    h &= ~SUP_FLAGS;
    return h ? h : 1;
}

static int sup_find(const pstate_t *ps, uint64_t h)
{
    if (!ps->capsup)
        return -1;
    size_t mask = (size_t)ps->capsup - 1;
    for (size_t j = h & mask; ps->sup[j].h; j = (j + 1) & mask)
        if ((ps->sup[j].h & ~SUP_FLAGS) == h)
            return (int)j;
    return -1;
}

/* Adds a key (h may carry flags); returns its slot. */
static int sup_put(pstate_t *ps, uint64_t h, int64_t btime)
{
    if ((ps->nsup + 1) * 2 > ps->capsup) {
        int n = ps->capsup ? ps->capsup * 2 : 64;
        supslot_t *old = ps->sup;
        int oldcap = ps->capsup;
        ps->sup = ks_xcalloc((size_t)n, sizeof *ps->sup);
        ps->capsup = n;
        ps->nsup = 0;
        for (int i = 0; i < oldcap; i++)
            if (old[i].h)
                sup_put(ps, old[i].h, old[i].btime);
        free(old);
    }
    size_t mask = (size_t)ps->capsup - 1, j = (h & ~SUP_FLAGS) & mask;
    while (ps->sup[j].h)
        j = (j + 1) & mask;
    ps->sup[j].h = h;
    ps->sup[j].btime = btime;
    ps->nsup++;
    if (btime < ps->minb)
        ps->minb = btime;
    return (int)j;
}

/* Removes a key, shifting back the entries that probed past its slot. Returns whether it was listed. */
static int sup_remove(pstate_t *ps, uint64_t h)
{
    int at = sup_find(ps, h);
    if (at < 0)
        return 0;
    size_t mask = (size_t)ps->capsup - 1, i = (size_t)at;
    int listed = (ps->sup[i].h & SUP_LISTED) != 0;
    ps->sup[i].h = 0;
    ps->nsup--;
    for (size_t j = (i + 1) & mask; ps->sup[j].h; j = (j + 1) & mask) {
        size_t home = (ps->sup[j].h & ~SUP_FLAGS) & mask;
        /* j's entry may fill the hole at i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            ps->sup[i] = ps->sup[j];
            ps->sup[j].h = 0;
            i = j;
        }
    }
    return listed;
}

/* Lists a store key whose changelog record is due at the next commit. */
static void sup_list(pstate_t *ps, const ks_proc_t *p, const char *k, size_t kl)
{
    if (!p->changelogs || !p->changelogs[0])
        return; /* nothing to log */
    uint32_t n = (uint32_t)kl;
    ps->sup_p = p;
    ks_buf_append(&ps->sup_dirty, &n, sizeof n);
    ks_buf_append(&ps->sup_dirty, k, kl);
}

/* A buffered key changed (slot at): listed, unless already, or unless so many changed that commit scans. */
static void sup_changed(pstate_t *ps, const ks_proc_t *p, int at, const char *k, size_t kl)
{
    if (!p->changelogs || !p->changelogs[0])
        return;
    ps->sup_p = p;
    ps->sup[at].h |= SUP_DIRTY;
    if (ps->sup[at].h & SUP_LISTED || ps->sup_scan)
        return;
    if (ps->ndirty >= 1024 && ps->ndirty * 4 > ps->nsup) {
        ps->sup_scan = 1;
        return;
    }
    ps->sup[at].h |= SUP_LISTED;
    ps->ndirty++;
    sup_list(ps, p, k, kl);
}

/* Writes (v) or deletes (v NULL) a buffered record in the buffer's store only; its changelog waits for the commit. */
static int sup_store(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, const char *v,
                     size_t vl)
{
    if (ks__st_begin(e))
        return -1;
    if (ks_store_put(e->st->stores, p->stores[0], part, k, kl, v, vl))
        return ks__st_state_fatal(e, "writing a suppression buffer failed");
    e->stats.store_writes++;
    return 0;
}

/*
 * A buffer's changelog record as Kafka Streams writes it: the table's key
 * bytes (the store key without its buffer time), the buffered value as it
 * is, the header `v` = 3, and no timestamp; a tombstone has neither value
 * nor header.
 */
static void sup_changelog(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, const void *v,
                          size_t vl)
{
    if (!p->changelogs || !p->changelogs[0] || kl < KS__ST_SUP_KEY_HDR)
        return;
    static const char version = 3;
    ks_header_t h = {"v", &version, 1};
    ks_record_t out = {0};
    out.topic = p->changelogs[0];
    out.partition = part;
    out.offset = -1;
    out.timestamp = KS_NO_TIMESTAMP;
    out.key = k + KS__ST_SUP_KEY_HDR;
    out.key_len = kl - KS__ST_SUP_KEY_HDR;
    out.value = v;
    out.value_len = v ? vl : 0;
    out.headers = v ? &h : NULL;
    out.nheaders = v ? 1 : 0;
    e->ops.emit(e->ud, &out);
}

typedef struct suplog {
    ks_engine_t *e;
    const ks_proc_t *p;
    pstate_t *ps;
    int32_t part;
} suplog_t;

/* A buffered record, in the store's order: logged when its key changed since the last commit. */
static int on_sup_log(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    suplog_t *l = ud;
    if (kl < KS__ST_SUP_KEY_HDR || vl < KS__ST_SUP_VALUE_MIN)
        return 0;
    int at = sup_find(l->ps, sup_hash((const char *)k + KS__ST_SUP_KEY_HDR, kl - KS__ST_SUP_KEY_HDR));
    if (at < 0 || !(l->ps->sup[at].h & SUP_DIRTY))
        return 0;
    l->ps->sup[at].h &= ~SUP_FLAGS;
    sup_changelog(l->e, l->p, l->part, k, kl, v, vl);
    return l->e->failed;
}

/*
 * At commit: one changelog record per key changed since the last one, with
 * the record the buffer holds now, or a tombstone for a key emitted since.
 * When many keys changed, the tombstones go first, then one pass over the
 * store in its order finds the changed records (cheaper than a lookup
 * each). Kafka Streams keeps its dirty keys in a hash set: the order across
 * keys is not defined there either.
 */
int ks__st_sup_log(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    for (int i = 0; i < st->nprocs; i++)
        for (int part = 0; part < st->nps[i]; part++) {
            pstate_t *ps = &st->ps[i][part];
            if (!ps->sup_dirty.len && !ps->sup_scan)
                continue;
            const ks_proc_t *p = ps->sup_p;
            if (ks__st_begin(e))
                return -1;
            int scanned = ps->sup_scan;
            for (size_t off = 0; off + 4 <= ps->sup_dirty.len && !e->failed;) {
                uint32_t kl;
                memcpy(&kl, ps->sup_dirty.data + off, sizeof kl);
                const char *k = ps->sup_dirty.data + off + 4;
                off += 4 + kl;
                int at = kl >= KS__ST_SUP_KEY_HDR
                             ? sup_find(ps, sup_hash(k + KS__ST_SUP_KEY_HDR, kl - KS__ST_SUP_KEY_HDR))
                             : -1;
                if (at < 0 || ps->sup[at].btime != ks__st_sup_btime(k)) {
                    sup_changelog(e, p, part, k, kl, NULL, 0); /* emitted since */
                    continue;
                }
                if (scanned)
                    continue; /* logged by the pass over the store */
                const void *v = NULL;
                size_t vl = 0;
                int found = ks_store_get(st->stores, p->stores[0], part, k, kl, &v, &vl);
                if (found < 0)
                    return ks__st_state_fatal(e, "reading a suppression buffer failed");
                /* the changelog mirrors the store: what it holds, else a tombstone */
                if (found && vl >= KS__ST_SUP_VALUE_MIN)
                    sup_changelog(e, p, part, k, kl, v, vl);
                else
                    sup_changelog(e, p, part, k, kl, NULL, 0);
                ps->sup[at].h &= ~SUP_FLAGS;
            }
            suplog_t l = {e, p, ps, part};
            if (scanned && !e->failed &&
                ks_store_range(st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_sup_log, &l) && !e->failed)
                return ks__st_state_fatal(e, "reading a suppression buffer failed");
            if (e->failed)
                return -1;
            ps->sup_dirty.len = 0;
            ps->ndirty = 0;
            ps->sup_scan = 0;
            if (ps->sup_dirty.cap > (256u << 10))
                ks_buf_free(&ps->sup_dirty); /* a burst's list is not kept through quiet intervals */
        }
    return 0;
}

static int on_sup_entry(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    pstate_t *ps = ud;
    if (kl < KS__ST_SUP_KEY_HDR || vl < KS__ST_SUP_VALUE_MIN)
        return 0;
    sup_put(ps, sup_hash((const char *)k + KS__ST_SUP_KEY_HDR, kl - KS__ST_SUP_KEY_HDR), ks__st_sup_btime(k));
    return 0;
}

static int sup_load(ks_engine_t *e, const ks_proc_t *p, int32_t part, pstate_t *ps)
{
    if (ps->loaded)
        return 0;
    ps->loaded = 1;
    ps->minb = INT64_MAX;
    if (ks__st_begin(e))
        return -1;
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_sup_entry, ps))
        return ks__st_state_fatal(e, "reading a suppression buffer failed");
    return 0;
}

static int64_t suppress_duration(const ks_proc_t *p)
{
    const ks_proc_t *q = p;
    while (q->nparents > 0 && q->op != KS_OP_COUNT && q->op != KS_OP_REDUCE && q->op != KS_OP_AGGREGATE)
        q = q->parents[0];
    if (!p->suppress.final)
        return p->suppress.limit;
    return q->state.window.grace + (q->state.window.kind == KS_WIN_SESSION ? q->state.window.size : 0);
}

/* The buffered records that are due, read in the store's order (oldest first). */
typedef struct due {
    const ks_proc_t *p;
    pstate_t *ps;
    int64_t expiry;
    ks_buf_t bytes; /* each: key length, value length (8 bytes each), key, value */
    int n;
    int64_t next_min; /* the first buffer time not due (INT64_MAX: none left) */
} due_t;

static int on_due(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    due_t *d = ud;
    if (kl < KS__ST_SUP_KEY_HDR || vl < KS__ST_SUP_VALUE_MIN)
        return 0;
    int64_t btime = ks__st_sup_btime(k);
    int over = d->p->suppress.max > 0 && d->ps->nsup - d->n > d->p->suppress.max;
    if (btime > d->expiry && !over) {
        d->next_min = btime;
        return 1;
    }
    uint64_t lens[2] = {kl, vl};
    ks_buf_append(&d->bytes, lens, sizeof lens);
    ks_buf_append(&d->bytes, k, kl);
    ks_buf_append(&d->bytes, v, vl);
    d->n++;
    return 0;
}

/* Emits a buffered record: deleted from the buffer's store, then forwarded with its own timestamp. */
static void sup_emit(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, const char *v,
                     size_t vl)
{
    ks_val key, value;
    int64_t ts;
    if (ks__st_sup_decode(p, k, kl, v, vl, &key, &value, &ts)) {
        ks__st_state_fatal(e, "a suppression buffer entry does not decode");
        return;
    }
    sup_store(e, p, part, k, kl, NULL, 0);
    /* untilWindowCloses drops tombstones: a closed window's final result is never a deletion. */
    if (!e->failed && !(p->suppress.final && value.kind == KS_NULL))
        ks__st_forward_change(e, p, key, value, ks_invalid(), ts);
    ks_val_release(key);
    ks_val_release(value);
}

static void suppress(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int32_t part = e->cur->partition;
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    pstate_t *ps = ks__st_pstate(e, p, part);
    if (sup_load(e, p, part, ps))
        return;
    int64_t stime = ks__st_observe(e, p, part, f->ts);
    int64_t dur = suppress_duration(p);
    int64_t btime = f->ts;
    if (p->suppress.final) {
        const ks_val *w = key.kind == KS_OBJECT ? ks_obj_get(key, "window", 6) : NULL;
        const ks_val *end = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "end", 3) : NULL;
        if (!end || end->kind != KS_NUMBER) {
            ks__fail(e, f, "suppressing", "untilWindowCloses needs a windowed key {key, window: {start, end}}");
            return;
        }
        btime = (int64_t)ks_num_get(*end);
    }
    ks_buf_t kb = {0}, vb = {0};
    char kerr[KS_ERRMSG_SIZE];
    if (ks__st_sup_key_bytes(p, &kb, key, kerr, sizeof kerr)) {
        ks__fail(e, f, "suppressing", kerr);
        ks_buf_free(&kb);
        return;
    }
    uint64_t h = sup_hash(kb.data, kb.len);
    int at = sup_find(ps, h);
    ks_buf_t lk = {0}, priorb = {0};
    ks__st_bytes_t prior = {NULL, 0, 1};
    int buffered = at >= 0;
    if (buffered) {
        btime = ps->sup[at].btime; /* Kafka Streams keeps a buffered key's first buffer time ("non-resetting") */
        /* The prior value stays the one from before the key's first buffered update. */
        ks_buf_t sk = {0};
        char t[8];
        ks_be64_put(t, btime);
        ks_buf_append(&sk, t, 8);
        ks_buf_append(&sk, kb.data, kb.len);
        const void *ov = NULL;
        size_t ovl = 0;
        ks__st_sup_parts_t parts;
        int found = ks__st_begin(e) ? -1 : ks_store_get(e->st->stores, p->stores[0], part, sk.data, sk.len, &ov, &ovl);
        ks_buf_free(&sk);
        if (found < 0 || (found && ks__st_sup_parse(ov, ovl, &parts))) {
            ks_buf_free(&kb);
            ks__st_state_fatal(e, "reading a suppression buffer failed");
            return;
        }
        if (found && !parts.prior.null)
            ks_buf_append(&priorb, parts.prior.data, parts.prior.len);
        prior.null = !found || parts.prior.null;
        prior.data = priorb.data;
        prior.len = priorb.len;
    } else {
        at = sup_put(ps, h, btime);
    }
    /* Persist under (buffer time, key), as Kafka Streams' buffer logs it: context, prior, old and new value. */
    if (ks__st_sup_encode(p, &lk, &vb, btime, &kb, e->cur, f->ts, buffered ? &prior : NULL, f->old, value, kerr,
                          sizeof kerr))
        ks__fail(e, f, "suppressing", kerr);
    else if (sup_store(e, p, part, lk.data, lk.len, vb.data, vb.len) == 0)
        sup_changed(ps, p, at, lk.data, lk.len);
    ks_buf_free(&priorb);
    ks_buf_free(&vb);
    ks_buf_free(&kb);
    ks_buf_free(&lk);
    /* Emit what is due, oldest buffer time first (then key order); then what exceeds maxRecords. */
    int64_t expiry = stime - dur;
    if (e->failed || ps->nsup == 0 || (ps->minb > expiry && !(p->suppress.max > 0 && ps->nsup > p->suppress.max)))
        return;
    due_t d = {p, ps, expiry, {0}, 0, INT64_MAX};
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_due, &d)) {
        ks_buf_free(&d.bytes);
        ks__st_state_fatal(e, "reading a suppression buffer failed");
        return;
    }
    ps->minb = d.next_min;
    size_t off = 0;
    for (int i = 0; i < d.n; i++) {
        uint64_t lens[2];
        memcpy(lens, d.bytes.data + off, sizeof lens);
        const char *k = d.bytes.data + off + sizeof lens, *v = k + lens[0];
        off += sizeof lens + lens[0] + lens[1];
        if (!sup_remove(ps, sup_hash(k + KS__ST_SUP_KEY_HDR, lens[0] - KS__ST_SUP_KEY_HDR)))
            sup_list(ps, p, k, lens[0]); /* its tombstone */
        if (!e->failed)
            sup_emit(e, p, part, k, lens[0], v, lens[1]);
    }
    ks_buf_free(&d.bytes);
}

/* ---- dispatch ---- */

void ks__process_state(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    f->node = p->name;
    /* Processors that keep no store of their own need no state directory. */
    if (p->nstores && !ks__st_state(e))
        return;
    switch (p->op) {
    case KS_OP_TABLE_SOURCE:
    case KS_OP_TO_TABLE: materialize(e, f, p); return;
    case KS_OP_TO_STREAM: {
        flight_t c = *f;
        c.old = ks_invalid();
        c.node = p->name;
        ks__forward(e, &c, p);
        return;
    }
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP_VALUES: table_stateless(e, f, p); return;
    case KS_OP_GROUP_BY: group_by(e, f, p); return;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE: ks__st_aggregate(e, f, p); return;
    case KS_OP_SUPPRESS: suppress(e, f, p); return;
    case KS_OP_JOIN:
    case KS_OP_LEFT_JOIN:
    case KS_OP_OUTER_JOIN: ks__st_join(e, f, p); return;
    default: return;
    }
}
