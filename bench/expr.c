/*
 * bench/expr.c: throughput of the expression engine against libjq 1.6.
 *
 * A benchmark, not a test: it prints numbers and only fails when the two
 * engines disagree on the benchmark record (which would make the comparison
 * meaningless).
 *
 * For each program of a typical topology (filter, mapValues, flatMapValues,
 * selectKey) and for all four together, on one ~270-byte order record:
 *
 *   full path   records/s for parse -> evaluate -> serialise every output;
 *               native: ks_json_parse -> ks_expr_eval -> ks_json_write,
 *               libjq:  jv_parse_sized -> jq_start/jq_next -> jv_dump_string;
 *   eval alone  ns per record for the evaluation only: the input is parsed
 *               once beforehand and outputs are dropped, not serialised.
 *
 * The combined pipeline parses each record once and applies the four
 * programs to it (as the four processors of one sub-topology would see the
 * same record value), serialising every output.
 *
 * Each measurement runs a fixed number of iterations, calibrated beforehand
 * to take about BENCH_SECONDS (default 1) of CPU time; rates are computed
 * from CLOCK_PROCESS_CPUTIME_ID (wall time from CLOCK_MONOTONIC is printed
 * alongside as a check). The process pins itself to CPU 0 when it may.
 *
 * `kstreamd eval` as a whole process against `jq -c` (reading, parsing,
 * evaluating, writing and the system calls of 100,000 orders) is measured by
 * bench/expr_process.py, the second step of `make bench-expr`.
 */
#include <jq.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/expr/expr.h"
#include "../src/json/json.h"

static const char RECORD[] =
    "{\"orderId\":\"o-100234\",\"customerId\":\"c-4211\",\"status\":\"NEW\",\"createdAt\":\"2024-05-14T09:31:07Z\",\"currency\":\"EUR\","
    "\"items\":[{\"sku\":\"A-1001\",\"qty\":2,\"price\":19.99,\"name\":\"Cup\"},"
    "{\"sku\":\"B-2040\",\"qty\":1,\"price\":34.5,\"name\":\"Jug\"}],"
    "\"shipping\":{\"city\":\"Lyon\",\"zip\":\"69003\",\"country\":\"FR\"}}";

#define NPROG 4
static const struct {
    const char *role;
    const char *src;
} PROGS[NPROG] = {
    {"filter", "select(.status == \"NEW\")"},
    {"mapValues", "{id: .orderId, customer: .customerId, total: ([.items[] | .qty * .price] | add)}"},
    {"flatMapValues", ".orderId as $o | .items[] | {orderId: $o, sku}"},
    {"selectKey", ".customerId"},
};

/* A configuration: one program, or (first = 0, count = NPROG) all of them. */
typedef struct {
    int first, count;
} config_t;

static ks_expr_t *ks_progs[NPROG];
static jq_state *jq_progs[NPROG];
static ks_val vars[KS_EXPR_NSTREAM_VARS];
static volatile size_t sink; /* keeps results observable */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench/expr: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ---- timing ---- */

typedef struct {
    struct timespec cpu, wall;
} stamp_t;

static stamp_t now(void)
{
    stamp_t s;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &s.cpu);
    clock_gettime(CLOCK_MONOTONIC, &s.wall);
    return s;
}

static double secs(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}

/* ---- the four measured loops ---- */

/*
 * The engine forwards a value no operator changed with the bytes it arrived
 * with (a record that passes a filter is not written again). The native path
 * does the same here: an output that is the input object itself is copied
 * from the record's text. BENCH_RESERIALIZE=1 turns this off, to measure the
 * writer on every output.
 */
static ks_val cur_in;
static int reserialize;

static int emit_write(void *ud, ks_val v)
{
    ks_buf_t *b = ud;
    if (!reserialize && v.kind == KS_OBJECT && cur_in.kind == KS_OBJECT && v.o == cur_in.o)
        ks_buf_append(b, RECORD, sizeof RECORD - 1);
    else
        ks_json_write(b, v);
    ks_buf_putc(b, '\n');
    return 0;
}

