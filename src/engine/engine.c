/*
 * engine.c: dispatch of records through processor nodes, lazy parsing,
 * serialisation at sinks, and dead-letter routing. The operators themselves
 * are in ops_stateless.c.
 */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "../util/duration.h"
#include "../util/endian.h"
#include "engine_int.h"

ks_engine_t *ks_engine_new(const ks_topology_t *t, const ks_engine_ops_t *ops, void *ud, char *err, size_t errlen)
{
    if (ks__state_check(t, err, errlen))
        return NULL;
    ks_engine_t *e = ks_xcalloc(1, sizeof *e);
    e->t = t;
    e->ops = *ops;
    e->ud = ud;
    e->cur_topic = ks_invalid();
    e->cur_task = e->last_task = -1;
    return e;
}

void ks_engine_free(ks_engine_t *e)
{
    if (!e)
        return;
    ks_val_release(e->cur_topic);
    ks_buf_free(&e->sink_kb);
    ks_buf_free(&e->sink_vb);
    for (int i = 0; i < e->nins; i++) {
        free(e->ins[i].topic);
        free(e->ins[i].sources);
    }
    ks__state_free(e);
    ks__tasks_free(e);
    free(e);
}

const ks_engine_stats_t *ks_engine_stats(const ks_engine_t *e)
{
    return &e->stats;
}

void ks_engine_set_wall_clock(ks_engine_t *e, int64_t now_ms)
{
    e->wall_ms = now_ms;
    e->wall_set = 1;
}

void ks_engine_set_join_emit_interval(ks_engine_t *e, int64_t ms)
{
    e->join_emit_ms = ms;
    e->join_emit_set = 1;
}

void ks_engine_set_exact_expiry(ks_engine_t *e, int on)
{
    e->join_exact_expiry = on;
}

int64_t ks__wall_clock(const ks_engine_t *e)
{
    return e->wall_set ? e->wall_ms : (int64_t)ks_now_ms();
}

/* ---- lazily parsed key and value ---- */

int ks__flight_value(ks_engine_t *e, flight_t *f, ks_val *out)
{
    if (f->value.kind == KS_INVALID) {
        char err[KS_ERRMSG_SIZE];
        if (ks_serde_decode(f->value_serde, f->vraw, f->vlen, &f->value, err, sizeof err)) {
            f->value = ks_invalid();
            return ks__fail(e, f, "deserializing the value", err);
        }
    }
    *out = f->value;
    return 0;
}

int ks__eval_field(ks_engine_t *e, flight_t *f, const ks_step_expr_t *x, ks_val *out)
{
    const char *name = ks_expr_field(x->expr);
    if (!name || f->value.kind != KS_INVALID || f->value_serde != KS_SERDE_JSON || !f->vraw || f->value_changed)
        return 0;
    size_t off = 0, len = 0;
    int rc = ks_json_field(f->vraw, f->vlen, name, &off, &len);
    if (rc < 1)
        return 0; /* not an object, or not JSON: the full path says what is wrong */
    char err[KS_ERRMSG_SIZE];
    if (rc == 1)
        *out = ks_null();
    else if (ks_json_parse((const char *)f->vraw + off, len, out, err, sizeof err))
        return 0;
    f->value_checked = 1;
    return 1;
}

int ks__flight_key(ks_engine_t *e, flight_t *f, ks_val *out)
{
    if (f->key.kind == KS_INVALID) {
        char err[KS_ERRMSG_SIZE];
        if (ks_serde_decode(f->key_serde, f->kraw, f->klen, &f->key, err, sizeof err)) {
            f->key = ks_invalid();
            return ks__fail(e, f, "deserializing the key", err);
        }
    }
    *out = f->key;
    return 0;
}

static ks_val headers_val(const ks_record_t *r)
{
    ks_val h = ks_obj_new((size_t)r->nheaders);
    for (int i = 0; i < r->nheaders; i++) {
        const ks_header_t *hd = &r->headers[i];
        ks_obj_setc(&h, hd->key, hd->value ? ks_str_new(hd->value, hd->len) : ks_null());
    }
    return h;
}

