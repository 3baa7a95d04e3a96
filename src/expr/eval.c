/*
 * eval.c: evaluators for the core language: paths into values, operators,
 * constructors, control flow, variables and function calls.
 *
 * Cartesian products follow jq 1.6's order, which the differential tests
 * pin: in `a + b` and `f(a; b)` the later operand is the outer loop, in
 * `a[i]` the index is, and in `{k: v, ...}` the first entry is.
 */
#include <alloca.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

#define MAX_CALL_DEPTH 100000
#define MAX_STACK_BYTES (6u << 20)

#define CONT(type, k) ((const type *)(const void *)(k))

int ks__emit(const cont_t *k, ctx_t *cx, ks_val v)
{
    int rc = k->fn(k, cx, v);
    ks_val_release(v);
    return rc;
}

int ks__error(ctx_t *cx, ks_val msg)
{
    ks_val_release(cx->err);
    cx->err = msg;
    return RC_ERROR;
}

int ks__errorf(ctx_t *cx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ks__error(cx, ks_str_cstr(buf));
}

/* jq's jv_dump_string_trunc with a 15-byte buffer: at most 14 bytes, "..." when cut. */
void ks__dump_trunc(ks_val v, char *buf, size_t size)
{
    ks_buf_t b = {0};
    ks_json_write(&b, v);
    size_t n = b.len < size - 1 ? b.len : size - 1;
    memcpy(buf, b.data, n);
    buf[n] = 0;
    if (b.len > size - 1 && size >= 4)
        memcpy(buf + size - 4, "...", 3);
    ks_buf_free(&b);
}

frame_t *ks__frame_up(frame_t *fr, int hops)
{
    while (hops-- > 0)
        fr = fr->up;
    return fr;
}

int ks__eval_node(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return n->eval(n, cx, fr, in, k);
}

/* ---- generic helpers ---- */

static int eval_via1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    ks_val out;
    int rc = n->eval1(n, cx, fr, in, &out);
    if (rc)
        return rc;
    return ks__emit(k, cx, out);
}

typedef struct first_k {
    cont_t base;
    ks_val *out;
} first_k_t;

static int first_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    (void)cx;
    *CONT(first_k_t, k)->out = ks_val_retain(v);
    return RC_BREAK;
}

int ks__collect1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    if (n->eval1)
        return n->eval1(n, cx, fr, in, out);
    *out = ks_invalid();
    first_k_t k = {{first_fn}, out};
    double saved = cx->break_id;
    cx->break_id = -1;
    int rc = n->eval(n, cx, fr, in, &k.base);
    if (rc == RC_BREAK && cx->break_id == -1)
        rc = RC_OK;
    cx->break_id = saved;
    return rc;
}

/* ---- indexing ---- */

static int slice_bounds(ks_val from, ks_val to, size_t len, size_t *ps, size_t *pe)
{
    double s = from.kind == KS_NULL ? 0 : from.kind == KS_NUMBER ? ks_num_get(from) : NAN;
    double e = to.kind == KS_NULL ? (double)len : to.kind == KS_NUMBER ? ks_num_get(to) : NAN;
    if (isnan(s) || isnan(e))
        return -1;
    double dl = (double)len;
    if (s < 0)
        s += dl;
    if (e < 0)
        e += dl;
    if (s < 0)
        s = 0;
    if (s > dl)
        s = dl;
    if (e > dl)
        e = dl;
    if (e < s)
        e = s;
    *ps = (size_t)s;
    *pe = e > (double)(size_t)e ? (size_t)e + 1 : (size_t)e;
    if (*pe > len)
        *pe = len;
    return 0;
}

static size_t utf8_offset(const char *s, size_t len, size_t cps)
{
    size_t i = 0;
    while (cps > 0 && i < len) {
        unsigned char c = (unsigned char)s[i++];
        if (c >= 0x80)
            while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
                i++;
        cps--;
    }
    return i;
}

static size_t utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static int do_slice(ctx_t *cx, ks_val t, ks_val from, ks_val to, ks_val *out)
{
    size_t s, e;
    if (t.kind == KS_NULL) {
        *out = ks_null();
        return 0;
    }
    if (t.kind == KS_ARRAY) {
        if (slice_bounds(from, to, ks_arr_len(t), &s, &e))
            return ks__errorf(cx, "Start and end indices of an array slice must be numbers");
        ks_val r = ks_arr_new(e - s);
        for (size_t i = s; i < e; i++)
            r.a->items[i - s] = ks_val_retain(t.a->items[i]);
        r.a->len = (uint32_t)(e - s);
        *out = r;
        return 0;
    }
    if (t.kind == KS_STRING) {
        size_t cps = utf8_count(ks_str_data(t), ks_str_len(t));
        if (slice_bounds(from, to, cps, &s, &e))
            return ks__errorf(cx, "Start and end indices of an string slice must be numbers");
        size_t bs = utf8_offset(ks_str_data(t), ks_str_len(t), s);
        size_t be = bs + utf8_offset(ks_str_data(t) + bs, ks_str_len(t) - bs, e - s);
        *out = ks_str_new(ks_str_data(t) + bs, be - bs);
        return 0;
    }
    return ks__errorf(cx, "Cannot index %s with object", ks_kind_name(t));
}

int ks__index(ctx_t *cx, ks_val t, ks_val k, ks_val *out)
{
    if (t.kind == KS_OBJECT && k.kind == KS_STRING) {
        const ks_val *v = ks_obj_get(t, ks_str_data(k), ks_str_len(k));
        *out = v ? ks_val_retain(*v) : ks_null();
        return 0;
    }
    if (t.kind == KS_ARRAY && k.kind == KS_NUMBER) {
        double d = ks_num_get(k);
        if (d != floor(d)) {
            *out = ks_null();
            return 0;
        }
        double len = (double)ks_arr_len(t);
        if (d < 0)
            d += len;
        *out = d >= 0 && d < len ? ks_val_retain(t.a->items[(size_t)d]) : ks_null();
        return 0;
    }
    if (t.kind == KS_NULL && (k.kind == KS_STRING || k.kind == KS_NUMBER || k.kind == KS_OBJECT)) {
        *out = ks_null();
        return 0;
    }
    if (k.kind == KS_OBJECT && (t.kind == KS_ARRAY || t.kind == KS_STRING)) {
        const ks_val *s = ks_obj_get(k, "start", 5), *e = ks_obj_get(k, "end", 3);
        return do_slice(cx, t, s ? *s : ks_null(), e ? *e : ks_null(), out);
    }
    if (t.kind == KS_ARRAY && k.kind == KS_ARRAY) {
        /* Indices at which k occurs as a sub-array of t. */
        ks_val r = ks_arr_new(4);
        size_t n = ks_arr_len(t), m = ks_arr_len(k);
        for (size_t i = 0; m && i + m <= n; i++) {
            size_t j = 0;
            while (j < m && ks_val_equal(t.a->items[i + j], k.a->items[j]))
                j++;
            if (j == m)
                ks_arr_push(&r, ks_num((double)i));
        }
        *out = r;
        return 0;
    }
    if (k.kind == KS_STRING)
        return ks__errorf(cx, "Cannot index %s with string \"%s\"", ks_kind_name(t), ks_str_data(k));
    return ks__errorf(cx, "Cannot index %s with %s", ks_kind_name(t), ks_kind_name(k));
}

