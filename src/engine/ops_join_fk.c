/*
 * ops_join_fk.c: foreign-key table-table joins at run time, as Kafka
 * Streams 4.4 runs them (kstream/internals/foreignkeyjoin). The nodes and
 * topics are made by src/topology/load_join_fk.c; each node here is one
 * of Kafka Streams' processors:
 *
 *   registration    a change of a left row sends subscriptions, keyed by
 *                   foreign key, to the registration topic
 *                   (SubscriptionSendProcessorSupplier)
 *   receive         keeps each subscription in the subscription store,
 *                   keyed by CombinedKey (foreign key, primary key), then
 *   join-foreign    looks the foreign key up in the right table and sends
 *                   a response to the left row's partition of the response
 *                   topic (SubscriptionJoinProcessorSupplier)
 *   foreign-join    a change of a right row answers every subscription of
 *                   its key (ForeignTableJoinProcessorSupplier)
 *   resolver        drops a response whose hash is not the left row's
 *                   current value's, else joins and forwards to the result
 *                   table (ResponseJoinProcessorSupplier)
 *
 * Byte formats, as Kafka Streams 4.4 writes them (all integers big-endian):
 *   SubscriptionWrapper (version 1): a byte with the version in its low 7
 *     bits and 0x80 when there is no hash, the instruction byte, the hash
 *     (two longs; absent without one), the primary key's bytes, the left
 *     record's partition (4 bytes)
 *   SubscriptionResponseWrapper (version 0): the version byte (0x80 when
 *     there is no hash), the hash, the right value's bytes (none: null)
 *   CombinedKey: the foreign key's length (4 bytes), its bytes, the
 *     primary key's bytes
 *   subscription store: CombinedKey -> timestamp and SubscriptionWrapper;
 *     its changelog carries the wrapper, with the timestamp as the record's
 * The hash is Murmur3.hash128 of the left value's bytes in the left
 * table's value serde (serde/murmur3.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/endian.h"
#include "../util/util.h"
#include "state_int.h"

/* SubscriptionWrapper.Instruction. */
enum {
    DELETE_KEY_NO_PROPAGATE = 0,
    DELETE_KEY_AND_PROPAGATE = 1,
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2,
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3,
};

#define SUBSCRIPTION_VERSION 1 /* SubscriptionWrapper.CURRENT_VERSION */
#define RESPONSE_VERSION 0     /* SubscriptionResponseWrapper.CURRENT_VERSION */
#define MAX_STORE_KEY 480      /* the longest key a store holds (ks__st_store_key) */

/* A value hash: `null` when the value is null (no hash is sent). */
typedef struct vhash {
    int null;
    uint64_t h[2];
} vhash_t;

/* A subscription, parsed (pointers into the record's or the store's bytes). */
typedef struct sub {
    int version, instruction;
    vhash_t hash;
    const char *pk;
    size_t pkl;
    int32_t partition; /* -1: none (version 0) */
} sub_t;

/* Writes an internal topic's record through the node's sink: key NULL is a null key. */
static void fk_emit(ks_engine_t *e, const ks_proc_t *sink, const void *k, size_t kl, const void *v, size_t vl,
                    int64_t ts, int32_t partition)
{
    ks_record_t out = {0};
    out.topic = sink->io.topic;
    out.partition = partition;
    out.offset = -1;
    out.timestamp = ts;
    out.key = k;
    out.key_len = k ? kl : 0;
    out.value = v;
    out.value_len = vl;
    out.headers = e->cur->headers;
    out.nheaders = e->cur->nheaders;
    e->stats.out++;
    e->ops.emit(e->ud, &out);
}

/* Appends a 16-byte hash, big-endian longs. */
static void put_hash(ks_buf_t *b, const vhash_t *h)
{
    char t[8];
    for (int i = 0; i < 2; i++) {
        ks_be64_put(t, (int64_t)h->h[i]);
        ks_buf_append_slow(b, t, 8);
    }
}

static uint64_t get_be64(const char *p)
{
    return (uint64_t)ks_be64_get(p);
}

/*
 * Parses a SubscriptionWrapper. Returns 0, or -1 (with ks__fail) when the
 * bytes are not one or its version is newer than Kafka Streams 4.4's.
 */
