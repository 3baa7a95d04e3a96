/*
 * eval_flow.c: evaluators for bindings and control flow: variables,
 * destructuring patterns, `as`, `reduce`, `foreach`, `def`, `label` and
 * `break`, and calls (user functions, closure parameters, C builtins).
 */
#include <alloca.h>
#include <string.h>

#include "expr_int.h"

#define CONT(type, k) ((const type *)(const void *)(k))

#define MAX_CALL_DEPTH 100000

/* ---- variables, patterns, reduce, foreach ---- */

int ks__expr_var_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    ks_val v = ks__expr_frame_up(fr, n->hops)->slots[n->slot];
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
        return ks__expr_path_eval(bk->body, cx, bk->fr, bk->in, bk->path, bk->pk);
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
    int rc = ks__expr_index(cx, bk->value, key, &v);
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
static int bind_value(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val v, const bind_k_t *proto, const cont_t *done)
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
    return bind_body(CONT(body_k_t, k)->bk, cx);
}

int ks__expr_bind_pattern(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val in, ks_val v, const node_t *body,
                          const cont_t *k, int pathmode, ks_val path, const pcont_t *pk)
{
    if (pat->kind == 'v') {
        ks_val saved = fr->slots[pat->slot];
        fr->slots[pat->slot] = v;
        int rc = pathmode ? ks__expr_path_eval(body, cx, fr, in, path, pk) : body->eval(body, cx, fr, in, k);
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
    return ks__expr_bind_pattern(ak->n->pat, cx, ak->fr, ak->in, v, ak->n->b, ak->next, 0, ks_invalid(), NULL);
}

int ks__expr_as_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
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

int ks__expr_as_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    ks_val cur = *rk->acc;
    *rk->acc = ks_null();
    acc_k_t ak = {{acc_set_fn}, rk->acc};
    int rc = rk->n->c->eval(rk->n->c, cx, rk->fr, cur, &ak.base);
    ks_val_release(cur);
    return rc;
}

static int fold_src_fn(const cont_t *k, ctx_t *cx, ks_val x);

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
    reduce_k_t rk = {{fold_src_fn}, ik->n, ik->fr, &acc, NULL};
    int rc = ik->n->a->eval(ik->n->a, cx, ik->fr, ik->in, &rk.base);
    if (!rc)
        rc = ik->next->fn(ik->next, cx, acc);
    ks_val_release(acc);
    return rc;
}

int ks__expr_reduce_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
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
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    ks_val cur = *rk->acc;
    *rk->acc = ks_null();
    fe_state_k_t sk = {{foreach_state_fn}, rk};
    int rc = rk->n->c->eval(rk->n->c, cx, rk->fr, cur, &sk.base);
    ks_val_release(cur);
    return rc;
}

static int foreach_update_fn(const cont_t *k, ctx_t *cx, ks_val unused);

/* Each output of the source is bound to the pattern, then the update runs (reduce and foreach alike). */
static int fold_src_fn(const cont_t *k, ctx_t *cx, ks_val x)
{
    const reduce_k_t *rk = CONT(reduce_k_t, k);
    reduce_k_t k2 = *rk;
    k2.base.fn = rk->n->op == OP_REDUCE ? reduce_update_fn : foreach_update_fn;
    bind_k_t bk = {{NULL}, rk->n->pat, 0, rk->fr, ks_null(), x, NULL, NULL, 0, ks_invalid(), NULL};
    return bind_value(rk->n->pat, cx, rk->fr, x, &bk, &k2.base);
}

static int foreach_init_fn(const cont_t *k, ctx_t *cx, ks_val init)
{
    const init_k_t *ik = CONT(init_k_t, k);
    ks_val acc = ks_val_retain(init);
    reduce_k_t rk = {{fold_src_fn}, ik->n, ik->fr, &acc, ik->next};
    int rc = ik->n->a->eval(ik->n->a, cx, ik->fr, ik->in, &rk.base);
    ks_val_release(acc);
    return rc;
}

int ks__expr_foreach_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    init_k_t ik = {{foreach_init_fn}, n, fr, in, k};
    return n->b->eval(n->b, cx, fr, in, &ik.base);
}

/* ---- def, label, break ---- */

int ks__expr_funcdef_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    return n->a->eval(n->a, cx, fr, in, k);
}

int ks__expr_funcdef_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
{
    return n->a->eval1(n->a, cx, fr, in, out);
}

int ks__expr_label_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
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

int ks__expr_break_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    cx->break_id = ks__expr_frame_up(fr, n->hops)->slots[n->slot].d;
    return RC_BREAK;
}

/* ---- calls ---- */

static int enter_call(ctx_t *cx)
{
    char here;
    if (++cx->depth > MAX_CALL_DEPTH || (size_t)(cx->stack_base - &here) > cx->stack_limit) {
        cx->depth--;
        return ks__expr_errorf(cx, "recursion too deep (more than %d nested calls or %zu bytes of stack)",
                               MAX_CALL_DEPTH, cx->stack_limit);
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
            return ks__expr_path_eval(fd->body, cx, vk->callee, vk->in, vk->path, vk->pk);
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
    callee.up = n->hops < 0 ? NULL : ks__expr_frame_up(fr, n->hops);
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
        rc = ks__expr_path_eval(fd->body, cx, &callee, in, path, pk);
    } else {
        rc = fd->body->eval(fd->body, cx, &callee, in, k);
    }
    cx->depth--;
    return rc;
}

int ks__expr_eval_closure(const closure_t *cl, ctx_t *cx, ks_val in, const cont_t *k)
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
        return rc ? rc : ks__expr_emit(ck->next, cx, out);
    }
    cargs_k_t k2 = *ck;
    k2.base.fn = cargs_fn;
    k2.i = i;
    const node_t *arg = ck->n->args[i];
    return arg->eval(arg, cx, ck->fr, ck->in, &k2.base);
}

int ks__expr_cfunc_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out)
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

int ks__expr_call_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k)
{
    switch (n->call_kind) {
    case CALL_FUNC: return call_user(n, cx, fr, in, k, 0, ks_invalid(), NULL);
    case CALL_PARAM: {
        frame_t *f = ks__expr_frame_up(fr, n->hops);
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
            return rc ? rc : ks__expr_emit(k, cx, out);
        }
        {
            ks_val vals[4];
            cargs_k_t ck = {{NULL}, n, fr, in, k, vals, n->nargs - 1};
            return cargs_step(&ck, cx, n->nargs - 1);
        }
    }
}

int ks__expr_call_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k)
{
    switch (n->call_kind) {
    case CALL_FUNC: return call_user(n, cx, fr, in, NULL, 1, path, k);
    case CALL_PARAM: {
        frame_t *f = ks__expr_frame_up(fr, n->hops);
        const closure_t *cl = &f->args[n->slot];
        if (enter_call(cx))
            return RC_ERROR;
        int rc = ks__expr_path_eval(cl->body, cx, cl->fr, in, path, k);
        cx->depth--;
        return rc;
    }
    default:
        if (n->bi->npath)
            return n->bi->npath(n, cx, fr, in, path, k);
        return -100; /* not a path builtin: the caller reports it */
    }
}
