/*
 * eval_cmd.c: `kstreamd eval [OPTIONS] EXPR`.
 *
 * The stream variables ($key, $value, $timestamp, ...) are always declared:
 * $value is the input, $key comes from --key, the others are null unless set
 * with --var. The variables of `generate` sources are declared too, bound as
 * a generate source binds them for record number $i: $i is the input's index
 * (0-based), $rand the source's pseudo-random number for that index and
 * --seed, $seed the seed, $now the wall clock in milliseconds when the input
 * is evaluated; a --var of the same name fixes one of them instead.
 *
 * Inputs are a stream of JSON values (one per line or concatenated), read in
 * large blocks and parsed from the block, never a system call per line. An
 * input whose evaluation fails prints the error as jq does and processing
 * goes on; the exit code is then 1. Outputs go through one buffer written
 * when it fills and at exit; as in jq, they are written after each output
 * when standard output is a terminal or with --unbuffered.
 */
#include "eval_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/generate.h"
#include "../expr/expr.h"
#include "../json/json.h"
#include "../util/duration.h"

#define MAX_VARS 64
#define READ_BLOCK (1u << 20)  /* bytes asked of read() at a time */
#define WRITE_BLOCK (1u << 16) /* buffered output is written when it reaches this */

/*
 * The slots: the stream variables (KS_EXPR_VAR_*), the generate ones
 * (KS_GEN_VAR_*), then the --var extras from KS_GEN_VAR__END on.
 */

static void usage(FILE *f)
{
    fputs("usage: kstreamd eval [OPTIONS] [--] EXPR < values.jsonl\n"
          "  Runs a jq expression on each JSON value of standard input, printing each\n"
          "  output on its own line (like jq -c).\n"
          "  --key K         bind $key to the string K\n"
          "  --var NAME=JSON bind $NAME to a JSON value (repeatable)\n"
          "  --seed N        the seed of $rand (an integer, default 0)\n"
          "  -n              run once with null input, reading nothing\n"
          "  --unbuffered    write each output at once (the default on a terminal;\n"
          "                  otherwise outputs are written in blocks and at exit)\n"
          "  --explain       say whether the expression runs natively or through libjq\n"
          "  --              end of options: the next argument is the expression\n"
          "  An argument that starts with `-` and is not an option is the expression\n"
          "  (`kstreamd eval -n '-7 % 3'`).\n"
          "Variables: $value is the input, $key comes from --key, the other stream\n"
          "variables ($timestamp, $topic, $partition, $offset, $headers, $agg, $left,\n"
          "$right, $window) are null unless set with --var. As in a `generate` source,\n"
          "$i is the input's index (0, 1, ...), $rand the pseudo-random number in [0,1)\n"
          "of that index and the seed, $seed the seed and $now the wall clock in ms;\n"
          "--var fixes any of them (--var now=1700000000000).\n",
          f);
}

/* ---- output ---- */

typedef struct writer {
    ks_buf_t buf;
    int unbuffered; /* write after each output */
    int failed;     /* a write failed: stop */
    /* The input's container and, when its text is as jq -c prints it, that text, for an output that is the input. */
    const void *in;
    const char *in_text;
    size_t in_len;
} writer_t;

static int writer_flush(writer_t *w)
{
    size_t off = 0;
    while (off < w->buf.len && !w->failed) {
        ssize_t n = write(STDOUT_FILENO, w->buf.data + off, w->buf.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "kstreamd eval: writing standard output: %s\n", strerror(errno));
            w->failed = 1;
            break;
        }
        off += (size_t)n;
    }
    w->buf.len = 0;
    return w->failed ? -1 : 0;
}

static int emit(void *ud, ks_val v)
{
    writer_t *w = ud;
    /* Values are immutable once shared: an output that is the input's container is the input as it came. */
    if (w->in_text && (v.kind == KS_OBJECT || v.kind == KS_ARRAY) && (const void *)v.o == w->in)
        ks_buf_append(&w->buf, w->in_text, w->in_len);
    else
        ks_json_write(&w->buf, v);
    ks_buf_putc(&w->buf, '\n');
    if (w->unbuffered || w->buf.len >= WRITE_BLOCK)
        return writer_flush(w);
    return 0;
}

/* ---- input ---- */

