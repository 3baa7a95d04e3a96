/*
 * util.c: allocation helpers, the vector helper and the byte buffer.
 */
#include "util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "kstreamd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ks_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *ks_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *ks_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *ks_grow(void *arr, int n, size_t elem)
{
    if (n < 0 || n == INT_MAX || (size_t)n + 1 > SIZE_MAX / (elem ? elem : 1)) {
        fprintf(stderr, "kstreamd: cannot grow an array of %d elements of %zu bytes\n", n, elem);
        abort();
    }
    return ks_xrealloc(arr, ((size_t)n + 1) * elem);
}

char *ks_xstrdup(const char *s)
{
    return ks_xstrndup(s, strlen(s));
}

char *ks_xstrndup(const char *s, size_t n)
{
    char *p = ks_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void ks_buf_reserve(ks_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = ks_xrealloc(b->data, cap);
    b->cap = cap;
    b->data[b->len] = 0; /* keep the promise of util.h: NUL-terminated whenever data != NULL */
}

void ks_buf_append_slow(ks_buf_t *b, const void *p, size_t n)
{
    ks_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void ks_buf_puts(ks_buf_t *b, const char *s)
{
    ks_buf_append(b, s, strlen(s));
}

void ks_buf_printf(ks_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    ks_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ks_buf_free(ks_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *ks_buf_steal(ks_buf_t *b)
{
    char *p = b->data ? b->data : ks_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
