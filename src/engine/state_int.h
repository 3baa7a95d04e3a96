/*
 * state_int.h: shared by the engine's state files:
 *
 *   state.c          the state of an engine: stores, stream times,
 *                    encodings, writing through to the store and
 *                    changelog, and the engine's state API
 *   cache.c          the record cache, and key-value reads and writes
 *                    through it
 *   ops_aggregate.c  count, reduce and aggregate on streams and tables
 *   ops_window.c     tumbling, hopping, sliding and session windows, and
 *                    window retention
 *   ops_state.c      tables, groupBy, suppress, and the dispatch
 *   ops_join.c       stream-table, stream-global-table and table-table joins
 *   ops_join_stream.c  stream-stream joins
 *   ops_join_fk.c    foreign-key table-table joins
 *
 *   store_codec.c    the layout of store keys, values and changelog
 *                    records (store_codec.h says what it is)
 */
#ifndef KS_STATE_INT_H
#define KS_STATE_INT_H

#include "../store/store.h"
#include "engine_int.h"

typedef struct centry centry_t; /* a record-cache entry (cache.c) */

/*
 * The suppression buffer's index in memory: which keys are buffered and
 * since when (the key's text is not kept). The records live in the
 * buffer's store, keyed by the buffer time (8 bytes, big-endian) and then
 * the key's JSON text: the store's order is Kafka Streams' (time, then key
 * bytes), oldest first.
 */
typedef struct supslot {
    uint64_t h; /* hash of the key's text (0: an empty slot); the top two bits are flags */
    int64_t btime;
} supslot_t;

#define SUP_DIRTY (1ull << 63)  /* the key's record changed since the last commit */
#define SUP_LISTED (1ull << 62) /* ... and its store key is in the dirty list */
#define SUP_FLAGS (SUP_DIRTY | SUP_LISTED)

typedef struct pstate {
    int64_t time;
    int has_time;
    int loaded;
    supslot_t *sup; /* suppression buffer index: open addressing, linear probing */
    int nsup, capsup;
    int64_t minb; /* smallest buffer time buffered */
    /*
     * The buffer's changelog is written at commit, as Kafka Streams'
     * in-memory buffer does: one record per key changed since the last
     * commit (its value then, or a tombstone). The dirty list holds store
     * keys (each: 4-byte length, key): of emitted keys, and of changed ones
     * until they are many (sup_scan), when a pass over the store at commit
     * finds them by their SUP_DIRTY instead.
     */
    ks_buf_t sup_dirty;
    int ndirty;   /* changed keys in the list */
    int sup_scan; /* changed keys are no longer listed: scan at commit */
    const ks_proc_t *sup_p;
    int64_t purged_at; /* window stores: stream time of the last purge of expired windows */
    int purged;
    /* Stream-stream joins (ops_join_stream.c). */
    int32_t seq;       /* WINDOWED: the buffer's last sequence number (a store retaining duplicates) */
    int64_t oldest;    /* WINDOWED: no buffered record is older than this, when oldest_known */
    int oldest_known;  /* WINDOWED: 0 until the buffer was scanned (after a restart) */
    int tracker;       /* THIS: the time tracker both join nodes share is set up */
    int64_t min_time;  /* THIS: the tracker's minTime (the oldest unmatched record it may hold) */
    int64_t next_emit; /* THIS: the tracker's nextTimeToEmit (wall clock) */
} pstate_t;

struct ks_state {
    ks_stores_t *stores;
    /*
     * The global tables, read-only, when another thread writes them (the
     * Kafka driver's global thread): NULL when they live in `stores` (the
     * test driver, and the global thread's own engine).
     */
    ks_stores_t *global;
    int global_open; /* a read transaction of `global` is open (ended by ks_engine_commit_stores) */
    size_t cache_max, cache_bytes;
    centry_t **tab;
    size_t tabsize, count;
    centry_t *lru_head, *lru_tail;
    struct dlist {    /* per processor (by seq): its dirty entries, in the order they were last written */
        centry_t **v; /* NULL: a slot left by an entry written again (it moved to the end) */
        size_t n, cap;
        size_t holes; /* NULL slots in v[0..n) */
    } * dl;
    int ndl;
    pstate_t **ps;
    int *nps;
    int nprocs;
    int flushing;
    /*
     * A stream aggregation's initial aggregate, while it writes a key it did
     * not hold: Kafka Streams' KStreamAggregate and KStreamWindowAggregate
     * forward it as the old value (Change(new, initializer())) when they
     * forward directly; through the cache the old value is the store's.
     */
    ks_val init_old;
    char **topics; /* interned source topic names of cache entries (at most 65535) */
    int ntopics;
    struct { /* the last store read without the cache, reused by the write that follows it */
        const ks_proc_t *p;
        int32_t part;
        char *k, *v;
        size_t kl, vl, kcap, vcap;
        int found;
    } last;
};

