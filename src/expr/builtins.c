/*
 * builtins.c: builtins implemented in C: types, collections, math, paths
 * and the generators (`range`, `limit`, `empty`, ...). String, regex,
 * format and date builtins are in builtins_str.c; the rest is written in
 * jq in prelude.c.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "expr_int.h"

#define CF(name) static int name(ctx_t *cx, ks_val in, const ks_val *args, ks_val *out)

CF(f_length)
{
    switch (in.kind) {
    case KS_NULL: *out = ks_num(0); return 0;
    case KS_NUMBER: *out = ks_num(fabs(ks_num_get(in))); return 0;
    case KS_STRING: {
        size_t n = 0;
        for (size_t i = 0; i < ks_str_len(in); i++)
            n += ((unsigned char)ks_str_data(in)[i] & 0xc0) != 0x80;
        *out = ks_num((double)n);
        return 0;
    }
    case KS_ARRAY: *out = ks_num(ks_arr_len(in)); return 0;
    case KS_OBJECT: *out = ks_num(ks_obj_len(in)); return 0;
    default: return ks__expr_type_error(cx, in, "has no length");
    }
}

CF(f_utf8bytelength)
{
    if (in.kind != KS_STRING)
        return ks__expr_type_error(cx, in, "only strings have UTF-8 byte length");
    *out = ks_num(ks_str_len(in));
    return 0;
}

CF(f_not)
{
    *out = ks_bool(!ks_is_truthy(in));
    return 0;
}

CF(f_type)
{
    *out = ks_str_cstr(ks_kind_name(in));
    return 0;
}

static int keys_impl(ctx_t *cx, ks_val in, ks_val *out, int sorted)
{
    if (in.kind == KS_OBJECT) {
        if (sorted) {
            *out = ks_obj_sorted_keys(in);
        } else {
            ks_val r = ks_arr_new(ks_obj_len(in));
            for (size_t i = 0; i < ks_obj_len(in); i++)
                ks_arr_push(&r, ks_obj_key(in, i));
            *out = r;
        }
        return 0;
    }
    if (in.kind == KS_ARRAY) {
        ks_val r = ks_arr_new(ks_arr_len(in));
        for (size_t i = 0; i < ks_arr_len(in); i++)
            ks_arr_push(&r, ks_num((double)i));
        *out = r;
        return 0;
    }
    return ks__expr_type_error(cx, in, "has no keys");
}

CF(f_keys)
{
    return keys_impl(cx, in, out, 1);
}
CF(f_keys_unsorted)
{
    return keys_impl(cx, in, out, 0);
}

CF(f_has)
{
    ks_val k = args[0];
    if (in.kind == KS_OBJECT && k.kind == KS_STRING) {
        *out = ks_bool(ks_obj_get(in, ks_str_data(k), ks_str_len(k)) != NULL);
        return 0;
    }
    if (in.kind == KS_ARRAY && k.kind == KS_NUMBER) {
        double d = ks_num_get(k);
        *out = ks_bool(d >= 0 && d < (double)ks_arr_len(in));
        return 0;
    }
    return ks__expr_errorf(cx, "Cannot check whether %s has a %s key", ks_kind_name(in), ks_kind_name(k));
}

/* jq's jv_contains: kinds must match; strings by substring, containers recursively. */
static int contains(ks_val a, ks_val b)
{
    if (a.kind != b.kind)
        return 0;
    if (a.kind == KS_OBJECT) {
        for (uint32_t i = 0; i < b.o->len; i++) {
            const ks_val *av = ks_obj_get(a, b.o->slots[i].key->data, b.o->slots[i].key->len);
            if (!av || !contains(*av, b.o->slots[i].val))
                return 0;
        }
        return 1;
    }
    if (a.kind == KS_ARRAY) {
        for (uint32_t i = 0; i < b.a->len; i++) {
            int found = 0;
            for (uint32_t j = 0; j < a.a->len && !found; j++)
                found = contains(a.a->items[j], b.a->items[i]);
            if (!found)
                return 0;
        }
        return 1;
    }
    if (a.kind == KS_STRING)
        return strstr(ks_str_data(a), ks_str_data(b)) != NULL;
    return ks_val_equal(a, b);
}

