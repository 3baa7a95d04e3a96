/*
 * load.c: topology file -> validated processor graph.
 *
 * The YAML tree is checked against the rows of schema.c, collecting every
 * error with its position. Processors are created in the order Kafka Streams
 * would create them for the equivalent DSL calls (tables first, then each
 * pipeline's source and steps), which gives the same generated names
 * (`KSTREAM-FILTER-0000000003`). Repartition insertion and sub-topologies
 * are done afterwards by build.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../config/yaml.h"
#include "../util/duration.h"
#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

/* An error at a YAML node's place. */
void ks__topo_err_at(load_t *L, const ks_ynode_t *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ks_diag_err(L->diags, L->t->file, n ? n->line : 0, n ? n->col : 0, "%s", msg);
}

ks_pos_t ks__topo_pos_of(load_t *L, const ks_ynode_t *n)
{
    ks_pos_t p = {L->t->file, n ? n->line : 0, n ? n->col : 0};
    return p;
}

/* Checks a mapping's keys against rows: unknown keys (with the allowed ones), missing required keys. */
static void check_keys(load_t *L, const ks_ynode_t *map, const ks_key_row_t *rows, const char *what, const char *extra)
{
    for (size_t i = 0; i < map->n; i++) {
        const char *k = map->keys[i]->value;
        if (ks_schema_key(rows, k) || (extra && strcmp(k, extra) == 0))
            continue;
        char *allowed = ks_schema_names(rows, extra);
        ks__topo_err_at(L, map->keys[i], "unknown key `%s` in %s; allowed here: %s", k, what, allowed);
        free(allowed);
    }
    for (const ks_key_row_t *r = rows; r->name; r++)
        if (r->required && !ks_ynode_get(map, r->name))
            ks__topo_err_at(L, map, "missing required key `%s` in %s", r->name, what);
}

static int want_kind(load_t *L, const ks_ynode_t *n, ks_yaml_kind_t kind, const char *what)
{
    if (n->kind == kind)
        return 1;
    static const char *names[] = {"a scalar", "a mapping", "a sequence"};
    ks__topo_err_at(L, n, "%s must be %s, not %s", what, names[kind],
                    ks_ynode_kind_name(n) ? ks_ynode_kind_name(n) : "?");
    return 0;
}

static const char *scalar(load_t *L, const ks_ynode_t *n, const char *what)
{
    if (!n)
        return NULL;
    if (n->kind != KS_YAML_SCALAR) {
        ks__topo_err_at(L, n, "%s must be a string, not a %s", what, ks_ynode_kind_name(n));
        return NULL;
    }
    return n->value;
}

int ks__topo_get_bool(load_t *L, const ks_ynode_t *n, const char *what, int def)
{
    if (!n)
        return def;
    const char *v = scalar(L, n, what);
    if (!v)
        return def;
    if (strcmp(v, "true") == 0)
        return 1;
    if (strcmp(v, "false") == 0)
        return 0;
    ks__topo_err_at(L, n, "%s must be true or false, not `%s`", what, v);
    return def;
}

static int get_int(load_t *L, const ks_ynode_t *n, const char *what, int def)
{
    if (!n)
        return def;
    const char *v = scalar(L, n, what);
    if (!v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == 0 || *end || x < 1 || x > 100000) {
        ks__topo_err_at(L, n, "%s must be a positive integer, not `%s`", what, v);
        return def;
    }
    return (int)x;
}

int ks__topo_get_duration(load_t *L, const ks_ynode_t *n, const char *what, int64_t *ms)
{
    const char *v = scalar(L, n, what);
    if (!v)
        return -1;
    if (ks_parse_duration(v, ms)) {
        ks__topo_err_at(L, n,
                        "invalid duration `%s` for %s: write a number and a unit (ms, s, m, h, d), e.g. 250ms, 5s, 1h",
                        v, what);
        return -1;
    }
    return 0;
}

static int get_serde(load_t *L, const ks_ynode_t *n, ks_serde_t *out)
{
    const char *v = scalar(L, n, "a serde");
    if (!v)
        return -1;
    if (ks_serde_from_name(v, out) == 0)
        return 0;
    ks_buf_t b = {0};
    for (int i = 0; ks_serde_names[i]; i++)
        ks_buf_printf(&b, "%s%s", i ? ", " : "", ks_serde_names[i]);
    ks__topo_err_at(L, n, "unknown serde `%s`; allowed: %s", v, b.data);
    ks_buf_free(&b);
    return -1;
}

/* Compiles a step's expression; errors get the YAML node's place and the caret text. */
typedef struct lookup_check {
    load_t *L;
    const ks_ynode_t *n;
    const char *what;
} lookup_check_t;

