/*
 * eval_build.c: constructors: interpolated strings, @formats as filters,
 * arrays and objects (with jq's cartesian product over multiple outputs).
 */
#include <alloca.h>
#include <string.h>

#include "expr_int.h"

#define CONT(type, k) ((const type *)(const void *)(k))

/* ---- strings, formats, arrays, objects ---- */

int ks__expr_to_string(ks_val v, ks_val *out)
{
    if (v.kind == KS_STRING) {
        *out = ks_val_retain(v);
        return 0;
    }
    return ks__expr_tojson(v, out);
}

static int string_part(ctx_t *cx, const node_t *n, ks_val v, ks_val *out)
{
    return n->name ? ks__expr_format(cx, n->name, v, out) : ks__expr_to_string(v, out);
}

typedef struct str_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    int i;        /* the part being evaluated: parts run last to first */
    ks_val *vals; /* stringified parts */
} str_k_t;

static int str_step(const str_k_t *sk, ctx_t *cx, int i);

static int str_part_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const str_k_t *sk = CONT(str_k_t, k);
    ks_val s;
    int rc = string_part(cx, sk->n, v, &s);
    if (rc)
        return rc;
    sk->vals[sk->i] = s;
    rc = str_step(sk, cx, sk->i - 1);
    ks_val_release(s);
    sk->vals[sk->i] = ks_invalid();
    return rc;
}

static int str_step(const str_k_t *sk, ctx_t *cx, int i)
{
    const node_t *n = sk->n;
    if (i < 0) {
        size_t total = 0;
        for (int j = 0; j < n->nargs; j++)
            total += ks_str_len(sk->vals[j]);
        char *d;
        ks_val r = ks_str_alloc(total, &d);
        for (int j = 0; j < n->nargs; j++) {
            memcpy(d, ks_str_data(sk->vals[j]), ks_str_len(sk->vals[j]));
            d += ks_str_len(sk->vals[j]);
        }
        return ks__expr_emit(sk->next, cx, r);
    }
    const node_t *part = n->args[i];
    if (part->op == OP_LITERAL && part->konst.kind == KS_STRING) {
        sk->vals[i] = part->konst;
        return str_step(sk, cx, i - 1);
    }
    str_k_t k2 = *sk;
    k2.base.fn = str_part_fn;
    k2.i = i;
    return part->eval(part, cx, sk->fr, sk->in, &k2.base);
}

int ks__expr_string_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    ks_val *vals = alloca((size_t)n->nargs * sizeof *vals);
    str_k_t sk = {{NULL}, n, fr, in, k, n->nargs - 1, vals};
    return str_step(&sk, cx, n->nargs - 1);
}

int ks__expr_string_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val acc = ks_str_new("", 0);
    ks_val *parts = alloca((size_t)n->nargs * sizeof *parts);
    int rc = 0, i;
    /* Evaluate last to first, as jq does, so errors surface in the same order. */
    for (i = n->nargs - 1; i >= 0; i--) {
        const node_t *part = n->args[i];
        if (part->op == OP_LITERAL && part->konst.kind == KS_STRING) {
            parts[i] = part->konst;
            continue;
        }
        ks_val v;
        if ((rc = part->eval1(part, cx, fr, in, &v)))
            break;
        rc = string_part(cx, n, v, &parts[i]);
        ks_val_release(v);
        if (rc)
            break;
    }
    if (rc) {
        for (int j = n->nargs - 1; j > i; j--)
            ks_val_release(parts[j]);
        ks_val_release(acc);
        return rc;
    }
    for (i = 0; i < n->nargs; i++)
        acc = ks_str_concat(acc, parts[i]);
    *out = acc;
    return 0;
}

int ks__expr_format_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    return ks__expr_format(cx, n->name, in, out);
}

typedef struct collect_k {
    cont_t base;
    ks_val *arr;
} collect_k_t;

static int collect_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    ks_arr_push(CONT(collect_k_t, k)->arr, ks_val_retain(v));
    return 0;
}

int ks__expr_array_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    if (!n->a) {
        *out = ks_arr_new(0);
        return 0;
    }
    if (n->a->eval1) {
        ks_val v;
        int rc = n->a->eval1(n->a, cx, fr, in, &v);
        if (rc)
            return rc;
        ks_val arr = ks_arr_new(1);
        arr.a->items[0] = v;
        arr.a->len = 1;
        *out = arr;
        return 0;
    }
    ks_val arr = ks_arr_new(4);
    collect_k_t ck = {{collect_fn}, &arr};
    int rc = n->a->eval(n->a, cx, fr, in, &ck.base);
    if (rc) {
        ks_val_release(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int obj_key_check(ctx_t *cx, ks_val key)
{
    if (key.kind != KS_STRING) {
        char b[15];
        ks__expr_dump_trunc(key, b, sizeof b);
        return ks__expr_errorf(cx, "Cannot use %s (%s) as object key", ks_kind_name(key), b);
    }
    return 0;
}

int ks__expr_object_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val obj = ks_obj_new((size_t)n->nargs / 2);
    for (int i = 0; i < n->nargs; i += 2) {
        ks_val key, val;
        int rc = n->args[i]->eval1(n->args[i], cx, fr, in, &key);
        if (rc) {
            ks_val_release(obj);
            return rc;
        }
        if ((rc = obj_key_check(cx, key)) || (rc = n->args[i + 1]->eval1(n->args[i + 1], cx, fr, in, &val))) {
            ks_val_release(key);
            ks_val_release(obj);
            return rc;
        }
        ks_obj_set(&obj, key, val);
    }
    *out = obj;
    return 0;
}

typedef struct obj_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    int i;
    ks_val obj; /* the object so far (borrowed) */
    ks_val key;
} obj_k_t;

static int obj_step(const obj_k_t *ok, ctx_t *cx, int i, ks_val obj);

static int obj_val_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const obj_k_t *ok = CONT(obj_k_t, k);
    ks_val obj = ks_val_retain(ok->obj);
    ks_obj_set(&obj, ks_val_retain(ok->key), ks_val_retain(v));
    int rc = obj_step(ok, cx, ok->i + 2, obj);
    ks_val_release(obj);
    return rc;
}

static int obj_key_fn(const cont_t *k, ctx_t *cx, ks_val key)
{
    const obj_k_t *ok = CONT(obj_k_t, k);
    int rc = obj_key_check(cx, key);
    if (rc)
        return rc;
    obj_k_t k2 = *ok;
    k2.base.fn = obj_val_fn;
    k2.key = key;
    const node_t *v = ok->n->args[ok->i + 1];
    return v->eval(v, cx, ok->fr, ok->in, &k2.base);
}

static int obj_step(const obj_k_t *ok, ctx_t *cx, int i, ks_val obj)
{
    if (i >= ok->n->nargs)
        return ok->next->fn(ok->next, cx, obj);
    obj_k_t k2 = *ok;
    k2.base.fn = obj_key_fn;
    k2.i = i;
    k2.obj = obj;
    const node_t *key = ok->n->args[i];
    return key->eval(key, cx, ok->fr, ok->in, &k2.base);
}

int ks__expr_object_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    obj_k_t ok = {{NULL}, n, fr, in, k, 0, ks_invalid(), ks_invalid()};
    ks_val obj = ks_obj_new((size_t)n->nargs / 2);
    int rc = obj_step(&ok, cx, 0, obj);
    ks_val_release(obj);
    return rc;
}