static int parse_sub(ks_engine_t *e, flight_t *f, const char *v, size_t n, sub_t *s)
{
    const char *why = NULL;
    if (!v || n < 2) {
        why = "a subscription has fewer than 2 bytes";
    } else {
        s->version = (unsigned char)v[0] & 0x7f;
        s->hash.null = ((unsigned char)v[0] & 0x80) != 0;
        s->instruction = (unsigned char)v[1];
        size_t at = 2, tail = s->version > 0 ? 4 : 0;
        if (!s->hash.null) {
            if (n < at + 16) {
                why = "a subscription's hash is cut short";
            } else {
                s->hash.h[0] = get_be64(v + at);
                s->hash.h[1] = get_be64(v + at + 8);
                at += 16;
            }
        }
        if (!why && n < at + tail)
            why = "a subscription's primary partition is cut short";
        else if (!why && s->version > SUBSCRIPTION_VERSION)
            why = "SubscriptionWrapper is of an incompatible version";
        else if (!why && s->instruction > PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)
            why = "a subscription has an unknown instruction";
        if (!why) {
            s->pk = v + at;
            s->pkl = n - at - tail;
            s->partition = tail ? (int32_t)ks_be32_get(v + n - 4) : -1;
        }
    }
    if (why)
        ks__fail(e, f, "reading a foreign-key join's subscription", why);
    return why ? -1 : 0;
}

/*
 * The left table's value serde, which the hash is computed in: its store's
 * for a table that keeps one; else (a filter or mapValues of a table) the
 * serde the table carries, or the default one (SubscriptionSendProcessor
 * takes the context's default value serde when the table has none).
 */
static ks_serde_t left_value_serde(const ks_engine_t *e, const ks_proc_t *left)
{
    if (left->op == KS_OP_FILTER || left->op == KS_OP_FILTER_NOT || left->op == KS_OP_MAP_VALUES)
        return left->out_value == KS_SERDE_UNKNOWN ? e->t->defaults.value : (ks_serde_t)left->out_value;
    return left->store_value;
}

/* Murmur3.hash128 of v's bytes in the left table's value serde; v null gives no hash. 0, or -1 after ks__fail. */
static int value_hash(ks_engine_t *e, flight_t *f, const ks_proc_t *left, ks_val v, vhash_t *out)
{
    out->null = v.kind == KS_NULL || v.kind == KS_INVALID;
    if (out->null)
        return 0;
    ks_buf_t b = {0};
    char err[KS_ERRMSG_SIZE];
    int is_null = 0, rc = 0;
    if (ks_serde_encode(left_value_serde(e, left), v, &b, &is_null, err, sizeof err))
        rc = ks__fail(e, f, "serializing the left value for its hash", err);
    else
        ks_murmur3_128(b.data ? b.data : "", b.len, out->h);
    ks_buf_free(&b);
    return rc;
}

static int same_hash(const vhash_t *a, const vhash_t *b)
{
    if (a->null || b->null)
        return a->null && b->null;
    return a->h[0] == b->h[0] && a->h[1] == b->h[1];
}

/* ---- the registration node: SubscriptionSendProcessorSupplier ---- */

/* The foreign key of a left value (`foreignKey:`, `.` the value and $key its key); NULL value: null. */
static int extract_fk(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val v, ks_val *fk)
{
    if (v.kind == KS_NULL || v.kind == KS_INVALID) {
        *fk = ks_null();
        return 0;
    }
    flight_t t = *f;
    t.value = v;
    t.value_changed = 1;
    return ks__st_eval_x(e, &t, p, &p->extra[0], v, ks_invalid(), fk);
}

/* The foreign key's bytes in the right table's key serde; a null key gives NULL data. 0, or -1 after ks__fail. */
static int fk_bytes(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val fk, ks_buf_t *b, int *null)
{
    *null = fk.kind == KS_NULL;
    if (*null)
        return 0;
    char err[KS_ERRMSG_SIZE];
    if (ks__st_key_bytes(p->join.table_node, b, fk, err, sizeof err))
        return ks__fail(e, f, "serializing the foreign key", err);
    return 0;
}

