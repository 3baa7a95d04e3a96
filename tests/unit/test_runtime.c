/*
 * test_runtime.c: the runtime configuration: defaults, precedence of the
 * environment file < the topology's config: < --set, validation messages
 * with their place, librdkafka pass-through (checked by librdkafka),
 * settings refused because they break delivery semantics, applying to an
 * rd_kafka_conf_t, and the shipped environment files in configs/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/kafka/runtime.h"
#include "../../src/util/util.h"

/* Fixtures are found relative to the repository root, where `make test` runs. */
#ifndef KS_TEST_DIR
#define KS_TEST_DIR "tests"
#endif
#define FIXTURE(name) KS_TEST_DIR "/config/" name

/* The kstreamd keys as the unknown-key message lists them. */
#define ALLOWED                                                                                                        \
    "bootstrap.servers, state.dir, query.listen, log.level, application.server, commit.interval.ms, "                  \
    "num.stream.threads, "                                                                                             \
    "processing.guarantee, startup.timeout.ms, replication.factor, embedded.partitions, log.summary.interval.ms, "     \
    "repartition.purge.interval.ms, log.sample.interval.ms, cache.max.bytes, errors.tolerance, dlq.topic"

/* Builds and expects success with no diagnostics at all. */
static void build_ok(ks_runtime_conf_t *c, const char *env, const ks_topology_t *t, char *const *sets, int nsets)
{
    ks_diags_t diags = {0};
    int rc = ks_runtime_conf_build(c, env, t, sets, nsets, &diags);
    if (rc != 0 || diags.head) {
        char *s = ks_diags_string(&diags);
        print_error("unexpected diagnostics:\n%s", s);
        free(s);
        ks_diags_free(&diags);
        fail();
    }
}

/* Builds and expects failure; returns every diagnostic as one string (caller frees). */
static char *build_err(const char *env, const ks_topology_t *t, char *const *sets, int nsets)
{
    ks_runtime_conf_t c;
    ks_diags_t diags = {0};
    assert_int_equal(ks_runtime_conf_build(&c, env, t, sets, nsets, &diags), -1);
    assert_true(diags.nerr > 0);
    /* A failed build leaves nothing to free. */
    assert_null(c.bootstrap);
    assert_null(c.rk_keys);
    assert_int_equal(c.nrk, 0);
    char *s = ks_diags_string(&diags);
    ks_diags_free(&diags);
    return s;
}

static void assert_set_err(const char *arg, const char *expected)
{
    char *sets[] = {(char *)arg};
    char *s = build_err(NULL, NULL, sets, 1);
    assert_string_equal(s, expected);
    free(s);
}

/* The value of pass-through property `key`, or NULL. */
static const char *rk(const ks_runtime_conf_t *c, const char *key)
{
    for (int i = 0; i < c->nrk; i++)
        if (strcmp(c->rk_keys[i], key) == 0)
            return c->rk_vals[i];
    return NULL;
}

/* A topology with only a file name and config: entries, as the loader would fill them. */
typedef struct {
    ks_topology_t t;
    char *keys[8], *vals[8];
} fake_topology_t;

static void fake_topology(fake_topology_t *f, const char *file, const char *const *kv, int n)
{
    memset(f, 0, sizeof *f);
    f->t.file = (char *)file;
    for (int i = 0; i < n; i++) {
        f->keys[i] = (char *)kv[2 * i];
        f->vals[i] = (char *)kv[2 * i + 1];
    }
    f->t.config_keys = f->keys;
    f->t.config_vals = f->vals;
    f->t.nconfig = n;
}

/* ---- defaults and precedence ---- */

