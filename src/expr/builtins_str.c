/*
 * builtins_str.c: string builtins, regular expressions (Oniguruma, the
 * library jq uses, with jq's Perl syntax with named groups and flags), @formats and dates.
 */

#include <math.h>
#include <oniguruma.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr_int.h"

#define CF(name) static int name(ctx_t *cx, ks_val in, const ks_val *args, ks_val *out)

int ks__expr_tojson(ks_val v, ks_val *out)
{
    ks_buf_t b = {0};
    ks_json_write(&b, v);
    *out = ks_str_new(b.data, b.len);
    ks_buf_free(&b);
    return 0;
}

/*
 * join($x), as jq 1.6's prelude defines it:
 *   reduce .[] as $i (null; (if . == null then "" else . + $x end)
 *     + ($i | if . == null then "" elif (type == "boolean" or type == "number") then tojson else . end)) // ""
 * in C: the same additions in the same order (ks__expr_arith, so the same errors), but the string being
 * built is appended to in place instead of copied at every step.
 */
CF(f_join)
{
    ks_val sep = args[0];
    if (in.kind != KS_ARRAY && in.kind != KS_OBJECT)
        return ks__expr_iterate(cx, in, NULL); /* raises `.[]`'s error without calling the continuation */
    size_t n = in.kind == KS_ARRAY ? ks_arr_len(in) : ks_obj_len(in);
    ks_val acc = ks_null(), r;
    for (size_t i = 0; i < n; i++) {
        ks_val item = in.kind == KS_ARRAY ? in.a->items[i] : in.o->slots[i].val;
        /* The left side: "" at first, then the string so far plus the separator. */
        if (acc.kind == KS_NULL) {
            acc = ks_str_new("", 0);
        } else if (acc.kind == KS_STRING && sep.kind == KS_STRING) {
            acc = ks_str_concat(acc, ks_val_retain(sep));
        } else if (sep.kind != KS_NULL) {
            int rc = ks__expr_arith(cx, '+', acc, sep, &r);
            ks_val_release(acc);
            if (rc)
                return rc;
            acc = r;
        }
        /* The right side: the item as a string ("" for null, JSON text for booleans and numbers). */
        ks_val right;
        if (item.kind == KS_NULL)
            continue; /* adding "" to a string leaves it as it is */
        if (item.kind == KS_TRUE || item.kind == KS_FALSE || item.kind == KS_NUMBER)
            ks__expr_tojson(item, &right);
        else
            right = ks_val_retain(item);
        if (acc.kind == KS_STRING && right.kind == KS_STRING) {
            acc = ks_str_concat(acc, right);
            continue;
        }
        int rc = ks__expr_arith(cx, '+', acc, right, &r);
        ks_val_release(acc);
        ks_val_release(right);
        if (rc)
            return rc;
        acc = r;
    }
    *out = acc.kind == KS_NULL ? ks_str_new("", 0) : acc; /* null: there were no items */
    return 0;
}

CF(f_startswith)
{
    if (in.kind != KS_STRING || args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "startswith() requires string inputs");
    size_t n = ks_str_len(args[0]);
    *out = ks_bool(ks_str_len(in) >= n && memcmp(ks_str_data(in), ks_str_data(args[0]), n) == 0);
    return 0;
}

CF(f_endswith)
{
    if (in.kind != KS_STRING || args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "endswith() requires string inputs");
    size_t n = ks_str_len(args[0]), l = ks_str_len(in);
    *out = ks_bool(l >= n && memcmp(ks_str_data(in) + l - n, ks_str_data(args[0]), n) == 0);
    return 0;
}

CF(f_ltrimstr)
{
    if (in.kind == KS_STRING && args[0].kind == KS_STRING) {
        size_t n = ks_str_len(args[0]);
        if (ks_str_len(in) >= n && memcmp(ks_str_data(in), ks_str_data(args[0]), n) == 0) {
            *out = ks_str_new(ks_str_data(in) + n, ks_str_len(in) - n);
            return 0;
        }
    }
    *out = ks_val_retain(in);
    return 0;
}

