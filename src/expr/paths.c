/*
 * paths.c: path expressions. `path(f)`, assignments and `del` evaluate f
 * in path mode, where every output carries the path from the input to it;
 * getpath/setpath/delpaths then read and rebuild values along those paths,
 * copying only the containers on the path (copy-on-write).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

#define PCONT(type, k) ((const type *)(const void *)(k))

static ks_val path_append(ks_val path, ks_val key)
{
    size_t n = ks_arr_len(path);
    ks_val p = ks_arr_new(n + 1);
    for (size_t i = 0; i < n; i++)
        p.a->items[i] = ks_val_retain(path.a->items[i]);
    p.a->items[n] = ks_val_retain(key);
    p.a->len = (uint32_t)(n + 1);
    return p;
}

static int pemit(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    int rc = k->fn(k, cx, v, path);
    ks_val_release(v);
    ks_val_release(path);
    return rc;
}

/* A node that is not a path expression: evaluate it, and reject its first output as jq does. */
typedef struct invalid_k {
    cont_t base;
} invalid_k_t;

static int invalid_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    char b[30];
    ks__expr_dump_trunc(v, b, sizeof b);
    return ks__expr_errorf(cx, "Invalid path expression with result %s", b);
}

int ks__expr_path_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    if (n->path)
        return n->path(n, cx, fr, in, path, k);
    invalid_k_t ik = {{invalid_fn}};
    return n->eval(n, cx, fr, in, &ik.base);
}

static int identity_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return k->fn(k, cx, in, path);
}

/* Applies one key to each (value, path) of the term. */
typedef struct pindex_k {
    pcont_t base;
    ks_val key;
    const pcont_t *next;
} pindex_k_t;

static int pindex_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const pindex_k_t *pk = PCONT(pindex_k_t, k);
    ks_val out;
    int rc = ks__expr_index(cx, v, pk->key, &out);
    if (rc)
        return rc;
    return pemit(pk->next, cx, out, path_append(path, pk->key));
}

static int term_path(const node_t *term, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, ks_val key, const pcont_t *k)
{
    pindex_k_t pk = {{pindex_fn}, key, k};
    if (!term || term->op == OP_IDENTITY)
        return pindex_fn(&pk.base, cx, in, path);
    return ks__expr_path_eval(term, cx, fr, in, path, &pk.base);
}

static int field_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return term_path(n->a, cx, fr, in, path, n->konst, k);
}

typedef struct pkey_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in, path;
    const pcont_t *next;
} pkey_k_t;

static int pkey_fn(const cont_t *k, ctx_t *cx, ks_val key)
{
    const pkey_k_t *pk = (const pkey_k_t *)(const void *)k;
    return term_path(pk->n->a, cx, pk->fr, pk->in, pk->path, key, pk->next);
}

static int index_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    pkey_k_t pk = {{pkey_fn}, n, fr, in, path, k};
    return n->b->eval(n->b, cx, fr, in, &pk.base);
}

typedef struct pslice_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in, path;
    const pcont_t *next;
    ks_val from;
} pslice_k_t;

static int pslice_to_fn(const cont_t *k, ctx_t *cx, ks_val to)
{
    const pslice_k_t *sk = (const pslice_k_t *)(const void *)k;
    ks_val key = ks_obj_new(2);
    ks_obj_setc(&key, "start", ks_val_retain(sk->from));
    ks_obj_setc(&key, "end", ks_val_retain(to));
    int rc = term_path(sk->n->a, cx, sk->fr, sk->in, sk->path, key, sk->next);
    ks_val_release(key);
    return rc;
}

static int pslice_from_fn(const cont_t *k, ctx_t *cx, ks_val from)
{
    pslice_k_t k2 = *(const pslice_k_t *)(const void *)k;
    k2.base.fn = pslice_to_fn;
    k2.from = from;
    if (!k2.n->c)
        return pslice_to_fn(&k2.base, cx, ks_null());
    return k2.n->c->eval(k2.n->c, cx, k2.fr, k2.in, &k2.base);
}

