/*
 * yaml.c: loads a YAML file into a tree of positioned nodes (see yaml.h).
 *
 * libyaml's event parser does the syntax; this file builds the tree from the
 * events with one recursive function per node kind. Aliases share the
 * anchored node, so a document's memory stays linear in its text; what an
 * alias bomb would blow up is the *expanded* tree that a consumer walks, and
 * that is bounded by a budget charged for every node created, every alias
 * (by the expanded size of its target) and every merged entry.
 *
 * Errors from libyaml stop the load. Everything else (duplicate keys, unset
 * environment variables, bad aliases or merge values) is reported and the
 * load goes on, so that a user sees every such error of a file at once.
 */
#include "yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "../util/util.h"

/* A node with the bookkeeping the loader needs; the public part comes first. */
typedef struct ynode {
    ks_ynode_t pub;
    size_t expanded;    /* nodes in the subtree with every alias expanded, self included */
    int height;         /* levels of the expanded subtree, 1 for a scalar */
    struct ynode *next; /* every node of the document, for ks_ydoc_free */
} ynode_t;

struct ks_ydoc {
    char *file;
    ks_ynode_t *root;
    ynode_t *nodes; /* all nodes, newest first */
};

typedef struct anchor {
    char *name;
    ynode_t *node;
    int open; /* the anchored collection is still being read: an alias to it would be a cycle */
} anchor_t;

/* An error held back until the load ends, so that errors come out in file order. */
typedef struct pending {
    int line, col;
    size_t seq; /* order found, to keep the sort stable */
    char *msg;
} pending_t;

typedef struct loader {
    yaml_parser_t parser;
    ks_ydoc_t *doc;
    ks_diags_t *diags;
    const char *text; /* the input, to place libyaml's reader errors */
    size_t len;
    anchor_t *anchors; /* in definition order; a redefined name is found last-first */
    size_t nanchors, capanchors;
    size_t budget;   /* expanded nodes charged so far, see the file comment */
    int depth;       /* nesting of collections being read */
    pending_t *errs; /* errors found, reported when the load ends */
    size_t nerr, caperr;
    int fatal;       /* stop reading: a libyaml error or a limit */
    size_t naliases; /* aliases read so far, for the message of the node limit */
} loader_t;

#define POS(mark) (int)(mark).line + 1, (int)(mark).column + 1

/* ---- errors ---- */

static void err_at(loader_t *ld, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void err_at(loader_t *ld, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ld->nerr == ld->caperr) {
        ld->caperr = ld->caperr ? 2 * ld->caperr : 8;
        ld->errs = ks_xrealloc(ld->errs, ld->caperr * sizeof *ld->errs);
    }
    ld->errs[ld->nerr] = (pending_t){line, col, ld->nerr, ks_xstrdup(msg)};
    ld->nerr++;
}

