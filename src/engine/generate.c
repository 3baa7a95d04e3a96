/*
 * generate.c: generate sources at run time. See generate.h for what a
 * record is made of; the YAML side is in src/topology/pipeline.c.
 */
#include "generate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "engine_int.h"

struct ks_generator {
    const ks_topology_t *t;
    const ks_proc_t *src;              /* the generate source node */
    ks_serde_t key_serde, value_serde; /* of the pseudo-topic, as the engine will decode them */
    int64_t i;                         /* the next record number */
    ks_val topic;                      /* $topic */
    ks_buf_t kb, vb;                   /* the last record's key and value bytes */
    /* the last dead-letter record's header values */
    char *dlq_err;
    char dlq_off[24];
    ks_header_t dlq_headers[5];
};

/* ---- the PRNG ---- */

uint64_t ks_generate_mix64(uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/*
 * A counter-based generator: the i-th output of a splitmix64 stream whose
 * start is the mixed seed. Record i's number does not depend on the records
 * before it, so a skipped or failed record changes nothing after it.
 */
double ks_generate_rand(int64_t seed, int64_t i)
{
    uint64_t start = ks_generate_mix64((uint64_t)seed ^ 0x6a09e667f3bcc909ULL);
    uint64_t z = ks_generate_mix64(start + 0x9e3779b97f4a7c15ULL * ((uint64_t)i + 1));
    return (double)(z >> 11) * 0x1.0p-53;
}

/* ---- generators ---- */

ks_generator_t **ks_generators_new(const ks_topology_t *t, int *n)
{
    ks_generator_t **gs = NULL;
    *n = 0;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE || !p->gen.enabled)
            continue;
        ks_generator_t *g = ks_xcalloc(1, sizeof *g);
        g->t = t;
        g->src = p;
        const ks_topic_conf_t *tc = ks_topology_topic(t, p->io.topic);
        g->key_serde = tc->key;
        g->value_serde = tc->value;
        g->topic = ks_str_cstr(p->io.topic);
        KS_GROW(gs, *n);
        gs[(*n)++] = g;
    }
    return gs;
}

void ks_generators_free(ks_generator_t **gs, int n)
{
    for (int i = 0; i < n; i++) {
        ks_generator_t *g = gs[i];
        ks_val_release(g->topic);
        ks_buf_free(&g->kb);
        ks_buf_free(&g->vb);
        free(g->dlq_err);
        free(g);
    }
    free(gs);
}

double ks_generator_rate(const ks_generator_t *g)
{
    return g->src->gen.rate;
}

int ks_generator_done(const ks_generator_t *g)
{
    return g->src->gen.count >= 0 && g->i >= g->src->gen.count;
}

const char *ks_generator_topic(const ks_generator_t *g)
{
    return g->src->io.topic;
}

const char *ks_generator_node(const ks_generator_t *g)
{
    return g->src->name;
}

int64_t ks_generator_made(const ks_generator_t *g)
{
    return g->i;
}

static const char *const part_names[KS_GEN__NEXPR] = {
    [KS_GEN_KEY] = "key", [KS_GEN_VALUE] = "value", [KS_GEN_TIMESTAMP] = "timestamp"};

/* "evaluating `value` of generate (file:line:col): msg", the engine's wording for a failed expression. */
static int failed(const ks_generator_t *g, int part, const char *msg, char *err, size_t errlen)
{
    char what[KS_ERRMSG_SIZE];
    ks__eval_context(what, sizeof what, g->src, part_names[part], g->src->extra[part].pos);
    snprintf(err, errlen, "%s: %s", what, msg);
    return -1;
}

/* Runs one expression: its first output in *out (owned), or -1 with the message in err. */
static int run(const ks_generator_t *g, int part, ks_val input, const ks_val *vars, ks_val *out, char *err,
               size_t errlen)
{
    ks_val e;
    if (ks_expr_eval1(g->src->extra[part].expr, input, vars, KS_GEN_VAR__END, out, &e)) {
        char *m = ks_expr_error_message(e);
        ks_val_release(e);
        failed(g, part, m, err, errlen);
        free(m);
        return -1;
    }
    if (out->kind == KS_INVALID)
        return failed(g, part, "the expression produced no output", err, errlen);
    return 0;
}