int ks__iterate(ctx_t *cx, ks_val t, const cont_t *k)
{
    int rc = 0;
    if (t.kind == KS_ARRAY) {
        for (uint32_t i = 0; i < t.a->len && !rc; i++)
            rc = k->fn(k, cx, t.a->items[i]);
        return rc;
    }
    if (t.kind == KS_OBJECT) {
        for (uint32_t i = 0; i < t.o->len && !rc; i++)
            rc = k->fn(k, cx, t.o->slots[i].val);
        return rc;
    }
    char b[15];
    ks__dump_trunc(t, b, sizeof b);
    return ks__errorf(cx, "Cannot iterate over %s (%s)", ks_kind_name(t), b);
}

/* ---- . and .key ---- */

static int identity_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    (void)n, (void)cx, (void)fr;
    *out = ks_val_retain(in);
    return 0;
}

static int identity_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    (void)n, (void)fr;
    return k->fn(k, cx, in);
}

static int literal_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    (void)cx, (void)fr, (void)in;
    *out = n->konst; /* static: no count */
    return 0;
}

static int field_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    if (!n->a)
        return ks__index(cx, in, n->konst, out);
    ks_val t;
    int rc = n->a->eval1(n->a, cx, fr, in, &t);
    if (rc)
        return rc;
    rc = ks__index(cx, t, n->konst, out);
    ks_val_release(t);
    return rc;
}

typedef struct index_k {
    cont_t base;
    const cont_t *next;
    ks_val key;
} index_k_t;

static int index_fn(const cont_t *k, ctx_t *cx, ks_val t)
{
    const index_k_t *ik = CONT(index_k_t, k);
    ks_val out;
    int rc = ks__index(cx, t, ik->key, &out);
    return rc ? rc : ks__emit(ik->next, cx, out);
}

static int field_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    index_k_t ik = {{index_fn}, k, n->konst};
    return n->a->eval(n->a, cx, fr, in, &ik.base);
}

static int index_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val key, t;
    int rc = n->b->eval1(n->b, cx, fr, in, &key);
    if (rc)
        return rc;
    rc = n->a->eval1(n->a, cx, fr, in, &t);
    if (!rc) {
        rc = ks__index(cx, t, key, out);
        ks_val_release(t);
    }
    ks_val_release(key);
    return rc;
}

typedef struct term_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} term_k_t;

static int index_key_fn(const cont_t *k, ctx_t *cx, ks_val key)
{
    const term_k_t *tk = CONT(term_k_t, k);
    index_k_t ik = {{index_fn}, tk->next, key};
    return tk->n->a->eval(tk->n->a, cx, tk->fr, tk->in, &ik.base);
}

static int index_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    term_k_t tk = {{index_key_fn}, n, fr, in, k};
    return n->b->eval(n->b, cx, fr, in, &tk.base);
}

/* .[from:to]: `from` is the outer loop, then `to`, then the term. */
typedef struct slice_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    ks_val from, to;
} slice_k_t;

static int slice_term_fn(const cont_t *k, ctx_t *cx, ks_val t)
{
    const slice_k_t *sk = CONT(slice_k_t, k);
    ks_val out;
    int rc = do_slice(cx, t, sk->from, sk->to, &out);
    return rc ? rc : ks__emit(sk->next, cx, out);
}

static int slice_to_fn(const cont_t *k, ctx_t *cx, ks_val to)
{
    const slice_k_t *sk = CONT(slice_k_t, k);
    slice_k_t t = *sk;
    t.base.fn = slice_term_fn;
    t.to = to;
    return sk->n->a->eval(sk->n->a, cx, sk->fr, sk->in, &t.base);
}

static int slice_from_fn(const cont_t *k, ctx_t *cx, ks_val from)
{
    const slice_k_t *sk = CONT(slice_k_t, k);
    slice_k_t t = *sk;
    t.base.fn = slice_to_fn;
    t.from = from;
    if (!sk->n->c)
        return slice_to_fn(&t.base, cx, ks_null());
    return sk->n->c->eval(sk->n->c, cx, sk->fr, sk->in, &t.base);
}

static int slice_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    slice_k_t sk = {{slice_from_fn}, n, fr, in, k, ks_null(), ks_null()};
    if (!n->b)
        return slice_from_fn(&sk.base, cx, ks_null());
    return n->b->eval(n->b, cx, fr, in, &sk.base);
}

typedef struct iter_k {
    cont_t base;
    const cont_t *next;
} iter_k_t;

static int iter_fn(const cont_t *k, ctx_t *cx, ks_val t)
{
    return ks__iterate(cx, t, CONT(iter_k_t, k)->next);
}

static int iter_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->a->op == OP_IDENTITY)
        return ks__iterate(cx, in, k);
    iter_k_t ik = {{iter_fn}, k};
    return n->a->eval(n->a, cx, fr, in, &ik.base);
}

/* ---- try, `?` ---- */

typedef struct try_k {
    cont_t base;
    const cont_t *next;
    int *downstream_failed;
} try_k_t;

static int try_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const try_k_t *tk = CONT(try_k_t, k);
    int rc = tk->next->fn(tk->next, cx, v);
    if (rc)
        *tk->downstream_failed = 1;
    return rc;
}

