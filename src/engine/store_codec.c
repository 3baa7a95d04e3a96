/*
 * store_codec.c: the layout of state-store keys and values and of
 * changelog records (see store_codec.h): the engine's encoders and
 * decoders (declared in state_int.h) and the drivers' restore and decode.
 * Everything that knows how an entry is framed is here.
 */
#include "store_codec.h"

#include <stdio.h>
#include <string.h>

#include "../json/json.h"
#include "../serde/serde.h"
#include "../util/endian.h"
#include "state_int.h"

#define TS_LEN 8 /* a timestamp, big-endian, in front of every stored value */

/* ---- keys ---- */

int ks__st_key_bytes(const ks_proc_t *p, ks_buf_t *b, ks_val key, char *err, size_t errlen)
{
    int is_null;
    b->len = 0;
    return ks_serde_encode(p->store_key, key, b, &is_null, err, errlen) ? -1 : 0;
}

void ks__st_window_suffix(ks_buf_t *b, size_t keylen, int64_t start, int64_t end, int session)
{
    char t[16];
    b->len = keylen;
    if (session) {
        ks_be64_put(t, end);
        ks_be64_put(t + 8, start);
        ks_buf_append(b, t, 16);
    } else {
        /* The sequence number is 0: Kafka Streams' DSL window stores keep no duplicates. */
        ks_be64_put(t, start);
        memset(t + 8, 0, 4);
        ks_buf_append(b, t, 12);
    }
}

int ks__st_window_key(const ks_proc_t *p, ks_buf_t *b, ks_val key, int64_t start, int64_t end, int session, char *err,
                      size_t errlen)
{
    if (ks__st_key_bytes(p, b, key, err, errlen))
        return -1;
    ks__st_window_suffix(b, b->len, start, end, session);
    return 0;
}

int ks__st_window_key_times(const void *k, size_t kl, size_t keylen, int session, int64_t *start, int64_t *end)
{
    if (kl != keylen + (session ? KS__ST_SESSION_SUFFIX : KS__ST_WINDOW_SUFFIX))
        return -1;
    const char *t = (const char *)k + keylen;
    if (session) {
        if (end)
            *end = ks_be64_get(t);
        *start = ks_be64_get(t + 8);
    } else {
        *start = ks_be64_get(t);
    }
    return 0;
}