/* Each lookup(table; key) of an expression must name a global table, literally. */
static void check_lookup(void *ud, const char *table, int pos)
{
    lookup_check_t *lc = ud;
    const ks_table_conf_t *tc = table ? ks__topo_find_table(lc->L->t, table) : NULL;
    if (!table)
        ks__topo_err_at(lc->L, lc->n,
                        "in %s: lookup's first argument must be a global table's name, as a string "
                        "literal (`lookup(\"products\"; .sku)`)",
                        lc->what);
    else if (!tc)
        ks__topo_err_at(lc->L, lc->n, "in %s: lookup(\"%s\"; ...): no table named `%s` under `tables:`", lc->what,
                        table, table);
    else if (!tc->global)
        ks__topo_err_at(lc->L, lc->n,
                        "in %s: lookup(\"%s\"; ...) reads global tables only, and `%s` is not `global: true` (a "
                        "stream joins it with `join: {table: %s}`)",
                        lc->what, table, table, table);
}

int ks__topo_compile_expr(load_t *L, const ks_ynode_t *n, const char *what, ks_step_expr_t *out)
{
    const char *src = scalar(L, n, what);
    if (!src)
        return -1;
    static const char *const vars[] = KS_EXPR_STREAM_VARS;
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile(src, vars, KS_EXPR_NSTREAM_VARS, &err);
    if (!e) {
        ks__topo_err_at(L, n, "in %s: %s", what, err);
        free(err);
        return -1;
    }
    out->src = ks_xstrdup(src);
    out->expr = e;
    out->pos = ks__topo_pos_of(L, n);
    lookup_check_t lc = {L, n, what};
    ks_expr_lookups(e, check_lookup, &lc);
    return 0;
}

/* ---- topics and tables ---- */

