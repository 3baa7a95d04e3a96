/*
 * diag.c: collected diagnostics with file, line and column.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>

#include "util.h"

void ks_diag_add(ks_diags_t *d, ks_severity_t sev, const char *file, int line, int col, const char *fmt, ...)
{
    ks_diag_t *g = ks_xcalloc(1, sizeof *g);
    g->sev = sev;
    g->file = ks_xstrdup(file ? file : "<input>");
    g->line = line;
    g->col = col;
    ks_buf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ks_buf_reserve(&b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b.data, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b.len = (size_t)n;
    }
    g->msg = ks_buf_steal(&b);
    if (d->tail)
        d->tail->next = g;
    else
        d->head = g;
    d->tail = g;
    if (sev == KS_SEV_ERROR)
        d->nerr++;
    else
        d->nwarn++;
}

static void format_one(const ks_diag_t *g, ks_buf_t *b)
{
    if (g->line > 0)
        ks_buf_printf(b, "%s:%d:%d: ", g->file, g->line, g->col);
    else
        ks_buf_printf(b, "%s: ", g->file);
    if (g->sev == KS_SEV_WARNING)
        ks_buf_puts(b, "warning: ");
    ks_buf_puts(b, g->msg);
    ks_buf_putc(b, '\n');
}

char *ks_diags_string(const ks_diags_t *d)
{
    ks_buf_t b = {0};
    for (const ks_diag_t *g = d->head; g; g = g->next)
        format_one(g, &b);
    return ks_buf_steal(&b);
}

void ks_diags_print(const ks_diags_t *d, FILE *f)
{
    char *s = ks_diags_string(d);
    fputs(s, f);
    free(s);
}

void ks_diags_free(ks_diags_t *d)
{
    ks_diag_t *g = d->head;
    while (g) {
        ks_diag_t *next = g->next;
        free(g->file);
        free(g->msg);
        free(g);
        g = next;
    }
    d->head = d->tail = NULL;
    d->nerr = d->nwarn = 0;
}
