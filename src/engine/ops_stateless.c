/*
 * ops_stateless.c: the stateless operators at run time: filter, filterNot,
 * map, mapValues, flatMap, flatMapValues, selectKey, peek, print, split
 * and its branches, merge, the repartition filter, and sinks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "engine_int.h"

static int expr_failed(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val err)
{
    char *m = ks_expr_error_message(err);
    ks_val_release(err);
    char what[KS_ERRMSG_SIZE];
    ks__eval_context(what, sizeof what, p, NULL, p->pos);
    ks__fail(e, f, what, m);
    free(m);
    return -1;
}

/* A child flight carrying a new key and/or value (owned references). */
static void forward_with(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, int new_key, ks_val value,
                         int new_value)
{
    flight_t c = *f;
    c.key = new_key ? key : ks_val_retain(f->key);
    c.value = new_value ? value : ks_val_retain(f->value);
    c.key_changed = f->key_changed || new_key;
    c.value_changed = f->value_changed || new_value;
    c.node = p->name;
    ks__forward(e, &c, p);
    ks_val_release(c.key);
    ks_val_release(c.value);
}

typedef struct multi {
    ks_engine_t *e;
    flight_t *f;
    const ks_proc_t *p;
    int bad; /* set when an output had the wrong shape */
} multi_t;

static int kv_parts(multi_t *m, ks_val v, ks_val *key, ks_val *value)
{
    const ks_val *k = v.kind == KS_OBJECT ? ks_obj_get(v, "key", 3) : NULL;
    const ks_val *val = v.kind == KS_OBJECT ? ks_obj_get(v, "value", 5) : NULL;
    if (!k || !val) {
        char *j = ks_json_dump(v);
        char msg[400];
        snprintf(msg, sizeof msg, "`%s` must yield objects {key, value}, got %.300s", ks_op_dsl_name(m->p->op), j);
        free(j);
        char what[KS_ERRMSG_SIZE];
        ks__eval_context(what, sizeof what, m->p, NULL, m->p->pos);
        ks__fail(m->e, m->f, what, msg);
        m->bad = 1;
        return -1;
    }
    *key = ks_val_retain(*k);
    *value = ks_val_retain(*val);
    return 0;
}

/* flatMap outputs are collected first: as in Kafka Streams, a mapper that fails forwards nothing. */
static int collect_flat(void *ud, ks_val v)
{
    ks_val *arr = ud;
    ks_arr_push(arr, ks_val_retain(v));
    return 0;
}

static int emit_peek(void *ud, ks_val v)
{
    multi_t *m = ud;
    char *j = ks_json_dump(v);
    if (m->e->ops.log)
        m->e->ops.log(m->e->ud, m->p->name, j);
    free(j);
    return 0;
}

static int eval_first(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out)
{
    ks_val vars[KS_EXPR_NSTREAM_VARS], v, err;
    if (ks__eval_field(e, f, &p->e, out))
        return 0;
    if (ks__bind_vars(e, f, vars) || ks__flight_value(e, f, &v))
        return -1;
    if (ks_expr_eval1(p->e.expr, v, vars, KS_EXPR_NSTREAM_VARS, out, &err))
        return expr_failed(e, f, p, err);
    return 0;
}

static int truthy(ks_engine_t *e, flight_t *f, const ks_proc_t *p, int *t)
{
    ks_val out;
    if (eval_first(e, f, p, &out))
        return -1;
    *t = out.kind != KS_INVALID && ks_is_truthy(out);
    ks_val_release(out);
    return 0;
}

static int needs_output(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val out)
{
    if (out.kind != KS_INVALID)
        return 0;
    char what[KS_ERRMSG_SIZE];
    ks__eval_context(what, sizeof what, p, NULL, p->pos);
    ks__fail(e, f, what, "the expression produced no output (use flatMap/flatMapValues to drop records)");
    return -1;
}

