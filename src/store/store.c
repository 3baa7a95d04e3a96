/*
 * store.c: LMDB state stores; see store.h.
 *
 * LMDB allows one open environment per file per process, so the handles of
 * one directory share an environment (a registry keyed by path, reference
 * counted). Each handle has its own write transaction, database handles and
 * the log of its batch's writes, replayed when the map has to grow.
 * Growing the map needs every transaction of the process closed: handles
 * hold a read lock of `grow` while their transaction is open, and the
 * handle that grows takes it for writing.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/duration.h"
#include "../util/util.h"

#define INITIAL_MAP (64u << 20)
#define CHECKPOINTS "__checkpoints"
#define BATCH_LOG_MAX (2u << 20) /* bytes of logged writes before a batch commits early */
#define LOG_NAMES 8              /* database names remembered per batch, so each is logged once */
#define RELEASE_EVERY_MS 100     /* see release_pages */
#define RELEASE_EVERY_BYTES (1u << 20)

typedef struct shared_env {
    char *dir;
    MDB_env *env;
    int lockfd;
    int refs;
    pid_t pid; /* a forked child does not share its parent's environment */
    size_t map_size;
    void *map_addr;                   /* where the map is in this process (find_map), NULL when not found */
    _Atomic uint64_t last_release_ms; /* ks_mono_ms of the last release_pages */
    _Atomic uint64_t unreleased;      /* bytes committed since then (the batches' logged keys and values) */
    pthread_rwlock_t grow;
    struct shared_env *next;
} shared_env_t;

static pthread_mutex_t g_envs_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_env_t *g_envs;

typedef struct dbent {
    char *name;
    MDB_dbi dbi;
    int fresh; /* opened in the current transaction: invalid if it aborts */
} dbent_t;

enum { OP_PUT, OP_DEL, OP_CKPT, OP_WIPE };

/* A write of the batch, kept for replay; its bytes live in the handle's arena (offsets below 4 GB). */
typedef struct logop {
    uint8_t kind;
    uint8_t has_v;
    uint32_t name_off, k_off, v_off;
    uint32_t kl, vl;
} logop_t;

typedef struct fastdb {
    const char *store; /* the caller's pointer: engines pass their topology's stable names */
    int partition;
    MDB_dbi dbi;
    const char *name; /* `<store>#<partition>` (the dbent's copy) */
    /*
     * A cursor of this transaction, left on the key the last get found: a
     * put of that key writes there without searching the tree again (an
     * aggregation reads, then writes, each key).
     */
    MDB_cursor *cur;
    int at;
} fastdb_t;

struct ks_stores {
    shared_env_t *se;
    MDB_txn *txn;
    dbent_t *dbs;
    int ndbs;
    fastdb_t *fast; /* (store pointer, partition) -> dbi, for the per-record calls */
    int nfast;
    logop_t *log;
    size_t nlog, caplog;
    ks_buf_t arena;
    struct { /* names already in this batch's arena */
        const char *p;
        uint32_t off;
    } names[LOG_NAMES];
    int nnames;
    int readonly; /* KS_STORE_READONLY: read transactions only (another handle writes) */
    /*
     * READONLY: the last read transaction, reset (mdb_txn_reset) rather than
     * freed, when it opened no database: the next begin renews it. LMDB sizes
     * a transaction for every database the environment may have (16,384),
     * so a new one per short read (a query) would cost more than the read.
     */
    MDB_txn *idle;
};

static int mkdirs(const char *dir)
{
    char *p = ks_xstrdup(dir);
    for (char *s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) && errno != EEXIST) {
                free(p);
                return -1;
            }
            *s = '/';
        }
    }
    int rc = mkdir(p, 0755) && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/*
 * Where LMDB mapped data.mdb: LMDB says only with MDB_FIXEDMAP, so the
 * process's maps are searched for the file's inode, mapped whole from
 * offset 0 (the device is not compared: overlayfs reports another one
 * there). Called whenever the map may have moved, with no transaction open.
 */
