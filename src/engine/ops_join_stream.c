/*
 * ops_join_stream.c: stream-stream joins at run time, as Kafka Streams 4.4
 * runs the nodes KStreamImplJoin makes (load_join_stream.c):
 *
 *   KSTREAM-WINDOWED   KStreamJoinWindow: forwards the record, then buffers
 *                      it (a key not null) in its side's window store,
 *                      which retains duplicates (a null value buffers
 *                      nothing but is logged)
 *   KSTREAM-JOINTHIS   KStreamKStreamJoinLeftSide: a left record joins
 *                      every right record buffered within [ts - before,
 *                      ts + after]
 *   KSTREAM-JOINOTHER  KStreamKStreamJoinRightSide: a right record joins
 *                      every left record within [ts - after, ts + before]
 *
 * A joined result has the larger of the two timestamps. In left and outer
 * joins a record of an outer side that finds nothing is kept in the shared
 * outer store (KSTREAM-OUTERSHARED) until its window and grace have closed
 * on the join's stream time, and emitted with a null partner then, unless
 * a partner arrived meanwhile (which deletes it): Kafka Streams'
 * emitNonJoinedOuterRecords, with its order (timestamp, then the right
 * side before the left, then the key's bytes), its per-side look-back
 * (after for left records, before for right ones) and its throttle (at
 * most one scan a second of wall clock; none in kstreamd test, as in
 * TopologyTestDriver). A record that arrives when its window has closed
 * already is emitted with null at once.
 *
 *   record                     join        leftJoin (left)   outerJoin
 *   null value                 dropped     dropped           dropped
 *   null key (KIP-962)         dropped     $right null now   the outer
 *                                                            side's: now
 *   nothing in the window      nothing     held, then null   held, then null
 *
 * The window stores behave as Kafka Streams' in-memory window store (the
 * conformance harness' oracle): retention is before + after + grace; a
 * put buffers the record unless it is older than the store's stream time
 * minus retention (a late record, dropped and counted, but still joined
 * with what the other side holds); a fetch sees only the records within
 * retention, and expired records leave the store (see expire). Every put is
 * logged to the store's changelog, late ones included, with a sequence
 * number in the key as Kafka Streams' ChangeLoggingWindowBytesStore does.
 * The outer store is Kafka Streams' ListValueStore: one entry per
 * (timestamp, side, key), its value the list of the records held, logged
 * whole on each change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/endian.h"
#include "../util/util.h"
#include "state_int.h"

/* Kafka Streams' default of __emit.interval.ms.kstreams.outer.join.spurious.results.fix__. */
#define EMIT_INTERVAL_MS 1000
#define SEQ_LEN 4
#define OUTER_KEY_HDR 9 /* an outer store key: timestamp (8), side (1: left, 0: right), then the key's bytes */

/* Java's long addition, which wraps (the time tracker's minTime starts at Long.MAX_VALUE). */
static int64_t jadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t retention_of(const ks_proc_t *p)
{
    return p->join.before + p->join.after + p->join.grace;
}

/* Logs a change of store `idx` of p, with the current record's headers when asked (window stores). */
static void log_change(ks_engine_t *e, const ks_proc_t *p, int idx, int32_t part, const void *k, size_t kl,
                       const void *v, size_t vl, int64_t ts, int headers)
{
    if (!p->changelogs || idx >= p->nstores || !p->changelogs[idx])
        return;
    ks_record_t out = {0};
    out.topic = p->changelogs[idx];
    out.partition = part;
    out.offset = -1;
    out.timestamp = ts;
    out.key = k;
    out.key_len = kl;
    out.value = v;
    out.value_len = vl;
    if (headers && e->cur) {
        out.headers = e->cur->headers;
        out.nheaders = e->cur->nheaders;
    }
    e->ops.emit(e->ud, &out);
}

/* ---- the window stores ---- */

/* Ends of a window store key: the timestamp and the sequence number after the key's bytes. */
static int64_t wkey_ts(const void *k, size_t kl)
{
    return ks_be64_get((const char *)k + kl - SEQ_LEN - 8);
}

typedef struct wscan {
    int64_t before; /* expire: entries older than this go */
    char **keys;
    size_t *lens;
    int n;
    int64_t oldest, newest;
    int any;
} wscan_t;

