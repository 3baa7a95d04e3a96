/*
 * compile.c: name resolution and evaluator selection.
 *
 * Variables become (hops, slot) pairs: `hops` static links up from the
 * frame the reference runs in, then a slot of that frame. Function calls
 * resolve, innermost first, to a user `def` or closure parameter in scope,
 * then to a C builtin, then to a function of the jq-written prelude. A name
 * that resolves nowhere is reported as unsupported, so the caller can try
 * libjq, which knows a few builtins we do not compile (`env`, `input`, ...).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

typedef struct vscope {
    const char *name;
    int level;
    int slot;
    struct vscope *up;
} vscope_t;

typedef struct fscope {
    const char *name;
    int arity;
    funcdef_t *fn; /* a definition; NULL for a closure parameter */
    int level;     /* definition: scope level; parameter: level of the function body */
    int param_index;
    struct fscope *up;
    struct fscope *alloc_next;
} fscope_t;

typedef struct cstate {
    program_t *prog;
    funcdef_t *cur; /* function whose frame new variables go into */
    int level;
    parse_err_t *err;
    int failed;
    fscope_t *allocs;
    const fscope_t *prelude; /* prelude functions, searched after the C builtins */
    int in_prelude;
} cstate_t;

static int cfail(cstate_t *cs, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cfail(cstate_t *cs, int pos, const char *fmt, ...)
{
    if (!cs->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cs->err->msg, sizeof cs->err->msg, fmt, ap);
        va_end(ap);
        cs->err->pos = pos;
        cs->failed = 1;
    }
    return -1;
}

static fscope_t *fs_push(cstate_t *cs, fscope_t *up, const char *name, int arity, funcdef_t *fn, int level, int idx)
{
    fscope_t *f = ks_xcalloc(1, sizeof *f);
    f->name = name;
    f->arity = arity;
    f->fn = fn;
    f->level = level;
    f->param_index = idx;
    f->up = up;
    f->alloc_next = cs->allocs;
    cs->allocs = f;
    return f;
}

static vscope_t *vs_push(cstate_t *cs, vscope_t *up, const char *name, vscope_t *mem)
{
    mem->name = name;
    mem->level = cs->level;
    mem->slot = cs->cur->nslots++;
    mem->up = up;
    return mem;
}

static int resolve(cstate_t *cs, node_t *n, vscope_t *vs, fscope_t *fs);

static int pattern_nvars(const pattern_t *pat)
{
    if (!pat)
        return 0;
    if (pat->kind == 'v')
        return 1;
    int n = 0;
    for (int i = 0; i < pat->n; i++)
        n += (pat->ents[i].keyvar != NULL) + pattern_nvars(pat->ents[i].sub);
    return n;
}

/* Binds a pattern's variables in order into mems[*used...]; returns the new scope. */
static vscope_t *bind_pattern(cstate_t *cs, pattern_t *pat, vscope_t *vs, fscope_t *fs, vscope_t *mems, int *used)
{
    if (pat->kind == 'v') {
        vs = vs_push(cs, vs, pat->name, &mems[(*used)++]);
        pat->slot = vs->slot;
        return vs;
    }
    for (int i = 0; i < pat->n && !cs->failed; i++) {
        struct pattern_entry *e = &pat->ents[i];
        if (resolve(cs, e->key, vs, fs))
            return vs;
        if (e->keyvar) {
            vs = vs_push(cs, vs, e->keyvar, &mems[(*used)++]);
            e->keyvar_slot = vs->slot;
        }
        if (e->sub)
            vs = bind_pattern(cs, e->sub, vs, fs, mems, used);
    }
    return vs;
}

/* The scope inside a pattern's body; *mems (caller frees) holds its entries. */
static vscope_t *pattern_scope(cstate_t *cs, pattern_t *pat, vscope_t *vs, fscope_t *fs, vscope_t **mems)
{
    int used = 0;
    *mems = ks_xcalloc((size_t)pattern_nvars(pat) + 1, sizeof **mems);
    return bind_pattern(cs, pat, vs, fs, *mems, &used);
}

static const fscope_t *find_fn(const fscope_t *fs, const char *name, int arity)
{
    for (; fs; fs = fs->up)
        if (fs->arity == arity && strcmp(fs->name, name) == 0)
            return fs;
    return NULL;
}