static void find_map(shared_env_t *se)
{
    se->map_addr = NULL;
    mdb_filehandle_t fd;
    struct stat st;
    if (mdb_env_get_fd(se->env, &fd) || fstat(fd, &st))
        return;
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, off, ino;
        if (sscanf(line, "%lx-%lx %*s %lx %*s %lu", &lo, &hi, &off, &ino) == 4 && ino == (unsigned long)st.st_ino &&
            off == 0 && hi - lo == se->map_size) {
            se->map_addr = (void *)lo;
            break;
        }
        while (!strchr(line, '\n') && fgets(line, sizeof line, f)) /* the rest of a long line */
            ;
    }
    fclose(f);
}

static shared_env_t *env_acquire(const char *dir, int flags, char *err, size_t errlen)
{
    pthread_mutex_lock(&g_envs_mu);
    for (shared_env_t *e = g_envs; e; e = e->next)
        if (e->pid == getpid() && strcmp(e->dir, dir) == 0) {
            e->refs++;
            pthread_mutex_unlock(&g_envs_mu);
            return e;
        }
    shared_env_t *e = NULL;
    if (mkdirs(dir)) {
        snprintf(err, errlen, "cannot create the state directory %s: %s", dir, strerror(errno));
        goto out;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/LOCK", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        snprintf(err, errlen,
                 "the state directory %s is in use by another kstreamd process%s%s%s; give each instance its own "
                 "`state.dir`",
                 dir, *pid ? " (pid " : "", pid, *pid ? ")" : "");
        close(fd);
        goto out;
    }
    char pid[32];
    int pl = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)pl, 0) != pl) {
        /* the pid is informative only */
    }
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 16384);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, INITIAL_MAP);
    if (rc == 0)
        rc = mdb_env_open(env, dir, MDB_NOTLS | MDB_WRITEMAP | MDB_NOSYNC, 0644); /* synced by ks_stores_sync */
    if (rc) {
        snprintf(err, errlen, "cannot open the state stores in %s: %s", dir, mdb_strerror(rc));
        mdb_env_close(env);
        close(fd);
        goto out;
    }
    MDB_envinfo info;
    mdb_env_info(env, &info);
    e = ks_xcalloc(1, sizeof *e);
    e->dir = ks_xstrdup(dir);
    e->env = env;
    e->lockfd = fd;
    e->refs = 1;
    e->pid = getpid();
    e->map_size = info.me_mapsize;
    find_map(e);
    pthread_rwlock_init(&e->grow, NULL);
    e->next = g_envs;
    g_envs = e;
out:
    pthread_mutex_unlock(&g_envs_mu);
    return e;
}

