/*
 * arith.c: jq's arithmetic and comparison operators on values, with jq 1.6's
 * error messages, and the evaluators of binary operators and negation.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "expr_int.h"

#define CONT(type, k) ((const type *)(const void *)(k))

/* ---- arithmetic and comparison ---- */

static int type_error2(ctx_t *cx, ks_val a, ks_val b, const char *what)
{
    char ba[15], bb[15];
    ks__expr_dump_trunc(a, ba, sizeof ba);
    ks__expr_dump_trunc(b, bb, sizeof bb);
    return ks__expr_errorf(cx, "%s (%s) and %s (%s) %s", ks_kind_name(a), ba, ks_kind_name(b), bb, what);
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

ks_val ks__expr_str_split(ks_val s, ks_val sep);
ks_val ks__expr_str_split(ks_val s, ks_val sep)
{
    return str_split(s, sep);
}

int ks__expr_arith(ctx_t *cx, int op, ks_val a, ks_val b, ks_val *out)
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
                return ks__expr_errorf(cx, "Repeat string result too long");
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
    return ks__expr_errorf(cx, "internal error: unknown operator");
}

int ks__expr_binop_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val a, b;
    int rc = n->b->eval1(n->b, cx, fr, in, &b);
    if (rc)
        return rc;
    if ((rc = n->a->eval1(n->a, cx, fr, in, &a))) {
        ks_val_release(b);
        return rc;
    }
    rc = ks__expr_arith(cx, n->binop, a, b, out);
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
    int rc = ks__expr_arith(cx, bk->n->binop, a, bk->rhs, &out);
    return rc ? rc : ks__expr_emit(bk->next, cx, out);
}

static int binop_rhs_fn(const cont_t *k, ctx_t *cx, ks_val b)
{
    binop_k_t k2 = *CONT(binop_k_t, k);
    k2.base.fn = binop_lhs_fn;
    k2.rhs = b;
    return k2.n->a->eval(k2.n->a, cx, k2.fr, k2.in, &k2.base);
}

int ks__expr_binop_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    binop_k_t bk = {{binop_rhs_fn}, n, fr, in, k, ks_invalid()};
    return n->b->eval(n->b, cx, fr, in, &bk.base);
}

int ks__expr_neg_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val v;
    int rc = n->a->eval1(n->a, cx, fr, in, &v);
    if (rc)
        return rc;
    if (v.kind != KS_NUMBER) {
        char b[15];
        ks__expr_dump_trunc(v, b, sizeof b);
        rc = ks__expr_errorf(cx, "%s (%s) cannot be negated", ks_kind_name(v), b);
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
        ks__expr_dump_trunc(v, b, sizeof b);
        return ks__expr_errorf(cx, "%s (%s) cannot be negated", ks_kind_name(v), b);
    }
    return ks__expr_emit(mk->next, cx, ks_num(-ks_num_get(v)));
}

int ks__expr_neg_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    map1_k_t mk = {{neg_fn}, n, k};
    return n->a->eval(n->a, cx, fr, in, &mk.base);
}