static int emit_count(void *ud, ks_val v)
{
    (void)v;
    (*(size_t *)ud)++;
    return 0;
}

static void native_eval(int p, ks_val in, ks_expr_emit_fn fn, void *ud)
{
    ks_val err;
    vars[1] = in; /* $value, borrowed */
    if (ks_expr_eval(ks_progs[p], in, vars, KS_EXPR_NSTREAM_VARS, fn, ud, &err)) {
        char *m = ks_expr_error_message(err);
        die("native: %s: %s", PROGS[p].src, m);
    }
    vars[1] = ks_null();
}

/* Parse -> evaluate -> serialise; the outputs (one per line) end in *out. */
static void native_full(config_t c, ks_buf_t *out)
{
    ks_val in;
    char perr[128];
    out->len = 0;
    if (ks_json_parse(RECORD, sizeof RECORD - 1, &in, perr, sizeof perr))
        die("native parse: %s", perr);
    cur_in = in;
    for (int p = c.first; p < c.first + c.count; p++)
        native_eval(p, in, emit_write, out);
    cur_in = ks_invalid();
    ks_val_release(in);
}

static size_t native_eval_only(config_t c, ks_val in)
{
    size_t n = 0;
    for (int p = c.first; p < c.first + c.count; p++)
        native_eval(p, in, emit_count, &n);
    return n;
}

static void jq_run(int p, jv in, ks_buf_t *out)
{
    jq_start(jq_progs[p], in, 0);
    for (;;) {
        jv r = jq_next(jq_progs[p]);
        if (!jv_is_valid(r)) {
            if (jv_invalid_has_msg(jv_copy(r))) {
                jv s = jv_dump_string(jv_invalid_get_msg(r), 0);
                die("libjq: %s: %s", PROGS[p].src, jv_string_value(s));
            }
            jv_free(r);
            return;
        }
        if (out) {
            jv s = jv_dump_string(r, 0);
            ks_buf_append(out, jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)));
            ks_buf_putc(out, '\n');
            jv_free(s);
        } else {
            jv_free(r);
        }
    }
}

static void jq_full(config_t c, ks_buf_t *out)
{
    out->len = 0;
    jv in = jv_parse_sized(RECORD, (int)(sizeof RECORD - 1));
    if (!jv_is_valid(in))
        die("libjq parse failed");
    for (int p = c.first; p < c.first + c.count; p++)
        jq_run(p, jv_copy(in), out);
    jv_free(in);
}

static size_t jq_eval_only(config_t c, jv in)
{
    size_t n = 0;
    for (int p = c.first; p < c.first + c.count; p++) {
        jq_start(jq_progs[p], jv_copy(in), 0);
        for (;;) {
            jv r = jq_next(jq_progs[p]);
            if (!jv_is_valid(r)) {
                jv_free(r);
                break;
            }
            jv_free(r);
            n++;
        }
    }
    return n;
}

enum { NATIVE_FULL, JQ_FULL, NATIVE_EVAL, JQ_EVAL, NATIVE_PARSE, JQ_PARSE, NATIVE_WRITE, JQ_WRITE };

/* The parts of the full path that are not evaluation, for the breakdown line. */
static size_t other(int kind, ks_buf_t *buf, ks_val kin, jv jin)
{
    size_t n;
    switch (kind) {
    case NATIVE_PARSE: {
        ks_val v;
        char perr[128];
        if (ks_json_parse(RECORD, sizeof RECORD - 1, &v, perr, sizeof perr))
            die("parse: %s", perr);
        n = v.kind;
        ks_val_release(v);
        return n;
    }
    case JQ_PARSE: {
        jv v = jv_parse_sized(RECORD, (int)(sizeof RECORD - 1));
        n = (size_t)jv_get_kind(v);
        jv_free(v);
        return n;
    }
    case NATIVE_WRITE:
        buf->len = 0;
        ks_json_write(buf, kin);
        return buf->len;
    default: {
        jv s = jv_dump_string(jv_copy(jin), 0);
        n = (size_t)jv_string_length_bytes(s);
        return n;
    }
    }
}

