/*
 * runtime.c: builds the runtime configuration from the environment file
 * (-E), the topology's `config:` and `--set`, in that order of precedence.
 *
 * kstreamd's keys are declared once, in KS_RUNTIME_KEYS below; the public
 * table for --help and the private validation table are both generated from
 * it. Every other key is handed to librdkafka on a scratch configuration
 * object, so that librdkafka decides whether the property exists and whether
 * the value is valid, and its message reaches the user. A short list of
 * librdkafka settings is then refused because kstreamd relies on the
 * opposite (see `refused`).
 */
#include "runtime.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "../config/yaml.h"

/* ---- the kstreamd keys ---- */

typedef enum {
    K_STRING,      /* any non-empty text */
    K_SERVERS,     /* `embedded` or host:port,... */
    K_LISTEN,      /* HOST:PORT */
    K_ENUM_STR,    /* one of `values`, kept as text */
    K_CHECKED,     /* one of `values`, checked and not kept (see `unbuilt`) */
    K_INT,         /* decimal integer in [min, max] */
    K_REPLICATION, /* -1 or [min, max] */
} kind_t;

typedef struct {
    kind_t kind;
    size_t off;         /* offset of the field in ks_runtime_conf_t */
    long min, max;      /* K_INT, K_REPLICATION */
    const char *values; /* K_ENUM_STR, K_CHECKED: allowed values separated by `|`; NULL: any */
} spec_t;

#define OFF(field) offsetof(ks_runtime_conf_t, field)

/*
 * X(name, type, default, scope, doc, kind, offset, min, max, values). The
 * default is text ("": none); the scope says where the key may be set
 * (ks_runtime_scope_t in runtime.h). `kstreamd --help-config` prints the
 * rows, and `make man` writes them into README.md and man/kstreamd.1. One
 * row is a few lines, kind and field last: clang-format leaves the table alone.
 */
