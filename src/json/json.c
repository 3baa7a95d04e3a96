/*
 * json.c: the JSON parser, and checking JSON text without building values
 * (the writer is json_write.c).
 */
#include "json.h"

#include <errno.h>
#include <pthread.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    char *err;
    size_t errlen;
    size_t line0, col0; /* where s[0] is in a longer text: lines and columns before it (0, 0 at its start) */
    int noncanon;       /* the text is not exactly as ks_json_write writes its value (see ks_json_span_t) */
} parser_t;

static int fail(parser_t *p, const char *msg)
{
    if (p->err && p->errlen) {
        size_t line = 1 + p->line0, col = 1 + p->col0;
        for (size_t i = 0; i < p->pos && i < p->len; i++) {
            if (p->s[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        snprintf(p->err, p->errlen, "%s at line %zu, column %zu", msg, line, col);
    }
    return -1;
}

static inline void skip_ws(parser_t *p)
{
    /* Compact JSON has no whitespace between tokens: one test decides that. */
    if (p->pos < p->len && (unsigned char)p->s[p->pos] > ' ')
        return;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\n' && c != '\t' && c != '\r')
            break;
        p->pos++;
        p->noncanon = 1;
    }
}

int ks_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int n;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    if ((size_t)n > len) {
        *cp = 0xfffd;
        return 1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return i;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = 0xfffd;
        return n;
    }
    *cp = v;
    return n;
}

int ks_utf8_encode(ks_buf_t *b, uint32_t c)
{
    char o[4];
    int n;
    if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        c = 0xfffd;
    if (c < 0x80) {
        o[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (c >> 18));
        o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    ks_buf_append(b, o, (size_t)n);
    return n;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/*
 * From the opening quote at p->pos: the end of a plain-ASCII string without
 * escapes (the position of its closing quote), or where that stops holding
 * (the position of the first escape, non-ASCII, control or DEL byte, which
 * the writer escapes).
 */
static size_t plain_end(const parser_t *p, int *closed)
{
    size_t i = p->pos + 1;
    for (; i < p->len; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '"') {
            *closed = 1;
            return i;
        }
        if (c == '\\' || c >= 0x7f || c < 0x20)
            break;
    }
    *closed = 0;
    return i;
}

static int parse_string(parser_t *p, ks_val *out)
{
    int closed;
    size_t i = plain_end(p, &closed), start = p->pos + 1;
    if (closed) { /* the fast path: plain ASCII without escapes */
        *out = ks_str_new(p->s + start, i - start);
        p->pos = i + 1;
        return 0;
    }
    ks_buf_t b = {0};
    p->noncanon = 1; /* escapes, non-ASCII or control bytes: the writer may write them otherwise */
    ks_buf_append_slow(&b, p->s + start, i - start); /* b is empty: the slow path anyway */
    p->pos = i;
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            *out = ks_str_new(b.data ? b.data : "", b.len);
            ks_buf_free(&b);
            return 0;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->len)
                break;
            char e = p->s[p->pos + 1];
            p->pos += 2;
            switch (e) {
            case '"': ks_buf_putc(&b, '"'); break;
            case '\\': ks_buf_putc(&b, '\\'); break;
            case '/': ks_buf_putc(&b, '/'); break;
            case 'b': ks_buf_putc(&b, '\b'); break;
            case 'f': ks_buf_putc(&b, '\f'); break;
            case 'n': ks_buf_putc(&b, '\n'); break;
            case 'r': ks_buf_putc(&b, '\r'); break;
            case 't': ks_buf_putc(&b, '\t'); break;
            case 'u': {
                uint32_t cp, lo;
                if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) < 0) {
                    ks_buf_free(&b);
                    return fail(p, "Invalid escape");
                }
                p->pos += 4;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                        hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
                        ks_buf_free(&b);
                        return fail(p, "Invalid \\uXXXX\\uXXXX surrogate pair escape");
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    ks_buf_free(&b);
                    return fail(p, "Invalid \\uXXXX\\uXXXX surrogate pair escape");
                }
                ks_utf8_encode(&b, cp);
                break;
            }
            default: ks_buf_free(&b); return fail(p, "Invalid escape");
            }
            continue;
        }
        if (c < 0x80) {
            ks_buf_putc(&b, (char)c);
            p->pos++;
            continue;
        }
        uint32_t cp;
        int n = ks_utf8_decode(p->s + p->pos, p->len - p->pos, &cp);
        if (cp == 0xfffd)
            ks_utf8_encode(&b, cp);
        else
            ks_buf_append(&b, p->s + p->pos, (size_t)n);
        p->pos += (size_t)n;
    }
    ks_buf_free(&b);
    return fail(p, "Unfinished string");
}

