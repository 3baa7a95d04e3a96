/*
 * fuzz_expr.c: libFuzzer target for the expression engine and the JSON
 * parser/writer (`make fuzz`, `make fuzz-test`; driver: tests/fuzz/run.sh).
 *
 * Input layout: the first line is a jq program, the rest is JSON input text
 * (a stream of values). Two things are exercised on every input:
 *
 *  1. the expression engine: the program is compiled with the stream
 *     variables declared, as the engine compiles topology expressions; when
 *     it compiles natively it is run on up to 4 values parsed from the rest
 *     (ks_json_parse_next), every output is serialised, and evaluation stops
 *     after 1000 outputs. Programs that can run or allocate without bound are
 *     skipped (see UNBOUNDED below): their hangs and out-of-memory reports
 *     would be the fuzzer's findings, not the engine's bugs;
 *  2. the JSON parser and writer: the whole input, and each value of the
 *     stream, when they parse, are written, re-parsed and must round-trip to
 *     an equal value (ks_val_equal), and writing is a fixpoint (writing the
 *     re-parsed value gives the same text). Otherwise abort().
 *
 * The only documented lossy cases of the writer are non-finite numbers (NaN
 * is written as null, infinities as +-DBL_MAX, like jq): values containing
 * them are checked for the text fixpoint only.
 *
 * Known finding (tests/fuzz/crashes/min-bigdouble-roundtrip): a double past
 * 2^53 that is not an exact integer literal, e.g. 7173733809411032905.0, is
 * written in jq's shortest form 7173733809411033000, which re-parses as the
 * exact integer 7173733809411033000, unequal to the double. Building with
 * -DFUZZ_EXPR_ALLOW_BIG_DOUBLES treats such values like non-finite ones
 * (text fixpoint only), to keep fuzzing for other bugs until it is settled.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/expr/expr.h"
#include "../../src/json/json.h"

#define MAX_PROGRAM 512
#define MAX_VALUES 4
#define MAX_OUTPUTS 1000

/*
 * Substrings that make a program skipped. Each can make one evaluation run
 * or allocate without bound on a small input, which libFuzzer reports as a
 * timeout or an out-of-memory crash although the engine behaves as jq does:
 *   range, repeat, recurse, while, until, limit: generators and loops whose
 *       length is a number in the program ("range(1e9)", "repeat(.)"), or
 *       infinite ("recurse(. + 1)");
 *   "def ": user functions can recurse without end;
 *   "..": recurse shorthand (also on deep inputs, every path);
 *   "*": string repetition ("x" * 1e9) and object deep merge blow-ups;
 *   env: reads the environment (not deterministic);
 *   input: input/inputs read more values (none in the engine) and
 *       input_filename, $__prog_args and friends are not interesting;
 *   now: not deterministic;
 *   splits: regex splitting of long strings, quadratic;
 *   combinations: cartesian products grow exponentially;
 *   walk: recursive rewrite, defined with def in jq;
 *   fromjson: parses program-built text, e.g. nested strings of any size.
 */
static const char *const UNBOUNDED[] = {
    "range", "repeat", "recurse", "while", "until", "limit", "def ", "..",
    "*",     "env",    "input",   "now",   "splits", "combinations", "walk", "fromjson",
};

typedef struct {
    size_t outputs;
    ks_buf_t text;
} sink_t;

static int emit(void *ud, ks_val v)
{
    sink_t *s = ud;
    s->text.len = 0;
    ks_json_write(&s->text, v);
    return ++s->outputs >= MAX_OUTPUTS;
}

/* Whether v holds a number the writer cannot round-trip exactly (see above). */
static int has_nonfinite(ks_val v)
{
    switch (v.kind) {
    case KS_NUMBER:
#ifdef FUZZ_EXPR_ALLOW_BIG_DOUBLES
        if (!v.exact && fabs(v.d) >= 9007199254740992.0)
            return 1;
#endif
        return !v.exact && !isfinite(v.d);
    case KS_ARRAY:
        for (size_t i = 0; i < ks_arr_len(v); i++)
            if (has_nonfinite(*ks_arr_get(v, i)))
                return 1;
        return 0;
    case KS_OBJECT:
        for (size_t i = 0; i < ks_obj_len(v); i++)
            if (has_nonfinite(v.o->slots[i].val))
                return 1;
        return 0;
    default:
        return 0;
    }
}