/* clang-format off */
#define KS_RUNTIME_KEYS(X)                                                                                             \
    X("bootstrap.servers", "host:port,...", "", KS_SCOPE_PROCESS,                                                      \
      "Kafka brokers to connect to, or `embedded` for the in-process broker; no default: a run without it is "         \
      "refused (`--validate` does not need it).",                                                                      \
      K_SERVERS, OFF(bootstrap), 0, 0, NULL)                                                                           \
    X("state.dir", "path", "/tmp/kstreamd", KS_SCOPE_SERVICE,                                                          \
      "Directory of the state stores: `state.dir/<application>/`, one LMDB environment per application.",              \
      K_STRING, OFF(state_dir), 0, 0, NULL)                                                                            \
    X("query.listen", "host:port|off", "127.0.0.1:7070", KS_SCOPE_PROCESS,                                            \
      "Address of the process's HTTP server (queries of queryable stores, /health, /ready, /v1/topology); "           \
      "port 0 takes a free port (logged); `off`: no server. No authentication: keep it on loopback.",                 \
      K_LISTEN, OFF(query_listen), 0, 0, NULL)                                                                         \
    X("log.level", "error|warn|info|debug", "info", KS_SCOPE_PROCESS,                                                  \
      "Least severe log message written to stderr.",                                                                   \
      K_ENUM_STR, OFF(log_level), 0, 0, "error|warn|info|debug")                                                       \
    X("application.server", "host:port", "", KS_SCOPE_PROCESS,                                                         \
      "The query server's address as other instances reach it, carried in the group's member metadata so that "        \
      "any instance can proxy a query to the key's owner (Kafka Streams' key); not set: query.listen's address "       \
      "(its real port when it is 0).",                                                                                 \
      K_LISTEN, OFF(application_server), 0, 0, NULL)                                                                   \
    X("commit.interval.ms", "int 1..86400000", "30000", KS_SCOPE_SERVICE,                                              \
      "How often each stream thread flushes the record cache and the producer, then commits the offsets of the "       \
      "records processed.",                                                                                            \
      K_INT, OFF(commit_interval_ms), 1, 86400000, NULL)                                                               \
    X("num.stream.threads", "int 1..64", "1", KS_SCOPE_SERVICE,                                                        \
      "Stream threads per application, each with its own loop, consumer and producer.",                                \
      K_INT, OFF(num_stream_threads), 1, 64, NULL)                                                                     \
    X("processing.guarantee", "at_least_once", "at_least_once", KS_SCOPE_SERVICE,                                      \
      "Delivery guarantee. Only at_least_once is built; exactly_once_v2 is refused (`file:line:col` and why) "         \
      "until it is.",                                                                                                  \
      K_CHECKED, 0, 0, 0, "at_least_once|exactly_once_v2")                                                             \
    X("startup.timeout.ms", "int 1..3600000", "30000", KS_SCOPE_SERVICE,                                               \
      "How long to wait for the cluster to answer at start-up.",                                                       \
      K_INT, OFF(startup_timeout_ms), 1, 3600000, NULL)                                                                \
    X("replication.factor", "int -1 or 1..32767", "-1", KS_SCOPE_SERVICE,                                              \
      "Replication factor of the internal topics kstreamd creates; -1: the broker's default.",                         \
      K_REPLICATION, OFF(replication_factor), 1, 32767, NULL)                                                          \
    X("embedded.partitions", "int 1..1024", "3", KS_SCOPE_PROCESS,                                                     \
      "Partitions of each topic the embedded broker creates (read only with `bootstrap.servers: embedded`).",          \
      K_INT, OFF(embedded_partitions), 1, 1024, NULL)                                                                  \
    X("log.summary.interval.ms", "int 0..86400000", "120000", KS_SCOPE_SERVICE,                                        \
      "How often each stream thread logs a one-line summary (in/s, out/s, dead-lettered, lag); 0: never.",             \
      K_INT, OFF(progress_interval_ms), 0, 86400000, NULL)                                                             \
    X("repartition.purge.interval.ms", "int 0..86400000", "30000", KS_SCOPE_SERVICE,                                   \
      "How often the committed records of repartition topics are deleted (Kafka's DeleteRecords; Kafka Streams' "      \
      "key of the same name).",                                                                                        \
      K_INT, OFF(purge_interval_ms), 0, 86400000, NULL)                                                                \
    X("log.sample.interval.ms", "int 0..86400000", "0", KS_SCOPE_SERVICE,                                              \
      "How often each stream thread logs one record of each output topic, key and value decoded with the "             \
      "topic's serdes; 0: never.",                                                                                     \
      K_INT, OFF(sample_interval_ms), 0, 86400000, NULL)                                                               \
    X("cache.max.bytes", "int 0..2147483647", "10485760", KS_SCOPE_SERVICE,                                            \
      "Record cache of the state stores, shared by the stream threads (Kafka Streams' "                                \
      "statestore.cache.max.bytes); 0: every update goes through at once.",                                            \
      K_INT, OFF(cache_max_bytes), 0, 2147483647, NULL)                                                                \
    X("errors.tolerance", "all|none", "all", KS_SCOPE_TOPOLOGY,                                                        \
      "all: a record that fails goes to the dead-letter topic, with the error in its headers; none: it stops "         \
      "the service.",                                                                                                  \
      K_CHECKED, 0, 0, 0, "all|none")                                                                                  \
    X("dlq.topic", "topic", "<application>-dlq", KS_SCOPE_TOPOLOGY,                                                    \
      "The dead-letter topic.",                                                                                        \
      K_CHECKED, 0, 0, 0, NULL)
/* clang-format on */

#define PUBLIC_ROW(name, type, def, scope, doc, kind, off, min, max, values) {name, type, def, scope, doc},
#define SPEC_ROW(name, type, def, scope, doc, kind, off, min, max, values) {kind, off, min, max, values},

const ks_runtime_key_t ks_runtime_keys[] = {KS_RUNTIME_KEYS(PUBLIC_ROW){NULL, NULL, NULL, 0, NULL}};
static const spec_t specs[] = {KS_RUNTIME_KEYS(SPEC_ROW)};
#define NKEYS ((int)(sizeof specs / sizeof specs[0]))

/*
 * librdkafka settings kstreamd depends on. `need` is the value (as
 * rd_kafka_conf_get prints it) the setting must keep; NULL means the
 * property cannot be set at all. Aliases are listed as rows of their own.
 */
