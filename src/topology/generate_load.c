/*
 * generate_load.c: the YAML side of `from: {generate: {...}}` sources:
 * rate parsing, the generate keys, and the source node they become. The
 * runtime side is src/engine/generate.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "schema.h"
#include "topology_int.h"

int ks_topology_parse_rate(const char *s, double *per_sec)
{
    static const struct {
        const char *unit;
        double secs;
    } units[] = {{"", 1}, {"/s", 1}, {"/ms", 0.001}, {"/m", 60}, {"/h", 3600}, {"/d", 86400}};
    char *end;
    if (!s || !(isdigit((unsigned char)*s) || (*s == '.' && isdigit((unsigned char)s[1]))))
        return -1;
    double n = strtod(s, &end);
    if (!(n >= 0 && n < 1e15))
        return -1;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) == 0) {
            *per_sec = n / units[i].secs;
            return 0;
        }
    }
    return -1;
}

/* An integer of `generate` (count, seed), within what a jq number holds exactly. */
static void gen_int(load_t *L, const ks_ynode_t *n, const char *what, int negative_ok, int64_t *out)
{
    char *end = NULL;
    long long v = 0;
    errno = 0;
    if (n->kind == KS_YAML_SCALAR)
        v = strtoll(n->value, &end, 10);
    if (!end || end == n->value || *end || errno || v > (1LL << 53) || v < (negative_ok ? -(1LL << 53) : 0)) {
        ks__topo_err_at(L, n, "`%s` of `generate` must be %s integer up to 2^53, not %s%s%s", what,
                        negative_ok ? "an" : "a non-negative", n->kind == KS_YAML_SCALAR ? "`" : "a ",
                        n->kind == KS_YAML_SCALAR ? n->value : ks_ynode_kind_name(n),
                        n->kind == KS_YAML_SCALAR ? "`" : "");
        return;
    }
    *out = v;
}

/* Compiles one of the generate expressions, with $i, $rand, $seed and $now in scope besides the stream variables. */
static void gen_expr(load_t *L, const ks_ynode_t *n, const char *key, ks_step_expr_t *out)
{
    static const char *const vars[] = {KS_GEN_ALL_VARS};
    _Static_assert(sizeof vars / sizeof vars[0] == KS_EXPR_NSTREAM_VARS + KS_GEN_NVARS, "generate variables");
    memset(out, 0, sizeof *out);
    if (n->kind != KS_YAML_SCALAR) {
        ks__topo_err_at(L, n, "`%s` of `generate` must be a jq expression, not a %s", key, ks_ynode_kind_name(n));
        return;
    }
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile(n->value, vars, KS_EXPR_NSTREAM_VARS + KS_GEN_NVARS, &err);
    if (!e) {
        ks__topo_err_at(L, n, "in `%s` of `generate`: %s", key, err);
        free(err);
        return;
    }
    out->src = ks_xstrdup(n->value);
    out->expr = e;
    out->pos.file = L->t->file;
    out->pos.line = n->line;
    out->pos.col = n->col;
}

/*
 * The source node of a `from: {generate: ...}` pipeline: named like any
 * KSTREAM-SOURCE (or by `name:`), reading the pseudo-topic
 * `generate:<pipeline>`. Returns NULL when `generate` is not a mapping.
 */
ks_proc_t *ks__topo_load_generate(load_t *L, const char *pipe, const ks_ynode_t *from)
{
    for (size_t i = 0; i < from->n; i++)
        if (strcmp(from->keys[i]->value, "generate") != 0)
            ks__topo_err_at(L, from->keys[i], "unknown key `%s` in `from`; allowed here: generate",
                            from->keys[i]->value);
    const ks_ynode_t *g = ks_ynode_get(from, "generate");
    if (g->kind != KS_YAML_MAP) {
        ks__topo_err_at(L, g,
                        "`generate` must be a mapping with `value` and optionally key, timestamp, rate, count, seed");
        return NULL;
    }
    static const char *const parts[KS_GEN__NEXPR] = {
        [KS_GEN_KEY] = "key", [KS_GEN_VALUE] = "value", [KS_GEN_TIMESTAMP] = "timestamp"};
    ks_step_expr_t exprs[KS_GEN__NEXPR];
    memset(exprs, 0, sizeof exprs);
    double rate = 0;
    int64_t count = -1, seed = 0;
    const char *given = NULL;
    /* In the order written, so that errors come in file order. */
    for (size_t i = 0; i < g->n; i++) {
        const char *k = g->keys[i]->value;
        const ks_ynode_t *n = g->items[i];
        int slot = -1;
        for (int j = 0; j < KS_GEN__NEXPR; j++)
            if (strcmp(k, parts[j]) == 0)
                slot = j;
        if (slot >= 0) {
            gen_expr(L, n, k, &exprs[slot]);
        } else if (strcmp(k, "rate") == 0) {
            if (n->kind != KS_YAML_SCALAR || ks_topology_parse_rate(n->value, &rate))
                ks__topo_err_at(L, n,
                                "invalid rate `%s` of `generate`: write records per time unit, e.g. 200/s, 10/m, 5/h "
                                "(0: as fast as possible)",
                                n->kind == KS_YAML_SCALAR ? n->value : ks_ynode_kind_name(n));
        } else if (strcmp(k, "count") == 0) {
            gen_int(L, n, "count", 0, &count);
        } else if (strcmp(k, "seed") == 0) {
            gen_int(L, n, "seed", 1, &seed);
        } else if (strcmp(k, "name") == 0) {
            if (n->kind == KS_YAML_SCALAR) {
                given = n->value;
                ks__topo_note_name(L, given, n, "step");
            }
        } else {
            char *allowed = ks_schema_names(ks_schema_generate, "name");
            ks__topo_err_at(L, g->keys[i], "unknown key `%s` in `generate`; allowed here: %s", k, allowed);
            free(allowed);
        }
    }
    for (const ks_key_row_t *r = ks_schema_generate; r->name; r++)
        if (r->required && !ks_ynode_get(g, r->name))
            ks__topo_err_at(L, g, "`generate` needs `%s`", r->name);
    /* Made even after errors, so that the pipeline's steps are still checked; the topology is then dropped. */
    ks_proc_t *src = ks__topo_new_proc(L, KS_OP_SOURCE, ks_op_prefix(KS_OP_SOURCE, 0), given, from);
    ks_buf_t topic = {0};
    ks_buf_printf(&topic, "%s%s", KS_GEN_TOPIC_PREFIX, pipe);
    src->io.topic = ks_buf_steal(&topic);
    src->io.topics = ks_xcalloc(1, sizeof(char *));
    src->io.topics[0] = ks_xstrdup(src->io.topic);
    src->io.ntopics = 1;
    src->gen.enabled = 1;
    src->gen.rate = rate;
    src->gen.count = count;
    src->gen.seed = seed;
    for (int i = 0; i < KS_GEN__NEXPR; i++)
        ks__topo_add_extra(src, exprs[i]);
    return src;
}