/*
 * A window of standard input. Values are parsed from buf[pos..end), where
 * end is just past the last byte read that cannot be part of a number (a
 * newline, most often; all of the input at EOF). A value that ends in the
 * window was read whole, since the only values a cut could leave valid but
 * shorter are numbers (`12` of `123`). A value that goes on past the window
 * fails to parse at its end; the reader then reads more and parses it again.
 * Values on one line without end are so read as they come, too.
 */
typedef struct reader {
    char *buf;
    size_t cap, len, pos, end;
    int eof;
    ks_json_span_t span; /* where buf[0] is in the stream (for errors); where the last value is */
} reader_t;

/* Drops buf[0..pos), counting its lines and columns. */
static void reader_compact(reader_t *r)
{
    if (r->pos == 0)
        return;
    const char *p = r->buf, *stop = r->buf + r->pos, *nl;
    while ((nl = memchr(p, '\n', (size_t)(stop - p))) != NULL) {
        r->span.line0++;
        r->span.col0 = 0;
        p = nl + 1;
    }
    r->span.col0 += (size_t)(stop - p);
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->end -= r->pos;
    r->pos = 0;
}

/* Whether a byte may continue a number. */
static int in_number(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/*
 * Reads at least once, and on until at least `want` bytes are unparsed and
 * the window has grown, or EOF. Returns 0, or -1 with the error printed.
 */
static int reader_fill(reader_t *r, size_t want)
{
    reader_compact(r);
    size_t old_end = r->end;
    for (;;) {
        if (r->cap - r->len < READ_BLOCK) {
            r->cap = r->cap ? r->cap * 2 : 2 * (size_t)READ_BLOCK;
            r->buf = ks_xrealloc(r->buf, r->cap);
        }
        ssize_t n = read(STDIN_FILENO, r->buf + r->len, r->cap - r->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "kstreamd eval: reading standard input: %s\n", strerror(errno));
            return -1;
        }
        if (n == 0) {
            r->eof = 1;
            r->end = r->len;
            return 0;
        }
        size_t i = r->len + (size_t)n;
        while (i > r->len && in_number(r->buf[i - 1]))
            i--;
        if (i > r->len)
            r->end = i;
        r->len += (size_t)n;
        if (r->len >= want && r->end > old_end)
            return 0;
    }
}

/*
 * The next input value in *out (owned): 0 with *out set (its text is
 * buf[span.start..pos)), 0 with *out invalid at the end of input, 1 with the
 * error printed.
 */
static int reader_next(reader_t *r, ks_val *out)
{
    for (;;) {
        size_t pos = r->pos;
        const char *text = r->buf ? r->buf : "";
        /* No message at first: placing it scans the window, and a value cut by the window's end is no error. */
        int rc = ks_json_parse_next_at(text, r->end, &pos, &r->span, out, NULL, 0);
        if (rc == 0 && out->kind != KS_INVALID) {
            r->pos = pos;
            return 0;
        }
        /*
         * A value cut by the end of the window fails there; any other
         * failure, or one at the end of the input, is the input's error.
         */
        if (rc && (r->eof || pos < r->end)) {
            char perr[KS_ERRMSG_SIZE];
            pos = r->pos;
            ks_json_parse_next_at(text, r->end, &pos, &r->span, out, perr, sizeof perr);
            fprintf(stderr, "kstreamd eval: input: %s\n", perr);
            return 1;
        }
        if (rc == 0 && r->eof)
            return 0;
        /*
         * Whitespace to the end of the window, or a value that may go on past
         * it: read more. After a failure ask for twice the window, so that a
         * large value spread over many lines is parsed again only a few times.
         */
        size_t want = rc ? 2 * (r->end - r->pos) : 0;
        if (rc == 0)
            r->pos = pos;
        if (reader_fill(r, want))
            return 1;
    }
}

/*
 * The fast path of an expression that is exactly `.name`: when the next
 * input is a valid object, its field is found by scanning the text, and only
 * the field's value is built. Returns 1 when the input was handled so, 0
 * when it must go through the parser and the evaluator (another kind, which
 * raises jq's error, invalid text, the end of the window or of the input).
 */
