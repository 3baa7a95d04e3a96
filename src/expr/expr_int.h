/*
 * expr_int.h: the expression engine's internals, shared by its files.
 *
 * Pipeline: parse.c turns source text into a tree of node_t; compile.c
 * resolves names (variables to frame slots, calls to builtins, user
 * functions or closure parameters) and picks each node's evaluator;
 * eval.c, paths.c and builtins*.c evaluate.
 *
 * Evaluation is continuation-passing: a node's eval function receives its
 * input and a continuation `k`, and calls k once per output. Values passed to
 * a continuation are borrowed for the duration of the call. Every eval
 * function returns RC_OK, RC_ERROR (the error value is in cx->err) or
 * RC_BREAK (a `break $label`, or a consumer that wants no more outputs).
 *
 * Nodes that always produce exactly one output (or an error) also have an
 * `eval1` that returns the value directly; most record mappings are made of
 * such nodes and so run without any callbacks.
 */
#ifndef KS_EXPR_INT_H
#define KS_EXPR_INT_H

#include "../json/json.h"
#include "../json/value.h"
#include "expr.h"

#define RC_OK 0
#define RC_ERROR 1
#define RC_BREAK 2

typedef struct node node_t;
typedef struct ctx ctx_t;
typedef struct frame frame_t;
typedef struct cont cont_t;
typedef struct pcont pcont_t;
typedef struct funcdef funcdef_t;
typedef struct builtin builtin_t;
typedef struct pattern pattern_t;

typedef int (*cont_fn)(const cont_t *k, ctx_t *cx, ks_val v);
struct cont {
    cont_fn fn;
};

/* A continuation in path mode receives a value and its path from the root. */
typedef int (*pcont_fn)(const pcont_t *k, ctx_t *cx, ks_val v, ks_val path);
struct pcont {
    pcont_fn fn;
};