static int on_wscan(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    wscan_t *sc = ud;
    if (kl < 8 + SEQ_LEN)
        return 0;
    int64_t ts = wkey_ts(k, kl);
    if (ts < sc->before) {
        KS_GROW(sc->keys, sc->n);
        KS_GROW(sc->lens, sc->n);
        sc->keys[sc->n] = ks_xmalloc(kl);
        memcpy(sc->keys[sc->n], k, kl);
        sc->lens[sc->n++] = kl;
        return 0;
    }
    if (!sc->any || ts < sc->oldest)
        sc->oldest = ts;
    if (!sc->any || ts > sc->newest)
        sc->newest = ts;
    sc->any = 1;
    return 0;
}

/*
 * The buffer's state for a partition (of its WINDOWED node w): its stream
 * time in time (has_time 0: none yet) and its oldest record. After a
 * restart both come from what the store holds, as Kafka Streams' store
 * rebuilds them when it restores.
 */
static pstate_t *buffer_state(ks_engine_t *e, const ks_proc_t *w, int32_t part)
{
    pstate_t *ps = ks__st_pstate(e, w, part);
    if (ps->oldest_known || ks__st_begin(e))
        return ps;
    wscan_t sc = {INT64_MIN, NULL, NULL, 0, 0, 0, 0};
    if (ks_store_range(e->st->stores, w->stores[0], part, NULL, 0, NULL, 0, on_wscan, &sc))
        ks__st_state_fatal(e, "reading a join buffer failed");
    ps->oldest_known = 1;
    ps->oldest = sc.any ? sc.oldest : INT64_MAX;
    if (sc.any && (!ps->has_time || sc.newest > ps->time)) {
        ps->time = sc.newest;
        ps->has_time = 1;
    }
    return ps;
}

/* The oldest time a buffer still holds: max(0, stream time - retention + 1) (InMemoryWindowStore). */
static int64_t min_live(const ks_proc_t *w, const pstate_t *ps)
{
    int64_t t = (ps->has_time ? ps->time : -1) - retention_of(w) + 1;
    return t > 0 ? t : 0;
}

/*
 * removeExpiredSegments: drops the buffered records older than min_live
 * (the store only; nothing is logged). A fetch never sees them anyway,
 * so on Kafka they go in batches, when the oldest is a segment interval
 * (max(retention / 2, 60 s), Kafka Streams' RocksDB segments) behind,
 * which costs one pass over the buffer per interval of stream time;
 * kstreamd test drops them at once, so that `stores:` shows what Kafka
 * Streams' in-memory store holds.
 */
static void expire(ks_engine_t *e, const ks_proc_t *w, int32_t part, pstate_t *ps)
{
    int64_t live = min_live(w, ps), seg = retention_of(w) / 2 > 60000 ? retention_of(w) / 2 : 60000;
    if (ps->oldest >= live || (!e->join_exact_expiry && live - ps->oldest < seg) || ks__st_begin(e))
        return;
    wscan_t sc = {live, NULL, NULL, 0, 0, 0, 0};
    if (ks_store_range(e->st->stores, w->stores[0], part, NULL, 0, NULL, 0, on_wscan, &sc))
        ks__st_state_fatal(e, "reading a join buffer failed");
    for (int i = 0; i < sc.n; i++) {
        if (!e->failed && ks_store_put(e->st->stores, w->stores[0], part, sc.keys[i], sc.lens[i], NULL, 0))
            ks__st_state_fatal(e, "writing a join buffer failed");
        free(sc.keys[i]);
    }
    free(sc.keys);
    free(sc.lens);
    ps->oldest = sc.any ? sc.oldest : INT64_MAX;
}

/*
 * Buffers a record of w's side: WindowStore#put with retainDuplicates. k
 * is its store key (the key's bytes, the timestamp and room for the
 * sequence number, which is set here).
 */
