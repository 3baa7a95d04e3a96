/*
 * lint_cmd.c: `kstreamd lint`, checks across the topologies of a whole
 * system (DESIGN.md section 6). `--validate` checks one service; lint loads
 * every given service and checks what only the set of them can show:
 *
 *   - topic names follow `<domain>-<entity>-v<N>` (or --topic-pattern);
 *   - each topic has one writing application (the single-writer principle);
 *   - the writer's key and value serdes equal every reader's;
 *   - a topic read by some service is written by one of them (a warning:
 *     it may be written by a system outside the given files);
 *   - a stream-table join reads a stream topic and a table topic with the
 *     same declared partition count (co-partitioning).
 *
 * Internal repartition topics and dead-letter topics belong to their service
 * and are left out of the cross-service checks. Partition counts are those
 * the joining service declares. Findings are printed by file and line.
 */
#include "lint_cmd.h"

#include <oniguruma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../topology/topology.h"
#include "../util/util.h"

#define KS_LINT_DEFAULT_PATTERN "^[a-z][a-z0-9]*(-[a-z0-9]+)+-v[0-9]+$"

typedef enum ks_lint_dir { KS_LINT_READ, KS_LINT_WRITE } ks_lint_dir_t;

/* One place where a service names a topic it reads or writes. */
typedef struct ks_lint_use {
    const char *topic;      /* not copied: owned by the topology */
    const ks_topology_t *t; /* the service */
    ks_lint_dir_t dir;
    ks_pos_t pos; /* the `from`, `to` or table that names the topic */
} ks_lint_use_t;

/* The state of one lint run. */
typedef struct ks_lint {
    ks_topology_t **ts; /* loaded services, in argument order */
    int nts;
    ks_lint_use_t *uses; /* every read and write, in file and processor order */
    int nuses;
    regex_t *re;         /* the topic naming convention */
    const char *pattern; /* its source, for messages */
    int custom_pattern;  /* given with --topic-pattern */
    ks_diags_t diags;
} ks_lint_t;

static void usage(FILE *f)
{
    fputs("usage: kstreamd lint [--topic-pattern REGEX] TOPOLOGY.yaml...\n"
          "\n"
          "Checks the topologies of several services together:\n"
          "  - topic names match <domain>-<entity>-v<N>, i.e. the POSIX extended regex\n"
          "    " KS_LINT_DEFAULT_PATTERN " (--topic-pattern replaces it);\n"
          "  - a topic is written by one application only (single writer);\n"
          "  - writer and readers of a topic declare the same key and value serdes;\n"
          "  - a topic read is written by one of the services (warning otherwise);\n"
          "  - stream-table joins read topics with the same declared partition count.\n"
          "Internal repartition topics, dead-letter topics and generate sources are not checked.\n"
          "\n"
          "exit codes: 0 no errors (warnings allowed), 2 errors, a file that does not load, or usage\n",
          f);
}

/* ---- collecting the topics each service reads and writes ---- */

static int ks_lint_is_internal(const ks_topology_t *t, const char *topic)
{
    for (int i = 0; i < t->ninternal; i++)
        if (strcmp(t->internal_topics[i], topic) == 0)
            return 1;
    return 0;
}

static int ks_lint_is_dlq(const ks_lint_t *lint, const char *topic)
{
    for (int i = 0; i < lint->nts; i++)
        if (lint->ts[i]->dlq_topic && strcmp(lint->ts[i]->dlq_topic, topic) == 0)
            return 1;
    return 0;
}

static void ks_lint_add_use(ks_lint_t *lint, const ks_topology_t *t, const char *topic, ks_lint_dir_t dir, ks_pos_t pos)
{
    if (!topic || !*topic || ks_lint_is_internal(t, topic) || ks_lint_is_dlq(lint, topic))
        return;
    KS_GROW(lint->uses, lint->nuses);
    ks_lint_use_t use = {topic, t, dir, pos};
    if (!use.pos.file)
        use.pos.file = t->file;
    lint->uses[lint->nuses++] = use;
}

static void ks_lint_collect(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nts; i++) {
        const ks_topology_t *t = lint->ts[i];
        for (int j = 0; j < t->nprocs; j++) {
            const ks_proc_t *p = t->procs[j];
            if (p->is_repartition || p->gen.enabled)
                continue; /* internal topics and generate sources' pseudo-topics are not Kafka topics to check */
            if (p->op == KS_OP_SOURCE)
                for (int k = 0; k < p->io.ntopics; k++)
                    ks_lint_add_use(lint, t, p->io.topics[k], KS_LINT_READ, p->pos);
            else if (p->op == KS_OP_SINK && !p->io.dynamic_topic)
                ks_lint_add_use(lint, t, p->io.topic, KS_LINT_WRITE, p->pos);
        }
    }
}