CF(f_rtrimstr)
{
    if (in.kind == KS_STRING && args[0].kind == KS_STRING) {
        size_t n = ks_str_len(args[0]), l = ks_str_len(in);
        if (l >= n && memcmp(ks_str_data(in) + l - n, ks_str_data(args[0]), n) == 0) {
            *out = ks_str_new(ks_str_data(in), l - n);
            return 0;
        }
    }
    *out = ks_val_retain(in);
    return 0;
}

CF(f_explode)
{
    if (in.kind != KS_STRING)
        return ks__expr_errorf(cx, "explode input must be a string");
    ks_val r = ks_arr_new(ks_str_len(in));
    const char *s = ks_str_data(in);
    size_t i = 0, n = ks_str_len(in);
    while (i < n) {
        uint32_t cp;
        i += (size_t)ks_utf8_decode(s + i, n - i, &cp);
        ks_arr_push(&r, ks_num(cp));
    }
    *out = r;
    return 0;
}

CF(f_implode)
{
    if (in.kind != KS_ARRAY)
        return ks__expr_errorf(cx, "implode input must be an array");
    ks_buf_t b = {0};
    for (uint32_t i = 0; i < in.a->len; i++) {
        ks_val c = in.a->items[i];
        if (c.kind != KS_NUMBER) {
            ks_buf_free(&b);
            return ks__expr_errorf(cx, "Unicode codepoint must be numeric");
        }
        double d = ks_num_get(c);
        ks_utf8_encode(&b, d < 0 || d > 0x10ffff ? 0xfffd : (uint32_t)d);
    }
    *out = ks_str_new(b.data ? b.data : "", b.len);
    ks_buf_free(&b);
    return 0;
}

