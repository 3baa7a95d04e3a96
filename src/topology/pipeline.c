/*
 * pipeline.c: loads `pipelines:` — sources, steps and sinks — into processor
 * nodes, checking each step against the kind of stream that flows into it
 * (a `count` needs a grouped stream, `suppress` a table, ...). The checks
 * every step shares are here (load_step); what a step makes is its
 * loader's, named by its row in schema.c: load_stateless.c,
 * load_aggregate.c and load_join.c. The node, repartition and pipeline
 * helpers the loaders share are declared in topology_int.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/*
 * A processor named `given`, or `<prefix>-<index>`. A given name uses an
 * index too unless burn is 0, as Kafka Streams' NamedInternal does so that
 * naming one step leaves the generated names of the others unchanged.
 */
ks_proc_t *ks__topo_new_proc_burn(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at,
                                  int burn)
{
    ks_topology_t *t = L->t;
    ks_proc_t *p = ks_xcalloc(1, sizeof *p);
    p->op = op;
    if (given) {
        p->name = ks_xstrdup(given);
        t->name_counter += burn;
    } else {
        ks_buf_t b = {0};
        ks_buf_printf(&b, "%s-%010d", prefix, t->name_counter++);
        p->name = ks_buf_steal(&b);
    }
    p->pos.file = t->file;
    p->pos.line = at ? at->line : 0;
    p->pos.col = at ? at->col : 0;
    p->subtopology = -1;
    p->seq = t->nprocs;
    p->add_order = 4 * p->seq;
    KS_GROW(t->procs, t->nprocs);
    t->procs[t->nprocs++] = p;
    return p;
}

ks_proc_t *ks__topo_new_proc(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at)
{
    return ks__topo_new_proc_burn(L, op, prefix, given, at, 1);
}

/* A store name consumes one index of Kafka Streams' counter, as its generated store names do. */
char *ks__topo_gen_name(load_t *L, const char *prefix)
{
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s-%010d", prefix, L->t->name_counter++);
    return ks_buf_steal(&b);
}

void ks__topo_link(ks_proc_t *parent, ks_proc_t *child)
{
    KS_GROW(parent->children, parent->nchildren);
    parent->children[parent->nchildren++] = child;
    KS_GROW(child->parents, child->nparents);
    child->parents[child->nparents++] = parent;
}

void ks__topo_add_store(ks_proc_t *p, const char *store)
{
    KS_GROW(p->stores, p->nstores);
    p->stores[p->nstores++] = ks_xstrdup(store);
}

void ks__topo_add_extra(ks_proc_t *p, ks_step_expr_t e)
{
    KS_GROW(p->extra, p->nextra);
    p->extra[p->nextra++] = e;
}

/* One shared source node per topic, as when several DSL streams read one topic. */
static ks_proc_t *source_for(load_t *L, char **topics, int ntopics, const ks_ynode_t *at)
{
    if (ntopics == 1) {
        for (int i = 0; i < L->nsources; i++)
            if (strcmp(L->sources[i].topic, topics[0]) == 0)
                return L->sources[i].src;
    }
    ks_proc_t *s = ks__topo_new_proc(L, KS_OP_SOURCE, ks_op_prefix(KS_OP_SOURCE, 0), NULL, at);
    s->io.topics = ks_xcalloc((size_t)ntopics, sizeof(char *));
    for (int i = 0; i < ntopics; i++)
        s->io.topics[i] = ks_xstrdup(topics[i]);
    s->io.ntopics = ntopics;
    s->io.topic = ks_xstrdup(topics[0]);
    if (ntopics == 1) {
        KS_GROW(L->sources, L->nsources);
        L->sources[L->nsources].topic = ks_xstrdup(topics[0]);
        L->sources[L->nsources].src = s;
        L->nsources++;
    }
    return s;
}

