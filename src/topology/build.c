/*
 * build.c: groups processors into sub-topologies, as Kafka Streams'
 * InternalTopologyBuilder does: processors connected by an edge or sharing
 * a store are in one group; a repartition topic separates groups. Groups
 * are numbered in the order their first processor was created. It also
 * gives stores their changelog topics, and marks the repartition filters
 * that let null keys through to a left join below them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topology_int.h"

/* Whether a store is a table source's (a `tables:` entry, global or not). */
static int table_source_store(const ks_topology_t *t, const char *store)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op == KS_OP_TABLE_SOURCE && p->nstores && strcmp(p->stores[0], store) == 0)
            return 1;
    }
    return 0;
}

static int find(int *parent, int i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void unite(int *parent, int a, int b)
{
    a = find(parent, a);
    b = find(parent, b);
    if (a != b)
        parent[a < b ? b : a] = a < b ? a : b; /* the root is the earliest-created node */
}

/* Kafka Streams' NULL_KEY_RELAXED_JOIN nodes: the joins that keep a stream record with a null key (KIP-962). */
static int relaxed_join(const ks_proc_t *p)
{
    switch (p->join.kind) {
    case KS_JOIN_STREAM_TABLE:
    case KS_JOIN_STREAM_GLOBAL: return p->op == KS_OP_LEFT_JOIN;
    case KS_JOIN_STREAM_STREAM: return p->op == KS_OP_LEFT_JOIN || p->op == KS_OP_OUTER_JOIN;
    default: return 0;
    }
}

/*
 * Whether a relaxed join is downstream of p, through repartition topics
 * too (a repartition sink leads to the source of its topic), as Kafka
 * Streams' NodesWithRelaxedNullKeyJoinDownstream walks its graph. seen
 * marks the nodes already walked.
 */
static int reaches_relaxed_join(const ks_topology_t *t, const ks_proc_t *p, char *seen)
{
    if (seen[p->seq])
        return 0;
    seen[p->seq] = 1;
    if (relaxed_join(p))
        return 1;
    for (int i = 0; i < p->nchildren; i++)
        if (reaches_relaxed_join(t, p->children[i], seen))
            return 1;
    if (p->op != KS_OP_SINK || !p->is_repartition || !p->io.topic)
        return 0;
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *q = t->procs[i];
        if (q->op == KS_OP_SOURCE && q->is_repartition && q->io.topic && strcmp(q->io.topic, p->io.topic) == 0 &&
            reaches_relaxed_join(t, q, seen))
            return 1;
    }
    return 0;
}

/*
 * A repartition topic's filter drops records with a null key unless a
 * left or outer join below keeps them: Kafka Streams' repartition nodes
 * filter nothing, and rewriteRepartitionNodes makes the filter drop null
 * keys in every repartition node that has no such join downstream.
 */
static void mark_null_key_filters(ks_topology_t *t)
{
    char *seen = ks_xcalloc((size_t)t->nprocs + 1, 1);
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_FILTER || !p->is_repartition)
            continue;
        memset(seen, 0, (size_t)t->nprocs + 1);
        p->null_keys_pass = reaches_relaxed_join(t, p, seen);
    }
    free(seen);
}

/*
 * Whether a node below a table asks it for old values, as Kafka Streams'
 * processors call enableSendingOldValues when the topology is built: a
 * table's groupBy, filter or suppress, and a table-table join; a
 * mapValues asks when a node below it does.
 */
static int old_values_asked(const ks_proc_t *p)
{
    for (int i = 0; i < p->nchildren; i++) {
        const ks_proc_t *c = p->children[i];
        switch (c->op) {
        case KS_OP_GROUP_BY:
        case KS_OP_FILTER:
        case KS_OP_FILTER_NOT:
        case KS_OP_SUPPRESS:
            if (c->table)
                return 1;
            break;
        case KS_OP_MAP_VALUES:
            if (c->table && old_values_asked(c))
                return 1;
            break;
        case KS_OP_JOIN:
        case KS_OP_LEFT_JOIN:
        case KS_OP_OUTER_JOIN:
            if (c->join.kind == KS_JOIN_TABLE_TABLE)
                return 1;
            break;
        default: break;
        }
    }
    return 0;
}

