/*
 * expr.c: the public face of the expression engine: compile (natively, or
 * through libjq 1.6 when the program uses something we do not compile),
 * evaluate, free, and format errors.
 */
#include <alloca.h>
#include <jq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

struct ks_expr {
    program_t prog;
    int native;
    char *fallback_reason;
    int nvars;
    jq_state *jq;         /* fallback only */
    pthread_mutex_t lock; /* serialises use of jq */
    char *field;          /* the expression is `.field` (see ks_expr_field) */
};

/* The name in `.name` (blanks around allowed), NULL for anything else. */
static char *plain_field(const char *src)
{
    while (*src == ' ' || *src == '\t' || *src == '\n' || *src == '\r')
        src++;
    if (*src++ != '.' || !(*src == '_' || (*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z')))
        return NULL;
    size_t n = 0;
    while (src[n] == '_' || (src[n] >= 'a' && src[n] <= 'z') || (src[n] >= 'A' && src[n] <= 'Z') ||
           (src[n] >= '0' && src[n] <= '9'))
        n++;
    for (const char *t = src + n; *t; t++)
        if (!(*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r'))
            return NULL;
    char *f = ks_xmalloc(n + 1);
    memcpy(f, src, n);
    f[n] = 0;
    return f;
}

const char *ks_expr_field(const ks_expr_t *e)
{
    return e ? e->field : NULL;
}

/* ---- errors with a caret ---- */

static char *format_error(const char *src, int pos, const char *msg)
{
    int line = 1, col = 1, ls = 0;
    int len = (int)strlen(src);
    if (pos > len)
        pos = len;
    for (int i = 0; i < pos; i++) {
        if (src[i] == '\n') {
            line++;
            col = 1;
            ls = i + 1;
        } else {
            col++;
        }
    }
    int le = ls;
    while (le < len && src[le] != '\n')
        le++;
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s at line %d, column %d\n    %.*s\n    ", msg, line, col, le - ls, src + ls);
    for (int i = ls; i < pos; i++)
        ks_buf_putc(&b, src[i] == '\t' ? '\t' : ' ');
    ks_buf_putc(&b, '^');
    return ks_buf_steal(&b);
}

/* ---- libjq fallback ---- */

static void jq_err_cb(void *data, jv msg)
{
    ks_buf_t *b = data;
    if (jv_get_kind(msg) == JV_KIND_STRING && b->len == 0)
        ks_buf_puts(b, jv_string_value(msg));
    jv_free(msg);
}

static jv to_jv(ks_val v)
{
    switch (v.kind) {
    case KS_NULL: return jv_null();
    case KS_FALSE: return jv_false();
    case KS_TRUE: return jv_true();
    case KS_NUMBER: return jv_number(ks_num_get(v));
    case KS_STRING: return jv_string_sized(ks_str_data(v), (int)ks_str_len(v));
    case KS_ARRAY: {
        jv a = jv_array();
        for (uint32_t i = 0; i < v.a->len; i++)
            a = jv_array_append(a, to_jv(v.a->items[i]));
        return a;
    }
    case KS_OBJECT: {
        jv o = jv_object();
        for (uint32_t i = 0; i < v.o->len; i++)
            o = jv_object_set(o, jv_string_sized(v.o->slots[i].key->data, (int)v.o->slots[i].key->len),
                              to_jv(v.o->slots[i].val));
        return o;
    }
    default: return jv_null();
    }
}

/* Converts and frees j. */
static ks_val from_jv(jv j)
{
    ks_val r;
    switch (jv_get_kind(j)) {
    case JV_KIND_FALSE: r = ks_bool(0); break;
    case JV_KIND_TRUE: r = ks_bool(1); break;
    case JV_KIND_NUMBER: r = ks_num(jv_number_value(j)); break;
    case JV_KIND_STRING: r = ks_str_new(jv_string_value(j), (size_t)jv_string_length_bytes(jv_copy(j))); break;
    case JV_KIND_ARRAY: {
        int n = jv_array_length(jv_copy(j));
        r = ks_arr_new((size_t)n);
        for (int i = 0; i < n; i++)
            ks_arr_push(&r, from_jv(jv_array_get(jv_copy(j), i)));
        break;
    }
    case JV_KIND_OBJECT: {
        r = ks_obj_new(8);
        for (int it = jv_object_iter(j); jv_object_iter_valid(j, it); it = jv_object_iter_next(j, it)) {
            jv k = jv_object_iter_key(j, it);
            ks_val key = ks_str_new(jv_string_value(k), (size_t)jv_string_length_bytes(jv_copy(k)));
            jv_free(k);
            ks_obj_set(&r, key, from_jv(jv_object_iter_value(j, it)));
        }
        break;
    }
    default: r = ks_null(); break;
    }
    jv_free(j);
    return r;
}

static int fallback_compile(ks_expr_t *e, const char *src, const char *const *vars, int nvars, char **jqerr)
{
    ks_buf_t prog = {0}, err = {0};
    ks_buf_puts(&prog, ". as [$__ks_input");
    for (int i = 0; i < nvars; i++)
        ks_buf_printf(&prog, ", $%s", vars[i]);
    ks_buf_printf(&prog, "] | $__ks_input | (%s\n)", src);
    e->jq = jq_init();
    if (!e->jq) {
        ks_buf_free(&prog);
        *jqerr = ks_xstrdup("cannot initialise libjq");
        return -1;
    }
    jq_set_error_cb(e->jq, jq_err_cb, &err);
    int ok = jq_compile(e->jq, prog.data);
    jq_set_error_cb(e->jq, NULL, NULL);
    ks_buf_free(&prog);
    if (!ok) {
        jq_teardown(&e->jq);
        *jqerr = ks_buf_steal(&err);
        return -1;
    }
    ks_buf_free(&err);
    pthread_mutex_init(&e->lock, NULL);
    return 0;
}

ks_expr_t *ks_expr_compile(const char *src, const char *const *vars, int nvars, char **err)
{
    ks_expr_t *e = ks_xcalloc(1, sizeof *e);
    e->nvars = nvars;
    parse_err_t perr = {0};
    node_t *root = ks__expr_parse(&e->prog, src, &perr);
    if (root && ks__expr_compile(&e->prog, root, vars, nvars, &perr) == 0) {
        e->native = 1;
        e->field = plain_field(src);
        return e;
    }
    int unsupported = strncmp(perr.msg, "unsupported: ", 13) == 0;
    ks__expr_program_free_nodes(&e->prog);
    memset(&e->prog, 0, sizeof e->prog);
    /* A genuine syntax error fails in libjq too: only unsupported constructs are worth a try. */
    char *jqerr = NULL;
    if (unsupported && fallback_compile(e, src, vars, nvars, &jqerr) == 0) {
        e->fallback_reason = ks_xstrdup(unsupported ? perr.msg + 13 : perr.msg);
        return e;
    }
    if (err) {
        if (unsupported && jqerr && *jqerr) {
            /* Neither compiles it: libjq's message names the real problem (e.g. an unknown function). */
            char msg[300];
            snprintf(msg, sizeof msg, "%s", perr.msg + 13);
            *err = format_error(src, perr.pos, msg);
        } else {
            *err = format_error(src, perr.pos, perr.msg);
        }
    }
    free(jqerr);
    free(e);
    return NULL;
}

void ks_expr_free(ks_expr_t *e)
{
    if (!e)
        return;
    ks__expr_program_free_nodes(&e->prog);
    free(e->field);
    if (e->jq) {
        jq_teardown(&e->jq);
        pthread_mutex_destroy(&e->lock);
    }
    free(e->fallback_reason);
    free(e);
}

void ks_expr_lookups(const ks_expr_t *e, void (*cb)(void *ud, const char *table, int pos), void *ud)
{
    if (!e->native)
        return;
    for (const node_t *n = e->prog.nodes; n; n = n->next) {
        if (n->op != OP_CALL || n->call_kind != CALL_BUILTIN || !n->bi || strcmp(n->bi->name, "lookup") != 0)
            continue;
        const node_t *a = n->nargs > 0 ? n->args[0] : NULL;
        /* "name": a literal, or a string of one literal part. */
        if (a && a->op == OP_STRING && !a->name && a->nargs == 1)
            a = a->args[0];
        int literal = a && a->op == OP_LITERAL && a->konst.kind == KS_STRING;
        cb(ud, literal ? ks_str_data(a->konst) : NULL, n->pos);
    }
}

int ks_expr_is_native(const ks_expr_t *e)
{
    return e->native;
}

const char *ks_expr_fallback_reason(const ks_expr_t *e)
{
    return e->native ? NULL : e->fallback_reason;
}

/* ---- evaluation ---- */

size_t ks__expr_stack_budget(void)
{
    static __thread size_t budget;
    if (!budget) {
        size_t size = 8u << 20;
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstacksize(&attr, &size);
            pthread_attr_destroy(&attr);
        }
        /* Keep a margin for the caller's own frames and for libc. */
        budget = size > (2u << 20) ? size - (1u << 20) : size / 2;
    }
    return budget;
}

typedef struct top_k {
    cont_t base;
    ks_expr_emit_fn emit;
    void *ud;
} top_k_t;

#define BREAK_BY_CALLER -2

static int top_fn(const cont_t *k, ctx_t *cx, ks_val v)
{
    const top_k_t *tk = (const top_k_t *)(const void *)k;
    if (tk->emit(tk->ud, v)) {
        cx->break_id = BREAK_BY_CALLER;
        return RC_BREAK;
    }
    return 0;
}

static int eval_fallback(const ks_expr_t *e, ks_val input, const ks_val *vals, int nvals, ks_expr_emit_fn emit,
                         void *ud, ks_val *err)
{
    ks_expr_t *me = (ks_expr_t *)e;
    jv in = jv_array();
    in = jv_array_append(in, to_jv(input));
    for (int i = 0; i < e->nvars; i++)
        in = jv_array_append(in, i < nvals && vals[i].kind != KS_INVALID ? to_jv(vals[i]) : jv_null());
    pthread_mutex_lock(&me->lock);
    jq_start(me->jq, in, 0);
    int rc = 0;
    for (;;) {
        jv r = jq_next(me->jq);
        if (jv_is_valid(r)) {
            ks_val v = from_jv(r);
            int stop = emit(ud, v);
            ks_val_release(v);
            if (stop)
                break;
            continue;
        }
        if (jv_invalid_has_msg(jv_copy(r))) {
            jv msg = jv_invalid_get_msg(r);
            if (err)
                *err = from_jv(msg);
            else
                jv_free(msg);
            rc = -1;
        } else {
            jv_free(r);
        }
        break;
    }
    pthread_mutex_unlock(&me->lock);
    return rc;
}

int ks_expr_eval(const ks_expr_t *e, ks_val input, const ks_val *vals, int nvals, ks_expr_emit_fn emit, void *ud,
                 ks_val *err)
{
    if (err)
        *err = ks_invalid();
    if (!e->native)
        return eval_fallback(e, input, vals, nvals, emit, ud, err);
    char base;
    ctx_t cx = {.err = ks_invalid(), .stack_base = &base, .stack_limit = ks__expr_stack_budget()};
    const funcdef_t *main = e->prog.main;
    frame_t fr = {NULL, NULL, NULL};
    fr.slots = alloca(((size_t)main->nslots + 1) * sizeof(ks_val));
    memset(fr.slots, 0, ((size_t)main->nslots + 1) * sizeof(ks_val));
    for (int i = 0; i < e->nvars; i++)
        fr.slots[i] = i < nvals && vals[i].kind != KS_INVALID ? vals[i] : ks_null();
    top_k_t k = {{top_fn}, emit, ud};
    const node_t *root = e->prog.root;
    int rc = root->eval(root, &cx, &fr, input, &k.base);
    if (rc == RC_ERROR) {
        if (err)
            *err = cx.err;
        else
            ks_val_release(cx.err);
        return -1;
    }
    if (rc == RC_BREAK && cx.break_id != BREAK_BY_CALLER) {
        /* A break that no label caught cannot happen: labels are lexically checked. */
    }
    ks_val_release(cx.err);
    return 0;
}

typedef struct one {
    ks_val v;
} one_t;

static int take_first(void *ud, ks_val v)
{
    ((one_t *)ud)->v = ks_val_retain(v);
    return 1;
}

int ks_expr_eval1(const ks_expr_t *e, ks_val input, const ks_val *vals, int nvals, ks_val *out, ks_val *err)
{
    if (e->native && e->prog.root->eval1) {
        char base;
        ctx_t cx = {.err = ks_invalid(), .stack_base = &base, .stack_limit = ks__expr_stack_budget()};
        frame_t fr = {NULL, NULL, NULL};
        const funcdef_t *main = e->prog.main;
        fr.slots = alloca(((size_t)main->nslots + 1) * sizeof(ks_val));
        memset(fr.slots, 0, ((size_t)main->nslots + 1) * sizeof(ks_val));
        for (int i = 0; i < e->nvars; i++)
            fr.slots[i] = i < nvals && vals[i].kind != KS_INVALID ? vals[i] : ks_null();
        if (err)
            *err = ks_invalid();
        int rc = e->prog.root->eval1(e->prog.root, &cx, &fr, input, out);
        if (rc) {
            *out = ks_invalid();
            if (err)
                *err = cx.err;
            else
                ks_val_release(cx.err);
            return -1;
        }
        return 0;
    }
    one_t o = {ks_invalid()};
    int rc = ks_expr_eval(e, input, vals, nvals, take_first, &o, err);
    *out = o.v;
    return rc;
}

char *ks_expr_error_message(ks_val err)
{
    if (err.kind == KS_STRING)
        return ks_xstrdup(ks_str_data(err));
    ks_buf_t b = {0};
    ks_json_write(&b, err);
    ks_buf_puts(&b, " (not a string)");
    return ks_buf_steal(&b);
}