/* One subscription to the registration topic, keyed by the foreign key (fk NULL: a null key). */
static void subscribe(ks_engine_t *e, const ks_proc_t *p, const ks_buf_t *pk, const ks_buf_t *fk, int fk_null,
                      const vhash_t *h, int instruction, int64_t ts)
{
    ks_buf_t w = {0};
    char t[4];
    ks_buf_putc(&w, (char)(SUBSCRIPTION_VERSION | (h->null ? 0x80 : 0)));
    ks_buf_putc(&w, (char)instruction);
    if (!h->null)
        put_hash(&w, h);
    ks_buf_append_slow(&w, pk->data ? pk->data : "", pk->len);
    ks_be32_put(t, (uint32_t)e->cur->partition);
    ks_buf_append_slow(&w, t, 4);
    fk_emit(e, p->join.fk_sink, fk_null ? NULL : (fk->data ? fk->data : ""), fk->len, w.data, w.len, ts, -1);
    ks_buf_free(&w);
}

/*
 * A change of a left row, as Kafka Streams 4.4 chooses the instructions
 * (old and new are the row's old and new values, null when absent):
 *
 *   leftJoin   old FK set and changed        DELETE_KEY_NO_PROPAGATE to old FK
 *              always (new FK may be null)   PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE to new FK
 *   join       new null, old FK set          DELETE_KEY_AND_PROPAGATE to old FK
 *              new FK null, old FK set       DELETE_KEY_AND_PROPAGATE to old FK
 *              FK changed                    DELETE_KEY_NO_PROPAGATE to old FK, then
 *                                            PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE to new FK
 *              otherwise, new FK set         PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE to new FK
 *
 * A null new FK of an inner join is dropped and counted. Every
 * subscription carries the hash of the new value (none when it is null).
 */
static void registration(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    int left_join = p->op == KS_OP_LEFT_JOIN;
    ks_val key, nv, ov = f->old.kind == KS_INVALID ? ks_null() : f->old;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &nv))
        return;
    if (ov.kind == KS_NULL && nv.kind == KS_NULL)
        return;
    ks_val ofk = ks_invalid(), nfk = ks_invalid();
    ks_buf_t pk = {0}, ob = {0}, nb = {0};
    int onull = 1, nnull = 1;
    vhash_t h;
    char err[KS_ERRMSG_SIZE];
    if (ks__st_key_bytes(p->join.left_node, &pk, key, err, sizeof err)) {
        ks__fail(e, f, "serializing the primary key", err);
        goto done;
    }
    if (extract_fk(e, f, p, ov, &ofk) || fk_bytes(e, f, p, ofk, &ob, &onull) || extract_fk(e, f, p, nv, &nfk) ||
        fk_bytes(e, f, p, nfk, &nb, &nnull) || value_hash(e, f, p->join.left_node, nv, &h))
        goto done;
    int changed = onull != nnull || ob.len != nb.len || (ob.len && memcmp(ob.data, nb.data, ob.len) != 0);
    if (left_join) {
        if (!onull && changed)
            subscribe(e, p, &pk, &ob, 0, &h, DELETE_KEY_NO_PROPAGATE, f->ts);
        subscribe(e, p, &pk, &nb, nnull, &h, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, f->ts);
    } else if (nv.kind != KS_NULL) {
        if (nnull) {
            e->stats.dropped++; /* "Skipping record due to null foreign key" */
            if (!onull)
                subscribe(e, p, &pk, &ob, 0, &h, DELETE_KEY_AND_PROPAGATE, f->ts);
        } else if (!onull && changed) {
            subscribe(e, p, &pk, &ob, 0, &h, DELETE_KEY_NO_PROPAGATE, f->ts);
            subscribe(e, p, &pk, &nb, 0, &h, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, f->ts);
        } else {
            subscribe(e, p, &pk, &nb, 0, &h, PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, f->ts);
        }
    } else if (!onull) {
        subscribe(e, p, &pk, &ob, 0, &h, DELETE_KEY_AND_PROPAGATE, f->ts);
    }
done:
    ks_val_release(ofk);
    ks_val_release(nfk);
    ks_buf_free(&pk);
    ks_buf_free(&ob);
    ks_buf_free(&nb);
}