CF(f_contains)
{
    ks_val b = args[0];
    if (in.kind != b.kind) {
        char b1[15], b2[15];
        ks__expr_dump_trunc(in, b1, sizeof b1);
        ks__expr_dump_trunc(b, b2, sizeof b2);
        return ks__expr_errorf(cx, "%s (%s) and %s (%s) cannot have their containment checked", ks_kind_name(in), b1,
                               ks_kind_name(b), b2);
    }
    *out = ks_bool(contains(in, b));
    return 0;
}

CF(f_add)
{
    if (in.kind == KS_OBJECT || in.kind == KS_ARRAY) {
        ks_val acc = ks_null();
        size_t n = in.kind == KS_ARRAY ? ks_arr_len(in) : ks_obj_len(in);
        for (size_t i = 0; i < n; i++) {
            ks_val x = in.kind == KS_ARRAY ? in.a->items[i] : in.o->slots[i].val, r;
            int rc = ks__expr_arith(cx, '+', acc, x, &r);
            ks_val_release(acc);
            if (rc)
                return rc;
            acc = r;
        }
        *out = acc;
        return 0;
    }
    char b[15];
    ks__expr_dump_trunc(in, b, sizeof b);
    return ks__expr_errorf(cx, "Cannot iterate over %s (%s)", ks_kind_name(in), b);
}

CF(f_tostring)
{
    return ks__expr_to_string(in, out);
}
CF(f_tojson)
{
    return ks__expr_tojson(in, out);
}

CF(f_fromjson)
{
    if (in.kind != KS_STRING)
        return ks__expr_type_error(cx, in, "only strings can be parsed");
    char err[160];
    if (ks_json_parse(ks_str_data(in), ks_str_len(in), out, err, sizeof err))
        return ks__expr_errorf(cx, "%s (while parsing '%s')", err, ks_str_data(in));
    return 0;
}

CF(f_tonumber)
{
    if (in.kind == KS_NUMBER) {
        *out = in;
        return 0;
    }
    if (in.kind == KS_STRING) {
        ks_val v;
        char err[160];
        if (ks_json_parse(ks_str_data(in), ks_str_len(in), &v, err, sizeof err))
            return ks__expr_errorf(cx, "%s (while parsing '%s')", err, ks_str_data(in));
        if (v.kind == KS_NUMBER) {
            *out = v;
            return 0;
        }
        ks_val_release(v);
    }
    return ks__expr_type_error(cx, in, "cannot be parsed as a number");
}

/* error(null) is a silent backtrack in jq 1.6: it produces no output and no error. */
static int raise_value(ctx_t *cx, ks_val v)
{
    return v.kind == KS_NULL ? RC_OK : ks__expr_error(cx, ks_val_retain(v));
}

static int raise_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    return raise_value(cx, v);
}

static int n_error(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (call->nargs == 0)
        return raise_value(cx, in);
    cont_t rk = {raise_fn};
    return call->args[0]->eval(call->args[0], cx, fr, in, &rk);
}

/* ---- sorting and grouping ---- */

static int need_array(ctx_t *cx, ks_val v, const char *what)
{
    if (v.kind == KS_ARRAY)
        return 0;
    return ks__expr_type_error(cx, v, what);
}

CF(f_sort)
{
    if (need_array(cx, in, "cannot be sorted, as it is not an array"))
        return RC_ERROR;
    ks_val r = ks_val_retain(in);
    ks_val_unshare(&r);
    ks_val_sort(r.a->items, r.a->len);
    *out = r;
    return 0;
}

/* Pairs of (key, index) sorted stably by key. */
typedef struct keyed {
    ks_val key;
    size_t idx;
} keyed_t;

static int keyed_cmp(const void *x, const void *y)
{
    const keyed_t *a = x, *b = y;
    int r = ks_val_cmp(a->key, b->key);
    return r ? r : (a->idx < b->idx ? -1 : a->idx > b->idx);
}