static void load_topics(load_t *L, const ks_ynode_t *n)
{
    ks_topology_t *t = L->t;
    t->defaults.key = KS_SERDE_STRING;
    t->defaults.value = KS_SERDE_JSON;
    if (!n || !want_kind(L, n, KS_YAML_MAP, "`topics`"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const char *name = n->keys[i]->value;
        const ks_ynode_t *v = n->items[i];
        if (!want_kind(L, v, KS_YAML_MAP, "a topic's settings"))
            continue;
        check_keys(L, v, ks_schema_topic, strcmp(name, "defaults") == 0 ? "`topics.defaults`" : "a topic", NULL);
        ks_topic_conf_t c = t->defaults;
        c.name = NULL;
        c.partitions = 0;
        const ks_ynode_t *k;
        if ((k = ks_ynode_get(v, "key")))
            get_serde(L, k, &c.key);
        if ((k = ks_ynode_get(v, "value")))
            get_serde(L, k, &c.value);
        c.partitions = get_int(L, ks_ynode_get(v, "partitions"), "`partitions`", 0);
        c.pos = ks__topo_pos_of(L, n->keys[i]);
        if (strcmp(name, "defaults") == 0) {
            t->defaults.key = c.key;
            t->defaults.value = c.value;
            t->defaults.partitions = c.partitions;
            continue;
        }
        c.name = ks_xstrdup(name);
        c.declared = 1;
        KS_GROW(t->topics, t->ntopics);
        t->topics[t->ntopics++] = c;
    }
    /* Topics declared before `defaults` still take defaults for what they did not set: re-resolve. */
    for (int i = 0; i < t->ntopics; i++) {
        const ks_ynode_t *v = ks_ynode_get(n, t->topics[i].name);
        if (v && v->kind == KS_YAML_MAP) {
            if (!ks_ynode_get(v, "key"))
                t->topics[i].key = t->defaults.key;
            if (!ks_ynode_get(v, "value"))
                t->topics[i].value = t->defaults.value;
        }
    }
}

static void load_tables(load_t *L, const ks_ynode_t *n)
{
    ks_topology_t *t = L->t;
    if (!n || !want_kind(L, n, KS_YAML_MAP, "`tables`"))
        return;
    for (size_t i = 0; i < n->n; i++) {
        const ks_ynode_t *v = n->items[i];
        if (!want_kind(L, v, KS_YAML_MAP, "a table's settings"))
            continue;
        char what[300];
        snprintf(what, sizeof what, "table `%s`", n->keys[i]->value);
        check_keys(L, v, ks_schema_table, what, NULL);
        ks_table_conf_t tc = {0};
        tc.name = ks_xstrdup(n->keys[i]->value);
        const char *topic = scalar(L, ks_ynode_get(v, "topic"), "`topic`");
        tc.topic = ks_xstrdup(topic ? topic : "");
        tc.queryable = ks__topo_get_bool(L, ks_ynode_get(v, "queryable"), "`queryable`", 0);
        tc.global = ks__topo_get_bool(L, ks_ynode_get(v, "global"), "`global`", 0);
        const char *store = scalar(L, ks_ynode_get(v, "store"), "`store`");
        tc.store = ks_xstrdup(store ? store : tc.name);
        tc.pos = ks__topo_pos_of(L, n->keys[i]);
        KS_GROW(t->tables, t->ntables);
        t->tables[t->ntables++] = tc;
        ks__topo_note_name(L, tc.name, n->keys[i], "table");
    }
}

const ks_table_conf_t *ks__topo_find_table(const ks_topology_t *t, const char *name)
{
    for (int i = 0; i < t->ntables; i++)
        if (strcmp(t->tables[i].name, name) == 0)
            return &t->tables[i];
    return NULL;
}

/* Names of tables, pipelines and steps share one namespace: duplicates are errors. */
void ks__topo_note_name(load_t *L, const char *name, const ks_ynode_t *at, const char *what)
{
    for (int i = 0; i < L->nnames; i++) {
        if (strcmp(L->names[i].name, name) == 0) {
            ks__topo_err_at(L, at, "duplicate name `%s`: already used by a %s at line %d", name, L->names[i].what,
                            L->names[i].line);
            return;
        }
    }
    KS_GROW(L->names, L->nnames);
    L->names[L->nnames].name = name;
    L->names[L->nnames].what = what;
    L->names[L->nnames].line = at ? at->line : 0;
    L->nnames++;
}

/* ---- the whole file ---- */

/* `{a: .x, b: 1}` from a flow mapping of scalars, `{...}` for anything deeper (caller frees). */
static char *flow_text(const ks_ynode_t *map)
{
    ks_buf_t b = {0};
    ks_buf_putc(&b, '{');
    for (size_t i = 0; i < map->n; i++) {
        if (map->items[i]->kind != KS_YAML_SCALAR) {
            ks_buf_free(&b);
            return ks_xstrdup("{...}");
        }
        ks_buf_printf(&b, "%s%s: %s", i ? ", " : "", map->keys[i]->value, map->items[i]->value);
    }
    ks_buf_putc(&b, '}');
    return ks_buf_steal(&b);
}

/*
 * `mapValues: {id: .orderId}` is a YAML mapping, not the jq object its
 * author meant: the step then reports unknown keys. Where a step that takes
 * an expression has a flow mapping none of whose keys is one of its parts,
 * say how to write the expression.
 */
static void hint_unquoted_objects(load_t *L, const ks_ynode_t *pipes)
{
    for (size_t i = 0; pipes && pipes->kind == KS_YAML_MAP && i < pipes->n; i++) {
        const ks_ynode_t *steps = ks_ynode_get(pipes->items[i], "steps");
        for (size_t j = 0; steps && steps->kind == KS_YAML_SEQ && j < steps->n; j++) {
            const ks_ynode_t *step = steps->items[j];
            if (step->kind != KS_YAML_MAP || step->n != 1 || step->items[0]->kind != KS_YAML_MAP ||
                !step->items[0]->flow)
                continue;
            const ks_step_row_t *row = ks_schema_step(step->keys[0]->value);
            const ks_ynode_t *arg = step->items[0];
            /* None of its keys is a part of the step: not a misspelt part but an expression. */
            int parts = 0;
            for (size_t k = 0; row && row->main && k < arg->n; k++)
                parts |= strcmp(arg->keys[k]->value, "name") == 0 || ks_schema_key(row->parts, arg->keys[k]->value);
            if (!row || !row->main || parts)
                continue;
            char *text = flow_text(arg);
            ks__topo_err_at(L, arg,
                            "`%s` is read as a YAML mapping, not as a jq expression; to write a jq object, quote the "
                            "expression: `%s: '%s'`",
                            text, row->name, text);
            free(text);
        }
    }
}

ks_topology_t *ks_topology_load(const char *path, ks_diags_t *diags)
{
    int before = diags->nerr;
    ks_ydoc_t *doc = ks_yaml_load_file(path, diags);
    if (!doc)
        return NULL;
    ks_topology_t *t = ks_xcalloc(1, sizeof *t);
    t->file = ks_xstrdup(path);
    load_t L = {.t = t, .diags = diags};
    const ks_ynode_t *root = ks_ydoc_root(doc);
    if (!root) {
        ks_diag_err(diags, path, 1, 1, "empty topology file: it needs at least `application` and `pipelines`");
    } else if (want_kind(&L, root, KS_YAML_MAP, "a topology file")) {
        check_keys(&L, root, ks_schema_top, "the topology", NULL);
        const char *app = scalar(&L, ks_ynode_get(root, "application"), "`application`");
        t->application = ks_xstrdup(app ? app : "");
        if (app &&
            (!*app || strspn(app, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(app)))
            ks__topo_err_at(&L, ks_ynode_get(root, "application"),
                            "`application` must be a Kafka-legal name (letters, digits, `.`, `_`, `-`), not `%s`", app);
        const char *desc = scalar(&L, ks_ynode_get(root, "description"), "`description`");
        t->description = desc ? ks_xstrdup(desc) : NULL;
        ks__topo_load_config(&L, ks_ynode_get(root, "config"));
        load_topics(&L, ks_ynode_get(root, "topics"));
        load_tables(&L, ks_ynode_get(root, "tables"));
        ks__topo_load_pipelines(&L, ks_ynode_get(root, "pipelines"));
        hint_unquoted_objects(&L, ks_ynode_get(root, "pipelines"));
        if (diags->nerr == before)
            ks__topo_build(&L);
        if (diags->nerr == before)
            ks__topo_check_topic_names(&L);
    }
    ks__topo_load_cleanup(&L);
    ks_ydoc_free(doc);
    if (diags->nerr > before) {
        ks_topology_free(t);
        return NULL;
    }
    return t;
}

void ks__topo_load_config(load_t *L, const ks_ynode_t *n)
{
    ks_topology_t *t = L->t;
    if (n && want_kind(L, n, KS_YAML_MAP, "`config`")) {
        for (size_t i = 0; i < n->n; i++) {
            const char *v = scalar(L, n->items[i], "a config value");
            if (!v)
                continue;
            const char *k = n->keys[i]->value;
            if (strcmp(k, "errors.tolerance") == 0) {
                if (strcmp(v, "none") == 0)
                    t->errors_tolerance_none = 1;
                else if (strcmp(v, "all") != 0)
                    ks__topo_err_at(L, n->items[i], "`errors.tolerance` must be `all` or `none`, not `%s`", v);
            }
            if (strcmp(k, "dlq.topic") == 0)
                t->dlq_topic = ks_xstrdup(v);
            KS_GROW(t->config_keys, t->nconfig);
            KS_GROW(t->config_vals, t->nconfig);
            KS_GROW(t->config_key_pos, t->nconfig);
            KS_GROW(t->config_val_pos, t->nconfig);
            t->config_key_pos[t->nconfig] = ks__topo_pos_of(L, n->keys[i]);
            t->config_val_pos[t->nconfig] = ks__topo_pos_of(L, n->items[i]);
            t->config_keys[t->nconfig] = ks_xstrdup(k);
            t->config_vals[t->nconfig] = ks_xstrdup(v);
            t->nconfig++;
        }
    }
    if (!t->dlq_topic) {
        ks_buf_t b = {0};
        ks_buf_printf(&b, "%s-dlq", t->application ? t->application : "kstreamd");
        t->dlq_topic = ks_buf_steal(&b);
    }
}

const ks_topic_conf_t *ks_topology_topic(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->ntopics; i++)
        if (strcmp(t->topics[i].name, topic) == 0)
            return &t->topics[i];
    for (int i = 0; i < t->ninternal_serdes; i++)
        if (strcmp(t->internal_serdes[i].name, topic) == 0)
            return &t->internal_serdes[i];
    return &t->defaults;
}

static void free_expr(ks_step_expr_t *e)
{
    free(e->src);
    ks_expr_free(e->expr);
}

void ks_topology_free(ks_topology_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *p = t->procs[i];
        free(p->print.label);
        free(p->name);
        free_expr(&p->e);
        free(p->io.topic);
        free(p->io.display_topic);
        for (int j = 0; j < p->io.ntopics; j++)
            free(p->io.topics[j]);
        free(p->io.topics);
        free(p->branch.name);
        free(p->table_source.table);
        free(p->join.table);
        for (int j = 0; j < p->nstores; j++) {
            free(p->stores[j]);
            if (p->changelogs)
                free(p->changelogs[j]);
        }
        free(p->stores);
        free(p->changelogs);
        free(p->children);
        free(p->parents);
        for (int j = 0; j < p->nextra; j++)
            free_expr(&p->extra[j]);
        free(p->extra);
        free(p);
    }
    free(t->procs);
    for (int i = 0; i < t->ntopics; i++)
        free(t->topics[i].name);
    free(t->topics);
    for (int i = 0; i < t->ntables; i++) {
        free(t->tables[i].name);
        free(t->tables[i].topic);
        free(t->tables[i].store);
    }
    free(t->tables);
    for (int i = 0; i < t->nconfig; i++) {
        free(t->config_keys[i]);
        free(t->config_vals[i]);
    }
    free(t->config_keys);
    free(t->config_key_pos);
    free(t->config_val_pos);
    free(t->config_vals);
    for (int i = 0; i < t->ninternal; i++)
        free(t->internal_topics[i]);
    free(t->internal_topics);
    for (int i = 0; i < t->ninternal_serdes; i++)
        free(t->internal_serdes[i].name);
    free(t->internal_serdes);
    free(t->file);
    free(t->application);
    free(t->description);
    free(t->dlq_topic);
    free(t);
}
