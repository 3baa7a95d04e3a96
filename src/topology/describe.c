/*
 * describe.c: the processor graph as Kafka Streams' Topology#describe()
 * text (same layout, ordering and wording), as JSON, and as Graphviz dot.
 *
 * Kafka Streams orders the nodes of a sub-topology by the size of the
 * sub-tree below each (largest first), then by name; successor and
 * predecessor lists use the same order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/duration.h"
#include "../util/util.h"
#include "topology.h"

/* ---- Kafka Streams' orders: java.util.HashMap iteration and TreeSet insertion ---- */

/* String#hashCode of a name (ASCII/UTF-8 bytes taken as chars, as topology names are ASCII). */
static uint32_t java_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++)
        h = 31 * h + (unsigned char)*s;
    return h;
}

/* The bucket of a key in a java.util.HashMap of `cap` buckets. */
static uint32_t java_bucket(const char *s, uint32_t cap)
{
    uint32_t h = java_hash(s);
    return (h ^ (h >> 16)) & (cap - 1);
}

/* The buckets of a HashMap after n puts from empty (16, doubled past 3/4 full). */
static uint32_t java_cap(int n)
{
    uint32_t cap = 16;
    while ((uint32_t)n > cap / 4 * 3)
        cap *= 2;
    return cap;
}

/* The buckets of `new HashSet<>(collection of n)`. */
static uint32_t java_copy_cap(int n)
{
    uint32_t want = (uint32_t)((float)n / .75f) + 1, cap = 1;
    while (cap < want)
        cap *= 2;
    return cap < 16 ? 16 : cap;
}

typedef struct hkey {
    const char *name;
    uint32_t bucket;
    int order; /* insertion order, kept within a bucket (also across resizes) */
    int index;
} hkey_t;

static int hkey_cmp(const void *x, const void *y)
{
    const hkey_t *a = x, *b = y;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    return a->order - b->order;
}

/* Writes a set of names in the order Java's HashSet iterates it. */
static void java_set_names(ks_buf_t *b, char **v, int n)
{
    hkey_t *k = ks_xcalloc((size_t)(n ? n : 1), sizeof *k);
    uint32_t cap = java_copy_cap(n);
    for (int i = 0; i < n; i++)
        k[i] = (hkey_t){v[i], java_bucket(v[i], cap), i, i};
    qsort(k, (size_t)n, sizeof *k, hkey_cmp);
    for (int i = 0; i < n; i++)
        ks_buf_printf(b, "%s%s", i ? ", " : "", k[i].name);
    free(k);
}

/*
 * A java.util.TreeSet (a red-black tree) of nodes ordered by Kafka Streams'
 * NodeComparator: larger sub-tree first, then name. The sizes change while
 * the description is built, after nodes were inserted, so the order of a
 * set is that of the tree the insertions made, not a sort by final size:
 * the tree is built as TreeMap#put does.
 */
typedef struct tnode {
    int item, left, right, parent, red;
} tnode_t;

typedef struct tset {
    tnode_t *n;
    int len, cap, root;
} tset_t;

typedef struct sizes {
    const ks_proc_t **procs; /* by seq */
    int *size;
} sizes_t;

static int node_order(const sizes_t *z, int a, int b)
{
    if (a == b)
        return 0;
    if (z->size[a] != z->size[b])
        return z->size[b] - z->size[a];
    return strcmp(z->procs[a]->name, z->procs[b]->name);
}

#define TN(i) (s->n[i])
static int t_parent(const tset_t *s, int x)
{
    return x < 0 ? -1 : s->n[x].parent;
}
static int t_left(const tset_t *s, int x)
{
    return x < 0 ? -1 : s->n[x].left;
}
static int t_right(const tset_t *s, int x)
{
    return x < 0 ? -1 : s->n[x].right;
}
static int t_red(const tset_t *s, int x)
{
    return x >= 0 && s->n[x].red;
}
static void t_color(tset_t *s, int x, int red)
{
    if (x >= 0)
        s->n[x].red = red;
}