static void defaults_without_any_source(void **state)
{
    (void)state;
    ks_runtime_conf_t c;
    build_ok(&c, NULL, NULL, NULL, 0);
    assert_null(c.bootstrap); /* no default cluster: the embedded broker only when written */
    assert_string_equal(c.state_dir, "/tmp/kstreamd");
    assert_string_equal(c.query_listen, "127.0.0.1:7070"); /* the HTTP server is on by default, on loopback */
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.commit_interval_ms, 30000);
    assert_int_equal(c.num_stream_threads, 1);
    assert_int_equal(c.startup_timeout_ms, 30000);
    assert_int_equal(c.replication_factor, -1);
    assert_int_equal(c.embedded_partitions, 3);
    assert_int_equal(c.progress_interval_ms, 120000);
    assert_int_equal(c.nrk, 0);
    ks_runtime_conf_free(&c);
    ks_runtime_conf_free(&c); /* freeing twice is harmless: the struct is zeroed */
}

static void env_file_sets_kstreamd_and_librdkafka_keys(void **state)
{
    (void)state;
    ks_runtime_conf_t c;
    build_ok(&c, FIXTURE("runtime_env.yaml"), NULL, NULL, 0);
    assert_string_equal(c.bootstrap, "broker-1:9092,broker-2:9092");
    assert_string_equal(c.state_dir, "/tmp/kstreamd-test-env");
    assert_int_equal(c.commit_interval_ms, 5000);
    assert_int_equal(c.num_stream_threads, 2);
    assert_string_equal(c.log_level, "debug");
    assert_int_equal(c.nrk, 2);
    assert_string_equal(c.rk_keys[0], "fetch.wait.max.ms");
    assert_string_equal(c.rk_vals[0], "50");
    assert_string_equal(c.rk_keys[1], "compression.type");
    assert_string_equal(c.rk_vals[1], "lz4");
    ks_runtime_conf_free(&c);
}

static void precedence_env_then_topology_then_set(void **state)
{
    (void)state;
    ks_diags_t diags = {0};
    ks_topology_t *t = ks_topology_load(FIXTURE("runtime_topology.yaml"), &diags);
    if (!t) {
        char *s = ks_diags_string(&diags);
        print_error("%s", s);
        free(s);
        fail();
    }
    ks_diags_free(&diags);

    /* The topology overrides the environment file. */
    ks_runtime_conf_t c;
    build_ok(&c, FIXTURE("runtime_env.yaml"), t, NULL, 0);
    assert_int_equal(c.commit_interval_ms, 2000);
    assert_int_equal(c.num_stream_threads, 2); /* only in the env file */
    assert_string_equal(rk(&c, "compression.type"), "zstd");
    assert_string_equal(rk(&c, "fetch.wait.max.ms"), "50");
    ks_runtime_conf_free(&c);

    /* --set overrides both; an overridden property moves to the end, so later wins even through aliases. */
    char *sets[] = {"commit.interval.ms=250", "compression.type=gzip", "log.level=warn"};
    build_ok(&c, FIXTURE("runtime_env.yaml"), t, sets, 3);
    assert_int_equal(c.commit_interval_ms, 250);
    assert_string_equal(c.log_level, "warn");
    assert_int_equal(c.nrk, 2);
    assert_string_equal(c.rk_keys[0], "fetch.wait.max.ms");
    assert_string_equal(c.rk_keys[1], "compression.type");
    assert_string_equal(c.rk_vals[1], "gzip");
    ks_runtime_conf_free(&c);
    ks_topology_free(t);
}