static void buffer_put(ks_engine_t *e, flight_t *f, const ks_proc_t *w, int32_t part, ks_buf_t *k, ks_val value)
{
    pstate_t *ps = buffer_state(e, w, part);
    if (e->failed)
        return;
    expire(e, w, part, ps);
    int64_t ts = f->ts;
    if (!ps->has_time || ts > ps->time) {
        ps->time = ts;
        ps->has_time = 1;
    }
    ps->seq = (int32_t)((uint32_t)(ps->seq + 1) & 0x7fffffffu);
    ks_buf_t v = {0};
    char err[KS_ERRMSG_SIZE];
    ks_be32_put(k->data + k->len - SEQ_LEN, (uint32_t)ps->seq);
    if (value.kind == KS_NULL) {
        /* A no-op for a store retaining duplicates, but logged as a tombstone all the same. */
        log_change(e, w, 0, part, k->data, k->len, NULL, 0, ts, 1);
        goto done;
    }
    if (ks__st_enc_value(w, &v, value, ts, err, sizeof err)) {
        ks__fail(e, f, "buffering the record for the join", err);
        goto done;
    }
    if (ts <= (ps->has_time ? ps->time : -1) - retention_of(w)) {
        /* "Skipping record for expired segment": too late for the window store. */
        e->stats.late++;
        e->stats.dropped++;
    } else if (ks_store_put(e->st->stores, w->stores[0], part, k->data, k->len, v.data, v.len)) {
        ks__st_state_fatal(e, "writing a join buffer failed");
        goto done;
    } else {
        e->stats.store_writes++;
        if (ts < ps->oldest)
            ps->oldest = ts;
    }
    log_change(e, w, 0, part, k->data, k->len, v.data + 8, v.len - 8, ts, 1);
    /*
     * What the put made expire goes now rather than at the next put or
     * fetch (which would drop it first): the same to the join, and the
     * store then holds what Kafka Streams' store shows.
     */
    expire(e, w, part, ps);
done:
    ks_buf_free(&v);
}

typedef struct fetched {
    int64_t ts;
    ks_val value;
} fetched_t;

typedef struct wfetch {
    ks_engine_t *e;
    const ks_proc_t *w;
    const char *key;
    size_t keylen;
    fetched_t *r;
    int n;
    int bad;
} wfetch_t;

static int on_fetch(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    wfetch_t *fe = ud;
    if (kl != fe->keylen + 8 + SEQ_LEN || memcmp(k, fe->key, fe->keylen) != 0)
        return 0;
    ks_val val;
    if (ks__st_dec_value(fe->e, fe->w, v, vl, &val, NULL)) {
        fe->bad = 1;
        return 1;
    }
    KS_GROW(fe->r, fe->n);
    fe->r[fe->n].ts = wkey_ts(k, kl);
    fe->r[fe->n++].value = val;
    return 0;
}

/* WindowStore#fetch(key, from, to): the key's records in [from, to] within retention, by time then arrival. */
static int buffer_fetch(ks_engine_t *e, const ks_proc_t *w, int32_t part, const ks_buf_t *kb, int64_t from, int64_t to,
                        wfetch_t *out)
{
    memset(out, 0, sizeof *out);
    pstate_t *ps = buffer_state(e, w, part);
    if (e->failed)
        return -1;
    expire(e, w, part, ps);
    int64_t live = min_live(w, ps);
    if (from < live)
        from = live;
    if (to < from || ks__st_begin(e))
        return e->failed ? -1 : 0;
    ks_buf_t lo = {0}, hi = {0};
    char t[8 + SEQ_LEN] = {0};
    /* (The out-of-line append: GCC's bound check misjudges the inline one on an empty buffer.) */
    ks_buf_append_slow(&lo, kb->data, kb->len);
    ks_be64_put(t, from);
    ks_buf_append(&lo, t, sizeof t);
    ks_buf_append_slow(&hi, kb->data, kb->len);
    ks_be64_put(t, to + 1);
    ks_buf_append(&hi, t, sizeof t);
    out->e = e;
    out->w = w;
    out->key = kb->data;
    out->keylen = kb->len;
    if (ks_store_range(e->st->stores, w->stores[0], part, lo.data, lo.len, hi.data, hi.len, on_fetch, out))
        ks__st_state_fatal(e, "reading a join buffer failed");
    ks_buf_free(&lo);
    ks_buf_free(&hi);
    return e->failed || out->bad ? -1 : 0;
}

static void fetched_free(wfetch_t *fe)
{
    for (int i = 0; i < fe->n; i++)
        ks_val_release(fe->r[i].value);
    free(fe->r);
}

/* ---- the shared outer store (ListValueStore of TimestampedKeyAndJoinSide -> LeftOrRightValue) ---- */

static void outer_key(ks_buf_t *b, int64_t ts, int left, const ks_buf_t *kb)
{
    char t[OUTER_KEY_HDR];
    ks_be64_put(t, ts);
    t[8] = (char)(left ? 1 : 0);
    b->len = 0;
    ks_buf_append(b, t, sizeof t);
    ks_buf_append(b, kb->data, kb->len);
}