/* An object key: plain ASCII keys without escapes come from the intern table. */
static ks_val intern_key_str(const char *p, size_t len);
static int parse_key(parser_t *p, ks_val *out)
{
    int closed;
    size_t i = plain_end(p, &closed);
    if (!closed)
        return parse_string(p, out);
    *out = intern_key_str(p->s + p->pos + 1, i - p->pos - 1);
    p->pos = i + 1;
    return 0;
}

/*
 * Whether a decimal of the fast path below, `int_digits` digits then `.` and
 * `frac` digits (at most 15 digits in all), is written by ks_json_write as
 * it stands. The writer prints a decimal in [1e-4, 1e9) with the fewest
 * fraction digits (at most 8) that read back as the same double; no decimal
 * of 15 digits or fewer reads back as another's double, so those are its
 * own digits once it has no leading zeros in its integer part and no
 * trailing zeros in its fraction.
 */
static int canonical_decimal(const char *s, size_t int_digits, int frac, double d)
{
    double ad = fabs(d);
    return frac >= 1 && frac <= 8 && (int_digits == 1 || s[0] != '0') && s[int_digits + (size_t)frac] != '0' &&
           ad >= 1e-4 && ad < 1e9;
}

static int parse_number(parser_t *p, ks_val *out)
{
    size_t start = p->pos, i = start;
    int neg = 0, is_int = 1;
    if (i < p->len && p->s[i] == '-') {
        neg = 1;
        i++;
    }
    size_t dstart = i;
    uint64_t acc = 0;
    int ndig = 0;
    while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9') {
        if (ndig < 19)
            acc = acc * 10 + (uint64_t)(p->s[i] - '0');
        ndig++;
        i++;
    }
    if (i == dstart)
        return fail(p, "Invalid numeric literal");
    if (i < p->len && p->s[i] == '.') {
        is_int = 0;
        i++;
        size_t f = i;
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
        if (i == f)
            return fail(p, "Invalid numeric literal");
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        size_t f = i;
        while (i < p->len && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
        if (i == f)
            return fail(p, "Invalid numeric literal");
    }
    p->pos = i;
    if (is_int && ndig <= 15) {
        if (ndig > 1 && p->s[dstart] == '0')
            p->noncanon = 1; /* leading zeros */
        *out = ks_num(neg ? -(double)acc : (double)acc);
        return 0;
    }
    /*
     * Clinger's fast path: a plain decimal with at most 15 significant digits
     * is mantissa / 10^k with both exact doubles, so one division gives the
     * correctly rounded value strtod would.
     */
    if (!is_int && ndig <= 15) {
        static const double pow10[] = {1,   1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
        uint64_t m = acc;
        int frac = 0, total = ndig, plain = 1;
        for (size_t j = dstart + (size_t)ndig; j < i; j++) {
            char c = p->s[j];
            if (c == '.')
                continue;
            if (c < '0' || c > '9') {
                plain = 0; /* an exponent: leave it to strtod */
                break;
            }
            if (++total > 15) {
                plain = 0;
                break;
            }
            m = m * 10 + (uint64_t)(c - '0');
            frac++;
        }
        if (plain) {
            double d = (double)m / pow10[frac];
            *out = ks_num(neg ? -d : d);
            if (!canonical_decimal(p->s + dstart, (size_t)ndig, frac, d))
                p->noncanon = 1;
            return 0;
        }
    }
    p->noncanon = 1; /* long or with an exponent: left to the writer */
    char small[64];
    size_t n = i - start;
    char *tmp = n < sizeof small ? small : ks_xmalloc(n + 1);
    memcpy(tmp, p->s + start, n);
    tmp[n] = 0;
    if (is_int && ndig <= 20) {
        errno = 0;
        if (neg) {
            long long v = strtoll(tmp, NULL, 10);
            if (errno == 0) {
                *out = v < -(1LL << 53) ? ks_num_i64(v) : ks_num((double)v);
                goto done;
            }
        } else {
            unsigned long long v = strtoull(tmp, NULL, 10);
            if (errno == 0) {
                if (v <= (1ULL << 53))
                    *out = ks_num((double)v);
                else if (v <= INT64_MAX)
                    *out = ks_num_i64((int64_t)v);
                else
                    *out = ks_num_u64(v);
                goto done;
            }
        }
    }
    *out = ks_num(strtod(tmp, NULL));
done:
    if (tmp != small)
        free(tmp);
    return 0;
}

static int parse_value(parser_t *p, ks_val *out);

/*
 * Object keys repeat from record to record: a small per-thread table shares
 * their strings instead of allocating each again. Values belong to one
 * thread (value.h), and so does this table; its strings are released when
 * the thread ends (or at exit, for the main thread).
 */
#define INTERN_SLOTS 512
#define INTERN_MAX_LEN 48

static __thread struct ks_str **intern_tab;
static pthread_key_t intern_key;
static pthread_once_t intern_once = PTHREAD_ONCE_INIT;

static void intern_free(void *tab)
{
    struct ks_str **t = tab;
    for (int i = 0; i < INTERN_SLOTS; i++) {
        if (t[i]) {
            ks_val v = {.kind = KS_STRING, .s = t[i]};
            ks_val_release(v);
        }
    }
    free(t);
}

static void intern_free_main(void)
{
    if (intern_tab) {
        intern_free(intern_tab);
        intern_tab = NULL;
    }
}

static void intern_init(void)
{
    pthread_key_create(&intern_key, intern_free);
    atexit(intern_free_main);
}

static ks_val intern_key_str(const char *p, size_t len)
{
    if (len > INTERN_MAX_LEN)
        return ks_str_new(p, len);
    if (!intern_tab) {
        pthread_once(&intern_once, intern_init);
        intern_tab = ks_xcalloc(INTERN_SLOTS, sizeof *intern_tab);
        pthread_setspecific(intern_key, intern_tab);
    }
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    struct ks_str **slot = &intern_tab[h & (INTERN_SLOTS - 1)];
    if (*slot && (*slot)->len == len && memcmp((*slot)->data, p, len) == 0) {
        ks_val v = {.kind = KS_STRING, .s = *slot};
        return ks_val_retain(v);
    }
    ks_val v = ks_str_new(p, len);
    if (*slot) {
        ks_val old = {.kind = KS_STRING, .s = *slot};
        ks_val_release(old);
    }
    *slot = ks_val_retain(v).s;
    return v;
}

static int parse_array(parser_t *p, ks_val *out)
{
    p->pos++;
    ks_val arr = ks_arr_new(4);
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        *out = arr;
        return 0;
    }
    for (;;) {
        ks_val item;
        int rc = parse_value(p, &item);
        if (rc) {
            ks_val_release(arr);
            return rc;
        }
        ks_arr_push(&arr, item);
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            *out = arr;
            return 0;
        }
        ks_val_release(arr);
        return fail(p, "Expected separator between values");
    }
}