static int field_fast(reader_t *r, const char *name, writer_t *w)
{
    size_t pos = r->pos, voff = 0, vlen = 0;
    int rc = ks_json_field_next(r->buf ? r->buf : "", r->end, &pos, name, &voff, &vlen);
    if (rc < 0)
        return 0;
    ks_val v = ks_null();
    char perr[KS_ERRMSG_SIZE];
    if (rc == 2 && ks_json_parse(r->buf + voff, vlen, &v, perr, sizeof perr))
        return 0; /* cannot happen for text the scan accepted; the parser says why if it does */
    r->pos = pos;
    emit(w, v);
    ks_val_release(v);
    return 1;
}

/* ---- arguments ---- */

typedef struct opts {
    const char *src, *key;
    int null_input, explain, unbuffered;
    int64_t seed;
    int nvars;
    const char *names[MAX_VARS];
    ks_val vals[MAX_VARS];
    unsigned char fixed[MAX_VARS]; /* set by --var: not bound per input */
} opts_t;

/* Whether an argument is written as an option (`-x`, `--word`), not as an expression such as `-7 % 3`. */
static int looks_like_option(const char *a)
{
    if (a[0] != '-')
        return 0;
    const char *p = a + 1 + (a[1] == '-');
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return 0;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return 0;
    return 1;
}

static int parse_var(opts_t *o, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
        fprintf(stderr, "kstreamd eval: --var wants NAME=JSON, got `%s`\n", spec);
        return -1;
    }
    char err[KS_ERRMSG_SIZE];
    ks_val v;
    if (ks_json_parse(eq + 1, strlen(eq + 1), &v, err, sizeof err)) {
        fprintf(stderr, "kstreamd eval: --var %.*s: invalid JSON: %s\n", (int)(eq - spec), spec, err);
        return -1;
    }
    int slot = -1;
    for (int j = 0; j < o->nvars; j++)
        if (strlen(o->names[j]) == (size_t)(eq - spec) && memcmp(o->names[j], spec, (size_t)(eq - spec)) == 0)
            slot = j;
    if (slot < 0) {
        if (o->nvars >= MAX_VARS) {
            fprintf(stderr, "kstreamd eval: too many --var (at most %d)\n", MAX_VARS - KS_GEN_VAR__END);
            ks_val_release(v);
            return -1;
        }
        slot = o->nvars++;
        o->names[slot] = ks_xstrndup(spec, (size_t)(eq - spec));
    }
    ks_val_release(o->vals[slot]);
    o->vals[slot] = v;
    o->fixed[slot] = 1;
    return 0;
}

static int parse_seed(opts_t *o, const char *s)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v > (1LL << 53) || v < -(1LL << 53)) {
        fprintf(stderr, "kstreamd eval: --seed wants an integer up to 2^53, got `%s`\n", s);
        return -1;
    }
    o->seed = v;
    return 0;
}