static keyed_t *sort_keyed(ctx_t *cx, ks_val in, ks_val keys, const char *what)
{
    if (need_array(cx, in, what))
        return NULL;
    if (keys.kind != KS_ARRAY || ks_arr_len(keys) != ks_arr_len(in)) {
        ks__expr_errorf(cx, "%s", "_sort_by_impl requires keys of the same length");
        return NULL;
    }
    size_t n = ks_arr_len(in);
    keyed_t *k = ks_xmalloc((n ? n : 1) * sizeof *k);
    for (size_t i = 0; i < n; i++) {
        k[i].key = keys.a->items[i];
        k[i].idx = i;
    }
    qsort(k, n, sizeof *k, keyed_cmp);
    return k;
}

CF(f_sort_by_impl)
{
    keyed_t *k = sort_keyed(cx, in, args[0], "cannot be sorted, as it is not an array");
    if (!k)
        return RC_ERROR;
    size_t n = ks_arr_len(in);
    ks_val r = ks_arr_new(n);
    for (size_t i = 0; i < n; i++)
        r.a->items[i] = ks_val_retain(in.a->items[k[i].idx]);
    r.a->len = (uint32_t)n;
    free(k);
    *out = r;
    return 0;
}

CF(f_group_by_impl)
{
    keyed_t *k = sort_keyed(cx, in, args[0], "cannot be grouped, as it is not an array");
    if (!k)
        return RC_ERROR;
    size_t n = ks_arr_len(in);
    ks_val r = ks_arr_new(4), group = ks_invalid();
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || ks_val_cmp(k[i - 1].key, k[i].key) != 0) {
            if (i)
                ks_arr_push(&r, group);
            group = ks_arr_new(4);
        }
        ks_arr_push(&group, ks_val_retain(in.a->items[k[i].idx]));
    }
    if (n)
        ks_arr_push(&r, group);
    free(k);
    *out = r;
    return 0;
}

CF(f_unique_by_impl)
{
    keyed_t *k = sort_keyed(cx, in, args[0], "cannot be grouped, as it is not an array");
    if (!k)
        return RC_ERROR;
    size_t n = ks_arr_len(in);
    ks_val r = ks_arr_new(4);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ks_val_cmp(k[i - 1].key, k[i].key) != 0)
            ks_arr_push(&r, ks_val_retain(in.a->items[k[i].idx]));
    free(k);
    *out = r;
    return 0;
}

static int minmax_by(ctx_t *cx, ks_val in, ks_val keys, int want_max, ks_val *out)
{
    if (need_array(cx, in, "cannot be iterated over"))
        return RC_ERROR;
    if (keys.kind != KS_ARRAY || ks_arr_len(keys) != ks_arr_len(in))
        return ks__expr_errorf(cx, "%s", "Cannot compare keys of different lengths");
    size_t n = ks_arr_len(in), best = 0;
    if (n == 0) {
        *out = ks_null();
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        int c = ks_val_cmp(keys.a->items[i], keys.a->items[best]);
        if (want_max ? c >= 0 : c < 0)
            best = i;
    }
    *out = ks_val_retain(in.a->items[best]);
    return 0;
}

CF(f_min_by_impl)
{
    return minmax_by(cx, in, args[0], 0, out);
}
CF(f_max_by_impl)
{
    return minmax_by(cx, in, args[0], 1, out);
}
CF(f_min)
{
    return minmax_by(cx, in, in, 0, out);
}
CF(f_max)
{
    return minmax_by(cx, in, in, 1, out);
}

CF(f_unique)
{
    return f_unique_by_impl(cx, in, &in, out);
}

/* ---- paths ---- */

CF(f_getpath)
{
    return ks__expr_getpath(cx, in, args[0], out);
}

CF(f_setpath)
{
    return ks__expr_setpath(cx, ks_val_retain(in), args[0], 0, ks_val_retain(args[1]), out);
}

CF(f_delpaths)
{
    return ks__expr_delpaths(cx, ks_val_retain(in), args[0], out);
}