static int pending_cmp(const void *pa, const void *pb)
{
    const pending_t *a = pa, *b = pb;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Adds the pending errors to the caller's diagnostics in file order, at most KS_YAML_MAX_ERRORS of them. */
static void flush_errors(loader_t *ld)
{
    if (ld->nerr > 1)
        qsort(ld->errs, ld->nerr, sizeof *ld->errs, pending_cmp);
    for (size_t i = 0; i < ld->nerr; i++) {
        if (i < KS_YAML_MAX_ERRORS)
            ks_diag_err(ld->diags, ld->doc->file, ld->errs[i].line, ld->errs[i].col, "%s", ld->errs[i].msg);
        free(ld->errs[i].msg);
    }
    if (ld->nerr > KS_YAML_MAX_ERRORS)
        ks_diag_err(ld->diags, ld->doc->file, 0, 0, "%zu more errors not shown", ld->nerr - KS_YAML_MAX_ERRORS);
    free(ld->errs);
}

/* Line and column of a byte offset, for reader errors, which libyaml gives without a mark. */
static void offset_position(const loader_t *ld, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < ld->len; i++) {
        unsigned char c = (unsigned char)ld->text[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

/*
 * Whether the character at `mark` is `c` with only blanks before it on its
 * line (so the column, in characters, is also its byte offset in the line).
 */
static int in_indentation(const loader_t *ld, yaml_mark_t mark, char c)
{
    size_t at = 0;
    for (size_t line = 0; line < mark.line && at < ld->len; at++)
        if (ld->text[at] == '\n')
            line++;
    for (size_t i = 0; i < mark.column; i++, at++)
        if (at >= ld->len || (ld->text[at] != ' ' && ld->text[at] != '\t'))
            return 0;
    return at < ld->len && ld->text[at] == c;
}

static void report_parser_error(loader_t *ld)
{
    yaml_parser_t *p = &ld->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    int line, col;
    ld->fatal = 1;
    switch (p->error) {
    case YAML_MEMORY_ERROR: fprintf(stderr, "kstreamd: out of memory in libyaml\n"); abort();
    case YAML_READER_ERROR:
        offset_position(ld, p->problem_offset, &line, &col);
        if (p->problem_value >= 0)
            err_at(ld, line, col, "%s (0x%02X)", problem, (unsigned)p->problem_value);
        else
            err_at(ld, line, col, "%s", problem);
        break;
    default:
        if (in_indentation(ld, p->problem_mark, '\t'))
            err_at(ld, POS(p->problem_mark),
                   "a tab in the indentation: YAML does not allow tabs for indentation; "
                   "indent with spaces");
        else if (p->context)
            err_at(ld, POS(p->problem_mark), "%s (%s at line %d:%d)", problem, p->context, POS(p->context_mark));
        else
            err_at(ld, POS(p->problem_mark), "%s", problem);
        break;
    }
}

/* Reads the next event; on a libyaml error reports it and returns -1 (nothing to delete). */
static int next_event(loader_t *ld, yaml_event_t *ev)
{
    if (ld->fatal)
        return -1;
    if (!yaml_parser_parse(&ld->parser, ev)) {
        report_parser_error(ld);
        return -1;
    }
    return 0;
}

/* Charges `n` expanded nodes; past the cap reports once and stops the load. */
static int charge(loader_t *ld, size_t n, yaml_mark_t mark)
{
    if (n > KS_YAML_MAX_NODES || ld->budget + n > KS_YAML_MAX_NODES) {
        if (!ld->fatal)
            err_at(ld, POS(mark),
                   ld->naliases ? "document expands to more than %d nodes (too many aliases?)"
                                : "document has more than %d nodes",
                   KS_YAML_MAX_NODES);
        ld->fatal = 1;
        return -1;
    }
    ld->budget += n;
    return 0;
}

/* ---- nodes and anchors ---- */

static ynode_t *node_new(loader_t *ld, ks_yaml_kind_t kind, yaml_mark_t mark)
{
    ynode_t *n = ks_xcalloc(1, sizeof *n);
    n->pub.kind = kind;
    n->pub.file = ld->doc->file;
    n->pub.line = (int)mark.line + 1;
    n->pub.col = (int)mark.column + 1;
    n->expanded = 1;
    n->height = 1;
    n->next = ld->doc->nodes;
    ld->doc->nodes = n;
    charge(ld, 1, mark);
    return n;
}

static ynode_t *as_int(const ks_ynode_t *n)
{
    return (ynode_t *)n;
}

/* Accounts a child in its parent's expanded size and height. */
static void add_child_size(ynode_t *parent, const ynode_t *child)
{
    parent->expanded += child->expanded;
    if (child->height + 1 > parent->height)
        parent->height = child->height + 1;
}

static size_t anchor_define(loader_t *ld, const yaml_char_t *name, ynode_t *node, int open)
{
    if (ld->nanchors == ld->capanchors) {
        ld->capanchors = ld->capanchors ? 2 * ld->capanchors : 8;
        ld->anchors = ks_xrealloc(ld->anchors, ld->capanchors * sizeof *ld->anchors);
    }
    ld->anchors[ld->nanchors] = (anchor_t){ks_xstrdup((const char *)name), node, open};
    return ld->nanchors++;
}

static ynode_t *load_node(loader_t *ld, yaml_event_t *ev);

/* A placeholder for a node in error, so the load can go on to find more errors. */
static ynode_t *error_node(loader_t *ld, yaml_mark_t mark)
{
    ynode_t *n = node_new(ld, KS_YAML_SCALAR, mark);
    n->pub.value = ks_xstrdup("");
    n->pub.plain = 1;
    return n;
}

static ynode_t *load_alias(loader_t *ld, yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    ld->naliases++;
    for (size_t i = ld->nanchors; i-- > 0;) {
        anchor_t *a = &ld->anchors[i];
        if (strcmp(a->name, name) != 0)
            continue;
        if (a->open) {
            err_at(ld, POS(ev->start_mark), "alias *%s refers to a node that contains it", name);
            return error_node(ld, ev->start_mark);
        }
        if (charge(ld, a->node->expanded, ev->start_mark))
            return NULL;
        return a->node;
    }
    err_at(ld, POS(ev->start_mark), "undefined alias *%s", name);
    return error_node(ld, ev->start_mark);
}

/* ---- scalars and ${ENV} substitution ---- */

static int is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static int is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/*
 * Appends s[0..len) to out with `${NAME}`, `${NAME:-default}` and `$$`
 * replaced. A default is literal text up to the first `}` (no nesting); it
 * is used when the variable is unset or empty, as in the shell. Another `$`
 * stays as it is. Errors are reported at the scalar's position.
 */
static void env_subst(loader_t *ld, const char *s, size_t len, ks_buf_t *out, yaml_mark_t mark)
{
    size_t i = 0;
    while (i < len) {
        const char *dollar = memchr(s + i, '$', len - i);
        if (!dollar) {
            ks_buf_append(out, s + i, len - i);
            break;
        }
        size_t d = (size_t)(dollar - s);
        ks_buf_append(out, s + i, d - i);
        if (d + 1 < len && s[d + 1] == '$') {
            ks_buf_putc(out, '$');
            i = d + 2;
            continue;
        }
        if (d + 1 >= len || s[d + 1] != '{') {
            ks_buf_putc(out, '$');
            i = d + 1;
            continue;
        }
        const char *close = memchr(s + d + 2, '}', len - d - 2);
        if (!close) {
            err_at(ld, POS(mark), "unterminated `${` in `%.*s`", (int)(len > 80 ? 80 : len), s);
            ks_buf_append(out, s + d, len - d);
            break;
        }
        const char *name = s + d + 2;
        size_t inner = (size_t)(close - name), nlen = 0;
        while (nlen < inner && is_name_char(name[nlen]))
            nlen++;
        int has_default = inner >= nlen + 2 && name[nlen] == ':' && name[nlen + 1] == '-';
        if (nlen == 0 || !is_name_start(name[0]) || (nlen != inner && !has_default)) {
            err_at(ld, POS(mark), "invalid environment variable reference `${%.*s}`", (int)(inner > 80 ? 80 : inner),
                   name);
        } else {
            char *var = ks_xstrndup(name, nlen);
            const char *val = getenv(var);
            if (has_default && (!val || !*val))
                ks_buf_append(out, name + nlen + 2, inner - nlen - 2);
            else if (!val)
                err_at(ld, POS(mark), "environment variable %s is not set", var);
            else
                ks_buf_puts(out, val);
            free(var);
        }
        i = (size_t)(close - s) + 1;
    }
}

static ynode_t *load_scalar(loader_t *ld, yaml_event_t *ev)
{
    ynode_t *n = node_new(ld, KS_YAML_SCALAR, ev->start_mark);
    const char *tag = (const char *)ev->data.scalar.tag;
    int str_tag = tag && (strcmp(tag, "!") == 0 || strcmp(tag, YAML_STR_TAG) == 0);
    n->pub.plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !str_tag;
    ks_buf_t b = {0};
    ks_buf_reserve(&b, ev->data.scalar.length);
    b.data[0] = 0; /* ks_buf_reserve leaves the memory uninitialised; an empty scalar appends nothing */
    env_subst(ld, (const char *)ev->data.scalar.value, ev->data.scalar.length, &b, ev->start_mark);
    n->pub.len = b.len;
    n->pub.value = ks_buf_steal(&b);
    if (ev->data.scalar.anchor)
        anchor_define(ld, ev->data.scalar.anchor, n, 0);
    return n;
}

/* ---- collections ---- */

typedef struct nodevec {
    ynode_t **v;
    size_t n, cap;
} nodevec_t;

static void vec_push(nodevec_t *vec, ynode_t *node)
{
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? 2 * vec->cap : 4;
        vec->v = ks_xrealloc(vec->v, vec->cap * sizeof *vec->v);
    }
    vec->v[vec->n++] = node;
}

/* Enters a collection; past the nesting limit reports and stops the load. */
static int enter(loader_t *ld, yaml_mark_t mark)
{
    if (++ld->depth > KS_YAML_MAX_DEPTH) {
        err_at(ld, POS(mark), "nesting deeper than %d levels", KS_YAML_MAX_DEPTH);
        ld->fatal = 1;
        return -1;
    }
    return 0;
}

/* Checks the expanded height of a finished collection (aliases can nest deeper than the text). */
static void check_height(loader_t *ld, const ynode_t *n)
{
    if (n->height > KS_YAML_MAX_DEPTH && !ld->fatal) {
        err_at(ld, n->pub.line, n->pub.col, "nesting deeper than %d levels (with aliases expanded)", KS_YAML_MAX_DEPTH);
        ld->fatal = 1;
    }
}

static ynode_t *load_sequence(loader_t *ld, yaml_event_t *ev)
{
    ynode_t *n = node_new(ld, KS_YAML_SEQ, ev->start_mark);
    size_t anchor = ev->data.sequence_start.anchor ? anchor_define(ld, ev->data.sequence_start.anchor, n, 1) : SIZE_MAX;
    nodevec_t items = {0};
    if (enter(ld, ev->start_mark) == 0) {
        yaml_event_t cev;
        while (next_event(ld, &cev) == 0) {
            if (cev.type == YAML_SEQUENCE_END_EVENT) {
                yaml_event_delete(&cev);
                break;
            }
            ynode_t *item = load_node(ld, &cev);
            yaml_event_delete(&cev);
            if (!item)
                break;
            vec_push(&items, item);
            add_child_size(n, item);
        }
    }
    ld->depth--;
    n->pub.n = items.n;
    n->pub.items = (ks_ynode_t **)items.v;
    if (anchor != SIZE_MAX)
        ld->anchors[anchor].open = 0;
    check_height(ld, n);
    return n;
}

/* A set of key texts, open addressing over indexes into a key array. */
typedef struct keyset {
    size_t *slots; /* index + 1, 0 when empty */
    size_t mask;
} keyset_t;

static uint64_t key_hash(const ks_ynode_t *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k->len; i++)
        h = (h ^ (unsigned char)k->value[i]) * 1099511628211ULL;
    return h;
}

static int key_equal(const ks_ynode_t *a, const ks_ynode_t *b)
{
    return a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
}

/* Finds key among keys[] through the set; when absent, records it as keys[idx] and returns NULL. */
static ynode_t *keyset_find_or_add(keyset_t *set, ynode_t **keys, ynode_t *key, size_t idx)
{
    size_t h = (size_t)key_hash(&key->pub) & set->mask;
    while (set->slots[h]) {
        ynode_t *other = keys[set->slots[h] - 1];
        if (key_equal(&other->pub, &key->pub))
            return other;
        h = (h + 1) & set->mask;
    }
    set->slots[h] = idx + 1;
    return NULL;
}

static int is_merge_key(const ynode_t *key)
{
    return key->pub.kind == KS_YAML_SCALAR && key->pub.plain && key->pub.len == 2 &&
           memcmp(key->pub.value, "<<", 2) == 0;
}

/* Collects the mappings a `<<` value names: a mapping, or a sequence of mappings. */
static void collect_merge(loader_t *ld, ynode_t *val, yaml_mark_t mark, nodevec_t *merges)
{
    if (val->pub.kind == KS_YAML_MAP) {
        vec_push(merges, val);
        return;
    }
    if (val->pub.kind == KS_YAML_SEQ) {
        for (size_t i = 0; i < val->pub.n; i++) {
            ynode_t *m = as_int(val->pub.items[i]);
            if (m->pub.kind == KS_YAML_MAP)
                vec_push(merges, m);
            else
                err_at(ld, m->pub.line, m->pub.col, "merge key `<<` expects mappings, found a %s",
                       ks_ynode_kind_name(&m->pub));
        }
        return;
    }
    err_at(ld, POS(mark), "merge key `<<` expects a mapping or a sequence of mappings, found a scalar");
}

/*
 * Builds the final entries of a mapping: explicit keys in order (a repeated
 * one is an error and dropped), then the keys of each merged mapping that
 * are not there yet, earlier merged mappings first.
 */
static void finish_mapping(loader_t *ld, ynode_t *n, nodevec_t *keys, nodevec_t *vals, nodevec_t *merges)
{
    size_t total = keys->n;
    for (size_t m = 0; m < merges->n; m++)
        total += merges->v[m]->pub.n;
    size_t cap = 8;
    while (cap < 2 * total)
        cap *= 2;
    keyset_t set = {ks_xcalloc(cap, sizeof *set.slots), cap - 1};
    ynode_t **k = ks_xmalloc((total ? total : 1) * sizeof *k);
    ynode_t **v = ks_xmalloc((total ? total : 1) * sizeof *v);
    size_t out = 0;
    for (size_t i = 0; i < keys->n; i++) {
        k[out] = keys->v[i];
        ynode_t *first = keyset_find_or_add(&set, k, keys->v[i], out);
        if (first) {
            err_at(ld, keys->v[i]->pub.line, keys->v[i]->pub.col, "duplicate key `%s` (first at line %d:%d)",
                   keys->v[i]->pub.value, first->pub.line, first->pub.col);
            continue;
        }
        v[out++] = vals->v[i];
    }
    for (size_t m = 0; m < merges->n && !ld->fatal; m++) {
        const ks_ynode_t *src = &merges->v[m]->pub;
        for (size_t i = 0; i < src->n; i++) {
            ynode_t *key = as_int(src->keys[i]), *val = as_int(src->items[i]);
            if (charge(ld, key->expanded + val->expanded,
                       (yaml_mark_t){0, (size_t)n->pub.line - 1, (size_t)n->pub.col - 1}))
                break;
            k[out] = key;
            if (keyset_find_or_add(&set, k, key, out))
                continue;
            v[out++] = val;
        }
    }
    free(set.slots);
    for (size_t i = 0; i < out; i++) {
        add_child_size(n, k[i]);
        add_child_size(n, v[i]);
    }
    n->pub.n = out;
    n->pub.keys = (ks_ynode_t **)k;
    n->pub.items = (ks_ynode_t **)v;
}

static ynode_t *load_mapping(loader_t *ld, yaml_event_t *ev)
{
    ynode_t *n = node_new(ld, KS_YAML_MAP, ev->start_mark);
    n->pub.flow = ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
    size_t anchor = ev->data.mapping_start.anchor ? anchor_define(ld, ev->data.mapping_start.anchor, n, 1) : SIZE_MAX;
    nodevec_t keys = {0}, vals = {0}, merges = {0};
    const ynode_t *merge_key = NULL;
    if (enter(ld, ev->start_mark) == 0) {
        yaml_event_t kev, vev;
        while (next_event(ld, &kev) == 0) {
            if (kev.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&kev);
                break;
            }
            ynode_t *key = load_node(ld, &kev);
            yaml_event_delete(&kev);
            if (!key || next_event(ld, &vev))
                break;
            ynode_t *val = load_node(ld, &vev);
            yaml_mark_t vmark = vev.start_mark;
            yaml_event_delete(&vev);
            if (!val)
                break;
            if (key->pub.kind != KS_YAML_SCALAR) {
                err_at(ld, key->pub.line, key->pub.col, "mapping keys must be scalars, found a %s",
                       ks_ynode_kind_name(&key->pub));
            } else if (is_merge_key(key)) {
                if (merge_key)
                    err_at(ld, key->pub.line, key->pub.col, "duplicate key `<<` (first at line %d:%d)",
                           merge_key->pub.line, merge_key->pub.col);
                else
                    collect_merge(ld, val, vmark, &merges);
                merge_key = key;
            } else {
                vec_push(&keys, key);
                vec_push(&vals, val);
            }
        }
    }
    ld->depth--;
    finish_mapping(ld, n, &keys, &vals, &merges);
    free(keys.v);
    free(vals.v);
    free(merges.v);
    if (anchor != SIZE_MAX)
        ld->anchors[anchor].open = 0;
    check_height(ld, n);
    return n;
}

