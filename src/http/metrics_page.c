/*
 * metrics_page.c: GET /metrics, the Prometheus text format (0.0.4): the
 * stream threads' metrics with Kafka Streams' names (src/kafka/metrics.h),
 * then the query server's own: requests by endpoint and status, their
 * latency as a histogram, connections.
 */
#include <stdio.h>

#include "../kafka/metrics.h"
#include "../util/util.h"
#include "service_int.h"

static const uint64_t bounds_us[] = KS_HTTP_LATENCY_BOUNDS_US;

static void http_metrics(ks_buf_t *b, const ks_http_stats_t *s)
{
    ks_buf_puts(b, "# HELP kstreamd_http_requests_total Requests answered by the query server, by endpoint and "
                   "status code\n# TYPE kstreamd_http_requests_total counter\n");
    for (int e = 0; e < KS_EP__COUNT; e++)
        for (int k = 0; k < KS_ST__COUNT; k++) {
            if (!s->requests[e][k])
                continue;
            int code = ks_http_status_code((ks_http_status_slot_t)k);
            ks_buf_printf(b, "kstreamd_http_requests_total{endpoint=\"%s\",code=\"", ks_http_endpoint_name(e));
            if (code)
                ks_buf_printf(b, "%d", code);
            else
                ks_buf_puts(b, "other");
            ks_buf_printf(b, "\"} %llu\n", (unsigned long long)s->requests[e][k]);
        }
    ks_buf_puts(b, "# HELP kstreamd_http_request_duration_seconds Time from a request's headers to its reply\n"
                   "# TYPE kstreamd_http_request_duration_seconds histogram\n");
    for (int e = 0; e < KS_EP__COUNT; e++) {
        uint64_t n = 0;
        for (int k = 0; k < KS_HTTP_NBUCKETS; k++)
            n += s->latency[e][k];
        if (!n)
            continue;
        uint64_t cum = 0;
        for (int k = 0; k < KS_HTTP_NBUCKETS; k++) {
            cum += s->latency[e][k];
            ks_buf_printf(b, "kstreamd_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"",
                          ks_http_endpoint_name(e));
            if (k < KS_HTTP_NBUCKETS - 1)
                ks_buf_printf(b, "%g", (double)bounds_us[k] / 1e6);
            else
                ks_buf_puts(b, "+Inf");
            ks_buf_printf(b, "\"} %llu\n", (unsigned long long)cum);
        }
        ks_buf_printf(b, "kstreamd_http_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", ks_http_endpoint_name(e),
                      (double)s->latency_sum_us[e] / 1e6);
        ks_buf_printf(b, "kstreamd_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                      ks_http_endpoint_name(e), (unsigned long long)n);
    }
    ks_buf_printf(b,
                  "# HELP kstreamd_http_connections Connections open now\n# TYPE kstreamd_http_connections gauge\n"
                  "kstreamd_http_connections %llu\n"
                  "# HELP kstreamd_http_connections_refused_total Connections refused with 503 at the limit\n"
                  "# TYPE kstreamd_http_connections_refused_total counter\n"
                  "kstreamd_http_connections_refused_total %llu\n"
                  "# HELP kstreamd_http_connections_timed_out_total Connections closed by the header or idle "
                  "timeout\n# TYPE kstreamd_http_connections_timed_out_total counter\n"
                  "kstreamd_http_connections_timed_out_total %llu\n",
                  (unsigned long long)s->connections_open, (unsigned long long)s->connections_refused,
                  (unsigned long long)s->connections_timed_out);
}

void ks__metrics_page(ks_http_req_t *req, void *ud)
{
    ks_buf_t b = {0};
    ks_metrics_render(&b);
    ks_http_stats_t s;
    ks_http_server_stats(ks_http_req_server(req), &s);
    http_metrics(&b, &s);
    ks_http_reply_as(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data, b.len);
    ks_buf_free(&b);
}