/* Deletes an entry of the outer store and logs the tombstone (ListValueStore#put(key, null)). */
static void outer_delete(ks_engine_t *e, const ks_proc_t *p, int32_t part, const void *k, size_t kl, int64_t ts)
{
    if (ks_store_put(e->st->stores, p->stores[1], part, k, kl, NULL, 0)) {
        ks__st_state_fatal(e, "writing the outer join store failed");
        return;
    }
    e->stats.store_writes++;
    log_change(e, p, 1, part, k, kl, NULL, 0, ts, 0);
}

/*
 * Appends a record to its entry's list (ListValueStore#put): the stored
 * value is the timestamp of the change, then Kafka Streams' list bytes
 * (strategy 1, count, then each item's length and bytes, an item being a
 * side byte and the value's bytes), all of which the changelog carries.
 */
static void outer_put(ks_engine_t *e, flight_t *f, const ks_proc_t *p, int32_t part, const ks_buf_t *k, int left,
                      ks_val value)
{
    ks_buf_t vb = {0}, nb = {0};
    char err[KS_ERRMSG_SIZE], t[8];
    int is_null;
    const void *old = NULL;
    size_t ol = 0;
    if (ks_serde_encode(p->store_value, value, &vb, &is_null, err, sizeof err)) {
        ks__fail(e, f, "keeping the record for the outer join", err);
        goto done;
    }
    int found = ks_store_get(e->st->stores, p->stores[1], part, k->data, k->len, &old, &ol);
    if (found < 0) {
        ks__st_state_fatal(e, "reading the outer join store failed");
        goto done;
    }
    uint32_t count = 0;
    ks_be64_put(t, f->ts);
    ks_buf_append(&nb, t, 8);
    ks_buf_putc(&nb, 1); /* VARIABLE_SIZE */
    ks_buf_append(&nb, "\0\0\0\0", 4);
    if (found && ol >= 8 + 5) {
        count = ks_be32_get((const char *)old + 9);
        ks_buf_append(&nb, (const char *)old + 13, ol - 13);
    }
    char len[4];
    ks_be32_put(len, (uint32_t)(vb.len + 1));
    ks_buf_append(&nb, len, 4);
    ks_buf_putc(&nb, (char)(left ? 1 : 0));
    ks_buf_append(&nb, vb.data, vb.len);
    ks_be32_put(nb.data + 9, count + 1);
    if (ks_store_put(e->st->stores, p->stores[1], part, k->data, k->len, nb.data, nb.len)) {
        ks__st_state_fatal(e, "writing the outer join store failed");
        goto done;
    }
    e->stats.store_writes++;
    log_change(e, p, 1, part, k->data, k->len, nb.data + 8, nb.len - 8, f->ts, 0);
done:
    ks_buf_free(&vb);
    ks_buf_free(&nb);
}

/* ---- joining ---- */

/* The shared TimeTracker of the join's task (KStreamImplJoin.TimeTracker), kept by the THIS node. */
static pstate_t *tracker(ks_engine_t *e, const ks_proc_t *p, int32_t part)
{
    pstate_t *tt = ks__st_pstate(e, p->join.this_side, part);
    if (!tt->tracker) {
        tt->tracker = 1;
        tt->time = -1; /* ConsumerRecord.NO_TIMESTAMP */
        tt->min_time = INT64_MAX;
        tt->next_emit = 0;
    }
    return tt;
}

/*
 * Forwards the joiner's result for (left, right), either null, with key
 * and timestamp ts, from the join node p; the joiner is the THIS node's
 * `value:`, `.` and $left the left value.
 */
static void emit(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, int new_key, ks_val left, ks_val right,
                 int64_t ts)
{
    const ks_proc_t *jt = p->join.this_side;
    flight_t c = *f;
    if (new_key) {
        c.key = key;
        c.key_changed = 1;
    }
    c.ts = ts;
    c.old = ks_invalid();
    c.node = p->name;
    ks_val out;
    if (ks__st_joiner(e, &c, jt, left, right, &out, 0))
        return;
    c.value = out;
    c.value_changed = 1;
    ks__forward(e, &c, p);
    ks_val_release(out);
}

/*
 * What a scan of the outer store decided, in its order: entries to emit
 * (copied: they are emitted, and deleted, once the scan has ended, as a
 * store must not change under its cursor) and where the scan stopped.
 */
typedef struct oentry {
    char *k;
    size_t kl;
    char *v;
    size_t vl;
} oentry_t;