typedef int (*eval_fn)(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
typedef int (*eval1_fn)(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
typedef int (*path_fn)(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k);

/* A filter argument of a call: the argument's code and the frame it runs in. */
typedef struct closure {
    const node_t *body;
    frame_t *fr;
} closure_t;

/* One activation of a function (or of the main program). */
struct frame {
    frame_t *up;           /* static link: the lexically enclosing activation */
    const closure_t *args; /* the call's filter arguments */
    ks_val *slots;         /* this activation's variables */
};

struct ctx {
    ks_val err;        /* the raised error value when RC_ERROR is returned */
    double break_id;   /* the label an RC_BREAK unwinds to */
    double next_label; /* counter giving each label activation an id */
    int depth;         /* function call depth */
    const char *stack_base;
    size_t stack_limit; /* bytes of stack evaluation may use below stack_base */
};

/* The stack an evaluation on this thread may use: the thread's stack less a margin (cached per thread). */
size_t ks__expr_stack_budget(void);

enum node_op {
    OP_IDENTITY,
    OP_FIELD,   /* a.key or .key (a == NULL) */
    OP_INDEX,   /* a[b] */
    OP_SLICE,   /* a[b:c], b or c may be NULL */
    OP_ITER,    /* a[] */
    OP_TRY,     /* try a catch b; `a?` is a try without catch */
    OP_LITERAL, /* konst */
    OP_STRING,  /* interpolated string: args are parts, `name` a format or NULL */
    OP_FORMAT,  /* @name as a filter */
    OP_ARRAY,   /* [a] or [] */
    OP_OBJECT,  /* args: key0, val0, key1, val1, ... */
    OP_PIPE,
    OP_COMMA,
    OP_NEG,
    OP_BINOP, /* binop: '+', '-', '*', '/', '%', and the comparisons */
    OP_AND,
    OP_OR,
    OP_ALT,     /* a // b */
    OP_ASSIGN,  /* binop: '=', '|', '+', '-', '*', '/', '%', 'A' (//=) */
    OP_IF,      /* if a then b else c (c NULL: identity) */
    OP_REDUCE,  /* reduce a as pat (b; c) */
    OP_FOREACH, /* foreach a as pat (b; c; d) */
    OP_AS,      /* a as pat | b */
    OP_FUNCDEF, /* fn defined, then a */
    OP_CALL,    /* name(args): resolved to bi, fn or a parameter */
    OP_VAR,
    OP_LABEL, /* label $name | a */
    OP_BREAK,
};

/* Comparison operators in node->binop. */
#define BOP_EQ 'e'
#define BOP_NE 'n'
#define BOP_LT '<'
#define BOP_LE 'l'
#define BOP_GT '>'
#define BOP_GE 'g'
#define BOP_ALT 'A'

enum call_kind { CALL_BUILTIN, CALL_FUNC, CALL_PARAM };

struct pattern {
    int kind; /* 'v' variable, 'a' array, 'o' object */
    char *name;
    int slot;
    int n;
    struct pattern_entry {
        node_t *key;  /* array: literal index; object: key expression */
        char *keyvar; /* object `$name` / `$name: pat` entries */
        int keyvar_slot;
        pattern_t *sub; /* may be NULL for `$name` entries */
    } * ents;
};

struct node {
    eval_fn eval;
    eval1_fn eval1; /* non-NULL when the node always yields exactly one output */
    path_fn path;   /* non-NULL when the node is a valid path expression */
    int op;
    int pos; /* byte offset in the source */
    int binop;
    node_t *a, *b, *c, *d;
    ks_val konst;
    char *name;
    node_t **args;
    int nargs;
    pattern_t *pat;
    funcdef_t *fn; /* OP_FUNCDEF: the definition; OP_CALL: the callee */
    const builtin_t *bi;
    int call_kind;
    int slot, hops; /* OP_VAR, OP_LABEL, OP_BREAK, CALL_PARAM: where the binding lives */
    node_t *next;   /* allocation list */
};

struct funcdef {
    char *name;
    int nparams;
    char **params;   /* names, without `$` */
    int *param_slot; /* slot of a `$param`'s value, or -1 for a filter param */
    node_t *body;
    int level;   /* lexical level of the body */
    int nslots;  /* variables in the body's frame */
    int prelude; /* a top-level prelude function: no static link */
    int pos;
    funcdef_t *next; /* allocation list */
};

/* Builtins implemented in C. */
typedef int (*cfunc_fn)(ctx_t *cx, ks_val in, const ks_val *args, ks_val *out);
typedef int (*native_fn)(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
typedef int (*native_path_fn)(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k);

struct builtin {
    const char *name;
    int arity;
    cfunc_fn cfunc;       /* value function: arguments evaluated to values (cartesian product) */
    native_fn native;     /* generator or closure-taking builtin */
    native_path_fn npath; /* path-mode version of a native builtin */
};

/* The program, and the arena its nodes live in. */
typedef struct program {
    node_t *root;
    funcdef_t *main;
    node_t *nodes;  /* every node allocated for this program */
    funcdef_t *fns; /* every funcdef allocated for this program */
    int nvars;      /* declared variables: slots 0..nvars-1 of main */
} program_t;

/* parse.c */
typedef struct parse_err {
    int pos;
    char msg[256];
} parse_err_t;
node_t *ks__expr_parse(program_t *prog, const char *src, parse_err_t *err);
node_t *ks__expr_node_new(program_t *prog, int op, int pos);
funcdef_t *ks__expr_funcdef_new(program_t *prog);
void ks__expr_program_free_nodes(program_t *prog);

/* compile.c */
int ks__expr_compile(program_t *prog, node_t *root, const char *const *vars, int nvars, parse_err_t *err);
const builtin_t *ks__expr_builtin_find(const char *name, int arity);
/* The eval1 of a native builtin that always yields exactly one output (map), or NULL. */
eval1_fn ks__expr_builtin_eval1(const builtin_t *b);
void ks__expr_set_evaluators(node_t *n);

/* eval.c */
int ks__expr_emit(const cont_t *k, ctx_t *cx, ks_val v); /* emits and releases an owned value */
int ks__expr_error(ctx_t *cx, ks_val msg);               /* raises; consumes msg */
int ks__expr_errorf(ctx_t *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ks__expr_eval_closure(const closure_t *cl, ctx_t *cx, ks_val in, const cont_t *k);
int ks__expr_arith(ctx_t *cx, int op, ks_val a, ks_val b, ks_val *out);
int ks__expr_index(ctx_t *cx, ks_val t, ks_val k, ks_val *out);
int ks__expr_iterate(ctx_t *cx, ks_val t, const cont_t *k);
void ks__expr_dump_trunc(ks_val v, char *buf, size_t size);
/* Raises jq's "<kind> (<value, cut to 11 bytes...>) <what>" error. */
int ks__expr_type_error(ctx_t *cx, ks_val v, const char *what);
frame_t *ks__expr_frame_up(frame_t *fr, int hops);
int ks__expr_eval_node(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_collect1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out); /* first output or invalid */
int ks__expr_call_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_call_path(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k);
int ks__expr_to_string(ks_val v, ks_val *out); /* tostring: new reference */
int ks__expr_bind_pattern(const pattern_t *pat, ctx_t *cx, frame_t *fr, ks_val in, ks_val v, const node_t *body,
                          const cont_t *k, int pathmode, ks_val path, const pcont_t *pk);

/* eval_flow.c: evaluators selected by ks__expr_set_evaluators */
int ks__expr_var_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_as_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_as_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_reduce_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_foreach_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_funcdef_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_funcdef_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_label_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_break_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_cfunc_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
/* eval_build.c and arith.c */
int ks__expr_array_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_binop_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_binop_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_format_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_neg_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_neg_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_object_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_object_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);
int ks__expr_string_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_string_eval1(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val *out);

/* paths.c */
void ks__expr_set_path_fns(node_t *n);
int ks__expr_path_eval(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, ks_val path, const pcont_t *k);
int ks__expr_getpath(ctx_t *cx, ks_val v, ks_val path, ks_val *out);
int ks__expr_setpath(ctx_t *cx, ks_val v, ks_val path, size_t from, ks_val x, ks_val *out); /* consumes v, x */
int ks__expr_delpaths(ctx_t *cx, ks_val v, ks_val paths, ks_val *out);                      /* consumes v */
int ks__expr_eval_assign(const node_t *n, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);
int ks__expr_bi_path(const node_t *call, ctx_t *cx, frame_t *fr, ks_val in, const cont_t *k);

/* builtins*.c */
extern const builtin_t ks__expr_builtins[];
extern const builtin_t ks__expr_builtins_str[];
extern const builtin_t ks__expr_builtins_math[];
int ks__expr_format(ctx_t *cx, const char *fmt, ks_val v, ks_val *out);
int ks__expr_tojson(ks_val v, ks_val *out);

/* prelude.c: builtins written in jq, compiled once per process. */
const char *ks__expr_prelude_source(void);

#endif