/* What the store holds for a key, when the caller already knows it (saves a read). */
typedef struct known {
    int valid;
    const char *b; /* NULL: absent */
    size_t l;
} known_t;

int ks__st_state_fatal(ks_engine_t *e, const char *msg);
struct ks_state *ks__st_state(ks_engine_t *e);
int ks__st_begin(ks_engine_t *e);
pstate_t *ks__st_pstate(ks_engine_t *e, const ks_proc_t *p, int32_t part);
int64_t ks__st_observe(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t ts);

/* store_codec.c: the layout of store entries (store_codec.h). */
#define KS__ST_WINDOW_SUFFIX 12  /* after a window key's bytes: start (8), sequence number (4) */
#define KS__ST_SESSION_SUFFIX 16 /* after a session key's bytes: end, start */
#define KS__ST_SUP_KEY_HDR 8     /* a suppression buffer key: buffer time, then the key's bytes */
#define KS__ST_SUP_VALUE_MIN 48  /* the least a buffered value takes: a context with no topic name and three nulls */
/* The key's bytes with p's store key serde into b (emptied first); 0, or -1 with a message in err. */
int ks__st_key_bytes(const ks_proc_t *p, ks_buf_t *b, ks_val key, char *err, size_t errlen);
/* Cuts b to its first keylen bytes (a key's) and appends a window's (session: end, start; else start, 0). */
void ks__st_window_suffix(ks_buf_t *b, size_t keylen, int64_t start, int64_t end, int session);
/* A window store's key into b (emptied first): the key's bytes and the suffix; 0, or -1 with a message. */
int ks__st_window_key(const ks_proc_t *p, ks_buf_t *b, ks_val key, int64_t start, int64_t end, int session, char *err,
                      size_t errlen);
/* A window key's start (and, for sessions, end) when its key is keylen bytes; 0, or -1 if kl does not fit. */
int ks__st_window_key_times(const void *k, size_t kl, size_t keylen, int session, int64_t *start, int64_t *end);
/* The time a window store is segmented by (window start; session end); 0, or -1 for a key too short. */
int ks__st_window_key_segment_time(const void *k, size_t kl, int session, int64_t *t);
/* {key, window: {start, end}}, as Kafka Streams' Windowed<K> is shown; key is borrowed. */
ks_val ks__st_windowed_key(ks_val key, int64_t start, int64_t end);
/* A stored value into b (emptied first): the timestamp, then v's bytes with p's store value serde; 0 or -1. */
int ks__st_enc_value(const ks_proc_t *p, ks_buf_t *b, ks_val v, int64_t ts, char *err, size_t errlen);
/* Decodes a stored value of p's store (ts may be NULL); on failure the engine fails fatally and -1 is returned. */
int ks__st_dec_value(ks_engine_t *e, const ks_proc_t *p, const void *data, size_t len, ks_val *v, int64_t *ts);
/* The timestamp of a stored value (at least its 8 bytes), and setting it. */
int64_t ks__st_value_ts(const void *data);
void ks__st_set_value_ts(void *data, int64_t ts);
/* What a changelog record carries of a stored value (NULL: a tombstone). */
void ks__st_log_value(const void *v, size_t vl, const void **out, size_t *outl);
/* A suppressed table's key as the buffer keeps it (windowed keys as Kafka Streams' windowed serializers). */
int ks__st_sup_key_bytes(const ks_proc_t *p, ks_buf_t *b, ks_val key, char *err, size_t errlen);
/* Bytes that may be null (a buffered value's parts). */
typedef struct ks__st_bytes {
    const char *data;
    size_t len;
    int null;
} ks__st_bytes_t;
/*
 * A suppression buffer's key and value into kb and vb (emptied first):
 * the key is the buffer time and the key's bytes; the value is Kafka
 * Streams' own changelog value (InMemoryTimeOrderedKeyValueChangeBuffer):
 * the record context (ts, and ctx's offset, topic, partition, headers),
 * the prior value (NULL: this is the key's first update since it was
 * buffered, whose old value is the prior one), the old and new values
 * (newv null: a buffered tombstone), then the buffer time. 0, or -1 with a
 * message in err when a value does not fit the store's value serde.
 */
int ks__st_sup_encode(const ks_proc_t *p, ks_buf_t *kb, ks_buf_t *vb, int64_t btime, const ks_buf_t *keybytes,
                      const ks_record_t *ctx, int64_t ts, const ks__st_bytes_t *prior, ks_val oldv, ks_val newv,
                      char *err, size_t errlen);