static int try_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    int downstream = 0;
    try_k_t tk = {{try_fn}, k, &downstream};
    int rc = n->a->eval(n->a, cx, fr, in, &tk.base);
    if (rc != RC_ERROR || downstream)
        return rc;
    ks_val err = cx->err;
    cx->err = ks_invalid();
    if (!n->b || err.kind == KS_NULL) {
        /* jq 1.6 treats error(null) as a silent backtrack. */
        ks_val_release(err);
        return RC_OK;
    }
    rc = n->b->eval(n->b, cx, fr, err, k);
    ks_val_release(err);
    return rc;
}

/* ---- strings, formats, arrays, objects ---- */

int ks__to_string(ks_val v, ks_val *out)
{
    if (v.kind == KS_STRING) {
        *out = ks_val_retain(v);
        return 0;
    }
    return ks__tojson(v, out);
}

static int string_part(ctx_t *cx, const node_t *n, ks_val v, ks_val *out)
{
    return n->name ? ks__format(cx, n->name, v, out) : ks__to_string(v, out);
}

typedef struct str_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    int i;          /* the part being evaluated: parts run last to first */
    ks_val *vals;   /* stringified parts */
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
        return ks__emit(sk->next, cx, r);
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

static int string_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    ks_val *vals = alloca((size_t)n->nargs * sizeof *vals);
    str_k_t sk = {{NULL}, n, fr, in, k, n->nargs - 1, vals};
    return str_step(&sk, cx, n->nargs - 1);
}

static int string_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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

static int format_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    (void)fr;
    return ks__format(cx, n->name, in, out);
}

typedef struct collect_k {
    cont_t base;
    ks_val *arr;
} collect_k_t;

static int collect_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    (void)cx;
    ks_arr_push(CONT(collect_k_t, k)->arr, ks_val_retain(v));
    return 0;
}

static int array_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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
        ks__dump_trunc(key, b, sizeof b);
        return ks__errorf(cx, "Cannot use %s (%s) as object key", ks_kind_name(key), b);
    }
    return 0;
}

static int object_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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

static int object_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    obj_k_t ok = {{NULL}, n, fr, in, k, 0, ks_invalid(), ks_invalid()};
    ks_val obj = ks_obj_new((size_t)n->nargs / 2);
    int rc = obj_step(&ok, cx, 0, obj);
    ks_val_release(obj);
    return rc;
}

/* ---- pipe and comma ---- */

typedef struct pipe_k {
    cont_t base;
    const node_t *b;
    frame_t *fr;
    const cont_t *next;
} pipe_k_t;

static int pipe_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const pipe_k_t *pk = CONT(pipe_k_t, k);
    return pk->b->eval(pk->b, cx, pk->fr, v, pk->next);
}

static int pipe_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->a->eval1) {
        ks_val v;
        int rc = n->a->eval1(n->a, cx, fr, in, &v);
        if (rc)
            return rc;
        rc = n->b->eval(n->b, cx, fr, v, k);
        ks_val_release(v);
        return rc;
    }
    pipe_k_t pk = {{pipe_fn}, n->b, fr, k};
    return n->a->eval(n->a, cx, fr, in, &pk.base);
}

static int pipe_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val v;
    int rc = n->a->eval1(n->a, cx, fr, in, &v);
    if (rc)
        return rc;
    rc = n->b->eval1(n->b, cx, fr, v, out);
    ks_val_release(v);
    return rc;
}

static int comma_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    int rc = n->a->eval(n->a, cx, fr, in, k);
    return rc ? rc : n->b->eval(n->b, cx, fr, in, k);
}

/* ---- arithmetic and comparison ---- */

static int type_error2(ctx_t *cx, ks_val a, ks_val b, const char *what)
{
    char ba[15], bb[15];
    ks__dump_trunc(a, ba, sizeof ba);
    ks__dump_trunc(b, bb, sizeof bb);
    return ks__errorf(cx, "%s (%s) and %s (%s) %s", ks_kind_name(a), ba, ks_kind_name(b), bb, what);
}

static ks_val deep_merge(ks_val a, ks_val b)
{
    ks_val r = ks_val_retain(a);
    for (uint32_t i = 0; i < b.o->len; i++) {
        ks_val bv = b.o->slots[i].val;
        const ks_val *av = ks_obj_get(r, b.o->slots[i].key->data, b.o->slots[i].key->len);
        ks_val nv = av && av->kind == KS_OBJECT && bv.kind == KS_OBJECT ? deep_merge(*av, bv) : ks_val_retain(bv);
        ks_obj_set(&r, ks_obj_key(b, i), nv);
    }
    return r;
}

static ks_val str_split(ks_val s, ks_val sep)
{
    ks_val r = ks_arr_new(4);
    const char *p = ks_str_data(s), *end = p + ks_str_len(s);
    size_t sl = ks_str_len(sep);
    if (ks_str_len(s) == 0)
        return r;
    if (sl == 0) {
        /* jq 1.6 splits into single bytes' worth of characters. */
        while (p < end) {
            uint32_t cp;
            int n = ks_utf8_decode(p, (size_t)(end - p), &cp);
            ks_arr_push(&r, ks_str_new(p, (size_t)n));
            p += n;
        }
        return r;
    }
    for (;;) {
        const char *q = p;
        while (q + sl <= end && memcmp(q, ks_str_data(sep), sl) != 0)
            q++;
        if (q + sl > end) {
            ks_arr_push(&r, ks_str_new(p, (size_t)(end - p)));
            return r;
        }
        ks_arr_push(&r, ks_str_new(p, (size_t)(q - p)));
        p = q + sl;
    }
}

ks_val ks__str_split(ks_val s, ks_val sep);
ks_val ks__str_split(ks_val s, ks_val sep)
{
    return str_split(s, sep);
}