/* Returns 0, 1 after --help, or -1 after a usage error (printed). */
static int parse_args(opts_t *o, int argc, char **argv)
{
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (options_done || !looks_like_option(a)) {
            if (strcmp(a, "--") == 0 && !options_done) {
                options_done = 1;
                continue;
            }
            if (o->src) {
                fprintf(stderr, "kstreamd eval: unexpected argument `%s` after the expression `%s`\n", a, o->src);
                usage(stderr);
                return -1;
            }
            o->src = a;
        } else if (strcmp(a, "--key") == 0 && has_value) {
            o->key = argv[++i];
        } else if (strcmp(a, "--var") == 0 && has_value) {
            if (parse_var(o, argv[++i]))
                return -1;
        } else if (strcmp(a, "--seed") == 0 && has_value) {
            if (parse_seed(o, argv[++i]))
                return -1;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--null-input") == 0) {
            o->null_input = 1;
        } else if (strcmp(a, "--unbuffered") == 0) {
            o->unbuffered = 1;
        } else if (strcmp(a, "--explain") == 0) {
            o->explain = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--key") == 0 || strcmp(a, "--var") == 0 || strcmp(a, "--seed") == 0) {
            fprintf(stderr, "kstreamd eval: %s needs a value\n", a);
            usage(stderr);
            return -1;
        } else {
            fprintf(stderr, "kstreamd eval: unknown option `%s` (an expression that starts with `-` may follow `--`)\n",
                    a);
            usage(stderr);
            return -1;
        }
    }
    if (!o->src) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int ks_cmd_eval(int argc, char **argv)
{
    static const char *const fixed_names[KS_GEN_VAR__END] = {KS_GEN_ALL_VARS};
    _Static_assert(sizeof fixed_names / sizeof fixed_names[0] == KS_EXPR_NSTREAM_VARS + KS_GEN_NVARS,
                   "the generate variables follow the stream variables");
    opts_t o = {.nvars = KS_GEN_VAR__END};
    ks_expr_t *e = NULL;
    writer_t w = {.failed = 0};
    reader_t r = {0};
    int status = 0;
    for (int i = 0; i < MAX_VARS; i++)
        o.vals[i] = ks_null();
    for (int i = 0; i < KS_GEN_VAR__END; i++)
        o.names[i] = fixed_names[i];
    int rc = parse_args(&o, argc, argv);
    if (rc) {
        status = rc < 0 ? 2 : 0;
        goto out;
    }
    if (o.key) {
        ks_val_release(o.vals[KS_EXPR_VAR_KEY]);
        o.vals[KS_EXPR_VAR_KEY] = ks_str_cstr(o.key);
    }
    if (!o.fixed[KS_GEN_VAR_SEED])
        o.vals[KS_GEN_VAR_SEED] = ks_num((double)o.seed);
    char *cerr = NULL;
    e = ks_expr_compile(o.src, o.names, o.nvars, &cerr);
    if (!e) {
        fprintf(stderr, "kstreamd eval: %s\n", cerr);
        free(cerr);
        status = 2;
        goto out;
    }
    if (o.explain) {
        if (ks_expr_is_native(e))
            fprintf(stderr, "native\n");
        else
            fprintf(stderr, "libjq fallback: %s\n", ks_expr_fallback_reason(e));
    }
    w.unbuffered = o.unbuffered || isatty(STDOUT_FILENO);
    ks_buf_reserve(&w.buf, WRITE_BLOCK + 4096);
    const char *field = o.null_input ? NULL : ks_expr_field(e);
    for (int64_t index = 0; !w.failed; index++) {
        if (field && field_fast(&r, field, &w))
            continue;
        ks_val input = ks_null();
        if (!o.null_input) {
            if (reader_next(&r, &input)) {
                status = 1;
                break;
            }
            if (input.kind == KS_INVALID)
                break;
        }
        o.vals[KS_EXPR_VAR_VALUE] = input; /* borrowed for the evaluation */
        w.in = input.kind == KS_OBJECT || input.kind == KS_ARRAY ? (const void *)input.o : NULL;
        w.in_text = !o.null_input && r.span.canonical ? r.buf + r.span.start : NULL;
        w.in_len = r.pos - r.span.start;
        if (!o.fixed[KS_GEN_VAR_I])
            o.vals[KS_GEN_VAR_I] = ks_num((double)index);
        if (!o.fixed[KS_GEN_VAR_RAND])
            o.vals[KS_GEN_VAR_RAND] = ks_num(ks_generate_rand(o.seed, index));
        if (!o.fixed[KS_GEN_VAR_NOW])
            o.vals[KS_GEN_VAR_NOW] = ks_num(ks_now_ms());
        ks_val err;
        if (ks_expr_eval(e, input, o.vals, o.nvars, emit, &w, &err)) {
            /* This input's outputs, then its error: in order when both streams go to one place. */
            writer_flush(&w);
            char *msg = ks_expr_error_message(err);
            fprintf(stderr, "kstreamd eval: error: %s\n", msg);
            free(msg);
            ks_val_release(err);
            status = 1;
        }
        o.vals[KS_EXPR_VAR_VALUE] = ks_null();
        w.in = NULL; /* the input is freed now: another value may take its address */
        w.in_text = NULL;
        ks_val_release(input);
        if (o.null_input)
            break;
    }
    if (writer_flush(&w))
        status = 1;
out:
    free(r.buf);
    ks_buf_free(&w.buf);
    ks_expr_free(e);
    for (int i = 0; i < MAX_VARS; i++)
        ks_val_release(o.vals[i]);
    for (int i = KS_GEN_VAR__END; i < o.nvars; i++)
        free((char *)o.names[i]);
    return status;
}