static int getpath_npath(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    ks_val p;
    int rc = ks__expr_collect1(call->args[0], cx, fr, in, &p);
    if (rc || p.kind == KS_INVALID)
        return rc;
    ks_val v;
    if ((rc = ks__expr_getpath(cx, in, p, &v))) {
        ks_val_release(p);
        return rc;
    }
    ks_val full = ks_val_retain(path);
    for (uint32_t i = 0; i < p.a->len; i++)
        ks_arr_push(&full, ks_val_retain(p.a->items[i]));
    rc = k->fn(k, cx, v, full);
    ks_val_release(v);
    ks_val_release(full);
    ks_val_release(p);
    return rc;
}

/* ---- generators and closures ---- */

static int n_empty(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return RC_OK;
}

static int p_empty(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return RC_OK;
}

static int p_error(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return n_error(call, cx, fr, in, NULL);
}

typedef struct sel_k {
    cont_t base;
    ks_val in;
    const cont_t *next;
    const pcont_t *pnext;
    ks_val path;
} sel_k_t;

static int select_fn(const cont_t *k, ctx_t *cx, ks_val c)
{
    const sel_k_t *sk = (const sel_k_t *)(const void *)k;
    if (!ks_is_truthy(c))
        return 0;
    if (sk->pnext)
        return sk->pnext->fn(sk->pnext, cx, sk->in, sk->path);
    return sk->next->fn(sk->next, cx, sk->in);
}

static int n_select(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    const node_t *f = call->args[0];
    if (f->eval1) {
        ks_val c;
        int rc = f->eval1(f, cx, fr, in, &c);
        if (rc)
            return rc;
        int t = ks_is_truthy(c);
        ks_val_release(c);
        return t ? k->fn(k, cx, in) : 0;
    }
    sel_k_t sk = {{select_fn}, in, k, NULL, ks_invalid()};
    return f->eval(f, cx, fr, in, &sk.base);
}

static int p_select(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    sel_k_t sk = {{select_fn}, in, NULL, k, path};
    return call->args[0]->eval(call->args[0], cx, fr, in, &sk.base);
}

typedef struct map_k {
    cont_t base;
    const node_t *f;
    frame_t *fr;
    ks_val *arr;
} map_k_t;

static int map_push_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    ks_arr_push(((const map_k_t *)(const void *)k)->arr, ks_val_retain(v));
    return 0;
}

static int map_item_fn(const cont_t *k, ctx_t *cx, ks_val item)
{
    const map_k_t *mk = (const map_k_t *)(const void *)k;
    if (mk->f->eval1) { /* f yields exactly one value: pushed without a continuation */
        ks_val v;
        int rc = mk->f->eval1(mk->f, cx, mk->fr, item, &v);
        if (!rc)
            ks_arr_push(mk->arr, v);
        return rc;
    }
    map_k_t k2 = *mk;
    k2.base.fn = map_push_fn;
    return mk->f->eval(mk->f, cx, mk->fr, item, &k2.base);
}

