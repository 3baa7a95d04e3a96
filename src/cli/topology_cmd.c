/*
 * topology_cmd.c: `kstreamd -c ...` (run, --validate, --dump-topology) and
 * `kstreamd test ...`.
 *
 * Options come in any order. Run and --validate check the same things: the
 * topology files, each service's runtime configuration (-E, the topology's
 * `config:`, --set), that the services run together agree on what the
 * process has once, and what the engine refuses to run; only run connects.
 * --validate together with --dump-topology does both: the checks first, then
 * the description on stdout, the `ok` lines on stderr so that stdout stays
 * one document.
 */
#include "topology_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/engine.h"
#include "../kafka/kafka.h"
#include "../http/service.h"
#include "../kafka/runtime.h"
#include "../kafka/metrics.h"
#include "../kafka/status.h"
#include "../testdriver/testdriver.h"
#include "../topology/topology.h"
#include "../util/log.h"
#include "../util/util.h"

#define MAX_FILES 64
#define MAX_SETS 128

typedef struct {
    const char *files[MAX_FILES];
    int nfiles;
    const char *env_file;
    char *sets[MAX_SETS];
    int nsets;
    int validate, dump;
    ks_describe_fmt_t fmt;
} run_args_t;

/* Whether `a` is one of the options ks_cmd_run takes (so it cannot be an option's value). */
static int is_option(const char *a)
{
    return strcmp(a, "-c") == 0 || strcmp(a, "-E") == 0 || strcmp(a, "--set") == 0 || strcmp(a, "--validate") == 0 ||
           strncmp(a, "--dump-topology", 15) == 0;
}

int ks_cmd_is_run_option(const char *a)
{
    return is_option(a);
}

/* The value of option argv[*i], or NULL after saying what it needs. */
static const char *option_value(int argc, char **argv, int *i, const char *needs)
{
    const char *opt = argv[*i];
    if (*i + 1 >= argc || is_option(argv[*i + 1])) {
        fprintf(stderr, "kstreamd: %s needs %s (see kstreamd --help)\n", opt, needs);
        return NULL;
    }
    return argv[++*i];
}

/* Parses the options of `kstreamd -c ...`; returns 0, or 2 after a message. */
static int parse_args(int argc, char **argv, run_args_t *a)
{
    memset(a, 0, sizeof *a);
    a->fmt = KS_DESCRIBE_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (strcmp(arg, "-c") == 0) {
            if (!(v = option_value(argc, argv, &i, "a topology file: -c TOPOLOGY.yaml")))
                return 2;
            if (a->nfiles == MAX_FILES) {
                fprintf(stderr, "kstreamd: at most %d topology files (-c) in one process\n", MAX_FILES);
                return 2;
            }
            a->files[a->nfiles++] = v;
        } else if (strcmp(arg, "-E") == 0) {
            if (!(v = option_value(argc, argv, &i, "an environment file: -E ENV.yaml")))
                return 2;
            if (a->env_file) {
                fprintf(stderr, "kstreamd: -E given twice (%s and %s); one environment file per process\n", a->env_file,
                        v);
                return 2;
            }
            a->env_file = v;
        } else if (strcmp(arg, "--set") == 0) {
            if (!(v = option_value(argc, argv, &i, "KEY=VALUE: --set commit.interval.ms=1000")))
                return 2;
            if (a->nsets == MAX_SETS) {
                fprintf(stderr, "kstreamd: at most %d --set options\n", MAX_SETS);
                return 2;
            }
            a->sets[a->nsets++] = (char *)v;
        } else if (strcmp(arg, "--validate") == 0) {
            a->validate = 1;
        } else if (strncmp(arg, "--dump-topology", 15) == 0) {
            a->dump = 1;
            const char *f = arg[15] == '=' ? arg + 16 : arg[15] == 0 ? "text" : NULL;
            if (f && strcmp(f, "text") == 0)
                a->fmt = KS_DESCRIBE_TEXT;
            else if (f && strcmp(f, "json") == 0)
                a->fmt = KS_DESCRIBE_JSON;
            else if (f && strcmp(f, "dot") == 0)
                a->fmt = KS_DESCRIBE_DOT;
            else {
                fprintf(stderr, "kstreamd: --dump-topology takes text, json or dot, not `%s`\n", arg + 15);
                return 2;
            }
        } else {
            fprintf(stderr, "kstreamd: unknown argument `%s` (see kstreamd --help)\n", arg);
            return 2;
        }
    }
    if (a->nfiles == 0) {
        fprintf(stderr, "kstreamd: no topology file: use -c FILE\n");
        return 2;
    }
    return 0;
}

