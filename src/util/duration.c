/*
 * duration.c: durations parsed and formatted, and the clocks (see
 * duration.h).
 */
#include "duration.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int ks_parse_duration(const char *s, int64_t *ms)
{
    char *end;
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    double v = strtod(s, &end);
    double mult;
    if (strcmp(end, "ms") == 0 || *end == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else if (strcmp(end, "d") == 0)
        mult = 86400000;
    else
        return -1;
    double r = v * mult;
    if (r < 0 || r > 9.2e18)
        return -1;
    *ms = (int64_t)r;
    return 0;
}

void ks_format_duration(ks_buf_t *b, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms && ms % units[i].ms == 0) {
            ks_buf_printf(b, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    ks_buf_printf(b, "%lldms", (long long)ms);
}

static uint64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t ks_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

uint64_t ks_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

uint64_t ks_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