/* ---- responses: SubscriptionJoinProcessorSupplier and ForeignTableJoinProcessorSupplier ---- */

/* A response to the left row's partition of the response topic: the hash and the right value (invalid: null). */
static void respond(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const char *pk, size_t pkl, const vhash_t *h,
                    ks_val right, int32_t partition, int64_t ts)
{
    const ks_proc_t *rt = p->join.table_node;
    ks_buf_t w = {0};
    ks_buf_putc(&w, (char)(RESPONSE_VERSION | (h->null ? 0x80 : 0)));
    if (!h->null)
        put_hash(&w, h);
    if (right.kind != KS_INVALID && right.kind != KS_NULL) {
        char err[KS_ERRMSG_SIZE];
        int is_null = 0;
        if (ks_serde_encode(rt->store_value, right, &w, &is_null, err, sizeof err)) {
            ks__fail(e, f, "serializing the right value", err);
            ks_buf_free(&w);
            return;
        }
    }
    fk_emit(e, p->join.fk_sink, pk, pkl, w.data, w.len, ts, partition);
    ks_buf_free(&w);
}

/*
 * The two reads of a side by key, each in one place (Kafka Streams reads
 * both through value getters): the right table's row for foreign-key
 * bytes, and the left table's for primary-key bytes, each in the store of
 * the node load_join_fk.c chose. 1 with *row (owned) and *ts set, 0 when
 * the table has no such row, -1 when the store failed.
 */
static int right_row(ks_engine_t *e, const ks_proc_t *p, const char *fk, size_t fkl, ks_val *row, int64_t *ts)
{
    if (fkl > MAX_STORE_KEY)
        return 0; /* the table cannot hold such a key */
    return ks__st_kv_get(e, p->join.table_node, e->cur->partition, fk, fkl, row, ts);
}

/* The left table's row for the primary key, through its value getter (a store, or a filter or mapValues of one). */
static int left_row(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val pk, ks_val *row)
{
    int64_t ts;
    if (pk.kind == KS_NULL)
        return 0;
    return ks__st_table_get(e, f, p->join.left_node, pk, row, &ts);
}

/*
 * A subscription (received and stored) joined with the right table as it
 * is: the response's timestamp is the later of the subscription's and the
 * row's.
 */
static void join_foreign(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const char *fk, size_t fkl, const sub_t *s,
                         int64_t ts)
{
    ks_val row = ks_invalid();
    int64_t rts = 0;
    int found = fk ? right_row(e, p, fk, fkl, &row, &rts) : 0;
    if (found < 0)
        return;
    int64_t out_ts = found && rts > ts ? rts : ts;
    switch (s->instruction) {
    case DELETE_KEY_AND_PROPAGATE: respond(e, f, p, s->pk, s->pkl, &s->hash, ks_invalid(), s->partition, out_ts); break;
    case PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
        respond(e, f, p, s->pk, s->pkl, &s->hash, found ? row : ks_invalid(), s->partition, out_ts);
        break;
    case PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE:
        if (found)
            respond(e, f, p, s->pk, s->pkl, &s->hash, row, s->partition, out_ts);
        break;
    default: break; /* DELETE_KEY_NO_PROPAGATE */
    }
    ks_val_release(row);
}

/*
 * A subscription store's changelog record (v NULL: a tombstone). Kafka
 * Streams 4.4 keeps the subscription store with headers
 * (timestampedKeyValueStoreWithHeadersBuilder), so its changelog record
 * carries the subscription record's headers, and its timestamp.
 */
static void sub_changelog(ks_engine_t *e, const ks_proc_t *p, const void *k, size_t kl, const void *v, size_t vl,
                          int64_t ts)
{
    if (!p->changelogs || !p->changelogs[0])
        return;
    ks_record_t out = {0};
    out.topic = p->changelogs[0];
    out.partition = e->cur->partition;
    out.offset = -1;
    out.timestamp = ts;
    out.key = k;
    out.key_len = kl;
    out.value = v;
    out.value_len = v ? vl : 0;
    out.headers = e->cur->headers;
    out.nheaders = e->cur->nheaders;
    e->ops.emit(e->ud, &out);
}

