/*
 * runtime.h: the runtime configuration, what changes between clusters (test,
 * stage, prod) rather than between topologies: where the brokers are, where
 * state lives, how often to commit, and any librdkafka property (security,
 * SASL, SSL, tuning) passed through unchanged.
 *
 * Three sources are merged, lowest precedence first: the environment file
 * given with `-E FILE` (a YAML mapping of scalars, with ${ENV} substitution),
 * the topology's `config:`, then `--set key=value`. kstreamd's own keys are
 * rows of ks_runtime_keys[]; validation, the "allowed" hint of an unknown
 * key, which keys must agree between topologies, `--help-config`, the
 * README's table and man/kstreamd.1 all come from that table. Any other key
 * must be a librdkafka property: librdkafka itself checks name and value.
 * Settings that would break kstreamd's delivery semantics (group.id,
 * enable.auto.commit=true, acks other than all, ...) are refused with the
 * reason.
 *
 * It belongs to the Kafka driver (src/kafka/), which reads the fields; the
 * engine never sees this file, because it includes librdkafka's header.
 */
#ifndef KS_KAFKA_RUNTIME_H
#define KS_KAFKA_RUNTIME_H

#include <stddef.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "../topology/topology.h"
#include "../util/diag.h"

typedef struct ks_runtime_conf {
    char *bootstrap;          /* bootstrap.servers: "embedded" or host:port,...; NULL: not set (run refuses) */
    char *state_dir;          /* state.dir, default "/tmp/kstreamd" */
    char *query_listen;       /* query.listen: HOST:PORT of the HTTP server, or "off"; default 127.0.0.1:7070 */
    char *application_server; /* application.server: HOST:PORT others reach the query server at; NULL: query.listen's */
    char *log_level;          /* log.level: error|warn|info|debug, default info */
    int cache_max_bytes;      /* cache.max.bytes, default 10 MB (Kafka Streams' statestore.cache.max.bytes) */
    int commit_interval_ms;   /* commit.interval.ms, default 30000 (Kafka Streams' default for at-least-once) */
    int num_stream_threads;   /* num.stream.threads, default 1, 1..64 */
    int startup_timeout_ms;   /* startup.timeout.ms: how long to wait for the cluster at start, default 30000 */
    int replication_factor;   /* replication.factor for internal topics, default -1 (broker default) */
    int embedded_partitions;  /* embedded.partitions: partitions of topics the embedded broker creates, default 3 */
    int progress_interval_ms; /* log.summary.interval.ms: period of the progress log line, 0: none; default 120000 */
    int purge_interval_ms;    /* repartition.purge.interval.ms: period of purging repartition topics, default 30000 */
    int sample_interval_ms;   /* log.sample.interval.ms: period of the logged sample records, 0 (default): none */
    char **rk_keys, **rk_vals; /* librdkafka properties passed through, in precedence order (later wins) */
    int nrk;
} ks_runtime_conf_t;

/*
 * Builds the configuration from the environment file `env_file` (NULL: none),
 * the `config:` of topology `t` (NULL: none) and `nsets` strings "key=value"
 * from `--set`, merged in that order. Every problem goes to `diags` with its
 * place: `FILE:line:col: ...` for the environment file, `TOPOLOGYFILE:line:col:
 * config key ...` for the topology, `--set KEY: ...` for --set; all are
 * collected before returning. Warnings (a topology-only key in -E or --set) do
 * not fail the build.
 *
 * An empty value (`key:` in YAML, `--set key=`) is an error, never a fallback
 * to the default; `processing.guarantee: exactly_once_v2` is refused until
 * it is built.
 *
 * Returns 0 with `*out` filled (the caller frees it with
 * ks_runtime_conf_free()), or -1 if any error was added, in which case
 * `*out` holds nothing (it is zeroed; freeing it is harmless).
 *
 * @locality the main thread, at start-up (`diags` is written; nothing else
 *           is shared).
 * @ownership borrows `env_file`, `t` and `sets` for the call (every string
 *            kept is copied); `*out` is the caller's.
 */
int ks_runtime_conf_build(ks_runtime_conf_t *out, const char *env_file, const ks_topology_t *t, char *const *sets,
                          int nsets, ks_diags_t *diags);

/*
 * Several topologies in one process: each runs with its own configuration
 * (`confs[i]` for `ts[i]`), but what the process has once (bootstrap.servers,
 * log.level, query.listen, embedded.partitions on the embedded broker) must
 * be the same in all (the keys of scope KS_SCOPE_PROCESS). Adds an error
 * naming both topology files for each key that differs. Returns 0, or -1 if
 * an error was added.
 *
 * @locality the main thread, before running. @ownership borrows everything.
 */
int ks_runtime_conf_check_together(const ks_runtime_conf_t *confs, ks_topology_t *const *ts, int n, ks_diags_t *diags);

/*
 * Frees every string of `c` and zeroes it; a zeroed struct is allowed.
 * @locality the thread that owns `c`: the main thread, once the stream threads that read it have ended.
 */
void ks_runtime_conf_free(ks_runtime_conf_t *c);

/*
 * Calls rd_kafka_conf_set on `conf` for every pass-through property, in
 * order. bootstrap.servers is not among them: the driver sets it (it may be
 * the embedded broker's address). Returns 0, or -1 with "key: librdkafka's
 * message" in `errstr`.
 *
 * @locality any thread: `c` is only read (the stream threads call it for
 *           their clients).
 * @ownership borrows `c`; librdkafka copies the values into `conf`, which
 *            stays the caller's.
 */
int ks_runtime_conf_apply(const ks_runtime_conf_t *c, rd_kafka_conf_t *conf, char *errstr, size_t errlen);

/* Where a kstreamd key may be set, and for what. */
typedef enum {
    KS_SCOPE_PROCESS, /* -E, config: or --set; one value per process: the topologies run together must agree */
    KS_SCOPE_SERVICE, /* -E, config: or --set; each topology's config: applies to its service alone */
    KS_SCOPE_TOPOLOGY /* a topology's config: only (a warning, and ignored, in -E or --set) */
} ks_runtime_scope_t;

/* One kstreamd key: name, value type, default (as text, "" for none), scope and a one-sentence description. */
typedef struct {
    const char *name, *type, *def;
    ks_runtime_scope_t scope;
    const char *doc;
} ks_runtime_key_t;

/* The kstreamd keys as rows, terminated by a row of NULLs, for --help-config and the docs. */
extern const ks_runtime_key_t ks_runtime_keys[];

/* The name of a scope as the docs write it: "process", "service" or "topology" (static). Any thread. */
const char *ks_runtime_scope_name(ks_runtime_scope_t scope);

typedef enum { KS_RUNTIME_DOC_TEXT, KS_RUNTIME_DOC_MARKDOWN, KS_RUNTIME_DOC_MAN } ks_runtime_doc_t;

/*
 * Prints the key rows to `f`: as text for `kstreamd --help-config`, as the
 * README's markdown table (`=markdown`) or as roff for man/kstreamd.1
 * (`=man`); `make man` writes the last two into the docs and `make test`
 * checks that they are current. Any thread; only reads the rows.
 */
void ks_runtime_print_reference(FILE *f, ks_runtime_doc_t format);

#endif