/* Whether uses[i] is the first use of its topic, in its direction, by its application. */
static int ks_lint_first_of_app(const ks_lint_t *lint, int i)
{
    const ks_lint_use_t *u = &lint->uses[i];
    for (int j = 0; j < i; j++) {
        const ks_lint_use_t *v = &lint->uses[j];
        if (v->dir == u->dir && strcmp(v->topic, u->topic) == 0 && strcmp(v->t->application, u->t->application) == 0)
            return 0;
    }
    return 1;
}

/* The first write of topic by an application other than `not_app` (any application when NULL). */
static const ks_lint_use_t *ks_lint_writer(const ks_lint_t *lint, const char *topic, const char *not_app)
{
    for (int i = 0; i < lint->nuses; i++) {
        const ks_lint_use_t *w = &lint->uses[i];
        if (w->dir == KS_LINT_WRITE && strcmp(w->topic, topic) == 0 &&
            (!not_app || strcmp(w->t->application, not_app) != 0))
            return w;
    }
    return NULL;
}

/* ---- the checks ---- */

static void ks_lint_check_names(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nuses; i++) {
        const ks_lint_use_t *u = &lint->uses[i];
        const UChar *s = (const UChar *)u->topic, *end = s + strlen(u->topic);
        if (onig_search(lint->re, s, end, s, end, NULL, ONIG_OPTION_NONE) >= 0)
            continue;
        if (lint->custom_pattern)
            ks_diag_err(&lint->diags, u->pos.file, u->pos.line, u->pos.col,
                        "topic `%s` does not match --topic-pattern `%s`", u->topic, lint->pattern);
        else
            ks_diag_err(&lint->diags, u->pos.file, u->pos.line, u->pos.col,
                        "topic `%s` does not follow the naming convention <domain>-<entity>-v<N> "
                        "(lowercase, e.g. order-payment-v1)",
                        u->topic);
    }
}

static void ks_lint_check_single_writer(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nuses; i++) {
        const ks_lint_use_t *w = &lint->uses[i];
        if (w->dir != KS_LINT_WRITE || !ks_lint_first_of_app(lint, i))
            continue;
        const ks_lint_use_t *first = ks_lint_writer(lint, w->topic, w->t->application);
        if (!first || first > w)
            continue;
        ks_diag_err(&lint->diags, w->pos.file, w->pos.line, w->pos.col,
                    "topic `%s` is written by `%s` and by `%s` (%s:%d:%d): a topic has one writing service", w->topic,
                    w->t->application, first->t->application, first->pos.file, first->pos.line, first->pos.col);
    }
}

/* Where a service's serdes for a topic come from: its `topics:` entry, else the place it names the topic. */
static ks_pos_t ks_lint_serde_pos(const ks_lint_use_t *u)
{
    const ks_topic_conf_t *c = ks_topology_topic(u->t, u->topic);
    return c->declared && c->pos.line > 0 ? c->pos : u->pos;
}

static void ks_lint_check_serdes(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nuses; i++) {
        const ks_lint_use_t *r = &lint->uses[i];
        if (r->dir != KS_LINT_READ || !ks_lint_first_of_app(lint, i))
            continue;
        const ks_lint_use_t *w = ks_lint_writer(lint, r->topic, r->t->application);
        if (!w)
            continue;
        const ks_topic_conf_t *rc = ks_topology_topic(r->t, r->topic), *wc = ks_topology_topic(w->t, w->topic);
        if (rc->key == wc->key && rc->value == wc->value)
            continue;
        ks_pos_t rp = ks_lint_serde_pos(r), wp = ks_lint_serde_pos(w);
        ks_diag_err(&lint->diags, rp.file, rp.line, rp.col,
                    "serdes of topic `%s` disagree: `%s` reads key %s, value %s; its writer `%s` (%s:%d:%d) "
                    "writes key %s, value %s",
                    r->topic, r->t->application, ks_serde_name(rc->key), ks_serde_name(rc->value), w->t->application,
                    wp.file, wp.line, wp.col, ks_serde_name(wc->key), ks_serde_name(wc->value));
    }
}

