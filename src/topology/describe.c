/*
 * describe.c: the processor graph as Kafka Streams' Topology#describe()
 * text (same layout, ordering and wording), as JSON, and as Graphviz dot.
 *
 * Kafka Streams orders the nodes of a sub-topology by the size of the
 * sub-tree below each (largest first), then by name; successor and
 * predecessor lists use the same order.
 */
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "topology.h"

static int subtree_size(const ks_proc_t *p, int depth)
{
    if (depth > 1000)
        return 1;
    int n = 1;
    for (int i = 0; i < p->nchildren; i++)
        if (p->children[i]->subtopology == p->subtopology)
            n += subtree_size(p->children[i], depth + 1);
    return n;
}

static int node_cmp(const void *x, const void *y)
{
    const ks_proc_t *a = *(ks_proc_t *const *)x, *b = *(ks_proc_t *const *)y;
    int sa = subtree_size(a, 0), sb = subtree_size(b, 0);
    if (sa != sb)
        return sb - sa;
    return strcmp(a->name, b->name);
}

static void names(ks_buf_t *b, ks_proc_t **ps, int n, int sub)
{
    ks_proc_t **v = malloc((size_t)(n ? n : 1) * sizeof *v);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (ps[i]->subtopology == sub)
            v[m++] = ps[i];
    qsort(v, (size_t)m, sizeof *v, node_cmp);
    if (m == 0)
        ks_buf_puts(b, "none");
    for (int i = 0; i < m; i++)
        ks_buf_printf(b, "%s%s", i ? ", " : "", v[i]->name);
    free(v);
}

static int is_global_group(const ks_topology_t *t, int sub)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->subtopology == sub && t->procs[i]->op == KS_OP_TABLE_SOURCE && t->procs[i]->is_default)
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

static void describe_text(const ks_topology_t *t, ks_buf_t *b)
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
                for (int j = 0; j < p->ntopics; j++)
                    ks_buf_printf(b, "%s%s", j ? ", " : "", p->display_topic ? p->display_topic : p->topics[j]);
                ks_buf_puts(b, "])\n      --> ");
                names(b, p->children, p->nchildren, sub);
                ks_buf_putc(b, '\n');
            } else if (p->op == KS_OP_SINK) {
                if (p->dynamic_topic)
                    ks_buf_printf(b, "    Sink: %s (extractor class: jq `%s`)\n      <-- ", p->name, p->e.src);
                else
                    ks_buf_printf(b, "    Sink: %s (topic: %s)\n      <-- ", p->name,
                                  p->display_topic ? p->display_topic : p->topic);
                names(b, p->parents, p->nparents, sub);
                ks_buf_putc(b, '\n');
            } else {
                ks_buf_printf(b, "    Processor: %s (stores: [", p->name);
                for (int j = 0; j < p->nstores; j++)
                    ks_buf_printf(b, "%s%s", j ? ", " : "", p->stores[j]);
                ks_buf_puts(b, "])\n      --> ");
                names(b, p->children, p->nchildren, sub);
                ks_buf_puts(b, "\n      <-- ");
                names(b, p->parents, p->nparents, sub);
                ks_buf_putc(b, '\n');
            }
        }
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

static ks_val names_arr(ks_proc_t **ps, int n)
{
    ks_val a = ks_arr_new((size_t)n);
    for (int i = 0; i < n; i++)
        ks_arr_push(&a, ks_str_cstr(ps[i]->name));
    return a;
}

static ks_val describe_json(const ks_topology_t *t)
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
            ks_obj_setc(&o, "type", ks_str_cstr(p->op == KS_OP_SOURCE ? "source" : p->op == KS_OP_SINK ? "sink" : "processor"));
            ks_obj_setc(&o, "operator", ks_str_cstr(ks_op_dsl_name(p->op)));
            if (p->op == KS_OP_SOURCE)
                ks_obj_setc(&o, "topics", p->display_topic ? str_arr(&p->display_topic, 1) : str_arr(p->topics, p->ntopics));
            if (p->op == KS_OP_SINK && p->topic)
                ks_obj_setc(&o, "topic", ks_str_cstr(p->display_topic ? p->display_topic : p->topic));
            if (p->e.src) {
                ks_obj_setc(&o, "expression", ks_str_cstr(p->e.src));
                ks_obj_setc(&o, "native", ks_bool(ks_expr_is_native(p->e.expr)));
            }
            if (p->branch)
                ks_obj_setc(&o, "branch", ks_str_cstr(p->branch));
            if (p->is_repartition)
                ks_obj_setc(&o, "repartition", ks_bool(1));
            ks_obj_setc(&o, "stores", str_arr(p->stores, p->nstores));
            ks_obj_setc(&o, "successors", names_arr(p->children, p->nchildren));
            ks_obj_setc(&o, "predecessors", names_arr(p->parents, p->nparents));
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
                ks_buf_puts(b, "\\n");
                dot_escape(b, expr);
            }
            ks_buf_printf(b, "\", shape=%s];\n", p->op == KS_OP_SOURCE || p->op == KS_OP_SINK ? "box" : "ellipse");
        }
        ks_buf_puts(b, "  }\n");
    }
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *p = t->procs[i];
        for (int j = 0; j < p->nchildren; j++)
            ks_buf_printf(b, "  \"%s/%s\" -> \"%s/%s\";\n", prefix, p->name, prefix, p->children[j]->name);
        /* Topic nodes use Kafka's names (internal ones carry the application), so services share real topics only. */
        if (p->op == KS_OP_SOURCE)
            for (int j = 0; j < p->ntopics; j++)
                ks_buf_printf(b, "  \"topic:%s\" [shape=cylinder];\n  \"topic:%s\" -> \"%s/%s\";\n", p->topics[j],
                              p->topics[j], prefix, p->name);
        if (p->op == KS_OP_SINK && p->topic)
            ks_buf_printf(b, "  \"topic:%s\" [shape=cylinder];\n  \"%s/%s\" -> \"topic:%s\";\n", p->topic, prefix,
                          p->name, p->topic);
        for (int j = 0; j < p->nstores; j++)
            ks_buf_printf(b, "  \"store:%s/%s\" [label=\"%s\", shape=folder];\n  \"%s/%s\" -> \"store:%s/%s\" [style=dashed, arrowhead=none];\n",
                          prefix, p->stores[j], p->stores[j], prefix, p->name, prefix, p->stores[j]);
    }
}

void ks_topology_describe(const ks_topology_t *t, ks_describe_fmt_t fmt, FILE *out)
{
    ks_buf_t b = {0};
    if (fmt == KS_DESCRIBE_TEXT) {
        describe_text(t, &b);
    } else if (fmt == KS_DESCRIBE_JSON) {
        ks_val v = describe_json(t);
        ks_json_write(&b, v);
        ks_buf_putc(&b, '\n');
        ks_val_release(v);
    } else {
        ks_buf_printf(&b, "digraph \"%s\" {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n", t->application);
        dot_body(t, &b, t->application);
        ks_buf_puts(&b, "}\n");
    }
    fwrite(b.data, 1, b.len, out);
    ks_buf_free(&b);
}

void ks_topology_describe_system(ks_topology_t *const *ts, int n, FILE *out)
{
    ks_buf_t b = {0};
    ks_buf_puts(&b, "digraph system {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n");
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