static void t_rotate_left(tset_t *s, int p)
{
    if (p < 0)
        return;
    int r = TN(p).right;
    TN(p).right = TN(r).left;
    if (TN(r).left >= 0)
        TN(TN(r).left).parent = p;
    TN(r).parent = TN(p).parent;
    if (TN(p).parent < 0)
        s->root = r;
    else if (TN(TN(p).parent).left == p)
        TN(TN(p).parent).left = r;
    else
        TN(TN(p).parent).right = r;
    TN(r).left = p;
    TN(p).parent = r;
}

static void t_rotate_right(tset_t *s, int p)
{
    if (p < 0)
        return;
    int l = TN(p).left;
    TN(p).left = TN(l).right;
    if (TN(l).right >= 0)
        TN(TN(l).right).parent = p;
    TN(l).parent = TN(p).parent;
    if (TN(p).parent < 0)
        s->root = l;
    else if (TN(TN(p).parent).right == p)
        TN(TN(p).parent).right = l;
    else
        TN(TN(p).parent).left = l;
    TN(l).right = p;
    TN(p).parent = l;
}

static void tset_add(tset_t *s, const sizes_t *z, int item)
{
    int parent = -1, cmp = 0;
    for (int t = s->root; t >= 0;) {
        parent = t;
        cmp = node_order(z, item, TN(t).item);
        if (cmp == 0)
            return;
        t = cmp < 0 ? TN(t).left : TN(t).right;
    }
    if (s->len == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        s->n = ks_xrealloc(s->n, (size_t)s->cap * sizeof *s->n);
    }
    int x = s->len++;
    s->n[x] = (tnode_t){item, -1, -1, parent, 1};
    if (parent < 0)
        s->root = x;
    else if (cmp < 0)
        TN(parent).left = x;
    else
        TN(parent).right = x;
    /* TreeMap#fixAfterInsertion */
    while (x >= 0 && x != s->root && t_red(s, t_parent(s, x))) {
        int px = t_parent(s, x), gx = t_parent(s, px);
        if (px == t_left(s, gx)) {
            int y = t_right(s, gx);
            if (t_red(s, y)) {
                t_color(s, px, 0);
                t_color(s, y, 0);
                t_color(s, gx, 1);
                x = gx;
            } else {
                if (x == t_right(s, px)) {
                    x = px;
                    t_rotate_left(s, x);
                }
                t_color(s, t_parent(s, x), 0);
                t_color(s, t_parent(s, t_parent(s, x)), 1);
                t_rotate_right(s, t_parent(s, t_parent(s, x)));
            }
        } else {
            int y = t_left(s, gx);
            if (t_red(s, y)) {
                t_color(s, px, 0);
                t_color(s, y, 0);
                t_color(s, gx, 1);
                x = gx;
            } else {
                if (x == t_left(s, px)) {
                    x = px;
                    t_rotate_right(s, x);
                }
                t_color(s, t_parent(s, x), 0);
                t_color(s, t_parent(s, t_parent(s, x)), 1);
                t_rotate_left(s, t_parent(s, t_parent(s, x)));
            }
        }
    }
    t_color(s, s->root, 0);
}
#undef TN

/* The set's items in iteration (in-order) order. */
static void tset_walk(const tset_t *s, int x, int *out, int *n)
{
    if (x < 0)
        return;
    tset_walk(s, s->n[x].left, out, n);
    out[(*n)++] = s->n[x].item;
    tset_walk(s, s->n[x].right, out, n);
}

/* The successor and predecessor orders of a topology's nodes, as Kafka Streams' describe() makes them. */
typedef struct order {
    const ks_topology_t *t;
    int *size;          /* final sub-tree sizes, by seq */
    int **succ, **pred; /* ordered seqs, by seq */
    int *nsucc, *npred;
} order_t;

static void update_size(sizes_t *z, tset_t *preds, int node, int delta, int depth)
{
    z->size[node] += delta;
    if (depth > 1000)
        return;
    int *v = ks_xcalloc((size_t)(preds[node].len ? preds[node].len : 1), sizeof *v), n = 0;
    tset_walk(&preds[node], preds[node].root, v, &n);
    for (int i = 0; i < n; i++)
        update_size(z, preds, v[i], delta, depth + 1);
    free(v);
}

