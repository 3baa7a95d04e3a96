/*
 * yaml_json.c: YAML nodes to JSON values, resolving plain scalars with the
 * YAML 1.2 core schema (not YAML 1.1's: `yes`, `on` and `0777` stay strings
 * or decimals). This is how inline records and JSON literals in
 * configuration files become ks_val values.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml.h"

#include "../util/util.h"

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_value(char c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
}

static int one_of(const char *s, size_t len, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == len && memcmp(*words, s, len) == 0)
            return 1;
    return 0;
}

/* An integer with magnitude `mag` (exact) or `dmag` (when past 64 bits), as json.c makes them. */
static ks_val make_int(int neg, uint64_t mag, int overflow, double dmag)
{
    if (overflow)
        return ks_num(neg ? -dmag : dmag);
    if (mag <= (1ULL << 53))
        return ks_num(neg ? -(double)mag : (double)mag);
    if (!neg)
        return mag <= INT64_MAX ? ks_num_i64((int64_t)mag) : ks_num_u64(mag);
    if (mag <= (uint64_t)INT64_MAX + 1)
        return ks_num_i64(mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag);
    return ks_num(-(double)mag);
}

/* Digits s[0..len) in `base` (all valid); sets *v or, past 64 bits, *overflow and *dv. */
static void parse_digits(const char *s, size_t len, unsigned base, uint64_t *v, int *overflow, double *dv)
{
    *v = 0;
    *overflow = 0;
    *dv = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned)hex_value(s[i]);
        *dv = *dv * base + d;
        if (*v > (UINT64_MAX - d) / base)
            *overflow = 1;
        *v = *v * base + d;
    }
}

/* Matches [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_float(const char *s, size_t len)
{
    size_t i = 0, ndig = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && is_digit(s[i]))
        i++, ndig++;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && is_digit(s[i]))
            i++, ndig++;
    }
    if (ndig == 0)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t edig = 0;
        while (i < len && is_digit(s[i]))
            i++, edig++;
        if (edig == 0)
            return 0;
    }
    return i == len;
}

static int all_of(const char *s, size_t len, int (*pred)(char))
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!pred(s[i]))
            return 0;
    return 1;
}

static int is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* The core-schema value of a plain scalar. */
static ks_val resolve_plain(const char *s, size_t len)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const infs[] = {".inf", ".Inf", ".INF", NULL};
    static const char *const nans[] = {".nan", ".NaN", ".NAN", NULL};
    if (one_of(s, len, nulls))
        return ks_null();
    if (one_of(s, len, trues))
        return ks_bool(1);
    if (one_of(s, len, falses))
        return ks_bool(0);
    if (one_of(s, len, nans))
        return ks_num(NAN);
    int neg = len > 0 && s[0] == '-';
    size_t sign = len > 0 && (s[0] == '-' || s[0] == '+');
    if (one_of(s + sign, len - sign, infs))
        return ks_num(neg ? -INFINITY : INFINITY);
    uint64_t v;
    int overflow;
    double dv;
    if (len > 2 && s[0] == '0' && s[1] == 'x' && all_of(s + 2, len - 2, is_hex)) {
        parse_digits(s + 2, len - 2, 16, &v, &overflow, &dv);
        return make_int(0, v, overflow, dv);
    }
    if (len > 2 && s[0] == '0' && s[1] == 'o' && all_of(s + 2, len - 2, is_octal)) {
        parse_digits(s + 2, len - 2, 8, &v, &overflow, &dv);
        return make_int(0, v, overflow, dv);
    }
    if (all_of(s + sign, len - sign, is_digit)) {
        parse_digits(s + sign, len - sign, 10, &v, &overflow, &dv);
        if (overflow) {
            char *tmp = ks_xstrndup(s, len); /* strtod rounds correctly where dv accumulates error */
            dv = fabs(strtod(tmp, NULL));
            free(tmp);
        }
        return make_int(neg, v, overflow, dv);
    }
    if (is_float(s, len)) {
        char *tmp = ks_xstrndup(s, len);
        double d = strtod(tmp, NULL);
        free(tmp);
        return ks_num(d);
    }
    return ks_str_new(s, len);
}

ks_val ks_ynode_to_json(const ks_ynode_t *n)
{
    if (!n)
        return ks_null();
    switch (n->kind) {
    case KS_YAML_SCALAR:
        if (!n->plain || memchr(n->value, 0, n->len))
            return ks_str_new(n->value, n->len);
        return resolve_plain(n->value, n->len);
    case KS_YAML_SEQ: {
        ks_val arr = ks_arr_new(n->n);
        for (size_t i = 0; i < n->n; i++)
            ks_arr_push(&arr, ks_ynode_to_json(n->items[i]));
        return arr;
    }
    case KS_YAML_MAP: {
        ks_val obj = ks_obj_new(n->n);
        for (size_t i = 0; i < n->n; i++)
            ks_obj_set(&obj, ks_str_new(n->keys[i]->value, n->keys[i]->len), ks_ynode_to_json(n->items[i]));
        return obj;
    }
    }
    return ks_null();
}