/* Fills the stream variables for an expression; the key and value must be parsed first. */
int ks__bind_vars(ks_engine_t *e, flight_t *f, ks_val vars[KS_EXPR_NSTREAM_VARS])
{
    ks_val k, v;
    if (ks__flight_key(e, f, &k) || ks__flight_value(e, f, &v))
        return -1;
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        vars[i] = ks_null();
    vars[KS_EXPR_VAR_KEY] = k;
    vars[KS_EXPR_VAR_VALUE] = v;
    vars[KS_EXPR_VAR_TIMESTAMP] = ks_num((double)f->ts);
    if (e->cur_topic.kind != KS_STRING || strcmp(ks_str_data(e->cur_topic), e->cur->topic) != 0) {
        ks_val_release(e->cur_topic);
        e->cur_topic = ks_str_cstr(e->cur->topic);
    }
    vars[KS_EXPR_VAR_TOPIC] = e->cur_topic;
    vars[KS_EXPR_VAR_PARTITION] = ks_num(e->cur->partition);
    vars[KS_EXPR_VAR_OFFSET] = ks_num((double)e->cur->offset);
    if (e->cur_headers.kind == KS_INVALID)
        e->cur_headers = headers_val(e->cur);
    vars[KS_EXPR_VAR_HEADERS] = e->cur_headers;
    /* lookup(table; key) reads this engine's global tables (ops_join.c). */
    ks_expr_set_lookup(ks__st_lookup, e);
    return 0;
}

/* ---- failures: the dead-letter topic ---- */

void ks__eval_context(char *buf, size_t len, const ks_proc_t *p, const char *part, ks_pos_t pos)
{
    if (!part)
        snprintf(buf, len, "evaluating `%s` (%s:%d:%d)", ks_op_dsl_name(p->op), pos.file, pos.line, pos.col);
    else if (p->gen.enabled)
        snprintf(buf, len, "evaluating `%s` of generate (%s:%d:%d)", part, pos.file, pos.line, pos.col);
    else
        snprintf(buf, len, "evaluating `%s` of `%s` (%s:%d:%d)", part, ks_op_dsl_name(p->op), pos.file, pos.line,
                 pos.col);
}

int ks__fail(ks_engine_t *e, flight_t *f, const char *what, const char *msg)
{
    const ks_record_t *src = e->cur;
    char errtext[KS_ERRMSG_SIZE];
    snprintf(errtext, sizeof errtext, "%s: %s", what, msg);
    if (e->t->errors_tolerance_none) {
        snprintf(e->fatal, sizeof e->fatal, "%s[%d]@%lld at %s: %s", src->topic, src->partition, (long long)src->offset,
                 f && f->node ? f->node : "source", errtext);
        e->failed = 1;
        return -1;
    }
    if (e->dlq_sent)
        return -1; /* one dead-letter record per input record */
    e->dlq_sent = 1;
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", src->partition);
    snprintf(off, sizeof off, "%lld", (long long)src->offset);
    const char *node = f && f->node ? f->node : "source";
    /* The original headers are kept, and the error headers added (as KIP-1034's dead-letter queue does). */
    int nh = src->nheaders + 5;
    ks_header_t *hs = ks_xmalloc((size_t)nh * sizeof *hs);
    for (int i = 0; i < src->nheaders; i++)
        hs[i] = src->headers[i];
    ks_header_t mine[5] = {
        {"kstreamd.error", errtext, strlen(errtext)},
        {"kstreamd.source.topic", src->topic, strlen(src->topic)},
        {"kstreamd.source.partition", part, strlen(part)},
        {"kstreamd.source.offset", off, strlen(off)},
        {"kstreamd.node", node, strlen(node)},
    };
    memcpy(hs + src->nheaders, mine, sizeof mine);
    ks_record_t out = *src;
    out.topic = e->t->dlq_topic;
    out.partition = -1;
    out.headers = hs;
    out.nheaders = nh;
    e->stats.dlq++;
    e->ops.emit(e->ud, &out);
    free(hs);
    return -1;
}

/* ---- sinks ---- */