/* Loads the node that starts with `ev` (owned by the caller). NULL once the load is stopped. */
static ynode_t *load_node(loader_t *ld, yaml_event_t *ev)
{
    ynode_t *n = NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: n = load_scalar(ld, ev); break;
    case YAML_SEQUENCE_START_EVENT: n = load_sequence(ld, ev); break;
    case YAML_MAPPING_START_EVENT: n = load_mapping(ld, ev); break;
    case YAML_ALIAS_EVENT: n = load_alias(ld, ev); break;
    default:
        err_at(ld, POS(ev->start_mark), "unexpected YAML event");
        ld->fatal = 1;
        break;
    }
    return ld->fatal ? NULL : n;
}

/* ---- documents ---- */

/* Reads the stream: none or one document. Returns the root (NULL when empty or stopped). */
static ynode_t *load_stream(loader_t *ld)
{
    yaml_event_t ev;
    ynode_t *root = NULL;
    if (next_event(ld, &ev))
        return NULL;
    yaml_event_delete(&ev); /* STREAM-START */
    if (next_event(ld, &ev))
        return NULL;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return NULL;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (next_event(ld, &ev))
        return NULL;
    root = load_node(ld, &ev);
    yaml_event_delete(&ev);
    if (!root || next_event(ld, &ev))
        return NULL;
    yaml_event_delete(&ev); /* DOCUMENT-END */
    if (next_event(ld, &ev))
        return NULL;
    if (ev.type == YAML_DOCUMENT_START_EVENT)
        err_at(ld, POS(ev.start_mark), "only one YAML document per file");
    yaml_event_delete(&ev);
    if (root->pub.kind == KS_YAML_SCALAR && root->pub.plain && root->pub.len == 0)
        return NULL; /* `---` alone: an empty document */
    return root;
}

