/*
 * store_codec.h: the layout of the engine's state stores and changelogs,
 * for the drivers. The Kafka driver restores stores from their changelogs
 * (ks_engine_restore_record) and the test driver shows what stores hold
 * (ks_engine_decode_entry) without knowing how entries are framed; the
 * engine's own encoders are beside these in store_codec.c, so a change of
 * the layout is a change of that one file.
 *
 * The layout is Kafka Streams' own, so that a changelog either writes
 * restores the other's store. Keys and values are bytes of the store's
 * serdes (ks_proc_t's store_key and store_value: topology/serdes.c says
 * which, as Kafka Streams chooses them):
 *   key-value store   key: the key's bytes
 *   time windows      key: the key's bytes, window start (8 bytes,
 *                     big-endian), sequence number 0 (4 bytes): Kafka
 *                     Streams' WindowKeySchema (tumbling, hopping and
 *                     sliding windows; end = start + size)
 *   session windows   key: the key's bytes, end, start (8 bytes each):
 *                     SessionKeySchema
 *   suppress buffer   key: buffer time (8 bytes), then the table's key
 *                     bytes (a windowed key as the windowed serializers
 *                     write it); value: timestamp, buffer time (8 bytes
 *                     each), a byte saying whether a value follows, the
 *                     value's bytes
 *   join buffers      key: the key's bytes, the record's timestamp (8
 *                     bytes), a sequence number (4 bytes): a window store
 *                     that retains duplicates (stream-stream joins)
 *   outer join store  key: timestamp (8 bytes), side (1: left, 0: right),
 *                     the key's bytes (TimestampedKeyAndJoinSideSerde);
 *                     value: timestamp, then Kafka Streams' list of
 *                     LeftOrRightValue bytes (ListValueStore: a strategy
 *                     byte 1, a 4-byte count, each item's 4-byte length
 *                     and bytes: its side byte and the value's bytes)
 *   other values      timestamp (8 bytes, big-endian), the value's bytes
 *                     (none: a null value)
 * A changelog record carries the store key, the stored value without its
 * leading timestamp (a tombstone for a delete), and the timestamp as the
 * record's own.
 */
#ifndef KS_STORE_CODEC_H
#define KS_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "../json/value.h"
#include "../store/store.h"
#include "../topology/topology.h"
#include "../util/util.h"

typedef enum ks_store_kind {
    KS_STORE_KV,        /* tables and stream aggregations */
    KS_STORE_WINDOW,    /* tumbling, hopping and sliding windows: the key holds the start */
    KS_STORE_SESSION,   /* session windows: the key holds start and end */
    KS_STORE_SUPPRESS,  /* a suppression buffer */
    KS_STORE_OUTER_JOIN /* a stream-stream join's shared outer store: timestamp, side and key -> a list of values */
} ks_store_kind_t;

typedef struct ks_store_layout {
    ks_store_kind_t kind;
    int64_t window_size; /* KS_STORE_WINDOW: a window's end is its start plus this */
    const ks_proc_t *p;  /* the processor that names the store: its store_key and store_value serdes */
} ks_store_layout_t;

/*
 * The layout of the stores of processor p (the processor that names the
 * store). A stream-stream join's buffers are named first by their
 * KSTREAM-WINDOWED nodes, its outer store by its join nodes.
 */
ks_store_layout_t ks_store_layout_of(const ks_proc_t *p);

/*
 * Applies one changelog record to partition part of a store of the given
 * layout: puts the store key with the value framed as the store keeps it
 * (the timestamp ts, then the record's value), or deletes the key for a
 * tombstone (value NULL); a suppression buffer's record goes back under
 * its buffer time, replacing what its key held. A record with an empty key
 * is skipped. scratch is the caller's buffer, reused from call to call
 * (the caller frees it). Runs inside the store batch the caller began
 * (ks_stores_begin). Returns 0, or -1 with a message in err. Any thread
 * that owns s.
 */
int ks_engine_restore_record(ks_stores_t *s, ks_store_layout_t layout, const char *store, int32_t part, const void *key,
                             size_t key_len, const void *value, size_t value_len, int64_t ts, ks_buf_t *scratch,
                             char *err, size_t errlen);

/* A stored entry decoded (ks_engine_decode_entry); the caller releases key and value. */
typedef struct ks_store_entry {
    ks_val key;   /* the key; its raw bytes as a string when they are not JSON text */
    ks_val value; /* the value (null for a buffered tombstone); KS_INVALID when it does not decode */
    int64_t ts;   /* the entry's timestamp (0 when the value does not decode) */
    int windowed; /* start and end are set */
    /* An outer join store's entry: key is {key, timestamp, side} and value the list of the values held. */
    int64_t start, end; /* the window, for window and session stores */
} ks_store_entry_t;

/*
 * Decodes one entry (k, v as the store holds them) of a store with the
 * given layout. Never fails: what does not decode is said in the entry
 * (see ks_store_entry_t). Any thread.
 */
void ks_engine_decode_entry(ks_store_layout_t layout, const void *k, size_t kl, const void *v, size_t vl,
                            ks_store_entry_t *out);

#endif