/*
 * The receive node: a subscription read from the registration topic goes
 * into the subscription store (a delete instruction removes it), then to
 * the join-foreign node. A null foreign key is kept out of the store and
 * passed on only with PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE (a left join's
 * row whose foreign key became null); other null keys are dropped.
 */
static void receive(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    sub_t s;
    if (parse_sub(e, f, f->vraw, f->vlen, &s))
        return;
    if (!f->kraw && s.instruction != PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE) {
        e->stats.dropped++; /* "Skipping record due to null foreign key" */
        return;
    }
    if (f->kraw && f->klen + s.pkl + 4 > MAX_STORE_KEY) {
        char m[160];
        snprintf(m, sizeof m, "a state store key may be at most %d bytes; the foreign key and the primary key take %zu",
                 MAX_STORE_KEY, f->klen + s.pkl + 4);
        ks__fail(e, f, "storing the subscription", m);
        return;
    }
    if (f->kraw) {
        ks_buf_t ck = {0}, val = {0};
        char t[8];
        ks_be32_put(t, (uint32_t)f->klen);
        ks_buf_append_slow(&ck, t, 4);
        ks_buf_append_slow(&ck, f->kraw, f->klen);
        ks_buf_append_slow(&ck, s.pk, s.pkl);
        int del = s.instruction == DELETE_KEY_AND_PROPAGATE || s.instruction == DELETE_KEY_NO_PROPAGATE;
        if (!del) {
            ks_be64_put(t, f->ts);
            ks_buf_append_slow(&val, t, 8);
            ks_buf_append_slow(&val, f->vraw, f->vlen);
        }
        int rc = ks__st_begin(e);
        if (rc == 0 && ks_store_put(e->st->stores, p->stores[0], e->cur->partition, ck.data, ck.len,
                                    del ? NULL : val.data, del ? 0 : val.len))
            rc = ks__st_state_fatal(e, "writing a store failed");
        if (rc == 0) {
            e->stats.store_writes++;
            sub_changelog(e, p, ck.data, ck.len, del ? NULL : f->vraw, del ? 0 : f->vlen, f->ts);
        }
        ks_buf_free(&ck);
        ks_buf_free(&val);
        if (rc)
            return;
    }
    if (p->join.fk_next)
        join_foreign(e, f, p->join.fk_next, f->kraw, f->klen, &s, f->ts);
}

/* The subscriptions of one foreign key, collected from the store (each: 4-byte length, store key, stored value). */
typedef struct scan {
    size_t prefix_len;
    const char *prefix;
    ks_buf_t hits;
    int n;
} scan_t;

static int on_subscription(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    scan_t *sc = ud;
    if (kl < sc->prefix_len || memcmp(k, sc->prefix, sc->prefix_len) != 0)
        return 1; /* past the foreign key's subscriptions */
    char t[4];
    ks_be32_put(t, (uint32_t)kl);
    ks_buf_append_slow(&sc->hits, t, 4);
    ks_buf_append_slow(&sc->hits, k, kl);
    ks_be32_put(t, (uint32_t)vl);
    ks_buf_append_slow(&sc->hits, t, 4);
    ks_buf_append_slow(&sc->hits, v, vl);
    sc->n++;
    return 0;
}

/*
 * The foreign-join node: a change of a right row answers each of its
 * subscriptions with the new value (null for a delete), at the change's
 * timestamp.
 */