/*
 * ks_obj_set for the parser, whose object is its own (never shared): the
 * last of repeated keys wins, as in jq (returns 1 then, else 0). Keys from
 * the intern table are often the same string, which spares comparing their
 * bytes.
 */
static int object_put(ks_val *obj, ks_val key, ks_val val)
{
    struct ks_obj *o = obj->o;
    const struct ks_str *k = key.s;
    for (uint32_t i = 0; i < o->len; i++) {
        const struct ks_str *x = o->slots[i].key;
        if (x == k || (x->len == k->len && x->data[0] == k->data[0] && memcmp(x->data, k->data, k->len) == 0)) {
            ks_val_release(o->slots[i].val);
            o->slots[i].val = val;
            ks_val_release(key);
            return 1;
        }
    }
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        o = obj->o = ks_xrealloc(o, sizeof *o + cap * sizeof(struct ks_obj_slot));
        o->cap = (uint32_t)cap;
    }
    o->slots[o->len].key = key.s;
    o->slots[o->len].val = val;
    o->len++;
    return 0;
}

static int parse_object(parser_t *p, ks_val *out)
{
    p->pos++;
    ks_val obj = ks_obj_new(8);
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        *out = obj;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            ks_val_release(obj);
            return fail(p, "Object keys must be strings");
        }
        ks_val key, val;
        int rc = parse_key(p, &key);
        if (rc) {
            ks_val_release(obj);
            return rc;
        }
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            ks_val_release(key);
            ks_val_release(obj);
            return fail(p, "Objects must consist of key:value pairs");
        }
        p->pos++;
        rc = parse_value(p, &val);
        if (rc) {
            ks_val_release(key);
            ks_val_release(obj);
            return rc;
        }
        if (object_put(&obj, key, val))
            p->noncanon = 1; /* the writer drops the earlier value */
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            *out = obj;
            return 0;
        }
        ks_val_release(obj);
        return fail(p, "Expected separator between values");
    }
}

