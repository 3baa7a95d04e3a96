/*
 * corpus.c: runs jq-style test files through the native engine and through
 * libjq 1.6, and fails on any disagreement with the expected outputs.
 *
 * File format (jq's jq.test shape): a program line, an input line, then one
 * expected output per line, then a blank line. `#` starts a comment line.
 * A `%%FAIL` block is `%%FAIL`, a program line, then the exact compile error
 * (all its lines), then a blank line.
 * Directives on a line of their own:
 *   %%NATIVE_ONLY     the file pins deliberate differences from jq 1.6:
 *                     libjq is not consulted for its cases;
 *   %%ALLOW_FALLBACK  its programs may compile through libjq instead of natively.
 *
 * Prints one line per failure with a diff, then "corpus: N passed, N failed".
 */
#include <jq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/expr/expr.h"
#include "../../src/json/json.h"

static int passed, failed;

typedef struct lines {
    char **v;
    int n;
} lines_t;

static void lines_push(lines_t *l, const char *s)
{
    l->v = ks_xrealloc(l->v, (size_t)(l->n + 1) * sizeof *l->v);
    l->v[l->n++] = ks_xstrdup(s);
}

static void lines_free(lines_t *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static char *canon(const char *json)
{
    ks_val v;
    char err[200];
    if (ks_json_parse(json, strlen(json), &v, err, sizeof err))
        return NULL;
    char *s = ks_json_dump(v);
    ks_val_release(v);
    return s;
}

static int collect(void *ud, ks_val v)
{
    lines_push(ud, "");
    lines_t *l = ud;
    free(l->v[l->n - 1]);
    l->v[l->n - 1] = ks_json_dump(v);
    return 0;
}

static int run_libjq(const char *prog, const char *input, lines_t *out, char **err)
{
    jq_state *jq = jq_init();
    if (!jq_compile(jq, prog)) {
        jq_teardown(&jq);
        *err = ks_xstrdup("libjq could not compile the program");
        return -1;
    }
    jq_start(jq, jv_parse(input), 0);
    int rc = 0;
    for (;;) {
        jv r = jq_next(jq);
        if (jv_is_valid(r)) {
            jv s = jv_dump_string(r, 0);
            char *c = canon(jv_string_value(s));
            lines_push(out, c ? c : jv_string_value(s));
            free(c);
            jv_free(s);
            continue;
        }
        if (jv_invalid_has_msg(jv_copy(r))) {
            jv m = jv_invalid_get_msg(r);
            jv s = jv_get_kind(m) == JV_KIND_STRING ? m : jv_dump_string(m, 0);
            *err = ks_xstrdup(jv_string_value(s));
            jv_free(s);
            rc = -1;
        } else {
            jv_free(r);
        }
        break;
    }
    jq_teardown(&jq);
    return rc;
}

static void report(const char *file, int line, const char *prog, const char *input, const char *what,
                   const lines_t *want, const lines_t *got, const char *err)
{
    failed++;
    printf("FAIL %s:%d: %s\n  program: %s\n  input:   %s\n", file, line, what, prog, input ? input : "");
    if (want) {
        printf("  expected:");
        for (int i = 0; i < want->n; i++)
            printf(" %s", want->v[i]);
        printf("\n");
    }
    if (got) {
        printf("  got:     ");
        for (int i = 0; i < got->n; i++)
            printf(" %s", got->v[i]);
        printf("\n");
    }
    if (err)
        printf("  error:    %s\n", err);
}

static int same(const lines_t *a, const lines_t *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

static void run_case(const char *file, int line, const char *prog, const char *input, lines_t *want,
                     int native_only, int allow_fallback)
{
    char *cerr = NULL;
    ks_expr_t *e = ks_expr_compile(prog, NULL, 0, &cerr);
    if (!e) {
        report(file, line, prog, input, "does not compile", want, NULL, cerr);
        free(cerr);
        return;
    }
    if (!ks_expr_is_native(e) && !allow_fallback) {
        report(file, line, prog, input, "fell back to libjq", NULL, NULL, ks_expr_fallback_reason(e));
        ks_expr_free(e);
        return;
    }
    ks_val in;
    char perr[200];
    if (ks_json_parse(input, strlen(input), &in, perr, sizeof perr)) {
        report(file, line, prog, input, "bad input JSON in the test file", NULL, NULL, perr);
        ks_expr_free(e);
        return;
    }
    lines_t got = {0}, jqgot = {0};
    ks_val err;
    int rc = ks_expr_eval(e, in, NULL, 0, collect, &got, &err);
    ks_val_release(in);
    ks_expr_free(e);
    if (rc) {
        char *m = ks_expr_error_message(err);
        ks_val_release(err);
        report(file, line, prog, input, "raised an error", want, &got, m);
        free(m);
    } else if (!same(want, &got)) {
        report(file, line, prog, input, "wrong output", want, &got, NULL);
    } else if (!native_only) {
        char *jerr = NULL;
        if (run_libjq(prog, input, &jqgot, &jerr) || !same(want, &jqgot)) {
            report(file, line, prog, input, "libjq 1.6 disagrees with the expected output", want, &jqgot, jerr);
        } else {
            passed++;
        }
        free(jerr);
    } else {
        passed++;
    }
    lines_free(&got);
    lines_free(&jqgot);
}

static void run_fail(const char *file, int line, const char *prog, lines_t *want)
{
    char *cerr = NULL;
    ks_expr_t *e = ks_expr_compile(prog, NULL, 0, &cerr);
    if (e) {
        ks_expr_free(e);
        report(file, line, prog, NULL, "compiled, but an error was expected", want, NULL, NULL);
        return;
    }
    lines_t got = {0};
    char *save, *tok = strtok_r(cerr, "\n", &save);
    while (tok) {
        lines_push(&got, tok);
        tok = strtok_r(NULL, "\n", &save);
    }
    if (same(want, &got))
        passed++;
    else
        report(file, line, prog, NULL, "wrong compile error", want, &got, NULL);
    lines_free(&got);
    free(cerr);
}

static void run_file(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        printf("FAIL %s: cannot open\n", file);
        failed++;
        return;
    }
    char buf[65536];
    int lineno = 0, native_only = 0, allow_fallback = 0;
    /* state: 0 = between cases, 1 = have program, 2 = have input (reading outputs) */
    int state = 0, is_fail = 0, start = 0;
    char *prog = NULL, *input = NULL;
    lines_t want = {0};
    for (;;) {
        char *l = fgets(buf, sizeof buf, f);
        int eof = l == NULL;
        if (!eof) {
            lineno++;
            size_t n = strlen(l);
            while (n && (l[n - 1] == '\n' || l[n - 1] == '\r'))
                l[--n] = 0;
        }
        if (eof || l[0] == 0) {
            if (state > 0) {
                if (is_fail)
                    run_fail(file, start, prog, &want);
                else if (state == 2)
                    run_case(file, start, prog, input, &want, native_only, allow_fallback);
                else
                    report(file, start, prog, NULL, "case has no input line", NULL, NULL, NULL);
            }
            free(prog);
            free(input);
            prog = input = NULL;
            lines_free(&want);
            state = 0;
            is_fail = 0;
            if (eof)
                break;
            continue;
        }
        if (state == 0 && l[0] == '#')
            continue;
        if (state == 0 && strcmp(l, "%%NATIVE_ONLY") == 0) {
            native_only = 1;
            continue;
        }
        if (state == 0 && strcmp(l, "%%ALLOW_FALLBACK") == 0) {
            allow_fallback = 1;
            continue;
        }
        if (state == 0 && strcmp(l, "%%FAIL") == 0) {
            is_fail = 1;
            continue;
        }
        if (state == 0) {
            prog = ks_xstrdup(l);
            start = lineno;
            state = is_fail ? 2 : 1;
        } else if (state == 1) {
            input = ks_xstrdup(l);
            state = 2;
        } else if (is_fail) {
            lines_push(&want, l);
        } else {
            char *c = canon(l);
            if (!c) {
                report(file, lineno, prog, input, "bad expected JSON in the test file", NULL, NULL, l);
                c = ks_xstrdup(l);
            }
            lines_push(&want, c);
            free(c);
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        run_file(argv[i]);
    printf("corpus: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