static int slice_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    pslice_k_t sk = {{pslice_from_fn}, n, fr, in, path, k, ks_null()};
    if (!n->b)
        return pslice_from_fn(&sk.base, cx, ks_null());
    return n->b->eval(n->b, cx, fr, in, &sk.base);
}

typedef struct piter_k {
    pcont_t base;
    const pcont_t *next;
} piter_k_t;

static int piter_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const pcont_t *next = PCONT(piter_k_t, k)->next;
    int rc = 0;
    if (v.kind == KS_ARRAY) {
        for (uint32_t i = 0; i < v.a->len && !rc; i++)
            rc = pemit(next, cx, ks_val_retain(v.a->items[i]), path_append(path, ks_num(i)));
        return rc;
    }
    if (v.kind == KS_OBJECT) {
        for (uint32_t i = 0; i < v.o->len && !rc; i++) {
            ks_val key = ks_obj_key(v, i);
            rc = pemit(next, cx, ks_val_retain(v.o->slots[i].val), path_append(path, key));
            ks_val_release(key);
        }
        return rc;
    }
    char b[15];
    ks__expr_dump_trunc(v, b, sizeof b);
    return ks__expr_errorf(cx, "Cannot iterate over %s (%s)", ks_kind_name(v), b);
}

static int iter_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    piter_k_t pk = {{piter_fn}, k};
    if (n->a->op == OP_IDENTITY)
        return piter_fn(&pk.base, cx, in, path);
    return ks__expr_path_eval(n->a, cx, fr, in, path, &pk.base);
}

typedef struct ptry_k {
    pcont_t base;
    const pcont_t *next;
    int *downstream;
    int truthy_only; /* for `//`: pass only truthy values, and count them */
    int *any;
} ptry_k_t;

static int ptry_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const ptry_k_t *tk = PCONT(ptry_k_t, k);
    if (tk->truthy_only) {
        if (!ks_is_truthy(v))
            return 0;
        *tk->any = 1;
    }
    int rc = tk->next->fn(tk->next, cx, v, path);
    if (rc)
        *tk->downstream = 1;
    return rc;
}

static int try_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    int downstream = 0;
    ptry_k_t tk = {{ptry_fn}, k, &downstream, 0, NULL};
    int rc = ks__expr_path_eval(n->a, cx, fr, in, path, &tk.base);
    if (rc != RC_ERROR || downstream)
        return rc;
    ks_val err = cx->err;
    cx->err = ks_invalid();
    if (!n->b || err.kind == KS_NULL) {
        ks_val_release(err);
        return RC_OK;
    }
    rc = ks__expr_path_eval(n->b, cx, fr, err, path, k);
    ks_val_release(err);
    return rc;
}

static int alt_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    int downstream = 0, any = 0;
    ptry_k_t tk = {{ptry_fn}, k, &downstream, 1, &any};
    int rc = ks__expr_path_eval(n->a, cx, fr, in, path, &tk.base);
    if (rc || any)
        return rc;
    return ks__expr_path_eval(n->b, cx, fr, in, path, k);
}

typedef struct ppipe_k {
    pcont_t base;
    const node_t *b;
    frame_t *fr;
    const pcont_t *next;
} ppipe_k_t;

static int ppipe_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const ppipe_k_t *pk = PCONT(ppipe_k_t, k);
    return ks__expr_path_eval(pk->b, cx, pk->fr, v, path, pk->next);
}

static int pipe_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    ppipe_k_t pk = {{ppipe_fn}, n->b, fr, k};
    return ks__expr_path_eval(n->a, cx, fr, in, path, &pk.base);
}

static int comma_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    int rc = ks__expr_path_eval(n->a, cx, fr, in, path, k);
    return rc ? rc : ks__expr_path_eval(n->b, cx, fr, in, path, k);
}

typedef struct pif_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in, path;
    const pcont_t *next;
} pif_k_t;