static void empty_value_is_an_error(void **state)
{
    (void)state;
    /* No silent fallback: not to the embedded broker, not to the default state directory. */
    assert_set_err("bootstrap.servers=", "--set bootstrap.servers: the value is empty (an unset variable?): write "
                                         "host:port,... or `embedded` for the in-process broker\n");
    assert_set_err("state.dir=", "--set state.dir: the value is empty (an unset variable?): give a value, or leave the "
                                 "key out for the default `/tmp/kstreamd`\n");
    assert_set_err("query.listen=",
                   "--set query.listen: the value is empty (an unset variable?): give a value, or leave "
                   "the key out for the default `127.0.0.1:7070`\n");
    assert_set_err("fetch.wait.max.ms=", "--set fetch.wait.max.ms: the value is empty (an unset variable?): give a "
                                         "value, or leave the key out\n");
    assert_set_err("dlq.topic=", "--set dlq.topic: the value is empty (an unset variable?): give a value, or leave the "
                                 "key out\n");
    /* The name of a key without a value is still checked. */
    assert_set_err("fetch.wait.max.msx=", "--set fetch.wait.max.msx: unknown configuration key `fetch.wait.max.msx`: "
                                          "not a kstreamd setting (allowed: " ALLOWED ") nor a librdkafka property\n");
    /* In an environment file and a topology's config: too, with the place. */
    char *path = "/tmp/ks_test_runtime_empty.yaml";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("state.dir:\nbootstrap.servers: ''\n", f);
    fclose(f);
    char *s = build_err(path, NULL, NULL, 0);
    assert_string_equal(s, "/tmp/ks_test_runtime_empty.yaml:1:11: state.dir: the value is empty (an unset variable?): "
                           "give a value, or leave the key out for the default `/tmp/kstreamd`\n"
                           "/tmp/ks_test_runtime_empty.yaml:2:20: bootstrap.servers: the value is empty (an unset "
                           "variable?): write host:port,... or `embedded` for the in-process broker\n");
    free(s);
    remove(path);
}

/* ---- validation and its messages ---- */

static void env_file_errors_carry_file_line_col(void **state)
{
    (void)state;
    char *s = build_err(FIXTURE("runtime_bad.yaml"), NULL, NULL, 0);
    assert_string_equal(
        s, "tests/config/runtime_bad.yaml:2:21: commit.interval.ms: must be an integer from 1 to 86400000, not `soon`\n"
           "tests/config/runtime_bad.yaml:3:21: num.stream.threads: must be an integer from 1 to 64, not `0`\n"
           "tests/config/runtime_bad.yaml:4:12: log.level: must be error, warn, info or debug, not `verbose`\n"
           "tests/config/runtime_bad.yaml:5:23: processing.guarantee: must be at_least_once or exactly_once_v2, not "
           "`exactly_once`\n"
           "tests/config/runtime_bad.yaml:6:15: query.listen: must be HOST:PORT (for example 127.0.0.1:8080) or "
           "`off`, not `localhost`\n"
           "tests/config/runtime_bad.yaml:7:20: bootstrap.servers: must be a single value (text, number or boolean), "
           "not a mapping\n"
           "tests/config/runtime_bad.yaml:8:19: compression.type: rejected by librdkafka: Invalid value \"zipzap\" for "
           "configuration property \"compression.codec\"\n"
           "tests/config/runtime_bad.yaml:9:1: group.id: cannot be set: the application id is the consumer group; set "
           "`application:` in the topology instead\n"
           "tests/config/runtime_bad.yaml:10:1: unknown configuration key `no.such.key`: not a kstreamd setting "
           "(allowed: " ALLOWED ") nor a librdkafka property\n");
    free(s);
}

static void set_errors_name_the_key(void **state)
{
    (void)state;
    assert_set_err("num.stream.threads=65", "--set num.stream.threads: must be an integer from 1 to 64, not `65`\n");
    assert_set_err(
        "replication.factor=0",
        "--set replication.factor: must be -1 (the broker's default) or an integer from 1 to 32767, not `0`\n");
    assert_set_err("commit.interval.ms=1e3",
                   "--set commit.interval.ms: must be an integer from 1 to 86400000, not `1e3`\n");
    assert_set_err("bootstrap.servers=kafka:99999",
                   "--set bootstrap.servers: must be `embedded` or a comma-separated list of host:port, not "
                   "`kafka:99999`\n");
    assert_set_err("log.level", "--set log.level: expected KEY=VALUE\n");
    assert_set_err("=info", "--set =info: expected KEY=VALUE\n");
}

