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
#include "state_int.h"

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
    ks__st_key_text(&kb, key);
    if (ks__st_key_fits(e, f, &kb))
        ks__st_kv_put(e, p, e->cur->partition, kb.data, kb.len, key, value.kind == KS_NULL ? ks_invalid() : value, f->ts);
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
    sup_add(sl->ps, k, kl, ks__st_get_be64(b + 8), ks__st_get_be64(b), sl->e->st->seq++);
    return 0;
}

static int sup_load(ks_engine_t *e, const ks_proc_t *p, int32_t part, pstate_t *ps)
{
    if (ps->loaded)
        return 0;
    ps->loaded = 1;
    if (ks__st_begin(e))
        return -1;
    sup_load_t sl = {e, ps};
    if (ks_store_range(e->st->stores, p->stores[0], part, NULL, 0, NULL, 0, on_sup_entry, &sl))
        return ks__st_state_fatal(e, "reading a suppression buffer failed");
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
    if (ks__st_begin(e))
        return;
    int found = ks_store_get(e->st->stores, p->stores[0], part, s->k, s->kl, &b, &bl);
    if (found < 0 || (found && bl < 17)) {
        ks__st_state_fatal(e, "reading a suppression buffer failed");
        return;
    }
    if (!found)
        return; /* nothing stored: nothing to emit */
    const char *v = b;
    if (ks_json_parse(s->k, s->kl, &key, err, sizeof err) ||
        (v[16] && ks_json_parse(v + 17, bl - 17, &value, err, sizeof err))) {
        ks__st_state_fatal(e, "a suppression buffer entry does not decode");
        return;
    }
    ks__st_write_through(e, p, part, s->k, s->kl, key, NULL, 0, 0, s->ts, NULL, ks_invalid());
    /* untilWindowCloses drops tombstones: a closed window's final result is never a deletion. */
    if (!e->failed && !(p->suppress_final && value.kind == KS_NULL))
        ks__st_forward_change(e, p, key, value, ks_invalid(), s->ts);
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
    ks__st_key_text(&kb, key);
    if (!ks__st_key_fits(e, f, &kb)) {
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
    ks__st_put_be64(hdr, f->ts);
    ks__st_put_be64(hdr + 8, btime);
    hdr[16] = value.kind != KS_NULL;
    ks_buf_append(&vb, hdr, 17);
    if (value.kind != KS_NULL)
        ks_json_write(&vb, value);
    if (ks__st_begin(e) == 0)
        ks__st_write_through(e, p, part, kb.data, kb.len, key, vb.data, vb.len, 0, f->ts, NULL, ks_invalid());
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
    if (!ks__st_state(e))
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
        ks__st_aggregate(e, f, p);
        return;
    case KS_OP_SUPPRESS:
        suppress(e, f, p);
        return;
    default:
        return;
    }
}
