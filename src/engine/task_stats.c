/*
 * task_stats.c: per-task counts and end-to-end latencies, the engine's half
 * of Kafka Streams' task-level and processor-node-level metrics (the Kafka
 * driver publishes them: src/kafka/metrics.c).
 *
 * A task is found once per input record: the last one is checked first,
 * since a batch's records mostly come from one partition. Its counts are
 * the deltas of the engine's own counters across ks_engine_process, so no
 * operator counts twice.
 */
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "engine_int.h"

/* The nodes whose records' latency Kafka Streams measures: sources, and terminal nodes. */
static void find_latency_procs(ks_engine_t *e)
{
    const ks_topology_t *t = e->t;
    e->lat_procs = ks_xcalloc((size_t)t->nprocs + 1, sizeof *e->lat_procs);
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        if (ks_topology_is_global_source(p))
            continue;
        if (p->op == KS_OP_SOURCE || p->nchildren == 0)
            e->lat_procs[e->nlat_procs++] = p;
    }
}

static ks_task_stats_t *add_task(ks_engine_t *e, int subtopology, int partition)
{
    if (!e->lat_procs)
        find_latency_procs(e);
    if (e->ntasks == e->cap_tasks) {
        e->cap_tasks = e->cap_tasks ? 2 * e->cap_tasks : 8;
        e->tasks = ks_xrealloc(e->tasks, (size_t)e->cap_tasks * sizeof *e->tasks);
    }
    ks_task_stats_t *ts = &e->tasks[e->ntasks++];
    memset(ts, 0, sizeof *ts);
    ts->subtopology = subtopology;
    ts->partition = partition;
    ts->nodes = ks_xcalloc((size_t)e->nlat_procs + 1, sizeof *ts->nodes);
    for (int i = 0; i < e->nlat_procs; i++)
        if (e->lat_procs[i]->subtopology == subtopology)
            ts->nodes[ts->nnodes++].node = e->lat_procs[i]->name;
    return ts;
}

void ks__task_begin(ks_engine_t *e, const ks_record_t *rec, int subtopology)
{
    int i = e->last_task;
    e->task_now_ms = ks__wall_clock(e); /* once per input record: its nodes' latencies share it */
    if (i >= 0 && i < e->ntasks && e->tasks[i].subtopology == subtopology && e->tasks[i].partition == rec->partition) {
        e->cur_task = i;
        return;
    }
    for (i = 0; i < e->ntasks; i++)
        if (e->tasks[i].subtopology == subtopology && e->tasks[i].partition == rec->partition)
            break;
    if (i == e->ntasks)
        add_task(e, subtopology, rec->partition);
    e->cur_task = e->last_task = i;
}

void ks__task_latency(ks_engine_t *e, const ks_proc_t *p, int64_t ts)
{
    ks_task_stats_t *t = NULL;
    int64_t now = e->task_now_ms;
    if (e->cur_task >= 0 && e->cur_task < e->ntasks) {
        t = &e->tasks[e->cur_task];
    } else if (e->cur) {
        now = ks__wall_clock(e);
        /* A record cache flush (at a commit): its entry's record context names the partition of its task. */
        for (int i = 0; i < e->ntasks && !t; i++)
            if (e->tasks[i].subtopology == p->subtopology && e->tasks[i].partition == e->cur->partition)
                t = &e->tasks[i];
    }
    if (!t)
        return; /* a punctuation's output with no record context */
    for (int i = 0; i < t->nnodes; i++) {
        ks_node_latency_t *n = &t->nodes[i];
        if (n->node != p->name)
            continue;
        int64_t lat = now - ts;
        if (n->count == 0 || lat < n->min)
            n->min = lat;
        if (n->count == 0 || lat > n->max)
            n->max = lat;
        n->sum += lat;
        n->count++;
        return;
    }
}

const ks_task_stats_t *ks_engine_tasks(const ks_engine_t *e, int *ntasks)
{
    *ntasks = e->ntasks;
    return e->tasks;
}

void ks_engine_take_latency(ks_engine_t *e)
{
    for (int i = 0; i < e->ntasks; i++)
        for (int j = 0; j < e->tasks[i].nnodes; j++) {
            ks_node_latency_t *n = &e->tasks[i].nodes[j];
            n->min = n->max = n->sum = 0;
            n->count = 0;
        }
}

void ks__tasks_forget(ks_engine_t *e)
{
    for (int i = 0; i < e->ntasks; i++)
        free(e->tasks[i].nodes);
    e->ntasks = 0;
    e->cur_task = e->last_task = -1;
}

void ks__tasks_free(ks_engine_t *e)
{
    ks__tasks_forget(e);
    free(e->tasks);
    free(e->lat_procs);
}
