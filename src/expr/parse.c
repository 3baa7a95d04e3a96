/*
 * parse.c: lexer and recursive-descent parser for jq syntax.
 *
 * Precedence, lowest first, as in jq 1.6's grammar: `|`, `,`, `//`,
 * assignments (non-associative), `or`, `and`, comparisons
 * (non-associative), `+ -`, `* / %`, unary minus, postfix (`.a`, `[e]`,
 * `?`), then terms. `def`, `E as $x | F` and `label` extend to the end of
 * the enclosing pipe.
 *
 * Extensions over jq 1.6, all from jq 1.7: `if` without `else`, and object
 * values written with operators other than `,` (jq 1.6 requires
 * parentheses there). Constructs we do not compile natively (`?//`,
 * modules) are reported with `unsupported` set, so the caller can fall back
 * to libjq.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"

enum tok {
    T_EOF = 256,
    T_IDENT,
    T_FIELD,
    T_VAR,
    T_NUM,
    T_STR,
    T_FORMAT,
    T_ALT,
    T_SETPIPE,
    T_SETPLUS,
    T_SETMINUS,
    T_SETMULT,
    T_SETDIV,
    T_SETMOD,
    T_SETALT,
    T_EQ,
    T_NE,
    T_LE,
    T_GE,
    T_DOTDOT,
    T_ALTDESTR,
    T_ERROR,
};

typedef struct parser {
    program_t *prog;
    const char *src;
    int len;
    int pos;    /* lexer position: just past the current token */
    int have;   /* the current token is lexed */
    int tok;    /* current token kind */
    int tstart; /* its start offset */
    char *text; /* T_IDENT, T_FIELD, T_VAR, T_FORMAT: name (malloc'd) */
    double num; /* T_NUM */
    int depth;  /* nesting, bounded so that deep input cannot overflow the stack */
    parse_err_t *err;
    int failed;
} parser_t;

#define MAX_DEPTH 200