static int resolve_call(cstate_t *cs, node_t *n, vscope_t *vs, fscope_t *fs)
{
    for (int i = 0; i < n->nargs; i++)
        if (resolve(cs, n->args[i], vs, fs))
            return -1;
    const fscope_t *f = find_fn(fs, n->name, n->nargs);
    if (f) {
        if (f->fn) {
            n->call_kind = CALL_FUNC;
            n->fn = f->fn;
            n->hops = f->fn->prelude ? -1 : cs->level - f->level;
        } else {
            n->call_kind = CALL_PARAM;
            n->hops = cs->level - f->level;
            n->slot = f->param_index;
        }
        return 0;
    }
    const builtin_t *bi = ks__expr_builtin_find(n->name, n->nargs);
    if (bi) {
        n->call_kind = CALL_BUILTIN;
        n->bi = bi;
        return 0;
    }
    f = find_fn(cs->prelude, n->name, n->nargs);
    if (f && f->fn) {
        n->call_kind = CALL_FUNC;
        n->fn = f->fn;
        n->hops = -1;
        return 0;
    }
    return cfail(cs, n->pos, "unsupported: %s/%d is not defined", n->name, n->nargs);
}

static int resolve_def(cstate_t *cs, funcdef_t *fd, vscope_t *vs, fscope_t *fs_with_self)
{
    funcdef_t *saved = cs->cur;
    int saved_level = cs->level;
    cs->cur = fd;
    cs->level = saved_level + 1;
    fd->level = cs->level;
    fd->prelude = cs->in_prelude && saved_level == 0;
    fscope_t *fs = fs_with_self;
    vscope_t *mems = fd->nparams ? ks_xcalloc((size_t)fd->nparams, sizeof *mems) : NULL;
    for (int i = 0; i < fd->nparams; i++) {
        fs = fs_push(cs, fs, fd->params[i], 0, NULL, cs->level, i);
        if (fd->param_slot[i] >= 0) {
            vs = vs_push(cs, vs, fd->params[i], &mems[i]);
            fd->param_slot[i] = mems[i].slot;
        }
    }
    int rc = resolve(cs, fd->body, vs, fs);
    free(mems);
    cs->cur = saved;
    cs->level = saved_level;
    return rc;
}

static int resolve(cstate_t *cs, node_t *n, vscope_t *vs, fscope_t *fs)
{
    if (!n || cs->failed)
        return cs->failed ? -1 : 0;
    switch (n->op) {
    case OP_VAR: {
        for (vscope_t *v = vs; v; v = v->up) {
            if (strcmp(v->name, n->name) == 0) {
                n->hops = cs->level - v->level;
                n->slot = v->slot;
                ks__expr_set_evaluators(n);
                return 0;
            }
        }
        if (strcmp(n->name, "ENV") == 0)
            return cfail(cs, n->pos, "unsupported: $ENV");
        return cfail(cs, n->pos, "$%s is not defined", n->name);
    }
    case OP_CALL:
        if (resolve_call(cs, n, vs, fs))
            return -1;
        break;
    case OP_FUNCDEF: {
        fscope_t *self = fs_push(cs, fs, n->fn->name, n->fn->nparams, n->fn, cs->level, 0);
        if (resolve_def(cs, n->fn, vs, self) || resolve(cs, n->a, vs, self))
            return -1;
        break;
    }
    case OP_AS: {
        if (resolve(cs, n->a, vs, fs))
            return -1;
        vscope_t *mems;
        vscope_t *inner = pattern_scope(cs, n->pat, vs, fs, &mems);
        int rc = cs->failed ? -1 : resolve(cs, n->b, inner, fs);
        free(mems);
        if (rc)
            return -1;
        break;
    }
    case OP_REDUCE:
    case OP_FOREACH: {
        if (resolve(cs, n->a, vs, fs) || resolve(cs, n->b, vs, fs))
            return -1;
        vscope_t *mems;
        vscope_t *inner = pattern_scope(cs, n->pat, vs, fs, &mems);
        int rc = cs->failed ? -1 : resolve(cs, n->c, inner, fs);
        if (!rc)
            rc = resolve(cs, n->d, inner, fs);
        free(mems);
        if (rc)
            return -1;
        /* The accumulator lives in a slot of the current frame. */
        n->slot = cs->cur->nslots++;
        break;
    }
    case OP_LABEL: {
        char *lname = ks_xmalloc(strlen(n->name) + 8);
        sprintf(lname, "*label*%s", n->name);
        vscope_t v;
        vs_push(cs, vs, lname, &v);
        n->slot = v.slot;
        n->hops = 0;
        int rc = resolve(cs, n->a, &v, fs);
        free(lname);
        if (rc)
            return -1;
        break;
    }
    case OP_BREAK: {
        size_t len = strlen(n->name);
        for (vscope_t *v = vs; v; v = v->up) {
            if (strncmp(v->name, "*label*", 7) == 0 && strlen(v->name) == len + 7 &&
                strcmp(v->name + 7, n->name) == 0) {
                n->hops = cs->level - v->level;
                n->slot = v->slot;
                ks__expr_set_evaluators(n);
                return 0;
            }
        }
        return cfail(cs, n->pos, "$*label-%s is not defined", n->name);
    }
    default:
        if (resolve(cs, n->a, vs, fs) || resolve(cs, n->b, vs, fs) || resolve(cs, n->c, vs, fs) ||
            resolve(cs, n->d, vs, fs))
            return -1;
        for (int i = 0; i < n->nargs; i++)
            if (resolve(cs, n->args[i], vs, fs))
                return -1;
        break;
    }
    ks__expr_set_evaluators(n);
    return 0;
}