int ks__arith(ctx_t *cx, int op, ks_val a, ks_val b, ks_val *out)
{
    switch (op) {
    case '+':
        if (a.kind == KS_NULL) {
            *out = ks_val_retain(b);
            return 0;
        }
        if (b.kind == KS_NULL) {
            *out = ks_val_retain(a);
            return 0;
        }
        if (a.kind == KS_NUMBER && b.kind == KS_NUMBER) {
            *out = ks_num(ks_num_get(a) + ks_num_get(b));
            return 0;
        }
        if (a.kind == KS_STRING && b.kind == KS_STRING) {
            *out = ks_str_concat(ks_val_retain(a), ks_val_retain(b));
            return 0;
        }
        if (a.kind == KS_ARRAY && b.kind == KS_ARRAY) {
            ks_val r = ks_val_retain(a);
            for (uint32_t i = 0; i < b.a->len; i++)
                ks_arr_push(&r, ks_val_retain(b.a->items[i]));
            *out = r;
            return 0;
        }
        if (a.kind == KS_OBJECT && b.kind == KS_OBJECT) {
            ks_val r = ks_val_retain(a);
            for (uint32_t i = 0; i < b.o->len; i++)
                ks_obj_set(&r, ks_obj_key(b, i), ks_val_retain(b.o->slots[i].val));
            *out = r;
            return 0;
        }
        return type_error2(cx, a, b, "cannot be added");
    case '-':
        if (a.kind == KS_NUMBER && b.kind == KS_NUMBER) {
            *out = ks_num(ks_num_get(a) - ks_num_get(b));
            return 0;
        }
        if (a.kind == KS_ARRAY && b.kind == KS_ARRAY) {
            ks_val r = ks_arr_new(a.a->len);
            for (uint32_t i = 0; i < a.a->len; i++) {
                int found = 0;
                for (uint32_t j = 0; j < b.a->len && !found; j++)
                    found = ks_val_equal(a.a->items[i], b.a->items[j]);
                if (!found)
                    ks_arr_push(&r, ks_val_retain(a.a->items[i]));
            }
            *out = r;
            return 0;
        }
        return type_error2(cx, a, b, "cannot be subtracted");
    case '*':
        if (a.kind == KS_NUMBER && b.kind == KS_NUMBER) {
            *out = ks_num(ks_num_get(a) * ks_num_get(b));
            return 0;
        }
        if ((a.kind == KS_STRING && b.kind == KS_NUMBER) || (a.kind == KS_NUMBER && b.kind == KS_STRING)) {
            ks_val s = a.kind == KS_STRING ? a : b;
            /* jq 1.6: repeat (int)(n - 1) + 1 times; null when that is below one. */
            double d = ks_num_get(a.kind == KS_NUMBER ? a : b) - 1;
            if (isnan(d) || d <= -1) {
                *out = ks_null();
                return 0;
            }
            size_t reps = (size_t)(d > 1e8 ? 1e8 : d < 0 ? 0 : d) + 1;
            size_t len = ks_str_len(s);
            if (len && reps > (512u << 20) / len)
                return ks__errorf(cx, "Repeat string result too long");
            char *dst;
            ks_val r = ks_str_alloc(len * reps, &dst);
            for (size_t i = 0; i < reps; i++)
                memcpy(dst + i * len, ks_str_data(s), len);
            *out = r;
            return 0;
        }
        if (a.kind == KS_OBJECT && b.kind == KS_OBJECT) {
            *out = deep_merge(a, b);
            return 0;
        }
        return type_error2(cx, a, b, "cannot be multiplied");
    case '/':
        if (a.kind == KS_NUMBER && b.kind == KS_NUMBER) {
            if (ks_num_get(b) == 0.0)
                return type_error2(cx, a, b, "cannot be divided because the divisor is zero");
            *out = ks_num(ks_num_get(a) / ks_num_get(b));
            return 0;
        }
        if (a.kind == KS_STRING && b.kind == KS_STRING) {
            *out = str_split(a, b);
            return 0;
        }
        return type_error2(cx, a, b, "cannot be divided");
    case '%':
        if (a.kind == KS_NUMBER && b.kind == KS_NUMBER) {
            double da = ks_num_get(a), db = ks_num_get(b);
            if (isnan(da) || isnan(db) || fabs(da) >= 9.2e18 || fabs(db) >= 9.2e18) {
                *out = ks_num(NAN);
                return 0;
            }
            intmax_t ia = (intmax_t)da, ib = (intmax_t)db;
            if (ib == 0)
                return type_error2(cx, a, b, "cannot be divided (remainder) because the divisor is zero");
            *out = ks_num(ib == -1 ? 0 : (double)(ia % ib));
            return 0;
        }
        return type_error2(cx, a, b, "cannot be divided (remainder)");
    case BOP_EQ: *out = ks_bool(ks_val_equal(a, b)); return 0;
    case BOP_NE: *out = ks_bool(!ks_val_equal(a, b)); return 0;
    case BOP_LT: *out = ks_bool(ks_val_cmp(a, b) < 0); return 0;
    case BOP_LE: *out = ks_bool(ks_val_cmp(a, b) <= 0); return 0;
    case BOP_GT: *out = ks_bool(ks_val_cmp(a, b) > 0); return 0;
    case BOP_GE: *out = ks_bool(ks_val_cmp(a, b) >= 0); return 0;
    }
    return ks__errorf(cx, "internal error: unknown operator");
}

static int binop_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val a, b;
    int rc = n->b->eval1(n->b, cx, fr, in, &b);
    if (rc)
        return rc;
    if ((rc = n->a->eval1(n->a, cx, fr, in, &a))) {
        ks_val_release(b);
        return rc;
    }
    rc = ks__arith(cx, n->binop, a, b, out);
    ks_val_release(a);
    ks_val_release(b);
    return rc;
}

typedef struct binop_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    ks_val rhs;
} binop_k_t;

static int binop_lhs_fn(const cont_t *k, ctx_t *cx, ks_val a)
{
    const binop_k_t *bk = CONT(binop_k_t, k);
    ks_val out;
    int rc = ks__arith(cx, bk->n->binop, a, bk->rhs, &out);
    return rc ? rc : ks__emit(bk->next, cx, out);
}

static int binop_rhs_fn(const cont_t *k, ctx_t *cx, ks_val b)
{
    binop_k_t k2 = *CONT(binop_k_t, k);
    k2.base.fn = binop_lhs_fn;
    k2.rhs = b;
    return k2.n->a->eval(k2.n->a, cx, k2.fr, k2.in, &k2.base);
}

static int binop_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    binop_k_t bk = {{binop_rhs_fn}, n, fr, in, k, ks_invalid()};
    return n->b->eval(n->b, cx, fr, in, &bk.base);
}

