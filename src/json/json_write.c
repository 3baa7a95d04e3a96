/*
 * json_write.c: ks_val -> JSON text, as `jq -c` writes it.
 */
#include "json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal digits of an unsigned 64-bit integer (at most 20), without printf. */
static int fmt_u64(char *out, uint64_t u)
{
    char rev[24];
    int n = 0;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (int i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    out[n] = 0;
    return n;
}

/* An integer's digits, with its sign when neg (u is then its magnitude). */
static void write_int(ks_buf_t *b, int neg, uint64_t u)
{
    char tmp[24];
    int n = 0;
    if (neg)
        tmp[n++] = '-';
    n += fmt_u64(tmp + n, u);
    ks_buf_append(b, tmp, (size_t)n);
}

void ks_json_write_num(ks_buf_t *b, double d)
{
    char tmp[40];
    if (isnan(d)) {
        ks_buf_append(b, "null", 4);
        return;
    }
    if (d > DBL_MAX)
        d = DBL_MAX;
    if (d < -DBL_MAX)
        d = -DBL_MAX;
    if (d == 0) {
        ks_buf_puts(b, signbit(d) ? "-0" : "0");
        return;
    }
    if (fabs(d) < 1e16 && d == (double)(int64_t)d) {
        int64_t i = (int64_t)d;
        write_int(b, i < 0, i < 0 ? 0 - (uint64_t)i : (uint64_t)i);
        return;
    }
    /*
     * Fast path for short decimals (prices, rates): the fewest fraction
     * digits k for which m / 10^k reads back as d gives the shortest digits,
     * the same ones the general path finds, without printf and strtod.
     */
    double ad = fabs(d);
    if (ad >= 1e-4 && ad < 1e9) {
        static const double pow10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
        for (int k = 1; k <= 8; k++) {
            double m = nearbyint(ad * pow10[k]);
            if (m >= 1e15)
                break; /* past 15 digits the product's rounding could pick other digits than jq's */
            if (m / pow10[k] != ad)
                continue;
            int64_t im = (int64_t)m;
            char digits[32];
            int nd = fmt_u64(digits, (uint64_t)im);
            if (d < 0)
                ks_buf_putc(b, '-');
            if (nd <= k) {
                ks_buf_append(b, "0.", 2);
                for (int i = nd; i < k; i++)
                    ks_buf_putc(b, '0');
                ks_buf_append(b, digits, (size_t)nd);
            } else {
                ks_buf_append(b, digits, (size_t)(nd - k));
                ks_buf_putc(b, '.');
                ks_buf_append(b, digits + nd - k, (size_t)k);
            }
            return;
        }
    }
    /* Shortest digits that round-trip: 15 significant digits almost always. */
    int prec;
    for (prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (prec == 17 || strtod(tmp, NULL) == d)
            break;
    }
    /* tmp is [-]D.DDDDe[+-]XX: collect the digits and the exponent. */
    char digits[24];
    int nd = 0;
    const char *q = tmp;
    if (*q == '-') {
        ks_buf_putc(b, '-');
        q++;
    }
    for (; *q && *q != 'e'; q++)
        if (*q != '.')
            digits[nd++] = *q;
    int exp10 = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int decpt = exp10 + 1;
    if (decpt <= -4 || decpt > nd + 15) {
        ks_buf_putc(b, digits[0]);
        if (nd > 1) {
            ks_buf_putc(b, '.');
            ks_buf_append(b, digits + 1, (size_t)nd - 1);
        }
        ks_buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    } else if (decpt <= 0) {
        ks_buf_append(b, "0.", 2);
        for (int i = 0; i < -decpt; i++)
            ks_buf_putc(b, '0');
        ks_buf_append(b, digits, (size_t)nd);
    } else if (decpt >= nd) {
        ks_buf_append(b, digits, (size_t)nd);
        for (int i = nd; i < decpt; i++)
            ks_buf_putc(b, '0');
    } else {
        ks_buf_append(b, digits, (size_t)decpt);
        ks_buf_putc(b, '.');
        ks_buf_append(b, digits + decpt, (size_t)(nd - decpt));
    }
}

/* The bytes a JSON string cannot hold as they are: control characters, `"`, `\\`, and DEL (jq writes \u007f). */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,          1,          1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
};

void ks_json_write_str(ks_buf_t *b, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    while (i < len && !needs_escape[u[i]])
        i++;
    if (i == len) { /* nothing to escape: one copy */
        ks_buf_reserve(b, len + 2);
        char *o = b->data + b->len;
        o[0] = '"';
        memcpy(o + 1, p, len);
        o[len + 1] = '"';
        o[len + 2] = 0;
        b->len += len + 2;
        return;
    }
    ks_buf_reserve(b, len + 8);
    ks_buf_putc(b, '"');
    ks_buf_append(b, p, i);
    size_t run = i;
    for (; i < len; i++) {
        unsigned char c = u[i];
        if (!needs_escape[c])
            continue;
        ks_buf_append(b, p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': ks_buf_append(b, "\\\"", 2); break;
        case '\\': ks_buf_append(b, "\\\\", 2); break;
        case '\b': ks_buf_append(b, "\\b", 2); break;
        case '\f': ks_buf_append(b, "\\f", 2); break;
        case '\n': ks_buf_append(b, "\\n", 2); break;
        case '\r': ks_buf_append(b, "\\r", 2); break;
        case '\t': ks_buf_append(b, "\\t", 2); break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ks_buf_append(b, e, 6);
        }
        }
    }
    ks_buf_append(b, p + run, len - run);
    ks_buf_putc(b, '"');
}

void ks_json_write(ks_buf_t *b, ks_val v)
{
    switch (v.kind) {
    case KS_NULL: ks_buf_append(b, "null", 4); break;
    case KS_FALSE: ks_buf_append(b, "false", 5); break;
    case KS_TRUE: ks_buf_append(b, "true", 4); break;
    case KS_NUMBER:
        if (v.exact == KS_EXACT_U64)
            write_int(b, 0, v.u);
        else if (v.exact == KS_EXACT_I64)
            write_int(b, v.i < 0, v.i < 0 ? 0 - (uint64_t)v.i : (uint64_t)v.i);
        else
            ks_json_write_num(b, v.d);
        break;
    case KS_STRING: ks_json_write_str(b, v.s->data, v.s->len); break;
    case KS_ARRAY:
        ks_buf_putc(b, '[');
        for (uint32_t i = 0; i < v.a->len; i++) {
            if (i)
                ks_buf_putc(b, ',');
            ks_json_write(b, v.a->items[i]);
        }
        ks_buf_putc(b, ']');
        break;
    case KS_OBJECT:
        ks_buf_putc(b, '{');
        for (uint32_t i = 0; i < v.o->len; i++) {
            if (i)
                ks_buf_putc(b, ',');
            ks_json_write_str(b, v.o->slots[i].key->data, v.o->slots[i].key->len);
            ks_buf_putc(b, ':');
            ks_json_write(b, v.o->slots[i].val);
        }
        ks_buf_putc(b, '}');
        break;
    default: ks_buf_append(b, "<invalid>", 9); break;
    }
}

char *ks_json_dump(ks_val v)
{
    ks_buf_t b = {0};
    ks_json_write(&b, v);
    return ks_buf_steal(&b);
}