/* map(f) == [.[] | f]: exactly one output (or an error), so it has an eval1 (ks__expr_builtin_eval1). */
static int n_map1(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val arr = ks_arr_new(in.kind == KS_ARRAY ? ks_arr_len(in) : 4);
    map_k_t mk = {{map_item_fn}, call->args[0], fr, &arr};
    int rc = ks__expr_iterate(cx, in, &mk.base);
    if (rc) {
        ks_val_release(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

static int n_map(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    ks_val arr;
    int rc = n_map1(call, cx, fr, in, &arr);
    return rc ? rc : ks__expr_emit(k, cx, arr);
}

/* range($from; $upto): $from is the outer loop. */
typedef struct range_k {
    cont_t base;
    const node_t *call;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    ks_val from;
} range_k_t;

static int range_upto_fn(const cont_t *k, ctx_t *cx, ks_val upto)
{
    const range_k_t *rk = (const range_k_t *)(const void *)k;
    if (rk->from.kind != KS_NUMBER || upto.kind != KS_NUMBER)
        return ks__expr_errorf(cx, "Range bounds must be numeric");
    double hi = ks_num_get(upto);
    for (double x = ks_num_get(rk->from); x < hi; x += 1) {
        int rc = rk->next->fn(rk->next, cx, ks_num(x));
        if (rc)
            return rc;
    }
    return 0;
}

static int range_from_fn(const cont_t *k, ctx_t *cx, ks_val from)
{
    range_k_t k2 = *(const range_k_t *)(const void *)k;
    k2.base.fn = range_upto_fn;
    k2.from = from;
    return k2.call->args[1]->eval(k2.call->args[1], cx, k2.fr, k2.in, &k2.base);
}

static int n_range2(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    range_k_t rk = {{range_from_fn}, call, fr, in, k, ks_invalid()};
    return call->args[0]->eval(call->args[0], cx, fr, in, &rk.base);
}

static int range1_fn(const cont_t *k, ctx_t *cx, ks_val upto)
{
    const range_k_t *rk = (const range_k_t *)(const void *)k;
    range_k_t k2 = *rk;
    k2.from = ks_num(0);
    return range_upto_fn(&k2.base, cx, upto);
}

static int n_range1(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    range_k_t rk = {{range1_fn}, call, fr, in, k, ks_invalid()};
    return call->args[0]->eval(call->args[0], cx, fr, in, &rk.base);
}

/* limit($n; f): stops f after n outputs; n <= 0 as in jq 1.6. */
typedef struct limit_k {
    cont_t base;
    pcont_t pbase; /* the same continuation in path mode */
    const node_t *call;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
    const pcont_t *pnext;
    ks_val path;
    double n;
    double *count;
    double id;
} limit_k_t;

static int limit_out_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const limit_k_t *lk = (const limit_k_t *)(const void *)k;
    int rc = lk->next->fn(lk->next, cx, v);
    if (rc)
        return rc;
    if (++*lk->count >= lk->n) {
        cx->break_id = lk->id;
        return RC_BREAK;
    }
    return 0;
}

static int limit_pout_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const limit_k_t *lk = (const limit_k_t *)(const void *)((const char *)k - offsetof(limit_k_t, pbase));
    int rc = lk->pnext->fn(lk->pnext, cx, v, path);
    if (rc)
        return rc;
    if (++*lk->count >= lk->n) {
        cx->break_id = lk->id;
        return RC_BREAK;
    }
    return 0;
}

static int limit_n_fn(const cont_t *k, ctx_t *cx, ks_val nv)
{
    const limit_k_t *lk = (const limit_k_t *)(const void *)k;
    const node_t *f = lk->call->args[1];
    /*
     * jq 1.6: a negative n yields all of f; otherwise each output is emitted
     * and then counted, so limit(0; f) still yields f's first output.
     */
    if (ks_val_cmp(nv, ks_num(0)) < 0)
        return lk->pnext ? ks__expr_path_eval(f, cx, lk->fr, lk->in, lk->path, lk->pnext)
                         : f->eval(f, cx, lk->fr, lk->in, lk->next);
    double count = 0;
    limit_k_t k2 = *lk;
    k2.n = nv.kind == KS_NUMBER ? ks_num_get(nv) : INFINITY;
    k2.count = &count;
    k2.id = ++cx->next_label;
    int rc;
    if (lk->pnext) {
        k2.pbase.fn = limit_pout_fn;
        rc = ks__expr_path_eval(f, cx, lk->fr, lk->in, lk->path, &k2.pbase);
    } else {
        k2.base.fn = limit_out_fn;
        rc = f->eval(f, cx, lk->fr, lk->in, &k2.base);
    }
    if (rc == RC_BREAK && cx->break_id == k2.id)
        rc = RC_OK;
    return rc;
}

static int n_limit(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    limit_k_t lk = {{limit_n_fn}, {NULL}, call, fr, in, k, NULL, ks_invalid(), 0, NULL, 0};
    return call->args[0]->eval(call->args[0], cx, fr, in, &lk.base);
}

static int p_limit(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    limit_k_t lk = {{limit_n_fn}, {NULL}, call, fr, in, NULL, k, path, 0, NULL, 0};
    return call->args[0]->eval(call->args[0], cx, fr, in, &lk.base);
}

static int debug_emit(ctx_t *cx, ks_val in, const cont_t *k)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "[\"DEBUG:\",");
    ks_json_write(&b, in);
    ks_buf_puts(&b, "]\n");
    fputs(b.data, stderr);
    ks_buf_free(&b);
    return k->fn(k, cx, in);
}