static void address_forms_accepted(void **state)
{
    (void)state;
    const char *ok[] = {"bootstrap.servers=kafka",
                        "bootstrap.servers=[::1]:9092,kafka-2:9093",
                        "bootstrap.servers=SASL_SSL://kafka:9093",
                        "query.listen=[::]:8080",
                        "query.listen=0.0.0.0:0",
                        "query.listen=off"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *sets[] = {(char *)ok[i]};
        ks_runtime_conf_t c;
        build_ok(&c, NULL, NULL, sets, 1);
        ks_runtime_conf_free(&c);
    }
    assert_set_err("bootstrap.servers=kafka:9092,,kafka-2:9092", "--set bootstrap.servers: must be `embedded` or a "
                                                                 "comma-separated list of host:port, not "
                                                                 "`kafka:9092,,kafka-2:9092`\n");
    assert_set_err("query.listen=:8080",
                   "--set query.listen: must be HOST:PORT (for example 127.0.0.1:8080) or `off`, not `:8080`\n");
}

static void topology_errors_name_the_topology_file(void **state)
{
    (void)state;
    const char *kv[] = {"num.stream.threads", "many", "group.id", "orders", "colour", "blue"};
    fake_topology_t f;
    fake_topology(&f, "app.yaml", kv, 3);
    char *s = build_err(NULL, &f.t, NULL, 0);
    assert_string_equal(s, "app.yaml: config key num.stream.threads: must be an integer from 1 to 64, not `many`\n"
                           "app.yaml: config key group.id: cannot be set: the application id is the consumer group; "
                           "set `application:` in the topology instead\n"
                           "app.yaml: config key `colour` is unknown: not a kstreamd setting (allowed: " ALLOWED
                           ") nor a librdkafka property\n");
    free(s);
}

static void unknown_key_lists_allowed_keys_and_suggests(void **state)
{
    (void)state;
    assert_set_err("x=1", "--set x: unknown configuration key `x`: not a kstreamd setting (allowed: " ALLOWED
                          ") nor a librdkafka property\n");
    assert_set_err("comit.interval.ms=1000",
                   "--set comit.interval.ms: unknown configuration key `comit.interval.ms`: not a kstreamd setting "
                   "(allowed: " ALLOWED ") nor a librdkafka property; did you mean `commit.interval.ms`?\n");
}

static void bad_env_file_is_reported(void **state)
{
    (void)state;
    char *s = build_err(FIXTURE("runtime_missing.yaml"), NULL, NULL, 0);
    assert_non_null(strstr(s, "tests/config/runtime_missing.yaml: "));
    free(s);
    /* A list is not a mapping of settings. */
    char *path = "/tmp/ks_test_runtime_list.yaml";
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("- bootstrap.servers\n", f);
    fclose(f);
    s = build_err(path, NULL, NULL, 0);
    assert_string_equal(s, "/tmp/ks_test_runtime_list.yaml:1:1: an environment file must be a mapping of settings "
                           "(key: value), not a sequence\n");
    free(s);
    remove(path);
}

/* ---- librdkafka pass-through ---- */

static void librdkafka_properties_pass_through(void **state)
{
    (void)state;
    char *sets[] = {"fetch.wait.max.ms=50",
                    "compression.type=lz4",
                    "security.protocol=SASL_SSL",
                    "sasl.mechanism=SCRAM-SHA-512",
                    "acks=all",
                    "enable.auto.commit=false",
                    "isolation.level=read_committed"};
    ks_runtime_conf_t c;
    build_ok(&c, NULL, NULL, sets, 7);
    assert_int_equal(c.nrk, 7);
    assert_string_equal(rk(&c, "fetch.wait.max.ms"), "50");
    assert_string_equal(rk(&c, "compression.type"), "lz4");
    assert_string_equal(rk(&c, "acks"), "all");
    ks_runtime_conf_free(&c);
}