static int case_map(ctx_t *cx, ks_val in, ks_val *out, int upper)
{
    if (in.kind != KS_STRING)
        return ks__expr_errorf(cx, "explode input must be a string");
    char *d;
    ks_val r = ks_str_alloc(ks_str_len(in), &d);
    for (size_t i = 0; i < ks_str_len(in); i++) {
        char c = ks_str_data(in)[i];
        if (upper && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!upper && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        d[i] = c;
    }
    *out = r;
    return 0;
}

CF(f_ascii_downcase)
{
    return case_map(cx, in, out, 0);
}
CF(f_ascii_upcase)
{
    return case_map(cx, in, out, 1);
}

ks_val ks__expr_str_split(ks_val s, ks_val sep);

CF(f_split1)
{
    if (in.kind != KS_STRING || args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "split input and separator must be strings");
    *out = ks__expr_str_split(in, args[0]);
    return 0;
}

/* Byte offsets of a substring, as jq 1.6's _strindices reports them. */
CF(f_strindices)
{
    if (in.kind != KS_STRING || args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "_strindices requires string inputs");
    ks_val r = ks_arr_new(4);
    size_t n = ks_str_len(in), m = ks_str_len(args[0]);
    const char *s = ks_str_data(in), *p = ks_str_data(args[0]);
    if (m) {
        for (size_t i = 0; i + m <= n;) {
            if (memcmp(s + i, p, m) == 0) {
                ks_arr_push(&r, ks_num((double)i));
                i += m; /* matches do not overlap */
            } else {
                i++;
            }
        }
    }
    *out = r;
    return 0;
}

/* ---- regular expressions ---- */

static size_t cp_index(const char *s, size_t byte_off)
{
    size_t n = 0;
    for (size_t i = 0; i < byte_off; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

/*
 * Compiled patterns, per thread: test, match, capture, sub and friends
 * compile their pattern on every call in jq, which costs more than most
 * searches (~9 µs for an email pattern). A thread keeps its RE_CACHE most
 * recently used patterns by their bytes and options, and frees them when
 * it exits (the key's destructor). A pattern is in use only during the one
 * call that looked it up, and nothing in a search looks up another.
 */
#define RE_CACHE 32

typedef struct re_entry {
    char *pat; /* NULL: a free slot */
    size_t len;
    OnigOptionType opt;
    regex_t *reg;
    uint64_t used;
} re_entry_t;

typedef struct re_cache {
    re_entry_t e[RE_CACHE];
    uint64_t tick;
} re_cache_t;

static pthread_key_t re_key;
static pthread_once_t re_once = PTHREAD_ONCE_INIT;

static void re_cache_free(void *p)
{
    re_cache_t *c = p;
    for (int i = 0; i < RE_CACHE; i++) {
        if (c->e[i].pat) {
            onig_free(c->e[i].reg);
            free(c->e[i].pat);
        }
    }
    free(c);
}

static void re_key_init(void)
{
    pthread_key_create(&re_key, re_cache_free);
}

/* The compiled pattern (borrowed: the cache owns it), or NULL with Oniguruma's code in *orc. */
static regex_t *re_compiled(const UChar *pat, size_t len, OnigOptionType opt, int *orc, OnigErrorInfo *einfo)
{
    pthread_once(&re_once, re_key_init);
    re_cache_t *c = pthread_getspecific(re_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (c && pthread_setspecific(re_key, c)) {
            free(c);
            c = NULL;
        }
    }
    int victim = 0;
    for (int i = 0; c && i < RE_CACHE; i++) {
        re_entry_t *x = &c->e[i];
        if (x->pat && x->len == len && x->opt == opt && memcmp(x->pat, pat, len) == 0) {
            x->used = ++c->tick;
            return x->reg;
        }
        if (!x->pat || (c->e[victim].pat && x->used < c->e[victim].used))
            victim = i;
    }
    regex_t *reg;
    *orc = onig_new(&reg, pat, pat + len, opt, ONIG_ENCODING_UTF8, ONIG_SYNTAX_PERL_NG, einfo);
    if (*orc != ONIG_NORMAL)
        return NULL;
    char *copy = c ? malloc(len ? len : 1) : NULL;
    if (!copy) {
        /* No memory for the cache on this thread: fail as Oniguruma does when memory runs out. */
        *orc = ONIGERR_MEMORY;
        onig_free(reg);
        return NULL;
    }
    re_entry_t *x = &c->e[victim];
    if (x->pat) {
        onig_free(x->reg);
        free(x->pat);
    }
    memcpy(copy, pat, len);
    *x = (re_entry_t){copy, len, opt, reg, ++c->tick};
    return reg;
}

typedef struct name_ctx {
    ks_val *captures;
} name_ctx_t;

static int name_iter(const UChar *name, const UChar *name_end, int ngroups, int *groups, regex_t *reg, void *arg)
{
    ks_val *caps = ((name_ctx_t *)arg)->captures;
    for (int i = 0; i < ngroups; i++) {
        int g = groups[i] - 1;
        if (g >= 0 && (size_t)g < ks_arr_len(*caps)) {
            ks_val cap = ks_val_retain(caps->a->items[g]);
            ks_obj_setc(&cap, "name", ks_str_new((const char *)name, (size_t)(name_end - name)));
            ks_arr_set(caps, (size_t)g, cap);
        }
    }
    return 0;
}

CF(f_match_impl)
{
    ks_val re = args[0], mods = args[1];
    int test = args[2].kind == KS_TRUE, global = 0;
    if (in.kind != KS_STRING)
        return ks__expr_type_error(cx, in, "cannot be matched, as it is not a string");
    if (re.kind != KS_STRING)
        return ks__expr_type_error(cx, re, "is not a string");
    OnigOptionType options = ONIG_OPTION_CAPTURE_GROUP;
    if (mods.kind == KS_STRING) {
        for (size_t i = 0; i < ks_str_len(mods); i++) {
            switch (ks_str_data(mods)[i]) {
            case 'g': global = 1; break;
            case 'i': options |= ONIG_OPTION_IGNORECASE; break;
            case 'x': options |= ONIG_OPTION_EXTEND; break;
            case 'n': options |= ONIG_OPTION_FIND_NOT_EMPTY; break;
            case 's': options |= ONIG_OPTION_SINGLELINE; break;
            case 'p': options |= ONIG_OPTION_MULTILINE | ONIG_OPTION_SINGLELINE; break;
            case 'l': options |= ONIG_OPTION_FIND_LONGEST; break;
            default: return ks__expr_errorf(cx, "%s is not a valid modifier string", ks_str_data(mods));
            }
        }
    } else if (mods.kind != KS_NULL) {
        return ks__expr_type_error(cx, mods, "is not a string");
    }
    OnigErrorInfo einfo;
    int orc = ONIG_NORMAL;
    regex_t *reg = re_compiled((const UChar *)ks_str_data(re), ks_str_len(re), options, &orc, &einfo);
    if (!reg) {
        UChar ebuf[ONIG_MAX_ERROR_MESSAGE_LEN];
        onig_error_code_to_str(ebuf, orc, &einfo);
        return ks__expr_errorf(cx, "Regex failure: %s", (char *)ebuf);
    }
    const char *s = ks_str_data(in);
    const UChar *str = (const UChar *)s, *end = str + ks_str_len(in), *start = str;
    ks_val result = test ? ks_bool(0) : ks_arr_new(4);
    OnigRegion *region = onig_region_new();
    int rc = 0;
    do {
        orc = onig_search(reg, start, end, start, end, region, ONIG_OPTION_NONE);
        if (orc == ONIG_MISMATCH)
            break;
        if (orc < 0) {
            UChar ebuf[ONIG_MAX_ERROR_MESSAGE_LEN];
            onig_error_code_to_str(ebuf, orc);
            rc = ks__expr_errorf(cx, "%s", (char *)ebuf);
            break;
        }
        if (test) {
            result = ks_bool(1);
            break;
        }
        /* Offsets come back relative to `start`; make them relative to the string. */
        for (int i = 0; i < region->num_regs; i++) {
            if (region->beg[i] >= 0) {
                region->beg[i] += (int)(start - str);
                region->end[i] += (int)(start - str);
            }
        }
        ks_val m = ks_obj_new(4);
        if (region->end[0] == region->beg[0]) {
            ks_obj_setc(&m, "offset", ks_num((double)cp_index(s, (size_t)region->beg[0])));
            ks_obj_setc(&m, "length", ks_num(0));
            ks_obj_setc(&m, "string", ks_str_new("", 0));
            ks_obj_setc(&m, "captures", ks_arr_new(0));
            ks_arr_push(&result, m);
            start = str + region->end[0] + 1;
            continue;
        }
        size_t off = cp_index(s, (size_t)region->beg[0]);
        ks_obj_setc(&m, "offset", ks_num((double)off));
        ks_obj_setc(&m, "length", ks_num((double)(cp_index(s, (size_t)region->end[0]) - off)));
        ks_obj_setc(&m, "string", ks_str_new(s + region->beg[0], (size_t)(region->end[0] - region->beg[0])));
        ks_val caps = ks_arr_new((size_t)region->num_regs);
        for (int i = 1; i < region->num_regs; i++) {
            ks_val cap = ks_obj_new(4);
            if (region->beg[i] == region->end[i]) {
                if (region->beg[i] == -1) {
                    ks_obj_setc(&cap, "offset", ks_num(-1));
                    ks_obj_setc(&cap, "string", ks_null());
                } else {
                    ks_obj_setc(&cap, "offset", ks_num((double)cp_index(s, (size_t)region->beg[i])));
                    ks_obj_setc(&cap, "string", ks_str_new("", 0));
                }
                ks_obj_setc(&cap, "length", ks_num(0));
                ks_obj_setc(&cap, "name", ks_null());
            } else {
                size_t co = cp_index(s, (size_t)region->beg[i]);
                ks_obj_setc(&cap, "offset", ks_num((double)co));
                ks_obj_setc(&cap, "length", ks_num((double)(cp_index(s, (size_t)region->end[i]) - co)));
                ks_obj_setc(&cap, "string", ks_str_new(s + region->beg[i], (size_t)(region->end[i] - region->beg[i])));
                ks_obj_setc(&cap, "name", ks_null());
            }
            ks_arr_push(&caps, cap);
        }
        name_ctx_t nc = {&caps};
        onig_foreach_name(reg, name_iter, &nc);
        ks_obj_setc(&m, "captures", caps);
        ks_arr_push(&result, m);
        start = str + region->end[0];
    } while (global && start < end);
    onig_region_free(region, 1);
    if (rc) {
        ks_val_release(result);
        return rc;
    }
    *out = result;
    return 0;
}

/*
 * test(re; flags) and test($val) in C, as jq 1.6's prelude defines them:
 *   def test(re; mode): _match_impl(re; mode; true);
 *   def test($val): ($val|type) as $vt | if $vt == "string" then test($val; null)
 *     elif $vt == "array" and ($val | length) > 1 then test($val[0]; $val[1])
 *     elif $vt == "array" and ($val | length) > 0 then test($val[0]; null)
 *     else error( $vt + " not a string or array") end;
 * A filter's `test("regex")` then costs one call instead of three user functions.
 */
CF(f_test2)
{
    ks_val a[3] = {args[0], args[1], ks_bool(1)};
    return f_match_impl(cx, in, a, out);
}

CF(f_test1)
{
    ks_val val = args[0], a[3] = {val, ks_null(), ks_bool(1)};
    if (val.kind == KS_ARRAY && ks_arr_len(val) > 0) {
        a[0] = *ks_arr_get(val, 0);
        if (ks_arr_len(val) > 1)
            a[1] = *ks_arr_get(val, 1);
    } else if (val.kind != KS_STRING) {
        return ks__expr_errorf(cx, "%s not a string or array", ks_kind_name(val));
    }
    return f_match_impl(cx, in, a, out);
}

/* ---- @formats ---- */

static void put_number(ks_buf_t *b, ks_val v)
{
    ks_json_write(b, v);
}

/* @csv and @tsv: one row of an array's scalars into b; 0, or jq's error (b freed). */
static int format_row(ctx_t *cx, int csv, ks_val v, ks_buf_t *b)
{
    if (v.kind != KS_ARRAY)
        return ks__expr_type_error(cx, v,
                                   csv ? "cannot be csv-formatted, only array" : "cannot be tsv-formatted, only array");
    for (uint32_t i = 0; i < v.a->len; i++) {
        ks_val x = v.a->items[i];
        if (i)
            ks_buf_putc(b, csv ? ',' : '\t');
        switch (x.kind) {
        case KS_NULL: break;
        case KS_TRUE: ks_buf_puts(b, "true"); break;
        case KS_FALSE: ks_buf_puts(b, "false"); break;
        case KS_NUMBER: put_number(b, x); break;
        case KS_STRING:
            if (csv) {
                ks_buf_putc(b, '"');
                for (size_t j = 0; j < ks_str_len(x); j++) {
                    if (ks_str_data(x)[j] == '"')
                        ks_buf_putc(b, '"');
                    ks_buf_putc(b, ks_str_data(x)[j]);
                }
                ks_buf_putc(b, '"');
            } else {
                for (size_t j = 0; j < ks_str_len(x); j++) {
                    char c = ks_str_data(x)[j];
                    if (c == '\\')
                        ks_buf_puts(b, "\\\\");
                    else if (c == '\t')
                        ks_buf_puts(b, "\\t");
                    else if (c == '\r')
                        ks_buf_puts(b, "\\r");
                    else if (c == '\n')
                        ks_buf_puts(b, "\\n");
                    else
                        ks_buf_putc(b, c);
                }
            }
            break;
        default:
            ks_buf_free(b);
            /* jq 1.6 says "csv" for both. */
            return ks__expr_type_error(cx, x, "is not valid in a csv row");
        }
    }
    return 0;
}

int ks__expr_format(ctx_t *cx, const char *fmt, ks_val v, ks_val *out)
{
    ks_buf_t b = {0};
    ks_val s;
    if (strcmp(fmt, "text") == 0)
        return ks__expr_to_string(v, out);
    if (strcmp(fmt, "json") == 0)
        return ks__expr_tojson(v, out);
    if (strcmp(fmt, "csv") == 0 || strcmp(fmt, "tsv") == 0) {
        int rc = format_row(cx, fmt[0] == 'c', v, &b);
        if (rc)
            return rc;
        goto done;
    }
    if (strcmp(fmt, "sh") == 0) {
        ks_val arr = v.kind == KS_ARRAY ? ks_val_retain(v) : ks_arr_new(1);
        if (v.kind != KS_ARRAY)
            ks_arr_push(&arr, ks_val_retain(v));
        for (uint32_t i = 0; i < arr.a->len; i++) {
            ks_val x = arr.a->items[i];
            if (i)
                ks_buf_putc(&b, ' ');
            if (x.kind == KS_STRING) {
                ks_buf_putc(&b, '\'');
                for (size_t j = 0; j < ks_str_len(x); j++) {
                    if (ks_str_data(x)[j] == '\'')
                        ks_buf_puts(&b, "'\\''");
                    else
                        ks_buf_putc(&b, ks_str_data(x)[j]);
                }
                ks_buf_putc(&b, '\'');
            } else if (x.kind == KS_ARRAY || x.kind == KS_OBJECT) {
                ks_val_release(arr);
                ks_buf_free(&b);
                return ks__expr_type_error(cx, x, "can not be escaped for shell");
            } else {
                ks_json_write(&b, x);
            }
        }
        ks_val_release(arr);
        goto done;
    }
    if (ks__expr_to_string(v, &s))
        return RC_ERROR;
    const unsigned char *p = (const unsigned char *)ks_str_data(s);
    size_t n = ks_str_len(s);
    if (strcmp(fmt, "html") == 0) {
        for (size_t i = 0; i < n; i++) {
            switch (p[i]) {
            case '<': ks_buf_puts(&b, "&lt;"); break;
            case '>': ks_buf_puts(&b, "&gt;"); break;
            case '&': ks_buf_puts(&b, "&amp;"); break;
            case '\'': ks_buf_puts(&b, "&apos;"); break;
            case '"': ks_buf_puts(&b, "&quot;"); break;
            default: ks_buf_putc(&b, (char)p[i]);
            }
        }
    } else if (strcmp(fmt, "uri") == 0) {
        static const char unreserved[] = "-_.!~*'()";
        for (size_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c && strchr(unreserved, c)))
                ks_buf_putc(&b, (char)c);
            else
                ks_buf_printf(&b, "%%%02X", c);
        }
    } else if (strcmp(fmt, "base64") == 0) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < n; i += 3) {
            uint32_t w = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
            char q[4] = {tbl[w >> 18], tbl[(w >> 12) & 63], i + 1 < n ? tbl[(w >> 6) & 63] : '=',
                         i + 2 < n ? tbl[w & 63] : '='};
            ks_buf_append(&b, q, 4);
        }
    } else if (strcmp(fmt, "base64d") == 0) {
        uint32_t acc = 0;
        int bits = 0;
        size_t valid = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = p[i];
            int d = c >= 'A' && c <= 'Z'   ? c - 'A'
                    : c >= 'a' && c <= 'z' ? c - 'a' + 26
                    : c >= '0' && c <= '9' ? c - '0' + 52
                    : c == '+'             ? 62
                    : c == '/'             ? 63
                                           : -1;
            if (c == '=')
                break;
            if (d < 0) {
                ks_val_release(s);
                ks_buf_free(&b);
                return ks__expr_type_error(cx, v, "is not valid base64 data");
            }
            valid++;
            acc = acc << 6 | (uint32_t)d;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                ks_buf_putc(&b, (char)((acc >> bits) & 0xff));
            }
        }
        if (valid % 4 == 1) {
            ks_val_release(s);
            ks_buf_free(&b);
            return ks__expr_type_error(cx, v, "trailing base64 byte found");
        }
        /* Decoded bytes may not be UTF-8: re-parse as a JSON string would. */
        ks_buf_t clean = {0};
        for (size_t i = 0; i < b.len;) {
            uint32_t cp;
            int k = ks_utf8_decode(b.data + i, b.len - i, &cp);
            if (cp == 0xfffd)
                ks_utf8_encode(&clean, cp);
            else
                ks_buf_append(&clean, b.data + i, (size_t)k);
            i += (size_t)k;
        }
        ks_buf_free(&b);
        b = clean;
    } else {
        ks_val_release(s);
        return ks__expr_errorf(cx, "%s is not a valid format", fmt);
    }
    ks_val_release(s);