static void foreign_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, nv;
    if (ks__flight_key(e, f, &key) || ks__flight_value(e, f, &nv))
        return;
    if (key.kind == KS_NULL) {
        e->stats.dropped++; /* "Skipping record due to null key" */
        return;
    }
    ks_buf_t fk = {0}, prefix = {0};
    char err[KS_ERRMSG_SIZE], t[4];
    scan_t sc = {0};
    if (ks__st_key_bytes(p->join.table_node, &fk, key, err, sizeof err)) {
        ks__fail(e, f, "serializing the foreign key", err);
        goto done;
    }
    ks_be32_put(t, (uint32_t)fk.len);
    ks_buf_append_slow(&prefix, t, 4);
    ks_buf_append_slow(&prefix, fk.data ? fk.data : "", fk.len);
    sc.prefix = prefix.data;
    sc.prefix_len = prefix.len;
    if (ks__st_begin(e))
        goto done;
    if (ks_store_range(e->st->stores, p->stores[0], e->cur->partition, prefix.data, prefix.len, NULL, 0,
                       on_subscription, &sc) < 0) {
        ks__st_state_fatal(e, "reading a store failed");
        goto done;
    }
    for (size_t at = 0; at < sc.hits.len && !e->failed;) {
        size_t kl = ks_be32_get(sc.hits.data + at);
        const char *k = sc.hits.data + at + 4;
        size_t vl = ks_be32_get(k + kl);
        const char *v = k + kl + 4;
        at += 8 + kl + vl;
        sub_t s;
        if (vl < 8 || parse_sub(e, f, v + 8, vl - 8, &s))
            continue;
        respond(e, f, p, k + prefix.len, kl - prefix.len, &s.hash, nv, s.partition, f->ts);
    }
done:
    ks_buf_free(&fk);
    ks_buf_free(&prefix);
    ks_buf_free(&sc.hits);
}

/* ---- the resolver: ResponseJoinProcessorSupplier ---- */

/* The joiner on the left row's value (null when none) and the right one's; $value is the left row's too. */
static int joiner(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out)
{
    flight_t c = *f;
    c.value = left;
    c.value_changed = 1;
    return ks__st_joiner(e, &c, p, left, right, out, 0);
}

/*
 * A response: joined only when its hash is the left row's current
 * value's (a response to an older value is stale and dropped). No right
 * value gives a tombstone unless this is a left join of a row that still
 * exists, whose joiner gets $right null.
 */
static void resolver(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    const ks_proc_t *left = p->join.left_node, *rt = p->join.table_node;
    const unsigned char *v = f->vraw;
    size_t n = f->vlen;
    vhash_t mh = {1, {0, 0}}, ch;
    ks_val key, cur = ks_invalid(), rv = ks_null(), out = ks_invalid();
    if (!v || n < 1 || ((v[0] & 0x80) == 0 && n < 17)) {
        ks__fail(e, f, "reading a foreign-key join's response", "a response is cut short");
        return;
    }
    if ((v[0] & 0x7f) != RESPONSE_VERSION) {
        ks__fail(e, f, "reading a foreign-key join's response",
                 "SubscriptionResponseWrapper is of an incompatible version");
        return;
    }
    size_t at = 1;
    if ((v[0] & 0x80) == 0) {
        mh.null = 0;
        mh.h[0] = get_be64((const char *)v + 1);
        mh.h[1] = get_be64((const char *)v + 9);
        at = 17;
    }
    if (ks__flight_key(e, f, &key))
        return;
    char err[KS_ERRMSG_SIZE];
    if (at < n && ks_serde_decode(rt->store_value, v + at, n - at, &rv, err, sizeof err)) {
        ks__fail(e, f, "deserializing the right value", err);
        return;
    }
    int found = left_row(e, f, p, key, &cur);
    if (found < 0 || value_hash(e, f, left, found ? cur : ks_null(), &ch))
        goto done;
    if (!same_hash(&mh, &ch)) {
        e->stats.dropped++; /* "Dropping FK-join response due to hash mismatch" */
        goto done;
    }
    int left_join = p->op == KS_OP_LEFT_JOIN;
    if (rv.kind == KS_NULL && (!left_join || !found))
        out = ks_null();
    else if (joiner(e, f, p, found ? cur : ks_null(), rv, &out))
        goto done;
    flight_t c = *f;
    c.key = key;
    c.value = out;
    c.value_changed = 1;
    c.old = ks_invalid();
    c.node = p->name;
    ks__forward(e, &c, p);
done:
    ks_val_release(cur);
    ks_val_release(rv);
    ks_val_release(out);
}

void ks__st_join_fk(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    switch (p->join.fk_role) {
    case KS_FK_REGISTRATION: registration(e, f, p); break;
    case KS_FK_RECEIVE: receive(e, f, p); break;
    case KS_FK_FOREIGN_JOIN: foreign_join(e, f, p); break;
    case KS_FK_RESOLVER: resolver(e, f, p); break;
    default: break; /* KS_FK_JOIN_FOREIGN runs within receive */
    }
}
