/*
 * builtins_math.c: numeric builtins (libm), with jq 1.6's "number required" errors.
 */
#include <math.h>
#include <sys/time.h>

#include "expr_int.h"

#define CF(name) static int name(ctx_t *cx, ks_val in, const ks_val *args, ks_val *out)

/* ---- math ---- */

static int num_arg(ctx_t *cx, ks_val v, double *d)
{
    if (v.kind != KS_NUMBER)
        return ks__expr_type_error(cx, v, "number required");
    *d = ks_num_get(v);
    return 0;
}

#define MATH1(name, expr)                                                                                              \
    CF(f_##name)                                                                                                       \
    {                                                                                                                  \
        double x = 0;                                                                                                  \
        if (num_arg(cx, in, &x))                                                                                       \
            return RC_ERROR;                                                                                           \
        *out = ks_num(expr);                                                                                           \
        return 0;                                                                                                      \
    }

MATH1(floor, floor(x))
MATH1(ceil, ceil(x))
MATH1(round, round(x))
MATH1(sqrt, sqrt(x))
MATH1(fabs, fabs(x))
MATH1(log, log(x))
MATH1(log2, log2(x))
MATH1(log10, log10(x))
MATH1(exp, exp(x))
MATH1(exp2, exp2(x))
MATH1(exp10, pow(10, x))
MATH1(trunc, trunc(x))
MATH1(sin, sin(x))
MATH1(cos, cos(x))
MATH1(tan, tan(x))
MATH1(asin, asin(x))
MATH1(acos, acos(x))
MATH1(atan, atan(x))
MATH1(cbrt, cbrt(x))
MATH1(significand, x == 0 ? 0 : x / pow(2, floor(log2(fabs(x)))))
MATH1(logb, logb(x))
MATH1(rint, rint(x))
MATH1(nearbyint, nearbyint(x))
MATH1(gamma, lgamma(x))
MATH1(lgamma, lgamma(x))
MATH1(tgamma, tgamma(x))
MATH1(sinh, sinh(x))
MATH1(cosh, cosh(x))
MATH1(tanh, tanh(x))
MATH1(asinh, asinh(x))
MATH1(acosh, acosh(x))
MATH1(atanh, atanh(x))
MATH1(expm1, expm1(x))
MATH1(log1p, log1p(x))

CF(f_frexp)
{
    double x = 0;
    if (num_arg(cx, in, &x))
        return RC_ERROR;
    int e;
    double m = frexp(x, &e);
    ks_val r = ks_arr_new(2);
    ks_arr_push(&r, ks_num(m));
    ks_arr_push(&r, ks_num(e));
    *out = r;
    return 0;
}

CF(f_modf)
{
    double x = 0;
    if (num_arg(cx, in, &x))
        return RC_ERROR;
    double ip;
    double fp = modf(x, &ip);
    ks_val r = ks_arr_new(2);
    ks_arr_push(&r, ks_num(fp));
    ks_arr_push(&r, ks_num(ip));
    *out = r;
    return 0;
}

#define MATH2(name, expr)                                                                                              \
    CF(f_##name)                                                                                                       \
    {                                                                                                                  \
        double a = 0, b = 0;                                                                                           \
        if (num_arg(cx, args[0], &a) || num_arg(cx, args[1], &b))                                                      \
            return RC_ERROR;                                                                                           \
        *out = ks_num(expr);                                                                                           \
        return 0;                                                                                                      \
    }

MATH2(ldexp, ldexp(a, (int)b))
MATH2(scalb, a *pow(2, b))
MATH2(scalbln, scalbln(a, (long)b))
MATH2(drem, remainder(a, b))
MATH2(fmin, fmin(a, b))
MATH2(fmax, fmax(a, b))
MATH2(fmod, fmod(a, b))
MATH2(copysign, copysign(a, b))
MATH2(hypot, hypot(a, b))

CF(f_fma)
{
    double a = 0, b = 0, c = 0;
    if (num_arg(cx, args[0], &a) || num_arg(cx, args[1], &b) || num_arg(cx, args[2], &c))
        return RC_ERROR;
    *out = ks_num(fma(a, b, c));
    return 0;
}

CF(f_pow)
{
    double a = 0, b = 0;
    if (num_arg(cx, args[0], &a) || num_arg(cx, args[1], &b))
        return RC_ERROR;
    *out = ks_num(pow(a, b));
    return 0;
}

CF(f_atan2)
{
    double a = 0, b = 0;
    if (num_arg(cx, args[0], &a) || num_arg(cx, args[1], &b))
        return RC_ERROR;
    *out = ks_num(atan2(a, b));
    return 0;
}

CF(f_infinite)
{
    *out = ks_num(INFINITY);
    return 0;
}
CF(f_nan)
{
    *out = ks_num(NAN);
    return 0;
}

CF(f_isinfinite)
{
    double x = 0;
    if (num_arg(cx, in, &x))
        return RC_ERROR;
    *out = ks_bool(isinf(x));
    return 0;
}

CF(f_isnan)
{
    double x = 0;
    if (num_arg(cx, in, &x))
        return RC_ERROR;
    *out = ks_bool(isnan(x));
    return 0;
}

CF(f_isnormal)
{
    double x = 0;
    if (num_arg(cx, in, &x))
        return RC_ERROR;
    *out = ks_bool(isnormal(x));
    return 0;
}

CF(f_now)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    *out = ks_num((double)tv.tv_sec + (double)tv.tv_usec / 1e6);
    return 0;
}

const builtin_t ks__expr_builtins_math[] = {
    {"floor", 0, f_floor, NULL, NULL},
    {"ceil", 0, f_ceil, NULL, NULL},
    {"round", 0, f_round, NULL, NULL},
    {"sqrt", 0, f_sqrt, NULL, NULL},
    {"fabs", 0, f_fabs, NULL, NULL},
    {"log", 0, f_log, NULL, NULL},
    {"log2", 0, f_log2, NULL, NULL},
    {"log10", 0, f_log10, NULL, NULL},
    {"exp", 0, f_exp, NULL, NULL},
    {"exp2", 0, f_exp2, NULL, NULL},
    {"exp10", 0, f_exp10, NULL, NULL},
    {"trunc", 0, f_trunc, NULL, NULL},
    {"sin", 0, f_sin, NULL, NULL},
    {"cos", 0, f_cos, NULL, NULL},
    {"tan", 0, f_tan, NULL, NULL},
    {"asin", 0, f_asin, NULL, NULL},
    {"acos", 0, f_acos, NULL, NULL},
    {"atan", 0, f_atan, NULL, NULL},
    {"cbrt", 0, f_cbrt, NULL, NULL},
    {"significand", 0, f_significand, NULL, NULL},
    {"logb", 0, f_logb, NULL, NULL},
    {"rint", 0, f_rint, NULL, NULL},
    {"nearbyint", 0, f_nearbyint, NULL, NULL},
    {"pow", 2, f_pow, NULL, NULL},
    {"gamma", 0, f_gamma, NULL, NULL},
    {"lgamma", 0, f_lgamma, NULL, NULL},
    {"tgamma", 0, f_tgamma, NULL, NULL},
    {"sinh", 0, f_sinh, NULL, NULL},
    {"cosh", 0, f_cosh, NULL, NULL},
    {"tanh", 0, f_tanh, NULL, NULL},
    {"asinh", 0, f_asinh, NULL, NULL},
    {"acosh", 0, f_acosh, NULL, NULL},
    {"atanh", 0, f_atanh, NULL, NULL},
    {"expm1", 0, f_expm1, NULL, NULL},
    {"log1p", 0, f_log1p, NULL, NULL},
    {"frexp", 0, f_frexp, NULL, NULL},
    {"modf", 0, f_modf, NULL, NULL},
    {"ldexp", 2, f_ldexp, NULL, NULL},
    {"scalb", 2, f_scalb, NULL, NULL},
    {"scalbln", 2, f_scalbln, NULL, NULL},
    {"drem", 2, f_drem, NULL, NULL},
    {"fmin", 2, f_fmin, NULL, NULL},
    {"fmax", 2, f_fmax, NULL, NULL},
    {"fmod", 2, f_fmod, NULL, NULL},
    {"copysign", 2, f_copysign, NULL, NULL},
    {"hypot", 2, f_hypot, NULL, NULL},
    {"fma", 3, f_fma, NULL, NULL},
    {"atan2", 2, f_atan2, NULL, NULL},
    {"infinite", 0, f_infinite, NULL, NULL},
    {"nan", 0, f_nan, NULL, NULL},
    {"isinfinite", 0, f_isinfinite, NULL, NULL},
    {"isnan", 0, f_isnan, NULL, NULL},
    {"isnormal", 0, f_isnormal, NULL, NULL},
    {"now", 0, f_now, NULL, NULL},
    {NULL, 0, NULL, NULL, NULL},
};