static int neg_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val v;
    int rc = n->a->eval1(n->a, cx, fr, in, &v);
    if (rc)
        return rc;
    if (v.kind != KS_NUMBER) {
        char b[15];
        ks__dump_trunc(v, b, sizeof b);
        rc = ks__errorf(cx, "%s (%s) cannot be negated", ks_kind_name(v), b);
        ks_val_release(v);
        return rc;
    }
    *out = ks_num(-ks_num_get(v));
    return 0;
}

typedef struct map1_k {
    cont_t base;
    const node_t *n;
    const cont_t *next;
} map1_k_t;

static int neg_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const map1_k_t *mk = CONT(map1_k_t, k);
    if (v.kind != KS_NUMBER) {
        char b[15];
        ks__dump_trunc(v, b, sizeof b);
        return ks__errorf(cx, "%s (%s) cannot be negated", ks_kind_name(v), b);
    }
    return ks__emit(mk->next, cx, ks_num(-ks_num_get(v)));
}

static int neg_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    map1_k_t mk = {{neg_fn}, n, k};
    return n->a->eval(n->a, cx, fr, in, &mk.base);
}

/* ---- and, or, // ---- */

typedef struct logic_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} logic_k_t;

static int truth_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const logic_k_t *lk = CONT(logic_k_t, k);
    return lk->next->fn(lk->next, cx, ks_bool(ks_is_truthy(v)));
}

static int logic_lhs_fn(const cont_t *k, ctx_t *cx, ks_val a)
{
    const logic_k_t *lk = CONT(logic_k_t, k);
    int is_and = lk->n->op == OP_AND;
    if (is_and && !ks_is_truthy(a))
        return lk->next->fn(lk->next, cx, ks_bool(0));
    if (!is_and && ks_is_truthy(a))
        return lk->next->fn(lk->next, cx, ks_bool(1));
    logic_k_t k2 = *lk;
    k2.base.fn = truth_fn;
    return lk->n->b->eval(lk->n->b, cx, lk->fr, lk->in, &k2.base);
}

static int logic_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    logic_k_t lk = {{logic_lhs_fn}, n, fr, in, k};
    return n->a->eval(n->a, cx, fr, in, &lk.base);
}

static int logic_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val a;
    int rc = n->a->eval1(n->a, cx, fr, in, &a);
    if (rc)
        return rc;
    int t = ks_is_truthy(a);
    ks_val_release(a);
    if ((n->op == OP_AND) != t) {
        *out = ks_bool(t);
        return 0;
    }
    if ((rc = n->b->eval1(n->b, cx, fr, in, &a)))
        return rc;
    *out = ks_bool(ks_is_truthy(a));
    ks_val_release(a);
    return 0;
}

typedef struct alt_k {
    cont_t base;
    const cont_t *next;
    int *any;
    int *downstream_failed;
} alt_k_t;

static int alt_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const alt_k_t *ak = CONT(alt_k_t, k);
    if (!ks_is_truthy(v))
        return 0;
    *ak->any = 1;
    int rc = ak->next->fn(ak->next, cx, v);
    if (rc)
        *ak->downstream_failed = 1;
    return rc;
}

static int alt_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    int any = 0, downstream = 0;
    alt_k_t ak = {{alt_fn}, k, &any, &downstream};
    int rc = n->a->eval(n->a, cx, fr, in, &ak.base);
    (void)downstream;
    if (rc || any)
        return rc;
    return n->b->eval(n->b, cx, fr, in, k);
}

static int alt_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val a;
    int rc = n->a->eval1(n->a, cx, fr, in, &a);
    if (rc) {
        return rc;
    } else if (ks_is_truthy(a)) {
        *out = a;
        return 0;
    } else {
        ks_val_release(a);
    }
    return n->b->eval1(n->b, cx, fr, in, out);
}

/* ---- if ---- */

typedef struct if_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} if_k_t;

static int if_fn(const cont_t *k, ctx_t *cx, ks_val c)
{
    const if_k_t *ik = CONT(if_k_t, k);
    const node_t *br = ks_is_truthy(c) ? ik->n->b : ik->n->c;
    if (!br)
        return ik->next->fn(ik->next, cx, ik->in);
    return br->eval(br, cx, ik->fr, ik->in, ik->next);
}

static int if_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->a->eval1) {
        ks_val c;
        int rc = n->a->eval1(n->a, cx, fr, in, &c);
        if (rc)
            return rc;
        const node_t *br = ks_is_truthy(c) ? n->b : n->c;
        ks_val_release(c);
        if (!br)
            return k->fn(k, cx, in);
        return br->eval(br, cx, fr, in, k);
    }
    if_k_t ik = {{if_fn}, n, fr, in, k};
    return n->a->eval(n->a, cx, fr, in, &ik.base);
}

static int if_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val c;
    int rc = n->a->eval1(n->a, cx, fr, in, &c);
    if (rc)
        return rc;
    const node_t *br = ks_is_truthy(c) ? n->b : n->c;
    ks_val_release(c);
    if (!br) {
        *out = ks_val_retain(in);
        return 0;
    }
    return br->eval1(br, cx, fr, in, out);
}

/* ---- variables, patterns, reduce, foreach ---- */

static int var_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    (void)cx, (void)in;
    ks_val v = ks__frame_up(fr, n->hops)->slots[n->slot];
    *out = v.kind == KS_INVALID ? ks_null() : ks_val_retain(v);
    return 0;
}

typedef struct bind_k {
    cont_t base;
    const pattern_t *pat;
    int i; /* pattern entry */
    frame_t *fr;
    ks_val in;    /* the input of the body */
    ks_val value; /* the value being destructured */
    const node_t *body;
    const cont_t *next;
    int pathmode;
    ks_val path;
    const pcont_t *pk;
} bind_k_t;

static int bind_entries(const bind_k_t *bk, ctx_t *cx, int i);

static int bind_body(const bind_k_t *bk, ctx_t *cx)
{
    if (bk->pathmode)
        return ks__path_eval(bk->body, cx, bk->fr, bk->in, bk->path, bk->pk);
    return bk->body->eval(bk->body, cx, bk->fr, bk->in, bk->next);
}

/* Continues after entry i's sub-pattern is bound. */
typedef struct bind_next_k {
    cont_t base;
    const bind_k_t *outer;
    int i;
} bind_next_k_t;