done:
    *out = ks_str_new(b.data ? b.data : "", b.len);
    ks_buf_free(&b);
    return 0;
}

/* ---- dates ---- */

static ks_val tm_to_val(const struct tm *tm, double frac)
{
    ks_val r = ks_arr_new(8);
    ks_arr_push(&r, ks_num(tm->tm_year + 1900));
    ks_arr_push(&r, ks_num(tm->tm_mon));
    ks_arr_push(&r, ks_num(tm->tm_mday));
    ks_arr_push(&r, ks_num(tm->tm_hour));
    ks_arr_push(&r, ks_num(tm->tm_min));
    ks_arr_push(&r, ks_num(tm->tm_sec + frac));
    ks_arr_push(&r, ks_num(tm->tm_wday));
    ks_arr_push(&r, ks_num(tm->tm_yday));
    return r;
}

static int val_to_tm(ks_val v, struct tm *tm)
{
    memset(tm, 0, sizeof *tm);
    if (v.kind != KS_ARRAY)
        return -1;
    int *fields[] = {&tm->tm_year, &tm->tm_mon, &tm->tm_mday, &tm->tm_hour,
                     &tm->tm_min,  &tm->tm_sec, &tm->tm_wday, &tm->tm_yday};
    for (size_t i = 0; i < 8; i++) {
        if (i >= ks_arr_len(v)) {
            if (i < 6)
                return -1;
            break;
        }
        ks_val x = v.a->items[i];
        if (x.kind != KS_NUMBER)
            return -1;
        double d = ks_num_get(x);
        if (d > 2e9 || d < -2e9)
            return -1;
        *fields[i] = (int)d;
    }
    tm->tm_year -= 1900;
    return 0;
}