static void ks_lint_check_unwritten(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nuses; i++) {
        const ks_lint_use_t *r = &lint->uses[i];
        if (r->dir != KS_LINT_READ || !ks_lint_first_of_app(lint, i) || ks_lint_writer(lint, r->topic, NULL))
            continue;
        ks_diag_add(&lint->diags, KS_SEV_WARNING, r->pos.file, r->pos.line, r->pos.col,
                    "topic `%s` is read but not written by any of these services; written outside?", r->topic);
    }
}

/* A topic's declared partition count in this service: its own entry, else `defaults`; 0 if not declared. */
static int ks_lint_partitions(const ks_topology_t *t, const char *topic)
{
    const ks_topic_conf_t *c = ks_topology_topic(t, topic);
    return c->partitions ? c->partitions : t->defaults.partitions;
}

static int ks_lint_proc_index(const ks_topology_t *t, const ks_proc_t *p)
{
    for (int i = 0; i < t->nprocs; i++)
        if (t->procs[i] == p)
            return i;
    return -1;
}

/*
 * Walks up from a join to the topics its stream side reads. A repartition
 * source ends the walk: Kafka Streams creates that topic with the table's
 * partition count, so it is co-partitioned by construction.
 */
static void ks_lint_check_join(ks_lint_t *lint, const ks_topology_t *t, const ks_proc_t *join,
                               const ks_table_conf_t *tc, int table_parts)
{
    char *seen = ks_xcalloc((size_t)t->nprocs + 1, 1);
    const ks_proc_t **stack = ks_xcalloc((size_t)t->nprocs + 1, sizeof *stack);
    int n = 0;
    const ks_proc_t *p = join;
    do {
        if (p->op == KS_OP_SOURCE && !p->is_repartition) {
            for (int k = 0; k < p->io.ntopics; k++) {
                int parts = ks_lint_partitions(t, p->io.topics[k]);
                if (parts != 0 && parts != table_parts)
                    ks_diag_err(&lint->diags, join->pos.file ? join->pos.file : t->file, join->pos.line, join->pos.col,
                                "`%s` with table `%s` is not co-partitioned: stream topic `%s` has %d partitions, "
                                "table topic `%s` has %d",
                                ks_op_dsl_name(join->op), tc->name, p->io.topics[k], parts, tc->topic, table_parts);
            }
        }
        for (int i = 0; i < p->nparents && p->op != KS_OP_SOURCE; i++) {
            int idx = ks_lint_proc_index(t, p->parents[i]);
            if (idx >= 0 && !seen[idx]) {
                seen[idx] = 1; /* each processor is pushed once, so the stack never holds more than nprocs */
                stack[n++] = p->parents[i];
            }
        }
        p = n > 0 ? stack[--n] : NULL;
    } while (p);
    free(stack);
    free(seen);
}

static void ks_lint_check_copartitioning(ks_lint_t *lint)
{
    for (int i = 0; i < lint->nts; i++) {
        const ks_topology_t *t = lint->ts[i];
        for (int j = 0; j < t->nprocs; j++) {
            const ks_proc_t *p = t->procs[j];
            /* A foreign-key join needs none: its internal topics are co-partitioned with either side. */
            if ((p->op != KS_OP_JOIN && p->op != KS_OP_LEFT_JOIN) || !p->join.table ||
                p->join.kind == KS_JOIN_FOREIGN_KEY)
                continue;
            const ks_table_conf_t *tc = NULL;
            for (int k = 0; k < t->ntables && !tc; k++)
                if (strcmp(t->tables[k].name, p->join.table) == 0)
                    tc = &t->tables[k];
            if (!tc || tc->global)
                continue;
            int table_parts = ks_lint_partitions(t, tc->topic);
            if (table_parts > 0)
                ks_lint_check_join(lint, t, p, tc, table_parts);
        }
    }
}

/* ---- the report ---- */

static int ks_lint_file_rank(const char **files, int nfiles, const char *file)
{
    for (int i = 0; i < nfiles; i++)
        if (strcmp(files[i], file) == 0)
            return i;
    return nfiles;
}

/* Whether finding a (in file ra) belongs after finding b (in file rb). */
static int ks_lint_after(int ra, const ks_diag_t *a, int rb, const ks_diag_t *b)
{
    if (ra != rb)
        return ra > rb;
    return a->line != b->line ? a->line > b->line : a->col > b->col;
}

