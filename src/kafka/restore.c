/*
 * restore.c: bringing a task's state stores up to date from their
 * changelog topics before the task processes a record.
 *
 * For each (store, partition) of an assigned task: the checkpoint in LMDB
 * says which changelog offset comes next. Restore reads the changelog
 * partition from there to its end (the high watermark when restore
 * starts) and applies each record: the value with its timestamp put back
 * in front, or a delete for a tombstone. Each batch of records is one LMDB
 * transaction that also moves the checkpoint, so a restore interrupted by
 * a crash resumes where it stopped. A store without a checkpoint but with
 * data (the process died before its first commit), or whose checkpoint is
 * beyond the changelog's end (the topic was recreated), is wiped and
 * restored in full; one log line says so for all the store partitions of
 * an assignment (on the embedded broker, which starts empty, that every
 * store a previous run left was cleared).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/store_codec.h"
#include "../store/store.h"
#include "../util/duration.h"
#include "../util/util.h"
#include "kafka_int.h"

#define RESTORE_BATCH 250000 /* records per LMDB transaction (the store commits earlier when its log is large) */

const char *ks__changelog_store(const ks_topology_t *t, const char *topic, int *proc_index)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        for (int j = 0; j < p->nstores; j++)
            if (p->changelogs && p->changelogs[j] && strcmp(p->changelogs[j], topic) == 0) {
                if (proc_index)
                    *proc_index = i;
                return p->stores[j];
            }
    }
    return NULL;
}

/* The source topic of a table whose store uses it as its changelog, or NULL. */
static const char *source_changelog(const ks_proc_t *p)
{
    if (p->op != KS_OP_TABLE_SOURCE || p->table_source.global || p->nstores == 0 || p->nparents != 1)
        return NULL;
    return p->parents[0]->io.topics[0];
}

const char *ks__source_changelog_store(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->nprocs; i++) {
        const char *src = source_changelog(t->procs[i]);
        if (src && strcmp(src, topic) == 0)
            return t->procs[i]->stores[0];
    }
    return NULL;
}

/* The changelog topic of a processor's store j, or NULL. */
static const char *p_changelog(const ks_proc_t *p, int j)
{
    return p->changelogs ? p->changelogs[j] : NULL;
}

/* Why a store partition's local state was wiped before its restore (restore_one). */
enum { WIPE_NONE, WIPE_NO_CHECKPOINT, WIPE_PAST_END, WIPE_BEFORE_START, WIPE__COUNT };

static const char *const wipe_reasons[WIPE__COUNT] = {NULL, "local state has no checkpoint",
                                                      "the checkpoint is past the changelog's end",
                                                      "the changelog no longer holds the checkpoint"};

/*
 * Where restoring one store partition starts and ends: the changelog's end
 * offset (waiting up to timeout_ms for a leader) in *end, and in *start the
 * checkpoint, or the changelog's start when the local state was wiped
 * because its checkpoint cannot be trusted (*wiped says why). Returns 0,
 * or -1 with a message.
 */
static int restore_range(rd_kafka_t *rk, ks_stores_t *s, const char *store, const char *topic, int32_t part,
                         int64_t limit, const char *who, int timeout_ms, int *wiped, int64_t *start, int64_t *end,
                         char *err, size_t errlen)
{
    *wiped = WIPE_NONE;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e;
    uint64_t until = ks_mono_ms() + (uint64_t)timeout_ms;
    /* A changelog created a moment ago may not have a leader yet. */
    while ((e = rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, 5000)) &&
           (e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
            e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
            e == RD_KAFKA_RESP_ERR__TIMED_OUT) &&
           ks_mono_ms() < until)
        usleep(100 * 1000);
    if (e) {
        snprintf(err, errlen, "restoring %s: cannot read the end of %s[%d]: %s", store, topic, part,
                 rd_kafka_err2str(e));
        return -1;
    }
    if (ks_stores_begin(s, err, errlen))
        return -1;
    int64_t from = ks_store_checkpoint(s, store, part);
    int64_t have = ks_store_count(s, store, part);
    if ((from < 0 && have > 0) || from > hi || (from >= 0 && from < lo)) {
        *wiped = from < 0 ? WIPE_NO_CHECKPOINT : from > hi ? WIPE_PAST_END : WIPE_BEFORE_START;
        ks_log(KS_LOG_DEBUG, "%s: %s[%d]: %s; restoring it in full", who, store, part, wipe_reasons[*wiped]);
        if (ks_store_wipe(s, store, part) || ks_stores_commit(s, err, errlen)) {
            snprintf(err, errlen, "restoring %s: cannot wipe partition %d", store, part);
            return -1;
        }
        from = -1;
    } else {
        ks_stores_abort(s);
    }
    *start = from < 0 ? lo : from;
    *end = hi;
    /* A source-topic changelog is read up to the committed offset (limit): the task processes the rest. */
    if (limit != INT64_MAX && limit < *end)
        *end = limit < lo ? lo : limit;
    return 0;
}

