/*
 * test_expr.c: the expression engine's API: variables bound per
 * evaluation, error values, exact big integers, the libjq fallback,
 * compile errors with a caret, and use from several threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/expr/expr.h"
#include "../../src/json/json.h"

static const char *const stream_vars[] = KS_EXPR_STREAM_VARS;

static ks_val J(const char *s)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(s, strlen(s), &v, err, sizeof err))
        fail_msg("bad JSON in test: %s", err);
    return v;
}

typedef struct outs {
    ks_buf_t b;
} outs_t;

static int collect(void *ud, ks_val v)
{
    outs_t *o = ud;
    if (o->b.len)
        ks_buf_putc(&o->b, ' ');
    ks_json_write(&o->b, v);
    return 0;
}

/* Runs src on input with optional stream variables; returns outputs joined by spaces, or "ERROR: msg". */
static char *run(const char *src, const char *input, const ks_val *vals)
{
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile(src, stream_vars, KS_EXPR_NSTREAM_VARS, &err);
    if (!e)
        return err;
    outs_t o = {{0}};
    ks_val in = J(input), ev;
    int rc = ks_expr_eval(e, in, vals, vals ? KS_EXPR_NSTREAM_VARS : 0, collect, &o, &ev);
    ks_val_release(in);
    if (rc) {
        /* The error may share the program's constants: read it before freeing the program. */
        char *m = ks_expr_error_message(ev);
        ks_val_release(ev);
        ks_expr_free(e);
        ks_buf_printf(&o.b, "%sERROR: %s", o.b.len ? " " : "", m);
        free(m);
        return ks_buf_steal(&o.b);
    }
    ks_expr_free(e);
    return ks_buf_steal(&o.b);
}

#define assert_run(src, input, vals, want)                                                                             \
    do {                                                                                                               \
        char *got_ = run(src, input, vals);                                                                            \
        assert_string_equal(got_, want);                                                                               \
        free(got_);                                                                                                    \
    } while (0)

static void stream_variables_are_bound_per_evaluation(void **state)
{
    (void)state;
    ks_val vals[KS_EXPR_NSTREAM_VARS];
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        vals[i] = ks_null();
    vals[KS_EXPR_VAR_KEY] = ks_str_cstr("c-42");
    vals[KS_EXPR_VAR_TIMESTAMP] = ks_num(1700000000000);
    vals[KS_EXPR_VAR_AGG] = J("{\"count\":3}");
    assert_run("{k: $key, t: $timestamp, n: ($agg.count + 1)}", "{}", vals,
               "{\"k\":\"c-42\",\"t\":1700000000000,\"n\":4}");
    /* The same compiled program, new bindings. */
    ks_val_release(vals[KS_EXPR_VAR_KEY]);
    vals[KS_EXPR_VAR_KEY] = ks_str_cstr("c-43");
    assert_run("$key", "{}", vals, "\"c-43\"");
    assert_run("$left + {customer: $right}", "{}", NULL, "{\"customer\":null}");
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        ks_val_release(vals[i]);
}

/* Each slot constant binds the variable of its name: `$name` reads vals[KS_EXPR_VAR_<NAME>]. */
static void every_slot_binds_the_variable_of_its_name(void **state)
{
    (void)state;
    static const char *const names[] = KS_EXPR_STREAM_VARS;
    assert_int_equal(sizeof names / sizeof names[0], KS_EXPR_NSTREAM_VARS);
    for (int slot = 0; slot < KS_EXPR_NSTREAM_VARS; slot++) {
        ks_val vals[KS_EXPR_NSTREAM_VARS];
        for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
            vals[i] = ks_num(i == slot ? 1 : 0);
        char src[32];
        snprintf(src, sizeof src, "$%s", names[slot]);
        assert_run(src, "null", vals, "1");
    }
    assert_string_equal(names[KS_EXPR_VAR_KEY], "key");
    assert_string_equal(names[KS_EXPR_VAR_TIMESTAMP], "timestamp");
    assert_string_equal(names[KS_EXPR_VAR_AGG], "agg");
    assert_string_equal(names[KS_EXPR_VAR_WINDOW], "window");
}

static void runtime_errors_are_values_not_crashes(void **state)
{
    (void)state;
    assert_run(".a", "5", NULL, "ERROR: Cannot index number with string \"a\"");
    assert_run("error(\"bad order\")", "{}", NULL, "ERROR: bad order");
    assert_run("error({code: 7})", "{}", NULL, "ERROR: {\"code\":7} (not a string)");
    assert_run(".[] | 10 / .", "[5, 0]", NULL,
               "2 ERROR: number (10) and number (0) cannot be divided because the divisor is zero");
    char *got = run("def f: f + 1; f", "0", NULL);
    assert_non_null(strstr(got, "ERROR: recursion too deep (more than 100000 nested calls or "));
    free(got);
}

static void unchanged_big_integers_keep_exact_digits(void **state)
{
    (void)state;
    assert_run(".orderId", "{\"orderId\":1234567890123456789}", NULL, "1234567890123456789");
    assert_run("{id: .id, ids: [.id, .id]}", "{\"id\":9007199254740993}", NULL,
               "{\"id\":9007199254740993,\"ids\":[9007199254740993,9007199254740993]}");
    assert_run(".id | tostring", "{\"id\":9007199254740993}", NULL, "\"9007199254740993\"");
    assert_run(".a == .b", "{\"a\":9007199254740993,\"b\":9007199254740992}", NULL, "false");
    /* Arithmetic works on doubles, as in jq. */
    assert_run(".id + 0", "{\"id\":9007199254740993}", NULL, "9007199254740992");
}