static int pif_fn(const cont_t *k, ctx_t *cx, ks_val c)
{
    const pif_k_t *ik = (const pif_k_t *)(const void *)k;
    const node_t *br = ks_is_truthy(c) ? ik->n->b : ik->n->c;
    if (!br)
        return ik->next->fn(ik->next, cx, ik->in, ik->path);
    return ks__expr_path_eval(br, cx, ik->fr, ik->in, ik->path, ik->next);
}

static int if_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    pif_k_t ik = {{pif_fn}, n, fr, in, path, k};
    return n->a->eval(n->a, cx, fr, in, &ik.base);
}

typedef struct pas_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in, path;
    const pcont_t *next;
} pas_k_t;

static int pas_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const pas_k_t *ak = (const pas_k_t *)(const void *)k;
    return ks__expr_bind_pattern(ak->n->pat, cx, ak->fr, ak->in, v, ak->n->b, NULL, 1, ak->path, ak->next);
}

static int as_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    pas_k_t ak = {{pas_fn}, n, fr, in, path, k};
    return n->a->eval(n->a, cx, fr, in, &ak.base);
}

static int funcdef_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return ks__expr_path_eval(n->a, cx, fr, in, path, k);
}

static int label_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    double id = ++cx->next_label;
    ks_val saved = fr->slots[n->slot];
    fr->slots[n->slot] = ks_num(id);
    int rc = ks__expr_path_eval(n->a, cx, fr, in, path, k);
    fr->slots[n->slot] = saved;
    if (rc == RC_BREAK && cx->break_id == id)
        rc = RC_OK;
    return rc;
}

static int break_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    return n->eval(n, cx, fr, in, NULL);
}

static int call_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    int rc = ks__expr_call_path(n, cx, fr, in, path, k);
    if (rc != -100)
        return rc;
    invalid_k_t ik = {{invalid_fn}};
    return ks__expr_call_eval(n, cx, fr, in, &ik.base);
}

/* `getpath(null)`-style literal null in path mode: jq treats `null` as the empty path to nothing. */
void ks__expr_set_path_fns(node_t *n)
{
    switch (n->op) {
    case OP_IDENTITY: n->path = identity_path; break;
    case OP_FIELD: n->path = field_path; break;
    case OP_INDEX: n->path = index_path; break;
    case OP_SLICE: n->path = slice_path; break;
    case OP_ITER: n->path = iter_path; break;
    case OP_TRY: n->path = try_path; break;
    case OP_ALT: n->path = alt_path; break;
    case OP_PIPE: n->path = pipe_path; break;
    case OP_COMMA: n->path = comma_path; break;
    case OP_IF: n->path = if_path; break;
    case OP_AS: n->path = as_path; break;
    case OP_FUNCDEF: n->path = funcdef_path; break;
    case OP_LABEL: n->path = label_path; break;
    case OP_BREAK: n->path = break_path; break;
    case OP_CALL: n->path = call_path; break;
    default: n->path = NULL; break;
    }
}

/* ---- path(f) ---- */

typedef struct topath_k {
    pcont_t base;
    const cont_t *next;
} topath_k_t;

static int topath_fn(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path)
{
    const cont_t *next = PCONT(topath_k_t, k)->next;
    return next->fn(next, cx, path);
}

int ks__expr_bi_path(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    topath_k_t pk = {{topath_fn}, k};
    ks_val root = ks_arr_new(0);
    int rc = ks__expr_path_eval(call->args[0], cx, fr, in, root, &pk.base);
    ks_val_release(root);
    return rc;
}

/* ---- getpath, setpath, delpaths ---- */

int ks__expr_getpath(ctx_t *cx, ks_val v, ks_val path, ks_val *out)
{
    if (path.kind != KS_ARRAY)
        return ks__expr_errorf(cx, "Path must be specified as an array");
    ks_val cur = ks_val_retain(v);
    for (uint32_t i = 0; i < path.a->len; i++) {
        if (cur.kind == KS_NULL)
            break;
        ks_val next;
        int rc = ks__expr_index(cx, cur, path.a->items[i], &next);
        ks_val_release(cur);
        if (rc)
            return rc;
        cur = next;
    }
    *out = cur;
    return 0;
}

