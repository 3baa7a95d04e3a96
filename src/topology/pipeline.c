/*
 * pipeline.c: loads `pipelines:` — sources, steps and sinks — into processor
 * nodes, checking each step against the kind of stream that flows into it
 * (a `count` needs a grouped stream, `suppress` a table, ...).
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
static ks_proc_t *new_proc(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at, int burn)
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
    t->procs = ks_xrealloc(t->procs, (size_t)(t->nprocs + 1) * sizeof *t->procs);
    t->procs[t->nprocs++] = p;
    return p;
}

ks_proc_t *ks__new_proc(load_t *L, ks_op_t op, const char *prefix, const char *given, const ks_ynode_t *at)
{
    return new_proc(L, op, prefix, given, at, 1);
}

/* A store name consumes one index of Kafka Streams' counter, as its generated store names do. */
static char *gen_name(load_t *L, const char *prefix)
{
    ks_buf_t b = {0};
    ks_buf_printf(&b, "%s-%010d", prefix, L->t->name_counter++);
    return ks_buf_steal(&b);
}

static void link(ks_proc_t *parent, ks_proc_t *child)
{
    parent->children = ks_xrealloc(parent->children, (size_t)(parent->nchildren + 1) * sizeof(ks_proc_t *));
    parent->children[parent->nchildren++] = child;
    child->parents = ks_xrealloc(child->parents, (size_t)(child->nparents + 1) * sizeof(ks_proc_t *));
    child->parents[child->nparents++] = parent;
}

static void add_store(ks_proc_t *p, const char *store)
{
    p->stores = ks_xrealloc(p->stores, (size_t)(p->nstores + 1) * sizeof(char *));
    p->stores[p->nstores++] = ks_xstrdup(store);
}

void ks__add_extra(ks_proc_t *p, ks_step_expr_t e)
{
    p->extra = ks_xrealloc(p->extra, (size_t)(p->nextra + 1) * sizeof *p->extra);
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
    ks_proc_t *s = ks__new_proc(L, KS_OP_SOURCE, "KSTREAM-SOURCE", NULL, at);
    s->topics = ks_xcalloc((size_t)ntopics, sizeof(char *));
    for (int i = 0; i < ntopics; i++)
        s->topics[i] = ks_xstrdup(topics[i]);
    s->ntopics = ntopics;
    s->topic = ks_xstrdup(topics[0]);
    if (ntopics == 1) {
        L->sources = ks_xrealloc(L->sources, (size_t)(L->nsources + 1) * sizeof *L->sources);
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
        ks_proc_t *src = ks__new_proc(L, KS_OP_SOURCE, "KSTREAM-SOURCE", NULL, NULL);
        src->pos = tc->pos;
        src->topic = ks_xstrdup(tc->topic);
        src->topics = ks_xcalloc(1, sizeof(char *));
        src->topics[0] = ks_xstrdup(tc->topic);
        src->ntopics = 1;
        ks_proc_t *ts = ks__new_proc(L, KS_OP_TABLE_SOURCE, "KTABLE-SOURCE", NULL, NULL);
        ts->pos = tc->pos;
        ts->topic = ks_xstrdup(tc->name); /* the table's name, for lookups */
        add_store(ts, tc->store);
        ts->is_default = tc->global; /* marks a global table's source */
        ts->table = 1;
        link(src, ts);
    }
}

