/*
 * value.c: reference-counted JSON values with copy-on-write containers.
 */
#include "value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"

static inline int is_heap(ks_val v)
{
    return v.kind >= KS_STRING;
}

static inline int32_t *rc_of(ks_val v)
{
    return v.kind == KS_STRING ? &v.s->rc : v.kind == KS_ARRAY ? &v.a->rc : &v.o->rc;
}

ks_val ks_num_i64(int64_t i)
{
    ks_val v = {.kind = KS_NUMBER, .exact = KS_EXACT_I64, .i = i};
    return v;
}

ks_val ks_num_u64(uint64_t u)
{
    ks_val v = {.kind = KS_NUMBER, .exact = KS_EXACT_U64, .u = u};
    return v;
}

ks_val ks_str_alloc(size_t len, char **data)
{
    struct ks_str *s = ks_xmalloc(sizeof *s + len + 1);
    s->rc = 1;
    s->len = (uint32_t)len;
    s->data[len] = 0;
    *data = s->data;
    ks_val v = {.kind = KS_STRING, .s = s};
    return v;
}

ks_val ks_str_new(const char *p, size_t len)
{
    char *d;
    ks_val v = ks_str_alloc(len, &d);
    memcpy(d, p, len);
    return v;
}

ks_val ks_str_cstr(const char *s)
{
    return ks_str_new(s, strlen(s));
}

ks_val ks_str_concat(ks_val a, ks_val b)
{
    size_t la = a.s->len, lb = b.s->len;
    if (lb == 0) {
        ks_val_release(b);
        return a;
    }
    if (a.s->rc == 1) {
        a.s = ks_xrealloc(a.s, sizeof *a.s + la + lb + 1);
        memcpy(a.s->data + la, b.s->data, lb);
        a.s->len = (uint32_t)(la + lb);
        a.s->data[la + lb] = 0;
        ks_val_release(b);
        return a;
    }
    char *d;
    ks_val r = ks_str_alloc(la + lb, &d);
    memcpy(d, a.s->data, la);
    memcpy(d + la, b.s->data, lb);
    ks_val_release(a);
    ks_val_release(b);
    return r;
}

ks_val ks_arr_new(size_t cap)
{
    struct ks_arr *a = ks_xmalloc(sizeof *a + cap * sizeof(ks_val));
    a->rc = 1;
    a->len = 0;
    a->cap = (uint32_t)cap;
    ks_val v = {.kind = KS_ARRAY, .a = a};
    return v;
}

static void arr_grow(ks_val *arr, size_t need)
{
    if (need <= arr->a->cap)
        return;
    size_t cap = arr->a->cap ? arr->a->cap * 2 : 4;
    while (cap < need)
        cap *= 2;
    arr->a = ks_xrealloc(arr->a, sizeof(struct ks_arr) + cap * sizeof(ks_val));
    arr->a->cap = (uint32_t)cap;
}

void ks_arr_push(ks_val *arr, ks_val item)
{
    ks_val_unshare(arr);
    arr_grow(arr, arr->a->len + 1);
    arr->a->items[arr->a->len++] = item;
}

void ks_arr_set(ks_val *arr, size_t i, ks_val item)
{
    ks_val_unshare(arr);
    if (i < arr->a->len) {
        ks_val_release(arr->a->items[i]);
        arr->a->items[i] = item;
        return;
    }
    arr_grow(arr, i + 1);
    while (arr->a->len < i)
        arr->a->items[arr->a->len++] = ks_null();
    arr->a->items[arr->a->len++] = item;
}

ks_val ks_obj_new(size_t cap)
{
    struct ks_obj *o = ks_xmalloc(sizeof *o + cap * sizeof(struct ks_obj_slot));
    o->rc = 1;
    o->len = 0;
    o->cap = (uint32_t)cap;
    ks_val v = {.kind = KS_OBJECT, .o = o};
    return v;
}

static long obj_find(const struct ks_obj *o, const char *key, size_t klen)
{
    for (uint32_t i = 0; i < o->len; i++) {
        const struct ks_str *k = o->slots[i].key;
        if (k->len == klen && memcmp(k->data, key, klen) == 0)
            return i;
    }
    return -1;
}

const ks_val *ks_obj_get(ks_val obj, const char *key, size_t klen)
{
    long i = obj_find(obj.o, key, klen);
    return i < 0 ? NULL : &obj.o->slots[i].val;
}

void ks_obj_set(ks_val *obj, ks_val key, ks_val val)
{
    ks_val_unshare(obj);
    struct ks_obj *o = obj->o;
    long i = obj_find(o, key.s->data, key.s->len);
    if (i >= 0) {
        ks_val_release(o->slots[i].val);
        o->slots[i].val = val;
        ks_val_release(key);
        return;
    }
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        o = obj->o = ks_xrealloc(o, sizeof *o + cap * sizeof(struct ks_obj_slot));
        o->cap = (uint32_t)cap;
    }
    o->slots[o->len].key = key.s;
    o->slots[o->len].val = val;
    o->len++;
}