static void librdkafka_rejects_a_bad_value_with_its_message(void **state)
{
    (void)state;
    assert_set_err("compression.type=zipzap",
                   "--set compression.type: rejected by librdkafka: Invalid value \"zipzap\" "
                   "for configuration property \"compression.codec\"\n");
    assert_set_err("fetch.wait.max.ms=abc", "--set fetch.wait.max.ms: rejected by librdkafka: Invalid value for "
                                            "configuration property \"fetch.wait.max.ms\"\n");
}

/* ---- settings that would break the semantics ---- */

static void group_id_is_refused(void **state)
{
    (void)state;
    assert_set_err("group.id=orders", "--set group.id: cannot be set: the application id is the consumer group; set "
                                      "`application:` in the topology instead\n");
}

static void semantics_breaking_settings_are_refused(void **state)
{
    (void)state;
    assert_set_err("enable.auto.commit=true",
                   "--set enable.auto.commit: cannot be `true`: kstreamd commits offsets itself once the output is "
                   "flushed and the state committed; auto-commit would commit records whose output could still be "
                   "lost\n");
    assert_set_err("acks=1", "--set acks: must be all: the idempotent producer requires it, and a record acknowledged "
                             "by one broker can be lost\n");
    assert_set_err("request.required.acks=0", "--set request.required.acks: must be all: the idempotent producer "
                                              "requires it, and a record acknowledged by one broker can be lost\n");
    char *s;
    char *more[] = {"enable.idempotence=false",      "partition.assignment.strategy=cooperative-sticky",
                    "partitioner=consistent_random", "transactional.id=x",
                    "enable.auto.offset.store=true", "metadata.broker.list=kafka:9092"};
    s = build_err(NULL, NULL, more, 6);
    assert_non_null(strstr(s, "--set enable.idempotence: cannot be `false`: "));
    assert_non_null(strstr(s, "--set partition.assignment.strategy: must be range: "));
    assert_non_null(strstr(s, "--set partitioner: must be murmur2_random: "));
    assert_non_null(strstr(s, "--set transactional.id: cannot be set: "));
    assert_non_null(strstr(s, "--set enable.auto.offset.store: cannot be `true`: "));
    assert_non_null(strstr(s, "--set metadata.broker.list: cannot be set: use bootstrap.servers"));
    free(s);
}

static void exactly_once_is_refused_until_built(void **state)
{
    (void)state;
    assert_set_err("processing.guarantee=exactly_once_v2",
                   "--set processing.guarantee: `exactly_once_v2` is refused: exactly-once is not built yet: kstreamd "
                   "has no transactional producer, and would silently run at-least-once; remove the setting or write "
                   "at_least_once\n");
    /* In a topology's config: with the value's place. */
    const char *kv[] = {"processing.guarantee", "exactly_once_v2"};
    fake_topology_t f;
    fake_topology(&f, "app.yaml", kv, 1);
    ks_pos_t kpos = {"app.yaml", 3, 3}, vpos = {"app.yaml", 3, 25};
    f.t.config_key_pos = &kpos;
    f.t.config_val_pos = &vpos;
    char *s = build_err(NULL, &f.t, NULL, 0);
    assert_string_equal(s, "app.yaml:3:25: config key processing.guarantee: `exactly_once_v2` is refused: exactly-once "
                           "is not built yet: kstreamd has no transactional producer, and would silently run "
                           "at-least-once; remove the setting or write at_least_once\n");
    free(s);
    /* at_least_once is fine, and so is read_uncommitted (Kafka Streams' default) with it. */
    char *sets[] = {"processing.guarantee=at_least_once", "isolation.level=read_uncommitted"};
    ks_runtime_conf_t c;
    build_ok(&c, NULL, NULL, sets, 2);
    ks_runtime_conf_free(&c);
}