static int encode(const ks_generator_t *g, int part, ks_serde_t s, ks_val v, ks_buf_t *b, const void **data,
                  size_t *len, char *err, size_t errlen)
{
    char msg[256];
    int is_null;
    b->len = 0;
    if (ks_serde_encode(s, v, b, &is_null, msg, sizeof msg)) {
        snprintf(err, errlen, "serializing the generated %s of %s: %s", part_names[part], g->src->io.topic, msg);
        return -1;
    }
    *data = is_null ? NULL : (b->data ? b->data : "");
    *len = is_null ? 0 : b->len;
    return 0;
}

int ks_generator_next(ks_generator_t *g, int64_t now_ms, ks_record_t *out, char *err, size_t errlen)
{
    if (ks_generator_done(g))
        return 1;
    const ks_proc_t *p = g->src;
    int64_t i = g->i++;
    ks_val vars[KS_GEN_VAR__END];
    for (int k = 0; k < KS_GEN_VAR__END; k++)
        vars[k] = ks_null();
    vars[KS_EXPR_VAR_TOPIC] = g->topic;
    vars[KS_GEN_VAR_I] = ks_num((double)i);
    vars[KS_GEN_VAR_RAND] = ks_num(ks_generate_rand(p->gen.seed, i));
    vars[KS_GEN_VAR_SEED] = ks_num((double)p->gen.seed);
    vars[KS_GEN_VAR_NOW] = ks_num((double)now_ms);
    int64_t ts = now_ms;
    ks_val v = ks_invalid(), k = ks_null();
    int rc = -1;
    if (p->extra[KS_GEN_TIMESTAMP].expr) {
        ks_val tv;
        if (run(g, KS_GEN_TIMESTAMP, ks_null(), vars, &tv, err, errlen))
            goto done;
        double d = tv.kind == KS_NUMBER ? ks_num_get(tv) : NAN;
        if (!(d >= -9.2e18 && d <= 9.2e18)) {
            char *j = ks_json_dump(tv);
            char msg[300];
            snprintf(msg, sizeof msg, "the timestamp must be a number of milliseconds, not %.200s", j);
            free(j);
            ks_val_release(tv);
            failed(g, KS_GEN_TIMESTAMP, msg, err, errlen);
            goto done;
        }
        ts = (int64_t)d;
        ks_val_release(tv);
    }
    vars[KS_EXPR_VAR_TIMESTAMP] = ks_num((double)ts);
    if (run(g, KS_GEN_VALUE, ks_null(), vars, &v, err, errlen))
        goto done;
    if (p->extra[KS_GEN_KEY].expr) {
        vars[KS_EXPR_VAR_VALUE] = v;
        if (run(g, KS_GEN_KEY, v, vars, &k, err, errlen))
            goto done;
    }
    memset(out, 0, sizeof *out);
    out->topic = p->io.topic;
    out->partition = 0;
    out->offset = i;
    out->timestamp = ts;
    if (encode(g, KS_GEN_KEY, g->key_serde, k, &g->kb, &out->key, &out->key_len, err, errlen) ||
        encode(g, KS_GEN_VALUE, g->value_serde, v, &g->vb, &out->value, &out->value_len, err, errlen))
        goto done;
    rc = 0;
done:
    ks_val_release(v);
    ks_val_release(k);
    return rc;
}

void ks_generator_dead_letter(ks_generator_t *g, const char *err, int64_t now_ms, ks_record_t *out)
{
    free(g->dlq_err);
    g->dlq_err = ks_xstrdup(err);
    snprintf(g->dlq_off, sizeof g->dlq_off, "%lld", (long long)(g->i - 1));
    const char *topic = g->src->io.topic, *node = g->src->name;
    ks_header_t hs[5] = {
        {"kstreamd.error", g->dlq_err, strlen(g->dlq_err)},
        {"kstreamd.source.topic", topic, strlen(topic)},
        {"kstreamd.source.partition", "0", 1},
        {"kstreamd.source.offset", g->dlq_off, strlen(g->dlq_off)},
        {"kstreamd.node", node, strlen(node)},
    };
    memcpy(g->dlq_headers, hs, sizeof hs);
    memset(out, 0, sizeof *out);
    out->topic = g->t->dlq_topic;
    out->partition = -1;
    out->offset = -1;
    out->timestamp = now_ms;
    out->headers = g->dlq_headers;
    out->nheaders = 5;
}