static int match_word(parser_t *p, const char *w)
{
    size_t n = strlen(w);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, w, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int parse_value(parser_t *p, ks_val *out)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, "Unfinished JSON term");
    char c = p->s[p->pos];
    int rc;
    switch (c) {
    case '{':
    case '[':
        if (++p->depth > KS_JSON_MAX_DEPTH)
            return fail(p, "Exceeds depth limit for parsing");
        rc = c == '{' ? parse_object(p, out) : parse_array(p, out);
        p->depth--;
        return rc;
    case '"': return parse_string(p, out);
    case 't':
        if (match_word(p, "true")) {
            *out = ks_bool(1);
            return 0;
        }
        break;
    case 'f':
        if (match_word(p, "false")) {
            *out = ks_bool(0);
            return 0;
        }
        break;
    case 'n':
        if (match_word(p, "null")) {
            *out = ks_null();
            return 0;
        }
        if (match_word(p, "nan")) {
            p->noncanon = 1;
            *out = ks_num(NAN);
            return 0;
        }
        break;
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(p, out);
        break;
    }
    return fail(p, "Invalid literal");
}

int ks_json_parse_next(const char *s, size_t len, size_t *pos, ks_val *out, char *err, size_t errlen)
{
    ks_json_span_t span = {0};
    return ks_json_parse_next_at(s, len, pos, &span, out, err, errlen);
}

int ks_json_parse_next_at(const char *s, size_t len, size_t *pos, ks_json_span_t *span, ks_val *out, char *err,
                          size_t errlen)
{
    parser_t p = {
        .s = s, .len = len, .pos = *pos, .err = err, .errlen = errlen, .line0 = span->line0, .col0 = span->col0};
    *out = ks_invalid();
    skip_ws(&p);
    span->start = p.pos;
    span->canonical = 0;
    if (p.pos >= len) {
        *pos = p.pos;
        return 0;
    }
    p.noncanon = 0; /* whitespace before the value is not part of it */
    int rc = parse_value(&p, out);
    *pos = p.pos;
    span->canonical = rc == 0 && !p.noncanon;
    return rc;
}

int ks_json_parse(const char *s, size_t len, ks_val *out, char *err, size_t errlen)
{
    parser_t p = {.s = s, .len = len, .err = err, .errlen = errlen};
    int rc = parse_value(&p, out);
    if (rc)
        return rc;
    skip_ws(&p);
    if (p.pos != len) {
        ks_val_release(*out);
        *out = ks_invalid();
        return fail(&p, "Unexpected extra JSON values");
    }
    return 0;
}

/* ---- validation without building values ---- */

static int valid_value(parser_t *p);

static int valid_string(parser_t *p)
{
    p->pos++;
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return 1;
        }
        if (c == '\\') {
            if (p->pos + 1 >= p->len)
                return 0;
            char e = p->s[p->pos + 1];
            if (e == 'u') {
                uint32_t cp, lo;
                if (p->pos + 6 > p->len || hex4(p->s + p->pos + 2, &cp) < 0)
                    return 0;
                p->pos += 6;
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return 0;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                        hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return 0;
                    p->pos += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e))
                return 0;
            p->pos += 2;
            continue;
        }
        p->pos++;
    }
    return 0;
}