static const struct {
    const char *name, *need, *why;
} refused[] = {
    {"group.id", NULL, "the application id is the consumer group; set `application:` in the topology instead"},
    {"transactional.id", NULL,
     "kstreamd has no transactional producer (processing.guarantee exactly_once_v2 is not built yet)"},
    {"metadata.broker.list", NULL, "use bootstrap.servers, which kstreamd reads (it also selects the embedded broker)"},
    {"enable.auto.commit", "false",
     "kstreamd commits offsets itself once the output is flushed and the state committed; auto-commit would commit "
     "records whose output could still be lost"},
    {"auto.commit.enable", "false",
     "kstreamd commits offsets itself once the output is flushed and the state committed; auto-commit would commit "
     "records whose output could still be lost"},
    {"enable.auto.offset.store", "false",
     "kstreamd stores a record's offset only after the record is processed; automatic storing would commit records "
     "not yet processed"},
    {"enable.idempotence", "true",
     "kstreamd's producers are idempotent, so that retried sends neither duplicate nor reorder output records"},
    {"acks", "-1",
     "must be all: the idempotent producer requires it, and a record acknowledged by one broker can be lost"},
    {"request.required.acks", "-1",
     "must be all: the idempotent producer requires it, and a record acknowledged by one broker can be lost"},
    {"partition.assignment.strategy", "range",
     "must be range: co-partitioned inputs (joins, repartition topics) need partition N of each topic in the same "
     "task, which only the range assignor guarantees"},
    {"partitioner", "murmur2_random",
     "must be murmur2_random: a key must land in the partition Kafka Streams and the Java producer pick for it "
     "(murmur2), or joins and state lookups miss it"},
};

/*
 * Values a key's type admits that kstreamd does not implement yet. They are
 * refused with the reason, rather than run as something weaker.
 */
static const struct {
    const char *name, *value, *why;
} unbuilt[] = {
    {"processing.guarantee", "exactly_once_v2",
     "exactly-once is not built yet: kstreamd has no transactional producer, and would silently run at-least-once; "
     "remove the setting or write at_least_once"},
};

/* ---- places and messages ---- */

typedef enum { FROM_ENV, FROM_TOPOLOGY, FROM_SET } origin_t;

/* Where a setting came from; the strings are borrowed for the time of one setting. */
typedef struct {
    origin_t origin;
    char *file; /* env file, topology file, or "--set KEY" */
    char *key;
    int kline, kcol; /* env file and topology: the key; 0 when unknown */
    int vline, vcol; /* env file and topology: the value */
} place_t;

typedef struct {
    ks_runtime_conf_t *out;
    ks_diags_t *diags;
    rd_kafka_conf_t *scratch; /* librdkafka checks names and values on this */
    char *allowed;            /* "bootstrap.servers, state.dir, ..." for unknown-key messages */
} builder_t;

/*
 * Reports a problem with the setting at `pl`: `detail` follows the key as
 * `KEY: detail`. at_value selects the value's position rather than the key's.
 */
