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

#define CONT(type, k) ((const type *)(const void *)(k))

int ks__expr_emit(const cont_t *k, ctx_t *cx, ks_val v)
{
    int rc = k->fn(k, cx, v);
    ks_val_release(v);
    return rc;
}

int ks__expr_error(ctx_t *cx, ks_val msg)
{
    ks_val_release(cx->err);
    cx->err = msg;
    return RC_ERROR;
}

int ks__expr_errorf(ctx_t *cx, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ks__expr_error(cx, ks_str_cstr(buf));
}

/* jq's jv_dump_string_trunc with a 15-byte buffer: at most 14 bytes, "..." when cut. */
void ks__expr_dump_trunc(ks_val v, char *buf, size_t size)
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

int ks__expr_type_error(ctx_t *cx, ks_val v, const char *what)
{
    char b[15];
    ks__expr_dump_trunc(v, b, sizeof b);
    return ks__expr_errorf(cx, "%s (%s) %s", ks_kind_name(v), b, what);
}

frame_t *ks__expr_frame_up(frame_t *fr, int hops)
{
    while (hops-- > 0)
        fr = fr->up;
    return fr;
}

int ks__expr_eval_node(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
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
    return ks__expr_emit(k, cx, out);
}

typedef struct first_k {
    cont_t base;
    ks_val *out;
} first_k_t;

static int first_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    *CONT(first_k_t, k)->out = ks_val_retain(v);
    return RC_BREAK;
}

int ks__expr_collect1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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
            return ks__expr_errorf(cx, "Start and end indices of an array slice must be numbers");
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
            return ks__expr_errorf(cx, "Start and end indices of an string slice must be numbers");
        size_t bs = utf8_offset(ks_str_data(t), ks_str_len(t), s);
        size_t be = bs + utf8_offset(ks_str_data(t) + bs, ks_str_len(t) - bs, e - s);
        *out = ks_str_new(ks_str_data(t) + bs, be - bs);
        return 0;
    }
    return ks__expr_errorf(cx, "Cannot index %s with object", ks_kind_name(t));
}

int ks__expr_index(ctx_t *cx, ks_val t, ks_val k, ks_val *out)
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
        return ks__expr_errorf(cx, "Cannot index %s with string \"%s\"", ks_kind_name(t), ks_str_data(k));
    return ks__expr_errorf(cx, "Cannot index %s with %s", ks_kind_name(t), ks_kind_name(k));
}

int ks__expr_iterate(ctx_t *cx, ks_val t, const cont_t *k)
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
    ks__expr_dump_trunc(t, b, sizeof b);
    return ks__expr_errorf(cx, "Cannot iterate over %s (%s)", ks_kind_name(t), b);
}

/* ---- . and .key ---- */

static int identity_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    *out = ks_val_retain(in);
    return 0;
}

static int identity_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return k->fn(k, cx, in);
}

static int literal_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    *out = n->konst; /* static: no count */
    return 0;
}

static int field_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    if (!n->a)
        return ks__expr_index(cx, in, n->konst, out);
    ks_val t;
    int rc = n->a->eval1(n->a, cx, fr, in, &t);
    if (rc)
        return rc;
    rc = ks__expr_index(cx, t, n->konst, out);
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
    int rc = ks__expr_index(cx, t, ik->key, &out);
    return rc ? rc : ks__expr_emit(ik->next, cx, out);
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
        rc = ks__expr_index(cx, t, key, out);
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
    return rc ? rc : ks__expr_emit(sk->next, cx, out);
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
    return ks__expr_iterate(cx, t, CONT(iter_k_t, k)->next);
}

static int iter_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->a->op == OP_IDENTITY)
        return ks__expr_iterate(cx, in, k);
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

/* ---- evaluator selection ---- */

static int all_eval1(node_t *const *v, int n)
{
    for (int i = 0; i < n; i++)
        if (!v[i]->eval1)
            return 0;
    return 1;
}

void ks__expr_set_evaluators(node_t *n)
{
    n->eval = NULL;
    n->eval1 = NULL;
    switch (n->op) {
    case OP_IDENTITY:
        n->eval = identity_eval;
        n->eval1 = identity_eval1;
        break;
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
            n->eval1 = ks__expr_string_eval1;
        else
            n->eval = ks__expr_string_eval;
        break;
    case OP_FORMAT: n->eval1 = ks__expr_format_eval1; break;
    case OP_ARRAY: n->eval1 = ks__expr_array_eval1; break;
    case OP_OBJECT:
        if (all_eval1(n->args, n->nargs))
            n->eval1 = ks__expr_object_eval1;
        else
            n->eval = ks__expr_object_eval;
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
            n->eval1 = ks__expr_neg_eval1;
        else
            n->eval = ks__expr_neg_eval;
        break;
    case OP_BINOP:
        if (n->a->eval1 && n->b->eval1)
            n->eval1 = ks__expr_binop_eval1;
        else
            n->eval = ks__expr_binop_eval;
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
    case OP_ASSIGN: n->eval = ks__expr_eval_assign; break;
    case OP_IF:
        if (n->a->eval1 && n->b->eval1 && (!n->c || n->c->eval1))
            n->eval1 = if_eval1;
        else
            n->eval = if_eval;
        break;
    case OP_REDUCE: n->eval = ks__expr_reduce_eval; break;
    case OP_FOREACH: n->eval = ks__expr_foreach_eval; break;
    case OP_AS:
        if (n->pat->kind == 'v' && n->a->eval1 && n->b->eval1)
            n->eval1 = ks__expr_as_eval1;
        else
            n->eval = ks__expr_as_eval;
        break;
    case OP_FUNCDEF:
        if (n->a->eval1)
            n->eval1 = ks__expr_funcdef_eval1;
        else
            n->eval = ks__expr_funcdef_eval;
        break;
    case OP_CALL:
        if (n->call_kind == CALL_BUILTIN && n->bi->cfunc && all_eval1(n->args, n->nargs))
            n->eval1 = ks__expr_cfunc_eval1;
        else if (n->call_kind == CALL_BUILTIN && ks__expr_builtin_eval1(n->bi))
            n->eval1 = ks__expr_builtin_eval1(n->bi);
        else
            n->eval = ks__expr_call_eval;
        break;
    case OP_VAR: n->eval1 = ks__expr_var_eval1; break;
    case OP_LABEL: n->eval = ks__expr_label_eval; break;
    case OP_BREAK: n->eval = ks__expr_break_eval; break;
    }
    if (!n->eval)
        n->eval = eval_via1;
    ks__expr_set_path_fns(n);
}
