/*
 * store.h: state stores in LMDB.
 *
 * One environment per application instance (`state.dir/<application>/`),
 * one named database per (store, partition): `<store>#<partition>`. The
 * changelog offset each (store, partition) has applied (its checkpoint) is
 * kept in the database `__checkpoints`, written in the same transaction as
 * the data, so state and checkpoint never disagree.
 *
 * Writes are batched: a caller opens a write transaction for a processing
 * batch (ks_stores_begin), reads and writes through it, and commits once
 * (ks_stores_commit). Every write of the batch is also kept in memory until
 * the commit, so when the map is full (MDB_MAP_FULL) the transaction is
 * aborted, the map grown and the batch replayed: nothing is lost.
 *
 * A lock file (`<dir>/LOCK`, flock) refuses a second process opening the
 * same directory.
 *
 * Keys and values are bytes; window and session stores are key-value stores
 * whose keys end in their window's bounds (see src/engine/ops_state.c).
 * One ks_stores_t per thread; LMDB serialises write transactions between
 * threads sharing a directory.
 *
 * @locality: a handle is not locked: every function taking one runs on the
 * thread that uses it (a Kafka stream thread, or the test driver's thread),
 * except ks_stores_open, which any thread may call (the process's
 * environments are shared between handles under a mutex). A write
 * transaction holds LMDB's one writer lock of the directory, so
 * ks_stores_begin waits while another handle's transaction is open.
 * @ownership: names, keys and values passed in are borrowed for the call
 * and copied when kept; bytes handed out (ks_store_get, a range's callback)
 * are LMDB's, valid only as each function says.
 */
#ifndef KS_STORE_H
#define KS_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ks_stores ks_stores_t;

/*
 * KS_STORE_SYNC is reserved (commits are made durable by ks_stores_sync).
 * KS_STORE_READONLY makes a handle that only reads (a stream thread's view
 * of the global tables the global thread writes): ks_stores_begin opens a
 * read transaction, which sees what was committed before it, and
 * ks_stores_commit ends it; a store not written yet reads as empty.
 */
enum { KS_STORE_SYNC = 1, KS_STORE_READONLY = 2 };

/*
 * Opens (creating) the environment in dir. NULL with a message in err.
 * @locality any thread. @ownership the handle is the caller's (ks_stores_close); `dir` is copied.
 */
ks_stores_t *ks_stores_open(const char *dir, int flags, char *err, size_t errlen);
/* Aborts an open transaction and frees the handle; the environment closes with its last handle. */
void ks_stores_close(ks_stores_t *s);
/* The directory, borrowed: valid while the handle is open. */
const char *ks_stores_dir(const ks_stores_t *s);

/* Starts the batch's write transaction if none is open. */
int ks_stores_begin(ks_stores_t *s, char *err, size_t errlen);
/*
 * Commits the open transaction (no-op without one), growing the map as
 * needed; a write handle's commit then lets the map's pages leave the
 * process's resident set (after each 1 MB committed, or 100 ms; they stay
 * in the page cache: see release_pages in store.c).
 */
int ks_stores_commit(ks_stores_t *s, char *err, size_t errlen);
/*
 * Writes committed transactions to disk (fsync). Commits themselves do not
 * sync: a process crash loses nothing committed, and the drivers sync at
 * each checkpoint; an operating-system crash may lose the transactions since
 * the last sync, which restore takes again from the changelogs.
 */
int ks_stores_sync(ks_stores_t *s);
/* Drops the open transaction and its writes. */
void ks_stores_abort(ks_stores_t *s);

/*
 * Reads a value; the bytes stay valid until the next write or commit.
 * Returns 1 found, 0 not found, <0 on error. Needs an open transaction.
 * @ownership `*v` points into LMDB's map, borrowed: copy it to keep it
 *            past the handle's next write, commit or abort.
 */
int ks_store_get(ks_stores_t *s, const char *store, int partition, const void *k, size_t kl, const void **v,
                 size_t *vl);
/* Writes (v NULL: deletes) a value. Returns 0 or <0. @ownership `k` and `v` are copied (LMDB and the batch's log). */
int ks_store_put(ks_stores_t *s, const char *store, int partition, const void *k, size_t kl, const void *v, size_t vl);

/*
 * Calls cb for every entry with from <= key < to (byte order; NULL bounds
 * are open), in key order, until cb returns non-zero. Returns 0, or <0.
 * cb must not write to the store.
 * @locality cb runs on the calling thread, within the call.
 * @ownership the k and v cb gets are LMDB's, valid during that call of cb
 *            only; `ud` is passed through.
 */
typedef int (*ks_store_cb)(void *ud, const void *k, size_t kl, const void *v, size_t vl);
int ks_store_range(ks_stores_t *s, const char *store, int partition, const void *from, size_t fl, const void *to,
                   size_t tl, ks_store_cb cb, void *ud);

/* The checkpoint: the next changelog offset to apply; -1 when none is recorded. */
int64_t ks_store_checkpoint(ks_stores_t *s, const char *store, int partition);
int ks_store_set_checkpoint(ks_stores_t *s, const char *store, int partition, int64_t next_offset);
/* Empties a (store, partition) and forgets its checkpoint. */
int ks_store_wipe(ks_stores_t *s, const char *store, int partition);
/* Number of entries of a (store, partition). */
int64_t ks_store_count(ks_stores_t *s, const char *store, int partition);

/* The current map size in bytes (grows on MDB_MAP_FULL). */
size_t ks_stores_map_size(const ks_stores_t *s);
/* For tests: sets the map size (before the first transaction). */
int ks_stores_set_map_size(ks_stores_t *s, size_t bytes);

#endif