/*
 * Restores one store partition from its changelog. *wiped says whether
 * (and why) the local state was wiped first; the caller logs that, one
 * line for all the partitions of an assignment.
 */
static int restore_one(rd_kafka_t *rk, ks_stores_t *s, ks_store_layout_t layout, const char *store, const char *topic,
                       int32_t part, int64_t limit, const char *who, int timeout_ms, int *wiped,
                       const ks_restore_progress_t *progress, char *err, size_t errlen)
{
    int64_t start, hi;
    if (restore_range(rk, s, store, topic, part, limit, who, timeout_ms, wiped, &start, &hi, err, errlen))
        return -1;
    progress->fn(progress->ud, progress->sub, part, store, start < hi ? hi - start : 0);
    if (start >= hi) {
        ks_log(KS_LOG_DEBUG, "%s: %s[%d] is up to date (checkpoint %lld)", who, store, part, (long long)start);
        return 0;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, topic, part)->offset = start;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (e) {
        snprintf(err, errlen, "restoring %s: cannot assign %s[%d]: %s", store, topic, part, rd_kafka_err2str(e));
        return -1;
    }
    ks_log(KS_LOG_INFO, "%s: restoring %s[%d] from %s offset %lld to %lld (%lld records)", who, store, part, topic,
           (long long)start, (long long)hi, (long long)(hi - start));
    uint64_t t0 = ks_mono_ms(), last_log = t0, idle_since = t0;
    int tty = isatty(STDERR_FILENO), drawn = 0;
    int64_t applied = 0, next = start;
    int in_batch = 0, rc = 0;
    ks_buf_t vb = {0};
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[1024];
    ssize_t nm = 0, im = 0;
    while (next < hi) {
        if (im == nm) {
            nm = rd_kafka_consume_batch_queue(q, 20, msgs, 1024); /* it waits out the timeout for a partial batch */
            im = 0;
            if (nm < 0)
                nm = 0;
        }
        rd_kafka_message_t *m = im < nm ? msgs[im++] : NULL;
        if (!m) {
            /* Transaction markers and compaction leave gaps: the position says where the end is. */
            rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(pos, topic, part);
            if (rd_kafka_position(rk, pos) == 0 && pos->elems[0].offset >= hi)
                next = hi;
            rd_kafka_topic_partition_list_destroy(pos);
            if (next < hi && ks_mono_ms() - idle_since > (uint64_t)timeout_ms) {
                snprintf(err, errlen, "restoring %s: no progress on %s[%d] for %d ms (at offset %lld of %lld)", store,
                         topic, part, timeout_ms, (long long)next, (long long)hi);
                rc = -1;
                break;
            }
            continue;
        }
        if (im == 1) /* once per batch of messages: the clock is slow on some VMs */
            idle_since = ks_mono_ms();
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                snprintf(err, errlen, "restoring %s from %s[%d]: %s", store, topic, part, rd_kafka_message_errstr(m));
                rc = -1;
            } else {
                next = hi;
            }
            rd_kafka_message_destroy(m);
            if (rc)
                break;
            continue;
        }
        if (!in_batch && ks_stores_begin(s, err, errlen)) {
            rd_kafka_message_destroy(m);
            rc = -1;
            break;
        }
        in_batch++;
        if (ks_engine_restore_record(s, layout, store, part, m->key, m->key_len, m->payload, m->len,
                                     rd_kafka_message_timestamp(m, NULL), &vb, err, errlen)) {
            rd_kafka_message_destroy(m);
            rc = -1;
            break;
        }
        applied++;
        next = m->offset + 1;
        rd_kafka_message_destroy(m);
        if (in_batch >= RESTORE_BATCH || next >= hi) {
            if (ks_store_set_checkpoint(s, store, part, next) || ks_stores_commit(s, err, errlen)) {
                rc = -1;
                break;
            }
            in_batch = 0;
            progress->fn(progress->ud, progress->sub, part, store, hi - next);
        }
        uint64_t now = (applied & 4095) == 0 ? ks_mono_ms() : last_log;
        if (tty && now - last_log >= 200) {
            /* On a terminal: one progress line, redrawn in place. */
            fprintf(stderr, "\r%s: restoring %s[%d]: %lld of %lld records (%d%%)  ", who, store, part,
                    (long long)(next - start), (long long)(hi - start), (int)((next - start) * 100 / (hi - start)));
            fflush(stderr);
            last_log = now;
            drawn = 1;
        } else if (!tty && now - last_log >= 2000) {
            ks_log(KS_LOG_INFO, "%s: restoring %s[%d]: %lld of %lld records", who, store, part,
                   (long long)(next - start), (long long)(hi - start));
            last_log = now;
        }
    }
    if (drawn)
        fputs("\n", stderr);
    if (rc == 0 && in_batch) {
        if (ks_store_set_checkpoint(s, store, part, next) || ks_stores_commit(s, err, errlen))
            rc = -1;
    } else if (rc == 0 && next >= hi && applied == 0) {
        /* Nothing but markers: still record that the end was reached. */
        if (ks_stores_begin(s, err, errlen) || ks_store_set_checkpoint(s, store, part, hi) ||
            ks_stores_commit(s, err, errlen))
            rc = -1;
    }
    while (im < nm)
        rd_kafka_message_destroy(msgs[im++]);
    rd_kafka_queue_destroy(q);
    if (rc)
        ks_stores_abort(s);
    else
        ks_stores_sync(s);
    ks_buf_free(&vb);
    rd_kafka_assign(rk, NULL);
    uint64_t ms = ks_mono_ms() - t0;
    if (rc == 0)
        ks_log(KS_LOG_INFO, "%s: restored %s[%d]: %lld records in %llu ms (%.0f records/s)", who, store, part,
               (long long)applied, (unsigned long long)ms, ms ? applied * 1000.0 / (double)ms : (double)applied);
    return rc;
}