/* InternalTopologyBuilder#describeSubtopology, for every sub-topology. */
static void order_build(order_t *o, const ks_topology_t *t)
{
    int n = t->nprocs;
    o->t = t;
    o->size = ks_xcalloc((size_t)(n ? n : 1), sizeof *o->size);
    o->succ = ks_xcalloc((size_t)(n ? n : 1), sizeof *o->succ);
    o->pred = ks_xcalloc((size_t)(n ? n : 1), sizeof *o->pred);
    o->nsucc = ks_xcalloc((size_t)(n ? n : 1), sizeof *o->nsucc);
    o->npred = ks_xcalloc((size_t)(n ? n : 1), sizeof *o->npred);
    tset_t *succ = ks_xcalloc((size_t)(n ? n : 1), sizeof *succ), *pred = ks_xcalloc((size_t)(n ? n : 1), sizeof *pred);
    const ks_proc_t **procs = ks_xcalloc((size_t)(n ? n : 1), sizeof *procs);
    for (int i = 0; i < n; i++) {
        procs[i] = t->procs[i];
        o->size[i] = 1;
        succ[i].root = pred[i].root = -1;
    }
    sizes_t z = {procs, o->size};
    hkey_t *k = ks_xcalloc((size_t)(n ? n : 1), sizeof *k);
    for (int sub = 0; sub < t->nsubtopologies; sub++) {
        /* The group's nodes, then nodesByName: HashSet and HashMap iteration, in the order nodes were added. */
        int m = 0;
        for (int i = 0; i < n; i++)
            if (t->procs[i]->subtopology == sub)
                k[m++] = (hkey_t){t->procs[i]->name, 0, t->procs[i]->add_order, i};
        uint32_t cap = java_cap(m);
        for (int i = 0; i < m; i++)
            k[i].bucket = java_bucket(k[i].name, cap);
        qsort(k, (size_t)m, sizeof *k, hkey_cmp);
        for (int i = 0; i < m; i++) {
            const ks_proc_t *node = t->procs[k[i].index];
            for (int j = 0; j < node->nparents; j++) {
                const ks_proc_t *pp = node->parents[j];
                if (pp->subtopology != sub)
                    continue;
                tset_add(&pred[node->seq], &z, pp->seq);
                tset_add(&succ[pp->seq], &z, node->seq);
                update_size(&z, pred, pp->seq, o->size[node->seq], 0);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        o->succ[i] = ks_xcalloc((size_t)(succ[i].len ? succ[i].len : 1), sizeof(int));
        o->pred[i] = ks_xcalloc((size_t)(pred[i].len ? pred[i].len : 1), sizeof(int));
        tset_walk(&succ[i], succ[i].root, o->succ[i], &o->nsucc[i]);
        tset_walk(&pred[i], pred[i].root, o->pred[i], &o->npred[i]);
        free(succ[i].n);
        free(pred[i].n);
    }
    free(succ);
    free(pred);
    free(procs);
    free(k);
}

static void order_free(order_t *o)
{
    for (int i = 0; i < o->t->nprocs; i++) {
        free(o->succ[i]);
        free(o->pred[i]);
    }
    free(o->succ);
    free(o->pred);
    free(o->nsucc);
    free(o->npred);
    free(o->size);
}

static const order_t *g_order; /* for node_cmp; describe is single-threaded */

/* The sub-topology's node list: a TreeSet filled once the sizes are final, so sorted. */
static int node_cmp(const void *x, const void *y)
{
    const ks_proc_t *a = *(ks_proc_t *const *)x, *b = *(ks_proc_t *const *)y;
    int sa = g_order->size[a->seq], sb = g_order->size[b->seq];
    if (sa != sb)
        return sb - sa;
    return strcmp(a->name, b->name);
}

static void names(ks_buf_t *b, const order_t *o, const int *v, int n)
{
    if (n == 0)
        ks_buf_puts(b, "none");
    for (int i = 0; i < n; i++)
        ks_buf_printf(b, "%s%s", i ? ", " : "", o->t->procs[v[i]]->name);
}

static int is_global_group(const ks_topology_t *t, int sub)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->subtopology == sub && t->procs[i]->op == KS_OP_TABLE_SOURCE &&
            t->procs[i]->table_source.global)
            return 1;
    return 0;
}

