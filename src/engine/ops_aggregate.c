/*
 * ops_aggregate.c: count, reduce and aggregate, on streams (records with a
 * null key or value are dropped) and on grouped tables (subtract the old
 * value, then add the new one, as KTableAggregate and KTableReduce do); the
 * expressions of stateful steps. Windowed aggregations are in
 * ops_window.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "state_int.h"

/* ---- expressions of stateful steps ---- */

const ks_step_expr_t *ks__st_part_of(const ks_proc_t *p, const char *name)
{
    for (int i = 0; i < p->nextra; i++)
        if (p->extra[i].part && strcmp(p->extra[i].part, name) == 0)
            return &p->extra[i];
    return NULL;
}

/* Sends the record to the dead-letter path, naming the step's expression and where it is written. */
static void eval_x_fail(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const ks_step_expr_t *x, const char *why)
{
    char what[KS_ERRMSG_SIZE];
    ks__eval_context(what, sizeof what, p, x->part ? x->part : "expression", x->pos);
    ks__fail(e, f, what, why);
}

/* Evaluates a step's expression with `.` = input, $agg and $window bound; one output required. */
int ks__st_eval_x(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const ks_step_expr_t *x, ks_val input, ks_val agg,
                  ks_val *out)
{
    ks_val vars[KS_EXPR_NSTREAM_VARS], err;
    if (ks__bind_vars(e, f, vars))
        return -1;
    vars[KS_EXPR_VAR_AGG] = agg.kind == KS_INVALID ? ks_null() : agg;
    vars[KS_EXPR_VAR_WINDOW] = f->window.kind == KS_INVALID ? ks_null() : f->window;
    if (ks_expr_eval1(x->expr, input, vars, KS_EXPR_NSTREAM_VARS, out, &err)) {
        char *m = ks_expr_error_message(err);
        ks_val_release(err);
        eval_x_fail(e, f, p, x, m);
        free(m);
        return -1;
    }
    if (out->kind == KS_INVALID) {
        eval_x_fail(e, f, p, x, "the expression produced no output");
        return -1;
    }
    return 0;
}

int ks__st_eval_key(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out)
{
    ks_val v;
    if (ks__eval_field(e, f, &p->e, out))
        return 0;
    if (ks__flight_value(e, f, &v))
        return -1;
    return ks__st_eval_x(e, f, p, &p->e, v, ks_invalid(), out);
}

/* The first aggregate: count 0, aggregate's initializer; reduce has none (KS_INVALID). */
int ks__st_agg_init(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num(0);
        return 0;
    }
    if (p->op == KS_OP_REDUCE) {
        *out = ks_invalid();
        return 0;
    }
    return ks__st_eval_x(e, f, p, ks__st_part_of(p, "initializer"), ks_null(), ks_invalid(), out);
}

/* Adds a value to an aggregate (agg KS_INVALID: none yet). */
int ks__st_agg_add(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num((agg.kind == KS_NUMBER ? ks_num_get(agg) : 0) + 1);
        return 0;
    }
    const ks_step_expr_t *x = ks__st_part_of(p, p->table ? "adder" : p->op == KS_OP_REDUCE ? "reducer" : "aggregator");
    if (p->op == KS_OP_REDUCE) {
        if (agg.kind == KS_INVALID) {
            *out = ks_val_retain(value);
            return 0;
        }
        return ks__st_eval_x(e, f, p, x, value, agg, out);
    }
    ks_val base = ks_invalid();
    if (agg.kind == KS_INVALID) {
        if (ks__st_agg_init(e, f, p, &base))
            return -1;
        agg = base;
    }
    int rc = ks__st_eval_x(e, f, p, x, value, agg, out);
    ks_val_release(base);
    return rc;
}

int ks__st_agg_sub(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out)
{
    if (p->op == KS_OP_COUNT) {
        *out = ks_num((agg.kind == KS_NUMBER ? ks_num_get(agg) : 0) - 1);
        return 0;
    }
    return ks__st_eval_x(e, f, p, ks__st_part_of(p, "subtractor"), value, agg, out);
}

/* Session windows: combines two sessions' aggregates. */
int ks__st_agg_merge(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val a, ks_val b, ks_val *out)
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
        return ks__st_eval_x(e, f, p, ks__st_part_of(p, "reducer"), b, a, out);
    }
    return ks__st_eval_x(e, f, p, ks__st_part_of(p, "merger"), b, a, out);
}

