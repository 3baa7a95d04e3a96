/*
 * log.h: the log lines of a running service. Each goes to stderr as
 * `HH:MM:SS.mmm kstreamd LEVEL: message` (UTC); `log.level` filters them.
 * Topology and configuration errors are not logged: they are diagnostics
 * with a place (diag.h).
 */
#ifndef KS_LOG_H
#define KS_LOG_H

enum { KS_LOG_ERROR, KS_LOG_WARN, KS_LOG_INFO, KS_LOG_DEBUG };

/* Writes one line if level passes the filter. Any thread may call it (one fprintf per line). */
void ks_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Sets the filter from `log.level`'s value: error, warn (or warning), info
 * or debug, case-insensitive; anything else means info, and NULL leaves it
 * as it is. Called once at start-up, before the stream threads start.
 */
void ks_log_set_level(const char *name);

#endif