static ks_proc_t **group_nodes(const ks_topology_t *t, int sub, int *count)
{
    ks_proc_t **v = malloc((size_t)(t->nprocs ? t->nprocs : 1) * sizeof *v);
    int m = 0;
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->subtopology == sub)
            v[m++] = t->procs[i];
    qsort(v, (size_t)m, sizeof *v, node_cmp);
    *count = m;
    return v;
}

static void describe_text(const ks_topology_t *t, const order_t *o, ks_buf_t *b)
{
    ks_buf_puts(b, "Topologies:\n ");
    for (int sub = 0; sub < t->nsubtopologies; sub++) {
        ks_buf_printf(b, "  Sub-topology: %d%s\n", sub,
                      is_global_group(t, sub) ? " for global store (will not generate tasks)" : "");
        int m;
        ks_proc_t **v = group_nodes(t, sub, &m);
        for (int i = 0; i < m; i++) {
            ks_proc_t *p = v[i];
            if (p->op == KS_OP_SOURCE) {
                ks_buf_printf(b, "    Source: %s (topics: [", p->name);
                java_set_names(b, p->io.display_topic ? &p->io.display_topic : p->io.topics,
                               p->io.display_topic ? 1 : p->io.ntopics);
                ks_buf_puts(b, "])\n      --> ");
                names(b, o, o->succ[p->seq], o->nsucc[p->seq]);
                ks_buf_putc(b, '\n');
            } else if (p->op == KS_OP_SINK) {
                if (p->io.dynamic_topic)
                    ks_buf_printf(b, "    Sink: %s (extractor class: jq `%s`)\n      <-- ", p->name, p->e.src);
                else
                    ks_buf_printf(b, "    Sink: %s (topic: %s)\n      <-- ", p->name,
                                  p->io.display_topic ? p->io.display_topic : p->io.topic);
                names(b, o, o->pred[p->seq], o->npred[p->seq]);
                ks_buf_putc(b, '\n');
            } else {
                ks_buf_printf(b, "    Processor: %s (stores: [", p->name);
                java_set_names(b, p->stores, p->nstores);
                ks_buf_puts(b, "])\n      --> ");
                names(b, o, o->succ[p->seq], o->nsucc[p->seq]);
                ks_buf_puts(b, "\n      <-- ");
                names(b, o, o->pred[p->seq], o->npred[p->seq]);
                ks_buf_putc(b, '\n');
            }
        }
        /* TopologyDescription ends a sub-topology with a blank line, a global store without one. */
        if (!is_global_group(t, sub))
            ks_buf_putc(b, '\n');
        free(v);
    }
}

static ks_val str_arr(char **v, int n)
{
    ks_val a = ks_arr_new((size_t)n);
    for (int i = 0; i < n; i++)
        ks_arr_push(&a, ks_str_cstr(v[i]));
    return a;
}

static ks_val names_arr(const order_t *o, const int *v, int n)
{
    ks_val a = ks_arr_new((size_t)n);
    for (int i = 0; i < n; i++)
        ks_arr_push(&a, ks_str_cstr(o->t->procs[v[i]]->name));
    return a;
}