/* Tables: a source and a KTABLE-SOURCE holding the store. */
static void build_tables(load_t *L)
{
    ks_topology_t *t = L->t;
    for (int i = 0; i < t->ntables; i++) {
        ks_table_conf_t *tc = &t->tables[i];
        ks_proc_t *src = ks__topo_new_proc(L, KS_OP_SOURCE, ks_op_prefix(KS_OP_SOURCE, 0), NULL, NULL);
        src->pos = tc->pos;
        src->io.topic = ks_xstrdup(tc->topic);
        src->io.topics = ks_xcalloc(1, sizeof(char *));
        src->io.topics[0] = ks_xstrdup(tc->topic);
        src->io.ntopics = 1;
        ks_proc_t *ts = ks__topo_new_proc(L, KS_OP_TABLE_SOURCE, ks_op_prefix(KS_OP_TABLE_SOURCE, 1), NULL, NULL);
        ts->pos = tc->pos;
        ts->table_source.table = ks_xstrdup(tc->name);
        ks__topo_add_store(ts, tc->store);
        ts->table_source.global = tc->global;
        ts->table = 1;
        ks__topo_link(src, ts);
    }
}

ks_proc_t *ks__topo_table_proc(load_t *L, const char *name)
{
    for (int i = 0; i < L->t->nprocs; i++) {
        ks_proc_t *p = L->t->procs[i];
        if (p->op == KS_OP_TABLE_SOURCE && strcmp(p->table_source.table, name) == 0)
            return p;
    }
    return NULL;
}

