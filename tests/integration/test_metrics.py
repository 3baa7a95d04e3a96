"""GET /metrics (issue 15): Kafka Streams' metric names, parsed with prometheus_client, on the real broker.

- the counters match what the service did: records processed, dead-lettered, store entries, consumer lag 0 at the end;
- thread, task and processor-node series carry thread_id, task_id and processor_node_id labels as jmx_exporter
  writes them for Kafka Streams;
- while a wiped state directory restores, restore_remaining_records_total is above 0 for the task that restores,
  and 0 for every task once /ready says 200;
- a service with no queryable store still serves /metrics, /health and /ready.
"""
import http.client
import time

from prometheus_client.parser import text_string_to_metric_families

from kit import produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {out}: {{value: long}}
pipelines:
  counts:
    from: {src}
    steps:
      - groupByKey
      - count: {{store: counts}}
      - toStream
    to: {out}
"""


def get(addr, path):
    host, port = addr.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def metrics(addr):
    status, headers, data = get(addr, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"), (status, headers)
    return {f.name: f for f in text_string_to_metric_families(data.decode())}


def samples(fams, family, suffix=""):
    return [s for s in fams[family].samples if s.name == family + suffix] if family in fams else []


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what() if callable(what) else what}")
        time.sleep(0.2)


def test_metrics_count_what_the_service_did(bootstrap, topics, kstreamd, tmp_path, uid):
    src, out = topics.create("metrics-in-v1", 2), topics.create("metrics-out-v1", 2)
    app = f"it-metrics-{uid}"
    topics.forget(f"{app}-counts-changelog")
    topics.forget(f"{app}-dlq")
    n, keys = 100000, 50000
    records = [(f"k{i % keys}".encode(), b'{"n": 1}', None, None) for i in range(n)]
    records.append((b"bad", b"{not json", None, None))  # dead-lettered: the count reads its value as JSON
    produce_all(bootstrap, src, records)
    topo = write_topology(tmp_path, "metrics.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    k = kstreamd(topo, f"state.dir={tmp_path}/s1", "query.listen=127.0.0.1:0")
    addr = k.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+)", 30)[0]

    def done():
        fams = metrics(addr)
        total = sum(s.value for s in samples(fams, "kafka_streams_stream_thread_metrics_process", "_total"))
        return fams if total == n + 1 else None

    fams = wait_until(done, 120, lambda: get(addr, "/metrics")[2].decode()[-2000:])
    # Thread-level series: one per stream thread, Kafka Streams' thread id.
    (pt,) = samples(fams, "kafka_streams_stream_thread_metrics_process", "_total")
    assert pt.labels["thread_id"].startswith(f"{app}-") and pt.labels["thread_id"].endswith("-StreamThread-1")
    (rate,) = samples(fams, "kafka_streams_stream_thread_metrics_process_rate")
    assert rate.value > 0
    (state,) = samples(fams, "kafka_streams_stream_metrics_state")
    assert state.labels["state"] == "RUNNING" and state.value == 1
    assert [s.value for s in samples(fams, "kafka_streams_stream_metrics_alive_stream_threads")] == [1]
    # Task-level: the dead-lettered record, once, in the task of its partition; nothing dropped.
    dlq = samples(fams, "kstreamd_dead_letter_records", "_total")
    assert sum(s.value for s in dlq) == 1 and all(s.labels["task_id"] in ("0_0", "0_1") for s in dlq), dlq
    assert sum(s.value for s in samples(fams, "kafka_streams_stream_task_metrics_dropped_records", "_total")) == 0
    # Processor nodes: the source's end-to-end latency, a number of milliseconds.
    e2e = [s for s in samples(fams, "kafka_streams_stream_processor_node_metrics_record_e2e_latency_max")
           if s.labels["processor_node_id"] == "KSTREAM-SOURCE-0000000000"]
    assert {s.labels["task_id"] for s in e2e} == {"0_0", "0_1"}, e2e
    # The store's entries: every key, over both partitions, once the commit has written them.
    wait_until(lambda: sum(s.value for s in samples(metrics(addr), "kstreamd_store_entries")) == keys, 30,
               lambda: samples(metrics(addr), "kstreamd_store_entries"))
    # The consumer read everything: lag 0 on both partitions of the source topic.
    lags = wait_until(lambda: [s for s in samples(metrics(addr), "kafka_consumer_consumer_fetch_manager_metrics_records_lag")
                               if s.labels["topic"] == src and s.value == 0], 30,
                      lambda: samples(metrics(addr), "kafka_consumer_consumer_fetch_manager_metrics_records_lag"))
    assert len(lags) == 2
    # Commits are counted and timed.
    assert samples(fams, "kafka_streams_stream_thread_metrics_commit", "_total")[0].value >= 1
    assert samples(fams, "kafka_streams_stream_thread_metrics_commit_latency_max")[0].value >= 0
    assert k.stop() == 0

    # A wiped state directory: the store restores from its changelog, and the metric says how much is left.
    k2 = kstreamd(topo, f"state.dir={tmp_path}/s2", "query.listen=127.0.0.1:0")
    addr = k2.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+)", 30)[0]
    peak, deadline = 0, time.time() + 120
    while time.time() < deadline:
        if get(addr, "/ready")[0] == 200:
            break
        try:
            rr = samples(metrics(addr), "kafka_streams_stream_task_metrics_restore_remaining_records_total")
        except (ConnectionError, http.client.HTTPException):
            rr = []
        peak = max([peak] + [s.value for s in rr])
        time.sleep(0.01)
    fams = metrics(addr)
    rr = samples(fams, "kafka_streams_stream_task_metrics_restore_remaining_records_total")
    assert {s.labels["task_id"] for s in rr} == {"0_0", "0_1"} and all(s.value == 0 for s in rr), rr
    assert "restoring counts[" in k2.log() and peak > 0, (peak, k2.log()[-2000:])
    assert k2.stop() == 0


def test_metrics_health_and_ready_without_queryable_stores(bootstrap, topics, kstreamd, tmp_path, uid):
    src, out = topics.create("metrics-plain-in-v1", 1), topics.create("metrics-plain-out-v1", 1)
    app = f"it-metrics-plain-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "plain.yaml", f"application: {app}\npipelines:\n  echo: {{from: {src}, to: {out}}}\n")
    produce_all(bootstrap, src, [(b"a", b"1", None, None), (b"b", b"2", None, None)])
    k = kstreamd(topo, f"state.dir={tmp_path}/s", "query.listen=127.0.0.1:0")
    addr = k.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+)", 30)[0]
    assert get(addr, "/health")[0] == 200
    wait_until(lambda: get(addr, "/ready")[0] == 200, 60, "ready")
    wait_until(lambda: sum(s.value for s in samples(metrics(addr), "kafka_streams_stream_thread_metrics_process",
                                                    "_total")) == 2, 30, "2 processed")
    assert k.stop() == 0
