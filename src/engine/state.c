/*
 * state.c: the state of an engine (stores, record cache, stream times) and
 * the operators that use it, which live in ops_aggregate.c, ops_window.c,
 * ops_state.c and ops_join.c (see state_int.h).
 *
 *   toTable, table sources     materialise (key -> value), forward (new, old)
 *   toStream                   a table's changes as a stream
 *   filter/mapValues (tables)  on both the new and the old value
 *   groupBy                    streams: a new key; tables: a subtract record
 *                              for the old value and an add record for the
 *                              new one, through the repartition topic
 *   count/reduce/aggregate     streams, tables (adder/subtractor), and
 *                              tumbling, hopping and session windows
 *   suppress                   untilWindowCloses, untilTimeLimit/maxRecords
 *   join, leftJoin (table:)    a stream record with its key's row of a table
 *
 * Semantics are Kafka Streams': records with a null key (and, for stream
 * aggregations, a null value) are dropped; an aggregate's timestamp is the
 * largest of its inputs'; a window accepts a record while its end is after
 * stream time minus grace, later records are dropped and counted as late;
 * stream time is kept per processor and partition, as each Kafka Streams
 * processor observes it.
 *
 * The layout of store keys, values and changelog records is in
 * store_codec.h, and their encoders in store_codec.c.
 *
 * The record cache (cache.c) sits in front of the key-value and
 * time-window stores. Session and sliding-window stores, which are read by
 * range, are written through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/util.h"
#include "state_int.h"

int ks_topology_has_state(const ks_topology_t *t)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i]->nstores > 0)
            return 1;
    return 0;
}

int ks__state_check(const ks_topology_t *t, char *err, size_t errlen)
{
    for (int i = 0; i < t->nprocs; i++) {
        const ks_proc_t *p = t->procs[i];
        const char *why = NULL;
        /* Every join kind runs: ops_join.c, ops_join_stream.c (stream-stream), ops_join_fk.c (foreign-key). */
        if ((p->op == KS_OP_JOIN || p->op == KS_OP_LEFT_JOIN || p->op == KS_OP_OUTER_JOIN) &&
            p->join.kind != KS_JOIN_STREAM_TABLE && p->join.kind != KS_JOIN_STREAM_GLOBAL &&
            p->join.kind != KS_JOIN_TABLE_TABLE && p->join.kind != KS_JOIN_STREAM_STREAM &&
            p->join.kind != KS_JOIN_FOREIGN_KEY)
            why = "joins are not run by this version of kstreamd";
        if (why) {
            snprintf(err, errlen, "%s:%d:%d: `%s`: %s", t->file, p->pos.line, p->pos.col, ks_op_dsl_name(p->op), why);
            return -1;
        }
    }
    return 0;
}

/* ---- failures of the state layer: they stop the service ---- */

int ks__st_state_fatal(ks_engine_t *e, const char *msg)
{
    if (!e->failed) {
        snprintf(e->fatal, sizeof e->fatal, "state store: %s", msg);
        e->failed = 1;
    }
    return -1;
}

struct ks_state *ks__st_state(ks_engine_t *e)
{
    if (!e->st) {
        ks__st_state_fatal(e, "no state directory is attached to this engine");
        return NULL;
    }
    return e->st;
}

int ks__st_begin(ks_engine_t *e)
{
    char err[512];
    if (ks_stores_begin(e->st->stores, err, sizeof err))
        return ks__st_state_fatal(e, err);
    return 0;
}

pstate_t *ks__st_pstate(ks_engine_t *e, const ks_proc_t *p, int32_t part)
{
    struct ks_state *st = e->st;
    if (p->seq >= st->nprocs) {
        st->ps = ks_xrealloc(st->ps, (size_t)(p->seq + 1) * sizeof *st->ps);
        st->nps = ks_xrealloc(st->nps, (size_t)(p->seq + 1) * sizeof *st->nps);
        for (int i = st->nprocs; i <= p->seq; i++) {
            st->ps[i] = NULL;
            st->nps[i] = 0;
        }
        st->nprocs = p->seq + 1;
    }
    if (part >= st->nps[p->seq]) {
        st->ps[p->seq] = ks_xrealloc(st->ps[p->seq], (size_t)(part + 1) * sizeof(pstate_t));
        memset(st->ps[p->seq] + st->nps[p->seq], 0, (size_t)(part + 1 - st->nps[p->seq]) * sizeof(pstate_t));
        st->nps[p->seq] = part + 1;
    }
    return &st->ps[p->seq][part];
}