static ks_val describe_json(const ks_topology_t *t, const order_t *ord)
{
    ks_val root = ks_obj_new(8);
    ks_obj_setc(&root, "application", ks_str_cstr(t->application));
    if (t->description)
        ks_obj_setc(&root, "description", ks_str_cstr(t->description));
    ks_obj_setc(&root, "deadLetterTopic", ks_str_cstr(t->dlq_topic));
    ks_val subs = ks_arr_new((size_t)t->nsubtopologies);
    for (int sub = 0; sub < t->nsubtopologies; sub++) {
        ks_val s = ks_obj_new(4);
        ks_obj_setc(&s, "id", ks_num(sub));
        ks_obj_setc(&s, "global", ks_bool(is_global_group(t, sub)));
        int m;
        ks_proc_t **v = group_nodes(t, sub, &m);
        ks_val nodes = ks_arr_new((size_t)m);
        for (int i = 0; i < m; i++) {
            ks_proc_t *p = v[i];
            ks_val o = ks_obj_new(8);
            ks_obj_setc(&o, "name", ks_str_cstr(p->name));
            ks_obj_setc(&o, "type",
                        ks_str_cstr(p->op == KS_OP_SOURCE ? "source"
                                    : p->op == KS_OP_SINK ? "sink"
                                                          : "processor"));
            ks_obj_setc(&o, "operator", ks_str_cstr(ks_op_dsl_name(p->op)));
            if (p->op == KS_OP_SOURCE)
                ks_obj_setc(&o, "topics",
                            p->io.display_topic ? str_arr(&p->io.display_topic, 1)
                                                : str_arr(p->io.topics, p->io.ntopics));
            if (p->op == KS_OP_SINK && p->io.topic)
                ks_obj_setc(&o, "topic", ks_str_cstr(p->io.display_topic ? p->io.display_topic : p->io.topic));
            if (p->e.src) {
                ks_obj_setc(&o, "expression", ks_str_cstr(p->e.src));
                ks_obj_setc(&o, "native", ks_bool(ks_expr_is_native(p->e.expr)));
            }
            if (p->branch.name)
                ks_obj_setc(&o, "branch", ks_str_cstr(p->branch.name));
            if (p->is_repartition)
                ks_obj_setc(&o, "repartition", ks_bool(1));
            ks_obj_setc(&o, "stores", str_arr(p->stores, p->nstores));
            ks_obj_setc(&o, "successors", names_arr(ord, ord->succ[p->seq], ord->nsucc[p->seq]));
            ks_obj_setc(&o, "predecessors", names_arr(ord, ord->pred[p->seq], ord->npred[p->seq]));
            ks_val where = ks_obj_new(2);
            ks_obj_setc(&where, "line", ks_num(p->pos.line));
            ks_obj_setc(&where, "column", ks_num(p->pos.col));
            ks_obj_setc(&o, "source", where);
            ks_arr_push(&nodes, o);
        }
        free(v);
        ks_obj_setc(&s, "nodes", nodes);
        ks_arr_push(&subs, s);
    }
    ks_obj_setc(&root, "subtopologies", subs);
    ks_obj_setc(&root, "internalTopics", str_arr(t->internal_topics, t->ninternal));
    return root;
}

static void dot_escape(ks_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            ks_buf_putc(b, '\\');
        if (*s == '\n')
            ks_buf_puts(b, "\\n");
        else
            ks_buf_putc(b, *s);
    }
}

