/*
 * duration.h: durations in milliseconds: the topology language's `90s`,
 * `5m`, `250ms` parsed and formatted, and the two clocks the drivers read.
 */
#ifndef KS_DURATION_H
#define KS_DURATION_H

#include <stdint.h>

#include "util.h"

/*
 * Parses a duration: a non-negative number with a unit ms, s, m, h or d
 * (none means ms), e.g. `1.5s`. Returns 0 with *ms set, or -1 when s is
 * NULL, malformed or out of range (*ms is then untouched).
 */
int ks_parse_duration(const char *s, int64_t *ms);

/* Appends ms in the largest unit that divides it: `1h`, `90s`, `250ms` (`0ms` for 0). */
void ks_format_duration(ks_buf_t *b, int64_t ms);

/* Wall-clock time in milliseconds since the epoch (record timestamps, intervals of generate sources). */
uint64_t ks_now_ms(void);

/* A monotonic clock in milliseconds, for timeouts and rates (never goes back). */
uint64_t ks_mono_ms(void);
/* The same clock in microseconds (latencies). */
uint64_t ks_mono_us(void);

#endif