void ks_obj_setc(ks_val *obj, const char *key, ks_val val)
{
    ks_obj_set(obj, ks_str_cstr(key), val);
}

void ks_obj_del(ks_val *obj, const char *key, size_t klen)
{
    long i = obj_find(obj->o, key, klen);
    if (i < 0)
        return;
    ks_val_unshare(obj);
    struct ks_obj *o = obj->o;
    ks_val k = {.kind = KS_STRING, .s = o->slots[i].key};
    ks_val_release(k);
    ks_val_release(o->slots[i].val);
    memmove(&o->slots[i], &o->slots[i + 1], (o->len - (size_t)i - 1) * sizeof(struct ks_obj_slot));
    o->len--;
}

ks_val ks_obj_key(ks_val obj, size_t i)
{
    ks_val k = {.kind = KS_STRING, .s = obj.o->slots[i].key};
    return ks_val_retain(k);
}

ks_val ks_val_retain(ks_val v)
{
    if (is_heap(v)) {
        int32_t *rc = rc_of(v);
        if (*rc > 0)
            (*rc)++;
    }
    return v;
}

static void free_heap(ks_val v)
{
    switch (v.kind) {
    case KS_STRING: free(v.s); break;
    case KS_ARRAY:
        for (uint32_t i = 0; i < v.a->len; i++)
            ks_val_release(v.a->items[i]);
        free(v.a);
        break;
    case KS_OBJECT:
        for (uint32_t i = 0; i < v.o->len; i++) {
            ks_val k = {.kind = KS_STRING, .s = v.o->slots[i].key};
            ks_val_release(k);
            ks_val_release(v.o->slots[i].val);
        }
        free(v.o);
        break;
    default: break;
    }
}

void ks_val_release(ks_val v)
{
    if (!is_heap(v))
        return;
    int32_t *rc = rc_of(v);
    if (*rc > 0 && --(*rc) == 0)
        free_heap(v);
}

void ks_val_unshare(ks_val *v)
{
    if (!is_heap(*v) || *rc_of(*v) == 1)
        return;
    ks_val old = *v;
    if (v->kind == KS_STRING) {
        *v = ks_str_new(old.s->data, old.s->len);
    } else if (v->kind == KS_ARRAY) {
        ks_val n = ks_arr_new(old.a->len ? old.a->len : 4);
        for (uint32_t i = 0; i < old.a->len; i++)
            n.a->items[i] = ks_val_retain(old.a->items[i]);
        n.a->len = old.a->len;
        *v = n;
    } else {
        ks_val n = ks_obj_new(old.o->len ? old.o->len : 4);
        for (uint32_t i = 0; i < old.o->len; i++) {
            ks_val k = {.kind = KS_STRING, .s = old.o->slots[i].key};
            n.o->slots[i].key = ks_val_retain(k).s;
            n.o->slots[i].val = ks_val_retain(old.o->slots[i].val);
        }
        n.o->len = old.o->len;
        *v = n;
    }
    ks_val_release(old);
}

void ks_val_make_static(ks_val v)
{
    if (!is_heap(v))
        return;
    *rc_of(v) = KS_RC_STATIC;
    if (v.kind == KS_ARRAY) {
        for (uint32_t i = 0; i < v.a->len; i++)
            ks_val_make_static(v.a->items[i]);
    } else if (v.kind == KS_OBJECT) {
        for (uint32_t i = 0; i < v.o->len; i++) {
            v.o->slots[i].key->rc = KS_RC_STATIC;
            ks_val_make_static(v.o->slots[i].val);
        }
    }
}

void ks_val_free_static(ks_val v)
{
    if (!is_heap(v))
        return;
    if (*rc_of(v) != KS_RC_STATIC) {
        ks_val_release(v);
        return;
    }
    if (v.kind == KS_ARRAY) {
        for (uint32_t i = 0; i < v.a->len; i++)
            ks_val_free_static(v.a->items[i]);
        free(v.a);
    } else if (v.kind == KS_OBJECT) {
        for (uint32_t i = 0; i < v.o->len; i++) {
            ks_val k = {.kind = KS_STRING, .s = v.o->slots[i].key};
            ks_val_free_static(k);
            ks_val_free_static(v.o->slots[i].val);
        }
        free(v.o);
    } else {
        free(v.s);
    }
}

const char *ks_kind_name(ks_val v)
{
    switch (v.kind) {
    case KS_NULL: return "null";
    case KS_FALSE:
    case KS_TRUE: return "boolean";
    case KS_NUMBER: return "number";
    case KS_STRING: return "string";
    case KS_ARRAY: return "array";
    case KS_OBJECT: return "object";
    default: return "<invalid>";
    }
}

