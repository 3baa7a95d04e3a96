/*
 * serdes.c: the serdes Kafka Streams would use where a topology names none,
 * so that kstreamd's stores and changelogs hold the bytes Kafka Streams'
 * do. A Kafka Streams program carries a key and a value serde on every
 * KStream and KTable: sources set them (Consumed, from `topics:`), each
 * operator keeps or drops them (KStreamImpl, KTableImpl), and a store's
 * Materialized is filled from the grouped stream's serdes or left to the
 * defaults (`topics: defaults`), operator by operator as in Kafka Streams
 * 4.4:
 *
 *   filter, peek, split, to, repartition, toStream, suppress  keep both
 *   selectKey, groupBy (stream)        drop the key serde
 *   mapValues, flatMapValues           drop the value serde
 *   map, flatMap, merge, groupBy (table), joins   drop both
 *   foreign-key join                   see fk_serdes
 *   stream-table join                  keeps the key serde, drops the
 *                                      value's; reads the table's store
 *   table-table join                   keeps the left key serde, drops the
 *                                      value's; its store: that key serde
 *                                      and the default value serde
 *   table source                       the topic's; its store the same
 *   toTable                            keeps both; its store: the stream's
 *                                      without `store:` (toTable() passes
 *                                      Materialized.with(keySerde,
 *                                      valueSerde)), the defaults with one
 *                                      (Materialized.as(store) has none)
 *   count / reduce / aggregate         store key: the grouped key's (the
 *                                      default when none); store value:
 *                                      long / the grouped value's /
 *                                      the default. Output: that key
 *                                      (windowed after windowedBy), and
 *                                      long / the value's / none
 *   suppress buffer                    the table's, the defaults filled in
 *   repartition topics                 the stream's, the defaults filled in
 */
#include <stdlib.h>
#include <string.h>

#include "topology_int.h"

static int known_or(int serde, ks_serde_t fallback)
{
    return serde == KS_SERDE_UNKNOWN ? (int)fallback : serde;
}

/* The sink that writes a repartition topic: the serdes its source reads with are the sink's input's. */
static const ks_proc_t *repartition_sink(const ks_topology_t *t, const ks_proc_t *src)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *q = t->procs[i];
        if (q->op == KS_OP_SINK && q->is_repartition && q->io.topic && strcmp(q->io.topic, src->io.topic) == 0)
            return q;
    }
    return NULL;
}

static void infer(ks_topology_t *t, ks_proc_t *p, char *done);

/*
 * A foreign-key join's nodes (KTableImpl#doJoinOnForeignKey): the
 * registration topic is keyed by the foreign key in the right table's key
 * serde, the response topic by the left table's key; both carry wrappers
 * (bytes), as does the subscription store. The resolver reads the left
 * table's store and its output has no value serde.
 */
static void fk_serdes(ks_topology_t *t, ks_proc_t *p, char *done, int *k, int *v)
{
    ks_proc_t *left = p->join.left_node, *right = p->join.table_node;
    infer(t, left, done);
    infer(t, right, done);
    *k = left->store_key;
    *v = KS_SERDE_BYTES;
    switch (p->join.fk_role) {
    case KS_FK_REGISTRATION: *k = right->store_key; break;
    case KS_FK_RECEIVE:
    case KS_FK_FOREIGN_JOIN:
        p->store_key = KS_SERDE_BYTES;
        p->store_value = KS_SERDE_BYTES;
        break;
    case KS_FK_JOIN_FOREIGN:
        p->store_key = right->store_key;
        p->store_value = right->store_value;
        break;
    case KS_FK_RESOLVER:
        p->store_key = left->store_key;
        p->store_value = left->store_value;
        *v = KS_SERDE_UNKNOWN;
        break;
    default: break;
    }
}

