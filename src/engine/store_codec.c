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
#include "../util/endian.h"
#include "state_int.h"

#define TS_LEN 8 /* a timestamp, big-endian, in front of every stored value */

/* ---- keys ---- */

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
    ks_be64_put(t + 1, start);
    ks_buf_append(b, t, 9);
    if (session) {
        ks_be64_put(t, end);
        ks_buf_append(b, t, 8);
    }
}

int ks__st_window_key_times(const void *k, size_t kl, size_t textlen, int session, int64_t *start, int64_t *end)
{
    if (kl != textlen + (session ? KS__ST_SESSION_SUFFIX : KS__ST_WINDOW_SUFFIX))
        return -1;
    const char *t = (const char *)k + textlen + 1;
    *start = ks_be64_get(t);
    if (session && end)
        *end = ks_be64_get(t + 8);
    return 0;
}

int ks__st_window_key_segment_time(const void *k, size_t kl, int64_t *t)
{
    /* Kafka Streams segments window stores by window start, session stores by session end: the key's last 8 bytes. */
    if (kl < KS__ST_WINDOW_SUFFIX)
        return -1;
    *t = ks_be64_get((const char *)k + kl - 8);
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

void ks__st_enc_value(ks_buf_t *b, ks_val v, int64_t ts)
{
    char t[TS_LEN];
    b->len = 0;
    ks_be64_put(t, ts);
    ks_buf_append(b, t, TS_LEN);
    ks_json_write(b, v);
}

static int dec_value(const void *data, size_t len, ks_val *v, int64_t *ts, char *err, size_t errlen)
{
    char perr[200];
    if (len < TS_LEN || ks_json_parse((const char *)data + TS_LEN, len - TS_LEN, v, perr, sizeof perr)) {
        snprintf(err, errlen, "a stored value does not decode (%s)", len < TS_LEN ? "too short" : perr);
        return -1;
    }
    if (ts)
        *ts = ks_be64_get(data);
    return 0;
}

int ks__st_dec_value(ks_engine_t *e, const void *data, size_t len, ks_val *v, int64_t *ts)
{
    char msg[300];
    if (dec_value(data, len, v, ts, msg, sizeof msg))
        return ks__st_state_fatal(e, msg);
    return 0;
}

int64_t ks__st_value_ts(const void *data) { return ks_be64_get(data); }

void ks__st_set_value_ts(void *data, int64_t ts) { ks_be64_put(data, ts); }

void ks__st_log_value(const void *v, size_t vl, const void **out, size_t *outl)
{
    *out = v ? (const char *)v + TS_LEN : NULL;
    *outl = v ? vl - TS_LEN : 0;
}

/* ---- the suppression buffer ---- */

void ks__st_sup_encode(ks_buf_t *kb, ks_buf_t *vb, int64_t btime, const ks_buf_t *keytext, int64_t ts, ks_val value)
{
    char hdr[KS__ST_SUP_VALUE_HDR];
    kb->len = vb->len = 0;
    ks_be64_put(hdr, btime);
    ks_buf_append(kb, hdr, KS__ST_SUP_KEY_HDR);
    ks_buf_append(kb, keytext->data, keytext->len);
    ks_be64_put(hdr, ts);
    ks_be64_put(hdr + 8, btime);
    hdr[16] = value.kind != KS_NULL;
    ks_buf_append(vb, hdr, KS__ST_SUP_VALUE_HDR);
    if (value.kind != KS_NULL)
        ks_json_write(vb, value);
}

int64_t ks__st_sup_btime(const void *k) { return ks_be64_get(k); }

int ks__st_sup_decode(const void *k, size_t kl, const void *v, size_t vl, ks_val *key, ks_val *value, int64_t *ts)
{
    char err[200];
    const char *kc = k, *vc = v;
    if (kl < KS__ST_SUP_KEY_HDR || vl < KS__ST_SUP_VALUE_HDR ||
        ks_json_parse(kc + KS__ST_SUP_KEY_HDR, kl - KS__ST_SUP_KEY_HDR, key, err, sizeof err))
        return -1;
    *value = ks_null();
    if (vc[16] && ks_json_parse(vc + KS__ST_SUP_VALUE_HDR, vl - KS__ST_SUP_VALUE_HDR, value, err, sizeof err)) {
        ks_val_release(*key);
        return -1;
    }
    *ts = ks_be64_get(vc);
    return 0;
}

/* ---- for the drivers ---- */

ks_store_layout_t ks_store_layout_of(const ks_proc_t *p)
{
    ks_store_layout_t l = {KS_STORE_KV, 0};
    if (p->op == KS_OP_SUPPRESS)
        l.kind = KS_STORE_SUPPRESS;
    else if (p->state.window.kind == KS_WIN_SESSION)
        l.kind = KS_STORE_SESSION;
    else if (p->state.window.kind != KS_WIN_NONE)
        l.kind = KS_STORE_WINDOW;
    l.window_size = p->state.window.size;
    return l;
}

int ks_engine_restore_record(ks_stores_t *s, const char *store, int32_t part, const void *key, size_t key_len,
                             const void *value, size_t value_len, int64_t ts, ks_buf_t *scratch, char *err,
                             size_t errlen)
{
    if (key_len == 0)
        return 0;
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

/* A key's JSON text, or its raw bytes as a string when they are not JSON. */
static ks_val key_of(const char *text, size_t len)
{
    char err[200];
    ks_val key;
    if (ks_json_parse(text, len, &key, err, sizeof err))
        key = ks_str_new(text, len);
    return key;
}

void ks_engine_decode_entry(ks_store_layout_t layout, const void *k, size_t kl, const void *v, size_t vl,
                            ks_store_entry_t *out)
{
    char err[300];
    memset(out, 0, sizeof *out);
    out->value = ks_invalid();
    if (layout.kind == KS_STORE_SUPPRESS) {
        if (ks__st_sup_decode(k, kl, v, vl, &out->key, &out->value, &out->ts)) {
            out->key = ks_str_new(k, kl);
            out->value = ks_invalid();
        }
        return;
    }
    size_t textlen = strnlen(k, kl);
    out->key = key_of(k, textlen);
    int session = layout.kind == KS_STORE_SESSION;
    if (layout.kind != KS_STORE_KV &&
        ks__st_window_key_times(k, kl, textlen, session, &out->start, &out->end) == 0) {
        out->windowed = 1;
        if (!session)
            out->end = out->start + layout.window_size;
    }
    if (dec_value(v, vl, &out->value, &out->ts, err, sizeof err))
        out->value = ks_invalid();
}