typedef struct oscan {
    const ks_proc_t *p;
    pstate_t *tt;
    int left_open, right_open;
    oentry_t *r; /* the entries with closed windows, in store order */
    int n;
} oscan_t;

/*
 * One entry of emitNonJoinedOuterRecords' iteration: each of its items
 * sets minTime to the entry's timestamp; the scan stops when both sides
 * have met an entry whose window is still open (none after it can be
 * closed, in <timestamp><side><key> order), and an open entry is passed.
 */
static int on_outer(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    oscan_t *sc = ud;
    if (kl < OUTER_KEY_HDR || vl < 8 + 5)
        return 0;
    int64_t ts = ks_be64_get(k);
    int side_left = ((const char *)k)[8] == 1;
    uint32_t items = ks_be32_get((const char *)v + 9);
    if (items == 0)
        return 0;
    sc->tt->min_time = ts;
    if (sc->left_open && sc->right_open)
        return 1;
    int64_t look_back = side_left ? sc->p->join.after : sc->p->join.before;
    if (jadd(jadd(ts, look_back), sc->p->join.grace) >= sc->tt->time) {
        if (side_left)
            sc->left_open = 1;
        else
            sc->right_open = 1;
        return 0;
    }
    KS_GROW(sc->r, sc->n);
    oentry_t *o = &sc->r[sc->n++];
    o->k = ks_xmalloc(kl);
    memcpy(o->k, k, kl);
    o->kl = kl;
    o->v = ks_xmalloc(vl);
    memcpy(o->v, v, vl);
    o->vl = vl;
    return 0;
}

/* One item of an outer store list: its side and value bytes; 0, or -1 past the end. */
static int list_item(const oentry_t *o, size_t *off, int *left, const char **data, size_t *len)
{
    if (*off + 4 > o->vl)
        return -1;
    uint32_t l = ks_be32_get(o->v + *off);
    if (l < 1 || *off + 4 + l > o->vl)
        return -1;
    *left = o->v[*off + 4] == 1;
    *data = o->v + *off + 5;
    *len = l - 1;
    *off += 4 + l;
    return 0;
}

/*
 * emitNonJoinedOuterRecords: the outer records whose window and grace
 * have closed, emitted with a null partner and deleted, oldest first;
 * each entry is deleted once the next one is emitted, and the last at the
 * end (a blind delete, as Kafka Streams does, so a failure re-emits).
 */
static void emit_non_joined(ks_engine_t *e, flight_t *f, const ks_proc_t *p, pstate_t *tt, int32_t part)
{
    int64_t join_after = p->join.role == KS_JOIN_ROLE_THIS ? p->join.after : p->join.before;
    if (jadd(jadd(tt->min_time, join_after), p->join.grace) >= tt->time)
        return;
    int64_t now = ks__wall_clock(e);
    if (now < tt->next_emit)
        return;
    tt->next_emit = now + (e->join_emit_set ? e->join_emit_ms : EMIT_INTERVAL_MS);
    tt->min_time = INT64_MAX;
    oscan_t sc = {p, tt, 0, 0, NULL, 0};
    if (ks_store_range(e->st->stores, p->stores[1], part, NULL, 0, NULL, 0, on_outer, &sc))
        ks__st_state_fatal(e, "reading the outer join store failed");
    char err[KS_ERRMSG_SIZE];
    for (int i = 0; i < sc.n && !e->failed; i++) {
        const oentry_t *o = &sc.r[i];
        ks_val key;
        if (ks_serde_decode(p->store_key, o->k + OUTER_KEY_HDR, o->kl - OUTER_KEY_HDR, &key, err, sizeof err)) {
            ks__st_state_fatal(e, "a key of the outer join store does not decode");
            break;
        }
        int64_t ts = ks_be64_get(o->k);
        size_t off = 8 + 5, len;
        int item_left, first = 1;
        const char *data;
        while (!e->failed && list_item(o, &off, &item_left, &data, &len) == 0) {
            ks_val value;
            if (ks_serde_decode(p->store_value, data, len, &value, err, sizeof err)) {
                ks__st_state_fatal(e, "a value of the outer join store does not decode");
                break;
            }
            emit(e, f, p, key, 1, item_left ? value : ks_null(), item_left ? ks_null() : value, ts);
            ks_val_release(value);
            /* The previous entry goes once this one's first item is out; the last one after the loop. */
            if (first && i > 0 && !e->failed)
                outer_delete(e, p, part, sc.r[i - 1].k, sc.r[i - 1].kl, f->ts);
            first = 0;
        }
        ks_val_release(key);
    }
    if (sc.n && !e->failed)
        outer_delete(e, p, part, sc.r[sc.n - 1].k, sc.r[sc.n - 1].kl, f->ts);
    for (int i = 0; i < sc.n; i++) {
        free(sc.r[i].k);
        free(sc.r[i].v);
    }
    free(sc.r);
}