static int bind_sub_done(const cont_t *k, ctx_t *cx, ks_val unused)
{
    (void)unused;
    const bind_next_k_t *nk = CONT(bind_next_k_t, k);
    return bind_entries(nk->outer, cx, nk->i + 1);
}

static int bind_value(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val v, const bind_k_t *proto,
                      const cont_t *done);

static int bind_key_fn(const cont_t *k, ctx_t *cx, ks_val key)
{
    const bind_k_t *bk = CONT(bind_k_t, k);
    const struct pattern_entry *e = &bk->pat->ents[bk->i];
    ks_val v;
    int rc = ks__index(cx, bk->value, key, &v);
    if (rc)
        return rc;
    if (e->keyvar)
        bk->fr->slots[e->keyvar_slot] = v;
    if (e->sub) {
        bind_next_k_t nk = {{bind_sub_done}, bk, bk->i};
        rc = bind_value(e->sub, cx, bk->fr, v, bk, &nk.base);
    } else {
        rc = bind_entries(bk, cx, bk->i + 1);
    }
    ks_val_release(v);
    return rc;
}

static int bind_entries(const bind_k_t *bk, ctx_t *cx, int i)
{
    if (i >= bk->pat->n)
        return bk->next->fn(bk->next, cx, ks_null());
    bind_k_t k2 = *bk;
    k2.base.fn = bind_key_fn;
    k2.i = i;
    const node_t *key = bk->pat->ents[i].key;
    /* Keys of object patterns are evaluated with `.` as the body's input. */
    return key->eval(key, cx, bk->fr, bk->in, &k2.base);
}

/* Binds `pat` to `v`, then calls `done` (whose argument is unused). */
static int bind_value(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val v, const bind_k_t *proto,
                      const cont_t *done)
{
    if (pat->kind == 'v') {
        fr->slots[pat->slot] = v;
        return done->fn(done, cx, ks_null());
    }
    bind_k_t bk = *proto;
    bk.pat = pat;
    bk.value = v;
    bk.next = done;
    return bind_entries(&bk, cx, 0);
}

typedef struct body_k {
    cont_t base;
    const bind_k_t *bk;
} body_k_t;

static int run_body_fn(const cont_t *k, ctx_t *cx, ks_val unused)
{
    (void)unused;
    return bind_body(CONT(body_k_t, k)->bk, cx);
}

int ks__bind_pattern(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val in, ks_val v, const node_t *body,
                     const cont_t *k, int pathmode, ks_val path, const pcont_t *pk)
{
    if (pat->kind == 'v') {
        ks_val saved = fr->slots[pat->slot];
        fr->slots[pat->slot] = v;
        int rc = pathmode ? ks__path_eval(body, cx, fr, in, path, pk) : body->eval(body, cx, fr, in, k);
        fr->slots[pat->slot] = saved;
        return rc;
    }
    bind_k_t bk = {{NULL}, pat, 0, fr, in, v, body, k, pathmode, path, pk};
    body_k_t done = {{run_body_fn}, &bk};
    return bind_value(pat, cx, fr, v, &bk, &done.base);
}

typedef struct as_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} as_k_t;

static int as_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const as_k_t *ak = CONT(as_k_t, k);
    return ks__bind_pattern(ak->n->pat, cx, ak->fr, ak->in, v, ak->n->b, ak->next, 0, ks_invalid(), NULL);
}

static int as_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->a->eval1 && n->pat->kind == 'v') {
        ks_val v;
        int rc = n->a->eval1(n->a, cx, fr, in, &v);
        if (rc)
            return rc;
        ks_val saved = fr->slots[n->pat->slot];
        fr->slots[n->pat->slot] = v;
        rc = n->b->eval(n->b, cx, fr, in, k);
        fr->slots[n->pat->slot] = saved;
        ks_val_release(v);
        return rc;
    }
    as_k_t ak = {{as_fn}, n, fr, in, k};
    return n->a->eval(n->a, cx, fr, in, &ak.base);
}

static int as_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val v;
    int rc = n->a->eval1(n->a, cx, fr, in, &v);
    if (rc)
        return rc;
    ks_val saved = fr->slots[n->pat->slot];
    fr->slots[n->pat->slot] = v;
    rc = n->b->eval1(n->b, cx, fr, in, out);
    fr->slots[n->pat->slot] = saved;
    ks_val_release(v);
    return rc;
}

/*
 * reduce SRC as $x (INIT; UPDATE): the accumulator lives in a C local; each
 * source output binds the pattern and runs UPDATE on it. As in jq 1.6, the
 * last output of UPDATE wins and an empty UPDATE leaves null.
 */
typedef struct acc_k {
    cont_t base;
    ks_val *acc;
} acc_k_t;

static int acc_set_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    (void)cx;
    ks_val *acc = CONT(acc_k_t, k)->acc;
    ks_val_release(*acc);
    *acc = ks_val_retain(v);
    return 0;
}

typedef struct reduce_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val *acc;
    const cont_t *next; /* foreach: where extracted outputs go */
} reduce_k_t;

static int reduce_update_fn(const cont_t *k, ctx_t *cx, ks_val unused)
{
    (void)unused;
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    ks_val cur = *rk->acc;
    *rk->acc = ks_null();
    acc_k_t ak = {{acc_set_fn}, rk->acc};
    int rc = rk->n->c->eval(rk->n->c, cx, rk->fr, cur, &ak.base);
    ks_val_release(cur);
    return rc;
}

static int reduce_src_fn(const cont_t *k, ctx_t *cx, ks_val x)
{
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    reduce_k_t k2 = *rk;
    k2.base.fn = reduce_update_fn;
    bind_k_t bk = {{NULL}, rk->n->pat, 0, rk->fr, ks_null(), x, NULL, NULL, 0, ks_invalid(), NULL};
    return bind_value(rk->n->pat, cx, rk->fr, x, &bk, &k2.base);
}

typedef struct init_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} init_k_t;

static int reduce_init_fn(const cont_t *k, ctx_t *cx, ks_val init)
{
    const init_k_t *ik = CONT(init_k_t, k);
    ks_val acc = ks_val_retain(init);
    reduce_k_t rk = {{reduce_src_fn}, ik->n, ik->fr, &acc, NULL};
    int rc = ik->n->a->eval(ik->n->a, cx, ik->fr, ik->in, &rk.base);
    if (!rc)
        rc = ik->next->fn(ik->next, cx, acc);
    ks_val_release(acc);
    return rc;
}

