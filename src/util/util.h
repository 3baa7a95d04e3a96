/*
 * util.h: small helpers every module uses: allocation that aborts on
 * failure, a growable byte buffer, the grow-by-one vector helper and the
 * size of error buffers.
 *
 * Allocation failure is not recoverable in kstreamd; the x* functions print a
 * message and abort instead of returning NULL (as h2o and Redis do).
 */
#ifndef KS_UTIL_H
#define KS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * The size of an error buffer. A fallible function returns 0, or -1 after
 * writing one sentence into the caller's buffer (`char *err, size_t
 * errlen`); callers declare `char err[KS_ERRMSG_SIZE]`. See HACKING.md,
 * "Conventions you will meet".
 */
#define KS_ERRMSG_SIZE 2048

void *ks_xmalloc(size_t n);
void *ks_xcalloc(size_t n, size_t size);
void *ks_xrealloc(void *p, size_t n);
char *ks_xstrdup(const char *s);
char *ks_xstrndup(const char *s, size_t n);

/*
 * Room for one more element at the end of an array of n elements of elem
 * bytes each (a list built once, read many times): returns the array
 * reallocated to n + 1 elements. Aborts as ks_xrealloc does when memory runs
 * out, and when n + 1 elements would not fit an int count or a size_t.
 * KS_GROW(arr, n) does it in place: `KS_GROW(t->procs, t->nprocs);
 * t->procs[t->nprocs++] = p;`.
 */
void *ks_grow(void *arr, int n, size_t elem);
#define KS_GROW(arr, n) ((arr) = ks_grow((arr), (n), sizeof *(arr)))

/* A growable byte buffer, always NUL-terminated when data != NULL. */
typedef struct ks_buf {
    char *data;
    size_t len;
    size_t cap;
} ks_buf_t;

void ks_buf_reserve(ks_buf_t *b, size_t extra);
void ks_buf_append_slow(ks_buf_t *b, const void *p, size_t n);

/* Inline: the JSON writer calls these per character and per token. */
static inline void ks_buf_append(ks_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        ks_buf_append_slow(b, p, n);
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

static inline void ks_buf_putc(ks_buf_t *b, char c)
{
    if (b->len + 2 > b->cap)
        ks_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}
void ks_buf_puts(ks_buf_t *b, const char *s);
void ks_buf_printf(ks_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ks_buf_free(ks_buf_t *b);
/* Hands the buffer's memory to the caller (never NULL) and resets the buffer. */
char *ks_buf_steal(ks_buf_t *b);

#endif
