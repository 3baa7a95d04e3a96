/*
 * diag.h: diagnostics with a place. Configuration and topology errors are
 * collected (all errors of a file, then stop, as SQLite's pParse->nErr) and
 * printed as `file:line:col: message`, columns 1-based.
 */
#ifndef KS_DIAG_H
#define KS_DIAG_H

#include <stdio.h>

typedef enum ks_severity { KS_SEV_ERROR, KS_SEV_WARNING } ks_severity_t;

typedef struct ks_diag {
    ks_severity_t sev;
    char *file;
    int line, col; /* 1-based; 0 when unknown */
    char *msg;     /* may hold several lines (an expression with a caret) */
    struct ks_diag *next;
} ks_diag_t;

typedef struct ks_diags {
    ks_diag_t *head, *tail;
    int nerr, nwarn;
} ks_diags_t;

/* Adds a diagnostic; the file name is copied. */
void ks_diag_add(ks_diags_t *d, ks_severity_t sev, const char *file, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Shorthand for an error. */
#define ks_diag_err(d, file, line, col, ...) ks_diag_add((d), KS_SEV_ERROR, (file), (line), (col), __VA_ARGS__)
/* Prints every diagnostic in the order added: `file:line:col: message` (`warning: ` for warnings). */
void ks_diags_print(const ks_diags_t *d, FILE *f);
/* All diagnostics as one string (malloc'd), as ks_diags_print would print them. */
char *ks_diags_string(const ks_diags_t *d);
void ks_diags_free(ks_diags_t *d);

#endif