static int set_key(ctx_t *cx, ks_val t, ks_val key, ks_val x, ks_val *out)
{
    /* Consumes t and x. */
    if (key.kind == KS_STRING && (t.kind == KS_OBJECT || t.kind == KS_NULL)) {
        if (t.kind == KS_NULL)
            t = ks_obj_new(4);
        ks_obj_set(&t, ks_val_retain(key), x);
        *out = t;
        return 0;
    }
    if (key.kind == KS_NUMBER && (t.kind == KS_ARRAY || t.kind == KS_NULL)) {
        if (t.kind == KS_NULL)
            t = ks_arr_new(4);
        double d = ks_num_get(key);
        if (d < 0)
            d += (double)ks_arr_len(t);
        if (d < 0 || isnan(d)) {
            ks_val_release(t);
            ks_val_release(x);
            return ks__expr_errorf(cx, "Out of bounds negative array index");
        }
        if (d > 1e8) {
            ks_val_release(t);
            ks_val_release(x);
            return ks__expr_errorf(cx, "Array index too large");
        }
        ks_arr_set(&t, (size_t)d, x);
        *out = t;
        return 0;
    }
    if (key.kind == KS_OBJECT && (t.kind == KS_ARRAY || t.kind == KS_NULL)) {
        if (t.kind == KS_NULL)
            t = ks_arr_new(4);
        const ks_val *fs = ks_obj_get(key, "start", 5), *fe = ks_obj_get(key, "end", 3);
        ks_val from = fs ? *fs : ks_null(), to = fe ? *fe : ks_null();
        size_t len = ks_arr_len(t);
        double s = from.kind == KS_NULL ? 0 : from.kind == KS_NUMBER ? ks_num_get(from) : NAN;
        double e = to.kind == KS_NULL ? (double)len : to.kind == KS_NUMBER ? ks_num_get(to) : NAN;
        if (isnan(s) || isnan(e)) {
            ks_val_release(t);
            ks_val_release(x);
            return ks__expr_errorf(cx, "Start and end indices of an array slice must be numbers");
        }
        if (x.kind != KS_ARRAY) {
            ks_val_release(t);
            ks_val_release(x);
            return ks__expr_errorf(cx, "A slice of an array can only be assigned another array");
        }
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
        size_t is = (size_t)s, ie = e > (double)(size_t)e ? (size_t)e + 1 : (size_t)e;
        if (ie > len)
            ie = len;
        ks_val r = ks_arr_new(len - (ie - is) + ks_arr_len(x));
        for (size_t i = 0; i < is; i++)
            ks_arr_push(&r, ks_val_retain(t.a->items[i]));
        for (size_t i = 0; i < ks_arr_len(x); i++)
            ks_arr_push(&r, ks_val_retain(x.a->items[i]));
        for (size_t i = ie; i < len; i++)
            ks_arr_push(&r, ks_val_retain(t.a->items[i]));
        ks_val_release(t);
        ks_val_release(x);
        *out = r;
        return 0;
    }
    ks_val_release(x);
    int rc;
    if (key.kind == KS_STRING)
        rc = ks__expr_errorf(cx, "Cannot index %s with string \"%s\"", ks_kind_name(t), ks_str_data(key));
    else
        rc = ks__expr_errorf(cx, "Cannot update field at object index of %s", ks_kind_name(t));
    ks_val_release(t);
    return rc;
}

