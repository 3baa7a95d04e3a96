/*
 * commit.c: at-least-once commits. Every commit.interval.ms, and before
 * partitions are revoked or the thread closes: flush the record caches and
 * the producer, write the delivered changelog offsets as the stores'
 * checkpoints in the stores' transaction, then commit the offsets of the
 * processed records. Part of the stream thread (driver_int.h); loop thread.
 */
#include <malloc.h>

#include "driver_int.h"

#define TRIM_SLACK ((size_t)4 << 20) /* free heap bytes kept between busy commits */

/* After a flush: the delivered changelog offsets are the stores' checkpoints, in the stores' transaction. */
int ks__commit_stores(stream_thread_t *st)
{
    char err[KS_ERRMSG_SIZE] = "";
    if (!st->stores)
        return 0;
    if (st->cl_done->cnt) {
        if (ks_stores_begin(st->stores, err, sizeof err)) {
            ks__thread_fail(st, "%s", err);
            return -1;
        }
        for (int i = 0; i < st->cl_done->cnt; i++) {
            const rd_kafka_topic_partition_t *tp = &st->cl_done->elems[i];
            const char *store = ks__changelog_store(st->t, tp->topic, NULL);
            if (store)
                ks_store_set_checkpoint(st->stores, store, tp->partition, tp->offset + 1);
        }
        rd_kafka_topic_partition_list_destroy(st->cl_done);
        st->cl_done = rd_kafka_topic_partition_list_new(8);
    }
    /* A table whose changelog is its source topic: the offset about to be committed is its checkpoint. */
    for (int i = 0; st->processed && i < st->processed->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &st->processed->elems[i];
        const char *store = ks__source_changelog_store(st->t, tp->topic);
        if (!store)
            continue;
        if (ks_stores_begin(st->stores, err, sizeof err)) {
            ks__thread_fail(st, "%s", err);
            return -1;
        }
        ks_store_set_checkpoint(st->stores, store, tp->partition, tp->offset);
    }
    if (ks_engine_commit_stores(st->engine, err, sizeof err) || ks_stores_sync(st->stores)) {
        ks__thread_fail(st, "%s", *err ? err : "syncing the state stores failed");
        return -1;
    }
    /*
     * The record cache and the batch log churn through many small blocks;
     * glibc keeps freed ones. Giving them back once more than TRIM_SLACK
     * is free, and all of it when the service goes idle, keeps RSS near
     * what is live; trimming at every busy commit costs page faults when
     * the next interval allocates again (~6% of CPU).
     */
    int idle = !st->processed || st->processed->cnt == 0;
    if ((idle && !st->trimmed_idle) || mallinfo2().fordblks > TRIM_SLACK)
        malloc_trim(0);
    st->trimmed_idle = idle;
    return 0;
}

/* ---- committing ---- */

/* Flush, then commit the offsets of processed records. Returns 0 or -1. */
static int commit_cycle(stream_thread_t *st)
{
    char ferr[KS_ERRMSG_SIZE];
    if (st->stores && !st->failed && ks_engine_flush(st->engine, ferr, sizeof ferr)) {
        ks__thread_fail(st, "%s", ferr); /* the record cache's updates could not be written */
        return -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(st->producer, FLUSH_TIMEOUT_MS);
    if (e) {
        ks__thread_fail(st, "flushing the producer: %s", rd_kafka_err2str(e));
        return -1;
    }
    if (st->failed)
        return -1; /* a delivery failed: committing past it would lose records */
    if (ks__commit_stores(st))
        return -1;
    if (!st->consumer || st->processed->cnt == 0)
        return 0;
    e = rd_kafka_commit(st->consumer, st->processed, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        ks_log(KS_LOG_WARN, "%s: commit failed: %s (will retry at the next interval)", st->name, rd_kafka_err2str(e));
        return -1;
    }
    ks_log(KS_LOG_DEBUG, "%s: committed %d partitions", st->name, st->processed->cnt);
    ks__note_committed(st, st->processed);
    rd_kafka_topic_partition_list_destroy(st->processed);
    st->processed = rd_kafka_topic_partition_list_new(8);
    return 0;
}

int ks__commit_cycle(stream_thread_t *st)
{
    if (!st->producer)
        return 0;
    uint64_t t0 = ks_mono_us();
    int rc = commit_cycle(st);
    if (rc == 0) {
        ks__metrics_note_commit(st, (double)(ks_mono_us() - t0) / 1000.0);
        ks__metrics_publish(st);
    }
    return rc;
}

void ks__on_commit_timer(uv_timer_t *h)
{
    ks__commit_cycle(h->data);
    ks__unhold(h->data); /* the flush served the deliveries */
    ks__purge_repartition(h->data);
}