/* Writes v (borrowed), re-parses the text and checks the round trip. */
static void check_roundtrip(ks_val v)
{
    ks_buf_t t1 = {0}, t2 = {0};
    ks_json_write(&t1, v);
    ks_val w;
    char err[200];
    if (ks_json_parse(t1.data, t1.len, &w, err, sizeof err)) {
        fprintf(stderr, "fuzz_expr: the writer's text does not parse (%s): %s\n", err, t1.data);
        abort();
    }
    if (!has_nonfinite(v) && !ks_val_equal(v, w)) {
        char *b = ks_json_dump(w);
        fprintf(stderr, "fuzz_expr: round trip changed the value\n written: %s\n re-read: %s\n", t1.data, b);
        abort();
    }
    ks_json_write(&t2, w);
    if (t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0) {
        fprintf(stderr, "fuzz_expr: writing is not a fixpoint\n first:  %s\n second: %s\n", t1.data, t2.data);
        abort();
    }
    ks_val_release(w);
    ks_buf_free(&t1);
    ks_buf_free(&t2);
}

/*
 * When the parser says a value's text is as the writer writes it
 * (ks_json_span_t.canonical, which lets `kstreamd eval` copy an unchanged
 * input), the writer must write exactly that text.
 */
static void check_canonical(const char *s, size_t len)
{
    ks_val v;
    char err[200];
    size_t pos = 0;
    ks_json_span_t span = {0};
    if (ks_json_parse_next_at(s, len, &pos, &span, &v, err, sizeof err) || v.kind == KS_INVALID)
        return;
    if (span.canonical) {
        ks_buf_t t = {0};
        ks_json_write(&t, v);
        if (t.len != pos - span.start || memcmp(t.data, s + span.start, t.len) != 0) {
            fprintf(stderr, "fuzz_expr: text marked canonical is written otherwise\n text:    %.*s\n written: %s\n",
                    (int)(pos - span.start), s + span.start, t.data);
            abort();
        }
        ks_buf_free(&t);
    }
    ks_val_release(v);
}

static void fuzz_json(const char *s, size_t len)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(s, len, &v, err, sizeof err) == 0) {
        check_roundtrip(v);
        ks_val_release(v);
    }
    check_canonical(s, len);
}

static void fuzz_expr(const char *prog, const char *rest, size_t rlen)
{
    for (size_t i = 0; i < sizeof UNBOUNDED / sizeof *UNBOUNDED; i++)
        if (strstr(prog, UNBOUNDED[i]))
            return;

    const char *names[] = KS_EXPR_STREAM_VARS;
    char *cerr = NULL;
    ks_expr_t *e = ks_expr_compile(prog, names, KS_EXPR_NSTREAM_VARS, &cerr);
    if (!e) {
        free(cerr);
        return;
    }
    if (!ks_expr_is_native(e)) {
        (void)ks_expr_fallback_reason(e);
        ks_expr_free(e);
        return;
    }
    ks_val vals[KS_EXPR_NSTREAM_VARS];
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        vals[i] = ks_null();
    vals[0] = ks_str_cstr("k1");
    sink_t sink = {0};
    size_t pos = 0;
    for (int n = 0; n < MAX_VALUES && sink.outputs < MAX_OUTPUTS; n++) {
        ks_val in;
        char perr[200];
        if (ks_json_parse_next(rest, rlen, &pos, &in, perr, sizeof perr) || in.kind == KS_INVALID)
            break;
        check_roundtrip(in);
        vals[1] = in; /* $value, borrowed */
        ks_val err;
        if (ks_expr_eval(e, in, vals, KS_EXPR_NSTREAM_VARS, emit, &sink, &err)) {
            free(ks_expr_error_message(err));
            ks_val_release(err);
        }
        vals[1] = ks_null();
        ks_val_release(in);
    }
    ks_buf_free(&sink.text);
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        ks_val_release(vals[i]);
    ks_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fuzz_json(s, size);

    const char *nl = memchr(s, '\n', size);
    size_t plen = nl ? (size_t)(nl - s) : size;
    if (plen == 0 || plen > MAX_PROGRAM || memchr(s, '\0', plen))
        return 0;
    char prog[MAX_PROGRAM + 1];
    memcpy(prog, s, plen);
    prog[plen] = 0;
    const char *rest = nl ? nl + 1 : s + size;
    fuzz_expr(prog, rest, size - (size_t)(rest - s));
    return 0;
}