static void env_release(shared_env_t *e)
{
    pthread_mutex_lock(&g_envs_mu);
    if (--e->refs == 0) {
        for (shared_env_t **pp = &g_envs; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        mdb_env_close(e->env);
        close(e->lockfd); /* releases the flock */
        pthread_rwlock_destroy(&e->grow);
        free(e->dir);
        free(e);
    }
    pthread_mutex_unlock(&g_envs_mu);
}

ks_stores_t *ks_stores_open(const char *dir, int flags, char *err, size_t errlen)
{
    shared_env_t *se = env_acquire(dir, flags, err, errlen);
    if (!se)
        return NULL;
    ks_stores_t *s = ks_xcalloc(1, sizeof *s);
    s->se = se;
    s->readonly = (flags & KS_STORE_READONLY) != 0;
    return s;
}

static void log_clear(ks_stores_t *s)
{
    s->nlog = 0;
    s->nnames = 0;
    s->arena.len = 0;
    if (s->arena.cap > (64u << 20)) /* a huge batch: give the memory back */
        ks_buf_free(&s->arena);
}

void ks_stores_close(ks_stores_t *s)
{
    if (!s)
        return;
    ks_stores_abort(s);
    if (s->idle)
        mdb_txn_abort(s->idle);
    for (int i = 0; i < s->ndbs; i++)
        free(s->dbs[i].name);
    free(s->dbs);
    free(s->fast);
    free(s->log);
    ks_buf_free(&s->arena);
    env_release(s->se);
    free(s);
}

const char *ks_stores_dir(const ks_stores_t *s)
{
    return s->se->dir;
}

/*
 * The map's pages are the state files' page cache, mapped: every page a
 * transaction or a query touched stays in the process's resident set until
 * the kernel needs the memory, so a store's whole file came to count as
 * kstreamd's memory (RocksDB reads through the page cache with pread, which
 * counts it as nobody's). After each write transaction's commit, the used
 * part of the map is dropped from this process's page tables: the pages stay
 * cached, and the next access maps them again (a minor fault; the kernel
 * maps a read fault's neighbours too). MADV_DONTNEED on a shared file
 * mapping loses nothing: a dirty page keeps its dirty bit in the page cache,
 * where the next sync (msync of the range) writes it, and a page another
 * thread is writing meanwhile is mapped again with its bytes. A commit
 * releases once RELEASE_EVERY_BYTES were committed or RELEASE_EVERY_MS went
 * by since the last release of the environment: with several stream threads
 * every drained batch commits, and each release costs a walk of the map's
 * page tables and the faults that map its hot pages again; one thread
 * commits every BATCH_LOG_MAX bytes, and releases each time.
 */
static void release_pages(shared_env_t *se, size_t committed)
{
    uint64_t now = ks_mono_ms(), last = atomic_load(&se->last_release_ms);
    if (atomic_fetch_add(&se->unreleased, committed) + committed < RELEASE_EVERY_BYTES && now - last < RELEASE_EVERY_MS)
        return;
    if (!atomic_compare_exchange_strong(&se->last_release_ms, &last, now))
        return; /* another thread is releasing */
    atomic_store(&se->unreleased, 0);
    MDB_envinfo info;
    MDB_stat st;
    pthread_rwlock_rdlock(&se->grow); /* the map stays where find_map found it */
    if (se->map_addr && mdb_env_info(se->env, &info) == 0 && mdb_env_stat(se->env, &st) == 0) {
        size_t used = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
        madvise(se->map_addr, used < se->map_size ? used : se->map_size, MADV_DONTNEED); /* advice: cannot fail harm */
    }
    pthread_rwlock_unlock(&se->grow);
}

int ks_stores_sync(ks_stores_t *s)
{
    return mdb_env_sync(s->se->env, 1) ? -1 : 0;
}

size_t ks_stores_map_size(const ks_stores_t *s)
{
    return s->se->map_size;
}

/*
 * Sets the map size (0: adopt the size another process gave the file). LMDB
 * needs every transaction of the process closed: the write lock of `grow`.
 */
static int set_map_size(shared_env_t *se, size_t bytes)
{
    pthread_rwlock_wrlock(&se->grow);
    int rc = mdb_env_set_mapsize(se->env, bytes);
    MDB_envinfo info;
    if (mdb_env_info(se->env, &info) == 0)
        se->map_size = info.me_mapsize;
    find_map(se);
    pthread_rwlock_unlock(&se->grow);
    return rc;
}

int ks_stores_set_map_size(ks_stores_t *s, size_t bytes)
{
    if (s->txn)
        return -1;
    return set_map_size(s->se, bytes) ? -1 : 0;
}

static void txn_end(ks_stores_t *s, int commit_failed_or_abort)
{
    for (int i = 0; i < s->nfast; i++) { /* LMDB frees a write transaction's cursors with it */
        s->fast[i].cur = NULL;
        s->fast[i].at = 0;
    }
    if (commit_failed_or_abort) {
        s->nfast = 0; /* some handles may be gone */
        /* Handles created in the aborted transaction are gone. */
        int w = 0;
        for (int i = 0; i < s->ndbs; i++) {
            if (s->dbs[i].fresh)
                free(s->dbs[i].name);
            else
                s->dbs[w++] = s->dbs[i];
        }
        s->ndbs = w;
    } else {
        for (int i = 0; i < s->ndbs; i++)
            s->dbs[i].fresh = 0;
    }
    s->txn = NULL;
    pthread_rwlock_unlock(&s->se->grow);
}

static int txn_start(ks_stores_t *s, char *err, size_t errlen)
{
    if (s->idle) {
        pthread_rwlock_rdlock(&s->se->grow);
        MDB_txn *t = s->idle;
        s->idle = NULL;
        if (mdb_txn_renew(t) == 0) {
            s->txn = t;
            return 0;
        }
        mdb_txn_abort(t); /* and begin a new one below */
        pthread_rwlock_unlock(&s->se->grow);
    }
    for (;;) {
        pthread_rwlock_rdlock(&s->se->grow);
        int rc = mdb_txn_begin(s->se->env, NULL, s->readonly ? MDB_RDONLY : 0, &s->txn);
        if (rc == 0)
            return 0;
        pthread_rwlock_unlock(&s->se->grow);
        s->txn = NULL;
        if (rc == MDB_MAP_RESIZED) {
            set_map_size(s->se, 0); /* another process grew the map: adopt its size */
            continue;
        }
        snprintf(err, errlen, "state stores in %s: cannot begin a transaction: %s", s->se->dir, mdb_strerror(rc));
        return -1;
    }
}

int ks_stores_begin(ks_stores_t *s, char *err, size_t errlen)
{
    if (s->txn)
        return 0;
    log_clear(s);
    return txn_start(s, err, errlen);
}

void ks_stores_abort(ks_stores_t *s)
{
    if (s->txn) {
        mdb_txn_abort(s->txn);
        txn_end(s, 1);
    }
    log_clear(s);
}

static int dbi_get(ks_stores_t *s, const char *name, MDB_dbi *out)
{
    for (int i = 0; i < s->ndbs; i++)
        if (strcmp(s->dbs[i].name, name) == 0) {
            *out = s->dbs[i].dbi;
            return 0;
        }
    MDB_dbi dbi;
    /* A read-only handle cannot create a database: one not written yet is MDB_NOTFOUND. */
    int rc = mdb_dbi_open(s->txn, name, s->readonly ? 0 : MDB_CREATE, &dbi);
    if (rc)
        return rc;
    KS_GROW(s->dbs, s->ndbs);
    s->dbs[s->ndbs].name = ks_xstrdup(name);
    s->dbs[s->ndbs].dbi = dbi;
    s->dbs[s->ndbs].fresh = 1;
    s->ndbs++;
    *out = dbi;
    return 0;
}

static void db_name(char *buf, size_t n, const char *store, int partition)
{
    size_t l = strlen(store);
    if (l > n - 16)
        l = n - 16;
    memcpy(buf, store, l);
    buf[l++] = '#';
    char digits[12];
    int d = 0;
    unsigned u = (unsigned)partition;
    do {
        digits[d++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (d)
        buf[l++] = digits[--d];
    buf[l] = 0;
}

static int apply(ks_stores_t *s, const logop_t *op);

/*
 * MDB_MAP_FULL: the transaction is gone (aborted here when still open);
 * double the map and replay the batch into a new one, as often as needed.
 * Returns 0 with the new transaction open, or an LMDB error.
 */
static int grow_and_replay(ks_stores_t *s, int txn_open)
{
    for (;;) {
        if (txn_open)
            mdb_txn_abort(s->txn);
        txn_end(s, 1);
        int rc = set_map_size(s->se, s->se->map_size * 2);
        if (rc)
            return rc;
        char err[KS_ERRMSG_SIZE];
        if (txn_start(s, err, sizeof err))
            return MDB_PANIC;
        for (size_t i = 0; i < s->nlog && rc == 0; i++)
            rc = apply(s, &s->log[i]);
        if (rc != MDB_MAP_FULL)
            return rc;
        txn_open = 1;
    }
}

static int apply_dbi(ks_stores_t *s, const logop_t *op, MDB_dbi dbi)
{
    const char *base = s->arena.data;
    const char *name = base + op->name_off;
    int rc;
    switch (op->kind) {
    case OP_PUT: {
        MDB_val k = {op->kl, (void *)(base + op->k_off)}, v = {op->vl, (void *)(base + op->v_off)};
        return mdb_put(s->txn, dbi, &k, &v, 0);
    }
    case OP_DEL: {
        MDB_val k = {op->kl, (void *)(base + op->k_off)};
        rc = mdb_del(s->txn, dbi, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    case OP_CKPT: {
        MDB_val k = {strlen(name), (void *)name}, v = {op->vl, (void *)(base + op->v_off)};
        return op->has_v ? mdb_put(s->txn, dbi, &k, &v, 0)
                         : ((rc = mdb_del(s->txn, dbi, &k, NULL)) == MDB_NOTFOUND ? 0 : rc);
    }
    case OP_WIPE: return mdb_drop(s->txn, dbi, 0);
    }
    return 0;
}

/* A put or delete of the key a cursor is on (the first application of a logged write). */
static int apply_cursor(ks_stores_t *s, const logop_t *op, MDB_cursor *cur)
{
    const char *base = s->arena.data;
    if (op->kind == OP_DEL)
        return mdb_cursor_del(cur, 0);
    MDB_val k = {op->kl, (void *)(base + op->k_off)}, v = {op->vl, (void *)(base + op->v_off)};
    return mdb_cursor_put(cur, &k, &v, MDB_CURRENT);
}

static int apply(ks_stores_t *s, const logop_t *op)
{
    MDB_dbi dbi;
    int rc = dbi_get(s, op->kind == OP_CKPT ? CHECKPOINTS : s->arena.data + op->name_off, &dbi);
    if (rc)
        return rc;
    return apply_dbi(s, op, dbi);
}

static uint32_t arena_put(ks_stores_t *s, const void *p, size_t n)
{
    size_t off = s->arena.len;
    if (n)
        ks_buf_append(&s->arena, p, n);
    return (uint32_t)off;
}

/* A database name's offset in the arena, logged once per batch for the names used most. */
static uint32_t arena_name(ks_stores_t *s, const char *name)
{
    for (int i = 0; i < s->nnames; i++)
        if (s->names[i].p == name && strcmp(s->arena.data + s->names[i].off, name) == 0)
            return s->names[i].off;
    uint32_t off = arena_put(s, name, strlen(name) + 1);
    int slot = s->nnames < LOG_NAMES ? s->nnames++ : (int)(s->nlog % LOG_NAMES);
    s->names[slot].p = name;
    s->names[slot].off = off;
    return off;
}

/* Logs a write for replay and applies it (through `cur` on its key, else to `dbi` when known, else by name). */
static int logged_dbi(ks_stores_t *s, int kind, const char *name, const void *k, size_t kl, const void *v, size_t vl,
                      const MDB_dbi *dbi, MDB_cursor *cur)
{
    if (!s->txn)
        return -1;
    if (kl >= (1u << 30) || vl >= (1u << 30) || s->arena.len >= (1u << 31))
        return -1; /* a record is far smaller; the arena commits at BATCH_LOG_MAX */
    if (s->nlog == s->caplog) {
        s->caplog = s->caplog ? s->caplog * 2 : 256;
        s->log = ks_xrealloc(s->log, s->caplog * sizeof *s->log);
    }
    logop_t *op = &s->log[s->nlog++];
    op->kind = kind;
    op->name_off = arena_name(s, name);
    op->k_off = arena_put(s, k, kl);
    op->kl = (uint32_t)kl;
    op->has_v = v != NULL;
    op->v_off = arena_put(s, v, v ? vl : 0);
    op->vl = v ? (uint32_t)vl : 0;
    int rc = cur && (kind == OP_PUT || kind == OP_DEL) ? apply_cursor(s, op, cur)
             : dbi                                     ? apply_dbi(s, op, *dbi)
                                                       : apply(s, op);
    if (rc == MDB_MAP_FULL)
        rc = grow_and_replay(s, 1);
    if (rc == 0 && s->arena.len > BATCH_LOG_MAX) {
        /*
         * A batch this large commits early, to bound the replay log: the data
         * may run ahead of the checkpoint, which restore tolerates.
         */
        char err[KS_ERRMSG_SIZE];
        rc = ks_stores_commit(s, err, sizeof err) || ks_stores_begin(s, err, sizeof err);
    }
    return rc ? -1 : 0;
}

static int logged(ks_stores_t *s, int kind, const char *name, const void *k, size_t kl, const void *v, size_t vl)
{
    return logged_dbi(s, kind, name, k, kl, v, vl, NULL, NULL);
}

int ks_stores_commit(ks_stores_t *s, char *err, size_t errlen)
{
    if (!s->txn)
        return 0;
    if (s->readonly) {
        /* A read transaction that opened no database is kept for the next begin (see `idle`). */
        int fresh = 0;
        for (int i = 0; i < s->ndbs && !fresh; i++)
            fresh = s->dbs[i].fresh;
        if (!fresh) {
            mdb_txn_reset(s->txn);
            s->idle = s->txn;
            txn_end(s, 0);
            return 0;
        }
    }
    for (;;) {
        int rc = mdb_txn_commit(s->txn);
        if (rc == 0) {
            size_t committed = s->arena.len;
            txn_end(s, 0);
            log_clear(s);
            if (!s->readonly)
                release_pages(s->se, committed);
            return 0;
        }
        if (rc == MDB_MAP_FULL) {
            /* The failed commit freed the transaction: grow, replay into a new one, commit again. */
            if ((rc = grow_and_replay(s, 0)) == 0)
                continue;
        } else {
            txn_end(s, 1);
        }
        snprintf(err, errlen, "state stores in %s: commit failed: %s", s->se->dir, mdb_strerror(rc));
        ks_stores_abort(s);
        return -1;
    }
}

/* The database of (store, partition), by the caller's name pointer first. */
static int store_dbi(ks_stores_t *s, const char *store, int partition, MDB_dbi *out, const char **name_out,
                     fastdb_t **fast_out)
{
    if (fast_out)
        *fast_out = NULL;
    for (int i = 0; i < s->nfast; i++)
        if (s->fast[i].store == store && s->fast[i].partition == partition) {
            *out = s->fast[i].dbi;
            if (name_out)
                *name_out = s->fast[i].name;
            if (fast_out)
                *fast_out = &s->fast[i];
            return 0;
        }
    char name[512];
    db_name(name, sizeof name, store, partition);
    int rc = dbi_get(s, name, out);
    if (rc)
        return rc;
    const char *stable = NULL;
    for (int i = 0; i < s->ndbs && !stable; i++)
        if (s->dbs[i].dbi == *out && strcmp(s->dbs[i].name, name) == 0)
            stable = s->dbs[i].name;
    if (s->nfast < 4096 && stable) {
        KS_GROW(s->fast, s->nfast);
        s->fast[s->nfast].store = store;
        s->fast[s->nfast].partition = partition;
        s->fast[s->nfast].dbi = *out;
        s->fast[s->nfast].name = stable;
        s->fast[s->nfast].cur = NULL;
        s->fast[s->nfast].at = 0;
        if (fast_out)
            *fast_out = &s->fast[s->nfast];
        s->nfast++;
    }
    if (name_out)
        *name_out = stable;
    return 0;
}

int ks_store_get(ks_stores_t *s, const char *store, int partition, const void *k, size_t kl, const void **v, size_t *vl)
{
    if (!s->txn)
        return -1;
    MDB_dbi dbi;
    fastdb_t *f;
    int rc = store_dbi(s, store, partition, &dbi, NULL, &f);
    if (rc)
        return rc == MDB_NOTFOUND && s->readonly ? 0 : -1; /* a database the writer has not made yet: empty */
    MDB_val key = {kl, (void *)k}, val;
    /* A read-only transaction does not free its cursors: it reads without one. */
    if (f && !s->readonly && (f->cur || mdb_cursor_open(s->txn, dbi, &f->cur) == 0)) {
        rc = mdb_cursor_get(f->cur, &key, &val, MDB_SET_KEY);
        f->at = rc == 0;
    } else {
        rc = mdb_get(s->txn, dbi, &key, &val);
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return -1;
    *v = val.mv_data;
    *vl = val.mv_size;
    return 1;
}

int ks_store_put(ks_stores_t *s, const char *store, int partition, const void *k, size_t kl, const void *v, size_t vl)
{
    if (kl == 0 || kl > 511)
        return -1; /* LMDB's key limit; the engine checks first */
    if (!s->txn)
        return -1;
    MDB_dbi dbi;
    const char *name;
    fastdb_t *f;
    if (store_dbi(s, store, partition, &dbi, &name, &f) || !name)
        return -1;
    MDB_cursor *cur = NULL;
    if (f && f->at) {
        /* Still on the key the last get found? (Other writes to the database may have moved it.) */
        MDB_val ck, cv;
        if (mdb_cursor_get(f->cur, &ck, &cv, MDB_GET_CURRENT) == 0 && ck.mv_size == kl &&
            memcmp(ck.mv_data, k, kl) == 0)
            cur = f->cur;
        f->at = 0;
    }
    return logged_dbi(s, v ? OP_PUT : OP_DEL, name, k, kl, v, vl, &dbi, cur);
}

static int cmp_bytes(const void *a, size_t al, const void *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

int ks_store_range(ks_stores_t *s, const char *store, int partition, const void *from, size_t fl, const void *to,
                   size_t tl, ks_store_cb cb, void *ud)
{
    if (!s->txn)
        return -1;
    char name[512];
    db_name(name, sizeof name, store, partition);
    MDB_dbi dbi;
    MDB_cursor *c;
    int drc = dbi_get(s, name, &dbi);
    if (drc == MDB_NOTFOUND && s->readonly)
        return 0; /* not written yet: empty */
    if (drc || mdb_cursor_open(s->txn, dbi, &c))
        return -1;
    MDB_val k = {fl, (void *)from}, v;
    int rc = from && fl ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    int out = 0;
    while (rc == 0) {
        if (to && cmp_bytes(k.mv_data, k.mv_size, to, tl) >= 0)
            break;
        if (cb(ud, k.mv_data, k.mv_size, v.mv_data, v.mv_size))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND)
        out = -1;
    mdb_cursor_close(c);
    return out;
}

int64_t ks_store_checkpoint(ks_stores_t *s, const char *store, int partition)
{
    if (!s->txn)
        return -1;
    char name[512];
    db_name(name, sizeof name, store, partition);
    MDB_dbi dbi;
    if (dbi_get(s, CHECKPOINTS, &dbi))
        return -1;
    MDB_val k = {strlen(name), name}, v;
    if (mdb_get(s->txn, dbi, &k, &v) || v.mv_size != 8)
        return -1;
    int64_t off;
    memcpy(&off, v.mv_data, 8);
    return off;
}

int ks_store_set_checkpoint(ks_stores_t *s, const char *store, int partition, int64_t next_offset)
{
    char name[512];
    db_name(name, sizeof name, store, partition);
    return logged(s, OP_CKPT, name, NULL, 0, next_offset >= 0 ? &next_offset : NULL, 8);
}

int ks_store_wipe(ks_stores_t *s, const char *store, int partition)
{
    char name[512];
    db_name(name, sizeof name, store, partition);
    if (logged(s, OP_WIPE, name, NULL, 0, NULL, 0))
        return -1;
    return ks_store_set_checkpoint(s, store, partition, -1);
}

int64_t ks_store_count(ks_stores_t *s, const char *store, int partition)
{
    if (!s->txn)
        return -1;
    char name[512];
    db_name(name, sizeof name, store, partition);
    MDB_dbi dbi;
    MDB_stat st;
    if (dbi_get(s, name, &dbi) || mdb_stat(s->txn, dbi, &st))
        return -1;
    return (int64_t)st.ms_entries;
}