static int reduce_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    init_k_t ik = {{reduce_init_fn}, n, fr, in, k};
    return n->b->eval(n->b, cx, fr, in, &ik.base);
}

typedef struct fe_state_k {
    cont_t base;
    const reduce_k_t *rk;
} fe_state_k_t;

static int foreach_state_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const reduce_k_t *rk = CONT(fe_state_k_t, k)->rk;
    ks_val_release(*rk->acc);
    *rk->acc = ks_val_retain(v);
    if (!rk->n->d)
        return rk->next->fn(rk->next, cx, v);
    return rk->n->d->eval(rk->n->d, cx, rk->fr, v, rk->next);
}

static int foreach_update_fn(const cont_t *k, ctx_t *cx, ks_val unused)
{
    (void)unused;
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    ks_val cur = *rk->acc;
    *rk->acc = ks_null();
    fe_state_k_t sk = {{foreach_state_fn}, rk};
    int rc = rk->n->c->eval(rk->n->c, cx, rk->fr, cur, &sk.base);
    ks_val_release(cur);
    return rc;
}

static int foreach_src_fn(const cont_t *k, ctx_t *cx, ks_val x)
{
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    reduce_k_t k2 = *rk;
    k2.base.fn = foreach_update_fn;
    bind_k_t bk = {{NULL}, rk->n->pat, 0, rk->fr, ks_null(), x, NULL, NULL, 0, ks_invalid(), NULL};
    return bind_value(rk->n->pat, cx, rk->fr, x, &bk, &k2.base);
}

static int foreach_init_fn(const cont_t *k, ctx_t *cx, ks_val init)
{
    const init_k_t *ik = CONT(init_k_t, k);
    ks_val acc = ks_val_retain(init);
    reduce_k_t rk = {{foreach_src_fn}, ik->n, ik->fr, &acc, ik->next};
    int rc = ik->n->a->eval(ik->n->a, cx, ik->fr, ik->in, &rk.base);
    ks_val_release(acc);
    return rc;
}

static int foreach_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    init_k_t ik = {{foreach_init_fn}, n, fr, in, k};
    return n->b->eval(n->b, cx, fr, in, &ik.base);
}

/* ---- def, label, break ---- */

static int funcdef_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return n->a->eval(n->a, cx, fr, in, k);
}

static int funcdef_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    return n->a->eval1(n->a, cx, fr, in, out);
}

static int label_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    double id = ++cx->next_label;
    ks_val saved = fr->slots[n->slot];
    fr->slots[n->slot] = ks_num(id);
    int rc = n->a->eval(n->a, cx, fr, in, k);
    fr->slots[n->slot] = saved;
    if (rc == RC_BREAK && cx->break_id == id)
        rc = RC_OK;
    return rc;
}

static int break_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    (void)in, (void)k;
    cx->break_id = ks__frame_up(fr, n->hops)->slots[n->slot].d;
    return RC_BREAK;
}

/* ---- calls ---- */

static int enter_call(ctx_t *cx)
{
    char here;
    if (++cx->depth > MAX_CALL_DEPTH || (size_t)(cx->stack_base - &here) > MAX_STACK_BYTES) {
        cx->depth--;
        return ks__errorf(cx, "recursion too deep (more than %d nested calls or %u bytes of stack)", MAX_CALL_DEPTH,
                          MAX_STACK_BYTES);
    }
    return 0;
}

typedef struct vparam_k {
    cont_t base;
    const node_t *call;
    frame_t *caller;
    frame_t *callee;
    ks_val in;
    const cont_t *next;
    int i;
    int pathmode;
    ks_val path;
    const pcont_t *pk;
} vparam_k_t;

static int bind_vparams(const vparam_k_t *vk, ctx_t *cx, int i);

static int vparam_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const vparam_k_t *vk = CONT(vparam_k_t, k);
    const funcdef_t *fd = vk->call->fn;
    vk->callee->slots[fd->param_slot[vk->i]] = v;
    return bind_vparams(vk, cx, vk->i + 1);
}

static int bind_vparams(const vparam_k_t *vk, ctx_t *cx, int i)
{
    const funcdef_t *fd = vk->call->fn;
    while (i < fd->nparams && fd->param_slot[i] < 0)
        i++;
    if (i >= fd->nparams) {
        if (vk->pathmode)
            return ks__path_eval(fd->body, cx, vk->callee, vk->in, vk->path, vk->pk);
        return fd->body->eval(fd->body, cx, vk->callee, vk->in, vk->next);
    }
    vparam_k_t k2 = *vk;
    k2.base.fn = vparam_fn;
    k2.i = i;
    const node_t *arg = vk->call->args[i];
    return arg->eval(arg, cx, vk->caller, vk->in, &k2.base);
}

static int call_user(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k, int pathmode, ks_val path,
                     const pcont_t *pk)
{
    const funcdef_t *fd = n->fn;
    if (enter_call(cx))
        return RC_ERROR;
    frame_t callee;
    callee.up = n->hops < 0 ? NULL : ks__frame_up(fr, n->hops);
    closure_t *args = fd->nparams ? alloca((size_t)fd->nparams * sizeof *args) : NULL;
    int has_vparams = 0;
    for (int i = 0; i < fd->nparams; i++) {
        args[i].body = n->args[i];
        args[i].fr = fr;
        has_vparams |= fd->param_slot[i] >= 0;
    }
    callee.args = args;
    callee.slots = fd->nslots ? alloca((size_t)fd->nslots * sizeof(ks_val)) : NULL;
    if (fd->nslots)
        memset(callee.slots, 0, (size_t)fd->nslots * sizeof(ks_val));
    int rc;
    if (has_vparams) {
        vparam_k_t vk = {{NULL}, n, fr, &callee, in, k, 0, pathmode, path, pk};
        rc = bind_vparams(&vk, cx, 0);
    } else if (pathmode) {
        rc = ks__path_eval(fd->body, cx, &callee, in, path, pk);
    } else {
        rc = fd->body->eval(fd->body, cx, &callee, in, k);
    }
    cx->depth--;
    return rc;
}

int ks__eval_closure(const closure_t *cl, ctx_t *cx, ks_val in, const cont_t *k)
{
    return cl->body->eval(cl->body, cx, cl->fr, in, k);
}