/* A record of the THIS (left) or OTHER (right) side: KStreamKStreamJoin's process. */
static void join_side(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int32_t part = e->cur->partition;
    int this_side = p->join.role == KS_JOIN_ROLE_THIS;
    pstate_t *tt = tracker(e, p, part);
    int64_t ts = f->ts;
    if (ts > tt->time)
        tt->time = ts;
    ks_val key, value;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    if (p->join.outer && key.kind == KS_NULL && value.kind != KS_NULL) {
        emit(e, f, p, key, 0, this_side ? value : ks_null(), this_side ? ks_null() : value, ts);
        return;
    }
    if (key.kind == KS_NULL || value.kind == KS_NULL) {
        e->stats.dropped++; /* "Skipping record due to null key or value" */
        return;
    }
    if (ts == tt->time && p->join.shared) {
        emit_non_joined(e, f, p, tt, part);
        if (e->failed)
            return;
    }
    int64_t before = this_side ? p->join.before : p->join.after, after = this_side ? p->join.after : p->join.before;
    int64_t from = ts - before > 0 ? ts - before : 0, to = ts + after > 0 ? ts + after : 0;
    const ks_proc_t *w = p->join.other_windowed;
    ks_buf_t kb = {0}, ok = {0};
    wfetch_t fe = {0};
    if (!ks__st_store_key(e, f, w, &kb, key) || buffer_fetch(e, w, part, &kb, from, to, &fe)) {
        ks_buf_free(&kb);
        fetched_free(&fe);
        return;
    }
    for (int i = 0; i < fe.n && !e->failed; i++) {
        if (p->join.shared) {
            /* The partner's outer record, if it is held, is deleted (ListValueStore#putIfAbsent(key, null)). */
            const void *old;
            size_t ol;
            outer_key(&ok, fe.r[i].ts, !this_side, &kb);
            int found = ks_store_get(e->st->stores, p->stores[1], part, ok.data, ok.len, &old, &ol);
            if (found < 0)
                ks__st_state_fatal(e, "reading the outer join store failed");
            else if (found)
                outer_delete(e, p, part, ok.data, ok.len, ts);
        }
        if (!e->failed)
            emit(e, f, p, key, 0, this_side ? value : fe.r[i].value, this_side ? fe.r[i].value : value,
                 fe.r[i].ts > ts ? fe.r[i].ts : ts);
    }
    if (!e->failed && p->join.outer && fe.n == 0) {
        /* A record whose window has closed already cannot be joined any more: out at once. */
        if (to < tt->time) {
            emit(e, f, p, key, 0, this_side ? value : ks_null(), this_side ? ks_null() : value, ts);
        } else {
            if (ts < tt->min_time)
                tt->min_time = ts;
            outer_key(&ok, ts, this_side, &kb);
            outer_put(e, f, p, part, &ok, this_side, value);
        }
    }
    fetched_free(&fe);
    ks_buf_free(&kb);
    ks_buf_free(&ok);
}

/* KStreamJoinWindow: the record goes on first, then into its side's buffer. */
static void windowed(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, value;
    /* Parsed before forwarding, so that the nodes below share them. */
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &value))
        return;
    flight_t c = *f;
    c.node = p->name;
    ks__forward(e, &c, p);
    if (e->failed || key.kind == KS_NULL)
        return;
    ks_buf_t kb = {0};
    if (ks__st_store_key(e, f, p, &kb, key)) {
        ks__st_window_suffix(&kb, kb.len, f->ts, 0, 0);
        buffer_put(e, f, p, e->cur->partition, &kb, value);
    }
    ks_buf_free(&kb);
}

void ks__st_stream_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    /* Every node reads or writes a store: the batch is open from here on (a commit may have closed it). */
    if (ks__st_begin(e))
        return;
    if (p->join.role == KS_JOIN_ROLE_WINDOWED)
        windowed(e, f, p);
    else if (p->join.role == KS_JOIN_ROLE_THIS || p->join.role == KS_JOIN_ROLE_OTHER)
        join_side(e, f, p);
}