/* ---- the prelude, compiled once per process ---- */

static program_t prelude_prog;
static fscope_t *prelude_allocs;      /* every scope entry of the prelude */
static const fscope_t *prelude_chain; /* lookup chain: the last definition first */
static pthread_once_t prelude_once = PTHREAD_ONCE_INIT;
static char prelude_error[200];

static void prelude_free(void)
{
    ks__expr_program_free_nodes(&prelude_prog);
    while (prelude_allocs) {
        fscope_t *next = prelude_allocs->alloc_next;
        free(prelude_allocs);
        prelude_allocs = next;
    }
}

static void prelude_compile(void)
{
    parse_err_t err = {0};
    node_t *root = ks__expr_parse(&prelude_prog, ks__expr_prelude_source(), &err);
    if (!root) {
        snprintf(prelude_error, sizeof prelude_error, "prelude: %.120s at offset %d", err.msg, err.pos);
        return;
    }
    funcdef_t top = {.name = "prelude"};
    cstate_t cs = {.prog = &prelude_prog, .cur = &top, .err = &err, .in_prelude = 1};
    /* Prelude functions may call each other in any order, so all are in scope first. */
    fscope_t *fs = NULL;
    for (node_t *n = root; n && n->op == OP_FUNCDEF; n = n->a)
        fs = fs_push(&cs, fs, n->fn->name, n->fn->nparams, n->fn, 0, 0);
    for (node_t *n = root; n && n->op == OP_FUNCDEF; n = n->a)
        if (resolve_def(&cs, n->fn, NULL, fs))
            break;
    prelude_allocs = cs.allocs;
    atexit(prelude_free);
    if (cs.failed) {
        snprintf(prelude_error, sizeof prelude_error, "prelude: %.120s at offset %d", err.msg, err.pos);
        return;
    }
    prelude_chain = fs;
}

int ks__expr_compile(program_t *prog, node_t *root, const char *const *vars, int nvars, parse_err_t *err)
{
    pthread_once(&prelude_once, prelude_compile);
    if (prelude_error[0]) {
        snprintf(err->msg, sizeof err->msg, "internal error: %.200s", prelude_error);
        err->pos = 0;
        return -1;
    }
    funcdef_t *main = ks__expr_funcdef_new(prog);
    main->name = ks_xstrdup("main");
    main->body = root;
    prog->main = main;
    prog->root = root;
    prog->nvars = nvars;
    cstate_t cs = {.prog = prog, .cur = main, .err = err, .prelude = prelude_chain};
    vscope_t *mems = ks_xcalloc((size_t)nvars + 1, sizeof *mems);
    vscope_t *vs = NULL;
    for (int i = 0; i < nvars; i++)
        vs = vs_push(&cs, vs, vars[i], &mems[i]);
    int rc = resolve(&cs, root, vs, NULL);
    free(mems);
    while (cs.allocs) {
        fscope_t *next = cs.allocs->alloc_next;
        free(cs.allocs);
        cs.allocs = next;
    }
    return rc ? -1 : 0;
}