/* Whether a name was generated (`KSTREAM-...-0000000004`) rather than given by the user. */
static int generated_name(const char *name)
{
    size_t n = strlen(name);
    if (strncmp(name, "KSTREAM", 7) != 0 || n < 11 || name[n - 11] != '-')
        return 0;
    for (size_t i = n - 10; i < n; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return 1;
}

/*
 * Links a repartition topic `<application>-<base>-repartition` after
 * `from`: its sink, then a source that the stream continues from. Describe
 * shows the topic without the application, as Kafka Streams does.
 */
void ks__topo_internal_topic(load_t *L, ks_proc_t *sink, ks_proc_t *src, const char *topic)
{
    ks_topology_t *t = L->t;
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s-%s", t->application, topic);
    char *full = ks_buf_steal(&b);
    sink->io.topic = ks_xstrdup(full);
    sink->io.display_topic = ks_xstrdup(topic);
    sink->is_repartition = 1;
    src->io.topic = ks_xstrdup(full);
    src->io.display_topic = ks_xstrdup(topic);
    src->io.topics = ks_xcalloc(1, sizeof(char *));
    src->io.topics[0] = ks_xstrdup(full);
    src->io.ntopics = 1;
    src->is_repartition = 1;
    KS_GROW(t->internal_topics, t->ninternal);
    t->internal_topics[t->ninternal++] = full;
}

static void link_repartition(load_t *L, stream_t *s, ks_proc_t *from, ks_proc_t *sink, ks_proc_t *src, const char *base)
{
    char topic[600];
    snprintf(topic, sizeof topic, "%s-repartition", base);
    ks__topo_internal_topic(L, sink, src, topic);
    ks__topo_link(from, sink);
    s->cur = src;
    s->key_changed = 0;
}

/*
 * Inserts a repartition topic and continues the stream from its source, as
 * Kafka Streams' createRepartitionedSource does: for a generated base the
 * sink, null-key filter and source take the next generated names, in that
 * order; for a user-given base they are `<base>-repartition-sink/-filter/
 * -source`, and the three indices are still used.
 */
void ks__topo_insert_repartition(load_t *L, stream_t *s, const char *base, const ks_ynode_t *at)
{
    char fname[600], sname[600], srcname[600];
    int gen = generated_name(base);
    snprintf(sname, sizeof sname, "%s-repartition-sink", base);
    snprintf(fname, sizeof fname, "%s-repartition-filter", base);
    snprintf(srcname, sizeof srcname, "%s-repartition-source", base);
    ks_proc_t *sink = ks__topo_new_proc(L, KS_OP_SINK, ks_op_prefix(KS_OP_SINK, 0), gen ? NULL : sname, at);
    ks_proc_t *f = ks__topo_new_proc(L, KS_OP_FILTER, ks_op_prefix(KS_OP_FILTER, 0), gen ? NULL : fname, at);
    ks_proc_t *src = ks__topo_new_proc(L, KS_OP_SOURCE, ks_op_prefix(KS_OP_SOURCE, 0), gen ? NULL : srcname, at);
    f->is_repartition = 1;              /* drops records with a null key, as Kafka Streams does */
    f->add_order = sink->add_order - 1; /* OptimizableRepartitionNode adds the filter, then the sink */
    ks__topo_link(s->cur, f);
    link_repartition(L, s, f, sink, src, base);
}

/*
 * The repartition topic of a grouped table's aggregation, as
 * KGroupedTableImpl#doAggregate makes it: a sink and a source, no filter
 * (groupBy of a table drops null keys itself), named `<name>-sink` and
 * `<name>-source` after the aggregation's `name:` (whose indices are still
 * used), or generated.
 */
void ks__topo_insert_table_repartition(load_t *L, stream_t *s, const char *base, const char *named,
                                       const ks_ynode_t *at)
{
    char sname[600], srcname[600];
    snprintf(sname, sizeof sname, "%s-sink", named ? named : "");
    snprintf(srcname, sizeof srcname, "%s-source", named ? named : "");
    ks_proc_t *sink = ks__topo_new_proc(L, KS_OP_SINK, ks_op_prefix(KS_OP_SINK, 0), named ? sname : NULL, at);
    ks_proc_t *src = ks__topo_new_proc(L, KS_OP_SOURCE, ks_op_prefix(KS_OP_SOURCE, 0), named ? srcname : NULL, at);
    link_repartition(L, s, s->cur, sink, src, base);
}

char *ks__topo_pipe_names(load_t *L)
{
    ks_buf_t b = {0};
    for (int i = 0; i < L->npipes; i++)
        ks_buf_printf(&b, "%s%s", i ? ", " : "", L->pipes[i].name);
    return ks_buf_steal(&b);
}

char *ks__topo_table_names(load_t *L)
{
    ks_buf_t b = {0};
    for (int i = 0; i < L->t->ntables; i++)
        ks_buf_printf(&b, "%s%s", i ? ", " : "", L->t->tables[i].name);
    return ks_buf_steal(&b);
}

pipe_state_t *ks__topo_find_pipe(load_t *L, const char *name)
{
    for (int i = 0; i < L->npipes; i++)
        if (strcmp(L->pipes[i].name, name) == 0)
            return &L->pipes[i];
    return NULL;
}

const ks_ynode_t *ks__topo_part(const ks_step_t *step, const char *key)
{
    if (!step->arg)
        return NULL;
    if (step->arg->kind == KS_YAML_MAP)
        return ks_ynode_get(step->arg, key);
    if (step->row->main && strcmp(step->row->main, key) == 0)
        return step->arg;
    return NULL;
}

int ks__topo_compile_part(load_t *L, const ks_step_t *step, const char *key, ks_step_expr_t *out)
{
    const ks_ynode_t *n = ks__topo_part(step, key);
    if (!n)
        return -1;
    char what[128];
    snprintf(what, sizeof what, "`%s` of `%s`", key, step->row->name);
    if (ks__topo_compile_expr(L, n, what, out))
        return -1;
    out->part = key; /* the schema's static string */
    return 0;
}

/*
 * A step: the generic checks (its shape, its name in the schema, the kind
 * of stream it may follow, its argument's keys), then the loader its
 * schema row names (load_stateless.c, load_aggregate.c, load_join.c).
 */
static void load_step(load_t *L, stream_t *s, const ks_ynode_t *stepnode, const char *pipe)
{
    if (stepnode->kind == KS_YAML_SEQ) {
        ks__topo_err_at(L, stepnode, "a step must be `name: argument` or a bare step name, not a list");
        return;
    }
    const ks_ynode_t *key = stepnode, *arg = NULL;
    if (stepnode->kind == KS_YAML_MAP) {
        if (stepnode->n != 1) {
            ks__topo_err_at(
                L, stepnode,
                "a step must be one `name: argument` pair; this mapping has %zu keys (is a `-` missing before `%s`?)",
                stepnode->n, stepnode->keys[1]->value);
            return;
        }
        key = stepnode->keys[0];
        arg = stepnode->items[0];
        if (arg->kind == KS_YAML_SCALAR && arg->plain &&
            (arg->value[0] == 0 || strcmp(arg->value, "null") == 0 || strcmp(arg->value, "~") == 0))
            arg = NULL;
    }
    const ks_step_row_t *row = ks_schema_step(key->value);
    if (!row) {
        char *names = ks_schema_step_names();
        ks__topo_err_at(L, key, "unknown step `%s`; steps: %s", key->value, names);
        free(names);
        return;
    }
    if (s->ended) {
        ks__topo_err_at(L, key, "`%s` cannot follow `split`: continue inside the branches' own `steps`", row->name);
        return;
    }
    if (s->kind == 0)
        return; /* an earlier step failed: its stream kind is unknown, later kinds cannot be judged */
    if (!(row->accepts & s->kind)) {
        int was = s->kind;
        s->kind = 0;
        ks__topo_err_at(L, key, "`%s` cannot be applied to %s%s", row->name, ks_stream_kind_name(was),
                        row->accepts & (KS_KGROUPED_STREAM | KS_KWINDOWED)
                            ? "; group it first with `groupByKey` or `groupBy`"
                        : row->op == KS_OP_SUPPRESS ? "; suppress applies to the table an aggregation produces"
                        : row->accepts == KS_KSTREAM && was & (KS_KTABLE | KS_KWTABLE) ? "; add `toStream` first"
                                                                                       : "");
        return;
    }
    const char *given = NULL; /* `name:` */
    if (!arg && !row->bare_ok) {
        ks__topo_err_at(L, key, "`%s` needs an argument%s%s", row->name, row->main ? ": the " : "",
                        row->main ? row->main : "");
        return;
    }
    if (arg && arg->kind == KS_YAML_MAP) {
        if (row->op == KS_OP_SPLIT) {
            /* branches are checked below */
        } else {
            for (size_t i = 0; i < arg->n; i++) {
                const char *k = arg->keys[i]->value;
                if (strcmp(k, "name") == 0 || ks_schema_key(row->parts, k))
                    continue;
                char *allowed = ks_schema_names(row->parts, "name");
                ks__topo_err_at(L, arg->keys[i], "unknown key `%s` in `%s`; allowed here: %s", k, row->name, allowed);
                free(allowed);
            }
            for (const ks_key_row_t *r = row->parts; r && r->name; r++)
                if (r->required && !ks_ynode_get(arg, r->name))
                    ks__topo_err_at(L, arg, "`%s` needs `%s`", row->name, r->name);
            const ks_ynode_t *nm = ks_ynode_get(arg, "name");
            if (nm && nm->kind == KS_YAML_SCALAR) {
                given = nm->value;
                ks__topo_note_name(L, given, nm, "step");
            }
        }
    } else if (arg && arg->kind == KS_YAML_SCALAR && !row->main &&
               !(row->op == KS_OP_SUPPRESS && strcmp(arg->value, "untilWindowCloses") == 0)) {
        ks__topo_err_at(L, arg, "`%s` takes %s, not a single value", row->name,
                        row->parts && row->parts->name ? "named parts (a mapping)" : "no argument");
        return;
    } else if (arg && arg->kind == KS_YAML_SEQ) {
        ks__topo_err_at(L, arg, "`%s` takes %s, not a list", row->name,
                        row->main ? "an expression or a mapping" : "a mapping");
        return;
    }

    ks_step_t step = {row, key, arg, given, pipe};
    row->load(L, s, &step);
}

void ks__topo_load_steps(load_t *L, stream_t *s, const ks_ynode_t *steps, const char *pipe)
{
    if (steps->kind != KS_YAML_SEQ) {
        ks__topo_err_at(L, steps, "`steps` must be a list (each item `- step: argument`)");
        return;
    }
    for (size_t i = 0; i < steps->n; i++)
        load_step(L, s, steps->items[i], pipe);
}

void ks__topo_load_sink(load_t *L, stream_t *s, const ks_ynode_t *to, const char *given, const ks_ynode_t *at)
{
    if (s->ended || !s->cur) {
        ks__topo_err_at(L, at, "`to` after `split`: give each branch its own `to`");
        return;
    }
    if (s->kind == 0)
        return; /* an earlier step failed */
    if (s->kind != KS_KSTREAM) {
        ks__topo_err_at(L, at, "`to` needs a stream, not %s; add `toStream` first", ks_stream_kind_name(s->kind));
        return;
    }
    if (!to) {
        ks__topo_err_at(L, at, "`to` needs a topic");
        return;
    }
    const char *topic = NULL;
    ks_step_expr_t e = {0};
    if (to->kind == KS_YAML_SCALAR) {
        topic = to->value;
    } else if (to->kind == KS_YAML_MAP) {
        for (size_t i = 0; i < to->n; i++) {
            const char *k = to->keys[i]->value;
            if (strcmp(k, "topic") && strcmp(k, "dynamic") && strcmp(k, "name"))
                ks__topo_err_at(L, to->keys[i], "unknown key `%s` in `to`; allowed here: topic, dynamic, name", k);
        }
        const ks_ynode_t *tn = ks_ynode_get(to, "topic"), *dn = ks_ynode_get(to, "dynamic"),
                         *nn = ks_ynode_get(to, "name");
        if (nn && nn->kind == KS_YAML_SCALAR && !given) {
            given = nn->value;
            ks__topo_note_name(L, given, nn, "step");
        }
        if (!!tn == !!dn) {
            ks__topo_err_at(L, to, "`to` needs exactly one of `topic` and `dynamic`");
            return;
        }
        if (tn)
            topic = tn->kind == KS_YAML_SCALAR ? tn->value : NULL;
        else if (ks__topo_compile_expr(L, dn, "`dynamic` of `to`", &e))
            return;
    } else {
        ks__topo_err_at(L, to, "`to` must be a topic name or a mapping with `topic` or `dynamic`");
        return;
    }
    if (topic && !*topic) {
        ks__topo_err_at(L, to, "`to` needs a topic name");
        return;
    }
    /* A serde that cannot hold what the stream is known to carry (the numbers of `count`) is an error. */
    if (topic && s->value_kind) {
        const ks_topic_conf_t *tc = ks_topology_topic(L->t, topic);
        ks_val probe = {.kind = (uint8_t)s->value_kind};
        if (!ks_serde_can_hold(tc->value, (ks_kind_t)s->value_kind))
            ks__topo_err_at(L, to,
                            "topic `%s` has value serde `%s`, which cannot hold the %ss `%s` produces; declare `%s: "
                            "{value: long}` under `topics:`",
                            topic, ks_serde_name(tc->value), ks_kind_name(probe), s->value_from, topic);
    }
    /* Windowed keys ({key, window}) need a key serde that can hold them: json or a windowed one. */
    if (topic && s->key_window != KS_WIN_NONE) {
        const ks_topic_conf_t *tc = ks_topology_topic(L->t, topic);
        if (!ks_serde_can_hold(tc->key, KS_OBJECT)) {
            int session = s->key_window == KS_WIN_SESSION;
            ks__topo_err_at(L, to,
                            "topic `%s` has key serde `%s`, which cannot hold the windowed keys ({key, window}) of the "
                            "%s aggregation before it; declare `%s: {key: %s}` under `topics:` (key serdes that can: "
                            "json, %s, %s), or turn the key back into a plain one with `map` or `selectKey`",
                            topic, ks_serde_name(tc->key), session ? "session-windowed" : "windowed", topic,
                            session ? "session-windowed-string" : "windowed-string",
                            session ? "session-windowed-string" : "windowed-string",
                            session ? "session-windowed-long" : "windowed-long");
        }
    }
    ks_proc_t *p = ks__topo_new_proc(L, KS_OP_SINK, ks_op_prefix(KS_OP_SINK, 0), given, at);
    if (topic)
        p->io.topic = ks_xstrdup(topic);
    else {
        p->io.dynamic_topic = 1;
        p->e = e;
    }
    ks__topo_link(s->cur, p);
}

pipe_state_t *ks__topo_load_pipeline(load_t *L, pipe_state_t *ps)
{
    if (ps->state != 0)
        return ps;
    ps->state = 1;
    const ks_ynode_t *n = ps->node;
    stream_t s = {0};
    s.kind = KS_KSTREAM;
    if (n->kind != KS_YAML_MAP) {
        ks__topo_err_at(L, n, "pipeline `%s` must be a mapping with `from`, `steps` and `to`", ps->name);
        ps->state = 2;
        return ps;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (!ks_schema_key(ks_schema_pipeline, n->keys[i]->value)) {
            char *allowed = ks_schema_names(ks_schema_pipeline, NULL);
            ks__topo_err_at(L, n->keys[i], "unknown key `%s` in pipeline `%s`; allowed here: %s", n->keys[i]->value,
                            ps->name, allowed);
            free(allowed);
        }
    }
    const ks_ynode_t *from = ks_ynode_get(n, "from");
    char **topics = NULL;
    int ntopics = 0;
    if (!from) {
        ks__topo_err_at(L, n, "pipeline `%s` needs `from`: a topic, a list of topics, or a table", ps->name);
    } else if (from->kind == KS_YAML_SCALAR) {
        const ks_table_conf_t *tc = ks__topo_find_table(L->t, from->value);
        if (tc) {
            if (tc->global)
                ks__topo_err_at(L, from, "pipeline `%s` reads global table `%s`: global tables are only joined with",
                                ps->name, tc->name);
            s.cur = ks__topo_table_proc(L, tc->name);
            s.kind = KS_KTABLE;
        } else if (!*from->value) {
            ks__topo_err_at(L, from, "`from` needs a topic name");
        } else {
            topics = ks_xcalloc(1, sizeof(char *));
            topics[ntopics++] = ks_xstrdup(from->value);
        }
    } else if (from->kind == KS_YAML_SEQ) {
        if (from->n == 0)
            ks__topo_err_at(L, from, "`from` lists no topics");
        for (size_t i = 0; i < from->n; i++) {
            if (from->items[i]->kind != KS_YAML_SCALAR) {
                ks__topo_err_at(L, from->items[i], "`from` lists topic names, not a %s",
                                ks_ynode_kind_name(from->items[i]));
                continue;
            }
            KS_GROW(topics, ntopics);
            topics[ntopics++] = ks_xstrdup(from->items[i]->value);
        }
    } else if (from->kind == KS_YAML_MAP && ks_ynode_get(from, "generate")) {
        s.cur = ks__topo_load_generate(L, ps->name, from);
    } else if (from->kind == KS_YAML_MAP && ks_ynode_get(from, "pipeline")) {
        /* Another pipeline's stream (or table), as a Kafka Streams program reuses a KStream variable. */
        const ks_ynode_t *pn = ks_ynode_get(from, "pipeline");
        pipe_state_t *other = pn->kind == KS_YAML_SCALAR ? ks__topo_find_pipe(L, pn->value) : NULL;
        if (from->n != 1) {
            ks__topo_err_at(L, from, "`from: {pipeline: NAME}` takes the pipeline's name only");
        } else if (!other) {
            char *names = ks__topo_pipe_names(L);
            ks__topo_err_at(L, pn, "`from`: no pipeline named `%s`; pipelines: %s",
                            pn->kind == KS_YAML_SCALAR ? pn->value : "?", names);
            free(names);
        } else if (other == ps || other->state == 1) {
            ks__topo_err_at(L, pn, "`from` pipeline `%s` makes a cycle of pipelines", pn->value);
        } else {
            ks__topo_load_pipeline(L, other);
            if (!other->end)
                ks__topo_err_at(L, pn,
                                "`from`: pipeline `%s` ends in a `split` or failed to load; it has no single stream",
                                pn->value);
            else if (other->kind != KS_KSTREAM && other->kind != KS_KTABLE && other->kind != KS_KWTABLE)
                ks__topo_err_at(L, pn, "`from`: pipeline `%s` ends in %s; continue from a stream or a table", pn->value,
                                ks_stream_kind_name(other->kind));
            else {
                s.cur = other->end;
                s.kind = other->kind;
                s.key_changed = other->key_changed;
                s.key_window = (ks_win_kind_t)other->key_window;
            }
        }
    } else if (from->kind == KS_YAML_MAP) {
        ks__topo_err_at(L, from,
                        "`from` is a mapping: write the topic name itself (`from: TOPIC`), a list of topics, a table, "
                        "`{pipeline: NAME}` or `{generate: ...}`");
    } else {
        ks__topo_err_at(L, from, "`from` must be a topic, a list of topics, or a table");
    }
    if (ntopics > 0)
        s.cur = source_for(L, topics, ntopics, from);
    for (int i = 0; i < ntopics; i++)
        free(topics[i]);
    free(topics);
    if (s.cur) {
        const ks_ynode_t *steps = ks_ynode_get(n, "steps");
        if (steps)
            ks__topo_load_steps(L, &s, steps, ps->name);
        const ks_ynode_t *to = ks_ynode_get(n, "to");
        if (to)
            ks__topo_load_sink(L, &s, to, NULL, to);
        /* A pipeline writing to a topic it reads loops forever. */
        if (to && to->kind == KS_YAML_SCALAR && from && from->kind == KS_YAML_SCALAR &&
            strcmp(to->value, from->value) == 0)
            ks__topo_err_at(L, to, "pipeline `%s` writes to `%s`, the topic it reads: a cycle", ps->name, to->value);
    }
    ps->end = s.ended ? NULL : s.cur;
    ps->kind = s.kind;
    ps->key_changed = s.key_changed;
    ps->key_window = s.key_window;
    ps->state = 2;
    return ps;
}

/*
 * Whether a table's store is needed below it, as Kafka Streams decides when
 * a processor asks its parent table for old values or a value getter
 * (enableSendingOldValues(true), valueGetterSupplier()): a groupBy of the
 * table, suppress, or a join; a table filter or mapValues passes the
 * question up.
 */
static int table_store_needed(const ks_proc_t *p)
{
    for (int i = 0; i < p->nchildren; i++) {
        const ks_proc_t *c = p->children[i];
        switch (c->op) {
        case KS_OP_GROUP_BY:
        case KS_OP_SUPPRESS:
        case KS_OP_JOIN:
        case KS_OP_LEFT_JOIN:
        case KS_OP_OUTER_JOIN: return 1;
        case KS_OP_FILTER:
        case KS_OP_FILTER_NOT:
        case KS_OP_MAP_VALUES:
            if (c->table && table_store_needed(c))
                return 1;
            break;
        default: break;
        }
    }
    return 0;
}

/*
 * A toTable without `store:` keeps no store (describe: `stores: []`)
 * unless something below needs it; its store's name index stays used.
 */
static void prune_table_stores(ks_topology_t *t)
{
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_TO_TABLE || !p->state.store_optional || table_store_needed(p))
            continue;
        for (int j = 0; j < p->nstores; j++)
            free(p->stores[j]);
        free(p->stores);
        p->stores = NULL;
        p->nstores = 0;
    }
}