static void warnings_do_not_fail_the_build(void **state)
{
    (void)state;
    char *sets[] = {"errors.tolerance=none"};
    ks_runtime_conf_t c;
    ks_diags_t diags = {0};
    assert_int_equal(ks_runtime_conf_build(&c, NULL, NULL, sets, 1, &diags), 0);
    assert_int_equal(diags.nerr, 0);
    char *s = ks_diags_string(&diags);
    assert_string_equal(s, "--set errors.tolerance: warning: applies only in a topology's `config:`; ignored here\n");
    free(s);
    ks_diags_free(&diags);
    ks_runtime_conf_free(&c);
    /* errors.tolerance is still checked. */
    assert_set_err("errors.tolerance=some", "--set errors.tolerance: must be all or none, not `some`\n");
}

/* Two services with different process-wide settings are refused, naming both files. */
static void process_wide_settings_must_agree(void **state)
{
    (void)state;
    const char *kv1[] = {"log.level", "debug", "commit.interval.ms", "100"};
    const char *kv2[] = {"commit.interval.ms", "5000"};
    fake_topology_t f[2];
    fake_topology(&f[0], "a.yaml", kv1, 2);
    fake_topology(&f[1], "b.yaml", kv2, 1);
    f[0].t.application = "app-a";
    f[1].t.application = "app-b";
    ks_pos_t kpos[2] = {{"a.yaml", 3, 3}, {"a.yaml", 4, 3}}, vpos[2] = {{"a.yaml", 3, 14}, {"a.yaml", 4, 23}};
    f[0].t.config_key_pos = kpos;
    f[0].t.config_val_pos = vpos;
    ks_runtime_conf_t confs[2];
    build_ok(&confs[0], NULL, &f[0].t, NULL, 0);
    build_ok(&confs[1], NULL, &f[1].t, NULL, 0);
    /* Each keeps its own per-application settings. */
    assert_int_equal(confs[0].commit_interval_ms, 100);
    assert_int_equal(confs[1].commit_interval_ms, 5000);
    ks_topology_t *ts[2] = {&f[0].t, &f[1].t};
    ks_diags_t diags = {0};
    assert_int_equal(ks_runtime_conf_check_together(confs, ts, 2, &diags), -1);
    char *s = ks_diags_string(&diags);
    assert_string_equal(s, "a.yaml:3:14: config key log.level: `debug` here, but `info` for b.yaml (app-b): it is one "
                           "setting for the whole process, so the topologies run together must agree; set it the same "
                           "in both, or run them as separate processes\n");
    free(s);
    ks_diags_free(&diags);
    /* The same log level in both is fine. */
    char *sets[] = {"log.level=warn"};
    ks_runtime_conf_free(&confs[0]);
    ks_runtime_conf_free(&confs[1]);
    build_ok(&confs[0], NULL, &f[0].t, sets, 1);
    build_ok(&confs[1], NULL, &f[1].t, sets, 1);
    assert_int_equal(ks_runtime_conf_check_together(confs, ts, 2, &diags), 0);
    assert_null(diags.head);
    ks_runtime_conf_free(&confs[0]);
    ks_runtime_conf_free(&confs[1]);
}

/* ---- applying to librdkafka ---- */

static void apply_sets_every_pass_through_property(void **state)
{
    (void)state;
    char *sets[] = {"fetch.wait.max.ms=50", "compression.type=lz4", "client.id=runtime-test",
                    "bootstrap.servers=k:9092"};
    ks_runtime_conf_t c;
    build_ok(&c, NULL, NULL, sets, 4);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    assert_int_equal(ks_runtime_conf_apply(&c, conf, err, sizeof err), 0);
    const char *want[][2] = {{"fetch.wait.max.ms", "50"}, {"compression.type", "lz4"}, {"client.id", "runtime-test"}};
    for (size_t i = 0; i < 3; i++) {
        char v[256];
        size_t len = sizeof v;
        assert_int_equal(rd_kafka_conf_get(conf, want[i][0], v, &len), RD_KAFKA_CONF_OK);
        assert_string_equal(v, want[i][1]);
    }
    /* bootstrap.servers is the driver's to set: it may be the embedded broker's address. */
    char v[256];
    size_t len = sizeof v;
    assert_int_equal(rd_kafka_conf_get(conf, "bootstrap.servers", v, &len), RD_KAFKA_CONF_UNKNOWN);
    rd_kafka_conf_destroy(conf);
    ks_runtime_conf_free(&c);
}

