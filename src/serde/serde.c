/*
 * serde.c: the serdes of serde.h, byte-compatible with Java's
 * org.apache.kafka.common.serialization classes. Error messages of
 * deserializers are Java's own words, so a user who searches them finds the
 * Kafka documentation; serializer errors say which value did not fit.
 */
#include "serde.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../json/json.h"
#include "../util/endian.h"

const char *const ks_serde_names[] = {
    [KS_SERDE_STRING] = "string",
    [KS_SERDE_JSON] = "json",
    [KS_SERDE_LONG] = "long",
    [KS_SERDE_INT] = "int",
    [KS_SERDE_DOUBLE] = "double",
    [KS_SERDE_BYTES] = "bytes",
    [KS_SERDE_VOID] = "void",
    [KS_SERDE_WINDOWED_STRING] = "windowed-string",
    [KS_SERDE_WINDOWED_LONG] = "windowed-long",
    [KS_SERDE_SESSION_STRING] = "session-windowed-string",
    [KS_SERDE_SESSION_LONG] = "session-windowed-long",
    NULL,
};

/* The inner serde of a windowed one, and whether it is a session window's. */
static ks_serde_t windowed_inner(ks_serde_t s, int *session)
{
    *session = s == KS_SERDE_SESSION_STRING || s == KS_SERDE_SESSION_LONG;
    return s == KS_SERDE_WINDOWED_LONG || s == KS_SERDE_SESSION_LONG ? KS_SERDE_LONG : KS_SERDE_STRING;
}

#define NSERDES ((int)(sizeof ks_serde_names / sizeof ks_serde_names[0]) - 1)

int ks_serde_from_name(const char *name, ks_serde_t *out)
{
    for (int i = 0; name && i < NSERDES; i++) {
        if (strcmp(name, ks_serde_names[i]) == 0) {
            *out = (ks_serde_t)i;
            return 0;
        }
    }
    return -1;
}