static void dot_body(const ks_topology_t *t, ks_buf_t *b, const char *prefix)
{
    for (int sub = 0; sub < t->nsubtopologies; sub++) {
        ks_buf_printf(b, "  subgraph \"cluster_%s_%d\" {\n    label=\"%s: sub-topology %d%s\";\n    style=rounded;\n",
                      prefix, sub, prefix, sub, is_global_group(t, sub) ? " (global)" : "");
        for (int i = 0; i < t->nprocs; i++) {
            ks_proc_t *p = t->procs[i];
            if (p->subtopology != sub)
                continue;
            ks_buf_printf(b, "    \"%s/%s\" [label=\"", prefix, p->name);
            dot_escape(b, p->name);
            /* What the node does: the operator (count, aggregate, reduce, ...), and its expression. */
            if (p->gen.enabled) {
                if (p->gen.rate > 0)
                    ks_buf_printf(b, "\\ngenerate %g/s", p->gen.rate);
                else
                    ks_buf_puts(b, "\\ngenerate");
            } else if (p->op != KS_OP_SOURCE && p->op != KS_OP_SINK) {
                ks_buf_printf(b, "\\n%s", ks_op_dsl_name(p->op));
                if (p->state.window.kind != KS_WIN_NONE) {
                    static const char *const kinds[] = {"", "tumbling", "hopping", "sliding", "session"};
                    ks_buf_printf(b, ", %s ", kinds[p->state.window.kind]);
                    ks_format_duration(b, p->state.window.size);
                }
            }
            if (p->e.src) {
                /* The expression, on one line and cut to keep the picture readable. */
                char expr[64];
                size_t k = 0;
                for (const char *c = p->e.src; *c && k < sizeof expr - 4; c++)
                    if (*c != '\n' || (k && expr[k - 1] != ' '))
                        expr[k++] = *c == '\n' ? ' ' : *c;
                expr[k] = 0;
                if (strlen(p->e.src) > k)
                    strcpy(expr + (k > sizeof expr - 4 ? sizeof expr - 4 : k), "...");
                ks_buf_puts(b, p->op == KS_OP_SINK ? "\\n" : ": ");
                dot_escape(b, expr);
            }
            ks_buf_printf(b, "\", shape=%s];\n",
                          p->gen.enabled                                 ? "component"
                          : p->op == KS_OP_SOURCE || p->op == KS_OP_SINK ? "box"
                                                                         : "ellipse");
        }
        ks_buf_puts(b, "  }\n");
    }
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *p = t->procs[i];
        for (int j = 0; j < p->nchildren; j++)
            ks_buf_printf(b, "  \"%s/%s\" -> \"%s/%s\";\n", prefix, p->name, prefix, p->children[j]->name);
        /* Topic nodes use Kafka's names (internal ones carry the application), so services share real topics only. */
        if (p->op == KS_OP_SOURCE && !p->gen.enabled) /* a generate source reads no topic */
            for (int j = 0; j < p->io.ntopics; j++)
                ks_buf_printf(b, "  \"topic:%s\" [shape=cylinder];\n  \"topic:%s\" -> \"%s/%s\";\n", p->io.topics[j],
                              p->io.topics[j], prefix, p->name);
        if (p->op == KS_OP_SINK && p->io.topic)
            ks_buf_printf(b, "  \"topic:%s\" [shape=cylinder];\n  \"%s/%s\" -> \"topic:%s\";\n", p->io.topic, prefix,
                          p->name, p->io.topic);
        for (int j = 0; j < p->nstores; j++)
            ks_buf_printf(b,
                          "  \"store:%s/%s\" [label=\"%s\", shape=folder];\n  \"%s/%s\" -> \"store:%s/%s\" "
                          "[style=dashed, arrowhead=none];\n",
                          prefix, p->stores[j], p->stores[j], prefix, p->name, prefix, p->stores[j]);
    }
}

void ks_topology_describe(const ks_topology_t *t, ks_describe_fmt_t fmt, FILE *out)
{
    ks_buf_t b = {0};
    order_t o;
    order_build(&o, t);
    g_order = &o;
    if (fmt == KS_DESCRIBE_TEXT) {
        describe_text(t, &o, &b);
    } else if (fmt == KS_DESCRIBE_JSON) {
        ks_val v = describe_json(t, &o);
        ks_json_write(&b, v);
        ks_buf_putc(&b, '\n');
        ks_val_release(v);
    } else {
        ks_buf_printf(&b, "digraph \"%s\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
                      t->application);
        dot_body(t, &b, t->application);
        ks_buf_puts(&b, "}\n");
    }
    g_order = NULL;
    order_free(&o);
    fwrite(b.data, 1, b.len, out);
    ks_buf_free(&b);
}

void ks_topology_describe_system(ks_topology_t *const *ts, int n, FILE *out)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "digraph system {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (int i = 0; i < n; i++) {
        ks_buf_printf(&b, "  subgraph \"cluster_app_%s\" {\n    label=\"%s\";\n    style=bold;\n", ts[i]->application,
                      ts[i]->application);
        ks_buf_t inner = {0};
        dot_body(ts[i], &inner, ts[i]->application);
        /* Topic nodes are shared between services: keep them outside the service's cluster. */
        ks_buf_puts(&b, inner.data ? inner.data : "");
        ks_buf_puts(&b, "  }\n");
        ks_buf_free(&inner);
    }
    ks_buf_puts(&b, "}\n");
    fwrite(b.data, 1, b.len, out);
    ks_buf_free(&b);
}