static void infer(ks_topology_t *t, ks_proc_t *p, char *done)
{
    if (done[p->seq])
        return;
    done[p->seq] = 1;
    ks_proc_t *in = p->nparents ? p->parents[0] : NULL;
    if (p->op == KS_OP_SOURCE && p->is_repartition) {
        const ks_proc_t *sink = repartition_sink(t, p);
        in = sink && sink->nparents ? sink->parents[0] : NULL;
    }
    if (in)
        infer(t, in, done); /* an aggregation is created before the repartition topic it reads */
    int k = in ? in->out_key : KS_SERDE_UNKNOWN, v = in ? in->out_value : KS_SERDE_UNKNOWN;
    int w = in ? in->out_windowed : KS_KEY_PLAIN;
    ks_serde_t dk = t->defaults.key, dv = t->defaults.value;
    p->store_key = dk;
    p->store_value = dv;
    switch (p->op) {
    case KS_OP_TABLE_SOURCE: /* StreamsBuilder#table: Materialized takes Consumed's serdes */
        p->store_key = (ks_serde_t)known_or(k, dk);
        p->store_value = (ks_serde_t)known_or(v, dv);
        break;
    case KS_OP_SOURCE:
        if (!p->is_repartition) {
            const ks_topic_conf_t *tc = ks_topology_topic(t, p->io.topic ? p->io.topic : "");
            k = tc->key;
            v = tc->value;
            w = KS_KEY_PLAIN;
            p->store_key = tc->key;
            p->store_value = tc->value;
        }
        break;
    case KS_OP_JOIN:
    case KS_OP_LEFT_JOIN:
    case KS_OP_OUTER_JOIN:
        if (p->join.kind == KS_JOIN_FOREIGN_KEY) {
            fk_serdes(t, p, done, &k, &v);
            w = KS_KEY_PLAIN;
            break;
        }
        if (p->join.kind == KS_JOIN_STREAM_TABLE && p->join.table_node) {
            /* KStreamImpl#doStreamTableJoin: the stream's key serde, no value serde; the table's store. */
            ks_proc_t *tp = p->join.table_node;
            infer(t, tp, done);
            p->store_key = tp->store_key;
            p->store_value = tp->store_value;
            v = KS_SERDE_UNKNOWN;
            break;
        }
        if (p->join.kind == KS_JOIN_TABLE_TABLE) {
            /*
             * KTableImpl#doJoin: the left table's key serde, no value serde;
             * the result's store (Materialized.as) takes that key serde and the
             * default value serde.
             */
            if (p->join.role == KS_JOIN_ROLE_MERGE && in && in->join.left_node) {
                infer(t, in->join.left_node, done);
                k = in->join.left_node->out_key;
            }
            p->store_key = (ks_serde_t)known_or(k, dk);
            v = KS_SERDE_UNKNOWN;
            break;
        }
        k = v = KS_SERDE_UNKNOWN;
        w = KS_KEY_PLAIN;
        break;
    case KS_OP_MERGE:
    case KS_OP_MAP:
    case KS_OP_FLAT_MAP:
        k = v = KS_SERDE_UNKNOWN;
        w = KS_KEY_PLAIN;
        break;
    case KS_OP_SELECT_KEY:
        k = KS_SERDE_UNKNOWN;
        w = KS_KEY_PLAIN;
        break;
    case KS_OP_GROUP_BY:
        k = KS_SERDE_UNKNOWN;
        w = KS_KEY_PLAIN;
        if (p->table)
            v = KS_SERDE_UNKNOWN;
        break;
    case KS_OP_MAP_VALUES:
    case KS_OP_FLAT_MAP_VALUES: v = KS_SERDE_UNKNOWN; break;
    case KS_OP_TO_TABLE:
        if (p->state.store_optional) {
            p->store_key = (ks_serde_t)known_or(k, dk);
            p->store_value = (ks_serde_t)known_or(v, dv);
        }
        break;
    case KS_OP_COUNT:
    case KS_OP_REDUCE:
    case KS_OP_AGGREGATE: {
        /* The grouped stream's key serde: the translation to Kafka Streams gives Grouped one always. */
        ks_serde_t gk = (ks_serde_t)known_or(k, dk);
        p->store_key = gk;
        p->store_value = p->op == KS_OP_COUNT    ? KS_SERDE_LONG
                         : p->op == KS_OP_REDUCE ? (ks_serde_t)known_or(v, dv)
                                                 : dv;
        k = gk;
        w = p->state.window.kind == KS_WIN_NONE      ? KS_KEY_PLAIN
            : p->state.window.kind == KS_WIN_SESSION ? KS_KEY_SESSION
                                                     : KS_KEY_WINDOWED;
        v = p->op == KS_OP_COUNT ? KS_SERDE_LONG : p->op == KS_OP_REDUCE ? v : KS_SERDE_UNKNOWN;
        break;
    }
    case KS_OP_SUPPRESS:
        p->store_key = (ks_serde_t)known_or(k, dk);
        p->store_value = (ks_serde_t)known_or(v, dv);
        break;
    default: /* filter, peek, split and branches, sinks, toStream: both kept */ break;
    }
    p->out_key = k;
    p->out_value = v;
    p->out_windowed = w;
    /* A grouped table's repartition topic carries Changes: its sink follows the table's groupBy. */
    if (p->op == KS_OP_SINK && p->is_repartition && in && in->op == KS_OP_GROUP_BY && in->table)
        p->changes = 1;
    if (p->op == KS_OP_SOURCE && p->is_repartition) {
        const ks_proc_t *sink = repartition_sink(t, p);
        p->changes = sink && sink->nparents && sink->parents[0]->op == KS_OP_GROUP_BY && sink->parents[0]->table;
    }
}