/* Value builtins: arguments are evaluated last-first into values. */
typedef struct cargs_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    ks_val *vals;
    int i;
} cargs_k_t;

static int cargs_step(const cargs_k_t *ck, ctx_t *cx, int i);

static int cargs_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const cargs_k_t *ck = CONT(cargs_k_t, k);
    ck->vals[ck->i] = v;
    return cargs_step(ck, cx, ck->i - 1);
}

static int cargs_step(const cargs_k_t *ck, ctx_t *cx, int i)
{
    if (i < 0) {
        ks_val out;
        int rc = ck->n->bi->cfunc(cx, ck->in, ck->vals, &out);
        return rc ? rc : ks__emit(ck->next, cx, out);
    }
    cargs_k_t k2 = *ck;
    k2.base.fn = cargs_fn;
    k2.i = i;
    const node_t *arg = ck->n->args[i];
    return arg->eval(arg, cx, ck->fr, ck->in, &k2.base);
}

static int cfunc_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val vals[4];
    int i, rc = 0;
    for (i = n->nargs - 1; i >= 0; i--)
        if ((rc = n->args[i]->eval1(n->args[i], cx, fr, in, &vals[i])))
            break;
    if (!rc)
        rc = n->bi->cfunc(cx, in, vals, out);
    for (int j = n->nargs - 1; j > i; j--)
        ks_val_release(vals[j]);
    return rc;
}

int ks__call_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    switch (n->call_kind) {
    case CALL_FUNC:
        return call_user(n, cx, fr, in, k, 0, ks_invalid(), NULL);
    case CALL_PARAM: {
        frame_t *f = ks__frame_up(fr, n->hops);
        const closure_t *cl = &f->args[n->slot];
        if (enter_call(cx))
            return RC_ERROR;
        int rc = cl->body->eval(cl->body, cx, cl->fr, in, k);
        cx->depth--;
        return rc;
    }
    default:
        if (n->bi->native)
            return n->bi->native(n, cx, fr, in, k);
        if (n->nargs == 0) {
            ks_val out;
            int rc = n->bi->cfunc(cx, in, NULL, &out);
            return rc ? rc : ks__emit(k, cx, out);
        }
        {
            ks_val vals[4];
            cargs_k_t ck = {{NULL}, n, fr, in, k, vals, n->nargs - 1};
            return cargs_step(&ck, cx, n->nargs - 1);
        }
    }
}

int ks__call_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    switch (n->call_kind) {
    case CALL_FUNC:
        return call_user(n, cx, fr, in, NULL, 1, path, k);
    case CALL_PARAM: {
        frame_t *f = ks__frame_up(fr, n->hops);
        const closure_t *cl = &f->args[n->slot];
        if (enter_call(cx))
            return RC_ERROR;
        int rc = ks__path_eval(cl->body, cx, cl->fr, in, path, k);
        cx->depth--;
        return rc;
    }
    default:
        if (n->bi->npath)
            return n->bi->npath(n, cx, fr, in, path, k);
        return -100; /* not a path builtin: the caller reports it */
    }
}

/* ---- evaluator selection ---- */

static int all_eval1(node_t *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i]->eval1)
            return 0;
    return 1;
}

void ks__set_evaluators(node_t *n)
{
    n->eval = NULL;
    n->eval1 = NULL;
    switch (n->op) {
    case OP_IDENTITY: n->eval = identity_eval; n->eval1 = identity_eval1; break;
    case OP_LITERAL: n->eval1 = literal_eval1; break;
    case OP_FIELD:
        if (!n->a || n->a->eval1)
            n->eval1 = field_eval1;
        else
            n->eval = field_eval;
        break;
    case OP_INDEX:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = index_eval1;
        else
            n->eval = index_eval;
        break;
    case OP_SLICE: n->eval = slice_eval; break;
    case OP_ITER: n->eval = iter_eval; break;
    case OP_TRY: n->eval = try_eval; break;
    case OP_STRING:
        if (all_eval1(n->args, n->nargs))
            n->eval1 = string_eval1;
        else
            n->eval = string_eval;
        break;
    case OP_FORMAT: n->eval1 = format_eval1; break;
    case OP_ARRAY: n->eval1 = array_eval1; break;
    case OP_OBJECT:
        if (all_eval1(n->args, n->nargs))
            n->eval1 = object_eval1;
        else
            n->eval = object_eval;
        break;
    case OP_PIPE:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = pipe_eval1;
        else
            n->eval = pipe_eval;
        break;
    case OP_COMMA: n->eval = comma_eval; break;
    case OP_NEG:
        if (n->a->eval1)
            n->eval1 = neg_eval1;
        else
            n->eval = neg_eval;
        break;
    case OP_BINOP:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = binop_eval1;
        else
            n->eval = binop_eval;
        break;
    case OP_AND:
    case OP_OR:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = logic_eval1;
        else
            n->eval = logic_eval;
        break;
    case OP_ALT:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = alt_eval1;
        else
            n->eval = alt_eval;
        break;
    case OP_ASSIGN: n->eval = ks__eval_assign; break;
    case OP_IF:
        if (n->a->eval1 && n->b->eval1 && (!n->c || n->c->eval1))
            n->eval1 = if_eval1;
        else
            n->eval = if_eval;
        break;
    case OP_REDUCE: n->eval = reduce_eval; break;
    case OP_FOREACH: n->eval = foreach_eval; break;
    case OP_AS:
        if (n->pat->kind == 'v' && n->a->eval1 && n->b->eval1)
            n->eval1 = as_eval1;
        else
            n->eval = as_eval;
        break;
    case OP_FUNCDEF:
        if (n->a->eval1)
            n->eval1 = funcdef_eval1;
        else
            n->eval = funcdef_eval;
        break;
    case OP_CALL:
        if (n->call_kind == CALL_BUILTIN && n->bi->cfunc && all_eval1(n->args, n->nargs))
            n->eval1 = cfunc_eval1;
        else
            n->eval = ks__call_eval;
        break;
    case OP_VAR: n->eval1 = var_eval1; break;
    case OP_LABEL: n->eval = label_eval; break;
    case OP_BREAK: n->eval = break_eval; break;
    }
    if (!n->eval)
        n->eval = eval_via1;
    ks__set_path_fns(n);
}
