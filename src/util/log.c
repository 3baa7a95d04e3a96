/*
 * log.c: the log lines of a running service (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>

static int log_level = KS_LOG_INFO;

void ks_log_set_level(const char *name)
{
    if (!name)
        return;
    if (strcasecmp(name, "error") == 0)
        log_level = KS_LOG_ERROR;
    else if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
        log_level = KS_LOG_WARN;
    else if (strcasecmp(name, "debug") == 0)
        log_level = KS_LOG_DEBUG;
    else
        log_level = KS_LOG_INFO;
}

void ks_log(int level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    static const char *names[] = {"error", "warn", "info", "debug"};
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld kstreamd %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[level], msg);
}
