/*
 * value.h: kstreamd's JSON value, shared by the expression engine, serdes
 * and stores.
 *
 * A ks_val is 16 bytes, passed by value. Strings, arrays and objects live on
 * the heap with a reference count and are immutable once shared: a function
 * that modifies one first makes it unique (copy-on-write). This is what lets
 * `. + {customer: $right}` share both records' subtrees instead of copying
 * them, which cJSON's single-parent trees cannot do.
 *
 * Ownership: functions that take a `ks_val` by value *consume* it (the
 * caller's reference passes to the callee) unless documented as borrowing;
 * functions returning a `const ks_val *` return a borrowed pointer valid as
 * long as the container is. ks_val_retain() makes a new reference.
 *
 * Reference counts are not atomic: a value belongs to one thread. Values
 * built at compile time (literals of a compiled expression) are marked
 * static and never counted, so compiled programs can be shared by threads.
 *
 * Numbers are doubles, as in jq, except that an integer literal outside
 * +-2^53 parsed from JSON keeps its exact 64-bit value (`exact` is set) for as
 * long as it passes through unchanged; arithmetic turns it into a double.
 */
#ifndef KS_VALUE_H
#define KS_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* Kinds, in jq's sort order. KS_INVALID marks "no value". */
typedef enum ks_kind {
    KS_INVALID = 0,
    KS_NULL,
    KS_FALSE,
    KS_TRUE,
    KS_NUMBER,
    KS_STRING,
    KS_ARRAY,
    KS_OBJECT,
} ks_kind_t;

#define KS_EXACT_I64 1 /* number: `i` holds the exact signed value */
#define KS_EXACT_U64 2 /* number: `u` holds the exact unsigned value (> INT64_MAX) */

struct ks_str;
struct ks_arr;
struct ks_obj;

typedef struct ks_val {
    uint8_t kind;  /* a ks_kind_t */
    uint8_t exact; /* KS_EXACT_* for numbers, else 0 */
    union {
        double d;
        int64_t i;
        uint64_t u;
        struct ks_str *s;
        struct ks_arr *a;
        struct ks_obj *o;
    };
} ks_val;

struct ks_str {
    int32_t rc;   /* reference count; KS_RC_STATIC for compile-time constants */
    uint32_t len; /* bytes, excluding the terminating NUL */
    char data[];  /* UTF-8, NUL-terminated */
};

struct ks_arr {
    int32_t rc;
    uint32_t len;
    uint32_t cap;
    ks_val items[];
};

struct ks_obj_slot {
    struct ks_str *key;
    ks_val val;
};

struct ks_obj {
    int32_t rc;
    uint32_t len; /* slots in insertion order, keys unique */
    uint32_t cap;
    struct ks_obj_slot slots[];
};

#define KS_RC_STATIC INT32_MIN

static inline ks_val ks_invalid(void)
{
    ks_val v = {.kind = KS_INVALID};
    return v;
}
static inline ks_val ks_null(void)
{
    ks_val v = {.kind = KS_NULL};
    return v;
}
static inline ks_val ks_bool(int b)
{
    ks_val v = {.kind = (uint8_t)(b ? KS_TRUE : KS_FALSE)};
    return v;
}
static inline ks_val ks_num(double d)
{
    ks_val v = {.kind = KS_NUMBER, .d = d};
    return v;
}
static inline int ks_is_valid(ks_val v)
{
    return v.kind != KS_INVALID;
}
static inline int ks_is_truthy(ks_val v)
{
    return v.kind > KS_FALSE;
}

/* The number as a double (exact integers converted). */
static inline double ks_num_get(ks_val v)
{
    if (v.exact == KS_EXACT_I64)
        return (double)v.i;
    if (v.exact == KS_EXACT_U64)
        return (double)v.u;
    return v.d;
}

/* Exact integer numbers, for ids past 2^53. */
ks_val ks_num_i64(int64_t i);
ks_val ks_num_u64(uint64_t u);

ks_val ks_str_new(const char *p, size_t len);
ks_val ks_str_cstr(const char *s);
/* A string of `len` uninitialised bytes for the caller to fill. */
ks_val ks_str_alloc(size_t len, char **data);
static inline const char *ks_str_data(ks_val v)
{
    return v.s->data;
}
static inline size_t ks_str_len(ks_val v)
{
    return v.s->len;
}
/* Concatenates; consumes both. */
ks_val ks_str_concat(ks_val a, ks_val b);

ks_val ks_arr_new(size_t cap);
static inline size_t ks_arr_len(ks_val v)
{
    return v.a->len;
}
static inline const ks_val *ks_arr_get(ks_val v, size_t i)
{
    return &v.a->items[i];
}
/* Appends `item` (consumed) to *arr, copying *arr first if shared. */
void ks_arr_push(ks_val *arr, ks_val item);
/* Sets element i (consumed), padding with nulls; copies *arr if shared. */
void ks_arr_set(ks_val *arr, size_t i, ks_val item);

ks_val ks_obj_new(size_t cap);
static inline size_t ks_obj_len(ks_val v)
{
    return v.o->len;
}
/* Borrowed pointer to the value under key, or NULL. */
const ks_val *ks_obj_get(ks_val obj, const char *key, size_t klen);
/* Sets key (a string value, consumed) to val (consumed); copies *obj if shared. */
void ks_obj_set(ks_val *obj, ks_val key, ks_val val);
/* Same with a C key. */
void ks_obj_setc(ks_val *obj, const char *key, ks_val val);
/* Removes key if present; copies *obj if shared. */
void ks_obj_del(ks_val *obj, const char *key, size_t klen);
/* A new reference to slot i's key as a string value. */
ks_val ks_obj_key(ks_val obj, size_t i);

ks_val ks_val_retain(ks_val v);
void ks_val_release(ks_val v);
/* Makes *v's top-level container unique, so it can be modified in place. */
void ks_val_unshare(ks_val *v);
/* Marks v and everything in it static (never counted, shareable by threads). */
void ks_val_make_static(ks_val v);
/* Frees a value marked static. */
void ks_val_free_static(ks_val v);

/* jq's name of v's kind: "null", "boolean", "number", ... */
const char *ks_kind_name(ks_val v);
/* jq's total order: <0, 0, >0. Borrows both. */
int ks_val_cmp(ks_val a, ks_val b);
static inline int ks_val_equal(ks_val a, ks_val b)
{
    return ks_val_cmp(a, b) == 0;
}
/* Sorted array of an object's keys (new reference). */
ks_val ks_obj_sorted_keys(ks_val obj);
/* Sorts an array of values in place in jq's order (stable). */
void ks_val_sort(ks_val *items, size_t n);

#endif