/* Whether raw bytes decode with a serde, checked cheaply. */
static int raw_ok(ks_serde_t s, const void *raw, size_t len)
{
    if (!raw)
        return 1; /* a Kafka null is null for every serde */
    switch (s) {
    case KS_SERDE_JSON: return ks_json_valid(raw, len);
    case KS_SERDE_LONG:
    case KS_SERDE_DOUBLE: return len == 8;
    case KS_SERDE_INT: return len == 4;
    case KS_SERDE_VOID: return 0;
    default: return 1;
    }
}

/*
 * A table groupBy record's value as Kafka Streams 3.5+ writes a Change to
 * the repartition topic (ChangedSerializer, KIP-904): a subtract record
 * is the old value and a 0 byte, an add record the new value and a 1, one
 * that stays in its group the new value's length (a zigzag varint), the
 * new and the old value, and a 2. out->value holds the side's value already.
 */
static int change_value(ks_engine_t *e, flight_t *f, ks_serde_t serde, ks_record_t *out, ks_buf_t *cb)
{
    char t[5];
    if (f->change_tag == KS_CHANGE_BOTH) {
        ks_buf_t ob = {0};
        char err[KS_ERRMSG_SIZE];
        int is_null;
        if (ks_serde_encode(serde, f->old, &ob, &is_null, err, sizeof err)) {
            ks_buf_free(&ob);
            return ks__fail(e, f, "serializing the old value", err);
        }
        ks_be32_put(t, (uint32_t)out->value_len);
        /* The new value's length as a zigzag varint (Kafka's ByteUtils.writeVarint). */
        uint32_t z = (uint32_t)out->value_len << 1, nt = 0;
        do {
            t[nt++] = (char)((z & 0x7f) | (z > 0x7f ? 0x80 : 0));
            z >>= 7;
        } while (z && nt < sizeof t);
        ks_buf_reserve(cb, nt + out->value_len + ob.len + 1);
        ks_buf_append_slow(cb, t, nt);
        ks_buf_append_slow(cb, out->value, out->value_len);
        ks_buf_append_slow(cb, ob.data, ob.len);
        ks_buf_putc(cb, 2);
        ks_buf_free(&ob);
    } else {
        ks_buf_append_slow(cb, out->value ? out->value : "", out->value ? out->value_len : 0);
        ks_buf_putc(cb, f->change_tag == KS_CHANGE_ADD ? 1 : 0);
    }
    out->value = cb->data;
    out->value_len = cb->len;
    return 0;
}

static int encode(ks_engine_t *e, flight_t *f, int is_key, ks_serde_t to, ks_buf_t *b, const void **data, size_t *len)
{
    ks_serde_t from = is_key ? f->key_serde : f->value_serde;
    ks_val v = is_key ? f->key : f->value;
    const void *raw = is_key ? f->kraw : f->vraw;
    size_t rawlen = is_key ? f->klen : f->vlen;
    int changed = is_key ? f->key_changed : f->value_changed;
    if (!changed && from == to) {
        /*
         * Unchanged: forward the original bytes, after checking (without
         * parsing) that they are what the serde promises, as Kafka Streams'
         * deserialization at the source would.
         */
        if (v.kind == KS_INVALID && !(!is_key && f->value_checked) && !raw_ok(to, raw, rawlen)) {
            ks_val tmp;
            char err[KS_ERRMSG_SIZE] = "invalid data";
            if (ks_serde_decode(to, raw, rawlen, &tmp, err, sizeof err) == 0)
                ks_val_release(tmp);
            return ks__fail(e, f, is_key ? "deserializing the key" : "deserializing the value", err);
        }
        *data = raw;
        *len = rawlen;
        return 0;
    }
    if (v.kind == KS_INVALID && (is_key ? ks__flight_key(e, f, &v) : ks__flight_value(e, f, &v)))
        return -1;
    int is_null = 0;
    char err[KS_ERRMSG_SIZE];
    b->len = 0;
    if (ks_serde_encode(to, v, b, &is_null, err, sizeof err))
        return ks__fail(e, f, is_key ? "serializing the key" : "serializing the value", err);
    *data = is_null ? NULL : (b->data ? b->data : "");
    *len = is_null ? 0 : b->len;
    return 0;
}