static ks_proc_t *table_proc(load_t *L, const char *name)
{
    for (int i = 0; i < L->t->nprocs; i++) {
        ks_proc_t *p = L->t->procs[i];
        if (p->op == KS_OP_TABLE_SOURCE && strcmp(p->topic, name) == 0)
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
static void link_repartition(load_t *L, stream_t *s, ks_proc_t *from, ks_proc_t *sink, ks_proc_t *src, const char *base)
{
    ks_topology_t *t = L->t;
    char topic[600], full[700];
    snprintf(topic, sizeof topic, "%s-repartition", base);
    snprintf(full, sizeof full, "%s-%s", t->application, topic);
    sink->topic = ks_xstrdup(full);
    sink->display_topic = ks_xstrdup(topic);
    sink->is_repartition = 1;
    link(from, sink);
    src->topic = ks_xstrdup(full);
    src->display_topic = ks_xstrdup(topic);
    src->topics = ks_xcalloc(1, sizeof(char *));
    src->topics[0] = ks_xstrdup(full);
    src->ntopics = 1;
    src->is_repartition = 1;
    t->internal_topics = ks_xrealloc(t->internal_topics, (size_t)(t->ninternal + 1) * sizeof(char *));
    t->internal_topics[t->ninternal++] = ks_xstrdup(full);
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
static void insert_repartition(load_t *L, stream_t *s, const char *base, const ks_ynode_t *at)
{
    char fname[600], sname[600], srcname[600];
    int gen = generated_name(base);
    snprintf(sname, sizeof sname, "%s-repartition-sink", base);
    snprintf(fname, sizeof fname, "%s-repartition-filter", base);
    snprintf(srcname, sizeof srcname, "%s-repartition-source", base);
    ks_proc_t *sink = ks__new_proc(L, KS_OP_SINK, "KSTREAM-SINK", gen ? NULL : sname, at);
    ks_proc_t *f = ks__new_proc(L, KS_OP_FILTER, "KSTREAM-FILTER", gen ? NULL : fname, at);
    ks_proc_t *src = ks__new_proc(L, KS_OP_SOURCE, "KSTREAM-SOURCE", gen ? NULL : srcname, at);
    f->is_repartition = 1; /* drops records with a null key, as Kafka Streams does */
    f->add_order = sink->add_order - 1; /* OptimizableRepartitionNode adds the filter, then the sink */
    link(s->cur, f);
    link_repartition(L, s, f, sink, src, base);
}

/*
 * The repartition topic of a grouped table's aggregation, as
 * KGroupedTableImpl#doAggregate makes it: a sink and a source, no filter
 * (groupBy of a table drops null keys itself), named `<name>-sink` and
 * `<name>-source` after the aggregation's `name:` (whose indices are still
 * used), or generated.
 */
static void insert_table_repartition(load_t *L, stream_t *s, const char *base, const char *named, const ks_ynode_t *at)
{
    char sname[600], srcname[600];
    snprintf(sname, sizeof sname, "%s-sink", named ? named : "");
    snprintf(srcname, sizeof srcname, "%s-source", named ? named : "");
    ks_proc_t *sink = ks__new_proc(L, KS_OP_SINK, "KSTREAM-SINK", named ? sname : NULL, at);
    ks_proc_t *src = ks__new_proc(L, KS_OP_SOURCE, "KSTREAM-SOURCE", named ? srcname : NULL, at);
    link_repartition(L, s, s->cur, sink, src, base);
}

static void load_steps(load_t *L, stream_t *s, const ks_ynode_t *steps, const char *pipe);
static void load_sink(load_t *L, stream_t *s, const ks_ynode_t *to, const char *given, const ks_ynode_t *at);
static pipe_state_t *load_pipeline(load_t *L, pipe_state_t *ps);

static char *pipe_names(load_t *L)
{
    ks_buf_t b = {0};
    for (int i = 0; i < L->npipes; i++)
        ks_buf_printf(&b, "%s%s", i ? ", " : "", L->pipes[i].name);
    return ks_buf_steal(&b);
}

static char *table_names(load_t *L)
{
    ks_buf_t b = {0};
    for (int i = 0; i < L->t->ntables; i++)
        ks_buf_printf(&b, "%s%s", i ? ", " : "", L->t->tables[i].name);
    return ks_buf_steal(&b);
}

static pipe_state_t *find_pipe(load_t *L, const char *name)
{
    for (int i = 0; i < L->npipes; i++)
        if (strcmp(L->pipes[i].name, name) == 0)
            return &L->pipes[i];
    return NULL;
}

/* The parts of a step written as a mapping, or its single expression. */
typedef struct step_args {
    const ks_ynode_t *node; /* the step's argument (scalar, mapping, or NULL for a bare step) */
    const char *name;       /* `name:` */
} step_args_t;

static const ks_ynode_t *part(const step_args_t *a, const ks_step_row_t *row, const char *key)
{
    if (!a->node)
        return NULL;
    if (a->node->kind == KS_YAML_MAP)
        return ks_ynode_get(a->node, key);
    if (row->main && strcmp(row->main, key) == 0)
        return a->node;
    return NULL;
}

static int compile_part(load_t *L, const step_args_t *a, const ks_step_row_t *row, const char *key,
                        ks_step_expr_t *out)
{
    const ks_ynode_t *n = part(a, row, key);
    if (!n)
        return -1;
    char what[128];
    snprintf(what, sizeof what, "`%s` of `%s`", key, row->name);
    if (ks__compile_expr(L, n, what, out))
        return -1;
    out->part = key; /* the schema's static string */
    return 0;
}

/* `changelog: false` on a store-making step. */
static int changelog_off(const step_args_t *a, const ks_step_row_t *row)
{
    const ks_ynode_t *n = part(a, row, "changelog");
    return n && n->kind == KS_YAML_SCALAR && strcmp(n->value, "false") == 0;
}

static void check_window(load_t *L, const step_args_t *a, const ks_step_row_t *row, ks_window_spec_t *w)
{
    const char *kinds[] = {"tumbling", "hopping", "sliding", "session"};
    int n = 0;
    memset(w, 0, sizeof *w);
    w->pos = ks__pos_of(L, a->node);
    for (int i = 0; i < 4; i++) {
        const ks_ynode_t *d = part(a, row, kinds[i]);
        int64_t ms;
        if (d) {
            n++;
            if (ks__get_duration(L, d, kinds[i], &ms) == 0) {
                w->kind = (ks_win_kind_t)(KS_WIN_TUMBLING + i);
                w->size = ms;
                w->advance = ms;
                if (ms <= 0)
                    ks__err_at(L, d, "`%s` needs a duration above zero", kinds[i]);
            }
        }
    }
    const ks_ynode_t *adv = part(a, row, "advance"), *grace = part(a, row, "grace");
    int64_t ms;
    if (adv && ks__get_duration(L, adv, "advance", &ms) == 0) {
        w->advance = ms;
        if (ms <= 0 || (w->kind == KS_WIN_HOPPING && ms > w->size))
            ks__err_at(L, adv, "`advance` must be above zero and at most the window size");
    }
    if (grace && ks__get_duration(L, grace, "grace", &ms) == 0)
        w->grace = ms;
    if (n != 1)
        ks__err_at(L, a->node, "`windowedBy` needs exactly one of tumbling, hopping, sliding, session");
    if (adv && !part(a, row, "hopping"))
        ks__err_at(L, adv, "`advance` applies to hopping windows only");
    if (part(a, row, "hopping") && !adv)
        ks__err_at(L, a->node, "hopping windows need `advance`");
}

static void load_step(load_t *L, stream_t *s, const ks_ynode_t *stepnode, const char *pipe)
{
    if (stepnode->kind == KS_YAML_SEQ) {
        ks__err_at(L, stepnode, "a step must be `name: argument` or a bare step name, not a list");
        return;
    }
    const ks_ynode_t *key = stepnode, *arg = NULL;
    if (stepnode->kind == KS_YAML_MAP) {
        if (stepnode->n != 1) {
            ks__err_at(L, stepnode,
                   "a step must be one `name: argument` pair; this mapping has %zu keys (is a `-` missing before `%s`?)",
                   stepnode->n, stepnode->keys[1]->value);
            return;
        }
        key = stepnode->keys[0];
        arg = stepnode->items[0];
        if (arg->kind == KS_YAML_SCALAR && arg->plain && (arg->value[0] == 0 || strcmp(arg->value, "null") == 0 || strcmp(arg->value, "~") == 0))
            arg = NULL;
    }
    const ks_step_row_t *row = ks_schema_step(key->value);
    if (!row) {
        char *names = ks_schema_step_names();
        ks__err_at(L, key, "unknown step `%s`; steps: %s", key->value, names);
        free(names);
        return;
    }
    if (s->ended) {
        ks__err_at(L, key, "`%s` cannot follow `split`: continue inside the branches' own `steps`", row->name);
        return;
    }
    if (s->kind == 0)
        return; /* an earlier step failed: its stream kind is unknown, later kinds cannot be judged */
    if (!(row->accepts & s->kind)) {
        int was = s->kind;
        s->kind = 0;
        ks__err_at(L, key, "`%s` cannot be applied to %s%s", row->name, ks_stream_kind_name(was),
               row->accepts & (KS_KGROUPED_STREAM | KS_KWINDOWED)
                   ? "; group it first with `groupByKey` or `groupBy`"
                   : row->op == KS_OP_SUPPRESS ? "; suppress applies to the table an aggregation produces"
                   : row->accepts == KS_KSTREAM && was & (KS_KTABLE | KS_KWTABLE) ? "; add `toStream` first"
                                                                                       : "");
        return;
    }
    step_args_t a = {arg, NULL};
    if (!arg && !row->bare_ok) {
        ks__err_at(L, key, "`%s` needs an argument%s%s", row->name, row->main ? ": the " : "", row->main ? row->main : "");
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
                ks__err_at(L, arg->keys[i], "unknown key `%s` in `%s`; allowed here: %s", k, row->name, allowed);
                free(allowed);
            }
            for (const ks_key_row_t *r = row->parts; r && r->name; r++)
                if (r->required && !ks_ynode_get(arg, r->name))
                    ks__err_at(L, arg, "`%s` needs `%s`", row->name, r->name);
            const ks_ynode_t *nm = ks_ynode_get(arg, "name");
            if (nm && nm->kind == KS_YAML_SCALAR) {
                a.name = nm->value;
                ks__note_name(L, a.name, nm, "step");
            }
        }
    } else if (arg && arg->kind == KS_YAML_SCALAR && !row->main &&
               !(row->op == KS_OP_SUPPRESS && strcmp(arg->value, "untilWindowCloses") == 0)) {
        ks__err_at(L, arg, "`%s` takes %s, not a single value", row->name,
               row->parts && row->parts->name ? "named parts (a mapping)" : "no argument");
        return;
    } else if (arg && arg->kind == KS_YAML_SEQ) {
        ks__err_at(L, arg, "`%s` takes %s, not a list", row->name, row->main ? "an expression or a mapping" : "a mapping");
        return;
    }

    ks_proc_t *p = NULL;
    switch (row->op) {
    case KS_OP_FILTER:
    case KS_OP_FILTER_NOT:
    case KS_OP_MAP:
    case KS_OP_MAP_VALUES:
    case KS_OP_FLAT_MAP:
    case KS_OP_FLAT_MAP_VALUES:
    case KS_OP_SELECT_KEY:
    case KS_OP_PEEK: {
        const char *pre = ks_op_prefix(row->op, s->kind != KS_KSTREAM);
        ks_step_expr_t e = {0};
        if (compile_part(L, &a, row, row->main, &e))
            return;
        p = ks__new_proc(L, row->op, pre, a.name, key);
        p->e = e;
        p->table = s->kind != KS_KSTREAM;
        link(s->cur, p);
        s->cur = p;
        if (row->op == KS_OP_MAP || row->op == KS_OP_MAP_VALUES || row->op == KS_OP_FLAT_MAP ||
            row->op == KS_OP_FLAT_MAP_VALUES)
            s->value_kind = 0;
        if (row->op == KS_OP_MAP || row->op == KS_OP_FLAT_MAP || row->op == KS_OP_SELECT_KEY) {
            p->key_changing = 1;
            s->key_changed = 1;
            s->changer = p->name;
            s->key_window = KS_WIN_NONE;
        }
        return;
    }
    case KS_OP_SPLIT: {
        if (!arg || arg->kind != KS_YAML_MAP || arg->n == 0) {
            ks__err_at(L, arg ? arg : key, "`split` needs a mapping of named branches, each with `when` and `steps`/`to`");
            return;
        }
        p = ks__new_proc(L, KS_OP_SPLIT, "KSTREAM-BRANCH", NULL, key);
        link(s->cur, p);
        int has_default = 0;
        for (size_t i = 0; i < arg->n; i++) {
            const char *bname = arg->keys[i]->value;
            const ks_ynode_t *b = arg->items[i];
            int is_default = strcmp(bname, "default") == 0;
            if (has_default) {
                ks__err_at(L, arg->keys[i], "branch `%s` comes after `default`, which takes every remaining record", bname);
                continue;
            }
            if (b->kind != KS_YAML_MAP) {
                ks__err_at(L, b, "branch `%s` must be a mapping with `when`, `steps` and `to`", bname);
                continue;
            }
            for (size_t j = 0; j < b->n; j++) {
                if (!ks_schema_key(ks_schema_branch, b->keys[j]->value)) {
                    char *allowed = ks_schema_names(ks_schema_branch, NULL);
                    ks__err_at(L, b->keys[j], "unknown key `%s` in branch `%s`; allowed here: %s", b->keys[j]->value, bname,
                           allowed);
                    free(allowed);
                }
            }
            ks_step_expr_t e = {0};
            const ks_ynode_t *when = ks_ynode_get(b, "when");
            if (is_default) {
                has_default = 1;
                if (when)
                    ks__err_at(L, when, "the `default` branch takes every record no other branch took: it has no `when`");
            } else if (!when) {
                ks__err_at(L, b, "branch `%s` needs `when` (only `default` may leave it out)", bname);
                continue;
            } else if (ks__compile_expr(L, when, "`when`", &e)) {
                continue;
            }
            /* Kafka Streams names a branch `<split name><branch name>` and uses a counter index for it. */
            char bn[512];
            snprintf(bn, sizeof bn, "%s%s", p->name, bname);
            ks_proc_t *bp = ks__new_proc(L, KS_OP_BRANCH, NULL, bn, arg->keys[i]);
            bp->branch = ks_xstrdup(bname);
            bp->is_default = is_default;
            bp->e = e;
            link(p, bp);
            stream_t bs = *s;
            bs.cur = bp;
            bs.kind = KS_KSTREAM;
            bs.ended = 0;
            bs.group_name = NULL;
            const ks_ynode_t *bsteps = ks_ynode_get(b, "steps");
            if (bsteps)
                load_steps(L, &bs, bsteps, pipe);
            const ks_ynode_t *bto = ks_ynode_get(b, "to");
            if (bto)
                load_sink(L, &bs, bto, NULL, bto);
            if (!bsteps && !bto)
                ks__err_at(L, b, "branch `%s` goes nowhere: give it `to` or `steps`", bname);
        }
        s->ended = 1;
        s->cur = NULL;
        return;
    }
    case KS_OP_MERGE: {
        const ks_ynode_t *pn = part(&a, row, "pipeline");
        if (!pn || pn->kind != KS_YAML_SCALAR) {
            ks__err_at(L, arg, "`merge` needs the name of another pipeline");
            return;
        }
        pipe_state_t *other = find_pipe(L, pn->value);
        if (!other) {
            char *names = pipe_names(L);
            ks__err_at(L, pn, "`merge`: no pipeline named `%s`; pipelines: %s", pn->value, names);
            free(names);
            return;
        }
        if (strcmp(other->name, pipe) == 0 || other->state == 1) {
            ks__err_at(L, pn, "`merge` of `%s` makes a cycle of pipelines", pn->value);
            return;
        }
        load_pipeline(L, other);
        if (!other->end) {
            ks__err_at(L, pn, "`merge`: pipeline `%s` ends in a `split` or failed to load; it has no single stream", pn->value);
            return;
        }
        if (other->kind != KS_KSTREAM) {
            ks__err_at(L, pn, "`merge`: pipeline `%s` is %s, not a stream", pn->value, ks_stream_kind_name(other->kind));
            return;
        }
        p = ks__new_proc(L, KS_OP_MERGE, "KSTREAM-MERGE", a.name, key);
        link(s->cur, p);
        link(other->end, p);
        s->cur = p;
        s->key_changed |= other->key_changed;
        if ((ks_win_kind_t)other->key_window != s->key_window)
            s->key_window = KS_WIN_NONE; /* a mix: only records are checked, at run time */
        return;
    }
    case KS_OP_REPARTITION: {
        char *base = a.name ? ks_xstrdup(a.name) : gen_name(L, "KSTREAM-REPARTITION");
        insert_repartition(L, s, base, key);
        free(base);
        return;
    }
    case KS_OP_SINK:
        load_sink(L, s, arg, a.name, key);
        return;
    default:
        break;
    }

    /* Stateful steps: validated and described here; the state engine runs them. */
    switch (row->op) {
    case KS_OP_TO_TABLE: {
        /*
         * KStreamImpl#toTable: the processor's name, then its store's (an
         * index is used even when the table is not materialised), then the
         * repartition topic `<name>-repartition` when the key changed
         * upstream, so each key lands in one partition of the table.
         */
        p = ks__new_proc(L, KS_OP_TO_TABLE, "KSTREAM-TOTABLE", a.name, key);
        const ks_ynode_t *st = part(&a, row, "store");
        char *store = st ? ks_xstrdup(st->value) : gen_name(L, "KSTREAM-TOTABLE-STATE-STORE");
        if (s->key_changed) {
            insert_repartition(L, s, p->name, key);
            p->add_order = s->cur->add_order + 1; /* added to the topology after its repartition topic */
        }
        add_store(p, store);
        free(store);
        p->table = 1;
        p->store_optional = st == NULL; /* Materialized without a name: kept only if needed (prune_table_stores) */
        p->no_changelog = changelog_off(&a, row);
        break;
    }
    case KS_OP_TO_STREAM:
        p = ks__new_proc(L, KS_OP_TO_STREAM, "KTABLE-TOSTREAM", a.name, key);
        break;
    case KS_OP_GROUP_BY_KEY:
        s->kind = KS_KGROUPED_STREAM; /* not a processor in Kafka Streams */
        s->group_name = a.name;
        return;
    case KS_OP_GROUP_BY: {
        ks_step_expr_t e = {0};
        if (compile_part(L, &a, row, "keySelector", &e))
            return;
        int table = s->kind == KS_KTABLE;
        p = ks__new_proc(L, KS_OP_GROUP_BY, table ? "KTABLE-SELECT" : "KSTREAM-KEY-SELECT", a.name, key);
        p->e = e;
        p->table = table;
        p->key_changing = 1;
        link(s->cur, p);
        s->cur = p;
        s->kind = table ? KS_KGROUPED_TABLE : KS_KGROUPED_STREAM;
        s->key_changed = 1;
        s->changer = p->name;
        s->group_name = a.name;
        s->key_window = KS_WIN_NONE;
        return;
    }
    case KS_OP_WINDOWED_BY:
        check_window(L, &a, row, &s->window);
        s->kind = KS_KWINDOWED;
        return;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE: {
        int table = s->kind == KS_KGROUPED_TABLE, windowed = s->kind == KS_KWINDOWED;
        if (row->op == KS_OP_REDUCE) {
            if (table && (!part(&a, row, "adder") || !part(&a, row, "subtractor")))
                ks__err_at(L, key, "`reduce` of a grouped table needs `adder` and `subtractor`");
            if (!table && !part(&a, row, "reducer"))
                ks__err_at(L, key, "`reduce` of a grouped stream needs `reducer`");
        }
        if (row->op == KS_OP_AGGREGATE) {
            if (table && (!part(&a, row, "adder") || !part(&a, row, "subtractor")))
                ks__err_at(L, key, "`aggregate` of a grouped table needs `adder` and `subtractor`");
            if (!table && !part(&a, row, "aggregator"))
                ks__err_at(L, key, "`aggregate` of a grouped stream needs `aggregator`");
        }
        static const char *const parts_order[] = {"initializer", "aggregator", "reducer", "adder", "subtractor", "merger"};
        ks_step_expr_t exprs[6];
        int ne = 0;
        if (row->op == KS_OP_AGGREGATE && windowed && s->window.kind == KS_WIN_SESSION && !part(&a, row, "merger"))
            ks__err_at(L, key, "`aggregate` over session windows needs `merger` (combines two sessions' aggregates: `$agg` and `.`)");
        if (part(&a, row, "merger") && !(windowed && s->window.kind == KS_WIN_SESSION))
            ks__err_at(L, part(&a, row, "merger"), "`merger` applies to session windows only");
        for (int i = 0; i < 6; i++) {
            if (part(&a, row, parts_order[i])) {
                memset(&exprs[ne], 0, sizeof exprs[ne]);
                if (compile_part(L, &a, row, parts_order[i], &exprs[ne]) == 0)
                    ne++;
            }
        }
        const char *kind = row->op == KS_OP_REDUCE ? "REDUCE" : "AGGREGATE";
        char pre[64], spre[96];
        snprintf(pre, sizeof pre, "%s-%s", table ? "KTABLE" : "KSTREAM", kind);
        snprintf(spre, sizeof spre, "%s-STATE-STORE", pre);
        const ks_ynode_t *st = part(&a, row, "store");
        char *store = st ? ks_xstrdup(st->value) : gen_name(L, spre);
        const char *base = s->group_name ? s->group_name : store;
        if (table) {
            /* KGroupedTableImpl#doAggregate: sink and source, then the aggregate (no null-key filter). */
            insert_table_repartition(L, s, base, a.name, key);
            p = ks__new_proc(L, row->op, pre, a.name, key);
        } else {
            /* GroupedStreamAggregateBuilder#build names the aggregate before its repartition nodes. */
            p = ks__new_proc(L, row->op, pre, a.name, key);
            if (s->key_changed) {
                insert_repartition(L, s, base, key);
                p->add_order = s->cur->add_order + 1; /* added to the topology after its repartition topic */
            }
        }
        add_store(p, store);
        free(store);
        for (int i = 0; i < ne; i++)
            ks__add_extra(p, exprs[i]);
        p->table = table;
        if (windowed)
            p->window = s->window;
        p->no_changelog = changelog_off(&a, row);
        link(s->cur, p);
        s->cur = p;
        s->kind = windowed ? KS_KWTABLE : KS_KTABLE;
        s->group_name = NULL;
        s->key_window = windowed ? s->window.kind : KS_WIN_NONE;
        s->value_kind = row->op == KS_OP_COUNT ? KS_NUMBER : 0;
        s->value_from = row->name;
        return;
    }
    case KS_OP_SUPPRESS: {
        const ks_ynode_t *uwc = part(&a, row, "untilWindowCloses"), *utl = part(&a, row, "untilTimeLimit");
        if (arg && arg->kind == KS_YAML_SCALAR && strcmp(arg->value, "untilWindowCloses") == 0)
            uwc = arg;
        if (!uwc && !utl)
            ks__err_at(L, arg ? arg : key, "`suppress` needs `untilWindowCloses` or `{untilTimeLimit: DURATION}`");
        if (uwc && s->kind != KS_KWTABLE)
            ks__err_at(L, uwc, "`untilWindowCloses` needs a windowed aggregation before it");
        int64_t ms = 0;
        if (utl)
            ks__get_duration(L, utl, "untilTimeLimit", &ms);
        /* KTableImpl#suppress: a given name uses no index, and names the buffer `<name>-store`. */
        p = new_proc(L, KS_OP_SUPPRESS, "KTABLE-SUPPRESS", a.name, key, 0);
        p->suppress_final = uwc != NULL && !(uwc->kind == KS_YAML_SCALAR && strcmp(uwc->value, "false") == 0);
        p->suppress_limit = utl ? ms : 0;
        p->suppress_max = -1;
        const ks_ynode_t *mr = part(&a, row, "maxRecords");
        if (mr && mr->kind == KS_YAML_SCALAR) {
            char *end;
            long long n = strtoll(mr->value, &end, 10);
            if (*end || n <= 0)
                ks__err_at(L, mr, "`maxRecords` needs a positive number");
            else if (!utl)
                ks__err_at(L, mr, "`maxRecords` applies to `untilTimeLimit`");
            p->suppress_max = n;
        }
        if (uwc && utl)
            ks__err_at(L, utl, "`suppress` takes one of `untilWindowCloses` and `untilTimeLimit`");
        char *buffer = a.name ? NULL : gen_name(L, "KTABLE-SUPPRESS-STATE-STORE"); /* the suppression buffer */
        if (a.name) {
            ks_buf_t b = {0};
            ks_buf_printf(&b, "%s-store", a.name);
            buffer = ks_buf_steal(&b);
        }
        add_store(p, buffer);
        free(buffer);
        break;
    }
    case KS_OP_JOIN:
    case KS_OP_LEFT_JOIN:
    case KS_OP_OUTER_JOIN: {
        const ks_ynode_t *tn = part(&a, row, "table"), *gn = part(&a, row, "globalTable"),
                         *sn = part(&a, row, "stream"), *fk = part(&a, row, "foreignKey"),
                         *win = part(&a, row, "window");
        int nkinds = !!tn + !!gn + !!sn;
        if (nkinds != 1) {
            ks__err_at(L, arg ? arg : key, "`%s` needs exactly one of `table`, `globalTable` or `stream`", row->name);
            return;
        }
        ks_step_expr_t joiner = {0}, k = {0};
        const char *pre = row->op == KS_OP_JOIN ? "KSTREAM-JOIN" : row->op == KS_OP_LEFT_JOIN ? "KSTREAM-LEFTJOIN"
                                                                                                : "KSTREAM-OUTERJOIN";
        ks_proc_t *other = NULL;
        if (sn) {
            if (s->kind != KS_KSTREAM) {
                ks__err_at(L, sn, "a `stream:` join needs a stream on the left, not %s", ks_stream_kind_name(s->kind));
                return;
            }
            if (!win) {
                ks__err_at(L, sn, "a stream-stream join needs `window:` (the time difference allowed between the records)");
                return;
            }
            int64_t ms;
            ks__get_duration(L, win, "window", &ms);
            pipe_state_t *op = find_pipe(L, sn->value);
            if (!op) {
                ks__err_at(L, sn, "`%s`: no pipeline named `%s` to join with", row->name, sn->value);
                return;
            }
            if (op->state == 1 || strcmp(op->name, pipe) == 0) {
                ks__err_at(L, sn, "`%s` with `%s` makes a cycle of pipelines", row->name, sn->value);
                return;
            }
            load_pipeline(L, op);
            other = op->end;
        } else {
            const char *tname = (tn ? tn : gn)->value;
            const ks_table_conf_t *tc = ks__find_table(L->t, tname);
            if (!tc) {
                char *names = table_names(L);
                if (*names)
                    ks__err_at(L, tn ? tn : gn, "`%s`: no table named `%s`; tables: %s", row->name, tname, names);
                else
                    ks__err_at(L, tn ? tn : gn, "`%s`: no table named `%s`; declare it under `tables:`", row->name, tname);
                free(names);
                return;
            }
            if (gn && !tc->global)
                ks__err_at(L, gn, "`globalTable: %s` names a table that is not `global: true`; use `table:`", tname);
            if (tn && tc->global)
                ks__err_at(L, tn, "`table: %s` names a global table; use `globalTable:` with a `key:`", tname);
            if (gn && !part(&a, row, "key"))
                ks__err_at(L, gn, "a global-table join needs `key:`, the lookup key computed from the record");
            if (gn && s->kind != KS_KSTREAM)
                ks__err_at(L, gn, "a global-table join needs a stream on the left");
            if (fk && s->kind != KS_KTABLE)
                ks__err_at(L, fk, "`foreignKey` joins are table-table joins: the left side must be a table");
            if (row->op == KS_OP_OUTER_JOIN && s->kind == KS_KSTREAM)
                ks__err_at(L, key, "`outerJoin` of a stream needs a `stream:` (stream-table joins are inner or left)");
            if (win)
                ks__err_at(L, win, "`window` applies to stream-stream joins only");
            other = table_proc(L, tname);
            if (s->kind == KS_KTABLE)
                pre = row->op == KS_OP_JOIN ? "KTABLE-JOIN" : row->op == KS_OP_LEFT_JOIN ? "KTABLE-LEFTJOIN"
                                                                                       : "KTABLE-OUTERJOIN";
        }
        /* Expressions are compiled once the join is known to be well-formed, so no early return leaks them. */
        if (part(&a, row, "value"))
            compile_part(L, &a, row, "value", &joiner);
        if (!sn && part(&a, row, "key"))
            compile_part(L, &a, row, "key", &k);
        else if (!sn && fk)
            compile_part(L, &a, row, "foreignKey", &k);
        if (s->key_changed && !gn && !fk)
            insert_repartition(L, s, s->changer ? s->changer : "KSTREAM-JOIN", key);
        p = ks__new_proc(L, row->op, pre, a.name, key);
        p->e = joiner;
        if (k.expr)
            ks__add_extra(p, k);
        if (tn || gn) {
            const ks_table_conf_t *tc = ks__find_table(L->t, (tn ? tn : gn)->value);
            if (tc && !tc->global)
                add_store(p, tc->store);
            p->topic = ks_xstrdup((tn ? tn : gn)->value);
        }
        link(s->cur, p);
        if (other && sn)
            link(other, p);
        s->cur = p;
        return;
    }
    default:
        break;
    }
    if (p) {
        link(s->cur, p);
        s->cur = p;
        if (row->produces)
            s->kind = row->produces;
    }
}

static void load_steps(load_t *L, stream_t *s, const ks_ynode_t *steps, const char *pipe)
{
    if (steps->kind != KS_YAML_SEQ) {
        ks__err_at(L, steps, "`steps` must be a list (each item `- step: argument`)");
        return;
    }
    for (size_t i = 0; i < steps->n; i++)
        load_step(L, s, steps->items[i], pipe);
}

static void load_sink(load_t *L, stream_t *s, const ks_ynode_t *to, const char *given, const ks_ynode_t *at)
{
    if (s->ended || !s->cur) {
        ks__err_at(L, at, "`to` after `split`: give each branch its own `to`");
        return;
    }
    if (s->kind == 0)
        return; /* an earlier step failed */
    if (s->kind != KS_KSTREAM) {
        ks__err_at(L, at, "`to` needs a stream, not %s; add `toStream` first", ks_stream_kind_name(s->kind));
        return;
    }
    if (!to) {
        ks__err_at(L, at, "`to` needs a topic");
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
                ks__err_at(L, to->keys[i], "unknown key `%s` in `to`; allowed here: topic, dynamic, name", k);
        }
        const ks_ynode_t *tn = ks_ynode_get(to, "topic"), *dn = ks_ynode_get(to, "dynamic"), *nn = ks_ynode_get(to, "name");
        if (nn && nn->kind == KS_YAML_SCALAR && !given) {
            given = nn->value;
            ks__note_name(L, given, nn, "step");
        }
        if (!!tn == !!dn) {
            ks__err_at(L, to, "`to` needs exactly one of `topic` and `dynamic`");
            return;
        }
        if (tn)
            topic = tn->kind == KS_YAML_SCALAR ? tn->value : NULL;
        else if (ks__compile_expr(L, dn, "`dynamic` of `to`", &e))
            return;
    } else {
        ks__err_at(L, to, "`to` must be a topic name or a mapping with `topic` or `dynamic`");
        return;
    }
    if (topic && !*topic) {
        ks__err_at(L, to, "`to` needs a topic name");
        return;
    }
    /* A serde that cannot hold what the stream is known to carry (the numbers of `count`) is an error. */
    if (topic && s->value_kind) {
        const ks_topic_conf_t *tc = ks_topology_topic(L->t, topic);
        ks_val probe = {.kind = (uint8_t)s->value_kind};
        if (!ks_serde_can_hold(tc->value, (ks_kind_t)s->value_kind))
            ks__err_at(L, to, "topic `%s` has value serde `%s`, which cannot hold the %ss `%s` produces; declare `%s: {value: long}` under `topics:`",
                   topic, ks_serde_name(tc->value), ks_kind_name(probe), s->value_from, topic);
    }
    /* Windowed keys ({key, window}) need a key serde that can hold them: json or a windowed one. */
    if (topic && s->key_window != KS_WIN_NONE) {
        const ks_topic_conf_t *tc = ks_topology_topic(L->t, topic);
        if (!ks_serde_can_hold(tc->key, KS_OBJECT)) {
            int session = s->key_window == KS_WIN_SESSION;
            ks__err_at(L, to, "topic `%s` has key serde `%s`, which cannot hold the windowed keys ({key, window}) of the %s aggregation before it; declare `%s: {key: %s}` under `topics:` (key serdes that can: json, %s, %s), or turn the key back into a plain one with `map` or `selectKey`",
                       topic, ks_serde_name(tc->key), session ? "session-windowed" : "windowed", topic,
                       session ? "session-windowed-string" : "windowed-string",
                       session ? "session-windowed-string" : "windowed-string",
                       session ? "session-windowed-long" : "windowed-long");
        }
    }
    ks_proc_t *p = ks__new_proc(L, KS_OP_SINK, "KSTREAM-SINK", given, at);
    if (topic)
        p->topic = ks_xstrdup(topic);
    else {
        p->dynamic_topic = 1;
        p->e = e;
    }
    link(s->cur, p);
}