static int n_debug(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return debug_emit(cx, in, k);
}

/* ---- lookup(table; key): kstreamd's own (expr.h) ---- */

static __thread ks_expr_lookup_fn lookup_fn;
static __thread void *lookup_ud;

void ks_expr_set_lookup(ks_expr_lookup_fn fn, void *ud)
{
    lookup_fn = fn;
    lookup_ud = ud;
}

CF(f_lookup)
{
    if (args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "lookup: the table's name must be a string");
    if (!lookup_fn)
        return ks__expr_errorf(cx, "lookup: there are no tables to look up here (only a running topology has them)");
    char err[256];
    ks_val row = ks_invalid();
    int rc = lookup_fn(lookup_ud, ks_str_data(args[0]), args[1], &row, err, sizeof err);
    if (rc < 0)
        return ks__expr_errorf(cx, "lookup(\"%s\"): %s", ks_str_data(args[0]), err);
    *out = rc ? row : ks_null();
    return 0;
}

const builtin_t ks__expr_builtins[] = {
    {"length", 0, f_length, NULL, NULL},
    {"utf8bytelength", 0, f_utf8bytelength, NULL, NULL},
    {"not", 0, f_not, NULL, NULL},
    {"type", 0, f_type, NULL, NULL},
    {"keys", 0, f_keys, NULL, NULL},
    {"keys_unsorted", 0, f_keys_unsorted, NULL, NULL},
    {"has", 1, f_has, NULL, NULL},
    {"contains", 1, f_contains, NULL, NULL},
    {"add", 0, f_add, NULL, NULL},
    {"tostring", 0, f_tostring, NULL, NULL},
    {"tojson", 0, f_tojson, NULL, NULL},
    {"fromjson", 0, f_fromjson, NULL, NULL},
    {"tonumber", 0, f_tonumber, NULL, NULL},
    {"error", 0, NULL, n_error, p_error},
    {"error", 1, NULL, n_error, p_error},
    {"sort", 0, f_sort, NULL, NULL},
    {"_sort_by_impl", 1, f_sort_by_impl, NULL, NULL},
    {"_group_by_impl", 1, f_group_by_impl, NULL, NULL},
    {"_unique_by_impl", 1, f_unique_by_impl, NULL, NULL},
    {"_min_by_impl", 1, f_min_by_impl, NULL, NULL},
    {"_max_by_impl", 1, f_max_by_impl, NULL, NULL},
    {"min", 0, f_min, NULL, NULL},
    {"max", 0, f_max, NULL, NULL},
    {"unique", 0, f_unique, NULL, NULL},
    {"getpath", 1, f_getpath, NULL, getpath_npath},
    {"setpath", 2, f_setpath, NULL, NULL},
    {"delpaths", 1, f_delpaths, NULL, NULL},
    {"path", 1, NULL, ks__expr_bi_path, NULL},
    {"empty", 0, NULL, n_empty, p_empty},
    {"select", 1, NULL, n_select, p_select},
    {"map", 1, NULL, n_map, NULL},
    {"range", 1, NULL, n_range1, NULL},
    {"range", 2, NULL, n_range2, NULL},
    {"limit", 2, NULL, n_limit, p_limit},
    {"debug", 0, NULL, n_debug, NULL},
    {"lookup", 2, f_lookup, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};

eval1_fn ks__expr_builtin_eval1(const builtin_t *b)
{
    return b->native == n_map ? n_map1 : NULL;
}

const builtin_t *ks__expr_builtin_find(const char *name, int arity)
{
    for (const builtin_t *b = ks__expr_builtins; b->name; b++)
        if (b->arity == arity && strcmp(b->name, name) == 0)
            return b;
    for (const builtin_t *b = ks__expr_builtins_str; b->name; b++)
        if (b->arity == arity && strcmp(b->name, name) == 0)
            return b;
    for (const builtin_t *b = ks__expr_builtins_math; b->name; b++)
        if (b->arity == arity && strcmp(b->name, name) == 0)
            return b;
    return NULL;
}