static int str_cmp(const struct ks_str *a, const struct ks_str *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int r = memcmp(a->data, b->data, n);
    if (r)
        return r < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/*
 * An exact integer against a double: when the double is an integer no
 * larger than 2^53 it stands for exactly that integer, so compare exactly
 * (9007199254740993 != 9007199254740992); a larger double is approximate
 * (it came from arithmetic or a fraction), so compare as doubles, the way
 * its printed text would read back (7173733809411033000 == 7.173733809411033e18).
 */
static int num_cmp(ks_val a, ks_val b)
{
    if (a.exact != b.exact && (a.exact == 0 || b.exact == 0)) {
        double d = a.exact ? b.d : a.d;
        if (fabs(d) <= 9007199254740992.0 && d == floor(d)) {
            if (!a.exact)
                a = ks_num_i64((int64_t)a.d);
            else
                b = ks_num_i64((int64_t)b.d);
        } else {
            double da = ks_num_get(a), db = ks_num_get(b);
            return da < db ? -1 : da > db;
        }
    }
    if (a.exact && b.exact) {
        if (a.exact == b.exact)
            return a.exact == KS_EXACT_I64 ? (a.i < b.i ? -1 : a.i > b.i) : (a.u < b.u ? -1 : a.u > b.u);
        return a.exact == KS_EXACT_U64 ? 1 : -1; /* u64 values are all > INT64_MAX */
    }
    double da = ks_num_get(a), db = ks_num_get(b);
    /* As in jq 1.6, NaN sorts below every number (and below itself). */
    if (isnan(da))
        return -1;
    if (isnan(db))
        return 1;
    return da < db ? -1 : da > db;
}

static int key_cmp(const void *x, const void *y)
{
    return str_cmp(*(struct ks_str *const *)x, *(struct ks_str *const *)y);
}

static struct ks_str **sorted_keys(ks_val obj, struct ks_str **small, size_t nsmall)
{
    size_t n = obj.o->len;
    struct ks_str **k = n <= nsmall ? small : ks_xmalloc(n * sizeof *k);
    for (size_t i = 0; i < n; i++)
        k[i] = obj.o->slots[i].key;
    qsort(k, n, sizeof *k, key_cmp);
    return k;
}

static int obj_cmp(ks_val a, ks_val b)
{
    struct ks_str *sa[16], *sb[16];
    struct ks_str **ka = sorted_keys(a, sa, 16), **kb = sorted_keys(b, sb, 16);
    size_t na = a.o->len, nb = b.o->len, i;
    int r = 0;
    for (i = 0; i < na && i < nb && r == 0; i++)
        r = str_cmp(ka[i], kb[i]);
    if (r == 0)
        r = na < nb ? -1 : na > nb;
    for (i = 0; i < na && r == 0; i++)
        r = ks_val_cmp(*ks_obj_get(a, ka[i]->data, ka[i]->len), *ks_obj_get(b, ka[i]->data, ka[i]->len));
    if (ka != sa)
        free(ka);
    if (kb != sb)
        free(kb);
    return r;
}

int ks_val_cmp(ks_val a, ks_val b)
{
    if (a.kind != b.kind)
        return a.kind < b.kind ? -1 : 1;
    switch (a.kind) {
    case KS_NUMBER: return num_cmp(a, b);
    case KS_STRING: return a.s == b.s ? 0 : str_cmp(a.s, b.s);
    case KS_ARRAY: {
        if (a.a == b.a)
            return 0;
        size_t i;
        for (i = 0; i < a.a->len && i < b.a->len; i++) {
            int r = ks_val_cmp(a.a->items[i], b.a->items[i]);
            if (r)
                return r;
        }
        return a.a->len < b.a->len ? -1 : a.a->len > b.a->len;
    }
    case KS_OBJECT: return a.o == b.o ? 0 : obj_cmp(a, b);
    default: return 0;
    }
}

ks_val ks_obj_sorted_keys(ks_val obj)
{
    size_t n = obj.o->len;
    struct ks_str *small[16];
    struct ks_str **k = sorted_keys(obj, small, 16);
    ks_val arr = ks_arr_new(n);
    for (size_t i = 0; i < n; i++) {
        ks_val kv = {.kind = KS_STRING, .s = k[i]};
        arr.a->items[i] = ks_val_retain(kv);
    }
    arr.a->len = (uint32_t)n;
    if (k != small)
        free(k);
    return arr;
}

static void merge_sort(ks_val *v, ks_val *tmp, size_t n)
{
    if (n < 2)
        return;
    if (n <= 8) { /* insertion sort: stable */
        for (size_t i = 1; i < n; i++) {
            ks_val x = v[i];
            size_t j = i;
            while (j > 0 && ks_val_cmp(v[j - 1], x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    size_t i = 0, j = h, o = 0;
    while (i < h && j < n)
        tmp[o++] = ks_val_cmp(v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[o++] = v[i++];
    while (j < n)
        tmp[o++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void ks_val_sort(ks_val *items, size_t n)
{
    if (n < 2)
        return;
    ks_val *tmp = ks_xmalloc(n * sizeof *tmp);
    merge_sort(items, tmp, n);
    free(tmp);
}