/* Two services with one application id would share a consumer group and a state directory. */
static void check_applications(ks_topology_t *const *ts, int n, ks_diags_t *diags)
{
    for (int j = 1; j < n; j++)
        for (int i = 0; i < j; i++)
            if (strcmp(ts[i]->application, ts[j]->application) == 0) {
                ks_diag_err(diags, ts[j]->file, 0, 0,
                            "application `%s` is also the application of %s: two services in one process would share "
                            "one consumer group and one state directory; give each its own `application`",
                            ts[j]->application, ts[i]->file);
                break;
            }
}

/* Adds to `into` each diagnostic of `from` it does not hold yet (-E and --set are checked once per service). */
static void merge_unique(ks_diags_t *into, const ks_diags_t *from)
{
    for (const ks_diag_t *g = from->head; g; g = g->next) {
        int seen = 0;
        for (const ks_diag_t *h = into->head; h && !seen; h = h->next)
            seen = h->sev == g->sev && h->line == g->line && h->col == g->col && strcmp(h->file, g->file) == 0 &&
                   strcmp(h->msg, g->msg) == 0;
        if (!seen)
            ks_diag_add(into, g->sev, g->file, g->line, g->col, "%s", g->msg);
    }
}

/*
 * What the engine refuses to run (it says where, file:line:col) and what
 * librdkafka refuses of the clients' configuration (`confs` NULL: not
 * built). Returns the number of errors printed.
 */
static int check_runnable(ks_topology_t *const *ts, const ks_runtime_conf_t *confs, int n)
{
    int nerr = 0;
    ks_engine_ops_t ops = {0};
    for (int i = 0; i < n; i++) {
        char err[KS_ERRMSG_SIZE];
        ks_engine_t *e = ks_engine_new(ts[i], &ops, NULL, err, sizeof err);
        if (!e) {
            fprintf(stderr, "%s\n", err);
            nerr++;
        }
        ks_engine_free(e);
        if (confs && ks_kafka_check_clients(ts[i], &confs[i], err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", ts[i]->file, err);
            nerr++;
        }
    }
    return nerr;
}

/*
 * Builds the runtime configuration of each service into confs[] (n zeroed
 * entries) and checks them together. Returns 0, or 2 after printing why.
 */
static int build_confs(const run_args_t *a, ks_topology_t *const *ts, ks_runtime_conf_t *confs)
{
    ks_diags_t diags = {0};
    int ok = 1;
    for (int i = 0; i < a->nfiles; i++) {
        ks_diags_t one = {0};
        ok &= ks_runtime_conf_build(&confs[i], a->env_file, ts[i], a->sets, a->nsets, &one) == 0;
        merge_unique(&diags, &one);
        ks_diags_free(&one);
    }
    if (ok)
        ks_runtime_conf_check_together(confs, ts, a->nfiles, &diags);
    ks_diags_print(&diags, stderr);
    int nerr = diags.nerr + check_runnable(ts, ok ? confs : NULL, a->nfiles);
    ks_diags_free(&diags);
    if (nerr) {
        fprintf(stderr, "kstreamd: %d configuration error%s\n", nerr, nerr == 1 ? "" : "s");
        return 2;
    }
    return 0;
}

/* The description of one topology as a string without its last newline (caller frees). */
static char *describe_string(const ks_topology_t *t, ks_describe_fmt_t fmt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        fprintf(stderr, "kstreamd: out of memory\n");
        abort();
    }
    ks_topology_describe(t, fmt, f);
    fclose(f);
    while (len && text[len - 1] == '\n')
        text[--len] = 0;
    return text;
}

/*
 * Several topologies: JSON is one array of the topologies' documents; text
 * has a header line per application; dot is one picture of the system.
 */
static void dump(ks_topology_t *const *ts, int n, ks_describe_fmt_t fmt)
{
    if (n == 1) {
        ks_topology_describe(ts[0], fmt, stdout);
    } else if (fmt == KS_DESCRIBE_DOT) {
        ks_topology_describe_system(ts, n, stdout);
    } else if (fmt == KS_DESCRIBE_JSON) {
        fputs("[", stdout);
        for (int i = 0; i < n; i++) {
            char *doc = describe_string(ts[i], fmt);
            printf("%s%s", i ? ",\n" : "", doc);
            free(doc);
        }
        fputs("]\n", stdout);
    } else {
        for (int i = 0; i < n; i++) {
            printf("Application: %s (%s)\n", ts[i]->application, ts[i]->file);
            ks_topology_describe(ts[i], fmt, stdout);
        }
    }
}

