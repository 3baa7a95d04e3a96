/*
 * partition_group.h: the order in which a task takes its input records,
 * Kafka Streams' PartitionGroup. A task reads several topic-partitions (one
 * per source topic); each has a queue of records in arrival (offset) order,
 * and the task always takes the head of the queue whose head has the
 * lowest timestamp. A partition's own order is never changed, so a record
 * with an earlier timestamp behind a later one waits for it. Stream time is
 * the largest timestamp the group has handed out, and never goes back.
 *
 * Ties: Kafka Streams keeps the non-empty queues in a PriorityQueue ordered
 * by head timestamp alone, which leaves equal heads to the heap; here the
 * queue that joined the group first wins, so the order is deterministic.
 *
 * Driver-neutral: a record is an opaque pointer with its timestamp, a topic
 * an opaque identity compared by pointer (the Kafka driver passes its
 * rd_kafka_topic_t and message). The group borrows the records; it never
 * frees them. One group serves one thread.
 */
#ifndef KS_PARTITION_GROUP_H
#define KS_PARTITION_GROUP_H

#include <stddef.h>
#include <stdint.h>

#define KS_PG_UNKNOWN INT64_MIN /* no record handed out yet (Kafka Streams' RecordQueue.UNKNOWN) */

typedef struct ks_pg_item {
    void *rec;  /* borrowed */
    int64_t ts; /* the record's timestamp, as the order uses it */
} ks_pg_item_t;

/* One topic-partition's buffered records, oldest offset at head. */
typedef struct ks_pg_queue {
    const void *topic; /* identity of the topic, compared by pointer */
    int32_t partition;
    ks_pg_item_t *items; /* items[head..count) are buffered */
    size_t head, count, cap;
    int64_t partition_time; /* largest timestamp handed out from this queue (KS_PG_UNKNOWN: none) */
} ks_pg_queue_t;

typedef struct ks_partition_group {
    ks_pg_queue_t *queues; /* in the order they joined the group */
    int nqueues, capqueues;
    size_t buffered;     /* records in all queues */
    int64_t stream_time; /* largest timestamp handed out (KS_PG_UNKNOWN: none) */
    int last;            /* the queue the last record was added to (a lookup cache) */
} ks_partition_group_t;

/* An empty group. A zeroed struct is not one: stream time starts at KS_PG_UNKNOWN. */
void ks_pg_init(ks_partition_group_t *g);

/*
 * Appends a record to the tail of its topic-partition's queue (made when
 * the partition is first seen: it joins the group after those before it).
 * The record is borrowed until ks_pg_next hands it back or the group is
 * cleared.
 */
void ks_pg_add(ks_partition_group_t *g, const void *topic, int32_t partition, void *rec, int64_t ts);

/*
 * Takes the head of the queue with the lowest head timestamp (ties: the
 * queue that joined first) and advances stream time and that partition's
 * time to it if it is later. Returns the record, with its timestamp in *ts
 * if ts is not NULL, or NULL when nothing is buffered.
 */
void *ks_pg_next(ks_partition_group_t *g, int64_t *ts);

/* Records buffered in the group. */
static inline size_t ks_pg_buffered(const ks_partition_group_t *g)
{
    return g->buffered;
}

/* Stream time: the largest timestamp handed out so far, KS_PG_UNKNOWN before the first. */
static inline int64_t ks_pg_stream_time(const ks_partition_group_t *g)
{
    return g->stream_time;
}

/* A partition's time (the largest timestamp handed out from it), KS_PG_UNKNOWN if none or not in the group. */
int64_t ks_pg_partition_time(const ks_partition_group_t *g, const void *topic, int32_t partition);

/* Drops every buffered record (they are not freed) and forgets the partitions; stream time starts again. */
void ks_pg_clear(ks_partition_group_t *g);

/* Frees the group's memory (not the records). */
void ks_pg_free(ks_partition_group_t *g);

#endif