static int fail_at(parser_t *p, int pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail_at(parser_t *p, int pos, const char *fmt, ...)
{
    if (!p->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
        p->err->pos = pos;
        p->failed = 1;
    }
    return -1;
}

static int is_ident_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_ident_char(int c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static void lex(parser_t *p)
{
    const char *s = p->src;
    int i = p->pos;
    free(p->text);
    p->text = NULL;
    for (;;) {
        while (i < p->len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i < p->len && s[i] == '#') {
            while (i < p->len && s[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    p->tstart = i;
    p->have = 1;
    if (i >= p->len) {
        p->tok = T_EOF;
        p->pos = i;
        return;
    }
    int c = (unsigned char)s[i];
    int c1 = i + 1 < p->len ? (unsigned char)s[i + 1] : 0;
    int c2 = i + 2 < p->len ? (unsigned char)s[i + 2] : 0;
    if (is_ident_start(c)) {
        int j = i + 1;
        while (j < p->len && (is_ident_char((unsigned char)s[j]) || (s[j] == ':' && j + 2 < p->len && s[j + 1] == ':' &&
                                                                     is_ident_start((unsigned char)s[j + 2])))) {
            j += s[j] == ':' ? 2 : 1;
        }
        p->text = ks_xstrndup(s + i, (size_t)(j - i));
        p->tok = T_IDENT;
        p->pos = j;
        return;
    }
    if ((c == '.' || c == '$' || c == '@') && is_ident_start(c1)) {
        int j = i + 2;
        while (j < p->len && is_ident_char((unsigned char)s[j]))
            j++;
        p->text = ks_xstrndup(s + i + 1, (size_t)(j - i - 1));
        p->tok = c == '.' ? T_FIELD : c == '$' ? T_VAR : T_FORMAT;
        p->pos = j;
        return;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && c1 >= '0' && c1 <= '9')) {
        int j = i;
        while (j < p->len && s[j] >= '0' && s[j] <= '9')
            j++;
        if (j < p->len && s[j] == '.') {
            j++;
            while (j < p->len && s[j] >= '0' && s[j] <= '9')
                j++;
        }
        if (j < p->len && (s[j] == 'e' || s[j] == 'E')) {
            int k = j + 1;
            if (k < p->len && (s[k] == '+' || s[k] == '-'))
                k++;
            if (k < p->len && s[k] >= '0' && s[k] <= '9') {
                while (k < p->len && s[k] >= '0' && s[k] <= '9')
                    k++;
                j = k;
            }
        }
        char buf[64];
        int n = j - i < 63 ? j - i : 63;
        memcpy(buf, s + i, (size_t)n);
        buf[n] = 0;
        p->num = strtod(buf, NULL);
        p->tok = T_NUM;
        p->pos = j;
        return;
    }
    p->pos = i + 1;
    switch (c) {
    case '"': p->tok = T_STR; return;
    case '|':
        if (c1 == '=') {
            p->tok = T_SETPIPE;
            p->pos++;
        } else
            p->tok = '|';
        return;
    case '/':
        if (c1 == '/' && c2 == '=') {
            p->tok = T_SETALT;
            p->pos += 2;
        } else if (c1 == '/') {
            p->tok = T_ALT;
            p->pos++;
        } else if (c1 == '=') {
            p->tok = T_SETDIV;
            p->pos++;
        } else
            p->tok = '/';
        return;
    case '+':
        if (c1 == '=') {
            p->tok = T_SETPLUS;
            p->pos++;
        } else
            p->tok = '+';
        return;
    case '-':
        if (c1 == '=') {
            p->tok = T_SETMINUS;
            p->pos++;
        } else
            p->tok = '-';
        return;
    case '*':
        if (c1 == '=') {
            p->tok = T_SETMULT;
            p->pos++;
        } else
            p->tok = '*';
        return;
    case '%':
        if (c1 == '=') {
            p->tok = T_SETMOD;
            p->pos++;
        } else
            p->tok = '%';
        return;
    case '=':
        if (c1 == '=') {
            p->tok = T_EQ;
            p->pos++;
        } else
            p->tok = '=';
        return;
    case '!':
        if (c1 == '=') {
            p->tok = T_NE;
            p->pos++;
            return;
        }
        break;
    case '<':
        if (c1 == '=') {
            p->tok = T_LE;
            p->pos++;
        } else
            p->tok = '<';
        return;
    case '>':
        if (c1 == '=') {
            p->tok = T_GE;
            p->pos++;
        } else
            p->tok = '>';
        return;
    case '.':
        if (c1 == '.') {
            p->tok = T_DOTDOT;
            p->pos++;
        } else
            p->tok = '.';
        return;
    case '?':
        if (c1 == '/' && c2 == '/') {
            p->tok = T_ALTDESTR;
            p->pos += 2;
        } else
            p->tok = '?';
        return;
    case ',':
    case '(':
    case ')':
    case '[':
    case ']':
    case '{':
    case '}':
    case ':':
    case ';': p->tok = c; return;
    default: break;
    }
    p->tok = T_ERROR;
}

static int peek(parser_t *p)
{
    if (!p->have)
        lex(p);
    return p->tok;
}

static void advance(parser_t *p)
{
    peek(p);
    p->have = 0;
}

static int is_kw(parser_t *p, const char *kw)
{
    return peek(p) == T_IDENT && strcmp(p->text, kw) == 0;
}

static const char *tok_desc(parser_t *p, char *buf, size_t n)
{
    int t = peek(p);
    if (t == T_EOF)
        return "end of input";
    if (t == T_IDENT)
        snprintf(buf, n, "`%s`", p->text);
    else if (t == T_STR)
        snprintf(buf, n, "a string");
    else if (t == T_NUM)
        snprintf(buf, n, "a number");
    else {
        int end = p->pos > p->tstart ? p->pos : p->tstart + 1;
        if (end > p->len)
            end = p->len;
        snprintf(buf, n, "`%.*s`", end - p->tstart, p->src + p->tstart);
    }
    return buf;
}

static int expect(parser_t *p, int t, const char *what)
{
    if (peek(p) == t) {
        advance(p);
        return 0;
    }
    char b[64];
    return fail_at(p, p->tstart, "syntax error: expected %s but got %s", what, tok_desc(p, b, sizeof b));
}

static int expect_kw(parser_t *p, const char *kw)
{
    if (is_kw(p, kw)) {
        advance(p);
        return 0;
    }
    char b[64];
    return fail_at(p, p->tstart, "syntax error: expected `%s` but got %s", kw, tok_desc(p, b, sizeof b));
}

static const char *const keywords[] = {"def", "if",    "then",  "elif",   "else",    "end", "as", "reduce",  "foreach",
                                       "try", "catch", "label", "import", "include", "and", "or", "__loc__", NULL};

static int is_keyword(const char *s)
{
    for (int i = 0; keywords[i]; i++)
        if (strcmp(keywords[i], s) == 0)
            return 1;
    return 0;
}

node_t *ks__expr_node_new(program_t *prog, int op, int pos)
{
    node_t *n = ks_xcalloc(1, sizeof *n);
    n->op = op;
    n->pos = pos;
    n->next = prog->nodes;
    prog->nodes = n;
    return n;
}

funcdef_t *ks__expr_funcdef_new(program_t *prog)
{
    funcdef_t *f = ks_xcalloc(1, sizeof *f);
    f->next = prog->fns;
    prog->fns = f;
    return f;
}

static void pattern_free(pattern_t *pat)
{
    if (!pat)
        return;
    for (int i = 0; i < pat->n; i++) {
        free(pat->ents[i].keyvar);
        pattern_free(pat->ents[i].sub);
    }
    free(pat->ents);
    free(pat->name);
    free(pat);
}

void ks__expr_program_free_nodes(program_t *prog)
{
    node_t *n = prog->nodes;
    while (n) {
        node_t *next = n->next;
        ks_val_free_static(n->konst);
        free(n->name);
        free(n->args);
        pattern_free(n->pat);
        free(n);
        n = next;
    }
    funcdef_t *f = prog->fns;
    while (f) {
        funcdef_t *next = f->next;
        for (int i = 0; i < f->nparams; i++)
            free(f->params[i]);
        free(f->params);
        free(f->param_slot);
        free(f->name);
        free(f);
        f = next;
    }
    prog->nodes = NULL;
    prog->fns = NULL;
}

static node_t *mk(parser_t *p, int op, int pos, node_t *a, node_t *b)
{
    node_t *n = ks__expr_node_new(p->prog, op, pos);
    n->a = a;
    n->b = b;
    return n;
}

static node_t *mk_literal(parser_t *p, int pos, ks_val v)
{
    node_t *n = ks__expr_node_new(p->prog, OP_LITERAL, pos);
    ks_val_make_static(v);
    n->konst = v;
    return n;
}

static void add_arg(node_t *n, node_t *arg)
{
    KS_GROW(n->args, n->nargs);
    n->args[n->nargs++] = arg;
}

static node_t *mk_call(parser_t *p, int pos, const char *name)
{
    node_t *n = ks__expr_node_new(p->prog, OP_CALL, pos);
    n->name = ks_xstrdup(name);
    return n;
}

static node_t *parse_pipe(parser_t *p);
static node_t *parse_alt(parser_t *p);
static node_t *parse_postfix(parser_t *p, int allow_as);
static node_t *parse_string(parser_t *p, const char *format);
static pattern_t *parse_pattern(parser_t *p);

static int enter(parser_t *p)
{
    if (++p->depth > MAX_DEPTH) {
        fail_at(p, p->tstart, "syntax error: expression nested too deeply");
        return -1;
    }
    return 0;
}

static node_t *parse_def(parser_t *p)
{
    int pos = p->tstart;
    advance(p); /* def */
    if (peek(p) != T_IDENT || is_keyword(p->text)) {
        char b[64];
        fail_at(p, p->tstart, "syntax error: expected a function name after `def` but got %s",
                tok_desc(p, b, sizeof b));
        return NULL;
    }
    funcdef_t *fd = ks__expr_funcdef_new(p->prog);
    fd->name = ks_xstrdup(p->text);
    fd->pos = pos;
    advance(p);
    if (peek(p) == '(') {
        advance(p);
        for (;;) {
            int t = peek(p);
            if (t != T_IDENT && t != T_VAR) {
                char b[64];
                fail_at(p, p->tstart, "syntax error: expected a parameter name but got %s", tok_desc(p, b, sizeof b));
                return NULL;
            }
            KS_GROW(fd->params, fd->nparams);
            KS_GROW(fd->param_slot, fd->nparams);
            fd->params[fd->nparams] = ks_xstrdup(p->text);
            fd->param_slot[fd->nparams] = t == T_VAR ? 0 : -1;
            fd->nparams++;
            advance(p);
            if (peek(p) == ';') {
                advance(p);
                continue;
            }
            if (expect(p, ')', "`;` or `)`"))
                return NULL;
            break;
        }
    }
    if (expect(p, ':', "`:`"))
        return NULL;
    fd->body = parse_pipe(p);
    if (!fd->body || expect(p, ';', "`;` after the function body"))
        return NULL;
    node_t *n = ks__expr_node_new(p->prog, OP_FUNCDEF, pos);
    n->fn = fd;
    return n;
}

static node_t *parse_pipe(parser_t *p)
{
    if (enter(p))
        return NULL;
    node_t *r = NULL;
    if (is_kw(p, "def")) {
        node_t *d = parse_def(p);
        if (d && (d->a = parse_pipe(p)))
            r = d;
    } else if (is_kw(p, "label")) {
        int pos = p->tstart;
        advance(p);
        if (peek(p) != T_VAR) {
            char b[64];
            fail_at(p, p->tstart, "syntax error: expected `$name` after `label` but got %s", tok_desc(p, b, sizeof b));
        } else {
            node_t *n = ks__expr_node_new(p->prog, OP_LABEL, pos);
            n->name = ks_xstrdup(p->text);
            advance(p);
            if (!expect(p, '|', "`|` after the label") && (n->a = parse_pipe(p)))
                r = n;
        }
    } else {
        node_t *lhs = NULL;
        int pos = p->tstart;
        lhs = parse_alt(p);
        while (lhs && peek(p) == ',') {
            advance(p);
            node_t *rhs = parse_alt(p);
            lhs = rhs ? mk(p, OP_COMMA, pos, lhs, rhs) : NULL;
        }
        if (lhs && peek(p) == '|') {
            advance(p);
            node_t *rhs = parse_pipe(p);
            lhs = rhs ? mk(p, OP_PIPE, pos, lhs, rhs) : NULL;
        }
        r = lhs;
    }
    p->depth--;
    return r;
}

static node_t *parse_or(parser_t *p);

static node_t *parse_assign(parser_t *p)
{
    node_t *lhs = parse_or(p);
    if (!lhs)
        return NULL;
    int op;
    switch (peek(p)) {
    case '=': op = '='; break;
    case T_SETPIPE: op = '|'; break;
    case T_SETPLUS: op = '+'; break;
    case T_SETMINUS: op = '-'; break;
    case T_SETMULT: op = '*'; break;
    case T_SETDIV: op = '/'; break;
    case T_SETMOD: op = '%'; break;
    case T_SETALT: op = BOP_ALT; break;
    default: return lhs;
    }
    int pos = p->tstart;
    advance(p);
    node_t *rhs = parse_alt(p);
    if (!rhs)
        return NULL;
    node_t *n = mk(p, OP_ASSIGN, pos, lhs, rhs);
    n->binop = op;
    return n;
}

static node_t *parse_alt(parser_t *p)
{
    node_t *lhs = parse_assign(p);
    if (lhs && peek(p) == T_ALT) {
        int pos = p->tstart;
        advance(p);
        node_t *rhs = parse_alt(p);
        return rhs ? mk(p, OP_ALT, pos, lhs, rhs) : NULL;
    }
    return lhs;
}

static node_t *parse_unary(parser_t *p);

static node_t *parse_mul(parser_t *p)
{
    node_t *lhs = parse_unary(p);
    while (lhs && (peek(p) == '*' || peek(p) == '/' || peek(p) == '%')) {
        int op = p->tok, pos = p->tstart;
        advance(p);
        node_t *rhs = parse_unary(p);
        if (!rhs)
            return NULL;
        lhs = mk(p, OP_BINOP, pos, lhs, rhs);
        lhs->binop = op;
    }
    return lhs;
}

static node_t *parse_add(parser_t *p)
{
    node_t *lhs = parse_mul(p);
    while (lhs && (peek(p) == '+' || peek(p) == '-')) {
        int op = p->tok, pos = p->tstart;
        advance(p);
        node_t *rhs = parse_mul(p);
        if (!rhs)
            return NULL;
        lhs = mk(p, OP_BINOP, pos, lhs, rhs);
        lhs->binop = op;
    }
    return lhs;
}

static node_t *parse_cmp(parser_t *p)
{
    node_t *lhs = parse_add(p);
    if (!lhs)
        return NULL;
    int op;
    switch (peek(p)) {
    case T_EQ: op = BOP_EQ; break;
    case T_NE: op = BOP_NE; break;
    case '<': op = BOP_LT; break;
    case T_LE: op = BOP_LE; break;
    case '>': op = BOP_GT; break;
    case T_GE: op = BOP_GE; break;
    default: return lhs;
    }
    int pos = p->tstart;
    advance(p);
    node_t *rhs = parse_add(p);
    if (!rhs)
        return NULL;
    node_t *n = mk(p, OP_BINOP, pos, lhs, rhs);
    n->binop = op;
    switch (peek(p)) {
    case T_EQ:
    case T_NE:
    case '<':
    case T_LE:
    case '>':
    case T_GE: fail_at(p, p->tstart, "syntax error: comparisons cannot be chained; use parentheses"); return NULL;
    }
    return n;
}

static node_t *parse_and(parser_t *p)
{
    node_t *lhs = parse_cmp(p);
    while (lhs && is_kw(p, "and")) {
        int pos = p->tstart;
        advance(p);
        node_t *rhs = parse_cmp(p);
        lhs = rhs ? mk(p, OP_AND, pos, lhs, rhs) : NULL;
    }
    return lhs;
}

static node_t *parse_or(parser_t *p)
{
    node_t *lhs = parse_and(p);
    while (lhs && is_kw(p, "or")) {
        int pos = p->tstart;
        advance(p);
        node_t *rhs = parse_and(p);
        lhs = rhs ? mk(p, OP_OR, pos, lhs, rhs) : NULL;
    }
    return lhs;
}

static node_t *parse_unary(parser_t *p)
{
    if (peek(p) == '-') {
        int pos = p->tstart;
        advance(p);
        if (enter(p))
            return NULL;
        node_t *a = parse_unary(p);
        p->depth--;
        return a ? mk(p, OP_NEG, pos, a, NULL) : NULL;
    }
    return parse_postfix(p, 1);
}

/* Object construction: `{a, $x, "k": v, (e): v, @fmt "s": v, kw: v}`. */
static node_t *parse_object(parser_t *p)
{
    node_t *obj = ks__expr_node_new(p->prog, OP_OBJECT, p->tstart);
    advance(p); /* { */
    if (peek(p) == '}') {
        advance(p);
        return obj;
    }
    for (;;) {
        node_t *key = NULL, *val = NULL;
        int t = peek(p), pos = p->tstart;
        if (t == T_VAR) {
            if (strcmp(p->text, "__loc__") == 0)
                return fail_at(p, pos, "syntax error: `$__loc__` cannot be an object key here"), NULL;
            key = mk_literal(p, pos, ks_str_cstr(p->text));
            val = ks__expr_node_new(p->prog, OP_VAR, pos);
            val->name = ks_xstrdup(p->text);
            advance(p);
        } else if (t == T_IDENT || t == T_NUM || t == T_STR || t == '(' || t == T_FORMAT) {
            if (t == T_IDENT) {
                key = mk_literal(p, pos, ks_str_cstr(p->text));
                advance(p);
            } else if (t == T_STR) {
                advance(p);
                key = parse_string(p, NULL);
            } else if (t == T_FORMAT) {
                char *fmt = ks_xstrdup(p->text);
                advance(p);
                if (peek(p) != T_STR) {
                    free(fmt);
                    return fail_at(p, p->tstart, "syntax error: expected a string after the format"), NULL;
                }
                advance(p);
                key = parse_string(p, fmt);
                free(fmt);
            } else if (t == '(') {
                advance(p);
                key = parse_pipe(p);
                if (!key || expect(p, ')', "`)`"))
                    return NULL;
                if (peek(p) != ':')
                    return fail_at(p, p->tstart, "syntax error: expected `:` after a computed object key"), NULL;
            } else {
                return fail_at(p, pos, "syntax error: object keys must be names, strings or (expressions)"), NULL;
            }
            if (!key)
                return NULL;
            if (peek(p) == ':') {
                advance(p);
                node_t *lhs = parse_alt(p);
                if (lhs && peek(p) == '|') {
                    /* ExpD '|' ExpD */
                    while (lhs && peek(p) == '|') {
                        int ppos = p->tstart;
                        advance(p);
                        node_t *rhs = parse_alt(p);
                        lhs = rhs ? mk(p, OP_PIPE, ppos, lhs, rhs) : NULL;
                    }
                }
                val = lhs;
                if (!val)
                    return NULL;
            } else if (key->op == OP_LITERAL) {
                /* {a} means {a: .a}; {"a b"} means {"a b": .["a b"]} */
                val = ks__expr_node_new(p->prog, OP_FIELD, pos);
                val->konst = ks_str_new(ks_str_data(key->konst), ks_str_len(key->konst));
                ks_val_make_static(val->konst);
            } else if (key->op == OP_STRING) {
                val = mk(p, OP_INDEX, pos, ks__expr_node_new(p->prog, OP_IDENTITY, pos), key);
            } else {
                return fail_at(p, p->tstart, "syntax error: expected `:` after the object key"), NULL;
            }
        } else {
            char b[64];
            return fail_at(p, pos, "syntax error: expected an object key but got %s", tok_desc(p, b, sizeof b)), NULL;
        }
        add_arg(obj, key);
        add_arg(obj, val);
        if (peek(p) == ',') {
            advance(p);
            continue;
        }
        if (expect(p, '}', "`,` or `}` in the object"))
            return NULL;
        return obj;
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Parses a string literal whose opening quote was just consumed: raw
 * characters are read from p->pos; `\(` parses an embedded expression.
 */
static node_t *parse_string(parser_t *p, const char *format)
{
    int start = p->tstart;
    node_t *str = ks__expr_node_new(p->prog, OP_STRING, start);
    if (format)
        str->name = ks_xstrdup(format);
    ks_buf_t lit = {0};
    const char *s = p->src;
    int i = p->pos;
    for (;;) {
        if (i >= p->len) {
            ks_buf_free(&lit);
            fail_at(p, start, "syntax error: unterminated string literal");
            return NULL;
        }
        char c = s[i];
        if (c == '"') {
            i++;
            break;
        }
        if (c != '\\') {
            ks_buf_putc(&lit, c);
            i++;
            continue;
        }
        if (i + 1 >= p->len) {
            ks_buf_free(&lit);
            fail_at(p, i, "syntax error: unterminated string literal");
            return NULL;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case '"': ks_buf_putc(&lit, '"'); break;
        case '\\': ks_buf_putc(&lit, '\\'); break;
        case '/': ks_buf_putc(&lit, '/'); break;
        case 'b': ks_buf_putc(&lit, '\b'); break;
        case 'f': ks_buf_putc(&lit, '\f'); break;
        case 'n': ks_buf_putc(&lit, '\n'); break;
        case 'r': ks_buf_putc(&lit, '\r'); break;
        case 't': ks_buf_putc(&lit, '\t'); break;
        case 'u': {
            uint32_t cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = i + k < p->len ? hexval((unsigned char)s[i + k]) : -1;
                if (h < 0) {
                    ks_buf_free(&lit);
                    fail_at(p, i - 2, "syntax error: invalid \\u escape in string literal");
                    return NULL;
                }
                cp = cp * 16 + (uint32_t)h;
            }
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && i + 6 <= p->len && s[i] == '\\' && s[i + 1] == 'u') {
                uint32_t lo = 0;
                int ok = 1;
                for (int k = 0; k < 4; k++) {
                    int h = hexval((unsigned char)s[i + 2 + k]);
                    if (h < 0)
                        ok = 0;
                    lo = lo * 16 + (uint32_t)(h < 0 ? 0 : h);
                }
                if (ok && lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
            }
            ks_utf8_encode(&lit, cp);
            break;
        }
        case '(': {
            /* Flush the literal part, then parse the embedded expression. */
            if (lit.len || str->nargs == 0) {
                add_arg(str, mk_literal(p, start, ks_str_new(lit.data ? lit.data : "", lit.len)));
                lit.len = 0;
            }
            p->pos = i;
            p->have = 0;
            node_t *e = parse_pipe(p);
            if (!e || peek(p) != ')') {
                ks_buf_free(&lit);
                if (e)
                    expect(p, ')', "`)` closing the string interpolation");
                return NULL;
            }
            i = p->pos; /* just past ')' */
            p->have = 0;
            add_arg(str, e);
            break;
        }
        default:
            ks_buf_free(&lit);
            fail_at(p, i - 2, "syntax error: invalid escape `\\%c` in string literal", e);
            return NULL;
        }
    }
    p->pos = i;
    p->have = 0;
    if (lit.len || str->nargs == 0)
        add_arg(str, mk_literal(p, start, ks_str_new(lit.data ? lit.data : "", lit.len)));
    ks_buf_free(&lit);
    /* A plain literal string becomes a constant. */
    if (str->nargs == 1 && str->args[0]->op == OP_LITERAL && !format)
        return str->args[0];
    return str;
}

static pattern_t *parse_pattern(parser_t *p)
{
    if (enter(p))
        return NULL;
    pattern_t *pat = ks_xcalloc(1, sizeof *pat);
    int t = peek(p);
    if (t == T_VAR) {
        pat->kind = 'v';
        pat->name = ks_xstrdup(p->text);
        advance(p);
    } else if (t == '[') {
        pat->kind = 'a';
        advance(p);
        for (;;) {
            pattern_t *sub = parse_pattern(p);
            if (!sub)
                goto fail;
            KS_GROW(pat->ents, pat->n);
            memset(&pat->ents[pat->n], 0, sizeof pat->ents[0]);
            pat->ents[pat->n].key = mk_literal(p, p->tstart, ks_num(pat->n));
            pat->ents[pat->n].sub = sub;
            pat->n++;
            if (peek(p) == ',') {
                advance(p);
                continue;
            }
            if (expect(p, ']', "`,` or `]` in the array pattern"))
                goto fail;
            break;
        }
    } else if (t == '{') {
        pat->kind = 'o';
        advance(p);
        for (;;) {
            struct pattern_entry ent = {0};
            int pos = p->tstart;
            t = peek(p);
            if (t == T_VAR) {
                ent.keyvar = ks_xstrdup(p->text);
                ent.key = mk_literal(p, pos, ks_str_cstr(p->text));
                advance(p);
                if (peek(p) == ':') {
                    advance(p);
                    if (!(ent.sub = parse_pattern(p)))
                        goto fail_ent;
                }
            } else if (t == T_IDENT) {
                ent.key = mk_literal(p, pos, ks_str_cstr(p->text));
                advance(p);
                if (expect(p, ':', "`:` after the key in the object pattern") || !(ent.sub = parse_pattern(p)))
                    goto fail_ent;
            } else if (t == T_STR) {
                advance(p);
                if (!(ent.key = parse_string(p, NULL)))
                    goto fail_ent;
                if (expect(p, ':', "`:` after the key in the object pattern") || !(ent.sub = parse_pattern(p)))
                    goto fail_ent;
            } else if (t == '(') {
                advance(p);
                if (!(ent.key = parse_pipe(p)) || expect(p, ')', "`)`") ||
                    expect(p, ':', "`:` after the key in the object pattern") || !(ent.sub = parse_pattern(p)))
                    goto fail_ent;
            } else {
                char b[64];
                fail_at(p, pos, "syntax error: expected an object pattern entry but got %s", tok_desc(p, b, sizeof b));
                goto fail_ent;
            }
            KS_GROW(pat->ents, pat->n);
            pat->ents[pat->n++] = ent;
            if (peek(p) == ',') {
                advance(p);
                continue;
            }
            if (expect(p, '}', "`,` or `}` in the object pattern"))
                goto fail;
            break;
        fail_ent:
            free(ent.keyvar);
            pattern_free(ent.sub);
            goto fail;
        }
    } else {
        char b[64];
        fail_at(p, p->tstart, "syntax error: expected a pattern ($name, [...] or {...}) but got %s",
                tok_desc(p, b, sizeof b));
        goto fail;
    }
    p->depth--;
    return pat;
fail:
    pattern_free(pat);
    return NULL;
}

static node_t *parse_reduce_foreach(parser_t *p, int op)
{
    int pos = p->tstart;
    advance(p);
    node_t *n = ks__expr_node_new(p->prog, op, pos);
    if (!(n->a = parse_postfix(p, 0)) || expect_kw(p, "as") || !(n->pat = parse_pattern(p)))
        return NULL;
    if (peek(p) == T_ALTDESTR)
        return fail_at(p, p->tstart, "unsupported: `?//` destructuring alternatives"), NULL;
    if (expect(p, '(', "`(`") || !(n->b = parse_pipe(p)) || expect(p, ';', "`;`") || !(n->c = parse_pipe(p)))
        return NULL;
    if (op == OP_FOREACH && peek(p) == ';') {
        advance(p);
        if (!(n->d = parse_pipe(p)))
            return NULL;
    }
    if (expect(p, ')', "`)`"))
        return NULL;
    return n;
}

static node_t *parse_if(parser_t *p)
{
    int pos = p->tstart;
    advance(p); /* if or elif */
    node_t *n = ks__expr_node_new(p->prog, OP_IF, pos);
    if (!(n->a = parse_pipe(p)) || expect_kw(p, "then") || !(n->b = parse_pipe(p)))
        return NULL;
    if (is_kw(p, "elif")) {
        if (!(n->c = parse_if(p)))
            return NULL;
        return n;
    }
    if (is_kw(p, "else")) {
        advance(p);
        if (!(n->c = parse_pipe(p)))
            return NULL;
    }
    if (expect_kw(p, "end"))
        return NULL;
    return n;
}

static node_t *parse_primary(parser_t *p)
{
    int t = peek(p), pos = p->tstart;
    switch (t) {
    case T_NUM: {
        double d = p->num;
        advance(p);
        return mk_literal(p, pos, ks_num(d));
    }
    case T_STR: advance(p); return parse_string(p, NULL);
    case T_FORMAT: {
        char *fmt = ks_xstrdup(p->text);
        advance(p);
        node_t *n;
        if (peek(p) == T_STR) {
            advance(p);
            n = parse_string(p, fmt);
        } else {
            n = ks__expr_node_new(p->prog, OP_FORMAT, pos);
            n->name = ks_xstrdup(fmt);
        }
        free(fmt);
        return n;
    }
    case T_FIELD: {
        node_t *n = ks__expr_node_new(p->prog, OP_FIELD, pos);
        n->konst = ks_str_cstr(p->text);
        ks_val_make_static(n->konst);
        advance(p);
        return n;
    }
    case '.':
        advance(p);
        if (peek(p) == T_STR) {
            advance(p);
            node_t *k = parse_string(p, NULL);
            if (!k)
                return NULL;
            if (k->op == OP_LITERAL) {
                node_t *n = ks__expr_node_new(p->prog, OP_FIELD, pos);
                n->konst = ks_str_new(ks_str_data(k->konst), ks_str_len(k->konst));
                ks_val_make_static(n->konst);
                return n;
            }
            return mk(p, OP_INDEX, pos, ks__expr_node_new(p->prog, OP_IDENTITY, pos), k);
        }
        return ks__expr_node_new(p->prog, OP_IDENTITY, pos);
    case T_DOTDOT: advance(p); return mk_call(p, pos, "recurse");
    case T_VAR: {
        if (strcmp(p->text, "__loc__") == 0) {
            int line = 1;
            for (int i = 0; i < pos; i++)
                line += p->src[i] == '\n';
            ks_val loc = ks_obj_new(2);
            ks_obj_setc(&loc, "file", ks_str_cstr("<top-level>"));
            ks_obj_setc(&loc, "line", ks_num(line));
            advance(p);
            return mk_literal(p, pos, loc);
        }
        node_t *n = ks__expr_node_new(p->prog, OP_VAR, pos);
        n->name = ks_xstrdup(p->text);
        advance(p);
        return n;
    }
    case '(': {
        advance(p);
        node_t *e = parse_pipe(p);
        if (!e || expect(p, ')', "`)`"))
            return NULL;
        return e;
    }
    case '[': {
        advance(p);
        node_t *n = ks__expr_node_new(p->prog, OP_ARRAY, pos);
        if (peek(p) == ']') {
            advance(p);
            return n;
        }
        if (!(n->a = parse_pipe(p)) || expect(p, ']', "`]`"))
            return NULL;
        return n;
    }
    case '{': return parse_object(p);
    case T_IDENT: {
        const char *w = p->text;
        if (strcmp(w, "if") == 0)
            return parse_if(p);
        if (strcmp(w, "try") == 0) {
            advance(p);
            node_t *n = ks__expr_node_new(p->prog, OP_TRY, pos);
            if (!(n->a = parse_postfix(p, 0)))
                return NULL;
            if (is_kw(p, "catch")) {
                advance(p);
                if (!(n->b = parse_postfix(p, 0)))
                    return NULL;
            }
            return n;
        }
        if (strcmp(w, "reduce") == 0)
            return parse_reduce_foreach(p, OP_REDUCE);
        if (strcmp(w, "foreach") == 0)
            return parse_reduce_foreach(p, OP_FOREACH);
        if (strcmp(w, "def") == 0 || strcmp(w, "label") == 0)
            return parse_pipe(p);
        if (strcmp(w, "import") == 0 || strcmp(w, "include") == 0)
            return fail_at(p, pos, "unsupported: modules (`%s`)", w), NULL;
        if (strcmp(w, "break") == 0) {
            advance(p);
            if (peek(p) != T_VAR)
                return fail_at(p, p->tstart, "syntax error: expected `$label` after `break`"), NULL;
            node_t *n = ks__expr_node_new(p->prog, OP_BREAK, pos);
            n->name = ks_xstrdup(p->text);
            advance(p);
            return n;
        }
        if (strcmp(w, "null") == 0 || strcmp(w, "true") == 0 || strcmp(w, "false") == 0) {
            ks_val v = w[0] == 'n' ? ks_null() : ks_bool(w[0] == 't');
            advance(p);
            return mk_literal(p, pos, v);
        }
        if (is_keyword(w)) {
            char b[64];
            return fail_at(p, pos, "syntax error: unexpected %s", tok_desc(p, b, sizeof b)), NULL;
        }
        node_t *n = mk_call(p, pos, w);
        advance(p);
        if (peek(p) == '(') {
            advance(p);
            for (;;) {
                node_t *arg = parse_pipe(p);
                if (!arg)
                    return NULL;
                add_arg(n, arg);
                if (peek(p) == ';') {
                    advance(p);
                    continue;
                }
                if (expect(p, ')', "`;` or `)` in the argument list"))
                    return NULL;
                break;
            }
        }
        return n;
    }
    case T_ALTDESTR: return fail_at(p, pos, "unsupported: `?//` destructuring alternatives"), NULL;
    default: {
        char b[64];
        return fail_at(p, pos, "syntax error: unexpected %s", tok_desc(p, b, sizeof b)), NULL;
    }
    }
}

/* Parses `[...]` after a term: index, iteration or slice. */
static node_t *parse_subscript(parser_t *p, node_t *term)
{
    int pos = p->tstart;
    advance(p); /* [ */
    if (peek(p) == ']') {
        advance(p);
        return mk(p, OP_ITER, pos, term, NULL);
    }
    if (peek(p) == ':') {
        advance(p);
        node_t *to = parse_pipe(p);
        if (!to || expect(p, ']', "`]`"))
            return NULL;
        node_t *n = mk(p, OP_SLICE, pos, term, NULL);
        n->c = to;
        return n;
    }
    node_t *idx = parse_pipe(p);
    if (!idx)
        return NULL;
    if (peek(p) == ':') {
        advance(p);
        node_t *n = mk(p, OP_SLICE, pos, term, idx);
        if (peek(p) != ']' && !(n->c = parse_pipe(p)))
            return NULL;
        if (expect(p, ']', "`]`"))
            return NULL;
        return n;
    }
    if (expect(p, ']', "`]`"))
        return NULL;
    return mk(p, OP_INDEX, pos, term, idx);
}

static node_t *parse_postfix(parser_t *p, int allow_as)
{
    if (enter(p))
        return NULL;
    node_t *t = parse_primary(p);
    while (t) {
        int tk = peek(p), pos = p->tstart;
        if (tk == T_FIELD) {
            node_t *n = mk(p, OP_FIELD, pos, t, NULL);
            n->konst = ks_str_cstr(p->text);
            ks_val_make_static(n->konst);
            advance(p);
            t = n;
        } else if (tk == '.') {
            advance(p);
            if (peek(p) == T_STR) {
                advance(p);
                node_t *k = parse_string(p, NULL);
                t = k ? mk(p, OP_INDEX, pos, t, k) : NULL;
            } else if (peek(p) == '[') {
                t = parse_subscript(p, t);
            } else {
                char b[64];
                fail_at(p, p->tstart, "syntax error: expected a field name after `.` but got %s",
                        tok_desc(p, b, sizeof b));
                t = NULL;
            }
        } else if (tk == '[') {
            t = parse_subscript(p, t);
        } else if (tk == '?') {
            advance(p);
            t = mk(p, OP_TRY, pos, t, NULL);
        } else if (allow_as && is_kw(p, "as")) {
            advance(p);
            node_t *n = ks__expr_node_new(p->prog, OP_AS, pos);
            n->a = t;
            if (!(n->pat = parse_pattern(p)))
                t = NULL;
            else if (peek(p) == T_ALTDESTR)
                t = (fail_at(p, p->tstart, "unsupported: `?//` destructuring alternatives"), NULL);
            else if (expect(p, '|', "`|` after the pattern") || !(n->b = parse_pipe(p)))
                t = NULL;
            else
                t = n;
            break;
        } else {
            break;
        }
    }
    p->depth--;
    return t;
}

node_t *ks__expr_parse(program_t *prog, const char *src, parse_err_t *err)
{
    parser_t p = {.prog = prog, .src = src, .len = (int)strlen(src), .err = err};
    node_t *root = parse_pipe(&p);
    if (root && peek(&p) != T_EOF) {
        char b[64];
        fail_at(&p, p.tstart, "syntax error: unexpected %s", tok_desc(&p, b, sizeof b));
        root = NULL;
    }
    if (peek(&p) == T_ERROR && !p.failed)
        fail_at(&p, p.tstart, "syntax error: unexpected character `%c`", p.src[p.tstart]);
    free(p.text);
    return p.failed ? NULL : root;
}