/*
 * Orders the findings as a reader walks the files: by file in argument
 * order, then line and column; findings at one place keep the check order.
 * An insertion sort keeps it stable, and a lint run finds few problems.
 */
static void ks_lint_sort(ks_diags_t *d, const char **files, int nfiles)
{
    int n = 0;
    for (ks_diag_t *g = d->head; g; g = g->next)
        n++;
    if (n < 2)
        return;
    ks_diag_t **v = ks_xcalloc((size_t)n, sizeof *v);
    int *rank = ks_xcalloc((size_t)n, sizeof *rank);
    n = 0;
    for (ks_diag_t *g = d->head; g; g = g->next) {
        int r = ks_lint_file_rank(files, nfiles, g->file), j = n++;
        for (; j > 0 && ks_lint_after(rank[j - 1], v[j - 1], r, g); j--) {
            v[j] = v[j - 1];
            rank[j] = rank[j - 1];
        }
        v[j] = g;
        rank[j] = r;
    }
    for (int i = 0; i < n; i++)
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    d->head = v[0];
    d->tail = v[n - 1];
    free(rank);
    free(v);
}

/* ---- the command ---- */

int ks_cmd_lint(int argc, char **argv)
{
    ks_lint_t lint = {0};
    const char **files = ks_xcalloc((size_t)argc + 1, sizeof *files);
    int nfiles = 0, status = 0, failed = 0, options_done = 0;
    lint.pattern = KS_LINT_DEFAULT_PATTERN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
            files[nfiles++] = a;
        } else if (strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            goto done;
        } else if (strcmp(a, "--topic-pattern") == 0 && i + 1 < argc) {
            lint.pattern = argv[++i];
            lint.custom_pattern = 1;
        } else if (strncmp(a, "--topic-pattern=", 16) == 0) {
            lint.pattern = a + 16;
            lint.custom_pattern = 1;
        } else {
            fprintf(stderr, "kstreamd lint: %s `%s` (see kstreamd lint --help)\n",
                    strcmp(a, "--topic-pattern") == 0 ? "missing REGEX after" : "unknown option", a);
            status = 2;
            goto done;
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "kstreamd lint: no topology files\n");
        usage(stderr);
        status = 2;
        goto done;
    }
    /* POSIX extended syntax through Oniguruma: libonig, linked for jq's regexes, also exports
     * regcomp/regexec with its own flag values, which shadow glibc's <regex.h> functions. */
    OnigErrorInfo einfo;
    const UChar *pat = (const UChar *)lint.pattern;
    int rc = onig_new(&lint.re, pat, pat + strlen(lint.pattern), ONIG_OPTION_NONE, ONIG_ENCODING_UTF8,
                      ONIG_SYNTAX_POSIX_EXTENDED, &einfo);
    if (rc != ONIG_NORMAL) {
        UChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(msg, rc, &einfo);
        fprintf(stderr, "kstreamd lint: --topic-pattern `%s`: %s\n", lint.pattern, (const char *)msg);
        lint.re = NULL;
        status = 2;
        goto done;
    }

    lint.ts = ks_xcalloc((size_t)nfiles, sizeof *lint.ts);
    for (int i = 0; i < nfiles; i++) {
        ks_topology_t *t = ks_topology_load(files[i], &lint.diags);
        if (t)
            lint.ts[lint.nts++] = t;
        else
            failed++;
    }
    if (failed == 0) {
        ks_lint_collect(&lint);
        ks_lint_check_names(&lint);
        ks_lint_check_single_writer(&lint);
        ks_lint_check_serdes(&lint);
        ks_lint_check_unwritten(&lint);
        ks_lint_check_copartitioning(&lint);
        ks_lint_sort(&lint.diags, files, nfiles);
    }
    ks_diags_print(&lint.diags, stdout);
    if (failed)
        printf("lint: %d of %d files did not load; cross-service checks skipped\n", failed, nfiles);
    printf("lint: %d errors, %d warnings in %d files\n", lint.diags.nerr, lint.diags.nwarn, nfiles);
    fflush(stdout);
    status = lint.diags.nerr > 0 || failed ? 2 : 0;

done:
    for (int i = 0; i < lint.nts; i++)
        ks_topology_free(lint.ts[i]);
    free(lint.ts);
    free(lint.uses);
    if (lint.re)
        onig_free(lint.re);
    ks_diags_free(&lint.diags);
    free(files);
    return status;
}