static void apply_reports_librdkafka_errors(void **state)
{
    (void)state;
    char *keys[] = {"linger.ms", "compression.type"}, *vals[] = {"5", "zipzap"};
    ks_runtime_conf_t c = {.rk_keys = keys, .rk_vals = vals, .nrk = 2};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[512];
    assert_int_equal(ks_runtime_conf_apply(&c, conf, err, sizeof err), -1);
    assert_string_equal(err,
                        "compression.type: Invalid value \"zipzap\" for configuration property \"compression.codec\"");
    rd_kafka_conf_destroy(conf);
}

/* ---- the shipped environment files ---- */

static void config_local_loads(void **state)
{
    (void)state;
    ks_runtime_conf_t c;
    build_ok(&c, "configs/local.yaml", NULL, NULL, 0);
    assert_string_equal(c.bootstrap, "embedded");
    /* State lives in the checkout (its ignored .run/), not in a directory every checkout shares. */
    assert_string_equal(c.state_dir, ".run/local-state");
    assert_string_equal(c.log_level, "info");
    assert_int_equal(c.commit_interval_ms, 1000);
    /* The demo logs a sample record of each output topic. */
    assert_int_equal(c.sample_interval_ms, 5000);
    assert_int_equal(c.purge_interval_ms, 30000);
    ks_runtime_conf_free(&c);
}

static void config_dev_loads(void **state)
{
    (void)state;
    ks_runtime_conf_t c;
    build_ok(&c, "configs/dev.yaml", NULL, NULL, 0);
    assert_string_equal(c.bootstrap, "127.0.0.1:9092");
    assert_string_equal(c.query_listen, "127.0.0.1:8080");
    assert_non_null(c.state_dir);
    ks_runtime_conf_free(&c);
}

