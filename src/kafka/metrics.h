/*
 * metrics.h: the process's metrics in the Prometheus text format, with
 * Kafka Streams' metric names as jmx_exporter spells them
 * (`kafka_streams_stream_thread_metrics_process_rate{thread_id="..."}`).
 *
 * Each stream thread owns one ks_thread_metrics_t: it publishes its counts
 * into it about once a second and at each commit (ks__metrics_publish,
 * driver_int.h), under the struct's lock; ks_metrics_render reads every
 * registered thread's under the same lock, from any thread (the HTTP
 * server's). Rates and latencies are Kafka Streams' sampled statistics:
 * two samples of 30 s (metrics.sample.window.ms, metrics.num.samples), a
 * rate over the samples' span as Kafka Streams' Rate computes it, avg, min
 * and max over the same samples (NaN when they saw nothing).
 *
 * @locality: the registry is locked: any thread may render. A thread's
 * struct is written only by its stream thread.
 * @ownership: the registry owns the structs, freed by ks_metrics_clear,
 * which the run calls after every thread and the HTTP server have ended.
 */
#ifndef KS_KAFKA_METRICS_H
#define KS_KAFKA_METRICS_H

#include "../util/util.h"

/* This process's id (a random UUID, made once), as Kafka Streams' processId in its client.id. */
const char *ks_metrics_process_id(void);

/*
 * Appends every metric of the process to `out`, in the Prometheus text
 * exposition format 0.0.4. Extra lines (the HTTP server's own metrics) are
 * the caller's to append.
 * @locality any thread. @ownership `out` is the caller's.
 */
void ks_metrics_render(ks_buf_t *out);

/* Frees every registered thread's metrics. @locality after the stream threads and the HTTP server ended. */
void ks_metrics_clear(void);

#endif
