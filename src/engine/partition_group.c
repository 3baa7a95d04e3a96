/*
 * partition_group.c: a task's record order by timestamp across its
 * partitions, Kafka Streams' PartitionGroup (see partition_group.h).
 *
 * A pick scans the task's queues: a task has one queue per source topic,
 * a handful, so a scan is cheaper than keeping a heap in order.
 */
#include "partition_group.h"

#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

void ks_pg_init(ks_partition_group_t *g)
{
    memset(g, 0, sizeof *g);
    g->stream_time = KS_PG_UNKNOWN;
}

static int find_queue(const ks_partition_group_t *g, const void *topic, int32_t partition)
{
    if (g->last < g->nqueues && g->queues[g->last].topic == topic && g->queues[g->last].partition == partition)
        return g->last;
    for (int i = 0; i < g->nqueues; i++)
        if (g->queues[i].topic == topic && g->queues[i].partition == partition)
            return i;
    return -1;
}

void ks_pg_add(ks_partition_group_t *g, const void *topic, int32_t partition, void *rec, int64_t ts)
{
    int i = find_queue(g, topic, partition);
    if (i < 0) {
        if (g->nqueues == g->capqueues) {
            g->capqueues = g->capqueues ? 2 * g->capqueues : 4;
            g->queues = ks_xrealloc(g->queues, (size_t)g->capqueues * sizeof *g->queues);
        }
        i = g->nqueues++;
        g->queues[i] = (ks_pg_queue_t){topic, partition, NULL, 0, 0, 0, KS_PG_UNKNOWN};
    }
    ks_pg_queue_t *q = &g->queues[i];
    if (q->head == q->count) /* drained: start again at the front */
        q->head = q->count = 0;
    if (q->count == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 64;
        q->items = ks_xrealloc(q->items, q->cap * sizeof *q->items);
    }
    q->items[q->count++] = (ks_pg_item_t){rec, ts};
    g->buffered++;
    g->last = i;
}

void *ks_pg_next(ks_partition_group_t *g, int64_t *ts)
{
    ks_pg_queue_t *best = NULL;
    for (int i = 0; i < g->nqueues; i++) {
        ks_pg_queue_t *q = &g->queues[i];
        if (q->head < q->count && (!best || q->items[q->head].ts < best->items[best->head].ts))
            best = q;
    }
    if (!best)
        return NULL;
    ks_pg_item_t it = best->items[best->head++];
    g->buffered--;
    if (best->partition_time == KS_PG_UNKNOWN || it.ts > best->partition_time)
        best->partition_time = it.ts;
    if (g->stream_time == KS_PG_UNKNOWN || it.ts > g->stream_time)
        g->stream_time = it.ts;
    if (ts)
        *ts = it.ts;
    return it.rec;
}

int64_t ks_pg_partition_time(const ks_partition_group_t *g, const void *topic, int32_t partition)
{
    int i = find_queue(g, topic, partition);
    return i < 0 ? KS_PG_UNKNOWN : g->queues[i].partition_time;
}

void ks_pg_clear(ks_partition_group_t *g)
{
    for (int i = 0; i < g->nqueues; i++)
        free(g->queues[i].items);
    g->nqueues = 0;
    g->buffered = 0;
    g->last = 0;
    g->stream_time = KS_PG_UNKNOWN;
}

void ks_pg_free(ks_partition_group_t *g)
{
    ks_pg_clear(g);
    free(g->queues);
    ks_pg_init(g);
}