/*
 * A warning for each end of the graph where records go nowhere: not a sink,
 * not a store (an aggregation, a materialised table), not a `peek`.
 */
static void warn_dead_ends(load_t *L)
{
    ks_topology_t *t = L->t;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->nchildren || p->op == KS_OP_SINK || p->op == KS_OP_PEEK || p->op == KS_OP_PRINT || p->nstores)
            continue;
        ks_diag_add(L->diags, KS_SEV_WARNING, t->file, p->pos.line, p->pos.col,
                    "the records of `%s` go nowhere: nothing follows it; add `to: TOPIC`, end in a table with "
                    "`store:`, or continue with `from: {pipeline: ...}` or `merge`",
                    ks_op_dsl_name(p->op));
    }
}

void ks__topo_load_pipelines(load_t *L, const ks_ynode_t *n)
{
    build_tables(L);
    if (!n)
        return;
    if (n->kind != KS_YAML_MAP) {
        ks__topo_err_at(L, n, "`pipelines` must be a mapping of named pipelines");
        return;
    }
    if (n->n == 0)
        ks__topo_err_at(L, n, "`pipelines` is empty: a topology needs at least one pipeline");
    for (size_t i = 0; i < n->n; i++) {
        KS_GROW(L->pipes, L->npipes);
        pipe_state_t ps = {n->keys[i]->value, n->items[i], n->keys[i], NULL, 0, 0, 0, 0};
        L->pipes[L->npipes++] = ps;
        ks__topo_note_name(L, ps.name, n->keys[i], "pipeline");
    }
    for (int i = 0; i < L->npipes; i++)
        ks__topo_load_pipeline(L, &L->pipes[i]);
    prune_table_stores(L->t);
    if (L->diags->nerr == 0)
        warn_dead_ends(L);
}

void ks__topo_load_cleanup(load_t *L)
{
    for (int i = 0; i < L->nsources; i++)
        free(L->sources[i].topic);
    free(L->sources);
    free(L->pipes);
    free(L->names);
}