int ks__st_window_key_segment_time(const void *k, size_t kl, int session, int64_t *t)
{
    /* Kafka Streams segments window stores by window start, session stores by session end. */
    size_t suffix = session ? KS__ST_SESSION_SUFFIX : KS__ST_WINDOW_SUFFIX;
    if (kl < suffix)
        return -1;
    *t = ks_be64_get((const char *)k + kl - suffix);
    return 0;
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

/* ---- values ---- */

int ks__st_enc_value(const ks_proc_t *p, ks_buf_t *b, ks_val v, int64_t ts, char *err, size_t errlen)
{
    char t[TS_LEN];
    int is_null;
    b->len = 0;
    ks_be64_put(t, ts);
    ks_buf_append(b, t, TS_LEN);
    return ks_serde_encode(p->store_value, v, b, &is_null, err, errlen) ? -1 : 0;
}

/* A stored value: the timestamp, then the value's bytes (none: a null value). */
static int dec_value(ks_serde_t serde, const void *data, size_t len, ks_val *v, int64_t *ts, char *err, size_t errlen)
{
    char perr[KS_ERRMSG_SIZE];
    if (len < TS_LEN) {
        snprintf(err, errlen, "a stored value does not decode (too short)");
        return -1;
    }
    if (len == TS_LEN)
        *v = ks_null();
    else if (ks_serde_decode(serde, (const char *)data + TS_LEN, len - TS_LEN, v, perr, sizeof perr)) {
        snprintf(err, errlen, "a stored value does not decode (%.900s)", perr);
        return -1;
    }
    if (ts)
        *ts = ks_be64_get(data);
    return 0;
}

int ks__st_dec_value(ks_engine_t *e, const ks_proc_t *p, const void *data, size_t len, ks_val *v, int64_t *ts)
{
    char msg[KS_ERRMSG_SIZE];
    if (dec_value(p->store_value, data, len, v, ts, msg, sizeof msg))
        return ks__st_state_fatal(e, msg);
    return 0;
}

int64_t ks__st_value_ts(const void *data)
{
    return ks_be64_get(data);
}

void ks__st_set_value_ts(void *data, int64_t ts)
{
    ks_be64_put(data, ts);
}

void ks__st_log_value(const void *v, size_t vl, const void **out, size_t *outl)
{
    *out = v ? (const char *)v + TS_LEN : NULL;
    *outl = v ? vl - TS_LEN : 0;
}

/* ---- the suppression buffer ---- */

/* The aggregation whose windows a suppression buffer holds (NULL: its keys are not windowed). */
static const ks_proc_t *windows_of(const ks_proc_t *p)
{
    for (const ks_proc_t *q = p; q; q = q->nparents ? q->parents[0] : NULL)
        if (q->op == KS_OP_COUNT || q->op == KS_OP_REDUCE || q->op == KS_OP_AGGREGATE)
            return q->state.window.kind == KS_WIN_NONE ? NULL : q;
    return NULL;
}

int ks__st_sup_key_bytes(const ks_proc_t *p, ks_buf_t *b, ks_val key, char *err, size_t errlen)
{
    if (p->out_windowed == KS_KEY_PLAIN)
        return ks__st_key_bytes(p, b, key, err, errlen);
    /* A windowed key as Kafka Streams' windowed serializers write it: time windows the start, sessions end and start.
     */
    const ks_val *k = key.kind == KS_OBJECT ? ks_obj_get(key, "key", 3) : NULL;
    const ks_val *w = key.kind == KS_OBJECT ? ks_obj_get(key, "window", 6) : NULL;
    const ks_val *st = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "start", 5) : NULL;
    const ks_val *en = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "end", 3) : NULL;
    if (!k || !st || !en || st->kind != KS_NUMBER || en->kind != KS_NUMBER) {
        snprintf(err, errlen, "a windowed key {key, window: {start, end}} was expected");
        return -1;
    }
    if (ks__st_key_bytes(p, b, *k, err, errlen))
        return -1;
    char t[16];
    int64_t start = (int64_t)ks_num_get(*st), end = (int64_t)ks_num_get(*en);
    if (p->out_windowed == KS_KEY_SESSION) {
        ks_be64_put(t, end);
        ks_be64_put(t + 8, start);
        ks_buf_append(b, t, 16);
    } else {
        ks_be64_put(t, start);
        ks_buf_append(b, t, 8);
    }
    return 0;
}

/* The key a suppression buffer's key bytes stand for. */
static int sup_key_decode(const ks_proc_t *p, const char *k, size_t kl, ks_val *key)
{
    char err[KS_ERRMSG_SIZE];
    size_t tail = p->out_windowed == KS_KEY_SESSION ? 16 : p->out_windowed == KS_KEY_WINDOWED ? 8 : 0;
    if (kl < tail)
        return -1;
    ks_val inner;
    if (ks_serde_decode(p->store_key, k, kl - tail, &inner, err, sizeof err))
        return -1;
    if (!tail) {
        *key = inner;
        return 0;
    }
    int64_t start, end;
    if (tail == 16) {
        end = ks_be64_get(k + kl - 16);
        start = ks_be64_get(k + kl - 8);
    } else {
        const ks_proc_t *agg = windows_of(p);
        start = ks_be64_get(k + kl - 8);
        end = start + (agg ? agg->state.window.size : 0);
    }
    *key = ks__st_windowed_key(inner, start, end);
    ks_val_release(inner);
    return 0;
}

/* Kafka Streams' addValue: a length (4 bytes, big-endian; -1 for null), then the bytes. */
static void add_value(ks_buf_t *b, const void *v, size_t n, int null)
{
    char t[4];
    ks_be32_put(t, null ? UINT32_MAX : (uint32_t)n);
    ks_buf_append(b, t, 4);
    if (!null)
        ks_buf_append(b, v, n);
}