int ks__sink(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    char *dyn = NULL;
    const char *topic = p->io.topic;
    if (p->io.dynamic_topic) {
        ks_val vars[KS_EXPR_NSTREAM_VARS], out, err, v;
        if (ks__bind_vars(e, f, vars) || ks__flight_value(e, f, &v))
            return -1;
        if (ks_expr_eval1(p->e.expr, v, vars, KS_EXPR_NSTREAM_VARS, &out, &err)) {
            char *m = ks_expr_error_message(err);
            ks_val_release(err);
            int rc = ks__fail(e, f, "evaluating the topic", m);
            free(m);
            return rc;
        }
        if (out.kind != KS_STRING || ks_str_len(out) == 0) {
            char *j = ks_json_dump(out);
            char msg[300];
            snprintf(msg, sizeof msg, "the topic expression must yield a non-empty string, not %s", j);
            free(j);
            ks_val_release(out);
            return ks__fail(e, f, "evaluating the topic", msg);
        }
        dyn = ks_xstrdup(ks_str_data(out));
        ks_val_release(out);
        topic = dyn;
    }
    const ks_topic_conf_t *tc = NULL;
    if (!dyn) {
        for (int i = 0; i < e->nsink_tcs && !tc; i++)
            if (e->sink_tcs[i].topic == topic)
                tc = e->sink_tcs[i].tc;
        if (!tc) {
            tc = ks_topology_topic(e->t, topic);
            int slot = e->nsink_tcs < (int)(sizeof e->sink_tcs / sizeof e->sink_tcs[0]) ? e->nsink_tcs++ : 0;
            e->sink_tcs[slot].topic = topic;
            e->sink_tcs[slot].tc = tc;
        }
    } else {
        tc = ks_topology_topic(e->t, topic);
    }
    ks_buf_t *kb = &e->sink_kb, *vb = &e->sink_vb;
    ks_record_t out = {0};
    int rc = -1;
    if (encode(e, f, 1, tc->key, kb, &out.key, &out.key_len) == 0 &&
        encode(e, f, 0, tc->value, vb, &out.value, &out.value_len) == 0) {
        out.topic = topic;
        out.partition = -1;
        out.offset = -1;
        out.timestamp = f->ts;
        out.headers = e->cur->headers;
        out.nheaders = e->cur->nheaders;
        ks_buf_t cb = {0};
        if (f->change_tag && change_value(e, f, tc->value, &out, &cb)) {
            ks_buf_free(&cb);
            free(dyn);
            return -1;
        }
        e->stats.out++;
        e->ops.emit(e->ud, &out);
        ks_buf_free(&cb);
        rc = 0;
    }
    /* Kept for the next record, unless one large value made them large. */
    if (kb->cap > 65536)
        ks_buf_free(kb);
    if (vb->cap > 65536)
        ks_buf_free(vb);
    free(dyn);
    return rc;
}

/* ---- dispatch ---- */

int ks__forward(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    for (int i = 0; i < p->nchildren; i++) {
        if (e->failed)
            return -1;
        ks__process_node(e, f, p->children[i]);
    }
    return 0;
}

/*
 * A table groupBy record read back (ChangedSerializer's format, above):
 * the flight's value becomes the new value's bytes and f->old the old
 * value (a subtract record: the change (null, old); an add record: (new,
 * null)). Returns 0, or -1 when the record is not such a Change.
 */