int ks__expr_setpath(ctx_t *cx, ks_val v, ks_val path, size_t from, ks_val x, ks_val *out)
{
    if (path.kind != KS_ARRAY) {
        ks_val_release(v);
        ks_val_release(x);
        return ks__expr_errorf(cx, "Path must be specified as an array");
    }
    if (from >= ks_arr_len(path)) {
        ks_val_release(v);
        *out = x;
        return 0;
    }
    ks_val key = path.a->items[from];
    ks_val child, newchild;
    int rc = ks__expr_index(cx, v, key, &child);
    if (rc) {
        ks_val_release(v);
        ks_val_release(x);
        return rc;
    }
    /* Drop the parent's reference to the child first, so the child can be modified in place. */
    if (v.kind == KS_OBJECT && key.kind == KS_STRING && ks_obj_get(v, ks_str_data(key), ks_str_len(key)))
        ks_obj_set(&v, ks_val_retain(key), ks_null());
    else if (v.kind == KS_ARRAY && key.kind == KS_NUMBER) {
        double d = ks_num_get(key);
        if (d < 0)
            d += (double)ks_arr_len(v);
        if (d >= 0 && d < (double)ks_arr_len(v) && d == floor(d))
            ks_arr_set(&v, (size_t)d, ks_null());
    }
    if ((rc = ks__expr_setpath(cx, child, path, from + 1, x, &newchild))) {
        ks_val_release(v);
        return rc;
    }
    return set_key(cx, v, key, newchild, out);
}

static int delpath1(ctx_t *cx, ks_val v, ks_val path, size_t from, ks_val *out)
{
    /* Consumes v. */
    size_t n = ks_arr_len(path);
    if (v.kind == KS_NULL || from >= n) {
        if (from >= n) {
            ks_val_release(v);
            *out = ks_null();
            return 0;
        }
        *out = v;
        return 0;
    }
    ks_val key = path.a->items[from];
    if (from + 1 == n) {
        if (v.kind == KS_OBJECT && key.kind == KS_STRING) {
            ks_obj_del(&v, ks_str_data(key), ks_str_len(key));
            *out = v;
            return 0;
        }
        if (v.kind == KS_ARRAY && key.kind == KS_NUMBER) {
            double d = ks_num_get(key);
            size_t len = ks_arr_len(v);
            if (d < 0)
                d += (double)len;
            if (d < 0) {
                ks_val_release(v);
                return ks__expr_errorf(cx, "Out of bounds negative array index");
            }
            if (d < (double)len) {
                size_t i = (size_t)d;
                ks_val_unshare(&v);
                ks_val_release(v.a->items[i]);
                memmove(&v.a->items[i], &v.a->items[i + 1], (len - i - 1) * sizeof(ks_val));
                v.a->len--;
            }
            *out = v;
            return 0;
        }
        if (v.kind == KS_ARRAY && key.kind == KS_OBJECT) {
            ks_val sl;
            int rc = ks__expr_index(cx, v, key, &sl);
            if (rc) {
                ks_val_release(v);
                return rc;
            }
            ks_val_release(sl);
            return set_key(cx, v, key, ks_arr_new(0), out);
        }
        ks_val child;
        int rc = ks__expr_index(cx, v, key, &child);
        ks_val_release(v);
        if (!rc) {
            ks_val_release(child);
            rc = ks__expr_errorf(cx, "Cannot delete field at index of %s", ks_kind_name(v));
        }
        return rc;
    }
    ks_val child, nc;
    int rc = ks__expr_index(cx, v, key, &child);
    if (rc) {
        ks_val_release(v);
        return rc;
    }
    if (child.kind == KS_NULL) {
        ks_val_release(child);
        *out = v;
        return 0;
    }
    if ((rc = delpath1(cx, child, path, from + 1, &nc))) {
        ks_val_release(v);
        return rc;
    }
    return set_key(cx, v, key, nc, out);
}

int ks__expr_delpaths(ctx_t *cx, ks_val v, ks_val paths, ks_val *out)
{
    if (paths.kind != KS_ARRAY) {
        ks_val_release(v);
        return ks__expr_errorf(cx, "Paths must be specified as an array");
    }
    size_t n = ks_arr_len(paths);
    ks_val *sorted = ks_xmalloc((n ? n : 1) * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = paths.a->items[i];
        if (sorted[i].kind != KS_ARRAY) {
            free(sorted);
            ks_val_release(v);
            return ks__expr_errorf(cx, "Path must be specified as an array");
        }
    }
    ks_val_sort(sorted, n);
    /* Delete from the last path to the first, so earlier array indices stay valid. */
    for (size_t i = n; i-- > 0;) {
        ks_val nv;
        int rc = delpath1(cx, v, sorted[i], 0, &nv);
        if (rc) {
            free(sorted);
            return rc;
        }
        v = nv;
    }
    free(sorted);
    *out = v;
    return 0;
}