int ks__st_sup_encode(const ks_proc_t *p, ks_buf_t *kb, ks_buf_t *vb, int64_t btime, const ks_buf_t *keybytes,
                      const ks_record_t *ctx, int64_t ts, const ks__st_bytes_t *prior, ks_val oldv, ks_val newv,
                      char *err, size_t errlen)
{
    char t[8];
    int is_null;
    kb->len = vb->len = 0;
    ks_be64_put(t, btime);
    ks_buf_append(kb, t, KS__ST_SUP_KEY_HDR);
    ks_buf_append(kb, keybytes->data, keybytes->len);
    /* ProcessorRecordContext#serialize: timestamp, offset, topic, partition, headers. */
    ks_be64_put(t, ts);
    ks_buf_append(vb, t, 8);
    ks_be64_put(t, ctx->offset);
    ks_buf_append(vb, t, 8);
    size_t tl = strlen(ctx->topic);
    add_value(vb, ctx->topic, tl, 0);
    ks_be32_put(t, (uint32_t)ctx->partition);
    ks_buf_append(vb, t, 4);
    ks_be32_put(t, (uint32_t)ctx->nheaders);
    ks_buf_append(vb, t, 4);
    for (int i = 0; i < ctx->nheaders; i++) {
        add_value(vb, ctx->headers[i].key, strlen(ctx->headers[i].key), 0);
        add_value(vb, ctx->headers[i].value, ctx->headers[i].len, ctx->headers[i].value == NULL);
    }
    /* BufferValue: the prior value (before the first buffered update), the old and the new value. */
    ks_buf_t ob = {0}, nb = {0};
    int old_null = oldv.kind == KS_INVALID || oldv.kind == KS_NULL, new_null = newv.kind == KS_NULL;
    if ((!old_null && ks_serde_encode(p->store_value, oldv, &ob, &is_null, err, errlen)) ||
        (!new_null && ks_serde_encode(p->store_value, newv, &nb, &is_null, err, errlen))) {
        ks_buf_free(&ob);
        ks_buf_free(&nb);
        return -1;
    }
    size_t pad = 0;
    if (prior) {
        add_value(vb, prior->data, prior->len, prior->null);
    } else {
        add_value(vb, ob.data, ob.len, old_null); /* the first update: its old value is the prior one */
    }
    if (old_null) {
        add_value(vb, NULL, 0, 1);
    } else if (!prior ||
               (!prior->null && prior->len == ob.len && memcmp(prior->data, ob.data ? ob.data : "", ob.len) == 0)) {
        ks_be32_put(t, (uint32_t)-2); /* OLD_PREV_DUPLICATE_VALUE_SENTINEL */
        ks_buf_append(vb, t, 4);
        /* BufferValue sizes its array by reference, not by bytes: equal bytes of another array leave room unused. */
        if (prior)
            pad = ob.len;
    } else {
        add_value(vb, ob.data, ob.len, 0);
    }
    add_value(vb, nb.data, nb.len, new_null);
    ks_be64_put(t, btime); /* logValue's end padding: the buffer time */
    ks_buf_append(vb, t, 8);
    for (size_t i = 0; i < pad; i++)
        ks_buf_putc(vb, 0);
    ks_buf_free(&ob);
    ks_buf_free(&nb);
    return 0;
}

int64_t ks__st_sup_btime(const void *k)
{
    return ks_be64_get(k);
}

/* Reads a length-prefixed value at *at of v (vl bytes); 0, or -1 past the end. Sentinels (-1, -2) come back in *len. */
static int read_value(const char *v, size_t vl, size_t *at, int32_t *len, const char **data)
{
    if (*at + 4 > vl)
        return -1;
    *len = (int32_t)ks_be32_get(v + *at);
    *at += 4;
    *data = v + *at;
    if (*len > 0) {
        if ((size_t)*len > vl - *at)
            return -1;
        *at += (size_t)*len;
    }
    return 0;
}

int ks__st_sup_parse(const void *v, size_t vl, ks__st_sup_parts_t *out)
{
    const char *c = v;
    size_t at = 16;
    int32_t len;
    const char *d;
    memset(out, 0, sizeof *out);
    if (vl < 16 + 4 + 4 + 4 + 12 + 8)
        return -1;
    out->ts = ks_be64_get(c);
    if (read_value(c, vl, &at, &len, &d) || at + 8 > vl) /* topic */
        return -1;
    at += 4; /* partition */
    int32_t nh = (int32_t)ks_be32_get(c + at);
    at += 4;
    for (int32_t i = 0; i < nh; i++)
        if (read_value(c, vl, &at, &len, &d) || read_value(c, vl, &at, &len, &d))
            return -1;
    if (read_value(c, vl, &at, &len, &d))
        return -1;
    out->prior.null = len < 0;
    out->prior.data = d;
    out->prior.len = len > 0 ? (size_t)len : 0;
    if (read_value(c, vl, &at, &len, &d))
        return -1;
    if (read_value(c, vl, &at, &len, &d))
        return -1;
    out->has_new = len >= 0;
    out->new_data = d;
    out->new_len = len > 0 ? (size_t)len : 0;
    if (at + 8 > vl)
        return -1;
    out->btime = ks_be64_get(c + at);
    return 0;
}