int ks_cmd_run(int argc, char **argv)
{
    run_args_t a;
    int status = parse_args(argc, argv, &a);
    if (status)
        return status;
    ks_diags_t diags = {0};
    ks_topology_t *ts[MAX_FILES] = {0};
    ks_runtime_conf_t confs[MAX_FILES];
    memset(confs, 0, sizeof confs);
    int ok = 1;
    for (int i = 0; i < a.nfiles; i++) {
        ts[i] = ks_topology_load(a.files[i], &diags);
        ok &= ts[i] != NULL;
    }
    if (ok)
        check_applications(ts, a.nfiles, &diags);
    ks_diags_print(&diags, stderr);
    if (diags.nerr) {
        fprintf(stderr, "kstreamd: %d error%s\n", diags.nerr, diags.nerr == 1 ? "" : "s");
        status = 2;
        goto done;
    }
    /* --dump-topology alone only describes; everything else checks the configuration first. */
    if ((a.validate || !a.dump) && (status = build_confs(&a, ts, confs)) != 0)
        goto done;
    if (a.dump)
        dump(ts, a.nfiles, a.fmt);
    if (a.validate)
        for (int i = 0; i < a.nfiles; i++)
            fprintf(a.dump ? stderr : stdout, "%s: ok (%s)\n", a.files[i], ts[i]->application);
    if (!a.validate && !a.dump) {
        /* No default cluster: the in-process broker only when `embedded` is written. */
        if (!confs[0].bootstrap) {
            fprintf(stderr, "kstreamd: bootstrap.servers is not set: give the cluster in an environment file (-E), "
                            "the topology's config: or --set bootstrap.servers=HOST:PORT; `embedded` runs the "
                            "in-process broker (as configs/local.yaml does)\n");
            status = 2;
            goto done;
        }
        /* One HTTP server per process, started before the cluster is asked anything: /health answers meanwhile. */
        ks_query_service_t *svc = NULL;
        char err[KS_ERRMSG_SIZE];
        ks_log_set_level(confs[0].log_level);
        if (ks_query_service_start(ts, a.nfiles, confs, &svc, err, sizeof err)) {
            fprintf(stderr, "kstreamd: %s (query.listen: another address, port 0 for any free port, or `off`)\n", err);
            status = 1;
            goto done;
        }
        status = ks_kafka_run(ts, a.nfiles, confs);
        ks_query_service_stop(svc);
        ks_status_clear();
        ks_metrics_clear();
    }
done:
    for (int i = 0; i < a.nfiles; i++) {
        ks_runtime_conf_free(&confs[i]);
        ks_topology_free(ts[i]);
    }
    ks_diags_free(&diags);
    return status;
}

int ks_cmd_test(int argc, char **argv)
{
    FILE *trace = NULL;
    int first = 1;
    /* --trace FILE: every case's inputs and outputs as bytes, for tests/conformance/run.sh. */
    if (argc > 1 && strncmp(argv[1], "--trace", 7) == 0) {
        const char *path = argv[1][7] == '=' ? argv[1] + 8 : argv[1][7] == 0 && argc > 2 ? argv[2] : NULL;
        if (!path || !*path) {
            fprintf(stderr, "kstreamd test: --trace needs a file\n");
            return 2;
        }
        if (!(trace = fopen(path, "w"))) {
            fprintf(stderr, "kstreamd test: cannot write %s: %s\n", path, strerror(errno));
            return 2;
        }
        first = argv[1][7] == '=' ? 2 : 3;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: kstreamd test [--trace FILE] CASES.yaml...\n");
        if (trace)
            fclose(trace);
        return 2;
    }
    ks_testdriver_trace(trace);
    /* Exit 2 when a file could not be read or parsed (its cases did not run), else 1 when a case failed. */
    int passed = 0, failed = 0, unloaded = 0;
    for (int i = first; i < argc; i++)
        unloaded |= ks_testdriver_run_file(argv[i], stdout, &passed, &failed) != 0;
    printf("%d passed, %d failed\n", passed, failed);
    ks_testdriver_trace(NULL);
    if (trace && fclose(trace) != 0) {
        fprintf(stderr, "kstreamd test: writing the trace failed: %s\n", strerror(errno));
        return 2;
    }
    return unloaded ? 2 : failed ? 1 : 0;
}