/* A table-table join's three nodes compute old values when a node below its merge asks for them. */
static void mark_join_old_values(ks_topology_t *t)
{
    for (int i = 0; i < t->nprocs; i++) {
        ks_proc_t *m = t->procs[i];
        if (m->join.kind != KS_JOIN_TABLE_TABLE || m->join.role != KS_JOIN_ROLE_MERGE)
            continue;
        int ask = old_values_asked(m);
        m->join.send_old = ask;
        for (int j = 0; j < m->nparents; j++)
            m->parents[j]->join.send_old = ask;
    }
}

void ks__topo_build(load_t *L)
{
    ks_topology_t *t = L->t;
    int n = t->nprocs;
    int *parent = malloc((size_t)(n ? n : 1) * sizeof *parent);
    for (int i = 0; i < n; i++)
        parent[i] = i;
    for (int i = 0; i < n; i++) {
        ks_proc_t *p = t->procs[i];
        for (int j = 0; j < p->nchildren; j++)
            unite(parent, i, p->children[j]->seq);
        for (int j = i + 1; j < n; j++) {
            ks_proc_t *q = t->procs[j];
            for (int a = 0; a < p->nstores; a++)
                for (int b = 0; b < q->nstores; b++)
                    if (strcmp(p->stores[a], q->stores[b]) == 0)
                        unite(parent, i, j);
        }
    }
    /*
     * Kafka Streams 4 numbers groups in topological order, the order its
     * nodes were added (InternalTopologyBuilder#makeNodeGroups), which is
     * the order the processors were created here.
     */
    int *id = malloc((size_t)(n ? n : 1) * sizeof *id);
    for (int i = 0; i < n; i++)
        id[i] = -1;
    int next = 0;
    for (int i = 0; i < n; i++) {
        int r = find(parent, i);
        if (id[r] < 0)
            id[r] = next++;
    }
    for (int i = 0; i < n; i++)
        t->procs[i]->subtopology = id[find(parent, i)];
    t->nsubtopologies = next;
    /* Every store but a table source's has a changelog topic `<application>-<store>-changelog`. */
    for (int i = 0; i < n; i++) {
        ks_proc_t *p = t->procs[i];
        /*
         * A global table has no changelog, and a `tables:` table uses its
         * source topic as one (Kafka Streams' reuse.ktable.source.topics):
         * src/kafka/restore.c restores it from there.
         */
        if (p->op == KS_OP_TABLE_SOURCE)
            continue;
        if (p->nstores && !p->changelogs)
            p->changelogs = calloc((size_t)p->nstores, sizeof(char *));
        for (int j = 0; j < p->nstores; j++) {
            char name[700];
            snprintf(name, sizeof name, "%s-%s-changelog", t->application, p->stores[j]);
            if (p->state.no_changelog || table_source_store(t, p->stores[j]))
                continue; /* a join reading a table's store writes no changelog for it either */
            p->changelogs[j] = strdup(name);
            int seen = 0;
            for (int k = 0; k < t->ninternal && !seen; k++)
                seen = strcmp(t->internal_topics[k], name) == 0;
            if (!seen) {
                KS_GROW(t->internal_topics, t->ninternal);
                t->internal_topics[t->ninternal++] = strdup(name);
            }
        }
    }
    free(parent);
    free(id);
    mark_null_key_filters(t);
    mark_join_old_values(t);
    ks__topo_infer_serdes(t);
}

int ks_topology_is_internal(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->is_repartition && t->procs[i]->io.topic && strcmp(t->procs[i]->io.topic, topic) == 0)
            return 1;
    for (int i = 0; i < t->ninternal; i++)
        if (strcmp(t->internal_topics[i], topic) == 0)
            return 1;
    return 0;
}

int ks_topology_reader(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (p->op != KS_OP_SOURCE)
            continue;
        for (int j = 0; j < p->io.ntopics; j++)
            if (strcmp(p->io.topics[j], topic) == 0)
                return p->subtopology;
    }
    return -1;
}

int ks_topology_has_global(const ks_topology_t *t)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->op == KS_OP_TABLE_SOURCE && t->procs[i]->table_source.global)
            return 1;
    return 0;
}

int ks_topology_is_global_source(const ks_proc_t *p)
{
    return p->op == KS_OP_SOURCE && p->nchildren == 1 && p->children[0]->op == KS_OP_TABLE_SOURCE &&
           p->children[0]->table_source.global;
}

int ks_topology_reads(const ks_topology_t *t, const char *topic)
{
    return ks_topology_reader(t, topic) >= 0;
}