static void run(int kind, config_t c, long iters, ks_buf_t *buf, ks_val kin, jv jin)
{
    size_t acc = 0;
    for (long i = 0; i < iters; i++) {
        switch (kind) {
        case NATIVE_FULL: native_full(c, buf); acc += buf->len; break;
        case JQ_FULL: jq_full(c, buf); acc += buf->len; break;
        case NATIVE_EVAL: acc += native_eval_only(c, kin); break;
        case JQ_EVAL: acc += jq_eval_only(c, jin); break;
        default: acc += other(kind, buf, kin, jin); break;
        }
    }
    sink += acc;
}

typedef struct {
    double cpu_per_iter, wall_per_iter; /* seconds */
    long iters;
} result_t;

static double target_secs = 1.0;

/* Calibrates an iteration count for ~target_secs, then times that many. */
static result_t measure(int kind, config_t c, ks_buf_t *buf, ks_val kin, jv jin)
{
    long n = 16;
    double t;
    for (;;) {
        stamp_t a = now();
        run(kind, c, n, buf, kin, jin);
        t = secs(a.cpu, now().cpu);
        if (t >= 0.1 || n > (1L << 40))
            break;
        n *= 4;
    }
    result_t r;
    r.iters = (long)((double)n * target_secs / (t > 0 ? t : 1e-9));
    if (r.iters < 1)
        r.iters = 1;
    stamp_t a = now();
    run(kind, c, r.iters, buf, kin, jin);
    stamp_t b = now();
    r.cpu_per_iter = secs(a.cpu, b.cpu) / (double)r.iters;
    r.wall_per_iter = secs(a.wall, b.wall) / (double)r.iters;
    return r;
}