const char *ks_serde_name(ks_serde_t s)
{
    if ((int)s < 0 || (int)s >= NSERDES)
        return "unknown";
    return ks_serde_names[s];
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* ---- string: Java's UTF-8 decoder with replacement ---- */

static int is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/*
 * Looks at the sequence starting at s[0] (n >= 1 bytes left). Returns its
 * length if it is a valid UTF-8 character; otherwise returns 0 and sets *bad
 * to the number of bytes Java's decoder (String.decodeUTF8_UTF16 in JDK 17,
 * UTF_8.Decoder before it) replaces with a single U+FFFD. That is the
 * "maximal subpart" rule, except that an encoded surrogate (ED A0..BF xx) is
 * one replacement for all three bytes and a truncated sequence at the end of
 * the data is one replacement.
 */
static size_t java_utf8_step(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned char b1 = s[0];
    if (b1 < 0x80)
        return 1;
    if (b1 >= 0xc2 && b1 <= 0xdf) {
        if (n >= 2 && is_cont(s[1]))
            return 2;
        *bad = 1;
        return 0;
    }
    if (b1 >= 0xe0 && b1 <= 0xef) {
        if (n >= 3) {
            unsigned char b2 = s[1], b3 = s[2];
            int bad2 = (b1 == 0xe0 && (b2 & 0xe0) == 0x80) || !is_cont(b2);
            if (bad2 || !is_cont(b3)) {
                *bad = bad2 ? 1 : 2;
                return 0;
            }
            uint32_t c = (uint32_t)(b1 & 0x0f) << 12 | (uint32_t)(b2 & 0x3f) << 6 | (b3 & 0x3f);
            if (c >= 0xd800 && c <= 0xdfff) {
                *bad = 3;
                return 0;
            }
            return 3;
        }
        if (n == 2 && ((b1 == 0xe0 && (s[1] & 0xe0) == 0x80) || !is_cont(s[1])))
            *bad = 1;
        else
            *bad = n; /* a truncated sequence ends the data */
        return 0;
    }
    if (b1 >= 0xf0 && b1 <= 0xf4) {
        int bad2 = n >= 2 && ((b1 == 0xf0 && (s[1] < 0x90 || s[1] > 0xbf)) || (b1 == 0xf4 && (s[1] & 0xf0) != 0x80) ||
                              !is_cont(s[1]));
        if (n >= 4) {
            if (bad2)
                *bad = 1;
            else if (!is_cont(s[2]))
                *bad = 2;
            else if (!is_cont(s[3]))
                *bad = 3;
            else
                return 4; /* the lead and second-byte checks bound it to U+10000..U+10FFFF */
            return 0;
        }
        if (bad2)
            *bad = 1;
        else if (n == 3 && !is_cont(s[2]))
            *bad = 2;
        else
            *bad = n; /* a truncated sequence ends the data */
        return 0;
    }
    *bad = 1; /* a continuation byte, C0, C1 or F5..FF */
    return 0;
}

static ks_val decode_string(const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t i = 0, bad = 0;
    while (i < len) {
        size_t n = java_utf8_step(s + i, len - i, &bad);
        if (!n)
            break;
        i += n;
    }
    if (i == len)
        return ks_str_new(data, len); /* valid: the common case, one copy */

    ks_buf_t b = {0};
    ks_buf_reserve(&b, len + 16);
    ks_buf_append(&b, data, i);
    while (i < len) {
        size_t n = java_utf8_step(s + i, len - i, &bad);
        if (n) {
            ks_buf_append(&b, data + i, n);
            i += n;
        } else {
            ks_buf_append(&b, "\xef\xbf\xbd", 3);
            i += bad;
        }
    }
    ks_val v = ks_str_new(b.data, b.len);
    ks_buf_free(&b);
    return v;
}

/* ---- bytes: base64 ---- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static ks_val base64_encode(const unsigned char *p, size_t len)
{
    char *o;
    ks_val v = ks_str_alloc((len + 2) / 3 * 4, &o);
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[w >> 18];
        *o++ = b64_alphabet[(w >> 12) & 63];
        *o++ = b64_alphabet[(w >> 6) & 63];
        *o++ = b64_alphabet[w & 63];
    }
    if (len - i == 1) {
        uint32_t w = (uint32_t)p[i] << 16;
        *o++ = b64_alphabet[w >> 18];
        *o++ = b64_alphabet[(w >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64_alphabet[w >> 18];
        *o++ = b64_alphabet[(w >> 12) & 63];
        *o++ = b64_alphabet[(w >> 6) & 63];
        *o++ = '=';
    }
    return v;
}

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Appends the bytes of base64 text s[0..len) to out, or fails leaving out unchanged. */
static int base64_decode(const char *s, size_t len, ks_buf_t *out, char *err, size_t errlen)
{
    size_t pad = 0;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    for (size_t i = 0; i < body; i++)
        if (b64_digit((unsigned char)s[i]) < 0)
            return fail(err, errlen, "bytes serde needs a base64 string, got invalid character at offset %zu", i);
    if (body % 4 == 1 || (pad && (len % 4 != 0)))
        return fail(err, errlen, "bytes serde needs a base64 string, got a truncated one of length %zu", len);

    ks_buf_reserve(out, body / 4 * 3 + 2);
    uint32_t w = 0;
    int bits = 0;
    for (size_t i = 0; i < body; i++) {
        w = (w << 6) | (uint32_t)b64_digit((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            ks_buf_putc(out, (char)((w >> bits) & 0xff));
        }
    }
    return 0; /* leftover bits of a short final group are ignored, as Java's decoder does */
}

/* ---- fixed-size numbers ---- */

static void store_be(ks_buf_t *out, uint64_t u, int n)
{
    char b[8];
    ks_be_store(b, u, n);
    ks_buf_append(out, b, (size_t)n);
}

/* A long as a value: a plain double up to 2^53, exact beyond, as the JSON parser does. */
static ks_val long_value(int64_t i)
{
    if (i > (INT64_C(1) << 53) || i < -(INT64_C(1) << 53))
        return ks_num_i64(i);
    return ks_num((double)i);
}

/* Writes the number v as users see it, for error messages. */
static void num_text(char *dst, size_t dstlen, ks_val v)
{
    double d = ks_num_get(v);
    if (!v.exact && isnan(d)) {
        snprintf(dst, dstlen, "nan");
        return;
    }
    if (!v.exact && isinf(d)) {
        snprintf(dst, dstlen, "%sinfinite", d < 0 ? "-" : "");
        return;
    }
    char *s = ks_json_dump(v);
    snprintf(dst, dstlen, "%s", s);
    free(s);
}

/*
 * Converts the number v to an integer in [lo, hi], or fails. Exact values
 * are used as they are; doubles must be integral.
 */
static int to_integer(ks_serde_t s, ks_val v, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    char text[64];
    int64_t i;
    if (v.exact == KS_EXACT_I64) {
        i = v.i;
    } else if (v.exact == KS_EXACT_U64) {
        goto range;
    } else {
        double d = v.d;
        if (!isfinite(d) || d != floor(d)) {
            num_text(text, sizeof text, v);
            return fail(err, errlen, "%s serde needs an integer, got %s", ks_serde_name(s), text);
        }
        /* -2^63 is a double exactly; 2^63 is the first one out of range. */
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            goto range;
        i = (int64_t)d;
    }
    if (i < lo || i > hi)
        goto range;
    *out = i;
    return 0;
range:
    num_text(text, sizeof text, v);
    return fail(err, errlen, "%s serde needs a %d-bit integer, got %s", ks_serde_name(s), hi == INT64_MAX ? 64 : 32,
                text);
}

/* ---- decode ---- */

int ks_serde_decode(ks_serde_t s, const void *data, size_t len, ks_val *out, char *err, size_t errlen)
{
    const unsigned char *p = data;
    *out = ks_invalid();
    if (!data) {
        *out = ks_null();
        return 0;
    }
    switch (s) {
    case KS_SERDE_STRING: *out = decode_string(data, len); return 0;
    case KS_SERDE_JSON: {
        if (len == 0)
            return fail(err, errlen, "invalid JSON: empty payload");
        char msg[200];
        if (ks_json_parse(data, len, out, msg, sizeof msg) != 0) {
            *out = ks_invalid();
            return fail(err, errlen, "invalid JSON: %s", msg);
        }
        return 0;
    }
    case KS_SERDE_LONG:
        if (len != 8)
            return fail(err, errlen, "Size of data received by LongDeserializer is not 8");
        *out = long_value((int64_t)ks_be_load(p, 8));
        return 0;
    case KS_SERDE_INT:
        if (len != 4)
            return fail(err, errlen, "Size of data received by IntegerDeserializer is not 4");
        *out = ks_num((double)(int32_t)(uint32_t)ks_be_load(p, 4));
        return 0;
    case KS_SERDE_DOUBLE: {
        if (len != 8)
            return fail(err, errlen, "Size of data received by DoubleDeserializer is not 8");
        uint64_t u = ks_be_load(p, 8);
        double d;
        memcpy(&d, &u, sizeof d);
        *out = ks_num(d);
        return 0;
    }
    case KS_SERDE_BYTES: *out = base64_encode(p, len); return 0;
    case KS_SERDE_VOID:
        /* Java's VoidDeserializer refuses any non-null data, even empty. */
        return fail(err, errlen, "Data should be null for a VoidDeserializer.");
    case KS_SERDE_WINDOWED_STRING:
    case KS_SERDE_WINDOWED_LONG:
    case KS_SERDE_SESSION_STRING:
    case KS_SERDE_SESSION_LONG: {
        int session;
        ks_serde_t inner = windowed_inner(s, &session);
        size_t tail = session ? 16 : 8;
        if (len < tail)
            return fail(err, errlen, "a windowed key needs at least %zu bytes, got %zu", tail, len);
        ks_val key;
        if (ks_serde_decode(inner, data, len - tail, &key, err, errlen))
            return -1;
        ks_val w = ks_obj_new(2);
        if (session) {
            ks_obj_setc(&w, "start", long_value((int64_t)ks_be_load(p + len - 8, 8)));
            ks_obj_setc(&w, "end", long_value((int64_t)ks_be_load(p + len - 16, 8)));
        } else {
            ks_obj_setc(&w, "start", long_value((int64_t)ks_be_load(p + len - 8, 8)));
        }
        ks_val o = ks_obj_new(2);
        ks_obj_setc(&o, "key", key);
        ks_obj_setc(&o, "window", w);
        *out = o;
        return 0;
    }
    }
    return fail(err, errlen, "unknown serde %d", (int)s);
}

/* ---- encode ---- */

int ks_serde_can_hold(ks_serde_t s, ks_kind_t kind)
{
    if (kind == KS_NULL)
        return 1;
    switch (s) {
    case KS_SERDE_JSON: return kind >= KS_NULL && kind <= KS_OBJECT;
    case KS_SERDE_STRING:
    case KS_SERDE_BYTES: return kind == KS_STRING;
    case KS_SERDE_LONG:
    case KS_SERDE_INT:
    case KS_SERDE_DOUBLE: return kind == KS_NUMBER;
    case KS_SERDE_VOID: return 0;
    case KS_SERDE_WINDOWED_STRING:
    case KS_SERDE_WINDOWED_LONG:
    case KS_SERDE_SESSION_STRING:
    case KS_SERDE_SESSION_LONG: return kind == KS_OBJECT;
    }
    return 0;
}

int ks_serde_encode(ks_serde_t s, ks_val v, ks_buf_t *out, int *is_null, char *err, size_t errlen)
{
    int64_t i;
    if (is_null)
        *is_null = 0;
    if (v.kind == KS_NULL) {
        if (is_null)
            *is_null = 1;
        return 0;
    }
    if (!ks_serde_can_hold(s, (ks_kind_t)v.kind))
        return fail(err, errlen, "%s serde cannot hold %s %s", ks_serde_name(s),
                    v.kind == KS_ARRAY || v.kind == KS_OBJECT ? "an" : "a", ks_kind_name(v));

    switch (s) {
    case KS_SERDE_STRING: ks_buf_append(out, ks_str_data(v), ks_str_len(v)); return 0;
    case KS_SERDE_JSON: ks_json_write(out, v); return 0;
    case KS_SERDE_LONG:
        if (to_integer(s, v, INT64_MIN, INT64_MAX, &i, err, errlen))
            return -1;
        store_be(out, (uint64_t)i, 8);
        return 0;
    case KS_SERDE_INT:
        if (to_integer(s, v, INT32_MIN, INT32_MAX, &i, err, errlen))
            return -1;
        store_be(out, (uint64_t)i, 4);
        return 0;
    case KS_SERDE_DOUBLE: {
        double d = ks_num_get(v);
        uint64_t u;
        if (isnan(d))
            u = UINT64_C(0x7ff8000000000000); /* Double.doubleToLongBits' canonical NaN */
        else
            memcpy(&u, &d, sizeof u);
        store_be(out, u, 8);
        return 0;
    }
    case KS_SERDE_BYTES: return base64_decode(ks_str_data(v), ks_str_len(v), out, err, errlen);
    case KS_SERDE_VOID: break; /* refused by can_hold */
    case KS_SERDE_WINDOWED_STRING:
    case KS_SERDE_WINDOWED_LONG:
    case KS_SERDE_SESSION_STRING:
    case KS_SERDE_SESSION_LONG: {
        int session;
        ks_serde_t inner = windowed_inner(s, &session);
        const ks_val *key = ks_obj_get(v, "key", 3), *w = ks_obj_get(v, "window", 6);
        const ks_val *start = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "start", 5) : NULL;
        const ks_val *end = w && w->kind == KS_OBJECT ? ks_obj_get(*w, "end", 3) : NULL;
        if (!key || !start || (session && !end))
            return fail(err, errlen, "%s serde needs {key, window: {start%s}}", ks_serde_name(s),
                        session ? ", end" : "");
        int64_t st, en = 0;
        size_t mark = out->len;
        int inner_null;
        if (key->kind == KS_NULL)
            return fail(err, errlen, "%s serde cannot hold a null key", ks_serde_name(s));
        if (ks_serde_encode(inner, *key, out, &inner_null, err, errlen) ||
            to_integer(KS_SERDE_LONG, *start, INT64_MIN, INT64_MAX, &st, err, errlen) ||
            (session && to_integer(KS_SERDE_LONG, *end, INT64_MIN, INT64_MAX, &en, err, errlen))) {
            out->len = mark;
            return -1;
        }
        if (session)
            store_be(out, (uint64_t)en, 8);
        store_be(out, (uint64_t)st, 8);
        return 0;
    }
    }
    return fail(err, errlen, "unknown serde %d", (int)s);
}