ks_ydoc_t *ks_yaml_load_string(const char *name, const char *text, size_t len, ks_diags_t *diags)
{
    loader_t ld = {0};
    ld.doc = ks_xcalloc(1, sizeof *ld.doc);
    ld.doc->file = ks_xstrdup(name ? name : "<input>");
    ld.diags = diags;
    ld.text = text ? text : "";
    ld.len = text ? len : 0;
    if (!yaml_parser_initialize(&ld.parser)) {
        fprintf(stderr, "kstreamd: out of memory in libyaml\n");
        abort();
    }
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)ld.text, ld.len);
    ynode_t *root = load_stream(&ld);
    yaml_parser_delete(&ld.parser);
    for (size_t i = 0; i < ld.nanchors; i++)
        free(ld.anchors[i].name);
    free(ld.anchors);
    flush_errors(&ld);
    if (ld.nerr) {
        ks_ydoc_free(ld.doc);
        return NULL;
    }
    ld.doc->root = root ? &root->pub : NULL;
    return ld.doc;
}

ks_ydoc_t *ks_yaml_load_file(const char *path, ks_diags_t *diags)
{
    FILE *f = fopen(path, "rb");
    ks_buf_t b = {0};
    if (!f)
        goto fail;
    /* At most one byte past the limit is read, so a device or a pipe without end (/dev/zero) is refused too. */
    char chunk[65536];
    size_t got;
    while (b.len <= KS_YAML_MAX_BYTES &&
           (got = fread(chunk, 1,
                        KS_YAML_MAX_BYTES + 1 - b.len < sizeof chunk ? KS_YAML_MAX_BYTES + 1 - b.len : sizeof chunk,
                        f)) > 0)
        ks_buf_append(&b, chunk, got);
    if (b.len > KS_YAML_MAX_BYTES) {
        fclose(f);
        ks_diag_err(diags, path, 0, 0, "larger than %d MB, the limit for topology, environment and test files",
                    KS_YAML_MAX_BYTES >> 20);
        ks_buf_free(&b);
        return NULL;
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        errno = e ? e : EIO;
        goto fail;
    }
    fclose(f);
    ks_ydoc_t *doc = ks_yaml_load_string(path, b.data, b.len, diags);
    ks_buf_free(&b);
    return doc;
fail:
    ks_diag_err(diags, path, 0, 0, "cannot read: %s", strerror(errno));
    ks_buf_free(&b);
    return NULL;
}

const ks_ynode_t *ks_ydoc_root(const ks_ydoc_t *doc)
{
    return doc ? doc->root : NULL;
}

const char *ks_ydoc_file(const ks_ydoc_t *doc)
{
    return doc ? doc->file : NULL;
}

void ks_ydoc_free(ks_ydoc_t *doc)
{
    if (!doc)
        return;
    ynode_t *n = doc->nodes;
    while (n) {
        ynode_t *next = n->next;
        free(n->pub.value);
        free(n->pub.keys);
        free(n->pub.items);
        free(n);
        n = next;
    }
    free(doc->file);
    free(doc);
}

/* ---- reading the tree ---- */

const ks_ynode_t *ks_ynode_get(const ks_ynode_t *map, const char *key)
{
    if (!map || map->kind != KS_YAML_MAP || !key)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < map->n; i++)
        if (map->keys[i]->len == klen && memcmp(map->keys[i]->value, key, klen) == 0)
            return map->items[i];
    return NULL;
}

const char *ks_ynode_kind_name(const ks_ynode_t *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case KS_YAML_MAP: return "mapping";
    case KS_YAML_SEQ: return "sequence";
    default: return "scalar";
    }
}