static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 1 + (p[1] == ' ');
                p[strcspn(p, "\n")] = 0;
                snprintf(out, n, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

int main(void)
{
    reserialize = getenv("BENCH_RESERIALIZE") && atoi(getenv("BENCH_RESERIALIZE"));
    const char *ts = getenv("BENCH_SECONDS");
    if (ts && atof(ts) > 0)
        target_secs = atof(ts);

    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    int pinned = sched_setaffinity(0, sizeof set, &set) == 0;

    const char *names[] = KS_EXPR_STREAM_VARS;
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        vars[i] = ks_null();
    vars[0] = ks_str_cstr("cust-004211"); /* $key, as a keyed stream would bind it */

    for (int p = 0; p < NPROG; p++) {
        char *err = NULL;
        ks_progs[p] = ks_expr_compile(PROGS[p].src, names, KS_EXPR_NSTREAM_VARS, &err);
        if (!ks_progs[p])
            die("compile %s: %s", PROGS[p].src, err);
        if (!ks_expr_is_native(ks_progs[p]))
            fprintf(stderr, "bench/expr: warning: `%s` runs through the libjq fallback: %s\n", PROGS[p].src,
                    ks_expr_fallback_reason(ks_progs[p]));
        jq_progs[p] = jq_init();
        if (!jq_progs[p] || !jq_compile(jq_progs[p], PROGS[p].src))
            die("libjq cannot compile %s", PROGS[p].src);
    }

    config_t configs[NPROG + 1];
    for (int p = 0; p < NPROG; p++)
        configs[p] = (config_t){p, 1};
    configs[NPROG] = (config_t){0, NPROG};

    /* Once: both engines must print exactly the same bytes. */
    ks_buf_t nb = {0}, jb = {0};
    for (int i = 0; i <= NPROG; i++) {
        native_full(configs[i], &nb);
        jq_full(configs[i], &jb);
        if (nb.len != jb.len || memcmp(nb.data, jb.data, nb.len) != 0) {
            fprintf(stderr, "bench/expr: native and libjq outputs differ for %s\n--- native\n%.*s--- libjq\n%.*s",
                    i < NPROG ? PROGS[i].src : "the combined pipeline", (int)nb.len, nb.data, (int)jb.len,
                    jb.data);
            abort();
        }
    }

    ks_val kin;
    char perr[128];
    if (ks_json_parse(RECORD, sizeof RECORD - 1, &kin, perr, sizeof perr))
        die("parse: %s", perr);
    jv jin = jv_parse_sized(RECORD, (int)(sizeof RECORD - 1));

    char model[256], date[64];
    cpu_model(model, sizeof model);
    time_t tnow = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&tnow));
    printf("bench/expr: record %zu bytes; %s; CPU: %s; %s; ~%.1f s per measurement, rates from process CPU time\n"
           "outputs of native and libjq verified byte-identical; native %s\n\n",
           sizeof RECORD - 1, pinned ? "pinned to CPU 0" : "not pinned", model, date, target_secs,
           reserialize ? "re-serialises every output (BENCH_RESERIALIZE=1)"
                       : "forwards an unchanged input as its bytes, as the engine does");

    printf("| program | native rec/s | libjq rec/s | ratio | native eval ns/rec | libjq eval ns/rec | eval ratio |\n"
           "|---|---:|---:|---:|---:|---:|---:|\n");
    double worst_wall_ratio = 1.0;
    for (int i = 0; i <= NPROG; i++) {
        config_t c = configs[i];
        result_t nf = measure(NATIVE_FULL, c, &nb, kin, jin);
        result_t jf = measure(JQ_FULL, c, &jb, kin, jin);
        result_t ne = measure(NATIVE_EVAL, c, NULL, kin, jin);
        result_t je = measure(JQ_EVAL, c, NULL, kin, jin);
        result_t all[4] = {nf, jf, ne, je};
        for (int k = 0; k < 4; k++) {
            double w = all[k].wall_per_iter / all[k].cpu_per_iter;
            if (w > worst_wall_ratio)
                worst_wall_ratio = w;
        }
        char label[200];
        if (i < NPROG) {
            /* Markdown: a `|` inside a table cell, even in code, must be escaped. */
            int n = snprintf(label, sizeof label, "%s `", PROGS[i].role);
            for (const char *q = PROGS[i].src; *q && n < (int)sizeof label - 4; q++) {
                if (*q == '|')
                    label[n++] = '\\';
                label[n++] = *q;
            }
            snprintf(label + n, sizeof label - (size_t)n, "`");
        } else
            snprintf(label, sizeof label, "**combined** (all four per record)");
        printf("| %s | %.0f | %.0f | %.1fx | %.0f | %.0f | %.1fx |\n", label, 1.0 / nf.cpu_per_iter,
               1.0 / jf.cpu_per_iter, jf.cpu_per_iter / nf.cpu_per_iter, ne.cpu_per_iter * 1e9,
               je.cpu_per_iter * 1e9, je.cpu_per_iter / ne.cpu_per_iter);
        fflush(stdout);
    }
    result_t np = measure(NATIVE_PARSE, configs[0], &nb, kin, jin);
    result_t jp = measure(JQ_PARSE, configs[0], &jb, kin, jin);
    result_t nw = measure(NATIVE_WRITE, configs[0], &nb, kin, jin);
    result_t jw = measure(JQ_WRITE, configs[0], &jb, kin, jin);
    printf("\nbreakdown, ns per record: parse the record: native %.0f, libjq %.0f (%.1fx); "
           "serialise the whole record: native %.0f, libjq %.0f (%.1fx)\n",
           np.cpu_per_iter * 1e9, jp.cpu_per_iter * 1e9, jp.cpu_per_iter / np.cpu_per_iter, nw.cpu_per_iter * 1e9,
           jw.cpu_per_iter * 1e9, jw.cpu_per_iter / nw.cpu_per_iter);
    printf("wall/CPU time ratio, worst measurement: %.3f (1.000 = the core was not shared)\n", worst_wall_ratio);

    ks_val_release(kin);
    jv_free(jin);
    ks_buf_free(&nb);
    ks_buf_free(&jb);
    for (int p = 0; p < NPROG; p++) {
        ks_expr_free(ks_progs[p]);
        jq_teardown(&jq_progs[p]);
    }
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        ks_val_release(vars[i]);
    return 0;
}