void ks__process_node(ks_engine_t *e, flight_t *f, const ks_proc_t *p)
{
    f->node = p->name;
    if (p->nchildren == 0)
        ks__task_latency(e, p, f->ts); /* a terminal node: Kafka Streams' record-e2e-latency */
    if (p->table || ks_op_stateful(p->op)) {
        ks__process_state(e, f, p);
        return;
    }
    switch (p->op) {
    case KS_OP_SOURCE:
    case KS_OP_MERGE: ks__forward(e, f, p); return;
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT: {
        int t;
        if (p->is_repartition) {
            /* Kafka Streams drops null-keyed records before a repartition topic, unless a left join keeps them. */
            ks_val k;
            if (ks__flight_key(e, f, &k))
                return;
            if (k.kind != KS_NULL || p->null_keys_pass) {
                flight_t c = *f;
                c.node = p->name;
                ks__forward(e, &c, p);
            } else {
                e->stats.dropped++;
            }
            return;
        }
        if (truthy(e, f, p, &t))
            return;
        if (t == (p->op == KS_OP_FILTER)) {
            flight_t c = *f;
            ks__forward(e, &c, p);
        }
        return;
    }
    case KS_OP_MAP:
    case KS_OP_MAP_VALUES:
    case KS_OP_SELECT_KEY: {
        ks_val out;
        if (eval_first(e, f, p, &out) || needs_output(e, f, p, out))
            return;
        if (p->op == KS_OP_MAP_VALUES) {
            forward_with(e, f, p, ks_invalid(), 0, out, 1);
        } else if (p->op == KS_OP_SELECT_KEY) {
            forward_with(e, f, p, out, 1, ks_invalid(), 0);
        } else {
            multi_t m = {e, f, p, 0};
            ks_val k, v;
            if (kv_parts(&m, out, &k, &v) == 0)
                forward_with(e, f, p, k, 1, v, 1);
            ks_val_release(out);
        }
        return;
    }
    case KS_OP_FLAT_MAP:
    case KS_OP_FLAT_MAP_VALUES:
    case KS_OP_PEEK: {
        ks_val vars[KS_EXPR_NSTREAM_VARS], v, err;
        if (ks__bind_vars(e, f, vars) || ks__flight_value(e, f, &v))
            return;
        multi_t m = {e, f, p, 0};
        if (p->op == KS_OP_PEEK) {
            if (ks_expr_eval(p->e.expr, v, vars, KS_EXPR_NSTREAM_VARS, emit_peek, &m, &err)) {
                expr_failed(e, f, p, err);
                return;
            }
            flight_t c = *f;
            ks__forward(e, &c, p);
            return;
        }
        ks_val outs = ks_arr_new(4);
        if (ks_expr_eval(p->e.expr, v, vars, KS_EXPR_NSTREAM_VARS, collect_flat, &outs, &err)) {
            ks_val_release(outs);
            expr_failed(e, f, p, err);
            return;
        }
        /* Check every output's shape before forwarding any. */
        ks_val keys = ks_arr_new(ks_arr_len(outs)), vals = ks_arr_new(ks_arr_len(outs));
        int ok = 1;
        for (size_t i = 0; i < ks_arr_len(outs) && ok; i++) {
            ks_val k = ks_invalid(), val = ks_val_retain(*ks_arr_get(outs, i));
            if (p->op == KS_OP_FLAT_MAP) {
                ks_val_release(val);
                ok = kv_parts(&m, *ks_arr_get(outs, i), &k, &val) == 0;
                if (!ok)
                    break;
            }
            ks_arr_push(&keys, k);
            ks_arr_push(&vals, val);
        }
        for (size_t i = 0; ok && i < ks_arr_len(vals) && !e->failed; i++)
            forward_with(e, f, p, ks_val_retain(*ks_arr_get(keys, i)), p->op == KS_OP_FLAT_MAP,
                         ks_val_retain(*ks_arr_get(vals, i)), 1);
        ks_val_release(keys);
        ks_val_release(vals);
        ks_val_release(outs);
        return;
    }
    case KS_OP_PRINT: {
        /* Kafka Streams' PrintForeachAction: `[label]: key, value`, strings as they are, others as JSON. */
        ks_val k, v;
        if (ks__flight_key(e, f, &k) || ks__flight_value(e, f, &v))
            return;
        ks_buf_t b = {0};
        ks_buf_printf(&b, "[%s]: ", p->print.label ? p->print.label : p->name);
        for (int i = 0; i < 2; i++) {
            ks_val x = i ? v : k;
            if (i)
                ks_buf_puts(&b, ", ");
            if (x.kind == KS_STRING)
                ks_buf_append(&b, ks_str_data(x), ks_str_len(x));
            else
                ks_json_write(&b, x);
        }
        if (e->ops.log)
            e->ops.log(e->ud, p->name, b.data);
        ks_buf_free(&b);
        return;
    }
    case KS_OP_SPLIT:
        /* The first branch whose predicate holds takes the record; `default` takes the rest. */
        for (int i = 0; i < p->nchildren; i++) {
            const ks_proc_t *b = p->children[i];
            int t = 1;
            if (!b->branch.is_default) {
                f->node = b->name;
                if (truthy(e, f, b, &t))
                    return;
            }
            if (t) {
                flight_t c = *f;
                c.node = b->name;
                ks__forward(e, &c, b);
                return;
            }
        }
        e->stats.dropped++;
        return;
    case KS_OP_BRANCH: ks__forward(e, f, p); return;
    case KS_OP_SINK: ks__sink(e, f, p); return;
    default: return;
    }
}