int ks__st_store_key(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_buf_t *kb, ks_val key)
{
    char err[KS_ERRMSG_SIZE];
    if (ks__st_key_bytes(p, kb, key, err, sizeof err)) {
        ks__fail(e, f, "storing the key", err);
        return 0;
    }
    if (kb->len <= 480)
        return 1;
    ks__fail(e, f, "storing the key", "a state store key may be at most 480 bytes as its serde writes it");
    return 0;
}

/* ---- aggregations ---- */

static void agg_stream(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value)
{
    int32_t part = e->cur->partition;
    ks_buf_t kb = {0};
    if (!ks__st_store_key(e, f, p, &kb, key)) {
        ks_buf_free(&kb);
        return;
    }
    ks_val old = ks_invalid(), nw = ks_invalid();
    int64_t ots = 0;
    int found = ks__st_kv_get(e, p, part, kb.data, kb.len, &old, &ots);
    ks_val init = ks_invalid();
    if (found == 0 && ks__st_agg_init(e, f, p, &init))
        found = -1;
    if (found >= 0 && ks__st_agg_add(e, f, p, found ? old : init, value, &nw) == 0) {
        e->st->init_old = init;
        ks__st_kv_put(e, p, part, kb.data, kb.len, key, nw, found && ots > f->ts ? ots : f->ts);
        e->st->init_old = ks_invalid();
    }
    ks_val_release(init);
    ks_val_release(old);
    ks_val_release(nw);
    ks_buf_free(&kb);
}

/* KGroupedTable aggregations: subtract the old value, then add the new one. */
static void agg_table(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val newv)
{
    int32_t part = e->cur->partition;
    ks_val oldv = f->old.kind == KS_INVALID ? ks_null() : f->old;
    ks_buf_t kb = {0};
    if (!ks__st_store_key(e, f, p, &kb, key)) {
        ks_buf_free(&kb);
        return;
    }
    ks_val oldagg = ks_invalid(), inter = ks_invalid(), nw = ks_invalid();
    int64_t ots = 0, ts = f->ts;
    int found = ks__st_kv_get(e, p, part, kb.data, kb.len, &oldagg, &ots);
    int ok = found >= 0;
    if (ok && oldv.kind != KS_NULL && found) {
        ok = ks__st_agg_sub(e, f, p, oldagg, oldv, &inter) == 0;
        ts = ots > ts ? ots : ts;
    } else if (ok) {
        inter = ks_val_retain(oldagg);
    }
    if (ok && newv.kind != KS_NULL) {
        ok = ks__st_agg_add(e, f, p, inter, newv, &nw) == 0;
        if (found)
            ts = ots > ts ? ots : ts;
    } else if (ok) {
        nw = ks_val_retain(inter);
    }
    if (ok)
        ks__st_kv_put(e, p, part, kb.data, kb.len, key, nw.kind == KS_NULL ? ks_invalid() : nw, ts);
    ks_val_release(oldagg);
    ks_val_release(inter);
    ks_val_release(nw);
    ks_buf_free(&kb);
}

/*
 * Whether another aggregate or reduce reads the same records as p (several
 * pipelines group one stream): it parses their values, so a count before it
 * parses them too, once, rather than check their text and leave the parse to
 * the sibling.
 */
static int sibling_parses(const ks_proc_t *p)
{
    for (int i = 0; i < p->nparents; i++)
        for (int j = 0; j < p->parents[i]->nchildren; j++) {
            const ks_proc_t *q = p->parents[i]->children[j];
            if (q != p && !q->table && (q->op == KS_OP_AGGREGATE || q->op == KS_OP_REDUCE))
                return 1;
        }
    return 0;
}

void ks__st_aggregate(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    ks_val key, value;
    if (ks__flight_key(e, f, &key))
        return;
    if (p->op == KS_OP_COUNT && !p->table && f->value.kind == KS_INVALID && !f->value_changed && !sibling_parses(p) &&
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
    switch (p->state.window.kind) {
    case KS_WIN_NONE: agg_stream(e, f, p, key, value); break;
    case KS_WIN_SESSION: ks__st_agg_sessions(e, f, p, key, value); break;
    case KS_WIN_SLIDING: ks__st_agg_sliding(e, f, p, key, value); break;
    default: ks__st_agg_windows(e, f, p, key, value); break;
    }
}