int ks__restore_tasks(const ks_topology_t *t, ks_stores_t *s, const ks_runtime_conf_t *conf, const char *bootstrap,
                      const rd_kafka_topic_partition_list_t *assigned, const char *who, ks_restore_progress_fn progress,
                      void *progress_ud, char *err, size_t errlen)
{
    /* The (store, partition) pairs of the assigned tasks. */
    int n = 0;
    struct {
        int proc, store;
        int32_t part;
    } *wanted = NULL;
    for (int a = 0; a < assigned->cnt; a++) {
        int sub = ks_topology_reader(t, assigned->elems[a].topic);
        if (sub < 0)
            continue;
        for (int i = 0; i < t->nprocs; i++) {
            const ks_proc_t *p = t->procs[i];
            if (p->subtopology != sub)
                continue;
            for (int j = 0; j < p->nstores; j++) {
                if ((!p->changelogs || !p->changelogs[j]) && !source_changelog(p))
                    continue;
                /* A store several processors use (a table and the joins reading it) is restored once. */
                int dup = 0;
                for (int k = 0; k < n && !dup; k++)
                    dup = wanted[k].part == assigned->elems[a].partition &&
                          strcmp(t->procs[wanted[k].proc]->stores[wanted[k].store], p->stores[j]) == 0;
                if (dup)
                    continue;
                KS_GROW(wanted, n);
                wanted[n].proc = i;
                wanted[n].store = j;
                wanted[n].part = assigned->elems[a].partition;
                n++;
            }
        }
    }
    if (n == 0) {
        free(wanted);
        return 0;
    }
    rd_kafka_conf_t *c = ks__client_conf(conf, bootstrap, err, errlen);
    if (!c) {
        free(wanted);
        return -1;
    }
    char e[512];
    const char *settings[][2] = {{"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"enable.partition.eof", "true"},
                                 /*
                                  * The application's group: it reads the group's committed
                                  * offsets (where a source-topic changelog's restore ends)
                                  * without joining it, since it never subscribes. Asking the
                                  * stream consumer instead, from its rebalance callback, can
                                  * wait forever: librdkafka holds the request while the group
                                  * has a rejoin pending (a subscribed topic that appeared).
                                  */
                                 {"group.id", t->application},
                                 /*
                                  * librdkafka 2.0.2's fetcher stops when its queue holds
                                  * queued.min.messages (100k) or queued.max.messages.kbytes,
                                  * and looks again only at its next 1 s tick: a restore that
                                  * drains faster than that would idle most of the time. The
                                  * byte bound is the only one here, and large; big fetches
                                  * keep round trips few.
                                  */
                                 {"queued.min.messages", "10000000"},
                                 {"queued.max.messages.kbytes", "131072"},
                                 {"max.partition.fetch.bytes", "8388608"},
                                 {"fetch.max.bytes", "33554432"},
                                 {"fetch.wait.max.ms", "10"}};
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (rd_kafka_conf_set(c, settings[i][0], settings[i][1], e, sizeof e)) {
            snprintf(err, errlen, "restore consumer configuration %s: %s", settings[i][0], e);
            rd_kafka_conf_destroy(c);
            free(wanted);
            return -1;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, e, sizeof e);
    if (!rk) {
        snprintf(err, errlen, "cannot create the restore consumer: %s", e);
        rd_kafka_conf_destroy(c);
        free(wanted);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    /* The group's committed offsets of source-topic changelogs: where their restores end. */
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_new(4);
    for (int k = 0; k < n; k++) {
        const char *src = source_changelog(t->procs[wanted[k].proc]);
        if (src && (!p_changelog(t->procs[wanted[k].proc], wanted[k].store)))
            rd_kafka_topic_partition_list_add(committed, src, wanted[k].part);
    }
    int rc = 0, nwiped[WIPE__COUNT] = {0};
    if (committed->cnt) {
        rd_kafka_resp_err_t ce = rd_kafka_committed(rk, committed, conf->startup_timeout_ms);
        if (ce) {
            snprintf(err, errlen, "restoring tables from their source topics: cannot read the committed offsets: %s",
                     rd_kafka_err2str(ce));
            rc = -1;
        }
    }
    int *why = ks_xcalloc((size_t)n, sizeof *why);
    for (int k = 0; k < n && rc == 0; k++) {
        const ks_proc_t *p = t->procs[wanted[k].proc];
        const char *topic = p_changelog(p, wanted[k].store);
        int64_t limit = INT64_MAX;
        if (!topic) {
            /* The source topic, up to the committed offset (none committed: nothing yet, the task reads it all). */
            topic = source_changelog(p);
            rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(committed, topic, wanted[k].part);
            limit = c && c->offset >= 0 ? c->offset : 0;
        }
        ks_restore_progress_t pr = {progress, progress_ud, p->subtopology};
        rc = restore_one(rk, s, ks_store_layout_of(p), p->stores[wanted[k].store], topic, wanted[k].part, limit, who,
                         conf->startup_timeout_ms, &why[k], &pr, err, errlen);
        if (rc == 0)
            progress(progress_ud, p->subtopology, wanted[k].part, p->stores[wanted[k].store], 0);
        if (why[k] != WIPE_NONE && strcmp(conf->bootstrap, "embedded") == 0)
            why[k] = WIPE_PAST_END; /* the embedded broker starts empty: all local state is a previous run's */
        nwiped[why[k]]++;
    }
    /* The wiped partitions by reason, grouped by store: "counts[0,1,2], sums[0,1,2]". */
    ks_buf_t wiped_names[WIPE__COUNT] = {{0}};
    for (int k = 0; k < n; k++) {
        if (why[k] == WIPE_NONE)
            continue;
        int w = why[k];
        ks_buf_t *b = &wiped_names[w];
        ks_buf_printf(b, "%s%s[%d", b->len ? ", " : "", t->procs[wanted[k].proc]->stores[wanted[k].store],
                      wanted[k].part);
        for (int j = k + 1; j < n; j++)
            if (why[j] == w && wanted[j].proc == wanted[k].proc && wanted[j].store == wanted[k].store) {
                ks_buf_printf(b, ",%d", wanted[j].part);
                why[j] = WIPE_NONE; /* listed */
            }
        ks_buf_puts(b, "]");
    }
    free(why);
    /*
     * One line per reason, not one per store partition. The embedded broker
     * starts empty, so every store a previous run left is ahead of its
     * changelog: that is said as what it is.
     */
    int embedded = strcmp(conf->bootstrap, "embedded") == 0;
    for (int why = WIPE_NO_CHECKPOINT; why < WIPE__COUNT; why++) {
        if (!nwiped[why])
            continue;
        if (embedded && why == WIPE_PAST_END)
            ks_log(KS_LOG_INFO,
                   "%s: the embedded broker starts empty: cleared the state a previous run left in %d "
                   "store partitions (%.*s)",
                   who, nwiped[why], (int)wiped_names[why].len, wiped_names[why].data);
        else
            ks_log(KS_LOG_INFO, "%s: %s in %d store partitions (%.*s): wiped them and restored them in full", who,
                   wipe_reasons[why], nwiped[why], (int)wiped_names[why].len, wiped_names[why].data);
        ks_buf_free(&wiped_names[why]);
    }
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_destroy(rk);
    free(wanted);
    return rc;
}
