/*
 * runtime_doc.c: the kstreamd runtime keys (ks_runtime_keys[], the rows of
 * KS_RUNTIME_KEYS in runtime.c) as documentation: text for `kstreamd
 * --help-config`, the README's markdown table and the roff of
 * man/kstreamd.1. `make man` writes the last two between the `BEGIN
 * runtime-keys` and `END runtime-keys` markers of those files, and `make
 * test` fails when what is there differs from what the rows print.
 *
 * Descriptions are written once, with `code` in backticks: markdown keeps
 * them, roff makes them bold.
 */
#include <string.h>

#include "runtime.h"

const char *ks_runtime_scope_name(ks_runtime_scope_t scope)
{
    switch (scope) {
    case KS_SCOPE_PROCESS: return "process";
    case KS_SCOPE_SERVICE: return "service";
    case KS_SCOPE_TOPOLOGY: return "topology";
    }
    return "?";
}

/* What the scope means, for the text and roff forms (the README says it in its prose). */
static const char *scope_text(ks_runtime_scope_t scope)
{
    switch (scope) {
    case KS_SCOPE_PROCESS: return "one value per process";
    case KS_SCOPE_SERVICE: return "per service";
    case KS_SCOPE_TOPOLOGY: return "topology config: only";
    }
    return "?";
}

/* A markdown table cell: `|` would end the cell. */
static void put_md(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/*
 * Roff text: `code` becomes bold, a backslash is written `\e`, a minus sign
 * (inside `code`, or before a digit or another minus) is `\-`, and a line
 * that would start with `.` or `'` (a request to troff) gets `\&` in front.
 */
static void put_roff(FILE *f, const char *s)
{
    int code = 0;
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (const char *p = s; *p; p++) {
        if (*p == '`') {
            fputs(code ? "\\fR" : "\\fB", f);
            code = !code;
        } else if (*p == '\\') {
            fputs("\\e", f);
        } else if (*p == '-' && (code || p[1] == '-' || (p[1] >= '0' && p[1] <= '9') || (p > s && p[-1] == '-'))) {
            fputs("\\-", f);
        } else {
            fputc(*p, f);
        }
    }
}

/* Text: `s` from column 7, wrapped before column 80. */
static void put_wrapped(FILE *f, const char *s)
{
    int col = 0;
    while (*s) {
        const char *sp = strchr(s, ' ');
        int len = sp ? (int)(sp - s) : (int)strlen(s);
        if (col > 0 && col + 1 + len > 73) {
            fputc('\n', f);
            col = 0;
        }
        fprintf(f, "%s%.*s", col ? " " : "      ", len, s);
        col += len + (col ? 1 : 0);
        s += len;
        while (*s == ' ')
            s++;
    }
    fputc('\n', f);
}

void ks_runtime_print_reference(FILE *f, ks_runtime_doc_t format)
{
    const ks_runtime_key_t *k;
    switch (format) {
    case KS_RUNTIME_DOC_TEXT:
        fputs("kstreamd's runtime keys, set in the environment file (-E ENV.yaml), a topology's\n"
              "config: or --set KEY=VALUE (later wins). Any other key is a librdkafka property.\n",
              f);
        for (k = ks_runtime_keys; k->name; k++) {
            fprintf(f, "\n  %s  (%s; default %s; %s)\n", k->name, k->type, *k->def ? k->def : "none",
                    scope_text(k->scope));
            put_wrapped(f, k->doc);
        }
        break;
    case KS_RUNTIME_DOC_MARKDOWN:
        fputs("| key | type | default | scope | what |\n|---|---|---|---|---|\n", f);
        for (k = ks_runtime_keys; k->name; k++) {
            fprintf(f, "| `%s` | ", k->name);
            put_md(f, k->type);
            fputs(" | ", f);
            if (*k->def) {
                fputc('`', f);
                put_md(f, k->def);
                fputc('`', f);
            } else {
                fputs("none", f);
            }
            fprintf(f, " | %s | ", ks_runtime_scope_name(k->scope));
            put_md(f, k->doc);
            fputs(" |\n", f);
        }
        break;
    case KS_RUNTIME_DOC_MAN:
        for (k = ks_runtime_keys; k->name; k++) {
            fprintf(f, ".TP\n.BR %s \" (", k->name);
            put_roff(f, k->type);
            fputs("; default ", f);
            put_roff(f, *k->def ? k->def : "none");
            fprintf(f, "; %s)\"\n", scope_text(k->scope));
            put_roff(f, k->doc);
            fputc('\n', f);
        }
        break;
    }
}