/* ---- assignment operators ---- */

typedef struct gather_k {
    cont_t base;
    ks_val *paths;
} gather_k_t;

static int gather_fn(const cont_t *k, ctx_t *cx, ks_val path)
{
    ks_arr_push(((const gather_k_t *)(const void *)k)->paths, ks_val_retain(path));
    return 0;
}

static int collect_paths(const node_t *lhs, ctx_t *cx, frame_t *fr, ks_val in, ks_val *paths)
{
    *paths = ks_arr_new(4);
    gather_k_t gk = {{gather_fn}, paths};
    topath_k_t pk = {{topath_fn}, &gk.base};
    ks_val root = ks_arr_new(0);
    int rc = ks__expr_path_eval(lhs, cx, fr, in, root, &pk.base);
    ks_val_release(root);
    if (rc)
        ks_val_release(*paths);
    return rc;
}

typedef struct assign_k {
    cont_t base;
    const node_t *n;
    frame_t *fr;
    ks_val in;
    const cont_t *next;
} assign_k_t;

/* For each output $v of the right-hand side: `=` sets every path to $v, `op=` applies op. */
static int assign_rhs_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const assign_k_t *ak = (const assign_k_t *)(const void *)k;
    ks_val paths;
    int rc = collect_paths(ak->n->a, cx, ak->fr, ak->in, &paths);
    if (rc)
        return rc;
    ks_val acc = ks_val_retain(ak->in);
    for (uint32_t i = 0; i < paths.a->len && !rc; i++) {
        ks_val p = paths.a->items[i], nv;
        if (ak->n->binop == '=') {
            nv = ks_val_retain(v);
        } else {
            ks_val cur;
            if ((rc = ks__expr_getpath(cx, acc, p, &cur)))
                break;
            if (ak->n->binop == BOP_ALT) {
                nv = ks_is_truthy(cur) ? ks_val_retain(cur) : ks_val_retain(v);
            } else if ((rc = ks__expr_arith(cx, ak->n->binop, cur, v, &nv))) {
                ks_val_release(cur);
                break;
            }
            ks_val_release(cur);
        }
        rc = ks__expr_setpath(cx, acc, p, 0, nv, &acc);
        if (rc)
            acc = ks_invalid();
    }
    ks_val_release(paths);
    if (rc) {
        ks_val_release(acc);
        return rc;
    }
    return ks__expr_emit(ak->next, cx, acc);
}

int ks__expr_eval_assign(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    if (n->binop != '|') {
        assign_k_t ak = {{assign_rhs_fn}, n, fr, in, k};
        return n->b->eval(n->b, cx, fr, in, &ak.base);
    }
    /* lhs |= f: the first output of f replaces each path's value; no output deletes it (jq 1.6). */
    ks_val paths;
    int rc = collect_paths(n->a, cx, fr, in, &paths);
    if (rc)
        return rc;
    ks_val acc = ks_val_retain(in);
    for (uint32_t i = 0; i < paths.a->len && !rc; i++) {
        ks_val p = paths.a->items[i], cur, nv;
        if ((rc = ks__expr_getpath(cx, acc, p, &cur)))
            break;
        rc = ks__expr_collect1(n->b, cx, fr, cur, &nv);
        ks_val_release(cur);
        if (rc)
            break;
        if (nv.kind == KS_INVALID) {
            ks_val one = ks_arr_new(1);
            ks_arr_push(&one, ks_val_retain(p));
            rc = ks__expr_delpaths(cx, acc, one, &acc);
            ks_val_release(one);
        } else {
            rc = ks__expr_setpath(cx, acc, p, 0, nv, &acc);
        }
        if (rc)
            acc = ks_invalid();
    }
    ks_val_release(paths);
    if (rc) {
        ks_val_release(acc);
        return rc;
    }
    return ks__expr_emit(k, cx, acc);
}