/* The buffer time of a suppression buffer key (at least KS__ST_SUP_KEY_HDR bytes). */
int64_t ks__st_sup_btime(const void *k);
/* A buffered value's parts (pointers into v); 0, or -1 when it does not parse. */
typedef struct ks__st_sup_parts {
    int64_t ts;
    ks__st_bytes_t prior;
    int has_new;
    const char *new_data;
    size_t new_len;
    int64_t btime; /* the buffer time, after the values */
} ks__st_sup_parts_t;
int ks__st_sup_parse(const void *v, size_t vl, ks__st_sup_parts_t *out);
/* Decodes a buffered record of p's buffer (the caller releases key and value); 0, or -1 when it does not decode. */
int ks__st_sup_decode(const ks_proc_t *p, const void *k, size_t kl, const void *v, size_t vl, ks_val *key,
                      ks_val *value, int64_t *ts);

void ks__st_forward_change(ks_engine_t *e, const ks_proc_t *p, ks_val key, ks_val newv, ks_val oldv, int64_t ts);
void ks__st_changelog(ks_engine_t *e, const ks_proc_t *p, int32_t part, const void *k, size_t kl, const void *v,
                      size_t vl, int64_t ts);
/* forward of ks__st_write_through: 1 always; KS_WT_FORWARD_HELD only a key the store held or gets (a cache flush). */
#define KS_WT_FORWARD_HELD 2
int ks__st_write_through(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey,
                         const char *newb, size_t newl, int forward, int64_t del_ts, const known_t *known,
                         ks_val given);
int ks__st_flush_dirty(ks_engine_t *e, const ks_proc_t *only);
void ks__st_cache_evict(ks_engine_t *e);
void ks__st_cache_clear(struct ks_state *st);
/* The one partition of a global table's store: it holds every partition of its topic. */
#define KS_GLOBAL_PARTITION 0
/* A global table's value for key bytes k (1 found with *v owned, 0 not, -1 failed). */
int ks__st_global_get(ks_engine_t *e, const ks_proc_t *p, const char *k, size_t kl, ks_val *v, int64_t *ts);
int ks__st_kv_get(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val *v, int64_t *ts);
int ks__st_kv_put(ks_engine_t *e, const ks_proc_t *p, int32_t part, const char *k, size_t kl, ks_val fkey, ks_val newv,
                  int64_t ts);
const ks_step_expr_t *ks__st_part_of(const ks_proc_t *p, const char *name);
int ks__st_eval_x(ks_engine_t *e, flight_t *f, const ks_proc_t *p, const ks_step_expr_t *x, ks_val input, ks_val agg,
                  ks_val *out);
int ks__st_eval_key(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out);
int ks__st_agg_init(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val *out);
int ks__st_agg_add(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out);
int ks__st_agg_sub(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val agg, ks_val value, ks_val *out);
int ks__st_agg_merge(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val a, ks_val b, ks_val *out);
/* The key's bytes for p's store into kb (at most 480); 1, or 0 after the record went to the dead-letter topic. */
int ks__st_store_key(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_buf_t *kb, ks_val key);
void ks__st_purge_windows(ks_engine_t *e, const ks_proc_t *p, int32_t part, int64_t stime);
void ks__st_agg_windows(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value);
void ks__st_agg_sliding(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value);
void ks__st_agg_sessions(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val key, ks_val value);
void ks__st_sup_clear(pstate_t *ps);
int ks__st_sup_log(ks_engine_t *e);
void ks__st_aggregate(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
/* ops_join.c: a join node (stream-table joins; the other kinds are refused by ks__state_check). */
void ks__st_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
/* ops_join_stream.c: a node of a stream-stream join (KSTREAM-WINDOWED, -JOINTHIS, -JOINOTHER and their outer kinds). */
void ks__st_stream_join(ks_engine_t *e, flight_t *f, const ks_proc_t *p);
/*
 * ops_join.c: a join's joiner (p's `value:`) on a left and a right value,
 * either of which may be null: `.` and $left the left one, $right the
 * right one, the other stream variables f's. One output is required; a
 * failure goes to the dead-letter path (-1), unless quiet: then *out is
 * null and 0 is returned (a table-table join's old values,
 * table_table_side).
 */
int ks__st_joiner(ks_engine_t *e, flight_t *f, const ks_proc_t *p, ks_val left, ks_val right, ks_val *out, int quiet);
/* ops_join.c: the row a table holds for key now (its value getter; 1, 0 for none, -1 failed). */
int ks__st_table_get(ks_engine_t *e, flight_t *f, const ks_proc_t *t, ks_val key, ks_val *v, int64_t *ts);
/* ops_join_fk.c: a node of a foreign-key join (p->join.fk_role says which). */
void ks__st_join_fk(ks_engine_t *e, flight_t *f, const ks_proc_t *p);

#endif