static pipe_state_t *load_pipeline(load_t *L, pipe_state_t *ps)
{
    if (ps->state != 0)
        return ps;
    ps->state = 1;
    const ks_ynode_t *n = ps->node;
    stream_t s = {0};
    s.kind = KS_KSTREAM;
    if (n->kind != KS_YAML_MAP) {
        ks__err_at(L, n, "pipeline `%s` must be a mapping with `from`, `steps` and `to`", ps->name);
        ps->state = 2;
        return ps;
    }
    for (size_t i = 0; i < n->n; i++) {
        if (!ks_schema_key(ks_schema_pipeline, n->keys[i]->value)) {
            char *allowed = ks_schema_names(ks_schema_pipeline, NULL);
            ks__err_at(L, n->keys[i], "unknown key `%s` in pipeline `%s`; allowed here: %s", n->keys[i]->value, ps->name,
                   allowed);
            free(allowed);
        }
    }
    const ks_ynode_t *from = ks_ynode_get(n, "from");
    char **topics = NULL;
    int ntopics = 0;
    if (!from) {
        ks__err_at(L, n, "pipeline `%s` needs `from`: a topic, a list of topics, or a table", ps->name);
    } else if (from->kind == KS_YAML_SCALAR) {
        const ks_table_conf_t *tc = ks__find_table(L->t, from->value);
        if (tc) {
            if (tc->global)
                ks__err_at(L, from, "pipeline `%s` reads global table `%s`: global tables are only joined with", ps->name,
                       tc->name);
            s.cur = table_proc(L, tc->name);
            s.kind = KS_KTABLE;
        } else if (!*from->value) {
            ks__err_at(L, from, "`from` needs a topic name");
        } else {
            topics = ks_xcalloc(1, sizeof(char *));
            topics[ntopics++] = ks_xstrdup(from->value);
        }
    } else if (from->kind == KS_YAML_SEQ) {
        if (from->n == 0)
            ks__err_at(L, from, "`from` lists no topics");
        for (size_t i = 0; i < from->n; i++) {
            if (from->items[i]->kind != KS_YAML_SCALAR) {
                ks__err_at(L, from->items[i], "`from` lists topic names, not a %s", ks_ynode_kind_name(from->items[i]));
                continue;
            }
            topics = ks_xrealloc(topics, (size_t)(ntopics + 1) * sizeof(char *));
            topics[ntopics++] = ks_xstrdup(from->items[i]->value);
        }
    } else if (from->kind == KS_YAML_MAP && ks_ynode_get(from, "generate")) {
        s.cur = ks__load_generate(L, ps->name, from);
    } else if (from->kind == KS_YAML_MAP && ks_ynode_get(from, "pipeline")) {
        /* Another pipeline's stream (or table), as a Kafka Streams program reuses a KStream variable. */
        const ks_ynode_t *pn = ks_ynode_get(from, "pipeline");
        pipe_state_t *other = pn->kind == KS_YAML_SCALAR ? find_pipe(L, pn->value) : NULL;
        if (from->n != 1) {
            ks__err_at(L, from, "`from: {pipeline: NAME}` takes the pipeline's name only");
        } else if (!other) {
            char *names = pipe_names(L);
            ks__err_at(L, pn, "`from`: no pipeline named `%s`; pipelines: %s", pn->kind == KS_YAML_SCALAR ? pn->value : "?",
                       names);
            free(names);
        } else if (other == ps || other->state == 1) {
            ks__err_at(L, pn, "`from` pipeline `%s` makes a cycle of pipelines", pn->value);
        } else {
            load_pipeline(L, other);
            if (!other->end)
                ks__err_at(L, pn, "`from`: pipeline `%s` ends in a `split` or failed to load; it has no single stream",
                           pn->value);
            else if (other->kind != KS_KSTREAM && other->kind != KS_KTABLE && other->kind != KS_KWTABLE)
                ks__err_at(L, pn, "`from`: pipeline `%s` ends in %s; continue from a stream or a table", pn->value,
                           ks_stream_kind_name(other->kind));
            else {
                s.cur = other->end;
                s.kind = other->kind;
                s.key_changed = other->key_changed;
                s.key_window = (ks_win_kind_t)other->key_window;
            }
        }
    } else if (from->kind == KS_YAML_MAP) {
        ks__err_at(L, from, "`from` is a mapping: write the topic name itself (`from: TOPIC`), a list of topics, a table, "
                            "`{pipeline: NAME}` or `{generate: ...}`");
    } else {
        ks__err_at(L, from, "`from` must be a topic, a list of topics, or a table");
    }
    if (ntopics > 0)
        s.cur = source_for(L, topics, ntopics, from);
    for (int i = 0; i < ntopics; i++)
        free(topics[i]);
    free(topics);
    if (s.cur) {
        const ks_ynode_t *steps = ks_ynode_get(n, "steps");
        if (steps)
            load_steps(L, &s, steps, ps->name);
        const ks_ynode_t *to = ks_ynode_get(n, "to");
        if (to)
            load_sink(L, &s, to, NULL, to);
        /* A pipeline writing to a topic it reads loops forever. */
        if (to && to->kind == KS_YAML_SCALAR && from && from->kind == KS_YAML_SCALAR && strcmp(to->value, from->value) == 0)
            ks__err_at(L, to, "pipeline `%s` writes to `%s`, the topic it reads: a cycle", ps->name, to->value);
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
        case KS_OP_OUTER_JOIN:
            return 1;
        case KS_OP_FILTER:
        case KS_OP_FILTER_NOT:
        case KS_OP_MAP_VALUES:
            if (c->table && table_store_needed(c))
                return 1;
            break;
        default:
            break;
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
        if (p->op != KS_OP_TO_TABLE || !p->store_optional || table_store_needed(p))
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
        if (p->nchildren || p->op == KS_OP_SINK || p->op == KS_OP_PEEK || p->nstores)
            continue;
        ks_diag_add(L->diags, KS_SEV_WARNING, t->file, p->pos.line, p->pos.col,
                    "the records of `%s` go nowhere: nothing follows it; add `to: TOPIC`, end in a table with `store:`, or continue with `from: {pipeline: ...}` or `merge`",
                    ks_op_dsl_name(p->op));
    }
}

void ks__load_pipelines(load_t *L, const ks_ynode_t *n)
{
    build_tables(L);
    if (!n)
        return;
    if (n->kind != KS_YAML_MAP) {
        ks__err_at(L, n, "`pipelines` must be a mapping of named pipelines");
        return;
    }
    if (n->n == 0)
        ks__err_at(L, n, "`pipelines` is empty: a topology needs at least one pipeline");
    for (size_t i = 0; i < n->n; i++) {
        L->pipes = ks_xrealloc(L->pipes, (size_t)(L->npipes + 1) * sizeof *L->pipes);
        pipe_state_t ps = {n->keys[i]->value, n->items[i], n->keys[i], NULL, 0, 0, 0, 0};
        L->pipes[L->npipes++] = ps;
        ks__note_name(L, ps.name, n->keys[i], "pipeline");
    }
    for (int i = 0; i < L->npipes; i++)
        load_pipeline(L, &L->pipes[i]);
    prune_table_stores(L->t);
    if (L->diags->nerr == 0)
        warn_dead_ends(L);
}

void ks__load_cleanup(load_t *L)
{
    for (int i = 0; i < L->nsources; i++)
        free(L->sources[i].topic);
    free(L->sources);
    free(L->pipes);
    free(L->names);
}