static void config_prod_example_loads_with_env_defaults(void **state)
{
    (void)state;
    const char *vars[] = {"KAFKA_USER", "KAFKA_PASSWORD", "KAFKA_BOOTSTRAP", "KAFKA_CA", "HOSTNAME"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    ks_runtime_conf_t c;
    build_ok(&c, "configs/prod.example.yaml", NULL, NULL, 0);
    assert_non_null(strstr(c.bootstrap, ":9093"));
    assert_string_equal(rk(&c, "security.protocol"), "SASL_SSL");
    assert_string_equal(rk(&c, "sasl.mechanism"), "SCRAM-SHA-512");
    assert_string_equal(rk(&c, "sasl.username"), "kstreamd");
    assert_non_null(rk(&c, "sasl.password"));
    assert_non_null(rk(&c, "ssl.ca.location"));
    assert_null(rk(&c, "acks"));
    ks_runtime_conf_free(&c);

    /* With the variables set, they are used. */
    setenv("KAFKA_USER", "order-enrich", 1);
    setenv("KAFKA_PASSWORD", "s3cret", 1);
    build_ok(&c, "configs/prod.example.yaml", NULL, NULL, 0);
    assert_string_equal(rk(&c, "sasl.username"), "order-enrich");
    assert_string_equal(rk(&c, "sasl.password"), "s3cret");
    ks_runtime_conf_free(&c);
    unsetenv("KAFKA_USER");
    unsetenv("KAFKA_PASSWORD");
}

/* ---- the key table ---- */

static void key_table_is_complete(void **state)
{
    (void)state;
    int n = 0;
    for (const ks_runtime_key_t *k = ks_runtime_keys; k->name; k++, n++) {
        assert_non_null(k->type);
        assert_non_null(k->def);
        assert_non_null(k->doc);
        assert_true(strlen(k->doc) > 10);
    }
    assert_int_equal(n, 17);
}

/* The scope column: which keys must agree between topologies, and which only a topology's config: reads. */
static void key_scopes(void **state)
{
    ks_buf_t process = {0}, topology = {0};
    for (const ks_runtime_key_t *k = ks_runtime_keys; k->name; k++) {
        if (k->scope == KS_SCOPE_PROCESS)
            ks_buf_printf(&process, " %s", k->name);
        else if (k->scope == KS_SCOPE_TOPOLOGY)
            ks_buf_printf(&topology, " %s", k->name);
        else
            assert_int_equal(k->scope, KS_SCOPE_SERVICE);
    }
    assert_string_equal(process.data,
                        " bootstrap.servers query.listen log.level application.server embedded.partitions");
    assert_string_equal(topology.data, " errors.tolerance dlq.topic");
    assert_string_equal(ks_runtime_scope_name(KS_SCOPE_PROCESS), "process");
    assert_string_equal(ks_runtime_scope_name(KS_SCOPE_SERVICE), "service");
    assert_string_equal(ks_runtime_scope_name(KS_SCOPE_TOPOLOGY), "topology");
    ks_buf_free(&process);
    ks_buf_free(&topology);
}

/* A service-scoped key may differ between topologies; a process-scoped one read from the rows may not. */
static void only_process_keys_must_agree(void **state)
{
    char *a[] = {"query.listen=127.0.0.1:8080", "num.stream.threads=2"};
    char *b[] = {"query.listen=127.0.0.1:8081", "num.stream.threads=3"};
    fake_topology_t f[2];
    fake_topology(&f[0], "a.yaml", NULL, 0);
    fake_topology(&f[1], "b.yaml", NULL, 0);
    f[0].t.application = "app-a";
    f[1].t.application = "app-b";
    ks_runtime_conf_t confs[2];
    build_ok(&confs[0], NULL, &f[0].t, a, 2);
    build_ok(&confs[1], NULL, &f[1].t, b, 2);
    ks_topology_t *ts[2] = {&f[0].t, &f[1].t};
    ks_diags_t diags = {0};
    assert_int_equal(ks_runtime_conf_check_together(confs, ts, 2, &diags), -1);
    char *s = ks_diags_string(&diags);
    assert_non_null(strstr(s, "config key query.listen: "));
    assert_null(strstr(s, "num.stream.threads"));
    assert_int_equal(diags.nerr, 1);
    free(s);
    ks_diags_free(&diags);
    ks_runtime_conf_free(&confs[0]);
    ks_runtime_conf_free(&confs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_without_any_source),
        cmocka_unit_test(env_file_sets_kstreamd_and_librdkafka_keys),
        cmocka_unit_test(precedence_env_then_topology_then_set),
        cmocka_unit_test(empty_value_is_an_error),
        cmocka_unit_test(env_file_errors_carry_file_line_col),
        cmocka_unit_test(set_errors_name_the_key),
        cmocka_unit_test(address_forms_accepted),
        cmocka_unit_test(topology_errors_name_the_topology_file),
        cmocka_unit_test(unknown_key_lists_allowed_keys_and_suggests),
        cmocka_unit_test(bad_env_file_is_reported),
        cmocka_unit_test(librdkafka_properties_pass_through),
        cmocka_unit_test(librdkafka_rejects_a_bad_value_with_its_message),
        cmocka_unit_test(group_id_is_refused),
        cmocka_unit_test(semantics_breaking_settings_are_refused),
        cmocka_unit_test(exactly_once_is_refused_until_built),
        cmocka_unit_test(warnings_do_not_fail_the_build),
        cmocka_unit_test(process_wide_settings_must_agree),
        cmocka_unit_test(apply_sets_every_pass_through_property),
        cmocka_unit_test(apply_reports_librdkafka_errors),
        cmocka_unit_test(config_local_loads),
        cmocka_unit_test(config_dev_loads),
        cmocka_unit_test(config_prod_example_loads_with_env_defaults),
        cmocka_unit_test(key_table_is_complete),
        cmocka_unit_test(key_scopes),
        cmocka_unit_test(only_process_keys_must_agree),
    };
    return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