static void report(builder_t *b, ks_severity_t sev, const place_t *pl, int at_value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void report(builder_t *b, ks_severity_t sev, const place_t *pl, int at_value, const char *fmt, ...)
{
    ks_buf_t detail = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    ks_buf_reserve(&detail, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(detail.data, (size_t)n + 1, fmt, ap);
    va_end(ap);
    switch (pl->origin) {
    case FROM_ENV:
        ks_diag_add(b->diags, sev, pl->file, at_value ? pl->vline : pl->kline, at_value ? pl->vcol : pl->kcol, "%s: %s",
                    pl->key, detail.data);
        break;
    case FROM_TOPOLOGY:
        ks_diag_add(b->diags, sev, pl->file, at_value ? pl->vline : pl->kline, at_value ? pl->vcol : pl->kcol,
                    "config key %s: %s", pl->key, detail.data);
        break;
    case FROM_SET: ks_diag_add(b->diags, sev, pl->file, 0, 0, "%s", detail.data); break;
    }
    ks_buf_free(&detail);
}

/* Edit distance, for "did you mean"; keys are short. */
static int distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void report_unknown(builder_t *b, const place_t *pl)
{
    const char *near = NULL;
    int best = 3;
    for (int i = 0; i < NKEYS; i++) {
        int d = distance(pl->key, ks_runtime_keys[i].name);
        if (d < best) {
            best = d;
            near = ks_runtime_keys[i].name;
        }
    }
    ks_buf_t msg = {0};
    if (pl->origin == FROM_TOPOLOGY)
        ks_buf_printf(&msg, "config key `%s` is unknown: ", pl->key);
    else
        ks_buf_printf(&msg, "unknown configuration key `%s`: ", pl->key);
    ks_buf_printf(&msg, "not a kstreamd setting (allowed: %s) nor a librdkafka property", b->allowed);
    if (near)
        ks_buf_printf(&msg, "; did you mean `%s`?", near);
    ks_diag_err(b->diags, pl->file, pl->kline, pl->kcol, "%s", msg.data);
    ks_buf_free(&msg);
}

/* ---- values ---- */

static int parse_long(const char *s, long *v)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    for (; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    *v = strtol(s, NULL, 10);
    return errno ? -1 : 0;
}

/* Whether `s` ends in `:PORT` with PORT in [lo, 65535] after a non-empty host; `[v6]:port` allowed. */
static int host_port_ok(const char *s, size_t len, long lo, int need_port)
{
    const char *colon = NULL;
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]))
            return 0;
    const char *close = memchr(s, ']', len);
    const char *from = close ? close : s;
    for (const char *p = s + len; p > from; p--)
        if (p[-1] == ':') {
            colon = p - 1;
            break;
        }
    if (!colon)
        return !need_port && len > 0 && !memchr(s, ':', len);
    if (colon == s)
        return 0;
    const char *port = colon + 1, *end = s + len;
    if (port == end || end - port > 5)
        return 0;
    long v = 0;
    for (const char *p = port; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v >= lo && v <= 65535;
}