static int decode_change(ks_engine_t *e, flight_t *f, ks_serde_t serde, ks_val *owned)
{
    const char *v = f->vraw;
    size_t n = f->vlen;
    char err[KS_ERRMSG_SIZE];
    if (!v || n == 0)
        return ks__fail(e, f, "deserializing the change", "a grouped table's repartition record has no value");
    int flag = (unsigned char)v[n - 1];
    if (flag == 1) {
        f->vlen = n - 1;
        f->old = ks_null();
        return 0;
    }
    if (flag == 0) {
        if (ks_serde_decode(serde, v, n - 1, owned, err, sizeof err))
            return ks__fail(e, f, "deserializing the old value", err);
        f->old = *owned;
        f->vraw = NULL;
        f->vlen = 0;
        f->value = ks_null();
        f->value_changed = 1;
        return 0;
    }
    if (flag == 2) {
        uint32_t z = 0;
        size_t at = 0;
        for (int shift = 0; at < n - 1 && shift < 35; shift += 7) {
            unsigned char c = (unsigned char)v[at++];
            z |= (uint32_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
        }
        size_t nl = (size_t)((z >> 1) ^ (0u - (z & 1)));
        if (at < n && nl <= n - 1 - at) {
            if (ks_serde_decode(serde, v + at + nl, n - 1 - at - nl, owned, err, sizeof err))
                return ks__fail(e, f, "deserializing the old value", err);
            f->old = *owned;
            f->vraw = v + at;
            f->vlen = nl;
            return 0;
        }
    }
    return ks__fail(e, f, "deserializing the change", "a grouped table's repartition record is not a Change");
}

int ks_engine_process(ks_engine_t *e, const ks_record_t *rec, char *err, size_t errlen)
{
    const ks_topology_t *t = e->t;
    e->cur = rec;
    e->cur_headers = ks_invalid();
    e->dlq_sent = 0;
    e->failed = 0;
    e->stats.in++;
    uint64_t dropped0 = e->stats.dropped, dlq0 = e->stats.dlq;
    e->cur_task = -1;
    int in = 0;
    while (in < e->nins && strcmp(e->ins[in].topic, rec->topic) != 0)
        in++;
    if (in == e->nins) {
        /* A topic not seen yet (or pushed out by others): its configuration and the source nodes that read it. */
        if (e->nins < (int)(sizeof e->ins / sizeof e->ins[0])) {
            e->nins++;
        } else {
            in = (int)(e->stats.in % (uint64_t)e->nins);
            free(e->ins[in].topic);
            free(e->ins[in].sources);
        }
        e->ins[in].topic = ks_xstrdup(rec->topic);
        e->ins[in].tc = ks_topology_topic(t, rec->topic);
        e->ins[in].sources = NULL;
        e->ins[in].nsources = 0;
        for (int i = 0; i < t->nprocs; i++) {
            const ks_proc_t *p = t->procs[i];
            if (p->op != KS_OP_SOURCE)
                continue;
            int reads = 0;
            for (int j = 0; j < p->io.ntopics; j++)
                reads |= strcmp(p->io.topics[j], rec->topic) == 0;
            if (reads) {
                int n = e->ins[in].nsources;
                e->ins[in].sources = ks_xrealloc(e->ins[in].sources, (size_t)(n + 1) * sizeof(int));
                e->ins[in].sources[e->ins[in].nsources++] = i;
            }
        }
    }
    const ks_topic_conf_t *tc = e->ins[in].tc;
    for (int s = 0; s < e->ins[in].nsources && !e->failed; s++) {
        const ks_proc_t *p = t->procs[e->ins[in].sources[s]];
        if (e->cur_task < 0)
            ks__task_begin(e, rec, p->subtopology);
        ks__task_latency(e, p, rec->timestamp);
        flight_t f = {0};
        f.kraw = rec->key;
        f.klen = rec->key_len;
        f.vraw = rec->value;
        f.vlen = rec->value_len;
        f.key_serde = tc->key;
        f.value_serde = tc->value;
        f.key = ks_invalid();
        f.value = ks_invalid();
        f.ts = rec->timestamp;
        f.node = p->name;
        f.old = ks_invalid();
        f.window = ks_invalid();
        ks_val owned_old = ks_invalid();
        if (p->changes && decode_change(e, &f, tc->value, &owned_old)) {
            ks_val_release(f.key);
            ks_val_release(f.value);
            continue;
        }
        ks__forward(e, &f, p);
        ks_val_release(f.key);
        ks_val_release(f.value);
        ks_val_release(owned_old);
    }
    ks_val_release(e->cur_headers);
    e->cur = NULL;
    if (e->cur_task >= 0) {
        ks_task_stats_t *task = &e->tasks[e->cur_task];
        task->process++;
        task->dropped += e->stats.dropped - dropped0;
        task->dlq += e->stats.dlq - dlq0;
        e->cur_task = -1;
    }
    if (e->failed) {
        snprintf(err, errlen, "%s", e->fatal);
        return -1;
    }
    return 0;
}