/* Stream time as this processor observes it on this partition. */
int64_t ks__st_observe(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t ts)
{
    pstate_t *ps = ks__st_pstate(e, p, part);
    if (!ps->has_time || ts > ps->time) {
        ps->time = ts;
        ps->has_time = 1;
    }
    return ps->time;
}

/* ---- forwarding a change downstream ---- */

void ks__st_forward_change(ks_engine_t *e, const ks_proc_t *p, ks_val key, ks_val newv, ks_val oldv, int64_t ts)
{
    flight_t c = {0};
    c.key = key;
    c.value = newv.kind == KS_INVALID ? ks_null() : newv;
    c.old = oldv.kind == KS_INVALID ? ks_null() : oldv;
    c.key_changed = c.value_changed = 1;
    c.key_serde = c.value_serde = KS_SERDE_JSON;
    c.ts = ts;
    c.node = p->name;
    c.window = ks_invalid();
    ks__forward(e, &c, p);
}

void ks__st_changelog(ks_engine_t *e, const ks_proc_t *p, int32_t part, const void *k, size_t kl, const void *v,
                      size_t vl, int64_t ts)
{
    if (!p->changelogs || !p->changelogs[0])
        return;
    ks_record_t out = {0};
    out.topic = p->changelogs[0];
    out.partition = part;
    out.offset = -1;
    out.timestamp = ts;
    out.key = k;
    out.key_len = kl;
    ks__st_log_value(v, vl, &out.value, &out.value_len);
    e->ops.emit(e->ud, &out);
}

/*
 * Writes through to the store and the changelog, then forwards (key, new,
 * old) unless forward is 0. newb is the timestamp-prefixed value, NULL to
 * delete.
 */
int ks__st_write_through(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey,
                         const char *newb, size_t newl, int forward, int64_t del_ts, const known_t *known, ks_val given)
{
    struct ks_state *st = e->st;
    if (ks__st_begin(e))
        return -1;
    const void *ob = NULL;
    size_t ol = 0;
    ks_val oldv = ks_invalid(), newv = ks_invalid();
    int found = 0;
    if (known && known->valid) {
        found = known->b != NULL;
        ob = known->b;
        ol = known->l;
    } else if (forward) {
        found = ks_store_get(st->stores, p->stores[0], part, k, kl, &ob, &ol);
        if (found < 0)
            return ks__st_state_fatal(e, "reading a store failed");
    }
    /*
     * A cache flush deleting a key that neither the cache nor the store held
     * writes, logs and forwards nothing (Kafka Streams' CachingKeyValueStore);
     * without the cache the delete is logged and forwarded all the same.
     */
    if (forward == KS_WT_FORWARD_HELD && !found && !newb)
        return 0;
    if (forward && found && ks__st_dec_value(e, p, ob, ol, &oldv, NULL))
        return -1;
    if (forward == 1 && !found && st->init_old.kind != KS_INVALID)
        oldv = ks_val_retain(st->init_old);
    int64_t ts = newb ? ks__st_value_ts(newb) : del_ts;
    if (given.kind != KS_INVALID)
        newv = ks_val_retain(given); /* the value the bytes were made from */
    else if (newb && forward && ks__st_dec_value(e, p, newb, newl, &newv, NULL)) {
        ks_val_release(oldv);
        return -1;
    }
    if (ks_store_put(st->stores, p->stores[0], part, k, kl, newb, newl)) {
        ks_val_release(oldv);
        ks_val_release(newv);
        return ks__st_state_fatal(e, "writing a store failed");
    }
    e->stats.store_writes++;
    /* Session stores log with the record's own timestamp (ChangeLoggingSessionBytesStore: context.timestamp()). */
    int session = p->state.window.kind == KS_WIN_SESSION && e->cur;
    ks__st_changelog(e, p, part, k, kl, newb, newl, session ? e->cur->timestamp : ts);
    if (forward)
        ks__st_forward_change(e, p, fkey, newv, oldv, ts);
    ks_val_release(oldv);
    ks_val_release(newv);
    return 0;
}