/* Index of `v` among the `|`-separated `values`, or -1. */
static int enum_index(const char *values, const char *v)
{
    size_t n = strlen(v);
    int i = 0;
    for (const char *p = values;; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return i;
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

/* "a, b or c" from "a|b|c" (caller frees). */
static char *enum_list(const char *values)
{
    ks_buf_t b = {0};
    const char *last = strrchr(values, '|');
    for (const char *p = values; *p; p++) {
        if (*p != '|')
            ks_buf_putc(&b, *p);
        else
            ks_buf_puts(&b, p == last ? " or " : ", ");
    }
    return ks_buf_steal(&b);
}

/*
 * Parses `v` for kstreamd key `i` into `out`. Returns 0, or -1 after
 * reporting at `pl` (NULL for the built-in defaults, which are valid).
 */
static int set_key(builder_t *b, int i, const char *v, const place_t *pl)
{
    const spec_t *s = &specs[i];
    char *field = (char *)b->out + s->off;
    long n;
    switch (s->kind) {
    case K_SERVERS: {
        int ok = strcmp(v, "embedded") == 0;
        if (!ok) {
            ok = 1;
            for (const char *p = v;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                if (!host_port_ok(p, len, 1, 0))
                    ok = 0;
                if (!comma)
                    break;
                p = comma + 1;
            }
        }
        if (!ok) {
            report(b, KS_SEV_ERROR, pl, 1, "must be `embedded` or a comma-separated list of host:port, not `%s`", v);
            return -1;
        }
        break;
    }
    case K_LISTEN:
        if (*v && strcmp(v, "off") != 0 && !host_port_ok(v, strlen(v), 0, 1)) {
            report(b, KS_SEV_ERROR, pl, 1, "must be HOST:PORT (for example 127.0.0.1:8080) or `off`, not `%s`", v);
            return -1;
        }
        break;
    case K_STRING: break;
    case K_ENUM_STR:
    case K_CHECKED:
        if (s->values && enum_index(s->values, v) < 0) {
            char *list = enum_list(s->values);
            report(b, KS_SEV_ERROR, pl, 1, "must be %s, not `%s`", list, v);
            free(list);
            return -1;
        }
        for (size_t u = 0; pl && u < sizeof unbuilt / sizeof unbuilt[0]; u++)
            if (strcmp(unbuilt[u].name, ks_runtime_keys[i].name) == 0 && strcmp(unbuilt[u].value, v) == 0) {
                report(b, KS_SEV_ERROR, pl, 1, "`%s` is refused: %s", v, unbuilt[u].why);
                return -1;
            }
        break;
    case K_INT:
    case K_REPLICATION:
        if (parse_long(v, &n) || n > s->max || (n < s->min && !(s->kind == K_REPLICATION && n == -1))) {
            if (s->kind == K_REPLICATION)
                report(b, KS_SEV_ERROR, pl, 1,
                       "must be -1 (the broker's default) or an integer from %ld to %ld, not `%s`", s->min, s->max, v);
            else
                report(b, KS_SEV_ERROR, pl, 1, "must be an integer from %ld to %ld, not `%s`", s->min, s->max, v);
            return -1;
        }
        *(int *)field = (int)n;
        break;
    }
    if (s->kind == K_STRING || s->kind == K_SERVERS || s->kind == K_LISTEN || s->kind == K_ENUM_STR) {
        free(*(char **)field);
        *(char **)field = *v ? ks_xstrdup(v) : NULL;
    }
    return 0;
}

static int find_key(const char *name)
{
    for (int i = 0; i < NKEYS; i++)
        if (strcmp(ks_runtime_keys[i].name, name) == 0)
            return i;
    return -1;
}

static void rk_remove(builder_t *b, const char *key)
{
    ks_runtime_conf_t *c = b->out;
    for (int i = 0; i < c->nrk; i++)
        if (strcmp(c->rk_keys[i], key) == 0) {
            free(c->rk_keys[i]);
            free(c->rk_vals[i]);
            memmove(&c->rk_keys[i], &c->rk_keys[i + 1], (size_t)(c->nrk - i - 1) * sizeof(char *));
            memmove(&c->rk_vals[i], &c->rk_vals[i + 1], (size_t)(c->nrk - i - 1) * sizeof(char *));
            c->nrk--;
            return;
        }
}

/* A librdkafka property: librdkafka checks it, then the refusal rules. */
static void set_rk(builder_t *b, const char *key, const char *v, const place_t *pl)
{
    char err[KS_ERRMSG_SIZE] = "";
    rd_kafka_conf_res_t res = rd_kafka_conf_set(b->scratch, key, v, err, sizeof err);
    if (res == RD_KAFKA_CONF_UNKNOWN) {
        report_unknown(b, pl);
        return;
    }
    if (res != RD_KAFKA_CONF_OK) {
        report(b, KS_SEV_ERROR, pl, 1, "rejected by librdkafka: %s", err);
        return;
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (strcmp(refused[i].name, key) != 0)
            continue;
        char now[256];
        size_t len = sizeof now;
        if (!refused[i].need) {
            report(b, KS_SEV_ERROR, pl, 0, "cannot be set: %s", refused[i].why);
            return;
        } else if (rd_kafka_conf_get(b->scratch, key, now, &len) == RD_KAFKA_CONF_OK &&
                   strcmp(now, refused[i].need) != 0) {
            if (strncmp(refused[i].why, "must be", 7) == 0)
                report(b, KS_SEV_ERROR, pl, 1, "%s", refused[i].why);
            else
                report(b, KS_SEV_ERROR, pl, 1, "cannot be `%s`: %s", v, refused[i].why);
            return;
        }
    }
    rk_remove(b, key);
    ks_runtime_conf_t *c = b->out;
    KS_GROW(c->rk_keys, c->nrk);
    KS_GROW(c->rk_vals, c->nrk);
    c->rk_keys[c->nrk] = ks_xstrdup(key);
    c->rk_vals[c->nrk] = ks_xstrdup(v);
    c->nrk++;
}

/*
 * One setting from any source; `v` is "" for an empty value, which is an
 * error: an unset shell variable or a forgotten value must not fall back to
 * a default (the embedded broker, a shared state directory) unnoticed.
 */
static void set_one(builder_t *b, const char *key, const char *v, const place_t *pl)
{
    int i = find_key(key);
    if (!*v) {
        rd_kafka_conf_t *probe = rd_kafka_conf_new();
        char err[KS_ERRMSG_SIZE];
        int known = i >= 0 || rd_kafka_conf_set(probe, key, "", err, sizeof err) != RD_KAFKA_CONF_UNKNOWN;
        rd_kafka_conf_destroy(probe);
        if (!known)
            report_unknown(b, pl);
        else if (i >= 0 && strcmp(key, "bootstrap.servers") == 0)
            report(b, KS_SEV_ERROR, pl, 1,
                   "the value is empty (an unset variable?): write host:port,... or `embedded` for the in-process "
                   "broker");
        else if (i >= 0 && ks_runtime_keys[i].scope != KS_SCOPE_TOPOLOGY && *ks_runtime_keys[i].def)
            report(b, KS_SEV_ERROR, pl, 1,
                   "the value is empty (an unset variable?): give a value, or leave the key out for the default `%s`",
                   ks_runtime_keys[i].def);
        else
            report(b, KS_SEV_ERROR, pl, 1,
                   "the value is empty (an unset variable?): give a value, or leave the key out");
        return;
    }
    if (i < 0) {
        set_rk(b, key, v, pl);
        return;
    }
    if (ks_runtime_keys[i].scope == KS_SCOPE_TOPOLOGY) {
        if (set_key(b, i, v, pl) == 0 && pl->origin != FROM_TOPOLOGY)
            report(b, KS_SEV_WARNING, pl, 0, "applies only in a topology's `config:`; ignored here");
        return;
    }
    set_key(b, i, v, pl);
}

/* ---- sources ---- */

static int is_null(const ks_ynode_t *n)
{
    const char *v = n->value;
    return n->plain && (n->len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
                        strcmp(v, "NULL") == 0);
}

static void load_env(builder_t *b, const char *path)
{
    ks_ydoc_t *doc = ks_yaml_load_file(path, b->diags);
    if (!doc)
        return; /* the loader reported why */
    const ks_ynode_t *root = ks_ydoc_root(doc);
    const char *file = ks_ydoc_file(doc);
    if (root && root->kind != KS_YAML_MAP)
        ks_diag_err(b->diags, file, root->line, root->col,
                    "an environment file must be a mapping of settings (key: value), not a %s",
                    ks_ynode_kind_name(root));
    for (size_t i = 0; root && root->kind == KS_YAML_MAP && i < root->n; i++) {
        const ks_ynode_t *k = root->keys[i], *v = root->items[i];
        place_t pl = {FROM_ENV, (char *)file, k->value, k->line, k->col, v->line, v->col};
        if (v->kind != KS_YAML_SCALAR)
            report(b, KS_SEV_ERROR, &pl, 1, "must be a single value (text, number or boolean), not a %s",
                   ks_ynode_kind_name(v));
        else if (strlen(v->value) != v->len)
            report(b, KS_SEV_ERROR, &pl, 1, "must not contain a NUL character");
        else
            set_one(b, k->value, is_null(v) ? "" : v->value, &pl);
    }
    ks_ydoc_free(doc);
}

static void load_topology(builder_t *b, const ks_topology_t *t)
{
    for (int i = 0; i < t->nconfig; i++) {
        place_t pl = {FROM_TOPOLOGY, t->file, t->config_keys[i], 0, 0, 0, 0};
        if (t->config_key_pos) {
            pl.kline = t->config_key_pos[i].line, pl.kcol = t->config_key_pos[i].col;
            pl.vline = t->config_val_pos[i].line, pl.vcol = t->config_val_pos[i].col;
        }
        set_one(b, t->config_keys[i], t->config_vals[i], &pl);
    }
}

static void load_set(builder_t *b, const char *arg)
{
    const char *eq = strchr(arg, '=');
    ks_buf_t where = {0};
    ks_buf_puts(&where, "--set ");
    if (!eq || eq == arg) {
        ks_buf_puts(&where, arg);
        ks_diag_err(b->diags, where.data, 0, 0, "expected KEY=VALUE");
    } else {
        char *key = ks_xstrndup(arg, (size_t)(eq - arg));
        ks_buf_puts(&where, key);
        place_t pl = {FROM_SET, where.data, key, 0, 0, 0, 0};
        set_one(b, key, eq + 1, &pl);
        free(key);
    }
    ks_buf_free(&where);
}

int ks_runtime_conf_build(ks_runtime_conf_t *out, const char *env_file, const ks_topology_t *t, char *const *sets,
                          int nsets, ks_diags_t *diags)
{
    memset(out, 0, sizeof *out);
    builder_t b = {.out = out, .diags = diags, .scratch = rd_kafka_conf_new()};
    int nerr = diags->nerr;
    ks_buf_t allowed = {0};
    for (int i = 0; i < NKEYS; i++) {
        ks_buf_printf(&allowed, "%s%s", i ? ", " : "", ks_runtime_keys[i].name);
        /* A default of "" is none: the field stays NULL. */
        if (ks_runtime_keys[i].scope != KS_SCOPE_TOPOLOGY && *ks_runtime_keys[i].def)
            set_key(&b, i, ks_runtime_keys[i].def, NULL);
    }
    b.allowed = allowed.data;

    if (env_file)
        load_env(&b, env_file);
    if (t)
        load_topology(&b, t);
    for (int i = 0; i < nsets; i++)
        load_set(&b, sets[i]);

    ks_buf_free(&allowed);
    rd_kafka_conf_destroy(b.scratch);
    if (diags->nerr > nerr) {
        ks_runtime_conf_free(out);
        return -1;
    }
    return 0;
}

void ks_runtime_conf_free(ks_runtime_conf_t *c)
{
    for (int i = 0; i < NKEYS; i++)
        if (specs[i].kind == K_STRING || specs[i].kind == K_SERVERS || specs[i].kind == K_LISTEN ||
            specs[i].kind == K_ENUM_STR)
            free(*(char **)((char *)c + specs[i].off));
    for (int i = 0; i < c->nrk; i++) {
        free(c->rk_keys[i]);
        free(c->rk_vals[i]);
    }
    free(c->rk_keys);
    free(c->rk_vals);
    memset(c, 0, sizeof *c);
}

int ks_runtime_conf_apply(const ks_runtime_conf_t *c, rd_kafka_conf_t *conf, char *errstr, size_t errlen)
{
    for (int i = 0; i < c->nrk; i++) {
        char err[KS_ERRMSG_SIZE];
        if (rd_kafka_conf_set(conf, c->rk_keys[i], c->rk_vals[i], err, sizeof err) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errlen, "%s: %s", c->rk_keys[i], err);
            return -1;
        }
    }
    return 0;
}

/* The value of kstreamd key `i` in `c`, as text. */
static void value_text(const ks_runtime_conf_t *c, int i, char *buf, size_t len)
{
    const char *field = (const char *)c + specs[i].off;
    if (specs[i].kind == K_INT || specs[i].kind == K_REPLICATION) {
        snprintf(buf, len, "%d", *(const int *)field);
    } else {
        const char *v = *(char *const *)field;
        snprintf(buf, len, "%s", v ? v : "(not set)");
    }
}

/* Index of `key` in the `config:` of `t`, or -1. */
static int config_index(const ks_topology_t *t, const char *key)
{
    for (int i = 0; i < t->nconfig; i++)
        if (strcmp(t->config_keys[i], key) == 0)
            return i;
    return -1;
}

int ks_runtime_conf_check_together(const ks_runtime_conf_t *confs, ks_topology_t *const *ts, int n, ks_diags_t *diags)
{
    int nerr = diags->nerr;
    for (int i = 0; i < NKEYS; i++) {
        const char *key = ks_runtime_keys[i].name;
        if (ks_runtime_keys[i].scope != KS_SCOPE_PROCESS)
            continue;
        if (strcmp(key, "embedded.partitions") == 0 &&
            (!confs[0].bootstrap || strcmp(confs[0].bootstrap, "embedded") != 0))
            continue; /* only the embedded broker reads it */
        char first[512], other[512];
        value_text(&confs[0], i, first, sizeof first);
        for (int j = 1; j < n; j++) {
            value_text(&confs[j], i, other, sizeof other);
            if (strcmp(first, other) == 0)
                continue;
            /* Placed where a topology's config: sets it: there it differs from what the other one has. */
            int k = config_index(ts[j], key) >= 0 ? j : 0, o = k == j ? 0 : j;
            int at = config_index(ts[k], key);
            const ks_pos_t *pos = at >= 0 && ts[k]->config_val_pos ? &ts[k]->config_val_pos[at] : NULL;
            ks_diag_err(diags, ts[k]->file, pos ? pos->line : 0, pos ? pos->col : 0,
                        "config key %s: `%s` here, but `%s` for %s (%s): it is one setting for the whole process, "
                        "so the topologies run together must agree; set it the same in both, or run them as separate "
                        "processes",
                        key, k == j ? other : first, k == j ? first : other, ts[o]->file, ts[o]->application);
            break;
        }
    }
    return diags->nerr > nerr ? -1 : 0;
}