int ks__st_sup_decode(const ks_proc_t *p, const void *k, size_t kl, const void *v, size_t vl, ks_val *key,
                      ks_val *value, int64_t *ts)
{
    char err[KS_ERRMSG_SIZE];
    const char *kc = k;
    ks__st_sup_parts_t parts;
    if (kl < KS__ST_SUP_KEY_HDR || ks__st_sup_parse(v, vl, &parts) ||
        sup_key_decode(p, kc + KS__ST_SUP_KEY_HDR, kl - KS__ST_SUP_KEY_HDR, key))
        return -1;
    *value = ks_null();
    if (parts.has_new && ks_serde_decode(p->store_value, parts.new_data, parts.new_len, value, err, sizeof err)) {
        ks_val_release(*key);
        return -1;
    }
    *ts = parts.ts;
    return 0;
}

/* ---- for the drivers ---- */

ks_store_layout_t ks_store_layout_of(const ks_proc_t *p)
{
    ks_store_layout_t l = {KS_STORE_KV, 0, p};
    if (p->join.kind == KS_JOIN_STREAM_STREAM) {
        l.kind = p->join.role == KS_JOIN_ROLE_WINDOWED ? KS_STORE_WINDOW : KS_STORE_OUTER_JOIN;
        l.window_size = p->join.before + p->join.after; /* JoinWindows#size: a buffered record's "window" */
        return l;
    }
    if (p->op == KS_OP_SUPPRESS)
        l.kind = KS_STORE_SUPPRESS;
    else if (p->state.window.kind == KS_WIN_SESSION)
        l.kind = KS_STORE_SESSION;
    else if (p->state.window.kind != KS_WIN_NONE)
        l.kind = KS_STORE_WINDOW;
    l.window_size = p->state.window.size;
    return l;
}

/* The store keys of a suppression buffer that hold key (any buffer time), for restore. */
typedef struct sup_match {
    const char *key;
    size_t kl;
    ks_buf_t found; /* each: the 8-byte buffer time */
} sup_match_t;

static int on_sup_match(void *ud, const void *k, size_t kl, const void *v, size_t vl)
{
    sup_match_t *m = ud;
    if (kl == KS__ST_SUP_KEY_HDR + m->kl && memcmp((const char *)k + KS__ST_SUP_KEY_HDR, m->key, m->kl) == 0)
        ks_buf_append(&m->found, k, KS__ST_SUP_KEY_HDR);
    return 0;
}

/*
 * A suppression buffer's changelog record (Kafka Streams' own: the table's
 * key, the buffered value ending in its buffer time) back into the buffer
 * store, keyed by buffer time and key: what the key held before goes, as a
 * tombstone, or a record for a key buffered again, replaces it.
 */
static int restore_buffered(ks_stores_t *s, const char *store, int32_t part, const void *key, size_t key_len,
                            const void *value, size_t value_len, ks_buf_t *scratch, char *err, size_t errlen)
{
    sup_match_t m = {key, key_len, {0}};
    if (ks_store_range(s, store, part, NULL, 0, NULL, 0, on_sup_match, &m)) {
        ks_buf_free(&m.found);
        snprintf(err, errlen, "restoring %s: reading the buffer failed", store);
        return -1;
    }
    int rc = 0;
    for (size_t off = 0; off + KS__ST_SUP_KEY_HDR <= m.found.len && rc == 0; off += KS__ST_SUP_KEY_HDR) {
        scratch->len = 0;
        ks_buf_append(scratch, m.found.data + off, KS__ST_SUP_KEY_HDR);
        ks_buf_append(scratch, key, key_len);
        rc = ks_store_put(s, store, part, scratch->data, scratch->len, NULL, 0);
    }
    ks_buf_free(&m.found);
    ks__st_sup_parts_t parts;
    if (rc == 0 && value) {
        if (ks__st_sup_parse(value, value_len, &parts)) {
            snprintf(err, errlen, "restoring %s: a buffered record does not parse", store);
            return -1;
        }
        char t[8];
        ks_be64_put(t, parts.btime);
        scratch->len = 0;
        ks_buf_append(scratch, t, 8);
        ks_buf_append(scratch, key, key_len);
        rc = ks_store_put(s, store, part, scratch->data, scratch->len, value, value_len);
    }
    if (rc)
        snprintf(err, errlen, "restoring %s: writing the buffer failed", store);
    return rc ? -1 : 0;
}

