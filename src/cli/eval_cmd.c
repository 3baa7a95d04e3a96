/*
 * eval_cmd.c: `kstreamd eval EXPR [--key K] [--var name=json] [-n]`.
 *
 * The stream variables ($key, $value, $timestamp, ...) are always declared:
 * $value is the input, $key comes from --key, the others are null unless set
 * with --var. Inputs are a stream of JSON values (one per line or
 * concatenated). An input whose evaluation fails prints the error as jq does
 * and processing goes on; the exit code is then 1.
 */
#include "eval_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../expr/expr.h"
#include "../json/json.h"

static void usage(FILE *f)
{
    fputs("usage: kstreamd eval EXPR [--key K] [--var NAME=JSON]... [-n] < values.jsonl\n"
          "  Runs a jq expression on each JSON value of standard input, printing each\n"
          "  output on its own line (like jq -c).\n"
          "  --key K         bind $key to the string K\n"
          "  --var NAME=JSON bind $NAME to a JSON value (repeatable)\n"
          "  -n              run once with null input, reading nothing\n"
          "  --explain       say whether the expression runs natively or through libjq\n",
          f);
}

static int print_out(void *ud, ks_val v)
{
    ks_buf_t *b = ud;
    b->len = 0;
    ks_json_write(b, v);
    ks_buf_putc(b, '\n');
    fwrite(b->data, 1, b->len, stdout);
    return 0;
}

static char *read_all(FILE *f, size_t *len)
{
    ks_buf_t b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ks_buf_append(&b, chunk, n);
    *len = b.len;
    return ks_buf_steal(&b);
}

int ks_cmd_eval(int argc, char **argv)
{
    const char *src = NULL, *key = NULL;
    int null_input = 0, explain = 0, nextra = 0, status = 0;
    const char *names[64];
    ks_val vals[64];
    const char *stream_vars[] = KS_EXPR_STREAM_VARS;
    for (int i = 0; i < KS_EXPR_NSTREAM_VARS; i++) {
        names[i] = stream_vars[i];
        vals[i] = ks_null();
    }
    int nvars = KS_EXPR_NSTREAM_VARS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(a, "--var") == 0 && i + 1 < argc) {
            const char *spec = argv[++i], *eq = strchr(spec, '=');
            if (!eq || eq == spec || nvars >= 64) {
                fprintf(stderr, "kstreamd eval: --var wants NAME=JSON, got `%s`\n", spec);
                status = 2;
                goto out;
            }
            char err[200];
            ks_val v;
            if (ks_json_parse(eq + 1, strlen(eq + 1), &v, err, sizeof err)) {
                fprintf(stderr, "kstreamd eval: --var %.*s: invalid JSON: %s\n", (int)(eq - spec), spec, err);
                status = 2;
                goto out;
            }
            char *name = ks_xstrndup(spec, (size_t)(eq - spec));
            int slot = -1;
            for (int j = 0; j < nvars; j++)
                if (strcmp(names[j], name) == 0)
                    slot = j;
            if (slot < 0) {
                slot = nvars++;
                names[slot] = name;
                nextra++;
            } else {
                free(name);
                ks_val_release(vals[slot]);
            }
            vals[slot] = v;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--null-input") == 0) {
            null_input = 1;
        } else if (strcmp(a, "--explain") == 0) {
            explain = 1;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            goto out;
        } else if (!src && (a[0] != '-' || a[1] == 0)) {
            src = a;
        } else {
            fprintf(stderr, "kstreamd eval: unknown argument `%s`\n", a);
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if (!src) {
        usage(stderr);
        status = 2;
        goto out;
    }
    if (key) {
        ks_val_release(vals[0]);
        vals[0] = ks_str_cstr(key);
    }
    char *cerr = NULL;
    ks_expr_t *e = ks_expr_compile(src, names, nvars, &cerr);
    if (!e) {
        fprintf(stderr, "kstreamd eval: %s\n", cerr);
        free(cerr);
        status = 2;
        goto out;
    }
    if (explain) {
        if (ks_expr_is_native(e))
            fprintf(stderr, "native\n");
        else
            fprintf(stderr, "libjq fallback: %s\n", ks_expr_fallback_reason(e));
    }
    ks_buf_t outbuf = {0};
    size_t len = 0, pos = 0;
    char *text = null_input ? NULL : read_all(stdin, &len);
    for (;;) {
        ks_val input;
        if (null_input) {
            input = ks_null();
        } else {
            char perr[200];
            if (ks_json_parse_next(text, len, &pos, &input, perr, sizeof perr)) {
                fprintf(stderr, "kstreamd eval: input: %s\n", perr);
                status = 1;
                break;
            }
            if (input.kind == KS_INVALID)
                break;
        }
        vals[1] = input; /* $value is the input */
        ks_val err;
        if (ks_expr_eval(e, input, vals, nvars, print_out, &outbuf, &err)) {
            char *msg = ks_expr_error_message(err);
            fprintf(stderr, "kstreamd eval: error: %s\n", msg);
            free(msg);
            ks_val_release(err);
            status = 1;
        }
        fflush(stdout);
        vals[1] = ks_null();
        ks_val_release(input);
        if (null_input)
            break;
    }
    free(text);
    ks_buf_free(&outbuf);
    ks_expr_free(e);
out:
    for (int i = 0; i < nvars; i++)
        ks_val_release(vals[i]);
    for (int i = KS_EXPR_NSTREAM_VARS; i < nvars; i++)
        free((char *)names[i]);
    (void)nextra;
    return status;
}