static int valid_value(parser_t *p)
{
    skip_ws(p);
    if (p->pos >= p->len)
        return 0;
    char c = p->s[p->pos];
    if (c == '"')
        return valid_string(p);
    if (c == '[' || c == '{') {
        if (++p->depth > KS_JSON_MAX_DEPTH)
            return 0;
        char close = c == '[' ? ']' : '}';
        p->pos++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            p->depth--;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != '"' || !valid_string(p))
                    return 0;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':')
                    return 0;
                p->pos++;
            }
            if (!valid_value(p))
                return 0;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                p->depth--;
                return 1;
            }
            return 0;
        }
    }
    if (match_word(p, "true") || match_word(p, "false") || match_word(p, "null") || match_word(p, "nan"))
        return 1;
    if (c == '-' || (c >= '0' && c <= '9')) {
        ks_val v; /* numbers are never heap values: nothing to release */
        return parse_number(p, &v) == 0;
    }
    return 0;
}

/*
 * From the `{` at p->pos: checks the object as valid_value does and finds
 * its field `name`. Returns -1 when it is not valid, 1 without the field, 2
 * with the field's value at s[*voff..+*vlen) (the last one when the key
 * repeats); p->pos is then past the object.
 */
static int field_value(parser_t *p, const char *name, size_t *voff, size_t *vlen)
{
    const char *s = p->s;
    size_t len = p->len, nlen = strlen(name);
    int found = 0;
    p->pos++;
    p->depth = 1;
    skip_ws(p);
    if (p->pos < len && s[p->pos] == '}') {
        p->pos++;
        return 1;
    }
    for (;;) {
        skip_ws(p);
        if (p->pos >= len || s[p->pos] != '"')
            return -1;
        size_t k0 = p->pos + 1;
        if (!valid_string(p))
            return -1;
        size_t kl = p->pos - 1 - k0;
        int match;
        if (memchr(s + k0, '\\', kl)) {
            /* An escaped key: compare its decoded text. */
            parser_t q = {.s = s, .len = p->pos, .pos = k0 - 1};
            ks_val k;
            if (parse_string(&q, &k))
                return -1;
            match = ks_str_len(k) == nlen && memcmp(ks_str_data(k), name, nlen) == 0;
            ks_val_release(k);
        } else {
            match = kl == nlen && memcmp(s + k0, name, nlen) == 0;
        }
        skip_ws(p);
        if (p->pos >= len || s[p->pos] != ':')
            return -1;
        p->pos++;
        skip_ws(p);
        size_t v0 = p->pos;
        if (!valid_value(p))
            return -1;
        if (match) { /* the last of duplicate keys wins, as when parsing */
            found = 1;
            *voff = v0;
            *vlen = p->pos - v0;
        }
        skip_ws(p);
        if (p->pos < len && s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < len && s[p->pos] == '}') {
            p->pos++;
            return found ? 2 : 1;
        }
        return -1;
    }
}

int ks_json_field(const char *s, size_t len, const char *name, size_t *voff, size_t *vlen)
{
    parser_t p = {.s = s, .len = len};
    skip_ws(&p);
    if (p.pos >= len || s[p.pos] != '{')
        return ks_json_valid(s, len) ? 0 : -1;
    int rc = field_value(&p, name, voff, vlen);
    if (rc < 0)
        return -1;
    skip_ws(&p);
    if (p.pos != len)
        return -1;
    return rc;
}

int ks_json_field_next(const char *s, size_t len, size_t *pos, const char *name, size_t *voff, size_t *vlen)
{
    parser_t p = {.s = s, .len = len, .pos = *pos};
    skip_ws(&p);
    if (p.pos >= len || s[p.pos] != '{')
        return -1;
    int rc = field_value(&p, name, voff, vlen);
    if (rc > 0)
        *pos = p.pos;
    return rc;
}

int ks_json_valid(const char *s, size_t len)
{
    parser_t p = {.s = s, .len = len};
    if (!valid_value(&p))
        return 0;
    skip_ws(&p);
    return p.pos == len;
}