int ks_engine_restore_record(ks_stores_t *s, ks_store_layout_t layout, const char *store, int32_t part, const void *key,
                             size_t key_len, const void *value, size_t value_len, int64_t ts, ks_buf_t *scratch,
                             char *err, size_t errlen)
{
    if (key_len == 0)
        return 0;
    if (layout.kind == KS_STORE_SUPPRESS)
        return restore_buffered(s, store, part, key, key_len, value, value_len, scratch, err, errlen);
    if (value) {
        char t[TS_LEN];
        ks_be64_put(t, ts);
        scratch->len = 0;
        ks_buf_append(scratch, t, TS_LEN);
        ks_buf_append(scratch, value, value_len);
    }
    if (ks_store_put(s, store, part, key, key_len, value ? scratch->data : NULL, value ? scratch->len : 0)) {
        snprintf(err, errlen, "restoring %s: writing the store failed", store);
        return -1;
    }
    return 0;
}

/* A key decoded with the store's key serde, or its raw bytes as a string when they do not decode. */
static ks_val key_of(ks_serde_t serde, const char *k, size_t len)
{
    char err[KS_ERRMSG_SIZE];
    ks_val key;
    if (ks_serde_decode(serde, k, len, &key, err, sizeof err))
        key = ks_str_new(k, len);
    return key;
}

/* An outer join store's entry: {key, timestamp, side} and the list of values (KS_INVALID when it does not parse). */
static void decode_outer(const ks_proc_t *p, const char *k, size_t kl, const char *v, size_t vl, ks_store_entry_t *out)
{
    char err[KS_ERRMSG_SIZE];
    if (kl < 9) {
        out->key = ks_str_new(k, kl);
        return;
    }
    out->key = ks_obj_new(3);
    ks_obj_setc(&out->key, "key", key_of(p->store_key, k + 9, kl - 9));
    ks_obj_setc(&out->key, "timestamp", ks_num_i64(ks_be64_get(k)));
    ks_obj_setc(&out->key, "side", ks_str_cstr(k[8] == 1 ? "left" : "right"));
    if (vl < TS_LEN + 5)
        return;
    out->ts = ks_be64_get(v);
    uint32_t n = ks_be32_get(v + TS_LEN + 1);
    size_t off = TS_LEN + 5;
    ks_val list = ks_arr_new(n ? n : 1);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t l = off + 4 <= vl ? ks_be32_get(v + off) : 0;
        ks_val item;
        if (l < 1 || off + 4 + l > vl || ks_serde_decode(p->store_value, v + off + 5, l - 1, &item, err, sizeof err)) {
            ks_val_release(list);
            return;
        }
        ks_arr_push(&list, item);
        off += 4 + l;
    }
    out->value = list;
}

void ks_engine_decode_entry(ks_store_layout_t layout, const void *k, size_t kl, const void *v, size_t vl,
                            ks_store_entry_t *out)
{
    char err[KS_ERRMSG_SIZE];
    const ks_proc_t *p = layout.p;
    memset(out, 0, sizeof *out);
    out->value = ks_invalid();
    if (layout.kind == KS_STORE_SUPPRESS) {
        if (ks__st_sup_decode(p, k, kl, v, vl, &out->key, &out->value, &out->ts)) {
            out->key = ks_str_new(k, kl);
            out->value = ks_invalid();
        }
        return;
    }
    if (layout.kind == KS_STORE_OUTER_JOIN) {
        decode_outer(p, k, kl, v, vl, out);
        return;
    }
    int session = layout.kind == KS_STORE_SESSION;
    size_t suffix = layout.kind == KS_STORE_KV ? 0 : session ? KS__ST_SESSION_SUFFIX : KS__ST_WINDOW_SUFFIX;
    size_t keylen = kl >= suffix ? kl - suffix : kl;
    out->key = key_of(p->store_key, k, keylen);
    if (suffix && ks__st_window_key_times(k, kl, keylen, session, &out->start, &out->end) == 0) {
        out->windowed = 1;
        if (!session)
            out->end = out->start + layout.window_size;
    }
    if (dec_value(p->store_value, v, vl, &out->value, &out->ts, err, sizeof err))
        out->value = ks_invalid();
}