CF(f_gmtime)
{
    if (in.kind != KS_NUMBER)
        return ks__expr_errorf(cx, "gmtime() requires numeric inputs");
    double f = ks_num_get(in);
    if (!(fabs(f) < 1e15))
        return ks__expr_errorf(cx, "gmtime() requires a valid time");
    time_t secs = (time_t)f;
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return ks__expr_errorf(cx, "errror converting number of seconds since epoch to datetime");
    *out = tm_to_val(&tm, f - floor(f));
    return 0;
}

CF(f_mktime)
{
    if (in.kind != KS_ARRAY)
        return ks__expr_errorf(cx, "mktime requires array inputs");
    if (ks_arr_len(in) < 6)
        return ks__expr_errorf(cx, "mktime requires parsed datetime inputs");
    struct tm tm;
    if (val_to_tm(in, &tm))
        return ks__expr_errorf(cx, "mktime requires parsed datetime inputs");
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && tm.tm_year != 69)
        return ks__expr_errorf(cx, "invalid gmtime representation");
    *out = ks_num((double)t);
    return 0;
}

CF(f_strftime)
{
    ks_val t = in;
    ks_val tmp = ks_invalid();
    if (in.kind == KS_NUMBER) {
        if (f_gmtime(cx, in, NULL, &tmp))
            return RC_ERROR;
        t = tmp;
    } else if (in.kind != KS_ARRAY) {
        return ks__expr_errorf(cx, "strftime/1 requires parsed datetime inputs");
    }
    if (args[0].kind != KS_STRING) {
        ks_val_release(tmp);
        return ks__expr_errorf(cx, "strftime/1 requires a string format");
    }
    struct tm tm;
    int bad = val_to_tm(t, &tm);
    ks_val_release(tmp);
    if (bad)
        return ks__expr_errorf(cx, "strftime/1 requires parsed datetime inputs");
    char buf[512];
    size_t n = strftime(buf, sizeof buf, ks_str_data(args[0]), &tm);
    if (n == 0)
        return ks__expr_errorf(cx, "strftime/1: unknown system failure");
    *out = ks_str_new(buf, n);
    return 0;
}