void ks__topo_infer_serdes(ks_topology_t *t)
{
    char *done = ks_xcalloc((size_t)t->nprocs + 1, 1);
    for (int i = 0; i < t->nprocs; i++)
        infer(t, t->procs[i], done);
    free(done);
    /*
     * A repartition topic is written with the serdes the stream carries into
     * it, the defaults filled in: Kafka Streams' repartition() and toTable()
     * inherit them, groupBy's Grouped has the value serde and no key serde.
     * Its sink and its source read this entry (ks_topology_topic), unless the
     * topic is declared under `topics:`.
     */
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SINK || !p->is_repartition || !p->io.topic || !p->nparents)
            continue;
        int declared = 0;
        for (int j = 0; j < t->ntopics && !declared; j++)
            declared = strcmp(t->topics[j].name, p->io.topic) == 0;
        if (declared)
            continue;
        KS_GROW(t->internal_serdes, t->ninternal_serdes);
        ks_topic_conf_t *c = &t->internal_serdes[t->ninternal_serdes++];
        memset(c, 0, sizeof *c);
        c->name = ks_xstrdup(p->io.topic);
        c->key = (ks_serde_t)known_or(p->parents[0]->out_key, t->defaults.key);
        c->value = (ks_serde_t)known_or(p->parents[0]->out_value, t->defaults.value);
    }
    /* A key-value store's changelog holds its serdes' bytes: reading it back (kstreamd test) uses them. */
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        int kv = p->op == KS_OP_TABLE_SOURCE || p->op == KS_OP_TO_TABLE ||
                 (p->join.kind == KS_JOIN_TABLE_TABLE && p->join.role == KS_JOIN_ROLE_MERGE) ||
                 ((p->op == KS_OP_COUNT || p->op == KS_OP_REDUCE || p->op == KS_OP_AGGREGATE) &&
                  p->state.window.kind == KS_WIN_NONE) ||
                 p->join.fk_role == KS_FK_RECEIVE; /* the subscription store */
        for (int j = 0; kv && p->changelogs && j < p->nstores; j++) {
            if (!p->changelogs[j])
                continue;
            KS_GROW(t->internal_serdes, t->ninternal_serdes);
            ks_topic_conf_t *c = &t->internal_serdes[t->ninternal_serdes++];
            memset(c, 0, sizeof *c);
            c->name = ks_xstrdup(p->changelogs[j]);
            c->key = p->store_key;
            c->value = p->store_value;
        }
    }
}