static void outputs_can_be_stopped_by_the_caller(void **state)
{
    (void)state;
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile("range(1000000000)", NULL, 0, &err);
    assert_non_null(e);
    ks_val out, ev;
    assert_int_equal(ks_expr_eval1(e, ks_null(), NULL, 0, &out, &ev), 0);
    assert_true(ks_num_get(out) == 0);
    ks_expr_free(e);
}

static void compile_errors_show_line_column_and_caret(void **state)
{
    (void)state;
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile(".a |\n  .b + )", NULL, 0, &err);
    assert_null(e);
    assert_string_equal(err, "syntax error: unexpected `)` at line 2, column 8\n      .b + )\n           ^");
    free(err);
    e = ks_expr_compile("$nope", stream_vars, KS_EXPR_NSTREAM_VARS, &err);
    assert_null(e);
    assert_string_equal(err, "$nope is not defined at line 1, column 1\n    $nope\n    ^");
    free(err);
    e = ks_expr_compile("no_such_fn(1)", NULL, 0, &err);
    assert_null(e);
    assert_string_equal(err, "no_such_fn/1 is not defined at line 1, column 1\n    no_such_fn(1)\n    ^");
    free(err);
}

static void rare_constructs_fall_back_to_libjq(void **state)
{
    (void)state;
    char *err = NULL;
    ks_expr_t *e = ks_expr_compile("$ENV | type", stream_vars, KS_EXPR_NSTREAM_VARS, &err);
    assert_non_null(e);
    assert_false(ks_expr_is_native(e));
    assert_string_equal(ks_expr_fallback_reason(e), "$ENV");
    ks_val out, ev;
    assert_int_equal(ks_expr_eval1(e, ks_null(), NULL, 0, &out, &ev), 0);
    assert_string_equal(ks_str_data(out), "object");
    ks_val_release(out);
    ks_expr_free(e);
    /* Variables reach the fallback too. */
    ks_val vals[KS_EXPR_NSTREAM_VARS];
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++)
        vals[i] = ks_null();
    vals[KS_EXPR_VAR_KEY] = ks_str_cstr("k1");
    assert_run("[$key, ($ENV | length > 0)]", "{}", vals, "[\"k1\",true]");
    assert_run("[.[] as [$a] ?// $a | $a]", "[[1], 2]", NULL, "[1,2]");
    ks_val_release(vals[KS_EXPR_VAR_KEY]);
    e = ks_expr_compile("select(.status == \"NEW\")", NULL, 0, &err);
    assert_true(ks_expr_is_native(e));
    assert_null(ks_expr_fallback_reason(e));
    assert_null(ks_expr_field(e));
    ks_expr_free(e);
}

/* `.name` alone is marked, so a key selector can read one field of a JSON text. */
static void a_plain_field_is_recognised(void **state)
{
    (void)state;
    const char *yes[][2] = {{".customerId", "customerId"}, {" ._x9\n", "_x9"}};
    for (size_t i = 0; i < 2; i++) {
        ks_expr_t *e = ks_expr_compile(yes[i][0], stream_vars, KS_EXPR_NSTREAM_VARS, NULL);
        assert_string_equal(ks_expr_field(e), yes[i][1]);
        ks_expr_free(e);
    }
    const char *no[] = {".a.b", ".a?", ".[\"a\"]", "$key", ".", ".a | .", "(.a)", ".a // 1", "..a"};
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        ks_expr_t *e = ks_expr_compile(no[i], stream_vars, KS_EXPR_NSTREAM_VARS, NULL);
        if (e)
            assert_null(ks_expr_field(e));
        ks_expr_free(e);
    }
}

typedef struct worker {
    ks_expr_t *e;
    int ok;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    ks_val in = J("{\"items\":[{\"qty\":2,\"price\":1.5},{\"qty\":1,\"price\":10}],\"tags\":[\"a\",\"b\"]}");
    w->ok = 1;
    for (int i = 0; i < 20000; i++) {
        ks_val out, ev;
        if (ks_expr_eval1(w->e, in, NULL, 0, &out, &ev) || ks_num_get(out) != 13) {
            w->ok = 0;
            break;
        }
        ks_val_release(out);
    }
    ks_val_release(in);
    return NULL;
}

static void a_native_program_is_shared_by_threads(void **state)
{
    (void)state;
    char *err = NULL;
    /* Literals inside the program are shared, never counted: no data race. */
    ks_expr_t *e = ks_expr_compile("[.items[] | .qty * .price] + [\"x\"] | .[:-1] | add", NULL, 0, &err);
    assert_non_null(e);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i].e = e;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(w[i].ok);
    }
    ks_expr_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stream_variables_are_bound_per_evaluation),
        cmocka_unit_test(every_slot_binds_the_variable_of_its_name),
        cmocka_unit_test(runtime_errors_are_values_not_crashes),
        cmocka_unit_test(unchanged_big_integers_keep_exact_digits),
        cmocka_unit_test(outputs_can_be_stopped_by_the_caller),
        cmocka_unit_test(compile_errors_show_line_column_and_caret),
        cmocka_unit_test(rare_constructs_fall_back_to_libjq),
        cmocka_unit_test(a_plain_field_is_recognised),
        cmocka_unit_test(a_native_program_is_shared_by_threads),
    };
    return cmocka_run_group_tests_name("expr", tests, NULL, NULL);
}