/* jq 1.6's day-of-week and day-of-year formulas, so that results match it exactly. */
static void set_tm_wday(struct tm *tm)
{
    int century = (1900 + tm->tm_year) / 100;
    int year = (1900 + tm->tm_year) % 100;
    if (tm->tm_mon < 2)
        year--;
    int mon = tm->tm_mon - 1;
    if (mon < 1)
        mon += 12;
    int wday = (tm->tm_mday + (int)floor((2.6 * mon - 0.2)) + year + (int)floor(year / 4.0) +
                (int)floor(century / 4.0) - 2 * century) %
               7;
    if (wday < 0)
        wday += 7;
    tm->tm_wday = wday;
}

static void set_tm_yday(struct tm *tm)
{
    static const int d[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int mon = tm->tm_mon, year = 1900 + tm->tm_year, leap = 0;
    if (tm->tm_mon > 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        leap = 1;
    if (mon < 0)
        mon = -mon;
    if (mon > 11)
        mon %= 12;
    tm->tm_yday = d[mon] + leap + tm->tm_mday - 1;
}

CF(f_strptime)
{
    if (in.kind != KS_STRING || args[0].kind != KS_STRING)
        return ks__expr_errorf(cx, "strptime/1 requires string inputs and arguments");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_wday = 8; /* sentinels, as in jq 1.6: left alone unless there is a day of month */
    tm.tm_yday = 367;
    const char *end = strptime(ks_str_data(in), ks_str_data(args[0]), &tm);
    if (!end || *end)
        return ks__expr_errorf(cx, "date \"%s\" does not match format \"%s\"", ks_str_data(in), ks_str_data(args[0]));
    if (tm.tm_wday == 8 && tm.tm_mday >= 1 && tm.tm_mday <= 31)
        set_tm_wday(&tm);
    if (tm.tm_yday == 367 && tm.tm_mday >= 1 && tm.tm_mday <= 31)
        set_tm_yday(&tm);
    *out = tm_to_val(&tm, 0);
    return 0;
}

const builtin_t ks__expr_builtins_str[] = {
    {"startswith", 1, f_startswith, NULL, NULL},
    {"endswith", 1, f_endswith, NULL, NULL},
    {"ltrimstr", 1, f_ltrimstr, NULL, NULL},
    {"rtrimstr", 1, f_rtrimstr, NULL, NULL},
    {"explode", 0, f_explode, NULL, NULL},
    {"implode", 0, f_implode, NULL, NULL},
    {"ascii_downcase", 0, f_ascii_downcase, NULL, NULL},
    {"ascii_upcase", 0, f_ascii_upcase, NULL, NULL},
    {"split", 1, f_split1, NULL, NULL},
    {"join", 1, f_join, NULL, NULL},
    {"_strindices", 1, f_strindices, NULL, NULL},
    {"_match_impl", 3, f_match_impl, NULL, NULL},
    {"test", 1, f_test1, NULL, NULL},
    {"test", 2, f_test2, NULL, NULL},
    {"gmtime", 0, f_gmtime, NULL, NULL},
    {"mktime", 0, f_mktime, NULL, NULL},
    {"strftime", 1, f_strftime, NULL, NULL},
    {"strptime", 1, f_strptime, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