/* ---- the engine's state API ---- */

void ks_engine_attach_stores(ks_engine_t *e, ks_stores_t *stores, size_t cache_max_bytes)
{
    if (!e->st) {
        e->st = ks_xcalloc(1, sizeof *e->st);
        e->st->init_old = ks_invalid();
    }
    e->st->stores = stores;
    e->st->cache_max = cache_max_bytes;
}

int ks_engine_flush(ks_engine_t *e, char *err, size_t errlen)
{
    if (!e->st)
        return 0;
    e->failed = 0;
    ks__st_flush_dirty(e, NULL);
    ks__st_cache_evict(e);
    if (!e->failed)
        ks__st_sup_log(e);
    if (e->failed) {
        snprintf(err, errlen, "%s", e->fatal);
        return -1;
    }
    return 0;
}

int ks_engine_commit_stores(ks_engine_t *e, char *err, size_t errlen)
{
    if (!e->st || !e->st->stores)
        return 0;
    if (ks_engine_release_global(e, err, errlen))
        return -1;
    return ks_stores_commit(e->st->stores, err, errlen);
}

int ks_engine_release_global(ks_engine_t *e, char *err, size_t errlen)
{
    if (!e->st || !e->st->global_open)
        return 0;
    /* The global tables' snapshot ends with the batch: the next one sees the global thread's updates. */
    e->st->global_open = 0;
    return ks_stores_commit(e->st->global, err, errlen);
}

void ks_engine_attach_global(ks_engine_t *e, ks_stores_t *global)
{
    if (!e->st) {
        e->st = ks_xcalloc(1, sizeof *e->st);
        e->st->init_old = ks_invalid();
    }
    e->st->global = global;
}

int ks__st_global_get(ks_engine_t *e, const ks_proc_t *p, const char *k, size_t kl, ks_val *v, int64_t *ts)
{
    struct ks_state *st = e->st;
    if (!st->global)
        return ks__st_kv_get(e, p, KS_GLOBAL_PARTITION, k, kl, v, ts);
    char err[KS_ERRMSG_SIZE];
    if (!st->global_open) {
        if (ks_stores_begin(st->global, err, sizeof err))
            return ks__st_state_fatal(e, err);
        st->global_open = 1;
    }
    const void *b = NULL;
    size_t bl = 0;
    int found = ks_store_get(st->global, p->stores[0], KS_GLOBAL_PARTITION, k, kl, &b, &bl);
    if (found < 0)
        return ks__st_state_fatal(e, "reading a global table failed");
    if (!found)
        return 0;
    return ks__st_dec_value(e, p, b, bl, v, ts) ? -1 : 1;
}

void ks_engine_forget_tasks(ks_engine_t *e)
{
    ks__tasks_forget(e);
    struct ks_state *st = e->st;
    if (!st)
        return;
    /* Whatever is still dirty was not committed: it must not reach the store later. */
    ks__st_cache_clear(st);
    for (int i = 0; i < st->nprocs; i++)
        for (int j = 0; j < st->nps[i]; j++) {
            ks__st_sup_clear(&st->ps[i][j]);
            memset(&st->ps[i][j], 0, sizeof st->ps[i][j]);
        }
}

void ks__state_free(ks_engine_t *e)
{
    struct ks_state *st = e->st;
    if (!st)
        return;
    ks__st_cache_clear(st);
    free(st->last.k);
    free(st->last.v);
    free(st->tab);
    for (int i = 0; i < st->ndl; i++)
        free(st->dl[i].v);
    free(st->dl);
    for (int i = 0; i < st->ntopics; i++)
        free(st->topics[i]);
    free(st->topics);
    for (int i = 0; i < st->nprocs; i++) {
        for (int j = 0; j < st->nps[i]; j++)
            ks__st_sup_clear(&st->ps[i][j]);
        free(st->ps[i]);
    }
    free(st->ps);
    free(st->nps);
    free(st);
    e->st = NULL;
}
